//! Seeded generator of duplicate registrations, to measure matching quality.
//!
//! A duplicate is the same person registered again by another clerk, with the errors clerks make. The
//! generator is pure: all randomness comes from the caller's RNG, so a seed reproduces a data set exactly.

use rand::Rng;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::date::BirthDate;
use crate::error::Error;
use crate::normalize;
use crate::record::PersonRecord;

/// A kind of registration error applied to a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    TypoSubstitution,
    TypoDeletion,
    TypoInsertion,
    TypoTransposition,
    DroppedSecondSurname,
    SwappedSurnames,
    SwappedGivenAndSurname,
    Abbreviation,
    AccentLoss,
    TransposedDayMonth,
    WrongDateDigit,
    YearOffByOne,
    MissingCurp,
    CurpOneWrongChar,
    PhoneMissing,
    PhoneChanged,
    AddressStateChanged,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 17] = [
        ErrorKind::TypoSubstitution,
        ErrorKind::TypoDeletion,
        ErrorKind::TypoInsertion,
        ErrorKind::TypoTransposition,
        ErrorKind::DroppedSecondSurname,
        ErrorKind::SwappedSurnames,
        ErrorKind::SwappedGivenAndSurname,
        ErrorKind::Abbreviation,
        ErrorKind::AccentLoss,
        ErrorKind::TransposedDayMonth,
        ErrorKind::WrongDateDigit,
        ErrorKind::YearOffByOne,
        ErrorKind::MissingCurp,
        ErrorKind::CurpOneWrongChar,
        ErrorKind::PhoneMissing,
        ErrorKind::PhoneChanged,
        ErrorKind::AddressStateChanged,
    ];

    /// Short English label for reports.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::TypoSubstitution => "typo: substitution",
            ErrorKind::TypoDeletion => "typo: deletion",
            ErrorKind::TypoInsertion => "typo: insertion",
            ErrorKind::TypoTransposition => "typo: transposition",
            ErrorKind::DroppedSecondSurname => "dropped second surname",
            ErrorKind::SwappedSurnames => "swapped surnames",
            ErrorKind::SwappedGivenAndSurname => "swapped given name and surname",
            ErrorKind::Abbreviation => "abbreviation (MA., J., GPE, HDZ)",
            ErrorKind::AccentLoss => "accents lost",
            ErrorKind::TransposedDayMonth => "day/month transposed",
            ErrorKind::WrongDateDigit => "one wrong date digit",
            ErrorKind::YearOffByOne => "birth year off by one",
            ErrorKind::MissingCurp => "CURP missing",
            ErrorKind::CurpOneWrongChar => "CURP with one wrong character",
            ErrorKind::PhoneMissing => "phone missing",
            ErrorKind::PhoneChanged => "phone changed",
            ErrorKind::AddressStateChanged => "moved to another state",
        }
    }
}

/// Probability of each error in one re-registration (independent draws).
///
/// The defaults are assumptions, not measurements — no public study of Mexican registration errors was
/// found. They are set on the pessimistic side of what record-linkage studies report for hand-keyed
/// demographics (a few percent of records with a name typo, ~1–3 % with a date error) and reflect Mexican
/// practice: the second surname is often omitted, the CURP often not captured at the front desk, phones
/// change. Replace them with rates measured on the review queue once there is one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ErrorRates {
    /// One typo (substitution, deletion, insertion or transposition) in one name field.
    pub typo: f64,
    pub dropped_second_surname: f64,
    pub swapped_surnames: f64,
    pub swapped_given_and_surname: f64,
    /// MARÍA → MA., JOSÉ → J., GUADALUPE → GPE., HERNÁNDEZ → HDZ …, when the name has such a part.
    pub abbreviation: f64,
    pub accent_loss: f64,
    /// Only possible when the day is 12 or less and differs from the month.
    pub transposed_day_month: f64,
    pub wrong_date_digit: f64,
    pub year_off_by_one: f64,
    pub missing_curp: f64,
    pub curp_one_wrong_char: f64,
    pub phone_missing: f64,
    pub phone_changed: f64,
    pub address_state_changed: f64,
}

impl Default for ErrorRates {
    fn default() -> ErrorRates {
        ErrorRates {
            typo: 0.12,
            dropped_second_surname: 0.08,
            swapped_surnames: 0.02,
            swapped_given_and_surname: 0.01,
            abbreviation: 0.08,
            accent_loss: 0.30,
            transposed_day_month: 0.02,
            wrong_date_digit: 0.03,
            year_off_by_one: 0.01,
            missing_curp: 0.30,
            curp_one_wrong_char: 0.03,
            phone_missing: 0.20,
            phone_changed: 0.10,
            address_state_changed: 0.05,
        }
    }
}

impl ErrorRates {
    /// No errors at all (an exact re-registration).
    pub fn none() -> ErrorRates {
        ErrorRates {
            typo: 0.0,
            dropped_second_surname: 0.0,
            swapped_surnames: 0.0,
            swapped_given_and_surname: 0.0,
            abbreviation: 0.0,
            accent_loss: 0.0,
            transposed_day_month: 0.0,
            wrong_date_digit: 0.0,
            year_off_by_one: 0.0,
            missing_curp: 0.0,
            curp_one_wrong_char: 0.0,
            phone_missing: 0.0,
            phone_changed: 0.0,
            address_state_changed: 0.0,
        }
    }

    fn named(&self) -> [(&'static str, f64); 14] {
        [
            ("typo", self.typo),
            ("dropped_second_surname", self.dropped_second_surname),
            ("swapped_surnames", self.swapped_surnames),
            ("swapped_given_and_surname", self.swapped_given_and_surname),
            ("abbreviation", self.abbreviation),
            ("accent_loss", self.accent_loss),
            ("transposed_day_month", self.transposed_day_month),
            ("wrong_date_digit", self.wrong_date_digit),
            ("year_off_by_one", self.year_off_by_one),
            ("missing_curp", self.missing_curp),
            ("curp_one_wrong_char", self.curp_one_wrong_char),
            ("phone_missing", self.phone_missing),
            ("phone_changed", self.phone_changed),
            ("address_state_changed", self.address_state_changed),
        ]
    }

    /// Checks every rate is a probability.
    pub fn validate(&self) -> Result<(), Error> {
        match self
            .named()
            .into_iter()
            .find(|(_, value)| !(0.0..=1.0).contains(value))
        {
            Some((name, value)) => Err(Error::InvalidRate { name, value }),
            None => Ok(()),
        }
    }
}

fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    // Out-of-range rates are clamped rather than rejected: `validate` is for callers who want to know.
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
    rng.random_bool(p)
}

fn random_letter<R: Rng + ?Sized>(rng: &mut R, lowercase: bool) -> char {
    let c = char::from(b'A' + rng.random_range(0..26u8));
    if lowercase { c.to_ascii_lowercase() } else { c }
}

/// Applies one typo to `text`; `None` if the text is too short for the chosen kind.
fn typo<R: Rng + ?Sized>(rng: &mut R, text: &str) -> Option<(String, ErrorKind)> {
    let mut chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    if len < 2 {
        return None;
    }
    let kind = match rng.random_range(0..4u8) {
        0 => ErrorKind::TypoSubstitution,
        1 => ErrorKind::TypoDeletion,
        2 => ErrorKind::TypoInsertion,
        _ => ErrorKind::TypoTransposition,
    };
    let pos = rng.random_range(0..len);
    match kind {
        ErrorKind::TypoSubstitution => {
            let original = chars[pos];
            let replacement = loop {
                let c = random_letter(rng, original.is_lowercase());
                if !c.eq_ignore_ascii_case(&original) {
                    break c;
                }
            };
            chars[pos] = replacement;
        }
        ErrorKind::TypoDeletion => {
            chars.remove(pos);
        }
        ErrorKind::TypoInsertion => {
            let lowercase = chars[pos].is_lowercase();
            chars.insert(pos, random_letter(rng, lowercase));
        }
        _ => {
            let pos = (0..len - 1)
                .map(|k| (pos + k) % (len - 1))
                .find(|&p| chars[p] != chars[p + 1])?;
            chars.swap(pos, pos + 1);
        }
    }
    Some((chars.into_iter().collect(), kind))
}

/// Given-name parts clerks abbreviate, and surnames shortened the same way (all upper case, folded).
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("MARIA", "Ma."),
    ("JOSE", "J."),
    ("GUADALUPE", "Gpe."),
    ("FRANCISCO", "Fco."),
    ("HERNANDEZ", "Hdz."),
    ("GONZALEZ", "Glz."),
    ("MARTINEZ", "Mtz."),
    ("RODRIGUEZ", "Rdz."),
];

/// Replaces one abbreviable word of `text`, if any.
fn abbreviate<R: Rng + ?Sized>(rng: &mut R, text: &str) -> Option<String> {
    let words: Vec<&str> = text.split(' ').collect();
    let options: Vec<(usize, &str)> = words
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            let folded = normalize::fold(w);
            ABBREVIATIONS
                .iter()
                .find(|(full, _)| *full == folded)
                .map(|(_, short)| (i, *short))
        })
        .collect();
    if options.is_empty() {
        return None;
    }
    let (i, short) = options[rng.random_range(0..options.len())];
    let mut words: Vec<String> = words.into_iter().map(str::to_owned).collect();
    words[i] = short.to_owned();
    Some(words.join(" "))
}

fn strip_accents(text: &str) -> String {
    text.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

fn format_date(date: BirthDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

fn wrong_digit<R: Rng + ?Sized>(rng: &mut R, date: BirthDate) -> Option<BirthDate> {
    // A handful of attempts: most digit changes give a valid date; the rest (month 19, day 42) are retried.
    for _ in 0..16 {
        let mut digits: Vec<u8> =
            format!("{:04}{:02}{:02}", date.year, date.month, date.day).into_bytes();
        let pos = rng.random_range(0..digits.len());
        let digit = b'0' + rng.random_range(0..10u8);
        if digit == digits[pos] {
            continue;
        }
        digits[pos] = digit;
        let text = String::from_utf8(digits).ok()?;
        let candidate = BirthDate::new(
            text[..4].parse().ok()?,
            text[4..6].parse().ok()?,
            text[6..8].parse().ok()?,
        );
        if let Some(candidate) = candidate.filter(|c| c.year >= 1900) {
            return Some(candidate);
        }
    }
    None
}

fn curp_one_wrong_char<R: Rng + ?Sized>(rng: &mut R, curp: &str) -> Option<String> {
    let mut chars: Vec<char> = curp.chars().collect();
    if chars.is_empty() {
        return None;
    }
    let pos = rng.random_range(0..chars.len());
    let original = chars[pos];
    let replacement = loop {
        let c = if pos == 10 {
            ['H', 'M', 'X'][rng.random_range(0..3)]
        } else if original.is_ascii_digit() {
            char::from(b'0' + rng.random_range(0..10u8))
        } else {
            random_letter(rng, false)
        };
        if c != original {
            break c;
        }
    };
    chars[pos] = replacement;
    Some(chars.into_iter().collect())
}

/// Random 10-digit Mexican-looking phone number.
pub(crate) fn random_phone<R: Rng + ?Sized>(rng: &mut R) -> String {
    let area = [
        "55", "33", "81", "222", "442", "477", "614", "664", "999", "951",
    ];
    let prefix = area[rng.random_range(0..area.len())];
    let mut phone = prefix.to_owned();
    while phone.len() < 10 {
        phone.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    phone
}

/// Produces a re-registration of `record` with clerk errors drawn from `rates`, and the list of errors
/// actually applied (an error whose precondition fails — no second surname to drop — is not listed).
/// The copy keeps the original `id` with a `-dup` suffix.
pub fn corrupt<R: Rng + ?Sized>(
    record: &PersonRecord,
    rng: &mut R,
    rates: &ErrorRates,
) -> (PersonRecord, Vec<ErrorKind>) {
    let mut copy = record.clone();
    copy.id = format!("{}-dup", record.id);
    let mut errors = Vec::new();

    if chance(rng, rates.swapped_surnames)
        && let Some(second) = copy.second_surname.take()
    {
        copy.second_surname = Some(std::mem::replace(&mut copy.first_surname, second));
        errors.push(ErrorKind::SwappedSurnames);
    }
    if chance(rng, rates.dropped_second_surname) && copy.second_surname.take().is_some() {
        errors.push(ErrorKind::DroppedSecondSurname);
    }
    if chance(rng, rates.swapped_given_and_surname) && !copy.given_names.is_empty() {
        std::mem::swap(&mut copy.given_names, &mut copy.first_surname);
        errors.push(ErrorKind::SwappedGivenAndSurname);
    }
    if chance(rng, rates.abbreviation) {
        // Try one field, then the other, so names without abbreviable words do not halve the rate.
        let fields: [u8; 2] = if rng.random_bool(0.5) { [0, 1] } else { [1, 0] };
        for field in fields {
            let target = if field == 0 {
                &mut copy.given_names
            } else {
                &mut copy.first_surname
            };
            if let Some(text) = abbreviate(rng, target) {
                *target = text;
                errors.push(ErrorKind::Abbreviation);
                break;
            }
        }
    }
    if chance(rng, rates.typo) {
        let has_second = copy.second_surname.as_ref().is_some_and(|s| !s.is_empty());
        let field = rng.random_range(0..if has_second { 3u8 } else { 2u8 });
        let target = match field {
            0 => Some(&mut copy.given_names),
            1 => Some(&mut copy.first_surname),
            _ => copy.second_surname.as_mut(),
        };
        if let Some(target) = target
            && let Some((text, kind)) = typo(rng, target)
        {
            *target = text;
            errors.push(kind);
        }
    }
    if chance(rng, rates.accent_loss) {
        let before = (
            copy.given_names.clone(),
            copy.first_surname.clone(),
            copy.second_surname.clone(),
        );
        copy.given_names = strip_accents(&copy.given_names);
        copy.first_surname = strip_accents(&copy.first_surname);
        copy.second_surname = copy.second_surname.as_deref().map(strip_accents);
        if before
            != (
                copy.given_names.clone(),
                copy.first_surname.clone(),
                copy.second_surname.clone(),
            )
        {
            errors.push(ErrorKind::AccentLoss);
        }
    }

    if let Some(date) = copy.birth_date.as_deref().and_then(BirthDate::parse) {
        let mut date = date;
        if chance(rng, rates.transposed_day_month)
            && date.day <= 12
            && date.day != date.month
            && let Some(swapped) = BirthDate::new(date.year, date.day, date.month)
        {
            date = swapped;
            errors.push(ErrorKind::TransposedDayMonth);
        }
        if chance(rng, rates.wrong_date_digit)
            && let Some(changed) = wrong_digit(rng, date)
        {
            date = changed;
            errors.push(ErrorKind::WrongDateDigit);
        }
        if chance(rng, rates.year_off_by_one) {
            let year = if rng.random_bool(0.5) {
                date.year.saturating_add(1)
            } else {
                date.year.saturating_sub(1)
            };
            if let Some(changed) = BirthDate::new(year, date.month, date.day) {
                date = changed;
                errors.push(ErrorKind::YearOffByOne);
            }
        }
        copy.birth_date = Some(format_date(date));
    }

    if chance(rng, rates.missing_curp) && copy.curp.take().is_some() {
        errors.push(ErrorKind::MissingCurp);
    } else if chance(rng, rates.curp_one_wrong_char)
        && let Some(changed) = copy
            .curp
            .as_deref()
            .and_then(|c| curp_one_wrong_char(rng, c))
    {
        copy.curp = Some(changed);
        errors.push(ErrorKind::CurpOneWrongChar);
    }

    if chance(rng, rates.phone_missing) && copy.phone.take().is_some() {
        errors.push(ErrorKind::PhoneMissing);
    } else if chance(rng, rates.phone_changed) && copy.phone.is_some() {
        copy.phone = Some(random_phone(rng));
        errors.push(ErrorKind::PhoneChanged);
    }

    if chance(rng, rates.address_state_changed) {
        let states: Vec<&str> = normalize::state_codes().filter(|s| *s != "NE").collect();
        let current = copy.address_state.as_deref().map(normalize::state_code);
        let choices: Vec<&str> = states
            .into_iter()
            .filter(|s| Some(*s) != current.as_deref())
            .collect();
        if !choices.is_empty() {
            copy.address_state = Some(choices[rng.random_range(0..choices.len())].to_owned());
            errors.push(ErrorKind::AddressStateChanged);
        }
    }
    (copy, errors)
}

#[cfg(test)]
mod tests;
