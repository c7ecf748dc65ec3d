//! The patient's own page (issue 17): their appointments and the referrals made for them,
//! with each referral's state as the receiving facility moves it. Read as the patient, so
//! the read guard keeps it to their own record and every access is audited like any other.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{AppState, Ctx, Layout, blocking, ehr_error, error_page, render, to_login};
use crate::referral::referral_state;
use crate::{data, dates};

/// One appointment as the patient sees it.
pub struct AppointmentRow {
    pub id: String,
    pub when: String,
    /// `booked`, `cancelled`, … (for tests and styling).
    pub status: String,
    pub status_label: &'static str,
    pub what: String,
    pub upcoming: bool,
}

/// One referral as the patient sees it.
pub struct ReferralRow {
    pub task_id: String,
    pub to: String,
    pub reason: String,
    pub sent: String,
    pub state: &'static str,
    pub state_label: &'static str,
}

#[derive(Template)]
#[template(path = "mine.html")]
struct MinePage {
    layout: Layout,
    appointments: Vec<AppointmentRow>,
    referrals: Vec<ReferralRow>,
}

fn status_key(status: &str) -> &'static str {
    match status {
        "booked" => "mine.status.booked",
        "arrived" | "checked-in" => "mine.status.arrived",
        "fulfilled" => "mine.status.fulfilled",
        "cancelled" => "mine.status.cancelled",
        "noshow" => "mine.status.noshow",
        _ => "mine.status.other",
    }
}

fn appointment_row(tr: crate::i18n::Tr, appointment: &Value, now_ms: i64) -> AppointmentRow {
    let start = appointment["start"].as_str().unwrap_or_default();
    let start_ms = ehr::parse_instant_ms(start);
    let status = appointment["status"].as_str().unwrap_or_default();
    let what = appointment["description"]
        .as_str()
        .or_else(|| appointment["serviceType"][0]["text"].as_str())
        .or_else(|| appointment["appointmentType"]["text"].as_str())
        .unwrap_or_default()
        .to_string();
    AppointmentRow {
        id: appointment["id"].as_str().unwrap_or_default().to_string(),
        when: start_ms.map(dates::display_instant).unwrap_or_default(),
        status: status.to_string(),
        status_label: tr.s(status_key(status)),
        what,
        upcoming: status == "booked" && start_ms.is_some_and(|ms| ms >= now_ms),
    }
}

fn referral_row(tr: crate::i18n::Tr, task: &Value, now_ms: i64) -> ReferralRow {
    let (state_key, _) = referral_state(task, now_ms);
    ReferralRow {
        task_id: task["id"].as_str().unwrap_or_default().to_string(),
        to: task["owner"]["display"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        reason: task["description"].as_str().unwrap_or_default().to_string(),
        sent: task["authoredOn"]
            .as_str()
            .map(dates::display_text)
            .unwrap_or_default(),
        state: crate::referral::state_slug(state_key),
        state_label: tr.s(state_key),
    }
}

/// # `GET /ui/mis-citas`: the signed-in patient's appointments and referrals.
pub async fn page(State(app): AppState, ctx: Ctx) -> Response {
    let Some(session) = ctx.session.clone() else {
        return to_login(&ctx);
    };
    let Some(patient_id) = session.requester.principal.patient_id.clone() else {
        // Staff have the agenda and the referral inbox; this page is the patient's.
        return error_page(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            vec![ctx.tr.s("mine.patients_only").to_string()],
        );
    };
    let loaded = blocking(&app, &ctx, move |db| {
        let appointments = data::own_appointments(db, &patient_id)?;
        let mut referrals = data::own_referrals(db, &patient_id)?;
        referrals.sort_by(|a, b| {
            let at = |t: &Value| t["authoredOn"].as_str().and_then(ehr::parse_instant_ms);
            at(b).cmp(&at(a))
        });
        Ok((appointments, referrals))
    })
    .await;
    let (appointments, referrals) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    render(
        &MinePage {
            layout: ctx.layout(&app, "mine.title"),
            appointments: appointments
                .iter()
                .map(|a| appointment_row(ctx.tr, a, ctx.now_ms))
                .collect(),
            referrals: referrals
                .iter()
                .map(|t| referral_row(ctx.tr, t, ctx.now_ms))
                .collect(),
        },
        StatusCode::OK,
    )
}
