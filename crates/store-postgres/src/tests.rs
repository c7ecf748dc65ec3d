//! PostgreSQL runs of the shared behaviour suite, and what only this engine has to show; the
//! same suite again on a Citus cluster (issue 15).
//!
//! Needs a server: `EXPEDIENTE_TEST_PG` names an administrator URL (`scripts/postgres.sh
//! start` prints it); each test creates its own database. Without it the tests fail, never
//! skip: a green run must mean the PostgreSQL engine was exercised.
//!
//! The Citus tests need `EXPEDIENTE_TEST_CITUS`, the administrator URL of a coordinator whose
//! workers are registered in its `postgres` database (`cluster.sh start` of
//! `../shared/vendor/citus`, as `test.sh` does). Each test gets its own database there too:
//! created on the coordinator and on every worker, with the extension in each and the workers
//! registered for it (Citus keeps its node list per database). That costs ~3 s per test but
//! keeps the tests as independent as on PostgreSQL; a schema per test would share advisory
//! locks and the sequences' database between tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use store::{Store, write_with};

use crate::PgStore;

/// A new, empty database on the test server, dropped when the value is.
pub(crate) struct TestDb {
    admin: String,
    name: String,
    pub url: String,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Best effort: a database left behind only costs disk on a throwaway server.
        let name = self.name.clone();
        let admin = self.admin.clone();
        crate::pool::off_runtime(move || {
            if let Ok(mut client) = crate::pool::connect(&admin) {
                let _ =
                    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        });
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}

/// A new, empty database on the test server (see [`TestDb`]).
pub(crate) fn fresh_database() -> TestDb {
    let admin = std::env::var("EXPEDIENTE_TEST_PG").unwrap_or_else(|_| {
        panic!(
            "EXPEDIENTE_TEST_PG is not set: these tests need PostgreSQL 15. Start a throwaway \
             server with `scripts/postgres.sh start` (it installs PostgreSQL from Debian's \
             packages if needed) and export the URL it prints, e.g. \
             EXPEDIENTE_TEST_PG=postgres://postgres@127.0.0.1:54329/postgres"
        )
    });
    let name = unique_name();
    let mut client = crate::pool::connect(&admin)
        .unwrap_or_else(|err| panic!("cannot reach EXPEDIENTE_TEST_PG ({admin}): {err}"));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    TestDb {
        url: with_database(&admin, &name),
        admin,
        name,
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// A new, empty database on every node of the Citus test cluster, the workers registered in
/// it; dropped on every node when the value is.
pub(crate) struct CitusDb {
    /// Administrator URLs of the coordinator and the workers (their `postgres` database).
    nodes: Vec<String>,
    name: String,
    pub url: String,
}

impl Drop for CitusDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let nodes = self.nodes.clone();
        crate::pool::off_runtime(move || {
            for admin in nodes {
                if let Ok(mut client) = crate::pool::connect(&admin) {
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        });
    }
}

/// The Citus coordinator's administrator URL; fails (never skips) without it.
fn citus_admin() -> String {
    std::env::var("EXPEDIENTE_TEST_CITUS").unwrap_or_else(|_| {
        panic!(
            "EXPEDIENTE_TEST_CITUS is not set: these tests need a Citus cluster. Install and \
             start one with ../shared/vendor/citus/install.sh and `cluster.sh start DIR PORT 2` \
             (as test.sh does) and export the coordinator's URL, e.g. \
             EXPEDIENTE_TEST_CITUS=postgres://postgres@127.0.0.1:54339/postgres"
        )
    })
}

/// `url` with its host and port replaced.
fn with_host(url: &str, host: &str, port: i32) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let (user, after_user) = match rest.find('@') {
        Some(at) => (&rest[..=at], &rest[at + 1..]),
        None => ("", rest),
    };
    let path = after_user
        .find('/')
        .map_or("", |slash| &after_user[slash..]);
    format!("{}{user}{host}:{port}{path}", &url[..scheme_end])
}

/// A new database on the Citus test cluster (see [`CitusDb`]).
pub(crate) fn fresh_citus_database() -> CitusDb {
    // One database set up at a time: concurrent `citus_add_node`s in parallel tests
    // occasionally lost their connection to a worker ("marked as essential").
    static SETUP: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = SETUP
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let admin = citus_admin();
    let name = unique_name();
    let mut coordinator = crate::pool::connect(&admin)
        .unwrap_or_else(|err| panic!("cannot reach EXPEDIENTE_TEST_CITUS ({admin}): {err}"));
    let nodes: Vec<(String, i32, i32)> = coordinator
        .query(
            "SELECT nodename, nodeport, groupid FROM pg_dist_node \
             WHERE noderole = 'primary' ORDER BY groupid",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    assert!(
        nodes.iter().any(|(_, _, group)| *group > 0),
        "the Citus cluster at {admin} has no workers registered"
    );
    let mut admins = vec![admin.clone()];
    let mut registrations = Vec::new();
    for (host, port, group) in &nodes {
        if *group == 0 {
            registrations.push(format!(
                "SELECT citus_set_coordinator_host('{host}', {port})"
            ));
            continue;
        }
        let worker_admin = with_host(&admin, host, *port);
        let mut worker = crate::pool::connect(&worker_admin).unwrap();
        worker
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut worker_db = crate::pool::connect(&with_database(&worker_admin, &name)).unwrap();
        worker_db.batch_execute("CREATE EXTENSION citus").unwrap();
        admins.push(worker_admin);
        registrations.push(format!("SELECT citus_add_node('{host}', {port})"));
    }
    coordinator
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = with_database(&admin, &name);
    let mut db = crate::pool::connect(&url).unwrap();
    db.batch_execute("CREATE EXTENSION citus").unwrap();
    for registration in registrations {
        let mut attempt = 0;
        while let Err(err) = db.batch_execute(&registration) {
            attempt += 1;
            assert!(attempt < 5, "{registration}: {err}");
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
    CitusDb {
        nodes: admins,
        name,
        url,
    }
}

fn fresh_citus() -> store::conformance::Fresh {
    let db = fresh_citus_database();
    let store = PgStore::connect(&db.url).unwrap();
    assert!(store.citus, "the store sees the citus extension");
    store::conformance::Fresh {
        store: store.clone(),
        sync: store,
        keep_alive: Box::new(db),
    }
}

mod citus_conformance {
    store::conformance_tests!(super::fresh_citus);
}

fn fresh() -> store::conformance::Fresh {
    let db = fresh_database();
    let store = PgStore::connect(&db.url).unwrap();
    store::conformance::Fresh {
        store: store.clone(),
        sync: store,
        keep_alive: Box::new(db),
    }
}

mod conformance {
    store::conformance_tests!(super::fresh);
}

fn patient(id: &str) -> fhir::Json {
    fhir::json::parse_str(&format!(r#"{{"resourceType":"Patient","id":"{id}"}}"#)).unwrap()
}

fn version(id: &str, version_id: u64) -> store::NewVersion {
    store::NewVersion {
        resource_type: "Patient".into(),
        id: id.into(),
        version_id,
        last_updated: "2026-01-01T00:00:00.000Z".into(),
        last_updated_ms: 1_767_225_600_000,
        resource: Some(patient(id)),
    }
}

fn audit_entry(user: &str) -> store::AuditEntry {
    store::AuditEntry {
        seq: 0,
        at_ms: 1,
        node: "hub".into(),
        user: user.into(),
        user_display: String::new(),
        role: None,
        clues: None,
        facility_name: None,
        action: auth::audit::AuditAction::Read,
        resource_type: None,
        resource_id: None,
        patient_id: None,
        outcome: auth::audit::Outcome::Success,
        break_glass: false,
        source_ip: None,
        details: String::new(),
    }
}

/// A hub whose trail was one chain before lanes keeps it whole as the trunk: the lanes start
/// from its head, and `verify_lanes` walks the trunk and then every lane.
#[test]
fn a_single_chain_trail_becomes_the_trunk_of_the_lanes() {
    let db = fresh_database();
    let mut client = crate::pool::connect(&db.url).unwrap();
    let before_lanes = crate::schema::AUDIT_LANES_VERSION - 1;
    assert_eq!(
        crate::schema::migrate_to(&mut client, before_lanes).unwrap(),
        before_lanes
    );
    let mut chain = auth::audit::Chain::resume(auth::audit::ChainHead::EMPTY);
    for user in ["ana", "beto", "ana"] {
        let sealed = chain.append(audit_entry(user));
        client
            .execute(
                "INSERT INTO audit_log (seq, at_ms, node, username, user_display, action, \
                 outcome, break_glass, details, hash) \
                 VALUES ($1, 1, 'hub', $2, '', 'read', 'success', false, '', $3)",
                &[
                    &i64::try_from(sealed.entry.seq).unwrap(),
                    &sealed.entry.user,
                    &sealed.hash.to_hex(),
                ],
            )
            .unwrap();
    }
    drop(client);
    let store = PgStore::connect(&db.url).unwrap();
    let lanes = store.audit_lanes().unwrap();
    assert_eq!(lanes.trunk, chain.head());
    assert_eq!(lanes.count, 16);
    let seq = write_with(store.as_ref(), |tx| tx.append_audit(audit_entry("carla"))).unwrap();
    assert_eq!(seq, 4, "lane 0 opens right after the trunk");
    let verified =
        auth::audit::verify_lanes(&lanes, |lane, after| store.audit_scan_lane(lane, after, 2))
            .unwrap();
    assert_eq!(verified, Ok(4));
}

#[test]
fn the_audit_trail_and_anchors_refuse_update_delete_and_truncate() {
    let db = fresh_database();
    let url = db.url.clone();
    let store = PgStore::connect(&url).unwrap();
    write_with(store.as_ref(), |tx| {
        tx.append_audit(audit_entry("ana"))?;
        tx.sync().unwrap().record_anchor(&store::sync::AuditAnchor {
            position: 0,
            node_id: "A".into(),
            seq: 1,
            hash: "ab".repeat(32),
            at_ms: 1,
            public_key: "k".into(),
            signature: "s".into(),
            received_ms: 1,
        })
    })
    .unwrap();
    let mut client = crate::pool::connect(&url).unwrap();
    for sql in [
        "UPDATE audit_log SET details = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE audit_anchor SET hash = 'x'",
        "DELETE FROM audit_anchor",
        "TRUNCATE audit_anchor",
        "UPDATE audit_layout SET lanes = 1",
        "DELETE FROM audit_layout",
        "TRUNCATE audit_layout",
    ] {
        let err = client.batch_execute(sql).unwrap_err();
        let message = err.as_db_error().map(|db| db.message().to_string());
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("append-only")),
            "{sql}: {err:?}"
        );
    }
    assert_eq!(store.audit_scan(0, 10).unwrap().len(), 1);
}

#[test]
fn migrations_run_once_and_a_newer_schema_is_refused() {
    let db = fresh_database();
    let url = db.url.clone();
    assert_eq!(
        crate::migrate(&url).unwrap(),
        crate::schema_version_latest()
    );
    let store = PgStore::connect(&url).unwrap();
    write_with(store.as_ref(), |tx| tx.put(version("kept", 1))).unwrap();
    drop(store);
    // Connecting again migrates nothing and keeps the data.
    let store = PgStore::connect(&url).unwrap();
    assert!(store.read("Patient", "kept").unwrap().is_some());
    let mut client = crate::pool::connect(&url).unwrap();
    client
        .batch_execute("UPDATE schema_version SET version = version + 1")
        .unwrap();
    let refused = PgStore::connect(&url).err().unwrap();
    assert!(refused.to_string().contains("newer"), "{refused}");
}

/// A job that hits a deadlock is run again from the start, and its caller sees one success.
#[test]
fn deadlocked_jobs_are_retried_not_failed() {
    let db = fresh_database();
    let store = PgStore::connect(&db.url).unwrap();
    write_with(store.as_ref(), |tx| {
        tx.put(version("x", 1))?;
        tx.put(version("y", 1))
    })
    .unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let runs = Arc::new(AtomicU32::new(0));
    let mut threads = Vec::new();
    for (first, second) in [("x", "y"), ("y", "x")] {
        let store = store.clone();
        let barrier = barrier.clone();
        let runs = runs.clone();
        threads.push(std::thread::spawn(move || {
            write_with(store.as_ref(), move |tx| {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                let a = tx.current("Patient", first)?.unwrap();
                if run < 2 {
                    // Both first runs hold one lock and want the other's.
                    barrier.wait();
                }
                let b = tx.current("Patient", second)?.unwrap();
                tx.put(version(first, a.version_id + 1))?;
                tx.put(version(second, b.version_id + 1))
            })
            .unwrap();
        }));
    }
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(runs.load(Ordering::SeqCst) >= 3, "one job ran again");
    assert_eq!(store.read("Patient", "x").unwrap().unwrap().version_id, 3);
    assert_eq!(store.read("Patient", "y").unwrap().unwrap().version_id, 3);
}

/// PostgreSQL restarted (connections cut): the next reads and writes reconnect by themselves.
#[test]
fn broken_connections_are_replaced() {
    let db = fresh_database();
    let url = db.url.clone();
    let store = PgStore::connect(&url).unwrap();
    write_with(store.as_ref(), |tx| tx.put(version("before", 1))).unwrap();
    let mut admin = crate::pool::connect(&url).unwrap();
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();
    assert!(store.read("Patient", "before").unwrap().is_some());
    write_with(store.as_ref(), |tx| tx.put(version("after", 1))).unwrap();
    assert!(store.read("Patient", "after").unwrap().is_some());
}

/// A caller on an async runtime's thread that forgot `spawn_blocking` gets answers, not the
/// driver's "runtime within a runtime" panic (connecting, reading, writing, dropping).
#[test]
fn calls_on_an_async_runtime_thread_work() {
    let db = fresh_database();
    let url = db.url.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = PgStore::connect(&url).unwrap();
        write_with(store.as_ref(), |tx| tx.put(version("async", 1))).unwrap();
        assert!(store.read("Patient", "async").unwrap().is_some());
        assert_eq!(
            crate::migrate(&url).unwrap(),
            crate::schema_version_latest()
        );
        drop(store);
    });
}

/// `sslmode=require` means TLS or nothing: against a server without TLS the store refuses to
/// connect in the clear (the other tests connect without TLS).
#[test]
fn required_tls_is_never_downgraded() {
    let db = fresh_database();
    let url = db.url.clone();
    let separator = if url.contains('?') { '&' } else { '?' };
    let refused = PgStore::connect(&format!("{url}{separator}sslmode=require"))
        .err()
        .unwrap();
    assert!(
        refused.to_string().contains("TLS"),
        "unexpected error: {refused}"
    );
    let plain = PgStore::connect(&format!("{url}{separator}sslmode=disable")).unwrap();
    assert!(plain.read("Patient", "none").unwrap().is_none());
}

/// Writes `resource` (JSON text) as the next version of its id.
fn save(store: &PgStore, resource: &str) {
    let resource = fhir::json::parse_str(resource).unwrap();
    let resource_type = resource
        .get("resourceType")
        .and_then(fhir::Json::as_str)
        .unwrap()
        .to_string();
    let id = resource
        .get("id")
        .and_then(fhir::Json::as_str)
        .unwrap()
        .to_string();
    write_with(store, move |tx| {
        let next = tx
            .current(&resource_type, &id)?
            .map_or(1, |c| c.version_id + 1);
        tx.put(store::NewVersion {
            resource_type: resource_type.clone(),
            id: id.clone(),
            version_id: next,
            last_updated: format!("2026-01-01T00:00:{:02}.000Z", next % 60),
            last_updated_ms: 1_767_225_600_000 + next as i64 * 1000,
            resource: Some(resource.clone()),
        })
    })
    .unwrap();
}

fn search_query(resource_type: &str, params: &[(&str, &str)]) -> store::SearchQuery {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    search::parse(
        resource_type,
        &params,
        search::Handling::Strict,
        1_767_225_600_000,
    )
    .unwrap()
    .0
}

fn found(store: &PgStore, resource_type: &str, params: &[(&str, &str)]) -> Vec<String> {
    let mut ids: Vec<String> = store
        .search(&search_query(resource_type, params))
        .unwrap()
        .matches
        .into_iter()
        .map(|m| m.id)
        .collect();
    ids.sort();
    ids
}

fn observation_of(id: &str, patient: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final",
        "code":{{"coding":[{{"system":"http://loinc.org","code":"2339-0"}}]}},
        "subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"2026-01-10T08:00:00Z"}}"#
    )
}

fn instance_history(store: &PgStore, resource_type: &str, id: &str) -> Vec<StoredVersion> {
    store
        .history(&store::HistoryRequest {
            scope: store::HistoryScope::Instance {
                resource_type: resource_type.into(),
                id: id.into(),
            },
            since_ms: None,
            before_seq: None,
            count: 50,
        })
        .unwrap()
        .into_iter()
        .map(|r| (r.version_id, r.body.contains("Patient/p1")))
        .collect()
}

/// A version number and whether its body names `Patient/p1`.
type StoredVersion = (u64, bool);

/// An Observation whose subject changes from p1 to p2 changes distribution key: it is moved
/// with its history and index rows (Citus cannot update a distribution column), and reads,
/// history, searches and the compartments see it where it now belongs.
fn a_resource_that_changes_patient_moves_with_its_history(store: &PgStore) {
    save(store, r#"{"resourceType":"Patient","id":"p1"}"#);
    save(store, r#"{"resourceType":"Patient","id":"p2"}"#);
    save(
        store,
        r#"{"resourceType":"Organization","id":"o1","name":"Centro de Salud"}"#,
    );
    save(store, &observation_of("x1", "p1"));
    assert_eq!(found(store, "Observation", &[("patient", "p1")]), ["x1"]);
    save(store, &observation_of("x1", "p2"));
    save(store, &observation_of("x1", "p2"));
    let current = store.read("Observation", "x1").unwrap().unwrap();
    assert_eq!(current.version_id, 3);
    assert!(current.body.contains("Patient/p2"));
    let first = store.vread("Observation", "x1", 1).unwrap().unwrap();
    assert!(first.body.contains("Patient/p1"), "{}", first.body);
    assert_eq!(
        instance_history(store, "Observation", "x1"),
        [(3, false), (2, false), (1, true)]
    );
    assert!(found(store, "Observation", &[("patient", "p1")]).is_empty());
    assert_eq!(found(store, "Observation", &[("patient", "p2")]), ["x1"]);
    assert_eq!(
        found(store, "Observation", &[("code", "2339-0")]),
        ["x1"],
        "the old index rows are gone"
    );
    let compartment = |patient: &str| -> Vec<String> {
        store
            .patient_compartment(patient, &[], None)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(compartment("p1"), ["p1"]);
    assert_eq!(compartment("p2"), ["p2", "x1"]);
    assert_eq!(
        store
            .read("Organization", "o1")
            .unwrap()
            .unwrap()
            .version_id,
        1,
        "a resource outside every compartment is keyed by its own type and id"
    );
    assert_eq!(found(store, "Organization", &[("name", "centro")]), ["o1"]);
    // Naming two patients, a resource is keyed by its owner (`subject`), not by the first
    // patient it names: `patient=` finds it from the owner's shard on Citus.
    save(
        store,
        r#"{"resourceType":"Observation","id":"y1","status":"final",
        "performer":[{"reference":"Patient/p2"}],"code":{"text":"autorreporte"},
        "subject":{"reference":"Patient/p1"}}"#,
    );
    assert_eq!(found(store, "Observation", &[("patient", "p1")]), ["y1"]);
    assert_eq!(
        found(store, "Observation", &[("subject", "Patient/p1")]),
        ["y1"]
    );
}

#[test]
fn a_resource_that_changes_patient_moves_with_its_history_on_postgres() {
    let db = fresh_database();
    let store = PgStore::connect(&db.url).unwrap();
    a_resource_that_changes_patient_moves_with_its_history(&store);
}

#[test]
fn a_resource_that_changes_patient_moves_with_its_history_on_citus() {
    let db = fresh_citus_database();
    let store = PgStore::connect(&db.url).unwrap();
    a_resource_that_changes_patient_moves_with_its_history(&store);
}

/// The plan of `sql` on Citus (`EXPLAIN`), as text.
fn explain(
    client: &mut postgres::Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> String {
    client
        .query(&format!("EXPLAIN {sql}"), params)
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a clinician does for one patient goes to one worker. Two proofs: `EXPLAIN` of the
/// by-id statements shows `Task Count: 1`, and with `citus.multi_task_query_log_level =
/// error` set for the database every statement the store runs for a read by id, a vread, a
/// resource's history, a search with `patient=`/`subject=` and the patient's compartment
/// (`$everything`) would fail if Citus planned it on more than one shard.
#[test]
fn one_patients_reads_are_single_shard_on_citus() {
    let db = fresh_citus_database();
    let store = PgStore::connect(&db.url).unwrap();
    for patient in ["p1", "p2", "p3", "p4"] {
        save(
            &store,
            &format!(r#"{{"resourceType":"Patient","id":"{patient}"}}"#),
        );
        for n in 0..3 {
            save(&store, &observation_of(&format!("{patient}-o{n}"), patient));
        }
    }
    save(&store, &observation_of("p1-o0", "p1"));
    for (patient, curp) in [("p2", "CURP0002"), ("p3", "CURP0003")] {
        save(&store, &patient_with_curp(patient, curp));
    }
    let mut client = crate::pool::connect(&db.url).unwrap();
    let located = client
        .query_one(crate::read::LOCATE, &[&"Observation", &"p1-o0"])
        .unwrap();
    let (key, rkey): (String, i64) = (located.get(0), located.get(1));
    assert_eq!(key, "p1");
    for (what, plan) in [
        (
            "locator",
            explain(
                &mut client,
                crate::read::LOCATE,
                &[&"Observation", &"p1-o0"],
            ),
        ),
        (
            "read by key",
            explain(&mut client, crate::read::CURRENT, &[&key, &rkey]),
        ),
        (
            "identifier locator",
            explain(
                &mut client,
                crate::locator::LOOKUP,
                &[&"CURP0002", &"Patient"],
            ),
        ),
    ] {
        assert!(plan.contains("Task Count: 1"), "{what}:\n{plan}");
    }
    // A search across patients fans out: the guard below is real.
    let plan = explain(
        &mut client,
        "SELECT count(*) FROM resource WHERE resource_type = 'Observation'",
        &[],
    );
    assert!(!plan.contains("Task Count: 1"), "{plan}");

    client
        .batch_execute(&format!(
            "ALTER DATABASE {} SET citus.multi_task_query_log_level = 'error'",
            db.name
        ))
        .unwrap();
    drop(store);
    let store = PgStore::connect(&db.url).unwrap();
    let refused = store.search(&search_query("Observation", &[("code", "2339-0")]));
    assert!(
        refused.is_err_and(|err| err.to_string().contains("multi-task")),
        "a search across patients runs on every shard, which this database refuses"
    );
    assert_eq!(
        store
            .read("Observation", "p1-o0")
            .unwrap()
            .unwrap()
            .version_id,
        2
    );
    assert!(store.vread("Observation", "p1-o0", 1).unwrap().is_some());
    assert_eq!(
        instance_history(&store, "Observation", "p1-o0")
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(
        found(&store, "Observation", &[("patient", "p2")]),
        ["p2-o0", "p2-o1", "p2-o2"]
    );
    assert_eq!(
        found(
            &store,
            "Observation",
            &[
                ("subject", "Patient/p3"),
                ("code", "2339-0"),
                ("_sort", "-date")
            ]
        ),
        ["p3-o0", "p3-o1", "p3-o2"]
    );
    let everything: Vec<String> = store
        .patient_compartment("p4", &[], None)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(everything, ["p4", "p4-o0", "p4-o1", "p4-o2"]);
    // A search across patients by identifier: the locator (one shard) names the patient key,
    // then the search reads that patient's shard only; with or without the system, and with
    // `_sort` and the total.
    assert_eq!(
        found(
            &store,
            "Patient",
            &[("identifier", &format!("{CURP}|CURP0002"))]
        ),
        ["p2"]
    );
    assert_eq!(
        found(
            &store,
            "Patient",
            &[
                ("identifier", "CURP0003"),
                ("_sort", "-_lastUpdated"),
                ("_total", "accurate")
            ]
        ),
        ["p3"]
    );
    assert!(found(&store, "Patient", &[("identifier", "CURP9999")]).is_empty());
}

/// The identifier system the tests use for CURPs (any system routes alike).
const CURP: &str = "urn:oid:2.16.840.1.113883.4.629";

fn patient_with_curp(id: &str, curp: &str) -> String {
    format!(
        r#"{{"resourceType":"Patient","id":"{id}","identifier":[{{"system":"{CURP}","value":"{curp}"}}]}}"#
    )
}

/// A search by identifier finds exactly what the index holds, whatever the locator's hints
/// say: after an identifier is corrected (the old value's hint stays, stale), after the
/// resource is deleted and restored, for a resource outside every compartment, and for two
/// patients sharing a value (a duplicate before its merge: two shards).
fn identifier_searches_follow_changes(store: &PgStore) {
    save(store, &patient_with_curp("p1", "AAAA"));
    save(store, &patient_with_curp("p2", "BBBB"));
    save(
        store,
        r#"{"resourceType":"Organization","id":"o1","identifier":[{"system":"clues","value":"DFSSA001"}]}"#,
    );
    let by = |value: &str| found(store, "Patient", &[("identifier", value)]);
    assert_eq!(by("AAAA"), ["p1"]);
    assert_eq!(by(&format!("{CURP}|BBBB")), ["p2"]);
    assert!(by("other|BBBB").is_empty(), "the system still counts");
    assert_eq!(by("AAAA,BBBB"), ["p1", "p2"]);
    assert_eq!(
        found(store, "Organization", &[("identifier", "clues|DFSSA001")]),
        ["o1"]
    );
    assert!(
        found(store, "Organization", &[("identifier", "AAAA")]).is_empty(),
        "a value is located per resource type"
    );
    // Corrected: the old value finds nothing, the new one finds the patient.
    save(store, &patient_with_curp("p1", "CCCC"));
    assert!(by("AAAA").is_empty());
    assert_eq!(by("CCCC"), ["p1"]);
    // Deleted, then written again.
    write_with(store, |tx| {
        tx.put(store::NewVersion {
            resource_type: "Patient".into(),
            id: "p2".into(),
            version_id: 2,
            last_updated: "2026-01-01T00:00:09.000Z".into(),
            last_updated_ms: 1_767_225_609_000,
            resource: None,
        })
    })
    .unwrap();
    assert!(by("BBBB").is_empty());
    save(store, &patient_with_curp("p2", "BBBB"));
    assert_eq!(by("BBBB"), ["p2"]);
    // The same value on a second patient (a duplicate registration): both are found.
    save(store, &patient_with_curp("p3", "CCCC"));
    assert_eq!(by("CCCC"), ["p1", "p3"]);
    assert_eq!(by(&format!("{CURP}|CCCC,{CURP}|BBBB")), ["p1", "p2", "p3"]);
}

#[test]
fn identifier_searches_follow_changes_on_postgres() {
    let db = fresh_database();
    let store = PgStore::connect(&db.url).unwrap();
    identifier_searches_follow_changes(&store);
}

#[test]
fn identifier_searches_follow_changes_on_citus() {
    let db = fresh_citus_database();
    let store = PgStore::connect(&db.url).unwrap();
    identifier_searches_follow_changes(&store);
}

/// Data written under schema 1 (nullable `patient_key`, index rows without it) is keyed and,
/// on Citus, distributed by migration 2 (its identifiers located by migration 3): reads,
/// history, searches and the feed queue see it.
fn schema_1_data_survives_migration_2(url: &str) {
    let mut client = crate::pool::connect(url).unwrap();
    assert_eq!(crate::schema::migrate_to(&mut client, 1).unwrap(), 1);
    client
        .batch_execute(
            "INSERT INTO search_param(pid, resource_type, code) VALUES (1, 'Observation', 'subject'), (2, 'Observation', 'code'), (3, 'Patient', 'identifier'); \
             INSERT INTO resource(rkey, resource_type, id, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) VALUES \
               (1, 'Patient', 'p1', 1, 't', 1, false, 1, 'p1', '{\"resourceType\":\"Patient\",\"id\":\"p1\"}'), \
               (2, 'Organization', 'o1', 1, 't', 1, false, 2, NULL, '{\"resourceType\":\"Organization\",\"id\":\"o1\"}'), \
               (3, 'Observation', 'x1', 2, 't', 2, false, 4, 'p1', '{\"resourceType\":\"Observation\",\"id\":\"x1\",\"status\":\"final\",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"2339-0\"}]},\"subject\":{\"reference\":\"Patient/p1\"}}'); \
             INSERT INTO resource_version(rkey, version_id, last_updated, last_updated_ms, deleted, change_seq, patient_key, body) VALUES \
               (3, 1, 't', 1, false, 3, 'p1', '{}'); \
             INSERT INTO idx_reference(rkey, pid, target_type, target_id, url, id_system, id_value) VALUES (3, 1, 'Patient', 'p1', '', '', ''); \
             INSERT INTO idx_token(rkey, pid, system, code, text) VALUES (3, 2, 'http://loinc.org', '2339-0', NULL), (1, 3, 'urn:curp', 'CURP1', NULL); \
             INSERT INTO sync_pending(change_seq) VALUES (4); \
             SELECT setval('resource_rkey_seq', 3); SELECT setval('change_seq_seq', 4); \
             SELECT setval('search_param_pid_seq', 3);",
        )
        .unwrap();
    drop(client);
    let store = PgStore::connect(url).unwrap();
    assert_eq!(
        store.read("Observation", "x1").unwrap().unwrap().version_id,
        2
    );
    assert_eq!(
        store
            .read("Organization", "o1")
            .unwrap()
            .unwrap()
            .version_id,
        1
    );
    assert_eq!(
        instance_history(&store, "Observation", "x1")
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(found(&store, "Observation", &[("patient", "p1")]), ["x1"]);
    assert_eq!(found(&store, "Observation", &[("code", "2339-0")]), ["x1"]);
    // Migration 3 located the identifier indexed before it.
    assert_eq!(
        found(&store, "Patient", &[("identifier", "urn:curp|CURP1")]),
        ["p1"]
    );
    // Written after the migration, next to the migrated rows.
    save(&store, &observation_of("x1", "p1"));
    assert_eq!(
        store.read("Observation", "x1").unwrap().unwrap().version_id,
        3
    );
    assert_eq!(found(&store, "Observation", &[("code", "2339-0")]), ["x1"]);
    // The version queued under schema 1 (no key) and the new one are both sequenced.
    let sequenced = store.sequence(100, Some("hub".into())).unwrap();
    assert_eq!(sequenced, 2);
}

#[test]
fn schema_1_data_survives_migration_2_on_postgres() {
    let db = fresh_database();
    schema_1_data_survives_migration_2(&db.url);
}

#[test]
fn schema_1_data_survives_migration_2_on_citus() {
    let db = fresh_citus_database();
    schema_1_data_survives_migration_2(&db.url);
}
