//! Unit tests for roles and principals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Principal, Role};
use crate::break_glass::BreakGlass;
use crate::scope::Scopes;

#[test]
fn role_identifiers_round_trip_and_are_exact() {
    let identifiers = [
        "physician",
        "nurse",
        "receptionist",
        "epidemiologist",
        "auditor",
        "steward",
        "admin",
        "patient",
        "system",
    ];
    assert_eq!(Role::ALL.len(), identifiers.len());
    for (role, identifier) in Role::ALL.into_iter().zip(identifiers) {
        assert_eq!(role.as_str(), identifier);
        assert_eq!(Role::parse(identifier), Some(role));
        assert_eq!(role.to_string(), identifier);
        assert!(!role.label_es().is_empty());
    }
    for bad in [
        "Physician",
        " nurse",
        "administrator",
        "",
        "doctor",
        "médico",
    ] {
        assert_eq!(Role::parse(bad), None, "{bad}");
    }
    let clinicians: Vec<Role> = Role::ALL.into_iter().filter(|r| r.is_clinician()).collect();
    assert_eq!(clinicians, [Role::Physician, Role::Nurse]);
    let staff: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| r.requires_clues())
        .collect();
    assert_eq!(staff, [Role::Physician, Role::Nurse, Role::Receptionist]);
}

#[test]
fn break_glass_lookup_by_patient_and_time() {
    let grant = |patient: &str, from: i64, until: i64| BreakGlass {
        patient_id: patient.into(),
        reason: "r".into(),
        granted_ms: from,
        expires_ms: until,
        needs_review: true,
    };
    let principal = Principal {
        user: "u".into(),
        role: Role::Physician,
        clues: Some("DFSSA001234".into()),
        practitioner_id: None,
        patient_id: None,
        scopes: Scopes::empty(),
        token_id: "t".into(),
        break_glass: vec![grant("p1", 100, 200), grant("p2", 150, 300)],
    };
    assert!(principal.break_glass_for("p1", 100).is_some());
    assert!(principal.break_glass_for("p1", 199).is_some());
    assert!(principal.break_glass_for("p1", 200).is_none());
    assert!(principal.break_glass_for("p1", 99).is_none());
    assert_eq!(
        principal
            .break_glass_for("p2", 250)
            .map(|g| g.patient_id.as_str()),
        Some("p2")
    );
    assert!(principal.break_glass_for("p3", 150).is_none());
}
