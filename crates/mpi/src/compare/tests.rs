//! Table tests of the comparison rules: each case states the expected grade range, field outcomes and
//! notes, so a regression in any rule shows up by name.

use super::*;

/// Builder for test records: the defaults describe one complete registration without CURP.
#[derive(Clone)]
struct P(PersonRecord);

impl P {
    fn new(given: &str, first: &str, second: Option<&str>) -> P {
        P(PersonRecord {
            id: "t".to_owned(),
            curp: None,
            given_names: given.to_owned(),
            first_surname: first.to_owned(),
            second_surname: second.map(str::to_owned),
            birth_date: Some("1985-03-12".to_owned()),
            sex: Some(Sex::Female),
            birth_state: Some("JC".to_owned()),
            address_state: Some("Jalisco".to_owned()),
            phone: None,
        })
    }
    fn date(mut self, date: &str) -> P {
        self.0.birth_date = Some(date.to_owned());
        self
    }
    fn no_date(mut self) -> P {
        self.0.birth_date = None;
        self
    }
    fn sex(mut self, sex: Sex) -> P {
        self.0.sex = Some(sex);
        self
    }
    fn curp(mut self, curp: &str) -> P {
        self.0.curp = Some(curp.to_owned());
        self
    }
    fn phone(mut self, phone: &str) -> P {
        self.0.phone = Some(phone.to_owned());
        self
    }
    fn state(mut self, birth: &str, address: &str) -> P {
        self.0.birth_state = Some(birth.to_owned());
        self.0.address_state = Some(address.to_owned());
        self
    }
}

fn outcome(result: &MatchResult, field: Field) -> Outcome {
    result.fields[field.index()].outcome
}

struct Case {
    name: &'static str,
    a: P,
    b: P,
    grade_min: MatchGrade,
    grade_max: MatchGrade,
    outcomes: &'static [(Field, Outcome)],
    notes: &'static [MatchNote],
}

fn check(case: &Case) {
    let result = compare(&case.a.0, &case.b.0);
    let context = format!(
        "{}: score {:.2}, {:?}, notes {:?}",
        case.name, result.score, result.grade, result.notes
    );
    assert!(
        result.grade >= case.grade_min && result.grade <= case.grade_max,
        "{context}"
    );
    for (field, expected) in case.outcomes {
        assert_eq!(outcome(&result, *field), *expected, "{context}: {field:?}");
    }
    for note in case.notes {
        assert!(
            result.notes.contains(note),
            "{context}: missing note {note:?}"
        );
    }
    let reversed = compare(&case.b.0, &case.a.0);
    assert_eq!(
        result.score, reversed.score,
        "{}: asymmetric score",
        case.name
    );
    assert_eq!(
        result.grade, reversed.grade,
        "{}: asymmetric grade",
        case.name
    );
}

const VALID_CURP: &str = "HEGG560427MVZRRL04";
const OTHER_VALID_CURP: &str = "SABC560626MDFLRN01";

#[test]
fn comparison_rules() {
    use MatchGrade::{Certain, NoMatch, Possible, Probable};
    use Outcome::{Agree, Disagree, Missing, Partial};
    let lupe = || P::new("María Guadalupe", "Hernández", Some("López"));
    let cases = [
        Case {
            name: "abbreviated and unaccented spelling of the same person",
            a: P::new("Ma. Guadalupe", "Hernández", Some("López")),
            b: P::new("María Guadalupe", "Hernandez", Some("Lopez")),
            grade_min: Certain,
            grade_max: Certain,
            outcomes: &[
                (Field::GivenNames, Agree),
                (Field::FirstSurname, Agree),
                (Field::SecondSurname, Agree),
            ],
            notes: &[],
        },
        Case {
            name: "identical valid CURP overrides spelling differences",
            a: lupe().curp(VALID_CURP),
            b: P::new("Lupita", "Hernandes", None)
                .curp(VALID_CURP)
                .date("1985-12-03"),
            grade_min: Certain,
            grade_max: Certain,
            outcomes: &[(Field::Curp, Agree), (Field::SecondSurname, Missing)],
            notes: &[MatchNote::IdenticalCurp],
        },
        Case {
            name: "identical CURP on a record describing someone else goes to review",
            a: lupe().curp(VALID_CURP),
            b: P::new("Pedro", "Zamudio", Some("Quiroz"))
                .curp(VALID_CURP)
                .date("2010-07-01")
                .sex(Sex::Male)
                .state("SR", "SR"),
            grade_min: Possible,
            grade_max: Possible,
            outcomes: &[(Field::Curp, Agree), (Field::GivenNames, Disagree)],
            notes: &[MatchNote::IdenticalCurpContradicted],
        },
        Case {
            name: "two different valid CURPs are never linked automatically",
            a: lupe().curp(VALID_CURP).phone("3312345678"),
            b: lupe().curp(OTHER_VALID_CURP).phone("3312345678"),
            grade_min: Possible,
            grade_max: Possible,
            outcomes: &[(Field::Curp, Disagree)],
            notes: &[MatchNote::DifferentValidCurps],
        },
        Case {
            name: "CURP with one mistyped character and everything else agreeing",
            a: lupe().curp(VALID_CURP),
            b: lupe().curp("HEGG560427MVZRRL09"),
            grade_min: Certain,
            grade_max: Certain,
            outcomes: &[(Field::Curp, Partial)],
            notes: &[MatchNote::CurpKeyingError],
        },
        Case {
            name: "twins: same surnames, birth date, phone and state, different given names",
            a: P::new("Ana Sofía", "Ramírez", Some("Luna")).phone("3312345678"),
            b: P::new("Valeria", "Ramírez", Some("Luna")).phone("3312345678"),
            grade_min: NoMatch,
            grade_max: Possible,
            outcomes: &[(Field::GivenNames, Disagree), (Field::BirthDate, Agree)],
            notes: &[MatchNote::PossibleSiblings],
        },
        Case {
            name: "boy/girl twins with near-identical names",
            a: P::new("Juan", "Ramírez", Some("Luna"))
                .sex(Sex::Male)
                .phone("3312345678"),
            b: P::new("Juana", "Ramírez", Some("Luna"))
                .sex(Sex::Female)
                .phone("3312345678"),
            grade_min: NoMatch,
            grade_max: Possible,
            outcomes: &[(Field::GivenNames, Partial), (Field::Sex, Disagree)],
            notes: &[MatchNote::PossibleSiblings],
        },
        Case {
            name: "father and son with the same full name",
            a: P::new("José Luis", "Pérez", Some("García"))
                .sex(Sex::Male)
                .date("1960-05-20")
                .phone("5512345678"),
            b: P::new("José Luis", "Pérez", Some("García"))
                .sex(Sex::Male)
                .date("1988-11-02")
                .phone("5512345678"),
            grade_min: NoMatch,
            grade_max: Possible,
            outcomes: &[(Field::BirthDate, Disagree), (Field::GivenNames, Agree)],
            notes: &[MatchNote::BirthDateDisagrees],
        },
        Case {
            name: "same full name, one birth date missing: probable at most",
            a: P::new("José Luis", "Pérez", Some("García")).sex(Sex::Male),
            b: P::new("José Luis", "Pérez", Some("García"))
                .sex(Sex::Male)
                .no_date(),
            grade_min: Probable,
            grade_max: Probable,
            outcomes: &[(Field::BirthDate, Missing)],
            notes: &[],
        },
        Case {
            name: "surnames registered in swapped order",
            a: lupe(),
            b: P::new("María Guadalupe", "López", Some("Hernández")),
            grade_min: Probable,
            grade_max: Certain,
            outcomes: &[(Field::FirstSurname, Agree), (Field::SecondSurname, Agree)],
            notes: &[MatchNote::SurnamesSwapped],
        },
        Case {
            name: "given name typed into the surname field",
            a: lupe(),
            b: P::new("Hernández", "María Guadalupe", Some("López")),
            grade_min: Probable,
            grade_max: Certain,
            outcomes: &[(Field::GivenNames, Agree), (Field::FirstSurname, Agree)],
            notes: &[MatchNote::GivenAndSurnameSwapped],
        },
        Case {
            name: "missing second surname is missing, not a disagreement",
            a: lupe(),
            b: P::new("María Guadalupe", "Hernández", None),
            grade_min: Certain,
            grade_max: Certain,
            outcomes: &[(Field::SecondSurname, Missing)],
            notes: &[],
        },
        Case {
            name: "both surnames typed into the first-surname field",
            a: lupe(),
            b: P::new("María Guadalupe", "Hernández López", None),
            grade_min: Certain,
            grade_max: Certain,
            outcomes: &[(Field::FirstSurname, Agree), (Field::SecondSurname, Agree)],
            notes: &[],
        },
        Case {
            name: "compound given name shortened",
            a: lupe(),
            b: P::new("Guadalupe", "Hernández", Some("López")),
            grade_min: Probable,
            grade_max: Probable,
            outcomes: &[(Field::GivenNames, Partial)],
            notes: &[MatchNote::CertainNeedsExactDateAndName],
        },
        Case {
            name: "nickname",
            a: lupe(),
            b: P::new("Lupita", "Hernández", Some("López")),
            grade_min: Probable,
            grade_max: Probable,
            outcomes: &[(Field::GivenNames, Partial)],
            notes: &[],
        },
        Case {
            name: "phonetic spelling variants of both surnames",
            a: P::new("Ximena", "Vázquez", Some("Jiménez")),
            b: P::new("Jimena", "Vasquez", Some("Gimenez")),
            grade_min: Certain,
            grade_max: Certain,
            outcomes: &[
                (Field::GivenNames, Partial),
                (Field::FirstSurname, Partial),
                (Field::SecondSurname, Partial),
            ],
            notes: &[],
        },
        Case {
            name: "typo in the first surname",
            a: lupe(),
            b: P::new("María Guadalupe", "Hernnádez", Some("López")),
            grade_min: Certain,
            grade_max: Certain,
            outcomes: &[(Field::FirstSurname, Partial)],
            notes: &[],
        },
        Case {
            name: "day and month transposed",
            a: lupe(),
            b: lupe().date("1985-12-03"),
            grade_min: Probable,
            grade_max: Probable,
            outcomes: &[(Field::BirthDate, Partial)],
            notes: &[MatchNote::CertainNeedsExactDateAndName],
        },
        Case {
            name: "one wrong digit in the birth date",
            a: lupe(),
            b: lupe().date("1985-08-12"),
            grade_min: Probable,
            grade_max: Probable,
            outcomes: &[(Field::BirthDate, Partial)],
            notes: &[],
        },
        Case {
            name: "birth year off by one",
            a: lupe(),
            b: lupe().date("1984-03-12"),
            grade_min: Probable,
            grade_max: Probable,
            outcomes: &[(Field::BirthDate, Partial)],
            notes: &[],
        },
        Case {
            name: "moved to another state, new phone",
            a: lupe().phone("3312345678"),
            b: lupe().phone("5587654321").state("JC", "CDMX"),
            grade_min: Certain,
            grade_max: Certain,
            outcomes: &[
                (Field::AddressState, Disagree),
                (Field::Phone, Disagree),
                (Field::BirthState, Agree),
            ],
            notes: &[],
        },
        Case {
            name: "Hernández vs Fernández, different given name and date",
            a: P::new("Juan", "Hernández", Some("López")).sex(Sex::Male),
            b: P::new("Pedro", "Fernández", Some("López"))
                .sex(Sex::Male)
                .date("1990-07-21"),
            grade_min: NoMatch,
            grade_max: NoMatch,
            outcomes: &[(Field::GivenNames, Disagree), (Field::BirthDate, Disagree)],
            notes: &[],
        },
        Case {
            name: "unrelated people",
            a: lupe().phone("3312345678"),
            b: P::new("Jorge", "Castillo", Some("Ortega"))
                .sex(Sex::Male)
                .date("1971-10-30")
                .state("NL", "NL"),
            grade_min: NoMatch,
            grade_max: NoMatch,
            outcomes: &[(Field::Phone, Missing), (Field::Curp, Missing)],
            notes: &[],
        },
        Case {
            name: "siblings with different birth dates",
            a: P::new("Ana Sofía", "Ramírez", Some("Luna")).phone("3312345678"),
            b: P::new("Valeria", "Ramírez", Some("Luna"))
                .phone("3312345678")
                .date("1988-06-02"),
            grade_min: NoMatch,
            grade_max: NoMatch,
            outcomes: &[],
            notes: &[],
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn explanations_are_bilingual_and_name_the_field() {
    let a = P::new("Ma. Guadalupe", "Hernández", Some("López")).0;
    let b = P::new("Guadalupe", "Hernández", None).0;
    let result = compare(&a, &b);
    assert_eq!(result.fields.len(), Field::ALL.len());
    for (comparison, field) in result.fields.iter().zip(Field::ALL) {
        assert_eq!(comparison.field, field);
        assert!(
            comparison.explanation_es.starts_with(field.label_es()),
            "{}",
            comparison.explanation_es
        );
        assert!(
            comparison.explanation_en.starts_with(field.label_en()),
            "{}",
            comparison.explanation_en
        );
        if comparison.outcome == Outcome::Missing {
            assert_eq!(comparison.weight, 0.0);
        }
    }
    let given = &result.fields[Field::GivenNames.index()];
    assert_eq!(
        given.explanation_es,
        "Nombre(s): un nombre compuesto contiene al otro (MARIA GUADALUPE / GUADALUPE)"
    );
    for note in &result.notes {
        assert!(!note.message_es().is_empty() && !note.message_en().is_empty());
    }
    let total: f64 = result.fields.iter().map(|f| f.weight).sum();
    assert!(
        (total - result.score).abs() < 1e-9,
        "direct alignment: score is the sum of field weights"
    );
}

#[test]
fn every_field_distribution_sums_to_one() {
    let table = weight_table();
    for field in Field::ALL {
        let rows: Vec<_> = table.iter().filter(|(f, ..)| *f == field).collect();
        let m: f64 = rows.iter().map(|(_, _, m, _)| m).sum();
        let u: f64 = rows.iter().map(|(_, _, _, u)| u).sum();
        assert!((m - 1.0).abs() < 1e-9, "{field:?}: m sums to {m}");
        assert!((u - 1.0).abs() < 1e-9, "{field:?}: u sums to {u}");
        for (_, level, m, u) in rows {
            let expected_sign = if *level == "disagree" { -1.0 } else { 1.0 };
            assert_eq!((m / u).log2().signum(), expected_sign, "{field:?} {level}");
        }
    }
}

#[test]
fn typo_detection_is_bounded() {
    let cases = [
        ("HERNANDEZ", "HERNNADEZ", true),
        ("HERNANDEZ", "HERNADEZ", true),
        ("HERNANDEZ", "HERNANDEZZ", true),
        ("HERNANDEZ", "FERNANDEZ", true),
        ("ANA", "AMA", false),
        ("LUIS", "LUIZ", true),
        // Two edits count only for long names that stay similar.
        ("GUADALUPE", "GUADLAUEP", true),
        ("CARLOS", "CALROSS", false),
        ("ROSA", "ROSALIA", false),
        ("MARIAGUADALUPE", "MARIAGUDALUPEE", true),
        ("GARCIA", "GARZA", false),
        ("MARTINEZ", "MARTINES", true),
    ];
    for (a, b, expected) in cases {
        assert_eq!(is_typo(a, b), expected, "{a} / {b}");
        assert_eq!(is_typo(b, a), expected, "{b} / {a}");
    }
}

#[test]
fn within_edits_agrees_with_optimal_string_alignment() {
    let words = [
        "",
        "A",
        "AB",
        "BA",
        "ABC",
        "ACB",
        "HERNANDEZ",
        "HERNNADEZ",
        "FERNANDEZ",
        "ERNANDES",
        "HERNADEZ",
    ];
    for a in words {
        for b in words {
            let distance = strsim::osa_distance(a, b);
            for budget in 0..3u8 {
                assert_eq!(
                    within_edits(a.as_bytes(), b.as_bytes(), budget),
                    distance <= usize::from(budget),
                    "{a:?} / {b:?} budget {budget}"
                );
            }
        }
    }
}

#[test]
fn candidates_are_ranked_filtered_and_truncated() {
    let query = P::new("María Guadalupe", "Hernández", Some("López")).0;
    let candidates = vec![
        P::new("Jorge", "Castillo", Some("Ortega"))
            .date("1971-10-30")
            .0,
        P::new("Guadalupe", "Hernández", Some("López")).0,
        P::new("Ma. Guadalupe", "Hernández", Some("López"))
            .phone("3312345678")
            .0,
        P::new("María Guadalupe", "Hernández", Some("López")).0,
    ];
    let all = match_candidates(&query, &candidates, false, 10);
    let order: Vec<usize> = all.iter().map(|(idx, _)| *idx).collect();
    assert_eq!(
        order,
        vec![2, 3, 1],
        "unrelated candidate dropped; exact matches first, ties by index"
    );
    assert!(all.windows(2).all(|w| w[0].1.score >= w[1].1.score));
    assert_eq!(match_candidates(&query, &candidates, false, 1).len(), 1);
    // Two certain matches: ambiguous, so onlyCertainMatches returns nothing.
    assert!(match_candidates(&query, &candidates, true, 10).is_empty());
    let single = match_candidates(&query, &candidates[..3], true, 10);
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].0, 2);
    assert_eq!(single[0].1.grade, MatchGrade::Certain);
}

#[test]
fn grade_order_and_codes() {
    assert!(MatchGrade::Certain > MatchGrade::Probable);
    assert!(MatchGrade::Probable > MatchGrade::Possible);
    assert!(MatchGrade::Possible > MatchGrade::NoMatch);
    assert_eq!(MatchGrade::NoMatch.fhir_code(), "certainly-not");
    assert_eq!(MatchGrade::Probable.fhir_code(), "probable");
}
