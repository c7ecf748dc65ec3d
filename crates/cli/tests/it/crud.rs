//! create, read, vread, update, delete through HTTP, with the headers R4 requires.

use serde_json::json;

use crate::support::*;

#[test]
fn create_read_update_delete_round_trip() {
    let node = Node::start();
    let created = post(
        &node,
        "Patient",
        &patient("Ma. Guadalupe", "Hernández López", "1984-03-07", "female"),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["meta"]["versionId"], "1");
    assert_eq!(created.header("etag").as_deref(), Some("W/\"1\""));
    let location = created.header("location").unwrap();
    assert!(
        location.ends_with(&format!("/fhir/Patient/{id}/_history/1")),
        "{location}"
    );
    assert!(created.header("last-modified").unwrap().ends_with("GMT"));
    assert!(
        created
            .header("content-type")
            .unwrap()
            .starts_with("application/fhir+json")
    );
    // Server-assigned ids are UUIDs (v7: globally unique without coordination).
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "7");

    let read = get(&node, &format!("Patient/{id}"));
    assert_eq!(read.status, 200);
    assert_eq!(read.body["name"][0]["family"], "Hernández López");
    assert_eq!(read.header("etag").as_deref(), Some("W/\"1\""));

    let mut changed = read.body.clone();
    changed["gender"] = json!("female");
    changed["telecom"] = json!([{"system": "phone", "value": "5512345678"}]);
    let updated = send_with(
        &node,
        "PUT",
        &format!("Patient/{id}"),
        &changed,
        &[("if-match", "W/\"1\"")],
    );
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.body["meta"]["versionId"], "2");
    assert_eq!(updated.header("etag").as_deref(), Some("W/\"2\""));

    // A stale If-Match is refused and changes nothing.
    let stale = send_with(
        &node,
        "PUT",
        &format!("Patient/{id}"),
        &changed,
        &[("if-match", "W/\"1\"")],
    );
    assert_eq!(stale.status, 412, "{}", stale.text);
    assert_eq!(stale.body["resourceType"], "OperationOutcome");
    assert_eq!(
        get(&node, &format!("Patient/{id}")).body["meta"]["versionId"],
        "2"
    );

    let v1 = get(&node, &format!("Patient/{id}/_history/1"));
    assert_eq!(v1.status, 200);
    assert!(v1.body.get("telecom").is_none());
    assert_eq!(get(&node, &format!("Patient/{id}/_history/9")).status, 404);

    let deleted = delete(&node, &format!("Patient/{id}"));
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let gone = get(&node, &format!("Patient/{id}"));
    assert_eq!(gone.status, 410);
    assert_eq!(gone.body["issue"][0]["code"], "deleted");
    // History is kept after the delete.
    assert_eq!(get(&node, &format!("Patient/{id}/_history/2")).status, 200);
    // Deleting again is harmless.
    assert_eq!(delete(&node, &format!("Patient/{id}")).status, 200);
}

#[test]
fn update_as_create_with_client_id_and_lossless_storage() {
    let node = Node::start();
    let observation = json!({
        "resourceType": "Observation",
        "id": "peso-001",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "valueQuantity": {"value": 72.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
        "effectiveDateTime": "2026-11-02T09:30:00-06:00"
    });
    // serde_json would print 72.5: send the exact text instead.
    let text = observation.to_string().replace("72.5", "72.50");
    let response = client()
        .put(node.url("Observation/peso-001"))
        .header("content-type", "application/json")
        .body(text)
        .send()
        .unwrap();
    let created = reply(response);
    assert_eq!(created.status, 201, "{}", created.text);
    let read = get(&node, "Observation/peso-001");
    assert!(read.text.contains("\"value\":72.50"), "{}", read.text);
    assert_eq!(read.body["id"], "peso-001");
}

#[test]
fn primitive_extensions_survive() {
    let node = Node::start();
    let mut body = patient("Juan", "Pérez", "1990-01-01", "male");
    body["_birthDate"] = json!({"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1990-01-01T04:30:00-06:00"}]});
    let created = post(&node, "Patient", &body);
    assert_eq!(created.status, 201, "{}", created.text);
    let read = get(
        &node,
        &format!("Patient/{}", created.body["id"].as_str().unwrap()),
    );
    assert_eq!(
        read.body["_birthDate"]["extension"][0]["valueDateTime"],
        "1990-01-01T04:30:00-06:00"
    );
}

#[test]
fn conditional_create_returns_the_existing_match() {
    let node = Node::start();
    let mut body = patient("Rosa", "Martínez", "1975-05-05", "female");
    body["identifier"] = json!([{"system": "urn:test:folio", "value": "F-1"}]);
    let headers = [("if-none-exist", "identifier=urn:test:folio|F-1")];
    let first = send_with(&node, "POST", "Patient", &body, &headers);
    assert_eq!(first.status, 201, "{}", first.text);
    let second = send_with(&node, "POST", "Patient", &body, &headers);
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.body["id"], first.body["id"]);
    let all = get(&node, "Patient?identifier=urn:test:folio|F-1");
    assert_eq!(all.body["total"], 1);
}

#[test]
fn prefer_return_minimal_and_operation_outcome() {
    let node = Node::start();
    let minimal = send_with(
        &node,
        "POST",
        "Patient",
        &patient("A", "B", "2000-01-01", "male"),
        &[("prefer", "return=minimal")],
    );
    assert_eq!(minimal.status, 201);
    assert!(minimal.text.is_empty());
    assert!(minimal.header("location").is_some());
    let outcome = send_with(
        &node,
        "POST",
        "Patient",
        &patient("A", "B", "2000-01-01", "male"),
        &[("prefer", "return=OperationOutcome")],
    );
    assert_eq!(outcome.body["resourceType"], "OperationOutcome");
}

#[test]
fn metadata_is_a_capability_statement() {
    let node = Node::start();
    let reply = get(&node, "metadata");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["resourceType"], "CapabilityStatement");
    assert_eq!(reply.body["fhirVersion"], "4.0.1");
    let resources = reply.body["rest"][0]["resource"].as_array().unwrap();
    let patient = resources.iter().find(|r| r["type"] == "Patient").unwrap();
    let params: Vec<&str> = patient["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in [
        "identifier",
        "name",
        "family",
        "given",
        "birthdate",
        "gender",
        "address-state",
    ] {
        assert!(
            params.contains(&expected),
            "Patient search parameter {expected} listed"
        );
    }
    assert!(resources.len() > 140, "every R4 resource type is served");
    assert!(resources.iter().any(|r| r["type"] == "Claim"));
    let healthz = reply_of(&node, "/healthz");
    assert_eq!(healthz, 200);
}

fn reply_of(node: &Node, path: &str) -> u16 {
    let root = node.base.trim_end_matches("/fhir");
    client()
        .get(format!("{root}{path}"))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// A `dateTime` without an offset (Python's `isoformat()`) is read as local time in the node's
/// zone, stored with the offset, and reported; `Prefer: handling=strict` still refuses it.
#[test]
fn a_local_date_time_is_read_in_mexico_city_time_unless_strict() {
    let node = Node::start();
    let created = post(
        &node,
        "Patient",
        &patient("Rosa", "Méndez Ortiz", "1970-05-01", "female"),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let patient_id = created.body["id"].as_str().unwrap().to_string();
    let observation = |when: &str| {
        json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}]},
            "subject": {"reference": format!("Patient/{patient_id}")},
            "effectiveDateTime": when,
            "valueQuantity": {"value": 104, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}
        })
    };

    let told = send_with(
        &node,
        "POST",
        "Observation",
        &observation("2026-03-01T10:30:00"),
        &[("prefer", "return=OperationOutcome")],
    );
    assert_eq!(told.status, 201, "{}", told.text);
    assert!(
        told.text.contains("America/Mexico_City")
            && told.text.contains("2026-03-01T10:30:00-06:00"),
        "the outcome says what was assumed: {}",
        told.text
    );
    let location = told.header("location").unwrap();
    let id = location.split('/').rev().nth(2).unwrap().to_string();
    let stored = get(&node, &format!("Observation/{id}"));
    assert_eq!(
        stored.body["effectiveDateTime"],
        "2026-03-01T10:30:00-06:00"
    );

    // Summer 2021 was daylight saving time in Mexico City.
    let summer = post(&node, "Observation", &observation("2021-07-15T08:00:00"));
    assert_eq!(summer.status, 201, "{}", summer.text);
    assert_eq!(
        summer.body["effectiveDateTime"],
        "2021-07-15T08:00:00-05:00"
    );

    let strict = send_with(
        &node,
        "POST",
        "Observation",
        &observation("2026-03-01T10:30:00"),
        &[("prefer", "handling=strict")],
    );
    assert_eq!(strict.status, 400, "{}", strict.text);
    assert_eq!(strict.body["resourceType"], "OperationOutcome");

    // In a transaction the assumption is reported on the entry it concerns.
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": observation("2026-03-01T10:30:00-06:00"),
             "request": {"method": "POST", "url": "Observation"}},
            {"resource": observation("2026-03-02T09:15:00"),
             "request": {"method": "POST", "url": "Observation"}}
        ]
    });
    let answer = send(&node, "POST", "", &bundle);
    assert_eq!(answer.status, 200, "{}", answer.text);
    let entries = answer.body["entry"].as_array().unwrap();
    assert!(
        entries[0]["response"]["outcome"].is_null(),
        "{}",
        answer.text
    );
    let outcome = entries[1]["response"]["outcome"].to_string();
    assert!(outcome.contains("2026-03-02T09:15:00-06:00"), "{outcome}");
    let second = entries[1]["response"]["location"].as_str().unwrap();
    let second_id = second.split('/').nth(1).unwrap();
    let stored = get(&node, &format!("Observation/{second_id}"));
    assert_eq!(
        stored.body["effectiveDateTime"],
        "2026-03-02T09:15:00-06:00"
    );
}

/// A node in Baja California reads local times in its own zone (`EXPEDIENTE_TIME_ZONE`).
#[test]
fn the_node_reads_local_times_in_its_configured_zone() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let node = Node::start_with_env(&data, &[], &[("EXPEDIENTE_TIME_ZONE", "America/Tijuana")]);
    let created = post(
        &node,
        "Patient",
        &json!({"resourceType": "Patient", "name": [{"family": "Soto"}], "gender": "male",
                "deceasedDateTime": "2026-07-15T10:30:00"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    // Tijuana keeps daylight saving time: UTC-7 in July.
    assert_eq!(
        created.body["deceasedDateTime"],
        "2026-07-15T10:30:00-07:00"
    );
    drop(node);

    // A zone the tz database does not know stops the node with a clear message.
    let (code, _, stderr) = run_cli_env(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[("EXPEDIENTE_TIME_ZONE", "Mexico/Atlantida")],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("EXPEDIENTE_TIME_ZONE"), "{stderr}");
}
