//! The medication screen: the reconciled list (one line per drug) with what the prescriber may
//! do to each — stop, suspend, resume — with the reason, and the history of ended drugs.
//!
//! A stop or a suspension changes every request of the drug in force (a drug renewed three
//! times has three active requests) in one transaction: `MedicationRequest.status` and
//! `statusReason`, each request keeping its earlier version in history. A change of drug or
//! dose is a new prescription in a consultation, which renews (stops) the current one.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState, Ctx, Layout, OpenRecord, PatientView, blocking, ehr_error, not_offered, open_record,
    render, see_other, to_json,
};
use crate::meds::{self, MedList};
use crate::{data, messages};

/// Longest reason for a stop or a suspension.
pub const REASON_CHARS_MAX: usize = 300;

/// Shortest reason accepted (a reviewer must understand it).
pub const REASON_CHARS_MIN: usize = 4;

#[derive(Template)]
#[template(path = "medications.html")]
struct MedicationsPage {
    layout: Layout,
    patient: PatientView,
    list: MedList,
    errors: Vec<String>,
}

/// # `GET /ui/pacientes/{id}/medicamentos`
pub async fn medications_page(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let pid = id.clone();
    match blocking(&app, &ctx, move |db| data::medication_requests(db, &pid)).await {
        Ok(requests) => render(
            &MedicationsPage {
                layout: ctx.layout(&app, "medications"),
                patient: open.view,
                list: meds::reconcile(&requests, ctx.today()),
                errors: Vec::new(),
            },
            StatusCode::OK,
        ),
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MedicationForm {
    /// The drug's identity (`meds::drug_of`).
    drug: String,
    /// `stopped`, `on-hold` or `active` (resume).
    status: String,
    reason: String,
}

/// # `POST /ui/pacientes/{id}/medicamentos`
pub async fn medications(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<MedicationForm>,
) -> Response {
    let OpenRecord { view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !view.abilities.prescribe {
        return not_offered(&app, &ctx, &id, "meds.not_offered");
    }
    let pid = id.clone();
    let requests = match blocking(&app, &ctx, move |db| data::medication_requests(db, &pid)).await {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let list = meds::reconcile(&requests, ctx.today());
    let mut page = MedicationsPage {
        layout: ctx.layout(&app, "medications"),
        patient: view,
        list,
        errors: Vec::new(),
    };
    let reason = form.reason.trim();
    let status = match form.status.as_str() {
        "stopped" | "on-hold" | "active" => form.status.as_str(),
        _ => {
            page.errors.push(ctx.tr.s("meds.pick_action").to_string());
            ""
        }
    };
    if status != "active"
        && (reason.chars().count() < REASON_CHARS_MIN || reason.chars().count() > REASON_CHARS_MAX)
    {
        page.errors
            .push(ctx.tr.s("meds.reason_required").to_string());
    }
    let Some(line) = page.list.find(&form.drug).cloned() else {
        page.errors.push(ctx.tr.s("error.not_found").to_string());
        return render(&page, StatusCode::NOT_FOUND);
    };
    if !page.errors.is_empty() {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Stop and suspend change what is in force; resume changes what is suspended.
    let from: &[&str] = match status {
        "active" => &["on-hold"],
        "on-hold" => &["active"],
        _ => &["active", "on-hold"],
    };
    let entries: Vec<Value> = requests
        .iter()
        .filter(|r| {
            r["id"]
                .as_str()
                .is_some_and(|rid| line.open_request_ids.iter().any(|o| o == rid))
        })
        .filter(|r| from.contains(&r["status"].as_str().unwrap_or("active")))
        .filter_map(|r| {
            let rid = r["id"].as_str()?;
            let mut changed = r.clone();
            if let Some(object) = changed.as_object_mut() {
                object.remove("meta");
            }
            changed["status"] = json!(status);
            if status == "active" {
                if let Some(object) = changed.as_object_mut() {
                    object.remove("statusReason");
                }
            } else {
                changed["statusReason"] = json!({"text": reason});
            }
            let mut request = json!({"method": "PUT", "url": format!("MedicationRequest/{rid}")});
            if let Some(version) = data::version_of(r) {
                request["ifMatch"] = json!(format!("W/\"{version}\""));
            }
            Some(json!({"fullUrl": format!("MedicationRequest/{rid}"), "resource": changed, "request": request}))
        })
        .collect();
    if entries.is_empty() {
        return see_other(&format!("/ui/pacientes/{id}/medicamentos"));
    }
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    match blocking(&app, &ctx, move |db| {
        data::transaction(db, &to_json(&bundle))
    })
    .await
    {
        Ok(_) => see_other(&format!("/ui/pacientes/{id}/medicamentos?ok=meds.saved")),
        Err(error) => {
            page.errors.extend(messages::general(ctx.tr, &error));
            render(&page, super::error_status(&error))
        }
    }
}
