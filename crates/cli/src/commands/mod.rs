//! One module per subcommand.

pub mod apps;
pub mod backup;
pub mod bench;
pub mod bench_rebalance;
pub mod bench_sync;
pub mod cluster;
pub mod database;
pub mod demo;
pub mod generate;
pub mod import;
pub mod mpi;
pub mod node;
pub mod security;
pub mod serve;

use std::path::Path;
use std::sync::Arc;

/// How this node names itself in the audit trail (`AuditEvent.source.observer`).
pub(crate) fn node_name() -> String {
    std::env::var("EXPEDIENTE_NODE").unwrap_or_else(|_| "expediente".into())
}

/// Opens a node's store (the engine `database` names, else the SQLite file in `data_dir`) and
/// the use-case handle over it. `bulk` gives SQLite's writer a larger page cache, for imports.
pub(crate) fn open_node(
    data_dir: &Path,
    database: &database::DatabaseArg,
    bulk: bool,
) -> anyhow::Result<(database::Database, ehr::Ehr)> {
    let location = database::Location::parse(data_dir, database.database.as_deref())?;
    let db = database::Database::open(&location, bulk)?;
    let ehr = with_node_zone(ehr::Ehr::new(
        db.store.clone(),
        Arc::new(ehr::SystemClock),
        &node_name(),
    ))?;
    Ok((db, ehr))
}

/// A command that reads a node was pointed at a place that holds none: it stops (exit 2)
/// rather than create an empty node where a typo points and report on that.
#[derive(Debug)]
pub(crate) struct NoNode(pub String);

impl std::fmt::Display for NoNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no hay un nodo en {0}: revise --data (o --database) / there is no node in {0}: check --data (or --database)",
            self.0
        )
    }
}

impl std::error::Error for NoNode {}

/// Refuses (with [`NoNode`]) unless `data_dir`/`database` name an existing node. PostgreSQL
/// databases are checked by connecting, which never creates a database.
pub(crate) fn require_node(
    data_dir: &Path,
    database: &database::DatabaseArg,
) -> anyhow::Result<()> {
    let location = database::Location::parse(data_dir, database.database.as_deref())?;
    match &location {
        database::Location::Sqlite(dir) if !database::sqlite_file_exists(dir) => {
            Err(NoNode(dir.display().to_string()).into())
        }
        _ => Ok(()),
    }
}

/// The variable naming the zone a `dateTime` without an offset is read in (a tz database
/// name; default `America/Mexico_City`): a node in Baja California sets `America/Tijuana`.
pub(crate) const TIME_ZONE_ENV: &str = "EXPEDIENTE_TIME_ZONE";

/// Applies this node's time zone (`EXPEDIENTE_TIME_ZONE`) to `ehr`.
pub(crate) fn with_node_zone(ehr: ehr::Ehr) -> anyhow::Result<ehr::Ehr> {
    match std::env::var(TIME_ZONE_ENV) {
        Ok(zone) if !zone.is_empty() => ehr
            .with_local_zone(&zone)
            .map_err(|err| anyhow::anyhow!("{TIME_ZONE_ENV}: {err}")),
        _ => Ok(ehr),
    }
}
