//! Tests of the lossless JSON model: exact round trips and clean errors.

use super::*;

fn round_trip(text: &str) -> String {
    parse_str(text).unwrap().to_json_string()
}

#[test]
fn decimals_and_member_order_survive() {
    let text = r#"{"resourceType":"Observation","valueQuantity":{"value":72.50,"unit":"kg"},"b":1e-3,"a":-0.0}"#;
    assert_eq!(round_trip(text), text);
}

#[test]
fn whitespace_is_dropped_but_nothing_else() {
    let text = "{ \"a\" : [ 1 , 2.000 , true , null , \"x\" ] }\n";
    assert_eq!(round_trip(text), r#"{"a":[1,2.000,true,null,"x"]}"#);
}

#[test]
fn strings_escape_and_unescape() {
    let value = parse_str(r#""Gómez \"El Güero\"\n\u00e9\ud83d\ude00\/""#).unwrap();
    assert_eq!(value.as_str().unwrap(), "Gómez \"El Güero\"\né😀/");
    assert_eq!(value.to_json_string(), r#""Gómez \"El Güero\"\né😀/""#);
    assert_eq!(Json::str("a\u{1}b").to_json_string(), r#""a\u0001b""#);
}

#[test]
fn errors_have_positions() {
    let err = parse_str("{\n  \"a\": 1,\n  \"a\": 2\n}").unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::DuplicateKey);
    assert_eq!((err.line, err.column), (3, 3));
    assert!(err.message_es().contains("línea 3"));

    for (text, kind) in [
        ("", ParseErrorKind::UnexpectedEnd),
        ("{", ParseErrorKind::UnexpectedEnd),
        ("[1,]", ParseErrorKind::UnexpectedChar),
        ("01", ParseErrorKind::TrailingChars),
        ("1.", ParseErrorKind::InvalidNumber),
        ("-", ParseErrorKind::InvalidNumber),
        ("\"\\x\"", ParseErrorKind::InvalidEscape),
        ("\"\\ud800\"", ParseErrorKind::InvalidEscape),
        ("\"a\tb\"", ParseErrorKind::ControlChar),
        ("{} {}", ParseErrorKind::TrailingChars),
        ("tru", ParseErrorKind::UnexpectedChar),
        ("NaN", ParseErrorKind::UnexpectedChar),
    ] {
        assert_eq!(parse_str(text).unwrap_err().kind, kind, "input {text:?}");
    }
    assert_eq!(
        parse(b"\"\xff\"").unwrap_err().kind,
        ParseErrorKind::InvalidUtf8
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    assert_eq!(parse_str(&deep).unwrap_err().kind, ParseErrorKind::TooDeep);
    let deep_objects = "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000);
    assert_eq!(
        parse_str(&deep_objects).unwrap_err().kind,
        ParseErrorKind::TooDeep
    );
    let ok = "[".repeat(DEPTH_MAX) + &"]".repeat(DEPTH_MAX);
    assert!(parse_str(&ok).is_ok());
}

#[test]
fn object_editing_keeps_positions() {
    let mut value = parse_str(r#"{"resourceType":"Patient","active":true,"id":"x"}"#).unwrap();
    let object = value.as_object_mut().unwrap();
    object.insert_at(1, "id", Json::str("y"));
    object.insert("active", Json::Bool(false));
    object.insert("gender", Json::str("female"));
    assert_eq!(
        value.to_json_string(),
        r#"{"resourceType":"Patient","id":"y","active":false,"gender":"female"}"#
    );
    assert_eq!(value.pointer("id").and_then(Json::as_str), Some("y"));
}

#[test]
fn pretty_output_parses_back_to_the_same_value() {
    let value = parse_str(r#"{"a":[1,{"b":[]}],"c":{},"d":"e"}"#).unwrap();
    let pretty = value.to_pretty_string();
    assert!(pretty.contains("\n  \"a\": [\n"));
    assert_eq!(parse_str(&pretty).unwrap(), value);
}

#[test]
fn same_value_ignores_member_order_only() {
    let a = parse_str(r#"{"a":1,"b":[1,2],"c":{"x":"y","z":null}}"#).unwrap();
    let b = parse_str(r#"{"c":{"z":null,"x":"y"},"b":[1,2],"a":1}"#).unwrap();
    assert!(a.same_value(&b));
    let reordered_array = parse_str(r#"{"a":1,"b":[2,1],"c":{"x":"y","z":null}}"#).unwrap();
    assert!(!a.same_value(&reordered_array));
    let precision = parse_str(r#"{"a":1.0,"b":[1,2],"c":{"x":"y","z":null}}"#).unwrap();
    assert!(
        !a.same_value(&precision),
        "1 and 1.0 are different FHIR decimals"
    );
}
