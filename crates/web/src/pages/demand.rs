//! The medicine-demand page (issue 16, report 4): per facility and CNIS key, the units
//! prescribed in each month held and the forecast of the next three, with one row charted.
//! Counts only, from `ehr`'s report (decided by role and scope, audited): the figures of
//! `/reports/medicine-demand.csv`.
//!
//! A national account sees every facility and key, which can be many thousands of rows: the
//! page lists at most [`ROWS_MAX`] (narrowed by state or key in the form) and says so; the CSV
//! has them all.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, Ctx, Layout, blocking, render, report_error, state_of_clues, to_login};
use crate::{data, svg};

/// Rows listed at most (a page light enough for a slow link).
pub const ROWS_MAX: usize = 300;

/// One facility and key.
pub struct DemandView {
    pub clues: String,
    pub state: String,
    pub cnis: String,
    pub display: String,
    /// Units in the last month held.
    pub last_units: u64,
    /// Units forecast for each of the next three months.
    pub forecast: Vec<u64>,
    /// The link that charts this row.
    pub href: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "demand.html")]
struct DemandPage {
    layout: Layout,
    month: String,
    key: String,
    state: String,
    /// The months of the forecast columns, `AAAA-MM`.
    forecast_months: Vec<String>,
    rows: Vec<DemandView>,
    /// Rows the report had in all (before the listing's cap).
    total: usize,
    query: String,
    chart_label: String,
    chart: String,
}

fn month_text((year, month): ehr::reports::demand::Month) -> String {
    format!("{year:04}-{month:02}")
}

/// # `GET /ui/demanda-medicamentos?month=AAAA-MM&estado=XX&clave=CNIS&fila=CLUES~CNIS`
pub async fn page(State(app): AppState, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let all: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, v)| k != "lang" && !v.is_empty())
        .collect();
    let value = |name: &str| {
        all.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    // `clave` and `fila` are the page's own: the report takes `month` and `estado`.
    let (key, selected) = (value("clave"), value("fila"));
    let params: Vec<(String, String)> = all
        .iter()
        .filter(|(k, _)| k != "clave" && k != "fila")
        .cloned()
        .collect();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    let asked = params.clone();
    let rows = match blocking(&app, &ctx, move |db| data::medicine_demand(db, &asked)).await {
        Ok(rows) => rows,
        Err(error) => return report_error(&app, &ctx, &error),
    };
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| key.is_empty() || r.cnis.starts_with(&key))
        .collect();
    let total = rows.len();
    let month = rows
        .first()
        .and_then(|r| r.history.last())
        .map(|(m, _, _)| month_text(*m))
        .unwrap_or_else(|| value("month"));
    let forecast_months = rows
        .first()
        .map(|r| r.forecast.iter().map(|(m, _)| month_text(*m)).collect())
        .unwrap_or_default();
    let chosen = selected
        .split_once('~')
        .and_then(|(clues, cnis)| rows.iter().position(|r| r.clues == clues && r.cnis == cnis))
        .unwrap_or(0);
    let chart_row = rows.get(chosen);
    let (chart_label, chart) = match chart_row {
        Some(r) => {
            // From the first month with a prescription of the key there (the forecast's own
            // series), then the forecast.
            let held: Vec<_> = r.history.iter().skip_while(|(_, n, _)| *n == 0).collect();
            let mut months: Vec<u8> = held.iter().map(|((_, m), _, _)| *m).collect();
            let mut units: Vec<u64> = held.iter().map(|(_, _, u)| u.ceil() as u64).collect();
            months.extend(r.forecast.iter().map(|((_, m), _)| *m));
            units.extend(r.forecast.iter().map(|(_, u)| *u));
            (
                format!("{} · {} · {}", r.cnis, r.display, r.clues),
                svg::month_bars(&months, &units, held.len()),
            )
        }
        None => (String::new(), String::new()),
    };
    let views = rows
        .iter()
        .take(ROWS_MAX)
        .enumerate()
        .map(|(i, r)| {
            let mut link = form_urlencoded::Serializer::new(String::new());
            link.extend_pairs(params.iter());
            if !key.is_empty() {
                link.append_pair("clave", &key);
            }
            link.append_pair("fila", &format!("{}~{}", r.clues, r.cnis));
            DemandView {
                clues: r.clues.clone(),
                state: state_of_clues(&r.clues),
                cnis: r.cnis.clone(),
                display: r.display.clone(),
                last_units: r.history.last().map_or(0, |(_, _, u)| u.ceil() as u64),
                forecast: r.forecast.iter().map(|(_, u)| *u).collect(),
                href: format!("/ui/demanda-medicamentos?{}#demand-chart", link.finish()),
                selected: i == chosen,
            }
        })
        .collect();
    render(
        &DemandPage {
            layout: ctx.layout(&app, "demand.title"),
            month,
            key,
            state: value("estado"),
            forecast_months,
            rows: views,
            total,
            query,
            chart_label,
            chart,
        },
        StatusCode::OK,
    )
}
