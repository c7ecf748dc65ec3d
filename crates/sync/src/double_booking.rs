//! Double booking across nodes (issue 17): one slot booked at two nodes while they were apart.
//!
//! On one node the booking rule makes a second booking of a busy slot impossible (409,
//! `ehr/src/write/booking.rs`). Two nodes apart cannot see each other's bookings, so both
//! Appointments are valid where they were made; they are different resources (UUIDv7 ids), so
//! the conflict rule never sees them as one record: sync applies both, and only the hub, the
//! one place every pair meets, can notice. So the hub decides, once, and what it decides
//! reaches the other nodes as ordinary versions: every node shows the same outcome without
//! deciding anything itself.
//!
//! The decision (pure, [`order`]): among the Appointments that hold one slot, the earliest
//! booking keeps it, by the `meta.lastUpdated` of each Appointment's first version (the booking
//! node's clock when it was made, the physical part of its stamp, kept unchanged by every node),
//! then by id. Appointments already marked stay marked, so a later edit of either one never
//! moves the slot to the other. Nothing is deleted or cancelled: every other holder is marked
//! with the tag `doble-reserva` (a new version written on the hub, carried back by sync) and a
//! Task (`Task?code=…|doble-reserva`) is opened for the reception of the clinic that owns the
//! agenda (`owner.identifier` = its CLUES, so referral routing in `referral.rs` brings the Task
//! and the patient's record to that clinic), naming both Appointments and the slot. A person
//! then moves one of them; the system never guesses which patient yields.

use std::cmp::Ordering;

use serde_json::json;

use crate::hub::TASK_INPUT_SYSTEM;

/// Task code of a double booking to resolve (same CodeSystem as the other review Tasks).
pub use ehr::DOUBLE_BOOKING_TASK_CODE as TASK_CODE_DOUBLE_BOOKING;
/// The tag's CodeSystem and code (`ehr` owns them: the UI reads them too).
pub use ehr::{
    DOUBLE_BOOKING_TAG_CODE as TAG_DOUBLE_BOOKING, DOUBLE_BOOKING_TAG_SYSTEM as TAG_SYSTEM,
};

/// One Appointment holding a slot, as the hub sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booking {
    pub id: String,
    /// `meta.lastUpdated` of its first version, in ms since the epoch.
    pub booked_ms: i64,
    /// Already marked as the one to move (by an earlier decision).
    pub marked: bool,
    /// The patient it is for, if any.
    pub patient: Option<String>,
}

/// The order in which bookings of one slot are entitled to it: unmarked before marked, then
/// the earliest booking, then the smaller id (total, so every node would agree).
pub fn order(a: &Booking, b: &Booking) -> Ordering {
    a.marked
        .cmp(&b.marked)
        .then(a.booked_ms.cmp(&b.booked_ms))
        .then_with(|| a.id.cmp(&b.id))
}

/// The booking that keeps the slot and the ones newly to be marked (pure). Nothing to mark
/// when at most one holder is unmarked.
pub fn decide(mut bookings: Vec<Booking>) -> Option<(Booking, Vec<Booking>)> {
    bookings.sort_by(order);
    bookings.dedup_by(|a, b| a.id == b.id);
    let mut iter = bookings.into_iter();
    let keeper = iter.next()?;
    let losers: Vec<Booking> = iter.filter(|b| !b.marked).collect();
    if losers.is_empty() || keeper.marked {
        return None;
    }
    Some((keeper, losers))
}

/// Whether an Appointment carries the double-booking tag.
pub use ehr::is_double_booked as is_marked;

/// The tag added to the Appointment that must be moved.
pub fn tag() -> serde_json::Value {
    json!({
        "system": TAG_SYSTEM,
        "code": TAG_DOUBLE_BOOKING,
        "display": "Doble reserva: reprogramar / Double booking: reschedule"
    })
}

/// The Task for the owning clinic's reception (pure). `owner` is the CLUES of the clinic whose
/// agenda holds the slot, when known.
pub fn task(
    slot_id: &str,
    keeper: &Booking,
    loser: &Booking,
    owner: Option<&str>,
    now: &str,
) -> serde_json::Value {
    let input = |code: &str, display: &str, reference: String| {
        json!({
            "type": {"coding": [{"system": TASK_INPUT_SYSTEM, "code": code, "display": display}]},
            "valueReference": {"reference": reference}
        })
    };
    let mut task = json!({
        "resourceType": "Task",
        "status": "requested",
        "intent": "proposal",
        "priority": "urgent",
        "code": {"coding": [{
            "system": ehr::TASK_CODE_SYSTEM,
            "code": TASK_CODE_DOUBLE_BOOKING,
            "display": "Doble reserva"
        }]},
        "description": format!(
            "Doble reserva: el espacio Slot/{slot_id} se reservó en dos nodos sin conexión entre \
             ellos. Conserva el espacio la cita Appointment/{keeper} (reservada primero); \
             reprograme la cita Appointment/{loser} con el paciente. / Double booking: slot \
             Slot/{slot_id} was booked at two nodes while apart. Appointment/{keeper} (booked \
             first) keeps it; reschedule Appointment/{loser} with the patient.",
            keeper = keeper.id,
            loser = loser.id,
        ),
        "focus": {"reference": format!("Appointment/{}", loser.id)},
        "authoredOn": now,
        "lastModified": now,
        "input": [
            input("cita-conserva", "Cita que conserva el espacio", format!("Appointment/{}", keeper.id)),
            input("espacio", "Espacio reservado dos veces", format!("Slot/{slot_id}")),
        ]
    });
    if let Some(patient) = &loser.patient {
        task["for"] = json!({"reference": format!("Patient/{patient}")});
    }
    if let Some(clues) = owner {
        task["owner"] = json!({
            "identifier": {"system": mexico::systems::CLUES, "value": clues},
            "display": format!("Recepción {clues}")
        });
    }
    task
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking(id: &str, booked_ms: i64, marked: bool) -> Booking {
        Booking {
            id: id.to_string(),
            booked_ms,
            marked,
            patient: Some(format!("p-{id}")),
        }
    }

    #[test]
    fn the_earliest_booking_keeps_the_slot_whatever_the_order_of_arrival() {
        let a = booking("a", 1_000, false);
        let b = booking("b", 2_000, false);
        let c = booking("c", 1_500, false);
        let (keeper, losers) = decide(vec![b.clone(), a.clone(), c.clone()]).unwrap();
        assert_eq!(keeper.id, "a");
        assert_eq!(
            losers.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(),
            ["c", "b"]
        );
        let (again, _) = decide(vec![c, b, a]).unwrap();
        assert_eq!(again.id, "a");
        // Same instant: the smaller id, so the decision is total.
        let (tie, _) = decide(vec![booking("z", 5, false), booking("y", 5, false)]).unwrap();
        assert_eq!(tie.id, "y");
    }

    #[test]
    fn a_marked_booking_stays_marked_and_nothing_is_decided_twice() {
        // The earlier booking was marked by an earlier decision (it was made offline and
        // arrived last, say, then edited): it never takes the slot back.
        let decided = decide(vec![booking("a", 1_000, true), booking("b", 2_000, false)]);
        assert_eq!(decided, None);
        assert_eq!(decide(vec![booking("a", 1_000, false)]), None);
        assert_eq!(decide(Vec::new()), None);
        // The same Appointment found twice is one booking.
        assert_eq!(
            decide(vec![booking("a", 1, false), booking("a", 1, false)]),
            None
        );
    }

    #[test]
    fn the_task_names_both_appointments_and_is_addressed_to_the_owner() {
        let keeper = booking("a", 1, false);
        let loser = booking("b", 2, false);
        let task = task(
            "s1",
            &keeper,
            &loser,
            Some("DFSSA000001"),
            "2026-12-07T10:00:00Z",
        );
        assert_eq!(task["focus"]["reference"], "Appointment/b");
        assert_eq!(task["for"]["reference"], "Patient/p-b");
        assert_eq!(task["owner"]["identifier"]["value"], "DFSSA000001");
        assert_eq!(task["code"]["coding"][0]["code"], TASK_CODE_DOUBLE_BOOKING);
        let text = task["description"].as_str().unwrap();
        assert!(text.contains("Doble reserva") && text.contains("Double booking"));
        let parsed = fhir::json::parse_str(&task.to_string()).unwrap();
        assert_eq!(
            crate::referral::addressed_clues(&parsed),
            Some("DFSSA000001"),
            "referral routing carries it to the owning clinic"
        );
        let mut appointment = json!({"resourceType": "Appointment", "meta": {"tag": [tag()]}});
        assert!(is_marked(
            &fhir::json::parse_str(&appointment.to_string()).unwrap()
        ));
        appointment["meta"]["tag"][0]["code"] = json!("otra");
        assert!(!is_marked(
            &fhir::json::parse_str(&appointment.to_string()).unwrap()
        ));
    }
}
