//! Unit tests for lab flags.

use serde_json::json;

use super::*;

#[test]
fn interpretation_against_ranges() {
    let range = ReferenceRange {
        low: Some(70.0),
        high: Some(99.0),
        critical_low: Some(40.0),
        critical_high: Some(400.0),
    };
    for (value, flag) in [
        (85.0, Flag::Normal),
        (70.0, Flag::Normal),
        (99.0, Flag::Normal),
        (69.9, Flag::Low),
        (99.1, Flag::High),
        (40.0, Flag::CriticalLow),
        (450.0, Flag::CriticalHigh),
    ] {
        assert_eq!(interpret(value, &range), Some(flag), "{value}");
    }
    let open_high = ReferenceRange {
        low: None,
        high: Some(5.7),
        ..Default::default()
    };
    assert_eq!(interpret(8.2, &open_high), Some(Flag::High));
    assert_eq!(interpret(1.0, &open_high), Some(Flag::Normal));
    assert_eq!(interpret(1.0, &ReferenceRange::default()), None);
    assert_eq!(interpret(f64::NAN, &range), None);
    assert_eq!(Flag::from_code("HH"), Some(Flag::CriticalHigh));
    assert_eq!(Flag::from_code("AA"), Some(Flag::Abnormal));
    assert_eq!(Flag::from_code("?"), None);
    assert_eq!(Flag::CriticalLow.code(), "LL");
    assert_eq!(Flag::High.label_es(), "Alto");
}

#[test]
fn reads_what_the_observation_carries() {
    let hba1c = json!({
        "resourceType": "Observation",
        "valueQuantity": { "value": 8.4, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%" },
        "interpretation": [{ "coding": [{ "system": INTERPRETATION_SYSTEM, "code": "H" }] }],
        "referenceRange": [{ "low": { "value": 4.0 }, "high": { "value": 5.6 }, "text": "4.0-5.6 %" }],
    });
    let view = read_observation(&hba1c).unwrap();
    assert_eq!(view.value, Some(8.4));
    assert_eq!(view.unit.as_deref(), Some("%"));
    assert_eq!(view.range_text.as_deref(), Some("4.0-5.6 %"));
    assert_eq!(
        (view.recorded, view.computed, view.flag()),
        (Some(Flag::High), Some(Flag::High), Some(Flag::High))
    );
    assert!(!view.disagrees());
    // No recorded flag: the computed one is shown.
    let mut unflagged = hba1c.clone();
    unflagged.as_object_mut().unwrap().remove("interpretation");
    assert_eq!(
        read_observation(&unflagged).unwrap().flag(),
        Some(Flag::High)
    );
    // A recorded flag that the range contradicts is kept, and reported as a disagreement.
    let mut contradicted = hba1c.clone();
    contradicted["interpretation"][0]["coding"][0]["code"] = json!("N");
    let view = read_observation(&contradicted).unwrap();
    assert_eq!(view.flag(), Some(Flag::Normal));
    assert!(view.disagrees());
    assert_eq!(read_observation(&json!({"resourceType": "Patient"})), None);
}
