//! The FHIR RESTful interactions as use cases: create, read, vread, update, delete, history,
//! search and `$everything`. Writes run as one store job each, so their checks and their
//! effects are atomic.

use fhir::{Issue, IssueCode, Json};
use search::Handling;
use store::{HistoryRequest, HistoryScope, NewVersion, SearchPage, StoredResource, WriteTx};

use auth::audit::{AuditAction, AuditEntry, Outcome};
use auth::policy::{Basis, Decision};
use auth::role::Role;
use auth::scope::Interaction;

use crate::access::{Requester, TargetFacts, forbidden, refusal};
use crate::error::abort;
use crate::meta::{format_instant, is_valid_id, new_id, stamp};
use crate::refs;
use crate::{Ehr, Error};

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

/// A search as the REST layer received it.
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

/// Write-time context shared by the writes of one job (one instant for a whole transaction).
#[derive(Clone, Debug)]
pub(crate) struct WriteContext {
    pub now_ms: i64,
    pub now_text: String,
}

impl WriteContext {
    pub(crate) fn at(now_ms: i64) -> WriteContext {
        WriteContext {
            now_ms,
            now_text: format_instant(now_ms),
        }
    }
}

impl Ehr {
    pub(crate) fn write_context(&self) -> WriteContext {
        WriteContext::at(self.now_ms())
    }

    /// Runs `job` as one atomic store write, carrying `ehr::Error`s through unchanged.
    pub(crate) fn run_write<R, F>(&self, job: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn WriteTx) -> Result<R, Error> + Send + 'static,
    {
        store::write_with(self.store(), move |tx| job(tx).map_err(abort)).map_err(Error::from)
    }

    /// Decides a write of `resource` (the new content) and, for an existing target, of its
    /// current content too, so that nobody moves a record they may not touch. Returns the
    /// patient the write concerns.
    pub(crate) fn authorize_write(
        &self,
        who: &Requester,
        interaction: Interaction,
        resource_type: &str,
        resource: Option<&Json>,
        existing_id: Option<&str>,
    ) -> Result<Option<String>, Error> {
        self.check_type_level(who, interaction, resource_type)?;
        let mut patient = None;
        if let Some(resource) = resource {
            let facts = TargetFacts::of_json(resource);
            if let Decision::Deny(reason) =
                self.decide_on(who, interaction, resource_type, &facts)?
            {
                self.audit_denied(
                    who,
                    audit_action(interaction),
                    resource_type,
                    existing_id,
                    facts.patient_id.as_deref(),
                    reason,
                );
                return Err(forbidden(reason));
            }
            patient = facts.patient_id;
        }
        if let Some(id) = existing_id
            && let Some(current) = self.store().read(resource_type, id)?
            && !current.deleted
        {
            let facts = TargetFacts::of_stored(&current);
            if let Decision::Deny(reason) =
                self.decide_on(who, interaction, resource_type, &facts)?
            {
                self.audit_denied(
                    who,
                    audit_action(interaction),
                    resource_type,
                    Some(id),
                    facts.patient_id.as_deref(),
                    reason,
                );
                return Err(refusal(reason, resource_type, Some(id)));
            }
            patient = patient.or(facts.patient_id);
        }
        Ok(patient)
    }

    /// The audit entry of a committed write, to append inside its transaction.
    pub(crate) fn write_audit(
        &self,
        who: &Requester,
        action: AuditAction,
        stored: &StoredResource,
        patient: Option<&str>,
    ) -> AuditEntry {
        let mut entry = self.audit_entry(who, action, Outcome::Success);
        entry.resource_type = Some(stored.resource_type.clone());
        entry.resource_id = Some(stored.id.clone());
        entry.patient_id = patient
            .map(str::to_string)
            .or_else(|| (stored.resource_type == "Patient").then(|| stored.id.clone()));
        entry.details = format!("version {}", stored.version_id);
        entry
    }

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
        let patient = self.authorize_write(
            who,
            Interaction::Create,
            resource_type,
            Some(&resource),
            None,
        )?;
        let condition = match if_none_exist {
            Some(query) => Some(parse_condition(resource_type, query, self.now_ms())?),
            None => None,
        };
        let context = self.write_context();
        let rtype = resource_type.to_string();
        let (ehr, who) = (self.clone(), who.clone());
        let mut outcome = self.run_write(move |tx| {
            let outcome = create_in(tx, &context, &rtype, resource, condition.as_ref(), None)?;
            if outcome.created {
                let entry = ehr.write_audit(
                    &who,
                    AuditAction::Create,
                    &outcome.resource,
                    patient.as_deref(),
                );
                tx.append_audit(entry).map_err(Error::from)?;
            }
            Ok(outcome)
        })?;
        self.access().note_write(resource_type);
        outcome.warnings.extend(warnings);
        Ok(outcome)
    }

    /// # `GET /{type}/{id}`
    pub fn read(
        &self,
        who: &Requester,
        resource_type: &str,
        id: &str,
    ) -> Result<StoredResource, Error> {
        check_type(resource_type)?;
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
        match self.may_read(who, Interaction::Read, &stored)? {
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
            && let Err(reason) = self.may_read(who, Interaction::Read, &current)?
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
        let patient = self.authorize_write(
            who,
            Interaction::Update,
            resource_type,
            Some(&resource),
            Some(id),
        )?;
        let context = self.write_context();
        let (rtype, id) = (resource_type.to_string(), id.to_string());
        let (ehr, who) = (self.clone(), who.clone());
        let mut outcome = self.run_write(move |tx| {
            let outcome = update_in(tx, &context, &rtype, &id, resource, if_match)?;
            let action = if outcome.created {
                AuditAction::Create
            } else {
                AuditAction::Update
            };
            let entry = ehr.write_audit(&who, action, &outcome.resource, patient.as_deref());
            tx.append_audit(entry).map_err(Error::from)?;
            Ok(outcome)
        })?;
        self.access().note_write(resource_type);
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
        let patient = self.authorize_write(
            who,
            Interaction::Update,
            resource_type,
            Some(&resource),
            None,
        )?;
        let context = self.write_context();
        let rtype = resource_type.to_string();
        let (ehr, who) = (self.clone(), who.clone());
        let mut outcome = self.run_write(move |tx| {
            let matched = tx.search_ids(&condition, 2).map_err(Error::from)?;
            // The matched resource's current content is decided too (as in a plain update).
            if let [id] = matched.as_slice()
                && let Some(current) = tx.read(&rtype, id).map_err(Error::from)?
                && !current.deleted
                && let Err(reason) = ehr.may_read(&who, Interaction::Update, &current)?
            {
                return Err(refusal(reason, &rtype, Some(id)));
            }
            let outcome = conditional_update_in(tx, &context, &rtype, &condition, resource)?;
            let action = if outcome.created {
                AuditAction::Create
            } else {
                AuditAction::Update
            };
            let entry = ehr.write_audit(&who, action, &outcome.resource, patient.as_deref());
            tx.append_audit(entry).map_err(Error::from)?;
            Ok(outcome)
        })?;
        self.access().note_write(resource_type);
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
        let patient =
            self.authorize_write(who, Interaction::Delete, resource_type, None, Some(id))?;
        let context = self.write_context();
        let (rtype, id) = (resource_type.to_string(), id.to_string());
        let (ehr, who) = (self.clone(), who.clone());
        let deleted = self.run_write(move |tx| {
            ehr.delete_audited(tx, &who, &context, &rtype, &id, patient.as_deref())
        })?;
        self.access().note_write(resource_type);
        Ok(deleted)
    }

    /// Deletes inside a job and appends the delete's audit entry to the same transaction.
    fn delete_audited(
        &self,
        tx: &mut dyn WriteTx,
        who: &Requester,
        context: &WriteContext,
        resource_type: &str,
        id: &str,
        patient: Option<&str>,
    ) -> Result<Option<StoredResource>, Error> {
        let deleted = delete_in(tx, context, resource_type, id)?;
        if let Some(marker) = &deleted {
            let entry = self.write_audit(who, AuditAction::Delete, marker, patient);
            tx.append_audit(entry).map_err(Error::from)?;
        }
        Ok(deleted)
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
        let context = self.write_context();
        let rtype = resource_type.to_string();
        let (ehr, who) = (self.clone(), who.clone());
        let deleted = self.run_write(move |tx| {
            let ids = tx.search_ids(&condition, 2).map_err(Error::from)?;
            let id = match ids.as_slice() {
                [] => return Ok(None),
                [id] => id.clone(),
                _ => return Err(multiple_matches(&rtype)),
            };
            let mut patient = None;
            if let Some(current) = tx.read(&rtype, &id).map_err(Error::from)? {
                match ehr.may_read(&who, Interaction::Delete, &current)? {
                    Ok(checked) => patient = checked.patient_id,
                    Err(reason) => return Err(refusal(reason, &rtype, Some(&id))),
                }
            }
            ehr.delete_audited(tx, &who, &context, &rtype, &id, patient.as_deref())
        })?;
        self.access().note_write(resource_type);
        Ok(deleted)
    }

    /// # `GET [/{type}[/{id}]]/_history`
    ///
    /// Entries the requester may not read are absent; `before_seq` paging is unaffected.
    pub fn history(
        &self,
        who: &Requester,
        scope: HistoryScope,
        since_ms: Option<i64>,
        before_seq: Option<i64>,
        count: usize,
    ) -> Result<Vec<StoredResource>, Error> {
        let (resource_type, id) = match &scope {
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
                        if let Err(reason) = self.may_read(who, Interaction::Read, &current)? {
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
        let mut request = HistoryRequest {
            scope,
            since_ms,
            before_seq,
            count,
        };
        let mut entries = Vec::with_capacity(count);
        let mut patients = Vec::new();
        // Hidden entries are skipped and the page is filled from further back, a bounded number
        // of times (the client's cursor then resumes after the last entry shown).
        for _ in 0..HISTORY_FILL_ROUNDS_MAX {
            let mut page = self.store().history(&request)?;
            let exhausted = page.len() < request.count;
            let last_seq = page.last().map(|e| e.change_seq);
            if who.role() != Role::System {
                // Delete markers carry no content to decide on: outside an instance's own
                // history they are shown only to system principals.
                page.retain(|e| !e.deleted || id.is_some());
                self.filter_readable(who, &mut page, &mut patients)?;
            }
            entries.extend(page);
            match last_seq {
                Some(seq) if !exhausted && entries.len() < count => {
                    request.before_seq = Some(seq);
                }
                _ => break,
            }
        }
        entries.truncate(count);
        self.audit_access(
            who,
            AuditAction::History,
            &resource_type,
            id.as_deref(),
            &patients,
            "",
        );
        Ok(entries)
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
    ) -> Result<(SearchPage, Vec<Issue>), Error> {
        check_type(&request.resource_type)?;
        let details = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(request.params.iter())
            .finish();
        if request.resource_type == "AuditEvent" {
            let page = self.search_audit_events(who, &request.params)?;
            self.audit_access(who, AuditAction::Search, "AuditEvent", None, &[], &details);
            return Ok((page, Vec::new()));
        }
        self.check_type_level(who, Interaction::Search, &request.resource_type)?;
        // A reference to a merged patient stands for its whole merge set (issue 3).
        let params = self.widen_patient_references(&request.resource_type, &request.params)?;
        let (query, warnings) = search::parse(
            &request.resource_type,
            &params,
            request.handling,
            self.now_ms(),
        )
        .map_err(Error::BadRequest)?;
        if who.role() != Role::System {
            check_traversals(&query)?;
        }
        let basis = match self.decide_on(
            who,
            Interaction::Search,
            &request.resource_type,
            &TargetFacts::default(),
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
        let mut page = self.store().search(&query)?;
        let mut patients = Vec::new();
        if who.role() != Role::System {
            self.filter_readable(who, &mut page.matches, &mut patients)?;
            self.filter_readable(who, &mut page.included, &mut patients)?;
            if matches!(basis, Basis::FilterEachResult | Basis::OwnRecord) {
                page.total = None;
            }
        }
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

    /// # `GET /Patient/{id}/$everything`
    pub fn everything(
        &self,
        who: &Requester,
        request: &EverythingRequest,
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
        if who.role() != Role::System {
            self.filter_readable(who, &mut all, &mut patients)?;
        }
        self.audit_access(
            who,
            AuditAction::Operation,
            "Patient",
            Some(&request.patient_id),
            &patients,
            "$everything",
        );
        Ok(all)
    }
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

/// Store pages read at most to fill one history page with entries the requester may see.
const HISTORY_FILL_ROUNDS_MAX: usize = 8;

pub(crate) fn audit_action(interaction: Interaction) -> AuditAction {
    match interaction {
        Interaction::Create => AuditAction::Create,
        Interaction::Read => AuditAction::Read,
        Interaction::Update => AuditAction::Update,
        Interaction::Delete => AuditAction::Delete,
        Interaction::Search => AuditAction::Search,
    }
}

pub(crate) fn check_type(resource_type: &str) -> Result<(), Error> {
    if fhir::defs::is_resource_type(resource_type) {
        Ok(())
    } else {
        Err(Error::UnknownType(resource_type.to_string()))
    }
}

fn check_id(id: &str) -> Result<(), Error> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(Error::bad_request(
            IssueCode::Invalid,
            format!(
                "Identificador inválido: «{id}» (se permiten letras, dígitos, «-» y «.», hasta 64)"
            ),
            format!("Invalid id: '{id}' (letters, digits, '-' and '.', up to 64)"),
        ))
    }
}

/// Checks a resource against R4 and the URL it came with; returns warnings on success.
pub(crate) fn check_resource(
    resource_type: &str,
    resource: &Json,
    url_id: Option<&str>,
) -> Result<Vec<Issue>, Error> {
    let Some(object) = resource.as_object() else {
        return Err(Error::bad_request(
            IssueCode::Structure,
            "El cuerpo debe ser un objeto JSON con un recurso FHIR",
            "The body must be a JSON object holding a FHIR resource",
        ));
    };
    match object.get("resourceType").and_then(Json::as_str) {
        Some(found) if found == resource_type => {}
        Some(found) => {
            return Err(Error::BadRequest(vec![
                Issue::error(
                    IssueCode::Invalid,
                    format!("El recurso es de tipo {found} pero la URL indica {resource_type}"),
                    format!("The resource is a {found} but the URL says {resource_type}"),
                )
                .at("resourceType"),
            ]));
        }
        None => {
            return Err(Error::BadRequest(vec![
                Issue::error(
                    IssueCode::Required,
                    "Falta resourceType",
                    "resourceType is missing",
                )
                .at("resourceType"),
            ]));
        }
    }
    if let Some(url_id) = url_id {
        match object.get("id").and_then(Json::as_str) {
            Some(body_id) if body_id == url_id => {}
            Some(body_id) => {
                return Err(Error::BadRequest(vec![
                    Issue::error(
                        IssueCode::Invalid,
                        format!(
                            "El id del recurso ({body_id}) no coincide con el de la URL ({url_id})"
                        ),
                        format!("The resource id ({body_id}) does not match the URL id ({url_id})"),
                    )
                    .at(format!("{resource_type}.id")),
                ]));
            }
            None => {
                return Err(Error::BadRequest(vec![
                    Issue::error(
                        IssueCode::Required,
                        "En una actualización (PUT) el recurso debe llevar su id",
                        "An update (PUT) must carry the resource id",
                    )
                    .at(format!("{resource_type}.id")),
                ]));
            }
        }
    }
    let issues = fhir::validate::validate_resource(resource);
    if issues.iter().any(Issue::is_error) {
        return Err(Error::BadRequest(issues));
    }
    let mut warnings = issues;
    let profile_issues = crate::profile::check(resource_type, resource);
    if profile_issues.iter().any(Issue::is_error) {
        return Err(Error::Unprocessable(profile_issues));
    }
    warnings.extend(profile_issues);
    Ok(warnings)
}

pub(crate) fn parse_condition(
    resource_type: &str,
    query: &str,
    now_ms: i64,
) -> Result<search::SearchQuery, Error> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let params = crate::parse_query_string(query);
    if params.is_empty() {
        return Err(Error::bad_request(
            IssueCode::Invalid,
            "La condición de búsqueda está vacía",
            "The search condition is empty",
        ));
    }
    let (parsed, _) = search::parse(resource_type, &params, Handling::Strict, now_ms)
        .map_err(Error::BadRequest)?;
    Ok(parsed)
}

pub(crate) fn multiple_matches(resource_type: &str) -> Error {
    Error::PreconditionFailed(Issue::error(
        IssueCode::MultipleMatches,
        format!("La condición coincide con más de un recurso {resource_type}"),
        format!("The condition matches more than one {resource_type}"),
    ))
}

/// Creates inside a job. `forced_id` is the id a transaction pre-assigned (so `urn:uuid:`
/// references could be rewritten before the write).
pub(crate) fn create_in(
    tx: &mut dyn WriteTx,
    context: &WriteContext,
    resource_type: &str,
    mut resource: Json,
    condition: Option<&search::SearchQuery>,
    forced_id: Option<String>,
) -> Result<CreateOutcome, Error> {
    if let Some(condition) = condition {
        let ids = tx.search_ids(condition, 2).map_err(Error::from)?;
        match ids.as_slice() {
            [] => {}
            [id] => {
                let existing = tx
                    .read(resource_type, id)
                    .map_err(Error::from)?
                    .ok_or_else(|| Error::Internal("matched resource vanished".into()))?;
                return Ok(CreateOutcome {
                    resource: existing,
                    created: false,
                    warnings: Vec::new(),
                });
            }
            _ => return Err(multiple_matches(resource_type)),
        }
    }
    refs::resolve_conditional_references(tx, &mut resource, context.now_ms)?;
    let id = forced_id.unwrap_or_else(new_id);
    let warnings =
        crate::profile::check_in_tx(tx, context, resource_type, &mut resource, &id, true)?;
    stamp(&mut resource, &id, 1, &context.now_text);
    let stored = tx
        .put(NewVersion {
            resource_type: resource_type.to_string(),
            id,
            version_id: 1,
            last_updated: context.now_text.clone(),
            last_updated_ms: context.now_ms,
            resource: Some(resource),
        })
        .map_err(Error::from)?;
    Ok(CreateOutcome {
        resource: stored,
        created: true,
        warnings,
    })
}

pub(crate) fn update_in(
    tx: &mut dyn WriteTx,
    context: &WriteContext,
    resource_type: &str,
    id: &str,
    mut resource: Json,
    if_match: Option<u64>,
) -> Result<CreateOutcome, Error> {
    let current = tx.current(resource_type, id).map_err(Error::from)?;
    if current.is_some_and(|c| !c.deleted) {
        ensure_not_signed(tx, resource_type, id)?;
    }
    if let Some(expected) = if_match {
        let current_version = current.map(|c| c.version_id);
        if current_version != Some(expected) {
            let found = current_version.map_or_else(|| "ninguna".to_string(), |v| v.to_string());
            let found_en = current_version.map_or_else(|| "none".to_string(), |v| v.to_string());
            return Err(Error::PreconditionFailed(Issue::error(
                IssueCode::Conflict,
                format!(
                    "If-Match pide la versión {expected} de {resource_type}/{id}, pero la actual es {found}"
                ),
                format!(
                    "If-Match asks for version {expected} of {resource_type}/{id}, but the current one is {found_en}"
                ),
            )));
        }
    }
    refs::resolve_conditional_references(tx, &mut resource, context.now_ms)?;
    let warnings =
        crate::profile::check_in_tx(tx, context, resource_type, &mut resource, id, false)?;
    let version_id = current.map_or(1, |c| c.version_id + 1);
    // A resource that never existed, or was deleted, comes (back) into being: 201.
    let created = current.is_none_or(|c| c.deleted);
    let last_updated_ms = context
        .now_ms
        .max(current.map_or(i64::MIN, |c| c.last_updated_ms));
    let last_updated = if last_updated_ms == context.now_ms {
        context.now_text.clone()
    } else {
        format_instant(last_updated_ms)
    };
    stamp(&mut resource, id, version_id, &last_updated);
    let stored = tx
        .put(NewVersion {
            resource_type: resource_type.to_string(),
            id: id.to_string(),
            version_id,
            last_updated,
            last_updated_ms,
            resource: Some(resource),
        })
        .map_err(Error::from)?;
    Ok(CreateOutcome {
        resource: stored,
        created,
        warnings,
    })
}

pub(crate) fn conditional_update_in(
    tx: &mut dyn WriteTx,
    context: &WriteContext,
    resource_type: &str,
    condition: &search::SearchQuery,
    resource: Json,
) -> Result<CreateOutcome, Error> {
    let ids = tx.search_ids(condition, 2).map_err(Error::from)?;
    match ids.as_slice() {
        [] => {
            let id = resource
                .get("id")
                .and_then(Json::as_str)
                .map(str::to_string);
            match id {
                Some(id) => update_in(tx, context, resource_type, &id, resource, None),
                None => create_in(tx, context, resource_type, resource, None, None),
            }
        }
        [id] => {
            if let Some(body_id) = resource.get("id").and_then(Json::as_str)
                && body_id != id
            {
                return Err(Error::BadRequest(vec![Issue::error(
                    IssueCode::Invalid,
                    format!(
                        "El id del recurso ({body_id}) no coincide con el recurso encontrado ({id})"
                    ),
                    format!(
                        "The resource id ({body_id}) does not match the matched resource ({id})"
                    ),
                )]));
            }
            let id = id.clone();
            update_in(tx, context, resource_type, &id, resource, None)
        }
        _ => Err(multiple_matches(resource_type)),
    }
}

/// A signed clinical note (a `Composition` that is `final` or `amended` and has an attester)
/// cannot be changed or deleted: NOM-004 requires notes to be inalterable once signed, and
/// corrections are addenda (new Compositions that `relatesTo` the note).
fn ensure_not_signed(tx: &mut dyn WriteTx, resource_type: &str, id: &str) -> Result<(), Error> {
    if resource_type != "Composition" {
        return Ok(());
    }
    let Some(current) = tx.read(resource_type, id).map_err(Error::from)? else {
        return Ok(());
    };
    let Ok(note) = fhir::json::parse_str(&current.body) else {
        return Ok(());
    };
    let signed = matches!(
        note.get("status").and_then(Json::as_str),
        Some("final" | "amended")
    ) && note
        .get("attester")
        .and_then(Json::as_array)
        .is_some_and(|a| !a.is_empty());
    if signed {
        return Err(Error::Unprocessable(vec![Issue::error(
            IssueCode::BusinessRule,
            format!(
                "La nota Composition/{id} está firmada y no puede modificarse ni eliminarse (NOM-004); registre un addendum que la referencie"
            ),
            format!(
                "Composition/{id} is a signed note and cannot be changed or deleted (NOM-004); record an addendum referring to it"
            ),
        )]));
    }
    Ok(())
}

pub(crate) fn delete_in(
    tx: &mut dyn WriteTx,
    context: &WriteContext,
    resource_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, Error> {
    let Some(current) = tx.current(resource_type, id).map_err(Error::from)? else {
        return Err(Error::not_found(resource_type, id));
    };
    if current.deleted {
        return Ok(None);
    }
    ensure_not_signed(tx, resource_type, id)?;
    let last_updated_ms = context.now_ms.max(current.last_updated_ms);
    let stored = tx
        .put(NewVersion {
            resource_type: resource_type.to_string(),
            id: id.to_string(),
            version_id: current.version_id + 1,
            last_updated: format_instant(last_updated_ms),
            last_updated_ms,
            resource: None,
        })
        .map_err(Error::from)?;
    Ok(Some(stored))
}
