//! Issue 16, report 4: medicine demand per facility and CNIS key with its forecast, as the
//! epidemiologist sees it. The figures themselves are checked against a hand-made dataset
//! over HTTP (`it::reports::medicine_demand_is_counted_per_month_and_forecast_from_the_trend`);
//! here, the page in a real browser: reached from the menu, rows of the demo's prescriptions,
//! a row charted on demand with its forecast apart, no names, English, a refused month.

use crate::harness::{self, Ui};

#[tokio::test(flavor = "multi_thread")]
async fn the_epidemiologist_sees_medicine_demand_and_charts_a_key() {
    let ui = Ui::start("demand").await;
    ui.sign_in_as("epidemiologa").await;
    ui.navigate_by("#nav-demand").await;
    assert!(ui.text("h1").await.contains("Demanda de medicamentos"));

    // The newest month with a CNIS-coded prescription in the demo data.
    let month = harness::demo_resources("MedicationRequest")
        .iter()
        .filter(|r| {
            r["medicationCodeableConcept"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["system"] == mexico::systems::CNIS)
        })
        .filter_map(|r| r["authoredOn"].as_str().and_then(|t| t.get(..7)))
        .max()
        .expect("the demo prescribes CNIS-coded medicines")
        .to_string();
    ui.goto(&format!("/ui/demanda-medicamentos?month={month}"))
        .await;
    let keys = ui.texts("#demand tr.demand-row td:nth-child(3)").await;
    assert!(!keys.is_empty(), "rows for {month}");
    assert!(ui.text("#demand thead").await.contains(&month));
    ui.screenshot("demand").await;

    // The last row, charted: its key in the caption, observed and forecast bars apart.
    let last = keys.last().expect("a row").clone();
    ui.navigate_by("#demand tr.demand-row:last-child td:nth-child(3) a")
        .await;
    assert!(ui.path().await.contains("fila="));
    assert!(ui.text("#chart-caption").await.contains(&last));
    ui.css("#demand-chart svg.bars rect.bar").await;
    assert_eq!(
        ui.client
            .find_all(fantoccini::Locator::Css("#demand-chart rect.forecast"))
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(ui.exists("#demand tr.demand-row.selected").await);

    // No names on the page.
    let page = ui.text("body").await;
    for patient in &ui.demo.patients {
        let (given, family, _) = harness::names(patient);
        assert!(!page.contains(&format!("{given} {family}")));
    }
    // English, and a month that does not exist refused with the report's own words.
    ui.navigate_by("a[lang=en]").await;
    assert!(ui.text("h1").await.contains("Medicine demand"));
    ui.goto("/ui/demanda-medicamentos?month=2026-13").await;
    assert!(ui.text(".errors").await.contains("YYYY-MM"));
}
