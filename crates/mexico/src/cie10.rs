//! CIE-10 (ICD-10) codes: the three written forms, conversion to the FHIR form, the full Spanish
//! catalogue with sex and age limits, everyday-Spanish synonyms, and typeahead search.
//!
//! Forms accepted by [`validate_cie10`] (mexico.md §A3):
//! * dotted, as FHIR and clinicians write it: `E11.9`;
//! * the three-character category: `I10`;
//! * DGIS/GIIS files: four characters without the dot, categories padded with `X`: `E119`, `I10X`.
//!
//! Every valid code is stored in the dotted form ([`Cie10Code::as_str`]), the one FHIR's
//! `http://hl7.org/fhir/sid/icd-10` system uses; [`Cie10Code::dgis`] gives the GIIS file form back.
//!
//! The [`CATALOG`] holds about 14,200 codes (every category and four-character subcategory of the
//! WHO edition in its Spanish wording, plus the external-cause place-of-occurrence subdivisions)
//! generated at development time from a published package; `crates/mexico/data/README.md` says
//! what is official and what is ours. Sex and age limits come from a reviewed rule table
//! ([`limits`]), not yet from DGIS's `DIAGNOSTICO_SIS`, which remains the authority for GIIS
//! acceptance. [`search`] ranks codes, [`synonyms`] and titles for typeahead;
//! [`Cie10Entry::check`] tells whether a code fits a patient. DGIS's local non-CIE codes (`MT01`,
//! `CP13`...) are not handled here.

#[cfg(test)]
mod tests;

mod catalog;
pub mod limits;
mod search;
mod synonyms;

use std::fmt;

pub use catalog::CATALOG;
pub use search::{Cie10Hit, Cie10Match, search};
pub use synonyms::{Synonym, synonyms};

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

/// What the UI does when a limit is not met: refuse the code, or ask the clinician to confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum LimitStrength {
    /// Ask to confirm (the code is unusual for this patient, not impossible).
    Confirm,
    /// Refuse (GIIS-B015 rejects it).
    Refuse,
}

/// One end of an age limit, in the unit DGIS writes it in (`028D`, `059A`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum AgeBound {
    /// Completed days of life.
    Days(u16),
    /// Completed years.
    Years(u16),
}

impl AgeBound {
    fn at_least(self, age: PatientAge) -> bool {
        match self {
            AgeBound::Days(days) => age.days >= u32::from(days),
            AgeBound::Years(years) => age.years >= u32::from(years),
        }
    }

    fn at_most(self, age: PatientAge) -> bool {
        match self {
            AgeBound::Days(days) => age.days <= u32::from(days),
            AgeBound::Years(years) => age.years <= u32::from(years),
        }
    }
}

/// An inclusive age range a code is limited to (DGIS `LINF`/`LSUP`), how strictly, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct AgeLimit {
    /// Youngest allowed age.
    pub min: AgeBound,
    /// Oldest allowed age.
    pub max: AgeBound,
    /// Refuse or confirm outside the range.
    pub strength: LimitStrength,
    /// The rule's source (see [`limits`]).
    pub source: &'static str,
}

/// A patient's age: completed years and completed days of life, both from the birth date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct PatientAge {
    /// Completed years.
    pub years: u32,
    /// Completed days since birth.
    pub days: u32,
}

impl PatientAge {
    /// The age on `on` of someone born on `birth`, both `(year, month, day)`. `None` when either
    /// date does not exist or the birth is after `on` (the caller reports a future birth date).
    pub fn between(birth: (i32, u8, u8), on: (i32, u8, u8)) -> Option<PatientAge> {
        let born = days_from_civil(birth)?;
        let today = days_from_civil(on)?;
        let days = u32::try_from(today - born).ok()?;
        let mut years = on.0 - birth.0;
        if (on.1, on.2) < (birth.1, birth.2) {
            years -= 1;
        }
        Some(PatientAge {
            years: u32::try_from(years).ok()?,
            days,
        })
    }

    /// An age known only in whole years (the day count is the lowest it can be).
    pub fn from_years(years: u32) -> PatientAge {
        PatientAge {
            years,
            days: years.saturating_mul(365).saturating_add(years / 4),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date, or `None` if the date does not exist
/// (H. Hinnant's `days_from_civil`).
fn days_from_civil((year, month, day): (i32, u8, u8)) -> Option<i64> {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days {
        return None;
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Where an entry's title comes from (see `crates/mexico/data/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Origin {
    /// The OPS/WHO Spanish title as published by icdcode.info (in PyPI `cie` 0.208).
    IcdCodeInfo,
    /// Chile DEIS's list (in PyPI `cie` 0.208), accents restored by `xtask cie10`.
    DeisChile,
    /// Added by us (codes the source lacks).
    Ours,
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Cie10Entry {
    /// Dotted code (`E11.9`) or category (`I10`).
    pub code: &'static str,
    /// Spanish title.
    pub description: &'static str,
    /// Sex limit (DGIS `LSEX`), from the rule table.
    pub sex: SexLimit,
    /// Age limit (DGIS `LINF`/`LSUP`), from the rule table.
    pub age: Option<AgeLimit>,
    /// No subcategory exists: the code can be reported as is (`I10`, `E11.9`; not `E11`).
    pub leaf: bool,
    /// One of the codes that fill Mexican primary care (ranked first by search).
    pub primary_care: bool,
    /// Where the title comes from.
    pub origin: Origin,
}

/// A reason a code does not fit a patient, and whether to refuse it or ask to confirm.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cie10Issue {
    /// Refuse or confirm.
    pub strength: LimitStrength,
    /// What is wrong; `message_es()`/`message_en()` for the UI.
    pub error: Cie10Error,
    /// The source of the rule that raised it.
    pub source: &'static str,
}

/// Source of the "choose a subcategory" rule.
pub const GIIS_SUBCATEGORY: &str =
    "DGIS, GIIS-B015: el diagnóstico se informa con 4 caracteres (categoría sin subcategorías + X)";

impl Cie10Entry {
    /// The GIIS file form (`E119`, `I10X`).
    pub fn dgis(&self) -> String {
        match self.code.get(4..) {
            Some(sub) => format!("{}{sub}", &self.code[..3]),
            None => format!("{}X", self.code),
        }
    }

    /// Checks the code's refusing sex and age limits for a patient whose age is known in whole
    /// years. A sex mismatch is reported before age. Limits that only ask for confirmation, and
    /// day-based limits, are left to [`Cie10Entry::check`].
    pub fn check_patient(&self, sex: BiologicalSex, age_years: u32) -> Result<(), Cie10Error> {
        let age = PatientAge::from_years(age_years);
        match self.check(Some(sex), Some(age)).into_iter().find(|issue| {
            issue.strength == LimitStrength::Refuse
                && !matches!(issue.error, Cie10Error::NotLeaf { .. })
        }) {
            Some(issue) => Err(issue.error),
            None => Ok(()),
        }
    }

    /// Everything that makes this code wrong or unusual for the patient: a sex limit (refused), an
    /// age limit (refused or confirmed, per rule), and a category that has subcategories (refused:
    /// GIIS-B015 needs four characters). Unknown sex or age skips those checks. Ordered by
    /// strength, refusals first.
    pub fn check(&self, sex: Option<BiologicalSex>, age: Option<PatientAge>) -> Vec<Cie10Issue> {
        let mut issues = Vec::new();
        let sex_mismatch = matches!(
            (self.sex, sex),
            (SexLimit::Hombre, Some(BiologicalSex::Mujer))
                | (SexLimit::Mujer, Some(BiologicalSex::Hombre))
        );
        if sex_mismatch {
            issues.push(Cie10Issue {
                strength: LimitStrength::Refuse,
                error: Cie10Error::SexNotAllowed {
                    code: self.code.to_owned(),
                    allowed: self.sex,
                },
                source: limits::sex_rule(self.code).map_or(limits::WHO_VOL2, |(_, source)| source),
            });
        }
        if let (Some(limit), Some(age)) = (self.age, age)
            && !(limit.min.at_least(age) && limit.max.at_most(age))
        {
            let error = match (limit.min, limit.max) {
                (AgeBound::Years(min), AgeBound::Years(max)) => Cie10Error::AgeNotAllowed {
                    code: self.code.to_owned(),
                    age_years: age.years,
                    min: u8::try_from(min).unwrap_or(u8::MAX),
                    max: u8::try_from(max).unwrap_or(u8::MAX),
                },
                _ => Cie10Error::AgeUnexpected {
                    code: self.code.to_owned(),
                    min: limit.min,
                    max: limit.max,
                },
            };
            issues.push(Cie10Issue {
                strength: limit.strength,
                error,
                source: limit.source,
            });
        }
        if !self.leaf {
            issues.push(Cie10Issue {
                strength: LimitStrength::Refuse,
                error: Cie10Error::NotLeaf {
                    code: self.code.to_owned(),
                },
                source: GIIS_SUBCATEGORY,
            });
        }
        issues.sort_by_key(|issue| std::cmp::Reverse(issue.strength));
        issues
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
    /// The code is unusual at the patient's age (a limit that asks for confirmation).
    #[error("CIE-10 {code} is expected between {} and {}", describe_bound_en(*.min), describe_bound_en(*.max))]
    AgeUnexpected {
        /// Dotted code.
        code: String,
        /// Youngest expected age.
        min: AgeBound,
        /// Oldest expected age.
        max: AgeBound,
    },
    /// A category that has subcategories: GIIS-B015 needs one of them.
    #[error("CIE-10 {code} has subcategories; choose a four-character code")]
    NotLeaf {
        /// Dotted code.
        code: String,
    },
}

fn describe_bound_en(bound: AgeBound) -> String {
    match bound {
        AgeBound::Days(1) => "1 day".to_owned(),
        AgeBound::Days(n) => format!("{n} days"),
        AgeBound::Years(1) => "1 year".to_owned(),
        AgeBound::Years(n) => format!("{n} years"),
    }
}

fn describe_bound_es(bound: AgeBound) -> String {
    match bound {
        AgeBound::Days(1) => "1 día".to_owned(),
        AgeBound::Days(n) => format!("{n} días"),
        AgeBound::Years(1) => "1 año".to_owned(),
        AgeBound::Years(n) => format!("{n} años"),
    }
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
            Cie10Error::AgeUnexpected { code, min, max } => format!(
                "El código CIE-10 {code} se espera entre {} y {} de edad; confirme que corresponde a este paciente.",
                describe_bound_es(*min),
                describe_bound_es(*max)
            ),
            Cie10Error::NotLeaf { code } => format!(
                "El código CIE-10 {code} tiene subcategorías; elija un código de cuatro caracteres."
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

/// Looks a code up in the catalogue, in any accepted form and case (`e119`, `I10X`, `E11.9`).
pub fn lookup_cie10(code: &str) -> Option<&'static Cie10Entry> {
    let dotted = normalize_cie10(code).ok()?;
    CATALOG
        .binary_search_by(|entry| entry.code.cmp(dotted.as_str()))
        .ok()
        .and_then(|idx| CATALOG.get(idx))
}

/// The UI's CIE-10 search, every match (see [`search`] for the ranking; the UI should call
/// [`search`] with its page size instead, which does the same work but copies less).
pub fn search_cie10(query: &str) -> Vec<&'static Cie10Entry> {
    search(query, usize::MAX)
        .into_iter()
        .map(|hit| hit.entry)
        .collect()
}
