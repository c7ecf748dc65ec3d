//! Reads that do not involve search: by id, by version, history, compartment, counts.

use rusqlite::{Connection, OptionalExtension, Row, params_from_iter, types::Value};
use store::{Error, HistoryRequest, HistoryScope, StoredResource};

use crate::sql_error;

/// Columns selected for a stored resource, in the order [`stored_from_row`] reads them.
pub(crate) const RESOURCE_COLUMNS: &str = "r.resource_type, r.id, r.version_id, r.last_updated, r.last_updated_ms, r.deleted, r.change_seq, r.body";

pub(crate) fn stored_from_row(row: &Row<'_>) -> rusqlite::Result<StoredResource> {
    Ok(StoredResource {
        resource_type: row.get(0)?,
        id: row.get(1)?,
        version_id: row.get::<_, i64>(2)? as u64,
        last_updated: row.get(3)?,
        last_updated_ms: row.get(4)?,
        deleted: row.get::<_, i64>(5)? != 0,
        change_seq: row.get(6)?,
        body: row.get::<_, Option<String>>(7)?.unwrap_or_default(),
    })
}

pub(crate) fn current(
    conn: &Connection,
    resource_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, Error> {
    let sql = format!(
        "SELECT {RESOURCE_COLUMNS} FROM resource r WHERE r.resource_type = ?1 AND r.id = ?2"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row((resource_type, id), stored_from_row)
                .optional()
        })
        .map_err(sql_error)
}

pub(crate) fn version(
    conn: &Connection,
    resource_type: &str,
    id: &str,
    version_id: u64,
) -> Result<Option<StoredResource>, Error> {
    if let Some(current) = current(conn, resource_type, id)? {
        if current.version_id == version_id {
            return Ok(Some(current));
        }
    } else {
        return Ok(None);
    }
    let sql = "SELECT r.resource_type, r.id, v.version_id, v.last_updated, v.last_updated_ms, v.deleted, v.change_seq, v.body \
               FROM resource r JOIN resource_version v ON v.rkey = r.rkey \
               WHERE r.resource_type = ?1 AND r.id = ?2 AND v.version_id = ?3";
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_row((resource_type, id, version_id as i64), stored_from_row)
                .optional()
        })
        .map_err(sql_error)
}

/// History newest first. Each side of the union is limited and ordered on its own index so
/// that SQLite merges two short ordered streams instead of sorting the whole log.
pub(crate) fn history(
    conn: &Connection,
    request: &HistoryRequest,
) -> Result<Vec<StoredResource>, Error> {
    let mut filters = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    match &request.scope {
        HistoryScope::System => {}
        HistoryScope::Type(resource_type) => {
            filters.push("r.resource_type = ?");
            args.push(Value::Text(resource_type.clone()));
        }
        HistoryScope::Instance { resource_type, id } => {
            filters.push("r.resource_type = ? AND r.id = ?");
            args.push(Value::Text(resource_type.clone()));
            args.push(Value::Text(id.clone()));
        }
    }
    let mut version_filters = filters.clone();
    let mut version_args = args.clone();
    if let Some(since_ms) = request.since_ms {
        filters.push("r.last_updated_ms >= ?");
        args.push(Value::Integer(since_ms));
        version_filters.push("v.last_updated_ms >= ?");
        version_args.push(Value::Integer(since_ms));
    }
    if let Some(before_seq) = request.before_seq {
        filters.push("r.change_seq < ?");
        args.push(Value::Integer(before_seq));
        version_filters.push("v.change_seq < ?");
        version_args.push(Value::Integer(before_seq));
    }
    let limit = request.count as i64;
    let where_current = where_clause(&filters);
    let where_versions = where_clause(&version_filters);
    let sql = format!(
        "SELECT * FROM (SELECT {RESOURCE_COLUMNS} FROM resource r {where_current} ORDER BY r.change_seq DESC LIMIT {limit}) \
         UNION ALL \
         SELECT * FROM (SELECT r.resource_type, r.id, v.version_id, v.last_updated, v.last_updated_ms, v.deleted, v.change_seq, v.body \
            FROM resource_version v JOIN resource r ON r.rkey = v.rkey {where_versions} ORDER BY v.change_seq DESC LIMIT {limit}) \
         ORDER BY 7 DESC LIMIT {limit}"
    );
    args.extend(version_args);
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
    let rows = stmt
        .query_map(params_from_iter(args), stored_from_row)
        .map_err(sql_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
}

fn where_clause(filters: &[&str]) -> String {
    if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    }
}

/// Ids of the parameters whose references put a resource in a patient's compartment (R4
/// CompartmentDefinition `patient`), as interned in this database. The parameter ids are
/// small integers from our own table, so they are written into the SQL as literals.
fn compartment_param_ids(conn: &Connection) -> Result<Vec<i64>, Error> {
    static WANTED: std::sync::OnceLock<std::collections::HashSet<(String, String)>> =
        std::sync::OnceLock::new();
    let wanted = WANTED.get_or_init(|| {
        let registry = search::registry();
        let mut wanted = std::collections::HashSet::new();
        for resource_type in registry.resource_types() {
            for param in registry.compartment_params(resource_type) {
                for code in param.index_codes().0 {
                    wanted.insert((resource_type.to_string(), code.to_string()));
                }
            }
        }
        wanted
    });
    let mut stmt = conn
        .prepare_cached("SELECT pid, resource_type, code FROM search_param")
        .map_err(sql_error)?;
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(sql_error)?;
    let mut pids = Vec::new();
    for row in rows {
        let (pid, resource_type, code) = row.map_err(sql_error)?;
        if wanted.contains(&(resource_type, code)) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// The patient and every current resource that references them through a compartment
/// parameter, in the order they were first stored.
pub(crate) fn compartment(
    conn: &Connection,
    patient_id: &str,
    types: &[String],
    since_ms: Option<i64>,
) -> Result<Vec<StoredResource>, Error> {
    let pids = compartment_param_ids(conn)?;
    let mut sql = format!(
        "SELECT {RESOURCE_COLUMNS} FROM resource r WHERE r.rkey IN (\
           SELECT i.rkey FROM idx_reference i WHERE i.pid IN ({}) \
             AND i.target_id = ?1 AND i.target_type = 'Patient' \
           UNION ALL SELECT p.rkey FROM resource p WHERE p.resource_type = 'Patient' AND p.id = ?1) \
         AND r.deleted = 0",
        if pids.is_empty() {
            "-1".to_string()
        } else {
            pids.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
    );
    let mut args: Vec<Value> = vec![Value::Text(patient_id.to_string())];
    if let Some(since_ms) = since_ms {
        sql.push_str(" AND r.last_updated_ms >= ?");
        args.push(Value::Integer(since_ms));
    }
    if !types.is_empty() {
        sql.push_str(" AND r.resource_type IN (");
        for (idx, resource_type) in types.iter().enumerate() {
            sql.push_str(if idx == 0 { "?" } else { ",?" });
            args.push(Value::Text(resource_type.clone()));
        }
        sql.push(')');
    }
    // Internal-key order never changes for a resource, so offset paging over this list stays
    // correct while other writes happen (new resources only append).
    sql.push_str(" ORDER BY r.rkey");
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
    let rows = stmt
        .query_map(params_from_iter(args), stored_from_row)
        .map_err(sql_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
}

pub(crate) fn counts(conn: &Connection) -> Result<Vec<(String, u64)>, Error> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT resource_type, count(*) FROM resource WHERE deleted = 0 GROUP BY resource_type ORDER BY resource_type",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))
        .map_err(sql_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
}

/// How many current resources of a type carry each value of a token or string parameter
/// (aggregates for epidemiology: counts only, never ids). Token values come back as
/// `system|code`, strings in their normalised form.
pub(crate) fn value_counts(
    conn: &Connection,
    resource_type: &str,
    param: &str,
) -> Result<Vec<(String, u64)>, Error> {
    let Some(pid) = crate::writer::lookup_param(conn, resource_type, param)? else {
        return Ok(Vec::new());
    };
    let sql = match search::registry()
        .param(resource_type, param)
        .map(|p| p.kind)
    {
        Some(search::ParamKind::Token) => {
            "SELECT system || '|' || code, count(DISTINCT rkey) FROM idx_token WHERE pid = ?1 \
             GROUP BY system, code ORDER BY 2 DESC"
        }
        Some(search::ParamKind::String) => {
            "SELECT normalized, count(DISTINCT rkey) FROM idx_string WHERE pid = ?1 \
             GROUP BY normalized ORDER BY 2 DESC"
        }
        _ => {
            return Err(Error::Invalid(format!(
                "{resource_type}.{param} is not a token or string parameter"
            )));
        }
    };
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    let rows = stmt
        .query_map([pid], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))
        .map_err(sql_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
}
