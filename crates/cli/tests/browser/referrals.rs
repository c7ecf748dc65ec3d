//! Issue 17, referrals that arrive, in the browser: the physician of one clinic sends a
//! referral from the patient's chart; the receiving clinic's physician finds it in the inbox,
//! accepts it and books a date for it; the sender's outbox then says "booked". No script is
//! needed for any of it (plain forms and links).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{Ui, api, id, managing_org, password_token};

pub async fn state_of(ui: &Ui, table: &str, task: &str) -> String {
    ui.css(&format!("{table} tr[data-task='{task}']"))
        .await
        .attr("data-state")
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_referral_is_received_accepted_and_booked_and_the_sender_sees_booked() {
    let ui = Ui::start("referrals").await;
    ui.sign_in().await;
    let sender = ui.user_facility().await;
    let patient = ui
        .demo
        .patients
        .iter()
        .find(|p| managing_org(p) == Some(sender.as_str()))
        .map(|p| id(p).to_string())
        .expect("a patient registered at the physician's clinic");
    refer_accept_and_book(&ui, &patient).await;
    // The patient's page lists the referral with the same state.
    ui.goto(&format!("/ui/pacientes/{patient}")).await;
    let pill = ui.css("#referrals .referral-state").await;
    assert_eq!(
        pill.attr("data-state").await.unwrap().as_deref(),
        Some("booked")
    );
    assert_eq!(pill.text().await.unwrap().trim(), "Cita agendada");
}

/// A referral's way from the sender's chart to a booked date at another clinic: the sender's
/// physician (signed in as `medica`) refers `patient`; the receiving clinic's physician accepts
/// it in the inbox and books a slot of a fresh agenda; the sender's outbox then says booked.
/// Both clinics are facilities of the demo node. Ends signed in as `medica` again; returns the
/// Task.
pub async fn refer_accept_and_book(ui: &Ui, patient: &str) -> String {
    let sender = ui.user_facility().await;
    let receiver = ui
        .demo
        .organizations
        .keys()
        .find(|org| **org != sender)
        .cloned()
        .expect("another clinic");
    let receiver_clues = ui.demo.organizations[&receiver].1.clone();
    let task = send_referral(ui, patient, &receiver).await;
    ui.navigate_by("form[action='/ui/salir'] button").await;

    // The receiving clinic's physician, and an agenda there with free times.
    let password = ui.add_account("medico-receptor", "physician", &receiver_clues);
    let token = password_token(&ui.url(""), "medico-receptor", &password).await;
    open_agenda(ui, &token).await;
    ui.sign_in_with("medico-receptor", &password).await;
    accept_and_book(ui, &token, &task, patient).await;
    ui.navigate_by("form[action='/ui/salir'] button").await;

    // The sender's outbox says booked.
    ui.sign_in().await;
    ui.navigate_by("#nav-referrals").await;
    assert_eq!(state_of(ui, "#enviadas", &task).await, "booked");
    ui.screenshot("outbox-booked").await;
    task
}

/// The sender's part, signed in at the sending node: the referral form from `patient`'s
/// chart, to the Organization `receiver`; the outbox then lists it as requested. Returns the
/// Task. The receiver must be offered by the form (its directory entry on this node).
pub async fn send_referral(ui: &Ui, patient: &str, receiver: &str) -> String {
    ui.goto(&format!("/ui/pacientes/{patient}/referencia"))
        .await;
    ui.select("#to", &format!("Organization/{receiver}")).await;
    ui.fill("#reason", "Valoración por medicina interna").await;
    ui.fill("#dx_code", "I10").await;
    assert_eq!(ui.value("#due_days").await, "30", "30 days unless stated");
    ui.screenshot("refer-form").await;
    ui.navigate_by("#send-referral").await;
    assert!(
        ui.path().await.contains("ok=refer.saved"),
        "{}",
        ui.path().await
    );
    ui.navigate_by("#nav-referrals").await;
    let task = ui
        .css("#enviadas tr.referral")
        .await
        .attr("data-task")
        .await
        .unwrap()
        .expect("the outbox lists the referral");
    assert_eq!(state_of(ui, "#enviadas", &task).await, "requested");
    task
}

/// An agenda with free times from tomorrow on (09:00–10:00, 30 minutes), written through the
/// API of the node the browser is at, as `token` (a physician there).
pub async fn open_agenda(ui: &Ui, token: &str) {
    let practitioners = api(
        ui,
        token,
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
        token,
        reqwest::Method::POST,
        "Schedule",
        Some(json!({
            "resourceType": "Schedule",
            "active": true,
            "serviceType": [{"text": "Medicina interna"}],
            "actor": [{"reference": format!("Practitioner/{practitioner}")}]
        })),
    )
    .await;
    let schedule = schedule["id"].as_str().unwrap().to_string();
    let tomorrow = web::dates::iso(web::dates::today(now_ms()) + 1);
    api(
        ui,
        token,
        reqwest::Method::POST,
        &format!("Schedule/{schedule}/$generar-espacios?desde={tomorrow}&dias=1,2,3,4,5,6,7&apertura=09:00&cierre=10:00&duracion=30"),
        None,
    )
    .await;
}

/// The receiving physician's part, signed in at the receiving node (`token` is theirs): the
/// inbox lists `task` as requested; accept it, then book a date from it; the Task names the
/// booked Appointment, which is for `patient` and based on the referral.
pub async fn accept_and_book(ui: &Ui, token: &str, task: &str, patient: &str) {
    ui.navigate_by("#nav-referrals").await;
    assert_eq!(state_of(ui, "#entrantes", task).await, "requested");
    ui.screenshot("inbox").await;
    ui.navigate_by(&format!(
        "#entrantes tr[data-task='{task}'] form.accept button"
    ))
    .await;
    assert!(
        ui.path().await.contains("ok=referrals.saved"),
        "{}",
        ui.path().await
    );
    assert_eq!(state_of(ui, "#entrantes", task).await, "accepted");
    ui.navigate_by(&format!("#entrantes tr[data-task='{task}'] a.book"))
        .await;
    ui.click("#book-form input[name='espacio']").await;
    ui.screenshot("book").await;
    ui.navigate_by("#book-submit").await;
    assert!(
        ui.path().await.starts_with("/ui/referencias"),
        "{}",
        ui.path().await
    );
    assert_eq!(state_of(ui, "#entrantes", task).await, "booked");
    let booked = api(
        ui,
        token,
        reqwest::Method::GET,
        &format!("Task/{task}"),
        None,
    )
    .await;
    let appointment = booked["output"][0]["valueReference"]["reference"]
        .as_str()
        .expect("the Task names the appointment")
        .to_string();
    let appointment = api(ui, token, reqwest::Method::GET, &appointment, None).await;
    assert_eq!(appointment["status"], "booked");
    assert_eq!(
        appointment["participant"][0]["actor"]["reference"],
        format!("Patient/{patient}")
    );
    assert_eq!(
        appointment["basedOn"][0]["reference"],
        booked["focus"]["reference"]
    );
}

/// Reloads the referrals page (`/ui/referencias`) until `task`'s row in `table` (`#enviadas`,
/// `#entrantes`) says `state`: what another node wrote arrives by sync, on no fixed schedule.
pub async fn wait_for_state(ui: &Ui, table: &str, task: &str, state: &str, timeout: Duration) {
    let row = format!("{table} tr[data-task='{task}']");
    let mut seen = String::new();
    let deadline = Instant::now() + timeout;
    loop {
        ui.goto("/ui/referencias").await;
        if ui.exists(&row).await {
            seen = state_of(ui, table, task).await;
            if seen == state {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{table} never said {state} for {task} (last: {seen:?})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
