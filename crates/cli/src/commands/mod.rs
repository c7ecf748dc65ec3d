//! One module per subcommand.

pub mod demo;
pub mod generate;
pub mod import;
pub mod serve;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

/// Opens a node's store and the use-case handle over it.
pub(crate) fn open_node(
    data_dir: &Path,
) -> anyhow::Result<(Arc<store_sqlite::SqliteStore>, ehr::Ehr)> {
    let store = store_sqlite::SqliteStore::open(data_dir)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let ehr = ehr::Ehr::new(store.clone(), Arc::new(ehr::SystemClock));
    Ok((store, ehr))
}
