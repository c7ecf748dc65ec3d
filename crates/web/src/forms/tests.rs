//! What the forms write: the FHIR shapes, CURP hints, escaping.

use super::*;

fn gloria() -> RegisterForm {
    RegisterForm {
        given: "Gloria".into(),
        first_surname: "Hernández".into(),
        second_surname: "García".into(),
        birth_date: "1956-04-27".into(),
        sex: "M".into(),
        birth_state: "VZ".into(),
        ..RegisterForm::default()
    }
}

#[test]
fn the_typed_data_imply_the_curp_prefix() {
    assert_eq!(
        gloria().implied_curp_prefix().as_deref(),
        Some("HEGG560427MVZRRL")
    );
    let without_state = RegisterForm {
        birth_state: String::new(),
        ..gloria()
    };
    assert_eq!(
        without_state.implied_curp_prefix().as_deref(),
        Some("HEGG560427M")
    );
    let no_date = RegisterForm {
        birth_date: String::new(),
        ..gloria()
    };
    assert_eq!(no_date.implied_curp_prefix(), None);
}

#[test]
fn a_patient_without_curp_is_flagged_pending_and_keeps_its_birth_state() {
    let patient = gloria().patient(Some("Organization/o1"));
    assert_eq!(patient["name"][0]["family"], "Hernández García");
    assert_eq!(patient["gender"], "female");
    assert!(patient.get("identifier").is_none());
    let urls: Vec<&str> = patient["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            mexico::systems::EXT_CURP_PENDING,
            mexico::systems::EXT_BIRTH_STATE
        ]
    );
    let with_curp = RegisterForm {
        curp: " hegg560427mvzrrl04 ".into(),
        ..gloria()
    }
    .patient(None);
    assert_eq!(with_curp["identifier"][0]["value"], "HEGG560427MVZRRL04");
}

fn session() -> SessionInfo {
    SessionInfo {
        secret: "t".into(),
        csrf: "c".into(),
        username: "medica".into(),
        display_name: "Dra. Ana López".into(),
        role: "medico".into(),
        role_label_es: "Médica".into(),
        role_label_en: "Physician".into(),
        practitioner: None,
        organization: Some("Organization/o1".into()),
        facility_name: "Centro Uno".into(),
        facility_clues: "MSIMB000001".into(),
        requester: ehr::Requester::local_system("pruebas"),
    }
}

#[test]
fn a_consultation_is_one_transaction_referencing_its_encounter() {
    let form = ConsultForm {
        weight_kg: "81".into(),
        height_cm: "160".into(),
        systolic: "130".into(),
        diastolic: "85".into(),
        subjective: "Cefalea <3 días> & mareo".into(),
        rx_drug_1: "Paracetamol".into(),
        labs: vec!["2339-0".into(), "bogus".into()],
        ..ConsultForm::default()
    };
    let bundle = consultation_bundle(&ConsultInput {
        patient_id: "p1",
        form: &form,
        diagnosis: Some(("I10", "Hipertensión esencial (primaria)")),
        session: &session(),
        now: "2026-11-25T09:00:00-06:00",
    });
    let entries = bundle["entry"].as_array().unwrap();
    let types: Vec<&str> = entries
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "Encounter",
            "Observation",
            "Observation",
            "Observation",
            "Observation",
            "Condition",
            "MedicationRequest",
            "ServiceRequest",
            "Composition"
        ]
    );
    let urls: std::collections::HashSet<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls.len(),
        entries.len(),
        "fullUrls are unique within the Bundle"
    );
    let encounter_url = entries[0]["fullUrl"].as_str().unwrap();
    for entry in &entries[1..] {
        assert_eq!(entry["resource"]["encounter"]["reference"], encounter_url);
    }
    // BMI computed from weight and height: 81 / 1.6² = 31.64 → 31.6 (one decimal).
    assert_eq!(entries[3]["resource"]["valueQuantity"]["value"], 31.6);
    let note = &entries[8]["resource"];
    assert_eq!(note["status"], "final");
    assert_eq!(note["attester"][0]["mode"], "legal");
    // Typed text is escaped in the narrative.
    assert!(
        note["section"][0]["text"]["div"]
            .as_str()
            .unwrap()
            .contains("Cefalea &lt;3 días&gt; &amp; mareo")
    );
}

#[test]
fn a_referral_names_both_facilities_with_their_clues() {
    let form = ReferForm {
        to: "Organization/o2".into(),
        reason: "Valoración".into(),
        ..ReferForm::default()
    };
    let request = referral(&ReferInput {
        patient_id: "p1",
        form: &form,
        to_name: "Hospital Dos",
        to_clues: "MSIMB000002",
        diagnosis: None,
        session: &session(),
        now: "2026-11-25T09:00:00-06:00",
    });
    assert_eq!(request["status"], "active");
    assert_eq!(request["requester"]["reference"], "Organization/o1");
    assert_eq!(request["performer"][0]["reference"], "Organization/o2");
    let notes = request["note"].to_string();
    assert!(
        notes.contains("MSIMB000001") && notes.contains("MSIMB000002"),
        "{notes}"
    );
}
