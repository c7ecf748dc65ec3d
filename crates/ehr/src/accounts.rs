//! Accounts, sign-in, tokens and break-glass: the use cases that turn a credential into a
//! [`Requester`], and the administration of accounts.
//!
//! Key decisions:
//! - The signing key ([`auth::token::KeyStore`]) lives in the data directory and is loaded by
//!   whoever issues or verifies tokens (`serve`, `expediente token issue` beside it); the
//!   store keeps only what must be shared between them: accounts, revoked token ids,
//!   break-glass grants and the audit trail.
//! - Every sign-in, failed sign-in, token issue, revocation, account change and break-glass
//!   grant is audited in the same transaction as its effect (failed sign-ins have no other
//!   effect than the throttle update, which is that transaction).
//! - Sign-in answers the same error for an unknown user and a wrong password, and verifies a
//!   dummy hash for unknown users (and for accounts without a password) so that timing does
//!   not tell them apart; names without an account are delayed on the same curve as accounts.
//! - Sign-in is one async use case, [`Ehr::sign_in`], for every interface (API token endpoint,
//!   web UI): the per-address and per-name throttle (`auth::throttle`) is checked first, at no
//!   cost; then the password is checked on tokio's blocking pool, at most
//!   [`PASSWORD_HASHES_CONCURRENT_MAX`] at a time, so that a burst of sign-ins neither stalls the
//!   async workers that serve every page nor takes all the cores and memory (Argon2id takes
//!   19 MiB and ~50 ms of a core per check). There is no lockout (see `auth::throttle`).
//! - A password reset or a disable moves the account's credential epoch on: every token and UI
//!   session carries the epoch it was issued in and is refused once it has moved.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use auth::audit::{AuditAction, Outcome};
use auth::password::HashCost;
use auth::role::{Principal, Role};
use auth::scope::Scopes;
use auth::throttle::{ACCOUNT_CURVE, Failures, Refusal, SignInLimits};
use auth::token::{Claims, IssuedToken, KeyStore, TokenRequest};
use fhir::{Issue, IssueCode};
use store::{Account, BreakGlassGrant};

use crate::{Ehr, Error, Requester};

/// A new account, as `expediente user add` or an administrator gives it.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub username: String,
    pub role: Role,
    pub clues: Option<String>,
    pub practitioner_id: Option<String>,
    pub patient_id: Option<String>,
    pub display_name: String,
}

/// A hash verified for unknown users so that a failed sign-in costs the same time whether or
/// not the account exists (made once, at the recommended cost).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let salt = auth::password::new_salt().unwrap_or([7; auth::password::SALT_LEN]);
        auth::password::hash_password("cuenta-inexistente-0", &salt, HashCost::RECOMMENDED)
            .unwrap_or_default()
    })
}

/// Password checks run at once, at most. Each Argon2id check holds 19 MiB and one core for
/// ~50 ms (release build); more at once only queue on the cores and multiply the memory. The
/// real cap is half the cores (at least one), so the other half keeps serving pages while a
/// shift signs in; this constant bounds it on big machines (4 × 19 MiB).
pub const PASSWORD_HASHES_CONCURRENT_MAX: usize = 4;

/// Sign-ins waiting for a password check, at most; more are answered 503 at once. 256 × ~50 ms
/// is about 13 s of queue on a 2-core node: beyond that, waiting only holds connections.
pub const SIGN_INS_WAITING_MAX: usize = 256;

/// The sign-in state every interface of a node shares (held by [`Ehr`]).
pub(crate) struct SignInGate {
    limits: Mutex<SignInLimits>,
    hashes: Arc<tokio::sync::Semaphore>,
    waiting: AtomicUsize,
}

impl SignInGate {
    pub(crate) fn new() -> SignInGate {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let permits = (cores / 2).clamp(1, PASSWORD_HASHES_CONCURRENT_MAX);
        SignInGate {
            limits: Mutex::new(SignInLimits::default()),
            hashes: Arc::new(tokio::sync::Semaphore::new(permits)),
            waiting: AtomicUsize::new(0),
        }
    }

    fn limits(&self) -> std::sync::MutexGuard<'_, SignInLimits> {
        self.limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Why a sign-in did not succeed. The messages never say whether the user name exists.
#[derive(Debug)]
pub enum SignInError {
    /// Wrong user name or password: also an unknown name, a disabled account or an account
    /// without a password.
    BadCredentials,
    /// Too many failures (from this address, or for this name): wait, the password was not
    /// checked.
    Throttled { retry_after_s: u64 },
    /// Too many sign-ins are already waiting for a password check.
    Busy,
    /// The store failed.
    Other(Error),
}

impl SignInError {
    pub fn message_es(&self) -> String {
        match self {
            SignInError::BadCredentials => "Usuario o contraseña incorrectos.".into(),
            SignInError::Throttled { retry_after_s } => {
                format!("Demasiados intentos fallidos; espere {retry_after_s} s.")
            }
            SignInError::Busy => {
                "El servidor está ocupado; intente de nuevo en unos segundos.".into()
            }
            SignInError::Other(_) => "Error interno del servidor.".into(),
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            SignInError::BadCredentials => "Wrong user name or password.".into(),
            SignInError::Throttled { retry_after_s } => {
                format!("Too many failed attempts; wait {retry_after_s} s.")
            }
            SignInError::Busy => "The server is busy; try again in a few seconds.".into(),
            SignInError::Other(_) => "Internal server error.".into(),
        }
    }

    /// Seconds to wait before retrying, for `Retry-After`.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            SignInError::Throttled { retry_after_s } => Some(*retry_after_s),
            SignInError::Busy => Some(1),
            _ => None,
        }
    }
}

impl From<Error> for SignInError {
    fn from(error: Error) -> Self {
        SignInError::Other(error)
    }
}

impl From<store::Error> for SignInError {
    fn from(error: store::Error) -> Self {
        SignInError::Other(Error::from(error))
    }
}

fn throttled(refusal: Refusal, now_ms: i64) -> SignInError {
    SignInError::Throttled {
        retry_after_s: u64::try_from(refusal.wait_s(now_ms)).unwrap_or(1),
    }
}

/// Releases a waiting slot however the sign-in ends (also when the request is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn invalid(es: String, en: String) -> Error {
    Error::BadRequest(vec![Issue::error(IssueCode::Invalid, es, en)])
}

impl Ehr {
    /// Creates an account (CLI `user add`, run by an operator on the node).
    pub fn add_account(
        &self,
        who: &Requester,
        account: NewAccount,
        password: &str,
        cost: HashCost,
    ) -> Result<(), Error> {
        let username = account.username.trim().to_string();
        if username.is_empty()
            || username.len() > 64
            || !username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        {
            return Err(invalid(
                format!(
                    "Nombre de usuario no válido: «{username}» (letras, dígitos, . - _ @; hasta 64)"
                ),
                format!("Invalid user name: '{username}' (letters, digits, . - _ @; up to 64)"),
            ));
        }
        if account.role.requires_clues() && account.clues.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(
                format!("El rol {} requiere --clues", account.role.as_str()),
                format!("Role {} requires --clues", account.role.as_str()),
            ));
        }
        if account.role == Role::Patient && account.patient_id.is_none() {
            return Err(invalid(
                "Una cuenta de paciente requiere --patient".into(),
                "A patient account requires --patient".into(),
            ));
        }
        let password_hash = if account.role == Role::System && password.is_empty() {
            String::new()
        } else {
            let problems = auth::password::check_policy(password, &username);
            if !problems.is_empty() {
                let es: Vec<String> = problems.iter().map(|p| p.message_es()).collect();
                let en: Vec<String> = problems.iter().map(|p| p.message_en()).collect();
                return Err(invalid(
                    format!("Contraseña no aceptada: {}", es.join("; ")),
                    format!("Password not accepted: {}", en.join("; ")),
                ));
            }
            hash_new_password(password, cost)?
        };
        let now = self.now_ms();
        let stored = Account {
            username: username.clone(),
            role: account.role.as_str().to_string(),
            clues: account.clues,
            practitioner_id: account.practitioner_id,
            patient_id: account.patient_id,
            display_name: if account.display_name.is_empty() {
                username.clone()
            } else {
                account.display_name
            },
            password_hash,
            disabled: false,
            failed_logins: 0,
            last_failure_ms: 0,
            created_ms: now,
            credential_epoch: 0,
            last_login_ip: None,
        };
        let mut entry = self.audit_entry(who, AuditAction::UserChange, Outcome::Success);
        entry.details = format!("alta de la cuenta {username} con rol {}", stored.role);
        self.run_write(move |tx| {
            if tx.account(&stored.username).map_err(Error::from)?.is_some() {
                return Err(Error::Conflict(vec![Issue::error(
                    IssueCode::Duplicate,
                    format!("La cuenta {} ya existe", stored.username),
                    format!("Account {} already exists", stored.username),
                )]));
            }
            tx.put_account(&stored).map_err(Error::from)?;
            tx.append_audit(entry.clone()).map_err(Error::from)?;
            Ok(())
        })?;
        self.access().note_security_change();
        Ok(())
    }

    /// Changes an account: `disabled` and/or a new password. A reset or a disable ends the
    /// account's open sessions and tokens at once (its credential epoch moves on), and a reset
    /// clears its failure count.
    pub fn change_account(
        &self,
        who: &Requester,
        username: &str,
        disabled: Option<bool>,
        new_password: Option<&str>,
        cost: HashCost,
    ) -> Result<(), Error> {
        let hash = match new_password {
            Some(password) => {
                let problems = auth::password::check_policy(password, username);
                if !problems.is_empty() {
                    let es: Vec<String> = problems.iter().map(|p| p.message_es()).collect();
                    let en: Vec<String> = problems.iter().map(|p| p.message_en()).collect();
                    return Err(invalid(
                        format!("Contraseña no aceptada: {}", es.join("; ")),
                        format!("Password not accepted: {}", en.join("; ")),
                    ));
                }
                Some(hash_new_password(password, cost)?)
            }
            None => None,
        };
        let username = username.to_string();
        let mut entry = self.audit_entry(who, AuditAction::UserChange, Outcome::Success);
        entry.details = match (disabled, hash.is_some()) {
            (Some(true), _) => {
                format!("cuenta {username} deshabilitada; sesiones y tokens terminados")
            }
            (Some(false), _) => format!("cuenta {username} habilitada"),
            (None, true) => {
                format!("contraseña de {username} restablecida; sesiones y tokens terminados")
            }
            (None, false) => format!("cuenta {username} sin cambios"),
        };
        self.run_write(move |tx| {
            let mut account = tx.account(&username).map_err(Error::from)?.ok_or_else(|| {
                Error::NotFound(Issue::error(
                    IssueCode::NotFound,
                    format!("No existe la cuenta {username}"),
                    format!("No account named {username}"),
                ))
            })?;
            if disabled == Some(true) || hash.is_some() {
                account.credential_epoch = account.credential_epoch.wrapping_add(1);
            }
            if let Some(disabled) = disabled {
                account.disabled = disabled;
            }
            if let Some(hash) = &hash {
                account.password_hash = hash.clone();
                account.failed_logins = 0;
                account.last_failure_ms = 0;
            }
            tx.put_account(&account).map_err(Error::from)?;
            tx.append_audit(entry.clone()).map_err(Error::from)?;
            Ok(())
        })?;
        self.access().note_security_change();
        Ok(())
    }

    pub fn accounts(&self) -> Result<Vec<Account>, Error> {
        Ok(self.store().accounts()?)
    }

    /// Checks a user name and password; on success returns the account. The one sign-in of
    /// every interface (see the module docs for the order of checks and why it is async).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        source_ip: Option<IpAddr>,
    ) -> Result<Account, SignInError> {
        let now = self.now_ms();
        self.sign_in
            .limits()
            .check(username, source_ip, now)
            .map_err(|refusal| throttled(refusal, now))?;
        let gate = &self.sign_in;
        if gate.waiting.fetch_add(1, Ordering::Relaxed) >= SIGN_INS_WAITING_MAX {
            gate.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(SignInError::Busy);
        }
        let waiting = Waiting(&gate.waiting);
        let permit = gate
            .hashes
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SignInError::Busy)?;
        drop(waiting);
        let ehr = self.clone();
        let username = username.to_string();
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            ehr.check_password(&username, &password, source_ip)
        })
        .await
        .unwrap_or_else(|err| {
            Err(SignInError::Other(Error::Internal(format!(
                "sign-in task failed: {err}"
            ))))
        })
    }

    /// The blocking part of [`Ehr::sign_in`]: the account-wide delay, the password check and
    /// its record (counts, audit entry).
    fn check_password(
        &self,
        username: &str,
        password: &str,
        source_ip: Option<IpAddr>,
    ) -> Result<Account, SignInError> {
        let now = self.now_ms();
        let ip_text = source_ip.map(|ip| ip.to_string());
        // Made before the lookup, so the first sign-in pays for it whichever kind it is.
        let dummy = dummy_hash();
        let account = self.store().account(username)?;
        let failures = |account: &Account| Failures {
            count: account.failed_logins,
            last_ms: (account.last_failure_ms > 0).then_some(account.last_failure_ms),
        };
        // The account-wide delay: in memory for names without an account, stored with the
        // account otherwise, except at the address the account last signed in from.
        match &account {
            None => self
                .sign_in
                .limits()
                .check_unknown(username, now)
                .map_err(|refusal| throttled(refusal, now))?,
            Some(account) => {
                let familiar = ip_text.is_some() && account.last_login_ip == ip_text;
                if !familiar && let Some(at_ms) = failures(account).retry_at(&ACCOUNT_CURVE, now) {
                    return Err(throttled(Refusal::Delay { at_ms }, now));
                }
            }
        }
        let has_password = account
            .as_ref()
            .is_some_and(|a| !a.password_hash.is_empty());
        // Exactly one Argon2id check on every path (the dummy for names without an account or
        // accounts without a password), so the time does not tell them apart.
        let matches = match account.as_ref().filter(|_| has_password) {
            Some(account) => {
                auth::password::verify_password(password, &account.password_hash).unwrap_or(false)
            }
            None => {
                let _ = auth::password::verify_password(password, dummy);
                false
            }
        };
        let enabled = account.as_ref().is_some_and(|a| !a.disabled);
        // Delays count from the answer, not from the start of the (slow) check.
        let now = self.now_ms();
        let audit_failure = |details: &str, account: Option<&Account>| {
            let mut entry = self.audit_entry(
                &Requester {
                    principal: anonymous(username),
                    display_name: String::new(),
                    facility_name: None,
                    source_ip: ip_text.clone(),
                },
                AuditAction::LoginFailed,
                Outcome::Denied,
            );
            entry.role = account.and_then(|a| Role::parse(&a.role));
            entry.clues = account.and_then(|a| a.clues.clone());
            entry.details = details.to_string();
            entry
        };
        let Some(account) = account else {
            self.sign_in
                .limits()
                .note_failure(username, source_ip, false, now);
            let entry = audit_failure("usuario desconocido", None);
            self.run_write(move |tx| {
                tx.append_audit(entry.clone())
                    .map(|_| ())
                    .map_err(Error::from)
            })?;
            return Err(SignInError::BadCredentials);
        };
        if !matches || !enabled {
            self.sign_in
                .limits()
                .note_failure(username, source_ip, true, now);
            let next = failures(&account).after_failure(&ACCOUNT_CURVE, now);
            let mut updated = account.clone();
            updated.failed_logins = next.count;
            updated.last_failure_ms = next.last_ms.unwrap_or(now);
            let entry = audit_failure(
                if account.disabled {
                    "cuenta deshabilitada"
                } else if !has_password {
                    "cuenta sin contraseña"
                } else {
                    "contraseña incorrecta"
                },
                Some(&account),
            );
            self.run_write(move |tx| {
                tx.put_account(&updated).map_err(Error::from)?;
                tx.append_audit(entry.clone())
                    .map(|_| ())
                    .map_err(Error::from)
            })?;
            return Err(SignInError::BadCredentials);
        }
        self.sign_in.limits().note_success(username, source_ip);
        let mut updated = account.clone();
        updated.failed_logins = 0;
        updated.last_failure_ms = 0;
        if ip_text.is_some() {
            updated.last_login_ip = ip_text.clone();
        }
        let who = requester_for_account(&account, ip_text);
        let entry = self.audit_entry(&who, AuditAction::Login, Outcome::Success);
        let returned = updated.clone();
        self.run_write(move |tx| {
            tx.put_account(&updated).map_err(Error::from)?;
            tx.append_audit(entry.clone())
                .map(|_| ())
                .map_err(Error::from)
        })?;
        Ok(returned)
    }

    /// Issues a token for an account (after sign-in, or by an operator with the CLI).
    /// `requested_scopes` may only narrow what the role allows; it cannot widen it.
    pub fn issue_token(
        &self,
        who: &Requester,
        keys: &KeyStore,
        account: &Account,
        requested_scopes: Option<&str>,
        ttl_ms: Option<i64>,
    ) -> Result<IssuedToken, Error> {
        let role = Role::parse(&account.role).ok_or_else(|| {
            Error::Internal(format!("account with unknown role {}", account.role))
        })?;
        if account.disabled {
            return Err(Error::Forbidden(Issue::error(
                IssueCode::Forbidden,
                format!("La cuenta {} está deshabilitada", account.username),
                format!("Account {} is disabled", account.username),
            )));
        }
        let scopes = match requested_scopes {
            Some(text) if !text.trim().is_empty() => Some(Scopes::parse(text).map_err(|err| {
                invalid(
                    format!("Alcances (scopes) no válidos: {err:?}"),
                    format!("Invalid scopes: {err:?}"),
                )
            })?),
            _ if role == Role::System => Scopes::parse("system/*.cruds").ok(),
            _ => None,
        };
        let request = TokenRequest {
            user: account.username.clone(),
            role,
            clues: account.clues.clone(),
            patient_id: account.patient_id.clone(),
            practitioner_id: account.practitioner_id.clone(),
            scopes,
            ttl_ms,
            epoch: account.credential_epoch,
        };
        let jti = crate::meta::new_id();
        let issued = keys.issue(&request, self.now_ms(), &jti).map_err(|err| {
            invalid(
                format!("No se pudo emitir el token: {}", err.message_es()),
                format!("The token could not be issued: {err}"),
            )
        })?;
        let mut entry = self.audit_entry(who, AuditAction::TokenIssue, Outcome::Success);
        entry.details = format!(
            "token {jti} para {} (rol {}, alcances «{}», vence {})",
            account.username,
            account.role,
            issued.claims.scope,
            crate::format_instant(issued.claims.exp.saturating_mul(1000))
        );
        self.run_write(move |tx| {
            tx.append_audit(entry.clone())
                .map(|_| ())
                .map_err(Error::from)
        })?;
        Ok(issued)
    }

    /// Turns verified token claims into the requester: the account must still exist and be
    /// enabled, and its active break-glass grants are attached.
    pub fn requester_for_claims(
        &self,
        claims: &Claims,
        source_ip: Option<String>,
    ) -> Result<Requester, Error> {
        let unauthorized =
            |es: &str, en: &str| Error::Unauthorized(Issue::error(IssueCode::Login, es, en));
        let mut principal = claims
            .to_principal()
            .map_err(|_| unauthorized("Token no válido.", "Invalid token."))?;
        let account = self.store().account(&claims.sub)?;
        let Some(account) = account else {
            return Err(unauthorized("Token no válido.", "Invalid token."));
        };
        if account.disabled {
            return Err(unauthorized(
                "La cuenta está deshabilitada.",
                "The account is disabled.",
            ));
        }
        // A password reset or a disable since the token was issued voids it.
        if account.role != claims.role || account.credential_epoch != claims.epoch {
            return Err(unauthorized("Token no válido.", "Invalid token."));
        }
        principal.break_glass = self.break_glass_of(&principal)?;
        let mut who = requester_for_account(&account, source_ip);
        who.principal = principal;
        Ok(who)
    }

    /// The requester of a web UI session opened for `username` in credential epoch `epoch`:
    /// refused once the account is gone, disabled, or its epoch has moved on (a password reset
    /// or a disable ends open sessions at once).
    pub fn requester_for_session(
        &self,
        username: &str,
        epoch: u32,
        source_ip: Option<String>,
    ) -> Result<Requester, Error> {
        let ended = || {
            Error::Unauthorized(Issue::error(
                IssueCode::Login,
                "La sesión terminó; inicie sesión de nuevo.",
                "The session has ended; sign in again.",
            ))
        };
        let account = self.store().account(username)?.ok_or_else(ended)?;
        if account.disabled || account.credential_epoch != epoch {
            return Err(ended());
        }
        let mut who = requester_for_account(&account, source_ip);
        who.principal.break_glass = self.break_glass_of(&who.principal)?;
        Ok(who)
    }

    /// Records the end of a web UI session (sign-out).
    pub fn sign_out(&self, who: &Requester) -> Result<(), Error> {
        let mut entry = self.audit_entry(who, AuditAction::Logout, Outcome::Success);
        entry.details = "cierre de sesión en la interfaz web".into();
        self.run_write(move |tx| {
            tx.append_audit(entry.clone())
                .map(|_| ())
                .map_err(Error::from)
        })
    }

    /// Whether a token id has been revoked (sign-out, `POST /auth/revoke`).
    pub fn is_token_revoked(&self, token_id: &str) -> Result<bool, Error> {
        Ok(self.store().is_token_revoked(token_id)?)
    }

    /// The active break-glass grants of a clinician (none for other roles).
    fn break_glass_of(
        &self,
        principal: &Principal,
    ) -> Result<Vec<auth::break_glass::BreakGlass>, Error> {
        if !principal.role.is_clinician() {
            return Ok(Vec::new());
        }
        Ok(self
            .store()
            .break_glass_grants(&principal.user, self.now_ms())?
            .into_iter()
            .map(|grant| auth::break_glass::BreakGlass {
                patient_id: grant.patient_id,
                reason: grant.reason,
                granted_ms: grant.granted_ms,
                expires_ms: grant.expires_ms,
                needs_review: true,
            })
            .collect())
    }

    /// Revokes a token by its id until it expires.
    pub fn revoke_token(
        &self,
        who: &Requester,
        token_id: &str,
        expires_ms: i64,
    ) -> Result<(), Error> {
        let mut entry = self.audit_entry(who, AuditAction::TokenRevoke, Outcome::Success);
        entry.details = format!("token {token_id} revocado");
        let token_id = token_id.to_string();
        self.run_write(move |tx| {
            tx.revoke_token(&token_id, expires_ms)
                .map_err(Error::from)?;
            tx.append_audit(entry.clone())
                .map(|_| ())
                .map_err(Error::from)
        })
    }

    /// `POST /Patient/{id}/$acceso-emergencia`: opens a record for a bounded time, flagged for
    /// review, with the reason in the audit trail and the patient's access log.
    pub fn break_glass(
        &self,
        who: &Requester,
        patient_id: &str,
        reason: &str,
    ) -> Result<BreakGlassGrant, Error> {
        let now = self.now_ms();
        let grant =
            auth::break_glass::grant(&who.principal, patient_id, reason, now).map_err(|err| {
                let mut entry = self.audit_entry(who, AuditAction::BreakGlass, Outcome::Denied);
                entry.patient_id = Some(patient_id.to_string());
                entry.details = err.message_en();
                self.audit_later(entry);
                match err {
                    auth::break_glass::BreakGlassError::NotClinician
                    | auth::break_glass::BreakGlassError::NoFacility => Error::Forbidden(
                        Issue::error(IssueCode::Forbidden, err.message_es(), err.message_en()),
                    ),
                    _ => Error::BadRequest(vec![Issue::error(
                        IssueCode::Required,
                        err.message_es(),
                        err.message_en(),
                    )]),
                }
            })?;
        match self.store().read("Patient", patient_id)? {
            Some(patient) if !patient.deleted => {}
            _ => return Err(Error::not_found("Patient", patient_id)),
        }
        let stored = BreakGlassGrant {
            username: who.principal.user.clone(),
            patient_id: grant.patient_id.clone(),
            reason: grant.reason.clone(),
            granted_ms: grant.granted_ms,
            expires_ms: grant.expires_ms,
        };
        let mut entry = self.audit_entry(who, AuditAction::BreakGlass, Outcome::Success);
        entry.resource_type = Some("Patient".into());
        entry.resource_id = Some(grant.patient_id.clone());
        entry.patient_id = Some(grant.patient_id.clone());
        entry.break_glass = true;
        entry.details = format!(
            "acceso de emergencia hasta {}: {}",
            crate::format_instant(grant.expires_ms),
            grant.reason
        );
        let to_store = stored.clone();
        self.run_write(move |tx| {
            tx.put_break_glass(&to_store).map_err(Error::from)?;
            tx.append_audit(entry.clone())
                .map(|_| ())
                .map_err(Error::from)
        })?;
        self.access().note_security_change();
        Ok(stored)
    }
}

/// The requester an account acts as, before any token narrows it.
pub fn requester_for_account(account: &Account, source_ip: Option<String>) -> Requester {
    let role = Role::parse(&account.role).unwrap_or(Role::Patient);
    Requester {
        principal: Principal {
            user: account.username.clone(),
            role,
            clues: account.clues.clone(),
            practitioner_id: account.practitioner_id.clone(),
            patient_id: account.patient_id.clone(),
            scopes: auth::token::default_scopes(role)
                .or_else(|| Scopes::parse("system/*.cruds").ok())
                .unwrap_or_default(),
            token_id: String::new(),
            break_glass: Vec::new(),
        },
        display_name: account.display_name.clone(),
        facility_name: None,
        source_ip,
    }
}

fn hash_new_password(password: &str, cost: HashCost) -> Result<String, Error> {
    let salt =
        auth::password::new_salt().map_err(|err| Error::Internal(format!("no salt: {err:?}")))?;
    auth::password::hash_password(password, &salt, cost)
        .map_err(|err| Error::Internal(format!("password hashing failed: {err:?}")))
}

fn anonymous(username: &str) -> Principal {
    Principal {
        user: username.chars().take(64).collect(),
        role: Role::Patient,
        clues: None,
        practitioner_id: None,
        patient_id: None,
        scopes: Scopes::empty(),
        token_id: String::new(),
        break_glass: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
