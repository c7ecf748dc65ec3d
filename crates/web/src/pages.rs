//! The screens: one handler per route, each reading the session, calling `data` on the
//! blocking pool and rendering one askama template. One module per screen (`pages/*.rs`);
//! this module holds what they share: the request context, the layout, errors, the patient
//! every patient page shows ([`PatientView`], with the one allergy banner), and helpers.
//!
//! Why forms and redirects: every action is a plain HTML form (works without JavaScript, on
//! any tablet browser); writes answer with a redirect (post/redirect/get) so a reload never
//! writes twice, and every form carries a submission key so a double submit writes once
//! (`submissions.rs`). Warnings that must come *before* a write (a repeated lab test, a
//! possible duplicate patient, an improbable vital sign, a prescribing alert) re-render the
//! form with what was typed and a confirmation box; a refused write does the same.

pub mod access;
pub mod allergies;
pub mod authorize;
pub mod census;
pub mod chronic;
pub mod consult;
pub mod coverage;
pub mod demand;
pub mod find;
pub mod medications;
pub mod mine;
pub mod nursing;
pub mod print;
pub mod problems;
pub mod quality;
pub mod queue;
pub mod record;
pub mod refer;
pub mod referrals;
pub mod register;
pub mod signin;
pub mod summary;
pub mod surveillance;

use std::sync::Arc;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use crate::banner::{self, AllergyBanner};
use crate::chart;
use crate::data;
use crate::dates;
use crate::i18n::{Lang, Tr};
use crate::session::{self, Access, SessionInfo};
use crate::{App, SyncStatus};

const LANG_COOKIE: &str = "idioma";

/// Nothing is loaded from elsewhere, forms post only to the node, and no other site may frame
/// the UI (clickjacking). The inline style and script are ours (no user data in them).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

pub(crate) type AppState = axum::extract::State<Arc<App>>;

/// The request as every page sees it: language, session, path and the time; handlers take it
/// as an extractor.
pub(crate) struct Ctx {
    pub(crate) tr: Tr,
    pub(crate) session: Option<SessionInfo>,
    pub(crate) path: String,
    pub(crate) now_ms: i64,
    /// The client's address (audit trail, sign-in throttle).
    pub(crate) ip: Option<std::net::IpAddr>,
    /// The pre-session cookie's value, if the browser sent one.
    pre_session: Option<String>,
    /// A pre-session created for this response (its cookie must be set).
    new_pre_session: Option<String>,
}

impl axum::extract::FromRequestParts<Arc<App>> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &Arc<App>,
    ) -> Result<Ctx, Self::Rejection> {
        let ip = (app.config.client_ip)(&parts.extensions);
        Ok(Ctx::new(app, &parts.headers, &parts.uri, ip))
    }
}

impl Ctx {
    pub(crate) fn new(
        app: &App,
        headers: &HeaderMap,
        uri: &Uri,
        ip: Option<std::net::IpAddr>,
    ) -> Ctx {
        let cookies = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let from_query = uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Lang::parse(&v))
        });
        let lang = from_query
            .or_else(|| session::cookie_value(cookies, LANG_COOKIE).and_then(Lang::parse))
            .unwrap_or_default();
        let now_ms = app.ehr.now_ms();
        let secure = app.config.secure_cookies;
        let session = session::cookie_value(cookies, session::session_cookie_name(secure))
            .filter(|secret| !secret.is_empty())
            .and_then(|secret| app.sessions.lookup(secret, ip, now_ms));
        let pre_session = session::cookie_value(cookies, session::pre_session_cookie_name(secure))
            .filter(|value| !value.is_empty())
            .map(str::to_string);
        Ctx {
            tr: Tr { lang },
            session,
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
            now_ms,
            ip,
            pre_session,
            new_pre_session: None,
        }
    }

    /// Makes sure the browser has a pre-session (the sign-in form's CSRF token is bound to it).
    pub(crate) fn ensure_pre_session(&mut self) {
        if self.pre_session.is_none() {
            let value = auth::secret::random_secret().ok();
            self.new_pre_session.clone_from(&value);
            self.pre_session = value;
        }
    }

    /// The CSRF token the forms of this page carry: the session's, or before sign-in the
    /// pre-session's.
    fn csrf(&self, app: &App) -> String {
        match (&self.session, &self.pre_session) {
            (Some(session), _) => session.csrf.clone(),
            (None, Some(pre)) => app.pre_session.token(pre),
            (None, None) => String::new(),
        }
    }

    /// Adds the pre-session cookie to a response, if this request created one.
    pub(crate) fn set_pre_session_cookie(&self, app: &App, response: &mut Response) {
        if let Some(value) = &self.new_pre_session
            && let Ok(cookie) = HeaderValue::from_str(&session::pre_session_cookie(
                value,
                app.config.secure_cookies,
            ))
        {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }

    pub(crate) fn layout(&self, app: &App, title: &'static str) -> Layout {
        let path = strip_lang_param(&self.path);
        Layout {
            tr: self.tr,
            user: self.session.clone(),
            sync: (app.config.sync_status)(),
            title: self.tr.s(title),
            css: crate::CSS,
            script: crate::SCRIPT,
            lang_href: format!(
                "/ui/idioma?lang={}&next={}",
                self.tr.lang.other().code(),
                form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
            ),
            notice: notice_of(&self.path),
            csrf: self.csrf(app),
            // A fresh key per page: a form sent twice from it is one submission.
            submission: auth::secret::random_secret().unwrap_or_default(),
            can_register: self.session.as_ref().is_some_and(|s| {
                auth::policy::matrix_allows(
                    s.requester.role(),
                    auth::category::Category::Demographic,
                    auth::scope::Interaction::Create,
                )
            }),
            can_report: self.session.as_ref().is_some_and(may_read_reports),
            can_queue: self.session.as_ref().is_some_and(|s| {
                s.requester.role().requires_clues() && !s.facility_clues.is_empty()
            }),
            can_census: self.session.as_ref().is_some_and(|s| {
                s.organization.is_some()
                    && auth::policy::matrix_allows(
                        s.requester.role(),
                        auth::category::Category::Clinical,
                        auth::scope::Interaction::Search,
                    )
            }),
            is_patient: self
                .session
                .as_ref()
                .is_some_and(|s| s.requester.role() == auth::role::Role::Patient),
        }
    }

    pub(crate) fn today(&self) -> i64 {
        dates::today(self.now_ms)
    }
}

/// What `base.html` needs.
pub struct Layout {
    pub tr: Tr,
    pub user: Option<SessionInfo>,
    pub sync: SyncStatus,
    pub title: &'static str,
    pub css: &'static str,
    pub script: &'static str,
    pub lang_href: String,
    pub notice: Option<&'static str>,
    /// The CSRF token of this page's forms (`templates/csrf.html` puts it in each one).
    pub csrf: String,
    /// The submission key of this page's forms (`templates/csrf.html`; `submissions.rs`).
    pub submission: String,
    /// The signed-in role may register patients (the "register" link is offered).
    pub can_register: bool,
    /// The signed-in role may read the public-health reports (the surveillance link).
    pub can_report: bool,
    /// The signed-in user is a facility's staff (the day's queue link).
    pub can_queue: bool,
    /// The signed-in user works at a facility and may read clinical content (the censo
    /// nominal link).
    pub can_census: bool,
    /// The signed-in user is a patient (their own page's link).
    pub is_patient: bool,
}

/// Whether the session's user may read the public-health reports (asked of the policy, so
/// the link is offered exactly to those the report would answer).
pub(crate) fn may_read_reports(session: &SessionInfo) -> bool {
    auth::policy::decide_operation(
        &session.requester.principal,
        auth::policy::Operation::ReadReports,
    )
    .is_permit()
}

/// Only known message keys may be shown from the URL (`?ok=…`).
fn notice_of(path: &str) -> Option<&'static str> {
    const NOTICES: [&str; 19] = [
        "queue.booked",
        "referrals.saved",
        "queue.checked_in",
        "queue.nobody",
        "queue.saved",
        "consult.saved",
        "refer.saved",
        "register.saved",
        "consult.addendum",
        "vitals.saved",
        "vaccine.saved",
        "allergies.saved",
        "problems.saved",
        "meds.saved",
        "care.started",
        "care.moved",
        "refer.counter_saved",
        "queue.cancelled",
        "queue.noshow_saved",
    ];
    let query = path.split_once('?')?.1;
    let value = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "ok")?
        .1;
    NOTICES.into_iter().find(|n| *n == value)
}

pub(crate) fn strip_lang_param(path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let kept: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k != "lang")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return base.to_string();
    }
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &kept {
        serializer.append_pair(k, v);
    }
    format!("{base}?{}", serializer.finish())
}

/// Longest `next` accepted: a page path with its query.
const NEXT_BYTES_MAX: usize = 512;

/// Where to go after sign-in or a language switch when `next` is refused.
const NEXT_DEFAULT: &str = "/ui/buscar";

/// A page of this UI to go back to after sign-in or a language switch: `/` or a path under
/// `/ui`, never another site. Browsers read `/\evil`, `/\t/evil` (tabs and newlines are
/// dropped) and `//evil` as other hosts, and decode `%2F`/`%5C` in some places, so only plain
/// path characters are accepted, and neither the text nor its percent-decoding may contain
/// `//`, `\\`, a control character or a `..` segment.
pub(crate) fn safe_next(next: &str) -> String {
    if is_local_page(next) {
        next.to_string()
    } else {
        NEXT_DEFAULT.to_string()
    }
}

fn is_local_page(next: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/-._~?=&%+,;:".contains(c);
    if next.is_empty() || next.len() > NEXT_BYTES_MAX || !next.chars().all(plain) {
        return false;
    }
    let decoded: Vec<u8> = percent_decode(next.as_bytes());
    let Ok(decoded) = std::str::from_utf8(&decoded) else {
        return false;
    };
    [next, decoded].iter().all(|text| {
        let path = text.split('?').next().unwrap_or_default();
        (path == "/" || path == "/ui" || path.starts_with("/ui/"))
            && !text.contains("//")
            && !text.contains('\\')
            && !text.chars().any(char::is_control)
            && !path.split('/').any(|segment| segment == "..")
    })
}

/// `%XX` sequences decoded once (others kept as they are).
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(idx + 1).copied().and_then(hex),
                bytes.get(idx + 2).copied().and_then(hex),
            )
        {
            out.push(hi * 16 + lo);
            idx += 3;
        } else {
            out.push(bytes[idx]);
            idx += 1;
        }
    }
    out
}

pub(crate) fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                // Patient data must not linger in shared clinic browsers' caches.
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::REFERRER_POLICY, "same-origin"),
            ],
            html,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error interno / Internal error",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    messages: Vec<String>,
    back: Option<String>,
}

pub(crate) fn error_page(
    app: &App,
    ctx: &Ctx,
    status: StatusCode,
    messages: Vec<String>,
) -> Response {
    render(
        &ErrorPage {
            layout: ctx.layout(app, "error.title"),
            messages,
            back: None,
        },
        status,
    )
}

/// An error page for a request refused before its handler (`guard.rs`).
pub(crate) fn refusal(
    app: &App,
    headers: &HeaderMap,
    uri: &Uri,
    ip: Option<std::net::IpAddr>,
    status: StatusCode,
    es: &str,
    en: &str,
) -> Response {
    let ctx = Ctx::new(app, headers, uri, ip);
    let message = ctx.tr.pick(es, en).to_string();
    error_page(app, &ctx, status, vec![message])
}

/// The error page for a failed read (what the user can do, never the validator's text).
pub(crate) fn ehr_error(app: &App, ctx: &Ctx, error: &ehr::Error) -> Response {
    let status = error_status(error);
    error_page(app, ctx, status, crate::messages::general(ctx.tr, error))
}

/// The error page for a report request: a refused parameter is the user's own form field
/// (a date, a month, a state), and the report's message says which and how to write it, so
/// it is shown as written; any other error as [`ehr_error`].
pub(crate) fn report_error(app: &App, ctx: &Ctx, error: &ehr::Error) -> Response {
    match error {
        ehr::Error::BadRequest(issues) if !issues.is_empty() => {
            let messages = issues
                .iter()
                .map(|i| ctx.tr.pick(&i.message_es, &i.message_en).to_string())
                .collect();
            error_page(app, ctx, error_status(error), messages)
        }
        _ => ehr_error(app, ctx, error),
    }
}

/// The name of the state a CLUES belongs to (its first two letters), for report tables.
pub(crate) fn state_of_clues(clues: &str) -> String {
    clues
        .get(..2)
        .and_then(mexico::states::by_curp_code)
        .map(|s| s.name.to_string())
        .unwrap_or_default()
}

/// The status of a page answering an `ehr` error (server errors are logged here).
pub(crate) fn error_status(error: &ehr::Error) -> StatusCode {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(?error, "ehr call failed");
    }
    status
}

/// Runs data calls on the blocking pool as the signed-in user (never as anyone else: without
/// a session there is no data).
pub(crate) async fn blocking<T, F>(app: &Arc<App>, ctx: &Ctx, f: F) -> Result<T, ehr::Error>
where
    T: Send + 'static,
    F: FnOnce(&data::Db) -> Result<T, ehr::Error> + Send + 'static,
{
    let Some(session) = &ctx.session else {
        return Err(ehr::Error::Unauthorized(fhir::Issue::error(
            fhir::IssueCode::Login,
            "Inicie sesión.",
            "Sign in.",
        )));
    };
    let db = data::Db::new(app.ehr.clone(), session.requester.clone());
    tokio::task::spawn_blocking(move || f(&db))
        .await
        .unwrap_or_else(|e| Err(ehr::Error::Internal(format!("blocking task failed: {e}"))))
}

pub(crate) fn to_login(ctx: &Ctx) -> Response {
    let next = form_urlencoded::byte_serialize(ctx.path.as_bytes()).collect::<String>();
    Redirect::to(&format!("/ui/entrar?next={next}")).into_response()
}

pub(crate) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

/// Our JSON value as the record's lossless JSON (the value came from our own builders).
pub(crate) fn to_json(value: &Value) -> fhir::Json {
    fhir::json::parse_str(&value.to_string()).unwrap_or(fhir::Json::Null)
}

// ---------------------------------------------------------------------------------------------
// Access to a record
// ---------------------------------------------------------------------------------------------

/// An active emergency access, as the patient header shows it.
#[derive(Clone, Debug)]
pub struct Emergency {
    /// `DD/MM/AAAA HH:MM` when it ends.
    pub until: String,
    pub reason: String,
}

/// The patient every patient page shows: the header, the one allergy banner, what the user may
/// do (so that nothing refused is offered), and an active emergency access.
#[derive(Clone, Debug)]
pub struct PatientView {
    pub header: chart::Header,
    pub banner: AllergyBanner,
    pub abilities: ehr::RecordAbilities,
    pub emergency: Option<Emergency>,
    /// Facility name and CLUES of the registration, when known.
    pub registered_at: String,
}

impl PatientView {
    /// The view of a patient, from the Patient and its AllergyIntolerance resources.
    pub(crate) fn new(
        patient: &Value,
        allergies: &[Value],
        abilities: ehr::RecordAbilities,
        session: Option<&SessionInfo>,
        now_ms: i64,
    ) -> PatientView {
        let id = patient["id"].as_str().unwrap_or_default();
        let emergency = session
            .and_then(|s| s.requester.principal.break_glass_for(id, now_ms))
            .map(|grant| Emergency {
                until: dates::display_instant(grant.expires_ms),
                reason: grant.reason.clone(),
            });
        PatientView {
            header: chart::header_of(patient, dates::today(now_ms)),
            banner: banner::of(allergies),
            abilities,
            emergency,
            registered_at: String::new(),
        }
    }
}

/// A patient page's data, once the session may read the record.
pub(crate) struct OpenRecord {
    pub session: SessionInfo,
    pub view: PatientView,
}

/// The patient, once the session may read the record; otherwise the response to send
/// (sign-in, the break-glass dialog, the patient's card for staff who may see only
/// demographics, not found). Every page about a patient comes through here, so every one shows
/// the same header, allergy banner and emergency-access notice.
pub(crate) async fn open_record(
    app: &Arc<App>,
    ctx: &Ctx,
    patient_id: &str,
) -> Result<OpenRecord, Response> {
    let Some(session) = ctx.session.clone() else {
        return Err(to_login(ctx));
    };
    // Demographics first (open to staff, to find and register people); then the record's
    // own access decision, made by `ehr` as for the API. The reads the page then makes are
    // decided and audited one by one.
    let id = patient_id.to_string();
    let loaded = blocking(app, ctx, move |db| {
        let patient = data::read(db, "Patient", &id)?;
        let abilities = data::abilities(db, &id)?;
        let registered_at = data::registered_at(db, &patient);
        Ok((patient, abilities, registered_at))
    })
    .await;
    let (patient, abilities, registered_at) = match loaded {
        Ok(found) => found,
        Err(error) => return Err(ehr_error(app, ctx, &error)),
    };
    match app.sessions.access(&session, patient_id) {
        Access::Allowed => {}
        Access::BreakGlassRequired => {
            return Err(access::break_glass_page(
                app,
                ctx,
                &patient,
                abilities,
                registered_at,
                String::new(),
                Vec::new(),
            ));
        }
        Access::Denied => {
            // Staff who may see the person but not the record (reception): their card.
            return Err(see_other(&format!("/ui/pacientes/{patient_id}/ficha")));
        }
    }
    let id = patient_id.to_string();
    let allergies = match blocking(app, ctx, move |db| data::allergies(db, &id)).await {
        Ok(found) => found,
        Err(error) => return Err(ehr_error(app, ctx, &error)),
    };
    let mut view = PatientView::new(&patient, &allergies, abilities, Some(&session), ctx.now_ms);
    view.registered_at = registered_at;
    Ok(OpenRecord { session, view })
}

/// The page for an action the record would refuse this user: no form to fill and lose, the
/// reason, and the way back.
pub(crate) fn not_offered(app: &App, ctx: &Ctx, patient_id: &str, key: &'static str) -> Response {
    render(
        &ErrorPage {
            layout: ctx.layout(app, "error.title"),
            messages: vec![ctx.tr.s(key).to_string()],
            back: Some(format!("/ui/pacientes/{patient_id}")),
        },
        StatusCode::FORBIDDEN,
    )
}

/// A resource reached through a patient's URL must be about that patient: the access check
/// was made for the patient, not for the resource id.
pub(crate) fn ensure_subject(resource: &Value, patient_id: &str) -> data::Result<()> {
    let reference = format!("Patient/{patient_id}");
    if resource["subject"]["reference"] == reference.as_str()
        || resource["patient"]["reference"] == reference.as_str()
    {
        Ok(())
    } else {
        Err(ehr::Error::NotFound(fhir::Issue::error(
            fhir::IssueCode::NotFound,
            "El recurso no pertenece al expediente de este paciente",
            "The resource is not in this patient's record",
        )))
    }
}

/// Plain text paragraphs of an XHTML narrative (tags dropped, entities decoded), so text from
/// other nodes is shown escaped, never as markup.
pub fn narrative_text(div: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for c in div.chars() {
        match c {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' if in_tag => {
                in_tag = false;
                let name = tag
                    .trim_start_matches('/')
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches('/');
                if matches!(name, "p" | "br" | "li" | "div" | "tr") && !current.trim().is_empty() {
                    paragraphs.push(current.trim().to_string());
                    current.clear();
                }
            }
            _ if in_tag => tag.push(c),
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        paragraphs.push(current.trim().to_string());
    }
    paragraphs
        .into_iter()
        .map(|p| {
            p.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}

pub(crate) fn bench_chart_html(
    db: &data::Db,
    patient_id: &str,
    now_ms: i64,
) -> data::Result<String> {
    let tr = Tr { lang: Lang::Es };
    let layout = Layout {
        tr,
        user: None,
        sync: (crate::no_sync())(),
        title: tr.s("timeline"),
        css: crate::CSS,
        script: crate::SCRIPT,
        lang_href: String::new(),
        notice: None,
        csrf: String::new(),
        submission: String::new(),
        can_register: false,
        can_report: false,
        can_census: false,
        can_queue: false,
        is_patient: false,
    };
    let today = dates::today(now_ms);
    let chart = record::load_chart(db, patient_id, today)?;
    let patient = data::read(db, "Patient", patient_id)?;
    let allergies = data::allergies(db, patient_id)?;
    let abilities = data::abilities(db, patient_id)?;
    let view = PatientView::new(&patient, &allergies, abilities, None, now_ms);
    record::chart_page(layout, view, chart, 1, String::new())
        .render()
        .map_err(|e| ehr::Error::Internal(e.to_string()))
}

#[cfg(test)]
mod tests;

/// `DD/MM/AAAA` of a day number, for templates (which pass arguments by reference).
pub fn day(days: &i64) -> String {
    dates::display(*days)
}

/// `DD/MM/AAAA HH:MM` of an instant, for templates.
pub fn instant(ms: &i64) -> String {
    dates::display_instant(*ms)
}
