//! Issue 18, "an honest CapabilityStatement": everything it declares works, and every
//! operation the API routes is declared. The statement is walked as a client would read it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::support::*;

/// A value of each search parameter type that any server must accept (matches or not).
fn sample(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "token" => "x",
        "string" => "x",
        "date" => "2020-01-01",
        "number" => "5",
        "quantity" => "5",
        // A bare id is valid whatever the parameter's target types.
        "reference" => "x",
        "uri" => "http://example.org/x",
        _ => return None,
    })
}

/// Whether an answer means "this endpoint does not exist here" rather than "it exists and
/// said something about this input".
fn unrouted(reply: &Reply) -> bool {
    reply.status == 404 || reply.status == 405
}

fn parameters() -> Value {
    json!({"resourceType": "Parameters", "parameter": []})
}

/// Every search parameter, `_include` and operation the statement declares is answered by the
/// node; every operation route in `rest` is declared; Subscriptions are stored only when deliverable.
#[test]
fn the_capability_statement_declares_what_works_and_nothing_else() {
    let node = Node::start();
    let statement = get(&node, "metadata");
    assert_eq!(statement.status, 200);
    let rest = &statement.body["rest"][0];

    // Instances for the operations that act on one.
    let patient = post(
        &node,
        "Patient",
        &patient("Ana", "Ruiz", "1990-02-03", "female"),
    );
    assert_eq!(patient.status, 201, "{}", patient.text);
    let patient_id = patient.body["id"].as_str().unwrap().to_string();
    let mut instances: BTreeMap<&str, String> = BTreeMap::new();
    instances.insert("Patient", patient_id.clone());
    for (resource_type, body) in [
        (
            "Group",
            json!({"resourceType": "Group", "type": "person", "actual": true,
                   "member": [{"entity": {"reference": format!("Patient/{patient_id}")}}]}),
        ),
        (
            "Schedule",
            json!({"resourceType": "Schedule", "active": true,
                   "actor": [{"reference": format!("Patient/{patient_id}")}]}),
        ),
        (
            "Encounter",
            json!({"resourceType": "Encounter", "status": "arrived",
                   "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                   "subject": {"reference": format!("Patient/{patient_id}")}}),
        ),
        (
            "Composition",
            json!({"resourceType": "Composition", "status": "final",
                   "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
                   "subject": {"reference": format!("Patient/{patient_id}")},
                   "date": "2026-11-20T10:00:00-06:00", "title": "Resumen",
                   "author": [{"display": "Dra. Ana López"}]}),
        ),
    ] {
        let created = post(&node, resource_type, &body);
        assert_eq!(created.status, 201, "{resource_type}: {}", created.text);
        instances.insert(
            resource_type,
            created.body["id"].as_str().unwrap().to_string(),
        );
    }

    // A stored document, for `Bundle/{id}/$document`.
    let document = send(
        &node,
        "POST",
        &format!(
            "Composition/{}/$document?persist=true",
            instances["Composition"]
        ),
        &parameters(),
    );
    assert_eq!(document.status, 201, "{}", document.text);
    instances.insert("Bundle", document.body["id"].as_str().unwrap().to_string());

    let mut declared_ops: BTreeSet<String> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut searched = 0;
    for resource in rest["resource"].as_array().unwrap() {
        let resource_type = resource["type"].as_str().unwrap();
        for param in resource["searchParam"].as_array().into_iter().flatten() {
            let name = param["name"].as_str().unwrap();
            let Some(value) = sample(param["type"].as_str().unwrap()) else {
                failures.push(format!("{resource_type}?{name}: undeclarable type {param}"));
                continue;
            };
            let reply = get(
                &node,
                &format!("{resource_type}?{name}={value}&_count=1&_total=none"),
            );
            searched += 1;
            if reply.status != 200 {
                failures.push(format!(
                    "{resource_type}?{name}={value} → {}: {}",
                    reply.status,
                    reply.diagnostics()
                ));
            }
        }
        for include in resource["searchInclude"].as_array().into_iter().flatten() {
            let include = include.as_str().unwrap();
            let reply = get(
                &node,
                &format!("{resource_type}?_include={include}&_count=1&_total=none"),
            );
            if reply.status != 200 {
                failures.push(format!("_include={include} → {}", reply.status));
            }
        }
        for operation in resource["operation"].as_array().into_iter().flatten() {
            let name = operation["name"].as_str().unwrap();
            declared_ops.insert(format!("{resource_type}/${name}"));
            // Type level, then on an instance; POST, then GET. The first that answers is
            // enough.
            let mut paths = vec![format!("{resource_type}/${name}")];
            if let Some(id) = instances.get(resource_type) {
                paths.push(format!("{resource_type}/{id}/${name}"));
            }
            let routed = paths.iter().any(|path| {
                !unrouted(&send(&node, "POST", path, &parameters())) || !unrouted(&get(&node, path))
            });
            if !routed {
                failures.push(format!("{resource_type}/${name}: no route answers"));
            }
        }
    }
    for operation in rest["operation"].as_array().into_iter().flatten() {
        let name = operation["name"].as_str().unwrap();
        declared_ops.insert(format!("${name}"));
        let path = format!("${name}");
        if unrouted(&send(&node, "POST", &path, &parameters())) && unrouted(&get(&node, &path)) {
            failures.push(format!("system ${name}: no route answers"));
        }
    }
    assert!(
        searched > 500,
        "the statement lists the search parameters: {searched}"
    );
    assert!(
        failures.is_empty(),
        "declared but not working:\n{}",
        failures.join("\n")
    );

    // The other way: every operation route of the API is declared.
    let routes = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rest/src/lib.rs"),
    )
    .unwrap();
    let mut undeclared = Vec::new();
    for route in routes
        .split('"')
        .filter(|s| s.starts_with("/fhir") && s.contains('$'))
    {
        let segments: Vec<&str> = route.trim_start_matches("/fhir/").split('/').collect();
        let Some(op) = segments.iter().find(|s| s.starts_with('$')) else {
            continue;
        };
        // The export's status and file URLs are where a kick-off sends the client, not
        // operations (Bulk Data IG).
        if op.starts_with("$export-") {
            continue;
        }
        let declared =
            match segments[0] {
                first if first.starts_with('$') => declared_ops.contains(*op),
                "{type}" => rest["resource"].as_array().unwrap().iter().all(|r| {
                    declared_ops.contains(&format!("{}/{op}", r["type"].as_str().unwrap()))
                }),
                resource_type => declared_ops.contains(&format!("{resource_type}/{op}")),
            };
        if !declared {
            undeclared.push(route.to_string());
        }
    }
    assert!(
        undeclared.is_empty(),
        "routed but not in the CapabilityStatement: {undeclared:?}"
    );

    // The SMART security declaration (issue 18): every oauth-uris endpoint answers, and the
    // discovery document the SMART-on-FHIR service implies exists.
    let security = &rest["security"];
    let uris: Vec<(String, String)> = security["extension"][0]["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["url"].as_str().unwrap().to_string(),
                e["valueUri"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for name in ["authorize", "token", "introspect", "revoke"] {
        let (_, uri) = uris
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("oauth-uris names {name}"));
        let response = if name == "authorize" {
            anonymous_client().get(uri).send().unwrap()
        } else {
            anonymous_client().post(uri).send().unwrap()
        };
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405 && status < 500,
            "{name} ({uri}) answers {status}"
        );
    }
    assert_eq!(
        security["service"][0]["coding"][0]["code"], "SMART-on-FHIR",
        "{security}"
    );
    let discovery = get(&node, ".well-known/smart-configuration");
    assert_eq!(discovery.status, 200, "{}", discovery.text);

    // Subscriptions are stored only when they can be delivered (`ehr::notify`): criteria-based,
    // over a channel and to an endpoint this node serves.
    let subscription = json!({
        "resourceType": "Subscription", "status": "requested", "reason": "avisos",
        "criteria": "Appointment?status=booked",
        "channel": {"type": "email", "endpoint": "mailto:avisos@example.org"}
    });
    let refused = post(&node, "Subscription", &subscription);
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused.diagnostics().contains("rest-hook"),
        "{}",
        refused.text
    );
    let listed = get(&node, "Subscription");
    assert_eq!(listed.body["total"], 0, "{}", listed.text);
    let documented = rest["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Subscription")
        .unwrap();
    assert!(
        documented["documentation"]
            .as_str()
            .unwrap()
            .contains("criteria-based"),
        "{documented}"
    );

    // Every declared patch format patches a Patient; a format declared here without a case
    // below fails the test.
    let formats = statement.body["patchFormat"].as_array().unwrap();
    assert!(formats.len() >= 3, "{formats:?}");
    for format in formats {
        let format = format.as_str().unwrap();
        let body = match format {
            "application/json-patch+json" => {
                json!([{"op": "add", "path": "/active", "value": true}])
            }
            "application/merge-patch+json" => json!({"language": "es-MX"}),
            "application/fhir+json" => json!({"resourceType": "Parameters", "parameter": [
                {"name": "operation", "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "Patient.gender"},
                    {"name": "value", "valueCode": "other"}]}]}),
            other => panic!("patchFormat {other} is declared but not exercised"),
        };
        let patched = reply(
            client()
                .patch(node.url(&format!("Patient/{patient_id}")))
                .header("content-type", format)
                .body(body.to_string())
                .send()
                .unwrap(),
        );
        assert_eq!(patched.status, 200, "{format}: {}", patched.text);
    }
    let patched = get(&node, &format!("Patient/{patient_id}"));
    assert_eq!(patched.body["active"], true);
    assert_eq!(patched.body["language"], "es-MX");
    assert_eq!(patched.body["gender"], "other");
}

/// Issue 18, "identifier systems an integrator can find": the CURP, CLUES and the other
/// systems are `NamingSystem` resources, found by their URI or OID, and nobody can change them.
#[test]
fn the_identifier_and_code_systems_are_published_as_naming_systems() {
    let node = Node::start();
    let by_uri = get(
        &node,
        "NamingSystem?value=https://expediente.salud.gob.mx/fhir/sid/clues",
    );
    assert_eq!(by_uri.status, 200, "{}", by_uri.text);
    assert_eq!(by_uri.body["total"], 1, "{}", by_uri.text);
    let clues = &by_uri.body["entry"][0]["resource"];
    assert_eq!(clues["id"], "clues");
    assert_eq!(clues["kind"], "identifier");
    assert_eq!(
        clues["uniqueId"][0]["value"],
        "https://expediente.salud.gob.mx/fhir/sid/clues"
    );

    // The CURP by its OID, bare or as a URN.
    for value in ["2.16.840.1.113883.4.629", "urn:oid:2.16.840.1.113883.4.629"] {
        let curp = get(&node, &format!("NamingSystem?value={value}"));
        assert_eq!(curp.body["total"], 1, "{value}: {}", curp.text);
        assert_eq!(curp.body["entry"][0]["resource"]["id"], "curp");
    }
    let codes = get(&node, "NamingSystem?kind=codesystem");
    let ids: BTreeSet<&str> = codes.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["cie-10", "cnis", "loinc", "cvx"]),
        "{}",
        codes.text
    );
    let everything = get(&node, "NamingSystem");
    assert_eq!(everything.body["total"], 8, "{}", everything.text);

    let read = get(&node, "NamingSystem/curp");
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.body["name"], "CURP");
    assert_eq!(get(&node, "NamingSystem/no-existe").status, 404);
    let unsupported = get(&node, "NamingSystem?publisher=x");
    assert_eq!(unsupported.status, 400, "{}", unsupported.text);

    // Defined by the software: no account may write them, not even the system one.
    let mut changed = read.body.clone();
    changed["responsible"] = json!("otra institución");
    let put = send(&node, "PUT", "NamingSystem/curp", &changed);
    assert_eq!(put.status, 403, "{}", put.text);
    assert!(put.diagnostics().contains("software"), "{}", put.text);
    let posted = post(&node, "NamingSystem", &changed);
    assert_eq!(posted.status, 403, "{}", posted.text);
    assert_eq!(
        send(&node, "DELETE", "NamingSystem/curp", &json!({})).status,
        403
    );
    assert_eq!(
        get(&node, "NamingSystem/curp").body["responsible"],
        read.body["responsible"]
    );
}
