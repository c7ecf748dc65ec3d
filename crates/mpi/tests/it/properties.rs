//! Properties of `compare` and the phonetic key over generated registrations: symmetry, a record is its own
//! best match, and no input makes the engine panic.

use mpi::{MatchGrade, PersonRecord, Sex, compare, spanish_phonetic};
use proptest::prelude::*;

const GIVEN: &[&str] = &[
    "María Guadalupe",
    "Ma. Gpe.",
    "Guadalupe",
    "José Luis",
    "J. Luis",
    "Juan",
    "Juana",
    "Ximena",
    "Jimena",
    "Lupita",
    "",
    "N/N",
];
const SURNAMES: &[&str] = &[
    "Hernández",
    "Hernandez",
    "Fernández",
    "Hdz.",
    "López",
    "Lopez",
    "de la Cruz",
    "Cruz",
    "Vázquez",
    "Vasquez",
    "Pérez López",
    "XX",
];
const CURPS: &[&str] = &[
    "HEGG560427MVZRRL04",
    "HEGG560427MVZRRL09",
    "SABC560626MDFLRN01",
    "XXXX999999XXXXXX99",
    "NOT-A-CURP",
];
const DATES: &[&str] = &[
    "1956-04-27",
    "1956-04-28",
    "1956-27-04",
    "1957-04-27",
    "1985-03-12",
    "1985-12-03",
    "1985",
    "garbage",
];
const STATES: &[&str] = &["JC", "Jalisco", "DF", "CDMX", "VZ", "NE", "??"];
const PHONES: &[&str] = &[
    "3312345678",
    "+52 33 1234 5678",
    "3312345679",
    "5555555555",
    "0",
];

fn pick(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(values).prop_map(str::to_owned)
}

fn maybe(values: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    proptest::option::of(pick(values))
}

fn sex() -> impl Strategy<Value = Option<Sex>> {
    proptest::option::of(proptest::sample::select(vec![
        Sex::Male,
        Sex::Female,
        Sex::Other,
        Sex::Unknown,
    ]))
}

fn record() -> impl Strategy<Value = PersonRecord> {
    (
        maybe(CURPS),
        pick(GIVEN),
        pick(SURNAMES),
        maybe(SURNAMES),
        maybe(DATES),
        sex(),
        maybe(STATES),
        maybe(STATES),
        maybe(PHONES),
    )
        .prop_map(
            |(curp, given, first, second, date, sex, birth_state, address_state, phone)| {
                PersonRecord {
                    id: "r".to_owned(),
                    curp,
                    given_names: given,
                    first_surname: first,
                    second_surname: second,
                    birth_date: date,
                    sex,
                    birth_state,
                    address_state,
                    phone,
                }
            },
        )
}

/// Arbitrary text in every field, to check the engine never panics.
fn wild_record() -> impl Strategy<Value = PersonRecord> {
    let text = || ".{0,24}";
    (
        proptest::option::of(text()),
        text(),
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(
            |(curp, given, first, second, date, state, phone)| PersonRecord {
                id: String::new(),
                curp,
                given_names: given,
                first_surname: first,
                second_surname: second,
                birth_date: date,
                sex: None,
                birth_state: state.clone(),
                address_state: state,
                phone,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn compare_is_symmetric(a in record(), b in record()) {
        let ab = compare(&a, &b);
        let ba = compare(&b, &a);
        prop_assert_eq!(ab.score, ba.score);
        prop_assert_eq!(ab.grade, ba.grade);
    }

    #[test]
    fn a_record_is_its_own_best_match(a in record(), b in record()) {
        let itself = compare(&a, &a);
        let other = compare(&a, &b);
        prop_assert!(itself.score >= other.score, "self {} < other {}", itself.score, other.score);
        prop_assert!(itself.grade >= other.grade, "self {:?} < other {:?}", itself.grade, other.grade);
    }

    #[test]
    fn complete_records_match_themselves_with_certainty(a in record()) {
        let has_valid_curp = a.curp.as_deref().is_some_and(|c| mpi::curp::quality(c) == mpi::curp::CurpQuality::Valid);
        let has_identity = mpi::PreparedRecord::new(&a).has_valid_curp()
            || (a.birth_date.as_deref().and_then(mpi::date::BirthDate::parse).is_some()
                && !mpi::normalize::fold(&a.given_names).is_empty()
                && a.given_names != "N/N"
                && a.first_surname != "XX"
                && a.second_surname.as_deref().is_some_and(|s| s != "XX"));
        prop_assert_eq!(has_valid_curp, mpi::PreparedRecord::new(&a).has_valid_curp());
        if has_identity {
            prop_assert_eq!(compare(&a, &a).grade, MatchGrade::Certain);
        }
    }

    #[test]
    fn arbitrary_input_never_panics(a in wild_record(), b in wild_record()) {
        let result = compare(&a, &b);
        prop_assert!(result.score.is_finite());
        prop_assert_eq!(result.fields.len(), 9);
        let _ = mpi::blocking_keys(&a);
    }

    #[test]
    fn phonetic_keys_are_clean(s in ".{0,30}") {
        let key = spanish_phonetic(&s);
        prop_assert!(key.bytes().all(|b| b.is_ascii_uppercase()));
        prop_assert!(key.as_bytes().windows(2).all(|w| w[0] != w[1]), "no doubled codes in {}", key);
        prop_assert_eq!(spanish_phonetic(&s.to_lowercase()), key.clone());
        prop_assert_eq!(spanish_phonetic(&mpi::normalize::fold(&s)), key);
    }
}
