//! SMART App Launch v2 and Backend Services (issue 18): registered apps, the authorization
//! code flow with PKCE, refresh tokens, the backend services' signed client assertions, and
//! token introspection. Every interface calls these; `web` renders the sign-in, consent and
//! patient-picker pages, `rest` speaks OAuth's wire format.
//!
//! Key decisions:
//! - A token issued here is an ordinary access token of the signed-in account (same role,
//!   facility, credential epoch) whose scopes are the ones granted, so the read and write
//!   guards decide with the role *and* the scopes: an app never does more than its user may,
//!   and never more than it was granted. There is no other path for app tokens.
//! - Authorization codes live in memory for [`CODE_TTL_MS`], single-use (taken out of the
//!   table by the exchange), bound to the client, the redirect URI and the PKCE challenge. A
//!   restart voids pending codes (the app simply asks again); a hub with several processes
//!   behind one address needs sticky routing for `/auth` until codes are kept in the store.
//! - Refresh tokens and used assertion ids are kept in the revocation table (see
//!   `auth::smart`).
//! - The EHR launch: a clinician opens an app from a patient's chart; [`Ehr::start_launch`]
//!   decides the record read through the guard (audited, a refusal too) and keeps a launch
//!   context like a code: in memory, opaque, single-use (taken by the approval), for
//!   [`LAUNCH_TTL_MS`], bound to the user, the patient and the app. The authorization request
//!   that carries it gets its patient from it (no picker), and only for that same user and
//!   app: a launch value reveals nothing to anyone else.

use std::collections::HashMap;
use std::sync::Mutex;

use auth::audit::{AuditAction, Outcome};
use auth::role::Role;
use auth::scope::{Scope, ScopeContext, Scopes};
use auth::smart::{IdTokenClaims, REFRESH_TYPE, RefreshClaims};
use auth::token::{KeyStore, TokenRequest};
use fhir::{Issue, IssueCode};
use store::App;

use crate::{Ehr, Error, Requester};

/// How long an authorization code may wait for its exchange: one minute (RFC 6749 advises ten
/// at most; an app exchanges it at once).
pub const CODE_TTL_MS: i64 = 60 * 1000;

/// Pending codes kept at most: a flood of consents cannot exhaust memory.
const CODES_MAX: usize = 10_000;

/// How long a launch context waits for the app's authorization request: five minutes (the
/// app loads and redirects at once, but the clinician may have to sign in on the way).
pub const LAUNCH_TTL_MS: i64 = 5 * 60 * 1000;

/// Pending launch contexts kept at most.
const LAUNCHES_MAX: usize = 10_000;

/// Scopes an app may be granted when its registration names none: what a patient-facing or
/// clinician-facing read-only app needs.
pub const DEFAULT_APP_SCOPES: &str =
    "openid fhirUser launch launch/patient offline_access online_access patient/*.rs user/*.rs";

/// Scopes a backend service may be granted when its registration names none.
pub const DEFAULT_SERVICE_SCOPES: &str = "system/*.rs";

/// What `expediente app add` registers.
#[derive(Clone, Debug, Default)]
pub struct NewApp {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// A client secret (confidential app); `None` for public apps and backend services.
    pub secret: Option<String>,
    /// A JSON Web Key Set (backend services).
    pub jwks: Option<String>,
    /// The most the app may be granted; `None` = [`DEFAULT_APP_SCOPES`] (or
    /// [`DEFAULT_SERVICE_SCOPES`] with a JWKS).
    pub scopes: Option<String>,
    /// Where the EHR launch sends the browser; `None`: the app is not offered on charts.
    pub launch_url: Option<String>,
}

/// An OAuth error (RFC 6749 §5.2): the status, the error code, and the description in both
/// languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub code: &'static str,
    pub es: String,
    pub en: String,
}

impl OAuthError {
    fn new(status: u16, code: &'static str, es: impl Into<String>, en: impl Into<String>) -> Self {
        OAuthError {
            status,
            code,
            es: es.into(),
            en: en.into(),
        }
    }

    fn invalid_client() -> Self {
        OAuthError::new(
            401,
            "invalid_client",
            "autenticación de la aplicación fallida",
            "client authentication failed",
        )
    }

    fn invalid_grant(es: &str, en: &str) -> Self {
        OAuthError::new(400, "invalid_grant", es, en)
    }

    fn server(error: &Error) -> Self {
        tracing::error!(?error, "SMART token request failed");
        OAuthError::new(500, "server_error", "error interno", "internal error")
    }
}

/// The query of `GET /auth/authorize`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub response_type: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub aud: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub nonce: String,
    pub launch: String,
}

/// An authorization request that passed every check that does not depend on the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidAuthorization {
    pub request: AuthorizationRequest,
    /// The app's display name.
    pub app_name: String,
    /// What will be granted: the requested scopes the app is registered for.
    pub scopes: Scopes,
    /// Whether a patient must be chosen (`launch/patient`, or `patient/` scopes); never in an
    /// EHR launch, whose context names the patient.
    pub needs_patient: bool,
    /// An EHR launch (`launch` scope and value): the patient comes from the launch context,
    /// for the user who opened it ([`Ehr::launch_patient`]).
    pub ehr_launch: bool,
}

/// An EHR launch ready to send the browser to the app: `{url}?iss=…&launch={launch}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EhrLaunch {
    pub url: String,
    pub launch: String,
}

/// Why an authorization request is refused. `redirect` says whether the error may be sent to
/// the redirect URI (it was validated) or must be shown to the user (RFC 6749 §4.1.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeError {
    pub redirect: bool,
    pub error: OAuthError,
}

/// How the client authenticated at the token endpoint.
#[derive(Clone, Debug, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub secret: Option<String>,
}

/// A token response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmartTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub patient: Option<String>,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

#[derive(Clone, Debug)]
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    username: String,
    epoch: u32,
    patient: Option<String>,
    scopes: String,
    nonce: Option<String>,
    expires_ms: i64,
}

#[derive(Clone, Debug)]
struct PendingLaunch {
    client_id: String,
    username: String,
    patient: String,
    expires_ms: i64,
}

/// Pending codes and launch contexts, and the lock that makes refresh rotation and assertion
/// replay checks atomic within this process.
#[derive(Default)]
pub(crate) struct SmartState {
    codes: Mutex<HashMap<String, PendingCode>>,
    launches: Mutex<HashMap<String, PendingLaunch>>,
    rotation: Mutex<()>,
}

/// The one answer for a launch value that is unknown, expired or used: which of them it was
/// would tell nothing useful and something to a guesser.
fn launch_unusable() -> Error {
    Error::Forbidden(Issue::error(
        IssueCode::Forbidden,
        "El lanzamiento de la aplicación no es válido, venció o ya se usó. Vuelva a abrir la \
         aplicación desde el expediente del paciente.",
        "The app launch is invalid, expired or already used. Open the app again from the \
         patient's chart.",
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn invalid(es: String, en: String) -> Error {
    Error::BadRequest(vec![Issue::error(IssueCode::Invalid, es, en)])
}

/// Whether `allowed` (an app's registration) covers `wanted`.
fn covers(allowed: &Scopes, wanted: &Scope) -> bool {
    match wanted {
        Scope::Resource(want) => allowed.iter().any(|scope| match scope {
            Scope::Resource(have) => {
                // A restricted registration covers a request that keeps all its conditions
                // (and maybe adds more): that matches a subset of what it was registered for.
                have.context == want.context
                    && have
                        .restrictions
                        .iter()
                        .all(|condition| want.restrictions.contains(condition))
                    && (have.resource_type.is_none() || have.resource_type == want.resource_type)
                    && auth::scope::Interaction::ALL
                        .iter()
                        .all(|i| !want.interactions.contains(*i) || have.interactions.contains(*i))
            }
            _ => false,
        }),
        named => allowed.contains(named),
    }
}

fn is_https_or_loopback(uri: &str) -> bool {
    uri.starts_with("https://")
        || uri.starts_with("http://localhost")
        || uri.starts_with("http://127.0.0.1")
        || uri.starts_with("http://[::1]")
}

impl Ehr {
    /// Registers an app (CLI `app add`). A JWKS makes it a backend service: its system
    /// account (named like the app) is created when missing, since tokens are issued to
    /// accounts.
    pub fn add_app(&self, who: &Requester, new: NewApp) -> Result<App, Error> {
        let client_id = new.client_id.trim().to_string();
        if client_id.is_empty()
            || client_id.len() > 64
            || !client_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(invalid(
                format!("client_id no válido: «{client_id}» (letras, dígitos, . - _; hasta 64)"),
                format!("Invalid client_id: '{client_id}' (letters, digits, . - _; up to 64)"),
            ));
        }
        for uri in &new.redirect_uris {
            if !is_https_or_loopback(uri) || uri.contains(['\n', '\r', '#', ' ']) {
                return Err(invalid(
                    format!(
                        "URI de redirección no válida: «{uri}» (https, o http en localhost; sin fragmento)"
                    ),
                    format!(
                        "Invalid redirect URI: '{uri}' (https, or http on localhost; no fragment)"
                    ),
                ));
            }
        }
        let jwks = new.jwks.unwrap_or_default();
        if !jwks.is_empty() {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&jwks);
            let has_keys = parsed.ok().is_some_and(|set| {
                set.get("keys")
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|keys| !keys.is_empty())
            });
            if !has_keys {
                return Err(invalid(
                    "El JWKS no es un conjunto de claves JSON con al menos una clave".into(),
                    "The JWKS is not a JSON key set with at least one key".into(),
                ));
            }
        }
        if jwks.is_empty() && new.redirect_uris.is_empty() {
            return Err(invalid(
                "Una app necesita --redirect-uri (lanzamiento) o --jwks-file (servicio)".into(),
                "An app needs --redirect-uri (launch) or --jwks-file (backend service)".into(),
            ));
        }
        let default_scopes = if jwks.is_empty() {
            DEFAULT_APP_SCOPES
        } else {
            DEFAULT_SERVICE_SCOPES
        };
        let scope_text = new.scopes.unwrap_or_else(|| default_scopes.to_string());
        let scopes = Scopes::parse(&scope_text).map_err(|err| {
            invalid(
                format!("Alcances no válidos: {}", err.message_es()),
                format!("Invalid scopes: {}", err.message_en()),
            )
        })?;
        let launch_url = new
            .launch_url
            .map(|url| url.trim().to_string())
            .unwrap_or_default();
        if !launch_url.is_empty()
            && (!is_https_or_loopback(&launch_url) || launch_url.contains(['\n', '\r', '#', ' ']))
        {
            return Err(invalid(
                format!(
                    "URL de lanzamiento no válida: «{launch_url}» (https, o http en localhost; sin fragmento)"
                ),
                format!(
                    "Invalid launch URL: '{launch_url}' (https, or http on localhost; no fragment)"
                ),
            ));
        }
        if !launch_url.is_empty() && new.redirect_uris.is_empty() {
            return Err(invalid(
                "Una app con --launch-url necesita también --redirect-uri".into(),
                "An app with --launch-url also needs --redirect-uri".into(),
            ));
        }
        let secret_hash = match new.secret.as_deref().map(str::trim) {
            Some(secret) if secret.len() < 32 => {
                return Err(invalid(
                    "El secreto de la aplicación debe tener al menos 32 caracteres".into(),
                    "The client secret must be at least 32 characters".into(),
                ));
            }
            Some(secret) => auth::smart::secret_digest(secret),
            None => String::new(),
        };
        let app = App {
            client_id: client_id.clone(),
            name: if new.name.trim().is_empty() {
                client_id.clone()
            } else {
                new.name.trim().to_string()
            },
            redirect_uris: new.redirect_uris,
            confidential: !secret_hash.is_empty() || !jwks.is_empty(),
            secret_hash,
            jwks: jwks.clone(),
            scopes: scopes.to_string(),
            created_ms: self.now_ms(),
            launch_url,
        };
        let mut entry = self.audit_entry(who, AuditAction::UserChange, Outcome::Success);
        entry.details = format!(
            "registro de la aplicación {client_id} (alcances «{}»)",
            app.scopes
        );
        let stored = app.clone();
        let now = self.now_ms();
        self.run_write(move |tx| {
            if !stored.jwks.is_empty() && tx.account(&stored.client_id)?.is_none() {
                tx.put_account(&store::Account {
                    username: stored.client_id.clone(),
                    role: Role::System.as_str().to_string(),
                    clues: None,
                    practitioner_id: None,
                    patient_id: None,
                    display_name: stored.name.clone(),
                    password_hash: String::new(),
                    disabled: false,
                    failed_logins: 0,
                    last_failure_ms: 0,
                    created_ms: now,
                    credential_epoch: 0,
                    last_login_ip: None,
                })?;
            }
            tx.put_app(&stored)?;
            tx.append_audit(entry.clone())?;
            Ok(())
        })?;
        self.access().note_security_change();
        Ok(app)
    }

    /// Every registered app.
    pub fn apps(&self) -> Result<Vec<App>, Error> {
        Ok(self.store().apps()?)
    }

    /// One registered app.
    pub fn app(&self, client_id: &str) -> Result<Option<App>, Error> {
        Ok(self.store().app(client_id)?)
    }

    /// Removes an app registration (CLI `app remove`). Tokens already issued to it run out
    /// within their lifetime; its refresh tokens fail at once (the app is gone).
    pub fn remove_app(&self, who: &Requester, client_id: &str) -> Result<(), Error> {
        let mut entry = self.audit_entry(who, AuditAction::UserChange, Outcome::Success);
        entry.details = format!("baja de la aplicación {client_id}");
        let id = client_id.to_string();
        let removed = self.run_write(move |tx| {
            let removed = tx.delete_app(&id)?;
            if removed {
                tx.append_audit(entry.clone())?;
            }
            Ok(removed)
        })?;
        if !removed {
            return Err(Error::NotFound(Issue::error(
                IssueCode::NotFound,
                format!("No hay ninguna aplicación registrada como «{client_id}»"),
                format!("No app is registered as '{client_id}'"),
            )));
        }
        Ok(())
    }

    /// Checks an authorization request before anyone signs in: the app, its redirect URI, the
    /// PKCE challenge (S256 only) and the scopes (narrowed to what the app is registered for).
    pub fn check_authorization(
        &self,
        request: &AuthorizationRequest,
    ) -> Result<ValidAuthorization, AuthorizeError> {
        let shown = |es: &str, en: &str| AuthorizeError {
            redirect: false,
            error: OAuthError::new(400, "invalid_request", es, en),
        };
        let app = self
            .app(&request.client_id)
            .map_err(|error| AuthorizeError {
                redirect: false,
                error: OAuthError::server(&error),
            })?
            .ok_or_else(|| {
                shown(
                    "La aplicación (client_id) no está registrada en este nodo.",
                    "The app (client_id) is not registered on this node.",
                )
            })?;
        if !app.redirect_uris.contains(&request.redirect_uri) {
            return Err(shown(
                "La URI de redirección no está registrada para esta aplicación.",
                "The redirect URI is not registered for this app.",
            ));
        }
        let redirected = |code: &'static str, es: &str, en: &str| AuthorizeError {
            redirect: true,
            error: OAuthError::new(400, code, es, en),
        };
        if request.response_type != "code" {
            return Err(redirected(
                "unsupported_response_type",
                "Solo se admite response_type=code.",
                "Only response_type=code is supported.",
            ));
        }
        if request.code_challenge_method != "S256" || request.code_challenge.len() != 43 {
            return Err(redirected(
                "invalid_request",
                "Se requiere PKCE con code_challenge_method=S256 (plain no se admite).",
                "PKCE with code_challenge_method=S256 is required (plain is refused).",
            ));
        }
        let requested = Scopes::parse(&request.scope)
            .map_err(|err| redirected("invalid_scope", &err.message_es(), &err.message_en()))?;
        let allowed = Scopes::parse(&app.scopes).unwrap_or_default();
        let granted_text: Vec<String> = requested
            .iter()
            .filter(|scope| covers(&allowed, scope))
            .filter(
                |scope| !matches!(scope, Scope::Resource(r) if r.context == ScopeContext::System),
            )
            .map(ToString::to_string)
            .collect();
        let scopes = Scopes::parse(&granted_text.join(" ")).unwrap_or_default();
        if !scopes.has_context(ScopeContext::User) && !scopes.has_context(ScopeContext::Patient) {
            return Err(redirected(
                "invalid_scope",
                "Ningún alcance de datos solicitado está permitido a esta aplicación.",
                "No requested data scope is allowed to this app.",
            ));
        }
        // SMART's EHR launch: the `launch` scope and the `launch` value come together.
        let ehr_launch = !request.launch.is_empty();
        if ehr_launch && !scopes.contains(&Scope::Launch) {
            return Err(redirected(
                "invalid_scope",
                "El parámetro launch requiere el alcance launch (registrado para la aplicación).",
                "The launch parameter requires the launch scope (registered for the app).",
            ));
        }
        if !ehr_launch && scopes.contains(&Scope::Launch) {
            return Err(redirected(
                "invalid_request",
                "El alcance launch requiere el parámetro launch (lanzamiento desde el expediente).",
                "The launch scope requires the launch parameter (launch from the EHR).",
            ));
        }
        if ehr_launch {
            // Before anyone signs in, only what does not depend on the user: the value is
            // pending and was made for this app.
            self.find_launch(&request.client_id, &request.launch, None, false)
                .map_err(|error| {
                    let issue = error.issues().into_iter().next();
                    AuthorizeError {
                        redirect: false,
                        error: OAuthError::new(
                            400,
                            "invalid_request",
                            issue
                                .as_ref()
                                .map(|i| i.message_es.clone())
                                .unwrap_or_default(),
                            issue.map(|i| i.message_en).unwrap_or_default(),
                        ),
                    }
                })?;
        }
        let needs_patient = !ehr_launch
            && (scopes.contains(&Scope::LaunchPatient)
                || scopes.has_context(ScopeContext::Patient));
        Ok(ValidAuthorization {
            request: request.clone(),
            app_name: app.name,
            scopes,
            needs_patient,
            ehr_launch,
        })
    }

    /// The user approved: a single-use code for the app. `patient` is the chosen launch
    /// patient (for patient accounts, always their own); the caller has shown it was readable
    /// by the user through the read guard ([`Ehr::read`]), which this checks again.
    pub fn grant_code(
        &self,
        who: &Requester,
        authorization: &ValidAuthorization,
        patient: Option<&str>,
    ) -> Result<String, Error> {
        let account = self.store().account(&who.principal.user)?.ok_or_else(|| {
            Error::Unauthorized(Issue::error(
                IssueCode::Login,
                "Sesión no válida.",
                "Invalid session.",
            ))
        })?;
        let patient = if authorization.ehr_launch {
            // Taken out here: a launch context serves one approval.
            Some(self.find_launch(
                &authorization.request.client_id,
                &authorization.request.launch,
                Some(&who.principal.user),
                true,
            )?)
        } else if who.role() == Role::Patient {
            who.principal.patient_id.clone()
        } else {
            patient.map(str::to_owned)
        };
        let with_patient = authorization.needs_patient || authorization.ehr_launch;
        if with_patient {
            let Some(patient) = patient.as_deref() else {
                return Err(invalid(
                    "Elija un paciente para la aplicación.".into(),
                    "Choose a patient for the app.".into(),
                ));
            };
            // Through the read guard (and audited): the user must be able to see this
            // patient, or the app gets nothing for them.
            self.read(who, "Patient", patient)?;
        }
        let code = auth::secret::random_secret()
            .map_err(|err| Error::Internal(format!("no randomness for a code: {err:?}")))?;
        let now = self.now_ms();
        let pending = PendingCode {
            client_id: authorization.request.client_id.clone(),
            redirect_uri: authorization.request.redirect_uri.clone(),
            challenge: authorization.request.code_challenge.clone(),
            username: account.username.clone(),
            epoch: account.credential_epoch,
            patient: if with_patient { patient } else { None },
            scopes: authorization.scopes.to_string(),
            nonce: Some(authorization.request.nonce.clone()).filter(|n| !n.is_empty()),
            expires_ms: now + CODE_TTL_MS,
        };
        let mut codes = lock(&self.smart.codes);
        if codes.len() >= CODES_MAX {
            codes.retain(|_, pending| pending.expires_ms > now);
            if codes.len() >= CODES_MAX {
                return Err(Error::TooManyRequests(Issue::error(
                    IssueCode::Throttled,
                    "Demasiadas autorizaciones pendientes; intente en un minuto.",
                    "Too many pending authorizations; try again in a minute.",
                )));
            }
        }
        codes.insert(auth::smart::secret_digest(&code), pending);
        Ok(code)
    }

    /// The EHR launch from a patient's chart: `who` (a clinician) must be able to open this
    /// patient's record (decided by the read guard and audited, a refusal too), and the app
    /// must be registered with a launch URL. Returns where to send the browser and the opaque
    /// launch value the app will present back.
    pub fn start_launch(
        &self,
        who: &Requester,
        patient_id: &str,
        client_id: &str,
    ) -> Result<EhrLaunch, Error> {
        let app = self
            .app(client_id)?
            .filter(|app| !app.launch_url.is_empty())
            .ok_or_else(|| {
                Error::NotFound(Issue::error(
                    IssueCode::NotFound,
                    "Ninguna aplicación con URL de lanzamiento está registrada con ese nombre.",
                    "No app with a launch URL is registered under that name.",
                ))
            })?;
        if !who.role().is_clinician() {
            return Err(Error::Forbidden(Issue::error(
                IssueCode::Forbidden,
                "Solo el personal clínico abre aplicaciones desde el expediente.",
                "Only clinical staff open apps from the chart.",
            )));
        }
        // The patient through the read guard (audited), then the record itself: the app will
        // read clinical data, so demographics alone are not enough.
        self.read(who, "Patient", patient_id)?;
        if let Some(reason) = self.record_refusal(who, patient_id)? {
            self.audit_denied(
                who,
                AuditAction::Read,
                "Patient",
                Some(patient_id),
                Some(patient_id),
                reason,
            );
            return Err(Error::Forbidden(Issue::error(
                IssueCode::Forbidden,
                format!(
                    "No puede abrir aplicaciones con el expediente de este paciente: {}",
                    reason.message_es()
                ),
                format!(
                    "You may not open apps with this patient's record: {}",
                    reason.message_en()
                ),
            )));
        }
        let launch = auth::secret::random_secret()
            .map_err(|err| Error::Internal(format!("no randomness for a launch: {err:?}")))?;
        let now = self.now_ms();
        let pending = PendingLaunch {
            client_id: app.client_id.clone(),
            username: who.principal.user.clone(),
            patient: patient_id.to_string(),
            expires_ms: now + LAUNCH_TTL_MS,
        };
        let mut launches = lock(&self.smart.launches);
        if launches.len() >= LAUNCHES_MAX {
            launches.retain(|_, pending| pending.expires_ms > now);
            if launches.len() >= LAUNCHES_MAX {
                return Err(Error::TooManyRequests(Issue::error(
                    IssueCode::Throttled,
                    "Demasiados lanzamientos pendientes; intente en unos minutos.",
                    "Too many pending launches; try again in a few minutes.",
                )));
            }
        }
        launches.insert(auth::smart::secret_digest(&launch), pending);
        Ok(EhrLaunch {
            url: app.launch_url,
            launch,
        })
    }

    /// The patient of an EHR launch, for the user it was made for (the consent page names
    /// them). The context stays pending until the approval takes it.
    pub fn launch_patient(
        &self,
        who: &Requester,
        authorization: &ValidAuthorization,
    ) -> Result<String, Error> {
        self.find_launch(
            &authorization.request.client_id,
            &authorization.request.launch,
            Some(&who.principal.user),
            false,
        )
    }

    /// A pending launch context's patient, when the value is pending, unexpired, made for
    /// this app and (when known) this user; `take` spends it.
    fn find_launch(
        &self,
        client_id: &str,
        launch: &str,
        user: Option<&str>,
        take: bool,
    ) -> Result<String, Error> {
        let key = auth::smart::secret_digest(launch);
        let now = self.now_ms();
        let mut launches = lock(&self.smart.launches);
        let pending = launches.get(&key).cloned().ok_or_else(launch_unusable)?;
        if pending.expires_ms <= now {
            launches.remove(&key);
            return Err(launch_unusable());
        }
        if pending.client_id != client_id {
            return Err(Error::Forbidden(Issue::error(
                IssueCode::Forbidden,
                "Este lanzamiento se abrió para otra aplicación.",
                "This launch was opened for another app.",
            )));
        }
        if user.is_some_and(|user| user != pending.username) {
            return Err(Error::Forbidden(Issue::error(
                IssueCode::Forbidden,
                "Este lanzamiento lo abrió otro usuario: ábralo usted desde el expediente del \
                 paciente.",
                "Another user opened this launch: open it yourself from the patient's chart.",
            )));
        }
        if take {
            launches.remove(&key);
        }
        Ok(pending.patient)
    }

    /// Authenticates the client at the token endpoint: a confidential app must present its
    /// secret; a public app only names itself (PKCE proves the rest).
    fn authenticate_client(&self, client: &ClientCredentials) -> Result<App, OAuthError> {
        let client_id = client
            .client_id
            .as_deref()
            .ok_or_else(OAuthError::invalid_client)?;
        let app = self
            .app(client_id)
            .map_err(|e| OAuthError::server(&e))?
            .ok_or_else(OAuthError::invalid_client)?;
        if !app.secret_hash.is_empty() {
            let presented = client
                .secret
                .as_deref()
                .ok_or_else(OAuthError::invalid_client)?;
            if !auth::smart::constant_time_eq(
                auth::smart::secret_digest(presented).as_bytes(),
                app.secret_hash.as_bytes(),
            ) {
                return Err(OAuthError::invalid_client());
            }
        } else if app.confidential {
            // A backend service authenticates only with its signed assertion.
            return Err(OAuthError::invalid_client());
        }
        Ok(app)
    }

    /// `grant_type=authorization_code`: the code, once, by the app it was issued to, with the
    /// same redirect URI and the PKCE verifier.
    pub fn token_for_code(
        &self,
        keys: &KeyStore,
        client: &ClientCredentials,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        issuer: &str,
    ) -> Result<SmartTokens, OAuthError> {
        let app = self.authenticate_client(client)?;
        // Taken out first: a code is single-use even when the exchange then fails.
        let pending = lock(&self.smart.codes).remove(&auth::smart::secret_digest(code));
        let bad = || {
            OAuthError::invalid_grant(
                "código no válido, vencido o ya usado",
                "invalid, expired or used code",
            )
        };
        let pending = pending.ok_or_else(bad)?;
        if pending.expires_ms <= self.now_ms()
            || pending.client_id != app.client_id
            || pending.redirect_uri != redirect_uri
            || !auth::smart::pkce_s256_matches(verifier, &pending.challenge)
        {
            return Err(bad());
        }
        let scopes = Scopes::parse(&pending.scopes).unwrap_or_default();
        self.issue_smart(
            keys,
            &app.client_id,
            &pending.username,
            pending.epoch,
            &scopes,
            pending.patient.as_deref(),
            pending.nonce.as_deref(),
            None,
            issuer,
        )
    }

    /// `grant_type=refresh_token`: rotation (the presented token is revoked, a new one of the
    /// same family issued); a token presented again after its use revokes its whole family.
    pub fn token_for_refresh(
        &self,
        keys: &KeyStore,
        client: &ClientCredentials,
        refresh_token: &str,
        requested_scope: Option<&str>,
        issuer: &str,
    ) -> Result<SmartTokens, OAuthError> {
        let app = self.authenticate_client(client)?;
        let bad = || {
            OAuthError::invalid_grant("token de actualización no válido", "invalid refresh token")
        };
        let claims: RefreshClaims = keys.verify_claims(refresh_token).map_err(|_| bad())?;
        let now = self.now_ms();
        if claims.typ != REFRESH_TYPE
            || claims.client_id != app.client_id
            || claims.exp <= now.div_euclid(1000)
        {
            return Err(bad());
        }
        let family_key = format!("refresh-family:{}", claims.family);
        let _rotation = lock(&self.smart.rotation);
        let revoked = |id: &str| {
            self.store()
                .is_token_revoked(id)
                .map_err(|e| OAuthError::server(&e.into()))
        };
        if revoked(&family_key)? {
            return Err(bad());
        }
        let system = Requester::local_system("smart");
        if revoked(&claims.jti)? {
            // Replay of a used refresh token: it leaked, so the family ends.
            let mut entry = self.audit_entry(&system, AuditAction::TokenRevoke, Outcome::Success);
            entry.details = format!(
                "familia de tokens de actualización {} revocada: token reutilizado por {}",
                claims.family, app.client_id
            );
            let expires = claims.exp.saturating_mul(1000) + auth::smart::REFRESH_TTL_OFFLINE_MS;
            self.run_write(move |tx| {
                tx.revoke_token(&family_key, expires)?;
                tx.append_audit(entry.clone())?;
                Ok(())
            })
            .map_err(|e| OAuthError::server(&e))?;
            return Err(bad());
        }
        let granted = Scopes::parse(&claims.scope).unwrap_or_default();
        let scopes = match requested_scope.filter(|s| !s.trim().is_empty()) {
            Some(text) => {
                let asked = Scopes::parse(text).map_err(|err| {
                    OAuthError::new(400, "invalid_scope", err.message_es(), err.message_en())
                })?;
                if asked.iter().any(|scope| !covers(&granted, scope)) {
                    return Err(OAuthError::new(
                        400,
                        "invalid_scope",
                        "solo se pueden pedir alcances ya concedidos",
                        "only scopes already granted may be asked",
                    ));
                }
                asked
            }
            None => granted,
        };
        let jti = claims.jti.clone();
        let used_until = claims.exp.saturating_mul(1000);
        self.run_write(move |tx| Ok(tx.revoke_token(&jti, used_until)?))
            .map_err(|e| OAuthError::server(&e))?;
        self.issue_smart(
            keys,
            &app.client_id,
            &claims.sub,
            claims.epoch,
            &scopes,
            claims.patient.as_deref(),
            None,
            Some(&claims.family),
            issuer,
        )
    }

    /// RFC 7009 for refresh tokens: the app that holds one ends its family (every token
    /// refreshed from the same authorization). An unknown or foreign token changes nothing and
    /// is not an error (the answer must not tell which tokens exist).
    pub fn revoke_refresh(
        &self,
        keys: &KeyStore,
        client: &ClientCredentials,
        token: &str,
    ) -> Result<(), OAuthError> {
        let app = self.authenticate_client(client)?;
        let Ok(claims) = keys.verify_claims::<RefreshClaims>(token) else {
            return Ok(());
        };
        if claims.typ != REFRESH_TYPE || claims.client_id != app.client_id {
            return Ok(());
        }
        let system = Requester::local_system("smart");
        let mut entry = self.audit_entry(&system, AuditAction::TokenRevoke, Outcome::Success);
        entry.details = format!(
            "familia de tokens de actualización {} revocada por la aplicación {}",
            claims.family, app.client_id
        );
        let family_key = format!("refresh-family:{}", claims.family);
        let expires = claims.exp.saturating_mul(1000) + auth::smart::REFRESH_TTL_OFFLINE_MS;
        self.run_write(move |tx| {
            tx.revoke_token(&family_key, expires)?;
            tx.append_audit(entry.clone())?;
            Ok(())
        })
        .map_err(|e| OAuthError::server(&e))
    }

    /// Issues the access token (and id_token, refresh token as the scopes ask) for an account.
    #[allow(clippy::too_many_arguments)]
    fn issue_smart(
        &self,
        keys: &KeyStore,
        client_id: &str,
        username: &str,
        epoch: u32,
        scopes: &Scopes,
        patient: Option<&str>,
        nonce: Option<&str>,
        family: Option<&str>,
        issuer: &str,
    ) -> Result<SmartTokens, OAuthError> {
        let account = self
            .store()
            .account(username)
            .map_err(|e| OAuthError::server(&e.into()))?
            .filter(|account| !account.disabled && account.credential_epoch == epoch)
            .ok_or_else(|| {
                OAuthError::invalid_grant(
                    "la cuenta ya no es válida",
                    "the account is no longer valid",
                )
            })?;
        let role = Role::parse(&account.role)
            .ok_or_else(|| OAuthError::invalid_grant("rol desconocido", "unknown role"))?;
        let patient = if role == Role::Patient {
            account.patient_id.clone()
        } else {
            patient.map(str::to_owned)
        };
        let request = TokenRequest {
            user: account.username.clone(),
            role,
            clues: account.clues.clone(),
            patient_id: patient.clone(),
            practitioner_id: account.practitioner_id.clone(),
            scopes: Some(scopes.clone()),
            ttl_ms: None,
            epoch: account.credential_epoch,
        };
        let jti = crate::meta::new_id();
        let now = self.now_ms();
        let issued = keys
            .issue_to_client(&request, now, &jti, Some(client_id))
            .map_err(|err| {
                OAuthError::new(400, "invalid_scope", err.message_es(), err.to_string())
            })?;
        let iat = now.div_euclid(1000);
        let id_token = if scopes.contains(&Scope::OpenId)
            && (scopes.contains(&Scope::FhirUser) || scopes.contains(&Scope::Profile))
        {
            let fhir_user = match role {
                Role::Patient => account
                    .patient_id
                    .as_deref()
                    .map(|id| format!("{issuer}/Patient/{id}")),
                _ => account
                    .practitioner_id
                    .as_deref()
                    .map(|id| format!("{issuer}/Practitioner/{id}")),
            };
            let claims = IdTokenClaims {
                iss: issuer.to_string(),
                sub: account.username.clone(),
                aud: client_id.to_string(),
                iat,
                exp: issued.claims.exp,
                fhir_user,
                nonce: nonce.map(str::to_owned),
            };
            Some(
                keys.sign_claims(&claims)
                    .map_err(|_| OAuthError::server(&Error::Internal("id_token".into())))?,
            )
        } else {
            None
        };
        let refresh_ttl_ms = if scopes.contains(&Scope::OfflineAccess) {
            Some(auth::smart::REFRESH_TTL_OFFLINE_MS)
        } else if scopes.contains(&Scope::OnlineAccess) {
            Some(auth::smart::REFRESH_TTL_ONLINE_MS)
        } else {
            None
        };
        let refresh_token = match refresh_ttl_ms {
            Some(ttl) => {
                let claims = RefreshClaims {
                    typ: REFRESH_TYPE.to_string(),
                    sub: account.username.clone(),
                    client_id: client_id.to_string(),
                    scope: scopes.to_string(),
                    patient: patient.clone(),
                    family: family.map_or_else(crate::meta::new_id, str::to_owned),
                    jti: crate::meta::new_id(),
                    iat,
                    exp: iat + ttl / 1000,
                    epoch: account.credential_epoch,
                };
                Some(
                    keys.sign_claims(&claims)
                        .map_err(|_| OAuthError::server(&Error::Internal("refresh".into())))?,
                )
            }
            None => None,
        };
        let who = crate::requester_for_account(&account, None);
        let mut entry = self.audit_entry(&who, AuditAction::TokenIssue, Outcome::Success);
        entry.patient_id = patient.clone();
        entry.details = format!(
            "token {jti} para la aplicación {client_id} (alcances «{}»{})",
            issued.claims.scope,
            patient
                .as_deref()
                .map(|p| format!(", paciente {p}"))
                .unwrap_or_default()
        );
        self.run_write(move |tx| Ok(tx.append_audit(entry.clone()).map(|_| ())?))
            .map_err(|e| OAuthError::server(&e))?;
        Ok(SmartTokens {
            access_token: issued.token,
            expires_in: issued.claims.exp - issued.claims.iat,
            scope: issued.claims.scope,
            patient,
            id_token,
            refresh_token,
        })
    }

    /// `grant_type=client_credentials` with a `private_key_jwt` assertion (SMART Backend
    /// Services): the app is the assertion's issuer, its key from its registered JWKS, each
    /// assertion usable once; the scopes are the `system/` ones asked and registered.
    pub fn token_for_assertion(
        &self,
        keys: &KeyStore,
        assertion: &str,
        requested_scope: Option<&str>,
        token_url: &str,
    ) -> Result<SmartTokens, OAuthError> {
        let client_id =
            auth::smart::assertion_issuer(assertion).ok_or_else(OAuthError::invalid_client)?;
        let app = self
            .app(&client_id)
            .map_err(|e| OAuthError::server(&e))?
            .filter(|app| !app.jwks.is_empty())
            .ok_or_else(OAuthError::invalid_client)?;
        let now = self.now_ms();
        let claims = auth::smart::verify_client_assertion(
            assertion,
            &app.jwks,
            &app.client_id,
            token_url,
            now,
        )
        .map_err(|error| {
            tracing::info!(%error, client_id = %app.client_id, "client assertion refused");
            OAuthError::invalid_client()
        })?;
        let allowed = Scopes::parse(&app.scopes).unwrap_or_default();
        let scopes = match requested_scope.filter(|s| !s.trim().is_empty()) {
            Some(text) => {
                let asked = Scopes::parse(text).map_err(|err| {
                    OAuthError::new(400, "invalid_scope", err.message_es(), err.message_en())
                })?;
                let kept: Vec<String> = asked
                    .iter()
                    .filter(|scope| matches!(scope, Scope::Resource(r) if r.context == ScopeContext::System))
                    .filter(|scope| covers(&allowed, scope))
                    .map(ToString::to_string)
                    .collect();
                Scopes::parse(&kept.join(" ")).unwrap_or_default()
            }
            None => allowed,
        };
        if !scopes.has_context(ScopeContext::System) {
            return Err(OAuthError::new(
                400,
                "invalid_scope",
                "ningún alcance system/ solicitado está permitido a esta aplicación",
                "no requested system/ scope is allowed to this app",
            ));
        }
        let replay_key = format!("client-assertion:{}:{}", app.client_id, claims.jti);
        {
            let _once = lock(&self.smart.rotation);
            if self
                .store()
                .is_token_revoked(&replay_key)
                .map_err(|e| OAuthError::server(&e.into()))?
            {
                return Err(OAuthError::new(
                    401,
                    "invalid_client",
                    "la aserción (jti) ya fue usada",
                    "the assertion (jti) was already used",
                ));
            }
            let until = claims.exp.saturating_mul(1000) + 60_000;
            self.run_write(move |tx| Ok(tx.revoke_token(&replay_key, until)?))
                .map_err(|e| OAuthError::server(&e))?;
        }
        let account = self
            .store()
            .account(&app.client_id)
            .map_err(|e| OAuthError::server(&e.into()))?
            .filter(|account| !account.disabled && account.role == Role::System.as_str())
            .ok_or_else(OAuthError::invalid_client)?;
        let request = TokenRequest {
            user: account.username.clone(),
            role: Role::System,
            clues: None,
            patient_id: None,
            practitioner_id: None,
            scopes: Some(scopes),
            ttl_ms: Some(5 * 60 * 1000),
            epoch: account.credential_epoch,
        };
        let jti = crate::meta::new_id();
        let issued = keys
            .issue_to_client(&request, now, &jti, Some(&app.client_id))
            .map_err(|err| {
                OAuthError::new(400, "invalid_scope", err.message_es(), err.to_string())
            })?;
        let who = crate::requester_for_account(&account, None);
        let mut entry = self.audit_entry(&who, AuditAction::TokenIssue, Outcome::Success);
        entry.details = format!(
            "token {jti} para el servicio {} (alcances «{}»)",
            app.client_id, issued.claims.scope
        );
        self.run_write(move |tx| Ok(tx.append_audit(entry.clone()).map(|_| ())?))
            .map_err(|e| OAuthError::server(&e))?;
        Ok(SmartTokens {
            access_token: issued.token,
            expires_in: issued.claims.exp - issued.claims.iat,
            scope: issued.claims.scope,
            patient: None,
            id_token: None,
            refresh_token: None,
        })
    }

    /// RFC 7662 introspection for a resource server that authenticated as a confidential app:
    /// `{"active": false}` for anything not currently usable (bad signature, expired, revoked,
    /// account disabled or reset), otherwise what the token grants.
    pub fn introspect(
        &self,
        keys: &KeyStore,
        client: &ClientCredentials,
        token: &str,
    ) -> Result<serde_json::Value, OAuthError> {
        let app = self.authenticate_client(client)?;
        if !app.confidential {
            return Err(OAuthError::invalid_client());
        }
        let inactive = serde_json::json!({"active": false});
        let Ok(claims) = keys.verify(token, self.now_ms(), &|_| false) else {
            return Ok(inactive);
        };
        if self
            .store()
            .is_token_revoked(&claims.jti)
            .map_err(|e| OAuthError::server(&e.into()))?
        {
            return Ok(inactive);
        }
        if self.requester_for_claims(&claims, None).is_err() {
            return Ok(inactive);
        }
        let mut body = serde_json::json!({
            "active": true,
            "scope": claims.scope,
            "username": claims.sub,
            "sub": claims.sub,
            "token_type": "Bearer",
            "exp": claims.exp,
            "iat": claims.iat,
            "jti": claims.jti,
        });
        if let Some(client_id) = &claims.client_id {
            body["client_id"] = client_id.clone().into();
        }
        if let Some(patient) = &claims.patient {
            body["patient"] = patient.clone().into();
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use auth::password::HashCost;

    use super::*;
    use crate::{Clock, NewAccount};

    const T0: i64 = 1_800_000_000_000;
    const CLINIC: &str = "DFSSA001234";

    struct ManualClock(AtomicI64);

    impl Clock for ManualClock {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    fn json(text: &str) -> fhir::Json {
        fhir::json::parse_str(text).unwrap()
    }

    /// A clinic with one patient, a physician and a receptionist of it, and an app launched
    /// from charts.
    fn clinic() -> (Ehr, Arc<ManualClock>, String, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = store_sqlite::SqliteStore::open(dir.path()).unwrap();
        let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
        let ehr = Ehr::new(store, clock.clone(), "prueba");
        let tool = Requester::local_system("pruebas");
        let org = format!(
            r#"{{"resourceType":"Organization","name":"Unidad","identifier":[{{"system":"{}","value":"{CLINIC}"}}]}}"#,
            mexico::systems::CLUES
        );
        let org = ehr.create(&tool, "Organization", json(&org), None).unwrap();
        let patient = format!(
            r#"{{"resourceType":"Patient","name":[{{"family":"Pech","given":["Ana"]}}],"gender":"female","birthDate":"1980-02-03","managingOrganization":{{"reference":"Organization/{}"}}}}"#,
            org.resource.id
        );
        let patient = ehr.create(&tool, "Patient", json(&patient), None).unwrap();
        for (user, role) in [
            ("medica", Role::Physician),
            ("recepcion", Role::Receptionist),
        ] {
            ehr.add_account(
                &tool,
                NewAccount {
                    username: user.into(),
                    role,
                    clues: Some(CLINIC.to_string()),
                    practitioner_id: None,
                    patient_id: None,
                    display_name: user.into(),
                },
                "Clave-de-prueba-2026",
                HashCost::TEST_ONLY,
            )
            .unwrap();
        }
        ehr.add_app(
            &tool,
            NewApp {
                client_id: "app-ehr".into(),
                redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
                launch_url: Some("https://app.example.org/launch".into()),
                ..NewApp::default()
            },
        )
        .unwrap();
        (ehr, clock, patient.resource.id, dir)
    }

    fn request(launch: &str) -> AuthorizationRequest {
        AuthorizationRequest {
            response_type: "code".into(),
            client_id: "app-ehr".into(),
            redirect_uri: "http://127.0.0.1:9/callback".into(),
            scope: "launch patient/*.rs".into(),
            code_challenge: "a".repeat(43),
            code_challenge_method: "S256".into(),
            launch: launch.into(),
            ..AuthorizationRequest::default()
        }
    }

    #[test]
    fn a_launch_context_serves_one_approval_within_five_minutes() {
        let (ehr, clock, patient, _dir) = clinic();
        let medica = ehr.requester_for_session("medica", 0, None).unwrap();
        let recepcion = ehr.requester_for_session("recepcion", 0, None).unwrap();
        assert!(
            matches!(
                ehr.start_launch(&recepcion, &patient, "app-ehr"),
                Err(Error::Forbidden(_))
            ),
            "only clinical staff launch apps from a chart"
        );

        // Expired: refused before anyone signs in.
        let late = ehr.start_launch(&medica, &patient, "app-ehr").unwrap();
        assert_eq!(late.url, "https://app.example.org/launch");
        clock.0.store(T0 + LAUNCH_TTL_MS, Ordering::Relaxed);
        let refused = ehr.check_authorization(&request(&late.launch)).unwrap_err();
        assert!(
            !refused.redirect && refused.error.es.contains("venció"),
            "{refused:?}"
        );

        // In time: the patient comes from the context, and the approval spends it.
        let launch = ehr.start_launch(&medica, &patient, "app-ehr").unwrap();
        clock.0.store(T0 + 2 * LAUNCH_TTL_MS - 1, Ordering::Relaxed);
        let valid = ehr.check_authorization(&request(&launch.launch)).unwrap();
        assert!(valid.ehr_launch && !valid.needs_patient);
        assert_eq!(ehr.launch_patient(&medica, &valid).unwrap(), patient);
        let code = ehr
            .grant_code(&medica, &valid, Some("otro-paciente"))
            .unwrap();
        let pending = lock(&ehr.smart.codes)
            .get(&auth::smart::secret_digest(&code))
            .cloned()
            .unwrap();
        assert_eq!(
            pending.patient.as_deref(),
            Some(patient.as_str()),
            "the launch's patient, whatever the form says"
        );
        assert!(ehr.launch_patient(&medica, &valid).is_err(), "spent");
        assert!(ehr.check_authorization(&request(&launch.launch)).is_err());
        assert!(
            ehr.grant_code(&medica, &valid, None).is_err(),
            "a second approval of the same launch"
        );
    }

    #[test]
    fn an_app_is_granted_only_what_its_registration_covers() {
        let allowed = Scopes::parse("patient/*.rs user/Observation.rs openid").unwrap();
        let covered = |text: &str| {
            let wanted = Scopes::parse(text).unwrap();
            covers(&allowed, wanted.iter().next().unwrap())
        };
        assert!(covered("patient/Observation.rs"));
        assert!(covered("patient/Observation.read"), "v1 read is rs");
        assert!(!covered("patient/Observation.cruds"));
        assert!(!covered("patient/Observation.write"));
        assert!(covered("user/Observation.r"));
        assert!(!covered("user/Condition.rs"));
        assert!(covered("openid"));
        assert!(!covered("offline_access"));
        assert!(!covered("system/*.rs"));
        let restricted = Scopes::parse("patient/Observation.rs?category=laboratory").unwrap();
        let plain = Scopes::parse("patient/Observation.rs").unwrap();
        assert!(
            !covers(&restricted, plain.iter().next().unwrap()),
            "a restricted registration never covers the unrestricted scope"
        );
        let narrower =
            Scopes::parse("patient/Observation.rs?category=laboratory&status=final").unwrap();
        assert!(covers(&restricted, narrower.iter().next().unwrap()));
        assert!(covers(&restricted, restricted.iter().next().unwrap()));
        let other = Scopes::parse("patient/Observation.rs?category=vital-signs").unwrap();
        assert!(!covers(&restricted, other.iter().next().unwrap()));
        assert!(covers(&plain, restricted.iter().next().unwrap()));
    }
}
