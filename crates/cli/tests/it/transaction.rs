//! Transaction (all-or-nothing, urn:uuid rewriting) and batch Bundles over HTTP.

use serde_json::{Value, json};

use crate::support::*;

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": kind, "entry": entries})
}

#[test]
fn a_synthea_bundle_is_one_transaction() {
    let node = Node::start();
    let path = shared_dir()
        .join("fixtures/synthea/bundles/Gustavo_Mejia_59a8543c-e24f-4a01-b28b-47ccde6bc11d.json");
    let text = std::fs::read_to_string(path).unwrap();
    let request: Value = serde_json::from_str(&text).unwrap();
    let n_entries = request["entry"].as_array().unwrap().len();
    let reply = post(&node, "", &request);
    assert_eq!(
        reply.status,
        200,
        "{}",
        &reply.text[..reply.text.len().min(2000)]
    );
    assert_eq!(reply.body["type"], "transaction-response");
    let entries = reply.body["entry"].as_array().unwrap();
    assert_eq!(entries.len(), n_entries);
    assert!(
        entries
            .iter()
            .all(|e| e["response"]["status"] == "201 Created")
    );
    // The patient's references were rewritten from urn:uuid to the new ids.
    let patient_location = entries[0]["response"]["location"].as_str().unwrap();
    let patient_id = patient_location.split('/').nth(1).unwrap();
    let conditions = get(&node, &format!("Condition?subject=Patient/{patient_id}"));
    assert!(
        conditions.body["total"].as_u64().unwrap() > 0,
        "{}",
        conditions.text
    );
    let everything = get(&node, &format!("Patient/{patient_id}/$everything"));
    assert!(everything.body["entry"].as_array().unwrap().len() > 10);
    assert!(!everything.text.contains("urn:uuid:"));
}

#[test]
fn a_failing_transaction_writes_nothing() {
    let node = Node::start();
    let entries = vec![
        json!({"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
               "resource": patient("Irma", "Vega", "1970-07-07", "female"),
               "request": {"method": "POST", "url": "Patient"}}),
        json!({"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "peso"},
                            "subject": {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"}},
               "request": {"method": "POST", "url": "Observation"}}),
        // Conditional reference to something that does not exist: the whole transaction fails.
        json!({"resource": {"resourceType": "Encounter", "status": "finished",
                            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                            "subject": {"reference": "Patient?identifier=urn:no|existe"}},
               "request": {"method": "POST", "url": "Encounter"}}),
    ];
    let reply = post(&node, "", &bundle("transaction", entries.clone()));
    assert!(reply.status >= 400, "{}", reply.text);
    assert_eq!(reply.body["resourceType"], "OperationOutcome");
    assert_eq!(get(&node, "Patient?_summary=count").body["total"], 0);
    assert_eq!(get(&node, "Observation?_summary=count").body["total"], 0);

    // An invalid resource anywhere also fails it all, naming the entry.
    let mut invalid = entries[..2].to_vec();
    invalid[1]["resource"]["status"] = json!("inventado");
    let reply = post(&node, "", &bundle("transaction", invalid));
    assert_eq!(reply.status, 400);
    assert!(reply.text.contains("Bundle.entry[1]"), "{}", reply.text);
    assert_eq!(get(&node, "Patient?_summary=count").body["total"], 0);

    // The valid part alone succeeds, with the reference rewritten.
    let reply = post(&node, "", &bundle("transaction", entries[..2].to_vec()));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let patient_id = reply.body["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string();
    let observations = get(&node, &format!("Observation?subject=Patient/{patient_id}"));
    assert_eq!(observations.body["total"], 1);
}

#[test]
fn transaction_order_and_conditional_entries() {
    let node = Node::start();
    let mut existing = patient("Paula", "Nava", "1988-08-08", "female");
    existing["identifier"] = json!([{"system": "urn:test", "value": "P-1"}]);
    let first = post(&node, "Patient", &existing);
    let existing_id = first.body["id"].as_str().unwrap().to_string();
    let doomed = post(
        &node,
        "Organization",
        &json!({"resourceType": "Organization", "name": "Borrar"}),
    );
    let doomed_id = doomed.body["id"].as_str().unwrap().to_string();

    let entries = vec![
        // Conditional create matching the existing patient: no new patient, and the
        // placeholder points to the existing one.
        json!({"fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222", "resource": existing,
               "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:test|P-1"}}),
        json!({"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "talla"},
                            "subject": {"reference": "urn:uuid:22222222-2222-4222-8222-222222222222"}},
               "request": {"method": "POST", "url": "Observation"}}),
        json!({"request": {"method": "DELETE", "url": format!("Organization/{doomed_id}")}}),
        json!({"request": {"method": "GET", "url": format!("Patient/{existing_id}")}}),
    ];
    let reply = post(&node, "", &bundle("transaction", entries));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let responses = reply.body["entry"].as_array().unwrap();
    assert_eq!(responses[0]["response"]["status"], "200 OK");
    assert_eq!(responses[1]["response"]["status"], "201 Created");
    assert!(
        responses[2]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("204")
    );
    assert_eq!(responses[3]["resource"]["id"], existing_id.as_str());
    assert_eq!(get(&node, "Patient?_summary=count").body["total"], 1);
    assert_eq!(
        get(&node, &format!("Observation?subject=Patient/{existing_id}")).body["total"],
        1
    );
    assert_eq!(get(&node, &format!("Organization/{doomed_id}")).status, 410);
}

#[test]
fn batch_entries_are_independent() {
    let node = Node::start();
    let entries = vec![
        json!({"resource": patient("Uno", "Batch", "2001-01-01", "male"), "request": {"method": "POST", "url": "Patient"}}),
        json!({"resource": {"resourceType": "Patient", "gender": "nope"}, "request": {"method": "POST", "url": "Patient"}}),
        json!({"request": {"method": "GET", "url": "Patient/no-existe"}}),
        json!({"request": {"method": "GET", "url": "Patient?family=batch"}}),
    ];
    let reply = post(&node, "", &bundle("batch", entries));
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["type"], "batch-response");
    let responses = reply.body["entry"].as_array().unwrap();
    assert_eq!(responses[0]["response"]["status"], "201 Created");
    assert!(
        responses[1]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("400")
    );
    assert_eq!(
        responses[1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    assert!(
        responses[2]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("404")
    );
    assert_eq!(responses[3]["resource"]["total"], 1);
}
