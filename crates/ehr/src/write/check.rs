//! Checks a write makes before its job starts: the resource type, the id grammar, R4 structure
//! and the Mexican profile's pure rules, and the parsing of a conditional operation's search.
//! They need no store, so they run on the caller's thread and a bad request never reaches the
//! writer.

use fhir::{Issue, IssueCode, Json};
use search::Handling;

use crate::Error;
use crate::meta::is_valid_id;

pub(crate) fn check_type(resource_type: &str) -> Result<(), Error> {
    if fhir::defs::is_resource_type(resource_type) {
        Ok(())
    } else {
        Err(Error::UnknownType(resource_type.to_string()))
    }
}

pub(crate) fn check_id(id: &str) -> Result<(), Error> {
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
    if resource_type == "Subscription" {
        // What is stored is delivered: criteria that parse, a channel and endpoint we serve.
        // Only whether the criteria parse is asked, so no clock is needed here.
        let refused = crate::notify::check(resource, 0);
        if !refused.is_empty() {
            return Err(Error::Unprocessable(refused));
        }
    }
    let mut warnings = issues;
    let profile_issues = super::profile::check(resource_type, resource);
    if profile_issues.iter().any(Issue::is_error) {
        return Err(Error::Unprocessable(profile_issues));
    }
    warnings.extend(profile_issues);
    Ok(warnings)
}

/// See [`crate::Ehr::assume_local_times`].
pub(crate) fn assume_local_times(body: &mut Json, zone: &str) -> Vec<Issue> {
    // Most bodies carry no local time at all: a scan of the tree's strings, with no
    // allocation, spares them the second validation walk.
    if !has_local_time(body) {
        return Vec::new();
    }
    fhir::validate::validate_resource_assuming_zone(body, zone)
        .into_iter()
        .filter(|issue| !issue.is_error() && issue.code == IssueCode::Value)
        .collect()
}

fn has_local_time(value: &Json) -> bool {
    match value {
        Json::String(text) => fhir::validate::primitive::local_date_time(text).is_some(),
        Json::Array(items) => items.iter().any(has_local_time),
        Json::Object(object) => object.iter().any(|(_, member)| has_local_time(member)),
        _ => false,
    }
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
