//! The vital-signs fieldset shared by the consultation and the nurse's screen: what was typed,
//! the range checks of `clinical::vitals` (refuse the impossible, confirm the improbable, offer
//! the unit a value was probably typed in), and the FHIR Observations to write.
//!
//! Why one module: the same eleven fields appear on two screens and in the signed note; the
//! rule "a value is saved only when it is possible, and when improbable only once confirmed"
//! must be the same everywhere, and BMI is computed only from values that passed it (the issue's
//! 8,420 kg over 17 cm made a BMI of 284,613).

use std::collections::BTreeMap;

use clinical::vitals::{Measure, VitalCheck};
use serde_json::{Value, json};

/// Longest text accepted in a number field (a value, never prose).
pub const NUMBER_CHARS_MAX: usize = 12;

/// One field of the fieldset.
#[derive(Clone, Copy, Debug)]
pub struct VitalField {
    /// Form field name and element id.
    pub name: &'static str,
    /// The measure (height becomes length under two years).
    pub measure: Measure,
    /// Message key of the label.
    pub label: &'static str,
    /// `inputmode` of the input.
    pub decimal: bool,
}

/// The fields, in the order a nurse measures them.
pub static FIELDS: &[VitalField] = &[
    VitalField {
        name: "weight_kg",
        measure: Measure::Weight,
        label: "vitals.weight",
        decimal: true,
    },
    VitalField {
        name: "height_cm",
        measure: Measure::Height,
        label: "vitals.height",
        decimal: true,
    },
    VitalField {
        name: "systolic",
        measure: Measure::Systolic,
        label: "vitals.systolic",
        decimal: false,
    },
    VitalField {
        name: "diastolic",
        measure: Measure::Diastolic,
        label: "vitals.diastolic",
        decimal: false,
    },
    VitalField {
        name: "heart_rate",
        measure: Measure::HeartRate,
        label: "vitals.hr",
        decimal: false,
    },
    VitalField {
        name: "resp_rate",
        measure: Measure::RespiratoryRate,
        label: "vitals.rr",
        decimal: false,
    },
    VitalField {
        name: "temperature",
        measure: Measure::Temperature,
        label: "vitals.temp",
        decimal: true,
    },
    VitalField {
        name: "spo2",
        measure: Measure::SpO2,
        label: "vitals.spo2",
        decimal: false,
    },
    VitalField {
        name: "glucose",
        measure: Measure::CapillaryGlucose,
        label: "vitals.glucose",
        decimal: false,
    },
    VitalField {
        name: "waist_cm",
        measure: Measure::Waist,
        label: "vitals.waist",
        decimal: true,
    },
    VitalField {
        name: "head_cm",
        measure: Measure::HeadCircumference,
        label: "vitals.head",
        decimal: true,
    },
];

/// Head circumference is measured up to this age (NOM-031 follows it in the first years).
pub const HEAD_CIRCUMFERENCE_AGE_DAYS_MAX: u32 = 3 * 366;

/// Children are measured lying down (length) under this age.
pub const LENGTH_AGE_DAYS_MAX: u32 = 2 * 365;

/// What was typed in the fieldset, by field name, and the confirmations given.
#[derive(Clone, Debug, Default)]
pub struct VitalsForm {
    pub values: BTreeMap<&'static str, String>,
    /// Fields whose improbable value the user confirmed (`confirm_<name>`).
    pub confirmed: Vec<&'static str>,
}

impl VitalsForm {
    /// Reads the fieldset from form pairs; `apply` (`<field>:<value>`, the unit-hint button)
    /// replaces a field's value.
    pub fn from_pairs(pairs: &[(String, String)]) -> VitalsForm {
        let mut form = VitalsForm::default();
        for field in FIELDS {
            if let Some((_, value)) = pairs.iter().find(|(k, _)| k == field.name) {
                form.values.insert(field.name, value.trim().to_string());
            }
            let confirm = format!("confirm_{}", field.name);
            if pairs.iter().any(|(k, v)| *k == confirm && !v.is_empty()) {
                form.confirmed.push(field.name);
            }
        }
        if let Some((_, apply)) = pairs.iter().find(|(k, _)| k == "apply")
            && let Some((name, value)) = apply.split_once(':')
            && let Some(field) = FIELDS.iter().find(|f| f.name == name)
        {
            form.values.insert(field.name, value.to_string());
            form.confirmed.retain(|c| *c != field.name);
        }
        form
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn is_confirmed(&self, name: &str) -> bool {
        self.confirmed.contains(&name)
    }

    pub fn is_empty(&self) -> bool {
        self.values.values().all(|v| v.trim().is_empty())
    }
}

/// A field's message: an error (refused), or an improbable value awaiting confirmation.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldMessage {
    pub es: String,
    pub en: String,
    /// The value converted to the expected unit, and the hint's text (es, en).
    pub hint: Option<(String, String, String)>,
    /// Saved once the user confirms it (an improbable value); otherwise refused.
    pub needs_confirmation: bool,
}

/// A checked, accepted measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    pub measure: Measure,
    pub value: f64,
}

/// The outcome of checking the fieldset.
#[derive(Clone, Debug, Default)]
pub struct VitalsCheck {
    /// Messages by field name.
    pub messages: BTreeMap<&'static str, FieldMessage>,
    /// Accepted measurements (possible, and confirmed when improbable), blood pressure apart.
    pub measurements: Vec<Measurement>,
    /// (systolic, diastolic) when both were accepted.
    pub blood_pressure: Option<(f64, f64)>,
    /// Computed from accepted weight and height (two years and older).
    pub bmi: Option<f64>,
}

impl VitalsCheck {
    /// Whether anything stops the save (an impossible value, or an unconfirmed improbable one).
    pub fn blocks(&self) -> bool {
        !self.messages.is_empty()
    }

    pub fn message(&self, name: &str) -> Option<&FieldMessage> {
        self.messages.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.measurements.is_empty() && self.blood_pressure.is_none()
    }
}

/// A number as typed: decimal comma or point, nothing else.
pub fn parse_number(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > NUMBER_CHARS_MAX {
        return None;
    }
    text.replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// A value as shown and stored: the measure's decimals, no trailing zeros.
pub fn show(measure: Measure, value: f64) -> String {
    let decimals = usize::from(measure.coding().decimals);
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn rounded(measure: Measure, value: f64) -> f64 {
    let factor = 10f64.powi(i32::from(measure.coding().decimals));
    (value * factor).round() / factor
}

/// The measure a field records for a patient of this age (height is length under two).
pub fn measure_for(field: &VitalField, age_days: Option<u32>) -> Measure {
    match (field.measure, age_days) {
        (Measure::Height, Some(days)) if days < LENGTH_AGE_DAYS_MAX => Measure::Length,
        (measure, _) => measure,
    }
}

/// Checks every filled field for a patient of `age_days` days of life (unknown age: an
/// adult's bounds, the widest for most measures).
pub fn check(form: &VitalsForm, age_days: Option<u32>) -> VitalsCheck {
    /// An adult's age in days, for patients without a birth date.
    const ADULT_AGE_DAYS: u32 = 30 * 365;
    let age = age_days.unwrap_or(ADULT_AGE_DAYS);
    let mut out = VitalsCheck::default();
    let mut accepted: BTreeMap<&'static str, f64> = BTreeMap::new();
    for field in FIELDS {
        let text = form.value(field.name);
        if text.is_empty() {
            continue;
        }
        let Some(value) = parse_number(text) else {
            out.messages.insert(
                field.name,
                FieldMessage {
                    es: "Escriba solo el número (por ejemplo 36.5).".into(),
                    en: "Type the number only (for example 36.5).".into(),
                    hint: None,
                    needs_confirmation: false,
                },
            );
            continue;
        };
        let measure = measure_for(field, age_days);
        match clinical::vitals::check_vital(measure, value, age) {
            VitalCheck::Ok => {
                accepted.insert(field.name, rounded(measure, value));
            }
            VitalCheck::Confirm(message) if form.is_confirmed(field.name) => {
                let _ = message;
                accepted.insert(field.name, rounded(measure, value));
            }
            VitalCheck::Confirm(message) => {
                out.messages
                    .insert(field.name, field_message(measure, &message, true));
            }
            VitalCheck::Refuse(message) => {
                out.messages
                    .insert(field.name, field_message(measure, &message, false));
            }
        }
    }
    // Blood pressure is a pair: both values, in order.
    match (accepted.get("systolic"), accepted.get("diastolic")) {
        (Some(&systolic), Some(&diastolic)) => {
            let mut pair_ok = true;
            for check in clinical::vitals::check_blood_pressure(systolic, diastolic, age) {
                let (message, confirm) = match check {
                    VitalCheck::Refuse(m) => (m, false),
                    VitalCheck::Confirm(m) if !form.is_confirmed("diastolic") => (m, true),
                    _ => continue,
                };
                // Single-value findings were handled above; only the pair's own remain.
                if !message.code.starts_with("VITAL-BP") {
                    continue;
                }
                pair_ok = false;
                let (es, en) = if message.code == "VITAL-BP-ORDER" {
                    (
                        "La tensión sistólica no puede ser menor que la diastólica ni igual a ella."
                            .to_string(),
                        "Systolic pressure cannot be lower than diastolic, nor equal to it."
                            .to_string(),
                    )
                } else {
                    (message.message_es.clone(), message.message_en.clone())
                };
                out.messages.insert(
                    "diastolic",
                    FieldMessage {
                        es,
                        en,
                        hint: None,
                        needs_confirmation: confirm,
                    },
                );
            }
            if pair_ok {
                out.blood_pressure = Some((systolic, diastolic));
            }
        }
        (Some(_), None) if !out.messages.contains_key("diastolic") => {
            out.messages.insert(
                "diastolic",
                FieldMessage {
                    es: "Escriba también la tensión diastólica.".into(),
                    en: "Type the diastolic pressure too.".into(),
                    hint: None,
                    needs_confirmation: false,
                },
            );
        }
        (None, Some(_)) if !out.messages.contains_key("systolic") => {
            out.messages.insert(
                "systolic",
                FieldMessage {
                    es: "Escriba también la tensión sistólica.".into(),
                    en: "Type the systolic pressure too.".into(),
                    hint: None,
                    needs_confirmation: false,
                },
            );
        }
        _ => {}
    }
    for field in FIELDS {
        if matches!(field.name, "systolic" | "diastolic") {
            continue;
        }
        if let Some(&value) = accepted.get(field.name) {
            out.measurements.push(Measurement {
                measure: measure_for(field, age_days),
                value,
            });
        }
    }
    if let (Some(&weight), Some(&height)) = (accepted.get("weight_kg"), accepted.get("height_cm")) {
        out.bmi = clinical::vitals::bmi(weight, height, age);
    }
    out
}

fn field_message(
    measure: Measure,
    message: &clinical::vitals::VitalMessage,
    needs_confirmation: bool,
) -> FieldMessage {
    FieldMessage {
        es: message.message_es.clone(),
        en: message.message_en.clone(),
        hint: message.hint.as_ref().map(|hint| {
            (
                show(measure, hint.converted),
                hint.message_es.clone(),
                hint.message_en.clone(),
            )
        }),
        needs_confirmation,
    }
}

fn loinc(code: &str, display: &str, text: &str) -> Value {
    json!({"coding": [{"system": mexico::systems::LOINC, "code": code, "display": display}], "text": text})
}

fn quantity(measure: Measure, value: f64) -> Value {
    let coding = measure.coding();
    let value = rounded(measure, value);
    // Whole-number measures (rates, pressures, SpO₂) are written as integers: `97`, not `97.0`.
    let number = if coding.decimals == 0 && value.abs() < 1e9 {
        json!(value as i64)
    } else {
        json!(value)
    };
    json!({"value": number, "unit": coding.unit_display, "system": "http://unitsofmeasure.org", "code": coding.ucum})
}

/// The Observations of an accepted check (vital-signs category), each with `extra` members
/// merged in (subject, encounter, effective time, performer).
pub fn observations(check: &VitalsCheck, extra: &Value) -> Vec<Value> {
    let base = |code: Value| {
        let mut observation = json!({
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
            "code": code,
        });
        if let (Some(object), Some(more)) = (observation.as_object_mut(), extra.as_object()) {
            for (key, value) in more {
                object.insert(key.clone(), value.clone());
            }
        }
        observation
    };
    let mut out = Vec::new();
    for measurement in &check.measurements {
        let coding = measurement.measure.coding();
        let mut observation = base(loinc(coding.loinc, coding.loinc_display, coding.label_es));
        observation["valueQuantity"] = quantity(measurement.measure, measurement.value);
        out.push(observation);
    }
    if let Some(bmi) = check.bmi {
        let coding = Measure::Bmi.coding();
        let mut observation = base(loinc(coding.loinc, coding.loinc_display, coding.label_es));
        observation["valueQuantity"] = quantity(Measure::Bmi, bmi);
        out.push(observation);
    }
    if let Some((systolic, diastolic)) = check.blood_pressure {
        let mut observation = base(loinc(
            clinical::vitals::BP_PANEL_LOINC,
            "Blood pressure panel with all children optional",
            "Tensión arterial",
        ));
        let s = Measure::Systolic.coding();
        let d = Measure::Diastolic.coding();
        observation["component"] = json!([
            {"code": loinc(s.loinc, s.loinc_display, s.label_es), "valueQuantity": quantity(Measure::Systolic, systolic)},
            {"code": loinc(d.loinc, d.loinc_display, d.label_es), "valueQuantity": quantity(Measure::Diastolic, diastolic)}
        ]);
        out.push(observation);
    }
    out
}

/// The lines of the note's "Signos vitales y somatometría" section (Spanish, as the note is
/// written).
pub fn narrative_lines(check: &VitalsCheck) -> Vec<String> {
    let mut lines = Vec::new();
    let line = |measure: Measure, value: f64| {
        let coding = measure.coding();
        let label = match measure {
            Measure::SpO2 => "SpO₂",
            _ => coding.label_es,
        };
        let unit = coding.unit_display;
        format!("{label}: {} {unit}", show(measure, value))
    };
    for measurement in &check.measurements {
        if matches!(
            measurement.measure,
            Measure::Weight | Measure::Height | Measure::Length
        ) {
            lines.push(line(measurement.measure, measurement.value));
        }
    }
    if let Some(bmi) = check.bmi {
        lines.push(line(Measure::Bmi, bmi));
    }
    if let Some((systolic, diastolic)) = check.blood_pressure {
        lines.push(format!(
            "Tensión arterial: {}/{} mmHg",
            show(Measure::Systolic, systolic),
            show(Measure::Diastolic, diastolic)
        ));
    }
    for measurement in &check.measurements {
        if !matches!(
            measurement.measure,
            Measure::Weight | Measure::Height | Measure::Length
        ) {
            lines.push(line(measurement.measure, measurement.value));
        }
    }
    lines
}

#[cfg(test)]
mod tests;
