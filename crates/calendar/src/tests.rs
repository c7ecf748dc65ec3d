//! The calendar against known dates and a round trip over four centuries.

use super::*;

#[test]
fn leap_years_and_month_lengths() {
    assert!(is_leap_year(2000) && is_leap_year(2024) && is_leap_year(-4));
    assert!(!is_leap_year(1900) && !is_leap_year(2023) && !is_leap_year(2100));
    assert_eq!(days_in_month(2024, 2), 29);
    assert_eq!(days_in_month(1900, 2), 28);
    assert_eq!(days_in_month(2026, 11), 30);
    assert_eq!(days_in_month(2026, 13), 0);
    assert_eq!(days_in_month(2026, 0), 0);
    assert!(is_valid_date(2024, 2, 29) && !is_valid_date(2023, 2, 29));
    assert!(!is_valid_date(2026, 4, 31) && !is_valid_date(2026, 1, 0));
}

#[test]
fn day_numbers_of_known_dates() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(days_from_civil(1969, 12, 31), -1);
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(20_793), (2026, 12, 6));
    // 2026-12-06 is a Sunday; 1970-01-01 a Thursday.
    assert_eq!(weekday(20_793), 6);
    assert_eq!(weekday(0), 3);
}

#[test]
fn every_day_of_four_centuries_round_trips() {
    let start = days_from_civil(1800, 1, 1);
    let end = days_from_civil(2200, 1, 1);
    let mut previous = civil_from_days(start - 1);
    for day in start..end {
        let date = civil_from_days(day);
        assert!(is_valid_date(date.0, date.1, date.2), "{date:?}");
        assert_eq!(days_from_civil(date.0, date.1, date.2), day);
        assert!(date > previous);
        previous = date;
    }
}

#[test]
fn mexico_city_offsets_follow_the_tz_history() {
    use zone::*;
    // Standard time today (Mexico ended daylight saving in October 2022).
    assert_eq!(
        utc_offset_at_local(DEFAULT_ZONE, (2026, 7, 15), (10, 30, 0)),
        Ok(-6 * 3600)
    );
    // Summer 2021 was still daylight saving time: UTC-5.
    assert_eq!(
        utc_offset_at_local(DEFAULT_ZONE, (2021, 7, 15), (10, 30, 0)),
        Ok(-5 * 3600)
    );
    // Tijuana still follows the US rule.
    assert_eq!(
        utc_offset_at_local("America/Tijuana", (2026, 7, 15), (10, 30, 0)),
        Ok(-7 * 3600)
    );
    // 2021-04-04 02:30 never happened in Mexico City (clocks jumped 02:00 → 03:00): the
    // offset before the change is taken.
    assert_eq!(
        utc_offset_at_local(DEFAULT_ZONE, (2021, 4, 4), (2, 30, 0)),
        Ok(-6 * 3600)
    );
    assert_eq!(format_offset(-6 * 3600), "-06:00");
    assert_eq!(format_offset(5 * 3600 + 1800), "+05:30");
    assert_eq!(format_offset(0), "+00:00");
    assert!(matches!(
        utc_offset_at_local("Mars/Olympus", (2026, 1, 1), (0, 0, 0)),
        Err(ZoneError::UnknownZone(_))
    ));
    assert_eq!(
        utc_offset_at_local(DEFAULT_ZONE, (2026, 2, 30), (0, 0, 0)),
        Err(ZoneError::InvalidTime)
    );
    // 2026-01-01T05:30Z is still New Year's Eve in Mexico City.
    let ms = (days_from_civil(2026, 1, 1) * 86_400 + 5 * 3600 + 1800) * 1000;
    assert_eq!(local_date(DEFAULT_ZONE, ms), Ok((2025, 12, 31)));
}
