//! Ordering studies from a consultation: the repeated-laboratory warning (a result of the last
//! 30 days makes a new order a repeat, wherever it was done). The catalogue of studies is
//! `clinical::studies`.

pub use clinical::studies::{STUDIES, Study, StudyKind, study_by_code};

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
