//! Break-glass ("acceso de emergencia"): a clinician without a care relationship opens one
//! patient's record for a bounded time, giving a reason that a reviewer will read.
//!
//! Mexican data-protection law allows processing health data without consent in emergencies that
//! may harm the person (mexico.md §A7); this is that exception, made visible. Every grant is
//! flagged for review, written to the audit trail as a `break-glass` event, and appears in the
//! patient's "who viewed my record".

#[cfg(test)]
mod tests;

use crate::role::Principal;

/// How long a grant lasts: 4 hours. Long enough to cover an emergency-room stay or a transfer
/// (triage, stabilisation, handover usually fit in one shift segment), short enough that a grant
/// forgotten at the end of the shift is not a standing key to the record. A clinician who needs
/// longer asks again, giving a new reason, which makes prolonged access visible to the reviewer.
pub const BREAK_GLASS_DURATION_MS: i64 = 4 * 60 * 60 * 1000;

/// Minimum length of a reason, in characters: enough for "paciente inconsciente en urgencias",
/// too long for "urgente" or "x". Length alone does not make a reason meaningful, so the words and
/// letters rules below apply too; the reviewer judges the rest.
pub const REASON_CHARS_MIN: usize = 20;

/// Minimum number of words of at least two letters in a reason.
pub const REASON_WORDS_MIN: usize = 3;

/// Maximum length of a reason, in characters: a reason is a sentence, not a document, and the
/// value is copied into every audit entry made under the grant.
pub const REASON_CHARS_MAX: usize = 500;

/// An active emergency-access grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakGlass {
    /// The patient whose record is opened.
    pub patient_id: String,
    /// The reason, as given (trimmed).
    pub reason: String,
    /// When it was granted (ms since the Unix epoch).
    pub granted_ms: i64,
    /// When it stops working (exclusive).
    pub expires_ms: i64,
    /// Always `true` when created: a reviewer (auditor) must look at every grant.
    pub needs_review: bool,
}

impl BreakGlass {
    /// Whether the grant is in force at `now_ms`.
    pub fn is_active(&self, now_ms: i64) -> bool {
        self.granted_ms <= now_ms && now_ms < self.expires_ms
    }
}

/// Why a break-glass request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BreakGlassError {
    /// Only physicians and nurses may break the glass.
    #[error("only physicians and nurses may use emergency access")]
    NotClinician,
    /// The clinician's account has no facility, so the access could not be attributed.
    #[error("the account has no facility (CLUES)")]
    NoFacility,
    /// No patient named.
    #[error("a patient is required")]
    NoPatient,
    /// No reason, or only blanks.
    #[error("a reason is required")]
    ReasonMissing,
    /// The reason does not say anything (too short, too few words, no letters, repeated
    /// characters or a placeholder).
    #[error(
        "the reason is too vague: describe the emergency in at least {REASON_CHARS_MIN} characters and {REASON_WORDS_MIN} words"
    )]
    ReasonTooVague,
    /// The reason is longer than [`REASON_CHARS_MAX`].
    #[error("the reason is longer than {REASON_CHARS_MAX} characters")]
    ReasonTooLong,
}

impl BreakGlassError {
    /// The message for the clinician (es-MX).
    pub fn message_es(&self) -> String {
        match self {
            BreakGlassError::NotClinician => {
                "solo el personal médico y de enfermería puede usar el acceso de emergencia".into()
            }
            BreakGlassError::NoFacility => {
                "su cuenta no tiene establecimiento (CLUES) asignado".into()
            }
            BreakGlassError::NoPatient => "indique el paciente".into(),
            BreakGlassError::ReasonMissing => "el acceso de emergencia requiere un motivo".into(),
            BreakGlassError::ReasonTooVague => format!(
                "el motivo es demasiado vago: describa la emergencia con al menos {REASON_CHARS_MIN} caracteres y {REASON_WORDS_MIN} palabras"
            ),
            BreakGlassError::ReasonTooLong => {
                format!("el motivo no debe pasar de {REASON_CHARS_MAX} caracteres")
            }
        }
    }

    /// The English message (= `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Words that are not a reason on their own, compared after lowercasing (and accents kept: the
/// list includes both spellings that matter).
const PLACEHOLDERS: &[&str] = &[
    "emergencia",
    "urgencia",
    "urgente",
    "prueba",
    "test",
    "asdf",
    "n/a",
    "na",
    "ninguno",
    "xxx",
    "motivo",
    "acceso",
];

/// Checks a reason and returns it trimmed.
pub fn validate_reason(reason: &str) -> Result<&str, BreakGlassError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(BreakGlassError::ReasonMissing);
    }
    let n_chars = reason.chars().count();
    if n_chars > REASON_CHARS_MAX {
        return Err(BreakGlassError::ReasonTooLong);
    }
    let lower = reason.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|word| word.chars().count() >= 2)
        .collect();
    let meaningful: Vec<&&str> = words
        .iter()
        .filter(|word| !PLACEHOLDERS.contains(word))
        .collect();
    let n_letters = reason.chars().filter(|c| c.is_alphabetic()).count();
    let mut distinct: Vec<char> = lower.chars().filter(|c| c.is_alphabetic()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    // Distinct letters catch "aaaa aaaa aaaa aaaa aaaa" and "asd asd asd asd asd".
    if n_chars < REASON_CHARS_MIN
        || words.len() < REASON_WORDS_MIN
        || meaningful.len() < 2
        || n_letters * 2 < n_chars
        || distinct.len() < 6
    {
        return Err(BreakGlassError::ReasonTooVague);
    }
    Ok(reason)
}

/// Creates a grant for `principal` on `patient_id` at `now_ms`, or says why not.
///
/// The caller stores the grant (table `break_glass`), writes a `break-glass` audit entry in the
/// same transaction, and loads the user's active grants into [`Principal::break_glass`] on each
/// later request.
pub fn grant(
    principal: &Principal,
    patient_id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<BreakGlass, BreakGlassError> {
    if !principal.role.is_clinician() {
        return Err(BreakGlassError::NotClinician);
    }
    if principal
        .clues
        .as_deref()
        .is_none_or(|clues| clues.trim().is_empty())
    {
        return Err(BreakGlassError::NoFacility);
    }
    let patient_id = patient_id.trim();
    if patient_id.is_empty() {
        return Err(BreakGlassError::NoPatient);
    }
    let reason = validate_reason(reason)?;
    Ok(BreakGlass {
        patient_id: patient_id.to_owned(),
        reason: reason.to_owned(),
        granted_ms: now_ms,
        expires_ms: now_ms.saturating_add(BREAK_GLASS_DURATION_MS),
        needs_review: true,
    })
}
