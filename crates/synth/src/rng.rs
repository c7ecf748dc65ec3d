//! The generator's only source of randomness: a seeded ChaCha8 stream plus the few distributions we need.
//!
//! Why our own helpers instead of `rand_distr`: "same seed, same bytes on any machine" rules out
//! transcendental functions (`ln`, `exp`, `cos` come from the platform's libm and may differ in the last
//! bit between glibc, musl and macOS). Every distribution here uses only IEEE-exact operations
//! (`+ - * /`, comparisons) on values drawn from ChaCha8, so the output is bit-identical everywhere.

use rand::{Rng as _, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A deterministic random stream. One per independent purpose (network, each patient) so that adding a
/// draw in one place does not shift every later draw in another.
pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    /// The stream `stream` of the generator seeded with `seed`.
    /// Streams of one seed are independent ChaCha8 sequences (the 64-bit stream id of ChaCha's nonce).
    pub(crate) fn new(seed: u64, stream: u64) -> Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Rng(rng)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform integer in `0..n` (0 when `n == 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.0.random_range(0..n) }
    }

    /// Uniform integer in `lo..=hi` (lo when `hi < lo`).
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            lo
        } else {
            self.0.random_range(lo..=hi)
        }
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// True with probability `p` (clamped to `[0, 1]`).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `[lo, hi)`.
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Approximately standard normal: the Irwin–Hall sum of 12 uniforms minus 6.
    /// Its tails stop at ±6 SD, which is exactly what clinical values want (no 9-sigma weights).
    pub(crate) fn std_normal(&mut self) -> f64 {
        let mut sum = 0.0;
        for _ in 0..12 {
            sum += self.unit();
        }
        sum - 6.0
    }

    /// Normal with the given mean and standard deviation, clamped to `[lo, hi]`.
    pub(crate) fn normal(&mut self, mean: f64, sd: f64, lo: f64, hi: f64) -> f64 {
        (mean + sd * self.std_normal()).clamp(lo, hi)
    }

    /// A uniformly chosen element; `None` only for an empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len() as u64) as usize)
        }
    }

    /// Fills `out` with uppercase letters and digits (lot numbers).
    pub(crate) fn alnum(&mut self, out: &mut String, n: usize) {
        const SYMBOLS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
        for _ in 0..n {
            let i = self.below(SYMBOLS.len() as u64) as usize;
            out.push(char::from(SYMBOLS[i]));
        }
    }
}

/// A table for drawing an index with probability proportional to a weight.
/// Weights are turned into integers once (parts per million of the largest weight, at least 1), so that
/// the draw is an integer comparison and cannot depend on floating-point summation order.
pub(crate) struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    /// Builds the table. Non-positive or non-finite weights get probability zero.
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Weighted {
        let weights: Vec<f64> = weights.into_iter().collect();
        let max = weights
            .iter()
            .copied()
            .filter(|w| w.is_finite())
            .fold(0.0_f64, f64::max);
        let mut cumulative = Vec::with_capacity(weights.len());
        let mut total = 0u64;
        for w in weights {
            let units = if w.is_finite() && w > 0.0 && max > 0.0 {
                // Scaled to at most 1e9 so the sum of even 10^6 entries fits in u64 comfortably.
                ((w / max) * 1e9).round().max(1.0) as u64
            } else {
                0
            };
            total += units;
            cumulative.push(total);
        }
        Weighted { cumulative }
    }

    /// Draws an index. Returns 0 for an empty or all-zero table (callers never build one).
    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 {
            return 0;
        }
        let point = rng.below(total);
        // First index whose cumulative weight exceeds the point.
        self.cumulative.partition_point(|&c| c <= point)
    }
}

#[cfg(test)]
mod tests {
    use super::{Rng, Weighted};

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut s3 = Rng::new(7, 3);
        let mut s4 = Rng::new(7, 4);
        assert_ne!(s3.next_u64(), s4.next_u64());
    }

    #[test]
    fn weighted_follows_weights() {
        let table = Weighted::new([1.0, 0.0, 3.0]);
        let mut rng = Rng::new(1, 0);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[table.sample(&mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        let ratio = f64::from(counts[2]) / f64::from(counts[0]);
        assert!((2.8..3.2).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut rng = Rng::new(2, 0);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| rng.std_normal()).collect();
        let mean = xs.iter().sum::<f64>() / f64::from(n);
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / f64::from(n);
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((0.95..1.05).contains(&var), "var {var}");
    }
}
