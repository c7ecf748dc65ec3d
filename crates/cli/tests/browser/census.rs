//! Issue 16: the censo nominal, the clinic's own children with a vaccine dose overdue, for
//! its staff only.

use crate::harness::{self, Ui, id, managing_org};

#[tokio::test(flavor = "multi_thread")]
async fn the_nurse_lists_her_clinics_children_with_overdue_doses_and_no_one_elses() {
    let ui = Ui::start("census").await;
    ui.sign_in_as("enfermero").await;
    let org = ui.user_facility().await;
    ui.navigate_by("#nav-census").await;
    assert!(ui.text("h1").await.contains("Censo nominal de vacunación"));
    ui.screenshot("census").await;

    // The children checked are exactly those registered here aged 0 to 9 (born after this
    // day ten years ago), counted here from the demo data.
    let today = harness::today_iso();
    let ten_years_ago = format!("{}{}", today[..4].parse::<i32>().unwrap() - 10, &today[4..]);
    let ours: Vec<&serde_json::Value> = ui
        .demo
        .patients
        .iter()
        .filter(|p| managing_org(p) == Some(org.as_str()))
        .filter(|p| {
            p["birthDate"]
                .as_str()
                .is_some_and(|b| b > ten_years_ago.as_str())
        })
        .collect();
    assert_eq!(
        ui.text("#census-children").await,
        ours.len().to_string(),
        "children registered at {org}"
    );
    let listed: Vec<String> = {
        let mut ids = Vec::new();
        for row in ui
            .client
            .find_all(fantoccini::Locator::Css("#census-table tbody tr"))
            .await
            .unwrap()
        {
            ids.push(row.attr("data-patient").await.unwrap().unwrap());
        }
        ids
    };
    // Only this clinic's children.
    for listed_id in &listed {
        assert!(
            ours.iter().any(|p| id(p) == listed_id),
            "{listed_id} is not a child registered at {org}"
        );
    }
    // A child older than four months with no vaccine recorded at all is overdue for the
    // two-month doses: listed.
    let vaccinated: std::collections::HashSet<String> = harness::demo_resources("Immunization")
        .iter()
        .filter_map(|i| i["patient"]["reference"].as_str())
        .map(|r| r.trim_start_matches("Patient/").to_string())
        .collect();
    let four_months_ago = harness::time_of_days_ago(123)[..10].to_string();
    for child in &ours {
        let born = child["birthDate"].as_str().unwrap();
        if born < four_months_ago.as_str() && !vaccinated.contains(id(child)) {
            assert!(
                listed.iter().any(|l| l == id(child)),
                "{} unvaccinated",
                id(child)
            );
        }
    }
    // A listed child's chart says the same: an overdue dose.
    if let Some(first) = listed.first() {
        assert_eq!(ui.texts("#census-table tbody tr").await.len(), listed.len());
        ui.goto(&format!("/ui/pacientes/{first}")).await;
        assert!(ui.text("#immunizations").await.contains("Atrasada"));
    }

    // The epidemiologist has no such list.
    ui.goto("/ui/censo-nominal").await;
    ui.navigate_by("form[action='/ui/salir'] button").await;
    ui.sign_in_as("epidemiologa").await;
    assert!(!ui.exists("#nav-census").await);
    ui.goto("/ui/censo-nominal").await;
    assert!(!ui.exists("#census-table").await);
    assert!(ui.text(".errors").await.contains("personal de una unidad"));
}
