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

/// The registered apps a clinician may launch from a chart (those with a launch URL), as
/// `(client_id, name)`. App registrations hold no patient data.
pub fn launchable_apps(db: &Db) -> Result<Vec<(String, String)>> {
    Ok(db
        .ehr
        .apps()?
        .into_iter()
        .filter(|app| !app.launch_url.is_empty())
        .map(|app| (app.client_id, app.name))
        .collect())
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

/// The patient's International Patient Summary (`$summary`), as this user may read it: its
/// sections in order, and its entries by `Type/id`. The printed summary shows these, so paper
/// and document list the same resources.
pub fn patient_summary(
    db: &Db,
    patient_id: &str,
) -> Result<(Vec<ehr::SummarySection>, HashMap<String, Value>)> {
    let summary = db.ehr.patient_summary(&db.who, patient_id, "")?;
    let document: Value =
        serde_json::from_str(&summary.document.to_json_string()).unwrap_or(Value::Null);
    let resources = document["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let resource = &entry["resource"];
            let reference = format!(
                "{}/{}",
                resource["resourceType"].as_str()?,
                resource["id"].as_str()?
            );
            Some((reference, resource.clone()))
        })
        .collect();
    Ok((summary.sections, resources))
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

/// Resources of one type in a patient's compartment (`{param}=Patient/{id}`), at most `max`.
fn of_patient(
    db: &Db,
    resource_type: &str,
    param: &str,
    patient_id: &str,
    max: usize,
) -> Result<Vec<Value>> {
    search(
        db,
        resource_type,
        &[
            (param, format!("Patient/{patient_id}")),
            ("_count", max.to_string()),
        ],
    )
}

/// Allergy records of one patient read at most (banner, checks).
pub const ALLERGIES_MAX: usize = 200;

/// Medication requests of one patient read at most (checks, the medication screen).
pub const MEDICATION_REQUESTS_MAX: usize = 1_000;

/// The patient's AllergyIntolerance records, in every status (the banner and the prescribing
/// checks read them through `clinical::fhir_input`).
pub fn allergies(db: &Db, patient_id: &str) -> Result<Vec<Value>> {
    of_patient(
        db,
        "AllergyIntolerance",
        "patient",
        patient_id,
        ALLERGIES_MAX,
    )
}

/// The patient's MedicationRequests, in every status.
pub fn medication_requests(db: &Db, patient_id: &str) -> Result<Vec<Value>> {
    of_patient(
        db,
        "MedicationRequest",
        "subject",
        patient_id,
        MEDICATION_REQUESTS_MAX,
    )
}

/// The patient's Conditions, in every status.
pub fn conditions(db: &Db, patient_id: &str) -> Result<Vec<Value>> {
    of_patient(
        db,
        "Condition",
        "subject",
        patient_id,
        MEDICATION_REQUESTS_MAX,
    )
}

/// The patient's notes (Compositions), in every status.
pub fn compositions(db: &Db, patient_id: &str) -> Result<Vec<Value>> {
    of_patient(
        db,
        "Composition",
        "subject",
        patient_id,
        MEDICATION_REQUESTS_MAX,
    )
}

/// The patient's latest weight in kg (for dose checks), if any was recorded.
pub fn latest_weight_kg(db: &Db, patient_id: &str) -> Result<Option<f64>> {
    let found = search(
        db,
        "Observation",
        &[
            ("subject", format!("Patient/{patient_id}")),
            ("code", format!("{}|29463-7", mexico::systems::LOINC)),
            ("_sort", "-date".to_string()),
            ("_count", "1".to_string()),
        ],
    )?;
    Ok(found
        .first()
        .and_then(|o| o["valueQuantity"]["value"].as_f64()))
}

/// What the signed-in user may do with this patient's record (asked of `ehr`'s guard).
pub fn abilities(db: &Db, patient_id: &str) -> Result<ehr::RecordAbilities> {
    db.ehr.record_abilities(&db.who, patient_id)
}

/// "Name (CLUES)" of the facility a patient is registered at, when it can be told.
pub fn registered_at(db: &Db, patient: &Value) -> String {
    let Some(reference) = patient["managingOrganization"]["reference"].as_str() else {
        return patient["managingOrganization"]["identifier"]["value"]
            .as_str()
            .map(|clues| format!("CLUES {clues}"))
            .unwrap_or_default();
    };
    facilities(db, [reference.to_string()])
        .ok()
        .and_then(|found| found.get(reference).cloned())
        .map(|f| format!("{} ({})", f.name, f.clues))
        .unwrap_or_default()
}

/// A Practitioner's name and cédula profesional, for printed forms.
pub fn practitioner(db: &Db, reference: &str) -> Option<(String, Option<String>)> {
    let id = reference.strip_prefix("Practitioner/")?;
    let practitioner = read(db, "Practitioner", id).ok()?;
    let cedula = practitioner["qualification"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|q| q["identifier"].as_array().into_iter().flatten())
        .chain(practitioner["identifier"].as_array().into_iter().flatten())
        .find(|i| i["system"] == mexico::systems::CEDULA)
        .and_then(|i| i["value"].as_str())
        .map(str::to_string);
    Some((crate::chart::name_of(&practitioner), cedula))
}

/// An Organization as a facility, with its address for printed forms.
pub fn organization(db: &Db, reference: &str) -> Option<(Facility, String)> {
    let id = reference.strip_prefix("Organization/")?;
    let organization = read(db, "Organization", id).ok()?;
    let address = &organization["address"][0];
    let mut parts: Vec<&str> = address["line"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for key in ["city", "district", "state", "postalCode"] {
        if let Some(part) = address[key].as_str() {
            parts.push(part);
        }
    }
    Some((facility_of(&organization), parts.join(", ")))
}

/// One page of a patient search: the matches and the sealed cursor of the next page.
pub struct PatientPage {
    pub patients: Vec<Value>,
    pub next: Option<String>,
}

/// A search of Patients with paging (`cursor` from a previous page's `next`).
pub fn search_patients(
    db: &Db,
    params: &[(&str, String)],
    cursor: Option<&str>,
) -> Result<PatientPage> {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect();
    pairs.push(("_count".into(), FIND_RESULTS_MAX.to_string()));
    if let Some(cursor) = cursor {
        pairs.push(("_cursor".into(), cursor.to_string()));
    }
    let request = ehr::SearchRequest {
        resource_type: "Patient".to_string(),
        params: pairs,
        handling: search::Handling::Lenient,
    };
    let (page, _warnings) = db.ehr.search(&db.who, &request)?;
    Ok(PatientPage {
        patients: page.matches.iter().map(value_of).collect(),
        next: page.next,
    })
}

/// Starts care of a patient at the user's facility (*inicio de atención*), with the reason.
pub fn start_care(db: &Db, patient_id: &str, reason: &str) -> Result<()> {
    db.ehr.start_care(
        &db.who,
        &ehr::CareEventRequest {
            patient_id: patient_id.to_string(),
            reason: reason.to_string(),
        },
    )?;
    Ok(())
}

/// Moves the patient's registration to the user's facility (*cambio de unidad*).
pub fn move_registration(db: &Db, patient_id: &str, reason: &str) -> Result<()> {
    db.ehr.move_registration(
        &db.who,
        &ehr::CareEventRequest {
            patient_id: patient_id.to_string(),
            reason: reason.to_string(),
        },
    )?;
    Ok(())
}

/// The weekly surveillance view (`ehr`'s report: counts only, audited, for the roles that may
/// read reports). `params` are `semana` and `semanas`.
pub fn surveillance(db: &Db, params: &[(String, String)]) -> Result<ehr::reports::Surveillance> {
    db.ehr.report_surveillance(&db.who, params)
}

/// Children registered at `organization` (`Organization/{id}`) born on or after `born_from`
/// (`YYYY-MM-DD`), youngest first, [`CENSUS_CHILDREN_MAX`] at most, with the completed
/// Immunizations of each, through the read guard (audited as searches): the clinic's own
/// patients only, since registration is the condition of the list.
pub fn census_children(
    db: &Db,
    organization: &str,
    born_from: &str,
) -> Result<Vec<(Value, Vec<Value>)>> {
    let children = search(
        db,
        "Patient",
        &[
            ("organization", organization.to_string()),
            ("birthdate", format!("ge{born_from}")),
            ("_sort", "-birthdate".to_string()),
            ("_count", CENSUS_CHILDREN_MAX.to_string()),
        ],
    )?;
    let mut out: Vec<(Value, Vec<Value>)> = children.into_iter().map(|c| (c, Vec::new())).collect();
    // One search per batch of children (OR-ed references) instead of one per child.
    for start in (0..out.len()).step_by(CENSUS_BATCH) {
        let end = (start + CENSUS_BATCH).min(out.len());
        let ids: Vec<String> = out[start..end]
            .iter()
            .filter_map(|(p, _)| p["id"].as_str().map(|id| format!("Patient/{id}")))
            .collect();
        if ids.is_empty() {
            continue;
        }
        let doses = search(
            db,
            "Immunization",
            &[
                ("patient", ids.join(",")),
                ("status", "completed".to_string()),
                ("_count", store::PAGE_SIZE_MAX.to_string()),
            ],
        )?;
        for dose in doses {
            let Some(patient) = dose["patient"]["reference"].as_str() else {
                continue;
            };
            if let Some((_, given)) = out[start..end].iter_mut().find(|(p, _)| {
                p["id"]
                    .as_str()
                    .is_some_and(|id| patient.ends_with(&format!("Patient/{id}")))
            }) {
                given.push(dose);
            }
        }
    }
    Ok(out)
}

/// Children listed at most in the censo nominal (one search page).
pub const CENSUS_CHILDREN_MAX: usize = 1_000;
/// Children whose immunizations are read per search (each has about 20 doses by age 9, so a
/// batch stays within one page of 1,000).
const CENSUS_BATCH: usize = 40;

/// Chronic-disease control per facility (`ehr`'s report: counts only, audited).
/// Vaccination coverage per facility, cohort and dose (`ehr::reports::coverage`).
pub fn vaccination_coverage(
    db: &Db,
    params: &[(String, String)],
) -> Result<Vec<ehr::reports::CoverageRow>> {
    db.ehr.report_vaccination_coverage(&db.who, params)
}

/// Medicine demand per facility and CNIS key, with its forecast (`ehr`'s report 4: counts
/// only, audited).
pub fn medicine_demand(
    db: &Db,
    params: &[(String, String)],
) -> Result<Vec<ehr::reports::demand::DemandRow>> {
    db.ehr.report_medicine_demand(&db.who, params)
}

/// Repeated laboratory tests per facility and month (`ehr`'s report 5: counts only, audited).
pub fn repeated_tests(
    db: &Db,
    params: &[(String, String)],
) -> Result<Vec<ehr::reports::RepeatedTestsRow>> {
    db.ehr.report_repeated_tests(&db.who, params)
}

/// Data quality per facility (`ehr`'s report 6: counts only, audited).
pub fn data_quality(db: &Db, params: &[(String, String)]) -> Result<Vec<ehr::reports::QualityRow>> {
    db.ehr.report_data_quality(&db.who, params)
}

pub fn chronic_control(
    db: &Db,
    params: &[(String, String)],
) -> Result<ehr::reports::ChronicControl> {
    db.ehr.report_chronic_control(&db.who, params)
}

// ---------------------------------------------------------------------------------------------
// The day's queue and the agenda (issue 17)
// ---------------------------------------------------------------------------------------------

/// Appointments listed at most on one day's agenda.
pub const AGENDA_APPOINTMENTS_MAX: usize = 500;

/// Today's visits at the user's facility (each read decided by the read guard), by turn.
pub fn todays_visits(db: &Db) -> Result<Vec<ehr::Visit>> {
    db.ehr.todays_visits(&db.who)
}

/// The appointments of one local day (`from` and `to` are instants) the user may see.
pub fn appointments_between(db: &Db, from: &str, to: &str) -> Result<Vec<Value>> {
    search(
        db,
        "Appointment",
        &[
            ("date", format!("ge{from}")),
            ("date", format!("lt{to}")),
            ("_sort", "date".to_string()),
            ("_count", AGENDA_APPOINTMENTS_MAX.to_string()),
        ],
    )
}

/// A patient's own appointments, latest first (searched as the patient: the read guard keeps
/// it to their record).
pub fn own_appointments(db: &Db, patient_id: &str) -> Result<Vec<Value>> {
    search(
        db,
        "Appointment",
        &[
            ("patient", patient_id.to_string()),
            ("_sort", "-date".to_string()),
            ("_count", AGENDA_APPOINTMENTS_MAX.to_string()),
        ],
    )
}

/// The referrals made for a patient (their Tasks), searched as the patient.
pub fn own_referrals(db: &Db, patient_id: &str) -> Result<Vec<Value>> {
    search(
        db,
        "Task",
        &[
            ("patient", patient_id.to_string()),
            ("code", referral_code()),
            ("_count", REFERRALS_MAX.to_string()),
        ],
    )
}

/// Display names of the referenced resources (`Type/id`) the user may read; the others are
/// left out (the caller shows the reference's own `display`, or nothing).
pub fn names_of(db: &Db, references: &[String]) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for reference in references {
        if names.contains_key(reference) {
            continue;
        }
        let Some((resource_type, id)) = reference.split_once('/') else {
            continue;
        };
        let name = match resource_type {
            "Patient" | "Practitioner" => read(db, resource_type, id)
                .ok()
                .map(|r| crate::chart::name_of(&r)),
            "Location" | "Organization" | "HealthcareService" => read(db, resource_type, id)
                .ok()
                .and_then(|r| r["name"].as_str().map(str::to_string)),
            _ => None,
        };
        if let Some(name) = name.filter(|n| !n.trim().is_empty()) {
            names.insert(reference.clone(), name);
        }
    }
    names
}

/// Check-in: from an appointment, or a walk-in.
pub fn check_in(db: &Db, appointment_id: Option<&str>, patient_id: Option<&str>) -> Result<()> {
    db.ehr.check_in(&db.who, appointment_id, patient_id)?;
    Ok(())
}

pub fn triage(db: &Db, encounter_id: &str, priority: ehr::Priority) -> Result<()> {
    db.ehr.triage(&db.who, encounter_id, priority)?;
    Ok(())
}

/// The physician calls the next patient: the patient's id, or `None` when nobody waits.
pub fn call_next(db: &Db) -> Result<Option<String>> {
    Ok(db.ehr.call_next(&db.who)?.and_then(|stored| {
        let encounter = value_of(&stored);
        encounter["subject"]["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix("Patient/"))
            .map(str::to_string)
    }))
}

pub fn finish_visit(db: &Db, encounter_id: &str) -> Result<()> {
    db.ehr.finish_visit(&db.who, encounter_id)?;
    Ok(())
}

/// The waiting-room screen of a facility. The one call of this module made without a user:
/// the screen has no sign-in, and `ehr` returns only turn numbers and minutes for it (no name,
/// no id, nothing clinical), so there is nothing to decide per record.
pub fn waiting_room(ehr: &ehr::Ehr, clues: &str) -> Result<ehr::WaitingRoom> {
    ehr.waiting_room(clues)
}

/// Free slots starting in `[from, to)` (instants), earliest first, at most
/// [`AGENDA_APPOINTMENTS_MAX`].
pub fn free_slots(db: &Db, from: &str, to: &str) -> Result<Vec<Value>> {
    search(
        db,
        "Slot",
        &[
            ("status", "free".to_string()),
            ("start", format!("ge{from}")),
            ("start", format!("lt{to}")),
            ("_sort", "start".to_string()),
            ("_count", AGENDA_APPOINTMENTS_MAX.to_string()),
        ],
    )
}

/// Books a slot for a patient: an ordinary create of an Appointment, whose write makes the
/// slot busy or is refused (409) when someone took it first.
pub fn book(db: &Db, patient_id: &str, slot_id: &str) -> Result<()> {
    let appointment = serde_json::json!({
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": format!("Slot/{slot_id}")}],
        "participant": [{"actor": {"reference": format!("Patient/{patient_id}")}, "status": "accepted"}]
    });
    let appointment = fhir::json::parse_str(&appointment.to_string())
        .map_err(|e| ehr::Error::Internal(format!("appointment JSON: {e}")))?;
    db.ehr.create(&db.who, "Appointment", appointment, None)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Referrals that arrive (issue 17): the Task that carries a referral to a facility
// ---------------------------------------------------------------------------------------------

/// Referrals listed at most in one inbox or outbox.
pub const REFERRALS_MAX: usize = 200;

fn referral_code() -> String {
    format!(
        "{}|{}",
        crate::forms::TASK_CODE_SYSTEM,
        crate::forms::TASK_CODE_FULFILL
    )
}

/// Referrals addressed to the facility with this CLUES (its inbox), as far as the user may
/// read them.
pub fn referrals_to(db: &Db, clues: &str) -> Result<Vec<Value>> {
    search(
        db,
        "Task",
        &[
            (
                "owner:identifier",
                format!("{}|{clues}", mexico::systems::CLUES),
            ),
            ("code", referral_code()),
            ("_count", REFERRALS_MAX.to_string()),
        ],
    )
}

/// Appointments marked as double bookings across nodes and not yet moved or cancelled (the
/// hub marks the later of two bookings of one slot, `sync/src/double_booking.rs`), as far as
/// the user may read them: a facility's reception sees those of its own agendas. The Task the
/// hub opens with each is clinical (reception may not read Tasks); the mark is on the
/// Appointment, which reception keeps.
pub fn double_booked_appointments(db: &Db) -> Result<Vec<Value>> {
    search(
        db,
        "Appointment",
        &[
            (
                "_tag",
                format!(
                    "{}|{}",
                    ehr::DOUBLE_BOOKING_TAG_SYSTEM,
                    ehr::DOUBLE_BOOKING_TAG_CODE
                ),
            ),
            (
                "status",
                "proposed,pending,booked,arrived,checked-in".to_string(),
            ),
            ("_sort", "date".to_string()),
            ("_count", REFERRALS_MAX.to_string()),
        ],
    )
}

/// Referrals the facility (`Organization/{id}`) sent (its outbox).
pub fn referrals_from(db: &Db, organization: &str) -> Result<Vec<Value>> {
    search(
        db,
        "Task",
        &[
            ("requester", organization.to_string()),
            ("code", referral_code()),
            ("_count", REFERRALS_MAX.to_string()),
        ],
    )
}

/// The Tasks that carry one referral (`ServiceRequest/{id}`).
pub fn referral_tasks(db: &Db, request_id: &str) -> Result<Vec<Value>> {
    search(
        db,
        "Task",
        &[
            ("focus", format!("ServiceRequest/{request_id}")),
            ("_count", "20".to_string()),
        ],
    )
}

/// Books a slot for a referred patient: the Appointment (based on the referral's
/// ServiceRequest) and the Task marked booked with it as output, in one transaction, so the
/// sender never sees "booked" without a booking, nor a booking the Task does not name.
pub fn book_referral(db: &Db, patient_id: &str, slot_id: &str, task_id: &str) -> Result<()> {
    let mut task = read(db, "Task", task_id)?;
    if task["for"]["reference"] != format!("Patient/{patient_id}").as_str() {
        return Err(ehr::Error::NotFound(fhir::Issue::error(
            fhir::IssueCode::NotFound,
            "La referencia no es de este paciente",
            "The referral is not about this patient",
        )));
    }
    let version = version_of(&task);
    let placeholder = "urn:uuid:5e3b8f0a-0000-4000-8000-000000000002";
    let mut appointment = serde_json::json!({
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": format!("Slot/{slot_id}")}],
        "participant": [{"actor": {"reference": format!("Patient/{patient_id}")}, "status": "accepted"}]
    });
    if let Some(focus) = task["focus"]["reference"].as_str() {
        appointment["basedOn"] = serde_json::json!([{"reference": focus}]);
    }
    task["businessStatus"] = serde_json::json!({"text": "agendada"});
    task["output"] = serde_json::json!([{
        "type": {"text": "cita"},
        "valueReference": {"reference": placeholder}
    }]);
    let mut update = serde_json::json!({"method": "PUT", "url": format!("Task/{task_id}")});
    if let Some(version) = version {
        update["ifMatch"] = Value::String(format!("W/\"{version}\""));
    }
    let bundle = serde_json::json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": placeholder, "resource": appointment, "request": {"method": "POST", "url": "Appointment"}},
            {"resource": task, "request": update}
        ]
    });
    let bundle = fhir::json::parse_str(&bundle.to_string())
        .map_err(|e| ehr::Error::Internal(format!("booking bundle JSON: {e}")))?;
    transaction(db, &bundle)?;
    Ok(())
}
