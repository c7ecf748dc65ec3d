//! Issue 15: a worker added to the hub's Citus cluster while it serves, through the operator's
//! door (`expediente cluster`): the shards spread onto it by Citus's rebalancer, and every
//! resource written before is still there, readable and searchable, and new writes go on.
//! On a cluster of this test's own (a coordinator, two workers and a spare node): it runs in
//! the first pass of test.sh, whatever the suite's engine.

use serde_json::json;

use crate::support::*;

/// `expediente cluster workers` as (node, shards, bytes) rows.
fn workers(url: &str) -> Vec<(String, i64, i64)> {
    let (code, out, err) = run_cli(&["cluster", "--database", url, "workers"]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (
                cols[0].to_string(),
                cols[1].parse().unwrap(),
                cols[2].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn citus_a_worker_added_while_serving_takes_its_share() {
    let citus = PrivateCitus::start_with(3);
    let spare = format!("127.0.0.1:{}", citus.node_port(3));
    // The third worker leaves before anything is placed: the spare.
    psql(
        &citus.admin_url,
        &format!(
            "SELECT citus_remove_node('127.0.0.1', {})",
            citus.node_port(3)
        ),
    );
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    place_on(&data, &citus.admin_url);
    let node = Node::start_in(&data);
    let mut patients = Vec::new();
    for i in 0..12 {
        let id = created(
            &node,
            &patient(&format!("Nodo{i}"), "Citus", "1980-01-01", "female"),
        );
        for k in 0..3 {
            created(
                &node,
                &json!({"resourceType": "Observation", "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                        "subject": {"reference": format!("Patient/{id}")},
                        "effectiveDateTime": format!("2026-01-0{}", k + 1),
                        "valueQuantity": {"value": 70 + k, "unit": "/min"}}),
            );
        }
        patients.push(id);
    }
    let before = workers(&citus.admin_url);
    assert!(
        !before.iter().any(|(name, _, _)| *name == spare),
        "{before:?}"
    );

    // A bad address is refused plainly; then the spare is added and the shards spread.
    let (code, _, err) = run_cli(&[
        "cluster",
        "--database",
        &citus.admin_url,
        "add-worker",
        "127.0.0.1",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("host:port"), "{err}");
    let (code, out, err) = run_cli(&[
        "cluster",
        "--database",
        &citus.admin_url,
        "add-worker",
        &spare,
        "--rebalance",
        "--mode",
        "block-writes",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("rebalance finished"), "{out}");
    let after = workers(&citus.admin_url);
    let on_spare = after
        .iter()
        .find(|(name, _, _)| *name == spare)
        .unwrap_or_else(|| panic!("{after:?}"));
    assert!(on_spare.1 > 0 && on_spare.2 > 0, "{after:?}");
    // Every worker holds a share: none has more than twice the fewest placements.
    let shards: Vec<i64> = after
        .iter()
        .filter(|(name, _, _)| !name.ends_with(&format!(":{}", citus.node_port(0))))
        .map(|w| w.1)
        .collect();
    assert_eq!(shards.len(), 3, "{after:?}");
    let (most, least) = (*shards.iter().max().unwrap(), *shards.iter().min().unwrap());
    assert!(most <= 2 * least, "{after:?}");

    // Nothing lost, nothing doubled, and the node (never restarted) still writes.
    for id in &patients {
        let reply = get(&node, &format!("Patient/{id}"));
        assert_eq!(reply.status, 200, "{}", reply.text);
        let reply = get(
            &node,
            &format!("Observation?subject=Patient/{id}&_summary=count"),
        );
        assert_eq!(reply.body["total"], 3, "{}", reply.text);
    }
    created(&node, &patient("Despues", "Citus", "1990-02-02", "male"));
    let reply = get(&node, "Patient?family=Citus&_summary=count");
    assert_eq!(reply.body["total"], 13, "{}", reply.text);
}
