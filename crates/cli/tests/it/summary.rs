//! Issue 18: the International Patient Summary (`Patient/{id}/$summary`).

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::security::{account, get_as, send_as, world};
use crate::support::*;

const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";

fn created(node: &Node, resource: &Value) -> String {
    let resource_type = resource["resourceType"].as_str().unwrap();
    let reply = post(node, resource_type, resource);
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_string()
}

fn condition(patient: &str, code: &str, display: &str, clinical: &str) -> Value {
    json!({
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}]},
        "code": {"coding": [{"system": ICD10, "code": code, "display": display}]},
        "subject": {"reference": format!("Patient/{patient}")}
    })
}

fn medication(patient: &str, status: &str, display: &str) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {"text": display},
        "subject": {"reference": format!("Patient/{patient}")}
    })
}

/// The sections of a summary by LOINC code.
fn sections(bundle: &Value) -> Vec<(String, Value)> {
    bundle["entry"][0]["resource"]["section"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["code"]["coding"][0]["code"].as_str().unwrap().to_string(),
                s.clone(),
            )
        })
        .collect()
}

fn section<'a>(all: &'a [(String, Value)], code: &str) -> &'a Value {
    &all.iter()
        .find(|(c, _)| c == code)
        .unwrap_or_else(|| panic!("no section {code}"))
        .1
}

fn section_refs(section: &Value) -> Vec<String> {
    section["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| e["reference"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A document Bundle whose Composition lists what is current (active problems and
/// prescriptions, allergies, given vaccines, lab results), whose every reference resolves
/// inside the Bundle, and whose empty mandatory sections say so; the patient downloads their
/// own and no one else's.
#[test]
fn the_patient_summary_is_an_ips_document_of_what_is_current() {
    let w = world();
    let node = &w.node;
    let diabetes = created(
        node,
        &condition(&w.p1, "E11.9", "Diabetes mellitus tipo 2", "active"),
    );
    let flu = created(node, &condition(&w.p1, "J11.1", "Influenza", "resolved"));
    let allergy = created(
        node,
        &json!({
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
            "code": {"text": "Penicilina <grave>"},
            "patient": {"reference": format!("Patient/{}", w.p1)}
        }),
    );
    let metformin = created(node, &medication(&w.p1, "active", "Metformina 850 mg"));
    let captopril = created(node, &medication(&w.p1, "stopped", "Captopril 25 mg"));
    let vaccine = created(
        node,
        &json!({
            "resourceType": "Immunization", "status": "completed",
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140", "display": "Influenza"}]},
            "patient": {"reference": format!("Patient/{}", w.p1)},
            "occurrenceDateTime": "2025-10-01"
        }),
    );
    let hba1c = created(
        node,
        &json!({
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobina A1c"}]},
            "subject": {"reference": format!("Patient/{}", w.p1)},
            "effectiveDateTime": "2026-11-02",
            "valueQuantity": {"value": 8.1, "unit": "%"}
        }),
    );

    let reply = get(node, &format!("Patient/{}/$summary", w.p1));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let bundle = &reply.body;
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "document");
    assert!(bundle["timestamp"].is_string() && bundle["identifier"]["value"].is_string());
    let composition = &bundle["entry"][0]["resource"];
    assert_eq!(composition["resourceType"], "Composition");
    assert_eq!(composition["type"]["coding"][0]["code"], "60591-5");
    assert_eq!(
        composition["subject"]["reference"],
        format!("Patient/{}", w.p1)
    );
    assert!(!composition["author"].as_array().unwrap().is_empty());
    let all = sections(bundle);
    for required in ["11450-4", "48765-2", "10160-0"] {
        let s = section(&all, required);
        assert!(
            s["text"]["div"].as_str().unwrap().starts_with("<div xmlns"),
            "{s}"
        );
    }
    let refs = |code: &str| section_refs(section(&all, code));
    assert_eq!(
        refs("11450-4"),
        [format!("Condition/{diabetes}")],
        "resolved problems are left out"
    );
    assert_eq!(refs("48765-2"), [format!("AllergyIntolerance/{allergy}")]);
    assert_eq!(
        refs("10160-0"),
        [format!("MedicationRequest/{metformin}")],
        "stopped drugs are left out"
    );
    assert_eq!(refs("11369-6"), [format!("Immunization/{vaccine}")]);
    assert_eq!(
        refs("30954-2"),
        [format!("Observation/{hba1c}")],
        "vital signs are not lab results"
    );
    let text = section(&all, "48765-2")["text"]["div"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("Penicilina &lt;grave&gt;"),
        "escaped narrative: {text}"
    );
    assert!(
        section(&all, "30954-2")["text"]["div"]
            .as_str()
            .unwrap()
            .contains("8.1 %")
    );
    // Every reference resolves inside the document.
    let full_urls: HashSet<String> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap().to_string())
        .collect();
    for (_, s) in &all {
        for reference in section_refs(s) {
            assert!(
                full_urls
                    .iter()
                    .any(|u| u.ends_with(&format!("/{reference}"))),
                "{reference} is not in the document"
            );
        }
    }
    for absent in [&flu, &captopril] {
        assert!(
            !reply.text.contains(absent.as_str()),
            "{absent} is not current"
        );
    }

    // A patient with nothing recorded: the mandatory sections say why they are empty.
    let empty = get(node, &format!("Patient/{}/$summary", w.p2));
    assert_eq!(empty.status, 200, "{}", empty.text);
    let all = sections(&empty.body);
    for required in ["11450-4", "48765-2", "10160-0"] {
        let s = section(&all, required);
        assert!(s["entry"].is_null(), "{s}");
        assert_eq!(s["emptyReason"]["coding"][0]["code"], "unavailable", "{s}");
    }

    // The patient downloads their own summary, and only their own.
    let ana = account(&w.data, "ana-resumen", "patient", &["--patient", &w.p1]);
    let own = get_as(node, &ana, &format!("fhir/Patient/{}/$summary", w.p1));
    assert_eq!(own.status, 200, "{}", own.text);
    assert!(own.text.contains(&diabetes));
    let other = get_as(node, &ana, &format!("fhir/Patient/{}/$summary", w.p2));
    assert!(matches!(other.status, 403 | 404), "{}", other.text);
    assert_eq!(get(node, "Patient/no-such/$summary").status, 404);

    // The patient's access log names the summary as such.
    let auditor = account(&w.data, "auditora-resumen", "auditor", &[]);
    let mut logged = false;
    for _ in 0..50 {
        let trail = get_as(
            node,
            &auditor,
            &format!("fhir/AuditEvent?patient={}&_count=200", w.p1),
        );
        assert_eq!(trail.status, 200, "{}", trail.text);
        if trail.text.contains("$summary") {
            logged = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(logged, "the summary is in the patient's access log");
}

/// `Composition/{id}/$document`: a stored Composition comes back as a document Bundle, the
/// Composition first, then what it references, each read as the requester: the patient gets
/// the entries of their own record and not another patient's Observation that the note
/// points at; a clinician of another clinic gets no document at all; asking to store the
/// document is refused with a clear message.
#[test]
fn a_stored_composition_is_a_document_of_what_its_reader_may_see() {
    let w = world();
    let node = &w.node;
    let diabetes = created(
        node,
        &condition(&w.p1, "E11.9", "Diabetes mellitus tipo 2", "active"),
    );
    let metformin = created(node, &medication(&w.p1, "active", "Metformina 850 mg"));
    let note = created(
        node,
        &json!({
            "resourceType": "Composition", "status": "final",
            "type": {"coding": [{"system": "http://loinc.org", "code": "34133-9"}]},
            "subject": {"reference": format!("Patient/{}", w.p1)},
            "date": "2026-11-20T10:00:00-06:00", "title": "Resumen de egreso",
            "author": [{"display": "Dra. Ana López"}],
            "section": [
                {"title": "Problemas", "entry": [{"reference": format!("Condition/{diabetes}")}],
                 "section": [{"title": "Resultados", "entry": [{"reference": format!("Observation/{}", w.obs2)}]}]},
                {"title": "Medicamentos", "entry": [{"reference": format!("MedicationRequest/{metformin}")}]}
            ]
        }),
    );
    let ids = |bundle: &Value| -> Vec<String> {
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}/{}",
                    e["resource"]["resourceType"].as_str().unwrap(),
                    e["resource"]["id"].as_str().unwrap()
                )
            })
            .collect()
    };
    // The node's administrator token sees every entry, in document order.
    let whole = get(node, &format!("Composition/{note}/$document"));
    assert_eq!(whole.status, 200, "{}", whole.text);
    assert_eq!(whole.body["type"], "document");
    assert!(
        whole.body["identifier"]["value"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );
    assert_eq!(
        ids(&whole.body),
        vec![
            format!("Composition/{note}"),
            format!("Patient/{}", w.p1),
            format!("Condition/{diabetes}"),
            format!("Observation/{}", w.obs2),
            format!("MedicationRequest/{metformin}"),
        ]
    );
    let full_url = whole.body["entry"][0]["fullUrl"].as_str().unwrap();
    assert!(
        full_url.ends_with(&format!("/fhir/Composition/{note}")),
        "{full_url}"
    );

    // The patient, in their own record: another patient's Observation the note points at is
    // left out (the note itself still names it: the Composition is theirs).
    let ana = account(&w.data, "ana-documento", "patient", &["--patient", &w.p1]);
    let theirs = get_as(node, &ana, &format!("fhir/Composition/{note}/$document"));
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    let shown = ids(&theirs.body);
    assert_eq!(
        shown,
        vec![
            format!("Composition/{note}"),
            format!("Patient/{}", w.p1),
            format!("Condition/{diabetes}"),
            format!("MedicationRequest/{metformin}"),
        ]
    );
    assert!(!theirs.text.contains("8867-4"), "{}", theirs.text);
    // Another clinic's clinician: no document (403 with the way to break-glass, as for a
    // plain read of that Composition), and none of its content.
    let stranger = account(
        &w.data,
        "dr-otro",
        "physician",
        &["--clues", crate::security::CLUES_B],
    );
    let refused = get_as(
        node,
        &stranger,
        &format!("fhir/Composition/{note}/$document"),
    );
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(!refused.text.contains(&diabetes) && !refused.text.contains("Metformina"));
    // Storing the document changes the record: refused on GET, which must be safe.
    let persist = get(node, &format!("Composition/{note}/$document?persist=true"));
    assert_eq!(persist.status, 405, "{}", persist.text);
    assert!(persist.diagnostics().contains("POST"), "{}", persist.text);

    // A physician of the patient's clinic stores it (POST, `persist` in a Parameters body):
    // 201 and a Bundle at /Bundle, read back as stored by `Bundle/{id}/$document`.
    let doctor = account(
        &w.data,
        "dra-documento",
        "physician",
        &["--clues", crate::security::CLUES_A],
    );
    let stored = send_as(
        node,
        &doctor,
        "POST",
        &format!("fhir/Composition/{note}/$document"),
        &json!({"resourceType": "Parameters",
                "parameter": [{"name": "persist", "valueBoolean": true}]}),
    );
    assert_eq!(stored.status, 201, "{}", stored.text);
    let bundle = stored.body["id"].as_str().unwrap().to_string();
    let location = stored.header("location").unwrap_or_default();
    assert!(
        location.contains(&format!("/Bundle/{bundle}/_history/1")),
        "{location}"
    );
    assert_eq!(stored.body["type"], "document");
    assert_eq!(
        ids(&stored.body),
        vec![
            format!("Composition/{note}"),
            format!("Patient/{}", w.p1),
            format!("Condition/{diabetes}"),
            format!("Observation/{}", w.obs2),
            format!("MedicationRequest/{metformin}"),
        ]
    );
    // The Parameters body is optional: `persist` in the query, with an empty body sent as
    // JSON (as many clients do), stores another copy.
    let bare = reply(
        anonymous_client()
            .post(crate::security::url_of(
                node,
                &format!("fhir/Composition/{note}/$document?persist=true"),
            ))
            .bearer_auth(&doctor)
            .header("content-type", "application/fhir+json")
            .send()
            .unwrap(),
    );
    assert_eq!(bare.status, 201, "{}", bare.text);
    assert_ne!(bare.body["id"], stored.body["id"]);
    let back = get_as(node, &doctor, &format!("fhir/Bundle/{bundle}/$document"));
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.body["identifier"], stored.body["identifier"]);
    assert_eq!(ids(&back.body), ids(&stored.body));

    // The stored document belongs to the patients it carries: the other clinic's clinician
    // reads it by no door, and the patient does not get a document holding another
    // patient's Observation.
    for path in [
        format!("fhir/Bundle/{bundle}"),
        format!("fhir/Bundle/{bundle}/$document"),
        format!("fhir/Bundle/{bundle}/_history/1"),
    ] {
        let refused = get_as(node, &stranger, &path);
        assert!(
            matches!(refused.status, 403 | 404),
            "{path}: {}",
            refused.text
        );
        assert!(
            !refused.text.contains("Metformina"),
            "{path}: {}",
            refused.text
        );
        let theirs = get_as(node, &ana, &path);
        assert!(
            matches!(theirs.status, 403 | 404),
            "{path}: {}",
            theirs.text
        );
        assert!(!theirs.text.contains("8867-4"), "{path}: {}", theirs.text);
    }
    let searched = get_as(node, &stranger, &format!("fhir/Bundle?_id={bundle}"));
    assert!(!searched.text.contains("Metformina"), "{}", searched.text);
    // Nor can that clinician store a Bundle of this patient's record.
    let smuggled = send_as(
        node,
        &stranger,
        "POST",
        "fhir/Bundle",
        &json!({"resourceType": "Bundle", "type": "collection",
                "entry": [{"resource": condition(&w.p1, "F32.9", "Episodio depresivo", "active")}]}),
    );
    assert!(matches!(smuggled.status, 403 | 404), "{}", smuggled.text);
    // A Bundle that is not a document is not one by `$document`.
    let collection = send_as(
        node,
        &doctor,
        "POST",
        "fhir/Bundle",
        &json!({"resourceType": "Bundle", "type": "collection",
                "entry": [{"resource": condition(&w.p1, "I10", "Hipertensión", "active")}]}),
    );
    assert_eq!(collection.status, 201, "{}", collection.text);
    let not_document = get_as(
        node,
        &doctor,
        &format!(
            "fhir/Bundle/{}/$document",
            collection.body["id"].as_str().unwrap()
        ),
    );
    assert_eq!(not_document.status, 422, "{}", not_document.text);
    assert_eq!(get(node, "Composition/no-such/$document").status, 404);
}

/// The `data-ref`s of one section of the printed summary (`data-loinc="{code}"`).
fn page_section_refs(html: &str, code: &str) -> Vec<String> {
    let Some(section) = html
        .split(&format!("data-loinc=\"{code}\""))
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
    else {
        panic!("the printed summary has no section {code}");
    };
    section
        .split("data-ref=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

fn observation_at(patient: &str, category: &str, code: &str, when: &str, value: Value) -> Value {
    let mut resource = json!({
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": code},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": when
    });
    for (key, v) in value.as_object().unwrap() {
        resource[key] = v.clone();
    }
    resource
}

/// The web UI's printed summary is the IPS: for the same physician, every section of the
/// page lists exactly the resources the same section of `$summary` lists, in the same order
/// (the latest blood pressure and not an older one; the pending order and not the completed
/// one), and the page shows what they say.
#[test]
fn the_printed_summary_lists_what_the_ips_lists() {
    use crate::security::{CLUES_A, PASSWORD};
    use crate::security_web::Browser;

    let w = world();
    let node = &w.node;
    let p = &w.p1;
    created(
        node,
        &condition(p, "E11.9", "Diabetes mellitus tipo 2", "active"),
    );
    created(node, &condition(p, "J11.1", "Influenza", "resolved"));
    created(node, &medication(p, "active", "Metformina 850 mg"));
    created(node, &medication(p, "stopped", "Captopril 25 mg"));
    let bp = |systolic: u32, diastolic: u32| {
        json!({"component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": systolic, "unit": "mmHg"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": diastolic, "unit": "mmHg"}}
        ]})
    };
    let old_bp = created(
        node,
        &observation_at(
            p,
            "vital-signs",
            "85354-9",
            "2026-10-01T09:00:00-06:00",
            bp(150, 95),
        ),
    );
    let new_bp = created(
        node,
        &observation_at(
            p,
            "vital-signs",
            "85354-9",
            "2026-11-20T09:00:00-06:00",
            bp(138, 86),
        ),
    );
    let weight = created(
        node,
        &observation_at(
            p,
            "vital-signs",
            "29463-7",
            "2026-11-20T09:05:00-06:00",
            json!({"valueQuantity": {"value": 71.5, "unit": "kg"}}),
        ),
    );
    created(
        node,
        &observation_at(
            p,
            "laboratory",
            "4548-4",
            "2026-11-02",
            json!({"valueQuantity": {"value": 8.1, "unit": "%"}}),
        ),
    );
    let order = |status: &str, text: &str| {
        json!({
            "resourceType": "ServiceRequest", "status": status, "intent": "order",
            "code": {"text": text},
            "subject": {"reference": format!("Patient/{p}")},
            "authoredOn": "2026-11-20"
        })
    };
    let pending = created(node, &order("active", "Perfil de lípidos"));
    let done = created(node, &order("completed", "Biometría hemática"));

    let token = account(
        &w.data,
        "medica-resumen",
        "physician",
        &["--clues", CLUES_A],
    );
    let ips = get_as(node, &token, &format!("fhir/Patient/{p}/$summary"));
    assert_eq!(ips.status, 200, "{}", ips.text);
    let all = sections(&ips.body);
    assert_eq!(
        section_refs(section(&all, "8716-3")),
        [
            format!("Observation/{weight}"),
            format!("Observation/{new_bp}"),
            format!("Observation/{}", w.obs1)
        ],
        "the latest of each vital sign, latest first (the world's pulse has no date)"
    );
    assert_eq!(
        section_refs(section(&all, "18776-5")),
        [format!("ServiceRequest/{pending}")]
    );

    let browser = Browser::new(node);
    let signed = browser.sign_in("medica-resumen", PASSWORD, "/ui/buscar");
    assert_eq!(signed.status, 303, "{}", signed.body);
    let page = browser.get(&format!("/ui/pacientes/{p}/resumen"));
    assert_eq!(page.status, 200, "{}", page.body);
    for (code, ips_section) in &all {
        assert_eq!(
            page_section_refs(&page.body, code),
            section_refs(ips_section),
            "section {code}: the page and the IPS differ"
        );
    }
    for shown in [
        "E11.9",
        "Metformina 850 mg",
        "138/86 mmHg",
        "71.5 kg",
        "8.1 %",
        "Perfil de lípidos",
    ] {
        assert!(page.body.contains(shown), "{shown} is not printed");
    }
    for absent in [
        "Influenza",
        "Captopril",
        "150/95",
        "Biometría hemática",
        old_bp.as_str(),
        done.as_str(),
    ] {
        assert!(!page.body.contains(absent), "{absent} is printed");
    }
}
