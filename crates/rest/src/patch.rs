//! `PATCH /{type}/{id}` and `PATCH /{type}?search`: the body's media type says which patch
//! format it is; `ehr` applies it through the read and write guards (see `ehr::patch`).

use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use fhir::patch::Patch;
use fhir::{Issue, IssueCode};

use crate::auth::Auth;
use crate::handlers::{blocking, write_response};
use crate::params::{if_match, parse_query, read_body};
use crate::{ApiError, State};

/// # `PATCH /{type}/{id}`
pub(crate) async fn instance_patch(
    state: State,
    Auth(who): Auth,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let expected = if_match(&headers)?;
    let patch = patch_body(&state, &headers, body).await?;
    let outcome = blocking(&state.0, move |ehr| {
        ehr.patch(&who, &resource_type, &id, &patch, expected)
    })
    .await?;
    Ok(write_response(&state, &headers, &query, outcome))
}

/// # `PATCH /{type}?search`
pub(crate) async fn type_patch(
    state: State,
    Auth(who): Auth,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let conditions = raw.clone().unwrap_or_default();
    let query = parse_query(raw.as_deref())?;
    let patch = patch_body(&state, &headers, body).await?;
    let outcome = blocking(&state.0, move |ehr| {
        ehr.conditional_patch(&who, &resource_type, &conditions, &patch)
    })
    .await?;
    Ok(write_response(&state, &headers, &query, outcome))
}

fn unsupported(es: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Issue::error(IssueCode::NotSupported, es, en),
    )
}

/// Reads a patch: `application/json-patch+json` (RFC 6902), `application/merge-patch+json`
/// (RFC 7386), or `application/json`, where an array is a JSON Patch and an object a merge
/// patch (what `fhirpy` sends).
async fn patch_body(
    state: &crate::AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Patch, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let expect_array = match media.as_str() {
        "application/json-patch+json" => Some(true),
        "application/merge-patch+json" => Some(false),
        "application/json" => None,
        "application/fhir+json" => {
            return Err(unsupported(
                "FHIRPath Patch (Parameters) todavía no se admite; envíe JSON Patch (application/json-patch+json) o un merge patch (application/merge-patch+json)",
                "FHIRPath Patch (Parameters) is not supported yet; send JSON Patch (application/json-patch+json) or a merge patch (application/merge-patch+json)",
            ));
        }
        other => {
            return Err(unsupported(
                format!("Tipo de contenido no admitido para PATCH: «{other}»"),
                format!("Unsupported content type for PATCH: '{other}'"),
            ));
        }
    };
    let bytes = read_body(state, body).await?;
    let json = fhir::json::parse(&bytes).map_err(|err| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(IssueCode::Structure, err.message_es(), err.message_en()),
        )
    })?;
    if let Some(array) = expect_array
        && array != matches!(json, fhir::Json::Array(_))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                IssueCode::Structure,
                "El cuerpo no corresponde al tipo de parche declarado en Content-Type",
                "The body does not match the patch format named by Content-Type",
            ),
        ));
    }
    Patch::from_body(json).map_err(|issue| ApiError::new(StatusCode::BAD_REQUEST, issue))
}
