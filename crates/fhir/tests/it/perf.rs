//! Timing of validation (ignored by default; run with
//! `cargo test --release -p fhir --test it perf -- --ignored --nocapture`).

use std::time::Instant;

use fhir::json::{Json, parse};
use fhir::validate::validate_resource_into;

fn synthea_resources() -> Vec<(Json, usize)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/work/shared/fixtures/synthea/bundles").unwrap() {
        let bundle = parse(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for entry in bundle.get("entry").unwrap().as_array().unwrap() {
            let resource = entry.get("resource").unwrap().clone();
            let size = resource.to_json_string().len();
            out.push((resource, size));
        }
    }
    out
}

#[test]
#[ignore = "timing; run in release"]
fn perf_validation() {
    let started = Instant::now();
    let n_types = fhir::defs::resource_types().count();
    eprintln!(
        "first use of the definitions (parse + index): {:?} ({n_types} resource types)",
        started.elapsed()
    );

    let resources = synthea_resources();
    let total_bytes: usize = resources.iter().map(|(_, size)| size).sum();
    let mut issues = Vec::new();
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        for (resource, _) in &resources {
            validate_resource_into(resource, &mut issues);
        }
    }
    let elapsed = started.elapsed();
    assert!(issues.is_empty());
    let n = resources.len() * rounds;
    let per_resource = elapsed / u32::try_from(n).unwrap();
    let per_kb_ns = elapsed.as_nanos() as f64 / (total_bytes * rounds) as f64 * 1024.0;
    eprintln!(
        "validated {n} Synthea resources (avg {} bytes) in {elapsed:?}: {per_resource:?} per resource, {per_kb_ns:.0} ns per KB",
        total_bytes / resources.len()
    );

    // The import's view: parse the text, then validate.
    let texts: Vec<String> = resources.iter().map(|(r, _)| r.to_json_string()).collect();
    let started = Instant::now();
    for _ in 0..rounds {
        for text in &texts {
            let resource = parse(text.as_bytes()).unwrap();
            validate_resource_into(&resource, &mut issues);
        }
    }
    let elapsed = started.elapsed();
    assert!(issues.is_empty());
    eprintln!(
        "parse + validate: {:?} per resource ({:.0} resources/s on one core)",
        elapsed / u32::try_from(n).unwrap(),
        n as f64 / elapsed.as_secs_f64()
    );
}
