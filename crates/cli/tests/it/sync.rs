//! Issue 5: a hub and clinic nodes as real processes on loopback, syncing over HTTP.
//!
//! Every scenario ends by checking the same things: each acknowledged write reached every node
//! that should have it, all nodes hold identical current versions of what they share, and
//! nothing was lost or duplicated. Clinics reach the hub through a loopback proxy owned by the
//! test: it lets the hub restart on another port, and it injects faults (seeded) when asked.
//!
//! Every call to a node's `/fhir` goes through [`fhir`], so auth headers can be added there.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::{BIN, client, reply};

const CURP_SYSTEM: &str = "urn:oid:2.16.840.1.113883.4.629";

/// Sync round pause in tests: short, so scenarios converge in seconds.
const INTERVAL_MS: &str = "150";
/// Longest retry delay in tests: a hub back after an outage is found within it.
const BACKOFF_MAX_MS: &str = "1500";
/// How long a scenario may take to converge.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A node process; SIGKILLed when dropped.
struct Proc {
    child: Child,
    /// `http://127.0.0.1:PORT`
    root: String,
}

impl Proc {
    fn spawn(data: &Path, args: &[String], clock_offset_ms: i64) -> Proc {
        // Placed first: the accounts `prepare_access` writes go where the node will read them.
        let database = crate::support::serve_database_args(data, args);
        crate::support::prepare_access(data);
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(args)
            .args(&database)
            .env("RUST_LOG", "error")
            .env(
                "EXPEDIENTE_TEST_CLOCK_OFFSET_MS",
                clock_offset_ms.to_string(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let start = line.find("http://").expect("the node prints its address");
        let base = line[start..].split_whitespace().next().unwrap();
        let root = base.trim_end_matches("/fhir").to_string();
        if clock_offset_ms != 0 {
            // The suite's token was issued by the real clock; a node whose clock is hours off
            // would refuse it (as it must), so it gets one issued on its own clock.
            let output = Command::new(BIN)
                .args(["token", "issue", "--data"])
                .arg(data)
                .args(&database)
                .args([
                    "--user",
                    crate::support::TEST_USER,
                    "--role",
                    "system",
                    "--ttl",
                    "8h",
                ])
                .env(
                    "EXPEDIENTE_TEST_CLOCK_OFFSET_MS",
                    clock_offset_ms.to_string(),
                )
                .output()
                .unwrap();
            assert!(output.status.success());
            let token = String::from_utf8_lossy(&output.stdout)
                .lines()
                .last()
                .unwrap()
                .trim()
                .to_string();
            node_tokens().lock().unwrap().insert(root.clone(), token);
        }
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        Proc { child, root }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Tokens for nodes whose clock is shifted (by root URL).
fn node_tokens() -> &'static std::sync::Mutex<std::collections::HashMap<String, String>> {
    static TOKENS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, String>>,
    > = std::sync::OnceLock::new();
    TOKENS.get_or_init(Default::default)
}

/// The one door to a node's FHIR API in these tests.
pub(crate) fn fhir(
    root: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> crate::support::Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let url = format!("{root}/fhir/{}", path.trim_start_matches('/'));
    let mut request = client().request(method, url);
    if let Some(token) = node_tokens().lock().unwrap().get(root) {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/fhir+json")
            .body(body.to_string());
    }
    reply(request.send().unwrap())
}

fn sync_get(root: &str, path: &str) -> Value {
    let mut request = client().get(format!("{root}/sync/{path}"));
    if let Some(token) = node_tokens().lock().unwrap().get(root) {
        request = request.bearer_auth(token);
    }
    request.send().unwrap().json().unwrap()
}

pub(crate) fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// The network: a loopback HTTP proxy in front of the hub, with seeded faults
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Default)]
struct Faults {
    /// Close the connection without forwarding the request.
    drop_request_pct: u32,
    /// Forward, then close without answering (the hub did the work; the clinic must retry).
    drop_response_pct: u32,
    /// Forward the request twice.
    duplicate_pct: u32,
    /// Forward an earlier request again after this one (out of order delivery).
    replay_pct: u32,
    delay_ms_max: u64,
}

struct Proxy {
    port: u16,
    target: Arc<Mutex<String>>,
    faults: Arc<Mutex<Faults>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(seed: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(Mutex::new(String::new()));
        let faults = Arc::new(Mutex::new(Faults::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let rng = Arc::new(Mutex::new(rand_chacha::ChaCha8Rng::seed_from_u64(seed)));
        let history: Arc<Mutex<Vec<Captured>>> = Arc::new(Mutex::new(Vec::new()));
        let (t, f, s) = (target.clone(), faults.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (t, f, rng, history) = (t.clone(), f.clone(), rng.clone(), history.clone());
                std::thread::spawn(move || serve_connection(stream, &t, &f, &rng, &history));
            }
        });
        Proxy {
            port,
            target,
            faults,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn point_at(&self, root: &str) {
        *self.target.lock().unwrap() = root.to_string();
    }

    fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap() = faults;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[derive(Clone)]
struct Captured {
    path: String,
    authorization: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Captured> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0usize;
    let mut authorization = String::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "authorization" => authorization = value.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Captured {
        path,
        authorization,
        body,
    })
}

fn forward(target: &str, request: &Captured) -> Option<(u16, Vec<u8>)> {
    let response = client()
        .post(format!("{target}{}", request.path))
        .header("authorization", &request.authorization)
        .header("content-type", "application/x-expediente-sync")
        .body(request.body.clone())
        .send()
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.bytes().ok()?.to_vec()))
}

fn serve_connection(
    stream: TcpStream,
    target: &Mutex<String>,
    faults: &Mutex<Faults>,
    rng: &Mutex<rand_chacha::ChaCha8Rng>,
    history: &Mutex<Vec<Captured>>,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let faults = *faults.lock().unwrap();
        let target = target.lock().unwrap().clone();
        let (roll, delay_ms, replay_idx) = {
            let mut rng = rng.lock().unwrap();
            let roll: u32 = rng.random_range(0..100);
            let delay = if faults.delay_ms_max > 0 {
                rng.random_range(0..faults.delay_ms_max)
            } else {
                0
            };
            (roll, delay, rng.random_range(0..usize::MAX))
        };
        std::thread::sleep(Duration::from_millis(delay_ms));
        let mut threshold = faults.drop_request_pct;
        if roll < threshold {
            return;
        }
        let Some((status, body)) = forward(&target, &request) else {
            let _ = writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
            continue;
        };
        threshold += faults.drop_response_pct;
        if roll < threshold {
            return;
        }
        threshold += faults.duplicate_pct;
        if roll < threshold {
            let _ = forward(&target, &request);
        }
        threshold += faults.replay_pct;
        if roll < threshold {
            let old = {
                let history = history.lock().unwrap();
                (!history.is_empty()).then(|| history[replay_idx % history.len()].clone())
            };
            if let Some(old) = old {
                let _ = forward(&target, &old);
            }
        }
        {
            let mut history = history.lock().unwrap();
            if history.len() > 200 {
                history.remove(0);
            }
            history.push(request);
        }
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/x-expediente-sync\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&body).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A cluster: one hub, several clinics
// ---------------------------------------------------------------------------------------------

pub(crate) struct Clinic {
    pub(crate) clues: String,
    /// The clinic's Organization (with its CLUES) in the hub's directory: where its patients
    /// are registered, and what the hub computes its care relationships from.
    pub(crate) organization: String,
    pub(crate) data: PathBuf,
    token: String,
    clock_offset_ms: i64,
    proc: Option<Proc>,
}

pub(crate) struct Cluster {
    _temp: tempfile::TempDir,
    pub(crate) hub_data: PathBuf,
    hub: Option<Proc>,
    proxy: Proxy,
    pub(crate) clinics: Vec<Clinic>,
}

impl Cluster {
    /// A hub and one clinic per clock offset, all started.
    pub(crate) fn start(clock_offsets_ms: &[i64], seed: u64) -> Cluster {
        Cluster::start_on(clock_offsets_ms, seed, None)
    }

    /// Same, with the hub's store on the PostgreSQL database `hub_database` (else where the
    /// suite's engine puts it).
    fn start_on(clock_offsets_ms: &[i64], seed: u64, hub_database: Option<&str>) -> Cluster {
        let temp = tempfile::tempdir().unwrap();
        let hub_data = temp.path().join("hub");
        if let Some(url) = hub_database {
            crate::support::place_on(&hub_data, url);
        }
        let mut clinics = Vec::new();
        for (idx, offset) in clock_offsets_ms.iter().enumerate() {
            let clues = format!("DFSSA{:06}", idx + 1);
            let output = Command::new(BIN)
                .args(["node", "enroll", "--data"])
                .arg(&hub_data)
                .args(crate::support::database_args(&hub_data))
                .args(["--clues", &clues])
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            let stdout = String::from_utf8(output.stdout).unwrap();
            let token = stdout.lines().last().unwrap().trim().to_string();
            assert!(token.starts_with("exps_"), "{stdout}");
            clinics.push(Clinic {
                clues,
                organization: String::new(),
                data: temp.path().join(format!("clinic-{idx}")),
                token,
                clock_offset_ms: *offset,
                proc: None,
            });
        }
        let mut cluster = Cluster {
            hub_data,
            hub: None,
            proxy: Proxy::start(seed),
            clinics,
            _temp: temp,
        };
        cluster.start_hub();
        // The national directory lists every clinic with its CLUES (issue 12: the hub decides
        // each push by the clinic's care relationships, computed from it).
        for idx in 0..cluster.clinics.len() {
            let organization = json!({
                "resourceType": "Organization",
                "identifier": [{"system": mexico::systems::CLUES, "value": cluster.clinics[idx].clues}],
                "name": format!("Centro de Salud {idx}")
            });
            cluster.clinics[idx].organization = create(cluster.hub(), &organization);
        }
        for idx in 0..cluster.clinics.len() {
            cluster.start_clinic(idx);
        }
        cluster
    }

    /// The clinics' Organizations: reference data every node holds besides what a scenario
    /// writes.
    fn directory(&self) -> BTreeSet<String> {
        self.clinics
            .iter()
            .map(|c| format!("Organization/{}", c.organization))
            .collect()
    }

    /// A patient registered at clinic `idx` (as its front desk does: `managingOrganization`).
    pub(crate) fn registered(&self, idx: usize, mut patient: Value) -> Value {
        patient["managingOrganization"] =
            json!({"reference": format!("Organization/{}", self.clinics[idx].organization)});
        patient
    }

    /// A visit of a patient registered elsewhere at clinic `idx`: the Encounter that starts
    /// care there, without which the hub refuses the clinic's writes in the record.
    fn visit(&self, idx: usize, patient_id: &str) {
        // A patient registered elsewhere: the clinic first starts care (the record an inicio
        // de atención writes; the hub accepts it as that event), then records the visit.
        let organization = &self.clinics[idx].organization;
        let episode = json!({
            "resourceType": "EpisodeOfCare",
            "status": "active",
            "patient": {"reference": format!("Patient/{patient_id}")},
            "managingOrganization": {"reference": format!("Organization/{organization}")}
        });
        create(self.clinic(idx), &episode);
        let encounter = json!({
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": format!("Patient/{patient_id}")},
            "serviceProvider": {"reference": format!("Organization/{}", self.clinics[idx].organization)}
        });
        create(self.clinic(idx), &encounter);
    }

    fn start_hub(&mut self) {
        let hub = Proc::spawn(
            &self.hub_data,
            &["--role", "hub", "--listen", "127.0.0.1:0"].map(String::from),
            0,
        );
        self.proxy.point_at(&hub.root);
        self.hub = Some(hub);
    }

    fn kill_hub(&mut self) {
        if let Some(mut hub) = self.hub.take() {
            hub.kill();
        }
    }

    fn start_clinic(&mut self, idx: usize) {
        let hub_url = self.proxy.url();
        let clinic = &mut self.clinics[idx];
        let args = [
            "--listen",
            "127.0.0.1:0",
            "--clues",
            &clinic.clues,
            "--hub",
            &hub_url,
            "--hub-token",
            &clinic.token,
            "--sync-interval-ms",
            INTERVAL_MS,
            "--sync-backoff-max-ms",
            BACKOFF_MAX_MS,
        ]
        .map(String::from);
        clinic.proc = Some(Proc::spawn(&clinic.data, &args, clinic.clock_offset_ms));
    }

    fn kill_clinic(&mut self, idx: usize) {
        if let Some(mut clinic) = self.clinics[idx].proc.take() {
            clinic.kill();
        }
    }

    pub(crate) fn hub(&self) -> &str {
        &self.hub.as_ref().unwrap().root
    }

    pub(crate) fn clinic(&self, idx: usize) -> &str {
        &self.clinics[idx].proc.as_ref().unwrap().root
    }

    /// Every running node's root, hub first.
    fn roots(&self) -> Vec<String> {
        let mut roots = vec![self.hub().to_string()];
        roots.extend(
            self.clinics
                .iter()
                .filter_map(|c| c.proc.as_ref())
                .map(|p| p.root.clone()),
        );
        roots
    }
}

// ---------------------------------------------------------------------------------------------
// Data and checks
// ---------------------------------------------------------------------------------------------

/// A valid CURP for Juan Pérez Gómez born 1990-11-`day`, homoclave `n`.
pub(crate) fn curp(day: u32, n: u32) -> String {
    let first17 = format!("PEGJ9011{day:02}HDFRMN{n}");
    let check = mexico::curp::check_digit(&first17).unwrap();
    format!("{first17}{check}")
}

pub(crate) fn patient(curp: &str, day: u32, given: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": CURP_SYSTEM, "value": curp}],
        "name": [{"use": "official", "family": "Pérez", "given": [given]}],
        "gender": "male",
        "birthDate": format!("1990-11-{day:02}")
    })
}

pub(crate) fn create(root: &str, resource: &Value) -> String {
    let rtype = resource["resourceType"].as_str().unwrap();
    let reply = fhir(root, "POST", rtype, Some(resource));
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_string()
}

/// `n` Observations of a patient in one transaction; their ids.
fn observations(root: &str, patient_id: &str, n: usize, tag: &str) -> Vec<String> {
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "request": {"method": "POST", "url": "Observation"},
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": "glucosa"},
                    "subject": {"reference": format!("Patient/{patient_id}")},
                    "valueString": format!("{tag}-{i}")
                }
            })
        })
        .collect();
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let reply = fhir(root, "POST", "", Some(&bundle));
    assert_eq!(
        reply.status,
        200,
        "{}",
        &reply.text[..reply.text.len().min(500)]
    );
    reply.body["entry"]
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
        .collect()
}

/// A stored resource without its node-local version number.
fn normalized(mut resource: Value) -> Value {
    if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
        meta.remove("versionId");
    }
    resource
}

const TYPES: [&str; 4] = ["Patient", "Observation", "Organization", "Practitioner"];

/// Every current resource of the tested types on a node, by `Type/id`.
fn snapshot(root: &str) -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for rtype in TYPES {
        let mut path = format!("{rtype}?_count=1000");
        loop {
            let reply = fhir(root, "GET", &path, None);
            assert_eq!(reply.status, 200, "{}", reply.text);
            for entry in reply.body["entry"].as_array().into_iter().flatten() {
                let resource = entry["resource"].clone();
                let key = format!("{rtype}/{}", resource["id"].as_str().unwrap());
                assert!(
                    all.insert(key.clone(), normalized(resource)).is_none(),
                    "{key} twice"
                );
            }
            match crate::support::link(&reply.body, "next") {
                Some(next) => path = next,
                None => break,
            }
        }
    }
    all
}

/// Waits until every node holds `expected[node]` (keys) and every resource held by several
/// nodes is identical on all of them; returns the final snapshots.
/// The clinics' directory Organizations are expected on every node and left out of the
/// snapshots returned, so scenarios count only what they wrote.
fn converge(cluster: &Cluster, expected: &[BTreeSet<String>]) -> Vec<BTreeMap<String, Value>> {
    let roots = cluster.roots();
    assert_eq!(roots.len(), expected.len());
    let directory = cluster.directory();
    let expected: Vec<BTreeSet<String>> = expected
        .iter()
        .map(|wanted| wanted.union(&directory).cloned().collect())
        .collect();
    let started = Instant::now();
    loop {
        let snapshots: Vec<BTreeMap<String, Value>> = roots.iter().map(|r| snapshot(r)).collect();
        let mut problems = Vec::new();
        for (idx, (snapshot, wanted)) in snapshots.iter().zip(&expected).enumerate() {
            let missing = wanted.iter().filter(|k| !snapshot.contains_key(*k)).count();
            if missing > 0 {
                problems.push(format!("node {idx} misses {missing} resources"));
            }
        }
        for (key, value) in &snapshots[0] {
            for (idx, snapshot) in snapshots.iter().enumerate().skip(1) {
                if let Some(other) = snapshot.get(key)
                    && other != value
                {
                    problems.push(format!("node {idx} differs on {key}"));
                }
            }
        }
        for (idx, snapshot) in snapshots.iter().enumerate().skip(1) {
            for key in snapshot.keys() {
                if !snapshots[0].contains_key(key) {
                    problems.push(format!("node {idx} has {key}, the hub does not"));
                }
            }
        }
        if problems.is_empty() {
            return snapshots
                .into_iter()
                .map(|mut snapshot| {
                    snapshot.retain(|key, _| !directory.contains(key));
                    snapshot
                })
                .collect();
        }
        assert!(
            started.elapsed() < CONVERGE_TIMEOUT,
            "no convergence: {}",
            problems[..problems.len().min(10)].join("; ")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn keys(rtype: &str, ids: &[String]) -> BTreeSet<String> {
    ids.iter().map(|id| format!("{rtype}/{id}")).collect()
}

/// Contents of every version of a resource on a node (node-local version numbers dropped).
fn history_values(root: &str, path: &str, element: &str) -> Vec<Value> {
    let reply = fhir(root, "GET", &format!("{path}/_history?_count=100"), None);
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"][element].clone())
        .collect()
}

fn lookup_by_curp(root: &str, curp: &str) -> Vec<String> {
    let reply = fhir(
        root,
        "GET",
        &format!("Patient?identifier={CURP_SYSTEM}|{curp}"),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    crate::support::match_ids(&reply.body)
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/// (1) + (6): writes at two clinics reach the hub; reference data reaches every clinic; a
/// clinic that looks a patient up by CURP gets the national record and then follows it.
#[test]
fn clinics_push_pull_and_fetch_patients_on_demand() {
    let cluster = Cluster::start(&[0, 0, 0], 1);
    let (a, b, c) = (cluster.clinic(0), cluster.clinic(1), cluster.clinic(2));
    let organization = create(
        a,
        &json!({"resourceType": "Organization", "name": "Centro de Salud Tlalpan"}),
    );
    let practitioner = create(
        b,
        &json!({"resourceType": "Practitioner", "name": [{"family": "López"}]}),
    );
    let curp_juan = curp(23, 0);
    let juan = create(a, &cluster.registered(0, patient(&curp_juan, 23, "Juan")));
    let juan_obs = observations(a, &juan, 20, "a");
    let curp_pedro = curp(5, 1);
    let pedro = create(b, &cluster.registered(1, patient(&curp_pedro, 5, "Pedro")));
    let pedro_obs = observations(b, &pedro, 10, "b");

    let reference = keys("Organization", std::slice::from_ref(&organization))
        .union(&keys("Practitioner", std::slice::from_ref(&practitioner)))
        .cloned()
        .collect::<BTreeSet<_>>();
    let juan_record: BTreeSet<String> = keys("Patient", std::slice::from_ref(&juan))
        .union(&keys("Observation", &juan_obs))
        .cloned()
        .collect();
    let pedro_record: BTreeSet<String> = keys("Patient", std::slice::from_ref(&pedro))
        .union(&keys("Observation", &pedro_obs))
        .cloned()
        .collect();
    let everything: BTreeSet<String> = reference
        .union(&juan_record)
        .chain(pedro_record.iter())
        .cloned()
        .collect();
    let expected_a: BTreeSet<String> = reference.union(&juan_record).cloned().collect();
    let expected_b: BTreeSet<String> = reference.union(&pedro_record).cloned().collect();
    let snapshots = converge(
        &cluster,
        &[
            everything.clone(),
            expected_a,
            expected_b,
            reference.clone(),
        ],
    );
    // Clinics hold only what is theirs: not the other clinic's patients.
    assert!(!snapshots[1].contains_key(&format!("Patient/{pedro}")));
    assert!(!snapshots[3].contains_key(&format!("Patient/{juan}")));
    // Nothing duplicated on the hub: exactly what was written.
    assert_eq!(snapshots[0].len(), everything.len());

    // Clinic C has never seen Juan: a lookup by CURP brings his record from the hub.
    assert_eq!(lookup_by_curp(c, &curp_juan), vec![juan.clone()]);
    let fetched = snapshot(c);
    assert!(
        juan_record.iter().all(|k| fetched.contains_key(k)),
        "the whole record came"
    );
    // From then on C follows him: a new note written at A reaches C.
    let later = observations(a, &juan, 1, "later");
    let expected_c: BTreeSet<String> = reference
        .union(&juan_record)
        .chain(keys("Observation", &later).iter())
        .cloned()
        .collect();
    let everything: BTreeSet<String> = everything.union(&expected_c).cloned().collect();
    let expected_a: BTreeSet<String> = expected_c.clone();
    let expected_b: BTreeSet<String> = reference.union(&pedro_record).cloned().collect();
    converge(&cluster, &[everything, expected_a, expected_b, expected_c]);

    // A `$match` naming a CURP C has never seen fetches that record too.
    let parameters = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": patient(&curp_pedro, 5, "Pedro")}
    ]});
    let reply = fhir(c, "POST", "Patient/$match", Some(&parameters));
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.text.contains(&pedro), "{}", reply.text);
    assert!(snapshot(c).contains_key(&format!("Observation/{}", pedro_obs[0])));

    let status = sync_get(a, "status");
    assert_eq!(status["online"], true, "{status}");
    assert_eq!(status["pending_outbound"], 0, "{status}");
    assert_eq!(status["node_id"], "DFSSA000001");
    assert!(status["last_push_ms"].is_i64() && status["last_pull_ms"].is_i64());
    // The same status read from the store by the CLI names the hub too.
    assert!(status["hub"].is_string(), "{status}");
    let data = cluster.clinics[0].data.to_str().unwrap().to_string();
    let (code, out, err) = crate::support::run_cli(&["sync", "status", "--data", &data]);
    assert_eq!(code, 0, "{out} {err}");
    let offline: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(offline["hub"], status["hub"], "{out}");
}

/// The hub refuses unknown nodes and a clinic pushing another clinic's changes.
#[test]
fn the_hub_refuses_unknown_nodes_and_impersonation() {
    let cluster = Cluster::start(&[0], 2);
    let push = |token: &str, origin: &str| {
        let body = json!({"versions": [{"t": "Organization", "i": "x1", "h": 1, "o": origin, "u": 0,
            "b": {"resourceType": "Organization", "id": "x1"}}]});
        let bytes = zstd::bulk::compress(body.to_string().as_bytes(), 3).unwrap();
        client()
            .post(format!("{}/sync/push", cluster.hub()))
            .header("authorization", format!("Bearer {token}"))
            .body(bytes)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let token = cluster.clinics[0].token.clone();
    assert_eq!(push("exps_not-a-real-credential", "DFSSA000001"), 401);
    assert_eq!(push(&token, "DFSSA000999"), 403);
    assert_eq!(push(&token, "DFSSA000001"), 200);
    let hub_status = sync_get(cluster.hub(), "status");
    assert_eq!(hub_status["role"], "hub");
    wait_until("the clinic to pull", Duration::from_secs(30), || {
        let nodes = sync_get(cluster.hub(), "status")["nodes"].clone();
        nodes[0]["node_id"] == "DFSSA000001" && nodes[0]["last_pull"].is_string()
    });
    // Reports name records and nodes: not for anonymous callers, on the hub or a clinic.
    let clinic_root = cluster.clinics[0].proc.as_ref().unwrap().root.clone();
    for root in [cluster.hub().to_string(), clinic_root] {
        for report in ["status", "conflicts"] {
            let anonymous = crate::support::anonymous_client()
                .get(format!("{root}/sync/{report}"))
                .send()
                .unwrap();
            assert_eq!(anonymous.status().as_u16(), 401, "{root}/sync/{report}");
        }
    }
}

/// (2): the hub is down while clinics keep writing (never blocked), then comes back.
#[test]
fn clinics_keep_working_while_the_hub_is_down() {
    let mut cluster = Cluster::start(&[0, 0], 3);
    let (a, b) = (cluster.clinic(0).to_string(), cluster.clinic(1).to_string());
    let organization = create(
        &a,
        &json!({"resourceType": "Organization", "name": "Antes"}),
    );
    let before = keys("Organization", std::slice::from_ref(&organization));
    converge(&cluster, &[before.clone(), before.clone(), before]);
    cluster.kill_hub();
    let started = Instant::now();
    let juan = create(
        &a,
        &cluster.registered(0, patient(&curp(23, 0), 23, "Juan")),
    );
    let juan_obs = observations(&a, &juan, 50, "offline-a");
    let org_b = create(
        &b,
        &json!({"resourceType": "Organization", "name": "Sin red"}),
    );
    // Not a speed test: a write that waited on the unreachable hub would hang for the
    // client's whole timeout; the bound only has to be far below that on a loaded machine.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "writes never wait on the hub"
    );
    wait_until("clinic A to notice", Duration::from_secs(30), || {
        let status = sync_get(&a, "status");
        status["online"] == false && status["pending_outbound"].as_u64().unwrap() >= 51
    });
    // Operators can ask the data directory too, beside the running node.
    let (code, stdout, stderr) = crate::support::run_cli(&[
        "sync",
        "status",
        "--data",
        cluster.clinics[0].data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["online"], false, "{status}");
    assert!(
        status["pending_outbound"].as_u64().unwrap() >= 51,
        "{status}"
    );
    assert!(status["push_lag_ms"].as_i64().unwrap() > 0, "{status}");
    assert_eq!(status["node_id"], "DFSSA000001");
    // The clinician's screen says so on every page (the sign-in page included).
    let page = crate::support::anonymous_client()
        .get(format!("{a}/ui/entrar"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let slot = page.split("id=\"sync\"").nth(1).unwrap_or_default();
    let slot = slot.split("</span>").next().unwrap_or_default();
    assert!(
        slot.contains("Sin conexión") && slot.contains("cambios pendientes"),
        "{slot}"
    );
    cluster.start_hub();
    let reference: BTreeSet<String> = keys("Organization", &[organization, org_b]);
    let juan_record: BTreeSet<String> = keys("Patient", std::slice::from_ref(&juan))
        .union(&keys("Observation", &juan_obs))
        .cloned()
        .collect();
    let all: BTreeSet<String> = reference.union(&juan_record).cloned().collect();
    let snapshots = converge(&cluster, &[all.clone(), all.clone(), reference]);
    assert_eq!(snapshots[0].len(), all.len());
    wait_until("clinic A back online", Duration::from_secs(30), || {
        let status = sync_get(&a, "status");
        status["online"] == true && status["pending_outbound"] == 0
    });
}

/// (3): the same Patient edited at two clinics while apart: one winner everywhere (the
/// greater stamp; B's clock is a minute ahead so B's edit must win), the loser kept in
/// history on every node, and the conflict on the review list.
#[test]
fn concurrent_edits_converge_and_are_surfaced() {
    let mut cluster = Cluster::start(&[0, 60_000], 4);
    let (a, b) = (cluster.clinic(0).to_string(), cluster.clinic(1).to_string());
    let curp_juan = curp(23, 0);
    let juan = create(&a, &cluster.registered(0, patient(&curp_juan, 23, "Juan")));
    converge(
        &cluster,
        &[
            keys("Patient", std::slice::from_ref(&juan)),
            keys("Patient", std::slice::from_ref(&juan)),
            BTreeSet::new(),
        ],
    );
    assert_eq!(lookup_by_curp(&b, &curp_juan), vec![juan.clone()]);
    // Juan is seen at B too: the visit is what lets B change his record.
    cluster.visit(1, &juan);
    cluster.kill_hub();
    let mut edit_a = cluster.registered(0, patient(&curp_juan, 23, "Juan"));
    edit_a["id"] = json!(juan);
    edit_a["telecom"] = json!([{"system": "phone", "value": "5551112222"}]);
    let mut edit_b = cluster.registered(0, patient(&curp_juan, 23, "Juan"));
    edit_b["id"] = json!(juan);
    edit_b["gender"] = json!("male");
    edit_b["telecom"] = json!([{"system": "phone", "value": "5553334444"}]);
    assert_eq!(
        fhir(&a, "PUT", &format!("Patient/{juan}"), Some(&edit_a)).status,
        200
    );
    assert_eq!(
        fhir(&b, "PUT", &format!("Patient/{juan}"), Some(&edit_b)).status,
        200
    );
    cluster.start_hub();
    let expected = keys("Patient", std::slice::from_ref(&juan));
    let snapshots = converge(&cluster, &[expected.clone(), expected.clone(), expected]);
    let current = &snapshots[0][&format!("Patient/{juan}")];
    assert_eq!(
        current["telecom"][0]["value"], "5553334444",
        "B's edit has the greater stamp"
    );
    for root in cluster.roots() {
        let phones = history_values(&root, &format!("Patient/{juan}"), "telecom");
        let phones: Vec<&str> = phones
            .iter()
            .filter_map(|t| t[0]["value"].as_str())
            .collect();
        assert!(
            phones.contains(&"5551112222"),
            "the losing edit is in history on {root}: {phones:?}"
        );
        assert!(phones.contains(&"5553334444"));
    }
    let conflicts = sync_get(cluster.hub(), "conflicts");
    let conflict = &conflicts["conflicts"][0];
    assert_eq!(
        conflict["resource"],
        format!("Patient/{juan}"),
        "{conflicts}"
    );
    assert_eq!(conflict["winner"]["node"], "DFSSA000002");
    assert_eq!(conflict["loser"]["node"], "DFSSA000001");
    assert_eq!(conflict["fields"], json!(["telecom"]));
    assert_eq!(sync_get(cluster.hub(), "status")["open_conflicts"], 1);
    // And on the review list, as a Task naming the record, the element and both nodes.
    let tasks = fhir(cluster.hub(), "GET", "Task?code=revisar-conflicto", None);
    assert_eq!(
        crate::support::match_ids(&tasks.body).len(),
        1,
        "{}",
        tasks.text
    );
    let task = &tasks.body["entry"][0]["resource"];
    assert_eq!(task["focus"]["reference"], format!("Patient/{juan}"));
    let inputs = task["input"].to_string();
    for expected in ["DFSSA000001", "DFSSA000002", "telecom"] {
        assert!(inputs.contains(expected), "{inputs}");
    }
}

/// (4): clocks hours apart. A's clock is 3 h behind, B's 2 h ahead. B edits, A sees the edit
/// and edits after it: A's edit must win everywhere although its wall clock says 5 h earlier,
/// and it is not a conflict (it was made knowing B's).
#[test]
fn skewed_clocks_do_not_reorder_causal_edits() {
    let hour = 3_600_000;
    let cluster = Cluster::start(&[-3 * hour, 2 * hour], 5);
    let (a, b) = (cluster.clinic(0), cluster.clinic(1));
    let curp_juan = curp(23, 0);
    let juan = create(a, &cluster.registered(0, patient(&curp_juan, 23, "Juan")));
    wait_until("the hub to hold Juan", Duration::from_secs(40), || {
        !lookup_by_curp(cluster.hub(), &curp_juan).is_empty()
    });
    assert_eq!(lookup_by_curp(b, &curp_juan), vec![juan.clone()]);
    cluster.visit(1, &juan);
    let mut edit_b = cluster.registered(0, patient(&curp_juan, 23, "Juan"));
    edit_b["id"] = json!(juan);
    edit_b["telecom"] = json!([{"system": "phone", "value": "5550000001"}]);
    assert_eq!(
        fhir(b, "PUT", &format!("Patient/{juan}"), Some(&edit_b)).status,
        200
    );
    wait_until("A to receive B's edit", Duration::from_secs(40), || {
        fhir(a, "GET", &format!("Patient/{juan}"), None).body["telecom"][0]["value"] == "5550000001"
    });
    let mut edit_a = edit_b.clone();
    edit_a["telecom"] = json!([{"system": "phone", "value": "5550000002"}]);
    assert_eq!(
        fhir(a, "PUT", &format!("Patient/{juan}"), Some(&edit_a)).status,
        200
    );
    let expected = keys("Patient", std::slice::from_ref(&juan));
    let snapshots = converge(&cluster, &[expected.clone(), expected.clone(), expected]);
    assert_eq!(
        snapshots[0][&format!("Patient/{juan}")]["telecom"][0]["value"],
        "5550000002"
    );
    for root in cluster.roots() {
        assert_eq!(sync_get(&root, "status")["open_conflicts"], 0, "{root}");
    }
}

/// Patients registered offline at two clinics for the same person are matched on the hub and
/// put on the review list.
#[test]
fn duplicates_registered_offline_are_put_on_the_review_list() {
    let mut cluster = Cluster::start(&[0, 0], 6);
    cluster.kill_hub();
    let curp_juan = curp(23, 0);
    let at_a = create(
        cluster.clinic(0),
        &cluster.registered(0, patient(&curp_juan, 23, "Juan")),
    );
    let at_b = create(
        cluster.clinic(1),
        &cluster.registered(1, patient(&curp_juan, 23, "Juan")),
    );
    cluster.start_hub();
    wait_until("a review task on the hub", Duration::from_secs(30), || {
        let reply = fhir(cluster.hub(), "GET", "Task?code=revisar-duplicado", None);
        let text = reply.text;
        text.contains(&format!("Patient/{at_a}")) && text.contains(&format!("Patient/{at_b}"))
    });
}

/// (5) + (8): a clinic offline for 30 days (its clock says so while it writes) with thousands
/// of changes catches up both ways; the hub is SIGKILLed in the middle of the catch-up and a
/// clinic in the middle of a pull.
#[test]
fn thirty_days_offline_catch_up_survives_kills() {
    let day = 86_400_000;
    let mut cluster = Cluster::start(&[-30 * day, 0], 7);
    let curp_juan = curp(23, 0);
    let juan = create(
        cluster.clinic(1),
        &cluster.registered(1, patient(&curp_juan, 23, "Juan")),
    );
    let a = cluster.clinic(0).to_string();
    wait_until("the hub to hold Juan", Duration::from_secs(40), || {
        !lookup_by_curp(cluster.hub(), &curp_juan).is_empty()
    });
    assert_eq!(lookup_by_curp(&a, &curp_juan), vec![juan.clone()]);
    // Thirty days without the hub at clinic A, while B keeps writing for the same patient.
    cluster.kill_hub();
    // Juan comes to A (registered at B): the visit that lets A write in his record.
    cluster.visit(0, &juan);
    let mut obs_a = Vec::new();
    for batch in 0..3 {
        obs_a.extend(observations(&a, &juan, 1_000, &format!("a{batch}")));
    }
    let obs_b = observations(cluster.clinic(1), &juan, 500, "b");
    // The clinic restarts with its clock right, and the hub comes back.
    cluster.kill_clinic(0);
    cluster.clinics[0].clock_offset_ms = 0;
    cluster.start_clinic(0);
    cluster.start_hub();
    // Kill the hub once it has part of A's backlog.
    let hub = cluster.hub().to_string();
    wait_until(
        "part of the backlog on the hub",
        Duration::from_secs(30),
        || {
            let reply = fhir(&hub, "GET", "Observation?_summary=count", None);
            reply.body["total"].as_u64().unwrap_or(0) > 0
        },
    );
    cluster.kill_hub();
    cluster.start_hub();
    // Kill clinic B while it pulls A's backlog.
    let b = cluster.clinic(1).to_string();
    wait_until(
        "B to receive part of A's backlog",
        Duration::from_secs(30),
        || {
            let reply = fhir(&b, "GET", "Observation?_summary=count", None);
            reply.body["total"].as_u64().unwrap_or(0) > 500
        },
    );
    cluster.kill_clinic(1);
    cluster.start_clinic(1);
    let record: BTreeSet<String> = keys("Patient", std::slice::from_ref(&juan))
        .union(&keys("Observation", &obs_a))
        .chain(keys("Observation", &obs_b).iter())
        .cloned()
        .collect();
    let snapshots = converge(&cluster, &[record.clone(), record.clone(), record.clone()]);
    for snapshot in &snapshots {
        assert_eq!(snapshot.len(), record.len(), "nothing lost or duplicated");
    }
}

/// (7): clinics write while the network drops, delays, duplicates and replays requests
/// (seeded), and everything still converges.
#[test]
fn a_faulty_network_still_converges() {
    let cluster = Cluster::start(&[0, 0, 0], 8);
    cluster.proxy.set_faults(Faults {
        drop_request_pct: 10,
        drop_response_pct: 15,
        duplicate_pct: 15,
        replay_pct: 15,
        delay_ms_max: 50,
    });
    let curp_juan = curp(23, 0);
    let juan = create(
        cluster.clinic(0),
        &cluster.registered(0, patient(&curp_juan, 23, "Juan")),
    );
    let mut expected_record = keys("Patient", std::slice::from_ref(&juan));
    let mut organizations = Vec::new();
    for round in 0..5 {
        for idx in 0..3 {
            let root = cluster.clinic(idx);
            organizations.push(create(
                root,
                &json!({"resourceType": "Organization", "name": format!("Org {round}-{idx}")}),
            ));
        }
        expected_record.extend(keys(
            "Observation",
            &observations(cluster.clinic(0), &juan, 40, &format!("r{round}")),
        ));
        std::thread::sleep(Duration::from_millis(200));
    }
    // B follows Juan through a lookup (retried: the network may eat the fetch).
    wait_until("B to fetch Juan", Duration::from_secs(30), || {
        !lookup_by_curp(cluster.clinic(1), &curp_juan).is_empty()
    });
    let reference = keys("Organization", &organizations);
    let with_juan: BTreeSet<String> = reference.union(&expected_record).cloned().collect();
    let snapshots = converge(
        &cluster,
        &[
            with_juan.clone(),
            with_juan.clone(),
            with_juan.clone(),
            reference.clone(),
        ],
    );
    assert_eq!(
        snapshots[0].len(),
        with_juan.len(),
        "nothing duplicated on the hub"
    );
}

/// Issue 14: PostgreSQL itself crashes and restarts (`pg_ctl restart -m immediate`) twice while
/// a clinic pushes a backlog to a PostgreSQL hub. Nothing the hub acknowledged is lost, nothing
/// is applied twice, and the hub process (never restarted) reconnects by itself.
#[test]
fn postgres_restarted_mid_push_loses_and_duplicates_nothing() {
    let postgres = crate::support::PrivatePostgres::start();
    let database = postgres.create_database("hub");
    let mut cluster = Cluster::start_on(&[0], 14, Some(&database));
    let a = cluster.clinic(0).to_string();
    let hub = cluster.hub().to_string();
    let juan = create(
        &a,
        &cluster.registered(0, patient(&curp(23, 0), 23, "Juan")),
    );
    let on_hub = |hub: &str| {
        let reply = fhir(hub, "GET", "Observation?_summary=count", None);
        reply.body["total"].as_u64().unwrap_or(0)
    };
    // The clinic keeps writing (small transactions) while it pushes every 150 ms, so pushes
    // are in flight whenever PostgreSQL goes down.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (a, juan, writing) = (a.clone(), juan.clone(), writing.clone());
        std::thread::spawn(move || {
            let mut obs = Vec::new();
            let mut batch = 0;
            while writing.load(Ordering::SeqCst) || batch < 10 {
                obs.extend(observations(&a, &juan, 20, &format!("pg{batch}")));
                batch += 1;
            }
            obs
        })
    };
    // The first crash once part of the writes is on the hub, the second once more arrived
    // after the first.
    wait_until("part of the writes on the hub", CONVERGE_TIMEOUT, || {
        on_hub(&hub) > 0
    });
    postgres.crash_restart();
    // The hub answers again by itself (a broken connection is replaced on its next use).
    wait_until(
        "the hub to answer after the crash",
        CONVERGE_TIMEOUT,
        || fhir(&hub, "GET", "Observation?_summary=count", None).status == 200,
    );
    let after_first = on_hub(&hub);
    wait_until(
        "more writes on the hub after the crash",
        CONVERGE_TIMEOUT,
        || on_hub(&hub) > after_first,
    );
    postgres.crash_restart();
    std::thread::sleep(Duration::from_millis(500));
    writing.store(false, Ordering::SeqCst);
    let obs = writer.join().unwrap();
    let record: BTreeSet<String> = keys("Patient", std::slice::from_ref(&juan))
        .union(&keys("Observation", &obs))
        .cloned()
        .collect();
    let snapshots = converge(&cluster, &[record.clone(), record.clone()]);
    for snapshot in &snapshots {
        assert_eq!(snapshot.len(), record.len(), "nothing lost or duplicated");
    }
    // Applied once: every version the clinic wrote is one version on the hub.
    for key in record.iter().take(50) {
        let reply = fhir(&hub, "GET", &format!("{key}/_history"), None);
        assert_eq!(reply.status, 200, "{}", reply.text);
        let versions = reply.body["entry"].as_array().map_or(0, Vec::len);
        assert_eq!(versions, 1, "{key}: {}", reply.text);
    }
    wait_until("the clinic's outbox empty", CONVERGE_TIMEOUT, || {
        sync_get(&a, "status")["pending_outbound"] == 0
    });
    let hub_proc = cluster.hub.as_mut().unwrap();
    assert!(
        hub_proc.child.try_wait().unwrap().is_none(),
        "the hub process survived both crashes of its database"
    );
    // The hub's audit trail is intact after both crashes.
    let (code, stdout, stderr) = crate::support::run_cli(&[
        "audit",
        "verify",
        "--data",
        cluster.hub_data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// Issue 15: a node of the hub's Citus cluster (its own: a coordinator and two workers)
/// crashes (`pg_ctl stop -m immediate`) while two clinics push, and comes back. The clinics
/// keep working and retry by themselves; afterwards every version a clinic wrote is on the
/// hub exactly once, and the hub process (never restarted) reconnects by itself.
/// `crash_coordinator`: the coordinator, else the worker holding clinic 0's patient.
fn pushes_survive_a_citus_node_crash(crash_coordinator: bool, seed: u64) {
    // On the SQLite engine the suite keeps every hub on SQLite, whatever `start_on` names
    // (`support::placement`): these scenarios belong to the Citus pass of test.sh.
    assert_eq!(
        crate::support::engine(),
        crate::support::Engine::Citus,
        "run with EXPEDIENTE_TEST_ENGINE=citus (test.sh's Citus pass)"
    );
    let citus = crate::support::PrivateCitus::start();
    let mut cluster = Cluster::start_on(&[0, 0], seed, Some(&citus.admin_url));
    let hub = cluster.hub().to_string();
    let roots: Vec<String> = (0..2).map(|idx| cluster.clinic(idx).to_string()).collect();
    let patients: Vec<String> = [(21, "Juan"), (22, "Pedro")]
        .iter()
        .enumerate()
        .map(|(idx, (day, given))| {
            let resource = cluster.registered(idx, patient(&curp(*day, 0), *day, given));
            create(&roots[idx], &resource)
        })
        .collect();
    let on_hub = |hub: &str| {
        let reply = fhir(hub, "GET", "Observation?_summary=count", None);
        reply.body["total"].as_u64().unwrap_or(0)
    };
    // Each clinic keeps writing small transactions while it pushes every 150 ms, so pushes
    // are in flight when the node goes down and while it is down (the clinics' own writes
    // never wait for the hub: a failed write here fails the test).
    let writing = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = (0..2)
        .map(|idx| {
            let (root, patient, writing) =
                (roots[idx].clone(), patients[idx].clone(), writing.clone());
            std::thread::spawn(move || {
                let mut obs = Vec::new();
                let mut batch = 0;
                while writing.load(Ordering::SeqCst) || batch < 8 {
                    obs.extend(observations(
                        &root,
                        &patient,
                        20,
                        &format!("c{idx}-{batch}"),
                    ));
                    batch += 1;
                }
                obs
            })
        })
        .collect();
    let node = if crash_coordinator {
        0
    } else {
        // The worker holding clinic 0's patient: its pushes cannot succeed while it is down.
        let port: u16 = crate::support::psql(
            &citus.admin_url,
            &format!(
                "SELECT nodeport FROM pg_dist_shard_placement \
                 WHERE shardid = get_shard_id_for_distribution_column('resource', '{}')",
                patients[0]
            ),
        )
        .parse()
        .unwrap();
        port - citus.node_port(0)
    };
    assert!(node <= 2, "node {node}");
    wait_until("part of the writes on the hub", CONVERGE_TIMEOUT, || {
        on_hub(&hub) > 0
    });
    let before = on_hub(&hub);
    citus.crash(node);
    std::thread::sleep(Duration::from_secs(3));
    citus.start_node(node);
    wait_until(
        "more writes on the hub after the restart",
        CONVERGE_TIMEOUT,
        || on_hub(&hub) > before,
    );
    std::thread::sleep(Duration::from_millis(500));
    writing.store(false, Ordering::SeqCst);
    let written: Vec<Vec<String>> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    let records: Vec<BTreeSet<String>> = (0..2)
        .map(|idx| {
            keys("Patient", std::slice::from_ref(&patients[idx]))
                .union(&keys("Observation", &written[idx]))
                .cloned()
                .collect()
        })
        .collect();
    let everything: BTreeSet<String> = records[0].union(&records[1]).cloned().collect();
    let snapshots = converge(
        &cluster,
        &[everything.clone(), records[0].clone(), records[1].clone()],
    );
    assert_eq!(
        snapshots[0].len(),
        everything.len(),
        "nothing lost or duplicated on the hub"
    );
    // Applied once: every version a clinic wrote is one version on the hub.
    for key in &everything {
        let reply = fhir(&hub, "GET", &format!("{key}/_history"), None);
        assert_eq!(reply.status, 200, "{}", reply.text);
        let versions = reply.body["entry"].as_array().map_or(0, Vec::len);
        assert_eq!(versions, 1, "{key}: {}", reply.text);
    }
    for root in &roots {
        wait_until("the clinic's outbox empty", CONVERGE_TIMEOUT, || {
            sync_get(root, "status")["pending_outbound"] == 0
        });
    }
    let hub_proc = cluster.hub.as_mut().unwrap();
    assert!(
        hub_proc.child.try_wait().unwrap().is_none(),
        "the hub process survived the crash of a node of its cluster"
    );
    let (code, stdout, stderr) = crate::support::run_cli(&[
        "audit",
        "verify",
        "--data",
        cluster.hub_data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn citus_worker_crashed_mid_push_loses_and_duplicates_nothing() {
    pushes_survive_a_citus_node_crash(false, 15);
}

#[test]
fn citus_coordinator_crashed_mid_push_loses_and_duplicates_nothing() {
    pushes_survive_a_citus_node_crash(true, 16);
}

/// The ids of a searchset's matches, in order.
fn match_resources(root: &str, path: &str) -> Vec<Value> {
    let reply = fhir(root, "GET", path, None);
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] != "include")
        .map(|e| e["resource"].clone())
        .collect()
}

fn double_booking_marked(appointment: &Value) -> bool {
    appointment["meta"]["tag"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| t["code"] == "doble-reserva")
}

/// Issue 17: a hospital's slot offered through the hub (a referring clinic's desk books it
/// there for its patient) is booked again by the hospital's own reception while its link is
/// cut. When the link is back: both Appointments are kept on every node that holds them, the
/// later booking is marked (the same one everywhere), the hospital's reception gets one Task
/// "doble reserva" naming both, and further rounds and edits change nothing.
#[test]
fn a_slot_booked_at_two_nodes_while_apart_keeps_both_and_marks_one() {
    let cluster = Cluster::start(&[0, 0], 17);
    let (hospital, clinic) = (cluster.clinic(0), cluster.clinic(1));
    let hub = cluster.hub();
    let practitioner = create(
        hospital,
        &json!({"resourceType": "Practitioner", "name": [{"family": "Ortiz", "given": ["Elena"]}]}),
    );
    // The consultorio is a Location of the hospital: a booking there is the hospital's care
    // relationship with the patient (so its reception may read what it must reschedule).
    let consultorio = create(
        hospital,
        &json!({
            "resourceType": "Location",
            "name": "Consultorio de cardiología",
            "managingOrganization": {"reference": format!("Organization/{}", cluster.clinics[0].organization)}
        }),
    );
    let schedule = create(
        hospital,
        &json!({
            "resourceType": "Schedule",
            "active": true,
            "serviceType": [{"text": "Cardiología"}],
            "actor": [
                {"reference": format!("Practitioner/{practitioner}")},
                {"reference": format!("Location/{consultorio}")}
            ]
        }),
    );
    let slot = create(
        hospital,
        &json!({
            "resourceType": "Slot",
            "schedule": {"reference": format!("Schedule/{schedule}")},
            "status": "free",
            "start": "2026-12-21T09:00:00-06:00",
            "end": "2026-12-21T09:30:00-06:00"
        }),
    );
    let ana = create(
        hospital,
        &cluster.registered(0, patient(&curp(3, 0), 3, "Ana")),
    );
    let beto = create(
        clinic,
        &cluster.registered(1, patient(&curp(4, 1), 4, "Beto")),
    );
    wait_until(
        "the hub to hold the slot and both patients",
        CONVERGE_TIMEOUT,
        || {
            fhir(hub, "GET", &format!("Slot/{slot}"), None).status == 200
                && fhir(hub, "GET", &format!("Patient/{ana}"), None).status == 200
                && fhir(hub, "GET", &format!("Patient/{beto}"), None).status == 200
        },
    );

    // The link is cut: nothing a clinic sends reaches the hub.
    cluster.proxy.set_faults(Faults {
        drop_request_pct: 100,
        ..Faults::default()
    });
    let booking = |patient_id: &str| {
        json!({
            "resourceType": "Appointment",
            "status": "booked",
            "slot": [{"reference": format!("Slot/{slot}")}],
            "participant": [{"actor": {"reference": format!("Patient/{patient_id}")}, "status": "accepted"}]
        })
    };
    // The hospital's reception books first, offline ...
    let first = create(hospital, &booking(&ana));
    std::thread::sleep(Duration::from_millis(50));
    // ... then the referring clinic's desk books the same slot through the hub, which still
    // sees it free.
    let second = create(hub, &booking(&beto));
    // On one node a second booking stays impossible.
    assert_eq!(
        fhir(hospital, "POST", "Appointment", Some(&booking(&ana))).status,
        409
    );

    cluster.proxy.set_faults(Faults::default());
    let task_code = "Task?code=https://expediente.salud.gob.mx/fhir/CodeSystem/tarea|doble-reserva";
    wait_until(
        "the hospital to receive the double-booking task",
        CONVERGE_TIMEOUT,
        || !match_resources(hospital, task_code).is_empty(),
    );
    wait_until(
        "every node to hold the same appointments",
        CONVERGE_TIMEOUT,
        || {
            let on_hub: Vec<Value> = [&first, &second]
                .iter()
                .map(|id| normalized(fhir(hub, "GET", &format!("Appointment/{id}"), None).body))
                .collect();
            // The hospital holds both (Beto's record came with the Task); the clinic its patient's.
            let same = |root: &str, idx: usize| {
                let id = [&first, &second][idx];
                normalized(fhir(root, "GET", &format!("Appointment/{id}"), None).body)
                    == on_hub[idx]
            };
            double_booking_marked(&on_hub[1])
                && same(hospital, 0)
                && same(hospital, 1)
                && same(clinic, 1)
        },
    );

    // Both Appointments are kept, still booked, on the hub; exactly one is marked: the later.
    let held = match_resources(hub, &format!("Appointment?slot=Slot/{slot}"));
    let mut ids: Vec<&str> = held.iter().filter_map(|a| a["id"].as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    assert!(held.iter().all(|a| a["status"] == "booked"), "{held:?}");
    let marked: Vec<&str> = held
        .iter()
        .filter(|a| double_booking_marked(a))
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(
        marked,
        vec![second.as_str()],
        "the later booking is the one to move"
    );
    // The hospital sees the same: both, one marked, and the slot busy.
    for root in [hospital, hub] {
        let first_there = fhir(root, "GET", &format!("Appointment/{first}"), None).body;
        assert!(!double_booking_marked(&first_there), "{root}");
        assert_eq!(
            fhir(root, "GET", &format!("Slot/{slot}"), None).body["status"],
            "busy",
            "{root}"
        );
    }
    // One Task, for the hospital's reception, naming both Appointments, in Spanish and English.
    let tasks = match_resources(hospital, task_code);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(task["status"], "requested");
    assert_eq!(
        task["owner"]["identifier"]["value"],
        cluster.clinics[0].clues
    );
    assert_eq!(task["focus"]["reference"], format!("Appointment/{second}"));
    assert_eq!(task["for"]["reference"], format!("Patient/{beto}"));
    let text = task["description"].as_str().unwrap();
    assert!(
        text.contains("Doble reserva") && text.contains("Double booking"),
        "{text}"
    );
    assert!(text.contains(&first) && text.contains(&second), "{text}");
    assert_eq!(match_resources(hub, task_code).len(), 1);
    // The hospital's reception sees it on its day view, in words, with the way to rebook.
    let password = "Clave-de-prueba-2026";
    let (code, _, err) = crate::security::run_cli_stdin(
        &[
            "user",
            "add",
            "--data",
            cluster.clinics[0].data.to_str().unwrap(),
            "--username",
            "recepcion-hospital",
            "--role",
            "receptionist",
            "--clues",
            &cluster.clinics[0].clues,
            "--password-stdin",
        ],
        password,
    );
    assert_eq!(code, 0, "{err}");
    let browser = crate::security_web::Browser::at_origin(hospital);
    let signed_in = browser.sign_in("recepcion-hospital", password, "/ui/fila");
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let day = browser.get("/ui/fila");
    assert_eq!(day.status, 200, "{}", day.body);
    assert!(
        day.body.contains("Dobles reservas por resolver"),
        "{}",
        day.body
    );
    let listed = day
        .body
        .split("id=\"double-bookings\"")
        .nth(1)
        .unwrap_or_default();
    let listed = listed.split("</section>").next().unwrap_or_default();
    assert!(
        listed.contains(&format!("data-appointment=\"{second}\""))
            && listed.contains(&format!("/ui/pacientes/{beto}/cita"))
            && listed.contains("Pérez"),
        "{listed}"
    );

    // Repeating changes nothing: further rounds, and the kept booking edited and pushed again
    // (the hub reviews the slot once more and finds the pair decided).
    let history_len = |root: &str, id: &str| {
        fhir(root, "GET", &format!("Appointment/{id}/_history"), None).body["entry"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let second_versions = history_len(hub, &second);
    let mut edited = fhir(hospital, "GET", &format!("Appointment/{first}"), None).body;
    edited["comment"] = json!("Traer estudios previos");
    assert_eq!(
        fhir(
            hospital,
            "PUT",
            &format!("Appointment/{first}"),
            Some(&edited)
        )
        .status,
        200
    );
    wait_until("the edit to reach the hub", CONVERGE_TIMEOUT, || {
        fhir(hub, "GET", &format!("Appointment/{first}"), None).body["comment"]
            == "Traer estudios previos"
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(match_resources(hub, task_code).len(), 1);
    assert_eq!(match_resources(hospital, task_code).len(), 1);
    assert_eq!(history_len(hub, &second), second_versions);
    let marked_after: Vec<String> = match_resources(hub, &format!("Appointment?slot=Slot/{slot}"))
        .iter()
        .filter(|a| double_booking_marked(a))
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(marked_after, vec![second.clone()]);

    // The reception rebooks Beto elsewhere and cancels the marked appointment: the mark goes,
    // the slot stays busy (Ana keeps it), on the hospital and on the hub.
    let mut cancelled = fhir(hospital, "GET", &format!("Appointment/{second}"), None).body;
    cancelled["status"] = json!("cancelled");
    let reply = fhir(
        hospital,
        "PUT",
        &format!("Appointment/{second}"),
        Some(&cancelled),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!double_booking_marked(&reply.body), "{}", reply.text);
    wait_until(
        "the cancellation to reach the hub",
        CONVERGE_TIMEOUT,
        || fhir(hub, "GET", &format!("Appointment/{second}"), None).body["status"] == "cancelled",
    );
    for root in [hospital, hub] {
        assert_eq!(
            fhir(root, "GET", &format!("Slot/{slot}"), None).body["status"],
            "busy",
            "{root}"
        );
    }
    // The hub closes the Task once the marked appointment is moved or cancelled; the closed
    // Task reaches the hospital.
    wait_until(
        "the task to be closed on the hospital",
        CONVERGE_TIMEOUT,
        || {
            match_resources(hospital, task_code)
                .first()
                .is_some_and(|t| t["status"] == "completed")
        },
    );
    assert_eq!(
        match_resources(hub, task_code).len(),
        1,
        "closed, not another"
    );
    let day = browser.get("/ui/fila");
    assert!(!day.body.contains("id=\"double-bookings\""), "{}", day.body);
}

/// Issue 17: a Subscription hears of versions that arrive by sync as of local writes. A
/// physician at clinic B subscribes to a patient's Observations; the Observation written at
/// clinic A reaches B through the hub, and B's hook is told (as the physician may read it).
#[test]
fn a_subscription_hears_of_versions_applied_by_sync() {
    let cluster = Cluster::start(&[0, 0], 18);
    let (a, b) = (cluster.clinic(0), cluster.clinic(1));
    let curp_juan = curp(23, 0);
    let juan = create(a, &cluster.registered(0, patient(&curp_juan, 23, "Juan")));
    wait_until("the hub to hold Juan", CONVERGE_TIMEOUT, || {
        !lookup_by_curp(cluster.hub(), &curp_juan).is_empty()
    });
    assert_eq!(lookup_by_curp(b, &curp_juan), vec![juan.clone()]);
    cluster.visit(1, &juan);
    let token = crate::security::account(
        &cluster.clinics[1].data,
        "medica-b",
        "physician",
        &["--clues", &cluster.clinics[1].clues],
    );
    let hook = crate::subscriptions::Hook::start(&[]);
    let subscription = json!({
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "Resultados de mis pacientes",
        "criteria": format!("Observation?patient=Patient/{juan}"),
        "channel": {"type": "rest-hook", "endpoint": hook.url(), "payload": "application/fhir+json"}
    });
    let created = crate::support::reply(
        crate::support::anonymous_client()
            .post(format!("{b}/fhir/Subscription"))
            .bearer_auth(&token)
            .header("content-type", "application/fhir+json")
            .body(subscription.to_string())
            .send()
            .unwrap(),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["status"], "active", "{}", created.text);
    // Written at A, not at B: B only receives it from the hub.
    let written = observations(a, &juan, 1, "sync");
    wait_until("B to receive the Observation", CONVERGE_TIMEOUT, || {
        fhir(b, "GET", &format!("Observation/{}", written[0]), None).status == 200
    });
    let received = hook.wait_for(1, 30);
    let ids: Vec<String> = received
        .iter()
        .flat_map(|r| crate::subscriptions::notified_ids(&r.body))
        .collect();
    assert!(ids.contains(&written[0]), "{ids:?}");
}
