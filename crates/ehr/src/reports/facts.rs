//! One incremental index for the reports that count patients' records: per-patient facts,
//! kept current from the change log, so that a view counts held facts instead of reading the
//! record (issue 16: "the dashboards must not scan the record on every view").
//!
//! Each report says what it keeps of a patient ([`PatientFacts`]: which resource types touch
//! it, and how to read it for every patient or for one). The index holds those facts by
//! patient id; before a view it reads the change log since its position
//! ([`Ehr::touched_since`], shared with the new-case index) and reads again only the patients
//! whose resources of those types were written. The facility directory changing, more
//! changes than [`super::incremental::CHANGES_MAX`], or the first view read everyone
//! (the old per-view scan, once). A view therefore sees every write committed before it: no
//! staleness, and the write path pays nothing.
//!
//! Limits: in memory, per node (a restart's first view pays the scan once); the facts are a
//! few small entries per patient, well under what the record holds.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use fhir::Json;

use super::calc::Facilities;
use super::incremental::Touched;
use crate::{Ehr, Error};

/// Patients read at once (what a rebuild holds at a time).
pub const BATCH: usize = 100;

/// What a report keeps of one patient.
pub trait PatientFacts: Sized + Send {
    /// The resource types whose versions can change these facts (a Patient by its id, the
    /// others by the patient they belong to).
    const KINDS: &'static [&'static str];

    /// The facts of every patient (`None`: the whole record at once, for tests and
    /// baselines) or of some (at most [`BATCH`]), read from the record now, by patient id. A
    /// patient with nothing to count has no entry.
    fn read(
        ehr: &Ehr,
        facilities: &Facilities,
        patients: Option<&[String]>,
    ) -> Result<HashMap<String, Self>, Error>;
}

/// The facts of one kind held by a node (one per [`Ehr`] and its clones).
pub struct FactsIndex<F> {
    inner: Mutex<State<F>>,
}

impl<F> Default for FactsIndex<F> {
    fn default() -> Self {
        FactsIndex {
            inner: Mutex::new(State {
                seen_seq: None,
                facilities: Facilities::default(),
                facts: HashMap::new(),
                last: (false, 0),
            }),
        }
    }
}

struct State<F> {
    /// Change-log position the facts reflect; `None` until the first build.
    seen_seq: Option<i64>,
    facilities: Facilities,
    facts: HashMap<String, F>,
    /// How the last refresh went: (rebuilt, patients read again), for tests and the bench.
    last: (bool, usize),
}

impl<F: PatientFacts> FactsIndex<F> {
    /// Brings the facts up to date, then answers `view` from them (and the directory they
    /// were placed with). Counts only: the caller has decided who may see them.
    pub(crate) fn view<R>(
        &self,
        ehr: &Ehr,
        view: impl FnOnce(&Facilities, &HashMap<String, F>) -> R,
    ) -> Result<R, Error> {
        let mut state = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        refresh(ehr, &mut state)?;
        Ok(view(&state.facilities, &state.facts))
    }

    /// How the last refresh went: (rebuilt from a full read, patients read again).
    pub fn last_refresh(&self) -> (bool, usize) {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last
    }
}

fn refresh<F: PatientFacts>(ehr: &Ehr, state: &mut State<F>) -> Result<(), Error> {
    let newest = ehr.newest_change()?;
    let Some(seen) = state.seen_seq else {
        return rebuild(ehr, state, newest);
    };
    if newest <= seen {
        state.last = (false, 0);
        return Ok(());
    }
    // A Patient's own changes always count: facts are kept only while it is current.
    let mut kinds = F::KINDS.to_vec();
    if !kinds.contains(&"Patient") {
        kinds.push("Patient");
    }
    let patients: Vec<String> = match ehr.touched_since(seen, newest, &kinds)? {
        Touched::Rebuild => return rebuild(ehr, state, newest),
        Touched::Patients(patients) => patients.into_iter().collect(),
    };
    for batch in patients.chunks(BATCH) {
        let mut read = read_batch::<F>(ehr, &state.facilities, batch)?;
        for patient in batch {
            match read.remove(patient) {
                Some(facts) => {
                    state.facts.insert(patient.clone(), facts);
                }
                None => {
                    state.facts.remove(patient);
                }
            }
        }
    }
    state.seen_seq = Some(newest);
    state.last = (false, patients.len());
    Ok(())
}

/// Everyone's facts, read a page of patients at a time: what is held at once is one batch of
/// patients' resources, whatever the record's size.
fn rebuild<F: PatientFacts>(ehr: &Ehr, state: &mut State<F>, newest: i64) -> Result<(), Error> {
    let facilities = ehr.facilities()?;
    let mut facts = HashMap::new();
    ehr.scan_pages("Patient", &[], |page| {
        let ids: Vec<String> = page.iter().filter_map(id_of).collect();
        for batch in ids.chunks(BATCH) {
            facts.extend(
                F::read(ehr, &facilities, Some(batch))?
                    .into_iter()
                    .filter(|(patient, _)| batch.contains(patient)),
            );
        }
        Ok(())
    })?;
    let patients = facts.len();
    *state = State {
        seen_seq: Some(newest),
        facilities,
        facts,
        last: (true, patients),
    };
    Ok(())
}

fn id_of(resource: &Json) -> Option<String> {
    resource
        .get("id")
        .and_then(Json::as_str)
        .map(str::to_string)
}

/// The facts of `batch`, kept only for the patients whose Patient is current: the resources
/// of a patient deleted or never recorded are not counted (as a rebuild, which walks the
/// Patients, would not count them).
fn read_batch<F: PatientFacts>(
    ehr: &Ehr,
    facilities: &Facilities,
    batch: &[String],
) -> Result<HashMap<String, F>, Error> {
    let current: HashSet<String> = ehr
        .scan_patients(Some(batch))?
        .iter()
        .filter_map(id_of)
        .collect();
    let mut read = F::read(ehr, facilities, Some(batch))?;
    read.retain(|patient, _| current.contains(patient));
    Ok(read)
}

/// Everyone's facts from one read of the whole record (the per-view scan the index
/// replaced), kept for current patients as the index keeps them: the baseline the index is
/// checked against in tests and the bench.
pub(crate) fn read_everyone<F: PatientFacts>(
    ehr: &Ehr,
    facilities: &Facilities,
) -> Result<HashMap<String, F>, Error> {
    let current: HashSet<String> = ehr.scan_patients(None)?.iter().filter_map(id_of).collect();
    let mut read = F::read(ehr, facilities, None)?;
    read.retain(|patient, _| current.contains(patient));
    Ok(read)
}
