//! Issue 13, screens for every role: the nurse's vital signs and vaccines, the receptionist's
//! registration with duplicates as a warning, and no action offered that would be refused.

use crate::harness::{self, Ui, id, names};

#[tokio::test(flavor = "multi_thread")]
async fn the_nurse_records_vital_signs_and_a_vaccine_on_her_own_screens() {
    let ui = Ui::start("nurse").await;
    ui.sign_in_as("enfermero").await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    let pid = id(patient);
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    // Only what a nurse may do is offered.
    assert!(
        !ui.exists("#act-consult").await,
        "a nurse is not offered a consultation"
    );
    assert!(!ui.exists("#act-refer").await);
    ui.css("#act-vitals").await;
    ui.css("#act-vaccine").await;
    ui.screenshot("chart").await;
    // Typing the consultation's address gives no form to fill and lose.
    ui.goto(&format!("/ui/pacientes/{pid}/consulta")).await;
    assert!(!ui.exists("#consult-form").await);
    assert!(ui.text("main").await.contains("signos vitales"));

    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    ui.navigate_by("#act-vitals").await;
    for (field, value) in [
        ("#weight_kg", "70.2"),
        ("#height_cm", "158"),
        ("#systolic", "124"),
        ("#diastolic", "78"),
        ("#heart_rate", "76"),
        ("#resp_rate", "17"),
        ("#temperature", "36.7"),
        ("#spo2", "97"),
        ("#glucose", "108"),
        ("#waist_cm", "92"),
    ] {
        ui.fill(field, value).await;
    }
    ui.screenshot("vitals-form").await;
    ui.navigate_by("#save-vitals").await;
    assert!(
        ui.text("[role=status]")
            .await
            .contains("Signos vitales registrados")
    );
    let latest = ui.text("#latest-vitals").await;
    for expected in ["70.2", "124/78", "97", "17", "108"] {
        assert!(latest.contains(expected), "{expected} in {latest}");
    }
    // The vitals are Observations the nurse wrote (vital-signs category).
    let spo2 = harness::fhir_search(
        &ui,
        &format!("Observation?subject=Patient/{pid}&code=59408-5&_sort=-date&_count=1"),
    )
    .await;
    assert_eq!(spo2[0]["valueQuantity"]["value"], 97);

    ui.navigate_by("#act-vaccine").await;
    ui.select("#vaccine", "141").await;
    ui.set_value("#given_on", &harness::today_iso()).await;
    ui.fill("#lot", "FLU-2026-118").await;
    ui.select("#site", "LA").await;
    ui.screenshot("vaccine-form").await;
    ui.navigate_by("#save-vaccine").await;
    assert!(ui.text("[role=status]").await.contains("Vacuna registrada"));
    let vaccines = ui.text("section[aria-labelledby=vac-h]").await;
    assert!(vaccines.contains("Influenza"), "{vaccines}");
    assert!(vaccines.contains(&harness::today_display()), "{vaccines}");
    ui.screenshot("chart-after").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_receptionist_registers_a_near_duplicate_with_a_warning_and_lands_on_the_card() {
    let ui = Ui::start("receptionist").await;
    ui.sign_in_as("recepcion").await;
    let facility = ui.user_facility().await;
    let existing = ui.demo.in_care_at_two_clinics(&facility)[2];
    let (given, first, second) = names(existing);
    ui.goto("/ui/pacientes/nuevo").await;
    ui.fill("#given", &given).await;
    ui.fill("#first_surname", &first).await;
    ui.fill("#second_surname", &second).await;
    ui.set_value("#birth_date", existing["birthDate"].as_str().unwrap())
        .await;
    let sex = if existing["gender"] == "male" {
        "H"
    } else {
        "M"
    };
    ui.select("#sex", sex).await;
    ui.fill("#phone", "9991234567").await;
    ui.navigate_by("#save").await;
    // A warning with the candidates, never a refusal.
    let warning = ui.text("#duplicate-warning").await;
    assert!(warning.contains(&given), "{warning}");
    assert!(!ui.text("main").await.contains("Acceso denegado"));
    ui.screenshot("duplicate-warning").await;
    ui.click("#not_duplicate").await;
    ui.navigate_by("#save").await;
    // Registered: the receptionist lands on the patient's card, not on a refusal.
    let path = ui.path().await;
    assert!(path.contains("/ficha"), "{path}");
    let main = ui.text("main").await;
    assert!(!main.contains("No tiene permiso"), "{main}");
    assert!(
        ui.text("[role=status]")
            .await
            .contains("Paciente registrado")
    );
    let card = ui.text("#patient-card").await;
    assert!(
        card.contains(&given) && card.contains("9991234567"),
        "{card}"
    );
    assert!(ui.text("#alerts").await.contains("Posible duplicado"));
    // Nothing clinical is offered to a receptionist.
    assert!(!ui.exists("#act-consult").await);
    assert!(!ui.exists("#act-vitals").await);
    ui.screenshot("card").await;
    // Opening a chart from the search lands on the card as well.
    ui.goto(&format!("/ui/pacientes/{}", id(existing))).await;
    ui.css("#patient-card").await;
    assert!(!ui.text("main").await.contains("No tiene permiso"));
}
