//! Changing a resource by a patch document: JSON Patch (RFC 6902), JSON Merge Patch
//! (RFC 7386) and FHIRPath Patch ([`fhirpath`]), applied to the lossless tree.
//!
//! Key decision: the patch runs on our own [`Json`] rather than on a general JSON library's
//! value, because a round trip through one would rewrite decimals (`1.50` becomes `1.5`), and
//! a decimal's written precision is clinical meaning in FHIR. A patch only moves values; it
//! never validates: the patched resource goes through the same validation, profile rules and
//! write guard as a `PUT` of it would.

pub mod fhirpath;

use crate::issue::{Issue, IssueCode};
use crate::json::{Json, Object};
use fhirpath::FhirPathPatch;

/// A patch document as a client sends it.
#[derive(Clone, Debug)]
pub enum Patch {
    /// RFC 6902: an array of operations, applied in order, all or nothing.
    Json(Vec<Json>),
    /// RFC 7386: a partial document; members set, `null` removes (what `fhirpy` sends).
    Merge(Json),
    /// FHIR's own: a `Parameters` resource of `operation`s on FHIRPath paths.
    FhirPath(FhirPathPatch),
}

impl Patch {
    /// Reads a patch body: an array is a JSON Patch, a `Parameters` resource a FHIRPath Patch
    /// (a merge patch cannot turn a resource into a `Parameters`, so there is no ambiguity),
    /// any other object a merge patch.
    pub fn from_body(body: Json) -> Result<Patch, Issue> {
        match body {
            Json::Array(operations) => Ok(Patch::Json(operations)),
            parameters @ Json::Object(_)
                if parameters.get("resourceType").and_then(Json::as_str) == Some("Parameters") =>
            {
                FhirPathPatch::from_parameters(&parameters).map(Patch::FhirPath)
            }
            object @ Json::Object(_) => Ok(Patch::Merge(object)),
            other => Err(Issue::error(
                IssueCode::Structure,
                format!(
                    "Un parche es un arreglo JSON Patch o un objeto (merge patch), no {}",
                    other.kind_name()
                ),
                format!(
                    "A patch is a JSON Patch array or a merge-patch object, not {}",
                    other.kind_name()
                ),
            )),
        }
    }

    /// Applies the patch to `target`; on any error `target` is left as it was.
    pub fn apply(&self, target: &mut Json) -> Result<(), Issue> {
        match self {
            Patch::Json(operations) => {
                let mut working = target.clone();
                for (index, operation) in operations.iter().enumerate() {
                    apply_operation(&mut working, operation)
                        .map_err(|issue| issue.at(format!("[{index}]")))?;
                }
                *target = working;
                Ok(())
            }
            Patch::Merge(patch) => {
                merge(target, patch);
                Ok(())
            }
            Patch::FhirPath(patch) => patch.apply(target),
        }
    }
}

fn invalid(es: impl Into<String>, en: impl Into<String>) -> Issue {
    Issue::error(IssueCode::Invalid, es, en)
}

fn apply_operation(target: &mut Json, operation: &Json) -> Result<(), Issue> {
    let member = |name: &str| operation.get(name);
    let op = member("op").and_then(Json::as_str).ok_or_else(|| {
        invalid(
            "Cada operación del parche necesita \"op\"",
            "Every patch operation needs \"op\"",
        )
    })?;
    let path = member("path").and_then(Json::as_str).ok_or_else(|| {
        invalid(
            format!("La operación «{op}» necesita \"path\""),
            format!("The '{op}' operation needs \"path\""),
        )
    })?;
    let path = Pointer::parse(path)?;
    let value = || {
        member("value").cloned().ok_or_else(|| {
            invalid(
                format!("La operación «{op}» necesita \"value\""),
                format!("The '{op}' operation needs \"value\""),
            )
        })
    };
    let from = || {
        member("from")
            .and_then(Json::as_str)
            .ok_or_else(|| {
                invalid(
                    format!("La operación «{op}» necesita \"from\""),
                    format!("The '{op}' operation needs \"from\""),
                )
            })
            .and_then(Pointer::parse)
    };
    match op {
        "add" => add(target, &path, value()?),
        "remove" => remove(target, &path).map(drop),
        "replace" => {
            let slot = resolve_mut(target, &path.tokens)?;
            *slot = value()?;
            Ok(())
        }
        "move" => {
            let from = from()?;
            if path.tokens.starts_with(&from.tokens) && path.tokens.len() > from.tokens.len() {
                return Err(invalid(
                    "No se puede mover un valor dentro de sí mismo",
                    "A value cannot be moved into itself",
                ));
            }
            let moved = remove(target, &from)?;
            add(target, &path, moved)
        }
        "copy" => {
            let copied = resolve_mut(target, &from()?.tokens)?.clone();
            add(target, &path, copied)
        }
        "test" => {
            let expected = value()?;
            let found = resolve_mut(target, &path.tokens)?;
            if found.same_value(&expected) {
                Ok(())
            } else {
                Err(Issue::error(
                    IssueCode::Conflict,
                    format!("La prueba del parche falló en «{}»", path.text),
                    format!("The patch test failed at '{}'", path.text),
                ))
            }
        }
        other => Err(invalid(
            format!("Operación de parche desconocida: «{other}»"),
            format!("Unknown patch operation: '{other}'"),
        )),
    }
}

/// An RFC 6901 JSON Pointer.
struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    fn parse(text: &str) -> Result<Pointer, Issue> {
        if text.is_empty() {
            return Err(invalid(
                "Un parche no puede reemplazar el recurso entero (path vacío)",
                "A patch cannot replace the whole resource (empty path)",
            ));
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(invalid(
                format!("«{text}» no es un JSON Pointer (debe empezar con /)"),
                format!("'{text}' is not a JSON Pointer (it must start with /)"),
            ));
        };
        let tokens = rest
            .split('/')
            .map(|token| token.replace("~1", "/").replace("~0", "~"))
            .collect();
        Ok(Pointer {
            text: text.to_string(),
            tokens,
        })
    }
}

fn missing(token: &str) -> Issue {
    Issue::error(
        IssueCode::NotFound,
        format!("El parche se refiere a «{token}», que no existe en el recurso"),
        format!("The patch refers to '{token}', which the resource does not have"),
    )
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Result<usize, Issue> {
    if token == "-" && allow_end {
        return Ok(len);
    }
    let leading_zero = token.len() > 1 && token.starts_with('0');
    match token.parse::<usize>() {
        Ok(index) if !leading_zero && (index < len || (allow_end && index == len)) => Ok(index),
        _ => Err(missing(token)),
    }
}

fn resolve_mut<'a>(target: &'a mut Json, tokens: &[String]) -> Result<&'a mut Json, Issue> {
    let mut current = target;
    for token in tokens {
        current = match current {
            Json::Object(object) => object.get_mut(token).ok_or_else(|| missing(token))?,
            Json::Array(items) => {
                let index = array_index(token, items.len(), false)?;
                items.get_mut(index).ok_or_else(|| missing(token))?
            }
            _ => return Err(missing(token)),
        };
    }
    Ok(current)
}

fn split(pointer: &Pointer) -> (&[String], &str) {
    match pointer.tokens.split_last() {
        Some((last, parent)) => (parent, last.as_str()),
        None => (&[], ""),
    }
}

fn add(target: &mut Json, path: &Pointer, value: Json) -> Result<(), Issue> {
    let (parent, last) = split(path);
    match resolve_mut(target, parent)? {
        Json::Object(object) => {
            object.insert(last, value);
            Ok(())
        }
        Json::Array(items) => {
            let index = array_index(last, items.len(), true)?;
            items.insert(index, value);
            Ok(())
        }
        _ => Err(missing(last)),
    }
}

fn remove(target: &mut Json, path: &Pointer) -> Result<Json, Issue> {
    let (parent, last) = split(path);
    match resolve_mut(target, parent)? {
        Json::Object(object) => object.remove(last).ok_or_else(|| missing(last)),
        Json::Array(items) => {
            let index = array_index(last, items.len(), false)?;
            Ok(items.remove(index))
        }
        _ => Err(missing(last)),
    }
}

/// RFC 7386: objects merge member by member, `null` removes, anything else replaces.
fn merge(target: &mut Json, patch: &Json) {
    let Json::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !matches!(target, Json::Object(_)) {
        *target = Json::Object(Object::new());
    }
    let Json::Object(object) = target else {
        return;
    };
    for (name, change) in changes.iter() {
        if matches!(change, Json::Null) {
            object.remove(name);
            continue;
        }
        match object.get_mut(name) {
            Some(existing) => merge(existing, change),
            None => {
                let mut fresh = Json::Null;
                merge(&mut fresh, change);
                object.insert(name, fresh);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_str;

    fn json(text: &str) -> Json {
        parse_str(text).expect("test JSON")
    }

    #[test]
    fn json_patch_operations_keep_decimals_and_are_all_or_nothing() {
        let mut target = json(
            r#"{"resourceType":"Observation","status":"preliminary","valueQuantity":{"value":1.50},"note":[{"text":"a"}]}"#,
        );
        let patch = Patch::from_body(json(
            r#"[{"op":"test","path":"/status","value":"preliminary"},
                {"op":"replace","path":"/status","value":"final"},
                {"op":"add","path":"/note/-","value":{"text":"b"}},
                {"op":"add","path":"/note/0","value":{"text":"z"}},
                {"op":"copy","from":"/valueQuantity","path":"/referenceRange"},
                {"op":"move","from":"/referenceRange","path":"/extra"},
                {"op":"remove","path":"/extra"}]"#,
        ))
        .expect("patch");
        patch.apply(&mut target).expect("applies");
        assert_eq!(
            target.to_json_string(),
            r#"{"resourceType":"Observation","status":"final","valueQuantity":{"value":1.50},"note":[{"text":"z"},{"text":"a"},{"text":"b"}]}"#
        );

        let before = target.clone();
        let failing = Patch::from_body(json(
            r#"[{"op":"replace","path":"/status","value":"amended"},
                {"op":"test","path":"/status","value":"final"}]"#,
        ))
        .expect("patch");
        let issue = failing.apply(&mut target).expect_err("the test fails");
        assert_eq!(issue.code, IssueCode::Conflict);
        assert_eq!(target, before, "nothing of a failed patch is applied");

        for bad in [
            r#"[{"op":"remove","path":"/nope"}]"#,
            r#"[{"op":"add","path":"/note/7","value":1}]"#,
            r#"[{"op":"replace","path":"","value":{}}]"#,
            r#"[{"op":"jump","path":"/status"}]"#,
            r#"[{"op":"move","from":"/note","path":"/note/0"}]"#,
            r#"[{"path":"/status"}]"#,
        ] {
            let patch = Patch::from_body(json(bad)).expect("patch");
            assert!(patch.apply(&mut target).is_err(), "{bad}");
            assert_eq!(target, before, "{bad}");
        }
    }

    #[test]
    fn merge_patch_sets_replaces_and_removes() {
        let mut target = json(
            r#"{"resourceType":"Patient","active":true,"name":[{"family":"A"}],"address":[{"city":"X"}],"telecom":[{"value":"1"}]}"#,
        );
        let patch = Patch::from_body(json(
            r#"{"active":false,"telecom":null,"name":[{"family":"B","given":["C"]}],"gender":"female"}"#,
        ))
        .expect("patch");
        patch.apply(&mut target).expect("applies");
        assert_eq!(
            target.to_json_string(),
            r#"{"resourceType":"Patient","active":false,"name":[{"family":"B","given":["C"]}],"address":[{"city":"X"}],"gender":"female"}"#
        );
        assert!(Patch::from_body(json("3")).is_err());
    }
}
