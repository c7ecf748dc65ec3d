//! Request details shared by handlers: query strings, `Prefer`, media types, bodies, base URL.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use fhir::{Issue, IssueCode, Json};

use crate::{ApiError, AppState};

/// Parameters that shape the rendering rather than select data; removed before a search.
const RENDER_PARAMS: [&str; 2] = ["_format", "_pretty"];

/// The decoded query, minus rendering parameters, plus those rendering choices.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query {
    pub params: Vec<(String, String)>,
    pub pretty: bool,
}

impl Query {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The query without some parameters, re-encoded (for paging links).
    pub fn encode_without(&self, drop: &[&str]) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.params {
            if !drop.contains(&key.as_str()) {
                serializer.append_pair(key, value);
            }
        }
        serializer.finish()
    }
}

pub(crate) fn parse_query(raw: Option<&str>) -> Result<Query, ApiError> {
    let mut query = Query::default();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "_format" => check_format(&value)?,
            "_pretty" => query.pretty = value == "true",
            _ => query.params.push((key.into_owned(), value.into_owned())),
        }
    }
    debug_assert!(
        query
            .params
            .iter()
            .all(|(k, _)| !RENDER_PARAMS.contains(&k.as_str()))
    );
    Ok(query)
}

fn check_format(value: &str) -> Result<(), ApiError> {
    let value = value.split(';').next().unwrap_or("").trim();
    match value {
        "json" | "application/json" | "application/fhir+json" => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            Issue::error(
                IssueCode::NotSupported,
                format!("Formato no disponible: {value}; este servidor solo ofrece JSON"),
                format!("Format not available: {value}; this server only serves JSON"),
            ),
        )),
    }
}

/// Checks that a GET asks for something we can give (JSON).
pub(crate) fn check_accept(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let acceptable = accept.split(',').any(|part| {
        let media = part.split(';').next().unwrap_or("").trim();
        matches!(
            media,
            "" | "*/*" | "application/*" | "application/json" | "application/fhir+json" | "text/*"
        )
    });
    if acceptable {
        Ok(())
    } else {
        check_format(accept)
    }
}

/// `Prefer` header choices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Return {
    Minimal,
    #[default]
    Representation,
    OperationOutcome,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Prefer {
    pub return_: Return,
    pub strict: bool,
}

pub(crate) fn prefer(headers: &HeaderMap) -> Prefer {
    let mut prefer = Prefer::default();
    for value in headers.get_all("prefer") {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split([',', ';']) {
            match part.trim() {
                "return=minimal" => prefer.return_ = Return::Minimal,
                "return=representation" => prefer.return_ = Return::Representation,
                "return=OperationOutcome" => prefer.return_ = Return::OperationOutcome,
                "handling=strict" => prefer.strict = true,
                "handling=lenient" => prefer.strict = false,
                _ => {}
            }
        }
    }
    prefer
}

/// Reads a JSON body: checks the media type, the size limit and the JSON itself.
pub(crate) async fn json_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json, ApiError> {
    check_json_media(headers)?;
    let bytes = read_body(state, body).await?;
    parse_json_body(&bytes)
}

/// A body that may be absent (an operation's optional Parameters): `None` when it is empty,
/// else as [`json_body`] reads it. Clients send `Content-Type` with an empty POST body too.
pub(crate) async fn optional_json_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Option<Json>, ApiError> {
    let bytes = read_body(state, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    check_json_media(headers)?;
    parse_json_body(&bytes).map(Some)
}

/// 415 unless the body is declared JSON (`application/fhir+json` or `application/json`).
fn check_json_media(headers: &HeaderMap) -> Result<(), ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match media.as_deref() {
        Some("application/fhir+json" | "application/json") => {}
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Issue::error(
                    IssueCode::NotSupported,
                    format!("Tipo de contenido no admitido: {other}; use application/fhir+json"),
                    format!("Unsupported content type: {other}; use application/fhir+json"),
                ),
            ));
        }
        None => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Issue::error(
                    IssueCode::NotSupported,
                    "Falta Content-Type; use application/fhir+json",
                    "Content-Type is missing; use application/fhir+json",
                ),
            ));
        }
    }
    Ok(())
}

fn parse_json_body(bytes: &[u8]) -> Result<Json, ApiError> {
    fhir::json::parse(bytes).map_err(|err| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(IssueCode::Structure, err.message_es(), err.message_en()),
        )
    })
}

pub(crate) async fn read_body(state: &AppState, body: Body) -> Result<Vec<u8>, ApiError> {
    read_body_max(body, state.config.body_limit_bytes).await
}

/// Reads a (decompressed) body of at most `limit` bytes: 413 past it, 400 if it cannot be read
/// (corrupt compression, a dropped connection).
pub(crate) async fn read_body_max(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(err) if crate::is_length_limit(&err) => Err(crate::too_large(limit)),
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(
                IssueCode::Structure,
                "No se pudo leer el cuerpo de la solicitud (¿compresión no válida?)",
                "The request body could not be read (invalid compression?)",
            ),
        )),
    }
}

/// The FHIR base URL for links and `Location`.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(base) = &state.config.base_url {
        return base.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}/fhir")
}

/// Parses `If-Match: W/"3"`.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    match ehr_etag(text) {
        Some(version) => Ok(Some(version)),
        None => Err(ApiError::bad_request(
            format!("If-Match no válido: {text} (se espera W/\"n\")"),
            format!("Invalid If-Match: {text} (expected W/\"n\")"),
        )),
    }
}

fn ehr_etag(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text.strip_prefix("W/").unwrap_or(text);
    text.trim_matches('"').parse().ok()
}

/// `_count`, bounded.
pub(crate) fn count_param(query: &Query, default: usize, max: usize) -> Result<usize, ApiError> {
    match query.get("_count") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(count) => Ok(count.min(max)),
            Err(_) => Err(ApiError::bad_request(
                format!("_count debe ser un entero no negativo (se recibió «{text}»)"),
                format!("_count must be a non-negative integer (got '{text}')"),
            )),
        },
    }
}

pub(crate) fn instant_param(query: &Query, name: &str) -> Result<Option<i64>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => ehr::parse_instant_ms(text).map(Some).ok_or_else(|| {
            ApiError::bad_request(
                format!("{name} debe ser un instante FHIR (p. ej. 2024-01-31T10:00:00Z); se recibió «{text}»"),
                format!("{name} must be a FHIR instant (e.g. 2024-01-31T10:00:00Z); got '{text}'"),
            )
        }),
    }
}

/// An OAuth endpoint's `application/x-www-form-urlencoded` body (token, revoke, introspect),
/// bounded like every `/auth` body; a repeated field keeps its last value.
pub(crate) async fn read_auth_form(
    body: axum::body::Body,
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    let body = read_body_max(body, crate::AUTH_BODY_BYTES_MAX).await?;
    Ok(form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}
