//! The patient chart as plain data, built from the patient's resources (`$everything`).
//!
//! Why a separate pure step: the chart is the page clinicians open most, so it must render in
//! a few milliseconds for a patient with hundreds of resources (benchmarked), and its rules —
//! what is an active problem, a current medication, a lab trend — deserve tests without a
//! server. Facility names are looked up by the caller (`data::facilities`) and passed in.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::data::Facility;
use crate::dates;
use crate::schedule;

/// LOINC codes of the trends drawn on the chart, with their message key and unit.
pub const TRENDS: &[Trend] = &[
    Trend {
        key: "trend.glucose",
        codes: &["2339-0", "2345-7"],
        unit: "mg/dL",
    },
    Trend {
        key: "trend.hba1c",
        codes: &["4548-4"],
        unit: "%",
    },
    Trend {
        key: "trend.systolic",
        codes: &["8480-6"],
        unit: "mmHg",
    },
    Trend {
        key: "trend.diastolic",
        codes: &["8462-4"],
        unit: "mmHg",
    },
    Trend {
        key: "trend.weight",
        codes: &["29463-7"],
        unit: "kg",
    },
    Trend {
        key: "trend.bmi",
        codes: &["39156-5"],
        unit: "kg/m²",
    },
    Trend {
        key: "trend.height",
        codes: &["8302-2"],
        unit: "cm",
    },
];

/// LOINC codes of vital signs: never listed as laboratory results even without a category.
/// (Capillary glucose shares 2339-0 with the laboratory glucose; it counts as a vital sign only
/// with the vital-signs category.)
pub const VITAL_SIGN_CODES: &[&str] = &[
    "85354-9", "8480-6", "8462-4", "29463-7", "8302-2", "8306-3", "39156-5", "8867-4", "8310-5",
    "9279-1", "59408-5", "8280-0", "9843-4",
];

/// Points kept per trend (the most recent), so a chart stays small on the wire.
pub const TREND_POINTS_MAX: usize = 40;

#[derive(Clone, Copy, Debug)]
pub struct Trend {
    pub key: &'static str,
    pub codes: &'static [&'static str],
    pub unit: &'static str,
}

#[derive(Clone, Debug, Default)]
pub struct Header {
    pub id: String,
    pub name: String,
    pub birth_date: String,
    pub birth_day: Option<i64>,
    pub age_years: Option<i64>,
    pub age_months: Option<i64>,
    /// FHIR `gender`.
    pub gender: String,
    pub curp: Option<String>,
    pub curp_pending: bool,
    pub folio: Option<String>,
    pub managing_organization: Option<String>,
    pub phone: Option<String>,
}

impl Header {
    /// The age as shown: months under two years, years after.
    pub fn age_text(&self, tr: &crate::i18n::Tr) -> String {
        match (self.age_years, self.age_months) {
            (Some(years), Some(months)) if years < 2 => {
                format!("{months} {}", tr.s("chart.months"))
            }
            (Some(years), _) => format!("{years} {}", tr.s("chart.years")),
            _ => String::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Visit {
    pub encounter_id: String,
    /// The facility's `Organization/{id}`, when the encounter names one.
    pub facility_reference: Option<String>,
    pub day: Option<i64>,
    pub start: String,
    pub facility: String,
    pub facility_clues: String,
    pub service: String,
    pub reason: String,
    /// Compositions (notes) written at this visit: (id, title).
    pub notes: Vec<(String, String)>,
}

/// One active problem: every active Condition of the same code, listed once.
#[derive(Clone, Debug)]
pub struct Problem {
    pub code: String,
    pub display: String,
    pub onset: String,
    /// Chronic or acute, when marked (message key).
    pub course: Option<&'static str>,
    /// `id`s of the active Conditions of this code.
    pub condition_ids: Vec<String>,
}

/// A resolved or inactive problem (the problems screen lists them).
#[derive(Clone, Debug)]
pub struct PastProblem {
    pub code: String,
    pub display: String,
    /// When it was resolved (`abatementDateTime`), or recorded.
    pub until: String,
}

/// The code system of a problem's course (chronic or acute), as a `Condition.category` coding.
pub const COURSE_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/CodeSystem/curso-clinico";

/// The course a Condition is marked with: `cronico` or `agudo`.
pub fn course_of(condition: &Value) -> Option<&'static str> {
    condition["category"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
        .filter(|c| c["system"] == COURSE_SYSTEM)
        .find_map(|c| match c["code"].as_str() {
            Some("cronico") => Some("problems.chronic"),
            Some("agudo") => Some("problems.acute"),
            _ => None,
        })
}

/// The latest value of one vital sign.
#[derive(Clone, Debug)]
pub struct LatestVital {
    /// Spanish and English labels.
    pub label_es: &'static str,
    pub label_en: &'static str,
    /// Value with its unit (`124/78 mmHg`).
    pub value: String,
    pub effective: String,
}

#[derive(Clone, Debug)]
pub struct Referral {
    pub id: String,
    pub authored: String,
    pub to_facility: String,
    pub reason: String,
    /// FHIR `ServiceRequest.status` (`active`, `completed`, `revoked`…).
    pub status: String,
    /// The state of the Task that carries it to the receiving facility (message key of
    /// `referral::referral_state`), when it has one; and whether it is overdue.
    pub task_state: Option<&'static str>,
    pub overdue: bool,
}

/// The latest signed progress note, for the printable summary.
#[derive(Clone, Debug, Default)]
pub struct LatestNote {
    pub id: String,
    pub date: String,
    pub author: String,
    pub facility: String,
    /// (title, paragraphs) of each section.
    pub sections: Vec<(String, Vec<String>)>,
}

/// A Composition as the printed summary shows it, when it is a signed note in force (final,
/// and neither amended nor replaced by another).
pub fn signed_note(resource: &Value) -> Option<LatestNote> {
    let in_force =
        resource["status"] == "final" && resource["relatesTo"].as_array().is_none_or(Vec::is_empty);
    if !in_force {
        return None;
    }
    Some(LatestNote {
        id: resource["id"].as_str().unwrap_or_default().to_string(),
        date: resource["date"].as_str().unwrap_or_default().to_string(),
        author: resource["author"][0]["display"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        facility: resource["custodian"]["display"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        sections: resource["section"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                (
                    s["title"].as_str().unwrap_or_default().to_string(),
                    crate::pages::narrative_text(s["text"]["div"].as_str().unwrap_or_default()),
                )
            })
            .collect(),
    })
}

/// The latest result of one laboratory test.
#[derive(Clone, Debug)]
pub struct LabResult {
    pub name: String,
    pub value: String,
    pub unit: String,
    pub effective: String,
    /// The flag (the laboratory's, else computed from the range), when there is one.
    pub flag: Option<clinical::labs::Flag>,
    /// The reference range as shown (`70–99 mg/dL`).
    pub range: String,
}

impl LabResult {
    /// The flag's class for the page.
    pub fn flag_css(&self) -> &'static str {
        match self.flag {
            Some(clinical::labs::Flag::Normal) | None => "ok",
            Some(clinical::labs::Flag::CriticalLow | clinical::labs::Flag::CriticalHigh) => "bad",
            Some(_) => "warn",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Series {
    pub trend: Trend,
    /// (day, value), oldest first.
    pub points: Vec<(i64, f64)>,
}

#[derive(Clone, Debug, Default)]
pub struct Chart {
    pub header: Header,
    pub visits: Vec<Visit>,
    pub problems: Vec<Problem>,
    pub past_problems: Vec<PastProblem>,
    /// The reconciled medication list.
    pub medications: crate::meds::MedList,
    /// The latest value of each vital sign.
    pub latest_vitals: Vec<LatestVital>,
    pub immunizations: Vec<schedule::DoseRow>,
    /// Immunizations given that the schedule does not list (campaigns, adults).
    pub other_immunizations: Vec<(String, String)>,
    pub series: Vec<Series>,
    /// Latest result of each laboratory test (not vital signs), newest first.
    pub lab_results: Vec<LabResult>,
    pub referrals: Vec<Referral>,
    /// Laboratory and imaging orders not yet resulted (`active`): (study, authored).
    pub pending_orders: Vec<(String, String)>,
    /// The latest signed progress note: (id, date, sections as (title, paragraphs)).
    pub latest_note: Option<LatestNote>,
    pub resource_count: usize,
}

/// What a CodeableConcept says: its text, else its first coding's display, else its code.
pub fn concept_text(concept: &Value) -> String {
    concept["text"]
        .as_str()
        .or_else(|| concept["coding"][0]["display"].as_str())
        .or_else(|| concept["coding"][0]["code"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn coding_code(concept: &Value, system: &str) -> Option<String> {
    concept["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == system)
        .and_then(|c| c["code"].as_str())
        .map(str::to_string)
}

/// A measured value as shown: no trailing `.0`, one decimal otherwise.
pub fn format_value(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The display name of a Patient (or Practitioner): `text`, or given + family.
pub fn name_of(resource: &Value) -> String {
    let Some(names) = resource["name"].as_array() else {
        return String::new();
    };
    let name = names
        .iter()
        .find(|n| n["use"] == "official")
        .or_else(|| names.first())
        .unwrap_or(&Value::Null);
    if let Some(text) = name["text"].as_str() {
        return text.to_string();
    }
    let mut parts: Vec<&str> = name["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(family) = name["family"].as_str() {
        parts.push(family);
    }
    parts.join(" ")
}

/// The patient's CURP (official, not `old`).
pub fn curp_of(patient: &Value) -> Option<String> {
    patient["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"] == mexico::systems::CURP && i["use"] != "old")
        .and_then(|i| i["value"].as_str())
        .map(str::to_string)
}

pub fn header_of(patient: &Value, today: i64) -> Header {
    let birth_date = patient["birthDate"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let birth_day = dates::parse_day(&birth_date);
    let age_months = birth_day.map(|b| dates::age_months(b, today));
    Header {
        id: patient["id"].as_str().unwrap_or_default().to_string(),
        name: name_of(patient),
        birth_date,
        birth_day,
        age_years: age_months.map(|m| m / 12),
        age_months,
        gender: patient["gender"].as_str().unwrap_or("unknown").to_string(),
        curp: curp_of(patient),
        curp_pending: patient["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["url"] == mexico::systems::EXT_CURP_PENDING),
        folio: patient["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["system"] == mexico::systems::FOLIO)
            .and_then(|i| i["value"].as_str())
            .map(str::to_string),
        managing_organization: patient["managingOrganization"]["reference"]
            .as_str()
            .map(str::to_string),
        phone: patient["telecom"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["system"] == "phone")
            .and_then(|t| t["value"].as_str())
            .map(str::to_string),
    }
}

/// The `Organization/{id}` references a chart needs names for.
pub fn facility_references(resources: &[Value]) -> HashSet<String> {
    let mut out = HashSet::new();
    for resource in resources {
        let reference = match resource["resourceType"].as_str() {
            Some("Encounter") => resource["serviceProvider"]["reference"].as_str(),
            Some("Patient") => resource["managingOrganization"]["reference"].as_str(),
            Some("ServiceRequest") => resource["performer"][0]["reference"].as_str(),
            _ => None,
        };
        if let Some(reference) = reference.filter(|r| r.starts_with("Organization/")) {
            out.insert(reference.to_string());
        }
    }
    out
}

/// The order of the latest vital signs on the chart (Spanish labels).
const VITAL_ORDER: &[&str] = &[
    "Peso",
    "Talla",
    "Longitud (acostado)",
    "Índice de masa corporal",
    "Tensión arterial",
    "Frecuencia cardiaca",
    "Frecuencia respiratoria",
    "Temperatura",
    "Saturación de oxígeno (SpO₂)",
    "Glucemia capilar",
    "Circunferencia de cintura",
    "Perímetro cefálico",
];

/// A reference range as shown: `70–99 mg/dL`, `< 5.7 %`, or the laboratory's text.
fn range_text(view: &clinical::labs::LabView, unit: &str) -> String {
    if let Some(text) = &view.range_text {
        return text.clone();
    }
    let Some(range) = view.range else {
        return String::new();
    };
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    match (range.low, range.high) {
        (Some(low), Some(high)) => format!("{}–{}{unit}", format_value(low), format_value(high)),
        (Some(low), None) => format!("≥ {}{unit}", format_value(low)),
        (None, Some(high)) => format!("≤ {}{unit}", format_value(high)),
        (None, None) => String::new(),
    }
}

/// Keeps the latest value of each vital sign (blood pressure as one `124/78`).
fn note_vital(
    vitals: &mut HashMap<&'static str, (String, LatestVital)>,
    loinc: Option<&str>,
    resource: &Value,
    effective: &str,
) {
    let measure = clinical::vitals::Measure::ALL
        .iter()
        .copied()
        .find(|m| Some(m.coding().loinc) == loinc);
    let (label_es, label_en, value) = if loinc == Some(clinical::vitals::BP_PANEL_LOINC) {
        let component = |code: &str| {
            resource["component"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| coding_code(&c["code"], mexico::systems::LOINC).as_deref() == Some(code))
                .and_then(|c| c["valueQuantity"]["value"].as_f64())
        };
        let (Some(systolic), Some(diastolic)) = (component("8480-6"), component("8462-4")) else {
            return;
        };
        (
            "Tensión arterial",
            "Blood pressure",
            format!(
                "{}/{} mmHg",
                format_value(systolic),
                format_value(diastolic)
            ),
        )
    } else if let (Some(measure), Some(number)) =
        (measure, resource["valueQuantity"]["value"].as_f64())
    {
        let coding = measure.coding();
        (
            coding.label_es,
            coding.label_en,
            format!("{} {}", format_value(number), coding.unit_display),
        )
    } else {
        return;
    };
    let newer = vitals
        .get(label_es)
        .is_none_or(|(at, _)| at.as_str() < effective);
    if newer {
        vitals.insert(
            label_es,
            (
                effective.to_string(),
                LatestVital {
                    label_es,
                    label_en,
                    value,
                    effective: effective.to_string(),
                },
            ),
        );
    }
}

/// Builds the chart of `patient_id` from its compartment.
pub fn build(
    patient_id: &str,
    resources: &[Value],
    facilities: &HashMap<String, Facility>,
    today: i64,
) -> Chart {
    let mut chart = Chart {
        resource_count: resources.len(),
        ..Chart::default()
    };
    let mut notes_by_encounter: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut given = Vec::new();
    let mut problem_codes = HashSet::new();
    let mut series: HashMap<&'static str, Vec<(i64, f64)>> = HashMap::new();
    let mut latest_labs: HashMap<String, LabResult> = HashMap::new();
    let mut past: Vec<PastProblem> = Vec::new();
    let mut vitals: HashMap<&'static str, (String, LatestVital)> = HashMap::new();
    let facility = |reference: Option<&str>| -> (String, String) {
        reference
            .and_then(|r| facilities.get(r))
            .map(|f| (f.name.clone(), f.clues.clone()))
            .unwrap_or_default()
    };
    for resource in resources {
        match resource["resourceType"].as_str().unwrap_or_default() {
            "Patient" if resource["id"] == patient_id || chart.header.id.is_empty() => {
                chart.header = header_of(resource, today);
            }
            "Encounter" => {
                let start = resource["period"]["start"].as_str().unwrap_or_default();
                let (name, clues) = facility(resource["serviceProvider"]["reference"].as_str());
                let reason = resource["reasonCode"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let code = coding_code(c, mexico::systems::CIE10).unwrap_or_default();
                        let text = concept_text(c);
                        if code.is_empty() {
                            text
                        } else {
                            format!("{text} ({code})")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                chart.visits.push(Visit {
                    encounter_id: resource["id"].as_str().unwrap_or_default().to_string(),
                    facility_reference: resource["serviceProvider"]["reference"]
                        .as_str()
                        .map(str::to_string),
                    day: dates::parse_day(start),
                    start: start.to_string(),
                    facility: name,
                    facility_clues: clues,
                    service: concept_text(&resource["serviceType"]),
                    reason,
                    notes: Vec::new(),
                });
            }
            "Composition" => {
                if let Some(note) = signed_note(resource)
                    && chart
                        .latest_note
                        .as_ref()
                        .is_none_or(|n| n.date < note.date)
                {
                    chart.latest_note = Some(note);
                }
                if let Some(encounter) = resource["encounter"]["reference"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("Encounter/"))
                {
                    notes_by_encounter
                        .entry(encounter.to_string())
                        .or_default()
                        .push((
                            resource["id"].as_str().unwrap_or_default().to_string(),
                            resource["title"].as_str().unwrap_or_default().to_string(),
                        ));
                }
            }
            "Condition" => {
                let status = resource["clinicalStatus"]["coding"][0]["code"]
                    .as_str()
                    .unwrap_or_default();
                let code =
                    coding_code(&resource["code"], mexico::systems::CIE10).unwrap_or_default();
                let display = concept_text(&resource["code"]);
                if !matches!(status, "active" | "recurrence" | "relapse") {
                    if resource["verificationStatus"]["coding"][0]["code"] != "entered-in-error" {
                        past.push(PastProblem {
                            code,
                            display,
                            until: resource["abatementDateTime"]
                                .as_str()
                                .or_else(|| resource["recordedDate"].as_str())
                                .unwrap_or_default()
                                .to_string(),
                        });
                    }
                    continue;
                }
                let key = if code.is_empty() {
                    display.clone()
                } else {
                    code.clone()
                };
                let id = resource["id"].as_str().unwrap_or_default().to_string();
                let onset = resource["onsetDateTime"]
                    .as_str()
                    .or_else(|| resource["recordedDate"].as_str())
                    .unwrap_or_default()
                    .to_string();
                if !problem_codes.insert(key.clone()) {
                    if let Some(problem) = chart.problems.iter_mut().find(|p| {
                        (if p.code.is_empty() {
                            &p.display
                        } else {
                            &p.code
                        }) == &key
                    }) {
                        problem.condition_ids.push(id);
                        if problem.course.is_none() {
                            problem.course = course_of(resource);
                        }
                        if !onset.is_empty() && (problem.onset.is_empty() || onset < problem.onset)
                        {
                            problem.onset = onset;
                        }
                    }
                    continue;
                }
                chart.problems.push(Problem {
                    code,
                    display,
                    onset,
                    course: course_of(resource),
                    condition_ids: vec![id],
                });
            }
            "Immunization" => {
                if resource["status"] != "completed" {
                    continue;
                }
                let cvx =
                    coding_code(&resource["vaccineCode"], mexico::systems::CVX).unwrap_or_default();
                let day = resource["occurrenceDateTime"]
                    .as_str()
                    .and_then(dates::parse_day);
                if !schedule::CHILD_SCHEDULE.iter().any(|d| d.cvx == cvx) {
                    chart.other_immunizations.push((
                        concept_text(&resource["vaccineCode"]),
                        resource["occurrenceDateTime"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    ));
                }
                given.push(schedule::Given {
                    cvx,
                    dose: resource["protocolApplied"][0]["doseNumberPositiveInt"]
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok()),
                    day,
                });
            }
            "Observation" => {
                let Some(day) = resource["effectiveDateTime"]
                    .as_str()
                    .and_then(dates::parse_day)
                else {
                    continue;
                };
                if matches!(
                    resource["status"].as_str(),
                    Some("entered-in-error" | "cancelled")
                ) {
                    continue;
                }
                let mut add = |code: &Value, value: &Value| {
                    let (Some(code), Some(number)) = (
                        coding_code(code, mexico::systems::LOINC),
                        value["value"].as_f64(),
                    ) else {
                        return;
                    };
                    if let Some(trend) = TRENDS.iter().find(|t| t.codes.contains(&code.as_str())) {
                        series.entry(trend.key).or_default().push((day, number));
                    }
                };
                add(&resource["code"], &resource["valueQuantity"]);
                let is_vital = resource["category"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["coding"][0]["code"] == "vital-signs");
                let loinc = coding_code(&resource["code"], mexico::systems::LOINC);
                let code_is_vital = loinc
                    .as_deref()
                    .is_some_and(|c| VITAL_SIGN_CODES.contains(&c) && c != "2339-0");
                let effective = resource["effectiveDateTime"].as_str().unwrap_or_default();
                if is_vital || code_is_vital {
                    note_vital(&mut vitals, loinc.as_deref(), resource, effective);
                } else if let Some(number) = resource["valueQuantity"]["value"].as_f64() {
                    let code = loinc.unwrap_or_else(|| concept_text(&resource["code"]));
                    let newer = latest_labs
                        .get(&code)
                        .is_none_or(|r| r.effective.as_str() < effective);
                    if newer {
                        let view = clinical::labs::read_observation(resource);
                        let unit = resource["valueQuantity"]["unit"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        latest_labs.insert(
                            code,
                            LabResult {
                                name: concept_text(&resource["code"]),
                                value: format_value(number),
                                range: view
                                    .as_ref()
                                    .map(|v| range_text(v, &unit))
                                    .unwrap_or_default(),
                                flag: view.as_ref().and_then(clinical::labs::LabView::flag),
                                unit,
                                effective: effective.to_string(),
                            },
                        );
                    }
                }
                for component in resource["component"].as_array().into_iter().flatten() {
                    add(&component["code"], &component["valueQuantity"]);
                }
            }
            "ServiceRequest" => {
                let is_referral = resource["category"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["coding"][0]["code"] == "3457005");
                if !is_referral {
                    if resource["status"] == "active" {
                        chart.pending_orders.push((
                            concept_text(&resource["code"]),
                            resource["authoredOn"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                        ));
                    }
                    continue;
                }
                let (to, _) = facility(resource["performer"][0]["reference"].as_str());
                chart.referrals.push(Referral {
                    id: resource["id"].as_str().unwrap_or_default().to_string(),
                    authored: resource["authoredOn"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    to_facility: if to.is_empty() {
                        resource["performer"][0]["display"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string()
                    } else {
                        to
                    },
                    reason: resource["reasonCode"]
                        .get(0)
                        .map(concept_text)
                        .unwrap_or_default(),
                    status: resource["status"].as_str().unwrap_or_default().to_string(),
                    task_state: None,
                    overdue: false,
                });
            }
            _ => {}
        }
    }
    for visit in &mut chart.visits {
        if let Some(notes) = notes_by_encounter.remove(&visit.encounter_id) {
            visit.notes = notes;
        }
    }
    chart.medications = crate::meds::reconcile(resources, today);
    chart.past_problems = past;
    chart.past_problems.sort_by(|a, b| b.until.cmp(&a.until));
    let mut latest: Vec<(usize, LatestVital)> = vitals
        .into_values()
        .map(|(_, v)| {
            let order = VITAL_ORDER
                .iter()
                .position(|l| *l == v.label_es)
                .unwrap_or(usize::MAX);
            (order, v)
        })
        .collect();
    latest.sort_by_key(|(order, _)| *order);
    chart.latest_vitals = latest.into_iter().map(|(_, v)| v).collect();
    chart.lab_results = latest_labs.into_values().collect();
    chart
        .lab_results
        .sort_by(|a, b| b.effective.cmp(&a.effective).then(a.name.cmp(&b.name)));
    chart.visits.sort_by(|a, b| b.start.cmp(&a.start));
    chart.problems.sort_by(|a, b| b.onset.cmp(&a.onset));
    // Each referral's Task (in the same compartment): its state is what both facilities see.
    let day_ms = today.saturating_mul(86_400_000);
    for task in resources.iter().filter(|r| r["resourceType"] == "Task") {
        let Some(focus) = task["focus"]["reference"].as_str() else {
            continue;
        };
        if let Some(referral) = chart
            .referrals
            .iter_mut()
            .find(|r| focus == format!("ServiceRequest/{}", r.id))
        {
            let (key, overdue) = crate::referral::referral_state(task, day_ms);
            referral.task_state = Some(key);
            referral.overdue = overdue;
        }
    }
    chart.referrals.sort_by(|a, b| b.authored.cmp(&a.authored));
    chart.pending_orders.sort_by(|a, b| b.1.cmp(&a.1));
    chart.other_immunizations.sort_by(|a, b| b.1.cmp(&a.1));
    if let Some(birth) = chart.header.birth_day {
        chart.immunizations = schedule::evaluate(birth, today, &given);
    }
    let is_child = chart.header.age_years.is_some_and(|a| a < 18);
    for trend in TRENDS {
        // Height is a growth chart: drawn for children only.
        if trend.key == "trend.height" && !is_child {
            continue;
        }
        if let Some(mut points) = series.remove(trend.key) {
            points.sort_by_key(|p| p.0);
            let skip = points.len().saturating_sub(TREND_POINTS_MAX);
            chart.series.push(Series {
                trend: *trend,
                points: points.split_off(skip),
            });
        }
    }
    chart
}

#[cfg(test)]
mod tests;
