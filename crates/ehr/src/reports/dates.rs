//! Dates as public health counts them: local civil dates in Mexico City and epidemiological
//! weeks. Pure.
//!
//! Why here and not in `calendar`: only the reports need them, and they take `time::Date`,
//! which `ehr` already uses for instants.

use time::{Date, Duration, Month, OffsetDateTime};

/// The epidemiological week of a date: weeks run Sunday to Saturday, and week 1 of a year is
/// the first week with at least four days in January. A week has four days in January
/// exactly when its Wednesday (its fourth day) is in January, so a week belongs to the year
/// of its Wednesday, and its number counts Wednesdays from the first one of that year.
pub fn epi_week(date: Date) -> (i32, u8) {
    let wednesday = week_sunday(date) + Duration::days(3);
    let week = (wednesday.ordinal() - 1) / 7 + 1;
    (wednesday.year(), u8::try_from(week).unwrap_or(u8::MAX))
}

/// The Sunday that starts the week holding `date`.
pub fn week_sunday(date: Date) -> Date {
    date - Duration::days(i64::from(date.weekday().number_days_from_sunday()))
}

/// The Sunday that starts epidemiological week `week` of `year` (week 1 when `week` is 0).
pub fn epi_week_start(year: i32, week: u8) -> Option<Date> {
    let january_first = Date::from_calendar_date(year, Month::January, 1).ok()?;
    let to_wednesday = (7 + 3 - i64::from(january_first.weekday().number_days_from_sunday())) % 7;
    let first_wednesday = january_first + Duration::days(to_wednesday);
    let weeks = i64::from(week.max(1)) - 1;
    Some(first_wednesday - Duration::days(3) + Duration::weeks(weeks))
}

/// How many epidemiological weeks `year` has (52 or 53).
pub fn epi_weeks_in(year: i32) -> u8 {
    match epi_week_start(year + 1, 1) {
        Some(next) => epi_week(next - Duration::days(1)).1,
        None => 52,
    }
}

/// Mexico City's offset from UTC at an instant, in seconds, from the tz database
/// (`calendar::zone`): UTC−6, and UTC−5 in the daylight-saving seasons of 1996–2022.
pub fn mexico_city_offset_seconds(at: OffsetDateTime) -> i32 {
    const STANDARD: i32 = -6 * 3600;
    let epoch_ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    calendar::zone::utc_offset_at(calendar::zone::DEFAULT_ZONE, epoch_ms).unwrap_or(STANDARD)
}

/// The local civil date in Mexico City of a FHIR `date` or `dateTime`. A plain date is
/// already civil and is taken as written; a dateTime (which carries its offset) is moved to
/// Mexico City time. Partial dates (`2025`, `2025-03`) cannot be placed in a week: `None`.
pub fn local_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    if text.len() == 10 {
        return Date::parse(text, &format).ok();
    }
    let at = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let offset = time::UtcOffset::from_whole_seconds(mexico_city_offset_seconds(at)).ok()?;
    Some(at.to_offset(offset).date())
}

/// The instant of a FHIR `date` or `dateTime`, for ordering records of one day (a plain date
/// counts as its local midnight, UTC−6): epoch seconds.
pub fn instant_seconds(text: &str) -> Option<i64> {
    if text.len() == 10 {
        let date = local_date(text)?;
        return Some(date.midnight().assume_utc().unix_timestamp() + 6 * 3600);
    }
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// Parses `YYYY-MM-DD` (a report parameter).
pub fn parse_day(text: &str) -> Option<Date> {
    if text.len() != 10 {
        return None;
    }
    Date::parse(
        text,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// `date` moved by `days` (saturating at the calendar's ends).
pub fn add_days(date: Date, days: i64) -> Date {
    date.checked_add(Duration::days(days)).unwrap_or(date)
}

/// `YYYY-MM-DD`.
pub fn format_day(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The same calendar day `months` months earlier (the last day of a shorter month when the
/// day does not exist there: 31 March minus one month is 28 or 29 February).
pub fn months_before(date: Date, months: u32) -> Date {
    let total = date.year() * 12 + i32::from(u8::from(date.month())) - 1 - months as i32;
    let year = total.div_euclid(12);
    let month_number = u8::try_from(total.rem_euclid(12) + 1).unwrap_or(1);
    let month = Month::try_from(month_number).unwrap_or(Month::January);
    let day = date.day().min(time::util::days_in_month(month, year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        parse_day(text).unwrap()
    }

    #[test]
    fn epi_weeks_follow_the_wednesday() {
        // 2026-01-01 is a Thursday: its week (Sun 2025-12-28 .. Sat 2026-01-03) has only three
        // days in January, so it is the last week of 2025.
        assert_eq!(epi_week(day("2026-01-01")), (2025, 53));
        assert_eq!(epi_week(day("2026-01-03")), (2025, 53));
        assert_eq!(epi_week(day("2026-01-04")), (2026, 1));
        assert_eq!(epi_week(day("2026-01-10")), (2026, 1));
        assert_eq!(epi_week(day("2026-01-11")), (2026, 2));
        // 2025-01-01 is a Wednesday: week 1 starts Sunday 2024-12-29.
        assert_eq!(epi_week(day("2024-12-29")), (2025, 1));
        assert_eq!(epi_week(day("2024-12-28")), (2024, 52));
        assert_eq!(epi_weeks_in(2025), 53);
        assert_eq!(epi_weeks_in(2024), 52);
        assert_eq!(epi_week_start(2026, 1), Some(day("2026-01-04")));
        assert_eq!(epi_week_start(2025, 53), Some(day("2025-12-28")));
    }

    #[test]
    fn datetimes_become_mexico_city_dates() {
        // 03:00 UTC is 21:00 the day before in Mexico City (UTC−6 since 2022).
        assert_eq!(local_date("2026-01-04T03:00:00Z"), Some(day("2026-01-03")));
        assert_eq!(
            local_date("2026-01-03T23:30:00-06:00"),
            Some(day("2026-01-03"))
        );
        // Daylight time in July 2020: 04:30 UTC is 23:30 the day before (UTC−5).
        assert_eq!(local_date("2020-07-10T04:30:00Z"), Some(day("2020-07-09")));
        assert_eq!(local_date("2020-07-10T05:30:00Z"), Some(day("2020-07-10")));
        // In January 2020 (standard time) 05:30 UTC is still the day before.
        assert_eq!(local_date("2020-01-10T05:30:00Z"), Some(day("2020-01-09")));
        assert_eq!(local_date("2025-03-12"), Some(day("2025-03-12")));
        assert_eq!(local_date("2025-03"), None);
    }

    #[test]
    fn months_back_clamp_to_the_month() {
        assert_eq!(months_before(day("2026-03-31"), 1), day("2026-02-28"));
        assert_eq!(months_before(day("2026-06-30"), 12), day("2025-06-30"));
        assert_eq!(months_before(day("2026-01-15"), 3), day("2025-10-15"));
    }
}
