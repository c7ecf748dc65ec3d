//! The chronic-disease control page (issue 16): per facility, adults with diabetes and with
//! hypertension, how many had their control measurement (HbA1c, blood pressure) in the last
//! 12 months and how many are at target. Counts only, from `ehr`'s report (decided by role,
//! audited); the diabetes figures are the `diabetes-control.csv` contract's.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, Ctx, Layout, blocking, render, report_error, to_login};
use crate::{data, dates, svg};

/// One facility's row.
pub struct ControlView {
    pub clues: String,
    pub state: String,
    pub patients: u64,
    pub measured: u64,
    pub controlled: u64,
    /// Percentages of `patients`, one decimal.
    pub measured_pct: String,
    pub controlled_pct: String,
    pub bar: String,
}

#[derive(Template)]
#[template(path = "chronic.html")]
struct ChronicPage {
    layout: Layout,
    as_of: String,
    as_of_display: String,
    diabetes: Vec<ControlView>,
    hypertension: Vec<ControlView>,
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn views(rows: &[ehr::reports::ControlRow]) -> Vec<ControlView> {
    rows.iter()
        .map(|r| {
            let (measured, controlled) = (
                pct(r.measured_12m, r.patients),
                pct(r.controlled, r.patients),
            );
            ControlView {
                clues: r.clues.clone(),
                state: r
                    .clues
                    .get(..2)
                    .and_then(mexico::states::by_curp_code)
                    .map(|s| s.name.to_string())
                    .unwrap_or_default(),
                patients: r.patients,
                measured: r.measured_12m,
                controlled: r.controlled,
                measured_pct: format!("{measured:.1}"),
                controlled_pct: format!("{controlled:.1}"),
                bar: svg::share_bar(measured, controlled),
            }
        })
        .collect()
}

/// # `GET /ui/control-cronico?as_of=AAAA-MM-DD`
pub async fn page(State(app): AppState, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, v)| k != "lang" && !v.is_empty())
        .collect();
    let report = match blocking(&app, &ctx, move |db| data::chronic_control(db, &params)).await {
        Ok(report) => report,
        Err(error) => return report_error(&app, &ctx, &error),
    };
    let as_of = ehr::reports::dates::format_day(report.as_of);
    render(
        &ChronicPage {
            layout: ctx.layout(&app, "chronic.title"),
            as_of_display: dates::display_text(&as_of),
            as_of,
            diabetes: views(&report.diabetes),
            hypertension: views(&report.hypertension),
        },
        StatusCode::OK,
    )
}
