//! Search over HTTP: each parameter type, prefixes, modifiers, chains, _has, _include,
//! _revinclude, _sort, _count, _summary, _elements, _total, paging under concurrent writes,
//! and lenient/strict handling of unknown parameters.

use serde_json::{Value, json};

use crate::support::*;

const CURP: &str = "urn:oid:2.16.840.1.113883.4.629";

struct World {
    node: Node,
    gomez: String,
    perez: String,
    clinic: String,
}

fn create(node: &Node, body: Value) -> String {
    let reply = post(node, body["resourceType"].as_str().unwrap(), &body);
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_string()
}

fn world() -> World {
    let node = Node::start();
    let clinic = create(
        &node,
        json!({"resourceType": "Organization", "name": "Centro de Salud Tlalpan",
        "identifier": [{"system": "https://expediente.salud.gob.mx/fhir/sid/clues", "value": "DFSSA001234"}]}),
    );
    let gomez = create(
        &node,
        json!({"resourceType": "Patient",
        "identifier": [{"system": CURP, "value": "GOMG800101MDFMRD05"}],
        "name": [{"family": "Gómez Martínez", "given": ["María", "Guadalupe"]}],
        "gender": "female", "birthDate": "1980-01-01",
        "address": [{"state": "CDMX"}],
        "managingOrganization": {"reference": format!("Organization/{clinic}")}}),
    );
    let perez = create(
        &node,
        json!({"resourceType": "Patient",
        "identifier": [{"system": CURP, "value": "PELJ750615HJCRPN05"}],
        "name": [{"family": "Pérez López", "given": ["Juan"]}],
        "gender": "male", "birthDate": "1975-06-15",
        "address": [{"state": "Jalisco"}]}),
    );
    for (patient, value, date, code) in [
        (&gomez, "110", "2026-10-01T08:00:00-06:00", "2339-0"),
        (&gomez, "185", "2026-10-20T08:00:00-06:00", "2339-0"),
        (&perez, "95", "2026-09-15T08:00:00-06:00", "2339-0"),
        (&perez, "72.50", "2026-09-15T08:05:00-06:00", "29463-7"),
    ] {
        let unit = if code == "2339-0" { "mg/dL" } else { "kg" };
        let text = json!({"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": format!("Patient/{patient}")},
            "effectiveDateTime": date,
            "valueQuantity": {"value": 0, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})
            .to_string()
            .replace("\"value\":0", &format!("\"value\":{value}"));
        let reply = reply(
            client()
                .post(node.url("Observation"))
                .header("content-type", "application/fhir+json")
                .body(text)
                .send()
                .unwrap(),
        );
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    create(
        &node,
        json!({"resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9", "display": "Diabetes mellitus tipo 2 sin complicaciones"}], "text": "Diabetes tipo 2"},
        "subject": {"reference": format!("Patient/{gomez}")}, "onsetDateTime": "2019-03"}),
    );
    World {
        node,
        gomez,
        perez,
        clinic,
    }
}

fn ids(node: &Node, query: &str) -> Vec<String> {
    let reply = get(node, query);
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    let mut ids = match_ids(&reply.body);
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn string_token_date_reference_quantity_number_and_modifiers() {
    let w = world();
    let n = &w.node;
    let both = sorted(vec![w.gomez.clone(), w.perez.clone()]);
    // string: case- and accent-insensitive prefix; :exact; :contains
    assert_eq!(ids(n, "Patient?name=gomez"), vec![w.gomez.clone()]);
    assert_eq!(ids(n, "Patient?family=GÓMEZ"), vec![w.gomez.clone()]);
    assert_eq!(ids(n, "Patient?given=guadalupe"), vec![w.gomez.clone()]);
    assert_eq!(
        ids(n, "Patient?family:exact=Gómez Martínez"),
        vec![w.gomez.clone()]
    );
    assert!(ids(n, "Patient?family:exact=gomez martinez").is_empty());
    assert_eq!(
        ids(n, "Patient?family:contains=artin"),
        vec![w.gomez.clone()]
    );
    assert_eq!(
        ids(n, "Patient?address-state=jalisco"),
        vec![w.perez.clone()]
    );
    // token: system|code, |code, system|, code, OR, :not, :missing
    assert_eq!(
        ids(n, &format!("Patient?identifier={CURP}|GOMG800101MDFMRD05")),
        vec![w.gomez.clone()]
    );
    assert_eq!(
        ids(n, "Patient?identifier=PELJ750615HJCRPN05"),
        vec![w.perez.clone()]
    );
    assert_eq!(ids(n, &format!("Patient?identifier={CURP}|")), both);
    assert!(ids(n, "Patient?identifier=|PELJ750615HJCRPN05").is_empty());
    assert_eq!(ids(n, "Patient?gender=male,female"), both);
    assert_eq!(ids(n, "Patient?gender:not=male"), vec![w.gomez.clone()]);
    assert_eq!(
        ids(n, "Patient?organization:missing=true"),
        vec![w.perez.clone()]
    );
    assert_eq!(
        ids(n, "Patient?organization:missing=false"),
        vec![w.gomez.clone()]
    );
    assert_eq!(ids(n, "Condition?code:text=diabetes").len(), 1);
    // date with precision and prefixes
    assert_eq!(ids(n, "Patient?birthdate=1980"), vec![w.gomez.clone()]);
    assert_eq!(ids(n, "Patient?birthdate=1975-06"), vec![w.perez.clone()]);
    assert_eq!(
        ids(n, "Patient?birthdate=lt1980-01-01"),
        vec![w.perez.clone()]
    );
    assert_eq!(
        ids(n, "Patient?birthdate=ge1980-01-01"),
        vec![w.gomez.clone()]
    );
    assert_eq!(
        ids(n, "Patient?birthdate=ge1970&birthdate=le1979"),
        vec![w.perez.clone()]
    );
    assert_eq!(
        ids(n, "Patient?birthdate=ne1980-01-01"),
        vec![w.perez.clone()]
    );
    assert_eq!(ids(n, "Observation?date=2026-10").len(), 2);
    assert_eq!(ids(n, "Observation?date=sa2026-10-01").len(), 1);
    assert_eq!(ids(n, "Observation?date=eb2026-10-01").len(), 2);
    assert_eq!(ids(n, "Condition?onset-date=2019").len(), 1);
    // reference by id, Type/id; chains; _has
    assert_eq!(
        ids(n, &format!("Observation?subject=Patient/{}", w.gomez)).len(),
        2
    );
    assert_eq!(ids(n, &format!("Observation?patient={}", w.perez)).len(), 2);
    assert_eq!(
        ids(
            n,
            &format!("Observation?subject:Patient.identifier={CURP}|GOMG800101MDFMRD05")
        )
        .len(),
        2
    );
    assert_eq!(ids(n, "Observation?patient.name=perez").len(), 2);
    assert_eq!(
        ids(n, "Patient?_has:Observation:patient:code=29463-7"),
        vec![w.perez.clone()]
    );
    assert_eq!(
        ids(
            n,
            &format!("Patient?organization=Organization/{}", w.clinic)
        ),
        vec![w.gomez.clone()]
    );
    // quantity and its precision
    assert_eq!(ids(n, "Observation?value-quantity=gt100").len(), 2);
    assert_eq!(
        ids(
            n,
            "Observation?value-quantity=72.5|http://unitsofmeasure.org|kg"
        )
        .len(),
        1
    );
    assert_eq!(ids(n, "Observation?value-quantity=72.50").len(), 1);
    assert!(ids(n, "Observation?value-quantity=72.6").is_empty());
    assert_eq!(ids(n, "Observation?value-quantity=ap180").len(), 1);
    assert_eq!(
        ids(
            n,
            "Observation?code=http://loinc.org|2339-0&date=ge2026-10-01"
        )
        .len(),
        2
    );
    // _id and _lastUpdated
    assert_eq!(
        ids(n, &format!("Patient?_id={}", w.perez)),
        vec![w.perez.clone()]
    );
    assert_eq!(ids(n, "Patient?_lastUpdated=gt2000-01-01"), both);
    assert!(ids(n, "Patient?_lastUpdated=gt2999-01-01").is_empty());
}

#[test]
fn include_revinclude_sort_count_summary_elements() {
    let w = world();
    let n = &w.node;
    let reply = get(
        n,
        &format!(
            "Observation?patient={}&_include=Observation:subject",
            w.gomez
        ),
    );
    let entries = reply.body["entry"].as_array().unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["search"]["mode"] == "match")
            .count(),
        2
    );
    let included: Vec<&Value> = entries
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .collect();
    assert_eq!(included.len(), 1, "the patient is included once");
    assert_eq!(included[0]["resource"]["id"], w.gomez.as_str());

    let reply = get(
        n,
        &format!("Patient?_id={}&_revinclude=Observation:subject", w.perez),
    );
    assert_eq!(
        reply.body["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["search"]["mode"] == "include")
            .count(),
        2
    );

    let reply = get(n, "Observation?code=2339-0&_sort=-date");
    let values: Vec<f64> = reply.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["valueQuantity"]["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, vec![185.0, 110.0, 95.0]);
    let reply = get(n, "Patient?_sort=birthdate");
    assert_eq!(
        match_ids(&reply.body),
        vec![w.perez.clone(), w.gomez.clone()]
    );
    let reply = get(n, "Patient?_sort=-birthdate,_id");
    assert_eq!(
        match_ids(&reply.body),
        vec![w.gomez.clone(), w.perez.clone()]
    );

    let reply = get(n, "Observation?_count=1");
    assert_eq!(match_ids(&reply.body).len(), 1);
    assert_eq!(reply.body["total"], 4);
    assert!(
        reply.body["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next")
    );

    let reply = get(n, "Observation?_summary=count");
    assert_eq!(reply.body["total"], 4);
    assert!(reply.body["entry"].as_array().is_none_or(|e| e.is_empty()));

    let reply = get(n, "Patient?_elements=gender&_count=1");
    let resource = &reply.body["entry"][0]["resource"];
    assert!(resource.get("gender").is_some());
    assert!(resource.get("name").is_none());
    assert_eq!(resource["meta"]["tag"][0]["code"], "SUBSETTED");
}

#[test]
fn unknown_parameters_lenient_and_strict() {
    let w = world();
    let n = &w.node;
    let reply = get(n, "Patient?colorfavorito=azul&gender=male");
    assert_eq!(reply.status, 200);
    assert_eq!(match_ids(&reply.body), vec![w.perez.clone()]);
    let outcome = reply.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .unwrap();
    assert!(
        outcome["resource"]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("colorfavorito")
    );
    let strict = reply_with_prefer(n, "Patient?colorfavorito=azul", "handling=strict");
    assert_eq!(strict.status, 400);
    let bad_date = get(n, "Patient?birthdate=ayer");
    assert_eq!(bad_date.status, 400);
    assert_eq!(bad_date.body["resourceType"], "OperationOutcome");
}

fn reply_with_prefer(node: &Node, path: &str, prefer: &str) -> Reply {
    reply(
        client()
            .get(node.url(path))
            .header("prefer", prefer)
            .send()
            .unwrap(),
    )
}

#[test]
fn post_search_equals_get_search() {
    let w = world();
    let form = reply(
        client()
            .post(w.node.url("Patient/_search"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("family=gomez")
            .send()
            .unwrap(),
    );
    assert_eq!(form.status, 200, "{}", form.text);
    assert_eq!(match_ids(&form.body), vec![w.gomez.clone()]);
}

#[test]
fn paging_stays_correct_while_others_write() {
    let node = Node::start();
    for i in 0..45 {
        create(
            &node,
            patient(&format!("Paciente{i}"), "Paginado", "2000-01-01", "female"),
        );
    }
    let mut url = "Patient?family=paginado&_count=10".to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = get(&node, &url);
        assert_eq!(page.status, 200, "{}", page.text);
        seen.extend(match_ids(&page.body));
        pages += 1;
        // Writes between pages: new matches and updates of already-seen ones.
        create(
            &node,
            patient(&format!("Nuevo{pages}"), "Otro", "2000-01-01", "male"),
        );
        if let Some(first) = seen.first() {
            let mut body = get(&node, &format!("Patient/{first}")).body;
            body["active"] = json!(pages % 2 == 0);
            assert_eq!(put(&node, &format!("Patient/{first}"), &body).status, 200);
        }
        match link(&page.body, "next") {
            Some(next) => url = next,
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no resource appears twice");
    assert_eq!(
        seen.len(),
        45,
        "every resource present throughout appears once"
    );
    assert_eq!(pages, 5);
}

#[test]
fn summary_total_iterate_and_previous_links() {
    let w = world();
    let n = &w.node;
    // _summary=true keeps summary elements (name, gender, birthDate) and drops the rest.
    let reply = get(n, &format!("Patient?_id={}&_summary=true", w.gomez));
    let resource = &reply.body["entry"][0]["resource"];
    assert!(resource.get("name").is_some() && resource.get("birthDate").is_some());
    assert_eq!(resource["meta"]["tag"][0]["code"], "SUBSETTED");
    let full = get(n, &format!("Patient/{}", w.gomez));
    assert!(full.body.get("address").is_some());
    // _total=none omits the total.
    let reply = get(n, "Observation?_total=none");
    assert!(reply.body.get("total").is_none());
    // _include:iterate follows one more level: Observation -> Patient -> Organization.
    let reply = get(
        n,
        &format!(
            "Observation?patient={}&_include=Observation:subject&_include:iterate=Patient:organization",
            w.gomez
        ),
    );
    let included: Vec<&str> = reply.body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "include")
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    assert!(
        included.contains(&"Patient") && included.contains(&"Organization"),
        "{included:?}"
    );
    // previous links lead back to the first page.
    let first = get(n, "Observation?_count=2&_sort=date");
    let next_url = link(&first.body, "next").unwrap();
    let second = get(n, &next_url);
    let previous_url = link(&second.body, "previous").unwrap();
    let back = get(n, &previous_url);
    assert_eq!(match_ids(&back.body), match_ids(&first.body));
    assert_eq!(match_ids(&second.body).len(), 2);
    assert!(
        match_ids(&second.body)
            .iter()
            .all(|id| !match_ids(&first.body).contains(id))
    );
}
