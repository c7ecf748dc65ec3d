//! Bulk import, measured two ways on the same NDJSON files: through the node's own import
//! (`ehr::import_source`, the code path of `expediente import`: parse, validate, resolve,
//! index every search parameter, keep history) and into a bare SQLite table of JSON blobs with
//! the same durability (WAL, `synchronous=FULL`, as many rows per transaction as the node's import
//! batches). The second is the
//! storage floor: the ratio says how much of the node's import time is the work it adds.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;

use crate::data;
use crate::memory;

/// Rows per transaction of the floor, the same as the node's import batches, so both pay the
/// same number of fsyncs.
const FLOOR_ROWS_PER_TX: usize = ehr::IMPORT_BATCH_RESOURCES;

/// The node's WAL checkpoint threshold (pages), applied to the floor so that both write the
/// same way.
const FLOOR_WAL_AUTOCHECKPOINT_PAGES: i64 = 16_384;

/// Fraction of the import at the end whose rate is reported apart ("sustained": an import
/// that slows down as the database grows shows it here).
const TAIL_SHARE: f64 = 0.2;

#[derive(Clone, Debug)]
pub struct FloorResult {
    pub rows: u64,
    pub seconds: f64,
}

impl FloorResult {
    /// A floor not measured in this run (`--reuse-work`).
    pub fn unmeasured() -> FloorResult {
        FloorResult {
            rows: 0,
            seconds: 0.0,
        }
    }

    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
}

/// Inserts every line of `files` into `blob(body)` in `db_path`.
pub fn floor(files: &[PathBuf], db_path: &Path) -> anyhow::Result<FloorResult> {
    let conn = rusqlite::Connection::open(db_path)
        .with_context(|| format!("cannot open {}", db_path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", FLOOR_WAL_AUTOCHECKPOINT_PAGES)?;
    conn.execute_batch("CREATE TABLE blob (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")?;
    let started = Instant::now();
    let mut rows = 0u64;
    let mut in_tx = 0usize;
    conn.execute_batch("BEGIN")?;
    {
        let mut insert = conn.prepare("INSERT INTO blob(body) VALUES (?1)")?;
        for file in files {
            let reader = BufReader::with_capacity(1 << 20, data::open(file)?);
            for line in reader.lines() {
                let line = line.with_context(|| format!("cannot read {}", file.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                insert.execute([&line])?;
                rows += 1;
                in_tx += 1;
                if in_tx == FLOOR_ROWS_PER_TX {
                    conn.execute_batch("COMMIT; BEGIN")?;
                    in_tx = 0;
                }
            }
        }
    }
    conn.execute_batch("COMMIT")?;
    Ok(FloorResult {
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[derive(Clone, Debug)]
pub struct NodeImport {
    pub loaded: u64,
    pub rejected: u64,
    pub first_rejections: Vec<String>,
    pub seconds: f64,
    /// Rate over the last [`TAIL_SHARE`] of the resources.
    pub tail_rate: f64,
    /// Peak RSS of this process during the import, and its RSS just before (KiB).
    pub peak_rss_kib: Option<u64>,
    pub rss_before_kib: Option<u64>,
}

impl NodeImport {
    /// An import not measured in this run (`--reuse-work`): the node holds `loaded`.
    pub fn unmeasured(loaded: u64) -> NodeImport {
        NodeImport {
            loaded,
            rejected: 0,
            first_rejections: Vec::new(),
            seconds: 0.0,
            tail_rate: 0.0,
            peak_rss_kib: None,
            rss_before_kib: None,
        }
    }

    /// Whether this run measured the import.
    pub fn measured(&self) -> bool {
        self.seconds > 0.0
    }

    pub fn rate(&self) -> f64 {
        self.loaded as f64 / self.seconds.max(1e-9)
    }
}

/// Imports `files` into the node store at `data_dir` through `ehr::import_source`, then
/// closes the store (as `expediente import` does).
pub fn node(files: &[PathBuf], data_dir: &Path) -> anyhow::Result<NodeImport> {
    // The options `expediente import` opens the store with (a larger writer page cache).
    let options = store_sqlite::OpenOptions::bulk();
    let store = store_sqlite::SqliteStore::open_with(data_dir, &options)
        .map_err(|err| anyhow::anyhow!("cannot open the store in {}: {err}", data_dir.display()))?;
    let ehr = ehr::Ehr::new(store.clone(), Arc::new(ehr::SystemClock), "bench");
    let sources: Vec<ehr::ImportSource> = files
        .iter()
        .map(|path| {
            let path = path.clone();
            ehr::ImportSource {
                name: path.display().to_string(),
                open: Box::new(move || {
                    let file = std::fs::File::open(&path)?;
                    Ok(Box::new(BufReader::with_capacity(1 << 20, file)) as Box<dyn BufRead>)
                }),
            }
        })
        .collect();
    let samples: Mutex<Vec<(Instant, u64)>> = Mutex::new(Vec::new());
    let rss_before_kib = memory::reset_peak_self();
    let started = Instant::now();
    let report = ehr::import_source(
        &ehr,
        &ehr::Requester::local_system("bench"),
        &sources,
        false,
        &|read| {
            if let Ok(mut samples) = samples.lock() {
                samples.push((Instant::now(), read));
            }
        },
    )
    .map_err(|err| anyhow::anyhow!("import failed: {err}"))?;
    let finished = Instant::now();
    let peak_rss_kib = memory::peak_self();
    let seconds = (finished - started).as_secs_f64();
    let loaded = report.loaded_total();
    // Samples are taken at each batch's commit; the tail starts at the last commit before
    // the 80 % mark (the start, for an import of one batch), so it covers at least 20 %.
    let mut samples = samples.into_inner().unwrap_or_default();
    samples.insert(0, (started, 0));
    let total = samples.last().map_or(0, |s| s.1);
    let tail_from = (total as f64 * (1.0 - TAIL_SHARE)) as u64;
    let tail_rate = samples
        .iter()
        .rev()
        .find(|(_, committed)| *committed <= tail_from)
        .map(|(at, committed)| {
            (total - committed) as f64 / (finished - *at).as_secs_f64().max(1e-9)
        })
        .unwrap_or(0.0);
    let first_rejections = report
        .rejections
        .iter()
        .take(5)
        .map(|r| format!("{}:{} {}: {}", r.file, r.line, r.resource_type, r.reason))
        .collect();
    drop(ehr);
    store.close();
    Ok(NodeImport {
        loaded,
        rejected: report.rejected_total(),
        first_rejections,
        seconds,
        tail_rate,
        peak_rss_kib,
        rss_before_kib,
    })
}
