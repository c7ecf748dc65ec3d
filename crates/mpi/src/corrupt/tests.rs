//! The duplicate generator: determinism, and that each error kind does what its name says.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::curp::one_keying_error_apart;
use crate::date::DateRelation;
use crate::record::Sex;

fn original() -> PersonRecord {
    PersonRecord {
        id: "p1".to_owned(),
        curp: Some("HEGG560427MVZRRL04".to_owned()),
        given_names: "María Guadalupe".to_owned(),
        first_surname: "Hernández".to_owned(),
        second_surname: Some("Gómez".to_owned()),
        birth_date: Some("1956-04-07".to_owned()),
        sex: Some(Sex::Female),
        birth_state: Some("VZ".to_owned()),
        address_state: Some("VZ".to_owned()),
        phone: Some("2291234567".to_owned()),
    }
}

fn only(set: impl Fn(&mut ErrorRates)) -> ErrorRates {
    let mut rates = ErrorRates::none();
    set(&mut rates);
    rates
}

fn date(record: &PersonRecord) -> BirthDate {
    record
        .birth_date
        .as_deref()
        .and_then(BirthDate::parse)
        .unwrap()
}

#[test]
fn same_seed_same_duplicate() {
    let run = |seed| {
        corrupt(
            &original(),
            &mut ChaCha8Rng::seed_from_u64(seed),
            &ErrorRates::default(),
        )
    };
    assert_eq!(run(3), run(3));
    let differs = (0..20).any(|seed| run(seed) != run(3));
    assert!(differs, "different seeds give different duplicates");
}

#[test]
fn no_errors_gives_an_exact_copy() {
    let (copy, errors) = corrupt(
        &original(),
        &mut ChaCha8Rng::seed_from_u64(1),
        &ErrorRates::none(),
    );
    assert!(errors.is_empty());
    assert_eq!(copy.id, "p1-dup");
    assert_eq!(
        PersonRecord {
            id: "p1".to_owned(),
            ..copy
        },
        original()
    );
}

#[test]
fn each_error_kind_changes_what_it_says() {
    type Check = fn(&PersonRecord, &PersonRecord) -> bool;
    let cases: Vec<(ErrorRates, ErrorKind, Check)> = vec![
        (
            only(|r| r.dropped_second_surname = 1.0),
            ErrorKind::DroppedSecondSurname,
            |_, d| d.second_surname.is_none(),
        ),
        (
            only(|r| r.swapped_surnames = 1.0),
            ErrorKind::SwappedSurnames,
            |o, d| {
                d.first_surname == *o.second_surname.as_ref().unwrap()
                    && d.second_surname.as_ref() == Some(&o.first_surname)
            },
        ),
        (
            only(|r| r.swapped_given_and_surname = 1.0),
            ErrorKind::SwappedGivenAndSurname,
            |o, d| d.given_names == o.first_surname && d.first_surname == o.given_names,
        ),
        (
            only(|r| r.abbreviation = 1.0),
            ErrorKind::Abbreviation,
            |_, d| {
                ["Ma. ", "Gpe.", "Hdz."]
                    .iter()
                    .any(|a| d.given_names.contains(a) || d.first_surname.contains(a))
            },
        ),
        (
            only(|r| r.accent_loss = 1.0),
            ErrorKind::AccentLoss,
            |_, d| {
                d.given_names == "Maria Guadalupe"
                    && d.first_surname == "Hernandez"
                    && d.second_surname.as_deref() == Some("Gomez")
            },
        ),
        (
            only(|r| r.transposed_day_month = 1.0),
            ErrorKind::TransposedDayMonth,
            |o, d| date(o).relation(date(d)) == DateRelation::TransposedDayMonth,
        ),
        (
            only(|r| r.wrong_date_digit = 1.0),
            ErrorKind::WrongDateDigit,
            |o, d| {
                matches!(
                    date(o).relation(date(d)),
                    DateRelation::OneDigit | DateRelation::YearOffByOne
                )
            },
        ),
        (
            only(|r| r.year_off_by_one = 1.0),
            ErrorKind::YearOffByOne,
            |o, d| date(o).relation(date(d)) == DateRelation::YearOffByOne,
        ),
        (
            only(|r| r.missing_curp = 1.0),
            ErrorKind::MissingCurp,
            |_, d| d.curp.is_none(),
        ),
        (
            only(|r| r.curp_one_wrong_char = 1.0),
            ErrorKind::CurpOneWrongChar,
            |o, d| one_keying_error_apart(o.curp.as_deref().unwrap(), d.curp.as_deref().unwrap()),
        ),
        (
            only(|r| r.phone_missing = 1.0),
            ErrorKind::PhoneMissing,
            |_, d| d.phone.is_none(),
        ),
        (
            only(|r| r.phone_changed = 1.0),
            ErrorKind::PhoneChanged,
            |o, d| d.phone.as_ref().is_some_and(|p| p.len() == 10) && d.phone != o.phone,
        ),
        (
            only(|r| r.address_state_changed = 1.0),
            ErrorKind::AddressStateChanged,
            |o, d| {
                d.address_state.is_some()
                    && d.address_state != o.address_state
                    && d.birth_state == o.birth_state
            },
        ),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for (rates, kind, check) in cases {
        for _ in 0..20 {
            let (duplicate, errors) = corrupt(&original(), &mut rng, &rates);
            assert_eq!(errors, vec![kind]);
            assert!(check(&original(), &duplicate), "{kind:?}: {duplicate:?}");
        }
    }
}

#[test]
fn typos_are_one_edit_in_one_name_field() {
    let rates = only(|r| r.typo = 1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let o = original();
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let (d, errors) = corrupt(&o, &mut rng, &rates);
        assert_eq!(errors.len(), 1);
        kinds.insert(errors[0]);
        let fields = [
            (o.given_names.as_str(), d.given_names.as_str()),
            (o.first_surname.as_str(), d.first_surname.as_str()),
            (
                o.second_surname.as_deref().unwrap_or(""),
                d.second_surname.as_deref().unwrap_or(""),
            ),
        ];
        let changed: Vec<usize> = fields
            .iter()
            .map(|(a, b)| strsim::osa_distance(a, b))
            .filter(|d| *d > 0)
            .collect();
        assert_eq!(changed, vec![1], "{d:?}");
    }
    assert_eq!(kinds.len(), 4, "all four typo kinds occur");
}

#[test]
fn preconditions_are_respected() {
    let mut record = original();
    record.second_surname = None;
    record.birth_date = Some("1956-04-27".to_owned());
    let rates = only(|r| {
        r.dropped_second_surname = 1.0;
        r.swapped_surnames = 1.0;
        r.transposed_day_month = 1.0;
    });
    let (copy, errors) = corrupt(&record, &mut ChaCha8Rng::seed_from_u64(2), &rates);
    assert!(
        errors.is_empty(),
        "nothing to drop or swap, and day 27 cannot be a month: {errors:?}"
    );
    assert_eq!(copy.birth_date, record.birth_date);
}

#[test]
fn rates_are_validated() {
    assert_eq!(ErrorRates::default().validate(), Ok(()));
    let bad = only(|r| r.phone_changed = 1.5);
    let error = bad.validate().unwrap_err();
    assert_eq!(
        error,
        Error::InvalidRate {
            name: "phone_changed",
            value: 1.5
        }
    );
    assert!(error.message_es().contains("phone_changed"));
    assert!(only(|r| r.typo = f64::NAN).validate().is_err());
    // Invalid rates are clamped, never a panic.
    let _ = corrupt(&original(), &mut ChaCha8Rng::seed_from_u64(1), &bad);
}
