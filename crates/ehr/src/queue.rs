//! The day's queue (issue 17): same-day care without a line outside.
//!
//! A visit is one `Encounter` of the facility, written only by these operations as steps of
//! the queue (`CareEvent::QueueStep`: reception and nursing write it although they write no
//! other clinical content; a care relationship is still needed, and none is started):
//!
//! | step | who | Encounter |
//! |---|---|---|
//! | check-in (from an appointment, or a walk-in) | reception | created `arrived`, with the day's turn number; the Appointment becomes `arrived` in the same transaction |
//! | triage | nursing | `priority` (v3-ActPriority `EM`, `UR`, `R`), status `triaged`; vital signs are ordinary Observations |
//! | call ("siguiente paciente") | physician | the first waiting visit becomes `in-progress`, with the physician as participant |
//! | end | physician | `finished`, `period.end` |
//!
//! **Every timestamp is kept in `Encounter.statusHistory`** (R4: each status with its
//! period): arrival is the start of `arrived`, triage of `triaged`, the call of
//! `in-progress`, the end of `finished` (also `period.end`). Each step closes the open period.
//!
//! **Order**: emergency, then urgent, then everyone else (routine or not triaged yet), each
//! by arrival. The call is one transaction under a per-facility lock, so two physicians never
//! take the same patient.
//!
//! **The waiting-room screen** ([`Ehr::waiting_room`]) has no requester: it shows turn numbers,
//! states and an estimated wait, never a name, an id or anything clinical, so it is computed
//! from the store by this module and returns only those (like the aggregate reports, it is
//! not a read of anyone's record; it is not audited per refresh, see ARCHITECTURE.md).

use auth::policy::CareEvent;
use fhir::{Issue, IssueCode, Json};
use mexico::systems;
use store::StoredResource;

use crate::guard::Authority;
use crate::lookup::{Lookup, StoreLookup, TxLookup, internal_query};
use crate::write::{Target, Writer};
use crate::{Ehr, Error, Requester};

/// The extension carrying the day's turn number on the visit's Encounter.
pub const EXT_TURN: &str = "https://expediente.salud.gob.mx/fhir/StructureDefinition/turno";
/// v3-ActPriority, the code system of `Encounter.priority`.
pub const PRIORITY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ActPriority";
/// Visits read at most per facility and day (a large health centre sees a few hundred).
const VISITS_PER_DAY_MAX: usize = 2_000;
/// Finished consultations the estimate averages over, at most, and how far back.
const ESTIMATE_SAMPLE_MAX: usize = 20;
const ESTIMATE_LOOKBACK_DAYS: i64 = 7;
/// The estimate before the clinic has finished any consultation.
const CONSULTATION_MINUTES_DEFAULT: u32 = 15;

/// Triage priority, most urgent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Emergency,
    Urgent,
    Routine,
}

impl Priority {
    pub fn code(self) -> &'static str {
        match self {
            Priority::Emergency => "EM",
            Priority::Urgent => "UR",
            Priority::Routine => "R",
        }
    }

    /// Accepts the v3 codes and the Spanish words the screens send.
    pub fn parse(text: &str) -> Option<Priority> {
        match text.trim().to_ascii_lowercase().as_str() {
            "em" | "emergencia" | "emergency" => Some(Priority::Emergency),
            "ur" | "urgente" | "urgent" => Some(Priority::Urgent),
            "r" | "rutina" | "routine" | "no-urgente" => Some(Priority::Routine),
            _ => None,
        }
    }

    pub fn label_es(self) -> &'static str {
        match self {
            Priority::Emergency => "emergencia",
            Priority::Urgent => "urgente",
            Priority::Routine => "no urgente",
        }
    }
}

/// Where a visit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VisitState {
    Waiting,
    Triaged,
    InConsultation,
    Finished,
}

/// One visit of the day, as the queue sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visit {
    pub encounter_id: String,
    pub patient_id: Option<String>,
    pub turn: u32,
    pub state: VisitState,
    pub priority: Option<Priority>,
    pub arrived_ms: i64,
    pub triaged_ms: Option<i64>,
    pub called_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub appointment_id: Option<String>,
}

impl Visit {
    /// Reads a visit from its Encounter; `None` when it is not a queue visit (no turn).
    pub fn of(encounter_id: &str, encounter: &Json) -> Option<Visit> {
        let turn = encounter
            .get("extension")
            .map_or(&[][..], Json::as_list)
            .iter()
            .find(|e| e.get("url").and_then(Json::as_str) == Some(EXT_TURN))
            .and_then(|e| e.get("valueInteger"))
            .and_then(|v| match v {
                Json::Number(text) => text.parse::<u32>().ok(),
                _ => None,
            })?;
        let state = match encounter.get("status").and_then(Json::as_str)? {
            "arrived" | "planned" => VisitState::Waiting,
            "triaged" => VisitState::Triaged,
            "in-progress" | "onleave" => VisitState::InConsultation,
            _ => VisitState::Finished,
        };
        let started = |status: &str| {
            encounter
                .get("statusHistory")
                .map_or(&[][..], Json::as_list)
                .iter()
                .filter(|h| h.get("status").and_then(Json::as_str) == Some(status))
                .filter_map(|h| h.get("period")?.get("start")?.as_str())
                .filter_map(crate::parse_instant_ms)
                .next()
        };
        let arrived_ms = started("arrived").or_else(|| {
            encounter
                .get("period")?
                .get("start")?
                .as_str()
                .and_then(crate::parse_instant_ms)
        })?;
        let priority = encounter
            .get("priority")
            .and_then(|p| p.get("coding"))
            .map_or(&[][..], Json::as_list)
            .iter()
            .filter_map(|c| c.get("code").and_then(Json::as_str))
            .find_map(Priority::parse);
        let reference_id = |key: &str, prefix: &str| -> Option<String> {
            let value = encounter.get(key)?;
            let first = value.as_list().first().unwrap_or(value);
            first
                .get("reference")?
                .as_str()?
                .strip_prefix(prefix)
                .map(str::to_string)
        };
        Some(Visit {
            encounter_id: encounter_id.to_string(),
            patient_id: reference_id("subject", "Patient/"),
            turn,
            state,
            priority,
            arrived_ms,
            triaged_ms: started("triaged"),
            called_ms: started("in-progress"),
            finished_ms: started("finished"),
            appointment_id: reference_id("appointment", "Appointment/"),
        })
    }

    fn is_waiting(&self) -> bool {
        matches!(self.state, VisitState::Waiting | VisitState::Triaged)
    }

    /// The queue's order: emergency, urgent, the rest; then arrival; then turn.
    fn rank(&self) -> (Priority, i64, u32) {
        (
            self.priority.unwrap_or(Priority::Routine),
            self.arrived_ms,
            self.turn,
        )
    }
}

/// The waiting visits in the order they will be called.
pub fn waiting_order(visits: &[Visit]) -> Vec<&Visit> {
    let mut waiting: Vec<&Visit> = visits.iter().filter(|v| v.is_waiting()).collect();
    waiting.sort_by_key(|v| v.rank());
    waiting
}

/// What the waiting-room screen shows: turn numbers and minutes, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingRoom {
    /// Turns being attended now, latest call first.
    pub called: Vec<u32>,
    /// Turns waiting, in the order they will be called, with the estimated minutes.
    pub waiting: Vec<(u32, u32)>,
    /// Average minutes of the clinic's recent consultations (the estimate's basis), and how
    /// many consultations it averages.
    pub consultation_minutes: u32,
    pub sample: usize,
}

/// The estimate: each waiting turn waits for those before it, shared among the physicians
/// attending today (at least one).
pub fn estimate(order: &[&Visit], consultation_minutes: u32, physicians: usize) -> Vec<(u32, u32)> {
    let physicians = u32::try_from(physicians.max(1)).unwrap_or(1);
    order
        .iter()
        .enumerate()
        .map(|(ahead, visit)| {
            let ahead = u32::try_from(ahead).unwrap_or(u32::MAX);
            (
                visit.turn,
                ahead
                    .saturating_mul(consultation_minutes)
                    .div_ceil(physicians),
            )
        })
        .collect()
}

impl Ehr {
    /// The start of today (local civil date in the node's zone), as an instant text.
    fn today_start(&self) -> String {
        let date = calendar::zone::local_date(&self.local_zone, self.now_ms())
            .unwrap_or_else(|_| calendar::civil_from_days(self.now_ms().div_euclid(86_400_000)));
        crate::scheduling::local_date_time(&self.local_zone, date, 0)
    }

    fn visits_query(
        &self,
        clues: &str,
        since: &str,
        statuses: &str,
    ) -> Result<search::SearchQuery, Error> {
        let mut params = vec![
            (
                "service-provider:identifier".to_string(),
                format!("{}|{clues}", systems::CLUES),
            ),
            ("date".to_string(), format!("ge{since}")),
        ];
        if !statuses.is_empty() {
            params.push(("status".to_string(), statuses.to_string()));
        }
        internal_query("Encounter", &params, self.now_ms())
    }

    /// # `POST /Encounter/$llegada` (check-in)
    ///
    /// From an appointment (`appointment_id`, whose patient arrives) or a walk-in
    /// (`patient_id`). Returns the visit's Encounter.
    pub fn check_in(
        &self,
        who: &Requester,
        appointment_id: Option<&str>,
        patient_id: Option<&str>,
    ) -> Result<StoredResource, Error> {
        let clues = crate::care::facility_clues(who)?;
        let organization = self.facility_reference(&clues)?;
        let (patient_id, appointment) = match (appointment_id, patient_id) {
            (Some(appointment_id), _) => {
                let stored = self.read(who, "Appointment", appointment_id)?;
                let appointment = fhir::json::parse_str(&stored.body)
                    .map_err(|e| Error::Internal(format!("stored Appointment: {e}")))?;
                let patient = appointment_patient(&appointment).ok_or_else(|| {
                    Error::Unprocessable(vec![Issue::error(
                        IssueCode::BusinessRule,
                        "La cita no tiene paciente",
                        "The appointment has no patient",
                    )])
                })?;
                (
                    patient,
                    Some((appointment_id.to_string(), stored.version_id)),
                )
            }
            (None, Some(patient_id)) => {
                self.read(who, "Patient", patient_id)?;
                (patient_id.to_string(), None)
            }
            (None, None) => {
                return Err(Error::BadRequest(vec![Issue::error(
                    IssueCode::Required,
                    "Indique la cita o el paciente que llega",
                    "Name the appointment or the patient arriving",
                )]));
            }
        };
        let since = self.today_start();
        let day_query = self.visits_query(&clues, &since, "")?;
        self.write(who, move |writer| {
            writer
                .tx()
                .lock(&format!("cola:{clues}"))
                .map_err(Error::from)?;
            let visits = visits_in(writer, &day_query)?;
            if let Some(already) = visits.iter().find(|v| {
                v.patient_id.as_deref() == Some(patient_id.as_str())
                    && v.state != VisitState::Finished
            }) {
                return Err(Error::Conflict(vec![Issue::error(
                    IssueCode::Duplicate,
                    format!(
                        "El paciente ya está en la fila de hoy (turno {})",
                        already.turn
                    ),
                    format!(
                        "The patient is already in today's queue (turn {})",
                        already.turn
                    ),
                )]));
            }
            let turn = visits.iter().map(|v| v.turn).max().unwrap_or(0) + 1;
            let now = writer.now_text();
            let mut encounter = Json::object([
                ("resourceType", Json::str("Encounter")),
                (
                    "extension",
                    Json::Array(vec![Json::object([
                        ("url", Json::str(EXT_TURN)),
                        ("valueInteger", Json::Number(turn.to_string())),
                    ])]),
                ),
                ("status", Json::str("arrived")),
                ("statusHistory", Json::Array(vec![history("arrived", &now)])),
                (
                    "class",
                    Json::object([
                        (
                            "system",
                            Json::str("http://terminology.hl7.org/CodeSystem/v3-ActCode"),
                        ),
                        ("code", Json::str("AMB")),
                        ("display", Json::str("ambulatory")),
                    ]),
                ),
                (
                    "subject",
                    Json::object([("reference", Json::str(format!("Patient/{patient_id}")))]),
                ),
                ("period", Json::object([("start", Json::str(now.clone()))])),
                ("serviceProvider", organization.clone()),
            ]);
            if let Some((appointment_id, version_id)) = &appointment {
                if let Some(object) = encounter.as_object_mut() {
                    object.insert_at(
                        7,
                        "appointment",
                        Json::Array(vec![Json::object([(
                            "reference",
                            Json::str(format!("Appointment/{appointment_id}")),
                        )])]),
                    );
                }
                mark_appointment_arrived(writer, appointment_id, *version_id)?;
            }
            Ok(writer
                .put(
                    "Encounter",
                    Target::Create(None),
                    encounter,
                    None,
                    Authority::CareEvent(CareEvent::QueueStep),
                )?
                .resource)
        })
    }

    /// # `POST /Encounter/{id}/$triage`: the nurse's priority.
    pub fn triage(
        &self,
        who: &Requester,
        encounter_id: &str,
        priority: Priority,
    ) -> Result<StoredResource, Error> {
        self.queue_step(who, encounter_id, move |writer, encounter, visit| {
            if !visit.is_waiting() {
                return Err(not_waiting(visit.turn));
            }
            let now = writer.now_text();
            set_status(encounter, "triaged", &now);
            if let Some(object) = encounter.as_object_mut() {
                object.insert(
                    "priority",
                    Json::object([(
                        "coding",
                        Json::Array(vec![Json::object([
                            ("system", Json::str(PRIORITY_SYSTEM)),
                            ("code", Json::str(priority.code())),
                            ("display", Json::str(priority.label_es())),
                        ])]),
                    )]),
                );
            }
            Ok(())
        })
    }

    /// # `POST /Encounter/$siguiente`: the physician calls the next patient. `None` when
    /// nobody is waiting.
    pub fn call_next(&self, who: &Requester) -> Result<Option<StoredResource>, Error> {
        let clues = crate::care::facility_clues(who)?;
        let practitioner = who.principal.practitioner_id.clone();
        let user = who.principal.user.clone();
        let query = self.visits_query(&clues, &self.today_start(), "arrived,triaged")?;
        self.write(who, move |writer| {
            writer
                .tx()
                .lock(&format!("cola:{clues}"))
                .map_err(Error::from)?;
            let visits = visits_in(writer, &query)?;
            let Some(next) = waiting_order(&visits)
                .first()
                .map(|v| v.encounter_id.clone())
            else {
                return Ok(None);
            };
            let Some(stored) = writer.tx().read("Encounter", &next).map_err(Error::from)? else {
                return Ok(None);
            };
            let mut encounter = fhir::json::parse_str(&stored.body)
                .map_err(|e| Error::Internal(format!("stored Encounter: {e}")))?;
            let now = writer.now_text();
            set_status(&mut encounter, "in-progress", &now);
            let individual = match &practitioner {
                Some(id) => Json::object([("reference", Json::str(format!("Practitioner/{id}")))]),
                None => Json::object([("display", Json::str(user.clone()))]),
            };
            if let Some(object) = encounter.as_object_mut() {
                object.insert(
                    "participant",
                    Json::Array(vec![Json::object([
                        ("period", Json::object([("start", Json::str(now.clone()))])),
                        ("individual", individual),
                    ])]),
                );
            }
            Ok(Some(
                writer
                    .put(
                        "Encounter",
                        Target::Id(next),
                        encounter,
                        Some(stored.version_id),
                        Authority::CareEvent(CareEvent::QueueStep),
                    )?
                    .resource,
            ))
        })
    }

    /// # `POST /Encounter/{id}/$terminar`: the consultation ends.
    pub fn finish_visit(
        &self,
        who: &Requester,
        encounter_id: &str,
    ) -> Result<StoredResource, Error> {
        self.queue_step(who, encounter_id, |writer, encounter, visit| {
            if visit.state == VisitState::Finished {
                return Err(Error::Conflict(vec![Issue::error(
                    IssueCode::BusinessRule,
                    format!("La visita del turno {} ya terminó", visit.turn),
                    format!("The visit of turn {} has already ended", visit.turn),
                )]));
            }
            let now = writer.now_text();
            set_status(encounter, "finished", &now);
            if let Some(period) = encounter
                .as_object_mut()
                .and_then(|o| o.get_mut("period"))
                .and_then(Json::as_object_mut)
            {
                period.insert("end", Json::str(now));
            }
            Ok(())
        })
    }

    /// One step on a visit: read it in the transaction, change it, write it as a queue step.
    fn queue_step<F>(
        &self,
        who: &Requester,
        encounter_id: &str,
        mut change: F,
    ) -> Result<StoredResource, Error>
    where
        F: FnMut(&mut Writer<'_>, &mut Json, &Visit) -> Result<(), Error> + Send + 'static,
    {
        // Read through the read guard first: a visit the requester may not see is absent.
        self.read(who, "Encounter", encounter_id)?;
        let encounter_id = encounter_id.to_string();
        self.write(who, move |writer| {
            let Some(stored) = writer
                .tx()
                .read("Encounter", &encounter_id)
                .map_err(Error::from)?
                .filter(|s| !s.deleted)
            else {
                return Err(Error::not_found("Encounter", &encounter_id));
            };
            let mut encounter = fhir::json::parse_str(&stored.body)
                .map_err(|e| Error::Internal(format!("stored Encounter: {e}")))?;
            let Some(visit) = Visit::of(&encounter_id, &encounter) else {
                return Err(Error::Unprocessable(vec![Issue::error(
                    IssueCode::BusinessRule,
                    "Este encuentro no es una visita de la fila del día",
                    "This encounter is not a visit of the day's queue",
                )]));
            };
            change(writer, &mut encounter, &visit)?;
            Ok(writer
                .put(
                    "Encounter",
                    Target::Id(encounter_id.clone()),
                    encounter,
                    Some(stored.version_id),
                    Authority::CareEvent(CareEvent::QueueStep),
                )?
                .resource)
        })
    }

    /// Today's visits at the requester's facility (its staff only), in turn order.
    ///
    /// The queue is the facility's working list, not anyone's chart: reception runs it and
    /// has no clinical rights, so it is read here rather than as an `Encounter` search, and
    /// it carries only the queue's elements (turn, state, priority, times, the patient's id).
    /// Names are read by the caller as the requester, through the read guard. The listing is
    /// audited as one search naming every patient listed.
    pub fn todays_visits(&self, who: &Requester) -> Result<Vec<Visit>, Error> {
        let clues = crate::care::facility_clues(who)?;
        let mut lookup = StoreLookup {
            store: self.store(),
        };
        let query = self.visits_query(&clues, &self.today_start(), "")?;
        let mut visits = read_visits(&mut lookup, &query)?;
        visits.sort_by_key(|v| v.turn);
        let patients: Vec<(String, bool)> = visits
            .iter()
            .filter_map(|v| v.patient_id.clone().map(|p| (p, false)))
            .collect();
        self.audit_access(
            who,
            auth::audit::AuditAction::Search,
            "Encounter",
            None,
            &patients,
            "fila del día",
        );
        Ok(visits)
    }

    /// The waiting-room screen of the facility `clues` (no requester; see the module docs).
    pub fn waiting_room(&self, clues: &str) -> Result<WaitingRoom, Error> {
        let mut lookup = StoreLookup {
            store: self.store(),
        };
        let today = self.visits_query(clues, &self.today_start(), "")?;
        let visits: Vec<Visit> = read_visits(&mut lookup, &today)?;
        let lookback_ms = ESTIMATE_LOOKBACK_DAYS * 86_400_000;
        let since = crate::format_instant(self.now_ms() - lookback_ms);
        let recent_query = self.visits_query(clues, &since, "finished")?;
        let mut recent: Vec<Visit> = read_visits(&mut lookup, &recent_query)?;
        recent.sort_by_key(|v| std::cmp::Reverse(v.finished_ms));
        let durations: Vec<i64> = recent
            .iter()
            .filter_map(|v| Some(v.finished_ms? - v.called_ms?))
            .filter(|ms| *ms > 0)
            .take(ESTIMATE_SAMPLE_MAX)
            .collect();
        let consultation_minutes = if durations.is_empty() {
            CONSULTATION_MINUTES_DEFAULT
        } else {
            let mean_ms = durations.iter().sum::<i64>() / durations.len() as i64;
            u32::try_from((mean_ms + 59_999) / 60_000).unwrap_or(CONSULTATION_MINUTES_DEFAULT)
        };
        let mut called: Vec<&Visit> = visits
            .iter()
            .filter(|v| v.state == VisitState::InConsultation)
            .collect();
        called.sort_by_key(|v| std::cmp::Reverse(v.called_ms));
        let physicians = called.len();
        let order = waiting_order(&visits);
        Ok(WaitingRoom {
            called: called.iter().map(|v| v.turn).collect(),
            waiting: estimate(&order, consultation_minutes, physicians),
            consultation_minutes,
            sample: durations.len(),
        })
    }
}

fn read_visits(lookup: &mut dyn Lookup, query: &search::SearchQuery) -> Result<Vec<Visit>, Error> {
    Ok(lookup
        .search(query, VISITS_PER_DAY_MAX)?
        .iter()
        .filter_map(|stored| {
            let json = fhir::json::parse_str(&stored.body).ok()?;
            Visit::of(&stored.id, &json)
        })
        .collect())
}

fn visits_in(writer: &mut Writer<'_>, query: &search::SearchQuery) -> Result<Vec<Visit>, Error> {
    let mut lookup = TxLookup { tx: writer.tx() };
    read_visits(&mut lookup, query)
}

fn history(status: &str, start: &str) -> Json {
    Json::object([
        ("status", Json::str(status)),
        ("period", Json::object([("start", Json::str(start))])),
    ])
}

/// Moves the Encounter to `status` at `now`: closes the open period of the history and opens
/// the new one.
fn set_status(encounter: &mut Json, status: &str, now: &str) {
    let Some(object) = encounter.as_object_mut() else {
        return;
    };
    let mut entries = object
        .get("statusHistory")
        .map(|h| h.as_list().to_vec())
        .unwrap_or_default();
    for entry in entries.iter_mut() {
        if let Some(period) = entry
            .as_object_mut()
            .and_then(|o| o.get_mut("period"))
            .and_then(Json::as_object_mut)
            && !period.contains_key("end")
        {
            period.insert("end", Json::str(now));
        }
    }
    let mut new = history(status, now);
    if status == "finished"
        && let Some(period) = new
            .as_object_mut()
            .and_then(|o| o.get_mut("period"))
            .and_then(Json::as_object_mut)
    {
        period.insert("end", Json::str(now));
    }
    entries.push(new);
    object.insert("status", Json::str(status));
    object.insert("statusHistory", Json::Array(entries));
}

fn appointment_patient(appointment: &Json) -> Option<String> {
    appointment
        .get("participant")
        .map_or(&[][..], Json::as_list)
        .iter()
        .filter_map(|p| p.get("actor")?.get("reference")?.as_str())
        .find_map(|r| r.strip_prefix("Patient/").map(str::to_string))
}

/// The appointment's patient has arrived (it keeps its slot).
fn mark_appointment_arrived(
    writer: &mut Writer<'_>,
    appointment_id: &str,
    version_id: u64,
) -> Result<(), Error> {
    let Some(stored) = writer
        .tx()
        .read("Appointment", appointment_id)
        .map_err(Error::from)?
    else {
        return Err(Error::not_found("Appointment", appointment_id));
    };
    let mut appointment = fhir::json::parse_str(&stored.body)
        .map_err(|e| Error::Internal(format!("stored Appointment: {e}")))?;
    match appointment.get("status").and_then(Json::as_str) {
        Some("booked" | "pending" | "proposed" | "checked-in") => {}
        other => {
            let status = other.unwrap_or("?").to_string();
            return Err(Error::Conflict(vec![Issue::error(
                IssueCode::BusinessRule,
                format!(
                    "La cita está en estado «{status}»; solo se registra la llegada de citas agendadas"
                ),
                format!(
                    "The appointment is '{status}'; only booked appointments can be checked in"
                ),
            )]));
        }
    }
    if let Some(object) = appointment.as_object_mut() {
        object.insert("status", Json::str("arrived"));
    }
    writer.put(
        "Appointment",
        Target::Id(appointment_id.to_string()),
        appointment,
        Some(version_id),
        Authority::Requester,
    )?;
    Ok(())
}

fn not_waiting(turn: u32) -> Error {
    Error::Conflict(vec![Issue::error(
        IssueCode::BusinessRule,
        format!("El turno {turn} ya no está en espera"),
        format!("Turn {turn} is no longer waiting"),
    )])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn visit(turn: u32, priority: Option<Priority>, arrived_ms: i64) -> Visit {
        Visit {
            encounter_id: format!("e{turn}"),
            patient_id: None,
            turn,
            state: VisitState::Waiting,
            priority,
            arrived_ms,
            triaged_ms: None,
            called_ms: None,
            finished_ms: None,
            appointment_id: None,
        }
    }

    #[test]
    fn urgent_goes_first_then_arrival() {
        let visits = vec![
            visit(1, Some(Priority::Routine), 100),
            visit(2, None, 200),
            visit(3, Some(Priority::Urgent), 300),
            visit(4, Some(Priority::Emergency), 400),
            visit(5, Some(Priority::Urgent), 250),
        ];
        let order: Vec<u32> = waiting_order(&visits).iter().map(|v| v.turn).collect();
        assert_eq!(order, vec![4, 5, 3, 1, 2]);
        let minutes = estimate(&waiting_order(&visits), 12, 2);
        assert_eq!(minutes, vec![(4, 0), (5, 6), (3, 12), (1, 18), (2, 24)]);
    }

    #[test]
    fn a_visit_reads_back_from_its_encounter_with_every_timestamp() {
        let mut encounter = fhir::json::parse_str(&format!(
            r#"{{"resourceType":"Encounter","extension":[{{"url":"{EXT_TURN}","valueInteger":7}}],
            "status":"arrived","statusHistory":[{{"status":"arrived","period":{{"start":"2026-12-08T08:00:00-06:00"}}}}],
            "subject":{{"reference":"Patient/p1"}},"period":{{"start":"2026-12-08T08:00:00-06:00"}}}}"#
        ))
        .unwrap();
        set_status(&mut encounter, "triaged", "2026-12-08T08:05:00-06:00");
        set_status(&mut encounter, "in-progress", "2026-12-08T08:30:00-06:00");
        set_status(&mut encounter, "finished", "2026-12-08T08:45:00-06:00");
        let visit = Visit::of("e7", &encounter).unwrap();
        assert_eq!(visit.turn, 7);
        assert_eq!(visit.patient_id.as_deref(), Some("p1"));
        assert_eq!(visit.state, VisitState::Finished);
        let at = |t: &str| crate::parse_instant_ms(t).unwrap();
        assert_eq!(visit.arrived_ms, at("2026-12-08T08:00:00-06:00"));
        assert_eq!(visit.triaged_ms, Some(at("2026-12-08T08:05:00-06:00")));
        assert_eq!(visit.called_ms, Some(at("2026-12-08T08:30:00-06:00")));
        assert_eq!(visit.finished_ms, Some(at("2026-12-08T08:45:00-06:00")));
        let history = encounter.get("statusHistory").unwrap().as_list();
        assert_eq!(history.len(), 4);
        assert!(
            history
                .iter()
                .all(|h| h.get("period").unwrap().get("end").is_some())
        );
    }
}
