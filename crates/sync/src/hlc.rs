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

/// The stamp that follows `last` at wall time `now_ms`.
pub fn next(last: i64, now_ms: i64) -> i64 {
    (now_ms << LOGICAL_BITS).max(last.saturating_add(1))
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
}
