//! Issue 16: the weekly epidemiological surveillance page, as the epidemiologist sees it
//! (figures, chart, the alert rule, no names) and as a physician does not.

use crate::harness::{self, Ui};

#[tokio::test(flavor = "multi_thread")]
async fn the_epidemiologist_sees_weekly_new_cases_with_the_channel_rule_and_no_names() {
    let ui = Ui::start("surveillance").await;
    ui.sign_in_as("epidemiologa").await;
    // Their work starts at the surveillance page, offered in the navigation.
    ui.goto("/").await;
    assert!(
        ui.path().await.starts_with("/ui/vigilancia"),
        "{}",
        ui.path().await
    );
    ui.css("#nav-surveillance").await;

    // The week of the latest diagnosis in the demo data has new cases.
    let latest = harness::demo_resources("Condition")
        .iter()
        .filter_map(|c| c["recordedDate"].as_str().map(|d| d[..10].to_string()))
        .max()
        .expect("the demo records diagnoses");
    ui.goto(&format!("/ui/vigilancia?semana={latest}&semanas=8"))
        .await;
    assert!(
        ui.text("h1")
            .await
            .contains("Vigilancia epidemiológica semanal")
    );
    let rule = ui.text("#surv-rule").await;
    assert!(rule.contains("percentil 75"), "{rule}");
    assert!(
        ui.text("#surv-weeks-rule")
            .await
            .contains("domingo a sábado")
    );
    assert!(
        ui.text("#surv-immediate-source")
            .await
            .contains("NOM-017-SSA2-2012")
    );
    let rows = ui.texts("#surv-table tbody tr").await;
    assert!(!rows.is_empty(), "new cases in the week of {latest}");
    // Eight weeks of columns, and the chart has eight bars.
    assert_eq!(ui.texts("#surv-table thead th").await.len(), 2 + 8 + 2);
    assert_eq!(ui.texts("#surv-chart svg.bars rect.bar").await.len(), 8);
    ui.screenshot("surveillance").await;

    // No names and no record ids anywhere on the page.
    let page = ui.text("body").await;
    for patient in &ui.demo.patients {
        let (given, family, _) = harness::names(patient);
        assert!(
            !page.contains(&format!("{given} {family}")),
            "{given} {family} shown"
        );
        assert!(!page.contains(harness::id(patient)));
    }

    // The page's counts for the last week are the CSV contract's for that week.
    let week_label = ui.text("#surv-week strong").await;
    let (week, year) = week_label
        .rsplit(' ')
        .next()
        .unwrap()
        .split_once('/')
        .unwrap();
    let token = harness::token(&ui, "epidemiologa").await;
    let csv = reqwest::Client::new()
        .get(ui.url(&format!("/reports/new-cases.csv?from={latest}&to={latest}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("state,epi_year,epi_week,cie10,cases\n"),
        "{csv}"
    );
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        assert_eq!((cols[1], cols[2]), (year, week), "{line}");
    }

    // A row charts on demand, and the page is available in English.
    ui.navigate_by("#surv-table tbody tr:last-child a").await;
    assert!(ui.path().await.contains("fila="));
    ui.css("#surv-chart svg.bars").await;
    ui.navigate_by("a[lang=en]").await;
    assert!(
        ui.text("h1")
            .await
            .contains("Weekly epidemiological surveillance")
    );
    assert!(ui.text("#surv-rule").await.contains("75th percentile"));

    // A physician is not offered the page and is refused it.
    ui.navigate_by("form[action='/ui/salir'] button").await;
    ui.sign_in_as("medica").await;
    assert!(!ui.exists("#nav-surveillance").await);
    ui.goto("/ui/vigilancia").await;
    assert!(!ui.exists("#surv-table").await);
    assert!(ui.exists(".errors").await);
}
