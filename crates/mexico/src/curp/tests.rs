//! Unit tests for CURP validation and derivation. Expected values come from mexico.md §A1 (verified
//! vectors) or were derived by hand from the RENAPO rules, never from running the code.

use super::*;

/// (CURP, birth date, sex, birth state).
type Vector = (&'static str, (i32, u32, u32), CurpSex, &'static str);

/// The six hand-verified vectors of mexico.md §A1 with their decoded fields.
const VECTORS: [Vector; 6] = [
    ("HEGG560427MVZRRL04", (1956, 4, 27), CurpSex::Mujer, "VZ"),
    ("AAPR630321HDFLRC09", (1963, 3, 21), CurpSex::Hombre, "DF"),
    ("SABC560626MDFLRN01", (1956, 6, 26), CurpSex::Mujer, "DF"),
    ("BOXW310820HNERXN09", (1931, 8, 20), CurpSex::Hombre, "NE"),
    ("GOAR881103HDFNRL04", (1988, 11, 3), CurpSex::Hombre, "DF"),
    ("RALS050314MJCMNFA3", (2005, 3, 14), CurpSex::Mujer, "JC"),
];

/// Completes 17 characters with the check digit (the function is pinned by `VECTORS`).
fn with_check(first17: &str) -> String {
    let digit = check_digit(first17).unwrap();
    format!("{first17}{digit}")
}

fn person<'a>(
    given_names: &'a str,
    first_surname: &'a str,
    second_surname: Option<&'a str>,
    birth_date: (i32, u32, u32),
    sex: CurpSex,
    birth_state: &'a str,
) -> CurpPerson<'a> {
    CurpPerson {
        given_names,
        first_surname,
        second_surname,
        birth_date,
        sex,
        birth_state,
    }
}

#[test]
fn verified_vectors_validate_and_decode() {
    for (s, date, sex, state) in VECTORS {
        let curp = validate(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(curp.as_str(), s);
        assert_eq!(curp.birth_date(), date, "{s}");
        assert_eq!(curp.sex(), sex, "{s}");
        assert_eq!(curp.birth_state(), state, "{s}");
        assert_eq!(check_digit(&s[..17]), s.chars().nth(17), "{s}");
        assert!(validate_all(s).is_empty());
        assert_eq!(s.parse::<Curp>().as_ref().map(Curp::as_str), Ok(s));
    }
    assert_eq!(validate("RALS050314MJCMNFA3").unwrap().homoclave(), 'A');
}

#[test]
fn published_wrong_examples_are_rejected_with_the_right_digit() {
    // mexico.md pitfall (c): the digit we compute is the one the document computed by hand.
    for (s, expected) in [("OEAF771012HMCRGR09", '8'), ("MARR890512HCSRYR09", '6')] {
        assert_eq!(
            validate(s),
            Err(CurpError::CheckDigit {
                found: '9',
                expected
            }),
            "{s}"
        );
    }
    // JOJO200927HNLJJO09 also has a vowel where the given name's consonant goes.
    assert_eq!(
        validate_all("JOJO200927HNLJJO09"),
        [
            CurpError::InvalidChar {
                position: 16,
                found: 'O',
                expected: CharClass::Consonant
            },
            CurpError::CheckDigit {
                found: '9',
                expected: '5'
            },
        ]
    );
}

#[test]
fn wrong_weight_conventions_would_fail_the_vectors() {
    // Pitfall (a): weights 17..1 give 8 for HEGG…; pitfall (b): a 36-symbol alphabet gives 6.
    let s = "HEGG560427MVZRRL0";
    let weights_17_to_1: u32 = s
        .chars()
        .enumerate()
        .map(|(i, c)| symbol_value(c).unwrap() * (17 - i as u32))
        .sum();
    assert_eq!((10 - weights_17_to_1 % 10) % 10, 8);
    let base36 = |c: char| c.to_digit(36).unwrap();
    let no_enye: u32 = s
        .chars()
        .enumerate()
        .map(|(i, c)| base36(c) * (18 - i as u32))
        .sum();
    assert_eq!((10 - no_enye % 10) % 10, 6);
    assert_eq!(check_digit(s), Some('4'));
}

#[test]
fn dictionary_values() {
    assert_eq!(symbol_value('0'), Some(0));
    assert_eq!(symbol_value('9'), Some(9));
    assert_eq!(symbol_value('A'), Some(10));
    assert_eq!(symbol_value('N'), Some(23));
    assert_eq!(symbol_value('Ñ'), Some(24));
    assert_eq!(symbol_value('O'), Some(25));
    assert_eq!(symbol_value('Z'), Some(36));
    assert_eq!(symbol_value('a'), None);
    assert_eq!(symbol_value('&'), None);
}

#[test]
fn check_digit_needs_exactly_17_dictionary_symbols() {
    assert_eq!(check_digit("HEGG560427MVZRRL"), None);
    assert_eq!(check_digit("HEGG560427MVZRRL04"), None);
    assert_eq!(check_digit("HEGG560427MVZRRl0"), None);
    assert_eq!(check_digit(""), None);
    // All zeros sum to 0, so the digit is 0; a single 1 in position 17 (weight 2) needs 8.
    assert_eq!(check_digit("00000000000000000"), Some('0'));
    assert_eq!(check_digit("00000000000000001"), Some('8'));
    // Ñ is in the dictionary (value 24, weight 18 in position 1: 432 → 8).
    assert_eq!(check_digit("Ñ0000000000000000"), Some('8'));
}

#[test]
fn placeholder_is_its_own_error() {
    assert_eq!(validate(PLACEHOLDER), Err(CurpError::Placeholder));
    assert_eq!(validate_all(PLACEHOLDER), [CurpError::Placeholder]);
    // It would also fail the rules (month 99 and the check digit), which is why it needs its own case.
    assert_eq!(check_digit(&PLACEHOLDER[..17]), Some('5'));
    assert!(validate(" XXXX999999XXXXXX99").is_err());
    assert_eq!(
        validate(&normalize(" xxxx999999xxxxxx99 ")),
        Err(CurpError::Placeholder)
    );
}

#[test]
fn each_position_rejects_characters_outside_its_class() {
    let base = "HEGG560427MVZRRL04";
    let cases: [(usize, char, CharClass); 18] = [
        (1, '1', CharClass::Letter),
        (2, 'B', CharClass::VowelOrX),
        (3, '3', CharClass::Letter),
        (4, 'Ñ', CharClass::Letter),
        (5, 'A', CharClass::Digit),
        (6, 'O', CharClass::Digit),
        (7, 'I', CharClass::Digit),
        (8, ' ', CharClass::Digit),
        (9, 'Z', CharClass::Digit),
        (10, '-', CharClass::Digit),
        (11, 'F', CharClass::Sex),
        (12, '1', CharClass::Letter),
        (13, 'z', CharClass::Letter),
        (14, 'A', CharClass::Consonant),
        (15, 'E', CharClass::Consonant),
        (16, 'U', CharClass::Consonant),
        (17, '*', CharClass::DigitOrLetter),
        (18, 'A', CharClass::Digit),
    ];
    for (position, found, expected) in cases {
        let mutated: String = base
            .chars()
            .enumerate()
            .map(|(i, c)| if i + 1 == position { found } else { c })
            .collect();
        let first = validate(&mutated).unwrap_err();
        assert_eq!(
            first,
            CurpError::InvalidChar {
                position,
                found,
                expected
            },
            "{mutated}"
        );
        assert_eq!(first.positions(), Some(position..=position));
    }
}

#[test]
fn calendar_dates_and_the_century_rule() {
    // 29 Feb 2000 exists (letter in 17 → 2000); 29 Feb 1900 does not (digit → 1900).
    let leap_2000 = with_check("HEGG000229MVZRRLA");
    assert_eq!(validate(&leap_2000).unwrap().birth_date(), (2000, 2, 29));
    let not_leap_1900 = with_check("HEGG000229MVZRRL0");
    assert_eq!(
        validate(&not_leap_1900),
        Err(CurpError::InvalidDay {
            year: Some(1900),
            month: 2,
            day: 29
        })
    );
    // 1904 and 2004 are both leap years; 1901/2001 are neither.
    assert!(validate(&with_check("HEGG040229MVZRRL0")).is_ok());
    assert!(validate(&with_check("HEGG040229MVZRRLB")).is_ok());
    assert_eq!(
        validate(&with_check("HEGG010229MVZRRLB")),
        Err(CurpError::InvalidDay {
            year: Some(2001),
            month: 2,
            day: 29
        })
    );
    // Month and day bounds.
    assert_eq!(
        validate(&with_check("HEGG561327MVZRRL0")),
        Err(CurpError::InvalidMonth { month: 13 })
    );
    assert_eq!(
        validate(&with_check("HEGG560027MVZRRL0")),
        Err(CurpError::InvalidMonth { month: 0 })
    );
    assert_eq!(
        validate(&with_check("HEGG560431MVZRRL0")),
        Err(CurpError::InvalidDay {
            year: Some(1956),
            month: 4,
            day: 31
        })
    );
    assert_eq!(
        validate(&with_check("HEGG560400MVZRRL0")),
        Err(CurpError::InvalidDay {
            year: Some(1956),
            month: 4,
            day: 0
        })
    );
    assert!(validate(&with_check("HEGG561231MVZRRL0")).is_ok());
    assert!(validate(&with_check("HEGG560131MVZRRL0")).is_ok());
    // A future year is not this crate's business (no clock): 2099 is accepted.
    assert_eq!(
        validate(&with_check("HEGG991231MVZRRLA"))
            .unwrap()
            .birth_date(),
        (2099, 12, 31)
    );
}

#[test]
fn incomplete_dates_are_judged_by_what_is_known() {
    // Century unknown (only 16 typed): 29 Feb 00 exists in 2000, so no date error yet.
    assert_eq!(
        validate_all("HEGG000229MVZRRL"),
        [CurpError::Incomplete { len: 16 }]
    );
    // 29 Feb 01 exists in neither century.
    assert_eq!(
        validate_all("HEGG010229MVZRRL"),
        [
            CurpError::InvalidDay {
                year: None,
                month: 2,
                day: 29
            },
            CurpError::Incomplete { len: 16 }
        ]
    );
    // An impossible month is reported as soon as both digits are typed.
    assert_eq!(
        validate_all("HEGG5619"),
        [
            CurpError::InvalidMonth { month: 19 },
            CurpError::Incomplete { len: 8 }
        ]
    );
}

#[test]
fn sex_x_and_born_abroad() {
    let x = with_check("HEGG560427XVZRRL0");
    assert_eq!(validate(&x).unwrap().sex(), CurpSex::NoBinario);
    assert_eq!(validate("BOXW310820HNERXN09").unwrap().birth_state(), "NE");
    assert_eq!(
        validate(&with_check("HEGG560427MZZRRL0")),
        Err(CurpError::UnknownState { code: "ZZ".into() })
    );
    // Mexico City keeps DF; a modern-looking "CX" is not a code.
    assert_eq!(
        validate(&with_check("HEGG560427MCXRRL0")),
        Err(CurpError::UnknownState { code: "CX".into() })
    );
}

#[test]
fn inconvenient_words() {
    let listed = "BACA BAKA BUEI BUEY CACA CACO CAGA CAGO CAKA CAKO COGE COGI COJA COJE COJI COJO COLA CULO FALO FETO GETA GUEI GUEY JETA JOTO KACA KACO KAGA KAGO KAKA KAKO KOGE KOGI KOJA KOJE KOJI KOJO KOLA KULO LILO LOCA LOCO LOKA LOKO MAME MAMO MEAR MEAS MEON MIAR MION MOCO MOKO MULA MULO NACA NACO PEDA PEDO PENE PIPI PITO POPO PUTA PUTO QULO RATA ROBA ROBE ROBO RUIN SENO TETA VACA VAGA VAGO VAKA VUEI VUEY WUEI WUEY";
    assert_eq!(
        INCONVENIENT_WORDS.to_vec(),
        listed.split(' ').collect::<Vec<_>>()
    );
    for word in INCONVENIENT_WORDS {
        // Substituting X in position 2 must always leave the list, or derivation would loop.
        let fixed: String = word
            .chars()
            .enumerate()
            .map(|(i, c)| if i == 1 { 'X' } else { c })
            .collect();
        assert!(!INCONVENIENT_WORDS.contains(&fixed.as_str()), "{word}");
        let curp = with_check(&format!("{word}560427MVZRRL0"));
        assert_eq!(
            validate(&curp),
            Err(CurpError::InconvenientWord { word: word.into() }),
            "{curp}"
        );
        assert!(
            validate(&with_check(&format!("{fixed}560427MVZRRL0"))).is_ok(),
            "{fixed}"
        );
    }
    // The examples sanjacob/curp tests.
    assert!(matches!(
        validate(&with_check("NACO560427MVZRRL0")),
        Err(CurpError::InconvenientWord { .. })
    ));
    assert!(matches!(
        validate(&with_check("MOCO560427MVZRRL0")),
        Err(CurpError::InconvenientWord { .. })
    ));
}

#[test]
fn validate_is_strict_and_normalize_is_the_only_forgiveness() {
    let s = "HEGG560427MVZRRL04";
    assert_eq!(
        validate(" HEGG560427MVZRRL04"),
        Err(CurpError::InvalidChar {
            position: 1,
            found: ' ',
            expected: CharClass::Letter
        })
    );
    assert_eq!(
        validate("hegg560427mvzrrl04"),
        Err(CurpError::InvalidChar {
            position: 1,
            found: 'h',
            expected: CharClass::Letter
        })
    );
    assert_eq!(normalize("  hegg560427mvzrrl04\t"), s);
    assert!(validate(&normalize("\nhegg560427mvzrrl04 ")).is_ok());
    // Inner spaces are not removed by normalize: they are a typing error to report.
    assert!(validate(&normalize("HEGG 560427MVZRRL04")).is_err());
}

#[test]
fn validate_all_while_typing() {
    let full = "HEGG560427MVZRRL04";
    for len in 0..18 {
        let prefix: String = full.chars().take(len).collect();
        assert_eq!(
            validate_all(&prefix),
            [CurpError::Incomplete { len }],
            "{prefix:?}"
        );
    }
    assert_eq!(
        validate_all("HE1G56"),
        [
            CurpError::InvalidChar {
                position: 3,
                found: '1',
                expected: CharClass::Letter
            },
            CurpError::Incomplete { len: 6 }
        ]
    );
    assert_eq!(
        validate_all("HEGG560427MVZRRL045"),
        [CurpError::TooLong { len: 19 }]
    );
    // Several problems at once, ordered by position; multi-byte characters count as one position.
    assert_eq!(
        validate_all("ÑEGG561327QVZRRL04"),
        [
            CurpError::InvalidChar {
                position: 1,
                found: 'Ñ',
                expected: CharClass::Letter
            },
            CurpError::InvalidMonth { month: 13 },
            CurpError::InvalidChar {
                position: 11,
                found: 'Q',
                expected: CharClass::Sex
            },
            CurpError::CheckDigit {
                found: '4',
                expected: '7'
            },
        ]
    );
}

#[test]
fn messages_name_the_position_in_both_languages() {
    let e = CurpError::InvalidChar {
        position: 11,
        found: 'Q',
        expected: CharClass::Sex,
    };
    assert_eq!(
        e.message_es(),
        "Posición 11 (sexo): «Q» no es válido; se espera H (hombre), M (mujer) o X (no binario)."
    );
    assert_eq!(
        e.message_en(),
        "position 11 (sex): 'Q' is not allowed; expected H (male), M (female) or X (non-binary)"
    );
    let lower = CurpError::InvalidChar {
        position: 1,
        found: 'h',
        expected: CharClass::Letter,
    };
    assert!(
        lower
            .message_es()
            .ends_with("Escriba las letras en mayúsculas.")
    );
    let enye = CurpError::InvalidChar {
        position: 1,
        found: 'Ñ',
        expected: CharClass::Letter,
    };
    assert!(enye.message_es().contains("sustituye por X"));
    assert_eq!(
        CurpError::InvalidDay {
            year: Some(1900),
            month: 2,
            day: 29
        }
        .message_es(),
        "Posiciones 9-10 (día de nacimiento): la fecha 29/02/1900 no existe."
    );
    assert_eq!(
        CurpError::CheckDigit {
            found: '9',
            expected: '8'
        }
        .to_string(),
        "position 18 (check digit): found 9 but the first 17 characters give 8; some character was probably mistyped"
    );
    // Every variant has a non-empty text in both languages that differs between them.
    let all = [
        CurpError::Placeholder,
        CurpError::Incomplete { len: 3 },
        CurpError::TooLong { len: 19 },
        e,
        CurpError::InvalidMonth { month: 13 },
        CurpError::InvalidDay {
            year: None,
            month: 2,
            day: 30,
        },
        CurpError::UnknownState { code: "ZZ".into() },
        CurpError::InconvenientWord {
            word: "BUEY".into(),
        },
        CurpError::CheckDigit {
            found: '1',
            expected: '2',
        },
        CurpError::EmptyName {
            field: NameField::GivenNames,
        },
        CurpError::YearOutOfRange { year: 1899 },
    ];
    for error in all {
        assert!(
            !error.message_es().is_empty() && error.message_es() != error.message_en(),
            "{error:?}"
        );
    }
}

#[test]
fn undetectable_substitutions_of_one_vector_are_exactly_the_predicted_ones() {
    // Hand-derived in the module docs' terms for HEGG560427MVZRRL04 (values: H17 E14 G16 M22 V32 Z36
    // R28 L21, birth 27 April 1956, digit in 17):
    let expected: &[(usize, &str)] = &[
        (1, "CMQV"),         // {C H M Q V}
        (2, "X"),            // E ↔ X
        (3, "BLPUZ"),        // {B G L P U Z}
        (4, "ACEIKMPRTVXZ"), // even-valued letters other than G
        (5, "0"),            // 1956 → 1906
        (9, "01"),           // day 27 → 07, 17 (37 does not exist)
        (11, "H"),           // M ↔ H
        (14, "CGKMPTVXZ"),   // even-valued consonants other than R
        (15, "DNW"),         // consonants ≡ R (28) mod 5
        (16, "B"),           // L (21) ↔ B (11); 31 is U, a vowel
        (17, "5AFKOTY"),     // ≡ 0 mod 5: 1956 → 2056 with a letter, still a real date
    ];
    let base: Vec<char> = "HEGG560427MVZRRL04".chars().collect();
    let mut accepted: Vec<(usize, char)> = Vec::new();
    for idx in 0..18 {
        for &c in &CHECK_DICTIONARY {
            if c == base[idx] {
                continue;
            }
            let mut mutated = base.clone();
            mutated[idx] = c;
            let mutated: String = mutated.into_iter().collect();
            if validate(&mutated).is_ok() {
                accepted.push((idx + 1, c));
            }
        }
    }
    let expected: Vec<(usize, char)> = expected
        .iter()
        .flat_map(|&(p, cs)| cs.chars().map(move |c| (p, c)))
        .collect();
    assert_eq!(accepted, expected);
    assert_eq!(accepted.len(), 46);
}

// ---- derivation ----

#[test]
fn derives_the_renapo_worked_example_and_the_synthetic_vector() {
    let ricardo = person(
        "Ricardo",
        "Alamán",
        Some("Pérez"),
        (1963, 3, 21),
        CurpSex::Hombre,
        "DF",
    );
    assert_eq!(derive(&ricardo, 0).unwrap().as_str(), "AAPR630321HDFLRC09");
    let sofia = person(
        "Sofía",
        "Ramírez",
        Some("Luna"),
        (2005, 3, 14),
        CurpSex::Mujer,
        "JC",
    );
    assert_eq!(derive(&sofia, 0).unwrap().as_str(), "RALS050314MJCMNFA3");
}

#[test]
fn derivation_rules_hand_checked() {
    use CurpSex::{Hombre as H, Mujer as M};
    #[rustfmt::skip]
    let cases: [(CurpPerson<'_>, &str); 16] = [
        // Particles in the surname and the given name; MARÍA skipped; Ñ → X as an internal consonant.
        (person("María de los Ángeles", "De la Cruz", Some("Muñoz"), (1990, 1, 15), M, "DF"), "CUMA900115MDFRXN"),
        // One surname: X in positions 3 and 15.
        (person("Juan", "Pérez", None, (1985, 12, 31), H, "NL"), "PEXJ851231HNLRXN"),
        (person("Juan", "Pérez", Some("  "), (1985, 12, 31), H, "NL"), "PEXJ851231HNLRXN"),
        // BUEY is inconvenient → BXEY.
        (person("Yolanda", "Bueno", Some("Espinosa"), (1970, 6, 1), M, "VZ"), "BXEY700601MVZNSL"),
        // JOSÉ compound → LUIS.
        (person("José Luis", "Hernández", Some("García"), (2001, 7, 9), H, "GT"), "HEGL010709HGTRRS"),
        // MA. compound; Ñ as the first letter and as the internal consonant.
        (person("Ma. Guadalupe", "López", Some("Ñúñez"), (1999, 2, 28), M, "OC"), "LOXG990228MOCPXD"),
        // A surname that is only a particle is kept; no internal consonant → X.
        (person("Thi", "Le", None, (2010, 10, 10), M, "NE"), "LEXT101010MNEXXH"),
        // No internal vowel.
        (person("Wei", "Ng", Some("Chan"), (1980, 5, 5), H, "NE"), "NXCW800505HNEGHX"),
        // Apostrophe ignored; MC particle skipped.
        (person("Ana", "O'Higgins", Some("Mc Gregor"), (1975, 11, 20), M, "SP"), "OIGA751120MSPHRN"),
        // Diaeresis folded; DEL skipped; leap day.
        (person("Ángel", "Güemes", Some("Del Valle"), (1960, 2, 29), H, "CH"), "GUVA600229HCHMLN"),
        // J. compound.
        (person("J. Jesús", "Ruiz", Some("Paz"), (1950, 9, 1), H, "ZS"), "RUPJ500901HZSZZS"),
        // MARÍA alone is used.
        (person("María", "Ruiz", Some("Paz"), (1950, 9, 1), M, "ZS"), "RUPM500901MZSZZR"),
        // JOSÉ alone is used.
        (person("José", "Lara", Some("Soto"), (1944, 4, 4), H, "YN"), "LASJ440404HYNRTS"),
        // A hyphen separates given names.
        (person("María-Fernanda", "Ortiz", Some("Ávila"), (2012, 12, 12), M, "QR"), "OIAF121212MQRRVR"),
        // "De la O": only O is left → O, X, X.
        (person("Pedro", "de la O", Some("Díaz"), (1901, 1, 1), H, "TC"), "OXDP010101HTCXZD"),
        // Lowercase and stray spaces.
        (person("  sofía ", "  ramírez ", Some(" luna"), (2005, 3, 14), M, "JC"), "RALS050314MJCMNF"),
    ];
    for (p, prefix) in cases {
        assert_eq!(derive_prefix(&p).as_deref(), Ok(prefix), "{p:?}");
        let curp = derive(&p, 7).unwrap();
        assert!(curp.as_str().starts_with(prefix));
        assert_eq!(curp.birth_date(), p.birth_date);
        assert_eq!(curp.sex(), p.sex);
        assert_eq!(curp.birth_state(), p.birth_state);
        let expected_homoclave = if p.birth_date.0 < 2000 { '7' } else { 'H' };
        assert_eq!(curp.homoclave(), expected_homoclave);
    }
}

#[test]
fn derivation_errors() {
    let ok = person("Ana", "Ruiz", None, (1990, 1, 1), CurpSex::Mujer, "JC");
    assert!(derive_prefix(&ok).is_ok());
    let cases = [
        (
            CurpPerson {
                first_surname: " '- ",
                ..ok
            },
            CurpError::EmptyName {
                field: NameField::FirstSurname,
            },
        ),
        (
            CurpPerson {
                given_names: "",
                ..ok
            },
            CurpError::EmptyName {
                field: NameField::GivenNames,
            },
        ),
        (
            CurpPerson {
                birth_date: (1899, 12, 31),
                ..ok
            },
            CurpError::YearOutOfRange { year: 1899 },
        ),
        (
            CurpPerson {
                birth_date: (2100, 1, 1),
                ..ok
            },
            CurpError::YearOutOfRange { year: 2100 },
        ),
        (
            CurpPerson {
                birth_date: (1990, 13, 1),
                ..ok
            },
            CurpError::InvalidMonth { month: 13 },
        ),
        (
            CurpPerson {
                birth_date: (1900, 2, 29),
                ..ok
            },
            CurpError::InvalidDay {
                year: Some(1900),
                month: 2,
                day: 29,
            },
        ),
        (
            CurpPerson {
                birth_state: "jc",
                ..ok
            },
            CurpError::UnknownState { code: "jc".into() },
        ),
        (
            CurpPerson {
                birth_state: "CDMX",
                ..ok
            },
            CurpError::UnknownState {
                code: "CDMX".into(),
            },
        ),
    ];
    for (p, error) in cases {
        assert_eq!(derive_prefix(&p), Err(error.clone()), "{p:?}");
        assert_eq!(derive(&p, 0), Err(error));
    }
    assert!(
        derive_prefix(&CurpPerson {
            birth_date: (2000, 2, 29),
            ..ok
        })
        .is_ok()
    );
}

#[test]
fn homoclave_follows_the_century() {
    assert_eq!(homoclave_char(1999, 0), '0');
    assert_eq!(homoclave_char(1999, 9), '9');
    assert_eq!(homoclave_char(1999, 13), '3');
    assert_eq!(homoclave_char(2000, 0), 'A');
    assert_eq!(homoclave_char(2000, 25), 'Z');
    assert_eq!(homoclave_char(2024, 27), 'B');
    assert_eq!(
        homoclave_char(2024, u32::MAX),
        char::from(b'A' + (u32::MAX % 26) as u8)
    );
}

#[test]
fn name_agreement_lists_the_positions_that_differ() {
    let curp = validate("AAPR630321HDFLRC09").unwrap();
    assert!(name_agreement(&curp, "Ricardo", "Alamán", Some("Pérez")).is_empty());
    assert!(name_agreement(&curp, "RICARDO", "ALAMAN", Some("PEREZ")).is_empty());
    // Roberto: same initial, different first internal consonant (B, not C).
    assert_eq!(
        name_agreement(&curp, "Roberto", "Alamán", Some("Pérez")),
        [Disagreement {
            position: 16,
            field: NameField::GivenNames,
            in_curp: 'C',
            from_names: 'B'
        }]
    );
    // Missing second surname implies X in positions 3 and 15.
    assert_eq!(
        name_agreement(&curp, "Ricardo", "Alamán", None),
        [
            Disagreement {
                position: 3,
                field: NameField::SecondSurname,
                in_curp: 'P',
                from_names: 'X'
            },
            Disagreement {
                position: 15,
                field: NameField::SecondSurname,
                in_curp: 'R',
                from_names: 'X'
            },
        ]
    );
    // Surnames swapped: every surname position differs.
    let swapped = name_agreement(&curp, "Ricardo", "Pérez", Some("Alamán"));
    assert_eq!(
        swapped.iter().map(|d| d.position).collect::<Vec<_>>(),
        [1, 2, 3, 14, 15]
    );
    // The inconvenient-word substitution is applied before comparing.
    let buey = derive(
        &person(
            "Yolanda",
            "Bueno",
            Some("Espinosa"),
            (1970, 6, 1),
            CurpSex::Mujer,
            "VZ",
        ),
        0,
    )
    .unwrap();
    assert!(name_agreement(&buey, "Yolanda", "Bueno", Some("Espinosa")).is_empty());
    let d = Disagreement {
        position: 16,
        field: NameField::GivenNames,
        in_curp: 'C',
        from_names: 'B',
    };
    assert_eq!(
        d.message_es(),
        "Posición 16 (primera consonante interna del nombre): la CURP tiene C pero el nombre capturado da B."
    );
    assert_eq!(
        d.message_en(),
        "position 16 (first internal consonant of given name): the CURP has C but the recorded given name gives B"
    );
}

#[test]
fn serde_round_trip_validates() {
    use serde::Deserialize;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error, StrDeserializer};
    let ok: StrDeserializer<'_, Error> = "HEGG560427MVZRRL04".into_deserializer();
    assert_eq!(
        Curp::deserialize(ok).unwrap().as_str(),
        "HEGG560427MVZRRL04"
    );
    let bad: StrDeserializer<'_, Error> = "HEGG560427MVZRRL05".into_deserializer();
    let error = Curp::deserialize(bad).unwrap_err().to_string();
    assert!(error.contains("check digit"), "{error}");
    assert_eq!(
        String::from(validate("HEGG560427MVZRRL04").unwrap()),
        "HEGG560427MVZRRL04"
    );
}
