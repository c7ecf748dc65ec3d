//! Birth dates: parsing and the "near miss" relations clerks produce.
//!
//! A birth date is the strongest non-CURP identifier, so its errors deserve their own agreement level:
//! day and month swapped (US vs Mexican order), one digit mistyped, the year off by one (age computed
//! instead of asked). Anything else is a disagreement.

use serde::{Deserialize, Serialize};

/// A full calendar date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BirthDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// How two birth dates relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRelation {
    Exact,
    TransposedDayMonth,
    OneDigit,
    YearOffByOne,
    AdjacentDigitsSwapped,
    Different,
}

/// Days in `month` of `year` (0 for an invalid month).
pub fn days_in_month(year: u16, month: u8) -> u8 {
    // At most 31: always fits.
    u8::try_from(calendar::days_in_month(i64::from(year), u32::from(month))).unwrap_or(0)
}

impl BirthDate {
    /// A checked date; `None` for impossible dates (month 13, 30 February).
    pub fn new(year: u16, month: u8, day: u8) -> Option<BirthDate> {
        (day >= 1 && day <= days_in_month(year, month)).then_some(BirthDate { year, month, day })
    }

    /// Parses `YYYY-MM-DD` (a longer FHIR dateTime is cut to its date). Partial dates (`YYYY`, `YYYY-MM`)
    /// and impossible dates are `None`: they cannot be compared day by day.
    pub fn parse(s: &str) -> Option<BirthDate> {
        let s = s.trim();
        let date = s.get(..10)?;
        let bytes = date.as_bytes();
        let layout_ok = bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
        if !layout_ok {
            return None;
        }
        let year = date[..4].parse().ok()?;
        let month = date[5..7].parse().ok()?;
        let day = date[8..10].parse().ok()?;
        BirthDate::new(year, month, day)
    }

    fn digits(self) -> [u8; 8] {
        let s = format!("{:04}{:02}{:02}", self.year, self.month, self.day);
        let mut out = [0u8; 8];
        for (o, b) in out.iter_mut().zip(s.bytes()) {
            *o = b;
        }
        out
    }

    /// Classifies how `self` and `other` differ. Symmetric.
    pub fn relation(self, other: BirthDate) -> DateRelation {
        if self == other {
            return DateRelation::Exact;
        }
        if self.year == other.year
            && self.month == other.day
            && self.day == other.month
            && self.month != self.day
        {
            return DateRelation::TransposedDayMonth;
        }
        if self.month == other.month && self.day == other.day && self.year.abs_diff(other.year) == 1
        {
            return DateRelation::YearOffByOne;
        }
        let (a, b) = (self.digits(), other.digits());
        let diffs: Vec<usize> = (0..8).filter(|&i| a[i] != b[i]).collect();
        match diffs.as_slice() {
            [_] => DateRelation::OneDigit,
            [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i] => {
                DateRelation::AdjacentDigitsSwapped
            }
            _ => DateRelation::Different,
        }
    }
}

#[cfg(test)]
mod tests;
