//! The sync log on SQLite beyond the shared suite (`store::conformance`, run in `tests.rs`):
//! the anchors' append-only triggers, checked below the API.

use store::sync::Stamp;
use store::write_with;

use crate::SqliteStore;

const T0_MS: i64 = 1_767_225_600_000;

#[test]
fn anchors_and_the_audit_log_are_append_only_below_the_api() {
    let temp = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(temp.path()).unwrap();
    let anchor = store::sync::AuditAnchor {
        position: 0,
        node_id: "A".into(),
        seq: 5,
        hash: "ab".repeat(32),
        at_ms: T0_MS,
        public_key: "k".into(),
        signature: "s".into(),
        received_ms: T0_MS,
    };
    let refused = store::sync::Refused {
        resource_type: "Patient".into(),
        id: "p1".into(),
        stamp: Stamp {
            hlc: 7,
            origin: "A".into(),
        },
        reason_es: "no".into(),
        reason_en: "no".into(),
        refused_ms: T0_MS,
    };
    write_with(&*store, move |tx| {
        let sync = tx.sync().unwrap();
        assert!(sync.record_anchor(&anchor)?);
        assert!(sync.record_refused(&refused)?);
        Ok(())
    })
    .unwrap();
    let conn = rusqlite::Connection::open(temp.path().join("expediente.db")).unwrap();
    assert!(conn.execute("DELETE FROM audit_anchor", []).is_err());
    assert!(
        conn.execute("UPDATE audit_anchor SET hash = 'x'", [])
            .is_err()
    );
}
