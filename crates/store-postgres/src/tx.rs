//! The write transaction a job runs in.
//!
//! Isolation: READ COMMITTED plus advisory locks. A job that reads a resource before it writes
//! it (`current`, `read`, `put`) holds that resource's lock until commit, so two jobs writing
//! the same resource run one after the other and number their versions in turn; `lock` does
//! the same for whatever a job decides on (a CURP, a conditional create's condition). Each
//! statement sees everything committed before it began, which is what a job that holds the
//! lock for what it decides needs.

use std::collections::{HashMap, HashSet};

use postgres::types::ToSql;
use postgres::{GenericClient, Row, Statement, Transaction};
use search::IndexValue;
use store::{Error, PreparedVersion, SearchQuery, StoredResource, VersionInfo, WriteTx};

use crate::{PgStore, read, sql_error};

type Params<'p> = [&'p (dyn ToSql + Sync)];

pub(crate) struct Tx<'a> {
    pub(crate) tx: Option<Transaction<'a>>,
    /// The connection's prepared statements (see `pool::Conn`).
    stmts: &'a mut HashMap<&'static str, Statement>,
    pub(crate) store: &'a PgStore,
    locked: HashSet<String>,
    /// PostgreSQL reported a serialization failure, deadlock or unique violation, or the
    /// connection was lost before COMMIT: the whole job may succeed if run again.
    retry: bool,
}

impl<'a> Tx<'a> {
    pub(crate) fn begin(
        conn: &'a mut crate::pool::Conn,
        store: &'a PgStore,
    ) -> Result<Tx<'a>, Error> {
        let tx = conn.client.transaction().map_err(sql_error)?;
        Ok(Tx {
            tx: Some(tx),
            stmts: &mut conn.stmts,
            store,
            locked: HashSet::new(),
            retry: false,
        })
    }

    /// The open transaction (always present until commit or rollback consume it).
    pub(crate) fn conn(&mut self) -> Result<&mut Transaction<'a>, Error> {
        self.tx
            .as_mut()
            .ok_or_else(|| Error::Other("the write transaction has ended".into()))
    }

    /// `sql` prepared on this connection, once.
    fn stmt(&mut self, sql: &'static str) -> Result<Statement, Error> {
        if let Some(stmt) = self.stmts.get(sql) {
            return Ok(stmt.clone());
        }
        let prepared = self.conn()?.prepare(sql);
        let stmt = self.check(prepared)?;
        self.stmts.insert(sql, stmt.clone());
        Ok(stmt)
    }

    /// Runs a fixed statement (prepared once per connection); returns the rows changed.
    pub(crate) fn exec(&mut self, sql: &'static str, params: &Params<'_>) -> Result<u64, Error> {
        let stmt = self.stmt(sql)?;
        let outcome = self.conn()?.execute(&stmt, params);
        self.check(outcome)
    }

    /// Runs a fixed query expecting at most one row.
    pub(crate) fn query_opt(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, Error> {
        let stmt = self.stmt(sql)?;
        let outcome = self.conn()?.query_opt(&stmt, params);
        self.check(outcome)
    }

    /// Runs a fixed query expecting one row.
    pub(crate) fn query_one(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Row, Error> {
        let stmt = self.stmt(sql)?;
        let outcome = self.conn()?.query_one(&stmt, params);
        self.check(outcome)
    }

    /// Notes a retryable failure whatever the job does with the error.
    pub(crate) fn check<T>(&mut self, result: Result<T, postgres::Error>) -> Result<T, Error> {
        result.map_err(|err| {
            if crate::retryable(&err) || crate::connection_lost(&err) {
                self.retry = true;
            }
            sql_error(err)
        })
    }

    pub(crate) fn retryable_failure(&self) -> bool {
        self.retry
    }

    pub(crate) fn commit(mut self) -> Result<(), Error> {
        let tx = self
            .tx
            .take()
            .ok_or_else(|| Error::Other("the write transaction has ended".into()))?;
        match tx.commit() {
            Ok(()) => Ok(()),
            Err(err) if crate::retryable(&err) => Err(sql_error(err)),
            // The connection broke during COMMIT: the outcome is unknown, so the job must not
            // be run again blindly.
            Err(err) => Err(Error::Other(format!(
                "COMMIT sin respuesta de PostgreSQL / COMMIT got no answer: {err}"
            ))),
        }
    }

    pub(crate) fn rollback(mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.rollback();
        }
    }

    /// Takes the transaction-scoped advisory lock named `key` once.
    pub(crate) fn lock_key(&mut self, key: &str) -> Result<(), Error> {
        if self.locked.contains(key) {
            return Ok(());
        }
        let result = self.conn()?.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&key],
        );
        self.check(result)?;
        self.locked.insert(key.to_string());
        Ok(())
    }

    /// A resource's distribution key and internal key (see `read::LOCATE`).
    fn locate(&mut self, resource_type: &str, id: &str) -> Result<Option<(String, i64)>, Error> {
        Ok(self
            .query_opt(read::LOCATE, &[&resource_type, &id])?
            .map(|row| (row.get(0), row.get(1))))
    }

    fn lock_resource(&mut self, resource_type: &str, id: &str) -> Result<(), Error> {
        self.lock_key(&format!("resource:{resource_type}/{id}"))
    }

    fn param_id(&mut self, resource_type: &str, code: &str) -> Result<i64, Error> {
        self.store.intern_param(resource_type, code)
    }
}

pub(crate) fn lookup_param<C: GenericClient>(
    client: &mut C,
    resource_type: &str,
    code: &str,
) -> Result<Option<i64>, Error> {
    let row = client
        .query_opt(
            "SELECT pid FROM search_param WHERE resource_type = $1 AND code = $2",
            &[&resource_type, &code],
        )
        .map_err(sql_error)?;
    Ok(row.map(|row| row.get(0)))
}

impl WriteTx for Tx<'_> {
    fn current(&mut self, resource_type: &str, id: &str) -> Result<Option<VersionInfo>, Error> {
        self.lock_resource(resource_type, id)?;
        let Some((key, rkey)) = self.locate(resource_type, id)? else {
            return Ok(None);
        };
        let row = self.query_opt(
            "SELECT version_id, last_updated_ms, deleted FROM resource WHERE patient_key = $1 AND rkey = $2",
            &[&key, &rkey],
        )?;
        Ok(row.map(|row| VersionInfo {
            version_id: row.get::<_, i64>(0).max(0) as u64,
            last_updated_ms: row.get(1),
            deleted: row.get(2),
        }))
    }

    fn read(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        self.lock_resource(resource_type, id)?;
        let Some((key, rkey)) = self.locate(resource_type, id)? else {
            return Ok(None);
        };
        let row = self.query_opt(read::CURRENT, &[&key, &rkey])?;
        Ok(row.as_ref().map(read::stored_from_row))
    }

    fn search_ids(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<String>, Error> {
        let store = self.store;
        crate::query::search_ids(self.conn()?, store, query, limit)
    }

    fn append_audit(&mut self, entry: store::AuditEntry) -> Result<u64, Error> {
        crate::security::append_audit(self, vec![entry])
    }

    fn append_audit_batch(&mut self, entries: Vec<store::AuditEntry>) -> Result<(), Error> {
        crate::security::append_audit(self, entries).map(|_| ())
    }

    fn put_account(&mut self, account: &store::Account) -> Result<(), Error> {
        crate::security::put_account(self.conn()?, account)
    }

    fn account(&mut self, username: &str) -> Result<Option<store::Account>, Error> {
        crate::security::account(self.conn()?, username)
    }

    fn put_break_glass(&mut self, grant: &store::BreakGlassGrant) -> Result<(), Error> {
        crate::security::put_break_glass(self.conn()?, grant)
    }

    fn revoke_token(&mut self, token_id: &str, expires_ms: i64) -> Result<(), Error> {
        crate::security::revoke_token(self.conn()?, token_id, expires_ms)
    }

    fn lock(&mut self, key: &str) -> Result<(), Error> {
        self.lock_key(key)
    }

    fn sync(&mut self) -> Option<&mut dyn store::sync::SyncTx> {
        Some(self)
    }

    fn put_prepared(&mut self, version: PreparedVersion) -> Result<StoredResource, Error> {
        self.lock_resource(&version.resource_type, &version.id)?;
        let body = version.body;
        let deleted = body.is_none();
        let key = distribution_key(&version.resource_type, &version.id, &version.index);
        let version_id = i64::try_from(version.version_id).unwrap_or(i64::MAX);
        let existing = self.locate(&version.resource_type, &version.id)?;
        // Drawn on its own: Citus refuses volatile functions in an UPDATE of a distributed
        // table, and the sequence lives on the coordinator either way.
        let change_seq: i64 = self
            .query_one("SELECT nextval('change_seq_seq')", &[])?
            .get(0);
        let rkey: i64 = match existing {
            Some((old_key, rkey)) if old_key == key => {
                self.exec(
                    "INSERT INTO resource_version(rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) \
                     SELECT rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body FROM resource \
                     WHERE patient_key = $1 AND rkey = $2",
                    &[&key, &rkey],
                )?;
                self.exec(INDEX_DELETE, &[&key, &rkey])?;
                self.exec(
                    "UPDATE resource SET version_id = $3, last_updated = $4, last_updated_ms = $5, deleted = $6, \
                     change_seq = $7, body = $8 WHERE patient_key = $1 AND rkey = $2",
                    &[
                        &key,
                        &rkey,
                        &version_id,
                        &version.last_updated,
                        &version.last_updated_ms,
                        &deleted,
                        &change_seq,
                        &body,
                    ],
                )?;
                rkey
            }
            Some((old_key, rkey)) => {
                // The resource moves to another patient's compartment. A distribution column
                // cannot be updated on Citus, and a resource's rows all live under one key:
                // its history is copied under the new key and the old rows deleted, all in
                // this transaction.
                self.exec(
                    "INSERT INTO resource_version(rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) \
                     SELECT rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, $3, body FROM resource \
                     WHERE patient_key = $1 AND rkey = $2",
                    &[&old_key, &rkey, &key],
                )?;
                self.exec(
                    "INSERT INTO resource_version(rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) \
                     SELECT rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, $3, body FROM resource_version \
                     WHERE patient_key = $1 AND rkey = $2",
                    &[&old_key, &rkey, &key],
                )?;
                self.exec(
                    "DELETE FROM resource_version WHERE patient_key = $1 AND rkey = $2",
                    &[&old_key, &rkey],
                )?;
                self.exec(INDEX_DELETE, &[&old_key, &rkey])?;
                self.exec(
                    "DELETE FROM resource WHERE patient_key = $1 AND rkey = $2",
                    &[&old_key, &rkey],
                )?;
                self.exec(
                    "INSERT INTO resource(rkey, resource_type, id, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    &[
                        &rkey,
                        &version.resource_type,
                        &version.id,
                        &version_id,
                        &version.last_updated,
                        &version.last_updated_ms,
                        &deleted,
                        &change_seq,
                        &key,
                        &body,
                    ],
                )?;
                self.exec(
                    "UPDATE resource_locator SET patient_key = $3 WHERE id = $2 AND resource_type = $1",
                    &[&version.resource_type, &version.id, &key],
                )?;
                rkey
            }
            None => {
                let row = self.query_one(
                    "INSERT INTO resource(resource_type, id, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING rkey",
                    &[
                        &version.resource_type,
                        &version.id,
                        &version_id,
                        &version.last_updated,
                        &version.last_updated_ms,
                        &deleted,
                        &change_seq,
                        &key,
                        &body,
                    ],
                )?;
                let rkey: i64 = row.get(0);
                // The locator's primary key is where (type, id) is unique: two jobs creating
                // the same resource at once cannot both get here (the resource lock), and a
                // violation would roll back and retry.
                self.exec(
                    "INSERT INTO resource_locator(resource_type, id, patient_key, rkey) VALUES ($1, $2, $3, $4)",
                    &[&version.resource_type, &version.id, &key, &rkey],
                )?;
                rkey
            }
        };
        // The sync sequencer logs it once this transaction has committed (see `sync`).
        self.exec(
            "INSERT INTO sync_pending(change_seq, patient_key, rkey) VALUES ($1, $2, $3)",
            &[&change_seq, &key, &rkey],
        )?;
        if body.is_some() {
            self.insert_index_rows(&key, rkey, &version.resource_type, &version.index)?;
            crate::locator::record(
                self,
                &key,
                &version.resource_type,
                &version.id,
                &version.index,
            )?;
        }
        Ok(StoredResource {
            resource_type: version.resource_type,
            id: version.id,
            version_id: version.version_id,
            last_updated: version.last_updated,
            last_updated_ms: version.last_updated_ms,
            deleted,
            change_seq,
            body: body.unwrap_or_default(),
        })
    }
}

/// Clears a resource's index rows before its new version's are written (one round trip).
const INDEX_DELETE: &str = "WITH t AS (DELETE FROM idx_token WHERE patient_key = $1 AND rkey = $2), \
     s AS (DELETE FROM idx_string WHERE patient_key = $1 AND rkey = $2), \
     d AS (DELETE FROM idx_date WHERE patient_key = $1 AND rkey = $2), \
     n AS (DELETE FROM idx_number WHERE patient_key = $1 AND rkey = $2), \
     q AS (DELETE FROM idx_quantity WHERE patient_key = $1 AND rkey = $2), \
     r AS (DELETE FROM idx_reference WHERE patient_key = $1 AND rkey = $2) \
     DELETE FROM idx_uri WHERE patient_key = $1 AND rkey = $2";

/// The distribution key of a version (issue 15, see `schema`): the patient whose compartment
/// it is in, else `Type/id`.
fn distribution_key(resource_type: &str, id: &str, index: &[search::IndexEntry]) -> String {
    patient_key(resource_type, id, index).unwrap_or_else(|| format!("{resource_type}/{id}"))
}

/// The patient whose compartment a version is in: the patient itself for a Patient;
/// otherwise the patient its `patient` parameter names, else its `subject`, else the first
/// patient another compartment parameter names (`performer`, `author`…). The chart's owner
/// first: on Citus a search by `patient=`/`subject=` reads only that patient's shard, so a
/// resource that also names another patient (as performer, say) must be keyed by its owner.
fn patient_key(resource_type: &str, id: &str, index: &[search::IndexEntry]) -> Option<String> {
    if resource_type == "Patient" {
        return Some(id.to_string());
    }
    let codes = read::compartment_codes();
    let patients: Vec<(&str, &String)> = index
        .iter()
        .filter_map(|entry| match &entry.value {
            IndexValue::Reference {
                target_type: Some(target_type),
                target_id: Some(target_id),
                ..
            } if target_type == "Patient"
                && codes
                    .binary_search(&(resource_type.to_string(), entry.param.to_string()))
                    .is_ok() =>
            {
                Some((entry.param, target_id))
            }
            _ => None,
        })
        .collect();
    ["patient", "subject"]
        .iter()
        .find_map(|wanted| patients.iter().find(|(param, _)| param == wanted))
        .or_else(|| patients.first())
        .map(|(_, target_id)| (*target_id).clone())
}

/// PostgreSQL text cannot hold NUL; a value carrying one is indexed without it.
fn text(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains('\0') {
        std::borrow::Cow::Owned(value.replace('\0', ""))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// Parameter ids and five value columns (quantity: three texts and two numbers, so `T` is
/// the type of the last two; reference: five texts).
type Columns6<T> = (
    Vec<i64>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
    Vec<T>,
    Vec<T>,
);

/// A resource's index rows gathered per table, written with one `unnest` insert per table
/// (a round trip per table with rows instead of one per row).
#[derive(Default)]
struct IndexBatch {
    token: (Vec<i64>, Vec<String>, Vec<String>, Vec<Option<String>>),
    string: (Vec<i64>, Vec<String>, Vec<String>),
    date: (Vec<i64>, Vec<i64>, Vec<i64>),
    number: (Vec<i64>, Vec<f64>, Vec<f64>),
    quantity: Columns6<f64>,
    reference: Columns6<String>,
    uri: (Vec<i64>, Vec<String>),
}

fn owned(value: &str) -> String {
    text(value).into_owned()
}

impl Tx<'_> {
    fn insert_index_rows(
        &mut self,
        key: &str,
        rkey: i64,
        resource_type: &str,
        entries: &[search::IndexEntry],
    ) -> Result<(), Error> {
        let mut b = IndexBatch::default();
        for entry in entries {
            let pid = self.param_id(resource_type, entry.param)?;
            match &entry.value {
                IndexValue::Token {
                    system,
                    code,
                    text: display,
                } => {
                    b.token.0.push(pid);
                    b.token.1.push(owned(system.as_deref().unwrap_or("")));
                    b.token.2.push(owned(code));
                    b.token.3.push(display.as_deref().map(owned));
                }
                IndexValue::String { normalized, exact } => {
                    b.string.0.push(pid);
                    b.string.1.push(owned(normalized));
                    b.string.2.push(owned(exact));
                }
                IndexValue::Date { low_ms, high_ms } => {
                    b.date.0.push(pid);
                    b.date.1.push(*low_ms);
                    b.date.2.push(*high_ms);
                }
                IndexValue::Number { low, high } => {
                    b.number.0.push(pid);
                    b.number.1.push(*low);
                    b.number.2.push(*high);
                }
                IndexValue::Quantity {
                    system,
                    code,
                    unit,
                    low,
                    high,
                } => {
                    b.quantity.0.push(pid);
                    b.quantity.1.push(owned(system.as_deref().unwrap_or("")));
                    b.quantity.2.push(owned(code.as_deref().unwrap_or("")));
                    b.quantity.3.push(owned(unit.as_deref().unwrap_or("")));
                    b.quantity.4.push(*low);
                    b.quantity.5.push(*high);
                }
                IndexValue::Reference {
                    target_type,
                    target_id,
                    url,
                    identifier,
                } => {
                    let (id_system, id_value) = match identifier {
                        Some((system, value)) => (system.as_deref().unwrap_or(""), value.as_str()),
                        None => ("", ""),
                    };
                    b.reference.0.push(pid);
                    b.reference
                        .1
                        .push(owned(target_type.as_deref().unwrap_or("")));
                    b.reference
                        .2
                        .push(owned(target_id.as_deref().unwrap_or("")));
                    b.reference.3.push(owned(url.as_deref().unwrap_or("")));
                    b.reference.4.push(owned(id_system));
                    b.reference.5.push(owned(id_value));
                }
                IndexValue::Uri { uri } => {
                    b.uri.0.push(pid);
                    b.uri.1.push(owned(uri));
                }
            }
        }
        if !b.token.0.is_empty() {
            self.exec(
                "INSERT INTO idx_token(patient_key, rkey, pid, system, code, text) \
                 SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) ON CONFLICT DO NOTHING",
                &[&key, &rkey, &b.token.0, &b.token.1, &b.token.2, &b.token.3],
            )?;
        }
        if !b.string.0.is_empty() {
            self.exec(
                "INSERT INTO idx_string(patient_key, rkey, pid, normalized, exact) \
                 SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING",
                &[&key, &rkey, &b.string.0, &b.string.1, &b.string.2],
            )?;
        }
        if !b.date.0.is_empty() {
            self.exec(
                "INSERT INTO idx_date(patient_key, rkey, pid, low_ms, high_ms) \
                 SELECT $1, $2, * FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) ON CONFLICT DO NOTHING",
                &[&key, &rkey, &b.date.0, &b.date.1, &b.date.2],
            )?;
        }
        if !b.number.0.is_empty() {
            self.exec(
                "INSERT INTO idx_number(patient_key, rkey, pid, low, high) \
                 SELECT $1, $2, * FROM unnest($3::bigint[], $4::float8[], $5::float8[]) ON CONFLICT DO NOTHING",
                &[&key, &rkey, &b.number.0, &b.number.1, &b.number.2],
            )?;
        }
        if !b.quantity.0.is_empty() {
            let q = &b.quantity;
            self.exec(
                "INSERT INTO idx_quantity(patient_key, rkey, pid, system, code, unit, low, high) \
                 SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[]) \
                 ON CONFLICT DO NOTHING",
                &[&key, &rkey, &q.0, &q.1, &q.2, &q.3, &q.4, &q.5],
            )?;
        }
        if !b.reference.0.is_empty() {
            let r = &b.reference;
            self.exec(
                "INSERT INTO idx_reference(patient_key, rkey, pid, target_type, target_id, url, id_system, id_value) \
                 SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) \
                 ON CONFLICT DO NOTHING",
                &[&key, &rkey, &r.0, &r.1, &r.2, &r.3, &r.4, &r.5],
            )?;
        }
        if !b.uri.0.is_empty() {
            self.exec(
                "INSERT INTO idx_uri(patient_key, rkey, pid, uri) \
                 SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[]) ON CONFLICT DO NOTHING",
                &[&key, &rkey, &b.uri.0, &b.uri.1],
            )?;
        }
        Ok(())
    }
}
