//! Operating a Citus hub's workers (issue 15): which workers hold how many shards and bytes,
//! adding a worker, and moving shards onto it with Citus's own rebalancer while the hub keeps
//! serving. We build on Citus: placement and moves are `citus_add_node` and
//! `citus_rebalance_start`; this module only calls them and reports what they did.
//!
//! Each call opens its own connection to the coordinator (an operator's command, not the
//! store's pool).

use store::Error;

use crate::{pool, sql_error};

/// A node of the cluster that may hold shards, with what it holds now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Worker {
    pub host: String,
    pub port: i32,
    /// Shard placements on it (every distributed and reference table).
    pub shards: i64,
    /// Their bytes on disk (tables, indexes, TOAST).
    pub bytes: i64,
}

/// How shards are copied while they move (Citus's `shard_transfer_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferMode {
    /// Logical replication where every table allows it, else blocking writes.
    Auto,
    /// Logical replication: writes to a moving shard go on until the short final switch
    /// (needs `wal_level = logical` on the workers).
    ForceLogical,
    /// Writes to a moving shard wait until it has moved.
    BlockWrites,
}

impl TransferMode {
    fn sql(self) -> &'static str {
        match self {
            TransferMode::Auto => "auto",
            TransferMode::ForceLogical => "force_logical",
            TransferMode::BlockWrites => "block_writes",
        }
    }
}

/// A background rebalance as Citus reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebalance {
    pub job_id: i64,
    /// `scheduled`, `running`, `finished`, `cancelled`, `failed`, …
    pub state: String,
    /// Citus's own details (tasks done and left), as JSON text.
    pub details: String,
}

impl Rebalance {
    /// Whether the job has ended, well or not.
    pub fn ended(&self) -> bool {
        matches!(
            self.state.as_str(),
            "finished" | "cancelled" | "failed" | "failing" | "cancelling"
        )
    }
}

fn on_coordinator<R: Send>(
    url: &str,
    f: impl FnOnce(&mut postgres::Client) -> Result<R, Error> + Send,
) -> Result<R, Error> {
    let mut client = pool::connect(url)?;
    pool::off_runtime(move || f(&mut client))
}

fn citus_required(client: &mut postgres::Client) -> Result<(), Error> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
            &[],
        )
        .map_err(sql_error)?;
    if row.get::<_, bool>(0) {
        Ok(())
    } else {
        Err(Error::Other(
            "la base de datos no es un coordinador de Citus / the database is not a Citus coordinator"
                .into(),
        ))
    }
}

/// The nodes that may hold shards (the coordinator too when it is configured to), each with
/// its placements and their bytes, by host and port.
pub fn workers(url: &str) -> Result<Vec<Worker>, Error> {
    on_coordinator(url, |client| {
        citus_required(client)?;
        let rows = client
            .query(
                "SELECT n.nodename::text, n.nodeport, count(s.shardid), \
                        coalesce(sum(s.shard_size), 0)::bigint \
                 FROM pg_dist_node n \
                 LEFT JOIN citus_shards s ON s.nodename = n.nodename AND s.nodeport = n.nodeport \
                 WHERE n.noderole = 'primary' AND n.isactive \
                   AND (n.shouldhaveshards OR n.groupid = 0) \
                 GROUP BY 1, 2 ORDER BY 1, 2",
                &[],
            )
            .map_err(sql_error)?;
        Ok(rows
            .iter()
            .map(|row| Worker {
                host: row.get(0),
                port: row.get(1),
                shards: row.get(2),
                bytes: row.get(3),
            })
            .collect())
    })
}

/// Adds a worker (already running PostgreSQL with the `citus` extension created) to the
/// cluster. Shards stay where they are until a rebalance moves some onto it.
pub fn add_worker(url: &str, host: &str, port: i32) -> Result<(), Error> {
    on_coordinator(url, |client| {
        citus_required(client)?;
        client
            .query_one("SELECT citus_add_node($1, $2)", &[&host, &port])
            .map_err(sql_error)?;
        Ok(())
    })
}

/// Starts a background rebalance (shards moved until every worker holds its share); `None`
/// when there is nothing to move.
pub fn rebalance_start(url: &str, mode: TransferMode) -> Result<Option<i64>, Error> {
    on_coordinator(url, |client| {
        citus_required(client)?;
        let row = client
            .query_one(
                "SELECT citus_rebalance_start(shard_transfer_mode := $1::text::citus.shard_transfer_mode)",
                &[&mode.sql()],
            )
            .map_err(sql_error)?;
        Ok(row.get::<_, Option<i64>>(0))
    })
}

/// The most recent rebalance job, if any.
pub fn rebalance_status(url: &str) -> Result<Option<Rebalance>, Error> {
    on_coordinator(url, |client| {
        citus_required(client)?;
        let row = client
            .query_opt(
                "SELECT job_id, state::text, coalesce(details::text, '') \
                 FROM citus_rebalance_status() ORDER BY job_id DESC LIMIT 1",
                &[],
            )
            .map_err(sql_error)?;
        Ok(row.map(|row| Rebalance {
            job_id: row.get(0),
            state: row.get(1),
            details: row.get(2),
        }))
    })
}
