//! Benchmark of the CIE-10 typeahead search: `cargo run --release -p mexico --example cie10_search`.
//!
//! Replays every prefix of a set of realistic queries (as typed, one keystroke at a time) against
//! the full catalogue and prints the first-use cost and the latency distribution per keystroke.
//! Not a test: timings are reported, never asserted (see BENCHMARKS.md).

use std::time::Instant;

/// What clinicians type: codes, everyday words, title words, several words, accents, and the
/// single letters that match thousands of titles.
const QUERIES: &[&str] = &[
    "E11.9",
    "I10X",
    "j06",
    "presión alta",
    "azucar alta",
    "diabetes tipo 2",
    "diabetes mellitus no insulinodependiente sin mención",
    "lumbalgia",
    "control prenatal",
    "gripa",
    "infección de vías urinarias",
    "chorro",
    "hipertensión esencial",
    "tumor maligno de la mama",
    "fractura del femur",
    "traumatismo de la cabeza",
    "envenenamiento accidental",
    "enfermedad",
    "otros",
    "de",
    "a",
    "e",
    "embarazo",
    "rinofaringitis aguda",
    "dolor de cabeza",
    "escorpion",
    "xyzzy",
];

/// Keystroke replays per query, so each prefix is measured many times.
const ROUNDS: usize = 20;
/// Results the UI shows.
const PAGE_SIZE: usize = 15;

fn main() {
    let start = Instant::now();
    let first = mexico::cie10::search("a", PAGE_SIZE);
    let first_use_ms = start.elapsed().as_secs_f64() * 1e3;
    println!(
        "catalogue: {} codes, {} synonyms; first search (parse + index) {first_use_ms:.1} ms ({} hits)",
        mexico::cie10::CATALOG.len(),
        mexico::cie10::synonyms().len(),
        first.len()
    );
    let mut samples_us: Vec<f64> = Vec::new();
    let mut worst: (f64, String) = (0.0, String::new());
    for _ in 0..ROUNDS {
        for query in QUERIES {
            let mut typed = String::new();
            for c in query.chars() {
                typed.push(c);
                let t = Instant::now();
                let hits = mexico::cie10::search(&typed, PAGE_SIZE);
                let us = t.elapsed().as_secs_f64() * 1e6;
                std::hint::black_box(hits);
                if us > worst.0 {
                    worst = (us, typed.clone());
                }
                samples_us.push(us);
            }
        }
    }
    samples_us.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let idx = ((samples_us.len() as f64 - 1.0) * p).round() as usize;
        samples_us.get(idx).copied().unwrap_or_default() / 1e3
    };
    println!(
        "{} keystrokes: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({:?})",
        samples_us.len(),
        pct(0.50),
        pct(0.95),
        pct(0.99),
        worst.0 / 1e3,
        worst.1
    );
}
