//! One module per subcommand.

pub mod bench;
pub mod bench_sync;
pub mod demo;
pub mod generate;
pub mod import;
pub mod mpi;
pub mod node;
pub mod security;
pub mod serve;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

/// How this node names itself in the audit trail (`AuditEvent.source.observer`).
pub(crate) fn node_name() -> String {
    std::env::var("EXPEDIENTE_NODE").unwrap_or_else(|_| "expediente".into())
}

/// Opens a node's store and the use-case handle over it. `bulk` gives the writer a larger
/// page cache, for imports.
pub(crate) fn open_node(
    data_dir: &Path,
    bulk: bool,
) -> anyhow::Result<(Arc<store_sqlite::SqliteStore>, ehr::Ehr)> {
    let options = if bulk {
        store_sqlite::OpenOptions::bulk()
    } else {
        store_sqlite::OpenOptions::default()
    };
    let store = store_sqlite::SqliteStore::open_with(data_dir, &options)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let ehr = ehr::Ehr::new(store.clone(), Arc::new(ehr::SystemClock), &node_name());
    Ok((store, ehr))
}
