//! PATCH over HTTP: FHIRPath Patch on an instance and by condition, `If-Match`, refusals that
//! leave the record as it was, and PATCH entries inside transaction and batch Bundles.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::*;

/// One FHIRPath Patch `operation` parameter.
fn operation(kind: &str, path: &str, extra: Value) -> Value {
    let mut parts = vec![
        json!({"name": "type", "valueCode": kind}),
        json!({"name": "path", "valueString": path}),
    ];
    if let Value::Array(more) = extra {
        parts.extend(more);
    }
    json!({"name": "operation", "part": parts})
}

fn parameters(operations: Vec<Value>) -> Value {
    json!({"resourceType": "Parameters", "parameter": operations})
}

fn fhirpath_patch(node: &Node, path: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
    send_with(node, "PATCH", path, body, headers)
}

fn new_patient(node: &Node, curp: &str) -> String {
    let mut body = patient("Ana", "López", "1980-02-03", "female");
    body["identifier"] = json!([{"system": "urn:test:expediente:folio", "value": curp}]);
    body["telecom"] = json!([
        {"system": "phone", "value": "5550001111"},
        {"system": "email", "value": "ana@example.mx"}
    ]);
    let created = post(node, "Patient", &body);
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["id"].as_str().unwrap().to_string()
}

#[test]
fn fhirpath_patch_on_an_instance_and_by_condition() {
    let node = Node::start();
    let id = new_patient(&node, "LOAA800203MDFPNN09");

    let change = parameters(vec![
        operation(
            "replace",
            "Patient.telecom.where(system = 'phone').value",
            json!([{"name": "value", "valueString": "5559998888"}]),
        ),
        operation(
            "add",
            "Patient.name.where(family = 'López')",
            json!([{"name": "name", "valueString": "given"}, {"name": "value", "valueString": "María"}]),
        ),
        operation(
            "delete",
            "Patient.telecom.where(system = 'email')",
            json!([]),
        ),
    ]);
    let patched = fhirpath_patch(&node, &format!("Patient/{id}"), &change, &[]);
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.body["meta"]["versionId"], "2");
    assert_eq!(
        patched.body["telecom"],
        json!([{"system": "phone", "value": "5559998888"}])
    );
    assert_eq!(patched.body["name"][0]["given"], json!(["Ana", "María"]));
    let stored = get(&node, &format!("Patient/{id}"));
    assert_eq!(stored.body["telecom"], patched.body["telecom"]);

    // If-Match on a version that is no longer current: 412, nothing written.
    let stale = fhirpath_patch(
        &node,
        &format!("Patient/{id}"),
        &parameters(vec![operation(
            "replace",
            "Patient.active",
            json!([{"name": "value", "valueBoolean": false}]),
        )]),
        &[("if-match", "W/\"1\"")],
    );
    assert_eq!(stale.status, 412, "{}", stale.text);
    let current = fhirpath_patch(
        &node,
        &format!("Patient/{id}"),
        &parameters(vec![operation(
            "add",
            "Patient",
            json!([{"name": "name", "valueString": "active"}, {"name": "value", "valueBoolean": false}]),
        )]),
        &[("if-match", "W/\"2\"")],
    );
    assert_eq!(current.status, 200, "{}", current.text);
    assert_eq!(current.body["active"], false);
    assert_eq!(current.body["meta"]["versionId"], "3");

    // By condition: the one Patient with this identifier; If-Match names its version.
    let stale_by_condition = fhirpath_patch(
        &node,
        "Patient?identifier=LOAA800203MDFPNN09",
        &parameters(vec![operation("delete", "Patient.active", json!([]))]),
        &[("if-match", "W/\"2\"")],
    );
    assert_eq!(
        stale_by_condition.status, 412,
        "{}",
        stale_by_condition.text
    );
    let by_condition = fhirpath_patch(
        &node,
        "Patient?identifier=LOAA800203MDFPNN09",
        &parameters(vec![operation(
            "replace",
            "Patient.birthDate",
            json!([{"name": "value", "valueDate": "1980-02-04"}]),
        )]),
        &[("if-match", "W/\"3\"")],
    );
    assert_eq!(by_condition.status, 200, "{}", by_condition.text);
    assert_eq!(by_condition.body["id"], id.as_str());
    assert_eq!(by_condition.body["birthDate"], "1980-02-04");
    let nobody = fhirpath_patch(
        &node,
        "Patient?identifier=NOBODY",
        &parameters(vec![operation("delete", "Patient.active", json!([]))]),
        &[],
    );
    assert_eq!(nobody.status, 404, "{}", nobody.text);
}

#[test]
fn refused_fhirpath_patches_leave_the_record_as_it_was() {
    let node = Node::start();
    let id = new_patient(&node, "LOAA800203MDFPNN09");
    let url = format!("Patient/{id}");
    let cases: Vec<(&str, Value, u16)> = vec![
        // A path outside the supported FHIRPath subset: 400 before anything is read.
        (
            "unsupported function",
            parameters(vec![operation(
                "replace",
                "Patient.name.select(family)",
                json!([{"name": "value", "valueString": "X"}]),
            )]),
            400,
        ),
        // A path that must match one element and matches none; the first operation, which
        // would apply, is not kept either.
        (
            "no match",
            parameters(vec![
                operation(
                    "replace",
                    "Patient.gender",
                    json!([{"name": "value", "valueCode": "male"}]),
                ),
                operation(
                    "replace",
                    "Patient.telecom.where(system = 'fax').value",
                    json!([{"name": "value", "valueString": "1"}]),
                ),
            ]),
            422,
        ),
        (
            "several matches",
            parameters(vec![operation(
                "replace",
                "Patient.telecom.value",
                json!([{"name": "value", "valueString": "1"}]),
            )]),
            422,
        ),
        // The same validation as PUT: a code outside its required value set.
        (
            "invalid result",
            parameters(vec![operation(
                "replace",
                "Patient.gender",
                json!([{"name": "value", "valueCode": "feminine"}]),
            )]),
            400,
        ),
        // A patch may not change the id.
        (
            "id changed",
            parameters(vec![operation(
                "replace",
                "Patient.id",
                json!([{"name": "value", "valueId": "otro"}]),
            )]),
            422,
        ),
        // application/fhir+json must carry a Parameters.
        (
            "not parameters",
            json!({"resourceType": "Patient", "active": false}),
            400,
        ),
    ];
    for (what, body, status) in cases {
        let answer = fhirpath_patch(&node, &url, &body, &[]);
        assert_eq!(answer.status, status, "{what}: {}", answer.text);
        assert_eq!(answer.body["resourceType"], "OperationOutcome", "{what}");
        let text = answer.text.to_lowercase();
        assert!(!text.contains("panic"), "{what}: {}", answer.text);
    }
    let unsupported = fhirpath_patch(
        &node,
        &url,
        &parameters(vec![operation(
            "delete",
            "Patient.name.select(family)",
            json!([]),
        )]),
        &[("accept-language", "es-MX")],
    );
    assert!(
        unsupported.text.contains("no admitida"),
        "Spanish diagnostics: {}",
        unsupported.text
    );
    let stored = get(&node, &url);
    assert_eq!(stored.body["meta"]["versionId"], "1", "{}", stored.text);
    assert_eq!(stored.body["gender"], "female");
}

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": kind, "entry": entries})
}

fn binary_json_patch(operations: &Value) -> Value {
    json!({
        "resourceType": "Binary",
        "contentType": "application/json-patch+json",
        "data": base64::engine::general_purpose::STANDARD.encode(operations.to_string()),
    })
}

#[test]
fn patch_entries_in_a_transaction_are_all_or_nothing() {
    let node = Node::start();
    let first = new_patient(&node, "LOAA800203MDFPNN09");
    let second = new_patient(&node, "LOAA800203MDFPNN10");

    // The patches run after the creates, so a patch may point at what the transaction creates
    // by its urn:uuid, which is rewritten to the new id like any other reference.
    let practitioner = "urn:uuid:7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f";
    let transaction = bundle(
        "transaction",
        vec![
            json!({"resource": binary_json_patch(&json!([
                    {"op": "replace", "path": "/telecom/0/value", "value": "5551112222"},
                    {"op": "add", "path": "/generalPractitioner",
                     "value": [{"reference": practitioner}]}])),
                   "request": {"method": "PATCH", "url": format!("Patient/{first}")}}),
            json!({"resource": parameters(vec![operation(
                        "replace", "Patient.birthDate",
                        json!([{"name": "value", "valueDate": "1981-01-01"}]))]),
                   "request": {"method": "PATCH", "url": "Patient?identifier=LOAA800203MDFPNN10",
                               "ifMatch": "W/\"1\""}}),
            json!({"fullUrl": practitioner,
                   "resource": {"resourceType": "Practitioner", "name": [{"family": "Cruz"}]},
                   "request": {"method": "POST", "url": "Practitioner"}}),
        ],
    );
    let answer = post(&node, "", &transaction);
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["type"], "transaction-response");
    let entries = answer.body["entry"].as_array().unwrap();
    assert_eq!(
        entries[0]["response"]["status"], "200 OK",
        "{}",
        answer.text
    );
    assert_eq!(
        entries[1]["response"]["status"], "200 OK",
        "{}",
        answer.text
    );
    assert_eq!(
        entries[2]["response"]["status"], "201 Created",
        "{}",
        answer.text
    );
    let practitioner_id = entries[2]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string();
    let patched_first = get(&node, &format!("Patient/{first}"));
    assert_eq!(patched_first.body["telecom"][0]["value"], "5551112222");
    assert_eq!(
        patched_first.body["generalPractitioner"][0]["reference"],
        format!("Practitioner/{practitioner_id}")
    );
    assert_eq!(
        get(&node, &format!("Patient/{second}")).body["birthDate"],
        "1981-01-01"
    );

    // One failing patch rolls back every entry, a create among them.
    let failing = bundle(
        "transaction",
        vec![
            json!({"resource": patient("Irma", "Vega", "1970-07-07", "female"),
                   "request": {"method": "POST", "url": "Patient"}}),
            json!({"resource": parameters(vec![operation(
                        "replace", "Patient.gender",
                        json!([{"name": "value", "valueCode": "other"}]))]),
                   "request": {"method": "PATCH", "url": format!("Patient/{first}")}}),
            json!({"resource": parameters(vec![operation(
                        "replace", "Patient.telecom.where(system = 'fax').value",
                        json!([{"name": "value", "valueString": "1"}]))]),
                   "request": {"method": "PATCH", "url": format!("Patient/{second}")}}),
        ],
    );
    let refused = post(&node, "", &failing);
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.body["resourceType"], "OperationOutcome");
    assert!(refused.text.contains("Bundle.entry[2]"), "{}", refused.text);
    assert_eq!(get(&node, "Patient?family=Vega").body["total"], 0);
    assert_eq!(
        get(&node, &format!("Patient/{first}")).body["meta"]["versionId"],
        "2"
    );
    assert_eq!(
        get(&node, &format!("Patient/{second}")).body["meta"]["versionId"],
        "2"
    );

    // A stale ifMatch on a PATCH entry fails the transaction with 412.
    let stale = bundle(
        "transaction",
        vec![json!({"resource": binary_json_patch(&json!([
                        {"op": "replace", "path": "/active", "value": false}])),
                    "request": {"method": "PATCH", "url": format!("Patient/{first}"),
                                "ifMatch": "W/\"1\""}})],
    );
    let stale = post(&node, "", &stale);
    assert_eq!(stale.status, 412, "{}", stale.text);
    // A patch whose result is invalid is refused like a PUT of it.
    let invalid = bundle(
        "transaction",
        vec![json!({"resource": binary_json_patch(&json!([
                        {"op": "replace", "path": "/gender", "value": "feminine"}])),
                    "request": {"method": "PATCH", "url": format!("Patient/{first}")}})],
    );
    let invalid = post(&node, "", &invalid);
    assert_eq!(invalid.status, 400, "{}", invalid.text);
    assert_eq!(
        get(&node, &format!("Patient/{first}")).body["meta"]["versionId"],
        "2"
    );
}

#[test]
fn patch_entries_in_a_batch_answer_one_by_one() {
    let node = Node::start();
    let id = new_patient(&node, "LOAA800203MDFPNN09");
    let batch = bundle(
        "batch",
        vec![
            json!({"resource": parameters(vec![operation(
                        "replace", "Patient.gender",
                        json!([{"name": "value", "valueCode": "other"}]))]),
                   "request": {"method": "PATCH", "url": format!("Patient/{id}")}}),
            json!({"resource": parameters(vec![operation(
                        "replace", "Patient.nothing.here",
                        json!([{"name": "value", "valueString": "x"}]))]),
                   "request": {"method": "PATCH", "url": format!("Patient/{id}")}}),
            json!({"resource": binary_json_patch(&json!([
                        {"op": "add", "path": "/active", "value": true}])),
                   "request": {"method": "PATCH", "url": "Patient?identifier=LOAA800203MDFPNN09"}}),
            json!({"resource": {"resourceType": "Binary", "contentType": "text/plain", "data": "eA=="},
                   "request": {"method": "PATCH", "url": format!("Patient/{id}")}}),
        ],
    );
    let answer = post(&node, "", &batch);
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["type"], "batch-response");
    let entries = answer.body["entry"].as_array().unwrap();
    let statuses: Vec<&str> = entries
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses[0], "200 OK", "{}", answer.text);
    assert!(statuses[1].starts_with("422"), "{}", answer.text);
    assert_eq!(
        entries[1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(statuses[2], "200 OK", "{}", answer.text);
    assert!(
        statuses[3].starts_with("415") || statuses[3].starts_with("400"),
        "{}",
        answer.text
    );
    let stored = get(&node, &format!("Patient/{id}"));
    assert_eq!(stored.body["gender"], "other");
    assert_eq!(stored.body["active"], true);
    assert_eq!(stored.body["meta"]["versionId"], "3");
}
