//! The clinic's side: the background task that pushes and pulls, on-demand fetch of a
//! patient, and the sync status.
//!
//! The task never holds up a clinician: local reads and writes go straight to the store, and
//! the task only reads the outbox and writes received batches. When the hub cannot be
//! reached it retries with exponential backoff and jitter; progress survives restarts because
//! cursors are in the store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use store::SharedStore;
use store::sync::{Refused, SyncStore};

use crate::Error;
use crate::hub::{set_node_id, write};
use crate::wire::{
    self, AnchorRequest, AnchorResponse, BATCH_BYTES_MAX, BATCH_ENTRIES_MAX, FetchRequest,
    FetchResponse, PullRequest, PullResponse, PushRequest, PushResponse, RefusedVersion,
    WireVersion, batch_len,
};
use crate::{anchor, apply, referral};

/// State keys kept in the store.
pub const STATE_PUSH_CURSOR: &str = "push_cursor";
pub const STATE_PULL_CURSOR: &str = "pull_cursor";
pub const STATE_LAST_PUSH_MS: &str = "last_push_ms";
pub const STATE_LAST_PULL_MS: &str = "last_pull_ms";
pub const STATE_ONLINE: &str = "online";
/// The hub this clinic last synced with (its URL, no credential), for `sync status` read
/// from the store while the node runs or after it stopped.
pub const STATE_HUB_URL: &str = "hub_url";
pub const STATE_LAST_ERROR: &str = "last_error";
/// Patients referred to this clinic whose record is still to be fetched (ids, one per line).
pub const STATE_REFERRALS_TO_FETCH: &str = "referrals_to_fetch";

/// How a clinic reaches its hub and how often it syncs.
#[derive(Clone, Debug)]
pub struct ClinicConfig {
    /// This clinic's CLUES: its node id.
    pub clues: String,
    /// The hub's base URL (`http://hub:8080`), without `/sync`.
    pub hub_url: String,
    /// The credential from `expediente node enroll`.
    pub hub_token: String,
    /// Pause between sync rounds when there is nothing left to move.
    pub interval_ms: u64,
    /// First retry delay after a failure; doubles per failure up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Budget of one HTTP exchange with the hub.
    pub request_timeout_ms: u64,
    /// Budget of an on-demand fetch, which a clinician waits for: short, then local only.
    pub fetch_timeout_ms: u64,
    /// The node key that signs the audit chain's head (`anchor.rs`); `None`: no anchors.
    pub audit_keys: Option<Arc<auth::token::KeyStore>>,
    /// Least time between two anchors of the audit chain.
    pub anchor_interval_ms: u64,
}

impl ClinicConfig {
    pub fn new(clues: String, hub_url: String, hub_token: String) -> ClinicConfig {
        ClinicConfig {
            clues,
            hub_url: hub_url.trim_end_matches('/').to_string(),
            hub_token,
            interval_ms: 5_000,
            backoff_base_ms: 1_000,
            backoff_max_ms: 300_000,
            request_timeout_ms: 60_000,
            fetch_timeout_ms: 3_000,
            audit_keys: None,
            anchor_interval_ms: anchor::ANCHOR_INTERVAL_MS_DEFAULT,
        }
    }
}

/// What the task knows that is not in the store.
#[derive(Default)]
struct Live {
    online: Option<bool>,
    last_error: Option<String>,
    /// When the audit chain's head was last signed.
    last_anchor_ms: Option<i64>,
}

/// A clinic node's sync engine.
pub struct Clinic {
    ehr: ehr::Ehr,
    /// Who sync's own reads and writes act as in the record (audited like anyone).
    who: ehr::Requester,
    store: SharedStore,
    sync_store: Arc<dyn SyncStore>,
    config: ClinicConfig,
    http: reqwest::Client,
    live: Mutex<Live>,
}

/// `GET /sync/status` and `expediente sync status`.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub role: String,
    pub node_id: Option<String>,
    pub hub: Option<String>,
    /// Whether the last exchange with the hub succeeded (`null`: not tried yet).
    pub online: Option<bool>,
    pub last_push_ms: Option<i64>,
    pub last_push: Option<String>,
    pub last_pull_ms: Option<i64>,
    pub last_pull: Option<String>,
    /// Local versions the hub has not acknowledged yet.
    pub pending_outbound: u64,
    /// Age of the oldest unacknowledged local version (how far the hub is behind us).
    pub push_lag_ms: i64,
    /// Time since the last successful pull (how far we may be behind the hub).
    pub pull_lag_ms: Option<i64>,
    pub push_cursor: i64,
    pub pull_cursor: i64,
    pub open_conflicts: u64,
    pub last_error: Option<String>,
    /// Local versions the hub refused (final: they stay here, and are not sent again).
    pub refused_versions: u64,
    /// The latest refusals, newest first, with the hub's reasons.
    pub refused: Vec<RefusedView>,
    /// The position of the audit chain's head in the newest signed anchor (`anchor.rs`).
    pub audit_anchor_seq: Option<u64>,
    /// Signed anchors the hub does not hold yet (counted up to 100: normally 0 or 1).
    pub audit_anchors_unshipped: u64,
}

/// A refused version as `/sync/status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RefusedView {
    pub resource: String,
    pub hlc: i64,
    pub refused: String,
    pub reason_es: String,
    pub reason_en: String,
}

/// Refusals listed in the status at most (the count gives the rest).
const REFUSED_SHOWN_MAX: usize = 20;

/// Unshipped anchors counted at most by the status (it is read on every page of the UI).
const UNSHIPPED_COUNTED_MAX: usize = 100;

fn state_i64(store: &dyn SyncStore, key: &str) -> Result<Option<i64>, Error> {
    Ok(store.state(key)?.and_then(|v| v.parse().ok()))
}

/// The status as recorded in a store (`live` overrides what the running task knows better).
pub fn status_of(
    sync_store: &dyn SyncStore,
    role: &str,
    hub: Option<&str>,
    now_ms: i64,
) -> Result<Status, Error> {
    let push_cursor = state_i64(sync_store, STATE_PUSH_CURSOR)?.unwrap_or(0);
    let pull_cursor = state_i64(sync_store, STATE_PULL_CURSOR)?.unwrap_or(0);
    let last_push_ms = state_i64(sync_store, STATE_LAST_PUSH_MS)?;
    let last_pull_ms = state_i64(sync_store, STATE_LAST_PULL_MS)?;
    let (pending_outbound, oldest_ms) = if role == "clinic" {
        sync_store.outbox_pending(push_cursor)?
    } else {
        (0, None)
    };
    let refused = sync_store
        .refused(REFUSED_SHOWN_MAX)?
        .into_iter()
        .map(|r| RefusedView {
            resource: format!("{}/{}", r.resource_type, r.id),
            hlc: r.stamp.hlc,
            refused: ehr::format_instant(r.refused_ms),
            reason_es: r.reason_es,
            reason_en: r.reason_en,
        })
        .collect();
    let node_id = sync_store.node_id()?;
    let audit_anchors_unshipped = match &node_id {
        Some(node) if role == "clinic" => {
            let shipped = state_i64(sync_store, anchor::STATE_ANCHOR_SHIPPED)?.unwrap_or(0);
            sync_store
                .anchors(node, shipped.max(0) as u64, UNSHIPPED_COUNTED_MAX)?
                .len() as u64
        }
        _ => 0,
    };
    Ok(Status {
        role: role.to_string(),
        node_id,
        hub: match hub {
            Some(hub) => Some(hub.to_string()),
            None if role == "clinic" => sync_store.state(STATE_HUB_URL)?.filter(|u| !u.is_empty()),
            None => None,
        },
        online: sync_store.state(STATE_ONLINE)?.map(|v| v == "true"),
        last_push_ms,
        last_push: last_push_ms.map(ehr::format_instant),
        last_pull_ms,
        last_pull: last_pull_ms.map(ehr::format_instant),
        pending_outbound,
        push_lag_ms: oldest_ms.map_or(0, |oldest| now_ms.saturating_sub(oldest).max(0)),
        pull_lag_ms: last_pull_ms.map(|at| now_ms.saturating_sub(at).max(0)),
        push_cursor,
        pull_cursor,
        open_conflicts: sync_store.conflicts_open()?,
        last_error: sync_store.state(STATE_LAST_ERROR)?,
        refused_versions: sync_store.refused_count()?,
        refused,
        audit_anchor_seq: anchor::anchored_head(sync_store)?.map(|(seq, _)| seq),
        audit_anchors_unshipped,
    })
}

impl Clinic {
    pub fn new(
        ehr: ehr::Ehr,
        store: SharedStore,
        sync_store: Arc<dyn SyncStore>,
        config: ClinicConfig,
    ) -> Result<Arc<Clinic>, Error> {
        set_node_id(store.as_ref(), sync_store.as_ref(), &config.clues)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.request_timeout_ms))
            .connect_timeout(Duration::from_millis(config.fetch_timeout_ms))
            .build()
            .map_err(|err| Error::Unreachable(err.to_string()))?;
        Ok(Arc::new(Clinic {
            ehr,
            who: ehr::Requester::local_system("sync:clinic"),
            store,
            sync_store,
            config,
            http,
            live: Mutex::new(Live::default()),
        }))
    }

    pub fn ehr(&self) -> &ehr::Ehr {
        &self.ehr
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the hub answered the last exchange (`None` before the first).
    pub fn online(&self) -> Option<bool> {
        self.live().online
    }

    pub fn status(&self) -> Result<Status, Error> {
        let mut status = status_of(
            self.sync_store.as_ref(),
            "clinic",
            Some(&self.config.hub_url),
            self.ehr.now_ms(),
        )?;
        let live = self.live();
        status.online = live.online;
        status.last_error = live.last_error.clone();
        Ok(status)
    }

    /// Syncs forever: rounds until nothing is left, a pause, again; failures back off.
    pub async fn run(self: Arc<Self>) {
        let mut failures: u32 = 0;
        loop {
            match self.round().await {
                Ok(more) => {
                    failures = 0;
                    self.note_outcome(None).await;
                    if !more {
                        tokio::time::sleep(Duration::from_millis(self.config.interval_ms)).await;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "sync with the hub failed; retrying");
                    self.note_outcome(Some(err.to_string())).await;
                    let delay = wire::backoff_ms(
                        failures,
                        self.config.backoff_base_ms,
                        self.config.backoff_max_ms,
                        rand::random::<f64>(),
                    );
                    failures = failures.saturating_add(1);
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
            }
        }
    }

    /// Records online/offline; persisted only when it changes (no write per quiet round).
    async fn note_outcome(&self, error: Option<String>) {
        let online = error.is_none();
        let changed = {
            let mut live = self.live();
            let changed = live.online != Some(online);
            live.online = Some(online);
            live.last_error = error.clone();
            changed
        };
        if changed {
            let store = self.store.clone();
            let hub_url = self.config.hub_url.clone();
            let _ = tokio::task::spawn_blocking(move || {
                write(store.as_ref(), move |tx| {
                    let sync = apply::sync_tx(tx)?;
                    sync.set_state(STATE_HUB_URL, &hub_url)?;
                    sync.set_state(STATE_ONLINE, if online { "true" } else { "false" })?;
                    sync.set_state(STATE_LAST_ERROR, error.as_deref().unwrap_or(""))?;
                    Ok(())
                })
            })
            .await;
        }
    }

    /// One push and one pull (and the audit chain's head signed and shipped when due); true
    /// when more is waiting on either side.
    pub async fn round(&self) -> Result<bool, Error> {
        let more_out = self.push_once().await?;
        let more_in = self.pull_once().await?;
        // Anchoring never holds up the record's sync: a failure is logged and retried next
        // round.
        if let Err(err) = self.anchor_once().await {
            tracing::warn!(error = %err, "audit anchor not made or not shipped");
        }
        Ok(more_out || more_in)
    }

    /// Signs the audit chain's head when it moved and the interval has passed, then ships the
    /// anchors the hub does not hold yet.
    pub async fn anchor_once(&self) -> Result<(), Error> {
        let Some(keys) = self.config.audit_keys.clone() else {
            return Ok(());
        };
        let now_ms = self.ehr.now_ms();
        let due = self.live().last_anchor_ms.is_none_or(|at| {
            now_ms.saturating_sub(at)
                >= i64::try_from(self.config.anchor_interval_ms).unwrap_or(i64::MAX)
        });
        let (store, sync_store, node) = (
            self.store.clone(),
            self.sync_store.clone(),
            self.config.clues.clone(),
        );
        let unshipped = self
            .blocking(move || {
                if due {
                    anchor::make_anchor(store.as_ref(), sync_store.as_ref(), &keys, &node, now_ms)?;
                }
                anchor::unshipped(sync_store.as_ref(), &node)
            })
            .await?;
        if due {
            self.live().last_anchor_ms = Some(now_ms);
        }
        let Some(newest) = unshipped.iter().map(|a| a.position).max() else {
            return Ok(());
        };
        let request = AnchorRequest {
            anchors: unshipped.iter().map(anchor::to_wire).collect(),
        };
        let reply = self
            .post(
                "anchor",
                wire::encode(&request),
                self.config.request_timeout_ms,
            )
            .await?;
        let _: AnchorResponse =
            wire::decode(&reply).map_err(|e| Error::Unreachable(e.to_string()))?;
        let store = self.store.clone();
        self.blocking(move || anchor::shipped(store.as_ref(), newest))
            .await
    }

    async fn blocking<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce() -> Result<R, Error> + Send + 'static,
    {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|err| Error::Store(store::Error::Other(err.to_string())))?
    }

    async fn post(&self, path: &str, body: Vec<u8>, timeout_ms: u64) -> Result<Vec<u8>, Error> {
        let response = self
            .http
            .post(format!("{}/sync/{path}", self.config.hub_url))
            .bearer_auth(&self.config.hub_token)
            .header(reqwest::header::CONTENT_TYPE, wire::MEDIA_TYPE)
            .timeout(Duration::from_millis(timeout_ms))
            .body(body)
            .send()
            .await
            .map_err(|err| Error::Unreachable(err.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| Error::Unreachable(err.to_string()))?;
        match status.as_u16() {
            200 => Ok(bytes.to_vec()),
            401 => Err(Error::Unauthorized),
            403 => Err(Error::Forbidden(
                String::from_utf8_lossy(&bytes).into_owned(),
            )),
            code => Err(Error::Unreachable(format!(
                "HTTP {code}: {}",
                String::from_utf8_lossy(&bytes)
            ))),
        }
    }

    /// Sends the next batch of local versions; true when more are waiting.
    pub async fn push_once(&self) -> Result<bool, Error> {
        let (store, sync_store) = (self.store.clone(), self.sync_store.clone());
        let Some(outgoing) = self
            .blocking(move || next_push(store.as_ref(), sync_store.as_ref()))
            .await?
        else {
            return Ok(false);
        };
        let body = wire::encode(&outgoing.request);
        let reply = self
            .post("push", body, self.config.request_timeout_ms)
            .await?;
        let response: PushResponse =
            wire::decode(&reply).map_err(|e| Error::Unreachable(e.to_string()))?;
        for refused in &response.refused {
            tracing::warn!(
                resource = %format!("{}/{}", refused.resource_type, refused.id),
                reason = %refused.reason_en,
                "the hub refused a version; it stays here and is not sent again"
            );
        }
        let store = self.store.clone();
        let now_ms = self.ehr.now_ms();
        let more = outgoing.more;
        self.blocking(move || pushed(store.as_ref(), &outgoing, &response.refused, now_ms))
            .await?;
        Ok(more)
    }

    /// Receives the next part of the feed; true when more is waiting.
    pub async fn pull_once(&self) -> Result<bool, Error> {
        let sync_store = self.sync_store.clone();
        let request = self
            .blocking(move || next_pull(sync_store.as_ref()))
            .await?;
        let cursor = request.cursor;
        let body = wire::encode(&request);
        let reply = self
            .post("pull", body, self.config.request_timeout_ms)
            .await?;
        let response: PullResponse =
            wire::decode(&reply).map_err(|e| Error::Unreachable(e.to_string()))?;
        let more = response.more;
        let addressed = referral::patients_addressed_to(
            &self.config.clues,
            response
                .versions
                .iter()
                .filter_map(|v| v.body.as_deref().map(|b| b.get())),
        );
        let store = self.store.clone();
        let now_ms = self.ehr.now_ms();
        let outcome = self
            .blocking(move || {
                // A record already here needs no fetch (the clinic follows it, or it is its own):
                // only the first Task of a patient new here costs a fetch, not every later version.
                let addressed: Vec<String> = addressed
                .into_iter()
                .filter(|patient| {
                    !matches!(store.read("Patient", patient), Ok(Some(held)) if !held.deleted)
                })
                .collect();
                // Noted before the batch is applied: a crash in between pulls the batch again and
                // notes the same patients (a set), never loses them.
                if !addressed.is_empty() {
                    note_referrals(store.as_ref(), &addressed)?;
                }
                pulled(store.as_ref(), cursor, response, now_ms)
            })
            .await?;
        self.ehr.replicated_applied(&outcome.became_current);
        self.fetch_referred().await?;
        Ok(more)
    }

    /// Fetches the records of patients referred to this clinic that are not fetched yet (a
    /// Task addressed to this CLUES arrived: `referral.rs`), and forgets each once stored. A
    /// failure leaves the rest for the next round.
    pub async fn fetch_referred(&self) -> Result<usize, Error> {
        let sync_store = self.sync_store.clone();
        let waiting = self
            .blocking(move || referrals_waiting(sync_store.as_ref()))
            .await?;
        let mut fetched = 0;
        for patient in waiting {
            let request = FetchRequest {
                curp: None,
                patient_id: Some(patient.clone()),
            };
            fetched += self
                .fetch_within(request, self.config.request_timeout_ms)
                .await?;
            let store = self.store.clone();
            self.blocking(move || referral_fetched(store.as_ref(), &patient))
                .await?;
        }
        Ok(fetched)
    }

    /// Fetches a patient's national record from the hub and stores it; the hub then keeps
    /// this clinic in the patient's feed. Returns the number of versions received.
    pub async fn fetch(&self, request: FetchRequest) -> Result<usize, Error> {
        self.fetch_within(request, self.config.fetch_timeout_ms)
            .await
    }

    /// [`Clinic::fetch`] with its own budget: nobody waits on a referred record, so it gets
    /// the budget of any exchange rather than the clinician's short one.
    async fn fetch_within(&self, request: FetchRequest, timeout_ms: u64) -> Result<usize, Error> {
        let body = wire::encode(&request);
        let reply = self.post("fetch", body, timeout_ms).await?;
        let response: FetchResponse =
            wire::decode(&reply).map_err(|e| Error::Unreachable(e.to_string()))?;
        let received = response.versions.len();
        let store = self.store.clone();
        let now_ms = self.ehr.now_ms();
        let outcome = self
            .blocking(move || fetched(store.as_ref(), response, now_ms))
            .await?;
        self.ehr.replicated_applied(&outcome.became_current);
        Ok(received)
    }

    /// Whether a Patient with this CURP is stored here.
    pub fn has_curp(&self, curp: &str) -> Result<bool, Error> {
        let (page, _) = self.ehr.search(
            &self.who,
            &ehr::SearchRequest {
                resource_type: "Patient".to_string(),
                params: vec![
                    (
                        "identifier".to_string(),
                        format!("{}|{curp}", mexico::systems::CURP),
                    ),
                    ("_count".to_string(), "1".to_string()),
                ],
                handling: search::Handling::Lenient,
            },
        )?;
        Ok(!page.matches.is_empty())
    }

    /// Before a clinician's lookup by CURP: when the patient is not here and the hub was
    /// reachable at the last exchange, fetch the national record (bounded by the fetch
    /// timeout; on failure the lookup simply answers from the local store).
    pub async fn fetch_if_unknown(self: &Arc<Self>, curp: String) {
        if self.online() == Some(false) {
            return;
        }
        let clinic = self.clone();
        let lookup = curp.clone();
        let known = tokio::task::spawn_blocking(move || clinic.has_curp(&lookup)).await;
        if !matches!(known, Ok(Ok(false))) {
            return;
        }
        let request = FetchRequest {
            curp: Some(curp),
            patient_id: None,
        };
        let budget = Duration::from_millis(self.config.fetch_timeout_ms);
        match tokio::time::timeout(budget, self.fetch(request)).await {
            Ok(Ok(n)) => tracing::info!(versions = n, "patient fetched from the hub"),
            Ok(Err(err)) => tracing::warn!(error = %err, "on-demand fetch failed"),
            Err(_) => tracing::warn!("on-demand fetch timed out"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The clinic's steps without a transport: the background task sends what these prepare over
// HTTP; the simulator (tests) hands it to a `Hub` directly.
// ---------------------------------------------------------------------------------------------

/// A push ready to send, and what to record once the hub has acknowledged it.
#[derive(Debug)]
pub struct Outgoing {
    pub request: PushRequest,
    /// The clinic `change_seq` of the last version in the request: the new push cursor.
    pub last_seq: i64,
    /// More local versions wait after this batch.
    pub more: bool,
}

/// The next batch of local versions after the push cursor, if any (stamping versions written
/// since the last time first).
pub fn next_push(
    store: &dyn store::Store,
    sync_store: &dyn SyncStore,
) -> Result<Option<Outgoing>, Error> {
    while sync_store.change_seq_max()? > sync_store.log_seq_max()? {
        write(store, |tx| {
            Ok(apply::sync_tx(tx)?.catch_up_log(apply::CATCH_UP_ROWS_PER_JOB)?)
        })?;
    }
    let cursor = state_i64(sync_store, STATE_PUSH_CURSOR)?.unwrap_or(0);
    let batch = sync_store.outbox(cursor, BATCH_ENTRIES_MAX)?;
    if batch.is_empty() {
        return Ok(None);
    }
    let mut versions: Vec<WireVersion> = batch
        .iter()
        .map(|(entry, version)| WireVersion::from_stored(entry, version))
        .collect();
    let taken = batch_len(
        versions.iter().map(WireVersion::size_bytes),
        BATCH_ENTRIES_MAX,
        BATCH_BYTES_MAX,
    );
    let last_seq = batch[taken - 1].0.change_seq;
    debug_assert!(last_seq > cursor);
    let more = taken < batch.len() || batch.len() == BATCH_ENTRIES_MAX;
    versions.truncate(taken);
    Ok(Some(Outgoing {
        request: PushRequest { versions },
        last_seq,
        more,
    }))
}

/// Records that the hub acknowledged `outgoing`, and the versions it refused: those are final
/// (the cursor moves past them like the rest, so they are never sent again) and are kept for
/// the operator (`/sync/status`).
pub fn pushed(
    store: &dyn store::Store,
    outgoing: &Outgoing,
    refused: &[RefusedVersion],
    now_ms: i64,
) -> Result<(), Error> {
    let last_seq = outgoing.last_seq;
    // Only versions of this batch count: an answer cannot make the clinic record anything else.
    let refused: Vec<Refused> = refused
        .iter()
        .filter_map(|r| {
            let version =
                outgoing.request.versions.iter().find(|v| {
                    v.resource_type == r.resource_type && v.id == r.id && v.hlc == r.hlc
                })?;
            Some(Refused {
                resource_type: r.resource_type.clone(),
                id: r.id.clone(),
                stamp: version.stamp(),
                reason_es: r.reason_es.clone(),
                reason_en: r.reason_en.clone(),
                refused_ms: now_ms,
            })
        })
        .collect();
    write(store, move |tx| {
        let sync = apply::sync_tx(tx)?;
        for refusal in &refused {
            sync.record_refused(refusal)?;
        }
        // Acknowledgements of older batches (a delayed answer) never move the cursor back.
        let current: i64 = sync
            .state(STATE_PUSH_CURSOR)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        sync.set_state(STATE_PUSH_CURSOR, &current.max(last_seq).to_string())?;
        sync.set_state(STATE_LAST_PUSH_MS, &now_ms.to_string())?;
        Ok(())
    })
}

/// The next pull request, from the saved cursor.
pub fn next_pull(sync_store: &dyn SyncStore) -> Result<PullRequest, Error> {
    Ok(PullRequest {
        cursor: state_i64(sync_store, STATE_PULL_CURSOR)?.unwrap_or(0),
        entries_max: BATCH_ENTRIES_MAX,
        bytes_max: BATCH_BYTES_MAX,
    })
}

/// Applies a pulled batch and moves the cursor, in one transaction.
pub fn pulled(
    store: &dyn store::Store,
    cursor: i64,
    response: PullResponse,
    now_ms: i64,
) -> Result<apply::BatchOutcome, Error> {
    let versions = response.versions;
    let next_cursor = response.next_cursor;
    write(store, move |tx| {
        let outcome = apply::apply_batch(tx, &versions, now_ms)?;
        let sync = apply::sync_tx(tx)?;
        // An answer to an older cursor (replayed or reordered) must neither move the cursor
        // back nor skip: it is taken only when it continues from the cursor saved now.
        let current: i64 = sync
            .state(STATE_PULL_CURSOR)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if current == cursor {
            sync.set_state(STATE_PULL_CURSOR, &next_cursor.to_string())?;
        }
        sync.set_state(STATE_LAST_PULL_MS, &now_ms.to_string())?;
        Ok(outcome)
    })
}

/// Stores a fetched record.
pub fn fetched(
    store: &dyn store::Store,
    response: FetchResponse,
    now_ms: i64,
) -> Result<apply::BatchOutcome, Error> {
    let versions = response.versions;
    write(store, move |tx| apply::apply_batch(tx, &versions, now_ms))
}

/// The patients referred here whose record waits to be fetched.
pub fn referrals_waiting(sync_store: &dyn SyncStore) -> Result<Vec<String>, Error> {
    Ok(sync_store
        .state(STATE_REFERRALS_TO_FETCH)?
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Adds patients to the set waiting to be fetched.
pub fn note_referrals(store: &dyn store::Store, patients: &[String]) -> Result<(), Error> {
    let patients = patients.to_vec();
    write(store, move |tx| {
        let sync = apply::sync_tx(tx)?;
        let mut waiting: Vec<String> = sync
            .state(STATE_REFERRALS_TO_FETCH)?
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        for patient in &patients {
            if !waiting.contains(patient) {
                waiting.push(patient.clone());
            }
        }
        sync.set_state(STATE_REFERRALS_TO_FETCH, &waiting.join("\n"))?;
        Ok(())
    })
}

/// Removes a fetched patient from the waiting set.
pub fn referral_fetched(store: &dyn store::Store, patient: &str) -> Result<(), Error> {
    let patient = patient.to_string();
    write(store, move |tx| {
        let sync = apply::sync_tx(tx)?;
        let waiting: Vec<String> = sync
            .state(STATE_REFERRALS_TO_FETCH)?
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty() && *l != patient)
            .map(str::to_string)
            .collect();
        sync.set_state(STATE_REFERRALS_TO_FETCH, &waiting.join("\n"))?;
        Ok(())
    })
}
