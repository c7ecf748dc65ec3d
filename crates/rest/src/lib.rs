//! The FHIR R4 REST API over HTTP.
//!
//! This crate is the only one that knows HTTP and FHIR wire details: routes, headers
//! (`ETag`, `If-Match`, `If-None-Exist`, `Prefer`, `Location`, `Last-Modified`), `_format`,
//! `_pretty`, `_summary`/`_elements` rendering, Bundle paging links and the mapping of
//! errors to status codes (`error.rs`). Every handler calls one `ehr` use case on the blocking
//! pool (SQLite is blocking) and renders the answer. Stored bodies are the exact JSON we
//! serve, so Bundles are assembled by splicing them as text, not by re-serialising. Every
//! request body is bounded after decompression (`bound_body`: `/fhir` by the configured
//! limit, `/auth/*` by [`AUTH_BODY_BYTES_MAX`]), so a small gzip bomb cannot become a large
//! body.

mod auth;
mod bundle;
mod error;
mod export;
mod handlers;
mod mpi;
pub mod observe;
mod params;
mod patch;
mod reports;
mod scheduling;
mod smart;
mod subscriptions;
mod terminology;
mod tls;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fhir::{Issue, IssueCode};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;

pub use auth::client_ip;
pub use error::ApiError;
pub use tls::{
    ClientAddr, PlainListener, TlsError, TlsListener, server_config as tls_server_config,
};

/// The media type of every FHIR response.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// Default largest request body, after decompression: 16 MiB holds a large transaction Bundle
/// (a Synthea patient is well under 1 MiB) while keeping a hostile upload from filling memory.
pub const BODY_LIMIT_BYTES_DEFAULT: usize = 16 * 1024 * 1024;

/// Largest body of `/auth/token` and `/auth/revoke`, after decompression: a sign-in form is a
/// few hundred bytes (passwords are at most 256); 16 KiB leaves room for long scope lists. These
/// routes answer before authentication, so they get the smallest bound.
pub const AUTH_BODY_BYTES_MAX: usize = 16 * 1024;

#[derive(Clone, Debug)]
pub struct RestConfig {
    pub body_limit_bytes: usize,
    /// Public base URL of the FHIR API (e.g. `https://clinica.example/fhir`). When `None`,
    /// it is derived from the request's `Host` header.
    pub base_url: Option<String>,
    /// Served over HTTPS: responses then carry `Strict-Transport-Security`.
    pub tls: bool,
    /// Requests per minute one person's account may make (scraping a record by hand-held
    /// token is the threat); system integrations are not limited. 0 = unlimited.
    pub person_requests_per_minute: u32,
    /// Where bulk export jobs keep their state and files (`DATA/exports`); `None`: no
    /// `$export` on this server.
    pub export_dir: Option<std::path::PathBuf>,
}

/// Default of [`RestConfig::person_requests_per_minute`]: far above what a clinician's screen
/// needs (a chart is a handful of requests), far below a script walking the record.
pub const PERSON_REQUESTS_PER_MINUTE_DEFAULT: u32 = 1_200;

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            body_limit_bytes: BODY_LIMIT_BYTES_DEFAULT,
            base_url: None,
            tls: false,
            person_requests_per_minute: PERSON_REQUESTS_PER_MINUTE_DEFAULT,
            export_dir: None,
        }
    }
}

pub(crate) struct AppState {
    pub ehr: ehr::Ehr,
    pub config: RestConfig,
    /// The node's token signing key.
    pub keys: Arc<::auth::token::KeyStore>,
    pub auth: auth::AuthState,
    /// Bulk export jobs (`export.rs`).
    pub exports: export::Exports,
    /// Websockets bound to subscriptions (`subscriptions.rs`).
    pub sockets: Arc<subscriptions::Sockets>,
    /// The CORS origins of registered apps (`smart.rs`).
    pub cors: smart::CorsOrigins,
}

pub(crate) type State = axum::extract::State<Arc<AppState>>;

/// Whether `headers` carry a valid bearer token of an enabled account (for layers that run in
/// front of the handlers, such as sync's on-demand fetch).
pub fn is_authenticated(
    ehr: &ehr::Ehr,
    keys: &::auth::token::KeyStore,
    headers: &axum::http::HeaderMap,
) -> bool {
    let Some(token) = auth::bearer(headers) else {
        return false;
    };
    let Ok(claims) = keys.verify(token, ehr.now_ms(), &|_| false) else {
        return false;
    };
    matches!(ehr.is_token_revoked(&claims.jti), Ok(false))
        && ehr.requester_for_claims(&claims, None).is_ok()
}

/// The router serving `/fhir/...`, `/auth/...` and `/healthz`. Serve it with
/// `into_make_service_with_connect_info::<ClientAddr>()`: the audit trail and the token
/// endpoint's throttle need the client address.
pub fn router(ehr: ehr::Ehr, keys: Arc<::auth::token::KeyStore>, config: RestConfig) -> Router {
    let tls = config.tls;
    let body_limit = config.body_limit_bytes;
    let exports = export::Exports::new(config.export_dir.clone());
    let state = Arc::new(AppState {
        ehr,
        config,
        keys,
        auth: auth::AuthState::default(),
        exports,
        sockets: Arc::default(),
        cors: smart::CorsOrigins::default(),
    });
    // Bulk exports a stop interrupted run again; expired ones are removed.
    export::resume(&state);
    // Subscriptions (issue 17): the delivery worker, off the write path.
    subscriptions::start(state.ehr.clone(), state.sockets.clone());
    // Routes are spelled out under /fhir (rather than nested) so that both `/fhir` and
    // `/fhir/` accept transaction Bundles, as clients send either.
    Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/auth/token", post(auth::token_endpoint))
        .route("/auth/revoke", post(auth::revoke_endpoint))
        .route("/auth/introspect", post(smart::introspect))
        .route(
            "/.well-known/smart-configuration",
            get(smart::configuration),
        )
        .route(
            "/fhir/.well-known/smart-configuration",
            get(smart::configuration),
        )
        .route("/.well-known/jwks.json", get(smart::jwks))
        .route(
            "/fhir/Patient/{id}/$acceso-emergencia",
            post(handlers::break_glass),
        )
        .route(
            "/fhir/Patient/{id}/$break-glass",
            post(handlers::break_glass),
        )
        .route(
            "/fhir/Patient/{id}/$iniciar-atencion",
            post(handlers::start_care),
        )
        .route(
            "/fhir/Patient/{id}/$cambio-unidad",
            post(handlers::move_registration),
        )
        .route(
            "/fhir/Schedule/{id}/$generar-espacios",
            post(scheduling::generate_slots),
        )
        .route("/fhir/Encounter/$llegada", post(scheduling::check_in))
        .route("/fhir/Encounter/$siguiente", post(scheduling::call_next))
        .route("/fhir/Encounter/{id}/$triage", post(scheduling::triage))
        .route("/fhir/Encounter/{id}/$terminar", post(scheduling::finish))
        .route("/reports/new-cases.csv", get(reports::new_cases))
        .route("/reports/consultations.csv", get(reports::consultations))
        .route(
            "/reports/diabetes-control.csv",
            get(reports::diabetes_control),
        )
        .route(
            "/reports/medicine-demand.csv",
            get(reports::medicine_demand),
        )
        .route(
            "/reports/vaccination-coverage.csv",
            get(reports::vaccination_coverage),
        )
        .route("/reports/repeated-tests.csv", get(reports::repeated_tests))
        .route("/reports/data-quality.csv", get(reports::data_quality))
        .route("/fhir/$estadisticas", get(handlers::aggregates))
        .route("/fhir/$aggregates", get(handlers::aggregates))
        .route("/fhir", post(handlers::root_post))
        .route("/fhir/", post(handlers::root_post))
        .route("/fhir/metadata", get(handlers::metadata))
        // Bulk Data $export (issue 16); `Group/{id}/$export` is an instance operation.
        .route("/fhir/$export", get(export::kick_off_system))
        .route("/fhir/Patient/$export", get(export::kick_off_patient))
        .route(
            "/fhir/$export-status/{job}",
            get(export::status).delete(export::cancel),
        )
        .route("/fhir/$export-file/{job}/{file}", get(export::file))
        .route("/fhir/_history", get(handlers::history_system))
        .route(
            "/fhir/$subscription-websocket",
            get(subscriptions::websocket),
        )
        // Operations of issue 3; literal segments win over `/fhir/{type}/{id}`.
        .route("/fhir/Patient/$match", post(mpi::patient_match))
        .route("/fhir/Patient/$merge", post(mpi::patient_merge))
        .route("/fhir/Patient/$unmerge", post(mpi::patient_unmerge))
        .route("/fhir/{type}/$validate", post(mpi::validate))
        .route(
            "/fhir/CodeSystem/$lookup",
            get(terminology::lookup).post(terminology::lookup),
        )
        .route(
            "/fhir/CodeSystem/$validate-code",
            get(terminology::validate_code).post(terminology::validate_code),
        )
        .route(
            "/fhir/ValueSet/$validate-code",
            get(terminology::validate_code).post(terminology::validate_code),
        )
        .route(
            "/fhir/ValueSet/$expand",
            get(terminology::expand).post(terminology::expand),
        )
        .route(
            "/fhir/ConceptMap/$translate",
            get(terminology::translate).post(terminology::translate),
        )
        .route("/curp/validar", get(mpi::curp_check))
        .route(
            "/fhir/{type}",
            get(handlers::type_get)
                .post(handlers::type_post)
                .put(handlers::type_put)
                .patch(patch::type_patch)
                .delete(handlers::type_delete),
        )
        .route(
            "/fhir/{type}/{id}",
            get(handlers::instance_get)
                .post(handlers::instance_post)
                .put(handlers::instance_put)
                .patch(patch::instance_patch)
                .delete(handlers::instance_delete),
        )
        .route(
            "/fhir/{type}/{id}/{segment}",
            get(handlers::instance_sub_get).post(handlers::instance_sub_post),
        )
        .route("/fhir/{type}/{id}/_history/{vid}", get(handlers::vread))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(tls, server_timing))
        // Outside the handlers (a preflight never reaches one), inside the timing layer's
        // security headers.
        .layer(middleware::from_fn_with_state(state, smart::cors))
        // Inside the decompression layer: the bound applies to the decompressed bytes, so a
        // small gzip bomb cannot grow into a large body (issue 12). Handlers read bodies with
        // their own bound too (`params::read_body`); this one covers every route at once.
        .layer(middleware::from_fn_with_state(body_limit, bound_body))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestDecompressionLayer::new())
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(panic_response))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Issue::error(
            IssueCode::NotSupported,
            "Método HTTP no permitido en esta dirección",
            "HTTP method not allowed on this endpoint",
        ),
    )
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Issue::error(
            IssueCode::NotFound,
            "Dirección desconocida en la API FHIR",
            "Unknown FHIR API endpoint",
        ),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        Issue::error(
            IssueCode::Exception,
            "Error interno del servidor.",
            "Internal server error.",
        ),
    )
    .into_response()
}

/// The largest body a route takes, after decompression.
fn body_limit_of(path: &str, fhir_limit: usize) -> usize {
    if path.starts_with("/auth/") {
        AUTH_BODY_BYTES_MAX
    } else {
        fhir_limit
    }
}

/// Bounds every request body (after decompression) and answers 413 with an OperationOutcome:
/// at once when `Content-Length` says so, otherwise as soon as a reader passes the bound.
async fn bound_body(
    axum::extract::State(fhir_limit): axum::extract::State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let limit = body_limit_of(request.uri().path(), fhir_limit);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(limit).into_response();
    }
    let (parts, body) = request.into_parts();
    let bounded = axum::body::Body::new(http_body_util::Limited::new(body, limit));
    let response = next.run(Request::from_parts(parts, bounded)).await;
    // Extractors that hit the bound answer a plain-text 413; say it as FHIR does.
    let is_fhir = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("fhir+json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_fhir {
        return too_large(limit).into_response();
    }
    response
}

/// The 413 answer of a body past `limit` bytes.
pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        Issue::error(
            IssueCode::TooLong,
            format!("El cuerpo de la solicitud excede el límite de {limit} bytes"),
            format!("The request body exceeds the limit of {limit} bytes"),
        ),
    )
}

/// Whether a body read failed on the size bound (rather than, say, corrupt gzip).
pub(crate) fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}

/// Adds `Server-Timing: app;dur=…` so benchmarks can read the server-side time of a request
/// apart from the network and the client.
async fn server_timing(
    axum::extract::State(tls): axum::extract::State<bool>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let has_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|length| length != "0")
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    let mut response = next.run(request).await;
    // An error may be answered before the request body was read (wrong media type, unknown
    // endpoint). The connection then cannot carry another request, and hyper drops it
    // silently; saying `Connection: close` lets clients open a new one instead of failing.
    if has_body && (response.status().is_client_error() || response.status().is_server_error()) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={elapsed_ms:.3}")) {
        response.headers_mut().insert("server-timing", value);
    }
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Health data must not be kept by shared caches or shown inside other sites' frames.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, private"),
        );
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}
