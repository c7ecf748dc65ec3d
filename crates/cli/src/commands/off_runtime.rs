//! A store whose every call leaves the async workers first (`block_in_place`).
//!
//! Why: PostgreSQL's client (`postgres`, blocking) drives each call on a small runtime of its
//! own, and tokio refuses to start one on a thread that is running async tasks. Most callers
//! already move store work to `spawn_blocking`, but a few quick reads run inline in async code
//! (the token check in `rest`'s authentication, the sync fetch gate), which SQLite tolerates.
//! Wrapping the PostgreSQL store here, where the engine is chosen, keeps every caller correct
//! on both engines. Off the async workers (blocking threads, plain threads) it adds nothing.

use std::collections::HashSet;
use std::sync::Arc;

use store::sync::{AuditAnchor, Conflict, FeedCandidate, LogEntry, Refused, SyncStore};
use store::{
    Account, AuditQuery, BreakGlassGrant, Error, HistoryRequest, IncludeLevel, SealedEntry,
    SearchPage, SearchQuery, Store, StoredResource, WriteJob,
};

/// Runs `f` where it may block: off the async workers of a multi-threaded runtime.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// `S` with every call made through [`blocking`], and its last reference dropped there too
/// (closing PostgreSQL connections blocks as well, and a node drops its store while its
/// runtime still runs).
pub(crate) struct OffRuntime<S: ?Sized> {
    inner: Option<Arc<S>>,
}

impl<S: ?Sized> OffRuntime<S> {
    pub(crate) fn new(inner: Arc<S>) -> OffRuntime<S> {
        OffRuntime { inner: Some(inner) }
    }

    fn get(&self) -> Result<&S, Error> {
        self.inner
            .as_deref()
            .ok_or_else(|| Error::Other("the store is closed".into()))
    }
}

impl<S: ?Sized> Drop for OffRuntime<S> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            blocking(move || drop(inner));
        }
    }
}

impl<S: Store + ?Sized> Store for OffRuntime<S> {
    fn read(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        blocking(|| self.get()?.read(resource_type, id))
    }
    fn vread(
        &self,
        resource_type: &str,
        id: &str,
        version_id: u64,
    ) -> Result<Option<StoredResource>, Error> {
        blocking(|| self.get()?.vread(resource_type, id, version_id))
    }
    fn history(&self, request: &HistoryRequest) -> Result<Vec<StoredResource>, Error> {
        blocking(|| self.get()?.history(request))
    }
    fn search(&self, query: &SearchQuery) -> Result<SearchPage, Error> {
        blocking(|| self.get()?.search(query))
    }
    fn includes(
        &self,
        query: &SearchQuery,
        sources: &[StoredResource],
        level: IncludeLevel,
    ) -> Result<Vec<StoredResource>, Error> {
        blocking(|| self.get()?.includes(query, sources, level))
    }
    fn patient_compartment(
        &self,
        patient_id: &str,
        types: &[String],
        since_ms: Option<i64>,
    ) -> Result<Vec<StoredResource>, Error> {
        blocking(|| self.get()?.patient_compartment(patient_id, types, since_ms))
    }
    fn write(&self, job: WriteJob) -> Result<(), Error> {
        blocking(|| self.get()?.write(job))
    }
    fn counts(&self) -> Result<Vec<(String, u64)>, Error> {
        blocking(|| self.get()?.counts())
    }
    fn value_counts(&self, resource_type: &str, param: &str) -> Result<Vec<(String, u64)>, Error> {
        blocking(|| self.get()?.value_counts(resource_type, param))
    }
    fn account(&self, username: &str) -> Result<Option<Account>, Error> {
        blocking(|| self.get()?.account(username))
    }
    fn accounts(&self) -> Result<Vec<Account>, Error> {
        blocking(|| self.get()?.accounts())
    }
    fn is_token_revoked(&self, token_id: &str) -> Result<bool, Error> {
        blocking(|| self.get()?.is_token_revoked(token_id))
    }
    fn break_glass_grants(
        &self,
        username: &str,
        now_ms: i64,
    ) -> Result<Vec<BreakGlassGrant>, Error> {
        blocking(|| self.get()?.break_glass_grants(username, now_ms))
    }
    fn audit_search(&self, query: &AuditQuery) -> Result<Vec<SealedEntry>, Error> {
        blocking(|| self.get()?.audit_search(query))
    }
    fn audit_scan(&self, after_seq: u64, limit: usize) -> Result<Vec<SealedEntry>, Error> {
        blocking(|| self.get()?.audit_scan(after_seq, limit))
    }
}

impl<S: SyncStore + ?Sized> SyncStore for OffRuntime<S> {
    fn node_id(&self) -> Result<Option<String>, Error> {
        blocking(|| self.get()?.node_id())
    }
    fn state(&self, key: &str) -> Result<Option<String>, Error> {
        blocking(|| self.get()?.state(key))
    }
    fn log_seq_max(&self) -> Result<i64, Error> {
        blocking(|| self.get()?.log_seq_max())
    }
    fn change_seq_max(&self) -> Result<i64, Error> {
        blocking(|| self.get()?.change_seq_max())
    }
    fn outbox(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(LogEntry, StoredResource)>, Error> {
        blocking(|| self.get()?.outbox(after_seq, limit))
    }
    fn outbox_pending(&self, after_seq: i64) -> Result<(u64, Option<i64>), Error> {
        blocking(|| self.get()?.outbox_pending(after_seq))
    }
    fn feed_candidates(
        &self,
        after_seq: i64,
        upto_seq: i64,
        limit: usize,
    ) -> Result<Vec<FeedCandidate>, Error> {
        blocking(|| self.get()?.feed_candidates(after_seq, upto_seq, limit))
    }
    fn feed(
        &self,
        node_id: &str,
        after_seq: i64,
        upto_seq: i64,
        reference_types: &[&str],
        limit: usize,
    ) -> Result<Vec<LogEntry>, Error> {
        blocking(|| {
            self.get()?
                .feed(node_id, after_seq, upto_seq, reference_types, limit)
        })
    }
    fn versions(&self, change_seqs: &[i64]) -> Result<Vec<StoredResource>, Error> {
        blocking(|| self.get()?.versions(change_seqs))
    }
    fn patient_log(&self, patient_id: &str, limit: usize) -> Result<Vec<LogEntry>, Error> {
        blocking(|| self.get()?.patient_log(patient_id, limit))
    }
    fn followed(&self, node_id: &str) -> Result<HashSet<String>, Error> {
        blocking(|| self.get()?.followed(node_id))
    }
    fn nodes(&self) -> Result<Vec<(String, Vec<u8>)>, Error> {
        blocking(|| self.get()?.nodes())
    }
    fn refused(&self, limit: usize) -> Result<Vec<Refused>, Error> {
        blocking(|| self.get()?.refused(limit))
    }
    fn refused_count(&self) -> Result<u64, Error> {
        blocking(|| self.get()?.refused_count())
    }
    fn anchors(
        &self,
        node_id: &str,
        after_position: u64,
        limit: usize,
    ) -> Result<Vec<AuditAnchor>, Error> {
        blocking(|| self.get()?.anchors(node_id, after_position, limit))
    }
    fn conflicts(&self, limit: usize) -> Result<Vec<Conflict>, Error> {
        blocking(|| self.get()?.conflicts(limit))
    }
    fn conflicts_open(&self) -> Result<u64, Error> {
        blocking(|| self.get()?.conflicts_open())
    }
}
