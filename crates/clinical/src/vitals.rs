//! Vital signs and body measurements: LOINC code and UCUM unit per measure, range checks by age
//! (refuse the impossible, confirm the improbable), BMI, and unit-confusion hints.
//!
//! **Where the bounds come from.** *Impossible* bounds are set beyond recorded human extremes
//! (tallest adult 272 cm, heaviest 635 kg) or beyond what a living patient at a clinic can
//! present with (a heart rate of 0 is an arrest, not a vital sign). *Improbable* bounds sit outside
//! the usual ranges by a clear margin: WHO Child Growth Standards (2006) for weight, length and
//! head circumference under 5, the AHA PALS ranges (2020) for paediatric heart and respiratory
//! rates, glucometer reporting ranges for capillary glucose. The numbers themselves are ours,
//! reviewed, and each row carries its reason; they are meant to catch typing and unit errors,
//! not to diagnose.

use serde::Serialize;

/// A measure the nurse or physician records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub enum Measure {
    /// Body weight.
    Weight,
    /// Body height (standing, 2 years and over).
    Height,
    /// Body length (lying, under 2 years).
    Length,
    /// Body temperature.
    Temperature,
    /// Heart rate.
    HeartRate,
    /// Respiratory rate.
    RespiratoryRate,
    /// Systolic blood pressure.
    Systolic,
    /// Diastolic blood pressure.
    Diastolic,
    /// Oxygen saturation by pulse oximetry.
    SpO2,
    /// Capillary blood glucose.
    CapillaryGlucose,
    /// Waist circumference.
    Waist,
    /// Head circumference.
    HeadCircumference,
    /// Body-mass index (computed).
    Bmi,
}

/// How a measure is coded in FHIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct MeasureCoding {
    /// LOINC code.
    pub loinc: &'static str,
    /// LOINC long common name.
    pub loinc_display: &'static str,
    /// Spanish label.
    pub label_es: &'static str,
    /// English label.
    pub label_en: &'static str,
    /// UCUM code (`Quantity.code`, system `http://unitsofmeasure.org`).
    pub ucum: &'static str,
    /// Unit as shown (`Quantity.unit`).
    pub unit_display: &'static str,
    /// Decimals to show and store.
    pub decimals: u8,
}

/// LOINC code of the blood-pressure panel that holds systolic and diastolic as components.
pub const BP_PANEL_LOINC: &str = "85354-9";

impl Measure {
    /// Every measure.
    pub const ALL: &'static [Measure] = &[
        Measure::Weight,
        Measure::Height,
        Measure::Length,
        Measure::Temperature,
        Measure::HeartRate,
        Measure::RespiratoryRate,
        Measure::Systolic,
        Measure::Diastolic,
        Measure::SpO2,
        Measure::CapillaryGlucose,
        Measure::Waist,
        Measure::HeadCircumference,
        Measure::Bmi,
    ];

    /// LOINC and UCUM coding (the codes the synthetic data already use where they overlap).
    pub fn coding(self) -> MeasureCoding {
        let c = |loinc, loinc_display, label_es, label_en, ucum, unit_display, decimals| {
            MeasureCoding {
                loinc,
                loinc_display,
                label_es,
                label_en,
                ucum,
                unit_display,
                decimals,
            }
        };
        match self {
            Measure::Weight => c("29463-7", "Body weight", "Peso", "Weight", "kg", "kg", 1),
            Measure::Height => c("8302-2", "Body height", "Talla", "Height", "cm", "cm", 1),
            Measure::Length => c(
                "8306-3",
                "Body height --lying",
                "Longitud (acostado)",
                "Length (lying)",
                "cm",
                "cm",
                1,
            ),
            Measure::Temperature => c(
                "8310-5",
                "Body temperature",
                "Temperatura",
                "Temperature",
                "Cel",
                "°C",
                1,
            ),
            Measure::HeartRate => c(
                "8867-4",
                "Heart rate",
                "Frecuencia cardiaca",
                "Heart rate",
                "/min",
                "lpm",
                0,
            ),
            Measure::RespiratoryRate => c(
                "9279-1",
                "Respiratory rate",
                "Frecuencia respiratoria",
                "Respiratory rate",
                "/min",
                "rpm",
                0,
            ),
            Measure::Systolic => c(
                "8480-6",
                "Systolic blood pressure",
                "Tensión arterial sistólica",
                "Systolic blood pressure",
                "mm[Hg]",
                "mmHg",
                0,
            ),
            Measure::Diastolic => c(
                "8462-4",
                "Diastolic blood pressure",
                "Tensión arterial diastólica",
                "Diastolic blood pressure",
                "mm[Hg]",
                "mmHg",
                0,
            ),
            Measure::SpO2 => c(
                "59408-5",
                "Oxygen saturation in Arterial blood by Pulse oximetry",
                "Saturación de oxígeno (SpO₂)",
                "Oxygen saturation (SpO₂)",
                "%",
                "%",
                0,
            ),
            Measure::CapillaryGlucose => c(
                "2339-0",
                "Glucose [Mass/volume] in Blood",
                "Glucemia capilar",
                "Capillary glucose",
                "mg/dL",
                "mg/dL",
                0,
            ),
            Measure::Waist => c(
                "8280-0",
                "Waist Circumference at umbilicus by Tape measure",
                "Circunferencia de cintura",
                "Waist circumference",
                "cm",
                "cm",
                1,
            ),
            Measure::HeadCircumference => c(
                "9843-4",
                "Head Occipital-frontal circumference",
                "Perímetro cefálico",
                "Head circumference",
                "cm",
                "cm",
                1,
            ),
            Measure::Bmi => c(
                "39156-5",
                "Body mass index (BMI) [Ratio]",
                "Índice de masa corporal",
                "Body mass index",
                "kg/m2",
                "kg/m²",
                1,
            ),
        }
    }
}

/// Age bands the bounds change with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum AgeBand {
    /// 0–28 days.
    Newborn,
    /// 29 days to under 1 year.
    Infant,
    /// 1 to under 3 years.
    Toddler,
    /// 3 to under 6 years.
    Preschool,
    /// 6 to under 12 years.
    School,
    /// 12 to under 18 years.
    Adolescent,
    /// 18 years and over.
    Adult,
}

impl AgeBand {
    /// The band of an age given in completed days of life.
    pub fn of_days(age_days: u32) -> AgeBand {
        const DAYS_PER_YEAR: f64 = 365.25;
        let years = f64::from(age_days) / DAYS_PER_YEAR;
        match age_days {
            0..=28 => AgeBand::Newborn,
            _ if years < 1.0 => AgeBand::Infant,
            _ if years < 3.0 => AgeBand::Toddler,
            _ if years < 6.0 => AgeBand::Preschool,
            _ if years < 12.0 => AgeBand::School,
            _ if years < 18.0 => AgeBand::Adolescent,
            _ => AgeBand::Adult,
        }
    }
}

/// Bounds of one measure in one age band: refuse outside `impossible`, confirm outside `usual`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bounds {
    /// Refused below `.0` or above `.1`.
    pub impossible: (f64, f64),
    /// Confirmed below `.0` or above `.1`.
    pub usual: (f64, f64),
    /// Why these numbers (Spanish), shown with the message.
    pub reason_es: &'static str,
    /// Why these numbers (English).
    pub reason_en: &'static str,
}

const fn b(
    impossible: (f64, f64),
    usual: (f64, f64),
    reason_es: &'static str,
    reason_en: &'static str,
) -> Bounds {
    Bounds {
        impossible,
        usual,
        reason_es,
        reason_en,
    }
}

const GROWTH_ES: &str = "fuera de los patrones de crecimiento de la OMS para la edad";
const GROWTH_EN: &str = "outside the WHO growth standards for the age";
const RECORD_ES: &str = "más allá de los extremos humanos registrados";
const RECORD_EN: &str = "beyond recorded human extremes";
const PALS_ES: &str = "fuera de los rangos pediátricos de la AHA (PALS) para la edad";
const PALS_EN: &str = "outside the AHA PALS paediatric ranges for the age";

/// The bounds of a measure for an age band.
pub fn bounds(measure: Measure, band: AgeBand) -> Bounds {
    use AgeBand::{Adolescent, Adult, Infant, Newborn, Preschool, School, Toddler};
    match (measure, band) {
        (Measure::Weight, Newborn) => b((0.3, 8.0), (1.5, 5.5), GROWTH_ES, GROWTH_EN),
        (Measure::Weight, Infant) => b((0.3, 20.0), (2.0, 13.0), GROWTH_ES, GROWTH_EN),
        (Measure::Weight, Toddler) => b((2.0, 40.0), (6.0, 20.0), GROWTH_ES, GROWTH_EN),
        (Measure::Weight, Preschool) => b((4.0, 80.0), (10.0, 35.0), GROWTH_ES, GROWTH_EN),
        (Measure::Weight, School) => b((6.0, 150.0), (15.0, 80.0), GROWTH_ES, GROWTH_EN),
        (Measure::Weight, Adolescent) => b((10.0, 300.0), (25.0, 150.0), GROWTH_ES, GROWTH_EN),
        (Measure::Weight, Adult) => b((15.0, 650.0), (30.0, 250.0), RECORD_ES, RECORD_EN),
        (Measure::Height | Measure::Length, Newborn) => {
            b((20.0, 70.0), (40.0, 60.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::Height | Measure::Length, Infant) => {
            b((20.0, 100.0), (45.0, 85.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::Height | Measure::Length, Toddler) => {
            b((40.0, 130.0), (65.0, 105.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::Height | Measure::Length, Preschool) => {
            b((60.0, 160.0), (85.0, 130.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::Height | Measure::Length, School) => {
            b((70.0, 200.0), (100.0, 175.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::Height | Measure::Length, Adolescent) => {
            b((80.0, 250.0), (120.0, 205.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::Height | Measure::Length, Adult) => {
            b((50.0, 275.0), (120.0, 215.0), RECORD_ES, RECORD_EN)
        }
        (Measure::Temperature, _) => b(
            (25.0, 45.0),
            (35.0, 41.0),
            "fuera de lo compatible con un paciente consciente en consulta",
            "outside what a conscious outpatient can present with",
        ),
        (Measure::HeartRate, Newborn) => b((20.0, 300.0), (90.0, 205.0), PALS_ES, PALS_EN),
        (Measure::HeartRate, Infant) => b((20.0, 300.0), (90.0, 190.0), PALS_ES, PALS_EN),
        (Measure::HeartRate, Toddler) => b((20.0, 280.0), (70.0, 180.0), PALS_ES, PALS_EN),
        (Measure::HeartRate, Preschool) => b((20.0, 260.0), (60.0, 160.0), PALS_ES, PALS_EN),
        (Measure::HeartRate, School) => b((20.0, 250.0), (50.0, 150.0), PALS_ES, PALS_EN),
        (Measure::HeartRate, Adolescent) => b((20.0, 250.0), (45.0, 140.0), PALS_ES, PALS_EN),
        (Measure::HeartRate, Adult) => b(
            (20.0, 300.0),
            (40.0, 150.0),
            "fuera de lo esperable en consulta (bradicardia o taquicardia extremas)",
            "outside what is expected at a clinic visit (extreme brady- or tachycardia)",
        ),
        (Measure::RespiratoryRate, Newborn | Infant) => {
            b((5.0, 150.0), (20.0, 80.0), PALS_ES, PALS_EN)
        }
        (Measure::RespiratoryRate, Toddler) => b((5.0, 120.0), (16.0, 60.0), PALS_ES, PALS_EN),
        (Measure::RespiratoryRate, Preschool) => b((4.0, 100.0), (14.0, 50.0), PALS_ES, PALS_EN),
        (Measure::RespiratoryRate, School) => b((3.0, 90.0), (12.0, 40.0), PALS_ES, PALS_EN),
        (Measure::RespiratoryRate, Adolescent | Adult) => b(
            (3.0, 80.0),
            (8.0, 40.0),
            "fuera de lo esperable en consulta",
            "outside what is expected at a clinic visit",
        ),
        (Measure::Systolic, Newborn | Infant) => b((30.0, 250.0), (50.0, 130.0), PALS_ES, PALS_EN),
        (Measure::Systolic, Toddler | Preschool | School) => {
            b((30.0, 280.0), (60.0, 160.0), PALS_ES, PALS_EN)
        }
        (Measure::Systolic, Adolescent | Adult) => b(
            (40.0, 300.0),
            (70.0, 230.0),
            "fuera de lo medible o esperable en consulta",
            "outside what can be measured or expected at a clinic visit",
        ),
        (Measure::Diastolic, Newborn | Infant | Toddler | Preschool | School) => {
            b((10.0, 200.0), (25.0, 110.0), PALS_ES, PALS_EN)
        }
        (Measure::Diastolic, Adolescent | Adult) => b(
            (15.0, 200.0),
            (35.0, 140.0),
            "fuera de lo medible o esperable en consulta",
            "outside what can be measured or expected at a clinic visit",
        ),
        (Measure::SpO2, _) => b(
            (40.0, 100.0),
            (80.0, 100.0),
            "la saturación no pasa de 100 %; por debajo de 80 % el paciente requiere atención urgente",
            "saturation cannot exceed 100%; below 80% the patient needs urgent care",
        ),
        (Measure::CapillaryGlucose, _) => b(
            (10.0, 2000.0),
            (40.0, 600.0),
            "fuera del intervalo que informan los glucómetros (por lo general 20 a 600 mg/dL)",
            "outside the range glucometers report (usually 20 to 600 mg/dL)",
        ),
        (Measure::Waist, Newborn | Infant | Toddler) => {
            b((20.0, 120.0), (25.0, 70.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::Waist, Preschool | School) => {
            b((20.0, 200.0), (35.0, 110.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::Waist, Adolescent | Adult) => {
            b((30.0, 250.0), (50.0, 180.0), RECORD_ES, RECORD_EN)
        }
        (Measure::HeadCircumference, Newborn) => {
            b((20.0, 50.0), (29.0, 39.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::HeadCircumference, Infant) => b((20.0, 60.0), (30.0, 50.0), GROWTH_ES, GROWTH_EN),
        (Measure::HeadCircumference, Toddler) => {
            b((30.0, 65.0), (40.0, 55.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::HeadCircumference, _) => b((30.0, 75.0), (44.0, 62.0), GROWTH_ES, GROWTH_EN),
        (Measure::Bmi, Newborn | Infant | Toddler | Preschool | School | Adolescent) => {
            b((5.0, 80.0), (10.0, 40.0), GROWTH_ES, GROWTH_EN)
        }
        (Measure::Bmi, Adult) => b(
            (7.0, 200.0),
            (12.0, 70.0),
            "fuera de los valores descritos en adultos",
            "outside values described in adults",
        ),
    }
}

/// The outcome of a range check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum VitalCheck {
    /// Within the usual range.
    Ok,
    /// Improbable: ask the user to confirm before saving.
    Confirm(VitalMessage),
    /// Impossible: refuse.
    Refuse(VitalMessage),
}

/// The message of a [`VitalCheck`], with a unit-confusion hint when one fits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VitalMessage {
    /// Stable code (`VITAL-IMPOSSIBLE-WEIGHT`, `VITAL-IMPROBABLE-HEART-RATE`).
    pub code: String,
    /// Spanish.
    pub message_es: String,
    /// English.
    pub message_en: String,
    /// "98.6 looks like °F (37.0 °C)", when the value fits another unit.
    pub hint: Option<UnitHint>,
}

/// A likely unit confusion and the value converted to the expected unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitHint {
    /// The value in the expected unit.
    pub converted: f64,
    /// Spanish.
    pub message_es: String,
    /// English.
    pub message_en: String,
}

fn code_name(measure: Measure) -> &'static str {
    match measure {
        Measure::Weight => "WEIGHT",
        Measure::Height => "HEIGHT",
        Measure::Length => "LENGTH",
        Measure::Temperature => "TEMPERATURE",
        Measure::HeartRate => "HEART-RATE",
        Measure::RespiratoryRate => "RESPIRATORY-RATE",
        Measure::Systolic => "SYSTOLIC",
        Measure::Diastolic => "DIASTOLIC",
        Measure::SpO2 => "SPO2",
        Measure::CapillaryGlucose => "CAPILLARY-GLUCOSE",
        Measure::Waist => "WAIST",
        Measure::HeadCircumference => "HEAD-CIRCUMFERENCE",
        Measure::Bmi => "BMI",
    }
}

fn show(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Mass conversion from milligrams per decilitre to millimoles per litre of glucose.
const GLUCOSE_MG_DL_PER_MMOL_L: f64 = 18.016;

/// A unit the value probably was typed in, if converting it lands in the usual range.
pub fn unit_hint(measure: Measure, value: f64, band: AgeBand) -> Option<UnitHint> {
    let usual = bounds(measure, band).usual;
    let fits = |v: f64| v >= usual.0 && v <= usual.1;
    let hint = |converted: f64, es: String, en: String| {
        Some(UnitHint {
            converted,
            message_es: es,
            message_en: en,
        })
    };
    match measure {
        Measure::Temperature => {
            let celsius = (value - 32.0) * 5.0 / 9.0;
            fits(celsius).then_some(())?;
            hint(
                (celsius * 10.0).round() / 10.0,
                format!("{} parece °F: equivale a {:.1} °C.", show(value), celsius),
                format!("{} looks like °F: that is {:.1} °C.", show(value), celsius),
            )
        }
        Measure::Weight => {
            if fits(value / 1000.0) {
                hint(
                    value / 1000.0,
                    format!(
                        "{} parece estar en gramos: {} kg.",
                        show(value),
                        show(value / 1000.0)
                    ),
                    format!(
                        "{} looks like grams: {} kg.",
                        show(value),
                        show(value / 1000.0)
                    ),
                )
            } else if fits(value * 0.453_592_37) {
                let kg = value * 0.453_592_37;
                hint(
                    (kg * 10.0).round() / 10.0,
                    format!("{} podría estar en libras: {:.1} kg.", show(value), kg),
                    format!("{} may be pounds: {:.1} kg.", show(value), kg),
                )
            } else {
                None
            }
        }
        Measure::Height | Measure::Length | Measure::Waist | Measure::HeadCircumference => {
            if fits(value * 100.0) {
                hint(
                    value * 100.0,
                    format!(
                        "{} parece estar en metros: {} cm.",
                        show(value),
                        show(value * 100.0)
                    ),
                    format!(
                        "{} looks like metres: {} cm.",
                        show(value),
                        show(value * 100.0)
                    ),
                )
            } else if fits(value / 10.0) {
                hint(
                    value / 10.0,
                    format!(
                        "{} parece estar en milímetros: {} cm.",
                        show(value),
                        show(value / 10.0)
                    ),
                    format!(
                        "{} looks like millimetres: {} cm.",
                        show(value),
                        show(value / 10.0)
                    ),
                )
            } else if fits(value * 2.54) {
                hint(
                    value * 2.54,
                    format!(
                        "{} podría estar en pulgadas: {:.1} cm.",
                        show(value),
                        value * 2.54
                    ),
                    format!("{} may be inches: {:.1} cm.", show(value), value * 2.54),
                )
            } else {
                None
            }
        }
        Measure::SpO2 => {
            (value > 0.0 && value <= 1.0 && fits(value * 100.0)).then_some(())?;
            hint(
                value * 100.0,
                format!(
                    "{} parece una fracción: {} %.",
                    show(value),
                    show(value * 100.0)
                ),
                format!(
                    "{} looks like a fraction: {}%.",
                    show(value),
                    show(value * 100.0)
                ),
            )
        }
        Measure::CapillaryGlucose => {
            let mg_dl = value * GLUCOSE_MG_DL_PER_MMOL_L;
            (value < 35.0 && fits(mg_dl)).then_some(())?;
            hint(
                mg_dl.round(),
                format!(
                    "{} parece estar en mmol/L: {:.0} mg/dL.",
                    show(value),
                    mg_dl
                ),
                format!("{} looks like mmol/L: {:.0} mg/dL.", show(value), mg_dl),
            )
        }
        _ => None,
    }
}

/// Checks one value (in the measure's UCUM unit) for a patient of `age_days` days of life.
/// Non-finite values are impossible.
pub fn check_vital(measure: Measure, value: f64, age_days: u32) -> VitalCheck {
    let band = AgeBand::of_days(age_days);
    let limits = bounds(measure, band);
    let coding = measure.coding();
    let hint = unit_hint(measure, value, band);
    let range = |r: (f64, f64)| format!("{}–{} {}", show(r.0), show(r.1), coding.unit_display);
    if !value.is_finite() || value < limits.impossible.0 || value > limits.impossible.1 {
        return VitalCheck::Refuse(VitalMessage {
            code: format!("VITAL-IMPOSSIBLE-{}", code_name(measure)),
            message_es: format!(
                "{}: {} {} no es posible a esta edad ({}; se aceptan {}).",
                coding.label_es,
                show(value),
                coding.unit_display,
                limits.reason_es,
                range(limits.impossible)
            ),
            message_en: format!(
                "{}: {} {} is not possible at this age ({}; accepted {}).",
                coding.label_en,
                show(value),
                coding.unit_display,
                limits.reason_en,
                range(limits.impossible)
            ),
            hint,
        });
    }
    if value < limits.usual.0 || value > limits.usual.1 {
        return VitalCheck::Confirm(VitalMessage {
            code: format!("VITAL-IMPROBABLE-{}", code_name(measure)),
            message_es: format!(
                "{}: {} {} es poco probable a esta edad ({}; lo habitual es {}). Confirme el valor.",
                coding.label_es,
                show(value),
                coding.unit_display,
                limits.reason_es,
                range(limits.usual)
            ),
            message_en: format!(
                "{}: {} {} is improbable at this age ({}; usual {}). Please confirm.",
                coding.label_en,
                show(value),
                coding.unit_display,
                limits.reason_en,
                range(limits.usual)
            ),
            hint,
        });
    }
    VitalCheck::Ok
}

/// Checks a blood-pressure pair: each value, then their order (GIIS-B015: systolic ≥ diastolic;
/// equal values are refused too, a pulse pressure under 10 mmHg asks for confirmation).
pub fn check_blood_pressure(systolic: f64, diastolic: f64, age_days: u32) -> Vec<VitalCheck> {
    let mut checks = vec![
        check_vital(Measure::Systolic, systolic, age_days),
        check_vital(Measure::Diastolic, diastolic, age_days),
    ];
    checks.retain(|c| *c != VitalCheck::Ok);
    /// Narrowest pulse pressure (mmHg) taken without confirmation.
    const PULSE_PRESSURE_MMHG_MIN: f64 = 10.0;
    if systolic <= diastolic {
        checks.push(VitalCheck::Refuse(VitalMessage {
            code: "VITAL-BP-ORDER".to_owned(),
            message_es: format!(
                "La sistólica ({}) debe ser mayor que la diastólica ({}).",
                show(systolic),
                show(diastolic)
            ),
            message_en: format!(
                "Systolic ({}) must be higher than diastolic ({}).",
                show(systolic),
                show(diastolic)
            ),
            hint: None,
        }));
    } else if systolic - diastolic < PULSE_PRESSURE_MMHG_MIN {
        checks.push(VitalCheck::Confirm(VitalMessage {
            code: "VITAL-BP-PULSE-PRESSURE".to_owned(),
            message_es: format!(
                "Presión de pulso de {} mmHg: poco probable. Confirme los valores.",
                show(systolic - diastolic)
            ),
            message_en: format!(
                "Pulse pressure of {} mmHg is improbable. Please confirm.",
                show(systolic - diastolic)
            ),
            hint: None,
        }));
    }
    checks
}

/// Youngest age (days) at which the record computes BMI: 2 years. Younger children are followed
/// by weight-for-length on the WHO growth charts instead (our choice, as the charts do).
pub const BMI_AGE_DAYS_MIN: u32 = 730;

/// Body-mass index from weight (kg) and height (cm), rounded to one decimal, or `None` when
/// either input is impossible for the age (a BMI from a refused value would be noise: the issue's
/// 8,420 kg over 17 cm gave 284,613) or the patient is under [`BMI_AGE_DAYS_MIN`].
pub fn bmi(weight_kg: f64, height_cm: f64, age_days: u32) -> Option<f64> {
    if age_days < BMI_AGE_DAYS_MIN {
        return None;
    }
    let refused = |c: VitalCheck| matches!(c, VitalCheck::Refuse(_));
    if refused(check_vital(Measure::Weight, weight_kg, age_days))
        || refused(check_vital(Measure::Height, height_cm, age_days))
    {
        return None;
    }
    let metres = height_cm / 100.0;
    Some((weight_kg / (metres * metres) * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests;
