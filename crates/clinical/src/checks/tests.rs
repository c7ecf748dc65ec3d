//! Unit tests for the prescribing checks, data-driven where the rules are tables.

use serde_json::{Value, json};

use super::*;

fn allergy(text: &str, snomed: Option<&str>) -> Value {
    let mut code = json!({ "text": text });
    if let Some(snomed) = snomed {
        code["coding"] =
            json!([{ "system": "http://snomed.info/sct", "code": snomed, "display": text }]);
    }
    json!({
        "resourceType": "AllergyIntolerance",
        "id": format!("a-{}", text.len()),
        "clinicalStatus": { "coding": [{ "code": "active" }] },
        "verificationStatus": { "coding": [{ "code": "confirmed" }] },
        "category": ["medication"],
        "criticality": "low",
        "code": code,
    })
}

fn with(mut resource: Value, key: &str, value: Value) -> Value {
    resource[key] = value;
    resource
}

fn status(code: &str) -> Value {
    json!({ "coding": [{ "code": code }] })
}

fn coded_med(key: &str, label: &str) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "id": format!("m-{key}"),
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [{ "system": mexico::systems::CNIS, "code": key, "display": label }],
            "text": label,
        },
    })
}

fn text_med(text: &str) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "id": format!("t-{}", text.len()),
        "status": "active",
        "medicationCodeableConcept": { "text": text },
    })
}

fn rx(key: &str, tablets: f64, times_per_day: f64) -> ProposedPrescription {
    ProposedPrescription {
        cnis_key: key.to_owned(),
        dose: DoseAmount::DoseUnits(tablets),
        times_per_day,
        duration_days: Some(5),
    }
}

fn run(proposed: &ProposedPrescription, allergies: &[Value], meds: &[Value]) -> Vec<Finding> {
    check_prescription(proposed, allergies, meds, PatientFacts::default()).unwrap()
}

fn codes(findings: &[Finding]) -> Vec<(&str, Severity)> {
    findings
        .iter()
        .filter(|f| f.kind != FindingKind::Formulary)
        .map(|f| (f.code.as_str(), f.severity))
        .collect()
}

const NAPROXEN: &str = "010.000.3407.00";
const AMOXICILLIN: &str = "010.000.2128.00";
const CEFALEXIN: &str = "010.000.1939.00";
const TMP_SMX: &str = "010.000.1903.00";
const FUROSEMIDE: &str = "010.000.2307.00";
const PARACETAMOL: &str = "010.000.0104.00";
const METFORMIN: &str = "010.000.5165.00";

#[test]
fn drug_allergy_by_substance_and_class() {
    // (allergy text, SNOMED code, proposed key, expected code and severity)
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        &'a str,
        Option<(&'a str, Severity)>,
    );
    let cases: &[Case] = &[
        // The patient: "AINE (Disnea)" as the generator records it.
        (
            "Antiinflamatorios no esteroideos (AINE)",
            Some("372665008"),
            NAPROXEN,
            Some(("ALLERGY-CLASS-NSAID", Severity::Block)),
        ),
        (
            "AINE",
            None,
            NAPROXEN,
            Some(("ALLERGY-CLASS-NSAID", Severity::Block)),
        ),
        (
            "Ibuprofeno",
            None,
            NAPROXEN,
            Some(("ALLERGY-CLASS-NSAID", Severity::Block)),
        ),
        (
            "Aspirina",
            None,
            "010.000.5941.00",
            Some(("ALLERGY-CLASS-NSAID", Severity::Block)),
        ),
        (
            "Naproxeno",
            None,
            NAPROXEN,
            Some(("ALLERGY-INGREDIENT-NAPROXENO", Severity::Block)),
        ),
        ("AINE", None, PARACETAMOL, None),
        (
            "Penicilina",
            Some("764146007"),
            AMOXICILLIN,
            Some(("ALLERGY-CLASS-PENICILLIN", Severity::Block)),
        ),
        (
            "penicilinas",
            None,
            "010.000.1926.00",
            Some(("ALLERGY-CLASS-PENICILLIN", Severity::Block)),
        ),
        (
            "Penicilina",
            None,
            CEFALEXIN,
            Some(("ALLERGY-CROSS-PENICILLIN-CEPHALOSPORIN", Severity::Warning)),
        ),
        (
            "Amoxicilina",
            None,
            CEFALEXIN,
            Some(("ALLERGY-R1-AMOXICILINA-CEFALEXINA", Severity::Block)),
        ),
        (
            "Cefalexina",
            None,
            AMOXICILLIN,
            Some(("ALLERGY-CROSS-CEPHALOSPORIN-PENICILLIN", Severity::Warning)),
        ),
        (
            "Sulfonamidas",
            Some("387406002"),
            TMP_SMX,
            Some(("ALLERGY-CLASS-SULFONAMIDEANTIBACTERIAL", Severity::Block)),
        ),
        (
            "sulfas",
            None,
            TMP_SMX,
            Some(("ALLERGY-CLASS-SULFONAMIDEANTIBACTERIAL", Severity::Block)),
        ),
        (
            "Bactrim",
            None,
            TMP_SMX,
            Some(("ALLERGY-INGREDIENT-SULFAMETOXAZOL", Severity::Block)),
        ),
        (
            "Sulfonamidas",
            None,
            FUROSEMIDE,
            Some((
                "ALLERGY-CROSS-SULFONAMIDEANTIBACTERIAL-SULFONAMIDENONANTIBACTERIAL",
                Severity::Info,
            )),
        ),
        (
            "Claritromicina",
            None,
            "010.000.1969.00",
            Some(("ALLERGY-CLASS-MACROLIDE", Severity::Warning)),
        ),
        ("Huevo", Some("102263004"), PARACETAMOL, None),
        ("Mariscos", None, AMOXICILLIN, None),
    ];
    for (text, snomed, key, expected) in cases {
        let findings = run(&rx(key, 1.0, 1.0), &[allergy(text, *snomed)], &[]);
        let got: Vec<(&str, Severity)> = codes(&findings);
        match expected {
            Some(want) => assert_eq!(got, [*want], "{text} / {key}"),
            None => assert!(got.is_empty(), "{text} / {key}: {got:?}"),
        }
        for f in &findings {
            assert!(!f.message_es.is_empty() && !f.message_en.is_empty() && !f.source.is_empty());
        }
    }
}

fn block_cefalexin(a: Value) -> Vec<(String, Severity)> {
    run(&rx(CEFALEXIN, 1.0, 4.0), &[a], &[])
        .into_iter()
        .filter(|f| f.kind != FindingKind::Formulary)
        .map(|f| (f.code, f.severity))
        .collect()
}

#[test]
fn allergy_status_and_criticality() {
    let aine = || allergy("AINE", None);
    let block = |a: Value| {
        run(&rx(NAPROXEN, 1.0, 2.0), &[a], &[])
            .into_iter()
            .filter(|f| f.kind != FindingKind::Formulary)
            .map(|f| (f.code, f.severity))
            .collect::<Vec<_>>()
    };
    assert!(block(with(aine(), "verificationStatus", status("refuted"))).is_empty());
    assert!(
        block(with(
            aine(),
            "verificationStatus",
            status("entered-in-error")
        ))
        .is_empty()
    );
    assert!(block(with(aine(), "clinicalStatus", status("resolved"))).is_empty());
    assert!(block(with(aine(), "clinicalStatus", status("inactive"))).is_empty());
    // Unconfirmed still blocks, and says so.
    let unconfirmed = run(
        &rx(NAPROXEN, 1.0, 2.0),
        &[with(aine(), "verificationStatus", status("unconfirmed"))],
        &[],
    );
    assert_eq!(unconfirmed[0].severity, Severity::Block);
    assert!(
        unconfirmed[0]
            .message_es
            .ends_with("(alergia no confirmada)"),
        "{}",
        unconfirmed[0].message_es
    );
    // "Niega alergias" never matches.
    let none = json!({
        "resourceType": "AllergyIntolerance",
        "code": { "coding": [{ "system": "http://snomed.info/sct", "code": "716186003", "display": "No known allergy" }], "text": "Niega alergias" },
    });
    assert!(block(none).is_empty());
    // High criticality turns a cross-reactivity warning into a block.
    let high = with(allergy("Penicilina", None), "criticality", json!("high"));
    assert_eq!(
        block_cefalexin(high),
        [(
            "ALLERGY-CROSS-PENICILLIN-CEPHALOSPORIN".to_owned(),
            Severity::Block
        )]
    );
    // The finding points at the allergy record.
    let finding = &run(&rx(NAPROXEN, 1.0, 2.0), &[aine()], &[])[0];
    assert_eq!(finding.related_id.as_deref(), Some("a-4"));
    assert_eq!(finding.source, SOURCE_NSAID);
}

#[test]
fn duplicate_therapy_by_ingredient_and_class() {
    // Coded and free-text active metformin both count; a stopped one does not.
    for active in [
        coded_med(METFORMIN, "Metformina. Tableta 850 mg"),
        text_med("Metformina 850 mg"),
    ] {
        assert_eq!(
            codes(&run(&rx(METFORMIN, 1.0, 2.0), &[], &[active])),
            [("DUP-INGREDIENT-METFORMINA", Severity::Warning)]
        );
    }
    let stopped = with(
        coded_med(METFORMIN, "Metformina"),
        "status",
        json!("stopped"),
    );
    assert!(codes(&run(&rx(METFORMIN, 1.0, 2.0), &[], &[stopped])).is_empty());
    let on_hold = with(
        coded_med(METFORMIN, "Metformina"),
        "status",
        json!("on-hold"),
    );
    assert!(codes(&run(&rx(METFORMIN, 1.0, 2.0), &[], &[on_hold])).is_empty());
    // Same class.
    assert_eq!(
        codes(&run(
            &rx("010.000.0657.00", 1.0, 1.0),
            &[],
            &[coded_med("010.000.5106.00", "Atorvastatina")]
        )),
        [("DUP-CLASS-STATIN", Severity::Warning)]
    );
    assert_eq!(
        codes(&run(
            &rx(NAPROXEN, 1.0, 2.0),
            &[],
            &[text_med("Ibuprofeno 400 mg")]
        )),
        [("DUP-CLASS-NSAID", Severity::Warning)]
    );
    // Insulins are combined on purpose: no duplicate warning.
    assert!(
        codes(&run(
            &rx("010.000.4158.00", 10.0, 1.0),
            &[],
            &[coded_med("010.000.1050.00", "NPH")]
        ))
        .is_empty()
    );
    // The captopril beside losartan: an interaction, not a same-class duplicate.
    assert_eq!(
        codes(&run(
            &rx("010.000.2520.00", 1.0, 1.0),
            &[],
            &[text_med("Captopril 25 mg")]
        )),
        [("DDI-ACEI-ARB", Severity::Warning)]
    );
}

#[test]
fn interactions_that_matter_in_primary_care() {
    // (proposed key, active medication text, expected interaction code, severity)
    let cases: &[(&str, &str, &str, Severity)] = &[
        (
            NAPROXEN,
            "Warfarina 5 mg",
            "DDI-VKA-NSAID",
            Severity::Warning,
        ),
        (
            "010.000.0623.00",
            "Naproxeno 250 mg",
            "DDI-VKA-NSAID",
            Severity::Warning,
        ),
        (
            TMP_SMX,
            "Acenocumarol 4 mg",
            "DDI-VKA-TMPSMX",
            Severity::Warning,
        ),
        (
            "010.000.1308.00",
            "Warfarina",
            "DDI-VKA-METRONIDAZOLE",
            Severity::Warning,
        ),
        (
            "010.000.2304.00",
            "Enalapril 10 mg",
            "DDI-RAAS-KSPARING",
            Severity::Warning,
        ),
        (
            "010.000.2304.00",
            "Losartán 50 mg",
            "DDI-RAAS-KSPARING",
            Severity::Warning,
        ),
        (
            TMP_SMX,
            "Metotrexato 2.5 mg semanal",
            "DDI-MTX-TMPSMX",
            Severity::Block,
        ),
        (
            "010.000.0592.00",
            "Sildenafil 50 mg",
            "DDI-PDE5-NITRATE",
            Severity::Block,
        ),
        (
            "010.000.0592.00",
            "Viagra",
            "DDI-PDE5-NITRATE",
            Severity::Block,
        ),
        (
            "010.000.2132.00",
            "Simvastatina 40 mg",
            "DDI-SIMVA-MACROLIDE",
            Severity::Block,
        ),
        (
            "010.000.1972.00",
            "Simvastatina 20 mg",
            "DDI-SIMVA-MACROLIDE",
            Severity::Block,
        ),
        (
            "010.000.2132.00",
            "Colchicina 1 mg",
            "DDI-COLCHICINE-CLARITHRO",
            Severity::Block,
        ),
        (
            TMP_SMX,
            "Glibenclamida 5 mg",
            "DDI-SU-TMPSMX",
            Severity::Warning,
        ),
        (
            "010.000.5186.00",
            "Clopidogrel 75 mg",
            "DDI-CLOPIDOGREL-OMEPRAZOLE",
            Severity::Warning,
        ),
        (
            "010.000.2106.00",
            "Sertralina 50 mg",
            "DDI-SSRI-TRAMADOL",
            Severity::Warning,
        ),
        (
            "010.000.3504.00",
            "Carbamazepina 200 mg",
            "DDI-INDUCER-CONTRACEPTIVE",
            Severity::Warning,
        ),
        (
            "010.000.1703.00",
            "Levotiroxina 100 mcg",
            "DDI-LEVOTHYROXINE-IRON-CALCIUM",
            Severity::Info,
        ),
        (
            NAPROXEN,
            "Enalapril 10 mg",
            "DDI-RAAS-NSAID",
            Severity::Info,
        ),
        (
            "010.000.2132.00",
            "Digoxina",
            "DDI-DIGOXIN-CLARITHRO",
            Severity::Warning,
        ),
        (
            "010.000.3215.00",
            "Tramadol 50 mg",
            "DDI-BENZO-OPIOID",
            Severity::Warning,
        ),
    ];
    for (key, active, code, severity) in cases {
        let findings = run(&rx(key, 1.0, 1.0), &[], &[text_med(active)]);
        let interactions: Vec<(&str, Severity)> = findings
            .iter()
            .filter(|f| f.kind == FindingKind::Interaction)
            .map(|f| (f.code.as_str(), f.severity))
            .collect();
        assert!(
            interactions.contains(&(*code, *severity)),
            "{key} + {active}: {interactions:?}"
        );
        let finding = findings.iter().find(|f| f.code == *code).unwrap();
        assert_eq!(
            finding.source,
            interactions::interaction(code).unwrap().source
        );
        assert!(finding.message_es.contains("(activo)"));
    }
    // Pairs outside the table give no interaction finding.
    let none = run(
        &rx(PARACETAMOL, 1.0, 3.0),
        &[],
        &[text_med("Metformina 850 mg"), text_med("Losartán")],
    );
    assert!(
        none.iter().all(|f| f.kind != FindingKind::Interaction),
        "{none:?}"
    );
    // TMP-SMX has two ingredients in one row: one finding, not two.
    let once = run(&rx(TMP_SMX, 1.0, 2.0), &[], &[text_med("Metotrexato")]);
    assert_eq!(
        once.iter().filter(|f| f.code == "DDI-MTX-TMPSMX").count(),
        1
    );
}

#[test]
fn daily_dose_limits() {
    let adult = PatientFacts {
        age_years: Some(40),
        weight_kg: Some(70.0),
    };
    let check = |p: &ProposedPrescription, facts: PatientFacts| {
        check_prescription(p, &[], &[], facts)
            .unwrap()
            .into_iter()
            .filter(|f| f.kind == FindingKind::Dose)
            .map(|f| (f.code, f.severity))
            .collect::<Vec<_>>()
    };
    // Paracetamol 500 mg: 2 tablets every 6 h is the 4 g maximum; 3 tablets is over.
    assert!(check(&rx(PARACETAMOL, 2.0, 4.0), adult).is_empty());
    assert_eq!(
        check(&rx(PARACETAMOL, 3.0, 4.0), adult),
        [("DOSE-DAILY-MAX-PARACETAMOL".to_owned(), Severity::Block)]
    );
    // Milligram doses too.
    let mg = ProposedPrescription {
        dose: DoseAmount::Mg(1500.0),
        ..rx(PARACETAMOL, 1.0, 4.0)
    };
    assert_eq!(check(&mg, adult).len(), 1);
    // A 10 kg child: paracetamol drops 100 mg/mL, 1.5 mL every 6 h = 60 mg/kg/day is the limit.
    let child = PatientFacts {
        age_years: Some(1),
        weight_kg: Some(10.0),
    };
    assert!(check(&rx("010.000.0106.00", 1.5, 4.0), child).is_empty());
    assert_eq!(
        check(&rx("010.000.0106.00", 2.0, 4.0), child),
        [("DOSE-MG-KG-MAX-PARACETAMOL".to_owned(), Severity::Block)]
    );
    // Amoxicillin suspension 100 mg/mL: 90 mg/kg/day at 10 kg is 900 mg.
    assert!(check(&rx("010.000.2127.00", 3.0, 3.0), child).is_empty());
    assert_eq!(check(&rx("010.000.2127.00", 5.0, 3.0), child).len(), 1);
    // Without a weight, children get only the adult cap.
    assert!(
        check(
            &rx("010.000.0106.00", 2.0, 4.0),
            PatientFacts {
                age_years: Some(1),
                weight_kg: None
            }
        )
        .is_empty()
    );
    // Insulin (IU) and mixtures are not dose-checked.
    assert!(check(&rx("010.000.1050.00", 500.0, 3.0), adult).is_empty());
    assert!(check(&rx(TMP_SMX, 20.0, 3.0), adult).is_empty());
    let message = &check_prescription(&rx(PARACETAMOL, 3.0, 4.0), &[], &[], adult).unwrap()[0];
    assert_eq!(
        message.message_es,
        "Paracetamol: 6000 mg al día superan el máximo de 4000 mg/día."
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let unknown = check_prescription(
        &rx("010.000.9999.00", 1.0, 1.0),
        &[],
        &[],
        PatientFacts::default(),
    );
    assert_eq!(
        unknown,
        Err(CheckError::UnknownKey {
            key: "010.000.9999.00".into()
        })
    );
    assert_eq!(
        unknown.unwrap_err().message_es(),
        "La clave CNIS «010.000.9999.00» no está en el cuadro básico."
    );
    for (dose, times) in [
        (0.0, 1.0),
        (-1.0, 1.0),
        (f64::NAN, 1.0),
        (1.0, 0.0),
        (1.0, f64::INFINITY),
    ] {
        assert_eq!(
            check_prescription(
                &rx(PARACETAMOL, dose, times),
                &[],
                &[],
                PatientFacts::default()
            ),
            Err(CheckError::InvalidDose)
        );
    }
    // Resources of other types and malformed JSON are ignored, not fatal.
    let noise = [json!({"resourceType": "Patient"}), json!(42), json!({})];
    assert!(codes(&run(&rx(PARACETAMOL, 1.0, 1.0), &noise, &noise)).is_empty());
}

#[test]
fn findings_come_most_severe_first_and_unverified_keys_say_so() {
    let findings = run(
        &rx(NAPROXEN, 4.0, 3.0),
        &[allergy("AINE", None)],
        &[text_med("Enalapril"), text_med("Warfarina")],
    );
    let severities: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
    let mut sorted = severities.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(severities, sorted);
    assert_eq!(findings[0].code, "ALLERGY-CLASS-NSAID");
    assert!(
        findings
            .iter()
            .any(|f| f.code == "DOSE-DAILY-MAX-NAPROXENO")
    );
    // Generator keys carry no notice; unverified ones an Info.
    assert!(run(&rx(NAPROXEN, 1.0, 1.0), &[], &[]).is_empty());
    let unverified = run(&rx("010.000.0623.00", 1.0, 1.0), &[], &[]);
    assert_eq!(
        unverified
            .iter()
            .map(|f| (f.code.as_str(), f.severity))
            .collect::<Vec<_>>(),
        [("FORMULARY-KEY-UNVERIFIED", Severity::Info)]
    );
}
