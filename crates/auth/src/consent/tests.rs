//! Unit tests for consent evaluation: by facility, role, practitioner, sensitive category,
//! period, nesting, and the fail-closed cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Actor, Consent, ConsentError, ConsentTarget, consent_allows};
use crate::label::Coding;
use crate::role::{Principal, Role};
use crate::scope::Scopes;

const CLUES_A: &str = "DFSSA001234";
const CLUES_B: &str = "JCSSA000001";
const NOW: i64 = 1_800_000_000_000; // 2027-01-15T08:00:00Z

fn staff(role: Role, clues: &str) -> Principal {
    Principal {
        user: "u".into(),
        role,
        clues: Some(clues.into()),
        practitioner_id: Some("pr1".into()),
        patient_id: None,
        scopes: Scopes::empty(),
        token_id: "t".into(),
        break_glass: Vec::new(),
    }
}

/// A privacy consent for Patient/p1 with the given root provision JSON.
fn consent(provision: &str) -> Consent {
    let text = format!(
        r#"{{"resourceType":"Consent","id":"c1","status":"active",
        "scope":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}}]}},
        "category":[{{"coding":[{{"system":"http://loinc.org","code":"59284-0"}}]}}],
        "patient":{{"reference":"Patient/p1"}},
        "provision":{provision}}}"#
    );
    Consent::parse(&text).unwrap()
}

fn facility(clues: &str) -> String {
    format!(
        r#"{{"role":{{"text":"recipient"}},"reference":{{"identifier":{{"system":"{}","value":"{clues}"}}}}}}"#,
        mexico::systems::CLUES
    )
}

fn role_actor(role: &str) -> String {
    format!(
        r#"{{"role":{{"text":"recipient"}},"reference":{{"identifier":{{"system":"{}","value":"{role}"}}}}}}"#,
        crate::systems::ROLE
    )
}

fn label(code: &str) -> String {
    format!(r#"{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"{code}"}}"#)
}

fn allows(consents: &[Consent], who: &Principal, labels: &[Coding]) -> bool {
    let target = ConsentTarget {
        patient_id: "p1",
        resource_type: "Condition",
        security_labels: labels,
    };
    consent_allows(consents, who, &target, NOW)
}

#[test]
fn deny_by_facility() {
    let consents = [consent(&format!(
        r#"{{"type":"deny","actor":[{}]}}"#,
        facility(CLUES_A)
    ))];
    assert!(!allows(&consents, &staff(Role::Physician, CLUES_A), &[]));
    assert!(allows(&consents, &staff(Role::Physician, CLUES_B), &[]));
}

#[test]
fn deny_by_role() {
    let consents = [consent(&format!(
        r#"{{"type":"deny","actor":[{}]}}"#,
        role_actor("nurse")
    ))];
    assert!(!allows(&consents, &staff(Role::Nurse, CLUES_A), &[]));
    assert!(allows(&consents, &staff(Role::Physician, CLUES_A), &[]));
    // The convention in actor.role works too.
    let by_coding = [consent(&format!(
        r#"{{"type":"deny","actor":[{{"role":{{"coding":[{{"system":"{}","code":"receptionist"}}]}},"reference":{{"display":"recepción"}}}}]}}"#,
        crate::systems::ROLE
    ))];
    assert!(!allows(
        &by_coding,
        &staff(Role::Receptionist, CLUES_A),
        &[]
    ));
    assert!(allows(&by_coding, &staff(Role::Nurse, CLUES_A), &[]));
}

/// The portal's typical consent: permit everything, except mental health to everyone but one
/// facility.
#[test]
fn deny_sensitive_category_except_one_facility() {
    let consents = [consent(&format!(
        r#"{{"type":"permit","provision":[{{"type":"deny","securityLabel":[{}],
             "provision":[{{"type":"permit","actor":[{}]}}]}}]}}"#,
        label("MH"),
        facility(CLUES_B)
    ))];
    let at_a = staff(Role::Physician, CLUES_A);
    let at_b = staff(Role::Physician, CLUES_B);
    let table = [
        // label on the resource, allowed at A, allowed at B
        (vec![], true, true),
        (vec![Coding::act_code("MH")], false, true),
        (vec![Coding::act_code("PSY")], false, true),
        (vec![Coding::act_code("PSYTHPN")], false, true),
        (vec![Coding::act_code("EMOTDIS")], false, true),
        (vec![Coding::act_code("HIV")], true, true),
        (
            vec![Coding::new(crate::systems::V3_CONFIDENTIALITY, "PSY")],
            false,
            true,
        ),
        (
            vec![Coding::new(crate::systems::V3_CONFIDENTIALITY, "N")],
            true,
            true,
        ),
        (
            vec![Coding::new("http://example.org/other", "MH")],
            true,
            true,
        ),
    ];
    for (labels, want_a, want_b) in table {
        assert_eq!(allows(&consents, &at_a, &labels), want_a, "{labels:?} at A");
        assert_eq!(allows(&consents, &at_b, &labels), want_b, "{labels:?} at B");
    }
}

#[test]
fn each_of_the_four_categories_covers_its_codes() {
    let cases = [
        ("HIV", vec!["HIV"], vec!["STD", "PSY"]),
        ("SEX", vec!["SEX", "STD"], vec!["HIV", "SDV"]),
        ("ETH", vec!["ETH", "SUD", "ETHUD", "OPIOIDUD"], vec!["PSY"]),
        ("SUD", vec!["ETH", "SUD", "OPIOIDUD"], vec!["HIV"]),
        ("PSYTHPN", vec!["PSYTHPN"], vec!["PSY", "MH"]),
        (
            "SPI",
            vec!["BH", "COGN", "MH", "PSY", "SUD", "ETHUD"],
            vec!["HIV", "SEX"],
        ),
    ];
    let who = staff(Role::Physician, CLUES_A);
    for (denied, hidden, visible) in cases {
        let consents = [consent(&format!(
            r#"{{"type":"deny","securityLabel":[{}]}}"#,
            label(denied)
        ))];
        for code in hidden {
            assert!(
                !allows(&consents, &who, &[Coding::act_code(code)]),
                "{denied} hides {code}"
            );
        }
        for code in visible {
            assert!(
                allows(&consents, &who, &[Coding::act_code(code)]),
                "{denied} shows {code}"
            );
        }
    }
}

#[test]
fn practitioner_period_action_and_class() {
    let who = staff(Role::Physician, CLUES_A);
    let by_practitioner = [consent(
        r#"{"type":"deny","actor":[{"role":{"text":"x"},"reference":{"reference":"Practitioner/pr1"}}]}"#,
    )];
    assert!(!allows(&by_practitioner, &who, &[]));
    let other = [consent(
        r#"{"type":"deny","actor":[{"role":{"text":"x"},"reference":{"reference":"Practitioner/pr2"}}]}"#,
    )];
    assert!(allows(&other, &who, &[]));
    // Periods: past, current, future (NOW is in January 2027).
    let period = |start: &str, end: &str| {
        consent(&format!(
            r#"{{"type":"deny","period":{{"start":"{start}","end":"{end}"}}}}"#
        ))
    };
    assert!(allows(&[period("2025-01-01", "2026-12-31")], &who, &[]));
    assert!(!allows(&[period("2026", "2027-01")], &who, &[]));
    assert!(allows(&[period("2027-02-01", "2028")], &who, &[]));
    // Actions other than access/use/disclose do not restrict reading.
    let collect_only = [consent(
        r#"{"type":"deny","action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"collect"}]}]}"#,
    )];
    assert!(allows(&collect_only, &who, &[]));
    let access = [consent(
        r#"{"type":"deny","action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"access"}]}]}"#,
    )];
    assert!(!allows(&access, &who, &[]));
    // Class restricts by resource type.
    let only_observations = [consent(
        r#"{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Observation"}]}"#,
    )];
    assert!(allows(&only_observations, &who, &[]));
    let conditions = [consent(
        r#"{"type":"deny","class":[{"system":"http://hl7.org/fhir/resource-types","code":"Condition"}]}"#,
    )];
    assert!(!allows(&conditions, &who, &[]));
}

#[test]
fn ignores_inactive_other_patient_and_non_privacy_consents() {
    let who = staff(Role::Physician, CLUES_A);
    let deny_all = r#"{"type":"deny"}"#;
    let mut inactive = consent(deny_all);
    inactive.active = false;
    let mut other_patient = consent(deny_all);
    other_patient.patient_id = Some("p2".into());
    let research = Consent::parse(
        r#"{"resourceType":"Consent","status":"active","patient":{"reference":"Patient/p1"},
            "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"research"}]},
            "provision":{"type":"deny"}}"#,
    )
    .unwrap();
    assert!(allows(&[inactive, other_patient, research], &who, &[]));
    assert!(!allows(&[consent(deny_all)], &who, &[]));
    // No consents: no extra restriction.
    assert!(allows(&[], &who, &[]));
}

#[test]
fn deny_wins_across_consents_and_siblings() {
    let who = staff(Role::Physician, CLUES_A);
    let permit_all = consent(r#"{"type":"permit"}"#);
    let deny_a = consent(&format!(
        r#"{{"type":"deny","actor":[{}]}}"#,
        facility(CLUES_A)
    ));
    assert!(!allows(&[permit_all.clone(), deny_a], &who, &[]));
    let siblings = consent(&format!(
        r#"{{"type":"permit","provision":[{{"type":"permit","actor":[{}]}},{{"type":"deny","actor":[{}]}}]}}"#,
        role_actor("physician"),
        facility(CLUES_A)
    ));
    assert!(!allows(&[siblings], &who, &[]));
}

#[test]
fn fails_closed_on_what_cannot_be_evaluated() {
    let who = staff(Role::Physician, CLUES_A);
    // An Organization reference nobody resolved: a deny applies to everyone.
    let unresolved = consent(
        r#"{"type":"deny","actor":[{"role":{"text":"x"},"reference":{"reference":"Organization/o1"}}]}"#,
    );
    assert!(!allows(std::slice::from_ref(&unresolved), &who, &[]));
    // Resolved to another facility's CLUES: no longer applies to A.
    let mut resolved = unresolved.clone();
    resolved.resolve_organizations(&|id| (id == "o1").then(|| CLUES_B.to_owned()));
    assert!(allows(&[resolved.clone()], &who, &[]));
    assert!(!allows(&[resolved], &staff(Role::Physician, CLUES_B), &[]));
    // The same unresolved reference in a permit exception grants nothing.
    let permit_unresolved = consent(
        r#"{"type":"deny","provision":[{"type":"permit","actor":[{"role":{"text":"x"},"reference":{"reference":"Organization/o1"}}]}]}"#,
    );
    assert!(!allows(
        &[permit_unresolved],
        &staff(Role::Physician, CLUES_B),
        &[]
    ));
    // Unparseable period, unsupported elements: deny applies.
    for provision in [
        r#"{"type":"deny","period":{"start":"soon"}}"#,
        r#"{"type":"deny","data":[{"meaning":"instance","reference":{"reference":"Observation/o"}}]}"#,
        r#"{"type":"deny","purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"HRESCH"}]}"#,
    ] {
        assert!(!allows(&[consent(provision)], &who, &[]), "{provision}");
    }
    // A RelatedPerson actor is known not to be staff: a deny for them does not hit A.
    let related = consent(
        r#"{"type":"deny","actor":[{"role":{"text":"x"},"reference":{"reference":"RelatedPerson/r1"}}]}"#,
    );
    assert!(allows(&[related], &who, &[]));
    // Deep nesting is bounded and fails closed for a deny.
    let mut deep = String::from(r#"{"type":"deny"}"#);
    for _ in 0..40 {
        deep = format!(r#"{{"type":"deny","provision":[{deep}]}}"#);
    }
    assert!(!allows(&[consent(&deep)], &who, &[]));
}

#[test]
fn patient_and_system_are_not_restricted() {
    let deny_all = [consent(r#"{"type":"deny"}"#)];
    let mut patient = staff(Role::Patient, CLUES_A);
    patient.clues = None;
    patient.patient_id = Some("p1".into());
    assert!(allows(&deny_all, &patient, &[]));
    assert!(allows(&deny_all, &staff(Role::System, CLUES_A), &[]));
    // Another patient is a person like any other (and the role matrix stops them anyway).
    patient.patient_id = Some("p2".into());
    assert!(!allows(&deny_all, &patient, &[]));
}

#[test]
fn parse_errors_and_actor_kinds() {
    assert_eq!(Consent::parse("not json"), Err(ConsentError::Json));
    assert_eq!(
        Consent::parse(r#"{"resourceType":"Patient"}"#),
        Err(ConsentError::NotConsent)
    );
    let parsed = consent(&format!(
        r#"{{"type":"deny","actor":[{},{},{{"role":{{"text":"x"}},"reference":{{"reference":"Practitioner/p9"}}}},{{"role":{{"text":"x"}},"reference":{{"reference":"CareTeam/t"}}}},{}]}}"#,
        facility(CLUES_A),
        role_actor("nurse"),
        role_actor("janitor")
    ));
    let actors = &parsed.provision.as_ref().unwrap().actors;
    assert_eq!(
        actors,
        &vec![
            Actor::Facility(CLUES_A.into()),
            Actor::Role(Role::Nurse),
            Actor::Practitioner("p9".into()),
            Actor::Unresolved("CareTeam/t".into()),
            Actor::Other,
        ]
    );
    assert_eq!(parsed.patient_id.as_deref(), Some("p1"));
    assert_eq!(parsed.id.as_deref(), Some("c1"));
}
