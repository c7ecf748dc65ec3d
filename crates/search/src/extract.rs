//! Index extraction at write time: a resource in, the rows of every index table out.
//!
//! The store calls [`extract`] once per written version and stores the entries in one table
//! per [`IndexValue`] variant (token, string, date, number, quantity, reference, uri), keyed by
//! the resource and the parameter code. Values are normalised here (folded strings, date and
//! number ranges, split references) so that queries become plain column comparisons.

use fhir::json::Json;

use crate::datetime::{DATE_MAX_MS, DATE_MIN_MS, date_range};
use crate::decimal::decimal_range;
use crate::normalize::normalize_string;
use crate::program::Leaf;
use crate::registry::{ParamKind, Registry, SearchParam, registry};

/// Which parameter an entry belongs to: the parameter's `code` (e.g. `"birthdate"`), borrowed
/// from the static registry. Codes are stable (they are the R4 names), unlike positions in the
/// generated table, so the store can persist them (or intern them to integers itself).
pub type ParamId = &'static str;

/// One index row: parameter and normalised value.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexEntry {
    pub param: ParamId,
    pub value: IndexValue,
}

/// A normalised value; the variant names the index table.
#[derive(Clone, Debug, PartialEq)]
pub enum IndexValue {
    /// From code, Coding, CodeableConcept, Identifier, ContactPoint, boolean, string.
    /// `code` is empty for a row that only carries `text` (a CodeableConcept with text but no
    /// coding), so `:text` can find it.
    Token {
        system: Option<String>,
        code: String,
        /// Folded display/text (Coding.display, CodeableConcept.text, Identifier.type.text),
        /// searched by `:text`.
        text: Option<String>,
    },
    String {
        /// [`normalize_string`] of `exact`: what default and `:contains` search compare.
        normalized: String,
        /// The value as written, for `:exact`.
        exact: String,
    },
    /// Inclusive UTC epoch-ms range covered by the value at its precision.
    Date {
        low_ms: i64,
        high_ms: i64,
    },
    /// Inclusive range implied by the written precision (`72.50` → `[72.495, 72.505]`).
    Number {
        low: f64,
        high: f64,
    },
    Quantity {
        system: Option<String>,
        code: Option<String>,
        unit: Option<String>,
        low: f64,
        high: f64,
    },
    Reference {
        /// Known target type (`Patient` from `Patient/123`, an absolute URL, or `Reference.type`).
        target_type: Option<String>,
        /// The id of a relative reference (`Patient/123` → `123`); `None` for absolute URLs.
        target_id: Option<String>,
        /// The reference when it is absolute (`http…`, `urn:…`), contained (`#x`) or a
        /// canonical/uri value; `None` for relative `Type/id` references.
        url: Option<String>,
        /// `Reference.identifier` as `(system, value)`, for `:identifier`.
        identifier: Option<(Option<String>, String)>,
    },
    Uri {
        uri: String,
    },
}

/// The index entries of all supported parameters of `resource`'s type (except `_id` and
/// `_lastUpdated`, which live on the resource table). Unknown types and non-objects give none.
pub fn extract(resource: &Json) -> Vec<IndexEntry> {
    extract_with(registry(), resource)
}

pub(crate) fn extract_with(registry: &'static Registry, resource: &Json) -> Vec<IndexEntry> {
    let mut entries = Vec::with_capacity(32);
    let Some(rtype) = resource.get("resourceType").and_then(Json::as_str) else {
        return entries;
    };
    let mut values: Vec<&Json> = Vec::with_capacity(8);
    for param in registry.params(rtype) {
        if param.on_resource_table() || param.stored_as.is_some() {
            continue;
        }
        let start = entries.len();
        if param.program.exists_not_false {
            values.clear();
            for path in &param.program.paths {
                path.eval(resource, &mut values);
            }
            let truth = values.iter().any(|v| !matches!(v, Json::Bool(false)));
            entries.push(IndexEntry {
                param: param.code.as_str(),
                value: token(None, if truth { "true" } else { "false" }, None),
            });
            continue;
        }
        for path in &param.program.paths {
            values.clear();
            path.eval(resource, &mut values);
            for value in &values {
                index_value(param, path.leaf, value, &mut entries, start);
            }
        }
    }
    entries
}

/// The ids of the patients whose compartment `resource` belongs to (R4 CompartmentDefinition
/// `patient`): relative `Patient/id` references found by the type's compartment parameters,
/// plus a Patient's own id. Absolute, `urn:` and contained references are not counted: they
/// do not name a patient of this server (the store rewrites `urn:uuid:` before indexing).
pub fn patient_compartment(resource: &Json) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let Some(rtype) = resource.get("resourceType").and_then(Json::as_str) else {
        return ids;
    };
    if rtype == "Patient"
        && let Some(id) = resource.get("id").and_then(Json::as_str)
    {
        ids.push(id.to_string());
    }
    let mut values = Vec::new();
    for param in registry().compartment_params(rtype) {
        values.clear();
        for path in &param.program.paths {
            if path.leaf == Leaf::Reference {
                path.eval(resource, &mut values);
            }
        }
        for value in &values {
            let Some(text) = value.get("reference").and_then(Json::as_str) else {
                continue;
            };
            if let (Some("Patient"), Some(id), false) = split_relative(text)
                && !ids.iter().any(|known| known == id)
            {
                ids.push(id.to_string());
            }
        }
    }
    // FHIR puts no Bundle in a compartment, but a stored Bundle (a document, a collection)
    // carries patients' records: it belongs to every patient its entries belong to, so that
    // reading it is decided as reading them (a document stored at /Bundle would otherwise be
    // open to every clinician in the country).
    if rtype == "Bundle" {
        for entry in resource
            .get("entry")
            .and_then(Json::as_array)
            .unwrap_or_default()
        {
            let Some(inner) = entry.get("resource") else {
                continue;
            };
            for id in patient_compartment(inner) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
    ids
}

fn token(system: Option<&str>, code: &str, text: Option<String>) -> IndexValue {
    IndexValue::Token {
        system: system.map(str::to_string),
        code: code.to_string(),
        text,
    }
}

fn get_str<'a>(value: &'a Json, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Json::as_str)
}

/// A JSON number's text (or a string holding one, which some senders use).
fn number_text(value: &Json) -> Option<&str> {
    value.as_number_text().or_else(|| value.as_str())
}

/// Pushes `value` unless an identical entry for the same parameter is already there
/// (`start` is where this parameter's entries begin); duplicates would only bloat the index.
fn push_unique(entries: &mut Vec<IndexEntry>, start: usize, param: ParamId, value: IndexValue) {
    if entries[start..].iter().any(|e| e.value == value) {
        return;
    }
    entries.push(IndexEntry { param, value });
}

fn index_value(
    param: &'static SearchParam,
    leaf: Leaf,
    value: &Json,
    entries: &mut Vec<IndexEntry>,
    start: usize,
) {
    let code = param.code.as_str();
    let mut push = |v: IndexValue| push_unique(entries, start, code, v);
    match param.kind {
        ParamKind::Token => index_token(leaf, value, &mut push),
        ParamKind::String => index_string(leaf, value, &mut push),
        ParamKind::Date => index_date(leaf, value, &mut push),
        ParamKind::Number => {
            // A stored number is a point: the search value's precision decides the match
            // (R4: `100.00` finds values in [99.995, 100.005]), so `72.50` finds 72.5.
            if let Some((value, _, _)) = number_text(value).and_then(decimal_range) {
                push(IndexValue::Number {
                    low: value,
                    high: value,
                });
            }
        }
        ParamKind::Quantity => index_quantity(leaf, value, &mut push),
        ParamKind::Reference => index_reference(leaf, value, &mut push),
        ParamKind::Uri => {
            if let Some(uri) = value.as_str() {
                push(IndexValue::Uri {
                    uri: uri.to_string(),
                });
            }
        }
    }
}

fn index_token(leaf: Leaf, value: &Json, push: &mut impl FnMut(IndexValue)) {
    match leaf {
        Leaf::Boolean => {
            if let Some(b) = value.as_bool() {
                push(token(None, if b { "true" } else { "false" }, None));
            }
        }
        Leaf::Coding => {
            if let Some(code) = get_str(value, "code") {
                let text = get_str(value, "display").map(normalize_string);
                push(token(get_str(value, "system"), code, text));
            }
        }
        Leaf::CodeableConcept => {
            let cc_text = get_str(value, "text").map(normalize_string);
            let mut pushed = false;
            if let Some(codings) = value.get("coding") {
                for coding in codings.as_list() {
                    let Some(code) = get_str(coding, "code") else {
                        continue;
                    };
                    // `:text` matches "contains" on the folded text, so the coding's display
                    // and the concept's text share one row instead of a row each (fewer
                    // index rows is the largest lever on import speed).
                    let display = get_str(coding, "display").map(normalize_string);
                    let text = match (display, &cc_text) {
                        (Some(display), Some(cc)) if display != *cc => {
                            Some(format!("{display} {cc}"))
                        }
                        (Some(display), _) => Some(display),
                        (None, cc) => cc.clone(),
                    };
                    push(token(get_str(coding, "system"), code, text));
                    pushed = true;
                }
            }
            if let Some(text) = cc_text
                && !pushed
                && !text.is_empty()
            {
                push(token(None, "", Some(text)));
            }
        }
        Leaf::Identifier => {
            if let Some(code) = get_str(value, "value") {
                let type_text = value.get("type").and_then(|ty| {
                    get_str(ty, "text").or_else(|| {
                        ty.get("coding")?
                            .as_list()
                            .iter()
                            .find_map(|c| get_str(c, "display"))
                    })
                });
                push(token(
                    get_str(value, "system"),
                    code,
                    type_text.map(normalize_string),
                ));
            }
        }
        Leaf::ContactPoint => {
            if let Some(code) = get_str(value, "value") {
                push(token(get_str(value, "system"), code, None));
            }
        }
        _ => {
            if let Some(code) = value.as_str() {
                push(token(None, code, None));
            }
        }
    }
}

fn string_row(text: &str) -> IndexValue {
    IndexValue::String {
        normalized: normalize_string(text),
        exact: text.to_string(),
    }
}

fn index_string(leaf: Leaf, value: &Json, push: &mut impl FnMut(IndexValue)) {
    match leaf {
        Leaf::HumanName => {
            let mut parts: Vec<&str> = Vec::new();
            for key in ["text", "family"] {
                if let Some(part) = get_str(value, key) {
                    push(string_row(part));
                }
            }
            for key in ["given", "prefix", "suffix"] {
                if let Some(list) = value.get(key) {
                    for part in list.as_list().iter().filter_map(Json::as_str) {
                        push(string_row(part));
                        if key == "given" {
                            parts.push(part);
                        }
                    }
                }
            }
            // "Juan Pérez" should find Juan Pérez even when the name has no `text`: also index
            // the given names followed by the family name as one string.
            if let Some(family) = get_str(value, "family")
                && !parts.is_empty()
                && get_str(value, "text").is_none()
            {
                parts.push(family);
                push(string_row(&parts.join(" ")));
            }
        }
        Leaf::Address => {
            for key in [
                "text",
                "line",
                "city",
                "district",
                "state",
                "postalCode",
                "country",
            ] {
                if let Some(list) = value.get(key) {
                    for part in list.as_list().iter().filter_map(Json::as_str) {
                        push(string_row(part));
                    }
                }
            }
        }
        _ => {
            if let Some(text) = value.as_str() {
                push(string_row(text));
            }
        }
    }
}

fn index_date(leaf: Leaf, value: &Json, push: &mut impl FnMut(IndexValue)) {
    match leaf {
        Leaf::Period => {
            let low = get_str(value, "start").and_then(date_range).map(|r| r.0);
            let high = get_str(value, "end").and_then(date_range).map(|r| r.1);
            if low.is_some() || high.is_some() {
                push(IndexValue::Date {
                    low_ms: low.unwrap_or(DATE_MIN_MS),
                    high_ms: high.unwrap_or(DATE_MAX_MS),
                });
            }
        }
        Leaf::Timing => {
            if let Some(events) = value.get("event") {
                for event in events.as_list() {
                    if let Some((low_ms, high_ms)) = event.as_str().and_then(date_range) {
                        push(IndexValue::Date { low_ms, high_ms });
                    }
                }
            }
        }
        _ => {
            if let Some((low_ms, high_ms)) = value.as_str().and_then(date_range) {
                push(IndexValue::Date { low_ms, high_ms });
            }
        }
    }
}

/// `(low, high)` of a Quantity's value — a point, as for numbers — widened by its
/// `comparator` (`<5` is anything below).
fn quantity_bounds(quantity: &Json) -> Option<(f64, f64)> {
    let (value, _, _) = quantity
        .get("value")
        .and_then(number_text)
        .and_then(decimal_range)?;
    let (low, high) = (value, value);
    Some(match get_str(quantity, "comparator") {
        Some("<" | "<=") => (f64::MIN, high),
        Some(">" | ">=") => (low, f64::MAX),
        _ => (low, high),
    })
}

fn index_quantity(leaf: Leaf, value: &Json, push: &mut impl FnMut(IndexValue)) {
    let owned = |key: &str, v: &Json| get_str(v, key).map(str::to_string);
    match leaf {
        Leaf::Money => {
            if let Some((low, _, _)) = value
                .get("value")
                .and_then(number_text)
                .and_then(decimal_range)
            {
                let currency = owned("currency", value);
                push(IndexValue::Quantity {
                    system: currency
                        .as_ref()
                        .map(|_| "urn:iso:std:iso:4217".to_string()),
                    code: currency,
                    unit: None,
                    low,
                    high: low,
                });
            }
        }
        Leaf::Range => {
            let low_q = value.get("low");
            let high_q = value.get("high");
            let low = low_q.and_then(quantity_bounds).map(|b| b.0);
            let high = high_q.and_then(quantity_bounds).map(|b| b.1);
            if low.is_none() && high.is_none() {
                return;
            }
            let unit_source = low_q.or(high_q).unwrap_or(&Json::Null);
            push(IndexValue::Quantity {
                system: owned("system", unit_source),
                code: owned("code", unit_source),
                unit: owned("unit", unit_source),
                low: low.unwrap_or(f64::MIN),
                high: high.unwrap_or(f64::MAX),
            });
        }
        _ => {
            if let Some((low, high)) = quantity_bounds(value) {
                push(IndexValue::Quantity {
                    system: owned("system", value),
                    code: owned("code", value),
                    unit: owned("unit", value),
                    low,
                    high,
                });
            }
        }
    }
}

fn index_reference(leaf: Leaf, value: &Json, push: &mut impl FnMut(IndexValue)) {
    if leaf != Leaf::Reference {
        // canonical / uri values of reference parameters.
        if let Some(url) = value.as_str() {
            push(IndexValue::Reference {
                target_type: None,
                target_id: None,
                url: Some(url.to_string()),
                identifier: None,
            });
        }
        return;
    }
    let (mut target_type, target_id, url) = match get_str(value, "reference") {
        Some(text) => {
            let (ty, id, absolute) = split_relative(text);
            // An absolute URL names a resource on some server, not necessarily this one: keep
            // its type (for `where(resolve() is T)`) but no local id (the store rewrites its own
            // base URL to relative references before indexing).
            (
                ty.map(str::to_string),
                id.filter(|_| !absolute).map(str::to_string),
                (absolute || ty.is_none()).then(|| text.to_string()),
            )
        }
        None => (None, None, None),
    };
    if let Some(ty) = get_str(value, "type") {
        target_type = Some(ty.to_string());
    }
    let identifier = value.get("identifier").and_then(|ident| {
        let v = get_str(ident, "value")?;
        Some((get_str(ident, "system").map(str::to_string), v.to_string()))
    });
    if target_type.is_none() && target_id.is_none() && url.is_none() && identifier.is_none() {
        return;
    }
    push(IndexValue::Reference {
        target_type,
        target_id,
        url,
        identifier,
    });
}

/// Whether `segment` looks like a resource type name (`Patient`, `MedicationRequest`).
fn looks_like_type(segment: &str) -> bool {
    segment.starts_with(|c: char| c.is_ascii_uppercase())
        && segment.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `segment` is a valid FHIR id (`[A-Za-z0-9\-\.]{1,64}`).
fn looks_like_id(segment: &str) -> bool {
    (1..=64).contains(&segment.len())
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Splits a RESTful reference into `(type, id, is_absolute)`: `Patient/1`,
/// `Patient/1/_history/2` and `http://host/fhir/Patient/1` all give `Patient`, `1`.
/// `urn:` and `#contained` references give no type or id.
pub(crate) fn split_relative(text: &str) -> (Option<&str>, Option<&str>, bool) {
    let urn_or_local = text.starts_with("urn:") || text.starts_with('#');
    let absolute = urn_or_local || text.contains("://");
    // Conditional references (`Patient?identifier=…`) are resolved by the server before
    // indexing; one left here names no single resource.
    if urn_or_local || text.contains('?') {
        return (None, None, absolute);
    }
    let path = text.split_once("/_history/").map_or(text, |(head, _)| head);
    let mut segments = path.rsplit('/');
    let id = segments.next();
    let ty = segments.next();
    // A relative reference is exactly `Type/id`.
    if !absolute && segments.next().is_some() {
        return (None, None, absolute);
    }
    match (ty, id) {
        (Some(ty), Some(id)) if looks_like_type(ty) && looks_like_id(id) => {
            (Some(ty), Some(id), absolute)
        }
        _ => (None, None, absolute),
    }
}

/// `(type, id)` of a reference string, for `where(resolve() is T)`.
pub(crate) fn split_reference(text: &str) -> (Option<&str>, Option<&str>) {
    let (ty, id, _) = split_relative(text);
    (ty, id)
}
