//! The subscription delivery queue on PostgreSQL (`store::notify`): one narrow table on the
//! coordinator (not distributed: it is small and every delivery worker reads it), each
//! operation its own short transaction on a pooled connection. Claims take rows with
//! `FOR UPDATE SKIP LOCKED`, so several hub processes never hand out the same delivery.

use postgres::Row;
use store::Error;
use store::notify::{Delivery, NewDelivery, NotifyStore};

use crate::sql_error;

/// Issue 17: subscription deliveries waiting to be made (or retried).
pub(crate) const MIGRATION_NOTIFY: &str = r#"
-- Migration 4 (issue 17): the subscription delivery queue, a table of the coordinator.
CREATE TABLE notify_queue (
    seq BIGSERIAL PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    version_id BIGINT NOT NULL,
    queued_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    last_error TEXT
);
CREATE INDEX notify_queue_due ON notify_queue(next_attempt_ms, seq);
CREATE INDEX notify_queue_subscription ON notify_queue(subscription_id);
"#;

const COLUMNS: &str = "seq, subscription_id, resource_type, resource_id, version_id, queued_ms, attempts, next_attempt_ms, last_error";

fn delivery(row: &Row) -> Delivery {
    Delivery {
        seq: row.get(0),
        subscription_id: row.get(1),
        resource_type: row.get(2),
        resource_id: row.get(3),
        version_id: row.get::<_, i64>(4).max(0) as u64,
        queued_ms: row.get(5),
        attempts: u32::try_from(row.get::<_, i32>(6)).unwrap_or(0),
        next_attempt_ms: row.get(7),
        last_error: row.get(8),
    }
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl NotifyStore for crate::PgStore {
    fn enqueue(&self, deliveries: &[NewDelivery]) -> Result<(), Error> {
        if deliveries.is_empty() {
            return Ok(());
        }
        self.pool.with(|conn| {
            let mut tx = conn.client.transaction().map_err(sql_error)?;
            let stmt = tx
                .prepare(
                    "INSERT INTO notify_queue(subscription_id, resource_type, resource_id, version_id, queued_ms, next_attempt_ms) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .map_err(sql_error)?;
            for d in deliveries {
                let version = i64::try_from(d.version_id).unwrap_or(i64::MAX);
                tx.execute(
                    &stmt,
                    &[
                        &d.subscription_id,
                        &d.resource_type,
                        &d.resource_id,
                        &version,
                        &d.queued_ms,
                    ],
                )
                .map_err(sql_error)?;
            }
            tx.commit().map_err(sql_error)
        })
    }

    fn claim_due(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, Error> {
        let sql = format!(
            "UPDATE notify_queue q SET next_attempt_ms = $2 FROM ( \
                 SELECT seq, next_attempt_ms AS due_ms FROM notify_queue WHERE next_attempt_ms <= $1 \
                 ORDER BY next_attempt_ms, seq LIMIT $3 FOR UPDATE SKIP LOCKED) due \
             WHERE q.seq = due.seq RETURNING {}",
            COLUMNS
                .split(", ")
                .map(|c| format!("q.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let limit = limit_of(limit);
        let mut claimed: Vec<Delivery> = self.pool.with(|conn| {
            let rows = conn
                .client
                .query(&sql, &[&now_ms, &lease_until_ms, &limit])
                .map_err(sql_error)?;
            Ok(rows.iter().map(delivery).collect())
        })?;
        claimed.sort_by_key(|d| d.seq);
        Ok(claimed)
    }

    fn finish(&self, seq: i64) -> Result<(), Error> {
        self.pool.with(|conn| {
            conn.client
                .execute("DELETE FROM notify_queue WHERE seq = $1", &[&seq])
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
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        self.pool.with(|conn| {
            conn.client
                .execute(
                    "UPDATE notify_queue SET attempts = $2, next_attempt_ms = $3, last_error = $4 WHERE seq = $1",
                    &[&seq, &attempts, &next_attempt_ms, &error],
                )
                .map_err(sql_error)?;
            Ok(())
        })
    }

    fn drop_subscription(&self, subscription_id: &str) -> Result<u64, Error> {
        self.pool.with(|conn| {
            conn.client
                .execute(
                    "DELETE FROM notify_queue WHERE subscription_id = $1",
                    &[&subscription_id],
                )
                .map_err(sql_error)
        })
    }

    fn queued(&self, limit: usize) -> Result<Vec<Delivery>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM notify_queue ORDER BY seq LIMIT $1");
        let limit = limit_of(limit);
        self.pool.with(|conn| {
            let rows = conn.client.query(&sql, &[&limit]).map_err(sql_error)?;
            Ok(rows.iter().map(delivery).collect())
        })
    }
}
