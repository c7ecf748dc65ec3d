//! Agendas and the day's queue over HTTP (issue 17): the operations of `ehr::scheduling`.
//! Booking itself is an ordinary `POST`/`PUT` of an `Appointment`: the write path makes its
//! slot busy, or answers 409.

use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fhir::Json;

use crate::auth::Auth;
use crate::handlers::{blocking, fhir_response, pretty_if};
use crate::params::{json_body, parse_query};
use crate::{ApiError, State};

/// An operation's inputs: the query string, then a `Parameters` body when one is sent
/// (`value[x]` of any primitive type, as text).
async fn inputs(
    state: &State,
    headers: &HeaderMap,
    raw: Option<&str>,
    body: Body,
) -> Result<(Vec<(String, String)>, bool), ApiError> {
    let query = parse_query(raw)?;
    let mut values = query.params;
    if headers.contains_key(axum::http::header::CONTENT_TYPE) {
        let parameters = json_body(&state.0, headers, body).await?;
        for parameter in parameters
            .get("parameter")
            .map(Json::as_list)
            .unwrap_or(&[])
        {
            let Some(name) = parameter.get("name").and_then(Json::as_str) else {
                continue;
            };
            let value = parameter.as_object().and_then(|object| {
                object
                    .iter()
                    .find(|(key, _)| key.starts_with("value"))
                    .and_then(|(_, value)| match value {
                        Json::String(text) | Json::Number(text) => Some(text.clone()),
                        Json::Bool(flag) => Some(flag.to_string()),
                        _ => None,
                    })
            });
            if let Some(value) = value {
                values.push((name.to_string(), value));
            }
        }
    }
    Ok((values, query.pretty))
}

/// # `POST /Schedule/{id}/$generar-espacios` (publish an agenda as free slots)
///
/// Inputs (query string or `Parameters`): `desde`, `hasta`, `dias`, `apertura`, `cierre`,
/// `duracion` (see `ehr::SlotGeneration::from_params`). Answers 200 with a `Parameters`
/// giving `creados` and `omitidos` (slots that already existed).
pub(crate) async fn generate_slots(
    state: State,
    Auth(who): Auth,
    Path(schedule_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let (values, pretty) = inputs(&state, &headers, raw.as_deref(), body).await?;
    let request = ehr::SlotGeneration::from_params(&schedule_id, &values)?;
    let outcome = blocking(&state.0, move |ehr| ehr.generate_slots(&who, &request)).await?;
    let count = |name: &str, n: usize| {
        Json::object([
            ("name", Json::str(name)),
            ("valueInteger", Json::Number(n.to_string())),
        ])
    };
    let body = Json::object([
        ("resourceType", Json::str("Parameters")),
        (
            "parameter",
            Json::Array(vec![
                count("creados", outcome.created),
                count("omitidos", outcome.skipped),
            ]),
        ),
    ]);
    Ok(fhir_response(
        StatusCode::OK,
        pretty_if(body.to_json_string(), pretty),
    ))
}
