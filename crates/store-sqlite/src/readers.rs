//! The pool of read connections, and the read transactions they keep open between uses.
//!
//! Why keep a read transaction open: in WAL mode every autocommit SELECT begins and ends a read
//! transaction — `fcntl` locks, SQLite's global file-lock mutex, and a look at the WAL index
//! that throws the connection's page cache away whenever anything was committed since. On a
//! read by id that was about a fifth of the server's CPU (BENCHMARKS.md). So a connection keeps
//! its snapshot for the next uses, but only while
//! - nothing has been committed by this process's writer since: the writer bumps the
//!   [`WriteGeneration`] after each COMMIT and before it answers, so whoever wrote through this
//!   node reads their own write on the very next read;
//! - it is younger than [`SNAPSHOT_MAX`]: commits by another process (an `expediente import` or
//!   `expediente user add` beside `serve`) become visible within that time;
//! - and, while the connection sits idle in the pool, the reaper thread ends it once it is
//!   older than [`SNAPSHOT_MAX`]: an idle node holds no snapshot, which would keep the WAL from
//!   being checkpointed and restarted.
//!
//! A checkpoint cannot copy back pages that a reader's snapshot still needs, so before each
//! checkpoint the writer ends the snapshots of idle connections ([`IdleSnapshots`]); busy ones
//! start a fresh snapshot on their next use, since the commit changed the generation.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use store::Error;

use crate::{OpenOptions, lock};

/// Read connections at most. Each holds its own page cache, so the pool is bounded to keep a
/// clinic node's memory small; more concurrent readers than this wait for a connection
/// rather than open new ones (on a 2-core PC more would only contend for the CPU).
const READ_POOL_MAX: usize = 8;

/// The oldest a kept snapshot may be: the longest another process's commit can stay unseen.
pub(crate) const SNAPSHOT_MAX: Duration = Duration::from_millis(5);

/// Counts the commits of this process's writer; readers compare it with the count their
/// snapshot began under.
#[derive(Default)]
pub(crate) struct WriteGeneration(AtomicU64);

impl WriteGeneration {
    /// Called by the writer after a COMMIT, before any writer is answered.
    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }

    fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// A read connection and the read transaction it holds open, if any.
struct ReadConn {
    conn: Connection,
    snapshot: Option<Snapshot>,
}

struct Snapshot {
    /// The writer's generation read before the transaction began: the snapshot includes at
    /// least every commit counted there.
    generation: u64,
    began: Instant,
}

impl ReadConn {
    /// Ends the read transaction, if one is open, releasing the snapshot.
    fn end_snapshot(&mut self) {
        self.snapshot = None;
        if !self.conn.is_autocommit() && self.conn.execute_batch("COMMIT").is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn snapshot_expired(&self, now: Instant) -> bool {
        self.snapshot
            .as_ref()
            .is_some_and(|s| now.duration_since(s.began) >= SNAPSHOT_MAX)
    }
}

#[derive(Default)]
struct PoolState {
    idle: Vec<ReadConn>,
    open: usize,
    /// Threads waiting for a connection (so returning one signals only when someone waits).
    waiting: usize,
    /// The reaper waits with no deadline because no idle connection holds a snapshot.
    reaper_parked: bool,
    closed: bool,
}

struct Shared {
    path: PathBuf,
    generation: Arc<WriteGeneration>,
    state: Mutex<PoolState>,
    returned: Condvar,
    reaper: Condvar,
}

pub(crate) struct ReadPool {
    shared: Arc<Shared>,
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf, generation: Arc<WriteGeneration>) -> ReadPool {
        let shared = Arc::new(Shared {
            path,
            generation,
            state: Mutex::new(PoolState::default()),
            returned: Condvar::new(),
            reaper: Condvar::new(),
        });
        let weak = Arc::downgrade(&shared);
        // Without the reaper, snapshots of idle connections would only end on their next use;
        // a failure to start it is not fatal, so it only costs a longer-lived snapshot.
        let _ = std::thread::Builder::new()
            .name("store-reaper".into())
            .spawn(move || reap(weak));
        ReadPool { shared }
    }

    /// Runs `f` with a pooled read connection, waiting for one if all are busy.
    pub(crate) fn with_reader<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let shared = &*self.shared;
        let taken = {
            let mut state = lock(&shared.state);
            loop {
                if let Some(conn) = state.idle.pop() {
                    break Some(conn);
                }
                if state.open < READ_POOL_MAX {
                    state.open += 1;
                    break None;
                }
                state.waiting += 1;
                state = shared
                    .returned
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                state.waiting -= 1;
            }
        };
        let mut reader = match taken {
            Some(reader) => reader,
            None => match crate::open_connection(&shared.path, true, &OpenOptions::default()) {
                Ok(conn) => ReadConn {
                    conn,
                    snapshot: None,
                },
                Err(err) => {
                    let mut state = lock(&shared.state);
                    state.open -= 1;
                    let someone_waits = state.waiting > 0;
                    drop(state);
                    if someone_waits {
                        shared.returned.notify_one();
                    }
                    return Err(err);
                }
            },
        };
        let generation = shared.generation.current();
        let stale = reader
            .snapshot
            .as_ref()
            .is_some_and(|s| s.generation != generation);
        if stale || reader.snapshot_expired(Instant::now()) {
            reader.end_snapshot();
        }
        if reader.snapshot.is_none() && reader.conn.is_autocommit() {
            // Deferred: the snapshot is taken by the first statement, after the generation
            // was read above, so it includes every commit that generation counts.
            if reader.conn.execute_batch("BEGIN").is_ok() {
                reader.snapshot = Some(Snapshot {
                    generation,
                    began: Instant::now(),
                });
            }
        }
        let result = f(&reader.conn);
        if result.is_err() {
            // Start the next use from a clean transaction state, whatever the error left.
            reader.end_snapshot();
        }
        let mut state = lock(&shared.state);
        let wake_reaper = reader.snapshot.is_some() && state.reaper_parked;
        if wake_reaper {
            state.reaper_parked = false;
        }
        let someone_waits = state.waiting > 0;
        state.idle.push(reader);
        drop(state);
        if someone_waits {
            shared.returned.notify_one();
        }
        if wake_reaper {
            shared.reaper.notify_one();
        }
        result
    }

    /// Ends every idle snapshot and stops the reaper.
    pub(crate) fn close(&self) {
        lock(&self.shared.state).closed = true;
        self.idle_snapshots().release();
        self.shared.reaper.notify_one();
    }
}

/// The writer's handle on the pool: ends idle connections' snapshots before a checkpoint.
#[derive(Clone)]
pub(crate) struct IdleSnapshots(Arc<Shared>);

impl IdleSnapshots {
    pub(crate) fn release(&self) {
        let mut state = lock(&self.0.state);
        for reader in &mut state.idle {
            reader.end_snapshot();
        }
    }
}

impl ReadPool {
    pub(crate) fn idle_snapshots(&self) -> IdleSnapshots {
        IdleSnapshots(self.shared.clone())
    }
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        self.close();
    }
}

/// The reaper's loop: sleeps until the oldest snapshot held by an idle connection expires,
/// ends the expired ones, and parks while no idle connection holds one.
fn reap(shared: Weak<Shared>) {
    loop {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut state = lock(&shared.state);
        if state.closed {
            return;
        }
        let now = Instant::now();
        for reader in &mut state.idle {
            if reader.snapshot_expired(now) {
                reader.end_snapshot();
            }
        }
        let oldest = state
            .idle
            .iter()
            .filter_map(|reader| reader.snapshot.as_ref().map(|s| s.began))
            .min();
        match oldest {
            None => {
                state.reaper_parked = true;
                let state = shared
                    .reaper
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                drop(state);
            }
            Some(began) => {
                let due = (began + SNAPSHOT_MAX).saturating_duration_since(now);
                let (state, _) = shared
                    .reaper
                    .wait_timeout(state, due)
                    .unwrap_or_else(PoisonError::into_inner);
                drop(state);
            }
        }
    }
}
