//! The servers under test: the real `expediente serve` binary as a child process (or, for the
//! harness's own test, the same router served inside this process), and the in-memory Medplum
//! peer (Node) that read throughput is compared with.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http::Client;

/// How long a server may take to answer its first request (a 10^6-resource store opens in
/// well under a second; Node loads the R4 definitions in a few seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Node heap for the peer: the default (~2-4 GB) is too small for 10^5 resources held as
/// JavaScript objects plus Medplum's indexes.
const PEER_HEAP_MB: u32 = 8_192;

/// A free loopback port (bound and released; nothing else on this machine races for it).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    Ok(listener.local_addr()?)
}

pub enum Node {
    Process {
        child: Child,
        addr: SocketAddr,
    },
    InProcess {
        addr: SocketAddr,
        shutdown: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

impl Node {
    /// Starts `exe serve --data DIR --listen ADDR` and waits until it answers `/healthz`.
    pub fn start_process(exe: &Path, data_dir: &Path, log: &Path) -> anyhow::Result<Node> {
        Node::start_process_with(exe, data_dir, log, &[])
    }

    /// [`Node::start_process`] with more `serve` options (`--database postgres://…`).
    pub fn start_process_with(
        exe: &Path,
        data_dir: &Path,
        log: &Path,
        extra: &[&str],
    ) -> anyhow::Result<Node> {
        let addr = free_addr()?;
        let log = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(exe)
            .arg("serve")
            .arg("--data")
            .arg(data_dir)
            .arg("--listen")
            .arg(addr.to_string())
            // The load reads as one physician far faster than a person could: the per-person
            // limit would turn it into 429s.
            .arg("--rate-limit-per-minute")
            .arg("0")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {} serve", exe.display()))?;
        let mut node = Node::Process { child, addr };
        if let Err(err) = wait_ready(addr, "/healthz") {
            node.stop();
            return Err(err);
        }
        Ok(node)
    }

    /// Serves `ehr` with the real router on a runtime inside this process.
    pub fn start_in_process(
        ehr: ehr::Ehr,
        keys: std::sync::Arc<auth::token::KeyStore>,
    ) -> anyhow::Result<Node> {
        let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start an async runtime")?;
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let config = rest::RestConfig {
                        person_requests_per_minute: 0,
                        ..rest::RestConfig::default()
                    };
                    let app = rest::router(ehr, keys, config);
                    let _ = axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<rest::ClientAddr>(),
                    )
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
                });
            })?;
        let node = Node::InProcess {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        };
        wait_ready(addr, "/healthz")?;
        Ok(node)
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Node::Process { addr, .. } | Node::InProcess { addr, .. } => *addr,
        }
    }

    /// The server's own process, when it has one (for its memory).
    pub fn pid(&self) -> Option<u32> {
        match self {
            Node::Process { child, .. } => Some(child.id()),
            Node::InProcess { .. } => None,
        }
    }

    /// Stops gracefully (SIGTERM: the node finishes queued writes), killing after a timeout.
    pub fn stop(&mut self) {
        match self {
            Node::Process { child, .. } => terminate(child),
            Node::InProcess {
                shutdown, thread, ..
            } => {
                if let Some(shutdown) = shutdown.take() {
                    let _ = shutdown.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

fn terminate(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    // SIGTERM through kill(1): this crate forbids `unsafe`, and std only sends SIGKILL.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until `GET path` answers anything below 500.
fn wait_ready(addr: SocketAddr, path: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let mut client = Client::new(addr);
        if let Ok(response) = client.get(path)
            && response.status < 500
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server at {addr} did not answer {path} within {READY_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// True when `program` can be started (it is on PATH).
pub fn available(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// The in-memory Medplum peer.
pub struct Peer {
    child: Child,
    pub addr: SocketAddr,
}

impl Peer {
    /// Copies the peer's `package.json` and `server.mjs` from `source` (read-only) to a cache
    /// directory, runs `npm install` there the first time, and starts `node server.mjs`.
    pub fn start(source: &Path, log: &Path) -> anyhow::Result<Peer> {
        let dir = prepare(source)?;
        let addr = free_addr()?;
        let log = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new("node")
            .arg(format!("--max-old-space-size={PEER_HEAP_MB}"))
            .arg("server.mjs")
            .current_dir(&dir)
            .env("PORT", addr.port().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start node (is Node.js installed? apt-get install -y nodejs npm)")?;
        let mut peer = Peer { child, addr };
        if let Err(err) = wait_ready(addr, "/fhir/Patient/none") {
            terminate(&mut peer.child);
            return Err(err);
        }
        Ok(peer)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stop(&mut self) {
        terminate(&mut self.child);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `$XDG_CACHE_HOME/expediente-bench/medplum-peer` (or under `~/.cache`).
fn peer_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("expediente-bench").join("medplum-peer")
}

fn prepare(source: &Path) -> anyhow::Result<PathBuf> {
    let dir = peer_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut changed = false;
    for name in ["package.json", "server.mjs"] {
        let from = source.join(name);
        let wanted = std::fs::read(&from).with_context(|| {
            format!(
                "cannot read the peer's {} (give its folder with --peer-source)",
                from.display()
            )
        })?;
        let to = dir.join(name);
        if std::fs::read(&to).ok().as_deref() != Some(wanted.as_slice()) {
            std::fs::write(&to, &wanted)
                .with_context(|| format!("cannot write {}", to.display()))?;
            changed = true;
        }
    }
    let installed = dir.join("node_modules/@medplum/fhir-router/package.json");
    if changed || !installed.exists() {
        eprintln!(
            "bench: npm install of the Medplum peer in {}",
            dir.display()
        );
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .status()
            .context("cannot run npm (apt-get install -y npm)")?;
        if !status.success() {
            bail!("npm install failed in {}", dir.display());
        }
    }
    Ok(dir)
}
