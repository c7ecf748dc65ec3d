//! The SQLite side of node-to-node sync: the sync log, cursors, enrolled nodes, followed
//! patients, the hub's feed index and conflicts.
//!
//! Key decision: the sync log is derived from the change log, lazily. Every version already
//! has a `change_seq`; [`SyncTx::catch_up_log`] stamps the versions after the last logged one,
//! in `change_seq` order, before sync reads the outbox or writes anything itself. So clinical
//! writes and bulk imports pay nothing for sync (triggers doubled import time), and no write
//! path can be missed. The stamp is the hybrid logical clock `max(last_updated_ms × 2^16,
//! greatest stamp logged before + 1)` (the rule of `sync::hlc::next`); versions received from
//! other nodes are logged with their own stamps as they are applied, so a local edit made after
//! receiving a version always stamps higher than it, whatever this PC's clock says. Stamping
//! later instead of at write time gives the same stamps: the rule only looks at earlier
//! `change_seq`s and at the version's own `last_updated_ms`.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, Row};
use store::Error;
use store::StoredResource;
use store::sync::{
    AuditAnchor, Conflict, FeedCandidate, LogEntry, LogKind, Refused, Stamp, SyncStore, SyncTx,
};

use crate::read::stored_from_row;
use crate::sql_error;
use crate::writer::Tx;

/// The sync migration (appended to `schema::MIGRATIONS`).
pub(crate) const MIGRATION_SYNC: &str = r#"
CREATE TABLE sync_self (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    node_id TEXT NOT NULL
);

CREATE TABLE sync_log (
    change_seq INTEGER PRIMARY KEY,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    hlc INTEGER NOT NULL,
    origin TEXT NOT NULL,
    parent_hlc INTEGER,
    parent_origin TEXT,
    kind INTEGER NOT NULL
);
CREATE INDEX sync_log_hlc ON sync_log(hlc);
CREATE INDEX sync_log_type ON sync_log(resource_type, change_seq);

CREATE TABLE sync_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sync_node (
    node_id TEXT PRIMARY KEY,
    token_sha256 BLOB NOT NULL,
    enrolled_ms INTEGER NOT NULL
);

CREATE TABLE sync_follow (
    node_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (node_id, patient_id)
) WITHOUT ROWID;

CREATE TABLE sync_patient (
    change_seq INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    PRIMARY KEY (change_seq, patient_id)
) WITHOUT ROWID;
CREATE INDEX sync_patient_patient ON sync_patient(patient_id, change_seq);

CREATE TABLE sync_conflict (
    cid INTEGER PRIMARY KEY,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    winner_hlc INTEGER NOT NULL,
    winner_origin TEXT NOT NULL,
    loser_hlc INTEGER NOT NULL,
    loser_origin TEXT NOT NULL,
    fields TEXT NOT NULL,
    detected_ms INTEGER NOT NULL,
    open INTEGER NOT NULL,
    UNIQUE (resource_type, id, loser_hlc, loser_origin)
);
"#;

/// Issue 12 (appended to `schema::MIGRATIONS` after [`MIGRATION_SYNC`]): revoked credentials,
/// refused versions and audit anchors. Anchors are append-only like the trail they anchor
/// (triggers refuse UPDATE and DELETE); `aid` keeps the order they were stored in, which is
/// what the hub compares to notice a chain that went backwards.
pub(crate) const MIGRATION_SYNC_TRUST: &str = r#"
ALTER TABLE sync_node ADD COLUMN revoked_ms INTEGER;

CREATE TABLE sync_refused (
    rid INTEGER PRIMARY KEY,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    hlc INTEGER NOT NULL,
    origin TEXT NOT NULL,
    reason_es TEXT NOT NULL,
    reason_en TEXT NOT NULL,
    refused_ms INTEGER NOT NULL,
    UNIQUE (resource_type, id, hlc, origin)
);

CREATE TABLE audit_anchor (
    aid INTEGER PRIMARY KEY,
    node_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    UNIQUE (node_id, seq, hash, at_ms)
);
CREATE INDEX audit_anchor_node ON audit_anchor(node_id, aid);
CREATE TRIGGER audit_anchor_no_update BEFORE UPDATE ON audit_anchor
BEGIN SELECT RAISE(ABORT, 'audit_anchor is append-only'); END;
CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE ON audit_anchor
BEGIN SELECT RAISE(ABORT, 'audit_anchor is append-only'); END;
"#;

const LOG_COLUMNS: &str =
    "l.change_seq, l.resource_type, l.id, l.hlc, l.origin, l.parent_hlc, l.parent_origin, l.kind";

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<LogEntry> {
    let parent_hlc: Option<i64> = row.get(5)?;
    let parent_origin: Option<String> = row.get(6)?;
    Ok(LogEntry {
        change_seq: row.get(0)?,
        resource_type: row.get(1)?,
        id: row.get(2)?,
        stamp: Stamp {
            hlc: row.get(3)?,
            origin: row.get(4)?,
        },
        parent: match (parent_hlc, parent_origin) {
            (Some(hlc), Some(origin)) => Some(Stamp { hlc, origin }),
            _ => None,
        },
        kind: LogKind::from_code(row.get(7)?),
    })
}

fn log_entry(conn: &Connection, change_seq: i64) -> Result<Option<LogEntry>, Error> {
    conn.prepare_cached(&format!(
        "SELECT {LOG_COLUMNS} FROM sync_log l WHERE l.change_seq = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([change_seq], entry_from_row).optional())
    .map_err(sql_error)
}

/// The version with this `change_seq`, current or in history.
fn version_by_seq(conn: &Connection, change_seq: i64) -> Result<Option<StoredResource>, Error> {
    conn.prepare_cached(
        "SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.last_updated_ms, r.deleted, r.change_seq, r.body \
         FROM resource r WHERE r.change_seq = ?1 \
         UNION ALL \
         SELECT r.resource_type, r.id, v.version_id, v.last_updated, v.last_updated_ms, v.deleted, v.change_seq, v.body \
         FROM resource_version v JOIN resource r ON r.rkey = v.rkey WHERE v.change_seq = ?1",
    )
    .and_then(|mut stmt| stmt.query_row([change_seq], stored_from_row).optional())
    .map_err(sql_error)
}

fn entries_with_versions(
    conn: &Connection,
    entries: Vec<LogEntry>,
) -> Result<Vec<(LogEntry, StoredResource)>, Error> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        // A log row always has its version (both are written in one transaction); a missing
        // one would be a bug, and skipping it keeps sync going while the log says so.
        match version_by_seq(conn, entry.change_seq)? {
            Some(version) => out.push((entry, version)),
            None => tracing::error!(
                change_seq = entry.change_seq,
                "sync log row without its version"
            ),
        }
    }
    Ok(out)
}

fn query_entries(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<LogEntry>, Error> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_map(params, entry_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql_error)
}

fn state(conn: &Connection, key: &str) -> Result<Option<String>, Error> {
    conn.prepare_cached("SELECT value FROM sync_state WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
        .map_err(sql_error)
}

fn log_seq_max(conn: &Connection) -> Result<i64, Error> {
    conn.query_row(
        "SELECT coalesce(max(change_seq), 0) FROM sync_log",
        [],
        |row| row.get(0),
    )
    .map_err(sql_error)
}

/// The highest `change_seq` of any version on this node.
fn change_seq_max(conn: &Connection) -> Result<i64, Error> {
    conn.query_row(
        "SELECT max(coalesce((SELECT max(change_seq) FROM resource), 0), \
                    coalesce((SELECT max(change_seq) FROM resource_version), 0))",
        [],
        |row| row.get(0),
    )
    .map_err(sql_error)
}

/// Versions not logged yet (all of them local: received ones are logged as they are applied).
fn unlogged_count(conn: &Connection) -> Result<u64, Error> {
    let after = log_seq_max(conn)?;
    conn.query_row(
        "SELECT (SELECT count(*) FROM resource WHERE change_seq > ?1) \
              + (SELECT count(*) FROM resource_version WHERE change_seq > ?1)",
        [after],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(sql_error)
}

/// Stamps up to `rows_max` versions after the last logged one, oldest first (see the module
/// docs). Returns how many were stamped.
fn catch_up_log(conn: &Connection, rows_max: usize) -> Result<usize, Error> {
    let after = log_seq_max(conn)?;
    let mut last_hlc: i64 = conn
        .query_row("SELECT coalesce(max(hlc), 0) FROM sync_log", [], |row| {
            row.get(0)
        })
        .map_err(sql_error)?;
    let origin: String = conn
        .query_row("SELECT node_id FROM sync_self WHERE one = 1", [], |row| {
            row.get(0)
        })
        .optional()
        .map_err(sql_error)?
        .unwrap_or_default();
    let rows: Vec<(i64, String, String, i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT cs, resource_type, id, rkey, version_id, last_updated_ms FROM ( \
             SELECT r.change_seq AS cs, r.resource_type, r.id, r.rkey, r.version_id, r.last_updated_ms \
             FROM resource r WHERE r.change_seq > ?1 \
             UNION ALL \
             SELECT v.change_seq, r.resource_type, r.id, r.rkey, v.version_id, v.last_updated_ms \
             FROM resource_version v JOIN resource r ON r.rkey = v.rkey WHERE v.change_seq > ?1) \
             ORDER BY cs LIMIT ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_map((after, rows_max as i64), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(sql_error)?;
    for (change_seq, resource_type, id, rkey, version_id, last_updated_ms) in &rows {
        // The previous version of the resource is in history under the previous number, and
        // was logged before this one (lower `change_seq`).
        let parent: Option<(i64, String)> = if *version_id > 1 {
            conn.prepare_cached(
                "SELECT l.hlc, l.origin FROM resource_version v JOIN sync_log l ON l.change_seq = v.change_seq \
                 WHERE v.rkey = ?1 AND v.version_id = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row((rkey, version_id - 1), |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(sql_error)?
        } else {
            None
        };
        // Saturating, as `sync::hlc::next`: a stamp at the end of `i64` must not wrap.
        let hlc = (last_updated_ms.saturating_mul(1 << 16)).max(last_hlc.saturating_add(1));
        last_hlc = hlc;
        let (parent_hlc, parent_origin) = match parent {
            Some((hlc, origin)) => (Some(hlc), Some(origin)),
            None => (None, None),
        };
        conn.prepare_cached(
            "INSERT INTO sync_log(change_seq, resource_type, id, hlc, origin, parent_hlc, parent_origin, kind) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
        )
        .and_then(|mut stmt| {
            stmt.execute((change_seq, resource_type, id, hlc, &origin, parent_hlc, &parent_origin))
        })
        .map_err(sql_error)?;
    }
    Ok(rows.len())
}

fn patients_of(conn: &Connection, change_seq: i64) -> Result<Vec<String>, Error> {
    conn.prepare_cached("SELECT patient_id FROM sync_patient WHERE change_seq = ?1")
        .and_then(|mut stmt| {
            stmt.query_map([change_seq], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(sql_error)
}

fn conflict_from_row(row: &Row<'_>) -> rusqlite::Result<Conflict> {
    let fields: String = row.get(6)?;
    Ok(Conflict {
        resource_type: row.get(0)?,
        id: row.get(1)?,
        winner: Stamp {
            hlc: row.get(2)?,
            origin: row.get(3)?,
        },
        loser: Stamp {
            hlc: row.get(4)?,
            origin: row.get(5)?,
        },
        fields: fields
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        detected_ms: row.get(7)?,
        open: row.get::<_, i64>(8)? != 0,
    })
}

impl SyncTx for Tx<'_> {
    fn log_entry(&mut self, change_seq: i64) -> Result<Option<LogEntry>, Error> {
        log_entry(self.conn, change_seq)
    }

    fn stamp_known(&mut self, resource_type: &str, id: &str, stamp: &Stamp) -> Result<bool, Error> {
        self.conn
            .prepare_cached(
                "SELECT 1 FROM sync_log WHERE hlc = ?3 AND origin = ?4 AND resource_type = ?1 AND id = ?2 LIMIT 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row((resource_type, id, stamp.hlc, &stamp.origin), |_| Ok(()))
                    .optional()
            })
            .map(|found| found.is_some())
            .map_err(sql_error)
    }

    fn set_log_entry(&mut self, entry: &LogEntry) -> Result<(), Error> {
        let (parent_hlc, parent_origin) = match &entry.parent {
            Some(parent) => (Some(parent.hlc), Some(parent.origin.as_str())),
            None => (None, None),
        };
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO sync_log(change_seq, resource_type, id, hlc, origin, parent_hlc, parent_origin, kind) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    entry.change_seq,
                    &entry.resource_type,
                    &entry.id,
                    entry.stamp.hlc,
                    &entry.stamp.origin,
                    parent_hlc,
                    parent_origin,
                    entry.kind.code(),
                ))
            })
            .map_err(sql_error)?;
        Ok(())
    }

    fn catch_up_log(&mut self, rows_max: usize) -> Result<usize, Error> {
        catch_up_log(self.conn, rows_max)
    }

    fn record_conflict(&mut self, conflict: &Conflict) -> Result<bool, Error> {
        let changed = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO sync_conflict(resource_type, id, winner_hlc, winner_origin, loser_hlc, loser_origin, fields, detected_ms, open) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    &conflict.resource_type,
                    &conflict.id,
                    conflict.winner.hlc,
                    &conflict.winner.origin,
                    conflict.loser.hlc,
                    &conflict.loser.origin,
                    conflict.fields.join(","),
                    conflict.detected_ms,
                    i64::from(conflict.open),
                ))
            })
            .map_err(sql_error)?;
        Ok(changed > 0)
    }

    fn state(&mut self, key: &str) -> Result<Option<String>, Error> {
        state(self.conn, key)
    }

    fn set_state(&mut self, key: &str, value: &str) -> Result<(), Error> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO sync_state(key, value) VALUES (?1, ?2)")
            .and_then(|mut stmt| stmt.execute((key, value)))
            .map_err(sql_error)?;
        Ok(())
    }

    fn set_node_id(&mut self, node_id: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO sync_self(one, node_id) VALUES (1, ?1)",
                [node_id],
            )
            .map_err(sql_error)?;
        self.conn
            .execute(
                "UPDATE sync_log SET origin = ?1 WHERE origin = ''",
                [node_id],
            )
            .map_err(sql_error)?;
        self.conn
            .execute(
                "UPDATE sync_log SET parent_origin = ?1 WHERE parent_origin = ''",
                [node_id],
            )
            .map_err(sql_error)?;
        Ok(())
    }

    fn enroll_node(
        &mut self,
        node_id: &str,
        token_sha256: &[u8],
        now_ms: i64,
    ) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO sync_node(node_id, token_sha256, enrolled_ms) VALUES (?1, ?2, ?3)",
                (node_id, token_sha256, now_ms),
            )
            .map_err(sql_error)?;
        Ok(())
    }

    fn follow(&mut self, node_id: &str, patient_id: &str, now_ms: i64) -> Result<(), Error> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO sync_follow(node_id, patient_id, since_ms) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut stmt| stmt.execute((node_id, patient_id, now_ms)))
            .map_err(sql_error)?;
        Ok(())
    }

    fn log_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(LogEntry, StoredResource)>, Error> {
        let entries = query_entries(
            self.conn,
            &format!(
                "SELECT {LOG_COLUMNS} FROM sync_log l WHERE l.change_seq > ?1 ORDER BY l.change_seq LIMIT ?2"
            ),
            (after_seq, limit as i64),
        )?;
        entries_with_versions(self.conn, entries)
    }

    fn patients_before(
        &mut self,
        resource_type: &str,
        id: &str,
        before_seq: i64,
    ) -> Result<Vec<String>, Error> {
        let previous: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT max(cs) FROM ( \
                 SELECT v.change_seq AS cs FROM resource r JOIN resource_version v ON v.rkey = r.rkey \
                 WHERE r.resource_type = ?1 AND r.id = ?2 AND v.change_seq < ?3 \
                 UNION ALL \
                 SELECT r.change_seq FROM resource r WHERE r.resource_type = ?1 AND r.id = ?2 AND r.change_seq < ?3)",
            )
            .and_then(|mut stmt| stmt.query_row((resource_type, id, before_seq), |row| row.get(0)))
            .map_err(sql_error)?;
        match previous {
            Some(seq) => patients_of(self.conn, seq),
            None => Ok(Vec::new()),
        }
    }

    fn index_patients(&mut self, change_seq: i64, patients: &[String]) -> Result<(), Error> {
        for patient in patients {
            self.conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO sync_patient(change_seq, patient_id) VALUES (?1, ?2)",
                )
                .and_then(|mut stmt| stmt.execute((change_seq, patient)))
                .map_err(sql_error)?;
        }
        Ok(())
    }

    fn record_refused(&mut self, refused: &Refused) -> Result<bool, Error> {
        let changed = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO sync_refused(resource_type, id, hlc, origin, reason_es, reason_en, refused_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    &refused.resource_type,
                    &refused.id,
                    refused.stamp.hlc,
                    &refused.stamp.origin,
                    &refused.reason_es,
                    &refused.reason_en,
                    refused.refused_ms,
                ))
            })
            .map_err(sql_error)?;
        Ok(changed > 0)
    }

    fn revoke_node(&mut self, node_id: &str, now_ms: i64) -> Result<bool, Error> {
        // The digest is blanked too: a revoked credential matches nothing even if a reader
        // forgot the `revoked_ms` filter.
        let changed = self
            .conn
            .execute(
                "UPDATE sync_node SET revoked_ms = coalesce(revoked_ms, ?2), token_sha256 = x'' WHERE node_id = ?1",
                (node_id, now_ms),
            )
            .map_err(sql_error)?;
        Ok(changed > 0)
    }

    fn rotate_node(
        &mut self,
        node_id: &str,
        token_sha256: &[u8],
        now_ms: i64,
    ) -> Result<bool, Error> {
        let changed = self
            .conn
            .execute(
                "UPDATE sync_node SET token_sha256 = ?2, enrolled_ms = ?3, revoked_ms = NULL WHERE node_id = ?1",
                (node_id, token_sha256, now_ms),
            )
            .map_err(sql_error)?;
        Ok(changed > 0)
    }

    fn record_anchor(&mut self, anchor: &AuditAnchor) -> Result<bool, Error> {
        let changed = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO audit_anchor(node_id, seq, hash, at_ms, public_key, signature, received_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    &anchor.node_id,
                    i64::try_from(anchor.seq).unwrap_or(i64::MAX),
                    &anchor.hash,
                    anchor.at_ms,
                    &anchor.public_key,
                    &anchor.signature,
                    anchor.received_ms,
                ))
            })
            .map_err(sql_error)?;
        Ok(changed > 0)
    }
}

impl SyncStore for crate::SqliteStore {
    fn node_id(&self) -> Result<Option<String>, Error> {
        self.with_reader(|conn| {
            conn.query_row("SELECT node_id FROM sync_self WHERE one = 1", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(sql_error)
        })
    }

    fn state(&self, key: &str) -> Result<Option<String>, Error> {
        self.with_reader(|conn| state(conn, key))
    }

    fn log_seq_max(&self) -> Result<i64, Error> {
        self.with_reader(log_seq_max)
    }

    fn change_seq_max(&self) -> Result<i64, Error> {
        self.with_reader(change_seq_max)
    }

    fn outbox(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<(LogEntry, StoredResource)>, Error> {
        self.with_reader(|conn| {
            let entries = query_entries(
                conn,
                &format!(
                    "SELECT {LOG_COLUMNS} FROM sync_log l WHERE l.kind = 0 AND l.change_seq > ?1 ORDER BY l.change_seq LIMIT ?2"
                ),
                (after_seq, limit as i64),
            )?;
            entries_with_versions(conn, entries)
        })
    }

    fn outbox_pending(&self, after_seq: i64) -> Result<(u64, Option<i64>), Error> {
        self.with_reader(|conn| {
            let (count, oldest): (i64, Option<i64>) = conn
                .query_row(
                    "SELECT count(*), min(change_seq) FROM sync_log WHERE kind = 0 AND change_seq > ?1",
                    [after_seq],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(sql_error)?;
            let unlogged = unlogged_count(conn)?;
            let oldest_seq = match oldest {
                Some(seq) => Some(seq),
                None if unlogged > 0 => Some(log_seq_max(conn)? + 1),
                None => None,
            };
            let oldest_ms = match oldest_seq {
                Some(seq) => conn
                    .query_row(
                        "SELECT min(ms) FROM (SELECT last_updated_ms AS ms FROM resource WHERE change_seq >= ?1 \
                         UNION ALL SELECT last_updated_ms FROM resource_version WHERE change_seq >= ?1)",
                        [seq],
                        |row| row.get::<_, Option<i64>>(0),
                    )
                    .map_err(sql_error)?,
                None => None,
            };
            Ok((count as u64 + unlogged, oldest_ms))
        })
    }

    fn feed_candidates(
        &self,
        after_seq: i64,
        upto_seq: i64,
        limit: usize,
    ) -> Result<Vec<FeedCandidate>, Error> {
        self.with_reader(|conn| {
            let entries = query_entries(
                conn,
                &format!(
                    "SELECT {LOG_COLUMNS} FROM sync_log l WHERE l.change_seq > ?1 AND l.change_seq <= ?2 ORDER BY l.change_seq LIMIT ?3"
                ),
                (after_seq, upto_seq, limit as i64),
            )?;
            entries
                .into_iter()
                .map(|entry| {
                    let patients = patients_of(conn, entry.change_seq)?;
                    Ok(FeedCandidate { entry, patients })
                })
                .collect()
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
        // Each arm walks an index from the cursor: the node's followed patients' changes
        // (sync_follow, then sync_patient by patient), and each reference type's changes.
        let mut arms = vec![
            "SELECT p.change_seq AS cs FROM sync_follow f \
             JOIN sync_patient p ON p.patient_id = f.patient_id AND p.change_seq > ?2 AND p.change_seq <= ?3 \
             WHERE f.node_id = ?1"
                .to_string(),
        ];
        for idx in 0..reference_types.len() {
            arms.push(format!(
                "SELECT change_seq FROM sync_log WHERE resource_type = ?{} AND change_seq > ?2 AND change_seq <= ?3",
                idx + 5
            ));
        }
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM sync_log l WHERE l.change_seq IN ({}) \
             AND l.kind != 2 AND l.origin != ?1 ORDER BY l.change_seq LIMIT ?4",
            arms.join(" UNION ")
        );
        let mut values: Vec<rusqlite::types::Value> = vec![
            node_id.to_string().into(),
            after_seq.into(),
            upto_seq.into(),
            (limit as i64).into(),
        ];
        values.extend(reference_types.iter().map(|t| t.to_string().into()));
        self.with_reader(|conn| {
            query_entries(conn, &sql, rusqlite::params_from_iter(values.iter()))
        })
    }

    fn versions(&self, change_seqs: &[i64]) -> Result<Vec<StoredResource>, Error> {
        self.with_reader(|conn| {
            let mut out = Vec::with_capacity(change_seqs.len());
            for seq in change_seqs {
                // Versions are never removed, so a missing one is a corrupt log, not a race.
                let version = version_by_seq(conn, *seq)?.ok_or_else(|| {
                    Error::Other(format!(
                        "the sync log names change {seq}, which has no version"
                    ))
                })?;
                out.push(version);
            }
            Ok(out)
        })
    }

    fn patient_log(&self, patient_id: &str, limit: usize) -> Result<Vec<LogEntry>, Error> {
        self.with_reader(|conn| {
            query_entries(
                conn,
                &format!(
                    "SELECT {LOG_COLUMNS} FROM sync_patient p JOIN sync_log l ON l.change_seq = p.change_seq \
                     WHERE p.patient_id = ?1 ORDER BY p.change_seq LIMIT ?2"
                ),
                (patient_id, limit as i64),
            )
        })
    }

    fn followed(&self, node_id: &str) -> Result<HashSet<String>, Error> {
        self.with_reader(|conn| {
            conn.prepare_cached("SELECT patient_id FROM sync_follow WHERE node_id = ?1")
                .and_then(|mut stmt| {
                    stmt.query_map([node_id], |row| row.get(0))?
                        .collect::<rusqlite::Result<HashSet<String>>>()
                })
                .map_err(sql_error)
        })
    }

    fn nodes(&self) -> Result<Vec<(String, Vec<u8>)>, Error> {
        self.with_reader(|conn| {
            conn.prepare_cached(
                "SELECT node_id, token_sha256 FROM sync_node WHERE revoked_ms IS NULL ORDER BY node_id",
            )
                .and_then(|mut stmt| {
                    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(sql_error)
        })
    }

    fn conflicts(&self, limit: usize) -> Result<Vec<Conflict>, Error> {
        self.with_reader(|conn| {
            conn.prepare_cached(
                "SELECT resource_type, id, winner_hlc, winner_origin, loser_hlc, loser_origin, fields, detected_ms, open \
                 FROM sync_conflict ORDER BY cid DESC LIMIT ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_map([limit as i64], conflict_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(sql_error)
        })
    }

    fn refused(&self, limit: usize) -> Result<Vec<Refused>, Error> {
        self.with_reader(|conn| {
            conn.prepare_cached(
                "SELECT resource_type, id, hlc, origin, reason_es, reason_en, refused_ms \
                 FROM sync_refused ORDER BY rid DESC LIMIT ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_map([limit as i64], |row| {
                    Ok(Refused {
                        resource_type: row.get(0)?,
                        id: row.get(1)?,
                        stamp: Stamp {
                            hlc: row.get(2)?,
                            origin: row.get(3)?,
                        },
                        reason_es: row.get(4)?,
                        reason_en: row.get(5)?,
                        refused_ms: row.get(6)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(sql_error)
        })
    }

    fn refused_count(&self) -> Result<u64, Error> {
        self.with_reader(|conn| {
            conn.query_row("SELECT count(*) FROM sync_refused", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(sql_error)
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
        self.with_reader(|conn| {
            conn.prepare_cached(
                "SELECT aid, node_id, seq, hash, at_ms, public_key, signature, received_ms \
                 FROM audit_anchor WHERE node_id = ?1 AND aid > ?2 ORDER BY aid LIMIT ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_map((node_id, after, limit), |row| {
                    Ok(AuditAnchor {
                        position: row.get::<_, i64>(0)?.max(0) as u64,
                        node_id: row.get(1)?,
                        seq: row.get::<_, i64>(2)?.max(0) as u64,
                        hash: row.get(3)?,
                        at_ms: row.get(4)?,
                        public_key: row.get(5)?,
                        signature: row.get(6)?,
                        received_ms: row.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(sql_error)
        })
    }

    fn conflicts_open(&self) -> Result<u64, Error> {
        self.with_reader(|conn| {
            conn.query_row(
                "SELECT count(*) FROM sync_conflict WHERE open = 1",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(sql_error)
        })
    }
}

#[cfg(test)]
mod tests;
