//! Registering a person, the patient's card (what reception may see and do), and the care
//! events staff record for a patient of another clinic: *inicio de atención* and *cambio de
//! unidad*, each with its reason.
//!
//! Why a card: a receptionist registers and schedules people but may not read their clinical
//! record; after registering she must land on something she may see (the issue found her on
//! "No tiene permiso"). Possible duplicates are a warning with the candidates, never a refusal:
//! the record itself opens the review task when it saves a near-duplicate.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::find::{Found, PatientRow, curp_status_html, patient_rows};
use super::{
    AppState, Ctx, Layout, PatientView, blocking, ehr_error, render, see_other, to_json, to_login,
};
use crate::data;
use crate::forms::RegisterForm;
use crate::messages::{self, PATIENT_FIELDS};

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    form: RegisterForm,
    states: Vec<(&'static str, &'static str)>,
    curp_status: String,
    implied_prefix: Option<String>,
    mismatch: String,
    duplicates: Vec<PatientRow>,
    errors: Vec<String>,
    /// Messages by field name.
    field_errors: Vec<(&'static str, String)>,
    reviewed: &'static str,
}

impl RegisterPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.field_errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| e.as_str())
    }
}

fn states() -> Vec<(&'static str, &'static str)> {
    mexico::states::STATES
        .iter()
        .map(|s| (s.curp_code, s.name))
        .collect()
}

fn register_page(ctx: &Ctx, app: &crate::App, form: RegisterForm) -> RegisterPage {
    RegisterPage {
        layout: ctx.layout(app, "register.title"),
        curp_status: curp_status_html(ctx.tr, &form.curp),
        form,
        states: states(),
        implied_prefix: None,
        mismatch: String::new(),
        duplicates: Vec::new(),
        errors: Vec::new(),
        field_errors: Vec::new(),
        reviewed: "",
    }
}

/// # `GET /ui/pacientes/nuevo`
pub async fn register_form(
    State(app): AppState,
    ctx: Ctx,
    Query(form): Query<RegisterForm>,
) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let page = register_page(&ctx, &app, form);
    if !page.layout.can_register {
        return super::error_page(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            vec![ctx.tr.s("register.not_offered").to_string()],
        );
    }
    render(&page, StatusCode::OK)
}

/// Positions (1-based) where the typed CURP disagrees with the prefix the data imply.
pub(crate) fn curp_mismatch(curp: &str, prefix: &str) -> Vec<usize> {
    curp.chars()
        .zip(prefix.chars())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| i + 1)
        .collect()
}

/// # `POST /ui/pacientes/nuevo`
pub async fn register(
    State(app): AppState,
    ctx: Ctx,
    axum::Form(form): axum::Form<RegisterForm>,
) -> Response {
    let Some(session) = ctx.session.clone() else {
        return to_login(&ctx);
    };
    let mut page = register_page(&ctx, &app, form.clone());
    page.reviewed = "1";
    for (field, es, en) in form.check(ctx.today()) {
        page.field_errors
            .push((field, ctx.tr.pick(&es, &en).to_string()));
    }
    let curp = mexico::curp::normalize(&form.curp);
    let curp_check = data::check_curp(&curp);
    if !curp.is_empty() && !curp_check.valid {
        let problems: Vec<String> = curp_check
            .errors
            .iter()
            .map(|p| ctx.tr.pick(&p.message_es, &p.message_en).to_string())
            .collect();
        page.field_errors.push((
            "curp",
            format!("{} {}", ctx.tr.s("find.curp_invalid"), problems.join(" ")),
        ));
    }
    if !page.field_errors.is_empty() {
        // Nothing is matched or saved from a form that cannot be a person yet.
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    page.implied_prefix = form.implied_curp_prefix();
    if let Some(prefix) = &page.implied_prefix
        && curp_check.valid
    {
        page.mismatch = curp_mismatch(&curp, prefix)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
    }
    let patient = form.patient(session.organization.as_deref());
    let mut probe = patient.clone();
    if let Some(object) = probe.as_object_mut() {
        object.remove("extension");
    }
    let candidates = blocking(&app, &ctx, move |db| {
        match data::match_patients(db, to_json(&probe)) {
            Ok(candidates) => patient_rows(
                db,
                candidates
                    .into_iter()
                    .map(|c| Found {
                        patient: c.patient,
                        grade: Some(c.grade),
                        date_note: None,
                    })
                    .collect(),
            ),
            // Too little typed to match yet: no duplicates to show.
            Err(ehr::Error::Unprocessable(_) | ehr::Error::BadRequest(_)) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    })
    .await;
    match candidates {
        Ok(rows) => page.duplicates = rows,
        Err(error) => {
            page.errors.extend(messages::general(ctx.tr, &error));
            return render(&page, super::error_status(&error));
        }
    }
    let duplicates_cleared = page.duplicates.is_empty() || form.not_duplicate.is_some();
    if form.action != "save" || !duplicates_cleared {
        return render(&page, StatusCode::OK);
    }
    let created = blocking(&app, &ctx, move |db| {
        let (id, warnings) = data::create(db, "Patient", to_json(&patient))?;
        let abilities = data::abilities(db, &id)?;
        Ok((id, warnings, abilities))
    })
    .await;
    match created {
        Ok((id, warnings, abilities)) => {
            // A role that may not read review tasks learns of the review from the write itself.
            let review = warnings
                .iter()
                .any(|w| w.code == fhir::IssueCode::Duplicate);
            if abilities.read_record {
                see_other(&format!("/ui/pacientes/{id}?ok=register.saved"))
            } else if review {
                see_other(&format!(
                    "/ui/pacientes/{id}/ficha?revision=1&ok=register.saved"
                ))
            } else {
                see_other(&format!("/ui/pacientes/{id}/ficha?ok=register.saved"))
            }
        }
        Err(error) => {
            // What was typed comes back, with plain words next to the fields.
            for plain in messages::plain(ctx.tr, &error, PATIENT_FIELDS) {
                match plain.field {
                    Some(field) => page.field_errors.push((field, plain.text)),
                    None => page.errors.push(plain.text),
                }
            }
            render(&page, super::error_status(&error))
        }
    }
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage {
    layout: Layout,
    patient: PatientView,
    phone: String,
    duplicate_review: bool,
    care_reason: String,
    move_reason: String,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CardQuery {
    /// Set by the registration when its write opened a duplicate review.
    revision: String,
}

async fn card_page(
    app: &std::sync::Arc<crate::App>,
    ctx: &Ctx,
    id: &str,
    just_registered_review: bool,
) -> Result<CardPage, Response> {
    if ctx.session.is_none() {
        return Err(to_login(ctx));
    }
    let pid = id.to_string();
    let loaded = blocking(app, ctx, move |db| {
        let patient = data::read(db, "Patient", &pid)?;
        let abilities = data::abilities(db, &pid)?;
        let registered_at = data::registered_at(db, &patient);
        let reviews = match data::open_duplicate_reviews(db, &pid) {
            Ok(n) => n,
            // Reception may not read review tasks: the card says what it knows.
            Err(ehr::Error::Forbidden(_)) => 0,
            Err(error) => return Err(error),
        };
        // The allergy banner only for those who may read the record (never "none recorded"
        // to someone who cannot see them).
        let allergies = if abilities.read_record {
            data::allergies(db, &pid)?
        } else {
            Vec::new()
        };
        Ok((patient, abilities, registered_at, reviews, allergies))
    })
    .await;
    let (patient, abilities, registered_at, reviews, allergies) =
        loaded.map_err(|error| ehr_error(app, ctx, &error))?;
    let mut view = PatientView::new(
        &patient,
        &allergies,
        abilities,
        ctx.session.as_ref(),
        ctx.now_ms,
    );
    view.registered_at = registered_at;
    Ok(CardPage {
        layout: ctx.layout(app, "card.title"),
        phone: view.header.phone.clone().unwrap_or_default(),
        patient: view,
        duplicate_review: reviews > 0 || just_registered_review,
        care_reason: String::new(),
        move_reason: String::new(),
        errors: Vec::new(),
    })
}

/// # `GET /ui/pacientes/{id}/ficha`
///
/// The person as reception sees them: identity, registration, alerts, and the care events the
/// user may record. Clinicians with access find the chart linked from here.
pub async fn card(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(query): Query<CardQuery>,
) -> Response {
    match card_page(&app, &ctx, &id, query.revision == "1").await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(response) => response,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CareForm {
    reason: String,
}

/// The answer to a care event: the chart when the user may now open it, else the card; a
/// refused reason comes back on the card with what was typed.
async fn care_event(
    app: std::sync::Arc<crate::App>,
    ctx: Ctx,
    id: String,
    reason: String,
    moving: bool,
) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let (pid, typed) = (id.clone(), reason.clone());
    let done = blocking(&app, &ctx, move |db| {
        if moving {
            data::move_registration(db, &pid, &typed)?;
        } else {
            data::start_care(db, &pid, &typed)?;
        }
        data::abilities(db, &pid)
    })
    .await;
    let notice = if moving { "care.moved" } else { "care.started" };
    match done {
        Ok(abilities) if abilities.read_record => {
            see_other(&format!("/ui/pacientes/{id}?ok={notice}"))
        }
        Ok(_) => see_other(&format!("/ui/pacientes/{id}/ficha?ok={notice}")),
        Err(error) => match card_page(&app, &ctx, &id, false).await {
            Ok(mut page) => {
                page.errors = messages::general(ctx.tr, &error);
                if moving {
                    page.move_reason = reason;
                } else {
                    page.care_reason = reason;
                }
                render(&page, super::error_status(&error))
            }
            Err(response) => response,
        },
    }
}

/// # `POST /ui/pacientes/{id}/inicio-atencion`
pub async fn start_care(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CareForm>,
) -> Response {
    care_event(app, ctx, id, form.reason, false).await
}

/// # `POST /ui/pacientes/{id}/cambio-unidad`
pub async fn move_registration(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CareForm>,
) -> Response {
    care_event(app, ctx, id, form.reason, true).await
}
