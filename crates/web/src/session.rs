//! The seam between the UI and access control: who is signed in, whether they may open a
//! patient's record, break-glass, and the patient's access log.
//!
//! Why a trait: the real accounts (Argon2id), session tokens, care relationships and the audit
//! chain belong to the access-control work (issue 6) and live below `ehr`; the UI only needs
//! these few questions answered. [`DevSessions`] is an in-memory implementation with fixed demo
//! accounts, for tests and `expediente demo` only — it keeps nothing on disk and its passwords
//! are public, so it must never be enabled on a real node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Name of the session cookie (HttpOnly, SameSite=Strict, Secure over TLS).
pub const SESSION_COOKIE: &str = "expediente_sesion";

/// How long a dev session lasts without use, in milliseconds (a clinic shift).
pub const DEV_SESSION_IDLE_MS_MAX: i64 = 8 * 60 * 60 * 1000;

/// Access-log entries kept per patient by [`DevSessions`] (oldest dropped first).
pub const DEV_ACCESS_LOG_ENTRIES_MAX: usize = 500;

/// The signed-in user as the header shows them and the forms record them.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// What the UI knows about a patient's ties to the user's facility, for the access decision.
#[derive(Clone, Debug, Default)]
pub struct CareContext {
    pub patient_id: String,
    /// `Organization/{id}` the patient is registered at.
    pub managing_organization: Option<String>,
    /// True when the patient has at least one encounter at the user's facility.
    pub seen_at_user_facility: bool,
}

/// The access decision for one patient record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A care relationship (or an earlier break-glass in this session) allows reading.
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

/// Access control as the UI sees it. The lead's implementation checks Argon2id accounts,
/// issues real tokens and writes the audit chain; the UI calls only these methods.
pub trait Sessions: Send + Sync {
    /// Checks the password and opens a session. `now_ms` is the request time.
    fn login(
        &self,
        username: &str,
        password: &str,
        ip: Option<IpAddr>,
        now_ms: i64,
    ) -> Result<SessionInfo, LoginError>;
    /// The session behind a cookie value, if it is open.
    fn lookup(&self, token: &str, now_ms: i64) -> Option<SessionInfo>;
    fn logout(&self, token: &str);
    /// May this session read this patient's record?
    fn access(&self, session: &SessionInfo, care: &CareContext) -> Access;
    /// Opens the record for this session by break-glass (emergency access), recording the reason.
    fn break_glass(
        &self,
        session: &SessionInfo,
        patient_id: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<(), LoginError>;
    /// Records an access to a patient's record (the lead writes AuditEvents instead).
    fn record_access(
        &self,
        session: &SessionInfo,
        patient_id: &str,
        action: (&str, &str),
        now_ms: i64,
    );
    /// The patient's access log, newest first.
    fn access_log(&self, session: &SessionInfo, patient_id: &str) -> Vec<AccessLogEntry>;
}

/// A fixed demo account of [`DevSessions`].
#[derive(Clone, Debug)]
pub struct DevAccount {
    pub username: String,
    pub password: String,
    pub info: SessionInfo,
}

struct DevSession {
    info: SessionInfo,
    last_used_ms: i64,
    /// Patients opened by break-glass in this session.
    broken_glass: Vec<String>,
}

#[derive(Default)]
struct DevState {
    sessions: HashMap<String, DevSession>,
    access_log: HashMap<String, Vec<AccessLogEntry>>,
}

/// In-memory sessions over fixed demo accounts: **for tests and demos only** (public passwords,
/// nothing persisted, plain comparison instead of Argon2id).
pub struct DevSessions {
    accounts: Vec<DevAccount>,
    state: Mutex<DevState>,
}

impl DevSessions {
    pub fn new(accounts: Vec<DevAccount>) -> DevSessions {
        DevSessions {
            accounts,
            state: Mutex::new(DevState::default()),
        }
    }

    /// The demo accounts: a physician (`medica` / `demo-medica`) and a nurse
    /// (`enfermero` / `demo-enfermero`), both at the given facility.
    pub fn demo(
        organization: Option<String>,
        facility_name: &str,
        facility_clues: &str,
    ) -> DevSessions {
        let account = |username: &str, display: &str, role: &str, es: &str, en: &str| DevAccount {
            username: username.to_string(),
            password: format!("demo-{username}"),
            info: SessionInfo {
                token: String::new(),
                username: username.to_string(),
                display_name: display.to_string(),
                role: role.to_string(),
                role_label_es: es.to_string(),
                role_label_en: en.to_string(),
                practitioner: None,
                organization: organization.clone(),
                facility_name: facility_name.to_string(),
                facility_clues: facility_clues.to_string(),
            },
        };
        DevSessions::new(vec![
            account(
                "medica",
                "Dra. Ana López Ruiz",
                "medico",
                "Médica",
                "Physician",
            ),
            account(
                "enfermero",
                "Enf. Luis Pérez Soto",
                "enfermeria",
                "Enfermería",
                "Nursing",
            ),
        ])
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DevState> {
        // A panic while holding the lock leaves plain maps behind; they are still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Sessions for DevSessions {
    fn login(
        &self,
        username: &str,
        password: &str,
        _ip: Option<IpAddr>,
        now_ms: i64,
    ) -> Result<SessionInfo, LoginError> {
        let account = self
            .accounts
            .iter()
            .find(|a| a.username == username.trim() && a.password == password)
            .ok_or(LoginError::BadCredentials)?;
        let mut info = account.info.clone();
        info.token = uuid::Uuid::new_v4().simple().to_string();
        self.lock().sessions.insert(
            info.token.clone(),
            DevSession {
                info: info.clone(),
                last_used_ms: now_ms,
                broken_glass: Vec::new(),
            },
        );
        Ok(info)
    }

    fn lookup(&self, token: &str, now_ms: i64) -> Option<SessionInfo> {
        let mut state = self.lock();
        let session = state.sessions.get_mut(token)?;
        if now_ms - session.last_used_ms > DEV_SESSION_IDLE_MS_MAX {
            state.sessions.remove(token);
            return None;
        }
        session.last_used_ms = now_ms;
        Some(session.info.clone())
    }

    fn logout(&self, token: &str) {
        self.lock().sessions.remove(token);
    }

    fn access(&self, session: &SessionInfo, care: &CareContext) -> Access {
        let registered_here = care.managing_organization.is_some()
            && care.managing_organization == session.organization;
        if registered_here || care.seen_at_user_facility {
            return Access::Allowed;
        }
        let state = self.lock();
        let opened = state
            .sessions
            .get(&session.token)
            .is_some_and(|s| s.broken_glass.iter().any(|p| p == &care.patient_id));
        if opened {
            Access::Allowed
        } else {
            Access::BreakGlassRequired
        }
    }

    fn break_glass(
        &self,
        session: &SessionInfo,
        patient_id: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<(), LoginError> {
        let mut state = self.lock();
        let Some(open) = state.sessions.get_mut(&session.token) else {
            return Err(LoginError::BadCredentials);
        };
        open.broken_glass.push(patient_id.to_string());
        push_log(
            &mut state,
            patient_id,
            AccessLogEntry {
                at_ms: now_ms,
                user_display_name: session.display_name.clone(),
                role: session.role_label_es.clone(),
                facility_name: session.facility_name.clone(),
                action_es: "Acceso de emergencia (romper el cristal)".to_string(),
                action_en: "Emergency access (break-glass)".to_string(),
                break_glass_reason: Some(reason.to_string()),
            },
        );
        Ok(())
    }

    fn record_access(
        &self,
        session: &SessionInfo,
        patient_id: &str,
        action: (&str, &str),
        now_ms: i64,
    ) {
        let mut state = self.lock();
        push_log(
            &mut state,
            patient_id,
            AccessLogEntry {
                at_ms: now_ms,
                user_display_name: session.display_name.clone(),
                role: session.role_label_es.clone(),
                facility_name: session.facility_name.clone(),
                action_es: action.0.to_string(),
                action_en: action.1.to_string(),
                break_glass_reason: None,
            },
        );
    }

    fn access_log(&self, _session: &SessionInfo, patient_id: &str) -> Vec<AccessLogEntry> {
        let state = self.lock();
        let mut entries = state
            .access_log
            .get(patient_id)
            .cloned()
            .unwrap_or_default();
        entries.reverse();
        entries
    }
}

fn push_log(state: &mut DevState, patient_id: &str, entry: AccessLogEntry) {
    let log = state.access_log.entry(patient_id.to_string()).or_default();
    if log.len() >= DEV_ACCESS_LOG_ENTRIES_MAX {
        log.remove(0);
    }
    log.push(entry);
}

/// Sessions of a node without accounts: every sign-in is refused with a message saying so.
pub struct NoSessions;

impl Sessions for NoSessions {
    fn login(
        &self,
        _: &str,
        _: &str,
        _: Option<IpAddr>,
        _: i64,
    ) -> Result<SessionInfo, LoginError> {
        Err(LoginError::Unavailable)
    }
    fn lookup(&self, _: &str, _: i64) -> Option<SessionInfo> {
        None
    }
    fn logout(&self, _: &str) {}
    fn access(&self, _: &SessionInfo, _: &CareContext) -> Access {
        Access::Denied
    }
    fn break_glass(&self, _: &SessionInfo, _: &str, _: &str, _: i64) -> Result<(), LoginError> {
        Err(LoginError::Unavailable)
    }
    fn record_access(&self, _: &SessionInfo, _: &str, _: (&str, &str), _: i64) {}
    fn access_log(&self, _: &SessionInfo, _: &str) -> Vec<AccessLogEntry> {
        Vec::new()
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
