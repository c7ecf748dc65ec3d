//! Every call the UI makes into the record, in one place.
//!
//! Why one module: the UI must reach data only through the `ehr` use cases that `/fhir` uses
//! (same validation, Mexican profile, MPI checks, access control and audit; no second path).
//! Every call acts as the signed-in user ([`Db::who`]), so what a screen shows is exactly what
//! that user may see through the API, and every access is in the audit trail. Functions are blocking (SQLite): handlers run them on the blocking pool.
//! Resources come back as `serde_json::Value` because the UI only reads a few fields.

use std::collections::HashMap;

use fhir::Json;
use serde_json::Value;

/// Most resources one chart reads (`$everything`); a patient beyond this shows a notice.
pub const CHART_RESOURCES_MAX: usize = 5_000;

/// Patients shown for one search.
pub const FIND_RESULTS_MAX: usize = 20;

/// Facilities listed in the referral form.
pub const FACILITIES_MAX: usize = 500;

pub type Result<T> = std::result::Result<T, ehr::Error>;

/// The record as one signed-in user reaches it.
#[derive(Clone)]
pub struct Db {
    pub ehr: ehr::Ehr,
    pub who: ehr::Requester,
}

impl Db {
    pub fn new(ehr: ehr::Ehr, who: ehr::Requester) -> Db {
        Db { ehr, who }
    }
}

/// A stored resource's body as a JSON value (bodies are written by `ehr`, so they parse).
fn value_of(stored: &store::StoredResource) -> Value {
    serde_json::from_str(&stored.body).unwrap_or(Value::Null)
}

fn search(db: &Db, resource_type: &str, params: &[(&str, String)]) -> Result<Vec<Value>> {
    let request = ehr::SearchRequest {
        resource_type: resource_type.to_string(),
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
        handling: search::Handling::Lenient,
    };
    let (page, _warnings) = db.ehr.search(&db.who, &request)?;
    Ok(page.matches.iter().map(value_of).collect())
}

/// Checks a CURP as typed (every problem by position, facts read from a valid one).
pub fn check_curp(input: &str) -> ehr::CurpCheck {
    ehr::check_curp(input)
}

/// Patients holding this CURP (normally one).
pub fn find_by_curp(db: &Db, curp: &str) -> Result<Vec<Value>> {
    search(
        db,
        "Patient",
        &[
            ("identifier", format!("{}|{curp}", mexico::systems::CURP)),
            ("_count", FIND_RESULTS_MAX.to_string()),
        ],
    )
}

/// One `$match` candidate.
pub struct Candidate {
    pub patient: Value,
    /// `certain`, `probable` or `possible`.
    pub grade: &'static str,
    pub score: f64,
}

/// Fuzzy search through the MPI (`Patient/$match`): `patient` holds what was typed.
pub fn match_patients(db: &Db, patient: Json) -> Result<Vec<Candidate>> {
    let request = ehr::MatchRequest {
        patient,
        only_certain: false,
        count: FIND_RESULTS_MAX,
    };
    Ok(db
        .ehr
        .match_patients(&db.who, &request)?
        .into_iter()
        .map(|hit| Candidate {
            patient: value_of(&hit.resource),
            grade: hit.grade,
            score: hit.score,
        })
        .collect())
}

/// Number of open "possible duplicate" review tasks about this patient.
pub fn open_duplicate_reviews(db: &Db, patient_id: &str) -> Result<usize> {
    let tasks = search(
        db,
        "Task",
        &[
            ("focus", format!("Patient/{patient_id}")),
            (
                "code",
                format!(
                    "{}|{}",
                    ehr::TASK_CODE_SYSTEM,
                    ehr::TASK_CODE_REVIEW_DUPLICATE
                ),
            ),
            (
                "status",
                "draft,requested,received,accepted,ready,in-progress,on-hold".to_string(),
            ),
        ],
    )?;
    Ok(tasks.len())
}

pub fn read(db: &Db, resource_type: &str, id: &str) -> Result<Value> {
    Ok(value_of(&db.ehr.read(&db.who, resource_type, id)?))
}

/// The patient's whole compartment (`$everything`), at most [`CHART_RESOURCES_MAX`].
pub fn everything(db: &Db, patient_id: &str) -> Result<Vec<Value>> {
    let request = ehr::EverythingRequest {
        patient_id: patient_id.to_string(),
        since_ms: None,
        types: Vec::new(),
    };
    Ok(db
        .ehr
        .everything(&db.who, &request)?
        .iter()
        .take(CHART_RESOURCES_MAX)
        .map(value_of)
        .collect())
}

/// A facility: name and CLUES.
#[derive(Clone, Debug, Default)]
pub struct Facility {
    pub reference: String,
    pub name: String,
    pub clues: String,
}

fn facility_of(organization: &Value) -> Facility {
    Facility {
        reference: format!(
            "Organization/{}",
            organization["id"].as_str().unwrap_or_default()
        ),
        name: organization["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        clues: organization["identifier"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|i| i["system"] == mexico::systems::CLUES)
            .and_then(|i| i["value"].as_str())
            .unwrap_or_default()
            .to_string(),
    }
}

/// Facilities by `Organization/{id}` reference; unknown ones are left out.
pub fn facilities(
    db: &Db,
    references: impl IntoIterator<Item = String>,
) -> Result<HashMap<String, Facility>> {
    let mut out = HashMap::new();
    for reference in references {
        if out.contains_key(&reference) {
            continue;
        }
        let Some(id) = reference.strip_prefix("Organization/") else {
            continue;
        };
        match db.ehr.read(&db.who, "Organization", id) {
            Ok(stored) => {
                out.insert(reference, facility_of(&value_of(&stored)));
            }
            Err(ehr::Error::NotFound(_) | ehr::Error::Gone(_)) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(out)
}

/// Facilities to refer to, by name.
pub fn all_facilities(db: &Db) -> Result<Vec<Facility>> {
    let mut list: Vec<Facility> = search(
        db,
        "Organization",
        &[("_count", FACILITIES_MAX.to_string())],
    )?
    .iter()
    .map(facility_of)
    .filter(|f| !f.clues.is_empty())
    .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

/// Results of these LOINC codes for the patient, effective on or after `since` (`YYYY-MM-DD`),
/// from every facility.
pub fn recent_results(
    db: &Db,
    patient_id: &str,
    loinc_codes: &[&str],
    since: &str,
) -> Result<Vec<Value>> {
    if loinc_codes.is_empty() {
        return Ok(Vec::new());
    }
    let codes = loinc_codes
        .iter()
        .map(|c| format!("{}|{c}", mexico::systems::LOINC))
        .collect::<Vec<_>>()
        .join(",");
    search(
        db,
        "Observation",
        &[
            ("patient", format!("Patient/{patient_id}")),
            ("code", codes),
            ("date", format!("ge{since}")),
            ("_count", "100".to_string()),
        ],
    )
}

/// Creates a resource; returns its id and the warnings (Spanish, English).
pub fn create(db: &Db, resource_type: &str, resource: Json) -> Result<(String, Vec<fhir::Issue>)> {
    let outcome = db.ehr.create(&db.who, resource_type, resource, None)?;
    Ok((outcome.resource.id, outcome.warnings))
}

/// Updates a resource at the version read (`if_match`), so a concurrent change is not lost.
pub fn update(
    db: &Db,
    resource_type: &str,
    id: &str,
    resource: Json,
    if_match: Option<u64>,
) -> Result<()> {
    db.ehr
        .update(&db.who, resource_type, id, resource, if_match)?;
    Ok(())
}

/// The version of a resource as read (for `update`'s `if_match`).
pub fn version_of(resource: &Value) -> Option<u64> {
    resource["meta"]["versionId"].as_str()?.parse().ok()
}

/// Runs a transaction Bundle (all or nothing); returns `Type/id` of each entry, in order.
pub fn transaction(db: &Db, bundle: &Json) -> Result<Vec<String>> {
    let outcome = db.ehr.process_bundle(&db.who, bundle, false)?;
    let response: Value =
        serde_json::from_str(&outcome.response.to_json_string()).unwrap_or(Value::Null);
    Ok(response["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["response"]["location"].as_str())
        .map(|location| {
            // `Type/id/_history/n` → `Type/id`.
            location
                .split("/_history")
                .next()
                .unwrap_or(location)
                .to_string()
        })
        .collect())
}

/// The facility with this CLUES, for the header of a signed-in user (read as that user:
/// facilities are directory data every staff role may read).
pub fn facility_by_clues(db: &Db, clues: &str) -> Option<Facility> {
    search(
        db,
        "Organization",
        &[
            ("identifier", format!("{}|{clues}", mexico::systems::CLUES)),
            ("_count", "1".to_string()),
        ],
    )
    .ok()?
    .first()
    .map(facility_of)
}
