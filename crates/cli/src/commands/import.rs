//! `expediente import`: load NDJSON and Bundle files (plain, gzip or zstd) into a node.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Clone)]
pub struct ImportArgs {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data", env = "EXPEDIENTE_DATA")]
    pub data: PathBuf,
    #[command(flatten)]
    pub database: super::database::DatabaseArg,
    /// No cargar nada si algún recurso es inválido / Load nothing if any resource is invalid
    #[arg(long)]
    pub strict: bool,
    /// Archivos o directorios (.ndjson, .json, con .gz o .zst) / Files or directories
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// How many rejections are printed one by one; the rest are counted.
const REJECTIONS_PRINTED_MAX: usize = 200;

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let files = expand(&args.files)?;
    if files.is_empty() {
        bail!("no hay archivos que importar / no files to import");
    }
    let (store, ehr) = super::open_node(&args.data, &args.database, true)?;
    let sources = sources(&files);
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} {pos} recursos guardados / resources stored ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    // Progress arrives once per committed batch (a few seconds apart); the spinner keeps moving.
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    let started = Instant::now();
    let report = ehr::import_source(
        &ehr,
        &ehr::Requester::local_system("cli:import"),
        &sources,
        args.strict,
        &|read| bar.set_position(read),
    )
    .map_err(|err| anyhow::anyhow!("{err}: {:?}", err.issues()))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    ehr.close_audit();
    store.close();
    print_report(&report, elapsed, args.strict);
    if report.rejected_total() > 0 {
        if args.strict {
            return Ok(ExitCode::from(2));
        }
        // A script that loads files must see that not everything arrived: exit 1, after the
        // summary (what loaded stays loaded).
        eprintln!(
            "importación incompleta: {} recursos rechazados / incomplete import: {} resources rejected",
            report.rejected_total(),
            report.rejected_total()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_report(report: &ehr::ImportReport, elapsed_s: f64, strict: bool) {
    for rejection in report.rejections.iter().take(REJECTIONS_PRINTED_MAX) {
        println!(
            "rechazado {}:{} {}: {}",
            rejection.file, rejection.line, rejection.resource_type, rejection.reason
        );
    }
    if report.rejections.len() > REJECTIONS_PRINTED_MAX {
        println!(
            "… y {} rechazos más",
            report.rejected_total() as usize - REJECTIONS_PRINTED_MAX
        );
    }
    let mut types: Vec<&String> = report
        .loaded
        .keys()
        .chain(report.rejected.keys())
        .chain(report.unchanged.keys())
        .collect();
    types.sort();
    types.dedup();
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "tipo", "cargados", "sin cambio", "rechazados"
    );
    for resource_type in types {
        println!(
            "{:<28} {:>10} {:>10} {:>10}",
            resource_type,
            report.loaded.get(resource_type).copied().unwrap_or(0),
            report.unchanged.get(resource_type).copied().unwrap_or(0),
            report.rejected.get(resource_type).copied().unwrap_or(0)
        );
    }
    let loaded = report.loaded_total();
    let rate = if elapsed_s > 0.0 {
        loaded as f64 / elapsed_s
    } else {
        0.0
    };
    println!(
        "total: {loaded} cargados, {} rechazados, {} Bundles, en {elapsed_s:.1} s ({rate:.0} recursos/s)",
        report.rejected_total(),
        report.bundles
    );
    if strict && report.rejected_total() > 0 {
        println!("--strict: no se cargó nada porque hubo rechazos / nothing was loaded");
    }
}

/// Files given, with directories expanded to the FHIR files they hold, in load order.
pub(crate) fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_fhir_file(p))
                .collect();
            inside.sort();
            files.extend(inside);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            bail!(
                "no existe {} / {} does not exist",
                path.display(),
                path.display()
            );
        }
    }
    // Reference data first, so that conditional references in later files resolve.
    files.sort_by_key(|p| type_rank(p));
    Ok(files)
}

fn is_fhir_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(name);
    name.ends_with(".ndjson") || name.ends_with(".json") || name.ends_with(".jsonl")
}

fn type_rank(path: &Path) -> u8 {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    ehr::load_order(name.split(['.', '-', '_']).next().unwrap_or(""))
}

pub(crate) fn sources(files: &[PathBuf]) -> Vec<ehr::ImportSource> {
    files
        .iter()
        .map(|path| {
            let path = path.clone();
            ehr::ImportSource {
                name: path.display().to_string(),
                open: Box::new(move || open_decoded(&path)),
            }
        })
        .collect()
}

/// Opens a file, decompressing by extension.
fn open_decoded(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let file = File::open(path)?;
    let name = path.to_string_lossy();
    // 1 MiB buffers: import reads sequentially, large buffers keep syscalls rare.
    const BUFFER_BYTES: usize = 1 << 20;
    if name.ends_with(".gz") {
        Ok(Box::new(BufReader::with_capacity(
            BUFFER_BYTES,
            flate2::read::MultiGzDecoder::new(BufReader::new(file)),
        )))
    } else if name.ends_with(".zst") {
        Ok(Box::new(BufReader::with_capacity(
            BUFFER_BYTES,
            zstd::stream::read::Decoder::new(file)?,
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(BUFFER_BYTES, file)))
    }
}
