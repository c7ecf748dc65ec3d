//! The store's stamping (SQL) follows the clock rule of `sync::hlc::next`, including clocks that
//! go backwards and versions received from a node whose clock is ahead.

use rand::{Rng, SeedableRng};
use store::sync::{LogEntry, LogKind, Stamp};
use store::{NewVersion, write_with};

#[test]
fn the_store_stamps_by_the_reference_clock_rule() {
    let temp = tempfile::tempdir().unwrap();
    let store = store_sqlite::SqliteStore::open(temp.path()).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut now_ms: i64 = 1_795_000_000_000;
    let mut expected_last: i64 = 0;
    for step in 0..200u64 {
        // The wall clock jumps about, sometimes back by up to a minute.
        now_ms += rng.random_range(-60_000..120_000);
        let received = rng.random_range(0..10) == 0;
        let at_ms = now_ms;
        let id = format!("r{step}");
        let remote_hlc = (now_ms + rng.random_range(0..7_200_000)) << 16;
        let entry = write_with(&*store, move |tx| {
            tx.sync().unwrap().catch_up_log(1_000)?;
            let stored = tx.put(NewVersion {
                resource_type: "Basic".into(),
                id: id.clone(),
                version_id: 1,
                last_updated: ehr::format_instant(at_ms),
                last_updated_ms: at_ms,
                resource: Some(
                    fhir::json::parse_str(&format!(r#"{{"resourceType":"Basic","id":"{id}"}}"#))
                        .unwrap(),
                ),
            })?;
            let sync = tx.sync().unwrap();
            if received {
                // A version from a clinic whose clock is up to two hours ahead.
                sync.set_log_entry(&LogEntry {
                    change_seq: stored.change_seq,
                    resource_type: "Basic".into(),
                    id: id.clone(),
                    stamp: Stamp {
                        hlc: remote_hlc,
                        origin: "AHEAD".into(),
                    },
                    parent: None,
                    kind: LogKind::Remote,
                })?;
            } else {
                sync.catch_up_log(1_000)?;
            }
            Ok(sync.log_entry(stored.change_seq)?.unwrap())
        })
        .unwrap();
        if received {
            assert_eq!(entry.stamp.hlc, remote_hlc);
            expected_last = expected_last.max(remote_hlc);
        } else {
            let expected = sync::hlc::next(expected_last, at_ms);
            assert_eq!(entry.stamp.hlc, expected, "step {step}");
            expected_last = expected;
        }
    }
}
