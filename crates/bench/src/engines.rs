//! The node on PostgreSQL beside the node on SQLite (issue 14): the same generated data loaded
//! into each through `expediente import`, then served by two `expediente serve` processes
//! that take turns under the same loads: read by id, search by identifier, `$everything` of
//! the ~500-resource charts; and each database's size on disk from its server's `/metrics`.
//! Every PostgreSQL figure is reported as a ratio to the SQLite one of the same run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::data::{Dataset, Queries};
use crate::http;
use crate::load::{self, LoadResult, Stats};
use crate::report::{self, Row};
use crate::servers::Node;
use crate::workload;

/// What one engine's node measured.
struct Figures {
    import_rate: f64,
    reads: Option<LoadResult>,
    identifier: Stats,
    identifier_load: Option<LoadResult>,
    everything: Stats,
    bytes: Option<f64>,
}

/// The two nodes' figures, as rows (PostgreSQL against SQLite).
pub(crate) struct SideBySide {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

/// Loads `data` into the empty PostgreSQL database `url` and measures both nodes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    exe: &Path,
    work: &Path,
    url: &str,
    data: &Dataset,
    queries: &Queries,
    read_paths: &[String],
    (sqlite_dir, sqlite_token, sqlite_import_rate): (&Path, &str, f64),
    rounds: u32,
    load_secs: u64,
    everything_reps: usize,
) -> anyhow::Result<SideBySide> {
    let pg_dir = work.join("node-postgres");
    std::fs::create_dir_all(&pg_dir)?;
    crate::step("import into the node on PostgreSQL (expediente import --database)");
    let started = Instant::now();
    let mut import = Command::new(exe);
    import
        .arg("import")
        .arg("--data")
        .arg(&pg_dir)
        .arg("--database")
        .arg(url)
        .args(&data.files);
    run_quietly(import, &work.join("import-postgres.log"))?;
    let pg_import_rate = data.resources as f64 / started.elapsed().as_secs_f64().max(1e-9);
    crate::step(&format!(
        "PostgreSQL import: {pg_import_rate:.0} resources/s"
    ));
    let pg_token = system_token(exe, work, &pg_dir, url)?;

    let mut sqlite = Node::start_process(exe, sqlite_dir, &work.join("serve-sqlite.log"))?;
    http::set_bearer(sqlite.addr(), sqlite_token);
    let mut postgres = Node::start_process_with(
        exe,
        &pg_dir,
        &work.join("serve-postgres.log"),
        &["--database", url],
    )?;
    http::set_bearer(postgres.addr(), &pg_token);

    let read_file = load::write_paths(work, "engines-read", read_paths)?;
    let identifier_paths: Vec<String> = queries
        .identifier
        .iter()
        .map(|(t, q)| format!("/fhir/{t}?{q}"))
        .collect();
    let identifier_file = load::write_paths(work, "engines-identifier", &identifier_paths)?;
    let mut figures = [
        Figures::new(sqlite_import_rate),
        Figures::new(pg_import_rate),
    ];
    let nodes = [sqlite.addr(), postgres.addr()];
    crate::step("read by id, search by identifier, $everything (SQLite and PostgreSQL in turn)");
    for addr in &nodes {
        let _ = load::wrk(work, *addr, &read_file, 1)?;
    }
    let round_secs = (load_secs / u64::from(rounds.max(1))).max(1);
    let mut identifier_ms: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut everything_ms: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (i, addr) in nodes.iter().enumerate() {
            let reads = load::wrk(work, *addr, &read_file, round_secs)?;
            crate::check_errors("read by id", &reads)?;
            merge(&mut figures[i].reads, &reads);
            let searches = load::wrk(work, *addr, &identifier_file, round_secs)?;
            crate::check_errors("search by identifier", &searches)?;
            merge(&mut figures[i].identifier_load, &searches);
            identifier_ms[i].extend(timed_gets(*addr, &identifier_paths)?);
            everything_ms[i].extend(everything(*addr, data, everything_reps)?);
        }
    }
    for (i, addr) in nodes.iter().enumerate() {
        figures[i].identifier = Stats::of(std::mem::take(&mut identifier_ms[i]));
        figures[i].everything = Stats::of(std::mem::take(&mut everything_ms[i]));
        figures[i].bytes = database_bytes(*addr)?;
    }
    sqlite.stop();
    postgres.stop();
    let [lite, pg] = figures;
    Ok(SideBySide {
        rows: rows(&lite, &pg, data.resources),
        notes: vec![format!(
            "PostgreSQL side by side (issue 14): the same {} resources imported with `expediente import --database postgres://…` into an empty database; both nodes served by `expediente serve` on this machine, loaded in turn.",
            report::format_count(data.resources)
        )],
    })
}

impl Figures {
    fn new(import_rate: f64) -> Figures {
        Figures {
            import_rate,
            reads: None,
            identifier: Stats::default(),
            identifier_load: None,
            everything: Stats::default(),
            bytes: None,
        }
    }
}

fn merge(into: &mut Option<LoadResult>, result: &LoadResult) {
    match into {
        Some(total) => total.merge(result),
        None => *into = Some(result.clone()),
    }
}

fn rate(result: &Option<LoadResult>) -> f64 {
    result.as_ref().map_or(0.0, LoadResult::rate)
}

fn rows(lite: &Figures, pg: &Figures, resources: u64) -> Vec<Row> {
    let mut rows = vec![
        Row::new(
            "PostgreSQL node: bulk import (`expediente import --database postgres://…`)",
            pg.import_rate,
            "res/s",
        )
        .baseline(lite.import_rate, "the SQLite node's import, same data"),
        Row::new(
            "PostgreSQL node: read by id over HTTP (wrk)",
            rate(&pg.reads),
            "req/s",
        )
        .baseline(rate(&lite.reads), "the SQLite node, same ids, in turn")
        .target("≥ ×0.5", rate(&pg.reads) >= 0.5 * rate(&lite.reads)),
        Row::new(
            "PostgreSQL node: search by identifier over HTTP (wrk)",
            rate(&pg.identifier_load),
            "req/s",
        )
        .baseline(rate(&lite.identifier_load), "the SQLite node, same queries")
        .target(
            "≥ ×0.5",
            rate(&pg.identifier_load) >= 0.5 * rate(&lite.identifier_load),
        ),
        Row::new(
            "PostgreSQL node: search by identifier, p99 of one client (HTTP)",
            pg.identifier.p99,
            "ms",
        )
        .detail(format!(
            "p50 {:.2} ms, {} searches",
            pg.identifier.p50, pg.identifier.n
        ))
        .baseline(lite.identifier.p99, "the SQLite node's p99")
        .target("< 10 ms", pg.identifier.p99 < 10.0),
        Row::new(
            "PostgreSQL node: `$everything` of a ~500-resource chart, median (HTTP)",
            pg.everything.p50,
            "ms",
        )
        .detail(format!("p95 {:.1} ms", pg.everything.p95))
        .baseline(lite.everything.p50, "the SQLite node's median")
        .target("< 10 ms", pg.everything.p50 < 10.0),
    ];
    if let (Some(pg_bytes), Some(lite_bytes)) = (pg.bytes, lite.bytes) {
        let per = |bytes: f64| bytes / (resources.max(1) as f64);
        rows.push(
            Row::new(
                "PostgreSQL node: bytes on disk per resource (tables, indexes, TOAST)",
                per(pg_bytes),
                "B",
            )
            .detail(format!("{:.0} MB in all", pg_bytes / 1e6))
            .baseline(
                per(lite_bytes),
                format!(
                    "the SQLite node's file and WAL per resource ({:.0} MB)",
                    lite_bytes / 1e6
                ),
            ),
        );
    }
    rows
}

/// Runs a command to completion with its output in `log`; fails with the log's tail.
fn run_quietly(mut command: Command, log: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let status = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .context("cannot start expediente")?;
    if !status.success() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        bail!("{command:?} failed ({status}): {}", tail.join(" | "));
    }
    Ok(())
}

/// A system account on the PostgreSQL node and a token for it (the CLI's own commands).
fn system_token(exe: &Path, work: &Path, dir: &Path, url: &str) -> anyhow::Result<String> {
    let mut add = Command::new(exe);
    add.args(["user", "add", "--username", "bench", "--role", "system"])
        .arg("--data")
        .arg(dir)
        .args(["--database", url]);
    run_quietly(add, &work.join("user-postgres.log"))?;
    let output = Command::new(exe)
        .args([
            "token", "issue", "--user", "bench", "--role", "system", "--ttl", "8h",
        ])
        .arg("--data")
        .arg(dir)
        .args(["--database", url])
        .stdin(Stdio::null())
        .output()
        .context("cannot start expediente token issue")?;
    if !output.status.success() {
        bail!(
            "expediente token issue failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .map(|line| line.trim().to_string())
        .filter(|token| !token.is_empty())
        .context("expediente token issue printed no token")
}

/// Each path once, in order, by one client; the milliseconds of each.
fn timed_gets(addr: std::net::SocketAddr, paths: &[String]) -> anyhow::Result<Vec<f64>> {
    let mut client = http::Client::new(addr);
    let mut times = Vec::with_capacity(paths.len());
    for path in paths {
        let started = Instant::now();
        let response = client.get(path)?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        if response.status != 200 {
            bail!("{path}: HTTP {}", response.status);
        }
    }
    Ok(times)
}

/// `$everything` of each chart `reps` times; the milliseconds of each, as the client saw them.
fn everything(addr: std::net::SocketAddr, data: &Dataset, reps: usize) -> anyhow::Result<Vec<f64>> {
    let mut client = http::Client::new(addr);
    let mut times = Vec::new();
    for (patient_id, _) in &data.charts {
        for _ in 0..reps {
            let started = Instant::now();
            let response = client.get(&format!("/fhir/Patient/{patient_id}/$everything"))?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            if response.status != 200 || workload::bundle_total(&response.text()).is_none() {
                bail!("$everything for {patient_id}: HTTP {}", response.status);
            }
        }
    }
    Ok(times)
}

/// The node's `expediente_database_bytes` from `/metrics` (the bench reads from loopback).
fn database_bytes(addr: std::net::SocketAddr) -> anyhow::Result<Option<f64>> {
    let mut client = http::Client::new(addr);
    let response = client.get("/metrics")?;
    if response.status != 200 {
        bail!("/metrics: HTTP {}", response.status);
    }
    Ok(response.text().lines().find_map(|line| {
        let value = line.strip_prefix("expediente_database_bytes ")?;
        value.trim().parse::<f64>().ok()
    }))
}
