//! Issue 7 performance target: the chart of a patient with 500 resources rendered
//! server-side in < 50 ms (store reads, chart building and HTML), on a real SQLite store.
//!
//! A plain `harness = false` bench (no criterion): it builds the patient once, renders the
//! chart `RUNS` times and prints the median and the slowest run. `cargo bench -p web`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

/// Resources in the patient's compartment, as the issue states.
const RESOURCES: usize = 500;
const RUNS: usize = 50;
const TARGET_MS: f64 = 50.0;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_sqlite::SqliteStore::open(dir.path()).unwrap();
    let ehr = ehr::Ehr::new(store.clone(), Arc::new(ehr::SystemClock), "bench");
    let loader = ehr::Requester::local_system("bench");
    let mut entries: Vec<Value> = Vec::new();
    let mut add = |full_url: String, resource: Value| {
        let resource_type = resource["resourceType"].as_str().unwrap().to_string();
        entries.push(json!({"fullUrl": full_url, "resource": resource,
                            "request": {"method": "POST", "url": resource_type}}));
    };
    for (n, clues) in ["MSIMB000671", "MSIMB000584", "MSIMB000602"]
        .iter()
        .enumerate()
    {
        add(
            format!("urn:uuid:00000000-0000-4000-8000-00000000000{n}"),
            json!({"resourceType": "Organization", "name": format!("Unidad {n}"),
                   "identifier": [{"system": mexico::systems::CLUES, "value": clues}]}),
        );
    }
    let patient_url = "urn:uuid:00000000-0000-4000-8000-0000000000aa".to_string();
    add(
        patient_url.clone(),
        json!({"resourceType": "Patient", "name": [{"use": "official", "family": "Pérez López", "given": ["Juan"]}],
               "gender": "male", "birthDate": "1962-03-04",
               "managingOrganization": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000000"}}),
    );
    let subject = json!({"reference": patient_url});
    let mut count = 0;
    let mut visit = 0;
    while count < RESOURCES {
        let day = format!(
            "20{:02}-{:02}-{:02}T09:00:00-06:00",
            16 + visit / 12,
            1 + visit % 12,
            10
        );
        let encounter_url = format!("urn:uuid:10000000-0000-4000-8000-{visit:012}");
        add(
            encounter_url.clone(),
            json!({"resourceType": "Encounter", "status": "finished",
                   "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                   "subject": subject, "period": {"start": day},
                   "reasonCode": [{"coding": [{"system": mexico::systems::CIE10, "code": "E11.9"}], "text": "Diabetes mellitus tipo 2"}],
                   "serviceProvider": {"reference": format!("urn:uuid:00000000-0000-4000-8000-00000000000{}", visit % 3)}}),
        );
        let encounter = json!({"reference": encounter_url});
        for (code, value) in [
            ("2339-0", 130 + visit % 40),
            ("4548-4", 7),
            ("29463-7", 80),
            ("39156-5", 29),
        ] {
            add(
                format!("urn:uuid:{}", uuid_of(count, 1)),
                json!({"resourceType": "Observation", "status": "final",
                       "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                       "subject": subject, "encounter": encounter, "effectiveDateTime": day,
                       "valueQuantity": {"value": value}}),
            );
            count += 1;
        }
        add(
            format!("urn:uuid:{}", uuid_of(count, 2)),
            json!({"resourceType": "Condition", "code": {"coding": [{"system": mexico::systems::CIE10, "code": "E11.9"}], "text": "Diabetes"},
                   "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                   "subject": subject, "encounter": encounter, "onsetDateTime": day}),
        );
        add(
            format!("urn:uuid:{}", uuid_of(count, 3)),
            json!({"resourceType": "MedicationRequest", "status": "completed", "intent": "order",
                   "medicationCodeableConcept": {"text": "Metformina 850 mg"},
                   "subject": subject, "encounter": encounter, "authoredOn": day}),
        );
        count += 3;
        visit += 1;
    }
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let outcome = ehr
        .process_bundle(
            &loader,
            &fhir::json::parse_str(&bundle.to_string()).unwrap(),
            false,
        )
        .unwrap();
    let response: Value = serde_json::from_str(&outcome.response.to_json_string()).unwrap();
    let patient_id = response["entry"][3]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string();
    // Rendered as a physician of the patient's clinic: access decisions and audit included.
    ehr.add_account(
        &loader,
        ehr::NewAccount {
            username: "medica".into(),
            role: auth::role::Role::Physician,
            clues: Some("MSIMB000671".into()),
            practitioner_id: None,
            patient_id: None,
            display_name: "Dra. Ana López Ruiz".into(),
        },
        "Clave-de-medicion-2026",
        auth::password::HashCost::TEST_ONLY,
    )
    .unwrap();
    let account = ehr
        .accounts()
        .unwrap()
        .into_iter()
        .find(|a| a.username == "medica")
        .unwrap();
    let physician = ehr::requester_for_account(&account, None);
    let now_ms = ehr.now_ms();
    let mut times_ms = Vec::with_capacity(RUNS);
    let mut bytes = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let html = web::bench_chart_html(&ehr, &physician, &patient_id, now_ms).unwrap();
        times_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        bytes = html.len();
    }
    times_ms.sort_by(f64::total_cmp);
    let median = times_ms[RUNS / 2];
    let slowest = times_ms[RUNS - 1];
    println!(
        "chart render, {count} resources in {visit} visits: median {median:.2} ms, slowest {slowest:.2} ms, \
         {bytes} bytes of HTML (target < {TARGET_MS} ms): {}",
        if median < TARGET_MS {
            "ok"
        } else {
            "OVER TARGET"
        }
    );
    store.close();
}

fn uuid_of(n: usize, kind: u8) -> String {
    format!("2000000{kind}-0000-4000-8000-{n:012}")
}
