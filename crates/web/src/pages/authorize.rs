//! The SMART authorization pages (issue 18): `GET /auth/authorize` (and `/ui/autorizar`)
//! checks the app's request, asks the user to sign in when the browser has no session (the
//! same throttled sign-in as the UI's), then shows the consent page: what the app asks for, in
//! the user's language, and a patient picker when the app asks for a patient context (only
//! patients the user's searches return, that is, what the read guard lets them see). The
//! decisions are `ehr::smart`'s; this module only renders and redirects.
//!
//! The consent page's `form-action` allows the app's redirect origin too: browsers apply it to
//! the redirect that answers the form.
//!
//! The EHR launch starts on a patient's chart: `GET /ui/pacientes/{id}/lanzar/{client_id}`
//! asks `ehr` for a launch context (the record decided by the read guard, audited) and sends
//! the browser to the app's launch URL with `iss` and `launch`; the app comes back here with
//! `launch`, and the consent page names the patient of that context instead of a picker.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{AppState, Ctx, Layout, error_page, render, see_other};
use crate::i18n::Tr;
use crate::{data, session};

/// Patients listed by the picker at most.
const PICKER_MAX: usize = 20;

/// The authorization request's parameters, carried through the sign-in and consent forms.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct AuthorizeParams {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: String,
    aud: String,
    code_challenge: String,
    code_challenge_method: String,
    nonce: String,
    launch: String,
    /// The picker's search text.
    q: String,
    /// Consent form: `permitir` or `denegar`, and the chosen patient.
    decision: String,
    patient: String,
    /// Sign-in form.
    user: String,
    password: String,
}

impl AuthorizeParams {
    fn request(&self) -> ehr::smart::AuthorizationRequest {
        ehr::smart::AuthorizationRequest {
            response_type: self.response_type.clone(),
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scope: self.scope.clone(),
            state: self.state.clone(),
            aud: self.aud.clone(),
            code_challenge: self.code_challenge.clone(),
            code_challenge_method: self.code_challenge_method.clone(),
            nonce: self.nonce.clone(),
            launch: self.launch.clone(),
        }
    }

    fn hidden(&self) -> Vec<(&'static str, String)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("aud", &self.aud),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("nonce", &self.nonce),
            ("launch", &self.launch),
        ]
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name, value.clone()))
        .collect()
    }

    fn query(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.hidden() {
            query.append_pair(name, &value);
        }
        query.finish()
    }
}

#[derive(Template)]
#[template(path = "authorize.html")]
struct AuthorizePage {
    layout: Layout,
    error: Option<String>,
    intro: String,
    signin: bool,
    hidden: Vec<(&'static str, String)>,
    scopes: Vec<String>,
    picker: bool,
    /// The EHR launch's patient, named on the consent page.
    launch_patient: Option<String>,
    q: String,
    patients: Vec<(String, String)>,
    search_label: &'static str,
    search_button: &'static str,
    patient_label: &'static str,
    no_patients: &'static str,
    allow: &'static str,
    deny: &'static str,
}

/// What one granted scope lets the app do, in the user's language.
pub fn describe_scope(tr: Tr, scope: &auth::scope::Scope) -> String {
    use auth::scope::{Interaction, Scope, ScopeContext};
    match scope {
        Scope::Resource(resource) => {
            let verbs: Vec<&str> = Interaction::ALL
                .into_iter()
                .filter(|i| resource.interactions.contains(*i))
                .map(|i| tr.pick(i.verb_es(), i.verb_en()))
                .collect();
            let what = match &resource.resource_type {
                Some(kind) => kind.clone(),
                None => tr
                    .pick("todo tipo de dato", "every kind of data")
                    .to_string(),
            };
            let whose = match resource.context {
                ScopeContext::Patient => tr.pick("del paciente elegido", "of the chosen patient"),
                ScopeContext::User => {
                    tr.pick("a los que usted tiene acceso", "that you have access to")
                }
                ScopeContext::System => tr.pick("del sistema", "of the system"),
            };
            format!("{} {what} {whose}", capitalized(&verbs.join(", ")))
        }
        Scope::OpenId | Scope::FhirUser | Scope::Profile => tr
            .pick(
                "Conocer su identidad (usuario y ficha de profesional o paciente)",
                "Know who you are (user name and practitioner or patient record)",
            )
            .to_string(),
        Scope::Launch => tr
            .pick(
                "Trabajar con el paciente del expediente que usted abrió",
                "Work with the patient of the chart you opened",
            )
            .to_string(),
        Scope::LaunchPatient => tr
            .pick(
                "Trabajar con un paciente que usted elija",
                "Work with a patient you choose",
            )
            .to_string(),
        Scope::LaunchEncounter => tr
            .pick("Conocer la consulta en curso", "Know the current encounter")
            .to_string(),
        Scope::OfflineAccess => tr
            .pick(
                "Seguir accediendo sin que usted esté presente (hasta 90 días)",
                "Keep access while you are away (up to 90 days)",
            )
            .to_string(),
        Scope::OnlineAccess => tr
            .pick(
                "Seguir accediendo mientras usted use la aplicación (hasta 8 horas)",
                "Keep access while you use the app (up to 8 hours)",
            )
            .to_string(),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().collect::<String>() + chars.as_str()
    })
}

fn patient_label(patient: &Value) -> Option<(String, String)> {
    let id = patient.get("id")?.as_str()?.to_string();
    let name = patient
        .get("name")
        .and_then(|names| names.get(0))
        .map(|name| {
            let given: Vec<&str> = name
                .get("given")
                .and_then(Value::as_array)
                .map(|g| g.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let family = name
                .get("family")
                .and_then(Value::as_str)
                .unwrap_or_default();
            format!("{} {family}", given.join(" ")).trim().to_string()
        })
        .unwrap_or_default();
    let birth = patient
        .get("birthDate")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some((id, format!("{name} ({birth})")))
}

/// Sends the browser back to the app with an OAuth error (only once the redirect URI is known
/// to be the app's).
fn redirect_error(params: &AuthorizeParams, code: &str, description: &str) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("error", code);
    query.append_pair("error_description", description);
    if !params.state.is_empty() {
        query.append_pair("state", &params.state);
    }
    let separator = if params.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    see_other(&format!(
        "{}{separator}{}",
        params.redirect_uri,
        query.finish()
    ))
}

/// The request checked by `ehr`, then its `aud`: SMART asks the server to refuse a request
/// meant for another FHIR server (an app tricked into sending its user's code elsewhere).
async fn check(
    app: &std::sync::Arc<crate::App>,
    headers: &HeaderMap,
    uri: &Uri,
    params: &AuthorizeParams,
) -> Result<ehr::smart::ValidAuthorization, ehr::smart::AuthorizeError> {
    let ehr = app.ehr.clone();
    let request = params.request();
    let valid = tokio::task::spawn_blocking(move || ehr.check_authorization(&request))
        .await
        .unwrap_or_else(|_| {
            Err(ehr::smart::AuthorizeError {
                redirect: false,
                error: ehr::smart::OAuthError {
                    status: 500,
                    code: "server_error",
                    es: "error interno".into(),
                    en: "internal error".into(),
                },
            })
        })?;
    let expected = crate::guard::expected_origin(&app.config, headers, uri)
        .map(|origin| format!("{origin}/fhir"));
    if expected.as_deref() != Some(params.aud.trim_end_matches('/')) {
        return Err(ehr::smart::AuthorizeError {
            redirect: true,
            error: ehr::smart::OAuthError {
                status: 400,
                code: "invalid_request",
                es: "aud debe ser la URL base FHIR de este servidor".into(),
                en: "aud must be this server's FHIR base URL".into(),
            },
        });
    }
    Ok(valid)
}

fn refused(
    app: &crate::App,
    ctx: &Ctx,
    params: &AuthorizeParams,
    refusal: &ehr::smart::AuthorizeError,
) -> Response {
    if refusal.redirect {
        return redirect_error(params, refusal.error.code, &refusal.error.en);
    }
    let status = StatusCode::from_u16(refusal.error.status).unwrap_or(StatusCode::BAD_REQUEST);
    error_page(
        app,
        ctx,
        status,
        vec![
            ctx.tr
                .pick(&refusal.error.es, &refusal.error.en)
                .to_string(),
        ],
    )
}

/// The page itself: sign-in without a session, consent (and picker) with one.
async fn page(
    app: &std::sync::Arc<crate::App>,
    mut ctx: Ctx,
    params: &AuthorizeParams,
    valid: &ehr::smart::ValidAuthorization,
    error: Option<String>,
) -> Response {
    let tr = ctx.tr;
    let intro = format!(
        "{} «{}» {}",
        tr.pick("La aplicación", "The app"),
        valid.app_name,
        tr.pick(
            "pide acceso al expediente en su nombre.",
            "asks for access to the record on your behalf."
        )
    );
    let signin = ctx.session.is_none();
    if signin {
        ctx.ensure_pre_session();
    }
    let picker = !signin
        && valid.needs_patient
        && ctx
            .session
            .as_ref()
            .is_some_and(|s| s.requester.role() != auth::role::Role::Patient);
    let mut launch_patient = None;
    if valid.ehr_launch
        && let Some(session) = &ctx.session
    {
        // The launch context must be this user's (and this app's): otherwise nothing about it
        // is shown, the patient least of all.
        let grant = valid.clone();
        let who = session.requester.clone();
        let resolved =
            super::blocking(app, &ctx, move |db| db.ehr.launch_patient(&who, &grant)).await;
        let patient_id = match resolved {
            Ok(id) => id,
            // `ehr`'s launch refusals are written for the user (what to do next), unlike the
            // guard's, which the general messages replace.
            Err(error) => {
                let status = super::error_status(&error);
                let messages = error
                    .issues()
                    .iter()
                    .map(|issue| tr.pick(&issue.message_es, &issue.message_en).to_string())
                    .collect();
                return error_page(app, &ctx, status, messages);
            }
        };
        match super::blocking(app, &ctx, move |db| data::read(db, "Patient", &patient_id)).await {
            Ok(patient) => launch_patient = patient_label(&patient).map(|(_, label)| label),
            Err(error) => return super::ehr_error(app, &ctx, &error),
        }
    }
    let mut patients = Vec::new();
    if picker {
        let q = params.q.trim().to_string();
        let found = super::blocking(app, &ctx, move |db| {
            let criteria: Vec<(&str, String)> = if q.is_empty() {
                Vec::new()
            } else {
                vec![("name", q)]
            };
            data::search_patients(db, &criteria, None)
        })
        .await;
        match found {
            Ok(page) => {
                patients = page
                    .patients
                    .iter()
                    .filter_map(patient_label)
                    .take(PICKER_MAX)
                    .collect();
            }
            Err(error) => return super::ehr_error(app, &ctx, &error),
        }
    }
    let template = AuthorizePage {
        layout: ctx.layout(app, "authorize.title"),
        error,
        intro,
        signin,
        hidden: params.hidden(),
        scopes: valid.scopes.iter().map(|s| describe_scope(tr, s)).collect(),
        picker,
        launch_patient,
        q: params.q.clone(),
        patients,
        search_label: tr.pick("Buscar paciente por nombre", "Find a patient by name"),
        search_button: tr.pick("Buscar", "Search"),
        patient_label: tr.pick("Paciente para la aplicación", "Patient for the app"),
        no_patients: tr.pick("Ningún paciente encontrado.", "No patient found."),
        allow: tr.pick("Permitir", "Allow"),
        deny: tr.pick("Denegar", "Deny"),
    };
    let mut response = render(
        &template,
        if template.error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
    );
    ctx.set_pre_session_cookie(app, &mut response);
    // The consent form is answered by a redirect to the app: allow its origin as a form target.
    if let Some(origin) = origin_of(&params.redirect_uri)
        && let Ok(value) = HeaderValue::from_str(&format!(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             img-src 'self' data:; form-action 'self' {origin}; frame-ancestors 'none'; base-uri 'none'"
        ))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let plain = authority
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    (plain && !authority.is_empty() && matches!(scheme, "http" | "https"))
        .then(|| format!("{scheme}://{authority}"))
}

/// # `GET /auth/authorize`, `GET /ui/autorizar`
pub async fn authorize(
    State(app): AppState,
    headers: HeaderMap,
    uri: Uri,
    ctx: Ctx,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    match check(&app, &headers, &uri, &params).await {
        Ok(valid) => page(&app, ctx, &params, &valid, None).await,
        Err(refusal) => refused(&app, &ctx, &params, &refusal),
    }
}

/// # `GET /ui/pacientes/{id}/lanzar/{client_id}`: SMART's EHR launch from the chart.
///
/// Answers 303 to `{launch_url}?iss={this node's FHIR base}&launch={opaque}`; a patient the
/// user may not open, or an app without a launch URL, gets the error page instead.
pub async fn launch(
    State(app): AppState,
    headers: HeaderMap,
    uri: Uri,
    ctx: Ctx,
    Path((id, client_id)): Path<(String, String)>,
) -> Response {
    if ctx.session.is_none() {
        return super::to_login(&ctx);
    }
    let Some(origin) = crate::guard::expected_origin(&app.config, &headers, &uri) else {
        return error_page(
            &app,
            &ctx,
            StatusCode::BAD_REQUEST,
            vec![
                ctx.tr
                    .pick("Falta el encabezado Host.", "The Host header is missing.")
                    .to_string(),
            ],
        );
    };
    let started = super::blocking(&app, &ctx, move |db| {
        db.ehr.start_launch(&db.who, &id, &client_id)
    })
    .await;
    match started {
        Ok(launch) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("iss", &format!("{origin}/fhir"));
            query.append_pair("launch", &launch.launch);
            let separator = if launch.url.contains('?') { '&' } else { '?' };
            see_other(&format!("{}{separator}{}", launch.url, query.finish()))
        }
        Err(error) => super::ehr_error(&app, &ctx, &error),
    }
}

/// # `POST /ui/autorizar/entrar`: the sign-in of the authorization page.
pub async fn sign_in(
    State(app): AppState,
    headers: HeaderMap,
    uri: Uri,
    ctx: Ctx,
    axum::Form(params): axum::Form<AuthorizeParams>,
) -> Response {
    let valid = match check(&app, &headers, &uri, &params).await {
        Ok(valid) => valid,
        Err(refusal) => return refused(&app, &ctx, &params, &refusal),
    };
    let outcome = match app
        .ehr
        .sign_in(params.user.trim(), &params.password, ctx.ip)
        .await
    {
        Ok(account) => app.sessions.open(&account, ctx.ip, ctx.now_ms),
        Err(error) => Err(session::LoginError::of_sign_in(&error)),
    };
    match outcome {
        Ok(info) => {
            if let Some(previous) = &ctx.session {
                app.sessions.logout(previous);
            }
            let mut response = see_other(&format!("/ui/autorizar?{}", params.query()));
            if let Ok(cookie) = HeaderValue::from_str(&session::session_cookie(
                &info.secret,
                app.config.secure_cookies,
            )) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => {
            let message = ctx
                .tr
                .pick(&error.message_es(), &error.message_en())
                .to_string();
            page(&app, ctx, &params, &valid, Some(message)).await
        }
    }
}

/// # `POST /ui/autorizar`: the user's decision.
pub async fn decide(
    State(app): AppState,
    headers: HeaderMap,
    uri: Uri,
    ctx: Ctx,
    axum::Form(params): axum::Form<AuthorizeParams>,
) -> Response {
    let valid = match check(&app, &headers, &uri, &params).await {
        Ok(valid) => valid,
        Err(refusal) => return refused(&app, &ctx, &params, &refusal),
    };
    if ctx.session.is_none() {
        return page(&app, ctx, &params, &valid, None).await;
    }
    if params.decision != "permitir" {
        return redirect_error(&params, "access_denied", "the user denied access");
    }
    let patient = Some(params.patient.trim().to_string()).filter(|p| !p.is_empty());
    let grant = valid.clone();
    let granted = super::blocking(&app, &ctx, move |db| {
        db.ehr.grant_code(&db.who, &grant, patient.as_deref())
    })
    .await;
    match granted {
        Ok(code) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("code", &code);
            if !params.state.is_empty() {
                query.append_pair("state", &params.state);
            }
            let separator = if params.redirect_uri.contains('?') {
                '&'
            } else {
                '?'
            };
            see_other(&format!(
                "{}{separator}{}",
                params.redirect_uri,
                query.finish()
            ))
        }
        Err(error) => {
            let message = crate::messages::general(ctx.tr, &error).join(" ");
            page(&app, ctx, &params, &valid, Some(message)).await
        }
    }
}
