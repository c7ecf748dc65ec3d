//! Bulk import of NDJSON and Bundle files into the store.
//!
//! Resources that carry an id keep it (as update-as-create does), so an export re-imports to
//! the same ids, and a resource identical to the stored one (ignoring `meta`) is skipped, so
//! importing the same file twice changes nothing. Each bad resource is reported with its file,
//! line and reason while the good ones still load (unless the caller asks for strictness).
//! Parsing and validation run on the calling thread while the previous batch is written by
//! the store's writer, so both cores work.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::mpsc;

use auth::audit::{AuditAction, Outcome as AuditOutcome};
use fhir::{Issue, Json};
use store::{NewVersion, PreparedVersion};

use crate::guard::Authority;
use crate::meta::is_valid_id;
use crate::write::check::check_resource;
use crate::write::{Target, Writer};
use crate::{Ehr, Error, Requester};

/// Resources per write job (one transaction). Index B-trees whose keys arrive in random order
/// (dates, quantities, references to encounters) get a row on most of their pages in every
/// large commit, and each commit writes every page it changed to the WAL (then the checkpoint
/// writes it again): so the pages written per resource fall as the commit grows. 50,000
/// resources (~50 MB of JSON) took a 10^6-resource import from 21,000 to 26,000 res/s
/// (BENCHMARKS.md); a failed commit loses at most that much work, which re-importing redoes
/// (ids are kept).
pub const IMPORT_BATCH_RESOURCES: usize = 50_000;

/// Rejections kept in the report; beyond this only the counts grow. Bounds memory on a
/// file of millions of bad lines.
pub const IMPORT_REJECTIONS_KEPT_MAX: usize = 10_000;

/// Where to read from: a name for messages and a way to open it (twice in strict mode).
pub struct ImportSource {
    pub name: String,
    pub open: Box<dyn Fn() -> std::io::Result<Box<dyn BufRead>> + Send + Sync>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRejection {
    pub file: String,
    /// 1-based line for NDJSON, 1-based entry number for Bundles.
    pub line: usize,
    pub resource_type: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub loaded: BTreeMap<String, u64>,
    pub unchanged: BTreeMap<String, u64>,
    pub rejected: BTreeMap<String, u64>,
    pub rejections: Vec<ImportRejection>,
    pub bundles: u64,
}

impl ImportReport {
    pub fn loaded_total(&self) -> u64 {
        self.loaded.values().sum()
    }
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
    fn reject(&mut self, rejection: ImportRejection) {
        *self
            .rejected
            .entry(rejection.resource_type.clone())
            .or_default() += 1;
        if self.rejections.len() < IMPORT_REJECTIONS_KEPT_MAX {
            self.rejections.push(rejection);
        }
    }
}

/// One resource ready to be written.
struct Item {
    file_idx: usize,
    line: usize,
    resource_type: String,
    /// The resource, unless it was `prepared` (then its body text stands for it).
    resource: Option<Json>,
    /// The version already serialised and indexed as a first version, when nothing about it
    /// needs the transaction (it has its id, no conditional references, no in-transaction
    /// rules): the writer then only inserts rows. Dropped if the resource turns out to exist.
    prepared: Option<PreparedVersion>,
}

/// Builds the first version of a resource on the parsing thread, when that is possible.
fn prepare_first_version(
    resource_type: &str,
    resource: &mut Json,
    now_ms: i64,
) -> Option<PreparedVersion> {
    if crate::write::profile::has_transaction_rules(resource_type) {
        return None;
    }
    let id = resource.get("id").and_then(Json::as_str)?.to_string();
    let mut conditional = false;
    crate::write::refs::for_each_reference(resource, &mut |reference| {
        conditional |= crate::write::refs::is_conditional(reference);
    });
    if conditional {
        return None;
    }
    let last_updated = crate::meta::format_instant(now_ms);
    crate::meta::stamp(resource, &id, 1, &last_updated);
    Some(PreparedVersion::prepare(NewVersion {
        resource_type: resource_type.to_string(),
        id,
        version_id: 1,
        last_updated,
        last_updated_ms: now_ms,
        resource: Some(std::mem::replace(resource, Json::Null)),
    }))
}

/// Where a resource came from, kept for the report after its body is written and dropped.
struct Outcome {
    file_idx: usize,
    line: usize,
    resource_type: String,
}

enum ItemOutcome {
    Loaded,
    Unchanged,
    Rejected(String),
}

/// Imports `sources` in order. `progress` is called with the number of resources committed
/// (written, unchanged or rejected by the writer) so far, after each batch's commit.
pub fn import_source(
    ehr: &Ehr,
    who: &Requester,
    sources: &[ImportSource],
    strict: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ImportReport, Error> {
    if strict {
        let mut report = ImportReport::default();
        for (file_idx, source) in sources.iter().enumerate() {
            read_source(
                source,
                file_idx,
                &mut report,
                &mut Vec::new(),
                None,
                &mut |_| Ok(()),
            )?;
        }
        if report.rejected_total() > 0 {
            return Ok(report);
        }
    }
    let mut report = ImportReport::default();
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let names = &names;
    let mut deferred = Vec::new();
    std::thread::scope(|scope| -> Result<(), Error> {
        // A bounded queue of batches: parsing stays at most two batches ahead of the writer.
        let (batches, receiver) = mpsc::sync_channel::<Vec<Item>>(2);
        let writer = scope.spawn(move || -> Result<ImportReport, Error> {
            // Only counts and (bounded) rejections are kept, so memory does not grow with
            // the size of the import.
            let mut tally = ImportReport::default();
            let mut committed = 0u64;
            for batch in receiver {
                committed += batch.len() as u64;
                for (item, outcome) in write_batch(ehr, who, batch)? {
                    match outcome {
                        ItemOutcome::Loaded => {
                            *tally.loaded.entry(item.resource_type).or_default() += 1;
                        }
                        ItemOutcome::Unchanged => {
                            *tally.unchanged.entry(item.resource_type).or_default() += 1;
                        }
                        ItemOutcome::Rejected(reason) => tally.reject(ImportRejection {
                            file: names[item.file_idx].clone(),
                            line: item.line,
                            resource_type: item.resource_type,
                            reason,
                        }),
                    }
                }
                progress(committed);
            }
            Ok(tally)
        });
        let batch_max = IMPORT_BATCH_RESOURCES.min(ehr.store().bulk_job_resources_max().max(1));
        let mut pending = Vec::with_capacity(batch_max);
        let mut send_result = Ok(());
        for (file_idx, source) in sources.iter().enumerate() {
            let now_ms = Some(ehr.now_ms());
            let outcome = read_source(
                source,
                file_idx,
                &mut report,
                &mut deferred,
                now_ms,
                &mut |item| {
                    pending.push(item);
                    if pending.len() >= batch_max {
                        let batch = std::mem::take(&mut pending);
                        batches
                            .send(batch)
                            .map_err(|_| Error::Internal("import writer stopped".into()))?;
                    }
                    Ok(())
                },
            );
            if let Err(err) = outcome {
                send_result = Err(err);
                break;
            }
        }
        if send_result.is_ok() && !pending.is_empty() {
            let _ = batches.send(std::mem::take(&mut pending));
        }
        drop(batches);
        let tally = writer
            .join()
            .map_err(|_| Error::Internal("import writer panicked".into()))??;
        send_result?;
        for (resource_type, n) in tally.loaded {
            *report.loaded.entry(resource_type).or_default() += n;
        }
        for (resource_type, n) in tally.unchanged {
            *report.unchanged.entry(resource_type).or_default() += n;
        }
        for (resource_type, n) in tally.rejected {
            *report.rejected.entry(resource_type).or_default() += n;
        }
        let room = IMPORT_REJECTIONS_KEPT_MAX.saturating_sub(report.rejections.len());
        report
            .rejections
            .extend(tally.rejections.into_iter().take(room));
        Ok(())
    })?;
    // Transaction Bundles are processed whole, after the resource files.
    for (file_idx, line, bundle) in deferred {
        import_transaction_bundle(ehr, who, &bundle, &names[file_idx], line, &mut report);
    }
    Ok(report)
}

fn describe(issues: &[Issue]) -> String {
    issues
        .iter()
        .filter(|issue| issue.is_error())
        .map(|issue| match &issue.expression {
            Some(at) => format!("{at}: {}", issue.message_es),
            None => issue.message_es.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads one source, calling `accept` with each valid resource and recording rejections.
/// Transaction and batch Bundles are skipped here (see `import_transaction_bundles`).
fn read_source(
    source: &ImportSource,
    file_idx: usize,
    report: &mut ImportReport,
    deferred: &mut Vec<(usize, usize, Json)>,
    now_ms: Option<i64>,
    accept: &mut dyn FnMut(Item) -> Result<(), Error>,
) -> Result<(), Error> {
    let reader = (source.open)()
        .map_err(|err| Error::Internal(format!("no se pudo abrir {}: {err}", source.name)))?;
    let mut offer = |line: usize, resource: Json, report: &mut ImportReport| -> Result<(), Error> {
        let resource_type = resource
            .get("resourceType")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        match check_item(&resource_type, &resource) {
            Ok(()) => {
                let mut resource = resource;
                let prepared = match now_ms {
                    Some(now_ms) => prepare_first_version(&resource_type, &mut resource, now_ms),
                    None => None,
                };
                // A prepared item carries its body as text only: the tree is dropped here, on
                // the parsing thread, not by the writer.
                let resource = if prepared.is_some() {
                    None
                } else {
                    Some(resource)
                };
                accept(Item {
                    file_idx,
                    line,
                    resource_type,
                    resource,
                    prepared,
                })
            }
            Err(reason) => {
                report.reject(ImportRejection {
                    file: source.name.clone(),
                    line,
                    resource_type: if resource_type.is_empty() {
                        "?".into()
                    } else {
                        resource_type
                    },
                    reason,
                });
                Ok(())
            }
        }
    };
    let mut lines = reader.lines();
    let mut first_content: Option<(usize, String)> = None;
    let mut line_no = 0usize;
    // Peek at the first non-empty line: a Bundle file is one JSON document, NDJSON is not.
    for line in lines.by_ref() {
        line_no += 1;
        let line = line.map_err(|err| Error::Internal(format!("{}: {err}", source.name)))?;
        if !line.trim().is_empty() {
            first_content = Some((line_no, line));
            break;
        }
    }
    let Some((first_no, first_line)) = first_content else {
        return Ok(());
    };
    if let Ok(value) = fhir::json::parse_str(&first_line) {
        // NDJSON (or a single-line Bundle).
        handle_document(file_idx, first_no, value, report, deferred, &mut offer)?;
        for line in lines {
            line_no += 1;
            let line = line.map_err(|err| Error::Internal(format!("{}: {err}", source.name)))?;
            if line.trim().is_empty() {
                continue;
            }
            match fhir::json::parse_str(&line) {
                Ok(value) => {
                    handle_document(file_idx, line_no, value, report, deferred, &mut offer)?
                }
                Err(err) => report.reject(ImportRejection {
                    file: source.name.clone(),
                    line: line_no,
                    resource_type: "?".into(),
                    reason: err.message_es(),
                }),
            }
        }
        return Ok(());
    }
    // A multi-line (pretty-printed) JSON document.
    let mut text = first_line;
    text.push('\n');
    for line in lines {
        let line = line.map_err(|err| Error::Internal(format!("{}: {err}", source.name)))?;
        text.push_str(&line);
        text.push('\n');
    }
    match fhir::json::parse_str(&text) {
        Ok(value) => handle_document(file_idx, first_no, value, report, deferred, &mut offer),
        Err(err) => {
            report.reject(ImportRejection {
                file: source.name.clone(),
                line: err.line + first_no - 1,
                resource_type: "?".into(),
                reason: err.message_es(),
            });
            Ok(())
        }
    }
}

fn handle_document(
    file_idx: usize,
    line: usize,
    value: Json,
    report: &mut ImportReport,
    deferred: &mut Vec<(usize, usize, Json)>,
    offer: &mut dyn FnMut(usize, Json, &mut ImportReport) -> Result<(), Error>,
) -> Result<(), Error> {
    let is_bundle = value.get("resourceType").and_then(Json::as_str) == Some("Bundle");
    let bundle_type = value.get("type").and_then(Json::as_str).unwrap_or("");
    if is_bundle && matches!(bundle_type, "transaction" | "batch") {
        deferred.push((file_idx, line, value)); // processed whole, after the resource files
        return Ok(());
    }
    if is_bundle && matches!(bundle_type, "collection" | "searchset" | "history") {
        report.bundles += 1;
        if let Json::Object(mut object) = value
            && let Some(Json::Array(entries)) = object.remove("entry")
        {
            for (idx, entry) in entries.into_iter().enumerate() {
                if let Json::Object(mut entry) = entry
                    && let Some(resource) = entry.remove("resource")
                {
                    offer(line + idx, resource, report)?;
                }
            }
        }
        return Ok(());
    }
    offer(line, value, report)
}

fn check_item(resource_type: &str, resource: &Json) -> Result<(), String> {
    if resource_type.is_empty() {
        return Err("falta resourceType / resourceType is missing".into());
    }
    if !fhir::defs::is_resource_type(resource_type) {
        return Err(format!("tipo de recurso desconocido: {resource_type}"));
    }
    if let Some(id) = resource.get("id")
        && !id.as_str().is_some_and(is_valid_id)
    {
        return Err("id no válido".into());
    }
    check_resource(resource_type, resource, None)
        .map(|_| ())
        .map_err(|err| describe(&err.issues()))
}

/// Writes one batch as one job. A resource whose conditional references do not resolve is
/// rejected without failing the batch (its problem is found before anything is written).
///
/// The batch leaves one audit entry (who imported how many resources of which file), in the
/// same transaction; a per-resource entry would double the rows an import writes.
fn write_batch(
    ehr: &Ehr,
    who: &Requester,
    batch: Vec<Item>,
) -> Result<Vec<(Outcome, ItemOutcome)>, Error> {
    let mut audit = ehr.audit_entry(who, AuditAction::Create, AuditOutcome::Success);
    audit.resource_type = Some("Bundle".into());
    // A batch is tens of megabytes: it is moved into the job, not copied for a possible
    // second run. An engine that must run the job again (a serialization failure) gets a
    // conflict instead, and the import reports it; importing the file again is idempotent.
    let mut batch = Some(batch);
    ehr.write(who, move |writer| {
        let Some(batch) = batch.take() else {
            return Err(Error::Conflict(vec![Issue::error(
                fhir::IssueCode::Transient,
                "El lote de importación chocó con escrituras simultáneas; vuelva a importar el archivo (los recursos ya cargados no cambian).",
                "The import batch collided with concurrent writes; import the file again (resources already loaded do not change).",
            )]));
        };
        let mut outcomes = Vec::with_capacity(batch.len());
        for item in batch {
            outcomes.push(write_item(writer, item)?);
        }
        let loaded = outcomes
            .iter()
            .filter(|(_, o)| !matches!(o, ItemOutcome::Rejected(_)))
            .count();
        let mut audit = audit.clone();
        audit.details = format!("importación: {loaded} recursos escritos o sin cambio");
        writer.append_audit(audit)?;
        Ok(outcomes)
    })
}

fn write_item(writer: &mut Writer<'_>, item: Item) -> Result<(Outcome, ItemOutcome), Error> {
    let Item {
        file_idx,
        line,
        resource_type,
        resource,
        prepared,
    } = item;
    let outcome = Outcome {
        file_idx,
        line,
        resource_type,
    };
    let resource = match (resource, prepared) {
        (Some(resource), _) => resource,
        (None, Some(prepared)) => {
            let body = prepared.body.clone().unwrap_or_default();
            if writer.put_prepared(prepared)? {
                return Ok((outcome, ItemOutcome::Loaded));
            }
            // It exists after all: take the full path from the prepared body.
            fhir::json::parse_str(&body).map_err(|err| Error::Internal(err.to_string()))?
        }
        (None, None) => return Err(Error::Internal("import item without a resource".into())),
    };
    // References are resolved first so that a re-import compares like with like (the
    // stored version holds the resolved references).
    let mut resource = resource;
    if let Err(err) = crate::write::refs::resolve_conditional_references(writer, &mut resource) {
        return match err {
            Error::Unprocessable(issues) | Error::BadRequest(issues) => {
                Ok((outcome, ItemOutcome::Rejected(describe(&issues))))
            }
            Error::PreconditionFailed(issue) => {
                Ok((outcome, ItemOutcome::Rejected(issue.message_es)))
            }
            other => Err(other),
        };
    }
    let id = resource
        .get("id")
        .and_then(Json::as_str)
        .map(str::to_string);
    if let Some(id) = &id
        && let Some(current) = writer
            .tx()
            .read(&outcome.resource_type, id)
            .map_err(Error::from)?
        && !current.deleted
        && same_content(&current.body, &resource)
    {
        return Ok((outcome, ItemOutcome::Unchanged));
    }
    // Resources keep their ids (as update-as-create does), so an export re-imports to the
    // same ids; without one the server assigns it.
    let target = match id {
        Some(id) => Target::Id(id),
        None => Target::Create(None),
    };
    let written = writer.put(
        &outcome.resource_type,
        target,
        resource,
        None,
        Authority::Requester,
    );
    match written {
        Ok(_) => Ok((outcome, ItemOutcome::Loaded)),
        // Rule violations found inside the transaction (a duplicate CURP, a conditional
        // reference that resolves to nothing) reject the resource; anything else (storage
        // failures) stops the import.
        Err(Error::Unprocessable(issues) | Error::Conflict(issues) | Error::BadRequest(issues)) => {
            Ok((outcome, ItemOutcome::Rejected(describe(&issues))))
        }
        Err(Error::PreconditionFailed(issue)) => {
            Ok((outcome, ItemOutcome::Rejected(issue.message_es)))
        }
        Err(err) => Err(err),
    }
}

/// Equal apart from `meta.versionId`/`meta.lastUpdated` (and an absent vs empty meta).
fn same_content(stored_body: &str, incoming: &Json) -> bool {
    let Ok(mut stored) = fhir::json::parse_str(stored_body) else {
        return false;
    };
    let mut incoming = incoming.clone();
    for value in [&mut stored, &mut incoming] {
        if let Some(object) = value.as_object_mut() {
            let mut drop_meta = false;
            if let Some(Json::Object(meta)) = object.get_mut("meta") {
                meta.remove("versionId");
                meta.remove("lastUpdated");
                drop_meta = meta.is_empty();
            }
            if drop_meta {
                object.remove("meta");
            }
        }
    }
    stored.same_value(&incoming)
}

fn import_transaction_bundle(
    ehr: &Ehr,
    who: &Requester,
    document: &Json,
    file: &str,
    line: usize,
    report: &mut ImportReport,
) {
    report.bundles += 1;
    match ehr.process_bundle(who, document, false) {
        Ok(outcome) => {
            for entry in outcome
                .response
                .get("entry")
                .map(Json::as_list)
                .unwrap_or(&[])
            {
                let status = entry
                    .pointer("response.status")
                    .and_then(Json::as_str)
                    .unwrap_or("");
                let location = entry
                    .pointer("response.location")
                    .and_then(Json::as_str)
                    .unwrap_or("");
                let resource_type = location.split('/').next().unwrap_or("?").to_string();
                if status.starts_with("201") || status.starts_with("200") {
                    *report.loaded.entry(resource_type).or_default() += 1;
                } else if !status.starts_with("204") {
                    report.reject(ImportRejection {
                        file: file.to_string(),
                        line,
                        resource_type,
                        reason: status.to_string(),
                    });
                }
            }
        }
        Err(err) => report.reject(ImportRejection {
            file: file.to_string(),
            line,
            resource_type: "Bundle".into(),
            reason: describe(&err.issues()),
        }),
    }
}

/// Where a resource type goes in a load order: reference data first (facilities,
/// practitioners, patients), so that conditional references in later files resolve.
pub fn load_order(resource_type: &str) -> u8 {
    match resource_type {
        "Organization" => 0,
        "Location" => 1,
        "Practitioner" => 2,
        "PractitionerRole" => 3,
        "Medication" => 4,
        "Patient" => 5,
        "Device" => 6,
        "Encounter" => 7,
        "Provenance" | "AuditEvent" => 20,
        _ => 10,
    }
}
