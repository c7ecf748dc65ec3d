//! The sync log on SQLite: stamps and parents given by the catch-up, the clock rule, node id
//! assignment, the outbox and the feed index.

use store::sync::{LogKind, Stamp, SyncStore};
use store::{NewVersion, write_with};

use crate::SqliteStore;

const T0_MS: i64 = 1_767_225_600_000;

fn version(id: &str, version_id: u64, at_ms: i64, deleted: bool) -> NewVersion {
    let resource = (!deleted).then(|| {
        fhir::json::parse_str(&format!(
            r#"{{"resourceType":"Patient","id":"{id}","gender":"other"}}"#
        ))
        .unwrap()
    });
    NewVersion {
        resource_type: "Patient".into(),
        id: id.into(),
        version_id,
        last_updated: "2026-01-01T00:00:00.000Z".into(),
        last_updated_ms: at_ms,
        resource,
    }
}

fn put(store: &SqliteStore, version: NewVersion) -> i64 {
    write_with(store, move |tx| Ok(tx.put(version.clone())?.change_seq)).unwrap()
}

/// The log row of a version, stamping what is not logged yet first (as sync does).
fn entry(store: &SqliteStore, change_seq: i64) -> store::sync::LogEntry {
    write_with(store, move |tx| {
        let sync = tx.sync().unwrap();
        sync.catch_up_log(1_000)?;
        Ok(sync.log_entry(change_seq)?.unwrap())
    })
    .unwrap()
}

#[test]
fn every_version_is_stamped_by_the_hybrid_clock_with_its_parent() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).unwrap();
    let first = put(&store, version("p1", 1, T0_MS, false));
    let e1 = entry(&store, first);
    assert_eq!(e1.stamp.hlc, T0_MS << 16);
    assert_eq!(e1.stamp.origin, "", "no node id yet");
    assert_eq!(e1.parent, None);
    assert_eq!(e1.kind, LogKind::Local);

    // The clock goes back: the stamp still grows (logical counter), and the parent is v1.
    let second = put(&store, version("p1", 2, T0_MS - 5_000, false));
    let e2 = entry(&store, second);
    assert_eq!(e2.stamp.hlc, (T0_MS << 16) + 1);
    assert_eq!(e2.parent, Some(e1.stamp.clone()));
    assert_eq!(e2.stamp.hlc, sync_rule_next(e1.stamp.hlc, T0_MS - 5_000));

    // A version received from a node whose clock is an hour ahead raises the clock: the next
    // local write, on any resource, stamps above it.
    let far = Stamp {
        hlc: (T0_MS + 3_600_000) << 16,
        origin: "OTHER".into(),
    };
    let logged = far.clone();
    let remote = write_with(&*store, move |tx| {
        tx.sync().unwrap().catch_up_log(1_000)?;
        let stored = tx.put(version("p2", 1, T0_MS, false))?;
        tx.sync().unwrap().set_log_entry(&store::sync::LogEntry {
            change_seq: stored.change_seq,
            resource_type: "Patient".into(),
            id: "p2".into(),
            stamp: logged.clone(),
            parent: None,
            kind: LogKind::Remote,
        })?;
        Ok(stored.change_seq)
    })
    .unwrap();
    let third = put(&store, version("p1", 3, T0_MS + 1_000, true));
    assert!(entry(&store, third).stamp > far);

    // Naming the node stamps the versions written before.
    write_with(&*store, |tx| tx.sync().unwrap().set_node_id("DFSSA000001")).unwrap();
    assert_eq!(entry(&store, first).stamp.origin, "DFSSA000001");
    assert_eq!(entry(&store, second).parent.unwrap().origin, "DFSSA000001");
    assert_eq!(entry(&store, remote).stamp.origin, "OTHER");

    // Not logged yet, but pending all the same.
    let unlogged = put(&store, version("p3", 1, T0_MS + 2_000, false));
    assert_eq!(store.outbox_pending(first).unwrap().0, 3);
    assert_eq!(entry(&store, unlogged).stamp.origin, "DFSSA000001");
    // The outbox holds local versions only, in order, with their bodies (a delete has none).
    let outbox = store.outbox(0, 100).unwrap();
    let seqs: Vec<i64> = outbox.iter().map(|(e, _)| e.change_seq).collect();
    assert_eq!(seqs, vec![first, second, third, unlogged]);
    assert!(outbox[2].1.deleted);
    assert_eq!(store.outbox_pending(first).unwrap().0, 3);
}

/// The clock rule as `sync::hlc::next` states it (this crate cannot depend on `sync`).
fn sync_rule_next(last: i64, now_ms: i64) -> i64 {
    (now_ms << 16).max(last + 1)
}

#[test]
fn conflicts_are_recorded_once_and_follows_and_feed_index_are_kept() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).unwrap();
    let seq = put(&store, version("p1", 1, T0_MS, false));
    let conflict = store::sync::Conflict {
        resource_type: "Patient".into(),
        id: "p1".into(),
        winner: Stamp {
            hlc: 2,
            origin: "B".into(),
        },
        loser: Stamp {
            hlc: 1,
            origin: "A".into(),
        },
        fields: vec!["telecom".into(), "gender".into()],
        detected_ms: T0_MS,
        open: true,
    };
    let twice = conflict.clone();
    let recorded = write_with(&*store, move |tx| {
        let sync = tx.sync().unwrap();
        assert_eq!(sync.catch_up_log(1_000)?, 1);
        let first = sync.record_conflict(&conflict)?;
        let second = sync.record_conflict(&twice)?;
        sync.follow("A", "p1", T0_MS)?;
        sync.follow("A", "p1", T0_MS)?;
        sync.index_patients(seq, &["p1".to_string()])?;
        Ok((first, second))
    })
    .unwrap();
    assert_eq!(recorded, (true, false));
    assert_eq!(store.conflicts_open().unwrap(), 1);
    assert_eq!(
        store.conflicts(10).unwrap()[0].fields,
        vec!["telecom", "gender"]
    );
    assert_eq!(store.followed("A").unwrap().len(), 1);
    let feed = store.feed_candidates(0, i64::MAX, 10).unwrap();
    assert_eq!(feed[0].patients, vec!["p1"]);
    assert_eq!(store.patient_log("p1", 10).unwrap()[0].change_seq, seq);
}

/// Issue 12: a revoked credential is no longer listed (so it matches nothing), rotation
/// replaces it, and both are refused for a node never enrolled.
#[test]
fn revoked_nodes_drop_out_and_rotation_replaces_the_digest() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).unwrap();
    write_with(&*store, |tx| {
        let sync = tx.sync().unwrap();
        sync.enroll_node("A", &[1; 32], T0_MS)?;
        sync.enroll_node("B", &[2; 32], T0_MS)?;
        assert!(sync.revoke_node("A", T0_MS + 1)?);
        assert!(!sync.revoke_node("Z", T0_MS + 1)?);
        assert!(!sync.rotate_node("Z", &[9; 32], T0_MS + 1)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(store.nodes().unwrap(), vec![("B".to_string(), vec![2; 32])]);
    write_with(&*store, |tx| {
        assert!(tx.sync().unwrap().rotate_node("A", &[3; 32], T0_MS + 2)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        store.nodes().unwrap(),
        vec![
            ("A".to_string(), vec![3; 32]),
            ("B".to_string(), vec![2; 32])
        ]
    );
}

/// Refused versions are kept once each, newest first; anchors are kept in the order stored,
/// once per signed head, and cannot be changed or deleted.
#[test]
fn refusals_and_anchors_are_kept_and_anchors_are_append_only() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).unwrap();
    let refusal = |id: &str| store::sync::Refused {
        resource_type: "Patient".into(),
        id: id.into(),
        stamp: Stamp {
            hlc: 7,
            origin: "A".into(),
        },
        reason_es: "no".into(),
        reason_en: "no".into(),
        refused_ms: T0_MS,
    };
    let anchor = |seq: u64, at_ms: i64| store::sync::AuditAnchor {
        position: 0,
        node_id: "A".into(),
        seq,
        hash: "ab".repeat(32),
        at_ms,
        public_key: "k".into(),
        signature: "s".into(),
        received_ms: at_ms,
    };
    let (r1, r2) = (refusal("p1"), refusal("p2"));
    let (a5, a9, a5_again) = (anchor(5, T0_MS), anchor(9, T0_MS + 1), anchor(5, T0_MS + 2));
    write_with(&*store, move |tx| {
        let sync = tx.sync().unwrap();
        assert!(sync.record_refused(&r1)?);
        assert!(!sync.record_refused(&r1)?, "once");
        assert!(sync.record_refused(&r2)?);
        assert!(sync.record_anchor(&a5)?);
        assert!(!sync.record_anchor(&a5)?, "the same signed head once");
        assert!(sync.record_anchor(&a9)?);
        // The head went back to 5, signed again later: kept, after 9.
        assert!(sync.record_anchor(&a5_again)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(store.refused_count().unwrap(), 2);
    assert_eq!(store.refused(1).unwrap()[0].id, "p2");
    let anchors = store.anchors("A", 0, 100).unwrap();
    let seqs: Vec<u64> = anchors.iter().map(|a| a.seq).collect();
    assert_eq!(seqs, [5, 9, 5]);
    let after_first = store.anchors("A", anchors[0].position, 100).unwrap();
    assert_eq!(after_first.len(), 2);
    assert!(store.anchors("B", 0, 100).unwrap().is_empty());
    let conn = rusqlite::Connection::open(temp.path().join("expediente.db")).unwrap();
    assert!(conn.execute("DELETE FROM audit_anchor", []).is_err());
    assert!(
        conn.execute("UPDATE audit_anchor SET hash = 'x'", [])
            .is_err()
    );
}
