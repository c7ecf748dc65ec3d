//! Blocking: which pairs of registrations are compared at all.
//!
//! Comparing every pair of a million people is 5·10¹¹ comparisons; blocking compares only records that
//! share at least one *blocking key*. Each key tolerates a different set of clerk errors, so a duplicate is
//! missed only when every key is broken at once:
//!
//! | key | value | survives | broken by |
//! |---|---|---|---|
//! | `CurpPrefix` | CURP positions 1–10 (initials + birth date) | any name or phone error, CURP errors in 11–18 | missing CURP, CURP error in 1–10 |
//! | `SurnameYear` | phonetic(first surname) + birth year | given-name errors, day/month errors, missing 2nd surname | first-surname typo, year error, swaps |
//! | `NameMonthDay` | phonetic(one of: main given name, first surname, second surname) + MMDD | errors in up to two of the three names, year errors, swaps of any kind | a day/month error, or errors in all three names |
//! | `GivenSurname` | phonetic(main given name) + phonetic(first surname) | every date error, missing date, 2nd-surname loss | typo in either of the two names, swaps |
//! | `Phone` | last 10 digits | everything except the phone | phone missing or changed |
//!
//! The "main given name" is the one RENAPO uses (GUADALUPE for "MA. GUADALUPE"), so dropping or abbreviating
//! MARÍA/JOSÉ does not break keys. Phonetic codes absorb spelling variants (Vásquez/Vazquez) but not
//! arbitrary typos, which is why every name appears in more than one key. A duplicate with a typo in the first
//! surname *and* a wrong year is still caught by `NameMonthDay` through its given name or second surname; one
//! with a wrong day *and* a given-name typo by `SurnameYear`. The quality test measures blocking recall.
//!
//! Cost: the number of comparisons is Σ over blocks of n(n−1)/2. Keys with a date part split each name
//! into ~80 years or ~365 days, so blocks stay in the hundreds even for HERNÁNDEZ at a million people;
//! `GivenSurname` is the widest (JUAN HERNÁNDEZ) and is the price of catching records with a broken or
//! missing birth date. A pair that shares several keys is compared once, in the block of its smallest shared
//! key.
//!
//! Measured on the synthetic population (`tests/it/scale.rs`, release build): 110,000 records (100,000
//! people + 10 % duplicates) give 2.3 million block pairs, scanned in 3.1 s on one core (≈ 1.4 µs per pair;
//! 4.3 s on a loaded machine). 1,100,000 records give 1.84·10⁸ block pairs plus 0.7 million window pairs (24
//! `GivenSurname` blocks such as GUADALUPE HERNÁNDEZ exceed [`BLOCK_SIZE_MAX`], the largest has 2,613
//! records): ≈ 4–6 minutes on one core, half that with `scan_with_threads(2)`; building the index takes
//! ≈ 18 s and ≈ 1 KB of memory per record.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::compare::{
    Evaluation, MatchGrade, MatchResult, PreparedRecord, evaluate_pair, match_prepared_candidates,
};
use crate::record::PersonRecord;

/// Largest block compared all-pairs. At a million people the largest date-bearing blocks (phonetic
/// HERNÁNDEZ × one birth year, ≈ 4 % × 2 %) hold ≈ 800 records and stay below it; above it are the
/// `GivenSurname` blocks of the commonest name pairs (their members are also blocked by the date keys, so
/// only pairs with both dates broken depend on them) and degenerate data — a placeholder birth date, the
/// clinic's phone typed on every record — where all-pairs would cost n²/2 comparisons for little
/// information. 1,000 records = 500,000 comparisons ≈ 0.7 s.
pub const BLOCK_SIZE_MAX: usize = 1_000;
/// In a block above [`BLOCK_SIZE_MAX`], each record is compared only with the next this-many records in
/// name order (sorted neighbourhood): near-identical spellings sort next to each other, and the cost is
/// linear in the block size.
pub const OVERSIZED_BLOCK_WINDOW: usize = 20;

/// What a blocking key is built from (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockingKeyKind {
    CurpPrefix,
    SurnameYear,
    NameMonthDay,
    GivenSurname,
    Phone,
}

/// A blocking key: records sharing one are compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlockingKey {
    pub kind: BlockingKeyKind,
    pub value: String,
}

impl BlockingKey {
    fn new(kind: BlockingKeyKind, value: String) -> BlockingKey {
        BlockingKey { kind, value }
    }

    /// A stable 64-bit FNV-1a hash (the index stores hashes, not strings; a collision only merges two
    /// blocks, which costs comparisons but never loses a pair).
    fn hash64(&self) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let kind_byte = self.kind as u8;
        for byte in std::iter::once(kind_byte).chain(self.value.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash
    }
}

/// The blocking keys of a record (see the module docs for what each one tolerates).
pub fn blocking_keys(record: &PersonRecord) -> Vec<BlockingKey> {
    prepared_blocking_keys(&PreparedRecord::new(record))
}

/// [`blocking_keys`] for a prepared record.
pub fn prepared_blocking_keys(record: &PreparedRecord) -> Vec<BlockingKey> {
    use BlockingKeyKind::{CurpPrefix, GivenSurname, NameMonthDay, Phone, SurnameYear};
    let mut keys = Vec::new();
    if let Some(prefix) = record.curp().and_then(|c| c.get(..10)) {
        keys.push(BlockingKey::new(CurpPrefix, prefix.to_owned()));
    }
    let given = record
        .given
        .as_ref()
        .and_then(|g| g.token_phonetics.get(g.main_token_index()))
        .filter(|p| !p.is_empty());
    let first = record
        .first_surname
        .as_ref()
        .map(|n| &n.phonetic)
        .filter(|p| !p.is_empty());
    let second = record
        .second_surname
        .as_ref()
        .map(|n| &n.phonetic)
        .filter(|p| !p.is_empty());
    if let Some(date) = record.birth_date {
        if let Some(first) = first {
            keys.push(BlockingKey::new(
                SurnameYear,
                format!("{first}:{:04}", date.year),
            ));
        }
        for name in [given, first, second].into_iter().flatten() {
            keys.push(BlockingKey::new(
                NameMonthDay,
                format!("{name}:{:02}{:02}", date.month, date.day),
            ));
        }
    }
    if let (Some(given), Some(first)) = (given, first) {
        keys.push(BlockingKey::new(GivenSurname, format!("{given}:{first}")));
    }
    if let Some(phone) = &record.phone {
        keys.push(BlockingKey::new(Phone, phone.clone()));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Keys are already uniform 64-bit hashes: the map needs no second hashing.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;
type KeySet = HashSet<u64, BuildHasherDefault<KeyHasher>>;

/// Size figures of an index, to predict the cost of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BlockStats {
    pub records: usize,
    pub blocks: usize,
    pub blocks_oversized: usize,
    pub largest_block: usize,
    /// Σ n(n−1)/2 over blocks compared all-pairs (pairs sharing several keys counted once per block).
    pub pairs_in_blocks: u64,
    /// Upper bound of comparisons made by the sorted-neighbourhood windows of oversized blocks.
    pub window_pairs: u64,
}

/// In-memory blocking index over prepared records; the hub can rebuild it from the store at start-up.
#[derive(Default)]
pub struct BlockIndex {
    records: Vec<PreparedRecord>,
    /// Sorted key hashes of record `i` are `key_hashes[key_starts[i]..key_starts[i + 1]]`.
    key_hashes: Vec<u64>,
    key_starts: Vec<usize>,
    blocks: KeyMap<Vec<u32>>,
}

impl BlockIndex {
    pub fn new() -> BlockIndex {
        BlockIndex {
            key_starts: vec![0],
            ..BlockIndex::default()
        }
    }

    /// Adds a record and returns its index (0, 1, 2 … in insertion order).
    pub fn add(&mut self, record: &PersonRecord) -> usize {
        self.add_prepared(PreparedRecord::new(record))
    }

    /// Adds an already prepared record.
    pub fn add_prepared(&mut self, record: PreparedRecord) -> usize {
        if self.key_starts.is_empty() {
            self.key_starts.push(0);
        }
        let idx = self.records.len();
        // Indices are stored as u32 to halve the block memory; 4 billion registrations is beyond any hub.
        let idx32 = u32::try_from(idx).unwrap_or(u32::MAX);
        let mut hashes: Vec<u64> = prepared_blocking_keys(&record)
            .iter()
            .map(BlockingKey::hash64)
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        for hash in &hashes {
            self.blocks.entry(*hash).or_default().push(idx32);
        }
        self.key_hashes.extend_from_slice(&hashes);
        self.key_starts.push(self.key_hashes.len());
        self.records.push(record);
        idx
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The prepared record at `idx`.
    pub fn record(&self, idx: usize) -> Option<&PreparedRecord> {
        self.records.get(idx)
    }

    fn keys_of(&self, idx: usize) -> &[u64] {
        match (self.key_starts.get(idx), self.key_starts.get(idx + 1)) {
            (Some(&start), Some(&end)) => self.key_hashes.get(start..end).unwrap_or(&[]),
            _ => &[],
        }
    }

    fn block_len(&self, hash: u64) -> usize {
        self.blocks.get(&hash).map_or(0, Vec::len)
    }

    /// Indices of the records sharing a block with `query`, ascending, each once. Blocks above
    /// [`BLOCK_SIZE_MAX`] are skipped: they do not discriminate, and the other keys still apply.
    pub fn candidates(&self, query: &PersonRecord) -> impl Iterator<Item = usize> + '_ {
        self.prepared_candidates(&PreparedRecord::new(query))
    }

    fn prepared_candidates(&self, query: &PreparedRecord) -> std::vec::IntoIter<usize> {
        let mut found: Vec<usize> = prepared_blocking_keys(query)
            .iter()
            .filter_map(|key| self.blocks.get(&key.hash64()))
            .filter(|members| members.len() <= BLOCK_SIZE_MAX)
            .flatten()
            .map(|&idx| idx as usize)
            .collect();
        found.sort_unstable();
        found.dedup();
        found.into_iter()
    }

    /// Scores `query` against its candidates ([`crate::match_candidates`] semantics).
    pub fn match_query(
        &self,
        query: &PersonRecord,
        only_certain: bool,
        count: usize,
    ) -> Vec<(usize, MatchResult)> {
        let query = PreparedRecord::new(query);
        let candidates = self
            .prepared_candidates(&query)
            .filter_map(|idx| self.records.get(idx).map(|record| (idx, record)));
        match_prepared_candidates(&query, candidates, only_certain, count)
    }

    /// Size figures (cheap: no comparison is made).
    pub fn stats(&self) -> BlockStats {
        let mut stats = BlockStats {
            records: self.records.len(),
            blocks: self.blocks.len(),
            ..BlockStats::default()
        };
        for members in self.blocks.values() {
            let n = members.len() as u64;
            stats.largest_block = stats.largest_block.max(members.len());
            if members.len() > BLOCK_SIZE_MAX {
                stats.blocks_oversized += 1;
                stats.window_pairs += n * OVERSIZED_BLOCK_WINDOW as u64;
            } else {
                stats.pairs_in_blocks += n * n.saturating_sub(1) / 2;
            }
        }
        stats
    }

    /// Full duplicate scan on one thread: every pair sharing a block, graded `Possible` or better, as
    /// `(i, j, result)` with `i < j`, sorted by `(i, j)`.
    pub fn scan(&self) -> Vec<(usize, usize, MatchResult)> {
        self.scan_with_threads(1)
    }

    /// [`BlockIndex::scan`] spread over `threads` threads (same result, deterministic).
    pub fn scan_with_threads(&self, threads: usize) -> Vec<(usize, usize, MatchResult)> {
        let threads = threads.max(1);
        let oversized: KeySet = self
            .blocks
            .iter()
            .filter(|(_, members)| members.len() > BLOCK_SIZE_MAX)
            .map(|(hash, _)| *hash)
            .collect();
        // Largest blocks first, dealt round-robin, so threads get similar work; the order is fixed by
        // (size, hash) so the split is deterministic.
        let mut work: Vec<(usize, u64)> = self
            .blocks
            .iter()
            .filter(|(_, members)| members.len() > 1)
            .map(|(hash, members)| (members.len(), *hash))
            .collect();
        work.sort_unstable_by(|x, y| y.cmp(x));
        let shares: Vec<Vec<u64>> = (0..threads)
            .map(|t| {
                work.iter()
                    .skip(t)
                    .step_by(threads)
                    .map(|(_, hash)| *hash)
                    .collect()
            })
            .collect();
        let mut found: Vec<(u32, u32, Evaluation)> = if threads == 1 {
            shares
                .iter()
                .flat_map(|share| self.scan_blocks(share, &oversized))
                .collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = shares
                    .iter()
                    .map(|share| scope.spawn(|| self.scan_blocks(share, &oversized)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|handle| match handle.join() {
                        Ok(found) => found,
                        // A worker only panics on a bug; re-raise it rather than return a silently
                        // incomplete scan.
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            })
        };
        found.sort_unstable_by_key(|(i, j, _)| (*i, *j));
        found.dedup_by_key(|(i, j, _)| (*i, *j));
        found
            .into_iter()
            .filter_map(|(i, j, evaluation)| {
                let (a, b) = (self.records.get(i as usize)?, self.records.get(j as usize)?);
                Some((i as usize, j as usize, evaluation.into_result(a, b)))
            })
            .collect()
    }

    /// The smallest key shared by records `i` and `j` whose block is compared all-pairs.
    fn first_shared_small_block(&self, i: usize, j: usize, oversized: &KeySet) -> Option<u64> {
        let (mut x, mut y) = (
            self.keys_of(i).iter().peekable(),
            self.keys_of(j).iter().peekable(),
        );
        while let (Some(&&a), Some(&&b)) = (x.peek(), y.peek()) {
            if a < b {
                x.next();
            } else if b < a {
                y.next();
            } else {
                if !oversized.contains(&a) {
                    return Some(a);
                }
                x.next();
                y.next();
            }
        }
        None
    }

    fn scan_blocks(&self, hashes: &[u64], oversized: &KeySet) -> Vec<(u32, u32, Evaluation)> {
        let mut found = Vec::new();
        let consider = |i: u32, j: u32, found: &mut Vec<(u32, u32, Evaluation)>| {
            let (i, j) = if i < j { (i, j) } else { (j, i) };
            if let (Some(a), Some(b)) = (self.records.get(i as usize), self.records.get(j as usize))
            {
                let evaluation = evaluate_pair(a, b);
                if evaluation.grade > MatchGrade::NoMatch {
                    found.push((i, j, evaluation));
                }
            }
        };
        for &hash in hashes {
            let Some(members) = self.blocks.get(&hash) else {
                continue;
            };
            if members.len() <= BLOCK_SIZE_MAX {
                for (pos, &i) in members.iter().enumerate() {
                    for &j in &members[pos + 1..] {
                        if self.first_shared_small_block(i as usize, j as usize, oversized)
                            == Some(hash)
                        {
                            consider(i, j, &mut found);
                        }
                    }
                }
            } else {
                let mut sorted: Vec<(String, u32)> = members
                    .iter()
                    .filter_map(|&idx| {
                        self.records
                            .get(idx as usize)
                            .map(|r| (neighbourhood_key(r), idx))
                    })
                    .collect();
                sorted.sort_unstable();
                for (pos, (_, i)) in sorted.iter().enumerate() {
                    for (_, j) in sorted.iter().skip(pos + 1).take(OVERSIZED_BLOCK_WINDOW) {
                        // Pairs that also share a normal block are compared there.
                        if self
                            .first_shared_small_block(*i as usize, *j as usize, oversized)
                            .is_none()
                        {
                            consider(*i, *j, &mut found);
                        }
                    }
                }
            }
        }
        found
    }

    /// Number of distinct blocks `idx` belongs to (for tests and diagnostics).
    pub fn block_count_of(&self, idx: usize) -> usize {
        self.keys_of(idx).len()
    }

    /// Size of the largest block record `idx` belongs to.
    pub fn largest_block_of(&self, idx: usize) -> usize {
        self.keys_of(idx)
            .iter()
            .map(|hash| self.block_len(*hash))
            .max()
            .unwrap_or(0)
    }
}

/// Sort key of the sorted-neighbourhood window: phonetic names then birth date, so likely duplicates are
/// neighbours.
fn neighbourhood_key(record: &PreparedRecord) -> String {
    let phonetic = |n: &Option<crate::normalize::NormName>| {
        n.as_ref().map_or("", |n| n.phonetic.as_str()).to_owned()
    };
    let date = record.birth_date.map_or_else(String::new, |d| {
        format!("{:04}{:02}{:02}", d.year, d.month, d.day)
    });
    format!(
        "{}|{}|{}|{date}",
        phonetic(&record.first_surname),
        phonetic(&record.second_surname),
        phonetic(&record.given)
    )
}

#[cfg(test)]
mod tests;
