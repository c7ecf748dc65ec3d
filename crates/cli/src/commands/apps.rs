//! `expediente app …`: the SMART apps an administrator registers (issue 18). Like `user …`,
//! it opens the node's store directly and acts as the local operator, audited.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct AppArgs {
    #[command(subcommand)]
    command: AppCommand,
}

#[derive(Subcommand)]
enum AppCommand {
    /// Registra una aplicación SMART / Register a SMART app
    Add(AppAdd),
    /// Lista las aplicaciones / List the apps
    List(AppData),
    /// Da de baja una aplicación / Remove an app
    Remove(AppRemove),
}

#[derive(Args)]
struct AppData {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data")]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
}

#[derive(Args)]
struct AppRemove {
    #[command(flatten)]
    node: AppData,
    #[arg(long)]
    client_id: String,
}

#[derive(Args)]
struct AppAdd {
    #[command(flatten)]
    node: AppData,
    /// Identificador OAuth / OAuth client_id
    #[arg(long)]
    client_id: String,
    /// Nombre que ve el usuario al dar su consentimiento / Name shown on the consent page
    #[arg(long, default_value = "")]
    name: String,
    /// URI de redirección exacta (repetible) / Exact redirect URI (repeatable)
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Aplicación pública (sin secreto; PKCE) / Public app (no secret; PKCE)
    #[arg(long, conflicts_with_all = ["secret_stdin", "jwks_file"])]
    public: bool,
    /// Aplicación confidencial: lee su secreto de stdin / Confidential app: read its secret from stdin
    #[arg(long)]
    secret_stdin: bool,
    /// Servicio (backend services): su JWKS con las claves públicas / Backend service: its JWKS
    #[arg(long)]
    jwks_file: Option<PathBuf>,
    /// Alcances máximos (separados por espacios) / Most scopes it may be granted (space-separated)
    #[arg(long)]
    scopes: Option<String>,
    /// URL de lanzamiento desde el expediente (SMART EHR launch) / EHR launch URL
    #[arg(long)]
    launch_url: Option<String>,
}

fn ehr_error(err: ehr::Error) -> anyhow::Error {
    let messages: Vec<String> = err
        .issues()
        .iter()
        .map(|i| format!("{} / {}", i.message_es, i.message_en))
        .collect();
    anyhow!("{}", messages.join("; "))
}

fn operator() -> ehr::Requester {
    let name = std::env::var("USER").unwrap_or_else(|_| "operador".into());
    ehr::Requester::local_system(&format!("cli:{name}"))
}

pub fn run(args: AppArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AppCommand::Add(add) => {
            if !add.public && !add.secret_stdin && add.jwks_file.is_none() {
                return Err(anyhow!(
                    "indique --public, --secret-stdin o --jwks-file / pass --public, --secret-stdin or --jwks-file"
                ));
            }
            let secret = if add.secret_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read the secret from stdin")?;
                Some(text.trim().to_string())
            } else {
                None
            };
            let jwks = match &add.jwks_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                ),
                None => None,
            };
            let (store, ehr) = super::open_node(&add.node.data, &add.node.database, false)?;
            let app = ehr
                .add_app(
                    &operator(),
                    ehr::smart::NewApp {
                        client_id: add.client_id,
                        name: add.name,
                        redirect_uris: add.redirect_uris,
                        secret,
                        jwks,
                        scopes: add.scopes,
                        launch_url: add.launch_url,
                    },
                )
                .map_err(ehr_error);
            ehr.close_audit();
            store.close();
            let app = app?;
            println!(
                "Aplicación registrada / app registered: {} ({})",
                app.client_id, app.scopes
            );
        }
        AppCommand::List(node) => {
            super::require_node(&node.data, &node.database)?;
            let (store, ehr) = super::open_node(&node.data, &node.database, false)?;
            let apps = ehr.apps().map_err(ehr_error);
            ehr.close_audit();
            store.close();
            for app in apps? {
                let kind = if !app.jwks.is_empty() {
                    "servicio"
                } else if app.confidential {
                    "confidencial"
                } else {
                    "publica"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    app.client_id,
                    kind,
                    app.redirect_uris.join(" "),
                    app.scopes,
                    app.name,
                    app.launch_url
                );
            }
        }
        AppCommand::Remove(remove) => {
            super::require_node(&remove.node.data, &remove.node.database)?;
            let (store, ehr) = super::open_node(&remove.node.data, &remove.node.database, false)?;
            let outcome = ehr
                .remove_app(&operator(), &remove.client_id)
                .map_err(ehr_error);
            ehr.close_audit();
            store.close();
            outcome?;
            println!(
                "Aplicación dada de baja / app removed: {}",
                remove.client_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
