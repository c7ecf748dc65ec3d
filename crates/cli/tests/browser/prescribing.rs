//! Issue 13, prescribing: the formulary, the checks at prescribing time with the override
//! reason recorded, the printable receta, and a medication list that is reconciled.

use serde_json::json;

use crate::harness::{self, Ui, curp, id};

/// Fills the first prescription row with a formulary medicine and a structured dose.
pub async fn prescribe(ui: &Ui, row: usize, medicine: &str, dose: &str, every_h: &str, days: &str) {
    ui.fill(&format!("#rx_med_{row}"), medicine).await;
    ui.fill(&format!("#rx_dose_{row}"), dose).await;
    ui.select(&format!("#rx_every_{row}"), every_h).await;
    ui.fill(&format!("#rx_days_{row}"), days).await;
}

/// Adds a diagnosis through the CIE-10 picker: searches `query`, picks the first choice whose
/// code starts with `code_prefix`, adds it to the note.
pub async fn add_diagnosis(ui: &Ui, query: &str, code_prefix: &str) {
    ui.fill("#dx_query", query).await;
    ui.navigate_by("button[value=cie10]").await;
    ui.click(&format!("input[name=dx_code][value^='{code_prefix}']"))
        .await;
    ui.navigate_by("button[value=add_dx]").await;
}

/// Signs the note, acknowledging the warnings a demo record may raise on its own (a repeated
/// lab, a drug already active): every visible acknowledgement box is ticked, never an override.
pub async fn sign_through_acknowledgements(ui: &Ui) {
    for _ in 0..3 {
        ui.navigate_by("#sign").await;
        if !ui.exists("#consult-form").await {
            return;
        }
        let mut ticked = false;
        for selector in ["#confirm_repeat", "input[name^=rx_ack_]"] {
            for element in ui
                .client
                .find_all(fantoccini::Locator::Css(selector))
                .await
                .unwrap()
            {
                if element.prop("checked").await.unwrap().as_deref() != Some("true") {
                    element.click().await.unwrap();
                    ticked = true;
                }
            }
        }
        if !ticked {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allergic_patient_gets_the_drug_only_with_a_recorded_reason() {
    let ui = Ui::start("rx-allergy").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    let pid = id(patient);
    // The issue's patient: allergic to NSAIDs (dyspnoea).
    harness::fhir_create(
        &ui,
        &json!({
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}]},
            "category": ["medication"], "criticality": "high",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "372665008", "display": "Non-steroidal anti-inflammatory agent"}], "text": "AINE"},
            "patient": {"reference": format!("Patient/{pid}")},
            "reaction": [{"manifestation": [{"text": "Disnea"}]}]
        }),
    )
    .await;
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    assert!(ui.text("#allergies-banner").await.contains("AINE"));
    ui.navigate_by("#act-consult").await;
    ui.fill("#subjective", "Dolor lumbar de tres días.").await;
    add_diagnosis(&ui, "lumbalgia", "M54").await;
    // The formulary knows naproxen by its generic name; the dose is structured.
    prescribe(&ui, 1, "naproxeno", "1", "12", "5").await;
    ui.navigate_by("#sign").await;
    // Not signed: the allergy blocks, with what was typed kept.
    let findings = ui.text("#rx-findings-1").await;
    assert!(findings.contains("AINE"), "{findings}");
    assert!(ui.exists("#rx-findings-1 .finding.block").await);
    assert_eq!(ui.value("#subjective").await, "Dolor lumbar de tres días.");
    assert_eq!(ui.value("#rx_days_1").await, "5");
    ui.screenshot("blocked").await;
    // Signing again without a reason is still refused.
    ui.navigate_by("#sign").await;
    assert!(ui.text(".errors").await.contains("motivo"));
    // The override reason is recorded.
    let reason = "Sin alternativa analgésica; toleró naproxeno en 2024 sin reacción";
    ui.fill("#rx_override_1", reason).await;
    sign_through_acknowledgements(&ui).await;
    assert!(ui.text("[role=status]").await.contains("Nota firmada"));
    let issues = harness::fhir_search(&ui, &format!("DetectedIssue?patient=Patient/{pid}")).await;
    let recorded = issues
        .iter()
        .find(|i| {
            i["code"]["coding"][0]["code"]
                .as_str()
                .unwrap_or_default()
                .starts_with("ALLERGY")
        })
        .expect("the overridden finding is recorded");
    assert_eq!(recorded["mitigation"][0]["action"]["text"], reason);
    let requests = harness::fhir_search(
        &ui,
        &format!("MedicationRequest?patient=Patient/{pid}&code=010.000.3407.00"),
    )
    .await;
    let request = &requests[0];
    assert_eq!(
        request["dosageInstruction"][0]["timing"]["repeat"]["period"],
        12
    );
    assert_eq!(
        request["dosageInstruction"][0]["timing"]["repeat"]["boundsDuration"]["value"],
        5
    );
    assert!(
        request["dispenseRequest"]["quantity"]["value"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The signed note says what was prescribed and why the alert was overridden.
    ui.navigate_by("#timeline li.visit a.note-link").await;
    let note = ui.text("#note").await;
    assert!(
        note.contains("Naproxeno") && note.contains(reason),
        "{note}"
    );
    // The printable receta, in the layout a pharmacy expects.
    ui.navigate_by("#print-receta").await;
    let receta = ui.text("#receta").await;
    assert!(receta.contains("Dra. Ana López Ruiz"), "{receta}");
    assert!(
        ui.text("#rx-cedula")
            .await
            .chars()
            .any(|c| c.is_ascii_digit())
    );
    assert!(
        receta.contains(&ui.demo.organizations[&facility].1),
        "{receta}"
    );
    assert!(receta.contains(curp(patient).unwrap()), "{receta}");
    assert!(receta.contains(&harness::today_display()), "{receta}");
    assert!(receta.contains("010.000.3407.00"), "{receta}");
    assert!(receta.contains("AINE"), "{receta}");
    ui.css(".signature-line").await;
    ui.screenshot("receta").await;
    let pdf = ui
        .client
        .print(fantoccini::wd::PrintConfiguration::default())
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    std::fs::write(harness::artifacts_dir().join("receta.pdf"), &pdf).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_medication_list_has_one_line_per_drug_and_drugs_can_be_stopped_or_suspended() {
    let ui = Ui::start("rx-reconciled").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let pid = harness::new_patient(&ui, &facility, "Rosalba", "Quintal Euán").await;
    let request = |key: &str, display: &str, days_ago: i64, reason: (&str, &str)| {
        json!({
            "resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "https://expediente.salud.gob.mx/fhir/sid/cnis", "code": key, "display": display}], "text": display},
            "subject": {"reference": format!("Patient/{pid}")},
            "authoredOn": harness::time_of_days_ago(days_ago),
            "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": reason.0}], "text": reason.1}],
            "dosageInstruction": [{"text": "1 tableta cada 12 horas"}]
        })
    };
    let diabetes = ("E11.9", "Diabetes mellitus tipo 2");
    let hypertension = ("I10", "Hipertensión esencial");
    for days in [100, 70, 40] {
        harness::fhir_create(
            &ui,
            &request("010.000.5165.00", "Metformina 850 mg", days, diabetes),
        )
        .await;
    }
    harness::fhir_create(
        &ui,
        &request("010.000.0574.00", "Captopril 25 mg", 300, hypertension),
    )
    .await;
    harness::fhir_create(
        &ui,
        &request("010.000.2520.00", "Losartán 50 mg", 40, hypertension),
    )
    .await;

    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    let current = ui.texts("#medications li.med").await;
    assert_eq!(
        current.iter().filter(|l| l.contains("Metformina")).count(),
        1,
        "one line per drug: {current:?}"
    );
    assert!(
        current.iter().any(|l| l.contains("Losartán")),
        "{current:?}"
    );
    // The captopril the losartan replaced is not listed as current, but as to reconcile.
    assert!(
        !current.iter().any(|l| l.contains("Captopril")),
        "{current:?}"
    );
    assert!(ui.text("#med-review").await.contains("Captopril"));
    ui.screenshot("chart-medications").await;

    ui.navigate_by("#act-meds").await;
    ui.screenshot("medications").await;
    // Stop the captopril, with the reason.
    let captopril = "#med-list li.med[data-drug*='captopril']";
    ui.select(&format!("{captopril} select[name=status]"), "stopped")
        .await;
    ui.fill(
        &format!("{captopril} input[name=reason]"),
        "Sustituido por losartán",
    )
    .await;
    ui.navigate_by(&format!("{captopril} button[type=submit]"))
        .await;
    // Suspend the metformin (every active prescription of it).
    let metformin = "#med-list li.med[data-drug*='metformina']";
    ui.select(&format!("{metformin} select[name=status]"), "on-hold")
        .await;
    ui.fill(
        &format!("{metformin} input[name=reason]"),
        "Hipoglucemias repetidas",
    )
    .await;
    ui.navigate_by(&format!("{metformin} button[type=submit]"))
        .await;
    let history = ui.text("#med-history").await;
    assert!(
        history.contains("Captopril") && history.contains("Sustituido por losartán"),
        "{history}"
    );
    assert!(ui.text(metformin).await.contains("Suspendido"));
    ui.screenshot("medications-after").await;
    let active = harness::fhir_search(
        &ui,
        &format!("MedicationRequest?patient=Patient/{pid}&status=active"),
    )
    .await;
    let names: Vec<&str> = active
        .iter()
        .filter_map(|r| r["medicationCodeableConcept"]["text"].as_str())
        .collect();
    assert_eq!(names, vec!["Losartán 50 mg"], "{names:?}");
    // History keeps every change: the stopped request has its earlier version.
    let stopped = harness::fhir_search(
        &ui,
        &format!("MedicationRequest?patient=Patient/{pid}&status=stopped"),
    )
    .await;
    assert_eq!(stopped[0]["meta"]["versionId"], "2");
    assert_eq!(
        stopped[0]["statusReason"]["text"],
        "Sustituido por losartán"
    );
    // The printed summary keeps the dates.
    ui.goto(&format!("/ui/pacientes/{pid}/resumen")).await;
    let summary = ui.text("#summary").await;
    let losartan_date = web::dates::display_text(&harness::time_of_days_ago(40));
    assert!(summary.contains(&losartan_date), "{summary}");
}
