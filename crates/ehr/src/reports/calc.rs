//! The reports' arithmetic over records already read: pure, so every rule of the fixed CSV
//! contracts (issue 16) is tested here on hand-made resources, and the use cases only fetch.

use std::collections::{BTreeMap, HashMap};

use fhir::Json;
use mexico::systems;
use time::Date;

use super::dates::{epi_week, instant_seconds, local_date, months_before};

/// Where facilities are: Organization and Location ids → CLUES, so that a reference to a
/// facility, literal or logical, names its CLUES.
#[derive(Debug, Default)]
pub struct Facilities {
    organizations: HashMap<String, String>,
    locations: HashMap<String, String>,
}

impl Facilities {
    /// From the directory: an Organization's CLUES identifier; a Location's own CLUES
    /// identifier, else its managing Organization's.
    pub fn new(organizations: &[Json], locations: &[Json]) -> Facilities {
        let mut facilities = Facilities::default();
        for org in organizations {
            if let (Some(id), Some(clues)) = (id_of(org), clues_in(org)) {
                facilities.organizations.insert(id.to_string(), clues);
            }
        }
        for location in locations {
            let Some(id) = id_of(location) else { continue };
            let clues = clues_in(location).or_else(|| {
                location
                    .get("managingOrganization")
                    .and_then(|r| facilities.clues_of(r))
            });
            if let Some(clues) = clues {
                facilities.locations.insert(id.to_string(), clues);
            }
        }
        facilities
    }

    /// The CLUES a reference names: `Organization/{id}` or `Location/{id}` of the directory,
    /// or a logical reference by CLUES identifier.
    pub fn clues_of(&self, reference: &Json) -> Option<String> {
        if let Some(text) = reference.get("reference").and_then(Json::as_str) {
            if let Some(id) = referenced_id(text, "Organization") {
                return self.organizations.get(id).cloned();
            }
            if let Some(id) = referenced_id(text, "Location") {
                return self.locations.get(id).cloned();
            }
        }
        reference
            .get("identifier")
            .and_then(clues_of_identifier)
            .map(|c| mexico::clues::normalize_clues(&c))
    }
}

fn id_of(resource: &Json) -> Option<&str> {
    resource.get("id").and_then(Json::as_str)
}

fn clues_of_identifier(identifier: &Json) -> Option<String> {
    (identifier.get("system").and_then(Json::as_str) == Some(systems::CLUES))
        .then(|| identifier.get("value").and_then(Json::as_str))
        .flatten()
        .map(mexico::clues::normalize_clues)
}

/// The CLUES identifier of an Organization or Location.
fn clues_in(resource: &Json) -> Option<String> {
    resource
        .get("identifier")?
        .as_array()?
        .iter()
        .find_map(clues_of_identifier)
}

/// The id in `Type/{id}` (relative or absolute URL, `/_history/{v}` dropped).
pub fn referenced_id<'a>(reference: &'a str, resource_type: &str) -> Option<&'a str> {
    let reference = match reference.find("/_history/") {
        Some(at) => &reference[..at],
        None => reference,
    };
    let mut parts = reference.rsplit('/');
    let id = parts.next()?;
    (parts.next()? == resource_type && !id.is_empty()).then_some(id)
}

pub(super) fn reference_id<'a>(
    resource: &'a Json,
    element: &str,
    resource_type: &str,
) -> Option<&'a str> {
    let text = resource.get(element)?.get("reference")?.as_str()?;
    referenced_id(text, resource_type)
}

/// Codes of a CodeableConcept in `system`.
fn codes_in<'a>(concept: Option<&'a Json>, system: &str) -> Vec<&'a str> {
    concept
        .and_then(|c| c.get("coding"))
        .and_then(Json::as_array)
        .unwrap_or(&[])
        .iter()
        .filter(|c| c.get("system").and_then(Json::as_str) == Some(system))
        .filter_map(|c| c.get("code").and_then(Json::as_str))
        .collect()
}

/// Whether a Condition was entered in error or refuted (never a case, never a diagnosis).
fn is_void(condition: &Json) -> bool {
    codes_in(
        condition.get("verificationStatus"),
        "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    )
    .iter()
    .any(|c| *c == "entered-in-error" || *c == "refuted")
}

/// One row of `new-cases.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCasesRow {
    pub state: String,
    pub epi_year: i32,
    pub epi_week: u8,
    pub cie10: String,
    pub cases: u64,
}

/// What the new-cases count needs of an Encounter.
#[derive(Debug, Default)]
pub struct EncounterFacts {
    start: Option<String>,
    clues: Option<String>,
}

impl EncounterFacts {
    /// The CLUES of the Encounter's facility, when known.
    pub fn clues(&self) -> Option<&str> {
        self.clues.as_deref()
    }
}

/// Encounter id → its start and its facility's CLUES.
pub fn encounter_facts(
    encounters: &[Json],
    facilities: &Facilities,
) -> HashMap<String, EncounterFacts> {
    encounters
        .iter()
        .filter_map(|e| {
            let id = id_of(e)?;
            Some((
                id.to_string(),
                EncounterFacts {
                    start: e
                        .get("period")
                        .and_then(|p| p.get("start"))
                        .and_then(Json::as_str)
                        .map(str::to_string),
                    clues: e
                        .get("serviceProvider")
                        .and_then(|r| facilities.clues_of(r)),
                },
            ))
        })
        .collect()
}

/// A Condition's date as the contract says: `recordedDate`, else `onset[x]` (a dateTime, or a
/// Period's start), else its Encounter's start.
fn condition_date(condition: &Json, encounter: Option<&EncounterFacts>) -> Option<String> {
    let own = [
        condition.get("recordedDate"),
        condition.get("onsetDateTime"),
        condition.get("onsetPeriod").and_then(|p| p.get("start")),
    ]
    .into_iter()
    .flatten()
    .find_map(Json::as_str);
    own.map(str::to_string)
        .or_else(|| encounter.and_then(|e| e.start.clone()))
}

/// One new case: the first Condition with a code for a patient, ever.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstCase {
    pub patient: String,
    pub code: String,
    pub date: Date,
    /// `None` when its Encounter names no known facility (it cannot be placed).
    pub state: Option<String>,
}

/// The new cases among `conditions` (see [`new_cases`] for the rule), in no particular order.
pub fn first_cases(
    conditions: &[Json],
    encounters: &HashMap<String, EncounterFacts>,
) -> Vec<FirstCase> {
    // (patient, code) → (date, instant, id, state)
    type First<'a> = (Date, i64, &'a str, Option<String>);
    let mut first: HashMap<(&str, &str), First<'_>> = HashMap::new();
    for condition in conditions {
        if is_void(condition) {
            continue;
        }
        let (Some(id), Some(patient)) = (
            id_of(condition),
            reference_id(condition, "subject", "Patient"),
        ) else {
            continue;
        };
        let encounter =
            reference_id(condition, "encounter", "Encounter").and_then(|e| encounters.get(e));
        let Some(text) = condition_date(condition, encounter) else {
            continue;
        };
        let (Some(date), Some(instant)) = (local_date(&text), instant_seconds(&text)) else {
            continue;
        };
        let state = encounter
            .and_then(|e| e.clues.as_deref())
            .and_then(state_of_clues);
        for code in codes_in(condition.get("code"), systems::CIE10) {
            let candidate = (date, instant, id, state.clone());
            match first.get_mut(&(patient, code)) {
                Some(held) if (held.0, held.1, held.2) <= (date, instant, id) => {}
                Some(held) => *held = candidate,
                None => {
                    first.insert((patient, code), candidate);
                }
            }
        }
    }
    first
        .into_iter()
        .map(|((patient, code), (date, _, _, state))| FirstCase {
            patient: patient.to_string(),
            code: code.to_string(),
            date,
            state,
        })
        .collect()
}

/// Rows of `new-cases.csv` from cases counted per (date, state, code), for dates in
/// `from..=to`.
pub fn count_cases<'a>(
    cases: impl IntoIterator<Item = (Date, &'a str, &'a str, u64)>,
    from: Date,
    to: Date,
) -> Vec<NewCasesRow> {
    let mut counts: BTreeMap<(String, i32, u8, String), u64> = BTreeMap::new();
    for (date, state, code, n) in cases {
        if date < from || date > to {
            continue;
        }
        let (year, week) = epi_week(date);
        *counts
            .entry((state.to_string(), year, week, code.to_string()))
            .or_default() += n;
    }
    counts
        .into_iter()
        .map(|((state, epi_year, epi_week, cie10), cases)| NewCasesRow {
            state,
            epi_year,
            epi_week,
            cie10,
            cases,
        })
        .collect()
}

/// New cases per state, epidemiological week and CIE-10 code with a date in `from..=to`.
///
/// A case is the first Condition with a code for a patient, ever (earliest date, then
/// earliest instant, then id, so the choice is stable); later Conditions with the same code
/// are the same case followed up. Conditions without a patient or a full date, or entered in
/// error or refuted, are not cases. A case whose Encounter names no known facility has no
/// state and is not listed (it cannot be placed).
pub fn new_cases(
    conditions: &[Json],
    encounters: &HashMap<String, EncounterFacts>,
    from: Date,
    to: Date,
) -> Vec<NewCasesRow> {
    let cases = first_cases(conditions, encounters);
    count_cases(
        cases
            .iter()
            .filter_map(|c| Some((c.date, c.state.as_deref()?, c.code.as_str(), 1))),
        from,
        to,
    )
}

/// The state code (`JC`) that starts a CLUES, when it is one of Mexico's entities.
pub fn state_of_clues(clues: &str) -> Option<String> {
    let code = clues.get(..2)?.to_ascii_uppercase();
    mexico::states::by_curp_code(&code)
        .filter(|s| s.is_federal_entity())
        .map(|_| code)
}

/// One row of `consultations.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsultationsRow {
    pub clues: String,
    pub date: Date,
    pub consultations: u64,
}

/// One patient's consultations: (facility CLUES, Mexico City date) of each finished
/// ambulatory Encounter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Visits(pub Vec<(String, Date)>);

/// Each patient's consultations, by patient id: their finished ambulatory Encounters (class
/// `AMB`) at a known facility, dated by `period.start` in Mexico City. An Encounter of no
/// patient is not counted (R4 allows one; a consultation is always someone's).
pub fn consultation_facts(encounters: &[Json], facilities: &Facilities) -> HashMap<String, Visits> {
    let mut visits: HashMap<String, Visits> = HashMap::new();
    for encounter in encounters {
        let finished = encounter.get("status").and_then(Json::as_str) == Some("finished");
        let ambulatory = encounter
            .get("class")
            .and_then(|c| c.get("code"))
            .and_then(Json::as_str)
            == Some("AMB");
        if !finished || !ambulatory {
            continue;
        }
        let Some(patient) = reference_id(encounter, "subject", "Patient") else {
            continue;
        };
        let Some(date) = encounter
            .get("period")
            .and_then(|p| p.get("start"))
            .and_then(Json::as_str)
            .and_then(local_date)
        else {
            continue;
        };
        let Some(clues) = encounter
            .get("serviceProvider")
            .and_then(|r| facilities.clues_of(r))
        else {
            continue;
        };
        visits
            .entry(patient.to_string())
            .or_default()
            .0
            .push((clues, date));
    }
    visits
}

/// Consultations per facility per date in `from..=to`, sorted by facility then date.
pub fn consultation_rows<'a>(
    visits: impl Iterator<Item = &'a Visits>,
    from: Date,
    to: Date,
) -> Vec<ConsultationsRow> {
    let mut counts: BTreeMap<(&str, Date), u64> = BTreeMap::new();
    for (clues, date) in visits.flat_map(|v| v.0.iter()) {
        if *date >= from && *date <= to {
            *counts.entry((clues.as_str(), *date)).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((clues, date), consultations)| ConsultationsRow {
            clues: clues.to_string(),
            date,
            consultations,
        })
        .collect()
}

/// One facility's control of a chronic disease: one row of `diabetes-control.csv`
/// (`measured_12m` is its `with_hba1c_12m`), or of the hypertension figure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlRow {
    pub clues: String,
    /// Registered patients with the disease active.
    pub patients: u64,
    /// Those with the control measurement in the 12 months up to the date.
    pub measured_12m: u64,
    /// Those whose latest such measurement is at target.
    pub controlled: u64,
}

/// The diabetes report's rows.
pub type DiabetesControlRow = ControlRow;

/// LOINC *Hemoglobin A1c/Hemoglobin.total in Blood*.
pub const LOINC_HBA1C: &str = "4548-4";
/// LOINC *Blood pressure panel with all children optional* (systolic and diastolic as
/// components), as the vital-signs screen records it.
pub const LOINC_BP_PANEL: &str = "85354-9";
const LOINC_SYSTOLIC: &str = "8480-6";
const LOINC_DIASTOLIC: &str = "8462-4";

/// Whether a CIE-10 code is diabetes mellitus (E10–E14), written `E11.9`, `E119` or `E11`.
pub fn is_diabetes(code: &str) -> bool {
    let upper = code.trim().to_ascii_uppercase();
    matches!(upper.get(..3), Some("E10" | "E11" | "E12" | "E13" | "E14"))
}

/// Whether a CIE-10 code is hypertensive disease (I10–I15).
pub fn is_hypertension(code: &str) -> bool {
    let upper = code.trim().to_ascii_uppercase();
    matches!(upper.get(..3), Some("I10" | "I11" | "I12" | "I13" | "I15"))
}

/// Whether a Condition is active: `clinicalStatus` active, or one of its kinds (recurrence,
/// relapse), as R4's status hierarchy has it.
fn is_active(condition: &Json) -> bool {
    codes_in(
        condition.get("clinicalStatus"),
        "http://terminology.hl7.org/CodeSystem/condition-clinical",
    )
    .iter()
    .any(|c| matches!(*c, "active" | "recurrence" | "relapse"))
}

fn number(value: Option<&Json>) -> Option<f64> {
    value
        .and_then(Json::as_number_text)
        .and_then(|t| t.parse::<f64>().ok())
}

/// The HbA1c threshold of control in the Observation's unit: 7 % (NGSP), or 53 mmol/mol
/// (IFCC; the same level).
pub fn hba1c_controlled(observation: &Json) -> bool {
    let Some(quantity) = observation.get("valueQuantity") else {
        return false;
    };
    let Some(value) = number(quantity.get("value")) else {
        return false;
    };
    let unit = quantity
        .get("code")
        .or_else(|| quantity.get("unit"))
        .and_then(Json::as_str)
        .unwrap_or("%");
    if unit == "mmol/mol" {
        value < 53.0
    } else {
        value < 7.0
    }
}

/// Blood pressure at the NOM-030-SSA2-2017 target: below 140/90 mmHg (both components).
pub fn blood_pressure_controlled(observation: &Json) -> bool {
    let component = |code: &str| {
        observation
            .get("component")
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .find(|c| codes_in(c.get("code"), systems::LOINC).contains(&code))
            .and_then(|c| number(c.get("valueQuantity").and_then(|q| q.get("value"))))
    };
    match (component(LOINC_SYSTOLIC), component(LOINC_DIASTOLIC)) {
        (Some(systolic), Some(diastolic)) => systolic < 140.0 && diastolic < 90.0,
        _ => false,
    }
}

/// Diabetes control per facility on `as_of` (the `diabetes-control.csv` contract):
/// registered patients (`managingOrganization`) with an active Condition coded E10–E14;
/// those with an HbA1c (LOINC 4548-4) dated in the 12 months up to `as_of` (from the day after
/// the same date a year before, to `as_of`, both inclusive); those whose latest such value is
/// below 7 %.
pub fn diabetes_control(
    patients: &[Json],
    conditions: &[Json],
    observations: &[Json],
    facilities: &Facilities,
    as_of: Date,
) -> Vec<ControlRow> {
    let facts = control_facts(patients, conditions, observations, facilities);
    control_rows(facts.values(), as_of, Disease::Diabetes)
}

/// Hypertension control per facility on `as_of`: as [`diabetes_control`], with an active
/// Condition coded I10–I15, a blood-pressure panel (LOINC 85354-9) as the measurement, and
/// control below 140/90 mmHg.
pub fn hypertension_control(
    patients: &[Json],
    conditions: &[Json],
    observations: &[Json],
    facilities: &Facilities,
    as_of: Date,
) -> Vec<ControlRow> {
    let facts = control_facts(patients, conditions, observations, facilities);
    control_rows(facts.values(), as_of, Disease::Hypertension)
}

/// The chronic diseases whose control is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disease {
    Diabetes,
    Hypertension,
}

/// One control measurement: local date, instant (seconds), id, and whether at target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measurement {
    pub date: Date,
    pub instant: i64,
    pub id: String,
    pub controlled: bool,
}

/// What the control reports need of one patient: where they are registered, which of the
/// diseases are active, and every measurement of each (voided ones left out). Only patients
/// with a facility and at least one of the diseases have facts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ControlFacts {
    pub clues: String,
    pub diabetes: bool,
    pub hypertension: bool,
    pub hba1c: Vec<Measurement>,
    pub blood_pressure: Vec<Measurement>,
}

/// Each patient's control facts, by patient id, from their resources (any number of
/// patients: the whole record, or one patient's).
pub fn control_facts(
    patients: &[Json],
    conditions: &[Json],
    observations: &[Json],
    facilities: &Facilities,
) -> HashMap<String, ControlFacts> {
    let mut diseases: HashMap<&str, (bool, bool)> = HashMap::new();
    for condition in conditions.iter().filter(|c| is_active(c) && !is_void(c)) {
        let Some(patient) = reference_id(condition, "subject", "Patient") else {
            continue;
        };
        let codes = codes_in(condition.get("code"), systems::CIE10);
        let entry = diseases.entry(patient).or_default();
        entry.0 |= codes.iter().any(|code| is_diabetes(code));
        entry.1 |= codes.iter().any(|code| is_hypertension(code));
    }
    let mut facts: HashMap<String, ControlFacts> = HashMap::new();
    for patient in patients {
        let Some(id) = id_of(patient) else { continue };
        let Some(&(diabetes, hypertension)) = diseases.get(id) else {
            continue;
        };
        if !diabetes && !hypertension {
            continue;
        }
        let Some(clues) = patient
            .get("managingOrganization")
            .and_then(|r| facilities.clues_of(r))
        else {
            continue;
        };
        facts.insert(
            id.to_string(),
            ControlFacts {
                clues,
                diabetes,
                hypertension,
                ..ControlFacts::default()
            },
        );
    }
    for observation in observations {
        let status = observation.get("status").and_then(Json::as_str);
        if matches!(status, Some("entered-in-error" | "cancelled")) {
            continue;
        }
        let (Some(id), Some(patient)) = (
            id_of(observation),
            reference_id(observation, "subject", "Patient"),
        ) else {
            continue;
        };
        let Some(held) = facts.get_mut(patient) else {
            continue;
        };
        let Some(text) = observation
            .get("effectiveDateTime")
            .or_else(|| {
                observation
                    .get("effectivePeriod")
                    .and_then(|p| p.get("start"))
            })
            .or_else(|| observation.get("effectiveInstant"))
            .and_then(Json::as_str)
        else {
            continue;
        };
        let (Some(date), Some(instant)) = (local_date(text), instant_seconds(text)) else {
            continue;
        };
        let codes = codes_in(observation.get("code"), systems::LOINC);
        let measurement = |controlled: bool| Measurement {
            date,
            instant,
            id: id.to_string(),
            controlled,
        };
        if codes.contains(&LOINC_HBA1C) {
            held.hba1c.push(measurement(hba1c_controlled(observation)));
        }
        if codes.contains(&LOINC_BP_PANEL) {
            held.blood_pressure
                .push(measurement(blood_pressure_controlled(observation)));
        }
    }
    facts
}

/// The control rows of `disease` on `as_of`, from patients' facts: per facility, the patients
/// with the disease, those measured in the 12 months up to `as_of`, and those whose latest
/// such measurement (by instant, then id) is at target. Facilities without such patients are
/// not listed.
pub fn control_rows<'a>(
    facts: impl Iterator<Item = &'a ControlFacts>,
    as_of: Date,
    disease: Disease,
) -> Vec<ControlRow> {
    let since = months_before(as_of, 12).next_day().unwrap_or(as_of);
    let mut rows: BTreeMap<String, ControlRow> = BTreeMap::new();
    for patient in facts {
        let (has, measurements) = match disease {
            Disease::Diabetes => (patient.diabetes, &patient.hba1c),
            Disease::Hypertension => (patient.hypertension, &patient.blood_pressure),
        };
        if !has {
            continue;
        }
        let row = rows
            .entry(patient.clues.clone())
            .or_insert_with(|| ControlRow {
                clues: patient.clues.clone(),
                patients: 0,
                measured_12m: 0,
                controlled: 0,
            });
        row.patients += 1;
        let latest = measurements
            .iter()
            .filter(|m| m.date >= since && m.date <= as_of)
            .max_by(|a, b| (a.instant, &a.id).cmp(&(b.instant, &b.id)));
        if let Some(latest) = latest {
            row.measured_12m += 1;
            if latest.controlled {
                row.controlled += 1;
            }
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Json {
        fhir::json::parse_str(text).unwrap()
    }

    fn bp(id: &str, patient: &str, when: &str, systolic: u32, diastolic: u32) -> Json {
        parse(&format!(
            r#"{{"resourceType":"Observation","id":"{id}","status":"final",
            "code":{{"coding":[{{"system":"http://loinc.org","code":"85354-9"}}]}},
            "subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"{when}",
            "component":[
              {{"code":{{"coding":[{{"system":"http://loinc.org","code":"8480-6"}}]}},"valueQuantity":{{"value":{systolic}}}}},
              {{"code":{{"coding":[{{"system":"http://loinc.org","code":"8462-4"}}]}},"valueQuantity":{{"value":{diastolic}}}}}]}}"#
        ))
    }

    #[test]
    fn hypertension_is_controlled_below_140_over_90_at_the_latest_reading() {
        let org = parse(
            r#"{"resourceType":"Organization","id":"o","identifier":[{"system":"https://expediente.salud.gob.mx/fhir/sid/clues","value":"JCSSA001234"}]}"#,
        );
        let facilities = Facilities::new(&[org], &[]);
        let patient = |id: &str| {
            parse(&format!(
                r#"{{"resourceType":"Patient","id":"{id}","managingOrganization":{{"reference":"Organization/o"}}}}"#
            ))
        };
        let condition = |patient: &str, code: &str| {
            parse(&format!(
                r#"{{"resourceType":"Condition","id":"c{patient}","subject":{{"reference":"Patient/{patient}"}},
                "clinicalStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}}]}},
                "code":{{"coding":[{{"system":"http://hl7.org/fhir/sid/icd-10","code":"{code}"}}]}}}}"#
            ))
        };
        let patients = [patient("a"), patient("b"), patient("c"), patient("d")];
        let conditions = [
            condition("a", "I10"),
            condition("b", "I11.9"),
            condition("c", "I10X"),
            condition("d", "E11.9"),
        ];
        let observations = [
            // a: 150/95 then 130/85: controlled.
            bp("1", "a", "2026-01-01T09:00:00-06:00", 150, 95),
            bp("2", "a", "2026-03-01T09:00:00-06:00", 130, 85),
            // b: 138/90: the diastolic is not below 90.
            bp("3", "b", "2026-03-01T09:00:00-06:00", 138, 90),
            // c: only a reading from before the window.
            bp("4", "c", "2025-05-01T09:00:00-06:00", 120, 80),
            // d is not hypertensive.
            bp("5", "d", "2026-03-01T09:00:00-06:00", 120, 80),
        ];
        let rows = hypertension_control(
            &patients,
            &conditions,
            &observations,
            &facilities,
            super::super::dates::parse_day("2026-06-30").unwrap(),
        );
        assert_eq!(
            rows,
            vec![ControlRow {
                clues: "JCSSA001234".into(),
                patients: 3,
                measured_12m: 2,
                controlled: 1
            }]
        );
    }
}
