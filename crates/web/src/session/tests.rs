//! The dev sessions and the cookie rules.

use super::*;

fn dev() -> DevSessions {
    DevSessions::demo(
        Some("Organization/o1".into()),
        "Centro de Salud Uno",
        "MSIMB000001",
    )
}

#[test]
fn login_checks_the_password_and_lookup_finds_the_session() {
    let sessions = dev();
    assert_eq!(
        sessions.login("medica", "nope", None, 0),
        Err(LoginError::BadCredentials)
    );
    let info = sessions.login("medica", "demo-medica", None, 0).unwrap();
    assert_eq!(info.display_name, "Dra. Ana López Ruiz");
    assert_eq!(info.token.len(), 32);
    assert_eq!(
        sessions.lookup(&info.token, 1000).unwrap().username,
        "medica"
    );
    sessions.logout(&info.token);
    assert!(sessions.lookup(&info.token, 2000).is_none());
}

#[test]
fn idle_sessions_expire() {
    let sessions = dev();
    let info = sessions.login("medica", "demo-medica", None, 0).unwrap();
    assert!(
        sessions
            .lookup(&info.token, DEV_SESSION_IDLE_MS_MAX + 1)
            .is_none()
    );
}

#[test]
fn without_care_relationship_the_record_needs_break_glass_which_is_logged() {
    let sessions = dev();
    let info = sessions.login("medica", "demo-medica", None, 0).unwrap();
    let elsewhere = CareContext {
        patient_id: "p1".into(),
        managing_organization: Some("Organization/other".into()),
        seen_at_user_facility: false,
    };
    assert_eq!(
        sessions.access(&info, &elsewhere),
        Access::BreakGlassRequired
    );
    let here = CareContext {
        managing_organization: Some("Organization/o1".into()),
        ..elsewhere.clone()
    };
    assert_eq!(sessions.access(&info, &here), Access::Allowed);
    sessions.break_glass(&info, "p1", "urgencia", 5).unwrap();
    assert_eq!(sessions.access(&info, &elsewhere), Access::Allowed);
    let log = sessions.access_log(&info, "p1");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].break_glass_reason.as_deref(), Some("urgencia"));
}

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
