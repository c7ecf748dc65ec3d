//! Security regression suite for issue 12, classes 1–3: the side doors an ordinary clinic
//! account found around access control. Every test goes through the door an attacker uses
//! (HTTP) and fails on the code before the fix (checked against the earlier binary; see the
//! issue note):
//! 1. writes that answered with, or changed, what the caller may not see (conditional create,
//!    conditional update with an `id`, a transaction's conditional `PUT`);
//! 2. paging links that carried hidden values, and includes that betrayed hidden matches;
//! 3. care relationships a user could give themselves (moving a registration, creating an
//!    encounter), and the ones logical CLUES references failed to establish.
//!
//! Plus an attacker's-eye sweep of the other doors that carry content, each asserting that a
//! marked hidden resource never shows.

use base64::Engine;
use serde_json::{Value, json};

use crate::security::{
    CLUES_A, CLUES_B, World, account, get_as, ids_of, observation, organization, send_as, world,
};
use crate::support::*;

const CLUES: &str = "https://expediente.salud.gob.mx/fhir/sid/clues";

/// A text that marks the hidden records: no answer to clinic B may contain it.
const SECRET: &str = "SECRETO-VIH-7731";

/// The Organization id of a CLUES (read as the suite's system account).
fn org_id(w: &World, clues: &str) -> String {
    let found = get(&w.node, &format!("Organization?identifier={CLUES}|{clues}"));
    found.body["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A patient registered at clinic B (so B's staff may write about them).
fn patient_at(w: &World, clues: &str, given: &str) -> String {
    let mut p = patient(given, "Lara", "1990-05-05", "male");
    p["managingOrganization"] = json!({"reference": format!("Organization/{}", org_id(w, clues))});
    let created = post(&w.node, "Patient", &p);
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["id"].as_str().unwrap().to_string()
}

/// A hidden diagnosis of patient `p1` (registered at A), marked with [`SECRET`].
fn hidden_condition(w: &World) -> String {
    let created = post(
        &w.node,
        "Condition",
        &json!({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "B20"}], "text": SECRET},
            "subject": {"reference": format!("Patient/{}", w.p1)},
            "note": [{"text": SECRET}]
        }),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    created.body["id"].as_str().unwrap().to_string()
}

fn reason(text: &str) -> Value {
    json!({"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": text}]})
}

/// The current version of a resource, read as the system account.
fn current(w: &World, path: &str) -> Value {
    let found = get(&w.node, path);
    assert_eq!(found.status, 200, "{}", found.text);
    found.body
}

/// Class 1. A conditional create whose condition matches another clinic's hidden record
/// returned that record in full and answered yes/no about it. Now a hidden match is absent:
/// the create proceeds with the caller's own content, whatever the condition says.
#[test]
fn conditional_create_neither_returns_nor_reveals_hidden_records() {
    let w = world();
    let node = &w.node;
    hidden_condition(&w);
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let own = patient_at(&w, CLUES_B, "Ciro");
    let mine = json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": format!("Patient/{own}")},
        "valueQuantity": {"value": 80, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
    });
    let mut answers = Vec::new();
    for condition in [
        format!("subject=Patient/{}", w.p1),
        format!("code=B20&patient=Patient/{}", w.p1),
        "code=NO-EXISTE".to_string(),
    ] {
        let reply = reply(
            anonymous_client()
                .post(format!("{}/Observation", node.base))
                .bearer_auth(&doctor_b)
                .header("content-type", "application/fhir+json")
                .header("if-none-exist", condition.as_str())
                .body(mine.to_string())
                .send()
                .unwrap(),
        );
        assert!(!reply.text.contains(SECRET), "{}", reply.text);
        assert_ne!(reply.body["id"], json!(w.obs1), "{}", reply.text);
        assert_eq!(
            reply.body["subject"]["reference"],
            json!(format!("Patient/{own}")),
            "{condition}: {}",
            reply.text
        );
        answers.push(reply.status);
    }
    // A hidden match and no match at all answer alike: no oracle.
    assert_eq!(answers, vec![201, 201, 201]);
    // The same through a transaction entry's ifNoneExist.
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [{
            "resource": mine,
            "request": {"method": "POST", "url": "Observation", "ifNoneExist": format!("subject=Patient/{}", w.p1)}
        }]
    });
    let tx = send_as(node, &doctor_b, "POST", "fhir", &bundle);
    assert_eq!(tx.status, 200, "{}", tx.text);
    assert!(
        !tx.text.contains(&w.obs1) && !tx.text.contains(SECRET),
        "{}",
        tx.text
    );
    assert!(tx.text.contains("201"), "{}", tx.text);
}

/// Class 1. A conditional update with no (visible) match but an `id` in the body overwrote an
/// existing resource the caller could not read; a transaction's conditional PUT skipped the
/// check on the current content. Both are now decided on the current content.
#[test]
fn conditional_updates_cannot_overwrite_what_the_caller_may_not_see() {
    let w = world();
    let node = &w.node;
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let own = patient_at(&w, CLUES_B, "Dora");
    let before = current(&w, &format!("Observation/{}", w.obs1));
    let mut forged = observation(&own, &[]);
    forged["id"] = json!(w.obs1);
    let overwrite = send_as(
        node,
        &doctor_b,
        "PUT",
        "fhir/Observation?code=NO-EXISTE",
        &forged,
    );
    assert!(
        matches!(overwrite.status, 403 | 404),
        "{}: {}",
        overwrite.status,
        overwrite.text
    );
    // A plain PUT by id is refused the same way.
    let plain = send_as(
        node,
        &doctor_b,
        "PUT",
        &format!("fhir/Observation/{}", w.obs1),
        &forged,
    );
    assert!(matches!(plain.status, 403 | 404), "{}", plain.text);
    // A transaction's conditional PUT on the hidden resource.
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [{
            "resource": forged,
            "request": {"method": "PUT", "url": format!("Observation?_id={}", w.obs1)}
        }]
    });
    let tx = send_as(node, &doctor_b, "POST", "fhir", &bundle);
    assert!(matches!(tx.status, 403 | 404), "{}: {}", tx.status, tx.text);
    // A conditional delete does not reach it either (the hidden match is absent).
    let gone = send_as(
        node,
        &doctor_b,
        "DELETE",
        &format!("fhir/Observation?_id={}", w.obs1),
        &Value::Null,
    );
    assert!(gone.status < 500, "{}", gone.text);
    let after = current(&w, &format!("Observation/{}", w.obs1));
    assert_eq!(after["meta"]["versionId"], before["meta"]["versionId"]);
    assert_eq!(
        after["subject"]["reference"],
        json!(format!("Patient/{}", w.p1))
    );
}

/// Class 2. Paging links were built from the last row of a page before filtering, with the
/// sort values in clear: following them listed a hidden patient's diagnoses. Now cursors are
/// built from rows shown and sealed, bound to the user and the query.
#[test]
fn paging_links_carry_nothing_hidden_and_are_sealed() {
    let w = world();
    let node = &w.node;
    hidden_condition(&w);
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let own = patient_at(&w, CLUES_B, "Eva");
    for code in ["A09", "J00", "Z00.0"] {
        let created = send_as(
            node,
            &doctor_b,
            "POST",
            "fhir/Condition",
            &json!({
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]},
                "subject": {"reference": format!("Patient/{own}")}
            }),
        );
        assert_eq!(created.status, 201, "{}", created.text);
    }
    // Walk every page of a sorted search, one row a page, both ways.
    let mut path = "fhir/Condition?_sort=code&_count=1".to_string();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let page = get_as(node, &doctor_b, &path);
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(
            !page.text.contains("B20") && !page.text.contains(SECRET),
            "{}",
            page.text
        );
        seen.extend(ids_of(&page.body));
        for relation in ["next", "previous"] {
            if let Some(link) = link(&page.body, relation) {
                let cursor = link.split("_cursor=").nth(1).unwrap_or("");
                // Opaque: no JSON, no sort value, no internal key in clear (base64url of
                // sealed bytes: `[` never occurs in it, and the value is not in the bytes).
                assert!(!cursor.contains("%5B") && !cursor.contains('['), "{cursor}");
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(cursor.as_bytes())
                    .unwrap_or_default();
                assert!(!raw.windows(3).any(|w| w == b"B20"), "{cursor}");
            }
        }
        match link(&page.body, "next") {
            Some(next) => path = format!("fhir/{next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "the three visible diagnoses, once each");
    // A cursor works for its user and query only, and not when altered.
    let first = get_as(node, &doctor_b, "fhir/Condition?_sort=code&_count=1");
    let next = link(&first.body, "next").unwrap();
    let system_view = get(node, &next);
    assert_eq!(system_view.status, 400, "{}", system_view.text);
    let other_query = next.replace("_sort=code", "_sort=-code");
    assert_eq!(
        get_as(node, &doctor_b, &format!("fhir/{other_query}")).status,
        400
    );
    let tampered = format!("fhir/{}", next.replacen("_cursor=", "_cursor=A", 1));
    assert_eq!(get_as(node, &doctor_b, &tampered).status, 400);
    // A search whose only matches are hidden gives no page and no link to follow.
    let hidden_only = get_as(node, &doctor_b, "fhir/Condition?code=B20&_count=1");
    assert_eq!(ids_of(&hidden_only.body).len(), 0);
    assert!(
        link(&hidden_only.body, "next").is_none(),
        "{}",
        hidden_only.text
    );
}

/// Class 2, includes. An `_include` computed before filtering named what a hidden match points
/// at (and `_revinclude` what points at it).
#[test]
fn includes_do_not_betray_hidden_matches() {
    let w = world();
    let node = &w.node;
    let practitioner = post(
        node,
        "Practitioner",
        &json!({"resourceType": "Practitioner", "name": [{"family": "Infectología", "given": ["Dra"]}]}),
    );
    assert_eq!(practitioner.status, 201, "{}", practitioner.text);
    let practitioner = practitioner.body["id"].as_str().unwrap().to_string();
    let mut hidden = observation(&w.p1, &[]);
    hidden["performer"] = json!([{"reference": format!("Practitioner/{practitioner}")}]);
    hidden["code"] = json!({"coding": [{"system": "http://loinc.org", "code": "7917-8"}]});
    assert_eq!(post(node, "Observation", &hidden).status, 201);
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let page = get_as(
        node,
        &doctor_b,
        "fhir/Observation?code=7917-8&_include=Observation:performer&_include:iterate=PractitionerRole:practitioner",
    );
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains(&practitioner), "{}", page.text);
    let reverse = get_as(
        node,
        &doctor_b,
        &format!("fhir/Patient?_id={}&_revinclude=Observation:subject", w.p1),
    );
    assert_eq!(reverse.status, 200, "{}", reverse.text);
    assert_eq!(
        ids_of(&reverse.body),
        vec![w.p1.clone()],
        "{}",
        reverse.text
    );
}

/// Class 3. A receptionist moved a patient's registration to her clinic and her clinic's
/// physician then read the whole record. Now a registration moves only by the explicit, audited
/// cambio de unidad, which is listed for review and shown in the patient's access log.
#[test]
fn a_registration_moves_only_by_an_audited_cambio_de_unidad() {
    let w = world();
    let node = &w.node;
    let secret = hidden_condition(&w);
    let receptionist = account(&w.data, "recep-b", "receptionist", &["--clues", CLUES_B]);
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let org_b = org_id(&w, CLUES_B);
    let mut moved = current(&w, &format!("Patient/{}", w.p1));
    moved["managingOrganization"] = json!({"reference": format!("Organization/{org_b}")});
    let refused = send_as(
        node,
        &receptionist,
        "PUT",
        &format!("fhir/Patient/{}", w.p1),
        &moved,
    );
    assert!(matches!(refused.status, 403 | 422), "{}", refused.text);
    // Not by a transaction either.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": moved, "request": {"method": "PUT", "url": format!("Patient/{}", w.p1)}
    }]});
    let tx = send_as(node, &receptionist, "POST", "fhir", &bundle);
    assert!(matches!(tx.status, 403 | 422), "{}", tx.text);
    let still_hidden = get_as(node, &doctor_b, &format!("fhir/Condition/{secret}"));
    assert_eq!(still_hidden.status, 403, "{}", still_hidden.text);

    // The explicit operation, with a reason that a reviewer can read.
    let path = format!("fhir/Patient/{}/$cambio-unidad", w.p1);
    assert_eq!(
        send_as(node, &receptionist, "POST", &path, &reason("")).status,
        400
    );
    let why = "La paciente se mudó a la colonia y pide atenderse aquí";
    let done = send_as(node, &receptionist, "POST", &path, &reason(why));
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(
        done.body["managingOrganization"]["reference"],
        json!(format!("Organization/{org_b}"))
    );
    // A nurse may not move a registration.
    let nurse = account(&w.data, "enf-b", "nurse", &["--clues", CLUES_B]);
    assert_eq!(
        send_as(node, &nurse, "POST", &path, &reason(why)).status,
        403
    );
    // Clinic B now cares for her.
    assert_eq!(
        get_as(node, &doctor_b, &format!("fhir/Condition/{secret}")).status,
        200
    );
    // Listed for the auditors, with the reason, and in the patient's own log.
    let auditor = account(&w.data, "auditora", "auditor", &[]);
    let review = get_as(node, &auditor, "fhir/AuditEvent?action=registration-move");
    assert_eq!(ids_of(&review.body).len(), 1, "{}", review.text);
    assert!(review.text.contains(why), "{}", review.text);
    let me = account(&w.data, "ana", "patient", &["--patient", &w.p1]);
    let mine = get_as(node, &me, "fhir/AuditEvent?_count=200");
    assert!(
        mine.text.contains("cambió su unidad de adscripción") && mine.text.contains(why),
        "{}",
        mine.text
    );
}

/// Class 3. Creating an encounter or appointment for a patient from elsewhere gave the
/// creator's clinic the whole record, with no flag. Now starting care is the explicit, audited
/// inicio de atención.
#[test]
fn care_starts_only_by_an_audited_inicio_de_atencion() {
    let w = world();
    let node = &w.node;
    let secret = hidden_condition(&w);
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let org_b = org_id(&w, CLUES_B);
    let encounter = json!({
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": format!("Patient/{}", w.p1)},
        "serviceProvider": {"reference": format!("Organization/{org_b}")}
    });
    let refused = send_as(node, &doctor_b, "POST", "fhir/Encounter", &encounter);
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        refused.diagnostics().contains("iniciar-atencion"),
        "{}",
        refused.text
    );
    let appointment = json!({
        "resourceType": "Appointment", "status": "booked",
        "participant": [{"actor": {"reference": format!("Patient/{}", w.p1)}, "status": "accepted"}]
    });
    assert_eq!(
        send_as(node, &doctor_b, "POST", "fhir/Appointment", &appointment).status,
        403
    );
    // Nor by writing the care record itself through the generic API.
    let episode = json!({
        "resourceType": "EpisodeOfCare", "status": "active",
        "patient": {"reference": format!("Patient/{}", w.p1)},
        "managingOrganization": {"reference": format!("Organization/{org_b}")}
    });
    assert_eq!(
        send_as(node, &doctor_b, "POST", "fhir/EpisodeOfCare", &episode).status,
        403
    );
    assert_eq!(
        get_as(node, &doctor_b, &format!("fhir/Condition/{secret}")).status,
        403
    );

    let path = format!("fhir/Patient/{}/$iniciar-atencion", w.p1);
    assert_eq!(
        send_as(node, &doctor_b, "POST", &path, &reason("porque sí")).status,
        400
    );
    let admin = account(&w.data, "admin-b", "admin", &[]);
    let why = "Llega de otra unidad con fiebre y dolor abdominal intenso";
    assert_eq!(
        send_as(node, &admin, "POST", &path, &reason(why)).status,
        403
    );
    let started = send_as(node, &doctor_b, "POST", &path, &reason(why));
    assert_eq!(started.status, 201, "{}", started.text);
    assert_eq!(started.body["resourceType"], "EpisodeOfCare");
    // Starting again is a no-op.
    assert_eq!(
        send_as(node, &doctor_b, "POST", &path, &reason(why)).status,
        200
    );
    assert_eq!(
        send_as(node, &doctor_b, "POST", "fhir/Encounter", &encounter).status,
        201
    );
    assert_eq!(
        get_as(node, &doctor_b, &format!("fhir/Condition/{secret}")).status,
        200
    );
    let auditor = account(&w.data, "auditora", "auditor", &[]);
    let review = get_as(node, &auditor, "fhir/AuditEvent?action=care-start");
    assert_eq!(ids_of(&review.body).len(), 1, "{}", review.text);
    assert!(review.text.contains(why), "{}", review.text);
    let me = account(&w.data, "ana", "patient", &["--patient", &w.p1]);
    let mine = get_as(node, &me, "fhir/AuditEvent?_count=200");
    assert!(mine.text.contains("inició su atención"), "{}", mine.text);
}

/// Class 3. A patient registered, or seen, at a clinic through a logical reference by CLUES
/// (as other systems send it) is that clinic's patient.
#[test]
fn logical_clues_references_establish_care() {
    let w = world();
    let node = &w.node;
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let mut registered = patient("Fidel", "Mora", "1970-02-02", "male");
    registered["managingOrganization"] = json!({"identifier": {"system": CLUES, "value": CLUES_B}});
    let registered = post(node, "Patient", &registered);
    assert_eq!(registered.status, 201, "{}", registered.text);
    let registered = registered.body["id"].as_str().unwrap().to_string();
    let seen = post(
        node,
        "Patient",
        &patient("Gala", "Mora", "1971-03-03", "female"),
    );
    let seen = seen.body["id"].as_str().unwrap().to_string();
    let visit = post(
        node,
        "Encounter",
        &json!({
            "resourceType": "Encounter", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": format!("Patient/{seen}")},
            "serviceProvider": {"identifier": {"system": CLUES, "value": CLUES_B}}
        }),
    );
    assert_eq!(visit.status, 201, "{}", visit.text);
    for patient_id in [&registered, &seen] {
        let obs = post(node, "Observation", &observation(patient_id, &[]));
        let obs = obs.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            get_as(node, &doctor_b, &format!("fhir/Observation/{obs}")).status,
            200
        );
    }
    // And clinic A, named nowhere, is not related.
    let doctor_a = account(&w.data, "dr-a", "physician", &["--clues", CLUES_A]);
    let obs = post(node, "Observation", &observation(&registered, &[]));
    let obs = obs.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        get_as(node, &doctor_a, &format!("fhir/Observation/{obs}")).status,
        403
    );
    let _ = organization;
}

/// Class 3. Deciding that two registrations are one person is MPI stewardship, not every
/// receptionist's.
#[test]
fn merging_patients_belongs_to_the_identity_steward() {
    let w = world();
    let node = &w.node;
    let params = json!({"resourceType": "Parameters", "parameter": [
        {"name": "source-patient", "valueReference": {"reference": format!("Patient/{}", w.p2)}},
        {"name": "target-patient", "valueReference": {"reference": format!("Patient/{}", w.p1)}}
    ]});
    let receptionist = account(&w.data, "recep-a", "receptionist", &["--clues", CLUES_A]);
    let refused = send_as(node, &receptionist, "POST", "fhir/Patient/$merge", &params);
    assert_eq!(refused.status, 403, "{}", refused.text);
    let doctor = account(&w.data, "dr-a", "physician", &["--clues", CLUES_A]);
    assert_eq!(
        send_as(node, &doctor, "POST", "fhir/Patient/$merge", &params).status,
        403
    );
    let steward = account(&w.data, "mpi", "steward", &[]);
    let merged = send_as(node, &steward, "POST", "fhir/Patient/$merge", &params);
    assert_eq!(merged.status, 200, "{}", merged.text);
    let undone = send_as(node, &steward, "POST", "fhir/Patient/$unmerge", &params);
    assert_eq!(undone.status, 200, "{}", undone.text);
    // The steward sees demographics, never clinical content.
    assert_eq!(
        get_as(node, &steward, &format!("fhir/Patient/{}", w.p1)).status,
        200
    );
    assert_eq!(
        get_as(node, &steward, &format!("fhir/Observation/{}", w.obs1)).status,
        403
    );
}

/// The other doors that carry content, tried as clinic B's physician about clinic A's
/// patient: none shows the marked diagnosis.
#[test]
fn no_other_door_shows_a_hidden_record() {
    let w = world();
    let node = &w.node;
    let secret = hidden_condition(&w);
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let p1 = &w.p1;
    let tries = [
        format!("fhir/Condition?_id={secret}"),
        format!("fhir/Condition?subject=Patient/{p1}&_elements=code,note"),
        format!("fhir/Condition?subject=Patient/{p1}&_summary=data"),
        format!("fhir/Condition?subject=Patient/{p1}&_total=accurate"),
        format!("fhir/Patient?_id={p1}&_revinclude=Condition:subject"),
        format!("fhir/Patient?_id={p1}&_revinclude:iterate=Condition:subject"),
        format!("fhir/Condition/{secret}/_history"),
        format!("fhir/Condition/{secret}/_history/1"),
        "fhir/Condition/_history".to_string(),
        "fhir/_history".to_string(),
        format!("fhir/Patient/{p1}/$everything"),
        format!("fhir/Patient/{p1}/$everything?_type=Condition"),
        format!("fhir/Patient/{p1}/$everything?_since=2000-01-01"),
        "fhir/Patient?_has:Condition:subject:code=B20".to_string(),
        format!("fhir/Encounter?patient.identifier=x&subject:Patient._id={p1}"),
        format!("fhir/AuditEvent?patient={p1}"),
    ];
    for path in &tries {
        let answer = get_as(node, &doctor_b, path);
        // The query is echoed in the self link; no entry may be the hidden record.
        assert!(
            !answer.text.contains(SECRET) && !ids_of(&answer.body).contains(&secret),
            "{path}: {}",
            answer.text
        );
    }
    // POST searches and batch GET entries too.
    let search = reply(
        anonymous_client()
            .post(format!("{}/Condition/_search", node.base))
            .bearer_auth(&doctor_b)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("subject=Patient/{p1}"))
            .send()
            .unwrap(),
    );
    assert!(!search.text.contains(SECRET), "{}", search.text);
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": format!("Condition/{secret}")}},
        {"request": {"method": "GET", "url": format!("Condition?subject=Patient/{p1}")}}
    ]});
    let batch = send_as(node, &doctor_b, "POST", "fhir", &batch);
    assert!(!batch.text.contains(SECRET), "{}", batch.text);
    // $match finds the person (demographics are open) but nothing clinical.
    let matched = send_as(
        node,
        &doctor_b,
        "POST",
        "fhir/Patient/$match",
        &json!({"resourceType": "Parameters", "parameter": [{"name": "resource", "resource":
            {"resourceType": "Patient", "name": [{"family": "Pérez", "given": ["Ana"]}], "birthDate": "1980-01-01"}}]}),
    );
    assert!(!matched.text.contains(SECRET), "{}", matched.text);
}

/// PATCH is one more door to a record: another clinic's physician can neither change a hidden
/// record by patching it (directly or by a condition that matches it) nor learn anything from
/// the answer, and a stale `If-Match` never overwrites a newer version.
#[test]
fn patch_goes_through_both_guards() {
    let w = world();
    let node = &w.node;
    let secret = hidden_condition(&w);
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let patch_as = |token: &str, path: &str, body: &Value, extra: &[(&str, &str)]| {
        let mut request = anonymous_client()
            .patch(format!("{}/{path}", node.base))
            .bearer_auth(token)
            .header("content-type", "application/json-patch+json")
            .body(body.to_string());
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        reply(request.send().unwrap())
    };
    let before = current(&w, &format!("Condition/{secret}"));
    let change =
        json!([{"op": "replace", "path": "/clinicalStatus/coding/0/code", "value": "resolved"}]);
    for path in [
        format!("Condition/{secret}"),
        format!("Condition?_id={secret}"),
        format!("Condition?subject=Patient/{}", w.p1),
    ] {
        let answer = patch_as(&doctor_b, &path, &change, &[]);
        assert!(
            matches!(answer.status, 403 | 404),
            "{path}: {} {}",
            answer.status,
            answer.text
        );
        assert!(!answer.text.contains(SECRET), "{path}: {}", answer.text);
    }
    let after = current(&w, &format!("Condition/{secret}"));
    assert_eq!(after["meta"]["versionId"], before["meta"]["versionId"]);

    // The clinic that may write it patches it; a stale If-Match is refused.
    let stale = patch_as(
        test_token(),
        &format!("Condition/{secret}"),
        &change,
        &[("if-match", "W/\"0\"")],
    );
    assert_eq!(stale.status, 412, "{}", stale.text);
    let applied = patch_as(test_token(), &format!("Condition/{secret}"), &change, &[]);
    assert_eq!(applied.status, 200, "{}", applied.text);
    assert_eq!(
        applied.body["clinicalStatus"]["coding"][0]["code"],
        "resolved"
    );
    assert_ne!(
        applied.body["meta"]["versionId"],
        before["meta"]["versionId"]
    );
    // A patch that breaks the resource is refused whole.
    let broken = patch_as(
        test_token(),
        &format!("Condition/{secret}"),
        &json!([{"op": "add", "path": "/onsetDateTime", "value": "ayer"}]),
        &[],
    );
    assert_eq!(broken.status, 400, "{}", broken.text);
    assert_eq!(broken.body["resourceType"], "OperationOutcome");
}

/// The same two guards for FHIRPath Patch and for PATCH entries of transaction and batch
/// Bundles: another clinic's physician changes nothing of a hidden record and learns nothing
/// from the answers, whichever door the patch comes through.
#[test]
fn fhirpath_and_bundle_patches_go_through_both_guards() {
    let w = world();
    let node = &w.node;
    let secret = hidden_condition(&w);
    let doctor_b = account(&w.data, "dr-b", "physician", &["--clues", CLUES_B]);
    let before = current(&w, &format!("Condition/{secret}"));
    let fhirpath = json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": "Condition.clinicalStatus.coding.where(code = 'active').code"},
        {"name": "value", "valueCode": "resolved"}]}]});
    for path in [
        format!("fhir/Condition/{secret}"),
        format!("fhir/Condition?_id={secret}"),
    ] {
        let answer = send_as(node, &doctor_b, "PATCH", &path, &fhirpath);
        assert!(
            matches!(answer.status, 403 | 404),
            "{path}: {} {}",
            answer.status,
            answer.text
        );
        assert!(!answer.text.contains(SECRET), "{path}: {}", answer.text);
    }
    let binary = json!({"resourceType": "Binary", "contentType": "application/json-patch+json",
        "data": base64::engine::general_purpose::STANDARD.encode(
            r#"[{"op":"replace","path":"/clinicalStatus/coding/0/code","value":"resolved"}]"#)});
    for (kind, url, body) in [
        ("transaction", format!("Condition/{secret}"), &fhirpath),
        ("transaction", format!("Condition?_id={secret}"), &binary),
        ("batch", format!("Condition/{secret}"), &binary),
        ("batch", format!("Condition?_id={secret}"), &fhirpath),
    ] {
        let bundle = json!({"resourceType": "Bundle", "type": kind, "entry": [
            {"resource": body, "request": {"method": "PATCH", "url": url}}]});
        let answer = send_as(node, &doctor_b, "POST", "fhir", &bundle);
        assert!(
            !answer.text.contains(SECRET),
            "{kind} {url}: {}",
            answer.text
        );
        let status = if kind == "batch" {
            assert_eq!(answer.status, 200, "{kind} {url}: {}", answer.text);
            answer.body["entry"][0]["response"]["status"]
                .as_str()
                .unwrap_or("")
                .split(' ')
                .next()
                .unwrap_or("")
                .parse::<u16>()
                .unwrap_or(0)
        } else {
            answer.status
        };
        assert!(
            matches!(status, 403 | 404),
            "{kind} {url}: {status} {}",
            answer.text
        );
    }
    let after = current(&w, &format!("Condition/{secret}"));
    assert_eq!(after["meta"]["versionId"], before["meta"]["versionId"]);
    assert_eq!(after["clinicalStatus"]["coding"][0]["code"], "active");

    // Each refusal by id is in the audit trail as a denied access to that record (the REST
    // door, the transaction entry and the batch entry), though the transaction rolled back.
    let auditor = account(&w.data, "auditor", "auditor", &[]);
    let target = format!("Condition/{secret}");
    let denied = crate::security::denied_accesses(node, &auditor, "dr-b", &target, 3);
    assert!(denied >= 3, "denied accesses audited: {denied}");
}
