//! The guard in front of every state-changing request of the UI (any method but GET and HEAD),
//! applied to the whole router so that a new form cannot forget it:
//! 1. **Origin**: a browser says where a form came from (`Origin`, or `Sec-Fetch-Site` when it
//!    sends no `Origin`); anything but this node's own origin is refused. This is what stops a
//!    sibling host (`evil.clinica.example` is *same-site* for `SameSite` cookies) and login CSRF
//!    from browsers that send the headers.
//! 2. **Size**: the body is read up to [`FORM_BYTES_MAX`] (413 past it), before anything parses
//!    it.
//! 3. **CSRF token**: the form's `csrf` field must be the session's token; for the sign-in form,
//!    the token of the browser's pre-session cookie (see `session.rs`). Clients that send
//!    neither `Origin` nor `Sec-Fetch-Site` (old browsers, scripts) are held by this check alone.
//!
//! Refusals are the UI's own error page, in the user's language. To add a form: include
//! `templates/csrf.html` inside it; nothing else (the walk over every form in the end-to-end
//! tests fails otherwise).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::session;
use crate::{App, WebConfig, pages};

/// Largest form body: a consultation with a long note is under 20 KB; 256 KiB leaves room
/// and bounds what an anonymous sender can make the node hold.
pub const FORM_BYTES_MAX: usize = 256 * 1024;

/// The name of the hidden field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// See the module docs.
pub(crate) async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let ip = (app.config.client_ip)(&parts.extensions);
    let refuse = |status: StatusCode, es: &str, en: &str| {
        pages::refusal(&app, &parts.headers, &parts.uri, ip, status, es, en)
    };
    if !same_origin(&app.config, &parts.headers, &parts.uri) {
        return refuse(
            StatusCode::FORBIDDEN,
            "Solicitud rechazada: el formulario no proviene de este sitio.",
            "Request refused: the form does not come from this site.",
        );
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("El formulario excede el límite de {FORM_BYTES_MAX} bytes."),
            &format!("The form exceeds the limit of {FORM_BYTES_MAX} bytes."),
        )
    };
    if declared.is_some_and(|length| length > FORM_BYTES_MAX as u64) {
        return too_large();
    }
    let bytes = match axum::body::to_bytes(body, FORM_BYTES_MAX).await {
        Ok(bytes) => bytes,
        Err(err) if is_length_limit(&err) => return too_large(),
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "No se pudo leer el formulario.",
                "The form could not be read.",
            );
        }
    };
    let sent = form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == CSRF_FIELD)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if !token_matches(&app, &parts.headers, parts.uri.path(), &sent) {
        return refuse(
            StatusCode::FORBIDDEN,
            "El formulario venció o no proviene de esta página. Vuelva a cargar la página e intente de nuevo.",
            "The form has expired or does not come from this page. Reload the page and try again.",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether `sent` is the CSRF token this request must carry.
fn token_matches(app: &App, headers: &HeaderMap, path: &str, sent: &str) -> bool {
    let cookies = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let secure = app.config.secure_cookies;
    let now_ms = app.ehr.now_ms();
    let session_token = session::cookie_value(cookies, session::session_cookie_name(secure))
        .filter(|secret| !secret.is_empty())
        .and_then(|secret| app.sessions.csrf_token(secret, now_ms));
    match session_token {
        Some(token) if auth::secret::same(&token, sent) => return true,
        Some(_) => {}
        // Signing out of a session that is already over protects nothing: let it clear the
        // cookie rather than show "form expired".
        None if path == "/ui/salir" => return true,
        None => {}
    }
    matches!(path, "/ui/entrar" | "/ui/autorizar/entrar")
        && session::cookie_value(cookies, session::pre_session_cookie_name(secure))
            .is_some_and(|pre| app.pre_session.verify(pre, sent))
}

/// Whether the browser says the request comes from this node's own pages. Without `Origin` and
/// `Sec-Fetch-Site` the answer is yes, and the CSRF token decides.
pub(crate) fn same_origin(config: &WebConfig, headers: &HeaderMap, uri: &Uri) -> bool {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        return expected_origin(config, headers, uri)
            .is_some_and(|expected| expected.eq_ignore_ascii_case(origin.trim()));
    }
    match headers.get("sec-fetch-site").map(|v| v.to_str()) {
        None => true,
        // `none`: typed or bookmarked by the user, never another site's doing.
        Some(Ok("same-origin" | "none")) => true,
        Some(_) => false,
    }
}

/// This node's origin: the configured public one, or the scheme and `Host` of the request.
pub(crate) fn expected_origin(
    config: &WebConfig,
    headers: &HeaderMap,
    uri: &Uri,
) -> Option<String> {
    if let Some(origin) = &config.public_origin {
        return Some(origin.trim_end_matches('/').to_string());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))?;
    let scheme = if config.secure_cookies {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{host}"))
}

/// Whether a body read failed on the size bound.
fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn only_this_nodes_origin_passes() {
        let config = WebConfig::default();
        let uri: Uri = "/ui/entrar".parse().unwrap();
        let host = [("host", "clinica.example:8080")];
        let with = |extra: &[(&str, &str)]| {
            let mut all = host.to_vec();
            all.extend_from_slice(extra);
            same_origin(&config, &headers(&all), &uri)
        };
        assert!(with(&[("origin", "http://clinica.example:8080")]));
        assert!(with(&[("origin", "HTTP://Clinica.Example:8080")]));
        assert!(!with(&[("origin", "http://evil.clinica.example:8080")]));
        assert!(!with(&[("origin", "https://clinica.example:8080")]));
        assert!(!with(&[("origin", "http://clinica.example:8081")]));
        assert!(!with(&[("origin", "null")]));
        assert!(with(&[("sec-fetch-site", "same-origin")]));
        assert!(with(&[("sec-fetch-site", "none")]));
        assert!(!with(&[("sec-fetch-site", "same-site")]));
        assert!(!with(&[("sec-fetch-site", "cross-site")]));
        // Neither header: the token decides.
        assert!(with(&[]));
        let public = WebConfig {
            public_origin: Some("https://expediente.clinica.example".into()),
            ..WebConfig::default()
        };
        assert!(same_origin(
            &public,
            &headers(&[("origin", "https://expediente.clinica.example")]),
            &uri
        ));
        assert!(!same_origin(
            &public,
            &headers(&[("host", "x"), ("origin", "http://x")]),
            &uri
        ));
    }
}
