//! Calendar arithmetic for the screens: day numbers, ages, display formats.
//!
//! Why our own: the UI only needs civil dates, whole-year ages and "30 days ago"; day numbers
//! (days since 1970-01-01) make those plain integer comparisons. The request time comes in as
//! an argument (`now_ms`); nothing here reads the clock. Clinics show Mexico's central time,
//! which has kept UTC−6 all year since daylight saving ended in 2022.

/// Offset of central Mexico from UTC, in milliseconds.
pub const MEXICO_OFFSET_MS: i64 = -6 * 60 * 60 * 1000;

const MS_PER_DAY: i64 = 24 * 60 * 60 * 1000;

pub use calendar::{civil_from_days, days_from_civil};

/// Today's day number in Mexico at `now_ms`.
pub fn today(now_ms: i64) -> i64 {
    (now_ms + MEXICO_OFFSET_MS).div_euclid(MS_PER_DAY)
}

/// The day number of a FHIR `date`/`dateTime` (`2025-03-12`, `2025-03-12T09:45:00-06:00`,
/// `2025-03`), using the date as written (local to where it was recorded).
pub fn parse_day(text: &str) -> Option<i64> {
    let date = text.get(..10).unwrap_or(text);
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next().map_or(Some(1), |m| m.parse().ok())?;
    let day: u32 = parts.next().map_or(Some(1), |d| d.parse().ok())?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// `YYYY-MM-DD` of a day number (for FHIR dates and search parameters).
pub fn iso(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `DD/MM/AAAA`, as dates are written in Mexico.
pub fn display(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{d:02}/{m:02}/{y:04}")
}

/// `DD/MM/AAAA` of a FHIR date text, or the text itself when it does not parse.
pub fn display_text(text: &str) -> String {
    parse_day(text).map_or_else(|| text.to_string(), display)
}

/// Whole months between a birth day and a later day.
pub fn age_months(birth: i64, on: i64) -> i64 {
    let (by, bm, bd) = civil_from_days(birth);
    let (y, m, d) = civil_from_days(on);
    let mut months = (y - by) * 12 + i64::from(m) - i64::from(bm);
    if d < bd {
        months -= 1;
    }
    months.max(0)
}

/// The day `months` calendar months after `day` (clamped to the month's end).
pub fn add_months(day: i64, months: i64) -> i64 {
    let (y, m, d) = civil_from_days(day);
    let total = y * 12 + i64::from(m) - 1 + months;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let last = days_from_civil(
        if nm == 12 { ny + 1 } else { ny },
        if nm == 12 { 1 } else { nm + 1 },
        1,
    ) - days_from_civil(ny, nm, 1);
    days_from_civil(ny, nm, d.min(last as u32))
}

/// An instant as FHIR `dateTime` in Mexico time (`2026-11-25T09:05:00-06:00`).
pub fn instant_mexico(now_ms: i64) -> String {
    let local_ms = now_ms + MEXICO_OFFSET_MS;
    let days = local_ms.div_euclid(MS_PER_DAY);
    let seconds = local_ms.rem_euclid(MS_PER_DAY) / 1000;
    format!(
        "{}T{:02}:{:02}:{:02}-06:00",
        iso(days),
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// `DD/MM/AAAA HH:MM` of an instant, in Mexico time.
pub fn display_instant(ms: i64) -> String {
    let local_ms = ms + MEXICO_OFFSET_MS;
    let seconds = local_ms.rem_euclid(MS_PER_DAY) / 1000;
    format!(
        "{} {:02}:{:02}",
        display(local_ms.div_euclid(MS_PER_DAY)),
        seconds / 3600,
        seconds / 60 % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip_and_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for day in [-1000, 0, 11_016, 11_017, 20_000, 20_512] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn ages_count_whole_months() {
        let birth = days_from_civil(2024, 1, 31);
        assert_eq!(age_months(birth, days_from_civil(2024, 2, 29)), 0);
        assert_eq!(age_months(birth, days_from_civil(2024, 3, 1)), 1);
        assert_eq!(add_months(birth, 1), days_from_civil(2024, 2, 29));
        assert_eq!(add_months(birth, 12), days_from_civil(2025, 1, 31));
    }

    #[test]
    fn instants_are_shown_in_mexico_time() {
        // 2026-11-25T03:00:00Z is 21:00 the day before in Mexico City.
        let ms = days_from_civil(2026, 11, 25) * MS_PER_DAY + 3 * 3600 * 1000;
        assert_eq!(instant_mexico(ms), "2026-11-24T21:00:00-06:00");
        assert_eq!(today(ms), days_from_civil(2026, 11, 24));
        assert_eq!(
            parse_day("2025-03-12T09:45:00-06:00"),
            Some(days_from_civil(2025, 3, 12))
        );
        assert_eq!(parse_day("nope"), None);
    }
}
