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

// ---------------------------------------------------------------------------------------------
// Engines (issue 14): the same tests on SQLite and on PostgreSQL
// ---------------------------------------------------------------------------------------------

/// Which engine this test process puts nodes on: `EXPEDIENTE_TEST_ENGINE=postgres` puts every
/// node on its own fresh PostgreSQL database (on the server `EXPEDIENTE_TEST_PG` names), except
/// clinics that sync with a hub (`--hub`): those stay on SQLite, as in the field;
/// `EXPEDIENTE_TEST_ENGINE=citus` does the same on the Citus cluster `EXPEDIENTE_TEST_CITUS`
/// names (issue 15: a database per node, on the coordinator and every worker). Default:
/// SQLite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    Citus,
}

pub fn engine() -> Engine {
    match std::env::var("EXPEDIENTE_TEST_ENGINE").as_deref() {
        Ok("postgres") | Ok("postgresql") => Engine::Postgres,
        Ok("citus") => Engine::Citus,
        Ok("sqlite") | Ok("") | Err(_) => Engine::Sqlite,
        Ok(other) => panic!("EXPEDIENTE_TEST_ENGINE={other}: use sqlite, postgres or citus"),
    }
}

/// What to run when PostgreSQL is missing: the tests fail with it, they never skip.
pub const POSTGRES_HOWTO: &str = "PostgreSQL 15 is needed: run ./test.sh (it installs and starts one), or \
     `scripts/postgres.sh install && export EXPEDIENTE_TEST_PG=$(scripts/postgres.sh start /tmp/expediente-pg 54329)`";

/// The admin URL of the test server (`postgres://postgres@127.0.0.1:54329/postgres`).
pub fn postgres_admin_url() -> String {
    match std::env::var("EXPEDIENTE_TEST_PG") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
        _ => panic!("EXPEDIENTE_TEST_PG is not set. {POSTGRES_HOWTO}"),
    }
}

/// The admin URL of the Citus coordinator (`EXPEDIENTE_TEST_CITUS`, which test.sh sets).
pub fn citus_admin_url() -> String {
    match std::env::var("EXPEDIENTE_TEST_CITUS") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
        _ => panic!(
            "EXPEDIENTE_TEST_CITUS is not set: run ./test.sh (it installs and starts a Citus \
             cluster), or ../shared/vendor/citus/install.sh && cluster.sh start DIR 54339 2 and \
             export EXPEDIENTE_TEST_CITUS=postgres://postgres@127.0.0.1:54339/postgres"
        ),
    }
}

/// Admin URLs of the Citus cluster's nodes: the coordinator first, then the workers.
fn citus_nodes() -> Vec<String> {
    let admin = citus_admin_url();
    let listed = psql(
        &admin,
        "SELECT nodename || ':' || nodeport FROM pg_dist_node \
         WHERE noderole = 'primary' AND groupid > 0 ORDER BY groupid",
    );
    let (scheme, rest) = admin.split_once("://").expect("a postgres:// URL");
    let user = rest.split_once('@').map_or("", |(user, _)| user);
    let mut nodes = vec![admin.clone()];
    for worker in listed.lines().filter(|l| !l.trim().is_empty()) {
        nodes.push(format!("{scheme}://{user}@{}/postgres", worker.trim()));
    }
    assert!(
        nodes.len() > 1,
        "the Citus cluster at {admin} has no workers"
    );
    nodes
}

/// Creates `name` on every node of the Citus cluster with the extension, the workers
/// registered in it (Citus keeps its node list per database); returns its URL.
fn create_citus_database(name: &str) -> String {
    let nodes = citus_nodes();
    for node in nodes.iter().rev() {
        psql(
            node,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
        psql(node, &format!("CREATE DATABASE {name}"));
        psql(&postgres_url_of(node, name), "CREATE EXTENSION citus");
    }
    let url = postgres_url_of(&nodes[0], name);
    let (_, rest) = nodes[0].split_once('@').expect("a user in the Citus URL");
    let coordinator = rest.split('/').next().unwrap_or(rest);
    let (host, port) = coordinator.rsplit_once(':').expect("host:port");
    psql(
        &url,
        &format!("SELECT citus_set_coordinator_host('{host}', {port})"),
    );
    for worker in &nodes[1..] {
        let (_, rest) = worker.split_once('@').expect("a user in the worker URL");
        let address = rest.split('/').next().unwrap_or(rest);
        let (host, port) = address.rsplit_once(':').expect("host:port");
        psql(&url, &format!("SELECT citus_add_node('{host}', {port})"));
    }
    // Four shards (two per worker) instead of the default 32: every distributed path is the
    // same, and a test database's migration and its cross-shard queries cost an eighth
    // (the suite creates one per node, ~100 on Citus). Production keeps the default
    // (ARCHITECTURE.md, "The hub on Citus").
    psql(
        &url,
        &format!("ALTER DATABASE {name} SET citus.shard_count = {TEST_SHARD_COUNT}"),
    );
    url
}

/// Shards per distributed table in the suite's Citus databases.
const TEST_SHARD_COUNT: u32 = 4;

/// `url` with its database name replaced by `database`.
pub fn postgres_url_of(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = base.split_once("://").expect("a postgres:// URL");
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}/{database}{query}")
}

/// Runs SQL on the test server as its admin (through `psql`, which PostgreSQL installs).
pub fn psql(url: &str, sql: &str) -> String {
    let program = psql_program();
    let output = Command::new(program)
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .unwrap_or_else(|err| panic!("cannot run {program} ({err}). {POSTGRES_HOWTO}"));
    assert!(
        output.status.success(),
        "psql {sql:?} on {url} failed: {}. {POSTGRES_HOWTO}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn psql_program() -> &'static str {
    ["/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("psql")
}

/// Where each data directory's store lives in this test process: `Some(url)` on PostgreSQL,
/// `None` on SQLite. A node restarted over the same directory finds the same database.
fn placements() -> &'static std::sync::Mutex<std::collections::HashMap<PathBuf, Option<String>>> {
    static PLACEMENTS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, Option<String>>>,
    > = std::sync::OnceLock::new();
    PLACEMENTS.get_or_init(Default::default)
}

/// A database name for `data`, unique to this directory.
fn database_name(data: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut hasher);
    std::process::id().hash(&mut hasher);
    format!("expediente_test_{:016x}", hasher.finish())
}

/// The PostgreSQL database of `data` (created fresh the first time), or `None` when this
/// directory's store is SQLite. `clinic_with_hub`: a clinic that syncs, which stays on SQLite.
pub fn placement(data: &Path, clinic_with_hub: bool) -> Option<String> {
    let mut placements = placements().lock().unwrap();
    // A test's own server (`place_on`) first, whatever the suite's engine.
    if let Some(placed) = placements.get(data) {
        return placed.clone();
    }
    if engine() == Engine::Sqlite {
        return None;
    }
    let placed = if clinic_with_hub {
        None
    } else if engine() == Engine::Citus {
        Some(create_citus_database(&database_name(data)))
    } else {
        let admin = postgres_admin_url();
        let name = database_name(data);
        psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
        psql(&admin, &format!("CREATE DATABASE {name}"));
        Some(postgres_url_of(&admin, &name))
    };
    placements.insert(data.to_path_buf(), placed.clone());
    placed
}

/// Puts the store of `data` on the PostgreSQL database `url`, whatever the suite's engine (a
/// test with its own server).
pub fn place_on(data: &Path, url: &str) {
    placements()
        .lock()
        .unwrap()
        .insert(data.to_path_buf(), Some(url.to_string()));
}

/// A PostgreSQL server of one test's own (scripts/postgres.sh), for what the shared one must
/// not suffer: restarts. Stopped and deleted when dropped.
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    pub admin_url: String,
}

fn postgres_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
}

fn run_postgres_script(args: &[&str]) -> String {
    let output = Command::new(postgres_script())
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run scripts/postgres.sh ({err}). {POSTGRES_HOWTO}"));
    assert!(
        output.status.success(),
        "scripts/postgres.sh {args:?} failed: {}. {POSTGRES_HOWTO}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

impl PrivatePostgres {
    pub fn start() -> PrivatePostgres {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let admin_url = run_postgres_script(&["start", dir.path().to_str().unwrap(), &port]);
        PrivatePostgres { dir, admin_url }
    }

    /// A new empty database; its URL.
    pub fn create_database(&self, name: &str) -> String {
        psql(&self.admin_url, &format!("CREATE DATABASE {name}"));
        postgres_url_of(&self.admin_url, name)
    }

    /// `pg_ctl restart -m immediate`: every connection cut, no clean shutdown (a crash), and
    /// the server back (recovered from its WAL) when this returns.
    pub fn crash_restart(&self) {
        run_postgres_script(&["restart", self.dir.path().to_str().unwrap(), "immediate"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new(postgres_script())
            .args(["stop", self.dir.path().to_str().unwrap()])
            .output();
    }
}

/// A Citus cluster of one test's own (`../shared/vendor/citus/cluster.sh`: a coordinator and
/// two workers on loopback), for what the shared one must not suffer: nodes stopped and
/// restarted. The hub uses its `postgres` database, where the script created the extension
/// and registered the workers. Stopped and deleted when dropped.
pub struct PrivateCitus {
    dir: tempfile::TempDir,
    /// The coordinator's port; worker `n` (1, 2, …) listens on `port + n`.
    port: u16,
    workers: u16,
    pub admin_url: String,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn citus_script() -> PathBuf {
    shared_dir().join("vendor/citus/cluster.sh")
}

/// Runs a PostgreSQL program as the `postgres` user (cluster.sh runs the nodes as it, and
/// needs root to do so).
fn as_postgres(program: &str, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--", &format!("{PG_BIN}/{program}")])
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {program} as postgres ({err})"))
}

/// `count` consecutive free ports on loopback (the coordinator's and the workers').
fn free_port_run(count: u16) -> u16 {
    for _ in 0..50 {
        let base = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base > 65_000 {
            continue;
        }
        let free = (1..count).all(|n| std::net::TcpListener::bind(("127.0.0.1", base + n)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no {count} consecutive free ports on 127.0.0.1")
}

impl PrivateCitus {
    pub fn start() -> PrivateCitus {
        PrivateCitus::start_with(2)
    }

    /// A coordinator and `workers` workers, all in the cluster.
    pub fn start_with(workers: u16) -> PrivateCitus {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port_run(workers + 1);
        let output = Command::new(citus_script())
            .args([
                "start",
                dir.path().to_str().unwrap(),
                &port.to_string(),
                &workers.to_string(),
            ])
            .output()
            .unwrap_or_else(|err| panic!("cannot run cluster.sh ({err}); see test.sh"));
        assert!(
            output.status.success(),
            "cluster.sh start failed (Citus installed? ../shared/vendor/citus/install.sh): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        // Citus finishes a two-phase commit that a worker crash left prepared (the coordinator
        // committed, the worker had not yet) in its recovery pass, every minute by default:
        // once a second here, so a scenario sees such writes within its timeouts.
        psql(
            &admin_url,
            "ALTER SYSTEM SET citus.recover_2pc_interval = '1s'",
        );
        psql(&admin_url, "SELECT pg_reload_conf()");
        PrivateCitus {
            dir,
            port,
            workers,
            admin_url,
        }
    }

    fn node_dir(&self, node: u16) -> String {
        format!("{}/node{}", self.dir.path().display(), self.port + node)
    }

    /// The port of node `node` (0: the coordinator, 1 and 2: the workers).
    pub fn node_port(&self, node: u16) -> u16 {
        self.port + node
    }

    /// `pg_ctl stop -m immediate` of node `node`: a crash, every connection cut.
    pub fn crash(&self, node: u16) {
        let output = as_postgres(
            "pg_ctl",
            &["-D", &self.node_dir(node), "-m", "immediate", "-w", "stop"],
        );
        assert!(output.status.success(), "pg_ctl stop: {output:?}");
    }

    /// Starts node `node` again (recovering from its WAL); returns once it accepts connections.
    pub fn start_node(&self, node: u16) {
        let log = format!("{}.log", self.node_dir(node));
        let output = as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.node_dir(node),
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(output.status.success(), "pg_ctl start: {output:?}");
    }
}

impl Drop for PrivateCitus {
    fn drop(&mut self) {
        for node in 0..=self.workers {
            let _ = as_postgres(
                "pg_ctl",
                &["-D", &self.node_dir(node), "-m", "immediate", "stop"],
            );
        }
    }
}

/// The `--database` arguments for a command over `data` (none on SQLite).
pub fn database_args(data: &Path) -> Vec<String> {
    placement(data, false)
        .map(|url| vec!["--database".to_string(), url])
        .unwrap_or_default()
}

/// The `--database` arguments for `serve --data data ARGS…`: a clinic that syncs with a hub
/// stays on SQLite (the hub of the sync scenarios is what moves to PostgreSQL).
pub fn serve_database_args<S: AsRef<str>>(data: &Path, args: &[S]) -> Vec<String> {
    if args.iter().any(|a| a.as_ref() == "--database") {
        return Vec::new();
    }
    let clinic_with_hub = args.iter().any(|a| a.as_ref() == "--hub");
    placement(data, clinic_with_hub)
        .map(|url| vec!["--database".to_string(), url])
        .unwrap_or_default()
}

/// Forgets and drops the database of `data` (a finished test's node).
fn drop_placement(data: &Path) {
    let placed = placements().lock().unwrap().remove(data).flatten();
    if let Some(url) = placed {
        let name = url.rsplit('/').next().unwrap_or_default();
        let name = name.split('?').next().unwrap_or_default();
        let admins = if engine() == Engine::Citus {
            citus_nodes()
        } else {
            vec![postgres_admin_url()]
        };
        for admin in admins {
            let _ = Command::new(psql_program())
                .args(["-X", "-q", "-d", &admin, "-c"])
                .arg(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .output();
        }
    }
}

/// A node process serving on a free loopback port; killed when dropped.
pub struct Node {
    pub child: Child,
    pub base: String,
    /// The data directory, when this node owns it (dropped with the node).
    owned: Option<(tempfile::TempDir, PathBuf)>,
}

impl Node {
    /// A fresh node with an empty data directory.
    pub fn start() -> Node {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("data");
        let mut node = Node::start_in(&data);
        node.owned = Some((temp, data));
        node
    }

    /// A node over an existing (or new) data directory.
    pub fn start_in(data: &Path) -> Node {
        Node::start_with(data, &[])
    }

    pub fn start_with(data: &Path, extra: &[&str]) -> Node {
        // Placed first: the accounts `prepare_access` writes go where the node will read them.
        serve_database_args(data, extra);
        prepare_access(data);
        Node::start_plain(data, extra)
    }

    /// A node over `data` exactly as an operator starts it: without the suite's signing key
    /// and system account (nothing is written to `data` by the test process).
    pub fn start_plain(data: &Path, extra: &[&str]) -> Node {
        Node::start_plain_env(data, extra, &[])
    }

    /// As [`Node::start_with`], with extra environment variables for the node's process.
    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Node {
        serve_database_args(data, extra);
        prepare_access(data);
        Node::start_plain_env(data, extra, env)
    }

    fn start_plain_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Node {
        Node::spawn(data, "127.0.0.1:0", extra, env)
    }

    /// As [`Node::start_with_env`], listening on `listen` (e.g. `0.0.0.0:0`) instead of
    /// loopback only.
    pub fn start_listening(
        data: &Path,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Node {
        serve_database_args(data, extra);
        prepare_access(data);
        Node::spawn(data, listen, extra, env)
    }

    fn spawn(data: &Path, listen: &str, extra: &[&str], env: &[(&str, &str)]) -> Node {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", listen, "--data"])
            .arg(data)
            .args(extra)
            .args(serve_database_args(data, extra))
            .envs(env.iter().copied())
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
            owned: None,
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
        if let Some((_, data)) = &self.owned {
            drop_placement(data);
        }
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
    // Exit 2: no node there yet (`user list` never creates one); `user add` below does.
    assert!(code == 0 || code == 2, "{err}");
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

/// The commands that take `--database` next to `--data`.
const DATA_COMMANDS: [&str; 10] = [
    "import", "user", "app", "token", "audit", "node", "sync", "migrate", "mpi", "backup",
];

/// The `--database` arguments `run_cli` adds to a data command that names `--data` only.
pub fn cli_database_args(args: &[&str]) -> Vec<String> {
    let data_command = args.first().is_some_and(|c| DATA_COMMANDS.contains(c));
    if !data_command || args.contains(&"--database") {
        return Vec::new();
    }
    let data = args
        .iter()
        .position(|a| *a == "--data")
        .and_then(|i| args.get(i + 1));
    match data {
        Some(data) => database_args(Path::new(data)),
        None => Vec::new(),
    }
}

/// Runs the binary with arguments, returning (exit code, stdout, stderr). On PostgreSQL, a data
/// command over `--data DIR` reaches DIR's database.
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    run_cli_env(args, &[])
}

/// As [`run_cli`], with extra environment variables.
pub fn run_cli_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .args(cli_database_args(args))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A Mexican patient resource.
/// Creates `resource` over HTTP (201 asserted); its id.
pub fn created(node: &Node, resource: &Value) -> String {
    let kind = resource["resourceType"].as_str().unwrap();
    let answer = post(node, kind, resource);
    assert_eq!(answer.status, 201, "{kind}: {}", answer.text);
    answer.body["id"].as_str().unwrap().to_string()
}

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
