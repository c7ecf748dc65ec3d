//! An acknowledged write survives SIGKILL of the node during concurrent writes.

use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::support::*;

#[test]
fn acknowledged_writes_survive_sigkill() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("node");
    let mut node = Node::start_in(&data);
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::new(Mutex::new(Vec::new()));
    let base = node.base.clone();
    let mut writers = Vec::new();
    for writer in 0..8 {
        let acknowledged = acknowledged.clone();
        let base = base.clone();
        writers.push(std::thread::spawn(move || {
            let client = client();
            for n in 0..10_000 {
                let body = json!({
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": format!("escritor {writer} número {n}")},
                    "valueString": format!("{writer}-{n}")
                });
                let response = client
                    .post(format!("{base}/Observation"))
                    .header("content-type", "application/fhir+json")
                    .body(body.to_string())
                    .send();
                match response {
                    Ok(response) if response.status().as_u16() == 201 => {
                        let value: serde_json::Value = response.json().unwrap();
                        acknowledged.lock().unwrap().push((
                            value["id"].as_str().unwrap().to_string(),
                            format!("{writer}-{n}"),
                        ));
                    }
                    // The node died: stop writing.
                    _ => break,
                }
            }
        }));
    }
    // Let writes pile up, then kill without warning.
    while acknowledged.lock().unwrap().len() < 300 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    node.kill();
    for writer in writers {
        writer.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 300);

    let restarted = Node::start_in(&data);
    for (id, value) in &acknowledged {
        let read = get(&restarted, &format!("Observation/{id}"));
        assert_eq!(read.status, 200, "acknowledged Observation/{id} lost");
        assert_eq!(read.body["valueString"], value.as_str());
    }
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("node");
    let mut node = Node::start_in(&data);
    let created = post(
        &node,
        "Patient",
        &patient("Tere", "Salas", "1966-06-06", "female"),
    );
    assert_eq!(created.status, 201);
    let pid = node.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = node.child.wait().unwrap();
    assert!(exit.success(), "graceful exit, got {exit:?}");
    let restarted = Node::start_in(&data);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(get(&restarted, &format!("Patient/{id}")).status, 200);
}

/// A clinic backs up its node while it serves, and brings the copy back into a new node:
/// checked, with the same records and an intact audit trail. A restore never overwrites a
/// node, and a damaged copy is refused before it becomes one.
#[test]
fn backup_while_serving_then_restore_gives_the_same_record() {
    if engine() != Engine::Sqlite {
        return; // SQLite's own backup; PostgreSQL hubs use pg_dump (the command says so)
    }
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("clinica");
    let node = Node::start_in(&data);
    for n in 0..12 {
        let created = post(
            &node,
            "Patient",
            &patient("Respaldo", &format!("Prueba{n}"), "1990-01-01", "female"),
        );
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let copy = temp.path().join("respaldo.db");
    let data_arg = data.to_str().unwrap();
    let (code, stdout, stderr) =
        run_cli(&["backup", "--data", data_arg, "--to", copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout} {stderr}");
    // Written after the backup: not in it.
    post(
        &node,
        "Patient",
        &patient("Después", "Tarde", "1990-01-01", "male"),
    );
    let counted = get(&node, "Patient?_summary=count").body["total"].clone();
    assert_eq!(counted, 13);
    drop(node);
    // A backup never overwrites a file.
    let (code, _, _) = run_cli(&["backup", "--data", data_arg, "--to", copy.to_str().unwrap()]);
    assert_ne!(code, 0);

    let restored = temp.path().join("restaurado");
    let (code, stdout, stderr) = run_cli(&[
        "restore",
        "--from",
        copy.to_str().unwrap(),
        "--data",
        restored.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert!(stdout.contains("Patient\t12"), "{stdout}");
    let node = Node::start_in(&restored);
    assert_eq!(get(&node, "Patient?_summary=count").body["total"], 12);
    drop(node);
    let (code, out, _) = run_cli(&["audit", "verify", "--data", restored.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");

    // Never over an existing node.
    let (code, _, stderr) = run_cli(&[
        "restore",
        "--from",
        copy.to_str().unwrap(),
        "--data",
        data_arg,
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("never overwrites"), "{stderr}");
    // A damaged copy is refused and leaves no node behind.
    let mut bytes = std::fs::read(&copy).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 4096] {
        *byte = 0xA5;
    }
    let damaged = temp.path().join("dañado.db");
    std::fs::write(&damaged, &bytes).unwrap();
    let elsewhere = temp.path().join("otro");
    let (code, _, stderr) = run_cli(&[
        "restore",
        "--from",
        damaged.to_str().unwrap(),
        "--data",
        elsewhere.to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{stderr}");
    assert!(!elsewhere.join("expediente.db").exists());
}
