//! What only the SQLite engine has to show (reopening, kept read snapshots), and its run of
//! the behaviour suite every engine shares (`store::conformance`: versions, history, search,
//! concurrent jobs, rollback of a failing job, security tables, the sync log).

use fhir::Json;
use store::{NewVersion, Store, write_with};

use crate::SqliteStore;

fn patient(id: &str, family: &str) -> Json {
    fhir::json::parse_str(&format!(
        r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"{family}"}}]}}"#
    ))
    .unwrap()
}

fn version(id: &str, version_id: u64, resource: Option<Json>) -> NewVersion {
    NewVersion {
        resource_type: "Patient".into(),
        id: id.into(),
        version_id,
        last_updated: format!("2026-01-01T00:00:0{version_id}.000Z"),
        last_updated_ms: 1_767_225_600_000 + version_id as i64 * 1000,
        resource,
    }
}

#[test]
fn reopening_migrates_once_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        write_with(store.as_ref(), |tx| {
            tx.put(version("d", 1, Some(patient("d", "Persistente"))))
        })
        .unwrap();
        store.close();
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert!(store.read("Patient", "d").unwrap().is_some());
}

/// Read connections keep their snapshot between uses (see `readers`): a write through this
/// store is seen by the very next read, a write by another process within `SNAPSHOT_MAX`.
#[test]
fn kept_snapshots_see_own_writes_at_once_and_other_writers_soon() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // A second store on the same file stands for another process (an import beside serve).
    let other = SqliteStore::open(dir.path()).unwrap();
    for round in 0..50 {
        let id = format!("own{round}");
        // Opens (or keeps) a snapshot on a pooled connection.
        assert!(store.read("Patient", &id).unwrap().is_none());
        let written = id.clone();
        write_with(store.as_ref(), move |tx| {
            tx.put(version(&written, 1, Some(patient(&written, "Gómez"))))
        })
        .unwrap();
        assert!(
            store.read("Patient", &id).unwrap().is_some(),
            "own write not visible on the next read (round {round})"
        );
    }
    assert!(store.read("Patient", "theirs").unwrap().is_none());
    write_with(other.as_ref(), |tx| {
        tx.put(version("theirs", 1, Some(patient("theirs", "Pérez"))))
    })
    .unwrap();
    std::thread::sleep(crate::readers::SNAPSHOT_MAX * 2);
    assert!(
        store.read("Patient", "theirs").unwrap().is_some(),
        "another writer's commit still unseen after the snapshot limit"
    );
}

/// An idle node holds no snapshot: the reaper ends it, so a full checkpoint can reset the WAL.
#[test]
fn idle_connections_release_their_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    write_with(store.as_ref(), |tx| {
        tx.put(version("a", 1, Some(patient("a", "Gómez"))))
    })
    .unwrap();
    assert!(store.read("Patient", "a").unwrap().is_some());
    write_with(store.as_ref(), |tx| {
        tx.put(version("a", 2, Some(patient("a", "Pérez"))))
    })
    .unwrap();
    // The read connection now holds a snapshot older than the last commit. A TRUNCATE
    // checkpoint must wait for every reader, and fails at once (busy) while one remains.
    let probe = rusqlite::Connection::open(dir.path().join(crate::DB_FILE_NAME)).unwrap();
    probe.busy_timeout(std::time::Duration::ZERO).unwrap();
    let mut released = false;
    for _ in 0..100 {
        std::thread::sleep(crate::readers::SNAPSHOT_MAX);
        let busy: i64 = probe
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .unwrap();
        if busy == 0 {
            released = true;
            break;
        }
    }
    assert!(released, "an idle read connection kept its snapshot");
}

/// The behaviour suite shared with every engine (`store::conformance`).
mod conformance {
    fn fresh() -> store::conformance::Fresh {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::SqliteStore::open(dir.path()).unwrap();
        store::conformance::Fresh {
            store: store.clone(),
            sync: store,
            keep_alive: Box::new(dir),
        }
    }

    store::conformance_tests!(fresh);
}
