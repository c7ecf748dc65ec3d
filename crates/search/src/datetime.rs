//! FHIR date, dateTime and instant values as inclusive UTC millisecond ranges.
//!
//! R4 date search compares ranges: a value covers the whole span its precision implies
//! ("2020" is all of 2020, "2020-03-01T10:00:00Z" is one second). Both index entries and
//! query values are turned into `[low_ms, high_ms]` here, with the same code, so equal texts
//! give equal ranges. The calendar arithmetic is done by hand (proleptic Gregorian, years
//! 0001–9999) to stay allocation-free and independent of any clock.

/// The earliest instant representable in FHIR (`0001-01-01T00:00:00Z`), used as the low end
/// of open-started periods.
pub const DATE_MIN_MS: i64 = -62_135_596_800_000;
/// The last millisecond representable in FHIR (`9999-12-31T23:59:59.999Z`), used as the high
/// end of open-ended periods ("missing end → far future").
pub const DATE_MAX_MS: i64 = 253_402_300_799_999;

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 (months and days here are already range-checked small numbers).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    calendar::days_from_civil(
        year,
        u32::try_from(month).unwrap_or(0),
        u32::try_from(day).unwrap_or(0),
    )
}

fn days_in_month(year: i64, month: i64) -> i64 {
    i64::from(calendar::days_in_month(
        year,
        u32::try_from(month).unwrap_or(0),
    ))
}

fn digits(bytes: &[u8], start: usize, len: usize) -> Option<i64> {
    let slice = bytes.get(start..start + len)?;
    let mut value = 0i64;
    for b in slice {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(b - b'0');
    }
    Some(value)
}

/// Parses a FHIR `date`, `dateTime` or `instant` (or a search value of the same grammar,
/// where the seconds may be omitted) into the inclusive range of UTC milliseconds it covers.
///
/// A value with a time but no zone is read as UTC; so is a date without time (FHIR dates
/// carry no zone). A space before the zone offset is accepted as `+`, because an unencoded `+`
/// in a query string arrives as a space. Returns `None` for anything malformed.
pub fn date_range(text: &str) -> Option<(i64, i64)> {
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    if year == 0 {
        return None;
    }
    if bytes.len() == 4 {
        let low = days_from_civil(year, 1, 1) * MS_PER_DAY;
        let high = days_from_civil(year + 1, 1, 1) * MS_PER_DAY - 1;
        return Some((low, high));
    }
    if bytes.get(4) != Some(&b'-') {
        return None;
    }
    let month = digits(bytes, 5, 2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    if bytes.len() == 7 {
        let low = days_from_civil(year, month, 1) * MS_PER_DAY;
        let (ny, nm) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        let high = days_from_civil(ny, nm, 1) * MS_PER_DAY - 1;
        return Some((low, high));
    }
    if bytes.get(7) != Some(&b'-') {
        return None;
    }
    let day = digits(bytes, 8, 2)?;
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let day_start = days_from_civil(year, month, day) * MS_PER_DAY;
    if bytes.len() == 10 {
        return Some((day_start, day_start + MS_PER_DAY - 1));
    }
    if bytes.get(10) != Some(&b'T') {
        return None;
    }
    let hour = digits(bytes, 11, 2)?;
    if bytes.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(bytes, 14, 2)?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut pos = 16;
    // The span of the stated precision, in ms (minus one, for an inclusive high end).
    let mut span_ms = 60_000;
    let mut second_ms = 0;
    if bytes.get(pos) == Some(&b':') {
        let second = digits(bytes, pos + 1, 2)?;
        // 60 is a leap second; fold it into the last second of the minute.
        if second > 60 {
            return None;
        }
        second_ms = second.min(59) * 1000;
        span_ms = 1000;
        pos += 3;
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            let start = pos;
            while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
                pos += 1;
            }
            let n_digits = pos - start;
            if n_digits == 0 {
                return None;
            }
            let millis = digits(bytes, start, n_digits.min(3))?;
            // ".5" is 500 ms with a 100 ms span; beyond three digits the span is one ms.
            let scale = [100, 10, 1][n_digits.min(3) - 1];
            second_ms += millis * scale;
            span_ms = scale;
        }
    }
    let offset_ms = match bytes.get(pos) {
        None => 0,
        Some(b'Z') if pos + 1 == bytes.len() => 0,
        Some(sign @ (b'+' | b'-' | b' ')) => {
            if bytes.len() != pos + 6 || bytes.get(pos + 3) != Some(&b':') {
                return None;
            }
            let oh = digits(bytes, pos + 1, 2)?;
            let om = digits(bytes, pos + 4, 2)?;
            if oh > 14 || om > 59 {
                return None;
            }
            let magnitude = (oh * 60 + om) * 60_000;
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        Some(_) => return None,
    };
    let low = day_start + (hour * 60 + minute) * 60_000 + second_ms - offset_ms;
    Some((low, low + span_ms - 1))
}
