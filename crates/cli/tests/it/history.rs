//! Instance, type and system history with `_since`, `_count` and paging.

use serde_json::json;

use crate::support::*;

#[test]
fn history_at_every_level() {
    let node = Node::start();
    let created = post(
        &node,
        "Patient",
        &patient("Luis", "Ramírez", "1960-02-02", "male"),
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    let mut body = created.body.clone();
    for phone in ["5511111111", "5522222222"] {
        body["telecom"] = json!([{"system": "phone", "value": phone}]);
        let updated = put(&node, &format!("Patient/{id}"), &body);
        assert_eq!(updated.status, 200);
    }
    delete(&node, &format!("Patient/{id}"));
    post(
        &node,
        "Organization",
        &json!({"resourceType": "Organization", "name": "Centro de Salud"}),
    );

    let instance = get(&node, &format!("Patient/{id}/_history"));
    assert_eq!(instance.body["type"], "history");
    let entries = instance.body["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    // Newest first: the delete, then versions 3, 2, 1.
    assert_eq!(entries[0]["request"]["method"], "DELETE");
    assert!(entries[0].get("resource").is_none());
    assert_eq!(entries[1]["resource"]["meta"]["versionId"], "3");
    assert_eq!(entries[3]["request"]["method"], "POST");
    assert_eq!(entries[3]["response"]["etag"], "W/\"1\"");

    let by_type = get(&node, "Patient/_history");
    assert_eq!(by_type.body["entry"].as_array().unwrap().len(), 4);
    let system = get(&node, "_history");
    assert_eq!(system.body["entry"].as_array().unwrap().len(), 5);

    // Paging with _count follows next links to the end, without repeats.
    let mut url = "_history?_count=2".to_string();
    let mut seen = Vec::new();
    loop {
        let page = get(&node, &url);
        for entry in page.body["entry"].as_array().unwrap() {
            seen.push(
                entry["fullUrl"].as_str().unwrap().to_string()
                    + entry["response"]["etag"].as_str().unwrap(),
            );
        }
        match link(&page.body, "next") {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5);

    // _since after everything: empty.
    let future = get(&node, "_history?_since=2999-01-01T00:00:00Z");
    assert!(future.body["entry"].as_array().unwrap().is_empty());
    let bad = get(&node, "_history?_since=ayer");
    assert_eq!(bad.status, 400);
}
