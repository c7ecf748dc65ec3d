//! A trail laid out as several chains, so that concurrent writers do not queue on one head.
//!
//! The entries up to `trunk.seq` form one chain, the trunk (a trail started before lanes existed
//! keeps its old entries there; a new one has an empty trunk). After it, seqs are dealt round
//! over `count` lanes: lane `l` holds `trunk.seq + 1 + l`, then every `count`-th seq. Each lane
//! chains from the trunk's head hash, and a writer holds one lane's lock from reading its head to
//! committing, so each lane stays gap-free and in seq order while the lanes fill in parallel.
//! The lane is a function of the seq, which is inside the hashed bytes: moving an entry to
//! another lane, deleting one or reordering them breaks the lane it was in.

use super::{ChainError, ChainFault, ChainHead, ChainVerifier, SealedEntry};

/// How a store's trail is laid out. Fixed when the store is created or migrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lanes {
    /// The last entry of the trunk ([`ChainHead::EMPTY`] when it has none).
    pub trunk: ChainHead,
    /// The number of lanes after the trunk (at least 1).
    pub count: u16,
}

/// One chain of a laid-out trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// The entries up to [`Lanes::trunk`].
    Trunk,
    /// Lane `n`, `0 <= n < count`.
    Lane(u16),
}

impl Lanes {
    /// One chain, with no trunk: a clinic's trail.
    pub const SINGLE: Lanes = Lanes {
        trunk: ChainHead::EMPTY,
        count: 1,
    };

    /// The seq of lane `lane`'s first entry.
    pub fn first_seq(&self, lane: u16) -> u64 {
        self.trunk
            .seq
            .saturating_add(1)
            .saturating_add(u64::from(lane))
    }

    /// The chain `seq` belongs to.
    pub fn lane_of(&self, seq: u64) -> Lane {
        if seq <= self.trunk.seq {
            return Lane::Trunk;
        }
        let offset = seq - self.trunk.seq - 1;
        let lane = offset % u64::from(self.count.max(1));
        Lane::Lane(u16::try_from(lane).unwrap_or(0))
    }
}

/// Verifies every chain of a trail: the trunk up to its recorded head, then each lane from it.
/// `scan(lane, after_seq)` returns the lane's next entries with a seq above `after_seq`, in seq
/// order (an empty page ends the lane); for [`Lane::Trunk`], every entry stored outside the
/// lanes, so that one added past the trunk's end is found. The answer is the number of entries verified, or the
/// first fault found; `Err` only when `scan` fails.
pub fn verify_lanes<E>(
    lanes: &Lanes,
    mut scan: impl FnMut(Lane, u64) -> Result<Vec<SealedEntry>, E>,
) -> Result<Result<u64, ChainError>, E> {
    let mut entries = 0u64;
    let mut walk = |lane: Lane, mut verifier: ChainVerifier, entries: &mut u64| {
        let mut after = verifier.head().seq;
        loop {
            let page = scan(lane, after)?;
            if page.is_empty() {
                return Ok(Ok(verifier.head()));
            }
            for sealed in &page {
                // An entry past the trunk's recorded end that is in no lane was added by hand.
                if lane == Lane::Trunk && sealed.entry.seq > lanes.trunk.seq {
                    return Ok(Err(ChainError {
                        first_bad_seq: sealed.entry.seq,
                        reason: ChainFault::HashMismatch,
                    }));
                }
                if let Err(err) = verifier.push(sealed) {
                    return Ok(Err(err));
                }
                after = sealed.entry.seq;
                *entries += 1;
            }
        }
    };
    let trunk = match walk(Lane::Trunk, ChainVerifier::new(), &mut entries)? {
        Ok(head) => head,
        Err(err) => return Ok(Err(err)),
    };
    if trunk.seq < lanes.trunk.seq {
        return Ok(Err(ChainError {
            first_bad_seq: trunk.seq.saturating_add(1),
            reason: ChainFault::Truncated {
                expected_last: lanes.trunk.seq,
            },
        }));
    }
    if trunk != lanes.trunk {
        return Ok(Err(ChainError {
            first_bad_seq: lanes.trunk.seq,
            reason: ChainFault::HashMismatch,
        }));
    }
    for lane in 0..lanes.count.max(1) {
        if let Err(err) = walk(
            Lane::Lane(lane),
            ChainVerifier::lane(lanes, lane),
            &mut entries,
        )? {
            return Ok(Err(err));
        }
    }
    Ok(Ok(entries))
}
