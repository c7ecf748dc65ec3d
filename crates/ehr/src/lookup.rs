//! Where the guards and the write path read the record from: the committed store, or the
//! write transaction in progress.
//!
//! Why both: a decision made inside a write job must see what the job itself wrote before
//! (a transaction that registers a patient and then records an encounter for them), and must
//! not be cached, because the job may still roll back. Decisions made for reads see committed
//! data and may use the guards' caches. [`Lookup::committed`] tells which is which.

use search::SearchQuery;
use store::{StoredResource, WriteTx};

use crate::Error;

/// Reads the guards and the write path need.
pub(crate) trait Lookup {
    /// The current version (a delete marker included).
    fn read(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error>;
    /// Ids of current, non-deleted matches of `query`, at most `limit`.
    fn search_ids(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<String>, Error>;
    /// Whether the answers are committed data (cacheable).
    fn committed(&self) -> bool;

    /// Current, non-deleted matches of `query`, at most `limit`.
    fn search(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<StoredResource>, Error> {
        let ids = self.search_ids(query, limit)?;
        let resource_type = query.resource_type.clone();
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(stored) = self.read(&resource_type, &id)?
                && !stored.deleted
            {
                found.push(stored);
            }
        }
        Ok(found)
    }
}

/// Committed data, through the store's read connections.
pub(crate) struct StoreLookup<'a> {
    pub store: &'a dyn store::Store,
}

impl Lookup for StoreLookup<'_> {
    fn read(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        Ok(self.store.read(resource_type, id)?)
    }

    fn search_ids(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<String>, Error> {
        Ok(self
            .search(query, limit)?
            .into_iter()
            .map(|r| r.id)
            .collect())
    }

    fn committed(&self) -> bool {
        true
    }

    fn search(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<StoredResource>, Error> {
        let mut query = query.clone();
        query.count = Some(limit as u32);
        query.total = Some(search::Total::None);
        query.include.clear();
        query.revinclude.clear();
        Ok(self.store.search(&query)?.matches)
    }
}

/// The write transaction in progress.
pub(crate) struct TxLookup<'a> {
    pub tx: &'a mut dyn WriteTx,
}

impl Lookup for TxLookup<'_> {
    /// The guards decide on what they read; they write none of it (`WriteTx::peek`).
    fn read(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        Ok(self.tx.peek(resource_type, id)?)
    }

    fn search_ids(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<String>, Error> {
        Ok(self.tx.search_ids(query, limit)?)
    }

    fn committed(&self) -> bool {
        false
    }
}

/// Parses search parameters of an internal query (our own, well-formed: a failure is ours).
pub(crate) fn internal_query(
    resource_type: &str,
    params: &[(String, String)],
    now_ms: i64,
) -> Result<SearchQuery, Error> {
    let (query, _) = search::parse(resource_type, params, search::Handling::Strict, now_ms)
        .map_err(Error::BadRequest)?;
    Ok(query)
}
