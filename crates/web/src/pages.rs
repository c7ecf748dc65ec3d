//! The screens: one handler per route, each reading the session, calling `data` on the
//! blocking pool and rendering one askama template.
//!
//! Why forms and redirects: every action is a plain HTML form (works without JavaScript, on
//! any tablet browser); writes answer with a redirect (post/redirect/get) so a reload never
//! writes twice. Warnings that must come *before* a write (repeated lab test, possible
//! duplicate patient) re-render the form with the warning and a confirmation box.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use crate::chart::{self, Chart};
use crate::data;
use crate::dates;
use crate::forms::{self, ConsultForm, ReferForm, RegisterForm};
use crate::i18n::{Lang, Tr};
use crate::session::{self, Access, SessionInfo};
use crate::{App, SyncStatus};

/// Visits listed on the chart before "show all" (keeps the page within its byte budget).
pub const CHART_VISITS_SHOWN_MAX: usize = 60;

/// CIE-10 choices offered for one search.
pub const CIE_CHOICES_MAX: usize = 15;

/// Days back a lab result makes a new order a repeat.
pub const REPEAT_LAB_WINDOW_DAYS: i64 = 30;

const LANG_COOKIE: &str = "idioma";

/// Nothing is loaded from elsewhere, forms post only to the node, and no other site may frame
/// the UI (clickjacking). The inline style and script are ours (no user data in them).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

type AppState = State<Arc<App>>;

/// The request as every page sees it: language, session, path and the time; handlers take it
/// as an extractor.
pub(crate) struct Ctx {
    tr: Tr,
    session: Option<SessionInfo>,
    path: String,
    now_ms: i64,
    /// The client's address (audit trail, sign-in throttle).
    ip: Option<std::net::IpAddr>,
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
    fn ensure_pre_session(&mut self) {
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
    fn set_pre_session_cookie(&self, app: &App, response: &mut Response) {
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
        }
    }

    fn today(&self) -> i64 {
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
}

/// Only known message keys may be shown from the URL (`?ok=…`).
fn notice_of(path: &str) -> Option<&'static str> {
    const NOTICES: [&str; 4] = [
        "consult.saved",
        "refer.saved",
        "register.saved",
        "consult.addendum",
    ];
    let query = path.split_once('?')?.1;
    let value = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "ok")?
        .1;
    NOTICES.into_iter().find(|n| *n == value)
}

fn strip_lang_param(path: &str) -> String {
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

fn render(template: &impl Template, status: StatusCode) -> Response {
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

fn ehr_error(app: &App, ctx: &Ctx, error: &ehr::Error) -> Response {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(?error, "ehr call failed");
    }
    error_page(app, ctx, status, issue_messages(ctx.tr, &error.issues()))
}

fn issue_messages(tr: Tr, issues: &[fhir::Issue]) -> Vec<String> {
    issues
        .iter()
        .map(|i| tr.pick(&i.message_es, &i.message_en).to_string())
        .collect()
}

/// Runs a blocking `data` call off the async threads.
/// Runs data calls on the blocking pool as the signed-in user (never as anyone else: without
/// a session there is no data).
async fn blocking<T, F>(app: &Arc<App>, ctx: &Ctx, f: F) -> Result<T, ehr::Error>
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

fn to_login(ctx: &Ctx) -> Response {
    let next = form_urlencoded::byte_serialize(ctx.path.as_bytes()).collect::<String>();
    Redirect::to(&format!("/ui/entrar?next={next}")).into_response()
}

fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

// ---------------------------------------------------------------------------------------------
// Sign-in, sign-out, language
// ---------------------------------------------------------------------------------------------

/// # `GET /`
pub async fn home(ctx: Ctx) -> Response {
    if ctx.session.is_some() {
        see_other("/ui/buscar")
    } else {
        see_other("/ui/entrar")
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    error: Option<String>,
    next: String,
    user: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

/// # `GET /ui/entrar`
pub async fn login_form(
    State(app): AppState,
    mut ctx: Ctx,
    Query(query): Query<NextQuery>,
) -> Response {
    ctx.ensure_pre_session();
    let mut response = render(
        &LoginPage {
            layout: ctx.layout(&app, "login.title"),
            error: None,
            next: safe_next(&query.next),
            user: String::new(),
        },
        StatusCode::OK,
    );
    ctx.set_pre_session_cookie(&app, &mut response);
    response
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    user: String,
    password: String,
    next: String,
}

/// # `POST /ui/entrar`
///
/// The same sign-in as the API's token endpoint (`ehr::Ehr::sign_in`: per-address and per-name
/// throttle, password checks off the async workers, the client address in the audit trail);
/// on success a UI session (see `session.rs`), never an API token.
pub async fn login(
    State(app): AppState,
    mut ctx: Ctx,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let username = form.user.trim();
    let outcome = match app.ehr.sign_in(username, &form.password, ctx.ip).await {
        Ok(account) => app.sessions.open(&account, ctx.ip, ctx.now_ms),
        Err(error) => Err(session::LoginError::of_sign_in(&error)),
    };
    match outcome {
        Ok(info) => {
            // Signing in again in this browser ends its previous session (another user's,
            // perhaps), rather than leaving it open on the server until it times out.
            if let Some(previous) = &ctx.session {
                app.sessions.logout(previous);
            }
            let mut response = see_other(&safe_next(&form.next));
            if let Ok(cookie) = HeaderValue::from_str(&session::session_cookie(
                &info.secret,
                app.config.secure_cookies,
            )) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => {
            ctx.ensure_pre_session();
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let message = ctx
                .tr
                .pick(&error.message_es(), &error.message_en())
                .to_string();
            let mut response = render(
                &LoginPage {
                    layout: ctx.layout(&app, "login.title"),
                    error: Some(message),
                    next: safe_next(&form.next),
                    user: form.user,
                },
                status,
            );
            ctx.set_pre_session_cookie(&app, &mut response);
            if let session::LoginError::Throttled(seconds) = error
                && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

/// # `POST /ui/salir`
pub async fn logout(State(app): AppState, ctx: Ctx) -> Response {
    if let Some(session) = &ctx.session {
        app.sessions.logout(session);
    }
    let mut response = see_other("/ui/entrar");
    if let Ok(cookie) =
        HeaderValue::from_str(&session::clear_session_cookie(app.config.secure_cookies))
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LanguageQuery {
    lang: String,
    next: String,
}

/// # `GET /ui/idioma?lang=en&next=/ui/…`
pub async fn language(Query(query): Query<LanguageQuery>) -> Response {
    let lang = Lang::parse(&query.lang).unwrap_or_default();
    let mut response = see_other(&safe_next(&query.next));
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Strict",
        lang.code()
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Find a patient
// ---------------------------------------------------------------------------------------------

/// One patient in a result list.
pub struct PatientRow {
    pub id: String,
    pub name: String,
    pub curp: String,
    pub birth: String,
    pub registered_at: String,
    /// Message key of the match grade.
    pub grade: Option<&'static str>,
    pub duplicate: bool,
}

fn grade_key(grade: &str) -> &'static str {
    match grade {
        "certain" => "find.grade.certain",
        "probable" => "find.grade.probable",
        _ => "find.grade.possible",
    }
}

/// Rows for patients: facility names and open duplicate reviews looked up.
fn patient_rows(
    ehr: &data::Db,
    patients: Vec<(Value, Option<&'static str>)>,
) -> data::Result<Vec<PatientRow>> {
    let facilities = data::facilities(
        ehr,
        patients.iter().filter_map(|(p, _)| {
            p["managingOrganization"]["reference"]
                .as_str()
                .map(str::to_string)
        }),
    )?;
    let mut rows = Vec::new();
    for (patient, grade) in patients {
        let id = patient["id"].as_str().unwrap_or_default().to_string();
        let duplicate = data::open_duplicate_reviews(ehr, &id)? > 0;
        let registered_at = patient["managingOrganization"]["reference"]
            .as_str()
            .and_then(|r| facilities.get(r))
            .map(|f| format!("{} ({})", f.name, f.clues))
            .unwrap_or_default();
        rows.push(PatientRow {
            name: chart::name_of(&patient),
            curp: chart::curp_of(&patient).unwrap_or_default(),
            birth: dates::display_text(patient["birthDate"].as_str().unwrap_or_default()),
            registered_at,
            grade: grade.map(grade_key),
            duplicate,
            id,
        });
    }
    Ok(rows)
}

#[derive(Template)]
#[template(path = "find.html")]
struct FindPage {
    layout: Layout,
    curp: String,
    curp_status: String,
    given: String,
    surnames: String,
    birth_date: String,
    errors: Vec<String>,
    searched: bool,
    rows: Vec<PatientRow>,
    register_href: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FindQuery {
    curp: String,
    given: String,
    surnames: String,
    birth_date: String,
}

/// The CURP check as a small HTML fragment (also the no-JS status under the field).
fn curp_status_html(tr: Tr, input: &str) -> String {
    if input.trim().is_empty() {
        return String::new();
    }
    let check = data::check_curp(input);
    if check.valid {
        let state = check.birth_state_name.unwrap_or_default();
        let birth = check
            .birth_date
            .as_deref()
            .map(dates::display_text)
            .unwrap_or_default();
        let sex = check.gender.map(|g| tr.gender(g)).unwrap_or_default();
        format!(
            "<span class=\"ok-text\">✔ {} · {} · {}</span>",
            forms::escape_html(&birth),
            forms::escape_html(sex),
            forms::escape_html(state)
        )
    } else {
        let problems: Vec<String> = check
            .errors
            .iter()
            .map(|p| forms::escape_html(tr.pick(&p.message_es, &p.message_en)))
            .collect();
        if problems.is_empty() {
            String::new()
        } else {
            format!("<span class=\"error\">{}</span>", problems.join(" · "))
        }
    }
}

/// # `GET /ui/curp?curp=…` (fragment for the as-you-type check)
pub async fn curp_fragment(ctx: Ctx, Query(query): Query<FindQuery>) -> Response {
    if ctx.session.is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        curp_status_html(ctx.tr, &query.curp),
    )
        .into_response()
}

/// # `GET /ui/buscar`
pub async fn find(State(app): AppState, ctx: Ctx, Query(query): Query<FindQuery>) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let mut errors = Vec::new();
    let mut searched = false;
    let mut rows = Vec::new();
    let curp = query.curp.trim().to_string();
    if !curp.is_empty() {
        searched = true;
        let check = data::check_curp(&curp);
        if check.valid {
            let normalized = check.normalized.clone();
            let found = blocking(&app, &ctx, move |ehr| {
                let patients = data::find_by_curp(ehr, &normalized)?;
                patient_rows(ehr, patients.into_iter().map(|p| (p, None)).collect())
            })
            .await;
            match found {
                Ok(found) => rows = found,
                Err(error) => return ehr_error(&app, &ctx, &error),
            }
        } else {
            errors.push(ctx.tr.s("find.curp_invalid").to_string());
            errors.extend(
                check
                    .errors
                    .iter()
                    .map(|p| ctx.tr.pick(&p.message_es, &p.message_en).to_string()),
            );
        }
    } else if !query.surnames.trim().is_empty() || !query.given.trim().is_empty() {
        searched = true;
        if query.surnames.trim().is_empty() || query.birth_date.trim().is_empty() {
            errors.push(ctx.tr.s("find.need_name").to_string());
        } else {
            let form = RegisterForm {
                given: query.given.clone(),
                first_surname: query.surnames.clone(),
                birth_date: query.birth_date.clone(),
                ..RegisterForm::default()
            };
            let mut patient = form.patient(None);
            if let Some(object) = patient.as_object_mut() {
                // What was typed is a search, not a registration: no "CURP pending" flag, and
                // an unknown sex must not count against candidates.
                object.remove("extension");
                object.remove("gender");
                object.remove("active");
            }
            let found = blocking(&app, &ctx, move |ehr| {
                let candidates = data::match_patients(ehr, to_json(&patient))?;
                patient_rows(
                    ehr,
                    candidates
                        .into_iter()
                        .map(|c| (c.patient, Some(c.grade)))
                        .collect(),
                )
            })
            .await;
            match found {
                Ok(found) => rows = found,
                Err(ehr::Error::Unprocessable(issues) | ehr::Error::BadRequest(issues)) => {
                    errors.extend(issue_messages(ctx.tr, &issues));
                }
                Err(error) => return ehr_error(&app, &ctx, &error),
            }
        }
    }
    let mut register = form_urlencoded::Serializer::new(String::new());
    register
        .append_pair("given", query.given.trim())
        .append_pair("first_surname", query.surnames.trim())
        .append_pair("birth_date", query.birth_date.trim())
        .append_pair("curp", &curp);
    render(
        &FindPage {
            layout: ctx.layout(&app, "find.title"),
            curp_status: curp_status_html(ctx.tr, &curp),
            curp,
            given: query.given,
            surnames: query.surnames,
            birth_date: query.birth_date,
            errors,
            searched,
            rows,
            register_href: format!("/ui/pacientes/nuevo?{}", register.finish()),
        },
        StatusCode::OK,
    )
}

/// Our JSON value as the record's lossless JSON (the value came from our own builders).
fn to_json(value: &Value) -> fhir::Json {
    fhir::json::parse_str(&value.to_string()).unwrap_or(fhir::Json::Null)
}

// ---------------------------------------------------------------------------------------------
// Access to a record
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "break_glass.html")]
struct BreakGlassPage {
    layout: Layout,
    patient_id: String,
    errors: Vec<String>,
}

/// The patient, once the session may read the record; otherwise the response to send
/// (sign-in, break-glass dialog, refusal, not found).
async fn open_record(
    app: &Arc<App>,
    ctx: &Ctx,
    patient_id: &str,
) -> Result<(SessionInfo, Value), Response> {
    let Some(session) = ctx.session.clone() else {
        return Err(to_login(ctx));
    };
    // Demographics first (open to staff, to find and register people); then the record's
    // own access decision, made by `ehr` as for the API. The reads the page then makes are
    // decided and audited one by one.
    let id = patient_id.to_string();
    let patient = match blocking(app, ctx, move |ehr| data::read(ehr, "Patient", &id)).await {
        Ok(patient) => patient,
        Err(error) => return Err(ehr_error(app, ctx, &error)),
    };
    match app.sessions.access(&session, patient_id) {
        Access::Allowed => Ok((session, patient)),
        Access::BreakGlassRequired => Err(render(
            &BreakGlassPage {
                layout: ctx.layout(app, "bg.title"),
                patient_id: patient_id.to_string(),
                errors: Vec::new(),
            },
            StatusCode::FORBIDDEN,
        )),
        Access::Denied => Err(error_page(
            app,
            ctx,
            StatusCode::FORBIDDEN,
            vec![ctx.tr.s("access.denied").to_string()],
        )),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReasonForm {
    reason: String,
}

/// # `POST /ui/pacientes/{id}/acceso-emergencia`
pub async fn break_glass(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ReasonForm>,
) -> Response {
    let Some(session) = ctx.session.clone() else {
        return to_login(&ctx);
    };
    if form.reason.trim().is_empty() {
        return render(
            &BreakGlassPage {
                layout: ctx.layout(&app, "bg.title"),
                patient_id: id,
                errors: vec![ctx.tr.s("bg.reason.required").to_string()],
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match app
        .sessions
        .break_glass(&session, &id, form.reason.trim(), ctx.now_ms)
    {
        Ok(()) => see_other(&format!("/ui/pacientes/{id}")),
        Err(error) => error_page(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            vec![
                ctx.tr
                    .pick(&error.message_es, &error.message_en)
                    .to_string(),
            ],
        ),
    }
}

#[derive(Template)]
#[template(path = "access_log.html")]
struct AccessLogPage {
    layout: Layout,
    header: chart::Header,
    allergies: Vec<chart::Allergy>,
    entries: Vec<session::AccessLogEntry>,
}

/// # `GET /ui/pacientes/{id}/bitacora`
pub async fn access_log(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let (session, patient) = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let entries = app.sessions.access_log(&session, &id);
    render(
        &AccessLogPage {
            layout: ctx.layout(&app, "access.log"),
            header: chart::header_of(&patient, ctx.today()),
            allergies: Vec::new(),
            entries,
        },
        StatusCode::OK,
    )
}

// ---------------------------------------------------------------------------------------------
// The chart and the printable summary
// ---------------------------------------------------------------------------------------------

/// A trend ready to draw.
pub struct TrendView {
    pub id: String,
    pub key: &'static str,
    pub unit: &'static str,
    pub latest: String,
    pub latest_date: String,
    /// WHO percentile band of the latest value (children under five), e.g. "P15–P50".
    pub band: String,
    pub svg: String,
}

fn trend_views(chart: &Chart) -> Vec<TrendView> {
    chart
        .series
        .iter()
        .filter_map(|series| {
            let (day, value) = *series.points.last()?;
            // Children under five: weight and height over the WHO percentile curves, and the
            // band of the latest measurement next to it (the chart itself is decorative).
            let measure = match series.trend.key {
                "trend.weight" => Some(crate::growth::Measure::Weight),
                "trend.height" => Some(crate::growth::Measure::Height),
                "trend.bmi" => Some(crate::growth::Measure::Bmi),
                _ => None,
            };
            let growth = measure
                .zip(chart.header.birth_day)
                .and_then(|(measure, born)| {
                    let svg =
                        crate::growth::chart(measure, &chart.header.gender, born, &series.points)?;
                    let band = crate::growth::band(measure, &chart.header.gender, born, day, value);
                    Some((svg, band))
                });
            let (svg, band) = match growth {
                Some((svg, band)) => (svg, band.map(|b| format!("{b} OMS")).unwrap_or_default()),
                None => (crate::svg::line_chart(&series.points), String::new()),
            };
            Some(TrendView {
                id: series.trend.key.replace('.', "-"),
                key: series.trend.key,
                unit: series.trend.unit,
                latest: format_number(value),
                latest_date: dates::display(day),
                band,
                svg,
            })
        })
        .collect()
}

fn format_number(value: f64) -> String {
    chart::format_value(value)
}

/// Loads and builds the chart (blocking).
pub fn load_chart(ehr: &data::Db, patient_id: &str, today: i64) -> data::Result<Chart> {
    let resources = data::everything(ehr, patient_id)?;
    let facilities = data::facilities(ehr, chart::facility_references(&resources))?;
    Ok(chart::build(patient_id, &resources, &facilities, today))
}

#[derive(Template)]
#[template(path = "chart.html")]
pub struct ChartPage {
    pub layout: Layout,
    pub chart: Chart,
    pub trends: Vec<TrendView>,
    pub truncated: bool,
    /// Open "possible duplicate" reviews about this patient (an alert in the header).
    pub duplicate_reviews: usize,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChartQuery {
    todas: Option<String>,
}

/// Renders a chart page (also used by the benchmark).
pub fn chart_page(layout: Layout, mut chart: Chart, show_all: bool) -> ChartPage {
    let truncated = chart.resource_count >= data::CHART_RESOURCES_MAX
        || (!show_all && chart.visits.len() > CHART_VISITS_SHOWN_MAX);
    if !show_all {
        chart.visits.truncate(CHART_VISITS_SHOWN_MAX);
    }
    let trends = trend_views(&chart);
    ChartPage {
        layout,
        chart,
        trends,
        truncated,
        duplicate_reviews: 0,
    }
}

/// # `GET /ui/pacientes/{id}`
pub async fn chart(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(query): Query<ChartQuery>,
) -> Response {
    if let Err(response) = open_record(&app, &ctx, &id).await {
        return response;
    }
    let today = ctx.today();
    let loaded = blocking(&app, &ctx, move |ehr| {
        Ok((
            load_chart(ehr, &id, today)?,
            data::open_duplicate_reviews(ehr, &id)?,
        ))
    })
    .await;
    match loaded {
        Ok((chart, duplicate_reviews)) => {
            let mut page = chart_page(ctx.layout(&app, "timeline"), chart, query.todas.is_some());
            page.duplicate_reviews = duplicate_reviews;
            render(&page, StatusCode::OK)
        }
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

#[derive(Template)]
#[template(path = "summary.html")]
struct SummaryPage {
    layout: Layout,
    chart: Chart,
    trends: Vec<TrendView>,
    generated: String,
    facility: String,
}

/// # `GET /ui/pacientes/{id}/resumen`
pub async fn summary(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let session = match open_record(&app, &ctx, &id).await {
        Ok((session, _)) => session,
        Err(response) => return response,
    };
    let today = ctx.today();
    match blocking(&app, &ctx, move |ehr| load_chart(ehr, &id, today)).await {
        Ok(chart) => {
            let trends = trend_views(&chart);
            render(
                &SummaryPage {
                    layout: ctx.layout(&app, "summary.title"),
                    chart,
                    trends,
                    generated: dates::display_instant(ctx.now_ms),
                    facility: format!("{} ({})", session.facility_name, session.facility_clues),
                },
                StatusCode::OK,
            )
        }
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

// ---------------------------------------------------------------------------------------------
// Register a patient
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    form: RegisterForm,
    states: Vec<(&'static str, &'static str)>,
    curp_status: String,
    implied_prefix: Option<String>,
    mismatch: String,
    duplicates: Vec<PatientRow>,
    errors: Vec<String>,
    reviewed: &'static str,
}

fn states() -> Vec<(&'static str, &'static str)> {
    mexico::states::STATES
        .iter()
        .map(|s| (s.curp_code, s.name))
        .collect()
}

fn register_page(ctx: &Ctx, app: &App, form: RegisterForm) -> RegisterPage {
    RegisterPage {
        layout: ctx.layout(app, "register.title"),
        curp_status: curp_status_html(ctx.tr, &form.curp),
        form,
        states: states(),
        implied_prefix: None,
        mismatch: String::new(),
        duplicates: Vec::new(),
        errors: Vec::new(),
        reviewed: "",
    }
}

/// # `GET /ui/pacientes/nuevo`
pub async fn register_form(
    State(app): AppState,
    ctx: Ctx,
    Query(form): Query<RegisterForm>,
) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    render(&register_page(&ctx, &app, form), StatusCode::OK)
}

/// Positions (1-based) where the typed CURP disagrees with the prefix the data imply.
fn curp_mismatch(curp: &str, prefix: &str) -> Vec<usize> {
    curp.chars()
        .zip(prefix.chars())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i + 1)
        .collect()
}

/// # `POST /ui/pacientes/nuevo`
pub async fn register(
    State(app): AppState,
    ctx: Ctx,
    axum::Form(form): axum::Form<RegisterForm>,
) -> Response {
    let Some(session) = ctx.session.clone() else {
        return to_login(&ctx);
    };
    let mut page = register_page(&ctx, &app, form.clone());
    page.reviewed = "1";
    let curp = mexico::curp::normalize(&form.curp);
    let curp_check = data::check_curp(&curp);
    if !curp.is_empty() && !curp_check.valid {
        page.errors.push(ctx.tr.s("find.curp_invalid").to_string());
        page.errors.extend(
            curp_check
                .errors
                .iter()
                .map(|p| ctx.tr.pick(&p.message_es, &p.message_en).to_string()),
        );
    }
    page.implied_prefix = form.implied_curp_prefix();
    if let Some(prefix) = &page.implied_prefix
        && curp_check.valid
    {
        page.mismatch = curp_mismatch(&curp, prefix)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
    }
    let patient = form.patient(session.organization.as_deref());
    let mut probe = patient.clone();
    if let Some(object) = probe.as_object_mut() {
        object.remove("extension");
    }
    let candidates = blocking(&app, &ctx, move |ehr| {
        match data::match_patients(ehr, to_json(&probe)) {
            Ok(candidates) => patient_rows(
                ehr,
                candidates
                    .into_iter()
                    .map(|c| (c.patient, Some(c.grade)))
                    .collect(),
            ),
            // Too little typed to match yet: no duplicates to show.
            Err(ehr::Error::Unprocessable(_) | ehr::Error::BadRequest(_)) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    })
    .await;
    match candidates {
        Ok(rows) => page.duplicates = rows,
        Err(error) => return ehr_error(&app, &ctx, &error),
    }
    let duplicates_cleared = page.duplicates.is_empty() || form.not_duplicate.is_some();
    if form.action != "save" || !page.errors.is_empty() || !duplicates_cleared {
        return render(&page, StatusCode::OK);
    }
    let created = blocking(&app, &ctx, move |ehr| {
        data::create(ehr, "Patient", to_json(&patient))
    })
    .await;
    match created {
        Ok((id, _warnings)) => see_other(&format!("/ui/pacientes/{id}?ok=register.saved")),
        Err(
            ehr::Error::Unprocessable(issues)
            | ehr::Error::BadRequest(issues)
            | ehr::Error::Conflict(issues),
        ) => {
            page.errors.extend(issue_messages(ctx.tr, &issues));
            render(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

// ---------------------------------------------------------------------------------------------
// Consultation (nota de evolución) and addenda
// ---------------------------------------------------------------------------------------------

pub struct LabChoice {
    pub code: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// A result that makes an order a repeat.
pub struct RepeatLab {
    pub test: &'static str,
    pub result: String,
    pub date: String,
    pub clinic: String,
}

#[derive(Template)]
#[template(path = "consult.html")]
struct ConsultPage {
    layout: Layout,
    header: chart::Header,
    allergies: Vec<chart::Allergy>,
    form: ConsultForm,
    diagnosis: Option<(String, String)>,
    searched_cie: bool,
    cie_choices: Vec<(String, String)>,
    labs: Vec<LabChoice>,
    repeats: Vec<RepeatLab>,
    errors: Vec<String>,
}

fn allergies_of(ehr: &data::Db, patient_id: &str, today: i64) -> data::Result<Vec<chart::Allergy>> {
    // The allergy banner must be on every screen about the patient (NOM-004 safety).
    let resources = data::everything(ehr, patient_id)?;
    Ok(chart::build(patient_id, &resources, &HashMap::new(), today).allergies)
}

fn consult_page(
    ctx: &Ctx,
    app: &App,
    header: chart::Header,
    allergies: Vec<chart::Allergy>,
    form: ConsultForm,
) -> ConsultPage {
    let labs = forms::LAB_TESTS
        .iter()
        .map(|t| LabChoice {
            code: t.code,
            label: ctx.tr.pick(t.es, t.en),
            checked: form.has_lab(t.code),
        })
        .collect();
    ConsultPage {
        layout: ctx.layout(app, "consult.title"),
        header,
        allergies,
        form,
        diagnosis: None,
        searched_cie: false,
        cie_choices: Vec::new(),
        labs,
        repeats: Vec::new(),
        errors: Vec::new(),
    }
}

/// # `GET /ui/pacientes/{id}/consulta`
pub async fn consult_form(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let patient = match open_record(&app, &ctx, &id).await {
        Ok((_, patient)) => patient,
        Err(response) => return response,
    };
    let today = ctx.today();
    let allergies = match blocking(&app, &ctx, move |ehr| allergies_of(ehr, &id, today)).await {
        Ok(a) => a,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let page = consult_page(
        &ctx,
        &app,
        chart::header_of(&patient, today),
        allergies,
        ConsultForm::default(),
    );
    render(&page, StatusCode::OK)
}

/// Parses an urlencoded body with repeated `lab` fields into the consultation form.
fn parse_consult_form(body: &[u8]) -> ConsultForm {
    let mut object = serde_json::Map::new();
    let mut labs = Vec::new();
    for (key, value) in form_urlencoded::parse(body) {
        if key == "lab" {
            labs.push(value.into_owned());
        } else {
            object.insert(key.into_owned(), Value::String(value.into_owned()));
        }
    }
    let mut form: ConsultForm = serde_json::from_value(Value::Object(object)).unwrap_or_default();
    form.labs = labs;
    form
}

/// CIE-10 entries for what was typed. When every word together finds nothing (clinicians
/// write "diabetes tipo 2", the catalog says "no insulinodependiente"), the longest word alone
/// is tried, so the list is rarely empty.
fn cie10_choices(query: &str) -> Vec<(String, String)> {
    let mut found = mexico::cie10::search_cie10(query);
    if found.is_empty()
        && let Some(longest) = query.split_whitespace().max_by_key(|w| w.chars().count())
        && longest.chars().count() >= 4
    {
        found = mexico::cie10::search_cie10(longest);
    }
    found
        .into_iter()
        .take(CIE_CHOICES_MAX)
        .map(|e| (e.code.to_string(), e.description.to_string()))
        .collect()
}

/// Lab results of the last 30 days, anywhere, for the tests being ordered (blocking).
fn repeated_labs(
    ehr: &data::Db,
    patient_id: &str,
    ordered: &[String],
    since: &str,
    tr: Tr,
) -> data::Result<Vec<RepeatLab>> {
    let mut out = Vec::new();
    for code in ordered {
        let Some(test) = forms::lab_test(code) else {
            continue;
        };
        let results = data::recent_results(ehr, patient_id, test.result_codes, since)?;
        for observation in results {
            // The clinic is the facility of the encounter where the sample was taken.
            let mut clinic = String::new();
            if let Some(encounter_id) = observation["encounter"]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Encounter/"))
                && let Ok(encounter) = data::read(ehr, "Encounter", encounter_id)
                && let Some(org) = encounter["serviceProvider"]["reference"].as_str()
            {
                let facilities = data::facilities(ehr, [org.to_string()])?;
                if let Some(f) = facilities.get(org) {
                    clinic = format!("{} ({})", f.name, f.clues);
                }
            }
            let value = &observation["valueQuantity"];
            let result = match value["value"].as_f64() {
                Some(v) => format!(
                    "{} {} {}",
                    observation["code"]["text"].as_str().unwrap_or_default(),
                    format_number(v),
                    value["unit"].as_str().unwrap_or_default()
                ),
                None => observation["code"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            };
            out.push(RepeatLab {
                test: tr.pick(test.es, test.en),
                result: result.trim().to_string(),
                date: observation["effectiveDateTime"]
                    .as_str()
                    .map(dates::display_text)
                    .unwrap_or_default(),
                clinic,
            });
        }
    }
    Ok(out)
}

/// # `POST /ui/pacientes/{id}/consulta`
pub async fn consult(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (session, patient) = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let form = parse_consult_form(&body);
    let today = ctx.today();
    let since = dates::iso(today - REPEAT_LAB_WINDOW_DAYS);
    let (pid, labs, tr) = (id.clone(), form.labs.clone(), ctx.tr);
    let loaded = blocking(&app, &ctx, move |ehr| {
        let allergies = allergies_of(ehr, &pid, today)?;
        let repeats = repeated_labs(ehr, &pid, &labs, &since, tr)?;
        Ok((allergies, repeats))
    })
    .await;
    let (allergies, repeats) = match loaded {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let mut page = consult_page(
        &ctx,
        &app,
        chart::header_of(&patient, today),
        allergies,
        form.clone(),
    );
    page.repeats = repeats;
    // The diagnosis: a chosen code, or the query when it is itself a catalog code.
    let chosen = [form.dx_code.as_str(), form.dx_query.as_str()]
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .find_map(mexico::cie10::lookup_cie10);
    page.diagnosis = chosen.map(|e| (e.code.to_string(), e.description.to_string()));
    if form.action == "cie10" || (chosen.is_none() && !form.dx_query.trim().is_empty()) {
        page.searched_cie = true;
        page.cie_choices = cie10_choices(&form.dx_query);
    }
    if let (Ok(systolic), Ok(diastolic)) = (
        form.systolic.trim().parse::<f64>(),
        form.diastolic.trim().parse::<f64>(),
    ) && systolic < diastolic
    {
        page.errors.push(ctx.tr.s("vitals.bp_order").to_string());
    }
    if form.action != "sign" {
        return render(&page, StatusCode::OK);
    }
    if !page.errors.is_empty() {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let Some(entry) = chosen else {
        page.errors
            .push(ctx.tr.s("consult.dx_required").to_string());
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    if !page.repeats.is_empty() && form.confirm_repeat.is_none() {
        // Warned before the order is sent: the clinician must confirm.
        return render(&page, StatusCode::OK);
    }
    let now = dates::instant_mexico(ctx.now_ms);
    let bundle = forms::consultation_bundle(&forms::ConsultInput {
        patient_id: &id,
        form: &form,
        diagnosis: Some((entry.code, entry.description)),
        session: &session,
        now: &now,
    });
    match blocking(&app, &ctx, move |ehr| {
        data::transaction(ehr, &to_json(&bundle))
    })
    .await
    {
        Ok(_) => see_other(&format!("/ui/pacientes/{id}?ok=consult.saved#timeline")),
        Err(ehr::Error::Unprocessable(issues) | ehr::Error::BadRequest(issues)) => {
            page.errors.extend(issue_messages(ctx.tr, &issues));
            render(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

/// A resource reached through a patient's URL must be about that patient: the access check
/// was made for the patient, not for the resource id.
fn ensure_subject(resource: &Value, patient_id: &str) -> data::Result<()> {
    if resource["subject"]["reference"] == format!("Patient/{patient_id}").as_str() {
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

pub struct AddendumView {
    pub author: String,
    pub date: String,
    pub text: Vec<String>,
}

#[derive(Template)]
#[template(path = "note.html")]
struct NotePage {
    layout: Layout,
    header: chart::Header,
    allergies: Vec<chart::Allergy>,
    note_id: String,
    title: String,
    author: String,
    date: String,
    facility: String,
    sections: Vec<(String, Vec<String>)>,
    addenda: Vec<AddendumView>,
}

/// # `GET /ui/pacientes/{id}/notas/{note}`
pub async fn note(
    State(app): AppState,
    ctx: Ctx,
    Path((id, note_id)): Path<(String, String)>,
) -> Response {
    let patient = match open_record(&app, &ctx, &id).await {
        Ok((_, patient)) => patient,
        Err(response) => return response,
    };
    let today = ctx.today();
    let (pid, nid) = (id.clone(), note_id.clone());
    let loaded = blocking(&app, &ctx, move |ehr| {
        let resources = data::everything(ehr, &pid)?;
        let chart = chart::build(&pid, &resources, &HashMap::new(), today);
        let note = resources
            .iter()
            .find(|r| r["resourceType"] == "Composition" && r["id"] == nid.as_str())
            .cloned()
            .ok_or_else(|| {
                ehr::Error::NotFound(fhir::Issue::error(
                    fhir::IssueCode::NotFound,
                    "La nota no existe en el expediente de este paciente",
                    "The note is not in this patient's record",
                ))
            })?;
        let target = format!("Composition/{nid}");
        let addenda: Vec<Value> = resources
            .iter()
            .filter(|r| {
                r["resourceType"] == "Composition"
                    && r["relatesTo"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|rel| rel["targetReference"]["reference"] == target.as_str())
            })
            .cloned()
            .collect();
        Ok((chart.allergies, note, addenda))
    })
    .await;
    let (allergies, note, mut addenda) = match loaded {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    addenda.sort_by(|a, b| a["date"].as_str().cmp(&b["date"].as_str()));
    let sections = note["section"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["title"].as_str().unwrap_or_default().to_string(),
                narrative_text(s["text"]["div"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    let addenda = addenda
        .iter()
        .map(|a| AddendumView {
            author: a["author"][0]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            date: a["date"]
                .as_str()
                .map(dates::display_text)
                .unwrap_or_default(),
            text: a["section"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| narrative_text(s["text"]["div"].as_str().unwrap_or_default()))
                .collect(),
        })
        .collect();
    render(
        &NotePage {
            layout: ctx.layout(&app, "consult.note"),
            header: chart::header_of(&patient, today),
            allergies,
            note_id,
            title: note["title"].as_str().unwrap_or_default().to_string(),
            author: note["author"][0]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            date: note["date"]
                .as_str()
                .map(dates::display_text)
                .unwrap_or_default(),
            facility: note["custodian"]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            sections,
            addenda,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TextForm {
    text: String,
}

/// # `POST /ui/pacientes/{id}/notas/{note}/addendum`
pub async fn add_addendum(
    State(app): AppState,
    ctx: Ctx,
    Path((id, note_id)): Path<(String, String)>,
    axum::Form(form): axum::Form<TextForm>,
) -> Response {
    let session = match open_record(&app, &ctx, &id).await {
        Ok((session, _)) => session,
        Err(response) => return response,
    };
    if form.text.trim().is_empty() {
        return see_other(&format!("/ui/pacientes/{id}/notas/{note_id}"));
    }
    let now = dates::instant_mexico(ctx.now_ms);
    let (pid, nid) = (id.clone(), note_id.clone());
    let written = blocking(&app, &ctx, move |ehr| {
        let note = data::read(ehr, "Composition", &nid)?;
        ensure_subject(&note, &pid)?;
        let addendum = forms::addendum(&pid, &note, &nid, form.text.trim(), &session, &now);
        data::create(ehr, "Composition", to_json(&addendum))
    })
    .await;
    match written {
        Ok(_) => see_other(&format!(
            "/ui/pacientes/{id}/notas/{note_id}?ok=consult.addendum"
        )),
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

// ---------------------------------------------------------------------------------------------
// Referral (nota de referencia) and counter-referral
// ---------------------------------------------------------------------------------------------

/// Message key of a referral status.
pub fn referral_key(status: &str) -> &'static str {
    match status {
        "active" | "draft" | "on-hold" => "refer.status.active",
        "completed" => "refer.status.completed",
        "revoked" | "entered-in-error" => "refer.status.revoked",
        _ => "refer.status.other",
    }
}

pub fn referral_class(status: &str) -> &'static str {
    match status {
        "completed" => "ok",
        "revoked" | "entered-in-error" => "muted",
        _ => "warn",
    }
}

#[derive(Template)]
#[template(path = "refer.html")]
struct ReferPage {
    layout: Layout,
    header: chart::Header,
    allergies: Vec<chart::Allergy>,
    from: String,
    facilities: Vec<data::Facility>,
    problems: Vec<(String, String)>,
    form: ReferForm,
    errors: Vec<String>,
}

async fn refer_page(
    app: &Arc<App>,
    ctx: &Ctx,
    session: &SessionInfo,
    patient: &Value,
    id: &str,
    form: ReferForm,
) -> Result<ReferPage, Response> {
    let today = ctx.today();
    let (pid, own) = (id.to_string(), session.organization.clone());
    let loaded = blocking(app, ctx, move |ehr| {
        let resources = data::everything(ehr, &pid)?;
        let chart = chart::build(&pid, &resources, &HashMap::new(), today);
        let facilities: Vec<data::Facility> = data::all_facilities(ehr)?
            .into_iter()
            .filter(|f| Some(&f.reference) != own.as_ref())
            .collect();
        Ok((chart, facilities))
    })
    .await;
    let (chart, facilities) = loaded.map_err(|error| ehr_error(app, ctx, &error))?;
    Ok(ReferPage {
        layout: ctx.layout(app, "refer.title"),
        header: chart::header_of(patient, today),
        from: format!("{} ({})", session.facility_name, session.facility_clues),
        facilities,
        problems: chart
            .problems
            .iter()
            .filter(|p| !p.code.is_empty())
            .map(|p| (p.code.clone(), p.display.clone()))
            .collect(),
        allergies: chart.allergies,
        form,
        errors: Vec::new(),
    })
}

/// # `GET /ui/pacientes/{id}/referencia`
pub async fn refer_form(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let (session, patient) = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    match refer_page(&app, &ctx, &session, &patient, &id, ReferForm::default()).await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(response) => response,
    }
}

/// # `POST /ui/pacientes/{id}/referencia`
pub async fn refer(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ReferForm>,
) -> Response {
    let (session, patient) = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let mut page = match refer_page(&app, &ctx, &session, &patient, &id, form.clone()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let to = page
        .facilities
        .iter()
        .find(|f| f.reference == form.to)
        .cloned();
    let diagnosis = mexico::cie10::lookup_cie10(&form.dx_code);
    if to.is_none() {
        page.errors.push(ctx.tr.s("refer.to").to_string());
    }
    if form.reason.trim().is_empty() {
        page.errors.push(ctx.tr.s("refer.reason").to_string());
    }
    if !form.dx_code.trim().is_empty() && diagnosis.is_none() {
        page.errors.push(ctx.tr.s("cie.unknown").to_string());
    }
    let Some(to) = to.filter(|_| page.errors.is_empty()) else {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let now = dates::instant_mexico(ctx.now_ms);
    let request = forms::referral(&forms::ReferInput {
        patient_id: &id,
        form: &form,
        to_name: &to.name,
        to_clues: &to.clues,
        diagnosis: diagnosis.map(|e| (e.code, e.description)),
        session: &session,
        now: &now,
    });
    match blocking(&app, &ctx, move |ehr| {
        data::create(ehr, "ServiceRequest", to_json(&request))
    })
    .await
    {
        Ok(_) => see_other(&format!("/ui/pacientes/{id}?ok=refer.saved#referencias")),
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

#[derive(Template)]
#[template(path = "referral.html")]
struct ReferralPage {
    layout: Layout,
    header: chart::Header,
    allergies: Vec<chart::Allergy>,
    request_id: String,
    status: String,
    authored: String,
    to: String,
    reason: String,
    notes: Vec<String>,
}

/// # `GET /ui/pacientes/{id}/referencias/{request}`
pub async fn referral(
    State(app): AppState,
    ctx: Ctx,
    Path((id, request_id)): Path<(String, String)>,
) -> Response {
    let patient = match open_record(&app, &ctx, &id).await {
        Ok((_, patient)) => patient,
        Err(response) => return response,
    };
    let rid = request_id.clone();
    let request = match blocking(&app, &ctx, move |ehr| {
        data::read(ehr, "ServiceRequest", &rid)
    })
    .await
    {
        Ok(request) => request,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    if request["subject"]["reference"] != format!("Patient/{id}").as_str() {
        return error_page(
            &app,
            &ctx,
            StatusCode::NOT_FOUND,
            vec![ctx.tr.s("error.not_found").to_string()],
        );
    }
    render(
        &ReferralPage {
            layout: ctx.layout(&app, "refer.title"),
            header: chart::header_of(&patient, ctx.today()),
            allergies: Vec::new(),
            request_id,
            status: request["status"].as_str().unwrap_or_default().to_string(),
            authored: request["authoredOn"]
                .as_str()
                .map(dates::display_text)
                .unwrap_or_default(),
            to: request["performer"][0]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            reason: request["reasonCode"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            notes: request["note"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["text"].as_str().map(str::to_string))
                .collect(),
        },
        StatusCode::OK,
    )
}

/// # `POST /ui/pacientes/{id}/referencias/{request}` (counter-referral received)
pub async fn counter_referral(
    State(app): AppState,
    ctx: Ctx,
    Path((id, request_id)): Path<(String, String)>,
    axum::Form(form): axum::Form<TextForm>,
) -> Response {
    let session = match open_record(&app, &ctx, &id).await {
        Ok((session, _)) => session,
        Err(response) => return response,
    };
    let now = dates::instant_mexico(ctx.now_ms);
    let (rid, pid) = (request_id.clone(), id.clone());
    let written = blocking(&app, &ctx, move |ehr| {
        let mut request = data::read(ehr, "ServiceRequest", &rid)?;
        ensure_subject(&request, &pid)?;
        let version = data::version_of(&request);
        request["status"] = Value::String("completed".to_string());
        let note = serde_json::json!({
            "authorString": format!("{} — {}", session.display_name, session.facility_name),
            "time": now,
            "text": format!("Contrarreferencia: {}", form.text.trim())
        });
        match request["note"].as_array_mut() {
            Some(notes) => notes.push(note),
            None => request["note"] = Value::Array(vec![note]),
        }
        data::update(ehr, "ServiceRequest", &rid, to_json(&request), version)
    })
    .await;
    match written {
        Ok(()) => see_other(&format!("/ui/pacientes/{id}/referencias/{request_id}")),
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

pub(crate) fn bench_chart_html(
    ehr: &data::Db,
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
    };
    let chart = load_chart(ehr, patient_id, dates::today(now_ms))?;
    chart_page(layout, chart, false)
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
