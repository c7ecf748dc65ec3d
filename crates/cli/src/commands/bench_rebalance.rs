//! `expediente bench-rebalance`: adding a worker to a Citus hub while clinics keep pushing
//! (issue 15). On a hub whose database is a Citus coordinator (loaded beforehand, e.g. with
//! `expediente import --database`, so that there is something to move):
//! 1. clinics push a population at once, as `bench-sync`'s ingest: the push latency before;
//! 2. a worker is added (`citus_add_node`) and Citus's rebalancer started
//!    (`citus_rebalance_start`), and while it moves shards clinics push further populations:
//!    the push latency during, and the rebalance's time per GB moved;
//! 3. what each worker holds before and after (shards, bytes): the balance.
//!
//! `scripts/bench-rebalance.sh` sets up the cluster (two workers and a spare node), loads it
//! and runs this.

use std::process::ExitCode;
use std::time::Instant;

use super::database::citus::{self as cluster, Worker};
use clap::Args;

use super::bench_sync::{self, BenchSyncArgs};
use super::cluster::{Mode, address, start_and_wait};

#[derive(Args, Clone, Debug)]
pub struct BenchRebalanceArgs {
    /// El coordinador de Citus del nodo central / The hub's Citus coordinator
    #[arg(long)]
    pub hub_database: String,
    /// El nodo que se agrega (servidor:puerto, con citus creado) / The worker to add
    /// (host:port, citus created)
    #[arg(long)]
    pub add_worker: String,
    /// Pacientes por población empujada (como `bench-sync`: ~5,000 recursos) / Patients per
    /// pushed population (as `bench-sync`: ~5,000 resources)
    #[arg(long, default_value_t = 40)]
    pub patients: u64,
    /// Clínicas que empujan a la vez / Clinics pushing at once
    #[arg(long, default_value_t = 27)]
    pub clinics: usize,
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    pub mode: Mode,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(args: BenchRebalanceArgs) -> anyhow::Result<ExitCode> {
    bench_sync::on_runtime(bench(args))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Pushes, their resources and seconds, summed over populations.
#[derive(Default)]
struct Pushed {
    resources: usize,
    seconds: f64,
    push_ms: Vec<f64>,
}

impl Pushed {
    fn add(&mut self, run: bench_sync::Ingest) {
        self.resources += run.resources;
        self.seconds += run.seconds;
        self.push_ms.extend(run.push_ms);
    }

    fn line(&mut self) -> String {
        self.push_ms.sort_by(f64::total_cmp);
        format!(
            "{} resources in {} pushes, {:.0} resources/s; push p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms",
            self.resources,
            self.push_ms.len(),
            self.resources as f64 / self.seconds.max(1e-9),
            percentile(&self.push_ms, 0.5),
            percentile(&self.push_ms, 0.95),
            percentile(&self.push_ms, 0.99)
        )
    }
}

fn show(workers: &[Worker]) -> String {
    workers
        .iter()
        .map(|w| {
            format!(
                "{}:{} {} shards {:.1} MB",
                w.host,
                w.port,
                w.shards,
                w.bytes as f64 / 1e6
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

async fn bench(args: BenchRebalanceArgs) -> anyhow::Result<()> {
    let temp =
        std::env::temp_dir().join(format!("expediente-bench-rebalance-{}", std::process::id()));
    std::fs::create_dir_all(&temp)?;
    let result = measure(&args, &temp).await;
    let _ = std::fs::remove_dir_all(&temp);
    result
}

async fn measure(args: &BenchRebalanceArgs, temp: &std::path::Path) -> anyhow::Result<()> {
    let (host, port) = address(&args.add_worker)?;
    let url = args.hub_database.clone();
    let database = super::database::DatabaseArg {
        database: Some(url.clone()),
    };
    let hub = bench_sync::start_hub_on(&temp.join("hub"), &database).await?;
    let populations = |round: u64| {
        let sync_args = BenchSyncArgs {
            patients: args.patients,
            link_kbit: 1_000,
            rtt_ms: 300,
            clinics: args.clinics,
            chart_resources: 500,
            seed: args.seed * 1_000 + round,
            hub_database: None,
        };
        let lines = bench_sync::population(
            &sync_args,
            &temp.join(format!("population-{round}")),
            args.clinics.max(1) as u64,
        )?;
        anyhow::Ok(bench_sync::split(&lines))
    };

    // Before: one population pushed with the cluster as it is.
    let before_workers = tokio::task::block_in_place(|| cluster::workers(&url))?;
    let mut before = Pushed::default();
    let country = populations(0)?;
    before.add(bench_sync::ingest(&hub, &country, &temp.join("ingest-0")).await?);
    eprintln!("bench-rebalance: before: {}", before.line());

    // During: the worker added and the rebalance running, clinics pushing new populations
    // until it has ended (at least one).
    let mode = args.mode;
    let rebalance_url = url.clone();
    let started = Instant::now();
    let rebalance = tokio::task::spawn_blocking(move || {
        cluster::add_worker(&rebalance_url, &host, port)?;
        start_and_wait(&rebalance_url, mode.into(), true)
    });
    let mut during = Pushed::default();
    let mut round = 1;
    while !rebalance.is_finished() || round == 1 {
        let country = populations(round)?;
        during
            .add(bench_sync::ingest(&hub, &country, &temp.join(format!("ingest-{round}"))).await?);
        round += 1;
    }
    let rebalance_s = rebalance
        .await??
        .unwrap_or_else(|| started.elapsed().as_secs_f64());
    let after_workers = tokio::task::block_in_place(|| cluster::workers(&url))?;
    eprintln!("bench-rebalance: during: {}", during.line());

    let on_new: i64 = after_workers
        .iter()
        .filter(|w| format!("{}:{}", w.host, w.port) == args.add_worker)
        .map(|w| w.bytes)
        .sum();
    let shards: Vec<i64> = after_workers
        .iter()
        .filter(|w| w.shards > 0)
        .map(|w| w.shards)
        .collect();
    let (most, least) = (
        shards.iter().copied().max().unwrap_or(0),
        shards.iter().copied().min().unwrap_or(0),
    );
    println!("| figure | measured |");
    println!("|---|---|");
    println!("| before: workers | {} |", show(&before_workers));
    println!("| pushes before the worker was added | {} |", before.line());
    println!(
        "| rebalance (`citus_add_node` + `citus_rebalance_start`, {:?}) | {rebalance_s:.1} s; {:.1} MB on the new worker after it: {:.0} s per GB moved |",
        args.mode,
        on_new as f64 / 1e6,
        rebalance_s / (on_new as f64 / 1e9).max(1e-9)
    );
    println!(
        "| pushes while it ran ({} populations) | {} |",
        round - 1,
        during.line()
    );
    println!("| after: workers | {} |", show(&after_workers));
    println!(
        "| shard balance after (most / fewest placements per node holding any) | {most} / {least} = {:.2} |",
        most as f64 / least.max(1) as f64
    );
    Ok(())
}
