//! Referrals that arrive (issue 17): a hub and three clinics as real processes. Clinic A refers
//! its patient to clinic B, which has never seen him; the hub routes the referral and the
//! patient's record to B (not to C); B's physicians may read it because the referral is
//! addressed to B, C's may not; B accepts, books and attends, and A sees each step.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::security::account;
use crate::support::{Reply, anonymous_client, reply};
use crate::sync::{Cluster, create, curp, fhir, patient, wait_until};

const TIMEOUT: Duration = Duration::from_secs(60);

/// A call to a node's FHIR API as one user (bearer `token`).
fn as_user(root: &str, token: &str, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = anonymous_client()
        .request(method, format!("{root}/fhir/{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/fhir+json")
            .body(body.to_string());
    }
    reply(request.send().unwrap())
}

fn status_of(root: &str, path: &str) -> u16 {
    fhir(root, "GET", path, None).status
}

/// The referral as a client sends it over FHIR: the ServiceRequest and its Task, one
/// transaction. Returns (ServiceRequest id, Task id).
fn refer(cluster: &Cluster, from: usize, to: usize, patient_id: &str) -> (String, String) {
    let (sender, receiver) = (&cluster.clinics[from], &cluster.clinics[to]);
    let clues = mexico::systems::CLUES;
    let focus = "urn:uuid:0b7e6d2c-1f57-4c1e-9a51-000000000001";
    let receiving = json!({
        "reference": format!("Organization/{}", receiver.organization),
        "identifier": {"system": clues, "value": receiver.clues},
        "display": "Hospital receptor"
    });
    let sending = json!({
        "reference": format!("Organization/{}", sender.organization),
        "identifier": {"system": clues, "value": sender.clues},
        "display": "Centro de salud que envía"
    });
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": focus, "request": {"method": "POST", "url": "ServiceRequest"}, "resource": {
                "resourceType": "ServiceRequest",
                "status": "active",
                "intent": "order",
                "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}], "text": "Referencia"}],
                "subject": {"reference": format!("Patient/{patient_id}")},
                "requester": sending,
                "performer": [receiving],
                "reasonCode": [{"coding": [{"system": mexico::systems::CIE10, "code": "I10"}], "text": "Hipertensión esencial"}],
                "note": [{"text": "Motivo de envío: hipertensión de difícil control"}]
            }},
            {"request": {"method": "POST", "url": "Task"}, "resource": {
                "resourceType": "Task",
                "status": "requested",
                "intent": "order",
                "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
                "description": "Referencia a medicina interna",
                "focus": {"reference": focus},
                "for": {"reference": format!("Patient/{patient_id}")},
                "authoredOn": "2026-12-01T09:00:00-06:00",
                "requester": sending,
                "owner": receiving,
                "restriction": {"period": {"end": "2026-12-31T09:00:00-06:00"}}
            }}
        ]
    });
    let sent = fhir(cluster.clinic(from), "POST", "", Some(&bundle));
    assert_eq!(sent.status, 200, "{}", sent.text);
    let ids: Vec<String> = sent.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["response"]["location"]
                .as_str()
                .unwrap()
                .split('/')
                .nth(1)
                .unwrap()
                .to_string()
        })
        .collect();
    (ids[0].clone(), ids[1].clone())
}

/// Reads a Task on a node as `token` and changes it with `change`, at the version read.
fn move_task(root: &str, token: &str, task_id: &str, change: impl FnOnce(&mut Value)) {
    let read = as_user(root, token, "GET", &format!("Task/{task_id}"), None);
    assert_eq!(read.status, 200, "{}", read.text);
    let mut task = read.body.clone();
    change(&mut task);
    let written = as_user(root, token, "PUT", &format!("Task/{task_id}"), Some(&task));
    assert_eq!(written.status, 200, "{}", written.text);
}

fn task_status(root: &str, task_id: &str) -> (String, String) {
    let read = fhir(root, "GET", &format!("Task/{task_id}"), None);
    if read.status != 200 {
        return (String::new(), String::new());
    }
    (
        read.body["status"].as_str().unwrap_or_default().to_string(),
        read.body["businessStatus"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn a_referral_brings_the_record_to_a_clinic_that_never_saw_the_patient_and_its_state_back() {
    let cluster = Cluster::start(&[0, 0, 0], 17);
    let (a, b, c) = (cluster.clinic(0), cluster.clinic(1), cluster.clinic(2));
    // Clinic A's patient, with what B's clinician needs: a problem, an allergy, a medication.
    let juan = create(a, &cluster.registered(0, patient(&curp(17, 0), 17, "Juan")));
    let subject = json!({"reference": format!("Patient/{juan}")});
    let condition = create(
        a,
        &json!({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "subject": subject,
            "code": {"coding": [{"system": mexico::systems::CIE10, "code": "I10"}], "text": "Hipertensión esencial"}
        }),
    );
    let allergy = create(
        a,
        &json!({
            "resourceType": "AllergyIntolerance",
            "patient": subject,
            "code": {"text": "Penicilina"}
        }),
    );
    let medication = create(
        a,
        &json!({
            "resourceType": "MedicationStatement",
            "status": "active",
            "subject": subject,
            "medicationCodeableConcept": {"text": "Losartán 50 mg"}
        }),
    );
    // Everything A wrote has reached the hub before the referral is sent, so what B receives
    // must come by the referral, not by chance ordering.
    wait_until("A's record on the hub", TIMEOUT, || {
        status_of(cluster.hub(), &format!("MedicationStatement/{medication}")) == 200
    });
    assert_eq!(
        status_of(b, &format!("Patient/{juan}")),
        404,
        "B never saw him"
    );

    let sent_at = Instant::now();
    let (request, task) = refer(&cluster, 0, 1, &juan);
    wait_until("the referral and the record at B", TIMEOUT, || {
        status_of(b, &format!("Task/{task}")) == 200
            && status_of(b, &format!("MedicationStatement/{medication}")) == 200
    });
    eprintln!(
        "referral delivered A → hub → B (150 ms sync interval, loopback) in {} ms",
        sent_at.elapsed().as_millis()
    );
    for path in [
        format!("Patient/{juan}"),
        format!("Condition/{condition}"),
        format!("AllergyIntolerance/{allergy}"),
        format!("ServiceRequest/{request}"),
    ] {
        assert_eq!(status_of(b, &path), 200, "{path} came with the referral");
    }

    // Reading it at B: B's physician may (the referral is addressed to B); a physician of C,
    // not addressed, may not, on B's node and on the hub alike.
    let b_data = cluster.clinics[1].data.clone();
    let c_clues = cluster.clinics[2].clues.clone();
    let physician_b = account(
        &b_data,
        "medico-b",
        "physician",
        &["--clues", &cluster.clinics[1].clues],
    );
    let stranger_at_b = account(&b_data, "medico-c", "physician", &["--clues", &c_clues]);
    let stranger_at_hub = account(
        &cluster.hub_data,
        "medico-c",
        "physician",
        &["--clues", &c_clues],
    );
    let physician_b_at_hub = account(
        &cluster.hub_data,
        "medico-b",
        "physician",
        &["--clues", &cluster.clinics[1].clues],
    );
    let condition_path = format!("Condition/{condition}");
    let allergy_path = format!("AllergyIntolerance/{allergy}");
    for path in [&condition_path, &allergy_path] {
        assert_eq!(
            as_user(b, &physician_b, "GET", path, None).status,
            200,
            "{path}"
        );
        // Refused for want of a care relationship (the guard's own words), not for absence.
        let refused = as_user(b, &stranger_at_b, "GET", path, None);
        assert_eq!(refused.status, 403, "{path}: {}", refused.text);
        assert!(
            refused.text.contains("relación de atención"),
            "{}",
            refused.text
        );
        assert_eq!(
            as_user(cluster.hub(), &physician_b_at_hub, "GET", path, None).status,
            200,
            "{path}"
        );
        assert_eq!(
            as_user(cluster.hub(), &stranger_at_hub, "GET", path, None).status,
            403,
            "{path}"
        );
    }
    let everything = as_user(
        b,
        &stranger_at_b,
        "GET",
        &format!("Patient/{juan}/$everything"),
        None,
    );
    assert!(
        !everything.text.contains(&condition),
        "C's physician sees none of the clinical record: {}",
        everything.text
    );
    // C was not addressed: nothing of Juan's reached its node.
    assert_eq!(status_of(c, &format!("Task/{task}")), 404);
    assert_eq!(status_of(c, &format!("Patient/{juan}")), 404);

    // B's inbox (by CLUES) lists it; B accepts, books, attends; A sees each step.
    let inbox = as_user(
        b,
        &physician_b,
        "GET",
        &format!(
            "Task?owner:identifier={}|{}&code=http://hl7.org/fhir/CodeSystem/task-code|fulfill",
            mexico::systems::CLUES,
            cluster.clinics[1].clues
        ),
        None,
    );
    assert_eq!(inbox.status, 200, "{}", inbox.text);
    assert!(inbox.text.contains(&task), "{}", inbox.text);
    move_task(b, &physician_b, &task, |t| t["status"] = json!("accepted"));
    wait_until("A seeing 'accepted'", TIMEOUT, || {
        task_status(a, &task).0 == "accepted"
    });
    let appointment = as_user(
        b,
        &physician_b,
        "POST",
        "Appointment",
        Some(&json!({
            "resourceType": "Appointment",
            "status": "booked",
            "basedOn": [{"reference": format!("ServiceRequest/{request}")}],
            "start": "2026-12-15T09:00:00-06:00",
            "end": "2026-12-15T09:20:00-06:00",
            "participant": [{"actor": {"reference": format!("Patient/{juan}")}, "status": "accepted"}]
        })),
    );
    assert_eq!(appointment.status, 201, "{}", appointment.text);
    let appointment_id = appointment.body["id"].as_str().unwrap().to_string();
    move_task(b, &physician_b, &task, |t| {
        t["businessStatus"] = json!({"text": "agendada"});
        t["output"] = json!([{"type": {"text": "cita"}, "valueReference": {"reference": format!("Appointment/{appointment_id}")}}]);
    });
    wait_until("A seeing 'booked' and the appointment", TIMEOUT, || {
        task_status(a, &task) == ("accepted".to_string(), "agendada".to_string())
            && status_of(a, &format!("Appointment/{appointment_id}")) == 200
    });
    move_task(b, &physician_b, &task, |t| {
        t["status"] = json!("in-progress")
    });
    wait_until("A seeing 'attended'", TIMEOUT, || {
        task_status(a, &task).0 == "in-progress"
    });
    move_task(b, &physician_b, &task, |t| t["status"] = json!("completed"));
    wait_until("A seeing the counter-referral", TIMEOUT, || {
        task_status(a, &task).0 == "completed"
    });
    // The hub refused nothing of either clinic.
    for idx in [0, 1] {
        let status: Value = crate::support::client()
            .get(format!("{}/sync/status", cluster.clinic(idx)))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(status["refused_versions"], 0, "{status}");
    }
}

/// A rejection carries its reason back to the sender.
#[test]
fn a_rejection_reaches_the_sender_with_its_reason() {
    let cluster = Cluster::start(&[0, 0, 0], 18);
    let (a, b) = (cluster.clinic(0), cluster.clinic(1));
    let ana = create(a, &cluster.registered(0, patient(&curp(18, 1), 18, "Ana")));
    let (_request, task) = refer(&cluster, 0, 1, &ana);
    wait_until("the referral at B", TIMEOUT, || {
        status_of(b, &format!("Task/{task}")) == 200
    });
    let physician_b = account(
        &cluster.clinics[1].data,
        "medico-b",
        "physician",
        &["--clues", &cluster.clinics[1].clues],
    );
    move_task(b, &physician_b, &task, |t| {
        t["status"] = json!("rejected");
        t["statusReason"] = json!({"text": "Sin especialista en la unidad"});
    });
    wait_until("A seeing the rejection", TIMEOUT, || {
        let read = fhir(a, "GET", &format!("Task/{task}"), None);
        read.body["status"] == "rejected"
            && read.body["statusReason"]["text"] == "Sin especialista en la unidad"
    });
}
