//! Calendar arithmetic and Mexican time zones, without a clock and without a date library.
//!
//! Dates are day numbers since 1970-01-01 (Howard Hinnant's civil algorithms), which makes "add 30
//! days" and "is it a Sunday" integer operations. Times are written as local wall-clock time with the
//! UTC offset that applied at that place and date, because that is what a clinic's system records:
//! Mexico abolished daylight saving time on 2022-10-30, except the border municipalities, which follow
//! the United States rules (Ley de los Husos Horarios en los Estados Unidos Mexicanos, DOF 2022-10-28).

use std::fmt;

/// A day number: days since 1970-01-01.
pub(crate) type Day = i64;

/// Day number of a civil date (proleptic Gregorian).
pub(crate) fn days_from_civil(y: i32, m: u32, d: u32) -> Day {
    calendar::days_from_civil(i64::from(y), m, d)
}

/// Civil date of a day number (years of a population fit an `i32`).
pub(crate) fn civil_from_days(z: Day) -> (i32, u32, u32) {
    let (y, m, d) = calendar::civil_from_days(z);
    (i32::try_from(y).unwrap_or(i32::MAX), m, d)
}

/// 0 = Monday … 6 = Sunday.
pub(crate) fn weekday(day: Day) -> i64 {
    // 1970-01-01 was a Thursday (3).
    (day + 3).rem_euclid(7)
}

/// True for a valid civil date.
pub(crate) fn is_valid(y: i32, m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && d >= 1 && civil_from_days(days_from_civil(y, m, d)) == (y, m, d)
}

/// Parses `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Option<Day> {
    let bytes = s.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let y: i32 = s.get(0..4)?.parse().ok()?;
    let m: u32 = s.get(5..7)?.parse().ok()?;
    let d: u32 = s.get(8..10)?.parse().ok()?;
    is_valid(y, m, d).then(|| days_from_civil(y, m, d))
}

/// Whole years between a birth day and a later day (the age a clinician writes).
pub(crate) fn age_years(birth: Day, at: Day) -> i64 {
    let (by, bm, bd) = civil_from_days(birth);
    let (ay, am, ad) = civil_from_days(at);
    let mut age = i64::from(ay - by);
    if (am, ad) < (bm, bd) {
        age -= 1;
    }
    age
}

/// Whole months between a birth day and a later day.
pub(crate) fn age_months(birth: Day, at: Day) -> i64 {
    let (by, bm, bd) = civil_from_days(birth);
    let (ay, am, ad) = civil_from_days(at);
    let mut months = i64::from(ay - by) * 12 + i64::from(am) - i64::from(bm);
    if ad < bd {
        months -= 1;
    }
    months
}

/// The day `months` calendar months after `day` (clamped to the end of shorter months).
pub(crate) fn add_months(day: Day, months: i64) -> Day {
    let (y, m, d) = civil_from_days(day);
    let total = i64::from(y) * 12 + i64::from(m) - 1 + months;
    let ny = total.div_euclid(12) as i32;
    let nm = (total.rem_euclid(12) + 1) as u32;
    let mut nd = d;
    while nd > 28 && !is_valid(ny, nm, nd) {
        nd -= 1;
    }
    days_from_civil(ny, nm, nd)
}

/// A date for FHIR `date` (`YYYY-MM-DD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Date(pub(crate) Day);

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Time-zone rules of a place (a facility's municipality).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// Zona Centro, UTC−6; Mexican DST (first Sunday of April to last Sunday of October) until 2022.
    Centro,
    /// Zona Pacífico (BCS, Sinaloa, Nayarit), UTC−7, Mexican DST until 2022.
    Pacifico,
    /// Sonora: UTC−7 all year (no DST since 1999).
    Sonora,
    /// Quintana Roo, Zona Sureste: UTC−5 all year since 2015.
    Sureste,
    /// Chihuahua outside the border strip: UTC−7 with Mexican DST until 2022-10-30, then UTC−6.
    Chihuahua,
    /// Baja California (Zona Noroeste): UTC−8 with United States DST dates.
    Noroeste,
    /// Ciudad Juárez and the Chihuahua border: UTC−7 with United States DST dates.
    FronteraMontana,
    /// Border municipalities of Coahuila, Nuevo León and Tamaulipas: UTC−6 with United States DST dates.
    FronteraCentro,
}

/// The last day (inclusive) on which Mexico's national DST still applied: it ended 2022-10-30.
const MEXICAN_DST_LAST_YEAR: i32 = 2022;

/// Day number of the `nth` (1-based) Sunday of a month, or the last Sunday when `nth == 0`.
fn sunday(y: i32, m: u32, nth: u32) -> Day {
    if nth == 0 {
        let next_month = if m == 12 {
            days_from_civil(y + 1, 1, 1)
        } else {
            days_from_civil(y, m + 1, 1)
        };
        let last = next_month - 1;
        last - (weekday(last) + 1) % 7
    } else {
        let first = days_from_civil(y, m, 1);
        let first_sunday = first + (6 - weekday(first));
        first_sunday + 7 * (i64::from(nth) - 1)
    }
}

fn mexican_dst(day: Day) -> bool {
    let (y, _, _) = civil_from_days(day);
    y <= MEXICAN_DST_LAST_YEAR && day >= sunday(y, 4, 1) && day < sunday(y, 10, 0)
}

fn us_dst(day: Day) -> bool {
    let (y, _, _) = civil_from_days(day);
    day >= sunday(y, 3, 2) && day < sunday(y, 11, 1)
}

impl Zone {
    /// UTC offset in minutes on a given day (the switch hour, 02:00, is outside clinic hours).
    pub(crate) fn offset_minutes(self, day: Day) -> i32 {
        let hours = match self {
            Zone::Centro => {
                if mexican_dst(day) {
                    -5
                } else {
                    -6
                }
            }
            Zone::Pacifico => {
                if mexican_dst(day) {
                    -6
                } else {
                    -7
                }
            }
            Zone::Sonora => -7,
            Zone::Sureste => -5,
            Zone::Chihuahua => {
                // UTC−7 with summer time until the 2022 reform; UTC−6 all year since 2022-10-30.
                let (y, _, _) = civil_from_days(day);
                let reformed =
                    y > MEXICAN_DST_LAST_YEAR || day >= sunday(MEXICAN_DST_LAST_YEAR, 10, 0);
                if reformed || mexican_dst(day) { -6 } else { -7 }
            }
            Zone::Noroeste => {
                if us_dst(day) {
                    -7
                } else {
                    -8
                }
            }
            Zone::FronteraMontana => {
                if us_dst(day) {
                    -6
                } else {
                    -7
                }
            }
            Zone::FronteraCentro => {
                if us_dst(day) {
                    -5
                } else {
                    -6
                }
            }
        };
        hours * 60
    }
}

/// A local date and time with its UTC offset, for FHIR `dateTime` and `instant`
/// (`2024-03-15T09:42:00-06:00`: seconds and offset always present, so it is a valid instant too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTime {
    pub(crate) day: Day,
    /// Minutes after local midnight, `0..1440`.
    pub(crate) minute: u32,
    pub(crate) offset_minutes: i32,
}

impl DateTime {
    pub(crate) fn new(day: Day, minute: u32, zone: Zone) -> DateTime {
        DateTime {
            day,
            minute: minute % 1440,
            offset_minutes: zone.offset_minutes(day),
        }
    }

    /// The same wall clock moved forward by `minutes` (within the same day's offset; clinic visits do not
    /// straddle midnight, and when they would, the day rolls over).
    pub(crate) fn plus_minutes(self, minutes: u32) -> DateTime {
        let total = self.minute + minutes;
        DateTime {
            day: self.day + i64::from(total / 1440),
            minute: total % 1440,
            offset_minutes: self.offset_minutes,
        }
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.day);
        let (hh, mm) = (self.minute / 60, self.minute % 60);
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let off = self.offset_minutes.unsigned_abs();
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:00{sign}{:02}:{:02}",
            off / 60,
            off % 60
        )
    }
}

impl serde::Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::{
        DateTime, Zone, add_months, age_years, civil_from_days, days_from_civil, parse_date,
        weekday,
    };

    #[test]
    fn civil_round_trip_and_weekday() {
        for day in -30_000..30_000 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        // 2026-11-01 is a Sunday.
        assert_eq!(weekday(days_from_civil(2026, 11, 1)), 6);
        assert_eq!(parse_date("2024-02-29"), Some(days_from_civil(2024, 2, 29)));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-2-28"), None);
    }

    #[test]
    fn ages_and_months() {
        let birth = days_from_civil(2000, 2, 29);
        assert_eq!(age_years(birth, days_from_civil(2001, 2, 28)), 0);
        assert_eq!(age_years(birth, days_from_civil(2001, 3, 1)), 1);
        assert_eq!(
            civil_from_days(add_months(days_from_civil(2023, 1, 31), 1)),
            (2023, 2, 28)
        );
    }

    #[test]
    fn offsets_follow_the_2022_reform() {
        let summer_2022 = days_from_civil(2022, 7, 1);
        let summer_2023 = days_from_civil(2023, 7, 1);
        assert_eq!(Zone::Centro.offset_minutes(summer_2022), -300);
        assert_eq!(Zone::Centro.offset_minutes(summer_2023), -360);
        assert_eq!(Zone::Sureste.offset_minutes(summer_2023), -300);
        assert_eq!(Zone::Noroeste.offset_minutes(summer_2023), -420);
        assert_eq!(
            Zone::Noroeste.offset_minutes(days_from_civil(2023, 12, 1)),
            -480
        );
        assert_eq!(Zone::Chihuahua.offset_minutes(summer_2023), -360);
        assert_eq!(
            Zone::Chihuahua.offset_minutes(days_from_civil(2022, 1, 10)),
            -420
        );
        let dt = DateTime::new(days_from_civil(2024, 3, 15), 9 * 60 + 42, Zone::Centro);
        assert_eq!(dt.to_string(), "2024-03-15T09:42:00-06:00");
    }
}
