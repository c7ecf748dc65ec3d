//! The master patient index as use cases: `Patient/$match`, `Patient/$merge` / `$unmerge`,
//! `$validate`, the offline scan's review queue, following merge links, and the CURP check
//! the UI calls while a receptionist types.
//!
//! Candidate retrieval and scoring are `crate::matching`; the review `Task`s opened on every
//! Patient write are `crate::write::duplicates`.
//!
//! # Merge
//!
//! `$merge(source, target)` — for the identity steward (MPI stewardship, not every
//! receptionist) — writes new versions: the source becomes `active = false` with
//! `link {type: replaced-by, other: target}`, the target gains `link {type: replaces, other:
//! source}`, and a `Provenance` (activity `merge`, ISO 21089 lifecycle) records both new versions
//! as `target` and both previous versions as `entity` (role `revision`). Nothing is deleted.
//! `$unmerge` restores the source's pre-merge content and removes the link from the target
//! (when the target has not changed since the merge, its pre-merge content is restored exactly),
//! and records a Provenance with activity `unmerge`.
//!
//! After a merge, either id gives the whole history: `read` works on both (the source says who
//! replaced it), `$everything` returns the union of both compartments, and searches by reference
//! to either patient (`Observation?patient=<source>`, `subject=Patient/<target>`) are widened
//! to every patient of the merge set ([`Ehr::widen_patient_references`]).

use std::collections::{BTreeSet, HashSet};

use auth::audit::{AuditAction, AuditEntry, Outcome as AuditOutcome};
use auth::policy::{Decision, Operation};
use auth::scope::Interaction;
use fhir::{Issue, IssueCode, Json};
use mexico::systems;
use mpi::{MatchGrade, MatchResult};
use store::StoredResource;

use crate::guard::{Authority, forbidden};
use crate::lookup::{Lookup, StoreLookup, TxLookup, internal_query};
use crate::matching::{
    MATCH_COUNT_DEFAULT, MATCH_COUNT_MAX, MatchHit, REVIEW_TASKS_PER_WRITE_MAX, find_candidates,
    is_retired, linked_ids, matchable, rank, record_of, score_01,
};
use crate::write::check::{check_resource, check_type};
use crate::write::duplicates::{coded, open_review_exists, open_reviews, review_task};
use crate::write::profile::{active_curp, is_active};
use crate::write::{Target, Writer};
use crate::{Ehr, Error, Requester};

/// ISO 21089 record lifecycle events, used for `Provenance.activity` of merges.
pub const LIFECYCLE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle";

/// Merge Provenances of one patient read at most.
const MERGE_PROVENANCES_MAX: usize = 1_000;
/// How far merge links are followed (a chain of merges longer than this is data damage).
const MERGE_CHAIN_MAX: usize = 16;

/// `Patient/$match` input.
#[derive(Clone, Debug)]
pub struct MatchRequest {
    pub patient: Json,
    pub only_certain: bool,
    pub count: usize,
}

/// What a `$merge` or `$unmerge` wrote.
#[derive(Clone, Debug)]
pub struct MergeOutcome {
    pub source: StoredResource,
    pub target: StoredResource,
    pub provenance: StoredResource,
}

/// Result of the CURP check for the UI.
#[derive(Clone, Debug)]
pub struct CurpCheck {
    /// As typed.
    pub input: String,
    /// Trimmed and upper-cased: what is validated and what the form should store.
    pub normalized: String,
    pub valid: bool,
    /// All 18 characters present (a correct prefix is not an error while typing).
    pub complete: bool,
    pub errors: Vec<CurpProblem>,
    /// Facts read from a valid CURP.
    pub birth_date: Option<String>,
    /// FHIR `gender` the CURP implies.
    pub gender: Option<&'static str>,
    pub birth_state: Option<String>,
    pub birth_state_name: Option<&'static str>,
}

/// One problem of a CURP, by position.
#[derive(Clone, Debug)]
pub struct CurpProblem {
    /// 1-based first and last positions concerned, when the problem is positional.
    pub positions: Option<(usize, usize)>,
    pub message_es: String,
    pub message_en: String,
}

// ---------------------------------------------------------------------------------------------
// Merge bookkeeping
// ---------------------------------------------------------------------------------------------

fn link(other: &str, link_type: &str) -> Json {
    Json::object([
        (
            "other",
            Json::object([("reference", Json::str(format!("Patient/{other}")))]),
        ),
        ("type", Json::str(link_type)),
    ])
}

fn add_link(patient: &mut Json, other: &str, link_type: &str) {
    let Some(object) = patient.as_object_mut() else {
        return;
    };
    match object.get_mut("link") {
        Some(Json::Array(links)) => links.push(link(other, link_type)),
        _ => object.insert("link", Json::Array(vec![link(other, link_type)])),
    }
}

fn remove_link(patient: &mut Json, other: &str, link_type: &str) {
    let Some(object) = patient.as_object_mut() else {
        return;
    };
    let now_empty = match object.get_mut("link") {
        Some(Json::Array(links)) => {
            let reference = format!("Patient/{other}");
            links.retain(|l| {
                !(l.get("type").and_then(Json::as_str) == Some(link_type)
                    && l.pointer("other.reference").and_then(Json::as_str)
                        == Some(reference.as_str()))
            });
            links.is_empty()
        }
        _ => false,
    };
    if now_empty {
        object.remove("link");
    }
}

fn provenance(
    activity: &str,
    text: &str,
    targets: [(&StoredResource, u64); 2],
    extra_entity: Option<&str>,
    now: &str,
) -> Json {
    let versioned = |stored: &StoredResource, version: u64| {
        Json::object([(
            "reference",
            Json::str(format!("Patient/{}/_history/{version}", stored.id)),
        )])
    };
    let mut entities: Vec<Json> = targets
        .iter()
        .map(|(stored, _)| {
            Json::object([
                ("role", Json::str("revision")),
                ("what", versioned(stored, stored.version_id)),
            ])
        })
        .collect();
    if let Some(reference) = extra_entity {
        entities.push(Json::object([
            ("role", Json::str("source")),
            ("what", Json::object([("reference", Json::str(reference))])),
        ]));
    }
    Json::object([
        ("resourceType", Json::str("Provenance")),
        (
            "target",
            Json::Array(
                targets
                    .iter()
                    .map(|(stored, new_version)| versioned(stored, *new_version))
                    .collect(),
            ),
        ),
        ("recorded", Json::str(now)),
        (
            "activity",
            Json::object([
                (
                    "coding",
                    Json::Array(vec![Json::object([
                        ("system", Json::str(LIFECYCLE_SYSTEM)),
                        ("code", Json::str(activity)),
                    ])]),
                ),
                ("text", Json::str(text)),
            ]),
        ),
        (
            "agent",
            Json::Array(vec![Json::object([
                (
                    "type",
                    coded(
                        "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                        "performer",
                        "Ejecutó",
                    ),
                ),
                (
                    "who",
                    Json::object([(
                        "display",
                        Json::str(format!("Expediente, operación Patient/${activity}")),
                    )]),
                ),
            ])]),
        ),
        ("entity", Json::Array(entities)),
    ])
}

fn unprocessable(es: String, en: String, at: &str) -> Error {
    Error::Unprocessable(vec![
        Issue::error(IssueCode::BusinessRule, es, en).at(at.to_string()),
    ])
}

fn read_patient(writer: &mut Writer<'_>, id: &str) -> Result<(StoredResource, Json), Error> {
    match writer.tx().read("Patient", id).map_err(Error::from)? {
        None => Err(Error::not_found("Patient", id)),
        Some(stored) if stored.deleted => Err(Error::gone("Patient", id)),
        Some(stored) => {
            let json = fhir::json::parse_str(&stored.body)
                .map_err(|err| Error::Internal(format!("stored Patient/{id}: {err}")))?;
            Ok((stored, json))
        }
    }
}

fn versioned_id(reference: &str) -> Option<(String, u64)> {
    let rest = reference.strip_prefix("Patient/")?;
    let (id, version) = rest.split_once("/_history/")?;
    Some((id.to_string(), version.parse().ok()?))
}

// ---------------------------------------------------------------------------------------------
// Use cases
// ---------------------------------------------------------------------------------------------

fn parameter<'a>(parameters: &'a Json, name: &str) -> Option<&'a Json> {
    parameters
        .get("parameter")
        .map_or(&[][..], Json::as_list)
        .iter()
        .find(|p| p.get("name").and_then(Json::as_str) == Some(name))
}

fn bad(es: impl Into<String>, en: impl Into<String>) -> Error {
    Error::bad_request(IssueCode::Invalid, es, en)
}

/// A Patient id from a `$merge` parameter: `valueReference` (`Patient/id`), `valueString`
/// or `valueId`.
fn patient_id_parameter(parameters: &Json, names: &[&str]) -> Result<String, Error> {
    let Some(p) = names.iter().find_map(|name| parameter(parameters, name)) else {
        return Err(bad(
            format!("Falta el parámetro {}", names[0]),
            format!("Parameter {} is missing", names[0]),
        ));
    };
    let text = p
        .pointer("valueReference.reference")
        .or_else(|| p.get("valueString"))
        .or_else(|| p.get("valueId"))
        .and_then(Json::as_str)
        .unwrap_or("");
    let id = text.strip_prefix("Patient/").unwrap_or(text);
    if id.is_empty() || id.contains('/') || !crate::meta::is_valid_id(id) {
        return Err(bad(
            format!(
                "El parámetro {} debe ser una referencia Patient/{{id}}; se recibió «{text}»",
                names[0]
            ),
            format!(
                "Parameter {} must be a reference Patient/{{id}}; got '{text}'",
                names[0]
            ),
        ));
    }
    Ok(id.to_string())
}

impl MatchRequest {
    /// Reads `Patient/$match` input: a `Parameters` with `resource` (a Patient),
    /// `onlyCertainMatches` and `count`; a bare Patient is accepted too.
    pub fn from_body(body: Json) -> Result<MatchRequest, Error> {
        match body.get("resourceType").and_then(Json::as_str) {
            Some("Patient") => {
                return Ok(MatchRequest {
                    patient: body,
                    only_certain: false,
                    count: MATCH_COUNT_DEFAULT,
                });
            }
            Some("Parameters") => {}
            _ => {
                return Err(bad(
                    "$match espera un recurso Parameters con el parámetro «resource» (un Patient)",
                    "$match expects a Parameters resource with a 'resource' parameter (a Patient)",
                ));
            }
        }
        let patient = parameter(&body, "resource")
            .and_then(|p| p.get("resource"))
            .cloned()
            .ok_or_else(|| {
                bad(
                    "Falta el parámetro «resource» con el Patient a buscar",
                    "Parameter 'resource' with the Patient to match is missing",
                )
            })?;
        if patient.get("resourceType").and_then(Json::as_str) != Some("Patient") {
            return Err(bad(
                "El parámetro «resource» debe ser un Patient",
                "Parameter 'resource' must be a Patient",
            ));
        }
        let only_certain = match parameter(&body, "onlyCertainMatches") {
            None => false,
            Some(p) => p
                .get("valueBoolean")
                .and_then(Json::as_bool)
                .ok_or_else(|| {
                    bad(
                        "onlyCertainMatches debe ser valueBoolean",
                        "onlyCertainMatches must be a valueBoolean",
                    )
                })?,
        };
        let count = match parameter(&body, "count") {
            None => MATCH_COUNT_DEFAULT,
            Some(p) => p
                .get("valueInteger")
                .or_else(|| p.get("valuePositiveInt"))
                .and_then(Json::as_number_text)
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    bad(
                        "count debe ser un entero positivo (valueInteger)",
                        "count must be a positive integer (valueInteger)",
                    )
                })?
                .min(MATCH_COUNT_MAX),
        };
        Ok(MatchRequest {
            patient,
            only_certain,
            count,
        })
    }
}

impl Ehr {
    /// # `POST /Patient/$match`
    ///
    /// Candidates graded possible or better, best first. With `only_certain`, the single
    /// certain match or nothing (R4: never an ambiguous answer in that mode).
    pub fn match_patients(
        &self,
        who: &Requester,
        request: &MatchRequest,
    ) -> Result<Vec<MatchHit>, Error> {
        self.check_type_level(who, Interaction::Search, "Patient")?;
        let issues = fhir::validate::validate_resource(&request.patient);
        if issues.iter().any(Issue::is_error) {
            return Err(Error::BadRequest(issues));
        }
        let own_id = request
            .patient
            .get("id")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        let record = record_of(&own_id, &request.patient);
        if !matchable(&record) {
            return Err(Error::Unprocessable(vec![Issue::error(
                IssueCode::Required,
                "Para buscar coincidencias se necesita al menos CURP, fecha de nacimiento, apellido o \
                 teléfono",
                "Matching needs at least a CURP, birth date, surname or phone",
            )]));
        }
        let mut exclude = HashSet::new();
        if !own_id.is_empty() {
            exclude.extend(self.merge_set(&own_id)?);
        }
        let candidates = find_candidates(
            &mut StoreLookup {
                store: self.store(),
            },
            &record,
            &exclude,
        )?;
        let mut hits = rank(&record, candidates, request.only_certain, request.count);
        // Candidates the requester may not see are absent, as in a search.
        let mut patients = Vec::new();
        let mut kept = Vec::with_capacity(hits.len());
        for hit in hits.drain(..) {
            let mut one = vec![hit.resource.clone()];
            self.filter_readable(who, &mut one, &mut patients)?;
            if !one.is_empty() {
                kept.push(hit);
            }
        }
        self.audit_access(
            who,
            AuditAction::Operation,
            "Patient",
            None,
            &patients,
            "$match",
        );
        Ok(kept)
    }

    /// Decides a merge or unmerge: deciding that two registrations are one person is the
    /// identity steward's job (MPI stewardship), not every receptionist's.
    fn authorize_merge(&self, who: &Requester) -> Result<(), Error> {
        if let Decision::Deny(reason) =
            auth::policy::decide_operation(&who.principal, Operation::MergePatients)
        {
            self.audit_denied(who, AuditAction::Merge, "Patient", None, None, reason);
            return Err(forbidden(reason));
        }
        Ok(())
    }

    fn merge_audit(&self, who: &Requester, outcome: &MergeOutcome, what: &str) -> Vec<AuditEntry> {
        [&outcome.source, &outcome.target]
            .into_iter()
            .map(|patient| {
                let mut entry = self.audit_entry(who, AuditAction::Merge, AuditOutcome::Success);
                entry.resource_type = Some("Patient".into());
                entry.resource_id = Some(patient.id.clone());
                entry.patient_id = Some(patient.id.clone());
                entry.details = format!(
                    "{what}: Patient/{} → Patient/{} (Provenance/{})",
                    outcome.source.id, outcome.target.id, outcome.provenance.id
                );
                entry
            })
            .collect()
    }

    /// # `POST /Patient/$merge`
    ///
    /// `parameters`: `source-patient` and `target-patient` (`valueReference`), or `source` /
    /// `target`. The source is superseded by the target; see the module docs.
    pub fn merge(&self, who: &Requester, parameters: &Json) -> Result<MergeOutcome, Error> {
        let source = patient_id_parameter(parameters, &["source-patient", "source"])?;
        let target = patient_id_parameter(parameters, &["target-patient", "target"])?;
        if source == target {
            return Err(unprocessable(
                "El paciente de origen y el de destino son el mismo".to_string(),
                "Source and target are the same patient".to_string(),
                "Parameters.parameter",
            ));
        }
        self.authorize_merge(who)?;
        self.write(who, move |writer| {
            let outcome = merge_in(writer, &source, &target)?;
            let entries = writer.ehr().merge_audit(writer.who(), &outcome, "$merge");
            for entry in entries {
                writer.append_audit(entry)?;
            }
            Ok(outcome)
        })
    }

    /// # `POST /Patient/$unmerge`
    ///
    /// Undoes the latest merge of `source` into `target`.
    pub fn unmerge(&self, who: &Requester, parameters: &Json) -> Result<MergeOutcome, Error> {
        let source = patient_id_parameter(parameters, &["source-patient", "source"])?;
        let target = patient_id_parameter(parameters, &["target-patient", "target"])?;
        self.authorize_merge(who)?;
        // Previous versions are read outside the write job (the job sees only current
        // versions); the job then checks nothing changed in between.
        let merge = self.find_merge(&source, &target)?;
        let source_before = self
            .store()
            .vread("Patient", &source, merge.source_before)?
            .ok_or_else(|| Error::Internal("pre-merge version of the source is gone".into()))?;
        let target_before = self
            .store()
            .vread("Patient", &target, merge.target_before)?
            .ok_or_else(|| Error::Internal("pre-merge version of the target is gone".into()))?;
        self.write(who, move |writer| {
            let outcome = unmerge_in(
                writer,
                &source,
                &target,
                &merge,
                &source_before,
                &target_before,
            )?;
            let entries = writer.ehr().merge_audit(writer.who(), &outcome, "$unmerge");
            for entry in entries {
                writer.append_audit(entry)?;
            }
            Ok(outcome)
        })
    }

    /// Opens review tasks for pairs found by an offline scan (`expediente mpi scan`): `focus`
    /// is the patient registered later, `candidate` the earlier one. Pairs below probable, pairs
    /// with an open review, and pairs where either record is gone or inactive are skipped.
    /// Returns how many tasks were opened. One write job per call; callers pass batches.
    pub fn queue_reviews(
        &self,
        who: &Requester,
        pairs: Vec<(String, String, MatchResult)>,
    ) -> Result<usize, Error> {
        self.check_type_level(who, Interaction::Create, "Task")?;
        self.write(who, move |writer| {
            let mut opened = 0;
            for (focus, candidate, result) in &pairs {
                if result.grade < MatchGrade::Probable
                    || open_review_exists(&mut TxLookup { tx: writer.tx() }, focus, candidate)?
                {
                    continue;
                }
                let mut alive = true;
                for id in [focus, candidate] {
                    alive &= match writer.tx().read("Patient", id).map_err(Error::from)? {
                        Some(stored) => !stored.deleted && !is_retired(&stored.body),
                        None => false,
                    };
                }
                if !alive {
                    continue;
                }
                let Some(stored) = writer
                    .tx()
                    .read("Patient", candidate)
                    .map_err(Error::from)?
                else {
                    continue;
                };
                let hit = MatchHit {
                    resource: stored,
                    grade: result.grade.fhir_code(),
                    score: score_01(result.grade, result.score),
                    result: result.clone(),
                };
                let task = review_task(focus, candidate, &hit, &writer.now_text());
                writer.put(
                    "Task",
                    Target::Create(None),
                    task,
                    None,
                    Authority::Requester,
                )?;
                opened += 1;
            }
            Ok(opened)
        })
    }

    /// The latest merge Provenance of `source` into `target`.
    fn find_merge(&self, source: &str, target: &str) -> Result<MergeRecord, Error> {
        let params = vec![("target".to_string(), format!("Patient/{source}"))];
        let query = internal_query("Provenance", &params, self.now_ms())?;
        let matches = StoreLookup {
            store: self.store(),
        }
        .search(&query, MERGE_PROVENANCES_MAX)?;
        let mut best: Option<(i64, MergeRecord)> = None;
        for stored in &matches {
            let Ok(json) = fhir::json::parse_str(&stored.body) else {
                continue;
            };
            let is_merge = json
                .pointer("activity")
                .and_then(|a| a.get("coding"))
                .map_or(&[][..], Json::as_list)
                .iter()
                .any(|c| {
                    c.get("system").and_then(Json::as_str) == Some(LIFECYCLE_SYSTEM)
                        && c.get("code").and_then(Json::as_str) == Some("merge")
                });
            if !is_merge {
                continue;
            }
            let refs = |key: &str, inner: Option<&str>| -> Vec<(String, u64)> {
                json.get(key)
                    .map_or(&[][..], Json::as_list)
                    .iter()
                    .filter_map(|item| {
                        let reference = match inner {
                            Some(inner) => item.get(inner)?,
                            None => item,
                        };
                        reference.get("reference").and_then(Json::as_str)
                    })
                    .filter_map(versioned_id)
                    .collect()
            };
            let targets = refs("target", None);
            let entities = refs("entity", Some("what"));
            let after = |id: &str| targets.iter().find(|(i, _)| i == id).map(|(_, v)| *v);
            let before = |id: &str| entities.iter().find(|(i, _)| i == id).map(|(_, v)| *v);
            if let (Some(_), Some(ta), Some(sb), Some(tb)) =
                (after(source), after(target), before(source), before(target))
            {
                let record = MergeRecord {
                    provenance_id: stored.id.clone(),
                    target_after: ta,
                    source_before: sb,
                    target_before: tb,
                };
                if best
                    .as_ref()
                    .is_none_or(|(seq, _)| stored.change_seq > *seq)
                {
                    best = Some((stored.change_seq, record));
                }
            }
        }
        best.map(|(_, record)| record).ok_or_else(|| {
            unprocessable(
                format!("No hay registro de una fusión de Patient/{source} en Patient/{target}"),
                format!(
                    "There is no record of Patient/{source} being merged into Patient/{target}"
                ),
                "Parameters.parameter",
            )
        })
    }

    /// Every patient id of the merge set `id` belongs to (itself first), following
    /// `replaced-by` / `replaces` links in both directions.
    pub fn merge_set(&self, id: &str) -> Result<Vec<String>, Error> {
        let mut ids = vec![id.to_string()];
        let mut seen: BTreeSet<String> = BTreeSet::from([id.to_string()]);
        let mut next = 0;
        while next < ids.len() && ids.len() < MERGE_CHAIN_MAX {
            let current = ids[next].clone();
            next += 1;
            let Some(stored) = self.store().read("Patient", &current)? else {
                continue;
            };
            // Fast path: most patients were never merged.
            if stored.deleted || !stored.body.contains("\"link\"") {
                continue;
            }
            let Ok(json) = fhir::json::parse_str(&stored.body) else {
                continue;
            };
            for other in linked_ids(&json, &["replaced-by", "replaces"]) {
                if seen.insert(other.clone()) {
                    ids.push(other);
                }
            }
        }
        Ok(ids)
    }

    /// Widens search parameters that reference a merged patient to the whole merge set
    /// (`patient=a` → `patient=a,b`), so a search by either id finds the whole history.
    pub(crate) fn widen_patient_references(
        &self,
        resource_type: &str,
        params: &[(String, String)],
    ) -> Result<Vec<(String, String)>, Error> {
        let registry = search::registry();
        let mut widened = Vec::with_capacity(params.len());
        for (key, value) in params {
            let (code, modifier) = match key.split_once(':') {
                Some((code, modifier)) => (code, Some(modifier)),
                None => (key.as_str(), None),
            };
            // `Patient?link=` asks about the links themselves: never widened.
            let is_link = resource_type == "Patient" && code == "link";
            let only_patient_target = registry
                .param(resource_type, code)
                .filter(|p| {
                    p.kind == search::ParamKind::Reference && !code.contains('.') && !is_link
                })
                .map(|p| {
                    modifier == Some("Patient")
                        || (modifier.is_none() && p.targets.len() == 1 && p.targets[0] == "Patient")
                });
            let Some(bare_is_patient) = only_patient_target else {
                widened.push((key.clone(), value.clone()));
                continue;
            };
            if modifier.is_some_and(|m| m != "Patient") {
                widened.push((key.clone(), value.clone()));
                continue;
            }
            let mut parts: Vec<String> = Vec::new();
            for part in split_unescaped_commas(value) {
                let (prefix, id) = match part.strip_prefix("Patient/") {
                    Some(id) => ("Patient/", id),
                    None if bare_is_patient => ("", part.as_str()),
                    None => {
                        parts.push(part.clone());
                        continue;
                    }
                };
                if id.is_empty() || id.contains('/') || !crate::meta::is_valid_id(id) {
                    parts.push(part.clone());
                    continue;
                }
                for member in self.merge_set(id)? {
                    let item = format!("{prefix}{member}");
                    if !parts.contains(&item) {
                        parts.push(item);
                    }
                }
            }
            widened.push((key.clone(), parts.join(",")));
        }
        Ok(widened)
    }

    /// # `POST /{type}/$validate`
    ///
    /// Everything a create would check, as issues (errors included) instead of a rejection:
    /// R4 structure, the Mexican profile and, for a Patient, the CURP's uniqueness and its
    /// probable duplicates (as warnings).
    pub fn validate(
        &self,
        who: &Requester,
        resource_type: &str,
        resource: &Json,
    ) -> Result<Vec<Issue>, Error> {
        check_type(resource_type)?;
        // Validation reveals what a create would meet (other patients with the same CURP):
        // it takes the right to create.
        self.check_type_level(who, Interaction::Create, resource_type)?;
        let url_id = None;
        let mut issues = match check_resource(resource_type, resource, url_id) {
            Ok(warnings) => warnings,
            Err(err) => return Ok(err.issues()),
        };
        if resource_type != "Patient" {
            return Ok(issues);
        }
        let own_id = resource.get("id").and_then(Json::as_str).unwrap_or("");
        if let Some((idx, curp)) = active_curp(resource)
            && is_active(resource)
        {
            let params = vec![(
                "identifier".to_string(),
                format!(
                    "{}|{}",
                    systems::CURP,
                    crate::matching::escape_search_value(curp)
                ),
            )];
            let query = internal_query("Patient", &params, self.now_ms())?;
            for stored in (StoreLookup {
                store: self.store(),
            })
            .search(&query, 20)?
            {
                let Ok(other) = fhir::json::parse_str(&stored.body) else {
                    continue;
                };
                if stored.id != own_id
                    && is_active(&other)
                    && active_curp(&other).is_some_and(|(_, v)| v == curp)
                {
                    issues.push(
                        Issue::error(
                            IssueCode::Duplicate,
                            format!("Ya existe Patient/{} activo con la CURP {curp}", stored.id),
                            format!(
                                "Patient/{} already exists, active, with CURP {curp}",
                                stored.id
                            ),
                        )
                        .at(format!("Patient.identifier[{idx}].value")),
                    );
                }
            }
        }
        let request = MatchRequest {
            patient: resource.clone(),
            only_certain: false,
            count: REVIEW_TASKS_PER_WRITE_MAX,
        };
        if matchable(&record_of(own_id, resource)) {
            for hit in self.match_patients(who, &request)? {
                if hit.result.grade < MatchGrade::Probable {
                    continue;
                }
                issues.push(
                    Issue::warning(
                        IssueCode::Duplicate,
                        format!(
                            "Posible registro duplicado: Patient/{} ({}, puntaje {:.2})",
                            hit.resource.id,
                            hit.result.grade.label_es(),
                            hit.score
                        ),
                        format!(
                            "Possible duplicate registration: Patient/{} ({}, score {:.2})",
                            hit.resource.id, hit.grade, hit.score
                        ),
                    )
                    .at("Patient"),
                );
            }
        }
        Ok(issues)
    }
}

/// The ids and versions a merge Provenance recorded.
#[derive(Clone, Debug)]
struct MergeRecord {
    provenance_id: String,
    target_after: u64,
    source_before: u64,
    target_before: u64,
}

fn split_unescaped_commas(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            current.push(c);
            escaped = true;
        } else if c == ',' {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
}

fn merge_in(writer: &mut Writer<'_>, source: &str, target: &str) -> Result<MergeOutcome, Error> {
    let (source_stored, mut source_json) = read_patient(writer, source)?;
    let (target_stored, mut target_json) = read_patient(writer, target)?;
    if let Some(survivor) = linked_ids(&source_json, &["replaced-by"]).next() {
        return Err(unprocessable(
            format!("Patient/{source} ya fue fusionado en Patient/{survivor}"),
            format!("Patient/{source} was already merged into Patient/{survivor}"),
            "Parameters.parameter",
        ));
    }
    if let Some(survivor) = linked_ids(&target_json, &["replaced-by"]).next() {
        return Err(unprocessable(
            format!(
                "Patient/{target} fue fusionado en Patient/{survivor}; fusione en Patient/{survivor}"
            ),
            format!(
                "Patient/{target} was merged into Patient/{survivor}; merge into Patient/{survivor} instead"
            ),
            "Parameters.parameter",
        ));
    }
    if let Some(object) = source_json.as_object_mut() {
        object.insert("active", Json::Bool(false));
    }
    add_link(&mut source_json, target, "replaced-by");
    add_link(&mut target_json, source, "replaces");
    let source_after = writer
        .put(
            "Patient",
            Target::Id(source.to_string()),
            source_json,
            Some(source_stored.version_id),
            Authority::Derived,
        )?
        .resource;
    let target_after = writer
        .put(
            "Patient",
            Target::Id(target.to_string()),
            target_json,
            Some(target_stored.version_id),
            Authority::Derived,
        )?
        .resource;
    let now = writer.now_text();
    let record = provenance(
        "merge",
        "MERGE",
        [
            (&source_stored, source_after.version_id),
            (&target_stored, target_after.version_id),
        ],
        None,
        &now,
    );
    let provenance = writer
        .put(
            "Provenance",
            Target::Create(None),
            record,
            None,
            Authority::Derived,
        )?
        .resource;
    // The pair's review tasks are settled by the merge.
    let settled = open_reviews(&mut TxLookup { tx: writer.tx() }, source, target)?;
    for stored in settled {
        let Ok(mut task) = fhir::json::parse_str(&stored.body) else {
            continue;
        };
        if let Some(object) = task.as_object_mut() {
            object.insert("status", Json::str("completed"));
            object.insert("lastModified", Json::str(now.clone()));
            object.insert(
                "businessStatus",
                Json::object([(
                    "text",
                    Json::str(format!(
                        "Fusionados: Patient/{source} en Patient/{target} (Provenance/{})",
                        provenance.id
                    )),
                )]),
            );
        }
        writer.put(
            "Task",
            Target::Id(stored.id.clone()),
            task,
            Some(stored.version_id),
            Authority::Derived,
        )?;
    }
    Ok(MergeOutcome {
        source: source_after,
        target: target_after,
        provenance,
    })
}

fn unmerge_in(
    writer: &mut Writer<'_>,
    source: &str,
    target: &str,
    merge: &MergeRecord,
    source_before: &StoredResource,
    target_before: &StoredResource,
) -> Result<MergeOutcome, Error> {
    let (source_now, source_json) = read_patient(writer, source)?;
    let (target_now, target_json) = read_patient(writer, target)?;
    let merged_into: Vec<String> = linked_ids(&source_json, &["replaced-by"]).collect();
    if !merged_into.iter().any(|id| id == target) {
        return Err(unprocessable(
            format!("Patient/{source} no está fusionado en Patient/{target}"),
            format!("Patient/{source} is not merged into Patient/{target}"),
            "Parameters.parameter",
        ));
    }
    let parse = |stored: &StoredResource| {
        fhir::json::parse_str(&stored.body)
            .map_err(|err| Error::Internal(format!("stored Patient/{}: {err}", stored.id)))
    };
    // The source has been inactive since the merge: its pre-merge content comes back whole.
    let source_restored = parse(source_before)?;
    // The target may have been edited since; only the merge's link is taken back then.
    let target_restored = if target_now.version_id == merge.target_after {
        parse(target_before)?
    } else {
        let mut json = target_json;
        remove_link(&mut json, source, "replaces");
        json
    };
    let source_after = writer
        .put(
            "Patient",
            Target::Id(source.to_string()),
            source_restored,
            Some(source_now.version_id),
            Authority::Derived,
        )?
        .resource;
    let target_after = writer
        .put(
            "Patient",
            Target::Id(target.to_string()),
            target_restored,
            Some(target_now.version_id),
            Authority::Derived,
        )?
        .resource;
    let now = writer.now_text();
    let record = provenance(
        "unmerge",
        "UNMERGE",
        [
            (&source_now, source_after.version_id),
            (&target_now, target_after.version_id),
        ],
        Some(&format!("Provenance/{}", merge.provenance_id)),
        &now,
    );
    let provenance = writer
        .put(
            "Provenance",
            Target::Create(None),
            record,
            None,
            Authority::Derived,
        )?
        .resource;
    Ok(MergeOutcome {
        source: source_after,
        target: target_after,
        provenance,
    })
}

/// # `GET /curp/validar?curp=…`
///
/// Trims and upper-cases, then reports every problem by position; a correct prefix is only
/// "incomplete", so the UI can call this on every keystroke.
pub fn check_curp(input: &str) -> CurpCheck {
    let normalized = mexico::curp::normalize(input);
    let errors = mexico::curp::validate_all(&normalized);
    let complete = normalized.chars().count() >= mexico::curp::LEN;
    let problems = errors
        .iter()
        .map(|error| CurpProblem {
            positions: error.positions().map(|r| (*r.start(), *r.end())),
            message_es: error.message_es(),
            message_en: error.message_en(),
        })
        .collect();
    let valid = mexico::curp::validate(&normalized).ok();
    let (birth_date, gender, birth_state, birth_state_name) = match &valid {
        Some(curp) => {
            let (y, m, d) = curp.birth_date();
            let gender = match curp.sex() {
                mexico::curp::CurpSex::Hombre => "male",
                mexico::curp::CurpSex::Mujer => "female",
                mexico::curp::CurpSex::NoBinario => "other",
            };
            (
                Some(format!("{y:04}-{m:02}-{d:02}")),
                Some(gender),
                Some(curp.birth_state().to_string()),
                mexico::states::by_curp_code(curp.birth_state()).map(|s| s.name),
            )
        }
        None => (None, None, None, None),
    };
    CurpCheck {
        input: input.to_string(),
        normalized,
        valid: valid.is_some(),
        complete,
        errors: problems,
        birth_date,
        gender,
        birth_state,
        birth_state_name,
    }
}

#[cfg(test)]
mod tests;
