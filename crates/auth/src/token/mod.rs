//! Signed bearer tokens: EdDSA (Ed25519) JWTs issued and verified by one node with a key kept in
//! its data directory.
//!
//! Why Ed25519 through `jsonwebtoken` + `aws-lc-rs`: the same crypto provider as rustls (one
//! audited library), small deterministic signatures, and no parameter choices to get wrong. The
//! verifier accepts exactly `alg = EdDSA` with our key; `none`, HMAC (key-confusion) and other
//! keys are rejected by construction. Expiry is checked here against the caller's `now_ms` rather
//! than by `jsonwebtoken` (which reads the system clock), so that tests inject time.
//!
//! [`KeyStore::load_or_create`] is the crate's only file I/O: `DIR/keys/token-ed25519.pk8`
//! (PKCS#8 v2 DER, mode 0600) and `DIR/keys/token-ed25519.pub` (the raw public key, base64url, for
//! operators and for peers that verify our tokens; also 0600, like every file the node creates),
//! in a directory created 0700. The key id (`kid`) is the first 16 hex digits of
//! SHA-256(public key), so a later key rotation can keep old keys for verification.

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::role::{Principal, Role};
use crate::scope::{ScopeContext, Scopes};

/// Default lifetime of a token: 15 minutes. A stolen bearer token is useful only briefly, and the
/// web UI renews its session token silently.
pub const TTL_DEFAULT_MS: i64 = 15 * 60 * 1000;

/// Longest lifetime that can be requested: 24 hours, for integrations that cannot renew often
/// (a nightly migration). Longer-lived access must go through renewal so revocation and account
/// disabling take effect within a day even if the revocation list were lost.
pub const TTL_MAX_MS: i64 = 24 * 60 * 60 * 1000;

/// How far in the future `iat` may be: clocks of the CLI process and the server on one machine
/// agree, but a peer node's may drift a little.
pub const CLOCK_SKEW_MS: i64 = 60 * 1000;

/// Longest accepted token text: a token is a few hundred bytes; this bounds work on garbage.
pub const TOKEN_BYTES_MAX: usize = 8 * 1024;

const KEY_DIR: &str = "keys";
const PRIVATE_KEY_FILE: &str = "token-ed25519.pk8";
const PUBLIC_KEY_FILE: &str = "token-ed25519.pub";

/// Token problems. Verification failures are deliberately coarse towards the client (the HTTP
/// layer answers 401 for all of them); the variants are for logs and tests.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Reading or writing the key files failed.
    #[error("key file {path}: {source}")]
    KeyIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file exists but is not an Ed25519 PKCS#8 key.
    #[error("key file {path} is not an Ed25519 PKCS#8 key")]
    KeyInvalid {
        /// The file.
        path: PathBuf,
    },
    /// Generating a key failed (OS randomness).
    #[error("generating the signing key failed")]
    KeyGeneration,
    /// The requested lifetime is not in `1 ms ..= TTL_MAX_MS`.
    #[error("token lifetime must be between 1 ms and 24 h")]
    Ttl,
    /// The request is inconsistent (see [`TokenRequest`]).
    #[error("invalid token request: {0}")]
    Request(&'static str),
    /// Signing failed.
    #[error("signing the token failed")]
    Signing,
    /// Not a well-formed JWT, an unknown algorithm (including `none`), or claims of the wrong shape.
    #[error("malformed token")]
    Malformed,
    /// The algorithm is not EdDSA, or the key id is not ours.
    #[error("token signed with another algorithm or key")]
    WrongKey,
    /// The signature does not verify.
    #[error("invalid token signature")]
    BadSignature,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `iat` lies in the future, or `exp - iat` exceeds the maximum lifetime.
    #[error("token times are implausible")]
    BadTimes,
    /// The `jti` has been revoked.
    #[error("token revoked")]
    Revoked,
    /// The claims do not make a valid principal (unknown role, bad scopes).
    #[error("token claims are invalid")]
    InvalidClaims,
}

impl TokenError {
    /// The message for the client (es-MX). Every verification failure reads the same, so that a
    /// prober learns nothing about which check failed.
    pub fn message_es(&self) -> &'static str {
        match self {
            TokenError::Ttl => "la vigencia del token debe estar entre 1 ms y 24 h",
            TokenError::Request(_) => "solicitud de token no válida",
            TokenError::KeyIo { .. }
            | TokenError::KeyInvalid { .. }
            | TokenError::KeyGeneration
            | TokenError::Signing => "no se pudo emitir el token",
            _ => "token no válido, vencido o revocado",
        }
    }
}

/// The JWT claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The account name.
    pub sub: String,
    /// The role identifier.
    pub role: String,
    /// The facility CLUES.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clues: Option<String>,
    /// The Patient id (patient accounts, or a SMART launch context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// The Practitioner id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practitioner: Option<String>,
    /// Space-separated SMART scopes.
    pub scope: String,
    /// Expiry, seconds since the epoch (RFC 7519 NumericDate).
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// Unique token id, for revocation and audit.
    pub jti: String,
    /// The account's credential epoch when the token was issued. A password reset or a disable
    /// moves the account's epoch on, which voids every token issued before at once (tokens are
    /// not stored, so they cannot be listed and revoked one by one). Absent in older tokens: 0.
    #[serde(default)]
    pub epoch: u32,
    /// The SMART app the token was issued to (authorization code, refresh, backend services);
    /// absent for tokens issued to people and integrations directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// What to put in a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// Account name (non-empty).
    pub user: String,
    /// Role.
    pub role: Role,
    /// CLUES; required for physician, nurse and receptionist.
    pub clues: Option<String>,
    /// Patient id; required for the patient role.
    pub patient_id: Option<String>,
    /// Practitioner id.
    pub practitioner_id: Option<String>,
    /// Scopes; `None` = the role's default ([`default_scopes`]). `system/` scopes only for the
    /// system role, which must have at least one.
    pub scopes: Option<Scopes>,
    /// Lifetime; `None` = [`TTL_DEFAULT_MS`].
    pub ttl_ms: Option<i64>,
    /// The account's credential epoch ([`Claims::epoch`]).
    pub epoch: u32,
}

/// The scopes a token gets when none are asked for: everything the role matrix allows
/// (`user/*.cruds`), or `patient/*.rs` for patients. The system role has no default: an
/// integration's rights must be written down.
pub fn default_scopes(role: Role) -> Option<Scopes> {
    let text = match role {
        // Patients read their record, write their own privacy consents and book, move and
        // cancel their own appointments (the matrix and the compartment rule still bound all).
        Role::Patient => "patient/*.rs patient/Consent.cru patient/Appointment.cru",
        Role::System => return None,
        _ => "user/*.cruds",
    };
    Scopes::parse(text).ok()
}

/// A token just issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWT to hand out.
    pub token: String,
    /// Its claims (store `jti` and `exp` for revocation bookkeeping).
    pub claims: Claims,
}

/// The node's token key pair.
pub struct KeyStore {
    /// The same key, for signatures that are not tokens (audit anchors, `sign`).
    pair: Ed25519KeyPair,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_key: Vec<u8>,
    key_id: String,
    /// A secret drawn from the private key, from which [`KeyStore::derive_secret`] derives
    /// keys for other purposes (sealed paging cursors), so that every process of a node (and
    /// every hub process sharing the key file) derives the same ones.
    secret_seed: [u8; 32],
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("KeyStore")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// Loads the key from `data_dir/keys/`, creating it on first use. Safe when the server and
    /// `expediente token issue` start at the same time: the key file is published with a
    /// create-if-absent link, so both end up with the same key.
    pub fn load_or_create(data_dir: &Path) -> Result<KeyStore, TokenError> {
        let dir = data_dir.join(KEY_DIR);
        let path = dir.join(PRIVATE_KEY_FILE);
        match std::fs::read(&path) {
            Ok(der) => {
                return KeyStore::from_pkcs8(&der).map_err(|_| TokenError::KeyInvalid { path });
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(TokenError::KeyIo { path, source }),
        }
        create_private_dir(&dir).map_err(|source| TokenError::KeyIo {
            path: dir.clone(),
            source,
        })?;
        let der = generate_pkcs8()?;
        // A random temporary name: two threads or processes may be creating at once, and a
        // crashed earlier attempt may have left a file behind.
        let mut nonce = [0u8; 8];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| TokenError::KeyGeneration)?;
        let tmp = dir.join(format!(
            "{PRIVATE_KEY_FILE}.{}.tmp",
            crate::audit::hex(&nonce)
        ));
        write_private(&tmp, &der)?;
        let published = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match published {
            Ok(()) => {}
            // Another process created it first: use theirs.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let der = std::fs::read(&path).map_err(|source| TokenError::KeyIo {
                    path: path.clone(),
                    source,
                })?;
                return KeyStore::from_pkcs8(&der).map_err(|_| TokenError::KeyInvalid { path });
            }
            Err(source) => return Err(TokenError::KeyIo { path, source }),
        }
        let store = KeyStore::from_pkcs8(&der)
            .map_err(|_| TokenError::KeyInvalid { path: path.clone() })?;
        let public_path = dir.join(PUBLIC_KEY_FILE);
        let _ = std::fs::remove_file(&public_path);
        write_private(
            &public_path,
            format!("{}\n", store.public_key_base64url()).as_bytes(),
        )?;
        Ok(store)
    }

    /// A fresh in-memory key (tests, and a node that must not persist keys).
    pub fn generate() -> Result<KeyStore, TokenError> {
        let der = generate_pkcs8()?;
        KeyStore::from_pkcs8(&der)
    }

    /// A key from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8]) -> Result<KeyStore, TokenError> {
        let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| TokenError::KeyInvalid {
            path: PathBuf::new(),
        })?;
        let public_key = pair.public_key().as_ref().to_vec();
        let key_id = key_id_of(&public_key);
        let secret_seed = {
            use sha2::Digest;
            let mut hasher = sha2::Sha256::new();
            hasher.update(b"expediente-node-secret-v1\n");
            hasher.update(der);
            hasher.finalize().into()
        };
        Ok(KeyStore {
            pair,
            encoding: EncodingKey::from_ed_der(der),
            decoding: DecodingKey::from_ed_der(&public_key),
            public_key,
            key_id,
            secret_seed,
        })
    }

    /// A 256-bit secret for `purpose` (e.g. `"paging-cursor"`), derived from the node key
    /// (HMAC-SHA256): the same on every process that holds the key, different per purpose, and
    /// revealing nothing about the signing key.
    pub fn derive_secret(&self, purpose: &str) -> [u8; 32] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.secret_seed);
        let tag = aws_lc_rs::hmac::sign(&key, purpose.as_bytes());
        let mut secret = [0u8; 32];
        secret.copy_from_slice(tag.as_ref());
        secret
    }

    /// The key id put in every token header.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The raw public key, base64url without padding (the JWK `x` value).
    pub fn public_key_base64url(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.public_key)
    }

    /// An Ed25519 signature of `message` with the node key, base64url (no padding). Callers
    /// sign their own domain-separated messages (see `audit::anchor_message`), never token text.
    pub fn sign(&self, message: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.pair.sign(message).as_ref())
    }

    /// Issues a token at `now_ms` with the given unique `jti` (the caller draws a UUIDv4/v7).
    pub fn issue(
        &self,
        request: &TokenRequest,
        now_ms: i64,
        jti: &str,
    ) -> Result<IssuedToken, TokenError> {
        self.issue_to_client(request, now_ms, jti, None)
    }

    /// [`KeyStore::issue`] for a registered SMART app (`client_id` is put in the claims, for
    /// introspection and the audit trail).
    pub fn issue_to_client(
        &self,
        request: &TokenRequest,
        now_ms: i64,
        jti: &str,
        client_id: Option<&str>,
    ) -> Result<IssuedToken, TokenError> {
        let ttl_ms = request.ttl_ms.unwrap_or(TTL_DEFAULT_MS);
        if !(1..=TTL_MAX_MS).contains(&ttl_ms) {
            return Err(TokenError::Ttl);
        }
        let mut claims = claims_for(request, now_ms, ttl_ms, jti)?;
        claims.client_id = client_id.map(str::to_owned);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key_id.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|_| TokenError::Signing)?;
        Ok(IssuedToken { token, claims })
    }

    /// Signs other claims than an access token's (SMART refresh tokens, OpenID id_tokens) with
    /// the node key. Their shapes differ from [`Claims`] in required members, so one can never
    /// be taken for the other.
    pub fn sign_claims<T: Serialize>(&self, claims: &T) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|_| TokenError::Signing)
    }

    /// Checks the signature of a JWT signed by [`KeyStore::sign_claims`] and returns its claims;
    /// times are the caller's to check (against the injected clock).
    pub fn verify_claims<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<T, TokenError> {
        if token.len() > TOKEN_BYTES_MAX {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(self.key_id.as_str()) {
            return Err(TokenError::WrongKey);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed,
            })
    }

    /// The node's public key as a JWK (RFC 8037 `OKP`/`Ed25519`), for `/.well-known/jwks.json`.
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.public_key_base64url(),
            "kid": self.key_id,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    /// Verifies a token at `now_ms` and returns its claims. `is_revoked(jti)` is asked only after
    /// the signature and times check out, so a forged token never reaches the database.
    pub fn verify(
        &self,
        token: &str,
        now_ms: i64,
        is_revoked: &dyn Fn(&str) -> bool,
    ) -> Result<Claims, TokenError> {
        if token.len() > TOKEN_BYTES_MAX {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA || header.kid.as_deref() != Some(self.key_id.as_str()) {
            return Err(TokenError::WrongKey);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Times are checked below against the injected clock; jsonwebtoken would read the system
        // clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(
            |error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenError::WrongKey,
                _ => TokenError::Malformed,
            },
        )?;
        let claims = data.claims;
        let now_s = now_ms.div_euclid(1000);
        if now_s >= claims.exp {
            return Err(TokenError::Expired);
        }
        if claims.iat.saturating_mul(1000) > now_ms.saturating_add(CLOCK_SKEW_MS)
            || claims.exp.saturating_sub(claims.iat) > TTL_MAX_MS / 1000
            || claims.exp <= claims.iat
        {
            return Err(TokenError::BadTimes);
        }
        if is_revoked(&claims.jti) {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }
}

/// Whether `signature` (base64url) is `public_key`'s (base64url, raw Ed25519) signature of
/// `message`. Malformed inputs are simply not valid.
pub fn verify_signature(public_key: &str, message: &[u8], signature: &str) -> bool {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (Ok(key), Ok(signature)) = (engine.decode(public_key), engine.decode(signature)) else {
        return false;
    };
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, key)
        .verify(message, &signature)
        .is_ok()
}

impl Claims {
    /// The principal these claims describe. Break-glass grants are not in tokens (they are
    /// granted after login and live in the store); the caller adds the active ones.
    pub fn to_principal(&self) -> Result<Principal, TokenError> {
        let role = Role::parse(&self.role).ok_or(TokenError::InvalidClaims)?;
        let scopes = Scopes::parse(&self.scope).map_err(|_| TokenError::InvalidClaims)?;
        check_consistency(
            role,
            self.clues.as_deref(),
            self.patient.as_deref(),
            &scopes,
        )
        .map_err(|_| TokenError::InvalidClaims)?;
        Ok(Principal {
            user: self.sub.clone(),
            role,
            clues: self.clues.clone(),
            practitioner_id: self.practitioner.clone(),
            patient_id: self.patient.clone(),
            scopes,
            token_id: self.jti.clone(),
            break_glass: Vec::new(),
        })
    }
}

fn claims_for(
    request: &TokenRequest,
    now_ms: i64,
    ttl_ms: i64,
    jti: &str,
) -> Result<Claims, TokenError> {
    if request.user.trim().is_empty() {
        return Err(TokenError::Request("the user is empty"));
    }
    if jti.trim().is_empty() {
        return Err(TokenError::Request("the token id is empty"));
    }
    let scopes = match &request.scopes {
        Some(scopes) => scopes.clone(),
        None => default_scopes(request.role).ok_or(TokenError::Request(
            "the system role needs explicit system/ scopes",
        ))?,
    };
    let blank_to_none = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let clues = blank_to_none(&request.clues);
    let patient = blank_to_none(&request.patient_id);
    check_consistency(request.role, clues.as_deref(), patient.as_deref(), &scopes)
        .map_err(TokenError::Request)?;
    let iat = now_ms.div_euclid(1000);
    // Round the lifetime up to whole seconds so that a 1 ms TTL still yields exp > iat.
    let exp = iat.saturating_add((ttl_ms + 999) / 1000);
    Ok(Claims {
        sub: request.user.trim().to_owned(),
        role: request.role.as_str().to_owned(),
        clues,
        patient,
        practitioner: blank_to_none(&request.practitioner_id),
        scope: scopes.to_string(),
        exp,
        iat,
        jti: jti.to_owned(),
        epoch: request.epoch,
        client_id: None,
    })
}

/// The rules tying role, facility, patient and scopes together; checked when issuing and again
/// when verifying (a token is only as good as the rules at the time it is used).
fn check_consistency(
    role: Role,
    clues: Option<&str>,
    patient: Option<&str>,
    scopes: &Scopes,
) -> Result<(), &'static str> {
    if role.requires_clues() && clues.is_none() {
        return Err("physician, nurse and receptionist tokens need a CLUES");
    }
    if role == Role::Patient && patient.is_none() {
        return Err("patient tokens need a patient id");
    }
    let has_system = scopes.has_context(ScopeContext::System);
    if role == Role::System {
        if !has_system {
            return Err("system tokens need system/ scopes");
        }
        if scopes.has_context(ScopeContext::User) || scopes.has_context(ScopeContext::Patient) {
            return Err("system tokens carry only system/ scopes");
        }
    } else if has_system {
        return Err("only the system role may have system/ scopes");
    }
    if scopes.has_context(ScopeContext::Patient) && patient.is_none() {
        return Err("patient/ scopes need a patient id");
    }
    Ok(())
}

fn generate_pkcs8() -> Result<Vec<u8>, TokenError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    Ed25519KeyPair::generate_pkcs8(&rng)
        .map(|document| document.as_ref().to_vec())
        .map_err(|_| TokenError::KeyGeneration)
}

fn key_id_of(public_key: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(public_key);
    crate::audit::hex(digest.get(..8).unwrap_or_default())
}

/// Creates the key directory (and missing parents) accessible by the owner only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes a new file readable by the owner only (it must not exist).
fn write_private(path: &Path, der: &[u8]) -> Result<(), TokenError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let io = |source| TokenError::KeyIo {
        path: path.to_owned(),
        source,
    };
    let mut file = options.open(path).map_err(io)?;
    file.write_all(der).map_err(io)?;
    file.sync_all().map_err(io)
}
