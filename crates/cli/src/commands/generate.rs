//! `expediente generate`: write a synthetic population as NDJSON, with a progress bar.

use std::process::ExitCode;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

pub fn run(args: &synth::GenerateArgs) -> anyhow::Result<ExitCode> {
    let bar = ProgressBar::new(args.patients);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} pacientes {elapsed_precise} (faltan {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let summary = synth::generate(args, &|done| bar.set_position(done))
        .map_err(|err| anyhow::anyhow!("{}", err.message_es()))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    for (resource_type, count) in &summary.resources {
        println!("{resource_type:<28} {count:>10}");
    }
    let total = summary.total_resources();
    println!(
        "{} pacientes, {total} recursos, {:.1} MB en {elapsed:.1} s ({:.0} recursos/s)",
        summary.patients,
        summary.bytes as f64 / 1e6,
        total as f64 / elapsed.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
