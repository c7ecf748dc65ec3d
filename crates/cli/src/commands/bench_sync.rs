//! `expediente bench-sync`: the sync figures of issue 5, in one process over loopback.
//!
//! A hub and clinic engines run in this process; the slow rural link is simulated by a TCP
//! proxy that delays every chunk by half the round trip and serialises it at the link's bit
//! rate (each direction separately, as on a full-duplex link). The data is the synthetic
//! population (`synth`), so bodies have realistic size and redundancy. Since issue 12 the hub
//! decides every pushed version as the clinic's staff would be, so the bench is shaped like the
//! country: the facilities are in the hub's directory, each clinic node is one health centre
//! (its CLUES), and it pushes the records of the patients registered there. Figures:
//! - bytes on the wire per synced resource as a share of its JSON (target ≤ 35 %);
//! - a clinic back after 30 days: its new resources pushed and the hub's pulled, over the link;
//! - hub ingest with many clinics pushing at once (direct loopback);
//! - on-demand fetch of a 500-resource record over the link;
//! - referral delivery (issue 17): a referral written at one clinic until the receiving clinic,
//!   which never saw the patient, holds it and the record, both over the link (target < 10 s).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Args, Clone, Debug)]
pub struct BenchSyncArgs {
    /// Pacientes de la población sintética / Patients in the synthetic population
    #[arg(long, default_value_t = 36)]
    pub patients: u64,
    /// Velocidad del enlace simulado, kbit/s / Simulated link rate, kbit/s
    #[arg(long, default_value_t = 1_000)]
    pub link_kbit: u64,
    /// Ida y vuelta del enlace simulado, ms / Simulated link round trip, ms
    #[arg(long, default_value_t = 300)]
    pub rtt_ms: u64,
    /// Clínicas que envían a la vez al nodo central / Clinics pushing to the hub at once
    #[arg(long, default_value_t = 50)]
    pub clinics: usize,
    /// Recursos del expediente traído bajo demanda / Resources of the record fetched on demand
    #[arg(long, default_value_t = 500)]
    pub chart_resources: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Base de datos PostgreSQL vacía para un segundo nodo central: la ingesta se mide en ambos
    /// motores en la misma corrida / An empty PostgreSQL database for a second hub: the ingest
    /// is measured on both engines in the same run
    #[arg(long)]
    pub hub_database: Option<String>,
}

pub fn run(args: BenchSyncArgs) -> anyhow::Result<ExitCode> {
    on_runtime(bench(args))
}

/// Runs a benchmark on a multi-threaded runtime of its own.
pub(super) fn on_runtime(
    bench: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(bench)?;
    Ok(ExitCode::SUCCESS)
}

/// One resource of the population: its type, JSON line and the patient it belongs to.
pub(super) struct Line {
    resource_type: String,
    json: String,
    patient: Option<String>,
}

/// A population living around `centres` health centres of one state (with its hospitals).
pub(super) fn population(
    args: &BenchSyncArgs,
    dir: &Path,
    centres: u64,
) -> anyhow::Result<Vec<Line>> {
    let generate = synth::GenerateArgs {
        patients: args.patients,
        seed: args.seed,
        out: dir.to_path_buf(),
        clinics: Some(centres),
        ..synth::GenerateArgs::default()
    };
    synth::generate_to_dir(&generate, dir, &|_| {})
        .map_err(|err| anyhow::anyhow!("{}", err.message_en()))?;
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort_by_key(|p| {
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        (ehr::load_order(&stem), stem)
    });
    let mut lines = Vec::new();
    for path in files {
        let resource_type = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        for line in BufReader::new(std::fs::File::open(&path)?).lines() {
            let json = line?;
            let patient = fhir::json::parse_str(&json)
                .ok()
                .and_then(|resource| search::patient_compartment(&resource).into_iter().next());
            lines.push(Line {
                resource_type: resource_type.clone(),
                json,
                patient,
            });
        }
    }
    Ok(lines)
}

/// A population as the country holds it: the directory (facilities and their staff: no
/// patient) and each patient's record under the CLUES of the facility where the patient is
/// registered.
pub(super) struct Split {
    directory: Vec<String>,
    by_clues: BTreeMap<String, Vec<String>>,
    /// The patients registered at each CLUES.
    patients_by_clues: BTreeMap<String, std::collections::BTreeSet<String>>,
}

pub(super) fn split(lines: &[Line]) -> Split {
    let mut clues_of_org: BTreeMap<String, String> = BTreeMap::new();
    let mut home: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line.json) else {
            continue;
        };
        let id = json["id"].as_str().unwrap_or_default().to_string();
        match line.resource_type.as_str() {
            "Organization" => {
                let clues = json["identifier"].as_array().and_then(|ids| {
                    ids.iter()
                        .find(|i| i["system"] == mexico::systems::CLUES)
                        .and_then(|i| i["value"].as_str())
                });
                if let Some(clues) = clues {
                    clues_of_org.insert(id, clues.to_string());
                }
            }
            "Patient" => {
                if let Some(org) = json["managingOrganization"]["reference"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("Organization/"))
                {
                    home.insert(id, org.to_string());
                }
            }
            _ => {}
        }
    }
    let mut out = Split {
        directory: Vec::new(),
        by_clues: BTreeMap::new(),
        patients_by_clues: BTreeMap::new(),
    };
    for line in lines {
        match &line.patient {
            None => out.directory.push(line.json.clone()),
            Some(patient) => {
                let clues = home.get(patient).and_then(|org| clues_of_org.get(org));
                if let Some(clues) = clues {
                    out.by_clues
                        .entry(clues.clone())
                        .or_default()
                        .push(line.json.clone());
                    out.patients_by_clues
                        .entry(clues.clone())
                        .or_default()
                        .insert(patient.clone());
                }
            }
        }
    }
    out
}

/// Imports lines into a new node store.
fn import(dir: &Path, lines: Vec<String>) -> anyhow::Result<(super::database::Database, ehr::Ehr)> {
    let (store, ehr) = super::open_node(dir, &Default::default(), true)?;
    import_into(&ehr, lines)?;
    Ok((store, ehr))
}

/// Imports lines through a node's `Ehr` (the hub's directory, before clinics push).
fn import_into(ehr: &ehr::Ehr, lines: Vec<String>) -> anyhow::Result<()> {
    let text = Arc::new(lines.join("\n"));
    let source = ehr::ImportSource {
        name: "bench".to_string(),
        open: Box::new(move || {
            Ok(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())) as Box<dyn BufRead>)
        }),
    };
    let report = ehr::import_source(
        ehr,
        &ehr::Requester::local_system("bench-sync"),
        &[source],
        false,
        &|_| {},
    )
    .map_err(|err| anyhow::anyhow!("{err}"))?;
    anyhow::ensure!(
        report.rejected_total() == 0,
        "import rejected {} resources: {:?}",
        report.rejected_total(),
        report.rejections.first()
    );
    Ok(())
}

/// Bytes that crossed the simulated link, per direction.
#[derive(Default)]
struct Wire {
    up: AtomicU64,
    down: AtomicU64,
}

impl Wire {
    fn take(&self) -> u64 {
        self.up.swap(0, Ordering::Relaxed) + self.down.swap(0, Ordering::Relaxed)
    }
}

/// A TCP proxy on loopback that behaves like a slow link in front of `upstream`.
async fn slow_link(
    upstream: std::net::SocketAddr,
    kbit: u64,
    rtt_ms: u64,
) -> anyhow::Result<(String, Arc<Wire>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let wire = Arc::new(Wire::default());
    let counters = wire.clone();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            let (up, down) = (counters.clone(), counters.clone());
            tokio::spawn(pipe(ri, wo, kbit, rtt_ms, move |n| {
                up.up.fetch_add(n, Ordering::Relaxed);
            }));
            tokio::spawn(pipe(ro, wi, kbit, rtt_ms, move |n| {
                down.down.fetch_add(n, Ordering::Relaxed);
            }));
        }
    });
    Ok((format!("http://{address}"), wire))
}

/// One direction of the link: each chunk leaves when the link is free, takes its
/// serialisation time, and arrives half a round trip later.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    kbit: u64,
    rtt_ms: u64,
    count: impl Fn(u64) + Send + 'static,
) {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = receiver.recv().await {
            tokio::time::sleep_until(at.into()).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut free_at = Instant::now();
    let mut buffer = vec![0u8; 16 * 1024];
    let bytes_per_s = (kbit * 1_000 / 8).max(1) as f64;
    while let Ok(n) = from.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        count(n as u64);
        free_at = free_at.max(Instant::now()) + Duration::from_secs_f64(n as f64 / bytes_per_s);
        let at = free_at + Duration::from_millis(rtt_ms / 2);
        if sender.send((at, buffer[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(sender);
    let _ = writer.await;
}

pub(super) struct Hub {
    store: super::database::Database,
    ehr: ehr::Ehr,
    address: std::net::SocketAddr,
}

async fn start_hub(dir: &Path) -> anyhow::Result<Hub> {
    start_hub_on(dir, &Default::default()).await
}

/// A hub whose store is the one `database` names (SQLite in `dir` by default).
pub(super) async fn start_hub_on(
    dir: &Path,
    database: &super::database::DatabaseArg,
) -> anyhow::Result<Hub> {
    let (store, ehr) = tokio::task::block_in_place(|| super::open_node(dir, database, false))?;
    let sync_store = store.sync.clone();
    let hub = tokio::task::block_in_place(|| {
        sync::hub::Hub::new(ehr.clone(), store.store.clone(), sync_store.clone())
    })?;
    let app = sync::http::hub_router(Arc::new(hub), sync_store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Hub {
        store,
        ehr,
        address,
    })
}

fn clinic(
    hub: &Hub,
    clues: &str,
    url: &str,
    store: &super::database::Database,
    ehr: ehr::Ehr,
) -> anyhow::Result<Arc<sync::clinic::Clinic>> {
    let mut random = [0u8; sync::credential::TOKEN_RANDOM_BYTES];
    rand::fill(&mut random);
    let token = sync::hub::enroll(hub.store.store.as_ref(), clues, &random, ehr.now_ms(), None)?;
    let mut config = sync::clinic::ClinicConfig::new(clues.to_string(), url.to_string(), token);
    config.fetch_timeout_ms = 60_000;
    Ok(sync::clinic::Clinic::new(
        ehr,
        store.store.clone(),
        store.sync.clone(),
        config,
    )?)
}

/// Rounds until nothing is left to move.
async fn sync_all(clinic: &sync::clinic::Clinic) -> anyhow::Result<()> {
    while clinic.round().await? {}
    Ok(())
}

/// A Patient with `n - 1` Observations (the population's own, re-pointed at it), for the fetch
/// figure: distinct synthetic bodies, so compression is not flattered by copies.
fn chart(lines: &[Line], n: usize, organization: &str) -> anyhow::Result<(String, Vec<String>)> {
    let curp = "PEGJ901123HDFRMN03";
    let patient_id = "bench-chart";
    let observations: Vec<&Line> = lines
        .iter()
        .filter(|l| l.resource_type == "Observation")
        .collect();
    anyhow::ensure!(
        !observations.is_empty(),
        "the population has no Observation"
    );
    let mut out = vec![format!(
        r#"{{"resourceType":"Patient","id":"{patient_id}","identifier":[{{"use":"official","system":"{}","value":"{curp}"}}],"name":[{{"family":"Pérez","given":["Juan"]}}],"gender":"male","birthDate":"1990-11-23","managingOrganization":{{"reference":"Organization/{organization}"}}}}"#,
        mexico::systems::CURP
    )];
    for idx in 1..n {
        let mut observation: serde_json::Value =
            serde_json::from_str(&observations[idx % observations.len()].json)?;
        observation["id"] = serde_json::json!(format!("bench-chart-obs-{idx}"));
        observation["subject"] = serde_json::json!({"reference": format!("Patient/{patient_id}")});
        if let Some(object) = observation.as_object_mut() {
            object.remove("encounter");
        }
        out.push(observation.to_string());
    }
    Ok((curp.to_string(), out))
}

async fn bench(args: BenchSyncArgs) -> anyhow::Result<()> {
    let temp = tempfile_dir()?;
    // Two health centres: clinic B (the rest of the country, a fast link) and clinic A (back
    // after 30 days offline, a slow link).
    let lines = population(&args, &temp.join("population"), 2)?;
    let country = split(&lines);
    let mut centres = country.by_clues.keys().cloned();
    let (Some(clues_a), Some(clues_b)) = (centres.next(), centres.next()) else {
        anyhow::bail!("the population has fewer than two health centres with patients");
    };
    let hub = start_hub(&temp.join("hub")).await?;
    // The national directory is the hub's own.
    import_into(&hub.ehr, country.directory.clone())?;
    let directory_pulled = lines
        .iter()
        .filter(|l| {
            l.patient.is_none() && sync::apply::REFERENCE_TYPES.contains(&l.resource_type.as_str())
        })
        .count();

    // Clinic B has its patients and a 500-resource record registered there.
    let organization_b = organization_of(&lines, &clues_b)?;
    let (chart_curp, chart_lines) = chart(&lines, args.chart_resources, &organization_b)?;
    let mut b_lines = country.by_clues.get(&clues_b).cloned().unwrap_or_default();
    let b_patients_side = b_lines.len();
    b_lines.extend(chart_lines);
    let (b_store, b_ehr) = import(&temp.join("b"), b_lines)?;
    let b = clinic(
        &hub,
        &clues_b,
        &format!("http://{}", hub.address),
        &b_store,
        b_ehr,
    )?;
    sync_all(&b).await?;
    let hub_side = b_patients_side + directory_pulled;

    // Clinic A wrote its patients' records while offline; it follows B's patients too (they
    // were seen there before), so it pulls their changes and the directory.
    let a_lines: Vec<String> = country.by_clues.get(&clues_a).cloned().unwrap_or_default();
    let a_side = a_lines.len();
    let (a_store, a_ehr) = import(&temp.join("a"), a_lines)?;
    let others: Vec<String> = country
        .patients_by_clues
        .get(&clues_b)
        .map(|patients| patients.iter().cloned().collect())
        .unwrap_or_default();
    let hub_store = hub.store.store.clone();
    let now_ms = a_ehr.now_ms();
    let follower = clues_a.clone();
    store::write_with(hub_store.as_ref(), move |tx| {
        let Some(sync) = tx.sync() else {
            return Err(store::Error::Other("no sync log".into()));
        };
        for patient in &others {
            sync.follow(&follower, patient, now_ms)?;
        }
        Ok(())
    })?;
    let (a_url, a_wire) = slow_link(hub.address, args.link_kbit, args.rtt_ms).await?;
    let a = clinic(&hub, &clues_a, &a_url, &a_store, a_ehr)?;
    // Stamping the offline backlog is local work; the figure is the exchange.
    let sync_store: &dyn store::sync::SyncStore = a_store.sync.as_ref();
    let _ = sync::clinic::next_push(a_store.store.as_ref(), sync_store)?;
    a_wire.take();
    let started = Instant::now();
    sync_all(&a).await?;
    let catch_up_s = started.elapsed().as_secs_f64();
    let catch_up_bytes = a_wire.take();
    let refused = sync_store.refused_count()?;
    anyhow::ensure!(
        refused == 0,
        "the hub refused {refused} of clinic A's versions: {:?}",
        sync_store.refused(3)?
    );
    let held: u64 = a_store.store.counts()?.iter().map(|(_, n)| n).sum();
    anyhow::ensure!(
        held as usize == a_side + hub_side,
        "clinic A holds {held} resources after the catch-up, expected {}",
        a_side + hub_side
    );
    let moved = a_side + hub_side;
    let json_bytes: u64 = lines.iter().map(|l| l.json.len() as u64).sum();

    // On-demand fetch of the 500-resource record by a third clinic over the same link.
    let (c_store, c_ehr) = super::open_node(&temp.join("c"), &Default::default(), false)?;
    let (c_url, c_wire) = slow_link(hub.address, args.link_kbit, args.rtt_ms).await?;
    let c = clinic(&hub, "BENCH00000C", &c_url, &c_store, c_ehr)?;
    let started = Instant::now();
    let fetched = c
        .fetch(sync::wire::FetchRequest {
            curp: Some(chart_curp),
            patient_id: None,
        })
        .await?;
    let fetch_s = started.elapsed().as_secs_f64();
    let fetch_bytes = c_wire.take();

    // Referral delivery (issue 17): clinic A refers one of its patients to clinic D, which
    // has never seen them; both on the slow link, both online and caught up. Timed from the
    // write at A until D holds the referral and the record: A's push, then D's pull (the hub
    // put the patient in D's feed) and its fetch of the record, rounds back to back (a node
    // adds up to one sync interval, 5 s by default, at each end while it waits for its round).
    let (d_store, d_ehr) = super::open_node(&temp.join("d"), &Default::default(), false)?;
    let (d_url, d_wire) = slow_link(hub.address, args.link_kbit, args.rtt_ms).await?;
    let d = clinic(&hub, REFERRAL_CLUES, &d_url, &d_store, d_ehr.clone())?;
    sync_all(&d).await?;
    let referred = country
        .patients_by_clues
        .get(&clues_a)
        .and_then(|patients| patients.iter().next().cloned())
        .context("clinic A has no patient to refer")?;
    let referral = referral_bundle(&referred, &clues_a)?;
    a_wire.take();
    d_wire.take();
    let started = Instant::now();
    tokio::task::block_in_place(|| {
        a.ehr()
            .process_bundle(&ehr::Requester::local_system("bench"), &referral, false)
    })?;
    sync_all(&a).await?;
    sync_all(&d).await?;
    let referral_s = started.elapsed().as_secs_f64();
    let referral_bytes = a_wire.take() + d_wire.take();
    let record_at_d = d_store
        .store
        .read("Patient", &referred)?
        .is_some_and(|patient| !patient.deleted);
    let tasks_at_d = d_store
        .store
        .counts()?
        .iter()
        .find(|(t, _)| t == "Task")
        .map_or(0, |(_, n)| *n);
    anyhow::ensure!(
        record_at_d && tasks_at_d == 1,
        "clinic D holds the patient: {record_at_d}, Tasks: {tasks_at_d}"
    );
    let record_size = d_store.store.counts()?.iter().map(|(_, n)| n).sum::<u64>();

    // Hub ingest: many clinics push their backlogs at once (no link simulation). Another
    // population around `--clinics` health centres (new ids); each centre is a clinic node
    // pushing the records of the patients registered there, the directory being the hub's.
    let other = BenchSyncArgs {
        seed: args.seed + 1,
        ..args.clone()
    };
    let ingest_lines = population(
        &other,
        &temp.join("population-ingest"),
        args.clinics.max(1) as u64,
    )?;
    let ingest_country = split(&ingest_lines);
    let Ingest {
        resources: ingest_total,
        seconds: ingest_s,
        backlogs,
        ..
    } = ingest(&hub, &ingest_country, &temp.join("ingest-sqlite")).await?;
    // The same ingest into a hub on PostgreSQL (issue 14), same run, same data.
    let postgres_ingest_s = match &args.hub_database {
        Some(url) => {
            let database = super::database::DatabaseArg {
                database: Some(url.clone()),
            };
            let pg_hub = start_hub_on(&temp.join("hub-postgres"), &database).await?;
            let before: u64 = pg_hub.store.store.counts()?.iter().map(|(_, n)| n).sum();
            anyhow::ensure!(
                before == 0,
                "--hub-database must name an empty database ({before} resources found)"
            );
            let run = ingest(&pg_hub, &ingest_country, &temp.join("ingest-postgres")).await?;
            Some(run.seconds)
        }
        None => None,
    };
    let n_ingest_clinics = backlogs.len();

    // The cost of deciding (issue 12), same run: the same backlogs applied in-process, one
    // batch at a time, on two fresh hubs with the same directory: as received (what a clinic
    // does with the hub's feed) and through the hub's checks (`Hub::push`: bounds, validation,
    // access, rounds, audit; duplicate matching too, which the hub did before issue 12 as well).
    // Alternated and repeated, best of each kept: the machine is shared, and a slow moment
    // should not land on one side only.
    let (mut plain_s, mut checked_s) = (f64::MAX, f64::MAX);
    for rep in 0..DECISION_COST_REPEATS {
        let (plain, checked) = decision_cost(
            &temp.join(format!("decision-{rep}")),
            &ingest_country.directory,
            &backlogs,
            hub.ehr.now_ms(),
        )?;
        plain_s = plain_s.min(plain);
        checked_s = checked_s.min(checked);
    }

    println!("| figure | measured | target |");
    println!("|---|---|---|");
    println!(
        "| bytes on the wire per resource, 30-day catch-up (both ways, HTTP included) | {:.0} B of {:.0} B JSON = {:.1} % | ≤ 35 % |",
        catch_up_bytes as f64 / moved as f64,
        json_bytes as f64 / lines.len() as f64,
        100.0 * catch_up_bytes as f64 / (json_bytes as f64 * moved as f64 / lines.len() as f64)
    );
    println!(
        "| 30-day catch-up: {a_side} pushed + {hub_side} pulled over {} kbit/s, {} ms RTT | {catch_up_s:.1} s | < 60 s |",
        args.link_kbit, args.rtt_ms
    );
    println!(
        "| on-demand fetch of a {fetched}-resource record over the same link | {fetch_s:.2} s ({} KiB on the wire) | < 2 s |",
        fetch_bytes / 1024
    );
    println!(
        "| referral delivery: sending clinic → hub → receiving clinic that never saw the patient (Task, and the record fetched: {record_size} resources at D, directory included), both on the same link, sync rounds back to back | {referral_s:.2} s = ×{:.1} the on-demand fetch above ({} KiB on the wire) | < 10 s |",
        referral_s / fetch_s,
        referral_bytes / 1024
    );
    println!(
        "| hub ingest, {n_ingest_clinics} clinics pushing at once ({ingest_total} resources) | {:.0} resources/s | ≥ 5,000/s |",
        ingest_total as f64 / ingest_s
    );
    if let Some(postgres_s) = postgres_ingest_s {
        println!(
            "| hub ingest on PostgreSQL, the same {n_ingest_clinics} clinics and data | {:.0} resources/s = ×{:.2} the SQLite hub | ≥ ×1.5 |",
            ingest_total as f64 / postgres_s,
            ingest_s / postgres_s
        );
    }
    println!(
        "| hub ingest in-process, one batch at a time: as received vs through `Hub::push` (checks, rounds, audit; duplicate matching, which the hub did before too) | {:.0} vs {:.0} resources/s (checks cost ×{:.2}) | — |",
        ingest_total as f64 / plain_s,
        ingest_total as f64 / checked_s,
        checked_s / plain_s
    );
    let _ = std::fs::remove_dir_all(&temp);
    Ok(())
}

/// The receiving facility of the referral figure (a node of its own, enrolled on the hub).
const REFERRAL_CLUES: &str = "DFSSA009999";

/// A referral from the clinic `from_clues` to [`REFERRAL_CLUES`] as a transaction: the
/// ServiceRequest and the Task addressed by CLUES (logical references: the receiving node's
/// Organization need not be in the directory for the routing to work).
fn referral_bundle(patient_id: &str, from_clues: &str) -> anyhow::Result<fhir::Json> {
    let clues = mexico::systems::CLUES;
    let to = serde_json::json!({"identifier": {"system": clues, "value": REFERRAL_CLUES}, "display": "Hospital"});
    let from = serde_json::json!({"identifier": {"system": clues, "value": from_clues}});
    let focus = "urn:uuid:0b7e6d2c-1f57-4c1e-9a51-00000000be4c";
    let bundle = serde_json::json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": focus, "request": {"method": "POST", "url": "ServiceRequest"}, "resource": {
                "resourceType": "ServiceRequest",
                "status": "active",
                "intent": "order",
                "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
                "subject": {"reference": format!("Patient/{patient_id}")},
                "requester": from,
                "performer": [to]
            }},
            {"request": {"method": "POST", "url": "Task"}, "resource": {
                "resourceType": "Task",
                "status": "requested",
                "intent": "order",
                "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
                "focus": {"reference": focus},
                "for": {"reference": format!("Patient/{patient_id}")},
                "requester": from,
                "owner": to
            }}
        ]
    });
    Ok(fhir::json::parse_str(&bundle.to_string())?)
}

/// Each clinic's backlog as the batches it pushes.
pub(super) type Backlogs = Vec<(String, Vec<Vec<sync::wire::WireVersion>>)>;

/// What an ingest measured.
pub(super) struct Ingest {
    /// Resources pushed.
    pub resources: usize,
    /// Seconds from the first push to the last answer.
    pub seconds: f64,
    pub backlogs: Backlogs,
    /// Milliseconds of each push that carried versions (request to answer).
    pub push_ms: Vec<f64>,
}

/// Hub ingest: every centre of `country` is a clinic node (under `dir`) pushing the records of
/// the patients registered there to `hub` at once (no link simulation), the directory being
/// the hub's.
pub(super) async fn ingest(hub: &Hub, country: &Split, dir: &Path) -> anyhow::Result<Ingest> {
    import_into(&hub.ehr, country.directory.clone())?;
    let hub_before: u64 = hub.store.store.counts()?.iter().map(|(_, n)| n).sum();
    let mut ingest_clinics = Vec::new();
    let mut ingest_stores = Vec::new();
    let mut backlogs: Backlogs = Vec::new();
    let mut ingest_total = 0usize;
    for (idx, (clues, lines)) in country.by_clues.iter().enumerate() {
        ingest_total += lines.len();
        let (store, ehr) = import(&dir.join(format!("clinic-{idx}")), lines.clone())?;
        let engine = clinic(hub, clues, &format!("http://{}", hub.address), &store, ehr)?;
        // Stamp before the clock starts: that is the clinic's work, not the hub's.
        let sync_store: &dyn store::sync::SyncStore = store.sync.as_ref();
        let _ = sync::clinic::next_push(store.store.as_ref(), sync_store)?;
        backlogs.push((clues.clone(), backlog(sync_store)?));
        ingest_clinics.push(engine);
        ingest_stores.push(store);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for engine in ingest_clinics {
        tasks.push(tokio::spawn(async move {
            let mut push_ms = Vec::new();
            loop {
                let sent = Instant::now();
                if !engine.push_once().await? {
                    break;
                }
                push_ms.push(sent.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<Vec<f64>, sync::Error>(push_ms)
        }));
    }
    let mut push_ms = Vec::new();
    for task in tasks {
        push_ms.extend(task.await??);
    }
    let ingest_s = started.elapsed().as_secs_f64();
    for store in &ingest_stores {
        let sync_store: &dyn store::sync::SyncStore = store.sync.as_ref();
        let refused = sync_store.refused_count()?;
        anyhow::ensure!(
            refused == 0,
            "the hub refused {refused} versions of an ingest clinic: {:?}",
            sync_store.refused(3)?
        );
    }
    let on_hub: u64 = hub.store.store.counts()?.iter().map(|(_, n)| n).sum();
    anyhow::ensure!(
        (on_hub - hub_before) as usize >= ingest_total,
        "the hub gained {} resources, fewer than the {ingest_total} pushed",
        on_hub - hub_before
    );
    Ok(Ingest {
        resources: ingest_total,
        seconds: ingest_s,
        backlogs,
        push_ms,
    })
}

/// Runs of the in-process ingest comparison (best of each side kept).
const DECISION_COST_REPEATS: usize = 3;

/// A clinic's whole outbox, in push-sized batches.
fn backlog(
    sync_store: &dyn store::sync::SyncStore,
) -> anyhow::Result<Vec<Vec<sync::wire::WireVersion>>> {
    let mut batches = Vec::new();
    let mut cursor = 0;
    loop {
        let rows = sync_store.outbox(cursor, sync::wire::BATCH_ENTRIES_MAX)?;
        let Some(last) = rows.last() else {
            return Ok(batches);
        };
        cursor = last.0.change_seq;
        batches.push(
            rows.iter()
                .map(|(entry, version)| sync::wire::WireVersion::from_stored(entry, version))
                .collect(),
        );
    }
}

/// Seconds to apply `backlogs` as received, and through `Hub::push`, on two fresh hubs in
/// `dir`.
fn decision_cost(
    dir: &Path,
    directory: &[String],
    backlogs: &[(String, Vec<Vec<sync::wire::WireVersion>>)],
    now_ms: i64,
) -> anyhow::Result<(f64, f64)> {
    let (plain, plain_ehr) = super::open_node(&dir.join("hub-plain"), &Default::default(), false)?;
    sync::hub::set_node_id(
        plain.store.as_ref(),
        plain.sync.as_ref(),
        sync::hub::HUB_NODE_ID,
    )?;
    import_into(&plain_ehr, directory.to_vec())?;
    let (checked_store, checked_ehr) =
        super::open_node(&dir.join("hub-checked"), &Default::default(), false)?;
    let checked = sync::hub::Hub::new(
        checked_ehr.clone(),
        checked_store.store.clone(),
        checked_store.sync.clone(),
    )?;
    import_into(&checked_ehr, directory.to_vec())?;

    let started = Instant::now();
    for (_, batches) in backlogs {
        for versions in batches {
            let versions = versions.clone();
            store::write_with(plain.store.as_ref(), move |tx| {
                let fail = |err: sync::Error| store::Error::Other(err.to_string());
                sync::apply::apply_batch(tx, &versions, now_ms).map_err(fail)?;
                sync::apply::index_feed(tx, now_ms).map_err(fail)?;
                Ok(())
            })?;
        }
    }
    let plain_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    for (clues, batches) in backlogs {
        for versions in batches {
            let request = sync::wire::PushRequest {
                versions: versions.clone(),
            };
            let answer = checked.push(clues, request)?;
            anyhow::ensure!(
                answer.refused.is_empty(),
                "the checked hub refused {:?}",
                answer.refused.first()
            );
        }
    }
    let checked_s = started.elapsed().as_secs_f64();
    plain_ehr.close_audit();
    checked_ehr.close_audit();
    plain.close();
    checked_store.close();
    Ok((plain_s, checked_s))
}

/// The id of the Organization with this CLUES.
fn organization_of(lines: &[Line], clues: &str) -> anyhow::Result<String> {
    lines
        .iter()
        .filter(|l| l.resource_type == "Organization")
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l.json).ok())
        .find(|json| {
            json["identifier"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|i| i["value"] == clues))
        })
        .and_then(|json| json["id"].as_str().map(str::to_string))
        .with_context(|| format!("no Organization with CLUES {clues}"))
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("expediente-bench-sync-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
