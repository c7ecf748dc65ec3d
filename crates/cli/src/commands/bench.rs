//! `expediente bench`: runs the benchmark suite (crate `bench`) and appends its table to
//! BENCHMARKS.md. The suite starts this same executable as `expediente serve` to measure the
//! real server.

use std::process::ExitCode;

pub fn run(args: bench::BenchArgs) -> anyhow::Result<ExitCode> {
    bench::run(args)?;
    Ok(ExitCode::SUCCESS)
}
