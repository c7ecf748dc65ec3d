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
    // The bounds are computed in decimal, not as `value ± half` in binary floating point:
    // 0.4 − 0.05 is 0.35000000000000003 in f64, which would miss a stored 0.35.
    // With the digits as one integer M and scale s (value = M·10^s), the bounds are
    // (10M ∓ 5)·10^(s−1), written as text and parsed once, so each is correctly rounded.
    let negative = bytes.first() == Some(&b'-');
    let mut digits: String = text[usize::from(negative)..]
        .bytes()
        .take_while(|b| *b != b'e' && *b != b'E')
        .filter(u8::is_ascii_digit)
        .map(char::from)
        .collect();
    let trimmed = digits.trim_start_matches('0');
    digits = if trimmed.is_empty() {
        "0".to_string()
    } else {
        trimmed.to_string()
    };
    let scale = exponent.checked_sub(frac_digits)?.checked_sub(1)?;
    let above = format!("{digits}5e{scale}");
    let below = match decrement(&digits) {
        Some(smaller) => format!("{smaller}5e{scale}"),
        // M = 0: 10M − 5 = −5.
        None => format!("-5e{scale}"),
    };
    let above: f64 = above.parse().ok()?;
    let below: f64 = below.parse().ok()?;
    let (low, high) = if negative {
        (-above, -below)
    } else {
        (below, above)
    };
    Some((value, low, high))
}

/// `digits − 1` for a decimal digit string without leading zeros; `None` for "0".
fn decrement(digits: &str) -> Option<String> {
    if digits == "0" {
        return None;
    }
    let mut bytes = digits.as_bytes().to_vec();
    for byte in bytes.iter_mut().rev() {
        if *byte == b'0' {
            *byte = b'9';
        } else {
            *byte -= 1;
            break;
        }
    }
    let text = String::from_utf8(bytes).ok()?;
    let trimmed = text.trim_start_matches('0');
    Some(if trimmed.is_empty() {
        String::new()
    } else {
        trimmed.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::decimal_range;

    #[test]
    fn bounds_are_exact_in_decimal() {
        assert_eq!(decimal_range("0.4"), Some((0.4, 0.35, 0.45)));
        assert_eq!(decimal_range("72.50"), Some((72.5, 72.495, 72.505)));
        assert_eq!(decimal_range("100"), Some((100.0, 99.5, 100.5)));
        assert_eq!(decimal_range("-2.0"), Some((-2.0, -2.05, -1.95)));
        assert_eq!(decimal_range("0"), Some((0.0, -0.5, 0.5)));
        assert_eq!(decimal_range("1e2"), Some((100.0, 50.0, 150.0)));
        assert_eq!(decimal_range("0.10"), Some((0.1, 0.095, 0.105)));
        assert_eq!(decimal_range("1e999999"), None);
        assert_eq!(decimal_range("1."), None);
    }
}
