//! Issue 16: chronic-disease control per facility, as the epidemiologist sees it.

use std::collections::{BTreeMap, HashSet};

use crate::harness::{self, Ui, id, managing_org};

#[tokio::test(flavor = "multi_thread")]
async fn the_epidemiologist_sees_diabetes_and_hypertension_control_per_facility() {
    let ui = Ui::start("chronic").await;
    ui.sign_in_as("epidemiologa").await;
    ui.navigate_by("#nav-chronic").await;
    assert!(
        ui.text("h1")
            .await
            .contains("Control de enfermedades crónicas")
    );
    ui.screenshot("chronic").await;

    // Diabetic patients per facility, counted here from the demo data: registered there, with
    // an active Condition coded E10–E14.
    let diabetic: HashSet<String> = harness::demo_resources("Condition")
        .iter()
        .filter(|c| c["clinicalStatus"]["coding"][0]["code"] == "active")
        .filter(|c| {
            c["code"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| {
                    k["system"] == "http://hl7.org/fhir/sid/icd-10"
                        && k["code"].as_str().is_some_and(|code| {
                            ["E10", "E11", "E12", "E13", "E14"].contains(&&code[..3])
                        })
                })
        })
        .filter_map(|c| c["subject"]["reference"].as_str())
        .map(|r| r.trim_start_matches("Patient/").to_string())
        .collect();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for patient in &ui.demo.patients {
        if !diabetic.contains(id(patient)) {
            continue;
        }
        if let Some(org) = managing_org(patient) {
            let clues = ui.demo.organizations[org].1.clone();
            *expected.entry(clues).or_default() += 1;
        }
    }
    assert!(!expected.is_empty(), "the demo has diabetic patients");
    let mut shown: BTreeMap<String, u64> = BTreeMap::new();
    for row in ui
        .client
        .find_all(fantoccini::Locator::Css("#diabetes tr.control-row"))
        .await
        .unwrap()
    {
        let clues = row.attr("data-clues").await.unwrap().unwrap();
        let patients = row
            .find(fantoccini::Locator::Css("td.patients"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        shown.insert(clues, patients.parse().unwrap());
    }
    assert_eq!(shown, expected);
    assert!(ui.exists("#diabetes svg.share").await);
    assert!(ui.text("#hypertension").await.contains("140/90"));

    // No names on the page.
    let page = ui.text("body").await;
    for patient in &ui.demo.patients {
        let (given, family, _) = harness::names(patient);
        assert!(!page.contains(&format!("{given} {family}")));
    }
    // A bad date is refused with a plain message, not a crash.
    ui.goto("/ui/control-cronico?as_of=2026-02-30").await;
    assert!(ui.exists(".errors").await);
}
