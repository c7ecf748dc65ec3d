//! The International Patient Summary (`Patient/{id}/$summary`, HL7 IPS): a document Bundle
//! whose Composition lists the patient's problems, allergies, medications, immunizations and
//! latest results (the IPS's required and recommended sections), the latest vital signs and
//! the pending orders (two of its optional ones), each section with its human-readable text.
//!
//! The web UI's printed summary is drawn from the same call ([`PatientSummary::sections`]
//! names each section's entries), so the paper and the document list the same resources.
//!
//! It is built from `$everything` as the requester (the same read guard, audit entry and
//! merge handling), so a summary never shows what its reader could not read one by one. A
//! section with nothing to say says why (`emptyReason`), as IPS requires for the three
//! mandatory ones (medications, allergies, problems) rather than leaving them out.

use fhir::Json;
use store::StoredResource;

use crate::interactions::EverythingRequest;
use crate::{Ehr, Error, Requester};

const LOINC: &str = "http://loinc.org";
const EMPTY_REASON: &str = "http://terminology.hl7.org/CodeSystem/list-empty-reason";
/// Results listed at most (the latest first): a summary, not the lab history.
const RESULTS_MAX: usize = 30;

/// A resource of the record with its parsed body.
type Member<'a> = &'a (&'a StoredResource, Json);

/// Which of a section's candidates it keeps, in the order it lists them.
type Pick = for<'a> fn(Vec<Member<'a>>) -> Vec<Member<'a>>;

/// One section: its LOINC code, titles, and which of the record's resources belong in it.
struct Section {
    code: &'static str,
    display: &'static str,
    title_es: &'static str,
    title_en: &'static str,
    empty_es: &'static str,
    empty_en: &'static str,
    belongs: fn(&StoredResource, &Json) -> bool,
    pick: Pick,
}

const SECTIONS: [Section; 7] = [
    Section {
        code: "11450-4",
        display: "Problem list - Reported",
        title_es: "Problemas activos",
        title_en: "Active problems",
        empty_es: "Sin problemas activos registrados.",
        empty_en: "No active problems recorded.",
        belongs: active_problem,
        pick: all,
    },
    Section {
        code: "48765-2",
        display: "Allergies and adverse reactions Document",
        title_es: "Alergias e intolerancias",
        title_en: "Allergies and intolerances",
        empty_es: "Sin alergias registradas.",
        empty_en: "No allergies recorded.",
        belongs: allergy,
        pick: all,
    },
    Section {
        code: "10160-0",
        display: "History of Medication use Narrative",
        title_es: "Medicamentos",
        title_en: "Medications",
        empty_es: "Sin medicamentos activos registrados.",
        empty_en: "No active medications recorded.",
        belongs: current_medication,
        pick: all,
    },
    Section {
        code: "11369-6",
        display: "History of Immunization Narrative",
        title_es: "Vacunas",
        title_en: "Immunizations",
        empty_es: "Sin vacunas registradas.",
        empty_en: "No immunizations recorded.",
        belongs: given_immunization,
        pick: all,
    },
    Section {
        code: "30954-2",
        display: "Relevant diagnostic tests/laboratory data Narrative",
        title_es: "Resultados de laboratorio",
        title_en: "Laboratory results",
        empty_es: "Sin resultados de laboratorio registrados.",
        empty_en: "No laboratory results recorded.",
        belongs: lab_result,
        pick: latest_results,
    },
    Section {
        code: "8716-3",
        display: "Vital signs",
        title_es: "Signos vitales más recientes",
        title_en: "Latest vital signs",
        empty_es: "Sin signos vitales registrados.",
        empty_en: "No vital signs recorded.",
        belongs: vital_sign,
        pick: latest_of_each_code,
    },
    Section {
        code: "18776-5",
        display: "Plan of care note",
        title_es: "Estudios y órdenes pendientes",
        title_en: "Pending tests and orders",
        empty_es: "Sin órdenes pendientes.",
        empty_en: "No pending orders.",
        belongs: pending_order,
        pick: all,
    },
];

/// One section of a patient summary: what the document's Composition lists, for a page to
/// show the same.
#[derive(Clone, Debug)]
pub struct SummarySection {
    /// The section's LOINC code.
    pub code: &'static str,
    pub title_es: &'static str,
    pub title_en: &'static str,
    /// What the section says when it has no entries.
    pub empty_es: &'static str,
    pub empty_en: &'static str,
    /// The section's resources as `Type/id`, in the document's order; each is an entry of
    /// the document.
    pub entries: Vec<String>,
}

/// A patient's IPS: the document Bundle, and its sections in order.
#[derive(Clone, Debug)]
pub struct PatientSummary {
    pub document: Json,
    pub sections: Vec<SummarySection>,
}

fn all(members: Vec<Member<'_>>) -> Vec<Member<'_>> {
    members
}

fn effective(body: &Json) -> &str {
    body.get("effectiveDateTime")
        .and_then(Json::as_str)
        .or_else(|| {
            body.get("effectivePeriod")
                .and_then(|p| p.get("start"))
                .and_then(Json::as_str)
        })
        .unwrap_or("")
}

fn latest_first(mut members: Vec<Member<'_>>) -> Vec<Member<'_>> {
    members.sort_by(|a, b| effective(&b.1).cmp(effective(&a.1)));
    members
}

/// The latest results first, at most [`RESULTS_MAX`].
fn latest_results(members: Vec<Member<'_>>) -> Vec<Member<'_>> {
    let mut members = latest_first(members);
    members.truncate(RESULTS_MAX);
    members
}

/// The latest measurement of each vital sign (by its first code), latest first.
fn latest_of_each_code(members: Vec<Member<'_>>) -> Vec<Member<'_>> {
    let mut latest: Vec<Member<'_>> = Vec::new();
    for member in latest_first(members) {
        let code = clinical_code(&member.1, "code");
        if !latest
            .iter()
            .any(|kept| clinical_code(&kept.1, "code") == code)
        {
            latest.push(member);
        }
    }
    latest
}

fn status_of<'a>(body: &'a Json, path: &str) -> Option<&'a str> {
    body.pointer(path).and_then(Json::as_str)
}

fn clinical_code<'a>(body: &'a Json, element: &str) -> Option<&'a str> {
    body.get(element)?
        .get("coding")?
        .as_list()
        .first()?
        .get("code")?
        .as_str()
}

fn active_problem(r: &StoredResource, body: &Json) -> bool {
    r.resource_type == "Condition"
        && matches!(
            clinical_code(body, "clinicalStatus"),
            Some("active" | "recurrence" | "relapse")
        )
        && clinical_code(body, "verificationStatus") != Some("entered-in-error")
}

fn allergy(r: &StoredResource, body: &Json) -> bool {
    r.resource_type == "AllergyIntolerance"
        && clinical_code(body, "verificationStatus") != Some("entered-in-error")
        && !matches!(
            clinical_code(body, "clinicalStatus"),
            Some("inactive" | "resolved")
        )
}

fn current_medication(r: &StoredResource, body: &Json) -> bool {
    match r.resource_type.as_str() {
        "MedicationRequest" => matches!(status_of(body, "status"), Some("active" | "on-hold")),
        "MedicationStatement" => matches!(
            status_of(body, "status"),
            Some("active" | "intended" | "on-hold")
        ),
        _ => false,
    }
}

fn given_immunization(r: &StoredResource, body: &Json) -> bool {
    r.resource_type == "Immunization" && status_of(body, "status") == Some("completed")
}

fn has_category(body: &Json, code: &str) -> bool {
    body.get("category").is_some_and(|categories| {
        categories.as_list().iter().any(|c| {
            c.get("coding").is_some_and(|codings| {
                codings
                    .as_list()
                    .iter()
                    .any(|coding| coding.get("code").and_then(Json::as_str) == Some(code))
            })
        })
    })
}

fn reported(body: &Json) -> bool {
    matches!(
        status_of(body, "status"),
        Some("final" | "amended" | "corrected")
    )
}

fn lab_result(r: &StoredResource, body: &Json) -> bool {
    r.resource_type == "Observation" && reported(body) && has_category(body, "laboratory")
}

fn vital_sign(r: &StoredResource, body: &Json) -> bool {
    r.resource_type == "Observation" && reported(body) && has_category(body, "vital-signs")
}

/// An order not yet done: a study, a procedure or a referral still `active`.
fn pending_order(r: &StoredResource, body: &Json) -> bool {
    r.resource_type == "ServiceRequest" && status_of(body, "status") == Some("active")
}

/// The words a clinician reads for a resource in a section's text.
fn label(body: &Json) -> String {
    let concept = ["code", "medicationCodeableConcept", "vaccineCode"]
        .iter()
        .find_map(|element| body.get(element));
    let text = concept
        .and_then(|c| {
            c.get("text").and_then(Json::as_str).or_else(|| {
                c.get("coding")?
                    .as_list()
                    .iter()
                    .find_map(|coding| coding.get("display").and_then(Json::as_str))
            })
        })
        .unwrap_or("(sin descripción)");
    let quantity = |q: &Json| -> Option<(String, String)> {
        let number = q.get("value")?.as_number_text()?;
        let unit = q
            .get("unit")
            .and_then(Json::as_str)
            .or_else(|| q.get("code").and_then(Json::as_str))
            .unwrap_or("");
        Some((number.to_string(), unit.to_string()))
    };
    // A blood pressure is its components: `138/86 mmHg`.
    let components: Vec<(String, String)> = body
        .get("component")
        .map(Json::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.get("valueQuantity").and_then(quantity))
        .collect();
    let value = body
        .get("valueQuantity")
        .and_then(quantity)
        .map(|(number, unit)| format!("{number} {unit}"))
        .or_else(|| {
            let unit = components.first()?.1.clone();
            let numbers: Vec<&str> = components.iter().map(|(n, _)| n.as_str()).collect();
            Some(format!("{} {unit}", numbers.join("/")))
        });
    let when = [
        "effectiveDateTime",
        "occurrenceDateTime",
        "recordedDate",
        "authoredOn",
    ]
    .iter()
    .find_map(|element| body.get(element).and_then(Json::as_str));
    let mut out = text.to_string();
    if let Some(value) = value {
        out.push_str(": ");
        out.push_str(value.trim());
    }
    if let Some(when) = when {
        out.push_str(" (");
        out.push_str(when.get(..10).unwrap_or(when));
        out.push(')');
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn narrative(lines: &[String]) -> Json {
    let items: String = lines
        .iter()
        .map(|line| format!("<li>{}</li>", escape(line)))
        .collect();
    Json::object([
        ("status", Json::str("generated")),
        (
            "div",
            Json::str(format!(
                "<div xmlns=\"http://www.w3.org/1999/xhtml\"><ul>{items}</ul></div>"
            )),
        ),
    ])
}

fn coding(system: &str, code: &str, display: &str) -> Json {
    Json::object([(
        "coding",
        Json::Array(vec![Json::object([
            ("system", Json::str(system)),
            ("code", Json::str(code)),
            ("display", Json::str(display)),
        ])]),
    )])
}

impl Ehr {
    /// # `Patient/{id}/$summary`: the patient's IPS document, as `who` may read it.
    ///
    /// `base_url` is the FHIR base the entries' `fullUrl`s are made from.
    pub fn patient_summary(
        &self,
        who: &Requester,
        patient_id: &str,
        base_url: &str,
    ) -> Result<PatientSummary, Error> {
        let record = self.everything_for(
            who,
            &EverythingRequest {
                patient_id: patient_id.to_string(),
                since_ms: None,
                types: [
                    "Patient",
                    "Condition",
                    "AllergyIntolerance",
                    "MedicationRequest",
                    "MedicationStatement",
                    "Immunization",
                    "Observation",
                    "ServiceRequest",
                ]
                .map(str::to_string)
                .to_vec(),
            },
            "$summary",
        )?;
        let parsed: Vec<(&StoredResource, Json)> = record
            .iter()
            .filter_map(|r| fhir::json::parse_str(&r.body).ok().map(|body| (r, body)))
            .collect();
        let patient = parsed
            .iter()
            .find(|(r, _)| r.resource_type == "Patient" && r.id == patient_id)
            .or_else(|| parsed.iter().find(|(r, _)| r.resource_type == "Patient"))
            .ok_or_else(|| Error::not_found("Patient", patient_id))?;
        let base = base_url.trim_end_matches('/');
        let now = crate::meta::format_instant(self.now_ms());
        let mut entries: Vec<Json> = Vec::new();
        let mut sections = Vec::new();
        let entry = |r: &StoredResource, body: &Json| {
            crate::document::document_entry(base, r, body.clone())
        };
        entries.push(entry(patient.0, &patient.1));
        let mut shown = Vec::new();
        let mut included = std::collections::HashSet::new();
        for section in &SECTIONS {
            let members = (section.pick)(
                parsed
                    .iter()
                    .filter(|(r, body)| (section.belongs)(r, body))
                    .collect(),
            );
            let references: Vec<String> = members
                .iter()
                .map(|(r, _)| format!("{}/{}", r.resource_type, r.id))
                .collect();
            let mut member = vec![
                ("title", Json::str(section.title_es)),
                ("code", coding(LOINC, section.code, section.display)),
            ];
            if members.is_empty() {
                member.push(("text", narrative(&[section.empty_es.to_string()])));
                member.push((
                    "emptyReason",
                    coding(EMPTY_REASON, "unavailable", "Unavailable"),
                ));
            } else {
                let lines: Vec<String> = members.iter().map(|(_, body)| label(body)).collect();
                member.push(("text", narrative(&lines)));
                member.push((
                    "entry",
                    Json::Array(
                        references
                            .iter()
                            .map(|reference| {
                                Json::object([("reference", Json::str(reference.clone()))])
                            })
                            .collect(),
                    ),
                ));
                // A resource in two sections (an Observation in both categories) is one entry.
                for ((r, body), reference) in members.into_iter().zip(&references) {
                    if included.insert(reference.clone()) {
                        entries.push(entry(r, body));
                    }
                }
            }
            sections.push(Json::object(member));
            shown.push(SummarySection {
                code: section.code,
                title_es: section.title_es,
                title_en: section.title_en,
                empty_es: section.empty_es,
                empty_en: section.empty_en,
                entries: references,
            });
        }
        let name = patient
            .1
            .get("name")
            .and_then(|names| names.as_list().first())
            .map(|name| {
                let given: Vec<&str> = name
                    .get("given")
                    .map(|g| g.as_list().iter().filter_map(Json::as_str).collect())
                    .unwrap_or_default();
                let family = name.get("family").and_then(Json::as_str).unwrap_or("");
                format!("{} {family}", given.join(" ")).trim().to_string()
            })
            .unwrap_or_default();
        let mut author = vec![(
            "display",
            Json::str(format!("Expediente, nodo {}", self.access().node)),
        )];
        if let Some(reference) = patient
            .1
            .get("managingOrganization")
            .and_then(|organization| organization.get("reference"))
        {
            author = vec![("reference", reference.clone())];
        }
        let composition_id = crate::meta::new_id();
        let composition = Json::object([
            ("resourceType", Json::str("Composition")),
            ("id", Json::str(composition_id.clone())),
            ("status", Json::str("final")),
            ("type", coding(LOINC, "60591-5", "Patient summary Document")),
            (
                "subject",
                Json::object([("reference", Json::str(format!("Patient/{}", patient.0.id)))]),
            ),
            ("date", Json::str(now.clone())),
            ("author", Json::Array(vec![Json::object(author)])),
            (
                "title",
                Json::str(if name.is_empty() {
                    "Resumen del paciente".to_string()
                } else {
                    format!("Resumen del paciente: {name}")
                }),
            ),
            ("confidentiality", Json::str("N")),
            ("section", Json::Array(sections)),
        ]);
        entries.insert(
            0,
            Json::object([
                (
                    "fullUrl",
                    Json::str(format!("{base}/Composition/{composition_id}")),
                ),
                ("resource", composition),
            ]),
        );
        Ok(PatientSummary {
            document: self.document_bundle(entries),
            sections: shown,
        })
    }
}
