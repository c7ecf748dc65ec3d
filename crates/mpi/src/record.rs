//! The person record the matcher works on, and its extraction from an R4 `Patient`.
//!
//! The matcher never sees FHIR directly: the API layer hands it a flat [`PersonRecord`] so that matching
//! rules stay independent of the wire format. Extraction is lenient on purpose — a registration with odd
//! data is still worth matching — so [`PersonRecord::from_patient_json`] never fails; fields it cannot read
//! are simply `None`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::curp;
use crate::normalize;

/// FHIR identifier system for the CURP (RENAPO's OID).
pub const CURP_SYSTEM: &str = "urn:oid:2.16.840.1.113883.4.629";
/// DGIS sentinel for "CURP unknown"; it is never an identity.
pub const GENERIC_CURP: &str = "XXXX999999XXXXXX99";
/// Extension on `Patient` carrying the birth state (entidad de nacimiento).
pub const BIRTH_STATE_EXTENSION: &str =
    "https://expediente.salud.gob.mx/fhir/StructureDefinition/entidad-nacimiento";
/// R4 core extension on `HumanName._family` holding the father's surname (first surname in Mexico).
pub const FATHERS_FAMILY_EXTENSION: &str =
    "http://hl7.org/fhir/StructureDefinition/humanname-fathers-family";
/// R4 core extension on `HumanName._family` holding the mother's surname (second surname in Mexico).
pub const MOTHERS_FAMILY_EXTENSION: &str =
    "http://hl7.org/fhir/StructureDefinition/humanname-mothers-family";

/// Administrative sex as registered (FHIR `Patient.gender`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
    Other,
    Unknown,
}

impl Sex {
    /// Reads a FHIR `administrative-gender` code; anything else is `None`.
    pub fn from_fhir_code(code: &str) -> Option<Sex> {
        match code {
            "male" => Some(Sex::Male),
            "female" => Some(Sex::Female),
            "other" => Some(Sex::Other),
            "unknown" => Some(Sex::Unknown),
            _ => None,
        }
    }

    /// The FHIR `administrative-gender` code.
    pub fn fhir_code(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }
}

/// One patient registration, flattened to the fields that identify a person.
///
/// Values are kept as registered (accents, case, abbreviations); normalisation happens when records are
/// compared, so a reviewer can always be shown what the clerk typed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PersonRecord {
    /// Caller's identifier (e.g. the `Patient` logical id); not used for matching.
    pub id: String,
    pub curp: Option<String>,
    /// All given names in one string ("María Guadalupe").
    pub given_names: String,
    /// Father's surname (primer apellido).
    pub first_surname: String,
    /// Mother's surname (segundo apellido); many people have none.
    pub second_surname: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub sex: Option<Sex>,
    /// Birth state as a CURP state code (`JC`, `DF`, `NE` …).
    pub birth_state: Option<String>,
    /// State of the current address, as registered (code or name).
    pub address_state: Option<String>,
    pub phone: Option<String>,
}

impl PersonRecord {
    /// Extracts a person record from an R4 `Patient` JSON value.
    ///
    /// Rules: the CURP is the first current identifier with the RENAPO system that is not the DGIS
    /// placeholder; the name is the `official` one (else `usual`, else the first not marked `old`); the
    /// surnames come from the `fathers-family`/`mothers-family` extensions when present, otherwise `family`
    /// is split (its last surname group is the second surname); the birth state comes from the
    /// `entidad-nacimiento` extension, else from CURP positions 12–13.
    pub fn from_patient_json(id: impl Into<String>, patient: &Value) -> PersonRecord {
        let curp = patient_curp(patient);
        let (given_names, first_surname, second_surname) = patient_name(patient);
        let birth_date = patient
            .get("birthDate")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let sex = patient
            .get("gender")
            .and_then(Value::as_str)
            .and_then(Sex::from_fhir_code);
        let birth_state = patient_birth_state(patient).or_else(|| {
            curp.as_deref()
                .filter(|c| curp::shape_ok(c))
                .and_then(|c| c.get(11..13))
                .map(str::to_owned)
        });
        PersonRecord {
            id: id.into(),
            curp,
            given_names,
            first_surname,
            second_surname,
            birth_date,
            sex,
            birth_state,
            address_state: patient_address_state(patient),
            phone: patient_phone(patient),
        }
    }
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn array<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn is_old(value: &Value) -> bool {
    str_field(value, "use") == Some("old")
}

fn patient_curp(patient: &Value) -> Option<String> {
    array(patient, "identifier")
        .iter()
        .filter(|identifier| str_field(identifier, "system") == Some(CURP_SYSTEM))
        .filter(|identifier| !is_old(identifier))
        .filter_map(|identifier| str_field(identifier, "value"))
        .map(|value| value.trim().to_uppercase())
        .find(|value| !value.is_empty() && value != GENERIC_CURP)
}

/// Picks the name a registration should be matched on: `official`, then `usual`, then any name that is
/// not `old`, then whatever there is.
fn pick_name(patient: &Value) -> Option<&Value> {
    let names = array(patient, "name");
    let by_use = |wanted: &str| names.iter().find(|n| str_field(n, "use") == Some(wanted));
    by_use("official")
        .or_else(|| by_use("usual"))
        .or_else(|| names.iter().find(|n| !is_old(n)))
        .or_else(|| names.first())
}

fn extension_string(element: &Value, url: &str) -> Option<String> {
    array(element, "extension")
        .iter()
        .filter(|extension| str_field(extension, "url") == Some(url))
        .find_map(|extension| {
            str_field(extension, "valueString")
                .or_else(|| str_field(extension, "valueCode"))
                .or_else(|| {
                    extension
                        .get("valueCoding")
                        .and_then(|coding| str_field(coding, "code"))
                })
                .or_else(|| {
                    extension
                        .get("valueCodeableConcept")
                        .map(|concept| array(concept, "coding"))
                        .and_then(|codings| codings.iter().find_map(|c| str_field(c, "code")))
                })
        })
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn patient_name(patient: &Value) -> (String, String, Option<String>) {
    let Some(name) = pick_name(patient) else {
        return (String::new(), String::new(), None);
    };
    let given = array(name, "given")
        .iter()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let family = str_field(name, "family").map(str::trim).unwrap_or("");
    let family_element = name.get("_family");
    let fathers = family_element.and_then(|e| extension_string(e, FATHERS_FAMILY_EXTENSION));
    let mothers = family_element.and_then(|e| extension_string(e, MOTHERS_FAMILY_EXTENSION));
    let (first, second) = match (fathers, mothers) {
        (Some(fathers), Some(mothers)) => (fathers, Some(mothers)),
        (Some(fathers), None) => {
            // Only the father's surname is tagged: whatever `family` holds after it is the mother's.
            let second = strip_leading_surname(family, &fathers);
            (fathers, second)
        }
        (None, Some(mothers)) => {
            // Only the mother's surname is tagged: the father's is what `family` holds before it.
            let first =
                strip_trailing_surname(family, &mothers).unwrap_or_else(|| family.to_owned());
            (first, Some(mothers))
        }
        (None, None) if !family.is_empty() => normalize::split_surnames(family),
        (None, None) => text_name_fallback(name, &given),
    };
    (given, first, second)
}

/// Removes `surname` from the end of `family` (accent- and case-insensitively); `None` when `family` does not
/// end with it or nothing would be left.
fn strip_trailing_surname(family: &str, surname: &str) -> Option<String> {
    let family_tokens: Vec<&str> = family.split_whitespace().collect();
    let surname_tokens: Vec<String> = surname.split_whitespace().map(normalize::fold).collect();
    let keep = family_tokens.len().checked_sub(surname_tokens.len())?;
    if keep == 0 {
        return None;
    }
    let tail_matches = family_tokens[keep..]
        .iter()
        .map(|t| normalize::fold(t))
        .eq(surname_tokens.iter().cloned());
    tail_matches.then(|| family_tokens[..keep].join(" "))
}

/// Removes `surname` from the start of `family` (accent- and case-insensitively); `None` when `family` does
/// not start with it or nothing would be left.
fn strip_leading_surname(family: &str, surname: &str) -> Option<String> {
    let family_tokens: Vec<&str> = family.split_whitespace().collect();
    let surname_tokens: Vec<String> = surname.split_whitespace().map(normalize::fold).collect();
    let n = surname_tokens.len();
    if n == 0 || family_tokens.len() <= n {
        return None;
    }
    let head_matches = family_tokens[..n]
        .iter()
        .map(|t| normalize::fold(t))
        .eq(surname_tokens.iter().cloned());
    head_matches.then(|| family_tokens[n..].join(" "))
}

/// Without `family`, the only hope is `text` ("Nombre(s) Apellido1 Apellido2"); when `given` is known it is
/// removed from the front, otherwise the last two surname groups are taken as surnames.
fn text_name_fallback(name: &Value, given: &str) -> (String, Option<String>) {
    let text = str_field(name, "text").map(str::trim).unwrap_or("");
    if text.is_empty() {
        return (String::new(), None);
    }
    let rest = if given.is_empty() {
        text
    } else {
        text.strip_prefix(given).map(str::trim).unwrap_or(text)
    };
    normalize::split_surnames(rest)
}

fn patient_birth_state(patient: &Value) -> Option<String> {
    extension_string(patient, BIRTH_STATE_EXTENSION).map(|s| normalize::state_code(&s))
}

fn patient_address_state(patient: &Value) -> Option<String> {
    let addresses = array(patient, "address");
    let has_state = |a: &&Value| str_field(a, "state").is_some_and(|s| !s.trim().is_empty());
    addresses
        .iter()
        .filter(has_state)
        .find(|a| str_field(a, "use") == Some("home"))
        .or_else(|| addresses.iter().filter(has_state).find(|a| !is_old(a)))
        .and_then(|a| str_field(a, "state"))
        .map(|s| s.trim().to_owned())
}

fn patient_phone(patient: &Value) -> Option<String> {
    let telecoms = array(patient, "telecom");
    let phones = || {
        telecoms
            .iter()
            .filter(|t| matches!(str_field(t, "system"), Some("phone" | "sms")))
            .filter(|t| !is_old(t))
            .filter(|t| str_field(t, "value").is_some_and(|v| !v.trim().is_empty()))
    };
    phones()
        .find(|t| matches!(str_field(t, "use"), Some("mobile" | "home")))
        .or_else(|| phones().next())
        .and_then(|t| str_field(t, "value"))
        .map(|v| v.trim().to_owned())
}

#[cfg(test)]
mod tests;
