//! SMART App Launch v2 building blocks, pure (time passed in): PKCE, the claims of refresh
//! tokens and OpenID `id_token`s, and the backend-services client assertion
//! (`private_key_jwt`, RS384 or ES384, checked against the JWKS the app registered).
//!
//! Key decisions:
//! - Refresh tokens are JWTs signed with the node key, not rows: a refresh token carries its
//!   family (one per authorization) and the revocation list marks used ones. Using a refresh
//!   token revokes it; presenting a revoked one revokes its whole family (RFC 9700 §4.14.2:
//!   a replayed refresh token means it leaked). Their claims ([`RefreshClaims`]) lack an access
//!   token's `role`, so a refresh token is never accepted as an access token, and an access
//!   token lacks `family`, so the converse fails too.
//! - Only `S256` PKCE: `plain` would hand the verifier to whoever sees the redirect.
//! - Client assertions accept exactly the algorithms SMART Backend Services names, with the key
//!   found in the app's own registered JWKS; `none`, HMAC and keys carried in the header are
//!   refused by construction.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

/// Lifetime of a refresh token for `offline_access`: 90 days, after which the user authorizes
/// the app again.
pub const REFRESH_TTL_OFFLINE_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// Lifetime of a refresh token for `online_access`: one clinic shift.
pub const REFRESH_TTL_ONLINE_MS: i64 = 8 * 60 * 60 * 1000;

/// Longest accepted client assertion lifetime: SMART says no more than five minutes.
pub const ASSERTION_TTL_MAX_S: i64 = 5 * 60;

/// `typ` member of refresh-token claims.
pub const REFRESH_TYPE: &str = "refresh";

/// Whether `verifier` is a valid PKCE code verifier (RFC 7636 §4.1: 43 to 128 characters of
/// `[A-Za-z0-9-._~]`) whose S256 challenge is `challenge`.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    use sha2::Digest;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let digest = sha2::Sha256::digest(verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// Byte equality that takes the same time wherever the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `sha256:` and the hex SHA-256 of a client secret, as registered apps keep it. Client secrets
/// are long random strings (not passwords), so a plain digest suffices.
pub fn secret_digest(secret: &str) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        crate::audit::hex(&sha2::Sha256::digest(secret.as_bytes()))
    )
}

/// The claims of a refresh token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    /// Always [`REFRESH_TYPE`].
    pub typ: String,
    /// The account name.
    pub sub: String,
    /// The app it was issued to.
    pub client_id: String,
    /// The scopes granted at authorization (a refresh may ask for fewer).
    pub scope: String,
    /// The launch patient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// One per authorization; every token refreshed from it shares it.
    pub family: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The account's credential epoch: a password reset voids the app's refresh tokens too.
    pub epoch: u32,
}

/// The claims of an OpenID Connect `id_token`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The FHIR resource of the user (`…/Practitioner/{id}` or `…/Patient/{id}`).
    #[serde(rename = "fhirUser", default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// Why a client assertion was refused (all answer `invalid_client`; the variants are for logs
/// and tests).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("malformed client assertion")]
    Malformed,
    #[error("client assertion algorithm must be RS384 or ES384")]
    Algorithm,
    #[error("the app registered no usable key for this assertion")]
    NoKey,
    #[error("client assertion signature does not verify")]
    Signature,
    #[error("client assertion iss/sub must both be the client_id")]
    Issuer,
    #[error("client assertion audience is not this token endpoint")]
    Audience,
    #[error("client assertion expired or lives too long")]
    Times,
    #[error("client assertion has no jti")]
    NoJti,
}

/// The members of a client assertion we check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    /// A string or an array of strings.
    pub aud: serde_json::Value,
    pub exp: i64,
    #[serde(default)]
    pub jti: String,
}

/// The `client_id` an assertion claims to come from (its `iss`), read without verifying
/// anything: only to find which app's keys to verify it with.
pub fn assertion_issuer(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("iss")?.as_str().map(str::to_owned)
}

/// Verifies a backend service's client assertion against the app's registered JWKS: the
/// algorithm (RS384 or ES384), the signature with the key named by `kid` (or the only key of a
/// matching type), `iss` = `sub` = `client_id`, `aud` naming `token_url`, `exp` in the future
/// and at most five minutes ahead, and a `jti` (whose replay the caller refuses).
pub fn verify_client_assertion(
    assertion: &str,
    jwks_text: &str,
    client_id: &str,
    token_url: &str,
    now_ms: i64,
) -> Result<AssertionClaims, AssertionError> {
    if assertion.len() > crate::token::TOKEN_BYTES_MAX {
        return Err(AssertionError::Malformed);
    }
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| AssertionError::Malformed)?;
    if !matches!(header.alg, Algorithm::RS384 | Algorithm::ES384) {
        return Err(AssertionError::Algorithm);
    }
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(jwks_text).map_err(|_| AssertionError::NoKey)?;
    let family_matches = |jwk: &jsonwebtoken::jwk::Jwk| match (&jwk.algorithm, header.alg) {
        (jsonwebtoken::jwk::AlgorithmParameters::RSA(_), Algorithm::RS384) => true,
        (jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == jsonwebtoken::jwk::EllipticCurve::P384
        }
        _ => false,
    };
    let candidates: Vec<&jsonwebtoken::jwk::Jwk> = jwks
        .keys
        .iter()
        .filter(|jwk| family_matches(jwk))
        .filter(|jwk| match &header.kid {
            Some(kid) => jwk.common.key_id.as_deref() == Some(kid.as_str()),
            None => true,
        })
        .collect();
    // Without a kid, only an unambiguous key set is usable (SMART requires the kid).
    let [jwk] = candidates.as_slice() else {
        return Err(AssertionError::NoKey);
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| AssertionError::NoKey)?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => AssertionError::Signature,
            _ => AssertionError::Malformed,
        })?
        .claims;
    if claims.iss != client_id || claims.sub != client_id {
        return Err(AssertionError::Issuer);
    }
    let audience_ok = match &claims.aud {
        serde_json::Value::String(aud) => aud == token_url,
        serde_json::Value::Array(items) => items.iter().any(|a| a.as_str() == Some(token_url)),
        _ => false,
    };
    if !audience_ok {
        return Err(AssertionError::Audience);
    }
    let now_s = now_ms.div_euclid(1000);
    if claims.exp <= now_s || claims.exp > now_s + ASSERTION_TTL_MAX_S + 60 {
        return Err(AssertionError::Times);
    }
    if claims.jti.trim().is_empty() {
        return Err(AssertionError::NoJti);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pkce_s256_accepts_the_rfc_example_and_nothing_else() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(verifier, verifier), "plain is refused");
        assert!(!pkce_s256_matches("short", challenge));
        let mut other = verifier.to_string();
        other.replace_range(0..1, "e");
        assert!(!pkce_s256_matches(&other, challenge));
    }

    #[test]
    fn assertion_with_hmac_or_none_is_refused_before_keys_are_read() {
        let none = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJhIn0.";
        assert!(verify_client_assertion(none, "{}", "a", "u", 0).is_err());
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS384),
            &serde_json::json!({"iss": "a", "sub": "a", "aud": "u", "exp": 100, "jti": "j"}),
            &jsonwebtoken::EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert_eq!(
            verify_client_assertion(&hs, "{\"keys\":[]}", "a", "u", 0),
            Err(AssertionError::Algorithm)
        );
        assert_eq!(assertion_issuer(&hs).as_deref(), Some("a"));
    }
}
