//! Issue 13, the NOM-004 nota de evolución: every vital sign with its range check, several
//! CIE-10 diagnoses found with everyday words, prescriptions and orders, plan and prognosis —
//! all of it in the signed note and on the printable forms.

use crate::harness::{self, Ui, curp, id};
use crate::prescribing::{add_diagnosis, prescribe, sign_through_acknowledgements};

#[tokio::test(flavor = "multi_thread")]
async fn a_three_diagnosis_note_shows_its_vitals_prescriptions_and_orders_and_prints() {
    let ui = Ui::start("note-complete").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    let pid = id(patient);
    ui.goto(&format!("/ui/pacientes/{pid}/consulta")).await;
    for (field, value) in [
        ("#weight_kg", "81.5"),
        ("#height_cm", "164"),
        ("#systolic", "138"),
        ("#diastolic", "86"),
        ("#heart_rate", "78"),
        ("#resp_rate", "18"),
        ("#temperature", "36.6"),
        ("#spo2", "96"),
        ("#glucose", "142"),
        ("#waist_cm", "98"),
    ] {
        ui.fill(field, value).await;
    }
    ui.fill(
        "#subjective",
        "Acude a control; refiere apego parcial a la dieta.",
    )
    .await;
    ui.fill("#objective", "Sin edema; pulsos presentes.").await;
    // Three diagnoses, found with the words patients and clinicians use.
    add_diagnosis(&ui, "diabetes tipo 2", "E11").await;
    add_diagnosis(&ui, "presión alta", "I10").await;
    let synonym = ui.text("#diagnoses").await;
    assert!(synonym.contains("I10"), "{synonym}");
    add_diagnosis(&ui, "dislipidemia", "E78").await;
    assert_eq!(ui.texts("#diagnoses li").await.len(), 3);
    ui.select("#dx_kind_1", "follow-up").await;
    ui.select("#dx_kind_2", "follow-up").await;
    ui.select("#dx_kind_3", "first").await;
    ui.screenshot("diagnoses").await;
    prescribe(&ui, 1, "metformina", "1", "12", "30").await;
    ui.click("#lab-4548-4").await;
    ui.click("#lab-24331-1").await;
    ui.fill("#plan", "Dieta y ejercicio; control en un mes.")
        .await;
    ui.fill(
        "#prognosis",
        "Bueno para la vida, reservado para la función",
    )
    .await;
    sign_through_acknowledgements(&ui).await;
    assert!(ui.text("[role=status]").await.contains("Nota firmada"));
    let visit = ui.text("#timeline li.visit").await;
    for code in ["E11", "I10", "E78"] {
        assert!(visit.contains(code), "{code} in {visit}");
    }
    ui.navigate_by("#timeline li.visit a.note-link").await;
    let note = ui.text("#note").await;
    for expected in [
        "Signos vitales",
        "81.5",
        "138/86",
        "SpO₂",
        "96",
        "Frecuencia respiratoria",
        "142",
        "E11",
        "I10",
        "E78",
        "Subsecuente",
        "Primera vez",
        "Metformina",
        "Hemoglobina glucosilada",
        "Perfil de lípidos",
        "Pronóstico",
        "reservado para la función",
    ] {
        assert!(
            note.contains(expected),
            "{expected} not in the signed note: {note}"
        );
    }
    // BMI computed from the plausible weight and height: 81.5 / 1.64² = 30.3.
    assert!(note.contains("30.3"), "{note}");
    ui.screenshot("signed-note").await;
    // The printable lab order carries the studies, the patient's CURP and the CLUES.
    let note_path = ui.path().await;
    ui.navigate_by("#print-orders").await;
    let order = ui.text("#lab-order").await;
    assert!(order.contains("Hemoglobina glucosilada"), "{order}");
    assert!(order.contains(curp(patient).unwrap()), "{order}");
    assert!(
        order.contains(&ui.demo.organizations[&facility].1),
        "{order}"
    );
    ui.css("#lab-order .signature-line").await;
    ui.screenshot("lab-order").await;
    ui.goto(&note_path).await;
    ui.navigate_by("#print-receta").await;
    let receta = ui.text("#receta").await;
    assert!(
        receta.contains("Metformina") && receta.contains("12 horas"),
        "{receta}"
    );
    assert!(receta.contains("30 días"), "{receta}");
    // The printable summary carries the note's diagnoses as active problems.
    ui.goto(&format!("/ui/pacientes/{pid}/resumen")).await;
    let summary = ui.text("#summary").await;
    assert!(summary.contains("E78"), "{summary}");
    // …and the latest note (vitals, diagnoses, treatment, orders, prognosis) and the orders
    // still pending.
    for expected in [
        "Última nota de evolución",
        "138/86",
        "Metformina",
        "reservado para la función",
    ] {
        assert!(summary.contains(expected), "{expected} not in {summary}");
    }
    assert!(
        ui.text("#pending-orders")
            .await
            .contains("Hemoglobina glucosilada")
    );
    ui.screenshot("summary").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_impossible_vital_sign_is_refused_and_an_improbable_one_confirmed() {
    let ui = Ui::start("vitals-checks").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    let pid = id(patient);
    let notes_before = harness::fhir_search(
        &ui,
        &format!("Composition?subject=Patient/{pid}&_count=500"),
    )
    .await
    .len();
    ui.goto(&format!("/ui/pacientes/{pid}/consulta")).await;
    // The absurd values.
    ui.fill("#weight_kg", "8420").await;
    ui.fill("#height_cm", "17").await;
    ui.fill("#heart_rate", "0").await;
    ui.fill("#temperature", "98.6").await;
    ui.fill("#subjective", "Control de hipertensión.").await;
    ui.fill("#dx_query", "I10").await;
    ui.navigate_by("#sign").await;
    // Refused, each next to its field, with what was typed kept.
    assert!(ui.text("#weight_kg-error").await.contains("no es posible"));
    assert!(ui.text("#height_cm-error").await.contains("no es posible"));
    assert!(ui.text("#heart_rate-error").await.contains("no es posible"));
    let temperature = ui.text("#temperature-error").await;
    assert!(temperature.contains("°F"), "{temperature}");
    assert_eq!(ui.value("#weight_kg").await, "8420");
    assert_eq!(ui.value("#subjective").await, "Control de hipertensión.");
    ui.screenshot("refused").await;
    // The unit hint puts the converted value in the field.
    ui.navigate_by("button[name=apply][value^=temperature]")
        .await;
    assert_eq!(ui.value("#temperature").await, "37");
    ui.fill("#weight_kg", "84.2").await;
    ui.fill("#height_cm", "170").await;
    ui.fill("#heart_rate", "72").await;
    // Improbable but possible: asked to confirm, not refused.
    ui.fill("#spo2", "75").await;
    ui.navigate_by("#sign").await;
    assert!(ui.text("#spo2-error").await.contains("Confirme"));
    ui.click("#confirm_spo2").await;
    sign_through_acknowledgements(&ui).await;
    assert!(ui.text("[role=status]").await.contains("Nota firmada"));
    let notes_after = harness::fhir_search(
        &ui,
        &format!("Composition?subject=Patient/{pid}&_count=500"),
    )
    .await
    .len();
    assert_eq!(notes_after, notes_before + 1);
    ui.navigate_by("#timeline li.visit a.note-link").await;
    let note = ui.text("#note").await;
    assert!(note.contains("84.2") && note.contains("37 °C"), "{note}");
    // 84.2 / 1.70² = 29.1; never the 284,613 of the absurd values.
    assert!(note.contains("29.1"), "{note}");
    assert!(!note.contains("8420"), "{note}");
}
