//! What a refused write says to a person: plain words in their language, next to the field
//! they must change, never the validator's text (`«given» admite como máximo …`, FHIRPath
//! locations, operation URLs written for API clients).
//!
//! Why a translation step: `ehr::Error` speaks to API clients (an OperationOutcome with
//! FHIRPath `expression`s); the screens check most things themselves before writing, so what
//! the record still refuses is rare, and must be said the way a clinic's staff can act on.
//! Business rules of the Mexican profile (CURP against birth date, one CURP per person) are
//! written for people and pass through; structural findings are replaced by a plain sentence
//! about their field; refusals of access become what the user may do instead.

use crate::i18n::Tr;

/// A message for one form field (its `name`), or for the whole form (`None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plain {
    pub field: Option<&'static str>,
    pub text: String,
}

/// Where a FHIRPath location lands on a form: `(prefix, field name)`, most specific first.
pub type FieldMap = &'static [(&'static str, &'static str)];

/// The registration form's fields.
pub const PATIENT_FIELDS: FieldMap = &[
    ("Patient.birthDate", "birth_date"),
    ("Patient.gender", "sex"),
    ("Patient.identifier", "curp"),
    ("Patient.telecom", "phone"),
    ("Patient.name", "given"),
    ("Patient.extension", "birth_state"),
];

/// Plain messages for a refused write.
pub fn plain(tr: Tr, error: &ehr::Error, fields: FieldMap) -> Vec<Plain> {
    match error {
        ehr::Error::Forbidden(issue) => {
            let care = issue.message_es.contains("iniciar-atencion")
                || issue.message_es.contains("relación de atención");
            vec![Plain {
                field: None,
                text: if care {
                    tr.s("error.no_care_relationship").to_string()
                } else {
                    tr.s("error.forbidden").to_string()
                },
            }]
        }
        ehr::Error::Conflict(issues)
        | ehr::Error::Unprocessable(issues)
        | ehr::Error::BadRequest(issues) => {
            let conflict = matches!(error, ehr::Error::Conflict(_));
            let mut out: Vec<Plain> = Vec::new();
            for issue in issues
                .iter()
                .filter(|i| i.severity == fhir::Severity::Error || conflict)
            {
                let field = issue.expression.as_deref().and_then(|path| {
                    fields
                        .iter()
                        .find(|(prefix, _)| path.starts_with(prefix))
                        .map(|(_, field)| *field)
                });
                let written_for_people = matches!(
                    issue.code,
                    fhir::IssueCode::BusinessRule | fhir::IssueCode::Duplicate
                );
                let text = if written_for_people {
                    tr.pick(&issue.message_es, &issue.message_en).to_string()
                } else if conflict {
                    tr.s("error.conflict").to_string()
                } else if field.is_some() {
                    tr.s("error.field_format").to_string()
                } else {
                    tr.s("error.not_saved").to_string()
                };
                if !out.iter().any(|p| p.field == field && p.text == text) {
                    out.push(Plain { field, text });
                }
            }
            if out.is_empty() {
                out.push(Plain {
                    field: None,
                    text: tr.s("error.not_saved").to_string(),
                });
            }
            out
        }
        ehr::Error::PreconditionFailed(_) => vec![Plain {
            field: None,
            text: tr.s("error.conflict").to_string(),
        }],
        ehr::Error::NotFound(_) | ehr::Error::Gone(_) => vec![Plain {
            field: None,
            text: tr.s("error.not_found").to_string(),
        }],
        _ => vec![Plain {
            field: None,
            text: tr.s("error.unavailable").to_string(),
        }],
    }
}

/// Only the whole-form messages, for forms without field slots.
pub fn general(tr: Tr, error: &ehr::Error) -> Vec<String> {
    plain(tr, error, &[]).into_iter().map(|p| p.text).collect()
}

#[cfg(test)]
mod tests {
    use fhir::{Issue, IssueCode};

    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn validator_text_never_reaches_the_page() {
        let tr = Tr { lang: Lang::Es };
        let raw = Issue::error(
            IssueCode::Value,
            "«2019-02-30» no es una fecha válida",
            "'2019-02-30' is not a valid date",
        )
        .at("Patient.birthDate");
        let shown = plain(tr, &ehr::Error::Unprocessable(vec![raw]), PATIENT_FIELDS);
        assert_eq!(shown[0].field, Some("birth_date"));
        assert!(!shown[0].text.contains("2019-02-30"), "{shown:?}");
        let rule = Issue::error(
            IssueCode::BusinessRule,
            "La fecha de nacimiento no coincide con la de la CURP",
            "Birth date disagrees with the CURP",
        )
        .at("Patient.birthDate");
        let shown = plain(tr, &ehr::Error::Unprocessable(vec![rule]), PATIENT_FIELDS);
        assert!(shown[0].text.contains("no coincide con la de la CURP"));
    }

    #[test]
    fn a_refusal_says_what_to_do_not_which_endpoint_to_call() {
        let tr = Tr { lang: Lang::Es };
        let issue = Issue::error(
            IssueCode::Forbidden,
            "Acceso denegado: sin relación de atención. Registre el inicio de atención (POST /fhir/Patient/{id}/$iniciar-atencion con un motivo)",
            "Access denied",
        );
        let shown = general(tr, &ehr::Error::Forbidden(issue));
        assert!(!shown[0].contains("/fhir"), "{shown:?}");
        assert!(shown[0].contains("inicio de atención"), "{shown:?}");
    }
}
