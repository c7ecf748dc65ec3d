//! Security labels (`meta.security`) and the sensitive categories patients can protect.
//!
//! The codes are HL7 v3 ActCode information-sensitivity codes, as listed in the R4 package
//! (`hl7.fhir.r4.examples` 4.0.1, CodeSystem `v3-ActCode`, under `_ActInformationSensitivityPolicy`):
//!
//! | Sensitive category (issue 6) | codes | meaning in v3-ActCode |
//! |---|---|---|
//! | mental health | `MH`, `PSY`, `PSYTHPN`, `BH`, `COGN`, `DVD`, `EMOTDIS` | mental health; psychiatry disorder; psychotherapy note; behavioral health (cognitive, developmental disability, emotional disturbance) |
//! | sexual and reproductive health | `SEX`, `STD` | sexuality and reproductive health; sexually transmitted disease |
//! | HIV | `HIV` | HIV/AIDS |
//! | substance use | `ETH`, `SUD`, `ETHUD`, `OPIOIDUD` | substance abuse; substance use disorder (alcohol, opioid) |
//!
//! Other sensitivity codes (`SDV` sexual/domestic violence, `GDIS` genetic disease, `SPI` specially
//! protected, `TBOO`, …) are matched exactly and through the v3 hierarchy, but are not one of the four
//! groups. R4's copy of `v3-Confidentiality` still has the deprecated `ETH`, `HIV`, `PSY`, `SDV`;
//! they are read as the ActCode codes of the same name.
//!
//! Coverage (does a Consent provision label apply to a resource label?): equal codes; or the resource
//! code is a v3 descendant of the provision code (`SPI` ⊃ `BH` ⊃ `COGN`, `SUD` ⊃ `OPIOIDUD`); or the
//! provision code is a *head* of a group and the resource code is in that group (`MH` and `PSY` head
//! mental health, `SEX` heads sexual health, `ETH` and `SUD` head substance use). Heads make the
//! patient's plain choice ("mental health") cover every code a clinician may have used, while a
//! narrow provision (`PSYTHPN`, psychotherapy notes) stays narrow.

#[cfg(test)]
mod tests;

use crate::systems::{V3_ACT_CODE, V3_CONFIDENTIALITY};

/// A coding (`system` + `code`), as found in `meta.security`, `category` or a Consent provision.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coding {
    /// The code system URI (may be empty when the source had none).
    pub system: String,
    /// The code.
    pub code: String,
}

impl Coding {
    /// A coding from borrowed parts.
    pub fn new(system: &str, code: &str) -> Coding {
        Coding {
            system: system.to_owned(),
            code: code.to_owned(),
        }
    }

    /// A v3 ActCode sensitivity label (`Coding::act_code("HIV")`).
    pub fn act_code(code: &str) -> Coding {
        Coding::new(V3_ACT_CODE, code)
    }

    /// The ActCode code this label stands for, if it is a sensitivity code: ActCode itself, or a
    /// deprecated info-type code of v3-Confidentiality.
    fn sensitivity_code(&self) -> Option<&str> {
        let legacy = ["ETH", "HIV", "PSY", "SDV"];
        if self.system == V3_ACT_CODE
            || (self.system == V3_CONFIDENTIALITY && legacy.contains(&self.code.as_str()))
        {
            Some(self.code.as_str())
        } else {
            None
        }
    }
}

/// The four sensitive categories of issue 6, which the patient portal offers as choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sensitivity {
    /// Salud mental.
    MentalHealth,
    /// Salud sexual y reproductiva.
    SexualReproductive,
    /// VIH.
    Hiv,
    /// Consumo de sustancias.
    SubstanceUse,
}

impl Sensitivity {
    /// All four.
    pub const ALL: [Sensitivity; 4] = [
        Sensitivity::MentalHealth,
        Sensitivity::SexualReproductive,
        Sensitivity::Hiv,
        Sensitivity::SubstanceUse,
    ];

    /// The ActCode codes of the group.
    pub fn members(self) -> &'static [&'static str] {
        match self {
            Sensitivity::MentalHealth => &["MH", "PSY", "PSYTHPN", "BH", "COGN", "DVD", "EMOTDIS"],
            Sensitivity::SexualReproductive => &["SEX", "STD"],
            Sensitivity::Hiv => &["HIV"],
            Sensitivity::SubstanceUse => &["ETH", "SUD", "ETHUD", "OPIOIDUD"],
        }
    }

    /// The codes that stand for the whole group in a Consent provision.
    pub fn heads(self) -> &'static [&'static str] {
        match self {
            Sensitivity::MentalHealth => &["MH", "PSY"],
            Sensitivity::SexualReproductive => &["SEX"],
            Sensitivity::Hiv => &["HIV"],
            Sensitivity::SubstanceUse => &["ETH", "SUD"],
        }
    }

    /// The label a Consent written by our portal uses for the group.
    pub fn label(self) -> Coding {
        let code = self.heads().first().copied().unwrap_or("SPI");
        Coding::act_code(code)
    }

    /// The Spanish name shown to patients.
    pub fn label_es(self) -> &'static str {
        match self {
            Sensitivity::MentalHealth => "salud mental",
            Sensitivity::SexualReproductive => "salud sexual y reproductiva",
            Sensitivity::Hiv => "VIH",
            Sensitivity::SubstanceUse => "consumo de sustancias",
        }
    }

    /// The group a label belongs to, if any.
    pub fn of(label: &Coding) -> Option<Sensitivity> {
        let code = label.sensitivity_code()?;
        Sensitivity::ALL
            .into_iter()
            .find(|group| group.members().contains(&code))
    }
}

/// Parent of each ActCode sensitivity code that has one, from the R4 v3-ActCode hierarchy.
const PARENTS: &[(&str, &str)] = &[
    ("BH", "SPI"),
    ("MH", "SPI"),
    ("PSY", "SPI"),
    ("PSYTHPN", "SPI"),
    ("SUD", "SPI"),
    ("COGN", "BH"),
    ("DVD", "BH"),
    ("EMOTDIS", "BH"),
    ("ETHUD", "SUD"),
    ("OPIOIDUD", "SUD"),
];

fn is_descendant(code: &str, ancestor: &str) -> bool {
    let mut current = code;
    // The hierarchy is three levels deep; the bound guards against a future cycle in the table.
    for _ in 0..PARENTS.len() {
        match PARENTS.iter().find(|(child, _)| *child == current) {
            Some((_, parent)) if *parent == ancestor => return true,
            Some((_, parent)) => current = parent,
            None => return false,
        }
    }
    false
}

/// Whether a Consent provision's `securityLabel` applies to a resource carrying `resource_label`
/// (see the module docs for the rule).
pub fn covers(provision_label: &Coding, resource_label: &Coding) -> bool {
    match (
        provision_label.sensitivity_code(),
        resource_label.sensitivity_code(),
    ) {
        (Some(wanted), Some(have)) => {
            wanted == have
                || is_descendant(have, wanted)
                || Sensitivity::ALL
                    .into_iter()
                    .any(|group| group.heads().contains(&wanted) && group.members().contains(&have))
        }
        _ => provision_label == resource_label,
    }
}

/// Whether the labels mark the resource `V` (very restricted, v3-Confidentiality): then even
/// demographic reads need a care relationship.
pub fn is_very_restricted(labels: &[Coding]) -> bool {
    labels
        .iter()
        .any(|label| label.system == V3_CONFIDENTIALITY && label.code == "V")
}

/// What access control needs to know from a resource body: its security labels and its
/// `category` codings (for the nurse vital-signs rule). The patient compartment is *not* computed
/// here: the store already knows it from its reference index.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResourceFacts {
    /// `meta.security` codings.
    pub security_labels: Vec<Coding>,
    /// Codings of the top-level `category` element (a CodeableConcept or a list of them).
    pub categories: Vec<Coding>,
}

impl ResourceFacts {
    /// Extracts the facts from a parsed resource. Never fails: missing or ill-typed elements are
    /// simply absent (validation is the `fhir` crate's job).
    pub fn from_value(resource: &serde_json::Value) -> ResourceFacts {
        let security_labels = resource
            .get("meta")
            .and_then(|meta| meta.get("security"))
            .map(codings_of_list)
            .unwrap_or_default();
        let categories = match resource.get("category") {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .flat_map(|item| codings_of_list(item.get("coding").unwrap_or(&NULL)))
                .collect(),
            Some(concept) => codings_of_list(concept.get("coding").unwrap_or(&NULL)),
            None => Vec::new(),
        };
        ResourceFacts {
            security_labels,
            categories,
        }
    }

    /// Extracts the facts from JSON text; `None` when the text is not JSON.
    pub fn from_json(text: &str) -> Option<ResourceFacts> {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .map(|value| ResourceFacts::from_value(&value))
    }
}

static NULL: serde_json::Value = serde_json::Value::Null;

/// Codings of a JSON array of Coding objects (anything else gives none).
pub(crate) fn codings_of_list(value: &serde_json::Value) -> Vec<Coding> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(coding_of).collect())
        .unwrap_or_default()
}

pub(crate) fn coding_of(value: &serde_json::Value) -> Option<Coding> {
    let code = value.get("code")?.as_str()?;
    let system = value
        .get("system")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    Some(Coding::new(system, code))
}
