//! Duplicate registrations found at write time: every Patient create or demographic change is
//! matched against the index (see `crate::matching`), and each candidate graded **probable or
//! certain** becomes a review `Task` written in the same transaction as the patient.
//!
//! The review list is an ordinary search: `GET /fhir/Task?code=…|revisar-duplicado&status=requested`
//! (code `tarea|revisar-duplicado`, `status = requested`, `focus` = the patient just written,
//! `input` = the candidate with its grade, score and the comparison field by field in Spanish and
//! English). `possible` pairs are not queued: they are mostly relatives (the engine caps twins,
//! siblings and parent/child homonyms there), and a queue that is mostly wrong stops being read;
//! they are still returned by `$match`. A pair with an open review task is not queued twice;
//! `$merge` of the pair completes its tasks.

use std::collections::HashSet;

use fhir::{Issue, IssueCode, Json};
use mpi::MatchGrade;
use store::StoredResource;

use crate::Error;
use crate::guard::Authority;
use crate::lookup::{Lookup, TxLookup, internal_query};
use crate::matching::{
    MATCH_GRADE_EXTENSION, MatchHit, REVIEW_TASKS_PER_WRITE_MAX, find_candidates, linked_ids,
    matchable, rank, record_of,
};
use crate::write::{Target, Writer};

/// The code system of our work-queue task codes.
pub const TASK_CODE_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/CodeSystem/tarea";
/// The task code of a duplicate review.
pub const TASK_CODE_REVIEW_DUPLICATE: &str = "revisar-duplicado";
/// The code system of the named inputs of a review task.
pub const TASK_INPUT_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/CodeSystem/tarea-entrada";
/// The statuses of a task still to be worked (a review awaiting a decision).
pub const OPEN_TASK_STATUSES: &str = "draft,requested,received,accepted,ready,in-progress,on-hold";

/// Open review tasks about one patient read at most.
const OPEN_REVIEWS_PER_PATIENT_MAX: usize = 200;

/// Matches a Patient being written against the index and opens review tasks for its probable
/// and certain duplicates. Skipped when an update does not change the identifying fields.
pub(crate) fn review_duplicates(
    writer: &mut Writer<'_>,
    id: &str,
    resource: &Json,
    previous: Option<&Json>,
) -> Result<Vec<Issue>, Error> {
    let record = record_of(id, resource);
    if !matchable(&record) {
        return Ok(Vec::new());
    }
    if let Some(previous) = previous
        && record_of(id, previous) == record
    {
        return Ok(Vec::new());
    }
    let mut exclude: HashSet<String> = HashSet::from([id.to_string()]);
    exclude.extend(linked_ids(resource, &["replaced-by", "replaces"]));
    let candidates = find_candidates(&mut TxLookup { tx: writer.tx() }, &record, &exclude)?;
    let hits: Vec<MatchHit> = rank(&record, candidates, false, REVIEW_TASKS_PER_WRITE_MAX)
        .into_iter()
        .filter(|hit| hit.result.grade >= MatchGrade::Probable)
        .collect();
    let mut warnings = Vec::new();
    for hit in hits {
        let other = hit.resource.id.clone();
        if open_review_exists(&mut TxLookup { tx: writer.tx() }, id, &other)? {
            continue;
        }
        let task = review_task(id, &other, &hit, &writer.now_text());
        let stored = writer
            .put("Task", Target::Create(None), task, None, Authority::Derived)?
            .resource;
        warnings.push(
            Issue::warning(
                IssueCode::Duplicate,
                format!(
                    "Posible registro duplicado: Patient/{other} ({}, puntaje {:.2}). Se abrió la tarea \
                     de revisión Task/{}.",
                    hit.result.grade.label_es(),
                    hit.score,
                    stored.id
                ),
                format!(
                    "Possible duplicate registration: Patient/{other} ({}, score {:.2}). Review task \
                     Task/{} was opened.",
                    hit.grade, hit.score, stored.id
                ),
            )
            .at("Patient"),
        );
    }
    Ok(warnings)
}

fn review_task_query(focus: &str) -> Result<search::SearchQuery, Error> {
    let params = vec![
        ("focus".to_string(), format!("Patient/{focus}")),
        (
            "code".to_string(),
            format!("{TASK_CODE_SYSTEM}|{TASK_CODE_REVIEW_DUPLICATE}"),
        ),
        ("status".to_string(), OPEN_TASK_STATUSES.to_string()),
    ];
    internal_query("Task", &params, 0)
}

/// The candidate a review task is about.
pub(crate) fn task_candidate(task: &Json) -> Option<&str> {
    task.get("input")
        .map_or(&[][..], Json::as_list)
        .iter()
        .find_map(|input| {
            input
                .pointer("valueReference.reference")
                .and_then(Json::as_str)
        })
        .and_then(|reference| reference.strip_prefix("Patient/"))
}

/// Open review tasks between `a` and `b` (either direction), as stored.
pub(crate) fn open_reviews(
    lookup: &mut dyn Lookup,
    a: &str,
    b: &str,
) -> Result<Vec<StoredResource>, Error> {
    let mut found = Vec::new();
    for (focus, other) in [(a, b), (b, a)] {
        let query = review_task_query(focus)?;
        for task_id in lookup.search_ids(&query, OPEN_REVIEWS_PER_PATIENT_MAX)? {
            let Some(stored) = lookup.read("Task", &task_id)? else {
                continue;
            };
            let Ok(task) = fhir::json::parse_str(&stored.body) else {
                continue;
            };
            if task_candidate(&task) == Some(other) {
                found.push(stored);
            }
        }
    }
    Ok(found)
}

pub(crate) fn open_review_exists(lookup: &mut dyn Lookup, a: &str, b: &str) -> Result<bool, Error> {
    Ok(!open_reviews(lookup, a, b)?.is_empty())
}

pub(crate) fn coded(system: &str, code: &str, text: &str) -> Json {
    Json::object([
        (
            "coding",
            Json::Array(vec![Json::object([
                ("system", Json::str(system)),
                ("code", Json::str(code)),
            ])]),
        ),
        ("text", Json::str(text)),
    ])
}

fn decimal(value: f64) -> Json {
    Json::Number(format!("{value:.2}"))
}

fn grade_extension(grade: &str) -> Json {
    Json::object([
        ("url", Json::str(MATCH_GRADE_EXTENSION)),
        ("valueCode", Json::str(grade)),
    ])
}

fn field_code(field: mpi::Field) -> String {
    serde_json::to_value(field)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "campo".to_string())
}

/// The review task for the pair (`focus` just written, `candidate` already stored).
pub(crate) fn review_task(focus: &str, candidate: &str, hit: &MatchHit, now: &str) -> Json {
    let result = &hit.result;
    let mut inputs = vec![
        Json::object([
            ("extension", Json::Array(vec![grade_extension(hit.grade)])),
            (
                "type",
                coded(TASK_INPUT_SYSTEM, "candidato", "Paciente candidato"),
            ),
            (
                "valueReference",
                Json::object([("reference", Json::str(format!("Patient/{candidate}")))]),
            ),
        ]),
        Json::object([
            (
                "type",
                coded(TASK_INPUT_SYSTEM, "grado", "Grado de coincidencia"),
            ),
            ("valueCode", Json::str(hit.grade)),
        ]),
        Json::object([
            (
                "type",
                coded(TASK_INPUT_SYSTEM, "puntaje", "Puntaje (0 a 1)"),
            ),
            ("valueDecimal", decimal(hit.score)),
        ]),
        Json::object([
            (
                "type",
                coded(
                    TASK_INPUT_SYSTEM,
                    "puntaje-bits",
                    "Puntaje Fellegi-Sunter (bits)",
                ),
            ),
            ("valueDecimal", decimal(result.score)),
        ]),
    ];
    for field in &result.fields {
        inputs.push(Json::object([
            (
                "type",
                coded(
                    TASK_INPUT_SYSTEM,
                    &format!("campo-{}", field_code(field.field)),
                    field.field.label_es(),
                ),
            ),
            (
                "valueString",
                Json::str(format!(
                    "{:+.2} bits. {} / {}",
                    field.weight, field.explanation_es, field.explanation_en
                )),
            ),
        ]));
    }
    for note in &result.notes {
        inputs.push(Json::object([
            ("type", coded(TASK_INPUT_SYSTEM, "nota", "Observación")),
            (
                "valueString",
                Json::str(format!("{} / {}", note.message_es(), note.message_en())),
            ),
        ]));
    }
    let priority = if result.grade == MatchGrade::Certain {
        "urgent"
    } else {
        "routine"
    };
    Json::object([
        ("resourceType", Json::str("Task")),
        ("status", Json::str("requested")),
        ("intent", Json::str("proposal")),
        ("priority", Json::str(priority)),
        (
            "code",
            coded(
                TASK_CODE_SYSTEM,
                TASK_CODE_REVIEW_DUPLICATE,
                "Revisar posible registro duplicado",
            ),
        ),
        (
            "description",
            Json::str(format!(
                "Patient/{focus} y Patient/{candidate} podrían ser la misma persona ({}, puntaje {:.2}). \
                 Si lo son, fusione con Patient/$merge; si no, cierre la tarea como rechazada.",
                result.grade.label_es(),
                hit.score
            )),
        ),
        (
            "focus",
            Json::object([("reference", Json::str(format!("Patient/{focus}")))]),
        ),
        ("authoredOn", Json::str(now)),
        ("lastModified", Json::str(now)),
        ("input", Json::Array(inputs)),
    ])
}
