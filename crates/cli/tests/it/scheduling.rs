//! Appointments and agendas (issue 17) through HTTP, as a clinic's staff and its patients use
//! them: publishing an agenda as free slots, booking (the slot becomes busy in the same
//! transaction), the double booking refused with 409 and nothing stored, moving, cancelling and
//! no-shows; and the attackers: a patient booking for someone else, a receptionist of another
//! clinic reaching for this clinic's patients.

use serde_json::{Value, json};

use crate::security::{CLUES_A, CLUES_B, account, get_as, ids_of, send_as, world};
use crate::support::*;

/// A practitioner's consultorio agenda; returns the Schedule id.
fn consultorio(node: &Node) -> String {
    let practitioner = post(
        node,
        "Practitioner",
        &json!({"resourceType": "Practitioner", "name": [{"family": "Sánchez", "given": ["Laura"]}]}),
    );
    assert_eq!(practitioner.status, 201, "{}", practitioner.text);
    let practitioner = practitioner.body["id"].as_str().unwrap().to_string();
    let schedule = post(
        node,
        "Schedule",
        &json!({
            "resourceType": "Schedule",
            "active": true,
            "serviceType": [{"text": "Consulta externa"}],
            "actor": [{"reference": format!("Practitioner/{practitioner}")}],
            "comment": "Consultorio 1"
        }),
    );
    assert_eq!(schedule.status, 201, "{}", schedule.text);
    schedule.body["id"].as_str().unwrap().to_string()
}

fn parameter(reply: &Reply, name: &str) -> i64 {
    reply.body["parameter"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["valueInteger"].as_i64())
        .unwrap_or_else(|| panic!("no {name} in {}", reply.text))
}

fn appointment(patient: &str, slot: &str) -> Value {
    json!({
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": format!("Slot/{slot}")}],
        "participant": [{"actor": {"reference": format!("Patient/{patient}")}, "status": "accepted"}]
    })
}

fn slot_status(node: &Node, slot: &str) -> String {
    let read = get(node, &format!("Slot/{slot}"));
    assert_eq!(read.status, 200, "{}", read.text);
    read.body["status"].as_str().unwrap().to_string()
}

/// The free slots of a schedule on 2026-12-08, in start order.
fn free_slots(node: &Node, token: &str, schedule: &str) -> Vec<String> {
    let found = get_as(
        node,
        token,
        &format!(
            "fhir/Slot?schedule=Schedule/{schedule}&status=free&start=ge2026-12-08&start=lt2026-12-09&_sort=start"
        ),
    );
    assert_eq!(found.status, 200, "{}", found.text);
    ids_of(&found.body)
}

#[test]
fn an_agenda_books_each_slot_once_and_moving_or_cancelling_frees_it() {
    let w = world();
    let node = &w.node;
    let schedule = consultorio(node);
    let desk = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);

    // Publishing: 08:00–09:00 in 20-minute slots, on a Tuesday. Asking again creates nothing.
    let path = format!(
        "fhir/Schedule/{schedule}/$generar-espacios?desde=2026-12-08&apertura=08:00&cierre=09:00&duracion=20"
    );
    let generated = send_as(node, &desk, "POST", &path, &json!(null));
    assert_eq!(generated.status, 200, "{}", generated.text);
    assert_eq!(parameter(&generated, "creados"), 3);
    let again = send_as(node, &desk, "POST", &path, &json!(null));
    assert_eq!(parameter(&again, "creados"), 0);
    assert_eq!(parameter(&again, "omitidos"), 3);
    let bad = send_as(
        node,
        &desk,
        "POST",
        &format!("fhir/Schedule/{schedule}/$generar-espacios?desde=2026-13-01"),
        &json!(null),
    );
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.diagnostics().contains("desde"), "{}", bad.text);
    let slots = free_slots(node, &desk, &schedule);
    assert_eq!(slots.len(), 3, "{slots:?}");
    let first = get(node, &format!("Slot/{}", slots[0]));
    assert_eq!(first.body["start"], "2026-12-08T08:00:00-06:00");
    assert_eq!(first.body["serviceType"][0]["text"], "Consulta externa");

    // Booking: the slot is busy in the same write, and the appointment takes its times.
    let booked = send_as(
        node,
        &desk,
        "POST",
        "fhir/Appointment",
        &appointment(&w.p1, &slots[0]),
    );
    assert_eq!(booked.status, 201, "{}", booked.text);
    assert_eq!(booked.body["start"], "2026-12-08T08:00:00-06:00");
    assert_eq!(booked.body["end"], "2026-12-08T08:20:00-06:00");
    assert_eq!(slot_status(node, &slots[0]), "busy");
    assert_eq!(free_slots(node, &desk, &schedule), slots[1..].to_vec());
    // The schedule's practitioner is now a participant: the agenda by practitioner finds it.
    let practitioner = get(node, &format!("Schedule/{schedule}")).body["actor"][0]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let by_practitioner = get_as(
        node,
        &desk,
        &format!("fhir/Appointment?practitioner={practitioner}&date=2026-12-08"),
    );
    assert_eq!(
        ids_of(&by_practitioner.body),
        vec![booked.body["id"].as_str().unwrap().to_string()]
    );

    // The same slot again, for another patient: 409 in Spanish and English, nothing stored.
    let twice = send_as(
        node,
        &desk,
        "POST",
        "fhir/Appointment",
        &appointment(&w.p2, &slots[0]),
    );
    assert_eq!(twice.status, 409, "{}", twice.text);
    assert_eq!(twice.body["resourceType"], "OperationOutcome");
    assert!(twice.text.contains("ya está ocupado"), "{}", twice.text);
    assert!(twice.text.contains("already taken"), "{}", twice.text);
    let of_p2 = get(node, &format!("Appointment?patient=Patient/{}", w.p2));
    assert_eq!(ids_of(&of_p2.body), Vec::<String>::new());
    // Nor inside a transaction: both entries or neither.
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": appointment(&w.p2, &slots[1]), "request": {"method": "POST", "url": "Appointment"}},
            {"resource": appointment(&w.p1, &slots[1]), "request": {"method": "POST", "url": "Appointment"}}
        ]
    });
    let transaction = post(node, "", &bundle);
    assert_eq!(transaction.status, 409, "{}", transaction.text);
    assert_eq!(slot_status(node, &slots[1]), "free");
    assert_eq!(
        ids_of(&get(node, &format!("Appointment?patient=Patient/{}", w.p2)).body),
        Vec::<String>::new()
    );

    // Moving to another slot frees the first; cancelling frees the second.
    let id = booked.body["id"].as_str().unwrap().to_string();
    let mut moved = booked.body.clone();
    moved["slot"] = json!([{"reference": format!("Slot/{}", slots[1])}]);
    moved.as_object_mut().unwrap().remove("start");
    moved.as_object_mut().unwrap().remove("end");
    let moved = send_as(
        node,
        &desk,
        "PUT",
        &format!("fhir/Appointment/{id}"),
        &moved,
    );
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["start"], "2026-12-08T08:20:00-06:00");
    assert_eq!(slot_status(node, &slots[0]), "free");
    assert_eq!(slot_status(node, &slots[1]), "busy");
    let mut cancelled = moved.body.clone();
    cancelled["status"] = json!("cancelled");
    let cancelled = send_as(
        node,
        &desk,
        "PUT",
        &format!("fhir/Appointment/{id}"),
        &cancelled,
    );
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(slot_status(node, &slots[1]), "free");

    // The freed slot can be booked; a no-show is recorded and keeps its slot.
    let second = send_as(
        node,
        &desk,
        "POST",
        "fhir/Appointment",
        &appointment(&w.p2, &slots[0]),
    );
    assert_eq!(second.status, 201, "{}", second.text);
    let mut missed = second.body.clone();
    missed["status"] = json!("noshow");
    let second_id = second.body["id"].as_str().unwrap();
    let missed = send_as(
        node,
        &desk,
        "PUT",
        &format!("fhir/Appointment/{second_id}"),
        &missed,
    );
    assert_eq!(missed.status, 200, "{}", missed.text);
    let no_shows = get_as(
        node,
        &desk,
        "fhir/Appointment?status=noshow&date=2026-12-08",
    );
    assert_eq!(ids_of(&no_shows.body), vec![second_id.to_string()]);
    assert_eq!(slot_status(node, &slots[0]), "busy");
}

#[test]
fn a_patient_books_only_for_themself_and_another_clinic_cannot_see_or_book() {
    let w = world();
    let node = &w.node;
    let schedule = consultorio(node);
    let desk = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);
    let path = format!(
        "fhir/Schedule/{schedule}/$generar-espacios?desde=2026-12-08&apertura=08:00&cierre=09:00&duracion=20"
    );
    assert_eq!(
        send_as(node, &desk, "POST", &path, &json!(null)).status,
        200
    );

    // The patient sees the free slots and books one for themself.
    let ana = account(&w.data, "ana", "patient", &["--patient", &w.p1]);
    let slots = free_slots(node, &ana, &schedule);
    assert_eq!(slots.len(), 3);
    let own = send_as(
        node,
        &ana,
        "POST",
        "fhir/Appointment",
        &appointment(&w.p1, &slots[0]),
    );
    assert_eq!(own.status, 201, "{}", own.text);
    assert_eq!(slot_status(node, &slots[0]), "busy");

    // Booking for someone else is refused and leaves nothing behind; so is freeing a slot by
    // hand or publishing an agenda.
    let for_other = send_as(
        node,
        &ana,
        "POST",
        "fhir/Appointment",
        &appointment(&w.p2, &slots[1]),
    );
    assert!(matches!(for_other.status, 403 | 404), "{}", for_other.text);
    assert_eq!(slot_status(node, &slots[1]), "free");
    assert_eq!(
        ids_of(&get(node, &format!("Appointment?patient=Patient/{}", w.p2)).body),
        Vec::<String>::new()
    );
    let mut freed = get(node, &format!("Slot/{}", slots[0])).body;
    freed["status"] = json!("free");
    let freed = send_as(
        node,
        &ana,
        "PUT",
        &format!("fhir/Slot/{}", slots[0]),
        &freed,
    );
    assert!(matches!(freed.status, 403 | 404), "{}", freed.text);
    assert_eq!(slot_status(node, &slots[0]), "busy");
    let publish = send_as(node, &ana, "POST", &path, &json!(null));
    assert!(matches!(publish.status, 403 | 404), "{}", publish.text);
    // The patient's own appointments, and only those.
    let mine = get_as(node, &ana, "fhir/Appointment");
    assert_eq!(
        ids_of(&mine.body),
        vec![own.body["id"].as_str().unwrap().to_string()]
    );

    // A receptionist of clinic B: the patients of A are not hers to book or to see.
    let other_desk = account(
        &w.data,
        "recepcion-b",
        "receptionist",
        &["--clues", CLUES_B],
    );
    let reach = send_as(
        node,
        &other_desk,
        "POST",
        "fhir/Appointment",
        &appointment(&w.p2, &slots[1]),
    );
    assert!(matches!(reach.status, 403 | 404), "{}", reach.text);
    assert_eq!(slot_status(node, &slots[1]), "free");
    let look = get_as(
        node,
        &other_desk,
        &format!("fhir/Appointment?patient=Patient/{}", w.p1),
    );
    assert_eq!(ids_of(&look.body), Vec::<String>::new(), "{}", look.text);
    let by_id = get_as(
        node,
        &other_desk,
        &format!("fhir/Appointment/{}", own.body["id"].as_str().unwrap()),
    );
    // 403 naming the care-relationship rule, as for every record of another clinic.
    assert_eq!(by_id.status, 403, "{}", by_id.text);
    assert!(!by_id.text.contains(&w.p1), "{}", by_id.text);
}

fn turn_of(encounter: &Value) -> i64 {
    encounter["extension"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"].as_str().unwrap().ends_with("/turno"))
        .unwrap()["valueInteger"]
        .as_i64()
        .unwrap()
}

fn history_statuses(encounter: &Value) -> Vec<String> {
    encounter["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_days_queue_checks_in_triages_and_calls_the_most_urgent_first() {
    let w = world();
    let node = &w.node;
    let schedule = consultorio(node);
    let desk = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);
    let nurse = account(&w.data, "enfermera", "nurse", &["--clues", CLUES_A]);
    let doctor = account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    let path = format!(
        "fhir/Schedule/{schedule}/$generar-espacios?desde=2026-12-08&apertura=08:00&cierre=09:00&duracion=20"
    );
    assert_eq!(
        send_as(node, &desk, "POST", &path, &json!(null)).status,
        200
    );
    let slots = free_slots(node, &desk, &schedule);
    let booked = send_as(
        node,
        &desk,
        "POST",
        "fhir/Appointment",
        &appointment(&w.p1, &slots[0]),
    );
    assert_eq!(booked.status, 201, "{}", booked.text);
    let appointment_id = booked.body["id"].as_str().unwrap();

    // Check-in from the appointment, then a walk-in: turns 1 and 2.
    let first = send_as(
        node,
        &desk,
        "POST",
        &format!("fhir/Encounter/$llegada?cita={appointment_id}"),
        &json!(null),
    );
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["status"], "arrived");
    assert_eq!(turn_of(&first.body), 1);
    assert_eq!(
        first.body["appointment"][0]["reference"],
        format!("Appointment/{appointment_id}")
    );
    let arrived = get(node, &format!("Appointment/{appointment_id}"));
    assert_eq!(arrived.body["status"], "arrived");
    let walk_in = send_as(
        node,
        &desk,
        "POST",
        "fhir/Encounter/$llegada",
        &json!({"resourceType": "Parameters", "parameter": [{"name": "paciente", "valueString": format!("Patient/{}", w.p2)}]}),
    );
    assert_eq!(walk_in.status, 201, "{}", walk_in.text);
    assert_eq!(turn_of(&walk_in.body), 2);
    // Twice in the queue: refused.
    let again = send_as(
        node,
        &desk,
        "POST",
        &format!("fhir/Encounter/$llegada?paciente={}", w.p2),
        &json!(null),
    );
    assert_eq!(again.status, 409, "{}", again.text);
    // Another clinic's desk cannot check in this clinic's patient.
    let other_desk = account(
        &w.data,
        "recepcion-b",
        "receptionist",
        &["--clues", CLUES_B],
    );
    let reach = send_as(
        node,
        &other_desk,
        "POST",
        &format!("fhir/Encounter/$llegada?paciente={}", w.p1),
        &json!(null),
    );
    assert!(matches!(reach.status, 403 | 404), "{}", reach.text);

    // The nurse finds the walk-in urgent; the reception desk cannot rewrite the visit itself.
    let walk_in_id = walk_in.body["id"].as_str().unwrap();
    let triaged = send_as(
        node,
        &nurse,
        "POST",
        &format!("fhir/Encounter/{walk_in_id}/$triage?prioridad=UR"),
        &json!(null),
    );
    assert_eq!(triaged.status, 200, "{}", triaged.text);
    assert_eq!(triaged.body["status"], "triaged");
    assert_eq!(triaged.body["priority"]["coding"][0]["code"], "UR");
    let mut smuggled = triaged.body.clone();
    smuggled["reasonCode"] = json!([{"text": "dolor torácico"}]);
    let smuggled = send_as(
        node,
        &desk,
        "PUT",
        &format!("fhir/Encounter/{walk_in_id}"),
        &smuggled,
    );
    assert_eq!(smuggled.status, 403, "{}", smuggled.text);

    // The physician's "next patient": the urgent walk-in before the earlier appointment.
    let next = send_as(
        node,
        &doctor,
        "POST",
        "fhir/Encounter/$siguiente",
        &json!(null),
    );
    assert_eq!(next.status, 200, "{}", next.text);
    assert_eq!(next.body["id"], walk_in_id);
    assert_eq!(next.body["status"], "in-progress");
    let then = send_as(
        node,
        &doctor,
        "POST",
        "fhir/Encounter/$siguiente",
        &json!(null),
    );
    assert_eq!(then.body["id"], first.body["id"]);
    let nobody = send_as(
        node,
        &doctor,
        "POST",
        "fhir/Encounter/$siguiente",
        &json!(null),
    );
    assert_eq!(
        nobody.body["resourceType"], "OperationOutcome",
        "{}",
        nobody.text
    );
    let patient = account(&w.data, "ana", "patient", &["--patient", &w.p1]);
    let jump = send_as(
        node,
        &patient,
        "POST",
        "fhir/Encounter/$siguiente",
        &json!(null),
    );
    assert_eq!(jump.status, 403, "{}", jump.text);

    // The end: every step's time is in the history, each period closed.
    let done = send_as(
        node,
        &doctor,
        "POST",
        &format!("fhir/Encounter/{walk_in_id}/$terminar"),
        &json!(null),
    );
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        history_statuses(&done.body),
        vec!["arrived", "triaged", "in-progress", "finished"]
    );
    for entry in done.body["statusHistory"].as_array().unwrap() {
        assert!(entry["period"]["start"].is_string(), "{entry}");
        assert!(entry["period"]["end"].is_string(), "{entry}");
    }
    assert!(done.body["period"]["end"].is_string());
}

/// Today's civil date in Mexico City (UTC−6 all year since 2022), as the node computes it.
fn today_in_mexico() -> String {
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let days = (now_s - 6 * 3600).div_euclid(86_400);
    // Civil date from a day number (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The turns listed under "waiting" on the waiting-room screen, in order.
fn sala_waiting(html: &str) -> Vec<u32> {
    let Some(list) = html.split("id=\"sala-waiting\"").nth(1) else {
        return Vec::new();
    };
    let list = list.split("</ol>").next().unwrap();
    list.split("data-turn=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

fn sala_called(html: &str) -> String {
    html.split("id=\"sala-called\"")
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .trim()
        .to_string()
}

/// The clinic day through the UI, as a browser without JavaScript drives it: the desk checks
/// in an appointment from the day's agenda and a walk-in from the patient's card, the nurse
/// finds the walk-in urgent, the waiting-room screen reorders, the physician's "siguiente
/// paciente" opens the urgent patient's chart, and the screen shows the turn called. The
/// screen (no sign-in) never shows a name, an id or anything clinical.
#[test]
fn the_clinic_day_in_the_ui_and_the_waiting_room_shows_turns_only() {
    use crate::security::PASSWORD;
    use crate::security_web::Browser;

    let w = world();
    let node = &w.node;
    let schedule = consultorio(node);
    let desk_token = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);
    account(&w.data, "enfermera", "nurse", &["--clues", CLUES_A]);
    account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    let today = today_in_mexico();
    let path = format!(
        "fhir/Schedule/{schedule}/$generar-espacios?desde={today}&dias=1,2,3,4,5,6,7&apertura=08:00&cierre=09:00&duracion=20"
    );
    let generated = send_as(node, &desk_token, "POST", &path, &json!(null));
    assert_eq!(parameter(&generated, "creados"), 3, "{}", generated.text);
    let slot = ids_of(
        &get_as(
            node,
            &desk_token,
            &format!("fhir/Slot?schedule=Schedule/{schedule}&status=free&_sort=start"),
        )
        .body,
    )[0]
    .clone();
    let booked = send_as(
        node,
        &desk_token,
        "POST",
        "fhir/Appointment",
        &appointment(&w.p1, &slot),
    );
    assert_eq!(booked.status, 201, "{}", booked.text);
    let appointment_id = booked.body["id"].as_str().unwrap().to_string();

    // The desk: today's agenda by practitioner, with the booked patient and a check-in button.
    let desk = Browser::new(node);
    assert_eq!(desk.sign_in("recepcion", PASSWORD, "/ui/fila").status, 303);
    let csrf = desk.csrf();
    let day = desk.get("/ui/fila");
    assert_eq!(day.status, 200, "{}", day.body);
    assert!(day.body.contains("Laura Sánchez"), "{}", day.body);
    assert!(day.body.contains("Ana Pérez"), "{}", day.body);
    assert!(
        day.body
            .contains(&format!("data-appointment=\"{appointment_id}\""))
    );
    let checked = desk.post(
        "/ui/fila/llegada",
        &[("csrf", csrf.as_str()), ("cita", appointment_id.as_str())],
    );
    assert_eq!(checked.status, 303, "{}", checked.body);
    assert_eq!(checked.location, "/ui/fila?ok=queue.checked_in");
    // Booking from the card: the slot just taken is refused in words; another is booked.
    let form = desk.get(&format!("/ui/pacientes/{}/cita", w.p2));
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(!form.body.contains(&format!("data-slot=\"{slot}\"")));
    let taken = desk.post(
        &format!("/ui/pacientes/{}/cita", w.p2),
        &[("csrf", csrf.as_str()), ("espacio", slot.as_str())],
    );
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert!(taken.body.contains("ya está ocupado"), "{}", taken.body);
    let other_slot = form
        .body
        .split("data-slot=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let booked_ui = desk.post(
        &format!("/ui/pacientes/{}/cita", w.p2),
        &[("csrf", csrf.as_str()), ("espacio", other_slot.as_str())],
    );
    assert_eq!(booked_ui.status, 303, "{}", booked_ui.body);
    assert_eq!(
        booked_ui.location,
        format!("/ui/pacientes/{}/ficha?ok=queue.booked", w.p2)
    );
    assert_eq!(
        get(node, &format!("Slot/{other_slot}")).body["status"],
        "busy"
    );
    // A walk-in, from the patient's card.
    let card = desk.get(&format!("/ui/pacientes/{}/ficha", w.p2));
    assert!(card.body.contains("id=\"walk-in\""), "{}", card.body);
    let walked = desk.post(
        "/ui/fila/llegada",
        &[("csrf", csrf.as_str()), ("paciente", w.p2.as_str())],
    );
    assert_eq!(walked.status, 303, "{}", walked.body);
    // Twice: the page says so, in words.
    let twice = desk.post(
        "/ui/fila/llegada",
        &[("csrf", csrf.as_str()), ("paciente", w.p2.as_str())],
    );
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert!(twice.body.contains("ya está en la fila"), "{}", twice.body);

    // The waiting room, without signing in: turns in arrival order, nothing else.
    let screen = Browser::new(node);
    let sala = screen.get(&format!("/ui/sala?clues={CLUES_A}"));
    assert_eq!(sala.status, 200, "{}", sala.body);
    assert_eq!(sala_waiting(&sala.body), vec![1, 2], "{}", sala.body);
    assert!(sala.body.contains("http-equiv=\"refresh\""));
    let visits = get(node, "Encounter?_count=50");
    let encounter_ids = ids_of(&visits.body);
    assert_eq!(encounter_ids.len(), 2);
    let no_leak = |html: &str| {
        for secret in [
            "Ana",
            "Pérez",
            "Beto",
            "Ruiz",
            "1980",
            &w.p1,
            &w.p2,
            &appointment_id,
        ]
        .into_iter()
        .chain(encounter_ids.iter().map(String::as_str))
        {
            assert!(
                !html.contains(secret),
                "the waiting room shows {secret:?}: {html}"
            );
        }
    };
    no_leak(&sala.body);
    // What one refresh costs on the wire: the page as sent gzip'd (the TV's browser asks for
    // it), and as HTML.
    let compressed = reqwest::blocking::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .get(crate::security::url_of(
            node,
            &format!("ui/sala?clues={CLUES_A}"),
        ))
        .header("accept-encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(
        compressed.headers()["content-encoding"].to_str().unwrap(),
        "gzip"
    );
    let wire_bytes = compressed.bytes().unwrap().len();
    eprintln!(
        "waiting-room page, 2 turns waiting: {} bytes of HTML, {wire_bytes} bytes gzip'd",
        sala.body.len()
    );
    assert!(sala.body.len() < 4_096, "{} bytes", sala.body.len());
    assert!(wire_bytes < 1_024, "{wire_bytes} bytes on the wire");
    assert_eq!(screen.get("/ui/sala").status, 400);

    // The nurse finds the walk-in urgent: the screen reorders.
    let nurse = Browser::new(node);
    assert_eq!(nurse.sign_in("enfermera", PASSWORD, "/ui/fila").status, 303);
    let nurse_csrf = nurse.csrf();
    let list = nurse.get("/ui/fila");
    let walk_in_row = list
        .body
        .split("<tr class=\"visit\"")
        .find(|row| row.contains(&format!("data-patient=\"{}\"", w.p2)))
        .unwrap();
    let encounter = walk_in_row
        .split("action=\"/ui/fila/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let triaged = nurse.post(
        &format!("/ui/fila/{encounter}"),
        &[
            ("csrf", nurse_csrf.as_str()),
            ("accion", "triage"),
            ("prioridad", "UR"),
        ],
    );
    assert_eq!(triaged.status, 303, "{}", triaged.body);
    let sala = screen.get(&format!("/ui/sala?clues={CLUES_A}"));
    assert_eq!(sala_waiting(&sala.body), vec![2, 1], "{}", sala.body);
    assert_eq!(sala_called(&sala.body), "—");
    no_leak(&sala.body);

    // The physician's next patient is the urgent walk-in: the button opens the chart.
    let doctor = Browser::new(node);
    assert_eq!(doctor.sign_in("medica", PASSWORD, "/ui/fila").status, 303);
    let doctor_csrf = doctor.csrf();
    assert!(doctor.get("/ui/fila").body.contains("id=\"next-patient\""));
    let next = doctor.post("/ui/fila/siguiente", &[("csrf", doctor_csrf.as_str())]);
    assert_eq!(next.status, 303, "{}", next.body);
    assert_eq!(next.location, format!("/ui/pacientes/{}", w.p2));
    let chart = doctor.get(&next.location);
    assert_eq!(chart.status, 200, "{}", chart.body);
    assert!(chart.body.contains("Beto"), "{}", chart.body);
    let sala = screen.get(&format!("/ui/sala?clues={CLUES_A}"));
    assert_eq!(sala_called(&sala.body), "2", "{}", sala.body);
    assert_eq!(sala_waiting(&sala.body), vec![1], "{}", sala.body);
    no_leak(&sala.body);
}

/// Twenty desks booking one slot at the same moment (on PostgreSQL, twenty concurrent
/// writers): exactly one booking is stored, every other answer is 409, and the slot is busy.
#[test]
fn concurrent_bookings_of_one_slot_store_exactly_one() {
    let w = world();
    let node = &w.node;
    let schedule = consultorio(node);
    let desk = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);
    let path = format!(
        "fhir/Schedule/{schedule}/$generar-espacios?desde=2026-12-08&apertura=08:00&cierre=08:20&duracion=20"
    );
    assert_eq!(
        send_as(node, &desk, "POST", &path, &json!(null)).status,
        200
    );
    let slot = free_slots(node, &desk, &schedule)[0].clone();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|n| {
                let (desk, slot) = (&desk, &slot);
                let patient = if n % 2 == 0 { &w.p1 } else { &w.p2 };
                scope.spawn(move || {
                    send_as(
                        node,
                        desk,
                        "POST",
                        "fhir/Appointment",
                        &appointment(patient, slot),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let stored = get(node, &format!("Appointment?slot=Slot/{slot}"));
    assert_eq!(ids_of(&stored.body).len(), 1, "{}", stored.text);
    assert_eq!(slot_status(node, &slot), "busy");
}
