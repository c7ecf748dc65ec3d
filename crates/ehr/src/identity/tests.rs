//! Unit tests of the identity helpers: score mapping, probes, escaping, the review task and
//! merge Provenance shapes (valid R4), and the CURP check.

use super::*;
use crate::matching::{escape_search_value, probes};
use crate::write::duplicates::task_candidate;
use mpi::PersonRecord;
use search::Handling;

fn record(given: &str, first: &str, second: Option<&str>, date: Option<&str>) -> PersonRecord {
    PersonRecord {
        id: "x".into(),
        given_names: given.into(),
        first_surname: first.into(),
        second_surname: second.map(str::to_string),
        birth_date: date.map(str::to_string),
        ..PersonRecord::default()
    }
}

#[test]
fn score_bands_follow_the_grades() {
    let grades = [
        MatchGrade::NoMatch,
        MatchGrade::Possible,
        MatchGrade::Probable,
        MatchGrade::Certain,
    ];
    for bits in [-20.0, 0.0, 17.9, 18.0, 21.9, 22.0, 29.9, 30.0, 45.0, 80.0] {
        let scores: Vec<f64> = grades.iter().map(|g| score_01(*g, bits)).collect();
        assert!(scores.windows(2).all(|w| w[0] < w[1]), "{bits}: {scores:?}");
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
    }
    // Within a grade, more evidence never lowers the score.
    assert!(score_01(MatchGrade::Probable, 23.0) < score_01(MatchGrade::Probable, 28.0));
    assert!(score_01(MatchGrade::Certain, 30.0) >= 0.9);
}

#[test]
fn probes_use_only_indexed_searches_and_parse() {
    let mut r = record(
        "María Guadalupe",
        "Hernández",
        Some("López"),
        Some("1984-03-07"),
    );
    r.curp = Some("HELG840307MJCRPD06".into());
    r.phone = Some("33 1234 5678".into());
    let probes = probes(&r);
    let names: Vec<&str> = probes.iter().map(|p| p[0].0.as_str()).collect();
    assert_eq!(
        names,
        [
            "identifier",
            "birthdate",
            "birthdate",
            "name",
            "family",
            "phone"
        ]
    );
    // The date probes also cover day and month transposed.
    assert_eq!(probes[1][0].1, "1984-03-07");
    assert_eq!(probes[2][0].1, "1984-07-03");
    assert_eq!(probes[5][0].1, "3312345678");
    for probe in &probes {
        assert!(
            search::parse("Patient", probe, Handling::Strict, 0).is_ok(),
            "{probe:?}"
        );
    }
    // Day 13 cannot be a month: no transposed date.
    let r = record("Ana", "Soto", None, Some("2001-05-13"));
    let probes = crate::matching::probes(&r);
    assert_eq!(probes[0][0].1, "2001-05-13");
    assert_eq!(probes.len(), 2, "{probes:?}");
    // Nothing identifying: nothing to search.
    assert!(crate::matching::probes(&PersonRecord::default()).is_empty());
}

#[test]
fn search_values_are_escaped_and_split_back() {
    let escaped = escape_search_value(r"a,b|c$d\e");
    assert_eq!(escaped, r"a\,b\|c\$d\\e");
    assert_eq!(split_unescaped_commas(&format!("{escaped},x")).len(), 2);
    assert_eq!(split_unescaped_commas("p1,p2,p3"), ["p1", "p2", "p3"]);
}

#[test]
fn review_task_and_provenance_are_valid_r4() {
    let a = record(
        "María Guadalupe",
        "Hernández",
        Some("López"),
        Some("1984-03-07"),
    );
    let b = record(
        "Ma. Guadalupe",
        "Hernandez",
        Some("Lopez"),
        Some("1984-03-07"),
    );
    let result = mpi::compare(&a, &b);
    let hit = MatchHit {
        resource: StoredResource {
            resource_type: "Patient".into(),
            id: "b".into(),
            version_id: 1,
            last_updated: "2026-01-01T00:00:00.000Z".into(),
            last_updated_ms: 0,
            deleted: false,
            change_seq: 1,
            body: "{}".into(),
        },
        grade: result.grade.fhir_code(),
        score: score_01(result.grade, result.score),
        result,
    };
    let task = review_task("a", "b", &hit, "2026-01-01T00:00:00.000Z");
    let issues = fhir::validate::validate_resource(&task);
    assert!(issues.iter().all(|i| !i.is_error()), "{issues:?}");
    assert_eq!(task_candidate(&task), Some("b"));
    // One input per compared field, plus candidate, grade and two scores.
    let inputs = task.get("input").map(Json::as_list).unwrap();
    assert!(inputs.len() >= 4 + mpi::Field::ALL.len());

    let provenance = provenance(
        "merge",
        "MERGE",
        [(&hit.resource, 2), (&hit.resource, 3)],
        Some("Provenance/p"),
        "2026-01-01T00:00:00.000Z",
    );
    let issues = fhir::validate::validate_resource(&provenance);
    assert!(issues.iter().all(|i| !i.is_error()), "{issues:?}");
}

#[test]
fn links_are_added_and_removed_exactly() {
    let original = fhir::json::parse_str(r#"{"resourceType":"Patient","id":"t"}"#).unwrap();
    let mut p = original.clone();
    add_link(&mut p, "s", "replaces");
    assert_eq!(linked_ids(&p, &["replaces"]).collect::<Vec<_>>(), ["s"]);
    assert!(linked_ids(&p, &["replaced-by"]).next().is_none());
    remove_link(&mut p, "s", "replaces");
    assert_eq!(p, original);
    assert_eq!(
        versioned_id("Patient/abc/_history/12"),
        Some(("abc".to_string(), 12))
    );
    assert_eq!(versioned_id("Patient/abc"), None);
}

#[test]
fn retired_records_are_recognised_without_false_positives() {
    assert!(!is_retired(r#"{"resourceType":"Patient","active":true}"#));
    assert!(is_retired(r#"{"resourceType":"Patient","active":false}"#));
    assert!(is_retired(
        r#"{"resourceType":"Patient","link":[{"other":{"reference":"Patient/t"},"type":"replaced-by"}]}"#
    ));
    // The words appearing in a name are not a link.
    assert!(!is_retired(
        r#"{"resourceType":"Patient","name":[{"text":"replaced-by"}]}"#
    ));
}

#[test]
fn curp_check_reports_prefixes_as_incomplete_and_reads_valid_curps() {
    let typing = check_curp(" helg84 ");
    assert_eq!(typing.normalized, "HELG84");
    assert!(!typing.valid && !typing.complete);
    assert_eq!(typing.errors.len(), 1);
    assert_eq!(typing.errors[0].positions, None);

    let wrong = check_curp("HELG8403O7");
    assert!(wrong.errors.iter().any(|e| e.positions == Some((9, 9))));

    let valid = check_curp("HEGG560427MVZRRL04");
    assert!(valid.valid && valid.complete && valid.errors.is_empty());
    assert_eq!(valid.birth_date.as_deref(), Some("1956-04-27"));
    assert_eq!(valid.gender, Some("female"));
    assert_eq!(valid.birth_state.as_deref(), Some("VZ"));
}

#[test]
fn match_request_reads_parameters_and_rejects_bad_ones() {
    let ok = fhir::json::parse_str(
        r#"{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient"}},{"name":"onlyCertainMatches","valueBoolean":true},{"name":"count","valueInteger":500}]}"#,
    )
    .unwrap();
    let request = MatchRequest::from_body(ok).unwrap();
    assert!(request.only_certain);
    assert_eq!(request.count, MATCH_COUNT_MAX);
    for bad in [
        r#"{"resourceType":"Parameters","parameter":[]}"#,
        r#"{"resourceType":"Observation"}"#,
        r#"{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient"}},{"name":"count","valueInteger":-1}]}"#,
    ] {
        let body = fhir::json::parse_str(bad).unwrap();
        assert!(
            matches!(MatchRequest::from_body(body), Err(Error::BadRequest(_))),
            "{bad}"
        );
    }
}
