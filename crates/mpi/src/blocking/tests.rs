//! Blocking keys, the index's candidate lookup, the oversized-block window and the equivalence of the
//! scan with a brute-force comparison of all key-sharing pairs.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::compare::compare;
use crate::corrupt::{ErrorKind, ErrorRates, corrupt};
use crate::record::Sex;
use crate::synthetic::synthetic_population;

fn person(given: &str, first: &str, second: Option<&str>, date: Option<&str>) -> PersonRecord {
    PersonRecord {
        id: format!("{given} {first}"),
        given_names: given.to_owned(),
        first_surname: first.to_owned(),
        second_surname: second.map(str::to_owned),
        birth_date: date.map(str::to_owned),
        sex: Some(Sex::Female),
        ..PersonRecord::default()
    }
}

fn key(kind: BlockingKeyKind, value: &str) -> BlockingKey {
    BlockingKey::new(kind, value.to_owned())
}

#[test]
fn keys_of_a_complete_record() {
    use BlockingKeyKind::{CurpPrefix, GivenSurname, NameMonthDay, Phone, SurnameYear};
    let mut record = person(
        "Ma. Guadalupe",
        "Hernández",
        Some("López"),
        Some("1956-04-27"),
    );
    record.curp = Some("HEGG560427MVZRRL04".to_owned());
    record.phone = Some("+52 33 1234 5678".to_owned());
    let mut expected = vec![
        key(CurpPrefix, "HEGG560427"),
        key(SurnameYear, "ERNANDES:1956"),
        key(NameMonthDay, "JUADALUPE:0427"),
        key(NameMonthDay, "ERNANDES:0427"),
        key(NameMonthDay, "LOPES:0427"),
        key(GivenSurname, "JUADALUPE:ERNANDES"),
        key(Phone, "3312345678"),
    ];
    expected.sort();
    assert_eq!(blocking_keys(&record), expected);
}

#[test]
fn records_without_date_or_names_get_fewer_keys() {
    let no_date = person("Juan", "Pérez", None, None);
    assert_eq!(
        blocking_keys(&no_date),
        vec![key(BlockingKeyKind::GivenSurname, "JUAN:PERES")]
    );
    assert!(blocking_keys(&PersonRecord::default()).is_empty());
    // Both surnames equal: the duplicate NameMonthDay key is stored once.
    let same = person("Ana", "Cruz", Some("Cruz"), Some("2001-01-05"));
    assert_eq!(blocking_keys(&same).len(), 4);
}

fn share_a_key(a: &PersonRecord, b: &PersonRecord) -> bool {
    let keys_b = blocking_keys(b);
    blocking_keys(a).iter().any(|k| keys_b.contains(k))
}

#[test]
fn every_single_clerk_error_keeps_a_shared_key() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let people = synthetic_population(400, &mut rng);
    for kind in ErrorKind::ALL {
        let mut rates = ErrorRates::none();
        match kind {
            ErrorKind::TypoSubstitution
            | ErrorKind::TypoDeletion
            | ErrorKind::TypoInsertion
            | ErrorKind::TypoTransposition => rates.typo = 1.0,
            ErrorKind::DroppedSecondSurname => rates.dropped_second_surname = 1.0,
            ErrorKind::SwappedSurnames => rates.swapped_surnames = 1.0,
            ErrorKind::SwappedGivenAndSurname => rates.swapped_given_and_surname = 1.0,
            ErrorKind::Abbreviation => rates.abbreviation = 1.0,
            ErrorKind::AccentLoss => rates.accent_loss = 1.0,
            ErrorKind::TransposedDayMonth => rates.transposed_day_month = 1.0,
            ErrorKind::WrongDateDigit => rates.wrong_date_digit = 1.0,
            ErrorKind::YearOffByOne => rates.year_off_by_one = 1.0,
            ErrorKind::MissingCurp => rates.missing_curp = 1.0,
            ErrorKind::CurpOneWrongChar => rates.curp_one_wrong_char = 1.0,
            ErrorKind::PhoneMissing => rates.phone_missing = 1.0,
            ErrorKind::PhoneChanged => rates.phone_changed = 1.0,
            ErrorKind::AddressStateChanged => rates.address_state_changed = 1.0,
        }
        for original in &people {
            let (duplicate, _) = corrupt(original, &mut rng, &rates);
            assert!(
                share_a_key(original, &duplicate),
                "{kind:?}: {original:?} / {duplicate:?}"
            );
        }
    }
}

#[test]
fn surname_typo_plus_year_error_is_still_blocked_together() {
    let original = person("Rocío", "Villalobos", Some("Quiñones"), Some("1979-08-14"));
    let cases = [
        person("Rocío", "Villalbos", Some("Quiñones"), Some("1978-08-14")),
        person("Rocío", "Villalbos", None, Some("1997-08-14")),
        person("Rocoi", "Villalobos", Some("Quiñones"), Some("1979-04-18")),
        person("Rocío", "Quiñones", Some("Villalobos"), Some("1997-08-14")),
    ];
    for duplicate in &cases {
        assert!(share_a_key(&original, duplicate), "{duplicate:?}");
    }
}

#[test]
fn candidates_come_from_shared_blocks_only() {
    let mut index = BlockIndex::new();
    let records = [
        person(
            "María Guadalupe",
            "Hernández",
            Some("López"),
            Some("1985-03-12"),
        ),
        person("Guadalupe", "Hernandez", None, Some("1985-03-12")),
        person("Jorge", "Castillo", Some("Ortega"), Some("1971-10-30")),
        person("Lupe", "Hernández", Some("López"), Some("1985-12-03")),
    ];
    for record in &records {
        index.add(record);
    }
    assert_eq!(index.len(), 4);
    let query = person("Ma. Gpe.", "Hdz.", Some("López"), Some("1985-03-12"));
    let found: Vec<usize> = index.candidates(&query).collect();
    assert_eq!(found, vec![0, 1, 3]);
    let matches = index.match_query(&query, false, 5);
    assert_eq!(matches.first().map(|(idx, _)| *idx), Some(0));
    assert!(matches.iter().all(|(idx, _)| *idx != 2));
}

/// A distinct letters-only name for `i` (digits would vanish from the phonetic key).
fn letters(mut i: usize, first: char) -> String {
    let mut name = String::from(first);
    loop {
        name.push(char::from(b'A' + (i % 26) as u8));
        i /= 26;
        if i == 0 {
            return name;
        }
    }
}

#[test]
fn oversized_blocks_are_windowed_not_dropped() {
    let mut index = BlockIndex::new();
    // A clinic phone typed on every registration: one block far above the cap.
    let filler = BLOCK_SIZE_MAX + 200;
    for i in 0..filler {
        let mut record = person(&letters(i, 'A'), &letters(i, 'B'), None, None);
        record.phone = Some("3311112222".to_owned());
        index.add(&record);
    }
    // A true duplicate whose only shared key is that phone (no date, surname typo changes the phonetic key).
    let mut a = person("Zacarías", "Quintanar", Some("Yáñez"), None);
    let mut b = person("Zacarías", "Quintamar", Some("Yáñez"), None);
    a.phone = Some("33 1111 2222".to_owned());
    b.phone = Some("3311112222".to_owned());
    let ia = index.add(&a);
    let ib = index.add(&b);
    let stats = index.stats();
    assert_eq!(stats.blocks_oversized, 1);
    assert_eq!(stats.largest_block, filler + 2);
    assert_eq!(index.largest_block_of(ia), filler + 2);
    assert!(
        index.candidates(&a).all(|idx| idx == ia),
        "the oversized block yields no candidates"
    );
    let found = index.scan();
    assert!(
        found
            .iter()
            .any(|(i, j, r)| (*i, *j) == (ia, ib) && r.grade >= MatchGrade::Probable),
        "the neighbourhood window finds the duplicate"
    );
}

#[test]
fn scan_equals_brute_force_over_key_sharing_pairs() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut records = synthetic_population(300, &mut rng);
    let originals = records.len();
    for i in (0..originals).step_by(5) {
        let (duplicate, _) = corrupt(&records[i], &mut rng, &ErrorRates::default());
        records.push(duplicate);
    }
    let mut index = BlockIndex::new();
    for record in &records {
        index.add(record);
    }
    let mut brute = Vec::new();
    for i in 0..records.len() {
        for j in i + 1..records.len() {
            if share_a_key(&records[i], &records[j]) {
                let result = compare(&records[i], &records[j]);
                if result.grade > MatchGrade::NoMatch {
                    brute.push((i, j, result.grade, result.score));
                }
            }
        }
    }
    let scanned: Vec<_> = index
        .scan()
        .into_iter()
        .map(|(i, j, r)| (i, j, r.grade, r.score))
        .collect();
    assert!(!brute.is_empty());
    assert_eq!(scanned, brute);
    let parallel: Vec<_> = index
        .scan_with_threads(2)
        .into_iter()
        .map(|(i, j, r)| (i, j, r.grade, r.score))
        .collect();
    assert_eq!(parallel, scanned);
}
