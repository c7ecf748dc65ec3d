//! The seeded simulator and the invariants it checks after every run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use store::sync::{LogKind, Stamp, SyncStore};
use store_sqlite::SqliteStore;
use sync::clinic::{fetched, next_pull, next_push, pulled, pushed};
use sync::hub::Hub;
use sync::wire::{FetchRequest, PullResponse};

const T0_MS: i64 = 1_795_000_000_000;

struct FakeClock {
    now_ms: Arc<AtomicI64>,
    skew_ms: i64,
}

impl ehr::Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::Relaxed) + self.skew_ms
    }
}

struct Node {
    id: String,
    /// The clinic's Organization (with its CLUES), in the hub's directory.
    organization: String,
    store: Arc<SqliteStore>,
    ehr: ehr::Ehr,
    /// Patients this clinic registered or fetched (what it may edit).
    patients: Vec<String>,
    observations: Vec<String>,
    /// Locations this clinic registered and still holds (it may delete them).
    locations: Vec<String>,
    /// The last pull answer, kept to deliver it again later (a stale, reordered message).
    stale_pull: Option<(i64, PullResponse)>,
}

fn open(
    dir: &std::path::Path,
    now_ms: &Arc<AtomicI64>,
    skew_ms: i64,
) -> (Arc<SqliteStore>, ehr::Ehr) {
    let options = store_sqlite::OpenOptions {
        durable: false,
        ..store_sqlite::OpenOptions::default()
    };
    let store = SqliteStore::open_with(dir, &options).unwrap();
    let clock = Arc::new(FakeClock {
        now_ms: now_ms.clone(),
        skew_ms,
    });
    let ehr = ehr::Ehr::new(store.clone(), clock, "simulado");
    (store, ehr)
}

struct Sim {
    rng: ChaCha8Rng,
    now_ms: Arc<AtomicI64>,
    hub: Hub,
    hub_store: Arc<SqliteStore>,
    clinics: Vec<Node>,
    _temp: tempfile::TempDir,
}

impl Sim {
    fn new(seed: u64, n_clinics: usize) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let temp = tempfile::tempdir().unwrap();
        let now_ms = Arc::new(AtomicI64::new(T0_MS));
        let (hub_store, hub_ehr) = open(&temp.path().join("hub"), &now_ms, 0);
        let hub = Hub::new(hub_ehr.clone(), hub_store.clone(), hub_store.clone()).unwrap();
        let clinics = (0..n_clinics)
            .map(|idx| {
                // Clinic clocks are off by up to ±6 hours.
                let skew_ms = rng.random_range(-6 * 3_600_000..6 * 3_600_000);
                let (store, ehr) = open(&temp.path().join(format!("c{idx}")), &now_ms, skew_ms);
                let id = format!("DFSSA{:06}", idx + 1);
                sync::hub::set_node_id(store.as_ref(), store.as_ref(), &id).unwrap();
                // The national directory lists the clinic (with its CLUES): what its care
                // relationships are computed from on the hub.
                let organization = fhir::json::parse_str(&format!(
                    r#"{{"resourceType":"Organization","identifier":[{{"system":"{}","value":"{id}"}}],"name":"Clínica {idx}"}}"#,
                    mexico::systems::CLUES
                ))
                .unwrap();
                let organization = hub_ehr
                    .create(&who(), "Organization", organization, None)
                    .unwrap()
                    .resource
                    .id;
                Node {
                    id,
                    organization,
                    store,
                    ehr,
                    patients: Vec::new(),
                    observations: Vec::new(),
                    locations: Vec::new(),
                    stale_pull: None,
                }
            })
            .collect();
        Sim {
            rng,
            now_ms,
            hub,
            hub_store,
            clinics,
            _temp: temp,
        }
    }

    fn step(&mut self) {
        let c = self.rng.random_range(0..self.clinics.len());
        let roll = self.rng.random_range(0..100);
        match roll {
            0..35 => self.local_write(c),
            35..55 => self.push(c),
            55..80 => self.pull(c),
            80..86 => self.fetch(c),
            _ => {
                let ms = self.rng.random_range(0..5_000);
                self.now_ms.fetch_add(ms, Ordering::Relaxed);
            }
        }
    }

    fn local_write(&mut self, c: usize) {
        let choice = self.rng.random_range(0..10);
        let phone = format!("55{:08}", self.rng.random_range(0..100_000_000u32));
        let node = &mut self.clinics[c];
        if node.patients.is_empty() || choice == 0 {
            let patient = fhir::json::parse_str(&format!(
                r#"{{"resourceType":"Patient","name":[{{"family":"Sim{c}","given":["P{}"]}}],"gender":"female","telecom":[{{"system":"phone","value":"{phone}"}}]}}"#,
                node.patients.len()
            ))
            .unwrap();
            let created = node.ehr.create(&who(), "Patient", patient, None).unwrap();
            node.patients.push(created.resource.id.clone());
            node.start_care(&created.resource.id);
            return;
        }
        let patient_id = node.patients[self.rng.random_range(0..node.patients.len())].clone();
        match choice {
            1..=4 => {
                let patient = fhir::json::parse_str(&format!(
                    r#"{{"resourceType":"Patient","id":"{patient_id}","name":[{{"family":"Sim","given":["Edit"]}}],"gender":"female","telecom":[{{"system":"phone","value":"{phone}"}}]}}"#
                ))
                .unwrap();
                node.ehr
                    .update(&who(), "Patient", &patient_id, patient, None)
                    .unwrap();
            }
            5..=7 => {
                let observation = fhir::json::parse_str(&format!(
                    r#"{{"resourceType":"Observation","status":"final","code":{{"text":"peso"}},"subject":{{"reference":"Patient/{patient_id}"}},"valueString":"{phone}"}}"#
                ))
                .unwrap();
                let created = node
                    .ehr
                    .create(&who(), "Observation", observation, None)
                    .unwrap();
                node.observations.push(created.resource.id);
            }
            8 => {
                // Patient data is never deleted (the hub refuses it from clinics); a clinic's
                // own directory entries are, and deletes travel to every clinic.
                if node.locations.is_empty() || self.rng.random_range(0..3) == 0 {
                    let location = fhir::json::parse_str(&format!(
                        r#"{{"resourceType":"Location","name":"Consultorio {phone}","managingOrganization":{{"reference":"Organization/{}"}}}}"#,
                        node.organization
                    ))
                    .unwrap();
                    let created = node.ehr.create(&who(), "Location", location, None).unwrap();
                    node.locations.push(created.resource.id);
                } else {
                    let idx = self.rng.random_range(0..node.locations.len());
                    let id = node.locations.swap_remove(idx);
                    node.ehr.delete(&who(), "Location", &id).unwrap();
                }
            }
            _ => {
                // A correction: the note is marked entered-in-error, not removed.
                if !node.observations.is_empty() {
                    let idx = self.rng.random_range(0..node.observations.len());
                    let id = node.observations[idx].clone();
                    let current = node.ehr.read(&who(), "Observation", &id).unwrap();
                    let mut observation = fhir::json::parse_str(&current.body).unwrap();
                    if let Some(object) = observation.as_object_mut() {
                        object.insert("status", fhir::Json::str("entered-in-error"));
                    }
                    node.ehr
                        .update(&who(), "Observation", &id, observation, None)
                        .unwrap();
                }
            }
        }
    }

    /// One push; the answer may be lost (the cursor stays) or the request delivered twice.
    fn push(&mut self, c: usize) {
        let fault = self.rng.random_range(0..10);
        let node = &self.clinics[c];
        let Some(outgoing) = next_push(node.store.as_ref(), node.store.as_ref()).unwrap() else {
            return;
        };
        let request = sync::wire::PushRequest {
            versions: outgoing.request.versions.clone(),
        };
        let response = self.hub.push(&node.id, request).unwrap();
        assert_honest(&node.id, &response);
        if fault == 0 {
            let again = sync::wire::PushRequest {
                versions: outgoing.request.versions.clone(),
            };
            let again = self.hub.push(&node.id, again).unwrap();
            assert_honest(&node.id, &again);
        }
        if fault != 1 {
            pushed(
                node.store.as_ref(),
                &outgoing,
                &response.refused,
                node.ehr.now_ms(),
            )
            .unwrap();
        }
    }

    /// One pull; the answer may be lost, applied twice, or an old one applied again.
    fn pull(&mut self, c: usize) {
        let fault = self.rng.random_range(0..10);
        let node = &mut self.clinics[c];
        let request = next_pull(node.store.as_ref()).unwrap();
        let response = self.hub.pull(&node.id, &request).unwrap();
        match fault {
            0 => {}
            1 => {
                let copy = PullResponse {
                    versions: response.versions.clone(),
                    next_cursor: response.next_cursor,
                    more: response.more,
                };
                pulled(node.store.as_ref(), request.cursor, copy, node.ehr.now_ms()).unwrap();
                pulled(
                    node.store.as_ref(),
                    request.cursor,
                    response,
                    node.ehr.now_ms(),
                )
                .unwrap();
            }
            2 => {
                if let Some((cursor, stale)) = node.stale_pull.take() {
                    pulled(node.store.as_ref(), cursor, stale, node.ehr.now_ms()).unwrap();
                }
                pulled(
                    node.store.as_ref(),
                    request.cursor,
                    response,
                    node.ehr.now_ms(),
                )
                .unwrap();
            }
            _ => {
                let copy = PullResponse {
                    versions: response.versions.clone(),
                    next_cursor: response.next_cursor,
                    more: response.more,
                };
                node.stale_pull = Some((request.cursor, copy));
                pulled(
                    node.store.as_ref(),
                    request.cursor,
                    response,
                    node.ehr.now_ms(),
                )
                .unwrap();
            }
        }
    }

    /// A clinic looks up a patient registered at another clinic.
    fn fetch(&mut self, c: usize) {
        let other = self.rng.random_range(0..self.clinics.len());
        let Some(patient_id) = self.clinics[other]
            .patients
            .get(
                self.rng
                    .random_range(0..self.clinics[other].patients.len().max(1)),
            )
            .cloned()
        else {
            return;
        };
        let node = &mut self.clinics[c];
        let request = FetchRequest {
            curp: None,
            patient_id: Some(patient_id.clone()),
        };
        let response = self.hub.fetch(&node.id, &request).unwrap();
        if response.patients.is_empty() {
            return;
        }
        fetched(node.store.as_ref(), response, node.ehr.now_ms()).unwrap();
        if !node.patients.contains(&patient_id) {
            // Seen here: the visit is what lets this clinic write in the record.
            node.start_care(&patient_id);
            node.patients.push(patient_id);
        }
    }

    /// Lets the network heal: every clinic pushes and pulls until nothing moves.
    fn quiesce(&mut self) {
        for _ in 0..20 {
            let mut moved = false;
            for node in &self.clinics {
                while let Some(outgoing) =
                    next_push(node.store.as_ref(), node.store.as_ref()).unwrap()
                {
                    let request = sync::wire::PushRequest {
                        versions: outgoing.request.versions.clone(),
                    };
                    let response = self.hub.push(&node.id, request).unwrap();
                    assert_honest(&node.id, &response);
                    pushed(
                        node.store.as_ref(),
                        &outgoing,
                        &response.refused,
                        node.ehr.now_ms(),
                    )
                    .unwrap();
                    moved = true;
                }
                loop {
                    let request = next_pull(node.store.as_ref()).unwrap();
                    let response = self.hub.pull(&node.id, &request).unwrap();
                    let more = response.more;
                    let outcome = pulled(
                        node.store.as_ref(),
                        request.cursor,
                        response,
                        node.ehr.now_ms(),
                    )
                    .unwrap();
                    moved |= outcome.applied > 0;
                    if !more {
                        break;
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the network did not quiesce");
    }
}

/// Every version a node holds, by resource: (stamp, kind) per log row, and the current stamp.
struct Holdings {
    versions: BTreeMap<(String, String), Vec<(Stamp, LogKind)>>,
    current: BTreeMap<(String, String), (Stamp, bool, String)>,
}

fn holdings(store: &Arc<SqliteStore>) -> Holdings {
    let mut versions: BTreeMap<(String, String), Vec<(Stamp, LogKind)>> = BTreeMap::new();
    for candidate in store.feed_candidates(0, i64::MAX, 1_000_000).unwrap() {
        let e = candidate.entry;
        versions
            .entry((e.resource_type, e.id))
            .or_default()
            .push((e.stamp, e.kind));
    }
    let mut current = BTreeMap::new();
    for (resource_type, id) in versions.keys() {
        let stored = store::Store::read(store.as_ref(), resource_type, id)
            .unwrap()
            .unwrap();
        let (rt, i, seq) = (resource_type.clone(), id.clone(), stored.change_seq);
        let entry = store::write_with(store.as_ref(), move |tx| {
            Ok(tx.sync().unwrap().log_entry(seq)?.unwrap())
        })
        .unwrap();
        let body = match fhir::json::parse_str(&stored.body) {
            Ok(mut json) => {
                if let Some(meta) = json
                    .as_object_mut()
                    .and_then(|o| o.get_mut("meta"))
                    .and_then(fhir::Json::as_object_mut)
                {
                    meta.remove("versionId");
                }
                json.to_json_string()
            }
            Err(_) => String::new(),
        };
        current.insert((rt, i), (entry.stamp, stored.deleted, body));
    }
    Holdings { versions, current }
}

fn check(sim: &Sim) {
    let hub = holdings(&sim.hub_store);
    for ((rt, id), (stamp, _, _)) in &hub.current {
        let max = hub.versions[&(rt.clone(), id.clone())]
            .iter()
            .map(|(s, _)| s)
            .max()
            .unwrap();
        assert_eq!(stamp, max, "hub: {rt}/{id} current is the greatest stamp");
    }
    let hub_shipped: BTreeMap<&(String, String), BTreeSet<&Stamp>> = hub
        .versions
        .iter()
        .map(|(key, list)| {
            (
                key,
                list.iter()
                    .filter(|(_, k)| *k != LogKind::Reassert)
                    .map(|(s, _)| s)
                    .collect(),
            )
        })
        .collect();
    for node in &sim.clinics {
        let mine = holdings(&node.store);
        for (key, list) in &mine.versions {
            let (rt, id) = key;
            // Nothing duplicated: each version once (re-asserted winners aside).
            let shipped: Vec<&Stamp> = list
                .iter()
                .filter(|(_, k)| *k != LogKind::Reassert)
                .map(|(s, _)| s)
                .collect();
            let distinct: BTreeSet<&Stamp> = shipped.iter().copied().collect();
            assert_eq!(
                shipped.len(),
                distinct.len(),
                "{}: {rt}/{id} holds a version twice",
                node.id
            );
            // Nothing lost: the hub holds every version, and the clinic every version the hub
            // has of a resource it follows.
            let on_hub = hub_shipped
                .get(key)
                .unwrap_or_else(|| panic!("{rt}/{id} missing on the hub"));
            assert!(
                distinct.is_subset(on_hub),
                "{}: {rt}/{id} has versions the hub lacks",
                node.id
            );
            assert_eq!(
                &distinct, on_hub,
                "{}: {rt}/{id} lacks versions the hub has",
                node.id
            );
            // Converged: the same current version, byte for byte but for the local number.
            assert_eq!(
                mine.current[key], hub.current[key],
                "{}: {rt}/{id} differs from the hub",
                node.id
            );
        }
    }
}

fn run(seed: u64, steps: usize) {
    let mut sim = Sim::new(seed, 4);
    for _ in 0..steps {
        sim.step();
    }
    sim.quiesce();
    check(&sim);
    let hub = holdings(&sim.hub_store);
    let conflicts = sim.hub.sync_store().conflicts_open().unwrap();
    let versions: usize = hub.versions.values().map(Vec::len).sum();
    let shared = sim
        .clinics
        .iter()
        .map(|n| holdings(&n.store).versions.len())
        .sum::<usize>();
    eprintln!(
        "seed {seed}: {} resources, {versions} versions, {conflicts} conflicts on the hub, {shared} resource copies at clinics",
        hub.current.len()
    );
    assert!(conflicts > 0, "the schedule must produce concurrent edits");
    assert!(shared > hub.current.len(), "clinics must share records");
}

#[test]
fn seeded_runs_converge_without_loss_or_duplicates() {
    for seed in 0..10 {
        run(seed, 500);
    }
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let digest = |seed| {
        let mut sim = Sim::new(seed, 3);
        for _ in 0..150 {
            sim.step();
        }
        sim.quiesce();
        // Ids are UUIDv7 (random bits), so compare the shape of the outcome, not the ids.
        let hub = holdings(&sim.hub_store);
        let versions: usize = hub.versions.values().map(Vec::len).sum();
        let deleted = hub
            .current
            .values()
            .filter(|(_, deleted, _)| *deleted)
            .count();
        let conflicts = sim.hub.sync_store().conflicts_open().unwrap();
        (hub.current.len(), versions, deleted, conflicts)
    };
    assert_eq!(digest(42), digest(42));
}

/// Who the simulated clinicians act as on their own node (a system principal: the simulation
/// is about convergence). The hub still decides every push as the clinic's staff would be, so
/// the workload does what staff do: it registers patients, starts care (the record an *inicio de
/// atención* writes) and records a visit before writing in a record registered elsewhere, and
/// never deletes patient data.
fn who() -> ehr::Requester {
    ehr::Requester::local_system("simulacion")
}

/// An honest clinic's pushes are never refused.
fn assert_honest(node: &str, response: &sync::wire::PushResponse) {
    assert!(
        response.refused.is_empty(),
        "{node}: the hub refused an honest version: {:?}",
        response.refused
    );
}

impl Node {
    /// The care relationship this clinic's writes rest on: an inicio de atención (its record,
    /// an EpisodeOfCare the clinic manages), then a visit.
    fn start_care(&self, patient_id: &str) {
        let episode = fhir::json::parse_str(&format!(
            r#"{{"resourceType":"EpisodeOfCare","status":"active","patient":{{"reference":"Patient/{patient_id}"}},"managingOrganization":{{"reference":"Organization/{}"}}}}"#,
            self.organization
        ))
        .unwrap();
        self.ehr
            .create(&who(), "EpisodeOfCare", episode, None)
            .unwrap();
        let encounter = fhir::json::parse_str(&format!(
            r#"{{"resourceType":"Encounter","status":"finished","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}},"subject":{{"reference":"Patient/{patient_id}"}},"serviceProvider":{{"reference":"Organization/{}"}}}}"#,
            self.organization
        ))
        .unwrap();
        self.ehr
            .create(&who(), "Encounter", encounter, None)
            .unwrap();
    }
}
