//! The security suite of issue 12, classes 5–7, through the doors an attacker uses: real HTTP
//! against the real binary (and its CLI), with the web UI driven as a browser would (cookies,
//! hidden fields, `Origin`). Resource exhaustion before authentication (gzip bombs, measured in
//! the server process's memory; sign-in bursts), the sign-in throttle without lockout, user-name
//! enumeration, CSRF on every form, open redirects, sessions that end at a reset, UI sessions
//! that are no API credential, and owner-only files.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::security::run_cli_stdin;
use crate::support::*;

const PASSWORD: &str = "Clave-de-prueba-2026";
const CLUES: &str = "DFSSA001234";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The node's origin (`http://127.0.0.1:PORT`).
fn origin(node: &Node) -> String {
    node.base
        .trim_end_matches('/')
        .trim_end_matches("/fhir")
        .to_string()
}

fn at(node: &Node, path: &str) -> String {
    format!("{}/{}", origin(node), path.trim_start_matches('/'))
}

/// Creates a person's account with password [`PASSWORD`] (Argon2id at the production cost).
fn add_account(data: &Path, user: &str, role: &str) {
    let data = data.to_str().unwrap();
    let mut args = vec![
        "user",
        "add",
        "--data",
        data,
        "--username",
        user,
        "--role",
        role,
        "--password-stdin",
    ];
    if matches!(role, "physician" | "nurse" | "receptionist") {
        args.extend_from_slice(&["--clues", CLUES]);
    }
    let (code, _, err) = run_cli_stdin(&args, PASSWORD);
    assert_eq!(code, 0, "user add {user}: {err}");
}

/// A node over a fresh data directory, with accounts.
fn node_with_accounts(accounts: &[(&str, &str)]) -> (Node, PathBuf, tempfile::TempDir) {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    prepare_access(&data);
    for (user, role) in accounts {
        add_account(&data, user, role);
    }
    let node = Node::start_in(&data);
    (node, data, temp)
}

/// A value from `/proc/PID/status` in KiB (`VmHWM`: the peak resident set; `VmRSS`: now).
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// A gzip body that decompresses to `mib` MiB of the letter `a` (about 1 KB per MiB).
fn gzip_bomb(mib: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..mib {
        encoder.write_all(&chunk).unwrap();
    }
    encoder.finish().unwrap()
}

/// Sends a gzip-encoded body and returns (status, body); a connection the server closes while
/// refusing counts as a refusal (status 0).
fn post_gzip(url: &str, content_type: &str, body: Vec<u8>, bearer: Option<&str>) -> (u16, String) {
    let mut request = anonymous_client()
        .post(url)
        .header("content-type", content_type)
        .header("content-encoding", "gzip")
        .body(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    match request.send() {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().unwrap_or_default())
        }
        Err(_) => (0, String::new()),
    }
}

/// `POST /auth/token` with the password grant, from an optional local address.
fn token_request(node: &Node, from: Option<IpAddr>, user: &str, password: &str) -> Reply {
    let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120));
    if let Some(ip) = from {
        builder = builder.local_address(ip);
    }
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", user)
        .append_pair("password", password)
        .finish();
    reply(
        builder
            .build()
            .unwrap()
            .post(at(node, "auth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap(),
    )
}

/// A page as a browser receives it.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) status: u16,
    pub(crate) location: String,
    pub(crate) body: String,
}

/// A browser without JavaScript: keeps cookies, follows no redirects by itself, sends forms
/// with their hidden fields and the `Origin` it would send.
pub(crate) struct Browser {
    client: reqwest::blocking::Client,
    origin: String,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Browser {
    pub(crate) fn new(node: &Node) -> Browser {
        Browser::from_address(node, None)
    }

    /// A browser for the node at `origin` (`http://127.0.0.1:PORT`), for tests that start
    /// nodes without [`Node`].
    pub(crate) fn at_origin(origin: &str) -> Browser {
        Browser {
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(120))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            origin: origin.trim_end_matches('/').to_string(),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    fn from_address(node: &Node, from: Option<IpAddr>) -> Browser {
        let mut builder = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ip) = from {
            builder = builder.local_address(ip);
        }
        Browser {
            client: builder.build().unwrap(),
            origin: origin(node),
            cookies: Mutex::new(BTreeMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    fn page(&self, response: reqwest::blocking::Response) -> Page {
        let mut cookies = self.cookies.lock().unwrap();
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_string(), value.to_string());
            }
        }
        drop(cookies);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Page {
            status,
            location,
            body: response.text().unwrap_or_default(),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Page {
        let response = self
            .client
            .get(format!("{}{path}", self.origin))
            .header("cookie", self.cookie_header())
            .send()
            .unwrap();
        self.page(response)
    }

    /// Posts a form as the browser would: fields in order, `Origin` of the node.
    pub(crate) fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[("origin", &self.origin.clone())])
    }

    fn post_with(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            body.append_pair(name, value);
        }
        let mut request = self
            .client
            .post(format!("{}{path}", self.origin))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.finish());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.page(request.send().unwrap())
    }

    /// Signs in through the sign-in form (its hidden token included, when the page has one).
    pub(crate) fn sign_in(&self, user: &str, password: &str, next: &str) -> Page {
        let form = self.get("/ui/entrar");
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = hidden_csrf(&form.body);
        self.post(
            "/ui/entrar",
            &[
                ("csrf", csrf.as_str()),
                ("user", user),
                ("password", password),
                ("next", next),
            ],
        )
    }

    /// The session's CSRF token, as the pages carry it.
    pub(crate) fn csrf(&self) -> String {
        hidden_csrf(&self.get("/ui/buscar").body)
    }
}

/// The value of the first hidden `csrf` field of a page (empty if there is none).
fn hidden_csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// The session cookie's value, whatever the cookie is called.
fn session_secret(browser: &Browser) -> String {
    browser
        .cookie("expediente_sesion")
        .or_else(|| browser.cookie("__Host-expediente_sesion"))
        .expect("signed in: a session cookie")
}

/// An address on the loopback network other than 127.0.0.1 (Linux routes all of 127/8 to `lo`).
fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

// ---------------------------------------------------------------------------------------------
// Class 5: resource exhaustion before authentication
// ---------------------------------------------------------------------------------------------

/// Memory a request may add to the server's peak resident set: far above what a refused body
/// needs (16 KiB read, plus buffers), far below the gigabyte an unbounded one took.
const BODY_GROWTH_KIB_MAX: u64 = 64 * 1024;

/// Issue 12, class 5: a 510 KB gzip bomb to `POST /auth/token` (about half a gigabyte once
/// inflated) is refused with 413 and does not grow the server: its peak resident set
/// (`VmHWM`) stays within [`BODY_GROWTH_KIB_MAX`]. The same for `/auth/revoke` and `/fhir`.
#[test]
fn a_gzip_bomb_before_authentication_is_refused_without_growing_the_server() {
    let (node, _data, _temp) = node_with_accounts(&[]);
    let pid = node.child.id();
    let bomb = gzip_bomb(510);
    assert!(
        (400_000..620_000).contains(&bomb.len()),
        "a bomb of about 510 KB: {}",
        bomb.len()
    );
    // Warm up: the first requests allocate the server's pools.
    assert_eq!(get(&node, "metadata").status, 200);
    let before = memory_kib(pid, "VmHWM");
    let (status, body) = post_gzip(
        &at(&node, "auth/token"),
        "application/x-www-form-urlencoded",
        bomb.clone(),
        None,
    );
    let after = memory_kib(pid, "VmHWM");
    assert!(
        after.saturating_sub(before) < BODY_GROWTH_KIB_MAX,
        "the token endpoint's bomb grew the server's peak memory from {before} KiB to {after} KiB"
    );
    assert!(matches!(status, 413 | 0), "{status}: {body}");
    if status == 413 {
        let outcome: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(outcome["resourceType"], "OperationOutcome", "{body}");
        assert_eq!(outcome["issue"][0]["code"], "too-long");
    }
    // The other routes answering before (or without) authentication, and a FHIR write.
    for (path, content_type, bearer) in [
        ("auth/revoke", "application/x-www-form-urlencoded", None),
        ("fhir/Patient", "application/fhir+json", Some(test_token())),
        ("fhir", "application/fhir+json", Some(test_token())),
    ] {
        let before = memory_kib(pid, "VmHWM");
        let (status, body) = post_gzip(&at(&node, path), content_type, bomb.clone(), bearer);
        let after = memory_kib(pid, "VmHWM");
        assert!(
            after.saturating_sub(before) < BODY_GROWTH_KIB_MAX,
            "{path}: peak memory from {before} KiB to {after} KiB"
        );
        assert!(
            status == 0 || (400..500).contains(&status),
            "{path}: {status} {body}"
        );
    }
    // A large FHIR body (not a bomb) is bounded too: 413 as an OperationOutcome.
    let big = gzip_bomb(24);
    let (status, body) = post_gzip(
        &at(&node, "fhir/Patient"),
        "application/fhir+json",
        big,
        Some(test_token()),
    );
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("OperationOutcome") && body.contains("excede el límite"));
    // The node keeps serving.
    assert_eq!(get(&node, "metadata").status, 200);
}

/// Issue 12, class 5: web forms are bounded too, before anything parses them (a plain error
/// page, 413), and so is `/sync` on a hub (its own 8 MiB bound; `Content-Encoding` is not
/// inflated there).
#[test]
fn web_forms_and_sync_bodies_are_bounded() {
    let (node, _data, _temp) = node_with_accounts(&[]);
    let pid = node.child.id();
    let browser = Browser::new(&node);
    let form = browser.get("/ui/entrar");
    let csrf = hidden_csrf(&form.body);
    // Just past the bound (the kernel takes it all, so the client hears the answer).
    let huge = "a".repeat(300 * 1024);
    let before = memory_kib(pid, "VmHWM");
    let refused = browser.post(
        "/ui/entrar",
        &[("csrf", csrf.as_str()), ("user", &huge), ("password", "x")],
    );
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert!(refused.body.contains("<html") && refused.body.contains("excede el límite"));
    let (status, _) = post_gzip(
        &at(&node, "ui/entrar"),
        "application/x-www-form-urlencoded",
        gzip_bomb(510),
        None,
    );
    assert!(status == 0 || (400..500).contains(&status), "{status}");
    let after = memory_kib(pid, "VmHWM");
    assert!(after.saturating_sub(before) < BODY_GROWTH_KIB_MAX);
    drop(node);

    let temp = tempfile::tempdir().unwrap();
    let hub = Node::start_with(&temp.path().join("hub"), &["--role", "hub"]);
    let pid = hub.child.id();
    let before = memory_kib(pid, "VmHWM");
    let oversized = reqwest::blocking::Client::new()
        .post(at(&hub, "sync/push"))
        .header("content-type", "application/x-expediente-sync")
        .body(vec![0u8; 9 * 1024 * 1024])
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert!(matches!(oversized, 413 | 0), "{oversized}");
    let (status, _) = post_gzip(
        &at(&hub, "sync/push"),
        "application/x-expediente-sync",
        gzip_bomb(510),
        None,
    );
    assert!(status == 0 || (400..500).contains(&status), "{status}");
    let after = memory_kib(pid, "VmHWM");
    assert!(
        after.saturating_sub(before) < BODY_GROWTH_KIB_MAX,
        "/sync: peak memory from {before} KiB to {after} KiB"
    );
}

/// Password checks the node runs at once (as `ehr` computes it on this machine).
fn hash_permits() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    (cores / 2).clamp(1, ehr::PASSWORD_HASHES_CONCURRENT_MAX)
}

/// Fires `count` requests at once (each built by `request`), counting those answered in
/// `done`; returns their statuses when all are answered.
fn burst(
    count: usize,
    done: &Arc<AtomicUsize>,
    request: impl Fn() -> reqwest::blocking::RequestBuilder + Send + Sync + 'static,
) -> impl FnOnce() -> Vec<u16> {
    let start = Arc::new(Barrier::new(count + 1));
    let request = Arc::new(request);
    let threads: Vec<_> = (0..count)
        .map(|_| {
            let (done, start, request) = (done.clone(), start.clone(), request.clone());
            std::thread::spawn(move || {
                let request = request();
                start.wait();
                let status = request.send().map_or(0, |r| r.status().as_u16());
                done.fetch_add(1, Ordering::SeqCst);
                status
            })
        })
        .collect();
    start.wait();
    move || threads.into_iter().map(|t| t.join().unwrap()).collect()
}

/// Issue 12, class 5: password checks run off the async workers, a few at a time.
/// - While 40 sign-ins through the web form are being checked (each an Argon2id hash at the
///   production cost, queued behind [`hash_permits`] at once), an unrelated request is
///   answered at once: no more sign-ins finish while it is in flight than the node checks at a
///   time, and most are still waiting when it is answered. Ordering, not a stopwatch. When
///   the hashes ran on the async workers, the health check waited while a dozen finished.
/// - 40 sign-ins at once through the API add at most a few hashes' memory (19 MiB each) to
///   the server's peak: they are not all computed at once.
#[test]
fn forty_concurrent_sign_ins_do_not_stall_an_unrelated_request() {
    let (node, _data, _temp) = node_with_accounts(&[("medica", "physician")]);
    const SIGN_INS: usize = 40;
    // One sign-in page (cookie and token) serves every attempt: the token is bound to the
    // cookie, not used up.
    let template = Browser::new(&node);
    let csrf = hidden_csrf(&template.get("/ui/entrar").body);
    let cookies = template.cookie_header();
    let base = origin(&node);
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("user", "medica")
        .append_pair("password", PASSWORD)
        .append_pair("next", "/ui/buscar")
        .finish();
    let done = Arc::new(AtomicUsize::new(0));
    let url = format!("{base}/ui/entrar");
    let join = burst(SIGN_INS, &done, move || {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(600))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(&url)
            .header("cookie", &cookies)
            .header("origin", &base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
    });
    // Once the first sign-in is through, the node is busy with the other 39.
    let waited = Instant::now();
    while done.load(Ordering::SeqCst) == 0 {
        assert!(
            waited.elapsed() < Duration::from_secs(300),
            "no sign-in ever finished"
        );
        std::thread::yield_now();
    }
    // The client is built before the window opens, so the window holds only the request.
    let client = anonymous_client();
    let before = done.load(Ordering::SeqCst);
    let health = client.get(at(&node, "healthz")).send().unwrap();
    let after = done.load(Ordering::SeqCst);
    assert_eq!(health.status().as_u16(), 200);
    let statuses = join();
    assert!(
        statuses.iter().all(|s| *s == 303),
        "every sign-in succeeds: {statuses:?}"
    );
    // A batch that was almost done when the window opened, and the next one, may finish while
    // the request is in flight on a loaded machine; queued behind the hashes it would wait for
    // most of the 40.
    assert!(
        after - before <= 2 * hash_permits() + 1,
        "{} sign-ins finished while the health check waited (the node checks {} at a time)",
        after - before,
        hash_permits()
    );
    assert!(
        after <= SIGN_INS / 2,
        "the health check was answered after {after} of {SIGN_INS} sign-ins"
    );

    // The API: 40 at once, and the server's peak memory.
    let pid = node.child.id();
    let peak_before = memory_kib(pid, "VmHWM");
    let done = Arc::new(AtomicUsize::new(0));
    let url = at(&node, "auth/token");
    let join = burst(SIGN_INS, &done, move || {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "password")
            .append_pair("username", "medica")
            .append_pair("password", PASSWORD)
            .finish();
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    });
    let statuses = join();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let peak_after = memory_kib(pid, "VmHWM");
    // Each check holds 19 MiB; allow the permits' worth and as much again.
    let allowed_kib = 2 * hash_permits() as u64 * 19 * 1024 + BODY_GROWTH_KIB_MAX;
    assert!(
        peak_after.saturating_sub(peak_before) < allowed_kib,
        "40 sign-ins at once grew the peak from {peak_before} KiB to {peak_after} KiB"
    );
}

// ---------------------------------------------------------------------------------------------
// Class 6: sign-in
// ---------------------------------------------------------------------------------------------

/// Issue 12, class 6: the web sign-in has the API's per-address throttle — the same one: an
/// address spraying passwords over many names through the form is refused (429) after a
/// burst, and so is its next API attempt, while other addresses are not; the audit trail
/// records the form's sign-ins with the client's address.
#[test]
fn web_sign_in_is_throttled_per_address_with_the_api_and_audited_with_the_address() {
    let (node, data, _temp) =
        node_with_accounts(&[("medica", "physician"), ("auditora", "auditor")]);
    let browser = Browser::new(&node);
    let ok = browser.sign_in("medica", PASSWORD, "/ui/buscar");
    assert_eq!(ok.status, 303, "{}", ok.body);
    // Spraying from 127.0.0.3: one guess per name, so no name's own delay is in play.
    let sprayer = Browser::from_address(&node, Some(loopback(3)));
    let mut statuses = Vec::new();
    for i in 0..30 {
        let page = sprayer.sign_in(&format!("usuario{i}"), "Adivinanza-2026", "/ui/buscar");
        statuses.push(page.status);
    }
    // 20 failures in a burst, then one every 6 s: while each check takes well under 6 s the
    // bucket runs dry within a few more.
    assert!(
        statuses[..20].iter().all(|s| *s == 401),
        "a burst of typos passes: {statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 401).count() <= 26,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // The same address through the API: the same bucket.
    let api = token_request(&node, Some(loopback(3)), "otro", "Adivinanza-2026");
    assert_eq!(api.status, 429, "{}", api.text);
    assert!(api.header("retry-after").is_some());
    // Another address is not affected, and the owner still signs in.
    let api = token_request(&node, Some(loopback(4)), "medica", PASSWORD);
    assert_eq!(api.status, 200, "{}", api.text);
    // The auditor sees the form's sign-in with its address.
    let (code, out, err) = run_cli(&[
        "token",
        "issue",
        "--data",
        data.to_str().unwrap(),
        "--user",
        "auditora",
        "--role",
        "auditor",
    ]);
    assert_eq!(code, 0, "{err}");
    let auditor = out.lines().last().unwrap().trim().to_string();
    let events = reply(
        anonymous_client()
            .get(at(
                &node,
                "fhir/AuditEvent?agent=medica&action=login&_count=50",
            ))
            .bearer_auth(&auditor)
            .send()
            .unwrap(),
    );
    assert_eq!(events.status, 200, "{}", events.text);
    let addresses: Vec<String> = events.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["resource"]["agent"][0]["network"]["address"].as_str())
        .map(str::to_string)
        .collect();
    assert!(
        addresses.iter().any(|a| a == "127.0.0.1"),
        "the web sign-in is audited with its address: {addresses:?} in {}",
        events.text
    );
    let failed = reply(
        anonymous_client()
            .get(at(&node, "fhir/AuditEvent?agent=usuario0&_count=5"))
            .bearer_auth(&auditor)
            .send()
            .unwrap(),
    );
    assert!(failed.text.contains("127.0.0.3"), "{}", failed.text);
}

/// Issue 12, class 6: known and unknown user names answer alike — the same status and words
/// at every step, into the delays — through the API and the form; and the same timing class:
/// every path checks one Argon2id hash (an account without a password included), so none is
/// an order of magnitude faster than another.
#[test]
fn known_and_unknown_user_names_answer_alike() {
    let (node, data, _temp) = node_with_accounts(&[("medica", "physician")]);
    // A system account without a password (client credentials only).
    let (code, _, err) = run_cli(&[
        "user",
        "add",
        "--data",
        data.to_str().unwrap(),
        "--username",
        "laboratorio",
        "--role",
        "system",
    ]);
    assert_eq!(code, 0, "{err}");
    // API: each name from its own address, so only the name's own counts are in play.
    let mut answers: Vec<Vec<(u16, String)>> = Vec::new();
    let mut times: Vec<Duration> = Vec::new();
    for (i, name) in ["medica", "fantasma", "laboratorio"].iter().enumerate() {
        let from = Some(loopback(10 + i as u8));
        let mut seen = Vec::new();
        let mut fastest = Duration::MAX;
        for _ in 0..6 {
            let started = Instant::now();
            let answer = token_request(&node, from, name, "Clave-equivocada-1");
            let took = started.elapsed();
            if answer.status == 401 {
                fastest = fastest.min(took);
            }
            // The wait in the message depends on the count only; keep the words.
            seen.push((answer.status, answer.body["error_description"].to_string()));
        }
        answers.push(seen);
        times.push(fastest);
    }
    assert_eq!(answers[0], answers[1], "known vs unknown");
    assert_eq!(
        answers[0], answers[2],
        "person vs passwordless system account"
    );
    assert!(answers[0].iter().any(|(status, _)| *status == 429));
    // Timing class: every failure checks one hash; a path without one would be 10× faster.
    let slowest = times.iter().max().unwrap();
    let fastest = times.iter().min().unwrap();
    assert!(
        *fastest * 4 > *slowest,
        "failed sign-ins take alike: {times:?}"
    );
    // The form: the same words and status for a known and an unknown name.
    let known = Browser::from_address(&node, Some(loopback(20))).sign_in(
        "medica",
        "Clave-equivocada-1",
        "/ui/buscar",
    );
    let unknown = Browser::from_address(&node, Some(loopback(21))).sign_in(
        "fantasma",
        "Clave-equivocada-1",
        "/ui/buscar",
    );
    assert_eq!(known.status, 401);
    assert_eq!(unknown.status, known.status);
    let message = |page: &Page| {
        page.body
            .split("role=\"alert\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(message(&known), message(&unknown));
    assert!(message(&known).contains("Usuario o contraseña incorrectos"));
}

/// Issue 12, class 6: no lockout that anyone can trigger. Forty failed guesses at a
/// clinician's account spread over forty addresses are slowed down (the account's delay), yet
/// the clinician signs in at once from the address they use, with no administrator.
#[test]
fn failed_guesses_from_elsewhere_never_lock_the_owner_out() {
    let (node, _data, _temp) = node_with_accounts(&[("medica", "physician")]);
    let owner = token_request(&node, None, "medica", PASSWORD);
    assert_eq!(owner.status, 200, "{}", owner.text);
    // Guesses from ever new addresses, each waiting out the delay it is told, until 14 have
    // been checked: the account's delay is then 8 s (ACCOUNT_CURVE), long enough to look at.
    let mut statuses = Vec::new();
    let mut checked = 0;
    let mut address = 100u8;
    while checked < 14 {
        assert!(address < 250, "{statuses:?}");
        let answer = token_request(&node, Some(loopback(address)), "medica", "Adivinanza-2026");
        address += 1;
        statuses.push(answer.status);
        match answer.status {
            401 => checked += 1,
            429 => {
                let wait_s: u64 = answer
                    .header("retry-after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                std::thread::sleep(Duration::from_secs(wait_s));
            }
            other => panic!("{other}: {}", answer.text),
        }
    }
    assert!(
        statuses.contains(&429),
        "guesses from many addresses are slowed down: {statuses:?}"
    );
    // Even with the right password, a new address waits while the account is being guessed…
    let elsewhere = token_request(&node, Some(loopback(200)), "medica", PASSWORD);
    assert_eq!(elsewhere.status, 429, "{}", elsewhere.text);
    // …but the owner, where they signed in before, is in at once: no lock, no administrator.
    let owner = token_request(&node, None, "medica", PASSWORD);
    assert_eq!(owner.status, 200, "{}", owner.text);
    let web = Browser::new(&node).sign_in("medica", PASSWORD, "/ui/buscar");
    assert_eq!(web.status, 303, "{}", web.body);
}

/// Issue 12, class 6: `next` only ever leads to a page of this UI. Each variant goes through
/// the language switch, and a few through sign-in; the answer is a redirect to a local page.
#[test]
fn next_never_redirects_off_the_node() {
    let (node, _data, _temp) = node_with_accounts(&[("medica", "physician")]);
    let hostile = [
        "//evil.example/",
        "///evil.example/",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/%09/evil.example",
        "/%2F/evil.example",
        "/%2f%2fevil.example",
        "/%5Cevil.example",
        "/ui/%2F%2Fevil.example",
        "/ui/..%2F..%2F%2Fevil.example",
        "/%E3%80%80/evil.example",
        "javascript:alert(1)",
        "data:text/html,x",
        " //evil.example",
        "evil.example",
    ];
    let browser = Browser::new(&node);
    for next in hostile {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("lang", "en")
            .append_pair("next", next)
            .finish();
        let page = browser.get(&format!("/ui/idioma?{query}"));
        assert_eq!(page.status, 303, "{next:?}");
        assert_eq!(page.location, "/ui/buscar", "{next:?}");
    }
    for next in [
        "/\t/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
    ] {
        let page = Browser::new(&node).sign_in("medica", PASSWORD, next);
        assert_eq!(page.status, 303, "{next:?}: {}", page.body);
        assert_eq!(page.location, "/ui/buscar", "{next:?}");
    }
    // A page of the UI is kept, with its query.
    let page = Browser::new(&node).sign_in("medica", PASSWORD, "/ui/buscar?curp=X&lang=es");
    assert_eq!(page.location, "/ui/buscar?curp=X&lang=es");
}

/// Issue 12, class 6: the UI session is no API credential. Its cookie is an opaque secret
/// that `/fhir` refuses as a bearer token (and `/fhir` reads no cookies); the API's tokens
/// are not UI sessions either.
#[test]
fn the_session_cookie_is_not_an_api_token() {
    let (node, _data, _temp) = node_with_accounts(&[("medica", "physician")]);
    let browser = Browser::new(&node);
    assert_eq!(
        browser.sign_in("medica", PASSWORD, "/ui/buscar").status,
        303
    );
    assert_eq!(browser.get("/ui/buscar").status, 200);
    let secret = session_secret(&browser);
    assert_eq!(secret.matches('.').count(), 0, "not a JWT: {secret}");
    let as_bearer = reply(
        anonymous_client()
            .get(at(&node, "fhir/Patient?_count=1"))
            .bearer_auth(&secret)
            .send()
            .unwrap(),
    );
    assert_eq!(as_bearer.status, 401, "{}", as_bearer.text);
    let as_cookie = reply(
        anonymous_client()
            .get(at(&node, "fhir/Patient?_count=1"))
            .header("cookie", browser.cookie_header())
            .send()
            .unwrap(),
    );
    assert_eq!(as_cookie.status, 401, "{}", as_cookie.text);
    // An API token in the session cookie opens no UI session.
    let token = token_request(&node, None, "medica", PASSWORD);
    let access = token.body["access_token"].as_str().unwrap();
    let page = anonymous_client_no_redirect()
        .get(at(&node, "ui/buscar"))
        .header("cookie", format!("expediente_sesion={access}"))
        .send()
        .unwrap();
    assert_eq!(page.status().as_u16(), 303);
}

fn anonymous_client_no_redirect() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Issue 12, class 6: `expediente user reset-password` and `user disable`, run beside the
/// server, end the user's open UI sessions at once and their API tokens within the second
/// the API trusts a token's account state; other users keep theirs.
#[test]
fn a_password_reset_or_a_disable_ends_open_sessions_and_tokens() {
    let (node, data, _temp) =
        node_with_accounts(&[("medica", "physician"), ("enfermero", "nurse")]);
    let data_text = data.to_str().unwrap();
    let medica = Browser::new(&node);
    assert_eq!(medica.sign_in("medica", PASSWORD, "/ui/buscar").status, 303);
    let enfermero = Browser::new(&node);
    assert_eq!(
        enfermero
            .sign_in("enfermero", PASSWORD, "/ui/buscar")
            .status,
        303
    );
    let token = token_request(&node, None, "medica", PASSWORD);
    let token = token.body["access_token"].as_str().unwrap().to_string();
    let api = |token: &str| {
        reply(
            anonymous_client()
                .get(at(&node, "fhir/Patient?_count=1"))
                .bearer_auth(token)
                .send()
                .unwrap(),
        )
        .status
    };
    assert_eq!(api(&token), 200);
    assert_eq!(medica.get("/ui/buscar").status, 200);
    let (code, _, err) = run_cli_stdin(
        &[
            "user",
            "reset-password",
            "--data",
            data_text,
            "--username",
            "medica",
        ],
        "Nueva-clave-segura-2027",
    );
    assert_eq!(code, 0, "{err}");
    // The UI session is over at once (within the node's 5 ms reuse of a read snapshot when
    // another process commits).
    let deadline = Instant::now() + Duration::from_secs(1);
    let page = loop {
        let page = medica.get("/ui/buscar");
        if page.status != 200 || Instant::now() > deadline {
            break page;
        }
    };
    assert_eq!(page.status, 303);
    assert!(page.location.starts_with("/ui/entrar"), "{}", page.location);
    // The API token within the API's one-second trust of account state.
    let deadline = Instant::now() + Duration::from_secs(10);
    while api(&token) != 401 {
        assert!(Instant::now() < deadline, "the token outlived the reset");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Another user's session is untouched; the new password works.
    assert_eq!(enfermero.get("/ui/buscar").status, 200);
    assert_eq!(
        Browser::new(&node)
            .sign_in("medica", "Nueva-clave-segura-2027", "/ui/buscar")
            .status,
        303
    );
    // A disable ends the other user's session, and a token issued before it, for good: an
    // enable does not bring them back.
    let token = token_request(&node, None, "enfermero", PASSWORD);
    let token = token.body["access_token"].as_str().unwrap().to_string();
    for command in ["disable", "enable"] {
        let (code, _, err) = run_cli(&[
            "user",
            command,
            "--data",
            data_text,
            "--username",
            "enfermero",
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while enfermero.get("/ui/buscar").status == 200 {
        assert!(
            Instant::now() < deadline,
            "the session outlived the disable"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while api(&token) != 401 {
        assert!(Instant::now() < deadline, "the token outlived the disable");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// Class 6: CSRF on every form
// ---------------------------------------------------------------------------------------------

/// The POST routes the UI router declares, read from its source: a new one must show up in the
/// walk below (it must be served in some form), or this test fails.
fn declared_post_routes() -> Vec<String> {
    let source = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/src/lib.rs"),
    )
    .unwrap();
    let mut routes = Vec::new();
    for chunk in source.split(".route(").skip(1) {
        let Some(path) = chunk.split('"').nth(1) else {
            continue;
        };
        let call = chunk.split(".route(").next().unwrap_or_default();
        let handlers = call.split_once(',').map_or("", |(_, rest)| rest);
        if handlers.contains("post(") {
            routes.push(path.to_string());
        }
    }
    routes
}

/// Whether a form's action is an instance of a route pattern (`{id}` matches one segment).
fn matches_route(action: &str, route: &str) -> bool {
    let action: Vec<&str> = action.split('?').next().unwrap().split('/').collect();
    let route: Vec<&str> = route.split('/').collect();
    action.len() == route.len()
        && action
            .iter()
            .zip(&route)
            .all(|(a, r)| (r.starts_with('{') && !a.is_empty()) || a == r)
}

/// Every `<form method="post">` of a page: (action, whole form text).
fn post_forms(html: &str) -> Vec<(String, String)> {
    html.split("<form")
        .skip(1)
        .filter_map(|rest| {
            let form = rest.split("</form>").next().unwrap_or_default();
            let tag = form.split('>').next().unwrap_or_default();
            if !tag.contains("method=\"post\"") {
                return None;
            }
            let action = tag
                .split("action=\"")
                .nth(1)?
                .split('"')
                .next()?
                .to_string();
            Some((action, form.to_string()))
        })
        .collect()
}

/// Links to follow from a page (UI pages only, minus the language switch).
fn ui_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
        .filter(|href| href.starts_with("/ui/") && !href.starts_with("/ui/idioma"))
        .collect()
}

/// A demo node (synthetic population, the demo's accounts) for walking the UI.
fn demo_node() -> (Node, PathBuf, tempfile::TempDir) {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("demo");
    let (code, _, err) = run_cli(&[
        "demo",
        "--no-serve",
        "--patients",
        "80",
        "--clinics",
        "2",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "demo: {err}");
    let node = Node::start_in(&data);
    (node, data, temp)
}

fn demo_password(data: &Path, user: &str) -> String {
    std::fs::read_to_string(data.join("cuentas-demo.txt"))
        .unwrap()
        .lines()
        .find(|l| l.split_whitespace().next() == Some(user))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_string()
}

/// Issue 12, class 6: every form the UI serves carries the session's CSRF token (the sign-in
/// form, its pre-session's), and every POST route refuses a post without it or from another
/// origin. The walk follows the UI's links from the search page and a patient's chart (with a
/// note and a referral written through the UI first), and must meet a form for every POST
/// route the router declares.
#[test]
fn every_form_carries_the_token_and_every_post_checks_it() {
    let (node, data, _temp) = demo_node();
    let routes = declared_post_routes();
    assert!(routes.len() >= 8, "{routes:?}");
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    // Before sign-in: the sign-in form.
    let anonymous = Browser::new(&node);
    let login = anonymous.get("/ui/entrar");
    for (action, form) in post_forms(&login.body) {
        let token = hidden_csrf(&form);
        assert!(token.len() >= 32, "{action}: {form}");
        found.insert(action, form);
    }
    // Signed in as the demo physician.
    let browser = Browser::new(&node);
    let signed = browser.sign_in("medica", &demo_password(&data, "medica"), "/ui/buscar");
    assert_eq!(signed.status, 303, "{}", signed.body);
    let csrf = browser.csrf();
    assert!(csrf.len() >= 32);
    // The SMART authorization pages (issue 18) of a registered app: its sign-in form before a
    // session, its consent form with one.
    let (code, _, err) = run_cli(&[
        "app",
        "add",
        "--data",
        data.to_str().unwrap(),
        "--client-id",
        "app-formularios",
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
        "--public",
    ]);
    assert_eq!(code, 0, "{err}");
    let authorize = format!(
        "/auth/authorize?response_type=code&client_id=app-formularios\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=user%2F*.rs&state=s\
         &code_challenge_method=S256&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
         &aud={}",
        form_urlencoded::byte_serialize(node.base.as_bytes()).collect::<String>()
    );
    for (action, form) in post_forms(&Browser::new(&node).get(&authorize).body) {
        assert!(hidden_csrf(&form).len() >= 32, "{action}: {form}");
        found.insert(action, form);
    }
    for (action, form) in post_forms(&browser.get(&authorize).body) {
        assert_eq!(
            hidden_csrf(&form),
            csrf,
            "the consent form carries the session's token"
        );
        found.entry(action).or_insert(form);
    }
    // A patient of the physician's clinic, and one of another clinic.
    let first = get(&node, "Patient?organization:missing=false&_count=1");
    let patient = first.body["entry"][0]["resource"].clone();
    let patient_id = patient["id"].as_str().unwrap().to_string();
    let clinic = patient["managingOrganization"]["reference"]
        .as_str()
        .unwrap()
        .to_string();
    let others = get(&node, "Patient?_count=200");
    let mut stranger = None;
    for entry in others.body["entry"].as_array().unwrap() {
        let candidate = &entry["resource"];
        if candidate["managingOrganization"]["reference"].as_str() == Some(clinic.as_str()) {
            continue;
        }
        let id = candidate["id"].as_str().unwrap();
        if browser.get(&format!("/ui/pacientes/{id}")).status == 403 {
            stranger = Some(id.to_string());
            break;
        }
    }
    let stranger = stranger.expect("a patient outside the physician's care");
    // A signed note and a referral, written through the UI, so their pages exist.
    let consult = browser.post(
        &format!("/ui/pacientes/{patient_id}/consulta"),
        &[
            ("csrf", csrf.as_str()),
            ("subjective", "Cefalea"),
            ("objective", "Sin hallazgos"),
            ("assessment", "Cefalea tensional"),
            ("dx_code", "G44.2"),
            ("plan", "Analgésico"),
            // A prescription, so that the medication screen has a drug to act on.
            ("rx_med_1", "010.000.0104.00"),
            ("rx_dose_1", "1"),
            ("rx_every_1", "8"),
            ("rx_days_1", "3"),
            ("action", "sign"),
        ],
    );
    assert_eq!(consult.status, 303, "{}", consult.body);
    let refer_form = browser.get(&format!("/ui/pacientes/{patient_id}/referencia"));
    let to = refer_form
        .body
        .split("<option value=\"Organization/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|id| format!("Organization/{id}"))
        .expect("a facility to refer to");
    let referred = browser.post(
        &format!("/ui/pacientes/{patient_id}/referencia"),
        &[
            ("csrf", csrf.as_str()),
            ("to", to.as_str()),
            ("reason", "Valoración"),
            ("dx_code", "I10"),
            ("treatment", ""),
            ("summary", "Resumen"),
        ],
    );
    assert_eq!(referred.status, 303, "{}", referred.body);
    // A booking for today, so that the day's agenda shows the forms of a booking (check-in,
    // cancel, no-show).
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let today = web::dates::iso(web::dates::today(now_ms));
    let booked = post(
        &node,
        "Appointment",
        &json!({
            "resourceType": "Appointment",
            "status": "booked",
            "start": format!("{today}T12:00:00-06:00"),
            "end": format!("{today}T12:20:00-06:00"),
            "participant": [{"actor": {"reference": format!("Patient/{patient_id}")}, "status": "accepted"}]
        }),
    );
    assert_eq!(booked.status, 201, "{}", booked.text);
    // The walk.
    // A walk-in through the UI, so that the day's queue shows the forms of a visit.
    let walked_in = browser.post(
        "/ui/fila/llegada",
        &[("csrf", csrf.as_str()), ("paciente", patient_id.as_str())],
    );
    assert_eq!(walked_in.status, 303, "{}", walked_in.body);
    let mut queue: VecDeque<String> = [
        "/ui/buscar".to_string(),
        "/ui/fila".to_string(),
        "/ui/referencias".to_string(),
        "/ui/pacientes/nuevo".to_string(),
        format!("/ui/pacientes/{patient_id}"),
        format!("/ui/pacientes/{stranger}"),
    ]
    .into();
    let mut seen = BTreeSet::new();
    let allowed = |path: &str| {
        path == "/ui/buscar"
            || path == "/ui/fila"
            || path == "/ui/referencias"
            || path == "/ui/pacientes/nuevo"
            || path.starts_with(&format!("/ui/pacientes/{patient_id}"))
            || path.starts_with(&format!("/ui/pacientes/{stranger}"))
    };
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) || seen.len() > 80 {
            continue;
        }
        let page = browser.get(&path);
        assert!(
            matches!(page.status, 200 | 403),
            "{path}: {} {}",
            page.status,
            page.body
        );
        for (action, form) in post_forms(&page.body) {
            assert_eq!(
                hidden_csrf(&form),
                csrf,
                "the form to {action} on {path} carries the session's token"
            );
            found.entry(action).or_insert(form);
        }
        for link in ui_links(&page.body) {
            if allowed(&link) && !seen.contains(&link) {
                queue.push_back(link);
            }
        }
    }
    for route in &routes {
        assert!(
            found.keys().any(|action| matches_route(action, route)),
            "no form was found for POST {route}; forms found: {:?}",
            found.keys().collect::<Vec<_>>()
        );
    }
    // Every form's action refuses a post without the token, with another session's token, and
    // from another origin with the right token. (Sign-out last: it ends the session.)
    let other = Browser::new(&node);
    assert_eq!(
        other
            .sign_in(
                "enfermero",
                &demo_password(&data, "enfermero"),
                "/ui/buscar"
            )
            .status,
        303
    );
    let other_csrf = other.csrf();
    let mut actions: Vec<&String> = found.keys().collect();
    actions.sort_by_key(|a| a.as_str() == "/ui/salir");
    for action in actions {
        for token in ["", other_csrf.as_str()] {
            let refused = browser.post(action, &[("csrf", token), ("reason", "x")]);
            assert_eq!(
                refused.status, 403,
                "POST {action} with token {token:?}: {}",
                refused.body
            );
        }
        for (name, value) in [
            ("origin", "http://evil.example"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
        ] {
            let refused = browser.post_with(
                action,
                &[("csrf", csrf.as_str()), ("reason", "x")],
                &[(name, value)],
            );
            assert_eq!(refused.status, 403, "POST {action} with {name}: {value}");
        }
    }
    // The session survived all of that (no refused post signed it out).
    assert_eq!(browser.get("/ui/buscar").status, 200);
}

// ---------------------------------------------------------------------------------------------
// Class 7: files at rest
// ---------------------------------------------------------------------------------------------

/// Every directory under `dir` (itself included) and every file: (path, mode bits).
fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = vec![(
        dir.to_path_buf(),
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
    )];
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(modes(&path));
        } else {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            out.push((path, mode));
        }
    }
    out
}

fn assert_owner_only(dir: &Path, when: &str) {
    let all = modes(dir);
    let wrong: Vec<String> = all
        .iter()
        .filter(|(path, mode)| {
            let wanted = if path.is_dir() { 0o700 } else { 0o600 };
            *mode != wanted
        })
        .map(|(path, mode)| format!("{} {mode:o}", path.display()))
        .collect();
    assert!(wrong.is_empty(), "{when}: not owner-only: {wrong:?}");
    assert!(all.len() > 1, "{when}: {all:?}");
}

/// Issue 12, class 7: the data directory is 0700 and every file the node creates is 0600 —
/// the database and its WAL/SHM, keys, the demo's accounts file, generated and imported
/// files — after `demo`, `user add`, `import` and while and after `serve` runs.
#[test]
fn data_directories_are_0700_and_every_file_0600() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("nodo");
    let (code, _, err) = run_cli(&[
        "demo",
        "--no-serve",
        "--patients",
        "20",
        "--clinics",
        "1",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_owner_only(&data, "after demo");
    // `user add` and `import` into a directory they create.
    let other = temp.path().join("otro").join("nodo");
    add_account(&other, "medica", "physician");
    let bundle = temp.path().join("paciente.json");
    std::fs::write(
        &bundle,
        json!({"resourceType": "Patient", "name": [{"family": "Pérez", "given": ["Ana"]}],
               "gender": "female", "birthDate": "1980-01-01"})
        .to_string(),
    )
    .unwrap();
    let (code, _, err) = run_cli(&[
        "import",
        "--data",
        other.to_str().unwrap(),
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_owner_only(&other, "after user add and import");
    // `serve` over the demo data: while it runs (WAL and SHM exist) and after.
    let mut node = Node::start_plain(&data, &[]);
    let signed =
        Browser::new(&node).sign_in("medica", &demo_password(&data, "medica"), "/ui/buscar");
    assert_eq!(signed.status, 303, "a write: the sign-in's audit entry");
    assert!(data.join("expediente.db-wal").exists());
    assert_owner_only(&data, "while serve runs");
    node.kill();
    assert_owner_only(&data, "after serve");
    // A fresh `serve` on a directory it creates (keys made by the node itself).
    let fresh = temp.path().join("nuevo");
    let node = Node::start_plain(&fresh, &[]);
    let metadata = anonymous_client().get(node.url("metadata")).send().unwrap();
    assert_eq!(metadata.status().as_u16(), 200);
    assert!(fresh.join("keys").join("token-ed25519.pk8").exists());
    assert_owner_only(&fresh, "serve on a new directory");
}
