//! Issue 13, forms that forgive and protect: searches by surname and birth date (and by name
//! alone, paginated), birth dates a day off or with day and month swapped, future dates and
//! overlong names refused in plain words, one signed note for a double submit, and a
//! break-glass page that names the patient, keeps the reason and says when access ends.

use serde_json::json;

use crate::harness::{self, Ui, curp, id, names};

/// A day number's `YYYY-MM-DD` moved by `days`.
fn shifted(date: &str, days: i64) -> String {
    web::dates::iso(web::dates::parse_day(date).unwrap() + days)
}

#[tokio::test(flavor = "multi_thread")]
async fn search_by_surname_and_birth_date_forgives_a_day_off_and_a_swapped_date() {
    let ui = Ui::start("search-forgiving").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let candidates = ui.demo.in_care_at_two_clinics(&facility);
    let patient = candidates[0];
    let (_, first, second) = names(patient);
    let birth = patient["birthDate"].as_str().unwrap();
    let search = |surnames: String, date: String| {
        let ui = &ui;
        async move {
            ui.goto("/ui/buscar").await;
            ui.fill("#surnames", &surnames).await;
            ui.set_value("#birth_date", &date).await;
            ui.navigate_by("form[aria-labelledby=by-name] button").await;
        }
    };
    // Surnames and birth date, no given name: found, no raw error.
    search(format!("{first} {second}"), birth.to_string()).await;
    let rows = ui.text("table.results").await;
    assert!(rows.contains(curp(patient).unwrap()), "{rows}");
    assert!(
        !ui.text("main").await.contains("Patient."),
        "no validator text"
    );
    ui.screenshot("surname-and-date").await;
    // One day off: found, and marked as such.
    search(format!("{first} {second}"), shifted(birth, 1)).await;
    let row = ui
        .texts("table.results tr.patient-row")
        .await
        .into_iter()
        .find(|r| r.contains(curp(patient).unwrap()))
        .expect("found with the date one day off");
    assert!(row.contains("un día"), "{row}");
    // Day and month swapped (a patient born on a day that can be a month).
    let swappable = candidates
        .iter()
        .find(|p| {
            let date = p["birthDate"].as_str().unwrap();
            let (month, day) = (&date[5..7], &date[8..10]);
            day <= "12" && day != month
        })
        .unwrap();
    let date = swappable["birthDate"].as_str().unwrap();
    let swapped = format!("{}-{}-{}", &date[..4], &date[8..10], &date[5..7]);
    let (_, s_first, s_second) = names(swappable);
    search(format!("{s_first} {s_second}"), swapped).await;
    let row = ui
        .texts("table.results tr.patient-row")
        .await
        .into_iter()
        .find(|r| r.contains(curp(swappable).unwrap()))
        .expect("found with day and month swapped");
    assert!(row.contains("día y mes"), "{row}");
    ui.screenshot("swapped-date").await;
    // A surname alone: every match, a page at a time.
    let mut counts = std::collections::HashMap::new();
    for p in &ui.demo.patients {
        *counts.entry(names(p).1).or_insert(0) += 1;
    }
    let (common, n) = counts.into_iter().max_by_key(|(_, n)| *n).unwrap();
    // More people with that surname than a page holds.
    for extra in n..25 {
        harness::fhir_create(
            &ui,
            &json!({
                "resourceType": "Patient",
                "name": [{"use": "official", "family": format!("{common} Pérez"), "given": [format!("Persona{extra}")]}],
                "gender": "female", "birthDate": "1980-01-01"
            }),
        )
        .await;
    }
    ui.goto("/ui/buscar").await;
    ui.fill("#surnames", &common).await;
    ui.navigate_by("form[aria-labelledby=by-name] button").await;
    let page_one = ui.texts("table.results tr.patient-row").await;
    assert_eq!(page_one.len(), 20, "{page_one:?}");
    ui.navigate_by("nav.pager a[rel=next]").await;
    let page_two = ui.texts("table.results tr.patient-row").await;
    assert!(!page_two.is_empty());
    assert!(page_two.iter().all(|r| !page_one.contains(r)));
    ui.screenshot("surname-page-2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_refuses_future_dates_and_overlong_names_in_plain_words() {
    let ui = Ui::start("register-limits").await;
    ui.sign_in_as("recepcion").await;
    ui.goto("/ui/pacientes/nuevo").await;
    ui.fill("#given", "Lucía").await;
    ui.fill("#first_surname", "Balam").await;
    ui.fill("#second_surname", "Tun").await;
    ui.set_value("#birth_date", &shifted(&harness::today_iso(), 1))
        .await;
    ui.select("#sex", "M").await;
    ui.navigate_by("#save").await;
    assert!(ui.text("#birth_date-error").await.contains("futura"));
    assert_eq!(ui.value("#given").await, "Lucía");
    ui.screenshot("future-date").await;
    // A date that does not exist, as a browser without a date picker sends it (a plain text
    // field): a plain message, no validator text.
    ui.client
        .execute(
            "const d = document.querySelector('#birth_date'); d.type = 'text'; d.value = '2019-02-30';",
            vec![],
        )
        .await
        .unwrap();
    ui.navigate_by("#save").await;
    assert!(ui.text("#birth_date-error").await.contains("no existe"));
    let main = ui.text("main").await;
    assert!(
        !main.contains("Patient.") && !main.contains("birthDate"),
        "{main}"
    );
    // A 3,000-character name (pasted past the field's limit): refused, and the page stays a page.
    ui.set_value("#given", &"Ximena".repeat(500)).await;
    ui.set_value("#birth_date", "1990-03-04").await;
    ui.navigate_by("#save").await;
    assert!(ui.text("#given-error").await.contains("caracteres"));
    let height: i64 = ui
        .client
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(height < 3_000, "the page is {height} px tall");
    let width: i64 = ui
        .client
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(width <= 1_200, "the page is {width} px wide");
    ui.screenshot("overlong-name").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_concurrent_submits_of_a_note_sign_it_once() {
    let ui = Ui::start("double-submit").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    let pid = id(patient);
    let count = || async {
        harness::fhir_search(
            &ui,
            &format!("Composition?subject=Patient/{pid}&_count=500"),
        )
        .await
        .len()
    };
    let before = count().await;
    ui.goto(&format!("/ui/pacientes/{pid}/consulta")).await;
    ui.fill("#subjective", "Doble envío").await;
    ui.fill("#dx_query", "I10").await;
    let statuses = ui
        .client
        .execute(
            "const form = document.querySelector('#consult-form');\
             const body = new URLSearchParams(new FormData(form));\
             body.set('action', 'sign');\
             return Promise.all([1, 2, 3].map(() => fetch(form.getAttribute('action'),\
                 {method: 'POST', body, redirect: 'manual', credentials: 'same-origin'})\
                 .then(r => r.type === 'opaqueredirect' ? 303 : r.status)));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        statuses,
        json!([303, 303, 303]),
        "every submit answers as signed"
    );
    assert_eq!(count().await, before + 1, "one note, not three");
    // And the usual double click on the button: still one more.
    ui.goto(&format!("/ui/pacientes/{pid}/consulta")).await;
    ui.fill("#subjective", "Doble clic").await;
    ui.fill("#dx_query", "I10").await;
    ui.client
        .execute(
            "const b = document.querySelector('#sign'); b.click(); b.click();",
            vec![],
        )
        .await
        .unwrap();
    ui.css("[role=status]").await;
    assert_eq!(count().await, before + 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn break_glass_names_the_patient_keeps_the_reason_and_shows_until_when() {
    let ui = Ui::start("break-glass-page").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.outside_care(&facility)[0];
    let pid = id(patient);
    let (given, _, _) = names(patient);
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    // Which patient is being opened.
    let who = ui.text("#bg-patient").await;
    assert!(who.contains(&given), "{who}");
    // A vague reason is refused, and what was typed stays.
    ui.fill("#reason", "urgencia").await;
    ui.navigate_by("#break-glass-open").await;
    assert!(ui.exists("#break-glass .errors").await);
    assert_eq!(ui.value("#reason").await, "urgencia");
    assert!(ui.text("#bg-patient").await.contains(&given));
    ui.screenshot("refused-reason").await;
    ui.fill(
        "#reason",
        "Paciente inconsciente traído por la ambulancia a urgencias",
    )
    .await;
    ui.navigate_by("#break-glass-open").await;
    // The chart says emergency access is active, and until when.
    let banner = ui.text("#emergency-access").await;
    assert!(banner.contains("hasta"), "{banner}");
    assert!(
        banner.contains(&harness::today_display()) || banner.contains(':'),
        "{banner}"
    );
    // Emergency access reads; writing needs care started here, which is offered.
    assert!(!ui.exists("#act-consult").await);
    ui.screenshot("emergency-chart").await;
    ui.fill(
        "#care-reason",
        "Se queda en observación en esta unidad por urgencia",
    )
    .await;
    ui.navigate_by("#start-care").await;
    ui.css("#act-consult").await;
    ui.screenshot("care-started").await;
}
