//! Sign-in throttling as pure state machines: a token bucket per client address, and growing
//! delays per account and per (user name, address) pair. Every transition takes `now_ms`, so
//! the callers' clock decides (the `ehr` layer passes its injectable clock) and the tests script
//! time without sleeping.
//!
//! # Why these pieces, and no lockout
//! A lock after N failures lets anyone who knows a clinician's user name keep them out of the
//! record by failing on purpose. Instead:
//! - **Per address** ([`AddressBucket`]): a token bucket of failed password checks. A full
//!   bucket holds [`ADDRESS_FAILURES_BURST`] failures and refills one every
//!   [`ADDRESS_FAILURE_INTERVAL_MS`]: bursts of typos pass, password spraying across many
//!   accounts from one address is held to 10 guesses a minute. It is a continuous bucket, not a
//!   counter per calendar minute (a burst straddling a minute boundary got twice the budget).
//! - **Per (user name, address)** ([`PAIR_CURVE`]): 3 free failures, then 1 s, 2 s, 4 s, …
//!   between attempts, capped at 5 minutes (reached at the 13th failure). One address guessing one account gets about a dozen
//!   guesses an hour once the cap is reached.
//! - **Per account, from other addresses than the one it last signed in from**
//!   ([`ACCOUNT_CURVE`]): 10 free failures, then 1 s doubling to a cap of 60 s. This bounds
//!   guessing spread over many addresses to about one a minute, and because the account's
//!   familiar address is exempt, an attacker elsewhere can slow its owner down on a new machine
//!   but never keep them out at their own.
//!
//! Failures are forgotten after [`Curve::memory_ms`] without a new one; a success clears the
//! account's and the pair's counts. A delayed attempt is refused without checking the password
//! (it costs nothing and is not counted), answered "wait N s" with the same words whether or not
//! the user name exists: names without an account keep their own in-memory count on the same
//! curve, so the answers cannot tell them apart.

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::IpAddr;

/// Failed password checks one address may make in a burst.
pub const ADDRESS_FAILURES_BURST: u32 = 20;

/// One more failure is allowed every 6 s once the burst is spent: 10 a minute, enough for a
/// clinic's shared front-desk PC full of typing mistakes, far too few for spraying passwords.
pub const ADDRESS_FAILURE_INTERVAL_MS: i64 = 6_000;

/// Entries each in-memory table keeps at most (addresses, pairs, unknown names): about 100 B
/// each, so 10 MB per table at worst. When a table is full, entries that carry no restriction
/// any more are dropped first; if it is still full it is cleared (memory is the harder limit).
pub const ENTRIES_MAX: usize = 100_000;

/// A delay curve: free failures, then a doubling delay between attempts, capped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Curve {
    /// Consecutive failures allowed without any delay.
    pub free_failures: u32,
    /// The delay after the first failure beyond the free ones; it doubles with each further one.
    pub delay_base_ms: i64,
    /// The delay never exceeds this: a delay, never a lock.
    pub delay_max_ms: i64,
    /// Failures older than this (since the last one) are forgotten.
    pub memory_ms: i64,
}

/// A day: yesterday's typos should not bring anyone closer to a delay.
const FAILURE_MEMORY_MS: i64 = 24 * 60 * 60 * 1000;

/// Per (user name, address): no wait after the first 3 failures, then 1 s after the 4th, 2 s
/// after the 5th, … 256 s after the 12th, and 5 min from the 13th on.
pub const PAIR_CURVE: Curve = Curve {
    free_failures: 3,
    delay_base_ms: 1_000,
    delay_max_ms: 5 * 60 * 1000,
    memory_ms: FAILURE_MEMORY_MS,
};

/// Per account from addresses other than its familiar one: no wait after the first 10
/// failures, then 1 s after the 11th, 2 s after the 12th, … 32 s after the 16th, and 60 s from
/// the 17th on. The cap is low because an attacker can keep an
/// account at it; the owner's own address is exempt (see the module docs).
pub const ACCOUNT_CURVE: Curve = Curve {
    free_failures: 10,
    delay_base_ms: 1_000,
    delay_max_ms: 60 * 1000,
    memory_ms: FAILURE_MEMORY_MS,
};

impl Curve {
    /// The wait before the next attempt after `failed_count` consecutive failures: none up to
    /// `free_failures`, then `delay_base_ms · 2^(failed_count − free_failures − 1)`, capped.
    pub fn delay_ms(&self, failed_count: u32) -> i64 {
        if failed_count <= self.free_failures {
            return 0;
        }
        let doublings = (failed_count - self.free_failures - 1).min(40);
        self.delay_base_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.delay_max_ms)
    }
}

/// Failures of one account or pair: stored with the account (`failed_logins`,
/// `last_failure_ms`) or in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Failures {
    /// Consecutive failures (after forgetting old ones).
    pub count: u32,
    /// Time of the last failure.
    pub last_ms: Option<i64>,
}

impl Failures {
    /// When the next attempt may be checked, if not now.
    pub fn retry_at(&self, curve: &Curve, now_ms: i64) -> Option<i64> {
        let count = self.effective_count(curve, now_ms);
        let last = self.last_ms?;
        let at_ms = last.saturating_add(curve.delay_ms(count));
        (now_ms < at_ms).then_some(at_ms)
    }

    /// The state after a wrong password at `now_ms`.
    pub fn after_failure(&self, curve: &Curve, now_ms: i64) -> Failures {
        Failures {
            count: self.effective_count(curve, now_ms).saturating_add(1),
            last_ms: Some(now_ms),
        }
    }

    /// Whether the state carries no restriction any more (an entry that may be dropped).
    fn is_spent(&self, curve: &Curve, now_ms: i64) -> bool {
        self.effective_count(curve, now_ms) == 0
    }

    fn effective_count(&self, curve: &Curve, now_ms: i64) -> u32 {
        match self.last_ms {
            Some(last) if now_ms.saturating_sub(last) < curve.memory_ms => self.count,
            _ => 0,
        }
    }
}

/// A token bucket in its "theoretical arrival time" form (GCRA): one number per address, exact
/// at any instant, no calendar windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct AddressBucket {
    /// The time at which the bucket would be full again.
    full_at_ms: i64,
}

impl AddressBucket {
    /// When the next failure would be allowed, if not now (the bucket is empty).
    pub fn retry_at(&self, now_ms: i64) -> Option<i64> {
        // Room for one more failure means the refill debt stays within the burst.
        let burst_ms =
            i64::from(ADDRESS_FAILURES_BURST).saturating_mul(ADDRESS_FAILURE_INTERVAL_MS);
        let debt_after_ms = self
            .full_at_ms
            .max(now_ms)
            .saturating_add(ADDRESS_FAILURE_INTERVAL_MS)
            .saturating_sub(now_ms);
        (debt_after_ms > burst_ms).then(|| {
            self.full_at_ms
                .saturating_add(ADDRESS_FAILURE_INTERVAL_MS)
                .saturating_sub(burst_ms)
        })
    }

    /// Takes one failure out of the bucket.
    pub fn after_failure(&self, now_ms: i64) -> AddressBucket {
        AddressBucket {
            full_at_ms: self
                .full_at_ms
                .max(now_ms)
                .saturating_add(ADDRESS_FAILURE_INTERVAL_MS),
        }
    }

    fn is_full(&self, now_ms: i64) -> bool {
        self.full_at_ms <= now_ms
    }
}

/// Why an attempt may not be checked now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This address failed too often; retry at `at_ms`.
    Address {
        /// When one more failure will be allowed.
        at_ms: i64,
    },
    /// This user name failed too often (from this address, or from everywhere); retry at `at_ms`.
    Delay {
        /// When the next attempt will be considered.
        at_ms: i64,
    },
}

impl Refusal {
    /// Whole seconds to wait, at least 1 (for `Retry-After` and the message).
    pub fn wait_s(&self, now_ms: i64) -> i64 {
        let at_ms = match self {
            Refusal::Address { at_ms } | Refusal::Delay { at_ms } => *at_ms,
        };
        (at_ms.saturating_sub(now_ms).saturating_add(999) / 1000).max(1)
    }
}

/// The in-memory part of sign-in throttling for one node: the per-address buckets, the
/// per-(name, address) delays and the account-wide delays of names that have no account.
/// Account-wide delays of real accounts are stored with the account (they must survive a
/// restart and be shared with the CLI); the caller passes them in.
#[derive(Debug, Default)]
pub struct SignInLimits {
    addresses: HashMap<IpAddr, AddressBucket>,
    pairs: HashMap<(String, IpAddr), Failures>,
    unknown: HashMap<String, Failures>,
}

/// User names are compared case-insensitively and trimmed, so `Medica ` and `medica` share
/// one count (accounts are looked up the same way).
fn name_key(username: &str) -> String {
    username.trim().to_lowercase().chars().take(64).collect()
}

impl SignInLimits {
    /// May an attempt for `username` from `ip` be checked now? Checks the address bucket and the
    /// pair's delay; the account-wide delay is [`SignInLimits::check_unknown`] or the caller's.
    pub fn check(&self, username: &str, ip: Option<IpAddr>, now_ms: i64) -> Result<(), Refusal> {
        let Some(ip) = ip else { return Ok(()) };
        if let Some(at_ms) = self
            .addresses
            .get(&ip)
            .and_then(|bucket| bucket.retry_at(now_ms))
        {
            return Err(Refusal::Address { at_ms });
        }
        if let Some(at_ms) = self
            .pairs
            .get(&(name_key(username), ip))
            .and_then(|failures| failures.retry_at(&PAIR_CURVE, now_ms))
        {
            return Err(Refusal::Delay { at_ms });
        }
        Ok(())
    }

    /// The account-wide delay of a user name that has no account (mirrors what a real account
    /// stores, so that both answer alike).
    pub fn check_unknown(&self, username: &str, now_ms: i64) -> Result<(), Refusal> {
        match self
            .unknown
            .get(&name_key(username))
            .and_then(|failures| failures.retry_at(&ACCOUNT_CURVE, now_ms))
        {
            Some(at_ms) => Err(Refusal::Delay { at_ms }),
            None => Ok(()),
        }
    }

    /// Records a wrong password (or an unknown name) for `username` from `ip`.
    pub fn note_failure(
        &mut self,
        username: &str,
        ip: Option<IpAddr>,
        known_account: bool,
        now_ms: i64,
    ) {
        let key = name_key(username);
        if !known_account {
            prune(&mut self.unknown, now_ms, |f, now| {
                f.is_spent(&ACCOUNT_CURVE, now)
            });
            let entry = self.unknown.entry(key.clone()).or_default();
            *entry = entry.after_failure(&ACCOUNT_CURVE, now_ms);
        }
        let Some(ip) = ip else { return };
        prune(&mut self.addresses, now_ms, |b, now| b.is_full(now));
        let bucket = self.addresses.entry(ip).or_default();
        *bucket = bucket.after_failure(now_ms);
        prune(&mut self.pairs, now_ms, |f, now| {
            f.is_spent(&PAIR_CURVE, now)
        });
        let pair = self.pairs.entry((key, ip)).or_default();
        *pair = pair.after_failure(&PAIR_CURVE, now_ms);
    }

    /// Records a correct password: the pair's count starts again (the address bucket keeps
    /// its failures, so successes cannot launder a spraying address).
    pub fn note_success(&mut self, username: &str, ip: Option<IpAddr>) {
        if let Some(ip) = ip {
            self.pairs.remove(&(name_key(username), ip));
        }
    }
}

/// Keeps a table under [`ENTRIES_MAX`]: drops spent entries, and clears it if that is not enough.
fn prune<K: std::hash::Hash + Eq, V>(
    table: &mut HashMap<K, V>,
    now_ms: i64,
    spent: impl Fn(&V, i64) -> bool,
) {
    if table.len() < ENTRIES_MAX {
        return;
    }
    table.retain(|_, value| !spent(value, now_ms));
    if table.len() >= ENTRIES_MAX {
        table.clear();
    }
}

/// A request-rate limit per key (a person's account on the API): a token bucket of `per_minute`
/// requests that refills continuously. Pure, like the rest of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RateBucket {
    full_at_ms: i64,
}

impl RateBucket {
    /// Takes one request at `now_ms` if the bucket allows it; otherwise returns when it will.
    pub fn take(&mut self, per_minute: u32, now_ms: i64) -> Result<(), i64> {
        if per_minute == 0 {
            return Ok(());
        }
        let interval_ms = (60_000 / i64::from(per_minute)).max(1);
        let burst_ms = interval_ms.saturating_mul(i64::from(per_minute));
        let full_at_ms = self.full_at_ms.max(now_ms).saturating_add(interval_ms);
        if full_at_ms.saturating_sub(now_ms) > burst_ms {
            return Err(full_at_ms.saturating_sub(burst_ms));
        }
        self.full_at_ms = full_at_ms;
        Ok(())
    }

    /// Whether the bucket is full again (an entry that may be dropped).
    pub fn is_full(&self, now_ms: i64) -> bool {
        self.full_at_ms <= now_ms
    }
}
