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
