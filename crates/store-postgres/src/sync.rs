//! The PostgreSQL side of node-to-node sync, and the sequencer that keeps the feed in commit
//! order without a global counter on the write path.
//!
//! The problem: `change_seq` comes from a sequence, drawn when a version is written. With
//! concurrent writers the values become visible in commit order, not in drawing order: a
//! transaction holding 10 may commit after the one holding 11, so a reader that walked past
//! 11 with `WHERE seq > cursor` would never see 10.
//!
//! The technique: log positions are assigned after commit, by a sequencer.
//! - Every version written adds its `change_seq` to `sync_pending` in its own transaction, so
//!   the row becomes visible exactly when the version commits (never, if it rolls back).
//! - [`catch_up_log`](SyncTx::catch_up_log) runs the sequencer: under one advisory lock it
//!   takes the pending versions it can see (all committed), oldest `change_seq` first; a
//!   local version gets its stamp (the same hybrid-clock rule as on SQLite) and a log
//!   position, a received version (logged with its own stamp by the job that applied it) gets
//!   its position; then it removes them from `sync_pending` and commits.
//! - Positions are `max(pos) + 1` onwards under the lock, and each pass commits before the
//!   lock is released, so positions become visible in increasing order and all at once per
//!   pass: a reader walking positions (`pos > cursor`) never skips one. A version whose
//!   transaction commits late is simply sequenced by a later pass, with a later position.
//!   This needs no transaction-id horizon (which a long transaction anywhere in the cluster
//!   would hold back): only committed rows are ever visible to the sequencer.
//! - A resource's previous version committed before its next one was written (the resource
//!   lock, see `tx`), so it is always sequenced first and is there to be the parent.
//! - On this engine the `change_seq` of a [`LogEntry`] is therefore its log position, which is
//!   what sync's cursors walk; the version it names is found through the log (`versions`).
//!   On SQLite both numbers coincide.
//! - The sequencer runs on its own connection in its own short transaction, whichever job
//!   asks for it, so the asking job (a clinic's push) never holds the sequencer lock: writers
//!   never wait on it; only sequencer passes wait on each other.

use std::collections::{HashMap, HashSet};

use postgres::{GenericClient, Row};
use store::sync::{
    AuditAnchor, Conflict, FeedCandidate, LogEntry, LogKind, Refused, Stamp, SyncStore, SyncTx,
};
use store::{Error, StoredResource};

use crate::read::{RESOURCE_COLUMNS, VERSION_COLUMNS, stored_from_row};
use crate::sql::{Arg, Sql};
use crate::sql_error;
use crate::tx::Tx;

/// Columns of a log row, in the order [`entry_from_row`] reads them (the version's own
/// `change_seq` last).
const LOG_COLUMNS: &str = "l.pos, l.resource_type, l.id, l.hlc, l.origin, l.parent_hlc, l.parent_origin, l.kind, l.change_seq";

/// One log entry by `change_seq` (`$1`), with [`LOG_COLUMNS`].
const LOG_ENTRY: &str = "SELECT l.pos, l.resource_type, l.id, l.hlc, l.origin, l.parent_hlc, l.parent_origin, l.kind, l.change_seq \
     FROM sync_log l WHERE l.change_seq = $1";

/// A version by `change_seq` (`$1`), current or superseded, with its resource's type, id, rkey
/// and key (on Citus: every shard).
const VERSION_BY_SEQ: &str = "SELECT r.resource_type, r.id, r.rkey, r.version_id, r.last_updated_ms, r.patient_key \
     FROM resource r WHERE r.change_seq = $1 \
     UNION ALL \
     SELECT r.resource_type, r.id, r.rkey, v.version_id, v.last_updated_ms, r.patient_key \
     FROM resource_version v JOIN resource r ON r.patient_key = v.patient_key AND r.rkey = v.rkey \
     WHERE v.change_seq = $1";

/// [`VERSION_BY_SEQ`] on the resource's shard (`$2` its key, `$3` its rkey).
const VERSION_BY_SEQ_ROUTED: &str = "SELECT r.resource_type, r.id, r.rkey, r.version_id, r.last_updated_ms, r.patient_key \
     FROM resource r WHERE r.patient_key = $2 AND r.rkey = $3 AND r.change_seq = $1 \
     UNION ALL \
     SELECT r.resource_type, r.id, r.rkey, v.version_id, v.last_updated_ms, r.patient_key \
     FROM resource_version v JOIN resource r ON r.patient_key = v.patient_key AND r.rkey = v.rkey \
     WHERE v.patient_key = $2 AND v.rkey = $3 AND r.patient_key = $2 AND r.rkey = $3 AND v.change_seq = $1";

/// The advisory lock key of the sequencer.
const SEQUENCER_LOCK: &str = "sync-sequencer";

fn entry_from_row(row: &Row) -> LogEntry {
    let parent_hlc: Option<i64> = row.get(5);
    let parent_origin: Option<String> = row.get(6);
    LogEntry {
        change_seq: row.get::<_, Option<i64>>(0).unwrap_or(0),
        resource_type: row.get(1),
        id: row.get(2),
        stamp: Stamp {
            hlc: row.get(3),
            origin: row.get(4),
        },
        parent: match (parent_hlc, parent_origin) {
            (Some(hlc), Some(origin)) => Some(Stamp { hlc, origin }),
            _ => None,
        },
        kind: LogKind::from_code(i64::from(row.get::<_, i16>(7))),
    }
}

fn query_entries<C: GenericClient>(client: &mut C, sql: &Sql) -> Result<Vec<LogEntry>, Error> {
    Ok(crate::read::run(client, sql)?
        .iter()
        .map(entry_from_row)
        .collect())
}

/// The versions with these `change_seq`s, current or in history, by `change_seq` (one
/// query for the whole batch).
fn versions_by_seq<C: GenericClient>(
    client: &mut C,
    change_seqs: &[i64],
) -> Result<HashMap<i64, StoredResource>, Error> {
    if change_seqs.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT {RESOURCE_COLUMNS} FROM resource r WHERE r.change_seq = ANY($1) \
         UNION ALL \
         SELECT {VERSION_COLUMNS} FROM resource_version v \
         JOIN resource r ON r.patient_key = v.patient_key AND r.rkey = v.rkey \
         WHERE v.change_seq = ANY($1)"
    );
    let rows = client.query(&sql, &[&change_seqs]).map_err(sql_error)?;
    Ok(rows
        .iter()
        .map(|row| {
            let stored = stored_from_row(row);
            (stored.change_seq, stored)
        })
        .collect())
}

/// Log rows (selected with [`LOG_COLUMNS`]) with their versions.
fn entries_with_versions<C: GenericClient>(
    client: &mut C,
    sql: &Sql,
) -> Result<Vec<(LogEntry, StoredResource)>, Error> {
    let rows = crate::read::run(client, sql)?;
    let seqs: Vec<i64> = rows.iter().map(|row| row.get(8)).collect();
    let mut versions = versions_by_seq(client, &seqs)?;
    let mut out = Vec::with_capacity(rows.len());
    for (row, change_seq) in rows.iter().zip(seqs) {
        // A log row always has its version (both are written in one transaction); a missing
        // one would be a bug, and skipping it keeps sync going while the log says so.
        match versions.remove(&change_seq) {
            Some(version) => out.push((entry_from_row(row), version)),
            None => tracing::error!(change_seq, "sync log row without its version"),
        }
    }
    Ok(out)
}

/// The patients indexed for each of these log positions (one query).
fn patients_of_all<C: GenericClient>(
    client: &mut C,
    positions: &[i64],
) -> Result<HashMap<i64, Vec<String>>, Error> {
    let rows = client
        .query(
            "SELECT pos, patient_id FROM sync_patient WHERE pos = ANY($1) ORDER BY pos, patient_id",
            &[&positions],
        )
        .map_err(sql_error)?;
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for row in &rows {
        out.entry(row.get(0)).or_default().push(row.get(1));
    }
    Ok(out)
}

fn state<C: GenericClient>(client: &mut C, key: &str) -> Result<Option<String>, Error> {
    let row = client
        .query_opt("SELECT value FROM sync_state WHERE key = $1", &[&key])
        .map_err(sql_error)?;
    Ok(row.map(|row| row.get(0)))
}

fn log_seq_max<C: GenericClient>(client: &mut C) -> Result<i64, Error> {
    let row = client
        .query_one("SELECT coalesce(max(pos), 0)::bigint FROM sync_log", &[])
        .map_err(sql_error)?;
    Ok(row.get(0))
}

/// Committed versions waiting for the sequencer.
fn pending_count<C: GenericClient>(client: &mut C) -> Result<i64, Error> {
    let row = client
        .query_one("SELECT count(*) FROM sync_pending", &[])
        .map_err(sql_error)?;
    Ok(row.get(0))
}

fn patients_of<C: GenericClient>(client: &mut C, pos: i64) -> Result<Vec<String>, Error> {
    let rows = client
        .query(
            "SELECT patient_id FROM sync_patient WHERE pos = $1 ORDER BY patient_id",
            &[&pos],
        )
        .map_err(sql_error)?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// One sequencer pass (see the module docs) on `client`, in its own transaction. Returns how
/// many versions got a position.
fn sequence(
    client: &mut postgres::Client,
    rows_max: usize,
    origin: Option<String>,
) -> Result<usize, Error> {
    let mut tx = client.transaction().map_err(sql_error)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&SEQUENCER_LOCK],
    )
    .map_err(sql_error)?;
    let limit = i64::try_from(rows_max).unwrap_or(i64::MAX);
    let pending_rows = tx
        .query(
            "SELECT change_seq, patient_key, rkey FROM sync_pending ORDER BY change_seq LIMIT $1",
            &[&limit],
        )
        .map_err(sql_error)?;
    let pending: Vec<i64> = pending_rows.iter().map(|row| row.get(0)).collect();
    // Where each version was written (NULL for rows queued before migration 2).
    let written_at: HashMap<i64, (String, i64)> = pending_rows
        .iter()
        .filter_map(|row| {
            let key: Option<String> = row.get(1);
            let rkey: Option<i64> = row.get(2);
            Some((row.get(0), (key?, rkey?)))
        })
        .collect();
    if pending.is_empty() {
        tx.commit().map_err(sql_error)?;
        return Ok(0);
    }
    let next_pos = log_seq_max(&mut tx)? + 1;
    let mut last_hlc: i64 = tx
        .query_one("SELECT coalesce(max(hlc), 0)::bigint FROM sync_log", &[])
        .map_err(sql_error)?
        .get(0);
    let origin = origin.unwrap_or_default();
    // Positions in `change_seq` order. Received versions are already logged (by the job that
    // applied them): they only take their position, all in one statement.
    let positions: Vec<i64> = (0..pending.len() as i64).map(|n| next_pos + n).collect();
    let received: HashSet<i64> = tx
        .query(
            "UPDATE sync_log l SET pos = p.pos FROM unnest($1::bigint[], $2::bigint[]) AS p(cs, pos) \
             WHERE l.change_seq = p.cs RETURNING l.change_seq",
            &[&pending, &positions],
        )
        .map_err(sql_error)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for (change_seq, pos) in pending.iter().zip(&positions) {
        if received.contains(change_seq) {
            continue;
        }
        // A local version: stamp it now, by the clock rule of `sync::hlc::next`. Looked up on
        // the shard it was written to; on every shard if it is not there (the resource moved
        // to another patient since, or it was queued before migration 2).
        let routed = match written_at.get(change_seq) {
            Some((key, rkey)) => tx
                .query_opt(VERSION_BY_SEQ_ROUTED, &[change_seq, key, rkey])
                .map_err(sql_error)?,
            None => None,
        };
        let row = match routed {
            Some(row) => Some(row),
            None => tx
                .query_opt(VERSION_BY_SEQ, &[change_seq])
                .map_err(sql_error)?,
        };
        let Some(row) = row else {
            tracing::error!(change_seq, "pending version without its row");
            continue;
        };
        let resource_type: String = row.get(0);
        let id: String = row.get(1);
        let rkey: i64 = row.get(2);
        let version_id: i64 = row.get(3);
        let last_updated_ms: i64 = row.get(4);
        let key: String = row.get(5);
        // The previous version was written (and committed) before this one drew its
        // `change_seq`, so it was sequenced before (or just above, in this pass).
        let parent = if version_id > 1 {
            tx.query_opt(
                "SELECT l.hlc, l.origin FROM resource_version v JOIN sync_log l ON l.change_seq = v.change_seq \
                 WHERE v.patient_key = $1 AND v.rkey = $2 AND v.version_id = $3",
                &[&key, &rkey, &(version_id - 1)],
            )
            .map_err(sql_error)?
            .map(|row| (row.get::<_, i64>(0), row.get::<_, String>(1)))
        } else {
            None
        };
        let hlc = last_updated_ms
            .saturating_mul(1 << 16)
            .max(last_hlc.saturating_add(1));
        last_hlc = hlc;
        let (parent_hlc, parent_origin) = match parent {
            Some((hlc, origin)) => (Some(hlc), Some(origin)),
            None => (None, None),
        };
        tx.execute(
            "INSERT INTO sync_log(change_seq, pos, resource_type, id, hlc, origin, parent_hlc, parent_origin, kind) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)",
            &[
                change_seq,
                pos,
                &resource_type,
                &id,
                &hlc,
                &origin,
                &parent_hlc,
                &parent_origin,
            ],
        )
        .map_err(sql_error)?;
    }
    tx.execute(
        "DELETE FROM sync_pending WHERE change_seq = ANY($1)",
        &[&pending],
    )
    .map_err(sql_error)?;
    tx.commit().map_err(sql_error)?;
    Ok(pending.len())
}

impl crate::PgStore {
    /// Runs a sequencer pass on the sequencer's own connection (reconnecting if it broke).
    pub(crate) fn sequence(&self, rows_max: usize, origin: Option<String>) -> Result<usize, Error> {
        let mut slot = crate::lock(&self.sequencer);
        if slot.as_ref().is_none_or(postgres::Client::is_closed) {
            *slot = Some(self.pool.open_dedicated()?);
        }
        let Some(client) = slot.as_mut() else {
            return Err(Error::Other("no sequencer connection".into()));
        };
        let outcome = sequence(client, rows_max, origin);
        if client.is_closed() {
            *slot = None;
        }
        outcome
    }
}

fn conflict_from_row(row: &Row) -> Conflict {
    let fields: String = row.get(6);
    Conflict {
        resource_type: row.get(0),
        id: row.get(1),
        winner: Stamp {
            hlc: row.get(2),
            origin: row.get(3),
        },
        loser: Stamp {
            hlc: row.get(4),
            origin: row.get(5),
        },
        fields: fields
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        detected_ms: row.get(7),
        open: row.get(8),
    }
}

impl SyncTx for Tx<'_> {
    fn log_entry(&mut self, change_seq: i64) -> Result<Option<LogEntry>, Error> {
        if let Some(held) = self.held_log(change_seq) {
            return Ok(Some(held));
        }
        // Only log rows are read, and a held one was answered above.
        let row = self.query_opt_held(LOG_ENTRY, &[&change_seq])?;
        Ok(row.as_ref().map(entry_from_row))
    }

    fn stamp_known(&mut self, resource_type: &str, id: &str, stamp: &Stamp) -> Result<bool, Error> {
        self.stamp_logged(resource_type, id, stamp.hlc, &stamp.origin)
    }

    fn set_log_entry(&mut self, entry: &LogEntry) -> Result<(), Error> {
        // Held and sent with the version's other rows (an upsert by change_seq, see `batch`).
        self.hold_log(entry);
        Ok(())
    }

    fn catch_up_log(&mut self, rows_max: usize) -> Result<usize, Error> {
        // The node id as this job sees it (it may have just set it): local versions are
        // stamped with it, as on SQLite.
        let origin: Option<String> = self
            .query_opt("SELECT node_id FROM sync_self WHERE one = 1", &[])?
            .map(|row| row.get(0));
        self.store.sequence(rows_max, origin)
    }

    /// Local versions waiting are pending rows without a log row (received versions are
    /// logged by the job that applied them). Only committed rows are visible, as for the
    /// sequencer itself.
    fn local_versions_unstamped(&mut self) -> Result<bool, Error> {
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM sync_pending p \
                 WHERE NOT EXISTS (SELECT 1 FROM sync_log l WHERE l.change_seq = p.change_seq))",
                &[],
            )?
            .get(0))
    }

    fn positions_after_commit(&self) -> bool {
        true
    }

    fn prepare_versions(&mut self, versions: &[(&str, &str, &Stamp)]) -> Result<(), Error> {
        self.prepare(versions)
    }

    fn record_conflict(&mut self, conflict: &Conflict) -> Result<bool, Error> {
        let changed = self.exec(
            "INSERT INTO sync_conflict(resource_type, id, winner_hlc, winner_origin, loser_hlc, loser_origin, fields, detected_ms, open) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
            &[
                &conflict.resource_type,
                &conflict.id,
                &conflict.winner.hlc,
                &conflict.winner.origin,
                &conflict.loser.hlc,
                &conflict.loser.origin,
                &conflict.fields.join(","),
                &conflict.detected_ms,
                &conflict.open,
            ],
        )?;
        Ok(changed > 0)
    }

    fn state(&mut self, key: &str) -> Result<Option<String>, Error> {
        state(self.conn()?, key)
    }

    fn set_state(&mut self, key: &str, value: &str) -> Result<(), Error> {
        self.exec(
            "INSERT INTO sync_state(key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn set_node_id(&mut self, node_id: &str) -> Result<(), Error> {
        self.exec(
            "INSERT INTO sync_self(one, node_id) VALUES (1, $1) \
             ON CONFLICT (one) DO UPDATE SET node_id = EXCLUDED.node_id",
            &[&node_id],
        )?;
        self.exec(
            "UPDATE sync_log SET origin = $1 WHERE origin = ''",
            &[&node_id],
        )?;
        self.exec(
            "UPDATE sync_log SET parent_origin = $1 WHERE parent_origin = ''",
            &[&node_id],
        )?;
        Ok(())
    }

    fn enroll_node(
        &mut self,
        node_id: &str,
        token_sha256: &[u8],
        now_ms: i64,
    ) -> Result<(), Error> {
        self.exec(
            "INSERT INTO sync_node(node_id, token_sha256, enrolled_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (node_id) DO UPDATE SET token_sha256 = EXCLUDED.token_sha256, \
             enrolled_ms = EXCLUDED.enrolled_ms, revoked_ms = NULL",
            &[&node_id, &token_sha256, &now_ms],
        )?;
        Ok(())
    }

    fn follow(&mut self, node_id: &str, patient_id: &str, now_ms: i64) -> Result<(), Error> {
        self.hold_follow(node_id, patient_id, now_ms);
        Ok(())
    }

    fn log_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(LogEntry, StoredResource)>, Error> {
        let mut sql = Sql::new();
        sql.push(&format!(
            "SELECT {LOG_COLUMNS} FROM sync_log l WHERE l.pos > "
        ));
        sql.arg(Arg::Int(after_seq));
        sql.push(" ORDER BY l.pos LIMIT ");
        sql.arg(Arg::Int(limit as i64));
        entries_with_versions(self.conn()?, &sql)
    }

    fn patients_before(
        &mut self,
        resource_type: &str,
        id: &str,
        before_seq: i64,
    ) -> Result<Vec<String>, Error> {
        let row = self.conn()?.query_one(
            "SELECT max(pos) FROM sync_log WHERE resource_type = $1 AND id = $2 AND pos < $3",
            &[&resource_type, &id, &before_seq],
        );
        let previous: Option<i64> = self.check(row)?.get(0);
        match previous {
            Some(pos) => patients_of(self.conn()?, pos),
            None => Ok(Vec::new()),
        }
    }

    fn index_patients(&mut self, change_seq: i64, patients: &[String]) -> Result<(), Error> {
        for patient in patients {
            self.hold_patient(change_seq, patient);
        }
        Ok(())
    }

    fn record_refused(&mut self, refused: &Refused) -> Result<bool, Error> {
        let changed = self.exec(
            "INSERT INTO sync_refused(resource_type, id, hlc, origin, reason_es, reason_en, refused_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &refused.resource_type,
                &refused.id,
                &refused.stamp.hlc,
                &refused.stamp.origin,
                &refused.reason_es,
                &refused.reason_en,
                &refused.refused_ms,
            ],
        )?;
        Ok(changed > 0)
    }

    fn revoke_node(&mut self, node_id: &str, now_ms: i64) -> Result<bool, Error> {
        // The digest is blanked too: a revoked credential matches nothing even if a reader
        // forgot the `revoked_ms` filter.
        let changed = self.exec(
            "UPDATE sync_node SET revoked_ms = coalesce(revoked_ms, $2), token_sha256 = '\\x'::bytea WHERE node_id = $1",
            &[&node_id, &now_ms],
        )?;
        Ok(changed > 0)
    }

    fn rotate_node(
        &mut self,
        node_id: &str,
        token_sha256: &[u8],
        now_ms: i64,
    ) -> Result<bool, Error> {
        let changed = self.exec(
            "UPDATE sync_node SET token_sha256 = $2, enrolled_ms = $3, revoked_ms = NULL WHERE node_id = $1",
            &[&node_id, &token_sha256, &now_ms],
        )?;
        Ok(changed > 0)
    }

    fn record_anchor(&mut self, anchor: &AuditAnchor) -> Result<bool, Error> {
        let changed = self.exec(
            "INSERT INTO audit_anchor(node_id, seq, hash, at_ms, public_key, signature, received_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            &[
                &anchor.node_id,
                &i64::try_from(anchor.seq).unwrap_or(i64::MAX),
                &anchor.hash,
                &anchor.at_ms,
                &anchor.public_key,
                &anchor.signature,
                &anchor.received_ms,
            ],
        )?;
        Ok(changed > 0)
    }
}

impl SyncStore for crate::PgStore {
    fn node_id(&self) -> Result<Option<String>, Error> {
        self.with_client(|client| {
            let row = client
                .query_opt("SELECT node_id FROM sync_self WHERE one = 1", &[])
                .map_err(sql_error)?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn state(&self, key: &str) -> Result<Option<String>, Error> {
        self.with_client(|client| state(client, key))
    }

    fn log_seq_max(&self) -> Result<i64, Error> {
        self.with_client(log_seq_max)
    }

    /// The position the log reaches once the committed versions are sequenced.
    fn change_seq_max(&self) -> Result<i64, Error> {
        self.with_client(|client| {
            let mut tx = client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(sql_error)?;
            let max = log_seq_max(&mut tx)? + pending_count(&mut tx)?;
            tx.commit().map_err(sql_error)?;
            Ok(max)
        })
    }

    fn outbox(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(LogEntry, StoredResource)>, Error> {
        let mut sql = Sql::new();
        sql.push(&format!(
            "SELECT {LOG_COLUMNS} FROM sync_log l WHERE l.kind = 0 AND l.pos > "
        ));
        sql.arg(Arg::Int(after_seq));
        sql.push(" ORDER BY l.pos LIMIT ");
        sql.arg(Arg::Int(limit as i64));
        self.with_client(|client| entries_with_versions(client, &sql))
    }

    fn outbox_pending(&self, after_seq: i64) -> Result<(u64, Option<i64>), Error> {
        self.with_client(|client| {
            // Local versions logged after the cursor, and versions not sequenced yet that no
            // job logged as received (so they are local).
            let row = client
                .query_one(
                    "WITH waiting AS ( \
                       SELECT change_seq FROM sync_log WHERE kind = 0 AND pos > $1 \
                       UNION ALL \
                       SELECT p.change_seq FROM sync_pending p \
                       WHERE NOT EXISTS (SELECT 1 FROM sync_log l WHERE l.change_seq = p.change_seq)) \
                     SELECT (SELECT count(*) FROM waiting), \
                       (SELECT min(ms) FROM ( \
                          SELECT r.last_updated_ms AS ms FROM resource r WHERE r.change_seq IN (SELECT change_seq FROM waiting) \
                          UNION ALL \
                          SELECT v.last_updated_ms FROM resource_version v WHERE v.change_seq IN (SELECT change_seq FROM waiting)) m)",
                    &[&after_seq],
                )
                .map_err(sql_error)?;
            let count: i64 = row.get(0);
            Ok((count.max(0) as u64, row.get(1)))
        })
    }

    fn feed_candidates(
        &self,
        after_seq: i64,
        upto_seq: i64,
        limit: usize,
    ) -> Result<Vec<FeedCandidate>, Error> {
        let mut sql = Sql::new();
        sql.push(&format!(
            "SELECT {LOG_COLUMNS} FROM sync_log l WHERE l.pos > "
        ));
        sql.arg(Arg::Int(after_seq));
        sql.push(" AND l.pos <= ");
        sql.arg(Arg::Int(upto_seq));
        sql.push(" ORDER BY l.pos LIMIT ");
        sql.arg(Arg::Int(limit as i64));
        self.with_client(|client| {
            let entries = query_entries(client, &sql)?;
            let positions: Vec<i64> = entries.iter().map(|e| e.change_seq).collect();
            let mut patients = patients_of_all(client, &positions)?;
            Ok(entries
                .into_iter()
                .map(|entry| FeedCandidate {
                    patients: patients.remove(&entry.change_seq).unwrap_or_default(),
                    entry,
                })
                .collect())
        })
    }

    fn feed(
        &self,
        node_id: &str,
        after_seq: i64,
        upto_seq: i64,
        reference_types: &[&str],
        limit: usize,
    ) -> Result<Vec<LogEntry>, Error> {
        let types: Vec<String> = reference_types.iter().map(|t| t.to_string()).collect();
        let limit = limit as i64;
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM sync_log l WHERE l.pos IN ( \
               SELECT p.pos FROM sync_follow f \
               JOIN sync_patient p ON p.patient_id = f.patient_id AND p.pos > $2 AND p.pos <= $3 \
               WHERE f.node_id = $1 \
               UNION \
               SELECT t.pos FROM sync_log t WHERE t.resource_type = ANY($5) AND t.pos > $2 AND t.pos <= $3) \
             AND l.kind <> 2 AND l.origin <> $1 ORDER BY l.pos LIMIT $4"
        );
        self.with_client(|client| {
            let rows = client
                .query(&sql, &[&node_id, &after_seq, &upto_seq, &limit, &types])
                .map_err(sql_error)?;
            Ok(rows.iter().map(entry_from_row).collect())
        })
    }

    fn versions(&self, change_seqs: &[i64]) -> Result<Vec<StoredResource>, Error> {
        self.with_client(|client| {
            let rows = client
                .query(
                    "SELECT pos, change_seq FROM sync_log WHERE pos = ANY($1)",
                    &[&change_seqs],
                )
                .map_err(sql_error)?;
            let by_pos: HashMap<i64, i64> =
                rows.iter().map(|row| (row.get(0), row.get(1))).collect();
            let seqs: Vec<i64> = by_pos.values().copied().collect();
            let versions = versions_by_seq(client, &seqs)?;
            change_seqs
                .iter()
                .map(|pos| {
                    // Versions are never removed, so a missing one is a corrupt log, not a race.
                    by_pos
                        .get(pos)
                        .and_then(|seq| versions.get(seq).cloned())
                        .ok_or_else(|| {
                            Error::Other(format!(
                                "the sync log names position {pos}, which has no version"
                            ))
                        })
                })
                .collect()
        })
    }

    fn patient_log(&self, patient_id: &str, limit: usize) -> Result<Vec<LogEntry>, Error> {
        let mut sql = Sql::new();
        sql.push(&format!(
            "SELECT {LOG_COLUMNS} FROM sync_patient p JOIN sync_log l ON l.pos = p.pos WHERE p.patient_id = "
        ));
        sql.arg(Arg::Text(patient_id.to_string()));
        sql.push(" ORDER BY p.pos LIMIT ");
        sql.arg(Arg::Int(limit as i64));
        self.with_client(|client| query_entries(client, &sql))
    }

    fn followed(&self, node_id: &str) -> Result<HashSet<String>, Error> {
        self.with_client(|client| {
            let rows = client
                .query(
                    "SELECT patient_id FROM sync_follow WHERE node_id = $1",
                    &[&node_id],
                )
                .map_err(sql_error)?;
            Ok(rows.iter().map(|row| row.get(0)).collect())
        })
    }

    fn nodes(&self) -> Result<Vec<(String, Vec<u8>)>, Error> {
        self.with_client(|client| {
            let rows = client
                .query(
                    "SELECT node_id, token_sha256 FROM sync_node WHERE revoked_ms IS NULL ORDER BY node_id COLLATE \"C\"",
                    &[],
                )
                .map_err(sql_error)?;
            Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
        })
    }

    fn refused(&self, limit: usize) -> Result<Vec<Refused>, Error> {
        let limit = limit as i64;
        self.with_client(|client| {
            let rows = client
                .query(
                    "SELECT resource_type, id, hlc, origin, reason_es, reason_en, refused_ms \
                     FROM sync_refused ORDER BY rid DESC LIMIT $1",
                    &[&limit],
                )
                .map_err(sql_error)?;
            Ok(rows
                .iter()
                .map(|row| Refused {
                    resource_type: row.get(0),
                    id: row.get(1),
                    stamp: Stamp {
                        hlc: row.get(2),
                        origin: row.get(3),
                    },
                    reason_es: row.get(4),
                    reason_en: row.get(5),
                    refused_ms: row.get(6),
                })
                .collect())
        })
    }

    fn refused_count(&self) -> Result<u64, Error> {
        self.with_client(|client| {
            let row = client
                .query_one("SELECT count(*) FROM sync_refused", &[])
                .map_err(sql_error)?;
            Ok(row.get::<_, i64>(0).max(0) as u64)
        })
    }

    fn anchors(
        &self,
        node_id: &str,
        after_position: u64,
        limit: usize,
    ) -> Result<Vec<AuditAnchor>, Error> {
        let after = i64::try_from(after_position).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_client(|client| {
            let rows = client
                .query(
                    "SELECT aid, node_id, seq, hash, at_ms, public_key, signature, received_ms \
                     FROM audit_anchor WHERE node_id = $1 AND aid > $2 ORDER BY aid LIMIT $3",
                    &[&node_id, &after, &limit],
                )
                .map_err(sql_error)?;
            Ok(rows
                .iter()
                .map(|row| AuditAnchor {
                    position: row.get::<_, i64>(0).max(0) as u64,
                    node_id: row.get(1),
                    seq: row.get::<_, i64>(2).max(0) as u64,
                    hash: row.get(3),
                    at_ms: row.get(4),
                    public_key: row.get(5),
                    signature: row.get(6),
                    received_ms: row.get(7),
                })
                .collect())
        })
    }

    fn conflicts(&self, limit: usize) -> Result<Vec<Conflict>, Error> {
        let limit = limit as i64;
        self.with_client(|client| {
            let rows = client
                .query(
                    "SELECT resource_type, id, winner_hlc, winner_origin, loser_hlc, loser_origin, fields, detected_ms, open \
                     FROM sync_conflict ORDER BY cid DESC LIMIT $1",
                    &[&limit],
                )
                .map_err(sql_error)?;
            Ok(rows.iter().map(conflict_from_row).collect())
        })
    }

    fn conflicts_open(&self) -> Result<u64, Error> {
        self.with_client(|client| {
            let row = client
                .query_one("SELECT count(*) FROM sync_conflict WHERE open", &[])
                .map_err(sql_error)?;
            Ok(row.get::<_, i64>(0).max(0) as u64)
        })
    }
}
