//! One request end to end: issue a token, verify it, build the principal, decide, audit.

use auth::audit::{AuditAction, AuditEntry, Chain, ChainHead, Outcome, verify_chain};
use auth::policy::{Action, Basis, CareRelationship, Decision, decide};
use auth::role::Role;
use auth::scope::Interaction;
use auth::token::{KeyStore, TokenRequest};

#[test]
fn nurse_records_vital_signs_then_is_refused_a_diagnosis() {
    let now = 1_800_000_000_000;
    let keys = KeyStore::generate().unwrap();
    let issued = keys
        .issue(
            &TokenRequest {
                user: "enf.perez".into(),
                role: Role::Nurse,
                clues: Some("DFSSA001234".into()),
                patient_id: None,
                practitioner_id: Some("pr7".into()),
                scopes: None,
                ttl_ms: None,
                epoch: 0,
            },
            now,
            "0195d1e2-jti",
        )
        .unwrap();
    let principal = keys
        .verify(&issued.token, now + 5_000, &|_| false)
        .unwrap()
        .to_principal()
        .unwrap();

    let observation = r#"{"resourceType":"Observation","status":"final",
        "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
        "code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p1"}}"#;
    let facts = auth::label::ResourceFacts::from_json(observation).unwrap();
    let care = CareRelationship {
        appointment_here: true,
        ..CareRelationship::NONE
    };
    let create = Action {
        patient_compartment_of_target: Some("p1"),
        security_labels: &facts.security_labels,
        categories: &facts.categories,
        care_relationship: care,
        ..Action::new(Interaction::Create, "Observation", now + 5_000)
    };
    assert_eq!(
        decide(&principal, &create),
        Decision::Permit(Basis::CareRelationship)
    );
    let condition = Action {
        patient_compartment_of_target: Some("p1"),
        care_relationship: care,
        ..Action::new(Interaction::Create, "Condition", now + 6_000)
    };
    let Decision::Deny(reason) = decide(&principal, &condition) else {
        panic!("a nurse may not record a diagnosis");
    };

    let mut chain = Chain::resume(ChainHead::EMPTY);
    let base = AuditEntry {
        seq: 0,
        at_ms: now + 5_000,
        node: "n1".into(),
        user: principal.user.clone(),
        user_display: "Enf. Juan Pérez".into(),
        role: Some(principal.role),
        clues: principal.clues.clone(),
        facility_name: None,
        action: AuditAction::Create,
        resource_type: Some("Observation".into()),
        resource_id: Some("o9".into()),
        patient_id: Some("p1".into()),
        outcome: Outcome::Success,
        break_glass: false,
        source_ip: Some("127.0.0.1".into()),
        details: principal.token_id.clone(),
    };
    let sealed = vec![
        chain.append(base.clone()),
        chain.append(AuditEntry {
            at_ms: now + 6_000,
            resource_type: Some("Condition".into()),
            resource_id: None,
            outcome: Outcome::Denied,
            details: reason.message_en().into(),
            ..base
        }),
    ];
    assert_eq!(verify_chain(&sealed).unwrap().seq, 2);
}
