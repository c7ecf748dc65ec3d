//! The public-health reports with a fixed CSV contract (issue 16), over real HTTP against a
//! real node. The dataset is small and built by hand; each expected CSV is worked out in the
//! comments from the contract's rules, not computed by the code under test.

use serde_json::{Value, json};

use crate::security::{PASSWORD, account, get_as, url_of};
use crate::security_web::Browser;
use crate::support::*;

const CLUES_JC: &str = "JCSSA001234";
const CLUES_DF: &str = "DFSSA004321";
const CLUES_SYSTEM: &str = "https://expediente.salud.gob.mx/fhir/sid/clues";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";

fn registered(node: &Node, given: &str, org: &str) -> String {
    let mut p = patient(given, "Prueba", "1970-05-05", "female");
    p["managingOrganization"] = json!({"reference": format!("Organization/{org}")});
    created(node, &p)
}

fn encounter(patient: &str, class: &str, status: &str, provider: Value, start: &str) -> Value {
    json!({
        "resourceType": "Encounter",
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class},
        "subject": {"reference": format!("Patient/{patient}")},
        "serviceProvider": provider,
        "period": {"start": start}
    })
}

/// A Condition; `dates` are extra members (`recordedDate`, `onsetDateTime`, …).
fn condition(patient: &str, code: &str, encounter: &str, clinical: &str, dates: Value) -> Value {
    let mut c = json!({
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}]},
        "code": {"coding": [{"system": ICD10, "code": code}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "encounter": {"reference": format!("Encounter/{encounter}")}
    });
    for (k, v) in dates.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn hba1c(patient: &str, when: &str, value: f64) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    })
}

/// Raw bytes and content type of a report, as `token`.
fn report(node: &Node, token: &str, path: &str) -> (u16, String, Vec<u8>) {
    let answer = anonymous_client()
        .get(url_of(node, path))
        .bearer_auth(token)
        .send()
        .unwrap();
    let status = answer.status().as_u16();
    let kind = answer
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, kind, answer.bytes().unwrap().to_vec())
}

#[test]
fn the_three_csv_reports_follow_their_contracts() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let node = Node::start_in(&data);
    let org = |clues: &str, name: &str| {
        json!({"resourceType": "Organization",
               "identifier": [{"system": CLUES_SYSTEM, "value": clues}], "name": name})
    };
    let jc = created(&node, &org(CLUES_JC, "Centro de Salud Jalisco"));
    let df = created(&node, &org(CLUES_DF, "Centro de Salud CDMX"));
    let by_ref = |id: &str| json!({"reference": format!("Organization/{id}")});
    // The DF clinic is named logically, by CLUES identifier.
    let df_logical = json!({"identifier": {"system": CLUES_SYSTEM, "value": CLUES_DF}});

    let p1 = registered(&node, "Uno", &jc);
    let p2 = registered(&node, "Dos", &jc);
    let p3 = registered(&node, "Tres", &jc);
    let p4 = registered(&node, "Cuatro", &df);
    let p5 = registered(&node, "Cinco", &jc);
    let p6 = registered(&node, "Seis", &jc);

    // Encounters.
    // e1: JC, Sunday 2026-01-04 local: a consultation on 2026-01-04.
    let e1 = created(
        &node,
        &encounter(
            &p1,
            "AMB",
            "finished",
            by_ref(&jc),
            "2026-01-04T09:00:00-06:00",
        ),
    );
    // e2: DF (logical), 03:00 UTC on 2026-01-04 is 21:00 on Saturday 2026-01-03 in Mexico City.
    let e2 = created(
        &node,
        &encounter(
            &p2,
            "AMB",
            "finished",
            df_logical.clone(),
            "2026-01-04T03:00:00Z",
        ),
    );
    // e3: JC, still in progress: not a consultation.
    let e3 = created(
        &node,
        &encounter(
            &p1,
            "AMB",
            "in-progress",
            by_ref(&jc),
            "2026-01-05T10:00:00-06:00",
        ),
    );
    // e4: JC, inpatient: not a consultation.
    created(
        &node,
        &encounter(
            &p3,
            "IMP",
            "finished",
            by_ref(&jc),
            "2026-01-05T10:00:00-06:00",
        ),
    );
    // e5: JC, Saturday 2026-01-10: a consultation.
    let e5 = created(
        &node,
        &encounter(
            &p3,
            "AMB",
            "finished",
            by_ref(&jc),
            "2026-01-10T18:00:00-06:00",
        ),
    );
    // e6: JC, 2025-12-20: before the consultations period.
    let e6 = created(
        &node,
        &encounter(
            &p1,
            "AMB",
            "finished",
            by_ref(&jc),
            "2025-12-20T10:00:00-06:00",
        ),
    );

    // Conditions. Epidemiological weeks of 2026: week 1 is Sun 2026-01-04 .. Sat 2026-01-10
    // (the week of 2026-01-01 has only three January days: it is week 53 of 2025);
    // week 2 is 01-11..01-17, week 3 01-18..01-24, week 10 03-08..03-14.
    let recorded = |d: &str| json!({"recordedDate": d});
    // p1 E11.9 first recorded 2026-01-04 at JC → JC 2026 w1 E11.9.
    created(
        &node,
        &condition(&p1, "E11.9", &e1, "active", recorded("2026-01-04")),
    );
    // p1 E11.9 again on 01-06: the same case followed up, not new.
    created(
        &node,
        &condition(&p1, "E11.9", &e3, "active", recorded("2026-01-06")),
    );
    // p2 E11.9 first on 01-07 at JC → JC 2026 w1 E11.9 (second case).
    created(
        &node,
        &condition(&p2, "E11.9", &e1, "active", recorded("2026-01-07")),
    );
    // p2 A90, no recordedDate: onset 03:00 UTC 01-04 = local Saturday 01-03 → DF 2025 w53.
    created(
        &node,
        &condition(
            &p2,
            "A90",
            &e2,
            "active",
            json!({"onsetDateTime": "2026-01-04T03:00:00Z"}),
        ),
    );
    // p3 A90, neither recordedDate nor onset: its Encounter's date 01-10 → JC 2026 w1 A90.
    created(&node, &condition(&p3, "A90", &e5, "active", json!({})));
    // p3 E11.9 first recorded 2025-11-02 (before the period), again 2026-01-12: no new case.
    created(
        &node,
        &condition(&p3, "E11.9", &e6, "active", recorded("2025-11-02")),
    );
    created(
        &node,
        &condition(&p3, "E11.9", &e5, "active", recorded("2026-01-12")),
    );
    // p1 J06.9 on 01-11 → JC 2026 w2; p2 J06.9 on Saturday 01-17 at DF → DF 2026 w2.
    created(
        &node,
        &condition(&p1, "J06.9", &e1, "active", recorded("2026-01-11")),
    );
    created(
        &node,
        &condition(&p2, "J06.9", &e2, "active", recorded("2026-01-17")),
    );
    // p4 J06.9 entered in error: never a case.
    let mut voided = condition(&p4, "J06.9", &e1, "active", recorded("2026-01-12"));
    voided["verificationStatus"] = json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}]});
    created(&node, &voided);
    // p4 A90 on 01-18 at JC → JC 2026 w3 A90; p4 E11.9 on 03-10 at JC → JC 2026 w10 E11.9.
    created(
        &node,
        &condition(&p4, "A90", &e1, "active", recorded("2026-01-18")),
    );
    created(
        &node,
        &condition(&p4, "E11.9", &e1, "active", recorded("2026-03-10")),
    );
    // p6 had diabetes recorded as resolved: not in the diabetes report; p6's case was in 2024.
    created(
        &node,
        &condition(&p6, "E11.9", &e6, "resolved", recorded("2024-03-01")),
    );
    // p5 J06.9 after the period (2026-03-15, week 11): not listed.
    created(
        &node,
        &condition(&p5, "J06.9", &e1, "active", recorded("2026-03-15")),
    );

    // HbA1c. The 12 months up to 2026-06-30 are 2025-07-01 ..= 2026-06-30.
    // p1: 8.1 % then 6.5 % (latest, controlled).
    created(&node, &hba1c(&p1, "2025-08-01T09:00:00-06:00", 8.1));
    created(&node, &hba1c(&p1, "2026-05-01T09:00:00-06:00", 6.5));
    // p2: only 2025-06-30, a day too early: no HbA1c in the window.
    created(&node, &hba1c(&p2, "2025-06-30T09:00:00-06:00", 6.0));
    // p3: 6.2 % in February; 7.0 % at 23:00 on 06-30 local (05:00 UTC on 07-01), the latest
    // in the window and not below 7; 5.0 % on 07-02, after as_of.
    created(&node, &hba1c(&p3, "2026-02-01T09:00:00-06:00", 6.2));
    created(&node, &hba1c(&p3, "2026-06-30T23:00:00-06:00", 7.0));
    created(&node, &hba1c(&p3, "2026-07-02T09:00:00-06:00", 5.0));
    // p4 (registered at DF): 7.5 %, not controlled.
    created(&node, &hba1c(&p4, "2026-01-15T09:00:00-06:00", 7.5));
    // p5 and p6 are not diabetic (p6's diabetes is resolved): their values do not count.
    created(&node, &hba1c(&p5, "2026-01-15T09:00:00-06:00", 6.0));
    created(&node, &hba1c(&p6, "2026-01-15T09:00:00-06:00", 6.0));

    let epi = account(&data, "epi", "epidemiologist", &[]);
    let system = test_token();

    let new_cases = "\
state,epi_year,epi_week,cie10,cases
DF,2025,53,A90,1
DF,2026,2,J06.9,1
JC,2026,1,A90,1
JC,2026,1,E11.9,2
JC,2026,2,J06.9,1
JC,2026,3,A90,1
JC,2026,10,E11.9,1
";
    let consultations = "\
clues,date,consultations
DFSSA004321,2026-01-03,1
JCSSA001234,2026-01-04,1
JCSSA001234,2026-01-10,1
";
    // JC: p1, p2, p3 diabetic; p1 and p3 with an HbA1c in the window; p1 controlled.
    // DF: p4, with one, not controlled.
    let diabetes = "\
clues,patients,with_hba1c_12m,controlled
DFSSA004321,1,1,0
JCSSA001234,3,2,1
";
    for token in [epi.as_str(), system] {
        for (path, want) in [
            (
                "reports/new-cases.csv?from=2026-01-01&to=2026-03-14",
                new_cases,
            ),
            (
                "reports/consultations.csv?from=2026-01-03&to=2026-01-10",
                consultations,
            ),
            ("reports/diabetes-control.csv?as_of=2026-06-30", diabetes),
        ] {
            let (status, kind, body) = report(&node, token, path);
            assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
            assert!(kind.starts_with("text/csv"), "{path}: {kind}");
            assert!(!body.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
            assert_eq!(String::from_utf8(body).unwrap(), want, "{path}");
        }
    }
    // Both ends are inclusive: a one-day period holds that day's consultation only.
    let (_, _, body) = report(
        &node,
        &epi,
        "reports/consultations.csv?from=2026-01-10&to=2026-01-10",
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "clues,date,consultations\nJCSSA001234,2026-01-10,1\n"
    );
    // Only weeks in the period: the week-53 case of 2026-01-03 is outside 01-04 .. 01-10.
    let (_, _, body) = report(
        &node,
        &epi,
        "reports/new-cases.csv?from=2026-01-04&to=2026-01-10",
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "state,epi_year,epi_week,cie10,cases\nJC,2026,1,A90,1\nJC,2026,1,E11.9,2\n"
    );
    // No names and no ids leave in any report.
    for path in [
        "reports/new-cases.csv?from=2020-01-01&to=2026-12-31",
        "reports/diabetes-control.csv?as_of=2026-06-30",
    ] {
        let (_, _, body) = report(&node, &epi, path);
        let text = String::from_utf8(body).unwrap();
        for id in [&p1, &p2, &p3, &p4, &jc, &df] {
            assert!(!text.contains(id.as_str()), "{path} leaks {id}");
        }
        assert!(!text.contains("Prueba"));
    }
    // The public, de-identified variant: the same rows, every count from 1 to 4 as `<5`
    // (zeros stay: an empty cell names nobody).
    for (path, want) in [
        (
            "reports/diabetes-control.csv?as_of=2026-06-30&publico=1",
            "clues,patients,with_hba1c_12m,controlled\nDFSSA004321,<5,<5,0\nJCSSA001234,<5,<5,<5\n",
        ),
        (
            "reports/new-cases.csv?publico=1&from=2026-01-04&to=2026-01-10",
            "state,epi_year,epi_week,cie10,cases\nJC,2026,1,A90,<5\nJC,2026,1,E11.9,<5\n",
        ),
        (
            "reports/consultations.csv?from=2026-01-10&to=2026-01-10&publico=1",
            "clues,date,consultations\nJCSSA001234,2026-01-10,<5\n",
        ),
        (
            "reports/consultations.csv?from=2026-01-10&to=2026-01-10&publico=0",
            "clues,date,consultations\nJCSSA001234,2026-01-10,1\n",
        ),
    ] {
        let (status, _, body) = report(&node, &epi, path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(String::from_utf8(body).unwrap(), want, "{path}");
    }
    let wrong = get_as(
        &node,
        &epi,
        "reports/consultations.csv?from=2026-01-10&to=2026-01-10&publico=tal-vez",
    );
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.text.contains("«publico» debe ser 1 o 0"),
        "{}",
        wrong.text
    );
}

#[test]
fn reports_refuse_bad_parameters_and_other_roles_and_are_audited() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let node = Node::start_in(&data);
    let epi = account(&data, "epi", "epidemiologist", &[]);
    for (path, es, en) in [
        (
            "reports/new-cases.csv?from=2026-13-01&to=2026-01-31",
            "fecha AAAA-MM-DD válida",
            "valid date YYYY-MM-DD",
        ),
        (
            "reports/new-cases.csv?from=2026-01-01",
            "Falta el parámetro «to»",
            "Missing parameter 'to'",
        ),
        (
            "reports/consultations.csv?from=2026-02-01&to=2026-01-01",
            "es posterior a «to»",
            "is after 'to'",
        ),
        (
            "reports/consultations.csv?form=2026-01-01&to=2026-01-31",
            "Parámetros desconocidos: form",
            "Unknown parameters: form",
        ),
        (
            "reports/diabetes-control.csv",
            "Falta el parámetro «as_of»",
            "Missing parameter 'as_of'",
        ),
        (
            "reports/diabetes-control.csv?as_of=2026-01-01&as_of=2026-02-01",
            "más de una vez",
            "more than once",
        ),
    ] {
        let answer = get_as(&node, &epi, path);
        assert_eq!(answer.status, 400, "{path}: {}", answer.text);
        assert_eq!(answer.body["resourceType"], "OperationOutcome", "{path}");
        assert!(answer.text.contains(es), "{path}: {}", answer.text);
        assert!(answer.text.contains(en), "{path}: {}", answer.text);
    }
    // Only epidemiologists and integrations: clinicians and auditors are refused, and an
    // anonymous request is not authenticated.
    let physician = account(&data, "medica", "physician", &["--clues", CLUES_JC]);
    let auditor = account(&data, "auditora", "auditor", &[]);
    for token in [&physician, &auditor] {
        let answer = get_as(
            &node,
            token,
            "reports/diabetes-control.csv?as_of=2026-06-30",
        );
        assert_eq!(answer.status, 403, "{}", answer.text);
    }
    let anonymous = anonymous_client()
        .get(url_of(
            &node,
            "reports/new-cases.csv?from=2026-01-01&to=2026-01-31",
        ))
        .send()
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    // A good request.
    let ok = get_as(
        &node,
        &epi,
        "reports/new-cases.csv?from=2026-01-01&to=2026-01-31",
    );
    assert_eq!(ok.status, 200);
    // Every request is in the trail: the good one, the refused ones, with their parameters.
    let mut trail = String::new();
    for _ in 0..50 {
        trail = get_as(&node, &auditor, "fhir/AuditEvent?agent=epi&_count=100").text;
        if trail.contains("from=2026-01-01 to=2026-01-31") && trail.contains("as_of=2026-01-01") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        trail.contains("reporte new-cases from=2026-01-01 to=2026-01-31"),
        "{trail}"
    );
    assert!(
        trail.contains("reporte diabetes-control as_of=2026-01-01"),
        "{trail}"
    );
    let physician_trail = get_as(&node, &auditor, "fhir/AuditEvent?agent=medica&_count=100").text;
    assert!(
        physician_trail.contains("reporte diabetes-control"),
        "{physician_trail}"
    );
}

fn prescription(patient: &str, encounter: &str, cnis: &str, when: &str, quantity: u32) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "status": "completed",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": "https://expediente.salud.gob.mx/fhir/sid/cnis", "code": cnis, "display": "Paracetamol. Tableta 500 mg"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "encounter": {"reference": format!("Encounter/{encounter}")},
        "authoredOn": when,
        "dispenseRequest": {"quantity": {"value": quantity, "unit": "tableta"}}
    })
}

#[test]
fn medicine_demand_is_counted_per_month_and_forecast_from_the_trend() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let node = Node::start_in(&data);
    let jc = created(
        &node,
        &json!({"resourceType": "Organization",
                "identifier": [{"system": CLUES_SYSTEM, "value": CLUES_JC}], "name": "Centro JC"}),
    );
    let p = registered(&node, "Uno", &jc);
    let provider = json!({"reference": format!("Organization/{jc}")});
    let visit = created(
        &node,
        &encounter(&p, "AMB", "finished", provider, "2026-01-05T09:00:00-06:00"),
    );
    const KEY: &str = "010.000.0104.00";
    // January 20 tablets, February 30, March 40 (two prescriptions: 25 + 15): a trend of +10
    // a month. 01:00 UTC on 1 April is 31 March in Mexico City. A cancelled one never counts.
    for (when, quantity) in [
        ("2026-01-10T10:00:00-06:00", 20),
        ("2026-02-10T10:00:00-06:00", 30),
        ("2026-03-02T10:00:00-06:00", 25),
        ("2026-04-01T01:00:00Z", 15),
    ] {
        created(&node, &prescription(&p, &visit, KEY, when, quantity));
    }
    let mut cancelled = prescription(&p, &visit, KEY, "2026-03-03T10:00:00-06:00", 500);
    cancelled["status"] = json!("cancelled");
    created(&node, &cancelled);
    let epi = account(&data, "epi", "epidemiologist", &[]);
    let (status, kind, body) = report(&node, &epi, "reports/medicine-demand.csv?month=2026-03");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(kind.starts_with("text/csv"));
    // The months held start with the first prescription: January 20, February 30, March 40.
    // The least-squares line through them is 20 + 10x: April..June 50, 60, 70.
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "clues,cnis,month,kind,prescriptions,units\n\
         JCSSA001234,010.000.0104.00,2026-01,observed,1,20\n\
         JCSSA001234,010.000.0104.00,2026-02,observed,1,30\n\
         JCSSA001234,010.000.0104.00,2026-03,observed,2,40\n\
         JCSSA001234,010.000.0104.00,2026-04,forecast,,50\n\
         JCSSA001234,010.000.0104.00,2026-05,forecast,,60\n\
         JCSSA001234,010.000.0104.00,2026-06,forecast,,70\n"
    );
    let answer = get_as(&node, &epi, "reports/medicine-demand.csv?month=2026-13");
    assert_eq!(answer.status, 400);
    assert!(answer.text.contains("AAAA-MM") && answer.text.contains("YYYY-MM"));

    // The page, signed in as the epidemiologist: the same figures, the row charted with the
    // three observed months and the three forecast ones, and no name.
    let browser = Browser::new(&node);
    let signed = browser.sign_in("epi", PASSWORD, "/ui/demanda-medicamentos");
    assert!(matches!(signed.status, 302 | 303), "{}", signed.body);
    let page = browser.get("/ui/demanda-medicamentos?month=2026-03");
    assert_eq!(page.status, 200, "{}", page.body);
    let row = page
        .body
        .split("<tr class=\"demand-row")
        .nth(1)
        .expect("one row")
        .split("</tr>")
        .next()
        .unwrap_or_default();
    assert!(
        row.contains("data-clues=\"JCSSA001234\" data-cnis=\"010.000.0104.00\""),
        "{row}"
    );
    assert!(row.contains("<td class=\"num last\">40</td>"), "{row}");
    for units in ["50", "60", "70"] {
        assert!(
            row.contains(&format!("<td class=\"num forecast\">{units}</td>")),
            "{row}"
        );
    }
    let chart = page
        .body
        .split("id=\"demand-chart\"")
        .nth(1)
        .expect("a chart");
    assert_eq!(chart.matches("class=\"bar\"").count(), 3, "{chart}");
    assert_eq!(
        chart.matches("class=\"bar forecast\"").count(),
        3,
        "{chart}"
    );
    assert!(
        !page.body.contains("Uno Prueba"),
        "no patient name on the page"
    );
    // A key that matches nothing, a bad month: an empty table, a plain error.
    let page = browser.get("/ui/demanda-medicamentos?month=2026-03&clave=999");
    assert!(page.body.contains("class=\"empty\""), "{}", page.body);
    let page = browser.get("/ui/demanda-medicamentos?month=2026-13");
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("AAAA-MM"), "{}", page.body);
}

fn immunization(patient: &str, cvx: &str, dose: Option<u32>, when: &str, status: &str) -> Value {
    let mut i = json!({
        "resourceType": "Immunization",
        "status": status,
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": cvx}]},
        "patient": {"reference": format!("Patient/{patient}")},
        "occurrenceDateTime": when
    });
    if let Some(n) = dose {
        i["protocolApplied"] = json!([{"doseNumberPositiveInt": n}]);
    }
    i
}

#[test]
fn vaccination_coverage_counts_each_dose_by_facility_and_birth_cohort() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let node = Node::start_in(&data);
    let jc = created(
        &node,
        &json!({"resourceType": "Organization",
                "identifier": [{"system": CLUES_SYSTEM, "value": CLUES_JC}], "name": "CS Jalisco"}),
    );
    let born = |given: &str, birth: &str, org: Option<&str>| {
        let mut p = patient(given, "Cartilla", birth, "female");
        if let Some(org) = org {
            p["managingOrganization"] = json!({"reference": format!("Organization/{org}")});
        }
        created(&node, &p)
    };
    // As of 2026-06-30: A is 15 months old, B 12 months and 29 days.
    let a = born("Ana", "2025-03-10", Some(&jc));
    let b = born("Bea", "2025-06-01", Some(&jc));
    // Eleven years old: outside the 0-9 cohorts. Not registered anywhere: no facility.
    let old = born("Olga", "2015-01-01", Some(&jc));
    let nowhere = born("Nadia", "2025-03-10", None);
    for i in [
        immunization(&a, "19", Some(1), "2025-03-10", "completed"),
        // Two unnumbered hexavalent doses: the first and second by date.
        immunization(&a, "146", None, "2025-07-15", "completed"),
        immunization(&a, "146", None, "2025-05-12", "completed"),
        immunization(&b, "19", Some(1), "2025-06-02", "completed"),
        // Not done, and given after `as_of`: neither counts.
        immunization(&b, "08", Some(1), "2025-06-02", "not-done"),
        immunization(&b, "116", Some(1), "2026-07-02", "completed"),
        // B's first MMR: given, but B is not yet in that dose's denominator.
        immunization(&b, "03", Some(1), "2026-06-10", "completed"),
        immunization(&old, "19", Some(1), "2015-01-01", "completed"),
        immunization(&nowhere, "19", Some(1), "2025-03-10", "completed"),
    ] {
        created(&node, &i);
    }
    let epi = account(&data, "epi", "epidemiologist", &[]);
    // Overdue (due age + 30 days passed) by 2026-06-30: for both, BCG, hepatitis B,
    // hexavalent 1-3, rotavirus 1-3, pneumococcal 1-2; for A also pneumococcal 3 and MMR 1
    // (12 months + 30 days); hexavalent 4 and MMR 2 (18 months) for neither.
    let want = "\
clues,birth_year,cvx,vaccine,dose,eligible,vaccinated
JCSSA001234,2025,19,BCG,1,2,2
JCSSA001234,2025,08,Hepatitis B,1,2,0
JCSSA001234,2025,146,Hexavalente,1,2,1
JCSSA001234,2025,146,Hexavalente,2,2,1
JCSSA001234,2025,146,Hexavalente,3,2,0
JCSSA001234,2025,116,Rotavirus,1,2,0
JCSSA001234,2025,116,Rotavirus,2,2,0
JCSSA001234,2025,116,Rotavirus,3,2,0
JCSSA001234,2025,133,Neumocócica conjugada,1,2,0
JCSSA001234,2025,133,Neumocócica conjugada,2,2,0
JCSSA001234,2025,133,Neumocócica conjugada,3,1,0
JCSSA001234,2025,03,\"SRP (sarampión, rubéola, parotiditis)\",1,1,0
";
    let (status, kind, body) = report(
        &node,
        &epi,
        "reports/vaccination-coverage.csv?as_of=2026-06-30",
    );
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/csv"));
    assert_eq!(String::from_utf8(body).unwrap(), want);
    // The public variant: every count from 1 to 4 as `<5`.
    let (_, _, body) = report(
        &node,
        &epi,
        "reports/vaccination-coverage.csv?as_of=2026-06-30&publico=1",
    );
    let public = String::from_utf8(body).unwrap();
    assert!(
        public.contains("JCSSA001234,2025,19,BCG,1,<5,<5\n"),
        "{public}"
    );
    assert!(
        public.contains("JCSSA001234,2025,08,Hepatitis B,1,<5,0\n"),
        "{public}"
    );
    // Nominal roles get no aggregate: a physician is refused.
    let physician = account(&data, "medica", "physician", &["--clues", CLUES_JC]);
    let (status, _, _) = report(
        &node,
        &physician,
        "reports/vaccination-coverage.csv?as_of=2026-06-30",
    );
    assert_eq!(status, 403);

    // The page. With a second state, the national account first sees each state per dose
    // (every cohort together), each state linking to its facility rows.
    let df = created(
        &node,
        &json!({"resourceType": "Organization",
                "identifier": [{"system": CLUES_SYSTEM, "value": "DFSSA004321"}], "name": "CS CDMX"}),
    );
    let d = born("Dora", "2025-03-10", Some(&df));
    created(
        &node,
        &immunization(&d, "19", Some(1), "2025-03-11", "completed"),
    );
    let browser = Browser::new(&node);
    let signed = browser.sign_in("epi", PASSWORD, "/ui/cobertura-vacunacion");
    assert!(matches!(signed.status, 302 | 303), "{}", signed.body);
    let page = browser.get("/ui/cobertura-vacunacion?as_of=2026-06-30");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        !page.body.contains("class=\"coverage-row\""),
        "{}",
        page.body
    );
    let bcg = |state: &str| {
        page.body
            .split(&format!("data-state=\"{state}\" data-dose=\"BCG 1\""))
            .nth(1)
            .and_then(|rest| rest.split("</tr>").next())
            .unwrap_or_default()
            .to_string()
    };
    let (jalisco, cdmx) = (bcg("JC"), bcg("DF"));
    assert!(
        jalisco.contains("<td class=\"num eligible\">2</td>"),
        "{jalisco}"
    );
    assert!(cdmx.contains("<td class=\"num eligible\">1</td>"), "{cdmx}");
    assert!(cdmx.contains("estado=DF"), "{cdmx}");
    let page = browser.get("/ui/cobertura-vacunacion?as_of=2026-06-30&estado=DF");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("data-clues=\"DFSSA004321\""),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("data-clues=\"JCSSA001234\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("coverage-state"), "{}", page.body);
    // Narrowed by CLUES: that facility's rows only.
    let page = browser.get("/ui/cobertura-vacunacion?as_of=2026-06-30&estado=JC&clues=jcssa001234");
    assert!(
        page.body.contains("data-clues=\"JCSSA001234\""),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("Cartilla"),
        "no patient name on the page"
    );
}
