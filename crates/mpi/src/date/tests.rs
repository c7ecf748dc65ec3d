//! Birth-date parsing and near-miss relations.

use super::*;

fn d(s: &str) -> BirthDate {
    BirthDate::parse(s).unwrap()
}

#[test]
fn parsing_accepts_full_valid_dates_only() {
    assert_eq!(BirthDate::parse("1985-03-12"), BirthDate::new(1985, 3, 12));
    assert_eq!(
        BirthDate::parse(" 2000-02-29T10:00:00-06:00"),
        BirthDate::new(2000, 2, 29)
    );
    for bad in [
        "1985",
        "1985-03",
        "1985-13-01",
        "1900-02-29",
        "1985-02-30",
        "85-03-12",
        "1985/03/12",
        "19ñ5-03-12",
        "",
    ] {
        assert_eq!(BirthDate::parse(bad), None, "{bad}");
    }
}

#[test]
fn relations_classify_clerk_errors() {
    let cases = [
        ("1985-03-12", "1985-03-12", DateRelation::Exact),
        ("1985-03-12", "1985-12-03", DateRelation::TransposedDayMonth),
        ("1985-03-12", "1985-03-13", DateRelation::OneDigit),
        ("1985-03-12", "1986-03-12", DateRelation::YearOffByOne),
        ("1989-03-12", "1990-03-12", DateRelation::YearOffByOne),
        (
            "1985-03-12",
            "1958-03-12",
            DateRelation::AdjacentDigitsSwapped,
        ),
        (
            "1985-03-12",
            "1985-03-21",
            DateRelation::AdjacentDigitsSwapped,
        ),
        ("1985-03-12", "1987-05-12", DateRelation::Different),
        ("1985-03-12", "1995-04-12", DateRelation::Different),
        ("1960-01-01", "2003-01-01", DateRelation::Different),
    ];
    for (a, b, relation) in cases {
        assert_eq!(d(a).relation(d(b)), relation, "{a} / {b}");
        assert_eq!(d(b).relation(d(a)), relation, "{b} / {a}");
    }
}
