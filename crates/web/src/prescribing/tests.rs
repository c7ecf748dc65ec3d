//! Prescribing rows: resolving what was typed, structured doses, what each finding requires.

use serde_json::json;

use super::*;

fn row(med: &str, dose: &str, every: &str, days: &str) -> RxRow {
    RxRow {
        med: med.into(),
        dose: dose.into(),
        every: every.into(),
        days: days.into(),
        ..RxRow::default()
    }
}

#[test]
fn what_was_typed_resolves_to_one_formulary_key_or_asks() {
    let key = |text: &str| match resolve(text) {
        Resolved::Medicine(m) => Some(m.key),
        _ => None,
    };
    assert_eq!(key("010.000.3407.00"), Some("010.000.3407.00"));
    assert_eq!(key("3407"), Some("010.000.3407.00"));
    assert_eq!(key("naproxeno"), Some("010.000.3407.00"));
    // Old free text from the previous form: the name with its strength.
    assert_eq!(key("Metformina 850 mg"), Some("010.000.5165.00"));
    assert!(matches!(resolve("amoxicilina"), Resolved::Ambiguous(list) if list.len() >= 2));
    assert!(matches!(resolve("jarabe mágico"), Resolved::Unknown));
}

#[test]
fn doses_are_read_as_clinicians_write_them() {
    assert_eq!(parse_dose("1"), Some(1.0));
    assert_eq!(parse_dose("1,5"), Some(1.5));
    assert_eq!(parse_dose("1/2"), Some(0.5));
    assert_eq!(parse_dose("½"), Some(0.5));
    assert_eq!(parse_dose("0"), None);
    assert_eq!(parse_dose("1000"), None);
    assert_eq!(quantity(1.0, 8, 5), 15.0);
    assert_eq!(quantity(0.5, 12, 3), 3.0);
}

#[test]
fn a_row_is_held_until_its_block_has_a_reason_and_its_warning_an_acknowledgement() {
    let allergy = json!({
        "resourceType": "AllergyIntolerance", "id": "a1",
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": {"text": "AINE"}, "category": ["medication"],
        "reaction": [{"manifestation": [{"text": "Disnea"}]}]
    });
    let rows = [row("naproxeno", "1", "12", "5")];
    let checked = check_rows(
        &rows,
        std::slice::from_ref(&allergy),
        &[],
        Default::default(),
    );
    assert!(checked[0].needs_override(), "{:?}", checked[0].findings);
    assert!(
        checked[0]
            .holds()
            .iter()
            .any(|(es, _)| es.contains("motivo"))
    );
    let short = RxRow {
        override_reason: "porque".into(),
        ..rows[0].clone()
    };
    assert!(
        !check_rows(
            &[short],
            std::slice::from_ref(&allergy),
            &[],
            Default::default()
        )[0]
        .holds()
        .is_empty()
    );
    let reasoned = RxRow {
        override_reason: "Tolerado en 2024 sin reacción".into(),
        ..rows[0].clone()
    };
    assert!(
        check_rows(&[reasoned], &[allergy], &[], Default::default())[0]
            .holds()
            .is_empty()
    );
}

#[test]
fn incomplete_rows_say_what_is_missing_and_later_rows_see_earlier_ones() {
    let checked = check_rows(
        &[row("paracetamol 500", "", "7", "900")],
        &[],
        &[],
        Default::default(),
    );
    let errors: Vec<&str> = checked[0]
        .errors
        .iter()
        .map(|(es, _)| es.as_str())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    // Two rows of the same ingredient in one prescription: the second is warned.
    let twice = check_rows(
        &[
            row("010.000.0104.00", "1", "8", "3"),
            row("010.000.0104.00", "1", "6", "3"),
        ],
        &[],
        &[],
        Default::default(),
    );
    assert!(!twice[0].needs_ack());
    assert!(twice[1].needs_ack());
    assert!(twice[1].renews.is_empty(), "nothing stored to renew");
}

#[test]
fn the_request_carries_a_structured_dose_quantity_and_duration() {
    let checked = check_rows(
        &[RxRow {
            notes: "Con alimentos".into(),
            ..row("010.000.5165.00", "1", "12", "30")
        }],
        &[],
        &[],
        Default::default(),
    );
    let subject = json!({"reference": "Patient/p"});
    let encounter = json!({"reference": "urn:uuid:e"});
    let author = json!({"display": "Dra."});
    let request = medication_request(&RxWrite {
        checked: &checked[0],
        subject: &subject,
        encounter: &encounter,
        author: &author,
        now: "2026-11-25T09:00:00-06:00",
        request_url: "urn:uuid:r",
        issue_urls: &[],
        prior: Some("MedicationRequest/old".into()),
    })
    .unwrap();
    let dosage = &request["dosageInstruction"][0];
    assert_eq!(
        dosage["text"],
        "1 tableta cada 12 horas durante 30 días, vía oral. Con alimentos"
    );
    assert_eq!(dosage["doseAndRate"][0]["doseQuantity"]["value"], 1.0);
    assert_eq!(dosage["route"]["coding"][0]["code"], "26643006");
    assert_eq!(request["dispenseRequest"]["quantity"]["value"], 60.0);
    assert_eq!(
        request["dispenseRequest"]["expectedSupplyDuration"]["value"],
        30
    );
    assert_eq!(
        request["priorPrescription"]["reference"],
        "MedicationRequest/old"
    );
    assert_eq!(
        request["medicationCodeableConcept"]["coding"][0]["version"],
        clinical::formulary::FORMULARY_VERSION
    );
}
