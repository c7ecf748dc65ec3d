//! Every failure is an OperationOutcome with the right status, in Spanish and English.

use serde_json::json;

use crate::support::*;

fn raw(node: &Node, method: &str, path: &str, content_type: &str, body: &str) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    reply(
        client()
            .request(method, node.url(path))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .unwrap(),
    )
}

fn assert_outcome(reply: &Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply.body["resourceType"], "OperationOutcome",
        "{}",
        reply.text
    );
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/fhir+json")
    );
    assert!(!reply.diagnostics().is_empty());
}

#[test]
fn each_error_case_has_its_status() {
    let node = Node::start();
    // Malformed JSON: 400, with the position.
    let malformed = raw(
        &node,
        "POST",
        "Patient",
        "application/fhir+json",
        "{\"resourceType\": \"Patient\",",
    );
    assert_outcome(&malformed, 400);
    assert!(
        malformed.diagnostics().contains("JSON mal formado"),
        "{}",
        malformed.diagnostics()
    );
    assert!(malformed.diagnostics().contains("Malformed JSON"));

    // resourceType not matching the URL: 400.
    let mismatch = post(
        &node,
        "Observation",
        &patient("A", "B", "2000-01-01", "male"),
    );
    assert_outcome(&mismatch, 400);

    // id mismatch on PUT: 400.
    let mut body = patient("A", "B", "2000-01-01", "male");
    body["id"] = json!("otro");
    assert_outcome(&put(&node, "Patient/uno", &body), 400);

    // Invalid content: unknown element, bad code, bad date — with the element's path.
    let mut invalid = patient("A", "B", "2000-13-45", "mal");
    invalid["colorFavorito"] = json!("azul");
    let reply = post(&node, "Patient", &invalid);
    assert_outcome(&reply, 400);
    let expressions: Vec<String> = reply.body["issue"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["expression"][0].as_str().map(str::to_string))
        .collect();
    for expected in [
        "Patient.colorFavorito",
        "Patient.gender",
        "Patient.birthDate",
    ] {
        assert!(
            expressions.iter().any(|e| e == expected),
            "{expected} in {expressions:?}"
        );
    }

    // Unknown type and unknown id: 404.
    assert_outcome(&get(&node, "Paciente/1"), 404);
    assert_outcome(&get(&node, "Patient/no-existe"), 404);

    // Unsupported media type: 415.
    assert_outcome(
        &raw(&node, "POST", "Patient", "application/xml", "<Patient/>"),
        415,
    );

    // Method not allowed: 405.
    assert_outcome(
        &raw(&node, "TRACE", "Patient/x", "application/fhir+json", ""),
        405,
    );
    // A patch format this node does not take: 415, saying which ones it does.
    let xml_patch = raw(
        &node,
        "PATCH",
        "Patient/x",
        "application/xml-patch+xml",
        "<diff/>",
    );
    assert_outcome(&xml_patch, 415);
    assert!(xml_patch.text.contains("application/json-patch+json"));
    assert!(xml_patch.text.contains("FHIRPath Patch"));

    // Nothing was written by any of the above.
    let all = get(&node, "Patient?_summary=count");
    assert_eq!(all.body["total"], 0, "{}", all.text);
}

#[test]
fn body_too_large_is_413() {
    let temp = tempfile::tempdir().unwrap();
    let node = Node::start_with(&temp.path().join("d"), &["--body-limit-bytes", "1000"]);
    let mut body = patient("A", "B", "2000-01-01", "male");
    body["name"][0]["text"] = json!("x".repeat(5000));
    let reply = post(&node, "Patient", &body);
    assert_eq!(reply.status, 413, "{}", reply.text);
    assert_eq!(reply.body["issue"][0]["code"], "too-long");
}

#[test]
fn hostile_bodies_are_4xx_not_crashes() {
    let node = Node::start();
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let reply = raw(&node, "POST", "Patient", "application/fhir+json", &deep);
    assert_outcome(&reply, 400);
    let not_object = raw(&node, "POST", "Patient", "application/fhir+json", "[1,2,3]");
    assert_outcome(&not_object, 400);
    let bad_utf8 = reply_bytes(&node, b"{\"resourceType\":\"Patient\",\"gender\":\"\xff\"}");
    assert_eq!(bad_utf8, 400);
    // The node is still alive.
    assert_eq!(get(&node, "metadata").status, 200);
}

fn reply_bytes(node: &Node, body: &'static [u8]) -> u16 {
    client()
        .post(node.url("Patient"))
        .header("content-type", "application/fhir+json")
        .body(body)
        .send()
        .unwrap()
        .status()
        .as_u16()
}
