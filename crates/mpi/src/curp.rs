//! The few CURP facts the matcher needs: shape, check digit and how far apart two CURPs are.
//!
//! Full CURP validation (state catalogue, inconvenient words, consistency with the name) belongs to the
//! `mexico` crate and the API layer; this crate must not depend on it. Matching only needs to know whether
//! a CURP can be trusted as an identity (shape and check digit pass) and whether two CURPs differ by a
//! single keying error.

/// Number of characters in a CURP.
pub const CURP_LEN: usize = 18;

/// Symbol values for the check digit (mexico.md §A1): 0–9, A–N, Ñ, O–Z, value = index.
const CHECK_ALPHABET: &str = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ";

/// How far a CURP string can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurpQuality {
    /// Right shape and check digit: an identity.
    Valid,
    /// Right shape but the check digit fails: a mistyped CURP, still useful evidence.
    BadCheckDigit,
    /// Not a CURP at all; ignored.
    Malformed,
}

/// True when `curp` has the CURP layout: 4 letters, 6 digits, sex H/M/X, 2 letters, 3 letters, 1
/// alphanumeric homoclave and 1 digit. Lenient on which letters, strict on layout.
pub fn shape_ok(curp: &str) -> bool {
    let chars: Vec<char> = curp.chars().collect();
    if chars.len() != CURP_LEN {
        return false;
    }
    let letter = |c: char| c.is_ascii_uppercase() || c == 'Ñ';
    chars[..4].iter().all(|c| letter(*c))
        && chars[4..10].iter().all(char::is_ascii_digit)
        && matches!(chars[10], 'H' | 'M' | 'X')
        && chars[11..16].iter().all(|c| letter(*c))
        && (chars[16].is_ascii_digit() || chars[16].is_ascii_uppercase())
        && chars[17].is_ascii_digit()
}

/// The check digit for the first 17 characters, or `None` if a character is outside the alphabet.
pub fn check_digit(first17: &str) -> Option<u32> {
    let mut sum: u32 = 0;
    let mut n = 0;
    for (weight, c) in (2..=18u32).rev().zip(first17.chars()) {
        let value = CHECK_ALPHABET.chars().position(|a| a == c)?;
        sum += u32::try_from(value).ok()? * weight;
        n += 1;
    }
    (n == CURP_LEN - 1).then_some((10 - sum % 10) % 10)
}

/// Classifies a CURP string (already trimmed and upper-cased).
pub fn quality(curp: &str) -> CurpQuality {
    if !shape_ok(curp) {
        return CurpQuality::Malformed;
    }
    let first17: String = curp.chars().take(CURP_LEN - 1).collect();
    let last = curp.chars().last().and_then(|c| c.to_digit(10));
    if check_digit(&first17).is_some() && check_digit(&first17) == last {
        CurpQuality::Valid
    } else {
        CurpQuality::BadCheckDigit
    }
}

/// True when two equal-length CURPs differ by exactly one substituted character or one swap of adjacent
/// characters — the keying errors a clerk makes copying a CURP.
pub fn one_keying_error_apart(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() != b.len() {
        return false;
    }
    let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    match diffs.as_slice() {
        [_] => true,
        [i, j] => *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i],
        _ => false,
    }
}

#[cfg(test)]
mod tests;
