//! The cost of access control and audit on a read (issue 6: ≤ 15 % of the same read without
//! them).
//!
//! Method: a physician with a care relationship reads resources of their clinic's patients.
//! CPU time, not wall time, is compared, because the audit entry is written by another thread
//! (the audit sink and the store's writer) and on two shared cores wall time would hide it:
//! - in-process, interleaved rounds of (a) the read without access control or audit (the
//!   store read and the deleted/missing checks `ehr.read` made before issue 6) and (b)
//!   `ehr.read` as the physician, each round ended by flushing the audit sink; the process's
//!   CPU time (`/proc/self/stat`, every thread) per read gives the added cost;
//! - over HTTP, the node process's CPU time per read under `wrk` with the physician's token.
//!   The same read without access control is that minus the added cost measured in-process
//!   (the HTTP server cannot run without authentication, by design), so the ratio reported is
//!   added / (HTTP − added).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Linux reports `/proc/*/stat` CPU times in USER_HZ, fixed at 100 per second.
const TICKS_PER_SECOND: f64 = 100.0;

/// Process CPU time (user + system, all threads) in seconds.
pub fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc stat format")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |idx: usize| -> anyhow::Result<f64> {
        fields
            .get(idx)
            .context("short /proc stat")?
            .parse::<f64>()
            .context("bad /proc stat number")
    };
    // utime and stime are fields 14 and 15: indices 11 and 12 after the name.
    Ok((ticks(11)? + ticks(12)?) / TICKS_PER_SECOND)
}

/// What was measured.
pub struct AccessCost {
    /// Resources in the read set, and their clinic.
    pub reads_in_set: usize,
    pub clues: String,
    /// CPU µs per read without access control and audit (in-process).
    pub without_us: f64,
    /// CPU µs per read as the physician, audit included (in-process).
    pub with_us: f64,
    /// CPU µs of the node process per HTTP read as the physician, when measured.
    pub http_us: Option<f64>,
    pub http_rate: Option<f64>,
}

impl AccessCost {
    pub fn added_us(&self) -> f64 {
        (self.with_us - self.without_us).max(0.0)
    }
}

/// A physician of the first registered patient's clinic, and reads of that clinic's records.
pub struct ReadSet {
    pub clues: String,
    pub physician: ehr::Requester,
    pub token: String,
    pub reads: Vec<(String, String)>,
}

fn first_json(
    ehr: &ehr::Ehr,
    who: &ehr::Requester,
    resource_type: &str,
    params: &[(&str, String)],
) -> anyhow::Result<Vec<serde_json::Value>> {
    let request = ehr::SearchRequest {
        resource_type: resource_type.into(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        handling: search::Handling::Lenient,
    };
    let (page, _) = ehr.search(who, &request).map_err(crate::ehr_error)?;
    page.matches
        .iter()
        .map(|s| serde_json::from_str(&s.body).context("stored body"))
        .collect()
}

pub fn read_set(
    ehr: &ehr::Ehr,
    keys: &auth::token::KeyStore,
    system: &ehr::Requester,
    patients: usize,
    reads_max: usize,
) -> anyhow::Result<ReadSet> {
    let first = first_json(
        ehr,
        system,
        "Patient",
        &[
            ("organization:missing", "false".into()),
            ("_count", "1".into()),
        ],
    )?;
    let Some(org_ref) = first
        .first()
        .and_then(|p| p["managingOrganization"]["reference"].as_str())
        .map(str::to_string)
    else {
        bail!("no patient registered at a clinic");
    };
    let org_id = org_ref.trim_start_matches("Organization/").to_string();
    let org = first_json(ehr, system, "Organization", &[("_id", org_id.clone())])?;
    let Some(clues) = org
        .first()
        .and_then(|o| o["identifier"].as_array())
        .and_then(|ids| {
            ids.iter()
                .find(|i| i["system"] == mexico::systems::CLUES)
                .and_then(|i| i["value"].as_str())
        })
        .map(str::to_string)
    else {
        bail!("the clinic has no CLUES");
    };
    let username = "bench-medica";
    let account = ehr::NewAccount {
        username: username.into(),
        role: auth::role::Role::Physician,
        clues: Some(clues.clone()),
        practitioner_id: None,
        patient_id: None,
        display_name: "Medición (médica)".into(),
    };
    match ehr.add_account(
        system,
        account,
        "Clave-de-medicion-2026",
        auth::password::HashCost::TEST_ONLY,
    ) {
        Ok(()) | Err(ehr::Error::Conflict(_)) => {}
        Err(err) => return Err(crate::ehr_error(err)),
    }
    let stored = ehr
        .accounts()
        .map_err(crate::ehr_error)?
        .into_iter()
        .find(|a| a.username == username)
        .context("the bench physician vanished")?;
    let issued = ehr
        .issue_token(system, keys, &stored, None, Some(8 * 3_600_000))
        .map_err(crate::ehr_error)?;
    let physician = ehr
        .requester_for_claims(&issued.claims, None)
        .map_err(crate::ehr_error)?;
    let mut reads = Vec::new();
    let registered = first_json(
        ehr,
        system,
        "Patient",
        &[
            ("organization", org_ref.clone()),
            ("_count", patients.to_string()),
        ],
    )?;
    for patient in registered {
        let Some(id) = patient["id"].as_str() else {
            continue;
        };
        let request = ehr::EverythingRequest {
            patient_id: id.to_string(),
            since_ms: None,
            types: Vec::new(),
        };
        for stored in ehr.everything(system, &request).map_err(crate::ehr_error)? {
            reads.push((stored.resource_type, stored.id));
        }
        if reads.len() >= reads_max {
            break;
        }
    }
    reads.truncate(reads_max);
    if reads.is_empty() {
        bail!("the clinic's patients have no records");
    }
    Ok(ReadSet {
        clues,
        physician,
        token: issued.token,
        reads,
    })
}

/// Reads for `round`, `n` counting reads; returns (reads, CPU seconds of this process).
fn cpu_round(
    round: Duration,
    mut read: impl FnMut(usize) -> anyhow::Result<()>,
    finish: impl FnOnce(),
) -> anyhow::Result<(u64, f64)> {
    let cpu_before = cpu_seconds("self")?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < round {
        for _ in 0..256 {
            read(n as usize)?;
            n += 1;
        }
    }
    finish();
    Ok((n, cpu_seconds("self")? - cpu_before))
}

/// The in-process comparison, in interleaved rounds.
/// `store` is the one `ehr` reads: the baseline is the same read without access control and
/// audit.
pub fn in_process(
    ehr: &ehr::Ehr,
    store: &dyn store::Store,
    set: &ReadSet,
    rounds: u32,
    round: Duration,
) -> anyhow::Result<(f64, f64)> {
    let without = |n: usize| -> anyhow::Result<()> {
        let (resource_type, id) = &set.reads[n % set.reads.len()];
        match store.read(resource_type, id) {
            Ok(Some(stored)) if !stored.deleted => Ok(()),
            Ok(_) => bail!("{resource_type}/{id} vanished"),
            Err(err) => bail!("store read: {err}"),
        }
    };
    let with = |n: usize| -> anyhow::Result<()> {
        let (resource_type, id) = &set.reads[n % set.reads.len()];
        ehr.read(&set.physician, resource_type, id)
            .map(|_| ())
            .map_err(crate::ehr_error)
    };
    // Warm both paths (caches of relationships, consents, pages).
    for n in 0..set.reads.len() {
        without(n)?;
        with(n)?;
    }
    ehr.flush_audit();
    let (mut reads_without, mut cpu_without) = (0u64, 0.0);
    let (mut reads_with, mut cpu_with) = (0u64, 0.0);
    for _ in 0..rounds {
        let (n, cpu) = cpu_round(round, without, || {})?;
        reads_without += n;
        cpu_without += cpu;
        let (n, cpu) = cpu_round(round, with, || ehr.flush_audit())?;
        reads_with += n;
        cpu_with += cpu;
    }
    Ok((
        cpu_without * 1e6 / reads_without.max(1) as f64,
        cpu_with * 1e6 / reads_with.max(1) as f64,
    ))
}

/// The node process's CPU per HTTP read as the physician, under `wrk`; (µs per read, req/s).
pub fn http(
    work: &Path,
    addr: std::net::SocketAddr,
    pid: u32,
    set: &ReadSet,
    seconds: u64,
) -> anyhow::Result<(f64, f64)> {
    let paths: Vec<String> = set
        .reads
        .iter()
        .map(|(t, id)| format!("/fhir/{t}/{id}"))
        .collect();
    let file = crate::load::write_paths(work, "access-read", &paths)?;
    crate::http::set_bearer(addr, &set.token);
    let _ = crate::load::wrk(work, addr, &file, 1)?;
    let pid = pid.to_string();
    let before = cpu_seconds(&pid)?;
    let load = crate::load::wrk(work, addr, &file, seconds)?;
    let cpu = cpu_seconds(&pid)? - before;
    if load.errors > 0 {
        bail!("{} HTTP errors while reading as the physician", load.errors);
    }
    Ok((cpu * 1e6 / load.requests.max(1) as f64, load.rate()))
}
