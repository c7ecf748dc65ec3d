//! What a signed consultation writes: one transaction, every part referencing its Encounter, the
//! note saying all of it, overrides recorded, renewals stopping the renewed request.

use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::diagnoses;

fn session() -> SessionInfo {
    SessionInfo {
        secret: "t".into(),
        csrf: "c".into(),
        username: "medica".into(),
        display_name: "Dra. Ana López".into(),
        role: "physician".into(),
        role_label_es: "Médica".into(),
        role_label_en: "Physician".into(),
        practitioner: Some("Practitioner/pr1".into()),
        organization: Some("Organization/o1".into()),
        facility_name: "Centro Uno".into(),
        facility_clues: "MSIMB000001".into(),
        requester: ehr::Requester::local_system("pruebas"),
    }
}

fn form(body: &str) -> (ConsultForm, Vec<(String, String)>) {
    ConsultForm::from_body(body.as_bytes())
}

#[test]
fn a_consultation_is_one_transaction_referencing_its_encounter() {
    let (form, pairs) = form(
        "weight_kg=81&height_cm=160&systolic=130&diastolic=85&resp_rate=18&spo2=97\
         &subjective=Cefalea+%3C3+d%C3%ADas%3E+%26+mareo&dx_1=I10&dx_kind_1=follow-up\
         &dx_2=E11.9&dx_kind_2=first&dx_3=E78.5\
         &rx_med_1=paracetamol+500&rx_dose_1=1&rx_every_1=8&rx_days_1=3\
         &lab=2339-0&lab=36643-5&prognosis=Bueno+para+la+vida&action=sign",
    );
    let (dx, _) = diagnoses::rows_from_pairs(&pairs, &[], false);
    assert_eq!(dx.len(), 3);
    let vitals = crate::vitals::check(&form.vitals, Some(40 * 365));
    assert!(!vitals.blocks(), "{:?}", vitals.messages);
    let rx = prescribing::check_rows(&form.rx, &[], &[], Default::default());
    assert!(rx[0].holds().is_empty(), "{:?}", rx[0].holds());
    let studies: Vec<&'static Study> = form
        .studies
        .iter()
        .filter_map(|c| crate::orders::study_by_code(c))
        .collect();
    let known = HashMap::from([("I10".to_string(), "c-old".to_string())]);
    let bundle = bundle(&NoteInput {
        patient_id: "p1",
        form: &form,
        vitals: &vitals,
        diagnoses: &dx,
        known_problems: &known,
        prescriptions: &rx,
        renewed: &[],
        studies: &studies,
        repeat_warnings: &[],
        session: &session(),
        now: "2026-11-25T09:00:00-06:00",
        today: "2026-11-25",
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
            // Weight, height, respiratory rate, SpO₂, BMI, blood pressure.
            "Observation",
            "Observation",
            "Observation",
            "Observation",
            "Observation",
            "Observation",
            // The follow-up of a known problem references it: two new Conditions.
            "Condition",
            "Condition",
            "MedicationRequest",
            "ServiceRequest",
            "ServiceRequest",
            "Composition"
        ]
    );
    let urls: std::collections::HashSet<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), entries.len(), "fullUrls are unique");
    let encounter = &entries[0]["resource"];
    let encounter_url = entries[0]["fullUrl"].as_str().unwrap();
    for entry in &entries[1..] {
        assert_eq!(entry["resource"]["encounter"]["reference"], encounter_url);
    }
    let diagnosis = encounter["diagnosis"].as_array().unwrap();
    assert_eq!(diagnosis.len(), 3);
    assert_eq!(diagnosis[0]["condition"]["reference"], "Condition/c-old");
    assert_eq!(diagnosis[0]["extension"][0]["valueBoolean"], false);
    assert_eq!(diagnosis[1]["extension"][0]["valueBoolean"], true);
    assert_eq!(encounter["reasonCode"].as_array().unwrap().len(), 3);
    // BMI from weight and height: 81 / 1.6² = 31.6.
    let bmi = entries
        .iter()
        .find(|e| e["resource"]["code"]["coding"][0]["code"] == "39156-5")
        .unwrap();
    assert_eq!(bmi["resource"]["valueQuantity"]["value"], 31.6);
    let request = &entries[9]["resource"];
    assert_eq!(
        request["medicationCodeableConcept"]["coding"][0]["code"],
        "010.000.0104.00"
    );
    assert_eq!(
        request["dosageInstruction"][0]["timing"]["repeat"]["period"],
        8
    );
    assert_eq!(request["dispenseRequest"]["quantity"]["value"], 9.0);
    let imaging = &entries[11]["resource"];
    assert_eq!(imaging["category"][0]["coding"][0]["code"], "363679005");
    let note = &entries[12]["resource"];
    assert_eq!(note["status"], "final");
    assert_eq!(note["attester"][0]["mode"], "legal");
    let text: String = note["section"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"]["div"].as_str().unwrap())
        .collect();
    for expected in [
        "Tensión arterial: 130/85 mmHg",
        "Frecuencia respiratoria: 18 rpm",
        "SpO₂: 97 %",
        "Índice de masa corporal: 31.6",
        "I10",
        "Subsecuente",
        "Primera vez",
        "Paracetamol",
        "cada 8 horas durante 3 días",
        "Radiografía de tórax",
        "Bueno para la vida",
        // Typed text is escaped in the narrative.
        "Cefalea &lt;3 días&gt; &amp; mareo",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
}

#[test]
fn an_override_is_recorded_as_a_detected_issue_and_a_renewal_stops_the_old_request() {
    let allergy = json!({
        "resourceType": "AllergyIntolerance", "id": "a1",
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": {"text": "AINE"}, "category": ["medication"]
    });
    let active = json!({
        "resourceType": "MedicationRequest", "id": "m1", "status": "active",
        "meta": {"versionId": "3"}, "authoredOn": "2026-10-01",
        "medicationCodeableConcept": {"coding": [{"system": mexico::systems::CNIS, "code": "010.000.5165.00"}], "text": "Metformina 850 mg"}
    });
    let (form, _) = form(
        "rx_med_1=naproxeno&rx_dose_1=1&rx_every_1=12&rx_days_1=5\
         &rx_override_1=Sin+alternativa+y+tolerado+antes\
         &rx_med_2=metformina&rx_dose_2=1&rx_every_2=12&rx_days_2=30&rx_ack_2=1&action=sign",
    );
    let rx = prescribing::check_rows(
        &form.rx,
        &[allergy],
        std::slice::from_ref(&active),
        Default::default(),
    );
    assert!(rx[0].needs_override());
    assert!(
        rx.iter().all(|r| r.holds().is_empty()),
        "{:?}",
        rx[0].holds()
    );
    assert_eq!(rx[1].renews, ["m1"]);
    let vitals = crate::vitals::check(&form.vitals, None);
    let bundle = bundle(&NoteInput {
        patient_id: "p1",
        form: &form,
        vitals: &vitals,
        diagnoses: &[],
        known_problems: &HashMap::new(),
        prescriptions: &rx,
        renewed: &[active],
        studies: &[],
        repeat_warnings: &[],
        session: &session(),
        now: "2026-11-25T09:00:00-06:00",
        today: "2026-11-25",
    });
    let entries = bundle["entry"].as_array().unwrap();
    let issue = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|r| {
            r["resourceType"] == "DetectedIssue"
                && r["code"]["coding"][0]["code"]
                    .as_str()
                    .unwrap()
                    .starts_with("ALLERGY")
        })
        .unwrap();
    assert_eq!(
        issue["mitigation"][0]["action"]["text"],
        "Sin alternativa y tolerado antes"
    );
    assert_eq!(issue["implicated"][1]["reference"], "AllergyIntolerance/a1");
    assert_eq!(issue["severity"], "high");
    let naproxen = entries
        .iter()
        .find(|e| {
            e["resource"]["resourceType"] == "MedicationRequest" && e["request"]["method"] == "POST"
        })
        .unwrap();
    assert_eq!(
        naproxen["resource"]["detectedIssue"][0]["reference"],
        issue_url(entries, issue)
    );
    let renewal = entries
        .iter()
        .find(|e| e["request"]["method"] == "PUT")
        .unwrap();
    assert_eq!(renewal["request"]["url"], "MedicationRequest/m1");
    assert_eq!(renewal["request"]["ifMatch"], "W/\"3\"");
    assert_eq!(renewal["resource"]["status"], "stopped");
    let metformin = entries
        .iter()
        .map(|e| &e["resource"])
        .find(|r| {
            r["medicationCodeableConcept"]["coding"][0]["code"] == "010.000.5165.00"
                && r["status"] == "active"
        })
        .unwrap();
    assert_eq!(
        metformin["priorPrescription"]["reference"],
        "MedicationRequest/m1"
    );
    let note = &entries.last().unwrap()["resource"];
    let text = note["section"][4]["text"]["div"].as_str().unwrap();
    assert!(
        text.contains("Motivo: Sin alternativa y tolerado antes"),
        "{text}"
    );
}

fn issue_url<'a>(entries: &'a [serde_json::Value], issue: &serde_json::Value) -> &'a str {
    entries
        .iter()
        .find(|e| &e["resource"] == issue)
        .and_then(|e| e["fullUrl"].as_str())
        .unwrap()
}

#[test]
fn more_rows_and_choices_keep_what_was_typed() {
    let (more, _) = form("rx_med_1=amoxicilina&rx_dose_1=1&action=more_rx");
    assert_eq!(more.rx.len(), 4);
    assert_eq!(more.rx[0].med, "amoxicilina");
    let (chosen, _) = form("rx_med_1=amoxicilina&rx_choose=1%3A010.000.2128.00");
    assert_eq!(chosen.rx[0].med, "010.000.2128.00");
    assert_eq!(chosen.action, "rx_choose");
}
