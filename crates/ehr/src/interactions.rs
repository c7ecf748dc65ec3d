//! The FHIR RESTful interactions as use cases: create, read, vread, update, delete, history,
//! search and `$everything`. Writes run as one store job each, so their checks and their
//! effects are atomic.

use fhir::{Issue, IssueCode, Json};
use search::Handling;
use store::{HistoryRequest, HistoryScope, NewVersion, SearchPage, StoredResource, WriteTx};

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

    /// # `POST /{type}`
    pub fn create(
        &self,
        resource_type: &str,
        resource: Json,
        if_none_exist: Option<&str>,
    ) -> Result<CreateOutcome, Error> {
        check_type(resource_type)?;
        let warnings = check_resource(resource_type, &resource, None)?;
        let condition = match if_none_exist {
            Some(query) => Some(parse_condition(resource_type, query, self.now_ms())?),
            None => None,
        };
        let context = self.write_context();
        let resource_type = resource_type.to_string();
        let mut outcome = self.run_write(move |tx| {
            create_in(
                tx,
                &context,
                &resource_type,
                resource,
                condition.as_ref(),
                None,
            )
        })?;
        outcome.warnings.extend(warnings);
        Ok(outcome)
    }

    /// # `GET /{type}/{id}`
    pub fn read(&self, resource_type: &str, id: &str) -> Result<StoredResource, Error> {
        check_type(resource_type)?;
        match self.store().read(resource_type, id)? {
            None => Err(Error::not_found(resource_type, id)),
            Some(stored) if stored.deleted => Err(Error::gone(resource_type, id)),
            Some(stored) => Ok(stored),
        }
    }

    /// # `GET /{type}/{id}/_history/{vid}`
    pub fn vread(
        &self,
        resource_type: &str,
        id: &str,
        version_id: &str,
    ) -> Result<StoredResource, Error> {
        check_type(resource_type)?;
        let Ok(version_number) = version_id.parse::<u64>() else {
            return Err(Error::NotFound(Issue::error(
                IssueCode::NotFound,
                format!("No existe la versión {version_id} de {resource_type}/{id}"),
                format!("Version {version_id} of {resource_type}/{id} is not known"),
            )));
        };
        match self.store().vread(resource_type, id, version_number)? {
            None => Err(Error::NotFound(Issue::error(
                IssueCode::NotFound,
                format!("No existe la versión {version_id} de {resource_type}/{id}"),
                format!("Version {version_id} of {resource_type}/{id} is not known"),
            ))),
            Some(stored) if stored.deleted => Err(Error::gone(resource_type, id)),
            Some(stored) => Ok(stored),
        }
    }

    /// # `PUT /{type}/{id}`
    pub fn update(
        &self,
        resource_type: &str,
        id: &str,
        resource: Json,
        if_match: Option<u64>,
    ) -> Result<CreateOutcome, Error> {
        check_type(resource_type)?;
        check_id(id)?;
        let warnings = check_resource(resource_type, &resource, Some(id))?;
        let context = self.write_context();
        let (resource_type, id) = (resource_type.to_string(), id.to_string());
        let mut outcome = self.run_write(move |tx| {
            update_in(tx, &context, &resource_type, &id, resource, if_match)
        })?;
        outcome.warnings.extend(warnings);
        Ok(outcome)
    }

    /// # `PUT /{type}?search` (conditional update)
    pub fn conditional_update(
        &self,
        resource_type: &str,
        query: &str,
        resource: Json,
    ) -> Result<CreateOutcome, Error> {
        check_type(resource_type)?;
        let condition = parse_condition(resource_type, query, self.now_ms())?;
        let warnings = check_resource(resource_type, &resource, None)?;
        let context = self.write_context();
        let resource_type = resource_type.to_string();
        let mut outcome = self.run_write(move |tx| {
            conditional_update_in(tx, &context, &resource_type, &condition, resource)
        })?;
        outcome.warnings.extend(warnings);
        Ok(outcome)
    }

    /// # `DELETE /{type}/{id}`
    ///
    /// Returns the delete marker version, or `None` when the resource was already deleted.
    pub fn delete(&self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        check_type(resource_type)?;
        let context = self.write_context();
        let (resource_type, id) = (resource_type.to_string(), id.to_string());
        self.run_write(move |tx| delete_in(tx, &context, &resource_type, &id))
    }

    /// # `DELETE /{type}?search` (conditional delete; one match at most)
    pub fn conditional_delete(
        &self,
        resource_type: &str,
        query: &str,
    ) -> Result<Option<StoredResource>, Error> {
        check_type(resource_type)?;
        let condition = parse_condition(resource_type, query, self.now_ms())?;
        let context = self.write_context();
        let resource_type = resource_type.to_string();
        self.run_write(move |tx| {
            let ids = tx.search_ids(&condition, 2).map_err(Error::from)?;
            match ids.as_slice() {
                [] => Ok(None),
                [id] => delete_in(tx, &context, &resource_type, id),
                _ => Err(multiple_matches(&resource_type)),
            }
        })
    }

    /// # `GET [/{type}[/{id}]]/_history`
    pub fn history(
        &self,
        scope: HistoryScope,
        since_ms: Option<i64>,
        before_seq: Option<i64>,
        count: usize,
    ) -> Result<Vec<StoredResource>, Error> {
        match &scope {
            HistoryScope::System => {}
            HistoryScope::Type(resource_type) => check_type(resource_type)?,
            HistoryScope::Instance { resource_type, id } => {
                check_type(resource_type)?;
                if self.store().read(resource_type, id)?.is_none() {
                    return Err(Error::not_found(resource_type, id));
                }
            }
        }
        let request = HistoryRequest {
            scope,
            since_ms,
            before_seq,
            count,
        };
        Ok(self.store().history(&request)?)
    }

    /// # `GET /{type}?params` and `POST /{type}/_search`
    ///
    /// Returns the page and the warnings about ignored parameters.
    pub fn search(&self, request: &SearchRequest) -> Result<(SearchPage, Vec<Issue>), Error> {
        check_type(&request.resource_type)?;
        // A reference to a merged patient stands for its whole merge set (issue 3).
        let params = self.widen_patient_references(&request.resource_type, &request.params)?;
        let (query, warnings) = search::parse(
            &request.resource_type,
            &params,
            request.handling,
            self.now_ms(),
        )
        .map_err(Error::BadRequest)?;
        let page = self.store().search(&query)?;
        Ok((page, warnings))
    }

    /// # `GET /Patient/{id}/$everything`
    pub fn everything(&self, request: &EverythingRequest) -> Result<Vec<StoredResource>, Error> {
        for resource_type in &request.types {
            check_type(resource_type)?;
        }
        self.read("Patient", &request.patient_id)?;
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
        Ok(all)
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
