//! The embedded store of a clinic node: one SQLite file in WAL mode.
//!
//! Key decisions:
//! - Durability: `synchronous=FULL` in WAL mode, so a commit is on disk (WAL fsynced) before it
//!   is acknowledged; an acknowledged write survives `kill -9` and power loss.
//! - One writer thread owns the only write connection and commits jobs in groups: one fsync
//!   covers many concurrent writers, each job in its own SAVEPOINT so one failing job never
//!   takes its neighbours down. A job is acknowledged only after the group's COMMIT.
//! - Readers take connections from a small pool; WAL lets them run beside the writer.
//! - All dialect-specific SQL of the embedded backend lives in this crate (`schema`, `query`).

mod backup;
mod files;
mod notify;
mod query;
mod read;
mod readers;
mod schema;
mod security;
mod sync;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};
use store::{
    Account, AuditQuery, BreakGlassGrant, Error, HistoryRequest, IncludeLevel, SealedEntry,
    SearchPage, SearchQuery, StoredResource, WriteJob,
};

pub use backup::{check_file, restore_into};
pub use schema::schema_version_latest;

/// The database file inside a node's data directory.
pub const DB_FILE_NAME: &str = "expediente.db";

/// How long a connection waits for another process's write lock (e.g. an `import` running
/// beside `serve`) before giving up with `Busy`. Long enough for an import batch to commit.
const BUSY_TIMEOUT_MS: u64 = 30_000;

/// Page cache per read connection, in KiB (SQLite's negative `cache_size`). The OS page cache
/// holds the rest of the file; keeping ours small keeps the node's RSS low.
const READ_CACHE_KIB: i64 = 4_096;

/// Page cache of the write connection while serving, in KiB. Clinical writes are small; the
/// OS page cache holds the rest.
const WRITE_CACHE_KIB_DEFAULT: i64 = 16_384;

/// Page cache of the write connection for bulk loads, in KiB: index b-trees are updated at
/// random during imports, and cache misses there dominate the write cost.
pub const WRITE_CACHE_KIB_BULK: i64 = 524_288;

/// Memory map of the database for bulk loads: 8 GiB covers the file of a few million
/// resources; beyond it SQLite reads pages the ordinary way.
pub const WRITE_MMAP_BYTES_BULK: i64 = 8 << 30;

/// WAL size (in 4 KiB pages) that triggers a checkpoint. Larger than SQLite's 1,000 so that
/// index pages changed by many commits are copied back to the database once, not once per
/// few commits; 16,384 pages (64 MiB) bounds the WAL file and the time of one checkpoint.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 16_384;

/// The same for bulk loads (256 MiB of WAL): an import rewrites the same index pages over and
/// over, and each checkpoint copies every page changed since the last one.
const WAL_AUTOCHECKPOINT_PAGES_BULK: i64 = 65_536;

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<writer::Request>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    readers: readers::ReadPool,
}

/// Options for opening a store.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Fsync every commit (FULL). Turning this off is only for throwaway benchmark baselines.
    pub durable: bool,
    /// Page cache of the write connection, in KiB.
    pub write_cache_kib: i64,
    /// Bytes of the database file the write connection maps into memory (0: none). For bulk
    /// loads: index pages are then read without a system call and a copy each, which is most
    /// of a large import's cache misses. Not for `serve`: mapped pages count in its RSS.
    pub write_mmap_bytes: i64,
    /// WAL size, in pages, that triggers a checkpoint.
    pub wal_autocheckpoint_pages: i64,
}

impl OpenOptions {
    /// The options for bulk loads (`expediente import`, the demo, benchmarks): a large writer
    /// page cache and a memory map of the file.
    pub fn bulk() -> OpenOptions {
        OpenOptions {
            write_cache_kib: WRITE_CACHE_KIB_BULK,
            write_mmap_bytes: WRITE_MMAP_BYTES_BULK,
            wal_autocheckpoint_pages: WAL_AUTOCHECKPOINT_PAGES_BULK,
            ..OpenOptions::default()
        }
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            durable: true,
            write_cache_kib: WRITE_CACHE_KIB_DEFAULT,
            write_mmap_bytes: 0,
            wal_autocheckpoint_pages: WAL_AUTOCHECKPOINT_PAGES,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir`, migrating the schema.
    pub fn open(data_dir: &Path) -> Result<Arc<SqliteStore>, Error> {
        SqliteStore::open_with(data_dir, &OpenOptions::default())
    }

    pub fn open_with(data_dir: &Path, options: &OpenOptions) -> Result<Arc<SqliteStore>, Error> {
        files::create_private_dir(data_dir).map_err(|err| {
            Error::Other(format!(
                "cannot create data directory {}: {err}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(DB_FILE_NAME);
        files::make_db_files_private(&path).map_err(|err| {
            Error::Other(format!(
                "cannot make {} readable by its owner only: {err}",
                path.display()
            ))
        })?;
        let mut conn = open_connection(&path, false, options)?;
        schema::migrate(&mut conn)
            .map_err(sql_error)?
            .map_err(Error::Other)?;
        let (sender, receiver) = mpsc::channel();
        let generation = Arc::new(readers::WriteGeneration::default());
        let readers = readers::ReadPool::new(path.clone(), generation.clone());
        let checkpoints = writer::Checkpoints {
            wal_pages_max: options.wal_autocheckpoint_pages,
            idle_snapshots: readers.idle_snapshots(),
        };
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::run(conn, receiver, &generation, checkpoints))
            .map_err(|err| Error::Other(format!("cannot start the writer thread: {err}")))?;
        Ok(Arc::new(SqliteStore {
            writer: Mutex::new(Some(sender)),
            writer_thread: Mutex::new(Some(thread)),
            readers,
            path,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with a pooled read connection (see `readers` for the snapshot it may reuse).
    fn with_reader<R>(&self, f: impl FnOnce(&Connection) -> Result<R, Error>) -> Result<R, Error> {
        self.readers.with_reader(f)
    }

    /// Hands a job to the single writer and waits until it is durable or rolled back.
    fn submit(&self, job: writer::Job) -> Result<(), Error> {
        let (done, result) = mpsc::sync_channel(1);
        {
            let writer = lock(&self.writer);
            let Some(sender) = writer.as_ref() else {
                return Err(Error::Other("the store is closed".into()));
            };
            sender
                .send(writer::Request { job, done })
                .map_err(|_| Error::Other("the writer thread has stopped".into()))?;
        }
        result
            .recv()
            .map_err(|_| Error::Other("the writer thread stopped before answering".into()))?
    }

    /// Runs `job` on the write connection inside the writer's transaction, returning its value.
    pub(crate) fn write_conn<R, F>(&self, mut job: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnMut(&Connection) -> Result<R, Error> + Send + 'static,
    {
        let slot: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
        let out = slot.clone();
        self.submit(writer::Job::Conn(Box::new(move |conn| {
            let value = job(conn)?;
            *lock(&out) = Some(value);
            Ok(())
        })))?;
        let value = lock(&slot).take();
        value.ok_or_else(|| Error::Other("write job finished without a result".into()))
    }

    /// Stops the writer after the jobs already queued, waiting for it.
    pub fn close(&self) {
        self.readers.close();
        lock(&self.writer).take();
        if let Some(handle) = lock(&self.writer_thread).take() {
            let _ = handle.join();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Locks a mutex, recovering the data if another thread panicked while holding it: the
/// protected values (a pool, a sender) stay valid whatever that thread was doing.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn open_connection(
    path: &Path,
    read_only: bool,
    options: &OpenOptions,
) -> Result<Connection, Error> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(sql_error)?;
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(sql_error)?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_error)?;
        conn.pragma_update(None, "wal_autocheckpoint", options.wal_autocheckpoint_pages)
            .map_err(sql_error)?;
        if options.write_mmap_bytes > 0 {
            conn.pragma_update(None, "mmap_size", options.write_mmap_bytes)
                .map_err(sql_error)?;
        }
    }
    let synchronous = if options.durable { "FULL" } else { "OFF" };
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(sql_error)?;
    let cache_kib = if read_only {
        READ_CACHE_KIB
    } else {
        options.write_cache_kib
    };
    conn.pragma_update(None, "cache_size", -cache_kib)
        .map_err(sql_error)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sql_error)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

pub(crate) fn sql_error(err: rusqlite::Error) -> Error {
    match err {
        rusqlite::Error::SqliteFailure(code, _)
            if code.code == rusqlite::ErrorCode::DatabaseBusy
                || code.code == rusqlite::ErrorCode::DatabaseLocked =>
        {
            Error::Busy
        }
        other => Error::Other(other.to_string()),
    }
}

impl store::Store for SqliteStore {
    fn read(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        self.with_reader(|conn| read::current(conn, resource_type, id))
    }

    fn vread(
        &self,
        resource_type: &str,
        id: &str,
        version_id: u64,
    ) -> Result<Option<StoredResource>, Error> {
        self.with_reader(|conn| read::version(conn, resource_type, id, version_id))
    }

    fn history(&self, request: &HistoryRequest) -> Result<Vec<StoredResource>, Error> {
        self.with_reader(|conn| read::history(conn, request))
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchPage, Error> {
        self.with_reader(|conn| query::search(conn, query))
    }

    fn includes(
        &self,
        query: &SearchQuery,
        sources: &[StoredResource],
        level: IncludeLevel,
    ) -> Result<Vec<StoredResource>, Error> {
        self.with_reader(|conn| query::includes(conn, query, sources, level))
    }

    fn patient_compartment(
        &self,
        patient_id: &str,
        types: &[String],
        since_ms: Option<i64>,
    ) -> Result<Vec<StoredResource>, Error> {
        self.with_reader(|conn| read::compartment(conn, patient_id, types, since_ms))
    }

    fn write(&self, job: WriteJob) -> Result<(), Error> {
        self.submit(writer::Job::Tx(job))
    }

    fn counts(&self) -> Result<Vec<(String, u64)>, Error> {
        self.with_reader(read::counts)
    }

    fn value_counts(&self, resource_type: &str, param: &str) -> Result<Vec<(String, u64)>, Error> {
        self.with_reader(|conn| read::value_counts(conn, resource_type, param))
    }

    fn account(&self, username: &str) -> Result<Option<Account>, Error> {
        self.with_reader(|conn| security::account(conn, username))
    }

    fn accounts(&self) -> Result<Vec<Account>, Error> {
        self.with_reader(security::accounts)
    }

    fn is_token_revoked(&self, token_id: &str) -> Result<bool, Error> {
        self.with_reader(|conn| security::is_token_revoked(conn, token_id))
    }

    fn app(&self, client_id: &str) -> Result<Option<store::App>, Error> {
        self.with_reader(|conn| security::app(conn, client_id))
    }

    fn apps(&self) -> Result<Vec<store::App>, Error> {
        self.with_reader(security::apps)
    }

    fn break_glass_grants(
        &self,
        username: &str,
        now_ms: i64,
    ) -> Result<Vec<BreakGlassGrant>, Error> {
        self.with_reader(|conn| security::break_glass_grants(conn, username, now_ms))
    }

    fn audit_search(&self, query: &AuditQuery) -> Result<Vec<SealedEntry>, Error> {
        self.with_reader(|conn| security::audit_search(conn, query))
    }

    fn notifications(&self) -> Option<&dyn store::notify::NotifyStore> {
        Some(self)
    }

    fn audit_scan(&self, after_seq: u64, limit: usize) -> Result<Vec<SealedEntry>, Error> {
        self.with_reader(|conn| security::audit_scan(conn, after_seq, limit))
    }
}

#[cfg(test)]
mod tests;
