//! Scale measurement (ignored by default; run in release with `--ignored --nocapture`): builds the block
//! index over synthetic people, reports block statistics and times the full duplicate scan. The
//! comparison count grows with the square of block sizes, so the 1,000,000-person cost is extrapolated from
//! the measured time per comparison and the exact pair count of a 1,000,000-person index.

use std::time::Instant;

use mpi::synthetic::{synthetic_population, with_duplicates};
use mpi::{BlockIndex, ErrorRates};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn build(n: usize) -> BlockIndex {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let people = synthetic_population(n, &mut rng);
    let set = with_duplicates(people, 0.10, &ErrorRates::default(), &mut rng);
    let mut index = BlockIndex::new();
    for record in &set.records {
        index.add(record);
    }
    index
}

#[test]
#[ignore = "timing measurement; run in release"]
fn scan_100k_timing() {
    let started = Instant::now();
    let index = build(100_000);
    let built = started.elapsed();
    let stats = index.stats();
    println!("100k: built in {built:?}; {stats:?}");
    for threads in [1, 2] {
        let started = Instant::now();
        let found = index.scan_with_threads(threads);
        let elapsed = started.elapsed();
        let comparisons = stats.pairs_in_blocks + stats.window_pairs;
        println!(
            "100k scan, {threads} thread(s): {elapsed:?}, {} pairs graded possible or better, ≤ {comparisons} comparisons, {:.2} µs/comparison",
            found.len(),
            elapsed.as_secs_f64() * 1e6 / comparisons as f64
        );
        assert!(!found.is_empty());
    }
}

#[test]
#[ignore = "sizing measurement; run in release"]
fn block_stats_1m() {
    let started = Instant::now();
    let index = build(1_000_000);
    println!("1M: built in {:?}; {:?}", started.elapsed(), index.stats());
}
