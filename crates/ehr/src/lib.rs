//! The record's use cases: every FHIR interaction the node offers, over any [`store::Store`].
//!
//! Key decision: FHIR semantics live here, once, above the storage boundary — version
//! numbering, `meta`, conditional create/update/delete, transaction processing with
//! `urn:uuid:` rewriting, conditional references, import — and run inside a single store
//! write job so that each is atomic. The REST layer only translates HTTP to these calls and
//! [`Error`] to status codes; the web UI, sync and the CLI call the same functions, so there
//! is no second path to the data.
//!
//! Layers, each calling only the ones below it:
//! - use cases: `interactions` (REST interactions), `bundle` (transaction, batch), `identity`
//!   (MPI operations), `care` (inicio de atención, cambio de unidad), `abilities` (what a
//!   screen may offer for one patient, asked of the guard), `import`, `accounts`,
//!   `audit_events`, `aggregates`, `capability`, `export` (Bulk Data `$export`);
//! - the read path (`read`: filtering, includes, totals, sealed cursors) and the write path
//!   (`write`: the one ordered pipeline every version goes through);
//! - the guards (`guard`: one read guard and one write guard, and the care-relationship rule)
//!   and the audit trail (`audit`);
//! - `lookup` (the committed store or the write transaction) and `matching` (MPI candidates).
//!
//! The store itself is private to this crate: nothing above `ehr` reaches it.

mod abilities;
mod accounts;
mod aggregates;
mod audit;
mod audit_events;
mod bundle;
mod capability;
mod care;
mod clock;
pub mod deidentify;
mod document;
mod error;
pub mod export;
mod guard;
mod identity;
mod import;
mod interactions;
mod lookup;
mod matching;
mod meta;
pub mod metrics;
mod naming;
pub mod notify;
mod patch;
mod queue;
mod read;
pub mod reminders;
mod replicated;
pub mod reports;
mod requester;
mod scheduling;
pub mod smart;
mod summary;
pub mod terminology;
mod write;

use std::sync::Arc;

pub use abilities::RecordAbilities;
pub use accounts::{
    NewAccount, PASSWORD_HASHES_CONCURRENT_MAX, SIGN_INS_WAITING_MAX, SignInError,
    requester_for_account,
};
pub use aggregates::SMALL_CELL_MIN;
pub use bundle::{BundleKind, BundleOutcome};
pub use capability::capability_statement;
pub use care::CareEventRequest;
pub use clock::{Clock, SystemClock};
pub use error::Error;
pub use guard::RecordAccess;
pub use identity::{CurpCheck, CurpProblem, MatchRequest, MergeOutcome, check_curp};
pub use import::{
    IMPORT_BATCH_RESOURCES, ImportRejection, ImportReport, ImportSource, import_source, load_order,
};
pub use interactions::{CreateOutcome, EverythingRequest, HistoryQuery, SearchRequest};
pub use matching::{MATCH_GRADE_EXTENSION, MatchHit, score_01};
pub use meta::{export_job_id, format_http_date, format_instant, parse_instant_ms};
pub use queue::{Priority, Visit, VisitState, WaitingRoom};
pub use read::Page;
pub use replicated::{ReplicatedRefusal, ReplicatedReview, ReplicatedVerdict, ReplicatedVersion};
pub use requester::Requester;
pub use scheduling::{GenerationOutcome, SlotGeneration};
pub use summary::{PatientSummary, SummarySection};
pub use write::duplicates::{OPEN_TASK_STATUSES, TASK_CODE_REVIEW_DUPLICATE, TASK_CODE_SYSTEM};
pub use write::{
    DOUBLE_BOOKING_TAG_CODE, DOUBLE_BOOKING_TAG_SYSTEM, DOUBLE_BOOKING_TASK_CODE, held_slots,
    is_double_booked,
};

/// The handle every interface uses to reach the record.
#[derive(Clone)]
pub struct Ehr {
    store: store::SharedStore,
    clock: Arc<dyn Clock>,
    access: Arc<guard::AccessState>,
    cursor_key: Arc<std::sync::RwLock<Option<read::cursor::CursorKey>>>,
    /// Sign-in throttling and the cap on concurrent password hashes, shared by every
    /// interface of this node (API, web UI).
    sign_in: Arc<accounts::SignInGate>,
    /// The zone a `dateTime` without an offset is read in (tz database name).
    local_zone: Arc<str>,
    /// Write latency and audit backlog, for the operator's `/metrics`.
    metrics: metrics::EhrMetrics,
    /// What the reports keep up to date from the change log (`reports::kept`).
    reports: Arc<reports::kept::ReportIndexes>,
    /// Subscriptions: what the write path notes for the delivery worker (`notify`).
    notifier: Arc<notify::Notifier>,
    /// Appointment reminders already emitted by this process (`reminders`).
    reminded: Arc<reminders::Reminded>,
    /// SMART authorization codes waiting for their exchange (`smart`).
    smart: Arc<smart::SmartState>,
}

impl Ehr {
    /// A handle over `store`; `node` names this node in the audit trail. Paging cursors are
    /// sealed with a random key until [`Ehr::set_cursor_secret`] gives the node's own.
    pub fn new(store: store::SharedStore, clock: Arc<dyn Clock>, node: &str) -> Ehr {
        let metrics = metrics::EhrMetrics::default();
        let access = Arc::new(guard::AccessState::new(
            store.clone(),
            node.to_string(),
            metrics.audit_backlog.clone(),
        ));
        Ehr {
            store,
            clock,
            access,
            cursor_key: Arc::new(std::sync::RwLock::new(read::cursor::CursorKey::random())),
            sign_in: Arc::new(accounts::SignInGate::new()),
            local_zone: Arc::from(calendar::zone::DEFAULT_ZONE),
            metrics,
            reports: Arc::default(),
            notifier: Arc::default(),
            reminded: Arc::default(),
            smart: Arc::default(),
        }
    }

    pub(crate) fn report_indexes(&self) -> &reports::kept::ReportIndexes {
        &self.reports
    }

    /// The record layer's figures for the operator's metrics.
    pub fn metrics(&self) -> &metrics::EhrMetrics {
        &self.metrics
    }

    /// Reads local times (a `dateTime` sent without an offset) in `zone` instead of
    /// `America/Mexico_City`; refuses a name the tz database does not know.
    pub fn with_local_zone(mut self, zone: &str) -> Result<Ehr, Error> {
        if !calendar::zone::is_known_zone(zone) {
            return Err(Error::bad_request(
                fhir::IssueCode::Value,
                format!("«{zone}» no es una zona horaria de la base de datos tz"),
                format!("'{zone}' is not a time zone of the tz database"),
            ));
        }
        self.local_zone = Arc::from(zone);
        Ok(self)
    }

    /// The lenient reading of a body a client sent (resource or Bundle): every `dateTime`
    /// with a time and no offset is placed in the node's zone and changed to carry the
    /// offset. Returns one warning per value changed, saying what was assumed. Other problems
    /// are left for the write's own validation to report. Interfaces call it unless the
    /// client asked for strict handling.
    pub fn assume_local_times(&self, body: &mut fhir::Json) -> Vec<fhir::Issue> {
        write::check::assume_local_times(body, &self.local_zone)
    }

    /// The secret paging cursors are sealed with: derived from the node key, so that every
    /// process of the node (and of a hub) accepts the cursors of the others.
    pub fn set_cursor_secret(&self, secret: &[u8; 32]) {
        let key = read::cursor::CursorKey::new(secret);
        *self
            .cursor_key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = key;
    }

    pub(crate) fn cursor_key(
        &self,
    ) -> Result<std::sync::RwLockReadGuard<'_, Option<read::cursor::CursorKey>>, Error> {
        let guard = self
            .cursor_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.is_none() {
            return Err(Error::Internal("no paging cursor key".into()));
        }
        Ok(guard)
    }

    pub(crate) fn store(&self) -> &dyn store::Store {
        self.store.as_ref()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Counts of current resources per type, for operators (`expediente` status commands).
    /// Not a patient-data read: no content leaves, only how many of each type.
    pub fn resource_counts(&self) -> Result<Vec<(String, u64)>, Error> {
        Ok(self.store().counts()?)
    }

    /// Whether the store answers (the health check): one read by id, whatever its answer.
    pub fn store_responds(&self) -> bool {
        self.store()
            .read("Organization", "expediente-health-check")
            .is_ok()
    }
}

/// Parses a query string (`a=1&b=x%7Cy`) into decoded pairs.
pub fn parse_query_string(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
