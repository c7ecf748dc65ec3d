//! Runs the generator from the command line and reports throughput, for measuring without the
//! `expediente` binary: `cargo run --release -p synth --example generate -- --patients 20000 --out /tmp/x`.

use std::time::Instant;

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: synth::GenerateArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let started = Instant::now();
    let summary = synth::generate(&cli.args, &|_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    let resources = summary.total_resources();
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!(
        "{resources} resources in {seconds:.2} s = {:.0} resources/s, {:.0} bytes/resource, {:.1} resources/patient",
        resources as f64 / seconds,
        summary.bytes as f64 / resources.max(1) as f64,
        resources as f64 / summary.patients.max(1) as f64,
    );
    Ok(())
}
