//! The vaccination coverage page (issue 16): per facility (registration) and birth year, each
//! dose of the national schedule with the children who should have had it by the date and how
//! many did. Counts only, from `ehr`'s report (decided by role, audited), the same figures as
//! `/reports/vaccination-coverage.csv`.
//!
//! At national scope every facility × cohort × dose is tens of thousands of rows (6 MB of
//! HTML at 10^6 resources: BENCHMARKS.md). So when the rows span several states and no state
//! is asked, the page shows each state's coverage per dose (cohorts together), each state
//! linking to its facilities; a state's facility rows are listed up to [`ROWS_MAX`], narrowed
//! by CLUES in the form. The CSV has every row.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, Ctx, Layout, blocking, render, report_error, to_login};
use crate::{data, dates, svg};

/// Facility rows listed at most (a page light enough for a slow link).
pub const ROWS_MAX: usize = 500;

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

/// One state and dose, every cohort together.
pub struct StateView {
    pub state: String,
    pub name: String,
    /// The link to the state's facilities.
    pub href: String,
    pub vaccine: String,
    pub dose: u32,
    pub eligible: u64,
    pub vaccinated: u64,
    pub pct: String,
    pub bar: String,
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    layout: Layout,
    as_of: String,
    as_of_display: String,
    state: String,
    clues: String,
    /// The state summary (national scope, no state asked); empty otherwise.
    states: Vec<StateView>,
    rows: Vec<CoverageView>,
    /// Facility rows the report had in all (before the listing's cap).
    total: usize,
    query: String,
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// # `GET /ui/cobertura-vacunacion?as_of=AAAA-MM-DD&estado=XX&clues=…`
pub async fn page(State(app): AppState, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let all: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
        .filter(|(k, v)| k != "lang" && !v.is_empty())
        .collect();
    let value = |name: &str| {
        all.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // `clues` is the page's own filter: the report takes `as_of` and `estado`.
    let clues = value("clues").to_ascii_uppercase();
    let mut params: Vec<(String, String)> =
        all.iter().filter(|(k, _)| k != "clues").cloned().collect();
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
    let state = value("estado").to_ascii_uppercase();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let asked = params.clone();
    let rows = match blocking(&app, &ctx, move |db| data::vaccination_coverage(db, &asked)).await {
        Ok(rows) => rows,
        Err(error) => return report_error(&app, &ctx, &error),
    };
    let en = ctx.tr.is_en();
    let vaccine = |r: &ehr::reports::CoverageRow| if en { r.vaccine_en } else { r.vaccine_es };
    let state_of = |clues: &str| clues.get(..2).unwrap_or_default().to_ascii_uppercase();
    let several_states = rows
        .windows(2)
        .any(|pair| state_of(&pair[0].clues) != state_of(&pair[1].clues));
    let mut states = Vec::new();
    if state.is_empty() && several_states {
        // (state, schedule position) → the dose's name and number, eligible, vaccinated.
        let mut cells: BTreeMap<(String, usize), (String, u32, u64, u64)> = BTreeMap::new();
        for r in &rows {
            let position = mexico::vaccines::CHILD_SCHEDULE
                .iter()
                .position(|d| d.cvx == r.cvx && d.dose == r.dose)
                .unwrap_or(usize::MAX);
            let cell = cells
                .entry((state_of(&r.clues), position))
                .or_insert_with(|| (vaccine(r).to_string(), r.dose, 0, 0));
            cell.2 += r.eligible;
            cell.3 += r.vaccinated;
        }
        states = cells
            .into_iter()
            .map(|((code, _), (vaccine, dose, eligible, vaccinated))| {
                let share = pct(vaccinated, eligible);
                let link = form_urlencoded::Serializer::new(String::new())
                    .append_pair("as_of", &as_of)
                    .append_pair("estado", &code)
                    .finish();
                StateView {
                    name: mexico::states::by_curp_code(&code)
                        .map(|s| s.name.to_string())
                        .unwrap_or_default(),
                    href: format!("/ui/cobertura-vacunacion?{link}"),
                    state: code,
                    vaccine,
                    dose,
                    eligible,
                    vaccinated,
                    pct: format!("{share:.1}"),
                    bar: svg::share_bar(share, share),
                }
            })
            .collect();
    }
    let listed: Vec<&ehr::reports::CoverageRow> = if states.is_empty() {
        rows.iter()
            .filter(|r| clues.is_empty() || r.clues.starts_with(&clues))
            .collect()
    } else {
        Vec::new()
    };
    let total = listed.len();
    let rows = listed
        .into_iter()
        .take(ROWS_MAX)
        .map(|r| {
            let share = pct(r.vaccinated, r.eligible);
            CoverageView {
                clues: r.clues.clone(),
                birth_year: r.birth_year,
                vaccine: vaccine(r).to_string(),
                dose: r.dose,
                eligible: r.eligible,
                vaccinated: r.vaccinated,
                pct: format!("{share:.1}"),
                bar: svg::share_bar(share, share),
            }
        })
        .collect();
    render(
        &CoveragePage {
            layout: ctx.layout(&app, "cov.title"),
            as_of_display: dates::display_text(&as_of),
            as_of,
            state,
            clues,
            states,
            rows,
            total,
            query,
        },
        StatusCode::OK,
    )
}
