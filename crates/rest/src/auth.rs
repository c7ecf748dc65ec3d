//! Authentication over HTTP: the bearer-token extractor every `/fhir` handler takes, the
//! OAuth2 token endpoint (`POST /auth/token`: password for people, client credentials for
//! systems), revocation, break-glass and the request-rate limit of people's accounts. Sign-in
//! throttling (per address, per name) and the cap on concurrent password hashes are `ehr`'s
//! [`ehr::Ehr::sign_in`], shared with the web UI.
//!
//! Key decisions:
//! - A verified token's claims are cached by the token's text until it expires (signature
//!   checks cost more than the read they guard); the account's state and the revocation list
//!   are still read from the store on every request, so disabling an account or revoking a
//!   token takes effect at once.
//! - Unauthenticated answers are 401 with `WWW-Authenticate: Bearer` and never say whether an
//!   account exists.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ehr::Requester;
use fhir::{Issue, IssueCode};

use crate::{ApiError, AppState};

/// Verified tokens kept at most (the cache is cleared when full).
const TOKEN_CACHE_MAX: usize = 10_000;

/// The authenticated requester of a `/fhir` request.
pub(crate) struct Auth(pub Arc<Requester>);

/// How long who a token stands for (account state, revocation, break-glass grants) is
/// trusted before it is read again. Changes made through this node invalidate it at once (the
/// security generation); changes made by the CLI beside it take effect within this time.
const REQUESTER_TTL_MS: i64 = 1_000;

/// A resolved token: its claims, and who it stood for when last checked.
struct Verified {
    claims: auth::token::Claims,
    /// Shared, not cloned, per request: a requester holds a dozen strings.
    requester: Option<(Arc<Requester>, i64, u64)>,
}

/// Accounts whose request rate is tracked at most (about 100 B each); entries whose bucket is
/// full again are dropped first when the table is full.
const RATE_TABLE_MAX: usize = 100_000;

#[derive(Default)]
pub(crate) struct AuthState {
    verified: Mutex<HashMap<String, Verified>>,
    /// Request-rate buckets of people's accounts (a continuous token bucket, no calendar
    /// minutes: a burst straddling a minute boundary gets no double budget).
    per_user: Mutex<HashMap<String, ::auth::throttle::RateBucket>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn unauthorized(es: &str, en: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        Issue::error(IssueCode::Login, es, en),
    )
}

/// The client's address, as `serve` records it (`ConnectInfo<ClientAddr>`).
pub fn client_ip(parts_ext: &axum::http::Extensions) -> Option<IpAddr> {
    parts_ext
        .get::<ConnectInfo<crate::ClientAddr>>()
        .map(|info| info.0.0.ip())
}

impl FromRequestParts<Arc<AppState>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(&parts.extensions).map(|ip| ip.to_string());
        let token = bearer(&parts.headers).ok_or_else(|| {
            unauthorized(
                "Se requiere autenticación: envíe «Authorization: Bearer <token>».",
                "Authentication required: send 'Authorization: Bearer <token>'.",
            )
        })?;
        let who = authenticate(state, token, ip)?;
        rate_limit(state, &who)?;
        Ok(Auth(who))
    }
}

/// Refuses a person's account past its requests per minute.
fn rate_limit(state: &AppState, who: &Requester) -> Result<(), ApiError> {
    let limit = state.config.person_requests_per_minute;
    if limit == 0 || who.role() == ::auth::role::Role::System {
        return Ok(());
    }
    let now = state.ehr.now_ms();
    let mut buckets = lock(&state.auth.per_user);
    if buckets.len() >= RATE_TABLE_MAX {
        buckets.retain(|_, bucket| !bucket.is_full(now));
        if buckets.len() >= RATE_TABLE_MAX {
            buckets.clear();
        }
    }
    let bucket = buckets.entry(who.principal.user.clone()).or_default();
    if let Err(at_ms) = bucket.take(limit, now) {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Issue::error(
                IssueCode::Throttled,
                "Demasiadas solicitudes de esta cuenta en un minuto; espere un momento.",
                "Too many requests from this account in one minute; wait a moment.",
            ),
        );
        let wait_s = (at_ms - now + 999) / 1000;
        error.retry_after_s = Some(u64::try_from(wait_s.max(1)).unwrap_or(60));
        return Err(error);
    }
    Ok(())
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Verifies a token (signature and times, cached until it expires) and resolves it to a
/// requester (account state, revocation and break-glass grants, cached for
/// [`REQUESTER_TTL_MS`] or until this node changes any of them).
pub(crate) fn authenticate(
    state: &AppState,
    token: &str,
    ip: Option<String>,
) -> Result<Arc<Requester>, ApiError> {
    let invalid = || unauthorized("Token no válido o vencido.", "Invalid or expired token.");
    let now = state.ehr.now_ms();
    let generation = state.ehr.security_generation();
    let cached = lock(&state.auth.verified).get(token).map(|v| {
        (
            v.claims.clone(),
            v.requester.as_ref().and_then(|(who, at, seen)| {
                (now - at < REQUESTER_TTL_MS && *seen == generation).then(|| who.clone())
            }),
        )
    });
    let (claims, requester) = match cached {
        Some((claims, requester)) if now.div_euclid(1000) < claims.exp => (claims, requester),
        Some(_) => return Err(invalid()),
        None => {
            let claims = state
                .keys
                .verify(token, now, &|_| false)
                .map_err(|_| invalid())?;
            (claims, None)
        }
    };
    let who = match requester {
        Some(who) => who,
        None => {
            if state
                .ehr
                .is_token_revoked(&claims.jti)
                .map_err(ApiError::from)?
            {
                return Err(invalid());
            }
            let mut who = state
                .ehr
                .requester_for_claims(&claims, None)
                .map_err(ApiError::from)?;
            who.source_ip = ip.clone();
            let who = Arc::new(who);
            let mut verified = lock(&state.auth.verified);
            if verified.len() >= TOKEN_CACHE_MAX {
                verified.clear();
            }
            verified.insert(
                token.to_string(),
                Verified {
                    claims,
                    requester: Some((who.clone(), now, generation)),
                },
            );
            who
        }
    };
    // The cached requester carries the address it was first seen from; another address
    // gets its own copy (the audit trail records where each access came from).
    if who.source_ip != ip {
        let mut moved = (*who).clone();
        moved.source_ip = ip;
        return Ok(Arc::new(moved));
    }
    Ok(who)
}

/// An OAuth2 error answer (RFC 6749 §5.2), with the Spanish text as description.
pub(crate) fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": code, "error_description": description}).to_string();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"expediente\""),
        );
    }
    response
}

/// # `POST /auth/token`
///
/// `grant_type=password` (`username`, `password`) for people, `grant_type=client_credentials`
/// (`client_id`, `client_secret`, or HTTP Basic) for systems; optional `scope` narrows the
/// role's rights. Answers `{access_token, token_type, expires_in, scope}`.
pub(crate) async fn token_endpoint(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    ConnectInfo(crate::ClientAddr(addr)): ConnectInfo<crate::ClientAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let form = match crate::params::read_auth_form(body).await {
        Ok(form) => form,
        Err(err) => return err.into_response(),
    };
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    let basic = basic_credentials(&headers);
    if let Some(response) = crate::smart::token_grant(&state, &headers, &form, basic.clone()).await
    {
        return response;
    }
    let (username, password) = match grant.as_str() {
        "password" => (form.get("username").cloned(), form.get("password").cloned()),
        "client_credentials" => match basic {
            Some((id, secret)) => (Some(id), Some(secret)),
            None => (
                form.get("client_id").cloned(),
                form.get("client_secret").cloned(),
            ),
        },
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type debe ser password, client_credentials, authorization_code o refresh_token / grant_type must be password, client_credentials, authorization_code or refresh_token",
            );
        }
    };
    let (Some(username), Some(password)) = (username, password) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "faltan credenciales / credentials are missing",
        );
    };
    let scope = form.get("scope").cloned();
    let account = match state
        .ehr
        .sign_in(&username, &password, Some(addr.ip()))
        .await
    {
        Ok(account) => account,
        Err(err) => {
            let (status, code) = match err {
                ehr::SignInError::BadCredentials => (StatusCode::UNAUTHORIZED, "invalid_client"),
                ehr::SignInError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "slow_down"),
                ehr::SignInError::Busy => {
                    (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
                }
                ehr::SignInError::Other(ref error) => {
                    tracing::error!(?error, "sign-in failed");
                    (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
                }
            };
            let mut response = oauth_error(
                status,
                code,
                &format!("{} / {}", err.message_es(), err.message_en()),
            );
            if let Some(seconds) = err.retry_after_s()
                && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
    };
    let ip = Some(addr.ip().to_string());
    let st = state.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        if grant == "client_credentials" && account.role != "system" {
            return Err(ehr::Error::Unauthorized(Issue::error(
                IssueCode::Login,
                "client_credentials solo para cuentas de sistema",
                "client_credentials is for system accounts only",
            )));
        }
        let who = ehr::requester_for_account(&account, ip);
        st.ehr
            .issue_token(&who, &st.keys, &account, scope.as_deref(), None)
    })
    .await;
    match outcome {
        Ok(Ok(issued)) => {
            let expires_in = issued.claims.exp - issued.claims.iat;
            let body = serde_json::json!({
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": expires_in,
                "scope": issued.claims.scope,
            })
            .to_string();
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(Err(ehr::Error::Unauthorized(issue))) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &issue.message_es,
        ),
        Ok(Err(ehr::Error::Forbidden(issue))) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &issue.message_es,
        ),
        Ok(Err(ehr::Error::BadRequest(issues))) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &issues
                .first()
                .map(|i| i.message_es.clone())
                .unwrap_or_default(),
        ),
        _ => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "error interno / internal error",
        ),
    }
}

pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// # `POST /auth/revoke` (RFC 7009): the holder revokes their own access token (sign-out,
/// `Authorization: Bearer`), or a SMART app its refresh token (`token=…` with its client
/// credentials; the token's whole family ends).
pub(crate) async fn revoke_endpoint(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    ConnectInfo(crate::ClientAddr(addr)): ConnectInfo<crate::ClientAddr>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let Some(token) = bearer(&headers).map(str::to_string) else {
        return Ok(crate::smart::revoke_refresh(&state, &headers, body).await);
    };
    let who = authenticate(&state, &token, Some(addr.ip().to_string()))?;
    rate_limit(&state, &who)?;
    let now = state.ehr.now_ms();
    let claims = state
        .keys
        .verify(&token, now, &|_| false)
        .map_err(|_| unauthorized("Token no válido.", "Invalid token."))?;
    let st = state.clone();
    crate::handlers::blocking(&state, move |ehr| {
        ehr.revoke_token(&who, &claims.jti, claims.exp.saturating_mul(1000))
    })
    .await?;
    lock(&st.auth.verified).remove(&token);
    Ok(StatusCode::OK.into_response())
}
