//! Unit tests of the pure profile rules (the store-bound rules are tested over HTTP in
//! `crates/cli/tests/it/identity.rs`).

use fhir::{Json, Severity};

use super::*;

/// María Guadalupe Hernández López, F, 1984-03-07, Jalisco (RENAPO rules, check digit computed).
const CURP: &str = "HELG840307MJCRPD06";

fn patient(curp: Option<&str>, given: &str, family: &str, birth: &str, gender: &str) -> Json {
    let identifier = curp.map_or(String::new(), |c| {
        format!(
            r#""identifier":[{{"system":"{}","value":"{c}"}}],"#,
            systems::CURP
        )
    });
    fhir::json::parse_str(&format!(
        r#"{{"resourceType":"Patient",{identifier}"name":[{{"use":"official","family":"{family}","given":["{given}"]}}],"gender":"{gender}","birthDate":"{birth}"}}"#
    ))
    .unwrap()
}

fn errors(issues: &[Issue]) -> Vec<String> {
    issues
        .iter()
        .filter(|i| i.is_error())
        .map(|i| i.expression.clone().unwrap_or_default())
        .collect()
}

fn warnings(issues: &[Issue]) -> Vec<String> {
    issues
        .iter()
        .filter(|i| i.severity == Severity::Warning)
        .map(|i| i.expression.clone().unwrap_or_default())
        .collect()
}

#[test]
fn a_consistent_patient_passes_without_findings() {
    let p = patient(
        Some(CURP),
        "María Guadalupe",
        "Hernández López",
        "1984-03-07",
        "female",
    );
    assert!(
        check("Patient", &p).is_empty(),
        "{:?}",
        check("Patient", &p)
    );
    // No CURP at all is allowed.
    let p = patient(None, "Ana", "Soto", "2001-01-01", "female");
    assert!(check("Patient", &p).is_empty());
}

#[test]
fn every_single_character_change_that_breaks_the_curp_is_an_error_at_its_identifier() {
    // Changing the check digit always breaks it; so does any non-alphanumeric character.
    for bad in [
        "HELG840307MJCRPD07",
        "HELG840307MJCRPD0-",
        "HELG840307MJCRPD0",
    ] {
        let p = patient(
            Some(bad),
            "María Guadalupe",
            "Hernández López",
            "1984-03-07",
            "female",
        );
        let issues = check("Patient", &p);
        assert!(!errors(&issues).is_empty(), "{bad}");
        assert!(
            errors(&issues)
                .iter()
                .all(|e| e == "Patient.identifier[0].value"),
            "{bad}: {issues:?}"
        );
        assert!(
            issues
                .iter()
                .all(|i| !i.message_es.is_empty() && !i.message_en.is_empty())
        );
    }
}

#[test]
fn old_curps_are_history_and_not_checked() {
    let p = fhir::json::parse_str(&format!(
        r#"{{"resourceType":"Patient","identifier":[{{"use":"old","system":"{}","value":"NOT A CURP"}}]}}"#,
        systems::CURP
    ))
    .unwrap();
    assert!(check("Patient", &p).is_empty());
    assert_eq!(active_curp(&p), None);
}

#[test]
fn birth_date_and_gender_must_agree_names_should() {
    let p = patient(
        Some(CURP),
        "María Guadalupe",
        "Hernández López",
        "1984-03-08",
        "female",
    );
    assert_eq!(errors(&check("Patient", &p)), vec!["Patient.birthDate"]);
    let p = patient(
        Some(CURP),
        "María Guadalupe",
        "Hernández López",
        "1985",
        "female",
    );
    assert_eq!(errors(&check("Patient", &p)), vec!["Patient.birthDate"]);
    let p = patient(
        Some(CURP),
        "María Guadalupe",
        "Hernández López",
        "1984",
        "other",
    );
    assert_eq!(errors(&check("Patient", &p)), vec!["Patient.gender"]);
    let p = patient(
        Some(CURP),
        "Rosa",
        "Hernández López",
        "1984-03-07",
        "female",
    );
    let issues = check("Patient", &p);
    assert!(errors(&issues).is_empty());
    assert_eq!(warnings(&issues), vec!["Patient.name[0]"]);
}

#[test]
fn two_different_current_curps_are_an_error() {
    let p = fhir::json::parse_str(&format!(
        r#"{{"resourceType":"Patient","identifier":[{{"system":"{s}","value":"{CURP}"}},{{"system":"{s}","value":"HEGG560427MVZRRL04"}}]}}"#,
        s = systems::CURP
    ))
    .unwrap();
    assert_eq!(
        errors(&check("Patient", &p)),
        vec!["Patient.identifier[1].value"]
    );
}

#[test]
fn placeholder_is_a_warning_on_patients_and_an_error_on_practitioners() {
    let p = patient(
        Some(mexico::curp::PLACEHOLDER),
        "Ana",
        "Soto",
        "2001-01-01",
        "female",
    );
    let issues = check("Patient", &p);
    assert!(errors(&issues).is_empty());
    assert_eq!(warnings(&issues), vec!["Patient.identifier[0].value"]);
    assert_eq!(active_curp(&p), None);

    let mut practitioner = p.clone();
    if let Some(o) = practitioner.as_object_mut() {
        o.insert("resourceType", Json::str("Practitioner"));
    }
    assert_eq!(
        errors(&check("Practitioner", &practitioner)),
        vec!["Practitioner.identifier[0].value"]
    );

    // In the transaction the placeholder turns into the pending flag.
    let mut p = p;
    replace_placeholder(&mut p);
    assert!(p.get("identifier").is_none());
    assert!(has_extension(&p, systems::EXT_CURP_PENDING));
}

#[test]
fn keep_history_turns_the_replaced_curp_into_an_old_identifier() {
    let previous = patient(
        Some(CURP),
        "María Guadalupe",
        "Hernández López",
        "1984-03-07",
        "female",
    );
    let mut next = patient(
        Some("HEGG560427MVZRRL04"),
        "María Guadalupe",
        "Hernández López",
        "1984-03-07",
        "female",
    );
    keep_history(&previous, &mut next);
    let ids = identifiers(&next);
    assert_eq!(ids.len(), 2);
    assert_eq!(str_member(&ids[1], "use"), Some("old"));
    assert_eq!(str_member(&ids[1], "value"), Some(CURP));
    // Unchanged CURP: nothing added.
    let mut same = previous.clone();
    keep_history(&previous, &mut same);
    assert_eq!(identifiers(&same).len(), 1);
}

#[test]
fn folio_goes_after_the_header_members_and_is_given_once() {
    let mut p = patient(None, "Ana", "Soto", "2001-01-01", "female");
    give_folio(&mut p);
    give_folio(&mut p);
    let keys: Vec<&str> = p.as_object().unwrap().keys().collect();
    assert_eq!(&keys[..3], &["resourceType", "extension", "identifier"]);
    assert_eq!(identifiers(&p).len(), 1);
    assert_eq!(
        p.get("extension").map(Json::as_list).map(<[Json]>::len),
        Some(1)
    );
    assert!(
        fhir::validate::validate_resource(&p)
            .iter()
            .all(|i| !i.is_error())
    );
}

#[test]
fn clues_and_cedula_formats() {
    let org = |clues: &str| {
        fhir::json::parse_str(&format!(
            r#"{{"resourceType":"Organization","identifier":[{{"system":"{}","value":"{clues}"}}]}}"#,
            systems::CLUES
        ))
        .unwrap()
    };
    assert!(check("Organization", &org("JCSSA005386")).is_empty());
    assert_eq!(
        errors(&check("Organization", &org("JCSSA00538"))),
        vec!["Organization.identifier[0].value"]
    );
    // An institution outside the partial catalog is only a warning.
    let unknown = check("Organization", &org("JCQQQ005386"));
    assert!(errors(&unknown).is_empty(), "{unknown:?}");
    assert_eq!(warnings(&unknown).len(), 1);

    let practitioner = fhir::json::parse_str(&format!(
        r#"{{"resourceType":"Practitioner","identifier":[{{"system":"{}","value":"123"}}]}}"#,
        systems::CEDULA
    ))
    .unwrap();
    assert_eq!(
        errors(&check("Practitioner", &practitioner)),
        vec!["Practitioner.identifier[0].value"]
    );
}
