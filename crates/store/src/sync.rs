//! What node-to-node sync needs from a store, kept apart from the clinical `Store` trait.
//!
//! Key decision: every version a node holds gets a row in a sync log (keyed by its
//! `change_seq`) carrying its *stamp*: a hybrid logical clock value and the node where the
//! version was made. The stamp, not the node-local `meta.versionId`, is a version's identity
//! across nodes: two nodes hold the same version when they hold the same stamp for the same
//! resource. The backend stamps local versions from its change log on demand
//! ([`SyncTx::catch_up_log`], before any other sync read or write), so the clinical write path
//! carries no sync work; sync logs a version it applied from another node with that version's
//! own stamp.

use std::collections::HashSet;

use crate::{Error, StoredResource};

/// A version's identity across nodes. The derived order (hybrid logical clock, then node id)
/// is the conflict rule: of two concurrent versions, the greater one wins everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stamp {
    /// Hybrid logical clock: physical milliseconds × 2^16 plus a logical counter.
    pub hlc: i64,
    /// The node where the version was made (its CLUES, or `hub`).
    pub origin: String,
}

/// How a version came to be in this node's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    /// Written here by a clinician or a local process: pushed to the hub.
    Local,
    /// Received from another node: never pushed back.
    Remote,
    /// A copy of the winning version written after a losing one was put into history, so the
    /// winner is current again. Carries the winner's stamp; never shipped.
    Reassert,
}

impl LogKind {
    pub fn code(self) -> i64 {
        match self {
            LogKind::Local => 0,
            LogKind::Remote => 1,
            LogKind::Reassert => 2,
        }
    }

    pub fn from_code(code: i64) -> LogKind {
        match code {
            1 => LogKind::Remote,
            2 => LogKind::Reassert,
            _ => LogKind::Local,
        }
    }
}

/// One row of the sync log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub change_seq: i64,
    pub resource_type: String,
    pub id: String,
    pub stamp: Stamp,
    /// The version this one replaced where it was made (`None` for a creation).
    pub parent: Option<Stamp>,
    pub kind: LogKind,
}

/// A log entry with the patients whose compartment the version belongs to (hub feed index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedCandidate {
    pub entry: LogEntry,
    pub patients: Vec<String>,
}

/// Two versions of one resource made apart; `winner` is current everywhere, `loser` is in
/// history. Kept for a person to review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub resource_type: String,
    pub id: String,
    pub winner: Stamp,
    pub loser: Stamp,
    /// Top-level elements whose values differ between the two versions.
    pub fields: Vec<String>,
    pub detected_ms: i64,
    pub open: bool,
}

/// A version this clinic pushed and the hub refused (kept so the operator sees it; never sent
/// again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub resource_type: String,
    pub id: String,
    pub stamp: Stamp,
    pub reason_es: String,
    pub reason_en: String,
    pub refused_ms: i64,
}

/// A signed head of a node's audit chain: on a clinic, the ones it made; on the hub, the ones
/// each clinic shipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditAnchor {
    /// Where this node stored it, in storage order (assigned by the store; 0 before).
    pub position: u64,
    pub node_id: String,
    pub seq: u64,
    /// The chain hash at `seq`, lowercase hex.
    pub hash: String,
    /// When the node signed it, by its clock.
    pub at_ms: i64,
    /// The signing node's Ed25519 public key, base64url.
    pub public_key: String,
    /// The signature, base64url.
    pub signature: String,
    /// When this node stored it.
    pub received_ms: i64,
}

/// Sync writes, available inside a store write job (see [`crate::WriteTx::sync`]), so that
/// data, stamps and cursors change in one transaction.
pub trait SyncTx {
    /// The log row of the version with this `change_seq` on this node.
    fn log_entry(&mut self, change_seq: i64) -> Result<Option<LogEntry>, Error>;
    /// Whether this node already holds the version with `stamp` of the resource.
    fn stamp_known(&mut self, resource_type: &str, id: &str, stamp: &Stamp) -> Result<bool, Error>;
    /// Writes the log row `entry.change_seq` (a version just written by sync).
    fn set_log_entry(&mut self, entry: &LogEntry) -> Result<(), Error>;
    /// Stamps up to `rows_max` local versions not logged yet, oldest first; returns how many.
    /// Sync calls it before reading the log or writing versions, so the log has no gaps.
    fn catch_up_log(&mut self, rows_max: usize) -> Result<usize, Error>;
    /// Whether local versions may be waiting for their stamp. Sync stamps them before it
    /// applies received versions (which may name them as parents); a store that can tell
    /// cheaply that none are waiting saves the pass. Default: assume there may be.
    fn local_versions_unstamped(&mut self) -> Result<bool, Error> {
        Ok(true)
    }
    /// Announces the versions a job is about to apply: an engine that pays a round trip per
    /// statement may claim their resources (as `WriteTx::read` would), locate them and look up
    /// their stamps all at once, and answer the job's later questions from what it learned.
    /// Nothing a caller sees may change. Default: nothing to do.
    fn prepare_versions(&mut self, versions: &[(&str, &str, &Stamp)]) -> Result<(), Error> {
        let _ = versions;
        Ok(())
    }
    /// Whether versions get their log position only after their transaction commits (a
    /// sequencer assigns them, as on PostgreSQL). A job then cannot index its own versions
    /// in the feed, so sync leaves the feed index to the readers of the feed instead of
    /// doing it inside every push (where it only serialized concurrent pushes).
    fn positions_after_commit(&self) -> bool {
        false
    }
    /// Records a conflict once; returns false when it was already known.
    fn record_conflict(&mut self, conflict: &Conflict) -> Result<bool, Error>;
    fn state(&mut self, key: &str) -> Result<Option<String>, Error>;
    fn set_state(&mut self, key: &str, value: &str) -> Result<(), Error>;
    /// Sets this node's id, stamping versions written before it was known.
    fn set_node_id(&mut self, node_id: &str) -> Result<(), Error>;
    /// Registers a node's credential (its SHA-256), replacing an earlier one.
    fn enroll_node(&mut self, node_id: &str, token_sha256: &[u8], now_ms: i64)
    -> Result<(), Error>;
    /// Marks `patient_id` as followed by `node_id`: its changes are in the node's feed.
    fn follow(&mut self, node_id: &str, patient_id: &str, now_ms: i64) -> Result<(), Error>;
    /// Log rows after `after_seq` with their versions, oldest first, at most `limit`.
    fn log_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(LogEntry, StoredResource)>, Error>;
    /// The patients recorded for the latest version of the resource before `before_seq`.
    fn patients_before(
        &mut self,
        resource_type: &str,
        id: &str,
        before_seq: i64,
    ) -> Result<Vec<String>, Error>;
    /// Records the patients a version belongs to (the hub's feed index).
    fn index_patients(&mut self, change_seq: i64, patients: &[String]) -> Result<(), Error>;
    /// Records a version the hub refused (clinic); false when it was already recorded.
    fn record_refused(&mut self, refused: &Refused) -> Result<bool, Error>;
    /// Stops a node's credential from working (hub); false when the node is not enrolled.
    fn revoke_node(&mut self, node_id: &str, now_ms: i64) -> Result<bool, Error>;
    /// Replaces an enrolled node's credential, revoked or not (hub); false when not enrolled.
    fn rotate_node(
        &mut self,
        node_id: &str,
        token_sha256: &[u8],
        now_ms: i64,
    ) -> Result<bool, Error>;
    /// Stores an audit anchor once; false when it was already held. Anchors are append-only.
    fn record_anchor(&mut self, anchor: &AuditAnchor) -> Result<bool, Error>;
}

/// Sync reads, outside write jobs.
pub trait SyncStore: Send + Sync {
    /// This node's id, once set.
    fn node_id(&self) -> Result<Option<String>, Error>;
    fn state(&self, key: &str) -> Result<Option<String>, Error>;
    /// The highest `change_seq` in the log (0 when empty).
    fn log_seq_max(&self) -> Result<i64, Error>;
    /// The highest `change_seq` of any version (logged or not).
    fn change_seq_max(&self) -> Result<i64, Error>;
    /// Versions written here (kind `Local`) after `after_seq`, oldest first, at most `limit`.
    fn outbox(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(LogEntry, StoredResource)>, Error>;
    /// How many local versions wait after `after_seq` (logged or not yet), and the
    /// `last_updated_ms` of the oldest.
    fn outbox_pending(&self, after_seq: i64) -> Result<(u64, Option<i64>), Error>;
    /// Log rows in `(after_seq, upto_seq]`, oldest first, at most `limit`, with their patients.
    fn feed_candidates(
        &self,
        after_seq: i64,
        upto_seq: i64,
        limit: usize,
    ) -> Result<Vec<FeedCandidate>, Error>;
    /// `node_id`'s feed in `(after_seq, upto_seq]`, oldest first, at most `limit`: versions of
    /// `reference_types` and versions in the compartment of a patient the node follows, except
    /// the node's own and `Reassert` rows. Cost follows what is selected, not the whole log.
    fn feed(
        &self,
        node_id: &str,
        after_seq: i64,
        upto_seq: i64,
        reference_types: &[&str],
        limit: usize,
    ) -> Result<Vec<LogEntry>, Error>;
    /// The versions with these change sequences, in the same order (all must exist).
    fn versions(&self, change_seqs: &[i64]) -> Result<Vec<StoredResource>, Error>;
    /// Log rows of every version in the patient's compartment, oldest first, at most `limit`.
    fn patient_log(&self, patient_id: &str, limit: usize) -> Result<Vec<LogEntry>, Error>;
    fn followed(&self, node_id: &str) -> Result<HashSet<String>, Error>;
    /// Enrolled nodes and the SHA-256 of their credentials (revoked ones are left out).
    fn nodes(&self) -> Result<Vec<(String, Vec<u8>)>, Error>;
    /// Refused versions, newest first, at most `limit`.
    fn refused(&self, limit: usize) -> Result<Vec<Refused>, Error>;
    fn refused_count(&self) -> Result<u64, Error>;
    /// `node_id`'s audit anchors stored after `after_position`, in the order they were stored,
    /// at most `limit`.
    fn anchors(
        &self,
        node_id: &str,
        after_position: u64,
        limit: usize,
    ) -> Result<Vec<AuditAnchor>, Error>;
    /// Recorded conflicts, newest first, at most `limit`.
    fn conflicts(&self, limit: usize) -> Result<Vec<Conflict>, Error>;
    fn conflicts_open(&self) -> Result<u64, Error>;
}
