//! Load generators and latency statistics: `wrk` for HTTP throughput with many keep-alive
//! clients (a C load generator costs the 2 shared cores little), a built-in generator for when
//! the server runs inside this process (the harness's own test), and sequential latency runs.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http::Client;

/// wrk's Lua side: requests are built once per thread from a file of paths and cycled
/// through (each thread from a different offset); `done` prints one machine-readable line.
const WRK_SCRIPT: &str = r#"
local paths_file = nil
local requests = {}
local counter = 0
local thread_count = 0

function setup(thread)
  thread:set("thread_idx", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  -- Headers given with -H (the bearer token) plus Accept: wrk.format replaces wrk.headers
  -- when given a table, so they are merged here.
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Accept"] = "application/fhir+json"
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("GET", line, headers)
    end
  end
  f:close()
  counter = (thread_idx or 0) * 7919
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d socket_errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"#;

/// wrk's connection and thread counts (the issue's "32 concurrent keep-alive clients").
pub const WRK_CONNECTIONS: usize = 32;
const WRK_THREADS: usize = 2;

/// Throughput and latency of one load run.
#[derive(Clone, Debug)]
pub struct LoadResult {
    pub requests: u64,
    pub seconds: f64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl LoadResult {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }

    /// Adds another round of the same load: counts add up; of the percentiles, which cannot
    /// be merged exactly, the worse round's is kept.
    pub fn merge(&mut self, other: &LoadResult) {
        self.requests += other.requests;
        self.seconds += other.seconds;
        self.errors += other.errors;
        self.p50_ms = self.p50_ms.max(other.p50_ms);
        self.p99_ms = self.p99_ms.max(other.p99_ms);
    }
}

/// Writes `paths` to `work/<name>.paths` for wrk.
pub fn write_paths(
    work: &Path,
    name: &str,
    paths: &[String],
) -> anyhow::Result<std::path::PathBuf> {
    let file = work.join(format!("{name}.paths"));
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&file)
            .with_context(|| format!("cannot create {}", file.display()))?,
    );
    for path in paths {
        writeln!(out, "{path}")?;
    }
    out.flush()?;
    Ok(file)
}

/// Runs `wrk -t2 -c32 -d{seconds}s` over the paths in `paths_file`.
pub fn wrk(
    work: &Path,
    addr: SocketAddr,
    paths_file: &Path,
    seconds: u64,
) -> anyhow::Result<LoadResult> {
    let script = work.join("cycle.lua");
    std::fs::write(&script, WRK_SCRIPT)
        .with_context(|| format!("cannot write {}", script.display()))?;
    let mut command = Command::new("wrk");
    if let Some(token) = crate::http::bearer(addr) {
        command
            .arg("-H")
            .arg(format!("Authorization: Bearer {token}"));
    }
    let output = command
        .arg(format!("-t{WRK_THREADS}"))
        .arg(format!("-c{WRK_CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(&script)
        .arg(format!("http://{addr}"))
        .arg("--")
        .arg(paths_file)
        .output()
        .context("cannot run wrk (install it: apt-get install -y wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(line) = stdout.lines().find(|l| l.starts_with("BENCH ")) else {
        bail!(
            "wrk printed no result: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    Ok(LoadResult {
        requests: field("requests"),
        seconds: field("duration_us") as f64 / 1e6,
        errors: field("status_errors") + field("socket_errors"),
        p50_ms: field("p50_us") as f64 / 1e3,
        p99_ms: field("p99_us") as f64 / 1e3,
    })
}

/// The built-in equivalent of [`wrk`]: `connections` threads, each with one keep-alive
/// connection, cycling through `paths` for `duration`.
pub fn builtin(
    addr: SocketAddr,
    paths: &[String],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let results: Vec<anyhow::Result<(Vec<f64>, u64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..connections)
            .map(|idx| {
                let stop = &stop;
                scope.spawn(move || -> anyhow::Result<(Vec<f64>, u64)> {
                    let mut client = Client::new(addr);
                    let mut latencies = Vec::new();
                    let mut errors = 0u64;
                    let mut n = idx * 7919;
                    while !stop.load(Ordering::Relaxed) {
                        let path = &paths[n % paths.len()];
                        n += 1;
                        let sent = Instant::now();
                        let response = client.get(path)?;
                        latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                        if response.status >= 400 {
                            errors += 1;
                        }
                    }
                    Ok((latencies, errors))
                })
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a load thread panicked")))
            })
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for result in results {
        let (l, e) = result?;
        latencies.extend(l);
        errors += e;
    }
    let stats = Stats::of(latencies);
    Ok(LoadResult {
        requests: stats.n as u64,
        seconds,
        errors,
        p50_ms: stats.p50,
        p99_ms: stats.p99,
    })
}

/// Percentiles of a set of latencies (ms), nearest-rank.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Stats {
    pub fn of(mut values: Vec<f64>) -> Stats {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return Stats::default();
        }
        let rank = |p: f64| values[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
        Stats {
            n,
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
        }
    }
}

/// Runs `f` on each item in turn (one client, no concurrency) until all are done or
/// `budget` is spent; returns the latencies in ms.
pub fn sequential<T>(
    items: &[T],
    budget: Duration,
    mut f: impl FnMut(&T) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<f64>> {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(items.len());
    for item in items {
        let sent = Instant::now();
        f(item)?;
        latencies.push(sent.elapsed().as_secs_f64() * 1e3);
        if started.elapsed() > budget {
            break;
        }
    }
    Ok(latencies)
}

/// Runs `f(thread_idx, n)` in `threads` threads until `duration` passes; returns the number
/// of calls made.
pub fn parallel_for(
    threads: usize,
    duration: Duration,
    f: impl Fn(usize, usize) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<(u64, f64)> {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let counts: Vec<anyhow::Result<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|idx| {
                let (stop, f) = (&stop, &f);
                scope.spawn(move || -> anyhow::Result<u64> {
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        f(idx, n)?;
                        n += 1;
                    }
                    Ok(n as u64)
                })
            })
            .collect();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker thread panicked")))
            })
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut total = 0;
    for count in counts {
        total += count?;
    }
    Ok((total, seconds))
}
