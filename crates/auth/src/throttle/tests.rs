//! The sign-in throttle with a scripted clock: every instant is a number, nothing sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use super::*;

const T0: i64 = 1_800_000_000_000;
const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
const OTHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 8));

#[test]
fn the_curves_are_the_documented_ones() {
    let pair: Vec<i64> = (0..15).map(|n| PAIR_CURVE.delay_ms(n)).collect();
    assert_eq!(
        pair,
        [
            0, 0, 0, 0, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000,
            300_000, 300_000
        ]
    );
    assert_eq!(PAIR_CURVE.delay_ms(u32::MAX), 300_000);
    let account: Vec<i64> = (9..19).map(|n| ACCOUNT_CURVE.delay_ms(n)).collect();
    assert_eq!(
        account,
        [
            0, 0, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000
        ]
    );
}

/// The address bucket at the exact edges: 20 failures pass in a burst, the 21st waits one
/// refill interval, and the budget refills continuously whatever the calendar minute.
#[test]
fn the_address_bucket_refills_continuously() {
    let mut bucket = AddressBucket::default();
    for i in 0..ADDRESS_FAILURES_BURST {
        assert_eq!(bucket.retry_at(T0), None, "failure {i}");
        bucket = bucket.after_failure(T0);
    }
    let at = bucket
        .retry_at(T0)
        .expect("the 21st failure in a burst waits");
    assert_eq!(at, T0 + ADDRESS_FAILURE_INTERVAL_MS);
    assert_eq!(bucket.retry_at(at - 1), Some(at));
    assert_eq!(bucket.retry_at(at), None);
    // A burst that straddles a minute boundary gets no second budget: 20 failures in the last
    // second of a minute, then more in the first second of the next are still refused.
    let minute_end = (T0 / 60_000 + 1) * 60_000;
    let mut straddling = AddressBucket::default();
    for i in 0..ADDRESS_FAILURES_BURST {
        straddling = straddling.after_failure(minute_end - 1_000 + i64::from(i));
    }
    assert!(straddling.retry_at(minute_end + 10).is_some());
    // Sustained: one failure per interval is always allowed.
    let mut steady = bucket;
    let mut now = at;
    for _ in 0..100 {
        assert_eq!(steady.retry_at(now), None);
        steady = steady.after_failure(now);
        now += ADDRESS_FAILURE_INTERVAL_MS;
    }
}

/// The whole sign-in state of a node, scripted: an address, a pair, unknown names.
#[test]
fn limits_refuse_delayed_pairs_and_spent_addresses_only() {
    let mut limits = SignInLimits::default();
    // Three free failures for a pair, then a delay of one second after the fourth.
    for i in 0..4 {
        let now = T0 + i * 10;
        assert_eq!(limits.check("medica", Some(IP), now), Ok(()));
        limits.note_failure("medica", Some(IP), true, now);
    }
    let last = T0 + 30;
    assert_eq!(
        limits.check("medica", Some(IP), last + 999),
        Err(Refusal::Delay { at_ms: last + 1000 })
    );
    // Same name with other case and spaces: the same count.
    assert!(limits.check(" MEDICA ", Some(IP), last + 1).is_err());
    assert_eq!(
        Refusal::Delay { at_ms: last + 1000 }.wait_s(last + 1),
        1,
        "whole seconds, at least one"
    );
    assert_eq!(limits.check("medica", Some(IP), last + 1000), Ok(()));
    // Another address, or another name from this address, is not delayed by this pair.
    assert_eq!(limits.check("medica", Some(OTHER_IP), last + 1), Ok(()));
    assert_eq!(limits.check("enfermero", Some(IP), last + 1), Ok(()));
    // A success clears the pair.
    limits.note_success("medica", Some(IP));
    assert_eq!(limits.check("medica", Some(IP), last + 1), Ok(()));
    // Spraying: 16 more failures across names empty the address's bucket (4 already spent).
    for i in 0..16 {
        let name = format!("usuario{i}");
        assert_eq!(limits.check(&name, Some(IP), last + 2), Ok(()), "{name}");
        limits.note_failure(&name, Some(IP), false, last + 2);
    }
    assert!(matches!(
        limits.check("nueva", Some(IP), last + 2),
        Err(Refusal::Address { .. })
    ));
    // Without a client address (a CLI sign-in) only account-wide delays apply.
    assert_eq!(limits.check("nueva", None, last + 2), Ok(()));
}

/// Names without an account follow the account curve in memory, so they answer like accounts.
#[test]
fn unknown_names_are_delayed_like_accounts() {
    let mut limits = SignInLimits::default();
    let mut stored = Failures::default();
    // Spread over many addresses, so only the account-wide curve is in play.
    let mut now = T0;
    for i in 0..40u8 {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, i));
        let known = stored.retry_at(&ACCOUNT_CURVE, now);
        let unknown = limits.check_unknown("nadie", now).err().map(|r| match r {
            Refusal::Delay { at_ms } | Refusal::Address { at_ms } => at_ms,
        });
        assert_eq!(known, unknown, "attempt {i}");
        if let Some(at) = known {
            now = at;
            continue;
        }
        stored = stored.after_failure(&ACCOUNT_CURVE, now);
        limits.note_failure("nadie", Some(ip), false, now);
        now += 5;
    }
    assert!(stored.count > ACCOUNT_CURVE.free_failures);
    // Forgotten after a day without failures.
    let later = stored.last_ms.unwrap() + ACCOUNT_CURVE.memory_ms;
    assert_eq!(stored.retry_at(&ACCOUNT_CURVE, later), None);
    assert_eq!(limits.check_unknown("nadie", later), Ok(()));
    assert_eq!(stored.after_failure(&ACCOUNT_CURVE, later).count, 1);
}

#[test]
fn tables_stay_bounded() {
    let mut limits = SignInLimits::default();
    for i in 0..(ENTRIES_MAX as u32 + 10) {
        let ip = IpAddr::V4(Ipv4Addr::from(i));
        limits.note_failure("x", Some(ip), true, T0);
    }
    assert!(limits.addresses.len() <= ENTRIES_MAX);
    assert!(limits.pairs.len() <= ENTRIES_MAX);
}

#[test]
fn the_rate_bucket_allows_a_minute_of_requests_then_one_per_interval() {
    let mut bucket = RateBucket::default();
    for i in 0..30 {
        assert_eq!(bucket.take(30, T0), Ok(()), "request {i}");
    }
    let at = bucket.take(30, T0).unwrap_err();
    assert_eq!(at, T0 + 2_000);
    assert!(bucket.take(30, at - 1).is_err());
    assert_eq!(bucket.take(30, at), Ok(()));
    assert_eq!(RateBucket::default().take(0, T0), Ok(()), "0 = unlimited");
}
