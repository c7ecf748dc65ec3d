//! Incremental new-case aggregates: the surveillance page and `new-cases.csv` without reading
//! every Condition and Encounter on every view.
//!
//! What is kept (in memory, per node): each patient's new cases as (date, state, code), and
//! their counts per (date, state, code). How it stays current: from the change log. Before it
//! answers, the index reads the versions written since it last looked (newest first, down
//! to its position) and recomputes only the patients they touch — their Conditions, and the
//! Encounters those reference — with the same rule as the full count ([`calc::first_cases`]).
//! A change to the facility directory (Organization, Location), more changes than
//! [`CHANGES_MAX`], or the first view rebuild it: every current Patient, in batches.
//!
//! Why the change log and not a hook on the write path: every way a version arrives (the
//! write path, the import's fast path, sync apply) is in it, and the write path pays nothing
//! (measured: `expediente bench` "import with aggregates", BENCHMARKS.md). Staleness is none:
//! a view sees every write committed before it. The cost moves to the first view after
//! changes: proportional to the patients changed since the previous view.
//!
//! Limits: in memory (rebuilt after a restart, on the first view: the old scan's cost, once);
//! the per-patient list holds one entry per new case, so a hub at 10^7 resources holds
//! some 10^6 entries (~100 MB). A store-side table (issue 16's design, on PostgreSQL and
//! Citus) would keep it on disk and shared; not built.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use fhir::Json;
use time::Date;

use super::calc::{self, Facilities, NewCasesRow, referenced_id};
use crate::{Ehr, Error};

/// Changes read from the log at most before a full rebuild is cheaper.
pub const CHANGES_MAX: usize = 20_000;

/// Versions read per page of the change log.
const LOG_PAGE: usize = 1_000;

/// The index held by a node (one per [`Ehr`] and its clones).
#[derive(Default)]
pub struct NewCaseIndex {
    inner: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    /// Change-log position the index reflects; `None` until the first build.
    seen_seq: Option<i64>,
    facilities: Facilities,
    /// Patient id → their placed new cases (date, state, code).
    per_patient: HashMap<String, Vec<(Date, String, String)>>,
    /// Cases per (date, state, code).
    daily: BTreeMap<(Date, String, String), u64>,
    /// How the last refresh went: (rebuilt, patients recomputed), for tests and the bench.
    last: (bool, usize),
}

impl Index {
    fn set_patient(&mut self, patient: &str, cases: Vec<(Date, String, String)>) {
        if let Some(old) = self.per_patient.remove(patient) {
            for key in old {
                if let Some(n) = self.daily.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        self.daily.remove(&key);
                    }
                }
            }
        }
        if cases.is_empty() {
            return;
        }
        for key in &cases {
            *self.daily.entry(key.clone()).or_default() += 1;
        }
        self.per_patient.insert(patient.to_string(), cases);
    }
}

/// A patient's placed new cases: (date, state, code).
type Cases = Vec<(Date, String, String)>;

/// The placed cases of a full count, grouped by patient.
fn by_patient(cases: Vec<calc::FirstCase>) -> HashMap<String, Vec<(Date, String, String)>> {
    let mut out: HashMap<String, Vec<(Date, String, String)>> = HashMap::new();
    for case in cases {
        if let Some(state) = case.state {
            out.entry(case.patient)
                .or_default()
                .push((case.date, state, case.code));
        }
    }
    out
}

/// What the change log says since an index last looked.
pub(super) enum Touched {
    /// Too much, or the facility directory: build again from a full scan.
    Rebuild,
    /// Recompute these patients.
    Patients(HashSet<String>),
}

/// The patient a resource of a patient's record belongs to: its `subject` (Condition,
/// Encounter, Observation, Composition, MedicationRequest), else its `patient`
/// (Immunization, DetectedIssue).
pub(super) fn subject_of(resource: &Json) -> Option<String> {
    let text = resource
        .get("subject")
        .or_else(|| resource.get("patient"))?
        .get("reference")?
        .as_str()?;
    referenced_id(text, "Patient").map(str::to_string)
}

impl Ehr {
    /// New cases per state, epidemiological week and code dated `from..=to`, from the index
    /// (brought up to date first). Counts only; the caller has decided who may see them.
    pub(crate) fn new_cases_indexed(
        &self,
        from: Date,
        to: Date,
    ) -> Result<Vec<NewCasesRow>, Error> {
        let index = &self.report_indexes().new_cases;
        let mut index = index
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.refresh_new_cases(&mut index)?;
        Ok(calc::count_cases(
            index
                .daily
                .range((from, String::new(), String::new())..)
                .take_while(|((date, _, _), _)| *date <= to)
                .map(|((date, state, code), n)| (*date, state.as_str(), code.as_str(), *n)),
            from,
            to,
        ))
    }

    /// How the last refresh of the index went: (rebuilt from a full scan, patients
    /// recomputed). For tests and the bench.
    pub fn new_case_index_last_refresh(&self) -> (bool, usize) {
        let index = &self.report_indexes().new_cases;
        let index = index
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        index.last
    }

    /// New cases by the full scan, as the index would answer (for tests and the bench's
    /// baseline). Decided like the reports (an account that may read them), not audited: it
    /// is the figure of a report already audited, computed the other way.
    pub fn new_cases_scanned(
        &self,
        who: &crate::Requester,
        from: Date,
        to: Date,
    ) -> Result<Vec<NewCasesRow>, Error> {
        self.may_read_reports(who)
            .map_err(crate::guard::forbidden)?;
        let facilities = self.facilities()?;
        let encounters = calc::encounter_facts(&self.scan("Encounter", &[])?, &facilities);
        // The index counts current patients' Conditions (it walks the Patients).
        let current: HashSet<String> = self
            .scan_patients(None)?
            .iter()
            .filter_map(|p| p.get("id").and_then(Json::as_str).map(str::to_string))
            .collect();
        let mut conditions = self.scan("Condition", &[])?;
        conditions.retain(|c| subject_of(c).is_some_and(|p| current.contains(&p)));
        Ok(calc::new_cases(&conditions, &encounters, from, to))
    }

    /// The newest position of the change log (0 when empty).
    pub(super) fn newest_change(&self) -> Result<i64, Error> {
        Ok(self
            .store()
            .history(&store::HistoryRequest {
                scope: store::HistoryScope::System,
                since_ms: None,
                before_seq: None,
                count: 1,
            })?
            .first()
            .map_or(0, |v| v.change_seq))
    }

    /// What changed after `seen` up to `newest` (newest first, bounded by `newest` so that
    /// the position an index records is exactly what was read): the patients whose resources
    /// of `kinds` were written (a Patient by its id, anything else by its `subject`, before
    /// and after the change), or [`Touched::Rebuild`] when the facility directory changed or
    /// there were more than [`CHANGES_MAX`] versions.
    pub(super) fn touched_since(
        &self,
        seen: i64,
        newest: i64,
        kinds: &[&str],
    ) -> Result<Touched, Error> {
        let mut patients: HashSet<String> = HashSet::new();
        let mut before = newest + 1;
        let mut read = 0usize;
        'log: loop {
            let page = self.store().history(&store::HistoryRequest {
                scope: store::HistoryScope::System,
                since_ms: None,
                before_seq: Some(before),
                count: LOG_PAGE,
            })?;
            for version in &page {
                if version.change_seq <= seen {
                    break 'log;
                }
                read += 1;
                if read > CHANGES_MAX {
                    return Ok(Touched::Rebuild);
                }
                let kind = version.resource_type.as_str();
                if matches!(kind, "Organization" | "Location") {
                    return Ok(Touched::Rebuild);
                }
                if !kinds.contains(&kind) {
                    continue;
                }
                if kind == "Patient" {
                    patients.insert(version.id.clone());
                    continue;
                }
                if !version.deleted
                    && let Ok(resource) = fhir::json::parse_str(&version.body)
                {
                    patients.extend(subject_of(&resource));
                }
                // The version before names the patient it may have left (a delete, or a
                // subject corrected).
                if version.version_id > 1
                    && let Some(previous) = self.store().vread(
                        &version.resource_type,
                        &version.id,
                        version.version_id - 1,
                    )?
                    && !previous.deleted
                    && let Ok(resource) = fhir::json::parse_str(&previous.body)
                {
                    patients.extend(subject_of(&resource));
                }
            }
            match page.last() {
                Some(last) if page.len() >= LOG_PAGE => before = last.change_seq,
                _ => break,
            }
        }
        Ok(Touched::Patients(patients))
    }

    fn refresh_new_cases(&self, index: &mut Index) -> Result<(), Error> {
        let newest = self.newest_change()?;
        let Some(seen) = index.seen_seq else {
            return self.rebuild_new_cases(index, newest);
        };
        if newest <= seen {
            index.last = (false, 0);
            return Ok(());
        }
        let patients =
            match self.touched_since(seen, newest, &["Condition", "Encounter", "Patient"])? {
                Touched::Rebuild => return self.rebuild_new_cases(index, newest),
                Touched::Patients(patients) => patients,
            };
        let patients: Vec<String> = patients.into_iter().collect();
        for batch in patients.chunks(super::facts::BATCH) {
            let mut cases = self.batch_new_cases(&index.facilities, batch, true)?;
            for patient in batch {
                index.set_patient(patient, cases.remove(patient).unwrap_or_default());
            }
        }
        index.seen_seq = Some(newest);
        index.last = (false, patients.len());
        Ok(())
    }

    /// Everyone's new cases, a page of patients at a time (what is held at once is one
    /// batch of patients' Conditions and Encounters).
    fn rebuild_new_cases(&self, index: &mut Index, newest: i64) -> Result<(), Error> {
        let facilities = self.facilities()?;
        let mut per_patient = HashMap::new();
        self.scan_pages("Patient", &[], |page| {
            let ids: Vec<String> = page
                .iter()
                .filter_map(|p| p.get("id").and_then(Json::as_str).map(str::to_string))
                .collect();
            for batch in ids.chunks(super::facts::BATCH) {
                per_patient.extend(self.batch_new_cases(&facilities, batch, false)?);
            }
            Ok(())
        })?;
        let mut daily: BTreeMap<(Date, String, String), u64> = BTreeMap::new();
        for key in per_patient.values().flatten() {
            *daily.entry(key.clone()).or_default() += 1;
        }
        let patients = per_patient.len();
        *index = Index {
            seen_seq: Some(newest),
            facilities,
            per_patient,
            daily,
            last: (true, patients),
        };
        Ok(())
    }

    /// The placed new cases of `batch` (current patients only: `check_current` when the ids
    /// did not come from the Patients themselves), read now: their Conditions and the
    /// Encounters those name.
    fn batch_new_cases(
        &self,
        facilities: &Facilities,
        batch: &[String],
        check_current: bool,
    ) -> Result<HashMap<String, Cases>, Error> {
        let current: Option<HashSet<String>> = if check_current {
            Some(
                self.scan_patients(Some(batch))?
                    .iter()
                    .filter_map(|p| p.get("id").and_then(Json::as_str).map(str::to_string))
                    .collect(),
            )
        } else {
            None
        };
        let conditions = self.scan_of("Condition", Some(batch), &[])?;
        let encounters = self.read_encounters(conditions.iter().filter_map(|condition| {
            let text = condition.get("encounter")?.get("reference")?.as_str()?;
            referenced_id(text, "Encounter")
        }))?;
        let facts = calc::encounter_facts(&encounters, facilities);
        let mut cases = by_patient(calc::first_cases(&conditions, &facts));
        cases.retain(|patient, _| {
            batch.contains(patient) && current.as_ref().is_none_or(|c| c.contains(patient))
        });
        Ok(cases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::testing::{TestNode, json};

    fn day(text: &str) -> Date {
        super::super::dates::parse_day(text).expect("day")
    }

    /// The index, after every kind of change, answers what a full scan answers, and
    /// recomputes only the patients touched.
    #[test]
    fn the_index_follows_every_change_as_a_full_scan_would() {
        let node = TestNode::new();
        let (ehr, tool) = (&node.ehr, &node.tool);
        let create = |kind: &str, body: String| node.create(kind, &body);
        let org = |clues: &str| {
            create(
                "Organization",
                format!(
                    r#"{{"resourceType":"Organization","identifier":[{{"system":"{}","value":"{clues}"}}]}}"#,
                    mexico::systems::CLUES
                ),
            )
        };
        let (jc, df) = (org("JCSSA001234"), org("DFSSA004321"));
        let patient = || {
            create(
                "Patient",
                r#"{"resourceType":"Patient","gender":"female","birthDate":"1980-01-01"}"#.into(),
            )
        };
        let visit = |p: &str, o: &str, start: &str| {
            create(
                "Encounter",
                format!(
                    r#"{{"resourceType":"Encounter","status":"finished","class":{{"code":"AMB"}},"subject":{{"reference":"Patient/{p}"}},"serviceProvider":{{"reference":"Organization/{o}"}},"period":{{"start":"{start}"}}}}"#
                ),
            )
        };
        let condition = |p: &str, e: &str, code: &str, recorded: &str| {
            format!(
                r#"{{"resourceType":"Condition","code":{{"coding":[{{"system":"{}","code":"{code}"}}]}},"subject":{{"reference":"Patient/{p}"}},"encounter":{{"reference":"Encounter/{e}"}},"recordedDate":"{recorded}"}}"#,
                mexico::systems::CIE10
            )
        };
        let (from, to) = (day("2026-01-01"), day("2026-12-31"));
        let same = |why: &str| {
            let indexed = ehr.new_cases_indexed(from, to).expect("indexed");
            let scanned = ehr.new_cases_scanned(tool, from, to).expect("scanned");
            assert_eq!(indexed, scanned, "{why}");
            indexed
        };
        let (a, b) = (patient(), patient());
        let ea = visit(&a, &jc, "2026-03-02T10:00:00-06:00");
        let eb = visit(&b, &df, "2026-03-03T10:00:00-06:00");
        create("Condition", condition(&a, &ea, "A90", "2026-03-02"));
        let rows = same("first view: built from a scan");
        assert_eq!(rows.len(), 1);
        assert!(ehr.new_case_index_last_refresh().0);

        // A new case for b, and a follow-up for a (not a new case): two patients recomputed.
        let cb = create("Condition", condition(&b, &eb, "A90", "2026-03-03"));
        create("Condition", condition(&a, &ea, "A90", "2026-04-10"));
        let rows = same("after two writes");
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(ehr.new_case_index_last_refresh(), (false, 2));

        // No change: nothing recomputed.
        same("unchanged");
        assert_eq!(ehr.new_case_index_last_refresh(), (false, 0));

        // An earlier Condition for a moves the case to its date; b's case entered in error
        // disappears.
        create("Condition", condition(&a, &ea, "A90", "2026-02-01"));
        let void = condition(&b, &eb, "A90", "2026-03-03").replace(
            r#""resourceType":"Condition","#,
            &format!(
                r#""resourceType":"Condition","id":"{cb}","verificationStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"entered-in-error"}}]}},"#
            ),
        );
        ehr.update(tool, "Condition", &cb, json(&void), None)
            .expect("updated");
        let rows = same("after a backdated case and a voided one");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].epi_week, 5, "{rows:?}");

        // A deletion, and a facility's CLUES changing (a rebuild).
        let cd = create("Condition", condition(&b, &eb, "E11.9", "2026-05-05"));
        same("b's diabetes");
        ehr.delete(tool, "Condition", &cd).expect("deleted");
        same("after a delete");
        let moved = format!(
            r#"{{"resourceType":"Organization","id":"{jc}","identifier":[{{"system":"{}","value":"MCSSA000011"}}]}}"#,
            mexico::systems::CLUES
        );
        ehr.update(tool, "Organization", &jc, json(&moved), None)
            .expect("updated");
        let rows = same("after the directory changed");
        assert_eq!(rows[0].state, "MC", "{rows:?}");
        assert!(ehr.new_case_index_last_refresh().0);
    }
}
