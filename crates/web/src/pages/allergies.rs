//! The allergies screen: the patient's AllergyIntolerance records, adding one, refuting one
//! (with the reason), and recording "niega alergias" — each a FHIR `AllergyIntolerance` with
//! its verification status, so the banner and the prescribing checks read them the same way.
//!
//! Why "niega alergias" is a record: "nothing recorded" means nobody asked; SNOMED CT 716186003
//! (no known allergy), confirmed, says somebody did. A later allergy makes it inactive in the
//! same transaction, so the two never stand together.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    AppState, Ctx, Layout, OpenRecord, PatientView, blocking, ehr_error, not_offered, open_record,
    render, see_other, to_json,
};
use crate::{data, dates, forms, messages};

/// Longest substance or reaction text.
pub const ALLERGY_TEXT_CHARS_MAX: usize = 120;

/// Longest refutation reason.
pub const REASON_CHARS_MAX: usize = 500;

const CLINICAL_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
const VERIFICATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";

/// SNOMED CT codes of the allergy classes the prescribing checks know by code, found in what
/// was typed (the text is always kept).
const CLASS_CODES: &[(&str, &str, &str)] = &[
    ("penicilina", "764146007", "Penicillin"),
    ("sulfa", "387406002", "Sulfonamide"),
    ("aine", "372665008", "Non-steroidal anti-inflammatory agent"),
];

/// One allergy record as the screen lists it.
pub struct AllergyRow {
    pub id: String,
    pub substance: String,
    pub reaction: String,
    pub category: String,
    pub criticality: String,
    pub verification: String,
    pub recorded: String,
    pub note: String,
    pub in_force: bool,
    pub no_known: bool,
}

fn code_of(concept: &Value) -> &str {
    concept["coding"][0]["code"].as_str().unwrap_or_default()
}

fn rows(resources: &[Value]) -> Vec<AllergyRow> {
    let mut out: Vec<AllergyRow> = resources
        .iter()
        .filter_map(|resource| {
            let record = clinical::fhir_input::read_allergy(resource)?;
            let in_force = record.active
                && !matches!(
                    record.verification,
                    clinical::fhir_input::Verification::Refuted
                        | clinical::fhir_input::Verification::EnteredInError
                );
            Some(AllergyRow {
                id: record.id.clone().unwrap_or_default(),
                substance: record.label.clone(),
                reaction: resource["reaction"][0]["manifestation"][0]["text"]
                    .as_str()
                    .or_else(|| {
                        resource["reaction"][0]["manifestation"][0]["coding"][0]["display"].as_str()
                    })
                    .unwrap_or_default()
                    .to_string(),
                category: resource["category"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                criticality: resource["criticality"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                verification: code_of(&resource["verificationStatus"]).to_string(),
                recorded: resource["recordedDate"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                note: resource["note"]
                    .as_array()
                    .and_then(|n| n.last())
                    .and_then(|n| n["text"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                in_force,
                no_known: record.no_known_allergy,
            })
        })
        .collect();
    out.sort_by(|a, b| b.recorded.cmp(&a.recorded));
    out
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct AllergyForm {
    /// `add`, `refute` or `deny`.
    action: String,
    allergy: String,
    substance: String,
    category: String,
    criticality: String,
    reaction: String,
    verification: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "allergies.html")]
struct AllergiesPage {
    layout: Layout,
    patient: PatientView,
    in_force: Vec<AllergyRow>,
    history: Vec<AllergyRow>,
    form: AllergyForm,
    errors: Vec<String>,
    categories: &'static [&'static str],
}

impl AllergiesPage {
    fn category_key(&self, category: &str) -> &'static str {
        match category {
            "food" => "allergies.cat.food",
            "medication" => "allergies.cat.medication",
            "environment" => "allergies.cat.environment",
            "biologic" => "allergies.cat.biologic",
            _ => "allergies.cat.unknown",
        }
    }

    fn verification_key(&self, verification: &str) -> &'static str {
        match verification {
            "confirmed" => "allergies.ver.confirmed",
            "refuted" => "allergies.ver.refuted",
            "entered-in-error" => "allergies.ver.error",
            _ => "allergies.ver.unconfirmed",
        }
    }
}

fn page(
    ctx: &Ctx,
    app: &crate::App,
    view: PatientView,
    resources: &[Value],
    form: AllergyForm,
) -> AllergiesPage {
    let (in_force, history): (Vec<AllergyRow>, Vec<AllergyRow>) =
        rows(resources).into_iter().partition(|r| r.in_force);
    AllergiesPage {
        layout: ctx.layout(app, "allergies"),
        patient: view,
        in_force,
        history,
        form,
        errors: Vec::new(),
        categories: &["medication", "food", "environment", "biologic"],
    }
}

/// # `GET /ui/pacientes/{id}/alergias`
pub async fn allergies_page(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    let pid = id.clone();
    match blocking(&app, &ctx, move |db| data::allergies(db, &pid)).await {
        Ok(resources) => {
            let form = AllergyForm {
                verification: "confirmed".into(),
                category: "medication".into(),
                ..AllergyForm::default()
            };
            render(
                &page(&ctx, &app, open.view, &resources, form),
                StatusCode::OK,
            )
        }
        Err(error) => ehr_error(&app, &ctx, &error),
    }
}

fn coded(system: &str, code: &str) -> Value {
    json!({"coding": [{"system": system, "code": code}]})
}

/// The AllergyIntolerance of what was typed.
fn new_allergy(form: &AllergyForm, patient_id: &str, author: &Value, now: &str) -> Value {
    let substance = form.substance.trim();
    let folded = substance.to_lowercase();
    let mut code = json!({"text": substance});
    if let Some((_, snomed, display)) = CLASS_CODES.iter().find(|(word, _, _)| {
        folded
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w.starts_with(word))
    }) {
        code["coding"] =
            json!([{"system": "http://snomed.info/sct", "code": snomed, "display": display}]);
    }
    let mut allergy = json!({
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": coded(CLINICAL_SYSTEM, "active"),
        "verificationStatus": coded(VERIFICATION_SYSTEM, if form.verification == "unconfirmed" { "unconfirmed" } else { "confirmed" }),
        "type": "allergy",
        "category": [match form.category.as_str() {
            "food" | "environment" | "biologic" => form.category.as_str(),
            _ => "medication",
        }],
        "code": code,
        "patient": {"reference": format!("Patient/{patient_id}")},
        "recordedDate": now,
        "recorder": author
    });
    if matches!(
        form.criticality.as_str(),
        "low" | "high" | "unable-to-assess"
    ) {
        allergy["criticality"] = json!(form.criticality);
    }
    if !form.reaction.trim().is_empty() {
        allergy["reaction"] = json!([{"manifestation": [{"text": form.reaction.trim()}]}]);
    }
    allergy
}

/// A PUT entry of a changed record, at the version read.
fn put(resource: &Value, changed: Value) -> Option<Value> {
    let id = resource["id"].as_str()?;
    let mut request = json!({"method": "PUT", "url": format!("AllergyIntolerance/{id}")});
    if let Some(version) = data::version_of(resource) {
        request["ifMatch"] = json!(format!("W/\"{version}\""));
    }
    Some(
        json!({"fullUrl": format!("AllergyIntolerance/{id}"), "resource": changed, "request": request}),
    )
}

/// A record made inactive (or refuted), with a note saying why.
fn ended(
    resource: &Value,
    verification: Option<&str>,
    note: &str,
    author: &str,
    now: &str,
) -> Value {
    let mut changed = resource.clone();
    if let Some(object) = changed.as_object_mut() {
        object.remove("meta");
    }
    changed["clinicalStatus"] = coded(CLINICAL_SYSTEM, "inactive");
    if let Some(verification) = verification {
        changed["verificationStatus"] = coded(VERIFICATION_SYSTEM, verification);
    }
    let entry = json!({"authorString": author, "time": now, "text": note});
    match changed["note"].as_array_mut() {
        Some(notes) => notes.push(entry),
        None => changed["note"] = json!([entry]),
    }
    changed
}

/// # `POST /ui/pacientes/{id}/alergias`
pub async fn allergies(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<AllergyForm>,
) -> Response {
    let OpenRecord { session, view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !view.abilities.edit_allergies {
        return not_offered(&app, &ctx, &id, "allergies.not_offered");
    }
    let pid = id.clone();
    let resources = match blocking(&app, &ctx, move |db| data::allergies(db, &pid)).await {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let mut page = page(&ctx, &app, view, &resources, form.clone());
    let now = dates::instant_mexico(ctx.now_ms);
    let author = forms::author(&session);
    let who = format!("{} — {}", session.display_name, session.facility_name);
    let in_force = |resource: &&Value| {
        clinical::fhir_input::read_allergy(resource).is_some_and(|r| {
            r.active
                && !matches!(
                    r.verification,
                    clinical::fhir_input::Verification::Refuted
                        | clinical::fhir_input::Verification::EnteredInError
                )
        })
    };
    let is_no_known = |resource: &&Value| {
        clinical::fhir_input::read_allergy(resource).is_some_and(|r| r.no_known_allergy)
    };
    let mut entries: Vec<Value> = Vec::new();
    match form.action.as_str() {
        "add" => {
            let substance = form.substance.trim();
            if substance.is_empty() {
                page.errors
                    .push(ctx.tr.s("allergies.substance_required").to_string());
            }
            if substance.chars().count() > ALLERGY_TEXT_CHARS_MAX
                || form.reaction.trim().chars().count() > ALLERGY_TEXT_CHARS_MAX
            {
                page.errors.push(format!(
                    "{} ({ALLERGY_TEXT_CHARS_MAX})",
                    ctx.tr.s("form.too_long")
                ));
            }
            if page.errors.is_empty() {
                entries.push(json!({
                    "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
                    "resource": new_allergy(&form, &id, &author, &now),
                    "request": {"method": "POST", "url": "AllergyIntolerance"}
                }));
                // A known allergy ends "niega alergias".
                for denial in resources.iter().filter(in_force).filter(is_no_known) {
                    entries.extend(put(
                        denial,
                        ended(denial, None, "Se registró una alergia.", &who, &now),
                    ));
                }
            }
        }
        "refute" => {
            let reason = form.reason.trim();
            let target = resources
                .iter()
                .filter(in_force)
                .find(|r| r["id"] == form.allergy.as_str());
            match target {
                None => page.errors.push(ctx.tr.s("error.not_found").to_string()),
                Some(_)
                    if reason.chars().count() < 5 || reason.chars().count() > REASON_CHARS_MAX =>
                {
                    page.errors
                        .push(ctx.tr.s("allergies.reason_required").to_string());
                }
                Some(target) => entries.extend(put(
                    target,
                    ended(
                        target,
                        Some("refuted"),
                        &format!("Refutada: {reason}"),
                        &who,
                        &now,
                    ),
                )),
            }
        }
        "deny" => {
            let allergies_in_force = resources.iter().filter(in_force).any(|r| !is_no_known(&r));
            if allergies_in_force {
                page.errors
                    .push(ctx.tr.s("allergies.deny_conflict").to_string());
            } else if !resources.iter().filter(in_force).any(|r| is_no_known(&r)) {
                entries.push(json!({
                    "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
                    "resource": {
                        "resourceType": "AllergyIntolerance",
                        "clinicalStatus": coded(CLINICAL_SYSTEM, "active"),
                        "verificationStatus": coded(VERIFICATION_SYSTEM, "confirmed"),
                        "code": {"coding": [{"system": "http://snomed.info/sct", "code": clinical::fhir_input::NO_KNOWN_ALLERGY, "display": "No known allergy"}], "text": "Niega alergias"},
                        "patient": {"reference": format!("Patient/{id}")},
                        "recordedDate": now,
                        "recorder": author
                    },
                    "request": {"method": "POST", "url": "AllergyIntolerance"}
                }));
            }
        }
        _ => page.errors.push(ctx.tr.s("error.not_saved").to_string()),
    }
    if !page.errors.is_empty() {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if entries.is_empty() {
        return see_other(&format!("/ui/pacientes/{id}/alergias?ok=allergies.saved"));
    }
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    match blocking(&app, &ctx, move |db| {
        data::transaction(db, &to_json(&bundle))
    })
    .await
    {
        Ok(_) => see_other(&format!("/ui/pacientes/{id}/alergias?ok=allergies.saved")),
        Err(error) => {
            page.errors.extend(messages::general(ctx.tr, &error));
            render(&page, super::error_status(&error))
        }
    }
}
