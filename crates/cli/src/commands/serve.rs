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
    /// Dirección de escucha / Listen address
    #[arg(long, default_value = "127.0.0.1:8080", env = "EXPEDIENTE_LISTEN")]
    pub listen: SocketAddr,
    /// Tamaño máximo del cuerpo de una solicitud, en bytes / Largest request body, in bytes
    #[arg(long, default_value_t = rest::BODY_LIMIT_BYTES_DEFAULT)]
    pub body_limit_bytes: usize,
    /// URL pública de la API FHIR (si hay un proxy delante) / Public FHIR base URL
    #[arg(long)]
    pub base_url: Option<String>,
    /// Sync between nodes (issue 5): role, CLUES, hub.
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
    let (store, ehr) = super::open_node(&args.data, false)?;
    let ehr = super::node::serve_ehr(store.clone(), ehr);
    let config = rest::RestConfig {
        body_limit_bytes: args.body_limit_bytes,
        base_url: args.base_url.clone(),
    };
    let app = rest::router(ehr.clone(), config);
    let app = super::node::attach(&args.sync, store.clone(), ehr, app)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, data = %args.data.display(), "serving FHIR at http://{local}/fhir");
    println!(
        "Expediente escuchando en http://{local}/fhir  (datos: {})",
        args.data.display()
    );
    if let Some(ready) = ready {
        ready(local);
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    tracing::info!("shutting down: finishing queued writes");
    store.close();
    Ok(())
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
