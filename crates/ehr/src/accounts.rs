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
//!   dummy hash for unknown users so that timing does not tell them apart.

use auth::audit::{AuditAction, Outcome};
use auth::password::{Gate, HashCost, Throttle};
use auth::role::{Principal, Role};
use auth::scope::Scopes;
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

fn login_failed() -> Error {
    Error::Unauthorized(Issue::error(
        IssueCode::Login,
        "Usuario o contraseña incorrectos.",
        "Wrong user name or password.",
    ))
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
            locked_until_ms: 0,
            created_ms: now,
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

    /// Changes an account: `disabled` and/or a new password (an administrator's reset also
    /// clears the lock).
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
            (Some(true), _) => format!("cuenta {username} deshabilitada"),
            (Some(false), _) => format!("cuenta {username} habilitada"),
            (None, true) => format!("contraseña de {username} restablecida"),
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
            if let Some(disabled) = disabled {
                account.disabled = disabled;
            }
            if let Some(hash) = &hash {
                account.password_hash = hash.clone();
                account.failed_logins = 0;
                account.locked_until_ms = 0;
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

    /// Checks a user name and password; on success returns the account.
    pub fn sign_in(
        &self,
        username: &str,
        password: &str,
        source_ip: Option<String>,
    ) -> Result<Account, Error> {
        let now = self.now_ms();
        let account = self.store().account(username)?;
        let failed = |details: &str, account: Option<&Account>| {
            let mut entry = self.audit_entry(
                &Requester {
                    principal: anonymous(username),
                    display_name: String::new(),
                    facility_name: None,
                    source_ip: source_ip.clone(),
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
            let _ = auth::password::verify_password(password, dummy_hash());
            let entry = failed("usuario desconocido", None);
            self.run_write(move |tx| {
                tx.append_audit(entry.clone())
                    .map(|_| ())
                    .map_err(Error::from)
            })?;
            return Err(login_failed());
        };
        let throttle = Throttle {
            failed_count: account.failed_logins,
            last_failure_ms: (account.last_failure_ms > 0).then_some(account.last_failure_ms),
            locked_until_ms: (account.locked_until_ms > 0).then_some(account.locked_until_ms),
        };
        match throttle.gate(now) {
            Gate::Open => {}
            Gate::RetryAt { at_ms } => {
                let seconds = (at_ms - now).div_euclid(1000) + 1;
                return Err(Error::TooManyRequests(Issue::error(
                    IssueCode::Throttled,
                    format!("Demasiados intentos fallidos; espere {seconds} s."),
                    format!("Too many failed attempts; wait {seconds} s."),
                )));
            }
            Gate::LockedUntil { .. } => {
                let entry = failed("cuenta bloqueada por intentos fallidos", Some(&account));
                self.run_write(move |tx| {
                    tx.append_audit(entry.clone())
                        .map(|_| ())
                        .map_err(Error::from)
                })?;
                return Err(Error::Unauthorized(Issue::error(
                    IssueCode::Login,
                    "Cuenta bloqueada temporalmente por intentos fallidos; consulte al administrador.",
                    "Account temporarily locked after failed attempts; ask an administrator.",
                )));
            }
        }
        let matches = !account.password_hash.is_empty()
            && auth::password::verify_password(password, &account.password_hash).unwrap_or(false);
        if !matches || account.disabled {
            let mut updated = account.clone();
            if !matches {
                let next = throttle.after_failure(now);
                updated.failed_logins = next.failed_count;
                updated.last_failure_ms = next.last_failure_ms.unwrap_or(0);
                updated.locked_until_ms = next.locked_until_ms.unwrap_or(0);
            }
            let entry = failed(
                if account.disabled {
                    "cuenta deshabilitada"
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
            return Err(login_failed());
        }
        let mut updated = account.clone();
        updated.failed_logins = 0;
        updated.last_failure_ms = 0;
        updated.locked_until_ms = 0;
        let who = requester_for_account(&account, source_ip);
        let entry = self.audit_entry(&who, AuditAction::Login, Outcome::Success);
        self.run_write(move |tx| {
            tx.put_account(&updated).map_err(Error::from)?;
            tx.append_audit(entry.clone())
                .map(|_| ())
                .map_err(Error::from)
        })?;
        Ok(account)
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
        };
        let jti = uuid::Uuid::now_v7().to_string();
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
        if account.role != claims.role {
            return Err(unauthorized("Token no válido.", "Invalid token."));
        }
        if principal.role.is_clinician() {
            let now = self.now_ms();
            principal.break_glass = self
                .store()
                .break_glass_grants(&principal.user, now)?
                .into_iter()
                .map(|grant| auth::break_glass::BreakGlass {
                    patient_id: grant.patient_id,
                    reason: grant.reason,
                    granted_ms: grant.granted_ms,
                    expires_ms: grant.expires_ms,
                    needs_review: true,
                })
                .collect();
        }
        let mut who = requester_for_account(&account, source_ip);
        who.principal = principal;
        Ok(who)
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
