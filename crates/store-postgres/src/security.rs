//! Accounts, revoked tokens, break-glass grants and the hash-chained audit trail.
//!
//! The audit trail is laid out in lanes (`auth::audit::Lanes`, fixed in `audit_layout` by the
//! migration that introduced them): the single chain written before it (the trunk), then 16
//! chains dealt round by seq. Appending reads a chain's head and writes after it, so an
//! appender holds that lane's advisory lock from its append to its commit; it takes the first
//! lane nobody holds, trying from lane 0, and waits only when all 16 are held. A
//! lane's seqs stay gap-free and in commit order, so `audit verify` walks each lane as a chain.
//! A write without audit entries never takes any of them. Triggers refuse UPDATE, DELETE and
//! TRUNCATE of the trail and of its layout.

use auth::audit::{
    AuditAction, AuditEntry, Chain, ChainHash, ChainHead, Lane, Lanes, Outcome, SealedEntry,
};
use auth::role::Role;
use postgres::{GenericClient, Row};
use store::{Account, App, AuditQuery, BreakGlassGrant, Error};

use crate::sql::{Arg, Sql};
use crate::sql_error;
use crate::tx::Tx;

/// The advisory lock class of the audit lanes: lane `l`'s lock is `(AUDIT_LANE_LOCK, l)`
/// (the two-key form, apart from the one-key locks `Tx::lock_key` takes).
const AUDIT_LANE_LOCK: i32 = 0x6175_6469;

/// Takes the lock of the first free lane, trying them in order from lane 0, or waits for lane
/// `$1` when all are held; answers the lane. Trying from 0 keeps a quiet hub on one lane and
/// fills the others only as writers overlap. (`COALESCE` evaluates its second argument only
/// when the first is NULL, so the waiting lock is taken only then; the waiting lane rotates so
/// that waiters spread over the lanes.)
const TAKE_LANE: &str = "SELECT COALESCE(\
     (SELECT l FROM generate_series(0, $2 - 1) AS l WHERE pg_try_advisory_xact_lock($3, l) LIMIT 1), \
     (SELECT $1 FROM pg_advisory_xact_lock($3, $1)))";

/// A lane's newest entry (read after its lock is held, in a statement of its own, so that it
/// sees the previous holder's commit).
const LANE_HEAD: &str = "SELECT seq, hash FROM audit_log WHERE lane = $1 ORDER BY seq DESC LIMIT 1";

const ACCOUNT_COLUMNS: &str = "username, role, clues, practitioner_id, patient_id, display_name, \
     password_hash, disabled, failed_logins, last_failure_ms, created_ms, credential_epoch, last_login_ip";

const AUDIT_COLUMNS: &str = "seq, at_ms, node, username, user_display, role, clues, facility_name, \
     action, resource_type, resource_id, patient_id, outcome, break_glass, source_ip, details, hash";

/// Sealed audit entries, one array per column (see [`append_audit`]).
const INSERT_AUDIT: &str = "INSERT INTO audit_log (seq, at_ms, node, username, user_display, role, clues, \
     facility_name, action, resource_type, resource_id, patient_id, outcome, break_glass, source_ip, \
     details, hash, lane) \
     SELECT *, $18::smallint FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
     $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
     $12::text[], $13::text[], $14::boolean[], $15::text[], $16::text[], $17::text[])";

fn account_from_row(row: &Row) -> Account {
    Account {
        username: row.get(0),
        role: row.get(1),
        clues: row.get(2),
        practitioner_id: row.get(3),
        patient_id: row.get(4),
        display_name: row.get(5),
        password_hash: row.get(6),
        disabled: row.get(7),
        failed_logins: u32::try_from(row.get::<_, i64>(8)).unwrap_or(u32::MAX),
        last_failure_ms: row.get(9),
        created_ms: row.get(10),
        credential_epoch: u32::try_from(row.get::<_, i64>(11)).unwrap_or(u32::MAX),
        last_login_ip: row.get(12),
    }
}

pub(crate) fn account<C: GenericClient>(
    client: &mut C,
    username: &str,
) -> Result<Option<Account>, Error> {
    let row = client
        .query_opt(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE username = $1"),
            &[&username],
        )
        .map_err(sql_error)?;
    Ok(row.as_ref().map(account_from_row))
}

pub(crate) fn accounts(client: &mut postgres::Client) -> Result<Vec<Account>, Error> {
    let rows = client
        .query(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY username COLLATE \"C\""),
            &[],
        )
        .map_err(sql_error)?;
    Ok(rows.iter().map(account_from_row).collect())
}

pub(crate) fn put_account<C: GenericClient>(
    client: &mut C,
    account: &Account,
) -> Result<(), Error> {
    client
        .execute(
            &format!(
                "INSERT INTO account ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, clues = EXCLUDED.clues, \
                 practitioner_id = EXCLUDED.practitioner_id, patient_id = EXCLUDED.patient_id, \
                 display_name = EXCLUDED.display_name, password_hash = EXCLUDED.password_hash, \
                 disabled = EXCLUDED.disabled, failed_logins = EXCLUDED.failed_logins, \
                 last_failure_ms = EXCLUDED.last_failure_ms, created_ms = EXCLUDED.created_ms, \
                 credential_epoch = EXCLUDED.credential_epoch, last_login_ip = EXCLUDED.last_login_ip"
            ),
            &[
                &account.username,
                &account.role,
                &account.clues,
                &account.practitioner_id,
                &account.patient_id,
                &account.display_name,
                &account.password_hash,
                &account.disabled,
                &i64::from(account.failed_logins),
                &account.last_failure_ms,
                &account.created_ms,
                &i64::from(account.credential_epoch),
                &account.last_login_ip,
            ],
        )
        .map(|_| ())
        .map_err(sql_error)
}

pub(crate) fn is_token_revoked(
    client: &mut postgres::Client,
    token_id: &str,
) -> Result<bool, Error> {
    let row = client
        .query_opt(
            "SELECT 1 FROM revoked_token WHERE token_id = $1",
            &[&token_id],
        )
        .map_err(sql_error)?;
    Ok(row.is_some())
}

pub(crate) fn revoke_token<C: GenericClient>(
    client: &mut C,
    token_id: &str,
    expires_ms: i64,
) -> Result<(), Error> {
    client
        .execute(
            "INSERT INTO revoked_token (token_id, expires_ms) VALUES ($1, $2) \
             ON CONFLICT (token_id) DO UPDATE SET expires_ms = EXCLUDED.expires_ms",
            &[&token_id, &expires_ms],
        )
        .map(|_| ())
        .map_err(sql_error)
}

pub(crate) fn put_break_glass<C: GenericClient>(
    client: &mut C,
    grant: &BreakGlassGrant,
) -> Result<(), Error> {
    client
        .execute(
            "INSERT INTO break_glass (username, patient_id, granted_ms, expires_ms, reason) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (username, patient_id, granted_ms) DO UPDATE SET expires_ms = EXCLUDED.expires_ms, reason = EXCLUDED.reason",
            &[
                &grant.username,
                &grant.patient_id,
                &grant.granted_ms,
                &grant.expires_ms,
                &grant.reason,
            ],
        )
        .map(|_| ())
        .map_err(sql_error)
}

pub(crate) fn break_glass_grants(
    client: &mut postgres::Client,
    username: &str,
    now_ms: i64,
) -> Result<Vec<BreakGlassGrant>, Error> {
    let rows = client
        .query(
            "SELECT username, patient_id, granted_ms, expires_ms, reason FROM break_glass \
             WHERE username = $1 AND expires_ms > $2 AND granted_ms <= $2 ORDER BY granted_ms",
            &[&username, &now_ms],
        )
        .map_err(sql_error)?;
    Ok(rows
        .iter()
        .map(|row| BreakGlassGrant {
            username: row.get(0),
            patient_id: row.get(1),
            granted_ms: row.get(2),
            expires_ms: row.get(3),
            reason: row.get(4),
        })
        .collect())
}

/// The trail's layout, as its migration fixed it.
pub(crate) fn audit_layout(client: &mut postgres::Client) -> Result<Lanes, Error> {
    let row = client
        .query_one("SELECT trunk_seq, trunk_hash, lanes FROM audit_layout", &[])
        .map_err(sql_error)?;
    let seq: i64 = row.get(0);
    let hash: String = row.get(1);
    let lanes: i16 = row.get(2);
    let hash = ChainHash::from_hex(&hash)
        .ok_or_else(|| Error::Other("the audit layout has an unreadable trunk hash".into()))?;
    Ok(Lanes {
        trunk: ChainHead {
            seq: u64::try_from(seq).unwrap_or(0),
            hash,
        },
        count: u16::try_from(lanes).unwrap_or(1).max(1),
    })
}

/// This transaction's lane: the one it already holds, else the first free one.
fn take_lane(tx: &mut Tx<'_>) -> Result<u16, Error> {
    if let Some(lane) = tx.audit_lane {
        return Ok(lane);
    }
    let store = tx.store;
    let count = i32::from(store.audit_lanes.count);
    let wait_on = store
        .audit_next_lane
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        % u32::from(store.audit_lanes.count.max(1));
    let wait_on = i32::try_from(wait_on).unwrap_or(0);
    let row = tx.query_one(TAKE_LANE, &[&wait_on, &count, &AUDIT_LANE_LOCK])?;
    let lane = u16::try_from(row.get::<_, i32>(0)).unwrap_or(0);
    tx.audit_lane = Some(lane);
    Ok(lane)
}

/// Seals `entries` in order onto a free lane; returns the seq of the last one (0 for none).
pub(crate) fn append_audit(tx: &mut Tx<'_>, entries: Vec<AuditEntry>) -> Result<u64, Error> {
    if entries.is_empty() {
        return Ok(0);
    }
    // The job's held rows go first: the lane's lock is held from here to COMMIT, and another
    // job that audits may wait for it, so only the audit rows should be sent under it.
    tx.flush()?;
    let lane = take_lane(tx)?;
    let lane_arg = i16::try_from(lane).unwrap_or(0);
    let head = tx
        .query_opt(LANE_HEAD, &[&lane_arg])?
        .map(|row| {
            let seq: i64 = row.get(0);
            let hash: String = row.get(1);
            ChainHash::from_hex(&hash)
                .map(|hash| ChainHead {
                    seq: u64::try_from(seq).unwrap_or(0),
                    hash,
                })
                .ok_or_else(|| {
                    Error::Other(format!("the audit entry {seq} has an unreadable hash"))
                })
        })
        .transpose()?;
    let mut chain = Chain::lane(&tx.store.audit_lanes, lane, head);
    // The sealed entries as columns, sent in one statement: the chain's lock is held until
    // COMMIT, so every round trip under it is time other auditing jobs wait.
    let n = entries.len();
    let mut seq = Vec::with_capacity(n);
    let mut at_ms = Vec::with_capacity(n);
    let mut node = Vec::with_capacity(n);
    let mut user = Vec::with_capacity(n);
    let mut user_display = Vec::with_capacity(n);
    let mut role = Vec::with_capacity(n);
    let mut clues = Vec::with_capacity(n);
    let mut facility_name = Vec::with_capacity(n);
    let mut action = Vec::with_capacity(n);
    let mut resource_type = Vec::with_capacity(n);
    let mut resource_id = Vec::with_capacity(n);
    let mut patient_id = Vec::with_capacity(n);
    let mut outcome = Vec::with_capacity(n);
    let mut break_glass = Vec::with_capacity(n);
    let mut source_ip = Vec::with_capacity(n);
    let mut details = Vec::with_capacity(n);
    let mut hash = Vec::with_capacity(n);
    let mut last = 0;
    for entry in entries {
        let sealed = chain.append(entry);
        let e = sealed.entry;
        last = e.seq;
        seq.push(i64::try_from(e.seq).unwrap_or(i64::MAX));
        at_ms.push(e.at_ms);
        node.push(e.node);
        user.push(e.user);
        user_display.push(e.user_display);
        role.push(e.role.map(Role::as_str));
        clues.push(e.clues);
        facility_name.push(e.facility_name);
        action.push(e.action.as_str());
        resource_type.push(e.resource_type);
        resource_id.push(e.resource_id);
        patient_id.push(e.patient_id);
        outcome.push(e.outcome.as_str());
        break_glass.push(e.break_glass);
        source_ip.push(e.source_ip);
        details.push(e.details);
        hash.push(sealed.hash.to_hex());
    }
    tx.exec(
        INSERT_AUDIT,
        &[
            &seq,
            &at_ms,
            &node,
            &user,
            &user_display,
            &role,
            &clues,
            &facility_name,
            &action,
            &resource_type,
            &resource_id,
            &patient_id,
            &outcome,
            &break_glass,
            &source_ip,
            &details,
            &hash,
            &lane_arg,
        ],
    )?;
    Ok(last)
}

/// A stored row whose codes cannot be read back is itself evidence of tampering; the error
/// names its seq.
fn sealed_from_row(row: &Row) -> Result<SealedEntry, Error> {
    let seq: i64 = row.get(0);
    let role: Option<String> = row.get(5);
    let action: String = row.get(8);
    let outcome: String = row.get(12);
    let hash: String = row.get(16);
    let bad = |what: &str| {
        Error::Invalid(format!(
            "entrada de auditoría {seq}: {what} ilegible / audit entry {seq}: unreadable {what}"
        ))
    };
    let role = match role {
        None => None,
        Some(text) => Some(Role::parse(&text).ok_or_else(|| bad("role"))?),
    };
    let action = AuditAction::parse(&action).ok_or_else(|| bad("action"))?;
    let outcome = Outcome::parse(&outcome).ok_or_else(|| bad("outcome"))?;
    let hash = ChainHash::from_hex(&hash).ok_or_else(|| bad("hash"))?;
    Ok(SealedEntry {
        entry: AuditEntry {
            seq: u64::try_from(seq).unwrap_or(0),
            at_ms: row.get(1),
            node: row.get(2),
            user: row.get(3),
            user_display: row.get(4),
            role,
            clues: row.get(6),
            facility_name: row.get(7),
            action,
            resource_type: row.get(9),
            resource_id: row.get(10),
            patient_id: row.get(11),
            outcome,
            break_glass: row.get(13),
            source_ip: row.get(14),
            details: row.get(15),
        },
        hash,
    })
}

pub(crate) fn audit_scan(
    client: &mut postgres::Client,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<SealedEntry>, Error> {
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after, &limit],
        )
        .map_err(sql_error)?;
    rows.iter().map(sealed_from_row).collect()
}

/// One chain's entries (see `store::Store::audit_scan_lane`). The trunk is every entry without
/// a lane, so one added by hand after the trunk's end is seen there.
pub(crate) fn audit_scan_lane(
    client: &mut postgres::Client,
    lane: Lane,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<SealedEntry>, Error> {
    let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = match lane {
        Lane::Trunk => client.query(
            &format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE lane IS NULL AND seq > $1 \
                 ORDER BY seq LIMIT $2"
            ),
            &[&after, &limit],
        ),
        Lane::Lane(lane) => client.query(
            &format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE lane = $3 AND seq > $1 \
                 ORDER BY seq LIMIT $2"
            ),
            &[&after, &limit, &i16::try_from(lane).unwrap_or(i16::MAX)],
        ),
    }
    .map_err(sql_error)?;
    rows.iter().map(sealed_from_row).collect()
}

pub(crate) fn audit_search(
    client: &mut postgres::Client,
    query: &AuditQuery,
) -> Result<Vec<SealedEntry>, Error> {
    // Every value is bound as a parameter; only the fixed clause texts are concatenated.
    let mut sql = Sql::new();
    sql.push(&format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE true"));
    if let Some(patient) = &query.patient_id {
        sql.push(" AND patient_id = ");
        sql.arg(Arg::Text(patient.clone()));
    }
    if let Some(user) = &query.username {
        sql.push(" AND username = ");
        sql.arg(Arg::Text(user.clone()));
    }
    if let Some(action) = &query.action {
        sql.push(" AND action = ");
        sql.arg(Arg::Text(action.clone()));
    }
    if let Some(from) = query.from_ms {
        sql.push(" AND at_ms >= ");
        sql.arg(Arg::Int(from));
    }
    if let Some(to) = query.to_ms {
        sql.push(" AND at_ms < ");
        sql.arg(Arg::Int(to));
    }
    if let Some(before) = query.before_seq {
        sql.push(" AND seq < ");
        sql.arg(Arg::Int(i64::try_from(before).unwrap_or(i64::MAX)));
    }
    sql.push(" ORDER BY seq DESC LIMIT ");
    sql.arg(Arg::Int(i64::try_from(query.count).unwrap_or(i64::MAX)));
    let rows = crate::read::run(client, &sql)?;
    rows.iter().map(sealed_from_row).collect()
}

const APP_COLUMNS: &str = "client_id, name, redirect_uris, confidential, secret_hash, jwks, scopes, created_ms, launch_url";

fn app_from_row(row: &Row) -> App {
    let uris: String = row.get(2);
    App {
        client_id: row.get(0),
        name: row.get(1),
        redirect_uris: uris.lines().map(str::to_owned).collect(),
        confidential: row.get(3),
        secret_hash: row.get(4),
        jwks: row.get(5),
        scopes: row.get(6),
        created_ms: row.get(7),
        launch_url: row.get(8),
    }
}

pub(crate) fn app<C: GenericClient>(client: &mut C, client_id: &str) -> Result<Option<App>, Error> {
    let row = client
        .query_opt(
            &format!("SELECT {APP_COLUMNS} FROM app WHERE client_id = $1"),
            &[&client_id],
        )
        .map_err(sql_error)?;
    Ok(row.as_ref().map(app_from_row))
}

pub(crate) fn apps(client: &mut postgres::Client) -> Result<Vec<App>, Error> {
    let rows = client
        .query(
            &format!("SELECT {APP_COLUMNS} FROM app ORDER BY client_id COLLATE \"C\""),
            &[],
        )
        .map_err(sql_error)?;
    Ok(rows.iter().map(app_from_row).collect())
}

pub(crate) fn put_app<C: GenericClient>(client: &mut C, app: &App) -> Result<(), Error> {
    client
        .execute(
            &format!(
                "INSERT INTO app ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (client_id) DO UPDATE SET name = EXCLUDED.name, \
                 redirect_uris = EXCLUDED.redirect_uris, confidential = EXCLUDED.confidential, \
                 secret_hash = EXCLUDED.secret_hash, jwks = EXCLUDED.jwks, \
                 scopes = EXCLUDED.scopes, created_ms = EXCLUDED.created_ms, \
                 launch_url = EXCLUDED.launch_url"
            ),
            &[
                &app.client_id,
                &app.name,
                &app.redirect_uris.join("\n"),
                &app.confidential,
                &app.secret_hash,
                &app.jwks,
                &app.scopes,
                &app.created_ms,
                &app.launch_url,
            ],
        )
        .map(|_| ())
        .map_err(sql_error)
}

pub(crate) fn delete_app<C: GenericClient>(client: &mut C, client_id: &str) -> Result<bool, Error> {
    client
        .execute("DELETE FROM app WHERE client_id = $1", &[&client_id])
        .map(|changed| changed > 0)
        .map_err(sql_error)
}
