//! Issue 16: vaccination coverage per facility and birth cohort, as the epidemiologist sees it.

use crate::harness::{self, Ui};

#[tokio::test(flavor = "multi_thread")]
async fn the_epidemiologist_sees_vaccination_coverage_per_facility_and_cohort() {
    let ui = Ui::start("coverage").await;
    ui.sign_in_as("epidemiologa").await;
    ui.navigate_by("#nav-coverage").await;
    assert!(ui.text("h1").await.contains("Cobertura de vacunación"));
    ui.screenshot("coverage").await;

    // The demo's facilities are in one state: its facility rows are shown (a national
    // account over several states first sees a summary per state: it::reports).
    // Every facility row is a cell of counts: vaccinated never above eligible, eligible never
    // zero; narrowed to one facility, only its rows.
    let rows = ui
        .client
        .find_all(fantoccini::Locator::Css("#coverage tr.coverage-row"))
        .await
        .unwrap();
    assert!(!rows.is_empty());
    let mut clues_seen = std::collections::BTreeSet::new();
    for row in rows {
        let clues = row.attr("data-clues").await.unwrap().unwrap();
        let cell = |css: &'static str| {
            let row = row.clone();
            async move {
                row.find(fantoccini::Locator::Css(css))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        let e: u64 = cell("td.eligible").await.parse().unwrap();
        let v: u64 = cell("td.vaccinated")
            .await
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(e > 0 && v <= e, "{e} {v}");
        clues_seen.insert(clues);
    }
    assert!(ui.exists("#coverage svg.share").await);
    let one = clues_seen.iter().next().expect("a facility").clone();
    ui.fill("#clues", &one).await;
    ui.navigate_by("#coverage-form button[type=submit]").await;
    let shown = ui.texts("#coverage tr.coverage-row td:first-child").await;
    assert!(!shown.is_empty());
    assert!(shown.iter().all(|clues| *clues == one), "{shown:?}");
    // No names on the page.
    let page = ui.text("body").await;
    for patient in &ui.demo.patients {
        let (given, family, _) = harness::names(patient);
        assert!(!page.contains(&format!("{given} {family}")));
    }
    // A bad date is refused with a plain message, not a crash.
    ui.goto("/ui/cobertura-vacunacion?as_of=2026-02-30").await;
    assert!(ui.exists(".errors").await);
}
