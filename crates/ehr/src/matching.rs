//! Candidate retrieval and scoring for the master patient index, shared by `Patient/$match`
//! (a read) and the duplicate check on every Patient write.
//!
//! The matching itself is the pure `mpi` crate; this module feeds it from the record through a
//! [`Lookup`] (the committed store for `$match`, the write transaction for a write).
//!
//! # Candidate retrieval (blocking through the store's indexes)
//!
//! A write or a `$match` must not scan the patients, so candidates come from a handful of
//! ordinary indexed FHIR searches ([`probes`]), each bounded to [`CANDIDATES_PER_PROBE`]:
//!
//! | probe | search | finds the duplicate despite |
//! |---|---|---|
//! | CURP | `identifier=<curp system>\|CURP` | any name, date or phone error |
//! | birth date | `birthdate=YYYY-MM-DD`, and `YYYY-DD-MM` when that is a date | every name error, swaps, missing CURP; day/month transposed |
//! | name | `name=<given names> <first surname>` | any date error, dropped second surname |
//! | surnames | `family=<first surname> <second surname>` | date errors together with given-name errors |
//! | phone | `phone=<digits>` | everything but the phone |
//!
//! A date probe costs one index range of one day (≈ 35 people per day of birth at a million
//! patients); the name probes are string-prefix ranges on folded names. What the probes cannot
//! find is a duplicate with a date error *and* errors in the given name and both surnames at once,
//! or a common name whose candidates exceed the bound; the offline scan (`expediente mpi`) uses
//! the engine's own blocking keys for those.

use std::collections::HashSet;

use fhir::Json;
use mexico::systems;
use mpi::{MatchGrade, MatchResult, PersonRecord};
use store::StoredResource;

use crate::Error;
use crate::lookup::{Lookup, internal_query};
use crate::write::profile::is_active;

/// R4 core extension carrying the match grade on `Bundle.entry.search`.
pub const MATCH_GRADE_EXTENSION: &str = "http://hl7.org/fhir/StructureDefinition/match-grade";

/// Most candidates one probe may return. At a million patients a day of birth holds ≈ 35
/// people; common names exceed this and are cut (the other probes still apply).
pub const CANDIDATES_PER_PROBE: usize = 100;
/// Most review tasks one write may open (the best-scoring candidates).
pub const REVIEW_TASKS_PER_WRITE_MAX: usize = 5;
/// `$match` `count` when the client gives none, and the largest accepted.
pub const MATCH_COUNT_DEFAULT: usize = 10;
pub const MATCH_COUNT_MAX: usize = 100;

/// One `$match` result.
#[derive(Clone, Debug)]
pub struct MatchHit {
    pub resource: StoredResource,
    /// `certain`, `probable` or `possible` (the FHIR `match-grade` codes).
    pub grade: &'static str,
    /// 0..1, ordered like the grades (see [`score_01`]).
    pub score: f64,
    /// The engine's result: score in bits and the comparison field by field.
    pub result: MatchResult,
}

// ---------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------

/// Our lossless JSON as a `serde_json::Value` (what the `mpi` crate reads).
pub(crate) fn to_value(json: &Json) -> serde_json::Value {
    serde_json::from_str(&json.to_json_string()).unwrap_or(serde_json::Value::Null)
}

pub(crate) fn record_of(id: &str, json: &Json) -> PersonRecord {
    PersonRecord::from_patient_json(id, &to_value(json))
}

pub(crate) fn record_of_stored(stored: &StoredResource) -> Option<PersonRecord> {
    let value: serde_json::Value = serde_json::from_str(&stored.body).ok()?;
    Some(PersonRecord::from_patient_json(stored.id.clone(), &value))
}

/// Escapes the characters R4 search gives a meaning to inside a value (`\ , | $`).
pub(crate) fn escape_search_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '|' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A grade and a Fellegi–Sunter score (bits) as a 0..1 `search.score`. Each grade has its own
/// band — possible 0.50–0.70, probable 0.70–0.90, certain 0.90–1.00 — and the bits place the
/// pair within it, so sorting by score never puts a lower grade above a higher one (a pair whose
/// grade was capped by a rule keeps the top of its band, not its raw score).
pub fn score_01(grade: MatchGrade, bits: f64) -> f64 {
    use mpi::compare::{CERTAIN_SCORE_MIN, POSSIBLE_SCORE_MIN, PROBABLE_SCORE_MIN};
    // (band low, band high, bits at the low end, bits at the high end); the top of a band stays
    // one thousandth below the next band so rounding cannot merge two grades.
    let (low, high, from, to) = match grade {
        MatchGrade::Certain => (0.90, 1.001, CERTAIN_SCORE_MIN, 50.0),
        MatchGrade::Probable => (0.70, 0.90, PROBABLE_SCORE_MIN, CERTAIN_SCORE_MIN),
        MatchGrade::Possible => (0.50, 0.70, POSSIBLE_SCORE_MIN, PROBABLE_SCORE_MIN),
        MatchGrade::NoMatch => (0.0, 0.50, 0.0, POSSIBLE_SCORE_MIN),
    };
    let within = ((bits - from) / (to - from)).clamp(0.0, 1.0);
    let value = low + (high - low - 0.001) * within;
    (value * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------------------------
// Candidate retrieval
// ---------------------------------------------------------------------------------------------

/// The searches that fetch the candidates of `record` (see the module docs).
pub(crate) fn probes(record: &PersonRecord) -> Vec<Vec<(String, String)>> {
    let mut probes = Vec::new();
    let param = |k: &str, v: String| (k.to_string(), v);
    if let Some(curp) = record.curp.as_deref().filter(|c| mpi::curp::shape_ok(c)) {
        probes.push(vec![param(
            "identifier",
            format!("{}|{}", systems::CURP, escape_search_value(curp)),
        )]);
    }
    if let Some(date) = record
        .birth_date
        .as_deref()
        .and_then(mpi::date::BirthDate::parse)
    {
        let mut days = vec![format!(
            "{:04}-{:02}-{:02}",
            date.year, date.month, date.day
        )];
        if date.day <= 12
            && date.day != date.month
            && mpi::date::BirthDate::new(date.year, date.day, date.month).is_some()
        {
            days.push(format!(
                "{:04}-{:02}-{:02}",
                date.year, date.day, date.month
            ));
        }
        // One probe per day: an OR of two days would keep SQLite from using the date index
        // as a range.
        for day in days {
            probes.push(vec![param("birthdate", day)]);
        }
    }
    let first = record.first_surname.trim();
    let given = record.given_names.trim();
    if !first.is_empty() && !given.is_empty() {
        probes.push(vec![param(
            "name",
            escape_search_value(&format!("{given} {first}")),
        )]);
    }
    if let Some(second) = record.second_surname.as_deref().map(str::trim)
        && !first.is_empty()
        && !second.is_empty()
    {
        probes.push(vec![param(
            "family",
            escape_search_value(&format!("{first} {second}")),
        )]);
    }
    if let Some(phone) = record
        .phone
        .as_deref()
        .and_then(mpi::normalize::phone_digits)
    {
        probes.push(vec![param("phone", phone)]);
    }
    probes
}

/// Ids a Patient's `link`s of the given types point at.
pub(crate) fn linked_ids<'a>(
    patient: &'a Json,
    types: &'a [&str],
) -> impl Iterator<Item = String> + 'a {
    patient
        .get("link")
        .map_or(&[][..], Json::as_list)
        .iter()
        .filter(move |link| {
            link.get("type")
                .and_then(Json::as_str)
                .is_some_and(|t| types.contains(&t))
        })
        .filter_map(|link| link.pointer("other.reference").and_then(Json::as_str))
        .filter_map(|reference| reference.strip_prefix("Patient/"))
        .map(|id| id.split('/').next().unwrap_or(id).to_string())
}

/// Inactive records (deactivated, or merged into another whose record stands for them) are not
/// candidates. The substring test skips the parse for the usual active record.
pub(crate) fn is_retired(body: &str) -> bool {
    (body.contains("replaced-by") || body.contains("\"active\":false"))
        && fhir::json::parse_str(body).is_ok_and(|json| {
            !is_active(&json) || linked_ids(&json, &["replaced-by"]).next().is_some()
        })
}

/// Candidates for `record`, each once, without `exclude` (the patient itself and the patients
/// it is merged with) and without inactive patients (see [`is_retired`]).
pub(crate) fn find_candidates(
    lookup: &mut dyn Lookup,
    record: &PersonRecord,
    exclude: &HashSet<String>,
) -> Result<Vec<(StoredResource, PersonRecord)>, Error> {
    let mut seen: HashSet<String> = exclude.clone();
    let mut found = Vec::new();
    for probe in probes(record) {
        let query = internal_query("Patient", &probe, 0)?;
        for stored in lookup.search(&query, CANDIDATES_PER_PROBE)? {
            if !seen.insert(stored.id.clone()) || is_retired(&stored.body) {
                continue;
            }
            if let Some(candidate) = record_of_stored(&stored) {
                found.push((stored, candidate));
            }
        }
    }
    Ok(found)
}

/// Scores `record` against candidates: best first, `NoMatch` dropped, at most `count`.
pub(crate) fn rank(
    record: &PersonRecord,
    candidates: Vec<(StoredResource, PersonRecord)>,
    only_certain: bool,
    count: usize,
) -> Vec<MatchHit> {
    let records: Vec<PersonRecord> = candidates.iter().map(|(_, r)| r.clone()).collect();
    let mut slots: Vec<Option<StoredResource>> =
        candidates.into_iter().map(|(s, _)| Some(s)).collect();
    mpi::match_candidates(record, &records, only_certain, count)
        .into_iter()
        .filter_map(|(idx, result)| {
            let resource = slots.get_mut(idx)?.take()?;
            Some(MatchHit {
                resource,
                grade: result.grade.fhir_code(),
                score: score_01(result.grade, result.score),
                result,
            })
        })
        .collect()
}

/// Whether a record has enough to be matched on at all.
pub(crate) fn matchable(record: &PersonRecord) -> bool {
    record.curp.is_some()
        || record.birth_date.is_some()
        || !record.first_surname.trim().is_empty()
        || record.phone.is_some()
}
