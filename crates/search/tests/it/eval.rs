//! A test-only evaluator of `Predicate`s and `Clause`s over in-memory index rows, mirroring
//! what the SQL builders must render (NULL columns never compare true).

use fhir::json::Json;
use search::{
    Clause, Col, Filter, Handling, IndexEntry, IndexValue, Op, Predicate, Value, extract, parse,
};

#[derive(Clone, Copy, Debug)]
enum Cell<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
}

fn s(v: &Option<String>) -> Option<Cell<'_>> {
    v.as_deref().map(Cell::Str)
}

fn column(row: &IndexValue, col: Col) -> Option<Cell<'_>> {
    match (row, col) {
        (IndexValue::Token { system, .. }, Col::System) => s(system),
        (IndexValue::Token { code, .. }, Col::Code) => Some(Cell::Str(code)),
        (IndexValue::Token { text, .. }, Col::Text) => s(text),
        (IndexValue::String { normalized, .. }, Col::Normalized) => Some(Cell::Str(normalized)),
        (IndexValue::String { exact, .. }, Col::Exact) => Some(Cell::Str(exact)),
        (IndexValue::Date { low_ms, .. }, Col::LowMs) => Some(Cell::Int(*low_ms)),
        (IndexValue::Date { high_ms, .. }, Col::HighMs) => Some(Cell::Int(*high_ms)),
        (IndexValue::Number { low, .. } | IndexValue::Quantity { low, .. }, Col::Low) => {
            Some(Cell::Float(*low))
        }
        (IndexValue::Number { high, .. } | IndexValue::Quantity { high, .. }, Col::High) => {
            Some(Cell::Float(*high))
        }
        (IndexValue::Quantity { system, .. }, Col::System) => s(system),
        (IndexValue::Quantity { code, .. }, Col::Code) => s(code),
        (IndexValue::Quantity { unit, .. }, Col::Unit) => s(unit),
        (IndexValue::Reference { target_type, .. }, Col::TargetType) => s(target_type),
        (IndexValue::Reference { target_id, .. }, Col::TargetId) => s(target_id),
        (IndexValue::Reference { url, .. }, Col::Url) => s(url),
        (IndexValue::Reference { identifier, .. }, Col::IdentifierSystem) => identifier
            .as_ref()
            .and_then(|(sys, _)| sys.as_deref())
            .map(Cell::Str),
        (IndexValue::Reference { identifier, .. }, Col::IdentifierValue) => {
            identifier.as_ref().map(|(_, v)| Cell::Str(v.as_str()))
        }
        (IndexValue::Uri { uri }, Col::Uri) => Some(Cell::Str(uri)),
        (row, col) => panic!("column {col:?} does not exist for {row:?}"),
    }
}

fn compare<T: PartialOrd>(a: T, op: Op, b: T) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        Op::StartsWith | Op::Contains => panic!("string op on a number"),
    }
}

pub fn row_matches(row: &IndexValue, predicate: &Predicate) -> bool {
    match predicate {
        Predicate::All(preds) => {
            assert!(!preds.is_empty());
            preds.iter().all(|p| row_matches(row, p))
        }
        Predicate::Any(preds) => {
            assert!(!preds.is_empty());
            preds.iter().any(|p| row_matches(row, p))
        }
        Predicate::IsNull(col) => column(row, *col).is_none(),
        Predicate::Cmp(c) => match (column(row, c.col), &c.value) {
            (None, _) => false,
            (Some(Cell::Str(a)), Value::Str(b)) => match c.op {
                Op::StartsWith => a.starts_with(b.as_str()),
                Op::Contains => a.contains(b.as_str()),
                op => compare(a, op, b.as_str()),
            },
            (Some(Cell::Int(a)), Value::Int(b)) => compare(a, c.op, *b),
            (Some(Cell::Float(a)), Value::Float(b)) => compare(a, c.op, *b),
            (cell, value) => panic!("type mismatch {cell:?} vs {value:?}"),
        },
    }
}

/// Whether a resource with these index rows satisfies a (non-chained) clause.
pub fn clause_matches(entries: &[IndexEntry], clause: &Clause) -> bool {
    assert!(clause.chain.is_none(), "the test evaluator does not join");
    let (codes, target) = clause.param.index_codes();
    let rows: Vec<&IndexValue> = entries
        .iter()
        .filter(|e| codes.contains(&e.param))
        .map(|e| &e.value)
        .filter(|value| match (target, value) {
            (Some(target), IndexValue::Reference { target_type, .. }) => {
                target_type.as_deref() == Some(target)
            }
            _ => true,
        })
        .collect();
    if let Some(missing) = clause.missing {
        return rows.is_empty() == missing;
    }
    let hit = rows
        .iter()
        .any(|row| clause.any_of.iter().any(|p| row_matches(row, p)));
    hit != clause.negate
}

/// Whether `resource` matches the search `query` (filters on indexed parameters and `_id`).
pub fn resource_matches(resource: &Json, query: &str) -> bool {
    let rtype = resource.get("resourceType").and_then(Json::as_str).unwrap();
    let params: Vec<(String, String)> = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let (parsed, warnings) =
        parse(rtype, &params, Handling::Strict, 0).unwrap_or_else(|e| panic!("{query}: {e:?}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let entries = extract(resource);
    parsed.filters.iter().all(|f| match f {
        Filter::Param(clause) => clause_matches(&entries, clause),
        Filter::Id { ids } => ids
            .iter()
            .any(|id| resource.get("id").and_then(Json::as_str) == Some(id)),
        other => panic!("the test evaluator does not handle {other:?}"),
    })
}
