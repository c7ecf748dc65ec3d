//! The consultation (NOM-004 *nota de evolución*) as the form sends it, and everything its
//! signature writes, as one transaction Bundle: the Encounter, the vital signs, the diagnoses
//! (new Conditions, or the known problem referenced for a follow-up), the prescriptions with
//! the findings they overrode, the renewed prescriptions they stop, the laboratory and imaging
//! orders, and the signed Composition whose sections say all of it in words.
//!
//! Why pure: the shape of a consultation is the contract with every other node and the hub; it
//! is tested here without a server. Time and the author come in as arguments; fullUrls are
//! numbered so the builder is deterministic.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::diagnoses::{DxKind, DxRow};
use crate::forms::{author, escape_html};
use crate::orders::Study;
use crate::prescribing::{self, CheckedRx, RxRow, RxWrite};
use crate::session::SessionInfo;
use crate::vitals::{self, VitalsCheck, VitalsForm};

/// Longest text of one section of the note (a long note is a few thousand characters).
pub const NOTE_TEXT_CHARS_MAX: usize = 20_000;

/// Longest prognosis (a phrase).
pub const PROGNOSIS_CHARS_MAX: usize = 200;

/// The extension that says whether a diagnosis is made for the first time (GIIS-B015
/// *primera vez*) on `Encounter.diagnosis`.
pub const EXT_FIRST_TIME: &str =
    "https://expediente.salud.gob.mx/fhir/StructureDefinition/diagnostico-primera-vez";

/// The consultation form.
#[derive(Clone, Debug, Default)]
pub struct ConsultForm {
    pub vitals: VitalsForm,
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    pub plan: String,
    pub prognosis: String,
    /// What was typed in the CIE-10 search box.
    pub dx_query: String,
    /// A choice of the picker was selected (`dx_code`).
    pub dx_picked: bool,
    pub rx: Vec<RxRow>,
    /// LOINC codes of the studies ordered (repeated `lab` fields).
    pub studies: Vec<String>,
    /// `cie10`, `add_dx`, `review`, `sign`, `more_rx`; a unit hint's button sends `apply`.
    pub action: String,
    pub confirm_repeat: bool,
}

impl ConsultForm {
    /// Reads an urlencoded body; returns the form and the raw pairs (the diagnoses are read
    /// from them with the patient's known problems).
    pub fn from_body(body: &[u8]) -> (ConsultForm, Vec<(String, String)>) {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut rx = prescribing::rows_from_pairs(&pairs);
        let action = if pairs.iter().any(|(k, _)| k == "apply") {
            "apply".to_string()
        } else if pairs.iter().any(|(k, _)| k == "remove_dx") {
            "remove_dx".to_string()
        } else if pairs.iter().any(|(k, _)| k == "rx_choose") {
            "rx_choose".to_string()
        } else {
            get("action")
        };
        if action == "more_rx" && rx.len() < prescribing::RX_ROWS_MAX {
            rx.push(RxRow::default());
        }
        let form = ConsultForm {
            vitals: VitalsForm::from_pairs(&pairs),
            subjective: get("subjective"),
            objective: get("objective"),
            assessment: get("assessment"),
            plan: get("plan"),
            prognosis: get("prognosis"),
            dx_query: get("dx_query"),
            dx_picked: !get("dx_code").trim().is_empty(),
            rx,
            studies: pairs
                .iter()
                .filter(|(k, _)| k == "lab")
                .map(|(_, v)| v.clone())
                .collect(),
            action,
            confirm_repeat: !get("confirm_repeat").is_empty(),
        };
        (form, pairs)
    }

    pub fn has_study(&self, code: &str) -> bool {
        self.studies.iter().any(|c| c == code)
    }

    /// Texts over their limits (es, en).
    pub fn length_errors(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (text, es, en) in [
            (&self.subjective, "Padecimiento actual", "History"),
            (&self.objective, "Exploración física", "Examination"),
            (&self.assessment, "Análisis", "Assessment"),
            (&self.plan, "Plan", "Plan"),
        ] {
            if text.chars().count() > NOTE_TEXT_CHARS_MAX {
                out.push((
                    format!("{es}: admite hasta {NOTE_TEXT_CHARS_MAX} caracteres."),
                    format!("{en}: up to {NOTE_TEXT_CHARS_MAX} characters."),
                ));
            }
        }
        if self.prognosis.chars().count() > PROGNOSIS_CHARS_MAX {
            out.push((
                format!("Pronóstico: admite hasta {PROGNOSIS_CHARS_MAX} caracteres."),
                format!("Prognosis: up to {PROGNOSIS_CHARS_MAX} characters."),
            ));
        }
        out
    }
}

fn narrative_lines<S: AsRef<str>>(lines: &[S]) -> Value {
    let body: String = lines
        .iter()
        .map(AsRef::as_ref)
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p>{}</p>", escape_html(l.trim())))
        .collect();
    let body = if body.is_empty() {
        "<p>—</p>".to_string()
    } else {
        body
    };
    json!({
        "status": "generated",
        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div>")
    })
}

fn narrative(text: &str) -> Value {
    narrative_lines(&text.lines().collect::<Vec<_>>())
}

fn loinc(code: &str, display: &str, text: &str) -> Value {
    json!({"coding": [{"system": mexico::systems::LOINC, "code": code, "display": display}], "text": text})
}

/// A CIE-10 concept.
pub fn cie10_concept(code: &str, display: &str) -> Value {
    json!({
        "coding": [{"system": mexico::systems::CIE10, "code": code, "display": display}],
        "text": display
    })
}

/// Everything a signed consultation writes.
pub struct NoteInput<'a> {
    pub patient_id: &'a str,
    pub form: &'a ConsultForm,
    pub vitals: &'a VitalsCheck,
    pub diagnoses: &'a [DxRow],
    /// The patient's active Conditions by CIE-10 code: a follow-up references the known one.
    pub known_problems: &'a HashMap<String, String>,
    pub prescriptions: &'a [CheckedRx],
    /// Active requests the prescriptions renew, as read (they are stopped, at their version).
    pub renewed: &'a [Value],
    pub studies: &'a [&'static Study],
    /// Repeated-lab warnings shown for these studies: ordering one anyway finalises its
    /// `DetectedIssue` in the same transaction.
    pub repeat_warnings: &'a [crate::orders::RepeatWarning],
    pub session: &'a SessionInfo,
    /// FHIR `dateTime` of the signature.
    pub now: &'a str,
    /// Its Mexico City civil date, `YYYY-MM-DD`.
    pub today: &'a str,
}

/// The transaction Bundle of a signed consultation.
pub fn bundle(input: &NoteInput<'_>) -> Value {
    let subject = json!({"reference": format!("Patient/{}", input.patient_id)});
    let author = author(input.session);
    let now = input.now;
    let local_url = |n: usize| format!("urn:uuid:00000000-0000-4000-8000-{n:012}");
    let encounter_url = local_url(0);
    let encounter_ref = json!({"reference": encounter_url});
    let mut entries: Vec<Value> = Vec::new();
    let mut next = 1usize;
    let mut take_url = || {
        let url = local_url(next);
        next += 1;
        url
    };
    let post = |url: &str, resource: Value| {
        let resource_type = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        json!({"fullUrl": url, "resource": resource, "request": {"method": "POST", "url": resource_type}})
    };

    // Vital signs.
    let extra = json!({
        "subject": subject,
        "encounter": encounter_ref,
        "effectiveDateTime": now,
        "performer": [author],
    });
    let mut vital_urls = Vec::new();
    for observation in vitals::observations(input.vitals, &extra) {
        let url = take_url();
        vital_urls.push(url.clone());
        entries.push(post(&url, observation));
    }

    // Diagnoses: a new Condition, or the known problem for a follow-up.
    let mut diagnosis_refs: Vec<(String, DxKind)> = Vec::new();
    for row in input.diagnoses {
        let known = input.known_problems.get(row.entry.code);
        let reference = match (row.kind, known) {
            (DxKind::FollowUp, Some(id)) => format!("Condition/{id}"),
            _ => {
                let url = take_url();
                entries.push(post(
                    &url,
                    json!({
                        "resourceType": "Condition",
                        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}]}],
                        "code": cie10_concept(row.entry.code, row.entry.description),
                        "subject": subject,
                        "encounter": encounter_ref,
                        "onsetDateTime": now,
                        "recordedDate": now,
                        "asserter": author
                    }),
                ));
                url
            }
        };
        diagnosis_refs.push((reference, row.kind));
    }

    // Prescriptions, the findings they managed, and the requests they renew.
    let latest_renewed = input
        .renewed
        .iter()
        .max_by(|a, b| {
            a["authoredOn"]
                .as_str()
                .unwrap_or_default()
                .cmp(b["authoredOn"].as_str().unwrap_or_default())
        })
        .and_then(|r| r["id"].as_str())
        .map(|id| format!("MedicationRequest/{id}"));
    let mut rx_urls = Vec::new();
    let mut rx_lines: Vec<String> = Vec::new();
    for checked in input.prescriptions {
        let request_url = take_url();
        let managed = prescribing::managed_findings(checked);
        let issue_urls: Vec<String> = managed.iter().map(|_| take_url()).collect();
        let renews_here = checked
            .renews
            .iter()
            .any(|id| input.renewed.iter().any(|r| r["id"] == id.as_str()));
        let write = RxWrite {
            checked,
            subject: &subject,
            encounter: &encounter_ref,
            author: &author,
            now,
            request_url: &request_url,
            issue_urls: &issue_urls,
            prior: if renews_here {
                latest_renewed.clone()
            } else {
                None
            },
        };
        let Some(request) = prescribing::medication_request(&write) else {
            continue;
        };
        entries.push(post(&request_url, request));
        for (url, managed) in issue_urls.iter().zip(&managed) {
            entries.push(post(url, prescribing::detected_issue(&write, managed)));
        }
        rx_urls.push(request_url);
        rx_lines.extend(prescribing::note_lines(checked));
    }
    let renewal_date = crate::dates::display_text(now);
    for current in input.renewed {
        let Some(id) = current["id"].as_str() else {
            continue;
        };
        let mut stopped = current.clone();
        if let Some(object) = stopped.as_object_mut() {
            object.remove("meta");
        }
        stopped["status"] = json!("stopped");
        stopped["statusReason"] =
            json!({"text": format!("Sustituida por la receta del {renewal_date}")});
        let mut request = json!({"method": "PUT", "url": format!("MedicationRequest/{id}")});
        if let Some(version) = crate::data::version_of(current) {
            request["ifMatch"] = json!(format!("W/\"{version}\""));
        }
        entries.push(json!({
            "fullUrl": format!("MedicationRequest/{id}"),
            "resource": stopped,
            "request": request
        }));
    }

    // Laboratory and imaging orders.
    let mut order_urls = Vec::new();
    let mut order_lines = Vec::new();
    for study in input.studies {
        let url = take_url();
        let (code, display, text) = study.kind.category();
        entries.push(post(
            &url,
            json!({
                "resourceType": "ServiceRequest",
                "status": "active",
                "intent": "order",
                "category": [{"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}], "text": text}],
                "code": loinc(study.code, study.en, study.es),
                "subject": subject,
                "encounter": encounter_ref,
                "authoredOn": now,
                "requester": author
            }),
        ));
        if let Some(warning) = input.repeat_warnings.iter().find(|w| w.code == study.code) {
            let context = crate::orders::WarningContext {
                patient_id: input.patient_id,
                author: &author,
                username: &input.session.username,
                organization: input.session.organization.as_deref(),
                facility_name: &input.session.facility_name,
                day: input.today,
                now,
            };
            entries.push(json!({
                "resource": crate::orders::repeat_warning_issue(&context, warning, Some(&url)),
                "request": {
                    "method": "PUT",
                    "url": format!(
                        "DetectedIssue?{}",
                        crate::orders::repeat_warning_condition(&context, study.code)
                    )
                }
            }));
        }
        order_urls.push(url);
        order_lines.push(format!("{} ({text}; LOINC {})", study.es, study.code));
    }

    // The Encounter, first (the others reference its fullUrl).
    let mut encounter = json!({
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
        "serviceType": {"coding": [{"system": "https://expediente.salud.gob.mx/fhir/CodeSystem/servicio", "code": "medicina-general", "display": "Medicina general"}], "text": "Medicina general"},
        "subject": subject,
        "participant": [{"individual": author}],
        "period": {"start": now, "end": now},
    });
    if !input.diagnoses.is_empty() {
        encounter["reasonCode"] = Value::Array(
            input
                .diagnoses
                .iter()
                .map(|d| cie10_concept(d.entry.code, d.entry.description))
                .collect(),
        );
        encounter["diagnosis"] = Value::Array(
            diagnosis_refs
                .iter()
                .enumerate()
                .map(|(idx, (reference, kind))| {
                    json!({
                        "extension": [{"url": EXT_FIRST_TIME, "valueBoolean": *kind == DxKind::First}],
                        "condition": {"reference": reference},
                        "rank": idx + 1
                    })
                })
                .collect(),
        );
    }
    if let Some(organization) = &input.session.organization {
        encounter["serviceProvider"] =
            json!({"reference": organization, "display": input.session.facility_name});
    }
    entries.insert(
        0,
        json!({"fullUrl": encounter_url, "resource": encounter, "request": {"method": "POST", "url": "Encounter"}}),
    );

    // The signed note (NOM-004, nota de evolución), in words.
    let form = input.form;
    let refs = |urls: &[String]| -> Value {
        Value::Array(urls.iter().map(|u| json!({"reference": u})).collect())
    };
    let mut vital_lines = vitals::narrative_lines(input.vitals);
    if vital_lines.is_empty() {
        vital_lines.push("No se registraron en esta consulta.".to_string());
    }
    let mut sections = vec![json!({
        "title": "Signos vitales y somatometría",
        "code": loinc("8716-3", "Vital signs", "Signos vitales"),
        "text": narrative_lines(&vital_lines),
        "entry": refs(&vital_urls)
    })];
    sections.push(json!({"title": "Padecimiento actual y evolución (S)", "code": loinc("10164-2", "History of present illness", "Padecimiento actual"), "text": narrative(&form.subjective)}));
    sections.push(json!({"title": "Exploración física (O)", "code": loinc("29545-1", "Physical findings", "Exploración física"), "text": narrative(&form.objective)}));
    let mut assessment: Vec<String> = form.assessment.lines().map(str::to_string).collect();
    for (idx, row) in input.diagnoses.iter().enumerate() {
        assessment.push(format!(
            "Diagnóstico {}: {} {} — {}",
            idx + 1,
            row.entry.code,
            row.entry.description,
            row.kind.label_es()
        ));
    }
    let diagnosis_entries: Vec<String> = diagnosis_refs.iter().map(|(r, _)| r.clone()).collect();
    sections.push(json!({
        "title": "Análisis y diagnósticos (A)",
        "code": loinc("51848-0", "Evaluation note", "Análisis"),
        "text": narrative_lines(&assessment),
        "entry": refs(&diagnosis_entries)
    }));
    if rx_lines.is_empty() {
        rx_lines.push("Sin prescripción.".to_string());
    }
    sections.push(json!({
        "title": "Tratamiento (prescripción)",
        "code": loinc("57828-6", "Prescriptions", "Prescripción"),
        "text": narrative_lines(&rx_lines),
        "entry": refs(&rx_urls)
    }));
    if order_lines.is_empty() {
        order_lines.push("Sin estudios solicitados.".to_string());
    }
    sections.push(json!({
        "title": "Estudios de laboratorio y gabinete solicitados",
        "text": narrative_lines(&order_lines),
        "entry": refs(&order_urls)
    }));
    sections.push(json!({"title": "Plan (P)", "code": loinc("18776-5", "Plan of care note", "Plan"), "text": narrative(&form.plan)}));
    sections.push(json!({"title": "Pronóstico", "text": narrative(&form.prognosis)}));
    for section in &mut sections {
        if section["entry"].as_array().is_some_and(Vec::is_empty)
            && let Some(object) = section.as_object_mut()
        {
            object.remove("entry");
        }
    }
    let mut composition = json!({
        "resourceType": "Composition",
        "status": "final",
        "type": loinc("11506-3", "Progress note", "Nota de evolución"),
        "subject": subject,
        "encounter": encounter_ref,
        "date": now,
        "author": [author],
        "title": "Nota de evolución",
        "attester": [{"mode": "legal", "time": now, "party": author}],
        "section": sections
    });
    if let Some(organization) = &input.session.organization {
        composition["custodian"] =
            json!({"reference": organization, "display": input.session.facility_name});
    }
    let url = take_url();
    entries.push(post(&url, composition));
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

#[cfg(test)]
mod tests;
