//! The single writer: group commit of write jobs, and the write transaction they run in.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, mpsc};

use rusqlite::{Connection, OptionalExtension};
use search::IndexValue;
use store::{Error, PreparedVersion, SearchQuery, StoredResource, VersionInfo, WriteJob, WriteTx};

use crate::read;
use crate::readers::{IdleSnapshots, WriteGeneration};
use crate::sql_error;

/// Jobs committed together at most. Bounds the latency a job waits behind its group and the
/// size of one WAL commit; 64 single-resource writes commit in a few milliseconds.
const GROUP_JOBS_MAX: usize = 64;

pub(crate) struct Request {
    pub job: Job,
    pub done: mpsc::SyncSender<Result<(), Error>>,
}

/// What a request runs: a write job through the `WriteTx` contract, or one of this crate's own
/// statements on the write connection (the subscription delivery queue, `notify.rs`), which
/// is not part of the record's contract but must share the single writer.
pub(crate) enum Job {
    Tx(WriteJob),
    Conn(ConnJob),
}

/// A job on the write connection itself (see [`Job::Conn`]).
pub(crate) type ConnJob = Box<dyn FnMut(&Connection) -> Result<(), Error> + Send>;

/// Search-parameter ids, interned in `search_param`. Ids never change once assigned, so the
/// cache stays valid even when another process (an import) adds parameters; a miss just
/// looks in the table.
#[derive(Default)]
pub(crate) struct ParamIds {
    ids: HashMap<(String, String), i64>,
}

impl ParamIds {
    pub(crate) fn get_or_create(
        &mut self,
        conn: &Connection,
        resource_type: &str,
        code: &str,
    ) -> Result<i64, Error> {
        if let Some(pid) = self.ids.get(&(resource_type.to_string(), code.to_string())) {
            return Ok(*pid);
        }
        conn.prepare_cached(
            "INSERT INTO search_param(resource_type, code) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut stmt| stmt.execute((resource_type, code)))
        .map_err(sql_error)?;
        let pid = lookup_param(conn, resource_type, code)?
            .ok_or_else(|| Error::Other("search parameter id vanished".into()))?;
        self.ids
            .insert((resource_type.to_string(), code.to_string()), pid);
        Ok(pid)
    }
}

pub(crate) fn lookup_param(
    conn: &Connection,
    resource_type: &str,
    code: &str,
) -> Result<Option<i64>, Error> {
    conn.prepare_cached("SELECT pid FROM search_param WHERE resource_type = ?1 AND code = ?2")
        .and_then(|mut stmt| {
            stmt.query_row((resource_type, code), |row| row.get(0))
                .optional()
        })
        .map_err(sql_error)
}

/// When and how the writer checkpoints the WAL. SQLite's automatic checkpoint runs inside
/// COMMIT, while readers still hold snapshots from before it (see `readers`), so it could never
/// copy everything back and the WAL could not restart. The writer checkpoints after COMMIT
/// instead, once the idle connections have let their snapshots go.
pub(crate) struct Checkpoints {
    /// WAL size, in pages, from which the writer checkpoints after each commit.
    pub wal_pages_max: i64,
    pub idle_snapshots: IdleSnapshots,
}

/// The writer thread's loop: take one job, add whatever else is queued (up to the group
/// limit), run each in a savepoint, commit once, then answer every job.
pub(crate) fn run(
    mut conn: Connection,
    requests: mpsc::Receiver<Request>,
    generation: &WriteGeneration,
    checkpoints: Checkpoints,
) {
    // The hook replaces SQLite's automatic checkpoint; it only notes the WAL's size.
    let wal_pages = Arc::new(AtomicI64::new(0));
    let noted = wal_pages.clone();
    let hooked = conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
        noted.store(i64::from(pages), Ordering::Relaxed);
        Ok(())
    }));
    if let Err(err) = hooked {
        // SQLite's automatic checkpoint stays in place: slower to restart the WAL, still correct.
        tracing::warn!(error = %err, "cannot install the WAL hook");
    }
    let mut params = ParamIds::default();
    while let Ok(first) = requests.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_JOBS_MAX {
            match requests.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        commit_group(&conn, &mut params, group, generation);
        if wal_pages.load(Ordering::Relaxed) >= checkpoints.wal_pages_max {
            checkpoints.idle_snapshots.release();
            // PASSIVE never waits: it copies what no reader still needs, and the next commits
            // try again while the WAL stays large.
            if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %err, "WAL checkpoint failed");
            }
            wal_pages.store(0, Ordering::Relaxed);
        }
    }
}

fn commit_group(
    conn: &Connection,
    params: &mut ParamIds,
    group: Vec<Request>,
    generation: &WriteGeneration,
) {
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = sql_error(err);
        for request in group {
            let _ = request.done.send(Err(clone_error(&err)));
        }
        return;
    }
    let next_seq = match next_change_seq(conn) {
        Ok(seq) => seq,
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK");
            for request in group {
                let _ = request.done.send(Err(clone_error(&err)));
            }
            return;
        }
    };
    let mut tx = Tx {
        conn,
        params: &mut *params,
        next_seq,
    };
    let mut outcomes = Vec::with_capacity(group.len());
    for request in group {
        let outcome = run_job(&mut tx, request.job);
        outcomes.push((request.done, outcome));
    }
    let committed = conn.execute_batch("COMMIT").map_err(sql_error);
    if committed.is_ok() {
        // Before anyone is answered: their next read must not reuse an older snapshot.
        generation.bump();
    }
    if let Err(err) = &committed {
        let _ = conn.execute_batch("ROLLBACK");
        params.ids.clear();
        tracing::error!(error = %err, "commit failed; the whole group was rolled back");
    }
    for (done, outcome) in outcomes {
        let answer = match (&committed, outcome) {
            (Ok(()), outcome) => outcome,
            (Err(err), _) => Err(clone_error(err)),
        };
        let _ = done.send(answer);
    }
}

fn run_job(tx: &mut Tx<'_>, job: Job) -> Result<(), Error> {
    tx.conn.execute_batch("SAVEPOINT job").map_err(sql_error)?;
    let seq_before = tx.next_seq;
    let run = match job {
        Job::Tx(mut job) => catch_unwind(AssertUnwindSafe(|| job(tx))),
        Job::Conn(mut job) => catch_unwind(AssertUnwindSafe(|| job(tx.conn))),
    };
    let outcome = match run {
        Ok(outcome) => outcome,
        Err(_) => Err(Error::Other("a write job panicked".into())),
    };
    match outcome {
        Ok(()) => tx.conn.execute_batch("RELEASE job").map_err(sql_error),
        Err(err) => {
            tx.next_seq = seq_before;
            // Parameter ids interned by the rolled-back job are gone from the table.
            tx.params.ids.clear();
            tx.conn
                .execute_batch("ROLLBACK TO job; RELEASE job")
                .map_err(sql_error)?;
            Err(err)
        }
    }
}

/// Another process may have written since our last group, so the sequence is read from the
/// database under the write lock instead of being kept in memory.
fn next_change_seq(conn: &Connection) -> Result<i64, Error> {
    let max_current: Option<i64> = conn
        .query_row("SELECT max(change_seq) FROM resource", [], |row| row.get(0))
        .map_err(sql_error)?;
    let max_versions: Option<i64> = conn
        .query_row("SELECT max(change_seq) FROM resource_version", [], |row| {
            row.get(0)
        })
        .map_err(sql_error)?;
    Ok(max_current.unwrap_or(0).max(max_versions.unwrap_or(0)) + 1)
}

fn clone_error(err: &Error) -> Error {
    match err {
        Error::Busy => Error::Busy,
        other => Error::Other(other.to_string()),
    }
}

pub(crate) struct Tx<'a> {
    pub(crate) conn: &'a Connection,
    params: &'a mut ParamIds,
    next_seq: i64,
}

impl WriteTx for Tx<'_> {
    fn current(&mut self, resource_type: &str, id: &str) -> Result<Option<VersionInfo>, Error> {
        self.conn
            .prepare_cached(
                "SELECT version_id, last_updated_ms, deleted FROM resource WHERE resource_type = ?1 AND id = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row((resource_type, id), |row| {
                    Ok(VersionInfo {
                        version_id: row.get::<_, i64>(0)? as u64,
                        last_updated_ms: row.get(1)?,
                        deleted: row.get::<_, i64>(2)? != 0,
                    })
                })
                .optional()
            })
            .map_err(sql_error)
    }

    fn read(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        read::current(self.conn, resource_type, id)
    }

    fn search_ids(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<String>, Error> {
        crate::query::search_ids(self.conn, query, limit)
    }

    fn append_audit(&mut self, entry: store::AuditEntry) -> Result<u64, Error> {
        crate::security::append_audit(self.conn, entry)
    }

    fn append_audit_batch(&mut self, entries: Vec<store::AuditEntry>) -> Result<(), Error> {
        crate::security::append_audit_batch(self.conn, entries)
    }

    fn put_account(&mut self, account: &store::Account) -> Result<(), Error> {
        crate::security::put_account(self.conn, account)
    }

    fn account(&mut self, username: &str) -> Result<Option<store::Account>, Error> {
        crate::security::account(self.conn, username)
    }

    fn put_break_glass(&mut self, grant: &store::BreakGlassGrant) -> Result<(), Error> {
        crate::security::put_break_glass(self.conn, grant)
    }

    fn revoke_token(&mut self, token_id: &str, expires_ms: i64) -> Result<(), Error> {
        crate::security::revoke_token(self.conn, token_id, expires_ms)
    }

    fn put_app(&mut self, app: &store::App) -> Result<(), Error> {
        crate::security::put_app(self.conn, app)
    }

    fn delete_app(&mut self, client_id: &str) -> Result<bool, Error> {
        crate::security::delete_app(self.conn, client_id)
    }

    fn sync(&mut self) -> Option<&mut dyn store::sync::SyncTx> {
        Some(self)
    }

    fn put_prepared(&mut self, version: PreparedVersion) -> Result<StoredResource, Error> {
        let change_seq = self.next_seq;
        self.next_seq += 1;
        let body = version.body;
        // Version 1 can have no earlier row (ids are never reused after a delete: the
        // version number keeps counting), which spares imports a lookup per resource.
        let existing: Option<i64> = if version.version_id == 1 {
            None
        } else {
            self.conn
                .prepare_cached("SELECT rkey FROM resource WHERE resource_type = ?1 AND id = ?2")
                .and_then(|mut stmt| {
                    stmt.query_row((&version.resource_type, &version.id), |row| row.get(0))
                        .optional()
                })
                .map_err(sql_error)?
        };
        let deleted = i64::from(body.is_none());
        let rkey = match existing {
            Some(rkey) => {
                // Keep the superseded version, then clear its index rows (a range delete:
                // index tables are clustered by rkey).
                self.conn
                    .prepare_cached(
                        "INSERT INTO resource_version(rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, body) \
                         SELECT rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, body FROM resource WHERE rkey = ?1",
                    )
                    .and_then(|mut stmt| stmt.execute([rkey]))
                    .map_err(sql_error)?;
                for table in INDEX_TABLES {
                    self.conn
                        .prepare_cached(&format!("DELETE FROM {table} WHERE rkey = ?1"))
                        .and_then(|mut stmt| stmt.execute([rkey]))
                        .map_err(sql_error)?;
                }
                self.conn
                    .prepare_cached(
                        "UPDATE resource SET version_id = ?2, last_updated = ?3, last_updated_ms = ?4, deleted = ?5, change_seq = ?6, body = ?7 WHERE rkey = ?1",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute((
                            rkey,
                            version.version_id as i64,
                            &version.last_updated,
                            version.last_updated_ms,
                            deleted,
                            change_seq,
                            &body,
                        ))
                    })
                    .map_err(sql_error)?;
                rkey
            }
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO resource(resource_type, id, version_id, last_updated, last_updated_ms, deleted, change_seq, body) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute((
                            &version.resource_type,
                            &version.id,
                            version.version_id as i64,
                            &version.last_updated,
                            version.last_updated_ms,
                            deleted,
                            change_seq,
                            &body,
                        ))
                    })
                    .map_err(sql_error)?;
                self.conn.last_insert_rowid()
            }
        };
        if body.is_some() {
            insert_index_rows(
                self.conn,
                self.params,
                rkey,
                &version.resource_type,
                &version.index,
            )?;
        }
        debug_assert!(self.next_seq > change_seq);
        Ok(StoredResource {
            resource_type: version.resource_type,
            id: version.id,
            version_id: version.version_id,
            last_updated: version.last_updated,
            last_updated_ms: version.last_updated_ms,
            deleted: deleted != 0,
            change_seq,
            body: body.unwrap_or_default(),
        })
    }
}

const INDEX_TABLES: [&str; 7] = [
    "idx_token",
    "idx_string",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_reference",
    "idx_uri",
];

fn insert_index_rows(
    conn: &Connection,
    params: &mut ParamIds,
    rkey: i64,
    resource_type: &str,
    entries: &[search::IndexEntry],
) -> Result<(), Error> {
    for entry in entries {
        let pid = params.get_or_create(conn, resource_type, entry.param)?;
        let outcome = match &entry.value {
            IndexValue::Token { system, code, text } => conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO idx_token(rkey, pid, system, code, text) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut stmt| {
                    stmt.execute((rkey, pid, system.as_deref().unwrap_or(""), code, text))
                }),
            IndexValue::String { normalized, exact } => conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO idx_string(rkey, pid, normalized, exact) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut stmt| stmt.execute((rkey, pid, normalized, exact))),
            IndexValue::Date { low_ms, high_ms } => conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO idx_date(rkey, pid, low_ms, high_ms) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut stmt| stmt.execute((rkey, pid, low_ms, high_ms))),
            IndexValue::Number { low, high } => conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO idx_number(rkey, pid, low, high) VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut stmt| stmt.execute((rkey, pid, low, high))),
            IndexValue::Quantity {
                system,
                code,
                unit,
                low,
                high,
            } => conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO idx_quantity(rkey, pid, system, code, unit, low, high) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut stmt| {
                    stmt.execute((
                        rkey,
                        pid,
                        system.as_deref().unwrap_or(""),
                        code.as_deref().unwrap_or(""),
                        unit.as_deref().unwrap_or(""),
                        low,
                        high,
                    ))
                }),
            IndexValue::Reference {
                target_type,
                target_id,
                url,
                identifier,
            } => {
                let (id_system, id_value) = match identifier {
                    Some((system, value)) => (system.as_deref().unwrap_or(""), value.as_str()),
                    None => ("", ""),
                };
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO idx_reference(rkey, pid, target_type, target_id, url, id_system, id_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .and_then(|mut stmt| {
                    stmt.execute((
                        rkey,
                        pid,
                        target_type.as_deref().unwrap_or(""),
                        target_id.as_deref().unwrap_or(""),
                        url.as_deref().unwrap_or(""),
                        id_system,
                        id_value,
                    ))
                })
            }
            IndexValue::Uri { uri } => conn
                .prepare_cached("INSERT OR IGNORE INTO idx_uri(rkey, pid, uri) VALUES (?1, ?2, ?3)")
                .and_then(|mut stmt| stmt.execute((rkey, pid, uri))),
        };
        outcome.map_err(sql_error)?;
    }
    Ok(())
}
