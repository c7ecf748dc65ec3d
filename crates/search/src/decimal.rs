//! Decimal values with their implicit precision, as R4 number and quantity search needs.
//!
//! R4 says a number means the range its written precision implies: `100` is `[99.5, 100.5]`,
//! `72.50` is `[72.495, 72.505]`, `1e2` is `[50, 150]` (half a unit in the last significant
//! digit). The JSON tree keeps numbers as text, so the precision is still there to read.
//! Index entries and query values use this same function, so equal texts give equal bounds.

/// Parses a JSON/FHIR decimal (`-?digits(.digits)?([eE][+-]?digits)?`) into
/// `(value, low, high)`, where `[low, high]` is the implicit-precision range.
pub fn decimal_range(text: &str) -> Option<(f64, f64, f64)> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    if bytes.first() == Some(&b'-') {
        pos += 1;
    }
    let int_start = pos;
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    if pos == int_start {
        return None;
    }
    let mut frac_digits: i32 = 0;
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        if pos == start {
            return None;
        }
        frac_digits = i32::try_from(pos - start).ok()?;
    }
    let mut exponent: i32 = 0;
    if let Some(b'e' | b'E') = bytes.get(pos) {
        let exp_text = text.get(pos + 1..)?;
        exponent = exp_text.trim_start_matches('+').parse().ok()?;
        if exp_text.is_empty()
            || !exp_text
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
        {
            return None;
        }
        pos = bytes.len();
    }
    if pos != bytes.len() {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let half = 0.5 * 10f64.powi(exponent.saturating_sub(frac_digits));
    Some((value, value - half, value + half))
}
