//! Index extraction on real Synthea resources: the actual rows each parameter gets.

use fhir::json::{Json, parse_str};
use search::{IndexValue, extract, patient_compartment};

use crate::fixtures::{AGUSTIN, all_bundles, bundle, first_of, ndjson};

/// The rows that hold parameter `code`'s values: its own, or those of the parameters it is
/// stored as (e.g. `patient` → `subject` rows pointing at a Patient).
fn rows(resource: &Json, code: &str) -> Vec<IndexValue> {
    let rtype = resource.get("resourceType").and_then(Json::as_str).unwrap();
    let param = search::registry().param(rtype, code).unwrap();
    let (codes, target) = param.index_codes();
    extract(resource)
        .into_iter()
        .filter(|e| codes.contains(&e.param))
        .map(|e| e.value)
        .filter(|value| match (target, value) {
            (Some(target), IndexValue::Reference { target_type, .. }) => {
                target_type.as_deref() == Some(target)
            }
            _ => true,
        })
        .collect()
}

fn tok(system: Option<&str>, code: &str, text: Option<&str>) -> IndexValue {
    IndexValue::Token {
        system: system.map(str::to_string),
        code: code.to_string(),
        text: text.map(str::to_string),
    }
}

fn st(normalized: &str, exact: &str) -> IndexValue {
    IndexValue::String {
        normalized: normalized.to_string(),
        exact: exact.to_string(),
    }
}

fn date(low_ms: i64, high_ms: i64) -> IndexValue {
    IndexValue::Date { low_ms, high_ms }
}

fn reference(ty: Option<&str>, id: Option<&str>, url: Option<&str>) -> IndexValue {
    IndexValue::Reference {
        target_type: ty.map(str::to_string),
        target_id: id.map(str::to_string),
        url: url.map(str::to_string),
        identifier: None,
    }
}

/// Asserts each `(param, expected rows)` of a table.
fn check(resource: &Json, table: &[(&str, Vec<IndexValue>)]) {
    for (code, expected) in table {
        assert_eq!(&rows(resource, code), expected, "param {code}");
    }
}

#[test]
fn synthea_patient() {
    let patient = first_of(&bundle(AGUSTIN), "Patient");
    let synthea_id = "cb5696d9-a0de-4f49-94f9-433f96a28eb0";
    check(
        &patient,
        &[
            ("family", vec![st("fonseca", "Fonseca")]),
            ("given", vec![st("agustin", "Agustín")]),
            (
                "name",
                vec![
                    st("fonseca", "Fonseca"),
                    st("agustin", "Agustín"),
                    st("mr.", "Mr."),
                    st("agustin fonseca", "Agustín Fonseca"),
                ],
            ),
            // 1994-02-01 covers the whole UTC day.
            ("birthdate", vec![date(760_060_800_000, 760_147_199_999)]),
            ("gender", vec![tok(None, "male", None)]),
            (
                "identifier",
                vec![
                    tok(
                        Some("https://github.com/synthetichealth/synthea"),
                        synthea_id,
                        None,
                    ),
                    tok(
                        Some("http://hospital.smarthealthit.org"),
                        synthea_id,
                        Some("medical record number"),
                    ),
                    tok(
                        Some("http://hl7.org/fhir/sid/us-ssn"),
                        "999-88-8619",
                        Some("social security number"),
                    ),
                    tok(
                        Some("urn:oid:2.16.840.1.113883.4.3.25"),
                        "S99955854",
                        Some("driver's license"),
                    ),
                    tok(
                        Some(
                            "http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber",
                        ),
                        "X46531854X",
                        Some("passport number"),
                    ),
                ],
            ),
            // Only Patient.address: the birthPlace extension's address is not indexed.
            ("address-state", vec![st("massachusetts", "Massachusetts")]),
            ("address-city", vec![st("fall river", "Fall River")]),
            (
                "address",
                vec![
                    st("586 hilll ranch unit 68", "586 Hilll Ranch Unit 68"),
                    st("fall river", "Fall River"),
                    st("massachusetts", "Massachusetts"),
                    st("02720", "02720"),
                    st("us", "US"),
                ],
            ),
            ("phone", vec![tok(Some("phone"), "555-929-9025", None)]),
            ("email", vec![]),
            ("deceased", vec![tok(None, "false", None)]),
            (
                "language",
                vec![tok(Some("urn:ietf:bcp:47"), "es", Some("spanish"))],
            ),
            (
                "_tag",
                vec![tok(
                    Some("https://smarthealthit.org/tags"),
                    "synthea-5-2019",
                    None,
                )],
            ),
            ("active", vec![]),
        ],
    );
    // `_id` and `_lastUpdated` live on the resource table.
    assert!(
        extract(&patient)
            .iter()
            .all(|e| e.param != "_id" && e.param != "_lastUpdated")
    );
    assert_eq!(
        patient_compartment(&patient),
        [patient.get("id").unwrap().as_str().unwrap()]
    );
}

#[test]
fn synthea_observation() {
    let resources = bundle(AGUSTIN);
    let observation = first_of(&resources, "Observation");
    let patient_uuid = format!(
        "urn:uuid:{}",
        first_of(&resources, "Patient")
            .get("id")
            .unwrap()
            .as_str()
            .unwrap()
    );
    check(
        &observation,
        &[
            (
                "code",
                vec![tok(Some("http://loinc.org"), "8302-2", Some("body height"))],
            ),
            (
                "category",
                vec![tok(
                    Some("http://terminology.hl7.org/CodeSystem/observation-category"),
                    "vital-signs",
                    Some("vital-signs"),
                )],
            ),
            ("status", vec![tok(None, "final", None)]),
            // effectiveDateTime 2011-12-13T22:28:27+00:00, second precision.
            ("date", vec![date(1_323_815_307_000, 1_323_815_307_999)]),
            // Bundle references are urn:uuid: until the server rewrites them.
            ("subject", vec![reference(None, None, Some(&patient_uuid))]),
            // `patient` is `subject.where(resolve() is Patient)`: a urn:uuid has no known type.
            ("patient", vec![]),
        ],
    );
    let quantity = rows(&observation, "value-quantity");
    let [
        IndexValue::Quantity {
            system,
            code,
            unit,
            low,
            high,
        },
    ] = quantity.as_slice()
    else {
        panic!("{quantity:?}");
    };
    assert_eq!(system.as_deref(), Some("http://unitsofmeasure.org"));
    assert_eq!(code.as_deref(), Some("cm"));
    assert_eq!(unit.as_deref(), Some("cm"));
    let value = 178.694_527_090_417_75;
    assert!(
        *low <= value && value <= *high && high - low < 1e-9,
        "{low} {high}"
    );
    // The combo parameter indexes the same value.
    assert_eq!(rows(&observation, "combo-value-quantity"), quantity);
}

#[test]
fn synthea_encounter_period_and_relative_references() {
    let encounter = first_of(&bundle(AGUSTIN), "Encounter");
    check(
        &encounter,
        &[
            // period 22:28:27 → 22:58:27 (+00:00): low of the start, high of the end second.
            ("date", vec![date(1_323_815_307_000, 1_323_817_107_999)]),
            (
                "class",
                vec![tok(
                    Some("http://terminology.hl7.org/CodeSystem/v3-ActCode"),
                    "AMB",
                    None,
                )],
            ),
            ("status", vec![tok(None, "finished", None)]),
        ],
    );
    let bulk = first_of(&ndjson("Encounter.000.ndjson.gz"), "Encounter");
    let subject = bulk.pointer("subject.reference").unwrap().as_str().unwrap();
    let id = subject.strip_prefix("Patient/").unwrap();
    assert_eq!(
        rows(&bulk, "patient"),
        vec![reference(Some("Patient"), Some(id), None)]
    );
    assert_eq!(rows(&bulk, "subject"), rows(&bulk, "patient"));
    assert_eq!(patient_compartment(&bulk), [id]);
}

#[test]
fn synthea_condition_onset_with_offset() {
    let condition = first_of(&ndjson("Condition.000.ndjson.gz"), "Condition");
    assert_eq!(
        condition.get("onsetDateTime").unwrap().as_str(),
        Some("1976-01-19T22:58:16-05:00")
    );
    check(
        &condition,
        &[
            // 22:58:16 at -05:00 is 03:58:16 UTC the next day.
            ("onset-date", vec![date(190_958_296_000, 190_958_296_999)]),
            (
                "code",
                vec![tok(
                    Some("http://snomed.info/sct"),
                    "91302008",
                    Some("sepsis (disorder)"),
                )],
            ),
            (
                "clinical-status",
                vec![tok(
                    Some("http://terminology.hl7.org/CodeSystem/condition-clinical"),
                    "active",
                    None,
                )],
            ),
            (
                "patient",
                vec![reference(
                    Some("Patient"),
                    Some("129c6ac7-8d06-89de-ad63-0204a93e76c3"),
                    None,
                )],
            ),
            (
                "encounter",
                vec![reference(
                    Some("Encounter"),
                    Some("f6003197-6507-1168-87be-ceccd5517094"),
                    None,
                )],
            ),
        ],
    );
    assert_eq!(
        patient_compartment(&condition),
        ["129c6ac7-8d06-89de-ad63-0204a93e76c3"]
    );
}

#[test]
fn synthea_medication_request_code_and_conditional_reference() {
    let request = first_of(
        &ndjson("MedicationRequest.000.ndjson.gz"),
        "MedicationRequest",
    );
    check(
        &request,
        &[
            (
                "code",
                vec![tok(
                    Some("http://www.nlm.nih.gov/research/umls/rxnorm"),
                    "314076",
                    Some("lisinopril 10 mg oral tablet"),
                )],
            ),
            // `medication` is `medication as Reference`; Synthea uses medicationCodeableConcept.
            ("medication", vec![]),
            ("status", vec![tok(None, "stopped", None)]),
            (
                "requester",
                vec![reference(
                    None,
                    None,
                    Some("Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999974394"),
                )],
            ),
        ],
    );
}

#[test]
fn synthea_immunization() {
    let immunization = first_of(&ndjson("Immunization.000.ndjson.gz"), "Immunization");
    check(
        &immunization,
        &[
            (
                "vaccine-code",
                vec![tok(
                    Some("http://hl7.org/fhir/sid/cvx"),
                    "62",
                    Some("hpv, quadrivalent"),
                )],
            ),
            ("date", vec![date(1_408_425_406_000, 1_408_425_406_999)]),
            (
                "patient",
                vec![reference(
                    Some("Patient"),
                    Some("fb7c882a-f897-e7c5-67e0-825e7fd55d15"),
                    None,
                )],
            ),
        ],
    );
}

#[test]
fn codeable_concept_text_joins_each_coding_row() {
    let condition = parse_str(
        r#"{"resourceType":"Condition","code":{"coding":[
            {"system":"http://snomed.info/sct","code":"44054006","display":"Diabetes mellitus type 2"},
            {"system":"http://hl7.org/fhir/sid/icd-10","code":"E11"}],
            "text":"Diabetes tipo 2"}}"#,
    )
    .unwrap();
    assert_eq!(
        rows(&condition, "code"),
        vec![
            tok(
                Some("http://snomed.info/sct"),
                "44054006",
                Some("diabetes mellitus type 2 diabetes tipo 2")
            ),
            tok(
                Some("http://hl7.org/fhir/sid/icd-10"),
                "E11",
                Some("diabetes tipo 2")
            ),
        ]
    );
    let text_only =
        parse_str(r#"{"resourceType":"Condition","code":{"text":"Dolor de cabeza"}}"#).unwrap();
    assert_eq!(
        rows(&text_only, "code"),
        vec![tok(None, "", Some("dolor de cabeza"))]
    );
}

#[test]
fn other_datatypes() {
    let cases: &[(&str, &str, Vec<IndexValue>)] = &[
        // Open-ended period: missing end → far future.
        (
            r#"{"resourceType":"Encounter","period":{"start":"2020"}}"#,
            "date",
            vec![date(1_577_836_800_000, search::DATE_MAX_MS)],
        ),
        (
            r#"{"resourceType":"Encounter","period":{"end":"2020-01"}}"#,
            "date",
            vec![date(search::DATE_MIN_MS, 1_580_515_199_999)],
        ),
        // Timing events.
        (
            r#"{"resourceType":"Observation","effectiveTiming":{"event":["2020-02","2020-01-01T00:00:00Z"]}}"#,
            "date",
            vec![
                date(1_580_515_200_000, 1_583_020_799_999),
                date(1_577_836_800_000, 1_577_836_800_999),
            ],
        ),
        // deceased: a dateTime counts as true, an explicit false as false.
        (
            r#"{"resourceType":"Patient","deceasedDateTime":"2020"}"#,
            "deceased",
            vec![tok(None, "true", None)],
        ),
        (
            r#"{"resourceType":"Patient","deceasedBoolean":false}"#,
            "deceased",
            vec![tok(None, "false", None)],
        ),
        (
            r#"{"resourceType":"Patient","active":true}"#,
            "active",
            vec![tok(None, "true", None)],
        ),
        // where(system='email').
        (
            r#"{"resourceType":"Patient","telecom":[{"system":"phone","value":"1"},{"system":"email","value":"a@b.mx"}]}"#,
            "email",
            vec![tok(Some("email"), "a@b.mx", None)],
        ),
        // Reference forms.
        (
            r#"{"resourceType":"Observation","subject":{"reference":"http://otro.mx/fhir/Patient/7/_history/2"}}"#,
            "patient",
            vec![reference(
                Some("Patient"),
                None,
                Some("http://otro.mx/fhir/Patient/7/_history/2"),
            )],
        ),
        (
            r#"{"resourceType":"Observation","subject":{"reference":"Group/g1"}}"#,
            "patient",
            vec![],
        ),
        (
            r#"{"resourceType":"Observation","subject":{"type":"Patient","identifier":{"system":"urn:curp","value":"GOMA800101HDFRRN09"}}}"#,
            "subject",
            vec![IndexValue::Reference {
                target_type: Some("Patient".into()),
                target_id: None,
                url: None,
                identifier: Some((Some("urn:curp".into()), "GOMA800101HDFRRN09".into())),
            }],
        ),
        // Canonical of a reference parameter, uri parameter.
        (
            r#"{"resourceType":"Measure","library":["http://x.mx/Library/l|1.0"]}"#,
            "depends-on",
            vec![reference(None, None, Some("http://x.mx/Library/l|1.0"))],
        ),
        (
            r#"{"resourceType":"Patient","meta":{"profile":["http://x.mx/P"]}}"#,
            "_profile",
            vec![IndexValue::Uri {
                uri: "http://x.mx/P".into(),
            }],
        ),
        // A stored number is a point (the search value carries the precision).
        (
            r#"{"resourceType":"RiskAssessment","prediction":[{"probabilityDecimal":0.50}]}"#,
            "probability",
            vec![IndexValue::Number {
                low: 0.5,
                high: 0.5,
            }],
        ),
        // Range and comparator quantities.
        (
            r#"{"resourceType":"Condition","onsetRange":{"low":{"value":10,"unit":"a"},"high":{"value":20,"unit":"a"}}}"#,
            "onset-age",
            vec![IndexValue::Quantity {
                system: None,
                code: None,
                unit: Some("a".into()),
                low: 10.0,
                high: 20.0,
            }],
        ),
        (
            r#"{"resourceType":"Observation","valueQuantity":{"value":5,"comparator":"<","code":"mg"}}"#,
            "value-quantity",
            vec![IndexValue::Quantity {
                system: None,
                code: Some("mg".into()),
                unit: None,
                low: f64::MIN,
                high: 5.0,
            }],
        ),
    ];
    for (json, code, expected) in cases {
        let resource = parse_str(json).unwrap();
        assert_eq!(&rows(&resource, code), expected, "{json} {code}");
    }
}

#[test]
fn compartment_ignores_non_patient_and_non_local_references() {
    let obs = parse_str(
        r#"{"resourceType":"Observation","subject":{"reference":"Patient/p1"},
            "performer":[{"reference":"Practitioner/d1"},{"reference":"Patient/p2"},
                         {"reference":"Patient/p1"},{"reference":"https://x.mx/fhir/Patient/p3"}]}"#,
    )
    .unwrap();
    assert_eq!(patient_compartment(&obs), ["p1", "p2"]);
    let org = parse_str(r#"{"resourceType":"Organization","id":"o"}"#).unwrap();
    assert!(patient_compartment(&org).is_empty());
    assert!(extract(&parse_str(r#"{"resourceType":"NoSuchType"}"#).unwrap()).is_empty());
    assert!(extract(&parse_str("[1,2]").unwrap()).is_empty());
}

#[test]
fn every_fixture_resource_extracts_without_panicking() {
    let resources = all_bundles();
    assert!(resources.len() > 1000);
    let mut n_entries = 0;
    for resource in &resources {
        n_entries += extract(resource).len();
        let _ = patient_compartment(resource);
    }
    assert!(n_entries > resources.len() * 5, "{n_entries}");
}
