//! Agendas at scale (issue 17): slot search and booking under contention on one SQLite node.
//!
//! Data: `schedules` Schedules (one consultorio each, its Location carrying the clinic's
//! CLUES) with 100 Slots each over 10 days (10 a day), written as NDJSON and loaded with the
//! node's import path (every search parameter indexed, as on a real node). At the default
//! scale that is 10^4 schedules and 10^6 slots.
//!
//! Figures, each with a baseline from the same run on the same node:
//! * slot search: `Slot?schedule=…&status=free&start=ge{day}&start=lt{day+1}&_sort=start` (what
//!   the booking page asks per agenda and day), one client; baseline: reads by id of the same
//!   slots, alternating with the searches;
//! * booking under contention: `receptionists` clients (50 by default) book free slots over
//!   HTTP, [`CONTENDERS`] of them racing for each slot, so most attempts meet a slot just taken
//!   and get 409; baseline: the same clients writing Appointments that hold no slot (the same
//!   write path without the slot's claim). A slot booked twice fails the run.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http::Client;
use crate::load::Stats;
use crate::servers::Node;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Slots per schedule: 10 days of 10 slots.
pub const SLOTS_PER_SCHEDULE: usize = 100;
const DAYS: usize = 10;
const SLOTS_PER_DAY: usize = SLOTS_PER_SCHEDULE / DAYS;

/// Clients racing for each slot in the contention load.
pub const CONTENDERS: usize = 5;

/// Schedules per clinic (CLUES) in the synthetic network.
const SCHEDULES_PER_CLINIC: usize = 10;

/// The first day of the agendas (civil date, Mexico City).
const FIRST_DAY: (i32, u32, u32) = (2027, 3, 1);

fn day(n: usize) -> String {
    let (y, m, d) = FIRST_DAY;
    format!("{y}-{m:02}-{:02}", d as usize + n)
}

fn schedule_id(n: usize) -> String {
    format!("agenda-{n:06}")
}

fn slot_id(schedule: usize, n: usize) -> String {
    format!("espacio-{schedule:06}-{n:03}")
}

fn clues(clinic: usize) -> String {
    format!("BCSSA{clinic:06}")
}

/// Writes the agendas as NDJSON files in `dir`; returns the files.
pub fn write_agendas(dir: &Path, schedules: usize) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let locations_path = dir.join("Location.ndjson");
    let schedules_path = dir.join("Schedule.ndjson");
    let slots_path = dir.join("Slot.ndjson");
    let mut locations = std::io::BufWriter::new(std::fs::File::create(&locations_path)?);
    let mut schedule_file = std::io::BufWriter::new(std::fs::File::create(&schedules_path)?);
    let mut slots = std::io::BufWriter::new(std::fs::File::create(&slots_path)?);
    for s in 0..schedules {
        let clinic = s / SCHEDULES_PER_CLINIC;
        let location = format!("consultorio-{s:06}");
        let line = serde_json::json!({
            "resourceType": "Location",
            "id": location,
            "identifier": [{"system": mexico::systems::CLUES, "value": clues(clinic)}],
            "name": format!("Consultorio {}", s % SCHEDULES_PER_CLINIC + 1)
        });
        writeln!(locations, "{line}")?;
        let line = serde_json::json!({
            "resourceType": "Schedule",
            "id": schedule_id(s),
            "active": true,
            "serviceType": [{"text": "Consulta externa"}],
            "actor": [{"reference": format!("Location/{location}")}]
        });
        writeln!(schedule_file, "{line}")?;
        for n in 0..SLOTS_PER_SCHEDULE {
            let (d, k) = (n / SLOTS_PER_DAY, n % SLOTS_PER_DAY);
            let minutes = 8 * 60 + k * 20;
            let start = format!(
                "{}T{:02}:{:02}:00-06:00",
                day(d),
                minutes / 60,
                minutes % 60
            );
            let end_min = minutes + 20;
            let end = format!(
                "{}T{:02}:{:02}:00-06:00",
                day(d),
                end_min / 60,
                end_min % 60
            );
            let line = serde_json::json!({
                "resourceType": "Slot",
                "id": slot_id(s, n),
                "schedule": {"reference": format!("Schedule/{}", schedule_id(s))},
                "status": "free",
                "start": start,
                "end": end
            });
            writeln!(slots, "{line}")?;
        }
    }
    locations.flush()?;
    schedule_file.flush()?;
    slots.flush()?;
    Ok(vec![locations_path, schedules_path, slots_path])
}

/// Slot search and its read-by-id baseline (ms).
pub struct SearchRun {
    pub search: Stats,
    pub read: Stats,
    /// Free slots found per search, on average (10 before any booking).
    pub found_mean: f64,
}

/// `queries` searches of one agenda's free slots on one day, alternating with reads by id of
/// slots of the same agendas.
pub fn measure_search(
    node: &Node,
    schedules: usize,
    queries: usize,
    seed: u64,
) -> anyhow::Result<SearchRun> {
    let mut rng = crate::rng::Rng::new(seed);
    let mut client = Client::new(node.addr());
    let (mut search, mut read) = (Vec::with_capacity(queries), Vec::with_capacity(queries));
    let mut found = 0usize;
    for _ in 0..queries {
        let s = rng.below(schedules as u64) as usize;
        let d = rng.below(DAYS as u64) as usize;
        let path = format!(
            "/fhir/Slot?schedule=Schedule/{}&status=free&start=ge{}&start=lt{}&_sort=start&_count=50",
            schedule_id(s),
            day(d),
            day(d + 1)
        );
        let sent = Instant::now();
        let answer = client.get(&path)?;
        search.push(sent.elapsed().as_secs_f64() * 1e3);
        if answer.status != 200 {
            bail!("slot search answered {}: {}", answer.status, answer.text());
        }
        found += answer.text().matches("\"resourceType\":\"Slot\"").count();
        let n = rng.below(SLOTS_PER_SCHEDULE as u64) as usize;
        let sent = Instant::now();
        let answer = client.get(&format!("/fhir/Slot/{}", slot_id(s, n)))?;
        read.push(sent.elapsed().as_secs_f64() * 1e3);
        if answer.status != 200 {
            bail!("slot read answered {}: {}", answer.status, answer.text());
        }
    }
    Ok(SearchRun {
        search: Stats::of(search),
        read: Stats::of(read),
        found_mean: found as f64 / queries.max(1) as f64,
    })
}

/// One concurrent write load: attempts per second, latencies, outcomes.
pub struct WriteRun {
    pub attempts: u64,
    pub seconds: f64,
    pub latency: Stats,
    pub booked: u64,
    pub refused: u64,
}

impl WriteRun {
    pub fn rate(&self) -> f64 {
        self.attempts as f64 / self.seconds.max(1e-9)
    }
}

/// Creates one patient per client; returns their ids.
pub fn patients(node: &Node, clients: usize) -> anyhow::Result<Vec<String>> {
    let mut client = Client::new(node.addr());
    let mut ids = Vec::with_capacity(clients);
    for n in 0..clients {
        let body = serde_json::json!({
            "resourceType": "Patient",
            "name": [{"family": "Medición", "given": [format!("Recepción {n}")]}],
            "gender": "female",
            "birthDate": "1990-01-01"
        });
        let answer = client.post_json("/fhir/Patient", &body.to_string())?;
        if answer.status != 201 {
            bail!("the patient was refused: {}", answer.text());
        }
        let id = serde_json::from_str::<serde_json::Value>(&answer.text())?["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        ids.push(id);
    }
    Ok(ids)
}

/// `patients.len()` clients book for `duration`: attempt `t` (a shared ticket) goes to slot
/// `t / CONTENDERS` of the agendas' slots, in order, so [`CONTENDERS`] clients race for each.
/// With `hold_slots` false they write Appointments that hold no slot (the baseline).
pub fn measure_booking(
    node: &Node,
    patients: &[String],
    schedules: usize,
    duration: Duration,
    hold_slots: bool,
) -> anyhow::Result<WriteRun> {
    let ticket = AtomicUsize::new(0);
    let latencies: Mutex<Vec<f64>> = Mutex::new(Vec::new());
    let winners: Mutex<HashMap<usize, usize>> = Mutex::new(HashMap::new());
    let refused = AtomicUsize::new(0);
    let slots_total = schedules * SLOTS_PER_SCHEDULE;
    let (attempts, seconds) = crate::load::parallel_for(patients.len(), duration, |idx, _| {
        thread_local! {
            static CLIENT: std::cell::RefCell<Option<Client>> = const { std::cell::RefCell::new(None) };
        }
        let t = ticket.fetch_add(1, Ordering::Relaxed);
        let slot = (t / CONTENDERS) % slots_total.max(1);
        let (s, n) = (slot / SLOTS_PER_SCHEDULE, slot % SLOTS_PER_SCHEDULE);
        let patient = &patients[idx];
        let body = if hold_slots {
            serde_json::json!({
                "resourceType": "Appointment",
                "status": "booked",
                "slot": [{"reference": format!("Slot/{}", slot_id(s, n))}],
                "participant": [{"actor": {"reference": format!("Patient/{patient}")}, "status": "accepted"}]
            })
        } else {
            let minute = t % 600;
            serde_json::json!({
                "resourceType": "Appointment",
                "status": "booked",
                "start": format!("2027-06-01T{:02}:{:02}:00-06:00", 8 + minute / 60, minute % 60),
                "end": format!("2027-06-01T{:02}:{:02}:30-06:00", 8 + minute / 60, minute % 60),
                "participant": [{"actor": {"reference": format!("Patient/{patient}")}, "status": "accepted"}]
            })
        };
        let body = body.to_string();
        let sent = Instant::now();
        let answer = CLIENT.with(|cell| {
            let mut cell = cell.borrow_mut();
            let client = cell.get_or_insert_with(|| Client::new(node.addr()));
            client.post_json("/fhir/Appointment", &body)
        })?;
        let ms = sent.elapsed().as_secs_f64() * 1e3;
        lock(&latencies).push(ms);
        match answer.status {
            201 => {
                if hold_slots {
                    let mut winners = lock(&winners);
                    let count = winners.entry(slot).or_insert(0);
                    *count += 1;
                    if *count > 1 {
                        bail!("Slot/{} was booked twice", slot_id(s, n));
                    }
                }
            }
            409 if hold_slots => {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            status => bail!("a booking answered {status}: {}", answer.text()),
        }
        Ok(())
    })
    .context("booking load")?;
    let refused = refused.load(Ordering::Relaxed) as u64;
    Ok(WriteRun {
        attempts,
        seconds,
        latency: Stats::of(latencies.into_inner().unwrap_or_default()),
        booked: attempts.saturating_sub(refused),
        refused,
    })
}
