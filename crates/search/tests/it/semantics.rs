//! R4 search semantics, end to end in memory: extract rows from a resource, parse a query,
//! evaluate the predicates with the test evaluator. Each table row is (query, expected).

use fhir::json::{Json, parse_str};
use search::{Filter, Handling, extract, parse};

use crate::eval::{clause_matches, resource_matches};

fn check(resource: &str, table: &[(&str, bool)]) {
    let resource = parse_str(resource).unwrap();
    for (query, expected) in table {
        assert_eq!(resource_matches(&resource, query), *expected, "{query}");
    }
}

/// Like `check` but with a given `now_ms`, for `ap` on dates.
fn matches_at(resource: &Json, query: &str, now_ms: i64) -> bool {
    let (key, value) = query.split_once('=').unwrap();
    let rtype = resource.get("resourceType").unwrap().as_str().unwrap();
    let (parsed, _) = parse(
        rtype,
        &[(key.into(), value.into())],
        Handling::Strict,
        now_ms,
    )
    .unwrap();
    let Filter::Param(clause) = &parsed.filters[0] else {
        panic!()
    };
    clause_matches(&extract(resource), clause)
}

#[test]
fn date_prefixes_against_a_day() {
    check(
        r#"{"resourceType":"Patient","birthDate":"2020-06-15"}"#,
        &[
            ("birthdate=2020", true),
            ("birthdate=eq2020-06", true),
            ("birthdate=2020-06-15", true),
            // A minute cannot contain a whole day.
            ("birthdate=2020-06-15T10:00", false),
            ("birthdate=2021", false),
            ("birthdate=ne2020", false),
            ("birthdate=ne2021", true),
            ("birthdate=ne2020-06-15T10:00", true),
            ("birthdate=gt2020-06-14", true),
            ("birthdate=gt2020-06-15", false),
            ("birthdate=gt2020", false),
            ("birthdate=gt2020-06-15T10:00", true),
            ("birthdate=lt2020-06-16", true),
            ("birthdate=lt2020-06-15", false),
            ("birthdate=lt2020-06-15T10:00", true),
            ("birthdate=ge2020-06-15", true),
            ("birthdate=ge2020", true),
            ("birthdate=ge2020-06-16", false),
            ("birthdate=le2020-06-15", true),
            ("birthdate=le2020-06-14", false),
            ("birthdate=sa2020-06-14", true),
            ("birthdate=sa2020-06-15", false),
            ("birthdate=sa2020-06", false),
            ("birthdate=eb2020-06-16", true),
            ("birthdate=eb2020-06-15", false),
            // Comma = OR, repetition = AND.
            ("birthdate=2019,2020", true),
            ("birthdate=ge2020&birthdate=lt2021", true),
            ("birthdate=ge2020&birthdate=lt2020-06-01", false),
            ("birthdate:missing=false", true),
            ("birthdate:missing=true", false),
            ("gender:missing=true", true),
        ],
    );
}

#[test]
fn date_prefixes_against_an_open_period_and_an_instant() {
    check(
        r#"{"resourceType":"Encounter","period":{"start":"2020-01-01"}}"#,
        &[
            ("date=2020", false),
            ("date=gt2020", true),
            ("date=ge2025", true),
            ("date=lt2020", false),
            ("date=le2019", false),
            ("date=sa2019", true),
            ("date=sa2020", false),
            ("date=eb2030", false),
            ("date=ne2020", true),
        ],
    );
    check(
        r#"{"resourceType":"Observation","effectiveDateTime":"2020-06-15T10:30:00Z"}"#,
        &[
            ("date=2020-06-15T10:30", true),
            ("date=2020-06-15T10:30:00Z", true),
            ("date=2020-06-15T04:30:00-06:00", true),
            ("date=2020-06-15T10:30:00.500Z", false),
            ("date=gt2020-06-15T10:29", true),
            ("date=gt2020-06-15T10:30", false),
            ("date=lt2020-06-15T10:31", true),
            ("date=2020-06-15", true),
        ],
    );
}

#[test]
fn date_approximately_depends_on_the_distance_to_now() {
    let patient = parse_str(r#"{"resourceType":"Patient","birthDate":"2020-06-15"}"#).unwrap();
    let year_ms = 365 * 86_400_000i64;
    let now_2020 = 1_592_611_200_000; // 2020-06-20
    // Same day: a match whatever now is.
    assert!(matches_at(&patient, "birthdate=ap2020-06-15", now_2020));
    // Five days off, searched "now": 10 % of ~0 distance widens nothing.
    assert!(!matches_at(&patient, "birthdate=ap2020-06-20", now_2020));
    // Five days off, searched ten years later: widened by ~1 year.
    assert!(matches_at(
        &patient,
        "birthdate=ap2020-06-20",
        now_2020 + 10 * year_ms
    ));
    // Two years off, ten years later: still outside ±1 year.
    assert!(!matches_at(
        &patient,
        "birthdate=ap2022-06-20",
        now_2020 + 10 * year_ms
    ));
}

#[test]
fn number_prefixes_with_implicit_precision() {
    check(
        r#"{"resourceType":"RiskAssessment","prediction":[{"probabilityDecimal":0.50}]}"#,
        &[
            ("probability=0.5", true),
            ("probability=0.50", true),
            // A stored number is a point; the search value's precision makes the range:
            // [0.4995, 0.5005] holds 0.5, [0.5995, 0.6005] does not.
            ("probability=0.500", true),
            ("probability=0.51", false),
            ("probability=0.6", false),
            ("probability=ne0.6", true),
            ("probability=ne0.5", false),
            ("probability=gt0.4", true),
            ("probability=gt0.5", false),
            ("probability=lt0.6", true),
            ("probability=lt0.5", false),
            ("probability=ge0.5", true),
            ("probability=le0.5", true),
            ("probability=sa0.4", true),
            ("probability=sa0.5", false),
            ("probability=eb0.6", true),
            ("probability=eb0.5", false),
            // ±10 %: 0.54 → [0.481, 0.599] overlaps; 0.7 → [0.575, …] does not.
            ("probability=ap0.54", true),
            ("probability=ap0.7", false),
        ],
    );
}

#[test]
fn quantity_value_system_code_and_unit() {
    check(
        r#"{"resourceType":"Observation","valueQuantity":{"value":72.50,"unit":"kilogram","system":"http://unitsofmeasure.org","code":"kg"}}"#,
        &[
            ("value-quantity=72.5", true),
            ("value-quantity=72.5|http://unitsofmeasure.org|kg", true),
            ("value-quantity=72.5|http://unitsofmeasure.org|g", false),
            ("value-quantity=72.5|http://loinc.org|kg", false),
            ("value-quantity=72.5|http://unitsofmeasure.org|", true),
            ("value-quantity=72.5||kg", true),
            ("value-quantity=72.5||kilogram", true),
            ("value-quantity=72.5||lb", false),
            ("value-quantity=gt70|http://unitsofmeasure.org|kg", true),
            ("value-quantity=lt70", false),
            ("value-quantity=le72.5", true),
            ("value-quantity=ap80", true),
            ("value-quantity=ap90", false),
        ],
    );
}

#[test]
fn string_folding_and_modifiers() {
    check(
        r#"{"resourceType":"Patient","name":[{"family":"Gómez Núñez","given":["José","María"]}]}"#,
        &[
            ("family=gomez", true),
            ("family=GÓMEZ", true),
            ("family=Gomez Nu", true),
            ("family=nunez", false),
            ("family:contains=nunez", true),
            ("family:contains=NÚÑ", true),
            ("family:exact=Gómez Núñez", true),
            ("family:exact=gomez nunez", false),
            ("family:exact=Gómez", false),
            ("given=mar", true),
            ("name=maria", true),
            ("name=jose maria gomez", true),
            ("name=perez", false),
            ("name=perez,gomez", true),
            ("family=gomez&given=pedro", false),
        ],
    );
}

#[test]
fn token_forms() {
    check(
        r#"{"resourceType":"Patient","gender":"female",
            "identifier":[{"system":"urn:oid:2.16.840.1.113883.4.629","value":"GOMA800101MDFRRN09"}],
            "communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"es-MX"}],"text":"Español de México"}}]}"#,
        &[
            (
                "identifier=urn:oid:2.16.840.1.113883.4.629|GOMA800101MDFRRN09",
                true,
            ),
            ("identifier=GOMA800101MDFRRN09", true),
            ("identifier=|GOMA800101MDFRRN09", false),
            ("identifier=urn:oid:2.16.840.1.113883.4.629|", true),
            ("identifier=urn:other|", false),
            ("identifier=urn:oid:2.16.840.1.113883.4.629|OTRO", false),
            ("identifier:not=urn:oid:2.16.840.1.113883.4.629|OTRO", true),
            ("identifier:not=GOMA800101MDFRRN09", false),
            ("gender=female", true),
            ("gender=|female", true),
            ("gender=male", false),
            ("gender=male,female", true),
            ("gender:not=male", true),
            ("gender:not=female", false),
            ("language=es-MX", true),
            ("language:text=espanol", true),
            ("language:text=mexico", true),
            ("language:text=ingles", false),
            ("_id=a,b", false),
            ("active:not=true", true),
        ],
    );
}

#[test]
fn reference_forms() {
    check(
        r#"{"resourceType":"Observation","subject":{"reference":"Patient/p1",
            "identifier":{"system":"urn:oid:2.16.840.1.113883.4.629","value":"CURP1"}},
            "encounter":{"reference":"https://otro.mx/fhir/Encounter/e1"}}"#,
        &[
            ("subject=p1", true),
            ("subject=Patient/p1", true),
            ("subject=Group/p1", false),
            ("subject=p2", false),
            ("subject:Patient=p1", true),
            ("subject:Group=p1", false),
            ("patient=p1", true),
            ("patient=Patient/p1/_history/3", true),
            (
                "subject:identifier=urn:oid:2.16.840.1.113883.4.629|CURP1",
                true,
            ),
            ("subject:identifier=CURP2", false),
            ("encounter=https://otro.mx/fhir/Encounter/e1", true),
            // An absolute reference is not taken to name a local resource.
            ("encounter=e1", false),
            ("encounter=https://otro.mx/fhir/Encounter/e2", false),
            ("subject:missing=false", true),
            ("performer:missing=true", true),
        ],
    );
}

#[test]
fn uri_forms() {
    check(
        r#"{"resourceType":"Patient","meta":{"profile":["http://x.mx/fhir/P"],"source":"urn:node:1"}}"#,
        &[
            ("_profile=http://x.mx/fhir/P", true),
            ("_profile=http://x.mx/fhir", false),
            ("_profile:below=http://x.mx/fhir", true),
            ("_profile:below=http://y.mx", false),
            ("_profile:above=http://x.mx/fhir/P/v2", true),
            ("_profile:above=http://x.mx/other/P", false),
            ("_source=urn:node:1", true),
        ],
    );
}
