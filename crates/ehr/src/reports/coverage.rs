//! Vaccination coverage against the national schedule, by facility and birth cohort (issue
//! 16): for each dose of the childhood schedule, how many children registered at a facility
//! and born in a year should have had it by `as_of`, and how many did. Counts only.
//!
//! The rules: a child is in the denominator of a dose ("eligible") when they are at most
//! [`COVERAGE_AGE_YEARS_MAX`] years old on `as_of` and the dose's age plus the grace window
//! ([`mexico::vaccines::DUE_WINDOW_DAYS`]) has passed, which is when the chart calls it
//! overdue; "vaccinated" when a completed Immunization stands for that dose
//! ([`mexico::vaccines::applied`], the chart's own rule), given on or before `as_of`. The
//! facility is the registration (`managingOrganization`), as the *censo nominal*'s.

use std::collections::{BTreeMap, HashMap};

use fhir::Json;
use mexico::vaccines::{self, CHILD_SCHEDULE, Given};
use time::Date;

use super::calc::{Facilities, reference_id};
use super::dates;

/// The cohorts followed: the Cartilla Nacional de Salud's 0–9 years.
pub const COVERAGE_AGE_YEARS_MAX: i64 = 9;

/// The Julian day of 1970-01-01 (day numbers of `calendar` count from it).
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// One row of `vaccination-coverage.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoverageRow {
    pub clues: String,
    pub birth_year: i32,
    pub cvx: &'static str,
    pub vaccine_es: &'static str,
    pub vaccine_en: &'static str,
    pub dose: u32,
    pub eligible: u64,
    pub vaccinated: u64,
}

fn day_number(date: Date) -> i64 {
    i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY
}

/// What coverage keeps of one patient: where they are registered, when they were born, and
/// every completed dose of a CVX-coded vaccine with its Mexico City day.
#[derive(Clone, Debug)]
pub struct Child {
    pub clues: String,
    pub birth: Date,
    pub given: Vec<Given>,
}

/// Each patient's coverage facts, by patient id: patients with a birth date and a registration
/// at a known facility, with their completed doses (an Immunization of no day, or of no CVX
/// code, stands for no dose).
pub fn child_facts(
    patients: &[Json],
    immunizations: &[Json],
    facilities: &Facilities,
) -> HashMap<String, Child> {
    let mut given: HashMap<&str, Vec<Given>> = HashMap::new();
    for immunization in immunizations {
        let status = immunization.get("status").and_then(Json::as_str);
        if status != Some("completed") {
            continue;
        }
        let Some(patient) = reference_id(immunization, "patient", "Patient") else {
            continue;
        };
        let Some(day) = immunization
            .get("occurrenceDateTime")
            .and_then(Json::as_str)
            .and_then(dates::local_date)
            .map(day_number)
        else {
            continue;
        };
        let cvx = immunization
            .get("vaccineCode")
            .and_then(|c| c.get("coding"))
            .and_then(Json::as_array)
            .unwrap_or(&[])
            .iter()
            .find(|c| c.get("system").and_then(Json::as_str) == Some(mexico::systems::CVX))
            .and_then(|c| c.get("code").and_then(Json::as_str));
        let Some(cvx) = cvx else { continue };
        let dose = immunization
            .get("protocolApplied")
            .and_then(Json::as_array)
            .and_then(|p| p.first())
            .and_then(|p| p.get("doseNumberPositiveInt"))
            .and_then(Json::as_number_text)
            .and_then(|n| n.parse::<u32>().ok());
        given.entry(patient).or_default().push(Given {
            cvx: cvx.to_string(),
            dose,
            day: Some(day),
        });
    }
    let mut children = HashMap::new();
    for patient in patients {
        let Some(id) = patient.get("id").and_then(Json::as_str) else {
            continue;
        };
        let Some(birth) = patient
            .get("birthDate")
            .and_then(Json::as_str)
            .and_then(dates::parse_day)
        else {
            continue;
        };
        let Some(clues) = patient
            .get("managingOrganization")
            .and_then(|r| facilities.clues_of(r))
        else {
            continue;
        };
        children.insert(
            id.to_string(),
            Child {
                clues,
                birth,
                given: given.remove(id).unwrap_or_default(),
            },
        );
    }
    children
}

/// Coverage per facility, birth year and scheduled dose on `as_of`, sorted by those columns
/// (doses in schedule order); only cells with eligible children.
pub fn coverage_rows<'a>(
    children: impl Iterator<Item = &'a Child>,
    as_of: Date,
) -> Vec<CoverageRow> {
    let today = day_number(as_of);
    // (clues, birth year, schedule index) → (eligible, vaccinated)
    let mut cells: BTreeMap<(&str, i32, usize), (u64, u64)> = BTreeMap::new();
    for child in children {
        let birth_day = day_number(child.birth);
        if birth_day > today
            || vaccines::due_day(birth_day, COVERAGE_AGE_YEARS_MAX * 12 + 12) <= today
        {
            continue;
        }
        // Doses given by `as_of` only.
        let doses: Vec<Given> = child
            .given
            .iter()
            .filter(|g| g.day.is_some_and(|d| d <= today))
            .cloned()
            .collect();
        for (index, scheduled) in CHILD_SCHEDULE.iter().enumerate() {
            let overdue_from =
                vaccines::due_day(birth_day, scheduled.age_months) + vaccines::DUE_WINDOW_DAYS;
            if today <= overdue_from {
                continue;
            }
            let cell = cells
                .entry((child.clues.as_str(), child.birth.year(), index))
                .or_insert((0, 0));
            cell.0 += 1;
            if vaccines::applied(scheduled, &doses).is_some() {
                cell.1 += 1;
            }
        }
    }
    cells
        .into_iter()
        .map(|((clues, birth_year, index), (eligible, vaccinated))| {
            let scheduled = &CHILD_SCHEDULE[index];
            CoverageRow {
                clues: clues.to_string(),
                birth_year,
                cvx: scheduled.cvx,
                vaccine_es: scheduled.vaccine_es,
                vaccine_en: scheduled.vaccine_en,
                dose: scheduled.dose,
                eligible,
                vaccinated,
            }
        })
        .collect()
}
