//! Issue 17's "done when": a clinic day in the browser, end to end — a booking from the
//! patient's card, a walk-in, an urgent triage that jumps the queue, the waiting-room screen
//! changing, the physician's "siguiente paciente" opening the chart, a signed consultation, a
//! referral to a hospital node that accepts it and books a date (the sender sees "booked"),
//! and the counter-referral coming back. The demo node is a clinic enrolled with a hub; the
//! hospital is a node of its own (`hub.rs`), reached in the same browser at its own address:
//! what crosses between them goes through sync, so the pages are reloaded until it arrives.
//! The referral's steps are the referral suite's own (`referrals::send_referral`, …).

use serde_json::{Value, json};

use crate::harness::{self, Ui, api, id, managing_org};
use crate::hub::{Network, SYNC_TIMEOUT};
use crate::prescribing::{add_diagnosis, sign_through_acknowledgements};
use crate::referrals;

const SIGN_OUT: &str = "form[action='/ui/salir'] button";

/// The turns waiting on the waiting-room screen, in order, and the turn(s) called.
async fn sala(ui: &Ui, clues: &str) -> (Vec<String>, String) {
    ui.goto(&format!("/ui/sala?clues={clues}")).await;
    let called = ui.text("#sala-called").await;
    let mut waiting = Vec::new();
    for item in ui
        .client
        .find_all(fantoccini::Locator::Css("#sala-waiting li"))
        .await
        .unwrap()
    {
        waiting.push(item.attr("data-turn").await.unwrap().unwrap());
    }
    (waiting, called.trim().to_string())
}

/// A practitioner's consultorio with free slots today and the next days (07:00–08:00, 30
/// minutes), published through the API by the desk (`desk`: its token); today's first, in
/// order.
async fn todays_slots(ui: &Ui, desk: &str) -> Vec<String> {
    let practitioners = api(
        ui,
        desk,
        reqwest::Method::GET,
        "Practitioner?_count=1",
        None,
    )
    .await;
    let practitioner = practitioners["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let schedule = api(
        ui,
        desk,
        reqwest::Method::POST,
        "Schedule",
        Some(json!({
            "resourceType": "Schedule",
            "active": true,
            "actor": [{"reference": format!("Practitioner/{practitioner}")}]
        })),
    )
    .await;
    let schedule = schedule["id"].as_str().unwrap().to_string();
    let today = harness::today_iso();
    api(
        ui,
        desk,
        reqwest::Method::POST,
        &format!("Schedule/{schedule}/$generar-espacios?desde={today}&dias=1,2,3,4,5,6,7&apertura=07:00&cierre=08:00&duracion=30"),
        None,
    )
    .await;
    let slots = api(
        ui,
        desk,
        reqwest::Method::GET,
        &format!("Slot?schedule=Schedule/{schedule}&status=free&_sort=start"),
        None,
    )
    .await;
    slots["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect()
}

async fn no_names(ui: &Ui, names: &[String]) {
    let page = ui.client.source().await.unwrap();
    for name in names {
        assert!(
            !page.contains(name.as_str()),
            "the waiting room shows {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clinic_day_from_booking_and_triage_to_referral_and_counter_referral() {
    let network = Network::start().await;
    // The demo node is the enrolled clinic. It holds three clinics' records and pushes them
    // all; the hub refuses the other two clinics' (this node is not theirs), one warning per
    // version: those warnings are kept out of the test's output.
    let ui = Ui::start_node(
        "waits",
        &[],
        &network.clinic_args(),
        &[("RUST_LOG", "warn,sync::clinic=error")],
    )
    .await;
    ui.sign_in_as("recepcion").await;
    let org = ui.user_facility().await;
    let clues = ui.demo.organizations[&org].1.clone();
    let ours: Vec<&Value> = ui
        .demo
        .patients
        .iter()
        .filter(|p| managing_org(p) == Some(org.as_str()))
        .take(2)
        .collect();
    assert_eq!(ours.len(), 2, "two patients registered at {org}");
    let (booked_patient, walk_in) = (id(ours[0]).to_string(), id(ours[1]).to_string());
    let names: Vec<String> = ours
        .iter()
        .flat_map(|p| {
            let (given, family, _) = harness::names(p);
            [given, family]
        })
        .filter(|n| n.len() > 2)
        .collect();

    // The agenda: a practitioner's consultorio, today's slots, one booking.
    let desk = harness::token(&ui, "recepcion").await;
    let slot = todays_slots(&ui, &desk).await.remove(0);
    // The desk books it from the patient's card.
    ui.goto(&format!("/ui/pacientes/{booked_patient}/ficha"))
        .await;
    ui.navigate_by("#act-book").await;
    ui.click(&format!("input[data-slot='{slot}']")).await;
    ui.screenshot("booking").await;
    ui.navigate_by("#book-submit").await;
    assert!(
        ui.path().await.contains("ok=queue.booked"),
        "{}",
        ui.path().await
    );
    let booked = api(
        &ui,
        &desk,
        reqwest::Method::GET,
        &format!("Appointment?slot=Slot/{slot}"),
        None,
    )
    .await;
    let appointment = booked["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        booked["entry"][0]["resource"]["participant"][0]["actor"]["reference"],
        format!("Patient/{booked_patient}")
    );
    let slot_now = api(
        &ui,
        &desk,
        reqwest::Method::GET,
        &format!("Slot/{slot}"),
        None,
    )
    .await;
    assert_eq!(slot_now["status"], "busy");

    // The desk checks the booked patient in from today's agenda, then a walk-in from the card.
    ui.navigate_by("#nav-queue").await;
    ui.screenshot("agenda").await;
    ui.navigate_by(&format!(
        "tr[data-appointment='{appointment}'] button.check-in"
    ))
    .await;
    assert!(ui.path().await.contains("ok=queue.checked_in"));
    ui.goto(&format!("/ui/pacientes/{walk_in}/ficha")).await;
    ui.navigate_by("#walk-in button").await;
    assert_eq!(
        ui.texts("#queue-table tbody tr").await.len(),
        2,
        "both in the queue"
    );
    let (waiting, called) = sala(&ui, &clues).await;
    assert_eq!(waiting, vec!["1", "2"]);
    assert_eq!(called, "—");
    no_names(&ui, &names).await;
    ui.screenshot("sala-arrivals").await;

    // The nurse finds the walk-in urgent: the screen reorders.
    ui.goto("/ui/fila").await;
    ui.navigate_by("form[action='/ui/salir'] button").await;
    ui.sign_in_as("enfermero").await;
    ui.goto("/ui/fila").await;
    ui.select(&format!("tr[data-patient='{walk_in}'] select"), "UR")
        .await;
    ui.navigate_by(&format!("tr[data-patient='{walk_in}'] form.triage button"))
        .await;
    assert_eq!(
        ui.css(&format!("tr[data-patient='{walk_in}']"))
            .await
            .attr("data-priority")
            .await
            .unwrap()
            .as_deref(),
        Some("UR")
    );
    let (waiting, _) = sala(&ui, &clues).await;
    assert_eq!(waiting, vec!["2", "1"], "the urgent walk-in goes first");
    no_names(&ui, &names).await;
    ui.screenshot("sala-triaged").await;

    // The physician's next patient: the urgent walk-in's chart opens; the screen calls turn 2.
    ui.goto("/ui/fila").await;
    ui.navigate_by("form[action='/ui/salir'] button").await;
    ui.sign_in_as("medica").await;
    ui.goto("/ui/fila").await;
    ui.navigate_by("#next-patient").await;
    assert_eq!(ui.path().await, format!("/ui/pacientes/{walk_in}"));
    ui.css("#act-consult").await;
    ui.screenshot("next-patient-chart").await;
    let (waiting, called) = sala(&ui, &clues).await;
    assert_eq!(called, "2");
    assert_eq!(waiting, vec!["1"]);
    no_names(&ui, &names).await;
    ui.screenshot("sala-called").await;

    // The consultation: a signed note for the walk-in.
    ui.goto(&format!("/ui/pacientes/{walk_in}/consulta")).await;
    ui.fill("#subjective", "Cefalea intensa desde ayer; mareo.")
        .await;
    ui.fill("#objective", "TA elevada en la toma de enfermería.")
        .await;
    add_diagnosis(&ui, "presión alta", "I10").await;
    ui.fill("#plan", "Valoración por medicina interna.").await;
    sign_through_acknowledgements(&ui).await;
    assert!(ui.text("[role=status]").await.contains("Nota firmada"));
    ui.screenshot("consultation-signed").await;

    // The referral crosses to the hospital node through the hub. The form offers the hospital
    // once its directory entry has come down from the hub.
    let refer_page = format!("/ui/pacientes/{walk_in}/referencia");
    let hospital_option = format!("#to option[value='Organization/{}']", network.hospital_org);
    ui.wait_for(&refer_page, &hospital_option, SYNC_TIMEOUT)
        .await;
    let task = referrals::send_referral(&ui, &walk_in, &network.hospital_org).await;
    let sent = std::time::Instant::now();
    ui.navigate_by(SIGN_OUT).await;

    // At the hospital (same browser, its own sign-in): the referral reaches its inbox with the
    // patient's record; its physician accepts it and books a date in the hospital's agenda.
    let (user, password, token) = &network.physician;
    let booked = {
        let _hospital = ui.at(&network.hospital);
        referrals::open_agenda(&ui, token).await;
        ui.sign_in_with(user, password).await;
        referrals::wait_for_state(&ui, "#entrantes", &task, "requested", SYNC_TIMEOUT).await;
        // Not a bound (the demo node pushes its whole imported history first): a figure for
        // the report.
        eprintln!(
            "referral in the hospital's inbox {} s after it was sent",
            sent.elapsed().as_secs()
        );
        ui.screenshot("hospital-inbox").await;
        referrals::accept_and_book(&ui, token, &task, &walk_in).await;
        let booked = std::time::Instant::now();
        ui.navigate_by(SIGN_OUT).await;
        booked
    };

    // The sending clinic sees "booked", with the hospital's appointment.
    ui.sign_in().await;
    referrals::wait_for_state(&ui, "#enviadas", &task, "booked", SYNC_TIMEOUT).await;
    eprintln!(
        "'booked' at the clinic {} ms after the hospital booked",
        booked.elapsed().as_millis()
    );
    ui.screenshot("outbox-booked").await;
    ui.navigate_by(SIGN_OUT).await;

    // The counter-referral: written at the hospital on the referral's page, it comes back.
    {
        let _hospital = ui.at(&network.hospital);
        ui.sign_in_with(user, password).await;
        ui.goto(&format!("/ui/pacientes/{walk_in}")).await;
        ui.navigate_by("#referrals a").await;
        ui.fill("#text", "Se ajustó tratamiento; regresa a su unidad.")
            .await;
        ui.navigate_by("form button.primary").await;
        assert!(ui.text("#referral-status").await.contains("Atendida"));
        ui.screenshot("hospital-counter-referral").await;
        ui.navigate_by(SIGN_OUT).await;
    }
    ui.sign_in().await;
    referrals::wait_for_state(&ui, "#enviadas", &task, "completed", SYNC_TIMEOUT).await;
    ui.screenshot("counter-referral").await;
    ui.goto(&format!("/ui/pacientes/{walk_in}")).await;
    ui.navigate_by("#referrals a").await;
    assert!(ui.text("#referral-status").await.contains("Atendida"));
    assert!(
        ui.client
            .source()
            .await
            .unwrap()
            .contains("Se ajustó tratamiento; regresa a su unidad."),
        "the hospital's counter-referral is on the clinic's referral page"
    );
    assert_eq!(
        network.hospital_refused(),
        0,
        "the hub took every version the hospital wrote"
    );
}

/// Issue 17, the patient's own page: a referral is made and booked for the demo patient; the
/// patient signs in, lands on their page and sees the booked appointment and the referral's
/// state, and nothing of another patient's; the staff's referral inbox stays closed to them.
#[tokio::test(flavor = "multi_thread")]
async fn the_patient_sees_their_own_appointments_and_referrals() {
    let ui = Ui::start("mine").await;
    let own_token = harness::token(&ui, "paciente").await;
    let own = api(&ui, &own_token, reqwest::Method::GET, "Patient", None).await;
    assert_eq!(
        own["entry"].as_array().map(Vec::len),
        Some(1),
        "a patient finds only their own record: {own}"
    );
    let patient = own["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    ui.sign_in().await;
    let org = ui.user_facility().await;
    let task = crate::referrals::refer_accept_and_book(&ui, &patient).await;
    let booked = api(
        &ui,
        &harness::token(&ui, "medica").await,
        reqwest::Method::GET,
        &format!("Task/{task}"),
        None,
    )
    .await;
    let appointment = booked["output"][0]["valueReference"]["reference"]
        .as_str()
        .unwrap()
        .trim_start_matches("Appointment/")
        .to_string();

    // Another patient of the same clinic, booked by the desk the same day.
    let other = ui
        .demo
        .patients
        .iter()
        .find(|p| managing_org(p) == Some(org.as_str()) && id(p) != patient)
        .expect("another patient at the clinic");
    let tomorrow = harness::today_iso();
    let theirs = api(
        &ui,
        &harness::token(&ui, "recepcion").await,
        reqwest::Method::POST,
        "Appointment",
        Some(json!({
            "resourceType": "Appointment",
            "status": "booked",
            "description": "Consulta de otra persona",
            "start": format!("{tomorrow}T23:00:00-06:00"),
            "end": format!("{tomorrow}T23:30:00-06:00"),
            "participant": [{"actor": {"reference": format!("Patient/{}", id(other))}, "status": "accepted"}]
        })),
    )
    .await;
    let theirs = theirs["id"].as_str().unwrap().to_string();
    ui.navigate_by("form[action='/ui/salir'] button").await;

    ui.sign_in_as("paciente").await;
    assert_eq!(
        ui.path().await,
        "/ui/mis-citas",
        "a patient lands on their page"
    );
    assert!(ui.exists("#nav-mine").await);
    assert!(
        !ui.exists("#nav-referrals").await,
        "no staff links for a patient"
    );
    let row = ui
        .css(&format!(
            "#appointments-table tr[data-appointment='{appointment}']"
        ))
        .await;
    assert_eq!(
        row.attr("data-status").await.unwrap().as_deref(),
        Some("booked")
    );
    assert_eq!(
        row.attr("data-upcoming").await.unwrap().as_deref(),
        Some("true")
    );
    assert!(
        !ui.exists(&format!("tr[data-appointment='{theirs}']")).await,
        "another patient's appointment is never listed"
    );
    assert!(
        !ui.client
            .source()
            .await
            .unwrap()
            .contains("Consulta de otra persona")
    );
    let referral = ui
        .css(&format!("#referrals-table tr[data-task='{task}']"))
        .await;
    assert_eq!(
        referral.attr("data-state").await.unwrap().as_deref(),
        Some("booked")
    );
    assert!(
        ui.text("#referrals-table")
            .await
            .contains("Valoración por medicina interna")
    );
    ui.screenshot("patient-page").await;

    // The facility's inbox is staff work.
    ui.goto("/ui/referencias").await;
    assert!(
        ui.exists(".errors, [role=alert]").await,
        "the inbox refuses a patient"
    );
    assert!(
        !ui.exists(&format!("tr[data-task='{task}'] form.accept"))
            .await
    );
}

/// Issue 17, the desk lets bookings go from today's agenda (`/ui/fila`): a cancellation frees
/// the slot, which the booking page offers again; a no-show is recorded as such and keeps its
/// slot (it has passed). Neither is offered again once done.
#[tokio::test(flavor = "multi_thread")]
async fn the_desk_cancels_a_booking_freeing_its_slot_and_records_a_no_show() {
    let ui = Ui::start("release").await;
    ui.sign_in_as("recepcion").await;
    let org = ui.user_facility().await;
    let ours: Vec<String> = ui
        .demo
        .patients
        .iter()
        .filter(|p| managing_org(p) == Some(org.as_str()))
        .take(3)
        .map(|p| id(p).to_string())
        .collect();
    assert_eq!(ours.len(), 3, "three patients registered at {org}");
    let desk = harness::token(&ui, "recepcion").await;
    let slots = todays_slots(&ui, &desk).await;
    let mut bookings = Vec::new();
    for (patient, slot) in ours.iter().zip(&slots).take(2) {
        let booked = api(
            &ui,
            &desk,
            reqwest::Method::POST,
            "Appointment",
            Some(json!({
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{"reference": format!("Slot/{slot}")}],
                "participant": [{"actor": {"reference": format!("Patient/{patient}")}, "status": "accepted"}]
            })),
        )
        .await;
        bookings.push(booked["id"].as_str().unwrap().to_string());
    }
    let slot_status = |slot: String| {
        let (ui, desk) = (&ui, &desk);
        async move {
            api(
                ui,
                desk,
                reqwest::Method::GET,
                &format!("Slot/{slot}"),
                None,
            )
            .await["status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    assert_eq!(slot_status(slots[0].clone()).await, "busy");

    // The first patient phones to cancel: the desk cancels from the agenda.
    ui.goto("/ui/fila").await;
    let cancelled = format!("tr[data-appointment='{}']", bookings[0]);
    ui.screenshot("agenda-booked").await;
    ui.navigate_by(&format!("{cancelled} button.cancel-booking"))
        .await;
    assert!(
        ui.path().await.contains("ok=queue.cancelled"),
        "{}",
        ui.path().await
    );
    assert!(ui.text("[role=status]").await.contains("Cita cancelada"));
    assert_eq!(
        ui.css(&cancelled)
            .await
            .attr("data-status")
            .await
            .unwrap()
            .as_deref(),
        Some("cancelled")
    );
    assert!(
        !ui.exists(&format!("{cancelled} button.cancel-booking"))
            .await
            && !ui.exists(&format!("{cancelled} button.check-in")).await,
        "a cancelled booking offers nothing more"
    );
    let appointment = api(
        &ui,
        &desk,
        reqwest::Method::GET,
        &format!("Appointment/{}", bookings[0]),
        None,
    )
    .await;
    assert_eq!(appointment["status"], "cancelled");
    assert_eq!(appointment["cancelationReason"]["coding"][0]["code"], "pat");
    assert_eq!(
        slot_status(slots[0].clone()).await,
        "free",
        "its slot is free again"
    );
    // The freed time is offered to the next patient.
    ui.goto(&format!("/ui/pacientes/{}/cita", ours[2])).await;
    assert!(
        ui.exists(&format!("input[data-slot='{}']", slots[0])).await,
        "the booking page offers the freed slot"
    );
    assert!(
        !ui.exists(&format!("input[data-slot='{}']", slots[1])).await,
        "and not the one still held"
    );

    // The second patient never came: a no-show, recorded; the slot stays with it.
    ui.goto("/ui/fila").await;
    let missed = format!("tr[data-appointment='{}']", bookings[1]);
    ui.navigate_by(&format!("{missed} button.no-show")).await;
    assert!(
        ui.path().await.contains("ok=queue.noshow_saved"),
        "{}",
        ui.path().await
    );
    assert_eq!(
        ui.css(&missed)
            .await
            .attr("data-status")
            .await
            .unwrap()
            .as_deref(),
        Some("noshow")
    );
    assert!(ui.text(&missed).await.contains("No se presentó"));
    assert!(!ui.exists(&format!("{missed} button.no-show")).await);
    ui.screenshot("agenda-released").await;
    let appointment = api(
        &ui,
        &desk,
        reqwest::Method::GET,
        &format!("Appointment/{}", bookings[1]),
        None,
    )
    .await;
    assert_eq!(appointment["status"], "noshow");
    assert_eq!(slot_status(slots[1].clone()).await, "busy");
}
