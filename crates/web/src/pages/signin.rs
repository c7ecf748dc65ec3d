//! Sign-in, sign-out and the language switch.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::{AppState, Ctx, LANG_COOKIE, Layout, render, safe_next, see_other};
use crate::i18n::Lang;
use crate::session;

/// # `GET /`
pub async fn home(ctx: Ctx) -> Response {
    if ctx.session.as_ref().is_some_and(super::may_read_reports) {
        // Epidemiologists have no patient search: their work starts at the surveillance page.
        see_other("/ui/vigilancia")
    } else if ctx
        .session
        .as_ref()
        .is_some_and(|s| s.requester.role() == auth::role::Role::Patient)
    {
        // A patient's work here is their own appointments and referrals.
        see_other("/ui/mis-citas")
    } else if ctx.session.is_some() {
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
            // None asked: after sign-in each role starts where its work is (`home`).
            next: if query.next.is_empty() {
                String::new()
            } else {
                safe_next(&query.next)
            },
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
            // Without a page to return to, each role starts where its work is (`home`).
            let target = if form.next.is_empty() {
                "/ui".to_string()
            } else {
                safe_next(&form.next)
            };
            let mut response = see_other(&target);
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
