//! The weekly epidemiological surveillance page (issue 16): new cases per CIE-10 code and
//! state over recent epidemiological weeks, each against its endemic channel (the rule is
//! written on the page), the immediately notifiable diseases marked, and a chart of one row.
//!
//! Counts only: the figures come from `ehr`'s report (decided by role, audited), which never
//! returns a name or an id, so an epidemiologist's page cannot show one.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, Ctx, Layout, blocking, render, report_error, to_login};
use crate::{data, dates, svg};

/// One week column.
pub struct WeekCol {
    pub week: u8,
    pub year: i32,
    /// Its Sunday, `dd/mm/aaaa`.
    pub sunday: String,
}

/// One state and code.
pub struct RowView {
    pub state: String,
    pub state_name: String,
    pub code: String,
    pub title: String,
    pub cases: u64,
    /// The channel of the last week, or empty when there is none.
    pub threshold: String,
    pub alert: bool,
    /// Its name in the immediate-notification list, when it is on it.
    pub immediate: Option<&'static str>,
    pub series: Vec<u64>,
    /// The link that charts this row.
    pub href: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "surveillance.html")]
struct SurveillancePage {
    layout: Layout,
    /// The last week shown, e.g. `5/2026`.
    week_label: String,
    /// Its Sunday and Saturday.
    week_range: String,
    weeks: Vec<WeekCol>,
    rows: Vec<RowView>,
    /// The charted row's label and its SVG.
    chart_label: String,
    chart: String,
    /// The previous years the channels come from (`2023–2025`), or empty.
    years_held: String,
    channel_years_min: usize,
    /// The form's values.
    semana: String,
    semanas: usize,
    truncated: bool,
    alerts: usize,
}

fn state_name(code: &str) -> String {
    mexico::states::by_curp_code(code)
        .map(|s| s.name.to_string())
        .unwrap_or_else(|| code.to_string())
}

fn threshold_text(value: Option<f64>) -> String {
    match value {
        Some(v) if (v - v.round()).abs() < 0.005 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => String::new(),
    }
}

/// # `GET /ui/vigilancia?semana=AAAA-MM-DD&semanas=N&fila=ESTADO~CODIGO`
pub async fn page(State(app): AppState, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    if ctx.session.is_none() {
        return to_login(&ctx);
    }
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .filter(|(k, _)| k != "lang")
            .collect();
    // `fila` only picks the charted row: the report does not take it.
    let selected = params
        .iter()
        .find(|(k, _)| k == "fila")
        .map(|(_, v)| v.clone());
    params.retain(|(k, v)| k != "fila" && !v.is_empty());
    let asked = params.clone();
    let view = match blocking(&app, &ctx, move |db| data::surveillance(db, &asked)).await {
        Ok(view) => view,
        Err(error) => return report_error(&app, &ctx, &error),
    };
    let last = view.weeks.last().copied();
    let semana = params
        .iter()
        .find(|(k, _)| k == "semana")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| {
            last.map(|w| ehr::reports::dates::format_day(ehr::reports::dates::add_days(w.2, 6)))
                .unwrap_or_default()
        });
    let semanas = view.weeks.len();
    let weeks: Vec<WeekCol> = view
        .weeks
        .iter()
        .map(|(year, week, sunday)| WeekCol {
            week: *week,
            year: *year,
            sunday: dates::display_text(&ehr::reports::dates::format_day(*sunday)),
        })
        .collect();
    let chosen = selected
        .as_deref()
        .and_then(|s| s.split_once('~'))
        .and_then(|(state, code)| {
            view.rows
                .iter()
                .position(|r| r.state == state && r.cie10 == code)
        })
        .unwrap_or(0);
    let rows: Vec<RowView> = view
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let link = form_urlencoded::Serializer::new(String::new())
                .append_pair("semana", &semana)
                .append_pair("semanas", &semanas.to_string())
                .append_pair("fila", &format!("{}~{}", r.state, r.cie10))
                .finish();
            RowView {
                state: r.state.clone(),
                state_name: state_name(&r.state),
                code: r.cie10.clone(),
                title: mexico::cie10::lookup_cie10(&r.cie10)
                    .map(|e| e.description.to_string())
                    .unwrap_or_default(),
                cases: r.cases(),
                threshold: threshold_text(r.threshold()),
                alert: r.alert,
                immediate: mexico::surveillance::requires_immediate_notification(&r.cie10).map(
                    |n| {
                        if ctx.tr.is_en() { n.name_en } else { n.name_es }
                    },
                ),
                series: r.series.clone(),
                href: format!("/ui/vigilancia?{link}"),
                selected: i == chosen,
            }
        })
        .collect();
    let (chart_label, chart) = match view.rows.get(chosen) {
        Some(r) => (
            format!("{} · {}", r.cie10, state_name(&r.state)),
            svg::week_bars(
                &view.weeks.iter().map(|w| w.1).collect::<Vec<_>>(),
                &r.series,
                &r.channel,
            ),
        ),
        None => (String::new(), String::new()),
    };
    let years_held = match (view.years_held.first(), view.years_held.last()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => String::new(),
    };
    let (week_label, week_range) = match last {
        Some((year, week, sunday)) => (
            format!("{week}/{year}"),
            format!(
                "{} – {}",
                dates::display_text(&ehr::reports::dates::format_day(sunday)),
                dates::display_text(&ehr::reports::dates::format_day(
                    ehr::reports::dates::add_days(sunday, 6)
                ))
            ),
        ),
        None => (String::new(), String::new()),
    };
    let alerts = rows.iter().filter(|r| r.alert).count();
    render(
        &SurveillancePage {
            layout: ctx.layout(&app, "surv.title"),
            week_label,
            week_range,
            weeks,
            rows,
            chart_label,
            chart,
            years_held,
            channel_years_min: ehr::reports::surveillance::CHANNEL_YEARS_MIN,
            semana,
            semanas,
            truncated: view.truncated,
            alerts,
        },
        StatusCode::OK,
    )
}
