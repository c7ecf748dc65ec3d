//! The clinician's stories, one test each.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use crate::harness::{self, Ui, curp, id, names, password};

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_shows_name_role_and_facility_and_sign_out_ends_the_session() {
    let ui = Ui::start("sign-in").await;
    ui.goto("/ui/buscar").await;
    // Not signed in: sent to the sign-in page.
    assert!(
        ui.path().await.starts_with("/ui/entrar"),
        "{}",
        ui.path().await
    );
    ui.fill("#user", "medica").await;
    ui.fill("#password", "wrong").await;
    ui.navigate_by("button[type=submit].primary").await;
    assert!(ui.text("[role=alert]").await.contains("incorrectos"));
    ui.fill("#password", &password("medica")).await;
    ui.navigate_by("button[type=submit].primary").await;
    let header = ui.text("#usuario").await;
    assert!(header.contains("Dra. Ana López Ruiz"), "{header}");
    assert!(header.to_lowercase().contains("médic"), "{header}");
    let facility = ui.user_facility().await;
    assert!(header.contains(ui.demo.org_name(&facility)));
    assert!(ui.text("#sync").await.contains("Sincronización"));
    ui.screenshot("signed-in").await;
    // English switch keeps the page and translates it.
    ui.navigate_by("a[lang=en]").await;
    assert!(ui.text("h1").await.contains("Find a patient"));
    assert!(ui.text("#usuario").await.contains("Physician"));
    ui.navigate_by("#usuario button").await;
    assert!(ui.path().await.starts_with("/ui/entrar"));
    ui.goto("/ui/buscar").await;
    assert!(ui.path().await.starts_with("/ui/entrar"));
}

#[tokio::test(flavor = "multi_thread")]
async fn find_a_patient_by_curp_and_by_a_misspelt_name() {
    let ui = Ui::start("find").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    let curp = curp(patient).unwrap();
    let (given, first, second) = names(patient);

    // An invalid CURP is reported, by position, without searching.
    ui.fill(
        "#curp",
        &format!(
            "{}1",
            &curp[..17].replace(|c: char| c.is_ascii_digit(), "A")
        ),
    )
    .await;
    ui.navigate_by("form[aria-labelledby=by-curp] button").await;
    assert!(ui.text(".errors").await.contains("CURP no es válida"));

    ui.fill("#curp", &curp.to_lowercase()).await;
    // As typed, the script checks the CURP (progressive enhancement).
    let status = ui.css("#curp-status .ok-text").await.text().await.unwrap();
    assert!(status.contains('✔'), "{status}");
    ui.navigate_by("form[aria-labelledby=by-curp] button").await;
    let row = ui.text(".patient-row").await;
    assert!(row.contains(curp) && row.contains(&given), "{row}");
    ui.screenshot("by-curp").await;

    // A clerk's misspelling of the first surname (one letter), with the birth date.
    let mut misspelt: Vec<char> = first.chars().collect();
    let last = misspelt.len() - 1;
    misspelt[last] = if misspelt[last] == 'z' { 's' } else { 'z' };
    let misspelt: String = misspelt.into_iter().collect();
    ui.goto("/ui/buscar").await;
    ui.fill("#given", &given).await;
    ui.fill("#surnames", &format!("{misspelt} {second}")).await;
    set_value(&ui, "#birth_date", patient["birthDate"].as_str().unwrap()).await;
    ui.navigate_by("form[aria-labelledby=by-name] button").await;
    let rows = ui.text("table.results").await;
    assert!(rows.contains(curp), "{misspelt}: {rows}");
    // Where the person is registered is shown.
    assert!(rows.contains(&ui.demo.organizations[&facility].1), "{rows}");
    ui.screenshot("by-misspelt-name").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn register_a_patient_after_a_duplicate_warning() {
    let ui = Ui::start("register").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let existing = ui.demo.in_care_at_two_clinics(&facility)[1];
    let (given, first, second) = names(existing);
    ui.goto("/ui/pacientes/nuevo").await;
    ui.fill("#given", &given).await;
    ui.fill("#first_surname", &first).await;
    ui.fill("#second_surname", &second).await;
    set_value(&ui, "#birth_date", existing["birthDate"].as_str().unwrap()).await;
    let sex = if existing["gender"] == "male" {
        "H"
    } else {
        "M"
    };
    ui.css("#sex").await.select_by_value(sex).await.unwrap();
    ui.navigate_by("#save").await;
    // Not saved: the likely duplicate is shown first, with the hint of the CURP the data imply.
    let warning = ui.text("#duplicate-warning").await;
    assert!(warning.contains(&given), "{warning}");
    let hint = ui.text("#curp-hint").await;
    let expected_prefix = &curp(existing).unwrap()[..4];
    assert!(
        hint.contains(expected_prefix),
        "{hint} vs {expected_prefix}"
    );
    ui.screenshot("duplicate-warning").await;

    // Someone new: saved, and the chart opens with "CURP pendiente".
    ui.goto("/ui/pacientes/nuevo").await;
    ui.fill("#given", "Xóchitl Itzel").await;
    ui.fill("#first_surname", "Tlapanco").await;
    ui.fill("#second_surname", "Uc").await;
    set_value(&ui, "#birth_date", "1991-07-19").await;
    ui.css("#sex").await.select_by_value("M").await.unwrap();
    ui.css("#birth_state")
        .await
        .select_by_value("YN")
        .await
        .unwrap();
    ui.navigate_by("#save").await;
    assert_eq!(ui.text("#patient-name").await, "Xóchitl Itzel Tlapanco Uc");
    assert!(ui.text("#patient-curp").await.contains("CURP pendiente"));
    assert!(
        ui.text("[role=status]")
            .await
            .contains("Paciente registrado")
    );
    ui.screenshot("registered").await;
}

/// Sets an input's value directly (a `type=date` input's keyboard layout depends on the locale).
async fn set_value(ui: &Ui, selector: &str, value: &str) {
    ui.client
        .execute(
            "document.querySelector(arguments[0]).value = arguments[1];",
            vec![json!(selector), json!(value)],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chart_shows_visits_from_two_clinics() {
    let ui = Ui::start("chart").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    ui.goto(&format!("/ui/pacientes/{}", id(patient))).await;
    assert!(
        ui.text("#patient-curp")
            .await
            .contains(curp(patient).unwrap())
    );
    let facilities: std::collections::HashSet<String> = {
        let mut names = std::collections::HashSet::new();
        for element in ui
            .client
            .find_all(Locator::Css("#timeline .facility"))
            .await
            .unwrap()
        {
            names.insert(element.text().await.unwrap());
        }
        names
    };
    let expected: std::collections::HashSet<String> = ui.demo.encounter_orgs[id(patient)]
        .iter()
        .map(|o| ui.demo.org_name(o).to_string())
        .collect();
    assert!(facilities.len() >= 2, "{facilities:?}");
    assert!(
        facilities.is_subset(&expected),
        "{facilities:?} vs {expected:?}"
    );
    // Header facts and sections are there.
    assert!(ui.text("#allergies-banner").await.contains("ALERGIAS"));
    ui.css("#problems-h").await;
    ui.css("#vac-h").await;
    ui.screenshot("chart").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consultation_warns_of_a_repeated_lab_and_appears_in_the_timeline() {
    let ui = Ui::start("consultation").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    let pid = id(patient);
    // A glucose resulted five days ago at another clinic of the network.
    let other = ui.demo.encounter_orgs[pid]
        .iter()
        .find(|o| **o != facility)
        .unwrap()
        .clone();
    let now = time_of_days_ago(5);
    let encounter = harness::fhir_create(
        &ui,
        &json!({
            "resourceType": "Encounter", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": format!("Patient/{pid}")},
            "period": {"start": now, "end": now},
            "serviceProvider": {"reference": format!("Organization/{other}")}
        }),
    )
    .await;
    harness::fhir_create(
        &ui,
        &json!({
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}], "text": "Glucemia capilar"},
            "subject": {"reference": format!("Patient/{pid}")},
            "encounter": {"reference": format!("Encounter/{}", encounter["id"].as_str().unwrap())},
            "effectiveDateTime": now,
            "valueQuantity": {"value": 187, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}
        }),
    )
    .await;

    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    ui.navigate_by("a[href$='/consulta']").await;
    ui.fill("#weight_kg", "81.5").await;
    ui.fill("#height_cm", "164").await;
    ui.fill("#systolic", "138").await;
    ui.fill("#diastolic", "86").await;
    ui.fill("#subjective", "Sed y poliuria desde hace un mes.")
        .await;
    ui.fill("#objective", "Sin datos de deshidratación.").await;
    ui.fill("#assessment", "Probable diabetes de reciente inicio.")
        .await;
    ui.fill("#dx_query", "diabetes no insulinodependiente")
        .await;
    ui.navigate_by("button[value=cie10]").await;
    let choice = ui.css("input[name=dx_code]").await;
    let code = choice.attr("value").await.unwrap().unwrap();
    choice.click().await.unwrap();
    ui.fill("#plan", "Dieta, ejercicio; control en 1 mes.")
        .await;
    // A formulary medicine with a structured dose (the old free text is still recognised).
    ui.fill("#rx_med_1", "Metformina 850 mg").await;
    ui.fill("#rx_dose_1", "1").await;
    ui.css("#rx_every_1")
        .await
        .select_by_value("12")
        .await
        .unwrap();
    ui.fill("#rx_days_1", "30").await;
    ui.fill("#rx_notes_1", "Con los alimentos").await;
    ui.click("#lab-2339-0").await;
    ui.click("#lab-4548-4").await;
    ui.navigate_by("#sign").await;
    // Not sent: the earlier glucose is shown with its result, date and clinic.
    let warning = ui.text("#repeat-warning").await;
    assert!(warning.contains("187"), "{warning}");
    assert!(warning.contains(ui.demo.org_name(&other)), "{warning}");
    ui.screenshot("repeated-lab").await;
    // The typed note survived the warning.
    assert_eq!(
        ui.css("#subjective")
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap(),
        "Sed y poliuria desde hace un mes."
    );
    ui.click("#confirm_repeat").await;
    ui.navigate_by("#sign").await;
    assert!(ui.text("[role=status]").await.contains("Nota firmada"));
    let first_visit = ui.text("#timeline li.visit").await;
    assert!(first_visit.contains(&code), "{first_visit}");
    assert!(
        first_visit.contains(ui.demo.org_name(&facility)),
        "{first_visit}"
    );
    assert!(ui.text("#medications").await.contains("Metformina"));
    ui.screenshot("timeline").await;
    // The signed note is read-only; a correction is an addendum.
    ui.navigate_by("#timeline li.visit a").await;
    assert!(ui.text("#note").await.contains("Sed y poliuria"));
    assert!(
        ui.client
            .find(Locator::Css("#note textarea"))
            .await
            .is_err()
    );
    ui.fill("#text", "Corrección: la sed inició hace dos meses.")
        .await;
    ui.navigate_by("form[action$=addendum] button").await;
    assert!(ui.text("#addenda").await.contains("dos meses"));
    ui.screenshot("addendum").await;
}

/// A FHIR dateTime `days` ago in Mexico time, from the test machine's clock.
fn time_of_days_ago(days: i64) -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    web::dates::instant_mexico(now_ms - days * 24 * 3600 * 1000)
}

#[tokio::test(flavor = "multi_thread")]
async fn refer_a_patient_and_record_the_counter_referral() {
    let ui = Ui::start("referral").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    ui.goto(&format!("/ui/pacientes/{}/referencia", id(patient)))
        .await;
    let to = ui.css("#to option:nth-child(2)").await;
    let to_name = to.text().await.unwrap();
    to.click().await.unwrap();
    ui.fill("#reason", "Valoración por medicina interna").await;
    ui.fill("#dx_code", "I10").await;
    ui.fill("#treatment", "Losartán 50 mg cada 24 horas").await;
    ui.fill("#summary", "Hipertensión de difícil control.")
        .await;
    ui.screenshot("form").await;
    ui.navigate_by("#send-referral").await;
    assert!(
        ui.text("[role=status]")
            .await
            .contains("Referencia enviada")
    );
    let referrals = ui.text("#referrals").await;
    let to_short = to_name.split(" (").next().unwrap();
    assert!(referrals.contains(to_short), "{referrals}");
    assert!(referrals.contains("Enviada"), "{referrals}");
    ui.navigate_by("#referrals a").await;
    assert!(ui.text("#referral").await.contains("CLUES"));
    ui.fill("#text", "Se ajustó tratamiento; regresa a su unidad.")
        .await;
    ui.navigate_by("form button.primary").await;
    assert!(ui.text("#referral-status").await.contains("Atendida"));
    ui.screenshot("counter-referral").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn print_the_patient_summary() {
    let ui = Ui::start("summary").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    ui.goto(&format!("/ui/pacientes/{}", id(patient))).await;
    ui.navigate_by("a[href$='/resumen']").await;
    let summary = ui.text("#summary").await;
    assert!(summary.contains("Problemas activos"), "{summary}");
    assert!(ui.text("#patient-name").await.contains(&names(patient).0));
    ui.screenshot("summary").await;
    let pdf = ui
        .client
        .print(fantoccini::wd::PrintConfiguration::default())
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"), "not a PDF");
    std::fs::write(harness::artifacts_dir().join("summary.pdf"), &pdf).unwrap();
    // The print style hides the navigation.
    let header_hidden: bool = ui
        .client
        .execute(
            "return [...document.styleSheets].some(s => [...s.cssRules].some(r => \
             r.media && r.media.mediaText === 'print' && r.cssText.includes('.top')));",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(header_hidden);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_without_care_relationship_opens_only_by_break_glass() {
    let ui = Ui::start("break-glass").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.outside_care(&facility)[0];
    ui.goto(&format!("/ui/pacientes/{}", id(patient))).await;
    // Refused: the dialog asks for a reason; the chart is not shown.
    ui.css("#break-glass").await;
    assert!(ui.client.find(Locator::Css("#timeline")).await.is_err());
    ui.screenshot("dialog").await;
    ui.fill("#reason", "Paciente inconsciente en urgencias")
        .await;
    ui.navigate_by("#break-glass-open").await;
    ui.css("#timeline").await;
    ui.navigate_by("a[href$='/bitacora']").await;
    let log = ui.text("#access-log").await;
    assert!(log.contains("Paciente inconsciente en urgencias"), "{log}");
    assert!(log.contains("Dra. Ana López Ruiz"), "{log}");
    ui.screenshot("access-log").await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// Every step works as plain HTML: scripts disabled, the clinician still signs in, finds the
/// patient, opens the chart and signs a note.
#[tokio::test(flavor = "multi_thread")]
async fn the_main_path_works_without_javascript() {
    let ui = Ui::start_with("no-javascript", &["--blink-settings=scriptEnabled=false"]).await;
    ui.goto("/").await;
    ui.fill("#user", "medica").await;
    ui.fill("#password", &password("medica")).await;
    ui.click("button[type=submit].primary").await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    ui.fill("#curp", curp(patient).unwrap()).await;
    // Scripts really are off: the as-you-type CURP check stays silent.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(ui.text("#curp-status").await, "");
    ui.click("form[aria-labelledby=by-curp] button").await;
    ui.click(".patient-row a").await;
    ui.css("#patient-name").await;
    ui.click("a[href$='/consulta']").await;
    ui.fill("#subjective", "Control sin JavaScript").await;
    ui.fill("#dx_query", "I10").await;
    ui.click("#sign").await;
    assert!(ui.text("[role=status]").await.contains("Nota firmada"));
    assert!(ui.text("#timeline li.visit").await.contains("I10"));
    ui.screenshot("signed").await;
}
