//! The `/sync` HTTP endpoints, and the clinic's on-demand fetch in front of `/fhir`.
//!
//! The sync protocol is not FHIR, so it lives here rather than in `rest`: its own routes,
//! authentication (the node credential as `Authorization: Bearer`) and body encoding
//! (`wire.rs`). Errors answer a JSON `{"error_es", "error_en"}`.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::Error;
use crate::clinic::{Clinic, status_of};
use crate::hub::Hub;
use crate::wire::{self, AnchorRequest, FetchRequest, PullRequest, PushRequest};

/// Largest request body read by a sync endpoint (compressed): a batch is at most
/// `BATCH_BYTES_MAX` before compression.
const BODY_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Largest `$match` body inspected for a CURP before a fetch.
const MATCH_BODY_BYTES_MAX: usize = 1024 * 1024;

fn error_response(err: &Error) -> Response {
    let status = match err {
        Error::Unauthorized => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::Store(store::Error::Busy) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let (es, en) = match status {
        StatusCode::UNAUTHORIZED => (
            "Credencial de nodo no reconocida".to_string(),
            "Node credential not recognised".to_string(),
        ),
        StatusCode::INTERNAL_SERVER_ERROR => {
            // Details of server faults go to the log, never to the caller.
            tracing::error!(error = %err, "sync request failed");
            (
                "Error interno del nodo central".to_string(),
                "Hub internal error".to_string(),
            )
        }
        _ => (err.to_string(), err.to_string()),
    };
    let body = serde_json::json!({ "error_es": es, "error_en": en });
    (status, axum::Json(body)).into_response()
}

fn encoded(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, wire::MEDIA_TYPE)], bytes).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| Error::Store(store::Error::Other(err.to_string())))?
}

/// Authenticates, decodes the body and runs `f` on the blocking pool.
async fn hub_call<Req, Resp>(
    hub: Arc<Hub>,
    headers: HeaderMap,
    body: Bytes,
    f: fn(&Hub, &str, Req) -> Result<Resp, Error>,
) -> Response
where
    Req: serde::de::DeserializeOwned + Send + 'static,
    Resp: serde::Serialize + Send + 'static,
{
    let Some(token) = bearer(&headers).map(str::to_string) else {
        return error_response(&Error::Unauthorized);
    };
    let outcome = blocking(move || {
        let node = hub.authenticate(&token)?;
        let request: Req = wire::decode(&body).map_err(|err| Error::BadRequest(err.to_string()))?;
        f(&hub, &node, request)
    })
    .await;
    match outcome {
        Ok(response) => encoded(wire::encode(&response)),
        Err(err) => error_response(&err),
    }
}

/// # `POST /sync/push`
async fn push(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Bytes) -> Response {
    hub_call(hub, headers, body, |hub, node, request: PushRequest| {
        hub.push(node, request)
    })
    .await
}

/// # `POST /sync/pull`
async fn pull(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Bytes) -> Response {
    hub_call(hub, headers, body, |hub, node, request: PullRequest| {
        hub.pull(node, &request)
    })
    .await
}

/// # `POST /sync/fetch`
async fn fetch(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Bytes) -> Response {
    hub_call(hub, headers, body, |hub, node, request: FetchRequest| {
        hub.fetch(node, &request)
    })
    .await
}

/// # `POST /sync/anchor`
async fn anchor(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Bytes) -> Response {
    hub_call(hub, headers, body, |hub, node, request: AnchorRequest| {
        hub.receive_anchors(node, request)
    })
    .await
}

/// # `GET /sync/status` (hub)
async fn hub_status(State(hub): State<Arc<Hub>>) -> Response {
    let outcome = blocking(move || {
        let now_ms = time_now_ms();
        let mut status = serde_json::to_value(status_of(hub.sync_store(), "hub", None, now_ms)?)
            .unwrap_or_default();
        status["nodes"] = hub.nodes_status()?;
        status["online"] = serde_json::json!(true);
        Ok(status)
    })
    .await;
    match outcome {
        Ok(status) => axum::Json(status).into_response(),
        Err(err) => error_response(&err),
    }
}

/// # `GET /sync/conflicts`
async fn conflicts(store: Arc<dyn store::sync::SyncStore>) -> Response {
    let outcome = blocking(move || Ok(store.conflicts(1_000)?)).await;
    match outcome {
        Ok(list) => {
            let items: Vec<serde_json::Value> = list
                .into_iter()
                .map(|c| {
                    serde_json::json!({
                        "resource": format!("{}/{}", c.resource_type, c.id),
                        "fields": c.fields,
                        "winner": {"hlc": c.winner.hlc, "node": c.winner.origin},
                        "loser": {"hlc": c.loser.hlc, "node": c.loser.origin},
                        "detected": ehr::format_instant(c.detected_ms),
                        "open": c.open,
                    })
                })
                .collect();
            axum::Json(serde_json::json!({ "conflicts": items })).into_response()
        }
        Err(err) => error_response(&err),
    }
}

fn time_now_ms() -> i64 {
    use ehr::Clock;
    ehr::SystemClock.now_ms()
}

/// The hub's `/sync` routes.
pub fn hub_router(hub: Arc<Hub>, sync_store: Arc<dyn store::sync::SyncStore>) -> Router {
    Router::new()
        .route("/sync/push", post(push))
        .route("/sync/pull", post(pull))
        .route("/sync/fetch", post(fetch))
        .route("/sync/anchor", post(anchor))
        .route("/sync/status", get(hub_status))
        .with_state(hub)
        .route(
            "/sync/conflicts",
            get(move || conflicts(sync_store.clone())),
        )
        .layer(axum::extract::DefaultBodyLimit::max(BODY_BYTES_MAX))
}

/// # `GET /sync/status` (clinic)
async fn clinic_status(State(clinic): State<Arc<Clinic>>) -> Response {
    let outcome = blocking(move || clinic.status()).await;
    match outcome {
        Ok(status) => axum::Json(status).into_response(),
        Err(err) => error_response(&err),
    }
}

/// A clinic's `/sync` routes.
pub fn clinic_router(clinic: Arc<Clinic>, sync_store: Arc<dyn store::sync::SyncStore>) -> Router {
    Router::new()
        .route("/sync/status", get(clinic_status))
        .with_state(clinic)
        .route(
            "/sync/conflicts",
            get(move || conflicts(sync_store.clone())),
        )
}

/// The CURP a lookup names: `identifier=<CURP system>|X`, or a bare 18-character value.
fn curp_of_identifier(value: &str) -> Option<String> {
    let (system, code) = match value.split_once('|') {
        Some((system, code)) => (Some(system), code),
        None => (None, value),
    };
    let code = code.trim().to_uppercase();
    let system_ok = system.is_none_or(|s| s == mexico::systems::CURP);
    (system_ok && code.len() == 18 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(code)
}

/// The CURP in a `$match` body (Parameters with a Patient, or a bare Patient).
fn curp_of_match_body(body: &[u8]) -> Option<String> {
    let json = fhir::json::parse(body).ok()?;
    let patient = if json.get("resourceType").and_then(fhir::Json::as_str) == Some("Parameters") {
        json.get("parameter")?
            .as_list()
            .iter()
            .find(|p| p.get("name").and_then(fhir::Json::as_str) == Some("resource"))?
            .get("resource")?
            .clone()
    } else {
        json
    };
    patient
        .get("identifier")?
        .as_list()
        .iter()
        .filter(|i| i.get("system").and_then(fhir::Json::as_str) == Some(mexico::systems::CURP))
        .find_map(|i| i.get("value").and_then(fhir::Json::as_str))
        .map(|v| v.trim().to_uppercase())
}

/// Middleware in front of a clinic's `/fhir`: a lookup by CURP (`GET /fhir/Patient?identifier=`
/// or `POST /fhir/Patient/$match`) of a patient not stored here first fetches the national
/// record from the hub, then answers from the local store as always.
pub async fn on_demand_fetch(
    State(clinic): State<Arc<Clinic>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().trim_end_matches('/').to_string();
    if request.method() == Method::GET && path == "/fhir/Patient" {
        let query = request.uri().query().unwrap_or("");
        let curps: Vec<String> = ehr::parse_query_string(query)
            .into_iter()
            .filter(|(name, _)| name == "identifier")
            .filter_map(|(_, value)| curp_of_identifier(&value))
            .collect();
        for curp in curps {
            clinic.fetch_if_unknown(curp).await;
        }
        return next.run(request).await;
    }
    if request.method() == Method::POST && path == "/fhir/Patient/$match" {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MATCH_BODY_BYTES_MAX).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
        };
        if let Some(curp) = curp_of_match_body(&bytes) {
            clinic.fetch_if_unknown(curp).await;
        }
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curp_lookups_are_recognised() {
        let system = mexico::systems::CURP;
        assert_eq!(
            curp_of_identifier(&format!("{system}|pegj901123hdfrmn03")).as_deref(),
            Some("PEGJ901123HDFRMN03")
        );
        assert_eq!(
            curp_of_identifier("PEGJ901123HDFRMN03").as_deref(),
            Some("PEGJ901123HDFRMN03")
        );
        assert_eq!(curp_of_identifier("urn:other|PEGJ901123HDFRMN03"), None);
        assert_eq!(curp_of_identifier("12345"), None);
        let body = format!(
            r#"{{"resourceType":"Parameters","parameter":[{{"name":"resource","resource":{{"resourceType":"Patient","identifier":[{{"system":"{system}","value":"PEGJ901123HDFRMN03"}}]}}}}]}}"#
        );
        assert_eq!(
            curp_of_match_body(body.as_bytes()).as_deref(),
            Some("PEGJ901123HDFRMN03")
        );
    }
}
