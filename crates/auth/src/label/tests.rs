//! Unit tests for security labels and resource facts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Coding, ResourceFacts, Sensitivity, covers, is_very_restricted};
use crate::systems::{V3_ACT_CODE, V3_CONFIDENTIALITY};

#[test]
fn coverage_table() {
    let act = Coding::act_code;
    let cases = [
        (act("PSY"), act("PSY"), true),
        (act("SPI"), act("PSY"), true),
        (act("SPI"), act("COGN"), true),
        (act("BH"), act("COGN"), true),
        (act("COGN"), act("BH"), false),
        (act("SUD"), act("OPIOIDUD"), true),
        (act("ETH"), act("ETHUD"), true),
        (act("MH"), act("PSYTHPN"), true),
        (act("PSYTHPN"), act("PSY"), false),
        (act("SEX"), act("STD"), true),
        (act("STD"), act("SEX"), false),
        (act("HIV"), act("STD"), false),
        (act("SDV"), act("SDV"), true),
        (act("SEX"), act("SDV"), false),
        (Coding::new(V3_CONFIDENTIALITY, "HIV"), act("HIV"), true),
        (Coding::new(V3_CONFIDENTIALITY, "R"), act("R"), false),
        (Coding::new("urn:x", "A"), Coding::new("urn:x", "A"), true),
        (Coding::new("urn:x", "A"), Coding::new("urn:y", "A"), false),
    ];
    for (provision, resource, want) in cases {
        assert_eq!(
            covers(&provision, &resource),
            want,
            "{provision:?} ⊇ {resource:?}"
        );
    }
}

#[test]
fn sensitivity_groups() {
    assert_eq!(
        Sensitivity::of(&Coding::act_code("PSYTHPN")),
        Some(Sensitivity::MentalHealth)
    );
    assert_eq!(
        Sensitivity::of(&Coding::act_code("OPIOIDUD")),
        Some(Sensitivity::SubstanceUse)
    );
    assert_eq!(
        Sensitivity::of(&Coding::act_code("STD")),
        Some(Sensitivity::SexualReproductive)
    );
    assert_eq!(
        Sensitivity::of(&Coding::act_code("HIV")),
        Some(Sensitivity::Hiv)
    );
    assert_eq!(Sensitivity::of(&Coding::act_code("SDV")), None);
    assert_eq!(Sensitivity::of(&Coding::new("urn:x", "HIV")), None);
    for group in Sensitivity::ALL {
        // The label the portal writes covers every code of its group.
        for code in group.members() {
            assert!(
                covers(&group.label(), &Coding::act_code(code)),
                "{group:?} {code}"
            );
        }
        assert_eq!(group.label().system, V3_ACT_CODE);
    }
}

#[test]
fn facts_from_resources() {
    let observation = r#"{"resourceType":"Observation",
        "meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"V"},
                            {"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"HIV"}]},
        "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]},
                    {"coding":[{"code":"local"}]}]}"#;
    let facts = ResourceFacts::from_json(observation).unwrap();
    assert_eq!(facts.security_labels.len(), 2);
    assert!(is_very_restricted(&facts.security_labels));
    assert_eq!(
        facts.categories,
        vec![
            Coding::new(
                "http://terminology.hl7.org/CodeSystem/observation-category",
                "vital-signs"
            ),
            Coding::new("", "local"),
        ]
    );
    // A single CodeableConcept category (e.g. Consent-like shapes) and junk types are tolerated.
    let odd = r#"{"resourceType":"X","meta":{"security":"nope"},"category":{"coding":[{"code":"a"},{"system":"s"}]}}"#;
    let facts = ResourceFacts::from_json(odd).unwrap();
    assert!(facts.security_labels.is_empty());
    assert_eq!(facts.categories, vec![Coding::new("", "a")]);
    assert!(ResourceFacts::from_json("{").is_none());
    assert!(!is_very_restricted(&[Coding::new(V3_CONFIDENTIALITY, "R")]));
}
