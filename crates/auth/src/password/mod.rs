//! Passwords: Argon2id hashing (PHC strings) and the password policy. Throttling of sign-in
//! attempts is [`crate::throttle`] (growing delays, no lockout).
//!
//! Clinic nodes verify clinicians' passwords locally, offline, so the hash must be strong on its
//! own: Argon2id with OWASP's minimum (19 MiB, 2 passes, 1 lane) by default. The salt is passed in
//! ([`new_salt`] draws one from the OS) so that hashing itself is deterministic and testable.

#[cfg(test)]
mod tests;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, Version};

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl HashCost {
    /// OWASP Password Storage Cheat Sheet's Argon2id minimum (m = 19 MiB, t = 2, p = 1): about
    /// 30–60 ms per login on the 2-core clinic PC in a release build, which the login rate limit
    /// makes affordable, while a stolen database costs an attacker the same per guess.
    pub const RECOMMENDED: HashCost = HashCost {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// The smallest cost argon2 accepts; for tests only (never store such hashes).
    pub const TEST_ONLY: HashCost = HashCost {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
}

/// Minimum password length in characters (NOM-024 asks for user + password at minimum; 10 is
/// where a human-chosen password stops being guessable offline at Argon2id cost, per NIST
/// SP 800-63B's 8 plus a margin for a national system).
pub const PASSWORD_CHARS_MIN: usize = 10;

/// Maximum length in bytes: long passphrases are fine, megabyte inputs to the hash are not.
pub const PASSWORD_BYTES_MAX: usize = 256;

/// Salt length (the PHC recommendation).
pub const SALT_LEN: usize = 16;

/// Password problems.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The OS random source failed.
    #[error("the operating system's random number generator failed")]
    Random,
    /// Invalid cost parameters.
    #[error("invalid Argon2 parameters")]
    Params,
    /// Hashing failed (input too long for argon2, …).
    #[error("password hashing failed")]
    Hash,
    /// The stored hash is not a PHC string.
    #[error("the stored password hash is malformed")]
    MalformedHash,
    /// The stored hash is not Argon2id (e.g. an imported bcrypt or Argon2i hash).
    #[error("the stored password hash is not Argon2id")]
    NotArgon2id,
}

/// A new random salt from the operating system (the crate's only randomness besides key
/// generation).
pub fn new_salt() -> Result<[u8; SALT_LEN], PasswordError> {
    argon2::password_hash::try_generate_salt().map_err(|_| PasswordError::Random)
}

fn hasher(cost: HashCost) -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|_| PasswordError::Params)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password to a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…$…`). The policy is not
/// checked here (an administrator's reset may be checked separately with [`check_policy`]).
pub fn hash_password(
    password: &str,
    salt: &[u8; SALT_LEN],
    cost: HashCost,
) -> Result<String, PasswordError> {
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(PasswordError::Hash);
    }
    let hash = hasher(cost)?
        .hash_password_with_salt(password.as_bytes(), salt)
        .map_err(|_| PasswordError::Hash)?;
    Ok(hash.to_string())
}

/// Verifies a password against a stored PHC string. `Ok(false)` is a wrong password; errors mean
/// the stored hash itself is unusable (the account needs a reset). The comparison is constant-time
/// (argon2's `Output` equality).
pub fn verify_password(password: &str, stored: &str) -> Result<bool, PasswordError> {
    let hash = PasswordHash::new(stored).map_err(|_| PasswordError::MalformedHash)?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(PasswordError::NotArgon2id);
    }
    if password.len() > PASSWORD_BYTES_MAX {
        return Ok(false);
    }
    use argon2::PasswordVerifier;
    match Argon2::default().verify_password(password.as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(PasswordError::MalformedHash),
    }
}

/// Whether a stored hash is weaker than `cost` (or not Argon2id) and should be replaced after
/// the next successful login.
pub fn needs_rehash(stored: &str, cost: HashCost) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return true;
    };
    if hash.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(&hash) {
        Ok(params) => {
            params.m_cost() < cost.memory_kib
                || params.t_cost() < cost.iterations
                || params.p_cost() < cost.parallelism
        }
        Err(_) => true,
    }
}

/// One rule a proposed password breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyViolation {
    /// Shorter than [`PASSWORD_CHARS_MIN`].
    TooShort,
    /// Longer than [`PASSWORD_BYTES_MAX`].
    TooLong,
    /// Only digits (a date, a phone number).
    AllDigits,
    /// One character repeated, or a run of consecutive characters (`abcdefghij`, `1234567890`).
    Trivial,
    /// Contains the username (case-insensitive).
    ContainsUsername,
    /// A well-known password.
    Common,
    /// Contains control characters (they cannot be typed reliably on every device).
    ControlCharacter,
}

impl PolicyViolation {
    /// The message for the user (es-MX).
    pub fn message_es(self) -> String {
        match self {
            PolicyViolation::TooShort => {
                format!("la contraseña debe tener al menos {PASSWORD_CHARS_MIN} caracteres")
            }
            PolicyViolation::TooLong => {
                format!("la contraseña no debe pasar de {PASSWORD_BYTES_MAX} bytes")
            }
            PolicyViolation::AllDigits => "la contraseña no puede ser solo números".into(),
            PolicyViolation::Trivial => {
                "la contraseña no puede ser un carácter repetido ni una secuencia".into()
            }
            PolicyViolation::ContainsUsername => {
                "la contraseña no puede contener el nombre de usuario".into()
            }
            PolicyViolation::Common => "esa contraseña es demasiado común".into(),
            PolicyViolation::ControlCharacter => {
                "la contraseña contiene caracteres de control".into()
            }
        }
    }

    /// The message in English.
    pub fn message_en(self) -> String {
        match self {
            PolicyViolation::TooShort => {
                format!("the password must have at least {PASSWORD_CHARS_MIN} characters")
            }
            PolicyViolation::TooLong => {
                format!("the password must not exceed {PASSWORD_BYTES_MAX} bytes")
            }
            PolicyViolation::AllDigits => "the password cannot be only digits".into(),
            PolicyViolation::Trivial => {
                "the password cannot be a repeated character or a sequence".into()
            }
            PolicyViolation::ContainsUsername => "the password cannot contain the username".into(),
            PolicyViolation::Common => "that password is too common".into(),
            PolicyViolation::ControlCharacter => "the password contains control characters".into(),
        }
    }
}

/// Passwords that are long enough but guessed first (lists of leaked passwords, Spanish ones
/// included). Compared lowercased.
const COMMON: &[&str] = &[
    "contraseña",
    "contrasena",
    "contraseña1",
    "contrasena1",
    "contraseña123",
    "contrasena123",
    "password123",
    "password1234",
    "passw0rd123",
    "qwertyuiop",
    "qwerty1234",
    "1q2w3e4r5t",
    "asdfghjkl1",
    "iloveyou12",
    "teamo12345",
    "mexico1234",
    "mexico2026",
    "admin12345",
    "administrador",
    "bienvenido",
    "bienvenido1",
    "expediente",
    "expediente1",
    "hospital123",
    "doctor1234",
    "enfermera1",
];

/// Checks a proposed password and lists every rule it breaks (empty = acceptable).
pub fn check_policy(password: &str, username: &str) -> Vec<PolicyViolation> {
    let mut violations = Vec::new();
    let chars: Vec<char> = password.chars().collect();
    if chars.len() < PASSWORD_CHARS_MIN {
        violations.push(PolicyViolation::TooShort);
    }
    if password.len() > PASSWORD_BYTES_MAX {
        violations.push(PolicyViolation::TooLong);
    }
    if !chars.is_empty() && chars.iter().all(char::is_ascii_digit) {
        violations.push(PolicyViolation::AllDigits);
    }
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|pair| {
            let step = i64::from(u32::from(pair[1])) - i64::from(u32::from(pair[0]));
            // Digits wrap like a keyboard row: `…890` and `…098` are still sequences.
            match (pair[0].is_ascii_digit() && pair[1].is_ascii_digit(), step) {
                (true, -9) => 1,
                (true, 9) => -1,
                _ => step,
            }
        })
        .collect();
    if !steps.is_empty()
        && (steps.iter().all(|step| *step == 0)
            || steps.iter().all(|step| *step == 1)
            || steps.iter().all(|step| *step == -1))
    {
        violations.push(PolicyViolation::Trivial);
    }
    let lower = password.to_lowercase();
    let username = username.trim().to_lowercase();
    if username.chars().count() >= 3 && lower.contains(&username) {
        violations.push(PolicyViolation::ContainsUsername);
    }
    if COMMON.contains(&lower.as_str()) {
        violations.push(PolicyViolation::Common);
    }
    if chars.iter().any(|c| c.is_control()) {
        violations.push(PolicyViolation::ControlCharacter);
    }
    violations
}
