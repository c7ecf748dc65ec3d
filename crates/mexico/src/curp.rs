//! CURP (Clave Única de Registro de Población): strict validation, per-position diagnostics, and the
//! RENAPO construction rules.
//!
//! # Validation is strict, normalisation is separate
//!
//! [`validate`] accepts exactly the 18 uppercase ASCII characters RENAPO issues and nothing else: no
//! surrounding spaces, no lowercase. Forms and APIs call [`normalize`] first (trim + uppercase) when they
//! want to be forgiving, so that "what was typed" and "what is stored" never differ silently.
//! [`validate_all`] reports every problem at once, by position, for a receptionist typing a CURP.
//!
//! What a program can check, and this module does:
//!
//! | Pos | Rule |
//! |---|---|
//! | 1, 3, 4 | letter A–Z (never Ñ: RENAPO writes X) |
//! | 2 | vowel A E I O U, or X |
//! | 1–4 | not one of the 81 [`INCONVENIENT_WORDS`] (RENAPO would have put X in position 2) |
//! | 5–10 | digits forming a real calendar date, century taken from position 17 |
//! | 11 | H, M or X (non-binary, issued since 2023) |
//! | 12–13 | a code of [`crate::states`], `NE` included |
//! | 14–16 | consonant (a letter other than A E I O U) |
//! | 17 | digit → born 19YY, letter → born 20YY |
//! | 18 | check digit: Σ value(cᵢ)·(19−i) over all 18 characters ≡ 0 (mod 10), values from the 37-symbol dictionary `0-9 A-N Ñ O-Z` |
//!
//! The placeholder [`PLACEHOLDER`] (`XXXX999999XXXXXX99`) gets its own error, [`CurpError::Placeholder`]:
//! it means "no CURP" and must never become an identity. A date in the future (e.g. `99` with a letter in
//! position 17, year 2099) is *not* rejected here because this crate does not read the clock; callers
//! compare [`Curp::birth_date`] with today.
//!
//! # What no rule can detect (single-character substitutions)
//!
//! The check digit is a weighted sum mod 10, so a substitution at position *i* from value *v* to *v′* is
//! invisible to it exactly when (v′ − v)·wᵢ ≡ 0 (mod 10), with wᵢ = 19 − i (w₁₈ = 1). By weight mod 10:
//!
//! * w ≡ 0 (position 9, weight 10): every change is invisible to the check digit;
//! * w ≡ 5 (positions 4 and 14): invisible when v′ − v is even;
//! * w even, not ≡ 0 (positions 1, 3, 5, 7, 11, 13, 15, 17): invisible when v′ − v ≡ 0 (mod 5);
//! * w odd, not ≡ 5 (positions 2, 6, 8, 10, 12, 16, 18): invisible when v′ − v ≡ 0 (mod 10).
//!
//! Intersected with the per-position rules, the substitutions that yield another *valid* CURP are:
//!
//! * 1, 3: another letter whose value differs by a multiple of 5 — classes {A F K O T Y}, {B G L P U Z},
//!   {C H M Q V}, {D I N R W}, {E J S X} (values shift by one after N because of Ñ) — unless positions 1–4
//!   then spell an inconvenient word;
//! * 2: only E ↔ X (values 14 and 34), unless X → E spells an inconvenient word (MXAS → MEAS);
//! * 4: another letter of the same value parity — even {A C E G I K M P R T V X Z}, odd {B D F H J L N O Q
//!   S U W Y} — again unless an inconvenient word results;
//! * 5 (tens of year): ±5 (year ±50), except on 29 February, because YY ± 50 is never a leap year
//!   when YY is;
//! * 6, 7, 8, 10, 18: none at all (for 7, ±5 turns the month into 5x or 6x);
//! * 9 (tens of day): any digit that still gives a real day of that month (14 → 24, 03 → 13 ...);
//! * 11: H ↔ M (values 17 and 22) — **a sex swap between H and M is undetectable**;
//! * 12: CS ↔ MS, CC ↔ MC, AS ↔ TS; 13: CC ↔ CM ↔ CH, SP ↔ SL;
//! * 14: consonant of the same value parity; 15: consonant differing by a multiple of 5;
//!   16: B↔L, C↔M↔V, D↔N↔W, F↔Y, G↔P↔Z, H↔Q, J↔S, K↔T;
//! * 17: a digit or letter differing by a multiple of 5 (e.g. 0 ↔ 5 ↔ A ↔ F ↔ K ↔ O ↔ T ↔ Y), which may
//!   move the birth year by a century; rejected only when that makes 29 February invalid (1900 vs 2000).
//!
//! The integration tests enumerate every substitution of generated CURPs and assert that the validator
//! accepts exactly this class.
//!
//! # Derivation (never assignment)
//!
//! NOM-024 forbids the record from *assigning* CURPs; only RENAPO does. [`derive()`] and [`derive_prefix`]
//! exist for the synthetic population generator (which needs realistic, valid CURPs), for a UI hint
//! ("these data imply …") and for [`name_agreement`], which warns when a CURP does not match the names.
//! The rules implemented (Instructivo Normativo para la Asignación de la CURP, as summarised in
//! mexico.md §A1):
//!
//! * names are folded to A–Z: accents and diaeresis dropped, Ñ → X; apostrophes and symbols are ignored;
//!   spaces, hyphens, dots, commas and slashes separate words;
//! * particles ([`PARTICLES`]: DE, DEL, LA, …) are skipped in surnames and given names, unless the name
//!   consists only of particles (a surname such as `LE` or `DI` is kept as it is);
//! * the remaining words of a surname are read as one string (`SAN MARTIN` → S, A, N);
//! * of the given names, the first is used, or the second when the first is MARÍA/MA./MA or JOSÉ/J./J and
//!   there is a second ([`COMPOUND_FIRST_NAMES`]);
//! * position 2 is the first vowel after the first letter, positions 14–16 the first consonant after the
//!   first letter, X when there is none; a missing second surname gives X in positions 3 and 15;
//! * if positions 1–4 spell an inconvenient word, position 2 becomes X.
//!
//! RENAPO's actual registry can differ from these rules (historic records, clerical choices), which is why
//! a disagreement is a warning, never a rejection.

#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::RangeInclusive;

use crate::states;
use crate::text;

/// Length of every CURP.
pub const LEN: usize = 18;

/// The generic CURP that DGIS accepts when the real one is unknown. It is not an identity.
pub const PLACEHOLDER: &str = "XXXX999999XXXXXX99";

/// The 37-symbol dictionary of the check digit; the value of a symbol is its index.
pub const CHECK_DICTIONARY: [char; 37] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I',
    'J', 'K', 'L', 'M', 'N', 'Ñ', 'O', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z',
];

/// RENAPO's list of inconvenient words (Anexo 2): if positions 1–4 would spell one, position 2 becomes X.
pub const INCONVENIENT_WORDS: [&str; 81] = [
    "BACA", "BAKA", "BUEI", "BUEY", "CACA", "CACO", "CAGA", "CAGO", "CAKA", "CAKO", "COGE", "COGI",
    "COJA", "COJE", "COJI", "COJO", "COLA", "CULO", "FALO", "FETO", "GETA", "GUEI", "GUEY", "JETA",
    "JOTO", "KACA", "KACO", "KAGA", "KAGO", "KAKA", "KAKO", "KOGE", "KOGI", "KOJA", "KOJE", "KOJI",
    "KOJO", "KOLA", "KULO", "LILO", "LOCA", "LOCO", "LOKA", "LOKO", "MAME", "MAMO", "MEAR", "MEAS",
    "MEON", "MIAR", "MION", "MOCO", "MOKO", "MULA", "MULO", "NACA", "NACO", "PEDA", "PEDO", "PENE",
    "PIPI", "PITO", "POPO", "PUTA", "PUTO", "QULO", "RATA", "ROBA", "ROBE", "ROBO", "RUIN", "SENO",
    "TETA", "VACA", "VAGA", "VAGO", "VAKA", "VUEI", "VUEY", "WUEI", "WUEY",
];

/// Prepositions, conjunctions and contractions skipped in names (after folding).
pub const PARTICLES: [&str; 19] = [
    "DA", "DAS", "DE", "DEL", "DER", "DI", "DIE", "DD", "EL", "LA", "LOS", "LAS", "LE", "LES",
    "MAC", "MC", "VAN", "VON", "Y",
];

/// First given names that are skipped when a second given name exists (after folding, so `MA.` is `MA`,
/// `J.` is `J` and `JOSÉ` is `JOSE`).
pub const COMPOUND_FIRST_NAMES: [&str; 4] = ["MARIA", "MA", "JOSE", "J"];

/// Position 11 of a CURP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CurpSex {
    /// `H`.
    Hombre,
    /// `M`.
    Mujer,
    /// `X`, non-binary (issued since 2023; DGIS `sexoCURP = 3`).
    NoBinario,
}

impl CurpSex {
    /// The character used in position 11.
    pub fn as_char(self) -> char {
        match self {
            CurpSex::Hombre => 'H',
            CurpSex::Mujer => 'M',
            CurpSex::NoBinario => 'X',
        }
    }

    /// Parses position 11.
    pub fn from_char(c: char) -> Option<CurpSex> {
        match c {
            'H' => Some(CurpSex::Hombre),
            'M' => Some(CurpSex::Mujer),
            'X' => Some(CurpSex::NoBinario),
            _ => None,
        }
    }
}

/// Which name a derived character comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum NameField {
    /// Nombre(s): positions 4 and 16.
    GivenNames,
    /// Primer apellido: positions 1, 2 and 14.
    FirstSurname,
    /// Segundo apellido: positions 3 and 15.
    SecondSurname,
}

impl NameField {
    /// Spanish label, for messages.
    pub fn label_es(self) -> &'static str {
        match self {
            NameField::GivenNames => "nombre",
            NameField::FirstSurname => "primer apellido",
            NameField::SecondSurname => "segundo apellido",
        }
    }

    /// English label, for messages.
    pub fn label_en(self) -> &'static str {
        match self {
            NameField::GivenNames => "given name",
            NameField::FirstSurname => "first surname",
            NameField::SecondSurname => "second surname",
        }
    }
}

/// The characters a position accepts, as named in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum CharClass {
    /// A–Z (positions 1, 3, 4, 12, 13).
    Letter,
    /// A, E, I, O, U or X (position 2).
    VowelOrX,
    /// 0–9 (positions 5–10, 18).
    Digit,
    /// H, M or X (position 11).
    Sex,
    /// A letter other than A, E, I, O, U (positions 14–16).
    Consonant,
    /// 0–9 or A–Z (position 17).
    DigitOrLetter,
}

impl CharClass {
    /// The class of a 1-based position, `None` outside 1..=18.
    pub fn of_position(position: usize) -> Option<CharClass> {
        Some(match position {
            1 | 3 | 4 | 12 | 13 => CharClass::Letter,
            2 => CharClass::VowelOrX,
            5..=10 | 18 => CharClass::Digit,
            11 => CharClass::Sex,
            14..=16 => CharClass::Consonant,
            17 => CharClass::DigitOrLetter,
            _ => return None,
        })
    }

    /// Whether `c` belongs to the class.
    pub fn allows(self, c: char) -> bool {
        match self {
            CharClass::Letter => c.is_ascii_uppercase(),
            CharClass::VowelOrX => matches!(c, 'A' | 'E' | 'I' | 'O' | 'U' | 'X'),
            CharClass::Digit => c.is_ascii_digit(),
            CharClass::Sex => matches!(c, 'H' | 'M' | 'X'),
            CharClass::Consonant => c.is_ascii_uppercase() && !is_vowel(c),
            CharClass::DigitOrLetter => c.is_ascii_digit() || c.is_ascii_uppercase(),
        }
    }

    fn describe_es(self) -> &'static str {
        match self {
            CharClass::Letter => "una letra de la A a la Z (sin Ñ)",
            CharClass::VowelOrX => "una vocal (A, E, I, O, U) o X",
            CharClass::Digit => "un dígito del 0 al 9",
            CharClass::Sex => "H (hombre), M (mujer) o X (no binario)",
            CharClass::Consonant => "una consonante (letra que no sea A, E, I, O, U)",
            CharClass::DigitOrLetter => {
                "un dígito (nacidos antes de 2000) o una letra (nacidos desde 2000)"
            }
        }
    }

    fn describe_en(self) -> &'static str {
        match self {
            CharClass::Letter => "a letter A-Z (no Ñ)",
            CharClass::VowelOrX => "a vowel (A, E, I, O, U) or X",
            CharClass::Digit => "a digit 0-9",
            CharClass::Sex => "H (male), M (female) or X (non-binary)",
            CharClass::Consonant => "a consonant (a letter other than A, E, I, O, U)",
            CharClass::DigitOrLetter => {
                "a digit (born before 2000) or a letter (born 2000 or later)"
            }
        }
    }
}

/// What a 1-based position holds, in Spanish, for messages.
fn position_label_es(position: usize) -> &'static str {
    match position {
        1 => "inicial del primer apellido",
        2 => "primera vocal interna del primer apellido",
        3 => "inicial del segundo apellido",
        4 => "inicial del nombre",
        5 | 6 => "año de nacimiento",
        7 | 8 => "mes de nacimiento",
        9 | 10 => "día de nacimiento",
        11 => "sexo",
        12 | 13 => "entidad de nacimiento",
        14 => "primera consonante interna del primer apellido",
        15 => "primera consonante interna del segundo apellido",
        16 => "primera consonante interna del nombre",
        17 => "diferenciador de homonimia y siglo",
        18 => "dígito verificador",
        _ => "fuera de la CURP",
    }
}

/// What a 1-based position holds, in English, for messages.
fn position_label_en(position: usize) -> &'static str {
    match position {
        1 => "initial of first surname",
        2 => "first internal vowel of first surname",
        3 => "initial of second surname",
        4 => "initial of given name",
        5 | 6 => "birth year",
        7 | 8 => "birth month",
        9 | 10 => "birth day",
        11 => "sex",
        12 | 13 => "birth state",
        14 => "first internal consonant of first surname",
        15 => "first internal consonant of second surname",
        16 => "first internal consonant of given name",
        17 => "homonymy differentiator and century",
        18 => "check digit",
        _ => "outside the CURP",
    }
}

/// Why a string is not a CURP, or why a CURP cannot be derived. Positions are 1-based.
///
/// `Display` (and [`CurpError::message_en`]) is English; [`CurpError::message_es`] is the es-MX text for
/// clinicians and receptionists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CurpError {
    /// The input is the generic placeholder for an unknown CURP.
    #[error(
        "XXXX999999XXXXXX99 is the placeholder for an unknown CURP and identifies no one; record the real CURP or mark it as pending"
    )]
    Placeholder,
    /// Fewer than 18 characters (what the user typed so far may still be correct).
    #[error("incomplete CURP: {len} of 18 characters")]
    Incomplete {
        /// Characters present.
        len: usize,
    },
    /// More than 18 characters.
    #[error("CURP has {len} characters; it must have 18")]
    TooLong {
        /// Characters present.
        len: usize,
    },
    /// A character that the position never accepts.
    #[error(
        "position {position} ({}): {found:?} is not allowed; expected {}",
        position_label_en(*.position),
        .expected.describe_en()
    )]
    InvalidChar {
        /// 1-based position.
        position: usize,
        /// The offending character.
        found: char,
        /// What the position accepts.
        expected: CharClass,
    },
    /// Positions 7–8 are not a month 01–12.
    #[error("positions 7-8 (birth month): month {month:02} does not exist")]
    InvalidMonth {
        /// The month read from the CURP or given to derivation.
        month: u32,
    },
    /// Positions 9–10 are not a day of that month.
    #[error("positions 9-10 (birth day): {}", invalid_day_en(*.year, *.month, *.day))]
    InvalidDay {
        /// Full year when the century is known (position 17 present and valid).
        year: Option<i32>,
        /// Month 1–12.
        month: u32,
        /// The day that does not exist.
        day: u32,
    },
    /// Positions 12–13 are letters but not a state code.
    #[error(
        "positions 12-13 (birth state): {code:?} is not a RENAPO state code (e.g. DF, JC, NE for born abroad)"
    )]
    UnknownState {
        /// The two characters found.
        code: String,
    },
    /// Positions 1–4 spell an inconvenient word; RENAPO writes X in position 2 instead.
    #[error(
        "positions 1-4: {word:?} is on RENAPO's inconvenient-word list, so RENAPO would have written X in position 2"
    )]
    InconvenientWord {
        /// The four characters found.
        word: String,
    },
    /// The check digit does not match the first 17 characters.
    #[error(
        "position 18 (check digit): found {found} but the first 17 characters give {expected}; some character was probably mistyped"
    )]
    CheckDigit {
        /// Digit found in position 18.
        found: char,
        /// Digit computed from positions 1–17.
        expected: char,
    },
    /// Derivation: a name needed for the CURP has no letters after folding.
    #[error("the {} has no letters; a CURP cannot be formed", .field.label_en())]
    EmptyName {
        /// The empty name.
        field: NameField,
    },
    /// Derivation: a CURP only encodes birth years 1900–2099.
    #[error("birth year {year} cannot be encoded in a CURP (1900-2099 only)")]
    YearOutOfRange {
        /// The year given.
        year: i32,
    },
}

fn invalid_day_en(year: Option<i32>, month: u32, day: u32) -> String {
    match year {
        Some(year) => format!("{year:04}-{month:02}-{day:02} does not exist"),
        None => format!("day {day:02} does not exist in month {month:02}"),
    }
}

impl CurpError {
    /// The 1-based positions the error is about, if it concerns specific positions.
    pub fn positions(&self) -> Option<RangeInclusive<usize>> {
        match self {
            CurpError::InvalidChar { position, .. } => Some(*position..=*position),
            CurpError::InvalidMonth { .. } => Some(7..=8),
            CurpError::InvalidDay { .. } => Some(9..=10),
            CurpError::UnknownState { .. } => Some(12..=13),
            CurpError::InconvenientWord { .. } => Some(2..=2),
            CurpError::CheckDigit { .. } => Some(18..=18),
            CurpError::YearOutOfRange { .. } => Some(5..=6),
            CurpError::Placeholder
            | CurpError::Incomplete { .. }
            | CurpError::TooLong { .. }
            | CurpError::EmptyName { .. } => None,
        }
    }

    /// English message (same as `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }

    /// Spanish (es-MX) message for clinicians and receptionists.
    pub fn message_es(&self) -> String {
        match self {
            CurpError::Placeholder => {
                "XXXX999999XXXXXX99 es la CURP genérica para cuando se desconoce la CURP \
                 y no identifica a nadie; registre la CURP real o márquela como pendiente."
                    .to_owned()
            }
            CurpError::Incomplete { len } => {
                format!("CURP incompleta: lleva {len} de 18 caracteres.")
            }
            CurpError::TooLong { len } => {
                format!("La CURP tiene {len} caracteres; debe tener 18.")
            }
            CurpError::InvalidChar {
                position,
                found,
                expected,
            } => {
                let hint = if found.is_lowercase() {
                    " Escriba las letras en mayúsculas."
                } else if *found == 'Ñ' {
                    " La CURP nunca lleva Ñ: RENAPO la sustituye por X."
                } else {
                    ""
                };
                format!(
                    "Posición {position} ({}): «{found}» no es válido; se espera {}.{hint}",
                    position_label_es(*position),
                    expected.describe_es()
                )
            }
            CurpError::InvalidMonth { month } => {
                format!("Posiciones 7-8 (mes de nacimiento): el mes {month:02} no existe.")
            }
            CurpError::InvalidDay {
                year: Some(year),
                month,
                day,
            } => format!(
                "Posiciones 9-10 (día de nacimiento): la fecha {day:02}/{month:02}/{year:04} no existe."
            ),
            CurpError::InvalidDay {
                year: None,
                month,
                day,
            } => format!(
                "Posiciones 9-10 (día de nacimiento): el día {day:02} no existe en el mes {month:02}."
            ),
            CurpError::UnknownState { code } => format!(
                "Posiciones 12-13 (entidad de nacimiento): «{code}» no es una clave de entidad de RENAPO \
                 (por ejemplo DF, JC, o NE para nacidos en el extranjero)."
            ),
            CurpError::InconvenientWord { word } => format!(
                "Posiciones 1-4: «{word}» está en la lista de palabras inconvenientes de RENAPO, que en ese \
                 caso escribe X en la posición 2; revise la CURP."
            ),
            CurpError::CheckDigit { found, expected } => format!(
                "Posición 18 (dígito verificador): dice {found} pero los primeros 17 caracteres dan {expected}; \
                 probablemente algún carácter se capturó mal."
            ),
            CurpError::EmptyName { field } => format!(
                "El {} no tiene letras; no se puede formar la CURP.",
                field.label_es()
            ),
            CurpError::YearOutOfRange { year } => format!(
                "El año de nacimiento {year} no se puede representar en una CURP (solo 1900 a 2099)."
            ),
        }
    }
}

/// A valid CURP (all rules of [`validate`] hold).
///
/// Serialises as its 18-character string; deserialising validates.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Curp(String);

impl Curp {
    /// The 18 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Birth date as (year, month, day), the century taken from position 17.
    pub fn birth_date(&self) -> (i32, u32, u32) {
        let b = self.0.as_bytes();
        let yy = two_digits(b[4], b[5]);
        let century = if b[16].is_ascii_digit() { 1900 } else { 2000 };
        (
            century + yy as i32,
            two_digits(b[6], b[7]),
            two_digits(b[8], b[9]),
        )
    }

    /// Position 11.
    pub fn sex(&self) -> CurpSex {
        match self.0.as_bytes()[10] {
            b'H' => CurpSex::Hombre,
            b'M' => CurpSex::Mujer,
            _ => CurpSex::NoBinario,
        }
    }

    /// Positions 12–13, a code of [`crate::states`] (`NE` for born abroad).
    pub fn birth_state(&self) -> &str {
        &self.0[11..13]
    }

    /// Position 17, the differentiator RENAPO assigns to tell homonyms apart.
    pub fn homoclave(&self) -> char {
        char::from(self.0.as_bytes()[16])
    }
}

impl fmt::Display for Curp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Curp {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Curp {
    type Err = CurpError;
    fn from_str(s: &str) -> Result<Curp, CurpError> {
        validate(s)
    }
}

impl TryFrom<String> for Curp {
    type Error = CurpError;
    fn try_from(s: String) -> Result<Curp, CurpError> {
        match first_error(&s) {
            Some(error) => Err(error),
            None => Ok(Curp(s)),
        }
    }
}

impl From<Curp> for String {
    fn from(curp: Curp) -> String {
        curp.0
    }
}

/// Digits are checked by the caller; only ASCII digits reach here.
fn two_digits(tens: u8, units: u8) -> u32 {
    u32::from(tens.wrapping_sub(b'0')) * 10 + u32::from(units.wrapping_sub(b'0'))
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'A' | 'E' | 'I' | 'O' | 'U')
}

fn days_in_month(year: i32, month: u32) -> u32 {
    calendar::days_in_month(i64::from(year), month)
}

/// Trims surrounding whitespace and uppercases, the only forgiveness offered before [`validate`].
/// Does not remove inner spaces or hyphens: a CURP never contains them, so they are reported.
pub fn normalize(s: &str) -> String {
    s.trim().to_uppercase()
}

/// Validates a CURP strictly (see the module docs) and returns the first problem by position.
pub fn validate(s: &str) -> Result<Curp, CurpError> {
    match first_error(s) {
        Some(error) => Err(error),
        None => Ok(Curp(s.to_owned())),
    }
}

fn first_error(s: &str) -> Option<CurpError> {
    validate_all(s).into_iter().next()
}

/// Reports every problem of `s`, ordered by position; length problems come last. Empty means valid.
///
/// A prefix of a valid CURP gives only [`CurpError::Incomplete`], so a form can call this on every
/// keystroke; a wrong character is reported as soon as it is typed.
pub fn validate_all(s: &str) -> Vec<CurpError> {
    if s == PLACEHOLDER {
        return vec![CurpError::Placeholder];
    }
    let chars: Vec<char> = s.chars().collect();
    let mut errors = Vec::new();

    for (idx, &c) in chars.iter().take(LEN).enumerate() {
        let position = idx + 1;
        if let Some(expected) = CharClass::of_position(position)
            && !expected.allows(c)
        {
            errors.push(CurpError::InvalidChar {
                position,
                found: c,
                expected,
            });
        }
    }
    // A position is usable for cross-position rules when present and of the right class.
    let ok = |position: usize| {
        chars
            .get(position - 1)
            .is_some_and(|&c| CharClass::of_position(position).is_some_and(|class| class.allows(c)))
    };
    let digit = |position: usize| {
        chars
            .get(position - 1)
            .and_then(|c| c.to_digit(10))
            .unwrap_or(0)
    };

    if (1..=4).all(ok) {
        let word: String = chars[..4].iter().collect();
        if INCONVENIENT_WORDS.contains(&word.as_str()) {
            errors.push(CurpError::InconvenientWord { word });
        }
    }

    if ok(7) && ok(8) {
        let month = digit(7) * 10 + digit(8);
        if !(1..=12).contains(&month) {
            errors.push(CurpError::InvalidMonth { month });
        } else if ok(9) && ok(10) {
            let day = digit(9) * 10 + digit(10);
            let yy = (ok(5) && ok(6)).then(|| (digit(5) * 10 + digit(6)) as i32);
            let century = ok(17).then(|| {
                if chars[16].is_ascii_digit() {
                    1900
                } else {
                    2000
                }
            });
            let (year, max_day) = match (century, yy) {
                (Some(century), Some(yy)) => {
                    (Some(century + yy), days_in_month(century + yy, month))
                }
                // Century unknown: accept the day if some century makes it real (only 29 Feb of 00
                // depends on it: 1900 was not a leap year, 2000 was).
                (None, Some(yy)) => (
                    None,
                    days_in_month(1900 + yy, month).max(days_in_month(2000 + yy, month)),
                ),
                (_, None) => (None, days_in_month(2000, month)),
            };
            if day == 0 || day > max_day {
                errors.push(CurpError::InvalidDay { year, month, day });
            }
        }
    }

    if ok(12) && ok(13) {
        let code: String = chars[11..13].iter().collect();
        if states::by_curp_code(&code).is_none() {
            errors.push(CurpError::UnknownState { code });
        }
    }

    if chars.len() == LEN && ok(18) {
        let first17: String = chars[..17].iter().collect();
        if let Some(expected) = check_digit(&first17)
            && expected != chars[17]
        {
            errors.push(CurpError::CheckDigit {
                found: chars[17],
                expected,
            });
        }
    }

    // Stable sort: errors about earlier positions first, then length errors (no position).
    errors.sort_by_key(|e| e.positions().map_or(usize::MAX, |p| *p.start()));
    if chars.len() < LEN {
        errors.push(CurpError::Incomplete { len: chars.len() });
    } else if chars.len() > LEN {
        errors.push(CurpError::TooLong { len: chars.len() });
    }
    errors
}

/// Value of a symbol in the check-digit dictionary (`0`=0 … `N`=23, `Ñ`=24, `O`=25 … `Z`=36).
pub fn symbol_value(c: char) -> Option<u32> {
    CHECK_DICTIONARY
        .iter()
        .position(|&d| d == c)
        .map(|v| v as u32)
}

/// The check digit (position 18) for the first 17 characters, or `None` if `first17` is not 17
/// characters of the dictionary. Weights are 18 down to 2; digit = (10 − Σ mod 10) mod 10.
pub fn check_digit(first17: &str) -> Option<char> {
    let mut sum = 0u32;
    let mut count = 0usize;
    for (idx, c) in first17.chars().enumerate() {
        if idx >= LEN - 1 {
            return None;
        }
        sum += symbol_value(c)? * (LEN as u32 + 1 - (idx as u32 + 1));
        count += 1;
    }
    if count != LEN - 1 {
        return None;
    }
    char::from_digit((10 - sum % 10) % 10, 10)
}

/// The differentiator of position 17 for a homonym index `n` chosen by the caller (RENAPO's choice in
/// real life): a digit for births before 2000, a letter from 2000. `n` is reduced modulo 10 or 26.
pub fn homoclave_char(birth_year: i32, n: u32) -> char {
    let (base, count) = if birth_year < 2000 {
        (b'0', 10)
    } else {
        (b'A', 26)
    };
    // `n % count` is below 26, so the addition stays within ASCII.
    char::from(base + (n % count) as u8)
}

/// The data a CURP is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurpPerson<'a> {
    /// Nombre(s), as written (accents, Ñ, particles allowed).
    pub given_names: &'a str,
    /// Primer apellido. A person with a single surname puts it here.
    pub first_surname: &'a str,
    /// Segundo apellido, if any. `Some("")` counts as none.
    pub second_surname: Option<&'a str>,
    /// (year, month, day).
    pub birth_date: (i32, u32, u32),
    /// Position 11.
    pub sex: CurpSex,
    /// CURP state code (`JC`, `NE`...), exact uppercase.
    pub birth_state: &'a str,
}

/// The letters of a surname that the rules read: particles dropped (unless nothing else is left),
/// remaining words joined.
fn surname_key(raw: &str) -> String {
    let words = text::curp_name_words(raw);
    let kept: Vec<&String> = words
        .iter()
        .filter(|w| !PARTICLES.contains(&w.as_str()))
        .collect();
    if kept.is_empty() {
        words.concat()
    } else {
        kept.into_iter().map(String::as_str).collect()
    }
}

/// The given name the rules read: particles dropped (unless nothing else is left), then the first word,
/// or the second when the first is MARÍA/JOSÉ or an abbreviation and a second exists.
fn given_name_key(raw: &str) -> String {
    let words = text::curp_name_words(raw);
    let kept: Vec<&String> = words
        .iter()
        .filter(|w| !PARTICLES.contains(&w.as_str()))
        .collect();
    let kept: Vec<&String> = if kept.is_empty() {
        words.iter().collect()
    } else {
        kept
    };
    match kept.as_slice() {
        [first, second, ..] if COMPOUND_FIRST_NAMES.contains(&first.as_str()) => (*second).clone(),
        [first, ..] => (*first).clone(),
        [] => String::new(),
    }
}

fn first_letter(key: &str) -> char {
    key.chars().next().unwrap_or('X')
}

fn internal_vowel(key: &str) -> char {
    key.chars().skip(1).find(|&c| is_vowel(c)).unwrap_or('X')
}

fn internal_consonant(key: &str) -> char {
    key.chars().skip(1).find(|&c| !is_vowel(c)).unwrap_or('X')
}

/// Positions 1, 2, 3, 4, 14, 15, 16 from the name keys (missing names give X), with the
/// inconvenient-word substitution applied.
fn name_positions(given: &str, first: &str, second: &str) -> [char; 7] {
    let mut p2 = internal_vowel(first);
    let (p1, p3, p4) = (
        first_letter(first),
        first_letter(second),
        first_letter(given),
    );
    let word: String = [p1, p2, p3, p4].iter().collect();
    if INCONVENIENT_WORDS.contains(&word.as_str()) {
        p2 = 'X';
    }
    [
        p1,
        p2,
        p3,
        p4,
        internal_consonant(first),
        internal_consonant(second),
        internal_consonant(given),
    ]
}

/// The first 16 characters RENAPO's rules give for `person` (everything but the differentiator and the
/// check digit). See the module docs for the rules.
pub fn derive_prefix(person: &CurpPerson<'_>) -> Result<String, CurpError> {
    let first = surname_key(person.first_surname);
    if first.is_empty() {
        return Err(CurpError::EmptyName {
            field: NameField::FirstSurname,
        });
    }
    let given = given_name_key(person.given_names);
    if given.is_empty() {
        return Err(CurpError::EmptyName {
            field: NameField::GivenNames,
        });
    }
    let second = person.second_surname.map(surname_key).unwrap_or_default();

    let (year, month, day) = person.birth_date;
    if !(1900..=2099).contains(&year) {
        return Err(CurpError::YearOutOfRange { year });
    }
    if !(1..=12).contains(&month) {
        return Err(CurpError::InvalidMonth { month });
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(CurpError::InvalidDay {
            year: Some(year),
            month,
            day,
        });
    }
    if states::by_curp_code(person.birth_state).is_none() {
        return Err(CurpError::UnknownState {
            code: person.birth_state.to_owned(),
        });
    }

    let [p1, p2, p3, p4, c1, c2, c3] = name_positions(&given, &first, &second);
    let mut prefix = String::with_capacity(16);
    prefix.extend([p1, p2, p3, p4]);
    prefix.push_str(&format!("{:02}{month:02}{day:02}", year % 100));
    prefix.push(person.sex.as_char());
    prefix.push_str(person.birth_state);
    prefix.extend([c1, c2, c3]);
    Ok(prefix)
}

/// The full CURP the rules give for `person` with homonym index `n` (see [`homoclave_char`]).
pub fn derive(person: &CurpPerson<'_>, n: u32) -> Result<Curp, CurpError> {
    let mut curp = derive_prefix(person)?;
    curp.push(homoclave_char(person.birth_date.0, n));
    // The prefix holds only A–Z and 0–9, so the dictionary lookup always succeeds.
    if let Some(digit) = check_digit(&curp) {
        curp.push(digit);
    }
    // Re-validating costs little and guarantees the `Curp` invariant even if a rule above were wrong.
    validate(&curp)
}

/// A CURP position that does not match what the names imply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Disagreement {
    /// 1-based position: 1–4 or 14–16.
    pub position: usize,
    /// The name that position comes from.
    pub field: NameField,
    /// Character in the CURP.
    pub in_curp: char,
    /// Character the names imply.
    pub from_names: char,
}

impl Disagreement {
    /// Spanish warning text.
    pub fn message_es(&self) -> String {
        format!(
            "Posición {} ({}): la CURP tiene {} pero el {} capturado da {}.",
            self.position,
            position_label_es(self.position),
            self.in_curp,
            self.field.label_es(),
            self.from_names
        )
    }

    /// English warning text.
    pub fn message_en(&self) -> String {
        format!(
            "position {} ({}): the CURP has {} but the recorded {} gives {}",
            self.position,
            position_label_en(self.position),
            self.in_curp,
            self.field.label_en(),
            self.from_names
        )
    }
}

/// Compares positions 1–4 and 14–16 of `curp` with what the names imply under RENAPO's rules.
/// An empty list means they agree. Missing names imply X. Use the result to warn, not to reject:
/// RENAPO's registry may differ from the rules.
pub fn name_agreement(
    curp: &Curp,
    given_names: &str,
    first_surname: &str,
    second_surname: Option<&str>,
) -> Vec<Disagreement> {
    let implied = name_positions(
        &given_name_key(given_names),
        &surname_key(first_surname),
        &second_surname.map(surname_key).unwrap_or_default(),
    );
    const POSITIONS: [(usize, NameField); 7] = [
        (1, NameField::FirstSurname),
        (2, NameField::FirstSurname),
        (3, NameField::SecondSurname),
        (4, NameField::GivenNames),
        (14, NameField::FirstSurname),
        (15, NameField::SecondSurname),
        (16, NameField::GivenNames),
    ];
    let bytes = curp.as_str().as_bytes();
    POSITIONS
        .iter()
        .zip(implied)
        .filter_map(|(&(position, field), from_names)| {
            let in_curp = char::from(bytes[position - 1]);
            (in_curp != from_names).then_some(Disagreement {
                position,
                field,
                in_curp,
                from_names,
            })
        })
        .collect()
}
