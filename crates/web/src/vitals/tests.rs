//! The vital-signs fieldset: the impossible refused, the improbable confirmed, BMI only from
//! accepted values.

use super::*;

fn form(pairs: &[(&str, &str)]) -> VitalsForm {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    VitalsForm::from_pairs(&pairs)
}

const ADULT: Option<u32> = Some(40 * 365);

#[test]
fn the_issues_absurd_values_are_refused_with_hints_and_no_bmi() {
    let check = check(
        &form(&[
            ("weight_kg", "8420"),
            ("height_cm", "17"),
            ("heart_rate", "0"),
            ("temperature", "98.6"),
        ]),
        ADULT,
    );
    for field in ["weight_kg", "height_cm", "heart_rate", "temperature"] {
        let message = check.message(field).unwrap();
        assert!(!message.needs_confirmation, "{field} is refused");
    }
    let hint = check.message("temperature").unwrap().hint.clone().unwrap();
    assert_eq!(hint.0, "37");
    assert!(check.bmi.is_none());
    assert!(check.blocks());
}

#[test]
fn an_improbable_value_is_saved_once_confirmed_and_a_hint_can_be_applied() {
    let unconfirmed = check(&form(&[("spo2", "75")]), ADULT);
    assert!(unconfirmed.message("spo2").unwrap().needs_confirmation);
    let confirmed = check(&form(&[("spo2", "75"), ("confirm_spo2", "1")]), ADULT);
    assert!(!confirmed.blocks());
    assert_eq!(confirmed.measurements[0].value, 75.0);
    let applied = form(&[("temperature", "98.6"), ("apply", "temperature:37")]);
    assert_eq!(applied.value("temperature"), "37");
}

#[test]
fn blood_pressure_is_a_pair_in_order_and_bmi_comes_from_accepted_values() {
    let order = check(&form(&[("systolic", "70"), ("diastolic", "120")]), ADULT);
    assert!(
        order
            .message("diastolic")
            .unwrap()
            .es
            .contains("no puede ser menor que la diastólica")
    );
    let half = check(&form(&[("systolic", "120")]), ADULT);
    assert!(half.message("diastolic").is_some());
    let good = check(
        &form(&[
            ("weight_kg", "81,5"),
            ("height_cm", "164"),
            ("systolic", "138"),
            ("diastolic", "86"),
        ]),
        ADULT,
    );
    assert!(!good.blocks(), "{:?}", good.messages);
    assert_eq!(good.blood_pressure, Some((138.0, 86.0)));
    assert_eq!(good.bmi, Some(30.3));
    let lines = narrative_lines(&good);
    assert!(
        lines.contains(&"Tensión arterial: 138/86 mmHg".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"Peso: 81.5 kg".to_string()), "{lines:?}");
}

#[test]
fn a_baby_is_measured_lying_down_and_gets_no_bmi() {
    let check = check(
        &form(&[("weight_kg", "7.9"), ("height_cm", "68")]),
        Some(200),
    );
    assert!(!check.blocks(), "{:?}", check.messages);
    assert!(
        check
            .measurements
            .iter()
            .any(|m| m.measure == clinical::vitals::Measure::Length)
    );
    assert!(check.bmi.is_none());
    let observations = observations(
        &check,
        &serde_json::json!({"subject": {"reference": "Patient/p"}}),
    );
    assert_eq!(observations.len(), 2);
    assert_eq!(observations[1]["code"]["coding"][0]["code"], "8306-3");
    assert_eq!(observations[0]["subject"]["reference"], "Patient/p");
}
