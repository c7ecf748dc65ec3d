//! Unit tests for break-glass grant rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{BREAK_GLASS_DURATION_MS, BreakGlassError, grant, validate_reason};
use crate::role::{Principal, Role};
use crate::scope::Scopes;

fn clinician(role: Role, clues: Option<&str>) -> Principal {
    Principal {
        user: "dra.lopez".into(),
        role,
        clues: clues.map(str::to_owned),
        practitioner_id: Some("pr1".into()),
        patient_id: None,
        scopes: Scopes::empty(),
        token_id: "t".into(),
        break_glass: Vec::new(),
    }
}

#[test]
fn reasons() {
    let accepted = [
        "paciente inconsciente traído por ambulancia",
        "  Paro cardiorrespiratorio en sala de urgencias  ",
        "Trauma múltiple por accidente vial, sin acompañante",
        "Paciente con crisis convulsiva, necesito alergias",
    ];
    for reason in accepted {
        assert_eq!(validate_reason(reason), Ok(reason.trim()), "{reason}");
    }
    let rejected = [
        ("", BreakGlassError::ReasonMissing),
        ("    ", BreakGlassError::ReasonMissing),
        ("urgente", BreakGlassError::ReasonTooVague),
        (
            "emergencia emergencia emergencia",
            BreakGlassError::ReasonTooVague,
        ),
        (
            "aaaaaaaaaa aaaaaaaaa aaaaaaa",
            BreakGlassError::ReasonTooVague,
        ),
        (
            "asd asd asd asd asd asd asd",
            BreakGlassError::ReasonTooVague,
        ),
        (
            "1234567890 1234567890 12345",
            BreakGlassError::ReasonTooVague,
        ),
        ("paciente grave", BreakGlassError::ReasonTooVague),
        (
            "x. x. x. x. x. x. x. x. x. x.",
            BreakGlassError::ReasonTooVague,
        ),
        (
            "prueba de acceso test urgente",
            BreakGlassError::ReasonTooVague,
        ),
    ];
    for (reason, error) in rejected {
        assert_eq!(validate_reason(reason), Err(error), "{reason:?}");
    }
    let long = "paciente grave en urgencias ".repeat(20);
    assert_eq!(validate_reason(&long), Err(BreakGlassError::ReasonTooLong));
}

#[test]
fn grants_to_clinicians_for_a_bounded_time() {
    let now = 1_800_000_000_000;
    let reason = "paciente inconsciente traído por ambulancia";
    for role in [Role::Physician, Role::Nurse] {
        let granted = grant(&clinician(role, Some("DFSSA001234")), " p1 ", reason, now).unwrap();
        assert_eq!(granted.patient_id, "p1");
        assert_eq!(granted.reason, reason);
        assert_eq!(granted.granted_ms, now);
        assert_eq!(granted.expires_ms - granted.granted_ms, 4 * 3600 * 1000);
        assert_eq!(granted.expires_ms, now + BREAK_GLASS_DURATION_MS);
        assert!(granted.needs_review);
        assert!(granted.is_active(now));
        assert!(granted.is_active(granted.expires_ms - 1));
        assert!(!granted.is_active(granted.expires_ms));
        assert!(!granted.is_active(now - 1));
    }
    for role in [
        Role::Receptionist,
        Role::Admin,
        Role::Auditor,
        Role::Patient,
        Role::System,
        Role::Epidemiologist,
    ] {
        assert_eq!(
            grant(&clinician(role, Some("DFSSA001234")), "p1", reason, now),
            Err(BreakGlassError::NotClinician),
            "{role}"
        );
    }
    assert_eq!(
        grant(&clinician(Role::Physician, None), "p1", reason, now),
        Err(BreakGlassError::NoFacility)
    );
    assert_eq!(
        grant(
            &clinician(Role::Physician, Some("DFSSA001234")),
            " ",
            reason,
            now
        ),
        Err(BreakGlassError::NoPatient)
    );
    assert_eq!(
        grant(
            &clinician(Role::Physician, Some("DFSSA001234")),
            "p1",
            "porque sí",
            now
        ),
        Err(BreakGlassError::ReasonTooVague)
    );
    for error in [
        BreakGlassError::ReasonMissing,
        BreakGlassError::ReasonTooVague,
        BreakGlassError::NotClinician,
    ] {
        assert_ne!(error.message_es(), error.message_en());
    }
}
