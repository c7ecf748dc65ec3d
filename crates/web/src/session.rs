//! Web UI sessions: who is signed in, the CSRF token of their forms, and the seam between the
//! UI and access control.
//!
//! # The session credential (issue 12)
//! A UI session is **not** an API token. Sign-in ([`ehr::Ehr::sign_in`], the same throttled use
//! case as `POST /auth/token`) opens a session in [`EhrSessions`]' server-side table: the
//! browser holds an opaque 256-bit random secret in an HttpOnly, `SameSite=Strict` cookie
//! (`__Host-` prefixed and `Secure` over TLS), and the server keys the session by the secret's
//! SHA-256, so its table cannot be replayed as cookies. The secret means nothing to `/fhir`
//! (not a JWT, and `/fhir` reads no cookies), so a stolen cookie is no API credential.
//! - **Timeouts**: a session ends after [`SESSION_IDLE_MS`] without a request, and at the
//!   latest [`SESSION_ABSOLUTE_MS`] after sign-in, whatever its use.
//! - **Ends at once** at sign-out, and at a password reset or a disable of the account
//!   (`expediente user reset-password|disable`, even from the CLI beside `serve`): every
//!   request re-reads the account and compares its credential epoch with the session's.
//! - **Bounded**: [`SESSIONS_MAX`] sessions in all, [`SESSIONS_PER_USER_MAX`] per account (a
//!   further sign-in ends the user's least recently used one). The table lives in memory: a
//!   restart of the node signs everyone out.
//! - **CSRF**: each session has a random token that every form carries in a hidden field
//!   (`templates/csrf.html`), checked on every POST by `guard.rs` together with `Origin`.
//!   Before sign-in, the sign-in form carries a MAC of a random pre-session cookie
//!   ([`PreSession`]), so a login CSRF needs the victim's cookie too.
//!
//! The [`Sessions`] trait stays so that screens can be tested without a node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Name of the session cookie over plain HTTP (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "expediente_sesion";

/// Name of the session cookie over TLS: the `__Host-` prefix makes the browser refuse it unless
/// it is `Secure`, host-only and `Path=/`, so a sibling host cannot plant one (cookie tossing).
pub const SESSION_COOKIE_TLS: &str = "__Host-expediente_sesion";

/// Name of the pre-session cookie that binds the sign-in form's CSRF token.
pub const PRE_SESSION_COOKIE: &str = "expediente_pre";

/// Its name over TLS (see [`SESSION_COOKIE_TLS`]).
pub const PRE_SESSION_COOKIE_TLS: &str = "__Host-expediente_pre";

/// A session ends after 30 minutes without a request: a clinic PC left signed in at the
/// nurses' station closes itself (NOM-024 asks for session closure after inactivity).
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;

/// A session ends 8 hours after sign-in at the latest (a clinic shift), even if in use.
pub const SESSION_ABSOLUTE_MS: i64 = 8 * 60 * 60 * 1000;

/// Open sessions kept at most (about 300 B each): far above a clinic's staff, and a hub's.
pub const SESSIONS_MAX: usize = 10_000;

/// Open sessions per account: a person on a few devices. One more ends the least recently used.
pub const SESSIONS_PER_USER_MAX: usize = 10;

/// Access-log entries shown at most.
pub const ACCESS_LOG_ENTRIES_MAX: usize = 500;

/// The signed-in user as the header shows them and the forms record them.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The opaque secret of the session cookie.
    pub secret: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
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

/// Why a sign-in failed. Messages never say which of user or password was wrong, nor whether
/// the user exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginError {
    BadCredentials,
    /// Too many failures; try again in this many seconds.
    Throttled(u64),
    /// Too many sign-ins at once, or the session table is full; try again shortly.
    Busy,
    /// The node could not check (store failure).
    Unavailable,
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message_en())
    }
}

impl std::error::Error for LoginError {}

impl LoginError {
    pub fn message_es(&self) -> String {
        match self {
            LoginError::BadCredentials => "Usuario o contraseña incorrectos.".into(),
            LoginError::Throttled(seconds) => format!(
                "Demasiados intentos fallidos. Espere {seconds} s antes de intentar de nuevo."
            ),
            LoginError::Busy => {
                "El servidor está ocupado. Intente de nuevo en unos segundos.".into()
            }
            LoginError::Unavailable => {
                "No se pudo iniciar la sesión. Pida ayuda al administrador.".into()
            }
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            LoginError::BadCredentials => "Wrong user name or password.".into(),
            LoginError::Throttled(seconds) => {
                format!("Too many failed attempts. Wait {seconds} s before trying again.")
            }
            LoginError::Busy => "The server is busy. Try again in a few seconds.".into(),
            LoginError::Unavailable => {
                "The session could not be opened. Ask the administrator.".into()
            }
        }
    }

    /// The HTTP status of the sign-in page that shows it.
    pub fn status(&self) -> u16 {
        match self {
            LoginError::BadCredentials => 401,
            LoginError::Throttled(_) => 429,
            LoginError::Busy | LoginError::Unavailable => 503,
        }
    }

    /// The answer to a failed [`ehr::Ehr::sign_in`].
    pub fn of_sign_in(error: &ehr::SignInError) -> LoginError {
        match error {
            ehr::SignInError::BadCredentials => LoginError::BadCredentials,
            ehr::SignInError::Throttled { retry_after_s } => LoginError::Throttled(*retry_after_s),
            ehr::SignInError::Busy => LoginError::Busy,
            ehr::SignInError::Other(error) => {
                tracing::error!(?error, "sign-in failed");
                LoginError::Unavailable
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
    /// Opens a session for an account that has just proved its password
    /// ([`ehr::Ehr::sign_in`]).
    fn open(
        &self,
        account: &store::Account,
        ip: Option<IpAddr>,
        now_ms: i64,
    ) -> Result<SessionInfo, LoginError>;
    /// The session behind a cookie's secret, if it is open (its idle time starts again).
    fn lookup(&self, secret: &str, ip: Option<IpAddr>, now_ms: i64) -> Option<SessionInfo>;
    /// The CSRF token of an open session, from memory only (no account check): what a form
    /// posted with this session's cookie must carry.
    fn csrf_token(&self, secret: &str, now_ms: i64) -> Option<String>;
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

/// One open session, as the server keeps it (keyed by the SHA-256 of its secret).
#[derive(Clone, Debug)]
struct UiSession {
    username: String,
    /// The account's credential epoch at sign-in.
    epoch: u32,
    csrf: String,
    created_ms: i64,
    last_seen_ms: i64,
}

impl UiSession {
    fn is_open(&self, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.last_seen_ms) < SESSION_IDLE_MS
            && now_ms.saturating_sub(self.created_ms) < SESSION_ABSOLUTE_MS
    }
}

/// Sessions over the node's accounts (see the module docs).
pub struct EhrSessions {
    ehr: ehr::Ehr,
    table: Mutex<HashMap<[u8; 32], UiSession>>,
    /// Facility names by CLUES for the header: looked up once, not on every page view.
    facilities: Mutex<HashMap<String, crate::data::Facility>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EhrSessions {
    pub fn new(ehr: ehr::Ehr) -> EhrSessions {
        EhrSessions {
            ehr,
            table: Mutex::new(HashMap::new()),
            facilities: Mutex::new(HashMap::new()),
        }
    }

    /// Open sessions now (for tests and the status page).
    pub fn open_count(&self, now_ms: i64) -> usize {
        lock(&self.table)
            .values()
            .filter(|s| s.is_open(now_ms))
            .count()
    }

    fn facility(&self, who: &ehr::Requester, clues: &str) -> Option<crate::data::Facility> {
        if let Some(facility) = lock(&self.facilities).get(clues) {
            return Some(facility.clone());
        }
        let found = crate::data::facility_by_clues(
            &crate::data::Db::new(self.ehr.clone(), who.clone()),
            clues,
        )?;
        lock(&self.facilities).insert(clues.to_string(), found.clone());
        Some(found)
    }

    fn info(&self, secret: String, csrf: String, who: ehr::Requester) -> SessionInfo {
        let role = who.principal.role;
        let clues = who.principal.clues.clone().unwrap_or_default();
        let facility = if clues.is_empty() {
            None
        } else {
            self.facility(&who, &clues)
        };
        SessionInfo {
            secret,
            csrf,
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

    /// Makes room for one more session of `username`: drops closed sessions when the table is
    /// full, and the user's least recently used one past [`SESSIONS_PER_USER_MAX`].
    fn make_room(
        table: &mut HashMap<[u8; 32], UiSession>,
        username: &str,
        now_ms: i64,
    ) -> Result<(), LoginError> {
        if table.len() >= SESSIONS_MAX {
            table.retain(|_, session| session.is_open(now_ms));
        }
        let mut own: Vec<([u8; 32], i64)> = table
            .iter()
            .filter(|(_, s)| s.username == username)
            .map(|(key, s)| (*key, s.last_seen_ms))
            .collect();
        if own.len() >= SESSIONS_PER_USER_MAX {
            own.sort_by_key(|(_, last_seen_ms)| *last_seen_ms);
            for (key, _) in own.iter().take(own.len() + 1 - SESSIONS_PER_USER_MAX) {
                table.remove(key);
            }
        }
        if table.len() >= SESSIONS_MAX {
            return Err(LoginError::Busy);
        }
        Ok(())
    }
}

impl Sessions for EhrSessions {
    fn open(
        &self,
        account: &store::Account,
        ip: Option<IpAddr>,
        now_ms: i64,
    ) -> Result<SessionInfo, LoginError> {
        let (Ok(secret), Ok(csrf)) = (auth::secret::random_secret(), auth::secret::random_secret())
        else {
            return Err(LoginError::Unavailable);
        };
        let who = self
            .ehr
            .requester_for_session(
                &account.username,
                account.credential_epoch,
                ip.map(|ip| ip.to_string()),
            )
            .map_err(|_| LoginError::Unavailable)?;
        {
            let mut table = lock(&self.table);
            EhrSessions::make_room(&mut table, &account.username, now_ms)?;
            table.insert(
                auth::secret::digest(&secret),
                UiSession {
                    username: account.username.clone(),
                    epoch: account.credential_epoch,
                    csrf: csrf.clone(),
                    created_ms: now_ms,
                    last_seen_ms: now_ms,
                },
            );
        }
        Ok(self.info(secret, csrf, who))
    }

    fn lookup(&self, secret: &str, ip: Option<IpAddr>, now_ms: i64) -> Option<SessionInfo> {
        let key = auth::secret::digest(secret);
        let session = {
            let mut table = lock(&self.table);
            let session = table.get_mut(&key)?;
            if !session.is_open(now_ms) {
                table.remove(&key);
                return None;
            }
            session.last_seen_ms = now_ms;
            session.clone()
        };
        match self.ehr.requester_for_session(
            &session.username,
            session.epoch,
            ip.map(|ip| ip.to_string()),
        ) {
            Ok(who) => Some(self.info(secret.to_string(), session.csrf, who)),
            Err(ehr::Error::Unauthorized(_)) => {
                // Disabled, reset or removed: this session is over for good.
                lock(&self.table).remove(&key);
                None
            }
            Err(_) => None,
        }
    }

    fn csrf_token(&self, secret: &str, now_ms: i64) -> Option<String> {
        lock(&self.table)
            .get(&auth::secret::digest(secret))
            .filter(|session| session.is_open(now_ms))
            .map(|session| session.csrf.clone())
    }

    fn logout(&self, session: &SessionInfo) {
        lock(&self.table).remove(&auth::secret::digest(&session.secret));
        if let Err(error) = self.ehr.sign_out(&session.requester) {
            tracing::warn!(?error, "sign-out not recorded");
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

/// The pre-session that binds the sign-in form's CSRF token: a random cookie value, and a MAC
/// of it under a key that lives only in this process. Stateless on the server, so anonymous
/// page views cost no memory; a restart voids open sign-in forms (the page is simply shown
/// again with a fresh token).
pub struct PreSession {
    key: [u8; auth::secret::SECRET_BYTES],
}

impl PreSession {
    pub fn new() -> Result<PreSession, auth::secret::RandomError> {
        Ok(PreSession {
            key: auth::secret::random_key()?,
        })
    }

    /// The sign-in form's token for a pre-session cookie value.
    pub fn token(&self, cookie_value: &str) -> String {
        auth::secret::mac(&self.key, "ui/entrar", cookie_value)
    }

    /// Whether `token` is the sign-in form's token for `cookie_value`.
    pub fn verify(&self, cookie_value: &str, token: &str) -> bool {
        !cookie_value.is_empty() && auth::secret::same(&self.token(cookie_value), token)
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

/// The session cookie's name: `__Host-` prefixed over TLS.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_TLS
    } else {
        SESSION_COOKIE
    }
}

/// The pre-session cookie's name: `__Host-` prefixed over TLS.
pub fn pre_session_cookie_name(secure: bool) -> &'static str {
    if secure {
        PRE_SESSION_COOKIE_TLS
    } else {
        PRE_SESSION_COOKIE
    }
}

fn cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let max_age = max_age.map_or_else(String::new, |s| format!("; Max-Age={s}"));
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{max_age}{secure}")
}

/// The `Set-Cookie` value that opens a session (no `Max-Age`: it ends with the browser, and
/// the server ends it sooner by its own timeouts).
pub fn session_cookie(secret: &str, secure: bool) -> String {
    cookie(session_cookie_name(secure), secret, secure, None)
}

/// The `Set-Cookie` value that closes it.
pub fn clear_session_cookie(secure: bool) -> String {
    cookie(session_cookie_name(secure), "", secure, Some(0))
}

/// The `Set-Cookie` value of a new pre-session (a day: a sign-in page left open overnight
/// still works in the morning).
pub fn pre_session_cookie(value: &str, secure: bool) -> String {
    cookie(pre_session_cookie_name(secure), value, secure, Some(86_400))
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
