//! Parsing every supported form into the SQL-friendly query model, and the errors/warnings.

use fhir::issue::{IssueCode, Severity};
use search::{
    Clause, Col, Filter, Handling, Op, Predicate, SearchQuery, SortBy, Summary, Total, Value,
    parse, registry,
};

fn params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn ok(rtype: &str, query: &str) -> SearchQuery {
    let (parsed, warnings) = parse(rtype, &params(query), Handling::Strict, 0)
        .unwrap_or_else(|e| panic!("{query}: {e:?}"));
    assert!(warnings.is_empty(), "{query}: {warnings:?}");
    parsed
}

fn clause(rtype: &str, query: &str) -> Clause {
    let parsed = ok(rtype, query);
    assert_eq!(parsed.filters.len(), 1, "{query}");
    match parsed.filters.into_iter().next() {
        Some(Filter::Param(clause)) => clause,
        other => panic!("{query}: {other:?}"),
    }
}

fn s(col: Col, op: Op, v: &str) -> Predicate {
    Predicate::Cmp(search::Cmp {
        col,
        op,
        value: Value::Str(v.into()),
    })
}

fn errors(rtype: &str, query: &str, handling: Handling) -> Vec<fhir::Issue> {
    match parse(rtype, &params(query), handling, 0) {
        Err(errors) => errors,
        Ok(q) => panic!("{query} parsed: {q:?}"),
    }
}

#[test]
fn token_string_reference_uri_predicates() {
    let c = clause(
        "Patient",
        "identifier=urn:oid:2.16.840.1.113883.4.629|CURP1,|X,sys|,code",
    );
    assert_eq!(c.param.code, "identifier");
    assert!(!c.negate && c.missing.is_none() && c.chain.is_none());
    assert_eq!(
        c.any_of,
        vec![
            Predicate::All(vec![
                s(Col::System, Op::Eq, "urn:oid:2.16.840.1.113883.4.629"),
                s(Col::Code, Op::Eq, "CURP1"),
            ]),
            Predicate::All(vec![
                Predicate::IsNull(Col::System),
                s(Col::Code, Op::Eq, "X")
            ]),
            s(Col::System, Op::Eq, "sys"),
            s(Col::Code, Op::Eq, "code"),
        ]
    );
    // Escapes: `\,` and `\|` are literal.
    let c = clause("Patient", r"identifier=a\|b|c\,d");
    assert_eq!(
        c.any_of,
        vec![Predicate::All(vec![
            s(Col::System, Op::Eq, "a|b"),
            s(Col::Code, Op::Eq, "c,d")
        ])]
    );
    let c = clause("Patient", "gender:not=male");
    assert!(c.negate);
    assert_eq!(
        clause("Condition", "code:text=Diábetes").any_of,
        vec![s(Col::Text, Op::Contains, "diabetes")]
    );
    assert_eq!(
        clause("Patient", "name=Gómez").any_of,
        vec![s(Col::Normalized, Op::StartsWith, "gomez")]
    );
    assert_eq!(
        clause("Patient", "name:exact=Gómez").any_of,
        vec![s(Col::Exact, Op::Eq, "Gómez")]
    );
    assert_eq!(
        clause("Patient", "name:contains=ÓME").any_of,
        vec![s(Col::Normalized, Op::Contains, "ome")]
    );
    assert_eq!(
        clause("Observation", "subject=p1").any_of,
        vec![s(Col::TargetId, Op::Eq, "p1")]
    );
    let typed = Predicate::All(vec![
        s(Col::TargetType, Op::Eq, "Patient"),
        s(Col::TargetId, Op::Eq, "p1"),
    ]);
    assert_eq!(
        clause("Observation", "subject=Patient/p1").any_of,
        vec![typed.clone()]
    );
    assert_eq!(
        clause("Observation", "subject:Patient=p1").any_of,
        vec![typed]
    );
    assert_eq!(
        clause("Observation", "subject=https://x.mx/fhir/Patient/p1").any_of,
        vec![Predicate::Any(vec![
            s(Col::Url, Op::Eq, "https://x.mx/fhir/Patient/p1"),
            s(Col::Url, Op::StartsWith, "https://x.mx/fhir/Patient/p1|"),
        ])]
    );
    assert_eq!(
        clause("Observation", "subject:identifier=urn:curp|X").any_of,
        vec![Predicate::All(vec![
            s(Col::IdentifierSystem, Op::Eq, "urn:curp"),
            s(Col::IdentifierValue, Op::Eq, "X")
        ])]
    );
    assert_eq!(
        clause("Patient", "_profile:below=http://x").any_of,
        vec![s(Col::Uri, Op::StartsWith, "http://x")]
    );
    let c = clause("Patient", "birthdate:missing=true");
    assert_eq!((c.missing, c.any_of.len()), (Some(true), 0));
}

#[test]
fn date_number_quantity_predicates() {
    let int = |col, op, v| {
        Predicate::Cmp(search::Cmp {
            col,
            op,
            value: Value::Int(v),
        })
    };
    let float = |col, op, v| {
        Predicate::Cmp(search::Cmp {
            col,
            op,
            value: Value::Float(v),
        })
    };
    let y2020 = (1_577_836_800_000, 1_609_459_199_999);
    assert_eq!(
        clause("Patient", "birthdate=2020").any_of,
        vec![Predicate::All(vec![
            int(Col::LowMs, Op::Ge, y2020.0),
            int(Col::LowMs, Op::Le, y2020.1),
            int(Col::HighMs, Op::Le, y2020.1)
        ])]
    );
    assert_eq!(
        clause("Patient", "birthdate=gt2020").any_of,
        vec![int(Col::HighMs, Op::Gt, y2020.1)]
    );
    assert_eq!(
        clause("Patient", "birthdate=sa2020").any_of,
        vec![int(Col::LowMs, Op::Gt, y2020.1)]
    );
    assert_eq!(
        clause("Patient", "birthdate=eb2020").any_of,
        vec![int(Col::HighMs, Op::Lt, y2020.0)]
    );
    assert_eq!(
        clause("RiskAssessment", "probability=lt100").any_of,
        // Ordering prefixes compare with the exact value (R4: "less than exactly 100").
        vec![float(Col::Low, Op::Lt, 100.0)]
    );
    let q = clause(
        "Observation",
        "value-quantity=gt5.4|http://unitsofmeasure.org|mg",
    )
    .any_of;
    assert_eq!(
        q,
        vec![Predicate::All(vec![
            float(Col::High, Op::Gt, 5.4),
            s(Col::System, Op::Eq, "http://unitsofmeasure.org"),
            s(Col::Code, Op::Eq, "mg"),
        ])]
    );
    let parsed = ok("Patient", "_lastUpdated=ge2020-01-01&_id=a,b");
    assert_eq!(parsed.filters.len(), 2);
    let Filter::LastUpdated { any_of } = &parsed.filters[0] else {
        panic!()
    };
    let Predicate::Any(options) = &any_of[0] else {
        panic!("{any_of:?}")
    };
    assert_eq!(
        options[0],
        int(Col::LastUpdatedMs, Op::Gt, 1_577_923_199_999)
    );
    assert_eq!(
        parsed.filters[1],
        Filter::Id {
            ids: vec!["a".into(), "b".into()]
        }
    );
}

#[test]
fn chains_and_reverse_chains() {
    let c = clause(
        "Observation",
        "subject:Patient.identifier=urn:oid:2.16.840.1.113883.4.629|CURP",
    );
    assert_eq!(c.param.code, "subject");
    assert_eq!(c.any_of, vec![s(Col::TargetType, Op::Eq, "Patient")]);
    let chain = c.chain.unwrap();
    assert_eq!(chain.resource_type, "Patient");
    let Filter::Param(inner) = &chain.filter else {
        panic!()
    };
    assert_eq!(inner.param.code, "identifier");
    assert_eq!(inner.param.resource_type, "Patient");
    // `patient` has the single target Patient; no type needed.
    let c = clause("Encounter", "patient.name=gomez");
    assert_eq!(c.chain.unwrap().resource_type, "Patient");
    // Two hops.
    let c = clause("Observation", "patient.organization.name=imss");
    let Filter::Param(hop) = &c.chain.unwrap().filter else {
        panic!()
    };
    assert_eq!(hop.param.code, "organization");
    assert_eq!(hop.chain.as_ref().unwrap().resource_type, "Organization");
    // Chain to _id.
    let c = clause("Observation", "subject:Patient._id=p1");
    assert_eq!(
        c.chain.unwrap().filter,
        Filter::Id {
            ids: vec!["p1".into()]
        }
    );

    let parsed = ok("Patient", "_has:Observation:patient:code=1234-5");
    let Filter::Has(has) = &parsed.filters[0] else {
        panic!()
    };
    assert_eq!(has.resource_type, "Observation");
    assert_eq!(has.reference.code, "patient");
    let Filter::Param(inner) = &has.filter else {
        panic!()
    };
    assert_eq!(
        (inner.param.code.as_str(), inner.any_of.clone()),
        ("code", vec![s(Col::Code, Op::Eq, "1234-5")])
    );
    // Nested _has.
    let parsed = ok(
        "Patient",
        "_has:Encounter:patient:_has:Condition:encounter:code=E11",
    );
    let Filter::Has(outer) = &parsed.filters[0] else {
        panic!()
    };
    assert!(matches!(&outer.filter, Filter::Has(inner) if inner.resource_type == "Condition"));
}

#[test]
fn result_parameters() {
    let q = ok(
        "Observation",
        "_include=Observation:patient&_include=Observation:subject:Patient&_include:iterate=Patient:organization\
         &_revinclude=Provenance:target&_include=*&_sort=-date,_id,code,-_lastUpdated&_count=50\
         &_summary=count&_elements=id,code&_total=accurate&_cursor=abc.123&_format=json",
    );
    assert_eq!(q.include.len(), 4);
    assert_eq!(q.include[0].source_type, "Observation");
    assert_eq!(q.include[0].param.unwrap().code, "patient");
    assert!(!q.include[0].iterate);
    assert_eq!(q.include[1].target_type.as_deref(), Some("Patient"));
    assert!(q.include[2].iterate);
    assert_eq!(q.include[2].source_type, "Patient");
    assert!(q.include[3].param.is_none());
    assert_eq!(q.revinclude[0].source_type, "Provenance");
    assert_eq!(q.revinclude[0].param.unwrap().code, "target");
    let sort: Vec<(String, bool)> = q
        .sort
        .iter()
        .map(|k| {
            let name = match &k.by {
                SortBy::Param(p) => p.code.clone(),
                SortBy::Id => "_id".into(),
                SortBy::LastUpdated => "_lastUpdated".into(),
            };
            (name, k.descending)
        })
        .collect();
    assert_eq!(
        sort,
        [
            ("date".into(), true),
            ("_id".into(), false),
            ("code".into(), false),
            ("_lastUpdated".into(), true)
        ]
    );
    assert_eq!(q.count, Some(50));
    assert_eq!(q.summary, Some(Summary::Count));
    assert_eq!(q.elements, ["id", "code"]);
    assert_eq!(q.total, Some(Total::Accurate));
    assert_eq!(q.cursor.as_deref(), Some("abc.123"));
    assert!(q.filters.is_empty());
    for (value, summary) in [
        ("true", Summary::True),
        ("text", Summary::Text),
        ("data", Summary::Data),
        ("false", Summary::False),
    ] {
        assert_eq!(
            ok("Patient", &format!("_summary={value}")).summary,
            Some(summary)
        );
    }
}

#[test]
fn malformed_values_are_errors_in_both_modes_and_name_the_parameter() {
    let cases = [
        ("Patient", "birthdate=2020-13-01"),
        ("Patient", "birthdate=xx2020"),
        ("Patient", "birthdate:exact=2020"),
        ("Patient", "name:not=x"),
        ("Patient", "gender:above=x"),
        ("Patient", "gender=a|b|c"),
        ("Patient", "gender=|"),
        ("Patient", "gender:missing=maybe"),
        ("Observation", "value-quantity=abc"),
        ("Observation", "value-quantity=5|x"),
        ("Observation", "subject=Practitioner/1"),
        ("Observation", "subject:Organization=1"),
        ("Observation", "subject.identifier=x"),
        ("Observation", "code.name=x"),
        (
            "Observation",
            "subject:Patient.organization.partof.partof.name=x",
        ),
        ("Patient", "_count=-1"),
        ("Patient", "_summary=maybe"),
        ("Patient", "_total=all"),
        ("Patient", "_elements=a b"),
        ("Patient", "_include=Patient"),
        ("Patient", "_include=Patient:gender"),
        ("Patient", "_include:deep=Patient:organization"),
        ("Patient", "_has:Observation:code:code=1"),
        ("Patient", "_has:Observation=1"),
        ("Patient", "_id:exact=1"),
        ("Patient", "name=a,,b"),
    ];
    for (rtype, query) in cases {
        for handling in [Handling::Lenient, Handling::Strict] {
            let errs = errors(rtype, query, handling);
            assert!(!errs.is_empty());
            for e in &errs {
                assert_eq!(e.severity, Severity::Error);
                let key = query.split('=').next().unwrap();
                assert!(
                    e.message_es.contains(key) && e.message_en.contains(key),
                    "{query}: {e:?}"
                );
                assert!(e.message_es != e.message_en);
            }
        }
    }
    // All problems are reported at once.
    assert_eq!(
        errors("Patient", "birthdate=bad&gender=a|b|c", Handling::Strict).len(),
        2
    );
    let e = &errors("Patient", "birthdate=2020-13-01", Handling::Strict)[0];
    assert_eq!(e.code, IssueCode::Invalid);
    assert!(
        e.message_es.contains("no es una fecha válida"),
        "{}",
        e.message_es
    );
}

#[test]
fn unknown_parameters_are_warnings_when_lenient_and_errors_when_strict() {
    let query = "shoe-size=42&name=x&code-value-quantity=1&_text=x&_sort=shoe,name";
    let (q, warnings) = parse(
        "Observation",
        &params("code=1&shoe-size=42"),
        Handling::Lenient,
        0,
    )
    .unwrap();
    assert_eq!(q.filters.len(), 1);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert_eq!(warnings[0].code, IssueCode::NotSupported);
    assert!(
        warnings[0].message_es.contains("shoe-size")
            && warnings[0].message_es.contains("Se ignoró")
    );

    let (q, warnings) = parse("Patient", &params(query), Handling::Lenient, 0).unwrap();
    assert_eq!(q.filters.len(), 1, "only name survives");
    // shoe-size, code-value-quantity (not a Patient param), _text (unsupported), _sort=shoe.
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    assert_eq!(q.sort.len(), 1);
    let errs = errors("Patient", query, Handling::Strict);
    assert_eq!(errs.len(), 4, "{errs:?}");
    assert!(errs.iter().all(|e| e.code == IssueCode::NotSupported));
    // A composite parameter is reported as unsupported, not unknown.
    let errs = errors("Observation", "code-value-quantity=1", Handling::Strict);
    assert!(errs[0].message_en.contains("not supported"), "{errs:?}");
    // Empty values are ignored with a warning in both modes.
    let (q, warnings) = parse("Patient", &params("name="), Handling::Strict, 0).unwrap();
    assert!(q.filters.is_empty() && warnings.len() == 1);
    // Chains through unknown parameters follow the handling too.
    assert!(
        parse(
            "Observation",
            &params("patient.shoe=1"),
            Handling::Lenient,
            0
        )
        .is_ok()
    );
    assert!(
        parse(
            "Observation",
            &params("patient.shoe=1"),
            Handling::Strict,
            0
        )
        .is_err()
    );
    // _include of another type without :iterate.
    let (q, w) = parse(
        "Observation",
        &params("_include=Patient:organization"),
        Handling::Lenient,
        0,
    )
    .unwrap();
    assert!(q.include.is_empty() && w.len() == 1);
    // Unknown resource type.
    assert!(parse("Paciente", &[], Handling::Lenient, 0).is_err());
}

#[test]
fn every_supported_parameter_parses_a_typical_value() {
    let reg = registry();
    let mut n = 0;
    for rtype in reg.resource_types() {
        for param in reg.params(rtype) {
            let value = match param.kind {
                search::ParamKind::Number => "ge1.5",
                search::ParamKind::Date => "le2020-01-01T00:00:00Z",
                search::ParamKind::String => "gómez",
                search::ParamKind::Token => "http://x|y",
                search::ParamKind::Reference => "x1",
                search::ParamKind::Quantity => "ap5|http://unitsofmeasure.org|mg",
                search::ParamKind::Uri => "http://x",
            };
            let mut query = vec![(param.code.clone(), value.to_string())];
            // `_id` and `_lastUpdated` live on the resource table: never missing.
            if !param.on_resource_table() {
                query.push((format!("{}:missing", param.code), "true".into()));
            }
            let result = parse(rtype, &query, Handling::Strict, 0);
            let (q, w) = result.unwrap_or_else(|e| panic!("{rtype}.{}: {e:?}", param.code));
            assert!(
                w.is_empty() && q.filters.len() == query.len(),
                "{rtype}.{}",
                param.code
            );
            n += 1;
        }
    }
    assert!(n > 1500, "{n}");
}
