//! Unit tests for password hashing, policy and the login throttle state machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{
    DELAY_MAX_MS, FAILURE_MEMORY_MS, Gate, HashCost, LOCK_AFTER_FAILURES, LOCK_MS, PasswordError,
    PolicyViolation, Throttle, check_policy, delay_ms, hash_password, needs_rehash, new_salt,
    verify_password,
};

const SALT: [u8; 16] = *b"0123456789abcdef";

#[test]
fn hash_and_verify_argon2id() {
    let hash = hash_password("correcto caballo batería", &SALT, HashCost::TEST_ONLY).unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{hash}");
    assert_eq!(verify_password("correcto caballo batería", &hash), Ok(true));
    assert_eq!(
        verify_password("correcto caballo bateria", &hash),
        Ok(false)
    );
    assert_eq!(verify_password("", &hash), Ok(false));
    // Deterministic for a given salt, different for another salt.
    assert_eq!(
        hash,
        hash_password("correcto caballo batería", &SALT, HashCost::TEST_ONLY).unwrap()
    );
    let other = hash_password(
        "correcto caballo batería",
        b"fedcba9876543210",
        HashCost::TEST_ONLY,
    )
    .unwrap();
    assert_ne!(hash, other);
    assert_eq!(
        verify_password("correcto caballo batería", &other),
        Ok(true)
    );
    // A tampered digest fails.
    let mut tampered = hash.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        verify_password("correcto caballo batería", &tampered),
        Ok(false)
    );
}

#[test]
fn recommended_cost_hashes_in_phc_form() {
    let hash = hash_password("una frase bastante larga", &SALT, HashCost::RECOMMENDED).unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!needs_rehash(&hash, HashCost::RECOMMENDED));
    assert_eq!(verify_password("una frase bastante larga", &hash), Ok(true));
}

#[test]
fn rejects_unusable_stored_hashes() {
    assert_eq!(
        verify_password("x", "plain-text"),
        Err(PasswordError::MalformedHash)
    );
    assert_eq!(verify_password("x", ""), Err(PasswordError::MalformedHash));
    let argon2i = "$argon2i$v=19$m=8,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$O2bBM5L4c9YfZ0pKc7+u0w";
    assert_eq!(
        verify_password("x", argon2i),
        Err(PasswordError::NotArgon2id)
    );
    assert!(needs_rehash(argon2i, HashCost::TEST_ONLY));
    let weak = hash_password("frase larga de prueba", &SALT, HashCost::TEST_ONLY).unwrap();
    assert!(needs_rehash(&weak, HashCost::RECOMMENDED));
    assert!(!needs_rehash(&weak, HashCost::TEST_ONLY));
    assert!(needs_rehash("garbage", HashCost::TEST_ONLY));
    assert_eq!(
        hash_password(&"a".repeat(300), &SALT, HashCost::TEST_ONLY),
        Err(PasswordError::Hash)
    );
    assert_ne!(new_salt().unwrap(), new_salt().unwrap());
}

#[test]
fn policy_table() {
    use PolicyViolation::*;
    let cases: [(&str, &str, &[PolicyViolation]); 13] = [
        ("Tlalpan-2026!", "dra.lopez", &[]),
        ("frase larga sin números", "enf.perez", &[]),
        ("corto", "u", &[TooShort]),
        ("123456789012", "u", &[AllDigits, Trivial]),
        ("5559871234", "u", &[AllDigits]),
        ("aaaaaaaaaaaa", "u", &[Trivial]),
        ("abcdefghijk", "u", &[Trivial]),
        ("kjihgfedcba", "u", &[Trivial]),
        ("xdra.lopez99", "Dra.Lopez", &[ContainsUsername]),
        ("Contraseña123", "u", &[Common]),
        ("qwertyuiop", "u", &[Common]),
        ("tab\there-long", "u", &[ControlCharacter]),
        ("123", "u", &[TooShort, AllDigits, Trivial]),
    ];
    for (password, username, want) in cases {
        assert_eq!(check_policy(password, username), want, "{password:?}");
    }
    assert_eq!(check_policy(&"ñandú feliz ".repeat(30), "u"), [TooLong]);
    // Ten characters count as characters, not bytes.
    assert!(check_policy("ñandú-ábc1", "u").is_empty());
    assert_ne!(TooShort.message_es(), TooShort.message_en());
}

#[test]
fn delays_grow_exponentially_and_are_capped() {
    let delays: Vec<i64> = (0..16).map(delay_ms).collect();
    assert_eq!(&delays[..8], &[0, 0, 0, 1_000, 2_000, 4_000, 8_000, 16_000]);
    assert_eq!(delays[11], 256_000);
    assert_eq!(delays[12], DELAY_MAX_MS);
    assert_eq!(delay_ms(u32::MAX), DELAY_MAX_MS);
}

/// A scripted session against the state machine with an injected clock.
#[test]
fn throttle_state_machine() {
    let t0 = 1_800_000_000_000_i64;
    let mut state = Throttle::default();
    assert_eq!(state.gate(t0), Gate::Open);
    // Three free failures, one second apart.
    for i in 0..3 {
        let now = t0 + i * 1000;
        assert_eq!(state.gate(now), Gate::Open, "attempt {i}");
        state = state.after_failure(now);
    }
    assert_eq!(state.failed_count, 3);
    // Now a delay of 1 s after the last failure.
    let last = t0 + 2000;
    assert_eq!(state.gate(last + 999), Gate::RetryAt { at_ms: last + 1000 });
    assert_eq!(state.gate(last + 1000), Gate::Open);
    // A success resets everything.
    assert_eq!(state.after_success(), Throttle::default());
    // Keep failing, always at the earliest allowed moment, until the lock.
    let mut now = last + 1000;
    while state.failed_count < LOCK_AFTER_FAILURES {
        match state.gate(now) {
            Gate::Open => state = state.after_failure(now),
            Gate::RetryAt { at_ms } => {
                assert!(at_ms > now);
                now = at_ms;
            }
            Gate::LockedUntil { .. } => panic!("locked early at {}", state.failed_count),
        }
    }
    let locked_at = state.last_failure_ms.unwrap();
    assert_eq!(state.locked_until_ms, Some(locked_at + LOCK_MS));
    assert_eq!(
        state.gate(locked_at + LOCK_MS - 1),
        Gate::LockedUntil {
            until_ms: locked_at + LOCK_MS
        }
    );
    // After the lock one attempt is allowed; failing it locks again at once.
    let after = locked_at + LOCK_MS;
    assert_eq!(state.gate(after), Gate::Open);
    let relocked = state.after_failure(after);
    assert_eq!(
        relocked.gate(after + 1),
        Gate::LockedUntil {
            until_ms: after + LOCK_MS
        }
    );
    // ...while succeeding unlocks fully.
    assert_eq!(state.after_success().gate(after), Gate::Open);
    // Old failures are forgotten after a day.
    let mut stale = Throttle::default();
    for i in 0..5 {
        stale = stale.after_failure(t0 + i);
    }
    assert!(matches!(stale.gate(t0 + 10), Gate::RetryAt { .. }));
    let later = t0 + 4 + FAILURE_MEMORY_MS;
    assert_eq!(stale.gate(later), Gate::Open);
    assert_eq!(stale.after_failure(later).failed_count, 1);
}
