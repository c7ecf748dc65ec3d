//! PostgreSQL runs of the shared behaviour suite, and what only this engine has to show.
//!
//! Needs a server: `EXPEDIENTE_TEST_PG` names an administrator URL (`scripts/postgres.sh
//! start` prints it); each test creates its own database. Without it the tests fail, never
//! skip: a green run must mean the PostgreSQL engine was exercised.

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

/// A new, empty database on the test server (see [`TestDb`]).
pub(crate) fn fresh_database() -> TestDb {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let admin = std::env::var("EXPEDIENTE_TEST_PG").unwrap_or_else(|_| {
        panic!(
            "EXPEDIENTE_TEST_PG is not set: these tests need PostgreSQL 15. Start a throwaway \
             server with `scripts/postgres.sh start` (it installs PostgreSQL from Debian's \
             packages if needed) and export the URL it prints, e.g. \
             EXPEDIENTE_TEST_PG=postgres://postgres@127.0.0.1:54329/postgres"
        )
    });
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::UNIX_EPOCH
            .elapsed()
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
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

#[test]
fn the_audit_trail_and_anchors_refuse_update_delete_and_truncate() {
    let db = fresh_database();
    let url = db.url.clone();
    let store = PgStore::connect(&url).unwrap();
    write_with(store.as_ref(), |tx| {
        tx.append_audit(store::AuditEntry {
            seq: 0,
            at_ms: 1,
            node: "hub".into(),
            user: "ana".into(),
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
        })?;
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
