//! # `PATCH`: JSON Patch, merge patch and FHIRPath Patch on an instance, directly or by a
//! search condition (PATCH entries of transaction and batch Bundles: see `bundle`).
//!
//! Key decision: a patch is a read followed by an update of the patched content, through the
//! same doors as any client would use them: the read guard decides whether the caller may see
//! what they patch (and audits it), and the update runs the whole write pipeline (validation,
//! Mexican profile, write guard on the current and the new content, history) with the version
//! read as its `If-Match`. A change made by someone else between the two is then a 412, never
//! a lost update, and the patch machinery itself never touches the store.

use base64::Engine as _;
use fhir::patch::Patch;
use fhir::{Issue, IssueCode, Json};
use search::Handling;

use crate::interactions::{CreateOutcome, SearchRequest};
use crate::write::check::{check_id, check_resource, check_type};
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
        let (resource, _) = patched(resource_type, id, &current.body, patch)?;
        self.update(who, resource_type, id, resource, Some(current.version_id))
    }

    /// # `PATCH /{type}?search`: patches the one resource the caller may see that matches;
    /// `if_match` then names the version of that resource the client expects.
    pub fn conditional_patch(
        &self,
        who: &Requester,
        resource_type: &str,
        query: &str,
        patch: &Patch,
        if_match: Option<u64>,
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
            [only] => self.patch(who, resource_type, &only.id.clone(), patch, if_match),
            _ => Err(Error::PreconditionFailed(Issue::error(
                IssueCode::MultipleMatches,
                format!("Varios {resource_type} coinciden con la condición del parche"),
                format!("Several {resource_type} match the patch condition"),
            ))),
        }
    }
}

/// Applies `patch` to a stored body and checks the result as a `PUT` of it would be checked
/// before its job (R4 structure, the profile's pure rules); returns it with its warnings.
/// A patch may not change what the resource is (`resourceType`) nor which one it is (`id`).
pub(crate) fn patched(
    resource_type: &str,
    id: &str,
    stored_body: &str,
    patch: &Patch,
) -> Result<(Json, Vec<Issue>), Error> {
    let mut resource = fhir::json::parse_str(stored_body)
        .map_err(|err| Error::Internal(format!("stored body does not parse: {err}")))?;
    patch
        .apply(&mut resource)
        .map_err(|issue| Error::Unprocessable(vec![issue]))?;
    let kept =
        |name: &str, expected: &str| resource.get(name).and_then(Json::as_str) == Some(expected);
    if !kept("resourceType", resource_type) || !kept("id", id) {
        return Err(Error::Unprocessable(vec![Issue::error(
            IssueCode::Invariant,
            "Un parche no puede cambiar resourceType ni id",
            "A patch cannot change resourceType or id",
        )]));
    }
    let warnings = check_resource(resource_type, &resource, Some(id))?;
    Ok((resource, warnings))
}

/// The patch a Bundle entry carries as its `resource` (R4 §3.1.0.11.2): a `Binary` holding a
/// JSON Patch (`application/json-patch+json`, base64 in `data`), or a `Parameters` holding a
/// FHIRPath Patch.
pub(crate) fn entry_patch(resource: &Json) -> Result<Patch, Issue> {
    match resource.get("resourceType").and_then(Json::as_str) {
        Some("Parameters") => Patch::from_body(resource.clone()),
        Some("Binary") => {
            let content_type = resource
                .get("contentType")
                .and_then(Json::as_str)
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let expect_array = match content_type.as_str() {
                "application/json-patch+json" => true,
                "application/merge-patch+json" => false,
                other => {
                    return Err(Issue::error(
                        IssueCode::NotSupported,
                        format!(
                            "Un Binary de PATCH lleva application/json-patch+json o application/merge-patch+json, no «{other}»"
                        ),
                        format!(
                            "A PATCH Binary holds application/json-patch+json or application/merge-patch+json, not '{other}'"
                        ),
                    )
                    .at("contentType"));
                }
            };
            let undecodable = || {
                Issue::error(
                    IssueCode::Structure,
                    "Binary.data no es un parche JSON en base64",
                    "Binary.data is not a base64-encoded JSON patch",
                )
                .at("data")
            };
            let data = resource.get("data").and_then(Json::as_str).unwrap_or("");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| undecodable())?;
            let body = fhir::json::parse(&bytes).map_err(|_| undecodable())?;
            if expect_array != matches!(body, Json::Array(_)) {
                return Err(undecodable());
            }
            Patch::from_body(body)
        }
        other => Err(Issue::error(
            IssueCode::Invalid,
            format!(
                "Una entrada PATCH lleva un Binary (JSON Patch) o un Parameters (FHIRPath Patch), no {}",
                other.unwrap_or("nada")
            ),
            format!(
                "A PATCH entry holds a Binary (JSON Patch) or a Parameters (FHIRPath Patch), not {}",
                other.unwrap_or("nothing")
            ),
        )),
    }
}
