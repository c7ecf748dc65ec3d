//! Issue 13, a record that can be corrected: allergies added, refuted and denied ("niega
//! alergias"), the one allergy banner on every page about the patient, problems resolved and
//! marked chronic.

use crate::harness::{self, Ui, id};
use crate::prescribing::{add_diagnosis, sign_through_acknowledgements};

#[tokio::test(flavor = "multi_thread")]
async fn the_allergy_banner_is_correct_on_every_page_about_the_patient() {
    let ui = Ui::start("banner").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    let pid = id(patient);
    // An egg allergy, added on the allergies screen.
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    ui.navigate_by("#act-allergies").await;
    ui.fill("#substance", "Huevo").await;
    ui.select("#category", "food").await;
    ui.fill("#reaction", "Urticaria").await;
    ui.screenshot("allergies").await;
    ui.navigate_by("#add-allergy").await;
    assert!(ui.text("#allergies-banner").await.contains("Huevo"));
    // A signed note and a referral, so their pages exist.
    ui.goto(&format!("/ui/pacientes/{pid}/consulta")).await;
    ui.fill("#subjective", "Control.").await;
    ui.fill("#dx_query", "I10").await;
    crate::prescribing::prescribe(&ui, 1, "losartan", "1", "24", "30").await;
    ui.click("#lab-2160-0").await;
    sign_through_acknowledgements(&ui).await;
    ui.navigate_by("#timeline li.visit a.note-link").await;
    let note = ui.path().await;
    ui.goto(&format!("/ui/pacientes/{pid}/referencia")).await;
    ui.css("#to option:nth-child(2)")
        .await
        .click()
        .await
        .unwrap();
    ui.fill("#reason", "Valoración por alergología").await;
    ui.navigate_by("#send-referral").await;
    ui.navigate_by("#referrals a").await;
    let referral = ui.path().await;
    let mut pages = vec![
        format!("/ui/pacientes/{pid}"),
        format!("/ui/pacientes/{pid}/consulta"),
        format!("/ui/pacientes/{pid}/referencia"),
        format!("/ui/pacientes/{pid}/resumen"),
        format!("/ui/pacientes/{pid}/bitacora"),
        format!("/ui/pacientes/{pid}/signos-vitales"),
        format!("/ui/pacientes/{pid}/vacunas"),
        format!("/ui/pacientes/{pid}/alergias"),
        format!("/ui/pacientes/{pid}/problemas"),
        format!("/ui/pacientes/{pid}/medicamentos"),
        note.clone(),
        format!("{note}/receta"),
        format!("{note}/estudios"),
        referral.clone(),
        format!("{referral}/imprimir"),
    ];
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    if let Ok(visit) = ui
        .client
        .find(fantoccini::Locator::Css("#timeline a.visit-link"))
        .await
    {
        pages.push(visit.attr("href").await.unwrap().unwrap());
    }
    for page in &pages {
        ui.goto(page).await;
        let banner = ui.text("#allergies-banner").await;
        assert!(banner.contains("Huevo"), "{page}: {banner}");
        assert!(banner.contains("Urticaria"), "{page}: {banner}");
    }
    ui.goto(&format!("{referral}/imprimir")).await;
    ui.screenshot("referral-form").await;
    let form = ui.text("#referral-form").await;
    assert!(form.contains(&ui.demo.organizations[&facility].1), "{form}");
    assert!(form.contains("Valoración por alergología"), "{form}");
    // Refuted: gone from the banner everywhere.
    ui.goto(&format!("/ui/pacientes/{pid}/alergias")).await;
    let huevo = "#allergy-list li[data-substance='Huevo']";
    ui.fill(
        &format!("{huevo} input[name=reason]"),
        "Prueba de provocación negativa",
    )
    .await;
    ui.navigate_by(&format!("{huevo} button[value=refute]"))
        .await;
    for page in &pages {
        ui.goto(page).await;
        let banner = ui.text("#allergies-banner").await;
        assert!(!banner.contains("Huevo"), "{page}: {banner}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_known_allergies_is_recorded_and_an_allergy_replaces_it() {
    let ui = Ui::start("no-known-allergies").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let pid = harness::new_patient(&ui, &facility, "Teresa", "Canul Dzib").await;
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    // Nothing recorded is not the same as "denies allergies".
    let unknown = ui.text("#allergies-banner").await;
    assert!(unknown.contains("No registradas"), "{unknown}");
    ui.navigate_by("#act-allergies").await;
    ui.navigate_by("#no-known-allergies").await;
    let denied = ui.text("#allergies-banner").await;
    assert!(denied.contains("Niega alergias"), "{denied}");
    ui.screenshot("denied").await;
    ui.fill("#substance", "Penicilina").await;
    ui.select("#category", "medication").await;
    ui.select("#criticality", "high").await;
    ui.fill("#reaction", "Anafilaxia").await;
    ui.navigate_by("#add-allergy").await;
    let banner = ui.text("#allergies-banner").await;
    assert!(banner.contains("Penicilina"), "{banner}");
    assert!(!banner.contains("Niega"), "{banner}");
    let recorded =
        harness::fhir_search(&ui, &format!("AllergyIntolerance?patient=Patient/{pid}")).await;
    let penicillin = recorded
        .iter()
        .find(|a| a["code"]["text"] == "Penicilina")
        .unwrap();
    assert_eq!(
        penicillin["verificationStatus"]["coding"][0]["code"],
        "confirmed"
    );
    assert_eq!(penicillin["criticality"], "high");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_problem_is_resolved_and_another_marked_chronic() {
    let ui = Ui::start("problems").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let pid = harness::new_patient(&ui, &facility, "Manuel", "Pech Chi").await;
    ui.goto(&format!("/ui/pacientes/{pid}/consulta")).await;
    ui.fill("#subjective", "Odinofagia de dos días.").await;
    add_diagnosis(&ui, "faringitis", "J02").await;
    add_diagnosis(&ui, "presión alta", "I10").await;
    sign_through_acknowledgements(&ui).await;
    let problems = ui.text("#problems").await;
    assert!(
        problems.contains("J02") && problems.contains("I10"),
        "{problems}"
    );
    ui.navigate_by("#act-problems").await;
    ui.screenshot("problems").await;
    let pharyngitis = "#problem-list li[data-code^='J02']";
    ui.navigate_by(&format!("{pharyngitis} button[value=resolve]"))
        .await;
    let hypertension = "#problem-list li[data-code^='I10']";
    ui.navigate_by(&format!("{hypertension} button[value=chronic]"))
        .await;
    assert!(ui.text("#resolved-problems").await.contains("J02"));
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    let problems = ui.text("#problems").await;
    assert!(!problems.contains("J02"), "{problems}");
    assert!(
        problems.contains("I10") && problems.contains("Crónico"),
        "{problems}"
    );
    let resolved = harness::fhir_search(
        &ui,
        &format!("Condition?subject=Patient/{pid}&clinical-status=resolved"),
    )
    .await;
    assert_eq!(resolved.len(), 1);
    assert!(resolved[0]["abatementDateTime"].is_string());
}
