//! Referrals that arrive (issue 17): the facility's inbox of referrals addressed to it (accept,
//! reject with a reason, book, record the visit) and its outbox of referrals sent, with each
//! one's state as the receiving facility moves it: sent → accepted → booked → attended →
//! counter-referral received, or rejected; one not attended by its stated date is flagged
//! overdue to the sender.
//!
//! The state lives in the referral's `Task` (`status`, `businessStatus` "agendada" once an
//! Appointment is booked for it, `statusReason` of a rejection, `restriction.period.end` the
//! date to attend by); both sides read and write it through `data.rs` as the signed-in user,
//! so the read and write guards decide (the receiving facility's care relationship is the
//! referral itself) and every access is audited. Sync carries the Task both ways.
//!
//! TODO(issue 17, Subscriptions): the inbox is read when the page is opened; once the
//! Subscriptions work lands, a `Task?owner:identifier=…` subscription can tell the facility
//! at once (this page needs no change for it).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{AppState, Ctx, Layout, blocking, ehr_error, error_page, render, see_other, to_login};
use crate::referral::referral_state;
use crate::{data, dates};

/// Longest rejection reason.
pub const REJECT_REASON_CHARS_MAX: usize = 1_000;

/// One referral in the inbox or the outbox.
pub struct ReferralRow {
    pub task_id: String,
    pub patient_id: String,
    pub patient: String,
    /// The other facility: the sender in the inbox, the receiver in the outbox.
    pub facility: String,
    pub reason: String,
    pub sent: String,
    pub due: String,
    /// The state in the page's language.
    pub state_label: &'static str,
    /// `requested`, `accepted`, `booked`, … (for tests and styling).
    pub state: &'static str,
    pub overdue: bool,
    pub rejection: String,
    /// The ServiceRequest's id (the referral note, where the counter-referral is recorded).
    pub request_id: String,
    pub can_decide: bool,
    pub can_book: bool,
    pub can_attend: bool,
    /// The sender may withdraw a referral not attended yet.
    pub can_cancel: bool,
}

fn row(
    tr: crate::i18n::Tr,
    task: &Value,
    inbox: bool,
    names: &std::collections::HashMap<String, String>,
    now_ms: i64,
) -> ReferralRow {
    let (state_key, overdue) = referral_state(task, now_ms);
    let status = task["status"].as_str().unwrap_or_default();
    let patient_ref = task["for"]["reference"].as_str().unwrap_or_default();
    let side = if inbox { "requester" } else { "owner" };
    let booked = state_key == "referrals.state.booked";
    ReferralRow {
        task_id: task["id"].as_str().unwrap_or_default().to_string(),
        patient_id: patient_ref
            .strip_prefix("Patient/")
            .unwrap_or_default()
            .to_string(),
        patient: names
            .get(patient_ref)
            .cloned()
            .unwrap_or_else(|| patient_ref.to_string()),
        facility: task[side]["display"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        reason: task["description"].as_str().unwrap_or_default().to_string(),
        sent: task["authoredOn"]
            .as_str()
            .map(dates::display_text)
            .unwrap_or_default(),
        due: task["restriction"]["period"]["end"]
            .as_str()
            .map(dates::display_text)
            .unwrap_or_default(),
        state_label: tr.s(state_key),
        state: crate::referral::state_slug(state_key),
        overdue,
        rejection: task["statusReason"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        request_id: task["focus"]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("ServiceRequest/"))
            .unwrap_or_default()
            .to_string(),
        can_decide: inbox && matches!(status, "requested" | "received" | "ready" | "draft"),
        can_book: inbox && status == "accepted" && !booked,
        can_attend: inbox && status == "accepted",
        can_cancel: !inbox && matches!(status, "requested" | "received" | "ready" | "accepted"),
    }
}

#[derive(Template)]
#[template(path = "referrals.html")]
struct ReferralsPage {
    layout: Layout,
    facility: String,
    inbox: Vec<ReferralRow>,
    outbox: Vec<ReferralRow>,
    errors: Vec<String>,
}

fn newest_first(tasks: &mut [Value]) {
    tasks.sort_by(|a, b| {
        let at = |t: &Value| t["authoredOn"].as_str().and_then(ehr::parse_instant_ms);
        at(b).cmp(&at(a))
    });
}

async fn referrals_page(
    app: &std::sync::Arc<crate::App>,
    ctx: &Ctx,
) -> Result<ReferralsPage, Response> {
    let Some(session) = ctx.session.clone() else {
        return Err(to_login(ctx));
    };
    if session.facility_clues.is_empty() {
        return Err(error_page(
            app,
            ctx,
            StatusCode::FORBIDDEN,
            vec![ctx.tr.s("queue.staff_only").to_string()],
        ));
    }
    let (clues, organization) = (session.facility_clues.clone(), session.organization.clone());
    let loaded = blocking(app, ctx, move |db| {
        let mut inbox = data::referrals_to(db, &clues)?;
        let mut outbox = match &organization {
            Some(organization) => data::referrals_from(db, organization)?,
            None => Vec::new(),
        };
        newest_first(&mut inbox);
        newest_first(&mut outbox);
        let patients: Vec<String> = inbox
            .iter()
            .chain(outbox.iter())
            .filter_map(|t| t["for"]["reference"].as_str().map(str::to_string))
            .collect();
        let names = data::names_of(db, &patients);
        Ok((inbox, outbox, names))
    })
    .await;
    let (inbox, outbox, names) = loaded.map_err(|error| ehr_error(app, ctx, &error))?;
    Ok(ReferralsPage {
        layout: ctx.layout(app, "referrals.title"),
        facility: format!("{} ({})", session.facility_name, session.facility_clues),
        inbox: inbox
            .iter()
            .map(|t| row(ctx.tr, t, true, &names, ctx.now_ms))
            .collect(),
        outbox: outbox
            .iter()
            .map(|t| row(ctx.tr, t, false, &names, ctx.now_ms))
            .collect(),
        errors: Vec::new(),
    })
}

/// # `GET /ui/referencias`: the inbox and the outbox of the user's facility.
pub async fn page(State(app): AppState, ctx: Ctx) -> Response {
    match referrals_page(&app, &ctx).await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(response) => response,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DecisionForm {
    /// `aceptar`, `rechazar` or `atendida` (the receiving facility), `cancelar` (the sender).
    accion: String,
    /// The reason of a rejection (required for it).
    motivo: String,
}

/// # `POST /ui/referencias/{task}`: accept, reject (with a reason) or record the visit; the
/// sender's withdrawal.
pub async fn decide(
    State(app): AppState,
    ctx: Ctx,
    Path(task_id): Path<String>,
    axum::Form(form): axum::Form<DecisionForm>,
) -> Response {
    let Some(session) = ctx.session.clone() else {
        return to_login(&ctx);
    };
    let reason: String = form
        .motivo
        .trim()
        .chars()
        .take(REJECT_REASON_CHARS_MAX)
        .collect();
    let (status, error_key) = match form.accion.as_str() {
        "aceptar" => ("accepted", None),
        "rechazar" if reason.is_empty() => ("rejected", Some("referrals.reason_needed")),
        "rechazar" => ("rejected", None),
        "atendida" => ("in-progress", None),
        "cancelar" => ("cancelled", None),
        _ => ("", Some("referrals.unknown_action")),
    };
    if let Some(key) = error_key {
        return match referrals_page(&app, &ctx).await {
            Ok(mut page) => {
                page.errors.push(ctx.tr.s(key).to_string());
                render(&page, StatusCode::UNPROCESSABLE_ENTITY)
            }
            Err(response) => response,
        };
    }
    let now = dates::instant_mexico(ctx.now_ms);
    let clues = session.facility_clues.clone();
    let written = blocking(&app, &ctx, move |db| {
        let mut task = data::read(db, "Task", &task_id)?;
        // Only the facility the referral is addressed to moves it from here; only the sender
        // withdraws it.
        let side = if status == "cancelled" {
            "requester"
        } else {
            "owner"
        };
        if task[side]["identifier"]["value"].as_str() != Some(clues.as_str()) {
            return Err(ehr::Error::NotFound(fhir::Issue::error(
                fhir::IssueCode::NotFound,
                "La referencia no está dirigida a esta unidad",
                "The referral is not addressed to this facility",
            )));
        }
        let version = data::version_of(&task);
        task["status"] = Value::String(status.to_string());
        task["lastModified"] = Value::String(now.clone());
        if status == "rejected" {
            task["statusReason"] = serde_json::json!({"text": reason.clone()});
        }
        data::update(db, "Task", &task_id, super::to_json(&task), version)
    })
    .await;
    match written {
        Ok(()) => see_other("/ui/referencias?ok=referrals.saved"),
        // Refused (changed meanwhile, no longer allowed): the lists again, with the reason in
        // plain words.
        Err(error) => match referrals_page(&app, &ctx).await {
            Ok(mut page) => {
                page.errors.extend(crate::messages::general(ctx.tr, &error));
                render(&page, super::error_status(&error))
            }
            Err(response) => response,
        },
    }
}
