//! Opaque secrets for web sessions and forms: random values, their digests, keyed MACs and
//! constant-time comparison (aws-lc-rs, the crate's one crypto library).
//!
//! A UI session is an opaque random value that the browser holds and the server knows only by its
//! SHA-256 digest ([`digest`]), so a memory dump or a log line with a session table key cannot be
//! replayed as a cookie. Form tokens that must exist before a session (the sign-in form) are
//! MACs of a random cookie value under a per-process key ([`mac`]): stateless, so anonymous page
//! views cannot fill the server's memory.

use base64::Engine;

/// Random bytes in a secret: 256 bits, beyond guessing.
pub const SECRET_BYTES: usize = 32;

/// The OS random source failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

/// A fresh random secret as base64url without padding (43 characters, cookie-safe).
pub fn random_secret() -> Result<String, RandomError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_key()?))
}

/// Fresh random key material (per-process MAC keys).
pub fn random_key() -> Result<[u8; SECRET_BYTES], RandomError> {
    let mut bytes = [0u8; SECRET_BYTES];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(bytes)
}

/// SHA-256 of a secret: how the server keys what it keeps about it.
pub fn digest(secret: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes()).into()
}

/// HMAC-SHA-256 of `purpose` and `value` under `key`, as base64url: a token only the holder
/// of `key` can make, bound to one purpose (so a token for one form is not one for another).
pub fn mac(key: &[u8; SECRET_BYTES], purpose: &str, value: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let mut context = aws_lc_rs::hmac::Context::with_key(&key);
    context.update(purpose.as_bytes());
    context.update(&[0]);
    context.update(value.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(context.sign().as_ref())
}

/// Compares two secrets in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn secrets_are_random_cookie_safe_and_compared_whole() {
        let a = random_secret().unwrap();
        let b = random_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..42]));
        assert_ne!(digest(&a), digest(&b));
    }

    #[test]
    fn macs_depend_on_key_purpose_and_value() {
        let key = [7u8; SECRET_BYTES];
        let other = [8u8; SECRET_BYTES];
        let token = mac(&key, "entrar", "abc");
        assert_eq!(token, mac(&key, "entrar", "abc"));
        assert_ne!(token, mac(&other, "entrar", "abc"));
        assert_ne!(token, mac(&key, "salir", "abc"));
        assert_ne!(token, mac(&key, "entrar", "abd"));
        // The separator keeps (purpose, value) pairs apart.
        assert_ne!(mac(&key, "ab", "c"), mac(&key, "a", "bc"));
    }
}
