//! Access to a record without a care relationship: the break-glass dialog (which patient, why,
//! the reason kept when refused), the care events offered beside it, and the patient's access
//! log.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{AppState, Ctx, Layout, PatientView, open_record, render, see_other, to_login};
use crate::session;

#[derive(Template)]
#[template(path = "break_glass.html")]
struct BreakGlassPage {
    layout: Layout,
    patient: PatientView,
    /// The reason as typed (kept when refused).
    reason: String,
    errors: Vec<String>,
    care_reason: String,
    move_reason: String,
}

/// The break-glass dialog for a patient: who it is (demographics only, no allergy banner: the
/// record is not open yet), the reason field, and the care events the user may record instead.
pub(crate) fn break_glass_page(
    app: &crate::App,
    ctx: &Ctx,
    patient: &Value,
    abilities: ehr::RecordAbilities,
    registered_at: String,
    reason: String,
    errors: Vec<String>,
) -> Response {
    // The dialog itself answers 403 (the record is closed); a refused reason, 422.
    let status = if errors.is_empty() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut view = PatientView::new(patient, &[], abilities, ctx.session.as_ref(), ctx.now_ms);
    view.registered_at = registered_at;
    render(
        &BreakGlassPage {
            layout: ctx.layout(app, "bg.title"),
            patient: view,
            reason,
            errors,
            care_reason: String::new(),
            move_reason: String::new(),
        },
        status,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReasonForm {
    reason: String,
}

/// # `POST /ui/pacientes/{id}/acceso-emergencia`
pub async fn break_glass(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ReasonForm>,
) -> Response {
    let Some(session) = ctx.session.clone() else {
        return to_login(&ctx);
    };
    let refused = if form.reason.trim().is_empty() {
        Some(ctx.tr.s("bg.reason.required").to_string())
    } else {
        app.sessions
            .break_glass(&session, &id, form.reason.trim(), ctx.now_ms)
            .err()
            .map(|error| {
                ctx.tr
                    .pick(&error.message_es, &error.message_en)
                    .to_string()
            })
    };
    let Some(message) = refused else {
        return see_other(&format!("/ui/pacientes/{id}"));
    };
    // Refused: the dialog again, naming the patient, with the reason as typed.
    let pid = id.clone();
    let loaded = super::blocking(&app, &ctx, move |db| {
        let patient = crate::data::read(db, "Patient", &pid)?;
        let abilities = crate::data::abilities(db, &pid)?;
        let registered_at = crate::data::registered_at(db, &patient);
        Ok((patient, abilities, registered_at))
    })
    .await;
    match loaded {
        Ok((patient, abilities, registered_at)) => break_glass_page(
            &app,
            &ctx,
            &patient,
            abilities,
            registered_at,
            form.reason,
            vec![message],
        ),
        Err(error) => super::ehr_error(&app, &ctx, &error),
    }
}

#[derive(Template)]
#[template(path = "access_log.html")]
struct AccessLogPage {
    layout: Layout,
    patient: PatientView,
    entries: Vec<session::AccessLogEntry>,
}

/// # `GET /ui/pacientes/{id}/bitacora`
pub async fn access_log(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let entries = app.sessions.access_log(&open.session, &id);
    render(
        &AccessLogPage {
            layout: ctx.layout(&app, "access.log"),
            patient: open.view,
            entries,
        },
        StatusCode::OK,
    )
}
