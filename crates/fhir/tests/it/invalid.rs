//! Data-driven validation cases: each input resource with the exact issues it must produce,
//! one line per issue: `code @ expression: English message` (empty for valid input).

use fhir::json::parse_str;
use fhir::validate::validate_resource;

/// Validates `input` and compares the issues with `expected`, one per line.
fn check(input: &str, expected: &str) {
    let resource = parse_str(input).unwrap_or_else(|err| panic!("bad test JSON {input}: {err}"));
    let issues = validate_resource(&resource);
    for issue in &issues {
        assert!(issue.is_error(), "{issue:?}");
        assert!(
            !issue.message_es.is_empty() && issue.message_es != issue.message_en,
            "{issue:?}"
        );
    }
    let actual: Vec<String> = issues
        .iter()
        .map(|issue| {
            format!(
                "{} @ {}: {}",
                issue.code.code(),
                issue.expression.as_deref().unwrap_or("-"),
                issue.message_en
            )
        })
        .collect();
    let expected: Vec<&str> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        actual,
        expected,
        "\ninput: {input}\nactual:\n{}\n",
        actual.join("\n")
    );
}

#[test]
fn valid_resources_have_no_issues() {
    check(r#"{"resourceType":"Patient"}"#, "");
    check(
        r#"{"resourceType":"Patient","id":"curp-GOMA800101HDFRRN09","gender":"female","birthDate":"1980-01-01",
            "name":[{"family":"Gómez","given":["Ana","María"]}],"active":true,"multipleBirthInteger":2,
            "deceasedBoolean":false,"language":"es-MX","telecom":[{"system":"phone","value":"+52 55 1234 5678"}]}"#,
        "",
    );
    // Decimal precision is the client's and irrelevant to validation.
    for value in ["72.50", "72.5", "72", "0.000", "-1.5e3", "1E-7"] {
        check(
            &format!(
                r#"{{"resourceType":"Observation","status":"final","code":{{"text":"peso"}},
                    "valueQuantity":{{"value":{value},"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}}}"#
            ),
            "",
        );
    }
    // Partial dates and dateTimes are R4; instants are exact.
    check(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},
            "effectiveDateTime":"2019-07","issued":"2019-07-01T10:00:00.123-06:00"}"#,
        "",
    );
    check(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2019-07-01T10:00:60+14:00"}"#,
        "",
    );
}

#[test]
fn primitive_extensions_are_accepted() {
    // `_birthDate` with the birth time extension, as in the official patient example.
    check(
        r#"{"resourceType":"Patient","birthDate":"1974-12-25","_birthDate":{"id":"b1","extension":[
            {"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]}}"#,
        "",
    );
    // An extension without a value; arrays aligned by index with null placeholders.
    check(
        r#"{"resourceType":"Patient","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]},
            "name":[{"given":["Ana",null],"_given":[null,{"extension":[{"url":"http://example.org/x","valueString":"y"}]}]}]}"#,
        "",
    );
    check(
        r#"{"resourceType":"Patient","name":[{"given":["Ana",null]}],"_gender":[{"id":"x"}],"_active":{"extension":[]}}"#,
        "
        structure @ Patient.name[0].given[1]: null is only allowed in primitive arrays, aligned with extensions in '_name'
        structure @ Patient.gender: '_gender' takes a single value; it must not be an array
        structure @ Patient.active.extension: 'extension' must not be an empty array: omit the element
        ",
    );
    check(
        r#"{"resourceType":"Patient","name":[{"given":["Ana","Eva"],"_given":[null]}],"_birthDate":{},"_name":{"id":"x"}}"#,
        "
        structure @ Patient.name[0].given: '_given' and 'given' must have the same length (1 and 2)
        structure @ Patient.birthDate: An element must not be an empty object: it needs a value or children (ele-1)
        structure @ Patient._name: Unknown element '_name' in Patient
        ",
    );
}

#[test]
fn unknown_elements_are_errors() {
    check(
        r#"{"resourceType":"Patient","foo":1,"name":[{"family":"x","middle":"y"}],"deceasedString":"no","resourceType2":"x"}"#,
        "
        structure @ Patient.foo: Unknown element 'foo' in Patient
        structure @ Patient.name[0].middle: Unknown element 'middle' in HumanName
        structure @ Patient.deceasedString: Unknown element 'deceasedString' in Patient
        structure @ Patient.resourceType2: Unknown element 'resourceType2' in Patient
        ",
    );
    // resourceType means nothing inside a datatype.
    check(
        r#"{"resourceType":"Patient","name":[{"resourceType":"HumanName","family":"x"}]}"#,
        "structure @ Patient.name[0].resourceType: Unknown element 'resourceType' in HumanName",
    );
}

#[test]
fn cardinality_and_array_shape() {
    check(
        r#"{"resourceType":"Observation","valueString":"x"}"#,
        "
        required @ Observation.status: Required element 'status' is missing (min 1)
        required @ Observation.code: Required element 'code' is missing (min 1)
        ",
    );
    check(
        r#"{"resourceType":"Patient","gender":["male"],"name":{"family":"x"},"identifier":[],"link":[{"type":"seealso"}]}"#,
        "
        structure @ Patient.gender: 'gender' takes a single value; it must not be an array
        structure @ Patient.name: 'name' repeats: its value must be an array
        structure @ Patient.identifier: 'identifier' must not be an empty array: omit the element
        required @ Patient.link[0].other: Required element 'other' is missing (min 1)
        ",
    );
    check(
        r#"{"resourceType":"Patient","active":null,"name":[{}],"contact":[{"name":{"given":[]}}]}"#,
        "
        structure @ Patient.active: null is only allowed in primitive arrays, aligned with extensions in '_name'
        structure @ Patient.name[0]: An element must not be an empty object: it needs a value or children (ele-1)
        structure @ Patient.contact[0].name.given: 'given' must not be an empty array: omit the element
        ",
    );
    // A required choice is named with [x]; SimpleQuantity forbids a comparator.
    check(
        r#"{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},
            "dosageInstruction":[{"doseAndRate":[{"doseQuantity":{"value":1,"comparator":"<"}}]}]}"#,
        "
        structure @ MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.comparator: 'comparator' is not allowed in SimpleQuantity (max 0)
        required @ MedicationRequest.medication[x]: Required element 'medication[x]' is missing (min 1)
        ",
    );
}

#[test]
fn primitive_formats() {
    check(
        r#"{"resourceType":"Patient","id":"a_b","birthDate":"1990-02-30","active":"true","multipleBirthInteger":1.0,
            "deceasedDateTime":"2020-01-01T10:00:00","name":[{"family":""}]}"#,
        "
        value @ Patient.id: Invalid id value 'a_b': 1 to 64 characters among A-Z, a-z, 0-9, '-' and '.'
        value @ Patient.birthDate: Invalid date value '1990-02-30': must be YYYY, YYYY-MM or YYYY-MM-DD with a real date
        structure @ Patient.active: A boolean value must be a boolean (true or false, unquoted), not string
        value @ Patient.multipleBirthInteger: Invalid integer value '1.0': must be a 32-bit integer without fraction or exponent
        value @ Patient.deceasedDateTime: Invalid dateTime value '2020-01-01T10:00:00': must be YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone (Z or ±hh:mm)
        value @ Patient.name[0].family: Invalid string value '': empty strings are not allowed
        ",
    );
    check(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"issued":"2019-07-01",
            "effectiveInstant":"2019-07-01T10:00Z","valueQuantity":{"value":"72.5"},
            "referenceRange":[{"low":{"value":1},"text":"a\u0001b"}],"meta":{"versionId":"1 2","lastUpdated":"2019-07-01T25:00:00Z"}}"#,
        "
        value @ Observation.issued: Invalid instant value '2019-07-01': must be YYYY-MM-DDThh:mm:ss(.s) with a time zone (Z or ±hh:mm)
        value @ Observation.effectiveInstant: Invalid instant value '2019-07-01T10:00Z': must be YYYY-MM-DDThh:mm:ss(.s) with a time zone (Z or ±hh:mm)
        structure @ Observation.valueQuantity.value: A decimal value must be a JSON number (unquoted), not string
        value @ Observation.referenceRange[0].text: Invalid string value 'a\\u0001b': contains control characters (only tab, CR and LF are allowed)
        value @ Observation.meta.versionId: Invalid id value '1 2': 1 to 64 characters among A-Z, a-z, 0-9, '-' and '.'
        value @ Observation.meta.lastUpdated: Invalid instant value '2019-07-01T25:00:00Z': must be YYYY-MM-DDThh:mm:ss(.s) with a time zone (Z or ±hh:mm)
        ",
    );
    check(
        r#"{"resourceType":"Patient","id":"x123456789x123456789x123456789x123456789x123456789x123456789x1234",
            "photo":[{"data":"abc","url":"http://a b","size":-1}],"implicitRules":"urn:x y"}"#,
        "
        value @ Patient.id: Invalid id value 'x123456789x123456789x123456789x123456789x123456789x123456789…': 1 to 64 characters among A-Z, a-z, 0-9, '-' and '.'
        value @ Patient.photo[0].data: Invalid base64Binary value 'abc': is not valid base64
        value @ Patient.photo[0].url: Invalid url value 'http://a b': must not contain whitespace
        value @ Patient.photo[0].size: Invalid unsignedInt value '-1': must be an integer from 0 to 2147483647
        value @ Patient.implicitRules: Invalid uri value 'urn:x y': must not contain whitespace
        ",
    );
    check(
        r#"{"resourceType":"Patient","maritalStatus":{"coding":[{"code":" M","system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"}]},
            "communication":[{"language":{"text":"es"},"preferred":1}]}"#,
        "
        value @ Patient.maritalStatus.coding[0].code: Invalid code value ' M': a code must not start or end with whitespace nor contain double whitespace
        structure @ Patient.communication[0].preferred: A boolean value must be a boolean (true or false, unquoted), not number
        ",
    );
}

#[test]
fn required_bindings() {
    check(
        r#"{"resourceType":"Patient","gender":"mal"}"#,
        "code-invalid @ Patient.gender: Code 'mal' is not in the required value set http://hl7.org/fhir/ValueSet/administrative-gender",
    );
    check(
        r#"{"resourceType":"Observation","status":"bogus","code":{"text":"x"}}"#,
        "code-invalid @ Observation.status: Code 'bogus' is not in the required value set http://hl7.org/fhir/ValueSet/observation-status",
    );
    // CodeableConcept with a required binding: some coding must come from the value set.
    check(
        r#"{"resourceType":"Condition","subject":{"reference":"Patient/1"},
            "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"activo"}]},
            "verificationStatus":{"text":"confirmed"}}"#,
        "
        code-invalid @ Condition.clinicalStatus: No coding is from the required value set http://hl7.org/fhir/ValueSet/condition-clinical
        code-invalid @ Condition.verificationStatus: No coding is from the required value set http://hl7.org/fhir/ValueSet/condition-ver-status
        ",
    );
    // Languages and MIME types by grammar; currencies by the ISO 4217 list.
    check(
        r#"{"resourceType":"Patient","language":"español","photo":[{"contentType":"pdf","language":"es-419"}]}"#,
        "
        code-invalid @ Patient.language: 'español' is not a valid BCP-47 language tag (e.g. es, es-MX)
        code-invalid @ Patient.photo[0].contentType: 'pdf' is not a valid MIME type (e.g. application/pdf)
        ",
    );
    check(
        r#"{"resourceType":"Claim","status":"active","type":{"text":"x"},"use":"claim","patient":{"reference":"Patient/1"},
            "created":"2020-01-01","provider":{"reference":"Organization/1"},"priority":{"text":"normal"},
            "insurance":[{"sequence":1,"focal":true,"coverage":{"reference":"Coverage/1"}}],
            "total":{"value":10.00,"currency":"MXN"},"item":[{"sequence":1,"productOrService":{"text":"x"},"net":{"value":1,"currency":"ABC"}}]}"#,
        "code-invalid @ Claim.item[0].net.currency: Code 'ABC' is not in the required value set http://hl7.org/fhir/ValueSet/currencies",
    );
}

#[test]
fn choice_elements_take_one_variant() {
    check(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","valueBoolean":true,"_valueString":{"id":"s"}}"#,
        "structure @ Observation.valueBoolean: value[x] takes a single variant; 'valueBoolean' is a second one",
    );
    check(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","_valueBoolean":{"id":"b"}}"#,
        "structure @ Observation._valueBoolean: value[x] takes a single variant; '_valueBoolean' is a second one",
    );
}

#[test]
fn references() {
    let reference = |r: &str| {
        format!(
            r#"{{"resourceType":"Encounter","status":"finished","class":{{"code":"AMB"}},"subject":{{"reference":"{r}"}}}}"#
        )
    };
    for valid in [
        "Patient/123",
        "Patient/a.b-C/_history/2",
        "http://example.org/fhir/Patient/123",
        "https://hub.salud.gob.mx/fhir/Patient/123/_history/1",
        "#p1",
        "#",
        "urn:uuid:6a8c9e0e-7f0e-4d8a-9e39-d3a9b1a8e2f1",
        "urn:oid:2.16.840.1.113883.3.1",
        "Patient?identifier=urn:oid:2.16.840.1.113883.4.629|GOMA800101HDFRRN09",
        "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999917995",
    ] {
        check(&reference(valid), "");
    }
    let malformed = "Malformed reference '{}': expected Type/id, Type/id/_history/version, an absolute URL, #id, urn:uuid:…, urn:oid:… or Type?criteria";
    for bad in [
        "Patient/",
        "Patient/a b",
        "Patient/1/_history",
        "Patient",
        "#a b",
        "urn:uuid:1234",
        "http://",
        "patient/1",
        "Patient?",
    ] {
        check(
            &reference(bad),
            &format!(
                "value @ Encounter.subject.reference: {}",
                malformed.replace("{}", bad)
            ),
        );
    }
    check(
        &reference("Foo/1"),
        "value @ Encounter.subject.reference: Reference 'Foo/1' names an unknown resource type 'Foo'",
    );
}

#[test]
fn extensions_need_url_and_value_or_children() {
    check(
        r#"{"resourceType":"Patient","extension":[{"valueString":"x"},{"url":"http://e.org/a"},
            {"url":"http://e.org/b","valueString":"x","extension":[{"url":"c","valueBoolean":true}]},
            {"url":"http://e.org/d","extension":[{"url":"e","valueInteger":1}]}],
            "modifierExtension":[{"url":"http://e.org/m","valueFoo":1}]}"#,
        "
        required @ Patient.extension[0].url: Required element 'url' is missing (min 1)
        invariant @ Patient.extension[1]: An extension must have either value[x] or nested extensions (ext-1)
        invariant @ Patient.extension[2]: An extension must have either value[x] or nested extensions, not both (ext-1)
        structure @ Patient.modifierExtension[0].valueFoo: Unknown element 'valueFoo' in Extension
        invariant @ Patient.modifierExtension[0]: An extension must have either value[x] or nested extensions (ext-1)
        ",
    );
}

#[test]
fn resource_type_problems() {
    check(
        r#"{"resourceType":"Foo","id":"1"}"#,
        "not-supported @ resourceType: 'Foo' is not a FHIR R4 resource type",
    );
    check(
        r#"{"id":"1"}"#,
        "required @ resourceType: resourceType is missing: the kind of resource is unknown",
    );
    check(
        r#"{"resourceType":1}"#,
        "structure @ resourceType: resourceType must be a string, not number",
    );
    check(
        r#"{"resourceType":"DomainResource"}"#,
        "not-supported @ resourceType: 'DomainResource' is not a FHIR R4 resource type",
    );
    check(
        r#"[1]"#,
        "structure @ -: A resource must be a JSON object, not array",
    );
}

#[test]
fn contained_resources() {
    check(
        r##"{"resourceType":"Patient","contained":[
            {"resourceType":"Organization","id":"o1","name":"Clínica"},
            {"resourceType":"Practitioner","id":"p1","contained":[{"resourceType":"Organization","id":"o2"}],"meta":{"versionId":"1","lastUpdated":"2020-01-01T00:00:00Z"}},
            {"resourceType":"Nope"},
            {"id":"x"},
            {"resourceType":"Observation","id":"obs","status":"final"}],
            "managingOrganization":{"reference":"#o1"}}"##,
        "
        invariant @ Patient.contained[1].contained: A contained resource must not contain resources itself (dom-2)
        invariant @ Patient.contained[1].meta.versionId: A contained resource must not have meta.versionId (dom-4)
        invariant @ Patient.contained[1].meta.lastUpdated: A contained resource must not have meta.lastUpdated (dom-4)
        not-supported @ Patient.contained[2].resourceType: 'Nope' is not a FHIR R4 resource type
        required @ Patient.contained[3].resourceType: The resource lacks resourceType (a string)
        required @ Patient.contained[4].code: Required element 'code' is missing (min 1)
        ",
    );
}

#[test]
fn bundles_validate_their_entries() {
    check(
        r#"{"resourceType":"Bundle","type":"transaction","entry":[
            {"fullUrl":"urn:uuid:6a8c9e0e-7f0e-4d8a-9e39-d3a9b1a8e2f1","resource":{"resourceType":"Patient","gender":"m"},
             "request":{"method":"POST","url":"Patient"}},
            {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:6a8c9e0e-7f0e-4d8a-9e39-d3a9b1a8e2f1"}},
             "request":{"method":"PUSH","url":"Observation"}}]}"#,
        "
        code-invalid @ Bundle.entry[0].resource.gender: Code 'm' is not in the required value set http://hl7.org/fhir/ValueSet/administrative-gender
        code-invalid @ Bundle.entry[1].request.method: Code 'PUSH' is not in the required value set http://hl7.org/fhir/ValueSet/http-verb
        ",
    );
}

#[test]
fn issues_render_as_operation_outcome() {
    let resource = parse_str(r#"{"resourceType":"Patient","gender":"mal"}"#).unwrap();
    let outcome = fhir::operation_outcome(&validate_resource(&resource), fhir::Lang::Es);
    assert_eq!(
        outcome.to_json_string(),
        r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"code-invalid","diagnostics":"El código «mal» no pertenece al conjunto de valores requerido http://hl7.org/fhir/ValueSet/administrative-gender","expression":["Patient.gender"]}]}"#
    );
    // The OperationOutcome we produce is itself valid R4.
    assert_eq!(validate_resource(&outcome), vec![]);
}

#[test]
fn deep_or_hostile_input_never_panics() {
    // 90 nested extensions: within the parser's depth limit, validated without trouble.
    let mut text = String::from(r#"{"url":"u","valueString":"x"}"#);
    for _ in 0..45 {
        text = format!(r#"{{"url":"u","extension":[{text}]}}"#);
    }
    let resource = format!(r#"{{"resourceType":"Patient","extension":[{text}]}}"#);
    check(&resource, "");
    // Odd values everywhere: issues, not panics.
    for text in [
        r#"{"resourceType":"Patient","name":[1,"x",true,null,[]]}"#,
        r#"{"resourceType":"Patient","_birthDate":[null],"birthDate":{"a":1}}"#,
        r#"{"resourceType":"Bundle","entry":[{"resource":[]},{"resource":"x"},{"resource":{"resourceType":"Bundle","entry":[{"resource":{}}]}}]}"#,
        r#"{"resourceType":"Patient","text":{"status":"generated","div":"no div"},"meta":{"versionId":""}}"#,
    ] {
        let issues = validate_resource(&parse_str(text).unwrap());
        assert!(!issues.is_empty(), "{text}");
    }
}
