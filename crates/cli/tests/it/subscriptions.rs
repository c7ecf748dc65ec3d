//! Notifications (issue 17) over real HTTP: R4 criteria-based Subscriptions delivered to a
//! hook server run by the test (rest-hook) and to a websocket client; retries with backoff
//! while the hook fails; a subscription delivers only what its owner may read (a clinic A
//! receptionist never hears of clinic B's appointment, not even its id); a queued delivery
//! survives the node being killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::security::{CLUES_A, CLUES_B, account, get_as, ids_of, organization, send_as, world};
use crate::support::*;

/// One request the hook received.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    at: Instant,
    headers: String,
    pub(crate) body: String,
}

/// A tiny HTTP server on loopback: records every request and answers with the next status of
/// its script (then 200 forever).
pub(crate) struct Hook {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Vec<u16>>>,
}

impl Hook {
    pub(crate) fn start(script: &[u16]) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.to_vec()));
        let (seen, plan) = (received.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (seen, plan) = (seen.clone(), plan.clone());
                std::thread::spawn(move || serve_connection(stream, &seen, &plan));
            }
        });
        Hook {
            port,
            received,
            script,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/avisos", self.port)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (or panics after `secs`).
    pub(crate) fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the hook got {} requests, expected {n}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answer_always(&self, status: u16) {
        *self.script.lock().unwrap() = vec![status; 1000];
    }

    fn answer_ok_from_now(&self) {
        self.script.lock().unwrap().clear();
    }
}

fn serve_connection(
    stream: std::net::TcpStream,
    seen: &Mutex<Vec<Received>>,
    plan: &Mutex<Vec<u16>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut headers = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            headers.push_str(&line);
        }
        let length = headers
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let status = {
            let mut plan = plan.lock().unwrap();
            if plan.is_empty() { 200 } else { plan.remove(0) }
        };
        seen.lock().unwrap().push(Received {
            at: Instant::now(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn subscription(criteria: &str, channel: Value) -> Value {
    json!({
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Avisos de citas para la recepción",
        "criteria": criteria,
        "channel": channel
    })
}

fn rest_hook(hook: &Hook) -> Value {
    json!({
        "type": "rest-hook",
        "endpoint": hook.url(),
        "payload": "application/fhir+json",
        "header": ["X-Clave-Aviso: recepcion-a"]
    })
}

fn appointment(patient: &str, day: u32) -> Value {
    json!({
        "resourceType": "Appointment",
        "status": "booked",
        "start": format!("2026-12-{day:02}T08:00:00-06:00"),
        "end": format!("2026-12-{day:02}T08:20:00-06:00"),
        "participant": [{"actor": {"reference": format!("Patient/{patient}")}, "status": "accepted"}]
    })
}

/// A patient registered at clinic B.
fn patient_of_b(node: &Node) -> String {
    let org_b = get(
        node,
        &format!(
            "Organization?identifier=https://expediente.salud.gob.mx/fhir/sid/clues|{CLUES_B}"
        ),
    );
    let org_b = ids_of(&org_b.body).into_iter().next().unwrap_or_else(|| {
        let created = post(
            node,
            "Organization",
            &organization(CLUES_B, "Centro de Salud B"),
        );
        created.body["id"].as_str().unwrap().to_string()
    });
    let mut p = patient("Carla", "Núñez", "1990-05-05", "female");
    p["managingOrganization"] = json!({"reference": format!("Organization/{org_b}")});
    let created = post(node, "Patient", &p);
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["id"].as_str().unwrap().to_string()
}

fn created_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_string()
}

/// The resource ids a notification Bundle names (its focus and its entries).
pub(crate) fn notified_ids(body: &str) -> Vec<String> {
    let bundle: Value = serde_json::from_str(body).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle", "{body}");
    assert_eq!(bundle["type"], "history", "{body}");
    assert_eq!(bundle["entry"][0]["resource"]["resourceType"], "Parameters");
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .filter_map(|e| e["fullUrl"].as_str())
        .map(|u| u.rsplit('/').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_rest_hook_hears_only_what_its_owner_may_read() {
    let w = world();
    let node = &w.node;
    let hook = Hook::start(&[]);
    let desk = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);
    let doctor = account(&w.data, "medica", "physician", &["--clues", CLUES_A]);

    // Validation: an endpoint off this machine over plain http, and criteria that do not
    // parse, are refused with what to fix; nothing is stored.
    let mut off_machine = subscription("Appointment?status=booked", rest_hook(&hook));
    off_machine["channel"]["endpoint"] = json!("http://avisos.example.mx/hook");
    let refused = send_as(node, &desk, "POST", "fhir/Subscription", &off_machine);
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.diagnostics().contains("https"), "{}", refused.text);
    let garbled = subscription("Appointment?no-existe=1", rest_hook(&hook));
    let refused = send_as(node, &desk, "POST", "fhir/Subscription", &garbled);
    assert!(
        refused.status == 400 || refused.status == 422,
        "{}",
        refused.text
    );
    // Patients keep no subscriptions (auth::policy::may_subscribe).
    let me = account(&w.data, "paciente", "patient", &["--patient", &w.p1]);
    let refused = send_as(
        node,
        &me,
        "POST",
        "fhir/Subscription",
        &subscription("Appointment?status=booked", rest_hook(&hook)),
    );
    assert_eq!(refused.status, 403, "{}", refused.text);

    // requested → active, owned by its creator.
    let created = send_as(
        node,
        &desk,
        "POST",
        "fhir/Subscription",
        &subscription("Appointment?status=booked", rest_hook(&hook)),
    );
    let sub = created_id(&created);
    assert_eq!(created.body["status"], "active", "{}", created.text);
    assert!(
        created.text.contains("\"valueString\":\"recepcion\""),
        "{}",
        created.text
    );
    // Another account of the same clinic neither reads nor finds nor changes it.
    assert_eq!(
        get_as(node, &doctor, &format!("fhir/Subscription/{sub}")).status,
        404
    );
    let listed = get_as(node, &doctor, "fhir/Subscription");
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(!listed.text.contains(&sub), "{}", listed.text);
    let mut hijack = created.body.clone();
    hijack["channel"]["endpoint"] = json!("https://otro.example.mx/");
    let refused = send_as(
        node,
        &doctor,
        "PUT",
        &format!("fhir/Subscription/{sub}"),
        &hijack,
    );
    assert_eq!(refused.status, 404, "{}", refused.text);

    // Clinic B's appointment first, then clinic A's: only A's is delivered.
    let carla = patient_of_b(node);
    let hidden = created_id(&post(node, "Appointment", &appointment(&carla, 9)));
    let shown = created_id(&post(node, "Appointment", &appointment(&w.p1, 10)));
    let got = hook.wait_for(1, 20);
    // Give a delivery of the hidden one every chance to arrive after the first.
    std::thread::sleep(Duration::from_millis(1_500));
    let got_all = hook.received();
    assert_eq!(got_all.len(), 1, "{got_all:?}");
    assert_eq!(notified_ids(&got[0].body), vec![shown.clone()]);
    for r in &got_all {
        assert!(
            !r.body.contains(&hidden),
            "clinic B's appointment leaked: {}",
            r.body
        );
        assert!(
            !r.body.contains(&carla),
            "clinic B's patient leaked: {}",
            r.body
        );
    }
    // Full-resource payload, the channel's header, and the subscription named.
    let bundle: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(bundle["entry"][1]["resource"]["id"], json!(shown));
    assert_eq!(
        bundle["entry"][0]["resource"]["parameter"][0]["valueReference"]["reference"],
        json!(format!("Subscription/{sub}"))
    );
    let headers = got[0].headers.to_ascii_lowercase();
    assert!(headers.contains("x-clave-aviso: recepcion-a"), "{headers}");
    assert!(headers.contains("application/fhir+json"), "{headers}");

    // A write that does not match the criteria is not delivered.
    let mut proposed = appointment(&w.p1, 11);
    proposed["status"] = json!("proposed");
    created_id(&post(node, "Appointment", &proposed));
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(hook.received().len(), 1);

    // The delivery is in the owner's audit trail as a read of the appointment.
    let trail = get(
        node,
        &format!("AuditEvent?agent=recepcion&patient={}", w.p1),
    );
    assert_eq!(trail.status, 200, "{}", trail.text);
    assert!(trail.text.contains("notificaci"), "{}", trail.text);
}

#[test]
fn a_failing_hook_is_retried_with_backoff_then_errors_out() {
    let w = world();
    let node = &w.node;
    // Fails twice, then answers.
    let hook = Hook::start(&[500, 503]);
    let desk = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);
    let sub = created_id(&send_as(
        node,
        &desk,
        "POST",
        "fhir/Subscription",
        &subscription("Appointment?status=booked", rest_hook(&hook)),
    ));
    let started = Instant::now();
    let booked = created_id(&post(node, "Appointment", &appointment(&w.p1, 9)));
    // The write answered long before any retry could have happened: it does not wait.
    assert!(started.elapsed() < Duration::from_millis(900));
    let got = hook.wait_for(3, 30);
    for r in &got {
        assert_eq!(notified_ids(&r.body), vec![booked.clone()]);
    }
    // Backoff: 1 s, then 2 s (lower bounds only).
    assert!(
        got[1].at - got[0].at >= Duration::from_millis(900),
        "{got:?}"
    );
    assert!(
        got[2].at - got[1].at >= Duration::from_millis(1_800),
        "{got:?}"
    );
    std::thread::sleep(Duration::from_millis(1_000));
    assert_eq!(hook.received().len(), 3, "delivered once it answered");
    let read = get_as(node, &desk, &format!("fhir/Subscription/{sub}"));
    assert_eq!(read.body["status"], "active", "{}", read.text);

    // A hook that never answers: after 5 attempts (1+2+4+8 s apart) the subscription is in
    // error, saying why.
    hook.answer_always(500);
    created_id(&post(node, "Appointment", &appointment(&w.p1, 10)));
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let read = get_as(node, &desk, &format!("fhir/Subscription/{sub}"));
        if read.body["status"] == "error" {
            let error = read.body["error"].as_str().unwrap_or("");
            assert!(error.contains("5 intentos"), "{}", read.text);
            assert!(error.contains("HTTP 500"), "{}", read.text);
            break;
        }
        assert!(Instant::now() < deadline, "still {}", read.text);
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(hook.received().len(), 3 + 5);
    // Set back to requested by its owner: active again, and delivering.
    hook.answer_ok_from_now();
    let mut resume = get_as(node, &desk, &format!("fhir/Subscription/{sub}")).body;
    resume["status"] = json!("requested");
    let resumed = send_as(
        node,
        &desk,
        "PUT",
        &format!("fhir/Subscription/{sub}"),
        &resume,
    );
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.body["status"], "active");
    let again = created_id(&post(node, "Appointment", &appointment(&w.p1, 11)));
    let got = hook.wait_for(9, 20);
    assert_eq!(notified_ids(&got[8].body), vec![again]);
}

#[test]
fn a_websocket_bound_to_a_subscription_receives_its_events() {
    let w = world();
    let node = &w.node;
    let desk = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);
    let doctor = account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    let sub = created_id(&send_as(
        node,
        &desk,
        "POST",
        "fhir/Subscription",
        &subscription(
            "Appointment?status=booked",
            json!({"type": "websocket", "payload": "application/fhir+json"}),
        ),
    ));
    let url = node
        .url("$subscription-websocket")
        .replacen("http://", "ws://", 1);
    let connect = |token: &str| {
        let mut request =
            tungstenite::client::IntoClientRequest::into_client_request(url.as_str()).unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (socket, _) = tungstenite::connect(request).unwrap();
        socket
    };
    // Without a token: refused at the upgrade.
    assert!(tungstenite::connect(url.as_str()).is_err());
    // Another account cannot bind to it.
    let mut other = connect(&doctor);
    other
        .send(tungstenite::Message::text(format!("bind {sub}")))
        .unwrap();
    assert_eq!(
        other.read().unwrap().to_text().unwrap(),
        format!("error {sub}")
    );

    let mut socket = connect(&desk);
    socket
        .send(tungstenite::Message::text(format!("bind {sub}")))
        .unwrap();
    assert_eq!(
        socket.read().unwrap().to_text().unwrap(),
        format!("bound {sub}")
    );
    let booked = created_id(&post(node, "Appointment", &appointment(&w.p1, 9)));
    let message = socket.read().unwrap();
    let text = message.to_text().unwrap();
    assert_eq!(notified_ids(text), vec![booked]);
}

#[test]
fn a_queued_delivery_survives_the_node_being_killed() {
    let mut w = world();
    let hook = Hook::start(&[]);
    hook.answer_always(500);
    let desk = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);
    created_id(&send_as(
        &w.node,
        &desk,
        "POST",
        "fhir/Subscription",
        &subscription("Appointment?status=booked", rest_hook(&hook)),
    ));
    let booked = created_id(&post(&w.node, "Appointment", &appointment(&w.p1, 9)));
    hook.wait_for(1, 20);
    // No chance to flush anything: the delivery is only in the database.
    w.node.kill();
    hook.answer_ok_from_now();
    let failed_before = hook.received().len();
    w.node = Node::start_in(&w.data);
    let got = hook.wait_for(failed_before + 1, 30);
    assert_eq!(notified_ids(&got[failed_before].body), vec![booked]);
}

/// `ms` (epoch) as Mexico City's civil time with its offset (UTC−6, no DST since 2022).
fn local_instant(ms: i64) -> String {
    let local = ms / 1000 - 6 * 3600;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:00-06:00",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[test]
fn a_booked_appointment_emits_a_reminder_in_spanish_that_an_sms_service_receives() {
    let w = world();
    let node = &w.node;
    let hook = Hook::start(&[]);
    // The reminder service: an integration with its own system account.
    let sms = account(&w.data, "avisos-sms", "system", &[]);
    let category = "https://expediente.salud.gob.mx/fhir/CodeSystem/comunicacion|recordatorio-cita";
    created_id(&send_as(
        node,
        &sms,
        "POST",
        "fhir/Subscription",
        &subscription(
            &format!("Communication?category={category}"),
            rest_hook(&hook),
        ),
    ));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let soon = local_instant(now_ms + 3 * 3_600_000);
    let mut booked = appointment(&w.p1, 1);
    booked["start"] = json!(soon);
    booked["end"] = json!(local_instant(now_ms + 3 * 3_600_000 + 1_200_000));
    booked["serviceType"] = json!([{"text": "vacunación"}]);
    let booked = created_id(&post(node, "Appointment", &booked));
    // Three days away: not yet.
    let mut later = appointment(&w.p2, 1);
    later["start"] = json!(local_instant(now_ms + 72 * 3_600_000));
    later["end"] = json!(local_instant(now_ms + 72 * 3_600_000 + 1_200_000));
    created_id(&post(node, "Appointment", &later));

    let got = hook.wait_for(1, 30);
    let bundle: Value = serde_json::from_str(&got[0].body).unwrap();
    let reminder = &bundle["entry"][1]["resource"];
    assert_eq!(reminder["resourceType"], "Communication", "{bundle}");
    assert_eq!(
        reminder["about"][0]["reference"],
        json!(format!("Appointment/{booked}"))
    );
    assert_eq!(
        reminder["subject"]["reference"],
        json!(format!("Patient/{}", w.p1))
    );
    let (date, hour) = (&soon[0..10], &soon[11..16]);
    let fecha = format!("{}/{}/{}", &date[8..10], &date[5..7], &date[0..4]);
    assert_eq!(
        reminder["payload"][0]["contentString"],
        json!(format!(
            "Hola Ana: le recordamos su cita de vacunación el {fecha} a las {hour}. Si no puede asistir, avise a su centro de salud."
        ))
    );
    assert_eq!(reminder["payload"][0]["extension"][0]["valueCode"], "es-MX");
    assert!(
        reminder["payload"][1]["contentString"]
            .as_str()
            .unwrap()
            .starts_with("Hello Ana: a reminder of your vacunación appointment"),
        "{reminder}"
    );
    // Later scans do not repeat it, and the appointment three days away has none yet.
    std::thread::sleep(Duration::from_millis(6_000));
    assert_eq!(hook.received().len(), 1);
    let all = get(node, &format!("Communication?category={category}"));
    assert_eq!(ids_of(&all.body).len(), 1, "{}", all.text);
}
