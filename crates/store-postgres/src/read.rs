//! Reads that do not involve search: by id, by version, history, compartment, counts.

use postgres::GenericClient;
use postgres::Row;
use store::{Error, HistoryRequest, HistoryScope, StoredResource};

use crate::sql::{Arg, Sql};
use crate::sql_error;

/// Columns selected for a stored resource, in the order [`stored_from_row`] reads them.
pub(crate) const RESOURCE_COLUMNS: &str = "r.resource_type, r.id, r.version_id, r.last_updated, r.last_updated_ms, r.deleted, r.change_seq, r.body";

/// The same columns of a superseded version (`v`) of resource `r`.
pub(crate) const VERSION_COLUMNS: &str = "r.resource_type, r.id, v.version_id, v.last_updated, v.last_updated_ms, v.deleted, v.change_seq, v.body";

pub(crate) fn stored_from_row(row: &Row) -> StoredResource {
    stored_from_row_at(row, 0)
}

/// A stored resource from [`RESOURCE_COLUMNS`] starting at column `at`.
pub(crate) fn stored_from_row_at(row: &Row, at: usize) -> StoredResource {
    StoredResource {
        resource_type: row.get(at),
        id: row.get(at + 1),
        version_id: row.get::<_, i64>(at + 2).max(0) as u64,
        last_updated: row.get(at + 3),
        last_updated_ms: row.get(at + 4),
        deleted: row.get(at + 5),
        change_seq: row.get(at + 6),
        body: row.get::<_, Option<String>>(at + 7).unwrap_or_default(),
    }
}

pub(crate) fn run<C: GenericClient>(client: &mut C, sql: &Sql) -> Result<Vec<Row>, Error> {
    client.query(&sql.text, &sql.params()).map_err(sql_error)
}

/// Where a resource lives: its distribution key and internal key, by type (`$1`) and id
/// (`$2`). The locator is distributed by id, so on Citus this goes to one worker.
pub(crate) const LOCATE: &str =
    "SELECT patient_key, rkey FROM resource_locator WHERE id = $2 AND resource_type = $1";

/// The current version by distribution key (`$1`) and internal key (`$2`): one shard.
pub(crate) const CURRENT: &str = "SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.last_updated_ms, r.deleted, r.change_seq, r.body \
     FROM resource r WHERE r.patient_key = $1 AND r.rkey = $2";

/// The current version by type (`$1`) and id (`$2`) in one statement, through the locator:
/// plain PostgreSQL only (on Citus the locator's row and the resource's are on different
/// shards, a join Citus refuses; there it is [`LOCATE`] then [`CURRENT`]).
pub(crate) const CURRENT_BY_ID: &str = "SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.last_updated_ms, r.deleted, r.change_seq, r.body \
     FROM resource_locator l JOIN resource r ON r.patient_key = l.patient_key AND r.rkey = l.rkey \
     WHERE l.id = $2 AND l.resource_type = $1";

pub(crate) fn locate<C: GenericClient>(
    client: &mut C,
    resource_type: &str,
    id: &str,
) -> Result<Option<(String, i64)>, Error> {
    let row = client
        .query_opt(LOCATE, &[&resource_type, &id])
        .map_err(sql_error)?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

/// The current version by type and id: the locator, then the resource's shard. A resource
/// that moved compartment between the two reads is looked up again.
pub(crate) fn current<C: GenericClient>(
    client: &mut C,
    resource_type: &str,
    id: &str,
) -> Result<Option<StoredResource>, Error> {
    for _ in 0..3 {
        let Some((key, rkey)) = locate(client, resource_type, id)? else {
            return Ok(None);
        };
        let row = client
            .query_opt(CURRENT, &[&key, &rkey])
            .map_err(sql_error)?;
        if let Some(row) = row {
            return Ok(Some(stored_from_row(&row)));
        }
    }
    Ok(None)
}

pub(crate) fn version<C: GenericClient>(
    client: &mut C,
    resource_type: &str,
    id: &str,
    version_id: u64,
) -> Result<Option<StoredResource>, Error> {
    let Some(current) = current(client, resource_type, id)? else {
        return Ok(None);
    };
    if current.version_id == version_id {
        return Ok(Some(current));
    }
    let Some((key, rkey)) = locate(client, resource_type, id)? else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM resource r JOIN resource_version v ON v.patient_key = r.patient_key AND v.rkey = r.rkey \
         WHERE r.patient_key = $1 AND r.rkey = $2 AND v.version_id = $3"
    );
    let wanted = i64::try_from(version_id).unwrap_or(i64::MAX);
    let row = client
        .query_opt(&sql, &[&key, &rkey, &wanted])
        .map_err(sql_error)?;
    Ok(row.as_ref().map(stored_from_row))
}

/// History newest first: two ordered, limited streams (current rows, superseded versions)
/// merged, as on SQLite.
pub(crate) fn history<C: GenericClient>(
    client: &mut C,
    request: &HistoryRequest,
) -> Result<Vec<StoredResource>, Error> {
    let limit = request.count as i64;
    // A resource's history is on its shard: located first, then one key for both sides.
    let located = match &request.scope {
        HistoryScope::Instance { resource_type, id } => match locate(client, resource_type, id)? {
            Some(located) => Some(located),
            None => return Ok(Vec::new()),
        },
        _ => None,
    };
    let side = |versions: bool| {
        let mut sql = Sql::new();
        let (columns, from, alias) = if versions {
            (
                VERSION_COLUMNS,
                "resource_version v JOIN resource r ON r.patient_key = v.patient_key AND r.rkey = v.rkey",
                "v",
            )
        } else {
            (RESOURCE_COLUMNS, "resource r", "r")
        };
        sql.push(&format!("(SELECT {columns} FROM {from} WHERE true"));
        match &request.scope {
            HistoryScope::System => {}
            HistoryScope::Type(resource_type) => {
                sql.push(" AND r.resource_type = ");
                sql.arg(Arg::Text(resource_type.clone()));
            }
            HistoryScope::Instance { .. } => {
                if let Some((key, rkey)) = &located {
                    sql.push(" AND r.patient_key = ");
                    sql.arg(Arg::Text(key.clone()));
                    sql.push(" AND r.rkey = ");
                    sql.arg(Arg::Int(*rkey));
                }
            }
        }
        if let Some(since_ms) = request.since_ms {
            sql.push(&format!(" AND {alias}.last_updated_ms >= "));
            sql.arg(Arg::Int(since_ms));
        }
        if let Some(before_seq) = request.before_seq {
            sql.push(&format!(" AND {alias}.change_seq < "));
            sql.arg(Arg::Int(before_seq));
        }
        sql.push(&format!(" ORDER BY {alias}.change_seq DESC LIMIT {limit})"));
        sql
    };
    let mut sql = side(false);
    sql.push(" UNION ALL ");
    sql.append(&side(true));
    sql.push(&format!(" ORDER BY 7 DESC LIMIT {limit}"));
    Ok(run(client, &sql)?.iter().map(stored_from_row).collect())
}

/// Ids of the parameters whose references put a resource in a patient's compartment (R4
/// CompartmentDefinition `patient`).
pub(crate) fn compartment_codes() -> &'static [(String, String)] {
    static WANTED: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    WANTED.get_or_init(|| {
        let registry = search::registry();
        let mut wanted = Vec::new();
        for resource_type in registry.resource_types() {
            for param in registry.compartment_params(resource_type) {
                for code in param.index_codes().0 {
                    wanted.push((resource_type.to_string(), code.to_string()));
                }
            }
        }
        wanted.sort();
        wanted.dedup();
        wanted
    })
}

/// The patient and every current resource that references them through a compartment
/// parameter, in the order they were first stored.
///
/// `routed` (Citus): only the patient's own shard is read, so the query goes to one worker; a
/// resource whose first compartment patient is another one (it references two patients) is
/// on that other patient's shard and is not found here (see ARCHITECTURE.md, issue 15).
pub(crate) fn compartment<C: GenericClient>(
    client: &mut C,
    routed: bool,
    patient_id: &str,
    types: &[String],
    since_ms: Option<i64>,
) -> Result<Vec<StoredResource>, Error> {
    let (wanted_types, wanted_codes): (Vec<String>, Vec<String>) =
        compartment_codes().iter().cloned().unzip();
    let mut sql = Sql::new();
    sql.push(&format!(
        "SELECT {RESOURCE_COLUMNS} FROM resource r WHERE {route}(r.patient_key, r.rkey) IN (\
           SELECT i.patient_key, i.rkey FROM idx_reference i WHERE {route_i}i.pid IN (\
             SELECT sp.pid FROM search_param sp JOIN unnest($1::text[], $2::text[]) AS w(t, c) \
             ON sp.resource_type = w.t AND sp.code = w.c) \
           AND i.target_id = $3::text AND i.target_type = 'Patient' \
           UNION ALL SELECT p.patient_key, p.rkey FROM resource p \
           WHERE p.patient_key = $3::text AND p.resource_type = 'Patient' AND p.id = $3::text) \
         AND NOT r.deleted",
        route = if routed {
            "r.patient_key = $3::text AND "
        } else {
            ""
        },
        route_i = if routed {
            "i.patient_key = $3::text AND "
        } else {
            ""
        },
    ));
    // $1..$3 are bound below, ahead of the typed arguments.
    sql.args.push(Arg::Int(0));
    sql.args.push(Arg::Int(0));
    sql.args.push(Arg::Text(patient_id.to_string()));
    if let Some(since_ms) = since_ms {
        sql.push(" AND r.last_updated_ms >= ");
        sql.arg(Arg::Int(since_ms));
    }
    if !types.is_empty() {
        sql.push(" AND r.resource_type IN (");
        for (idx, resource_type) in types.iter().enumerate() {
            if idx > 0 {
                sql.push(",");
            }
            sql.arg(Arg::Text(resource_type.clone()));
        }
        sql.push(")");
    }
    // Internal-key order never changes for a resource, so offset paging over this list stays
    // correct while other writes happen.
    sql.push(" ORDER BY r.rkey");
    let mut params = sql.params();
    params[0] = &wanted_types;
    params[1] = &wanted_codes;
    let rows = client.query(&sql.text, &params).map_err(sql_error)?;
    Ok(rows.iter().map(stored_from_row).collect())
}

pub(crate) fn counts(client: &mut postgres::Client) -> Result<Vec<(String, u64)>, Error> {
    let rows = client
        .query(
            "SELECT resource_type, count(*) FROM resource WHERE NOT deleted \
             GROUP BY resource_type ORDER BY resource_type",
            &[],
        )
        .map_err(sql_error)?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), row.get::<_, i64>(1).max(0) as u64))
        .collect())
}

/// How many current resources of a type carry each value of a token or string parameter
/// (counts only, never ids).
pub(crate) fn value_counts(
    client: &mut postgres::Client,
    resource_type: &str,
    param: &str,
) -> Result<Vec<(String, u64)>, Error> {
    let Some(pid) = crate::tx::lookup_param(client, resource_type, param)? else {
        return Ok(Vec::new());
    };
    let sql = match search::registry()
        .param(resource_type, param)
        .map(|p| p.kind)
    {
        Some(search::ParamKind::Token) => {
            "SELECT i.system || '|' || i.code, count(DISTINCT i.rkey) FROM idx_token i \
             JOIN resource r ON r.patient_key = i.patient_key AND r.rkey = i.rkey AND NOT r.deleted \
             WHERE i.pid = $1 GROUP BY i.system, i.code ORDER BY 2 DESC, 1"
        }
        Some(search::ParamKind::String) => {
            "SELECT i.normalized, count(DISTINCT i.rkey) FROM idx_string i \
             JOIN resource r ON r.patient_key = i.patient_key AND r.rkey = i.rkey AND NOT r.deleted \
             WHERE i.pid = $1 GROUP BY i.normalized ORDER BY 2 DESC, 1"
        }
        _ => {
            return Err(Error::Invalid(format!(
                "{resource_type}.{param} is not a token or string parameter"
            )));
        }
    };
    let rows = client.query(sql, &[&pid]).map_err(sql_error)?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), row.get::<_, i64>(1).max(0) as u64))
        .collect())
}
