//! The consultation (NOM-004 *nota de evolución*): vital signs with range checks, several
//! CIE-10 diagnoses, prescriptions from the formulary with their checks, laboratory and
//! imaging orders, plan and prognosis — and the signed note, read-only, with its addenda.
//!
//! Every submit that does not sign (a search, an added diagnosis, a hint applied, a refusal)
//! comes back with everything that was typed. Only roles the record lets write a note are
//! offered the form; others get a page that says what they can do instead.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{
    AppState, Ctx, Layout, OpenRecord, PatientView, blocking, ehr_error, ensure_subject,
    narrative_text, not_offered, open_record, render, see_other, to_json,
};
use crate::consult::{self, ConsultForm, NoteInput};
use crate::diagnoses::{self, DxProblem, DxRow};
use crate::orders::{self, Study, StudyKind};
use crate::prescribing::{self, CheckedRx, RxRow};
use crate::vitals::{self, VitalsCheck};
use crate::{App, chart, data, dates, forms, messages};

/// Days back a lab result makes a new order a repeat.
pub const REPEAT_LAB_WINDOW_DAYS: i64 = 30;

/// One field of the vital-signs fieldset, ready to render.
pub struct VitalInput {
    pub name: &'static str,
    pub label: String,
    pub value: String,
    pub decimal: bool,
    pub message: Option<vitals::FieldMessage>,
    pub confirmed: bool,
}

/// The fieldset for a patient of this age (length under two years, head circumference under
/// three, waist from five).
pub fn vital_inputs(
    form: &vitals::VitalsForm,
    check: Option<&VitalsCheck>,
    age_days: Option<u32>,
    tr: crate::i18n::Tr,
) -> Vec<VitalInput> {
    /// Waist circumference is measured from this age (metabolic risk in children and adults).
    const WAIST_AGE_DAYS_MIN: u32 = 5 * 365;
    vitals::FIELDS
        .iter()
        .filter(|field| match field.name {
            "head_cm" => age_days.is_some_and(|d| d < vitals::HEAD_CIRCUMFERENCE_AGE_DAYS_MAX),
            "waist_cm" => age_days.is_none_or(|d| d >= WAIST_AGE_DAYS_MIN),
            _ => true,
        })
        .map(|field| {
            let measure = vitals::measure_for(field, age_days);
            let coding = measure.coding();
            VitalInput {
                name: field.name,
                label: format!(
                    "{} ({})",
                    tr.pick(coding.label_es, coding.label_en),
                    coding.unit_display
                ),
                value: form.value(field.name).to_string(),
                decimal: field.decimal,
                message: check.and_then(|c| c.message(field.name)).cloned(),
                confirmed: form.is_confirmed(field.name),
            }
        })
        .collect()
}

/// One choice of the CIE-10 picker, as shown.
pub struct DxChoice {
    pub code: &'static str,
    pub description: &'static str,
    pub synonym: Option<&'static str>,
}

/// A chosen diagnosis, as shown.
pub struct DxView {
    pub n: usize,
    pub code: &'static str,
    pub description: &'static str,
    pub kind: &'static str,
    pub problems: Vec<String>,
    pub confirmable: bool,
    pub confirmed: bool,
}

/// A prescription row, as shown.
pub struct RxView {
    pub n: usize,
    pub row: RxRow,
    pub medicine: Option<&'static clinical::formulary::Medicine>,
    pub unit: &'static str,
    pub choices: Vec<&'static clinical::formulary::Medicine>,
    pub errors: Vec<String>,
    pub findings: Vec<clinical::checks::Finding>,
    pub needs_override: bool,
    pub needs_ack: bool,
    pub renews: bool,
    pub quantity: String,
}

/// An orderable study, as shown.
pub struct StudyChoice {
    pub code: &'static str,
    pub label: &'static str,
    pub imaging: bool,
    pub checked: bool,
}

/// A result that makes an order a repeat.
pub struct RepeatLab {
    /// LOINC code of the study ordered.
    pub code: &'static str,
    /// The result's `Observation` id.
    pub observation: String,
    pub test: &'static str,
    pub result: String,
    pub date: String,
    pub clinic: String,
}

#[derive(Template)]
#[template(path = "consult.html")]
struct ConsultPage {
    layout: Layout,
    patient: PatientView,
    form: ConsultForm,
    vitals: Vec<VitalInput>,
    diagnoses: Vec<DxView>,
    searched_cie: bool,
    cie_choices: Vec<DxChoice>,
    rx: Vec<RxView>,
    every_hours: &'static [u32],
    formulary: &'static [clinical::formulary::Medicine],
    studies: Vec<StudyChoice>,
    repeats: Vec<RepeatLab>,
    errors: Vec<String>,
    bmi: Option<String>,
}

impl ConsultPage {
    fn every_label(&self, hours: &u32) -> String {
        prescribing::frequency_es(*hours)
    }
}

/// The patient's age in days, from the header.
fn age_days(view: &PatientView, today: i64) -> Option<u32> {
    view.header
        .birth_day
        .and_then(|b| u32::try_from(today - b).ok())
}

fn cie_age(view: &PatientView, today: i64) -> Option<mexico::cie10::PatientAge> {
    let birth = dates::civil_from_days(view.header.birth_day?);
    let on = dates::civil_from_days(today);
    let ymd = |(y, m, d): (i64, u32, u32)| {
        Some((
            i32::try_from(y).ok()?,
            u8::try_from(m).ok()?,
            u8::try_from(d).ok()?,
        ))
    };
    mexico::cie10::PatientAge::between(ymd(birth)?, ymd(on)?)
}

/// What the consultation needs from the record besides the patient.
struct Context {
    allergies: Vec<Value>,
    active_medications: Vec<Value>,
    /// Active Conditions by CIE-10 code.
    known: HashMap<String, String>,
    weight_kg: Option<f64>,
}

fn load_context(db: &data::Db, patient_id: &str) -> data::Result<Context> {
    let allergies = data::allergies(db, patient_id)?;
    let active_medications = data::medication_requests(db, patient_id)?
        .into_iter()
        .filter(|r| matches!(r["status"].as_str(), Some("active") | None))
        .collect();
    let mut known = HashMap::new();
    for condition in data::conditions(db, patient_id)? {
        let active = matches!(
            condition["clinicalStatus"]["coding"][0]["code"].as_str(),
            Some("active" | "recurrence" | "relapse")
        );
        let code = condition["code"]["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["system"] == mexico::systems::CIE10)
            .and_then(|c| c["code"].as_str());
        if let (true, Some(code), Some(id)) = (active, code, condition["id"].as_str()) {
            known.insert(code.to_string(), id.to_string());
        }
    }
    Ok(Context {
        allergies,
        active_medications,
        known,
        weight_kg: data::latest_weight_kg(db, patient_id)?,
    })
}

/// Lab results of the last 30 days, anywhere, for the studies being ordered (blocking).
fn repeated_labs(
    db: &data::Db,
    patient_id: &str,
    ordered: &[&'static Study],
    since: &str,
    tr: crate::i18n::Tr,
) -> data::Result<Vec<RepeatLab>> {
    let mut out = Vec::new();
    for test in ordered {
        if test.kind != StudyKind::Laboratory || test.result_codes.is_empty() {
            continue;
        }
        let results = data::recent_results(db, patient_id, test.result_codes, since)?;
        for observation in results {
            // The clinic is the facility of the encounter where the sample was taken.
            let mut clinic = String::new();
            if let Some(encounter_id) = observation["encounter"]["reference"]
                .as_str()
                .and_then(|r| r.strip_prefix("Encounter/"))
                && let Ok(encounter) = data::read(db, "Encounter", encounter_id)
                && let Some(org) = encounter["serviceProvider"]["reference"].as_str()
            {
                let facilities = data::facilities(db, [org.to_string()])?;
                if let Some(f) = facilities.get(org) {
                    clinic = format!("{} ({})", f.name, f.clues);
                }
            }
            let value = &observation["valueQuantity"];
            let result = match value["value"].as_f64() {
                Some(v) => format!(
                    "{} {} {}",
                    observation["code"]["text"].as_str().unwrap_or_default(),
                    chart::format_value(v),
                    value["unit"].as_str().unwrap_or_default()
                ),
                None => observation["code"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            };
            out.push(RepeatLab {
                code: test.code,
                observation: observation["id"].as_str().unwrap_or_default().to_string(),
                test: tr.pick(test.es, test.en),
                result: result.trim().to_string(),
                date: observation["effectiveDateTime"]
                    .as_str()
                    .map(dates::display_text)
                    .unwrap_or_default(),
                clinic,
            });
        }
    }
    Ok(out)
}

/// The warnings shown, one per study, with every result that made it a repeat.
fn repeat_warnings(repeats: &[RepeatLab]) -> Vec<orders::RepeatWarning> {
    let mut out: Vec<orders::RepeatWarning> = Vec::new();
    for repeat in repeats {
        let result = (!repeat.observation.is_empty()).then(|| repeat.observation.clone());
        match out.iter_mut().find(|w| w.code == repeat.code) {
            Some(warning) => warning.results.extend(result),
            None => out.push(orders::RepeatWarning {
                code: repeat.code,
                results: result.into_iter().collect(),
            }),
        }
    }
    out
}

/// Everything the page shows for a form, checked.
struct Checked {
    vitals: VitalsCheck,
    diagnoses: Vec<DxRow>,
    dx_problems: Vec<DxProblem>,
    dx_errors: Vec<(String, String)>,
    rx: Vec<CheckedRx>,
    studies: Vec<&'static Study>,
}

fn check_form(
    form: &ConsultForm,
    pairs: &[(String, String)],
    view: &PatientView,
    context: &Context,
    today: i64,
) -> Checked {
    let age = age_days(view, today);
    let vitals = vitals::check(&form.vitals, age);
    let known: Vec<String> = context.known.keys().cloned().collect();
    let add = !matches!(form.action.as_str(), "cie10" | "remove_dx");
    let (diagnoses, dx_errors) = diagnoses::rows_from_pairs(pairs, &known, add);
    let dx_problems = diagnoses::check(
        &diagnoses,
        diagnoses::PatientFacts::new(&view.header.gender, cie_age(view, today)),
    );
    let weight = vitals
        .measurements
        .iter()
        .find(|m| m.measure == clinical::vitals::Measure::Weight)
        .map(|m| m.value)
        .or(context.weight_kg);
    let facts = clinical::checks::PatientFacts {
        age_years: view.header.age_years.and_then(|y| u32::try_from(y).ok()),
        weight_kg: weight,
    };
    let rx = prescribing::check_rows(
        &form.rx,
        &context.allergies,
        &context.active_medications,
        facts,
    );
    let studies = form
        .studies
        .iter()
        .filter_map(|c| orders::study_by_code(c))
        .collect();
    Checked {
        vitals,
        diagnoses,
        dx_problems,
        dx_errors,
        rx,
        studies,
    }
}

fn page(
    app: &App,
    ctx: &Ctx,
    view: PatientView,
    mut form: ConsultForm,
    checked: Option<&Checked>,
) -> ConsultPage {
    let today = ctx.today();
    let tr = ctx.tr;
    let vitals_inputs = vital_inputs(
        &form.vitals,
        checked.map(|c| &c.vitals),
        age_days(&view, today),
        tr,
    );
    let mut diagnoses_view = Vec::new();
    let mut searched_cie = false;
    let mut cie_choices = Vec::new();
    if let Some(checked) = checked {
        for (idx, row) in checked.diagnoses.iter().enumerate() {
            let n = idx + 1;
            let problems: Vec<&DxProblem> =
                checked.dx_problems.iter().filter(|p| p.n == n).collect();
            diagnoses_view.push(DxView {
                n,
                code: row.entry.code,
                description: row.entry.description,
                kind: row.kind.as_str(),
                problems: problems
                    .iter()
                    .map(|p| tr.pick(&p.es, &p.en).to_string())
                    .collect(),
                confirmable: !problems.is_empty() && problems.iter().all(|p| p.confirmable),
                confirmed: row.confirmed,
            });
        }
        let typed_is_code = mexico::cie10::lookup_cie10(form.dx_query.trim()).is_some();
        let picked = form.dx_picked && form.action != "cie10" && form.action != "remove_dx";
        if form.action == "cie10" || (!typed_is_code && !picked && !form.dx_query.trim().is_empty())
        {
            searched_cie = true;
            cie_choices = diagnoses::choices(&form.dx_query)
                .into_iter()
                .map(|c| DxChoice {
                    code: c.code,
                    description: c.description,
                    synonym: c.synonym,
                })
                .collect();
        } else if typed_is_code || picked {
            // The typed or picked code was added: the box is free for the next one.
            form.dx_query.clear();
        }
    }
    let mut rx = Vec::new();
    for (idx, row) in form.rx.iter().enumerate() {
        let n = idx + 1;
        let found = checked.and_then(|c| c.rx.iter().find(|r| r.n == n));
        let medicine = found.and_then(|c| c.medicine);
        let quantity = match found {
            Some(c) => match (c.medicine, c.dose, c.every_h, c.days) {
                (Some(m), Some(d), Some(e), Some(days)) => format!(
                    "{} {}",
                    prescribing::show_number(prescribing::quantity(d, e, days)),
                    m.dose_unit.0
                ),
                _ => String::new(),
            },
            None => String::new(),
        };
        rx.push(RxView {
            n,
            row: row.clone(),
            medicine,
            unit: medicine.map_or("unidades", |m| m.dose_unit.0),
            choices: found.map(|c| c.choices.clone()).unwrap_or_default(),
            errors: found
                .map(|c| {
                    c.errors
                        .iter()
                        .map(|(es, en)| tr.pick(es, en).to_string())
                        .collect()
                })
                .unwrap_or_default(),
            findings: found.map(|c| c.findings.clone()).unwrap_or_default(),
            needs_override: found.is_some_and(CheckedRx::needs_override),
            needs_ack: found.is_some_and(CheckedRx::needs_ack),
            renews: found.is_some_and(|c| !c.renews.is_empty()),
            quantity,
        });
    }
    let studies = orders::STUDIES
        .iter()
        .map(|s| StudyChoice {
            code: s.code,
            label: tr.pick(s.es, s.en),
            imaging: s.kind == StudyKind::Imaging,
            checked: form.has_study(s.code),
        })
        .collect();
    ConsultPage {
        layout: ctx.layout(app, "consult.title"),
        patient: view,
        bmi: checked
            .and_then(|c| c.vitals.bmi)
            .map(|b| vitals::show(clinical::vitals::Measure::Bmi, b)),
        form,
        vitals: vitals_inputs,
        diagnoses: diagnoses_view,
        searched_cie,
        cie_choices,
        rx,
        every_hours: prescribing::EVERY_HOURS,
        formulary: clinical::formulary::FORMULARY,
        studies,
        repeats: Vec::new(),
        errors: Vec::new(),
    }
}

/// # `GET /ui/pacientes/{id}/consulta`
pub async fn consult_form(State(app): AppState, ctx: Ctx, Path(id): Path<String>) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !open.view.abilities.write_note {
        return not_offered(&app, &ctx, &id, "consult.not_offered");
    }
    let form = ConsultForm {
        rx: vec![RxRow::default(); prescribing::RX_ROWS_MIN],
        ..ConsultForm::default()
    };
    render(&page(&app, &ctx, open.view, form, None), StatusCode::OK)
}

/// # `POST /ui/pacientes/{id}/consulta`
pub async fn consult(
    State(app): AppState,
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let OpenRecord { session, view, .. } = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !view.abilities.write_note {
        return not_offered(&app, &ctx, &id, "consult.not_offered");
    }
    let (form, pairs) = ConsultForm::from_body(&body);
    let today = ctx.today();
    let since = dates::iso(today - REPEAT_LAB_WINDOW_DAYS);
    let pid = id.clone();
    let context = match blocking(&app, &ctx, move |db| load_context(db, &pid)).await {
        Ok(context) => context,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    let checked = check_form(&form, &pairs, &view, &context, today);
    let (pid, ordered, tr) = (id.clone(), checked.studies.clone(), ctx.tr);
    let repeats = match blocking(&app, &ctx, move |db| {
        repeated_labs(db, &pid, &ordered, &since, tr)
    })
    .await
    {
        Ok(found) => found,
        Err(error) => return ehr_error(&app, &ctx, &error),
    };
    // Every warning shown is recorded (once per patient, study, clinician and day), so that
    // the repeated-tests report counts it whether or not the study is then ordered.
    let warnings = repeat_warnings(&repeats);
    let (today_iso, now) = (dates::iso(today), dates::instant_mexico(ctx.now_ms));
    if !warnings.is_empty() {
        let context = orders::WarningContext {
            patient_id: &id,
            author: &crate::forms::author(&session),
            username: &session.username,
            organization: session.organization.as_deref(),
            facility_name: &session.facility_name,
            day: &today_iso,
            now: &now,
        };
        let bundle = orders::repeat_warnings_bundle(&context, &warnings);
        if let Err(error) = blocking(&app, &ctx, move |db| {
            data::transaction(db, &to_json(&bundle))
        })
        .await
        {
            // The warning is still shown: not recording it must not stop the consultation.
            tracing::warn!(patient = %id, %error, "repeated-lab warning not recorded");
        }
    }
    let mut page = page(&app, &ctx, view.clone(), form.clone(), Some(&checked));
    page.repeats = repeats;
    for (es, en) in &checked.dx_errors {
        page.errors.push(ctx.tr.pick(es, en).to_string());
    }
    if form.action != "sign" {
        return render(&page, StatusCode::OK);
    }
    // What stops the signature, in the order the form shows it.
    let mut holds: Vec<String> = form
        .length_errors()
        .iter()
        .map(|(es, en)| ctx.tr.pick(es, en).to_string())
        .collect();
    if checked.vitals.blocks() {
        holds.push(ctx.tr.s("vitals.fix").to_string());
    }
    if checked.diagnoses.is_empty() {
        holds.push(ctx.tr.s("consult.dx_required").to_string());
    }
    for problem in &checked.dx_problems {
        holds.push(format!(
            "{} {}: {}",
            ctx.tr.s("consult.diagnosis_n"),
            problem.n,
            ctx.tr.pick(&problem.es, &problem.en)
        ));
    }
    for row in &checked.rx {
        holds.extend(
            row.holds()
                .iter()
                .map(|(es, en)| ctx.tr.pick(es, en).to_string()),
        );
    }
    if !holds.is_empty() {
        page.errors.extend(holds);
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    if !page.repeats.is_empty() && !form.confirm_repeat {
        // Warned before the order is sent: the clinician must confirm.
        return render(&page, StatusCode::OK);
    }
    let renew_ids: Vec<String> = checked
        .rx
        .iter()
        .flat_map(|r| r.renews.iter().cloned())
        .collect();
    let renewed: Vec<Value> = context
        .active_medications
        .iter()
        .filter(|m| {
            m["id"]
                .as_str()
                .is_some_and(|id| renew_ids.iter().any(|r| r == id))
        })
        .cloned()
        .collect();
    let bundle = consult::bundle(&NoteInput {
        patient_id: &id,
        form: &form,
        vitals: &checked.vitals,
        diagnoses: &checked.diagnoses,
        known_problems: &context.known,
        prescriptions: &checked.rx,
        renewed: &renewed,
        studies: &checked.studies,
        repeat_warnings: &warnings,
        session: &session,
        now: &now,
        today: &today_iso,
    });
    match blocking(&app, &ctx, move |db| {
        data::transaction(db, &to_json(&bundle))
    })
    .await
    {
        Ok(_) => see_other(&format!("/ui/pacientes/{id}?ok=consult.saved#timeline")),
        Err(error) => {
            // Refused by the record: the form comes back as typed, in plain words.
            page.errors.extend(messages::general(ctx.tr, &error));
            render(&page, super::error_status(&error))
        }
    }
}

pub struct AddendumView {
    pub author: String,
    pub date: String,
    pub text: Vec<String>,
}

#[derive(Template)]
#[template(path = "note.html")]
struct NotePage {
    layout: Layout,
    patient: PatientView,
    note_id: String,
    title: String,
    author: String,
    date: String,
    facility: String,
    sections: Vec<(String, Vec<String>)>,
    addenda: Vec<AddendumView>,
    has_prescriptions: bool,
    has_orders: bool,
    /// An addendum being written, kept when refused.
    addendum_text: String,
    errors: Vec<String>,
}

/// The references of a note's section entries.
pub(crate) fn entry_references(note: &Value) -> Vec<String> {
    note["section"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["entry"].as_array().into_iter().flatten())
        .filter_map(|e| e["reference"].as_str().map(str::to_string))
        .collect()
}

/// A note of this patient, and its addenda (oldest first).
pub(crate) fn load_note(
    db: &data::Db,
    patient_id: &str,
    note_id: &str,
) -> data::Result<(Value, Vec<Value>)> {
    let note = data::read(db, "Composition", note_id)?;
    ensure_subject(&note, patient_id)?;
    let target = format!("Composition/{note_id}");
    let mut addenda: Vec<Value> = data::compositions(db, patient_id)?
        .into_iter()
        .filter(|r| {
            r["relatesTo"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|rel| rel["targetReference"]["reference"] == target.as_str())
        })
        .collect();
    addenda.sort_by(|a, b| a["date"].as_str().cmp(&b["date"].as_str()));
    Ok((note, addenda))
}

/// The note page, with an addendum being written (its text and why it was refused).
async fn note_page(
    app: &std::sync::Arc<App>,
    ctx: &Ctx,
    open: OpenRecord,
    id: &str,
    note_id: &str,
    addendum_text: String,
    errors: Vec<String>,
) -> Response {
    let (pid, nid) = (id.to_string(), note_id.to_string());
    let (note, addenda) = match blocking(app, ctx, move |db| load_note(db, &pid, &nid)).await {
        Ok(found) => found,
        Err(error) => return ehr_error(app, ctx, &error),
    };
    let sections = note["section"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["title"].as_str().unwrap_or_default().to_string(),
                narrative_text(s["text"]["div"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    let references = entry_references(&note);
    let addenda = addenda
        .iter()
        .map(|a| AddendumView {
            author: a["author"][0]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            date: a["date"]
                .as_str()
                .map(dates::display_text)
                .unwrap_or_default(),
            text: a["section"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| narrative_text(s["text"]["div"].as_str().unwrap_or_default()))
                .collect(),
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(
        &NotePage {
            layout: ctx.layout(app, "consult.note"),
            patient: open.view,
            note_id: note_id.to_string(),
            title: note["title"].as_str().unwrap_or_default().to_string(),
            author: note["author"][0]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            date: note["date"]
                .as_str()
                .map(dates::display_text)
                .unwrap_or_default(),
            facility: note["custodian"]["display"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            sections,
            addenda,
            has_prescriptions: references
                .iter()
                .any(|r| r.starts_with("MedicationRequest/")),
            has_orders: references.iter().any(|r| r.starts_with("ServiceRequest/")),
            addendum_text,
            errors,
        },
        status,
    )
}

/// # `GET /ui/pacientes/{id}/notas/{note}`
pub async fn note(
    State(app): AppState,
    ctx: Ctx,
    Path((id, note_id)): Path<(String, String)>,
) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    note_page(&app, &ctx, open, &id, &note_id, String::new(), Vec::new()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TextForm {
    pub(crate) text: String,
}

/// Longest addendum or counter-referral text.
pub const ADDENDUM_CHARS_MAX: usize = 10_000;

/// # `POST /ui/pacientes/{id}/notas/{note}/addendum`
pub async fn add_addendum(
    State(app): AppState,
    ctx: Ctx,
    Path((id, note_id)): Path<(String, String)>,
    axum::Form(form): axum::Form<TextForm>,
) -> Response {
    let open = match open_record(&app, &ctx, &id).await {
        Ok(open) => open,
        Err(response) => return response,
    };
    if !open.view.abilities.write_note {
        return not_offered(&app, &ctx, &id, "consult.not_offered");
    }
    let text = form.text.trim().to_string();
    if text.is_empty() {
        return see_other(&format!("/ui/pacientes/{id}/notas/{note_id}"));
    }
    if text.chars().count() > ADDENDUM_CHARS_MAX {
        let message = format!("{} ({ADDENDUM_CHARS_MAX})", ctx.tr.s("form.too_long"));
        return note_page(&app, &ctx, open, &id, &note_id, form.text, vec![message]).await;
    }
    let now = dates::instant_mexico(ctx.now_ms);
    let (pid, nid, session) = (id.clone(), note_id.clone(), open.session.clone());
    let written = blocking(&app, &ctx, move |db| {
        let note = data::read(db, "Composition", &nid)?;
        ensure_subject(&note, &pid)?;
        let addendum = forms::addendum(&pid, &note, &nid, &text, &session, &now);
        data::create(db, "Composition", to_json(&addendum))
    })
    .await;
    match written {
        Ok(_) => see_other(&format!(
            "/ui/pacientes/{id}/notas/{note_id}?ok=consult.addendum"
        )),
        // Refused: the note again, with the addendum as typed.
        Err(error) => {
            let errors = messages::general(ctx.tr, &error);
            note_page(&app, &ctx, open, &id, &note_id, form.text, errors).await
        }
    }
}

/// The message key naming a finding's severity.
pub fn severity_key(finding: &clinical::checks::Finding) -> &'static str {
    match finding.severity {
        clinical::checks::Severity::Block => "rx.block",
        clinical::checks::Severity::Warning => "rx.warning",
        clinical::checks::Severity::Info => "rx.info",
    }
}
