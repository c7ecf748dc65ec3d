//! `expediente serve`: run a node's HTTP API until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data", env = "EXPEDIENTE_DATA")]
    pub data: PathBuf,
    #[command(flatten)]
    pub database: super::database::DatabaseArg,
    /// Dirección de escucha / Listen address
    #[arg(long, default_value = "127.0.0.1:8080", env = "EXPEDIENTE_LISTEN")]
    pub listen: SocketAddr,
    /// Tamaño máximo del cuerpo de una solicitud, en bytes / Largest request body, in bytes
    #[arg(long, default_value_t = rest::BODY_LIMIT_BYTES_DEFAULT)]
    pub body_limit_bytes: usize,
    /// URL pública de la API FHIR (si hay un proxy delante) / Public FHIR base URL
    #[arg(long)]
    pub base_url: Option<String>,
    /// Solicitudes por minuto por cuenta de persona (0 = sin límite) / Requests per minute per person's account (0 = unlimited)
    #[arg(long, default_value_t = rest::PERSON_REQUESTS_PER_MINUTE_DEFAULT)]
    pub rate_limit_per_minute: u32,
    /// Certificado TLS (PEM) para servir HTTPS / TLS certificate chain (PEM) to serve HTTPS
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Llave privada TLS (PEM) / TLS private key (PEM)
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Secreto (bearer) para leer /metrics desde otra máquina; sin él, solo desde esta / Bearer secret to read /metrics from another host; without it, only from this one
    #[arg(long, env = "EXPEDIENTE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Sync between nodes: role, CLUES, hub.
    #[command(flatten)]
    pub sync: super::node::SyncArgs,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, None))?;
    Ok(ExitCode::SUCCESS)
}

/// Serves until a shutdown signal. `ready` is called with the bound address (tests, demo).
pub async fn serve(
    args: ServeArgs,
    ready: Option<Box<dyn FnOnce(SocketAddr) + Send>>,
) -> anyhow::Result<()> {
    // Opening a store blocks (PostgreSQL's client runs its own small runtime, which must not
    // start inside this one): done off the async workers, as every store call is.
    let (db, ehr) =
        tokio::task::block_in_place(|| super::open_node(&args.data, &args.database, false))?;
    let ehr = super::node::serve_ehr(db.store.clone(), ehr);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(rest::tls_server_config(cert, key)?),
        _ => None,
    };
    let config = rest::RestConfig {
        body_limit_bytes: args.body_limit_bytes,
        base_url: args.base_url.clone(),
        tls: tls.is_some(),
        person_requests_per_minute: args.rate_limit_per_minute,
        // Bulk export jobs and files live beside the node's keys: owner-only like every file
        // the node creates (umask 077), and found again after a restart.
        export_dir: Some(args.data.join("exports")),
    };
    let keys = std::sync::Arc::new(
        auth::token::KeyStore::load_or_create(&args.data)
            .map_err(|err| anyhow::anyhow!("{} ({err})", err.message_es()))?,
    );
    // Paging cursors sealed with the node's own key: every process of the node accepts them.
    ehr.set_cursor_secret(&keys.derive_secret("paging-cursor"));
    // The clinician's UI shares the node's `Ehr`, accounts and signing key: one path to the
    // data, the same access rules and audit as `/fhir`.
    // Its sessions are its own (server-side, UI-only), not API tokens.
    let sessions: std::sync::Arc<dyn web::Sessions> =
        std::sync::Arc::new(web::EhrSessions::new(ehr.clone()));
    let web_config = web::WebConfig {
        secure_cookies: tls.is_some(),
        sync_status: super::node::ui_sync_status(&args.sync, db.sync.clone()),
        public_origin: args.base_url.as_deref().and_then(origin_of),
        client_ip: rest::client_ip,
    };
    let ui = web::router(ehr.clone(), sessions, web_config)?;
    let app = rest::router(ehr.clone(), keys.clone(), config);
    // Sync (issue 5): `/sync` routes and, on a clinic, the on-demand fetch of unseen patients,
    // which only authenticated requests may trigger.
    let gate_ehr = ehr.clone();
    let gate_keys = keys.clone();
    let gate: super::node::FetchGate =
        std::sync::Arc::new(move |headers: &axum::http::HeaderMap| {
            rest::is_authenticated(&gate_ehr, &gate_keys, headers)
        });
    // Starting the hub or the clinic's sync reads and writes the store: blocking, as above.
    let app = tokio::task::block_in_place(|| {
        super::node::attach(
            &args.sync,
            db.store.clone(),
            db.sync.clone(),
            ehr.clone(),
            keys,
            app,
            gate,
        )
    })?
    .merge(ui);
    let mut gauges = super::node::sync_gauges(&args.sync, &db.sync);
    if let Some(size) = db.size_reader() {
        gauges.push((
            "database_bytes",
            "Tamaño de la base de datos en disco / Database size on disk",
            size,
        ));
    }
    let observability =
        rest::observe::Observability::new(ehr.metrics(), gauges, args.metrics_token.clone());
    let app = rest::observe::layer(app, observability);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let where_ = db.location().display();
    tracing::info!(address = %local, data = %args.data.display(), database = %where_, "serving FHIR at {scheme}://{local}/fhir");
    println!("Expediente escuchando en {scheme}://{local}/fhir  (datos: {where_})");
    if let Some(ready) = ready {
        ready(local);
    }
    let service = app.into_make_service_with_connect_info::<rest::ClientAddr>();
    match tls {
        Some(config) => {
            let listener = rest::TlsListener::new(listener, config)?;
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("server failed")?;
        }
        None => {
            axum::serve(rest::PlainListener::new(listener), service)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("server failed")?;
        }
    }
    tracing::info!("shutting down: finishing queued writes");
    tokio::task::block_in_place(|| {
        ehr.close_audit();
        db.close();
    });
    Ok(())
}

/// The origin (`scheme://host[:port]`) of a public base URL such as `https://clinica.example/fhir`.
fn origin_of(base_url: &str) -> Option<String> {
    let (scheme, rest) = base_url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    ))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
