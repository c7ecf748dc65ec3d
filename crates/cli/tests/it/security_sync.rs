//! Issue 12, class 4 ("the hub believes whatever a clinic pushes") and the audit anchors of
//! class 7: a clinic's credential sits on an ordinary clinic PC, so these tests attack the hub
//! with one, through the real `/sync` HTTP endpoints of a real hub process, and check that
//! each attempt is refused, leaves the hub's record as it was, and is in the hub's audit trail.
//! The trail tests cut a clinic's audit trail behind its back (dropping the guard trigger, as
//! `security.rs` does) and run `expediente audit verify` on the clinic and on the hub.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Node, anonymous_client, client, reply, run_cli};

const CURP_SYSTEM: &str = "urn:oid:2.16.840.1.113883.4.629";
const CLINIC_A: &str = "DFSSA000001";
const CLINIC_B: &str = "DFSSA000002";
/// 9999-12-31T23:59:59Z.
const YEAR_9999_MS: i64 = 253_402_300_799_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A valid CURP for Juan Pérez Gómez born 1990-11-`day`, homoclave `n`.
fn curp(day: u32, n: u32) -> String {
    let first17 = format!("PEGJ9011{day:02}HDFRMN{n}");
    let check = mexico::curp::check_digit(&first17).unwrap();
    format!("{first17}{check}")
}

/// A hub process with two enrolled clinics, each listed in its directory with its CLUES.
struct Hub {
    node: Node,
    data: PathBuf,
    _temp: tempfile::TempDir,
    /// CLUES → (credential, Organization id)
    clinics: Vec<(String, String, String)>,
}

impl Hub {
    fn start() -> Hub {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("hub");
        let mut clinics = Vec::new();
        for clues in [CLINIC_A, CLINIC_B] {
            clinics.push((clues.to_string(), enroll(&data, clues), String::new()));
        }
        let node = Node::start_with(&data, &["--role", "hub"]);
        let mut hub = Hub {
            node,
            data,
            _temp: temp,
            clinics,
        };
        for idx in 0..hub.clinics.len() {
            let organization = json!({
                "resourceType": "Organization",
                "identifier": [{"system": mexico::systems::CLUES, "value": hub.clinics[idx].0}],
                "name": format!("Centro de Salud {idx}")
            });
            let created = crate::support::post(&hub.node, "Organization", &organization);
            assert_eq!(created.status, 201, "{}", created.text);
            hub.clinics[idx].2 = created.body["id"].as_str().unwrap().to_string();
        }
        hub
    }

    fn root(&self) -> String {
        self.node.base.trim_end_matches("/fhir").to_string()
    }

    fn token(&self, clues: &str) -> String {
        self.clinics
            .iter()
            .find(|c| c.0 == clues)
            .unwrap()
            .1
            .clone()
    }

    fn organization(&self, clues: &str) -> String {
        self.clinics
            .iter()
            .find(|c| c.0 == clues)
            .unwrap()
            .2
            .clone()
    }

    /// `POST /sync/push` with `clues`'s credential; the HTTP status and the decoded answer.
    fn push(&self, clues: &str, versions: Vec<Value>) -> (u16, Value) {
        self.push_with(&self.token(clues), versions)
    }

    fn push_with(&self, token: &str, versions: Vec<Value>) -> (u16, Value) {
        sync_post(
            &self.root(),
            token,
            "push",
            &json!({ "versions": versions }),
        )
    }

    /// The hub's current version of a resource (status and body), through its FHIR API.
    fn read(&self, path: &str) -> crate::support::Reply {
        crate::support::get(&self.node, path)
    }

    /// The hub's audit trail as an auditor searches it (`AuditEvent`), as text.
    fn audit(&self, query: &str) -> String {
        let found = crate::support::get(&self.node, &format!("AuditEvent?{query}&_count=1000"));
        assert_eq!(found.status, 200, "{}", found.text);
        found.text
    }

    /// Waits until the audit search finds `needle` (reads are written by a sink thread).
    fn audit_until(&self, query: &str, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.audit(query);
            if text.contains(needle) || started.elapsed() > Duration::from_secs(10) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn enroll(hub_data: &Path, clues: &str) -> String {
    let (code, out, err) = run_cli(&[
        "node",
        "enroll",
        "--data",
        hub_data.to_str().unwrap(),
        "--clues",
        clues,
    ]);
    assert_eq!(code, 0, "{err}");
    out.lines().last().unwrap().trim().to_string()
}

/// JSON, zstd, POST to `/sync/{path}` with a node credential; the status and decoded answer.
fn sync_post(root: &str, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let bytes = zstd::bulk::compress(body.to_string().as_bytes(), 3).unwrap();
    let response = anonymous_client()
        .post(format!("{root}/sync/{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-expediente-sync")
        .body(bytes)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().unwrap();
    let answer = zstd::stream::decode_all(&bytes[..])
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .or_else(|| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    (status, answer)
}

/// One version as a clinic ships it: type, id, stamp, origin, parent stamp, lastUpdated, body.
fn version(
    resource_type: &str,
    id: &str,
    hlc: i64,
    origin: &str,
    parent: Option<i64>,
    last_updated_ms: i64,
    body: Option<Value>,
) -> Value {
    let mut v = json!({"t": resource_type, "i": id, "h": hlc, "o": origin, "u": last_updated_ms});
    if let Some(parent) = parent {
        v["ph"] = json!(parent);
        v["po"] = json!(origin);
    }
    if let Some(mut body) = body {
        body["id"] = json!(id);
        v["b"] = body;
    }
    v
}

/// A stamp now, by the clock rule (milliseconds × 2^16), plus a logical step.
fn stamp_now(step: i64) -> (i64, i64) {
    let at = now_ms();
    ((at << 16) + step, at)
}

fn patient_at(organization: &str, curp: &str, given: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"use": "official", "system": CURP_SYSTEM, "value": curp}],
        "name": [{"use": "official", "family": "Pérez", "given": [given]}],
        "gender": "male",
        "birthDate": format!("1990-11-{}", &curp[8..10]),
        "managingOrganization": {"reference": format!("Organization/{organization}")}
    })
}

fn refused(answer: &Value) -> Vec<Value> {
    answer["refused"].as_array().cloned().unwrap_or_default()
}

/// A clinic registers a patient by push; the patient's id and the version's stamp.
fn register(hub: &Hub, clues: &str, id: &str, curp: &str, given: &str) -> i64 {
    let (hlc, at) = stamp_now(0);
    let body = patient_at(&hub.organization(clues), curp, given);
    let (status, answer) = hub.push(
        clues,
        vec![version("Patient", id, hlc, clues, None, at, Some(body))],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], 1, "{answer}");
    assert!(refused(&answer).is_empty(), "{answer}");
    hlc
}

/// With clinic A's credential, an attacker overwrites a patient registered at clinic B (name
/// and registration), and writes a note in B's patient's record: both refused, B's patient
/// unchanged on the hub, the refusals in the hub's trail naming A and the patient. Versions of
/// the same batch that A may write still apply.
#[test]
fn a_clinic_cannot_overwrite_another_clinics_patient() {
    let hub = Hub::start();
    let pedro = "pedro-b";
    let pedro_stamp = register(&hub, CLINIC_B, pedro, &curp(5, 1), "Pedro");
    let before = hub.read(&format!("Patient/{pedro}"));
    assert_eq!(before.status, 200, "{}", before.text);

    let (hlc, at) = stamp_now(10);
    let mut takeover = patient_at(&hub.organization(CLINIC_A), &curp(5, 1), "Atacante");
    takeover["telecom"] = json!([{"system": "phone", "value": "5550000000"}]);
    let note = json!({
        "resourceType": "Observation", "status": "final", "code": {"text": "nota falsa"},
        "subject": {"reference": format!("Patient/{pedro}")}, "valueString": "falso"
    });
    let own = patient_at(&hub.organization(CLINIC_A), &curp(23, 0), "Juan");
    let (status, answer) = hub.push(
        CLINIC_A,
        vec![
            version("Patient", "juan-a", hlc, CLINIC_A, None, at, Some(own)),
            version(
                "Patient",
                pedro,
                hlc + 1,
                CLINIC_A,
                Some(pedro_stamp),
                at,
                Some(takeover),
            ),
            version(
                "Observation",
                "nota-falsa",
                hlc + 2,
                CLINIC_A,
                None,
                at,
                Some(note),
            ),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], 1, "A's own patient applies: {answer}");
    let refusals = refused(&answer);
    assert_eq!(refusals.len(), 2, "{answer}");
    // The takeover is refused as a registration move that changes more than the registration
    // (a clinic moves a registration to itself only by a pure cambio de unidad, audited for
    // review); the note for want of a care relationship.
    for refusal in &refusals {
        let (es, en) = (
            refusal["reason_es"].as_str().unwrap(),
            refusal["reason_en"].as_str().unwrap(),
        );
        assert!(
            es.contains("relación de atención") || es.contains("cambio de unidad"),
            "{refusal}"
        );
        assert!(
            en.contains("care relationship") || en.contains("change of facility"),
            "{refusal}"
        );
    }
    // The hub's record is B's, as it was.
    let after = hub.read(&format!("Patient/{pedro}"));
    assert_eq!(after.body, before.body, "B's patient unchanged on the hub");
    assert_eq!(hub.read("Observation/nota-falsa").status, 404);
    assert_eq!(hub.read("Patient/juan-a").status, 200);
    // Audited, naming the clinic and the patient: refused (outcome 4) for Pedro, applied for
    // A's own patient.
    let trail = hub.audit(&format!("patient=Patient/{pedro}"));
    assert!(trail.contains(&format!("nodo:{CLINIC_A}")), "{trail}");
    assert!(trail.contains("\"outcome\":\"4\""), "{trail}");
    let applied = hub.audit("patient=Patient/juan-a");
    assert!(
        applied.contains(&format!("sincronización desde {CLINIC_A}")),
        "{applied}"
    );
    // B, which has the relationship, may change its own patient.
    let (hlc, at) = stamp_now(20);
    let mut edit = patient_at(&hub.organization(CLINIC_B), &curp(5, 1), "Pedro");
    edit["telecom"] = json!([{"system": "phone", "value": "5551234567"}]);
    let (_, answer) = hub.push(
        CLINIC_B,
        vec![version(
            "Patient",
            pedro,
            hlc,
            CLINIC_B,
            Some(pedro_stamp),
            at,
            Some(edit),
        )],
    );
    assert_eq!(answer["applied"], 1, "{answer}");
    assert_eq!(
        hub.read(&format!("Patient/{pedro}")).body["telecom"][0]["value"],
        "5551234567"
    );
}

/// Facilities ground every clinic's care relationships: with A's credential, an attacker
/// re-labels B's Organization with A's CLUES (B's patients would count as registered at A),
/// and registers a new Organization under B's CLUES. Both refused, B's entry unchanged; A may
/// still keep its own entry up to date.
#[test]
fn a_clinic_cannot_redefine_another_facility() {
    let hub = Hub::start();
    // The directory entries as a clinic receives them, with their stamps.
    let pull = json!({"cursor": 0, "entries_max": 100, "bytes_max": 1_000_000});
    let (status, feed) = sync_post(&hub.root(), &hub.token(CLINIC_A), "pull", &pull);
    assert_eq!(status, 200, "{feed}");
    let stamp_of = |id: &str| -> i64 {
        feed["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["i"] == id)
            .unwrap_or_else(|| panic!("{id} in the feed: {feed}"))["h"]
            .as_i64()
            .unwrap()
    };
    let org_a = hub.organization(CLINIC_A);
    let org_b = hub.organization(CLINIC_B);
    let before = hub.read(&format!("Organization/{org_b}"));
    let (hlc, at) = stamp_now(10);
    let relabelled = json!({"resourceType": "Organization",
        "identifier": [{"system": mexico::systems::CLUES, "value": CLINIC_A}],
        "name": "Centro de Salud 1"});
    let impostor = json!({"resourceType": "Organization",
        "identifier": [{"system": mexico::systems::CLUES, "value": CLINIC_B}],
        "name": "Otra unidad de B"});
    let mut own = hub.read(&format!("Organization/{org_a}")).body;
    own["telecom"] = json!([{"system": "phone", "value": "5550001111"}]);
    let (status, answer) = hub.push(
        CLINIC_A,
        vec![
            version(
                "Organization",
                &org_b,
                hlc,
                CLINIC_A,
                Some(stamp_of(&org_b)),
                at,
                Some(relabelled),
            ),
            version(
                "Organization",
                "impostora",
                hlc + 1,
                CLINIC_A,
                None,
                at,
                Some(impostor),
            ),
            version(
                "Organization",
                &org_a,
                hlc + 2,
                CLINIC_A,
                Some(stamp_of(&org_a)),
                at,
                Some(own),
            ),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    let refusals = refused(&answer);
    let ids: Vec<&str> = refusals.iter().map(|r| r["i"].as_str().unwrap()).collect();
    assert_eq!(ids, [org_b.as_str(), "impostora"], "{answer}");
    assert!(
        refusals[0]["reason_es"]
            .as_str()
            .unwrap()
            .contains(CLINIC_B),
        "{answer}"
    );
    assert_eq!(answer["applied"], 1, "A's own entry: {answer}");
    assert_eq!(hub.read(&format!("Organization/{org_b}")).body, before.body);
    assert_eq!(hub.read("Organization/impostora").status, 404);
    assert_eq!(
        hub.read(&format!("Organization/{org_a}")).body["telecom"][0]["value"],
        "5550001111"
    );
    let trail = hub.audit(&format!("agent=nodo:{CLINIC_A}"));
    assert!(trail.contains(&format!("Organization/{org_b}")), "{trail}");
    assert!(trail.contains("\"outcome\":\"4\""), "{trail}");
}

/// A clinic deletes a Patient by push (the API forbids deleting patient data): refused, the
/// patient stays on the hub, the refusal is audited. Deleting its own directory entry (which
/// its administrator may do through the API) applies.
#[test]
fn a_clinic_cannot_delete_a_patient_by_push() {
    let hub = Hub::start();
    let juan_stamp = register(&hub, CLINIC_A, "juan-a", &curp(23, 0), "Juan");
    let (room_stamp, at) = stamp_now(5);
    let room = json!({"resourceType": "Location", "name": "Consultorio 1",
        "managingOrganization": {"reference": format!("Organization/{}", hub.organization(CLINIC_A))}});
    let (_, answer) = hub.push(
        CLINIC_A,
        vec![version(
            "Location",
            "consultorio-1",
            room_stamp,
            CLINIC_A,
            None,
            at,
            Some(room),
        )],
    );
    assert_eq!(answer["applied"], 1, "{answer}");

    let (hlc, at) = stamp_now(10);
    let (status, answer) = hub.push(
        CLINIC_A,
        vec![
            version(
                "Patient",
                "juan-a",
                hlc,
                CLINIC_A,
                Some(juan_stamp),
                at,
                None,
            ),
            version(
                "Location",
                "consultorio-1",
                hlc + 1,
                CLINIC_A,
                Some(room_stamp),
                at,
                None,
            ),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    let refusals = refused(&answer);
    assert_eq!(refusals.len(), 1, "{answer}");
    assert_eq!(refusals[0]["i"], "juan-a");
    assert!(
        refusals[0]["reason_es"]
            .as_str()
            .unwrap()
            .contains("no se eliminan"),
        "{answer}"
    );
    assert_eq!(
        answer["applied"], 1,
        "the Location's delete applies: {answer}"
    );
    assert_eq!(hub.read("Patient/juan-a").status, 200, "Juan stays");
    assert_eq!(hub.read("Location/consultorio-1").status, 410);
    let trail = hub.audit("patient=Patient/juan-a");
    assert!(trail.contains("\"outcome\":\"4\""), "{trail}");
    assert!(trail.contains("\"action\":\"D\""), "{trail}");
}

/// Bodies that are not valid R4 or break the Mexican profile are refused one by one, with the
/// validator's reasons in Spanish and English; the valid version of the batch applies, and an
/// invalid update leaves the hub's version as it was.
#[test]
fn invalid_bodies_are_refused_one_by_one() {
    let hub = Hub::start();
    let juan_stamp = register(&hub, CLINIC_A, "juan-a", &curp(23, 0), "Juan");
    let before = hub.read("Patient/juan-a");
    let org = hub.organization(CLINIC_A);
    let (hlc, at) = stamp_now(10);
    let mut not_r4 = patient_at(&org, &curp(7, 2), "Ana");
    not_r4["active"] = json!("sí");
    not_r4["colorFavorito"] = json!("azul");
    // The CURP says born on the 8th; the record says the 9th: one of the two is wrong.
    let mut bad_curp = patient_at(&org, &curp(8, 3), "Luis");
    bad_curp["birthDate"] = json!("1990-11-09");
    let wrong_type =
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}});
    let mut bad_update = patient_at(&org, &curp(23, 0), "Juan");
    bad_update["birthDate"] = json!("23 de noviembre");
    let valid = patient_at(&org, &curp(9, 4), "Rosa");
    let (status, answer) = hub.push(
        CLINIC_A,
        vec![
            version("Patient", "ana-a", hlc, CLINIC_A, None, at, Some(not_r4)),
            version(
                "Patient",
                "luis-a",
                hlc + 1,
                CLINIC_A,
                None,
                at,
                Some(bad_curp),
            ),
            version(
                "Patient",
                "otro-a",
                hlc + 2,
                CLINIC_A,
                None,
                at,
                Some(wrong_type),
            ),
            version(
                "Patient",
                "juan-a",
                hlc + 3,
                CLINIC_A,
                Some(juan_stamp),
                at,
                Some(bad_update),
            ),
            version(
                "Patient",
                "rosa-a",
                hlc + 4,
                CLINIC_A,
                None,
                at,
                Some(valid),
            ),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], 1, "{answer}");
    let refusals = refused(&answer);
    let ids: Vec<&str> = refusals.iter().map(|r| r["i"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ana-a", "luis-a", "otro-a", "juan-a"], "{answer}");
    for refusal in &refusals {
        assert!(!refusal["reason_es"].as_str().unwrap().is_empty());
        assert!(!refusal["reason_en"].as_str().unwrap().is_empty());
    }
    assert!(
        refusals[1]["reason_es"].as_str().unwrap().contains("CURP"),
        "the profile's reason: {}",
        refusals[1]
    );
    for id in ["ana-a", "luis-a", "otro-a"] {
        assert_eq!(hub.read(&format!("Patient/{id}")).status, 404, "{id}");
    }
    assert_eq!(hub.read("Patient/juan-a").body, before.body);
    assert_eq!(hub.read("Patient/rosa-a").status, 200);
    let trail = hub.audit(&format!("agent=nodo:{CLINIC_A}"));
    for id in ["ana-a", "luis-a", "otro-a"] {
        assert!(trail.contains(&format!("Patient/{id}")), "{id}: {trail}");
    }
    assert!(trail.contains("\"outcome\":\"4\""), "{trail}");
}

/// A stamp of `i64::MAX` with `lastUpdated` in the year 9999 (which would win every future
/// conflict, freezing the record, and overflow the hub's clock arithmetic), and a stamp a day
/// ahead: refused, the record unchanged; the clinic's next honest edit still applies, and the
/// hub's own writes still work.
#[test]
fn stamps_from_the_far_future_are_refused_and_freeze_nothing() {
    let hub = Hub::start();
    let juan_stamp = register(&hub, CLINIC_A, "juan-a", &curp(23, 0), "Juan");
    let before = hub.read("Patient/juan-a");
    let org = hub.organization(CLINIC_A);
    let mut frozen = patient_at(&org, &curp(23, 0), "Juan");
    frozen["telecom"] = json!([{"system": "phone", "value": "9999999999"}]);
    let (_, at) = stamp_now(0);
    let day_ahead_ms = at + 24 * 3_600_000;
    let (status, answer) = hub.push(
        CLINIC_A,
        vec![
            version(
                "Patient",
                "juan-a",
                i64::MAX,
                CLINIC_A,
                Some(juan_stamp),
                YEAR_9999_MS,
                Some(frozen.clone()),
            ),
            version(
                "Patient",
                "juan-a",
                day_ahead_ms << 16,
                CLINIC_A,
                Some(juan_stamp),
                day_ahead_ms,
                Some(frozen),
            ),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    let refusals = refused(&answer);
    assert_eq!(refusals.len(), 2, "{answer}");
    for refusal in &refusals {
        assert!(
            refusal["reason_es"]
                .as_str()
                .unwrap()
                .contains("corrija el reloj"),
            "{refusal}"
        );
    }
    let after = hub.read("Patient/juan-a");
    assert_eq!(after.body, before.body, "the record is unchanged");
    assert!(!after.text.contains("9999-"), "{}", after.text);
    // Not frozen: the clinic's next honest edit wins as usual.
    let (hlc, at) = stamp_now(50);
    let mut edit = patient_at(&org, &curp(23, 0), "Juan");
    edit["telecom"] = json!([{"system": "phone", "value": "5557654321"}]);
    let (_, answer) = hub.push(
        CLINIC_A,
        vec![version(
            "Patient",
            "juan-a",
            hlc,
            CLINIC_A,
            Some(juan_stamp),
            at,
            Some(edit),
        )],
    );
    assert_eq!(answer["applied"], 1, "{answer}");
    assert_eq!(
        hub.read("Patient/juan-a").body["telecom"][0]["value"],
        "5557654321"
    );
    // The hub's own clock arithmetic is intact: it still writes (and stamps) its own versions.
    let created = crate::support::post(
        &hub.node,
        "Organization",
        &json!({"resourceType": "Organization", "name": "Después"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let trail = hub.audit("patient=Patient/juan-a");
    assert!(trail.contains("\"outcome\":\"4\""), "{trail}");
    assert!(trail.contains(&format!("nodo:{CLINIC_A}")), "{trail}");
}

/// `expediente node rotate` gives a clinic a new credential and the old one stops working at
/// once; `node revoke` stops the current one; both are refused for a clinic never enrolled.
#[test]
fn rotated_and_revoked_credentials_stop_working_at_once() {
    let hub = Hub::start();
    let data = hub.data.to_str().unwrap().to_string();
    let old = hub.token(CLINIC_A);
    let pull = json!({"cursor": 0, "entries_max": 10, "bytes_max": 100_000});
    assert_eq!(sync_post(&hub.root(), &old, "pull", &pull).0, 200);

    let (code, out, err) = run_cli(&["node", "rotate", "--data", &data, "--clues", CLINIC_A]);
    assert_eq!(code, 0, "{err}");
    let new = out.lines().last().unwrap().trim().to_string();
    assert!(new.starts_with("exps_") && new != old, "{out}");
    assert_eq!(sync_post(&hub.root(), &old, "pull", &pull).0, 401);
    assert_eq!(sync_post(&hub.root(), &new, "pull", &pull).0, 200);
    let (hlc, at) = stamp_now(0);
    let body = patient_at(&hub.organization(CLINIC_A), &curp(23, 0), "Juan");
    let push = vec![version(
        "Patient",
        "juan-a",
        hlc,
        CLINIC_A,
        None,
        at,
        Some(body),
    )];
    assert_eq!(hub.push_with(&old, push.clone()).0, 401);

    let (code, _, err) = run_cli(&["node", "revoke", "--data", &data, "--clues", CLINIC_A]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sync_post(&hub.root(), &new, "pull", &pull).0, 401);
    assert_eq!(hub.push_with(&new, push).0, 401);
    assert_eq!(
        hub.read("Patient/juan-a").status,
        404,
        "nothing got in with a dead credential"
    );
    // Clinic B is untouched.
    assert_eq!(
        sync_post(&hub.root(), &hub.token(CLINIC_B), "pull", &pull).0,
        200
    );
    for command in ["revoke", "rotate"] {
        let (code, _, err) = run_cli(&["node", command, "--data", &data, "--clues", "DFSSA009999"]);
        assert_ne!(code, 0);
        assert!(err.contains("no está dada de alta"), "{err}");
    }
    // The operator's changes are in the hub's trail.
    let trail = hub.audit("action=token-revoke");
    assert!(trail.contains(CLINIC_A), "{trail}");
}

/// A clinic's on-demand fetch of another clinic's patient is in the hub's trail under that
/// clinic's name (it used to be recorded as the hub's own sync account).
#[test]
fn a_fetch_is_audited_naming_the_clinic() {
    let hub = Hub::start();
    let curp_pedro = curp(5, 1);
    register(&hub, CLINIC_B, "pedro-b", &curp_pedro, "Pedro");
    let (status, answer) = sync_post(
        &hub.root(),
        &hub.token(CLINIC_A),
        "fetch",
        &json!({"curp": curp_pedro}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["patients"], json!(["pedro-b"]), "{answer}");
    let trail = hub.audit_until("patient=Patient/pedro-b", &format!("nodo:{CLINIC_A}"));
    assert!(trail.contains(&format!("nodo:{CLINIC_A}")), "{trail}");
    assert!(trail.contains(CLINIC_A), "{trail}");
}

/// A clinic node (a real process syncing with the hub) writes what the hub refuses: the
/// refusal is recorded on the clinic and shown in its `/sync/status` with the reason, the
/// version is not sent again, and the rest of its changes still reach the hub.
#[test]
fn refused_versions_show_on_the_clinic_and_are_not_retried() {
    let hub = Hub::start();
    let temp = tempfile::tempdir().unwrap();
    let clinic_data = temp.path().join("clinic");
    let clinic = start_clinic(&hub, &clinic_data, CLINIC_A);
    // Registered here, then deleted by a local system account (the node's own API lets a
    // system integration do it; the hub refuses a clinic's delete of patient data).
    let juan = patient_at(&hub.organization(CLINIC_A), &curp(23, 0), "Juan");
    let created = crate::support::post(&clinic, "Patient", &juan);
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    let deleted = crate::support::delete(&clinic, &format!("Patient/{id}"));
    assert!(
        deleted.status == 200 || deleted.status == 204,
        "{}",
        deleted.text
    );
    let root = clinic.base.trim_end_matches("/fhir").to_string();
    let status = wait_status(&root, |s| {
        s["refused_versions"] == 1 && s["pending_outbound"] == 0
    });
    let refusal = &status["refused"][0];
    assert_eq!(refusal["resource"], format!("Patient/{id}"), "{status}");
    assert!(
        refusal["reason_es"]
            .as_str()
            .unwrap()
            .contains("no se eliminan"),
        "{status}"
    );
    assert!(!refusal["reason_en"].as_str().unwrap().is_empty());
    // The registration reached the hub; the delete did not.
    assert_eq!(hub.read(&format!("Patient/{id}")).status, 200);
    // Not retried: more rounds pass, and the hub's trail has the one refusal.
    std::thread::sleep(Duration::from_millis(1_500));
    let status = wait_status(&root, |s| s["refused_versions"] == 1);
    assert_eq!(status["pending_outbound"], 0, "{status}");
    let trail = hub.audit(&format!("patient=Patient/{id}"));
    assert_eq!(
        trail.matches("\"outcome\":\"4\"").count(),
        1,
        "one refusal, never retried: {trail}"
    );
}

/// A clinic's trail cut at the tail (behind the database's back) is found by `audit verify` on
/// the clinic against its own signed anchors, and on the hub against a copy of the trail; once
/// the clinic runs again, its next anchor shows the hub that its trail went backwards.
#[test]
fn a_truncated_trail_is_found_against_signed_anchors() {
    let hub = Hub::start();
    let temp = tempfile::tempdir().unwrap();
    let clinic_data = temp.path().join("clinic");
    let mut clinic = start_clinic(&hub, &clinic_data, CLINIC_A);
    let root = clinic.base.trim_end_matches("/fhir").to_string();
    // Activity: a registration, a few reads (each one an audit entry).
    let juan = patient_at(&hub.organization(CLINIC_A), &curp(23, 0), "Juan");
    let created = crate::support::post(&clinic, "Patient", &juan);
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    for _ in 0..5 {
        assert_eq!(
            crate::support::get(&clinic, &format!("Patient/{id}")).status,
            200
        );
        std::thread::sleep(Duration::from_millis(60));
    }
    let status = wait_status(&root, |s| {
        s["audit_anchor_seq"].as_u64().unwrap_or(0) >= 6 && s["audit_anchors_unshipped"] == 0
    });
    let anchored = status["audit_anchor_seq"].as_u64().unwrap();
    clinic.kill();
    let data = clinic_data.to_str().unwrap().to_string();
    let hub_data = hub.data.to_str().unwrap().to_string();
    let (code, out, _) = run_cli(&["audit", "verify", "--data", &data]);
    assert_eq!(code, 0, "intact before: {out}");
    let copy = temp.path().join("copy-intact");
    copy_dir(&clinic_data, &copy);
    let (code, out, _) = run_cli(&[
        "audit",
        "verify",
        "--data",
        &hub_data,
        "--node",
        CLINIC_A,
        "--trail",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "an intact copy matches the hub's anchors: {out}");

    // Someone with the file cuts the tail off.
    let cut_from = anchored - 2;
    let conn = rusqlite::Connection::open(clinic_data.join("expediente.db")).unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq >= {cut_from};"
    ))
    .unwrap();
    drop(conn);
    let (code, out, _) = run_cli(&["audit", "verify", "--data", &data]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("truncada"), "{out}");
    assert!(out.contains("truncated"), "{out}");
    assert!(
        out.contains(&cut_from.to_string()),
        "names the first missing entry: {out}"
    );
    let copy = temp.path().join("copy-cut");
    copy_dir(&clinic_data, &copy);
    let (code, out, _) = run_cli(&[
        "audit",
        "verify",
        "--data",
        &hub_data,
        "--node",
        CLINIC_A,
        "--trail",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("truncada"), "{out}");

    // The clinic runs again on the cut trail: its next anchor tells the hub.
    let clinic = start_clinic(&hub, &clinic_data, CLINIC_A);
    let root = clinic.base.trim_end_matches("/fhir").to_string();
    wait_status(&root, |s| {
        s["audit_anchor_seq"]
            .as_u64()
            .is_some_and(|seq| seq < anchored)
            && s["audit_anchors_unshipped"] == 0
    });
    let (code, out, _) = run_cli(&["audit", "verify", "--data", &hub_data, "--node", CLINIC_A]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("retrocedió"), "{out}");
    assert!(out.contains("went backwards"), "{out}");
}

/// A clinic node syncing with the hub every 100 ms, signing its audit chain's head as often.
fn start_clinic(hub: &Hub, data: &Path, clues: &str) -> Node {
    let token = hub.token(clues);
    let root = hub.root();
    Node::start_with(
        data,
        &[
            "--clues",
            clues,
            "--hub",
            &root,
            "--hub-token",
            &token,
            "--sync-interval-ms",
            "100",
            "--sync-backoff-max-ms",
            "500",
            "--audit-anchor-interval-ms",
            "100",
        ],
    )
}

/// Waits until the node's `/sync/status` satisfies `done`; returns it.
fn wait_status(root: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let status = reply(client().get(format!("{root}/sync/status")).send().unwrap());
        if status.status == 200 && done(&status.body) {
            return status.body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out; last status: {}",
            status.text
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The care events a clinic made through its own operations reach the hub as their records,
/// and the hub decides and audits them as those events: an `EpisodeOfCare` the clinic manages
/// (inicio de atención) opens the patient's record to the clinic's later pushes; a pure move of
/// the registration (cambio de unidad) is accepted and listed for review.
#[test]
fn care_events_pushed_by_a_clinic_are_decided_and_audited_as_such() {
    let hub = Hub::start();
    let pedro = "pedro-b2";
    let pedro_stamp = register(&hub, CLINIC_B, pedro, &curp(7, 1), "Pedro");
    let org_a = hub.organization(CLINIC_A);
    let (hlc, at) = stamp_now(10);
    let episode = json!({
        "resourceType": "EpisodeOfCare", "status": "active",
        "patient": {"reference": format!("Patient/{pedro}")},
        "managingOrganization": {"reference": format!("Organization/{org_a}")}
    });
    let note = json!({
        "resourceType": "Observation", "status": "final", "code": {"text": "consulta"},
        "subject": {"reference": format!("Patient/{pedro}")}, "valueString": "cefalea"
    });
    let (status, answer) = hub.push(
        CLINIC_A,
        vec![
            version(
                "EpisodeOfCare",
                "inicio-a",
                hlc,
                CLINIC_A,
                None,
                at,
                Some(episode),
            ),
            version(
                "Observation",
                "nota-a",
                hlc + 1,
                CLINIC_A,
                None,
                at,
                Some(note),
            ),
        ],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], 2, "{answer}");
    assert!(
        hub.audit_until("action=care-start", "inicio-a")
            .contains(&format!("nodo:{CLINIC_A}"))
    );
    // A pure registration move to clinic A: accepted, audited as a registration move.
    let current = hub.read(&format!("Patient/{pedro}")).body;
    let mut moved = current.clone();
    moved["managingOrganization"] = json!({"reference": format!("Organization/{org_a}")});
    moved.as_object_mut().unwrap().remove("meta");
    let (hlc, at) = stamp_now(20);
    let (status, answer) = hub.push(
        CLINIC_A,
        vec![version(
            "Patient",
            pedro,
            hlc,
            CLINIC_A,
            Some(pedro_stamp),
            at,
            Some(moved),
        )],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["applied"], 1, "{answer}");
    assert!(
        hub.audit_until("action=registration-move", pedro)
            .contains(pedro)
    );
    // An EpisodeOfCare managed by another facility is no inicio de atención of this clinic.
    let org_b = hub.organization(CLINIC_B);
    let paula = "paula-b";
    register(&hub, CLINIC_B, paula, &curp(8, 2), "Paula");
    let (hlc, at) = stamp_now(30);
    let foreign = json!({
        "resourceType": "EpisodeOfCare", "status": "active",
        "patient": {"reference": format!("Patient/{paula}")},
        "managingOrganization": {"reference": format!("Organization/{org_b}")}
    });
    let (_, answer) = hub.push(
        CLINIC_A,
        vec![version(
            "EpisodeOfCare",
            "ajeno",
            hlc,
            CLINIC_A,
            None,
            at,
            Some(foreign),
        )],
    );
    assert_eq!(answer["applied"], 0, "{answer}");
    assert_eq!(refused(&answer).len(), 1, "{answer}");
}
