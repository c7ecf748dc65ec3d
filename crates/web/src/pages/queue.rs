//! The day's queue and agenda (issue 17): the reception desk's day view (today's agenda by
//! practitioner with a check-in button, walk-ins from the patient's card), the nurse's triage
//! list, the physician's "siguiente paciente" button (which opens the chart), and the
//! waiting-room screen `/ui/sala` (no sign-in, for a TV: turn numbers and minutes only).
//!
//! Every screen works without JavaScript. The waiting room refreshes itself with
//! `<meta http-equiv="refresh">` every [`SALA_REFRESH_S`] seconds: one small gzip'd page per
//! update (its size is measured by `expediente bench` — see BENCHMARKS.md), no script, and it
//! keeps working on any TV browser.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::{AppState, Ctx, Layout, blocking, ehr_error, error_page, render, see_other, to_login};
use crate::data;

/// Seconds between two refreshes of the waiting-room screen.
pub const SALA_REFRESH_S: u32 = 15;

/// One appointment on the day's agenda.
pub struct AgendaRow {
    pub id: String,
    pub time: String,
    pub patient_id: String,
    pub patient: String,
    pub status: String,
    /// The FHIR status (`booked`, `cancelled`, `noshow`, …), for the row's `data-status`.
    pub status_code: String,
    /// Booked and not arrived yet: check-in, cancel and no-show are offered.
    pub can_check_in: bool,
    /// Booked at another node in a slot an earlier booking keeps: to reschedule.
    pub double_booked: bool,
}

/// One appointment to reschedule: booked at another node in a slot an earlier booking keeps.
pub struct DoubleBookingRow {
    pub appointment_id: String,
    /// `YYYY-MM-DD HH:MM` as written (local to the clinic).
    pub when: String,
    pub patient_id: String,
    pub patient: String,
}

/// One visit of today's queue.
pub struct VisitRow {
    pub encounter_id: String,
    pub turn: u32,
    pub patient_id: String,
    pub patient: String,
    pub state: &'static str,
    pub priority: &'static str,
    pub priority_code: &'static str,
    pub arrived: String,
    pub waiting: bool,
    pub in_consultation: bool,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    layout: Layout,
    facility: String,
    clues: String,
    physician: bool,
    agenda: Vec<(String, Vec<AgendaRow>)>,
    visits: Vec<VisitRow>,
    double_bookings: Vec<DoubleBookingRow>,
    errors: Vec<String>,
}

fn hh_mm(ms: i64) -> String {
    crate::dates::display_instant(ms)
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `HH:MM` of a FHIR dateTime as written (local to the clinic).
fn time_of(text: &str) -> String {
    text.split_once('T')
        .map(|(_, t)| t.chars().take(5).collect())
        .unwrap_or_default()
}

async fn queue_page(app: &std::sync::Arc<crate::App>, ctx: &Ctx) -> Result<QueuePage, Response> {
    let Some(session) = &ctx.session else {
        return Err(to_login(ctx));
    };
    if !session.requester.role().requires_clues() || session.facility_clues.is_empty() {
        return Err(error_page(
            app,
            ctx,
            StatusCode::FORBIDDEN,
            vec![ctx.tr.s("queue.staff_only").to_string()],
        ));
    }
    let today = ctx.today();
    let from = format!("{}T00:00:00-06:00", crate::dates::iso(today));
    let to = format!("{}T00:00:00-06:00", crate::dates::iso(today + 1));
    let loaded = blocking(app, ctx, move |db| {
        let visits = data::todays_visits(db)?;
        let appointments = data::appointments_between(db, &from, &to)?;
        let double_bookings = data::double_booked_appointments(db)?;
        let mut references: Vec<String> = visits
            .iter()
            .filter_map(|v| v.patient_id.as_ref().map(|p| format!("Patient/{p}")))
            .collect();
        for appointment in appointments.iter().chain(&double_bookings) {
            for participant in appointment["participant"].as_array().into_iter().flatten() {
                if let Some(reference) = participant["actor"]["reference"].as_str() {
                    references.push(reference.to_string());
                }
            }
        }
        let names = data::names_of(db, &references);
        Ok((visits, appointments, double_bookings, names))
    })
    .await;
    let (visits, appointments, double_bookings, names) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => return Err(ehr_error(app, ctx, &error)),
    };
    let name = |reference: &str, display: &Value| -> String {
        names
            .get(reference)
            .cloned()
            .or_else(|| display.as_str().map(str::to_string))
            .unwrap_or_else(|| reference.to_string())
    };
    let tr = ctx.tr;
    let mut agenda: BTreeMap<String, Vec<AgendaRow>> = BTreeMap::new();
    for appointment in &appointments {
        let mut patient = (String::new(), String::new());
        let mut provider = tr.s("queue.no_practitioner").to_string();
        for participant in appointment["participant"].as_array().into_iter().flatten() {
            let actor = &participant["actor"];
            let Some(reference) = actor["reference"].as_str() else {
                continue;
            };
            if let Some(id) = reference.strip_prefix("Patient/") {
                patient = (id.to_string(), name(reference, &actor["display"]));
            } else if reference.starts_with("Practitioner/") {
                provider = name(reference, &actor["display"]);
            }
        }
        let status = appointment["status"].as_str().unwrap_or_default();
        agenda.entry(provider).or_default().push(AgendaRow {
            id: appointment["id"].as_str().unwrap_or_default().to_string(),
            time: appointment["start"]
                .as_str()
                .map(time_of)
                .unwrap_or_default(),
            patient_id: patient.0,
            patient: patient.1,
            status: appointment_status(tr, status),
            status_code: status.to_string(),
            can_check_in: matches!(status, "booked" | "pending" | "proposed"),
            double_booked: fhir::json::parse_str(&appointment.to_string())
                .is_ok_and(|a| ehr::is_double_booked(&a)),
        });
    }
    let double_bookings = double_bookings
        .iter()
        .map(|appointment| {
            let patient = appointment["participant"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| &p["actor"])
                .find(|a| {
                    a["reference"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("Patient/"))
                });
            let reference = patient
                .and_then(|a| a["reference"].as_str())
                .unwrap_or_default();
            let start = appointment["start"].as_str().unwrap_or_default();
            DoubleBookingRow {
                appointment_id: appointment["id"].as_str().unwrap_or_default().to_string(),
                when: format!(
                    "{} {}",
                    start.split('T').next().unwrap_or_default(),
                    time_of(start)
                ),
                patient_id: reference
                    .strip_prefix("Patient/")
                    .unwrap_or_default()
                    .to_string(),
                patient: patient.map_or_else(String::new, |a| name(reference, &a["display"])),
            }
        })
        .collect();
    let rows = visits
        .iter()
        .map(|visit| {
            let patient_id = visit.patient_id.clone().unwrap_or_default();
            let (priority, priority_code) = match visit.priority {
                Some(ehr::Priority::Emergency) => (tr.s("queue.priority_em"), "EM"),
                Some(ehr::Priority::Urgent) => (tr.s("queue.priority_ur"), "UR"),
                Some(ehr::Priority::Routine) => (tr.s("queue.priority_r"), "R"),
                None => ("—", ""),
            };
            VisitRow {
                encounter_id: visit.encounter_id.clone(),
                turn: visit.turn,
                patient: name(&format!("Patient/{patient_id}"), &Value::Null),
                patient_id,
                state: match visit.state {
                    ehr::VisitState::Waiting => tr.s("queue.state_waiting"),
                    ehr::VisitState::Triaged => tr.s("queue.state_triaged"),
                    ehr::VisitState::InConsultation => tr.s("queue.state_called"),
                    ehr::VisitState::Finished => tr.s("queue.state_finished"),
                },
                priority,
                priority_code,
                arrived: hh_mm(visit.arrived_ms),
                waiting: matches!(
                    visit.state,
                    ehr::VisitState::Waiting | ehr::VisitState::Triaged
                ),
                in_consultation: visit.state == ehr::VisitState::InConsultation,
            }
        })
        .collect();
    Ok(QueuePage {
        layout: ctx.layout(app, "queue.title"),
        facility: format!("{} ({})", session.facility_name, session.facility_clues),
        clues: session.facility_clues.clone(),
        physician: session.requester.role() == auth::role::Role::Physician,
        agenda: agenda.into_iter().collect(),
        visits: rows,
        double_bookings,
        errors: Vec::new(),
    })
}

fn appointment_status(tr: crate::i18n::Tr, status: &str) -> String {
    let key = match status {
        "booked" => "queue.appt_booked",
        "arrived" | "checked-in" => "queue.appt_arrived",
        "fulfilled" => "queue.appt_fulfilled",
        "cancelled" => "queue.appt_cancelled",
        "noshow" => "queue.appt_noshow",
        _ => return status.to_string(),
    };
    tr.s(key).to_string()
}

/// # `GET /ui/fila`
pub async fn page(State(app): AppState, ctx: Ctx) -> Response {
    match queue_page(&app, &ctx).await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(response) => response,
    }
}

/// Renders the queue again with the reasons a step was refused.
async fn refused(app: &std::sync::Arc<crate::App>, ctx: &Ctx, error: &ehr::Error) -> Response {
    match queue_page(app, ctx).await {
        Ok(mut page) => {
            page.errors = crate::messages::general(ctx.tr, error);
            render(&page, super::error_status(error))
        }
        Err(response) => response,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CheckInForm {
    cita: String,
    paciente: String,
}

/// # `POST /ui/fila/llegada` (from the agenda: `cita`; a walk-in from the card: `paciente`)
pub async fn check_in(
    State(app): AppState,
    ctx: Ctx,
    axum::Form(form): axum::Form<CheckInForm>,
) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let (cita, paciente) = (
        form.cita.trim().to_string(),
        form.paciente.trim().to_string(),
    );
    let done = blocking(&app, &ctx, move |db| {
        data::check_in(
            db,
            Some(cita.as_str()).filter(|c| !c.is_empty()),
            Some(paciente.as_str()).filter(|p| !p.is_empty()),
        )
    })
    .await;
    match done {
        Ok(()) => see_other("/ui/fila?ok=queue.checked_in"),
        Err(error) => refused(&app, &ctx, &error).await,
    }
}

/// # `POST /ui/fila/siguiente`: opens the chart of the patient called.
pub async fn call_next(State(app): AppState, ctx: Ctx) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    match blocking(&app, &ctx, data::call_next).await {
        Ok(Some(patient_id)) => see_other(&format!("/ui/pacientes/{patient_id}")),
        Ok(None) => see_other("/ui/fila?ok=queue.nobody"),
        Err(error) => refused(&app, &ctx, &error).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct VisitForm {
    /// `triage` or `terminar`.
    accion: String,
    prioridad: String,
}

/// # `POST /ui/fila/{encounter}` (`accion=triage` with `prioridad`, or `accion=terminar`)
pub async fn visit_step(
    State(app): AppState,
    ctx: Ctx,
    Path(encounter): Path<String>,
    axum::Form(form): axum::Form<VisitForm>,
) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let done = match form.accion.as_str() {
        "triage" => {
            let Some(priority) = ehr::Priority::parse(&form.prioridad) else {
                let error = ehr::Error::BadRequest(vec![fhir::Issue::error(
                    fhir::IssueCode::Required,
                    "Elija la prioridad del triage.",
                    "Choose the triage priority.",
                )]);
                return refused(&app, &ctx, &error).await;
            };
            blocking(&app, &ctx, move |db| data::triage(db, &encounter, priority)).await
        }
        "terminar" => blocking(&app, &ctx, move |db| data::finish_visit(db, &encounter)).await,
        _ => {
            return error_page(
                &app,
                &ctx,
                StatusCode::BAD_REQUEST,
                vec![ctx.tr.s("queue.unknown_step").to_string()],
            );
        }
    };
    match done {
        Ok(()) => see_other("/ui/fila?ok=queue.saved"),
        Err(error) => refused(&app, &ctx, &error).await,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReleaseForm {
    /// `cancelar` (the patient cancelled) or `inasistencia` (the patient did not come).
    accion: String,
}

/// # `POST /ui/fila/cita/{appointment}` (`accion=cancelar` or `accion=inasistencia`)
///
/// The desk lets a booking go. A cancellation frees its slot for someone else (the write
/// path's booking rule frees a slot no appointment holds); a no-show is recorded as such and
/// keeps its slot, which has passed (the same rule: a no-show still holds it). Only a booking
/// the patient has not arrived for; at the version read, so a concurrent check-in is not
/// overwritten (refused in words instead).
pub async fn release(
    State(app): AppState,
    ctx: Ctx,
    Path(appointment): Path<String>,
    axum::Form(form): axum::Form<ReleaseForm>,
) -> Response {
    let Some(session) = ctx.session.clone() else {
        return to_login(&ctx);
    };
    let (status, reason_es, reason_en, notice) = match form.accion.as_str() {
        "cancelar" => (
            "cancelled",
            "Cancelada por el paciente",
            "Cancelled by the patient",
            "queue.cancelled",
        ),
        "inasistencia" => (
            "noshow",
            "No se presentó",
            "Did not attend",
            "queue.noshow_saved",
        ),
        _ => {
            return error_page(
                &app,
                &ctx,
                StatusCode::BAD_REQUEST,
                vec![ctx.tr.s("queue.unknown_step").to_string()],
            );
        }
    };
    let now = crate::dates::instant_mexico(ctx.now_ms);
    let done = blocking(&app, &ctx, move |db| {
        let mut booking = data::read(db, "Appointment", &appointment)?;
        let current = booking["status"].as_str().unwrap_or_default();
        if !matches!(current, "booked" | "pending" | "proposed") {
            return Err(ehr::Error::Conflict(vec![fhir::Issue::error(
                fhir::IssueCode::BusinessRule,
                "Esta cita ya no está agendada (llegó, se canceló o se marcó antes).",
                "This appointment is no longer booked (arrived, cancelled or marked before).",
            )]));
        }
        let version = data::version_of(&booking);
        booking["status"] = Value::String(status.to_string());
        if status == "cancelled" {
            booking["cancelationReason"] = serde_json::json!({
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "code": "pat"}],
                "text": reason_es
            });
        }
        // Who let it go and when, in the Appointment's one free-text element (R4 has no
        // `note` on it).
        let said = format!(
            "{reason_es} / {reason_en} — {}, {}, {now}",
            session.display_name, session.facility_name
        );
        let comment = match booking["comment"].as_str() {
            Some(previous) if !previous.is_empty() => format!("{previous}\n{said}"),
            _ => said,
        };
        booking["comment"] = Value::String(comment);
        data::update(
            db,
            "Appointment",
            &appointment,
            super::to_json(&booking),
            version,
        )
    })
    .await;
    match done {
        Ok(()) => see_other(&format!("/ui/fila?ok={notice}")),
        Err(error) => refused(&app, &ctx, &error).await,
    }
}

#[derive(Template)]
#[template(path = "sala.html")]
struct SalaPage {
    tr: crate::i18n::Tr,
    clues: String,
    refresh_s: u32,
    called: Vec<u32>,
    waiting: Vec<(u32, u32)>,
    consultation_minutes: u32,
    updated: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SalaQuery {
    clues: String,
}

/// # `GET /ui/sala?clues=…` (no sign-in; a TV in the waiting room)
///
/// Turn numbers, states and minutes; never a name, an id or anything clinical.
pub async fn sala(State(app): AppState, ctx: Ctx, Query(query): Query<SalaQuery>) -> Response {
    let clues = query.clues.trim().to_string();
    if mexico::clues::validate_clues(&clues).is_err() {
        return (StatusCode::BAD_REQUEST, ctx.tr.s("sala.clues_required")).into_response();
    }
    let ehr = app.ehr.clone();
    let wanted = clues.clone();
    let room = tokio::task::spawn_blocking(move || data::waiting_room(&ehr, &wanted))
        .await
        .unwrap_or_else(|e| Err(ehr::Error::Internal(format!("blocking task failed: {e}"))));
    let room = match room {
        Ok(room) => room,
        Err(error) => {
            super::error_status(&error);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                ctx.tr.s("sala.unavailable"),
            )
                .into_response();
        }
    };
    render(
        &SalaPage {
            tr: ctx.tr,
            clues,
            refresh_s: SALA_REFRESH_S,
            called: room.called,
            waiting: room.waiting,
            consultation_minutes: room.consultation_minutes,
            updated: hh_mm(ctx.now_ms),
        },
        StatusCode::OK,
    )
}

/// Days of free slots offered when booking.
pub const BOOKING_DAYS: i64 = 14;

/// One free slot offered.
pub struct SlotOption {
    pub id: String,
    pub day: String,
    pub time: String,
}

#[derive(Template)]
#[template(path = "book.html")]
struct BookPage {
    layout: Layout,
    patient: super::PatientView,
    /// (agenda, its free slots).
    agendas: Vec<(String, Vec<SlotOption>)>,
    errors: Vec<String>,
    /// The referral (`Task` id) this booking answers, if any: the Task is marked booked with it.
    referral: String,
}

async fn book_page(
    app: &std::sync::Arc<crate::App>,
    ctx: &Ctx,
    patient_id: &str,
    referral: &str,
) -> Result<BookPage, Response> {
    if ctx.session.is_none() {
        return Err(to_login(ctx));
    }
    let today = ctx.today();
    // From the start of today: the desk also books a slot of today that has begun (the
    // patient at the window for the 8:00 consultation at 8:05).
    let from = format!("{}T00:00:00-06:00", crate::dates::iso(today));
    let to = format!("{}T00:00:00-06:00", crate::dates::iso(today + BOOKING_DAYS));
    let pid = patient_id.to_string();
    let loaded = blocking(app, ctx, move |db| {
        let patient = data::read(db, "Patient", &pid)?;
        let abilities = data::abilities(db, &pid)?;
        let slots = data::free_slots(db, &from, &to)?;
        let schedules: Vec<String> = slots
            .iter()
            .filter_map(|s| s["schedule"]["reference"].as_str().map(str::to_string))
            .collect();
        let mut actors = std::collections::HashMap::new();
        for schedule in schedules {
            if actors.contains_key(&schedule) {
                continue;
            }
            let Some(id) = schedule.strip_prefix("Schedule/") else {
                continue;
            };
            if let Ok(found) = data::read(db, "Schedule", id) {
                let mut label: Vec<String> = Vec::new();
                for actor in found["actor"].as_array().into_iter().flatten() {
                    if let Some(reference) = actor["reference"].as_str() {
                        let names = data::names_of(db, &[reference.to_string()]);
                        label.push(names.get(reference).cloned().unwrap_or_else(|| {
                            actor["display"].as_str().unwrap_or(reference).to_string()
                        }));
                    }
                }
                if let Some(service) = found["serviceType"][0]["text"].as_str() {
                    label.push(service.to_string());
                }
                actors.insert(schedule, label.join(" · "));
            }
        }
        Ok((patient, abilities, slots, actors))
    })
    .await;
    let (patient, abilities, slots, actors) =
        loaded.map_err(|error| ehr_error(app, ctx, &error))?;
    let mut agendas: BTreeMap<String, Vec<SlotOption>> = BTreeMap::new();
    for slot in &slots {
        let schedule = slot["schedule"]["reference"].as_str().unwrap_or_default();
        let label = actors
            .get(schedule)
            .cloned()
            .unwrap_or_else(|| schedule.to_string());
        let start = slot["start"].as_str().unwrap_or_default();
        agendas.entry(label).or_default().push(SlotOption {
            id: slot["id"].as_str().unwrap_or_default().to_string(),
            day: crate::dates::display_text(start),
            time: time_of(start),
        });
    }
    let view = super::PatientView::new(&patient, &[], abilities, ctx.session.as_ref(), ctx.now_ms);
    Ok(BookPage {
        layout: ctx.layout(app, "book.title"),
        patient: view,
        agendas: agendas.into_iter().collect(),
        errors: Vec::new(),
        referral: referral.to_string(),
    })
}

/// # `GET /ui/pacientes/{id}/cita`: the free slots of today and the next days, by agenda.
pub async fn book_form(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(query): Query<BookQuery>,
) -> Response {
    match book_page(&app, &ctx, &id, &query.referencia).await {
        Ok(page) => render(&page, StatusCode::OK),
        Err(response) => response,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BookForm {
    espacio: String,
    /// The referral's Task id when booking answers a referral (`/ui/referencias`).
    referencia: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BookQuery {
    referencia: String,
}

/// # `POST /ui/pacientes/{id}/cita` (`espacio`: the slot chosen)
pub async fn book(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<BookForm>,
) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let (pid, slot) = (id.clone(), form.espacio.trim().to_string());
    let referral = form.referencia.trim().to_string();
    let for_referral = !referral.is_empty();
    let done = if slot.is_empty() {
        Err(ehr::Error::BadRequest(vec![fhir::Issue::error(
            fhir::IssueCode::BusinessRule,
            "Elija un horario libre.",
            "Choose a free time.",
        )]))
    } else {
        let referral = referral.clone();
        blocking(&app, &ctx, move |db| {
            if referral.is_empty() {
                data::book(db, &pid, &slot)
            } else {
                data::book_referral(db, &pid, &slot, &referral)
            }
        })
        .await
    };
    match done {
        Ok(()) if for_referral => see_other("/ui/referencias?ok=queue.booked"),
        Ok(()) => see_other(&format!("/ui/pacientes/{id}/ficha?ok=queue.booked")),
        Err(error) => match book_page(&app, &ctx, &id, &referral).await {
            Ok(mut page) => {
                page.errors = match &error {
                    // The slot was taken meanwhile: say so, in the record's own words.
                    ehr::Error::Conflict(issues) => issues
                        .iter()
                        .map(|i| ctx.tr.pick(&i.message_es, &i.message_en).to_string())
                        .collect(),
                    _ => crate::messages::general(ctx.tr, &error),
                };
                render(&page, super::error_status(&error))
            }
            Err(response) => response,
        },
    }
}
