//! `expediente user …`, `expediente token issue` and `expediente audit verify`: the operator's
//! tools for accounts, integration tokens and the audit trail. They open the node's store
//! directly, so they work while `serve` runs beside them (SQLite serialises the writers, and
//! the audit chain is extended under the write lock).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};

/// The OS user running a CLI tool, for the audit trail.
fn operator() -> ehr::Requester {
    let name = std::env::var("USER").unwrap_or_else(|_| "operador".into());
    ehr::Requester::local_system(&format!("cli:{name}"))
}

fn ehr_error(err: ehr::Error) -> anyhow::Error {
    let messages: Vec<String> = err
        .issues()
        .iter()
        .map(|i| format!("{} / {}", i.message_es, i.message_en))
        .collect();
    anyhow!("{}", messages.join("; "))
}

#[derive(Args)]
pub struct UserArgs {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Crea una cuenta / Create an account
    Add(UserAdd),
    /// Lista las cuentas / List accounts
    List(DataArg),
    /// Deshabilita una cuenta / Disable an account
    Disable(UserName),
    /// Habilita una cuenta / Enable an account
    Enable(UserName),
    /// Cambia la contraseña (leída de stdin) y desbloquea / Reset the password (from stdin) and unlock
    ResetPassword(UserName),
}

#[derive(Args)]
struct DataArg {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data")]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
}

#[derive(Args)]
struct UserName {
    #[arg(long, default_value = "./expediente-data")]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
    #[arg(long)]
    username: String,
}

#[derive(Args)]
struct UserAdd {
    #[arg(long, default_value = "./expediente-data")]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
    #[arg(long)]
    username: String,
    /// physician, nurse, receptionist, epidemiologist, auditor, admin, patient, system
    #[arg(long)]
    role: String,
    /// CLUES de la unidad / Facility CLUES
    #[arg(long)]
    clues: Option<String>,
    /// Practitioner vinculado / Linked Practitioner id
    #[arg(long, conflicts_with = "patient")]
    practitioner: Option<String>,
    /// Patient vinculado / Linked Patient id
    #[arg(long)]
    patient: Option<String>,
    /// Nombre para mostrar / Display name
    #[arg(long, default_value = "")]
    name: String,
    /// Lee la contraseña de stdin / Read the password from standard input
    #[arg(long)]
    password_stdin: bool,
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if !from_stdin {
        return Err(anyhow!(
            "indique --password-stdin y escriba la contraseña en la entrada estándar / pass --password-stdin and the password on standard input"
        ));
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the password from stdin")?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

pub fn run_user(args: UserArgs) -> anyhow::Result<ExitCode> {
    let cost = auth::password::HashCost::RECOMMENDED;
    match args.command {
        UserCommand::Add(add) => {
            let role = auth::role::Role::parse(&add.role)
                .ok_or_else(|| anyhow!("rol desconocido / unknown role: {}", add.role))?;
            let password = if role == auth::role::Role::System && !add.password_stdin {
                String::new()
            } else {
                read_password(add.password_stdin)?
            };
            let (store, ehr) = super::open_node(&add.data, &add.database, false)?;
            ehr.add_account(
                &operator(),
                ehr::NewAccount {
                    username: add.username.clone(),
                    role,
                    clues: add.clues,
                    practitioner_id: add.practitioner,
                    patient_id: add.patient,
                    display_name: add.name,
                },
                &password,
                cost,
            )
            .map_err(ehr_error)?;
            ehr.close_audit();
            store.close();
            println!("Cuenta creada / account created: {}", add.username);
        }
        UserCommand::List(data) => {
            super::require_node(&data.data, &data.database)?;
            let (store, ehr) = super::open_node(&data.data, &data.database, false)?;
            for account in ehr.accounts().map_err(ehr_error)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    account.username,
                    account.role,
                    account.clues.as_deref().unwrap_or("-"),
                    if account.disabled {
                        "deshabilitada"
                    } else {
                        "activa"
                    },
                    account.display_name
                );
            }
            ehr.close_audit();
            store.close();
        }
        UserCommand::Disable(user) => change(&user, Some(true), None)?,
        UserCommand::Enable(user) => change(&user, Some(false), None)?,
        UserCommand::ResetPassword(user) => {
            let password = read_password(true)?;
            change(&user, None, Some(&password))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn change(user: &UserName, disabled: Option<bool>, password: Option<&str>) -> anyhow::Result<()> {
    super::require_node(&user.data, &user.database)?;
    let (store, ehr) = super::open_node(&user.data, &user.database, false)?;
    ehr.change_account(
        &operator(),
        &user.username,
        disabled,
        password,
        auth::password::HashCost::RECOMMENDED,
    )
    .map_err(ehr_error)?;
    ehr.close_audit();
    store.close();
    println!("Cuenta actualizada / account updated: {}", user.username);
    Ok(())
}

#[derive(Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Emite un token firmado (última línea) / Issue a signed token (last line)
    Issue(TokenIssue),
}

#[derive(Args)]
struct TokenIssue {
    #[arg(long, default_value = "./expediente-data")]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
    #[arg(long)]
    user: String,
    /// Debe coincidir con el rol de la cuenta / Must match the account's role
    #[arg(long)]
    role: String,
    /// Debe coincidir con la CLUES de la cuenta / Must match the account's CLUES
    #[arg(long)]
    clues: Option<String>,
    /// Contexto de paciente (SMART launch/patient) / Patient context
    #[arg(long)]
    patient: Option<String>,
    /// Alcances SMART, p. ej. "user/*.rs" / SMART scopes
    #[arg(long)]
    scope: Option<String>,
    /// Vigencia, p. ej. 15m, 8h / Time to live
    #[arg(long)]
    ttl: Option<String>,
}

fn parse_ttl(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: i64 = number
        .parse()
        .map_err(|_| anyhow!("vigencia no válida / invalid ttl: {text}"))?;
    let factor = match unit {
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(anyhow!("vigencia no válida / invalid ttl: {text}")),
    };
    Ok(value.saturating_mul(factor))
}

pub fn run_token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let TokenCommand::Issue(issue) = args.command;
    let ttl_ms = issue.ttl.as_deref().map(parse_ttl).transpose()?;
    super::require_node(&issue.data, &issue.database)?;
    let keys = auth::token::KeyStore::load_or_create(&issue.data)
        .map_err(|err| anyhow!("{} ({err})", err.message_es()))?;
    let (store, ehr) = super::open_node(&issue.data, &issue.database, false)?;
    // The node's clock, as `serve` sees it (tests shift it to simulate wrong clinic clocks).
    let ehr = super::node::serve_ehr(store.store.clone(), ehr);
    let mut account = ehr
        .accounts()
        .map_err(ehr_error)?
        .into_iter()
        .find(|a| a.username == issue.user)
        .ok_or_else(|| anyhow!("no existe la cuenta / no such account: {}", issue.user))?;
    if account.role != issue.role {
        return Err(anyhow!(
            "la cuenta {} tiene el rol {}, no {} / the account's role is {}",
            account.username,
            account.role,
            issue.role,
            account.role
        ));
    }
    if issue.clues.is_some() && issue.clues != account.clues {
        return Err(anyhow!(
            "la CLUES no coincide con la de la cuenta / CLUES does not match the account's"
        ));
    }
    if let Some(patient) = issue.patient {
        if account.role == "patient" && account.patient_id.as_deref() != Some(patient.as_str()) {
            return Err(anyhow!(
                "un paciente solo puede tener su propio contexto / a patient can only have their own context"
            ));
        }
        account.patient_id = Some(patient);
    }
    let issued = ehr
        .issue_token(&operator(), &keys, &account, issue.scope.as_deref(), ttl_ms)
        .map_err(ehr_error)?;
    ehr.close_audit();
    store.close();
    eprintln!(
        "Token para {} (rol {}, alcances «{}»), vence en {} s:",
        account.username,
        account.role,
        issued.claims.scope,
        issued.claims.exp - issued.claims.iat
    );
    println!("{}", issued.token);
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verifica la cadena de la bitácora y sus anclas firmadas / Verify the audit hash chain and
    /// its signed anchors
    Verify(AuditVerify),
}

#[derive(Args)]
struct AuditVerify {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data")]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
    /// En el nodo central: la clínica (CLUES) cuyas anclas revisar / On the hub: the clinic
    /// (CLUES) whose anchors to check
    // Not `EXPEDIENTE_NODE`: that variable names this node in its audit trail.
    #[arg(long, env = "EXPEDIENTE_VERIFY_NODE")]
    node: Option<String>,
    /// Copia del directorio de datos de esa clínica, para revisar su bitácora contra las anclas
    /// que envió / A copy of that clinic's data directory, to check its trail against the
    /// anchors it shipped
    #[arg(long, requires = "node")]
    trail: Option<PathBuf>,
}

/// The chain of a store: `None` when intact (with the number of entries printed), or the
/// problem found.
pub(crate) fn verify_chain(ehr: &ehr::Ehr, label: &str) -> Option<String> {
    match ehr.verify_audit_chain() {
        Ok(Ok(entries)) => {
            println!(
                "{label}: cadena íntegra, {entries} entradas verificadas / chain intact: {entries} entries"
            );
            None
        }
        Ok(Err(err)) => Some(format!("{} / {err:?}", err.message_es())),
        Err(err) => Some(format!("ilegible / unreadable: {}", ehr_error(err))),
    }
}

fn findings_text(findings: Vec<sync::anchor::Finding>) -> Vec<String> {
    findings
        .into_iter()
        .map(|f| format!("{} / {}", f.es, f.en))
        .collect()
}

/// The node's own public key, as its anchors carry it (read, never created here).
fn own_public_key(data: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(data.join("keys").join("token-ed25519.pub"))
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}

pub fn run_audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let AuditCommand::Verify(verify) = args.command;
    super::require_node(&verify.data, &verify.database)?;
    let (store, ehr) = super::open_node(&verify.data, &verify.database, false)?;
    let outcome = audit_problems(&verify, &store, &ehr);
    ehr.close_audit();
    store.close();
    let problems = outcome?;
    if problems.is_empty() {
        println!("Bitácora íntegra / audit trail intact");
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        println!("BITÁCORA ALTERADA: {problem} / AUDIT TRAIL ALTERED");
    }
    Ok(ExitCode::from(2))
}

/// Everything wrong with the trail(s) `verify` names.
fn audit_problems(
    verify: &AuditVerify,
    db: &super::database::Database,
    ehr: &ehr::Ehr,
) -> anyhow::Result<Vec<String>> {
    let sync_store: &dyn store::sync::SyncStore = db.sync.as_ref();
    let mut problems = Vec::new();
    let Some(node) = &verify.node else {
        // This node's own trail: its chain, then its own signed heads (a clinic that syncs) or
        // the heads every clinic shipped (the hub).
        if let Some(problem) = verify_chain(ehr, "Este nodo / this node") {
            problems.push(problem);
            return Ok(problems);
        }
        match sync_store.node_id()?.as_deref() {
            Some(sync::hub::HUB_NODE_ID) => {
                for (clinic, _) in sync_store.nodes()? {
                    let anchors = sync::anchor::all_anchors(sync_store, &clinic)?;
                    problems.extend(findings_text(sync::anchor::check_sequence(&anchors)));
                }
            }
            Some(own) => {
                let anchors = sync::anchor::all_anchors(sync_store, own)?;
                let key = own_public_key(&verify.data);
                let findings =
                    sync::anchor::check_trail(db.store.as_ref(), &anchors, key.as_deref())?;
                println!(
                    "Anclas firmadas revisadas: {} / signed anchors checked: {}",
                    anchors.len(),
                    anchors.len()
                );
                problems.extend(findings_text(findings));
            }
            None => {}
        }
        return Ok(problems);
    };
    // On the hub: a clinic's shipped heads, alone and against a copy of its trail.
    let anchors = sync::anchor::all_anchors(sync_store, node)?;
    println!(
        "Anclas de {node} en este nodo central: {} / {node}'s anchors on this hub: {}",
        anchors.len(),
        anchors.len()
    );
    problems.extend(findings_text(sync::anchor::check_sequence(&anchors)));
    if let Some(trail) = &verify.trail {
        let (copy_store, copy_ehr) = super::open_node(trail, &Default::default(), false)
            .with_context(|| format!("cannot open the trail copy in {}", trail.display()))?;
        let label = format!("Copia de {node} / copy of {node}");
        match verify_chain(&copy_ehr, &label) {
            Some(problem) => problems.push(format!("{label}: {problem}")),
            None => {
                let key = anchors.first().map(|a| a.public_key.clone());
                let findings =
                    sync::anchor::check_trail(copy_store.store.as_ref(), &anchors, key.as_deref());
                match findings {
                    Ok(findings) => problems.extend(findings_text(findings)),
                    Err(err) => problems.push(format!("{label}: {err}")),
                }
            }
        }
        copy_ehr.close_audit();
        copy_store.close();
    }
    Ok(problems)
}
