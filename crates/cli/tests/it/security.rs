//! The security suite (issue 6), through HTTP and the CLI as users and attackers reach the node:
//! authentication failures, the role matrix, a patient reaching for another patient's record
//! by every door, care relationships and break-glass, consent, the audit trail and its
//! tamper detection, injection attempts and hostile bodies.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::*;

pub(crate) const CLUES_A: &str = "DFSSA001234";
pub(crate) const CLUES_B: &str = "JCSSA000001";

/// Runs the CLI with `stdin` as standard input.
pub(crate) fn run_cli_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .args(cli_database_args(args))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub(crate) const PASSWORD: &str = "Clave-de-prueba-2026";

/// Creates an account (password `PASSWORD`) and returns a token for it.
pub(crate) fn account(data: &Path, user: &str, role: &str, extra: &[&str]) -> String {
    let data = data.to_str().unwrap();
    let mut args = vec![
        "user",
        "add",
        "--data",
        data,
        "--username",
        user,
        "--role",
        role,
        "--password-stdin",
    ];
    args.extend_from_slice(extra);
    let (code, _, err) = run_cli_stdin(&args, PASSWORD);
    assert_eq!(code, 0, "user add {user}: {err}");
    token(data, user, role)
}

pub(crate) fn token(data: &str, user: &str, role: &str) -> String {
    let (code, out, err) = run_cli(&[
        "token", "issue", "--data", data, "--user", user, "--role", role,
    ]);
    assert_eq!(code, 0, "token issue {user}: {err}");
    out.lines().last().unwrap().trim().to_string()
}

/// A path under the node's origin: `fhir/…` or `auth/…`.
pub(crate) fn url_of(node: &Node, path: &str) -> String {
    let origin = node.base.trim_end_matches('/').trim_end_matches("/fhir");
    format!("{origin}/{}", path.trim_start_matches('/'))
}

/// Denied accesses (`outcome` 4) by `agent` that name `target`, in the audit trail as the
/// auditor reads it, polled until at least `expected` are there (the trail is written off the
/// request path) or ten seconds pass. Returns how many were found.
pub(crate) fn denied_accesses(
    node: &Node,
    auditor: &str,
    agent: &str,
    target: &str,
    expected: usize,
) -> usize {
    let mut denied = 0;
    for _ in 0..50 {
        let trail = get_as(
            node,
            auditor,
            &format!("fhir/AuditEvent?agent={agent}&_count=200"),
        );
        assert_eq!(trail.status, 200, "{}", trail.text);
        denied = trail.body["entry"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| {
                        e["resource"]["outcome"] == "4"
                            && e["resource"].to_string().contains(target)
                    })
                    .count()
            })
            .unwrap_or(0);
        if denied >= expected {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    denied
}

pub(crate) fn get_as(node: &Node, token: &str, path: &str) -> Reply {
    reply(
        anonymous_client()
            .get(url_of(node, path))
            .bearer_auth(token)
            .send()
            .unwrap(),
    )
}

pub(crate) fn send_as(node: &Node, token: &str, method: &str, path: &str, body: &Value) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    reply(
        anonymous_client()
            .request(method, url_of(node, path))
            .bearer_auth(token)
            .header("content-type", "application/fhir+json")
            .body(body.to_string())
            .send()
            .unwrap(),
    )
}

pub(crate) fn ids_of(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["resource"]["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Two clinics (A and B), two patients registered at A, each with an Observation.
pub(crate) struct World {
    pub node: Node,
    pub data: std::path::PathBuf,
    pub _temp: tempfile::TempDir,
    pub p1: String,
    pub p2: String,
    pub obs1: String,
    pub obs2: String,
}

pub(crate) fn organization(clues: &str, name: &str) -> Value {
    json!({
        "resourceType": "Organization",
        "identifier": [{"system": "https://expediente.salud.gob.mx/fhir/sid/clues", "value": clues}],
        "name": name
    })
}

pub(crate) fn observation(patient: &str, labels: &[&str]) -> Value {
    let mut obs = json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
    });
    if !labels.is_empty() {
        let codings: Vec<Value> = labels
            .iter()
            .map(|c| json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": c}))
            .collect();
        obs["meta"] = json!({"security": codings});
    }
    obs
}

pub(crate) fn world() -> World {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let node = Node::start_in(&data);
    let org_a = post(
        &node,
        "Organization",
        &organization(CLUES_A, "Centro de Salud A"),
    );
    assert_eq!(org_a.status, 201, "{}", org_a.text);
    let org_b = post(
        &node,
        "Organization",
        &organization(CLUES_B, "Centro de Salud B"),
    );
    assert_eq!(org_b.status, 201, "{}", org_b.text);
    let org_a = org_a.body["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for (given, family) in [("Ana", "Pérez"), ("Beto", "Ruiz")] {
        let mut p = patient(given, family, "1980-01-01", "female");
        p["managingOrganization"] = json!({"reference": format!("Organization/{org_a}")});
        let created = post(&node, "Patient", &p);
        assert_eq!(created.status, 201, "{}", created.text);
        ids.push(created.body["id"].as_str().unwrap().to_string());
    }
    let mut obs = Vec::new();
    for p in &ids {
        let created = post(&node, "Observation", &observation(p, &[]));
        assert_eq!(created.status, 201, "{}", created.text);
        obs.push(created.body["id"].as_str().unwrap().to_string());
    }
    World {
        node,
        data,
        _temp: temp,
        p1: ids[0].clone(),
        p2: ids[1].clone(),
        obs1: obs[0].clone(),
        obs2: obs[1].clone(),
    }
}

#[test]
fn missing_forged_expired_revoked_and_disabled_credentials_are_401() {
    let w = world();
    let node = &w.node;
    // No token: 401 with a challenge; the CapabilityStatement stays public.
    let anonymous = reply(
        anonymous_client()
            .get(url_of(node, "fhir/Patient"))
            .send()
            .unwrap(),
    );
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(anonymous.body["resourceType"], "OperationOutcome");
    assert!(anonymous.diagnostics().contains("autenticación"));
    let metadata = reply(
        anonymous_client()
            .get(url_of(node, "fhir/metadata"))
            .send()
            .unwrap(),
    );
    assert_eq!(metadata.status, 200);

    // Garbage, and a well-formed token signed by another node's key.
    assert_eq!(get_as(node, "no.es.un-token", "fhir/Patient").status, 401);
    let elsewhere = tempfile::tempdir().unwrap();
    let other = account(
        elsewhere.path(),
        "medico",
        "physician",
        &["--clues", CLUES_A],
    );
    assert_eq!(get_as(node, &other, "fhir/Patient").status, 401);
    // A token whose payload was edited (signature no longer matches).
    let good = account(&w.data, "medico", "physician", &["--clues", CLUES_A]);
    assert_eq!(
        get_as(node, &good, &format!("fhir/Patient/{}", w.p1)).status,
        200
    );
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert_eq!(get_as(node, &parts.join("."), "fhir/Patient").status, 401);

    // Expired.
    let data = w.data.to_str().unwrap();
    let (code, out, err) = run_cli(&[
        "token",
        "issue",
        "--data",
        data,
        "--user",
        "medico",
        "--role",
        "physician",
        "--ttl",
        "1s",
    ]);
    assert_eq!(code, 0, "{err}");
    let short = out.lines().last().unwrap().trim().to_string();
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    assert_eq!(get_as(node, &short, "fhir/Patient").status, 401);

    // Revoked by its holder (sign-out).
    let revoked = token(data, "medico", "physician");
    assert_eq!(get_as(node, &revoked, "fhir/Patient").status, 200);
    let answer = anonymous_client()
        .post(url_of(node, "auth/revoke"))
        .bearer_auth(&revoked)
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(get_as(node, &revoked, "fhir/Patient").status, 401);

    // A disabled account's token stops working: the node re-reads account state at least
    // once a second (the CLI changes it from another process).
    let (code, _, err) = run_cli(&["user", "disable", "--data", data, "--username", "medico"]);
    assert_eq!(code, 0, "{err}");
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    assert_eq!(get_as(node, &good, "fhir/Patient").status, 401);
    // The role on the command line must be the account's.
    let (code, _, _) = run_cli(&[
        "token", "issue", "--data", data, "--user", "medico", "--role", "admin",
    ]);
    assert_ne!(code, 0);
}

#[test]
fn each_role_against_each_kind_of_resource() {
    let w = world();
    let node = &w.node;
    let physician = account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    let nurse = account(&w.data, "enfermera", "nurse", &["--clues", CLUES_A]);
    let receptionist = account(&w.data, "recepcion", "receptionist", &["--clues", CLUES_A]);
    let epidemiologist = account(&w.data, "epi", "epidemiologist", &[]);
    let auditor = account(&w.data, "auditora", "auditor", &[]);
    let admin = account(&w.data, "admin", "admin", &[]);
    let patient_path = format!("fhir/Patient/{}", w.p1);
    let obs_path = format!("fhir/Observation/{}", w.obs1);
    let condition = json!({
        "resourceType": "Condition",
        "subject": {"reference": format!("Patient/{}", w.p1)},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}]}
    });
    // (token, read Patient, read Observation, create vital signs, create Condition, AuditEvent)
    let table = [
        ("physician", &physician, 200, 200, 201, 201, 403),
        ("nurse", &nurse, 200, 200, 201, 403, 403),
        ("receptionist", &receptionist, 200, 403, 403, 403, 403),
        ("epidemiologist", &epidemiologist, 403, 403, 403, 403, 403),
        ("auditor", &auditor, 403, 403, 403, 403, 200),
        ("admin", &admin, 403, 403, 403, 403, 403),
    ];
    for (role, token, patient, obs, vitals, cond, audit) in table {
        assert_eq!(
            get_as(node, token, &patient_path).status,
            patient,
            "{role} read Patient"
        );
        assert_eq!(
            get_as(node, token, &obs_path).status,
            obs,
            "{role} read Observation"
        );
        let created = send_as(
            node,
            token,
            "POST",
            "fhir/Observation",
            &observation(&w.p1, &[]),
        );
        assert_eq!(
            created.status, vitals,
            "{role} create vital signs: {}",
            created.text
        );
        let created = send_as(node, token, "POST", "fhir/Condition", &condition);
        assert_eq!(
            created.status, cond,
            "{role} create Condition: {}",
            created.text
        );
        let events = get_as(node, token, "fhir/AuditEvent?_count=5");
        assert_eq!(events.status, audit, "{role} AuditEvent search");
    }
    // Chains and _has through clinical data would reveal hidden records' content: refused.
    let has = get_as(
        node,
        &physician,
        "fhir/Patient?_has:Observation:subject:code=8867-4",
    );
    assert_eq!(has.status, 403, "{}", has.text);
    let chain = get_as(node, &physician, "fhir/DiagnosticReport?result.code=8867-4");
    assert_eq!(chain.status, 403, "{}", chain.text);
    let demographic = get_as(
        node,
        &physician,
        "fhir/Observation?subject:Patient.name=Ruiz",
    );
    assert_eq!(demographic.status, 200, "{}", demographic.text);
    // Nobody deletes clinical data through the API, and nobody writes the audit trail.
    assert_eq!(
        send_as(node, &physician, "DELETE", &obs_path, &json!({})).status,
        403
    );
    let forged = json!({"resourceType": "AuditEvent", "type": {"code": "rest"}, "recorded": "2026-01-01T00:00:00Z",
        "agent": [{"requestor": true}], "source": {"observer": {"display": "x"}}});
    assert_eq!(
        send_as(node, &physician, "POST", "fhir/AuditEvent", &forged).status,
        403
    );
    assert_eq!(
        send_as(node, &auditor, "POST", "fhir/AuditEvent", &forged).status,
        403
    );
    // A receptionist's search of clinical data is refused as a whole, not answered empty.
    assert_eq!(get_as(node, &receptionist, "fhir/Observation").status, 403);
}

#[test]
fn a_patient_never_reaches_another_patients_record() {
    let w = world();
    let node = &w.node;
    let me = account(&w.data, "ana", "patient", &["--patient", &w.p1]);
    // Own record: yes.
    assert_eq!(
        get_as(node, &me, &format!("fhir/Patient/{}", w.p1)).status,
        200
    );
    assert_eq!(
        get_as(node, &me, &format!("fhir/Observation/{}", w.obs1)).status,
        200
    );
    // The other patient's: absent by read, vread and history (404, as if it did not exist).
    for path in [
        format!("fhir/Patient/{}", w.p2),
        format!("fhir/Observation/{}", w.obs2),
        format!("fhir/Observation/{}/_history/1", w.obs2),
        format!("fhir/Observation/{}/_history", w.obs2),
        format!("fhir/Patient/{}/$everything", w.p2),
    ] {
        let answer = get_as(node, &me, &path);
        assert_eq!(answer.status, 404, "{path}: {}", answer.text);
        assert!(!answer.text.contains("Beto"), "{path} leaks content");
    }
    // Searches, chains, includes and paging show only the own record, with no telling total.
    for path in [
        "fhir/Observation".to_string(),
        format!("fhir/Observation?subject=Patient/{}", w.p2),
        "fhir/Observation?subject:Patient.name=Ruiz".to_string(),
        "fhir/Observation?_include=Observation:subject".to_string(),
        "fhir/Patient?_revinclude=Observation:subject".to_string(),
        "fhir/Observation?_count=1".to_string(),
        "fhir/Observation?_total=accurate".to_string(),
    ] {
        let answer = get_as(node, &me, &path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        let ids = ids_of(&answer.body);
        assert!(
            !ids.contains(&w.p2) && !ids.contains(&w.obs2),
            "{path} leaks: {ids:?}"
        );
        assert!(
            !answer.body["entry"].to_string().contains("Ruiz"),
            "{path} leaks a name"
        );
        if let Some(total) = answer.body["total"].as_u64() {
            assert!(total <= 2, "{path} total {total} counts other patients");
        }
    }
    let own = get_as(node, &me, "fhir/Observation");
    assert_eq!(ids_of(&own.body), vec![w.obs1.clone()]);
    // Following next links never reaches the other patient either.
    let mut url = url_of(node, "fhir/Observation?_count=1");
    let mut seen = Vec::new();
    for _ in 0..5 {
        let page = reply(
            anonymous_client()
                .get(&url)
                .bearer_auth(&me)
                .send()
                .unwrap(),
        );
        seen.extend(ids_of(&page.body));
        let next = page.body["link"]
            .as_array()
            .and_then(|links| links.iter().find(|l| l["relation"] == "next"))
            .and_then(|l| l["url"].as_str())
            .map(str::to_string);
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    assert!(!seen.contains(&w.obs2));
    // System history lists no version of the other patient's resources.
    let history = get_as(node, &me, "fhir/_history");
    assert_eq!(history.status, 200);
    assert!(!history.text.contains(&w.obs2) && !history.text.contains("Ruiz"));
    // A patient cannot write into another patient's record.
    let write = send_as(
        node,
        &me,
        "POST",
        "fhir/Observation",
        &observation(&w.p2, &[]),
    );
    assert!(matches!(write.status, 403 | 404), "{}", write.text);
    // "Who viewed my record": the patient sees their own access log only.
    let log = get_as(node, &me, "fhir/AuditEvent?_count=100");
    assert_eq!(log.status, 200, "{}", log.text);
    assert!(!log.text.contains(&format!("Patient/{}", w.p2)));
    let other_log = get_as(node, &me, &format!("fhir/AuditEvent?patient={}", w.p2));
    assert_eq!(ids_of(&other_log.body).len(), 0);
    // A search that touched this patient shows in their log without its text, which could
    // name someone else.
    let nosy = account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    let both = format!("fhir/Patient?_id={},{}", w.p1, w.p2);
    assert_eq!(ids_of(&get_as(node, &nosy, &both).body).len(), 2);
    let mut seen_search = false;
    for _ in 0..50 {
        let log = get_as(node, &me, "fhir/AuditEvent?_count=200");
        if log.text.contains("medica") {
            assert!(
                !log.text.contains(&w.p2),
                "the search text is not shown: {}",
                log.text
            );
            seen_search = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        seen_search,
        "the physician's search is in the patient's log"
    );
}

#[test]
fn care_relationship_break_glass_and_the_patients_access_log() {
    let w = world();
    let node = &w.node;
    // A physician at clinic B has no relationship with patients registered at A.
    let stranger = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    // Demographics stay open (to find and register people); clinical data does not.
    assert_eq!(
        get_as(node, &stranger, &format!("fhir/Patient/{}", w.p1)).status,
        200
    );
    let refused = get_as(node, &stranger, &format!("fhir/Observation/{}", w.obs1));
    assert_eq!(refused.status, 403);
    assert!(
        refused.diagnostics().contains("emergencia"),
        "{}",
        refused.text
    );
    let search = get_as(
        node,
        &stranger,
        &format!("fhir/Observation?subject=Patient/{}", w.p1),
    );
    assert_eq!(ids_of(&search.body).len(), 0, "{}", search.text);
    assert_eq!(
        get_as(
            node,
            &stranger,
            &format!("fhir/Patient/{}/$everything", w.p1)
        )
        .body["entry"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "$everything shows only the demographics"
    );

    // Break-glass needs a real reason.
    let path = format!("fhir/Patient/{}/$acceso-emergencia", w.p1);
    let no_reason =
        json!({"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": ""}]});
    assert_eq!(
        send_as(node, &stranger, "POST", &path, &no_reason).status,
        400
    );
    let reason = "Paciente inconsciente en urgencias, se requieren antecedentes";
    let with_reason = json!({"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": reason}]});
    let granted = send_as(node, &stranger, "POST", &path, &with_reason);
    assert_eq!(granted.status, 200, "{}", granted.text);
    // Receptionists cannot break the glass.
    let receptionist = account(&w.data, "recep-b", "receptionist", &["--clues", CLUES_B]);
    assert_eq!(
        send_as(node, &receptionist, "POST", &path, &with_reason).status,
        403
    );
    // Now the record opens (same token: grants are looked up on every request).
    assert_eq!(
        get_as(node, &stranger, &format!("fhir/Observation/{}", w.obs1)).status,
        200
    );
    // ...but only that patient's.
    assert_eq!(
        get_as(node, &stranger, &format!("fhir/Observation/{}", w.obs2)).status,
        403
    );

    // The auditor sees the grant and the access made under it, flagged.
    let auditor = account(&w.data, "auditor", "auditor", &[]);
    let trail = get_as(
        node,
        &auditor,
        &format!("fhir/AuditEvent?patient={}&_count=200", w.p1),
    );
    assert_eq!(trail.status, 200);
    assert!(trail.text.contains(reason), "the reason is in the trail");
    assert!(
        trail.text.contains("BTG"),
        "break-glass accesses are flagged"
    );
    let by_agent = get_as(node, &auditor, "fhir/AuditEvent?agent=dr-b&_count=200");
    assert!(ids_of(&by_agent.body).len() >= 3);
    let today = &ehr::format_instant(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    )[..10];
    let dated = get_as(
        node,
        &auditor,
        &format!("fhir/AuditEvent?date=ge{today}&agent=dr-b"),
    );
    assert_eq!(
        ids_of(&dated.body).len(),
        ids_of(&by_agent.body).len().min(50)
    );
    let none = get_as(node, &auditor, "fhir/AuditEvent?date=lt2000-01-01");
    assert_eq!(ids_of(&none.body).len(), 0);
    // And the patient sees who opened their record, and why.
    let me = account(&w.data, "ana", "patient", &["--patient", &w.p1]);
    let mine = get_as(node, &me, "fhir/AuditEvent?_count=200");
    assert!(
        mine.text.contains("dr-b") && mine.text.contains(reason),
        "{}",
        mine.text
    );
    // Nobody alters the trail through the API.
    let first = ids_of(&mine.body)[0].clone();
    let event = get_as(node, &auditor, &format!("fhir/AuditEvent/{first}"));
    assert_eq!(event.status, 200);
    assert_eq!(
        send_as(
            node,
            &auditor,
            "PUT",
            &format!("fhir/AuditEvent/{first}"),
            &event.body
        )
        .status,
        403
    );
    assert_eq!(
        send_as(
            node,
            &auditor,
            "DELETE",
            &format!("fhir/AuditEvent/{first}"),
            &json!({})
        )
        .status,
        403
    );
}

#[test]
fn consent_restricted_resources_are_absent_everywhere() {
    let w = world();
    let node = &w.node;
    let physician = account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    let psych = post(&w.node, "Observation", &observation(&w.p1, &["PSY"]));
    assert_eq!(psych.status, 201, "{}", psych.text);
    let psych = psych.body["id"].as_str().unwrap().to_string();
    // Before any consent the physician (care relationship at A) sees it.
    assert_eq!(
        get_as(node, &physician, &format!("fhir/Observation/{psych}")).status,
        200
    );
    // The patient denies mental-health content to everyone.
    let me = account(&w.data, "ana", "patient", &["--patient", &w.p1]);
    let consent = json!({
        "resourceType": "Consent",
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/{}", w.p1)},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": {"type": "permit", "provision": [{"type": "deny",
            "securityLabel": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}]}]}
    });
    let created = send_as(node, &me, "POST", "fhir/Consent", &consent);
    assert_eq!(created.status, 201, "{}", created.text);
    // Now it is absent from read, search, include and $everything for the physician...
    assert_eq!(
        get_as(node, &physician, &format!("fhir/Observation/{psych}")).status,
        404
    );
    let search = get_as(
        node,
        &physician,
        &format!("fhir/Observation?subject=Patient/{}", w.p1),
    );
    let ids = ids_of(&search.body);
    assert!(ids.contains(&w.obs1) && !ids.contains(&psych), "{ids:?}");
    let revinclude = get_as(
        node,
        &physician,
        &format!("fhir/Patient?_id={}&_revinclude=Observation:subject", w.p1),
    );
    assert!(!ids_of(&revinclude.body).contains(&psych));
    let everything = get_as(
        node,
        &physician,
        &format!("fhir/Patient/{}/$everything", w.p1),
    );
    assert!(!ids_of(&everything.body).contains(&psych));
    assert!(!everything.text.contains(&psych));
    // ...while the patient still sees their own content.
    assert_eq!(
        get_as(node, &me, &format!("fhir/Observation/{psych}")).status,
        200
    );
}

#[test]
fn token_endpoint_signs_in_throttles_and_issues_client_credentials() {
    let w = world();
    let node = &w.node;
    account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    let sign_in = |user: &str, password: &str| {
        reply(
            anonymous_client()
                .post(url_of(node, "auth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", password),
                ]))
                .send()
                .unwrap(),
        )
    };
    let ok = sign_in("medica", PASSWORD);
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["token_type"], "Bearer");
    let access = ok.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        get_as(node, &access, &format!("fhir/Observation/{}", w.obs1)).status,
        200
    );
    // Unknown user and wrong password answer alike.
    let wrong = sign_in("medica", "otra-clave-incorrecta");
    let unknown = sign_in("nadie", "otra-clave-incorrecta");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.body["error"], unknown.body["error"]);
    // Repeated failures are slowed down, even with the right password.
    for _ in 0..3 {
        sign_in("medica", "otra-clave-incorrecta");
    }
    let slowed = sign_in("medica", PASSWORD);
    assert_eq!(slowed.status, 429, "{}", slowed.text);
    // Client credentials for a system account with a secret.
    let (code, _, err) = run_cli_stdin(
        &[
            "user",
            "add",
            "--data",
            w.data.to_str().unwrap(),
            "--username",
            "laboratorio",
            "--role",
            "system",
            "--password-stdin",
        ],
        "s3creto-de-integracion",
    );
    assert_eq!(code, 0, "{err}");
    let system = reply(
        anonymous_client()
            .post(url_of(node, "auth/token"))
            .basic_auth("laboratorio", Some("s3creto-de-integracion"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "client_credentials"),
                ("scope", "system/Observation.rs"),
            ]))
            .send()
            .unwrap(),
    );
    assert_eq!(system.status, 200, "{}", system.text);
    let lab = system.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        get_as(node, &lab, &format!("fhir/Observation/{}", w.obs1)).status,
        200
    );
    // Narrowed scopes hold: no Patient, no writes.
    assert_eq!(
        get_as(node, &lab, &format!("fhir/Patient/{}", w.p1)).status,
        403
    );
    assert_eq!(
        send_as(
            node,
            &lab,
            "POST",
            "fhir/Observation",
            &observation(&w.p1, &[])
        )
        .status,
        403
    );
    // A person cannot use client credentials.
    let person = reply(
        anonymous_client()
            .post(url_of(node, "auth/token"))
            .basic_auth("medica", Some(PASSWORD))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("grant_type", "client_credentials")]))
            .send()
            .unwrap(),
    );
    assert!(matches!(person.status, 401 | 429));
    // The endpoint itself is throttled per address.
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(sign_in("nadie", "x").status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[test]
fn audit_trail_records_accesses_and_detects_tampering() {
    let w = world();
    let node = &w.node;
    let physician = account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    for _ in 0..3 {
        assert_eq!(
            get_as(node, &physician, &format!("fhir/Observation/{}", w.obs1)).status,
            200
        );
    }
    let auditor = account(&w.data, "auditora", "auditor", &[]);
    // Reads are recorded off the request path; give the sink a moment.
    let mut reads = 0;
    for _ in 0..50 {
        let trail = get_as(node, &auditor, "fhir/AuditEvent?agent=medica&_count=100");
        // Reads arriving together may share one entry whose detail lists each resource read
        // ("lecturas: Observation/a, Observation/b"); a lone read names its resource.
        let target = format!("Observation/{}", w.obs1);
        reads = trail.body["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|x| {
                        let entity = x["resource"]["entity"].to_string();
                        match entity.find("lecturas:") {
                            Some(at) => entity[at..].matches(&target).count(),
                            None => usize::from(entity.contains(&target)),
                        }
                    })
                    .sum()
            })
            .unwrap_or(0);
        if reads >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        reads >= 3,
        "three reads of the Observation are in the trail"
    );
    let data = w.data.to_str().unwrap().to_string();
    let mut node = w.node;
    node.kill();
    let (code, out, _) = run_cli(&["audit", "verify", "--data", &data]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("íntegra"));
    match placement(&w.data, false) {
        None => tamper_with_the_sqlite_file(&w.data, &data),
        Some(url) => tamper_with_the_postgres_lanes(&url, &data),
    }
}

/// Someone with the file edits an entry behind the API (dropping the guard triggers first),
/// then deletes one: `audit verify` names the first bad entry each time.
fn tamper_with_the_sqlite_file(dir: &std::path::Path, data: &str) {
    let conn = rusqlite::Connection::open(dir.join("expediente.db")).unwrap();
    let blocked = conn.execute("UPDATE audit_log SET username = 'nadie' WHERE seq = 5", []);
    assert!(blocked.is_err(), "the trigger refuses updates");
    conn.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET username = 'nadie' WHERE seq = 5;",
    )
    .unwrap();
    drop(conn);
    let (code, out, _) = run_cli(&["audit", "verify", "--data", data]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains('5'), "names the first bad entry: {out}");
    // Deleting an entry in the middle is detected too.
    let conn = rusqlite::Connection::open(dir.join("expediente.db")).unwrap();
    conn.execute_batch(
        "UPDATE audit_log SET username = (SELECT username FROM audit_log WHERE seq = 4) WHERE seq = 5; \
         DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 3;",
    )
    .unwrap();
    drop(conn);
    let (code, out, _) = run_cli(&["audit", "verify", "--data", data]);
    assert_eq!(code, 2, "{out}");
}

/// The same on the hub's PostgreSQL trail, which is laid out in lanes: an entry altered, an
/// entry deleted from the middle of its lane, and an entry slipped in outside every lane are
/// each found, and the message names the entry.
fn tamper_with_the_postgres_lanes(url: &str, data: &str) {
    let refused = Command::new("/usr/lib/postgresql/15/bin/psql")
        .args([
            "-X",
            "-q",
            "-d",
            url,
            "-c",
            "UPDATE audit_log SET username = 'nadie'",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "the trigger refuses updates");
    // A lane with at least three entries, and its second and third.
    let lane = psql(
        url,
        "SELECT lane FROM audit_log WHERE lane IS NOT NULL GROUP BY lane \
         HAVING count(*) >= 3 ORDER BY count(*) DESC LIMIT 1",
    );
    assert!(!lane.is_empty(), "a lane holds three entries");
    let nth = |n: u32| {
        psql(
            url,
            &format!(
                "SELECT seq FROM audit_log WHERE lane = {lane} ORDER BY seq OFFSET {n} LIMIT 1"
            ),
        )
    };
    let (second, third) = (nth(1), nth(2));
    let user = psql(
        url,
        &format!("SELECT username FROM audit_log WHERE seq = {second}"),
    );
    psql(
        url,
        &format!(
            "ALTER TABLE audit_log DISABLE TRIGGER USER; \
             UPDATE audit_log SET username = 'nadie' WHERE seq = {second}"
        ),
    );
    let (code, out, _) = run_cli(&["audit", "verify", "--data", data]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&second),
        "names the altered entry {second}: {out}"
    );
    // Put back, the trail is whole again: each lane was read and checked, not guessed at.
    psql(
        url,
        &format!("UPDATE audit_log SET username = '{user}' WHERE seq = {second}"),
    );
    let (code, out, _) = run_cli(&["audit", "verify", "--data", data]);
    assert_eq!(code, 0, "{out}");
    // An entry slipped in outside every lane (a copy of a real one, far ahead).
    psql(
        url,
        &format!(
            "INSERT INTO audit_log SELECT seq + 100000, at_ms, node, username, user_display, role, \
             clues, facility_name, action, resource_type, resource_id, patient_id, outcome, \
             break_glass, source_ip, details, hash, NULL FROM audit_log WHERE seq = {second}"
        ),
    );
    let forged = second.parse::<u64>().unwrap() + 100_000;
    let (code, out, _) = run_cli(&["audit", "verify", "--data", data]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&forged.to_string()),
        "names the forged entry: {out}"
    );
    psql(url, &format!("DELETE FROM audit_log WHERE seq = {forged}"));
    // An entry deleted from the middle of its lane.
    psql(url, &format!("DELETE FROM audit_log WHERE seq = {second}"));
    let (code, out, _) = run_cli(&["audit", "verify", "--data", data]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&third),
        "names the entry after the gap, {third}: {out}"
    );
}

#[test]
fn injection_attempts_in_every_parameter_type_are_harmless() {
    let w = world();
    let node = &w.node;
    let attacks = [
        "' OR '1'='1",
        "\"; DROP TABLE resource; --",
        "%' UNION SELECT body FROM resource --",
        "1) OR (1=1",
        "Patient/x' OR 1=1 --",
    ];
    let params = [
        "Patient?name=",
        "Patient?family:exact=",
        "Patient?identifier=",
        "Patient?birthdate=",
        "Observation?value-quantity=",
        "Observation?subject=",
        "Patient?_id=",
        "Observation?code=",
        "Patient?_sort=",
        "Observation?subject.name=",
        "Patient?_has:Observation:subject:code=",
    ];
    for param in params {
        for attack in attacks {
            let path = format!("{param}{}", urlencode(attack));
            let answer = get(node, &path);
            assert!(
                answer.status == 200 || answer.status == 400,
                "{path}: {} {}",
                answer.status,
                answer.text
            );
            // A filter matches nothing; an ignored `_sort` leaves the plain list (2 patients).
            if answer.status == 200 {
                let expected = if param.contains("_sort") { 2 } else { 0 };
                assert_eq!(ids_of(&answer.body).len(), expected, "{path}");
            }
        }
    }
    // The data is intact.
    assert_eq!(get(node, &format!("Patient/{}", w.p1)).status, 200);
    assert_eq!(get(node, "Patient?_count=10").status, 200);
    let stored = get(node, "Patient");
    assert_eq!(ids_of(&stored.body).len(), 2);
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[test]
fn ten_thousand_levels_of_nesting_and_huge_bodies_are_4xx() {
    let node = Node::start();
    let mut deep = String::from("{\"resourceType\":\"Patient\",\"extension\":");
    deep.push_str(&"[".repeat(10_000));
    deep.push_str(&"]".repeat(10_000));
    deep.push('}');
    let answer = reply(
        client()
            .post(url_of(&node, "fhir/Patient"))
            .header("content-type", "application/fhir+json")
            .body(deep)
            .send()
            .unwrap(),
    );
    assert_eq!(answer.status, 400, "{}", answer.text);
    let huge = format!(
        "{{\"resourceType\":\"Patient\",\"name\":[{{\"text\":\"{}\"}}]}}",
        "a".repeat(40 * 1024 * 1024)
    );
    let answer = client()
        .post(url_of(&node, "fhir/Patient"))
        .header("content-type", "application/fhir+json")
        .body(huge)
        .send();
    // The node answers 413 (or closes the connection after refusing); it keeps serving.
    if let Ok(answer) = answer {
        assert_eq!(answer.status().as_u16(), 413);
    }
    assert_eq!(get(&node, "metadata").status, 200);
    // Without a token the body is never parsed: 401 first.
    let anonymous = reply(
        anonymous_client()
            .post(url_of(&node, "fhir/Patient"))
            .header("content-type", "application/fhir+json")
            .body("{")
            .send()
            .unwrap(),
    );
    assert_eq!(anonymous.status, 401);
}

#[test]
fn https_with_a_certificate_and_security_headers() {
    let temp = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = temp.path().join("cert.pem");
    let key_path = temp.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    let node = Node::start_with(
        &temp.path().join("data"),
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    );
    assert!(node.base.starts_with("https://"), "{}", node.base);
    let port = node
        .base
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let tls_client = reqwest::blocking::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let answer = tls_client
        .get(format!("https://localhost:{port}/fhir/Patient"))
        .bearer_auth(test_token())
        .send()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let headers = answer.headers();
    assert!(headers.contains_key("strict-transport-security"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    // Plain HTTP to the HTTPS port gets no answer.
    let plain = anonymous_client()
        .get(format!("http://127.0.0.1:{port}/fhir/metadata"))
        .timeout(std::time::Duration::from_secs(5))
        .send();
    assert!(plain.is_err() || plain.unwrap().status().as_u16() >= 400);
}

#[test]
fn epidemiologists_get_deidentified_counts_with_small_cells_suppressed() {
    let w = world();
    let node = &w.node;
    // Six diabetics and two with a rare diagnosis.
    for (code, n) in [("E11.9", 6), ("A30.9", 2)] {
        for _ in 0..n {
            let condition = json!({
                "resourceType": "Condition",
                "subject": {"reference": format!("Patient/{}", w.p1)},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]}
            });
            assert_eq!(post(node, "Condition", &condition).status, 201);
        }
    }
    let epi = account(&w.data, "epi", "epidemiologist", &[]);
    let counts = get_as(node, &epi, "fhir/$estadisticas?medida=diagnosticos");
    assert_eq!(counts.status, 200, "{}", counts.text);
    let cell = |name: &str| {
        counts.body["parameter"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(cell("E11.9")["valueInteger"], 6);
    assert_eq!(cell("A30.9")["valueString"], "<5");
    assert!(!counts.text.contains(&w.p1), "no ids in aggregates");
    let sexes = get_as(node, &epi, "fhir/$estadisticas?medida=sexo");
    assert_eq!(sexes.status, 200);
    assert_eq!(
        get_as(node, &epi, "fhir/$estadisticas?medida=nada").status,
        400
    );
    // Only epidemiologists.
    let physician = account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    assert_eq!(
        get_as(node, &physician, "fhir/$estadisticas?medida=diagnosticos").status,
        403
    );
    // The access is audited, and AuditEvents carry a plain-language narrative.
    let auditor = account(&w.data, "auditora", "auditor", &[]);
    let mut found = false;
    for _ in 0..50 {
        let trail = get_as(node, &auditor, "fhir/AuditEvent?agent=epi");
        if trail.text.contains("estadisticas") {
            assert!(trail.text.contains("xhtml"), "{}", trail.text);
            found = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(found, "the aggregates query is in the audit trail");
}

#[test]
fn a_persons_account_is_rate_limited_and_integrations_are_not() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let node = Node::start_with(&data, &["--rate-limit-per-minute", "20"]);
    let physician = account(&data, "medica", "physician", &["--clues", CLUES_A]);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..25 {
        let answer = get_as(&node, &physician, "fhir/Organization");
        if answer.status == 429 {
            retry_after = answer.header("retry-after");
        }
        statuses.push(answer.status);
    }
    // Near a minute boundary the window may restart once; at least a few are refused.
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 1,
        "{statuses:?}"
    );
    assert!(retry_after.is_some());
    for _ in 0..25 {
        assert_eq!(
            get(&node, "Organization").status,
            200,
            "system tokens are not limited"
        );
    }
}

#[test]
fn a_signed_note_cannot_be_changed_only_amended_by_addendum() {
    let w = world();
    let node = &w.node;
    let physician = account(&w.data, "medica", "physician", &["--clues", CLUES_A]);
    let note = json!({
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3"}]},
        "subject": {"reference": format!("Patient/{}", w.p1)},
        "date": "2026-11-25T10:00:00-06:00",
        "author": [{"display": "Dra. Ana López"}],
        "title": "Nota de evolución",
        "attester": [{"mode": "legal", "time": "2026-11-25T10:05:00-06:00"}]
    });
    let created = send_as(node, &physician, "POST", "fhir/Composition", &note);
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    let mut edited = created.body.clone();
    edited["title"] = json!("Nota cambiada");
    let refused = send_as(
        node,
        &physician,
        "PUT",
        &format!("fhir/Composition/{id}"),
        &edited,
    );
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.diagnostics().contains("addendum"));
    // Not even a system integration can rewrite it through the API.
    assert_eq!(put(node, &format!("Composition/{id}"), &edited).status, 422);
    assert_eq!(delete(node, &format!("Composition/{id}")).status, 422);
    // The addendum is a new note that refers to it.
    let addendum = json!({
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3"}]},
        "subject": {"reference": format!("Patient/{}", w.p1)},
        "date": "2026-11-25T11:00:00-06:00",
        "author": [{"display": "Dra. Ana López"}],
        "title": "Addendum",
        "relatesTo": [{"code": "appends", "targetReference": {"reference": format!("Composition/{id}")}}]
    });
    assert_eq!(
        send_as(node, &physician, "POST", "fhir/Composition", &addendum).status,
        201
    );
    assert_eq!(
        get(node, &format!("Composition/{id}")).body["title"],
        "Nota de evolución"
    );
}

/// Commands that read a node never create one where a typo points: `audit verify` on a path
/// with no node used to create an empty database and report it "intact" with exit 0.
#[test]
fn commands_that_read_a_node_refuse_a_path_without_one() {
    if engine() != Engine::Sqlite {
        // On PostgreSQL the suite points --database at a real database: no path to mistype.
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let typo = temp.path().join("expediente-dta");
    let typo_arg = typo.to_str().unwrap();
    for args in [
        vec!["audit", "verify", "--data", typo_arg],
        vec!["user", "list", "--data", typo_arg],
        vec![
            "token", "issue", "--data", typo_arg, "--user", "x", "--role", "system",
        ],
        vec!["sync", "status", "--data", typo_arg],
    ] {
        let (code, stdout, stderr) = run_cli(&args);
        assert_eq!(code, 2, "{args:?}: {stdout} {stderr}");
        assert!(stderr.contains("no hay un nodo"), "{args:?}: {stderr}");
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
}

/// `expediente --version` names the git revision the binary was built from.
#[test]
fn version_names_the_git_revision() {
    let (code, stdout, _) = run_cli(&["--version"]);
    assert_eq!(code, 0);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(
        stdout.starts_with("expediente ") && stdout.contains(&format!("(git {head})")),
        "{stdout} (HEAD {head})"
    );
}

/// Logs for a log collector: JSON lines on request, no colour codes in a file, and an access
/// line per request that names the route, never the ids, CURPs or names the request carried.
#[test]
fn access_log_lines_name_routes_not_health_data() {
    if engine() != Engine::Sqlite {
        return; // the node's own log format does not depend on the engine
    }
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    prepare_access(&data);
    let log_path = temp.path().join("node.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("RUST_LOG", "info,access=info")
        .env("EXPEDIENTE_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let base = line[line.find("http").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let curp = "GOMA800101MDFRRN09";
    let answer = anonymous_client()
        .get(format!(
            "{base}/Patient?identifier=https://www.gob.mx/curp|{curp}&name=Guadalupe"
        ))
        .bearer_auth(test_token())
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200);
    // The web UI's requests are logged the same way (the page of a patient names its id).
    let origin = base.trim_end_matches("/fhir");
    let page = anonymous_client()
        .get(format!("{origin}/ui/entrar?next=/ui/paciente/{curp}"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file: {text}"
    );
    assert!(
        !text.contains(curp) && !text.contains("Guadalupe"),
        "{text}"
    );
    let access: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "access")
        .collect();
    assert!(
        access
            .iter()
            .any(|l| l["fields"]["route"] == "/fhir/{type}" && l["fields"]["status"] == 200),
        "{text}"
    );
    assert!(
        access
            .iter()
            .any(|l| l["fields"]["route"] == "/ui/entrar" && l["fields"]["method"] == "GET"),
        "{text}"
    );
}
