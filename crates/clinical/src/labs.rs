//! Lab flags: the interpretation of a quantity against its reference range (HL7 v3
//! ObservationInterpretation `L`, `H`, `LL`, `HH`, `N`, `A`), and reading the flag and range a
//! FHIR `Observation` already carries, so the UI shows them instead of losing them.

use serde::Serialize;
use serde_json::Value;

/// HL7 `ObservationInterpretation` code system.
pub const INTERPRETATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// A flag, as HL7 v3 ObservationInterpretation codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Flag {
    /// `N`: normal.
    Normal,
    /// `L`: low.
    Low,
    /// `H`: high.
    High,
    /// `LL`: critically low.
    CriticalLow,
    /// `HH`: critically high.
    CriticalHigh,
    /// `A`: abnormal (non-numeric results, or an abnormal flag without direction).
    Abnormal,
}

impl Flag {
    /// The v3 code (`H`, `LL`…).
    pub fn code(self) -> &'static str {
        match self {
            Flag::Normal => "N",
            Flag::Low => "L",
            Flag::High => "H",
            Flag::CriticalLow => "LL",
            Flag::CriticalHigh => "HH",
            Flag::Abnormal => "A",
        }
    }

    /// Parses a v3 code; the `U`-suffixed and `AA` variants fold into the nearest flag.
    pub fn from_code(code: &str) -> Option<Flag> {
        Some(match code {
            "N" => Flag::Normal,
            "L" | "LU" => Flag::Low,
            "H" | "HU" => Flag::High,
            "LL" => Flag::CriticalLow,
            "HH" => Flag::CriticalHigh,
            "A" | "AA" => Flag::Abnormal,
            _ => return None,
        })
    }

    /// Spanish label for the UI.
    pub fn label_es(self) -> &'static str {
        match self {
            Flag::Normal => "Normal",
            Flag::Low => "Bajo",
            Flag::High => "Alto",
            Flag::CriticalLow => "Críticamente bajo",
            Flag::CriticalHigh => "Críticamente alto",
            Flag::Abnormal => "Anormal",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            Flag::Normal => "Normal",
            Flag::Low => "Low",
            Flag::High => "High",
            Flag::CriticalLow => "Critically low",
            Flag::CriticalHigh => "Critically high",
            Flag::Abnormal => "Abnormal",
        }
    }

    /// Whether the UI should draw attention to it.
    pub fn is_abnormal(self) -> bool {
        self != Flag::Normal
    }
}

/// A reference range; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct ReferenceRange {
    /// Lowest normal value (inclusive).
    pub low: Option<f64>,
    /// Highest normal value (inclusive).
    pub high: Option<f64>,
    /// At or below: critically low.
    pub critical_low: Option<f64>,
    /// At or above: critically high.
    pub critical_high: Option<f64>,
}

/// Interprets a value: critical limits first, then the normal range; `None` when the range has
/// no limit at all or the value is not finite.
pub fn interpret(value: f64, range: &ReferenceRange) -> Option<Flag> {
    if !value.is_finite()
        || (range.low.is_none()
            && range.high.is_none()
            && range.critical_low.is_none()
            && range.critical_high.is_none())
    {
        return None;
    }
    if range.critical_low.is_some_and(|c| value <= c) {
        return Some(Flag::CriticalLow);
    }
    if range.critical_high.is_some_and(|c| value >= c) {
        return Some(Flag::CriticalHigh);
    }
    if range.low.is_some_and(|low| value < low) {
        return Some(Flag::Low);
    }
    if range.high.is_some_and(|high| value > high) {
        return Some(Flag::High);
    }
    Some(Flag::Normal)
}

/// What the UI shows for a lab `Observation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabView {
    /// `valueQuantity.value`.
    pub value: Option<f64>,
    /// `valueQuantity.unit` (or `code`).
    pub unit: Option<String>,
    /// The first `referenceRange` (`low.value`, `high.value`), with its `text` when present.
    pub range: Option<ReferenceRange>,
    /// `referenceRange[0].text`, e.g. "70-99 mg/dL".
    pub range_text: Option<String>,
    /// The flag the data carries (`interpretation`).
    pub recorded: Option<Flag>,
    /// The flag computed from the value and the range.
    pub computed: Option<Flag>,
}

impl LabView {
    /// The flag to show: the recorded one (the laboratory's word), else the computed one.
    pub fn flag(&self) -> Option<Flag> {
        self.recorded.or(self.computed)
    }

    /// Recorded and computed flags disagree (e.g. a laboratory-specific range): the UI can say so.
    pub fn disagrees(&self) -> bool {
        matches!((self.recorded, self.computed), (Some(r), Some(c)) if r != c)
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64)
}

/// Reads value, reference range and interpretation from an `Observation`; `None` for other types.
pub fn read_observation(resource: &Value) -> Option<LabView> {
    if resource.get("resourceType").and_then(Value::as_str) != Some("Observation") {
        return None;
    }
    let quantity = resource.get("valueQuantity");
    let value = number(quantity.and_then(|q| q.get("value")));
    let unit = quantity
        .and_then(|q| q.get("unit").or_else(|| q.get("code")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let first_range = resource
        .get("referenceRange")
        .and_then(Value::as_array)
        .and_then(|ranges| ranges.first());
    let range = first_range.map(|r| ReferenceRange {
        low: number(r.get("low").and_then(|l| l.get("value"))),
        high: number(r.get("high").and_then(|h| h.get("value"))),
        critical_low: None,
        critical_high: None,
    });
    let range_text = first_range
        .and_then(|r| r.get("text"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let recorded = resource
        .get("interpretation")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|concept| {
            concept
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|coding| coding.get("code").and_then(Value::as_str))
        .find_map(Flag::from_code);
    let computed = match (value, range.as_ref()) {
        (Some(v), Some(r)) => interpret(v, r),
        _ => None,
    };
    Some(LabView {
        value,
        unit,
        range,
        range_text,
        recorded,
        computed,
    })
}

#[cfg(test)]
mod tests;
