//! `expediente mpi …`: the labelled data sets and the benchmarks of the master patient index.
//!
//! * `population` writes synthetic people (households with siblings, twins and homonyms, from
//!   `mpi::synthetic`) as FHIR Patients, to fill a node for the `$match` benchmark.
//! * `duplicates` re-registers a fraction of a population (ours or `expediente generate`'s
//!   `Patient.ndjson`) with the errors clerks make, and writes the ground truth alongside.
//! * `evaluate` runs the quality benchmark of issue 3 in memory: people, 10 % duplicates, the
//!   engine's blocking scan, and the precision/recall table per grade and per error kind.
//! * `bench-match` times `Patient/$match` (the use case, no HTTP) against a node's store.
//!
//! Everything is seeded: the same arguments give the same files and the same table.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use mpi::{BlockIndex, ErrorRates, MatchGrade, PersonRecord};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

#[derive(Args)]
pub struct MpiArgs {
    #[command(subcommand)]
    command: MpiCommand,
}

#[derive(Subcommand)]
enum MpiCommand {
    /// Escribe personas sintéticas como Patient NDJSON / Write synthetic people as Patient NDJSON
    Population(PopulationArgs),
    /// Re-registra una fracción con errores de captura y escribe la verdad / Re-register a fraction with clerk errors, plus ground truth
    Duplicates(DuplicatesArgs),
    /// Mide precisión y exhaustividad del pareo / Measure matching precision and recall
    Evaluate(EvaluateArgs),
    /// Mide la latencia de Patient/$match sobre un nodo / Time Patient/$match on a node
    BenchMatch(BenchMatchArgs),
    /// Compara la lista de revisión (Task) de un nodo con la verdad / Score a node's review list against the truth
    ReviewReport(ReviewReportArgs),
    /// Barrido completo de duplicados de un nodo; abre tareas de revisión / Full duplicate scan of a node; opens review tasks
    Scan(ScanArgs),
}

#[derive(Args)]
struct ScanArgs {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data", env = "EXPEDIENTE_DATA")]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
    /// Hilos del barrido / Scan threads
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Solo contar, sin abrir tareas / Count only, open no tasks
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args)]
struct ReviewReportArgs {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data", env = "EXPEDIENTE_DATA")]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
    /// truth.ndjson escrito por `mpi duplicates` / written by `mpi duplicates`
    #[arg(long)]
    truth: PathBuf,
}

#[derive(Args)]
struct PopulationArgs {
    /// Personas / People
    #[arg(long, default_value_t = 10_000)]
    patients: usize,
    /// Semilla / Seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directorio de salida (se escribe Patient.ndjson) / Output directory (Patient.ndjson)
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct DuplicatesArgs {
    /// Población: directorio con Patient.ndjson, o el archivo / Population: directory with Patient.ndjson, or the file
    #[arg(long)]
    population: PathBuf,
    /// Directorio de salida / Output directory
    #[arg(long)]
    out: PathBuf,
    /// Fracción de personas re-registradas / Share of people registered again
    #[arg(long, default_value_t = 0.10)]
    rate: f64,
    /// Semilla / Seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// JSON con tasas de error (las que falten quedan por omisión) / JSON of error rates (missing ones keep their default)
    #[arg(long)]
    error_rates: Option<PathBuf>,
}

#[derive(Args)]
struct EvaluateArgs {
    /// Personas generadas en memoria / People generated in memory
    #[arg(long, default_value_t = 100_000)]
    patients: usize,
    /// Fracción re-registrada con errores / Share registered again with errors
    #[arg(long, default_value_t = 0.10)]
    rate: f64,
    /// Semilla / Seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Usar esta población (Patient.ndjson) en vez de generar / Use this population instead of generating one
    #[arg(long)]
    population: Option<PathBuf>,
    /// Sin CURP en ningún registro (el caso difícil) / No CURP on any registration (the hard case)
    #[arg(long)]
    no_curp: bool,
    /// Hilos del barrido / Scan threads
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// JSON con tasas de error / JSON of error rates
    #[arg(long)]
    error_rates: Option<PathBuf>,
    /// Escribir el informe también como JSON / Also write the report as JSON
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
struct BenchMatchArgs {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data", env = "EXPEDIENTE_DATA")]
    data: PathBuf,
    #[command(flatten)]
    database: super::database::DatabaseArg,
    /// Consultas / Queries
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    /// Semilla / Seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub fn run(args: MpiArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MpiCommand::Population(args) => population(&args),
        MpiCommand::Duplicates(args) => duplicates(&args),
        MpiCommand::Evaluate(args) => evaluate(&args),
        MpiCommand::BenchMatch(args) => bench_match(&args),
        MpiCommand::ReviewReport(args) => review_report(&args),
        MpiCommand::Scan(args) => scan(&args),
    }
}

// ---------------------------------------------------------------------------------------------
// Person ↔ Patient
// ---------------------------------------------------------------------------------------------

const CURP_SYSTEM: &str = mpi::record::CURP_SYSTEM;

/// A registration as an R4 Patient in the shape our nodes store (surnames tagged with the R4
/// `fathers-family` / `mothers-family` extensions, so they read back exactly).
pub(crate) fn patient_json(record: &PersonRecord, id: &str) -> Value {
    let mut patient = serde_json::Map::new();
    patient.insert("resourceType".into(), json!("Patient"));
    patient.insert("id".into(), json!(id));
    if let Some(state) = &record.birth_state {
        patient.insert(
            "extension".into(),
            json!([{"url": mpi::record::BIRTH_STATE_EXTENSION, "valueString": state}]),
        );
    }
    if let Some(curp) = &record.curp {
        patient.insert(
            "identifier".into(),
            json!([{"use": "official", "system": CURP_SYSTEM, "value": curp}]),
        );
    }
    let mut name = serde_json::Map::new();
    name.insert("use".into(), json!("official"));
    let mut family = record.first_surname.clone();
    let mut tags = vec![
        json!({"url": mpi::record::FATHERS_FAMILY_EXTENSION, "valueString": record.first_surname}),
    ];
    if let Some(second) = record.second_surname.as_deref().filter(|s| !s.is_empty()) {
        family = format!("{family} {second}");
        tags.push(json!({"url": mpi::record::MOTHERS_FAMILY_EXTENSION, "valueString": second}));
    }
    if !family.trim().is_empty() {
        name.insert("family".into(), json!(family));
        name.insert("_family".into(), json!({"extension": tags}));
    }
    let given: Vec<&str> = record.given_names.split_whitespace().collect();
    if !given.is_empty() {
        name.insert("given".into(), json!(given));
    }
    patient.insert("name".into(), Value::Array(vec![Value::Object(name)]));
    if let Some(phone) = &record.phone {
        patient.insert(
            "telecom".into(),
            json!([{"system": "phone", "value": phone, "use": "mobile"}]),
        );
    }
    if let Some(sex) = record.sex {
        patient.insert("gender".into(), json!(sex.fhir_code()));
    }
    if let Some(date) = &record.birth_date {
        patient.insert("birthDate".into(), json!(date));
    }
    if let Some(state) = &record.address_state {
        patient.insert(
            "address".into(),
            json!([{"use": "home", "state": state, "country": "MX"}]),
        );
    }
    Value::Object(patient)
}

/// A seeded UUID-shaped id (v4 layout), so a seed reproduces the same files.
fn seeded_id(rng: &mut impl Rng) -> String {
    let bytes: [u8; 16] = rng.random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

fn read_population(path: &Path) -> anyhow::Result<Vec<(String, Value)>> {
    let file_path = if path.is_dir() {
        path.join("Patient.ndjson")
    } else {
        path.to_path_buf()
    };
    let file = File::open(&file_path)
        .with_context(|| format!("no se puede abrir / cannot open {}", file_path.display()))?;
    let mut patients = Vec::new();
    for (idx, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .with_context(|| format!("{} línea {}", file_path.display(), idx + 1))?;
        if value["resourceType"] != "Patient" {
            continue;
        }
        let id = value["id"].as_str().unwrap_or("").to_string();
        patients.push((id, value));
    }
    Ok(patients)
}

fn error_rates(path: Option<&Path>) -> anyhow::Result<ErrorRates> {
    let defaults = ErrorRates::default();
    let Some(path) = path else {
        return Ok(defaults);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("no se puede leer / cannot read {}", path.display()))?;
    let overrides: Value = serde_json::from_str(&text).context("error-rates JSON")?;
    let mut merged = serde_json::to_value(defaults)?;
    match (merged.as_object_mut(), overrides.as_object()) {
        (Some(merged), Some(overrides)) => {
            for (key, value) in overrides {
                if !merged.contains_key(key) {
                    bail!(
                        "tasa desconocida / unknown rate `{key}`; válidas / valid: {}",
                        merged.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                }
                merged.insert(key.clone(), value.clone());
            }
        }
        _ => bail!("error-rates debe ser un objeto JSON / must be a JSON object"),
    }
    let rates: ErrorRates = serde_json::from_value(merged)?;
    rates
        .validate()
        .map_err(|e| anyhow::anyhow!(e.message_es()))?;
    Ok(rates)
}

fn write_lines(path: &Path, values: impl IntoIterator<Item = Value>) -> anyhow::Result<usize> {
    let file = File::create(path)
        .with_context(|| format!("no se puede crear / cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let mut count = 0;
    for value in values {
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    Ok(count)
}

// ---------------------------------------------------------------------------------------------
// Subcommands
// ---------------------------------------------------------------------------------------------

/// The synthetic generator does not apply RENAPO's inconvenient-word rule; the node's validator
/// does, so those CURPs get the X RENAPO would have written (and a new check digit).
fn renapo_curp(curp: &str) -> Option<String> {
    match mexico::curp::validate(curp) {
        Ok(_) => Some(curp.to_string()),
        Err(mexico::curp::CurpError::InconvenientWord { .. }) => {
            let mut fixed: String = curp.chars().take(17).collect();
            fixed.replace_range(1..2, "X");
            let digit = mexico::curp::check_digit(&fixed)?;
            fixed.push(digit);
            mexico::curp::validate(&fixed).ok().map(String::from)
        }
        Err(_) => None,
    }
}

fn population(args: &PopulationArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut people = mpi::synthetic::synthetic_population(args.patients, &mut rng);
    for person in &mut people {
        person.curp = person.curp.as_deref().and_then(renapo_curp);
    }
    let mut ids = ChaCha8Rng::seed_from_u64(args.seed ^ 0x5EED);
    let path = args.out.join("Patient.ndjson");
    let count = write_lines(
        &path,
        people
            .iter()
            .map(|person| patient_json(person, &seeded_id(&mut ids))),
    )?;
    println!("{count} pacientes / patients → {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn duplicates(args: &DuplicatesArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.rate) {
        bail!("--rate debe estar entre 0 y 1 / must be between 0 and 1");
    }
    let rates = error_rates(args.error_rates.as_deref())?;
    let population = read_population(&args.population)?;
    std::fs::create_dir_all(&args.out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let mut patients = Vec::new();
    let mut truth = Vec::new();
    let mut per_kind: HashMap<&'static str, usize> = HashMap::new();
    for (id, value) in &population {
        if !rng.random_bool(args.rate) {
            continue;
        }
        let original = PersonRecord::from_patient_json(id.clone(), value);
        let (copy, errors) = mpi::corrupt(&original, &mut rng, &rates);
        let new_id = seeded_id(&mut rng);
        for error in &errors {
            *per_kind.entry(error.label()).or_default() += 1;
        }
        patients.push(patient_json(&copy, &new_id));
        truth.push(json!({"original": id, "duplicate": new_id, "errors": errors}));
    }
    // The truth goes one level down, so that `expediente import DIR` loads only the Patients.
    let truth_dir = args.out.join("ground-truth");
    std::fs::create_dir_all(&truth_dir)?;
    let written = write_lines(&args.out.join("Patient.ndjson"), patients)?;
    write_lines(&truth_dir.join("truth.ndjson"), truth)?;
    std::fs::write(
        truth_dir.join("error-rates.json"),
        serde_json::to_string_pretty(&rates)?,
    )?;
    println!(
        "{written} re-registros de {} personas (tasa {}) → {}/Patient.ndjson; verdad / truth: \
         ground-truth/truth.ndjson, ground-truth/error-rates.json",
        population.len(),
        args.rate,
        args.out.display()
    );
    let mut kinds: Vec<_> = per_kind.into_iter().collect();
    kinds.sort();
    for (kind, count) in kinds {
        println!("  {kind:<36} {count:>8}");
    }
    Ok(ExitCode::SUCCESS)
}

fn evaluate(args: &EvaluateArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.rate) {
        bail!("--rate debe estar entre 0 y 1 / must be between 0 and 1");
    }
    let rates = error_rates(args.error_rates.as_deref())?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let started = Instant::now();
    let (mut people, source) = match &args.population {
        Some(path) => (
            read_population(path)?
                .iter()
                .map(|(id, value)| PersonRecord::from_patient_json(id.clone(), value))
                .collect::<Vec<_>>(),
            format!("población {}", path.display()),
        ),
        None => (
            mpi::synthetic::synthetic_population(args.patients, &mut rng),
            format!("mpi::synthetic, semilla {}", args.seed),
        ),
    };
    if args.no_curp {
        for person in &mut people {
            person.curp = None;
        }
    }
    let set = mpi::synthetic::with_duplicates(people, args.rate, &rates, &mut rng);
    let generated = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut index = BlockIndex::new();
    for record in &set.records {
        index.add(record);
    }
    let indexed = started.elapsed().as_secs_f64();
    let stats = index.stats();

    let started = Instant::now();
    let found = index.scan_with_threads(args.threads);
    let scanned = started.elapsed().as_secs_f64();
    let predicted: Vec<(usize, usize, MatchGrade)> =
        found.iter().map(|(i, j, r)| (*i, *j, r.grade)).collect();
    let report = mpi::evaluate(&set.truth, &predicted);

    println!(
        "# Calidad del pareo / Matching quality\n\n{} registros ({}; {} re-registros, tasa {}){}\n",
        set.records.len(),
        source,
        set.truth.len(),
        args.rate,
        if args.no_curp { ", sin CURP" } else { "" }
    );
    println!(
        "Tiempos / times: generación {generated:.1} s, índice {indexed:.1} s, barrido {scanned:.1} s \
         ({} hilos); bloques {}, mayor {}, pares en bloques {}, pares de ventana {}\n",
        args.threads, stats.blocks, stats.largest_block, stats.pairs_in_blocks, stats.window_pairs
    );
    println!("{}", report.to_markdown());
    if let Some(path) = &args.json {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&json!({
                "records": set.records.len(),
                "rate": args.rate,
                "seed": args.seed,
                "no_curp": args.no_curp,
                "seconds": {"generate": generated, "index": indexed, "scan": scanned},
                "report": report,
            }))?,
        )?;
    }
    let certain = report.grade(MatchGrade::Certain);
    let probable = report.grade(MatchGrade::Probable);
    let met = certain.is_some_and(|c| c.precision() >= 0.995)
        && probable.is_some_and(|p| p.recall() >= 0.98);
    println!(
        "Objetivos / targets (precision certain ≥ 0.995, recall certain+probable ≥ 0.98): {}",
        if met {
            "cumplidos / met"
        } else {
            "NO cumplidos / NOT met"
        }
    );
    Ok(if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Picks stored patients to query: a random day of birth, the first patient born that day.
fn sample_patients(
    ehr: &ehr::Ehr,
    wanted: usize,
    rng: &mut ChaCha8Rng,
) -> anyhow::Result<Vec<Value>> {
    let mut found = Vec::new();
    let mut attempts = 0;
    while found.len() < wanted && attempts < wanted * 50 {
        attempts += 1;
        let year = rng.random_range(1935..2020);
        let month = rng.random_range(1..=12);
        let day = rng.random_range(1..=28);
        let request = ehr::SearchRequest {
            resource_type: "Patient".into(),
            params: vec![
                ("birthdate".into(), format!("{year:04}-{month:02}-{day:02}")),
                ("_count".into(), "1".into()),
            ],
            handling: search::Handling::Strict,
        };
        let (page, _) = ehr
            .search(&ehr::Requester::local_system("cli:mpi"), &request)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        if let Some(stored) = page.matches.first() {
            found.push(serde_json::from_str(&stored.body)?);
        }
    }
    Ok(found)
}

fn bench_match(args: &BenchMatchArgs) -> anyhow::Result<ExitCode> {
    let (_store, ehr) = super::open_node(&args.data, &args.database, false)?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let patients = sample_patients(&ehr, args.queries, &mut rng)?;
    if patients.is_empty() {
        bail!("el nodo no tiene pacientes / the node has no patients");
    }
    // Half the queries are the stored registration retyped with clerk errors, half exact.
    let rates = ErrorRates::default();
    let mut timings = Vec::with_capacity(patients.len());
    let mut found_first = 0usize;
    let mut candidates_total = 0usize;
    for (n, patient) in patients.iter().enumerate() {
        let id = patient["id"].as_str().unwrap_or("").to_string();
        let record = PersonRecord::from_patient_json(id.clone(), patient);
        let query = if n % 2 == 0 {
            record
        } else {
            mpi::corrupt(&record, &mut rng, &rates).0
        };
        let mut body = patient_json(&query, "query");
        if let Some(object) = body.as_object_mut() {
            object.remove("id");
        }
        let request = ehr::MatchRequest {
            patient: fhir::json::parse_str(&body.to_string())
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            only_certain: false,
            count: 10,
        };
        let started = Instant::now();
        let hits = ehr
            .match_patients(&ehr::Requester::local_system("cli:mpi"), &request)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
        candidates_total += hits.len();
        if hits.first().is_some_and(|hit| hit.resource.id == id) {
            found_first += 1;
        }
    }
    timings.sort_by(f64::total_cmp);
    let at = |q: f64| timings[((timings.len() - 1) as f64 * q).round() as usize];
    let counts = ehr
        .resource_counts()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let patients_stored = counts
        .iter()
        .find(|(t, _)| t == "Patient")
        .map_or(0, |(_, n)| *n);
    println!(
        "Patient/$match sobre {patients_stored} pacientes, {} consultas (mitad con errores de captura):\n\
         mediana {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, máx {:.2} ms; \
         el registro buscado quedó primero en {:.1} %; {:.1} resultados por consulta",
        timings.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        100.0 * found_first as f64 / timings.len() as f64,
        candidates_total as f64 / timings.len() as f64
    );
    Ok(ExitCode::SUCCESS)
}

/// The whole-node duplicate scan: every active patient into the engine's block index, every
/// pair graded probable or better becomes a review task (the later registration is the focus).
/// This is what a bulk load is followed by, and what a hub runs periodically.
fn scan(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let (_store, ehr) = super::open_node(&args.data, &args.database, false)?;
    let started = Instant::now();
    let mut index = BlockIndex::new();
    let mut ids = Vec::new();
    for patient in search_all(&ehr, "Patient", &[])? {
        let is_merged = patient["link"]
            .as_array()
            .is_some_and(|links| links.iter().any(|l| l["type"] == "replaced-by"));
        if is_merged || patient["active"] == false {
            continue;
        }
        let id = patient["id"].as_str().unwrap_or("").to_string();
        index.add(&PersonRecord::from_patient_json(id.clone(), &patient));
        ids.push(id);
    }
    let loaded = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let found = index.scan_with_threads(args.threads);
    let scanned = started.elapsed().as_secs_f64();
    let pairs: Vec<(String, String, mpi::MatchResult)> = found
        .into_iter()
        .filter(|(_, _, result)| result.grade >= MatchGrade::Probable)
        .map(|(i, j, result)| (ids[j].clone(), ids[i].clone(), result))
        .collect();
    let certain = pairs
        .iter()
        .filter(|(_, _, r)| r.grade == MatchGrade::Certain)
        .count();
    let started = Instant::now();
    let mut opened = 0;
    if !args.dry_run {
        for batch in pairs.chunks(500) {
            opened += ehr
                .queue_reviews(&ehr::Requester::local_system("cli:mpi"), batch.to_vec())
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
    }
    let queued = started.elapsed().as_secs_f64();
    println!(
        "{} pacientes activos; {} pares probables o seguros ({certain} seguros); {opened} tareas nuevas\n\
         tiempos / times: lectura {loaded:.1} s, barrido {scanned:.1} s ({} hilos), tareas {queued:.1} s",
        ids.len(),
        pairs.len(),
        args.threads
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads every current resource of a search, page by page.
fn search_all(
    ehr: &ehr::Ehr,
    resource_type: &str,
    params: &[(&str, &str)],
) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut list: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        list.push(("_count".into(), "1000".into()));
        list.push(("_total".into(), "none".into()));
        if let Some(cursor) = &cursor {
            list.push(("_cursor".into(), cursor.clone()));
        }
        let request = ehr::SearchRequest {
            resource_type: resource_type.into(),
            params: list,
            handling: search::Handling::Strict,
        };
        let (page, _) = ehr
            .search(&ehr::Requester::local_system("cli:mpi"), &request)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for stored in &page.matches {
            out.push(serde_json::from_str(&stored.body)?);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Precision and recall of the review list (open and completed `revisar-duplicado` tasks)
/// against the truth of `mpi duplicates`, counting only pairs whose two records are stored
/// (a duplicate that kept its CURP is refused with 409 at the front desk instead).
fn review_report(args: &ReviewReportArgs) -> anyhow::Result<ExitCode> {
    let (_store, ehr) = super::open_node(&args.data, &args.database, false)?;
    let text = std::fs::read_to_string(&args.truth)
        .with_context(|| format!("no se puede leer / cannot read {}", args.truth.display()))?;
    let mut truth: HashMap<(String, String), Vec<String>> = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)?;
        let a = value["original"].as_str().unwrap_or("").to_string();
        let b = value["duplicate"].as_str().unwrap_or("").to_string();
        let errors = value["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        truth.insert((a.clone().min(b.clone()), a.max(b)), errors);
    }
    let stored: std::collections::HashSet<String> =
        search_all(&ehr, "Patient", &[("_elements", "id")])?
            .iter()
            .filter_map(|p| p["id"].as_str().map(str::to_string))
            .collect();
    let code = format!(
        "{}|{}",
        ehr::TASK_CODE_SYSTEM,
        ehr::TASK_CODE_REVIEW_DUPLICATE
    );
    let tasks = search_all(&ehr, "Task", &[("code", &code)])?;
    let mut flagged: HashMap<(String, String), String> = HashMap::new();
    for task in &tasks {
        let focus = task["focus"]["reference"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("Patient/");
        let inputs = task["input"].as_array().cloned().unwrap_or_default();
        let other = inputs
            .iter()
            .find_map(|i| i["valueReference"]["reference"].as_str())
            .unwrap_or("")
            .trim_start_matches("Patient/");
        let grade = inputs
            .iter()
            .find(|i| i["type"]["coding"][0]["code"] == "grado")
            .and_then(|i| i["valueCode"].as_str())
            .unwrap_or("")
            .to_string();
        let key = (focus.min(other).to_string(), focus.max(other).to_string());
        flagged.insert(key, grade);
    }
    let loaded: Vec<&(String, String)> = truth
        .keys()
        .filter(|(a, b)| stored.contains(a) && stored.contains(b))
        .collect();
    let true_positives = loaded.iter().filter(|k| flagged.contains_key(**k)).count();
    let false_positives = flagged.keys().filter(|k| !truth.contains_key(*k)).count();
    let certain_tp = loaded
        .iter()
        .filter(|k| flagged.get(**k).is_some_and(|g| g == "certain"))
        .count();
    let certain_fp = flagged
        .iter()
        .filter(|(k, g)| *g == "certain" && !truth.contains_key(*k))
        .count();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    println!(
        "Lista de revisión / review list: {} tareas, {} pares verdaderos con ambos registros \
         guardados ({} de {} re-registros; el resto fue rechazado, p. ej. 409 por CURP repetida)\n\n\
         | grado | TP | FP | FN | precision | recall |\n|---|---:|---:|---:|---:|---:|\n\
         | certain | {certain_tp} | {certain_fp} | {} | {:.4} | {:.4} |\n\
         | certain + probable | {true_positives} | {false_positives} | {} | {:.4} | {:.4} |",
        tasks.len(),
        loaded.len(),
        loaded.len(),
        truth.len(),
        loaded.len() - certain_tp,
        ratio(certain_tp, certain_tp + certain_fp),
        ratio(certain_tp, loaded.len()),
        loaded.len() - true_positives,
        ratio(true_positives, true_positives + false_positives),
        ratio(true_positives, loaded.len()),
    );
    let mut missed: HashMap<String, usize> = HashMap::new();
    for key in loaded.iter().filter(|k| !flagged.contains_key(**k)) {
        for error in &truth[*key] {
            *missed.entry(error.clone()).or_default() += 1;
        }
    }
    if !missed.is_empty() {
        let mut missed: Vec<_> = missed.into_iter().collect();
        missed.sort();
        println!("\nErrores en los pares no encontrados / errors of the missed pairs: {missed:?}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_json_reads_back_as_the_same_person() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for person in mpi::synthetic::synthetic_population(300, &mut rng) {
            let json = patient_json(&person, "x");
            let back = PersonRecord::from_patient_json(person.id.clone(), &json);
            assert_eq!(back, person, "{json}");
            let fhir = fhir::json::parse_str(&json.to_string()).unwrap();
            let issues = fhir::validate::validate_resource(&fhir);
            assert!(issues.iter().all(|i| !i.is_error()), "{issues:?}");
        }
    }

    #[test]
    fn inconvenient_curps_get_renapos_x() {
        // CACA… is on RENAPO's list: position 2 becomes X and the check digit is recomputed.
        let fixed = renapo_curp("CACA510108MMCRSN09").unwrap();
        assert!(fixed.starts_with("CXCA510108MMCRSN0"));
        assert!(mexico::curp::validate(&fixed).is_ok());
        assert_eq!(
            renapo_curp("HEGG560427MVZRRL04").as_deref(),
            Some("HEGG560427MVZRRL04")
        );
        assert_eq!(renapo_curp("HEGG560427MVZRRL05"), None);
    }

    #[test]
    fn seeded_ids_are_valid_and_reproducible() {
        let a = seeded_id(&mut ChaCha8Rng::seed_from_u64(1));
        let b = seeded_id(&mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(a, b);
        assert_eq!(a.len(), 36);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() || c == b'-'));
    }
}
