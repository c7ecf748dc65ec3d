//! FHIR Bulk Data `$export` (issue 16) over real HTTP, driven the way a Bulk Data IG v2 client
//! behaves: kick-off with `Prefer: respond-async`, poll the `Content-Location` honouring
//! `Retry-After` (capped small), read the manifest, fetch every file with the same bearer
//! token, parse each NDJSON line as a FHIR resource and check the counts against a search by
//! the same account. Then as attackers: another account's job is absent (404) by every door.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::security::{CLUES_A, CLUES_B, account, get_as, url_of, world};
use crate::support::*;

/// What a finished export gave: the manifest and each file's resources.
struct Export {
    manifest: Value,
    files: Vec<(String, Vec<Value>)>,
}

impl Export {
    /// Resources of one type across its files.
    fn of(&self, kind: &str) -> Vec<&Value> {
        self.files
            .iter()
            .filter(|(t, _)| t == kind)
            .flat_map(|(_, lines)| lines.iter())
            .collect()
    }

    fn types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.files.iter().map(|(t, _)| t.clone()).collect();
        types.dedup();
        types
    }
}

/// Kick-off as `token`; the raw answer.
fn kick_off(node: &Node, token: &str, path: &str) -> reqwest::blocking::Response {
    anonymous_client()
        .get(url_of(node, path))
        .bearer_auth(token)
        .header("accept", "application/fhir+json")
        .header("prefer", "respond-async")
        .send()
        .unwrap()
}

/// The status URL's path (`fhir/$export-status/…`), from a 202's `Content-Location`.
fn status_path(answer: &reqwest::blocking::Response) -> String {
    let location = answer
        .headers()
        .get("content-location")
        .expect("a 202 names its status URL")
        .to_str()
        .unwrap()
        .to_string();
    let at = location
        .find("/fhir/")
        .expect("an absolute URL under /fhir");
    location[at + 1..].to_string()
}

/// Polls until the manifest, as a client honouring `Retry-After` (at most 1 s per wait).
fn poll(node: &Node, token: &str, status: &str) -> Value {
    let started = Instant::now();
    loop {
        let answer = anonymous_client()
            .get(url_of(node, status))
            .bearer_auth(token)
            .send()
            .unwrap();
        match answer.status().as_u16() {
            200 => {
                let kind = answer.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_string();
                assert!(kind.starts_with("application/json"), "{kind}");
                return answer.json().unwrap();
            }
            202 => {
                assert!(
                    answer.headers().contains_key("x-progress"),
                    "an in-progress status says how far it got"
                );
                let wait: u64 = answer.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                std::thread::sleep(
                    Duration::from_millis(wait.min(1) * 1000).min(Duration::from_millis(250)),
                );
            }
            other => panic!("status {other}: {}", answer.text().unwrap()),
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "export never completed"
        );
    }
}

/// Fetches every file of a manifest with the bearer token; each line must be a resource of
/// the file's type.
fn fetch(node: &Node, token: &str, manifest: &Value) -> Vec<(String, Vec<Value>)> {
    assert_eq!(manifest["requiresAccessToken"], true);
    assert!(manifest["transactionTime"].as_str().unwrap().ends_with('Z'));
    assert!(manifest["request"].as_str().unwrap().contains("$export"));
    assert_eq!(manifest["error"], json!([]));
    let mut files = Vec::new();
    for item in manifest["output"].as_array().unwrap() {
        let kind = item["type"].as_str().unwrap().to_string();
        let url = item["url"].as_str().unwrap();
        let path = &url[url.find("/fhir/").unwrap() + 1..];
        // Without the token: refused.
        let anonymous = anonymous_client().get(url_of(node, path)).send().unwrap();
        assert_eq!(anonymous.status().as_u16(), 401);
        let answer = anonymous_client()
            .get(url_of(node, path))
            .bearer_auth(token)
            .header("accept", "application/fhir+ndjson")
            .send()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        assert_eq!(answer.headers()["content-type"], "application/fhir+ndjson");
        let text = answer.text().unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| {
                let resource: Value = serde_json::from_str(line).expect("each line is JSON");
                assert_eq!(resource["resourceType"], kind.as_str(), "{line}");
                assert!(resource["id"].is_string());
                resource
            })
            .collect();
        assert!(text.ends_with('\n'));
        assert_eq!(lines.len() as u64, item["count"].as_u64().unwrap());
        files.push((kind, lines));
    }
    files
}

fn job_state(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("job.json")).unwrap()).unwrap()
}

/// If a job beat the kill, puts it back as a kill would have left it mid-way (state
/// `running`, a partial file), so that what a restart does with it is what is tested.
fn left_running(dir: &std::path::Path) {
    let mut state = job_state(dir);
    if state["status"] != "running" {
        state["status"] = json!("running");
        state["output"] = json!([]);
        state["finished_ms"] = Value::Null;
        std::fs::write(dir.join("job.json"), state.to_string()).unwrap();
        std::fs::write(dir.join("Patient.ndjson"), "{\"resourceType\":\"Pat").unwrap();
    }
}

/// A whole export as `token`: kick-off, poll, fetch.
fn export(node: &Node, token: &str, path: &str) -> Export {
    let answer = kick_off(node, token, path);
    assert_eq!(answer.status().as_u16(), 202, "{path}");
    let status = status_path(&answer);
    let manifest = poll(node, token, &status);
    let files = fetch(node, token, &manifest);
    Export { manifest, files }
}

/// Ids a search by `token` shows, all pages.
fn searched(node: &Node, token: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some(format!("fhir/{query}"));
    while let Some(path) = next.take() {
        let page = get_as(node, token, &path);
        assert_eq!(page.status, 200, "{}", page.text);
        ids.extend(match_ids(&page.body));
        next =
            link(&page.body, "next").map(|url| url[url.find("/fhir/").unwrap() + 1..].to_string());
    }
    ids.sort();
    ids
}

fn ids(resources: &[&Value]) -> Vec<String> {
    let mut ids: Vec<String> = resources
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_bulk_client_exports_the_system_the_patients_and_a_group() {
    let w = world();
    let node = &w.node;
    let system = test_token();
    // Another patient at clinic B with a Condition, and a Group holding p1 alone.
    let p3 = patient("Carla", "Soto", "1990-02-02", "female");
    let p3 = post(node, "Patient", &p3).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let condition = json!({
        "resourceType": "Condition",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}]},
        "subject": {"reference": format!("Patient/{p3}")}
    });
    assert_eq!(post(node, "Condition", &condition).status, 201);
    let group = json!({
        "resourceType": "Group", "type": "person", "actual": true,
        "member": [{"entity": {"reference": format!("Patient/{}", w.p1)}}]
    });
    let group = post(node, "Group", &group);
    assert_eq!(group.status, 201, "{}", group.text);
    let group = group.body["id"].as_str().unwrap().to_string();

    // System level, every type held: each file matches a search of its type.
    let all = export(node, system, "fhir/$export");
    let types = all.types();
    for kind in [
        "Condition",
        "Group",
        "Observation",
        "Organization",
        "Patient",
    ] {
        assert!(types.contains(&kind.to_string()), "{kind} in {types:?}");
        assert_eq!(
            ids(&all.of(kind)),
            searched(node, system, &format!("{kind}?_count=50")),
            "{kind}"
        );
    }

    // `_type` limits the files; the format may be named in any of its three spellings.
    let some = export(
        node,
        system,
        "fhir/$export?_type=Patient,Observation&_outputFormat=application%2Fndjson",
    );
    assert_eq!(some.types(), vec!["Observation", "Patient"]);
    assert_eq!(some.of("Patient").len(), 3);

    // Patient level: only compartment types (no Organization; R4 puts a Group in its
    // members' compartments).
    let patients = export(node, system, "fhir/Patient/$export?_outputFormat=ndjson");
    let types = patients.types();
    assert!(!types.contains(&"Organization".to_string()), "{types:?}");
    assert_eq!(patients.of("Group").len(), 1);
    assert_eq!(patients.of("Patient").len(), 3);
    assert_eq!(patients.of("Observation").len(), 2);
    assert_eq!(patients.of("Condition").len(), 1);

    // Group level: the member's compartment only.
    let members = export(node, system, &format!("fhir/Group/{group}/$export"));
    assert_eq!(ids(&members.of("Patient")), vec![w.p1.clone()]);
    assert_eq!(ids(&members.of("Observation")), vec![w.obs1.clone()]);
    assert!(members.of("Condition").is_empty());

    // `_since` the first export's transactionTime: only what changed after it.
    let since = all.manifest["transactionTime"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(Duration::from_millis(20));
    let newer = post(node, "Observation", &crate::security::observation(&p3, &[]));
    assert_eq!(newer.status, 201);
    let changed = export(
        node,
        system,
        &format!(
            "fhir/$export?_type=Observation,Patient&_since={}",
            since.replace('+', "%2B")
        ),
    );
    assert_eq!(
        ids(&changed.of("Observation")),
        vec![newer.body["id"].as_str().unwrap().to_string()]
    );
    assert!(changed.of("Patient").is_empty());
}

#[test]
fn kick_off_errors_are_operation_outcomes_in_both_languages() {
    let w = world();
    let node = &w.node;
    let system = test_token();
    // Without `Prefer: respond-async`.
    let plain = get_as(node, system, "fhir/$export");
    assert_eq!(plain.status, 400);
    assert_eq!(plain.body["resourceType"], "OperationOutcome");
    assert!(
        plain.diagnostics().contains("respond-async"),
        "{}",
        plain.text
    );
    for (path, words) in [
        ("fhir/$export?_outputFormat=text%2Fcsv", "text/csv"),
        ("fhir/$export?_type=Pacientes", "Pacientes"),
        ("fhir/$export?_since=ayer", "_since"),
        (
            "fhir/$export?_typeFilter=Patient%3Factive%3Dtrue",
            "_typeFilter",
        ),
        ("fhir/Patient/$export?_type=Organization", "Organization"),
    ] {
        let answer = kick_off(node, system, path);
        assert_eq!(answer.status().as_u16(), 400, "{path}");
        let body: Value = answer.json().unwrap();
        assert_eq!(body["resourceType"], "OperationOutcome");
        let text = body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(text.contains(words), "{path}: {text}");
        // Spanish, then English, like every error of the API.
        let (es, en) = text.split_once(" / ").expect("both languages");
        assert!(es.contains(words) && en.contains(words), "{text}");
    }
    // A Group that does not exist.
    let answer = kick_off(node, system, "fhir/Group/no-existe/$export");
    assert_eq!(answer.status().as_u16(), 404);
}

#[test]
fn an_export_holds_only_what_its_account_may_read_and_only_it_reaches_the_job() {
    let w = world();
    let node = &w.node;
    let mine = account(&w.data, "medica-a", "physician", &["--clues", CLUES_A]);
    let stranger = account(&w.data, "medico-b", "physician", &["--clues", CLUES_B]);
    let epi = account(&w.data, "epi", "epidemiologist", &[]);
    let auditor = account(&w.data, "auditora", "auditor", &[]);

    // Clinic A's physician: both patients registered there, with their Observations; the
    // same as their searches show.
    let a = export(
        node,
        &mine,
        "fhir/Patient/$export?_type=Patient,Observation",
    );
    assert_eq!(
        ids(&a.of("Observation")),
        searched(node, &mine, "Observation?_count=50")
    );
    assert_eq!(a.of("Observation").len(), 2);
    assert_eq!(
        ids(&a.of("Patient")),
        searched(node, &mine, "Patient?_count=50")
    );

    // Clinic B's physician: no care relationship, so no clinical line at all (the
    // demographics stay as open as their searches: finding people is allowed).
    let b = export(node, &stranger, "fhir/$export?_type=Patient,Observation");
    assert!(b.of("Observation").is_empty());
    assert!(searched(node, &stranger, "Observation?_count=50").is_empty());
    assert_eq!(
        ids(&b.of("Patient")),
        searched(node, &stranger, "Patient?_count=50")
    );

    // The attacker: A's job is absent for B, by every door, and stays intact.
    let answer = kick_off(node, &mine, "fhir/$export?_type=Observation");
    assert_eq!(answer.status().as_u16(), 202);
    let status = status_path(&answer);
    let manifest = poll(node, &mine, &status);
    let file_url = manifest["output"][0]["url"].as_str().unwrap().to_string();
    let file = &file_url[file_url.find("/fhir/").unwrap() + 1..];
    for token in [stranger.as_str(), epi.as_str(), test_token()] {
        assert_eq!(get_as(node, token, &status).status, 404);
        assert_eq!(get_as(node, token, file).status, 404);
        let delete = reply(
            anonymous_client()
                .delete(url_of(node, &status))
                .bearer_auth(token)
                .send()
                .unwrap(),
        );
        assert_eq!(delete.status, 404);
    }
    // A made-up job and a path escape are absent too.
    assert_eq!(
        get_as(node, &mine, "fhir/$export-status/0123456789abcdef").status,
        404
    );
    assert_eq!(
        get_as(node, &mine, "fhir/$export-status/..%2F..%2Fkeys").status,
        404
    );
    let sneaky = file.rsplit_once('/').unwrap().0.to_string() + "/..%2Fjob.json";
    assert_eq!(get_as(node, &mine, &sneaky).status, 404);
    assert_eq!(fetch(node, &mine, &manifest)[0].1.len(), 2);

    // Who may not export at all: epidemiologists (aggregates only), auditors, nobody.
    for token in [&epi, &auditor] {
        let answer = kick_off(node, token, "fhir/$export");
        assert_eq!(answer.status().as_u16(), 403);
    }
    let anonymous = anonymous_client()
        .get(url_of(node, "fhir/$export"))
        .header("prefer", "respond-async")
        .send()
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // Audited: the kick-off, the completion with its counts, and each patient's access log.
    let mut trail = String::new();
    for _ in 0..50 {
        trail = get_as(node, &auditor, "fhir/AuditEvent?agent=medica-a&_count=200").text;
        if trail.contains("completa") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(trail.contains("Patient/$export"), "{trail}");
    assert!(trail.contains("Observation=2"), "{trail}");
    assert!(trail.contains("descarga Observation.ndjson"), "{trail}");
    let log = get_as(
        node,
        &auditor,
        &format!("fhir/AuditEvent?patient={}&_count=200", w.p1),
    )
    .text;
    assert!(log.contains("$export"), "{log}");
}

#[test]
fn delete_cancels_and_a_restart_keeps_finished_jobs_and_resumes_running_ones() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut node = Node::start_in(&data);
    let system = test_token();
    for n in 0..40 {
        let p = post(
            &node,
            "Patient",
            &patient(&format!("Nombre{n}"), "Prueba", "1985-03-03", "male"),
        );
        assert_eq!(p.status, 201);
    }
    // A finished job survives a restart: manifest and files.
    let answer = kick_off(&node, system, "fhir/$export?_type=Patient");
    assert_eq!(answer.status().as_u16(), 202);
    let finished = status_path(&answer);
    let manifest = poll(&node, system, &finished);
    assert_eq!(manifest["output"][0]["count"], 40);

    // A job running when the node is killed: started, then SIGKILL at once.
    let answer = kick_off(&node, system, "fhir/$export?_type=Patient");
    assert_eq!(answer.status().as_u16(), 202);
    let interrupted = status_path(&answer);
    // And a physician's, whose account is disabled while the node is down.
    let physician = account(&data, "medica", "physician", &["--clues", CLUES_A]);
    let answer = kick_off(&node, &physician, "fhir/$export?_type=Patient");
    assert_eq!(answer.status().as_u16(), 202);
    let orphan = status_path(&answer);
    node.kill();
    let job_dir = |status: &str| {
        data.join("exports")
            .join(status.rsplit('/').next().unwrap())
    };
    left_running(&job_dir(&interrupted));
    left_running(&job_dir(&orphan));
    let (code, _, err) = run_cli(&[
        "user",
        "disable",
        "--data",
        data.to_str().unwrap(),
        "--username",
        "medica",
    ]);
    assert_eq!(code, 0, "{err}");
    let node = Node::start_in(&data);
    // The disabled account's job is not resumed: it fails, and its partial file is not served.
    let state = job_state(&job_dir(&orphan));
    assert_eq!(state["status"], "failed", "{state}");
    assert_eq!(state["output"], json!([]));
    let again = poll(&node, system, &finished);
    assert_eq!(again["transactionTime"], manifest["transactionTime"]);
    assert_eq!(fetch(&node, system, &again)[0].1.len(), 40);
    // The interrupted one is run again and completes with every resource, once each.
    let resumed = poll(&node, system, &interrupted);
    let lines = &fetch(&node, system, &resumed)[0].1;
    assert_eq!(lines.len(), 40);
    let mut unique: Vec<&str> = lines.iter().map(|r| r["id"].as_str().unwrap()).collect();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 40);

    // DELETE: 202, then the job is gone (status and files) and its directory removed.
    let file_url = resumed["output"][0]["url"].as_str().unwrap().to_string();
    let file = file_url[file_url.find("/fhir/").unwrap() + 1..].to_string();
    let delete = reply(client().delete(url_of(&node, &interrupted)).send().unwrap());
    assert_eq!(delete.status, 202);
    assert_eq!(get_as(&node, system, &interrupted).status, 404);
    assert_eq!(get_as(&node, system, &file).status, 404);
    let id = interrupted.rsplit('/').next().unwrap();
    assert!(!data.join("exports").join(id).exists());
    // The other job is untouched.
    assert_eq!(get_as(&node, system, &finished).status, 200);

    // One unfinished job per account at a time: a second kick-off while one runs is 429,
    // or the first already finished (both are correct; at least one 202).
    let first = kick_off(&node, system, "fhir/$export");
    assert_eq!(first.status().as_u16(), 202);
    let second = kick_off(&node, system, "fhir/$export");
    assert!(
        [202, 429].contains(&second.status().as_u16()),
        "{}",
        second.status()
    );
    if second.status().as_u16() == 429 {
        assert!(second.headers().contains_key("retry-after"));
    }
    // Cancelling a job in progress (or just finished) answers 202, then 404.
    let running = status_path(&first);
    let delete = reply(client().delete(url_of(&node, &running)).send().unwrap());
    assert_eq!(delete.status, 202);
    assert_eq!(get_as(&node, system, &running).status, 404);
}

/// The deletion Bundles of a `_since` manifest's `deleted` files: `Type/id` of each entry.
fn deletions(node: &Node, token: &str, manifest: &Value) -> Vec<String> {
    let mut deleted = Vec::new();
    for item in manifest["deleted"]
        .as_array()
        .expect("a _since manifest lists deletions")
    {
        assert_eq!(item["type"], "Bundle");
        let url = item["url"].as_str().unwrap();
        let path = &url[url.find("/fhir/").unwrap() + 1..];
        let answer = anonymous_client()
            .get(url_of(node, path))
            .bearer_auth(token)
            .send()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        let text = answer.text().unwrap();
        assert_eq!(text.lines().count() as u64, item["count"].as_u64().unwrap());
        for line in text.lines() {
            let bundle: Value = serde_json::from_str(line).unwrap();
            assert_eq!(bundle["resourceType"], "Bundle");
            assert_eq!(bundle["type"], "transaction");
            for entry in bundle["entry"].as_array().unwrap() {
                assert_eq!(entry["request"]["method"], "DELETE");
                deleted.push(entry["request"]["url"].as_str().unwrap().to_string());
            }
        }
    }
    deleted.sort();
    deleted
}

#[test]
fn the_public_export_is_de_identified_and_since_lists_what_was_deleted() {
    let w = world();
    let node = &w.node;
    let system = test_token();
    // A patient with every kind of direct identifier, and a note in free text.
    let mut lupe = patient("María Guadalupe", "Hernández López", "1984-03-07", "female");
    lupe["identifier"] = json!([{"use": "official", "system": "urn:oid:2.16.840.1.113883.4.629", "value": "HELG840307MJCRPD06"}]);
    lupe["telecom"] = json!([{"system": "phone", "value": "3312345678"}]);
    lupe["address"] = json!([{"line": ["Calle Hidalgo 221"], "city": "Zapopan", "state": "JC", "postalCode": "45100"}]);
    let lupe = post(node, "Patient", &lupe);
    assert_eq!(lupe.status, 201, "{}", lupe.text);
    let lupe = lupe.body["id"].as_str().unwrap().to_string();
    let mut noted = crate::security::observation(&lupe, &[]);
    noted["note"] = json!([{"text": "Acompañada por su esposo Ramiro"}]);
    noted["subject"]["display"] = json!("María Guadalupe Hernández López");
    assert_eq!(post(node, "Observation", &noted).status, 201);

    let public = export(
        node,
        system,
        "fhir/$export?_type=Patient,Observation&publico=1",
    );
    let patients = public.of("Patient");
    assert_eq!(ids(&patients), searched(node, system, "Patient?_count=50"));
    let text: String = public
        .files
        .iter()
        .flat_map(|(_, lines)| lines.iter().map(Value::to_string))
        .collect();
    for gone in [
        "Guadalupe",
        "Hernández",
        "HELG840307MJCRPD06",
        "3312345678",
        "Hidalgo",
        "45100",
        "Ramiro",
        "1984-03-07",
        "Ana",
        "Pérez",
    ] {
        assert!(
            !text.contains(gone),
            "«{gone}» in the public export: {text}"
        );
    }
    let lupe_line = patients.iter().find(|p| p["id"] == lupe.as_str()).unwrap();
    assert_eq!(lupe_line["birthDate"], "1984");
    assert_eq!(lupe_line["gender"], "female");
    assert_eq!(lupe_line["address"][0]["state"], "JC");
    assert_eq!(public.of("Observation").len(), 3);
    assert!(
        public
            .of("Observation")
            .iter()
            .all(|o| o["valueQuantity"]["value"] == 72 && o["subject"]["reference"].is_string())
    );
    // The full export of the same data still holds them (the variant is the parameter's).
    let full = export(node, system, "fhir/$export?_type=Patient");
    assert!(full.files.iter().any(|(_, l)| {
        l.iter()
            .any(|p| p.to_string().contains("HELG840307MJCRPD06"))
    }));
    assert!(full.manifest.get("deleted").is_none());

    // `_since`: a deleted Observation is listed in `deleted` (a transaction Bundle with a
    // DELETE entry), not in the output; one deleted before `_since` is not listed.
    let before = anonymous_client()
        .delete(url_of(node, &format!("fhir/Observation/{}", w.obs2)))
        .bearer_auth(system)
        .send()
        .unwrap();
    assert!(before.status().is_success(), "{}", before.status());
    std::thread::sleep(Duration::from_millis(20));
    // The starting point: an export's transactionTime taken after the first deletion.
    let mid = export(node, system, "fhir/$export?_type=Organization");
    let since = mid.manifest["transactionTime"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(Duration::from_millis(20));
    let gone = anonymous_client()
        .delete(url_of(node, &format!("fhir/Observation/{}", w.obs1)))
        .bearer_auth(system)
        .send()
        .unwrap();
    assert!(gone.status().is_success(), "{}", gone.status());
    let newer = post(
        node,
        "Observation",
        &crate::security::observation(&lupe, &[]),
    );
    assert_eq!(newer.status, 201);
    let query = format!(
        "fhir/$export?_type=Observation,Patient&_since={}",
        since.replace('+', "%2B")
    );
    let changed = export(node, system, &query);
    assert_eq!(
        ids(&changed.of("Observation")),
        vec![newer.body["id"].as_str().unwrap().to_string()]
    );
    assert_eq!(
        deletions(node, system, &changed.manifest),
        vec![format!("Observation/{}", w.obs1)]
    );
    // Another clinic's physician, who could not read that Observation, is not told of its
    // deletion either.
    let stranger = account(&w.data, "medico-b", "physician", &["--clues", CLUES_B]);
    let theirs = export(node, &stranger, &query);
    assert!(deletions(node, &stranger, &theirs.manifest).is_empty());
    // Clinic A's physician, who could, is.
    let mine = account(&w.data, "medica-a", "physician", &["--clues", CLUES_A]);
    let ours = export(node, &mine, &query);
    assert_eq!(
        deletions(node, &mine, &ours.manifest),
        vec![format!("Observation/{}", w.obs1)]
    );
}
