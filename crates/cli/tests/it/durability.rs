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
