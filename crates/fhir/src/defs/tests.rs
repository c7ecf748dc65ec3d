//! Tests of the definitions table: it loads, and answers lookups the way the R4 spec reads.

use super::*;

#[test]
fn embedded_table_loads() {
    assert_eq!(load_error(), None);
    assert_eq!(source(), "hl7.fhir.r4.examples@4.0.1");
}

#[test]
fn resource_types_are_the_r4_set() {
    let types: Vec<&str> = resource_types().collect();
    // The concrete resource StructureDefinitions of R4 4.0.1 (not Resource/DomainResource).
    assert_eq!(types.len(), 146);
    assert!(types.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
    for name in [
        "Patient",
        "Claim",
        "ImagingStudy",
        "Bundle",
        "Parameters",
        "Binary",
        "VerificationResult",
    ] {
        assert!(is_resource_type(name), "{name}");
    }
    for name in [
        "Resource",
        "DomainResource",
        "HumanName",
        "Patient.contact",
        "patient",
        "SubscriptionStatus",
        "",
    ] {
        assert!(!is_resource_type(name), "{name}");
    }
}

#[test]
fn element_lookups() {
    let check = |ty: &str, path: &str, expected: Option<&str>| {
        assert_eq!(element_type(ty, path), expected, "{ty}.{path}");
    };
    check("Patient", "name", Some("HumanName"));
    check("Patient", "name.given", Some("string"));
    check("Patient", "birthDate", Some("date"));
    check("Patient", "id", Some("id"));
    check("Patient", "contact", Some("Patient.contact"));
    check("Patient", "contact.name.family", Some("string"));
    check("Observation", "valueQuantity", Some("Quantity"));
    check("Observation", "valueQuantity.value", Some("decimal"));
    check("Observation", "value", None);
    check("Observation", "value[x]", None);
    check("Observation", "component.code.coding.system", Some("uri"));
    check("Questionnaire", "item.item.linkId", Some("string"));
    check("Bundle", "entry.resource", Some("Resource"));
    check("Dosage", "doseAndRate.doseQuantity", Some("SimpleQuantity"));
    check("Extension", "url", Some("uri"));
    check("Patient", "nope", None);
    check("Nope", "name", None);

    let given = element("Patient", "name.given").unwrap();
    assert_eq!(
        (given.min(), given.max(), given.is_array()),
        (0, None, true)
    );
    let gender = element("Patient", "gender").unwrap();
    assert_eq!((gender.max(), gender.is_array()), (Some(1), false));
    let status = element("Observation", "status").unwrap();
    assert_eq!(status.min(), 1);
    let value = element("Observation", "value[x]").unwrap();
    assert!(value.is_choice());
    assert_eq!(value.types().len(), 11);
}

#[test]
fn member_names_cover_choices_and_primitive_extensions() {
    let observation = structure("Observation").unwrap();
    let quantity = observation.member("valueQuantity").unwrap();
    let string = observation.member("valueString").unwrap();
    let string_ext = observation.member("_valueString").unwrap();
    assert_eq!(quantity.element, string.element);
    assert_ne!(quantity.type_index, string.type_index);
    assert!(string_ext.primitive_extension && !string.primitive_extension);
    assert!(
        observation.member("_valueQuantity").is_none(),
        "complex types have no _ form"
    );
    assert!(observation.member("value").is_none());
    assert!(
        observation.member("valueDecimal").is_none(),
        "not a type of Observation.value[x]"
    );
    let patient = structure("Patient").unwrap();
    assert!(patient.member("_birthDate").unwrap().primitive_extension);
    assert!(
        patient.member("deceasedBoolean").is_some() && patient.member("deceasedDateTime").is_some()
    );
}

#[test]
fn value_sets_are_expanded() {
    let gender = value_set("http://hl7.org/fhir/ValueSet/administrative-gender").unwrap();
    for code in ["male", "female", "other", "unknown"] {
        assert!(gender.contains_code(code));
        assert!(gender.contains("http://hl7.org/fhir/administrative-gender", code));
    }
    assert!(!gender.contains_code("mal"));
    assert!(!gender.contains("http://example.org", "male"));
    // Nested concepts of a code system are part of its value set.
    let clinical = value_set("http://hl7.org/fhir/ValueSet/condition-clinical").unwrap();
    for code in [
        "active",
        "recurrence",
        "relapse",
        "inactive",
        "remission",
        "resolved",
    ] {
        assert!(
            clinical.contains(
                "http://terminology.hl7.org/CodeSystem/condition-clinical",
                code
            ),
            "{code}"
        );
    }
    // ISO 4217 currencies ship from the package's published expansion.
    let currencies = value_set("http://hl7.org/fhir/ValueSet/currencies").unwrap();
    assert!(currencies.contains_code("MXN") && currencies.contains_code("USD"));
    assert!(!currencies.contains_code("XYZ"));
    // The binding of Observation.status points at its value set.
    assert!(matches!(
        element("Observation", "status").unwrap().binding(),
        Binding::ValueSet(_)
    ));
    assert_eq!(
        element("Patient", "language").unwrap().binding(),
        Binding::Language
    );
    assert_eq!(
        element("Attachment", "contentType").unwrap().binding(),
        Binding::MimeType
    );
}

#[test]
fn malformed_tables_are_errors_not_panics() {
    for text in [
        "",
        "[]",
        "{}",
        r#"{"valueSets":{},"structures":{"A":{"kind":"resource","elements":["x 0 1 Nope"]}}}"#,
        r#"{"valueSets":{},"structures":{"A":{"kind":"what","elements":[]}}}"#,
        r#"{"valueSets":{},"structures":{"A":{"kind":"resource","elements":["x 0 1 string http://missing"]}}}"#,
        r#"{"valueSets":{},"structures":{"A":{"kind":"resource","elements":["x zero 1 string"]}}}"#,
        r#"{"valueSets":{},"structures":{"A":{"kind":"resource","elements":["x 0 1"]}}}"#,
        r#"{"valueSets":{},"structures":{"A":{"kind":"resource","elements":["x 0 1 string #bcp47 extra"]}}}"#,
        r#"{"valueSets":{},"structures":{"A":{"kind":"resource","elements":[["x",0,"1","string"]]}}}"#,
        r#"{"valueSets":{},"structures":{"A":{"kind":"resource","elements":["x 0 1 string","x 0 1 code"]}}}"#,
    ] {
        assert!(Definitions::parse(text).is_err(), "{text}");
    }
    let unavailable = Definitions::unavailable(LoadError::Malformed("x".into()));
    assert!(unavailable.error().is_some());
    assert!(unavailable.resource("Patient").is_none());
}

#[test]
#[ignore = "timing; run in release"]
fn load_time() {
    let mut best = std::time::Duration::MAX;
    let mut best_parse = std::time::Duration::MAX;
    for _ in 0..20 {
        let started = std::time::Instant::now();
        let tree = json::parse_str(TABLE).unwrap();
        best_parse = best_parse.min(started.elapsed());
        drop(tree);
        let started = std::time::Instant::now();
        let defs = Definitions::parse(TABLE).unwrap();
        best = best.min(started.elapsed());
        drop(defs);
    }
    eprintln!(
        "table {} bytes: JSON parse {best_parse:?}, parse + index {best:?}",
        TABLE.len()
    );
}
