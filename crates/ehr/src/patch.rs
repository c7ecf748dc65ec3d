//! # `PATCH`: JSON Patch and merge patch on an instance, directly or by a search condition.
//!
//! Key decision: a patch is a read followed by an update of the patched content, through the
//! same doors as any client would use them: the read guard decides whether the caller may see
//! what they patch (and audits it), and the update runs the whole write pipeline (validation,
//! Mexican profile, write guard on the current and the new content, history) with the version
//! read as its `If-Match`. A change made by someone else between the two is then a 412, never
//! a lost update, and the patch machinery itself never touches the store.

use fhir::patch::Patch;
use fhir::{Issue, IssueCode, Json};
use search::Handling;

use crate::interactions::{CreateOutcome, SearchRequest};
use crate::write::check::{check_id, check_type};
use crate::{Ehr, Error, Requester};

impl Ehr {
    /// # `PATCH /{type}/{id}`
    pub fn patch(
        &self,
        who: &Requester,
        resource_type: &str,
        id: &str,
        patch: &Patch,
        if_match: Option<u64>,
    ) -> Result<CreateOutcome, Error> {
        check_type(resource_type)?;
        check_id(id)?;
        let current = self.read(who, resource_type, id)?;
        if let Some(expected) = if_match
            && expected != current.version_id
        {
            return Err(Error::PreconditionFailed(Issue::error(
                IssueCode::Conflict,
                format!(
                    "La versión actual de {resource_type}/{id} es {}, no {expected}",
                    current.version_id
                ),
                format!(
                    "The current version of {resource_type}/{id} is {}, not {expected}",
                    current.version_id
                ),
            )));
        }
        let mut resource = fhir::json::parse_str(&current.body)
            .map_err(|err| Error::Internal(format!("stored body does not parse: {err}")))?;
        patch
            .apply(&mut resource)
            .map_err(|issue| Error::Unprocessable(vec![issue]))?;
        let kept = |name: &str, expected: &str| {
            resource.get(name).and_then(Json::as_str) == Some(expected)
        };
        if !kept("resourceType", resource_type) || !kept("id", id) {
            return Err(Error::Unprocessable(vec![Issue::error(
                IssueCode::Invariant,
                "Un parche no puede cambiar resourceType ni id",
                "A patch cannot change resourceType or id",
            )]));
        }
        self.update(who, resource_type, id, resource, Some(current.version_id))
    }

    /// # `PATCH /{type}?search`: patches the one resource the caller may see that matches.
    pub fn conditional_patch(
        &self,
        who: &Requester,
        resource_type: &str,
        query: &str,
        patch: &Patch,
    ) -> Result<CreateOutcome, Error> {
        check_type(resource_type)?;
        let mut params = crate::parse_query_string(query.strip_prefix('?').unwrap_or(query));
        if params.is_empty() {
            return Err(Error::bad_request(
                IssueCode::Invalid,
                "PATCH sobre un tipo requiere una condición de búsqueda",
                "PATCH on a type needs a search condition",
            ));
        }
        params.retain(|(name, _)| name != "_count");
        params.push(("_count".into(), "2".into()));
        let request = SearchRequest {
            resource_type: resource_type.to_string(),
            params,
            handling: Handling::Strict,
        };
        let (page, _) = self.search(who, &request)?;
        match page.matches.as_slice() {
            [] => Err(Error::NotFound(Issue::error(
                IssueCode::NotFound,
                format!("Ningún {resource_type} coincide con la condición del parche"),
                format!("No {resource_type} matches the patch condition"),
            ))),
            [only] => self.patch(who, resource_type, &only.id.clone(), patch, None),
            _ => Err(Error::PreconditionFailed(Issue::error(
                IssueCode::MultipleMatches,
                format!("Varios {resource_type} coinciden con la condición del parche"),
                format!("Several {resource_type} match the patch condition"),
            ))),
        }
    }
}
