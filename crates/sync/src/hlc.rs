//! The hybrid logical clock that stamps every version (pure).
//!
//! A stamp is one `i64`: physical milliseconds × 2^16 plus a logical counter. The next stamp
//! on a node is `max(now_ms × 2^16, last + 1)`, where `last` is the greatest stamp the node has
//! seen, its own or received. So a version made after another was seen always stamps higher
//! (causality), and stamps stay close to wall time when clocks are right, but a clinic whose
//! clock is hours off cannot order its edits before ones it has already received. The store
//! applies this rule itself when it stamps local versions (`store-sqlite/src/sync.rs`); this
//! module is the reference the tests hold it to (`tests/it/hlc.rs`).

/// Bits of the logical counter.
pub const LOGICAL_BITS: u32 = 16;

/// The stamp that follows `last` at wall time `now_ms`. Saturating: a stamp or a clock at the
/// end of `i64` stays there instead of wrapping to the past (pushes are bounded well before it,
/// see `bounds.rs`).
pub fn next(last: i64, now_ms: i64) -> i64 {
    of_ms(now_ms).max(last.saturating_add(1))
}

/// The first stamp of the millisecond `ms` (logical counter 0), saturating.
pub fn of_ms(ms: i64) -> i64 {
    ms.saturating_mul(1 << LOGICAL_BITS)
}

/// The last stamp of the millisecond `ms` (logical counter full), saturating.
pub fn last_of_ms(ms: i64) -> i64 {
    of_ms(ms).saturating_add((1 << LOGICAL_BITS) - 1)
}

/// The physical part of a stamp, in epoch milliseconds.
pub fn physical_ms(hlc: i64) -> i64 {
    hlc >> LOGICAL_BITS
}

/// The logical counter of a stamp.
pub fn logical(hlc: i64) -> i64 {
    hlc & ((1 << LOGICAL_BITS) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_wall_time_when_it_moves_forward() {
        let first = next(0, 1_000);
        assert_eq!((physical_ms(first), logical(first)), (1_000, 0));
        let second = next(first, 2_000);
        assert_eq!((physical_ms(second), logical(second)), (2_000, 0));
    }

    #[test]
    fn counts_logically_when_the_clock_stalls_or_goes_back() {
        let seen_from_the_future = next(0, 10_000);
        let after = next(seen_from_the_future, 4_000);
        assert!(after > seen_from_the_future);
        assert_eq!((physical_ms(after), logical(after)), (10_000, 1));
        assert_eq!(logical(next(after, 4_000)), 2);
    }

    #[test]
    fn the_end_of_time_saturates_instead_of_wrapping() {
        assert_eq!(next(i64::MAX, 1_000), i64::MAX);
        assert_eq!(next(0, i64::MAX), i64::MAX);
        assert!(
            next(0, i64::MAX / 1_000) > 0,
            "a far-future clock stays in the future"
        );
        assert_eq!(of_ms(i64::MIN), i64::MIN);
        assert_eq!(last_of_ms(i64::MAX), i64::MAX);
        assert_eq!(physical_ms(last_of_ms(5)), 5);
    }
}
