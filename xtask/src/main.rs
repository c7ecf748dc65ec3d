//! Development-time tasks (`cargo xtask …` via `cargo run -p xtask -- …`).
//!
//! The R4 definitions and the Spanish CIE-10 titles are turned into compact tables committed under `crates/*/data/`, so
//! that building and running the product never fetches anything.

mod cie10;
mod fhir_defs;
mod search_defs;

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("cie10") => cie10::run(&args[1..]),
        Some("fhir-defs") => fhir_defs::run(&args[1..]),
        Some("search-defs") => search_defs::run(&args[1..]),
        Some(other) => bail!("unknown task {other:?}"),
        None => bail!("usage: cargo run -p xtask -- <task>"),
    }
}
