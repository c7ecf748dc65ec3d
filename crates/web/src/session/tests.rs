//! The session cookie rules and the pre-session token. Sessions themselves are exercised through
//! the router in `crate::tests` (sign-in, lookup, timeouts, sign-out, break-glass, access log)
//! over real accounts.

use super::*;

#[test]
fn cookies_are_http_only_strict_and_host_only_secure_over_tls() {
    let plain = session_cookie("abc", false);
    assert!(plain.starts_with("expediente_sesion=abc;"), "{plain}");
    assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
    assert!(plain.contains("Path=/") && !plain.contains("Secure") && !plain.contains("Domain"));
    let tls = session_cookie("abc", true);
    assert!(tls.starts_with("__Host-expediente_sesion=abc;") && tls.ends_with("; Secure"));
    assert!(clear_session_cookie(false).contains("Max-Age=0"));
    let pre = pre_session_cookie("xyz", true);
    assert!(pre.starts_with("__Host-expediente_pre=xyz;") && pre.contains("HttpOnly"));
    assert_eq!(
        cookie_value("a=1; expediente_sesion=xyz; b=2", SESSION_COOKIE),
        Some("xyz")
    );
    assert_eq!(cookie_value("a=1", SESSION_COOKIE), None);
}

#[test]
fn the_sign_in_token_is_bound_to_the_pre_session_and_the_process() {
    let pre = PreSession::new().unwrap();
    let token = pre.token("valor-de-cookie");
    assert!(pre.verify("valor-de-cookie", &token));
    assert!(!pre.verify("otro-valor", &token));
    assert!(!pre.verify("", &pre.token("")));
    assert!(!pre.verify("valor-de-cookie", ""));
    // Another process (a restart) has another key.
    let other = PreSession::new().unwrap();
    assert!(!other.verify("valor-de-cookie", &token));
}
