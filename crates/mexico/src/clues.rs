//! CLUES (Clave Única de Establecimientos de Salud): format validation and the institution codes.
//!
//! No official format specification was found; the format is derived from DGIS data (mexico.md §A2):
//! 11 characters: a 2-letter state (the CURP state codes, without `NE`: a facility is always in Mexico),
//! a 3-letter institution and a 6-digit consecutive number; no check digit.
//! A well-formed CLUES may still not exist or not be "EN OPERACIÓN"; only the DGIS catalog can tell,
//! so the API should also check the downloaded catalog. This module is the offline, first-line check.
//!
//! Like [`crate::curp::validate`], [`validate_clues`] is strict; [`normalize_clues`] trims and uppercases.

#[cfg(test)]
mod tests;

use std::fmt;

use crate::states;

/// Length of every CLUES.
pub const LEN: usize = 11;

/// How sure we are that an institution code exists in the DGIS CLUES catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Evidence {
    /// Seen in DGIS sample data (Ramazzini `CEX-EJEMPLOS-2410.txt`, cited in mexico.md §A2).
    DgisSample,
    /// Believed from the structure of the public CLUES catalog but not verified in this project;
    /// confirm against the catalog before relying on it.
    Assumed,
}

/// An institution code (positions 3–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Institution {
    /// Three uppercase letters.
    pub code: &'static str,
    /// Spanish name.
    pub name: &'static str,
    /// How the code is known.
    pub evidence: Evidence,
}

const fn institution(code: &'static str, name: &'static str, evidence: Evidence) -> Institution {
    Institution {
        code,
        name,
        evidence,
    }
}

/// Institution codes accepted in positions 3–5. Unknown codes are rejected; extend this list (or better,
/// load the catalog) when a real CLUES is refused.
pub static INSTITUTIONS: [Institution; 15] = [
    institution(
        "SSA",
        "Secretaría de Salud / servicios estatales de salud",
        Evidence::DgisSample,
    ),
    institution("IMB", "IMSS-Bienestar", Evidence::DgisSample),
    institution("SME", "Servicios médicos estatales", Evidence::DgisSample),
    institution(
        "IMS",
        "Instituto Mexicano del Seguro Social (IMSS)",
        Evidence::Assumed,
    ),
    institution("IST", "ISSSTE", Evidence::Assumed),
    institution("PMX", "Petróleos Mexicanos (Pemex)", Evidence::Assumed),
    institution(
        "SDN",
        "Secretaría de la Defensa Nacional (Sedena)",
        Evidence::Assumed,
    ),
    institution("SMA", "Secretaría de Marina (Semar)", Evidence::Assumed),
    institution(
        "DIF",
        "Sistema Nacional para el Desarrollo Integral de la Familia",
        Evidence::Assumed,
    ),
    institution(
        "IMO",
        "IMSS-Oportunidades / IMSS-Prospera (antecesor de IMSS-Bienestar)",
        Evidence::Assumed,
    ),
    institution("SMM", "Servicios médicos municipales", Evidence::Assumed),
    institution("SMP", "Servicios médicos privados", Evidence::Assumed),
    institution("UNI", "Servicios médicos universitarios", Evidence::Assumed),
    institution("CRO", "Cruz Roja Mexicana", Evidence::Assumed),
    institution("CIJ", "Centros de Integración Juvenil", Evidence::Assumed),
];

/// Looks an institution up by its three-letter code.
pub fn institution_by_code(code: &str) -> Option<&'static Institution> {
    INSTITUTIONS.iter().find(|i| i.code == code)
}

/// The characters a CLUES position accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum CluesCharClass {
    /// A–Z (positions 1–5).
    Letter,
    /// 0–9 (positions 6–11).
    Digit,
}

impl CluesCharClass {
    fn of_position(position: usize) -> CluesCharClass {
        if position <= 5 {
            CluesCharClass::Letter
        } else {
            CluesCharClass::Digit
        }
    }

    fn allows(self, c: char) -> bool {
        match self {
            CluesCharClass::Letter => c.is_ascii_uppercase(),
            CluesCharClass::Digit => c.is_ascii_digit(),
        }
    }
}

/// Why a string is not a CLUES. `Display` is English; see [`CluesError::message_es`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CluesError {
    /// Not 11 characters.
    #[error("a CLUES has 11 characters (e.g. JCSSA005386); this one has {len}")]
    Length {
        /// Characters present.
        len: usize,
    },
    /// A character of the wrong kind. Positions are 1-based.
    #[error(
        "CLUES position {position}: {found:?} is not allowed; expected {}",
        match .expected { CluesCharClass::Letter => "an uppercase letter A-Z", CluesCharClass::Digit => "a digit 0-9" }
    )]
    InvalidChar {
        /// 1-based position.
        position: usize,
        /// The offending character.
        found: char,
        /// What the position accepts.
        expected: CluesCharClass,
    },
    /// Positions 1–2 are not a state code.
    #[error("CLUES positions 1-2: {code:?} is not a state code (CURP codes such as DF, JC, MC)")]
    UnknownState {
        /// The two letters found.
        code: String,
    },
    /// Positions 1–2 are `NE` (born abroad), which exists for people, not facilities.
    #[error("CLUES positions 1-2: NE means 'born abroad' and is not a facility state")]
    AbroadState,
    /// Positions 3–5 are not a known institution.
    #[error(
        "CLUES positions 3-5: {code:?} is not a known institution code (e.g. SSA, IMB, IMS, IST)"
    )]
    UnknownInstitution {
        /// The three letters found.
        code: String,
    },
}

impl CluesError {
    /// English message (same as `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }

    /// Spanish (es-MX) message.
    pub fn message_es(&self) -> String {
        match self {
            CluesError::Length { len } => format!(
                "La CLUES tiene 11 caracteres (por ejemplo JCSSA005386); esta tiene {len}."
            ),
            CluesError::InvalidChar { position, found, expected } => format!(
                "CLUES, posición {position}: «{found}» no es válido; se espera {}.",
                match expected {
                    CluesCharClass::Letter => "una letra mayúscula de la A a la Z",
                    CluesCharClass::Digit => "un dígito del 0 al 9",
                }
            ),
            CluesError::UnknownState { code } => format!(
                "CLUES, posiciones 1-2: «{code}» no es una clave de entidad (claves de la CURP como DF, JC, MC)."
            ),
            CluesError::AbroadState => {
                "CLUES, posiciones 1-2: NE significa «nacido en el extranjero» y no corresponde a un \
                 establecimiento."
                    .to_owned()
            }
            CluesError::UnknownInstitution { code } => format!(
                "CLUES, posiciones 3-5: «{code}» no es una clave de institución conocida (por ejemplo SSA, IMB, \
                 IMS, IST)."
            ),
        }
    }
}

/// A well-formed CLUES with a known state and institution.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Clues(String);

impl Clues {
    /// The 11 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Positions 1–2, a CURP state code (never `NE`).
    pub fn state(&self) -> &str {
        &self.0[..2]
    }

    /// Positions 3–5, an institution code of [`INSTITUTIONS`].
    pub fn institution(&self) -> &str {
        &self.0[2..5]
    }

    /// Positions 6–11, the six-digit consecutive number, leading zeros kept.
    pub fn number(&self) -> &str {
        &self.0[5..]
    }
}

impl fmt::Display for Clues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Clues {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Clues {
    type Err = CluesError;
    fn from_str(s: &str) -> Result<Clues, CluesError> {
        validate_clues(s)
    }
}

impl TryFrom<String> for Clues {
    type Error = CluesError;
    fn try_from(s: String) -> Result<Clues, CluesError> {
        validate_clues(&s)
    }
}

impl From<Clues> for String {
    fn from(clues: Clues) -> String {
        clues.0
    }
}

/// Trims surrounding whitespace and uppercases; the only forgiveness offered before [`validate_clues`].
pub fn normalize_clues(s: &str) -> String {
    s.trim().to_uppercase()
}

/// Validates a CLUES strictly and returns the first problem: characters by position, then the state,
/// then the institution.
pub fn validate_clues(s: &str) -> Result<Clues, CluesError> {
    let len = s.chars().count();
    if len != LEN {
        return Err(CluesError::Length { len });
    }
    for (idx, found) in s.chars().enumerate() {
        let position = idx + 1;
        let expected = CluesCharClass::of_position(position);
        if !expected.allows(found) {
            return Err(CluesError::InvalidChar {
                position,
                found,
                expected,
            });
        }
    }
    // All 11 characters are ASCII from here on, so byte slicing is on character boundaries.
    let state = &s[..2];
    match states::by_curp_code(state) {
        None => {
            return Err(CluesError::UnknownState {
                code: state.to_owned(),
            });
        }
        Some(state) if !state.is_federal_entity() => return Err(CluesError::AbroadState),
        Some(_) => {}
    }
    let institution = &s[2..5];
    if institution_by_code(institution).is_none() {
        return Err(CluesError::UnknownInstitution {
            code: institution.to_owned(),
        });
    }
    Ok(Clues(s.to_owned()))
}
