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
    let expected = if_match(&headers)?;
    let patch = patch_body(&state, &headers, body).await?;
    let outcome = blocking(&state.0, move |ehr| {
        ehr.conditional_patch(&who, &resource_type, &conditions, &patch, expected)
    })
    .await?;
    Ok(write_response(&state, &headers, &query, outcome))
}

/// The patch formats taken, as named in the CapabilityStatement's `patchFormat`.
const PATCH_FORMATS: &str = "application/json-patch+json, application/merge-patch+json, application/fhir+json (FHIRPath Patch), application/json";

fn unsupported(es: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Issue::error(IssueCode::NotSupported, es, en),
    )
}

/// Reads a patch: `application/json-patch+json` (RFC 6902), `application/merge-patch+json`
/// (RFC 7386), `application/fhir+json` (FHIRPath Patch: a `Parameters` resource), or
/// `application/json`, where an array is a JSON Patch, a `Parameters` a FHIRPath Patch and
/// any other object a merge patch (what `fhirpy` sends).
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
        // FHIRPath Patch: a Parameters resource (also as `application/json`, see `Patch`).
        "application/fhir+json" | "application/json+fhir" => Some(false),
        other => {
            return Err(unsupported(
                format!(
                    "Tipo de contenido no admitido para PATCH: «{other}» (se admiten {PATCH_FORMATS})"
                ),
                format!(
                    "Unsupported content type for PATCH: '{other}' (supported: {PATCH_FORMATS})"
                ),
            ));
        }
    };
    let fhir_media = matches!(
        media.as_str(),
        "application/fhir+json" | "application/json+fhir"
    );
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
    let fhirpath = json.get("resourceType").and_then(fhir::Json::as_str) == Some("Parameters");
    if fhir_media && !fhirpath {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                IssueCode::Structure,
                "Con application/fhir+json, PATCH espera un FHIRPath Patch (un recurso Parameters)",
                "With application/fhir+json, PATCH expects a FHIRPath Patch (a Parameters resource)",
            ),
        ));
    }
    if media == "application/merge-patch+json" && fhirpath {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                IssueCode::Structure,
                "Un Parameters es un FHIRPath Patch: envíelo como application/fhir+json",
                "A Parameters is a FHIRPath Patch: send it as application/fhir+json",
            ),
        ));
    }
    Patch::from_body(json).map_err(|issue| ApiError::new(StatusCode::BAD_REQUEST, issue))
}
