//! Accessibility: axe-core (npm `axe-core`, installed into the target directory for the test
//! run and injected by WebDriver; never served to users) finds no serious or critical
//! violation of WCAG 2.1 A/AA on the main pages.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::harness::{Ui, id};

/// The axe-core release the check was written against.
const AXE_VERSION: &str = "4.11";

fn axe_source() -> String {
    let prefix = crate::harness::artifacts_dir().join("../axe-core");
    let script = prefix.join("node_modules/axe-core/axe.min.js");
    if !script.exists() {
        let status = Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(format!("axe-core@{AXE_VERSION}"))
            .status()
            .expect("npm is needed to fetch axe-core for the accessibility test");
        assert!(status.success(), "npm install axe-core failed");
    }
    std::fs::read_to_string(PathBuf::from(&script)).unwrap()
}

async fn serious_violations(ui: &Ui, axe: &str, path: &str) -> Vec<String> {
    ui.goto(path).await;
    ui.client.execute(axe, vec![]).await.unwrap();
    let result: Value = ui
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})\
                .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,\
                    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))));",
            vec![],
        )
        .await
        .unwrap();
    result
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| format!("{path}: {} ({}) at {}", v["id"], v["help"], v["nodes"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn main_pages_have_no_serious_accessibility_violations() {
    let axe = axe_source();
    let ui = Ui::start("accessibility").await;
    // The check itself works: an unlabelled field on a bare page is reported.
    ui.client
        .goto("data:text/html,<html lang=es><title>x</title><main><input></main></html>")
        .await
        .unwrap();
    ui.client.execute(&axe, vec![]).await.unwrap();
    let bad = ui
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document).then(r => done(r.violations.map(v => v.id)));",
            vec![],
        )
        .await
        .unwrap();
    assert!(bad.to_string().contains("label"), "{bad}");
    let mut found = serious_violations(&ui, &axe, "/ui/entrar").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    let patient = ui.demo.in_care_at_two_clinics(&facility)[0];
    let pid = id(patient);
    let curp = crate::harness::curp(patient).unwrap();
    // A signed note with a prescription and an order, so its printable forms exist.
    ui.goto(&format!("/ui/pacientes/{pid}/consulta")).await;
    ui.fill("#dx_query", "I10").await;
    crate::prescribing::prescribe(&ui, 1, "losartan", "1", "24", "30").await;
    ui.click("#lab-2160-0").await;
    crate::prescribing::sign_through_acknowledgements(&ui).await;
    let note = ui
        .css("#timeline li.visit a.note-link")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let visit = ui
        .css("#timeline li.visit a.visit-link")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    for path in [
        format!("/ui/pacientes/{pid}/signos-vitales"),
        format!("/ui/pacientes/{pid}/vacunas"),
        format!("/ui/pacientes/{pid}/alergias"),
        format!("/ui/pacientes/{pid}/problemas"),
        format!("/ui/pacientes/{pid}/medicamentos"),
        format!("/ui/pacientes/{pid}/ficha"),
        format!("/ui/pacientes/{pid}?pagina=2"),
        note.clone(),
        format!("{note}/receta"),
        format!("{note}/estudios"),
        visit,
    ] {
        found.extend(serious_violations(&ui, &axe, &path).await);
    }
    for path in [
        format!("/ui/buscar?curp={curp}"),
        format!("/ui/pacientes/{pid}"),
        format!("/ui/pacientes/{pid}/consulta"),
        format!("/ui/pacientes/{pid}/referencia"),
        format!("/ui/pacientes/{pid}/resumen"),
        format!("/ui/pacientes/{pid}/bitacora"),
        "/ui/pacientes/nuevo".to_string(),
    ] {
        found.extend(serious_violations(&ui, &axe, &path).await);
    }
    ui.screenshot("last-page").await;
    assert!(found.is_empty(), "{}", found.join("\n"));
}
