//! The referral (NOM-004 *nota de referencia*) to another facility, its page, and the
//! counter-referral recorded when the patient comes back.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::consult::TextForm;
use super::{
    AppState, Ctx, Layout, OpenRecord, PatientView, blocking, ehr_error, ensure_subject,
    error_page, not_offered, open_record, render, see_other, to_json,
};
use crate::forms::{self, ReferForm};
use crate::session::SessionInfo;
use crate::{App, data, dates, messages};

/// Longest reason or treatment text of a referral.
pub const REFER_TEXT_CHARS_MAX: usize = 2_000;

/// Longest clinical summary of a referral.
pub const REFER_SUMMARY_CHARS_MAX: usize = 10_000;

/// Message key of a referral status.
pub fn referral_key(status: &str) -> &'static str {
    match status {
        "active" | "draft" | "on-hold" => "refer.status.active",
        "completed" => "refer.status.completed",
        "revoked" | "entered-in-error" => "refer.status.revoked",
        _ => "refer.status.other",
    }
}

pub fn referral_class(status: &str) -> &'static str {
    match status {
        "completed" => "ok",
        "revoked" | "entered-in-error" => "muted",
        _ => "warn",
    }
}

#[derive(Template)]
#[template(path = "refer.html")]
struct ReferPage {
    layout: Layout,
    patient: PatientView,
    from: String,
    facilities: Vec<data::Facility>,
    problems: Vec<(String, String)>,
    form: ReferForm,
    errors: Vec<String>,
}

async fn refer_page(
    app: &Arc<App>,
    ctx: &Ctx,
    session: &SessionInfo,
    view: PatientView,
    id: &str,
    form: ReferForm,
) -> Result<ReferPage, Response> {
    let (pid, own) = (id.to_string(), session.organization.clone());
    let loaded = blocking(app, ctx, move |db| {
        let mut problems: Vec<(String, String)> = Vec::new();
        for condition in data::conditions(db, &pid)? {
            let active = matches!(
                condition["clinicalStatus"]["coding"][0]["code"].as_str(),
                Some("active" | "recurrence" | "relapse")
            );
            let code = condition["code"]["coding"][0]["code"]
                .as_str()
                .unwrap_or_default();
            if active && !code.is_empty() && !problems.iter().any(|(c, _)| c == code) {
                let display = condition["code"]["text"]
                    .as_str()
                    .or_else(|| condition["code"]["coding"][0]["display"].as_str())
                    .unwrap_or_default();
                problems.push((code.to_string(), display.to_string()));
            }
        }
        let facilities: Vec<data::Facility> = data::all_facilities(db)?
            .into_iter()
            .filter(|f| Some(&f.reference) != own.as_ref())
            .collect();
        Ok((problems, facilities))
    })
    .await;
    let (problems, facilities) = loaded.map_err(|error| ehr_error(app, ctx, &error))?;
    Ok(ReferPage {
        layout: ctx.layout(app, "refer.title"),
        patient: view,
        from: format!("{} ({})", session.facility_name, session.facility_clues),
        facilities,
        problems,
        form,
        errors: Vec::new(),
    })
}

/// # `GET /ui/pacientes/{id}/referencia`
pub async fn refer_form(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let OpenRecord { session, view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !view.abilities.order {
        return not_offered(&app, &ctx, &id, "refer.not_offered");
    }
    match refer_page(&app, &ctx, &session, view, &id, ReferForm::default()).await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(response) => response,
    }
}

/// # `POST /ui/pacientes/{id}/referencia`
pub async fn refer(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<ReferForm>,
) -> Response {
    let OpenRecord { session, view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !view.abilities.order {
        return not_offered(&app, &ctx, &id, "refer.not_offered");
    }
    let mut page = match refer_page(&app, &ctx, &session, view, &id, form.clone()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let to = page
        .facilities
        .iter()
        .find(|f| f.reference == form.to)
        .cloned();
    let diagnosis = mexico::cie10::lookup_cie10(&form.dx_code);
    if to.is_none() {
        page.errors.push(ctx.tr.s("refer.to").to_string());
    }
    if form.reason.trim().is_empty() {
        page.errors.push(ctx.tr.s("refer.reason").to_string());
    }
    for (text, max) in [
        (&form.reason, REFER_TEXT_CHARS_MAX),
        (&form.treatment, REFER_TEXT_CHARS_MAX),
        (&form.summary, REFER_SUMMARY_CHARS_MAX),
    ] {
        if text.chars().count() > max {
            page.errors
                .push(format!("{} ({max})", ctx.tr.s("form.too_long")));
        }
    }
    if !form.dx_code.trim().is_empty() && diagnosis.is_none() {
        page.errors.push(ctx.tr.s("cie.unknown").to_string());
    }
    let due_days = forms::due_days(&form.due_days);
    if due_days.is_none() {
        page.errors.push(ctx.tr.s("refer.due_days").to_string());
    }
    let (Some(to), Some(due_days)) = (to.filter(|_| page.errors.is_empty()), due_days) else {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    let now = dates::instant_mexico(ctx.now_ms);
    let due = dates::instant_mexico(ctx.now_ms.saturating_add(due_days * 86_400_000));
    let request = forms::referral(&forms::ReferInput {
        patient_id: &id,
        form: &form,
        to_name: &to.name,
        to_clues: &to.clues,
        diagnosis: diagnosis.map(|e| (e.code, e.description)),
        session: &session,
        now: &now,
    });
    // The ServiceRequest (the NOM-004 note) and the Task that carries it to the receiving
    // facility are one transaction: a referral is never half sent.
    let focus = "urn:uuid:5e3b8f0a-0000-4000-8000-000000000001";
    let task = forms::referral_task(&forms::ReferralTaskInput {
        patient_id: &id,
        focus,
        to: &to.reference,
        to_name: &to.name,
        to_clues: &to.clues,
        description: format!("Referencia a {}: {}", to.name, form.reason.trim()),
        session: &session,
        now: &now,
        due: &due,
    });
    let bundle = serde_json::json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": focus, "resource": request, "request": {"method": "POST", "url": "ServiceRequest"}},
            {"resource": task, "request": {"method": "POST", "url": "Task"}}
        ]
    });
    match blocking(&app, &ctx, move |db| {
        data::transaction(db, &to_json(&bundle))
    })
    .await
    {
        Ok(_) => see_other(&format!("/ui/pacientes/{id}?ok=refer.saved#referencias")),
        Err(error) => {
            page.errors.extend(messages::general(ctx.tr, &error));
            render(&page, super::error_status(&error))
        }
    }
}

#[derive(Template)]
#[template(path = "referral.html")]
struct ReferralPage {
    layout: Layout,
    patient: PatientView,
    request_id: String,
    status: String,
    authored: String,
    to: String,
    reason: String,
    notes: Vec<String>,
}

/// # `GET /ui/pacientes/{id}/referencias/{request}`
pub async fn referral(
    State(app): AppState,
    ctx: Ctx,
    Path((id, request_id)): Path<(String, String)>,
) -> Response {
    let OpenRecord { view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let rid = request_id.clone();
    let request = match blocking(&app, &ctx, move |db| data::read(db, "ServiceRequest", &rid)).await
    {
        Ok(request) => request,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    if request["subject"]["reference"] != format!("Patient/{id}").as_str() {
        return error_page(
            &app,
            &ctx,
            StatusCode::NOT_FOUND,
            vec![ctx.tr.s("error.not_found").to_string()],
        );
    }
    render(
        &ReferralPage {
            layout: ctx.layout(&app, "refer.title"),
            patient: view,
            request_id,
            status: request["status"].as_str().unwrap_or_default().to_string(),
            authored: request["authoredOn"]
                .as_str()
                .map(dates::display_text)
                .unwrap_or_default(),
            to: request["performer"][0]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            reason: request["reasonCode"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            notes: request["note"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["text"].as_str().map(str::to_string))
                .collect(),
        },
        StatusCode::OK,
    )
}

/// # `POST /ui/pacientes/{id}/referencias/{request}` (counter-referral received)
pub async fn counter_referral(
    State(app): AppState,
    ctx: Ctx,
    Path((id, request_id)): Path<(String, String)>,
    axum::Form(form): axum::Form<TextForm>,
) -> Response {
    let OpenRecord { session, view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !view.abilities.order {
        return not_offered(&app, &ctx, &id, "refer.not_offered");
    }
    let now = dates::instant_mexico(ctx.now_ms);
    let text: String = form
        .text
        .trim()
        .chars()
        .take(super::consult::ADDENDUM_CHARS_MAX)
        .collect();
    let (rid, pid) = (request_id.clone(), id.clone());
    let written = blocking(&app, &ctx, move |db| {
        let mut request = data::read(db, "ServiceRequest", &rid)?;
        ensure_subject(&request, &pid)?;
        let version = data::version_of(&request);
        request["status"] = Value::String("completed".to_string());
        let note = serde_json::json!({
            "authorString": format!("{} — {}", session.display_name, session.facility_name),
            "time": now.clone(),
            "text": format!("Contrarreferencia: {text}")
        });
        match request["note"].as_array_mut() {
            Some(notes) => notes.push(note),
            None => request["note"] = Value::Array(vec![note]),
        }
        data::update(db, "ServiceRequest", &rid, to_json(&request), version)?;
        // The referral's Task ends with it: both facilities' lists then say "counter-referral
        // received".
        for mut task in data::referral_tasks(db, &rid)? {
            let status = task["status"].as_str().unwrap_or_default();
            if matches!(
                status,
                "completed" | "rejected" | "cancelled" | "entered-in-error"
            ) {
                continue;
            }
            let task_id = task["id"].as_str().unwrap_or_default().to_string();
            let task_version = data::version_of(&task);
            task["status"] = Value::String("completed".to_string());
            task["lastModified"] = Value::String(now.clone());
            data::update(db, "Task", &task_id, to_json(&task), task_version)?;
        }
        Ok(())
    })
    .await;
    match written {
        Ok(()) => see_other(&format!(
            "/ui/pacientes/{id}/referencias/{request_id}?ok=refer.counter_saved"
        )),
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}
