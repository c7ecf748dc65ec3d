//! Seeded quality test: synthetic households (siblings, twins, fathers and sons with the same name) with
//! 10 % corrupted re-registrations, scanned through the block index, must meet the targets: precision
//! ≥ 0.995 for `Certain` and recall ≥ 0.98 for `Certain` + `Probable`. Run with `--nocapture` to see the
//! Markdown report.

use mpi::synthetic::{synthetic_population, with_duplicates};
use mpi::{BlockIndex, ErrorRates, MatchGrade, Report, evaluate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// People in the synthetic population.
const PEOPLE: usize = 5_000;
/// Share of people registered a second time with errors.
const DUPLICATE_FRACTION: f64 = 0.10;

fn run(seed: u64, keep_curps: bool) -> Report {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut people = synthetic_population(PEOPLE, &mut rng);
    if !keep_curps {
        for person in &mut people {
            person.curp = None;
        }
    }
    let set = with_duplicates(people, DUPLICATE_FRACTION, &ErrorRates::default(), &mut rng);
    let mut index = BlockIndex::new();
    for record in &set.records {
        index.add(record);
    }
    let predicted: Vec<_> = index
        .scan()
        .into_iter()
        .map(|(i, j, r)| (i, j, r.grade))
        .collect();
    evaluate(&set.truth, &predicted)
}

fn assert_targets(report: &Report, context: &str) {
    let certain = report.grade(MatchGrade::Certain).unwrap();
    let probable = report.grade(MatchGrade::Probable).unwrap();
    assert!(
        report.true_pairs > 400,
        "{context}: the data set must contain duplicates"
    );
    assert!(
        certain.precision() >= 0.995,
        "{context}: certain precision {}",
        certain.precision()
    );
    assert!(
        probable.recall() >= 0.98,
        "{context}: certain+probable recall {}",
        probable.recall()
    );
}

#[test]
fn quality_targets_are_met_with_curps() {
    for seed in [1, 2, 3] {
        let report = run(seed, true);
        println!(
            "with CURPs (75 % of people), seed {seed}\n{}",
            report.to_markdown()
        );
        assert_targets(&report, &format!("with CURPs, seed {seed}"));
    }
}

/// The hard case: no registration carries a CURP, so every decision rests on names, dates and states.
#[test]
fn quality_targets_are_met_without_any_curp() {
    for seed in [1, 2, 3] {
        let report = run(seed, false);
        println!("without CURPs, seed {seed}\n{}", report.to_markdown());
        assert_targets(&report, &format!("without CURPs, seed {seed}"));
    }
}
