//! A small blocking connection pool.
//!
//! Why our own: the pool only has to hand out blocking clients, cap their number and drop the
//! broken ones; deadpool-postgres is async-first and would bring the runtime bridging this
//! crate avoids. A connection that reports itself closed (PostgreSQL restarted, network cut)
//! is never put back, so the next use connects afresh.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use std::collections::HashMap;

use postgres::{Client, NoTls, Statement};
use store::Error;

use crate::lock;

/// Connections at most per store. PostgreSQL spends a process per connection; beyond a few
/// per core more only contend for the CPU and locks.
const POOL_MAX: usize = 32;

/// How long a connection attempt may take before the store reports itself busy.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled connection and the statements prepared on it (named server-side statements live
/// as long as the connection, across transactions): a cached statement saves a round trip
/// and a parse per use.
pub(crate) struct Conn {
    pub client: Client,
    pub stmts: Stmts,
}

/// Statements a connection has prepared, by their text.
///
/// Fixed statements and the searches' generated ones alike: a search's text depends only on
/// its shape (which parameters, modifiers, sorts), never on the values, which are bound. So
/// the same shape of search (every lookup by identifier, say) is parsed and planned once per
/// connection (connections use generic plans, see `open`). Bounded: a connection that
/// has seen [`STMTS_MAX`] shapes starts over, so odd searches cannot grow it without end.
#[derive(Default)]
pub(crate) struct Stmts(HashMap<Box<str>, Statement>);

/// Statements kept per connection at most.
const STMTS_MAX: usize = 512;

impl Stmts {
    pub(crate) fn get(&self, sql: &str) -> Option<Statement> {
        self.0.get(sql).cloned()
    }

    pub(crate) fn insert(&mut self, sql: &str, stmt: Statement) {
        if self.0.len() >= STMTS_MAX {
            // Dropping a `Statement` closes it on the server.
            self.0.clear();
        }
        self.0.insert(sql.into(), stmt);
    }
}

impl Conn {
    /// `sql` prepared on this connection, once.
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement, Error> {
        prepared(&mut self.client, &mut self.stmts, sql)
    }
}

/// `sql` prepared on the connection `client` runs on (a transaction's too), once.
pub(crate) fn prepared<C: postgres::GenericClient>(
    client: &mut C,
    stmts: &mut Stmts,
    sql: &str,
) -> Result<Statement, Error> {
    if let Some(stmt) = stmts.get(sql) {
        return Ok(stmt);
    }
    let stmt = client.prepare(sql).map_err(crate::sql_error)?;
    stmts.insert(sql, stmt.clone());
    Ok(stmt)
}

pub(crate) struct Pool {
    config: postgres::Config,
    state: Mutex<State>,
    returned: Condvar,
}

#[derive(Default)]
struct State {
    idle: Vec<Conn>,
    open: usize,
}

pub(crate) fn parse(url: &str) -> Result<postgres::Config, Error> {
    let mut config: postgres::Config = url.parse().map_err(|err| {
        Error::Invalid(format!(
            "URL de PostgreSQL inválido / invalid PostgreSQL URL: {err}"
        ))
    })?;
    config.connect_timeout(CONNECT_TIMEOUT);
    if config.get_application_name().is_none() {
        config.application_name("expediente");
    }
    Ok(config)
}

/// TLS for connections whose URL asks for it (`sslmode=require`): rustls with the system's CA
/// certificates, so the server's certificate and name are always verified (libpq's
/// `verify-full`; the hub's data is the nation's health record).
fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, Error> {
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let loaded = rustls_native_certs::load_native_certs();
        for cert in loaded.certs {
            // A certificate the system lists but rustls cannot parse is skipped, not fatal.
            let _ = roots.add(cert);
        }
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
            .map_err(|err| err.to_string())
    });
    match config {
        Ok(config) => Ok(tokio_postgres_rustls::MakeRustlsConnect::new(
            config.clone(),
        )),
        Err(err) => Err(Error::Other(format!("TLS setup failed: {err}"))),
    }
}

fn open(config: &postgres::Config) -> Result<Client, Error> {
    // Only `require` negotiates TLS: under the default `prefer`, a server with a self-signed
    // certificate (Debian's stock clusters) would fail verification instead of working.
    let connected = match config.get_ssl_mode() {
        postgres::config::SslMode::Require => config.connect(tls()?),
        _ => config.connect(NoTls),
    };
    let mut client = connected.map_err(|err| {
        Error::Other(format!(
            "no se pudo conectar a PostgreSQL / cannot connect to PostgreSQL: {err}"
        ))
    })?;
    // Acknowledged means flushed to the WAL; timestamps never depend on the server's zone.
    // Generic plans (see `Stmts`): PostgreSQL's own choice kept re-planning a search by CURP at
    // 10^6 resources (planning 0.41 ms, execution 0.05 ms: its generic estimate averages
    // unique identifiers with common codes, six rows instead of one, so the generic plan
    // looked dearer than it is). Every statement here is driven by keys (a patient, an id, an
    // identifier, a feed position), where one plan serves all values. Not on a Citus
    // coordinator: Citus cannot plan a multi-row `INSERT … SELECT FROM unnest($1…)` without the
    // parameters' values ("could not create distributed plan"), and it routes a single-shard
    // statement by its values anyway.
    client
        .batch_execute(
            "SET synchronous_commit = on; SET TIME ZONE 'UTC'; \
             SELECT set_config('plan_cache_mode', \
               CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') \
               THEN 'auto' ELSE 'force_generic_plan' END, false)",
        )
        .map_err(crate::sql_error)?;
    Ok(client)
}

pub(crate) fn connect(url: &str) -> Result<Client, Error> {
    let config = parse(url)?;
    off_runtime(|| open(&config))
}

/// Runs `f` where the driver may block. The `postgres` client drives each call (and its
/// farewell when dropped) with `block_on` on its own runtime, which panics on a thread that
/// is running async tasks. Callers should use `spawn_blocking`; a few quick reads run inline
/// in async code (the token check in `rest`'s authentication), so every call of this store is
/// safe from any thread.
pub(crate) fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
        // No runtime here (a plain thread): nothing to step off.
        Err(_) => f(),
        // A worker of a multi-threaded runtime hands its tasks to another worker for the
        // call; on a `spawn_blocking` thread this runs `f` as is. No thread is created: this
        // is every store call on the hub.
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        // A current-thread runtime cannot step aside: a short-lived plain thread does it.
        Ok(_) => std::thread::scope(|scope| match scope.spawn(f).join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }),
    }
}

impl Pool {
    pub(crate) fn new(url: &str) -> Result<Pool, Error> {
        let config = parse(url)?;
        // Connect once now, so a wrong URL fails at start rather than at the first request.
        let first = off_runtime(|| open(&config))?;
        Ok(Pool {
            config,
            state: Mutex::new(State {
                idle: vec![Conn {
                    client: first,
                    stmts: Stmts::default(),
                }],
                open: 1,
            }),
            returned: Condvar::new(),
        })
    }

    /// A connection outside the pool (the sync sequencer's).
    pub(crate) fn open_dedicated(&self) -> Result<Client, Error> {
        off_runtime(|| open(&self.config))
    }

    /// Runs `f` with a pooled connection; when the connection turns out to be broken (a
    /// PostgreSQL restart closed it while it sat idle), once more on a fresh one. Only for
    /// work that is safe to repeat (reads; write attempts that did not reach COMMIT).
    pub(crate) fn with<R: Send>(
        &self,
        mut f: impl FnMut(&mut Conn) -> Result<R, Error> + Send,
    ) -> Result<R, Error> {
        off_runtime(|| match self.with_once(&mut f) {
            Err(Error::Busy) => self.with_once(&mut f),
            other => other,
        })
    }

    /// Runs `f` with a pooled connection, waiting for one when all are busy.
    fn with_once<R>(&self, f: impl FnOnce(&mut Conn) -> Result<R, Error>) -> Result<R, Error> {
        let taken = {
            let mut state = lock(&self.state);
            loop {
                if let Some(conn) = state.idle.pop() {
                    if conn.client.is_closed() {
                        state.open -= 1;
                        continue;
                    }
                    break Some(conn);
                }
                if state.open < POOL_MAX {
                    state.open += 1;
                    break None;
                }
                state = self
                    .returned
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let mut conn = match taken {
            Some(conn) => conn,
            None => match open(&self.config) {
                Ok(client) => Conn {
                    client,
                    stmts: Stmts::default(),
                },
                Err(err) => {
                    lock(&self.state).open -= 1;
                    self.returned.notify_one();
                    // The server answered at start, so it is restarting or unreachable for
                    // now: the caller may try again later (a 503, not a 500).
                    tracing::warn!(error = %err, "cannot reconnect to PostgreSQL");
                    return Err(Error::Busy);
                }
            },
        };
        let result = f(&mut conn);
        let mut state = lock(&self.state);
        if conn.client.is_closed() || matches!(result, Err(Error::Busy)) {
            // A lost connection usually means a server restart: the idle ones are gone too.
            state.open -= 1 + state.idle.len();
            state.idle.clear();
        } else {
            state.idle.push(conn);
        }
        drop(state);
        self.returned.notify_one();
        result
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing a client says goodbye to the server through the driver's runtime.
        let idle = std::mem::take(&mut lock(&self.state).idle);
        off_runtime(move || drop(idle));
    }
}
