//! The behaviour every store engine must show, as tests any engine instantiates with
//! [`conformance_tests!`](crate::conformance_tests): one suite pins SQLite and PostgreSQL alike.
//!
//! Compiled only with the `conformance` feature (engines enable it for their tests). Each test
//! takes a fresh, empty store and panics on the first difference, naming what differed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use fhir::Json;

use crate::sync::{LogEntry, LogKind, Stamp, SyncStore};
use crate::{
    Account, AuditQuery, BreakGlassGrant, HistoryRequest, HistoryScope, IncludeLevel, NewVersion,
    SearchQuery, Store, WriteTx, write_with,
};

/// A fresh, empty store of the engine under test, as both of its faces.
pub struct Fresh {
    pub store: Arc<dyn Store>,
    pub sync: Arc<dyn SyncStore>,
    /// Whatever must live as long as the store (a temporary directory); dropped after it.
    pub keep_alive: Box<dyn std::any::Any>,
}

/// Instantiates every conformance test for an engine: `make` is an expression of type
/// `fn() -> Fresh` giving a new, empty store per test.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            versions_history_and_index_replacement,
            a_job_sees_its_own_writes_at_every_step,
            a_failing_job_writes_nothing_and_concurrent_jobs_all_land,
            versions_never_duplicate_under_concurrent_writers,
            reads_at_once_each_get_their_own_answer_and_the_latest_write,
            locked_decisions_are_taken_once,
            search_every_parameter_type_and_modifier,
            sort_total_and_paging_by_positions,
            includes_revincludes_and_the_patient_compartment,
            counts_and_value_counts,
            accounts_tokens_and_break_glass,
            the_audit_chain_is_sealed_in_order,
            every_version_is_stamped_by_the_hybrid_clock_with_its_parent,
            a_stamp_logged_in_a_job_stays_known,
            conflicts_are_recorded_once_and_follows_and_feed_index_are_kept,
            revoked_nodes_drop_out_and_rotation_replaces_the_digest,
            refusals_and_anchors_are_kept,
            the_feed_misses_nothing_under_concurrent_writers,
            the_delivery_queue_leases_retries_and_hands_each_row_out_once,
        );
    };
    (@each $make:expr; $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                let make: fn() -> $crate::conformance::Fresh = $make;
                $crate::conformance::$name(make());
            }
        )*
    };
}

const T0_MS: i64 = 1_767_225_600_000;

fn parse(text: &str) -> Json {
    fhir::json::parse_str(text).unwrap()
}

fn patient(id: &str, family: &str) -> Json {
    parse(&format!(
        r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"{family}"}}]}}"#
    ))
}

fn new_version(
    resource_type: &str,
    id: &str,
    version_id: u64,
    resource: Option<Json>,
) -> NewVersion {
    NewVersion {
        resource_type: resource_type.into(),
        id: id.into(),
        version_id,
        last_updated: format!("2026-01-01T00:00:{:02}.000Z", version_id % 60),
        last_updated_ms: T0_MS + version_id as i64 * 1000,
        resource,
    }
}

fn query(resource_type: &str, params: &[(&str, &str)]) -> SearchQuery {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    search::parse(resource_type, &params, search::Handling::Strict, T0_MS)
        .unwrap_or_else(|issues| panic!("bad test query {params:?}: {issues:?}"))
        .0
}

fn ids(store: &dyn Store, resource_type: &str, params: &[(&str, &str)]) -> Vec<String> {
    let mut found: Vec<String> = store
        .search(&query(resource_type, params))
        .unwrap()
        .matches
        .into_iter()
        .map(|m| m.id)
        .collect();
    found.sort();
    found
}

/// Writes `resource` as the next version of its id (reading the current one in the job).
fn save(store: &dyn Store, resource: Json) {
    let resource_type = resource
        .get("resourceType")
        .and_then(Json::as_str)
        .unwrap()
        .to_string();
    let id = resource
        .get("id")
        .and_then(Json::as_str)
        .unwrap()
        .to_string();
    write_with(store, move |tx| {
        let next = tx
            .current(&resource_type, &id)?
            .map_or(1, |c| c.version_id + 1);
        tx.put(new_version(
            &resource_type,
            &id,
            next,
            Some(resource.clone()),
        ))
    })
    .unwrap();
}

pub fn versions_history_and_index_replacement(fresh: Fresh) {
    let store = fresh.store.as_ref();
    write_with(store, |tx| {
        tx.put(new_version("Patient", "a", 1, Some(patient("a", "Gómez"))))
    })
    .unwrap();
    write_with(store, |tx| {
        tx.put(new_version("Patient", "a", 2, Some(patient("a", "Pérez"))))
    })
    .unwrap();
    assert!(ids(store, "Patient", &[("family", "gomez")]).is_empty());
    assert_eq!(ids(store, "Patient", &[("family", "perez")]), ["a"]);
    write_with(store, |tx| tx.put(new_version("Patient", "a", 3, None))).unwrap();
    let current = store.read("Patient", "a").unwrap().unwrap();
    assert!(current.deleted);
    assert_eq!(current.version_id, 3);
    assert!(ids(store, "Patient", &[("family", "perez")]).is_empty());
    let v1 = store.vread("Patient", "a", 1).unwrap().unwrap();
    assert!(v1.body.contains("Gómez"));
    assert!(store.vread("Patient", "a", 9).unwrap().is_none());
    assert!(store.vread("Patient", "zz", 1).unwrap().is_none());
    let request = |before_seq, count| HistoryRequest {
        scope: HistoryScope::Instance {
            resource_type: "Patient".into(),
            id: "a".into(),
        },
        since_ms: None,
        before_seq,
        count,
    };
    let history = store.history(&request(None, 10)).unwrap();
    let versions: Vec<u64> = history.iter().map(|h| h.version_id).collect();
    assert_eq!(versions, vec![3, 2, 1]);
    assert!(history[0].change_seq > history[1].change_seq);
    assert!(history[1].change_seq > history[2].change_seq);
    // Paging by `before_seq`.
    let first = store.history(&request(None, 2)).unwrap();
    let rest = store
        .history(&request(Some(first[1].change_seq), 2))
        .unwrap();
    assert_eq!(rest.iter().map(|h| h.version_id).collect::<Vec<_>>(), [1]);
    // Type and system history, and `_since`.
    save(store, patient("b", "López"));
    let system = store
        .history(&HistoryRequest {
            scope: HistoryScope::System,
            since_ms: None,
            before_seq: None,
            count: 10,
        })
        .unwrap();
    assert_eq!(system.len(), 4);
    assert_eq!(system[0].id, "b");
    let since = store
        .history(&HistoryRequest {
            scope: HistoryScope::Type("Patient".into()),
            since_ms: Some(T0_MS + 2_000),
            before_seq: None,
            count: 10,
        })
        .unwrap();
    assert_eq!(since.len(), 2, "versions 2 and 3 of a (b is version 1)");
}

/// Whatever an engine does with a job's writes before COMMIT (PostgreSQL holds new rows and
/// sends them in batches), every read of the job sees every write before it: a created
/// resource is read and found by search, a second version replaces the first's index rows,
/// a deletion hides it, and the committed result is the same as what the job saw.
pub fn a_job_sees_its_own_writes_at_every_step(fresh: Fresh) {
    let store = fresh.store.as_ref();
    save(store, patient("old", "Ruiz"));
    write_with(store, |tx| {
        let family = |tx: &mut dyn WriteTx, name: &str| {
            tx.search_ids(&query("Patient", &[("family", name)]), 10)
        };
        // Asked before anything is written: the answer must not be kept past the writes.
        assert!(family(tx, "gomez")?.is_empty());
        for (id, name) in [("a", "Gómez"), ("b", "Gómez"), ("c", "Pérez")] {
            tx.put(new_version("Patient", id, 1, Some(patient(id, name))))?;
        }
        let mut found = family(tx, "gomez")?;
        found.sort();
        assert_eq!(found, ["a", "b"]);
        assert_eq!(tx.read("Patient", "c")?.map(|r| r.version_id), Some(1));
        assert!(
            tx.peek("Patient", "a")?
                .is_some_and(|r| r.body.contains("Gómez"))
        );
        assert_eq!(tx.current("Patient", "old")?.map(|c| c.version_id), Some(1));
        // A second version in the same job: its index rows replace the first's.
        tx.put(new_version("Patient", "a", 2, Some(patient("a", "Pérez"))))?;
        assert_eq!(family(tx, "gomez")?, ["b"]);
        let mut perez = family(tx, "perez")?;
        perez.sort();
        assert_eq!(perez, ["a", "c"]);
        assert!(
            tx.peek("Patient", "a")?
                .is_some_and(|r| r.body.contains("Pérez"))
        );
        // An update of a resource committed before, then a deletion in the same job.
        tx.put(new_version(
            "Patient",
            "old",
            2,
            Some(patient("old", "Gómez")),
        ))?;
        let mut gomez = family(tx, "gomez")?;
        gomez.sort();
        assert_eq!(gomez, ["b", "old"]);
        tx.put(new_version("Patient", "b", 2, None))?;
        assert_eq!(family(tx, "gomez")?, ["old"]);
        assert!(tx.read("Patient", "b")?.is_some_and(|r| r.deleted));
        Ok(())
    })
    .unwrap();
    assert_eq!(ids(store, "Patient", &[("family", "gomez")]), ["old"]);
    assert_eq!(ids(store, "Patient", &[("family", "perez")]), ["a", "c"]);
    let history = store
        .history(&HistoryRequest {
            scope: HistoryScope::Instance {
                resource_type: "Patient".into(),
                id: "a".into(),
            },
            since_ms: None,
            before_seq: None,
            count: 10,
        })
        .unwrap();
    assert_eq!(
        history.iter().map(|h| h.version_id).collect::<Vec<_>>(),
        [2, 1]
    );
    assert!(
        store
            .vread("Patient", "a", 1)
            .unwrap()
            .unwrap()
            .body
            .contains("Gómez")
    );
}

pub fn a_failing_job_writes_nothing_and_concurrent_jobs_all_land(fresh: Fresh) {
    let store = fresh.store;
    let failing = store.write(Box::new(|tx| {
        tx.put(new_version("Patient", "b", 1, Some(patient("b", "Uno"))))?;
        Err(crate::Error::Invalid("on purpose".into()))
    }));
    assert!(matches!(failing, Err(crate::Error::Invalid(_))));
    assert!(store.read("Patient", "b").unwrap().is_none());
    let mut threads = Vec::new();
    for n in 0..16 {
        let store = store.clone();
        threads.push(std::thread::spawn(move || {
            let id = format!("c{n}");
            write_with(store.as_ref(), move |tx| {
                tx.put(new_version("Patient", &id, 1, Some(patient(&id, "Grupo"))))
            })
            .unwrap();
        }));
    }
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(
        store
            .search(&query("Patient", &[("family", "grupo")]))
            .unwrap()
            .total,
        Some(16)
    );
}

/// Many writers updating the same resources at once: every update lands as its own version,
/// numbered without gaps or repeats.
pub fn versions_never_duplicate_under_concurrent_writers(fresh: Fresh) {
    let store = fresh.store;
    let mut threads = Vec::new();
    for writer in 0..8 {
        let store = store.clone();
        threads.push(std::thread::spawn(move || {
            for round in 0..10 {
                let id = format!("shared{}", round % 2);
                save(store.as_ref(), patient(&id, &format!("W{writer}R{round}")));
            }
        }));
    }
    for thread in threads {
        thread.join().unwrap();
    }
    for id in ["shared0", "shared1"] {
        let history = store
            .history(&HistoryRequest {
                scope: HistoryScope::Instance {
                    resource_type: "Patient".into(),
                    id: id.into(),
                },
                since_ms: None,
                before_seq: None,
                count: 100,
            })
            .unwrap();
        let versions: Vec<u64> = history.iter().map(|h| h.version_id).collect();
        let expected: Vec<u64> = (1..=40).rev().collect();
        assert_eq!(versions, expected, "{id}");
    }
}

/// Many reads by id at once (an engine may send them to the server together): each gets
/// its own resource, an absent one gets nothing, and a read that starts after a write was
/// acknowledged sees that write or a later one, never an earlier version.
pub fn reads_at_once_each_get_their_own_answer_and_the_latest_write(fresh: Fresh) {
    let store = fresh.store;
    for n in 0..24 {
        save(store.as_ref(), patient(&format!("r{n}"), &format!("F{n}")));
    }
    save(store.as_ref(), patient("moving", "V1"));
    // The last version of "moving" acknowledged so far.
    let acknowledged = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let writer = {
        let store = store.clone();
        let acknowledged = acknowledged.clone();
        std::thread::spawn(move || {
            for version in 2..=30u64 {
                save(store.as_ref(), patient("moving", &format!("V{version}")));
                acknowledged.store(version, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    let mut readers = Vec::new();
    for reader in 0..12usize {
        let store = store.clone();
        let acknowledged = acknowledged.clone();
        readers.push(std::thread::spawn(move || {
            for round in 0..60usize {
                let n = (reader * 7 + round * 5) % 30;
                if n < 24 {
                    let id = format!("r{n}");
                    let found = store.read("Patient", &id).unwrap().expect(&id);
                    assert_eq!(found.id, id);
                    assert!(found.body.contains(&format!("\"F{n}\"")), "{}", found.body);
                } else if n < 27 {
                    assert!(
                        store
                            .read("Patient", &format!("absent{n}"))
                            .unwrap()
                            .is_none()
                    );
                } else {
                    let floor = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
                    let found = store.read("Patient", "moving").unwrap().unwrap();
                    assert!(
                        found.version_id >= floor,
                        "read version {} after version {floor} was acknowledged",
                        found.version_id
                    );
                    assert!(found.body.contains(&format!("\"V{}\"", found.version_id)));
                }
            }
        }));
    }
    writer.join().unwrap();
    for reader in readers {
        reader.join().unwrap();
    }
}

/// Jobs that decide after reading (is this identifier taken?) and lock what they decide on
/// create one resource between them, never two.
pub fn locked_decisions_are_taken_once(fresh: Fresh) {
    let store = fresh.store;
    let mut threads = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        threads.push(std::thread::spawn(move || {
            write_with(store.as_ref(), move |tx| {
                tx.lock("curp:GOMA800101HDFRRN09")?;
                let q = query("Patient", &[("identifier", "urn:curp|GOMA800101HDFRRN09")]);
                if !tx.search_ids(&q, 2)?.is_empty() {
                    return Ok(false);
                }
                let id = format!("p{n}");
                let body = parse(&format!(
                    r#"{{"resourceType":"Patient","id":"{id}","identifier":[{{"system":"urn:curp","value":"GOMA800101HDFRRN09"}}]}}"#
                ));
                tx.put(new_version("Patient", &id, 1, Some(body)))?;
                Ok(true)
            })
            .unwrap()
        }));
    }
    let created = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|created| *created)
        .count();
    assert_eq!(created, 1);
    assert_eq!(
        ids(
            store.as_ref(),
            "Patient",
            &[("identifier", "urn:curp|GOMA800101HDFRRN09")]
        )
        .len(),
        1
    );
}

fn observation(id: &str, patient: &str, code: &str, value: f64, date: &str) -> Json {
    parse(&format!(
        r#"{{"resourceType":"Observation","id":"{id}","status":"final",
        "code":{{"coding":[{{"system":"http://loinc.org","code":"{code}","display":"Glucosa"}}],"text":"Glucosa en ayuno"}},
        "subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"{date}",
        "valueQuantity":{{"value":{value},"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}}}"#
    ))
}

fn sample_record(store: &dyn Store) {
    save(
        store,
        parse(
            r#"{"resourceType":"Patient","id":"p1","active":true,"gender":"female","birthDate":"1980-05-02",
            "identifier":[{"system":"urn:curp","value":"LOPA800502MDFPRN01"}],
            "name":[{"family":"López","given":["Ana","María"]}],
            "managingOrganization":{"reference":"Organization/o1"}}"#,
        ),
    );
    save(
        store,
        parse(
            r#"{"resourceType":"Patient","id":"p2","active":false,"gender":"male","birthDate":"1975-11-20",
            "name":[{"family":"Lopezca","given":["Juan"]}]}"#,
        ),
    );
    save(
        store,
        parse(
            r#"{"resourceType":"Patient","id":"p3","gender":"male","name":[{"family":"Zúñiga"}]}"#,
        ),
    );
    save(
        store,
        parse(r#"{"resourceType":"Organization","id":"o1","name":"Centro de Salud Tlalpan"}"#),
    );
    save(
        store,
        observation("g1", "p1", "2339-0", 95.0, "2026-01-10T08:00:00Z"),
    );
    save(
        store,
        observation("g2", "p1", "2339-0", 180.5, "2026-02-10T08:00:00Z"),
    );
    save(
        store,
        observation("g3", "p2", "2339-0", 120.0, "2026-03-10T08:00:00Z"),
    );
    save(
        store,
        observation("h1", "p2", "4548-4", 7.5, "2026-03-11T08:00:00Z"),
    );
    save(
        store,
        parse(
            r#"{"resourceType":"RiskAssessment","id":"r1","status":"final","subject":{"reference":"Patient/p1"},
            "prediction":[{"probabilityDecimal":0.25}]}"#,
        ),
    );
    save(
        store,
        parse(
            r#"{"resourceType":"ValueSet","id":"v1","status":"active","url":"http://salud.gob.mx/fhir/ValueSet/cie10"}"#,
        ),
    );
}

pub fn search_every_parameter_type_and_modifier(fresh: Fresh) {
    let store = fresh.store.as_ref();
    sample_record(store);
    // string: default (prefix, accent- and case-folded), :exact, :contains
    assert_eq!(ids(store, "Patient", &[("family", "lopez")]), ["p1", "p2"]);
    assert_eq!(ids(store, "Patient", &[("family:exact", "López")]), ["p1"]);
    assert!(ids(store, "Patient", &[("family:exact", "lópez")]).is_empty());
    assert_eq!(ids(store, "Patient", &[("family:contains", "ezc")]), ["p2"]);
    assert_eq!(ids(store, "Patient", &[("given", "mar")]), ["p1"]);
    assert_eq!(ids(store, "Patient", &[("name", "zun")]), ["p3"]);
    // token: code, system|code, |code, :not, :text, :missing, boolean
    assert_eq!(ids(store, "Patient", &[("gender", "male")]), ["p2", "p3"]);
    assert_eq!(
        ids(
            store,
            "Patient",
            &[("identifier", "urn:curp|LOPA800502MDFPRN01")]
        ),
        ["p1"]
    );
    assert!(
        ids(
            store,
            "Patient",
            &[("identifier", "urn:otro|LOPA800502MDFPRN01")]
        )
        .is_empty()
    );
    assert_eq!(ids(store, "Patient", &[("gender:not", "male")]), ["p1"]);
    assert_eq!(ids(store, "Patient", &[("active", "true")]), ["p1"]);
    assert_eq!(ids(store, "Patient", &[("active:missing", "true")]), ["p3"]);
    assert_eq!(
        ids(store, "Patient", &[("active:missing", "false")]),
        ["p1", "p2"]
    );
    assert_eq!(
        ids(store, "Observation", &[("code", "http://loinc.org|2339-0")]),
        ["g1", "g2", "g3"]
    );
    assert_eq!(
        ids(store, "Observation", &[("code:text", "ayuno")]).len(),
        4
    );
    assert_eq!(
        ids(store, "Observation", &[("code", "2339-0,4548-4")]).len(),
        4
    );
    // date: prefixes
    assert_eq!(ids(store, "Patient", &[("birthdate", "1980")]), ["p1"]);
    assert_eq!(
        ids(store, "Patient", &[("birthdate", "lt1978-01-01")]),
        ["p2"]
    );
    assert_eq!(
        ids(
            store,
            "Observation",
            &[("date", "ge2026-02-01"), ("date", "lt2026-03-11")]
        ),
        ["g2", "g3"]
    );
    // quantity
    assert_eq!(
        ids(
            store,
            "Observation",
            &[("value-quantity", "gt100|http://unitsofmeasure.org|mg/dL")]
        ),
        ["g2", "g3"]
    );
    assert_eq!(
        ids(store, "Observation", &[("value-quantity", "le95")]),
        ["g1", "h1"]
    );
    // number
    assert_eq!(
        ids(store, "RiskAssessment", &[("probability", "gt0.2")]),
        ["r1"]
    );
    assert!(ids(store, "RiskAssessment", &[("probability", "gt0.3")]).is_empty());
    // reference: id, Type/id, typed alias, chain, _has
    assert_eq!(
        ids(store, "Observation", &[("subject", "Patient/p2")]),
        ["g3", "h1"]
    );
    assert_eq!(
        ids(store, "Observation", &[("patient", "p1")]),
        ["g1", "g2"]
    );
    assert_eq!(
        ids(
            store,
            "Observation",
            &[("subject:Patient.family", "lopezca")]
        ),
        ["g3", "h1"]
    );
    assert_eq!(
        ids(
            store,
            "Patient",
            &[("_has:Observation:subject:code", "4548-4")]
        ),
        ["p2"]
    );
    assert_eq!(
        ids(store, "Patient", &[("organization.name", "centro")]),
        ["p1"]
    );
    // uri
    assert_eq!(
        ids(
            store,
            "ValueSet",
            &[("url", "http://salud.gob.mx/fhir/ValueSet/cie10")]
        ),
        ["v1"]
    );
    assert_eq!(
        ids(
            store,
            "ValueSet",
            &[("url:below", "http://salud.gob.mx/fhir")]
        ),
        ["v1"]
    );
    // _id, _lastUpdated
    assert_eq!(ids(store, "Patient", &[("_id", "p3,p1")]), ["p1", "p3"]);
    assert_eq!(
        ids(store, "Patient", &[("_lastUpdated", "ge2026-01-01")]).len(),
        3
    );
    assert!(ids(store, "Patient", &[("_lastUpdated", "lt2025-01-01")]).is_empty());
    // conditional-operation search inside a job
    let found = write_with(store, |tx| {
        tx.search_ids(&query("Patient", &[("gender", "male")]), 10)
    })
    .unwrap();
    assert_eq!(found.len(), 2);
}

pub fn sort_total_and_paging_by_positions(fresh: Fresh) {
    let store = fresh.store.as_ref();
    for n in 0..7 {
        save(
            store,
            parse(&format!(
                r#"{{"resourceType":"Patient","id":"s{n}","birthDate":"19{}0-01-01","name":[{{"family":"Fam{}"}}]}}"#,
                n + 2,
                n % 3
            )),
        );
    }
    save(
        store,
        parse(r#"{"resourceType":"Patient","id":"nodate","name":[{"family":"Fam9"}]}"#),
    );
    let sorted = |params: &[(&str, &str)]| -> Vec<String> {
        store
            .search(&query("Patient", params))
            .unwrap()
            .matches
            .into_iter()
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(
        sorted(&[("_sort", "-birthdate")]),
        ["s6", "s5", "s4", "s3", "s2", "s1", "s0", "nodate"],
        "missing values sort last"
    );
    assert_eq!(
        sorted(&[("_sort", "birthdate")]),
        ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "nodate"]
    );
    assert_eq!(
        sorted(&[("_sort", "family,-_id")]),
        ["s6", "s3", "s0", "s4", "s1", "s5", "s2", "nodate"]
    );
    let q = query("Patient", &[("_total", "none")]);
    assert_eq!(store.search(&q).unwrap().total, None);
    let q = query("Patient", &[("_summary", "count")]);
    let page = store.search(&q).unwrap();
    assert_eq!(page.total, Some(8));
    assert!(page.matches.is_empty());
    // Paging forward with positions, while another resource is written in between.
    let mut q = query("Patient", &[("_sort", "family,birthdate"), ("_count", "3")]);
    let mut seen = Vec::new();
    loop {
        let page = store.search(&q).unwrap();
        seen.extend(page.matches.iter().map(|m| m.id.clone()));
        if seen.len() == 3 {
            save(
                store,
                parse(r#"{"resourceType":"Patient","id":"late","name":[{"family":"Aaa"}]}"#),
            );
        }
        if !page.more {
            break;
        }
        q.cursor = Some(format!("n{}", page.positions.last().unwrap()));
    }
    assert_eq!(
        seen,
        ["s0", "s3", "s6", "s1", "s4", "s2", "s5", "nodate"],
        "a row written before the cursor is not served; none skipped or repeated"
    );
    // And backward from the last page.
    let page = store
        .search(&query(
            "Patient",
            &[("_sort", "family,birthdate"), ("_count", "3")],
        ))
        .unwrap();
    let mut forward = query("Patient", &[("_sort", "family,birthdate"), ("_count", "3")]);
    forward.cursor = Some(format!("n{}", page.positions[2]));
    let second = store.search(&forward).unwrap();
    let mut back = query("Patient", &[("_sort", "family,birthdate"), ("_count", "3")]);
    back.cursor = Some(format!("p{}", second.positions[0]));
    let previous = store.search(&back).unwrap();
    let previous_ids: Vec<String> = previous.matches.iter().map(|m| m.id.clone()).collect();
    assert_eq!(previous_ids, ["late", "s0", "s3"]);
    let mut bad = query("Patient", &[]);
    bad.cursor = Some("n[garbage".into());
    assert!(matches!(store.search(&bad), Err(crate::Error::Invalid(_))));
}

pub fn includes_revincludes_and_the_patient_compartment(fresh: Fresh) {
    let store = fresh.store.as_ref();
    sample_record(store);
    let q = query(
        "Observation",
        &[("code", "4548-4"), ("_include", "Observation:subject")],
    );
    let page = store.search(&q).unwrap();
    let included = store
        .includes(&q, &page.matches, IncludeLevel::Matches)
        .unwrap();
    assert_eq!(
        included.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["p2"]
    );
    let q = query(
        "Patient",
        &[
            ("_id", "p1"),
            ("_revinclude", "Observation:subject"),
            ("_include", "Patient:organization"),
        ],
    );
    let page = store.search(&q).unwrap();
    let mut included: Vec<String> = store
        .includes(&q, &page.matches, IncludeLevel::Matches)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    included.sort();
    assert_eq!(included, ["g1", "g2", "o1"]);
    let everything: Vec<String> = store
        .patient_compartment("p1", &[], None)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(everything, ["p1", "g1", "g2", "r1"], "first stored first");
    let only: Vec<String> = store
        .patient_compartment("p1", &["Observation".to_string()], None)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(only, ["g1", "g2"]);
    assert!(
        store
            .patient_compartment("p1", &[], Some(T0_MS + 1_000_000))
            .unwrap()
            .is_empty()
    );
}

pub fn counts_and_value_counts(fresh: Fresh) {
    let store = fresh.store.as_ref();
    sample_record(store);
    write_with(store, |tx| tx.put(new_version("Patient", "p3", 2, None))).unwrap();
    let counts: HashMap<String, u64> = store.counts().unwrap().into_iter().collect();
    assert_eq!(counts["Patient"], 2, "deleted resources are not counted");
    assert_eq!(counts["Observation"], 4);
    let genders = store.value_counts("Patient", "gender").unwrap();
    assert_eq!(genders.len(), 2);
    assert!(genders.contains(&("|female".to_string(), 1)));
    assert!(genders.contains(&("|male".to_string(), 1)));
    let codes = store.value_counts("Observation", "code").unwrap();
    assert_eq!(codes[0], ("http://loinc.org|2339-0".to_string(), 3));
    assert!(matches!(
        store.value_counts("Patient", "birthdate"),
        Err(crate::Error::Invalid(_))
    ));
}

fn account(username: &str) -> Account {
    Account {
        username: username.into(),
        role: "physician".into(),
        clues: Some("DFSSA000001".into()),
        practitioner_id: Some("pr1".into()),
        patient_id: None,
        display_name: "Dra. Ana López".into(),
        password_hash: "$argon2id$x".into(),
        disabled: false,
        failed_logins: 2,
        last_failure_ms: T0_MS,
        created_ms: T0_MS - 1,
        credential_epoch: 3,
        last_login_ip: Some("10.0.0.7".into()),
    }
}

pub fn accounts_tokens_and_break_glass(fresh: Fresh) {
    let store = fresh.store.as_ref();
    let ana = account("ana");
    let mut changed = ana.clone();
    changed.disabled = true;
    changed.credential_epoch = 4;
    let (first, second) = (ana.clone(), changed.clone());
    write_with(store, move |tx| {
        tx.put_account(&first)?;
        tx.put_account(&account("beto"))?;
        tx.put_account(&second)?;
        assert_eq!(tx.account("ana")?.unwrap().credential_epoch, 4);
        tx.revoke_token("t1", T0_MS + 10)?;
        tx.put_break_glass(&BreakGlassGrant {
            username: "ana".into(),
            patient_id: "p1".into(),
            reason: "urgencia".into(),
            granted_ms: T0_MS,
            expires_ms: T0_MS + 1_000,
        })
    })
    .unwrap();
    assert_eq!(store.account("ana").unwrap().unwrap(), changed);
    assert!(store.account("nadie").unwrap().is_none());
    let names: Vec<String> = store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert_eq!(names, ["ana", "beto"]);
    assert!(store.is_token_revoked("t1").unwrap());
    assert!(!store.is_token_revoked("t2").unwrap());
    assert_eq!(
        store.break_glass_grants("ana", T0_MS + 500).unwrap().len(),
        1
    );
    assert!(
        store
            .break_glass_grants("ana", T0_MS + 1_000)
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .break_glass_grants("beto", T0_MS + 500)
            .unwrap()
            .is_empty()
    );
}

fn audit_entry(user: &str, patient: Option<&str>, at_ms: i64) -> crate::AuditEntry {
    crate::AuditEntry {
        seq: 0,
        at_ms,
        node: "hub".into(),
        user: user.into(),
        user_display: user.into(),
        role: None,
        clues: None,
        facility_name: None,
        action: auth::audit::AuditAction::Read,
        resource_type: Some("Patient".into()),
        resource_id: patient.map(str::to_string),
        patient_id: patient.map(str::to_string),
        outcome: auth::audit::Outcome::Success,
        break_glass: false,
        source_ip: None,
        details: String::new(),
    }
}

/// Every entry gets its own seq, also when many writers append at once, and every chain of the
/// trail (one on a clinic; the lanes on PostgreSQL) verifies from its first entry to its last,
/// lane by lane, with no entry left out.
pub fn the_audit_chain_is_sealed_in_order(fresh: Fresh) {
    let store = fresh.store;
    let lanes = store.audit_lanes().unwrap();
    let first = write_with(store.as_ref(), |tx| {
        tx.append_audit(audit_entry("ana", Some("p1"), T0_MS))
    })
    .unwrap();
    assert!(
        (lanes.first_seq(0)..lanes.first_seq(lanes.count)).contains(&first),
        "the first entry opens a lane: {first}"
    );
    let mut threads = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        threads.push(std::thread::spawn(move || {
            for k in 0..5 {
                let user = if n % 2 == 0 { "ana" } else { "beto" };
                write_with(store.as_ref(), move |tx| {
                    // Two appends in one job: the second continues the first's chain.
                    tx.append_audit(audit_entry(user, Some("p2"), T0_MS + k))?;
                    tx.append_audit_batch(vec![audit_entry(user, None, T0_MS + k)])
                })
                .unwrap();
            }
        }));
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let all = store.audit_scan(0, 1_000).unwrap();
    assert_eq!(all.len(), 81);
    let seqs: Vec<u64> = all.iter().map(|e| e.entry.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "unique, in seq order");
    if lanes == auth::audit::Lanes::SINGLE {
        assert_eq!(seqs, (1..=81).collect::<Vec<u64>>());
    }
    // Each lane verifies on its own, and together they hold every entry; a scan that pages
    // one entry at a time sees the same.
    for page in [1, 1_000] {
        let verified = auth::audit::verify_lanes(&lanes, |lane, after| {
            store.audit_scan_lane(lane, after, page)
        })
        .unwrap();
        assert_eq!(verified, Ok(81));
    }
    // A job's entries are one run of its lane: the p2 read and its batch entry are adjacent.
    for sealed in all
        .iter()
        .filter(|e| e.entry.patient_id.as_deref() == Some("p2"))
    {
        let next = sealed.entry.seq + u64::from(lanes.count);
        let follower = all.iter().find(|e| e.entry.seq == next);
        assert!(
            follower
                .is_some_and(|f| f.entry.patient_id.is_none() && f.entry.user == sealed.entry.user),
            "entry {} is followed in its lane by its job's second entry",
            sealed.entry.seq
        );
    }
    let tail = store.audit_scan(seqs[78], 10).unwrap();
    assert_eq!(tail.len(), 2);
    let p2 = store
        .audit_search(&AuditQuery {
            patient_id: Some("p2".into()),
            count: 1_000,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(p2.len(), 40);
    assert!(p2[0].entry.seq > p2[1].entry.seq, "newest first");
    let page = store
        .audit_search(&AuditQuery {
            username: Some("ana".into()),
            before_seq: Some(10),
            from_ms: Some(T0_MS),
            to_ms: Some(T0_MS + 1),
            count: 3,
            ..AuditQuery::default()
        })
        .unwrap();
    assert!(page.len() <= 3 && !page.is_empty());
    assert!(
        page.iter()
            .all(|e| e.entry.seq < 10 && e.entry.user == "ana" && e.entry.at_ms == T0_MS)
    );
}

// ---- sync ----

fn gendered(id: &str, version_id: u64, at_ms: i64, deleted: bool) -> NewVersion {
    let resource = (!deleted).then(|| {
        parse(&format!(
            r#"{{"resourceType":"Patient","id":"{id}","gender":"other"}}"#
        ))
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

fn put(store: &dyn Store, version: NewVersion) -> i64 {
    write_with(store, move |tx| Ok(tx.put(version.clone())?.change_seq)).unwrap()
}

/// The log row of a version (by the version's `change_seq`), stamping what is not logged yet
/// first, as sync does.
fn entry(store: &dyn Store, change_seq: i64) -> LogEntry {
    write_with(store, move |tx| {
        let sync = tx.sync().unwrap();
        sync.catch_up_log(1_000)?;
        Ok(sync.log_entry(change_seq)?.unwrap())
    })
    .unwrap()
}

/// A stamp logged in a job is known for the rest of it, whatever the job reads in between (an
/// engine that holds the log row and sends it later must not forget it): a version pushed
/// twice in one batch is applied once.
pub fn a_stamp_logged_in_a_job_stays_known(fresh: Fresh) {
    let store = fresh.store.as_ref();
    let stamp = Stamp {
        hlc: (T0_MS - 60_000) << 16,
        origin: "TWICE".into(),
    };
    let twice = stamp.clone();
    write_with(store, move |tx| {
        tx.sync().unwrap().catch_up_log(1_000)?;
        assert!(!tx.sync().unwrap().stamp_known("Patient", "p9", &twice)?);
        let stored = tx.put(gendered("p9", 1, T0_MS, false))?;
        tx.sync().unwrap().set_log_entry(&LogEntry {
            change_seq: stored.change_seq,
            resource_type: "Patient".into(),
            id: "p9".into(),
            stamp: twice.clone(),
            parent: None,
            kind: LogKind::Remote,
        })?;
        tx.search_ids(&query("Patient", &[("_id", "p9")]), 10)?;
        let _ = tx.sync().unwrap().local_versions_unstamped()?;
        assert!(tx.sync().unwrap().stamp_known("Patient", "p9", &twice)?);
        Ok(())
    })
    .unwrap();
    assert!(
        write_with(store, move |tx| tx
            .sync()
            .unwrap()
            .stamp_known("Patient", "p9", &stamp))
        .unwrap()
    );
}

pub fn every_version_is_stamped_by_the_hybrid_clock_with_its_parent(fresh: Fresh) {
    let store = fresh.store.as_ref();
    let first = put(store, gendered("p1", 1, T0_MS, false));
    let e1 = entry(store, first);
    assert_eq!(e1.stamp.hlc, T0_MS << 16);
    assert_eq!(e1.stamp.origin, "", "no node id yet");
    assert_eq!(e1.parent, None);
    assert_eq!(e1.kind, LogKind::Local);

    // The clock goes back: the stamp still grows (logical counter), and the parent is v1.
    let second = put(store, gendered("p1", 2, T0_MS - 5_000, false));
    let e2 = entry(store, second);
    assert_eq!(e2.stamp.hlc, (T0_MS << 16) + 1);
    assert_eq!(e2.parent, Some(e1.stamp.clone()));

    // A version received from a node whose clock is an hour ahead raises the clock.
    let far = Stamp {
        hlc: (T0_MS + 3_600_000) << 16,
        origin: "OTHER".into(),
    };
    let logged = far.clone();
    let remote = write_with(store, move |tx| {
        tx.sync().unwrap().catch_up_log(1_000)?;
        let stored = tx.put(gendered("p2", 1, T0_MS, false))?;
        tx.sync().unwrap().set_log_entry(&LogEntry {
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
    let third = put(store, gendered("p1", 3, T0_MS + 1_000, true));
    assert!(entry(store, third).stamp > far);

    // Naming the node stamps the versions written before.
    write_with(store, |tx| tx.sync().unwrap().set_node_id("DFSSA000001")).unwrap();
    assert_eq!(entry(store, first).stamp.origin, "DFSSA000001");
    assert_eq!(entry(store, second).parent.unwrap().origin, "DFSSA000001");
    assert_eq!(entry(store, remote).stamp.origin, "OTHER");
    assert_eq!(
        fresh.sync.node_id().unwrap().as_deref(),
        Some("DFSSA000001")
    );

    // Not logged yet, but pending all the same.
    let _unlogged = put(store, gendered("p3", 1, T0_MS + 2_000, false));
    let after_first = entry(store, first).change_seq;
    assert_eq!(fresh.sync.outbox_pending(after_first).unwrap().0, 3);
    // The outbox holds local versions only, in order, with their bodies (a delete has none).
    let outbox = fresh.sync.outbox(0, 100).unwrap();
    let outbox_ids: Vec<(String, u64)> = outbox
        .iter()
        .map(|(_, v)| (v.id.clone(), v.version_id))
        .collect();
    assert_eq!(
        outbox_ids,
        [
            ("p1".to_string(), 1),
            ("p1".to_string(), 2),
            ("p1".to_string(), 3),
            ("p3".to_string(), 1)
        ]
    );
    assert!(outbox[2].1.deleted);
    let positions: Vec<i64> = outbox.iter().map(|(e, _)| e.change_seq).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        fresh.sync.log_seq_max().unwrap(),
        fresh.sync.change_seq_max().unwrap()
    );
    assert_eq!(fresh.sync.log_seq_max().unwrap(), 5);
}

pub fn conflicts_are_recorded_once_and_follows_and_feed_index_are_kept(fresh: Fresh) {
    let store = fresh.store.as_ref();
    put(store, gendered("p1", 1, T0_MS, false));
    let conflict = crate::sync::Conflict {
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
    let (recorded, pos) = write_with(store, move |tx| {
        let sync = tx.sync().unwrap();
        assert_eq!(sync.catch_up_log(1_000)?, 1);
        let first = sync.record_conflict(&conflict)?;
        let second = sync.record_conflict(&twice)?;
        sync.follow("A", "p1", T0_MS)?;
        sync.follow("A", "p1", T0_MS)?;
        let logged = sync.log_after(0, 10)?;
        let pos = logged[0].0.change_seq;
        sync.index_patients(pos, &["p1".to_string()])?;
        assert_eq!(sync.patients_before("Patient", "p1", pos + 1)?, ["p1"]);
        assert!(sync.patients_before("Patient", "p1", pos)?.is_empty());
        sync.set_state("k", "v1")?;
        sync.set_state("k", "v2")?;
        Ok(((first, second), pos))
    })
    .unwrap();
    assert_eq!(recorded, (true, false));
    assert_eq!(fresh.sync.state("k").unwrap().as_deref(), Some("v2"));
    assert_eq!(fresh.sync.conflicts_open().unwrap(), 1);
    assert_eq!(
        fresh.sync.conflicts(10).unwrap()[0].fields,
        vec!["telecom", "gender"]
    );
    assert_eq!(fresh.sync.followed("A").unwrap().len(), 1);
    let feed = fresh.sync.feed_candidates(0, i64::MAX, 10).unwrap();
    assert_eq!(feed[0].patients, vec!["p1"]);
    assert_eq!(fresh.sync.patient_log("p1", 10).unwrap()[0].change_seq, pos);
    // The feed of a node following p1 has it; the node's own versions are left out.
    let fed = fresh
        .sync
        .feed("A", 0, i64::MAX, &["Organization"], 10)
        .unwrap();
    assert_eq!(fed.len(), 1);
    let versions = fresh.sync.versions(&[fed[0].change_seq]).unwrap();
    assert_eq!(versions[0].id, "p1");
    assert!(
        fresh
            .sync
            .feed("B", 0, i64::MAX, &["Organization"], 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        fresh
            .sync
            .feed("B", 0, i64::MAX, &["Patient"], 10)
            .unwrap()
            .len(),
        1
    );
    assert!(
        fresh
            .sync
            .feed("A", pos, i64::MAX, &["Patient"], 10)
            .unwrap()
            .is_empty()
    );
}

pub fn revoked_nodes_drop_out_and_rotation_replaces_the_digest(fresh: Fresh) {
    let store = fresh.store.as_ref();
    write_with(store, |tx| {
        let sync = tx.sync().unwrap();
        sync.enroll_node("A", &[1; 32], T0_MS)?;
        sync.enroll_node("B", &[2; 32], T0_MS)?;
        assert!(sync.revoke_node("A", T0_MS + 1)?);
        assert!(!sync.revoke_node("Z", T0_MS + 1)?);
        assert!(!sync.rotate_node("Z", &[9; 32], T0_MS + 1)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        fresh.sync.nodes().unwrap(),
        vec![("B".to_string(), vec![2; 32])]
    );
    write_with(store, |tx| {
        assert!(tx.sync().unwrap().rotate_node("A", &[3; 32], T0_MS + 2)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(
        fresh.sync.nodes().unwrap(),
        vec![
            ("A".to_string(), vec![3; 32]),
            ("B".to_string(), vec![2; 32])
        ]
    );
}

pub fn refusals_and_anchors_are_kept(fresh: Fresh) {
    let store = fresh.store.as_ref();
    let refusal = |id: &str| crate::sync::Refused {
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
    let anchor = |seq: u64, at_ms: i64| crate::sync::AuditAnchor {
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
    write_with(store, move |tx| {
        let sync = tx.sync().unwrap();
        assert!(sync.record_refused(&r1)?);
        assert!(!sync.record_refused(&r1)?, "once");
        assert!(sync.record_refused(&r2)?);
        assert!(sync.record_anchor(&a5)?);
        assert!(!sync.record_anchor(&a5)?, "the same signed head once");
        assert!(sync.record_anchor(&a9)?);
        assert!(sync.record_anchor(&a5_again)?);
        Ok(())
    })
    .unwrap();
    assert_eq!(fresh.sync.refused_count().unwrap(), 2);
    assert_eq!(fresh.sync.refused(1).unwrap()[0].id, "p2");
    let anchors = fresh.sync.anchors("A", 0, 100).unwrap();
    let seqs: Vec<u64> = anchors.iter().map(|a| a.seq).collect();
    assert_eq!(seqs, [5, 9, 5]);
    let after_first = fresh.sync.anchors("A", anchors[0].position, 100).unwrap();
    assert_eq!(after_first.len(), 2);
    assert!(fresh.sync.anchors("B", 0, 100).unwrap().is_empty());
}

/// The skipped-commit problem: writers commit concurrently (in any order) while a puller walks
/// the log by cursor the whole time; every committed version is received exactly once.
pub fn the_feed_misses_nothing_under_concurrent_writers(fresh: Fresh) {
    const WRITERS: usize = 6;
    const PER_WRITER: usize = 40;
    let store = fresh.store;
    let mut threads = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        threads.push(std::thread::spawn(move || {
            for n in 0..PER_WRITER {
                let id = format!("w{writer}n{n}");
                write_with(store.as_ref(), move |tx| {
                    let stored = tx.put(gendered(&id, 1, T0_MS, false))?;
                    // Some transactions stay open a little, so commits overtake each other.
                    if n % 3 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(3));
                    }
                    Ok(stored.change_seq)
                })
                .unwrap();
            }
        }));
    }
    let mut received: Vec<String> = Vec::new();
    let mut cursor = 0;
    loop {
        // Finished or failed: a writer whose write failed ends too, and its panic comes out of
        // `join` below (a count of successes would leave this loop waiting forever).
        let finished = threads.iter().all(std::thread::JoinHandle::is_finished);
        write_with(store.as_ref(), |tx| {
            let sync = tx.sync().unwrap();
            while sync.catch_up_log(50)? == 50 {}
            Ok(())
        })
        .unwrap();
        loop {
            let batch = fresh.sync.feed_candidates(cursor, i64::MAX, 17).unwrap();
            let Some(last) = batch.last() else { break };
            cursor = last.entry.change_seq;
            received.extend(batch.into_iter().map(|c| c.entry.id));
        }
        if finished {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    for thread in threads {
        thread.join().unwrap();
    }
    let unique: HashSet<&String> = received.iter().collect();
    assert_eq!(unique.len(), received.len(), "a version was received twice");
    assert_eq!(
        received.len(),
        WRITERS * PER_WRITER,
        "a committed version was skipped"
    );
}

/// The subscription delivery queue (`notify`): rows come out due-first, a claimed row is not
/// handed out again until its lease ends, a retry moves its next attempt and keeps why, and
/// finishing or dropping a subscription removes rows; a claim on several threads at once hands
/// each row out once.
pub fn the_delivery_queue_leases_retries_and_hands_each_row_out_once(fresh: Fresh) {
    use crate::notify::NewDelivery;
    let store = fresh.store.clone();
    let queue = store.notifications().expect("every engine keeps the queue");
    let delivery = |sub: &str, id: &str, at: i64| NewDelivery {
        subscription_id: sub.into(),
        resource_type: "Appointment".into(),
        resource_id: id.into(),
        version_id: 1,
        queued_ms: at,
    };
    queue
        .enqueue(&[
            delivery("s1", "a1", T0_MS),
            delivery("s1", "a2", T0_MS + 10),
            delivery("s2", "a3", T0_MS + 5),
            delivery("s1", "late", T0_MS + 60_000),
        ])
        .unwrap();
    assert_eq!(queue.queued(10).unwrap().len(), 4);
    let due = queue.claim_due(T0_MS + 100, T0_MS + 30_000, 10).unwrap();
    let mut ids: Vec<&str> = due.iter().map(|d| d.resource_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["a1", "a2", "a3"]);
    // Leased: not due again before the lease ends, due after it.
    assert!(
        queue
            .claim_due(T0_MS + 200, T0_MS + 30_000, 10)
            .unwrap()
            .is_empty()
    );
    let first = due.iter().find(|d| d.resource_id == "a1").unwrap();
    queue.finish(first.seq).unwrap();
    let second = due.iter().find(|d| d.resource_id == "a2").unwrap();
    queue
        .retry_later(second.seq, 1, T0_MS + 1_000, "HTTP 500")
        .unwrap();
    let retried = queue.claim_due(T0_MS + 1_000, T0_MS + 2_000, 10).unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].resource_id, "a2");
    assert_eq!(retried[0].attempts, 1);
    assert_eq!(retried[0].last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(queue.drop_subscription("s1").unwrap(), 2);
    let left: Vec<String> = queue
        .queued(10)
        .unwrap()
        .into_iter()
        .map(|d| d.resource_id)
        .collect();
    assert_eq!(left, ["a3"]);

    // Concurrent claims hand each row out once.
    let many: Vec<NewDelivery> = (0..40)
        .map(|n| delivery("s3", &format!("c{n}"), T0_MS))
        .collect();
    queue.enqueue(&many).unwrap();
    let claimed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..5 {
                    let got = store
                        .notifications()
                        .unwrap()
                        .claim_due(T0_MS + 50_000, T0_MS + 90_000, 3)
                        .unwrap();
                    claimed
                        .lock()
                        .unwrap()
                        .extend(got.into_iter().map(|d| d.seq));
                }
            });
        }
    });
    let mut claimed = claimed.into_inner().unwrap();
    let total = claimed.len();
    claimed.sort_unstable();
    claimed.dedup();
    assert_eq!(claimed.len(), total, "a row was handed out twice");
}
