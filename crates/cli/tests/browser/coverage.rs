//! Issue 16: vaccination coverage per facility and birth cohort, as the epidemiologist sees it.

use crate::harness::{self, Ui};

#[tokio::test(flavor = "multi_thread")]
async fn the_epidemiologist_sees_vaccination_coverage_per_facility_and_cohort() {
    let ui = Ui::start("coverage").await;
    ui.sign_in_as("epidemiologa").await;
    ui.navigate_by("#nav-coverage").await;
    assert!(ui.text("h1").await.contains("Cobertura de vacunación"));
    ui.screenshot("coverage").await;
    // Every row is a cell of counts: vaccinated never above eligible, eligible never zero.
    let eligible = ui.texts("tr.coverage-row td.eligible").await;
    let vaccinated = ui.texts("tr.coverage-row td.vaccinated").await;
    assert_eq!(eligible.len(), vaccinated.len());
    for (e, v) in eligible.iter().zip(&vaccinated) {
        let e: u64 = e.parse().unwrap();
        let v: u64 = v.split_whitespace().next().unwrap().parse().unwrap();
        assert!(e > 0 && v <= e, "{e} {v}");
    }
    if eligible.is_empty() {
        assert!(ui.exists("#coverage p.empty").await);
    } else {
        assert!(ui.exists("#coverage svg.share").await);
    }
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
