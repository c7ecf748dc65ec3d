//! Extraction of person records from R4 `Patient` JSON.

use serde_json::json;

use super::*;

#[test]
fn official_name_curp_and_extensions_are_read() {
    let patient = json!({
        "resourceType": "Patient",
        "identifier": [
            {"system": CURP_SYSTEM, "value": "HEGG560427MVZRRL00", "use": "old"},
            {"system": "urn:oid:1.2.3", "value": "EXP-1"},
            {"system": CURP_SYSTEM, "value": " hegg560427mvzrrl04 "}
        ],
        "name": [
            {"use": "nickname", "given": ["Lupita"], "family": "Gómez"},
            {
                "use": "official",
                "given": ["María", "Guadalupe"],
                "family": "Hernández Gómez",
                "_family": {"extension": [
                    {"url": FATHERS_FAMILY_EXTENSION, "valueString": "Hernández"},
                    {"url": MOTHERS_FAMILY_EXTENSION, "valueString": "Gómez"}
                ]}
            }
        ],
        "birthDate": "1956-04-27",
        "gender": "female",
        "extension": [{"url": BIRTH_STATE_EXTENSION, "valueCoding": {"code": "VZ"}}],
        "address": [
            {"use": "old", "state": "Puebla"},
            {"use": "home", "state": "Jalisco"}
        ],
        "telecom": [
            {"system": "email", "value": "x@example.mx"},
            {"system": "phone", "use": "work", "value": "55 1111 2222"},
            {"system": "phone", "use": "mobile", "value": "+52 33 1234 5678"}
        ]
    });
    let record = PersonRecord::from_patient_json("pat-1", &patient);
    assert_eq!(
        record,
        PersonRecord {
            id: "pat-1".to_owned(),
            curp: Some("HEGG560427MVZRRL04".to_owned()),
            given_names: "María Guadalupe".to_owned(),
            first_surname: "Hernández".to_owned(),
            second_surname: Some("Gómez".to_owned()),
            birth_date: Some("1956-04-27".to_owned()),
            sex: Some(Sex::Female),
            birth_state: Some("VZ".to_owned()),
            address_state: Some("Jalisco".to_owned()),
            phone: Some("+52 33 1234 5678".to_owned()),
        }
    );
}

#[test]
fn family_without_extensions_is_split_and_birth_state_comes_from_curp() {
    let patient = json!({
        "resourceType": "Patient",
        "identifier": [{"system": CURP_SYSTEM, "value": "SABC560626MDFLRN01"}],
        "name": [{"given": ["Carmen"], "family": "de la Cruz Ruiz"}],
        "gender": "female"
    });
    let record = PersonRecord::from_patient_json("pat-2", &patient);
    assert_eq!(record.first_surname, "de la Cruz");
    assert_eq!(record.second_surname.as_deref(), Some("Ruiz"));
    assert_eq!(record.birth_state.as_deref(), Some("DF"));
    assert_eq!(record.birth_date, None);
}

#[test]
fn only_mothers_extension_leaves_the_rest_as_first_surname() {
    let patient = json!({
        "name": [{
            "given": ["Juan"],
            "family": "Ponce de León Gómez",
            "_family": {"extension": [{"url": MOTHERS_FAMILY_EXTENSION, "valueString": "gomez"}]}
        }]
    });
    let record = PersonRecord::from_patient_json("pat-3", &patient);
    assert_eq!(record.first_surname, "Ponce de León");
    assert_eq!(record.second_surname.as_deref(), Some("gomez"));
}

#[test]
fn only_fathers_extension_leaves_the_rest_as_second_surname() {
    let patient = json!({
        "name": [{
            "given": ["Juan"],
            "family": "Hernández Gómez",
            "_family": {"extension": [{"url": FATHERS_FAMILY_EXTENSION, "valueString": "Hernandez"}]}
        }]
    });
    let record = PersonRecord::from_patient_json("pat-6", &patient);
    assert_eq!(record.first_surname, "Hernandez");
    assert_eq!(record.second_surname.as_deref(), Some("Gómez"));
}

#[test]
fn placeholders_and_junk_are_ignored_without_failing() {
    let patient = json!({
        "identifier": [
            {"system": CURP_SYSTEM, "value": GENERIC_CURP},
            {"system": CURP_SYSTEM}
        ],
        "name": "not an array",
        "gender": "mujer",
        "birthDate": 19850312,
        "extension": [{"url": BIRTH_STATE_EXTENSION, "valueCode": "Jalisco"}],
        "telecom": [{"system": "phone", "value": "  "}]
    });
    let record = PersonRecord::from_patient_json("pat-4", &patient);
    assert_eq!(record.curp, None);
    assert_eq!(record.given_names, "");
    assert_eq!(record.first_surname, "");
    assert_eq!(record.sex, None);
    assert_eq!(record.birth_date, None);
    assert_eq!(record.birth_state.as_deref(), Some("JC"));
    assert_eq!(record.phone, None);
    assert_eq!(
        PersonRecord::from_patient_json("x", &json!(null)).first_surname,
        ""
    );
}

#[test]
fn name_text_is_the_last_resort() {
    let patient = json!({"name": [{"use": "official", "text": "Ana Sofía Ramírez Luna", "given": ["Ana", "Sofía"]}]});
    let record = PersonRecord::from_patient_json("pat-5", &patient);
    assert_eq!(record.given_names, "Ana Sofía");
    assert_eq!(record.first_surname, "Ramírez");
    assert_eq!(record.second_surname.as_deref(), Some("Luna"));
}

#[test]
fn sex_codes_round_trip() {
    for sex in [Sex::Male, Sex::Female, Sex::Other, Sex::Unknown] {
        assert_eq!(Sex::from_fhir_code(sex.fhir_code()), Some(sex));
    }
}
