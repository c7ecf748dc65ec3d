//! The crate's error type. Matching itself never fails (bad input is compared as missing); only
//! configuration can be wrong.

/// Errors of the `mpi` crate.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An error rate outside `0.0..=1.0`.
    #[error("error rate `{name}` must be between 0 and 1, got {value}")]
    InvalidRate { name: &'static str, value: f64 },
}

impl Error {
    /// Message for Spanish-speaking operators.
    pub fn message_es(&self) -> String {
        match self {
            Error::InvalidRate { name, value } => {
                format!("La tasa de error `{name}` debe estar entre 0 y 1; se recibió {value}.")
            }
        }
    }

    /// Message in English (same as `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}
