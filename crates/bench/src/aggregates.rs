//! What the incremental new-case aggregates (issue 16, `ehr::reports::incremental`) cost and
//! save, on the imported node.
//!
//! The aggregates are kept off the write path (from the change log, at view time), so an
//! import with them is the import plus bringing them up to date once at the end; that total
//! is measured against the import alone (the same import: the ratio is the aggregates' cost).
//! Then the view they exist for: the new-case count after a day's worth of single writes
//! (recomputing only the patients touched) against the full scan of every Condition and
//! Encounter that the report made before, and the two are checked equal.

use std::time::Instant;

use anyhow::bail;

use crate::data::Dataset;
use crate::rng::Rng;

/// Conditions written one by one between the two views (a busy clinic's day of diagnoses).
pub const WRITES: usize = 100;

/// The figures of one run.
pub struct AggregatesRun {
    /// Bringing the index up to date after the import (a full build), seconds.
    pub build_s: f64,
    /// A view with nothing changed since the previous one, seconds.
    pub unchanged_s: f64,
    /// A view after [`WRITES`] single writes, seconds, and the patients it recomputed.
    pub after_writes_s: f64,
    pub recomputed: usize,
    /// The same count by a full scan, seconds.
    pub scan_s: f64,
    /// New-case rows of the whole period.
    pub rows: usize,
    /// Every other report's facts brought up to date after the import (each report's first
    /// view: chronic control, consultations, coverage, demand, repeated tests, data quality),
    /// seconds.
    pub others_build_s: f64,
    /// The same six views after the [`WRITES`] single writes, seconds.
    pub others_after_writes_s: f64,
}

/// The six reports besides new cases, each asked once (their facts brought up to date).
fn other_reports(ehr: &ehr::Ehr, who: &ehr::Requester) -> anyhow::Result<f64> {
    let started = Instant::now();
    let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    };
    let e = crate::ehr_error;
    ehr.report_chronic_control(who, &p(&[])).map_err(e)?;
    ehr.report_consultations(who, &p(&[("from", "2025-01-01"), ("to", "2026-12-31")]))
        .map_err(e)?;
    ehr.report_vaccination_coverage(who, &p(&[])).map_err(e)?;
    ehr.report_medicine_demand(who, &p(&[])).map_err(e)?;
    ehr.report_repeated_tests(who, &p(&[])).map_err(e)?;
    ehr.report_data_quality(who, &p(&[])).map_err(e)?;
    Ok(started.elapsed().as_secs_f64())
}

fn params() -> Vec<(String, String)> {
    vec![
        ("from".to_string(), "2017-01-01".to_string()),
        ("to".to_string(), "2026-12-31".to_string()),
    ]
}

/// Runs the measurements on `ehr` (the imported node), writing [`WRITES`] Conditions for
/// patients of `data`.
pub fn run(ehr: &ehr::Ehr, data: &Dataset, seed: u64) -> anyhow::Result<AggregatesRun> {
    let who = ehr::Requester::local_system("bench");
    let indexed = || {
        ehr.report_new_cases(&who, &params())
            .map_err(crate::ehr_error)
    };
    let started = Instant::now();
    let built = indexed()?;
    let build_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    indexed()?;
    let unchanged_s = started.elapsed().as_secs_f64();
    let others_build_s = other_reports(ehr, &who)?;

    if data.patients.is_empty() {
        bail!("no patients to write Conditions for");
    }
    let mut rng = Rng::new(seed ^ 0xa66e_6a7e);
    let codes = ["A90", "J11.1", "E11.9", "I10", "A09"];
    for n in 0..WRITES {
        let Some(patient) = rng.pick(&data.patients) else {
            bail!("no patients to write Conditions for");
        };
        let patient = &patient.id;
        let code = codes[n % codes.len()];
        let day = 1 + rng.below(28);
        let body = format!(
            r#"{{"resourceType":"Condition","code":{{"coding":[{{"system":"{}","code":"{code}"}}]}},"subject":{{"reference":"Patient/{patient}"}},"recordedDate":"2026-02-{day:02}"}}"#,
            mexico::systems::CIE10
        );
        let resource = fhir::json::parse_str(&body)
            .map_err(|err| anyhow::anyhow!("bench Condition: {err}"))?;
        ehr.create(&who, "Condition", resource, None)
            .map_err(crate::ehr_error)?;
    }
    let started = Instant::now();
    let after = indexed()?;
    let after_writes_s = started.elapsed().as_secs_f64();
    let others_after_writes_s = other_reports(ehr, &who)?;
    let (_, recomputed) = ehr.new_case_index_last_refresh();
    let (from, to) = (
        ehr::reports::dates::parse_day("2017-01-01"),
        ehr::reports::dates::parse_day("2026-12-31"),
    );
    let (Some(from), Some(to)) = (from, to) else {
        bail!("bench period does not parse");
    };
    let started = Instant::now();
    let scanned = ehr
        .new_cases_scanned(&who, from, to)
        .map_err(crate::ehr_error)?;
    let scan_s = started.elapsed().as_secs_f64();
    if after != scanned {
        bail!(
            "the incremental new-case count differs from the full scan ({} rows against {})",
            after.len(),
            scanned.len()
        );
    }
    Ok(AggregatesRun {
        build_s,
        unchanged_s,
        after_writes_s,
        recomputed,
        scan_s,
        rows: built.len().max(after.len()),
        others_build_s,
        others_after_writes_s,
    })
}
