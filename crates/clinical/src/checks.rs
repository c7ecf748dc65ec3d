//! Prescribing checks: given a patient's allergies and active medications (FHIR JSON) and a
//! proposed prescription (CNIS key + structured dose), the findings the prescriber must see.
//!
//! Every finding has a stable `code` (the override reason is recorded against it), a severity,
//! a Spanish and an English message, and the source of its rule. Overrides are the caller's job:
//! a [`Severity::Block`] finding needs a recorded reason before signing, a [`Severity::Warning`]
//! an acknowledgement, an [`Severity::Info`] nothing.

use serde::Serialize;
use serde_json::Value;

use crate::classes::{self, DrugClass};
use crate::dose;
use crate::fhir_input::{self, ActiveMedication, AllergyRecord, Criticality, Verification};
use crate::formulary::{self, KeyStatus, Medicine, Route};
use crate::interactions::{self, InteractionSeverity};

/// How the UI must treat a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Severity {
    /// Shown; no action needed.
    Info,
    /// Shown; the prescriber acknowledges it.
    Warning,
    /// Not signed without an override reason, which is recorded with the finding's code.
    Block,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum FindingKind {
    /// The patient is allergic to the drug, its class, or a cross-reactive class.
    Allergy,
    /// The same ingredient is already active.
    DuplicateIngredient,
    /// Another drug of the same class is already active.
    DuplicateClass,
    /// A reviewed drug–drug interaction.
    Interaction,
    /// The daily dose is above the sourced maximum.
    Dose,
    /// About the formulary entry itself (an unverified key).
    Formulary,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable code, e.g. `ALLERGY-CLASS-NSAID`, `DUP-INGREDIENT-METFORMINA`, `DDI-VKA-NSAID`,
    /// `DOSE-DAILY-MAX-PARACETAMOL`. The override reason is recorded against it.
    pub code: String,
    /// Kind.
    pub kind: FindingKind,
    /// Severity.
    pub severity: Severity,
    /// Message for the clinician, es-MX.
    pub message_es: String,
    /// Message, English.
    pub message_en: String,
    /// Source of the rule.
    pub source: &'static str,
    /// `id` of the `AllergyIntolerance` or `MedicationRequest` involved, when known.
    pub related_id: Option<String>,
}

/// The dose of one administration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub enum DoseAmount {
    /// Milligrams.
    Mg(f64),
    /// Units of the medicine's dose unit (tablets, mL, puffs, IU; see `Medicine::dose_unit`).
    DoseUnits(f64),
}

/// A proposed prescription, as the prescribing form structures it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ProposedPrescription {
    /// CNIS key (`010.000.0104.00`).
    pub cnis_key: String,
    /// Amount per administration.
    pub dose: DoseAmount,
    /// Administrations per day (every 8 h = 3; once a week = 1/7).
    pub times_per_day: f64,
    /// Duration in days, if set.
    pub duration_days: Option<u32>,
}

/// What the checks need to know about the patient beyond FHIR resources.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct PatientFacts {
    /// Age in completed years.
    pub age_years: Option<u32>,
    /// Most recent weight (kg).
    pub weight_kg: Option<f64>,
}

/// Why the checks could not run. `Display` is English; `message_es()` for the UI.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// The key is not in the formulary.
    #[error("CNIS key {key:?} is not in the formulary")]
    UnknownKey {
        /// The key as given.
        key: String,
    },
    /// Dose or frequency is not a positive finite number.
    #[error("the dose and the times per day must be positive numbers")]
    InvalidDose,
}

impl CheckError {
    /// English message (same as `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }

    /// Spanish (es-MX) message.
    pub fn message_es(&self) -> String {
        match self {
            CheckError::UnknownKey { key } => {
                format!("La clave CNIS «{key}» no está en el cuadro básico.")
            }
            CheckError::InvalidDose => {
                "La dosis y el número de tomas al día deben ser números mayores que cero."
                    .to_owned()
            }
        }
    }
}

/// Source for same-ingredient allergy matches.
pub const SOURCE_SAME_SUBSTANCE: &str =
    "Expediente: la sustancia prescrita es la registrada en la alergia";
/// Source for penicillin cross-reactivity rules.
pub const SOURCE_BETALACTAM: &str = "Khan DA et al. Drug allergy: a 2022 practice parameter update (AAAAI/ACAAI). J Allergy Clin Immunol 2022;150(6):1333-1393";
/// Source for NSAID cross-reactivity.
pub const SOURCE_NSAID: &str = "Kowalski ML et al. Classification and practical approach to the diagnosis and management of hypersensitivity to nonsteroidal anti-inflammatory drugs (EAACI/ENDA). Allergy 2013;68(10):1219-1232";
/// Source for sulfonamide non-cross-reactivity.
pub const SOURCE_SULFONAMIDE: &str = "Strom BL et al. Absence of cross-reactivity between sulfonamide antibiotics and sulfonamide nonantibiotics. N Engl J Med 2003;349:1628-1635";
/// Source for the conservative same-class rule of other classes (ours).
pub const SOURCE_SAME_CLASS: &str =
    "Expediente: regla conservadora, misma clase farmacológica que la alergia registrada";
/// Source for duplicate-therapy findings (ours).
pub const SOURCE_DUPLICATE: &str =
    "Expediente: conciliación de medicamentos, una línea por fármaco activo";
/// Source for the unverified-key notice.
pub const SOURCE_FORMULARY: &str = "Expediente: clave CNIS no verificada contra una edición del Compendio (crates/clinical/README.md)";

/// SNOMED CT substance codes recorded as allergies that name a whole class (the generator's).
const SNOMED_CLASSES: &[(&str, DrugClass)] = &[
    ("764146007", DrugClass::Penicillin),
    ("387406002", DrugClass::SulfonamideAntibacterial),
    ("372665008", DrugClass::Nsaid),
];

/// How an allergy to one class bears on a drug of another (or the same) class.
struct CrossRule {
    allergy: DrugClass,
    drug: DrugClass,
    severity: Severity,
    why_es: &'static str,
    why_en: &'static str,
    source: &'static str,
}

const CROSS_RULES: &[CrossRule] = &[
    CrossRule {
        allergy: DrugClass::Penicillin,
        drug: DrugClass::Penicillin,
        severity: Severity::Block,
        why_es: "las penicilinas comparten el anillo betalactámico y tienen reactividad cruzada",
        why_en: "penicillins share the beta-lactam ring and cross-react",
        source: SOURCE_BETALACTAM,
    },
    CrossRule {
        allergy: DrugClass::Penicillin,
        drug: DrugClass::Cephalosporin,
        severity: Severity::Warning,
        why_es: "reactividad cruzada baja (alrededor de 2 %) con cefalosporinas, mayor si comparten la cadena lateral R1",
        why_en: "low cross-reactivity (about 2%) with cephalosporins, higher when they share the R1 side chain",
        source: SOURCE_BETALACTAM,
    },
    CrossRule {
        allergy: DrugClass::Cephalosporin,
        drug: DrugClass::Penicillin,
        severity: Severity::Warning,
        why_es: "reactividad cruzada baja entre cefalosporinas y penicilinas, mayor si comparten la cadena lateral R1",
        why_en: "low cross-reactivity between cephalosporins and penicillins, higher with a shared R1 side chain",
        source: SOURCE_BETALACTAM,
    },
    CrossRule {
        allergy: DrugClass::Cephalosporin,
        drug: DrugClass::Cephalosporin,
        severity: Severity::Warning,
        why_es: "la reactividad cruzada entre cefalosporinas depende de sus cadenas laterales",
        why_en: "cross-reactivity among cephalosporins depends on their side chains",
        source: SOURCE_BETALACTAM,
    },
    CrossRule {
        allergy: DrugClass::Nsaid,
        drug: DrugClass::Nsaid,
        severity: Severity::Block,
        why_es: "la hipersensibilidad a AINE suele ser cruzada entre inhibidores de la COX-1 (incluido el ácido acetilsalicílico y el metamizol)",
        why_en: "NSAID hypersensitivity is usually cross-reactive among COX-1 inhibitors (including aspirin and metamizole)",
        source: SOURCE_NSAID,
    },
    CrossRule {
        allergy: DrugClass::SulfonamideAntibacterial,
        drug: DrugClass::SulfonamideAntibacterial,
        severity: Severity::Block,
        why_es: "misma clase (sulfonamidas antibacterianas)",
        why_en: "same class (sulfonamide antibacterials)",
        source: SOURCE_SAME_CLASS,
    },
    CrossRule {
        allergy: DrugClass::SulfonamideAntibacterial,
        drug: DrugClass::SulfonamideNonAntibacterial,
        severity: Severity::Info,
        why_es: "es una sulfonamida no antibiótica; no se ha demostrado reactividad cruzada con las sulfas antibióticas",
        why_en: "it is a non-antibiotic sulfonamide; cross-reactivity with sulfonamide antibiotics has not been shown",
        source: SOURCE_SULFONAMIDE,
    },
    CrossRule {
        allergy: DrugClass::Macrolide,
        drug: DrugClass::Macrolide,
        severity: Severity::Warning,
        why_es: "misma clase (macrólidos)",
        why_en: "same class (macrolides)",
        source: SOURCE_SAME_CLASS,
    },
    CrossRule {
        allergy: DrugClass::Fluoroquinolone,
        drug: DrugClass::Fluoroquinolone,
        severity: Severity::Warning,
        why_es: "misma clase (fluoroquinolonas)",
        why_en: "same class (fluoroquinolones)",
        source: SOURCE_SAME_CLASS,
    },
    CrossRule {
        allergy: DrugClass::Tetracycline,
        drug: DrugClass::Tetracycline,
        severity: Severity::Warning,
        why_es: "misma clase (tetraciclinas)",
        why_en: "same class (tetracyclines)",
        source: SOURCE_SAME_CLASS,
    },
];

/// Ingredient pairs sharing an identical R1 side chain (allergy to the first, drug the second).
const SHARED_R1: &[(&str, &str)] = &[("amoxicilina", "cefalexina"), ("ampicilina", "cefalexina")];

fn upper_id(text: &str) -> String {
    text.to_uppercase().replace(' ', "-")
}

fn class_code(class: DrugClass) -> String {
    upper_id(&format!("{class:?}"))
}

/// What an allergy record names: ingredients and classes.
fn allergens(record: &AllergyRecord) -> (Vec<&'static str>, Vec<DrugClass>) {
    let mut ingredients: Vec<&'static str> = record
        .texts
        .iter()
        .flat_map(|t| classes::ingredients_in_text(t))
        .map(|i| i.id)
        .collect();
    ingredients.sort_unstable();
    ingredients.dedup();
    let mut named: Vec<DrugClass> = record
        .texts
        .iter()
        .flat_map(|t| classes::classes_in_text(t))
        .chain(
            SNOMED_CLASSES
                .iter()
                .filter(|(code, _)| record.snomed.iter().any(|c| c == code))
                .map(|(_, class)| *class),
        )
        .collect();
    named.sort_unstable();
    named.dedup();
    (ingredients, named)
}

fn allergy_status_es(record: &AllergyRecord) -> &'static str {
    match record.verification {
        Verification::Confirmed => "",
        _ => " (alergia no confirmada)",
    }
}

fn allergy_status_en(record: &AllergyRecord) -> &'static str {
    match record.verification {
        Verification::Confirmed => "",
        _ => " (unconfirmed allergy)",
    }
}

fn allergy_findings(medicine: &Medicine, records: &[AllergyRecord]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let drug_ingredients = medicine.ingredients();
    let drug_classes = medicine.classes();
    for record in records {
        if !record.active
            || record.no_known_allergy
            || matches!(
                record.verification,
                Verification::Refuted | Verification::EnteredInError
            )
        {
            continue;
        }
        let (allergic_ingredients, allergic_classes) = allergens(record);
        let label = if record.label.is_empty() {
            "sin descripción"
        } else {
            record.label.as_str()
        };
        let mut push = |code: String, severity: Severity, es: String, en: String, source| {
            let severity =
                if record.criticality == Criticality::High && severity == Severity::Warning {
                    Severity::Block
                } else {
                    severity
                };
            findings.push(Finding {
                code,
                kind: FindingKind::Allergy,
                severity,
                message_es: format!("{es}{}", allergy_status_es(record)),
                message_en: format!("{en}{}", allergy_status_en(record)),
                source,
                related_id: record.id.clone(),
            });
        };
        // 1. The same substance.
        if let Some(same) = drug_ingredients
            .iter()
            .find(|i| allergic_ingredients.contains(&i.id))
        {
            push(
                format!("ALLERGY-INGREDIENT-{}", upper_id(same.id)),
                Severity::Block,
                format!(
                    "Alergia registrada a {label}: {} contiene {}.",
                    medicine.generic, same.name_es
                ),
                format!(
                    "Recorded allergy to {label}: {} contains {}.",
                    medicine.generic, same.name_en
                ),
                SOURCE_SAME_SUBSTANCE,
            );
            continue;
        }
        // 2. A shared R1 side chain (amoxicillin allergy, cefalexin).
        if let Some((allergic, drug)) = SHARED_R1.iter().find(|(a, d)| {
            allergic_ingredients.contains(a) && drug_ingredients.iter().any(|i| i.id == *d)
        }) {
            push(
                format!("ALLERGY-R1-{}-{}", upper_id(allergic), upper_id(drug)),
                Severity::Block,
                format!(
                    "Alergia registrada a {label}: {} comparte la cadena lateral R1 y tiene reactividad cruzada.",
                    medicine.generic
                ),
                format!(
                    "Recorded allergy to {label}: {} shares the R1 side chain and cross-reacts.",
                    medicine.generic
                ),
                SOURCE_BETALACTAM,
            );
            continue;
        }
        // 3. The class named by the allergy, or the class of the allergic ingredient.
        let mut classes_of_allergy: Vec<DrugClass> = allergic_classes.clone();
        for id in &allergic_ingredients {
            if let Some(ingredient) = classes::ingredient(id) {
                classes_of_allergy.extend(ingredient.classes.iter().copied());
            }
        }
        let mut best: Option<(Severity, String, String, String, &'static str)> = None;
        for allergy_class in classes_of_allergy {
            for rule in CROSS_RULES
                .iter()
                .filter(|r| r.allergy == allergy_class && drug_classes.contains(&r.drug))
            {
                let (code, es, en) = if rule.allergy == rule.drug {
                    (
                        format!("ALLERGY-CLASS-{}", class_code(rule.drug)),
                        format!(
                            "Alergia registrada a {label}: {} es de la misma clase ({}); {}.",
                            medicine.generic,
                            rule.drug.name_es(),
                            rule.why_es
                        ),
                        format!(
                            "Recorded allergy to {label}: {} is of the same class ({}); {}.",
                            medicine.generic,
                            rule.drug.name_en(),
                            rule.why_en
                        ),
                    )
                } else {
                    (
                        format!(
                            "ALLERGY-CROSS-{}-{}",
                            class_code(rule.allergy),
                            class_code(rule.drug)
                        ),
                        format!(
                            "Alergia registrada a {label}: {} ({}); {}.",
                            medicine.generic,
                            rule.drug.name_es(),
                            rule.why_es
                        ),
                        format!(
                            "Recorded allergy to {label}: {} ({}); {}.",
                            medicine.generic,
                            rule.drug.name_en(),
                            rule.why_en
                        ),
                    )
                };
                if best.as_ref().is_none_or(|b| rule.severity > b.0) {
                    best = Some((rule.severity, code, es, en, rule.source));
                }
            }
        }
        if let Some((severity, code, es, en, source)) = best {
            push(code, severity, es, en, source);
        }
    }
    findings
}

fn duplicate_findings(medicine: &Medicine, active: &[ActiveMedication]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let drug_classes = medicine.classes();
    for current in active {
        if let Some(same) = medicine
            .ingredient_ids
            .iter()
            .find(|id| current.ingredient_ids.contains(id))
        {
            let name = classes::ingredient(same).map_or(*same, |i| i.name_es);
            let name_en = classes::ingredient(same).map_or(*same, |i| i.name_en);
            findings.push(Finding {
                code: format!("DUP-INGREDIENT-{}", upper_id(same)),
                kind: FindingKind::DuplicateIngredient,
                severity: Severity::Warning,
                message_es: format!(
                    "Ya tiene activo {} ({name}). Suspenda o cambie el actual en lugar de duplicarlo.",
                    current.label
                ),
                message_en: format!(
                    "{} ({name_en}) is already active. Stop or change it instead of duplicating it.",
                    current.label
                ),
                source: SOURCE_DUPLICATE,
                related_id: current.id.clone(),
            });
            continue;
        }
        let current_classes: Vec<DrugClass> = current
            .ingredient_ids
            .iter()
            .filter_map(|id| classes::ingredient(id))
            .flat_map(|i| i.classes.iter().copied())
            .collect();
        if let Some(class) = drug_classes
            .iter()
            .find(|c| c.duplicate_is_warned() && current_classes.contains(c))
        {
            findings.push(Finding {
                code: format!("DUP-CLASS-{}", class_code(*class)),
                kind: FindingKind::DuplicateClass,
                severity: Severity::Warning,
                message_es: format!(
                    "Ya tiene activo {}, de la misma clase ({}). ¿Es un cambio de tratamiento?",
                    current.label,
                    class.name_es()
                ),
                message_en: format!(
                    "{} is already active, of the same class ({}). Is this a change of treatment?",
                    current.label,
                    class.name_en()
                ),
                source: SOURCE_DUPLICATE,
                related_id: current.id.clone(),
            });
        }
    }
    findings
}

fn interaction_findings(medicine: &Medicine, active: &[ActiveMedication]) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    let proposed: Vec<(&str, &[DrugClass])> = medicine
        .ingredients()
        .iter()
        .map(|i| (i.id, i.classes))
        .collect();
    for current in active {
        let current_ingredients: Vec<(&str, &[DrugClass])> = current
            .ingredient_ids
            .iter()
            .filter_map(|id| classes::ingredient(id))
            .map(|i| (i.id, i.classes))
            .collect();
        for row in interactions::INTERACTIONS {
            let hit = proposed.iter().any(|&(p_id, p_classes)| {
                current_ingredients.iter().any(|&(c_id, c_classes)| {
                    let ab = row.a.iter().any(|s| s.selects(p_id, p_classes))
                        && row.b.iter().any(|s| s.selects(c_id, c_classes));
                    let ba = row.b.iter().any(|s| s.selects(p_id, p_classes))
                        && row.a.iter().any(|s| s.selects(c_id, c_classes));
                    ab || ba
                })
            });
            let already = findings
                .iter()
                .any(|f| f.code == row.code && f.related_id == current.id);
            if hit && !already {
                findings.push(Finding {
                    code: row.code.to_owned(),
                    kind: FindingKind::Interaction,
                    severity: match row.severity {
                        InteractionSeverity::Contraindicated => Severity::Block,
                        InteractionSeverity::Major => Severity::Warning,
                        InteractionSeverity::Moderate => Severity::Info,
                    },
                    message_es: format!(
                        "{} con {} (activo): {}",
                        medicine.generic, current.label, row.message_es
                    ),
                    message_en: format!(
                        "{} with {} (active): {}",
                        medicine.generic, current.label, row.message_en
                    ),
                    source: row.source,
                    related_id: current.id.clone(),
                });
            }
        }
    }
    findings
}

fn format_mg(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn dose_findings(
    medicine: &Medicine,
    proposed: &ProposedPrescription,
    patient: PatientFacts,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let per_administration_mg = match (proposed.dose, medicine.mg_per_dose_unit) {
        (DoseAmount::Mg(mg), _) => mg,
        (DoseAmount::DoseUnits(units), Some(mg_per_unit)) => units * mg_per_unit,
        (DoseAmount::DoseUnits(_), None) => return findings,
    };
    let daily_mg = per_administration_mg * proposed.times_per_day;
    let enteral = matches!(
        medicine.route,
        Route::Oral | Route::Sublingual | Route::Rectal
    );
    let Some(ingredient) = medicine.ingredient_ids.first() else {
        return findings;
    };
    let Some(limit) = dose::dose_limit(ingredient).filter(|l| enteral || l.any_route) else {
        return findings;
    };
    let child = patient
        .age_years
        .is_some_and(|a| a < dose::ADULT_AGE_YEARS_MIN)
        && patient
            .weight_kg
            .is_some_and(|w| w > 0.0 && w < dose::CHILD_WEIGHT_KG_MAX);
    if let (true, Some(per_kg_max), Some(weight)) =
        (child, limit.child_mg_per_kg_day_max, patient.weight_kg)
    {
        let per_kg = daily_mg / weight;
        if per_kg > per_kg_max + 1e-9 {
            findings.push(Finding {
                code: format!("DOSE-MG-KG-MAX-{}", upper_id(ingredient)),
                kind: FindingKind::Dose,
                severity: Severity::Block,
                message_es: format!(
                    "{}: {} mg/día son {} mg/kg/día para {} kg; el máximo es {} mg/kg/día.",
                    medicine.generic,
                    format_mg(daily_mg),
                    format_mg(per_kg),
                    format_mg(weight),
                    format_mg(per_kg_max)
                ),
                message_en: format!(
                    "{}: {} mg/day is {} mg/kg/day for {} kg; the maximum is {} mg/kg/day.",
                    medicine.generic,
                    format_mg(daily_mg),
                    format_mg(per_kg),
                    format_mg(weight),
                    format_mg(per_kg_max)
                ),
                source: limit.source,
                related_id: None,
            });
        }
    }
    if let Some(max) = limit.adult_mg_per_day_max
        && daily_mg > max + 1e-9
    {
        findings.push(Finding {
            code: format!("DOSE-DAILY-MAX-{}", upper_id(ingredient)),
            kind: FindingKind::Dose,
            severity: Severity::Block,
            message_es: format!(
                "{}: {} mg al día superan el máximo de {} mg/día.",
                medicine.generic,
                format_mg(daily_mg),
                format_mg(max)
            ),
            message_en: format!(
                "{}: {} mg a day exceeds the maximum of {} mg/day.",
                medicine.generic,
                format_mg(daily_mg),
                format_mg(max)
            ),
            source: limit.source,
            related_id: None,
        });
    }
    findings
}

/// Runs every check for a proposed prescription against the patient's recorded allergies
/// (`AllergyIntolerance` JSON) and medications (`MedicationRequest` JSON; only `active` ones
/// count). Resources of other types, refuted or entered-in-error allergies, "no known allergy"
/// records and inactive requests are ignored. Findings come most severe first; within a
/// severity, in the order allergy, duplicate, interaction, dose, formulary.
pub fn check_prescription(
    proposed: &ProposedPrescription,
    allergies: &[Value],
    medications: &[Value],
    patient: PatientFacts,
) -> Result<Vec<Finding>, CheckError> {
    let medicine =
        formulary::medicine(&proposed.cnis_key).ok_or_else(|| CheckError::UnknownKey {
            key: proposed.cnis_key.clone(),
        })?;
    let amount = match proposed.dose {
        DoseAmount::Mg(v) | DoseAmount::DoseUnits(v) => v,
    };
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !(positive(amount) && positive(proposed.times_per_day)) {
        return Err(CheckError::InvalidDose);
    }
    let records: Vec<AllergyRecord> = allergies
        .iter()
        .filter_map(fhir_input::read_allergy)
        .collect();
    let active: Vec<ActiveMedication> = medications
        .iter()
        .filter_map(fhir_input::read_active_medication)
        .collect();
    let mut findings = allergy_findings(medicine, &records);
    findings.extend(duplicate_findings(medicine, &active));
    findings.extend(interaction_findings(medicine, &active));
    findings.extend(dose_findings(medicine, proposed, patient));
    if medicine.key_status == KeyStatus::Unverified {
        findings.push(Finding {
            code: "FORMULARY-KEY-UNVERIFIED".to_owned(),
            kind: FindingKind::Formulary,
            severity: Severity::Info,
            message_es: format!(
                "La clave {} no está verificada contra el Compendio Nacional de Insumos.",
                medicine.key
            ),
            message_en: format!(
                "Key {} has not been verified against the national formulary (CNIS).",
                medicine.key
            ),
            source: SOURCE_FORMULARY,
            related_id: None,
        });
    }
    findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
    Ok(findings)
}

#[cfg(test)]
mod tests;
