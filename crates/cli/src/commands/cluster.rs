//! `expediente cluster`: the workers of a Citus hub (issue 15). Listing what each worker holds,
//! adding one, and moving shards onto it with Citus's rebalancer while the hub keeps serving
//! (`store_postgres::cluster`, reached through `database`). Clinics need none of this: their SQLite store has no workers.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::database::citus::{self as cluster, TransferMode};
use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Args)]
pub struct ClusterArgs {
    /// El coordinador de Citus: `postgres://…` / The Citus coordinator: `postgres://…`
    #[arg(long, env = "EXPEDIENTE_DATABASE_URL", hide_env_values = true)]
    pub database: String,
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Los nodos que guardan fragmentos, con cuántos y cuántos bytes / The nodes holding
    /// shards, with how many and how many bytes
    Workers,
    /// Agrega un nodo trabajador (PostgreSQL con la extensión citus ya creada) / Add a worker
    /// (PostgreSQL with the citus extension already created)
    AddWorker {
        /// servidor:puerto / host:port
        address: String,
        /// Mueve fragmentos al nuevo nodo enseguida / Move shards onto it right away
        #[arg(long)]
        rebalance: bool,
        #[arg(long, value_enum, default_value_t = Mode::Auto)]
        mode: Mode,
    },
    /// Reparte los fragmentos entre los nodos, en segundo plano / Spread the shards over the
    /// workers, in the background
    Rebalance {
        #[arg(long, value_enum, default_value_t = Mode::Auto)]
        mode: Mode,
        /// Espera a que termine / Wait until it ends
        #[arg(long)]
        wait: bool,
    },
}

/// How shards are copied while they move.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Mode {
    /// Replicación lógica si se puede / Logical replication where possible
    Auto,
    /// Replicación lógica: las escrituras siguen / Logical replication: writes go on
    ForceLogical,
    /// Las escrituras al fragmento esperan / Writes to a moving shard wait
    BlockWrites,
}

impl From<Mode> for TransferMode {
    fn from(mode: Mode) -> TransferMode {
        match mode {
            Mode::Auto => TransferMode::Auto,
            Mode::ForceLogical => TransferMode::ForceLogical,
            Mode::BlockWrites => TransferMode::BlockWrites,
        }
    }
}

/// `host:port` of a worker.
pub(crate) fn address(text: &str) -> anyhow::Result<(String, i32)> {
    let (host, port) = text
        .rsplit_once(':')
        .with_context(|| format!("«{text}»: use servidor:puerto / use host:port"))?;
    let port: i32 = port
        .parse()
        .ok()
        .filter(|p| (1..=65_535).contains(p))
        .with_context(|| format!("«{port}» no es un puerto / is not a port"))?;
    if host.is_empty() {
        bail!("«{text}»: falta el servidor / the host is missing");
    }
    Ok((host.to_string(), port))
}

pub fn run(args: ClusterArgs) -> anyhow::Result<ExitCode> {
    let url = args.database.as_str();
    match args.command {
        ClusterCommand::Workers => print_workers(url)?,
        ClusterCommand::AddWorker {
            address: text,
            rebalance,
            mode,
        } => {
            let (host, port) = address(&text)?;
            cluster::add_worker(url, &host, port)?;
            println!("nodo agregado / worker added: {host}:{port}");
            if rebalance {
                start_and_wait(url, mode.into(), true)?;
            }
            print_workers(url)?;
        }
        ClusterCommand::Rebalance { mode, wait } => {
            start_and_wait(url, mode.into(), wait)?;
            if wait {
                print_workers(url)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_workers(url: &str) -> anyhow::Result<()> {
    println!("node\tshards\tbytes");
    for w in cluster::workers(url)? {
        println!("{}:{}\t{}\t{}", w.host, w.port, w.shards, w.bytes);
    }
    Ok(())
}

/// Starts a rebalance and, with `wait`, follows it to its end (an error if it did not finish).
/// Returns the job's seconds when waited for.
pub(crate) fn start_and_wait(
    url: &str,
    mode: TransferMode,
    wait: bool,
) -> anyhow::Result<Option<f64>> {
    let started = Instant::now();
    let Some(job) = cluster::rebalance_start(url, mode)? else {
        println!("nada que mover / nothing to move");
        return Ok(None);
    };
    println!("reparto iniciado / rebalance started: job {job}");
    if !wait {
        return Ok(None);
    }
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let Some(status) = cluster::rebalance_status(url)? else {
            continue;
        };
        if status.job_id == job && status.ended() {
            let seconds = started.elapsed().as_secs_f64();
            if status.state != "finished" {
                bail!(
                    "el reparto terminó «{}» / the rebalance ended «{}»: {}",
                    status.state,
                    status.state,
                    status.details
                );
            }
            println!("reparto terminado en {seconds:.1} s / rebalance finished in {seconds:.1} s");
            return Ok(Some(seconds));
        }
    }
}
