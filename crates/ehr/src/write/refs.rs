//! Reference rewriting: `urn:uuid:` placeholders of a transaction and conditional references
//! (`Practitioner?identifier=…`) are turned into plain `Type/id` before a resource is stored,
//! so every stored reference can be indexed and followed.

use std::collections::{BTreeSet, HashMap};

use crate::Error;
use crate::write::Writer;
use crate::write::check::{check_type, multiple_matches, parse_condition};
use fhir::{Issue, IssueCode, Json};

/// Calls `visit` with every `Reference.reference` string in the resource (including those in
/// contained resources and extensions).
pub(crate) fn for_each_reference(value: &Json, visit: &mut dyn FnMut(&str)) {
    match value {
        Json::Object(object) => {
            for (key, member) in object.iter() {
                if key == "reference"
                    && let Some(text) = member.as_str()
                {
                    visit(text);
                    continue;
                }
                for_each_reference(member, visit);
            }
        }
        Json::Array(items) => {
            for item in items {
                for_each_reference(item, visit);
            }
        }
        _ => {}
    }
}

/// Replaces every `Reference.reference` found in `map` by its mapped value.
pub(crate) fn rewrite_references(value: &mut Json, map: &HashMap<String, String>) {
    match value {
        Json::Object(object) => {
            for (key, member) in object.iter_mut() {
                if key == "reference"
                    && let Json::String(text) = member
                {
                    if let Some(new) = map.get(text.as_str()) {
                        *text = new.clone();
                    }
                    continue;
                }
                rewrite_references(member, map);
            }
        }
        Json::Array(items) => {
            for item in items {
                rewrite_references(item, map);
            }
        }
        _ => {}
    }
}

/// Whether a reference is conditional (`Type?query`), to be resolved by a search.
pub(crate) fn is_conditional(reference: &str) -> bool {
    conditional_parts(reference).is_some()
}

/// A conditional reference is `Type?query` (no slash before the `?`).
fn conditional_parts(reference: &str) -> Option<(&str, &str)> {
    let (resource_type, query) = reference.split_once('?')?;
    if resource_type.is_empty() || resource_type.contains('/') || resource_type.contains(':') {
        return None;
    }
    Some((resource_type, query))
}

/// Resolves conditional references to exactly one existing resource each, or fails. Only
/// resources the writer may see count, so a conditional reference is not an oracle about
/// hidden records.
pub(crate) fn resolve_conditional_references(
    writer: &mut Writer<'_>,
    resource: &mut Json,
) -> Result<(), Error> {
    let now_ms = writer.now_ms();
    let mut wanted = BTreeSet::new();
    for_each_reference(resource, &mut |reference| {
        if conditional_parts(reference).is_some() {
            wanted.insert(reference.to_string());
        }
    });
    if wanted.is_empty() {
        return Ok(());
    }
    let mut resolved = HashMap::new();
    for reference in wanted {
        let Some((resource_type, query)) = conditional_parts(&reference) else {
            continue;
        };
        check_type(resource_type)?;
        let condition = parse_condition(resource_type, query, now_ms)?;
        let found = writer.visible_matches(&condition, 2)?;
        match found.as_slice() {
            [one] => {
                resolved.insert(reference.clone(), format!("{resource_type}/{}", one.id));
            }
            [] => {
                return Err(Error::Unprocessable(vec![Issue::error(
                    IssueCode::NotFound,
                    format!("La referencia condicional {reference} no coincide con ningún recurso"),
                    format!("The conditional reference {reference} matches no resource"),
                )]));
            }
            _ => return Err(multiple_matches(resource_type)),
        }
    }
    rewrite_references(resource, &resolved);
    Ok(())
}
