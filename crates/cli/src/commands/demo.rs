//! `expediente demo`: the README's first command. On an empty data directory it generates a
//! small synthetic population, imports it and serves; on an existing one it just serves.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser};

#[derive(Args, Clone)]
pub struct DemoArgs {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data")]
    pub data: PathBuf,
    /// Dirección de escucha / Listen address
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Pacientes sintéticos a generar / Synthetic patients to generate
    #[arg(long, default_value_t = 2_000)]
    pub patients: u64,
    /// Clínicas a las que pertenecen / Clinics they belong to
    #[arg(long, default_value_t = 6)]
    pub clinics: u32,
    /// Semilla / Seed
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Solo preparar los datos, sin servir / Prepare the data, do not serve
    #[arg(long)]
    pub no_serve: bool,
}

/// Lets the demo build `synth::GenerateArgs` through the same parser users go through.
#[derive(Parser)]
struct GenerateCommand {
    #[command(flatten)]
    args: synth::GenerateArgs,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if super::database::sqlite_file_exists(&args.data) {
        println!("Usando los datos existentes en {}", args.data.display());
        let accounts = args.data.join(DEMO_ACCOUNTS_FILE);
        if accounts.exists() {
            println!("Cuentas de demostración en {}", accounts.display());
        }
    } else {
        prepare(&args)?;
    }
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    println!();
    println!(
        "Interfaz clínica: http://{}/  (cuentas y contraseñas en {})",
        args.listen,
        args.data.join(DEMO_ACCOUNTS_FILE).display()
    );
    println!(
        "API FHIR: http://{}/fhir/metadata (token: POST http://{}/auth/token)",
        args.listen, args.listen
    );
    println!("Detener con Ctrl-C.");
    super::serve::run(super::serve::ServeArgs {
        data: args.data,
        database: super::database::DatabaseArg::default(),
        listen: args.listen,
        body_limit_bytes: rest::BODY_LIMIT_BYTES_DEFAULT,
        base_url: None,
        tls_cert: None,
        tls_key: None,
        rate_limit_per_minute: rest::PERSON_REQUESTS_PER_MINUTE_DEFAULT,
        metrics_token: None,
        sync: Default::default(),
    })
}

fn prepare(args: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let generated = args.data.join("demo-ndjson");
    std::fs::create_dir_all(&generated)
        .with_context(|| format!("cannot create {}", generated.display()))?;
    println!(
        "Generando {} pacientes sintéticos en {} clínicas…",
        args.patients, args.clinics
    );
    let command = GenerateCommand::try_parse_from([
        "generate".to_string(),
        "--patients".to_string(),
        args.patients.to_string(),
        "--seed".to_string(),
        args.seed.to_string(),
        "--clinics".to_string(),
        args.clinics.to_string(),
        "--out".to_string(),
        generated.display().to_string(),
    ])
    .context("demo generator arguments")?;
    super::generate::run(&command.args)?;
    println!("Importando…");
    let files = super::import::expand(std::slice::from_ref(&generated))?;
    let (store, ehr) = super::open_node(&args.data, &Default::default(), true)?;
    let import_started = Instant::now();
    let report = ehr::import_source(
        &ehr,
        &ehr::Requester::local_system("demo"),
        &super::import::sources(&files),
        false,
        &|_| {},
    )
    .map_err(|err| anyhow::anyhow!("{err}: {:?}", err.issues()))?;
    let accounts = demo_accounts(&ehr, &args.data)?;
    ehr.close_audit();
    store.close();
    super::import::print_report(&report, import_started.elapsed().as_secs_f64(), false);
    println!();
    println!(
        "Cuentas de demostración (también en {}):",
        accounts.display()
    );
    if let Ok(text) = std::fs::read_to_string(&accounts) {
        print!("{text}");
    }
    println!(
        "Nodo de demostración listo en {:.1} s ({}).",
        started.elapsed().as_secs_f64(),
        args.data.display()
    );
    Ok(())
}

/// Where the demo writes its accounts and their generated passwords.
const DEMO_ACCOUNTS_FILE: &str = "cuentas-demo.txt";

/// One account per role at the first demo clinic (and a patient of it), with random
/// passwords written to a file only the owner can read: synthetic data, but no shared default
/// password that could end up on a real node.
fn demo_accounts(ehr: &ehr::Ehr, data: &std::path::Path) -> anyhow::Result<PathBuf> {
    use rand::Rng;
    let tool = ehr::Requester::local_system("demo");
    let first = |resource_type: &str,
                 params: &[(&str, &str)]|
     -> anyhow::Result<Option<serde_json::Value>> {
        let request = ehr::SearchRequest {
            resource_type: resource_type.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            handling: search::Handling::Lenient,
        };
        let (page, _) = ehr
            .search(&tool, &request)
            .map_err(|err| anyhow::anyhow!("{err}: {:?}", err.issues()))?;
        Ok(match page.matches.first() {
            Some(stored) => Some(serde_json::from_str(&stored.body)?),
            None => None,
        })
    };
    // The clinic of the first registered patient: its staff then have a care relationship
    // with that patient, whose record is the demo's natural first stop.
    let clues_system = mexico::systems::CLUES;
    let patient = first(
        "Patient",
        &[("organization:missing", "false"), ("_count", "1")],
    )?;
    let patient_id = patient
        .as_ref()
        .and_then(|p| p["id"].as_str().map(str::to_string));
    let org_id = patient
        .as_ref()
        .and_then(|p| p["managingOrganization"]["reference"].as_str())
        .and_then(|r| r.strip_prefix("Organization/"))
        .map(str::to_string);
    let clinic = match &org_id {
        Some(id) => first("Organization", &[("_id", id.as_str())])?,
        None => None,
    };
    let clues = clinic
        .as_ref()
        .and_then(|org| org["identifier"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .find(|i| i["system"] == clues_system)
        .and_then(|i| i["value"].as_str().map(str::to_string));
    let mut rng = rand::rng();
    let mut lines = String::new();
    let plan: Vec<(&str, auth::role::Role, &str)> = vec![
        ("medica", auth::role::Role::Physician, "Dra. Ana López Ruiz"),
        ("enfermero", auth::role::Role::Nurse, "Enf. Luis Pérez Soto"),
        (
            "recepcion",
            auth::role::Role::Receptionist,
            "Recepción (demostración)",
        ),
        (
            "auditora",
            auth::role::Role::Auditor,
            "Auditoría (demostración)",
        ),
        (
            "identidad",
            auth::role::Role::Steward,
            "Gestión de identidad (demostración)",
        ),
        (
            "epidemiologa",
            auth::role::Role::Epidemiologist,
            "Epidemiología (demostración)",
        ),
        (
            "admin",
            auth::role::Role::Admin,
            "Administración (demostración)",
        ),
        (
            "paciente",
            auth::role::Role::Patient,
            "Paciente (demostración)",
        ),
    ];
    // The demo physician is a Practitioner of the record, with a cédula profesional, so that
    // what she signs and prints (notes, recetas) names her as a pharmacy expects. The number
    // is fictitious (the demo's): eight digits, the format of the SEP's register.
    let physician = {
        let practitioner = serde_json::json!({
            "resourceType": "Practitioner",
            "active": true,
            "identifier": [{"system": mexico::systems::CEDULA, "value": "12345678"}],
            "name": [{"use": "official", "text": "Dra. Ana López Ruiz", "family": "López Ruiz", "given": ["Ana"], "prefix": ["Dra."]}],
            "qualification": [{
                "identifier": [{"system": mexico::systems::CEDULA, "value": "12345678"}],
                "code": {"text": "Médica cirujana"}
            }]
        });
        let json = fhir::json::parse_str(&practitioner.to_string())
            .map_err(|err| anyhow::anyhow!("demo practitioner: {err}"))?;
        ehr.create(&tool, "Practitioner", json, None)
            .map_err(|err| anyhow::anyhow!("{err}: {:?}", err.issues()))?
            .resource
            .id
    };
    for (username, role, name) in plan {
        let facility = role.requires_clues();
        if (facility && clues.is_none())
            || (role == auth::role::Role::Patient && patient_id.is_none())
        {
            continue;
        }
        let password: String = (0..16)
            .map(|_| {
                const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
                CHARS[rng.random_range(0..CHARS.len())] as char
            })
            .collect();
        let account = ehr::NewAccount {
            username: username.into(),
            role,
            clues: if facility { clues.clone() } else { None },
            practitioner_id: (role == auth::role::Role::Physician).then(|| physician.clone()),
            patient_id: if role == auth::role::Role::Patient {
                patient_id.clone()
            } else {
                None
            },
            display_name: name.into(),
        };
        ehr.add_account(
            &tool,
            account,
            &password,
            auth::password::HashCost::RECOMMENDED,
        )
        .map_err(|err| anyhow::anyhow!("{err}: {:?}", err.issues()))?;
        lines.push_str(&format!(
            "  {username:<10} {password}  ({}{})\n",
            role.label_es(),
            if facility {
                format!(", CLUES {}", clues.as_deref().unwrap_or(""))
            } else {
                String::new()
            }
        ));
    }
    let path = data.join(DEMO_ACCOUNTS_FILE);
    // Created 0600 (never briefly world-readable): it holds passwords.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let write = |options: &std::fs::OpenOptions| -> std::io::Result<()> {
        use std::io::Write;
        let mut file = options.open(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(lines.as_bytes())?;
        file.sync_all()
    };
    write(&options).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
