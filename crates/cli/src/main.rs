//! The `expediente` binary: one program for clinic nodes, the hub and operators' tools.
//!
//! Only this crate knows argv, environment variables, exit codes and which storage backend
//! is in use; everything else receives plain values.

mod commands;
mod config;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// `expediente --version`: the release and the git revision it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("EXPEDIENTE_GIT_REVISION"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "expediente",
    version = VERSION,
    about = "Expediente: nodo del expediente clínico digital nacional (FHIR R4)",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Formato de los registros en stderr / Log format on stderr: `text` (default) or `json`
    /// (one JSON object per line, for log collectors)
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "EXPEDIENTE_LOG_FORMAT"
    )]
    log_format: LogFormat,
    /// Archivo de configuración TOML (opciones por nombre; las banderas y variables de entorno
    /// mandan sobre él) / TOML config file (options by name; flags and environment variables
    /// override it)
    #[arg(long, global = true, env = config::CONFIG_ENV)]
    config: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Sirve la API FHIR de un nodo / Serve a node's FHIR API
    Serve(commands::serve::ServeArgs),
    /// Carga archivos NDJSON o Bundles FHIR / Load FHIR NDJSON or Bundle files
    Import(commands::import::ImportArgs),
    /// Genera una población sintética mexicana / Generate a synthetic Mexican population
    Generate(synth::GenerateArgs),
    /// Nodo de demostración con datos sintéticos / Demo node with synthetic data
    Demo(commands::demo::DemoArgs),
    /// Índice maestro de pacientes: datos etiquetados y mediciones / Master patient index: labelled data and benchmarks
    Mpi(commands::mpi::MpiArgs),
    /// Mide el nodo contra líneas base de la misma corrida / Benchmark the node against same-run baselines
    Bench(bench::BenchArgs),
    /// Cuentas de usuario / User accounts
    User(commands::security::UserArgs),
    /// Aplicaciones SMART registradas / Registered SMART apps
    App(commands::apps::AppArgs),
    /// Tokens de acceso / Access tokens
    Token(commands::security::TokenArgs),
    /// Bitácora de auditoría / Audit trail
    Audit(commands::security::AuditArgs),
    /// Nodos que sincronizan con el nodo central / Nodes that sync with the hub
    Node(commands::node::NodeArgs),
    /// Sincronización entre nodos / Sync between nodes
    Sync(commands::node::SyncCmdArgs),
    /// Mide la sincronización entre nodos / Benchmark sync between nodes
    BenchSync(commands::bench_sync::BenchSyncArgs),
    /// Mide el reparto al agregar un nodo de Citus mientras las clínicas envían / Benchmark
    /// adding a Citus worker while clinics push
    BenchRebalance(commands::bench_rebalance::BenchRebalanceArgs),
    /// Lleva el esquema de la base de datos a esta versión (también lo hace `serve` al
    /// arrancar) / Bring the database schema up to this version (`serve` also does on start)
    Migrate(commands::database::MigrateArgs),
    /// Los nodos trabajadores de un nodo central en Citus / The workers of a Citus hub
    Cluster(commands::cluster::ClusterArgs),
    /// Respaldo en línea y consistente del nodo / Online, consistent backup of the node
    Backup(commands::backup::BackupArgs),
    /// Restaura un respaldo en un nodo nuevo y lo verifica / Restore a backup into a new node and verify it
    Restore(commands::backup::RestoreArgs),
}

/// Permission bits removed from every file and directory this process creates: health data
/// (the database and its WAL, keys, demo accounts, exports, generated files) is readable by the
/// node's OS user only, files `0600` and directories `0700` (issue 12). Set first, for the
/// whole process, so that no path (SQLite's own journal files, a future export) can forget it.
#[cfg(unix)]
const UMASK: u32 = 0o077;

fn main() -> std::process::ExitCode {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(UMASK));
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = match config::configure(Cli::command(), &args) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("error: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    let cli = match Cli::from_arg_matches(&command.get_matches_from(args)) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    // `RUST_LOG` chooses what is logged; the access log (one line per API request, target
    // `access`) is off unless asked for: `RUST_LOG=info,access=info`.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,access=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().init(),
        // Colour codes only for a person at a terminal, never into files or journals.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    let outcome = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Generate(args) => commands::generate::run(&args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Mpi(args) => commands::mpi::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::User(args) => commands::security::run_user(args),
        Command::App(args) => commands::apps::run(args),
        Command::Token(args) => commands::security::run_token(args),
        Command::Audit(args) => commands::security::run_audit(args),
        Command::Node(args) => commands::node::run_node(args),
        Command::Sync(args) => commands::node::run_sync(args),
        Command::BenchSync(args) => commands::bench_sync::run(args),
        Command::Migrate(args) => commands::database::run_migrate(&args),
        Command::Cluster(args) => commands::cluster::run(args),
        Command::BenchRebalance(args) => commands::bench_rebalance::run(args),
        Command::Backup(args) => commands::backup::run_backup(args),
        Command::Restore(args) => commands::backup::run_restore(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<commands::NoNode>().is_some() {
                // A usage error, like clap's own: nothing was read or written.
                return std::process::ExitCode::from(2);
            }
            std::process::ExitCode::FAILURE
        }
    }
}
