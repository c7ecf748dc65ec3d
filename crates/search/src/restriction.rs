//! Whether one resource matches a SMART v2 scope's query restriction
//! (`patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory`).
//!
//! The read guard asks this of every resource a restricted token would see, whichever door it
//! came through (read, search, `_include`, `$everything`, export), so it is answered from the
//! resource itself with the same index rows a search would compare ([`extract`]), not by a
//! query. Restrictions name token parameters in practice (category, code, status, type); only
//! those are understood, with the token forms `code`, `system|code`, `|code` and `system|`,
//! comma-separated values as OR. Anything else (another parameter type, a modifier, an unknown
//! parameter) is [`RestrictionError`]: the guard then shows nothing, the safe reading.

use fhir::Json;

use crate::extract::{IndexValue, extract};
use crate::registry::{ParamKind, registry};

/// A restriction this server cannot evaluate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the scope restriction `{name}={value}` is not supported on {resource_type}")]
pub struct RestrictionError {
    pub resource_type: String,
    pub name: String,
    pub value: String,
}

/// Whether `resource` matches every `(name, value)` of `restriction`.
pub fn matches_restriction(
    resource: &Json,
    restriction: &[(String, String)],
) -> Result<bool, RestrictionError> {
    let resource_type = resource
        .get("resourceType")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let mut entries = None;
    for (name, value) in restriction {
        let unsupported = || RestrictionError {
            resource_type: resource_type.to_string(),
            name: name.clone(),
            value: value.clone(),
        };
        let param = registry()
            .param(resource_type, name)
            .filter(|param| param.kind == ParamKind::Token)
            .ok_or_else(unsupported)?;
        let (codes, target_type) = param.index_codes();
        if target_type.is_some() {
            return Err(unsupported());
        }
        let wanted: Vec<(Option<String>, Option<String>)> = value
            .split(',')
            .map(|one| token_form(&percent_decode(one)))
            .collect();
        let entries = entries.get_or_insert_with(|| extract(resource));
        let found = entries.iter().any(|entry| {
            codes.contains(&entry.param)
                && matches!(&entry.value, IndexValue::Token { system, code, .. }
                if wanted.iter().any(|(want_system, want_code)| {
                    want_code.as_deref().is_none_or(|want| want == code)
                        && match want_system {
                            None => true,
                            // `|code`: the code with no system.
                            Some(want) if want.is_empty() => system.is_none(),
                            Some(want) => system.as_deref() == Some(want.as_str()),
                        }
                }))
        });
        if !found {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `code` → (None, code); `system|code` → (system, code); `|code` → ("", code); `system|` →
/// (system, any code).
fn token_form(value: &str) -> (Option<String>, Option<String>) {
    match value.split_once('|') {
        None => (None, Some(value.to_string())),
        Some((system, code)) => (
            Some(system.to_string()),
            (!code.is_empty()).then(|| code.to_string()),
        ),
    }
}

/// Scope values may be percent-encoded (`%7C` for `|`); an invalid escape stays as written.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[idx], bytes.get(idx + 1), bytes.get(idx + 2)) {
            (b'%', Some(&hi), Some(&lo)) if hex(hi).is_some() && hex(lo).is_some() => {
                let byte = hex(hi).unwrap_or(0) * 16 + hex(lo).unwrap_or(0);
                out.push(u8::try_from(byte).unwrap_or(b'?'));
                idx += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                idx += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

    fn observation(category: &str, status: &str) -> Json {
        fhir::json::parse_str(&format!(
            r#"{{"resourceType":"Observation","status":"{status}",
                "category":[{{"coding":[{{"system":"{CATEGORY}","code":"{category}"}}]}}],
                "code":{{"coding":[{{"system":"http://loinc.org","code":"4548-4"}}]}}}}"#
        ))
        .unwrap()
    }

    fn restriction(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn token_forms_and_or_values_match_like_a_search() {
        let lab = observation("laboratory", "final");
        let vitals = observation("vital-signs", "final");
        for (query, lab_matches, vitals_match) in [
            (vec![("category", "laboratory")], true, false),
            (
                vec![("category", &*format!("{CATEGORY}|laboratory"))],
                true,
                false,
            ),
            (
                vec![("category", &*format!("{CATEGORY}%7Claboratory"))],
                true,
                false,
            ),
            (vec![("category", "http://otro|laboratory")], false, false),
            (vec![("category", "|laboratory")], false, false),
            (vec![("category", &*format!("{CATEGORY}|"))], true, true),
            (vec![("category", "laboratory,vital-signs")], true, true),
            (
                vec![("category", "laboratory"), ("status", "preliminary")],
                false,
                false,
            ),
            (
                vec![("category", "vital-signs"), ("status", "final")],
                false,
                true,
            ),
            (vec![("code", "http://loinc.org|4548-4")], true, true),
        ] {
            let query = restriction(&query);
            assert_eq!(
                matches_restriction(&lab, &query),
                Ok(lab_matches),
                "{query:?}"
            );
            assert_eq!(
                matches_restriction(&vitals, &query),
                Ok(vitals_match),
                "{query:?}"
            );
        }
    }

    #[test]
    fn what_cannot_be_evaluated_is_an_error_not_a_match() {
        let lab = observation("laboratory", "final");
        for query in [
            vec![("date", "ge2020")],
            vec![("category:not", "laboratory")],
            vec![("nonexistent", "x")],
            vec![("subject", "Patient/1")],
        ] {
            assert!(
                matches_restriction(&lab, &restriction(&query)).is_err(),
                "{query:?}"
            );
        }
    }
}
