//! Unit tests for password hashing and policy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{
    HashCost, PasswordError, PolicyViolation, check_policy, hash_password, needs_rehash, new_salt,
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
