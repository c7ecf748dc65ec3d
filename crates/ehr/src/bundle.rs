//! `transaction` and `batch` Bundles (R4 §3.1.0.11).
//!
//! A transaction is one store write job: all of it or none of it. Entries are processed in
//! the order the specification fixes — DELETE, POST, PUT/PATCH, then GET after the commit — and
//! every `fullUrl` placeholder (`urn:uuid:…`) is mapped to the id the server chose (or the
//! existing resource a conditional create/update matched) and rewritten in every reference
//! before anything is written. A batch runs each entry on its own.
//!
//! A PATCH entry carries its patch as the entry's resource: a `Binary` holding a JSON Patch or
//! a `Parameters` holding a FHIRPath Patch. Inside a transaction it reads its target in the
//! transaction, through the read guard, and writes the patched content through the same
//! write path as a PUT entry (validation, profile, write guard, `ifMatch`).

use std::collections::HashMap;

use auth::audit::{AuditAction, Outcome};
use auth::scope::Interaction;
use fhir::patch::Patch;
use fhir::{Issue, IssueCode, Json};
use search::Handling;
use store::StoredResource;

use crate::error::status_line;
use crate::guard::Authority;
use crate::interactions::{CreateOutcome, SearchRequest};
use crate::meta::{is_valid_id, new_id};
use crate::write::check::{check_resource, check_type, multiple_matches, parse_condition};
use crate::write::refs::rewrite_references;
use crate::write::{Target, Writer};
use crate::{Ehr, Error, Requester};

/// Largest number of entries accepted in one Bundle. A Synthea patient bundle has a few
/// hundred; 10,000 bounds the memory and the length of one write transaction.
pub const BUNDLE_ENTRIES_MAX: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleKind {
    Transaction,
    Batch,
}

/// The response Bundle plus how many entries were processed.
#[derive(Clone, Debug)]
pub struct BundleOutcome {
    pub response: Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Method {
    Delete,
    Post,
    Put,
    Patch,
    Get,
}

#[derive(Clone, Debug)]
struct Entry {
    idx: usize,
    method: Method,
    full_url: Option<String>,
    resource_type: String,
    /// `Type/id` target, for PUT/DELETE/GET by id.
    id: Option<String>,
    /// The query of a conditional PUT/DELETE or a GET search.
    query: Option<String>,
    if_none_exist: Option<String>,
    if_match: Option<u64>,
    resource: Option<Json>,
    /// A PATCH entry's patch, read from its resource; a batch answers a bad one per entry.
    patch: Option<Result<Patch, Issue>>,
    /// `url` as received (for GET).
    url: String,
}

/// What a write entry did, kept to build its response.
enum Done {
    Written(CreateOutcome),
    /// A conditional create whose condition matched a resource the requester may see: that
    /// resource is answered instead of a write.
    Matched(StoredResource),
    Deleted,
}

impl Ehr {
    /// # `POST /` with a Bundle of type `transaction` or `batch`
    pub fn process_bundle(
        &self,
        who: &Requester,
        bundle: &Json,
        return_representation: bool,
    ) -> Result<BundleOutcome, Error> {
        let kind = match bundle.get("resourceType").and_then(Json::as_str) {
            Some("Bundle") => match bundle.get("type").and_then(Json::as_str) {
                Some("transaction") => BundleKind::Transaction,
                Some("batch") => BundleKind::Batch,
                other => {
                    return Err(Error::BadRequest(vec![
                        Issue::error(
                            IssueCode::Invalid,
                            format!(
                                "Solo se procesan Bundles de tipo transaction o batch (se recibió {})",
                                other.unwrap_or("ninguno")
                            ),
                            format!(
                                "Only transaction or batch Bundles are processed (got {})",
                                other.unwrap_or("none")
                            ),
                        )
                        .at("Bundle.type"),
                    ]));
                }
            },
            _ => {
                return Err(Error::bad_request(
                    IssueCode::Invalid,
                    "Se esperaba un Bundle",
                    "A Bundle was expected",
                ));
            }
        };
        // A transaction stands or falls whole, so its resources are checked together (with
        // `Bundle.entry[n]` paths); a batch's entries are checked one by one as they run.
        if kind == BundleKind::Transaction {
            let issues = fhir::validate::validate_resource(bundle);
            if issues.iter().any(Issue::is_error) {
                return Err(Error::BadRequest(issues));
            }
        }
        let entries = parse_entries(bundle)?;
        match kind {
            BundleKind::Transaction => self.transaction(who, entries, return_representation),
            BundleKind::Batch => Ok(self.batch(who, entries, return_representation)),
        }
    }

    fn transaction(
        &self,
        who: &Requester,
        entries: Vec<Entry>,
        return_representation: bool,
    ) -> Result<BundleOutcome, Error> {
        // Check every resource before taking the write lock; report all entries' problems.
        let mut problems = Vec::new();
        let mut only_rule_violations = true;
        for entry in &entries {
            if let Some(Err(issue)) = &entry.patch {
                only_rule_violations = false;
                problems.push(in_entry_issue(issue.clone(), entry.idx));
                continue;
            }
            if entry.method == Method::Patch {
                // The patched content is checked inside the job, once its target is read.
                continue;
            }
            if let Some(resource) = &entry.resource {
                let url_id = if entry.method == Method::Put {
                    entry.id.as_deref()
                } else {
                    None
                };
                if let Err(err) = check_resource(&entry.resource_type, resource, url_id) {
                    only_rule_violations &= matches!(err, Error::Unprocessable(_));
                    for mut issue in err.issues() {
                        let at = issue.expression.take().unwrap_or_default();
                        issue.expression = Some(entry_path(entry.idx, &entry.resource_type, &at));
                        problems.push(issue);
                    }
                }
            }
        }
        if !problems.is_empty() {
            // Profile and business-rule violations alone are 422, as for a single write.
            return Err(if only_rule_violations {
                Error::Unprocessable(problems)
            } else {
                Error::BadRequest(problems)
            });
        }
        // Type-level refusals answer 403 before anything is read; each entry is then decided
        // by the write guard inside the transaction, on its target's current content and its
        // new content, like any other write (one refusal refuses the whole transaction).
        for entry in entries.iter().filter(|e| e.method != Method::Get) {
            let interaction = match entry.method {
                Method::Post => Interaction::Create,
                Method::Put | Method::Patch => Interaction::Update,
                _ => Interaction::Delete,
            };
            self.check_type_level(who, interaction, &entry.resource_type)?;
        }
        let mut write_entries: Vec<Entry> = entries
            .iter()
            .filter(|e| e.method != Method::Get)
            .cloned()
            .collect();
        write_entries.sort_by_key(|e| (e.method, e.idx));
        let written = write_entries.len();
        let results = self.write(who, move |writer| {
            let results = run_transaction(writer, &write_entries)?;
            let mut summary =
                writer
                    .ehr()
                    .audit_entry(writer.who(), AuditAction::Transaction, Outcome::Success);
            summary.resource_type = Some("Bundle".into());
            summary.details = format!("{written} entradas escritas");
            writer.append_audit(summary)?;
            Ok(results)
        })?;
        for (_, done) in &results {
            if let Done::Matched(stored) = done {
                // A conditional create's existing match is shown: that is a read.
                self.audit_shown(who, AuditAction::Read, stored);
            }
        }
        let mut by_idx: HashMap<usize, Done> = results.into_iter().collect();
        let mut response_entries = Vec::with_capacity(entries.len());
        for entry in &entries {
            let response = match by_idx.remove(&entry.idx) {
                Some(done) => write_response(done, return_representation),
                None => self.get_entry_response(who, entry),
            };
            response_entries.push(response);
        }
        Ok(BundleOutcome {
            response: response_bundle("transaction-response", response_entries),
        })
    }

    fn batch(
        &self,
        who: &Requester,
        entries: Vec<Entry>,
        return_representation: bool,
    ) -> BundleOutcome {
        let mut response_entries = Vec::with_capacity(entries.len());
        for entry in &entries {
            let outcome = match entry.method {
                Method::Get => Ok(self.get_entry_response(who, entry)),
                _ => self
                    .batch_write(who, entry)
                    .map(|done| write_response(done, return_representation)),
            };
            response_entries.push(outcome.unwrap_or_else(|err| error_entry(&err)));
        }
        BundleOutcome {
            response: response_bundle("batch-response", response_entries),
        }
    }

    fn batch_write(&self, who: &Requester, entry: &Entry) -> Result<Done, Error> {
        let resource = entry.resource.clone();
        match (entry.method, &entry.id, &entry.query) {
            (Method::Post, _, _) => {
                let resource = resource.ok_or_else(missing_resource)?;
                self.create(
                    who,
                    &entry.resource_type,
                    resource,
                    entry.if_none_exist.as_deref(),
                )
                .map(Done::Written)
            }
            (Method::Put, Some(id), _) => {
                let resource = resource.ok_or_else(missing_resource)?;
                self.update(who, &entry.resource_type, id, resource, entry.if_match)
                    .map(Done::Written)
            }
            (Method::Put, None, Some(query)) => {
                let resource = resource.ok_or_else(missing_resource)?;
                self.conditional_update(who, &entry.resource_type, query, resource)
                    .map(Done::Written)
            }
            (Method::Patch, id, query) => {
                let patch = match &entry.patch {
                    Some(Ok(patch)) => patch,
                    Some(Err(issue)) => return Err(Error::BadRequest(vec![issue.clone()])),
                    None => return Err(missing_resource()),
                };
                match (id, query) {
                    (Some(id), _) => {
                        self.patch(who, &entry.resource_type, id, patch, entry.if_match)
                    }
                    (None, Some(query)) => self.conditional_patch(
                        who,
                        &entry.resource_type,
                        query,
                        patch,
                        entry.if_match,
                    ),
                    (None, None) => Err(bad_url(entry.idx, &entry.url)),
                }
                .map(Done::Written)
            }
            (Method::Delete, Some(id), _) => self
                .delete(who, &entry.resource_type, id)
                .map(|_| Done::Deleted),
            (Method::Delete, None, Some(query)) => self
                .conditional_delete(who, &entry.resource_type, query)
                .map(|_| Done::Deleted),
            _ => Err(bad_url(entry.idx, &entry.url)),
        }
    }

    fn get_entry_response(&self, who: &Requester, entry: &Entry) -> Json {
        let outcome = match (&entry.id, &entry.query) {
            (Some(id), _) => match entry.url.split_once("/_history/") {
                Some((_, version)) => self.vread(who, &entry.resource_type, id, version),
                None => self.read(who, &entry.resource_type, id),
            }
            .map(|stored| resource_entry(&stored, "200 OK")),
            (None, query) => {
                let request = SearchRequest {
                    resource_type: entry.resource_type.clone(),
                    params: crate::parse_query_string(query.as_deref().unwrap_or("")),
                    handling: Handling::Lenient,
                };
                self.search(who, &request).map(|(page, _)| {
                    let entries: Vec<Json> = page
                        .matches
                        .iter()
                        .chain(page.included.iter())
                        .map(|stored| {
                            Json::object([
                                (
                                    "fullUrl",
                                    Json::str(format!("{}/{}", stored.resource_type, stored.id)),
                                ),
                                ("resource", body_json(stored)),
                            ])
                        })
                        .collect();
                    let mut members = vec![
                        ("resourceType", Json::str("Bundle")),
                        ("type", Json::str("searchset")),
                    ];
                    if let Some(total) = page.total {
                        members.push(("total", Json::int(total as i64)));
                    }
                    members.push(("entry", Json::Array(entries)));
                    Json::object([
                        ("resource", Json::object(members)),
                        ("response", Json::object([("status", Json::str("200 OK"))])),
                    ])
                })
            }
        };
        outcome.unwrap_or_else(|err| error_entry(&err))
    }
}

/// `Patient.identifier[0]` inside entry 2 is `Bundle.entry[2].resource.identifier[0]`.
fn entry_path(idx: usize, resource_type: &str, at: &str) -> String {
    let inner = at
        .strip_prefix(resource_type)
        .map(|rest| rest.trim_start_matches('.'))
        .unwrap_or(at);
    if inner.is_empty() {
        format!("Bundle.entry[{idx}].resource")
    } else {
        format!("Bundle.entry[{idx}].resource.{inner}")
    }
}

fn missing_resource() -> Error {
    Error::bad_request(
        IssueCode::Required,
        "La entrada no trae resource",
        "The entry has no resource",
    )
}

fn bad_url(idx: usize, url: &str) -> Error {
    Error::BadRequest(vec![
        Issue::error(
            IssueCode::Invalid,
            format!("URL de la solicitud no válida: «{url}»"),
            format!("Invalid request url: '{url}'"),
        )
        .at(format!("Bundle.entry[{idx}].request.url")),
    ])
}

fn parse_entries(bundle: &Json) -> Result<Vec<Entry>, Error> {
    let items = bundle.get("entry").map(Json::as_list).unwrap_or(&[]);
    if items.len() > BUNDLE_ENTRIES_MAX {
        return Err(Error::bad_request(
            IssueCode::TooCostly,
            format!(
                "El Bundle tiene {} entradas; el máximo es {BUNDLE_ENTRIES_MAX}",
                items.len()
            ),
            format!(
                "The Bundle has {} entries; the limit is {BUNDLE_ENTRIES_MAX}",
                items.len()
            ),
        ));
    }
    let mut entries = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for (idx, item) in items.iter().enumerate() {
        match parse_entry(idx, item) {
            Ok(entry) => entries.push(entry),
            Err(err) => problems.extend(err.issues()),
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(Error::BadRequest(problems))
    }
}

fn parse_entry(idx: usize, item: &Json) -> Result<Entry, Error> {
    let request = item.get("request").ok_or_else(|| {
        Error::BadRequest(vec![
            Issue::error(
                IssueCode::Required,
                "La entrada no trae request",
                "The entry has no request",
            )
            .at(format!("Bundle.entry[{idx}].request")),
        ])
    })?;
    let method = match request.get("method").and_then(Json::as_str) {
        Some("GET" | "HEAD") => Method::Get,
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        Some("PATCH") => Method::Patch,
        Some("DELETE") => Method::Delete,
        other => {
            return Err(Error::BadRequest(vec![
                Issue::error(
                    IssueCode::NotSupported,
                    format!(
                        "Método no admitido en la entrada: {}",
                        other.unwrap_or("ninguno")
                    ),
                    format!("Unsupported entry method: {}", other.unwrap_or("none")),
                )
                .at(format!("Bundle.entry[{idx}].request.method")),
            ]));
        }
    };
    let url = request
        .get("url")
        .and_then(Json::as_str)
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    let (path, query) = match url.split_once('?') {
        Some((path, query)) => (path.to_string(), Some(query.to_string())),
        None => (url.clone(), None),
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (resource_type, id) = match segments.as_slice() {
        [resource_type] => (resource_type.to_string(), None),
        [resource_type, id] | [resource_type, id, "_history", _] => {
            (resource_type.to_string(), Some(id.to_string()))
        }
        _ => return Err(bad_url(idx, &url)),
    };
    check_type(&resource_type).map_err(|_| bad_url(idx, &url))?;
    if let Some(id) = &id
        && !is_valid_id(id)
    {
        return Err(bad_url(idx, &url));
    }
    let resource = item.get("resource").cloned();
    let needs_resource = matches!(method, Method::Post | Method::Put | Method::Patch);
    if needs_resource && resource.is_none() {
        return Err(Error::BadRequest(vec![
            missing_resource()
                .issues()
                .remove(0)
                .at(format!("Bundle.entry[{idx}].resource")),
        ]));
    }
    if method != Method::Patch
        && let Some(found) = resource
            .as_ref()
            .and_then(|r| r.get("resourceType"))
            .and_then(Json::as_str)
        && found != resource_type
    {
        return Err(Error::BadRequest(vec![
            Issue::error(
                IssueCode::Invalid,
                format!("La entrada lleva un {found} pero su URL indica {resource_type}"),
                format!("The entry holds a {found} but its url says {resource_type}"),
            )
            .at(format!("Bundle.entry[{idx}].resource.resourceType")),
        ]));
    }
    let valid_target = match method {
        Method::Post => id.is_none(),
        Method::Put | Method::Patch | Method::Delete => id.is_some() != query.is_some(),
        Method::Get => true,
    };
    if !valid_target {
        return Err(bad_url(idx, &url));
    }
    let if_match = match request.get("ifMatch").and_then(Json::as_str) {
        Some(tag) => Some(parse_etag(tag).ok_or_else(|| {
            Error::BadRequest(vec![
                Issue::error(
                    IssueCode::Invalid,
                    format!("ifMatch no válido: {tag}"),
                    format!("Invalid ifMatch: {tag}"),
                )
                .at(format!("Bundle.entry[{idx}].request.ifMatch")),
            ])
        })?),
        None => None,
    };
    let patch = match (method, &resource) {
        (Method::Patch, Some(resource)) => {
            Some(crate::patch::entry_patch(resource).map_err(|issue| {
                let inner = issue.expression.clone().unwrap_or_default();
                let at = if inner.is_empty() {
                    format!("Bundle.entry[{idx}].resource")
                } else {
                    format!("Bundle.entry[{idx}].resource.{inner}")
                };
                issue.at(at)
            }))
        }
        _ => None,
    };
    Ok(Entry {
        idx,
        method,
        full_url: item
            .get("fullUrl")
            .and_then(Json::as_str)
            .map(str::to_string),
        resource_type,
        id,
        query,
        if_none_exist: request
            .get("ifNoneExist")
            .and_then(Json::as_str)
            .map(str::to_string),
        if_match,
        resource,
        patch,
        url,
    })
}

/// Parses `W/"3"` or `"3"` or `3` into a version number.
pub fn parse_etag(tag: &str) -> Option<u64> {
    let tag = tag.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"').parse().ok()
}

/// The write part of a transaction, inside one store job. Entries arrive sorted
/// DELETE, POST, PUT. Conditions match only what the requester may see.
fn run_transaction(
    writer: &mut Writer<'_>,
    entries: &[Entry],
) -> Result<Vec<(usize, Done)>, Error> {
    let now_ms = writer.now_ms();
    // 1. Decide the target of every POST and PUT, so references can be rewritten first.
    let mut map: HashMap<String, String> = HashMap::new();
    // idx -> (id, the existing match of a conditional create, shown instead of a write)
    let mut targets: HashMap<usize, (String, Option<StoredResource>)> = HashMap::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in entries {
        let (id, existing) = match entry.method {
            Method::Post => match &entry.if_none_exist {
                Some(condition) => {
                    let query = parse_condition(&entry.resource_type, condition, now_ms)?;
                    lock_condition(writer, &entry.resource_type, condition)?;
                    match writer.visible_matches(&query, 2)?.as_slice() {
                        [] => (new_id(), None),
                        [one] => (one.id.clone(), Some(one.clone())),
                        _ => return Err(multiple_matches(&entry.resource_type)),
                    }
                }
                None => (new_id(), None),
            },
            Method::Put => match (&entry.id, &entry.query) {
                (Some(id), _) => (id.clone(), None),
                (None, Some(condition)) => {
                    let query = parse_condition(&entry.resource_type, condition, now_ms)?;
                    lock_condition(writer, &entry.resource_type, condition)?;
                    match writer.visible_matches(&query, 2)?.as_slice() {
                        [] => (
                            entry
                                .resource
                                .as_ref()
                                .and_then(|r| r.get("id"))
                                .and_then(Json::as_str)
                                .filter(|id| is_valid_id(id))
                                .map_or_else(new_id, str::to_string),
                            None,
                        ),
                        [one] => (one.id.clone(), None),
                        _ => return Err(multiple_matches(&entry.resource_type)),
                    }
                }
                (None, None) => return Err(bad_url(entry.idx, &entry.url)),
            },
            Method::Patch => match (&entry.id, &entry.query) {
                (Some(id), _) => (id.clone(), None),
                (None, Some(condition)) => {
                    let query = parse_condition(&entry.resource_type, condition, now_ms)?;
                    lock_condition(writer, &entry.resource_type, condition)?;
                    match writer.visible_matches(&query, 2)?.as_slice() {
                        [] => {
                            return Err(Error::NotFound(
                                Issue::error(
                                    IssueCode::NotFound,
                                    format!(
                                        "Ningún {} coincide con la condición del parche",
                                        entry.resource_type
                                    ),
                                    format!(
                                        "No {} matches the patch condition",
                                        entry.resource_type
                                    ),
                                )
                                .at(format!("Bundle.entry[{}].request.url", entry.idx)),
                            ));
                        }
                        [one] => (one.id.clone(), None),
                        _ => return Err(multiple_matches(&entry.resource_type)),
                    }
                }
                (None, None) => return Err(bad_url(entry.idx, &entry.url)),
            },
            Method::Delete | Method::Get => continue,
        };
        let key = format!("{}/{id}", entry.resource_type);
        if let Some(previous) = seen.insert(key.clone(), entry.idx)
            && existing.is_none()
        {
            return Err(Error::BadRequest(vec![Issue::error(
                IssueCode::Duplicate,
                format!(
                    "Las entradas {previous} y {} modifican el mismo recurso {key}",
                    entry.idx
                ),
                format!(
                    "Entries {previous} and {} change the same resource {key}",
                    entry.idx
                ),
            )]));
        }
        if let Some(full_url) = &entry.full_url {
            map.insert(full_url.clone(), key.clone());
        }
        targets.insert(entry.idx, (id, existing));
    }
    // 2. and 3. Rewrite placeholders in each resource and apply, in order.
    let mut done = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut resource = entry.resource.clone();
        if let Some(resource) = &mut resource {
            rewrite_references(resource, &map);
        }
        let target = targets.remove(&entry.idx);
        let outcome = match entry.method {
            Method::Delete => {
                match (&entry.id, &entry.query) {
                    (Some(id), _) => {
                        match writer.delete(&entry.resource_type, id, Authority::Requester) {
                            Ok(_) | Err(Error::NotFound(_)) => {}
                            Err(err) => return Err(err),
                        }
                    }
                    (None, Some(condition)) => {
                        let query = parse_condition(&entry.resource_type, condition, now_ms)?;
                        lock_condition(writer, &entry.resource_type, condition)?;
                        let found = writer.visible_matches(&query, 2)?;
                        match found.as_slice() {
                            [] => {}
                            [one] => {
                                writer.delete(
                                    &entry.resource_type,
                                    &one.id,
                                    Authority::Requester,
                                )?;
                            }
                            _ => return Err(multiple_matches(&entry.resource_type)),
                        }
                    }
                    (None, None) => return Err(bad_url(entry.idx, &entry.url)),
                }
                Done::Deleted
            }
            Method::Post => {
                let (id, existing) = target.ok_or_else(|| Error::Internal("no target".into()))?;
                let resource = resource.ok_or_else(missing_resource)?;
                match existing {
                    Some(stored) => Done::Matched(stored),
                    None => Done::Written(writer.put(
                        &entry.resource_type,
                        Target::Create(Some(id)),
                        resource,
                        None,
                        Authority::Requester,
                    )?),
                }
            }
            Method::Put => {
                let (id, _) = target.ok_or_else(|| Error::Internal("no target".into()))?;
                let mut resource = resource.ok_or_else(missing_resource)?;
                if let Some(object) = resource.as_object_mut() {
                    object.insert("id", Json::str(id.clone()));
                }
                Done::Written(writer.put(
                    &entry.resource_type,
                    Target::Id(id),
                    resource,
                    entry.if_match,
                    Authority::Requester,
                )?)
            }
            Method::Patch => {
                let (id, _) = target.ok_or_else(|| Error::Internal("no target".into()))?;
                Done::Written(
                    patch_in_transaction(writer, entry, &id, &map)
                        .map_err(|err| in_entry(err, entry.idx))?,
                )
            }
            Method::Get => continue,
        };
        done.push((entry.idx, outcome));
    }
    Ok(done)
}

/// A PATCH entry inside a transaction: its target read in the transaction through the read
/// guard (a record the requester may not see is absent), `ifMatch`, the patch, the checks a
/// PUT of the result would get, then the write path with the read version as precondition.
fn patch_in_transaction(
    writer: &mut Writer<'_>,
    entry: &Entry,
    id: &str,
    map: &HashMap<String, String>,
) -> Result<CreateOutcome, Error> {
    let resource_type = entry.resource_type.as_str();
    let patch = match &entry.patch {
        Some(Ok(patch)) => patch,
        Some(Err(issue)) => return Err(Error::BadRequest(vec![issue.clone()])),
        None => return Err(missing_resource()),
    };
    let current = writer
        .tx()
        .read(resource_type, id)
        .map_err(Error::from)?
        .ok_or_else(|| Error::not_found(resource_type, id))?;
    if current.deleted {
        return Err(Error::gone(resource_type, id));
    }
    let verdict = {
        let ehr = writer.ehr().clone();
        let who = writer.who().clone();
        let mut lookup = crate::lookup::TxLookup { tx: writer.tx() };
        ehr.check_read_in(&who, Interaction::Read, &current, &mut lookup)?
    };
    if let Err(reason) = verdict {
        // Audited as the refused read it is, like the REST door's (`Ehr::patch` reads first);
        // the sink is off the job, so the entry outlives the rolled-back transaction.
        writer.ehr().audit_denied(
            writer.who(),
            AuditAction::Read,
            resource_type,
            Some(id),
            None,
            reason,
        );
        return Err(crate::guard::refusal(reason, resource_type, Some(id)));
    }
    if let Some(expected) = entry.if_match
        && expected != current.version_id
    {
        return Err(Error::PreconditionFailed(Issue::error(
            IssueCode::Conflict,
            format!(
                "ifMatch pide la versión {expected} de {resource_type}/{id}, pero la actual es {}",
                current.version_id
            ),
            format!(
                "ifMatch asks for version {expected} of {resource_type}/{id}, but the current one is {}",
                current.version_id
            ),
        )));
    }
    let (mut resource, _) = crate::patch::patched(resource_type, id, &current.body, patch)?;
    rewrite_references(&mut resource, map);
    writer.put(
        resource_type,
        Target::Id(id.to_string()),
        resource,
        Some(current.version_id),
        Authority::Requester,
    )
}

/// Places an issue of entry `idx`'s patch inside the Bundle: a location in the patch
/// (`Parameters.parameter[1]`) becomes `Bundle.entry[idx].resource.parameter[1]`; one in the
/// patched resource keeps its own path after the entry's; none becomes the entry.
fn in_entry_issue(mut issue: Issue, idx: usize) -> Issue {
    let at = match issue.expression.take() {
        None => format!("Bundle.entry[{idx}]"),
        Some(inner) if inner.starts_with("Bundle.") => inner,
        Some(inner) => match inner.strip_prefix("Parameters") {
            Some(rest) => format!("Bundle.entry[{idx}].resource{rest}"),
            None => format!("Bundle.entry[{idx}] {inner}"),
        },
    };
    issue.at(at)
}

fn in_entry(err: Error, idx: usize) -> Error {
    let place = |issues: Vec<Issue>| -> Vec<Issue> {
        issues
            .into_iter()
            .map(|issue| in_entry_issue(issue, idx))
            .collect()
    };
    match err {
        Error::BadRequest(issues) => Error::BadRequest(place(issues)),
        Error::Unprocessable(issues) => Error::Unprocessable(place(issues)),
        Error::NotFound(issue) => Error::NotFound(in_entry_issue(issue, idx)),
        Error::PreconditionFailed(issue) => Error::PreconditionFailed(in_entry_issue(issue, idx)),
        other => other,
    }
}

/// Serialises identical conditions of concurrent transactions (see `WriteTx::lock`).
fn lock_condition(
    writer: &mut Writer<'_>,
    resource_type: &str,
    condition: &str,
) -> Result<(), Error> {
    writer
        .tx()
        .lock(&format!("conditional:{resource_type}?{condition}"))
        .map_err(Error::from)
}

pub(crate) fn body_json(stored: &StoredResource) -> Json {
    fhir::json::parse_str(&stored.body).unwrap_or(Json::Null)
}

fn resource_entry(stored: &StoredResource, status: &str) -> Json {
    Json::object([
        (
            "fullUrl",
            Json::str(format!("{}/{}", stored.resource_type, stored.id)),
        ),
        ("resource", body_json(stored)),
        (
            "response",
            Json::object([
                ("status", Json::str(status)),
                ("etag", Json::str(format!("W/\"{}\"", stored.version_id))),
                ("lastModified", Json::str(stored.last_updated.clone())),
            ]),
        ),
    ])
}

fn write_response(done: Done, return_representation: bool) -> Json {
    let (stored, created) = match done {
        Done::Deleted => {
            return Json::object([(
                "response",
                Json::object([("status", Json::str(status_line(204)))]),
            )]);
        }
        Done::Matched(stored) => (stored, false),
        Done::Written(outcome) => (outcome.resource, outcome.created),
    };
    let status = if created { 201 } else { 200 };
    let mut members = vec![(
        "fullUrl",
        Json::str(format!("{}/{}", stored.resource_type, stored.id)),
    )];
    if return_representation {
        members.push(("resource", body_json(&stored)));
    }
    members.push((
        "response",
        Json::object([
            ("status", Json::str(status_line(status))),
            (
                "location",
                Json::str(format!(
                    "{}/{}/_history/{}",
                    stored.resource_type, stored.id, stored.version_id
                )),
            ),
            ("etag", Json::str(format!("W/\"{}\"", stored.version_id))),
            ("lastModified", Json::str(stored.last_updated.clone())),
        ]),
    ));
    Json::object(members)
}

fn error_entry(err: &Error) -> Json {
    Json::object([(
        "response",
        Json::object([
            ("status", Json::str(status_line(err.http_status()))),
            (
                "outcome",
                fhir::operation_outcome(&err.issues(), fhir::Lang::Both),
            ),
        ]),
    )])
}

fn response_bundle(kind: &str, entries: Vec<Json>) -> Json {
    Json::object([
        ("resourceType", Json::str("Bundle")),
        ("id", Json::str(new_id())),
        ("type", Json::str(kind)),
        ("entry", Json::Array(entries)),
    ])
}
