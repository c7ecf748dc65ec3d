//! FHIR Bulk Data `$export` of the whole store over HTTP (issue 16): resources per second
//! from kick-off to manifest, the server's peak memory while it exports (a freshly started
//! process, so its peak is the export's), and the bytes on disk, plain and as zstd would keep
//! them. Baseline: reading every current resource through the store in this process, page by
//! page, without the guard, the audit or the files (the floor of any export).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http::Client;
use crate::memory;

/// How long the bench waits for one export.
const EXPORT_DEADLINE: Duration = Duration::from_secs(3_600);

/// What one export over HTTP gave.
pub struct ExportRun {
    pub resources: u64,
    pub types: usize,
    pub seconds: f64,
    /// The server's RSS before the kick-off and its peak after the export (KiB).
    pub rss_before_kib: Option<u64>,
    pub peak_rss_kib: Option<u64>,
    pub bytes: u64,
    pub zstd_bytes: u64,
}

impl ExportRun {
    pub fn rate(&self) -> f64 {
        self.resources as f64 / self.seconds.max(1e-9)
    }
}

/// Exports everything as the bench's system token from the node at `addr` (process `pid`,
/// data under `node_dir`), then deletes the job.
pub fn over_http(addr: SocketAddr, pid: Option<u32>, node_dir: &Path) -> anyhow::Result<ExportRun> {
    let rss_before_kib = pid.and_then(|p| memory::status_kib(&p.to_string(), "VmRSS"));
    let mut client = Client::new(addr).with_header("Prefer", "respond-async");
    let started = Instant::now();
    let kick_off = client.get("/fhir/$export")?;
    if kick_off.status != 202 {
        bail!("$export kick-off: {} {}", kick_off.status, kick_off.text());
    }
    let location = kick_off
        .header("content-location")
        .context("no Content-Location")?
        .to_string();
    let status_path = location
        .find("/fhir/")
        .map(|at| location[at..].to_string())
        .context("status URL outside /fhir")?;
    let manifest = loop {
        let answer = client.get(&status_path)?;
        match answer.status {
            200 => break answer,
            202 => std::thread::sleep(Duration::from_millis(100)),
            other => bail!("$export status: {other} {}", answer.text()),
        }
        if started.elapsed() > EXPORT_DEADLINE {
            bail!("$export did not finish in {EXPORT_DEADLINE:?}");
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let peak_rss_kib = pid.and_then(memory::peak_kib);
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest.body).context("the manifest is not JSON")?;
    let output = manifest["output"].as_array().cloned().unwrap_or_default();
    let resources = output.iter().filter_map(|o| o["count"].as_u64()).sum();
    let job = status_path.rsplit('/').next().unwrap_or("").to_string();
    let job_dir = node_dir.join("exports").join(&job);
    let (mut bytes, mut zstd_bytes) = (0u64, 0u64);
    for entry in std::fs::read_dir(&job_dir).with_context(|| job_dir.display().to_string())? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "ndjson") {
            continue;
        }
        bytes += std::fs::metadata(&path)?.len();
        let mut counter = Counter(0);
        let mut encoder = zstd::stream::Encoder::new(&mut counter, 3)?;
        std::io::copy(&mut std::fs::File::open(&path)?, &mut encoder)?;
        encoder.finish()?;
        zstd_bytes += counter.0;
    }
    let deleted = client.request("DELETE", &status_path, None)?;
    if deleted.status != 202 {
        bail!("$export DELETE: {}", deleted.status);
    }
    Ok(ExportRun {
        resources,
        types: output.len(),
        seconds,
        rss_before_kib,
        peak_rss_kib,
        bytes,
        zstd_bytes,
    })
}

/// Counts the bytes written to it.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The floor: every current resource read through the store in this process, type by type,
/// page by page (keyset), as the export reads them. Returns (resources, seconds).
pub fn store_scan(store: &dyn store::Store) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let mut resources = 0u64;
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX);
    let types: Vec<String> = store
        .counts()
        .map_err(|e| anyhow::anyhow!("counts: {e}"))?
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, _)| t)
        .collect();
    for resource_type in types {
        let (mut query, _) = search::parse(&resource_type, &[], search::Handling::Strict, now_ms)
            .map_err(|e| anyhow::anyhow!("query: {e:?}"))?;
        query.count = Some(u32::try_from(store::PAGE_SIZE_MAX).unwrap_or(1_000));
        query.total = Some(search::Total::None);
        loop {
            let page = store
                .search(&query)
                .map_err(|e| anyhow::anyhow!("search: {e}"))?;
            resources += page.matches.iter().filter(|m| !m.deleted).count() as u64;
            match page.positions.last() {
                Some(last) if page.more => query.cursor = Some(format!("n{last}")),
                _ => break,
            }
        }
    }
    Ok((resources, started.elapsed().as_secs_f64()))
}
