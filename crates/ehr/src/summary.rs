//! The International Patient Summary (`Patient/{id}/$summary`, HL7 IPS): a document Bundle
//! whose Composition lists the patient's problems, allergies, medications, immunizations and
//! latest results, each section with its human-readable text.
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

/// One section: its LOINC code, titles, and which of the record's resources belong in it.
struct Section {
    code: &'static str,
    display: &'static str,
    title_es: &'static str,
    empty_es: &'static str,
    belongs: fn(&StoredResource, &Json) -> bool,
}

const SECTIONS: [Section; 5] = [
    Section {
        code: "11450-4",
        display: "Problem list - Reported",
        title_es: "Problemas de salud",
        empty_es: "Sin problemas activos registrados.",
        belongs: active_problem,
    },
    Section {
        code: "48765-2",
        display: "Allergies and adverse reactions Document",
        title_es: "Alergias e intolerancias",
        empty_es: "Sin alergias registradas.",
        belongs: allergy,
    },
    Section {
        code: "10160-0",
        display: "History of Medication use Narrative",
        title_es: "Medicamentos",
        empty_es: "Sin medicamentos activos registrados.",
        belongs: current_medication,
    },
    Section {
        code: "11369-6",
        display: "History of Immunization Narrative",
        title_es: "Vacunas",
        empty_es: "Sin vacunas registradas.",
        belongs: given_immunization,
    },
    Section {
        code: "30954-2",
        display: "Relevant diagnostic tests/laboratory data Narrative",
        title_es: "Resultados de laboratorio",
        empty_es: "Sin resultados de laboratorio registrados.",
        belongs: lab_result,
    },
];

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

fn lab_result(r: &StoredResource, body: &Json) -> bool {
    r.resource_type == "Observation"
        && matches!(
            status_of(body, "status"),
            Some("final" | "amended" | "corrected")
        )
        && body.get("category").is_some_and(|categories| {
            categories.as_list().iter().any(|c| {
                c.get("coding").is_some_and(|codings| {
                    codings.as_list().iter().any(|coding| {
                        coding.get("code").and_then(Json::as_str) == Some("laboratory")
                    })
                })
            })
        })
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
    let value = body.get("valueQuantity").and_then(|q| {
        let number = q.get("value")?.as_number_text()?;
        let unit = q
            .get("unit")
            .and_then(Json::as_str)
            .or_else(|| q.get("code").and_then(Json::as_str))
            .unwrap_or("");
        Some(format!("{number} {unit}"))
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
    ) -> Result<Json, Error> {
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
        for section in &SECTIONS {
            let mut members: Vec<&(&StoredResource, Json)> = parsed
                .iter()
                .filter(|(r, body)| (section.belongs)(r, body))
                .collect();
            if section.code == "30954-2" {
                members.sort_by(|a, b| {
                    let when = |x: &Json| {
                        x.get("effectiveDateTime")
                            .and_then(Json::as_str)
                            .unwrap_or("")
                            .to_string()
                    };
                    when(&b.1).cmp(&when(&a.1))
                });
                members.truncate(RESULTS_MAX);
            }
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
                        members
                            .iter()
                            .map(|(r, _)| {
                                Json::object([(
                                    "reference",
                                    Json::str(format!("{}/{}", r.resource_type, r.id)),
                                )])
                            })
                            .collect(),
                    ),
                ));
                for (r, body) in members {
                    entries.push(entry(r, body));
                }
            }
            sections.push(Json::object(member));
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
        Ok(self.document_bundle(entries))
    }
}
