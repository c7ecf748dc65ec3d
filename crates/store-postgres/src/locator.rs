//! The identifier locator (issue 15): which patient keys hold a resource carrying an
//! identifier value, so a search across patients by identifier (`Patient?identifier=curp|…`,
//! the MPI's CURP probe, `Organization?identifier=clues|…`) reads one shard on Citus instead of
//! every shard.
//!
//! `identifier_locator(value, system, resource_type, id, patient_key)` (migration 3) is
//! distributed by `value`: a lookup by value is a router query (`Task Count: 1`), whether the
//! search names the system or not. Then the search itself runs confined to the keys found (see
//! `query::render_where`), so it too is single-shard for one person.
//!
//! The rows are *hints*, never answers: every write of a version with a body upserts one row
//! per identifier, in the writing transaction, under the version's current key; nothing is
//! deleted when an identifier is removed or the resource deleted. A stale row only sends the
//! search to a shard where the real index (`idx_token`) then finds nothing, so results are
//! exactly those of an unrouted search; what a row can never be is *missing* for a current
//! version's identifier, which the write in the same transaction guarantees (and migration 3's
//! backfill for older rows). Not deleting keeps the write to one statement per identifier with
//! no read of the previous version's identifiers; stale rows are as rare as identifier
//! corrections.
//!
//! Written on plain PostgreSQL too (same schema on both engines, so a database moved onto Citus
//! needs no rebuild), but read only on Citus: there the `idx_token` value index already finds
//! an identifier in one probe.

use postgres::GenericClient;
use search::{Col, Filter, IndexEntry, IndexValue, Op, ParamKind, Predicate, SearchQuery, Value};
use store::Error;

use crate::tx::Tx;

/// The search parameter whose values are located. Every R4 `identifier` parameter is a token.
const IDENTIFIER: &str = "identifier";

/// Identifiers of written versions (held and sent together, see `batch`); `patient_key`
/// follows the resource if it moves.
pub(crate) const UPSERT: &str = "INSERT INTO identifier_locator(value, system, resource_type, id, patient_key) \
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
     ON CONFLICT (value, system, resource_type, id) \
     DO UPDATE SET patient_key = EXCLUDED.patient_key \
     WHERE identifier_locator.patient_key <> EXCLUDED.patient_key";

/// The patient keys holding `resource_type` resources with identifier value `$1` (one shard:
/// the condition names the distribution column).
pub(crate) const LOOKUP: &str = "SELECT DISTINCT patient_key FROM identifier_locator \
     WHERE value = $1 AND resource_type = $2";

/// Most identifier values one search may route by (`identifier=a,b,…`); more fall back to the
/// unrouted search rather than one lookup each.
const VALUES_MAX: usize = 8;

/// PostgreSQL text cannot hold NUL; `idx_token` keeps values without it, so do we.
fn text(value: &str) -> String {
    value.replace('\0', "")
}

/// Records the identifiers of a version being written under distribution key `key`.
pub(crate) fn record(
    tx: &mut Tx<'_>,
    key: &str,
    resource_type: &str,
    id: &str,
    index: &[IndexEntry],
) -> Result<(), Error> {
    for entry in index.iter().filter(|entry| entry.param == IDENTIFIER) {
        let IndexValue::Token { system, code, .. } = &entry.value else {
            continue;
        };
        tx.hold_identifier(
            text(code),
            text(system.as_deref().unwrap_or("")),
            resource_type,
            id,
            key,
        );
    }
    Ok(())
}

/// The identifier values a search requires, when one of its filters is an `identifier` clause
/// whose every alternative names a value (`identifier=sys|v`, `identifier=v`,
/// `identifier=|v`, or a list of them): every match then carries one of them, so it lives
/// under a key the locator holds for one of them.
pub(crate) fn required_values(query: &SearchQuery) -> Option<Vec<String>> {
    query.filters.iter().find_map(|filter| {
        let Filter::Param(clause) = filter else {
            return None;
        };
        if clause.param.code != IDENTIFIER
            || clause.param.kind != ParamKind::Token
            || clause.negate
            || clause.missing.is_some()
            || clause.chain.is_some()
            || clause.any_of.is_empty()
            || clause.any_of.len() > VALUES_MAX
        {
            return None;
        }
        let mut values = clause
            .any_of
            .iter()
            .map(code_of)
            .collect::<Option<Vec<String>>>()?;
        values.sort();
        values.dedup();
        Some(values)
    })
}

/// The exact value one token alternative requires, if it requires one.
fn code_of(predicate: &Predicate) -> Option<String> {
    match predicate {
        Predicate::Cmp(cmp) if cmp.col == Col::Code && cmp.op == Op::Eq => match &cmp.value {
            Value::Str(code) => Some(text(code)),
            _ => None,
        },
        Predicate::All(items) => items.iter().find_map(code_of),
        _ => None,
    }
}

/// The patient keys under which `resource_type` resources carrying any of `values` may live,
/// sorted and without duplicates (one single-shard lookup per value).
pub(crate) fn patient_keys<C: GenericClient>(
    conn: &mut C,
    resource_type: &str,
    values: &[String],
) -> Result<Vec<String>, Error> {
    let mut keys = Vec::new();
    for value in values {
        let rows = conn
            .query(LOOKUP, &[value, &resource_type])
            .map_err(crate::sql_error)?;
        keys.extend(rows.iter().map(|row| row.get::<_, String>(0)));
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(resource_type: &str, params: &[(&str, &str)]) -> SearchQuery {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        search::parse(resource_type, &params, search::Handling::Strict, 0)
            .unwrap()
            .0
    }

    #[test]
    fn identifier_values_are_required_only_when_every_alternative_names_one() {
        let values = |params: &[(&str, &str)]| required_values(&query("Patient", params));
        assert_eq!(
            values(&[("identifier", "urn:curp|ABCD")]),
            Some(vec!["ABCD".to_string()])
        );
        assert_eq!(values(&[("identifier", "ABCD")]), Some(vec!["ABCD".into()]));
        assert_eq!(
            values(&[("identifier", "|ABCD")]),
            Some(vec!["ABCD".into()])
        );
        assert_eq!(
            values(&[("identifier", "s|B,A,s|A")]),
            Some(vec!["A".into(), "B".into()])
        );
        assert_eq!(
            values(&[("name", "juan"), ("identifier", "s|A")]),
            Some(vec!["A".into()])
        );
        // A system alone, a negation, a missing test: any value may match.
        assert_eq!(values(&[("identifier", "urn:curp|")]), None);
        assert_eq!(values(&[("identifier:not", "s|A")]), None);
        assert_eq!(values(&[("identifier:missing", "true")]), None);
        assert_eq!(values(&[("name", "juan")]), None);
    }
}
