//! The sign-in use case with a scripted clock: the shared throttle, names with and without an
//! account answering alike, the owner's address exempt from the account's delay (no lockout),
//! and the credential epoch ending sessions and tokens. Nothing sleeps.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use auth::password::HashCost;
use auth::role::Role;

use crate::{Clock, Ehr, NewAccount, Requester, SignInError};

const T0: i64 = 1_800_000_000_000;
const PASSWORD: &str = "Clave-de-prueba-2026";

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn ip(last: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::new(10, 0, 1, last)))
}

fn node() -> (Ehr, Arc<ManualClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = store_sqlite::SqliteStore::open(dir.path()).unwrap();
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let ehr = Ehr::new(store, clock.clone(), "prueba");
    ehr.add_account(
        &Requester::local_system("pruebas"),
        NewAccount {
            username: "medica".into(),
            role: Role::Physician,
            clues: Some("DFSSA001234".into()),
            practitioner_id: None,
            patient_id: None,
            display_name: "Dra. Ana López".into(),
        },
        PASSWORD,
        HashCost::TEST_ONLY,
    )
    .unwrap();
    (ehr, clock, dir)
}

/// What an attacker sees of an answer.
fn seen(outcome: &Result<store::Account, SignInError>) -> String {
    match outcome {
        Ok(_) => "ok".into(),
        Err(err) => format!("{} {:?}", err.message_es(), err.retry_after_s()),
    }
}

#[tokio::test]
async fn guesses_from_many_addresses_slow_the_account_but_never_lock_its_owner_out() {
    let (ehr, clock, _dir) = node();
    // The owner signs in from the clinic PC: its familiar address.
    assert!(ehr.sign_in("medica", PASSWORD, ip(1)).await.is_ok());
    // Guesses for the account and for a name without one, each from ever new addresses
    // (so only the account-wide curve is in play), at the same instants.
    let mut answers = Vec::new();
    for name in ["medica", "nadie"] {
        clock.0.store(T0, Ordering::Relaxed);
        let mut seen_for_name = Vec::new();
        for i in 0..13u8 {
            let offset = if name == "medica" { 10 } else { 100 };
            let outcome = ehr.sign_in(name, "Adivinanza-2026", ip(offset + i)).await;
            seen_for_name.push(seen(&outcome));
        }
        answers.push(seen_for_name);
    }
    assert_eq!(
        answers[0], answers[1],
        "a name without an account answers alike"
    );
    let checked = answers[0]
        .iter()
        .filter(|a| a.starts_with("Usuario o contraseña incorrectos"))
        .count();
    assert_eq!(
        checked, 11,
        "10 free failures and one more: {:?}",
        answers[0]
    );
    assert!(
        answers[0][12].starts_with("Demasiados intentos"),
        "{:?}",
        answers[0]
    );
    // The right password from a new address waits out the account's delay…
    let elsewhere = ehr.sign_in("medica", PASSWORD, ip(200)).await;
    assert!(matches!(
        elsewhere,
        Err(SignInError::Throttled { retry_after_s: 1 })
    ));
    // …the owner at their own address does not, and no administrator is needed.
    assert!(ehr.sign_in("medica", PASSWORD, ip(1)).await.is_ok());
    // A success clears the account's count: the new address gets in too.
    assert!(ehr.sign_in("medica", PASSWORD, ip(200)).await.is_ok());
}

#[tokio::test]
async fn one_address_is_held_to_its_bucket_and_each_pair_to_its_delay() {
    let (ehr, clock, _dir) = node();
    // Three free failures for a name from one address, then a delay of 1 s after the 4th.
    for _ in 0..4 {
        let outcome = ehr.sign_in("medica", "x-equivocada-1", ip(5)).await;
        assert!(matches!(outcome, Err(SignInError::BadCredentials)));
    }
    let delayed = ehr.sign_in("medica", PASSWORD, ip(5)).await;
    assert!(matches!(
        delayed,
        Err(SignInError::Throttled { retry_after_s: 1 })
    ));
    clock.0.fetch_add(1_000, Ordering::Relaxed);
    assert!(ehr.sign_in("medica", PASSWORD, ip(5)).await.is_ok());
    // Spraying names from one address: 20 failures in a burst, then refused.
    let mut refused_at = None;
    for i in 0..30 {
        let outcome = ehr
            .sign_in(&format!("usuario{i}"), "x-equivocada-1", ip(6))
            .await;
        if matches!(outcome, Err(SignInError::Throttled { .. })) {
            refused_at = Some(i);
            break;
        }
    }
    assert_eq!(
        refused_at,
        Some(auth::throttle::ADDRESS_FAILURES_BURST as usize)
    );
    // One refill interval later, one more failure is allowed.
    clock.0.fetch_add(
        auth::throttle::ADDRESS_FAILURE_INTERVAL_MS,
        Ordering::Relaxed,
    );
    let outcome = ehr.sign_in("otro", "x-equivocada-1", ip(6)).await;
    assert!(matches!(outcome, Err(SignInError::BadCredentials)));
}

#[tokio::test]
async fn a_reset_or_a_disable_ends_sessions_and_tokens_issued_before() {
    let (ehr, _clock, _dir) = node();
    let operator = Requester::local_system("pruebas");
    let account = ehr.sign_in("medica", PASSWORD, ip(1)).await.unwrap();
    let keys = auth::token::KeyStore::generate().unwrap();
    let who = crate::requester_for_account(&account, None);
    let issued = ehr.issue_token(&who, &keys, &account, None, None).unwrap();
    let epoch = account.credential_epoch;
    assert!(ehr.requester_for_session("medica", epoch, None).is_ok());
    assert!(ehr.requester_for_claims(&issued.claims, None).is_ok());
    ehr.change_account(
        &operator,
        "medica",
        None,
        Some("Nueva-clave-segura-2027"),
        HashCost::TEST_ONLY,
    )
    .unwrap();
    assert!(ehr.requester_for_session("medica", epoch, None).is_err());
    assert!(ehr.requester_for_claims(&issued.claims, None).is_err());
    // A new sign-in and token live in the new epoch, until a disable.
    let account = ehr
        .sign_in("medica", "Nueva-clave-segura-2027", ip(1))
        .await
        .unwrap();
    let issued = ehr.issue_token(&who, &keys, &account, None, None).unwrap();
    assert!(ehr.requester_for_claims(&issued.claims, None).is_ok());
    ehr.change_account(&operator, "medica", Some(true), None, HashCost::TEST_ONLY)
        .unwrap();
    ehr.change_account(&operator, "medica", Some(false), None, HashCost::TEST_ONLY)
        .unwrap();
    assert!(ehr.requester_for_claims(&issued.claims, None).is_err());
    assert!(
        ehr.requester_for_session("medica", account.credential_epoch, None)
            .is_err()
    );
}
