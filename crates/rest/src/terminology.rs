//! The terminology operations (`ehr::terminology`) over HTTP: `GET` with query parameters, or
//! `POST` with a `Parameters` body, as FHIR allows for operations that change nothing.

use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use fhir::Json;

use crate::auth::Auth;
use crate::handlers::{fhir_response, pretty_if};
use crate::params::{json_body, parse_query};
use crate::{ApiError, State};

/// The operation's inputs, from the query string and, for `POST`, a `Parameters` body.
struct Inputs {
    values: Vec<(String, String)>,
    pretty: bool,
}

impl Inputs {
    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn number(&self, name: &str) -> Result<Option<usize>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ApiError::from(ehr::Error::bad_request(
                    fhir::IssueCode::Invalid,
                    format!("{name} debe ser un número entero no negativo, no «{text}»"),
                    format!("{name} must be a non-negative integer, not '{text}'"),
                ))
            }),
        }
    }
}

async fn inputs(
    state: &crate::AppState,
    method: &Method,
    headers: &HeaderMap,
    raw: Option<&str>,
    body: Body,
) -> Result<Inputs, ApiError> {
    let query = parse_query(raw)?;
    let mut values = query.params;
    if method == Method::POST {
        let parameters = json_body(state, headers, body).await?;
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
                        Json::String(text) => Some(text.clone()),
                        Json::Number(text) => Some(text.clone()),
                        Json::Bool(flag) => Some(flag.to_string()),
                        _ => None,
                    })
            });
            if let Some(value) = value {
                values.push((name.to_string(), value));
            }
        }
    }
    Ok(Inputs {
        values,
        pretty: query.pretty,
    })
}

fn answer(result: Result<Json, ehr::Error>, pretty: bool) -> Result<Response, ApiError> {
    let json = result?;
    Ok(fhir_response(
        StatusCode::OK,
        pretty_if(json.to_json_string(), pretty),
    ))
}

/// # `CodeSystem/$lookup`
pub(crate) async fn lookup(
    state: State,
    Auth(_who): Auth,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let inputs = inputs(&state, &method, &headers, raw.as_deref(), body).await?;
    answer(
        ehr::terminology::lookup(inputs.get("system"), inputs.get("code")),
        inputs.pretty,
    )
}

/// # `CodeSystem/$validate-code` (`url` names the code system) and `ValueSet/$validate-code`
/// (`url` names the value set, `system` the code system).
pub(crate) async fn validate_code(
    state: State,
    Auth(_who): Auth,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let inputs = inputs(&state, &method, &headers, raw.as_deref(), body).await?;
    let system = inputs
        .get("system")
        .or_else(|| inputs.get("url").filter(|url| !url.contains("?fhir_vs")));
    answer(
        ehr::terminology::validate_code(system, inputs.get("code"), inputs.get("display")),
        inputs.pretty,
    )
}

/// # `ValueSet/$expand`
pub(crate) async fn expand(
    state: State,
    Auth(_who): Auth,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let inputs = inputs(&state, &method, &headers, raw.as_deref(), body).await?;
    let now = ehr::format_instant(state.ehr.now_ms());
    answer(
        ehr::terminology::expand(
            inputs.get("url"),
            inputs.get("filter"),
            inputs.number("count")?,
            inputs.number("offset")?,
            &now,
        ),
        inputs.pretty,
    )
}

/// # `ConceptMap/$translate`
pub(crate) async fn translate(
    state: State,
    Auth(_who): Auth,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let inputs = inputs(&state, &method, &headers, raw.as_deref(), body).await?;
    answer(
        ehr::terminology::translate(
            inputs.get("system"),
            inputs.get("code"),
            inputs.get("target").or_else(|| inputs.get("targetsystem")),
        ),
        inputs.pretty,
    )
}
