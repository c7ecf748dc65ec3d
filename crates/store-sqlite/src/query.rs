//! FHIR search rendered as SQLite SQL.
//!
//! The `search` crate has already decided every R4 semantic; this module only renders its
//! column comparisons. Positive clauses become `r.rkey IN (SELECT rkey FROM idx_… WHERE pid = ?
//! AND …)` so SQLite drives the search from the selective `(pid, value)` index instead of
//! probing every resource of the type. Paging is keyset-based on the sort values plus `rkey`,
//! so next/previous links stay correct while others write: rows present throughout are never
//! skipped or repeated.

use std::collections::HashSet;
use std::fmt::Write as _;

use fhir::Json;
use rusqlite::{Connection, OptionalExtension, params_from_iter, types::Value as SqlValue};
use search::{
    Clause, Col, Filter, Include, Op, ParamKind, Predicate, SearchQuery, SortBy, Summary, Total,
    Value,
};
use store::{Error, IncludeLevel, SearchPage, StoredResource};

use crate::read::{RESOURCE_COLUMNS, stored_from_row};
use crate::sql_error;
use crate::writer::lookup_param;

use store::{INCLUDED_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};

struct Sql {
    text: String,
    args: Vec<SqlValue>,
}

impl Sql {
    fn new() -> Sql {
        Sql {
            text: String::with_capacity(512),
            args: Vec::new(),
        }
    }
    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }
    fn arg(&mut self, value: SqlValue) {
        self.text.push('?');
        self.args.push(value);
    }
}

fn table(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Token => "idx_token",
        ParamKind::String => "idx_string",
        ParamKind::Date => "idx_date",
        ParamKind::Number => "idx_number",
        ParamKind::Quantity => "idx_quantity",
        ParamKind::Reference => "idx_reference",
        ParamKind::Uri => "idx_uri",
    }
}

/// Column name, and whether "absent" is stored as `''` (NOT NULL key columns) rather than NULL.
fn column(col: Col) -> (&'static str, bool) {
    match col {
        Col::System => ("system", true),
        Col::Code => ("code", false),
        Col::Text => ("text", false),
        Col::Normalized => ("normalized", false),
        Col::Exact => ("exact", false),
        Col::LowMs => ("low_ms", false),
        Col::HighMs => ("high_ms", false),
        Col::Low => ("low", false),
        Col::High => ("high", false),
        Col::Unit => ("unit", true),
        Col::TargetType => ("target_type", true),
        Col::TargetId => ("target_id", true),
        Col::Url => ("url", true),
        Col::IdentifierSystem => ("id_system", true),
        Col::IdentifierValue => ("id_value", true),
        Col::Uri => ("uri", false),
        Col::Id => ("id", false),
        Col::LastUpdatedMs => ("last_updated_ms", false),
    }
}

fn sql_value(value: &Value) -> SqlValue {
    match value {
        Value::Str(s) => SqlValue::Text(s.clone()),
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Float(f) => SqlValue::Real(*f),
    }
}

fn render_predicate(sql: &mut Sql, alias: &str, predicate: &Predicate, kind: ParamKind) {
    match predicate {
        Predicate::Cmp(cmp) => {
            let (name, _) = column(cmp.col);
            let name_full = format!("{alias}.{name}");
            match cmp.op {
                Op::StartsWith => {
                    let Value::Str(prefix) = &cmp.value else {
                        sql.push("0");
                        return;
                    };
                    // A range on the index instead of LIKE: index-friendly, and exact about
                    // case (values are already folded where folding applies).
                    sql.push("(");
                    sql.push(&name_full);
                    sql.push(" >= ");
                    sql.arg(SqlValue::Text(prefix.clone()));
                    sql.push(" AND ");
                    sql.push(&name_full);
                    sql.push(" < ");
                    sql.arg(SqlValue::Text(format!("{prefix}\u{10FFFF}")));
                    sql.push(")");
                }
                Op::Contains => {
                    sql.push("instr(");
                    sql.push(&name_full);
                    sql.push(", ");
                    sql.arg(sql_value(&cmp.value));
                    sql.push(") > 0");
                }
                op => {
                    sql.push(&name_full);
                    sql.push(match op {
                        Op::Eq => " = ",
                        Op::Ne => " <> ",
                        Op::Lt => " < ",
                        Op::Le => " <= ",
                        Op::Gt => " > ",
                        Op::Ge => " >= ",
                        Op::StartsWith | Op::Contains => " = ",
                    });
                    sql.arg(sql_value(&cmp.value));
                }
            }
        }
        Predicate::IsNull(col) => {
            let (name, _) = column(*col);
            let stored_as_empty = matches!(
                (kind, col),
                (ParamKind::Token, Col::System)
                    | (ParamKind::Quantity, Col::System | Col::Code | Col::Unit)
                    | (ParamKind::Reference, _)
            );
            if stored_as_empty {
                let _ = write!(sql.text, "{alias}.{name} = ''");
            } else {
                let _ = write!(sql.text, "{alias}.{name} IS NULL");
            }
        }
        Predicate::All(items) | Predicate::Any(items) => {
            let joiner = if matches!(predicate, Predicate::All(_)) {
                " AND "
            } else {
                " OR "
            };
            sql.push("(");
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    sql.push(joiner);
                }
                render_predicate(sql, alias, item, kind);
            }
            sql.push(")");
        }
    }
}

/// The parameter ids whose rows hold `param`'s values (several for union aliases such as
/// `combo-code`), and the target type those rows must have (reference aliases such as
/// `patient`). Unknown ids become -1: no rows, so nothing matches.
fn param_rows(
    conn: &Connection,
    resource_type: &str,
    param: &search::SearchParam,
) -> Result<(Vec<i64>, Option<String>), Error> {
    let (codes, target) = param.index_codes();
    let mut pids = Vec::with_capacity(codes.len());
    for code in codes {
        pids.push(lookup_param(conn, resource_type, code)?.unwrap_or(-1));
    }
    Ok((pids, target.map(str::to_string)))
}

/// Renders `alias.pid IN (…)` (or `=`) and the alias's target-type restriction.
fn render_param_rows(sql: &mut Sql, alias: &str, rows: &(Vec<i64>, Option<String>)) {
    let (pids, target) = rows;
    if let [pid] = pids.as_slice() {
        let _ = write!(sql.text, "{alias}.pid = ");
        sql.arg(SqlValue::Integer(*pid));
    } else {
        let _ = write!(sql.text, "{alias}.pid IN (");
        push_list(sql, pids.iter().map(|pid| SqlValue::Integer(*pid)));
        sql.push(")");
    }
    if let Some(target) = target {
        let _ = write!(sql.text, " AND {alias}.target_type = ");
        sql.arg(SqlValue::Text(target.clone()));
    }
}

/// How a clause is rendered. A search is driven by one selective clause, rendered as
/// `r.rkey IN (SELECT … FROM idx_… WHERE pid = ? AND value …)` so SQLite walks the value index;
/// every other clause is a correlated `EXISTS` probe of the matching resource's own rows
/// (clustered by rkey), instead of materialising every resource with, say, `status=final`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Drive,
    Check,
}

/// How well a filter narrows a search, for choosing the driving clause (0: cannot drive).
/// A heuristic on what the clause says, not on data: an id or a reference to one resource
/// names a handful of rows; an identifier nearly always does; codes and names narrow to a
/// share; ranges and negations narrow least or not at all.
fn selectivity(filter: &Filter) -> u8 {
    match filter {
        Filter::Id { .. } => 100,
        Filter::Param(clause) if clause.negate || clause.missing.is_some() => 0,
        Filter::Param(clause) => {
            if clause.chain.is_some() {
                return 60;
            }
            let names_one = |predicate: &Predicate| predicate_has_eq(predicate, Col::TargetId);
            match clause.param.kind {
                ParamKind::Reference if clause.any_of.iter().all(names_one) => 90,
                ParamKind::Reference => 35,
                ParamKind::Token if clause.param.code.contains("identifier") => 88,
                ParamKind::Token => 50,
                ParamKind::Uri => 45,
                ParamKind::String => 40,
                ParamKind::Date | ParamKind::Number | ParamKind::Quantity => 30,
            }
        }
        Filter::Has(_) => 20,
        Filter::LastUpdated { .. } => 0,
    }
}

fn predicate_has_eq(predicate: &Predicate, col: Col) -> bool {
    match predicate {
        Predicate::Cmp(cmp) => cmp.col == col && cmp.op == Op::Eq,
        Predicate::All(items) => items.iter().any(|p| predicate_has_eq(p, col)),
        Predicate::Any(items) => items.iter().all(|p| predicate_has_eq(p, col)),
        Predicate::IsNull(_) => false,
    }
}

/// Renders one filter as a condition on resource alias `r_alias` of type `resource_type`.
fn render_filter(
    conn: &Connection,
    sql: &mut Sql,
    r_alias: &str,
    resource_type: &str,
    filter: &Filter,
    depth: usize,
) -> Result<(), Error> {
    render_filter_as(
        conn,
        sql,
        r_alias,
        resource_type,
        filter,
        depth,
        Role::Drive,
    )
}

fn render_filter_as(
    conn: &Connection,
    sql: &mut Sql,
    r_alias: &str,
    resource_type: &str,
    filter: &Filter,
    depth: usize,
    role: Role,
) -> Result<(), Error> {
    match filter {
        Filter::Id { ids } => {
            let _ = write!(sql.text, "{r_alias}.id IN (");
            for (idx, id) in ids.iter().enumerate() {
                if idx > 0 {
                    sql.push(",");
                }
                sql.arg(SqlValue::Text(id.clone()));
            }
            sql.push(")");
        }
        Filter::LastUpdated { any_of } => {
            sql.push("(");
            for (idx, predicate) in any_of.iter().enumerate() {
                if idx > 0 {
                    sql.push(" OR ");
                }
                render_predicate(sql, r_alias, predicate, ParamKind::Date);
            }
            sql.push(")");
        }
        Filter::Param(clause) => {
            render_clause(conn, sql, r_alias, resource_type, clause, depth, role)?
        }
        Filter::Has(has) => {
            let rows = param_rows(conn, &has.resource_type, has.reference)?;
            let s = format!("s{depth}");
            let i = format!("h{depth}");
            let _ = write!(
                sql.text,
                "{r_alias}.id IN (SELECT {i}.target_id FROM idx_reference {i} JOIN resource {s} ON {s}.rkey = {i}.rkey WHERE "
            );
            render_param_rows(sql, &i, &rows);
            let _ = write!(sql.text, " AND {i}.target_type = ");
            sql.arg(SqlValue::Text(resource_type.to_string()));
            let _ = write!(sql.text, " AND {s}.deleted = 0 AND ");
            render_filter(conn, sql, &s, &has.resource_type, &has.filter, depth + 1)?;
            sql.push(")");
        }
    }
    Ok(())
}

fn render_clause(
    conn: &Connection,
    sql: &mut Sql,
    r_alias: &str,
    resource_type: &str,
    clause: &Clause,
    depth: usize,
    role: Role,
) -> Result<(), Error> {
    let table = table(clause.param.kind);
    let rows = param_rows(conn, resource_type, clause.param)?;
    let i = format!("i{depth}");
    let negated = clause.negate || clause.missing == Some(true);
    if role == Role::Drive && !negated {
        let _ = write!(
            sql.text,
            "{r_alias}.rkey IN (SELECT {i}.rkey FROM {table} {i} WHERE "
        );
    } else {
        let _ = write!(
            sql.text,
            "{}EXISTS (SELECT 1 FROM {table} {i} WHERE {i}.rkey = {r_alias}.rkey AND ",
            if negated { "NOT " } else { "" }
        );
    }
    render_param_rows(sql, &i, &rows);
    if clause.missing.is_none() {
        if !clause.any_of.is_empty() {
            sql.push(" AND (");
            for (idx, predicate) in clause.any_of.iter().enumerate() {
                if idx > 0 {
                    sql.push(" OR ");
                }
                render_predicate(sql, &i, predicate, clause.param.kind);
            }
            sql.push(")");
        }
        if let Some(chain) = &clause.chain {
            let t = format!("t{depth}");
            let _ = write!(sql.text, " AND {i}.target_type = ");
            sql.arg(SqlValue::Text(chain.resource_type.clone()));
            let _ = write!(
                sql.text,
                " AND {i}.target_id IN (SELECT {t}.id FROM resource {t} WHERE +{t}.resource_type = "
            );
            sql.arg(SqlValue::Text(chain.resource_type.clone()));
            let _ = write!(sql.text, " AND {t}.deleted = 0 AND ");
            render_filter(
                conn,
                sql,
                &t,
                &chain.resource_type,
                &chain.filter,
                depth + 1,
            )?;
            sql.push(")");
        }
    }
    sql.push(")");
    Ok(())
}

/// The WHERE clause (without the keyword) selecting current matches of `query`.
fn render_where(conn: &Connection, query: &SearchQuery) -> Result<Sql, Error> {
    let mut sql = Sql::new();
    let driver = query
        .filters
        .iter()
        .enumerate()
        .map(|(idx, filter)| (selectivity(filter), idx))
        .filter(|(score, _)| *score > 0)
        .max_by_key(|(score, idx)| (*score, std::cmp::Reverse(*idx)))
        .map(|(_, idx)| idx);
    // With a driving clause, `+` keeps SQLite from using the type index instead (without
    // statistics it would scan every resource of the type and probe the driver's list:
    // 180 ms instead of 1 ms for a patient's glucose results among a million resources).
    sql.push(if driver.is_some() {
        "+r.resource_type = "
    } else {
        "r.resource_type = "
    });
    sql.arg(SqlValue::Text(query.resource_type.clone()));
    sql.push(" AND r.deleted = 0");
    for (idx, filter) in query.filters.iter().enumerate() {
        sql.push(" AND ");
        let role = if Some(idx) == driver {
            Role::Drive
        } else {
            Role::Check
        };
        render_filter_as(conn, &mut sql, "r", &query.resource_type, filter, 0, role)?;
    }
    Ok(sql)
}

/// Ids of current matches, for conditional operations.
pub(crate) fn search_ids(
    conn: &Connection,
    query: &SearchQuery,
    limit: usize,
) -> Result<Vec<String>, Error> {
    let mut sql = render_where(conn, query)?;
    sql.text = format!(
        "SELECT r.id FROM resource r WHERE {} ORDER BY r.rkey LIMIT {limit}",
        sql.text
    );
    let mut stmt = conn.prepare(&sql.text).map_err(sql_error)?;
    let rows = stmt
        .query_map(params_from_iter(sql.args), |row| row.get::<_, String>(0))
        .map_err(sql_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
}

/// One sort key as an SQL expression with NULLs mapped to a sentinel that sorts last.
struct SortExpr {
    text: String,
    args: Vec<SqlValue>,
    descending: bool,
}

fn sort_exprs(conn: &Connection, query: &SearchQuery) -> Result<Vec<SortExpr>, Error> {
    let mut exprs = Vec::new();
    for key in &query.sort {
        let (text, args, numeric) = match &key.by {
            SortBy::Id => ("r.id".to_string(), Vec::new(), false),
            SortBy::LastUpdated => ("r.last_updated_ms".to_string(), Vec::new(), true),
            SortBy::Param(param) => {
                let rows = param_rows(conn, &query.resource_type, param)?;
                let agg = if key.descending { "max" } else { "min" };
                let (table, col, numeric) = match param.kind {
                    ParamKind::Date => (
                        "idx_date",
                        if key.descending { "high_ms" } else { "low_ms" },
                        true,
                    ),
                    ParamKind::String => ("idx_string", "normalized", false),
                    ParamKind::Token => ("idx_token", "code", false),
                    ParamKind::Number => (
                        "idx_number",
                        if key.descending { "high" } else { "low" },
                        true,
                    ),
                    ParamKind::Quantity => (
                        "idx_quantity",
                        if key.descending { "high" } else { "low" },
                        true,
                    ),
                    ParamKind::Reference => ("idx_reference", "target_id", false),
                    ParamKind::Uri => ("idx_uri", "uri", false),
                };
                let mut condition = Sql::new();
                render_param_rows(&mut condition, "x", &rows);
                (
                    format!(
                        "(SELECT {agg}(x.{col}) FROM {table} x WHERE x.rkey = r.rkey AND {})",
                        condition.text
                    ),
                    condition.args,
                    numeric,
                )
            }
        };
        // Resources without a value sort last in both directions.
        let sentinel = match (numeric, key.descending) {
            (true, false) => "1e300",
            (true, true) => "-1e300",
            (false, false) => "char(1114111)",
            (false, true) => "''",
        };
        exprs.push(SortExpr {
            text: format!("coalesce({text}, {sentinel})"),
            args,
            descending: key.descending,
        });
    }
    Ok(exprs)
}

/// Position of a row in the sort order: its sort values and rkey.
fn encode_position(values: &[SqlValue], rkey: i64) -> String {
    let mut items: Vec<Json> = values
        .iter()
        .map(|value| match value {
            SqlValue::Integer(i) => Json::object([("i", Json::str(i.to_string()))]),
            SqlValue::Real(f) => Json::object([("f", Json::str(format!("{f:e}")))]),
            SqlValue::Text(s) => Json::object([("s", Json::str(s.clone()))]),
            _ => Json::Null,
        })
        .collect();
    items.push(Json::int(rkey));
    Json::Array(items).to_json_string()
}

fn decode_cursor(cursor: &str, n_keys: usize) -> Result<(char, Vec<SqlValue>, i64), Error> {
    let bad = || Error::Invalid(format!("invalid paging cursor '{cursor}'"));
    let mut chars = cursor.chars();
    let direction = chars.next().ok_or_else(bad)?;
    if direction != 'n' && direction != 'p' {
        return Err(bad());
    }
    let parsed = fhir::json::parse_str(chars.as_str()).map_err(|_| bad())?;
    let items = parsed.as_array().ok_or_else(bad)?;
    if items.len() != n_keys + 1 {
        return Err(bad());
    }
    let mut values = Vec::with_capacity(n_keys);
    for item in &items[..n_keys] {
        let object = item.as_object().ok_or_else(bad)?;
        let (tag, text) = object.iter().next().ok_or_else(bad)?;
        let text = text.as_str().ok_or_else(bad)?;
        values.push(match tag {
            "i" => SqlValue::Integer(text.parse().map_err(|_| bad())?),
            "f" => SqlValue::Real(text.parse().map_err(|_| bad())?),
            "s" => SqlValue::Text(text.to_string()),
            _ => return Err(bad()),
        });
    }
    let rkey = items[n_keys]
        .as_number_text()
        .and_then(|t| t.parse().ok())
        .ok_or_else(bad)?;
    Ok((direction, values, rkey))
}

pub(crate) fn search(conn: &Connection, query: &SearchQuery) -> Result<SearchPage, Error> {
    let where_sql = render_where(conn, query)?;
    let want_total =
        !matches!(query.total, Some(Total::None)) || query.summary == Some(Summary::Count);
    let count = || -> Result<u64, Error> {
        let sql = format!("SELECT count(*) FROM resource r WHERE {}", where_sql.text);
        let count: i64 = conn
            .prepare(&sql)
            .and_then(|mut stmt| {
                stmt.query_row(params_from_iter(where_sql.args.clone()), |row| row.get(0))
            })
            .map_err(sql_error)?;
        Ok(count.max(0) as u64)
    };
    if query.summary == Some(Summary::Count) {
        return Ok(SearchPage {
            total: Some(count()?),
            ..SearchPage::default()
        });
    }
    let page_size = query
        .count
        .map_or(PAGE_SIZE_DEFAULT, |c| c as usize)
        .min(PAGE_SIZE_MAX);
    let sorts = sort_exprs(conn, query)?;
    let cursor = match &query.cursor {
        Some(cursor) => Some(decode_cursor(cursor, sorts.len())?),
        None => None,
    };
    let backward = matches!(cursor, Some(('p', _, _)));

    // SELECT <cols>, <sort values…>, r.rkey FROM resource r WHERE … [AND keyset] ORDER BY …
    let mut sql = Sql::new();
    let _ = write!(sql.text, "SELECT {RESOURCE_COLUMNS}");
    for expr in &sorts {
        let _ = write!(sql.text, ", {}", expr.text);
        sql.args.extend(expr.args.iter().cloned());
    }
    sql.push(", r.rkey FROM resource r WHERE ");
    sql.text.push_str(&where_sql.text);
    sql.args.extend(where_sql.args.iter().cloned());
    if let Some((_, values, rkey)) = &cursor {
        // Lexicographic "after" (or "before" going backward) over (sort values…, rkey).
        sql.push(" AND (");
        let n = sorts.len();
        for level in 0..=n {
            if level > 0 {
                sql.push(" OR ");
            }
            sql.push("(");
            for (idx, expr) in sorts.iter().take(level).enumerate() {
                let _ = write!(sql.text, "{} = ", expr.text);
                sql.args.extend(expr.args.iter().cloned());
                sql.arg(values[idx].clone());
                sql.push(" AND ");
            }
            if level < n {
                let expr = &sorts[level];
                let after = expr.descending == backward;
                let _ = write!(sql.text, "{} {} ", expr.text, if after { ">" } else { "<" });
                sql.args.extend(expr.args.iter().cloned());
                sql.arg(values[level].clone());
            } else {
                let _ = write!(sql.text, "r.rkey {} ", if backward { "<" } else { ">" });
                sql.arg(SqlValue::Integer(*rkey));
            }
            sql.push(")");
        }
        sql.push(")");
    }
    sql.push(" ORDER BY ");
    for (idx, expr) in sorts.iter().enumerate() {
        let descending = expr.descending != backward;
        let _ = write!(
            sql.text,
            "{} {}, ",
            idx + 9,
            if descending { "DESC" } else { "ASC" }
        );
    }
    let _ = write!(
        sql.text,
        "r.rkey {} LIMIT {}",
        if backward { "DESC" } else { "ASC" },
        page_size + 1
    );
    let mut stmt = conn.prepare(&sql.text).map_err(sql_error)?;
    let n_sorts = sorts.len();
    let rows = stmt
        .query_map(params_from_iter(sql.args), |row| {
            let stored = stored_from_row(row)?;
            let mut values = Vec::with_capacity(n_sorts);
            for idx in 0..n_sorts {
                values.push(row.get::<_, SqlValue>(8 + idx)?);
            }
            let rkey: i64 = row.get(8 + n_sorts)?;
            Ok((stored, values, rkey))
        })
        .map_err(sql_error)?;
    let mut page: Vec<(StoredResource, Vec<SqlValue>, i64)> =
        rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)?;
    let has_more = page.len() > page_size;
    page.truncate(page_size);
    // A first page that holds every match is its own count: most searches (an identifier, a
    // patient's few conditions) need no second scan for `Bundle.total`.
    let total = match (want_total, &cursor) {
        (false, _) => None,
        (true, None) if !has_more => Some(page.len() as u64),
        (true, _) => Some(count()?),
    };
    if backward {
        page.reverse();
    }
    let positions = page
        .iter()
        .map(|(_, values, rkey)| encode_position(values, *rkey))
        .collect();
    let matches: Vec<StoredResource> = page.into_iter().map(|(stored, _, _)| stored).collect();
    Ok(SearchPage {
        matches,
        positions,
        total,
        more: has_more,
    })
}

/// What `query`'s `_include`/`_revinclude` directives reach from `sources`, without
/// duplicates and without the sources themselves (see [`store::Store::includes`]).
pub(crate) fn includes(
    conn: &Connection,
    query: &SearchQuery,
    sources: &[StoredResource],
    level: IncludeLevel,
) -> Result<Vec<StoredResource>, Error> {
    if sources.is_empty() || (query.include.is_empty() && query.revinclude.is_empty()) {
        return Ok(Vec::new());
    }
    let mut seen: HashSet<(String, String)> = sources
        .iter()
        .map(|m| (m.resource_type.clone(), m.id.clone()))
        .collect();
    let mut keyed = Vec::with_capacity(sources.len());
    for source in sources {
        let rkey: Option<i64> = conn
            .prepare_cached("SELECT rkey FROM resource WHERE resource_type = ?1 AND id = ?2")
            .and_then(|mut stmt| {
                stmt.query_row((&source.resource_type, &source.id), |row| row.get(0))
                    .optional()
            })
            .map_err(sql_error)?;
        if let Some(rkey) = rkey {
            keyed.push((source.clone(), rkey));
        }
    }
    let iterating = level == IncludeLevel::Iterate;
    let found = apply_includes(conn, query, &keyed, iterating, &mut seen)?;
    Ok(found.into_iter().map(|(stored, _)| stored).collect())
}

fn apply_includes(
    conn: &Connection,
    query: &SearchQuery,
    sources: &[(StoredResource, i64)],
    iterating: bool,
    seen: &mut HashSet<(String, String)>,
) -> Result<Vec<(StoredResource, i64)>, Error> {
    let mut found = Vec::new();
    let select =
        format!("SELECT {RESOURCE_COLUMNS}, r.rkey FROM resource r WHERE r.deleted = 0 AND ");
    let run = |sql: &Sql,
               found: &mut Vec<(StoredResource, i64)>,
               seen: &mut HashSet<(String, String)>|
     -> Result<(), Error> {
        let mut stmt = conn.prepare(&sql.text).map_err(sql_error)?;
        let rows = stmt
            .query_map(params_from_iter(sql.args.iter()), |row| {
                Ok((stored_from_row(row)?, row.get::<_, i64>(8)?))
            })
            .map_err(sql_error)?;
        for row in rows {
            let (stored, rkey) = row.map_err(sql_error)?;
            if found.len() >= INCLUDED_MAX {
                break;
            }
            if seen.insert((stored.resource_type.clone(), stored.id.clone())) {
                found.push((stored, rkey));
            }
        }
        Ok(())
    };
    for include in query.include.iter().filter(|i| i.iterate || !iterating) {
        let source_rkeys: Vec<i64> = sources
            .iter()
            .filter(|(s, _)| s.resource_type == include.source_type)
            .map(|(_, rkey)| *rkey)
            .collect();
        if source_rkeys.is_empty() {
            continue;
        }
        let mut sql = Sql::new();
        sql.push(&select);
        sql.push("(r.resource_type, r.id) IN (SELECT i.target_type, i.target_id FROM idx_reference i WHERE i.rkey IN (");
        push_list(&mut sql, source_rkeys.iter().map(|k| SqlValue::Integer(*k)));
        sql.push(")");
        include_param_condition(conn, &mut sql, include)?;
        sql.push(")");
        run(&sql, &mut found, seen)?;
    }
    for include in query.revinclude.iter().filter(|i| i.iterate || !iterating) {
        let Some(param) = include.param else { continue };
        let rows = param_rows(conn, &include.source_type, param)?;
        for target_type in distinct_types(sources) {
            if include
                .target_type
                .as_deref()
                .is_some_and(|t| t != target_type)
            {
                continue;
            }
            let ids: Vec<SqlValue> = sources
                .iter()
                .filter(|(s, _)| s.resource_type == target_type)
                .map(|(s, _)| SqlValue::Text(s.id.clone()))
                .collect();
            let mut sql = Sql::new();
            sql.push(&select);
            sql.push("r.resource_type = ");
            sql.arg(SqlValue::Text(include.source_type.clone()));
            sql.push(" AND r.rkey IN (SELECT i.rkey FROM idx_reference i WHERE ");
            render_param_rows(&mut sql, "i", &rows);
            sql.push(" AND i.target_type = ");
            sql.arg(SqlValue::Text(target_type.clone()));
            sql.push(" AND i.target_id IN (");
            push_list(&mut sql, ids.into_iter());
            sql.push("))");
            run(&sql, &mut found, seen)?;
        }
    }
    Ok(found)
}

fn include_param_condition(
    conn: &Connection,
    sql: &mut Sql,
    include: &Include,
) -> Result<(), Error> {
    if let Some(param) = include.param {
        let rows = param_rows(conn, &include.source_type, param)?;
        sql.push(" AND ");
        render_param_rows(sql, "i", &rows);
    }
    if let Some(target_type) = &include.target_type {
        sql.push(" AND i.target_type = ");
        sql.arg(SqlValue::Text(target_type.clone()));
    }
    Ok(())
}

fn distinct_types(sources: &[(StoredResource, i64)]) -> Vec<String> {
    let mut types: Vec<String> = sources
        .iter()
        .map(|(s, _)| s.resource_type.clone())
        .collect();
    types.sort();
    types.dedup();
    types
}

fn push_list(sql: &mut Sql, values: impl Iterator<Item = SqlValue>) {
    for (idx, value) in values.enumerate() {
        if idx > 0 {
            sql.push(",");
        }
        sql.arg(value);
    }
}
