//! The allergy banner: one function, [`of`], builds it from the patient's
//! `AllergyIntolerance` resources, and every page that shows a patient renders it through
//! `templates/patient_header.html` (the page's [`crate::pages::PatientView`] carries it).
//!
//! Why one function: the issue found the referral page saying "no allergies recorded" for a
//! patient allergic to egg, because each page built (or forgot) its own list. Reading goes
//! through `clinical::fhir_input::read_allergy`, the same lenient reader the prescribing checks
//! use, so the banner and the checks never disagree about what counts: refuted,
//! entered-in-error and inactive or resolved records do not; unconfirmed ones do and say so.
//! "Nothing recorded" and "the patient denies allergies" are different states and are shown
//! differently: only the second is information.

use serde_json::Value;

/// One allergy as the banner shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BannerAllergy {
    /// `id` of the AllergyIntolerance.
    pub id: String,
    pub substance: String,
    pub reaction: Option<String>,
    pub high_risk: bool,
    /// Recorded as unconfirmed (or without verification status).
    pub unconfirmed: bool,
    /// An intolerance (not immune-mediated).
    pub intolerance: bool,
}

/// What the banner says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AllergyBanner {
    /// Nothing recorded: ask the patient.
    #[default]
    NotRecorded,
    /// "Niega alergias", recorded on this date (`YYYY-MM-DD…`).
    NoKnownAllergies { recorded: String },
    /// The allergies in force, most dangerous first.
    Allergies(Vec<BannerAllergy>),
}

impl AllergyBanner {
    pub fn allergies(&self) -> &[BannerAllergy] {
        match self {
            AllergyBanner::Allergies(list) => list,
            _ => &[],
        }
    }

    /// Whether the banner shows allergies (red), as opposed to a neutral state.
    pub fn has_allergies(&self) -> bool {
        !self.allergies().is_empty()
    }

    pub fn is_not_recorded(&self) -> bool {
        *self == AllergyBanner::NotRecorded
    }

    /// The date "niega alergias" was recorded, when that is the state.
    pub fn no_known_since(&self) -> Option<&str> {
        match self {
            AllergyBanner::NoKnownAllergies { recorded } => Some(recorded),
            _ => None,
        }
    }
}

fn reaction_of(resource: &Value) -> Option<String> {
    resource["reaction"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["manifestation"].as_array().into_iter().flatten())
        .find_map(|m| {
            m["text"]
                .as_str()
                .or_else(|| m["coding"][0]["display"].as_str())
        })
        .map(str::to_string)
}

/// The banner for a patient, from any resources of their record (other types are ignored).
pub fn of(resources: &[Value]) -> AllergyBanner {
    let mut allergies = Vec::new();
    let mut no_known: Option<String> = None;
    for resource in resources {
        let Some(record) = clinical::fhir_input::read_allergy(resource) else {
            continue;
        };
        let counts = record.active
            && !matches!(
                record.verification,
                clinical::fhir_input::Verification::Refuted
                    | clinical::fhir_input::Verification::EnteredInError
            );
        if !counts {
            continue;
        }
        if record.no_known_allergy {
            let recorded = resource["recordedDate"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if no_known.as_ref().is_none_or(|r| *r < recorded) {
                no_known = Some(recorded);
            }
            continue;
        }
        allergies.push(BannerAllergy {
            id: record.id.clone().unwrap_or_default(),
            substance: if record.label.is_empty() {
                "?".to_string()
            } else {
                record.label.clone()
            },
            reaction: reaction_of(resource),
            high_risk: record.criticality == clinical::fhir_input::Criticality::High,
            unconfirmed: record.verification == clinical::fhir_input::Verification::Unconfirmed,
            intolerance: record.intolerance,
        });
    }
    if !allergies.is_empty() {
        // An allergy recorded after a "niega alergias" makes the denial obsolete, whatever
        // order they were written in.
        allergies.sort_by(|a, b| {
            b.high_risk
                .cmp(&a.high_risk)
                .then(a.substance.cmp(&b.substance))
        });
        allergies.dedup_by(|a, b| a.substance == b.substance && a.reaction == b.reaction);
        return AllergyBanner::Allergies(allergies);
    }
    match no_known {
        Some(recorded) => AllergyBanner::NoKnownAllergies { recorded },
        None => AllergyBanner::NotRecorded,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn allergy(text: &str, verification: &str, clinical: &str) -> Value {
        json!({
            "resourceType": "AllergyIntolerance", "id": text,
            "clinicalStatus": {"coding": [{"code": clinical}]},
            "verificationStatus": {"coding": [{"code": verification}]},
            "code": {"text": text},
            "reaction": [{"manifestation": [{"text": "Urticaria"}]}],
            "recordedDate": "2026-01-01"
        })
    }

    fn no_known(recorded: &str) -> Value {
        json!({
            "resourceType": "AllergyIntolerance", "id": "nka",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "verificationStatus": {"coding": [{"code": "confirmed"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "716186003"}], "text": "Niega alergias"},
            "recordedDate": recorded
        })
    }

    #[test]
    fn nothing_recorded_is_not_a_denial() {
        assert_eq!(of(&[]), AllergyBanner::NotRecorded);
        assert_eq!(
            of(&[no_known("2026-02-03")]),
            AllergyBanner::NoKnownAllergies {
                recorded: "2026-02-03".into()
            }
        );
    }

    #[test]
    fn refuted_and_inactive_allergies_leave_the_banner_and_unconfirmed_ones_stay_marked() {
        let banner = of(&[
            allergy("Huevo", "confirmed", "active"),
            allergy("Penicilina", "refuted", "active"),
            allergy("Polen", "confirmed", "inactive"),
            allergy("Sulfas", "unconfirmed", "active"),
            json!({"resourceType": "Observation"}),
        ]);
        let names: Vec<(&str, bool)> = banner
            .allergies()
            .iter()
            .map(|a| (a.substance.as_str(), a.unconfirmed))
            .collect();
        assert_eq!(names, vec![("Huevo", false), ("Sulfas", true)]);
        assert_eq!(banner.allergies()[0].reaction.as_deref(), Some("Urticaria"));
    }

    #[test]
    fn an_allergy_outranks_an_earlier_denial() {
        let banner = of(&[
            no_known("2026-05-01"),
            allergy("Huevo", "confirmed", "active"),
        ]);
        assert!(banner.has_allergies());
    }
}
