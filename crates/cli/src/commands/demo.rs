//! `expediente demo`: the README's first command. On an empty data directory it generates a
//! small synthetic population, imports it and serves; on an existing one it just serves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser};

#[derive(Args, Clone)]
pub struct DemoArgs {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data")]
    pub data: PathBuf,
    /// Dirección de escucha / Listen address
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Pacientes sintéticos a generar / Synthetic patients to generate
    #[arg(long, default_value_t = 2_000)]
    pub patients: u64,
    /// Clínicas a las que pertenecen / Clinics they belong to
    #[arg(long, default_value_t = 6)]
    pub clinics: u32,
    /// Semilla / Seed
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Solo preparar los datos, sin servir / Prepare the data, do not serve
    #[arg(long)]
    pub no_serve: bool,
}

/// Lets the demo build `synth::GenerateArgs` through the same parser users go through.
#[derive(Parser)]
struct GenerateCommand {
    #[command(flatten)]
    args: synth::GenerateArgs,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let db = args.data.join(store_sqlite::DB_FILE_NAME);
    if db.exists() {
        println!("Usando los datos existentes en {}", args.data.display());
    } else {
        prepare(&args)?;
    }
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    println!(
        "Abra http://{}/fhir/metadata o consulte http://{}/fhir/Patient?_count=10",
        args.listen, args.listen
    );
    println!("Detener con Ctrl-C.");
    super::serve::run(super::serve::ServeArgs {
        data: args.data,
        listen: args.listen,
        body_limit_bytes: rest::BODY_LIMIT_BYTES_DEFAULT,
        base_url: None,
        sync: Default::default(),
    })
}

fn prepare(args: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let generated = args.data.join("demo-ndjson");
    std::fs::create_dir_all(&generated)
        .with_context(|| format!("cannot create {}", generated.display()))?;
    println!(
        "Generando {} pacientes sintéticos en {} clínicas…",
        args.patients, args.clinics
    );
    let command = GenerateCommand::try_parse_from([
        "generate".to_string(),
        "--patients".to_string(),
        args.patients.to_string(),
        "--seed".to_string(),
        args.seed.to_string(),
        "--clinics".to_string(),
        args.clinics.to_string(),
        "--out".to_string(),
        generated.display().to_string(),
    ])
    .context("demo generator arguments")?;
    super::generate::run(&command.args)?;
    println!("Importando…");
    let files = super::import::expand(std::slice::from_ref(&generated))?;
    let (store, ehr) = super::open_node(&args.data, true)?;
    let import_started = Instant::now();
    let report = ehr::import_source(&ehr, &super::import::sources(&files), false, &|_| {})
        .map_err(|err| anyhow::anyhow!("{err}: {:?}", err.issues()))?;
    store.close();
    super::import::print_report(&report, import_started.elapsed().as_secs_f64(), false);
    println!(
        "Nodo de demostración listo en {:.1} s ({}).",
        started.elapsed().as_secs_f64(),
        args.data.display()
    );
    Ok(())
}
