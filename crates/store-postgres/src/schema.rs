//! The PostgreSQL schema and its versioned, append-only migrations.
//!
//! The layout follows `store-sqlite` (see its `schema.rs` for the reasons), with these changes:
//! - Text that is compared or sorted is `COLLATE "C"`: byte order, as SQLite compares, so
//!   sorting, prefix ranges and paging positions agree between engines whatever locale the
//!   cluster was created with.
//! - Every version written is also queued in `sync_pending` for the sync sequencer, which
//!   gives it a log position once its transaction has committed (see `sync`).
//! - `change_seq` comes from a sequence: unique and increasing in time, not in commit order,
//!   which is why the sync log has its own commit-ordered positions.
//! - Clinical rows carry `patient_key`, the patient whose compartment the resource is in
//!   (migration 2: never NULL, `Type/id` outside compartments; Citus distributes by it).
//! - The schema version is kept in `schema_version` (PostgreSQL has no `user_version`); a
//!   migration runs under an advisory lock, so two hubs starting at once migrate once.
//! - Clinical tables have no foreign keys to `resource`: a Citus distribution by patient
//!   (issue 15) co-locates them by `patient_key`, not by `rkey`.

use postgres::Client;
use store::Error;

use crate::sql_error;

/// Migrations in order; entry `n` moves the schema from version `n` to `n + 1`.
/// Never edit a released entry: add a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE SEQUENCE change_seq_seq;

CREATE TABLE resource (
    rkey BIGSERIAL PRIMARY KEY,
    resource_type TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    version_id BIGINT NOT NULL,
    last_updated TEXT NOT NULL,
    last_updated_ms BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL,
    change_seq BIGINT NOT NULL,
    patient_key TEXT COLLATE "C",
    body TEXT,
    UNIQUE (resource_type, id)
);
CREATE INDEX resource_change_seq ON resource(change_seq);
CREATE INDEX resource_type_updated ON resource(resource_type, last_updated_ms);
CREATE INDEX resource_patient ON resource(patient_key) WHERE patient_key IS NOT NULL;

CREATE TABLE resource_version (
    rkey BIGINT NOT NULL,
    version_id BIGINT NOT NULL,
    last_updated TEXT NOT NULL,
    last_updated_ms BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL,
    change_seq BIGINT NOT NULL,
    patient_key TEXT COLLATE "C",
    body TEXT,
    PRIMARY KEY (rkey, version_id)
);
CREATE INDEX resource_version_change_seq ON resource_version(change_seq);

CREATE TABLE search_param (
    pid BIGSERIAL PRIMARY KEY,
    resource_type TEXT COLLATE "C" NOT NULL,
    code TEXT COLLATE "C" NOT NULL,
    UNIQUE (resource_type, code)
);

CREATE TABLE idx_token (
    rkey BIGINT NOT NULL, pid BIGINT NOT NULL,
    system TEXT COLLATE "C" NOT NULL, code TEXT COLLATE "C" NOT NULL, text TEXT COLLATE "C",
    PRIMARY KEY (rkey, pid, system, code)
);
CREATE INDEX idx_token_value ON idx_token(pid, code, system);

CREATE TABLE idx_string (
    rkey BIGINT NOT NULL, pid BIGINT NOT NULL,
    normalized TEXT COLLATE "C" NOT NULL, exact TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (rkey, pid, normalized, exact)
);
CREATE INDEX idx_string_value ON idx_string(pid, normalized);

CREATE TABLE idx_date (
    rkey BIGINT NOT NULL, pid BIGINT NOT NULL,
    low_ms BIGINT NOT NULL, high_ms BIGINT NOT NULL,
    PRIMARY KEY (rkey, pid, low_ms, high_ms)
);
CREATE INDEX idx_date_value ON idx_date(pid, low_ms, high_ms);

CREATE TABLE idx_number (
    rkey BIGINT NOT NULL, pid BIGINT NOT NULL,
    low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (rkey, pid, low, high)
);
CREATE INDEX idx_number_value ON idx_number(pid, low, high);

CREATE TABLE idx_quantity (
    rkey BIGINT NOT NULL, pid BIGINT NOT NULL,
    system TEXT COLLATE "C" NOT NULL, code TEXT COLLATE "C" NOT NULL, unit TEXT COLLATE "C" NOT NULL,
    low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (rkey, pid, system, code, unit, low, high)
);
CREATE INDEX idx_quantity_value ON idx_quantity(pid, low, high);

CREATE TABLE idx_reference (
    rkey BIGINT NOT NULL, pid BIGINT NOT NULL,
    target_type TEXT COLLATE "C" NOT NULL, target_id TEXT COLLATE "C" NOT NULL,
    url TEXT COLLATE "C" NOT NULL,
    id_system TEXT COLLATE "C" NOT NULL, id_value TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (rkey, pid, target_type, target_id, url, id_system, id_value)
);
CREATE INDEX idx_reference_value ON idx_reference(pid, target_id, target_type);

CREATE TABLE idx_uri (
    rkey BIGINT NOT NULL, pid BIGINT NOT NULL, uri TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (rkey, pid, uri)
);
CREATE INDEX idx_uri_value ON idx_uri(pid, uri);

CREATE TABLE account (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    clues TEXT,
    practitioner_id TEXT,
    patient_id TEXT,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL,
    failed_logins BIGINT NOT NULL,
    last_failure_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    credential_epoch BIGINT NOT NULL,
    last_login_ip TEXT
);

CREATE TABLE revoked_token (
    token_id TEXT PRIMARY KEY,
    expires_ms BIGINT NOT NULL
);

CREATE TABLE break_glass (
    username TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    granted_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (username, patient_id, granted_ms)
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
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
    break_glass BOOLEAN NOT NULL,
    source_ip TEXT,
    details TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_patient ON audit_log(patient_id, seq) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_log_user ON audit_log(username, seq);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

CREATE TABLE sync_self (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    node_id TEXT NOT NULL
);

-- `pos` is the log position (assigned by the sequencer after commit; NULL until then);
-- `change_seq` names the version.
CREATE TABLE sync_log (
    change_seq BIGINT PRIMARY KEY,
    pos BIGINT UNIQUE,
    resource_type TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    hlc BIGINT NOT NULL,
    origin TEXT COLLATE "C" NOT NULL,
    parent_hlc BIGINT,
    parent_origin TEXT COLLATE "C",
    kind SMALLINT NOT NULL
);
CREATE INDEX sync_log_hlc ON sync_log(hlc);
CREATE INDEX sync_log_type ON sync_log(resource_type, pos);
CREATE INDEX sync_log_stamp ON sync_log(resource_type, id, hlc);

-- Every version written and not sequenced yet (visible here once its transaction committed).
CREATE TABLE sync_pending (
    change_seq BIGINT PRIMARY KEY
);

CREATE TABLE sync_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sync_node (
    node_id TEXT PRIMARY KEY,
    token_sha256 BYTEA NOT NULL,
    enrolled_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);

CREATE TABLE sync_follow (
    node_id TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    since_ms BIGINT NOT NULL,
    PRIMARY KEY (node_id, patient_id)
);

-- Keyed by log position.
CREATE TABLE sync_patient (
    pos BIGINT NOT NULL,
    patient_id TEXT NOT NULL,
    PRIMARY KEY (pos, patient_id)
);
CREATE INDEX sync_patient_patient ON sync_patient(patient_id, pos);

CREATE TABLE sync_conflict (
    cid BIGSERIAL PRIMARY KEY,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    winner_hlc BIGINT NOT NULL,
    winner_origin TEXT NOT NULL,
    loser_hlc BIGINT NOT NULL,
    loser_origin TEXT NOT NULL,
    fields TEXT NOT NULL,
    detected_ms BIGINT NOT NULL,
    open BOOLEAN NOT NULL,
    UNIQUE (resource_type, id, loser_hlc, loser_origin)
);

CREATE TABLE sync_refused (
    rid BIGSERIAL PRIMARY KEY,
    resource_type TEXT NOT NULL,
    id TEXT NOT NULL,
    hlc BIGINT NOT NULL,
    origin TEXT NOT NULL,
    reason_es TEXT NOT NULL,
    reason_en TEXT NOT NULL,
    refused_ms BIGINT NOT NULL,
    UNIQUE (resource_type, id, hlc, origin)
);

CREATE TABLE audit_anchor (
    aid BIGSERIAL PRIMARY KEY,
    node_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    UNIQUE (node_id, seq, hash, at_ms)
);
CREATE INDEX audit_anchor_node ON audit_anchor(node_id, aid);
CREATE TRIGGER audit_anchor_append_only BEFORE UPDATE OR DELETE ON audit_anchor
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_anchor_no_truncate BEFORE TRUNCATE ON audit_anchor
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
"#,
    r#"
-- Migration 2 (issue 15): every clinical table is keyed by `patient_key`, the distribution key
-- of a Citus hub. `patient_key` is never NULL: the patient whose compartment the resource is in,
-- or `Type/id` for a resource outside every patient compartment (Citus refuses NULL
-- distribution values; an id never contains `/`, so the two kinds of key cannot collide).
-- Every primary key and unique constraint of those tables includes it; a resource's versions
-- and index rows live under its current key (a resource that moves compartment is moved as a
-- whole, see `tx`). `resource_locator` finds a resource's key from its type and id, and is the
-- one place where (type, id) is unique; it is distributed by id.
-- On plain PostgreSQL the same tables stay ordinary tables; on Citus the guarded block at the
-- end distributes them (co-located) and makes the small shared tables reference tables.
UPDATE resource SET patient_key = resource_type || '/' || id WHERE patient_key IS NULL;
UPDATE resource_version v SET patient_key = r.patient_key FROM resource r
    WHERE r.rkey = v.rkey AND v.patient_key IS DISTINCT FROM r.patient_key;
ALTER TABLE resource ALTER COLUMN patient_key SET NOT NULL;
ALTER TABLE resource_version ALTER COLUMN patient_key SET NOT NULL;
DROP INDEX resource_patient;
ALTER TABLE resource DROP CONSTRAINT resource_pkey;
ALTER TABLE resource DROP CONSTRAINT resource_resource_type_id_key;
ALTER TABLE resource ADD PRIMARY KEY (patient_key, rkey);
ALTER TABLE resource ADD UNIQUE (patient_key, resource_type, id);
ALTER TABLE resource_version DROP CONSTRAINT resource_version_pkey;
ALTER TABLE resource_version ADD PRIMARY KEY (patient_key, rkey, version_id);

CREATE TABLE resource_locator (
    id TEXT COLLATE "C" NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    patient_key TEXT COLLATE "C" NOT NULL,
    rkey BIGINT NOT NULL,
    PRIMARY KEY (id, resource_type)
);
INSERT INTO resource_locator(id, resource_type, patient_key, rkey)
    SELECT id, resource_type, patient_key, rkey FROM resource;

ALTER TABLE idx_token ADD COLUMN patient_key TEXT COLLATE "C";
UPDATE idx_token i SET patient_key = r.patient_key FROM resource r WHERE r.rkey = i.rkey;
ALTER TABLE idx_token ALTER COLUMN patient_key SET NOT NULL;
ALTER TABLE idx_token DROP CONSTRAINT idx_token_pkey;
ALTER TABLE idx_token ADD PRIMARY KEY (patient_key, rkey, pid, system, code);

ALTER TABLE idx_string ADD COLUMN patient_key TEXT COLLATE "C";
UPDATE idx_string i SET patient_key = r.patient_key FROM resource r WHERE r.rkey = i.rkey;
ALTER TABLE idx_string ALTER COLUMN patient_key SET NOT NULL;
ALTER TABLE idx_string DROP CONSTRAINT idx_string_pkey;
ALTER TABLE idx_string ADD PRIMARY KEY (patient_key, rkey, pid, normalized, exact);

ALTER TABLE idx_date ADD COLUMN patient_key TEXT COLLATE "C";
UPDATE idx_date i SET patient_key = r.patient_key FROM resource r WHERE r.rkey = i.rkey;
ALTER TABLE idx_date ALTER COLUMN patient_key SET NOT NULL;
ALTER TABLE idx_date DROP CONSTRAINT idx_date_pkey;
ALTER TABLE idx_date ADD PRIMARY KEY (patient_key, rkey, pid, low_ms, high_ms);

ALTER TABLE idx_number ADD COLUMN patient_key TEXT COLLATE "C";
UPDATE idx_number i SET patient_key = r.patient_key FROM resource r WHERE r.rkey = i.rkey;
ALTER TABLE idx_number ALTER COLUMN patient_key SET NOT NULL;
ALTER TABLE idx_number DROP CONSTRAINT idx_number_pkey;
ALTER TABLE idx_number ADD PRIMARY KEY (patient_key, rkey, pid, low, high);

ALTER TABLE idx_quantity ADD COLUMN patient_key TEXT COLLATE "C";
UPDATE idx_quantity i SET patient_key = r.patient_key FROM resource r WHERE r.rkey = i.rkey;
ALTER TABLE idx_quantity ALTER COLUMN patient_key SET NOT NULL;
ALTER TABLE idx_quantity DROP CONSTRAINT idx_quantity_pkey;
ALTER TABLE idx_quantity ADD PRIMARY KEY (patient_key, rkey, pid, system, code, unit, low, high);

ALTER TABLE idx_reference ADD COLUMN patient_key TEXT COLLATE "C";
UPDATE idx_reference i SET patient_key = r.patient_key FROM resource r WHERE r.rkey = i.rkey;
ALTER TABLE idx_reference ALTER COLUMN patient_key SET NOT NULL;
ALTER TABLE idx_reference DROP CONSTRAINT idx_reference_pkey;
ALTER TABLE idx_reference ADD PRIMARY KEY (patient_key, rkey, pid, target_type, target_id, url, id_system, id_value);

ALTER TABLE idx_uri ADD COLUMN patient_key TEXT COLLATE "C";
UPDATE idx_uri i SET patient_key = r.patient_key FROM resource r WHERE r.rkey = i.rkey;
ALTER TABLE idx_uri ALTER COLUMN patient_key SET NOT NULL;
ALTER TABLE idx_uri DROP CONSTRAINT idx_uri_pkey;
ALTER TABLE idx_uri ADD PRIMARY KEY (patient_key, rkey, pid, uri);

-- Where each queued version was written, so the sequencer reads it on its shard (NULL for a
-- version queued before this migration: looked up on every shard).
ALTER TABLE sync_pending ADD COLUMN patient_key TEXT COLLATE "C";
ALTER TABLE sync_pending ADD COLUMN rkey BIGINT;

DO $citus$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        SET LOCAL citus.multi_shard_modify_mode TO 'sequential';
        PERFORM create_reference_table('search_param');
        PERFORM create_reference_table('account');
        PERFORM create_reference_table('revoked_token');
        PERFORM create_reference_table('break_glass');
        PERFORM create_distributed_table('resource', 'patient_key');
        PERFORM create_distributed_table('resource_version', 'patient_key', colocate_with => 'resource');
        PERFORM create_distributed_table('idx_token', 'patient_key', colocate_with => 'resource');
        PERFORM create_distributed_table('idx_string', 'patient_key', colocate_with => 'resource');
        PERFORM create_distributed_table('idx_date', 'patient_key', colocate_with => 'resource');
        PERFORM create_distributed_table('idx_number', 'patient_key', colocate_with => 'resource');
        PERFORM create_distributed_table('idx_quantity', 'patient_key', colocate_with => 'resource');
        PERFORM create_distributed_table('idx_reference', 'patient_key', colocate_with => 'resource');
        PERFORM create_distributed_table('idx_uri', 'patient_key', colocate_with => 'resource');
        PERFORM create_distributed_table('resource_locator', 'id', colocate_with => 'none');
    END IF;
END
$citus$;
"#,
    r#"
-- Migration 3 (issue 15): the identifier locator (see `locator`). Which patient keys hold a
-- resource carrying an identifier value, distributed by the value so a search by identifier
-- (a CURP) asks one shard which patients to read. Rows are hints written with every version
-- (never deleted: a stale one costs a lookup on a shard that finds nothing). The backfill
-- takes the identifiers already indexed; on Citus it runs after the table is distributed
-- (an INSERT … SELECT between distributed tables, repartitioned by the value).
CREATE TABLE identifier_locator (
    value TEXT COLLATE "C" NOT NULL,
    system TEXT COLLATE "C" NOT NULL,
    resource_type TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    patient_key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (value, system, resource_type, id)
);

DO $citus$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        SET LOCAL citus.multi_shard_modify_mode TO 'sequential';
        PERFORM create_distributed_table('identifier_locator', 'value', colocate_with => 'none');
    END IF;
END
$citus$;

INSERT INTO identifier_locator(value, system, resource_type, id, patient_key)
    SELECT i.code, i.system, r.resource_type, r.id, r.patient_key
    FROM idx_token i
    JOIN resource r ON r.patient_key = i.patient_key AND r.rkey = i.rkey
    JOIN search_param p ON p.pid = i.pid
    WHERE p.code = 'identifier' AND p.resource_type = r.resource_type
    ON CONFLICT DO NOTHING;
"#,
    // Issue 17, notifications: the subscription delivery queue (see `notify.rs`).
    crate::notify::MIGRATION_NOTIFY,
    r#"
-- Issue 18, SMART App Launch: the apps an administrator registered (`expediente app add`);
-- redirect URIs one per line. Few rows, read on every authorization: a reference table on Citus.
CREATE TABLE app (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    confidential BOOLEAN NOT NULL,
    secret_hash TEXT NOT NULL,
    jwks TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

DO $citus$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        PERFORM create_reference_table('app');
    END IF;
END
$citus$;
"#,
    r#"
-- Issue 14, the audit trail without one queue: entries after the trail's present end (the
-- trunk) are dealt round over 16 lanes by seq, each a hash chain of its own with its own lock
-- (see `security.rs`, `auth::audit::Lanes`). The layout is written once and never changes;
-- the coordinator keeps both tables on Citus (appends take coordinator advisory locks).
ALTER TABLE audit_log ADD COLUMN lane SMALLINT;
CREATE INDEX audit_log_lane ON audit_log(lane, seq) WHERE lane IS NOT NULL;
CREATE INDEX audit_log_trunk ON audit_log(seq) WHERE lane IS NULL;
CREATE TABLE audit_layout (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    trunk_seq BIGINT NOT NULL,
    trunk_hash TEXT NOT NULL,
    lanes SMALLINT NOT NULL CHECK (lanes > 0)
);
INSERT INTO audit_layout (one, trunk_seq, trunk_hash, lanes)
    SELECT 1, coalesce(max(seq), 0),
           coalesce((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), repeat('0', 64)),
           16
    FROM audit_log;
CREATE TRIGGER audit_layout_append_only BEFORE UPDATE OR DELETE ON audit_layout
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_layout_no_truncate BEFORE TRUNCATE ON audit_layout
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
"#,
    // Issue 18, the EHR launch: where an app is launched from a patient's chart (empty: not
    // launched from the UI). A reference table on Citus takes the column on every node.
    "ALTER TABLE app ADD COLUMN launch_url TEXT NOT NULL DEFAULT '';",
];

/// The version whose migration split the audit trail into lanes (tests migrate to the one
/// before it).
#[cfg(test)]
pub(crate) const AUDIT_LANES_VERSION: u32 = 6;

/// The schema version this build expects.
pub fn schema_version_latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// Any fixed number: the advisory lock key that serialises migrations between processes.
const MIGRATION_LOCK: i64 = 0x6578_7065_6469_656e;

/// Brings the database to the latest schema, every pending migration in one transaction (all
/// or nothing, DDL is transactional in PostgreSQL); a database newer
/// than this build is refused rather than guessed at. Returns the schema version.
pub(crate) fn migrate(client: &mut Client) -> Result<u32, Error> {
    migrate_to(client, schema_version_latest())
}

/// [`migrate`] up to schema `target` only (tests of a later migration over older data).
pub(crate) fn migrate_to(client: &mut Client, target: u32) -> Result<u32, Error> {
    let mut tx = client.transaction().map_err(sql_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(sql_error)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(sql_error)?;
    let current: Option<i32> = tx
        .query_opt("SELECT max(version) FROM schema_version", &[])
        .map_err(sql_error)?
        .and_then(|row| row.get(0));
    let current = current.unwrap_or(0).max(0) as u32;
    let latest = schema_version_latest();
    if current > latest {
        return Err(Error::Other(format!(
            "la base de datos tiene el esquema {current}, más nuevo que el de este programa ({latest}) / database schema {current} is newer than this build's {latest}"
        )));
    }
    for (idx, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(current as usize)
    {
        tx.batch_execute(sql).map_err(sql_error)?;
        let version = (idx + 1) as i32;
        tx.execute("DELETE FROM schema_version", &[])
            .map_err(sql_error)?;
        tx.execute(
            "INSERT INTO schema_version(version) VALUES ($1)",
            &[&version],
        )
        .map_err(sql_error)?;
    }
    tx.commit().map_err(sql_error)?;
    Ok(target.max(current))
}
