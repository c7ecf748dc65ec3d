//! The *censo nominal* (issue 16): the named list of the clinic's own children (registered
//! there, 0–9 years, the Cartilla Nacional de Salud's span) with a dose of the national
//! schedule overdue, for outreach. For the clinic's staff about its own patients: the list is
//! read as the signed-in user through the read guard (every search audited), and only
//! patients whose registration (`managingOrganization`) is the user's facility are listed.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{AppState, Ctx, Layout, blocking, ehr_error, error_page, render, to_login};
use crate::schedule::{self, DoseStatus};
use crate::{chart, data, dates};

/// Ages covered: the Cartilla de 0 a 9 años.
pub const CENSUS_AGE_YEARS_MAX: i64 = 9;

/// One child with overdue doses.
pub struct CensusRow {
    pub id: String,
    pub name: String,
    pub curp: String,
    pub birth: String,
    pub age_months: i64,
    /// `Vaccine (dose n, due dd/mm/aaaa)`.
    pub overdue: Vec<String>,
}

#[derive(Template)]
#[template(path = "census.html")]
struct CensusPage {
    layout: Layout,
    facility: String,
    rows: Vec<CensusRow>,
    children: usize,
    truncated: bool,
}

/// # `GET /ui/censo-nominal`
pub async fn page(State(app): AppState, ctx: Ctx) -> Response {
    let Some(session) = &ctx.session else {
        return to_login(&ctx);
    };
    let Some(organization) = session.organization.clone() else {
        return error_page(
            &app,
            &ctx,
            StatusCode::FORBIDDEN,
            vec![ctx.tr.s("census.staff_only").to_string()],
        );
    };
    let facility = format!("{} ({})", session.facility_name, session.facility_clues);
    let today = dates::today(ctx.now_ms);
    let born_from = dates::iso(dates::add_months(today, -(CENSUS_AGE_YEARS_MAX + 1) * 12) + 1);
    let listed = match blocking(&app, &ctx, move |db| {
        data::census_children(db, &organization, &born_from)
    })
    .await
    {
        Ok(listed) => listed,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let children = listed.len();
    let en = ctx.tr.is_en();
    let mut rows: Vec<CensusRow> = listed
        .iter()
        .filter_map(|(patient, doses)| row_of(patient, doses, today, en))
        .collect();
    // The longest overdue first: most doses missing, then the oldest child.
    rows.sort_by(|a, b| {
        b.overdue
            .len()
            .cmp(&a.overdue.len())
            .then(b.age_months.cmp(&a.age_months))
    });
    render(
        &CensusPage {
            layout: ctx.layout(&app, "census.title"),
            facility,
            rows,
            children,
            truncated: children >= data::CENSUS_CHILDREN_MAX,
        },
        StatusCode::OK,
    )
}

/// The child's overdue doses by the national schedule, or `None` when nothing is overdue.
fn row_of(patient: &Value, doses: &[Value], today: i64, en: bool) -> Option<CensusRow> {
    let birth = patient["birthDate"].as_str().and_then(dates::parse_day)?;
    let given: Vec<schedule::Given> = doses
        .iter()
        .map(|d| schedule::Given {
            cvx: d["vaccineCode"]["coding"]
                .as_array()
                .and_then(|c| {
                    c.iter()
                        .find(|c| c["system"] == mexico::systems::CVX)
                        .and_then(|c| c["code"].as_str())
                })
                .unwrap_or_default()
                .to_string(),
            dose: d["protocolApplied"][0]["doseNumberPositiveInt"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok()),
            day: d["occurrenceDateTime"].as_str().and_then(dates::parse_day),
        })
        .collect();
    let overdue: Vec<String> = schedule::evaluate(birth, today, &given)
        .into_iter()
        .filter(|r| r.status == DoseStatus::Overdue)
        .map(|r| {
            let vaccine = if en { r.vaccine_en } else { r.vaccine_es };
            let due = r.day.map(dates::display).unwrap_or_default();
            if en {
                format!("{vaccine} (dose {}, due {due})", r.dose)
            } else {
                format!("{vaccine} (dosis {}, desde {due})", r.dose)
            }
        })
        .collect();
    if overdue.is_empty() {
        return None;
    }
    Some(CensusRow {
        id: patient["id"].as_str().unwrap_or_default().to_string(),
        name: chart::name_of(patient),
        curp: chart::curp_of(patient).unwrap_or_default(),
        birth: dates::display(birth),
        age_months: dates::age_months(birth, today),
        overdue,
    })
}
