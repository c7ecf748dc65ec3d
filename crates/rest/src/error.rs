//! The one place where outcomes become HTTP: `ehr::Error` → status + OperationOutcome.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fhir::{Issue, IssueCode, Lang};

use crate::FHIR_JSON;

/// An error response: a status and the issues to put in the OperationOutcome.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub issues: Vec<Issue>,
    /// `Retry-After`, for 429.
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, issue: Issue) -> ApiError {
        ApiError {
            status,
            issues: vec![issue],
            retry_after_s: None,
        }
    }

    pub fn bad_request(es: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(IssueCode::Invalid, es, en),
        )
    }
}

impl From<ehr::Error> for ApiError {
    fn from(err: ehr::Error) -> ApiError {
        if let ehr::Error::Internal(detail) = &err {
            // Details of internal failures go to the operator's log, never to the client.
            tracing::error!(detail = %detail, "internal error");
        }
        let status =
            StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError {
            status,
            issues: err.issues(),
            retry_after_s: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = fhir::operation_outcome(&self.issues, Lang::Both).to_json_string();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750: say how to authenticate; `invalid_token` only when one was sent.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"expediente\""),
            );
        }
        if let Some(seconds) = self.retry_after_s
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}
