//! Unit tests of FHIRPath Patch: each operation type, the path subset, and refusals that
//! leave the resource untouched.

use super::*;
use crate::json::parse_str;

fn json(text: &str) -> Json {
    parse_str(text).expect("test JSON")
}

/// One `operation` parameter from `(name, value-member, value)` parts.
fn operation(parts: &[(&str, &str, Json)]) -> Json {
    Json::object([
        ("name", Json::str("operation")),
        (
            "part",
            Json::Array(
                parts
                    .iter()
                    .map(|(name, key, value)| {
                        Json::object([("name", Json::str(*name)), (*key, value.clone())])
                    })
                    .collect(),
            ),
        ),
    ])
}

fn patch(operations: Vec<Json>) -> FhirPathPatch {
    let body = Json::object([
        ("resourceType", Json::str("Parameters")),
        ("parameter", Json::Array(operations)),
    ]);
    FhirPathPatch::from_parameters(&body).expect("patch parses")
}

/// Walks `name.0.family`: members of objects and indices of arrays.
fn at<'a>(json: &'a Json, dotted: &str) -> Option<&'a Json> {
    dotted.split('.').try_fold(json, |value, step| match value {
        Json::Array(items) => items.get(step.parse::<usize>().ok()?),
        other => other.get(step),
    })
}

fn s(text: &str) -> Json {
    Json::str(text)
}

fn patient() -> Json {
    json(
        r#"{"resourceType":"Patient","id":"p1","active":true,
            "identifier":[{"system":"urn:curp","value":"AAAA000000HDFXXX01"},{"system":"urn:folio","value":"F-1"}],
            "name":[{"use":"official","family":"López","given":["Ana","María"]},{"use":"nickname","given":["Anita"]}],
            "telecom":[{"system":"phone","value":"5550001111"},{"system":"email","value":"ana@example.mx"}],
            "deceasedBoolean":false,
            "birthDate":"1980-02-03"}"#,
    )
}

fn applied(operations: Vec<Json>) -> Json {
    let mut target = patient();
    patch(operations).apply(&mut target).expect("applies");
    target
}

fn failure(operations: Vec<Json>) -> Issue {
    let mut target = patient();
    let before = target.clone();
    let issue = patch(operations)
        .apply(&mut target)
        .expect_err("the patch fails");
    assert_eq!(target, before, "a failed patch changes nothing");
    issue
}

#[test]
fn replace_by_index_and_by_where_filter() {
    let target = applied(vec![
        operation(&[
            ("type", "valueCode", s("replace")),
            ("path", "valueString", s("Patient.name[0].family")),
            ("value", "valueString", s("Pérez")),
        ]),
        operation(&[
            ("type", "valueCode", s("replace")),
            (
                "path",
                "valueString",
                s("Patient.telecom.where(system = 'phone').value"),
            ),
            ("value", "valueString", s("5559998888")),
        ]),
        operation(&[
            ("type", "valueCode", s("replace")),
            (
                "path",
                "valueString",
                s("Patient.identifier.where(system = 'urn:folio' and value = 'F-1').value"),
            ),
            ("value", "valueString", s("F-2")),
        ]),
    ]);
    assert_eq!(at(&target, "name.0.family"), Some(&s("Pérez")));
    assert_eq!(at(&target, "telecom.0.value"), Some(&s("5559998888")));
    assert_eq!(at(&target, "telecom.1.value"), Some(&s("ana@example.mx")));
    assert_eq!(at(&target, "identifier.1.value"), Some(&s("F-2")));
    assert_eq!(
        at(&target, "identifier.0.value"),
        Some(&s("AAAA000000HDFXXX01"))
    );
}

#[test]
fn add_appends_to_lists_and_sets_absent_single_elements() {
    let target = applied(vec![
        operation(&[
            ("type", "valueCode", s("add")),
            ("path", "valueString", s("Patient")),
            ("name", "valueString", s("gender")),
            ("value", "valueCode", s("female")),
        ]),
        operation(&[
            ("type", "valueCode", s("add")),
            (
                "path",
                "valueString",
                s("Patient.name.where(use = 'official')"),
            ),
            ("name", "valueString", s("given")),
            ("value", "valueString", s("Lucía")),
        ]),
        // A list that does not exist yet is created.
        operation(&[
            ("type", "valueCode", s("add")),
            ("path", "valueString", s("Patient")),
            ("name", "valueString", s("address")),
            ("value", "valueAddress", json(r#"{"city":"Oaxaca"}"#)),
        ]),
    ]);
    assert_eq!(target.get("gender"), Some(&s("female")));
    assert_eq!(
        at(&target, "name.0.given").map(Json::to_json_string),
        Some(r#"["Ana","María","Lucía"]"#.to_string())
    );
    assert_eq!(
        target.get("address").map(Json::to_json_string),
        Some(r#"[{"city":"Oaxaca"}]"#.to_string())
    );
    // add on a single element that is already there is refused: replace is for that.
    let issue = failure(vec![operation(&[
        ("type", "valueCode", s("add")),
        ("path", "valueString", s("Patient")),
        ("name", "valueString", s("birthDate")),
        ("value", "valueDate", s("1990-01-01")),
    ])]);
    assert_eq!(issue.code, IssueCode::Duplicate);
}

#[test]
fn add_a_backbone_element_sent_as_parts() {
    let contact = Json::object([
        ("name", s("value")),
        (
            "part",
            Json::Array(vec![
                Json::object([
                    ("name", s("name")),
                    ("valueHumanName", json(r#"{"family":"Ruiz"}"#)),
                ]),
                Json::object([
                    ("name", s("telecom")),
                    (
                        "valueContactPoint",
                        json(r#"{"system":"phone","value":"1"}"#),
                    ),
                ]),
            ]),
        ),
    ]);
    let mut add = operation(&[
        ("type", "valueCode", s("add")),
        ("path", "valueString", s("Patient")),
        ("name", "valueString", s("contact")),
    ]);
    if let Some(Json::Array(parts)) = add.as_object_mut().and_then(|o| o.get_mut("part")) {
        parts.push(contact);
    }
    let target = applied(vec![add]);
    // `contact` and `contact.telecom` are lists in R4; `contact.name` is not.
    assert_eq!(
        target.get("contact").map(Json::to_json_string),
        Some(
            r#"[{"name":{"family":"Ruiz"},"telecom":[{"system":"phone","value":"1"}]}]"#
                .to_string()
        )
    );
}

#[test]
fn choice_elements_by_their_base_name() {
    let target = applied(vec![operation(&[
        ("type", "valueCode", s("replace")),
        ("path", "valueString", s("Patient.deceased")),
        ("value", "valueDateTime", s("2020-01-01")),
    ])]);
    assert_eq!(target.get("deceasedBoolean"), None);
    assert_eq!(target.get("deceasedDateTime"), Some(&s("2020-01-01")));

    let mut observation = json(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"}}"#,
    );
    patch(vec![operation(&[
        ("type", "valueCode", s("replace")),
        ("path", "valueString", s("Observation.value.value")),
        ("value", "valueDecimal", Json::Number("2.50".into())),
    ])])
    .apply(&mut observation)
    .expect("applies");
    // The decimal keeps its written precision.
    assert_eq!(
        observation.to_json_string(),
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":2.50,"unit":"mg"}}"#
    );
}

#[test]
fn delete_removes_one_element_and_empty_lists() {
    let target = applied(vec![
        operation(&[
            ("type", "valueCode", s("delete")),
            (
                "path",
                "valueString",
                s("Patient.telecom.where(system = 'email')"),
            ),
        ]),
        operation(&[
            ("type", "valueCode", s("delete")),
            ("path", "valueString", s("Patient.name[1].given.first()")),
        ]),
        // Deleting what is not there is not an error.
        operation(&[
            ("type", "valueCode", s("delete")),
            ("path", "valueString", s("Patient.maritalStatus")),
        ]),
    ]);
    assert_eq!(
        target.get("telecom").map(Json::to_json_string),
        Some(r#"[{"system":"phone","value":"5550001111"}]"#.to_string())
    );
    assert_eq!(
        at(&target, "name.1").map(Json::to_json_string),
        Some(r#"{"use":"nickname"}"#.to_string()),
        "an emptied list goes away"
    );
    // Only one element may be deleted at a time.
    let issue = failure(vec![operation(&[
        ("type", "valueCode", s("delete")),
        ("path", "valueString", s("Patient.telecom")),
    ])]);
    assert_eq!(issue.code, IssueCode::MultipleMatches);
}

#[test]
fn insert_and_move_within_a_list() {
    let target = applied(vec![
        operation(&[
            ("type", "valueCode", s("insert")),
            ("path", "valueString", s("Patient.name[0].given")),
            ("value", "valueString", s("Sofía")),
            ("index", "valueInteger", Json::int(1)),
        ]),
        operation(&[
            ("type", "valueCode", s("move")),
            ("path", "valueString", s("Patient.identifier")),
            ("source", "valueInteger", Json::int(1)),
            ("destination", "valueInteger", Json::int(0)),
        ]),
        // insert into a list that does not exist yet.
        operation(&[
            ("type", "valueCode", s("insert")),
            ("path", "valueString", s("Patient.generalPractitioner")),
            (
                "value",
                "valueReference",
                json(r#"{"reference":"Practitioner/1"}"#),
            ),
            ("index", "valueInteger", Json::int(0)),
        ]),
    ]);
    assert_eq!(
        at(&target, "name.0.given").map(Json::to_json_string),
        Some(r#"["Ana","Sofía","María"]"#.to_string())
    );
    assert_eq!(at(&target, "identifier.0.value"), Some(&s("F-1")));
    assert_eq!(
        target.get("generalPractitioner").map(Json::to_json_string),
        Some(r#"[{"reference":"Practitioner/1"}]"#.to_string())
    );
    let issue = failure(vec![operation(&[
        ("type", "valueCode", s("insert")),
        ("path", "valueString", s("Patient.identifier")),
        ("value", "valueIdentifier", json(r#"{"value":"x"}"#)),
        ("index", "valueInteger", Json::int(5)),
    ])]);
    assert_eq!(issue.code, IssueCode::Invalid);
    let issue = failure(vec![operation(&[
        ("type", "valueCode", s("move")),
        ("path", "valueString", s("Patient.birthDate")),
        ("source", "valueInteger", Json::int(0)),
        ("destination", "valueInteger", Json::int(0)),
    ])]);
    assert_eq!(issue.code, IssueCode::Invalid);
}

#[test]
fn paths_that_match_nothing_or_too_much_fail_the_whole_patch() {
    // The first operation would apply; the second fails, and nothing is kept.
    let issue = failure(vec![
        operation(&[
            ("type", "valueCode", s("replace")),
            ("path", "valueString", s("Patient.active")),
            ("value", "valueBoolean", Json::Bool(false)),
        ]),
        operation(&[
            ("type", "valueCode", s("replace")),
            (
                "path",
                "valueString",
                s("Patient.telecom.where(system = 'fax').value"),
            ),
            ("value", "valueString", s("1")),
        ]),
    ]);
    assert_eq!(issue.code, IssueCode::NotFound);
    assert_eq!(issue.expression.as_deref(), Some("Parameters.parameter[1]"));
    let issue = failure(vec![operation(&[
        ("type", "valueCode", s("replace")),
        ("path", "valueString", s("Patient.name.given")),
        ("value", "valueString", s("X")),
    ])]);
    assert_eq!(issue.code, IssueCode::MultipleMatches);
}

#[test]
fn conditions_exists_this_and_or() {
    let target = applied(vec![
        operation(&[
            ("type", "valueCode", s("replace")),
            (
                "path",
                "valueString",
                s("Patient.name.where(given.where($this = 'Anita').exists()).use"),
            ),
            ("value", "valueCode", s("usual")),
        ]),
        operation(&[
            ("type", "valueCode", s("replace")),
            (
                "path",
                "valueString",
                s("Patient.telecom.where(system = 'fax' or value = 'ana@example.mx').system"),
            ),
            ("value", "valueCode", s("other")),
        ]),
        operation(&[
            ("type", "valueCode", s("replace")),
            (
                "path",
                "valueString",
                s("Patient.identifier.where(system != 'urn:curp').last().value"),
            ),
            ("value", "valueString", s("F-9")),
        ]),
    ]);
    assert_eq!(at(&target, "name.1.use"), Some(&s("usual")));
    assert_eq!(at(&target, "telecom.1.system"), Some(&s("other")));
    assert_eq!(at(&target, "identifier.1.value"), Some(&s("F-9")));
}

#[test]
fn malformed_patches_and_unsupported_paths_are_refused_when_read() {
    let read = |parameters: Vec<Json>| {
        FhirPathPatch::from_parameters(&Json::object([
            ("resourceType", s("Parameters")),
            ("parameter", Json::Array(parameters)),
        ]))
    };
    let cases: Vec<(Vec<Json>, IssueCode)> = vec![
        (
            vec![operation(&[
                ("type", "valueCode", s("replace")),
                ("path", "valueString", s("Patient.name.select(given)")),
                ("value", "valueString", s("x")),
            ])],
            IssueCode::NotSupported,
        ),
        (
            vec![operation(&[
                ("type", "valueCode", s("replace")),
                ("path", "valueString", s("Patient.name.where(family = 'x'")),
                ("value", "valueString", s("x")),
            ])],
            IssueCode::NotSupported,
        ),
        (
            vec![operation(&[
                ("type", "valueCode", s("replace")),
                ("path", "valueString", s("Patient.name.where(family = 'x)")),
                ("value", "valueString", s("x")),
            ])],
            IssueCode::NotSupported,
        ),
        (
            vec![operation(&[
                ("type", "valueCode", s("replace")),
                ("path", "valueString", s("%resource.name")),
                ("value", "valueString", s("x")),
            ])],
            IssueCode::NotSupported,
        ),
        (
            vec![operation(&[
                ("type", "valueCode", s("replace")),
                ("path", "valueString", s("Patient.active")),
            ])],
            IssueCode::Invalid,
        ),
        (
            vec![operation(&[
                ("type", "valueCode", s("add")),
                ("path", "valueString", s("Patient")),
                ("value", "valueString", s("x")),
            ])],
            IssueCode::Invalid,
        ),
        (
            vec![operation(&[
                ("type", "valueCode", s("insert")),
                ("path", "valueString", s("Patient.name")),
                ("value", "valueHumanName", json(r#"{"family":"x"}"#)),
            ])],
            IssueCode::Invalid,
        ),
        (
            vec![operation(&[
                ("type", "valueCode", s("upsert")),
                ("path", "valueString", s("Patient.active")),
            ])],
            IssueCode::Invalid,
        ),
        (
            vec![operation(&[("path", "valueString", s("Patient.active"))])],
            IssueCode::Invalid,
        ),
        (
            vec![operation(&[
                ("type", "valueCode", s("delete")),
                ("path", "valueString", s(&"a.".repeat(600))),
            ])],
            IssueCode::TooLong,
        ),
        (
            vec![operation(&[
                ("type", "valueCode", s("delete")),
                (
                    "path",
                    "valueString",
                    s(&format!("Patient{}", ".where(active".repeat(40))),
                ),
            ])],
            IssueCode::NotSupported,
        ),
        (vec![Json::object([("name", s("op"))])], IssueCode::Invalid),
    ];
    for (parameters, code) in cases {
        let text = Json::Array(parameters.clone()).to_json_string();
        let issue = read(parameters).expect_err(&text);
        assert_eq!(issue.code, code, "{text}");
        assert!(!issue.message_es.is_empty() && !issue.message_en.is_empty());
    }
    let not_parameters = FhirPathPatch::from_parameters(&json(r#"{"resourceType":"Patient"}"#));
    assert!(not_parameters.is_err());
}

#[test]
fn the_patch_enum_reads_parameters_as_fhirpath_patch() {
    let body = json(
        r#"{"resourceType":"Parameters","parameter":[{"name":"operation","part":[
            {"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.active"},
            {"name":"value","valueBoolean":false}]}]}"#,
    );
    let parsed = crate::patch::Patch::from_body(body).expect("parses");
    assert!(matches!(parsed, crate::patch::Patch::FhirPath(_)));
    let mut target = patient();
    parsed.apply(&mut target).expect("applies");
    assert_eq!(target.get("active"), Some(&Json::Bool(false)));
}

#[test]
fn primitive_extensions_move_with_their_values() {
    let mut target = json(
        r#"{"resourceType":"Patient","name":[{"given":["Ana","María","Luz"],"_given":[null,{"extension":[{"url":"u","valueString":"x"}]},null]}]}"#,
    );
    patch(vec![
        operation(&[
            ("type", "valueCode", s("move")),
            ("path", "valueString", s("Patient.name[0].given")),
            ("source", "valueInteger", Json::int(1)),
            ("destination", "valueInteger", Json::int(0)),
        ]),
        operation(&[
            ("type", "valueCode", s("insert")),
            ("path", "valueString", s("Patient.name[0].given")),
            ("value", "valueString", s("Sol")),
            ("index", "valueInteger", Json::int(1)),
        ]),
        operation(&[
            ("type", "valueCode", s("delete")),
            ("path", "valueString", s("Patient.name[0].given.last()")),
        ]),
    ])
    .apply(&mut target)
    .expect("applies");
    assert_eq!(
        target.to_json_string(),
        r#"{"resourceType":"Patient","name":[{"given":["María","Sol","Ana"],"_given":[{"extension":[{"url":"u","valueString":"x"}]},null,null]}]}"#
    );
}

/// Paths made of the grammar's own pieces in random order (a fixed seed, so a failure
/// replays): reading them never panics, and applying any that parse either works or leaves
/// the resource as it was.
#[test]
fn random_paths_never_panic_and_failures_change_nothing() {
    const PIECES: [&str; 24] = [
        "Patient", "name", "given", "telecom", "system", "value", "deceased", ".", ".", "(", ")",
        "[0]", "[1]", "where(", "first()", "last()", "exists()", " = ", " != ", " and ", " or ",
        "'phone'", "$this", "1.5",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut parsed = 0;
    for _ in 0..20_000 {
        let n_pieces = 1 + (next() % 8) as usize;
        let path: String = (0..n_pieces)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        for kind in ["delete", "replace"] {
            let body = Json::object([
                ("resourceType", s("Parameters")),
                (
                    "parameter",
                    Json::Array(vec![operation(&[
                        ("type", "valueCode", s(kind)),
                        ("path", "valueString", s(&path)),
                        ("value", "valueString", s("x")),
                    ])]),
                ),
            ]);
            let Ok(patch) = FhirPathPatch::from_parameters(&body) else {
                continue;
            };
            parsed += 1;
            let mut target = patient();
            if patch.apply(&mut target).is_err() {
                assert_eq!(target, patient(), "{kind} {path}");
            }
        }
    }
    assert!(
        parsed > 1_000,
        "the generator reaches the evaluator: {parsed}"
    );
}
