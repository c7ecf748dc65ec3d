//! What the store keeps for access control besides the record: accounts, revoked tokens,
//! break-glass grants, registered SMART apps and the audit trail.
//!
//! Key decision: these are plain tables, not FHIR resources. Accounts hold password hashes that
//! must never be served; the audit trail is written on every read, so it must cost one narrow
//! row, not a resource with index rows; and the trail is append-only and hash-chained
//! (`auth::audit`), which the store enforces below the API (triggers refuse UPDATE/DELETE).
//! `AuditEvent` resources are rendered from the rows when an auditor or a patient asks.

pub use auth::audit::{AuditEntry, SealedEntry};

/// A user or system account of this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Unique login name.
    pub username: String,
    /// Role identifier (`auth::role::Role::as_str`).
    pub role: String,
    /// The facility the account acts for.
    pub clues: Option<String>,
    /// Linked `Practitioner` id (staff).
    pub practitioner_id: Option<String>,
    /// Linked `Patient` id (patients).
    pub patient_id: Option<String>,
    /// Name shown to patients in their access log ("Dra. Ana López").
    pub display_name: String,
    /// Argon2id PHC string; empty for accounts that cannot log in with a password.
    pub password_hash: String,
    pub disabled: bool,
    /// Consecutive failed logins, and when the last one happened: the account-wide delay of
    /// `auth::throttle::ACCOUNT_CURVE` (there is no lock).
    pub failed_logins: u32,
    pub last_failure_ms: i64,
    pub created_ms: i64,
    /// Moves on at a password reset or a disable: tokens and UI sessions carry the epoch they
    /// were issued in and are refused once it has moved on.
    pub credential_epoch: u32,
    /// The address of the last successful sign-in, exempt from the account-wide delay (so an
    /// attacker elsewhere cannot keep the owner out).
    pub last_login_ip: Option<String>,
}

/// An emergency access grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakGlassGrant {
    pub username: String,
    pub patient_id: String,
    pub reason: String,
    pub granted_ms: i64,
    pub expires_ms: i64,
}

/// A filter over the audit trail, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub patient_id: Option<String>,
    pub username: Option<String>,
    pub action: Option<String>,
    /// Inclusive lower bound on `at_ms`.
    pub from_ms: Option<i64>,
    /// Exclusive upper bound on `at_ms`.
    pub to_ms: Option<i64>,
    /// Only entries with a smaller seq (paging).
    pub before_seq: Option<u64>,
    pub count: usize,
}

/// A SMART app registered by an administrator (`expediente app add`): who may ask for tokens
/// through the authorization-code flow or as a backend service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// The OAuth `client_id`.
    pub client_id: String,
    /// Name shown on the consent page.
    pub name: String,
    /// Exact redirect URIs the authorization endpoint accepts (no prefixes, no wildcards).
    pub redirect_uris: Vec<String>,
    /// Confidential clients authenticate at the token endpoint (a secret or a signed
    /// assertion); public ones only prove possession of the PKCE verifier.
    pub confidential: bool,
    /// `sha256:` and the hex SHA-256 of the client secret; empty when there is none.
    pub secret_hash: String,
    /// The client's JSON Web Key Set (backend services' `private_key_jwt`); empty when none.
    pub jwks: String,
    /// The scopes the app may be granted at most (space-separated SMART scopes).
    pub scopes: String,
    pub created_ms: i64,
    /// Where the EHR launch sends the browser (`{launch_url}?iss=…&launch=…`) from a patient's
    /// chart; empty when the app is not launched from the UI.
    pub launch_url: String,
}
