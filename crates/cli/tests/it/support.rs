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
        let start = line.find("http://").expect("the node prints its address");
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

pub fn client() -> reqwest::blocking::Client {
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
