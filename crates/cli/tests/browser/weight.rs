//! The page-weight budget: every page ≤ 60 KB transferred (compressed), measured by the
//! browser itself (Navigation and Resource Timing), so headers, compression and any
//! sub-resource count as they do for a clinic on a slow link.

use crate::harness::{Ui, id};

/// Issue 7: every page within 60 KB transferred on first load.
const PAGE_BYTES_MAX: u64 = 60 * 1024;

async fn transferred(ui: &Ui, path: &str) -> (u64, u64) {
    ui.goto(path).await;
    let sizes = ui
        .client
        .execute(
            "const n = performance.getEntriesByType('navigation')[0];\
             const r = performance.getEntriesByType('resource');\
             return [n.transferSize + r.reduce((a, e) => a + e.transferSize, 0), n.decodedBodySize];",
            vec![],
        )
        .await
        .unwrap();
    (sizes[0].as_u64().unwrap(), sizes[1].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_main_page_fits_the_60_kb_budget() {
    let ui = Ui::start("page-weight").await;
    let (login_bytes, _) = transferred(&ui, "/ui/entrar").await;
    ui.sign_in().await;
    let facility = ui.user_facility().await;
    // The heaviest record of the facility: the chart with the most to show.
    let heaviest = ui
        .demo
        .patients
        .iter()
        .filter(|p| crate::harness::managing_org(p) == Some(facility.as_str()))
        .max_by_key(|p| ui.demo.resource_counts.get(id(p)).copied().unwrap_or(0))
        .unwrap();
    let pid = id(heaviest);
    let curp = crate::harness::curp(heaviest).unwrap_or("XXXX");
    let mut report = vec![("/ui/entrar".to_string(), login_bytes, 0)];
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    let visit = ui
        .css("#timeline a.visit-link")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    for path in [
        visit,
        format!("/ui/buscar?curp={curp}"),
        format!("/ui/pacientes/{pid}"),
        format!("/ui/pacientes/{pid}?todas=1"),
        format!("/ui/pacientes/{pid}/consulta"),
        format!("/ui/pacientes/{pid}/referencia"),
        format!("/ui/pacientes/{pid}/resumen"),
        format!("/ui/pacientes/{pid}/signos-vitales"),
        format!("/ui/pacientes/{pid}/vacunas"),
        format!("/ui/pacientes/{pid}/alergias"),
        format!("/ui/pacientes/{pid}/problemas"),
        format!("/ui/pacientes/{pid}/medicamentos"),
        format!("/ui/pacientes/{pid}/ficha"),
        format!("/ui/pacientes/{pid}?pagina=2"),
        "/ui/pacientes/nuevo".to_string(),
    ] {
        let (bytes, decoded) = transferred(&ui, &path).await;
        report.push((path, bytes, decoded));
    }
    for (path, bytes, decoded) in &report {
        eprintln!("{path}: {bytes} B transferred ({decoded} B uncompressed)");
    }
    ui.goto(&format!("/ui/pacientes/{pid}")).await;
    ui.screenshot("heaviest-chart").await;
    for (path, bytes, _) in &report {
        assert!(*bytes > 0, "{path}: nothing measured");
        assert!(
            *bytes <= PAGE_BYTES_MAX,
            "{path}: {bytes} B > {PAGE_BYTES_MAX} B"
        );
    }
    // The chart really is compressed on the wire.
    let chart = &report[2];
    assert!(chart.1 < chart.2, "{chart:?}");
}
