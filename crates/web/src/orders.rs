//! The studies a health centre orders from a consultation: its first-level laboratory panel
//! and imaging ("gabinete"), each a LOINC code, written as a `ServiceRequest`.
//!
//! Why a short fixed list: these are what a primary-care unit can send for; the codes are
//! LOINC order codes (results use their own codes, listed so that a result of the last 30 days
//! makes a new order a repeat, wherever it was done).

/// Laboratory or imaging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StudyKind {
    Laboratory,
    Imaging,
}

impl StudyKind {
    /// `ServiceRequest.category`: SNOMED CT code and display, and the Spanish text.
    pub fn category(self) -> (&'static str, &'static str, &'static str) {
        match self {
            StudyKind::Laboratory => ("108252007", "Laboratory procedure", "Laboratorio"),
            StudyKind::Imaging => ("363679005", "Imaging", "Gabinete"),
        }
    }
}

/// A study that can be ordered.
#[derive(Clone, Copy, Debug)]
pub struct Study {
    /// LOINC code ordered.
    pub code: &'static str,
    pub es: &'static str,
    pub en: &'static str,
    pub kind: StudyKind,
    /// LOINC codes of results that make a new order a repeat.
    pub result_codes: &'static [&'static str],
}

const fn study(
    code: &'static str,
    es: &'static str,
    en: &'static str,
    kind: StudyKind,
    result_codes: &'static [&'static str],
) -> Study {
    Study {
        code,
        es,
        en,
        kind,
        result_codes,
    }
}

/// The orderable studies.
pub static STUDIES: &[Study] = &[
    study(
        "2339-0",
        "Glucosa",
        "Glucose",
        StudyKind::Laboratory,
        &["2339-0", "2345-7"],
    ),
    study(
        "4548-4",
        "Hemoglobina glucosilada (HbA1c)",
        "Glycated haemoglobin (HbA1c)",
        StudyKind::Laboratory,
        &["4548-4"],
    ),
    study(
        "24331-1",
        "Perfil de lípidos",
        "Lipid panel",
        StudyKind::Laboratory,
        &["2093-3", "2571-8", "2085-9", "13457-7"],
    ),
    study(
        "2160-0",
        "Creatinina sérica",
        "Serum creatinine",
        StudyKind::Laboratory,
        &["2160-0"],
    ),
    study(
        "58410-2",
        "Biometría hemática",
        "Complete blood count",
        StudyKind::Laboratory,
        &["718-7", "6690-2", "777-3"],
    ),
    study(
        "24356-8",
        "Examen general de orina",
        "Urinalysis",
        StudyKind::Laboratory,
        &["24356-8"],
    ),
    study(
        "3016-3",
        "Hormona estimulante de tiroides (TSH)",
        "Thyroid-stimulating hormone (TSH)",
        StudyKind::Laboratory,
        &["3016-3"],
    ),
    study(
        "36643-5",
        "Radiografía de tórax (PA y lateral)",
        "Chest X-ray (2 views)",
        StudyKind::Imaging,
        &[],
    ),
    study(
        "24606-6",
        "Mastografía de tamizaje",
        "Screening mammogram",
        StudyKind::Imaging,
        &[],
    ),
    study(
        "11525-3",
        "Ultrasonido obstétrico",
        "Obstetric ultrasound",
        StudyKind::Imaging,
        &[],
    ),
    study(
        "11524-6",
        "Electrocardiograma",
        "Electrocardiogram",
        StudyKind::Imaging,
        &[],
    ),
];

pub fn study_by_code(code: &str) -> Option<&'static Study> {
    STUDIES.iter().find(|s| s.code == code)
}

/// One repeated-laboratory warning as shown: the study, and the results that made it a repeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepeatWarning {
    /// LOINC code of the study ordered.
    pub code: &'static str,
    /// `Observation` ids of the recent results.
    pub results: Vec<String>,
}

/// Who saw a warning, where and when (the signed-in clinician's session).
pub struct WarningContext<'a> {
    pub patient_id: &'a str,
    pub author: &'a serde_json::Value,
    pub username: &'a str,
    /// `Organization/{id}` of the facility, and its name.
    pub organization: Option<&'a str>,
    pub facility_name: &'a str,
    /// Mexico City civil date, `YYYY-MM-DD`.
    pub day: &'a str,
    /// FHIR `dateTime`.
    pub now: &'a str,
}

/// The conditional query naming one warning: one per patient, study, clinician and day, so a
/// form sent back several times records one warning (issue 16, report 5).
pub fn repeat_warning_condition(context: &WarningContext<'_>, code: &str) -> String {
    let key = warning_key(context, code);
    form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "identifier",
            &format!("{}|{key}", mexico::systems::REPEATED_LAB_WARNING),
        )
        .finish()
}

/// The identifier value of one warning.
fn warning_key(context: &WarningContext<'_>, code: &str) -> String {
    format!(
        "{}.{code}.{}.{}",
        context.patient_id, context.day, context.username
    )
}

/// The warning as a `DetectedIssue`: `preliminary` when shown; `final`, with the order in
/// `implicated` and the decision as `mitigation`, when the study was ordered anyway
/// (`ordered`: the ServiceRequest's reference or `fullUrl`).
pub fn repeat_warning_issue(
    context: &WarningContext<'_>,
    warning: &RepeatWarning,
    ordered: Option<&str>,
) -> serde_json::Value {
    use serde_json::json;
    let key = warning_key(context, warning.code);
    let mut identifier = json!({"system": mexico::systems::REPEATED_LAB_WARNING, "value": key});
    if let Some(organization) = context.organization {
        identifier["assigner"] =
            json!({"reference": organization, "display": context.facility_name});
    }
    let study = study_by_code(warning.code);
    let name = study.map_or(warning.code, |s| s.es);
    let mut implicated: Vec<serde_json::Value> = warning
        .results
        .iter()
        .map(|id| json!({"reference": format!("Observation/{id}")}))
        .collect();
    if let Some(order) = ordered {
        implicated.insert(0, json!({"reference": order}));
    }
    let mut issue = json!({
        "resourceType": "DetectedIssue",
        "identifier": [identifier],
        "status": if ordered.is_some() { "final" } else { "preliminary" },
        "code": {
            "coding": [{"system": REPEAT_CODE_SYSTEM, "code": REPEAT_CODE, "display": "Estudio de laboratorio repetido"}],
            "text": "Estudio de laboratorio repetido"
        },
        "severity": "low",
        "patient": {"reference": format!("Patient/{}", context.patient_id)},
        "identifiedDateTime": context.now,
        "author": context.author,
        "detail": format!(
            "{name} (LOINC {}): ya tiene resultado en los últimos {} días.",
            warning.code,
            crate::pages::consult::REPEAT_LAB_WINDOW_DAYS
        )
    });
    if !implicated.is_empty() {
        issue["implicated"] = serde_json::Value::Array(implicated);
    }
    if ordered.is_some() {
        issue["mitigation"] = json!([{
            "action": {"text": "Solicitado de todos modos: quien ordena leyó la advertencia y confirmó el estudio"},
            "date": context.now,
            "author": context.author
        }]);
    }
    issue
}

/// The code system and code of the repeated-laboratory finding.
pub const REPEAT_CODE_SYSTEM: &str =
    "https://expediente.salud.gob.mx/fhir/CodeSystem/hallazgo-orden";
pub const REPEAT_CODE: &str = "estudio-repetido";

/// The transaction recording warnings as shown: a conditional create per study, so a warning
/// already recorded today (by this clinician, for this patient and study) is left as it is.
pub fn repeat_warnings_bundle(
    context: &WarningContext<'_>,
    warnings: &[RepeatWarning],
) -> serde_json::Value {
    let entries: Vec<serde_json::Value> = warnings
        .iter()
        .map(|w| {
            serde_json::json!({
                "resource": repeat_warning_issue(context, w, None),
                "request": {
                    "method": "POST",
                    "url": "DetectedIssue",
                    "ifNoneExist": repeat_warning_condition(context, w.code)
                }
            })
        })
        .collect();
    serde_json::json!({"resourceType": "Bundle", "type": "transaction", "entry": entries})
}
