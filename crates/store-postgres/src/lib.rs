//! The national hub's store: the same contract as `store-sqlite`, over PostgreSQL 15.
//!
//! Key decisions:
//! - Driver: the `postgres` crate, the synchronous face of `tokio-postgres` 0.7 (each
//!   connection drives its protocol on its own small current-thread runtime). The store
//!   contract is synchronous and callers already move it off the async runtime with
//!   `spawn_blocking`, so a blocking client is the direct fit: no second runtime to own and
//!   no `block_on` bridging in every method (a caller that forgot `spawn_blocking` is served
//!   from a plain thread, `pool::off_runtime`). Connections live in a small pool of our own
//!   ([`pool`]); a connection found broken (PostgreSQL restarted) is dropped and replaced on
//!   the next use, so the hub reconnects by itself.
//! - Concurrency: many writers at once. Each write job runs in its own READ COMMITTED
//!   transaction; what a job reads before it writes is protected by transaction-scoped
//!   advisory locks (`pg_advisory_xact_lock(hashtextextended(key, 0))`): one per resource,
//!   taken by `current`/`read`/`put` inside a job (so version numbers never duplicate), and
//!   whatever `WriteTx::lock` names (a CURP, a conditional create). A serialization failure, a
//!   deadlock, a unique violation or a connection lost before COMMIT rolls the transaction
//!   back and runs the job again from the start with backoff (`PgStore::run_write`);
//!   `Error::Conflict` only when the retries are exhausted.
//! - TLS: with `sslmode=require` in the URL, rustls with the system's CA certificates (the
//!   server's certificate and name verified, like libpq's `verify-full`); without it, plain
//!   TCP (a hub on another machine must say `require`).
//! - Durability: `synchronous_commit = on`; a job is acknowledged after COMMIT returned, i.e.
//!   once its WAL is flushed.
//! - The sync feed needs positions in commit order, which a sequence does not give (see
//!   [`sync`]): a sequencer assigns log positions to committed versions, after commit.
//! - The audit trail is 16 hash chains (lanes, `auth::audit::Lanes`) after the single chain
//!   it held before: an appender takes the first free lane's advisory lock, held until commit,
//!   so auditing transactions wait on each other only when every lane is busy (see
//!   [`security`]).
//! - Every clinical row carries `patient_key`, never NULL (the patient whose compartment it is
//!   in, else the resource's own `Type/id`); on a Citus coordinator the clinical tables are
//!   distributed by it and co-located (migration 2, ARCHITECTURE.md "The hub on Citus"), and
//!   every join between them equates it. A resource is found by type and id through
//!   `resource_locator`.

mod batch;
pub mod cluster;
mod coalesce;
mod locator;
mod notify;
mod pool;
mod query;
mod read;
mod schema;
mod security;
mod sql;
mod sync;
mod tx;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::{
    Account, AuditQuery, BreakGlassGrant, Error, HistoryRequest, IncludeLevel, SealedEntry,
    SearchPage, SearchQuery, StoredResource, WriteJob,
};

pub use schema::schema_version_latest;

/// Search-parameter ids by (resource type, code).
pub(crate) type ParamIds = HashMap<(String, String), i64>;

/// Times a job is run before a conflict is reported (first run included).
const WRITE_ATTEMPTS_MAX: u32 = 12;

/// First backoff after a conflict; doubles per retry (with jitter), up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(2);
const BACKOFF_MAX: Duration = Duration::from_millis(250);

/// The PostgreSQL store.
pub struct PgStore {
    pool: pool::Pool,
    /// The sync sequencer's own connection (see `sync`): sequencing commits on its own,
    /// whatever job asked for it, and never competes with jobs for pool connections.
    sequencer: Mutex<Option<postgres::Client>>,
    /// Search-parameter ids known committed (ids never change once assigned). Shared as an
    /// immutable snapshot, replaced when a new one is interned (rare after warm-up).
    params: Mutex<Arc<ParamIds>>,
    /// The connection new search-parameter ids are interned on, in their own autocommit
    /// statement (see [`PgStore::intern_param`]).
    interner: Mutex<Option<postgres::Client>>,
    /// The database is a Citus coordinator (the `citus` extension is installed): searches and
    /// compartment reads about one patient are confined to that patient's shard.
    citus: bool,
    /// Reads by id waiting to be sent together (see [`coalesce`]).
    reads: coalesce::Coalescer,
    /// The audit trail's layout (fixed by its migration) and the lane the next appender waits
    /// on when every lane is held (see `security::take_lane`).
    audit_lanes: auth::audit::Lanes,
    audit_next_lane: std::sync::atomic::AtomicU32,
}

impl PgStore {
    /// Connects, brings the schema to this build's version (refusing a newer one) and returns
    /// the store.
    pub fn connect(url: &str) -> Result<Arc<PgStore>, Error> {
        let pool = pool::Pool::new(url)?;
        pool.with(|conn| schema::migrate(&mut conn.client).map(|_| ()))?;
        // Every parameter id interned so far, so searches need no lookups for them.
        let params: ParamIds = pool.with(|conn| {
            let rows = conn
                .client
                .query("SELECT resource_type, code, pid FROM search_param", &[])
                .map_err(sql_error)?;
            Ok(rows
                .iter()
                .map(|row| ((row.get(0), row.get(1)), row.get(2)))
                .collect())
        })?;
        let citus = pool.with(|conn| {
            let row = conn
                .client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
                    &[],
                )
                .map_err(sql_error)?;
            Ok(row.get::<_, bool>(0))
        })?;
        let audit_lanes = pool.with(|conn| security::audit_layout(&mut conn.client))?;
        Ok(Arc::new(PgStore {
            pool,
            sequencer: Mutex::new(None),
            params: Mutex::new(Arc::new(params)),
            interner: Mutex::new(None),
            citus,
            reads: coalesce::Coalescer::default(),
            audit_lanes,
            audit_next_lane: std::sync::atomic::AtomicU32::new(0),
        }))
    }

    /// Bytes the database holds on disk: tables, indexes and TOAST, WAL excluded; on a Citus
    /// coordinator, the distributed tables' shards on every worker too (for `/metrics` and the
    /// storage benchmark).
    pub fn database_bytes(&self) -> Result<u64, Error> {
        let citus = self.citus;
        self.with_client(move |client| {
            let sql = if citus {
                "SELECT (pg_database_size(current_database()) \
                 + coalesce((SELECT sum(citus_total_relation_size(logicalrelid)) FROM pg_dist_partition \
                             WHERE partmethod <> 'n'), 0))::bigint"
            } else {
                "SELECT pg_database_size(current_database())::bigint"
            };
            let row = client.query_one(sql, &[]).map_err(sql_error)?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    /// [`Store::read`] on plain PostgreSQL: batched with the reads arriving alongside.
    fn read_coalesced(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<StoredResource>, Error> {
        self.reads.read(resource_type, id, |keys| {
            self.pool.with(|conn| {
                let stmt = conn.prepare(coalesce::current_by_ids())?;
                let mut slots: Vec<&str> = Vec::with_capacity(2 * coalesce::BATCH_MAX);
                for (t, i) in keys {
                    slots.push(t);
                    slots.push(i);
                }
                slots.resize(2 * coalesce::BATCH_MAX, "");
                let params: Vec<&(dyn postgres::types::ToSql + Sync)> = slots
                    .iter()
                    .map(|slot| slot as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                let rows = conn.client.query(&stmt, &params).map_err(sql_error)?;
                let mut found = vec![None; keys.len()];
                for row in &rows {
                    let slot: i32 = row.get(0);
                    if let Some(slot) = usize::try_from(slot).ok().and_then(|n| found.get_mut(n)) {
                        *slot = Some(read::stored_from_row_at(row, 1));
                    }
                }
                Ok(found)
            })
        })
    }

    fn with_client<R: Send>(
        &self,
        mut f: impl FnMut(&mut postgres::Client) -> Result<R, Error> + Send,
    ) -> Result<R, Error> {
        self.pool.with(|conn| f(&mut conn.client))
    }

    /// The id of a search parameter, creating it if new, committed at once on the interner's
    /// own connection.
    ///
    /// Why not inside the write's transaction: concurrent transactions inserting the same
    /// new `(type, code)` with `ON CONFLICT DO NOTHING` wait for each other to *commit*, so
    /// every clinic pushing a first Observation of some kind queued behind the others' whole
    /// pushes (measured: 87 ms per insert, 69 s of 2 minutes of a 10-clinic push). An id that
    /// no committed row ends up using is harmless: ids are never reused or deleted.
    pub(crate) fn intern_param(&self, resource_type: &str, code: &str) -> Result<i64, Error> {
        let key = (resource_type.to_string(), code.to_string());
        if let Some(pid) = lock(&self.params).get(&key) {
            return Ok(*pid);
        }
        let mut slot = lock(&self.interner);
        if slot.as_ref().is_none_or(postgres::Client::is_closed) {
            *slot = Some(self.pool.open_dedicated()?);
        }
        let Some(client) = slot.as_mut() else {
            return Err(Error::Other(
                "no connection to intern search parameters".into(),
            ));
        };
        let inserted = client
            .query_opt(
                "INSERT INTO search_param(resource_type, code) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING RETURNING pid",
                &[&resource_type, &code],
            )
            .map_err(sql_error)?;
        let pid: i64 = match inserted {
            Some(row) => row.get(0),
            None => tx::lookup_param(client, resource_type, code)?
                .ok_or_else(|| Error::Other("search parameter id vanished".into()))?,
        };
        drop(slot);
        let mut known = lock(&self.params);
        let mut grown = ParamIds::clone(&known);
        grown.insert(key, pid);
        *known = Arc::new(grown);
        Ok(pid)
    }
}

/// Brings the database at `url` to this build's schema; returns the schema version.
pub fn migrate(url: &str) -> Result<u32, Error> {
    let mut client = pool::connect(url)?;
    pool::off_runtime(move || schema::migrate(&mut client))
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // A blocking client must not be dropped on an async runtime's thread.
        let sequencer = lock(&self.sequencer).take();
        let interner = lock(&self.interner).take();
        pool::off_runtime(move || drop((sequencer, interner)));
    }
}

/// Locks a mutex, recovering the data if another thread panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether PostgreSQL says the transaction may succeed if run again.
fn retryable(err: &postgres::Error) -> bool {
    err.code().is_some_and(|code| {
        *code == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
            || *code == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            || *code == postgres::error::SqlState::UNIQUE_VIOLATION
    })
}

/// Whether the connection is gone (PostgreSQL restarted or shut down, the network cut): the
/// statement did not take effect and may be tried again on a new connection.
pub(crate) fn connection_lost(err: &postgres::Error) -> bool {
    // "error communicating with the server" (a reset socket while PostgreSQL restarts) carries
    // the I/O error as its source and no SQLSTATE: the connection is as gone as a closed one.
    let io = std::error::Error::source(err).is_some_and(|source| source.is::<std::io::Error>());
    err.is_closed()
        || io
        || err.code().is_some_and(|code| {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P0")
        })
}

pub(crate) fn sql_error(err: postgres::Error) -> Error {
    if retryable(&err) {
        return Error::Conflict(err.to_string());
    }
    if connection_lost(&err) {
        // The connection is gone (PostgreSQL restarted, network): the pool replaces it, and
        // the caller may try again.
        tracing::warn!(error = %err, "PostgreSQL connection lost");
        return Error::Busy;
    }
    match err.as_db_error() {
        Some(db) => Error::Other(format!("{}: {}", db.code().code(), db.message())),
        None => Error::Other(err.to_string()),
    }
}

impl PgStore {
    /// Runs `job` in a transaction, again from the start after a retryable failure.
    fn run_write(&self, mut job: WriteJob) -> Result<(), Error> {
        let mut backoff = BACKOFF_FIRST;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.pool.with(|conn| {
                let mut tx = tx::Tx::begin(conn, self)?;
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut tx)));
                let ran = match ran {
                    Ok(ran) => ran,
                    Err(_) => Err(Error::Other("a write job panicked".into())),
                };
                match ran {
                    Ok(()) => {
                        tx.commit()?;
                        Ok(Ok(()))
                    }
                    Err(err) => {
                        let retry = tx.retryable_failure();
                        tx.rollback();
                        Ok(Err((err, retry)))
                    }
                }
            });
            let (err, retry) = match outcome {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(failed)) => failed,
                // Failures of BEGIN/COMMIT themselves: a conflict at commit is retryable; a
                // connection lost before the job ran means nothing was written, so retry too.
                Err(Error::Conflict(msg)) => (Error::Conflict(msg), true),
                Err(Error::Busy) => (Error::Busy, true),
                Err(err) => (err, false),
            };
            if !retry || attempt >= WRITE_ATTEMPTS_MAX {
                if retry && !matches!(err, Error::Busy) {
                    return Err(Error::Conflict(format!(
                        "la escritura chocó con otras {attempt} veces / write conflicted {attempt} times: {err}"
                    )));
                }
                return Err(err);
            }
            std::thread::sleep(jitter(backoff));
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

/// Between half and all of `base`, so retrying jobs do not collide again in step.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let half = base / 2;
    half + Duration::from_nanos(u64::from(nanos) % (half.as_nanos() as u64).max(1))
}

/// Resources one bulk job writes at most on PostgreSQL. Each claims an advisory lock until
/// COMMIT, and the lock table is shared by every session: `max_locks_per_transaction` (64 by
/// default) × `max_connections` entries. A 50,000-resource import batch failed with
/// `53200 out of shared memory`; 2,000 leaves room for every other session, and larger
/// batches gain nothing once each one's rows go out as a few multi-row inserts (`batch`).
const BULK_JOB_RESOURCES_MAX: usize = 2_000;

impl store::Store for PgStore {
    fn bulk_job_resources_max(&self) -> usize {
        BULK_JOB_RESOURCES_MAX
    }

    fn read(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        // `read::current` with statements prepared once per connection (the hot path).
        if !self.citus {
            // Off the async runtime as a whole: a read may wait for another's batch.
            return pool::off_runtime(|| self.read_coalesced(resource_type, id));
        }
        self.pool.with(|conn| {
            for _ in 0..3 {
                let locate = conn.prepare(read::LOCATE)?;
                let Some(located) = conn
                    .client
                    .query_opt(&locate, &[&resource_type, &id])
                    .map_err(sql_error)?
                else {
                    return Ok(None);
                };
                let (key, rkey): (String, i64) = (located.get(0), located.get(1));
                let current = conn.prepare(read::CURRENT)?;
                let row = conn
                    .client
                    .query_opt(&current, &[&key, &rkey])
                    .map_err(sql_error)?;
                // None: the resource moved compartment between the two reads; look again.
                if let Some(row) = row {
                    return Ok(Some(read::stored_from_row(&row)));
                }
            }
            Ok(None)
        })
    }

    fn vread(
        &self,
        resource_type: &str,
        id: &str,
        version_id: u64,
    ) -> Result<Option<StoredResource>, Error> {
        self.with_client(|client| read::version(client, resource_type, id, version_id))
    }

    fn history(&self, request: &HistoryRequest) -> Result<Vec<StoredResource>, Error> {
        self.with_client(|client| read::history(client, request))
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchPage, Error> {
        self.pool
            .with(|conn| query::search(&mut conn.client, Some(&mut conn.stmts), self, query))
    }

    fn includes(
        &self,
        query: &SearchQuery,
        sources: &[StoredResource],
        level: IncludeLevel,
    ) -> Result<Vec<StoredResource>, Error> {
        self.pool.with(|conn| {
            query::includes(
                &mut conn.client,
                Some(&mut conn.stmts),
                self,
                query,
                sources,
                level,
            )
        })
    }

    fn patient_compartment(
        &self,
        patient_id: &str,
        types: &[String],
        since_ms: Option<i64>,
    ) -> Result<Vec<StoredResource>, Error> {
        self.with_client(|client| {
            read::compartment(client, self.citus, patient_id, types, since_ms)
        })
    }

    fn write(&self, job: WriteJob) -> Result<(), Error> {
        self.run_write(job)
    }

    fn counts(&self) -> Result<Vec<(String, u64)>, Error> {
        self.with_client(read::counts)
    }

    fn value_counts(&self, resource_type: &str, param: &str) -> Result<Vec<(String, u64)>, Error> {
        self.with_client(|client| read::value_counts(client, resource_type, param))
    }

    fn account(&self, username: &str) -> Result<Option<Account>, Error> {
        self.with_client(|client| security::account(client, username))
    }

    fn accounts(&self) -> Result<Vec<Account>, Error> {
        self.with_client(security::accounts)
    }

    fn is_token_revoked(&self, token_id: &str) -> Result<bool, Error> {
        self.with_client(|client| security::is_token_revoked(client, token_id))
    }

    fn app(&self, client_id: &str) -> Result<Option<store::App>, Error> {
        self.with_client(|client| security::app(client, client_id))
    }

    fn apps(&self) -> Result<Vec<store::App>, Error> {
        self.with_client(security::apps)
    }

    fn break_glass_grants(
        &self,
        username: &str,
        now_ms: i64,
    ) -> Result<Vec<BreakGlassGrant>, Error> {
        self.with_client(|client| security::break_glass_grants(client, username, now_ms))
    }

    fn audit_search(&self, query: &AuditQuery) -> Result<Vec<SealedEntry>, Error> {
        self.with_client(|client| security::audit_search(client, query))
    }

    fn audit_scan(&self, after_seq: u64, limit: usize) -> Result<Vec<SealedEntry>, Error> {
        self.with_client(|client| security::audit_scan(client, after_seq, limit))
    }

    fn audit_lanes(&self) -> Result<auth::audit::Lanes, Error> {
        Ok(self.audit_lanes)
    }

    fn audit_scan_lane(
        &self,
        lane: auth::audit::Lane,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<SealedEntry>, Error> {
        self.with_client(|client| security::audit_scan_lane(client, lane, after_seq, limit))
    }

    fn notifications(&self) -> Option<&dyn store::notify::NotifyStore> {
        Some(self)
    }
}

#[cfg(test)]
mod tests;
