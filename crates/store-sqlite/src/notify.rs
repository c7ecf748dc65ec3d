//! The subscription delivery queue on SQLite (`store::notify`): one narrow table, written on
//! the single writer like everything else, read by the delivery worker through the writer too
//! (a claim moves the lease in the same transaction).

use rusqlite::{Connection, Row};
use store::Error;
use store::notify::{Delivery, NewDelivery, NotifyStore};

use crate::sql_error;

/// Issue 17: subscription deliveries waiting to be made (or retried).
pub(crate) const MIGRATION_NOTIFY: &str = r#"
CREATE TABLE notify_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    version_id INTEGER NOT NULL,
    queued_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX notify_queue_due ON notify_queue(next_attempt_ms, seq);
CREATE INDEX notify_queue_subscription ON notify_queue(subscription_id);
"#;

const COLUMNS: &str = "seq, subscription_id, resource_type, resource_id, version_id, queued_ms, attempts, next_attempt_ms, last_error";

fn delivery(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        seq: row.get(0)?,
        subscription_id: row.get(1)?,
        resource_type: row.get(2)?,
        resource_id: row.get(3)?,
        version_id: row.get::<_, i64>(4)?.max(0) as u64,
        queued_ms: row.get(5)?,
        attempts: u32::try_from(row.get::<_, i64>(6)?).unwrap_or(u32::MAX),
        next_attempt_ms: row.get(7)?,
        last_error: row.get(8)?,
    })
}

fn select(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Delivery>, Error> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    let rows = stmt.query_map(params, delivery).map_err(sql_error)?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_error)
}

impl NotifyStore for crate::SqliteStore {
    fn enqueue(&self, deliveries: &[NewDelivery]) -> Result<(), Error> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let deliveries = deliveries.to_vec();
        self.write_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "INSERT INTO notify_queue(subscription_id, resource_type, resource_id, version_id, queued_ms, next_attempt_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                )
                .map_err(sql_error)?;
            for d in &deliveries {
                stmt.execute((
                    &d.subscription_id,
                    &d.resource_type,
                    &d.resource_id,
                    i64::try_from(d.version_id).unwrap_or(i64::MAX),
                    d.queued_ms,
                ))
                .map_err(sql_error)?;
            }
            Ok(())
        })
    }

    fn claim_due(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, Error> {
        // Asked every half second by an idle worker: answered by a reader when nothing is
        // due, so an idle node's writer (and its readers' snapshots) are left alone.
        let any_due = self.with_reader(|conn| {
            conn.prepare_cached("SELECT 1 FROM notify_queue WHERE next_attempt_ms <= ?1 LIMIT 1")
                .and_then(|mut stmt| stmt.exists([now_ms]))
                .map_err(sql_error)
        })?;
        if !any_due {
            return Ok(Vec::new());
        }
        self.write_conn(move |conn| {
            let due = select(
                conn,
                &format!(
                    "SELECT {COLUMNS} FROM notify_queue WHERE next_attempt_ms <= ?1 ORDER BY next_attempt_ms, seq LIMIT ?2"
                ),
                (now_ms, i64::try_from(limit).unwrap_or(i64::MAX)),
            )?;
            let mut stmt = conn
                .prepare_cached("UPDATE notify_queue SET next_attempt_ms = ?2 WHERE seq = ?1")
                .map_err(sql_error)?;
            for d in &due {
                stmt.execute((d.seq, lease_until_ms)).map_err(sql_error)?;
            }
            Ok(due)
        })
    }

    fn finish(&self, seq: i64) -> Result<(), Error> {
        self.write_conn(move |conn| {
            conn.prepare_cached("DELETE FROM notify_queue WHERE seq = ?1")
                .and_then(|mut stmt| stmt.execute([seq]))
                .map_err(sql_error)?;
            Ok(())
        })
    }

    fn retry_later(
        &self,
        seq: i64,
        attempts: u32,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<(), Error> {
        let error = error.to_string();
        self.write_conn(move |conn| {
            conn.prepare_cached(
                "UPDATE notify_queue SET attempts = ?2, next_attempt_ms = ?3, last_error = ?4 WHERE seq = ?1",
            )
            .and_then(|mut stmt| stmt.execute((seq, i64::from(attempts), next_attempt_ms, &error)))
            .map_err(sql_error)?;
            Ok(())
        })
    }

    fn drop_subscription(&self, subscription_id: &str) -> Result<u64, Error> {
        let subscription_id = subscription_id.to_string();
        self.write_conn(move |conn| {
            let removed = conn
                .prepare_cached("DELETE FROM notify_queue WHERE subscription_id = ?1")
                .and_then(|mut stmt| stmt.execute([&subscription_id]))
                .map_err(sql_error)?;
            Ok(removed as u64)
        })
    }

    fn queued(&self, limit: usize) -> Result<Vec<Delivery>, Error> {
        self.with_reader(|conn| {
            select(
                conn,
                &format!("SELECT {COLUMNS} FROM notify_queue ORDER BY seq LIMIT ?1"),
                [i64::try_from(limit).unwrap_or(i64::MAX)],
            )
        })
    }
}
