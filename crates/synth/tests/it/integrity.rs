//! References resolve, ids are unique, files import in dependency order, counts match the Summary.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::dataset::{PATIENTS, dataset};

/// File order of the generator: each file may reference only itself and the files before it.
const ORDER: [&str; 13] = [
    "Organization",
    "Location",
    "Practitioner",
    "PractitionerRole",
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "DiagnosticReport",
    "MedicationRequest",
    "ServiceRequest",
    "AllergyIntolerance",
    "Immunization",
];

fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "reference" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    references(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

#[test]
fn ids_are_unique_and_references_resolve_in_file_order() {
    let data = dataset();
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut n_refs = 0;
    for (position, ty) in ORDER.iter().enumerate() {
        let resources = data.of(ty);
        // Ids of this file are known before its references are checked (self references are allowed).
        for r in resources {
            let id = r["id"].as_str().unwrap();
            assert_eq!(id.len(), 36);
            assert!(known.insert(format!("{ty}/{id}")), "duplicate id {ty}/{id}");
        }
        for r in resources {
            let mut refs = Vec::new();
            references(r, &mut refs);
            for target in refs {
                let (target_type, _) = target.split_once('/').unwrap();
                let target_pos = ORDER.iter().position(|t| *t == target_type).unwrap();
                assert!(
                    target_pos <= position,
                    "{ty} references {target_type}, written later"
                );
                assert!(
                    known.contains(&target),
                    "{ty}/{} -> {target} does not resolve",
                    r["id"]
                );
                n_refs += 1;
            }
        }
    }
    assert!(n_refs > 100_000, "{n_refs}");
}

#[test]
fn summary_matches_the_files() {
    let data = dataset();
    let summary = &data.summary;
    assert_eq!(summary.patients, PATIENTS);
    for ty in ORDER {
        let in_file = data.of(ty).len() as u64;
        assert_eq!(summary.resources.get(ty).copied(), Some(in_file), "{ty}");
        let bytes = data.raw[&format!("{ty}.ndjson")].len() as u64;
        assert_eq!(summary.file_bytes[&format!("{ty}.ndjson")], bytes);
    }
    assert_eq!(
        summary.bytes,
        data.raw.values().map(|b| b.len() as u64).sum::<u64>()
    );
    assert_eq!(summary.facilities, data.of("Organization").len() as u64);
    assert_eq!(summary.practitioners, data.of("Practitioner").len() as u64);
    // Every line is one JSON object ending in a newline; no pretty printing.
    for (name, bytes) in &data.raw {
        assert_eq!(bytes.last(), Some(&b'\n'), "{name}");
    }
}

#[test]
fn every_resource_has_its_required_elements() {
    let data = dataset();
    let need: BTreeMap<&str, &[&str]> = BTreeMap::from([
        (
            "Encounter",
            &["status", "class", "subject", "period", "serviceProvider"][..],
        ),
        (
            "Condition",
            &[
                "subject",
                "code",
                "clinicalStatus",
                "verificationStatus",
                "encounter",
            ][..],
        ),
        (
            "Observation",
            &["status", "code", "subject", "effectiveDateTime", "category"][..],
        ),
        (
            "DiagnosticReport",
            &["status", "code", "subject", "result", "issued"][..],
        ),
        (
            "MedicationRequest",
            &[
                "status",
                "intent",
                "subject",
                "medicationCodeableConcept",
                "requester",
            ][..],
        ),
        (
            "Immunization",
            &[
                "status",
                "vaccineCode",
                "patient",
                "occurrenceDateTime",
                "lotNumber",
            ][..],
        ),
        (
            "AllergyIntolerance",
            &["patient", "code", "clinicalStatus"][..],
        ),
        (
            "ServiceRequest",
            &[
                "status",
                "intent",
                "subject",
                "requester",
                "performer",
                "reasonCode",
            ][..],
        ),
        (
            "PractitionerRole",
            &["practitioner", "organization", "code"][..],
        ),
        ("Location", &["managingOrganization", "identifier"][..]),
    ]);
    for (ty, fields) in need {
        let resources = data.of(ty);
        assert!(!resources.is_empty(), "no {ty} generated");
        for r in resources {
            for f in fields {
                assert!(!r[*f].is_null(), "{ty}/{} lacks {f}", r["id"]);
            }
        }
    }
    // Observation values are numbers with fixed decimals, never floats printed with many digits.
    for o in data.of("Observation") {
        if let Some(v) = o["valueQuantity"]["value"].as_f64() {
            let text = o["valueQuantity"]["value"].to_string();
            assert!(text.len() <= 7, "{text}");
            assert!(v.is_finite());
        }
    }
}

#[test]
fn identifiers_have_the_mexican_shapes() {
    let data = dataset();
    for org in data.of("Organization") {
        let clues = org["identifier"][0]["value"].as_str().unwrap();
        assert_eq!(org["identifier"][0]["system"], mexico::systems::CLUES);
        assert_eq!(clues.len(), 11, "{clues}");
        assert!(
            mexico::states::by_curp_code(&clues[..2]).is_some(),
            "{clues}"
        );
        assert!(["IMB", "SSA"].contains(&&clues[2..5]), "{clues}");
        assert!(clues[5..].chars().all(|c| c.is_ascii_digit()), "{clues}");
    }
    for p in data.of("Practitioner") {
        let cedula = p["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["system"] == mexico::systems::CEDULA)
            .unwrap();
        let value = cedula["value"].as_str().unwrap();
        assert!(
            (7..=8).contains(&value.len()) && value.chars().all(|c| c.is_ascii_digit()),
            "{value}"
        );
    }
    for p in data.of("Patient") {
        if let Some(phone) = p["telecom"][0]["value"].as_str() {
            assert!(
                phone.len() == 10 && phone.chars().all(|c| c.is_ascii_digit()),
                "{phone}"
            );
        }
    }
    // Times carry seconds and a Mexican UTC offset.
    for e in data.of("Encounter") {
        let start = e["period"]["start"].as_str().unwrap();
        assert_eq!(start.len(), 25, "{start}");
        assert!(
            ["-05:00", "-06:00", "-07:00", "-08:00"].contains(&&start[19..]),
            "{start}"
        );
    }
}

#[test]
fn redundant_tests_are_counted_as_the_data_shows() {
    let data = dataset();
    // Recount from the DiagnosticReports: same patient and code, another organization, ≤ 14 days.
    let mut by_patient: BTreeMap<&str, Vec<(&str, &str, &str)>> = BTreeMap::new();
    for r in data.of("DiagnosticReport") {
        by_patient
            .entry(r["subject"]["reference"].as_str().unwrap())
            .or_default()
            .push((
                r["code"]["coding"][0]["code"].as_str().unwrap(),
                &r["effectiveDateTime"].as_str().unwrap()[..10],
                r["performer"][0]["reference"].as_str().unwrap(),
            ));
    }
    let mut repeats = 0;
    for reports in by_patient.values() {
        for (i, (code, date, org)) in reports.iter().enumerate() {
            let earlier = reports[..i].iter().any(|(c, d, o)| {
                c == code
                    && o != org
                    && (0..=synth::REDUNDANT_WINDOW_DAYS).contains(&civil_gap(d, date))
            });
            repeats += u64::from(earlier);
        }
    }
    assert_eq!(repeats, data.summary.redundant_lab_repeats);
    assert!(
        repeats >= 10,
        "too few redundant tests to be useful: {repeats}"
    );
}

/// Days from `a` to `b` (YYYY-MM-DD), proleptic Gregorian.
fn civil_gap(a: &str, b: &str) -> i64 {
    fn days(s: &str) -> i64 {
        let (y, m, d): (i64, i64, i64) = (
            s[0..4].parse().unwrap(),
            s[5..7].parse().unwrap(),
            s[8..10].parse().unwrap(),
        );
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy
    }
    days(b) - days(a)
}

#[test]
fn clinics_option_puts_everyone_in_k_clinics_of_one_state() {
    let tmp = tempfile::tempdir().unwrap();
    let args = synth::GenerateArgs {
        clinics: Some(3),
        ..crate::dataset::args(120, 5)
    };
    synth::generate_to_dir(&args, tmp.path(), &|_| {}).unwrap();
    let (types, _) = crate::dataset::read_dir(tmp.path());
    let orgs: BTreeMap<String, &str> = types["Organization"]
        .iter()
        .map(|o| {
            (
                format!("Organization/{}", o["id"].as_str().unwrap()),
                o["name"].as_str().unwrap(),
            )
        })
        .collect();
    let centres: BTreeSet<&str> = orgs
        .values()
        .copied()
        .filter(|n| n.starts_with("Centro de Salud"))
        .collect();
    assert_eq!(centres.len(), 3, "{orgs:?}");
    let states: BTreeSet<&str> = types["Organization"]
        .iter()
        .map(|o| o["address"][0]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 1);
    let homes: BTreeSet<&str> = types["Patient"]
        .iter()
        .map(|p| orgs[p["managingOrganization"]["reference"].as_str().unwrap()])
        .collect();
    assert!(homes.iter().all(|h| centres.contains(h)), "{homes:?}");
}
