//! CIE-10 (ICD-10) codes: the three written forms, conversion to the FHIR form, and a small catalog of
//! the diagnoses that fill Mexican primary care, with Spanish descriptions and DGIS-style limits.
//!
//! Forms accepted by [`validate_cie10`] (mexico.md §A3):
//! * dotted, as FHIR and clinicians write it: `E11.9`;
//! * the three-character category: `I10`;
//! * DGIS/GIIS files: four characters without the dot, categories padded with `X`: `E119`, `I10X`.
//!
//! Every valid code is stored in the dotted form ([`Cie10Code::as_str`]), the one FHIR's
//! `http://hl7.org/fhir/sid/icd-10` system uses; [`Cie10Code::dgis`] gives the file form back.
//! Validation is structural: the full CIE-10 has ~12,000 codes and DGIS's `DIAGNOSTICO_SIS` catalog is the
//! authority on which exist. The built-in [`CATALOG`] is for search and tests, not for acceptance.
//! DGIS's local non-CIE codes (`MT01`, `CP13`...) are not handled here.

#[cfg(test)]
mod tests;

mod catalog;

use std::fmt;

pub use catalog::CATALOG;

use crate::text;

/// Which patients a catalog code may be used for, by biological sex (DGIS `LSEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SexLimit {
    /// No limit.
    Any,
    /// Only men.
    Hombre,
    /// Only women.
    Mujer,
}

/// Biological sex as GIIS-B015 records it (`sexoBiologico`: 1 hombre, 2 mujer, 3 intersexual); distinct
/// from CURP position 11. Intersex patients are not refused by a sex limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BiologicalSex {
    /// 1.
    Hombre,
    /// 2.
    Mujer,
    /// 3.
    Intersexual,
}

/// One entry of the built-in catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Cie10Entry {
    /// Dotted code (`E11.9`) or category (`I10`).
    pub code: &'static str,
    /// Spanish description.
    pub description: &'static str,
    /// DGIS `LSEX`.
    pub sex: SexLimit,
    /// Inclusive age range in whole years (DGIS `LINF`/`LSUP`), when limited.
    pub age_years: Option<(u8, u8)>,
}

impl Cie10Entry {
    /// Checks the code's sex and age limits for a patient. A sex mismatch is reported before age.
    pub fn check_patient(&self, sex: BiologicalSex, age_years: u32) -> Result<(), Cie10Error> {
        let sex_ok = !matches!(
            (self.sex, sex),
            (SexLimit::Hombre, BiologicalSex::Mujer) | (SexLimit::Mujer, BiologicalSex::Hombre)
        );
        if !sex_ok {
            return Err(Cie10Error::SexNotAllowed {
                code: self.code.to_owned(),
                allowed: self.sex,
            });
        }
        if let Some((min, max)) = self.age_years
            && !(u32::from(min)..=u32::from(max)).contains(&age_years)
        {
            return Err(Cie10Error::AgeNotAllowed {
                code: self.code.to_owned(),
                age_years,
                min,
                max,
            });
        }
        Ok(())
    }
}

/// The characters a position of a CIE-10 code accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Cie10CharClass {
    /// The chapter letter A–Z (position 1).
    Letter,
    /// 0–9.
    Digit,
    /// 0–9, or the DGIS padding `X` (position 4 of the undotted form).
    DigitOrX,
    /// `.` (position 4 of the dotted form).
    Dot,
}

impl Cie10CharClass {
    fn allows(self, c: char) -> bool {
        match self {
            Cie10CharClass::Letter => c.is_ascii_uppercase(),
            Cie10CharClass::Digit => c.is_ascii_digit(),
            Cie10CharClass::DigitOrX => c.is_ascii_digit() || c == 'X',
            Cie10CharClass::Dot => c == '.',
        }
    }

    fn describe_en(self) -> &'static str {
        match self {
            Cie10CharClass::Letter => "an uppercase letter A-Z",
            Cie10CharClass::Digit => "a digit 0-9",
            Cie10CharClass::DigitOrX => "a digit 0-9 or the padding X",
            Cie10CharClass::Dot => "a dot",
        }
    }

    fn describe_es(self) -> &'static str {
        match self {
            Cie10CharClass::Letter => "una letra mayúscula de la A a la Z",
            Cie10CharClass::Digit => "un dígito del 0 al 9",
            Cie10CharClass::DigitOrX => "un dígito del 0 al 9 o la X de relleno",
            Cie10CharClass::Dot => "un punto",
        }
    }
}

/// Why a code is not a CIE-10 code, or not usable for a patient. `Display` is English.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Cie10Error {
    /// Not 3, 4 or 5 characters.
    #[error("a CIE-10 code has the form I10, E11.9, E119 or I10X; this one has {len} characters")]
    Length {
        /// Characters present.
        len: usize,
    },
    /// A character of the wrong kind (1-based position).
    #[error("CIE-10 position {position}: {found:?} is not allowed; expected {}", .expected.describe_en())]
    InvalidChar {
        /// 1-based position.
        position: usize,
        /// The offending character.
        found: char,
        /// What the position accepts.
        expected: Cie10CharClass,
    },
    /// The catalog limits the code to the other sex.
    #[error("CIE-10 {code} is only for {}", match .allowed { SexLimit::Hombre => "men", SexLimit::Mujer => "women", SexLimit::Any => "anyone" })]
    SexNotAllowed {
        /// Dotted code.
        code: String,
        /// The sex the code is limited to.
        allowed: SexLimit,
    },
    /// The catalog limits the code to an age range.
    #[error("CIE-10 {code} is only for ages {min} to {max} years; the patient is {age_years}")]
    AgeNotAllowed {
        /// Dotted code.
        code: String,
        /// Patient's age in whole years.
        age_years: u32,
        /// Youngest allowed age.
        min: u8,
        /// Oldest allowed age.
        max: u8,
    },
}

impl Cie10Error {
    /// English message (same as `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }

    /// Spanish (es-MX) message.
    pub fn message_es(&self) -> String {
        match self {
            Cie10Error::Length { len } => format!(
                "Un código CIE-10 tiene la forma I10, E11.9, E119 o I10X; este tiene {len} caracteres."
            ),
            Cie10Error::InvalidChar {
                position,
                found,
                expected,
            } => format!(
                "CIE-10, posición {position}: «{found}» no es válido; se espera {}.",
                expected.describe_es()
            ),
            Cie10Error::SexNotAllowed { code, allowed } => format!(
                "El código CIE-10 {code} solo se usa en {}.",
                match allowed {
                    SexLimit::Hombre => "hombres",
                    SexLimit::Mujer => "mujeres",
                    SexLimit::Any => "cualquier sexo",
                }
            ),
            Cie10Error::AgeNotAllowed {
                code,
                age_years,
                min,
                max,
            } => format!(
                "El código CIE-10 {code} solo se usa entre los {min} y los {max} años; el paciente tiene {age_years}."
            ),
        }
    }
}

/// A structurally valid CIE-10 code, held in the dotted FHIR form.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Cie10Code(String);

impl Cie10Code {
    /// Dotted form: `E11.9`, or the bare category `I10`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The three-character category (`E11`).
    pub fn category(&self) -> &str {
        &self.0[..3]
    }

    /// The DGIS/GIIS file form: four characters, no dot, categories padded with `X` (`E119`, `I10X`).
    pub fn dgis(&self) -> String {
        match self.0.get(4..) {
            Some(sub) => format!("{}{sub}", self.category()),
            None => format!("{}X", self.0),
        }
    }
}

impl fmt::Display for Cie10Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Cie10Code {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Cie10Code {
    type Err = Cie10Error;
    fn from_str(s: &str) -> Result<Cie10Code, Cie10Error> {
        validate_cie10(s)
    }
}

impl TryFrom<String> for Cie10Code {
    type Error = Cie10Error;
    fn try_from(s: String) -> Result<Cie10Code, Cie10Error> {
        validate_cie10(&s)
    }
}

impl From<Cie10Code> for String {
    fn from(code: Cie10Code) -> String {
        code.0
    }
}

/// Validates one of the three forms strictly (uppercase, no spaces) and returns the dotted form.
pub fn validate_cie10(code: &str) -> Result<Cie10Code, Cie10Error> {
    use Cie10CharClass::{Digit, DigitOrX, Dot, Letter};
    let chars: Vec<char> = code.chars().collect();
    let pattern: &[Cie10CharClass] = match chars.len() {
        3 => &[Letter, Digit, Digit],
        4 => &[Letter, Digit, Digit, DigitOrX],
        5 => &[Letter, Digit, Digit, Dot, Digit],
        len => return Err(Cie10Error::Length { len }),
    };
    for (idx, (&found, expected)) in chars.iter().zip(pattern).enumerate() {
        if !expected.allows(found) {
            return Err(Cie10Error::InvalidChar {
                position: idx + 1,
                found,
                expected: *expected,
            });
        }
    }
    // All characters are ASCII now.
    let dotted = match chars.len() {
        4 if chars[3] == 'X' => code[..3].to_owned(),
        4 => format!("{}.{}", &code[..3], &code[3..]),
        _ => code.to_owned(),
    };
    Ok(Cie10Code(dotted))
}

/// Trims, uppercases and converts any accepted form to the dotted FHIR form (`e119 ` → `E11.9`,
/// `I10X` → `I10`). Returns the validation error when the input is not a code.
pub fn normalize_cie10(code: &str) -> Result<String, Cie10Error> {
    validate_cie10(&code.trim().to_uppercase()).map(String::from)
}

/// Looks a code up in the built-in catalog, in any accepted form and case.
pub fn lookup_cie10(code: &str) -> Option<&'static Cie10Entry> {
    let dotted = normalize_cie10(code).ok()?;
    CATALOG
        .binary_search_by(|entry| entry.code.cmp(dotted.as_str()))
        .ok()
        .and_then(|idx| CATALOG.get(idx))
}

/// The catalog code without its dot, for prefix matching (`E11.9` → `E119`).
fn undotted(code: &str) -> String {
    code.chars().filter(|&c| c != '.').collect()
}

/// If `query` looks like the start of a code (`e`, `E1`, `E11`, `e11.`, `E11.9`, `E119`, `I10X`),
/// the undotted uppercase prefix to match.
fn code_prefix(query: &str) -> Option<String> {
    let mut prefix = undotted(&query.trim().to_uppercase());
    if prefix.len() == 4 && prefix.ends_with('X') {
        prefix.pop();
    }
    let mut chars = prefix.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    (starts_with_letter && prefix.len() <= 4 && chars.all(|c| c.is_ascii_digit())).then_some(prefix)
}

/// The UI's CIE-10 search over the built-in catalog, case- and accent-insensitive.
///
/// Entries whose code starts with the query (any form: `e11`, `E11.9`, `I10X`) come first; then entries
/// whose description has, for every word of the query, a word starting with it (`diab tipo`,
/// `hipertension`, `infeccion vias urinarias`). Catalog order within each group; no duplicates.
pub fn search_cie10(query: &str) -> Vec<&'static Cie10Entry> {
    let words_query = text::search_fold(query);
    if words_query.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<&'static Cie10Entry> = Vec::new();
    if let Some(prefix) = code_prefix(query) {
        found.extend(
            CATALOG
                .iter()
                .filter(|e| undotted(e.code).starts_with(&prefix)),
        );
    }
    let tokens: Vec<&str> = words_query.split(' ').collect();
    for entry in CATALOG.iter() {
        let description = text::search_fold(entry.description);
        let matches = tokens
            .iter()
            .all(|token| description.split(' ').any(|word| word.starts_with(token)));
        if matches && !found.contains(&entry) {
            found.push(entry);
        }
    }
    found
}
