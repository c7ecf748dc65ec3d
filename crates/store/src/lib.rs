//! The storage boundary of the record: what the rest of the system may ask of a store.
//!
//! Key decision: the store is dumb persistence plus indexing. It keeps every version of every
//! resource, extracts search-index rows at write time (via the `search` crate, so every backend
//! indexes identically) and answers searches it is given as a parsed `search::SearchQuery`.
//! FHIR rules (version numbering, conditional operations, transactions' reference rewriting)
//! live above it, in `ehr`, and run inside one [`WriteTx`] so that they are atomic.
//!
//! The trait is synchronous: SQLite is blocking, and callers on the async runtime use
//! `spawn_blocking`. Writes are jobs run by the backend's single writer, which may commit
//! several jobs together (group commit) but acknowledges a job only after its data is durable.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod notify;
mod security;
pub mod sync;

use std::sync::Arc;

pub use search::SearchQuery;
pub use security::{Account, App, AuditEntry, AuditQuery, BreakGlassGrant, SealedEntry};

/// One version of a resource as stored. `body` is the exact JSON text served to clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResource {
    pub resource_type: String,
    pub id: String,
    /// FHIR `meta.versionId`, 1-based, increasing per resource.
    pub version_id: u64,
    /// FHIR `meta.lastUpdated` as an instant string (`2026-11-25T01:02:03.456Z`).
    pub last_updated: String,
    /// The same instant, as UTC epoch milliseconds, for comparisons.
    pub last_updated_ms: i64,
    /// True when this version records a delete; `body` is then empty.
    pub deleted: bool,
    /// Position of this version in the node's change log (sync, system history).
    pub change_seq: i64,
    pub body: String,
}

/// Version facts of the current version, without the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    pub version_id: u64,
    pub last_updated_ms: i64,
    pub deleted: bool,
}

/// A new version to persist. The caller (ehr) has set `id` and `meta` inside `resource`.
#[derive(Clone, Debug)]
pub struct NewVersion {
    pub resource_type: String,
    pub id: String,
    pub version_id: u64,
    pub last_updated: String,
    pub last_updated_ms: i64,
    /// `None` records a delete.
    pub resource: Option<fhir::Json>,
}

/// A new version already turned into what the store writes: the body text and its index
/// rows. Building it is pure CPU work, so bulk loads do it on another thread than the
/// store's single writer; [`WriteTx::put`] builds it in place.
#[derive(Clone, Debug)]
pub struct PreparedVersion {
    pub resource_type: String,
    pub id: String,
    pub version_id: u64,
    pub last_updated: String,
    pub last_updated_ms: i64,
    /// The exact JSON to store and serve; `None` records a delete.
    pub body: Option<String>,
    pub index: Vec<search::IndexEntry>,
}

impl PreparedVersion {
    pub fn prepare(version: NewVersion) -> PreparedVersion {
        let (body, index) = match &version.resource {
            Some(resource) => (Some(resource.to_json_string()), search::extract(resource)),
            None => (None, Vec::new()),
        };
        PreparedVersion {
            resource_type: version.resource_type,
            id: version.id,
            version_id: version.version_id,
            last_updated: version.last_updated,
            last_updated_ms: version.last_updated_ms,
            body,
            index,
        }
    }
}

/// What a history request covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryScope {
    System,
    Type(String),
    Instance { resource_type: String, id: String },
}

/// A history page request. Entries come newest first; `before_seq` continues a previous page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRequest {
    pub scope: HistoryScope,
    pub since_ms: Option<i64>,
    pub before_seq: Option<i64>,
    pub count: usize,
}

/// Page size when the client gives no `_count` (every engine pages alike).
pub const PAGE_SIZE_DEFAULT: usize = 50;
/// Largest page: bounds the memory and time of one response.
pub const PAGE_SIZE_MAX: usize = 1_000;
/// Most resources one search may include (`_include`/`_revinclude`), so a broad revinclude
/// cannot turn one page into the whole database.
pub const INCLUDED_MAX: usize = 5_000;

/// One page of search matches, in the query's sort order.
///
/// Includes are not part of a page: the caller decides which matches the requester may see and
/// asks [`Store::includes`] for what those (and only those) reference, so that an included
/// resource never betrays a hidden match. Likewise the store builds no paging links: it gives
/// each match its position, and the caller builds cursors from the matches it shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchPage {
    pub matches: Vec<StoredResource>,
    /// Each match's position in the sort order, store-specific text (parallel to `matches`).
    /// `SearchQuery::cursor` = `n` + a position continues after that match, `p` + a position
    /// reads the matches before it.
    pub positions: Vec<String>,
    /// Total number of matches when it was asked for.
    pub total: Option<u64>,
    /// Whether more matches follow this page in the direction it was read (after it, or
    /// before it for a `p` cursor).
    pub more: bool,
}

/// Which `_include`/`_revinclude` directives [`Store::includes`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeLevel {
    /// Every directive, from the page's matches.
    Matches,
    /// Only the `:iterate` directives, from resources included at the previous level.
    Iterate,
}

/// Reads and writes allowed inside a write job. All of it is one transaction.
///
/// Isolation every engine gives a job: its writes commit all together or not at all; every
/// read sees what was committed before it, plus the job's own writes; and a job that reads
/// a resource (`current`, `read`) or writes it (`put`) is the only one doing so until it
/// commits, so the version it numbers `current + 1` cannot be numbered by another job too.
/// Decisions on anything else (is this CURP taken? does a resource match this condition?)
/// need [`WriteTx::lock`] on what is decided before reading it. SQLite gets all this from its
/// single writer; PostgreSQL from READ COMMITTED plus transaction-scoped advisory locks, and
/// by running the job again when the database reports a deadlock or a serialization failure.
pub trait WriteTx {
    /// The current version's facts; in a job, also claims the resource until commit.
    fn current(&mut self, resource_type: &str, id: &str) -> Result<Option<VersionInfo>, Error>;
    /// The current version; in a job, also claims the resource until commit.
    fn read(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error>;
    /// The current version, read to decide something other than a write of it (the guards'
    /// reads: is this patient registered here?). Unlike `read` it claims nothing, so jobs
    /// that consult the same patient do not wait for each other. Another job may change what
    /// it returned before this one commits: a decision that must not miss that takes
    /// [`WriteTx::lock`] first, like any decision that is not about one resource's versions.
    fn peek(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        self.read(resource_type, id)
    }
    /// Ids of the current, non-deleted resources matching `query`, at most `limit` of them.
    fn search_ids(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<String>, Error>;
    fn put(&mut self, version: NewVersion) -> Result<StoredResource, Error> {
        self.put_prepared(PreparedVersion::prepare(version))
    }
    fn put_prepared(&mut self, version: PreparedVersion) -> Result<StoredResource, Error>;

    // Access control (see `security`): written in the same transaction as what they record.

    /// Seals `entry` onto the audit chain (the seq and hash are assigned here) and returns its seq.
    fn append_audit(&mut self, entry: AuditEntry) -> Result<u64, Error>;
    /// Seals several entries in order (one read of the chain head for all of them).
    fn append_audit_batch(&mut self, entries: Vec<AuditEntry>) -> Result<(), Error>;
    /// Creates or replaces an account.
    fn put_account(&mut self, account: &Account) -> Result<(), Error>;
    fn account(&mut self, username: &str) -> Result<Option<Account>, Error>;
    fn put_break_glass(&mut self, grant: &BreakGlassGrant) -> Result<(), Error>;
    /// Marks a token id revoked until its expiry (after which it is refused anyway).
    fn revoke_token(&mut self, token_id: &str, expires_ms: i64) -> Result<(), Error>;
    /// Creates or replaces a registered app.
    fn put_app(&mut self, app: &App) -> Result<(), Error>;
    /// Removes a registered app; whether there was one.
    fn delete_app(&mut self, client_id: &str) -> Result<bool, Error>;
    /// Serialises this job with every other job that locks the same `key`, until the end of
    /// the transaction: a job that reads before it writes (is this CURP taken? does a resource
    /// match this condition?) locks what it is about to decide. Engines with one writer run
    /// jobs one at a time and need nothing; engines with concurrent writers take a
    /// transaction-scoped lock (PostgreSQL: `pg_advisory_xact_lock` on a hash of the key).
    fn lock(&mut self, key: &str) -> Result<(), Error> {
        let _ = key;
        Ok(())
    }
    /// Sync's writes in the same transaction, when the backend keeps a sync log.
    fn sync(&mut self) -> Option<&mut dyn sync::SyncTx> {
        None
    }
}

/// A unit of work run in one transaction; returning `Err` rolls back everything it did.
///
/// A backend may run a job more than once: engines with concurrent writers (PostgreSQL) roll a
/// transaction back on a serialization failure or deadlock and run the job again from the
/// start, in a fresh transaction, and report [`Error::Conflict`] only when retries are
/// exhausted. So a job must not consume its inputs: it takes them by reference or clones
/// them, and whatever it computes is only kept from the run that committed.
pub type WriteJob = Box<dyn FnMut(&mut dyn WriteTx) -> Result<(), Error> + Send>;

/// The store of record.
pub trait Store: Send + Sync {
    /// Most resources one bulk job (an import batch) should write: an engine whose jobs claim
    /// a lock per resource until COMMIT from a shared, bounded table says how many fit.
    fn bulk_job_resources_max(&self) -> usize {
        usize::MAX
    }
    /// The current version, including a delete marker (so callers can answer 410 Gone).
    fn read(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error>;
    fn vread(
        &self,
        resource_type: &str,
        id: &str,
        version_id: u64,
    ) -> Result<Option<StoredResource>, Error>;
    fn history(&self, request: &HistoryRequest) -> Result<Vec<StoredResource>, Error>;
    fn search(&self, query: &SearchQuery) -> Result<SearchPage, Error>;
    /// The current resources that `query`'s `_include`/`_revinclude` directives reach from
    /// `sources` (at most a bounded number), excluding `sources` themselves.
    fn includes(
        &self,
        query: &SearchQuery,
        sources: &[StoredResource],
        level: IncludeLevel,
    ) -> Result<Vec<StoredResource>, Error>;
    /// Every current resource in the patient's compartment, the patient included, in a
    /// stable order (first stored first), optionally restricted to types and a `_since`.
    fn patient_compartment(
        &self,
        patient_id: &str,
        types: &[String],
        since_ms: Option<i64>,
    ) -> Result<Vec<StoredResource>, Error>;
    /// Runs `job` in one transaction; returns once it is durable or rolled back.
    fn write(&self, job: WriteJob) -> Result<(), Error>;
    /// Counts of current resources per type (operators' view).
    fn counts(&self) -> Result<Vec<(String, u64)>, Error>;
    /// Current resources of a type per value of a token (`system|code`) or string parameter,
    /// most frequent first: counts only, for de-identified aggregates.
    fn value_counts(&self, resource_type: &str, param: &str) -> Result<Vec<(String, u64)>, Error>;

    // Access control (see `security`).

    fn account(&self, username: &str) -> Result<Option<Account>, Error>;
    fn accounts(&self) -> Result<Vec<Account>, Error>;
    fn is_token_revoked(&self, token_id: &str) -> Result<bool, Error>;
    /// A registered app by its `client_id`.
    fn app(&self, client_id: &str) -> Result<Option<App>, Error>;
    /// Every registered app, by `client_id`.
    fn apps(&self) -> Result<Vec<App>, Error>;
    /// The user's grants that have not expired at `now_ms`.
    fn break_glass_grants(
        &self,
        username: &str,
        now_ms: i64,
    ) -> Result<Vec<BreakGlassGrant>, Error>;
    /// Audit entries matching `query`, newest first.
    fn audit_search(&self, query: &AuditQuery) -> Result<Vec<SealedEntry>, Error>;
    /// Audit entries with `seq > after_seq` in seq order, at most `limit`.
    fn audit_scan(&self, after_seq: u64, limit: usize) -> Result<Vec<SealedEntry>, Error>;
    /// How the trail is laid out in chains (`auth::audit::Lanes`): one chain unless the engine
    /// spreads concurrent writers over lanes.
    fn audit_lanes(&self) -> Result<auth::audit::Lanes, Error> {
        Ok(auth::audit::Lanes::SINGLE)
    }
    /// One chain's entries with `seq > after_seq` in seq order, at most `limit` (for
    /// verification; see `auth::audit::verify_lanes`). For `Lane::Trunk`, every entry stored
    /// outside the lanes. The default is for a single chain: the trunk is empty and lane 0 is
    /// the whole trail.
    fn audit_scan_lane(
        &self,
        lane: auth::audit::Lane,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<SealedEntry>, Error> {
        match lane {
            auth::audit::Lane::Trunk => Ok(Vec::new()),
            auth::audit::Lane::Lane(_) => self.audit_scan(after_seq, limit),
        }
    }

    /// The subscription delivery queue, when the engine keeps one (see `notify`).
    fn notifications(&self) -> Option<&dyn notify::NotifyStore> {
        None
    }
}

pub type SharedStore = Arc<dyn Store>;

/// Runs a job that produces a value, on any store (see [`WriteJob`]: it may run more than
/// once; the value of the run that committed is returned).
pub fn write_with<R, F>(store: &dyn Store, mut job: F) -> Result<R, Error>
where
    R: Send + 'static,
    F: FnMut(&mut dyn WriteTx) -> Result<R, Error> + Send + 'static,
{
    let slot: Arc<std::sync::Mutex<Option<R>>> = Arc::new(std::sync::Mutex::new(None));
    let out = slot.clone();
    store.write(Box::new(move |tx| {
        let value = job(tx)?;
        *out.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value);
        Ok(())
    }))?;
    let value = slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    value.ok_or_else(|| Error::Other("write job finished without a result".into()))
}

/// Storage errors callers branch on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operation cannot be done because of a concurrent change (caller may retry).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is well-formed but the store cannot serve it (e.g. a bad cursor).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A job aborted itself with its caller's own error (carried through the writer unchanged,
    /// so the caller can downcast it back).
    #[error("aborted: {0}")]
    Aborted(Box<dyn std::error::Error + Send + Sync>),
    /// The store is busy beyond its wait budget.
    #[error("store busy")]
    Busy,
    #[error("storage failure: {0}")]
    Other(String),
}
