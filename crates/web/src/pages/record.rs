//! The chart (problems, reconciled medications, immunizations, latest vital signs, lab results
//! with flags and ranges, trends with axes, growth charts, and the paginated timeline of visits
//! at every clinic), and one past visit in full.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{AppState, Ctx, Layout, PatientView, blocking, ehr_error, open_record, render};
use crate::chart::{self, Chart, concept_text};
use crate::{data, dates};

/// Visits per page of the timeline: a page stays a page (60 visits were 7,000 pixels).
pub const VISITS_PER_PAGE: usize = 20;

/// A trend ready to draw.
pub struct TrendView {
    pub id: String,
    pub key: &'static str,
    pub unit: &'static str,
    pub latest: String,
    pub latest_date: String,
    /// WHO percentile band of the latest value (children), e.g. "P15–P50 OMS".
    pub band: String,
    pub svg: String,
}

/// The chart's trends: (growth charts over the WHO percentiles, other trends).
fn trend_views(chart: &Chart) -> (Vec<TrendView>, Vec<TrendView>) {
    let mut growth = Vec::new();
    let mut trends = Vec::new();
    for series in &chart.series {
        let Some(&(day, value)) = series.points.last() else {
            continue;
        };
        let measure = match series.trend.key {
            "trend.weight" => Some(crate::growth::Measure::Weight),
            "trend.height" => Some(crate::growth::Measure::Height),
            "trend.bmi" => Some(crate::growth::Measure::Bmi),
            _ => None,
        };
        let drawn = measure
            .zip(chart.header.birth_day)
            .and_then(|(measure, born)| {
                let svg =
                    crate::growth::chart(measure, &chart.header.gender, born, &series.points)?;
                let band = crate::growth::band(measure, &chart.header.gender, born, day, value);
                Some((svg, band))
            });
        let view = |svg: String, band: String| TrendView {
            id: series.trend.key.replace('.', "-"),
            key: series.trend.key,
            unit: series.trend.unit,
            latest: chart::format_value(value),
            latest_date: dates::display(day),
            band,
            svg,
        };
        match drawn {
            Some((svg, band)) => growth.push(view(
                svg,
                band.map(|b| format!("{b} OMS")).unwrap_or_default(),
            )),
            None => trends.push(view(crate::svg::line_chart(&series.points), String::new())),
        }
    }
    (growth, trends)
}

/// Loads and builds the chart (blocking).
pub fn load_chart(db: &data::Db, patient_id: &str, today: i64) -> data::Result<Chart> {
    let resources = data::everything(db, patient_id)?;
    let facilities = data::facilities(db, chart::facility_references(&resources))?;
    Ok(chart::build(patient_id, &resources, &facilities, today))
}

#[derive(Template)]
#[template(path = "chart.html")]
pub struct ChartPage {
    pub layout: Layout,
    pub patient: PatientView,
    pub chart: Chart,
    pub trends: Vec<TrendView>,
    pub growth: Vec<TrendView>,
    pub truncated: bool,
    /// Open "possible duplicate" reviews about this patient (an alert in the header).
    pub duplicate_reviews: usize,
    /// 1-based page of the timeline, and the pages there are.
    pub page: usize,
    pub pages: usize,
    /// Visits in all (the page shows [`VISITS_PER_PAGE`] of them).
    pub visit_count: usize,
    pub care_reason: String,
    pub move_reason: String,
    /// Apps a clinician may open with this record (SMART EHR launch): `(client_id, name)`.
    pub apps: Vec<(String, String)>,
}

impl ChartPage {
    pub fn prev_page(&self) -> Option<usize> {
        (self.page > 1).then(|| self.page - 1)
    }

    pub fn next_page(&self) -> Option<usize> {
        (self.page < self.pages).then(|| self.page + 1)
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ChartQuery {
    pagina: Option<usize>,
}

/// Renders a chart page showing one page of the timeline (also used by the benchmark).
pub fn chart_page(
    layout: Layout,
    patient: PatientView,
    mut chart: Chart,
    page: usize,
    care_reason: String,
) -> ChartPage {
    let visit_count = chart.visits.len();
    let pages = visit_count.div_ceil(VISITS_PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let start = (page - 1) * VISITS_PER_PAGE;
    chart.visits = chart
        .visits
        .into_iter()
        .skip(start)
        .take(VISITS_PER_PAGE)
        .collect();
    let (growth, trends) = trend_views(&chart);
    ChartPage {
        layout,
        patient,
        truncated: chart.resource_count >= data::CHART_RESOURCES_MAX,
        chart,
        trends,
        growth,
        duplicate_reviews: 0,
        page,
        pages,
        visit_count,
        care_reason,
        move_reason: String::new(),
        apps: Vec::new(),
    }
}

/// # `GET /ui/pacientes/{id}?pagina=N`
pub async fn chart(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(query): Query<ChartQuery>,
) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let today = ctx.today();
    let clinician = open.session.requester.role().is_clinician();
    let loaded = blocking(&app, &ctx, move |db| {
        let reviews = match data::open_duplicate_reviews(db, &id) {
            Ok(n) => n,
            Err(ehr::Error::Forbidden(_)) => 0,
            Err(error) => return Err(error),
        };
        let apps = if clinician {
            data::launchable_apps(db)?
        } else {
            Vec::new()
        };
        Ok((load_chart(db, &id, today)?, reviews, apps))
    })
    .await;
    match loaded {
        Ok((chart, duplicate_reviews, apps)) => {
            let mut page = chart_page(
                ctx.layout(&app, "timeline"),
                open.view,
                chart,
                query.pagina.unwrap_or(1),
                String::new(),
            );
            page.duplicate_reviews = duplicate_reviews;
            page.apps = apps;
            render(&page, StatusCode::OK)
        }
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

/// One line of a past visit: a label and what was recorded.
pub struct VisitLine {
    pub label: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "visit.html")]
struct VisitPage {
    layout: Layout,
    patient: PatientView,
    date: String,
    facility: String,
    clues: String,
    service: String,
    practitioner: String,
    diagnoses: Vec<VisitLine>,
    vitals: Vec<VisitLine>,
    labs: Vec<VisitLine>,
    prescriptions: Vec<VisitLine>,
    orders: Vec<VisitLine>,
    notes: Vec<(String, String)>,
}

fn coded(concept: &Value, system: &str) -> Option<String> {
    concept["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"] == system)
        .and_then(|c| c["code"].as_str())
        .map(str::to_string)
}

/// The parts of one visit, from the patient's compartment.
fn visit_parts(resources: &[Value], encounter_id: &str) -> VisitParts {
    let target = format!("Encounter/{encounter_id}");
    let mut parts = VisitParts::default();
    for resource in resources {
        if resource["encounter"]["reference"] != target.as_str() {
            continue;
        }
        match resource["resourceType"].as_str().unwrap_or_default() {
            "Observation" => {
                let is_vital = resource["category"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["coding"][0]["code"] == "vital-signs")
                    || coded(&resource["code"], mexico::systems::LOINC).is_some_and(|c| {
                        chart::VITAL_SIGN_CODES.contains(&c.as_str()) && c != "2339-0"
                    });
                let value = if let Some(components) = resource["component"].as_array() {
                    components
                        .iter()
                        .filter_map(|c| c["valueQuantity"]["value"].as_f64())
                        .map(chart::format_value)
                        .collect::<Vec<_>>()
                        .join("/")
                        + " "
                        + resource["component"][0]["valueQuantity"]["unit"]
                            .as_str()
                            .unwrap_or_default()
                } else {
                    let quantity = &resource["valueQuantity"];
                    match quantity["value"].as_f64() {
                        Some(v) => format!(
                            "{} {}",
                            chart::format_value(v),
                            quantity["unit"].as_str().unwrap_or_default()
                        ),
                        None => resource["valueString"]
                            .as_str()
                            .or_else(|| resource["valueCodeableConcept"]["text"].as_str())
                            .unwrap_or_default()
                            .to_string(),
                    }
                };
                let mut value = value.trim().to_string();
                if !is_vital && let Some(view) = clinical::labs::read_observation(resource) {
                    if let Some(flag) = view.flag() {
                        value.push_str(&format!(" [{}]", flag.label_es()));
                    }
                    if let Some(range) = view.range_text.clone().or_else(|| {
                        view.range.map(|r| match (r.low, r.high) {
                            (Some(l), Some(h)) => {
                                format!("{}–{}", chart::format_value(l), chart::format_value(h))
                            }
                            _ => String::new(),
                        })
                    }) && !range.is_empty()
                    {
                        value.push_str(&format!(" (ref. {range})"));
                    }
                }
                let line = VisitLine {
                    label: concept_text(&resource["code"]),
                    value,
                };
                if is_vital {
                    parts.vitals.push(line);
                } else {
                    parts.labs.push(line);
                }
            }
            "Condition" => parts.diagnoses.push(VisitLine {
                label: coded(&resource["code"], mexico::systems::CIE10).unwrap_or_default(),
                value: concept_text(&resource["code"]),
            }),
            "MedicationRequest" => parts.prescriptions.push(VisitLine {
                label: concept_text(&resource["medicationCodeableConcept"]),
                value: resource["dosageInstruction"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            }),
            "ServiceRequest" => parts.orders.push(VisitLine {
                label: concept_text(&resource["code"]),
                value: resource["category"]
                    .get(0)
                    .map(concept_text)
                    .unwrap_or_default(),
            }),
            "Composition" => parts.notes.push((
                resource["id"].as_str().unwrap_or_default().to_string(),
                resource["title"].as_str().unwrap_or_default().to_string(),
            )),
            _ => {}
        }
    }
    parts
}

#[derive(Default)]
struct VisitParts {
    diagnoses: Vec<VisitLine>,
    vitals: Vec<VisitLine>,
    labs: Vec<VisitLine>,
    prescriptions: Vec<VisitLine>,
    orders: Vec<VisitLine>,
    notes: Vec<(String, String)>,
}

/// # `GET /ui/pacientes/{id}/visitas/{encounter}`
///
/// A past visit, at any clinic: where and when, who saw the patient, the diagnoses, vital
/// signs, results, prescriptions, orders and notes recorded at it.
pub async fn visit(
    State(app): AppState,
    ctx: Ctx,
    Path((id, encounter_id)): Path<(String, String)>,
) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let (pid, eid) = (id.clone(), encounter_id.clone());
    let loaded = blocking(&app, &ctx, move |db| {
        let encounter = data::read(db, "Encounter", &eid)?;
        super::ensure_subject(&encounter, &pid)?;
        let resources = data::everything(db, &pid)?;
        let facility = match encounter["serviceProvider"]["reference"].as_str() {
            Some(reference) => data::facilities(db, [reference.to_string()])?
                .remove(reference)
                .unwrap_or_default(),
            None => data::Facility::default(),
        };
        Ok((encounter, visit_parts(&resources, &eid), facility))
    })
    .await;
    let (encounter, parts, facility) = match loaded {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let mut diagnoses = parts.diagnoses;
    if diagnoses.is_empty() {
        for reason in encounter["reasonCode"].as_array().into_iter().flatten() {
            diagnoses.push(VisitLine {
                label: coded(reason, mexico::systems::CIE10).unwrap_or_default(),
                value: concept_text(reason),
            });
        }
    }
    let facility_name = if facility.name.is_empty() {
        encounter["serviceProvider"]["display"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    } else {
        facility.name
    };
    render(
        &VisitPage {
            layout: ctx.layout(&app, "visit.title"),
            patient: open.view,
            date: dates::display_text(encounter["period"]["start"].as_str().unwrap_or_default()),
            facility: facility_name,
            clues: facility.clues,
            service: concept_text(&encounter["serviceType"]),
            practitioner: encounter["participant"][0]["individual"]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            diagnoses,
            vitals: parts.vitals,
            labs: parts.labs,
            prescriptions: parts.prescriptions,
            orders: parts.orders,
            notes: parts.notes,
        },
        StatusCode::OK,
    )
}
