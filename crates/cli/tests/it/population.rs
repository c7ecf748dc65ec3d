//! The synthetic population through the CLI: generated resources pass our own R4 validator
//! and the Mexican profile (zero rejections on import), and the demo prepares a node.

use crate::support::*;

#[test]
fn generated_population_imports_without_a_single_rejection() {
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("gen");
    let (code, stdout, stderr) = run_cli(&[
        "generate",
        "--patients",
        "60",
        "--seed",
        "7",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let data = temp.path().join("node");
    let (code, stdout, stderr) = run_cli(&[
        "import",
        "--strict",
        "--data",
        data.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains(" 0 rechazados"), "{stdout}");
    let node = Node::start_in(&data);
    let patients = get(&node, "Patient?_summary=count");
    assert_eq!(patients.body["total"], 60);
    // A patient's whole chart comes back through $everything.
    let one = get(&node, "Patient?_count=1");
    let id = one.body["entry"][0]["resource"]["id"].as_str().unwrap();
    let everything = get(&node, &format!("Patient/{id}/$everything"));
    assert_eq!(everything.status, 200);
    let types: std::collections::BTreeSet<&str> = everything.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert!(
        types.contains("Patient") && types.contains("Encounter"),
        "{types:?}"
    );
}

#[test]
fn demo_prepares_a_node_once() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("demo");
    let args = [
        "demo",
        "--data",
        data.to_str().unwrap(),
        "--patients",
        "40",
        "--clinics",
        "2",
        "--no-serve",
    ];
    let (code, stdout, stderr) = run_cli(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("Nodo de demostración listo"), "{stdout}");
    assert!(stdout.contains(" 0 rechazados"), "{stdout}");
    // Run again: the data is kept, nothing is generated twice.
    let (code, stdout, _) = run_cli(&args);
    assert_eq!(code, 0);
    assert!(stdout.contains("Usando los datos existentes"), "{stdout}");
    // The demo's accounts sign in, and the physician sees the first patient's chart.
    let accounts = std::fs::read_to_string(data.join("cuentas-demo.txt")).unwrap();
    let password = |user: &str| {
        accounts
            .lines()
            .find(|l| l.split_whitespace().next() == Some(user))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .to_string()
    };
    let node = Node::start_in(&data);
    let origin = node.base.trim_end_matches("/fhir").to_string();
    let sign_in = |user: &str| -> String {
        let answer = anonymous_client()
            .post(format!("{origin}/auth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=password&username={user}&password={}",
                password(user)
            ))
            .send()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        let body: serde_json::Value = answer.json().unwrap();
        body["access_token"].as_str().unwrap().to_string()
    };
    let physician = sign_in("medica");
    let patient_token = sign_in("paciente");
    let me: serde_json::Value = anonymous_client()
        .get(node.url("Patient"))
        .bearer_auth(&patient_token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let entries = me["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "the patient sees only themself");
    let id = entries[0]["resource"]["id"].as_str().unwrap();
    let chart: serde_json::Value = anonymous_client()
        .get(node.url(&format!("Patient/{id}/$everything")))
        .bearer_auth(&physician)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let types: std::collections::BTreeSet<&str> = chart["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["resource"]["resourceType"].as_str())
        .collect();
    assert!(types.contains("Encounter"), "{types:?}");
}
