//! Reports 5 and 6 of issue 16 as pages: repeated laboratory tests (how often the repeated-lab
//! warning was shown and how often the test was ordered anyway, per facility and month) and
//! data quality per facility. Counts only, from `ehr`'s reports (decided by role and scope,
//! audited); the figures are those of `repeated-tests.csv` and `data-quality.csv`.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, Ctx, Layout, blocking, render, report_error, state_of_clues, to_login};
use crate::{data, svg};

/// A percentage of `whole`, one decimal (0 of nothing is 0).
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The query's parameters without the page's own (`lang`) and empty fields.
fn params(raw: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, v)| k != "lang" && !v.is_empty())
        .collect()
}

/// One facility and month of the repeated-tests page.
pub struct RepeatView {
    pub clues: String,
    pub state: String,
    pub month: String,
    pub warnings: u64,
    pub ordered: u64,
    pub ordered_pct: String,
    pub bar: String,
}

#[derive(Template)]
#[template(path = "repeats.html")]
struct RepeatsPage {
    layout: Layout,
    from: String,
    to: String,
    query: String,
    rows: Vec<RepeatView>,
}

/// # `GET /ui/estudios-repetidos?from=AAAA-MM-DD&to=AAAA-MM-DD`
pub async fn repeats(State(app): AppState, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let params = params(raw);
    let value = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (from, to) = (value("from"), value("to"));
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let rows = match blocking(&app, &ctx, move |db| data::repeated_tests(db, &params)).await {
        Ok(rows) => rows,
        Err(error) => return report_error(&app, &ctx, &error),
    };
    let rows = rows
        .iter()
        .map(|r| {
            let share = pct(r.ordered_anyway, r.warnings);
            RepeatView {
                clues: r.clues.clone(),
                state: state_of_clues(&r.clues),
                month: format!("{:04}-{:02}", r.month.0, r.month.1),
                warnings: r.warnings,
                ordered: r.ordered_anyway,
                ordered_pct: format!("{share:.1}"),
                bar: svg::share_bar(100.0, share),
            }
        })
        .collect();
    render(
        &RepeatsPage {
            layout: ctx.layout(&app, "repeats.title"),
            from,
            to,
            query,
            rows,
        },
        StatusCode::OK,
    )
}

/// One facility of the data-quality page.
pub struct QualityView {
    pub clues: String,
    pub state: String,
    pub row: ehr::reports::QualityRow,
    pub curp_pct: String,
    pub notes_pct: String,
    pub no_dx_pct: String,
    /// Bars of the three shares done right: CURP valid, notes complete, encounters with a
    /// diagnosis.
    pub bars: [String; 3],
}

#[derive(Template)]
#[template(path = "quality.html")]
struct QualityPage {
    layout: Layout,
    query: String,
    rows: Vec<QualityView>,
}

/// # `GET /ui/calidad-datos`
pub async fn quality(State(app): AppState, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let params = params(raw);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let rows = match blocking(&app, &ctx, move |db| data::data_quality(db, &params)).await {
        Ok(rows) => rows,
        Err(error) => return report_error(&app, &ctx, &error),
    };
    let rows = rows
        .into_iter()
        .map(|row| QualityView {
            bars: [
                pct(row.valid_curp, row.patients),
                100.0 - pct(row.notes_incomplete, row.notes),
                100.0 - pct(row.encounters_without_diagnosis, row.encounters),
            ]
            .map(|share| svg::share_bar(share, share)),
            clues: row.clues.clone(),
            state: state_of_clues(&row.clues),
            curp_pct: format!("{:.1}", pct(row.valid_curp, row.patients)),
            notes_pct: format!("{:.1}", pct(row.notes_incomplete, row.notes)),
            no_dx_pct: format!(
                "{:.1}",
                pct(row.encounters_without_diagnosis, row.encounters)
            ),
            row,
        })
        .collect();
    render(
        &QualityPage {
            layout: ctx.layout(&app, "quality.title"),
            query,
            rows,
        },
        StatusCode::OK,
    )
}
