//! Value normalisation: string folding, date precision ranges, implicit number precision.

use search::{DATE_MIN_MS, date_range, decimal_range, normalize_string};

#[test]
fn folding() {
    let cases = [
        ("Gómez", "gomez"),
        ("GOMEZ", "gomez"),
        ("gomez", "gomez"),
        ("Núñez", "nunez"),
        ("NÚÑEZ", "nunez"),
        ("  José   María\tPérez ", "jose maria perez"),
        ("Ñandú", "nandu"),
        ("Çelik Ağa", "celik aga"),
        ("O'Brien-Smith", "o'brien-smith"),
        ("", ""),
        ("   ", ""),
        ("Straße", "straße"),
    ];
    for (input, expected) in cases {
        assert_eq!(normalize_string(input), expected, "{input:?}");
    }
    // Precomposed and decomposed spellings fold alike.
    assert_eq!(normalize_string("Gómez"), normalize_string("Go\u{301}mez"));
}

#[test]
fn date_precision_ranges() {
    const DAY: i64 = 86_400_000;
    let y2020 = 1_577_836_800_000;
    let cases: &[(&str, Option<(i64, i64)>)] = &[
        // Year, month (leap February), day.
        ("2020", Some((y2020, 1_609_459_200_000 - 1))),
        ("2020-02", Some((1_580_515_200_000, 1_583_020_800_000 - 1))),
        (
            "2024-02-29",
            Some((1_709_164_800_000, 1_709_164_800_000 + DAY - 1)),
        ),
        (
            "1900-01-01",
            Some((-2_208_988_800_000, -2_208_988_800_000 + DAY - 1)),
        ),
        ("0001-01-01", Some((DATE_MIN_MS, DATE_MIN_MS + DAY - 1))),
        // dateTime with zone: to UTC; seconds precision spans one second.
        (
            "2020-06-15T10:30:00-06:00",
            Some((1_592_238_600_000, 1_592_238_600_999)),
        ),
        (
            "2020-06-15T16:30:00Z",
            Some((1_592_238_600_000, 1_592_238_600_999)),
        ),
        (
            "2020-06-15T16:30:00+00:00",
            Some((1_592_238_600_000, 1_592_238_600_999)),
        ),
        // An unencoded '+' arrives as a space.
        (
            "2020-06-15T22:30:00 06:00",
            Some((1_592_238_600_000, 1_592_238_600_999)),
        ),
        // Minute precision (search values), no zone → UTC.
        (
            "2020-06-15T16:30",
            Some((1_592_238_600_000, 1_592_238_659_999)),
        ),
        // Instant with milliseconds; tenths; beyond milliseconds.
        (
            "2020-06-15T10:30:00.123Z",
            Some((1_592_217_000_123, 1_592_217_000_123)),
        ),
        (
            "2020-06-15T10:30:00.1Z",
            Some((1_592_217_000_100, 1_592_217_000_199)),
        ),
        (
            "2020-06-15T10:30:00.123456Z",
            Some((1_592_217_000_123, 1_592_217_000_123)),
        ),
        // Leap second folds into :59.
        (
            "2016-12-31T23:59:60Z",
            Some((1_483_228_799_000, 1_483_228_799_999)),
        ),
        // Malformed.
        ("2019-02-29", None),
        ("2020-13", None),
        ("2020-00-10", None),
        ("20", None),
        ("2020-1-1", None),
        ("2020-01-01T25:00:00Z", None),
        ("2020-01-01T10:00:00X", None),
        ("2020-01-01T10:00:00+5", None),
        ("2020-01-01T10:00:00+15:00", None),
        ("2020-01-01T10:00:00.Z", None),
        ("0000", None),
        ("abcd", None),
        ("2020-01-01T", None),
        ("", None),
    ];
    for (text, expected) in cases {
        assert_eq!(date_range(text), *expected, "{text}");
    }
}

#[test]
fn implicit_number_precision() {
    type Expected = Option<(f64, f64, f64)>;
    let cases: &[(&str, Expected)] = &[
        ("100", Some((100.0, 99.5, 100.5))),
        ("100.00", Some((100.0, 99.995, 100.005))),
        ("72.50", Some((72.5, 72.495, 72.505))),
        ("72.5", Some((72.5, 72.45, 72.55))),
        ("-3", Some((-3.0, -3.5, -2.5))),
        ("0", Some((0.0, -0.5, 0.5))),
        ("1e2", Some((100.0, 50.0, 150.0))),
        ("1.5e-3", Some((0.0015, 0.00145, 0.00155))),
        ("1.", None),
        (".5", None),
        ("1e", None),
        ("abc", None),
        ("--1", None),
        ("", None),
    ];
    for (text, expected) in cases {
        let got = decimal_range(text);
        match (got, expected) {
            (None, None) => {}
            (Some((v, lo, hi)), Some((ev, elo, ehi))) => {
                let close = |a: f64, b: f64| (a - b).abs() < 1e-12 * b.abs().max(1.0);
                assert!(
                    close(v, *ev) && close(lo, *elo) && close(hi, *ehi),
                    "{text}: {got:?}"
                );
            }
            _ => panic!("{text}: {got:?} != {expected:?}"),
        }
    }
}
