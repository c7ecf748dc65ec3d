//! Writing received versions into a node's store, and the hub's feed index.
//!
//! Runs inside one store write job, so the versions of a batch, their stamps, any conflicts
//! and the cursor that says the batch was received commit together: after a crash the batch
//! is either all there with its cursor, or absent and fetched again. Receiving a version twice
//! changes nothing (its stamp is already held).

use fhir::Json;
use store::sync::{Conflict, LogEntry, LogKind, Stamp, SyncTx};
use store::{PreparedVersion, StoredResource, WriteTx};

use crate::Error;
use crate::referral;
use crate::rule::{Decision, changed_fields, decide};
use crate::wire::WireVersion;

/// Resource types every clinic receives in full: the facilities and the people who work there.
pub const REFERENCE_TYPES: [&str; 4] = [
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
];

/// Log rows indexed per step of [`index_feed`]: bounds the memory of one step.
const INDEX_STEP_ROWS: usize = 1_000;

/// Local versions stamped per store job when catching up the log ahead of a push: bounds one
/// transaction after a bulk import (stamping is a sequential scan and an append).
pub const CATCH_UP_ROWS_PER_JOB: usize = 50_000;

/// Stamps every local version not logged yet, in steps. Done before sync writes anything, so
/// received versions are logged after every local version written before them.
pub fn catch_up(tx: &mut dyn WriteTx) -> Result<(), Error> {
    let sync = sync_tx(tx)?;
    if !sync.local_versions_unstamped()? {
        return Ok(());
    }
    catch_up_all(sync)
}

/// Gives every committed version its log position (local ones their stamp too), in steps.
fn catch_up_all(sync: &mut dyn SyncTx) -> Result<(), Error> {
    while sync.catch_up_log(CATCH_UP_ROWS_PER_JOB)? == CATCH_UP_ROWS_PER_JOB {}
    Ok(())
}

/// State key: the highest `change_seq` whose patients are in the feed index (hub).
pub const STATE_FEED_INDEXED: &str = "feed_indexed_seq";

/// What one received version did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub decision: Decision,
    /// The version became current and is a creation of a Patient (the hub matches it).
    pub new_patient: Option<String>,
    /// The conflict it made, when this node had not recorded it before.
    pub new_conflict: Option<Conflict>,
    /// (type, id, version id here) when the received version became current (for the
    /// notifications and caches a local write would have fed: `ehr::Ehr::replicated_applied`).
    pub became_current: Option<(String, String, u64)>,
}

/// What a batch did, summed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub applied: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    pub new_patients: Vec<String>,
    /// Conflicts seen for the first time on this node.
    pub new_conflicts: Vec<Conflict>,
    /// Versions that became current, (type, id, version id here), in order.
    pub became_current: Vec<(String, String, u64)>,
}

impl BatchOutcome {
    /// Counts one received version.
    pub fn add(&mut self, applied: Applied) {
        match applied.decision {
            Decision::Duplicate => self.duplicates += 1,
            Decision::Apply => self.applied += 1,
            Decision::WinsConflict | Decision::LosesConflict => {
                self.applied += 1;
                self.conflicts += 1;
            }
        }
        self.new_patients.extend(applied.new_patient);
        self.new_conflicts.extend(applied.new_conflict);
        self.became_current.extend(applied.became_current);
    }

    /// Adds another part of the same batch.
    pub fn merge(&mut self, other: BatchOutcome) {
        self.applied += other.applied;
        self.duplicates += other.duplicates;
        self.conflicts += other.conflicts;
        self.new_patients.extend(other.new_patients);
        self.new_conflicts.extend(other.new_conflicts);
        self.became_current.extend(other.became_current);
    }
}

pub(crate) fn sync_tx(tx: &mut dyn WriteTx) -> Result<&mut dyn SyncTx, Error> {
    tx.sync().ok_or(Error::NoSyncLog)
}

/// Applies received versions in order, as they are: for what a clinic receives from the hub.
/// The hub applies what clinics push through `ingest.rs`, which decides each version first.
pub fn apply_batch(
    tx: &mut dyn WriteTx,
    versions: &[WireVersion],
    now_ms: i64,
) -> Result<BatchOutcome, Error> {
    catch_up(tx)?;
    let mut outcome = BatchOutcome::default();
    for version in versions {
        outcome.add(apply_version(tx, version, now_ms)?);
    }
    Ok(outcome)
}

/// Applies one received version by the conflict rule (see `rule.rs`). The log must be caught
/// up ([`catch_up`]) in the same job first.
pub fn apply_version(
    tx: &mut dyn WriteTx,
    version: &WireVersion,
    now_ms: i64,
) -> Result<Applied, Error> {
    apply_version_parsed(tx, version, None, now_ms)
}

/// [`apply_version`] with the body already parsed by the caller (the hub parses each pushed
/// body once, outside the write job, to decide it).
pub(crate) fn apply_version_parsed(
    tx: &mut dyn WriteTx,
    version: &WireVersion,
    parsed: Option<&Json>,
    now_ms: i64,
) -> Result<Applied, Error> {
    let stamp = version.stamp();
    let parent = version.parent();
    let known = sync_tx(tx)?.stamp_known(&version.resource_type, &version.id, &stamp)?;
    let current = if known {
        None
    } else {
        tx.read(&version.resource_type, &version.id)?
    };
    let current_entry = match &current {
        Some(current) => sync_tx(tx)?.log_entry(current.change_seq)?,
        None => None,
    };
    let decision = decide(
        &stamp,
        parent.as_ref(),
        known,
        current_entry.as_ref().map(|e| &e.stamp),
    );
    let body_text = version.body.as_ref().map(|b| b.get().to_string());
    let next_version_id = current.as_ref().map_or(1, |c| c.version_id + 1);
    let mut new_patient = None;
    let mut new_conflict = None;
    let mut written = None;
    // Every decision but a duplicate keeps the received version (a loser goes to history).
    if decision != Decision::Duplicate {
        let body = match (parsed, &body_text) {
            (Some(json), _) => Some(Body::Parsed(json)),
            (None, Some(text)) => Some(Body::Text(text)),
            (None, None) => None,
        };
        written = Some(write_version(
            tx,
            version,
            next_version_id,
            body,
            LogKind::Remote,
            &stamp,
            parent.as_ref(),
        )?);
    }
    let became_current = match (decision, &written) {
        (Decision::Apply | Decision::WinsConflict, Some(stored)) => Some((
            stored.resource_type.clone(),
            stored.id.clone(),
            stored.version_id,
        )),
        _ => None,
    };
    match decision {
        Decision::Duplicate => {}
        Decision::Apply | Decision::WinsConflict => {
            if current.is_none() && version.resource_type == "Patient" && body_text.is_some() {
                new_patient = Some(version.id.clone());
            }
        }
        Decision::LosesConflict => {
            // The loser went into history above; the winner is written again on top of it so
            // that it stays current (history is append-only: no version is ever rewritten).
            if let (Some(current), Some(entry)) = (&current, &current_entry) {
                reassert(tx, current, entry, next_version_id + 1)?;
            }
        }
    }
    if let (Decision::WinsConflict | Decision::LosesConflict, Some(current), Some(entry)) =
        (decision, &current, &current_entry)
    {
        let (winner, loser) = if decision == Decision::WinsConflict {
            (stamp.clone(), entry.stamp.clone())
        } else {
            (entry.stamp.clone(), stamp.clone())
        };
        let fields = changed_fields(&current.body, body_text.as_deref().unwrap_or(""));
        let conflict = Conflict {
            resource_type: version.resource_type.clone(),
            id: version.id.clone(),
            winner,
            loser,
            fields,
            detected_ms: now_ms,
            open: true,
        };
        if sync_tx(tx)?.record_conflict(&conflict)? {
            new_conflict = Some(conflict);
        }
    }
    Ok(Applied {
        decision,
        new_patient,
        new_conflict,
        became_current,
    })
}

/// A version's body, as text or already parsed.
enum Body<'a> {
    Text(&'a str),
    Parsed(&'a Json),
}

fn write_version(
    tx: &mut dyn WriteTx,
    version: &WireVersion,
    version_id: u64,
    body: Option<Body<'_>>,
    kind: LogKind,
    stamp: &Stamp,
    parent: Option<&Stamp>,
) -> Result<StoredResource, Error> {
    let prepared = prepare(
        &version.resource_type,
        &version.id,
        version_id,
        version.last_updated_ms,
        body,
    )?;
    let stored = tx.put_prepared(prepared)?;
    sync_tx(tx)?.set_log_entry(&LogEntry {
        change_seq: stored.change_seq,
        resource_type: version.resource_type.clone(),
        id: version.id.clone(),
        stamp: stamp.clone(),
        parent: parent.cloned(),
        kind,
    })?;
    Ok(stored)
}

/// Writes the current version again (same body and stamp) as version `version_id`.
fn reassert(
    tx: &mut dyn WriteTx,
    current: &StoredResource,
    entry: &LogEntry,
    version_id: u64,
) -> Result<(), Error> {
    let body = (!current.deleted).then_some(Body::Text(current.body.as_str()));
    let prepared = prepare(
        &current.resource_type,
        &current.id,
        version_id,
        current.last_updated_ms,
        body,
    )?;
    let stored = tx.put_prepared(prepared)?;
    sync_tx(tx)?.set_log_entry(&LogEntry {
        change_seq: stored.change_seq,
        kind: LogKind::Reassert,
        ..entry.clone()
    })?;
    Ok(())
}

/// A version to store: the body with this node's `meta.versionId` (version numbers are each
/// node's own; the stamp is the identity across nodes) and the origin's `meta.lastUpdated`.
fn prepare(
    resource_type: &str,
    id: &str,
    version_id: u64,
    last_updated_ms: i64,
    body: Option<Body<'_>>,
) -> Result<PreparedVersion, Error> {
    let last_updated = ehr::format_instant(last_updated_ms);
    let resource = match body {
        None => None,
        Some(body) => {
            let mut json = match body {
                Body::Parsed(json) => json.clone(),
                Body::Text(text) => fhir::json::parse_str(text).map_err(|err| {
                    Error::BadRequest(format!("{resource_type}/{id}: {}", err.message_en()))
                })?,
            };
            let ok_identity = json.get("resourceType").and_then(Json::as_str)
                == Some(resource_type)
                && json.get("id").and_then(Json::as_str) == Some(id);
            if !ok_identity {
                return Err(Error::BadRequest(format!(
                    "{resource_type}/{id}: the body names another resource"
                )));
            }
            set_meta(&mut json, version_id, &last_updated);
            Some(json)
        }
    };
    Ok(PreparedVersion::prepare(store::NewVersion {
        resource_type: resource_type.to_string(),
        id: id.to_string(),
        version_id,
        last_updated,
        last_updated_ms,
        resource,
    }))
}

fn set_meta(resource: &mut Json, version_id: u64, last_updated: &str) {
    let Some(object) = resource.as_object_mut() else {
        return;
    };
    if object.get("meta").and_then(Json::as_object).is_none() {
        object.insert("meta", Json::object(Vec::<(String, Json)>::new()));
    }
    if let Some(meta) = object.get_mut("meta").and_then(Json::as_object_mut) {
        meta.remove("versionId");
        meta.remove("lastUpdated");
        meta.insert_at(0, "versionId", Json::str(version_id.to_string()));
        meta.insert_at(1, "lastUpdated", Json::str(last_updated));
    }
}

/// Brings the hub's feed index up to date: for every version not yet indexed, the patients
/// whose compartment it belongs to (a delete keeps its previous version's patients), and for
/// versions received from a clinic, the clinic now follows those patients ("seen there"); a
/// Task addressed to a facility by CLUES makes that facility follow the Task's patient.
pub fn index_feed(tx: &mut dyn WriteTx, now_ms: i64) -> Result<u64, Error> {
    let sync = sync_tx(tx)?;
    catch_up_all(sync)?;
    let mut indexed_upto: i64 = sync
        .state(STATE_FEED_INDEXED)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut indexed = 0u64;
    loop {
        let rows = sync.log_after(indexed_upto, INDEX_STEP_ROWS)?;
        if rows.is_empty() {
            break;
        }
        for (entry, version) in &rows {
            let (patients, addressed) = if version.deleted {
                (
                    sync.patients_before(&entry.resource_type, &entry.id, entry.change_seq)?,
                    None,
                )
            } else {
                match fhir::json::parse_str(&version.body) {
                    Ok(json) => (
                        search::patient_compartment(&json),
                        referral::addressed_clues(&json).map(|clues| {
                            (
                                clues.to_string(),
                                referral::task_patient(&json).map(str::to_string),
                            )
                        }),
                    ),
                    Err(_) => (Vec::new(), None),
                }
            };
            sync.index_patients(entry.change_seq, &patients)?;
            if entry.kind == LogKind::Remote {
                for patient in &patients {
                    sync.follow(&entry.stamp.origin, patient, now_ms)?;
                }
            }
            // A referral's Task addressed to a facility puts its patient in that facility's
            // feed from this version on (the Task itself included); the facility fetches what
            // came before (`referral.rs`).
            if let Some((clues, Some(patient))) = addressed
                && clues != entry.stamp.origin
            {
                sync.follow(&clues, &patient, now_ms)?;
            }
            indexed_upto = entry.change_seq;
            indexed += 1;
        }
    }
    sync.set_state(STATE_FEED_INDEXED, &indexed_upto.to_string())?;
    Ok(indexed)
}
