//! HTTP for the master patient index and the Mexican profile checks: `Patient/$match`,
//! `Patient/$merge`, `Patient/$unmerge`, `{type}/$validate` and the CURP check the UI calls
//! while a receptionist types (`GET /curp/validar?curp=…`).
//!
//! These operations get literal routes (`/fhir/Patient/$match`…), which the router prefers over
//! `/fhir/{type}/{id}`; everything they do is one `ehr` use case, rendered here.

use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fhir::{Issue, IssueCode, Json, Lang};

use crate::auth::Auth;
use crate::handlers::blocking;
use crate::params::{base_url, json_body, parse_query};
use crate::{ApiError, FHIR_JSON, State};

fn json_response(status: StatusCode, body: &Json, pretty: bool, media: &'static str) -> Response {
    let text = if pretty {
        body.to_pretty_string()
    } else {
        body.to_json_string()
    };
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    response
}

fn stored_json(stored: &store::StoredResource) -> Json {
    fhir::json::parse_str(&stored.body).unwrap_or(Json::Null)
}

/// # `POST /Patient/$match`
pub(crate) async fn patient_match(
    state: State,
    Auth(who): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let body = json_body(&state, &headers, body).await?;
    let request = ehr::MatchRequest::from_body(body).map_err(ApiError::from)?;
    let hits = blocking(&state.0, move |ehr| ehr.match_patients(&who, &request)).await?;
    let base = base_url(&state, &headers);
    let entries: Vec<Json> = hits
        .iter()
        .map(|hit| {
            Json::object([
                (
                    "fullUrl",
                    Json::str(format!("{base}/Patient/{}", hit.resource.id)),
                ),
                ("resource", stored_json(&hit.resource)),
                (
                    "search",
                    Json::object([
                        (
                            "extension",
                            Json::Array(vec![Json::object([
                                ("url", Json::str(ehr::MATCH_GRADE_EXTENSION)),
                                ("valueCode", Json::str(hit.grade)),
                            ])]),
                        ),
                        ("mode", Json::str("match")),
                        ("score", Json::Number(format!("{:.3}", hit.score))),
                    ]),
                ),
            ])
        })
        .collect();
    let bundle = Json::object([
        ("resourceType", Json::str("Bundle")),
        ("type", Json::str("searchset")),
        ("total", Json::int(entries.len() as i64)),
        ("entry", Json::Array(entries)),
    ]);
    Ok(json_response(
        StatusCode::OK,
        &bundle,
        query.pretty,
        FHIR_JSON,
    ))
}

fn merge_response(outcome: &ehr::MergeOutcome, es: String, en: String, pretty: bool) -> Response {
    let parameter = |name: &str, resource: Json| {
        Json::object([("name", Json::str(name)), ("resource", resource)])
    };
    let parameters = Json::object([
        ("resourceType", Json::str("Parameters")),
        (
            "parameter",
            Json::Array(vec![
                parameter(
                    "outcome",
                    fhir::operation_outcome(&[Issue::information(es, en)], Lang::Both),
                ),
                parameter("result", stored_json(&outcome.target)),
                parameter("source", stored_json(&outcome.source)),
                parameter("provenance", stored_json(&outcome.provenance)),
            ]),
        ),
    ]);
    json_response(StatusCode::OK, &parameters, pretty, FHIR_JSON)
}

fn require_parameters(body: &Json) -> Result<(), ApiError> {
    if body.get("resourceType").and_then(Json::as_str) == Some("Parameters") {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "Se espera un recurso Parameters con source-patient y target-patient",
            "A Parameters resource with source-patient and target-patient is expected",
        ))
    }
}

/// # `POST /Patient/$merge`
pub(crate) async fn patient_merge(
    state: State,
    Auth(who): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    merge_operation(state, who, headers, raw, body, MergeKind::Merge).await
}

/// # `POST /Patient/$unmerge`
pub(crate) async fn patient_unmerge(
    state: State,
    Auth(who): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    merge_operation(state, who, headers, raw, body, MergeKind::Unmerge).await
}

#[derive(Clone, Copy)]
enum MergeKind {
    Merge,
    Unmerge,
}

/// `$merge` and `$unmerge` read the same Parameters and answer the same way.
async fn merge_operation(
    state: State,
    who: std::sync::Arc<ehr::Requester>,
    headers: HeaderMap,
    raw: Option<String>,
    body: Body,
    kind: MergeKind,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let body = json_body(&state, &headers, body).await?;
    require_parameters(&body)?;
    let outcome = blocking(&state.0, move |ehr| match kind {
        MergeKind::Merge => ehr.merge(&who, &body),
        MergeKind::Unmerge => ehr.unmerge(&who, &body),
    })
    .await?;
    let (source, target) = (&outcome.source.id, &outcome.target.id);
    let (es, en) = match kind {
        MergeKind::Merge => (
            format!("Patient/{source} fusionado en Patient/{target}"),
            format!("Patient/{source} merged into Patient/{target}"),
        ),
        MergeKind::Unmerge => (
            format!(
                "Fusión deshecha: Patient/{source} y Patient/{target} vuelven a estar separados"
            ),
            format!("Merge undone: Patient/{source} and Patient/{target} are separate again"),
        ),
    };
    Ok(merge_response(&outcome, es, en, query.pretty))
}

/// # `POST /{type}/$validate`
///
/// Body: the resource, or a `Parameters` with `resource`. Answers 200 with an OperationOutcome
/// holding every finding (errors included): the operation succeeded, its result is the list.
pub(crate) async fn validate(
    state: State,
    Auth(who): Auth,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let body = json_body(&state, &headers, body).await?;
    let resource = if body.get("resourceType").and_then(Json::as_str) == Some("Parameters") {
        body.get("parameter")
            .map_or(&[][..], Json::as_list)
            .iter()
            .find(|p| p.get("name").and_then(Json::as_str) == Some("resource"))
            .and_then(|p| p.get("resource"))
            .cloned()
            .ok_or_else(|| {
                ApiError::bad_request(
                    "Falta el parámetro «resource» con el recurso a validar",
                    "Parameter 'resource' with the resource to validate is missing",
                )
            })?
    } else {
        body
    };
    let issues = blocking(&state.0, move |ehr| {
        ehr.validate(&who, &resource_type, &resource)
    })
    .await?;
    let issues = if issues.is_empty() {
        vec![Issue::information(
            "El recurso es válido.",
            "The resource is valid.",
        )]
    } else {
        issues
    };
    Ok(json_response(
        StatusCode::OK,
        &fhir::operation_outcome(&issues, Lang::Both),
        query.pretty,
        FHIR_JSON,
    ))
}

/// # `GET /curp/validar?curp=…`
///
/// Plain JSON for the registration form: the normalised CURP, whether it is valid or just
/// incomplete, every problem by position (es/en), and what a valid CURP says (birth date,
/// gender, birth state) so the form can pre-fill or cross-check.
pub(crate) async fn curp_check(RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let Some(input) = query.get("curp") else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                IssueCode::Required,
                "Falta el parámetro curp (por ejemplo /curp/validar?curp=HEGG560427MVZRRL04)",
                "Parameter curp is missing (e.g. /curp/validar?curp=HEGG560427MVZRRL04)",
            ),
        ));
    };
    let check = ehr::check_curp(input);
    let opt = |value: Option<&str>| value.map_or(Json::Null, Json::str);
    let errors: Vec<Json> = check
        .errors
        .iter()
        .map(|problem| {
            let positions = match problem.positions {
                Some((start, end)) => Json::Array(
                    (start..=end)
                        .map(|p| Json::int(i64::try_from(p).unwrap_or(0)))
                        .collect(),
                ),
                None => Json::Array(Vec::new()),
            };
            Json::object([
                ("positions", positions),
                ("message_es", Json::str(problem.message_es.clone())),
                ("message_en", Json::str(problem.message_en.clone())),
            ])
        })
        .collect();
    let body = Json::object([
        ("input", Json::str(check.input.clone())),
        ("normalized", Json::str(check.normalized.clone())),
        ("valid", Json::Bool(check.valid)),
        ("complete", Json::Bool(check.complete)),
        ("errors", Json::Array(errors)),
        ("birthDate", opt(check.birth_date.as_deref())),
        ("gender", opt(check.gender)),
        ("birthState", opt(check.birth_state.as_deref())),
        ("birthStateName", opt(check.birth_state_name)),
    ]);
    Ok(json_response(
        StatusCode::OK,
        &body,
        query.pretty,
        "application/json; charset=utf-8",
    ))
}
