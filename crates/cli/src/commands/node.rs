//! Sync between nodes, as the binary sees it: the `serve` flags for roles (`--role hub`,
//! `--role clinic --clues … --hub … --hub-token …`), `expediente node enroll|revoke|rotate`
//! and `expediente sync status`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

/// Test-only: milliseconds added to this node's clock (clock skew between clinics). Read by
/// `serve` only, never documented to operators.
const CLOCK_OFFSET_ENV: &str = "EXPEDIENTE_TEST_CLOCK_OFFSET_MS";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Nodo de clínica (con --hub: sincroniza) / Clinic node (with --hub: syncs)
    #[default]
    Clinic,
    /// Nodo central nacional / National hub
    Hub,
}

#[derive(Args, Clone, Debug)]
pub struct SyncArgs {
    /// Papel del nodo / Node role
    #[arg(long, value_enum, default_value_t = Role::Clinic)]
    pub role: Role,
    /// CLUES de esta clínica (su identidad ante el nodo central) / This clinic's CLUES
    #[arg(long, env = "EXPEDIENTE_CLUES")]
    pub clues: Option<String>,
    /// URL del nodo central (sin /sync) / Hub base URL
    #[arg(long, env = "EXPEDIENTE_HUB")]
    pub hub: Option<String>,
    /// Credencial dada por `expediente node enroll` / Credential from `node enroll`
    #[arg(long, env = "EXPEDIENTE_HUB_TOKEN", hide_env_values = true)]
    pub hub_token: Option<String>,
    /// Pausa entre rondas de sincronización, ms / Pause between sync rounds, ms
    #[arg(long, default_value_t = 5_000, hide = true)]
    pub sync_interval_ms: u64,
    /// Espera máxima entre reintentos, ms / Longest retry delay, ms
    #[arg(long, default_value_t = 300_000, hide = true)]
    pub sync_backoff_max_ms: u64,
    /// Tiempo mínimo entre dos anclas firmadas de la bitácora, ms / Least time between two
    /// signed anchors of the audit trail, ms
    #[arg(long, default_value_t = sync::anchor::ANCHOR_INTERVAL_MS_DEFAULT, hide = true)]
    pub audit_anchor_interval_ms: u64,
}

impl Default for SyncArgs {
    /// Standalone, with the same intervals as the command line's defaults.
    fn default() -> Self {
        SyncArgs {
            role: Role::Clinic,
            clues: None,
            hub: None,
            hub_token: None,
            sync_interval_ms: 5_000,
            sync_backoff_max_ms: 300_000,
            audit_anchor_interval_ms: sync::anchor::ANCHOR_INTERVAL_MS_DEFAULT,
        }
    }
}

/// The clock `serve` uses: the system clock, shifted when the test-only variable says so.
pub(crate) fn serve_ehr(store: store::SharedStore, ehr: ehr::Ehr) -> ehr::Ehr {
    match std::env::var(CLOCK_OFFSET_ENV)
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        Some(offset_ms) => {
            let shifted = ehr::Ehr::new(
                store,
                Arc::new(OffsetClock { offset_ms }),
                &super::node_name(),
            );
            // The zone was checked when the node opened; keep it.
            super::with_node_zone(shifted.clone()).unwrap_or(shifted)
        }
        None => ehr,
    }
}

struct OffsetClock {
    offset_ms: i64,
}

impl ehr::Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        ehr::SystemClock.now_ms() + self.offset_ms
    }
}

/// Says whether a request carries valid credentials: the on-demand fetch runs in front of
/// `/fhir`'s own authentication, and must not let anonymous requests pull records from the hub.
pub(crate) type FetchGate = Arc<dyn Fn(&axum::http::HeaderMap) -> bool + Send + Sync>;

/// Adds the node's sync role to the served app: `/sync` routes, and for a clinic with a hub
/// the background task and the on-demand fetch in front of `/fhir`. Call inside the runtime.
pub(crate) fn attach(
    args: &SyncArgs,
    store: store::SharedStore,
    sync_store: Arc<dyn store::sync::SyncStore>,
    ehr: ehr::Ehr,
    keys: Arc<auth::token::KeyStore>,
    app: axum::Router,
    gate: FetchGate,
) -> anyhow::Result<axum::Router> {
    match args.role {
        Role::Hub => {
            let hub = sync::hub::Hub::new(ehr, store, sync_store.clone())
                .context("cannot start the hub")?;
            let app = app.merge(sync::http::hub_router(Arc::new(hub), sync_store));
            Ok(guard_sync_reports(app, gate))
        }
        Role::Clinic => {
            let (Some(hub_url), Some(clues)) = (&args.hub, &args.clues) else {
                if args.hub.is_some() {
                    anyhow::bail!(
                        "--hub requiere --clues (la identidad de esta clínica) / --hub needs --clues"
                    );
                }
                return Ok(app);
            };
            let token = args.hub_token.clone().context(
                "--hub requiere --hub-token (de `expediente node enroll` en el nodo central) / --hub needs --hub-token",
            )?;
            let mut config = sync::clinic::ClinicConfig::new(clues.clone(), hub_url.clone(), token);
            config.interval_ms = args.sync_interval_ms;
            config.backoff_max_ms = args.sync_backoff_max_ms;
            config.backoff_base_ms = config.backoff_base_ms.min(args.sync_backoff_max_ms);
            // The node key signs the audit chain's head, shipped to the hub (issue 12).
            config.audit_keys = Some(keys);
            config.anchor_interval_ms = args.audit_anchor_interval_ms;
            let clinic = sync::clinic::Clinic::new(ehr, store, sync_store.clone(), config)
                .context("cannot start sync")?;
            tokio::spawn(clinic.clone().run());
            let fetcher = clinic.clone();
            let fetch_gate = gate.clone();
            let app = app.layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let (fetcher, gate) = (fetcher.clone(), fetch_gate.clone());
                    async move {
                        // Only patient lookups can trigger a fetch; checking the token (a
                        // signature) for every other request would tax every read.
                        let path = request.uri().path().trim_end_matches('/');
                        let lookup = path == "/fhir/Patient" || path == "/fhir/Patient/$match";
                        if lookup && gate(request.headers()) {
                            sync::http::on_demand_fetch(
                                axum::extract::State(fetcher),
                                request,
                                next,
                            )
                            .await
                        } else {
                            next.run(request).await
                        }
                    }
                },
            ));
            let app = app.merge(sync::http::clinic_router(clinic, sync_store));
            Ok(guard_sync_reports(app, gate))
        }
    }
}

/// The sync slot of every UI page: online/offline and pending changes of a clinic with a hub.
pub(crate) fn ui_sync_status(
    args: &SyncArgs,
    sync_store: Arc<dyn store::sync::SyncStore>,
) -> web::SyncStatusFn {
    if args.role != Role::Clinic || args.hub.is_none() {
        return web::no_sync();
    }
    Arc::new(move || {
        let now_ms = ehr::Clock::now_ms(&ehr::SystemClock);
        match sync::clinic::status_of(sync_store.as_ref(), "clinic", None, now_ms) {
            Ok(status) => web::SyncStatus {
                state: match status.online {
                    Some(true) => web::SyncState::Online,
                    Some(false) => web::SyncState::Offline,
                    None => web::SyncState::Unknown,
                },
                pending_changes: Some(status.pending_outbound),
            },
            Err(_) => web::SyncStatus {
                state: web::SyncState::Unknown,
                pending_changes: None,
            },
        }
    })
}

/// The clinic's sync figures for `/metrics`, read at each scrape: how many local changes the
/// hub has not acknowledged, how old the oldest is, how long since the last pull, and whether
/// the last exchange worked. None on a hub or a clinic without one.
pub(crate) fn sync_gauges(
    args: &SyncArgs,
    sync_store: &Arc<dyn store::sync::SyncStore>,
) -> Vec<(&'static str, &'static str, rest::observe::GaugeFn)> {
    if args.role != Role::Clinic || args.hub.is_none() {
        return Vec::new();
    }
    type Pick = fn(&sync::clinic::Status) -> Option<f64>;
    let read = |pick: Pick| -> rest::observe::GaugeFn {
        let sync_store = sync_store.clone();
        Box::new(move || {
            let now_ms = ehr::Clock::now_ms(&ehr::SystemClock);
            let status =
                sync::clinic::status_of(sync_store.as_ref(), "clinic", None, now_ms).ok()?;
            pick(&status)
        })
    };
    // Counts and milliseconds of a clinic stay far below 2^53: exact as f64.
    #[allow(clippy::cast_precision_loss)]
    let gauges: Vec<(&'static str, &'static str, rest::observe::GaugeFn)> = vec![
        (
            "sync_pending_changes",
            "Cambios locales que el hub no ha confirmado / Local changes the hub has not acknowledged",
            read(|s| Some(s.pending_outbound as f64)),
        ),
        (
            "sync_push_lag_seconds",
            "Antigüedad del cambio local más viejo sin confirmar / Age of the oldest unacknowledged local change",
            read(|s| Some(s.push_lag_ms as f64 / 1000.0)),
        ),
        (
            "sync_pull_lag_seconds",
            "Tiempo desde la última descarga del hub / Time since the last pull from the hub",
            read(|s| s.pull_lag_ms.map(|ms| ms as f64 / 1000.0)),
        ),
        (
            "sync_online",
            "1 si el último intercambio con el hub funcionó / 1 if the last exchange with the hub worked",
            read(|s| s.online.map(|up| if up { 1.0 } else { 0.0 })),
        ),
    ];
    gauges
}

/// `/sync/status` and `/sync/conflicts` name records and nodes: only authenticated users see
/// them (the `/sync` exchange endpoints check node credentials themselves).
fn guard_sync_reports(app: axum::Router, gate: FetchGate) -> axum::Router {
    app.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let gate = gate.clone();
            async move {
                let report = matches!(request.uri().path(), "/sync/status" | "/sync/conflicts");
                if report && !gate(request.headers()) {
                    return axum::response::IntoResponse::into_response((
                        axum::http::StatusCode::UNAUTHORIZED,
                        [(
                            axum::http::header::WWW_AUTHENTICATE,
                            "Bearer realm=\"expediente\"",
                        )],
                        "{\"error\":\"se requiere autenticación / authentication required\"}",
                    ));
                }
                next.run(request).await
            }
        },
    ))
}

#[derive(Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Args)]
struct NodeTarget {
    /// Directorio de datos del nodo central / Hub data directory
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
    /// CLUES de la clínica / The clinic's CLUES
    #[arg(long)]
    clues: String,
}

#[derive(Subcommand)]
enum NodeCommand {
    /// Da de alta una clínica en el nodo central e imprime su credencial (última línea) /
    /// Enroll a clinic on the hub and print its credential (last line)
    Enroll(NodeTarget),
    /// Revoca la credencial de una clínica: deja de funcionar de inmediato /
    /// Revoke a clinic's credential: it stops working at once
    Revoke(NodeTarget),
    /// Da a una clínica una credencial nueva (última línea); la anterior deja de funcionar de
    /// inmediato / Give a clinic a new credential (last line); the old one stops working at once
    Rotate(NodeTarget),
}

/// The audit entry of an operator's change to a clinic's credential, on the hub's trail.
fn credential_audit(
    action: auth::audit::AuditAction,
    clues: &str,
    what_es: &str,
    now_ms: i64,
) -> auth::audit::AuditEntry {
    let operator = std::env::var("USER").unwrap_or_else(|_| "operador".into());
    let user = format!("cli:{operator}");
    auth::audit::AuditEntry {
        seq: 0,
        at_ms: now_ms,
        node: super::node_name(),
        user: user.clone(),
        user_display: user,
        role: Some(auth::role::Role::System),
        clues: Some(clues.to_string()),
        facility_name: None,
        action,
        resource_type: None,
        resource_id: None,
        patient_id: None,
        outcome: auth::audit::Outcome::Success,
        break_glass: false,
        source_ip: None,
        details: format!("credencial de sincronización del nodo {clues}: {what_es}"),
    }
}

pub fn run_node(args: NodeArgs) -> anyhow::Result<ExitCode> {
    let now_ms = ehr::Clock::now_ms(&ehr::SystemClock);
    let mut random = [0u8; sync::credential::TOKEN_RANDOM_BYTES];
    rand::fill(&mut random);
    use auth::audit::AuditAction;
    match args.command {
        NodeCommand::Enroll(NodeTarget {
            data,
            database,
            clues,
        }) => {
            let (store, _ehr) = super::open_node(&data, &database, false)?;
            let audit = credential_audit(AuditAction::TokenIssue, &clues, "alta", now_ms);
            let token =
                sync::hub::enroll(store.store.as_ref(), &clues, &random, now_ms, Some(audit))
                    .context("cannot enroll the node")?;
            store.close();
            println!(
                "Clínica {clues} dada de alta. Guarde esta credencial; no se vuelve a mostrar / Clinic {clues} enrolled. Keep this credential; it is not shown again:"
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Revoke(NodeTarget {
            data,
            database,
            clues,
        }) => {
            super::require_node(&data, &database)?;
            let (store, _ehr) = super::open_node(&data, &database, false)?;
            let audit = credential_audit(AuditAction::TokenRevoke, &clues, "revocada", now_ms);
            let revoked = sync::hub::revoke(store.store.as_ref(), &clues, now_ms, audit);
            store.close();
            revoked.context("cannot revoke the node's credential")?;
            println!(
                "Credencial de la clínica {clues} revocada: el nodo central ya no la acepta / Clinic {clues}'s credential revoked: the hub no longer accepts it"
            );
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Rotate(NodeTarget {
            data,
            database,
            clues,
        }) => {
            super::require_node(&data, &database)?;
            let (store, _ehr) = super::open_node(&data, &database, false)?;
            let audit = credential_audit(
                AuditAction::TokenIssue,
                &clues,
                "renovada (rotación)",
                now_ms,
            );
            let token = sync::hub::rotate(store.store.as_ref(), &clues, &random, now_ms, audit);
            store.close();
            let token = token.context("cannot rotate the node's credential")?;
            println!(
                "Credencial nueva de la clínica {clues}; la anterior ya no funciona. Guárdela; no se vuelve a mostrar / New credential for clinic {clues}; the old one no longer works. Keep it; it is not shown again:"
            );
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Args)]
pub struct SyncCmdArgs {
    #[command(subcommand)]
    command: SyncCommand,
}

#[derive(Subcommand)]
enum SyncCommand {
    /// Estado de la sincronización de un nodo, en JSON / A node's sync status, as JSON
    Status {
        /// Directorio de datos del nodo / Node data directory
        #[arg(long, default_value = "./expediente-data", env = "EXPEDIENTE_DATA")]
        data: PathBuf,
        #[command(flatten)]
        database: super::database::DatabaseArg,
    },
}

pub fn run_sync(args: SyncCmdArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SyncCommand::Status { data, database } => {
            super::require_node(&data, &database)?;
            let (store, _ehr) = super::open_node(&data, &database, false)?;
            let sync_store: &dyn store::sync::SyncStore = store.sync.as_ref();
            let node_id = sync_store.node_id()?;
            let role = if node_id.as_deref() == Some(sync::hub::HUB_NODE_ID) {
                "hub"
            } else {
                "clinic"
            };
            let now_ms = ehr::Clock::now_ms(&ehr::SystemClock);
            let status = sync::clinic::status_of(sync_store, role, None, now_ms)?;
            println!("{}", serde_json::to_string_pretty(&status)?);
            store.close();
            Ok(ExitCode::SUCCESS)
        }
    }
}
