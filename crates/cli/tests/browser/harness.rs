//! Starting a demo node, chromedriver and a browser session; reading the demo data the
//! tests pick their patients from.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_expediente");
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The apt packages CI must install for these tests.
pub const APT_PACKAGES: &str = "chromium chromium-driver";

/// Demo population of every test: small enough to import in a few seconds, with several
/// clinics so that records span facilities.
const DEMO_PATIENTS: &str = "300";
const DEMO_CLINICS: &str = "3";

/// Chromium is heavy for a 2-core machine: tests take turns.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`.
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn artifacts_dir() -> PathBuf {
    let dir = target_dir().join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The password `expediente demo` generated for one of its accounts (`cuentas-demo.txt`).
pub fn password(user: &str) -> String {
    let accounts = std::fs::read_to_string(template().join("cuentas-demo.txt"))
        .expect("the demo writes its accounts");
    accounts
        .lines()
        .find(|l| l.split_whitespace().next() == Some(user))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("the demo account exists")
        .to_string()
}

/// The CLUES of the demo's staff accounts (`cuentas-demo.txt`: "(médico, CLUES …)"): the
/// clinic the demo node acts as.
pub fn demo_clues() -> String {
    let accounts = std::fs::read_to_string(template().join("cuentas-demo.txt"))
        .expect("the demo writes its accounts");
    accounts
        .lines()
        .find(|l| l.split_whitespace().next() == Some("medica"))
        .and_then(|l| l.split("CLUES ").nth(1))
        .map(|rest| rest.trim_end_matches(')').trim().to_string())
        .expect("the demo physician has a CLUES")
}

/// A demo data directory made once per run, copied by each test.
fn template() -> &'static PathBuf {
    TEMPLATE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("web-demo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // Templates of earlier runs whose process is gone are only disk use.
        if let Ok(entries) = std::fs::read_dir(env!("CARGO_TARGET_TMPDIR")) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("web-demo-")
                    && !Path::new("/proc").join(pid).exists()
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let output = Command::new(BIN)
            .args([
                "demo",
                "--no-serve",
                "--patients",
                DEMO_PATIENTS,
                "--clinics",
                DEMO_CLINICS,
            ])
            .arg("--data")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir
    })
}

fn copy_dir(from: &Path, to: &Path) {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)
        .unwrap();
    // Owner-only, as the node creates its own (a temporary directory may be wider).
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver in its own process group, killed with the browsers it started: killing
/// chromedriver alone would leave its Chromium running after a failed test.
struct DriverGroup(Child);

impl Drop for DriverGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A node process killed when dropped (`serve` started by a test).
pub struct NodeProcess(#[allow(dead_code)] Killed);

/// `expediente serve --listen 127.0.0.1:0 --data DATA ARGS…`; the process and its base URL
/// (`http://127.0.0.1:PORT`), once it listens.
pub fn serve(data: &Path, args: &[String], env: &[(&str, &str)]) -> (NodeProcess, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let start = line.find("http://").expect("the node prints its address");
    let fhir = line[start..].split_whitespace().next().unwrap().to_string();
    let base = fhir.trim_end_matches("/fhir").to_string();
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    (NodeProcess(Killed(child)), base)
}

/// Runs the binary to completion (`node enroll …`, `sync status …`); its stdout, or the test
/// fails with its stderr.
pub fn run(args: &[&str]) -> String {
    let output = Command::new(BIN).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "expediente {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Adds an account to the node over `data` (`expediente user add … --password-stdin`, beside
/// `serve` or before it) and returns its password. `extra`: `--clues`, `--practitioner`, ….
pub fn add_account(data: &Path, user: &str, role: &str, extra: &[&str]) -> String {
    use std::io::Write;
    let password = format!("Clave-de-prueba-{}-2026", user.len());
    let mut child = Command::new(BIN)
        .args(["user", "add", "--data"])
        .arg(data)
        .args(["--username", user, "--role", role])
        .args(extra)
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "user add {user}: {output:?}");
    password
}

/// While it lives, the browser's relative paths lead to another node ([`Ui::at`]).
pub struct At<'a> {
    ui: &'a Ui,
    previous: String,
}

impl Drop for At<'_> {
    fn drop(&mut self) {
        if let Ok(mut current) = self.ui.current.lock() {
            *current = std::mem::take(&mut self.previous);
        }
    }
}

/// One test's world: a node, a chromedriver, a browser session.
pub struct Ui {
    /// The demo node's address (`http://127.0.0.1:PORT`).
    pub base: String,
    /// Where relative paths lead now: the demo node, or another node of the test while an
    /// [`At`] guard lives (a hospital node, `hub.rs`).
    current: std::sync::Mutex<String>,
    pub client: Client,
    pub demo: &'static Demo,
    name: &'static str,
    _node: NodeProcess,
    _driver: DriverGroup,
    _data: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Ui {
    pub async fn start(name: &'static str) -> Ui {
        Ui::start_with(name, &[]).await
    }

    /// A browser with extra Chromium flags (e.g. scripts disabled).
    pub async fn start_with(name: &'static str, extra_args: &[&str]) -> Ui {
        Ui::start_node(name, extra_args, &[], &[]).await
    }

    /// The demo node started with extra `serve` arguments and environment (e.g. syncing
    /// with a hub as one clinic: `hub.rs`).
    pub async fn start_node(
        name: &'static str,
        extra_args: &[&str],
        serve_args: &[String],
        env: &[(&str, &str)],
    ) -> Ui {
        let turn = TURN.lock().await;
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "browser tests need Chromium: apt-get install -y {APT_PACKAGES}"
        );
        let data = tempfile::tempdir().unwrap();
        copy_dir(template(), data.path());
        let (node, base) = serve(data.path(), serve_args, env);

        let port = free_port();
        let driver = DriverGroup(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut args = vec![
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            // A landscape tablet.
            "--window-size=1180,1400",
        ];
        args.extend_from_slice(extra_args);
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        });
        let client = ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("cannot open a Chromium session");
        Ui {
            current: std::sync::Mutex::new(base.clone()),
            base,
            client,
            demo: demo(),
            name,
            _node: node,
            _driver: driver,
            _data: data,
            _turn: turn,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.current.lock().unwrap())
    }

    /// Relative paths (`goto`, `url`, the API helpers) lead to the node at `base` until the
    /// guard is dropped; the same browser, so that node needs its own sign-in.
    pub fn at(&self, base: &str) -> At<'_> {
        let previous = std::mem::replace(&mut *self.current.lock().unwrap(), base.to_string());
        At { ui: self, previous }
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&self.url(path)).await.unwrap();
    }

    pub async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
    }

    pub async fn text(&self, selector: &str) -> String {
        self.css(selector).await.text().await.unwrap()
    }

    pub async fn fill(&self, selector: &str, value: &str) {
        let element = self.css(selector).await;
        element.clear().await.unwrap();
        element.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, selector: &str) {
        self.css(selector).await.click().await.unwrap();
    }

    /// Clicks something that loads a new page and waits until that page has loaded (a click
    /// can return before the navigation, and the old page's elements then go stale).
    pub async fn navigate_by(&self, selector: &str) {
        self.client
            .execute("window.__oldPage = true;", vec![])
            .await
            .unwrap();
        self.click(selector).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let loaded = self
                .client
                .execute(
                    "return window.__oldPage === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .map(|v| v.as_bool() == Some(true))
                .unwrap_or(false);
            if loaded {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page after clicking {selector}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Signs in as the demo physician.
    pub async fn sign_in(&self) {
        self.sign_in_as("medica").await;
    }

    /// Signs in as one of the demo accounts (`medica`, `enfermero`, `recepcion`, …).
    pub async fn sign_in_as(&self, user: &str) {
        self.goto("/").await;
        self.fill("#user", user).await;
        self.fill("#password", &password(user)).await;
        self.navigate_by("button[type=submit].primary").await;
        self.css("#usuario").await;
    }

    /// Sets an input's value directly (a `type=date` input's keyboard layout depends on the
    /// locale; a `maxlength` stops typing but not a paste or a script).
    pub async fn set_value(&self, selector: &str, value: &str) {
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![json!(selector), json!(value)],
            )
            .await
            .unwrap();
    }

    /// Loads `path` again until `selector` is on it (what another node wrote arrives by sync):
    /// fails the test after `timeout`.
    pub async fn wait_for(&self, path: &str, selector: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            self.goto(path).await;
            if self.exists(selector).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{selector} never appeared on {path}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Whether an element is on the page now (no waiting).
    pub async fn exists(&self, selector: &str) -> bool {
        self.client.find(Locator::Css(selector)).await.is_ok()
    }

    /// The texts of every element matching `selector`.
    pub async fn texts(&self, selector: &str) -> Vec<String> {
        let mut out = Vec::new();
        for element in self.client.find_all(Locator::Css(selector)).await.unwrap() {
            out.push(element.text().await.unwrap());
        }
        out
    }

    /// A form field's current value.
    pub async fn value(&self, selector: &str) -> String {
        self.css(selector)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Picks an option of a `<select>` by its value.
    pub async fn select(&self, selector: &str, value: &str) {
        self.css(selector)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("no option {value} in {selector}: {e}"));
    }

    /// The facility of the signed-in user, by name, from the header.
    pub async fn user_facility(&self) -> String {
        let org = self.demo.org_by_header(&self.text("#usuario").await);
        org.expect("the header names a demo facility")
    }

    /// Adds an account to the running node (`expediente user add`, password from stdin) and
    /// returns its password: for users the demo does not create (staff of another clinic).
    pub fn add_account(&self, user: &str, role: &str, clues: &str) -> String {
        add_account(self._data.path(), user, role, &["--clues", clues])
    }

    /// Signs in with a user name and password (any account).
    pub async fn sign_in_with(&self, user: &str, password: &str) {
        self.goto("/").await;
        self.fill("#user", user).await;
        self.fill("#password", password).await;
        self.navigate_by("button[type=submit].primary").await;
        self.css("#usuario").await;
    }

    pub async fn screenshot(&self, step: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(
            artifacts_dir().join(format!("{}-{step}.png", self.name)),
            png,
        )
        .unwrap();
    }
}

/// Every resource of a type in the generated demo data (`demo-ndjson/{type}.ndjson`).
pub fn demo_resources(resource_type: &str) -> Vec<Value> {
    read_ndjson(&template().join("demo-ndjson"), resource_type)
}

/// The demo population as generated (to pick patients with the properties a test needs).
pub struct Demo {
    pub patients: Vec<Value>,
    /// Organization id → (name, CLUES).
    pub organizations: HashMap<String, (String, String)>,
    /// Patient id → facilities (Organization ids) of their encounters.
    pub encounter_orgs: HashMap<String, HashSet<String>>,
    /// Patient id → number of resources about them.
    pub resource_counts: HashMap<String, usize>,
    /// (patient id, resource type) → number of resources of that type about them.
    pub type_counts: HashMap<(String, String), usize>,
}

fn read_ndjson(dir: &Path, resource_type: &str) -> Vec<Value> {
    let path = dir.join(format!("{resource_type}.ndjson"));
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let dir = template().join("demo-ndjson");
        let organizations = read_ndjson(&dir, "Organization")
            .into_iter()
            .map(|o| {
                let clues = o["identifier"][0]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (
                    o["id"].as_str().unwrap().to_string(),
                    (o["name"].as_str().unwrap().to_string(), clues),
                )
            })
            .collect();
        let mut encounter_orgs: HashMap<String, HashSet<String>> = HashMap::new();
        let mut resource_counts: HashMap<String, usize> = HashMap::new();
        let mut type_counts: HashMap<(String, String), usize> = HashMap::new();
        for resource_type in [
            "Encounter",
            "Condition",
            "Observation",
            "MedicationRequest",
            "Immunization",
            "AllergyIntolerance",
            "DiagnosticReport",
            "ServiceRequest",
        ] {
            for resource in read_ndjson(&dir, resource_type) {
                let subject = resource["subject"]["reference"]
                    .as_str()
                    .or_else(|| resource["patient"]["reference"].as_str())
                    .unwrap_or_default()
                    .trim_start_matches("Patient/")
                    .to_string();
                *resource_counts.entry(subject.clone()).or_default() += 1;
                *type_counts
                    .entry((subject.clone(), resource_type.to_string()))
                    .or_default() += 1;
                if resource_type == "Encounter"
                    && let Some(org) = resource["serviceProvider"]["reference"].as_str()
                {
                    encounter_orgs
                        .entry(subject)
                        .or_default()
                        .insert(org.trim_start_matches("Organization/").to_string());
                }
            }
        }
        Demo {
            patients: read_ndjson(&dir, "Patient"),
            organizations,
            encounter_orgs,
            resource_counts,
            type_counts,
        }
    })
}

impl Demo {
    /// How many resources of `resource_type` the demo wrote about the patient.
    pub fn count(&self, patient_id: &str, resource_type: &str) -> usize {
        self.type_counts
            .get(&(patient_id.to_string(), resource_type.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// The Organization id whose name the header shows.
    pub fn org_by_header(&self, header: &str) -> Option<String> {
        self.organizations
            .iter()
            .filter(|(_, (name, _))| header.contains(name.as_str()))
            .max_by_key(|(_, (name, _))| name.len())
            .map(|(id, _)| id.clone())
    }

    pub fn org_name(&self, id: &str) -> &str {
        &self.organizations[id].0
    }

    /// Patients with a CURP, managed at `org`, seen at two facilities or more.
    pub fn in_care_at_two_clinics(&self, org: &str) -> Vec<&Value> {
        self.patients
            .iter()
            .filter(|p| {
                curp(p).is_some()
                    && managing_org(p) == Some(org)
                    && self.encounter_orgs.get(id(p)).is_some_and(|o| o.len() >= 2)
            })
            .collect()
    }

    /// Patients with no tie to `org` (registered elsewhere, never seen there).
    pub fn outside_care(&self, org: &str) -> Vec<&Value> {
        self.patients
            .iter()
            .filter(|p| {
                managing_org(p).is_some_and(|m| m != org)
                    && !self
                        .encounter_orgs
                        .get(id(p))
                        .is_some_and(|o| o.contains(org))
            })
            .collect()
    }
}

pub fn id(patient: &Value) -> &str {
    patient["id"].as_str().unwrap()
}

pub fn curp(patient: &Value) -> Option<&str> {
    patient["identifier"]
        .as_array()?
        .iter()
        .find(|i| i["system"] == "urn:oid:2.16.840.1.113883.4.629")
        .and_then(|i| i["value"].as_str())
}

pub fn managing_org(patient: &Value) -> Option<&str> {
    patient["managingOrganization"]["reference"]
        .as_str()
        .map(|r| r.trim_start_matches("Organization/"))
}

/// (given, first surname, second surname) from the father's/mother's family extensions.
pub fn names(patient: &Value) -> (String, String, String) {
    let name = &patient["name"][0];
    let given = name["given"][0].as_str().unwrap().to_string();
    let extensions = name["_family"]["extension"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let part = |suffix: &str| {
        extensions
            .iter()
            .find(|e| e["url"].as_str().unwrap_or_default().ends_with(suffix))
            .and_then(|e| e["valueString"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let first = part("fathers-family");
    let first = if first.is_empty() {
        name["family"].as_str().unwrap().to_string()
    } else {
        first
    };
    (given, first, part("mothers-family"))
}

/// A bearer token for a demo account (through the OAuth2 token endpoint).
pub async fn token(ui: &Ui, user: &str) -> String {
    password_token(&ui.url(""), user, &password(user)).await
}

/// A bearer token for any account of the node at `base` (the OAuth2 password grant).
pub async fn password_token(base: &str, user: &str, password: &str) -> String {
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "password")
                .append_pair("username", user)
                .append_pair("password", password)
                .finish(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token for {user}: {token}"))
        .to_string()
}

/// GETs a FHIR path (`Composition?subject=…`) as the demo physician.
pub async fn fhir_get(ui: &Ui, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(ui.url(&format!("/fhir/{path}")))
        .bearer_auth(token(ui, "medica").await)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.text().await.unwrap()
    );
    response.json().await.unwrap()
}

/// The resources of a FHIR search (`Type?params`) as the demo physician (first page).
pub async fn fhir_search(ui: &Ui, path: &str) -> Vec<Value> {
    fhir_get(ui, path).await["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e["resource"].clone())
        .collect()
}

/// POSTs a FHIR resource to the node as the demo physician (signed in through the OAuth2
/// token endpoint); returns the created resource.
pub async fn fhir_create(ui: &Ui, resource: &Value) -> Value {
    let client = reqwest::Client::new();
    let bearer = token(ui, "medica").await;
    let response = client
        .post(ui.url(&format!(
            "/fhir/{}",
            resource["resourceType"].as_str().unwrap()
        )))
        .bearer_auth(bearer)
        .header("content-type", "application/fhir+json")
        .header("prefer", "return=representation")
        .body(resource.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    response.json().await.unwrap()
}

/// A FHIR dateTime `days` ago in Mexico time, from the test machine's clock.
pub fn time_of_days_ago(days: i64) -> String {
    web::dates::instant_mexico(now_ms() - days * 24 * 3600 * 1000)
}

/// Today's date in Mexico (`YYYY-MM-DD`).
pub fn today_iso() -> String {
    web::dates::iso(web::dates::today(now_ms()))
}

/// Today's date in Mexico as the UI shows it (`DD/MM/AAAA`).
pub fn today_display() -> String {
    web::dates::display(web::dates::today(now_ms()))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Registers a new patient at `organization` through FHIR (as the demo physician), so a test
/// starts from a record it fully knows; returns its id.
pub async fn new_patient(ui: &Ui, organization: &str, given: &str, family: &str) -> String {
    let patient = fhir_create(
        ui,
        &json!({
            "resourceType": "Patient",
            "name": [{"use": "official", "family": family, "given": [given]}],
            "gender": "female",
            "birthDate": "1968-05-14",
            "managingOrganization": {"reference": format!("Organization/{organization}")}
        }),
    )
    .await;
    patient["id"].as_str().unwrap().to_string()
}

/// `method path` through the FHIR API with `token`; the JSON answer (a failure fails the test).
pub async fn api(
    ui: &Ui,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut request = reqwest::Client::new()
        .request(method, ui.url(&format!("/fhir/{path}")))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/fhir+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}
