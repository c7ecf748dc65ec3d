//! FHIR search rendered as PostgreSQL SQL: the same rendering as `store-sqlite`'s (one
//! driving clause as `r.rkey IN (SELECT rkey FROM idx_… WHERE pid = $n AND …)`, the others as
//! `EXISTS` probes; keyset paging on the sort values plus `rkey`), so both engines answer the
//! same `SearchQuery` with the same matches in the same order. Text columns are `COLLATE "C"`
//! (byte order, like SQLite), sort values are `float8` or text so positions decode the same.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use fhir::Json;

use postgres::GenericClient;
use search::{
    Clause, Col, Filter, Include, Op, ParamKind, Predicate, SearchQuery, SortBy, Summary, Total,
    Value,
};
use store::{Error, IncludeLevel, SearchPage, StoredResource};

use crate::read::{RESOURCE_COLUMNS, run, stored_from_row};
use crate::sql::{Arg as SqlValue, Sql};

/// The connection a search runs on, and the store that knows the parameter ids.
pub(crate) struct Ctx<'a, C: GenericClient> {
    pub conn: &'a mut C,
    pub params: &'a crate::PgStore,
    /// On Citus: a search naming one patient (`patient=`, `subject=Patient/…`) is confined to
    /// that patient's shard, so it goes to one worker (see [`route_key`]).
    pub routed: bool,
    /// The patient keys this search is confined to (set by `render_where` when `routed`):
    /// the one patient it names, or the keys the identifier locator holds for the identifier
    /// it requires (none: nothing can match). Every index subquery about the searched
    /// resources repeats it: Citus's router planner prunes each table by its own conditions,
    /// not through the `IN`/`EXISTS` join.
    pub route: Option<Vec<String>>,
    /// The connection's prepared statements, when the caller holds them (see `pool::Stmts`).
    pub stmts: Option<&'a mut crate::pool::Stmts>,
}

impl<C: GenericClient> Ctx<'_, C> {
    /// Runs a generated statement: prepared once per connection when the statements are at
    /// hand, else parsed afresh.
    fn rows(&mut self, sql: &Sql) -> Result<Vec<postgres::Row>, Error> {
        match self.stmts.as_deref_mut() {
            Some(stmts) => {
                let stmt = crate::pool::prepared(self.conn, stmts, &sql.text)?;
                self.conn
                    .query(&stmt, &sql.params())
                    .map_err(crate::sql_error)
            }
            None => run(self.conn, sql),
        }
    }

    /// The parameter's id, interned if no resource carried it yet: a search for a parameter
    /// no row has then costs no lookup the next time (the set is bounded: the search crate
    /// refuses parameters it does not know before a query gets here).
    fn pid(&mut self, resource_type: &str, code: &str) -> Result<Option<i64>, Error> {
        self.params.intern_param(resource_type, code).map(Some)
    }
}

use store::{INCLUDED_MAX, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};

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
        Value::Int(i) => SqlValue::Int(*i),
        Value::Float(f) => SqlValue::Float(*f),
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
                        sql.push("false");
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
                    sql.push("strpos(");
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
fn param_rows<C: GenericClient>(
    p: &mut Ctx<'_, C>,
    resource_type: &str,
    param: &search::SearchParam,
) -> Result<(Vec<i64>, Option<String>), Error> {
    let (codes, target) = param.index_codes();
    let mut pids = Vec::with_capacity(codes.len());
    for code in codes {
        pids.push(p.pid(resource_type, code)?.unwrap_or(-1));
    }
    Ok((pids, target.map(str::to_string)))
}

/// Renders `alias.pid IN (…)` (or `=`) and the alias's target-type restriction.
fn render_param_rows(sql: &mut Sql, alias: &str, rows: &(Vec<i64>, Option<String>)) {
    let (pids, target) = rows;
    if let [pid] = pids.as_slice() {
        let _ = write!(sql.text, "{alias}.pid = ");
        sql.arg(SqlValue::Int(*pid));
    } else {
        let _ = write!(sql.text, "{alias}.pid IN (");
        push_list(sql, pids.iter().map(|pid| SqlValue::Int(*pid)));
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
fn render_filter<C: GenericClient>(
    p: &mut Ctx<'_, C>,
    sql: &mut Sql,
    r_alias: &str,
    resource_type: &str,
    filter: &Filter,
    depth: usize,
) -> Result<(), Error> {
    render_filter_as(p, sql, r_alias, resource_type, filter, depth, Role::Drive)
}

fn render_filter_as<C: GenericClient>(
    p: &mut Ctx<'_, C>,
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
            render_clause(p, sql, r_alias, resource_type, clause, depth, role)?
        }
        Filter::Has(has) => {
            let rows = param_rows(p, &has.resource_type, has.reference)?;
            let s = format!("s{depth}");
            let i = format!("h{depth}");
            let _ = write!(
                sql.text,
                "{r_alias}.id IN (SELECT {i}.target_id FROM idx_reference {i} JOIN resource {s} ON {s}.patient_key = {i}.patient_key AND {s}.rkey = {i}.rkey WHERE "
            );
            render_param_rows(sql, &i, &rows);
            let _ = write!(sql.text, " AND {i}.target_type = ");
            sql.arg(SqlValue::Text(resource_type.to_string()));
            let _ = write!(sql.text, " AND NOT {s}.deleted AND ");
            render_filter(p, sql, &s, &has.resource_type, &has.filter, depth + 1)?;
            sql.push(")");
        }
    }
    Ok(())
}

fn render_clause<C: GenericClient>(
    p: &mut Ctx<'_, C>,
    sql: &mut Sql,
    r_alias: &str,
    resource_type: &str,
    clause: &Clause,
    depth: usize,
    role: Role,
) -> Result<(), Error> {
    let table = table(clause.param.kind);
    let rows = param_rows(p, resource_type, clause.param)?;
    let i = format!("i{depth}");
    let negated = clause.negate || clause.missing == Some(true);
    if role == Role::Drive && !negated {
        let _ = write!(
            sql.text,
            "({r_alias}.patient_key, {r_alias}.rkey) IN (SELECT {i}.patient_key, {i}.rkey FROM {table} {i} WHERE "
        );
    } else {
        let _ = write!(
            sql.text,
            "{}EXISTS (SELECT 1 FROM {table} {i} WHERE {i}.patient_key = {r_alias}.patient_key AND {i}.rkey = {r_alias}.rkey AND ",
            if negated { "NOT " } else { "" }
        );
    }
    if r_alias == "r"
        && let Some(keys) = &p.route
    {
        push_route(sql, &i, keys);
        sql.push(" AND ");
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
                " AND {i}.target_id IN (SELECT {t}.id FROM resource {t} WHERE {t}.resource_type = "
            );
            sql.arg(SqlValue::Text(chain.resource_type.clone()));
            let _ = write!(sql.text, " AND NOT {t}.deleted AND ");
            render_filter(p, sql, &t, &chain.resource_type, &chain.filter, depth + 1)?;
            sql.push(")");
        }
    }
    sql.push(")");
    Ok(())
}

/// The patient a search is about, when one of its filters names exactly one patient through
/// the `patient` or `subject` compartment parameter of the searched type
/// (`Observation?patient=p1`, `Encounter?subject=Patient/p1`): its matches are on that
/// patient's shard, where their distribution key is that patient (see `tx::patient_key`).
fn route_key(query: &SearchQuery) -> Option<String> {
    let codes = crate::read::compartment_codes();
    query.filters.iter().find_map(|filter| {
        let Filter::Param(clause) = filter else {
            return None;
        };
        if clause.param.kind != ParamKind::Reference
            || clause.negate
            || clause.missing.is_some()
            || clause.chain.is_some()
            || clause.any_of.len() != 1
        {
            return None;
        }
        // Only the parameters a resource's key is taken from first (see `tx::patient_key`):
        // `performer=Patient/…` names a patient who may not own the resource.
        let in_compartment = clause.param.index_codes().0.iter().any(|code| {
            matches!(*code, "patient" | "subject")
                && codes
                    .binary_search(&(query.resource_type.clone(), code.to_string()))
                    .is_ok()
        });
        if !in_compartment {
            return None;
        }
        let only_patients =
            clause.param.targets.iter().all(|t| t == "Patient") && !clause.param.targets.is_empty();
        let eq = |predicate: &Predicate, col: Col| match predicate {
            Predicate::Cmp(cmp) if cmp.col == col && cmp.op == Op::Eq => match &cmp.value {
                Value::Str(text) => Some(text.clone()),
                _ => None,
            },
            _ => None,
        };
        match &clause.any_of[0] {
            Predicate::All(items) if items.len() == 2 => {
                let target_type = items.iter().find_map(|p| eq(p, Col::TargetType))?;
                let id = items.iter().find_map(|p| eq(p, Col::TargetId))?;
                (target_type == "Patient").then_some(id)
            }
            single if only_patients => eq(single, Col::TargetId),
            _ => None,
        }
    })
}

/// `alias.patient_key` confined to `keys`: `=` for one (a router query), `IN` for several
/// (only their shards), `false` for none (the locator knows no resource with the value).
fn push_route(sql: &mut Sql, alias: &str, keys: &[String]) {
    match keys {
        [] => sql.push("false"),
        [key] => {
            let _ = write!(sql.text, "{alias}.patient_key = ");
            sql.arg(SqlValue::Text(key.clone()));
        }
        keys => {
            let _ = write!(sql.text, "{alias}.patient_key IN (");
            push_list(sql, keys.iter().map(|key| SqlValue::Text(key.clone())));
            sql.push(")");
        }
    }
}

/// The WHERE clause (without the keyword) selecting current matches of `query`.
fn render_where<C: GenericClient>(p: &mut Ctx<'_, C>, query: &SearchQuery) -> Result<Sql, Error> {
    let mut sql = Sql::new();
    let driver = query
        .filters
        .iter()
        .enumerate()
        .map(|(idx, filter)| (selectivity(filter), idx))
        .filter(|(score, _)| *score > 0)
        .max_by_key(|(score, idx)| (*score, std::cmp::Reverse(*idx)))
        .map(|(_, idx)| idx);
    sql.push("r.resource_type = ");
    sql.arg(SqlValue::Text(query.resource_type.clone()));
    sql.push(" AND NOT r.deleted");
    p.route = if !p.routed {
        None
    } else if let Some(key) = route_key(query) {
        Some(vec![key])
    } else if let Some(values) = crate::locator::required_values(query) {
        Some(crate::locator::patient_keys(
            p.conn,
            &query.resource_type,
            &values,
        )?)
    } else {
        None
    };
    if let Some(keys) = &p.route {
        sql.push(" AND ");
        push_route(&mut sql, "r", keys);
    }
    for (idx, filter) in query.filters.iter().enumerate() {
        sql.push(" AND ");
        let role = if Some(idx) == driver {
            Role::Drive
        } else {
            Role::Check
        };
        render_filter_as(p, &mut sql, "r", &query.resource_type, filter, 0, role)?;
    }
    Ok(sql)
}

/// Ids of current matches, for conditional operations.
pub(crate) fn search_ids<C: GenericClient>(
    conn: &mut C,
    stmts: Option<&mut crate::pool::Stmts>,
    params: &crate::PgStore,
    query: &SearchQuery,
    limit: usize,
) -> Result<Vec<String>, Error> {
    let mut p = Ctx {
        conn,
        params,
        routed: params.citus,
        route: None,
        stmts,
    };
    let mut sql = render_where(&mut p, query)?;
    sql.text = format!(
        "SELECT r.id FROM resource r WHERE {} ORDER BY r.rkey LIMIT {limit}",
        sql.text
    );
    Ok(p.rows(&sql)?.iter().map(|row| row.get(0)).collect())
}

/// One sort key as an SQL expression with NULLs mapped to a sentinel that sorts last.
struct SortExpr {
    sql: Sql,
    numeric: bool,
    descending: bool,
}

fn sort_exprs<C: GenericClient>(
    p: &mut Ctx<'_, C>,
    query: &SearchQuery,
) -> Result<Vec<SortExpr>, Error> {
    let mut exprs = Vec::new();
    for key in &query.sort {
        let (inner, numeric) = match &key.by {
            SortBy::Id => {
                let mut sql = Sql::new();
                sql.push("r.id");
                (sql, false)
            }
            SortBy::LastUpdated => {
                let mut sql = Sql::new();
                sql.push("r.last_updated_ms::float8");
                (sql, true)
            }
            SortBy::Param(param) => {
                let rows = param_rows(p, &query.resource_type, param)?;
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
                let mut sql = Sql::new();
                let cast = if numeric { "::float8" } else { "" };
                let _ = write!(
                    sql.text,
                    "(SELECT {agg}(x.{col}){cast} FROM {table} x WHERE x.patient_key = r.patient_key AND x.rkey = r.rkey AND "
                );
                if let Some(keys) = &p.route {
                    push_route(&mut sql, "x", keys);
                    sql.push(" AND ");
                }
                render_param_rows(&mut sql, "x", &rows);
                sql.push(")");
                (sql, numeric)
            }
        };
        // Resources without a value sort last in both directions.
        let sentinel = match (numeric, key.descending) {
            (true, false) => "1e300::float8",
            (true, true) => "-1e300::float8",
            (false, false) => "chr(1114111) COLLATE \"C\"",
            (false, true) => "'' COLLATE \"C\"",
        };
        let mut sql = Sql::new();
        sql.push("coalesce(");
        sql.append(&inner);
        let _ = write!(sql.text, ", {sentinel})");
        exprs.push(SortExpr {
            sql,
            numeric,
            descending: key.descending,
        });
    }
    Ok(exprs)
}

/// Position of a row in the sort order: its sort values and rkey (the same text as
/// `store-sqlite` writes, so a position reads the same on both engines).
fn encode_position(values: &[SqlValue], rkey: i64) -> String {
    let mut items: Vec<Json> = values
        .iter()
        .map(|value| match value {
            SqlValue::Int(i) => Json::object([("i", Json::str(i.to_string()))]),
            SqlValue::Float(f) => Json::object([("f", Json::str(format!("{f:e}")))]),
            SqlValue::Text(s) => Json::object([("s", Json::str(s.clone()))]),
        })
        .collect();
    items.push(Json::int(rkey));
    Json::Array(items).to_json_string()
}

fn decode_cursor(cursor: &str, sorts: &[SortExpr]) -> Result<(char, Vec<SqlValue>, i64), Error> {
    let n_keys = sorts.len();
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
    for (item, sort) in items[..n_keys].iter().zip(sorts) {
        let object = item.as_object().ok_or_else(bad)?;
        let (tag, text) = object.iter().next().ok_or_else(bad)?;
        let text = text.as_str().ok_or_else(bad)?;
        // Compared with a float8 or a text expression: the value must have that type.
        values.push(match (tag, sort.numeric) {
            ("i", true) => SqlValue::Float(text.parse::<i64>().map_err(|_| bad())? as f64),
            ("f", true) => SqlValue::Float(text.parse().map_err(|_| bad())?),
            ("s", false) => SqlValue::Text(text.to_string()),
            _ => return Err(bad()),
        });
    }
    let rkey = items[n_keys]
        .as_number_text()
        .and_then(|t| t.parse().ok())
        .ok_or_else(bad)?;
    Ok((direction, values, rkey))
}

pub(crate) fn search<C: GenericClient>(
    conn: &mut C,
    stmts: Option<&mut crate::pool::Stmts>,
    params: &crate::PgStore,
    query: &SearchQuery,
) -> Result<SearchPage, Error> {
    let mut p = Ctx {
        conn,
        params,
        routed: params.citus,
        route: None,
        stmts,
    };
    let where_sql = render_where(&mut p, query)?;
    let want_total =
        !matches!(query.total, Some(Total::None)) || query.summary == Some(Summary::Count);
    let count = |p: &mut Ctx<'_, C>| -> Result<u64, Error> {
        let mut sql = Sql::new();
        sql.push("SELECT count(*) FROM resource r WHERE ");
        sql.append(&where_sql);
        let count: i64 = p.rows(&sql)?.first().map(|row| row.get(0)).unwrap_or(0);
        Ok(count.max(0) as u64)
    };
    if query.summary == Some(Summary::Count) {
        return Ok(SearchPage {
            total: Some(count(&mut p)?),
            ..SearchPage::default()
        });
    }
    let page_size = query
        .count
        .map_or(PAGE_SIZE_DEFAULT, |c| c as usize)
        .min(PAGE_SIZE_MAX);
    let sorts = sort_exprs(&mut p, query)?;
    let cursor = match &query.cursor {
        Some(cursor) => Some(decode_cursor(cursor, &sorts)?),
        None => None,
    };
    let backward = matches!(cursor, Some(('p', _, _)));

    // SELECT <cols>, <sort values…>, r.rkey FROM resource r WHERE … [AND keyset] ORDER BY …
    let mut sql = Sql::new();
    let _ = write!(sql.text, "SELECT {RESOURCE_COLUMNS}");
    for expr in &sorts {
        sql.push(", ");
        sql.append(&expr.sql);
    }
    sql.push(", r.rkey FROM resource r WHERE ");
    sql.append(&where_sql);
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
                sql.append(&expr.sql);
                sql.push(" = ");
                sql.arg(values[idx].clone());
                sql.push(" AND ");
            }
            if level < n {
                let expr = &sorts[level];
                let after = expr.descending == backward;
                sql.append(&expr.sql);
                sql.push(if after { " > " } else { " < " });
                sql.arg(values[level].clone());
            } else {
                sql.push(if backward { "r.rkey < " } else { "r.rkey > " });
                sql.arg(SqlValue::Int(*rkey));
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
    let rows = p.rows(&sql)?;
    let n_sorts = sorts.len();
    let mut page: Vec<(StoredResource, Vec<SqlValue>, i64)> = rows
        .iter()
        .map(|row| {
            let stored = stored_from_row(row);
            let values = sorts
                .iter()
                .enumerate()
                .map(|(idx, sort)| {
                    if sort.numeric {
                        SqlValue::Float(row.get::<_, f64>(8 + idx))
                    } else {
                        SqlValue::Text(row.get::<_, String>(8 + idx))
                    }
                })
                .collect();
            (stored, values, row.get::<_, i64>(8 + n_sorts))
        })
        .collect();
    let has_more = page.len() > page_size;
    page.truncate(page_size);
    // A first page that holds every match is its own count: most searches (an identifier, a
    // patient's few conditions) need no second scan for `Bundle.total`.
    let total = match (want_total, &cursor) {
        (false, _) => None,
        (true, None) if !has_more => Some(page.len() as u64),
        (true, _) => Some(count(&mut p)?),
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
pub(crate) fn includes<C: GenericClient>(
    conn: &mut C,
    stmts: Option<&mut crate::pool::Stmts>,
    params: &crate::PgStore,
    query: &SearchQuery,
    sources: &[StoredResource],
    level: IncludeLevel,
) -> Result<Vec<StoredResource>, Error> {
    if sources.is_empty() || (query.include.is_empty() && query.revinclude.is_empty()) {
        return Ok(Vec::new());
    }
    let mut p = Ctx {
        conn,
        params,
        routed: params.citus,
        route: None,
        stmts,
    };
    let mut seen: HashSet<(String, String)> = sources
        .iter()
        .map(|m| (m.resource_type.clone(), m.id.clone()))
        .collect();
    // The sources' internal keys, in one query.
    let types: Vec<&str> = sources.iter().map(|s| s.resource_type.as_str()).collect();
    let source_ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
    let rows = p
        .conn
        .query(
            "SELECT l.resource_type, l.id, l.rkey FROM resource_locator l \
             JOIN unnest($1::text[], $2::text[]) AS s(t, i) ON l.resource_type = s.t AND l.id = s.i",
            &[&types, &source_ids],
        )
        .map_err(crate::sql_error)?;
    let rkeys: HashMap<(String, String), i64> = rows
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect();
    let keyed: Vec<(StoredResource, i64)> = sources
        .iter()
        .filter_map(|source| {
            rkeys
                .get(&(source.resource_type.clone(), source.id.clone()))
                .map(|rkey| (source.clone(), *rkey))
        })
        .collect();
    let iterating = level == IncludeLevel::Iterate;
    let found = apply_includes(&mut p, query, &keyed, iterating, &mut seen)?;
    Ok(found.into_iter().map(|(stored, _)| stored).collect())
}

/// Runs an include query, keeping what was not seen yet (up to [`INCLUDED_MAX`]).
fn collect_new<C: GenericClient>(
    p: &mut Ctx<'_, C>,
    sql: &Sql,
    found: &mut Vec<(StoredResource, i64)>,
    seen: &mut HashSet<(String, String)>,
) -> Result<(), Error> {
    for row in p.rows(sql)? {
        if found.len() >= INCLUDED_MAX {
            break;
        }
        let stored = stored_from_row(&row);
        if seen.insert((stored.resource_type.clone(), stored.id.clone())) {
            found.push((stored, row.get::<_, i64>(8)));
        }
    }
    Ok(())
}

fn apply_includes<C: GenericClient>(
    p: &mut Ctx<'_, C>,
    query: &SearchQuery,
    sources: &[(StoredResource, i64)],
    iterating: bool,
    seen: &mut HashSet<(String, String)>,
) -> Result<Vec<(StoredResource, i64)>, Error> {
    let mut found = Vec::new();
    let select =
        format!("SELECT {RESOURCE_COLUMNS}, r.rkey FROM resource r WHERE NOT r.deleted AND ");
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
        push_list(&mut sql, source_rkeys.iter().map(|k| SqlValue::Int(*k)));
        sql.push(")");
        include_param_condition(p, &mut sql, include)?;
        sql.push(")");
        collect_new(p, &sql, &mut found, seen)?;
    }
    for include in query.revinclude.iter().filter(|i| i.iterate || !iterating) {
        let Some(param) = include.param else { continue };
        let rows = param_rows(p, &include.source_type, param)?;
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
            sql.push(" AND (r.patient_key, r.rkey) IN (SELECT i.patient_key, i.rkey FROM idx_reference i WHERE ");
            render_param_rows(&mut sql, "i", &rows);
            sql.push(" AND i.target_type = ");
            sql.arg(SqlValue::Text(target_type.clone()));
            sql.push(" AND i.target_id IN (");
            push_list(&mut sql, ids.into_iter());
            sql.push("))");
            collect_new(p, &sql, &mut found, seen)?;
        }
    }
    Ok(found)
}

fn include_param_condition<C: GenericClient>(
    p: &mut Ctx<'_, C>,
    sql: &mut Sql,
    include: &Include,
) -> Result<(), Error> {
    if let Some(param) = include.param {
        let rows = param_rows(p, &include.source_type, param)?;
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
