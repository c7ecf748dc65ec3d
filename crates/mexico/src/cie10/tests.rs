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
    assert!(CATALOG.len() >= 14_000, "{}", CATALOG.len());
    for pair in CATALOG.windows(2) {
        assert!(
            pair[0].code < pair[1].code,
            "{} !< {}",
            pair[0].code,
            pair[1].code
        );
    }
    for entry in CATALOG.iter() {
        assert_eq!(
            validate_cie10(entry.code).map(String::from).as_deref(),
            Ok(entry.code)
        );
        assert!(!entry.description.trim().is_empty(), "{}", entry.code);
        assert_eq!(entry.description.trim(), entry.description);
        assert!(!entry.description.contains('\u{ad}'), "{}", entry.code);
        assert!(!entry.description.contains("  "), "{}", entry.code);
    }
    let origins = |origin: Origin| CATALOG.iter().filter(|e| e.origin == origin).count();
    assert!(origins(Origin::IcdCodeInfo) > 10_000);
    assert!(origins(Origin::DeisChile) > 3_000);
    assert_eq!(origins(Origin::Ours), 3);
}

#[test]
fn every_chapter_is_present_and_leaves_are_derived() {
    for letter in 'A'..='Z' {
        let present = CATALOG.iter().any(|e| e.code.starts_with(letter));
        assert_eq!(
            present,
            letter != 'U' || lookup_cie10("U07.1").is_some(),
            "{letter}"
        );
    }
    // E11 has subcategories; I10 and A09 do not.
    assert!(!lookup_cie10("E11").unwrap().leaf);
    assert!(lookup_cie10("E11.9").unwrap().leaf);
    assert!(lookup_cie10("I10").unwrap().leaf);
    assert!(lookup_cie10("A09").unwrap().leaf);
    // Every category either has subcategories or is a leaf, and every subcategory's category exists.
    for entry in CATALOG.iter().filter(|e| e.code.len() == 5) {
        assert!(lookup_cie10(&entry.code[..3]).is_some(), "{}", entry.code);
        assert!(!lookup_cie10(&entry.code[..3]).unwrap().leaf);
    }
}

#[test]
fn primary_care_codes_are_in_the_catalog_and_marked() {
    assert!(catalog::PRIMARY_CARE.windows(2).all(|p| p[0] < p[1]));
    for code in catalog::PRIMARY_CARE {
        let entry = lookup_cie10(code).unwrap_or_else(|| panic!("{code} missing"));
        assert!(entry.primary_care, "{code}");
    }
    assert_eq!(
        CATALOG.iter().filter(|e| e.primary_care).count(),
        catalog::PRIMARY_CARE.len()
    );
}

#[test]
fn lookups_in_any_form() {
    assert_eq!(lookup_cie10("e119").map(|e| e.code), Some("E11.9"));
    assert_eq!(
        lookup_cie10("I10X").map(|e| e.description),
        Some("Hipertensión esencial (primaria)")
    );
    assert_eq!(
        lookup_cie10("I10X").map(|e| e.dgis()),
        Some("I10X".to_owned())
    );
    assert_eq!(
        lookup_cie10("E11.9").map(|e| e.dgis()),
        Some("E119".to_owned())
    );
    // Accents restored in a Chilean DEIS title.
    assert_eq!(
        lookup_cie10("E11.9").map(|e| (e.description, e.origin)),
        Some((
            "Diabetes mellitus no insulinodependiente sin mención de complicación",
            Origin::DeisChile
        ))
    );
    assert_eq!(lookup_cie10("Z99.99"), None);
    assert_eq!(lookup_cie10("U99.9"), None);
    assert_eq!(lookup_cie10("nonsense"), None);
}

#[test]
fn sex_limits_follow_the_rule_table() {
    // (code, expected limit): WHO Volume 2 rows, their edges, and codes outside them.
    for (code, sex) in [
        ("C53.9", SexLimit::Mujer),
        ("C50.9", SexLimit::Any),
        ("C61", SexLimit::Hombre),
        ("N40", SexLimit::Hombre),
        ("N51.8", SexLimit::Hombre),
        ("N63", SexLimit::Any),
        ("N39.0", SexLimit::Any),
        ("N70.9", SexLimit::Mujer),
        ("N98.9", SexLimit::Mujer),
        ("N99.2", SexLimit::Mujer),
        ("N99.1", SexLimit::Any),
        ("D07", SexLimit::Any),
        ("D07.3", SexLimit::Mujer),
        ("D07.4", SexLimit::Hombre),
        ("B37.3", SexLimit::Mujer),
        ("B37.0", SexLimit::Any),
        ("B26.0", SexLimit::Hombre),
        ("B26.9", SexLimit::Any),
        ("E28.2", SexLimit::Mujer),
        ("E29.1", SexLimit::Hombre),
        ("O14.9", SexLimit::Mujer),
        ("Z34.9", SexLimit::Mujer),
        ("Z30.1", SexLimit::Mujer),
        ("Z30.0", SexLimit::Any),
        ("Z12.4", SexLimit::Mujer),
        ("Z12.5", SexLimit::Hombre),
        ("R87.6", SexLimit::Mujer),
        ("R86.9", SexLimit::Hombre),
        ("I10", SexLimit::Any),
    ] {
        assert_eq!(lookup_cie10(code).map(|e| e.sex), Some(sex), "{code}");
    }
}

#[test]
fn pregnancy_codes_carry_the_dgis_limits() {
    for entry in CATALOG.iter().filter(|e| {
        e.code.starts_with('O') || ("Z32".."Z38").contains(&e.code) || e.code.starts_with("Z39")
    }) {
        assert_eq!(entry.sex, SexLimit::Mujer, "{}", entry.code);
        assert_eq!(
            entry.age.map(|a| (a.min, a.max, a.strength)),
            Some((
                AgeBound::Years(9),
                AgeBound::Years(59),
                LimitStrength::Refuse
            )),
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
    // A category is not refused by check_patient (its subcategory choice is check()'s job).
    assert_eq!(
        lookup_cie10("E11")
            .unwrap()
            .check_patient(BiologicalSex::Hombre, 50),
        Ok(())
    );
}

#[test]
fn check_reports_refusals_and_confirmations_with_sources() {
    let newborn_jaundice = lookup_cie10("P59.9").unwrap();
    let infant = PatientAge::between((2026, 1, 10), (2026, 3, 1)).unwrap();
    assert_eq!(infant.days, 50);
    assert_eq!(
        newborn_jaundice.check(Some(BiologicalSex::Mujer), Some(infant)),
        []
    );
    let adult = PatientAge::from_years(40);
    let issues = newborn_jaundice.check(Some(BiologicalSex::Mujer), Some(adult));
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].strength, LimitStrength::Confirm);
    assert_eq!(issues[0].source, limits::OURS_PERINATAL);
    assert_eq!(
        issues[0].error.message_es(),
        "El código CIE-10 P59.9 se espera entre 0 días y 364 días de edad; confirme que corresponde a este paciente."
    );
    // Sex and category together: both refused, sex first.
    let issues = lookup_cie10("N40")
        .unwrap()
        .check(Some(BiologicalSex::Mujer), None);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].source, limits::WHO_VOL2);
    let issues = lookup_cie10("O14")
        .unwrap()
        .check(Some(BiologicalSex::Hombre), Some(adult));
    assert_eq!(
        issues.iter().map(|i| &i.error).collect::<Vec<_>>(),
        [
            &Cie10Error::SexNotAllowed {
                code: "O14".into(),
                allowed: SexLimit::Mujer
            },
            &Cie10Error::NotLeaf { code: "O14".into() },
        ]
    );
    assert!(issues.iter().all(|i| i.strength == LimitStrength::Refuse));
    // Unknown sex and age: only the structural check remains.
    assert_eq!(lookup_cie10("C61").unwrap().check(None, None), []);
}

#[test]
fn patient_age_between_dates() {
    assert_eq!(
        PatientAge::between((2000, 2, 29), (2026, 2, 28)),
        Some(PatientAge {
            years: 25,
            days: 9496
        })
    );
    assert_eq!(
        PatientAge::between((2000, 2, 29), (2026, 3, 1)).map(|a| a.years),
        Some(26)
    );
    assert_eq!(
        PatientAge::between((2026, 5, 1), (2026, 5, 1)),
        Some(PatientAge { years: 0, days: 0 })
    );
    assert_eq!(
        PatientAge::between((2026, 5, 2), (2026, 5, 1)),
        None,
        "born tomorrow"
    );
    assert_eq!(
        PatientAge::between((2026, 2, 30), (2026, 5, 1)),
        None,
        "no such date"
    );
    assert_eq!(PatientAge::between((2026, 13, 1), (2026, 5, 1)), None);
}

fn codes(hits: &[Cie10Hit]) -> Vec<&'static str> {
    hits.iter().map(|h| h.entry.code).collect()
}

#[test]
fn search_by_code_prefix_in_any_form() {
    let mut e11: Vec<String> = vec!["E11".to_owned()];
    e11.extend((0..=9).map(|n| format!("E11.{n}")));
    assert_eq!(codes(&search("E11", 50)), e11);
    assert_eq!(codes(&search("e11.", 50)), e11);
    assert_eq!(codes(&search("e119", 50)), ["E11.9"]);
    assert_eq!(codes(&search(" E11.9 ", 50)), ["E11.9"]);
    assert_eq!(codes(&search("I10X", 50)), ["I10"]);
    assert!(
        search("j0", 500)
            .iter()
            .take(10)
            .all(|h| h.entry.code.starts_with("J0") && h.matched == Cie10Match::Code)
    );
    assert_eq!(search("E11", 3).len(), 3, "the limit is honoured");
}

#[test]
fn search_by_words_ignores_case_and_accents_and_ranks_primary_care_first() {
    let hypertension = search("hipertension", 15);
    assert_eq!(hypertension[0].entry.code, "I10");
    assert_eq!(search("HIPERTENSIÓN", 15), hypertension);
    assert_eq!(codes(&search("tiña", 20)), codes(&search("tina", 20)));
    assert_eq!(codes(&search("escorpion", 5))[0], "T63.2");
    // Every word must match; word order does not matter.
    assert!(codes(&search("aguda faringitis", 5)).contains(&"J02.9"));
    let diabetes = codes(&search("diab", 30));
    for code in ["E11.9", "E10.9", "E14.9", "O24.4"] {
        assert!(diabetes.contains(&code), "{code} not in {diabetes:?}");
    }
    assert!(search("xyzzy", 10).is_empty());
    assert!(search("  ", 10).is_empty());
    assert!(search("", 10).is_empty());
    assert!(search("diabetes", 0).is_empty());
    // Among title matches, primary-care codes come before the others.
    let titles: Vec<&Cie10Hit> = search("infeccion", 500)
        .iter()
        .filter(|h| h.matched == Cie10Match::Title)
        .copied()
        .collect::<Vec<_>>()
        .leak()
        .iter()
        .collect();
    let first_other = titles.iter().position(|h| !h.entry.primary_care).unwrap();
    assert!(titles[first_other..].iter().all(|h| !h.entry.primary_care));
}

#[test]
fn search_finds_everyday_words_through_synonyms() {
    // (query, code expected first): the examples the clinicians asked for.
    for (query, first) in [
        ("presión alta", "I10"),
        ("presion al", "I10"),
        ("azucar alta", "E11.9"),
        ("diabetes", "E11.9"),
        ("lumbalgia", "M54.5"),
        ("control prenatal", "Z34.9"),
        ("gripa", "J00"),
        ("infeccion de orina", "N39.0"),
        ("chorro", "A09"),
        ("diarrea", "A09"),
        ("piquete de alacran", "T63.2"),
        ("cuarentena", "Z39.2"),
    ] {
        let hits = search(query, 15);
        assert_eq!(
            hits.first().map(|h| h.entry.code),
            Some(first),
            "{query}: {:?}",
            codes(&hits)
        );
        assert!(
            matches!(hits[0].matched, Cie10Match::Synonym { .. }),
            "{query}"
        );
    }
    assert!(codes(&search("gripa", 15)).starts_with(&["J00", "J11.1"]));
    // A code query never goes through synonyms.
    assert_eq!(search("I10", 15)[0].matched, Cie10Match::Code);
}

#[test]
fn every_synonym_maps_to_reportable_codes() {
    let table = synonyms();
    assert!(table.len() >= 300, "{}", table.len());
    let mut folded: Vec<&str> = table.iter().map(|s| s.folded.as_str()).collect();
    folded.sort_unstable();
    let n_terms = folded.len();
    folded.dedup();
    assert_eq!(folded.len(), n_terms, "terms are unique after folding");
    for synonym in table {
        assert!(!synonym.term.trim().is_empty());
        assert!(!synonym.codes.is_empty(), "{}", synonym.term);
        for code in &synonym.codes {
            let entry = lookup_cie10(code)
                .unwrap_or_else(|| panic!("{}: {code} is not in the catalogue", synonym.term));
            assert_eq!(
                entry.code, *code,
                "{}: {code} is not in dotted form",
                synonym.term
            );
            assert!(entry.leaf, "{}: {code} has subcategories", synonym.term);
        }
        // Each synonym finds its first code by itself.
        let hits = search(synonym.term, 50);
        assert!(
            hits.iter().any(|h| h.entry.code == synonym.codes[0]),
            "{} does not find {}",
            synonym.term,
            synonym.codes[0]
        );
    }
}

#[test]
fn code_matches_come_before_word_matches_without_duplicates() {
    let z = search("z", usize::MAX);
    let first_non_z = z
        .iter()
        .position(|e| !e.entry.code.starts_with('Z'))
        .unwrap();
    assert!(
        z[first_non_z..]
            .iter()
            .all(|e| !e.entry.code.starts_with('Z'))
    );
    let mut unique = codes(&z);
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), z.len());
    // The compatibility wrapper returns the same order.
    assert_eq!(
        search_cie10("lumbalgia")
            .iter()
            .map(|e| e.code)
            .collect::<Vec<_>>(),
        codes(&search("lumbalgia", usize::MAX))
    );
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
