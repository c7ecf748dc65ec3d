//! Unit tests for vital-sign ranges, hints and BMI.

use super::*;

const ADULT_DAYS: u32 = 40 * 365;
const INFANT_DAYS: u32 = 200;

fn kind(check: &VitalCheck) -> &'static str {
    match check {
        VitalCheck::Ok => "ok",
        VitalCheck::Confirm(_) => "confirm",
        VitalCheck::Refuse(_) => "refuse",
    }
}

#[test]
fn impossible_improbable_and_plausible_values() {
    // The absurd values first.
    let cases: &[(Measure, f64, u32, &str)] = &[
        (Measure::Weight, 8420.0, ADULT_DAYS, "refuse"),
        (Measure::Height, 17.0, ADULT_DAYS, "refuse"),
        (Measure::HeartRate, 0.0, ADULT_DAYS, "refuse"),
        (Measure::Temperature, 98.6, ADULT_DAYS, "refuse"),
        (Measure::Weight, 72.5, ADULT_DAYS, "ok"),
        (Measure::Weight, 280.0, ADULT_DAYS, "confirm"),
        (Measure::Weight, 7.8, INFANT_DAYS, "ok"),
        (Measure::Weight, 25.0, INFANT_DAYS, "refuse"),
        (Measure::Height, 168.0, ADULT_DAYS, "ok"),
        (Measure::Height, 230.0, ADULT_DAYS, "confirm"),
        (Measure::Length, 66.0, INFANT_DAYS, "ok"),
        (Measure::Temperature, 36.8, ADULT_DAYS, "ok"),
        (Measure::Temperature, 41.5, ADULT_DAYS, "confirm"),
        (Measure::HeartRate, 72.0, ADULT_DAYS, "ok"),
        (Measure::HeartRate, 150.0, INFANT_DAYS, "ok"),
        (Measure::HeartRate, 150.0, ADULT_DAYS, "ok"),
        (Measure::HeartRate, 170.0, ADULT_DAYS, "confirm"),
        (Measure::RespiratoryRate, 16.0, ADULT_DAYS, "ok"),
        (Measure::RespiratoryRate, 45.0, INFANT_DAYS, "ok"),
        (Measure::RespiratoryRate, 45.0, ADULT_DAYS, "confirm"),
        (Measure::RespiratoryRate, 1.0, ADULT_DAYS, "refuse"),
        (Measure::SpO2, 97.0, ADULT_DAYS, "ok"),
        (Measure::SpO2, 75.0, ADULT_DAYS, "confirm"),
        (Measure::SpO2, 101.0, ADULT_DAYS, "refuse"),
        (Measure::CapillaryGlucose, 104.0, ADULT_DAYS, "ok"),
        (Measure::CapillaryGlucose, 650.0, ADULT_DAYS, "confirm"),
        (Measure::CapillaryGlucose, 5.6, ADULT_DAYS, "refuse"),
        (Measure::Waist, 92.0, ADULT_DAYS, "ok"),
        (Measure::HeadCircumference, 43.0, INFANT_DAYS, "ok"),
        (Measure::HeadCircumference, 70.0, INFANT_DAYS, "refuse"),
        (Measure::Systolic, 120.0, ADULT_DAYS, "ok"),
        (Measure::Diastolic, 80.0, ADULT_DAYS, "ok"),
        (Measure::Weight, f64::NAN, ADULT_DAYS, "refuse"),
    ];
    for (measure, value, age_days, expected) in cases {
        let check = check_vital(*measure, *value, *age_days);
        assert_eq!(
            kind(&check),
            *expected,
            "{measure:?} {value} at {age_days} days: {check:?}"
        );
    }
}

#[test]
fn unit_confusion_hints() {
    let hint = |m, v, days| match check_vital(m, v, days) {
        VitalCheck::Refuse(msg) | VitalCheck::Confirm(msg) => {
            msg.hint.map(|h| (h.converted, h.message_es))
        }
        VitalCheck::Ok => None,
    };
    assert_eq!(
        hint(Measure::Temperature, 98.6, ADULT_DAYS),
        Some((37.0, "98.6 parece °F: equivale a 37.0 °C.".to_owned()))
    );
    assert_eq!(
        hint(Measure::Weight, 8420.0, INFANT_DAYS),
        Some((8.42, "8420 parece estar en gramos: 8.42 kg.".to_owned()))
    );
    assert_eq!(
        hint(Measure::Height, 1.65, ADULT_DAYS).map(|h| h.0),
        Some(165.0)
    );
    assert_eq!(
        hint(Measure::SpO2, 0.97, ADULT_DAYS).map(|h| h.0),
        Some(97.0)
    );
    assert_eq!(
        hint(Measure::CapillaryGlucose, 5.6, ADULT_DAYS).map(|h| h.0),
        Some(101.0)
    );
    assert_eq!(hint(Measure::HeartRate, 0.0, ADULT_DAYS), None);
}

#[test]
fn messages_name_the_bounds() {
    let VitalCheck::Refuse(message) = check_vital(Measure::HeartRate, 0.0, ADULT_DAYS) else {
        panic!("0 bpm must be refused");
    };
    assert_eq!(message.code, "VITAL-IMPOSSIBLE-HEART-RATE");
    assert!(
        message
            .message_es
            .starts_with("Frecuencia cardiaca: 0 lpm no es posible"),
        "{}",
        message.message_es
    );
    assert!(
        message.message_es.contains("20–300 lpm"),
        "{}",
        message.message_es
    );
}

#[test]
fn blood_pressure_pairs() {
    assert!(check_blood_pressure(120.0, 80.0, ADULT_DAYS).is_empty());
    let inverted = check_blood_pressure(80.0, 120.0, ADULT_DAYS);
    assert!(
        inverted
            .iter()
            .any(|c| matches!(c, VitalCheck::Refuse(m) if m.code == "VITAL-BP-ORDER"))
    );
    let equal = check_blood_pressure(100.0, 100.0, ADULT_DAYS);
    assert!(
        equal
            .iter()
            .any(|c| matches!(c, VitalCheck::Refuse(m) if m.code == "VITAL-BP-ORDER"))
    );
    let narrow = check_blood_pressure(100.0, 95.0, ADULT_DAYS);
    assert!(
        narrow
            .iter()
            .any(|c| matches!(c, VitalCheck::Confirm(m) if m.code == "VITAL-BP-PULSE-PRESSURE"))
    );
}

#[test]
fn bmi_only_from_possible_values() {
    assert_eq!(bmi(72.5, 168.0, ADULT_DAYS), Some(25.7));
    // The 8,420 kg over 17 cm gave 284,613: now no BMI at all.
    assert_eq!(bmi(8420.0, 17.0, ADULT_DAYS), None);
    assert_eq!(bmi(8.0, 70.0, INFANT_DAYS), None, "under 2 years");
    let VitalCheck::Confirm(_) = check_vital(Measure::Bmi, 75.0, ADULT_DAYS) else {
        panic!("BMI 75 asks for confirmation");
    };
}

#[test]
fn codings_and_bounds_are_consistent() {
    let mut loincs = std::collections::HashSet::new();
    for measure in Measure::ALL {
        let coding = measure.coding();
        assert!(loincs.insert(coding.loinc), "{measure:?}");
        assert!(coding.loinc.contains('-'));
        for band in [
            AgeBand::Newborn,
            AgeBand::Infant,
            AgeBand::Toddler,
            AgeBand::Preschool,
            AgeBand::School,
            AgeBand::Adolescent,
            AgeBand::Adult,
        ] {
            let b = bounds(*measure, band);
            assert!(
                b.impossible.0 <= b.usual.0 && b.usual.0 < b.usual.1 && b.usual.1 <= b.impossible.1,
                "{measure:?} {band:?}"
            );
        }
    }
    assert_eq!(AgeBand::of_days(0), AgeBand::Newborn);
    assert_eq!(AgeBand::of_days(29), AgeBand::Infant);
    assert_eq!(AgeBand::of_days(366), AgeBand::Toddler);
    assert_eq!(AgeBand::of_days(18 * 366), AgeBand::Adult);
}
