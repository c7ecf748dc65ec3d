//! The clinician's web UI: server-rendered HTML at `/` and `/ui/…`, Spanish first.
//!
//! Key decisions:
//! - **Server-rendered, no SPA.** askama templates are compiled into the binary; every screen
//!   is an HTML form or link that works without JavaScript (a few lines of script only check the
//!   CURP and fetch the CIE-10 choices as they are typed). CSS is inline and there are no fonts or external assets, so any
//!   page fits the 60 KB budget (gzip) on a 256 kbit/s link.
//! - **One path to the data.** Handlers call `data.rs`, which calls the `ehr` use cases that
//!   `/fhir` uses; this crate knows HTML, never SQL nor the store.
//! - **Access control is the record's.** Sign-in is `ehr`'s (the same throttled use case as the
//!   API's token endpoint); every data call acts as the signed-in user (`data::Db`), so the
//!   screens show exactly what the API would, and every access is audited by `ehr`.
//! - **A session is the UI's own, not an API token** ([`session`]): an opaque random secret in
//!   an HttpOnly `SameSite=Strict` cookie (`__Host-` over TLS), known to the server by its
//!   digest, ended after 30 minutes idle, 8 hours at most, at sign-out, and at once by a
//!   password reset or a disable. `/fhir` refuses it.
//!
//! # Adding a screen: sessions, forms and CSRF
//! Another screen needs nothing new for its security, if it keeps these rules:
//! - A handler takes `pages`' `Ctx` extractor (session, language, client address) and
//!   reaches data only through `pages::blocking(&app, &ctx, |db| …)`, which acts as the
//!   session's user (no session, no data). A page without a session redirects to sign-in.
//! - GET never changes anything. Anything that does is a `<form method="post">` whose first
//!   child is `{% include "csrf.html" %}` (the template's struct has the usual
//!   `layout: Layout`, which carries the token and the form's submission key: a form sent twice
//!   writes once, `submissions.rs`). Nothing else: `guard.rs` runs before every
//!   non-GET route of this router and refuses (403, the UI's error page) a request whose
//!   `Origin`/`Sec-Fetch-Site` is another site or whose `csrf` field is not the session's
//!   token, and (413) a body over [`FORM_BYTES_MAX`], before the handler runs.
//! - Writes answer with a redirect (post/redirect/get); a redirect to a path that came from
//!   the request goes through `pages::safe_next` (pages of this UI only). A refused write
//!   renders its form again with what was typed and plain messages (`messages.rs`), never a
//!   bare error page.
//! - A page about a patient loads it through `pages::open_record`, which gives the header, the
//!   one allergy banner (`banner.rs`) and what the user may do (`ehr`'s
//!   `Ehr::record_abilities`): offer only those actions.
//! - The end-to-end test `every_form_carries_the_token_and_every_post_checks_it` walks the
//!   served pages, checks every POST form's token and that a form exists for every POST route
//!   declared here; a new POST route without a reachable form fails it (add the route to its
//!   walk if the form is on a page it does not reach).
//!
//! Only this crate knows HTML.

pub mod banner;
pub mod chart;
pub mod consult;
pub mod data;
pub mod dates;
pub mod diagnoses;
pub mod forms;
pub mod growth;
mod guard;
pub mod i18n;
pub mod meds;
pub mod messages;
pub mod orders;
mod pages;
pub mod prescribing;
pub mod referral;
pub mod schedule;
pub mod session;
mod submissions;
pub mod svg;
pub mod vitals;

use std::sync::Arc;

use std::net::IpAddr;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;

pub use guard::{CSRF_FIELD, FORM_BYTES_MAX};
pub use session::{EhrSessions, PreSession, SessionInfo, Sessions};
pub use submissions::{SUBMISSION_FIELD, SUBMISSION_TTL_MS, SUBMISSIONS_MAX};

/// The style sheet, inlined in every page (about 6 KB; 2 KB compressed).
pub const CSS: &str = include_str!("../static/app.css");

/// The small progressive-enhancement script (CURP check while typing).
pub const SCRIPT: &str = include_str!("../static/app.js");

/// Where the node stands with the hub, for the status slot on every page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncState {
    Online,
    Offline,
    /// Sync is not configured on this node (or not built yet).
    Unknown,
}

#[derive(Clone, Copy, Debug)]
pub struct SyncStatus {
    pub state: SyncState,
    pub pending_changes: Option<u64>,
}

impl SyncStatus {
    pub fn message_key(&self) -> &'static str {
        match self.state {
            SyncState::Online => "sync.online",
            SyncState::Offline => "sync.offline",
            SyncState::Unknown => "sync.unknown",
        }
    }

    pub fn css_class(&self) -> &'static str {
        match self.state {
            SyncState::Online => "ok",
            SyncState::Offline => "bad",
            SyncState::Unknown => "muted",
        }
    }
}

/// Reads the sync status; called once per page (the sync engine wires a real one).
pub type SyncStatusFn = Arc<dyn Fn() -> SyncStatus + Send + Sync>;

/// A status source for nodes without sync.
pub fn no_sync() -> SyncStatusFn {
    Arc::new(|| SyncStatus {
        state: SyncState::Unknown,
        pending_changes: None,
    })
}

/// Reads the client's address from a request's extensions (the server's connection info).
pub type ClientIpFn = fn(&axum::http::Extensions) -> Option<IpAddr>;

/// The client address as `axum::serve(…into_make_service_with_connect_info::<SocketAddr>())`
/// records it.
pub fn socket_client_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

/// How the UI is served.
#[derive(Clone)]
pub struct WebConfig {
    /// The node is reached over TLS: cookies are `Secure` and `__Host-` prefixed, and the
    /// expected `Origin` of forms is `https://…`.
    pub secure_cookies: bool,
    pub sync_status: SyncStatusFn,
    /// The origin browsers reach the UI at (`https://clinica.example`), when a proxy stands in
    /// front; `None` = the scheme and `Host` of each request.
    pub public_origin: Option<String>,
    /// Where the client's address comes from (audit trail, sign-in throttle).
    pub client_ip: ClientIpFn,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: false,
            sync_status: no_sync(),
            public_origin: None,
            client_ip: socket_client_ip,
        }
    }
}

pub(crate) struct App {
    pub ehr: ehr::Ehr,
    pub sessions: Arc<dyn Sessions>,
    pub config: WebConfig,
    /// The key of the sign-in form's CSRF tokens (per process).
    pub pre_session: PreSession,
    /// Form submissions already handled (one write per submission key).
    pub submissions: submissions::Submissions,
}

/// Why the UI could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("no se pudo generar la llave de los formularios / cannot generate the form key: {0}")]
    Random(#[from] auth::secret::RandomError),
}

/// The UI routes: `/` and `/ui/…`. Merge them with the FHIR router. Every non-GET request
/// passes `guard.rs` (origin, size, CSRF token) before its handler.
pub fn router(
    ehr: ehr::Ehr,
    sessions: Arc<dyn Sessions>,
    config: WebConfig,
) -> Result<Router, WebError> {
    let app = Arc::new(App {
        ehr,
        sessions,
        config,
        pre_session: PreSession::new()?,
        submissions: submissions::Submissions::default(),
    });
    Ok(Router::new()
        .route("/", get(pages::signin::home))
        .route("/ui", get(pages::signin::home))
        .route(
            "/ui/entrar",
            get(pages::signin::login_form).post(pages::signin::login),
        )
        .route("/ui/salir", post(pages::signin::logout))
        // SMART App Launch (issue 18): the authorization endpoint is a page.
        .route("/auth/authorize", get(pages::authorize::authorize))
        .route(
            "/ui/autorizar",
            get(pages::authorize::authorize).post(pages::authorize::decide),
        )
        .route("/ui/autorizar/entrar", post(pages::authorize::sign_in))
        .route("/ui/idioma", get(pages::signin::language))
        .route("/ui/buscar", get(pages::find::find))
        .route("/ui/vigilancia", get(pages::surveillance::page))
        .route("/ui/censo-nominal", get(pages::census::page))
        .route("/ui/control-cronico", get(pages::chronic::page))
        .route("/ui/cobertura-vacunacion", get(pages::coverage::page))
        .route("/ui/demanda-medicamentos", get(pages::demand::page))
        .route("/ui/estudios-repetidos", get(pages::quality::repeats))
        .route("/ui/calidad-datos", get(pages::quality::quality))
        .route("/ui/mis-citas", get(pages::mine::page))
        .route("/ui/referencias", get(pages::referrals::page))
        .route("/ui/referencias/{task}", post(pages::referrals::decide))
        .route("/ui/fila", get(pages::queue::page))
        .route("/ui/fila/llegada", post(pages::queue::check_in))
        .route("/ui/fila/siguiente", post(pages::queue::call_next))
        .route("/ui/fila/cita/{appointment}", post(pages::queue::release))
        .route("/ui/fila/{encounter}", post(pages::queue::visit_step))
        .route("/ui/sala", get(pages::queue::sala))
        .route("/ui/curp", get(pages::find::curp_fragment))
        .route("/ui/cie10", get(pages::find::cie10_fragment))
        .route(
            "/ui/pacientes/nuevo",
            get(pages::register::register_form).post(pages::register::register),
        )
        .route("/ui/pacientes/{id}", get(pages::record::chart))
        .route("/ui/pacientes/{id}/ficha", get(pages::register::card))
        .route(
            "/ui/pacientes/{id}/cita",
            get(pages::queue::book_form).post(pages::queue::book),
        )
        .route(
            "/ui/pacientes/{id}/inicio-atencion",
            post(pages::register::start_care),
        )
        .route(
            "/ui/pacientes/{id}/cambio-unidad",
            post(pages::register::move_registration),
        )
        .route(
            "/ui/pacientes/{id}/acceso-emergencia",
            post(pages::access::break_glass),
        )
        .route(
            "/ui/pacientes/{id}/bitacora",
            get(pages::access::access_log),
        )
        .route(
            "/ui/pacientes/{id}/consulta",
            get(pages::consult::consult_form).post(pages::consult::consult),
        )
        .route(
            "/ui/pacientes/{id}/signos-vitales",
            get(pages::nursing::vitals_form).post(pages::nursing::vitals),
        )
        .route(
            "/ui/pacientes/{id}/vacunas",
            get(pages::nursing::vaccine_form).post(pages::nursing::vaccine),
        )
        .route(
            "/ui/pacientes/{id}/alergias",
            get(pages::allergies::allergies_page).post(pages::allergies::allergies),
        )
        .route(
            "/ui/pacientes/{id}/problemas",
            get(pages::problems::problems_page).post(pages::problems::problems),
        )
        .route(
            "/ui/pacientes/{id}/medicamentos",
            get(pages::medications::medications_page).post(pages::medications::medications),
        )
        .route(
            "/ui/pacientes/{id}/visitas/{encounter}",
            get(pages::record::visit),
        )
        .route("/ui/pacientes/{id}/notas/{note}", get(pages::consult::note))
        .route(
            "/ui/pacientes/{id}/notas/{note}/addendum",
            post(pages::consult::add_addendum),
        )
        .route(
            "/ui/pacientes/{id}/notas/{note}/receta",
            get(pages::print::receta),
        )
        .route(
            "/ui/pacientes/{id}/notas/{note}/estudios",
            get(pages::print::orders),
        )
        .route(
            "/ui/pacientes/{id}/referencia",
            get(pages::refer::refer_form).post(pages::refer::refer),
        )
        .route(
            "/ui/pacientes/{id}/referencias/{request}",
            get(pages::refer::referral).post(pages::refer::counter_referral),
        )
        .route(
            "/ui/pacientes/{id}/referencias/{request}/imprimir",
            get(pages::print::referral_form),
        )
        .route("/ui/pacientes/{id}/resumen", get(pages::summary::summary))
        .route(
            "/ui/pacientes/{id}/lanzar/{client_id}",
            get(pages::authorize::launch),
        )
        .with_state(app.clone())
        // Inside the guard: a submission is recognised only after its origin, size and CSRF
        // token passed.
        .layer(middleware::from_fn_with_state(
            app.clone(),
            submissions::once,
        ))
        .layer(middleware::from_fn_with_state(app, guard::guard))
        .layer(CompressionLayer::new()))
}

/// The chart page rendered without a session, for the render benchmark only (handlers always
/// go through the access check first).
#[doc(hidden)]
pub fn bench_chart_html(
    ehr: &ehr::Ehr,
    who: &ehr::Requester,
    patient_id: &str,
    now_ms: i64,
) -> Result<String, ehr::Error> {
    pages::bench_chart_html(&data::Db::new(ehr.clone(), who.clone()), patient_id, now_ms)
}

#[cfg(test)]
mod tests;
