//! Micro-benchmark of index extraction on the Synthea fixture bundles:
//! `cargo run --release -p search --example bench_extract`.
//!
//! The write path's budget is < 15 µs per typical 1 KB resource (import must reach 20,000
//! resources/s on 2 cores with storage included). Prints µs per resource overall and per type.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use fhir::json::{Json, parse_str};

/// Passes over the fixture set; enough for stable numbers in a few seconds.
const ROUNDS: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/synthea/bundles");
    let mut resources: Vec<(Json, usize)> = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let bundle = parse_str(&std::fs::read_to_string(entry?.path())?)?;
        for e in bundle
            .get("entry")
            .and_then(Json::as_array)
            .unwrap_or_default()
        {
            if let Some(resource) = e.get("resource") {
                let size = resource.to_json_string().len();
                resources.push((resource.clone(), size));
            }
        }
    }
    let n = resources.len();
    let bytes: usize = resources.iter().map(|r| r.1).sum();
    let start = Instant::now();
    let n_types = search::registry().resource_types().len();
    println!(
        "registry: {n_types} types parsed from the embedded table in {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    // Warm up.
    let mut n_entries = 0;
    for (r, _) in &resources {
        n_entries += search::extract(r).len();
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for (r, _) in &resources {
            std::hint::black_box(search::extract(std::hint::black_box(r)));
        }
    }
    let total_us = start.elapsed().as_secs_f64() * 1e6;
    println!(
        "{n} resources, {:.0} bytes average, {:.1} index entries average",
        bytes as f64 / n as f64,
        n_entries as f64 / n as f64
    );
    println!(
        "extract: {:.2} µs/resource overall",
        total_us / (n * ROUNDS) as f64
    );

    let mut by_type: BTreeMap<String, Vec<&(Json, usize)>> = BTreeMap::new();
    for r in &resources {
        let t =
            r.0.get("resourceType")
                .and_then(Json::as_str)
                .unwrap_or("?")
                .to_string();
        by_type.entry(t).or_default().push(r);
    }
    for (t, list) in &by_type {
        let start = Instant::now();
        for _ in 0..ROUNDS {
            for (r, _) in list {
                std::hint::black_box(search::extract(std::hint::black_box(r)));
            }
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / (list.len() * ROUNDS) as f64;
        let avg_bytes = list.iter().map(|r| r.1).sum::<usize>() as f64 / list.len() as f64;
        println!(
            "  {t:<22} {:>5} × {:>6.0} B: {us:>6.2} µs",
            list.len(),
            avg_bytes
        );
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for (r, _) in &resources {
            std::hint::black_box(search::patient_compartment(std::hint::black_box(r)));
        }
    }
    println!(
        "patient_compartment: {:.2} µs/resource",
        start.elapsed().as_secs_f64() * 1e6 / (n * ROUNDS) as f64
    );
    Ok(())
}
