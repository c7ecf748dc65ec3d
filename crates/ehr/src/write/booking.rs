//! Booking (issue 17): an `Appointment` that holds a `Slot` makes it busy in the same
//! transaction, and one that lets it go makes it free again.
//!
//! Run by [`Writer::put`] and [`Writer::delete`] after the write guard has decided the
//! Appointment, so the slot's change is a consequence of a decided write
//! ([`Authority::Derived`]: audited under the requester, not decided again, so a patient who
//! may not write agendas still books from one). The slot is read with [`WriteTx::read`], which
//! claims it until commit: two jobs booking one slot are serialised on every engine, and the
//! second sees it busy.
//!
//! Rules:
//! * An appointment *holds* the slots it lists while its status is one of [`HOLDING`];
//!   `cancelled`, `entered-in-error` and `waitlist` hold nothing. A no-show keeps its slot:
//!   the time has passed and the record says who missed it.
//! * A slot newly held must exist and be `free`; otherwise the whole write is refused with
//!   409 and nothing is stored (the transaction rolls back).
//! * A slot no longer held (cancelled, moved to another slot, deleted) is set `free` if it was
//!   `busy`. A slot another appointment still holds is left busy.
//! * An appointment that holds slots and has no `start`/`end` takes them from its slots
//!   (R4 requires both once booked, and a client booking a slot should not repeat them).
//!
//! [`WriteTx::read`]: store::WriteTx::read

use std::collections::BTreeSet;

use fhir::{Issue, IssueCode, Json};

use crate::Error;
use crate::guard::Authority;
use crate::lookup::{Lookup, TxLookup, internal_query};
use crate::write::{Target, Writer};

/// Task code (in [`crate::TASK_CODE_SYSTEM`]) of a double booking across nodes to resolve:
/// opened on the hub by `sync` (`sync/src/double_booking.rs`), listed on the reception's
/// day view.
pub const DOUBLE_BOOKING_TASK_CODE: &str = "doble-reserva";

/// The CodeSystem of the tag that marks an Appointment booked at another node in a slot an
/// earlier booking keeps (code [`DOUBLE_BOOKING_TAG_CODE`]).
pub const DOUBLE_BOOKING_TAG_SYSTEM: &str =
    "https://expediente.salud.gob.mx/fhir/CodeSystem/sincronizacion";

/// The tag code (the same word as the Task's).
pub const DOUBLE_BOOKING_TAG_CODE: &str = "doble-reserva";

/// Whether an Appointment carries the double-booking tag.
pub fn is_double_booked(appointment: &Json) -> bool {
    appointment
        .get("meta")
        .and_then(|m| m.get("tag"))
        .map_or(&[][..], Json::as_list)
        .iter()
        .any(|tag| {
            tag.get("system").and_then(Json::as_str) == Some(DOUBLE_BOOKING_TAG_SYSTEM)
                && tag.get("code").and_then(Json::as_str) == Some(DOUBLE_BOOKING_TAG_CODE)
        })
}

/// Removes the double-booking tag (and `meta.tag` if it is left empty).
fn drop_double_booking_tag(appointment: &mut Json) {
    let Some(meta) = appointment
        .as_object_mut()
        .and_then(|o| o.get_mut("meta"))
        .and_then(Json::as_object_mut)
    else {
        return;
    };
    let Some(Json::Array(tags)) = meta.get_mut("tag") else {
        return;
    };
    tags.retain(|tag| {
        !(tag.get("system").and_then(Json::as_str) == Some(DOUBLE_BOOKING_TAG_SYSTEM)
            && tag.get("code").and_then(Json::as_str) == Some(DOUBLE_BOOKING_TAG_CODE))
    });
    if tags.is_empty() {
        meta.remove("tag");
    }
}

/// Appointment statuses that keep their slots busy.
pub(crate) const HOLDING: [&str; 7] = [
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "checked-in",
    "noshow",
];

/// The ids of the slots an appointment holds (literal `Slot/{id}` references).
pub fn held_slots(appointment: &Json) -> BTreeSet<String> {
    let holding = appointment
        .get("status")
        .and_then(Json::as_str)
        .is_some_and(|status| HOLDING.contains(&status));
    if !holding {
        return BTreeSet::new();
    }
    appointment
        .get("slot")
        .map_or(&[][..], Json::as_list)
        .iter()
        .filter_map(|slot| slot.get("reference").and_then(Json::as_str))
        .filter_map(|reference| reference.strip_prefix("Slot/"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(str::to_string)
        .collect()
}

/// Applies the booking rules to a new version of an Appointment (`previous` is its current
/// content, when it exists). May fill `start`/`end` from the slots.
pub(crate) fn on_put(
    writer: &mut Writer<'_>,
    appointment_id: &str,
    appointment: &mut Json,
    previous: Option<&Json>,
) -> Result<(), Error> {
    let before = previous.map(held_slots).unwrap_or_default();
    let after = held_slots(appointment);
    if before != after && previous.is_some() {
        // Moved or let go: the double booking it was marked for is resolved.
        drop_double_booking_tag(appointment);
    }
    let mut first_taken: Option<(Json, Json)> = None;
    for slot_id in after.iter() {
        let slot = take(writer, slot_id, before.contains(slot_id))?;
        if first_taken.is_none()
            && let (Some(start), Some(end)) = (slot.get("start"), slot.get("end"))
        {
            first_taken = Some((start.clone(), end.clone()));
        }
    }
    for slot_id in after.difference(&before) {
        add_schedule_actors(writer, slot_id, appointment)?;
    }
    for slot_id in before.difference(&after) {
        release(writer, slot_id, appointment_id)?;
    }
    if let (Some((start, end)), Some(object)) = (first_taken, appointment.as_object_mut())
        && !object.contains_key("start")
        && !object.contains_key("end")
    {
        object.insert("start".to_string(), start);
        object.insert("end".to_string(), end);
    }
    Ok(())
}

/// The actors of a newly taken slot's Schedule (the practitioner, the consultorio, the
/// service) become participants of the appointment when it does not name them already, so that
/// `Appointment?practitioner=…` and the agenda by practitioner find it. They change no
/// patient compartment, which is what the guard decided on.
fn add_schedule_actors(
    writer: &mut Writer<'_>,
    slot_id: &str,
    appointment: &mut Json,
) -> Result<(), Error> {
    let Some(slot) = writer.tx().read("Slot", slot_id).map_err(Error::from)? else {
        return Ok(());
    };
    let schedule_id = fhir::json::parse_str(&slot.body).ok().and_then(|slot| {
        slot.get("schedule")?
            .get("reference")?
            .as_str()?
            .strip_prefix("Schedule/")
            .map(str::to_string)
    });
    let Some(schedule_id) = schedule_id else {
        return Ok(());
    };
    let Some(schedule) = writer
        .tx()
        .read("Schedule", &schedule_id)
        .map_err(Error::from)?
        .filter(|s| !s.deleted)
        .and_then(|s| fhir::json::parse_str(&s.body).ok())
    else {
        return Ok(());
    };
    let Some(object) = appointment.as_object_mut() else {
        return Ok(());
    };
    let mut participants = object
        .get("participant")
        .map(|p| p.as_list().to_vec())
        .unwrap_or_default();
    for actor in schedule.get("actor").map_or(&[][..], Json::as_list) {
        let Some(reference) = actor.get("reference").and_then(Json::as_str) else {
            continue;
        };
        if reference.starts_with("Patient/") {
            continue;
        }
        let named = participants.iter().any(|p| {
            p.get("actor")
                .and_then(|a| a.get("reference"))
                .and_then(Json::as_str)
                == Some(reference)
        });
        if !named {
            participants.push(Json::object([
                ("actor", actor.clone()),
                ("status", Json::str("accepted")),
            ]));
        }
    }
    object.insert("participant", Json::Array(participants));
    Ok(())
}

/// An Appointment deleted: its slots go free.
pub(crate) fn on_delete(
    writer: &mut Writer<'_>,
    appointment_id: &str,
    previous: &Json,
) -> Result<(), Error> {
    for slot_id in held_slots(previous) {
        release(writer, &slot_id, appointment_id)?;
    }
    Ok(())
}

/// Makes a slot busy for this appointment; `already_held` when the appointment's previous
/// version held it (then it is busy by us, and nothing changes). Returns the slot.
fn take(writer: &mut Writer<'_>, slot_id: &str, already_held: bool) -> Result<Json, Error> {
    let stored = writer.tx().read("Slot", slot_id).map_err(Error::from)?;
    let Some(stored) = stored.filter(|s| !s.deleted) else {
        return Err(Error::Unprocessable(vec![
            Issue::error(
                IssueCode::NotFound,
                format!("El espacio Slot/{slot_id} de la cita no existe"),
                format!("The appointment's Slot/{slot_id} does not exist"),
            )
            .at("Appointment.slot"),
        ]));
    };
    let mut slot = fhir::json::parse_str(&stored.body)
        .map_err(|e| Error::Internal(format!("stored Slot/{slot_id} does not parse: {e}")))?;
    if already_held {
        return Ok(slot);
    }
    let status = slot.get("status").and_then(Json::as_str).unwrap_or("");
    if status != "free" {
        return Err(slot_not_free(slot_id, status));
    }
    if let Some(object) = slot.as_object_mut() {
        object.insert("status".to_string(), Json::str("busy"));
    }
    writer.put(
        "Slot",
        Target::Id(slot_id.to_string()),
        slot.clone(),
        None,
        Authority::Derived,
    )?;
    Ok(slot)
}

/// Frees a slot this appointment no longer holds, unless another appointment holds it.
fn release(writer: &mut Writer<'_>, slot_id: &str, appointment_id: &str) -> Result<(), Error> {
    let Some(stored) = writer
        .tx()
        .read("Slot", slot_id)
        .map_err(Error::from)?
        .filter(|s| !s.deleted)
    else {
        return Ok(());
    };
    let mut slot = fhir::json::parse_str(&stored.body)
        .map_err(|e| Error::Internal(format!("stored Slot/{slot_id} does not parse: {e}")))?;
    if slot.get("status").and_then(Json::as_str) != Some("busy") {
        return Ok(());
    }
    if held_by_another(writer, slot_id, appointment_id)? {
        return Ok(());
    }
    if let Some(object) = slot.as_object_mut() {
        object.insert("status".to_string(), Json::str("free"));
    }
    writer.put(
        "Slot",
        Target::Id(slot_id.to_string()),
        slot,
        None,
        Authority::Derived,
    )?;
    Ok(())
}

/// Whether an appointment other than `appointment_id` holds the slot (imported or synced data
/// may have two; freeing the slot under the other would invite a third).
fn held_by_another(
    writer: &mut Writer<'_>,
    slot_id: &str,
    appointment_id: &str,
) -> Result<bool, Error> {
    let now_ms = writer.now_ms();
    let query = internal_query(
        "Appointment",
        &[
            ("slot".to_string(), format!("Slot/{slot_id}")),
            ("status".to_string(), HOLDING.join(",")),
        ],
        now_ms,
    )?;
    let mut lookup = TxLookup { tx: writer.tx() };
    let ids = lookup.search_ids(&query, 2)?;
    Ok(ids.iter().any(|id| id != appointment_id))
}

fn slot_not_free(slot_id: &str, status: &str) -> Error {
    let (es, en) = match status {
        "busy" => (
            "ya está ocupado por otra cita",
            "is already taken by another appointment",
        ),
        "busy-unavailable" | "busy-tentative" => ("no está disponible", "is not available"),
        "entered-in-error" => ("fue anulado", "was entered in error"),
        _ => ("no está libre", "is not free"),
    };
    Error::Conflict(vec![
        Issue::error(
            IssueCode::Conflict,
            format!("El espacio Slot/{slot_id} {es}; elija otro horario. No se guardó la cita."),
            format!("Slot/{slot_id} {en}; choose another time. The appointment was not stored."),
        )
        .at("Appointment.slot"),
    ])
}
