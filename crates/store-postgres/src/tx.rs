//! The write transaction a job runs in.
//!
//! Isolation: READ COMMITTED plus advisory locks. A job that reads a resource before it writes
//! it (`current`, `read`, `put`) holds that resource's lock until commit, so two jobs writing
//! the same resource run one after the other and number their versions in turn; `lock` does
//! the same for whatever a job decides on (a CURP, a conditional create's condition). Each
//! statement sees everything committed before it began, which is what a job that holds the
//! lock for what it decides needs.

use std::collections::{HashMap, HashSet, VecDeque};

use postgres::types::ToSql;
use postgres::{GenericClient, Row, Statement, Transaction};
use search::IndexValue;
use store::{Error, PreparedVersion, SearchQuery, StoredResource, VersionInfo, WriteTx};

use crate::batch::{self, WriteBehind};
use crate::{PgStore, read, sql_error};

type Params<'p> = [&'p (dyn ToSql + Sync)];

pub(crate) struct Tx<'a> {
    pub(crate) tx: Option<Transaction<'a>>,
    /// The connection's prepared statements (see `pool::Conn`).
    stmts: &'a mut crate::pool::Stmts,
    pub(crate) store: &'a PgStore,
    locked: HashSet<String>,
    /// PostgreSQL reported a serialization failure, deadlock or unique violation, or the
    /// connection was lost before COMMIT: the whole job may succeed if run again.
    retry: bool,
    /// Rows written and not yet sent (see `batch`).
    behind: WriteBehind,
    /// Resources located in this transaction: `(patient_key, rkey)`, or `None` for absent.
    /// An entry is made only under the resource's lock, which this transaction holds until
    /// it ends, so no other writer can change it meanwhile; this transaction's own writes
    /// update it.
    located: HashMap<(String, String), Option<(String, i64)>>,
    /// Stamps looked up in this transaction (under the resource's lock, like `located`).
    stamps: HashMap<(String, String, i64, String), bool>,
    /// `(change_seq, rkey)` pairs drawn from the sequences ahead of use, and how many to draw
    /// next (one for a lone write; more, up to a bound, as a job keeps writing).
    drawn: VecDeque<(i64, i64)>,
    draw_next: i32,
    /// Answers of searches in this transaction, with the types each read: the guard asks
    /// the same questions for every version of a batch. Dropped when this transaction writes
    /// one of those types, or takes a lock (what a job decides after a lock must see what
    /// others committed before it).
    searches: HashMap<String, (Vec<String>, Vec<String>)>,
    /// Answers of `peek` in this transaction, kept like `searches` (by type).
    peeked: HashMap<(String, String), Option<StoredResource>>,
    /// The audit lane whose lock this transaction holds, once it appended (see `security`).
    pub(crate) audit_lane: Option<u16>,
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
            behind: WriteBehind::default(),
            located: HashMap::new(),
            stamps: HashMap::new(),
            drawn: VecDeque::new(),
            draw_next: 1,
            searches: HashMap::new(),
            peeked: HashMap::new(),
            audit_lane: None,
        })
    }

    /// The open transaction, with every row written so far sent (see `batch`): what any
    /// statement may need to see.
    pub(crate) fn conn(&mut self) -> Result<&mut Transaction<'a>, Error> {
        self.flush()?;
        self.client()
    }

    /// The open transaction as it is, held rows not sent: only for statements that cannot
    /// read them (see `batch`).
    fn client(&mut self) -> Result<&mut Transaction<'a>, Error> {
        self.tx
            .as_mut()
            .ok_or_else(|| Error::Other("the write transaction has ended".into()))
    }

    /// Ids matching `query`, with the held rows as they are (the caller sent what the search
    /// could read), on the connection's prepared statements.
    fn search_ids_sent(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<String>, Error> {
        let store = self.store;
        let tx = self
            .tx
            .as_mut()
            .ok_or_else(|| Error::Other("the write transaction has ended".into()))?;
        crate::query::search_ids(tx, Some(&mut *self.stmts), store, query, limit)
    }

    /// Sends the rows held (see `batch`).
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        if self.behind.is_empty() {
            return Ok(());
        }
        let behind = std::mem::take(&mut self.behind);
        let sent = behind.send(self.client()?);
        self.check(sent)
    }

    /// `sql` prepared on this connection, once.
    fn stmt(&mut self, sql: &'static str) -> Result<Statement, Error> {
        if let Some(stmt) = self.stmts.get(sql) {
            return Ok(stmt);
        }
        let prepared = self.client()?.prepare(sql);
        let stmt = self.check(prepared)?;
        self.stmts.insert(sql, stmt.clone());
        Ok(stmt)
    }

    /// Runs a fixed statement (prepared once per connection); returns the rows changed.
    pub(crate) fn exec(&mut self, sql: &'static str, params: &Params<'_>) -> Result<u64, Error> {
        self.flush()?;
        self.exec_held(sql, params)
    }

    /// [`Tx::exec`] without sending held rows first: for a statement that touches none.
    fn exec_held(&mut self, sql: &'static str, params: &Params<'_>) -> Result<u64, Error> {
        let stmt = self.stmt(sql)?;
        let outcome = self.client()?.execute(&stmt, params);
        self.check(outcome)
    }

    /// Runs a fixed query expecting at most one row.
    pub(crate) fn query_opt(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, Error> {
        self.flush()?;
        self.query_opt_held(sql, params)
    }

    /// [`Tx::query_opt`] without sending held rows first: for a query that reads none.
    pub(crate) fn query_opt_held(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, Error> {
        let stmt = self.stmt(sql)?;
        let outcome = self.client()?.query_opt(&stmt, params);
        self.check(outcome)
    }

    /// Runs a fixed query expecting one row.
    pub(crate) fn query_one(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
    ) -> Result<Row, Error> {
        self.flush()?;
        let stmt = self.stmt(sql)?;
        let outcome = self.client()?.query_one(&stmt, params);
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
        // A failure here is the job's last statement failing: a conflict is retried.
        self.flush()?;
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
        let result = self.client()?.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&key],
        );
        self.check(result)?;
        self.locked.insert(key.to_string());
        match key
            .strip_prefix("resource:")
            .and_then(|name| name.split_once('/'))
        {
            // What this job reads of that type from now on must see what the lock's previous
            // holder committed.
            Some((resource_type, _)) => self.forget(resource_type),
            // A job's own lock (a CURP, a condition): everything it reads next must be fresh.
            None => {
                self.searches.clear();
                self.peeked.clear();
            }
        }
        Ok(())
    }

    /// Drops the answers kept about resources of this type (see `searches`).
    fn forget(&mut self, resource_type: &str) {
        self.searches
            .retain(|_, (types, _)| !types.iter().any(|t| t == resource_type));
        self.peeked.retain(|(t, _), _| t != resource_type);
    }

    /// A resource's distribution key and internal key (see `read::LOCATE`). Only under the
    /// resource's lock (see `located`).
    fn locate(&mut self, resource_type: &str, id: &str) -> Result<Option<(String, i64)>, Error> {
        let name = (resource_type.to_string(), id.to_string());
        if let Some(found) = self.located.get(&name) {
            return Ok(found.clone());
        }
        let found = self
            .query_opt_held(read::LOCATE, &[&resource_type, &id])?
            .map(|row| (row.get(0), row.get(1)));
        self.located.insert(name, found.clone());
        Ok(found)
    }

    /// Whether a version with this stamp is logged, under the resource's lock (so the answer
    /// holds until this transaction ends, and this transaction's own log rows update it).
    pub(crate) fn stamp_logged(
        &mut self,
        resource_type: &str,
        id: &str,
        hlc: i64,
        origin: &str,
    ) -> Result<bool, Error> {
        self.lock_resource(resource_type, id)?;
        if self.behind.holds_stamp(resource_type, id, hlc, origin) {
            return Ok(true);
        }
        let name = (
            resource_type.to_string(),
            id.to_string(),
            hlc,
            origin.to_string(),
        );
        if let Some(known) = self.stamps.get(&name) {
            return Ok(*known);
        }
        let known = self
            .query_opt_held(
                "SELECT 1 FROM sync_log WHERE resource_type = $1 AND id = $2 AND hlc = $3 AND origin = $4 LIMIT 1",
                &[&resource_type, &id, &hlc, &origin],
            )?
            .is_some();
        self.stamps.insert(name, known);
        Ok(known)
    }

    /// A batch's resources claimed, located and their stamps looked up, in three statements
    /// (`SyncTx::prepare_versions`): what `lock_resource`, `locate` and `stamp_logged` would
    /// ask one version at a time.
    pub(crate) fn prepare(
        &mut self,
        versions: &[(&str, &str, &store::sync::Stamp)],
    ) -> Result<(), Error> {
        let mut keys: Vec<String> = versions
            .iter()
            .map(|(t, id, _)| format!("resource:{t}/{id}"))
            .filter(|key| !self.locked.contains(key))
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        // One order for every job, so two jobs claiming overlapping batches cannot deadlock
        // on each other (the array is consumed in order).
        keys.sort();
        keys.dedup();
        let claimed = self.client()?.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest($1::text[]) AS k",
            &[&keys],
        );
        self.check(claimed)?;
        for key in keys {
            if let Some((resource_type, _)) = key
                .strip_prefix("resource:")
                .and_then(|name| name.split_once('/'))
            {
                self.forget(resource_type);
            }
            self.locked.insert(key);
        }
        // Read after the claim, so what the previous holders committed is seen.
        let unknown: Vec<(&str, &str)> = versions
            .iter()
            .map(|(t, id, _)| (*t, *id))
            .filter(|(t, id)| !self.located.contains_key(&(t.to_string(), id.to_string())))
            .collect();
        if !unknown.is_empty() {
            let types: Vec<&str> = unknown.iter().map(|(t, _)| *t).collect();
            let ids: Vec<&str> = unknown.iter().map(|(_, id)| *id).collect();
            let rows = self.client()?.query(
                "SELECT l.resource_type, l.id, l.patient_key, l.rkey FROM resource_locator l \
                 JOIN unnest($1::text[], $2::text[]) AS u(t, i) ON l.resource_type = u.t AND l.id = u.i",
                &[&types, &ids],
            );
            for (t, id) in &unknown {
                self.located.insert((t.to_string(), id.to_string()), None);
            }
            for row in self.check(rows)? {
                self.located
                    .insert((row.get(0), row.get(1)), Some((row.get(2), row.get(3))));
            }
        }
        let types: Vec<&str> = versions.iter().map(|(t, _, _)| *t).collect();
        let ids: Vec<&str> = versions.iter().map(|(_, id, _)| *id).collect();
        let hlcs: Vec<i64> = versions.iter().map(|(_, _, s)| s.hlc).collect();
        let origins: Vec<&str> = versions.iter().map(|(_, _, s)| s.origin.as_str()).collect();
        let rows = self.client()?.query(
            "SELECT l.resource_type, l.id, l.hlc, l.origin FROM sync_log l \
             JOIN unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(t, i, h, o) \
             ON l.resource_type = u.t AND l.id = u.i AND l.hlc = u.h AND l.origin = u.o",
            &[&types, &ids, &hlcs, &origins],
        );
        for (t, id, stamp) in versions {
            self.stamps
                .entry((
                    t.to_string(),
                    id.to_string(),
                    stamp.hlc,
                    stamp.origin.clone(),
                ))
                .or_insert(false);
        }
        for row in self.check(rows)? {
            self.stamps
                .insert((row.get(0), row.get(1), row.get(2), row.get(3)), true);
        }
        Ok(())
    }

    /// Holds a sync log row (sent with the others, see `batch`).
    pub(crate) fn hold_log(&mut self, entry: &store::sync::LogEntry) {
        // Known from now on, also after the held row is sent: the memo must not keep an
        // earlier "not logged" for it (a version pushed twice in one batch would apply twice).
        self.stamps.insert(
            (
                entry.resource_type.clone(),
                entry.id.clone(),
                entry.stamp.hlc,
                entry.stamp.origin.clone(),
            ),
            true,
        );
        self.behind.log(entry);
    }

    /// The log row held for this position, if this transaction wrote it.
    pub(crate) fn held_log(&self, change_seq: i64) -> Option<store::sync::LogEntry> {
        self.behind.log_entry(change_seq).cloned()
    }

    /// Holds an identifier locator row (see `locator`).
    pub(crate) fn hold_identifier(
        &mut self,
        value: String,
        system: String,
        resource_type: &str,
        id: &str,
        key: &str,
    ) {
        self.behind
            .identifier((value, system), resource_type, id, key);
    }

    pub(crate) fn hold_follow(&mut self, node_id: &str, patient_id: &str, since_ms: i64) {
        self.behind.follow(node_id, patient_id, since_ms);
    }

    pub(crate) fn hold_patient(&mut self, pos: i64, patient_id: &str) {
        self.behind.patient(pos, patient_id);
    }

    /// The next `(change_seq, rkey)`: drawn in blocks, one round trip for many writes. A
    /// value drawn and not used is a gap, as after a rollback; both sequences allow gaps.
    fn draw(&mut self) -> Result<(i64, i64), Error> {
        if let Some(pair) = self.drawn.pop_front() {
            return Ok(pair);
        }
        let count = self.draw_next;
        self.draw_next = (count * 4).min(DRAW_MAX);
        let rows = self.client()?.query(
            "SELECT nextval('change_seq_seq'), nextval('resource_rkey_seq') FROM generate_series(1, $1::int)",
            &[&count],
        );
        for row in self.check(rows)? {
            self.drawn.push_back((row.get(0), row.get(1)));
        }
        self.drawn
            .pop_front()
            .ok_or_else(|| Error::Other("the sequences gave no value".into()))
    }

    fn lock_resource(&mut self, resource_type: &str, id: &str) -> Result<(), Error> {
        self.lock_key(&format!("resource:{resource_type}/{id}"))
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

/// Sequence values drawn at once at most (see `Tx::draw`).
const DRAW_MAX: i32 = 256;

impl WriteTx for Tx<'_> {
    fn current(&mut self, resource_type: &str, id: &str) -> Result<Option<VersionInfo>, Error> {
        if self.behind.holds(resource_type, id) {
            self.flush()?;
        }
        self.lock_resource(resource_type, id)?;
        let Some((key, rkey)) = self.locate(resource_type, id)? else {
            return Ok(None);
        };
        let row = self.query_opt_held(
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
        if self.behind.holds(resource_type, id) {
            self.flush()?;
        }
        self.lock_resource(resource_type, id)?;
        let Some((key, rkey)) = self.locate(resource_type, id)? else {
            return Ok(None);
        };
        let row = self.query_opt_held(read::CURRENT, &[&key, &rkey])?;
        Ok(row.as_ref().map(read::stored_from_row))
    }

    fn peek(&mut self, resource_type: &str, id: &str) -> Result<Option<StoredResource>, Error> {
        let name = (resource_type.to_string(), id.to_string());
        if let Some(found) = self.peeked.get(&name) {
            return Ok(found.clone());
        }
        if self.behind.holds(resource_type, id) {
            self.flush()?;
        }
        let found = if let Some(located) = self.located.get(&name).cloned() {
            // Located under this job's lock: a held row was sent above.
            match located {
                Some((key, rkey)) => self
                    .query_opt_held(read::CURRENT, &[&key, &rkey])?
                    .as_ref()
                    .map(read::stored_from_row),
                None => None,
            }
        } else if self.store.citus {
            match self
                .query_opt_held(read::LOCATE, &[&resource_type, &id])?
                .map(|row| (row.get::<_, String>(0), row.get::<_, i64>(1)))
            {
                Some((key, rkey)) => self
                    .query_opt_held(read::CURRENT, &[&key, &rkey])?
                    .as_ref()
                    .map(read::stored_from_row),
                None => None,
            }
        } else {
            self.query_opt_held(read::CURRENT_BY_ID, &[&resource_type, &id])?
                .as_ref()
                .map(read::stored_from_row)
        };
        self.peeked.insert(name, found.clone());
        Ok(found)
    }

    fn search_ids(&mut self, query: &SearchQuery, limit: usize) -> Result<Vec<String>, Error> {
        let Some(types) = batch::query_types(query) else {
            self.flush()?;
            return self.search_ids_sent(query, limit);
        };
        let memo = format!("{limit}\u{1f}{query:?}");
        if let Some((_, ids)) = self.searches.get(&memo) {
            return Ok(ids.clone());
        }
        if self.behind.touches(&types) {
            self.flush()?;
        }
        let ids = self.search_ids_sent(query, limit)?;
        self.searches.insert(memo, (types, ids.clone()));
        Ok(ids)
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

    fn put_app(&mut self, app: &store::App) -> Result<(), Error> {
        crate::security::put_app(self.conn()?, app)
    }

    fn delete_app(&mut self, client_id: &str) -> Result<bool, Error> {
        crate::security::delete_app(self.conn()?, client_id)
    }

    fn lock(&mut self, key: &str) -> Result<(), Error> {
        self.lock_key(key)
    }

    fn sync(&mut self) -> Option<&mut dyn store::sync::SyncTx> {
        Some(self)
    }

    fn put_prepared(&mut self, version: PreparedVersion) -> Result<StoredResource, Error> {
        if self.behind.holds(&version.resource_type, &version.id) {
            // An earlier version of it is held: the statements below read its rows.
            self.flush()?;
        }
        self.lock_resource(&version.resource_type, &version.id)?;
        let resource_type = version.resource_type.clone();
        self.forget(&resource_type);
        let body = version.body;
        let deleted = body.is_none();
        let key = distribution_key(&version.resource_type, &version.id, &version.index);
        let version_id = i64::try_from(version.version_id).unwrap_or(i64::MAX);
        let existing = self.locate(&version.resource_type, &version.id)?;
        let (change_seq, new_rkey) = self.draw()?;
        // The statements for an existing resource touch only its own rows, which are not
        // held (checked above): they need not send what is held.
        let rkey: i64 = match existing {
            Some((old_key, rkey)) if old_key == key => {
                self.exec_held(
                    "INSERT INTO resource_version(rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) \
                     SELECT rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body FROM resource \
                     WHERE patient_key = $1 AND rkey = $2",
                    &[&key, &rkey],
                )?;
                self.exec_held(INDEX_DELETE, &[&key, &rkey])?;
                self.exec_held(
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
                self.exec_held(
                    "INSERT INTO resource_version(rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) \
                     SELECT rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, $3, body FROM resource \
                     WHERE patient_key = $1 AND rkey = $2",
                    &[&old_key, &rkey, &key],
                )?;
                self.exec_held(
                    "INSERT INTO resource_version(rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) \
                     SELECT rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, $3, body FROM resource_version \
                     WHERE patient_key = $1 AND rkey = $2",
                    &[&old_key, &rkey, &key],
                )?;
                self.exec_held(
                    "DELETE FROM resource_version WHERE patient_key = $1 AND rkey = $2",
                    &[&old_key, &rkey],
                )?;
                self.exec_held(INDEX_DELETE, &[&old_key, &rkey])?;
                self.exec_held(
                    "DELETE FROM resource WHERE patient_key = $1 AND rkey = $2",
                    &[&old_key, &rkey],
                )?;
                self.exec_held(
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
                self.exec_held(
                    "UPDATE resource_locator SET patient_key = $3 WHERE id = $2 AND resource_type = $1",
                    &[&version.resource_type, &version.id, &key],
                )?;
                rkey
            }
            None => {
                // Held, with its locator row (see `batch`).
                self.behind.create(
                    new_rkey,
                    &version.resource_type,
                    &version.id,
                    version_id,
                    &version.last_updated,
                    version.last_updated_ms,
                    deleted,
                    change_seq,
                    &key,
                    body.clone(),
                );
                new_rkey
            }
        };
        self.located.insert(
            (version.resource_type.clone(), version.id.clone()),
            Some((key.clone(), rkey)),
        );
        // The sync sequencer logs it once this transaction has committed (see `sync`).
        self.behind.pending(change_seq, &key, rkey);
        if body.is_some() {
            let store = self.store;
            self.behind.index(
                (&key, rkey),
                (&resource_type, &version.id),
                &version.index,
                |code| store.intern_param(&resource_type, code),
            )?;
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
