//! The record's use cases: every FHIR interaction the node offers, over any [`store::Store`].
//!
//! Key decision: FHIR semantics live here, once, above the storage boundary — version
//! numbering, `meta`, conditional create/update/delete, transaction processing with
//! `urn:uuid:` rewriting, conditional references, import — and run inside a single store
//! write job so that each is atomic. The REST layer only translates HTTP to these calls and
//! [`Error`] to status codes; the web UI and the CLI call the same functions, so there is no
//! second path to the data.

mod access;
mod accounts;
mod aggregates;
mod audit_events;
mod bundle;
mod capability;
mod clock;
mod error;
mod identity;
mod import;
mod interactions;
mod meta;
mod profile;
mod refs;
mod replicated;

use std::sync::Arc;

pub use access::{RecordAccess, Requester};
pub use accounts::{NewAccount, requester_for_account};
pub use aggregates::SMALL_CELL_MIN;
pub use bundle::{BundleKind, BundleOutcome};
pub use capability::capability_statement;
pub use clock::{Clock, SystemClock};
pub use error::Error;
pub use identity::{
    CurpCheck, CurpProblem, MATCH_GRADE_EXTENSION, MatchHit, MatchRequest, MergeOutcome,
    TASK_CODE_REVIEW_DUPLICATE, TASK_CODE_SYSTEM, check_curp, score_01,
};
pub use import::{
    IMPORT_BATCH_RESOURCES, ImportRejection, ImportReport, ImportSource, import_source, load_order,
};
pub use interactions::{CreateOutcome, EverythingRequest, SearchRequest};
pub use meta::{format_http_date, format_instant, parse_instant_ms};
pub use replicated::{ReplicatedRefusal, ReplicatedReview, ReplicatedVerdict, ReplicatedVersion};

/// The handle every interface uses to reach the record.
#[derive(Clone)]
pub struct Ehr {
    store: store::SharedStore,
    clock: Arc<dyn Clock>,
    access: Arc<access::AccessState>,
}

impl Ehr {
    /// A handle over `store`; `node` names this node in the audit trail.
    pub fn new(store: store::SharedStore, clock: Arc<dyn Clock>, node: &str) -> Ehr {
        let access = Arc::new(access::AccessState::new(store.clone(), node.to_string()));
        Ehr {
            store,
            clock,
            access,
        }
    }

    pub fn store(&self) -> &dyn store::Store {
        self.store.as_ref()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// Parses a query string (`a=1&b=x%7Cy`) into decoded pairs.
pub fn parse_query_string(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
