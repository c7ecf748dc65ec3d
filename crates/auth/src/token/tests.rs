//! Unit tests for bearer tokens: issue, verify, and every way a token must be rejected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::{
    Claims, KeyStore, TTL_DEFAULT_MS, TTL_MAX_MS, TokenError, TokenRequest, default_scopes,
    generate_pkcs8,
};
use crate::role::Role;
use crate::scope::Scopes;

const T0: i64 = 1_800_000_000_000;

fn never_revoked(_: &str) -> bool {
    false
}

fn physician_request() -> TokenRequest {
    TokenRequest {
        user: "dra.lopez".into(),
        role: Role::Physician,
        clues: Some("DFSSA001234".into()),
        patient_id: None,
        practitioner_id: Some("pr1".into()),
        scopes: None,
        ttl_ms: None,
        epoch: 3,
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[test]
fn issues_and_verifies() {
    let keys = KeyStore::generate().unwrap();
    let issued = keys.issue(&physician_request(), T0 + 123, "jti-1").unwrap();
    assert_eq!(issued.token.split('.').count(), 3);
    let claims = keys
        .verify(&issued.token, T0 + 1000, &never_revoked)
        .unwrap();
    assert_eq!(claims, issued.claims);
    assert_eq!(claims.sub, "dra.lopez");
    assert_eq!(claims.role, "physician");
    assert_eq!(claims.clues.as_deref(), Some("DFSSA001234"));
    assert_eq!(claims.scope, "user/*.cruds");
    assert_eq!(claims.iat, T0 / 1000);
    assert_eq!(claims.exp - claims.iat, TTL_DEFAULT_MS / 1000);
    assert_eq!(claims.jti, "jti-1");
    let principal = claims.to_principal().unwrap();
    assert_eq!(principal.role, Role::Physician);
    assert_eq!(principal.token_id, "jti-1");
    assert_eq!(principal.practitioner_id.as_deref(), Some("pr1"));
    assert!(principal.break_glass.is_empty());
    // The header names our key and EdDSA.
    let header = jsonwebtoken::decode_header(&issued.token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(keys.key_id()));
    assert_eq!(keys.key_id().len(), 16);
    assert_eq!(keys.public_key_base64url().len(), 43);
    // Debug output never shows key material.
    assert!(!format!("{keys:?}").contains(&keys.public_key_base64url()));
}

#[test]
fn expiry_with_injected_time() {
    let keys = KeyStore::generate().unwrap();
    let request = TokenRequest {
        ttl_ms: Some(60_000),
        ..physician_request()
    };
    let issued = keys.issue(&request, T0, "j").unwrap();
    // The credential epoch travels in the token (a reset moves the account's on).
    assert_eq!(issued.claims.epoch, 3);
    assert!(
        keys.verify(&issued.token, T0 + 59_999, &never_revoked)
            .is_ok()
    );
    assert!(matches!(
        keys.verify(&issued.token, T0 + 60_000, &never_revoked),
        Err(TokenError::Expired)
    ));
    assert!(matches!(
        keys.verify(&issued.token, T0 + 86_400_000, &never_revoked),
        Err(TokenError::Expired)
    ));
    // Issued "in the future" beyond the allowed skew.
    assert!(matches!(
        keys.verify(&issued.token, T0 - 61_000, &never_revoked),
        Err(TokenError::BadTimes)
    ));
    assert!(
        keys.verify(&issued.token, T0 - 59_000, &never_revoked)
            .is_ok()
    );
}

#[test]
fn ttl_bounds() {
    let keys = KeyStore::generate().unwrap();
    for ttl in [0, -1, TTL_MAX_MS + 1, i64::MAX] {
        let request = TokenRequest {
            ttl_ms: Some(ttl),
            ..physician_request()
        };
        assert!(
            matches!(keys.issue(&request, T0, "j"), Err(TokenError::Ttl)),
            "{ttl}"
        );
    }
    let request = TokenRequest {
        ttl_ms: Some(TTL_MAX_MS),
        ..physician_request()
    };
    let issued = keys.issue(&request, T0, "j").unwrap();
    assert_eq!(issued.claims.exp - issued.claims.iat, 86_400);
    let request = TokenRequest {
        ttl_ms: Some(1),
        ..physician_request()
    };
    let issued = keys.issue(&request, T0, "j").unwrap();
    assert_eq!(issued.claims.exp - issued.claims.iat, 1);
}

#[test]
fn rejects_forged_tampered_and_foreign_tokens() {
    let keys = KeyStore::generate().unwrap();
    let other = KeyStore::generate().unwrap();
    let issued = keys.issue(&physician_request(), T0, "j").unwrap();
    let parts: Vec<&str> = issued.token.split('.').collect();
    let verify = |token: &str| keys.verify(token, T0 + 1000, &never_revoked);

    // Signature altered.
    let mut signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap();
    signature[10] ^= 1;
    let forged = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
    assert!(matches!(verify(&forged), Err(TokenError::BadSignature)));

    // Claims tampered (role raised to admin), signature kept.
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .unwrap();
    let tampered_payload = String::from_utf8(payload)
        .unwrap()
        .replace("\"physician\"", "\"admin\"");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(tampered_payload.as_bytes()),
        parts[2]
    );
    assert!(matches!(verify(&tampered), Err(TokenError::BadSignature)));

    // Another node's key: different kid.
    let foreign = other.issue(&physician_request(), T0, "j").unwrap();
    assert!(matches!(verify(&foreign.token), Err(TokenError::WrongKey)));

    // Another key claiming our kid.
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(keys.key_id().to_owned());
    let impostor_key = EncodingKey::from_ed_der(&generate_pkcs8().unwrap());
    let impostor = jsonwebtoken::encode(&header, &issued.claims, &impostor_key).unwrap();
    assert!(matches!(verify(&impostor), Err(TokenError::BadSignature)));

    // alg none, with and without a signature part.
    let none_header = format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, keys.key_id());
    for token in [
        format!("{}.{}.", b64(none_header.as_bytes()), parts[1]),
        format!("{}.{}", b64(none_header.as_bytes()), parts[1]),
        format!("{}.{}.{}", b64(none_header.as_bytes()), parts[1], parts[2]),
    ] {
        let result = verify(&token);
        assert!(
            matches!(result, Err(TokenError::Malformed | TokenError::WrongKey)),
            "{result:?}"
        );
    }

    // HS256 keyed with our public key (the classic key-confusion attack).
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(keys.key_id().to_owned());
    let public = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(keys.public_key_base64url())
        .unwrap();
    let confused = jsonwebtoken::encode(
        &hs_header,
        &issued.claims,
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    assert!(matches!(verify(&confused), Err(TokenError::WrongKey)));

    // Garbage of every kind.
    for junk in ["", "a", "a.b.c", "...", "Bearer x", &"x".repeat(10_000)] {
        assert!(verify(junk).is_err(), "{junk:.20}");
    }
}

#[test]
fn revocation_is_asked_only_for_authentic_tokens() {
    let keys = KeyStore::generate().unwrap();
    let issued = keys.issue(&physician_request(), T0, "revoked-jti").unwrap();
    let asked = RefCell::new(Vec::new());
    let check = |jti: &str| {
        asked.borrow_mut().push(jti.to_owned());
        jti == "revoked-jti"
    };
    assert!(matches!(
        keys.verify(&issued.token, T0, &check),
        Err(TokenError::Revoked)
    ));
    let mut forged = issued.token.clone();
    forged.push('A');
    assert!(keys.verify(&forged, T0, &check).is_err());
    assert_eq!(asked.borrow().as_slice(), ["revoked-jti"]);
    let fine = keys.issue(&physician_request(), T0, "ok-jti").unwrap();
    assert!(keys.verify(&fine.token, T0, &check).is_ok());
}

/// Claims signed with our key but violating the time rules are still rejected.
#[test]
fn rejects_implausible_times_even_when_signed() {
    let keys = KeyStore::generate().unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(keys.key_id().to_owned());
    let base = keys.issue(&physician_request(), T0, "j").unwrap().claims;
    let too_long = Claims {
        exp: base.iat + TTL_MAX_MS / 1000 + 1,
        ..base.clone()
    };
    let backwards = Claims {
        exp: base.iat,
        iat: base.iat + 10,
        ..base.clone()
    };
    for claims in [too_long, backwards] {
        let token = jsonwebtoken::encode(&header, &claims, &keys.encoding).unwrap();
        let result = keys.verify(&token, T0, &never_revoked);
        assert!(
            matches!(result, Err(TokenError::BadTimes | TokenError::Expired)),
            "{result:?}"
        );
    }
    // A signed token whose role is unknown fails when made a principal.
    let odd = Claims {
        role: "superuser".into(),
        ..base
    };
    let token = jsonwebtoken::encode(&header, &odd, &keys.encoding).unwrap();
    let claims = keys.verify(&token, T0, &never_revoked).unwrap();
    assert!(matches!(
        claims.to_principal(),
        Err(TokenError::InvalidClaims)
    ));
}

#[test]
fn request_consistency_rules() {
    let keys = KeyStore::generate().unwrap();
    let scopes = |text: &str| Some(Scopes::parse(text).unwrap());
    let bad = [
        TokenRequest {
            clues: None,
            ..physician_request()
        },
        TokenRequest {
            clues: Some(" ".into()),
            ..physician_request()
        },
        TokenRequest {
            user: " ".into(),
            ..physician_request()
        },
        TokenRequest {
            role: Role::Patient,
            clues: None,
            ..physician_request()
        },
        TokenRequest {
            role: Role::System,
            clues: None,
            ..physician_request()
        },
        TokenRequest {
            role: Role::System,
            scopes: scopes("system/*.rs user/*.rs"),
            ..physician_request()
        },
        TokenRequest {
            scopes: scopes("system/*.rs"),
            ..physician_request()
        },
        TokenRequest {
            scopes: scopes("patient/*.rs"),
            ..physician_request()
        },
    ];
    for request in bad {
        let result = keys.issue(&request, T0, "j");
        assert!(
            matches!(result, Err(TokenError::Request(_))),
            "{request:?}: {result:?}"
        );
    }
    assert!(matches!(
        keys.issue(&physician_request(), T0, ""),
        Err(TokenError::Request(_))
    ));
    let good = [
        TokenRequest {
            role: Role::Patient,
            clues: None,
            patient_id: Some("p1".into()),
            ..physician_request()
        },
        TokenRequest {
            role: Role::System,
            clues: None,
            scopes: scopes("system/Observation.c"),
            ..physician_request()
        },
        TokenRequest {
            role: Role::Admin,
            clues: None,
            ..physician_request()
        },
        TokenRequest {
            scopes: scopes("patient/*.rs launch/patient openid"),
            patient_id: Some("p1".into()),
            ..physician_request()
        },
    ];
    for request in good {
        let issued = keys.issue(&request, T0, "j").unwrap();
        let principal = keys
            .verify(&issued.token, T0, &never_revoked)
            .unwrap()
            .to_principal()
            .unwrap();
        assert_eq!(principal.role, request.role);
        assert_eq!(principal.patient_id, request.patient_id);
    }
    assert_eq!(
        default_scopes(Role::Patient).unwrap().to_string(),
        "patient/*.rs patient/Consent.cru patient/Appointment.cru"
    );
    assert_eq!(
        default_scopes(Role::Nurse).unwrap().to_string(),
        "user/*.cruds"
    );
    assert!(default_scopes(Role::System).is_none());
    assert_ne!(
        TokenError::Expired.message_es(),
        TokenError::Ttl.message_es()
    );
    assert_eq!(
        TokenError::Expired.message_es(),
        TokenError::BadSignature.message_es()
    );
}
