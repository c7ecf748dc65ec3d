//! Accounts, revoked tokens, break-glass grants and the hash-chained audit trail (the tables of
//! migration 3). See `store::security` for why they are not FHIR resources.

use auth::audit::{AuditAction, AuditEntry, Chain, ChainHash, ChainHead, Outcome, SealedEntry};
use auth::role::Role;
use rusqlite::{Connection, OptionalExtension, Row, params};
use store::{Account, App, AuditQuery, BreakGlassGrant, Error};

use crate::sql_error;

/// `locked_until_ms` (migration 3) is no longer read: accounts are never locked (issue 12); it
/// is written as 0.
const ACCOUNT_COLUMNS: &str = "username, role, clues, practitioner_id, patient_id, display_name, \
     password_hash, disabled, failed_logins, last_failure_ms, locked_until_ms, created_ms, \
     credential_epoch, last_login_ip";

const AUDIT_COLUMNS: &str = "seq, at_ms, node, username, user_display, role, clues, facility_name, \
     action, resource_type, resource_id, patient_id, outcome, break_glass, source_ip, details, hash";

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        username: row.get(0)?,
        role: row.get(1)?,
        clues: row.get(2)?,
        practitioner_id: row.get(3)?,
        patient_id: row.get(4)?,
        display_name: row.get(5)?,
        password_hash: row.get(6)?,
        disabled: row.get::<_, i64>(7)? != 0,
        failed_logins: u32::try_from(row.get::<_, i64>(8)?).unwrap_or(u32::MAX),
        last_failure_ms: row.get(9)?,
        created_ms: row.get(11)?,
        credential_epoch: u32::try_from(row.get::<_, i64>(12)?).unwrap_or(u32::MAX),
        last_login_ip: row.get(13)?,
    })
}

pub(crate) fn account(conn: &Connection, username: &str) -> Result<Option<Account>, Error> {
    conn.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM account WHERE username = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([username], account_from_row).optional())
    .map_err(sql_error)
}

pub(crate) fn accounts(conn: &Connection) -> Result<Vec<Account>, Error> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY username"
        ))
        .map_err(sql_error)?;
    let rows = stmt.query_map([], account_from_row).map_err(sql_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
}

pub(crate) fn put_account(conn: &Connection, account: &Account) -> Result<(), Error> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO account ({ACCOUNT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            account.username,
            account.role,
            account.clues,
            account.practitioner_id,
            account.patient_id,
            account.display_name,
            account.password_hash,
            i64::from(account.disabled),
            i64::from(account.failed_logins),
            account.last_failure_ms,
            0_i64,
            account.created_ms,
            i64::from(account.credential_epoch),
            account.last_login_ip,
        ])
    })
    .map(|_| ())
    .map_err(sql_error)
}

pub(crate) fn is_token_revoked(conn: &Connection, token_id: &str) -> Result<bool, Error> {
    conn.prepare_cached("SELECT 1 FROM revoked_token WHERE token_id = ?1")
        .and_then(|mut stmt| stmt.exists([token_id]))
        .map_err(sql_error)
}

pub(crate) fn revoke_token(
    conn: &Connection,
    token_id: &str,
    expires_ms: i64,
) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO revoked_token (token_id, expires_ms) VALUES (?1, ?2)",
    )
    .and_then(|mut stmt| stmt.execute(params![token_id, expires_ms]))
    .map(|_| ())
    .map_err(sql_error)
}

pub(crate) fn put_break_glass(conn: &Connection, grant: &BreakGlassGrant) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO break_glass (username, patient_id, granted_ms, expires_ms, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            grant.username,
            grant.patient_id,
            grant.granted_ms,
            grant.expires_ms,
            grant.reason
        ])
    })
    .map(|_| ())
    .map_err(sql_error)
}

pub(crate) fn break_glass_grants(
    conn: &Connection,
    username: &str,
    now_ms: i64,
) -> Result<Vec<BreakGlassGrant>, Error> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT username, patient_id, granted_ms, expires_ms, reason FROM break_glass \
             WHERE username = ?1 AND expires_ms > ?2 AND granted_ms <= ?2",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![username, now_ms], |row| {
            Ok(BreakGlassGrant {
                username: row.get(0)?,
                patient_id: row.get(1)?,
                granted_ms: row.get(2)?,
                expires_ms: row.get(3)?,
                reason: row.get(4)?,
            })
        })
        .map_err(sql_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
}

/// The head of the chain, read under the write lock (another process — `expediente token
/// issue` beside `serve` — may have appended since this one last did).
fn chain_head(conn: &Connection) -> Result<ChainHead, Error> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .and_then(|mut stmt| {
            stmt.query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(sql_error)?;
    match row {
        None => Ok(ChainHead::EMPTY),
        Some((seq, hash)) => {
            let hash = ChainHash::from_hex(&hash).ok_or_else(|| {
                Error::Other(format!("the audit entry {seq} has an unreadable hash"))
            })?;
            Ok(ChainHead {
                seq: u64::try_from(seq).unwrap_or(0),
                hash,
            })
        }
    }
}

pub(crate) fn append_audit(conn: &Connection, entry: AuditEntry) -> Result<u64, Error> {
    let mut chain = Chain::resume(chain_head(conn)?);
    insert_sealed(conn, &mut chain, entry)
}

pub(crate) fn append_audit_batch(conn: &Connection, entries: Vec<AuditEntry>) -> Result<(), Error> {
    let mut chain = Chain::resume(chain_head(conn)?);
    for entry in entries {
        insert_sealed(conn, &mut chain, entry)?;
    }
    Ok(())
}

fn insert_sealed(conn: &Connection, chain: &mut Chain, entry: AuditEntry) -> Result<u64, Error> {
    let sealed = chain.append(entry);
    let e = &sealed.entry;
    conn.prepare_cached(&format!(
        "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            i64::try_from(e.seq).unwrap_or(i64::MAX),
            e.at_ms,
            e.node,
            e.user,
            e.user_display,
            e.role.map(Role::as_str),
            e.clues,
            e.facility_name,
            e.action.as_str(),
            e.resource_type,
            e.resource_id,
            e.patient_id,
            e.outcome.as_str(),
            i64::from(e.break_glass),
            e.source_ip,
            e.details,
            sealed.hash.to_hex(),
        ])
    })
    .map_err(sql_error)?;
    Ok(e.seq)
}

/// A stored row whose codes cannot be read back is itself evidence of tampering; the error
/// names its seq.
fn sealed_from_row(row: &Row<'_>) -> rusqlite::Result<Result<SealedEntry, Error>> {
    let seq: i64 = row.get(0)?;
    let role: Option<String> = row.get(5)?;
    let action: String = row.get(8)?;
    let outcome: String = row.get(12)?;
    let hash: String = row.get(16)?;
    let bad = |what: &str| {
        Err(Error::Invalid(format!(
            "entrada de auditoría {seq}: {what} ilegible / audit entry {seq}: unreadable {what}"
        )))
    };
    let role = match role {
        None => None,
        Some(text) => match Role::parse(&text) {
            Some(role) => Some(role),
            None => return Ok(bad("role")),
        },
    };
    let Some(action) = AuditAction::parse(&action) else {
        return Ok(bad("action"));
    };
    let Some(outcome) = Outcome::parse(&outcome) else {
        return Ok(bad("outcome"));
    };
    let Some(hash) = ChainHash::from_hex(&hash) else {
        return Ok(bad("hash"));
    };
    Ok(Ok(SealedEntry {
        entry: AuditEntry {
            seq: u64::try_from(seq).unwrap_or(0),
            at_ms: row.get(1)?,
            node: row.get(2)?,
            user: row.get(3)?,
            user_display: row.get(4)?,
            role,
            clues: row.get(6)?,
            facility_name: row.get(7)?,
            action,
            resource_type: row.get(9)?,
            resource_id: row.get(10)?,
            patient_id: row.get(11)?,
            outcome,
            break_glass: row.get::<_, i64>(13)? != 0,
            source_ip: row.get(14)?,
            details: row.get(15)?,
        },
        hash,
    }))
}

fn collect_sealed(
    stmt: &mut rusqlite::Statement<'_>,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<SealedEntry>, Error> {
    let rows = stmt.query_map(params, sealed_from_row).map_err(sql_error)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(sql_error)??);
    }
    Ok(out)
}

pub(crate) fn audit_scan(
    conn: &Connection,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<SealedEntry>, Error> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))
        .map_err(sql_error)?;
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    collect_sealed(&mut stmt, &[&after, &limit])
}

pub(crate) fn audit_search(
    conn: &Connection,
    query: &AuditQuery,
) -> Result<Vec<SealedEntry>, Error> {
    // Every value is bound as a parameter; only the fixed clause texts are concatenated.
    let mut clauses: Vec<&str> = Vec::new();
    let mut values: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let Some(patient) = &query.patient_id {
        clauses.push("patient_id = ?");
        values.push(Box::new(patient.clone()));
    }
    if let Some(user) = &query.username {
        clauses.push("username = ?");
        values.push(Box::new(user.clone()));
    }
    if let Some(action) = &query.action {
        clauses.push("action = ?");
        values.push(Box::new(action.clone()));
    }
    if let Some(from) = query.from_ms {
        clauses.push("at_ms >= ?");
        values.push(Box::new(from));
    }
    if let Some(to) = query.to_ms {
        clauses.push("at_ms < ?");
        values.push(Box::new(to));
    }
    if let Some(before) = query.before_seq {
        clauses.push("seq < ?");
        values.push(Box::new(i64::try_from(before).unwrap_or(i64::MAX)));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    values.push(Box::new(i64::try_from(query.count).unwrap_or(i64::MAX)));
    let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log {filter} ORDER BY seq DESC LIMIT ?");
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
    let refs: Vec<&dyn rusqlite::ToSql> = values.iter().map(|v| v.as_ref()).collect();
    collect_sealed(&mut stmt, &refs)
}

const APP_COLUMNS: &str = "client_id, name, redirect_uris, confidential, secret_hash, jwks, scopes, created_ms, launch_url";

fn app_from_row(row: &Row<'_>) -> rusqlite::Result<App> {
    let uris: String = row.get(2)?;
    Ok(App {
        client_id: row.get(0)?,
        name: row.get(1)?,
        redirect_uris: uris.lines().map(str::to_owned).collect(),
        confidential: row.get::<_, i64>(3)? != 0,
        secret_hash: row.get(4)?,
        jwks: row.get(5)?,
        scopes: row.get(6)?,
        created_ms: row.get(7)?,
        launch_url: row.get(8)?,
    })
}

pub(crate) fn app(conn: &Connection, client_id: &str) -> Result<Option<App>, Error> {
    conn.prepare_cached(&format!(
        "SELECT {APP_COLUMNS} FROM app WHERE client_id = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([client_id], app_from_row).optional())
    .map_err(sql_error)
}

pub(crate) fn apps(conn: &Connection) -> Result<Vec<App>, Error> {
    let mut stmt = conn
        .prepare(&format!("SELECT {APP_COLUMNS} FROM app ORDER BY client_id"))
        .map_err(sql_error)?;
    let rows = stmt.query_map([], app_from_row).map_err(sql_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
}

pub(crate) fn put_app(conn: &Connection, app: &App) -> Result<(), Error> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO app ({APP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            app.client_id,
            app.name,
            app.redirect_uris.join("\n"),
            i64::from(app.confidential),
            app.secret_hash,
            app.jwks,
            app.scopes,
            app.created_ms,
            app.launch_url,
        ])
    })
    .map(|_| ())
    .map_err(sql_error)
}

pub(crate) fn delete_app(conn: &Connection, client_id: &str) -> Result<bool, Error> {
    conn.prepare_cached("DELETE FROM app WHERE client_id = ?1")
        .and_then(|mut stmt| stmt.execute([client_id]))
        .map(|changed| changed > 0)
        .map_err(sql_error)
}
