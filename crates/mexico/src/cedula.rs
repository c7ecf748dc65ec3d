//! Cédula profesional: the number SEP's Dirección General de Profesiones gives a practitioner.
//!
//! Per mexico.md §A8 it is numeric, 7 or 8 digits. There is no check digit, so a well-formed number
//! can still be wrong; the Registro Nacional de Profesionistas is the authority. Older cédulas with
//! fewer digits may exist (numbering started decades ago); the rule here follows the domain document
//! and should be relaxed if real practitioners are refused.

#[cfg(test)]
mod tests;

use std::fmt;

/// Fewest digits accepted (mexico.md §A8).
pub const DIGITS_MIN: usize = 7;
/// Most digits accepted (mexico.md §A8).
pub const DIGITS_MAX: usize = 8;

/// Why a string is not a cédula profesional. `Display` is English; see [`CedulaError::message_es`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CedulaError {
    /// A non-digit character (1-based position).
    #[error("professional licence (cédula) position {position}: {found:?} is not a digit")]
    NotDigit {
        /// 1-based position.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// Not 7 or 8 digits.
    #[error("a professional licence (cédula) has 7 or 8 digits; this one has {len}")]
    Length {
        /// Characters present.
        len: usize,
    },
}

impl CedulaError {
    /// English message (same as `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }

    /// Spanish (es-MX) message.
    pub fn message_es(&self) -> String {
        match self {
            CedulaError::NotDigit { position, found } => {
                format!("Cédula profesional, posición {position}: «{found}» no es un dígito.")
            }
            CedulaError::Length { len } => {
                format!("La cédula profesional tiene 7 u 8 dígitos; esta tiene {len}.")
            }
        }
    }
}

/// A well-formed cédula profesional (7 or 8 ASCII digits, leading zeros kept as typed).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Cedula(String);

impl Cedula {
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cedula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Cedula {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Cedula {
    type Err = CedulaError;
    fn from_str(s: &str) -> Result<Cedula, CedulaError> {
        validate_cedula(s)
    }
}

impl TryFrom<String> for Cedula {
    type Error = CedulaError;
    fn try_from(s: String) -> Result<Cedula, CedulaError> {
        validate_cedula(&s)
    }
}

impl From<Cedula> for String {
    fn from(cedula: Cedula) -> String {
        cedula.0
    }
}

/// Validates strictly: only digits (no spaces, no separators), 7 or 8 of them.
/// A non-digit is reported before the length, because it is the more specific problem.
pub fn validate_cedula(s: &str) -> Result<Cedula, CedulaError> {
    if let Some((idx, found)) = s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(CedulaError::NotDigit {
            position: idx + 1,
            found,
        });
    }
    let len = s.len();
    if !(DIGITS_MIN..=DIGITS_MAX).contains(&len) {
        return Err(CedulaError::Length { len });
    }
    Ok(Cedula(s.to_owned()))
}
