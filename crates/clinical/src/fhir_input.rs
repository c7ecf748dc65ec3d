//! Reading the FHIR resources the checks need, leniently: `AllergyIntolerance` and
//! `MedicationRequest` JSON as stored (R4), reduced to the fields the rules use.
//!
//! Lenient on purpose: a check that refuses to run because an old record lacks a field would
//! hide the allergy. Missing statuses are read as the FHIR default meaning (active, unconfirmed
//! when absent), and both coded and free-text substances are kept.

use serde::Serialize;
use serde_json::Value;

/// SNOMED CT system URI.
pub const SNOMED: &str = "http://snomed.info/sct";
/// SNOMED CT "No known allergy" (716186003): the record of "niega alergias".
pub const NO_KNOWN_ALLERGY: &str = "716186003";

/// `AllergyIntolerance.verificationStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Verification {
    /// `confirmed`.
    Confirmed,
    /// `unconfirmed`, `presumed`, or absent.
    Unconfirmed,
    /// `refuted`: the allergy was ruled out.
    Refuted,
    /// `entered-in-error`.
    EnteredInError,
}

/// `AllergyIntolerance.criticality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Criticality {
    /// `low`.
    Low,
    /// `high`.
    High,
    /// `unable-to-assess` or absent.
    Unknown,
}

/// What the checks need from one `AllergyIntolerance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllergyRecord {
    /// `id`, if present (for the finding's reference).
    pub id: Option<String>,
    /// What to call it in messages: `code.text`, else the first coding's display.
    pub label: String,
    /// SNOMED CT codes of `code.coding`.
    pub snomed: Vec<String>,
    /// Every text of the substance (`code.text`, codings' displays, `reaction.substance`).
    pub texts: Vec<String>,
    /// `category` contains `medication` (absent category: unknown, kept).
    pub medication: bool,
    /// `type` is `intolerance` (not an immune allergy).
    pub intolerance: bool,
    /// Verification status.
    pub verification: Verification,
    /// `clinicalStatus` is active (or absent).
    pub active: bool,
    /// Criticality.
    pub criticality: Criticality,
    /// The record says "no known allergy" (SNOMED 716186003).
    pub no_known_allergy: bool,
}

fn codes_of(concept: &Value) -> impl Iterator<Item = &str> {
    concept
        .get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|coding| coding.get("code").and_then(Value::as_str))
}

fn first_code(concept: Option<&Value>) -> Option<&str> {
    concept.and_then(|c| codes_of(c).next())
}

fn texts_of(concept: &Value) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    if let Some(text) = concept.get("text").and_then(Value::as_str) {
        texts.push(text.to_owned());
    }
    for coding in concept
        .get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(display) = coding.get("display").and_then(Value::as_str) {
            texts.push(display.to_owned());
        }
    }
    texts
}

/// Reads an `AllergyIntolerance`; `None` when the JSON is not one.
pub fn read_allergy(resource: &Value) -> Option<AllergyRecord> {
    if resource.get("resourceType").and_then(Value::as_str) != Some("AllergyIntolerance") {
        return None;
    }
    let code = resource.get("code").cloned().unwrap_or(Value::Null);
    let snomed: Vec<String> = code
        .get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("system").and_then(Value::as_str) == Some(SNOMED))
        .filter_map(|c| c.get("code").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let mut texts = texts_of(&code);
    for reaction in resource
        .get("reaction")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(substance) = reaction.get("substance") {
            texts.extend(texts_of(substance));
        }
    }
    let label = texts.first().cloned().unwrap_or_default();
    let categories: Vec<&str> = resource
        .get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let verification = match first_code(resource.get("verificationStatus")) {
        Some("confirmed") => Verification::Confirmed,
        Some("refuted") => Verification::Refuted,
        Some("entered-in-error") => Verification::EnteredInError,
        _ => Verification::Unconfirmed,
    };
    let active = !matches!(
        first_code(resource.get("clinicalStatus")),
        Some("inactive" | "resolved")
    );
    let criticality = match resource.get("criticality").and_then(Value::as_str) {
        Some("high") => Criticality::High,
        Some("low") => Criticality::Low,
        _ => Criticality::Unknown,
    };
    Some(AllergyRecord {
        id: resource
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        no_known_allergy: snomed.iter().any(|c| c == NO_KNOWN_ALLERGY),
        label,
        snomed,
        texts,
        medication: categories.is_empty() || categories.contains(&"medication"),
        intolerance: resource.get("type").and_then(Value::as_str) == Some("intolerance"),
        verification,
        active,
        criticality,
    })
}

/// What the checks need from one `MedicationRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveMedication {
    /// `id`, if present.
    pub id: Option<String>,
    /// The CNIS key, when coded with `mexico::systems::CNIS`.
    pub cnis_key: Option<String>,
    /// What to call it: `medicationCodeableConcept.text`, else a coding display.
    pub label: String,
    /// Ingredient ids: from the formulary when the key is known, else found in the texts.
    pub ingredient_ids: Vec<&'static str>,
}

/// Reads a `MedicationRequest` that is in force (`status` `active`, or absent); `None` for any
/// other status (stopped, completed, on-hold, cancelled, draft, entered-in-error) or non-request.
pub fn read_active_medication(resource: &Value) -> Option<ActiveMedication> {
    if resource.get("resourceType").and_then(Value::as_str) != Some("MedicationRequest") {
        return None;
    }
    if !matches!(
        resource.get("status").and_then(Value::as_str),
        Some("active") | None
    ) {
        return None;
    }
    let concept = resource
        .get("medicationCodeableConcept")
        .cloned()
        .unwrap_or(Value::Null);
    let cnis_key = concept
        .get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("system").and_then(Value::as_str) == Some(mexico::systems::CNIS))
        .and_then(|c| c.get("code").and_then(Value::as_str))
        .map(str::to_owned);
    let texts = texts_of(&concept);
    let label = texts.first().cloned().unwrap_or_default();
    let from_key: Option<Vec<&'static str>> = cnis_key
        .as_deref()
        .and_then(crate::formulary::medicine)
        .map(|m| m.ingredient_ids.to_vec());
    let ingredient_ids = from_key.unwrap_or_else(|| {
        let mut ids: Vec<&'static str> = texts
            .iter()
            .flat_map(|t| crate::classes::ingredients_in_text(t))
            .map(|i| i.id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    });
    Some(ActiveMedication {
        id: resource
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        cnis_key,
        label,
        ingredient_ids,
    })
}
