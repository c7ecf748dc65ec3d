//! The printable patient summary (`GET /ui/pacientes/{id}/resumen`): the sections of the
//! patient's International Patient Summary, the same call `Patient/{id}/$summary` answers
//! (`ehr::Ehr::patient_summary`), so the paper lists exactly the resources the document does,
//! each marked with the reference it has there (`data-ref`). The latest signed note follows,
//! as the one part that is not in the IPS.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::{AppState, Ctx, Layout, PatientView, blocking, ehr_error, open_record, render};
use crate::chart::{self, LatestNote, concept_text};
use crate::{data, dates};

/// One resource of a section, as printed.
pub struct SummaryLine {
    /// `Type/id`, as the IPS section's entry references it.
    pub reference: String,
    pub text: String,
    pub detail: String,
    pub date: String,
}

/// One IPS section, as printed.
pub struct SummarySectionView {
    /// The element id (tests and the print style find sections by it).
    pub html_id: &'static str,
    pub code: &'static str,
    pub title: String,
    pub empty: String,
    pub lines: Vec<SummaryLine>,
}

#[derive(Template)]
#[template(path = "summary.html")]
struct SummaryPage {
    layout: Layout,
    patient: PatientView,
    sections: Vec<SummarySectionView>,
    latest_note: Option<LatestNote>,
    generated: String,
    facility: String,
}

fn html_id(code: &str) -> &'static str {
    match code {
        "11450-4" => "summary-problems",
        "48765-2" => "summary-allergies",
        "10160-0" => "summary-medications",
        "11369-6" => "summary-immunizations",
        "30954-2" => "summary-results",
        "8716-3" => "summary-vitals",
        "18776-5" => "pending-orders",
        _ => "summary-other",
    }
}

fn quantity_text(quantity: &Value) -> Option<(String, String)> {
    let value = quantity["value"].as_f64()?;
    let unit = quantity["unit"]
        .as_str()
        .or_else(|| quantity["code"].as_str())
        .unwrap_or_default();
    Some((chart::format_value(value), unit.to_string()))
}

/// An Observation's value: a quantity, or its components (`138/86 mmHg`), or a coded or
/// text value.
fn observation_value(resource: &Value) -> String {
    if let Some((value, unit)) = quantity_text(&resource["valueQuantity"]) {
        return format!("{value} {unit}").trim().to_string();
    }
    let components: Vec<(String, String)> = resource["component"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| quantity_text(&c["valueQuantity"]))
        .collect();
    if let Some((_, unit)) = components.first() {
        let values: Vec<&str> = components.iter().map(|(v, _)| v.as_str()).collect();
        return format!("{} {unit}", values.join("/")).trim().to_string();
    }
    resource["valueString"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| concept_text(&resource["valueCodeableConcept"]))
}

fn first_str<'a>(resource: &'a Value, elements: &[&str]) -> &'a str {
    elements
        .iter()
        .find_map(|e| resource[*e].as_str())
        .unwrap_or_default()
}

/// How a summary line reads, by the resource's type.
fn line_of(reference: &str, resource: &Value) -> SummaryLine {
    let (text, detail, date) = match resource["resourceType"].as_str().unwrap_or_default() {
        "Condition" => {
            let code = resource["code"]["coding"][0]["code"]
                .as_str()
                .unwrap_or_default();
            (
                format!("{code} {}", concept_text(&resource["code"]))
                    .trim()
                    .to_string(),
                String::new(),
                first_str(resource, &["onsetDateTime", "recordedDate"]),
            )
        }
        "AllergyIntolerance" => (
            concept_text(&resource["code"]),
            resource["reaction"][0]["manifestation"]
                .as_array()
                .into_iter()
                .flatten()
                .map(concept_text)
                .collect::<Vec<_>>()
                .join(", "),
            first_str(resource, &["recordedDate", "onsetDateTime"]),
        ),
        "MedicationRequest" => (
            concept_text(&resource["medicationCodeableConcept"]),
            resource["dosageInstruction"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            first_str(resource, &["authoredOn"]),
        ),
        "MedicationStatement" => (
            concept_text(&resource["medicationCodeableConcept"]),
            resource["dosage"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            first_str(resource, &["effectiveDateTime", "dateAsserted"]),
        ),
        "Immunization" => (
            concept_text(&resource["vaccineCode"]),
            resource["protocolApplied"][0]["doseNumberPositiveInt"]
                .as_u64()
                .map(|dose| format!("dosis {dose}"))
                .unwrap_or_default(),
            first_str(resource, &["occurrenceDateTime"]),
        ),
        "Observation" => (
            concept_text(&resource["code"]),
            observation_value(resource),
            first_str(resource, &["effectiveDateTime", "issued"]),
        ),
        "ServiceRequest" => (
            concept_text(&resource["code"]),
            resource["category"]
                .get(0)
                .map(concept_text)
                .unwrap_or_default(),
            first_str(resource, &["authoredOn"]),
        ),
        _ => (concept_text(&resource["code"]), String::new(), ""),
    };
    SummaryLine {
        reference: reference.to_string(),
        text,
        detail,
        date: dates::display_text(date),
    }
}

/// # `GET /ui/pacientes/{id}/resumen`
pub async fn summary(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let loaded = blocking(&app, &ctx, move |db| {
        let (sections, resources) = data::patient_summary(db, &id)?;
        let latest_note = data::compositions(db, &id)?
            .iter()
            .filter_map(chart::signed_note)
            .max_by(|a, b| a.date.cmp(&b.date));
        Ok((sections, resources, latest_note))
    })
    .await;
    let (sections, resources, latest_note) = match loaded {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let tr = ctx.tr;
    let sections = sections
        .iter()
        .map(|section| SummarySectionView {
            html_id: html_id(section.code),
            code: section.code,
            title: tr.pick(section.title_es, section.title_en).to_string(),
            empty: tr.pick(section.empty_es, section.empty_en).to_string(),
            lines: section
                .entries
                .iter()
                .filter_map(|reference| {
                    resources
                        .get(reference)
                        .map(|resource| line_of(reference, resource))
                })
                .collect(),
        })
        .collect();
    render(
        &SummaryPage {
            layout: ctx.layout(&app, "summary.title"),
            patient: open.view,
            sections,
            latest_note,
            generated: dates::display_instant(ctx.now_ms),
            facility: format!(
                "{} ({})",
                open.session.facility_name, open.session.facility_clues
            ),
        },
        StatusCode::OK,
    )
}
