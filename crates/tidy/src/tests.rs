//! Each rule shown catching a made-up violation, and letting the allowed case pass (the test
//! of the test: a rule that cannot fail checks nothing).

use super::*;

fn rules(found: &[Violation]) -> Vec<&'static str> {
    found.iter().map(|v| v.rule).collect()
}

#[test]
fn sql_outside_the_store_crates_is_caught() {
    let code = "//! x\nfn f() { conn.execute(\"DELETE FROM resource WHERE id = ?1\"); }\n";
    assert_eq!(
        rules(&check_file("crates/ehr/src/x.rs", code)),
        vec!["sql-in-store-crates"]
    );
    assert!(check_file("crates/store-sqlite/src/x.rs", code).is_empty());
    assert!(check_file("crates/bench/src/import.rs", code).is_empty());
    // Words about SQL in comments, and English that happens to say "select", are not SQL.
    let prose = "//! We SELECT nothing FROM here.\n/// DELETE FROM docs\nfn f() { let s = \"select a name from the list\"; }\n";
    assert!(check_file("crates/ehr/src/x.rs", prose).is_empty());
}

#[test]
fn clock_reads_and_id_draws_outside_their_homes_are_caught() {
    let code = "//! x\nfn f() { let t = std::time::SystemTime::now(); let id = Uuid::now_v7(); }\n";
    let found = check_file("crates/sync/src/x.rs", code);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|v| v.rule == "clock-and-ids-injected"));
    assert!(check_file("crates/ehr/src/clock.rs", code).is_empty());
    assert!(check_file("crates/cli/src/main.rs", code).is_empty());
    assert!(check_file("crates/sync/tests/it/x.rs", code).is_empty());
    let with_tests =
        "//! x\nfn f() {}\n#[cfg(test)]\nmod tests { fn g() { SystemTime::now(); } }\n";
    assert!(check_file("crates/sync/src/x.rs", with_tests).is_empty());
}

#[test]
fn a_lower_ehr_layer_calling_a_use_case_is_caught() {
    let code = "//! x\nuse crate::interactions::CreateOutcome;\n";
    assert_eq!(
        rules(&check_file("crates/ehr/src/write/x.rs", code)),
        vec!["ehr-layers-call-down"]
    );
    assert!(check_file("crates/ehr/src/bundle.rs", code).is_empty());
    // `crate::care` is a use case; `crate::guard::care` is not.
    let care = "//! x\nuse crate::guard::care::FacilityIds;\n";
    assert!(check_file("crates/ehr/src/write/x.rs", care).is_empty());
    let guard = "//! x\nuse crate::write::Writer;\n";
    assert_eq!(
        rules(&check_file("crates/ehr/src/guard/x.rs", guard)),
        vec!["ehr-layers-call-down"]
    );
}

#[test]
fn a_version_written_outside_the_write_path_is_caught() {
    let code = "//! x\nfn f() { tx.put(NewVersion { id }); }\n";
    assert_eq!(
        rules(&check_file("crates/ehr/src/identity/mod.rs", code)),
        vec!["one-write-path"]
    );
    assert!(check_file("crates/ehr/src/write/mod.rs", code).is_empty());
    let through_writer = "//! x\nfn f() { writer.put_prepared(prepared); }\n";
    assert!(check_file("crates/ehr/src/import.rs", through_writer).is_empty());
}

#[test]
fn a_file_without_its_purpose_is_caught() {
    assert_eq!(
        rules(&check_file("crates/ehr/src/x.rs", "use std::io;\n")),
        vec!["file-says-what-it-is-for"]
    );
}

#[test]
fn the_crate_graph_rules_catch_wrong_edges() {
    let graph = vec![
        CrateDeps {
            name: "ehr".into(),
            dependencies: vec!["store".into(), "rest".into(), "axum".into()],
        },
        CrateDeps {
            name: "rest".into(),
            dependencies: vec!["ehr".into(), "store-sqlite".into(), "axum".into()],
        },
        CrateDeps {
            name: "store".into(),
            dependencies: vec![],
        },
        CrateDeps {
            name: "store-sqlite".into(),
            dependencies: vec![],
        },
        CrateDeps {
            name: "newcomer".into(),
            dependencies: vec![],
        },
    ];
    let found = check_graph(&graph);
    let mut got = rules(&found);
    got.sort();
    assert_eq!(
        got,
        vec![
            "concrete-store-in-cli",
            "crate-graph",
            "crate-graph",
            "crate-graph",
            "http-at-the-edges"
        ],
        "{found:#?}"
    );
}

#[test]
fn a_concrete_store_named_outside_the_engine_module_is_caught() {
    let code = "//! x\nfn f() { let s = store_sqlite::SqliteStore::open(dir); }\n";
    assert_eq!(
        rules(&check_file("crates/cli/src/commands/serve.rs", code)),
        vec!["concrete-store-in-one-place"]
    );
    let postgres = "//! x\nfn f() { store_postgres::PgStore::connect(url); }\n";
    assert_eq!(
        rules(&check_file("crates/cli/src/commands/node.rs", postgres)),
        vec!["concrete-store-in-one-place"]
    );
    assert!(check_file(CLI_ENGINE_HOME, code).is_empty());
    assert!(check_file("crates/cli/tests/it/support.rs", code).is_empty());
    // Saying so in a comment is not naming it.
    let prose = "//! x\n// store_sqlite::SqliteStore is opened in database.rs\nfn f() {}\n";
    assert!(check_file("crates/cli/src/main.rs", prose).is_empty());
}

#[test]
fn rest_or_web_reaching_the_store_is_caught() {
    let code = "//! x\nfn f(s: &dyn store::Store) { store::write_with(s, |tx| Ok(())); }\n";
    let found = check_file("crates/rest/src/handlers.rs", code);
    assert!(
        found
            .iter()
            .all(|v| v.rule == "nothing-above-ehr-reaches-the-store")
            && found.len() >= 2,
        "{found:?}"
    );
    let handle = "//! x\nfn f(ehr: &Ehr) { ehr.store().counts(); }\n";
    assert_eq!(
        rules(&check_file("crates/web/src/pages.rs", handle)),
        vec!["nothing-above-ehr-reaches-the-store"]
    );
    // Its data types are fine, and `sync` (which persists through `SyncStore`) is not above ehr.
    let data = "//! x\nfn f(r: &store::StoredResource, a: &store::Account) {}\n";
    assert!(check_file("crates/rest/src/bundle.rs", data).is_empty());
    assert!(check_file("crates/sync/src/hub.rs", code).is_empty());
}
