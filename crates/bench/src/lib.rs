//! `expediente bench`: the benchmark suite of the clinic node, in one command.
//!
//! Key decision: every figure is measured next to a baseline taken in the same run on the same
//! data — the import against a bare SQLite table of JSON blobs, HTTP reads against the in-memory
//! Medplum peer and against `ehr` calls in this process, searches and `$everything` against
//! their in-process calls, the clinic workload against the same visits in-process, the node's
//! memory against the peer's. On a shared 2-core machine absolute figures drift from run to
//! run; the ratios are what stay comparable.
//!
//! The server measured is the real binary (`expediente serve`, started from this executable),
//! loaded by `wrk` with 32 keep-alive connections; latencies come from a small built-in
//! HTTP/1.1 client, one request at a time. Data come from `synth` into a temporary folder.

mod access;
mod aggregates;
mod booking;
mod data;
mod engines;
mod export;
mod http;
mod import;
mod load;
mod memory;
mod report;
mod reports;
mod rng;
mod servers;
mod subscriptions;
mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub use report::{COLUMNS, Report, Row, RunInfo, Verdict};

use crate::data::Dataset;
use crate::load::{LoadResult, Stats};
use crate::servers::{Node, Peer};

/// Arguments of `expediente bench`.
#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    /// Recursos a generar y cargar (~150 por paciente) / Resources to generate and load (~150 per patient)
    #[arg(long, default_value_t = 100_000)]
    pub scale: u64,
    /// 10^4 recursos y cargas de 2 s: prueba el arnés, las cifras no valen / 10^4 resources, 2 s loads: exercises the harness, figures mean nothing
    #[arg(long)]
    pub quick: bool,
    /// Archivo al que se añade la tabla / File the results table is appended to
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
    /// Sin el par Medplum (no requiere Node.js) / Skip the Medplum peer (no Node.js needed)
    #[arg(long)]
    pub skip_peer: bool,
    /// Carpeta con package.json y server.mjs del par / Folder with the peer's package.json and server.mjs
    #[arg(long, default_value = "../shared/peers/medplum")]
    pub peer_source: PathBuf,
    /// Máximo de recursos cargados en el par (los leídos siempre se cargan) / Most resources loaded into the peer (the ones read always are)
    #[arg(long, default_value_t = 120_000)]
    pub peer_resources_max: u64,
    /// Clínicos simultáneos en la carga de la clínica / Concurrent clinicians in the clinic workload
    #[arg(long, default_value_t = 8)]
    pub clinicians: usize,
    /// Semilla de los datos y de las cargas / Seed of the data and the loads
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Carpeta de trabajo (se conserva); por omisión una temporal / Working folder (kept); default: a temporary one
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Reutiliza los datos y el nodo ya importado de --work-dir (una corrida anterior del
    /// mismo comando); la importación no se mide / Reuse the data and the node already
    /// imported in --work-dir (an earlier run of the same command); the import is not measured
    #[arg(long, requires = "work_dir")]
    pub reuse_work: bool,
    /// Serve inside this process and load with the built-in client instead of wrk (the
    /// harness's own test: no binary, no wrk). The server's memory is not measured.
    #[arg(long, hide = true)]
    pub in_process: bool,
    /// The `expediente` binary that serves (default: this program).
    #[arg(long, hide = true)]
    pub server_bin: Option<PathBuf>,
    /// Solo la importación y `$export` (issue 16) / Only the import and the bulk `$export`
    #[arg(long)]
    pub only_export: bool,
    /// Compara con un nodo en esta base PostgreSQL vacía (issue 14) / Compare with a node on this empty PostgreSQL database
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Solo la importación y los agregados de casos nuevos (issue 16) / Only the import and the new-case aggregates
    #[arg(long, conflicts_with = "only_export")]
    pub only_aggregates: bool,
    /// Solo las páginas y CSV de salud pública, como epidemióloga (issue 16) / Only the public-health pages and CSVs, as an epidemiologist
    #[arg(long, conflicts_with_all = ["only_export", "only_aggregates"])]
    pub only_reports: bool,
    /// Solo la latencia de entrega de suscripciones (issue 17) / Only the subscription delivery latency
    #[arg(long)]
    pub only_subscriptions: bool,
    /// Solo agendas: búsqueda de espacios y reservas con contención; --scale cuenta espacios (issue 17) / Only agendas: slot search and booking under contention; --scale counts slots
    #[arg(long, conflicts_with_all = ["only_export", "only_aggregates", "only_subscriptions"])]
    pub only_booking: bool,
    /// Recepcionistas simultáneos en --only-booking / Concurrent receptionists in --only-booking
    #[arg(long, default_value_t = 50)]
    pub receptionists: usize,
}

/// Durations and sizes of one run.
struct Plan {
    resources: u64,
    load: Duration,
    warmup: Duration,
    sample: usize,
    queries: usize,
    search_budget: Duration,
    charts: usize,
    everything_reps: usize,
    mix: Duration,
    clinicians: usize,
}

impl Plan {
    fn of(args: &BenchArgs) -> Plan {
        if args.quick {
            Plan {
                resources: 10_000,
                load: Duration::from_secs(2),
                warmup: Duration::from_secs(1),
                sample: 1_000,
                queries: 100,
                search_budget: Duration::from_secs(3),
                charts: 3,
                everything_reps: 5,
                mix: Duration::from_secs(2),
                clinicians: args.clinicians.clamp(1, 4),
            }
        } else {
            Plan {
                resources: args.scale,
                load: Duration::from_secs(10),
                warmup: Duration::from_secs(2),
                sample: 10_000,
                queries: 1_000,
                search_budget: Duration::from_secs(10),
                charts: 5,
                everything_reps: 40,
                mix: Duration::from_secs(15),
                clinicians: args.clinicians.max(1),
            }
        }
    }
}

/// Threads of the in-process read baseline: one per core, as the server has.
const IN_PROCESS_READ_THREADS: usize = 2;

/// Peer load batches: PUT entries per batch Bundle.
const PEER_BATCH_ENTRIES: usize = 250;

/// The import target of the issue (resources per second, sustained over ≥ 10^6).
const IMPORT_TARGET_PER_S: f64 = 20_000.0;
const READ_TARGET_RATIO: f64 = 2.0;
const SEARCH_P99_TARGET_MS: f64 = 10.0;
const EVERYTHING_MEDIAN_TARGET_MS: f64 = 5.0;
const SERVE_RSS_TARGET_MB: f64 = 150.0;

/// Runs every benchmark, prints the table and appends it to `args.out`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    run_report(&args).map(|_| ())
}

/// Rounds of the interleaved comparisons: the figure and its baseline take turns, so that a
/// burst of load from other users of the machine hits both alike.
const ROUNDS: u32 = 2;

/// [`run`], returning the report (for tests).
pub fn run_report(args: &BenchArgs) -> anyhow::Result<Report> {
    let started = Instant::now();
    let load_before = load_average();
    let plan = Plan::of(args);
    if args.only_subscriptions {
        return only_subscriptions(args, started);
    }
    if args.only_booking {
        return only_booking(args, started);
    }
    preflight(args)?;
    // The temporary folder lives (and is removed) with `_temp`.
    let (_temp, work): (Option<tempfile::TempDir>, PathBuf) = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            (None, dir.clone())
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("expediente-bench-")
                .tempdir()
                .context("cannot create a temporary folder")?;
            let path = temp.path().to_path_buf();
            (Some(temp), path)
        }
    };
    let mut notes = Vec::new();

    // 1. Data.
    let ndjson = work.join("ndjson");
    step(&format!(
        "generating ~{} resources into {}",
        plan.resources,
        ndjson.display()
    ));
    let reuse = args.reuse_work && ndjson.is_dir() && work.join("node").is_dir();
    let generated_at = Instant::now();
    if !reuse {
        data::generate_resources(plan.resources, args.seed, &ndjson)?;
    }
    let generate_s = generated_at.elapsed().as_secs_f64();
    let data = data::scan(&ndjson, plan.sample, plan.charts, args.seed)?;
    step(&format!(
        "{} resources of {} patients, {:.0} MB of NDJSON ({generate_s:.1} s); {} padding Observations",
        data.resources,
        data.patients.len(),
        data.bytes as f64 / 1e6,
        data.padding
    ));
    if data.padding > 0 {
        notes.push(format!(
            "{} Observations (copies of the patients' own, with new ids) were added so that {} charts hold ~{} resources.",
            data.padding,
            data.charts.len(),
            data::CHART_RESOURCES
        ));
    }

    // 2. Import: the storage floor, then the node.
    let node_dir = work.join("node");
    let (floor, node_import) = if reuse {
        step("reusing the node imported earlier in the working folder (import not measured)");
        notes.push(
            "The data and the node were those of an earlier run in the same working folder (--reuse-work): the import is not measured here.".into(),
        );
        (
            import::FloorResult::unmeasured(),
            import::NodeImport::unmeasured(data.resources),
        )
    } else {
        step("import into a bare SQLite table of JSON blobs (the floor)");
        let floor_dir = work.join("floor");
        std::fs::create_dir_all(&floor_dir)?;
        let floor = import::floor(&data.files, &floor_dir.join("blob.db"))?;
        step(&format!("floor: {:.0} resources/s", floor.rate()));
        // The floor's file is not needed any more; at 10^6 it is a gigabyte.
        let _ = std::fs::remove_dir_all(&floor_dir);
        step("import into the node (ehr::import_source)");
        (floor, import::node(&data.files, &node_dir)?)
    };
    if node_import.measured() {
        step(&format!(
            "node: {} loaded, {} rejected, {:.1} s, {:.0} resources/s",
            node_import.loaded,
            node_import.rejected,
            node_import.seconds,
            node_import.rate()
        ));
    }
    if node_import.rejected > 0 {
        notes.push(format!(
            "The node rejected {} generated resources, e.g. {}",
            node_import.rejected,
            node_import.first_rejections.join("; ")
        ));
    }

    // 3. The store, opened in this process as `serve` opens it, for the in-process baselines
    // (it stays open beside the server: SQLite's WAL lets both read, and writes never overlap).
    let store = store_sqlite::SqliteStore::open(&node_dir)
        .map_err(|err| anyhow::anyhow!("cannot reopen the store: {err}"))?;
    let ehr = ehr::Ehr::new(store.clone(), Arc::new(ehr::SystemClock), "bench");
    let queries = data::queries(&data, plan.queries, args.seed);
    // Our node answers `/fhir` only with a token: the load runs as a system integration
    // (as the peer's load runs with its client credentials).
    let keys = Arc::new(
        auth::token::KeyStore::load_or_create(&node_dir)
            .map_err(|err| anyhow::anyhow!("signing key: {err}"))?,
    );
    let bench_token = bench_token(&ehr, &keys)?;

    if let Some(url) = &args.postgres {
        drop(ehr);
        store.close();
        drop(store);
        let exe = match &args.server_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe().context("cannot find this program")?,
        };
        let read_paths: Vec<String> = data
            .sample
            .iter()
            .map(|s| format!("/fhir/{}/{}", s.resource_type, s.id))
            .collect();
        let side = engines::run(
            &exe,
            &work,
            url,
            &data,
            &queries,
            &read_paths,
            (&node_dir, &bench_token, node_import.rate()),
            ROUNDS,
            plan.load.as_secs().max(1),
            plan.everything_reps,
        )?;
        notes.extend(side.notes);
        let report = Report {
            info: RunInfo {
                date_utc: report::date_utc(),
                revision: report::revision(),
                machine: report::machine(),
                command: format!("expediente bench --postgres URL --scale {}", args.scale),
                scale_label: format!(
                    "{} resources ({} patients)",
                    report::format_count(data.resources),
                    report::format_count(data.patients.len() as u64)
                ),
                seconds: started.elapsed().as_secs_f64(),
                notes,
            },
            rows: side.rows,
        };
        println!("{}", report.markdown());
        report.append_to(&args.out)?;
        step(&format!("appended to {}", args.out.display()));
        return Ok(report);
    }
    if args.only_aggregates {
        return only_aggregates(args, &ehr, &node_import, &data, started, notes);
    }
    if args.only_reports {
        reports::add_epidemiologist(&ehr)?;
        drop(ehr);
        store.close();
        let read_path = data
            .sample
            .first()
            .map(|s| format!("/fhir/{}/{}", s.resource_type, s.id))
            .context("no resource to read")?;
        return only_reports(
            args,
            &work,
            &node_dir,
            &bench_token,
            &read_path,
            (&node_import, &data),
            started,
            notes,
        );
    }
    if args.only_export {
        drop(ehr);
        return only_export(
            args,
            &work,
            &node_dir,
            &bench_token,
            store,
            &node_import,
            &data,
            started,
            notes,
        );
    }

    // 4. The servers: the peer (loaded first), then ours.
    let read_paths: Vec<String> = data
        .sample
        .iter()
        .map(|s| format!("/fhir/{}/{}", s.resource_type, s.id))
        .collect();
    let mut peer = if args.skip_peer {
        notes.push("The Medplum peer was skipped (--skip-peer).".into());
        None
    } else {
        Some(start_peer(args, &work, &data)?)
    };
    // Both servers read the same ids: those the peer accepted.
    let read_paths: Vec<String> = match &peer {
        Some(peer) => read_paths
            .into_iter()
            .filter(|p| !peer.refused.contains(p.as_str()))
            .collect(),
        None => read_paths,
    };
    if read_paths.is_empty() {
        bail!("no resource to read (the peer accepted none)");
    }
    step("HTTP: expediente serve");
    let exe = match &args.server_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("cannot find this program")?,
    };
    let start_node = || -> anyhow::Result<Node> {
        let node = if args.in_process {
            Node::start_in_process(ehr.clone(), keys.clone())?
        } else {
            Node::start_process(&exe, &node_dir, &work.join("serve.log"))?
        };
        http::set_bearer(node.addr(), &bench_token);
        Ok(node)
    };
    let node = start_node()?;
    let addr = node.addr();
    let read_file = load::write_paths(&work, "read", &read_paths)?;
    let loader = |target: std::net::SocketAddr,
                  paths_file: &Path,
                  paths: &[String],
                  duration: Duration|
     -> anyhow::Result<LoadResult> {
        if args.in_process {
            load::builtin(target, paths, load::WRK_CONNECTIONS, duration)
        } else {
            load::wrk(&work, target, paths_file, duration.as_secs().max(1))
        }
    };

    // 5. Read by id: ours, the peer and the in-process call take turns.
    step("read by id (ours, the peer and in-process, interleaved)");
    let round = plan.load / ROUNDS;
    let _ = loader(addr, &read_file, &read_paths, plan.warmup)?;
    if let Some(peer) = &peer {
        let _ = load::wrk(&work, peer.addr(), &read_file, plan.warmup.as_secs().max(1))?;
    }
    let mut read_http: Option<LoadResult> = None;
    let mut read_peer: Option<LoadResult> = None;
    let mut read_in_process = (0u64, 0f64);
    for _ in 0..ROUNDS {
        let ours = loader(addr, &read_file, &read_paths, round)?;
        check_errors("read by id (ours)", &ours)?;
        merge_into(&mut read_http, &ours);
        if let Some(peer) = &peer {
            let theirs = load::wrk(&work, peer.addr(), &read_file, round.as_secs().max(1))?;
            check_errors("read by id (peer)", &theirs)?;
            merge_into(&mut read_peer, &theirs);
        }
        let (reads, seconds) = in_process_reads(&ehr, &data, round)?;
        read_in_process.0 += reads;
        read_in_process.1 += seconds;
    }
    let read_http = read_http.context("no read round ran")?;
    let read_in_process_rate = read_in_process.0 as f64 / read_in_process.1.max(1e-9);
    step(&format!(
        "read by id: {:.0} req/s (peer {}, in-process {:.0}/s)",
        read_http.rate(),
        read_peer
            .as_ref()
            .map_or("skipped".to_string(), |p| format!("{:.0} req/s", p.rate())),
        read_in_process_rate
    ));
    let peer_figures = peer.as_mut().map(|peer| {
        let peak_kib = memory::peak_kib(peer.pid());
        peer.stop();
        (peer.loaded, peer.refused.len(), peak_kib)
    });
    drop(peer);

    // 6. Searches and $everything over HTTP.
    step("searches and $everything (HTTP and in-process, alternating)");
    let (search_http, search_in_process) = {
        let identifier = paired_search(&ehr, addr, &queries.identifier, plan.search_budget)?;
        let name = paired_search(&ehr, addr, &queries.name, plan.search_budget)?;
        let code_date = paired_search(&ehr, addr, &queries.code_date, plan.search_budget)?;
        (
            SearchSet {
                identifier: identifier.0,
                name: name.0,
                code_date: code_date.0,
            },
            SearchSet {
                identifier: identifier.1,
                name: name.1,
                code_date: code_date.1,
            },
        )
    };
    let identifier_paths: Vec<String> = queries
        .identifier
        .iter()
        .map(|(t, q)| format!("/fhir/{t}?{q}"))
        .collect();
    let identifier_file = load::write_paths(&work, "identifier", &identifier_paths)?;
    let identifier_load = loader(addr, &identifier_file, &identifier_paths, plan.load)?;
    check_errors("search by identifier (ours)", &identifier_load)?;
    let everything = paired_everything(&ehr, addr, &data, plan.everything_reps)?;
    let serve_peak_kib = node.pid().and_then(memory::peak_kib);

    // 7. The clinic morning: over HTTP and in-process, taking turns.
    // The server is stopped while the in-process rounds write: with two processes writing
    // the same file in turns, each one's page cache is invalidated by the other's commits.
    step("clinic workload (HTTP and in-process, interleaved)");
    let clinic_in_process = workload::InProcessClinic {
        ehr: ehr.clone(),
        who: SYSTEM.clone(),
    };
    let mut mix_http = workload::MixResult::default();
    let mut mix_in_process = workload::MixResult::default();
    let mix_round = plan.mix / ROUNDS;
    let mut running = Some(node);
    for round_idx in 0..u64::from(ROUNDS) {
        let seed = args.seed.wrapping_add(round_idx * 2);
        let mut node = match running.take() {
            Some(node) => node,
            None => start_node()?,
        };
        let clinic_http = workload::HttpClinic::new(node.addr(), plan.clinicians);
        mix_http.merge(workload::run(
            &clinic_http,
            &data,
            plan.clinicians,
            mix_round,
            seed,
        )?);
        node.stop();
        drop(node);
        mix_in_process.merge(workload::run(
            &clinic_in_process,
            &data,
            plan.clinicians,
            mix_round,
            seed + 1,
        )?);
    }
    drop(clinic_in_process);

    // 7b. What access control and audit add to a read (see `access.rs` for the method).
    step("access control and audit: cost on a read (CPU time)");
    let access_set = access::read_set(&ehr, &keys, &SYSTEM, 50, 5_000)?;
    let (without_us, with_us) =
        access::in_process(&ehr, store.as_ref(), &access_set, ROUNDS * 2, plan.load / 2)?;
    let (http_us, http_rate) = if args.in_process {
        (None, None)
    } else {
        let mut node = start_node()?;
        let pid = node.pid().context("the node has no process id")?;
        let measured = access::http(
            &work,
            node.addr(),
            pid,
            &access_set,
            plan.load.as_secs().max(1),
        );
        node.stop();
        let (us, rate) = measured?;
        (Some(us), Some(rate))
    };
    let access_cost = access::AccessCost {
        reads_in_set: access_set.reads.len(),
        clues: access_set.clues.clone(),
        without_us,
        with_us,
        http_us,
        http_rate,
    };
    step(&format!(
        "access: {:.1} µs/read without, {:.1} with (in-process); HTTP {:?} µs/read",
        access_cost.without_us, access_cost.with_us, access_cost.http_us
    ));
    // 7c. Bulk Data $export of the whole store (issue 16), from a freshly started server so
    // that its peak memory is the export's; the floor is the store read alone.
    let export_run = if args.in_process {
        None
    } else {
        step("bulk $export of the whole store over HTTP (a fresh server), then the store scan");
        let mut node = start_node()?;
        let measured = export::over_http(node.addr(), node.pid(), &node_dir);
        node.stop();
        let measured = measured?;
        let scan = export::store_scan(store.as_ref())?;
        step(&format!(
            "$export: {} resources in {:.1} s ({:.0}/s); store scan {:.0}/s",
            measured.resources,
            measured.seconds,
            measured.rate(),
            scan.0 as f64 / scan.1.max(1e-9)
        ));
        Some((measured, scan))
    };
    drop(ehr);
    store.close();
    drop(store);

    // 8. The table.
    let mut rows = Vec::new();
    rows.push(
        Row::new(
            "Bulk import, all search indexes (`ehr::import_source`, as `expediente import`)",
            node_import.rate(),
            "res/s",
        )
        .detail(format!(
            "{} resources in {:.1} s",
            report::format_count(node_import.loaded),
            node_import.seconds
        ))
        .baseline(
            floor.rate(),
            format!(
                "bare SQLite table of JSON blobs, no index, WAL + synchronous=FULL, {} rows/tx",
                report::format_count(ehr::IMPORT_BATCH_RESOURCES as u64)
            ),
        )
        .target("≥ 20,000 res/s", node_import.rate() >= IMPORT_TARGET_PER_S),
    );
    rows.push(
        Row::new(
            "Bulk import, rate over the last 20 % of resources",
            node_import.tail_rate,
            "res/s",
        )
        .baseline(node_import.rate(), "whole import")
        .target(
            "≥ 20,000 res/s (sustained)",
            node_import.tail_rate >= IMPORT_TARGET_PER_S,
        ),
    );
    if let (Some(peak), Some(before)) = (node_import.peak_rss_kib, node_import.rss_before_kib) {
        rows.push(
            Row::new("Import peak RSS (bench process, VmHWM)", mb(peak), "MB")
                .baseline(mb(before), "RSS of the bench process before the import"),
        );
    }
    rows.push(
        Row::new(
            "Access control + audit, CPU added per read (physician with care relationship, in-process)",
            access_cost.added_us(),
            "µs",
        )
        .detail(format!(
            "{:.1} µs with, {} resources of clinic {}",
            access_cost.with_us, access_cost.reads_in_set, access_cost.clues
        ))
        .baseline(
            access_cost.without_us,
            "CPU per read without access control or audit (store read + checks)",
        ),
    );
    if let (Some(http_us), Some(rate)) = (access_cost.http_us, access_cost.http_rate) {
        let without_http = (http_us - access_cost.added_us()).max(f64::MIN_POSITIVE);
        let share = access_cost.added_us() / without_http;
        rows.push(
            Row::new(
                "Access control + audit cost on an HTTP read, % of the read without them (CPU)",
                share * 100.0,
                "%",
            )
            .detail(format!(
                "node CPU {http_us:.1} µs per read as the physician, {} req/s",
                report::format_count(rate.round() as u64)
            ))
            .baseline(
                without_http,
                "node CPU µs per read without them (HTTP − added)",
            )
            .target("≤ 15 %", share <= 0.15),
        );
    }
    if let Some((run, scan)) = &export_run {
        rows.extend(export_rows(run, *scan));
    }
    let loader_label = if args.in_process {
        "built-in client, 32 connections"
    } else {
        "wrk -t2 -c32"
    };
    let mut read_row = Row::new(
        format!("Read by id over HTTP, 32 keep-alive clients ({loader_label})"),
        read_http.rate(),
        "req/s",
    )
    .detail(format!("p99 {:.2} ms", read_http.p99_ms));
    match (&read_peer, &peer_figures) {
        (Some(theirs), Some((loaded, _, _))) => {
            read_row = read_row
                .baseline(
                    theirs.rate(),
                    format!(
                        "Medplum in-memory peer (Node), same ids, {} resources loaded",
                        report::format_count(*loaded)
                    ),
                )
                .target(
                    "≥ 2× peer",
                    read_http.rate() >= READ_TARGET_RATIO * theirs.rate(),
                );
        }
        _ => read_row.baseline_label = "peer skipped".into(),
    }
    rows.push(read_row);
    rows.push(
        Row::new(
            "Read by id over HTTP vs the direct store call",
            read_http.rate(),
            "req/s",
        )
        .baseline(
            read_in_process_rate,
            format!("`ehr.read` in-process, {IN_PROCESS_READ_THREADS} threads, same ids"),
        ),
    );
    let latency_rows: [(&str, &Stats, &Stats, bool); 3] = [
        (
            "Search `Patient?identifier=<CURP system>|<CURP>`, 1 client, p99",
            &search_http.identifier,
            &search_in_process.identifier,
            true,
        ),
        (
            "Search `Patient?name=<family>`, 1 client, p99",
            &search_http.name,
            &search_in_process.name,
            false,
        ),
        (
            "Search `Observation?code=http://loinc.org|2339-0&date=ge2025-01-01&patient=<id>`, 1 client, p99",
            &search_http.code_date,
            &search_in_process.code_date,
            false,
        ),
    ];
    for (measure, http, in_process, targeted) in latency_rows {
        let mut row = Row::new(measure, http.p99, "ms")
            .detail(format!("p50 {:.2} ms, {} queries", http.p50, http.n))
            .baseline(
                in_process.p99,
                format!(
                    "`ehr.search` in-process, same queries (p50 {:.2} ms)",
                    in_process.p50
                ),
            );
        if targeted {
            row = row.target("p99 < 10 ms", http.p99 < SEARCH_P99_TARGET_MS);
        }
        rows.push(row);
    }
    rows.push(
        Row::new(
            format!("Search by identifier, 32 keep-alive clients ({loader_label}), p99"),
            identifier_load.p99_ms,
            "ms",
        )
        .detail(format!(
            "{} req/s, p50 {:.2} ms",
            report::format_count(identifier_load.rate().round() as u64),
            identifier_load.p50_ms
        ))
        .baseline(read_http.p99_ms, "read by id under the same load (p99)")
        .target("p99 < 10 ms", identifier_load.p99_ms < SEARCH_P99_TARGET_MS),
    );
    let (smallest, largest) = (
        everything.sizes.iter().copied().min().unwrap_or(0),
        everything.sizes.iter().copied().max().unwrap_or(0),
    );
    rows.push(
        Row::new(
            "`Patient/{id}/$everything`, ~500-resource charts, server-side median (`Server-Timing`)",
            everything.server.p50,
            "ms",
        )
        .detail(format!(
            "client-observed median {:.2} ms; {} charts of {smallest}–{largest} resources",
            everything.client.p50,
            everything.sizes.len()
        ))
        .baseline(
            everything.in_process.p50,
            "`ehr.everything` in-process (median)",
        )
        .target(
            "median < 5 ms",
            everything.server.p50 < EVERYTHING_MEDIAN_TARGET_MS,
        ),
    );
    rows.push(
        Row::new(
            format!(
                "Clinic morning over HTTP, {} clinicians: operations/s",
                plan.clinicians
            ),
            mix_http.ops_rate(),
            "ops/s",
        )
        .detail(format!(
            "{} visits of 4 operations",
            report::format_count(mix_http.visits)
        ))
        .baseline(
            mix_in_process.ops_rate(),
            "the same visits through `ehr` in-process",
        ),
    );
    for op in workload::OPS {
        let (http, in_process) = (mix_http.stats(op), mix_in_process.stats(op));
        rows.push(
            Row::new(
                format!("Clinic morning p95: {}", op.label()),
                http.p95,
                "ms",
            )
            .detail(format!("p50 {:.2} ms", http.p50))
            .baseline(
                in_process.p95,
                format!("in-process p95 (p50 {:.2} ms)", in_process.p50),
            ),
        );
    }
    if let Some(kib) = serve_peak_kib {
        let mut row = Row::new(
            "`serve` peak RSS after the read and search loads (VmHWM)",
            mb(kib),
            "MB",
        )
        .target("< 150 MB", mb(kib) < SERVE_RSS_TARGET_MB);
        match &peer_figures {
            Some((loaded, _, Some(peer_kib))) => {
                row = row.baseline(
                    mb(*peer_kib),
                    format!(
                        "Medplum peer VmHWM with {} resources",
                        report::format_count(*loaded)
                    ),
                );
            }
            _ => row.baseline_label = "peer skipped".into(),
        }
        rows.push(row);
    }
    if args.quick {
        notes.push(
            "--quick: 10^4 resources and 2 s loads; the figures only show that the harness works."
                .into(),
        );
    }
    if let Some((_, refused, _)) = &peer_figures
        && *refused > 0
    {
        notes.push(format!(
            "The peer refused {refused} of the resources sent to it; the read list only holds ids it accepted."
        ));
    }
    notes.push(format!(
        "Data: `synth` seed {}, generated in {generate_s:.0} s. Ratios are figure / baseline (for latencies and memory, lower is better). Load average (1 min) {load_before} before the run, {} after: other users of the machine add noise.",
        args.seed,
        load_average()
    ));
    let command = if args.quick {
        "expediente bench --quick".to_string()
    } else {
        format!("expediente bench --scale {}", args.scale)
    };
    let report = Report {
        info: RunInfo {
            date_utc: report::date_utc(),
            revision: report::revision(),
            machine: report::machine(),
            command,
            scale_label: format!(
                "{} resources ({} patients)",
                report::format_count(data.resources),
                report::format_count(data.patients.len() as u64)
            ),
            seconds: started.elapsed().as_secs_f64(),
            notes,
        },
        rows,
    };
    println!("{}", report.markdown());
    report.append_to(&args.out)?;
    step(&format!("appended to {}", args.out.display()));
    Ok(report)
}

/// `--only-export`: the export step alone, on the imported node.
#[allow(clippy::too_many_arguments)]
fn only_export(
    args: &BenchArgs,
    work: &Path,
    node_dir: &Path,
    bench_token: &str,
    store: Arc<store_sqlite::SqliteStore>,
    node_import: &import::NodeImport,
    data: &Dataset,
    started: Instant,
    notes: Vec<String>,
) -> anyhow::Result<Report> {
    let exe = match &args.server_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("cannot find this program")?,
    };
    step("bulk $export of the whole store over HTTP (a fresh server), then the store scan");
    let mut node = Node::start_process(&exe, node_dir, &work.join("serve.log"))?;
    http::set_bearer(node.addr(), bench_token);
    let measured = export::over_http(node.addr(), node.pid(), node_dir);
    node.stop();
    let measured = measured?;
    let scan = export::store_scan(store.as_ref())?;
    store.close();
    let mut rows = vec![
        Row::new(
            "Bulk import, all search indexes (`ehr::import_source`, as `expediente import`)",
            node_import.rate(),
            "res/s",
        )
        .detail(format!(
            "{} resources in {:.1} s",
            report::format_count(node_import.loaded),
            node_import.seconds
        )),
    ];
    rows.extend(export_rows(&measured, scan));
    let report = Report {
        info: RunInfo {
            date_utc: report::date_utc(),
            revision: report::revision(),
            machine: report::machine(),
            command: format!("expediente bench --only-export --scale {}", args.scale),
            scale_label: format!(
                "{} resources ({} patients)",
                report::format_count(data.resources),
                report::format_count(data.patients.len() as u64)
            ),
            seconds: started.elapsed().as_secs_f64(),
            notes,
        },
        rows,
    };
    println!("{}", report.markdown());
    report.append_to(&args.out)?;
    step(&format!("appended to {}", args.out.display()));
    Ok(report)
}

/// `--only-reports`: the public-health pages and CSVs over HTTP on the imported node.
#[allow(clippy::too_many_arguments)]
fn only_reports(
    args: &BenchArgs,
    work: &Path,
    node_dir: &Path,
    bench_token: &str,
    read_path: &str,
    (node_import, data): (&import::NodeImport, &Dataset),
    started: Instant,
    notes: Vec<String>,
) -> anyhow::Result<Report> {
    let exe = match &args.server_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("cannot find this program")?,
    };
    step("public-health pages (as an epidemiologist) and CSVs over HTTP, on a fresh server");
    let mut node = Node::start_process(&exe, node_dir, &work.join("serve.log"))?;
    http::set_bearer(node.addr(), bench_token);
    let today: String = report::date_utc().chars().take(10).collect();
    let rss_before = node
        .pid()
        .and_then(|pid| memory::status_kib(&pid.to_string(), "VmRSS"));
    let measured = reports::over_http(node.addr(), &today, read_path);
    let peak = node.pid().and_then(memory::peak_kib);
    node.stop();
    let measured = measured?;
    let mut rows = Vec::new();
    if node_import.measured() {
        rows.push(
            Row::new(
                "Bulk import, all search indexes (`ehr::import_source`, as `expediente import`)",
                node_import.rate(),
                "res/s",
            )
            .detail(format!(
                "{} resources in {:.1} s",
                report::format_count(node_import.loaded),
                node_import.seconds
            )),
        );
    }
    for timing in &measured.timings {
        let mut row = Row::new(format!("{}: p95", timing.name), timing.p95_ms, "ms")
            .detail(format!(
                "p50 {:.1} ms; first request {:.0} ms; {} bytes; {}",
                timing.p50_ms,
                timing.first_ms,
                report::format_count(timing.bytes as u64),
                timing.path
            ))
            .baseline(
                measured.read_p50_ms,
                "p50 of a read by id over HTTP, same server (ms)",
            );
        if timing.path == "/ui/vigilancia" {
            row = row.target("< 1 s (issue 16: at 10^7)", timing.p95_ms < 1_000.0);
        }
        rows.push(row);
    }
    if let (Some(peak), Some(before)) = (peak, rss_before) {
        rows.push(
            Row::new(
                "`serve` peak RSS after every report (VmHWM: the report indexes held)",
                mb(peak),
                "MB",
            )
            .baseline(mb(before), "its RSS before the first report (MB)"),
        );
    }
    publish(args, "--only-reports", data, started, notes, rows)
}

/// Prints a run of `expediente bench {option}` over `data` and appends it to `--out`.
fn publish(
    args: &BenchArgs,
    option: &str,
    data: &Dataset,
    started: Instant,
    notes: Vec<String>,
    rows: Vec<Row>,
) -> anyhow::Result<Report> {
    let report = Report {
        info: RunInfo {
            date_utc: report::date_utc(),
            revision: report::revision(),
            machine: report::machine(),
            command: format!(
                "expediente bench {option}{}",
                if args.quick {
                    " --quick".to_string()
                } else {
                    format!(" --scale {}", args.scale)
                }
            ),
            scale_label: format!(
                "{} resources ({} patients)",
                report::format_count(data.resources),
                report::format_count(data.patients.len() as u64)
            ),
            seconds: started.elapsed().as_secs_f64(),
            notes,
        },
        rows,
    };
    println!("{}", report.markdown());
    report.append_to(&args.out)?;
    step(&format!("appended to {}", args.out.display()));
    Ok(report)
}

/// `--only-aggregates`: the new-case aggregates on the imported node.
fn only_aggregates(
    args: &BenchArgs,
    ehr: &ehr::Ehr,
    node_import: &import::NodeImport,
    data: &Dataset,
    started: Instant,
    notes: Vec<String>,
) -> anyhow::Result<Report> {
    step("new-case aggregates: built after the import, then kept up to date");
    let run = aggregates::run(ehr, data, args.seed)?;
    let rows = aggregate_rows(node_import, &run);
    publish(args, "--only-aggregates", data, started, notes, rows)
}

/// Bookings measured by `--only-subscriptions` (each waits for its notification).
const SUBSCRIPTION_BOOKINGS: usize = 300;
const SUBSCRIPTION_BOOKINGS_QUICK: usize = 30;

/// `--only-subscriptions`: the delivery latency of a rest-hook subscription on loopback, as a
/// ratio to the plain HTTP write it follows (same bookings, same run). An empty node: the
/// latency of a delivery does not depend on the size of the record.
fn only_subscriptions(args: &BenchArgs, started: Instant) -> anyhow::Result<Report> {
    let (_temp, work): (Option<tempfile::TempDir>, PathBuf) = match &args.work_dir {
        Some(dir) => (None, dir.clone()),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("expediente-bench-")
                .tempdir()
                .context("cannot create a temporary folder")?;
            let path = temp.path().to_path_buf();
            (Some(temp), path)
        }
    };
    let node_dir = work.join("subscriptions-node");
    let (store, ehr, token) = subscriptions::prepare(&node_dir)?;
    let mut node = serve_prepared(args, store, ehr, &node_dir, &work)?;
    subscriptions::authorize(&node, &token);
    let bookings = if args.quick {
        SUBSCRIPTION_BOOKINGS_QUICK
    } else {
        SUBSCRIPTION_BOOKINGS
    };
    step(&format!(
        "{bookings} bookings over HTTP, each waiting for its rest-hook notification"
    ));
    let measured = subscriptions::measure(&node, bookings);
    node.stop();
    let run = measured?;
    let rows = vec![
        Row::new(
            "Subscription delivery latency p95, rest-hook on loopback (booking sent → notification received)",
            run.delivery.p95,
            "ms",
        )
        .detail(format!(
            "{} bookings one at a time; p50 {:.1} ms, p99 {:.1} ms",
            run.delivery.n, run.delivery.p50, run.delivery.p99
        ))
        .baseline(
            run.write.p95,
            "p95 of the same bookings' HTTP write (sent → 201), same run",
        ),
    ];
    let report = Report {
        info: RunInfo {
            date_utc: report::date_utc(),
            revision: report::revision(),
            machine: report::machine(),
            command: "expediente bench --only-subscriptions".into(),
            scale_label: "an empty node (one subscription, one patient)".into(),
            seconds: started.elapsed().as_secs_f64(),
            notes: Vec::new(),
        },
        rows,
    };
    println!("{}", report.markdown());
    report.append_to(&args.out)?;
    step(&format!("appended to {}", args.out.display()));
    Ok(report)
}

/// `--only-booking`: slot search and booking under contention on agendas of `--scale` slots
/// (`booking.rs`), each figure against a baseline from the same run on the same node.
fn only_booking(args: &BenchArgs, started: Instant) -> anyhow::Result<Report> {
    let (_temp, work): (Option<tempfile::TempDir>, PathBuf) = match &args.work_dir {
        Some(dir) => (None, dir.clone()),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("expediente-bench-")
                .tempdir()
                .context("cannot create a temporary folder")?;
            let path = temp.path().to_path_buf();
            (Some(temp), path)
        }
    };
    let slots = if args.quick {
        10_000
    } else {
        args.scale.max(1_000)
    };
    let schedules = (slots as usize).div_ceil(booking::SLOTS_PER_SCHEDULE);
    let (queries, load) = if args.quick {
        (100, Duration::from_secs(2))
    } else {
        (1_000, Duration::from_secs(15))
    };
    let receptionists = args.receptionists.max(1);
    step(&format!(
        "writing {schedules} agendas ({} slots) as NDJSON",
        schedules * booking::SLOTS_PER_SCHEDULE
    ));
    let files = booking::write_agendas(&work.join("agendas"), schedules)?;
    let node_dir = work.join("booking-node");
    step("importing them into a fresh node");
    let imported = import::node(&files, &node_dir)?;
    if imported.rejected > 0 {
        anyhow::bail!(
            "the import refused {} agenda lines: {:?}",
            imported.rejected,
            imported.first_rejections
        );
    }
    let (store, ehr, token) = subscriptions::prepare(&node_dir)?;
    let mut node = serve_prepared(args, store, ehr, &node_dir, &work)?;
    subscriptions::authorize(&node, &token);
    let measured = (|| -> anyhow::Result<_> {
        step(&format!(
            "{queries} slot searches, alternating with reads by id"
        ));
        let search = booking::measure_search(&node, schedules, queries, args.seed)?;
        let patients = booking::patients(&node, receptionists)?;
        step(&format!(
            "{receptionists} receptionists writing appointments without a slot for {load:?} (baseline)"
        ));
        let plain = booking::measure_booking(&node, &patients, schedules, load, false)?;
        step(&format!(
            "{receptionists} receptionists booking slots, {} racing for each, for {load:?}",
            booking::CONTENDERS
        ));
        let contended = booking::measure_booking(&node, &patients, schedules, load, true)?;
        Ok((search, plain, contended))
    })();
    node.stop();
    let (search, plain, contended) = measured?;
    let rows = vec![
        Row::new(
            "Slot search p95 (`Slot?schedule=…&status=free&start=ge…&start=lt…&_sort=start`, one agenda and day), 1 client",
            search.search.p95,
            "ms",
        )
        .detail(format!(
            "{} searches; p50 {:.1} ms, p99 {:.1} ms; {:.1} slots found per search",
            search.search.n, search.search.p50, search.search.p99, search.found_mean
        ))
        .baseline(
            search.read.p95,
            "p95 of `GET Slot/{id}` on the same agendas, alternating",
        ),
        Row::new(
            format!(
                "Booking throughput, {receptionists} receptionists, {} racing per slot (201 or 409)",
                booking::CONTENDERS
            ),
            contended.rate(),
            "req/s",
        )
        .detail(format!(
            "{} attempts: {} booked ({:.0} bookings stored/s), {} refused 409 (slot just taken); no slot booked twice",
            contended.attempts,
            contended.booked,
            contended.booked as f64 / contended.seconds.max(1e-9),
            contended.refused
        ))
        .baseline(
            plain.rate(),
            "the same clients writing Appointments that hold no slot",
        ),
        Row::new(
            format!("Booking p95 under contention, {receptionists} receptionists"),
            contended.latency.p95,
            "ms",
        )
        .detail(format!(
            "p50 {:.1} ms, p99 {:.1} ms",
            contended.latency.p50, contended.latency.p99
        ))
        .baseline(
            plain.latency.p95,
            "p95 of the Appointments that hold no slot, same clients",
        ),
    ];
    let report = Report {
        info: RunInfo {
            date_utc: report::date_utc(),
            revision: report::revision(),
            machine: report::machine(),
            command: format!(
                "expediente bench --only-booking --scale {slots} --receptionists {receptionists}"
            ),
            scale_label: format!(
                "{} schedules, {} slots ({} resources imported in {:.0} s)",
                report::format_count(schedules as u64),
                report::format_count((schedules * booking::SLOTS_PER_SCHEDULE) as u64),
                report::format_count(imported.loaded),
                imported.seconds
            ),
            seconds: started.elapsed().as_secs_f64(),
            notes: Vec::new(),
        },
        rows,
    };
    println!("{}", report.markdown());
    report.append_to(&args.out)?;
    step(&format!("appended to {}", args.out.display()));
    Ok(report)
}

/// The rows of the aggregates' figures.
fn aggregate_rows(node_import: &import::NodeImport, run: &aggregates::AggregatesRun) -> Vec<Row> {
    let with = node_import.seconds + run.build_s;
    let ratio = with / node_import.seconds.max(1e-9);
    vec![
        Row::new(
            "Import with the new-case aggregates brought up to date (import, then the first surveillance count)",
            with,
            "s",
        )
        .detail(format!(
            "import {:.1} s + aggregates {:.2} s ({} new-case rows)",
            node_import.seconds, run.build_s, run.rows
        ))
        .baseline(node_import.seconds, "the same import without aggregates (s)")
        .target("≤ 1.10 × the import", ratio <= 1.10),
        Row::new(
            format!(
                "New-case count after {} single writes (incremental: patients touched only)",
                aggregates::WRITES
            ),
            run.after_writes_s * 1e3,
            "ms",
        )
        .detail(format!(
            "{} patients recomputed; the same rows as the full scan",
            run.recomputed
        ))
        .baseline(
            run.scan_s * 1e3,
            "every Condition and Encounter read and counted, as the report did before (ms)",
        ),
        Row::new(
            "New-case count with nothing changed since the last view",
            run.unchanged_s * 1e3,
            "ms",
        )
        .baseline(run.scan_s * 1e3, "the full scan (ms)"),
        Row::new(
            "The six other reports' facts brought up to date after the import (each report's first view; off the write path)",
            run.others_build_s,
            "s",
        )
        .baseline(node_import.seconds, "the import (s)"),
        Row::new(
            format!(
                "The six other reports after {} single writes (incremental)",
                aggregates::WRITES
            ),
            run.others_after_writes_s * 1e3,
            "ms",
        )
        .baseline(
            run.others_build_s * 1e3,
            "the same six brought up to date from nothing (ms)",
        ),
    ]
}

/// The rows of the `$export` figures.
fn export_rows(run: &export::ExportRun, (scanned, scan_s): (u64, f64)) -> Vec<Row> {
    let mut rows = Vec::new();
    rows.push(
            Row::new(
                "Bulk Data `$export` of the whole store over HTTP, kick-off to manifest (system token)",
                run.rate(),
                "res/s",
            )
            .detail(format!(
                "{} resources in {} files, {:.1} s",
                report::format_count(run.resources),
                run.types,
                run.seconds
            ))
            .baseline(
                scanned as f64 / scan_s.max(1e-9),
                "every current resource read through the store in-process, page by page (no guard, audit or files)",
            ),
        );
    if let (Some(peak), Some(before)) = (run.peak_rss_kib, run.rss_before_kib) {
        rows.push(
            Row::new(
                "`$export` peak RSS of a fresh `serve` (VmHWM)",
                mb(peak),
                "MB",
            )
            .baseline(mb(before), "its RSS before the kick-off"),
        );
    }
    rows.push(
        Row::new(
            "`$export` files on disk, compressed with zstd -3",
            run.zstd_bytes as f64 / 1e6,
            "MB",
        )
        .baseline(run.bytes as f64 / 1e6, "the NDJSON files as served (MB)"),
    );
    rows
}

fn merge_into(total: &mut Option<LoadResult>, round: &LoadResult) {
    match total {
        Some(total) => total.merge(round),
        None => *total = Some(round.clone()),
    }
}

/// Serves the node `subscriptions::prepare` opened in `node_dir`: in this process (the
/// harness's own test), or as an `expediente serve` process once this one has let go of it.
fn serve_prepared(
    args: &BenchArgs,
    store: Arc<store_sqlite::SqliteStore>,
    ehr: ehr::Ehr,
    node_dir: &Path,
    work: &Path,
) -> anyhow::Result<Node> {
    if args.in_process {
        let keys = Arc::new(
            auth::token::KeyStore::load_or_create(node_dir)
                .map_err(|err| anyhow::anyhow!("signing key: {err}"))?,
        );
        return Node::start_in_process(ehr, keys);
    }
    drop(ehr);
    store.close();
    let exe = match &args.server_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("cannot find this program")?,
    };
    Node::start_process(&exe, node_dir, &work.join("serve.log"))
}

/// The 1-minute load average, as `/proc/loadavg` prints it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn step(message: &str) {
    eprintln!("bench: {message}");
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// Checks for the external programs before spending minutes on data.
fn preflight(args: &BenchArgs) -> anyhow::Result<()> {
    if !args.in_process && !servers::available("wrk", "--version") {
        bail!(
            "wrk no está instalado / wrk is not installed: apt-get install -y wrk (Debian/Ubuntu)"
        );
    }
    if !args.skip_peer {
        if !servers::available("node", "--version") || !servers::available("npm", "--version") {
            bail!(
                "el par Medplum necesita Node.js / the Medplum peer needs Node.js: apt-get install -y nodejs npm, or pass --skip-peer"
            );
        }
        if !args.peer_source.join("server.mjs").exists() {
            bail!(
                "no encuentro el par en {} / the peer is not in {}: pass --peer-source DIR or --skip-peer",
                args.peer_source.display(),
                args.peer_source.display()
            );
        }
    }
    Ok(())
}

fn check_errors(what: &str, result: &LoadResult) -> anyhow::Result<()> {
    if result.requests == 0 {
        bail!("{what}: no request completed");
    }
    if result.errors > 0 {
        bail!(
            "{what}: {} of {} requests failed (the ids or queries do not match the data)",
            result.errors,
            result.requests
        );
    }
    Ok(())
}

pub(crate) fn ehr_error(err: ehr::Error) -> anyhow::Error {
    anyhow::anyhow!("{err}: {:?}", err.issues())
}

/// The in-process baselines act as a system principal (the HTTP load's principal).
static SYSTEM: std::sync::LazyLock<ehr::Requester> =
    std::sync::LazyLock::new(|| ehr::Requester::local_system("bench"));

/// A system account for the load and a token for it.
fn bench_token(ehr: &ehr::Ehr, keys: &auth::token::KeyStore) -> anyhow::Result<String> {
    let operator = ehr::Requester::local_system("bench");
    let account = ehr::NewAccount {
        username: "bench".into(),
        role: auth::role::Role::System,
        clues: None,
        practitioner_id: None,
        patient_id: None,
        display_name: "Carga de medición".into(),
    };
    match ehr.add_account(&operator, account, "", auth::password::HashCost::TEST_ONLY) {
        Ok(()) | Err(ehr::Error::Conflict(_)) => {}
        Err(err) => return Err(ehr_error(err)),
    }
    let account = ehr
        .accounts()
        .map_err(ehr_error)?
        .into_iter()
        .find(|a| a.username == "bench")
        .ok_or_else(|| anyhow::anyhow!("the bench account vanished"))?;
    let issued = ehr
        .issue_token(&operator, keys, &account, None, Some(8 * 3_600_000))
        .map_err(ehr_error)?;
    Ok(issued.token)
}

/// Reads by id through `ehr.read` for `duration`; returns (reads, seconds).
fn in_process_reads(
    ehr: &ehr::Ehr,
    data: &Dataset,
    duration: Duration,
) -> anyhow::Result<(u64, f64)> {
    if data.sample.is_empty() {
        bail!("no resources to read");
    }
    let (reads, seconds) = load::parallel_for(IN_PROCESS_READ_THREADS, duration, |thread, n| {
        let sampled = &data.sample[(thread * 7919 + n) % data.sample.len()];
        ehr.read(&SYSTEM, &sampled.resource_type, &sampled.id)
            .map_err(ehr_error)?;
        Ok(())
    })?;
    Ok((reads, seconds))
}

struct SearchSet {
    identifier: Stats,
    name: Stats,
    code_date: Stats,
}

/// Runs each query in-process then over HTTP (one client, one request at a time), until all
/// are done or `budget` is spent. Returns (HTTP, in-process) latencies.
fn paired_search(
    ehr: &ehr::Ehr,
    addr: std::net::SocketAddr,
    queries: &[(String, String)],
    budget: Duration,
) -> anyhow::Result<(Stats, Stats)> {
    let mut client = http::Client::new(addr);
    let mut in_process = Vec::with_capacity(queries.len());
    let http = load::sequential(queries, budget, |(resource_type, query)| {
        let request = ehr::SearchRequest {
            resource_type: resource_type.clone(),
            params: ehr::parse_query_string(query),
            handling: search::Handling::Lenient,
        };
        let started = Instant::now();
        ehr.search(&SYSTEM, &request).map_err(ehr_error)?;
        in_process.push(started.elapsed().as_secs_f64() * 1e3);
        let response = client.get(&format!("/fhir/{resource_type}?{query}"))?;
        if response.status != 200 {
            bail!("search {resource_type}?{query}: HTTP {}", response.status);
        }
        Ok(())
    })?;
    // `sequential` timed both calls; take the in-process part out of the HTTP figure.
    let http: Vec<f64> = http
        .iter()
        .zip(&in_process)
        .map(|(both, inside)| both - inside)
        .collect();
    Ok((Stats::of(http), Stats::of(in_process)))
}

struct Everything {
    /// `Server-Timing` of each HTTP request.
    server: Stats,
    /// Each HTTP request as the client saw it.
    client: Stats,
    in_process: Stats,
    /// Resources in each chart.
    sizes: Vec<usize>,
}

/// `$everything` on each chart `reps` times, in-process then over HTTP in turn; checks that
/// both return the same number of resources.
fn paired_everything(
    ehr: &ehr::Ehr,
    addr: std::net::SocketAddr,
    data: &Dataset,
    reps: usize,
) -> anyhow::Result<Everything> {
    let mut client = http::Client::new(addr);
    let (mut server, mut observed, mut in_process, mut sizes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (patient_id, _) in &data.charts {
        let request = ehr::EverythingRequest {
            patient_id: patient_id.clone(),
            ..ehr::EverythingRequest::default()
        };
        let mut size = 0;
        for _ in 0..reps {
            let started = Instant::now();
            size = ehr.everything(&SYSTEM, &request).map_err(ehr_error)?.len();
            in_process.push(started.elapsed().as_secs_f64() * 1e3);
            let started = Instant::now();
            let response = client.get(&format!("/fhir/Patient/{patient_id}/$everything"))?;
            observed.push(started.elapsed().as_secs_f64() * 1e3);
            if response.status != 200 {
                bail!("$everything for {patient_id}: HTTP {}", response.status);
            }
            let total = workload::bundle_total(&response.text());
            if total != Some(size) {
                bail!(
                    "$everything for {patient_id} returned {total:?} resources over HTTP but {size} in-process"
                );
            }
            server.push(
                response
                    .server_ms()
                    .context("the server sent no Server-Timing header")?,
            );
        }
        sizes.push(size);
    }
    Ok(Everything {
        server: Stats::of(server),
        client: Stats::of(observed),
        in_process: Stats::of(in_process),
        sizes,
    })
}

/// The peer, loaded and serving.
struct LoadedPeer {
    peer: Peer,
    loaded: u64,
    /// Read paths (`/fhir/Type/id`) of the resources the peer refused.
    refused: std::collections::HashSet<String>,
}

impl LoadedPeer {
    fn addr(&self) -> std::net::SocketAddr {
        self.peer.addr
    }
    fn pid(&self) -> u32 {
        self.peer.pid()
    }
    fn stop(&mut self) {
        self.peer.stop();
    }
}

fn start_peer(args: &BenchArgs, work: &Path, data: &Dataset) -> anyhow::Result<LoadedPeer> {
    step("starting and loading the Medplum in-memory peer");
    let peer = Peer::start(&args.peer_source, &work.join("peer.log"))?;
    let loaded_at = Instant::now();
    let (loaded, rejected, refused) = load_peer(peer.addr, data, args.peer_resources_max)?;
    step(&format!(
        "peer: {loaded} resources loaded ({rejected} refused) in {:.1} s",
        loaded_at.elapsed().as_secs_f64()
    ));
    Ok(LoadedPeer {
        peer,
        loaded,
        refused,
    })
}

/// Loads the peer with the first `max` resources in import order plus every sampled one, as
/// batch Bundles of PUTs (ids kept). Returns (loaded, refused, refused read paths).
fn load_peer(
    addr: std::net::SocketAddr,
    data: &Dataset,
    max: u64,
) -> anyhow::Result<(u64, u64, std::collections::HashSet<String>)> {
    use std::collections::HashSet;
    use std::io::BufRead;
    let mut wanted: HashSet<(String, String)> = data
        .sample
        .iter()
        .map(|s| (s.resource_type.clone(), s.id.clone()))
        .collect();
    let mut client = http::Client::new(addr);
    let mut batch: Vec<(String, String, String)> = Vec::new();
    let mut sent = 0u64;
    let mut loaded = 0u64;
    let mut refused = HashSet::new();
    let mut flush = |batch: &mut Vec<(String, String, String)>,
                     loaded: &mut u64,
                     refused: &mut HashSet<String>|
     -> anyhow::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let entries: Vec<String> = batch
            .iter()
            .map(|(t, id, line)| {
                format!(r#"{{"resource":{line},"request":{{"method":"PUT","url":"{t}/{id}"}}}}"#)
            })
            .collect();
        let bundle = format!(
            r#"{{"resourceType":"Bundle","type":"batch","entry":[{}]}}"#,
            entries.join(",")
        );
        let response = client.post_json("/fhir", &bundle)?;
        if response.status != 200 {
            bail!("peer batch: HTTP {}: {}", response.status, response.text());
        }
        let value: serde_json::Value =
            serde_json::from_slice(&response.body).context("peer batch response")?;
        let statuses = value["entry"].as_array().cloned().unwrap_or_default();
        for (idx, (t, id, _)) in batch.iter().enumerate() {
            let ok = statuses
                .get(idx)
                .and_then(|e| e["response"]["status"].as_str())
                .is_some_and(|s| s.starts_with('2'));
            if ok {
                *loaded += 1;
            } else {
                refused.insert(format!("/fhir/{t}/{id}"));
            }
        }
        batch.clear();
        Ok(())
    };
    for file in &data.files {
        let resource_type = data::file_resource_type(file).to_string();
        let reader = std::io::BufReader::with_capacity(1 << 20, data::open(file)?);
        for line in reader.lines() {
            let line = line?;
            let Some(id) = data::string_after(&line, "\"id\":\"") else {
                continue;
            };
            let key = (resource_type.clone(), id.to_string());
            let is_wanted = wanted.remove(&key);
            if sent >= max && !is_wanted {
                continue;
            }
            sent += 1;
            batch.push((key.0, key.1, line.clone()));
            if batch.len() >= PEER_BATCH_ENTRIES {
                flush(&mut batch, &mut loaded, &mut refused)?;
            }
        }
        if sent >= max && wanted.is_empty() {
            break;
        }
    }
    flush(&mut batch, &mut loaded, &mut refused)?;
    Ok((loaded, sent - loaded, refused))
}
