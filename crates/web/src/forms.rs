//! What the forms write: FHIR resources built from what the clinician typed.
//!
//! Why pure builders: the shape of a consultation (Encounter, vital signs, diagnosis,
//! prescriptions, lab orders and the signed NOM-004 note, all in one transaction) is the
//! contract with every other node and with the hub; it is tested here without a server.
//! Time and the author come in as arguments.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::session::SessionInfo;

/// Prescription rows offered on the consultation form.
pub const PRESCRIPTION_ROWS: usize = 3;

/// A laboratory test that can be ordered, with the LOINC codes of the results that make a new
/// order a repeat.
#[derive(Clone, Copy, Debug)]
pub struct LabTest {
    /// LOINC code ordered.
    pub code: &'static str,
    pub es: &'static str,
    pub en: &'static str,
    pub result_codes: &'static [&'static str],
}

/// The orderable tests (first-level laboratory panel of a health centre).
pub static LAB_TESTS: &[LabTest] = &[
    LabTest {
        code: "2339-0",
        es: "Glucosa",
        en: "Glucose",
        result_codes: &["2339-0", "2345-7"],
    },
    LabTest {
        code: "4548-4",
        es: "Hemoglobina glucosilada (HbA1c)",
        en: "Glycated haemoglobin (HbA1c)",
        result_codes: &["4548-4"],
    },
    LabTest {
        code: "24331-1",
        es: "Perfil de lípidos",
        en: "Lipid panel",
        result_codes: &["2093-3", "2571-8", "2085-9", "13457-7"],
    },
    LabTest {
        code: "2160-0",
        es: "Creatinina sérica",
        en: "Serum creatinine",
        result_codes: &["2160-0"],
    },
    LabTest {
        code: "58410-2",
        es: "Biometría hemática",
        en: "Complete blood count",
        result_codes: &["718-7", "6690-2", "777-3"],
    },
];

pub fn lab_test(code: &str) -> Option<&'static LabTest> {
    LAB_TESTS.iter().find(|t| t.code == code)
}

/// Escapes text for XHTML narrative and for HTML fragments built outside templates.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn narrative(text: &str) -> Value {
    let paragraphs: String = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p>{}</p>", escape_html(l.trim())))
        .collect();
    let body = if paragraphs.is_empty() {
        "<p>—</p>".to_string()
    } else {
        paragraphs
    };
    json!({
        "status": "generated",
        "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div>")
    })
}

fn author(session: &SessionInfo) -> Value {
    match &session.practitioner {
        Some(reference) => json!({"reference": reference, "display": session.display_name}),
        None => json!({"display": session.display_name}),
    }
}

fn cie10_concept(code: &str, display: &str) -> Value {
    json!({
        "coding": [{"system": mexico::systems::CIE10, "code": code, "display": display}],
        "text": display
    })
}

/// The registration form.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    pub given: String,
    pub first_surname: String,
    pub second_surname: String,
    pub birth_date: String,
    /// `H` or `M` (as in the CURP).
    pub sex: String,
    pub birth_state: String,
    pub curp: String,
    pub phone: String,
    /// `review` or `save`.
    pub action: String,
    /// Checked when the clerk confirmed the duplicates are other people.
    pub not_duplicate: Option<String>,
}

impl RegisterForm {
    pub fn gender(&self) -> &'static str {
        match self.sex.as_str() {
            "H" => "male",
            "M" => "female",
            "X" => "other",
            _ => "unknown",
        }
    }

    pub fn family(&self) -> String {
        [self.first_surname.trim(), self.second_surname.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The CURP prefix the typed data imply: 16 characters, or the first 11 (names, birth date,
    /// sex) while the state of birth is not chosen yet.
    pub fn implied_curp_prefix(&self) -> Option<String> {
        let mut parts = self.birth_date.split('-');
        let year = parts.next()?.parse().ok()?;
        let month = parts.next()?.parse().ok()?;
        let day = parts.next()?.parse().ok()?;
        let sex = mexico::curp::CurpSex::from_char(self.sex.chars().next()?)?;
        let second = self.second_surname.trim();
        let person = mexico::curp::CurpPerson {
            given_names: self.given.trim(),
            first_surname: self.first_surname.trim(),
            second_surname: (!second.is_empty()).then_some(second),
            birth_date: (year, month, day),
            sex,
            birth_state: if self.birth_state.trim().is_empty() {
                mexico::states::BORN_ABROAD
            } else {
                self.birth_state.trim()
            },
        };
        let prefix = mexico::curp::derive_prefix(&person).ok()?;
        if self.birth_state.trim().is_empty() {
            Some(prefix.chars().take(11).collect())
        } else {
            Some(prefix)
        }
    }

    /// The Patient to create (or to `$match` before creating).
    pub fn patient(&self, organization: Option<&str>) -> Value {
        let given: Vec<&str> = self.given.split_whitespace().collect();
        let family = self.family();
        let mut patient = json!({
            "resourceType": "Patient",
            "active": true,
            "name": [{
                "use": "official",
                "text": format!("{} {}", given.join(" "), family).trim().to_string(),
                "family": family,
                "given": given
            }],
            "gender": self.gender(),
        });
        let mut identifiers = Vec::new();
        let curp = mexico::curp::normalize(&self.curp);
        let mut extensions = Vec::new();
        if curp.is_empty() {
            extensions
                .push(json!({"url": mexico::systems::EXT_CURP_PENDING, "valueBoolean": true}));
        } else {
            identifiers
                .push(json!({"use": "official", "system": mexico::systems::CURP, "value": curp}));
        }
        if !self.birth_state.trim().is_empty() {
            extensions.push(json!({"url": mexico::systems::EXT_BIRTH_STATE, "valueString": self.birth_state.trim()}));
        }
        if !extensions.is_empty() {
            patient["extension"] = Value::Array(extensions);
        }
        if !identifiers.is_empty() {
            patient["identifier"] = Value::Array(identifiers);
        }
        if !self.birth_date.trim().is_empty() {
            patient["birthDate"] = json!(self.birth_date.trim());
        }
        if !self.phone.trim().is_empty() {
            patient["telecom"] =
                json!([{"system": "phone", "value": self.phone.trim(), "use": "mobile"}]);
        }
        if let Some(organization) = organization {
            patient["managingOrganization"] = json!({"reference": organization});
        }
        patient
    }
}

/// The consultation form (nota de evolución).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsultForm {
    pub weight_kg: String,
    pub height_cm: String,
    pub systolic: String,
    pub diastolic: String,
    pub heart_rate: String,
    pub temperature: String,
    pub subjective: String,
    pub objective: String,
    pub assessment: String,
    /// What was typed in the CIE-10 search box.
    pub dx_query: String,
    /// The chosen CIE-10 code.
    pub dx_code: String,
    pub plan: String,
    pub rx_drug_1: String,
    pub rx_dose_1: String,
    pub rx_drug_2: String,
    pub rx_dose_2: String,
    pub rx_drug_3: String,
    pub rx_dose_3: String,
    /// Comma-joined LOINC codes (HTML checkboxes arrive as repeated `lab` fields; the handler
    /// gathers them here).
    #[serde(skip)]
    pub labs: Vec<String>,
    /// `cie10`, `review` or `sign`.
    pub action: String,
    pub confirm_repeat: Option<String>,
}

impl ConsultForm {
    pub fn prescriptions(&self) -> Vec<(&str, &str)> {
        [
            (&self.rx_drug_1, &self.rx_dose_1),
            (&self.rx_drug_2, &self.rx_dose_2),
            (&self.rx_drug_3, &self.rx_dose_3),
        ]
        .into_iter()
        .filter(|(drug, _)| !drug.trim().is_empty())
        .map(|(drug, dose)| (drug.trim(), dose.trim()))
        .collect()
    }

    pub fn has_lab(&self, code: &str) -> bool {
        self.labs.iter().any(|c| c == code)
    }
}

fn number(text: &str) -> Option<f64> {
    text.trim()
        .replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// A decimal as JSON with at most one decimal place (vital signs are read to 0.1).
fn quantity(value: f64, unit: &str, code: &str) -> Value {
    let rounded = (value * 10.0).round() / 10.0;
    json!({"value": rounded, "unit": unit, "system": "http://unitsofmeasure.org", "code": code})
}

fn loinc(code: &str, display: &str, text: &str) -> Value {
    json!({"coding": [{"system": mexico::systems::LOINC, "code": code, "display": display}], "text": text})
}

/// Everything a signed consultation writes, as one transaction Bundle.
pub struct ConsultInput<'a> {
    pub patient_id: &'a str,
    pub form: &'a ConsultForm,
    pub diagnosis: Option<(&'a str, &'a str)>,
    pub session: &'a SessionInfo,
    /// FHIR `dateTime` of the signature.
    pub now: &'a str,
}

pub fn consultation_bundle(input: &ConsultInput<'_>) -> Value {
    let ConsultInput {
        patient_id,
        form,
        diagnosis,
        session,
        now,
    } = input;
    let subject = json!({"reference": format!("Patient/{patient_id}")});
    // fullUrls only need to be unique within the Bundle (the server assigns the real ids), so
    // they are numbered: the builder stays deterministic.
    let local_url = |n: usize| format!("urn:uuid:00000000-0000-4000-8000-{n:012}");
    let encounter_url = local_url(0);
    let encounter_ref = json!({"reference": encounter_url});
    let mut entries = Vec::new();
    let mut encounter = json!({
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
        "serviceType": {"coding": [{"system": "https://expediente.salud.gob.mx/fhir/CodeSystem/servicio", "code": "medicina-general", "display": "Medicina general"}], "text": "Medicina general"},
        "subject": subject,
        "participant": [{"individual": author(session)}],
        "period": {"start": now, "end": now},
    });
    if let Some((code, display)) = diagnosis {
        encounter["reasonCode"] = json!([cie10_concept(code, display)]);
    }
    if let Some(organization) = &session.organization {
        encounter["serviceProvider"] =
            json!({"reference": organization, "display": session.facility_name});
    }
    // The Encounter keeps the fullUrl the others reference.
    entries.push(json!({
        "fullUrl": encounter_url,
        "resource": encounter,
        "request": {"method": "POST", "url": "Encounter"}
    }));
    let mut push = |resource: Value| {
        let resource_type = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        entries.push(json!({
            "fullUrl": local_url(entries.len()),
            "resource": resource,
            "request": {"method": "POST", "url": resource_type}
        }));
    };
    let vital = |code: &str, display: &str, text: &str, value: Value| {
        json!({
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs", "display": "Vital Signs"}]}],
            "code": loinc(code, display, text),
            "subject": subject,
            "encounter": encounter_ref,
            "effectiveDateTime": now,
            "valueQuantity": value
        })
    };
    let weight = number(&form.weight_kg);
    let height = number(&form.height_cm);
    if let Some(w) = weight {
        push(vital(
            "29463-7",
            "Body weight",
            "Peso",
            quantity(w, "kg", "kg"),
        ));
    }
    if let Some(h) = height {
        push(vital(
            "8302-2",
            "Body height",
            "Talla",
            quantity(h, "cm", "cm"),
        ));
    }
    if let (Some(w), Some(h)) = (weight, height) {
        let bmi = w / (h / 100.0).powi(2);
        push(vital(
            "39156-5",
            "Body mass index (BMI) [Ratio]",
            "Índice de masa corporal",
            quantity(bmi, "kg/m2", "kg/m2"),
        ));
    }
    if let Some(hr) = number(&form.heart_rate) {
        push(vital(
            "8867-4",
            "Heart rate",
            "Frecuencia cardiaca",
            quantity(hr, "/min", "/min"),
        ));
    }
    if let Some(t) = number(&form.temperature) {
        push(vital(
            "8310-5",
            "Body temperature",
            "Temperatura",
            quantity(t, "°C", "Cel"),
        ));
    }
    if let (Some(sys), Some(dia)) = (number(&form.systolic), number(&form.diastolic)) {
        let mut bp = vital(
            "85354-9",
            "Blood pressure panel with all children optional",
            "Tensión arterial",
            Value::Null,
        );
        if let Some(object) = bp.as_object_mut() {
            object.remove("valueQuantity");
        }
        bp["component"] = json!([
            {"code": loinc("8480-6", "Systolic blood pressure", "Tensión arterial sistólica"), "valueQuantity": quantity(sys, "mmHg", "mm[Hg]")},
            {"code": loinc("8462-4", "Diastolic blood pressure", "Tensión arterial diastólica"), "valueQuantity": quantity(dia, "mmHg", "mm[Hg]")}
        ]);
        push(bp);
    }
    if let Some((code, display)) = diagnosis {
        push(json!({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}]}],
            "code": cie10_concept(code, display),
            "subject": subject,
            "encounter": encounter_ref,
            "onsetDateTime": now,
            "recordedDate": now,
            "asserter": author(session)
        }));
    }
    for (drug, dose) in form.prescriptions() {
        let mut request = json!({
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": drug},
            "subject": subject,
            "encounter": encounter_ref,
            "authoredOn": now,
            "requester": author(session),
        });
        if !dose.is_empty() {
            request["dosageInstruction"] = json!([{"text": dose}]);
        }
        push(request);
    }
    for code in &form.labs {
        let Some(test) = lab_test(code) else { continue };
        push(json!({
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007", "display": "Laboratory procedure"}], "text": "Laboratorio"}],
            "code": loinc(test.code, test.en, test.es),
            "subject": subject,
            "encounter": encounter_ref,
            "authoredOn": now,
            "requester": author(session)
        }));
    }
    let mut sections = vec![
        json!({"title": "Padecimiento actual (S)", "code": loinc("10164-2", "History of present illness", "Padecimiento actual"), "text": narrative(&form.subjective)}),
        json!({"title": "Exploración física (O)", "code": loinc("29545-1", "Physical findings", "Exploración física"), "text": narrative(&form.objective)}),
    ];
    let assessment = match diagnosis {
        Some((code, display)) => format!("{}\nDiagnóstico: {display} ({code})", form.assessment),
        None => form.assessment.clone(),
    };
    sections.push(json!({"title": "Análisis y diagnóstico (A)", "code": loinc("51848-0", "Evaluation note", "Análisis"), "text": narrative(&assessment)}));
    sections.push(json!({"title": "Plan (P)", "code": loinc("18776-5", "Plan of care note", "Plan"), "text": narrative(&form.plan)}));
    let mut composition = json!({
        "resourceType": "Composition",
        "status": "final",
        "type": loinc("11506-3", "Progress note", "Nota de evolución"),
        "subject": subject,
        "encounter": encounter_ref,
        "date": now,
        "author": [author(session)],
        "title": "Nota de evolución",
        "attester": [{"mode": "legal", "time": now, "party": author(session)}],
        "section": sections
    });
    if let Some(organization) = &session.organization {
        composition["custodian"] =
            json!({"reference": organization, "display": session.facility_name});
    }
    push(composition);
    json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}

/// An addendum to a signed note: a new Composition that `appends` to it.
pub fn addendum(
    patient_id: &str,
    note: &Value,
    note_id: &str,
    text: &str,
    session: &SessionInfo,
    now: &str,
) -> Value {
    let mut addendum = json!({
        "resourceType": "Composition",
        "status": "final",
        "type": loinc("11506-3", "Progress note", "Nota de evolución"),
        "subject": {"reference": format!("Patient/{patient_id}")},
        "date": now,
        "author": [author(session)],
        "title": "Addendum",
        "attester": [{"mode": "legal", "time": now, "party": author(session)}],
        "relatesTo": [{"code": "appends", "targetReference": {"reference": format!("Composition/{note_id}")}}],
        "section": [{"title": "Addendum", "text": narrative(text)}]
    });
    if note["encounter"].is_object() {
        addendum["encounter"] = note["encounter"].clone();
    }
    addendum
}

/// The referral form (nota de referencia, NOM-004 §6.4).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReferForm {
    /// `Organization/{id}` of the receiving facility.
    pub to: String,
    pub reason: String,
    pub dx_code: String,
    pub treatment: String,
    pub summary: String,
}

pub struct ReferInput<'a> {
    pub patient_id: &'a str,
    pub form: &'a ReferForm,
    pub to_name: &'a str,
    pub to_clues: &'a str,
    pub diagnosis: Option<(&'a str, &'a str)>,
    pub session: &'a SessionInfo,
    pub now: &'a str,
}

pub fn referral(input: &ReferInput<'_>) -> Value {
    let form = input.form;
    let mut notes = vec![
        json!({"text": format!("Establecimiento que envía: {} (CLUES {})", input.session.facility_name, input.session.facility_clues)}),
        json!({"text": format!("Establecimiento receptor: {} (CLUES {})", input.to_name, input.to_clues)}),
        json!({"text": format!("Motivo de envío: {}", form.reason.trim())}),
    ];
    if !form.treatment.trim().is_empty() {
        notes.push(json!({"text": format!("Terapéutica empleada: {}", form.treatment.trim())}));
    }
    if !form.summary.trim().is_empty() {
        notes.push(json!({"text": format!("Resumen clínico: {}", form.summary.trim())}));
    }
    let mut request = json!({
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}], "text": "Referencia"}],
        "priority": "routine",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "103696004", "display": "Patient referral to specialist"}], "text": format!("Referencia a {}", input.to_name)},
        "subject": {"reference": format!("Patient/{}", input.patient_id)},
        "authoredOn": input.now,
        "performer": [{"reference": form.to, "display": input.to_name}],
        "note": notes
    });
    request["requester"] = match &input.session.organization {
        Some(organization) => {
            json!({"reference": organization, "display": format!("{} — {}", input.session.facility_name, input.session.display_name)})
        }
        None => author(input.session),
    };
    if let Some((code, display)) = input.diagnosis {
        request["reasonCode"] = json!([cie10_concept(code, display)]);
    }
    request
}

#[cfg(test)]
mod tests;
