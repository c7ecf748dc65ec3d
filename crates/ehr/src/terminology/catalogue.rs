//! The catalogues this node ships, behind one interface for the terminology operations:
//! CIE-10 (`mexico::cie10`), the LOINC studies a health centre orders (`clinical::studies`) and
//! the CNIS formulary subset the prescribing form uses (`clinical::formulary`).

use fhir::Json;
use mexico::{cie10, systems};

/// One catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Catalogue {
    Cie10,
    Loinc,
    Cnis,
}

/// One concept as the operations report it.
pub(crate) struct Concept {
    pub code: String,
    pub display: String,
    /// `(property code, value, value[x] kind)`.
    pub properties: Vec<(&'static str, Json, &'static str)>,
}

impl Catalogue {
    pub(crate) const ALL: [Catalogue; 3] = [Catalogue::Cie10, Catalogue::Loinc, Catalogue::Cnis];

    pub(crate) fn of_system(system: &str) -> Option<Catalogue> {
        Catalogue::ALL.into_iter().find(|c| c.system() == system)
    }

    /// The catalogue whose implicit value set (`{system}?fhir_vs`, FHIR's name for "every code
    /// of the system") is `url`.
    pub(crate) fn of_value_set(url: &str) -> Option<Catalogue> {
        Catalogue::ALL.into_iter().find(|c| c.value_set() == url)
    }

    pub(crate) fn system(self) -> &'static str {
        match self {
            Catalogue::Cie10 => systems::CIE10,
            Catalogue::Loinc => systems::LOINC,
            Catalogue::Cnis => systems::CNIS,
        }
    }

    pub(crate) fn value_set(self) -> String {
        format!("{}?fhir_vs", self.system())
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Catalogue::Cie10 => "CIE-10",
            Catalogue::Loinc => "LOINC (estudios del primer nivel)",
            Catalogue::Cnis => "CNIS (cuadro básico, subconjunto)",
        }
    }

    pub(crate) fn version(self) -> &'static str {
        match self {
            Catalogue::Cie10 => "OMS 2019, títulos en español",
            Catalogue::Loinc => "subconjunto de Expediente: órdenes de laboratorio y gabinete",
            Catalogue::Cnis => clinical::formulary::FORMULARY_VERSION,
        }
    }

    /// Whether a whole expansion is affordable without a filter (CIE-10 has over 14,000 codes).
    pub(crate) fn expands_whole(self) -> bool {
        self != Catalogue::Cie10
    }

    /// The concept with this code, as users write it (CIE-10 dotted or in the GIIS form; a CNIS
    /// key whole or as its four-digit shorthand).
    pub(crate) fn concept(self, code: &str) -> Option<Concept> {
        match self {
            Catalogue::Cie10 => {
                let normalized = cie10::normalize_cie10(code).ok()?;
                let found = cie10::lookup_cie10(&normalized)?;
                Some(Concept {
                    code: found.code.to_string(),
                    display: found.description.to_string(),
                    properties: vec![
                        // A category with subcategories is not reported as such (GIIS wants
                        // `E11.9`, not `E11`).
                        ("notSelectable", Json::Bool(!found.leaf), "valueBoolean"),
                        ("giis", Json::str(cie10_giis(found.code)), "valueString"),
                    ],
                })
            }
            Catalogue::Loinc => {
                let study = clinical::studies::study_by_code(code.trim())?;
                let (_, _, kind_es) = study.kind.category();
                Some(Concept {
                    code: study.code.to_string(),
                    display: study.es.to_string(),
                    properties: vec![
                        ("display-en", Json::str(study.en), "valueString"),
                        ("kind", Json::str(kind_es), "valueString"),
                    ],
                })
            }
            Catalogue::Cnis => {
                let medicine = clinical::formulary::medicine(code)?;
                let verified = medicine.key_status != clinical::formulary::KeyStatus::Unverified;
                Some(Concept {
                    code: medicine.key.to_string(),
                    display: medicine.display(),
                    properties: vec![
                        ("generic", Json::str(medicine.generic), "valueString"),
                        ("form", Json::str(medicine.form), "valueString"),
                        ("strength", Json::str(medicine.strength), "valueString"),
                        ("atc", Json::str(medicine.atc()), "valueString"),
                        // The keys were not all checked against a CNIS edition: say which.
                        ("verified", Json::Bool(verified), "valueBoolean"),
                    ],
                })
            }
        }
    }

    /// Concepts matching `filter` (accent-insensitive; every word must appear), ranked as the
    /// UI's pickers rank them, at most `limit`; every concept when `filter` is `None`.
    pub(crate) fn search(self, filter: Option<&str>, limit: usize) -> Vec<(String, String)> {
        match self {
            Catalogue::Cie10 => cie10::search(filter.unwrap_or_default(), limit)
                .iter()
                .map(|hit| {
                    (
                        hit.entry.code.to_string(),
                        hit.entry.description.to_string(),
                    )
                })
                .collect(),
            Catalogue::Loinc => clinical::studies::STUDIES
                .iter()
                .filter(|study| {
                    filter.is_none_or(|filter| words_in(filter, &[study.code, study.es, study.en]))
                })
                .take(limit)
                .map(|study| (study.code.to_string(), study.es.to_string()))
                .collect(),
            Catalogue::Cnis => {
                let found: Vec<&clinical::formulary::Medicine> = match filter {
                    Some(filter) => clinical::formulary::search_formulary(filter),
                    None => clinical::formulary::FORMULARY.iter().collect(),
                };
                found
                    .into_iter()
                    .take(limit)
                    .map(|m| (m.key.to_string(), m.display()))
                    .collect()
            }
        }
    }
}

/// Every word of `filter` appears in one of `fields`, accents and case aside.
fn words_in(filter: &str, fields: &[&str]) -> bool {
    let haystack = fields
        .iter()
        .map(|f| mexico::search_fold(f))
        .collect::<Vec<_>>()
        .join(" ");
    mexico::search_fold(filter)
        .split_whitespace()
        .all(|word| haystack.contains(word))
}

/// The four-character form of GIIS/DGIS files (`E119`, `I10X`).
pub(crate) fn cie10_giis(code: &str) -> String {
    cie10::validate_cie10(code)
        .map(|valid| valid.dgis())
        .unwrap_or_else(|_| code.replace('.', ""))
}
