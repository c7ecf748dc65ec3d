//! Agendas and the day's queue over HTTP (issue 17): the operations of `ehr::scheduling`.
//! Booking itself is an ordinary `POST`/`PUT` of an `Appointment`: the write path makes its
//! slot busy, or answers 409.

use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fhir::Json;

use crate::auth::Auth;
use crate::handlers::{blocking, fhir_response, pretty_if, resource_response};
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

fn value<'a>(values: &'a [(String, String)], es: &str, en: &str) -> Option<&'a str> {
    values
        .iter()
        .find(|(k, _)| k == es || k == en)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A reference parameter given as `Type/id` or as the bare id.
fn id_of<'a>(text: &'a str, resource_type: &str) -> &'a str {
    text.strip_prefix(resource_type)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(text)
}

/// # `POST /Encounter/$llegada` (check-in: `cita`/`appointment`, or `paciente`/`patient` for a
/// walk-in)
///
/// Answers 201 with the visit's Encounter (`arrived`, with the day's turn number).
pub(crate) async fn check_in(
    state: State,
    Auth(who): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let (values, _) = inputs(&state, &headers, raw.as_deref(), body).await?;
    let appointment =
        value(&values, "cita", "appointment").map(|v| id_of(v, "Appointment").to_string());
    let patient = value(&values, "paciente", "patient").map(|v| id_of(v, "Patient").to_string());
    let stored = blocking(&state.0, move |ehr| {
        ehr.check_in(&who, appointment.as_deref(), patient.as_deref())
    })
    .await?;
    Ok(resource_response(
        stored,
        &Default::default(),
        StatusCode::CREATED,
    ))
}

/// # `POST /Encounter/{id}/$triage` (`prioridad`/`priority`: `EM`, `UR`, `R`)
pub(crate) async fn triage(
    state: State,
    Auth(who): Auth,
    Path(encounter_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let (values, _) = inputs(&state, &headers, raw.as_deref(), body).await?;
    let priority = value(&values, "prioridad", "priority")
        .and_then(ehr::Priority::parse)
        .ok_or_else(|| {
            ApiError::bad_request(
                "Falta «prioridad»: EM (emergencia), UR (urgente) o R (no urgente)",
                "'priority' is missing: EM (emergency), UR (urgent) or R (routine)",
            )
        })?;
    let stored = blocking(&state.0, move |ehr| {
        ehr.triage(&who, &encounter_id, priority)
    })
    .await?;
    Ok(resource_response(
        stored,
        &Default::default(),
        StatusCode::OK,
    ))
}

/// # `POST /Encounter/$siguiente` (the physician calls the next patient)
///
/// Answers 200 with the visit's Encounter, now `in-progress`, or 200 with an informational
/// OperationOutcome when nobody is waiting.
pub(crate) async fn call_next(state: State, Auth(who): Auth) -> Result<Response, ApiError> {
    let called = blocking(&state.0, move |ehr| ehr.call_next(&who)).await?;
    Ok(match called {
        Some(stored) => resource_response(stored, &Default::default(), StatusCode::OK),
        None => fhir_response(
            StatusCode::OK,
            fhir::operation_outcome(
                &[fhir::Issue::information(
                    "No hay pacientes en espera.",
                    "Nobody is waiting.",
                )],
                fhir::Lang::Both,
            )
            .to_json_string(),
        ),
    })
}

/// # `POST /Encounter/{id}/$terminar` (the consultation ends)
pub(crate) async fn finish(
    state: State,
    Auth(who): Auth,
    Path(encounter_id): Path<String>,
) -> Result<Response, ApiError> {
    let stored = blocking(&state.0, move |ehr| ehr.finish_visit(&who, &encounter_id)).await?;
    Ok(resource_response(
        stored,
        &Default::default(),
        StatusCode::OK,
    ))
}
