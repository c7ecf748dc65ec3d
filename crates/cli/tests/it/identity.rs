//! Issue 3 through HTTP: the Mexican Patient profile (CURP rules, folio, old CURPs), the CURP
//! check for the UI, `$validate`, `Patient/$match`, the duplicate review list (`Task`) and
//! `$merge` / `$unmerge`, including search and `$everything` after a merge.
//!
//! The CURPs below were built with the RENAPO rules and the check-digit algorithm of
//! `shared/domain/mexico.md` (HEGG560427MVZRRL04 is the document's own verified vector).

use serde_json::{Value, json};

use crate::support::*;

const CURP_SYSTEM: &str = "urn:oid:2.16.840.1.113883.4.629";
const FOLIO_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/sid/folio";
const PENDING_EXT: &str = "https://expediente.salud.gob.mx/fhir/StructureDefinition/curp-pendiente";
const REVIEW_CODE: &str = "https://expediente.salud.gob.mx/fhir/CodeSystem/tarea|revisar-duplicado";
const GRADE_EXT: &str = "http://hl7.org/fhir/StructureDefinition/match-grade";

/// María Guadalupe Hernández López, female, 1984-03-07, born in Jalisco.
const CURP_GUADALUPE: &str = "HELG840307MJCRPD06";
/// Juan Pérez Gómez, male, 1990-11-23, born in Mexico City; and the CURP a correction gives him.
const CURP_JUAN: &str = "PEGJ901123HDFRMN03";
const CURP_JUAN_NEW: &str = "PEGJ901123HDFRMN11";

fn with_curp(mut patient: Value, curp: &str) -> Value {
    patient["identifier"] = json!([{"use": "official", "system": CURP_SYSTEM, "value": curp}]);
    patient
}

fn guadalupe() -> Value {
    let mut p = with_curp(
        patient("María Guadalupe", "Hernández López", "1984-03-07", "female"),
        CURP_GUADALUPE,
    );
    p["telecom"] = json!([{"system": "phone", "value": "3312345678", "use": "mobile"}]);
    p
}

fn juan() -> Value {
    with_curp(
        patient("Juan", "Pérez Gómez", "1990-11-23", "male"),
        CURP_JUAN,
    )
}

fn created_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_string()
}

fn outcome_post(node: &Node, path: &str, body: &Value) -> Reply {
    send_with(
        node,
        "POST",
        path,
        body,
        &[("prefer", "return=OperationOutcome")],
    )
}

fn issues(reply: &Reply) -> Vec<Value> {
    reply.body["issue"].as_array().cloned().unwrap_or_default()
}

fn expressions(reply: &Reply, severity: &str) -> Vec<String> {
    issues(reply)
        .iter()
        .filter(|i| i["severity"] == severity)
        .filter_map(|i| i["expression"][0].as_str().map(str::to_string))
        .collect()
}

fn identifiers_of(resource: &Value, system: &str) -> Vec<Value> {
    resource["identifier"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter(|i| i["system"] == system)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn has_pending_flag(resource: &Value) -> bool {
    resource["extension"].as_array().is_some_and(|e| {
        e.iter()
            .any(|x| x["url"] == PENDING_EXT && x["valueBoolean"] == true)
    })
}

fn parameters(pairs: &[(&str, Value)]) -> Value {
    let parameter: Vec<Value> = pairs
        .iter()
        .map(|(name, value)| {
            let mut p = value.clone();
            p["name"] = json!(name);
            p
        })
        .collect();
    json!({"resourceType": "Parameters", "parameter": parameter})
}

fn match_request(resource: &Value, only_certain: Option<bool>, count: Option<u32>) -> Value {
    let mut pairs = vec![("resource", json!({"resource": resource}))];
    if let Some(only) = only_certain {
        pairs.push(("onlyCertainMatches", json!({"valueBoolean": only})));
    }
    if let Some(count) = count {
        pairs.push(("count", json!({"valueInteger": count})));
    }
    parameters(&pairs)
}

fn merge_request(source: &str, target: &str) -> Value {
    parameters(&[
        (
            "source-patient",
            json!({"valueReference": {"reference": format!("Patient/{source}")}}),
        ),
        (
            "target-patient",
            json!({"valueReference": {"reference": format!("Patient/{target}")}}),
        ),
    ])
}

/// (id, grade, score) of each `$match` entry, in order.
fn match_results(bundle: &Value) -> Vec<(String, String, f64)> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let grade = e["search"]["extension"]
                        .as_array()
                        .and_then(|x| x.iter().find(|x| x["url"] == GRADE_EXT))
                        .map(|x| x["valueCode"].as_str().unwrap().to_string())
                        .unwrap_or_default();
                    (
                        e["resource"]["id"].as_str().unwrap().to_string(),
                        grade,
                        e["search"]["score"].as_f64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn review_tasks(node: &Node) -> Vec<Value> {
    let reply = get(
        node,
        &format!("Task?code={}&status=requested", urlencode(REVIEW_CODE)),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["entry"]
        .as_array()
        .map(|e| e.iter().map(|e| e["resource"].clone()).collect())
        .unwrap_or_default()
}

fn urlencode(text: &str) -> String {
    text.replace('|', "%7C")
        .replace(':', "%3A")
        .replace('/', "%2F")
}

/// The resource without `meta` (what "the same content" means across versions).
fn content(resource: &Value) -> Value {
    let mut copy = resource.clone();
    if let Some(object) = copy.as_object_mut() {
        object.remove("meta");
    }
    copy
}

fn observation(patient_id: &str, loinc: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": format!("Patient/{patient_id}")},
        "valueQuantity": {"value": 98, "unit": "mg/dL"}
    })
}

fn ids_of_type(bundle: &Value, resource_type: &str) -> Vec<String> {
    let mut ids: Vec<String> = bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["resource"]["resourceType"] == resource_type)
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn invalid_curp_is_rejected_with_position_and_expression() {
    let node = Node::start();
    // Wrong check digit, in the second identifier.
    let mut p = guadalupe();
    p["identifier"] = json!([
        {"system": "https://expediente.salud.gob.mx/fhir/sid/folio", "value": "F-1"},
        {"system": CURP_SYSTEM, "value": "HELG840307MJCRPD07"}
    ]);
    let reply = post(&node, "Patient", &p);
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(reply.body["resourceType"], "OperationOutcome");
    assert_eq!(
        expressions(&reply, "error"),
        vec!["Patient.identifier[1].value"]
    );
    let text = reply.diagnostics();
    assert!(text.contains("Posición 18"), "{text}");
    assert!(text.contains("position 18"), "{text}");

    // Lower case, a letter where the month goes, and a placeholder-free garbage value.
    for bad in ["helg840307mjcrpd06", "HELG84O307MJCRPD06", "HELG840307MJC"] {
        let reply = post(&node, "Patient", &with_curp(guadalupe(), bad));
        assert_eq!(reply.status, 422, "{bad}: {}", reply.text);
        assert!(
            expressions(&reply, "error")
                .iter()
                .all(|e| e == "Patient.identifier[0].value"),
            "{bad}: {}",
            reply.text
        );
    }
    // Nothing was stored.
    let all = get(&node, "Patient");
    assert_eq!(all.body["total"], 0, "{}", all.text);
}

#[test]
fn curp_disagreeing_with_birth_date_or_gender_is_rejected() {
    let node = Node::start();
    let mut p = guadalupe();
    p["birthDate"] = json!("1984-07-03");
    let reply = post(&node, "Patient", &p);
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(expressions(&reply, "error"), vec!["Patient.birthDate"]);
    assert!(reply.diagnostics().contains("1984-03-07"), "{}", reply.text);

    let mut p = guadalupe();
    p["gender"] = json!("male");
    let reply = post(&node, "Patient", &p);
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(expressions(&reply, "error"), vec!["Patient.gender"]);

    // A partial birth date that agrees, and gender unknown, are fine.
    let mut p = guadalupe();
    p["birthDate"] = json!("1984-03");
    p["gender"] = json!("unknown");
    assert_eq!(post(&node, "Patient", &p).status, 201);
}

#[test]
fn names_or_birth_state_disagreeing_with_curp_are_warnings() {
    let node = Node::start();
    let mut p = with_curp(
        patient("Guadalupe", "Hernández López", "1984-03-07", "female"),
        CURP_GUADALUPE,
    );
    // The CURP says GUADALUPE (MARÍA is skipped), so "Guadalupe" alone agrees; a different
    // second surname does not.
    p["name"][0]["family"] = json!("Hernández Ruiz");
    p["extension"] = json!([{
        "url": "https://expediente.salud.gob.mx/fhir/StructureDefinition/entidad-nacimiento",
        "valueString": "DF"
    }]);
    let reply = outcome_post(&node, "Patient", &p);
    assert_eq!(reply.status, 201, "{}", reply.text);
    let warnings = expressions(&reply, "warning");
    assert!(
        warnings.contains(&"Patient.name[0]".to_string()),
        "{}",
        reply.text
    );
    assert!(
        warnings.contains(&"Patient.extension[0]".to_string()),
        "{}",
        reply.text
    );
    assert!(reply.diagnostics().contains("Posición 3"), "{}", reply.text);

    // An unknown birth-state code is an error.
    let mut bad = p.clone();
    bad["extension"][0]["valueString"] = json!("ZZ");
    bad.as_object_mut().unwrap().remove("identifier");
    let reply = post(&node, "Patient", &bad);
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(expressions(&reply, "error"), vec!["Patient.extension[0]"]);
}

#[test]
fn duplicate_curp_is_a_conflict_naming_the_existing_patient() {
    let node = Node::start();
    let first = created_id(&post(&node, "Patient", &guadalupe()));

    let mut again = guadalupe();
    again["name"][0]["given"] = json!(["Lupita"]);
    let reply = post(&node, "Patient", &again);
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(
        reply.diagnostics().contains(&format!("Patient/{first}")),
        "{}",
        reply.text
    );
    assert_eq!(reply.body["issue"][0]["code"], "duplicate");

    // The same registration with If-None-Exist on the CURP returns the existing patient.
    let condition = format!("identifier={CURP_SYSTEM}|{CURP_GUADALUPE}");
    let reply = send_with(
        &node,
        "POST",
        "Patient",
        &again,
        &[("if-none-exist", condition.as_str())],
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["id"], first.as_str());

    // Updating another patient to that CURP is refused too.
    let other = created_id(&post(&node, "Patient", &juan()));
    let mut changed = get(&node, &format!("Patient/{other}")).body;
    changed["identifier"][0]["value"] = json!(CURP_GUADALUPE);
    changed["name"] = guadalupe()["name"].clone();
    changed["gender"] = json!("female");
    changed["birthDate"] = json!("1984-03-07");
    let reply = put(&node, &format!("Patient/{other}"), &changed);
    assert_eq!(reply.status, 409, "{}", reply.text);

    // An inactive record may keep the CURP (e.g. a deactivated duplicate).
    let mut inactive = guadalupe();
    inactive["active"] = json!(false);
    assert_eq!(post(&node, "Patient", &inactive).status, 201);
    // Re-saving the existing patient itself is not a conflict.
    let mut same = get(&node, &format!("Patient/{first}")).body;
    same["telecom"] = json!([{"system": "phone", "value": "3399999999"}]);
    assert_eq!(put(&node, &format!("Patient/{first}"), &same).status, 200);
}

/// Issue 14: two clinicians register the same person at the same instant (on the hub, many
/// writers run at once). Each round ends with one Patient for the CURP and one clear refusal
/// naming it; never two.
#[test]
fn the_same_curp_registered_at_the_same_instant_makes_one_patient() {
    let node = Node::start();
    for round in 0..8u32 {
        let first17 = format!("PEGJ9011{:02}HDFRMN{}", round + 1, round % 10);
        let curp = format!("{first17}{}", mexico::curp::check_digit(&first17).unwrap());
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let clinicians: Vec<_> = ["Juan", "Juan Carlos"]
            .into_iter()
            .map(|given| {
                let (barrier, base, curp) = (barrier.clone(), node.base.clone(), curp.clone());
                let body = with_curp(
                    patient(
                        given,
                        "Pérez Gómez",
                        &format!("1990-11-{:02}", round + 1),
                        "male",
                    ),
                    &curp,
                );
                std::thread::spawn(move || {
                    let request = client()
                        .post(format!("{base}/Patient"))
                        .header("content-type", "application/fhir+json")
                        .body(body.to_string());
                    barrier.wait();
                    reply(request.send().unwrap())
                })
            })
            .collect();
        let mut replies: Vec<Reply> = clinicians.into_iter().map(|c| c.join().unwrap()).collect();
        replies.sort_by_key(|r| r.status);
        let (created, refused) = (&replies[0], &replies[1]);
        assert_eq!(created.status, 201, "round {round}: {}", created.text);
        assert!(
            [409, 412].contains(&refused.status),
            "round {round}: the second registration is refused, got {}: {}",
            refused.status,
            refused.text
        );
        let id = created.body["id"].as_str().unwrap();
        assert!(
            refused.diagnostics().contains(&format!("Patient/{id}")),
            "round {round}: the refusal names the patient: {}",
            refused.text
        );
        let found = get(&node, &format!("Patient?identifier={CURP_SYSTEM}|{curp}"));
        assert_eq!(
            match_ids(&found.body),
            vec![id.to_string()],
            "round {round}"
        );
    }
}

#[test]
fn patient_without_curp_gets_a_folio_and_is_flagged() {
    let node = Node::start();
    let reply = post(
        &node,
        "Patient",
        &patient("Ximena", "Ruiz", "2019-05-02", "female"),
    );
    let id = created_id(&reply);
    let stored = get(&node, &format!("Patient/{id}")).body;
    let folios = identifiers_of(&stored, FOLIO_SYSTEM);
    assert_eq!(folios.len(), 1, "{stored}");
    let folio = folios[0]["value"].as_str().unwrap().to_string();
    assert!(folio.len() >= 32, "{folio}");
    assert!(has_pending_flag(&stored), "{stored}");
    // Flagged patients can be listed for follow-up, and found by folio.
    let by_folio = get(
        &node,
        &format!(
            "Patient?identifier={}",
            urlencode(&format!("{FOLIO_SYSTEM}|{folio}"))
        ),
    );
    assert_eq!(match_ids(&by_folio.body), vec![id.clone()]);

    // The placeholder CURP is not an identity: dropped, flagged, with a warning.
    let placeholder = with_curp(
        patient("Pedro", "Sánchez", "1970-01-01", "male"),
        "XXXX999999XXXXXX99",
    );
    let reply = outcome_post(&node, "Patient", &placeholder);
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert!(reply.diagnostics().contains("XXXX999999XXXXXX99"));
    let location = reply.header("location").unwrap();
    let pedro_id = location
        .split("/Patient/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let pedro = get(&node, &format!("Patient/{pedro_id}")).body;
    assert!(identifiers_of(&pedro, CURP_SYSTEM).is_empty(), "{pedro}");
    assert!(has_pending_flag(&pedro), "{pedro}");
    assert_eq!(identifiers_of(&pedro, FOLIO_SYSTEM).len(), 1);

    // Capturing the CURP later clears the flag; the folio survives even if the client omits it.
    let mut update = with_curp(
        patient("Juan", "Pérez Gómez", "1990-11-23", "male"),
        CURP_JUAN,
    );
    update["id"] = json!(pedro_id);
    let reply = put(&node, &format!("Patient/{pedro_id}"), &update);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!has_pending_flag(&reply.body), "{}", reply.text);
    assert_eq!(
        identifiers_of(&reply.body, FOLIO_SYSTEM).len(),
        1,
        "{}",
        reply.text
    );
    assert_eq!(identifiers_of(&reply.body, CURP_SYSTEM).len(), 1);

    // A patient with CURP gets no folio and no flag.
    let with = get(
        &node,
        &format!(
            "Patient/{}",
            created_id(&post(&node, "Patient", &guadalupe()))
        ),
    )
    .body;
    assert!(identifiers_of(&with, FOLIO_SYSTEM).is_empty());
    assert!(!has_pending_flag(&with));
}

#[test]
fn changed_curp_is_kept_as_old_and_stays_findable() {
    let node = Node::start();
    let id = created_id(&post(&node, "Patient", &juan()));
    let mut corrected = get(&node, &format!("Patient/{id}")).body;
    corrected["identifier"] =
        json!([{"use": "official", "system": CURP_SYSTEM, "value": CURP_JUAN_NEW}]);
    let reply = put(&node, &format!("Patient/{id}"), &corrected);
    assert_eq!(reply.status, 200, "{}", reply.text);
    let curps = identifiers_of(&reply.body, CURP_SYSTEM);
    assert_eq!(curps.len(), 2, "{}", reply.text);
    assert!(
        curps
            .iter()
            .any(|c| c["value"] == CURP_JUAN_NEW && c["use"] == "official")
    );
    assert!(
        curps
            .iter()
            .any(|c| c["value"] == CURP_JUAN && c["use"] == "old")
    );

    // Both CURPs find him.
    for curp in [CURP_JUAN, CURP_JUAN_NEW] {
        let found = get(&node, &format!("Patient?identifier={curp}"));
        assert_eq!(match_ids(&found.body), vec![id.clone()], "{curp}");
    }
    // A later update that omits the old CURP does not lose it.
    let mut again = reply.body.clone();
    again["identifier"] =
        json!([{"use": "official", "system": CURP_SYSTEM, "value": CURP_JUAN_NEW}]);
    let reply = put(&node, &format!("Patient/{id}"), &again);
    assert_eq!(
        identifiers_of(&reply.body, CURP_SYSTEM).len(),
        2,
        "{}",
        reply.text
    );
    // An old CURP is history, not an identity: someone else may be registered with it
    // (RENAPO reissued it, or it was captured on the wrong person).
    assert_eq!(post(&node, "Patient", &juan()).status, 201);
}

#[test]
fn practitioner_and_facility_identifiers_are_validated() {
    let node = Node::start();
    let practitioner = |cedula: &str, curp: &str| {
        json!({
            "resourceType": "Practitioner",
            "identifier": [
                {"system": "https://expediente.salud.gob.mx/fhir/sid/cedula-profesional", "value": cedula},
                {"system": CURP_SYSTEM, "value": curp}
            ],
            "name": [{"family": "Pérez Gómez", "given": ["Juan"]}],
            "gender": "male"
        })
    };
    assert_eq!(
        post(&node, "Practitioner", &practitioner("1234567", CURP_JUAN)).status,
        201
    );
    let reply = post(&node, "Practitioner", &practitioner("12A4567", CURP_JUAN));
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(
        expressions(&reply, "error"),
        vec!["Practitioner.identifier[0].value"]
    );
    let reply = post(
        &node,
        "Practitioner",
        &practitioner("1234567", "PEGJ901123HDFRMN04"),
    );
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(
        expressions(&reply, "error"),
        vec!["Practitioner.identifier[1].value"]
    );

    let organization = |clues: &str| {
        json!({
            "resourceType": "Organization",
            "identifier": [{"system": "https://expediente.salud.gob.mx/fhir/sid/clues", "value": clues}],
            "name": "Centro de Salud"
        })
    };
    assert_eq!(
        post(&node, "Organization", &organization("JCSSA005386")).status,
        201
    );
    for bad in ["JCSSA00538", "ZZSSA005386", "JCSSA00538X"] {
        let reply = post(&node, "Organization", &organization(bad));
        assert_eq!(reply.status, 422, "{bad}: {}", reply.text);
        assert_eq!(
            expressions(&reply, "error"),
            vec!["Organization.identifier[0].value"]
        );
    }
    let location = json!({
        "resourceType": "Location",
        "identifier": [{"system": "https://expediente.salud.gob.mx/fhir/sid/clues", "value": "jcssa005386"}],
        "name": "Consultorio 1"
    });
    assert_eq!(post(&node, "Location", &location).status, 422);
}

#[test]
fn curp_check_endpoint_reports_by_position_while_typing() {
    let node = Node::start();
    let check = |curp: &str| {
        let reply = get(&node, &format!("../curp/validar?curp={curp}"));
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body
    };
    // A correct prefix is only incomplete.
    let partial = check("helg8403");
    assert_eq!(partial["normalized"], "HELG8403");
    assert_eq!(partial["valid"], false);
    assert_eq!(partial["complete"], false);
    assert_eq!(partial["errors"].as_array().unwrap().len(), 1, "{partial}");
    assert_eq!(partial["errors"][0]["positions"], json!([]));

    // A wrong character is reported at once, with its position.
    let wrong = check("HELG8A");
    let positions: Vec<Value> = wrong["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["positions"].clone())
        .collect();
    assert!(positions.contains(&json!([6])), "{wrong}");
    assert!(
        wrong["errors"][0]["message_es"]
            .as_str()
            .unwrap()
            .contains("Posición 6")
    );

    let valid = check(CURP_GUADALUPE);
    assert_eq!(valid["valid"], true);
    assert_eq!(valid["birthDate"], "1984-03-07");
    assert_eq!(valid["gender"], "female");
    assert_eq!(valid["birthState"], "JC");
    assert_eq!(valid["birthStateName"], "Jalisco");

    let check_digit = check("HELG840307MJCRPD07");
    assert_eq!(check_digit["valid"], false);
    assert_eq!(check_digit["errors"][0]["positions"], json!([18]));

    let placeholder = check("XXXX999999XXXXXX99");
    assert_eq!(placeholder["valid"], false);

    let missing = get(&node, "../curp/validar");
    assert_eq!(missing.status, 400, "{}", missing.text);
}

#[test]
fn validate_operation_reports_without_storing() {
    let node = Node::start();
    let existing = created_id(&post(&node, "Patient", &guadalupe()));

    let mut bad = guadalupe();
    bad["identifier"][0]["value"] = json!("HELG840307MJCRPD07");
    let reply = post(&node, "Patient/$validate", &bad);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        expressions(&reply, "error"),
        vec!["Patient.identifier[0].value"]
    );

    // The same CURP as a stored patient: an error naming it, and a duplicate warning.
    let reply = post(
        &node,
        "Patient/$validate",
        &parameters(&[("resource", json!({"resource": guadalupe()}))]),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        issues(&reply)
            .iter()
            .any(|i| i["severity"] == "error" && i["code"] == "duplicate"),
        "{}",
        reply.text
    );
    assert!(reply.diagnostics().contains(&existing), "{}", reply.text);

    let reply = post(&node, "Patient/$validate", &juan());
    assert_eq!(reply.status, 200);
    assert!(
        issues(&reply)
            .iter()
            .all(|i| i["severity"] == "information"),
        "{}",
        reply.text
    );
    // Nothing was stored by $validate.
    assert_eq!(get(&node, "Patient").body["total"], 1);

    // R4 structure errors are reported the same way; other types work too.
    let reply = post(
        &node,
        "Patient/$validate",
        &json!({"resourceType": "Patient", "gender": 7}),
    );
    assert_eq!(reply.status, 200);
    assert!(
        issues(&reply).iter().any(|i| i["severity"] == "error"),
        "{}",
        reply.text
    );
    let org = json!({"resourceType": "Organization", "identifier": [{"system": "https://expediente.salud.gob.mx/fhir/sid/clues", "value": "XX"}]});
    let reply = post(&node, "Organization/$validate", &org);
    assert_eq!(
        expressions(&reply, "error"),
        vec!["Organization.identifier[0].value"]
    );
    assert_eq!(post(&node, "Nonsense/$validate", &org).status, 404);
}

#[test]
fn match_grades_candidates_and_honours_only_certain_and_count() {
    let node = Node::start();
    let lupe = created_id(&post(&node, "Patient", &guadalupe()));
    let juan_id = created_id(&post(&node, "Patient", &juan()));
    // Her sister: same surnames, phone and state, other name and birth date.
    let mut sister = patient("Rosa", "Hernández López", "1987-10-15", "female");
    sister["telecom"] = guadalupe()["telecom"].clone();
    let sister_id = created_id(&post(&node, "Patient", &sister));

    // With her CURP: certain, first, high score.
    let query = with_curp(
        patient("Ma. Guadalupe", "Hernandez", "1984-03-07", "female"),
        CURP_GUADALUPE,
    );
    let reply = post(&node, "Patient/$match", &match_request(&query, None, None));
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["type"], "searchset");
    let results = match_results(&reply.body);
    assert_eq!(results[0].0, lupe, "{}", reply.text);
    assert_eq!(results[0].1, "certain");
    assert!(results[0].2 >= 0.9 && results[0].2 <= 1.0, "{results:?}");
    assert!(!results.iter().any(|r| r.0 == juan_id));
    assert!(results.windows(2).all(|w| w[0].2 >= w[1].2), "{results:?}");

    // Without CURP, with a surname typo and an abbreviation: still found first.
    let query = patient("Ma. Guadalupe", "Hernandes Lopez", "1984-03-07", "female");
    let reply = post(&node, "Patient/$match", &match_request(&query, None, None));
    let results = match_results(&reply.body);
    assert_eq!(results[0].0, lupe, "{}", reply.text);
    assert!(
        ["probable", "certain"].contains(&results[0].1.as_str()),
        "{results:?}"
    );
    if let Some(sister_hit) = results.iter().find(|r| r.0 == sister_id) {
        assert!(
            sister_hit.1 == "possible" && sister_hit.2 < results[0].2,
            "{results:?}"
        );
    }

    // onlyCertainMatches: the single certain match, or nothing.
    let exact = guadalupe();
    let reply = post(
        &node,
        "Patient/$match",
        &match_request(&exact, Some(true), None),
    );
    assert_eq!(match_results(&reply.body).len(), 1, "{}", reply.text);
    let reply = post(
        &node,
        "Patient/$match",
        &match_request(&query, Some(true), None),
    );
    assert!(
        match_results(&reply.body).iter().all(|r| r.1 == "certain"),
        "{}",
        reply.text
    );
    let unknown = patient("Zacarías", "Quintanilla Ybarra", "1931-02-02", "male");
    let reply = post(
        &node,
        "Patient/$match",
        &match_request(&unknown, None, None),
    );
    assert_eq!(reply.body["total"], 0, "{}", reply.text);

    // count limits the answer.
    let broad = patient("Rosa", "Hernández López", "1984-03-07", "female");
    let reply = post(
        &node,
        "Patient/$match",
        &match_request(&broad, None, Some(1)),
    );
    assert!(match_results(&reply.body).len() <= 1, "{}", reply.text);

    // A bare Patient body is accepted as the resource.
    let reply = post(&node, "Patient/$match", &exact);
    assert_eq!(match_results(&reply.body)[0].0, lupe);
}

#[test]
fn match_rejects_bad_input() {
    let node = Node::start();
    let p = guadalupe();
    let cases = [
        json!({"resourceType": "Observation", "status": "final"}),
        parameters(&[("count", json!({"valueInteger": 3}))]),
        parameters(&[(
            "resource",
            json!({"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}}),
        )]),
        parameters(&[
            ("resource", json!({"resource": p})),
            ("count", json!({"valueInteger": 0})),
        ]),
        parameters(&[
            ("resource", json!({"resource": p})),
            ("onlyCertainMatches", json!({"valueString": "yes"})),
        ]),
        parameters(&[(
            "resource",
            json!({"resource": {"resourceType": "Patient", "gender": 7}}),
        )]),
    ];
    for body in cases {
        let reply = post(&node, "Patient/$match", &body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert_eq!(reply.body["resourceType"], "OperationOutcome");
    }
    // Nothing to match on.
    let empty = parameters(&[(
        "resource",
        json!({"resource": {"resourceType": "Patient", "gender": "male"}}),
    )]);
    assert_eq!(post(&node, "Patient/$match", &empty).status, 422);
    // Not JSON.
    let reply = reply_of_raw(&node, "Patient/$match", "{not json");
    assert_eq!(reply.status, 400);
    // GET is not the operation.
    assert_eq!(get(&node, "Patient/$match").status, 405);
}

fn reply_of_raw(node: &Node, path: &str, text: &str) -> Reply {
    reply(
        client()
            .post(node.url(path))
            .header("content-type", "application/fhir+json")
            .body(text.to_string())
            .send()
            .unwrap(),
    )
}

#[test]
fn probable_duplicate_opens_one_review_task_with_explanation() {
    let node = Node::start();
    let lupe = created_id(&post(&node, "Patient", &guadalupe()));
    assert!(review_tasks(&node).is_empty());

    // Registered again at the front desk without CURP, abbreviated, accents lost.
    let mut again = patient("Ma. Guadalupe", "Hernandez Lopez", "1984-03-07", "female");
    again["telecom"] = guadalupe()["telecom"].clone();
    let reply = outcome_post(&node, "Patient", &again);
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert!(
        issues(&reply)
            .iter()
            .any(|i| i["severity"] == "warning" && i["code"] == "duplicate"),
        "{}",
        reply.text
    );
    let location = reply.header("location").unwrap();
    let dup = location
        .split("/Patient/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();

    let tasks = review_tasks(&node);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!(task["focus"]["reference"], format!("Patient/{dup}"));
    assert_eq!(task["intent"], "proposal");
    let inputs = task["input"].as_array().unwrap();
    let candidate = inputs
        .iter()
        .find(|i| i["type"]["coding"][0]["code"] == "candidato")
        .unwrap();
    assert_eq!(
        candidate["valueReference"]["reference"],
        format!("Patient/{lupe}")
    );
    let grade = candidate["extension"][0]["valueCode"].as_str().unwrap();
    assert!(["probable", "certain"].contains(&grade), "{task}");
    // The comparison field by field, in both languages.
    let fields: Vec<&str> = inputs
        .iter()
        .filter_map(|i| i["type"]["coding"][0]["code"].as_str())
        .filter(|c| c.starts_with("campo-"))
        .collect();
    for field in [
        "campo-curp",
        "campo-given_names",
        "campo-first_surname",
        "campo-birth_date",
        "campo-phone",
    ] {
        assert!(fields.contains(&field), "{field} missing in {fields:?}");
    }
    let birth = inputs
        .iter()
        .find(|i| i["type"]["coding"][0]["code"] == "campo-birth_date")
        .unwrap();
    let text = birth["valueString"].as_str().unwrap();
    assert!(text.contains("bits") && text.contains(" / "), "{text}");

    // The task is part of the chart of the new registration (Task.focus is in the compartment),
    // and the review list is searchable by focus.
    let by_focus = get(
        &node,
        &format!("Task?focus=Patient/{dup}&code={}", urlencode(REVIEW_CODE)),
    );
    assert_eq!(match_ids(&by_focus.body).len(), 1);

    // Non-identifying edits do not re-open reviews; an identifying edit does not duplicate one.
    let mut edit = get(&node, &format!("Patient/{dup}")).body;
    edit["maritalStatus"] = json!({"text": "Casada"});
    assert_eq!(put(&node, &format!("Patient/{dup}"), &edit).status, 200);
    edit["name"][0]["given"] = json!(["María Guadalupe"]);
    assert_eq!(put(&node, &format!("Patient/{dup}"), &edit).status, 200);
    assert_eq!(review_tasks(&node).len(), 1);

    // An unrelated patient opens nothing.
    post(&node, "Patient", &juan());
    assert_eq!(review_tasks(&node).len(), 1);
}

#[test]
fn merge_links_records_and_unmerge_restores_them_exactly() {
    let node = Node::start();
    let target = created_id(&post(&node, "Patient", &guadalupe()));
    let mut source_body = patient("Ma. Guadalupe", "Hernandez", "1984-03-07", "female");
    source_body["address"] = json!([{"city": "Zapopan", "state": "Jalisco"}]);
    let source = created_id(&post(&node, "Patient", &source_body));
    let source_obs = created_id(&post(&node, "Observation", &observation(&source, "2345-7")));
    let target_obs = created_id(&post(&node, "Observation", &observation(&target, "4548-4")));
    let before_source = get(&node, &format!("Patient/{source}")).body;
    let before_target = get(&node, &format!("Patient/{target}")).body;
    assert_eq!(
        review_tasks(&node).len(),
        1,
        "the re-registration was queued for review"
    );

    let reply = post(&node, "Patient/$merge", &merge_request(&source, &target));
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["resourceType"], "Parameters");
    // The review of this pair is settled by the merge.
    assert!(review_tasks(&node).is_empty());

    // Both records are still readable; the source says who replaced it.
    let merged_source = get(&node, &format!("Patient/{source}"));
    assert_eq!(merged_source.status, 200);
    assert_eq!(merged_source.body["active"], false);
    assert_eq!(merged_source.body["link"][0]["type"], "replaced-by");
    assert_eq!(
        merged_source.body["link"][0]["other"]["reference"],
        format!("Patient/{target}")
    );
    let merged_target = get(&node, &format!("Patient/{target}")).body;
    assert_eq!(merged_target["link"][0]["type"], "replaces");
    assert_eq!(
        merged_target["link"][0]["other"]["reference"],
        format!("Patient/{source}")
    );
    assert_ne!(merged_target["active"], false);

    // $everything and searches by either id give the whole history.
    let mut both = vec![source_obs.clone(), target_obs.clone()];
    both.sort();
    for id in [&source, &target] {
        let everything = get(&node, &format!("Patient/{id}/$everything"));
        assert_eq!(everything.status, 200, "{}", everything.text);
        assert_eq!(ids_of_type(&everything.body, "Observation"), both, "{id}");
        let mut patients = vec![source.clone(), target.clone()];
        patients.sort();
        assert_eq!(ids_of_type(&everything.body, "Patient"), patients);
        assert_eq!(ids_of_type(&everything.body, "Provenance").len(), 1);
        for query in [
            format!("Observation?patient={id}"),
            format!("Observation?subject=Patient/{id}"),
            format!("Observation?subject:Patient={id}"),
        ] {
            let found = get(&node, &query);
            assert_eq!(found.status, 200, "{}", found.text);
            let mut ids = match_ids(&found.body);
            ids.sort();
            assert_eq!(ids, both, "{query}");
        }
    }
    // The merge is recorded.
    let provenance = get(&node, &format!("Provenance?target=Patient/{source}"));
    let entries = provenance.body["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0]["resource"]["activity"]["coding"][0]["code"],
        "merge"
    );

    // A second merge of the same source, or into the merged-away record, is refused.
    assert_eq!(
        post(&node, "Patient/$merge", &merge_request(&source, &target)).status,
        422
    );
    let third = created_id(&post(&node, "Patient", &juan()));
    assert_eq!(
        post(&node, "Patient/$merge", &merge_request(&third, &source)).status,
        422
    );
    // $match does not offer the merged-away record.
    let reply = post(
        &node,
        "Patient/$match",
        &match_request(&guadalupe(), None, None),
    );
    assert!(
        !match_results(&reply.body).iter().any(|r| r.0 == source),
        "{}",
        reply.text
    );

    let reply = post(&node, "Patient/$unmerge", &merge_request(&source, &target));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let after_source = get(&node, &format!("Patient/{source}")).body;
    let after_target = get(&node, &format!("Patient/{target}")).body;
    assert_eq!(content(&after_source), content(&before_source));
    assert_eq!(content(&after_target), content(&before_target));
    // New versions, history kept.
    assert_eq!(after_source["meta"]["versionId"], "3");
    assert_eq!(
        get(&node, &format!("Patient/{source}/_history/2")).body["active"],
        false
    );

    // The histories are separate again.
    let found = get(&node, &format!("Observation?patient={source}"));
    assert_eq!(match_ids(&found.body), vec![source_obs.clone()]);
    let everything = get(&node, &format!("Patient/{target}/$everything"));
    assert_eq!(
        ids_of_type(&everything.body, "Observation"),
        vec![target_obs]
    );
    let provenance = get(&node, &format!("Provenance?target=Patient/{source}"));
    assert_eq!(provenance.body["entry"].as_array().unwrap().len(), 2);
    // Unmerging again is refused.
    assert_eq!(
        post(&node, "Patient/$unmerge", &merge_request(&source, &target)).status,
        422
    );
}

#[test]
fn unmerge_keeps_later_edits_of_the_target() {
    let node = Node::start();
    let target = created_id(&post(&node, "Patient", &juan()));
    let source = created_id(&post(
        &node,
        "Patient",
        &patient("Juan", "Perez", "1990-11-23", "male"),
    ));
    assert_eq!(
        post(&node, "Patient/$merge", &merge_request(&source, &target)).status,
        200
    );
    let mut edited = get(&node, &format!("Patient/{target}")).body;
    edited["telecom"] = json!([{"system": "phone", "value": "5511112222"}]);
    assert_eq!(
        put(&node, &format!("Patient/{target}"), &edited).status,
        200
    );

    assert_eq!(
        post(&node, "Patient/$unmerge", &merge_request(&source, &target)).status,
        200
    );
    let after = get(&node, &format!("Patient/{target}")).body;
    assert!(after.get("link").is_none(), "{after}");
    assert_eq!(after["telecom"][0]["value"], "5511112222");
    assert_ne!(
        get(&node, &format!("Patient/{source}")).body["active"],
        false
    );
}

#[test]
fn merge_rejects_bad_input() {
    let node = Node::start();
    let a = created_id(&post(&node, "Patient", &juan()));
    let b = created_id(&post(&node, "Patient", &guadalupe()));
    let only_source = parameters(&[(
        "source-patient",
        json!({"valueReference": {"reference": format!("Patient/{a}")}}),
    )]);
    assert_eq!(post(&node, "Patient/$merge", &only_source).status, 400);
    assert_eq!(post(&node, "Patient/$merge", &juan()).status, 400);
    let bad_reference = parameters(&[
        (
            "source-patient",
            json!({"valueReference": {"reference": "Observation/1"}}),
        ),
        (
            "target-patient",
            json!({"valueReference": {"reference": format!("Patient/{b}")}}),
        ),
    ]);
    assert_eq!(post(&node, "Patient/$merge", &bad_reference).status, 400);
    let reply = post(
        &node,
        "Patient/$merge",
        &merge_request(&a, "no-such-patient"),
    );
    assert_eq!(reply.status, 404, "{}", reply.text);
    assert_eq!(
        post(&node, "Patient/$merge", &merge_request(&a, &a)).status,
        422
    );
    assert_eq!(
        post(&node, "Patient/$unmerge", &merge_request(&a, &b)).status,
        422
    );
    // Shorter parameter names are accepted too.
    let short = parameters(&[
        ("source", json!({"valueString": a})),
        ("target", json!({"valueString": b})),
    ]);
    assert_eq!(post(&node, "Patient/$merge", &short).status, 200);
    // A deleted record cannot be merged.
    let c = created_id(&post(
        &node,
        "Patient",
        &patient("Ana", "Soto", "2001-01-01", "female"),
    ));
    delete(&node, &format!("Patient/{c}"));
    assert_eq!(
        post(&node, "Patient/$merge", &merge_request(&c, &b)).status,
        410
    );
}

#[test]
fn labelled_duplicates_and_quality_benchmark_from_the_cli() {
    let temp = tempfile::tempdir().unwrap();
    let population = temp.path().join("pop");
    let duplicates = temp.path().join("dup");
    let (code, stdout, stderr) = run_cli(&[
        "mpi",
        "population",
        "--patients",
        "400",
        "--seed",
        "3",
        "--out",
        population.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let args = [
        "mpi",
        "duplicates",
        "--population",
        population.to_str().unwrap(),
        "--out",
        duplicates.to_str().unwrap(),
        "--rate",
        "0.5",
        "--seed",
        "4",
    ];
    let (code, stdout, stderr) = run_cli(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let patients = std::fs::read_to_string(duplicates.join("Patient.ndjson")).unwrap();
    let truth = std::fs::read_to_string(duplicates.join("ground-truth/truth.ndjson")).unwrap();
    let patient_lines: Vec<Value> = patients
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let truth_lines: Vec<Value> = truth
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(patient_lines.len(), truth_lines.len());
    assert!(
        (150..=250).contains(&truth_lines.len()),
        "{}",
        truth_lines.len()
    );
    // Every duplicate is in the truth, pointing at an original of the population.
    let originals = std::fs::read_to_string(population.join("Patient.ndjson")).unwrap();
    for (patient, truth) in patient_lines.iter().zip(&truth_lines) {
        assert_eq!(patient["id"], truth["duplicate"]);
        assert!(originals.contains(truth["original"].as_str().unwrap()));
        assert!(truth["errors"].is_array());
    }
    // Same seed, same files.
    run_cli(&args);
    assert_eq!(
        std::fs::read_to_string(duplicates.join("Patient.ndjson")).unwrap(),
        patients
    );

    // Custom rates: unknown names are refused, partial files keep the other defaults.
    let rates = temp.path().join("rates.json");
    std::fs::write(&rates, r#"{"missing_curp": 1.0}"#).unwrap();
    let mut with_rates = args.to_vec();
    with_rates.extend(["--error-rates", rates.to_str().unwrap()]);
    assert_eq!(run_cli(&with_rates).0, 0);
    let all_missing = std::fs::read_to_string(duplicates.join("Patient.ndjson")).unwrap();
    assert!(!all_missing.contains(CURP_SYSTEM), "every CURP was dropped");
    std::fs::write(&rates, r#"{"typos": 0.5}"#).unwrap();
    assert_ne!(run_cli(&with_rates).0, 0);

    // The quality benchmark prints the tables and meets its targets on a small run.
    let (code, stdout, stderr) = run_cli(&["mpi", "evaluate", "--patients", "3000", "--seed", "2"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("| certain + probable |"), "{stdout}");
    assert!(stdout.contains("| dropped second surname |"), "{stdout}");
}
