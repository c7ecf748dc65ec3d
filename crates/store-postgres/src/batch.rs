//! Write-behind: the rows a write transaction adds, held in memory and sent as one multi-row
//! statement per table.
//!
//! Why: a hub ingest round writes hundreds of versions in one transaction, and each version
//! adds rows to up to eleven tables (the resource, its locator, the sequencer's queue, the sync
//! log and patient index, up to seven index tables). One statement per table per version made
//! the round trip, not PostgreSQL, the cost (`pg_stat_statements`: ~25 statements per version,
//! the server idle most of the time). Held rows are sent in one `INSERT … SELECT FROM unnest`
//! per table.
//!
//! The rule that keeps this invisible to callers: **every statement of the transaction sees
//! the held rows**. `Tx::conn` sends them before handing out the connection, so any statement
//! flushes first; only the few paths that know what is held skip it (`Tx::client`): the lock,
//! the locator cache, sequence draws, a stamp lookup that checks the held log first, a log
//! entry held here, and a search over types none of the held rows is of ([`query_types`]).
//! COMMIT flushes last. A failure while flushing fails the job like the statement it stands
//! for (a conflict is retried from the start, as before).

use std::collections::{HashMap, HashSet};

use postgres::Transaction;
use search::{Filter, IndexEntry, IndexValue, SearchQuery};
use store::sync::LogEntry;

/// A new resource row (and its locator row, which carries the same key).
struct NewResource {
    rkey: i64,
    resource_type: String,
    id: String,
    version_id: i64,
    last_updated: String,
    last_updated_ms: i64,
    deleted: bool,
    change_seq: i64,
    key: String,
    body: Option<String>,
}

/// Rows of one index table: their keys, parameter ids, text columns and number columns.
type Rows<const TEXTS: usize, const NUMBERS: usize> =
    (Keys, Vec<i64>, [Vec<String>; TEXTS], [Vec<f64>; NUMBERS]);

/// Index rows of many resources, a column per vector (`unnest` takes them as arrays).
#[derive(Default)]
struct IndexRows {
    /// system, code; and the display text, which may be NULL.
    token: (Rows<2, 0>, Vec<Option<String>>),
    string: Rows<2, 0>,
    date: (Keys, Vec<i64>, [Vec<i64>; 2]),
    number: Rows<0, 2>,
    quantity: Rows<3, 2>,
    reference: Rows<5, 0>,
    uri: Rows<1, 0>,
}

/// The `(patient_key, rkey)` of each row.
#[derive(Default)]
struct Keys {
    key: Vec<String>,
    rkey: Vec<i64>,
}

impl Keys {
    fn push(&mut self, key: &str, rkey: i64) {
        self.key.push(key.to_string());
        self.rkey.push(rkey);
    }
}

/// An identifier locator row's (value, system, resource type, id).
type IdentifierRow = (String, String, String, String);

/// What a write transaction has written and not yet sent.
#[derive(Default)]
pub(crate) struct WriteBehind {
    resources: Vec<NewResource>,
    /// `(change_seq, patient_key, rkey)` for the sequencer's queue.
    pending: Vec<(i64, String, i64)>,
    index: IndexRows,
    /// Sync log rows by change_seq (a later entry for the same position replaces the earlier,
    /// as the upsert it stands for would).
    log: HashMap<i64, LogEntry>,
    follows: HashSet<(String, String, i64)>,
    /// Identifier locator rows (`locator`), by (value, system, type, id): the last key wins,
    /// as the upsert each stands for would.
    identifiers: HashMap<IdentifierRow, String>,
    patients: HashSet<(i64, String)>,
    /// Types of the resources whose rows are held (new resources and index rows).
    types: HashSet<String>,
    /// Resources with rows held (new resources, index rows), by (type, id).
    held: HashSet<(String, String)>,
    rows: usize,
}

impl WriteBehind {
    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Whether a row of this resource is held (new, or index rows of a version not yet sent).
    pub(crate) fn holds(&self, resource_type: &str, id: &str) -> bool {
        self.held
            .contains(&(resource_type.to_string(), id.to_string()))
    }

    /// Whether a search over `types` could read a held row.
    pub(crate) fn touches(&self, types: &[String]) -> bool {
        types.iter().any(|t| self.types.contains(t))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create(
        &mut self,
        rkey: i64,
        resource_type: &str,
        id: &str,
        version_id: i64,
        last_updated: &str,
        last_updated_ms: i64,
        deleted: bool,
        change_seq: i64,
        key: &str,
        body: Option<String>,
    ) {
        self.held
            .insert((resource_type.to_string(), id.to_string()));
        self.types.insert(resource_type.to_string());
        self.resources.push(NewResource {
            rkey,
            resource_type: resource_type.to_string(),
            id: id.to_string(),
            version_id,
            last_updated: last_updated.to_string(),
            last_updated_ms,
            deleted,
            change_seq,
            key: key.to_string(),
            body,
        });
        self.rows += 1;
    }

    pub(crate) fn pending(&mut self, change_seq: i64, key: &str, rkey: i64) {
        self.pending.push((change_seq, key.to_string(), rkey));
        self.rows += 1;
    }

    pub(crate) fn log(&mut self, entry: &LogEntry) {
        self.log.insert(entry.change_seq, entry.clone());
        self.rows += 1;
    }

    /// The log entry held for this position, if any.
    pub(crate) fn log_entry(&self, change_seq: i64) -> Option<&LogEntry> {
        self.log.get(&change_seq)
    }

    /// Whether a held log entry carries this stamp.
    pub(crate) fn holds_stamp(
        &self,
        resource_type: &str,
        id: &str,
        hlc: i64,
        origin: &str,
    ) -> bool {
        self.log.values().any(|e| {
            e.stamp.hlc == hlc
                && e.stamp.origin == origin
                && e.resource_type == resource_type
                && e.id == id
        })
    }

    pub(crate) fn identifier(
        &mut self,
        (value, system): (String, String),
        resource_type: &str,
        id: &str,
        key: &str,
    ) {
        self.identifiers.insert(
            (value, system, resource_type.to_string(), id.to_string()),
            key.to_string(),
        );
        self.types.insert(resource_type.to_string());
        self.rows += 1;
    }

    pub(crate) fn follow(&mut self, node_id: &str, patient_id: &str, since_ms: i64) {
        self.follows
            .insert((node_id.to_string(), patient_id.to_string(), since_ms));
        self.rows += 1;
    }

    pub(crate) fn patient(&mut self, pos: i64, patient_id: &str) {
        self.patients.insert((pos, patient_id.to_string()));
        self.rows += 1;
    }

    /// Holds a resource's index rows (`pid` resolves parameter codes to ids).
    pub(crate) fn index(
        &mut self,
        (key, rkey): (&str, i64),
        (resource_type, id): (&str, &str),
        entries: &[IndexEntry],
        mut pid: impl FnMut(&str) -> Result<i64, store::Error>,
    ) -> Result<(), store::Error> {
        if entries.is_empty() {
            return Ok(());
        }
        self.held
            .insert((resource_type.to_string(), id.to_string()));
        self.types.insert(resource_type.to_string());
        let b = &mut self.index;
        for entry in entries {
            let p = pid(entry.param)?;
            match &entry.value {
                IndexValue::Token { system, code, text } => {
                    let t = &mut b.token.0;
                    t.0.push(key, rkey);
                    t.1.push(p);
                    t.2[0].push(owned(system.as_deref().unwrap_or("")));
                    t.2[1].push(owned(code));
                    b.token.1.push(text.as_deref().map(owned));
                }
                IndexValue::String { normalized, exact } => {
                    b.string.0.push(key, rkey);
                    b.string.1.push(p);
                    b.string.2[0].push(owned(normalized));
                    b.string.2[1].push(owned(exact));
                }
                IndexValue::Date { low_ms, high_ms } => {
                    b.date.0.push(key, rkey);
                    b.date.1.push(p);
                    b.date.2[0].push(*low_ms);
                    b.date.2[1].push(*high_ms);
                }
                IndexValue::Number { low, high } => {
                    b.number.0.push(key, rkey);
                    b.number.1.push(p);
                    b.number.3[0].push(*low);
                    b.number.3[1].push(*high);
                }
                IndexValue::Quantity {
                    system,
                    code,
                    unit,
                    low,
                    high,
                } => {
                    b.quantity.0.push(key, rkey);
                    b.quantity.1.push(p);
                    b.quantity.2[0].push(owned(system.as_deref().unwrap_or("")));
                    b.quantity.2[1].push(owned(code.as_deref().unwrap_or("")));
                    b.quantity.2[2].push(owned(unit.as_deref().unwrap_or("")));
                    b.quantity.3[0].push(*low);
                    b.quantity.3[1].push(*high);
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
                    b.reference.0.push(key, rkey);
                    b.reference.1.push(p);
                    let cols = &mut b.reference.2;
                    cols[0].push(owned(target_type.as_deref().unwrap_or("")));
                    cols[1].push(owned(target_id.as_deref().unwrap_or("")));
                    cols[2].push(owned(url.as_deref().unwrap_or("")));
                    cols[3].push(owned(id_system));
                    cols[4].push(owned(id_value));
                }
                IndexValue::Uri { uri } => {
                    b.uri.0.push(key, rkey);
                    b.uri.1.push(p);
                    b.uri.2[0].push(owned(uri));
                }
            }
            self.rows += 1;
        }
        Ok(())
    }

    /// Sends every held row, one statement per table that has some.
    pub(crate) fn send(self, tx: &mut Transaction<'_>) -> Result<(), postgres::Error> {
        if !self.resources.is_empty() {
            let r = &self.resources;
            let rkey: Vec<i64> = r.iter().map(|r| r.rkey).collect();
            let types: Vec<&str> = r.iter().map(|r| r.resource_type.as_str()).collect();
            let ids: Vec<&str> = r.iter().map(|r| r.id.as_str()).collect();
            let versions: Vec<i64> = r.iter().map(|r| r.version_id).collect();
            let updated: Vec<&str> = r.iter().map(|r| r.last_updated.as_str()).collect();
            let updated_ms: Vec<i64> = r.iter().map(|r| r.last_updated_ms).collect();
            let deleted: Vec<bool> = r.iter().map(|r| r.deleted).collect();
            let seqs: Vec<i64> = r.iter().map(|r| r.change_seq).collect();
            let keys: Vec<&str> = r.iter().map(|r| r.key.as_str()).collect();
            let bodies: Vec<Option<&str>> = r.iter().map(|r| r.body.as_deref()).collect();
            tx.execute(
                "INSERT INTO resource(rkey, resource_type, id, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bool[], $8::bigint[], $9::text[], $10::text[])",
                &[&rkey, &types, &ids, &versions, &updated, &updated_ms, &deleted, &seqs, &keys, &bodies],
            )?;
            // The locator's primary key is where (type, id) is unique: a resource created by
            // two transactions at once fails here with a unique violation, and the job is run
            // again (it then finds the other's).
            tx.execute(
                "INSERT INTO resource_locator(resource_type, id, patient_key, rkey) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])",
                &[&types, &ids, &keys, &rkey],
            )?;
        }
        if !self.pending.is_empty() {
            let seqs: Vec<i64> = self.pending.iter().map(|p| p.0).collect();
            let keys: Vec<&str> = self.pending.iter().map(|p| p.1.as_str()).collect();
            let rkeys: Vec<i64> = self.pending.iter().map(|p| p.2).collect();
            tx.execute(
                "INSERT INTO sync_pending(change_seq, patient_key, rkey) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])",
                &[&seqs, &keys, &rkeys],
            )?;
        }
        send_index(tx, &self.index)?;
        if !self.identifiers.is_empty() {
            let rows: Vec<_> = self.identifiers.iter().collect();
            let values: Vec<&str> = rows.iter().map(|(k, _)| k.0.as_str()).collect();
            let systems: Vec<&str> = rows.iter().map(|(k, _)| k.1.as_str()).collect();
            let types: Vec<&str> = rows.iter().map(|(k, _)| k.2.as_str()).collect();
            let ids: Vec<&str> = rows.iter().map(|(k, _)| k.3.as_str()).collect();
            let keys: Vec<&str> = rows.iter().map(|(_, key)| key.as_str()).collect();
            tx.execute(
                crate::locator::UPSERT,
                &[&values, &systems, &types, &ids, &keys],
            )?;
        }
        if !self.log.is_empty() {
            let entries: Vec<&LogEntry> = self.log.values().collect();
            let seqs: Vec<i64> = entries.iter().map(|e| e.change_seq).collect();
            let types: Vec<&str> = entries.iter().map(|e| e.resource_type.as_str()).collect();
            let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
            let hlcs: Vec<i64> = entries.iter().map(|e| e.stamp.hlc).collect();
            let origins: Vec<&str> = entries.iter().map(|e| e.stamp.origin.as_str()).collect();
            let parent_hlcs: Vec<Option<i64>> = entries
                .iter()
                .map(|e| e.parent.as_ref().map(|p| p.hlc))
                .collect();
            let parent_origins: Vec<Option<&str>> = entries
                .iter()
                .map(|e| e.parent.as_ref().map(|p| p.origin.as_str()))
                .collect();
            let kinds: Vec<i16> = entries
                .iter()
                .map(|e| i16::try_from(e.kind.code()).unwrap_or(0))
                .collect();
            tx.execute(
                "INSERT INTO sync_log(change_seq, resource_type, id, hlc, origin, parent_hlc, parent_origin, kind) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::int2[]) \
                 ON CONFLICT (change_seq) DO UPDATE SET resource_type = EXCLUDED.resource_type, id = EXCLUDED.id, \
                 hlc = EXCLUDED.hlc, origin = EXCLUDED.origin, parent_hlc = EXCLUDED.parent_hlc, \
                 parent_origin = EXCLUDED.parent_origin, kind = EXCLUDED.kind",
                &[&seqs, &types, &ids, &hlcs, &origins, &parent_hlcs, &parent_origins, &kinds],
            )?;
        }
        if !self.follows.is_empty() {
            let nodes: Vec<&str> = self.follows.iter().map(|f| f.0.as_str()).collect();
            let patients: Vec<&str> = self.follows.iter().map(|f| f.1.as_str()).collect();
            let since: Vec<i64> = self.follows.iter().map(|f| f.2).collect();
            tx.execute(
                "INSERT INTO sync_follow(node_id, patient_id, since_ms) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING",
                &[&nodes, &patients, &since],
            )?;
        }
        if !self.patients.is_empty() {
            let pos: Vec<i64> = self.patients.iter().map(|p| p.0).collect();
            let patients: Vec<&str> = self.patients.iter().map(|p| p.1.as_str()).collect();
            tx.execute(
                "INSERT INTO sync_patient(pos, patient_id) \
                 SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING",
                &[&pos, &patients],
            )?;
        }
        Ok(())
    }
}

fn send_index(tx: &mut Transaction<'_>, b: &IndexRows) -> Result<(), postgres::Error> {
    if !b.token.0.1.is_empty() {
        let (t, text) = &b.token;
        tx.execute(
            "INSERT INTO idx_token(patient_key, rkey, pid, system, code, text) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) ON CONFLICT DO NOTHING",
            &[&t.0.key, &t.0.rkey, &t.1, &t.2[0], &t.2[1], text],
        )?;
    }
    if !b.string.1.is_empty() {
        let s = &b.string;
        tx.execute(
            "INSERT INTO idx_string(patient_key, rkey, pid, normalized, exact) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING",
            &[&s.0.key, &s.0.rkey, &s.1, &s.2[0], &s.2[1]],
        )?;
    }
    if !b.date.1.is_empty() {
        let d = &b.date;
        tx.execute(
            "INSERT INTO idx_date(patient_key, rkey, pid, low_ms, high_ms) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) ON CONFLICT DO NOTHING",
            &[&d.0.key, &d.0.rkey, &d.1, &d.2[0], &d.2[1]],
        )?;
    }
    if !b.number.1.is_empty() {
        let n = &b.number;
        tx.execute(
            "INSERT INTO idx_number(patient_key, rkey, pid, low, high) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::float8[], $5::float8[]) ON CONFLICT DO NOTHING",
            &[&n.0.key, &n.0.rkey, &n.1, &n.3[0], &n.3[1]],
        )?;
    }
    if !b.quantity.1.is_empty() {
        let q = &b.quantity;
        tx.execute(
            "INSERT INTO idx_quantity(patient_key, rkey, pid, system, code, unit, low, high) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[]) \
             ON CONFLICT DO NOTHING",
            &[&q.0.key, &q.0.rkey, &q.1, &q.2[0], &q.2[1], &q.2[2], &q.3[0], &q.3[1]],
        )?;
    }
    if !b.reference.1.is_empty() {
        let r = &b.reference;
        tx.execute(
            "INSERT INTO idx_reference(patient_key, rkey, pid, target_type, target_id, url, id_system, id_value) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) \
             ON CONFLICT DO NOTHING",
            &[&r.0.key, &r.0.rkey, &r.1, &r.2[0], &r.2[1], &r.2[2], &r.2[3], &r.2[4]],
        )?;
    }
    if !b.uri.1.is_empty() {
        let u = &b.uri;
        tx.execute(
            "INSERT INTO idx_uri(patient_key, rkey, pid, uri) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) ON CONFLICT DO NOTHING",
            &[&u.0.key, &u.0.rkey, &u.1, &u.2[0]],
        )?;
    }
    Ok(())
}

/// PostgreSQL text cannot hold NUL; a value carrying one is indexed without it.
fn owned(value: &str) -> String {
    value.replace('\0', "")
}

/// Every resource type a search reads rows of: its own, and those of its chains and `_has`
/// clauses. `None` when it reads more than that (`_include`, `_revinclude`).
pub(crate) fn query_types(query: &SearchQuery) -> Option<Vec<String>> {
    if !query.include.is_empty() || !query.revinclude.is_empty() {
        return None;
    }
    let mut types = vec![query.resource_type.clone()];
    for filter in &query.filters {
        filter_types(filter, &mut types);
    }
    Some(types)
}

fn filter_types(filter: &Filter, types: &mut Vec<String>) {
    match filter {
        Filter::Param(clause) => {
            if let Some(chain) = &clause.chain {
                types.push(chain.resource_type.clone());
                filter_types(&chain.filter, types);
            }
        }
        Filter::Has(has) => {
            types.push(has.resource_type.clone());
            filter_types(&has.filter, types);
        }
        Filter::Id { .. } | Filter::LastUpdated { .. } => {}
    }
}
