//! The FHIR RESTful interactions as use cases: create, read, vread, update, delete (and their
//! conditional forms), history, search and `$everything`.
//!
//! Each is thin: a write opens one store job and writes through the write path
//! (`crate::write`), which decides it with the write guard on current and new content; a read
//! goes through the read path (`crate::read`), which shows only what the read guard lets
//! through and builds totals, includes and cursors from that alone.

use fhir::{Issue, IssueCode, Json};
use search::Handling;
use store::{HistoryRequest, HistoryScope, StoredResource};

use auth::audit::AuditAction;
use auth::policy::{Basis, Decision};
use auth::scope::Interaction;

use crate::guard::{Authority, TargetFacts, forbidden, refusal};
use crate::lookup::StoreLookup;
use crate::read::Page;
use crate::read::cursor::{CursorKind, query_scope};
use crate::write::Target;
use crate::write::check::{
    check_id, check_resource, check_type, multiple_matches, parse_condition,
};
use crate::{Ehr, Error, Requester};

/// The result of a create or update: the stored version and whether it was new.
#[derive(Clone, Debug)]
pub struct CreateOutcome {
    pub resource: StoredResource,
    /// True when a new resource came into being (201), false for an update or an existing
    /// match of a conditional create (200).
    pub created: bool,
    /// Non-fatal findings to report alongside (warnings).
    pub warnings: Vec<Issue>,
}

/// A search as the REST layer received it (`_cursor` included, as the client sent it).
#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub resource_type: String,
    pub params: Vec<(String, String)>,
    pub handling: Handling,
}

/// `Patient/{id}/$everything` parameters.
#[derive(Clone, Debug, Default)]
pub struct EverythingRequest {
    pub patient_id: String,
    pub since_ms: Option<i64>,
    pub types: Vec<String>,
}

/// A history request as the REST layer received it.
#[derive(Clone, Debug)]
pub struct HistoryQuery {
    pub scope: HistoryScope,
    pub since_ms: Option<i64>,
    /// The `_cursor` of a previous page, as the client sent it.
    pub cursor: Option<String>,
    pub count: usize,
}

impl Ehr {
    /// # `POST /{type}`
    pub fn create(
        &self,
        who: &Requester,
        resource_type: &str,
        resource: Json,
        if_none_exist: Option<&str>,
    ) -> Result<CreateOutcome, Error> {
        check_type(resource_type)?;
        let warnings = check_resource(resource_type, &resource, None)?;
        self.check_type_level(who, Interaction::Create, resource_type)?;
        let condition = match if_none_exist {
            Some(query) => Some((
                parse_condition(resource_type, query, self.now_ms())?,
                format!("conditional:{resource_type}?{query}"),
            )),
            None => None,
        };
        let rtype = resource_type.to_string();
        let mut outcome = self.write(who, move |writer| {
            if let Some((condition, lock_key)) = &condition {
                // Two identical conditional creates at once must not both create.
                writer.tx().lock(lock_key).map_err(Error::from)?;
                // Only matches the requester may see count: a hidden match is absent, so the
                // condition answers nothing about records the requester may not read.
                match writer.visible_matches(condition, 2)?.as_slice() {
                    [] => {}
                    [existing] => {
                        return Ok(CreateOutcome {
                            resource: existing.clone(),
                            created: false,
                            warnings: Vec::new(),
                        });
                    }
                    _ => return Err(multiple_matches(&rtype)),
                }
            }
            writer.put(
                &rtype,
                Target::Create(None),
                resource.clone(),
                None,
                Authority::Requester,
            )
        })?;
        if !outcome.created {
            // The existing match is shown to the requester: that is a read.
            self.audit_shown(who, AuditAction::Read, &outcome.resource);
        }
        outcome.warnings.extend(warnings);
        Ok(outcome)
    }

    /// Audits a resource shown to the requester outside a read interaction.
    pub(crate) fn audit_shown(
        &self,
        who: &Requester,
        action: AuditAction,
        stored: &StoredResource,
    ) {
        let patients: Vec<(String, bool)> = TargetFacts::for_read(stored)
            .patient_id
            .map(|p| (p, false))
            .into_iter()
            .collect();
        self.audit_access(
            who,
            action,
            &stored.resource_type,
            Some(&stored.id),
            &patients,
            "",
        );
    }

    /// # `GET /{type}/{id}`
    pub fn read(
        &self,
        who: &Requester,
        resource_type: &str,
        id: &str,
    ) -> Result<StoredResource, Error> {
        check_type(resource_type)?;
        if resource_type == auth::policy::NAMING_SYSTEM_TYPE {
            return self.read_naming_system(who, id);
        }
        if resource_type == "AuditEvent" {
            let event = self.read_audit_event(who, id)?;
            self.audit_access(who, AuditAction::Read, "AuditEvent", Some(id), &[], "");
            return Ok(event);
        }
        self.check_type_level(who, Interaction::Read, resource_type)?;
        let stored = match self.store().read(resource_type, id)? {
            None => return Err(Error::not_found(resource_type, id)),
            Some(stored) if stored.deleted => return Err(Error::gone(resource_type, id)),
            Some(stored) => stored,
        };
        self.checked_read(who, AuditAction::Read, stored)
    }

    /// Decides and audits the read of one stored version.
    fn checked_read(
        &self,
        who: &Requester,
        action: AuditAction,
        stored: StoredResource,
    ) -> Result<StoredResource, Error> {
        match self.check_read(who, &stored)? {
            Ok(checked) => {
                let glass = checked.basis == Basis::BreakGlass;
                let patients: Vec<(String, bool)> =
                    checked.patient_id.map(|p| (p, glass)).into_iter().collect();
                self.audit_access(
                    who,
                    action,
                    &stored.resource_type,
                    Some(&stored.id),
                    &patients,
                    "",
                );
                Ok(stored)
            }
            Err(reason) => {
                self.audit_denied(
                    who,
                    action,
                    &stored.resource_type,
                    Some(&stored.id),
                    None,
                    reason,
                );
                Err(refusal(reason, &stored.resource_type, Some(&stored.id)))
            }
        }
    }

    /// # `GET /{type}/{id}/_history/{vid}`
    pub fn vread(
        &self,
        who: &Requester,
        resource_type: &str,
        id: &str,
        version_id: &str,
    ) -> Result<StoredResource, Error> {
        check_type(resource_type)?;
        self.check_type_level(who, Interaction::Read, resource_type)?;
        let unknown = || {
            Error::NotFound(Issue::error(
                IssueCode::NotFound,
                format!("No existe la versión {version_id} de {resource_type}/{id}"),
                format!("Version {version_id} of {resource_type}/{id} is not known"),
            ))
        };
        let Ok(version_number) = version_id.parse::<u64>() else {
            return Err(unknown());
        };
        // The current version decides who may see the history: an old version's patient
        // may have been corrected since.
        if let Some(current) = self.store().read(resource_type, id)?
            && !current.deleted
            && let Err(reason) = self.check_read(who, &current)?
        {
            self.audit_denied(
                who,
                AuditAction::Vread,
                resource_type,
                Some(id),
                None,
                reason,
            );
            return Err(refusal(reason, resource_type, Some(id)));
        }
        match self.store().vread(resource_type, id, version_number)? {
            None => Err(unknown()),
            Some(stored) if stored.deleted => Err(Error::gone(resource_type, id)),
            Some(stored) => self.checked_read(who, AuditAction::Vread, stored),
        }
    }

    /// # `PUT /{type}/{id}`
    pub fn update(
        &self,
        who: &Requester,
        resource_type: &str,
        id: &str,
        resource: Json,
        if_match: Option<u64>,
    ) -> Result<CreateOutcome, Error> {
        check_type(resource_type)?;
        check_id(id)?;
        let warnings = check_resource(resource_type, &resource, Some(id))?;
        self.check_type_level(who, Interaction::Update, resource_type)?;
        let (rtype, id) = (resource_type.to_string(), id.to_string());
        let mut outcome = self.write(who, move |writer| {
            writer.put(
                &rtype,
                Target::Id(id.clone()),
                resource.clone(),
                if_match,
                Authority::Requester,
            )
        })?;
        outcome.warnings.extend(warnings);
        Ok(outcome)
    }

    /// # `PUT /{type}?search` (conditional update)
    pub fn conditional_update(
        &self,
        who: &Requester,
        resource_type: &str,
        query: &str,
        resource: Json,
    ) -> Result<CreateOutcome, Error> {
        check_type(resource_type)?;
        let condition = parse_condition(resource_type, query, self.now_ms())?;
        let warnings = check_resource(resource_type, &resource, None)?;
        self.check_type_level(who, Interaction::Update, resource_type)?;
        let rtype = resource_type.to_string();
        let lock_key = format!("conditional:{resource_type}?{query}");
        let mut outcome = self.write(who, move |writer| {
            writer.tx().lock(&lock_key).map_err(Error::from)?;
            conditional_update_in(writer, &rtype, &condition, resource.clone())
        })?;
        outcome.warnings.extend(warnings);
        Ok(outcome)
    }

    /// # `DELETE /{type}/{id}`
    ///
    /// Returns the delete marker version, or `None` when the resource was already deleted.
    pub fn delete(
        &self,
        who: &Requester,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<StoredResource>, Error> {
        check_type(resource_type)?;
        self.check_type_level(who, Interaction::Delete, resource_type)?;
        let (rtype, id) = (resource_type.to_string(), id.to_string());
        self.write(who, move |writer| {
            writer.delete(&rtype, &id, Authority::Requester)
        })
    }

    /// # `DELETE /{type}?search` (conditional delete; one match at most)
    pub fn conditional_delete(
        &self,
        who: &Requester,
        resource_type: &str,
        query: &str,
    ) -> Result<Option<StoredResource>, Error> {
        check_type(resource_type)?;
        self.check_type_level(who, Interaction::Delete, resource_type)?;
        let condition = parse_condition(resource_type, query, self.now_ms())?;
        let rtype = resource_type.to_string();
        self.write(who, move |writer| {
            conditional_delete_in(writer, &rtype, &condition)
        })
    }

    /// # `GET [/{type}[/{id}]]/_history`
    ///
    /// Entries the requester may not read are absent, and the page is refilled from further
    /// back; the next-page cursor is the position of the last entry shown.
    pub fn history(&self, who: &Requester, query: &HistoryQuery) -> Result<Page, Error> {
        let scope = &query.scope;
        let (resource_type, id) = match scope {
            HistoryScope::System => ("Resource".to_string(), None),
            HistoryScope::Type(resource_type) => {
                check_type(resource_type)?;
                self.check_type_level(who, Interaction::Search, resource_type)?;
                (resource_type.clone(), None)
            }
            HistoryScope::Instance { resource_type, id } => {
                check_type(resource_type)?;
                self.check_type_level(who, Interaction::Read, resource_type)?;
                match self.store().read(resource_type, id)? {
                    None => return Err(Error::not_found(resource_type, id)),
                    Some(current) if !current.deleted => {
                        if let Err(reason) = self.check_read(who, &current)? {
                            self.audit_denied(
                                who,
                                AuditAction::History,
                                resource_type,
                                Some(id),
                                None,
                                reason,
                            );
                            return Err(refusal(reason, resource_type, Some(id)));
                        }
                    }
                    Some(_) => {}
                }
                (resource_type.clone(), Some(id.clone()))
            }
        };
        let cursor_scope = format!(
            "{resource_type}/{}\u{1f}{}",
            id.as_deref().unwrap_or(""),
            query.since_ms.map_or(String::new(), |s| s.to_string())
        );
        let before_seq = match &query.cursor {
            None => None,
            Some(cursor) => Some(
                self.open_cursor(CursorKind::History, who, &cursor_scope, cursor)?
                    .parse::<i64>()
                    .map_err(|_| {
                        Error::Internal("sealed history position is not a number".into())
                    })?,
            ),
        };
        let request = HistoryRequest {
            scope: scope.clone(),
            since_ms: query.since_ms,
            before_seq,
            count: query.count,
        };
        let mut patients = Vec::new();
        let page =
            self.history_visible(who, request, id.is_some(), &cursor_scope, &mut patients)?;
        self.audit_access(
            who,
            AuditAction::History,
            &resource_type,
            id.as_deref(),
            &patients,
            "",
        );
        Ok(page)
    }

    /// # `GET /{type}?params` and `POST /{type}/_search`
    ///
    /// Returns the page and the warnings about ignored parameters. Matches and includes the
    /// requester may not read are absent; the total is then only given when every match was
    /// decided (a system principal, or a type with no per-record rule).
    pub fn search(
        &self,
        who: &Requester,
        request: &SearchRequest,
    ) -> Result<(Page, Vec<Issue>), Error> {
        check_type(&request.resource_type)?;
        let details = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(request.params.iter().filter(|(k, _)| k != "_cursor"))
            .finish();
        if request.resource_type == auth::policy::NAMING_SYSTEM_TYPE {
            let page = self.search_naming_systems(who, &request.params)?;
            return Ok((page, Vec::new()));
        }
        if request.resource_type == "AuditEvent" {
            let page = self.search_audit_events(who, &request.params)?;
            self.audit_access(who, AuditAction::Search, "AuditEvent", None, &[], &details);
            return Ok((page, Vec::new()));
        }
        self.check_type_level(who, Interaction::Search, &request.resource_type)?;
        let scope = query_scope(&request.resource_type, &request.params);
        let cursor = request
            .params
            .iter()
            .find(|(k, _)| k == "_cursor")
            .map(|(_, v)| self.open_cursor(CursorKind::Search, who, &scope, v))
            .transpose()?;
        let params: Vec<(String, String)> = request
            .params
            .iter()
            .filter(|(k, _)| k != "_cursor")
            .cloned()
            .collect();
        // A reference to a merged patient stands for its whole merge set (issue 3).
        let params = self.widen_patient_references(&request.resource_type, &params)?;
        let (mut query, warnings) = search::parse(
            &request.resource_type,
            &params,
            request.handling,
            self.now_ms(),
        )
        .map_err(Error::BadRequest)?;
        query.cursor = cursor;
        if who.reads_filtered() {
            check_traversals(&query)?;
        }
        let mut lookup = StoreLookup {
            store: self.store(),
        };
        let basis = match self.decide_on(
            who,
            Interaction::Search,
            &request.resource_type,
            &TargetFacts::default(),
            None,
            &mut lookup,
        )? {
            Decision::Permit(basis) => basis,
            Decision::Deny(reason) => {
                self.audit_denied(
                    who,
                    AuditAction::Search,
                    &request.resource_type,
                    None,
                    None,
                    reason,
                );
                return Err(forbidden(reason));
            }
        };
        let mut patients = Vec::new();
        let page = self.search_visible(who, &query, &scope, basis, &mut patients)?;
        self.audit_access(
            who,
            AuditAction::Search,
            &request.resource_type,
            None,
            &patients,
            &details,
        );
        Ok((page, warnings))
    }

    /// # `GET /Patient/{id}/$everything`, the whole list (the web UI's chart).
    pub fn everything(
        &self,
        who: &Requester,
        request: &EverythingRequest,
    ) -> Result<Vec<StoredResource>, Error> {
        self.everything_for(who, request, "$everything")
    }

    /// [`Ehr::everything`], audited as the operation named `operation` (`$summary` reads the
    /// record the same way, and the patient's access log says which was asked for).
    pub(crate) fn everything_for(
        &self,
        who: &Requester,
        request: &EverythingRequest,
        operation: &str,
    ) -> Result<Vec<StoredResource>, Error> {
        for resource_type in &request.types {
            check_type(resource_type)?;
        }
        self.read(who, "Patient", &request.patient_id)?;
        // After a merge, either id gives the union of the merged patients' compartments.
        let ids = self.merge_set(&request.patient_id)?;
        let mut all = Vec::new();
        for id in &ids {
            all.extend(
                self.store()
                    .patient_compartment(id, &request.types, request.since_ms)?,
            );
        }
        if ids.len() > 1 {
            // Concatenated in merge-set order (the id asked for first), each list in the
            // store's stable order, so offset paging stays stable.
            let mut seen = std::collections::HashSet::new();
            all.retain(|r| seen.insert((r.resource_type.clone(), r.id.clone())));
        }
        let mut patients = Vec::new();
        if who.reads_filtered() {
            self.filter_readable(who, &mut all, &mut patients)?;
        }
        self.audit_access(
            who,
            AuditAction::Operation,
            "Patient",
            Some(&request.patient_id),
            &patients,
            operation,
        );
        Ok(all)
    }

    /// # `GET /Patient/{id}/$everything`, one page (`_count`, `_cursor`).
    pub fn everything_page(
        &self,
        who: &Requester,
        request: &EverythingRequest,
        cursor: Option<&str>,
        count: usize,
    ) -> Result<Page, Error> {
        let scope = format!(
            "{}\u{1f}{}\u{1f}{}",
            request.patient_id,
            request.types.join(","),
            request.since_ms.map_or(String::new(), |s| s.to_string())
        );
        // The cursor is opened before the record is read, so a bad one costs nothing.
        if let Some(cursor) = cursor {
            self.open_cursor(CursorKind::Everything, who, &scope, cursor)?;
        }
        let all = self.everything(who, request)?;
        self.offset_page(who, all, cursor, count, &scope)
    }
}

/// `PUT /{type}?search` inside a job.
fn conditional_update_in(
    writer: &mut crate::write::Writer<'_>,
    resource_type: &str,
    condition: &search::SearchQuery,
    resource: Json,
) -> Result<CreateOutcome, Error> {
    match writer.visible_matches(condition, 2)?.as_slice() {
        [] => {
            // No visible match: the resource is created, at the id it carries (which the
            // write guard then decides on that id's current content, if it exists) or at a
            // new one.
            let target = match resource.get("id").and_then(Json::as_str) {
                Some(id) => {
                    check_id(id)?;
                    Target::Id(id.to_string())
                }
                None => Target::Create(None),
            };
            writer.put(resource_type, target, resource, None, Authority::Requester)
        }
        [matched] => {
            if let Some(body_id) = resource.get("id").and_then(Json::as_str)
                && body_id != matched.id
            {
                return Err(Error::BadRequest(vec![Issue::error(
                    IssueCode::Invalid,
                    format!(
                        "El id del recurso ({body_id}) no coincide con el recurso encontrado ({})",
                        matched.id
                    ),
                    format!(
                        "The resource id ({body_id}) does not match the matched resource ({})",
                        matched.id
                    ),
                )]));
            }
            let id = matched.id.clone();
            writer.put(
                resource_type,
                Target::Id(id),
                resource,
                None,
                Authority::Requester,
            )
        }
        _ => Err(multiple_matches(resource_type)),
    }
}

/// `DELETE /{type}?search` inside a job.
fn conditional_delete_in(
    writer: &mut crate::write::Writer<'_>,
    resource_type: &str,
    condition: &search::SearchQuery,
) -> Result<Option<StoredResource>, Error> {
    let id = match writer.visible_matches(condition, 2)?.as_slice() {
        [] => return Ok(None),
        [matched] => matched.id.clone(),
        _ => return Err(multiple_matches(resource_type)),
    };
    writer.delete(resource_type, &id, Authority::Requester)
}

/// Chains and `_has` are evaluated inside the store, before results are filtered: a chain
/// into clinical data (`DiagnosticReport?result.code=…`, `Patient?_has:Observation:…`) would
/// let someone learn facts of records they may not see from which results come back. For
/// everyone but system principals they may only pass through demographic, directory and other
/// non-clinical types.
fn check_traversals(query: &search::SearchQuery) -> Result<(), Error> {
    fn walk(filter: &search::Filter, out: &mut Vec<String>) {
        match filter {
            search::Filter::Param(clause) => {
                if let Some(chain) = &clause.chain {
                    out.push(chain.resource_type.clone());
                    walk(&chain.filter, out);
                }
            }
            search::Filter::Has(has) => {
                out.push(has.resource_type.clone());
                walk(&has.filter, out);
            }
            _ => {}
        }
    }
    let mut types = Vec::new();
    for filter in &query.filters {
        walk(filter, &mut types);
    }
    for resource_type in types {
        let clinical = auth::category::category_of(&resource_type).is_none_or(|category| {
            category.is_patient_data() && category != auth::category::Category::Demographic
        });
        if clinical {
            return Err(Error::Forbidden(Issue::error(
                IssueCode::Forbidden,
                format!(
                    "Las búsquedas encadenadas o _has sobre {resource_type} no están permitidas: \
                     revelarían datos a los que quizá no tiene acceso. Busque {resource_type} directamente."
                ),
                format!(
                    "Chained or _has searches through {resource_type} are not allowed: they could \
                     reveal data you may not have access to. Search {resource_type} directly."
                ),
            )));
        }
    }
    Ok(())
}
