//! The SQLite schema and its versioned, append-only migrations.
//!
//! Layout, and why:
//! - `resource` holds the current version of every resource (body = the exact JSON served), so a
//!   read by id is one index lookup. Superseded versions move to `resource_version`; a create
//!   writes the body once, which keeps bulk import close to the storage floor.
//! - Index tables are clustered by `(rkey, param, …)`: rows of one resource are contiguous, so
//!   replacing a resource's index rows is a range delete and import appends in key order. A
//!   secondary index `(param, value…)` serves the searches.
//! - `change_seq` orders every version ever written on this node (system history, sync).
//! - `rkey` is an internal integer key, never shown outside the store.
//! - A patient's compartment is not stored apart: it is the `idx_reference` rows of the R4
//!   compartment parameters that point at that Patient.

use rusqlite::Connection;

/// Migrations in order; entry `n` moves the schema from version `n` to `n + 1`.
/// Never edit a released entry: add a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE resource (
    rkey INTEGER PRIMARY KEY,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    version_id INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    last_updated_ms INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    change_seq INTEGER NOT NULL,
    body TEXT
);
CREATE UNIQUE INDEX resource_type_id ON resource(resource_type, id);
CREATE INDEX resource_change_seq ON resource(change_seq);
CREATE INDEX resource_type_updated ON resource(resource_type, last_updated_ms);

CREATE TABLE resource_version (
    rkey INTEGER NOT NULL,
    version_id INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    last_updated_ms INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    change_seq INTEGER NOT NULL,
    body TEXT,
    PRIMARY KEY (rkey, version_id)
) WITHOUT ROWID;
CREATE INDEX resource_version_change_seq ON resource_version(change_seq);

CREATE TABLE search_param (
    pid INTEGER PRIMARY KEY,
    resource_type TEXT NOT NULL,
    code TEXT NOT NULL,
    UNIQUE (resource_type, code)
);

CREATE TABLE idx_token (
    rkey INTEGER NOT NULL, pid INTEGER NOT NULL,
    system TEXT NOT NULL, code TEXT NOT NULL, text TEXT,
    PRIMARY KEY (rkey, pid, system, code)
) WITHOUT ROWID;
CREATE INDEX idx_token_value ON idx_token(pid, code, system);

CREATE TABLE idx_string (
    rkey INTEGER NOT NULL, pid INTEGER NOT NULL,
    normalized TEXT NOT NULL, exact TEXT NOT NULL,
    PRIMARY KEY (rkey, pid, normalized, exact)
) WITHOUT ROWID;
CREATE INDEX idx_string_value ON idx_string(pid, normalized);

CREATE TABLE idx_date (
    rkey INTEGER NOT NULL, pid INTEGER NOT NULL,
    low_ms INTEGER NOT NULL, high_ms INTEGER NOT NULL,
    PRIMARY KEY (rkey, pid, low_ms, high_ms)
) WITHOUT ROWID;
CREATE INDEX idx_date_value ON idx_date(pid, low_ms, high_ms);

CREATE TABLE idx_number (
    rkey INTEGER NOT NULL, pid INTEGER NOT NULL,
    low REAL NOT NULL, high REAL NOT NULL,
    PRIMARY KEY (rkey, pid, low, high)
) WITHOUT ROWID;
CREATE INDEX idx_number_value ON idx_number(pid, low, high);

CREATE TABLE idx_quantity (
    rkey INTEGER NOT NULL, pid INTEGER NOT NULL,
    system TEXT NOT NULL, code TEXT NOT NULL, unit TEXT NOT NULL,
    low REAL NOT NULL, high REAL NOT NULL,
    PRIMARY KEY (rkey, pid, system, code, unit, low, high)
) WITHOUT ROWID;
CREATE INDEX idx_quantity_value ON idx_quantity(pid, low, high);

CREATE TABLE idx_reference (
    rkey INTEGER NOT NULL, pid INTEGER NOT NULL,
    target_type TEXT NOT NULL, target_id TEXT NOT NULL, url TEXT NOT NULL,
    id_system TEXT NOT NULL, id_value TEXT NOT NULL,
    PRIMARY KEY (rkey, pid, target_type, target_id, url, id_system, id_value)
) WITHOUT ROWID;
CREATE INDEX idx_reference_value ON idx_reference(pid, target_id, target_type);

CREATE TABLE idx_uri (
    rkey INTEGER NOT NULL, pid INTEGER NOT NULL, uri TEXT NOT NULL,
    PRIMARY KEY (rkey, pid, uri)
) WITHOUT ROWID;
CREATE INDEX idx_uri_value ON idx_uri(pid, uri);

CREATE TABLE compartment (
    rkey INTEGER NOT NULL, patient_id TEXT NOT NULL,
    PRIMARY KEY (rkey, patient_id)
) WITHOUT ROWID;
CREATE INDEX compartment_patient ON compartment(patient_id, rkey);
"#,
    // The patient compartment is read from the reference index instead (the rows of the
    // compartment parameters that point at a Patient): one less table written per resource.
    r#"
DROP TABLE compartment;
"#,
    // Access control (issue 6): accounts, revoked tokens, break-glass grants and the audit
    // trail. The trail is append-only: triggers refuse UPDATE and DELETE, so only someone
    // editing the file by hand can change it, and `audit verify` detects that by the chain.
    // One row is written per read, so the trail has only the two indexes its readers need
    // (a patient's access log, an agent's actions); date ranges are scanned newest first.
    r#"
CREATE TABLE account (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    clues TEXT,
    practitioner_id TEXT,
    patient_id TEXT,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL,
    last_failure_ms INTEGER NOT NULL,
    locked_until_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE revoked_token (
    token_id TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
);

CREATE TABLE break_glass (
    username TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    granted_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (username, patient_id, granted_ms)
);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    node TEXT NOT NULL,
    username TEXT NOT NULL,
    user_display TEXT NOT NULL,
    role TEXT,
    clues TEXT,
    facility_name TEXT,
    action TEXT NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    patient_id TEXT,
    outcome TEXT NOT NULL,
    break_glass INTEGER NOT NULL,
    source_ip TEXT,
    details TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_patient ON audit_log(patient_id, seq) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_log_user ON audit_log(username, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
"#,
    // Issue 5, sync between nodes (see `sync.rs`): the sync log (a stamp per version, derived
    // from the change log), cursors, enrolled nodes, followed patients, the hub's feed index
    // and conflicts.
    crate::sync::MIGRATION_SYNC,
    // Issue 12: accounts are never locked any more (`locked_until_ms` stays, always 0). The
    // credential epoch moves on at a password reset or a disable and voids every token and UI
    // session issued before; the address an account last signed in from is exempt from the
    // account-wide sign-in delay (`auth::throttle`).
    r#"
ALTER TABLE account ADD COLUMN credential_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account ADD COLUMN last_login_ip TEXT;
UPDATE account SET locked_until_ms = 0;
"#,
    // Issue 12, the hub trusts no clinic blindly: revoked node credentials, versions the hub
    // refused (kept on the clinic for its operator), and signed heads of audit chains.
    crate::sync::MIGRATION_SYNC_TRUST,
    // Issue 17, notifications: the subscription delivery queue (see `notify.rs`).
    crate::notify::MIGRATION_NOTIFY,
    // Issue 18, SMART App Launch: the apps an administrator registered (`expediente app add`).
    // Redirect URIs one per line (they never contain a newline; `ehr` checks).
    r#"
CREATE TABLE app (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    confidential INTEGER NOT NULL,
    secret_hash TEXT NOT NULL,
    jwks TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
"#,
    // Issue 18, the EHR launch: where an app is launched from a patient's chart (empty: not
    // launched from the UI).
    "ALTER TABLE app ADD COLUMN launch_url TEXT NOT NULL DEFAULT '';",
];

/// The schema version this build expects.
pub fn schema_version_latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database to the latest schema, one transaction per migration.
/// A database newer than this build is refused rather than guessed at.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<Result<(), String>> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let latest = schema_version_latest();
    if current > latest {
        return Ok(Err(format!(
            "la base de datos tiene el esquema {current}, más nuevo que el de este programa ({latest}) / database schema {current} is newer than this build's {latest}"
        )));
    }
    for (idx, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (idx + 1) as i64)?;
        tx.commit()?;
    }
    Ok(Ok(()))
}
