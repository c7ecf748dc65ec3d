//! One form, one write: every form carries a random submission key (in `templates/csrf.html`,
//! next to the CSRF token, so no form can forget it), and a key that was already handled gets
//! the answer of its first handling instead of running again.
//!
//! Why: the issue saw three concurrent submits of one consultation make four signed notes. A
//! double click, a reload of the POST or a retry on a flaky link must sign once. Requests with
//! the same (session, key) run one at a time; the first one's outcome, when it is a redirect
//! (post/redirect/get: the write was made), is kept and answered to the others. A form sent
//! back with errors is not kept: the user corrects it and sends it again with the same key.
//! The handler runs in its own task, so a browser that gives up on a request (a second click
//! cancels the first navigation) cannot cut a write in half nor lose its outcome.
//!
//! Kept in memory, bounded by count and age: a restart forgets the keys, which only matters
//! for a submit repeated across the restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::App;

/// The name of the hidden field that carries the key.
pub const SUBMISSION_FIELD: &str = "envio";

/// Outcomes kept at most (one per form sent; a busy clinic sends a few thousand a day).
pub const SUBMISSIONS_MAX: usize = 20_000;

/// How long an outcome is kept: long enough for any retry of a form.
pub const SUBMISSION_TTL_MS: i64 = 30 * 60 * 1000;

/// Longest key accepted (ours are 43 characters).
const KEY_CHARS_MAX: usize = 64;

/// The kept answer of a handled submission.
#[derive(Clone, Debug)]
struct Outcome {
    status: StatusCode,
    location: HeaderValue,
}

#[derive(Default)]
struct Slot {
    outcome: Option<Outcome>,
    created_ms: i64,
}

/// The submissions seen by this node.
#[derive(Default)]
pub struct Submissions {
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Submissions {
    /// The slot of a key, created if new (old slots are dropped when the table is full).
    fn slot(&self, key: String, now_ms: i64) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = lock(&self.slots);
        if slots.len() >= SUBMISSIONS_MAX {
            slots.retain(|_, slot| {
                slot.try_lock()
                    .map_or(true, |s| now_ms - s.created_ms < SUBMISSION_TTL_MS)
            });
            if slots.len() >= SUBMISSIONS_MAX {
                slots.clear();
            }
        }
        slots
            .entry(key)
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(Slot {
                    outcome: None,
                    created_ms: now_ms,
                }))
            })
            .clone()
    }
}

/// The middleware (inside `guard.rs`, which has already bounded the body and checked the
/// origin and the CSRF token). Only POSTs of a session that carry a key are concerned.
pub(crate) async fn once(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    // Signing in and out are not writes to the record, and their answers set cookies.
    let path = request.uri().path();
    if request.method() != Method::POST
        || path == "/ui/entrar"
        || path == "/ui/autorizar/entrar"
        || path == "/ui/salir"
    {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::FORM_BYTES_MAX).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let key = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == SUBMISSION_FIELD)
        .map(|(_, v)| v.into_owned())
        .filter(|k| !k.is_empty() && k.len() <= KEY_CHARS_MAX);
    let cookies = parts
        .headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let session = crate::session::cookie_value(
        cookies,
        crate::session::session_cookie_name(app.config.secure_cookies),
    )
    .filter(|s| !s.is_empty())
    .map(auth::secret::digest);
    let request = Request::from_parts(parts, Body::from(bytes));
    let (Some(key), Some(session)) = (key, session) else {
        return next.run(request).await;
    };
    // Keys are per session: another session's key (even stolen) names nothing here.
    let session_hex: String = session.iter().map(|b| format!("{b:02x}")).collect();
    let slot = app
        .submissions
        .slot(format!("{session_hex}:{key}"), app.ehr.now_ms());
    let mut slot = slot.lock_owned().await;
    if let Some(outcome) = &slot.outcome {
        let mut response = outcome.status.into_response();
        response
            .headers_mut()
            .insert(header::LOCATION, outcome.location.clone());
        return response;
    }
    // The handler runs to the end even if this request is abandoned by its browser.
    let handled = tokio::spawn(async move {
        let response = next.run(request).await;
        if response.status().is_redirection()
            && let Some(location) = response.headers().get(header::LOCATION)
        {
            slot.outcome = Some(Outcome {
                status: response.status(),
                location: location.clone(),
            });
        }
        drop(slot);
        response
    });
    match handled.await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "form handler failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
