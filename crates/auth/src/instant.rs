//! Milliseconds since the Unix epoch to and from the FHIR text forms this crate reads and writes.
//!
//! Everything here is pure: the clock is the caller's.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Formats an instant as a FHIR `instant` in UTC with milliseconds: `2026-11-25T16:32:05.123Z`.
/// Out-of-range values (beyond year 9999) are clamped to the epoch so that formatting never fails.
pub fn format_instant(ms: i64) -> String {
    let datetime = datetime_utc(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        datetime.year(),
        u8::from(datetime.month()),
        datetime.day(),
        datetime.hour(),
        datetime.minute(),
        datetime.second(),
        datetime.millisecond()
    )
}

/// Formats `ms` shifted by `utc_offset_minutes` as `dd/mm/aaaa HH:MM` (the Mexican order).
pub fn format_local_es(ms: i64, utc_offset_minutes: i32) -> String {
    let shifted = ms.saturating_add(i64::from(utc_offset_minutes) * 60_000);
    let datetime = datetime_utc(shifted);
    format!(
        "{:02}/{:02}/{:04} {:02}:{:02}",
        datetime.day(),
        u8::from(datetime.month()),
        datetime.year(),
        datetime.hour(),
        datetime.minute()
    )
}

fn datetime_utc(ms: i64) -> OffsetDateTime {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The interval `[start_ms, end_ms)` covered by a FHIR `date` or `dateTime`: `2026` is the whole
/// year, `2026-11` the month, `2026-11-25` the day (in UTC), a full date-time the instant itself
/// (end = start + 1 ms). `None` for anything else.
pub fn parse_fhir_datetime(text: &str) -> Option<(i64, i64)> {
    let text = text.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let year_of = |s: &str| -> Option<i32> { digits(s).then(|| s.parse().ok()).flatten() };
    let start_of = |date: Date| -> i64 {
        PrimitiveDateTime::new(date, Time::MIDNIGHT)
            .assume_utc()
            .unix_timestamp()
            .saturating_mul(1000)
    };
    match text.len() {
        4 => {
            let year = year_of(text)?;
            let start = Date::from_calendar_date(year, Month::January, 1).ok()?;
            let end = Date::from_calendar_date(year + 1, Month::January, 1).ok()?;
            Some((start_of(start), start_of(end)))
        }
        7 => {
            let (year, month) = text.split_once('-')?;
            let year = year_of(year)?;
            let month = Month::try_from(digits(month).then(|| month.parse::<u8>().ok())??).ok()?;
            let start = Date::from_calendar_date(year, month, 1).ok()?;
            let (next_year, next_month) = if month == Month::December {
                (year + 1, Month::January)
            } else {
                (year, month.next())
            };
            let end = Date::from_calendar_date(next_year, next_month, 1).ok()?;
            Some((start_of(start), start_of(end)))
        }
        10 => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let date = Date::parse(text, format).ok()?;
            let end = date.next_day()?;
            Some((start_of(date), start_of(end)))
        }
        _ => {
            let datetime =
                OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
            let ms = i64::try_from(
                datetime.to_offset(UtcOffset::UTC).unix_timestamp_nanos() / 1_000_000,
            )
            .ok()?;
            Some((ms, ms.saturating_add(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{format_instant, format_local_es, parse_fhir_datetime};

    #[test]
    fn formats_instants_in_utc_with_millis() {
        assert_eq!(format_instant(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-25T16:32:05.123Z, computed independently: 20782 days since 1970-01-01 (checked with Python datetime) + 16:32:05.123.
        let ms = (20_782_i64 * 86_400 + 16 * 3600 + 32 * 60 + 5) * 1000 + 123;
        assert_eq!(format_instant(ms), "2026-11-25T16:32:05.123Z");
        assert_eq!(format_local_es(ms, -360), "25/11/2026 10:32");
        assert_eq!(format_local_es(ms, 0), "25/11/2026 16:32");
        // Crossing midnight backwards with the offset.
        let early = (20_782_i64 * 86_400 + 3 * 3600) * 1000;
        assert_eq!(format_local_es(early, -360), "24/11/2026 21:00");
    }

    #[test]
    fn parses_fhir_dates_as_intervals() {
        let day = 86_400_000_i64;
        assert_eq!(parse_fhir_datetime("1970"), Some((0, 365 * day)));
        assert_eq!(parse_fhir_datetime("1970-02"), Some((31 * day, 59 * day)));
        assert_eq!(parse_fhir_datetime("1970-12"), Some((334 * day, 365 * day)));
        assert_eq!(parse_fhir_datetime("1970-01-02"), Some((day, 2 * day)));
        assert_eq!(
            parse_fhir_datetime("1970-01-01T01:00:00-06:00"),
            Some((7 * 3_600_000, 7 * 3_600_000 + 1))
        );
        for bad in [
            "",
            "19x0",
            "1970-13",
            "1970-02-30",
            "yesterday",
            "1970-1-1",
            "+970",
        ] {
            assert_eq!(parse_fhir_datetime(bad), None, "{bad}");
        }
    }
}
