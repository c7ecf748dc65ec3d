//! Every kind of audit entry becomes an AuditEvent that the R4 validator accepts.

use auth::audit::{AuditAction, AuditEntry, Outcome, to_audit_event_json};
use auth::role::Role;

fn entry(action: AuditAction) -> AuditEntry {
    AuditEntry {
        seq: 7,
        at_ms: 1_764_088_320_123,
        node: "DFSSA001234-n1".into(),
        user: "dra.lopez".into(),
        user_display: "Dra. Ana López".into(),
        role: Some(Role::Physician),
        clues: Some("DFSSA001234".into()),
        facility_name: Some("Centro de Salud Tlalpan".into()),
        action,
        resource_type: Some("Observation".into()),
        resource_id: Some("o1".into()),
        patient_id: Some("p1".into()),
        outcome: Outcome::Success,
        break_glass: false,
        source_ip: Some("2001:db8::7".into()),
        details: "motivo o consulta".into(),
    }
}

#[test]
fn audit_events_validate_against_r4() {
    let mut variants: Vec<AuditEntry> = AuditAction::ALL.into_iter().map(entry).collect();
    variants.push(AuditEntry {
        role: None,
        clues: None,
        facility_name: None,
        resource_type: None,
        resource_id: None,
        patient_id: None,
        source_ip: None,
        user_display: String::new(),
        details: String::new(),
        outcome: Outcome::Denied,
        ..entry(AuditAction::LoginFailed)
    });
    variants.push(AuditEntry {
        break_glass: true,
        outcome: Outcome::Error,
        role: Some(Role::System),
        ..entry(AuditAction::Read)
    });
    // `AUTH_DUMP_AUDIT_EVENTS=DIR` writes each event to DIR for the second opinion of
    // `tests/validate_audit_events.py` (Python `fhir.resources` 6.1.0, R4 models).
    let dump_dir = std::env::var_os("AUTH_DUMP_AUDIT_EVENTS");
    for (idx, variant) in variants.into_iter().enumerate() {
        let text = to_audit_event_json(&variant);
        if let Some(dir) = &dump_dir {
            let path = std::path::Path::new(dir).join(format!("audit-event-{idx:02}.json"));
            std::fs::write(path, &text).unwrap();
        }
        let json = fhir::json::parse_str(&text).unwrap();
        let issues = fhir::validate::validate_resource(&json);
        let errors: Vec<String> = issues
            .iter()
            .filter(|issue| issue.severity == fhir::Severity::Error)
            .map(|issue| format!("{:?}: {}", issue.expression, issue.message_en))
            .collect();
        assert!(
            errors.is_empty(),
            "{:?}: {errors:#?}\n{text}",
            variant.action
        );
    }
}

/// The validator used above does catch a broken AuditEvent (so its silence means something).
#[test]
fn the_validator_rejects_a_broken_audit_event() {
    let good = to_audit_event_json(&entry(AuditAction::Read));
    for broken in [
        good.replace(r#""action":"R""#, r#""action":"X""#),
        good.replace(r#""outcome":"0""#, r#""outcome":"1""#),
        good.replace(r#""requestor":true,"#, ""),
        good.replace(r#""recorded":"2025-11-25T16:32:00.123Z","#, ""),
    ] {
        assert_ne!(broken, good, "the replacement must apply");
        let json = fhir::json::parse_str(&broken).unwrap();
        let n_errors = fhir::validate::validate_resource(&json)
            .iter()
            .filter(|issue| issue.severity == fhir::Severity::Error)
            .count();
        assert!(n_errors > 0, "{broken}");
    }
}
