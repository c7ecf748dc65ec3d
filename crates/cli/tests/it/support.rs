//! Starting nodes and talking to them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_expediente");

pub fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// A node process serving on a free loopback port; killed when dropped.
pub struct Node {
    pub child: Child,
    pub base: String,
    _temp: Option<tempfile::TempDir>,
}

impl Node {
    /// A fresh node with an empty data directory.
    pub fn start() -> Node {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("data");
        let mut node = Node::start_in(&data);
        node._temp = Some(temp);
        node
    }

    /// A node over an existing (or new) data directory.
    pub fn start_in(data: &Path) -> Node {
        Node::start_with(data, &[])
    }

    pub fn start_with(data: &Path, extra: &[&str]) -> Node {
        prepare_access(data);
        Node::start_plain(data, extra)
    }

    /// A node over `data` exactly as an operator starts it: without the suite's signing key
    /// and system account (nothing is written to `data` by the test process).
    pub fn start_plain(data: &Path, extra: &[&str]) -> Node {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let start = line.find("http").expect("the node prints its address");
        let base = line[start..].split_whitespace().next().unwrap().to_string();
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        Node {
            child,
            base,
            _temp: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Sends SIGKILL and waits: no chance to flush anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The test suite's system account: every node the tests start has it, and shares one
/// signing key, so one token (made once per test process) is accepted by all of them.
pub const TEST_USER: &str = "pruebas";

struct TestAccess {
    key_home: tempfile::TempDir,
    token: String,
}

fn test_access() -> &'static TestAccess {
    static ACCESS: std::sync::OnceLock<TestAccess> = std::sync::OnceLock::new();
    ACCESS.get_or_init(|| {
        let key_home = tempfile::tempdir().unwrap();
        let home = key_home.path().to_str().unwrap().to_string();
        let (code, _, err) = run_cli(&[
            "user",
            "add",
            "--data",
            &home,
            "--username",
            TEST_USER,
            "--role",
            "system",
        ]);
        assert_eq!(code, 0, "{err}");
        let (code, out, err) = run_cli(&[
            "token", "issue", "--data", &home, "--user", TEST_USER, "--role", "system", "--ttl",
            "8h",
        ]);
        assert_eq!(code, 0, "{err}");
        let token = out.lines().last().unwrap().trim().to_string();
        TestAccess { key_home, token }
    })
}

/// The bearer token every test request carries by default.
pub fn test_token() -> &'static str {
    &test_access().token
}

/// Gives a data directory the suite's signing key and system account (idempotent).
pub fn prepare_access(data: &Path) {
    let access = test_access();
    let keys = data.join("keys");
    if !keys.join("token-ed25519.pk8").exists() {
        // Owner-only, as the node itself creates them (it warns about anything wider).
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&keys)
            .unwrap();
        for file in ["token-ed25519.pk8", "token-ed25519.pub"] {
            let from = access.key_home.path().join("keys").join(file);
            if from.exists() {
                std::fs::copy(&from, keys.join(file)).unwrap();
            }
        }
    }
    let data_text = data.to_str().unwrap();
    let (code, out, err) = run_cli(&["user", "list", "--data", data_text]);
    assert_eq!(code, 0, "{err}");
    if !out.lines().any(|l| l.split('\t').next() == Some(TEST_USER)) {
        let (code, _, err) = run_cli(&[
            "user",
            "add",
            "--data",
            data_text,
            "--username",
            TEST_USER,
            "--role",
            "system",
        ]);
        assert_eq!(code, 0, "{err}");
    }
}

/// A client that sends the suite's system token (use `anonymous_client` to send none).
pub fn client() -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", test_token()).parse().unwrap(),
    );
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A client without credentials.
pub fn anonymous_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A response with its status, headers and JSON body.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The OperationOutcome diagnostics, joined, for error assertions.
    pub fn diagnostics(&self) -> String {
        self.body["issue"]
            .as_array()
            .map(|issues| {
                issues
                    .iter()
                    .filter_map(|i| i["diagnostics"].as_str())
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .unwrap_or_default()
    }
}

pub fn reply(response: reqwest::blocking::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

pub fn get(node: &Node, path: &str) -> Reply {
    reply(client().get(node.url(path)).send().unwrap())
}

pub fn send(node: &Node, method: &str, path: &str, body: &Value) -> Reply {
    send_with(node, method, path, body, &[])
}

pub fn send_with(
    node: &Node,
    method: &str,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client()
        .request(method, node.url(path))
        .header("content-type", "application/fhir+json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    reply(request.send().unwrap())
}

pub fn post(node: &Node, path: &str, body: &Value) -> Reply {
    send(node, "POST", path, body)
}

pub fn put(node: &Node, path: &str, body: &Value) -> Reply {
    send(node, "PUT", path, body)
}

pub fn delete(node: &Node, path: &str) -> Reply {
    reply(client().delete(node.url(path)).send().unwrap())
}

/// Runs the binary with arguments, returning (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN).args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A Mexican patient resource.
pub fn patient(given: &str, family: &str, birth_date: &str, gender: &str) -> Value {
    serde_json::json!({
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth_date
    })
}

/// Ids of the `match` entries of a searchset.
pub fn match_ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["search"]["mode"] == "match")
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The path (below `/fhir/`) of a Bundle's link with this relation (`next`, `previous`).
pub fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .and_then(|l| l["url"].as_str())
        .and_then(|url| url.split("/fhir/").nth(1))
        .map(str::to_string)
}
