//! Prescribing from the formulary: the rows of the prescription form, resolving what was typed
//! to a CNIS key, the structured dose, the checks of `clinical::checks` with what each finding
//! requires (a reason to override a block, an acknowledgement of a warning), and the FHIR
//! written for a signed row: a `MedicationRequest` with `dosageInstruction`, quantity and
//! duration, and a `DetectedIssue` per overridden or acknowledged finding, with the reason.
//!
//! Why findings become `DetectedIssue`s: FHIR's own resource for "a clinical issue was detected
//! and this is how it was managed" (`mitigation`), referenced from the request
//! (`MedicationRequest.detectedIssue`), searchable per patient and kept with history. The
//! override is then part of the record that other clinics and auditors read, not a UI log.
//!
//! Renewal: a drug already active that is prescribed again raises the duplicate-ingredient
//! warning; acknowledging it renews the prescription — the earlier active requests of that
//! ingredient are stopped in the same transaction, and the new one names the latest as its
//! `priorPrescription` — so the medication list keeps one line per drug.

use clinical::checks::{
    DoseAmount, Finding, FindingKind, PatientFacts, ProposedPrescription, Severity,
};
use clinical::formulary::{Medicine, search_formulary};
use serde_json::{Value, json};

/// Prescription rows shown on an empty form.
pub const RX_ROWS_MIN: usize = 3;

/// Prescription rows one note may carry.
pub const RX_ROWS_MAX: usize = 10;

/// Intervals a dose can be given at, in hours (every 4 h to once a week).
pub const EVERY_HOURS: &[u32] = &[4, 6, 8, 12, 24, 48, 72, 168];

/// Longest course one prescription covers (a chronic drug is renewed at least yearly).
pub const DURATION_DAYS_MAX: u32 = 365;

/// Most dose units one administration can be (40 mL of a suspension, a few tablets).
pub const DOSE_UNITS_MAX: f64 = 100.0;

/// Shortest override reason accepted: a reviewer must be able to understand it.
pub const OVERRIDE_CHARS_MIN: usize = 10;

/// Longest free text of a row (instructions, override reason).
pub const ROW_TEXT_CHARS_MAX: usize = 300;

/// Choices offered when what was typed matches several formulary entries.
pub const MEDICINE_CHOICES_MAX: usize = 8;

/// The code system of the findings' stable codes (`ALLERGY-CLASS-NSAID`, `DDI-…`).
pub const FINDING_CODE_SYSTEM: &str =
    "https://expediente.salud.gob.mx/fhir/CodeSystem/hallazgo-prescripcion";

/// One prescription row as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RxRow {
    /// What was typed in the medicine field (a CNIS key when picked from the list).
    pub med: String,
    /// Dose units per administration.
    pub dose: String,
    /// Hours between administrations.
    pub every: String,
    /// Duration in days.
    pub days: String,
    /// Instructions for the patient.
    pub notes: String,
    /// The reason to prescribe despite a blocking finding.
    pub override_reason: String,
    /// The warnings were acknowledged.
    pub ack: bool,
}

impl RxRow {
    pub fn is_blank(&self) -> bool {
        self.med.trim().is_empty()
    }
}

/// Reads rows `rx_med_N` … for N in 1..=[`RX_ROWS_MAX`]; a row chosen from several
/// presentations (`rx_choose=N:key`) takes that key.
pub fn rows_from_pairs(pairs: &[(String, String)]) -> Vec<RxRow> {
    let field = |name: String| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut rows: Vec<RxRow> = (1..=RX_ROWS_MAX)
        .map(|n| RxRow {
            med: field(format!("rx_med_{n}")),
            dose: field(format!("rx_dose_{n}")),
            every: field(format!("rx_every_{n}")),
            days: field(format!("rx_days_{n}")),
            notes: field(format!("rx_notes_{n}")),
            override_reason: field(format!("rx_override_{n}")),
            ack: !field(format!("rx_ack_{n}")).is_empty(),
        })
        .collect();
    if let Some((_, chosen)) = pairs.iter().find(|(k, _)| k == "rx_choose")
        && let Some((n, key)) = chosen.split_once(':')
        && let Ok(n) = n.parse::<usize>()
        && let Some(row) = n.checked_sub(1).and_then(|idx| rows.get_mut(idx))
    {
        row.med = key.to_string();
    }
    while rows.len() > RX_ROWS_MIN && rows.last().is_some_and(|r| *r == RxRow::default()) {
        rows.pop();
    }
    rows
}

/// What the medicine field resolves to.
#[derive(Clone, Debug)]
pub enum Resolved {
    Medicine(&'static Medicine),
    /// Several presentations match: the prescriber picks one.
    Ambiguous(Vec<&'static Medicine>),
    Unknown,
}

/// Words of a medicine query that name units or forms, not the drug.
const NOT_DRUG_WORDS: &[&str] = &[
    "mg",
    "g",
    "ml",
    "mcg",
    "ui",
    "tableta",
    "tabletas",
    "tab",
    "capsula",
    "capsulas",
    "jarabe",
    "suspension",
    "solucion",
    "ampolleta",
    "de",
    "en",
];

/// Resolves what was typed: a CNIS key (full or the four-digit shorthand), the display of an
/// entry, or a search of generic names; a strength typed with the name narrows the search.
pub fn resolve(text: &str) -> Resolved {
    let text = text.trim();
    if text.is_empty() {
        return Resolved::Unknown;
    }
    if let Some(medicine) = clinical::formulary::medicine(text) {
        return Resolved::Medicine(medicine);
    }
    if let Some(medicine) = clinical::formulary::FORMULARY
        .iter()
        .find(|m| m.display().eq_ignore_ascii_case(text))
    {
        return Resolved::Medicine(medicine);
    }
    let mut found = search_formulary(text);
    if found.is_empty() {
        let folded = fold(text);
        let words: Vec<&str> = folded
            .split(' ')
            .filter(|w| w.len() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
            .filter(|w| !NOT_DRUG_WORDS.contains(w))
            .collect();
        if !words.is_empty() {
            found = search_formulary(&words.join(" "));
        }
        let numbers: Vec<&str> = folded
            .split(' ')
            .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .collect();
        if found.len() > 1 && !numbers.is_empty() {
            let narrowed: Vec<&'static Medicine> = found
                .iter()
                .copied()
                .filter(|m| {
                    numbers.iter().all(|n| {
                        m.strength
                            .split(|c: char| !c.is_ascii_digit() && c != '.')
                            .any(|p| p == *n)
                    })
                })
                .collect();
            if !narrowed.is_empty() {
                found = narrowed;
            }
        }
    }
    match found.len() {
        0 => Resolved::Unknown,
        1 => Resolved::Medicine(found[0]),
        _ => {
            found.truncate(MEDICINE_CHOICES_MAX);
            Resolved::Ambiguous(found)
        }
    }
}

/// Lowercase ASCII letters, digits and single spaces (accents dropped).
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' | 'ë' => 'e',
            'í' | 'ì' | 'ï' => 'i',
            'ó' | 'ò' | 'ö' => 'o',
            'ú' | 'ù' | 'ü' => 'u',
            'ñ' => 'n',
            c => c,
        };
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim().to_string()
}

/// A dose as typed: `1`, `0.5`, `1,5`, `1/2`, `½`.
pub fn parse_dose(text: &str) -> Option<f64> {
    let text = text.trim().replace(',', ".");
    let value = match text.as_str() {
        "½" => 0.5,
        "¼" => 0.25,
        "¾" => 0.75,
        _ => match text.split_once('/') {
            Some((a, b)) => a.trim().parse::<f64>().ok()? / b.trim().parse::<f64>().ok()?,
            None => text.parse::<f64>().ok()?,
        },
    };
    (value.is_finite() && value > 0.0 && value <= DOSE_UNITS_MAX).then_some(value)
}

/// A row checked against the formulary and the patient.
#[derive(Clone, Debug)]
pub struct CheckedRx {
    /// 1-based row number (field names).
    pub n: usize,
    pub row: RxRow,
    pub medicine: Option<&'static Medicine>,
    /// Presentations to choose from when what was typed matched several.
    pub choices: Vec<&'static Medicine>,
    pub dose: Option<f64>,
    pub every_h: Option<u32>,
    pub days: Option<u32>,
    /// Problems with what was typed (es, en), shown on the row.
    pub errors: Vec<(String, String)>,
    /// The checks' findings, most severe first.
    pub findings: Vec<Finding>,
    /// Active requests of the same ingredient that this prescription renews.
    pub renews: Vec<String>,
}

impl CheckedRx {
    pub fn needs_override(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Block)
    }

    pub fn needs_ack(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Warning)
    }

    /// Why the row cannot be signed yet (es, en), or nothing.
    pub fn holds(&self) -> Vec<(String, String)> {
        let mut out = self.errors.clone();
        if self.needs_override() && !override_reason_ok(&self.row.override_reason) {
            out.push((
                format!(
                    "Receta {}: escriba el motivo para prescribir a pesar de la alerta (al menos {OVERRIDE_CHARS_MIN} caracteres).",
                    self.n
                ),
                format!(
                    "Prescription {}: write the reason to prescribe despite the alert (at least {OVERRIDE_CHARS_MIN} characters).",
                    self.n
                ),
            ));
        }
        if self.needs_ack() && !self.row.ack {
            out.push((
                format!("Receta {}: confirme que leyó las advertencias.", self.n),
                format!("Prescription {}: confirm you read the warnings.", self.n),
            ));
        }
        out
    }

    /// Severity class of a finding, for the page.
    pub fn css(finding: &Finding) -> &'static str {
        match finding.severity {
            Severity::Block => "block",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// Every active request of the ingredient this renews (the duplicate warning's target).
    fn renewal_targets(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.kind == FindingKind::DuplicateIngredient)
            .filter_map(|f| f.related_id.clone())
            .collect()
    }
}

fn override_reason_ok(reason: &str) -> bool {
    let reason = reason.trim();
    reason.chars().count() >= OVERRIDE_CHARS_MIN && reason.split_whitespace().count() >= 2
}

/// A stand-in active MedicationRequest for a row earlier in the same prescription, so that
/// duplicates and interactions between new rows are found too.
fn proposed_as_request(medicine: &Medicine) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{"system": mexico::systems::CNIS, "code": medicine.key}],
            "text": medicine.generic
        }
    })
}

/// Checks every filled row: the medicine, the dose, and the prescribing checks against the
/// patient's allergies and active medications (and the rows above it).
pub fn check_rows(
    rows: &[RxRow],
    allergies: &[Value],
    medications: &[Value],
    patient: PatientFacts,
) -> Vec<CheckedRx> {
    let mut out = Vec::new();
    let mut earlier: Vec<Value> = Vec::new();
    for (idx, row) in rows.iter().enumerate() {
        if row.is_blank() {
            continue;
        }
        let n = idx + 1;
        let mut checked = CheckedRx {
            n,
            row: row.clone(),
            medicine: None,
            choices: Vec::new(),
            dose: None,
            every_h: None,
            days: None,
            errors: Vec::new(),
            findings: Vec::new(),
            renews: Vec::new(),
        };
        let mut error = |es: String, en: String| checked.errors.push((es, en));
        match resolve(&row.med) {
            Resolved::Medicine(medicine) => checked.medicine = Some(medicine),
            Resolved::Ambiguous(choices) => {
                error(
                    format!("Receta {n}: hay varias presentaciones; elija una."),
                    format!("Prescription {n}: several presentations match; pick one."),
                );
                checked.choices = choices;
            }
            Resolved::Unknown => error(
                format!(
                    "Receta {n}: «{}» no está en el cuadro básico; escriba el nombre genérico o la clave CNIS.",
                    row.med.trim()
                ),
                format!(
                    "Prescription {n}: '{}' is not in the formulary; type the generic name or the CNIS key.",
                    row.med.trim()
                ),
            ),
        }
        let unit = checked.medicine.map_or("unidades", |m| m.dose_unit.0);
        checked.dose = parse_dose(&row.dose);
        if checked.dose.is_none() {
            error(
                format!(
                    "Receta {n}: escriba la dosis (cuántas {unit} por toma, hasta {DOSE_UNITS_MAX})."
                ),
                format!(
                    "Prescription {n}: type the dose (how many {unit} per administration, up to {DOSE_UNITS_MAX})."
                ),
            );
        }
        checked.every_h = row
            .every
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|h| EVERY_HOURS.contains(h));
        if checked.every_h.is_none() {
            error(
                format!("Receta {n}: elija cada cuántas horas."),
                format!("Prescription {n}: choose how many hours apart."),
            );
        }
        checked.days = row
            .days
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=DURATION_DAYS_MAX).contains(d));
        if checked.days.is_none() {
            error(
                format!("Receta {n}: escriba la duración en días (1 a {DURATION_DAYS_MAX})."),
                format!("Prescription {n}: type the duration in days (1 to {DURATION_DAYS_MAX})."),
            );
        }
        if row.notes.chars().count() > ROW_TEXT_CHARS_MAX
            || row.override_reason.chars().count() > ROW_TEXT_CHARS_MAX
        {
            error(
                format!("Receta {n}: el texto admite hasta {ROW_TEXT_CHARS_MAX} caracteres."),
                format!("Prescription {n}: the text allows up to {ROW_TEXT_CHARS_MAX} characters."),
            );
        }
        if let (Some(medicine), Some(dose), Some(every_h)) =
            (checked.medicine, checked.dose, checked.every_h)
        {
            let proposed = ProposedPrescription {
                cnis_key: medicine.key.to_string(),
                dose: DoseAmount::DoseUnits(dose),
                times_per_day: 24.0 / f64::from(every_h),
                duration_days: checked.days,
            };
            let mut active: Vec<Value> = medications.to_vec();
            active.extend(earlier.iter().cloned());
            match clinical::checks::check_prescription(&proposed, allergies, &active, patient) {
                Ok(findings) => {
                    checked.renews = CheckedRx::renewal_targets(&findings);
                    checked.findings = findings;
                }
                Err(err) => checked.errors.push((
                    format!("Receta {n}: {}", err.message_es()),
                    format!("Prescription {n}: {}", err.message_en()),
                )),
            }
            earlier.push(proposed_as_request(medicine));
        }
        out.push(checked);
    }
    out
}

/// Total dose units for the course (what the pharmacy dispenses), rounded up.
pub fn quantity(dose: f64, every_h: u32, days: u32) -> f64 {
    (dose * 24.0 / f64::from(every_h) * f64::from(days) - 1e-9).ceil()
}

/// A unit for an amount: `1 tableta`, `2 tabletas` (units ending in a vowel take an `s`).
pub fn plural(unit: &str, amount: f64) -> String {
    let countable = unit.ends_with(['a', 'e', 'o']);
    if countable && (amount - 1.0).abs() > f64::EPSILON {
        format!("{unit}s")
    } else {
        unit.to_string()
    }
}

/// A number without a trailing `.0`.
pub fn show_number(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// How often, in words: `cada 12 horas`, `cada 24 horas`, `una vez a la semana`.
pub fn frequency_es(every_h: u32) -> String {
    match every_h {
        168 => "una vez a la semana".to_string(),
        h => format!("cada {h} horas"),
    }
}

/// The instruction as the receta writes it: `1 tableta cada 12 horas durante 5 días, vía oral`.
pub fn sig(medicine: &Medicine, dose: f64, every_h: u32, days: u32, notes: &str) -> String {
    let (_, route) = medicine.route.snomed();
    let mut text = format!(
        "{} {} {} durante {days} {}, {}",
        show_number(dose),
        plural(medicine.dose_unit.0, dose),
        frequency_es(every_h),
        if days == 1 { "día" } else { "días" },
        route.to_lowercase()
    );
    let notes = notes.trim();
    if !notes.is_empty() {
        text.push_str(". ");
        text.push_str(notes);
    }
    text
}

/// What a signed row writes (local references are the Bundle's `fullUrl`s).
pub struct RxWrite<'a> {
    pub checked: &'a CheckedRx,
    pub subject: &'a Value,
    pub encounter: &'a Value,
    pub author: &'a Value,
    pub now: &'a str,
    /// `fullUrl` of the request in the Bundle.
    pub request_url: &'a str,
    /// `fullUrl`s of its DetectedIssues, one per finding that needed an action.
    pub issue_urls: &'a [String],
    /// `MedicationRequest/{id}` of the request it renews, if any.
    pub prior: Option<String>,
}

/// A finding that needed an action, once per code (a drug active three times is one
/// duplicate), with every record it concerns.
pub struct Managed<'a> {
    pub finding: &'a Finding,
    /// `id`s of the AllergyIntolerance or MedicationRequest records involved.
    pub related_ids: Vec<String>,
}

/// The findings that needed an action (and are recorded as DetectedIssues).
pub fn managed_findings(checked: &CheckedRx) -> Vec<Managed<'_>> {
    let mut out: Vec<Managed<'_>> = Vec::new();
    for finding in checked
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
    {
        let related = finding.related_id.clone();
        match out.iter_mut().find(|m| m.finding.code == finding.code) {
            Some(managed) => managed.related_ids.extend(related),
            None => out.push(Managed {
                finding,
                related_ids: related.into_iter().collect(),
            }),
        }
    }
    out
}

/// The MedicationRequest of a signed row. `None` when the row is not complete (the caller
/// signs only rows without holds).
pub fn medication_request(write: &RxWrite<'_>) -> Option<Value> {
    let checked = write.checked;
    let (medicine, dose, every_h, days) = (
        checked.medicine?,
        checked.dose?,
        checked.every_h?,
        checked.days?,
    );
    let ucum = "http://unitsofmeasure.org";
    let (route_code, route_display) = medicine.route.snomed();
    let duration = json!({"value": days, "unit": "días", "system": ucum, "code": "d"});
    let mut dosage = json!({
        "sequence": 1,
        "text": sig(medicine, dose, every_h, days, &checked.row.notes),
        "timing": {"repeat": {"boundsDuration": duration, "frequency": 1, "period": every_h, "periodUnit": "h"}},
        "route": {"coding": [{"system": "http://snomed.info/sct", "code": route_code, "display": route_display}], "text": route_display},
        "doseAndRate": [{"doseQuantity": {"value": dose, "unit": medicine.dose_unit.0, "system": ucum, "code": medicine.dose_unit.1}}]
    });
    if !checked.row.notes.trim().is_empty() {
        dosage["patientInstruction"] = json!(checked.row.notes.trim());
    }
    let mut request = json!({
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category", "code": "outpatient", "display": "Outpatient"}]}],
        "medicationCodeableConcept": {
            "coding": [{"system": mexico::systems::CNIS, "version": clinical::formulary::FORMULARY_VERSION, "code": medicine.key, "display": medicine.display()}],
            "text": medicine.display()
        },
        "subject": write.subject,
        "encounter": write.encounter,
        "authoredOn": write.now,
        "requester": write.author,
        "dosageInstruction": [dosage],
        "dispenseRequest": {
            "quantity": {"value": quantity(dose, every_h, days), "unit": medicine.dose_unit.0, "system": ucum, "code": medicine.dose_unit.1},
            "expectedSupplyDuration": duration
        }
    });
    if let Some(prior) = &write.prior {
        request["priorPrescription"] = json!({"reference": prior});
    }
    if !write.issue_urls.is_empty() {
        request["detectedIssue"] = Value::Array(
            write
                .issue_urls
                .iter()
                .map(|url| json!({"reference": url}))
                .collect(),
        );
    }
    Some(request)
}

/// The DetectedIssue recording how one finding was managed: the override reason of a block,
/// or the acknowledgement of a warning.
pub fn detected_issue(write: &RxWrite<'_>, managed: &Managed<'_>) -> Value {
    let finding = managed.finding;
    let mut implicated = vec![json!({"reference": write.request_url})];
    for id in &managed.related_ids {
        let reference = match finding.kind {
            FindingKind::Allergy => format!("AllergyIntolerance/{id}"),
            _ => format!("MedicationRequest/{id}"),
        };
        implicated.push(json!({"reference": reference}));
    }
    let action = match finding.severity {
        Severity::Block => write.checked.row.override_reason.trim().to_string(),
        _ => "Advertencia leída y aceptada por quien prescribe".to_string(),
    };
    json!({
        "resourceType": "DetectedIssue",
        "status": "final",
        "code": {
            "coding": [{"system": FINDING_CODE_SYSTEM, "code": finding.code}],
            "text": finding_kind_es(finding.kind)
        },
        "severity": match finding.severity {
            Severity::Block => "high",
            Severity::Warning => "moderate",
            Severity::Info => "low",
        },
        "patient": write.subject,
        "identifiedDateTime": write.now,
        "author": write.author,
        "implicated": implicated,
        "detail": format!("{} Fuente: {}", finding.message_es, finding.source),
        "mitigation": [{"action": {"text": action}, "date": write.now, "author": write.author}]
    })
}

/// The kind of a finding in Spanish.
pub fn finding_kind_es(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Allergy => "Alergia",
        FindingKind::DuplicateIngredient => "Duplicidad del mismo fármaco",
        FindingKind::DuplicateClass => "Duplicidad terapéutica",
        FindingKind::Interaction => "Interacción",
        FindingKind::Dose => "Dosis",
        FindingKind::Formulary => "Cuadro básico",
    }
}

/// The note's lines for a signed row, with the managed findings and their reasons.
pub fn note_lines(checked: &CheckedRx) -> Vec<String> {
    let Some(medicine) = checked.medicine else {
        return Vec::new();
    };
    let (Some(dose), Some(every_h), Some(days)) = (checked.dose, checked.every_h, checked.days)
    else {
        return Vec::new();
    };
    let mut lines = vec![format!(
        "{} (clave {}): {}. Surtir {} {}.",
        medicine.display(),
        medicine.key,
        sig(medicine, dose, every_h, days, &checked.row.notes),
        show_number(quantity(dose, every_h, days)),
        plural(medicine.dose_unit.0, quantity(dose, every_h, days))
    )];
    for managed in managed_findings(checked) {
        let finding = managed.finding;
        match finding.severity {
            Severity::Block => lines.push(format!(
                "Alerta omitida ({}): {} Motivo: {}",
                finding.code,
                finding.message_es,
                checked.row.override_reason.trim()
            )),
            _ => lines.push(format!(
                "Advertencia reconocida ({}): {}",
                finding.code, finding.message_es
            )),
        }
    }
    lines
}

#[cfg(test)]
mod tests;
