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
pub const VITAL_SIGN_CODES: &[&str] = &[
    "85354-9", "8480-6", "8462-4", "29463-7", "8302-2", "39156-5", "8867-4", "8310-5",
];

/// Points kept per trend (the most recent), so a chart stays small on the wire.
pub const TREND_POINTS_MAX: usize = 40;

/// Medications authored this recently count as current even when completed.
pub const RECENT_MEDICATION_DAYS: i64 = 90;

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
pub struct Allergy {
    pub substance: String,
    pub high_risk: bool,
    pub reaction: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Visit {
    pub encounter_id: String,
    pub day: Option<i64>,
    pub start: String,
    pub facility: String,
    pub facility_clues: String,
    pub service: String,
    pub reason: String,
    /// Compositions (notes) written at this visit: (id, title).
    pub notes: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct Problem {
    pub code: String,
    pub display: String,
    pub onset: String,
}

#[derive(Clone, Debug)]
pub struct Medication {
    pub name: String,
    pub dosage: String,
    pub authored: String,
    pub status: String,
}

#[derive(Clone, Debug)]
pub struct Referral {
    pub id: String,
    pub authored: String,
    pub to_facility: String,
    pub reason: String,
    /// FHIR `ServiceRequest.status` (`active`, `completed`, `revoked`…).
    pub status: String,
}

/// The latest result of one laboratory test.
#[derive(Clone, Debug)]
pub struct LabResult {
    pub name: String,
    pub value: String,
    pub unit: String,
    pub effective: String,
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
    pub allergies: Vec<Allergy>,
    pub visits: Vec<Visit>,
    pub problems: Vec<Problem>,
    pub medications: Vec<Medication>,
    pub immunizations: Vec<schedule::DoseRow>,
    /// Immunizations given that the schedule does not list (campaigns, adults).
    pub other_immunizations: Vec<(String, String)>,
    pub series: Vec<Series>,
    /// Latest result of each laboratory test (not vital signs), newest first.
    pub lab_results: Vec<LabResult>,
    pub referrals: Vec<Referral>,
    pub resource_count: usize,
}

fn text_of_concept(concept: &Value) -> String {
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
            "AllergyIntolerance" => {
                if resource["clinicalStatus"]["coding"][0]["code"] == "inactive"
                    || resource["clinicalStatus"]["coding"][0]["code"] == "resolved"
                {
                    continue;
                }
                chart.allergies.push(Allergy {
                    substance: text_of_concept(&resource["code"]),
                    high_risk: resource["criticality"] == "high",
                    reaction: resource["reaction"][0]["manifestation"]
                        .get(0)
                        .map(text_of_concept),
                });
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
                        let text = text_of_concept(c);
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
                    day: dates::parse_day(start),
                    start: start.to_string(),
                    facility: name,
                    facility_clues: clues,
                    service: text_of_concept(&resource["serviceType"]),
                    reason,
                    notes: Vec::new(),
                });
            }
            "Composition" => {
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
                if !matches!(status, "active" | "recurrence" | "relapse") {
                    continue;
                }
                let code =
                    coding_code(&resource["code"], mexico::systems::CIE10).unwrap_or_default();
                let display = text_of_concept(&resource["code"]);
                if !problem_codes.insert(if code.is_empty() {
                    display.clone()
                } else {
                    code.clone()
                }) {
                    continue;
                }
                chart.problems.push(Problem {
                    code,
                    display,
                    onset: resource["onsetDateTime"]
                        .as_str()
                        .or_else(|| resource["recordedDate"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                });
            }
            "MedicationRequest" => {
                let status = resource["status"].as_str().unwrap_or_default();
                let authored = resource["authoredOn"].as_str().unwrap_or_default();
                let recent =
                    dates::parse_day(authored).is_some_and(|d| today - d <= RECENT_MEDICATION_DAYS);
                if status == "active"
                    || (recent && !matches!(status, "cancelled" | "entered-in-error"))
                {
                    chart.medications.push(Medication {
                        name: text_of_concept(&resource["medicationCodeableConcept"]),
                        dosage: resource["dosageInstruction"][0]["text"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        authored: authored.to_string(),
                        status: status.to_string(),
                    });
                }
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
                        text_of_concept(&resource["vaccineCode"]),
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
                let code_is_vital = coding_code(&resource["code"], mexico::systems::LOINC)
                    .is_some_and(|c| VITAL_SIGN_CODES.contains(&c.as_str()));
                if !is_vital
                    && !code_is_vital
                    && let Some(number) = resource["valueQuantity"]["value"].as_f64()
                {
                    let code = coding_code(&resource["code"], mexico::systems::LOINC)
                        .unwrap_or_else(|| text_of_concept(&resource["code"]));
                    let effective = resource["effectiveDateTime"].as_str().unwrap_or_default();
                    let newer = latest_labs
                        .get(&code)
                        .is_none_or(|r| r.effective.as_str() < effective);
                    if newer {
                        latest_labs.insert(
                            code,
                            LabResult {
                                name: text_of_concept(&resource["code"]),
                                value: format_value(number),
                                unit: resource["valueQuantity"]["unit"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .to_string(),
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
                        .map(text_of_concept)
                        .unwrap_or_default(),
                    status: resource["status"].as_str().unwrap_or_default().to_string(),
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
    chart.lab_results = latest_labs.into_values().collect();
    chart
        .lab_results
        .sort_by(|a, b| b.effective.cmp(&a.effective).then(a.name.cmp(&b.name)));
    chart.visits.sort_by(|a, b| b.start.cmp(&a.start));
    chart.problems.sort_by(|a, b| b.onset.cmp(&a.onset));
    chart
        .medications
        .sort_by(|a, b| b.authored.cmp(&a.authored));
    chart.referrals.sort_by(|a, b| b.authored.cmp(&a.authored));
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
