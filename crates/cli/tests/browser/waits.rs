//! Issue 17: a clinic day in the browser — a booking from the patient's card, a walk-in, an urgent triage that jumps
//! the queue, the waiting-room screen changing, and the physician's "siguiente paciente"
//! opening the chart.

use serde_json::{Value, json};

use crate::harness::{self, Ui, api, id, managing_org};

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
async fn booking_walk_in_urgent_triage_jumps_the_queue_and_next_patient_opens_the_chart() {
    let ui = Ui::start("waits").await;
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
    let practitioners = api(
        &ui,
        &desk,
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
        &ui,
        &desk,
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
        &ui,
        &desk,
        reqwest::Method::POST,
        &format!("Schedule/{schedule}/$generar-espacios?desde={today}&dias=1,2,3,4,5,6,7&apertura=07:00&cierre=08:00&duracion=30"),
        None,
    )
    .await;
    let slots = api(
        &ui,
        &desk,
        reqwest::Method::GET,
        &format!("Slot?schedule=Schedule/{schedule}&status=free&_sort=start"),
        None,
    )
    .await;
    let slot = slots["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
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
}
