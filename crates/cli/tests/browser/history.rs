//! Issue 13, history that can be read: any past visit opens (from any clinic), the timeline is
//! paginated, lab results keep their flags and reference ranges, charts have axes and values,
//! and growth charts are readable on a tablet.

use serde_json::json;

use crate::harness::{self, Ui, id};

#[tokio::test(flavor = "multi_thread")]
async fn a_past_visit_from_another_clinic_opens_and_the_timeline_is_paginated() {
    let ui = Ui::start("history").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let own_name = ui.demo.org_name(&facility).to_string();
    // The patient of the clinic with the most visits, seen at two clinics or more.
    let patient = ui
        .demo
        .in_care_at_two_clinics(&facility)
        .into_iter()
        .max_by_key(|p| ui.demo.count(id(p), "Encounter"))
        .unwrap();
    let pid = id(patient);
    let visits = ui.demo.count(pid, "Encounter");
    assert!(
        visits > 20,
        "a patient with more than one page of visits: {visits}"
    );
    // A glucose from another clinic, flagged high against its reference range.
    let other = ui.demo.encounter_orgs[pid]
        .iter()
        .find(|o| **o != facility)
        .unwrap()
        .clone();
    let when = harness::time_of_days_ago(3);
    let encounter = harness::fhir_create(
        &ui,
        &json!({
            "resourceType": "Encounter", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": format!("Patient/{pid}")},
            "period": {"start": when, "end": when},
            "serviceProvider": {"reference": format!("Organization/{other}")}
        }),
    )
    .await;
    harness::fhir_create(
        &ui,
        &json!({
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}], "text": "Glucosa sérica"},
            "subject": {"reference": format!("Patient/{pid}")},
            "encounter": {"reference": format!("Encounter/{}", encounter["id"].as_str().unwrap())},
            "effectiveDateTime": when,
            "valueQuantity": {"value": 187, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
            "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "H"}]}],
            "referenceRange": [{"low": {"value": 70, "unit": "mg/dL"}, "high": {"value": 99, "unit": "mg/dL"}}]
        }),
    )
    .await;
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    // Paginated: one page of visits, and a way to the next.
    let first_page = ui.texts("#timeline li.visit").await;
    assert!(first_page.len() <= 20, "{}", first_page.len());
    let height: i64 = ui
        .client
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap();
    assert!(height < 6_000, "the chart is {height} px tall");
    // Lab results keep the laboratory's flag and the reference range.
    let glucose = ui
        .texts("#lab-results tbody tr")
        .await
        .into_iter()
        .find(|r| r.contains("187"))
        .expect("the glucose is listed");
    assert!(glucose.contains("Alto"), "{glucose}");
    assert!(
        glucose.contains("70") && glucose.contains("99"),
        "{glucose}"
    );
    // Trend charts have axes with values.
    let labels = ui.texts("figure.trend-fig svg text").await;
    assert!(labels.len() >= 4, "{labels:?}");
    assert!(labels.iter().any(|l| l.chars().any(|c| c.is_ascii_digit())));
    ui.screenshot("chart-page-1").await;
    ui.navigate_by("#timeline nav.pager a[rel=next]").await;
    let second_page = ui.texts("#timeline li.visit").await;
    assert!(!second_page.is_empty());
    assert_ne!(first_page[0], second_page[0]);
    ui.screenshot("chart-page-2").await;
    // A visit at another clinic opens with what was done there.
    let mut elsewhere: Vec<String> = Vec::new();
    for page in 1..=5 {
        ui.goto(&format!("/ui/pacientes/{pid}?pagina={page}")).await;
        for row in ui
            .client
            .find_all(fantoccini::Locator::Css("#timeline li.visit"))
            .await
            .unwrap()
        {
            if row.text().await.unwrap().contains(&own_name) {
                continue;
            }
            let link = row
                .find(fantoccini::Locator::Css("a.visit-link"))
                .await
                .unwrap();
            elsewhere.push(link.attr("href").await.unwrap().unwrap());
        }
    }
    assert!(!elsewhere.is_empty(), "visits at other clinics are listed");
    let mut opened = false;
    for href in elsewhere.iter().take(15) {
        ui.goto(href).await;
        let visit = ui.text("#visit").await;
        assert!(!visit.contains(&own_name), "{visit}");
        assert!(visit.contains("CLUES"), "{visit}");
        if ui.exists("#visit-vitals").await || ui.exists("#visit-prescriptions").await {
            opened = true;
            ui.screenshot("past-visit").await;
            break;
        }
    }
    assert!(
        opened,
        "a past visit at another clinic opened with its vitals or prescriptions"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_growth_chart_is_readable_on_a_tablet() {
    let ui = Ui::start("growth").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    // A child under five of the clinic, with the most measurements.
    let today = harness::today_iso();
    let five_years_ago = format!("{}{}", today[..4].parse::<i32>().unwrap() - 5, &today[4..]);
    let child = ui
        .demo
        .patients
        .iter()
        .filter(|p| harness::managing_org(p) == Some(facility.as_str()))
        .filter(|p| p["birthDate"].as_str().unwrap_or_default() > five_years_ago.as_str())
        .max_by_key(|p| ui.demo.count(id(p), "Observation"))
        .expect("a child under five at the clinic");
    ui.goto(&format!("/ui/pacientes/{}", id(child))).await;
    let growth = ui.css("svg.growth").await;
    let (_, _, width, height) = growth.rectangle().await.unwrap();
    assert!(width >= 500.0, "the growth chart is {width} px wide");
    assert!(height >= 250.0, "the growth chart is {height} px tall");
    // Its labels are readable: at least 11 px on screen.
    let smallest: f64 = ui
        .client
        .execute(
            "return Math.min(...[...document.querySelectorAll('svg.growth text')]\
               .map(t => t.getBoundingClientRect().height));",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(smallest >= 11.0, "labels {smallest} px high");
    let labels = ui.texts("svg.growth text").await;
    assert!(labels.iter().any(|l| l.contains("P50")), "{labels:?}");
    assert!(
        labels.iter().any(|l| l.contains("kg") || l.contains("cm")),
        "{labels:?}"
    );
    ui.screenshot("growth").await;
}
