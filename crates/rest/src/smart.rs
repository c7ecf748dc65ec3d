//! SMART App Launch v2 over HTTP (issue 18): discovery (`/.well-known/smart-configuration`, at
//! the root and under `/fhir`), the node's JWKS, the token endpoint's SMART grants
//! (authorization code, refresh token, backend services' signed assertion), introspection
//! (RFC 7662) and CORS for the origins of registered apps. The sign-in, consent and patient
//! picker of `GET /auth/authorize` are HTML, so they live in `web`; the decisions are `ehr`'s
//! (`ehr::smart`).
//!
//! CORS: an origin is allowed when it is the origin (scheme, host, port) of a registered
//! redirect URI. Allowed origins are echoed, never `*`, and never with
//! `Access-Control-Allow-Credentials` (bearer tokens, not cookies, authorize API calls). The
//! set is re-read from the store at most every [`ORIGINS_TTL_MS`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// How long the allowed CORS origins are trusted before the registered apps are read again.
const ORIGINS_TTL_MS: i64 = 5_000;

/// `client_assertion_type` of SMART Backend Services.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Scopes advertised in discovery.
const SCOPES_SUPPORTED: &[&str] = &[
    "openid",
    "fhirUser",
    "launch",
    "launch/patient",
    "offline_access",
    "online_access",
    "patient/*.rs",
    "patient/*.cruds",
    "user/*.rs",
    "user/*.cruds",
    "system/*.rs",
    "system/*.cruds",
];

#[derive(Default)]
pub(crate) struct CorsOrigins {
    cached: Mutex<Option<(i64, Arc<HashSet<String>>)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The origin (`scheme://host[:port]`) of a URI.
pub(crate) fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| {
        format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        )
    })
}

fn allowed_origins(state: &AppState) -> Arc<HashSet<String>> {
    let now = state.ehr.now_ms();
    if let Some((at, origins)) = lock(&state.cors.cached).as_ref()
        && now - at < ORIGINS_TTL_MS
    {
        return origins.clone();
    }
    let origins: HashSet<String> = match state.ehr.apps() {
        Ok(apps) => apps
            .iter()
            .flat_map(|app| app.redirect_uris.iter())
            .filter_map(|uri| origin_of(uri))
            .collect(),
        Err(error) => {
            tracing::error!(?error, "reading registered apps for CORS failed");
            HashSet::new()
        }
    };
    let origins = Arc::new(origins);
    *lock(&state.cors.cached) = Some((now, origins.clone()));
    origins
}

/// The CORS layer: answers preflights of allowed origins, and marks their responses readable.
pub(crate) async fn cors(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(origin) = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    let api_path = path.starts_with("/fhir")
        || path == "/auth/token"
        || path == "/auth/revoke"
        || path.starts_with("/.well-known/");
    let st = state.clone();
    let check = origin.clone();
    let allowed = api_path
        && tokio::task::spawn_blocking(move || {
            allowed_origins(&st).contains(&check.to_ascii_lowercase())
        })
        .await
        .unwrap_or(false);
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        if allowed && let Ok(value) = HeaderValue::from_str(&origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(
                    "Authorization, Content-Type, Accept, If-Match, If-None-Exist, If-None-Match, If-Modified-Since, Prefer",
                ),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if allowed && let Ok(value) = HeaderValue::from_str(&origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Location, ETag, Content-Location, Last-Modified"),
        );
    }
    response
}

/// The node's origin (the FHIR base without `/fhir`).
pub(crate) fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let base = crate::params::base_url(state, headers);
    base.strip_suffix("/fhir").unwrap_or(&base).to_string()
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// # `GET /.well-known/smart-configuration` (also under `/fhir`)
pub(crate) async fn configuration(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    let origin = origin(&state, &headers);
    let base = crate::params::base_url(&state, &headers);
    json(
        StatusCode::OK,
        &serde_json::json!({
            "issuer": base,
            "jwks_uri": format!("{origin}/.well-known/jwks.json"),
            "authorization_endpoint": format!("{origin}/auth/authorize"),
            "token_endpoint": format!("{origin}/auth/token"),
            "introspection_endpoint": format!("{origin}/auth/introspect"),
            "revocation_endpoint": format!("{origin}/auth/revoke"),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "scopes_supported": SCOPES_SUPPORTED,
            "code_challenge_methods_supported": ["S256"],
            "capabilities": [
                "launch-standalone",
                "launch-ehr",
                "client-public",
                "client-confidential-symmetric",
                "client-confidential-asymmetric",
                "context-standalone-patient",
                "context-ehr-patient",
                "sso-openid-connect",
                "permission-offline",
                "permission-online",
                "permission-patient",
                "permission-user",
                "permission-v1",
                "permission-v2",
            ],
        }),
    )
}

/// # `GET /.well-known/jwks.json`: the node's public key (id_tokens, access tokens).
pub(crate) async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({"keys": [state.keys.public_jwk()]}),
    )
}

fn oauth_error(error: &ehr::smart::OAuthError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    crate::auth::oauth_error(status, error.code, &format!("{} / {}", error.es, error.en))
}

fn tokens_response(tokens: &ehr::smart::SmartTokens) -> Response {
    let mut body = serde_json::json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "scope": tokens.scope,
    });
    if let Some(patient) = &tokens.patient {
        body["patient"] = patient.clone().into();
    }
    if let Some(id_token) = &tokens.id_token {
        body["id_token"] = id_token.clone().into();
    }
    if let Some(refresh) = &tokens.refresh_token {
        body["refresh_token"] = refresh.clone().into();
    }
    let mut response = json(StatusCode::OK, &body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn client_credentials(
    form: &HashMap<String, String>,
    basic: Option<(String, String)>,
) -> ehr::smart::ClientCredentials {
    match basic {
        Some((id, secret)) => ehr::smart::ClientCredentials {
            client_id: Some(id),
            secret: Some(secret),
        },
        None => ehr::smart::ClientCredentials {
            client_id: form.get("client_id").cloned(),
            secret: form.get("client_secret").cloned(),
        },
    }
}

/// The SMART grants of `POST /auth/token`: `authorization_code`, `refresh_token`, and
/// `client_credentials` with a `private_key_jwt` assertion. `None` when the request is not one
/// of them (the password and plain client-credentials grants stay in `auth.rs`).
pub(crate) async fn token_grant(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    basic: Option<(String, String)>,
) -> Option<Response> {
    let grant = form
        .get("grant_type")
        .map(String::as_str)
        .unwrap_or_default();
    let assertion = form.get("client_assertion_type").map(String::as_str) == Some(JWT_BEARER);
    let smart_grant = matches!(grant, "authorization_code" | "refresh_token")
        || (grant == "client_credentials" && assertion);
    if !smart_grant {
        return None;
    }
    let client = client_credentials(form, basic);
    let issuer = crate::params::base_url(state, headers);
    let token_url = format!("{}/auth/token", origin(state, headers));
    let st = state.clone();
    let form = form.clone();
    let grant = grant.to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
        match grant.as_str() {
            "authorization_code" => st.ehr.token_for_code(
                &st.keys,
                &client,
                field("code"),
                field("redirect_uri"),
                field("code_verifier"),
                &issuer,
            ),
            "refresh_token" => st.ehr.token_for_refresh(
                &st.keys,
                &client,
                field("refresh_token"),
                form.get("scope").map(String::as_str),
                &issuer,
            ),
            _ => st.ehr.token_for_assertion(
                &st.keys,
                field("client_assertion"),
                form.get("scope").map(String::as_str),
                &token_url,
            ),
        }
    })
    .await;
    Some(match outcome {
        Ok(Ok(tokens)) => tokens_response(&tokens),
        Ok(Err(error)) => oauth_error(&error),
        Err(_) => oauth_error(&ehr::smart::OAuthError {
            status: 500,
            code: "server_error",
            es: "error interno".into(),
            en: "internal error".into(),
        }),
    })
}

/// `POST /auth/revoke` without a bearer token: a SMART app revokes its refresh token (RFC 7009:
/// 200 whether or not the token was valid, so that nothing is learnt from the answer).
pub(crate) async fn revoke_refresh(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Response {
    let form = match crate::params::read_auth_form(body).await {
        Ok(form) => form,
        Err(err) => return err.into_response(),
    };
    let client = client_credentials(&form, crate::auth::basic_credentials(headers));
    let token = form.get("token").cloned().unwrap_or_default();
    let st = state.clone();
    let outcome =
        tokio::task::spawn_blocking(move || st.ehr.revoke_refresh(&st.keys, &client, &token)).await;
    match outcome {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(error)) => oauth_error(&error),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// # `POST /auth/introspect` (RFC 7662), for resource servers authenticated as confidential
/// apps.
pub(crate) async fn introspect(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let form = match crate::params::read_auth_form(body).await {
        Ok(form) => form,
        Err(err) => return err.into_response(),
    };
    let client = client_credentials(&form, crate::auth::basic_credentials(&headers));
    let token = form.get("token").cloned().unwrap_or_default();
    let st = state.clone();
    let outcome =
        tokio::task::spawn_blocking(move || st.ehr.introspect(&st.keys, &client, &token)).await;
    match outcome {
        Ok(Ok(body)) => {
            let mut response = json(StatusCode::OK, &body);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(Err(error)) => oauth_error(&error),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origin_of_keeps_scheme_host_and_port_only() {
        assert_eq!(
            origin_of("https://App.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            origin_of("http://localhost/cb").as_deref(),
            Some("http://localhost")
        );
        assert_eq!(origin_of("nonsense"), None);
    }
}
