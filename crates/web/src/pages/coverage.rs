//! The vaccination coverage page (issue 16): per facility (registration) and birth year, each
//! dose of the national schedule with the children who should have had it by the date and how
//! many did. Counts only, from `ehr`'s report (decided by role, audited), the same figures as
//! `/reports/vaccination-coverage.csv`.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, Ctx, Layout, blocking, render, report_error, to_login};
use crate::{data, dates, svg};

/// One facility, cohort and dose.
pub struct CoverageView {
    pub clues: String,
    pub birth_year: i32,
    pub vaccine: String,
    pub dose: u32,
    pub eligible: u64,
    pub vaccinated: u64,
    /// Percentage of `eligible`, one decimal.
    pub pct: String,
    pub bar: String,
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    layout: Layout,
    as_of: String,
    as_of_display: String,
    rows: Vec<CoverageView>,
}

/// # `GET /ui/cobertura-vacunacion?as_of=AAAA-MM-DD`
pub async fn page(State(app): AppState, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .filter(|(k, v)| k != "lang" && !v.is_empty())
            .collect();
    // The date shown is the one asked, or today: the report is asked for it explicitly so
    // that the page and its CSV link agree.
    if !params.iter().any(|(k, _)| k == "as_of") {
        params.push(("as_of".into(), dates::iso(dates::today(ctx.now_ms))));
    }
    let as_of = params
        .iter()
        .find(|(k, _)| k == "as_of")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let rows = match blocking(&app, &ctx, move |db| {
        data::vaccination_coverage(db, &params)
    })
    .await
    {
        Ok(rows) => rows,
        Err(error) => return report_error(&app, &ctx, &error),
    };
    let en = ctx.tr.is_en();
    let rows = rows
        .iter()
        .map(|r| {
            let pct = if r.eligible == 0 {
                0.0
            } else {
                r.vaccinated as f64 * 100.0 / r.eligible as f64
            };
            CoverageView {
                clues: r.clues.clone(),
                birth_year: r.birth_year,
                vaccine: if en { r.vaccine_en } else { r.vaccine_es }.to_string(),
                dose: r.dose,
                eligible: r.eligible,
                vaccinated: r.vaccinated,
                pct: format!("{pct:.1}"),
                bar: svg::share_bar(pct, pct),
            }
        })
        .collect();
    render(
        &CoveragePage {
            layout: ctx.layout(&app, "cov.title"),
            as_of_display: dates::display_text(&as_of),
            as_of,
            rows,
        },
        StatusCode::OK,
    )
}
