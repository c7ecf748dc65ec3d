//! CURP shape, check digit and keying-error distance, on the hand-verified vectors of mexico.md §A1.

use super::*;

#[test]
fn check_digits_match_the_verified_examples() {
    let valid = [
        "HEGG560427MVZRRL04",
        "AAPR630321HDFLRC09",
        "SABC560626MDFLRN01",
        "BOXW310820HNERXN09",
        "GOAR881103HDFNRL04",
        "RALS050314MJCMNFA3",
    ];
    for curp in valid {
        assert_eq!(quality(curp), CurpQuality::Valid, "{curp}");
    }
    // Published "examples" with wrong check digits (mexico.md pitfalls).
    for curp in [
        "OEAF771012HMCRGR09",
        "MARR890512HCSRYR09",
        "HEGG560427MVZRRL08",
    ] {
        assert_eq!(quality(curp), CurpQuality::BadCheckDigit, "{curp}");
    }
}

#[test]
fn malformed_strings_are_not_curps() {
    let malformed = [
        "",
        "HEGG560427MVZRRL0",
        "HEGG560427MVZRRL045",
        "HEGG56O427MVZRRL04",
        "HEGG560427ZVZRRL04",
        "hegg560427mvzrrl04",
        "1EGG560427MVZRRL04",
    ];
    for curp in malformed {
        assert_eq!(quality(curp), CurpQuality::Malformed, "{curp:?}");
    }
    // Non-binary CURPs (sex X, issued since 2023) are well formed.
    assert!(shape_ok("RALS050314XJCMNFA3"));
}

#[test]
fn keying_errors_are_one_substitution_or_adjacent_swap() {
    let cases = [
        ("HEGG560427MVZRRL04", "HEGG560427MVZRRL05", true),
        ("HEGG560427MVZRRL04", "HEGG560472MVZRRL04", true),
        ("HEGG560427MVZRRL04", "HEGG560427MVZRRL04", false),
        ("HEGG560427MVZRRL04", "HEGG560428MVZRRL05", false),
        ("HEGG560427MVZRRL04", "HEGG560427MVZRRL0", false),
    ];
    for (a, b, expected) in cases {
        assert_eq!(one_keying_error_apart(a, b), expected, "{a} / {b}");
        assert_eq!(one_keying_error_apart(b, a), expected, "{b} / {a}");
    }
}
