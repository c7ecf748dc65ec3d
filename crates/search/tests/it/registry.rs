//! The embedded R4 table: it loads, and it has what issue 2 requires.

use search::{ParamKind, Registry, registry};

/// Issue 2's list of parameters clinicians and integrators use, with their R4 kinds.
const REQUIRED: &[(&str, &str, ParamKind)] = &[
    ("Patient", "identifier", ParamKind::Token),
    ("Patient", "name", ParamKind::String),
    ("Patient", "family", ParamKind::String),
    ("Patient", "given", ParamKind::String),
    ("Patient", "birthdate", ParamKind::Date),
    ("Patient", "gender", ParamKind::Token),
    ("Patient", "address-state", ParamKind::String),
    ("Patient", "_id", ParamKind::Token),
    ("Patient", "_lastUpdated", ParamKind::Date),
    ("Encounter", "patient", ParamKind::Reference),
    ("Encounter", "subject", ParamKind::Reference),
    ("Encounter", "date", ParamKind::Date),
    ("Encounter", "status", ParamKind::Token),
    ("Encounter", "class", ParamKind::Token),
    ("Encounter", "service-provider", ParamKind::Reference),
    ("Condition", "patient", ParamKind::Reference),
    ("Condition", "code", ParamKind::Token),
    ("Condition", "clinical-status", ParamKind::Token),
    ("Condition", "onset-date", ParamKind::Date),
    ("Condition", "encounter", ParamKind::Reference),
    ("Observation", "patient", ParamKind::Reference),
    ("Observation", "code", ParamKind::Token),
    ("Observation", "category", ParamKind::Token),
    ("Observation", "date", ParamKind::Date),
    ("Observation", "value-quantity", ParamKind::Quantity),
    ("Observation", "encounter", ParamKind::Reference),
    ("Observation", "status", ParamKind::Token),
    ("MedicationRequest", "patient", ParamKind::Reference),
    ("MedicationRequest", "status", ParamKind::Token),
    ("MedicationRequest", "authoredon", ParamKind::Date),
    ("MedicationRequest", "medication", ParamKind::Reference),
    ("AllergyIntolerance", "patient", ParamKind::Reference),
    ("AllergyIntolerance", "code", ParamKind::Token),
    ("AllergyIntolerance", "criticality", ParamKind::Token),
    ("Immunization", "patient", ParamKind::Reference),
    ("Immunization", "vaccine-code", ParamKind::Token),
    ("Immunization", "date", ParamKind::Date),
    ("DiagnosticReport", "patient", ParamKind::Reference),
    ("DiagnosticReport", "code", ParamKind::Token),
    ("DiagnosticReport", "date", ParamKind::Date),
    ("DiagnosticReport", "category", ParamKind::Token),
    ("Practitioner", "identifier", ParamKind::Token),
    ("Practitioner", "name", ParamKind::String),
    ("Organization", "identifier", ParamKind::Token),
    ("Organization", "name", ParamKind::String),
    ("Location", "identifier", ParamKind::Token),
    ("Location", "name", ParamKind::String),
    ("Location", "address-state", ParamKind::String),
    ("Patient", "_tag", ParamKind::Token),
    ("Patient", "_profile", ParamKind::Uri),
    ("Patient", "_security", ParamKind::Token),
    ("Patient", "_source", ParamKind::Uri),
];

#[test]
fn required_parameters_are_supported_with_their_r4_kind() {
    let reg = registry();
    for (rtype, code, kind) in REQUIRED {
        let param = reg
            .param(rtype, code)
            .unwrap_or_else(|| panic!("{rtype}.{code} missing"));
        assert_eq!(param.kind, *kind, "{rtype}.{code}");
        assert!(
            param
                .url
                .starts_with("http://hl7.org/fhir/SearchParameter/"),
            "{}",
            param.url
        );
        assert!(
            reg.params(rtype).any(|p| p.code == *code),
            "{rtype}.{code} not listed for the CapabilityStatement"
        );
    }
}

#[test]
fn every_r4_type_is_there_and_the_r4b_backport_is_not() {
    let reg = registry();
    let types = reg.resource_types();
    assert!(types.len() >= 145, "{}", types.len());
    for t in [
        "Patient",
        "Claim",
        "Goal",
        "ImagingStudy",
        "Device",
        "ExplanationOfBenefit",
    ] {
        assert!(reg.is_resource_type(t), "{t}");
        assert!(reg.params(t).count() > 5, "{t}");
    }
    assert!(!reg.is_resource_type("SubscriptionStatus"));
    assert!(reg.param("DeviceDefinition", "classification").is_none());
}

#[test]
fn composite_and_special_parameters_are_known_but_unsupported() {
    let reg = registry();
    assert!(reg.param("Observation", "code-value-quantity").is_none());
    let unsupported = reg
        .unsupported("Observation", "code-value-quantity")
        .unwrap();
    assert_eq!(unsupported.type_code, "composite");
    assert!(reg.unsupported("Location", "near").is_some());
    assert!(reg.unsupported("Patient", "_content").is_some());
    assert!(
        !reg.params("Observation")
            .any(|p| p.code == "code-value-quantity")
    );
    // Unknown names are neither.
    assert!(reg.unsupported("Patient", "shoe-size").is_none());
}

#[test]
fn common_parameters_apply_to_every_type_and_only_to_types() {
    let reg = registry();
    let tag = reg.param("Claim", "_tag").unwrap();
    assert_eq!(tag.kind, ParamKind::Token);
    assert_eq!(tag.resource_type, "Resource");
    assert!(reg.param("NotAType", "_tag").is_none());
    assert_eq!(reg.params("NotAType").count(), 0);
}

#[test]
fn comparators_and_documentation_come_from_the_definitions() {
    let reg = registry();
    let birthdate = reg.param("Patient", "birthdate").unwrap();
    assert_eq!(birthdate.comparators.len(), 9);
    assert_eq!(birthdate.documentation, "The patient's date of birth");
    let gender = reg.param("Patient", "gender").unwrap();
    assert!(gender.comparators.is_empty());
    assert_eq!(gender.modifiers, ["missing", "not", "text"]);
    let subject = reg.param("Observation", "subject").unwrap();
    assert!(subject.targets.iter().any(|t| t == "Patient"));
    assert!(subject.targets.iter().any(|t| t == "Group"));
}

#[test]
fn patient_compartment_parameters_follow_the_compartment_definition() {
    let reg = registry();
    let codes = |t: &str| {
        reg.compartment_params(t)
            .map(|p| p.code.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(codes("Observation"), ["subject", "performer"]);
    assert_eq!(
        codes("AllergyIntolerance"),
        ["patient", "recorder", "asserter"]
    );
    assert_eq!(codes("Patient"), ["link"]);
    assert!(codes("Organization").is_empty());
}

#[test]
fn a_malformed_table_is_an_error_not_a_panic() {
    assert!(Registry::from_json("not json").is_err());
    assert!(Registry::from_json("{}").is_err());
    let bad_leaf = r#"{"common":[],"types":{"X":{"compartment":[],"params":[
        {"code":"a","type":"token","url":"u","paths":[{"steps":["a"],"leaf":"Nope"}]}]}}}"#;
    assert!(Registry::from_json(bad_leaf).is_err());
    let ok = r##"{"common":[],"types":{"X":{"compartment":[],"params":[
        {"code":"a","type":"token","url":"u","paths":[{"steps":["a","?system=x","@Patient","#0","first()"],"leaf":"code"}]}]}}}"##;
    let reg = Registry::from_json(ok).unwrap();
    assert_eq!(reg.param("X", "a").unwrap().kind, ParamKind::Token);
}

#[test]
fn duplicate_parameters_are_stored_as_their_originals() {
    let registry = search::registry();
    let patient = registry.param("Observation", "patient").unwrap();
    assert_eq!(patient.index_codes(), (vec!["subject"], Some("Patient")));
    let combo = registry.param("Observation", "combo-code").unwrap();
    let (mut codes, target) = combo.index_codes();
    codes.sort_unstable();
    assert_eq!((codes, target), (vec!["code", "component-code"], None));
    // Parameters with rows of their own are not aliases.
    for (rtype, code) in [
        ("Observation", "subject"),
        ("Observation", "code"),
        ("Patient", "name"),
        ("Patient", "family"),
    ] {
        assert!(
            registry.param(rtype, code).unwrap().stored_as.is_none(),
            "{rtype}.{code}"
        );
    }
    let n_aliases: usize = registry
        .resource_types()
        .iter()
        .flat_map(|rtype| registry.params(rtype))
        .filter(|p| p.stored_as.is_some())
        .count();
    assert!(n_aliases > 50, "{n_aliases}");
}
