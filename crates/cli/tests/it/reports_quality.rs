//! Reports 5 (repeated tests) and 6 (data quality) of issue 16 and the state scope of every
//! report, over real HTTP against a real node. The dataset is built by hand and each expected
//! CSV is worked out in the comments from the rules, not computed by the code under test.

use serde_json::{Value, json};

use crate::security::{PASSWORD, account, get_as, url_of};
use crate::security_web::Browser;
use crate::support::*;

const CLUES_JC: &str = "JCSSA001234";
const CLUES_DF: &str = "DFSSA004321";
const CLUES_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/sid/clues";
const CURP_SYSTEM: &str = "urn:oid:2.16.840.1.113883.4.629";
const WARNING_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/sid/aviso-estudio-repetido";
const LOINC: &str = "http://loinc.org";

fn registered(node: &Node, mut p: Value, org: &str) -> String {
    p["managingOrganization"] = json!({"reference": format!("Organization/{org}")});
    created(node, &p)
}

fn with_curp(mut p: Value, curp: &str) -> Value {
    p["identifier"] = json!([{"use": "official", "system": CURP_SYSTEM, "value": curp}]);
    p
}

fn finished(patient: &str, org: &str, start: &str) -> Value {
    json!({
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": format!("Patient/{patient}")},
        "serviceProvider": {"reference": format!("Organization/{org}")},
        "period": {"start": start, "end": start}
    })
}

fn condition(patient: &str, encounter: Option<&str>) -> Value {
    let mut c = json!({
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "recordedDate": "2026-03-02"
    });
    if let Some(e) = encounter {
        c["encounter"] = json!({"reference": format!("Encounter/{e}")});
    }
    c
}

fn div(text: &str) -> Value {
    json!({"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>{text}</p></div>")})
}

/// A signed progress note with the NOM-004 sections; `prognosis` false leaves that one out.
fn note(patient: &str, custodian: Option<&str>, encounter: Option<&str>, prognosis: bool) -> Value {
    let code = |c: &str| json!({"coding": [{"system": LOINC, "code": c}]});
    let mut sections = vec![
        json!({"title": "Signos vitales", "code": code("8716-3"), "text": div("TA 120/80")}),
        json!({"title": "Padecimiento actual y evolución (S)", "code": code("10164-2"), "text": div("Sed")}),
        json!({"title": "Análisis y diagnósticos (A)", "code": code("51848-0"), "text": div("E11.9")}),
        json!({"title": "Plan (P)", "code": code("18776-5"), "text": div("Dieta")}),
    ];
    if prognosis {
        sections.push(json!({"title": "Pronóstico", "text": div("Bueno")}));
    }
    let mut n = json!({
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "11506-3"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "date": "2026-03-02T10:00:00-06:00",
        "author": [{"display": "Dra. Prueba"}],
        "title": "Nota de evolución",
        "section": sections
    });
    if let Some(org) = custodian {
        n["custodian"] = json!({"reference": format!("Organization/{org}")});
    }
    if let Some(e) = encounter {
        n["encounter"] = json!({"reference": format!("Encounter/{e}")});
    }
    n
}

fn warning(patient: &str, org: &str, key: &str, status: &str, when: &str) -> Value {
    json!({
        "resourceType": "DetectedIssue",
        "identifier": [{"system": WARNING_SYSTEM, "value": key,
                        "assigner": {"reference": format!("Organization/{org}")}}],
        "status": status,
        "patient": {"reference": format!("Patient/{patient}")},
        "identifiedDateTime": when
    })
}

/// Status and body of a report as `token`.
fn csv(node: &Node, token: &str, path: &str) -> (u16, String) {
    let answer = anonymous_client()
        .get(url_of(node, path))
        .bearer_auth(token)
        .send()
        .unwrap();
    (answer.status().as_u16(), answer.text().unwrap())
}

/// Names and ids that must never appear in what an epidemiologist receives.
fn assert_no_names(text: &str, forbidden: &[&str]) {
    for word in forbidden {
        assert!(!text.contains(word), "«{word}» leaked: {text}");
    }
}

#[test]
fn repeated_tests_data_quality_and_the_state_scope() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let node = Node::start_in(&data);
    let org = |clues: &str, name: &str| {
        json!({"resourceType": "Organization",
               "identifier": [{"system": CLUES_SYSTEM, "value": clues}], "name": name})
    };
    let jc = created(&node, &org(CLUES_JC, "Centro de Salud Jalisco"));
    let df = created(&node, &org(CLUES_DF, "Centro de Salud CDMX"));

    // JC: Guadalupe with a valid CURP, and her probable duplicate registered again without
    // one (a review task about the duplicate). DF: Juan with a valid CURP.
    let lupe = registered(
        &node,
        with_curp(
            patient("María Guadalupe", "Hernández López", "1984-03-07", "female"),
            "HELG840307MJCRPD06",
        ),
        &jc,
    );
    let again = registered(
        &node,
        patient("Ma. Guadalupe", "Hernandez Lopez", "1984-03-07", "female"),
        &jc,
    );
    let juan = registered(
        &node,
        with_curp(
            patient("Juan", "Pérez Gómez", "1990-11-23", "male"),
            "PEGJ901123HDFRMN03",
        ),
        &df,
    );

    // Encounters. JC: e1 with a Condition recorded in it, e2 without any diagnosis, e3 still
    // in progress (not counted). DF: e4 whose diagnosis is on the Encounter itself.
    let e1 = created(&node, &finished(&lupe, &jc, "2026-03-02T10:00:00-06:00"));
    created(&node, &condition(&lupe, Some(&e1)));
    created(&node, &finished(&again, &jc, "2026-03-03T10:00:00-06:00"));
    let mut e3 = finished(&lupe, &jc, "2026-03-04T10:00:00-06:00");
    e3["status"] = json!("in-progress");
    created(&node, &e3);
    let c4 = created(&node, &condition(&juan, None));
    let mut e4 = finished(&juan, &df, "2026-03-05T10:00:00-06:00");
    e4["diagnosis"] = json!([{"condition": {"reference": format!("Condition/{c4}")}}]);
    let e4 = created(&node, &e4);

    // Notes. JC (custodian): one complete, one without prognosis. DF (by its encounter): one
    // complete. An addendum to the JC note is not a note of its own.
    let n1 = created(&node, &note(&lupe, Some(&jc), Some(&e1), true));
    created(&node, &note(&lupe, Some(&jc), None, false));
    created(&node, &note(&juan, None, Some(&e4), true));
    let mut addendum = note(&lupe, Some(&jc), None, false);
    addendum["relatesTo"] =
        json!([{"code": "appends", "targetReference": {"reference": format!("Composition/{n1}")}}]);
    created(&node, &addendum);

    // Repeated-lab warnings: JC shown twice in March (one ordered anyway), once in April
    // (ordered anyway; 03:00 UTC on 1 April is still 31 March in Mexico City, so March);
    // DF once in March, ordered anyway; one entered in error at JC never counts.
    created(
        &node,
        &warning(&lupe, &jc, "a", "preliminary", "2026-03-10T10:00:00-06:00"),
    );
    created(
        &node,
        &warning(&again, &jc, "b", "final", "2026-03-11T10:00:00-06:00"),
    );
    created(
        &node,
        &warning(&lupe, &jc, "c", "final", "2026-04-01T03:00:00Z"),
    );
    created(
        &node,
        &warning(
            &lupe,
            &jc,
            "d",
            "entered-in-error",
            "2026-03-12T10:00:00-06:00",
        ),
    );
    created(
        &node,
        &warning(&juan, &df, "e", "final", "2026-03-12T10:00:00-06:00"),
    );

    let epi = account(&data, "epi", "epidemiologist", &[]);
    let (status, body) = csv(
        &node,
        &epi,
        "reports/repeated-tests.csv?from=2026-03-01&to=2026-04-30",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "clues,month,warnings,ordered_anyway\n\
         DFSSA004321,2026-03,1,1\n\
         JCSSA001234,2026-03,3,2\n"
    );

    // Data quality. JC: 2 patients, 1 valid CURP, 1 duplicate to review, 2 notes (1 short of
    // NOM-004), 2 finished encounters (1 without diagnosis). DF: 1, 1, 0, 1 (0), 1 (0).
    let quality_all = "clues,patients,valid_curp,duplicates_pending,notes,notes_incomplete,encounters,encounters_without_diagnosis\n\
         DFSSA004321,1,1,0,1,0,1,0\n\
         JCSSA001234,2,1,1,2,1,2,1\n";
    let (status, body) = csv(&node, &epi, "reports/data-quality.csv");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, quality_all);
    let (_, public) = csv(&node, &epi, "reports/data-quality.csv?publico=1");
    assert!(
        public.contains("JCSSA001234,<5,<5,<5,<5,<5,<5,<5\n"),
        "{public}"
    );
    assert!(
        public.contains("DFSSA004321,<5,<5,0,<5,0,<5,0\n"),
        "{public}"
    );

    // A national epidemiologist may narrow to one state.
    let (status, body) = csv(&node, &epi, "reports/data-quality.csv?estado=DF");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "clues,patients,valid_curp,duplicates_pending,notes,notes_incomplete,encounters,encounters_without_diagnosis\n\
         DFSSA004321,1,1,0,1,0,1,0\n"
    );
    let (status, body) = csv(&node, &epi, "reports/data-quality.csv?estado=XX");
    assert_eq!(status, 400, "{body}");

    // A state epidemiologist (Jalisco) sees Jalisco only, in every report...
    let epi_jc = account(&data, "epi-jc", "epidemiologist", &["--clues", "JC"]);
    let (status, body) = csv(&node, &epi_jc, "reports/data-quality.csv");
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("DFSSA"), "{body}");
    assert!(body.contains("JCSSA001234,2,1,1,2,1,2,1\n"), "{body}");
    let (_, body) = csv(
        &node,
        &epi_jc,
        "reports/repeated-tests.csv?from=2026-03-01&to=2026-04-30",
    );
    assert_eq!(
        body,
        "clues,month,warnings,ordered_anyway\nJCSSA001234,2026-03,3,2\n"
    );
    let (_, body) = csv(
        &node,
        &epi_jc,
        "reports/consultations.csv?from=2026-03-01&to=2026-03-31",
    );
    assert!(body.contains("JCSSA001234,2026-03-02,1\n"), "{body}");
    assert!(!body.contains("DFSSA"), "{body}");
    let (_, body) = csv(
        &node,
        &epi_jc,
        "reports/new-cases.csv?from=2026-03-01&to=2026-03-31",
    );
    assert!(!body.contains("\nDF,"), "{body}");
    // ...and asking for another state is refused, audited, whatever the report.
    let names = [
        "Guadalupe",
        "Hernández",
        "Hernandez",
        "Juan",
        "Pérez",
        lupe.as_str(),
        again.as_str(),
        juan.as_str(),
        "HELG840307MJCRPD06",
        "PEGJ901123HDFRMN03",
    ];
    for path in [
        "reports/data-quality.csv?estado=DF",
        "reports/repeated-tests.csv?estado=DF",
        "reports/new-cases.csv?from=2026-03-01&to=2026-03-31&estado=DF",
        "reports/consultations.csv?from=2026-03-01&to=2026-03-31&estado=df",
        "reports/diabetes-control.csv?as_of=2026-03-31&estado=DF",
        "reports/vaccination-coverage.csv?as_of=2026-03-31&estado=DF",
        "reports/medicine-demand.csv?month=2026-03&estado=DF",
    ] {
        let (status, body) = csv(&node, &epi_jc, path);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("JC") && body.contains("DF"), "{path}: {body}");
        assert!(!body.contains("DFSSA004321"), "{path}: {body}");
        assert_no_names(&body, &names);
    }
    // The node-wide counts of $estadisticas are not for a state account.
    let answer = get_as(&node, &epi_jc, "fhir/$estadisticas?medida=sexo");
    assert_eq!(answer.status, 403, "{}", answer.text);
    // No record either: the role has no record access at all.
    let answer = get_as(&node, &epi_jc, &format!("fhir/Patient/{juan}"));
    assert!(matches!(answer.status, 403 | 404), "{}", answer.text);
    assert_no_names(&answer.text, &names);

    // The pages, signed in as the Jalisco epidemiologist: Jalisco's figures, no names.
    let browser = Browser::new(&node);
    let signed = browser.sign_in("epi-jc", PASSWORD, "/ui/calidad-datos");
    assert!(matches!(signed.status, 302 | 303), "{}", signed.body);
    for path in [
        "/ui/calidad-datos",
        "/ui/estudios-repetidos?from=2026-03-01&to=2026-04-30",
        "/ui/vigilancia?semana=2026-03-07",
        "/ui/control-cronico?as_of=2026-03-31",
        "/ui/demanda-medicamentos?month=2026-03",
        "/ui/cobertura-vacunacion?as_of=2026-03-31",
    ] {
        let page = browser.get(path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(!page.body.contains("DFSSA004321"), "{path}");
        assert_no_names(&page.body, &names);
    }
    let page = browser.get("/ui/calidad-datos");
    assert!(
        page.body.contains("data-clues=\"JCSSA001234\""),
        "{}",
        page.body
    );
    // Its chart: three shares per facility (CURP, complete notes, encounters with a diagnosis).
    let row = page
        .body
        .split("data-clues=\"JCSSA001234\"")
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .unwrap_or_default();
    assert_eq!(row.matches("<svg class=\"share\"").count(), 3, "{row}");
    let page = browser.get("/ui/estudios-repetidos?from=2026-03-01&to=2026-04-30");
    assert!(
        page.body
            .contains("data-clues=\"JCSSA001234\" data-month=\"2026-03\""),
        "{}",
        page.body
    );
    let page = browser.get("/ui/calidad-datos?estado=DF");
    assert_eq!(page.status, 403, "{}", page.body);

    // Every request is in the trail, the refused ones with the state asked for.
    let auditor = account(&data, "auditora", "auditor", &[]);
    let mut trail = String::new();
    for _ in 0..50 {
        trail = get_as(&node, &auditor, "fhir/AuditEvent?agent=epi-jc&_count=200").text;
        if trail.contains("reporte data-quality estado=DF") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(trail.contains("reporte data-quality estado=DF"), "{trail}");
    assert!(trail.contains("reporte repeated-tests"), "{trail}");
}
