//! The seam between the UI and access control: who is signed in, whether they may open a
//! patient's record, break-glass, and the patient's access log.
//!
//! [`EhrSessions`] is the implementation: the node's accounts (Argon2id, lockout), a session
//! is the same signed bearer token the API uses (kept in an HttpOnly, SameSite=Strict cookie,
//! revoked at sign-out), and every decision and audit entry comes from `ehr` — the UI has no
//! access rules of its own. The trait stays so that screens can be tested without a node.

use std::net::IpAddr;
use std::sync::Arc;

/// Name of the session cookie (HttpOnly, SameSite=Strict, Secure over TLS).
pub const SESSION_COOKIE: &str = "expediente_sesion";

/// How long a UI session lasts (a clinic shift); the token expires with it.
pub const SESSION_TTL_MS: i64 = 8 * 60 * 60 * 1000;

/// Access-log entries shown at most.
pub const ACCESS_LOG_ENTRIES_MAX: usize = 500;

/// The signed-in user as the header shows them and the forms record them.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The opaque value of the session cookie.
    pub token: String,
    pub username: String,
    /// Full name, as printed on notes and in the header.
    pub display_name: String,
    /// Role code (e.g. `medico`, `enfermeria`, `admision`).
    pub role: String,
    pub role_label_es: String,
    pub role_label_en: String,
    /// `Practitioner/{id}` of the user, when the user is a practitioner in the record.
    pub practitioner: Option<String>,
    /// `Organization/{id}` of the facility the user works at in this session.
    pub organization: Option<String>,
    pub facility_name: String,
    /// CLUES of that facility.
    pub facility_clues: String,
    /// Who every `ehr` call of this session acts as.
    pub requester: ehr::Requester,
}

/// Why a sign-in failed. Messages never say which of user or password was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginError {
    BadCredentials,
    /// Too many failures; try again later.
    Locked,
    /// No accounts are configured on this node.
    Unavailable,
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message_en())
    }
}

impl std::error::Error for LoginError {}

impl LoginError {
    pub fn message_es(&self) -> &'static str {
        match self {
            LoginError::BadCredentials => "Usuario o contraseña incorrectos.",
            LoginError::Locked => {
                "Demasiados intentos fallidos. Espere unos minutos o pida ayuda al administrador."
            }
            LoginError::Unavailable => {
                "Este nodo no tiene cuentas de usuario configuradas. Pida ayuda al administrador."
            }
        }
    }

    pub fn message_en(&self) -> &'static str {
        match self {
            LoginError::BadCredentials => "Wrong user name or password.",
            LoginError::Locked => {
                "Too many failed attempts. Wait a few minutes or ask the administrator."
            }
            LoginError::Unavailable => {
                "This node has no user accounts configured. Ask the administrator."
            }
        }
    }
}

/// The access decision for one patient record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A care relationship (or an active break-glass grant) allows reading.
    Allowed,
    /// No care relationship: the record opens only by break-glass, with a stated reason.
    BreakGlassRequired,
    Denied,
}

/// One line of a patient's access log.
#[derive(Clone, Debug)]
pub struct AccessLogEntry {
    pub at_ms: i64,
    pub user_display_name: String,
    pub role: String,
    pub facility_name: String,
    /// What was done, in Spanish and English (e.g. «Consulta del expediente»).
    pub action_es: String,
    pub action_en: String,
    /// Break-glass reason, when the access was an emergency access.
    pub break_glass_reason: Option<String>,
}

/// Access control as the UI sees it.
pub trait Sessions: Send + Sync {
    /// Checks the password and opens a session.
    fn login(
        &self,
        username: &str,
        password: &str,
        ip: Option<IpAddr>,
        now_ms: i64,
    ) -> Result<SessionInfo, LoginError>;
    /// The session behind a cookie value, if it is open.
    fn lookup(&self, token: &str, now_ms: i64) -> Option<SessionInfo>;
    fn logout(&self, session: &SessionInfo);
    /// May this session read this patient's record?
    fn access(&self, session: &SessionInfo, patient_id: &str) -> Access;
    /// Opens the record for this session by break-glass (emergency access), recording the reason.
    fn break_glass(
        &self,
        session: &SessionInfo,
        patient_id: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<(), BreakGlassRefused>;
    /// The patient's access log, newest first.
    fn access_log(&self, session: &SessionInfo, patient_id: &str) -> Vec<AccessLogEntry>;
}

/// Why a break-glass request was refused, in both languages.
#[derive(Clone, Debug)]
pub struct BreakGlassRefused {
    pub message_es: String,
    pub message_en: String,
}

/// Sessions over the node's accounts and tokens (see the module docs).
pub struct EhrSessions {
    ehr: ehr::Ehr,
    keys: Arc<auth::token::KeyStore>,
    /// Facility names by CLUES for the header: looked up once, not on every page view.
    facilities: std::sync::Mutex<std::collections::HashMap<String, crate::data::Facility>>,
}

impl EhrSessions {
    pub fn new(ehr: ehr::Ehr, keys: Arc<auth::token::KeyStore>) -> EhrSessions {
        EhrSessions {
            ehr,
            keys,
            facilities: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn facility(&self, who: &ehr::Requester, clues: &str) -> Option<crate::data::Facility> {
        let mut known = self
            .facilities
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(facility) = known.get(clues) {
            return Some(facility.clone());
        }
        let found = crate::data::facility_by_clues(
            &crate::data::Db::new(self.ehr.clone(), who.clone()),
            clues,
        )?;
        known.insert(clues.to_string(), found.clone());
        Some(found)
    }

    fn info(&self, token: String, who: ehr::Requester) -> SessionInfo {
        let role = who.principal.role;
        let clues = who.principal.clues.clone().unwrap_or_default();
        let facility = if clues.is_empty() {
            None
        } else {
            self.facility(&who, &clues)
        };
        SessionInfo {
            token,
            username: who.principal.user.clone(),
            display_name: who.display_name.clone(),
            role: role.as_str().to_string(),
            role_label_es: capitalized(role.label_es()),
            role_label_en: capitalized(role.label_en()),
            practitioner: who
                .principal
                .practitioner_id
                .as_ref()
                .map(|id| format!("Practitioner/{id}")),
            organization: facility.as_ref().map(|f| f.reference.clone()),
            facility_name: facility.map(|f| f.name).unwrap_or_default(),
            facility_clues: clues,
            requester: who,
        }
    }
}

impl Sessions for EhrSessions {
    fn login(
        &self,
        username: &str,
        password: &str,
        ip: Option<IpAddr>,
        _now_ms: i64,
    ) -> Result<SessionInfo, LoginError> {
        let ip = ip.map(|ip| ip.to_string());
        let account = match self.ehr.sign_in(username.trim(), password, ip.clone()) {
            Ok(account) => account,
            Err(ehr::Error::TooManyRequests(_)) => return Err(LoginError::Locked),
            Err(ehr::Error::Unauthorized(issue)) if issue.message_es.contains("bloqueada") => {
                return Err(LoginError::Locked);
            }
            Err(ehr::Error::Unauthorized(_)) => return Err(LoginError::BadCredentials),
            Err(_) => return Err(LoginError::Unavailable),
        };
        let who = ehr::requester_for_account(&account, ip.clone());
        let issued = self
            .ehr
            .issue_token(&who, &self.keys, &account, None, Some(SESSION_TTL_MS))
            .map_err(|_| LoginError::Unavailable)?;
        let who = self
            .ehr
            .requester_for_claims(&issued.claims, ip)
            .map_err(|_| LoginError::Unavailable)?;
        Ok(self.info(issued.token, who))
    }

    fn lookup(&self, token: &str, now_ms: i64) -> Option<SessionInfo> {
        let claims = self.keys.verify(token, now_ms, &|_| false).ok()?;
        if self.ehr.is_token_revoked(&claims.jti).ok()? {
            return None;
        }
        let who = self.ehr.requester_for_claims(&claims, None).ok()?;
        Some(self.info(token.to_string(), who))
    }

    fn logout(&self, session: &SessionInfo) {
        if let Ok(claims) = self
            .keys
            .verify(&session.token, self.ehr.now_ms(), &|_| false)
        {
            let _ = self.ehr.revoke_token(
                &session.requester,
                &claims.jti,
                claims.exp.saturating_mul(1000),
            );
        }
    }

    fn access(&self, session: &SessionInfo, patient_id: &str) -> Access {
        match self.ehr.record_access(&session.requester, patient_id) {
            Ok(ehr::RecordAccess::Allowed) => Access::Allowed,
            Ok(ehr::RecordAccess::BreakGlassRequired) => Access::BreakGlassRequired,
            Ok(ehr::RecordAccess::Denied) | Err(_) => Access::Denied,
        }
    }

    fn break_glass(
        &self,
        session: &SessionInfo,
        patient_id: &str,
        reason: &str,
        _now_ms: i64,
    ) -> Result<(), BreakGlassRefused> {
        self.ehr
            .break_glass(&session.requester, patient_id, reason)
            .map(|_| ())
            .map_err(|err| {
                let issue = err.issues().into_iter().next();
                BreakGlassRefused {
                    message_es: issue
                        .as_ref()
                        .map(|i| i.message_es.clone())
                        .unwrap_or_default(),
                    message_en: issue.map(|i| i.message_en).unwrap_or_default(),
                }
            })
    }

    fn access_log(&self, session: &SessionInfo, patient_id: &str) -> Vec<AccessLogEntry> {
        let Ok(entries) =
            self.ehr
                .access_log(&session.requester, patient_id, ACCESS_LOG_ENTRIES_MAX)
        else {
            return Vec::new();
        };
        entries
            .into_iter()
            .map(|entry| {
                let (action_es, action_en) = action_labels(&entry);
                AccessLogEntry {
                    at_ms: entry.at_ms,
                    user_display_name: if entry.user_display.is_empty() {
                        entry.user.clone()
                    } else {
                        entry.user_display.clone()
                    },
                    role: entry
                        .role
                        .map(|r| r.label_es().to_string())
                        .unwrap_or_default(),
                    facility_name: entry
                        .facility_name
                        .clone()
                        .or(entry.clues.clone())
                        .unwrap_or_default(),
                    action_es,
                    action_en,
                    break_glass_reason: (entry.action == auth::audit::AuditAction::BreakGlass)
                        .then(|| {
                            entry
                                .details
                                .split_once(": ")
                                .map(|(_, reason)| reason.to_string())
                                .unwrap_or(entry.details.clone())
                        }),
                }
            })
            .collect()
    }
}

fn capitalized(label: &str) -> String {
    let mut chars = label.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What an audit entry says was done, for people.
fn action_labels(entry: &auth::audit::AuditEntry) -> (String, String) {
    use auth::audit::AuditAction as A;
    let (es, en) = match entry.action {
        A::Read | A::Vread | A::Search | A::History | A::Operation | A::Export => {
            ("Consulta del expediente", "Record viewed")
        }
        A::Create => ("Registro de información", "Information recorded"),
        A::Update => ("Corrección de información", "Information corrected"),
        A::Delete => ("Eliminación", "Deletion"),
        A::Merge => ("Unión de registros duplicados", "Duplicate records merged"),
        A::BreakGlass => (
            "Acceso de emergencia (romper el cristal)",
            "Emergency access (break-glass)",
        ),
        _ => ("Otra acción", "Other action"),
    };
    let denied = entry.outcome != auth::audit::Outcome::Success;
    if denied {
        (format!("{es} (denegado)"), format!("{en} (denied)"))
    } else {
        (es.to_string(), en.to_string())
    }
}

/// The `Set-Cookie` value that opens a session.
pub fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that closes it.
pub fn clear_session_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}")
}

/// A cookie's value from a `Cookie` request header.
pub fn cookie_value<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests;
