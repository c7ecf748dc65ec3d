//! Tables of valid and invalid values for the hand-written primitive checks and grammars.

use super::grammar::{ReferenceProblem, check_reference, is_language_tag, is_mime_type};
use super::primitive::*;
use crate::defs::Primitive;
use crate::json::Json;
use crate::validate::{Issue, validate_resource, validate_resource_assuming_zone};

/// Checks that each value in `valid` passes and each in `invalid` fails for `primitive`.
fn check_text_table(primitive: Primitive, valid: &[&str], invalid: &[&str]) {
    for value in valid {
        assert_eq!(
            check_text(primitive, value),
            Ok(()),
            "{} {value:?} should be valid",
            primitive.name()
        );
    }
    for value in invalid {
        assert!(
            check_text(primitive, value).is_err(),
            "{} {value:?} should be invalid",
            primitive.name()
        );
    }
}

#[test]
fn dates() {
    check_text_table(
        Primitive::Date,
        &[
            "2024",
            "2024-02",
            "2024-02-29",
            "2000-02-29",
            "0001-01-01",
            "1999-12-31",
        ],
        &[
            "",
            "0000",
            "24",
            "2024-2",
            "2024-13",
            "2024-00",
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-01-01T00:00:00Z",
            "2024/01/01",
            " 2024",
            "2024-01-01 ",
        ],
    );
}

#[test]
fn date_times() {
    check_text_table(
        Primitive::DateTime,
        &[
            "2024",
            "2024-05",
            "2024-05-06",
            "2024-05-06T07:08:09Z",
            "2024-05-06T07:08:09.123+05:30",
            "2024-05-06T23:59:60-14:00",
            "2024-05-06T00:00:00+14:00",
            "2024-05-06T00:00:00-13:59",
        ],
        &[
            "2024-05-06T07:08:09",
            "2024-05-06T07:08Z",
            "2024-05T07:08:09Z",
            "2024-05-06T24:00:00Z",
            "2024-05-06T07:60:00Z",
            "2024-05-06T07:08:61Z",
            "2024-05-06T07:08:09.Z",
            "2024-05-06T07:08:09+14:01",
            "2024-05-06T07:08:09+5:30",
            "2024-05-06T07:08:09+05:30:00",
            "2024-05-06t07:08:09Z",
            "2024-05-06T",
        ],
    );
}

#[test]
fn instants_and_times() {
    check_text_table(
        Primitive::Instant,
        &[
            "2015-02-07T13:28:17.239+02:00",
            "2017-01-01T00:00:00Z",
            "2017-01-01T00:00:00.000000001-06:00",
        ],
        &[
            "2017-01-01",
            "2017-01-01T00:00:00",
            "2017",
            "2017-01-01T00:00Z",
        ],
    );
    check_text_table(
        Primitive::Time,
        &["00:00:00", "23:59:59", "12:30:00.5"],
        &[
            "24:00:00",
            "12:30",
            "12:30:00Z",
            "12:30:00+01:00",
            "1:30:00",
            "12:30:00.",
        ],
    );
}

#[test]
fn identifiers_and_codes() {
    check_text_table(
        Primitive::Id,
        &["a", "A-1.b", &"x".repeat(64), "123"],
        &["", "a_b", "a b", &"x".repeat(65), "ñ", "a/b"],
    );
    check_text_table(
        Primitive::Code,
        &["male", "a b", "http://x|y", "[lb_av]", "ü"],
        &["", " a", "a ", "a  b", "a\tb\tc ", "\n"],
    );
    check_text_table(
        Primitive::Oid,
        &[
            "urn:oid:2.16.840.1.113883",
            "urn:oid:0.0",
            "urn:oid:1.2.0.3",
        ],
        &[
            "urn:oid:3.1",
            "urn:oid:1",
            "urn:oid:1.02",
            "2.16.840",
            "urn:oid:1..2",
            "urn:oid:1.2.",
        ],
    );
    check_text_table(
        Primitive::Uuid,
        &["urn:uuid:c757873d-ec9a-4326-a141-556f43239520"],
        &[
            "urn:uuid:C757873D-EC9A-4326-A141-556F43239520",
            "c757873d-ec9a-4326-a141-556f43239520",
            "urn:uuid:c757873d",
        ],
    );
    check_text_table(
        Primitive::Uri,
        &[
            "http://hl7.org/fhir",
            "urn:oid:1.2",
            "#x",
            "relative/path",
            "a|b",
        ],
        &["", "http://a b", "x\ty"],
    );
    check_text_table(
        Primitive::Base64Binary,
        &["aGVsbG8=", "aGVsbA==", "aGVs", "aGVs bG8h\n", "++//"],
        &["aGVsbG8", "aGVsbG8=x", "a===", "aGVs!G8=", "=aGV"],
    );
    check_text_table(
        Primitive::Xhtml,
        &[
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>",
            "  <div>y</div>",
        ],
        &["x", "<p>y</p>"],
    );
}

#[test]
fn strings_and_markdown() {
    check_text_table(
        Primitive::String,
        &["a", " ", "línea 1\r\nlínea 2\tfin", "😀"],
        &["", "a\u{0}b", "\u{1f}", "\u{7}"],
    );
    let long = "x".repeat(STRING_BYTES_MAX + 1);
    assert!(check_text(Primitive::String, &long).is_err());
    assert!(check_text(Primitive::Markdown, &long).is_err());
    assert!(
        check_text(
            Primitive::Base64Binary,
            &"QUJD".repeat(STRING_BYTES_MAX / 4 + 1)
        )
        .is_ok()
    );
}

#[test]
fn numbers_and_booleans() {
    let number = |text: &str| Json::Number(text.to_string());
    let table: &[(Primitive, &[&str], &[&str])] = &[
        (
            Primitive::Integer,
            &["0", "-0", "42", "-2147483648", "2147483647"],
            &[
                "2147483648",
                "-2147483649",
                "1.0",
                "1e3",
                "01",
                "99999999999999999999",
            ],
        ),
        (
            Primitive::UnsignedInt,
            &["0", "2147483647"],
            &["-1", "2147483648", "1.5", "-0"],
        ),
        (
            Primitive::PositiveInt,
            &["1", "2147483647"],
            &["0", "-1", "2147483648", "1e0"],
        ),
        (
            Primitive::Decimal,
            &["0", "72.50", "-1.5e-10", "1E+3", "0.000"],
            &[],
        ),
    ];
    for (primitive, valid, invalid) in table {
        for text in *valid {
            assert_eq!(
                check_primitive(*primitive, &number(text)),
                Ok(()),
                "{} {text}",
                primitive.name()
            );
        }
        for text in *invalid {
            assert!(
                check_primitive(*primitive, &number(text)).is_err(),
                "{} {text}",
                primitive.name()
            );
        }
        assert!(matches!(
            check_primitive(*primitive, &Json::str("1")),
            Err(PrimitiveError::Kind { .. })
        ));
    }
    assert_eq!(
        check_primitive(Primitive::Boolean, &Json::Bool(false)),
        Ok(())
    );
    for value in [Json::str("true"), Json::Number("1".into()), Json::Null] {
        assert!(check_primitive(Primitive::Boolean, &value).is_err());
    }
    assert!(matches!(
        check_primitive(Primitive::Date, &Json::Number("2020".into())),
        Err(PrimitiveError::Kind { .. })
    ));
}

#[test]
fn language_tags() {
    for tag in [
        "es",
        "es-MX",
        "es-419",
        "zh-Hant-TW",
        "sr-Latn-RS",
        "de-CH-1901",
        "sl-rozaj-biske",
        "en-US-x-twain",
        "x-whatever",
        "EN-us",
        "i-klingon",
        "zh-min-nan",
        "sgn-BE-FR",
        "en-a-bbb-x-a-ccc",
        "yue-HK",
        "zh-yue-HK",
        "nah",
        "ast",
    ] {
        assert!(is_language_tag(tag), "{tag}");
    }
    for tag in [
        "",
        "e",
        "español",
        "en-",
        "-en",
        "en--US",
        "123",
        "en-US-x",
        "toolongtag",
        "en-a",
        "en-US-a-x-y",
        "es_MX",
        "es MX",
        "en-x-toolongsubtag",
    ] {
        assert!(!is_language_tag(tag), "{tag}");
    }
}

#[test]
fn mime_types() {
    for mime in [
        "application/pdf",
        "text/plain; charset=UTF-8",
        "application/fhir+json;fhirVersion=4.0",
        "image/svg+xml",
        "application/vnd.ms-excel",
        "multipart/form-data; boundary=\"a b\"",
        "application/dicom; variant=DICOM WADO-RS",
        "xml",
        "json",
        "ttl",
    ] {
        assert!(is_mime_type(mime), "{mime}");
    }
    for mime in [
        "",
        "pdf",
        "text/",
        "/plain",
        "text/plain;",
        "text/plain; charset",
        "text plain",
        "text/pla in",
        "text/plain; =x",
    ] {
        assert!(!is_mime_type(mime), "{mime}");
    }
}

#[test]
fn reference_grammar() {
    let known = |name: &str| matches!(name, "Patient" | "Observation");
    for reference in [
        "Patient/1",
        "Observation/a.b/_history/3",
        "#",
        "#c1",
        "urn:uuid:C757873D-EC9A-4326-A141-556F43239520",
        "urn:oid:1.2.3",
        "http://x.org/fhir/Patient/1",
        "https://x.org/Patient/1/_history/2",
        "urn:isbn:0451450523",
        "Patient?identifier=a|b&name=José Pérez",
    ] {
        assert_eq!(check_reference(reference, known), Ok(()), "{reference}");
    }
    for reference in [
        "Patient",
        "Patient/",
        "Patient/1/",
        "Patient/1/_history",
        "Patient/1/_history/",
        "Patient/1/history/2",
        "Patient/a b",
        "#a b",
        "urn:uuid:abc",
        "urn:oid:9.1",
        "http://",
        "https:///x",
        "http:// x",
        "Patient?",
        "patient/1",
        "1/Patient",
        "/Patient/1",
    ] {
        assert_eq!(
            check_reference(reference, known),
            Err(ReferenceProblem::Malformed),
            "{reference}"
        );
    }
    assert_eq!(
        check_reference("Medication/1", known),
        Err(ReferenceProblem::UnknownType("Medication".into()))
    );
    assert_eq!(
        check_reference("Foo?x=1", known),
        Err(ReferenceProblem::UnknownType("Foo".into()))
    );
}

#[test]
fn a_local_date_time_is_placed_in_the_zone_with_a_warning_and_instants_stay_strict() {
    let text = r#"{"resourceType":"Bundle","type":"transaction","entry":[{"resource":
        {"resourceType":"Observation","status":"final","code":{"text":"glucosa"},
         "effectiveDateTime":"2026-03-01T10:30:00","issued":"2026-03-01T10:31:00.123-06:00",
         "valuePeriod":{"start":"2021-07-15T08:00:00.5"}}}]}"#;
    let strict = crate::json::parse_str(text).expect("json");
    let errors = validate_resource(&strict);
    assert_eq!(
        errors.iter().filter(|i| i.is_error()).count(),
        2,
        "{errors:?}"
    );

    let mut lenient = strict.clone();
    let issues = validate_resource_assuming_zone(&mut lenient, "America/Mexico_City");
    assert!(!issues.iter().any(Issue::is_error), "{issues:?}");
    assert_eq!(issues.len(), 2, "{issues:?}");
    let observation = lenient
        .get("entry")
        .and_then(|entries| entries.as_list().first())
        .and_then(|entry| entry.get("resource"))
        .expect("the entry's resource");
    // Standard time in 2026; daylight saving time in the summer of 2021.
    assert_eq!(
        observation.get("effectiveDateTime").and_then(Json::as_str),
        Some("2026-03-01T10:30:00-06:00")
    );
    assert_eq!(
        observation
            .pointer("valuePeriod.start")
            .and_then(Json::as_str),
        Some("2021-07-15T08:00:00.5-05:00")
    );
    assert_eq!(
        issues[0].expression.as_deref(),
        Some("Bundle.entry[0].resource.effectiveDateTime")
    );
    assert!(issues[0].message_es.contains("America/Mexico_City"));
    // An instant without an offset is still refused, leniently or not.
    let mut instant = crate::json::parse_str(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},
            "issued":"2026-03-01T10:31:00"}"#,
    )
    .expect("json");
    let issues = validate_resource_assuming_zone(&mut instant, "America/Mexico_City");
    assert_eq!(
        issues.iter().filter(|i| i.is_error()).count(),
        1,
        "{issues:?}"
    );
}
