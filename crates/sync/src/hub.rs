//! The hub's side of the protocol, without HTTP: authenticate a node, ingest its pushes,
//! serve its feed, and hand out a patient's national record on demand.

use std::collections::BTreeMap;
use std::sync::Arc;

use auth::audit::AuditEntry;
use serde_json::json;
use store::sync::{Conflict, LogKind, SyncStore};
use store::{SharedStore, WriteTx};

use crate::Error;
use crate::apply::{self, REFERENCE_TYPES, STATE_FEED_INDEXED};
use crate::wire::{
    AnchorRequest, AnchorResponse, BATCH_BYTES_MAX, BATCH_ENTRIES_MAX, FetchRequest, FetchResponse,
    PullRequest, PullResponse, PushRequest, PushResponse, WireVersion, batch_len,
};
use crate::{anchor, credential, double_booking, ingest};

/// Task code of a conflict review (same CodeSystem as the duplicate reviews of issue 3).
pub const TASK_CODE_REVIEW_CONFLICT: &str = "revisar-conflicto";

/// The CodeSystem of Task input types (`ehr`'s review Tasks use the same one).
pub(crate) const TASK_INPUT_SYSTEM: &str =
    "https://expediente.salud.gob.mx/fhir/CodeSystem/tarea-entrada";

/// The review Task of a conflict: which record, which elements differ, which nodes (pure).
pub fn conflict_task(conflict: &Conflict, patient: Option<&str>, now: &str) -> serde_json::Value {
    let reference = format!("{}/{}", conflict.resource_type, conflict.id);
    let fields = if conflict.fields.is_empty() {
        "(ninguno / none)".to_string()
    } else {
        conflict.fields.join(", ")
    };
    let input = |code: &str, display: &str, value: &str| {
        json!({
            "type": {"coding": [{"system": TASK_INPUT_SYSTEM, "code": code, "display": display}]},
            "valueString": value
        })
    };
    let mut inputs = vec![
        input(
            "nodo-vigente",
            "Nodo de la versión vigente",
            &conflict.winner.origin,
        ),
        input(
            "nodo-historial",
            "Nodo de la versión en el historial",
            &conflict.loser.origin,
        ),
    ];
    inputs.extend(
        conflict
            .fields
            .iter()
            .map(|field| input("elemento", "Elemento que difiere", field)),
    );
    let mut task = json!({
        "resourceType": "Task",
        "status": "requested",
        "intent": "proposal",
        "priority": "routine",
        "code": {"coding": [{
            "system": ehr::TASK_CODE_SYSTEM,
            "code": TASK_CODE_REVIEW_CONFLICT,
            "display": "Revisar cambios simultáneos"
        }]},
        "description": format!(
            "{reference} se modificó en {winner} y en {loser} sin que uno viera el cambio del otro. \
             Quedó vigente la versión de {winner}; la de {loser} está en el historial. Elementos que \
             difieren: {fields}. / {reference} was changed at {winner} and at {loser} while apart; \
             {winner}'s version is current, {loser}'s is in history. Differing elements: {fields}.",
            winner = conflict.winner.origin,
            loser = conflict.loser.origin,
        ),
        "focus": {"reference": reference},
        "authoredOn": now,
        "lastModified": now,
        "input": inputs
    });
    if let Some(patient) = patient {
        task["for"] = json!({"reference": format!("Patient/{patient}")});
    }
    task
}

/// The clinic `node` as the hub's audit trail names it when it acts for itself (fetches).
fn node_requester(node: &str) -> ehr::Requester {
    let mut who = ehr::Requester::local_system(&format!("nodo:{node}"));
    who.principal.clues = Some(node.to_string());
    who.display_name = format!("Nodo {node} (sincronización)");
    who
}

/// The hub's own node id (origin of versions written on the hub itself, e.g. review Tasks).
pub const HUB_NODE_ID: &str = "hub";

/// Versions in one on-demand fetch at most: a patient's whole record is far smaller
/// (a Synthea lifetime is a few thousand resources).
const FETCH_ENTRIES_MAX: usize = 20_000;

/// Patients matched by one fetch at most (a CURP names one person; duplicates awaiting review
/// may share it).
const FETCH_PATIENTS_MAX: usize = 5;

/// The national hub.
pub struct Hub {
    ehr: ehr::Ehr,
    /// Who sync's own reads and writes act as in the record (audited like anyone).
    who: ehr::Requester,
    store: SharedStore,
    sync_store: Arc<dyn SyncStore>,
    /// What each clinic last did, for operators (kept in memory: it is rebuilt within one
    /// sync interval of a restart).
    activity: std::sync::Mutex<BTreeMap<String, NodeActivity>>,
    /// Held while a push brings the feed index up to date in passing (one at a time; the
    /// others skip it rather than queue, see [`Hub::index_in_passing`]).
    indexing: std::sync::Mutex<()>,
}

/// A clinic as the hub last saw it.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct NodeActivity {
    pub last_push_ms: Option<i64>,
    pub last_pull_ms: Option<i64>,
    /// The cursor of its last pull: how far into the hub's log it has looked.
    pub pull_cursor: Option<i64>,
}

/// Runs a store write job returning a value, carrying `sync::Error` through.
pub(crate) fn write<R, F>(store: &dyn store::Store, mut job: F) -> Result<R, Error>
where
    R: Send + 'static,
    F: FnMut(&mut dyn WriteTx) -> Result<R, Error> + Send + 'static,
{
    store::write_with(store, move |tx| job(tx).map_err(Error::abort)).map_err(Error::from_store)
}

/// Sets this node's id, stamping versions written before sync was configured.
pub fn set_node_id(
    store: &dyn store::Store,
    sync_store: &dyn SyncStore,
    node_id: &str,
) -> Result<(), Error> {
    if sync_store.node_id()?.as_deref() == Some(node_id) {
        return Ok(());
    }
    let node_id = node_id.to_string();
    write(store, move |tx| {
        Ok(apply::sync_tx(tx)?.set_node_id(&node_id)?)
    })
}

fn check_clues(clues: &str) -> Result<(), Error> {
    if clues.is_empty() || clues == HUB_NODE_ID || !clues.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Error::BadRequest(format!(
            "CLUES inválida «{clues}» / invalid CLUES '{clues}'"
        )));
    }
    Ok(())
}

fn not_enrolled(clues: &str) -> Error {
    Error::BadRequest(format!(
        "la clínica {clues} no está dada de alta en este nodo central (use `expediente node enroll`) / clinic {clues} is not enrolled on this hub (use `expediente node enroll`)"
    ))
}

/// Enrolls a clinic on the hub's store and returns its new credential (shown once). `audit`,
/// when given, is appended in the same transaction (the operator's CLI records who did it).
pub fn enroll(
    store: &dyn store::Store,
    clues: &str,
    random: &[u8; credential::TOKEN_RANDOM_BYTES],
    now_ms: i64,
    audit: Option<AuditEntry>,
) -> Result<String, Error> {
    check_clues(clues)?;
    let token = credential::token_from_random(random);
    let digest = credential::token_sha256(&token);
    let clues = clues.to_string();
    write(store, move |tx| {
        apply::sync_tx(tx)?.enroll_node(&clues, &digest, now_ms)?;
        if let Some(entry) = &audit {
            tx.append_audit(entry.clone())?;
        }
        Ok(())
    })?;
    Ok(token)
}

/// Gives an enrolled clinic a new credential; the old one stops working with this commit (the
/// hub looks credentials up on every request). Returns the new credential (shown once).
pub fn rotate(
    store: &dyn store::Store,
    clues: &str,
    random: &[u8; credential::TOKEN_RANDOM_BYTES],
    now_ms: i64,
    audit: AuditEntry,
) -> Result<String, Error> {
    check_clues(clues)?;
    let token = credential::token_from_random(random);
    let digest = credential::token_sha256(&token);
    let node = clues.to_string();
    let rotated = write(store, move |tx| {
        if !apply::sync_tx(tx)?.rotate_node(&node, &digest, now_ms)? {
            return Ok(false);
        }
        tx.append_audit(audit.clone())?;
        Ok(true)
    })?;
    if !rotated {
        return Err(not_enrolled(clues));
    }
    Ok(token)
}

/// Revokes a clinic's credential: its pushes, pulls and fetches are refused (401) from this
/// commit on, until `rotate` gives it a new one. What it already pushed stays.
pub fn revoke(
    store: &dyn store::Store,
    clues: &str,
    now_ms: i64,
    audit: AuditEntry,
) -> Result<(), Error> {
    check_clues(clues)?;
    let node = clues.to_string();
    let revoked = write(store, move |tx| {
        if !apply::sync_tx(tx)?.revoke_node(&node, now_ms)? {
            return Ok(false);
        }
        tx.append_audit(audit.clone())?;
        Ok(true)
    })?;
    if !revoked {
        return Err(not_enrolled(clues));
    }
    Ok(())
}

impl Hub {
    pub fn new(
        ehr: ehr::Ehr,
        store: SharedStore,
        sync_store: Arc<dyn SyncStore>,
    ) -> Result<Hub, Error> {
        set_node_id(store.as_ref(), sync_store.as_ref(), HUB_NODE_ID)?;
        Ok(Hub {
            ehr,
            who: ehr::Requester::local_system("sync:hub"),
            store,
            sync_store,
            activity: std::sync::Mutex::new(BTreeMap::new()),
            indexing: std::sync::Mutex::new(()),
        })
    }

    pub fn sync_store(&self) -> &dyn SyncStore {
        self.sync_store.as_ref()
    }

    fn note(&self, node: &str, update: impl FnOnce(&mut NodeActivity)) {
        let mut activity = self
            .activity
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        update(activity.entry(node.to_string()).or_default());
    }

    /// Every enrolled clinic with what it last did and how many hub changes lie beyond its
    /// pull cursor (`changes_behind`; it may want few of them).
    pub fn nodes_status(&self) -> Result<serde_json::Value, Error> {
        let seq_max = self.sync_store.change_seq_max()?;
        let activity = self
            .activity
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let nodes: Vec<serde_json::Value> = self
            .sync_store
            .nodes()?
            .into_iter()
            .map(|(node_id, _)| {
                let seen = activity.get(&node_id).cloned().unwrap_or_default();
                json!({
                    "node_id": node_id,
                    "last_push": seen.last_push_ms.map(ehr::format_instant),
                    "last_pull": seen.last_pull_ms.map(ehr::format_instant),
                    "pull_cursor": seen.pull_cursor,
                    "changes_behind": seen.pull_cursor.map(|c| seq_max.saturating_sub(c).max(0)),
                })
            })
            .collect();
        Ok(json!(nodes))
    }

    /// The enrolled node whose credential is `token`.
    pub fn authenticate(&self, token: &str) -> Result<String, Error> {
        let nodes = self.sync_store.nodes()?;
        credential::find_node(&nodes, token).ok_or(Error::Unauthorized)
    }

    /// Ingests versions made at `node`, each decided as that clinic's staff would be
    /// (`ingest.rs`); refused versions are listed in the answer. Refuses the whole batch if any
    /// version claims another origin: a clinic can only push as itself.
    pub fn push(&self, node: &str, request: PushRequest) -> Result<PushResponse, Error> {
        if let Some(foreign) = request.versions.iter().find(|v| v.origin != node) {
            return Err(Error::Forbidden(format!(
                "{}/{} viene de {} / comes from {}",
                foreign.resource_type, foreign.id, foreign.origin, foreign.origin
            )));
        }
        if request.versions.len() > BATCH_ENTRIES_MAX {
            return Err(Error::BadRequest(format!(
                "más de {BATCH_ENTRIES_MAX} versiones / more than {BATCH_ENTRIES_MAX} versions"
            )));
        }
        let now_ms = self.ehr.now_ms();
        // Appointments in the batch: checked for a slot booked at another node meanwhile once
        // the batch is applied (`double_booking.rs`).
        let mut appointments: Vec<String> = request
            .versions
            .iter()
            .filter(|v| v.resource_type == "Appointment" && v.body.is_some())
            .map(|v| v.id.clone())
            .collect();
        appointments.sort_unstable();
        appointments.dedup();
        let ingested = ingest::ingest(
            &self.ehr,
            self.store.as_ref(),
            node,
            request.versions,
            now_ms,
        )?;
        let outcome = ingested.outcome;
        // Subscriptions on the hub hear of what clinics pushed as of a local write.
        self.ehr.replicated_applied(&outcome.became_current);
        if !ingested.refused.is_empty() {
            tracing::warn!(
                node,
                refused = ingested.refused.len(),
                first = %ingested.refused[0].reason_en,
                "pushed versions refused"
            );
        }
        // Patients registered offline at two clinics for one person meet here first: match
        // every new one and put probable pairs on the review list (Tasks, as in issue 3).
        for patient_id in &outcome.new_patients {
            if let Err(err) = self.review_new_patient(patient_id) {
                tracing::warn!(patient = %patient_id, error = %err, "duplicate review after sync failed");
            }
        }
        // Concurrent edits go on the same review list, as Tasks made here once (every node
        // records the conflict in its table; only the hub, which sees every pair, opens a Task).
        for conflict in &outcome.new_conflicts {
            let patient = self.patient_of(conflict);
            let task = conflict_task(conflict, patient.as_deref(), &ehr::format_instant(now_ms));
            let created = fhir::json::parse_str(&task.to_string())
                .map_err(|err| Error::BadRequest(err.message_en()))
                .and_then(|task| Ok(self.ehr.create(&self.who, "Task", task, None)?));
            if let Err(err) = created {
                tracing::warn!(resource = %conflict.id, error = %err, "conflict review task failed");
            }
        }
        if !appointments.is_empty()
            && let Err(err) = self.review_double_bookings(&appointments, now_ms)
        {
            tracing::warn!(error = %err, "double-booking review after sync failed; the next push of the appointment retries");
        }
        self.note(node, |a| a.last_push_ms = Some(now_ms));
        self.index_in_passing();
        Ok(PushResponse {
            applied: outcome.applied,
            duplicates: outcome.duplicates,
            conflicts: outcome.conflicts,
            refused: ingested.refused,
        })
    }

    /// Stores `node`'s signed audit-chain heads (`anchor.rs`).
    pub fn receive_anchors(
        &self,
        node: &str,
        request: AnchorRequest,
    ) -> Result<AnchorResponse, Error> {
        anchor::receive(
            self.store.as_ref(),
            node,
            request.anchors,
            self.ehr.now_ms(),
        )
    }

    /// The patient whose record the conflicting resource belongs to, if any.
    fn patient_of(&self, conflict: &Conflict) -> Option<String> {
        let stored = self
            .ehr
            .read(&self.who, &conflict.resource_type, &conflict.id)
            .ok()?;
        let json = fhir::json::parse_str(&stored.body).ok()?;
        search::patient_compartment(&json).into_iter().next()
    }

    /// Checks the slots the given Appointments hold for another Appointment holding them too
    /// (booked at another node while apart), and marks and reports each one that must move
    /// (`double_booking.rs`). Safe to repeat: a decided pair is not decided again.
    fn review_double_bookings(&self, appointment_ids: &[String], now_ms: i64) -> Result<(), Error> {
        let mut slots: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for id in appointment_ids {
            let Ok(stored) = self.ehr.read(&self.who, "Appointment", id) else {
                continue;
            };
            if let Ok(json) = fhir::json::parse_str(&stored.body) {
                slots.extend(ehr::held_slots(&json));
            }
        }
        for slot_id in &slots {
            self.review_slot(slot_id, now_ms)?;
        }
        // An Appointment that is no longer marked was moved or cancelled by a person (the
        // write path drops the mark then): its double booking is resolved, its Task done.
        for id in appointment_ids {
            let Ok(stored) = self.ehr.read(&self.who, "Appointment", id) else {
                continue;
            };
            let marked = fhir::json::parse_str(&stored.body)
                .map(|json| double_booking::is_marked(&json))
                .unwrap_or(true);
            if !marked {
                self.close_double_booking_tasks(id, now_ms)?;
            }
        }
        Ok(())
    }

    /// Completes the open double-booking Tasks about `appointment_id`.
    fn close_double_booking_tasks(&self, appointment_id: &str, now_ms: i64) -> Result<(), Error> {
        for task in self.open_double_booking_tasks(appointment_id)? {
            let mut body: serde_json::Value = serde_json::from_str(&task.body)
                .map_err(|err| Error::BadRequest(err.to_string()))?;
            body["status"] = json!("completed");
            body["lastModified"] = json!(ehr::format_instant(now_ms));
            body["statusReason"] = json!({
                "text": "La cita se reprogramó o se canceló / The appointment was moved or cancelled"
            });
            let body = fhir::json::parse_str(&body.to_string())
                .map_err(|err| Error::BadRequest(err.message_en()))?;
            self.ehr
                .update(&self.who, "Task", &task.id, body, Some(task.version_id))?;
        }
        Ok(())
    }

    fn review_slot(&self, slot_id: &str, now_ms: i64) -> Result<(), Error> {
        let (page, _) = self.ehr.search(
            &self.who,
            &ehr::SearchRequest {
                resource_type: "Appointment".to_string(),
                params: vec![
                    ("slot".to_string(), format!("Slot/{slot_id}")),
                    ("_count".to_string(), "100".to_string()),
                ],
                handling: search::Handling::Lenient,
            },
        )?;
        let mut bookings = Vec::new();
        let mut bodies = BTreeMap::new();
        for stored in page.matches {
            let Ok(json) = fhir::json::parse_str(&stored.body) else {
                continue;
            };
            if !ehr::held_slots(&json).contains(slot_id) {
                continue;
            }
            // The first version's lastUpdated: when the booking was made, at its node.
            let booked_ms = self
                .ehr
                .vread(&self.who, "Appointment", &stored.id, "1")
                .map_or(stored.last_updated_ms, |first| first.last_updated_ms);
            bookings.push(double_booking::Booking {
                id: stored.id.clone(),
                booked_ms,
                marked: double_booking::is_marked(&json),
                patient: search::patient_compartment(&json).into_iter().next(),
            });
            bodies.insert(stored.id.clone(), (stored.body.clone(), stored.version_id));
        }
        let Some((keeper, losers)) = double_booking::decide(bookings) else {
            return Ok(());
        };
        let owner = self.agenda_owner(slot_id);
        let now = ehr::format_instant(now_ms);
        for loser in &losers {
            tracing::warn!(slot = %slot_id, keeper = %keeper.id, loser = %loser.id, "double booking across nodes");
            // The Task first, then the mark: a crash between them leaves the pair undecided,
            // and the next review finds the Task and only marks.
            if self.open_double_booking_tasks(&loser.id)?.is_empty() {
                let task = double_booking::task(slot_id, &keeper, loser, owner.as_deref(), &now);
                let task = fhir::json::parse_str(&task.to_string())
                    .map_err(|err| Error::BadRequest(err.message_en()))?;
                self.ehr.create(&self.who, "Task", task, None)?;
            }
            if let Some((body, version_id)) = bodies.remove(&loser.id) {
                let mut body: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|err| Error::BadRequest(err.to_string()))?;
                let meta = &mut body["meta"];
                if !meta.is_object() {
                    *meta = json!({});
                }
                match meta["tag"].as_array_mut() {
                    Some(tags) => tags.push(double_booking::tag()),
                    None => meta["tag"] = json!([double_booking::tag()]),
                }
                let body = fhir::json::parse_str(&body.to_string())
                    .map_err(|err| Error::BadRequest(err.message_en()))?;
                self.ehr
                    .update(&self.who, "Appointment", &loser.id, body, Some(version_id))?;
            }
        }
        Ok(())
    }

    /// The open double-booking Tasks about `appointment_id` (one, normally).
    fn open_double_booking_tasks(
        &self,
        appointment_id: &str,
    ) -> Result<Vec<store::StoredResource>, Error> {
        let (page, _) = self.ehr.search(
            &self.who,
            &ehr::SearchRequest {
                resource_type: "Task".to_string(),
                params: vec![
                    (
                        "code".to_string(),
                        format!(
                            "{}|{}",
                            ehr::TASK_CODE_SYSTEM,
                            double_booking::TASK_CODE_DOUBLE_BOOKING
                        ),
                    ),
                    ("focus".to_string(), format!("Appointment/{appointment_id}")),
                    ("status".to_string(), ehr::OPEN_TASK_STATUSES.to_string()),
                    ("_count".to_string(), "10".to_string()),
                ],
                handling: search::Handling::Lenient,
            },
        )?;
        Ok(page.matches)
    }

    /// The clinic whose agenda holds the slot: the node that made the current version of the
    /// slot's Schedule (node ids are CLUES), unless that is the hub.
    fn agenda_owner(&self, slot_id: &str) -> Option<String> {
        let slot = self.ehr.read(&self.who, "Slot", slot_id).ok()?;
        let slot = fhir::json::parse_str(&slot.body).ok()?;
        let schedule_id = slot
            .get("schedule")?
            .get("reference")?
            .as_str()?
            .strip_prefix("Schedule/")?
            .to_string();
        let origin = write(self.store.as_ref(), move |tx| {
            let Some(current) = tx.read("Schedule", &schedule_id)? else {
                return Ok(None);
            };
            Ok(apply::sync_tx(tx)?
                .log_entry(current.change_seq)?
                .map(|entry| entry.stamp.origin))
        })
        .ok()??;
        (origin != HUB_NODE_ID).then_some(origin)
    }

    fn review_new_patient(&self, patient_id: &str) -> Result<(), Error> {
        let stored = self.ehr.read(&self.who, "Patient", patient_id)?;
        let Ok(patient) = fhir::json::parse_str(&stored.body) else {
            return Ok(());
        };
        let request = ehr::MatchRequest::from_body(patient)?;
        let hits = match self.ehr.match_patients(&self.who, &request) {
            Ok(hits) => hits,
            // Records without anything to match on are not an error of sync.
            Err(ehr::Error::Unprocessable(_)) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        let pairs = hits
            .into_iter()
            .map(|hit| (patient_id.to_string(), hit.resource.id.clone(), hit.result))
            .collect::<Vec<_>>();
        if !pairs.is_empty() {
            self.ehr.queue_reviews(&self.who, pairs)?;
        }
        Ok(())
    }

    /// After a push, outside its transaction: brings the feed index up to date unless
    /// another push is doing it right now (that one, the next push or the next pull indexes
    /// these versions: pulls always index what is behind before they read). Keeps the
    /// sequencer's backlog short without making concurrent pushes wait for each other.
    fn index_in_passing(&self) {
        let Ok(_indexing) = self.indexing.try_lock() else {
            return;
        };
        if let Err(err) = self.index_if_behind() {
            tracing::warn!(error = %err, "feed indexing after a push failed; the next pull retries");
        }
    }

    /// Makes sure every committed version is in the feed index.
    fn index_if_behind(&self) -> Result<i64, Error> {
        let indexed: i64 = self
            .sync_store
            .state(STATE_FEED_INDEXED)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if self.sync_store.change_seq_max()? <= indexed {
            return Ok(indexed);
        }
        let now_ms = self.ehr.now_ms();
        write(self.store.as_ref(), move |tx| apply::index_feed(tx, now_ms))?;
        Ok(self
            .sync_store
            .state(STATE_FEED_INDEXED)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(indexed))
    }

    /// The next part of `node`'s feed after `request.cursor`.
    pub fn pull(&self, node: &str, request: &PullRequest) -> Result<PullResponse, Error> {
        let upto = self.index_if_behind()?;
        let entries_max = request.entries_max.clamp(1, BATCH_ENTRIES_MAX);
        let bytes_max = request.bytes_max.clamp(1, BATCH_BYTES_MAX);
        // One more than asked: whether the feed goes on past this batch.
        let mut chosen = self.sync_store.feed(
            node,
            request.cursor,
            upto,
            &REFERENCE_TYPES,
            entries_max + 1,
        )?;
        let full = chosen.len() > entries_max;
        chosen.truncate(entries_max);
        // Without a full batch, everything up to `upto` was considered.
        let considered_upto = match chosen.last() {
            Some(last) if full => last.change_seq,
            _ => upto,
        };
        let seqs: Vec<i64> = chosen.iter().map(|e| e.change_seq).collect();
        let versions = self.sync_store.versions(&seqs)?;
        let wire: Vec<WireVersion> = chosen
            .iter()
            .zip(&versions)
            .map(|(entry, version)| WireVersion::from_stored(entry, version))
            .collect();
        let taken = batch_len(
            wire.iter().map(WireVersion::size_bytes),
            entries_max,
            bytes_max,
        );
        let next_cursor = if taken < wire.len() {
            // Everything before the first version left out was either sent or not wanted.
            chosen[taken].change_seq - 1
        } else {
            considered_upto.max(request.cursor)
        };
        let mut wire = wire;
        wire.truncate(taken);
        let now_ms = self.ehr.now_ms();
        self.note(node, |a| {
            a.last_pull_ms = Some(now_ms);
            a.pull_cursor = Some(next_cursor);
        });
        Ok(PullResponse {
            versions: wire,
            next_cursor,
            more: next_cursor < upto,
        })
    }

    /// A patient's national record (every version in the compartment), found by CURP or id;
    /// `node` follows the patient from now on.
    pub fn fetch(&self, node: &str, request: &FetchRequest) -> Result<FetchResponse, Error> {
        // The lookup is audited as the clinic's (a system principal: the national record is
        // the clinic's to hold; its users are then decided on the clinic).
        let who = node_requester(node);
        let mut patients: Vec<String> = Vec::new();
        if let Some(curp) = &request.curp {
            let params = vec![(
                "identifier".to_string(),
                format!("{}|{}", mexico::systems::CURP, curp.trim().to_uppercase()),
            )];
            let (page, _) = self.ehr.search(
                &who,
                &ehr::SearchRequest {
                    resource_type: "Patient".to_string(),
                    params,
                    handling: search::Handling::Lenient,
                },
            )?;
            patients.extend(
                page.matches
                    .into_iter()
                    .map(|m| m.id)
                    .take(FETCH_PATIENTS_MAX),
            );
        }
        if let Some(id) = &request.patient_id
            && let Ok(stored) = self.ehr.read(&who, "Patient", id)
        {
            patients.push(stored.id);
        }
        patients.sort_unstable();
        patients.dedup();
        if patients.is_empty() {
            return Ok(FetchResponse {
                patients,
                versions: Vec::new(),
            });
        }
        // Follow first, then read: a change committed after the follow is in the node's feed,
        // and one committed before it is in this answer.
        let now_ms = self.ehr.now_ms();
        let (node_id, to_follow) = (node.to_string(), patients.clone());
        // Each record sent is in the hub's trail, naming the clinic and the patient (the
        // patient's access log shows which clinic holds a copy).
        let review = self.ehr.review_replicated(node);
        let shipped: Vec<AuditEntry> = patients
            .iter()
            .map(|patient| {
                review.shipped_entry(
                    patient,
                    format!("expediente enviado al nodo {node} (sincronización bajo demanda)"),
                )
            })
            .collect();
        write(self.store.as_ref(), move |tx| {
            apply::index_feed(tx, now_ms)?;
            let sync = apply::sync_tx(tx)?;
            for patient in &to_follow {
                sync.follow(&node_id, patient, now_ms)?;
            }
            tx.append_audit_batch(shipped.clone())?;
            Ok(())
        })?;
        let mut entries = Vec::new();
        for patient in &patients {
            entries.extend(
                self.sync_store
                    .patient_log(patient, FETCH_ENTRIES_MAX)?
                    .into_iter()
                    .filter(|e| e.kind != LogKind::Reassert),
            );
        }
        entries.sort_by_key(|e| e.change_seq);
        entries.dedup_by_key(|e| e.change_seq);
        entries.truncate(FETCH_ENTRIES_MAX);
        let seqs: Vec<i64> = entries.iter().map(|e| e.change_seq).collect();
        let versions = self.sync_store.versions(&seqs)?;
        Ok(FetchResponse {
            patients,
            versions: entries
                .iter()
                .zip(&versions)
                .map(|(entry, version)| WireVersion::from_stored(entry, version))
                .collect(),
        })
    }
}
