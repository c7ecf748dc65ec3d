//! Printable forms: the receta (prescription) a Mexican pharmacy expects — facility and CLUES,
//! physician with cédula profesional, date, patient with CURP, age, weight and allergies,
//! diagnoses, each drug with its CNIS key, dose, route, frequency, duration and quantity, and
//! a signature line — the laboratory and imaging order, and the referral form.
//!
//! Why from the signed note: what is printed is what was signed (the note's entries name its
//! requests), never a second copy kept by the UI.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::consult::{entry_references, load_note};
use super::{
    AppState, Ctx, Layout, PatientView, blocking, ehr_error, ensure_subject, error_page,
    open_record, render,
};
use crate::{data, dates};

/// Who signs and where: the heading and the foot of every printed form.
#[derive(Default)]
pub struct Signer {
    pub physician: String,
    /// Cédula profesional, when the record holds it.
    pub cedula: Option<String>,
    pub facility: String,
    pub clues: String,
    pub address: String,
}

/// A printed line: a label and what it says.
pub struct PrintLine {
    pub label: String,
    pub value: String,
}

/// One drug of the receta.
pub struct RecetaLine {
    pub name: String,
    pub key: String,
    /// The key is not verified against a CNIS edition (`clinical::formulary::KeyStatus`).
    pub unverified: bool,
    pub sig: String,
    pub quantity: String,
    pub duration: String,
}

fn signer_of(db: &data::Db, author: &Value, custodian: &Value) -> Signer {
    let mut signer = Signer {
        physician: author["display"].as_str().unwrap_or_default().to_string(),
        ..Signer::default()
    };
    if let Some(reference) = author["reference"].as_str()
        && let Some((name, cedula)) = data::practitioner(db, reference)
    {
        if !name.is_empty() {
            signer.physician = name;
        }
        signer.cedula = cedula;
    }
    if let Some(reference) = custodian["reference"].as_str()
        && let Some((facility, address)) = data::organization(db, reference)
    {
        signer.facility = facility.name;
        signer.clues = facility.clues;
        signer.address = address;
    }
    if signer.facility.is_empty() {
        signer.facility = custodian["display"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    }
    signer
}

fn concept_text(concept: &Value) -> String {
    concept["text"]
        .as_str()
        .or_else(|| concept["coding"][0]["display"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn diagnoses_of(encounter: &Value) -> Vec<PrintLine> {
    encounter["reasonCode"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| PrintLine {
            label: c["coding"][0]["code"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            value: concept_text(c),
        })
        .collect()
}

/// What a note's forms need: the note, its encounter, its requests, and the weight measured.
struct NoteForms {
    signer: Signer,
    date: String,
    diagnoses: Vec<PrintLine>,
    requests: Vec<Value>,
    weight: Option<String>,
}

fn note_forms(db: &data::Db, patient_id: &str, note_id: &str) -> data::Result<NoteForms> {
    let (note, _) = load_note(db, patient_id, note_id)?;
    let encounter = match note["encounter"]["reference"]
        .as_str()
        .and_then(|r| r.strip_prefix("Encounter/"))
    {
        Some(id) => data::read(db, "Encounter", id).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let mut requests = Vec::new();
    let mut weight = None;
    for reference in entry_references(&note) {
        let Some((resource_type, id)) = reference.split_once('/') else {
            continue;
        };
        if !matches!(
            resource_type,
            "MedicationRequest" | "ServiceRequest" | "Observation"
        ) {
            continue;
        }
        let Ok(resource) = data::read(db, resource_type, id) else {
            continue;
        };
        ensure_subject(&resource, patient_id)?;
        if resource_type == "Observation" {
            if resource["code"]["coding"][0]["code"] == "29463-7"
                && let Some(value) = resource["valueQuantity"]["value"].as_f64()
            {
                weight = Some(format!("{} kg", crate::chart::format_value(value)));
            }
        } else {
            requests.push(resource);
        }
    }
    Ok(NoteForms {
        signer: signer_of(db, &note["author"][0], &note["custodian"]),
        date: note["date"]
            .as_str()
            .map(dates::display_text)
            .unwrap_or_default(),
        diagnoses: diagnoses_of(&encounter),
        requests,
        weight,
    })
}

/// What the pharmacy dispenses: `60 tabletas (2 envases de 30 tabletas)` when the formulary
/// says how the drug is packed, else the units alone.
fn dispense_text(units: f64, unit: &str, key: &str) -> String {
    let mut text = format!(
        "{} {}",
        crate::prescribing::show_number(units),
        crate::prescribing::plural(unit, units)
    );
    if let Some(medicine) = clinical::formulary::medicine(key)
        && medicine.units_per_package > 1
        && crate::prescribing::plural(unit, 2.0) == medicine.package_unit
    {
        let packages = (units / f64::from(medicine.units_per_package)).ceil();
        text.push_str(&format!(
            " ({} {} {} {} {})",
            crate::prescribing::show_number(packages),
            if (packages - 1.0).abs() < f64::EPSILON {
                "envase"
            } else {
                "envases"
            },
            "de",
            medicine.units_per_package,
            medicine.package_unit
        ));
    }
    text
}

#[derive(Template)]
#[template(path = "receta.html")]
struct RecetaPage {
    layout: Layout,
    patient: PatientView,
    signer: Signer,
    date: String,
    weight: String,
    diagnoses: Vec<PrintLine>,
    lines: Vec<RecetaLine>,
    folio: String,
}

/// # `GET /ui/pacientes/{id}/notas/{note}/receta`
pub async fn receta(
    State(app): AppState,
    ctx: Ctx,
    Path((id, note_id)): Path<(String, String)>,
) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let (pid, nid) = (id.clone(), note_id.clone());
    let forms = match blocking(&app, &ctx, move |db| note_forms(db, &pid, &nid)).await {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let lines: Vec<RecetaLine> = forms
        .requests
        .iter()
        .filter(|r| r["resourceType"] == "MedicationRequest")
        .map(|r| {
            let concept = &r["medicationCodeableConcept"];
            let key = concept["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["system"] == mexico::systems::CNIS)
                .and_then(|c| c["code"].as_str())
                .unwrap_or_default()
                .to_string();
            let quantity = &r["dispenseRequest"]["quantity"];
            let duration = &r["dispenseRequest"]["expectedSupplyDuration"];
            let dispense = quantity["value"]
                .as_f64()
                .map(|v| dispense_text(v, quantity["unit"].as_str().unwrap_or_default(), &key))
                .unwrap_or_default();
            RecetaLine {
                name: concept_text(concept),
                unverified: clinical::formulary::medicine(&key)
                    .is_none_or(|m| m.key_status == clinical::formulary::KeyStatus::Unverified),
                key,
                sig: r["dosageInstruction"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                quantity: dispense,
                duration: duration["value"]
                    .as_f64()
                    .map(|v| format!("{} días", crate::prescribing::show_number(v)))
                    .unwrap_or_default(),
            }
        })
        .collect();
    if lines.is_empty() {
        return error_page(
            &app,
            &ctx,
            StatusCode::NOT_FOUND,
            vec![ctx.tr.s("print.no_prescriptions").to_string()],
        );
    }
    render(
        &RecetaPage {
            layout: ctx.layout(&app, "print.receta"),
            patient: open.view,
            signer: forms.signer,
            date: forms.date,
            weight: forms.weight.unwrap_or_default(),
            diagnoses: forms.diagnoses,
            lines,
            folio: note_id,
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "lab_order.html")]
struct OrderPage {
    layout: Layout,
    patient: PatientView,
    signer: Signer,
    date: String,
    diagnoses: Vec<PrintLine>,
    studies: Vec<PrintLine>,
    folio: String,
}

/// # `GET /ui/pacientes/{id}/notas/{note}/estudios`
pub async fn orders(
    State(app): AppState,
    ctx: Ctx,
    Path((id, note_id)): Path<(String, String)>,
) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let (pid, nid) = (id.clone(), note_id.clone());
    let forms = match blocking(&app, &ctx, move |db| note_forms(db, &pid, &nid)).await {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let studies: Vec<PrintLine> = forms
        .requests
        .iter()
        .filter(|r| r["resourceType"] == "ServiceRequest")
        .map(|r| PrintLine {
            label: r["category"].get(0).map(concept_text).unwrap_or_default(),
            value: format!(
                "{} (LOINC {})",
                concept_text(&r["code"]),
                r["code"]["coding"][0]["code"].as_str().unwrap_or_default()
            ),
        })
        .collect();
    if studies.is_empty() {
        return error_page(
            &app,
            &ctx,
            StatusCode::NOT_FOUND,
            vec![ctx.tr.s("print.no_orders").to_string()],
        );
    }
    render(
        &OrderPage {
            layout: ctx.layout(&app, "print.orders"),
            patient: open.view,
            signer: forms.signer,
            date: forms.date,
            diagnoses: forms.diagnoses,
            studies,
            folio: note_id,
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "referral_form.html")]
struct ReferralFormPage {
    layout: Layout,
    patient: PatientView,
    signer: Signer,
    date: String,
    to: String,
    to_clues: String,
    priority: String,
    diagnoses: Vec<PrintLine>,
    notes: Vec<String>,
    folio: String,
}

/// # `GET /ui/pacientes/{id}/referencias/{request}/imprimir`
pub async fn referral_form(
    State(app): AppState,
    ctx: Ctx,
    Path((id, request_id)): Path<(String, String)>,
) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let (pid, rid) = (id.clone(), request_id.clone());
    let session = open.session.clone();
    let loaded = blocking(&app, &ctx, move |db| {
        let request = data::read(db, "ServiceRequest", &rid)?;
        ensure_subject(&request, &pid)?;
        let to = request["performer"][0].clone();
        let to_facility = to["reference"]
            .as_str()
            .and_then(|r| data::organization(db, r))
            .map(|(f, _)| f);
        // The sender: the requesting facility (and the author, when named).
        let requester = &request["requester"];
        let mut signer = signer_of(db, &Value::Null, requester);
        if signer.facility.is_empty() {
            signer.facility = session.facility_name.clone();
            signer.clues = session.facility_clues.clone();
        }
        signer.physician = requester["display"]
            .as_str()
            .and_then(|d| d.split(" — ").nth(1))
            .unwrap_or_default()
            .to_string();
        Ok((request, to_facility, signer))
    })
    .await;
    let (request, to_facility, signer) = match loaded {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let (to, to_clues) = match to_facility {
        Some(f) => (f.name, f.clues),
        None => (
            request["performer"][0]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            String::new(),
        ),
    };
    render(
        &ReferralFormPage {
            layout: ctx.layout(&app, "print.referral"),
            patient: open.view,
            signer,
            date: request["authoredOn"]
                .as_str()
                .map(dates::display_text)
                .unwrap_or_default(),
            to,
            to_clues,
            priority: request["priority"]
                .as_str()
                .unwrap_or("routine")
                .to_string(),
            diagnoses: diagnoses_of(&request),
            notes: request["note"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["text"].as_str().map(str::to_string))
                .collect(),
            folio: request_id,
        },
        StatusCode::OK,
    )
}
