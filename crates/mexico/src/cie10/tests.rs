//! Unit tests for CIE-10 forms, normalisation, the catalog's integrity and search.

use super::*;

#[test]
fn the_three_forms() {
    // Dotted and category forms are kept; DGIS forms are converted (mexico.md §A3 samples).
    for (input, dotted, dgis) in [
        ("E11.9", "E11.9", "E119"),
        ("I10", "I10", "I10X"),
        ("E119", "E11.9", "E119"),
        ("I10X", "I10", "I10X"),
        ("R69X", "R69", "R69X"),
        ("J029", "J02.9", "J029"),
        ("U07.1", "U07.1", "U071"),
    ] {
        let code = validate_cie10(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(code.as_str(), dotted, "{input}");
        assert_eq!(code.dgis(), dgis, "{input}");
        assert_eq!(code.category(), &dotted[..3]);
    }
}

#[test]
fn malformed_codes() {
    use Cie10CharClass::{Digit, DigitOrX, Dot, Letter};
    let cases = [
        ("", Cie10Error::Length { len: 0 }),
        ("E1", Cie10Error::Length { len: 2 }),
        ("E11.91", Cie10Error::Length { len: 6 }),
        (
            "e11.9",
            Cie10Error::InvalidChar {
                position: 1,
                found: 'e',
                expected: Letter,
            },
        ),
        (
            "111",
            Cie10Error::InvalidChar {
                position: 1,
                found: '1',
                expected: Letter,
            },
        ),
        (
            "EE1",
            Cie10Error::InvalidChar {
                position: 2,
                found: 'E',
                expected: Digit,
            },
        ),
        (
            "E1X",
            Cie10Error::InvalidChar {
                position: 3,
                found: 'X',
                expected: Digit,
            },
        ),
        (
            "E11.",
            Cie10Error::InvalidChar {
                position: 4,
                found: '.',
                expected: DigitOrX,
            },
        ),
        (
            "I10Y",
            Cie10Error::InvalidChar {
                position: 4,
                found: 'Y',
                expected: DigitOrX,
            },
        ),
        (
            "E11-9",
            Cie10Error::InvalidChar {
                position: 4,
                found: '-',
                expected: Dot,
            },
        ),
        (
            "I10.X",
            Cie10Error::InvalidChar {
                position: 5,
                found: 'X',
                expected: Digit,
            },
        ),
        (
            " I10",
            Cie10Error::InvalidChar {
                position: 1,
                found: ' ',
                expected: Letter,
            },
        ),
    ];
    for (input, error) in cases {
        assert_eq!(validate_cie10(input), Err(error), "{input:?}");
    }
}

#[test]
fn normalize_is_forgiving_about_case_and_spaces_only() {
    assert_eq!(normalize_cie10(" e119 ").as_deref(), Ok("E11.9"));
    assert_eq!(normalize_cie10("i10x").as_deref(), Ok("I10"));
    assert_eq!(normalize_cie10("j06.9").as_deref(), Ok("J06.9"));
    assert_eq!(
        normalize_cie10("E 11.9"),
        Err(Cie10Error::Length { len: 6 })
    );
    assert!(
        normalize_cie10("MT01").is_err(),
        "DGIS local codes are not CIE-10"
    );
}

#[test]
fn catalog_is_sorted_unique_and_in_dotted_form() {
    assert!(CATALOG.len() >= 150, "{}", CATALOG.len());
    for pair in CATALOG.windows(2) {
        assert!(
            pair[0].code < pair[1].code,
            "{} !< {}",
            pair[0].code,
            pair[1].code
        );
    }
    for entry in &CATALOG {
        assert_eq!(
            validate_cie10(entry.code).map(String::from).as_deref(),
            Ok(entry.code)
        );
        assert!(!entry.description.trim().is_empty());
        assert_eq!(entry.description.trim(), entry.description);
        if let Some((min, max)) = entry.age_years {
            assert!(min <= max, "{}", entry.code);
        }
    }
}

#[test]
fn catalog_covers_primary_care() {
    for code in [
        "E11.9", "I10", "E66.9", "J00", "J02.9", "J06.9", "A09", "N39.0", "Z34.9", "K02.9",
        "F32.9", "F41.1", "J45.9", "E78.5", "N18.9", "B86", "Z00.0", "Z23.5", "O14.9", "R69",
        "U07.1",
    ] {
        assert!(lookup_cie10(code).is_some(), "{code} missing");
    }
    assert_eq!(lookup_cie10("e119").map(|e| e.code), Some("E11.9"));
    assert_eq!(
        lookup_cie10("I10X").map(|e| e.description),
        Some("Hipertensión esencial (primaria)")
    );
    assert_eq!(lookup_cie10("Z99.9"), None);
    assert_eq!(lookup_cie10("nonsense"), None);
}

#[test]
fn pregnancy_codes_carry_the_dgis_limits() {
    for entry in CATALOG
        .iter()
        .filter(|e| e.code.starts_with('O') || e.code.starts_with("Z3"))
    {
        if entry.code.starts_with("Z30") {
            continue; // Contraception is not pregnancy.
        }
        assert_eq!(
            (entry.sex, entry.age_years),
            (SexLimit::Mujer, Some((9, 59))),
            "{}",
            entry.code
        );
    }
    let supervision = lookup_cie10("Z34.9").unwrap();
    assert_eq!(supervision.check_patient(BiologicalSex::Mujer, 25), Ok(()));
    assert_eq!(supervision.check_patient(BiologicalSex::Mujer, 9), Ok(()));
    assert_eq!(supervision.check_patient(BiologicalSex::Mujer, 59), Ok(()));
    assert_eq!(
        supervision.check_patient(BiologicalSex::Mujer, 8),
        Err(Cie10Error::AgeNotAllowed {
            code: "Z34.9".into(),
            age_years: 8,
            min: 9,
            max: 59
        })
    );
    assert_eq!(
        supervision.check_patient(BiologicalSex::Mujer, 60),
        Err(Cie10Error::AgeNotAllowed {
            code: "Z34.9".into(),
            age_years: 60,
            min: 9,
            max: 59
        })
    );
    assert_eq!(
        supervision.check_patient(BiologicalSex::Hombre, 25),
        Err(Cie10Error::SexNotAllowed {
            code: "Z34.9".into(),
            allowed: SexLimit::Mujer
        })
    );
    assert_eq!(
        supervision.check_patient(BiologicalSex::Intersexual, 25),
        Ok(())
    );
    let prostate = lookup_cie10("N40").unwrap();
    assert!(prostate.check_patient(BiologicalSex::Mujer, 70).is_err());
    assert_eq!(prostate.check_patient(BiologicalSex::Hombre, 70), Ok(()));
    assert_eq!(
        lookup_cie10("I10")
            .unwrap()
            .check_patient(BiologicalSex::Hombre, 0),
        Ok(())
    );
}

fn codes(entries: &[&Cie10Entry]) -> Vec<&'static str> {
    entries.iter().map(|e| e.code).collect()
}

#[test]
fn search_by_code_prefix_in_any_form() {
    let e11: Vec<String> = (0..=9).map(|n| format!("E11.{n}")).collect();
    assert_eq!(codes(&search_cie10("E11")), e11);
    assert_eq!(codes(&search_cie10("e11.")), e11);
    assert_eq!(codes(&search_cie10("e119")), ["E11.9"]);
    assert_eq!(codes(&search_cie10(" E11.9 ")), ["E11.9"]);
    assert_eq!(codes(&search_cie10("I10X")), ["I10"]);
    assert_eq!(
        codes(&search_cie10("j0")),
        [
            "J00", "J01.9", "J02.0", "J02.9", "J03.0", "J03.9", "J04.0", "J05.0", "J06.9"
        ]
    );
}

#[test]
fn search_by_words_ignores_case_and_accents() {
    assert_eq!(codes(&search_cie10("hipertension")), ["I10", "O13"]);
    assert_eq!(codes(&search_cie10("HIPERTENS")), ["I10", "I11.9", "O13"]);
    assert_eq!(
        codes(&search_cie10("infeccion vias urinarias")),
        ["N39.0", "O23.4"]
    );
    assert_eq!(codes(&search_cie10("tiña")), codes(&search_cie10("tina")));
    assert_eq!(codes(&search_cie10("escorpion")), ["T63.2"]);
    // Every word must match; word order does not matter.
    assert_eq!(codes(&search_cie10("aguda faringitis")), ["J02.9"]);
    let diabetes = codes(&search_cie10("diab"));
    for code in ["E10.9", "E11.0", "E11.9", "E14.9", "O24.4", "Z13.1"] {
        assert!(diabetes.contains(&code), "{code} not in {diabetes:?}");
    }
    assert!(search_cie10("xyzzy").is_empty());
    assert!(search_cie10("  ").is_empty());
    assert!(search_cie10("").is_empty());
}

#[test]
fn code_matches_come_before_word_matches_without_duplicates() {
    // "r0" is a code prefix (R05, R06.0) and no description word starts with it.
    assert_eq!(codes(&search_cie10("r0")), ["R05", "R06.0"]);
    // A single letter matches codes first, then descriptions with a word starting with it.
    let z = search_cie10("z");
    let first_non_z = z.iter().position(|e| !e.code.starts_with('Z')).unwrap();
    assert!(z[first_non_z..].iter().all(|e| !e.code.starts_with('Z')));
    let mut unique = codes(&z);
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), z.len());
}

#[test]
fn messages() {
    let e = Cie10Error::AgeNotAllowed {
        code: "Z34.9".into(),
        age_years: 8,
        min: 9,
        max: 59,
    };
    assert_eq!(
        e.message_es(),
        "El código CIE-10 Z34.9 solo se usa entre los 9 y los 59 años; el paciente tiene 8."
    );
    assert_eq!(
        e.message_en(),
        "CIE-10 Z34.9 is only for ages 9 to 59 years; the patient is 8"
    );
    let e = Cie10Error::SexNotAllowed {
        code: "N40".into(),
        allowed: SexLimit::Hombre,
    };
    assert_eq!(
        e.message_es(),
        "El código CIE-10 N40 solo se usa en hombres."
    );
    assert_eq!(e.to_string(), "CIE-10 N40 is only for men");
    let e = Cie10Error::InvalidChar {
        position: 4,
        found: '-',
        expected: Cie10CharClass::Dot,
    };
    assert_eq!(
        e.message_es(),
        "CIE-10, posición 4: «-» no es válido; se espera un punto."
    );
}
