//! The session cookie rules. Sessions themselves are exercised through the router in
//! `crate::tests` (sign-in, lookup, sign-out, break-glass, access log) over real accounts.

use super::*;

#[test]
fn cookies_are_http_only_strict_and_secure_over_tls() {
    let plain = session_cookie("abc", false);
    assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
    assert!(!plain.contains("Secure"));
    assert!(session_cookie("abc", true).ends_with("; Secure"));
    assert_eq!(
        cookie_value("a=1; expediente_sesion=xyz; b=2", SESSION_COOKIE),
        Some("xyz")
    );
    assert_eq!(cookie_value("a=1", SESSION_COOKIE), None);
}
