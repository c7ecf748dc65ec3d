//! Subscription delivery latency (issue 17), on loopback: a rest-hook server in this process
//! receives the notifications of `Appointment?status=booked`; each booking is written over
//! HTTP and the time from sending the write to the hook receiving its notification is the
//! figure. The baseline is the plain HTTP write of the same bookings (sent → 201), in the same
//! run, so the ratio says what the notification adds on top of the write it follows.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http::{self, Client};
use crate::load::Stats;
use crate::servers::Node;

/// How long one notification may take before the run fails.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// What one run measured (milliseconds).
pub struct SubscriptionRun {
    pub delivery: Stats,
    pub write: Stats,
}

/// Arrivals at the hook: how many, and when the last one came.
#[derive(Default)]
struct Arrivals {
    count: Mutex<(usize, Option<Instant>)>,
    changed: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A loopback HTTP server answering 200 to every POST and noting when each arrived.
fn hook() -> anyhow::Result<(String, Arc<Arrivals>)> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind the hook")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let arrivals = Arc::new(Arrivals::default());
    let noted = arrivals.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let noted = noted.clone();
            std::thread::spawn(move || serve(stream, &noted));
        }
    });
    Ok((url, arrivals))
}

fn serve(stream: std::net::TcpStream, arrivals: &Arrivals) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        {
            let mut count = lock(&arrivals.count);
            count.0 += 1;
            count.1 = Some(Instant::now());
        }
        arrivals.changed.notify_all();
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// Books `bookings` appointments one at a time on the node at `node`, each waiting for its
/// notification before the next.
pub fn measure(node: &Node, bookings: usize) -> anyhow::Result<SubscriptionRun> {
    let (url, arrivals) = hook()?;
    let mut client = Client::new(node.addr());
    let subscription = serde_json::json!({
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "medición",
        "criteria": "Appointment?status=booked",
        "channel": {"type": "rest-hook", "endpoint": url, "payload": "application/fhir+json"}
    });
    let created = client.post_json("/fhir/Subscription", &subscription.to_string())?;
    if created.status != 201 {
        bail!("the subscription was refused: {}", created.text());
    }
    let patient = client.post_json(
        "/fhir/Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Medición","given":["Cita"]}],"gender":"female","birthDate":"1990-01-01"}"#,
    )?;
    if patient.status != 201 {
        bail!("the patient was refused: {}", patient.text());
    }
    let patient_id = serde_json::from_str::<serde_json::Value>(&patient.text())?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut delivery = Vec::with_capacity(bookings);
    let mut write = Vec::with_capacity(bookings);
    for n in 0..bookings {
        let minute = n % 600;
        let body = serde_json::json!({
            "resourceType": "Appointment",
            "status": "booked",
            "start": format!("2027-01-{:02}T{:02}:{:02}:00-06:00", 1 + n / 600 % 28, 8 + minute / 60, minute % 60),
            "end": format!("2027-01-{:02}T{:02}:{:02}:30-06:00", 1 + n / 600 % 28, 8 + minute / 60, minute % 60),
            "participant": [{"actor": {"reference": format!("Patient/{patient_id}")}, "status": "accepted"}]
        })
        .to_string();
        let before = lock(&arrivals.count).0;
        let sent = Instant::now();
        let answer = client.post_json("/fhir/Appointment", &body)?;
        let written = sent.elapsed();
        if answer.status != 201 {
            bail!("booking {n} was refused: {}", answer.text());
        }
        let mut count = lock(&arrivals.count);
        while count.0 <= before {
            let (next, timeout) = arrivals
                .changed
                .wait_timeout(count, DELIVERY_TIMEOUT)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            count = next;
            if timeout.timed_out() && count.0 <= before {
                bail!("booking {n}: no notification within {DELIVERY_TIMEOUT:?}");
            }
        }
        let arrived = count.1.unwrap_or_else(Instant::now);
        drop(count);
        write.push(written.as_secs_f64() * 1e3);
        delivery.push(arrived.duration_since(sent).as_secs_f64() * 1e3);
    }
    Ok(SubscriptionRun {
        delivery: Stats::of(delivery),
        write: Stats::of(write),
    })
}

/// An empty node with the bench's system account, in `dir`; returns its token.
pub fn prepare(dir: &Path) -> anyhow::Result<(Arc<store_sqlite::SqliteStore>, ehr::Ehr, String)> {
    std::fs::create_dir_all(dir)?;
    let store = store_sqlite::SqliteStore::open(dir)
        .map_err(|err| anyhow::anyhow!("cannot open the store: {err}"))?;
    let ehr = ehr::Ehr::new(store.clone(), Arc::new(ehr::SystemClock), "bench");
    let keys = auth::token::KeyStore::load_or_create(dir)
        .map_err(|err| anyhow::anyhow!("signing key: {err}"))?;
    let token = crate::bench_token(&ehr, &keys)?;
    Ok((store, ehr, token))
}

/// Sets the bearer token the built-in client sends to `node`.
pub fn authorize(node: &Node, token: &str) {
    http::set_bearer(node.addr(), token);
}
