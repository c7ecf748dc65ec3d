//! Chart building from resources: what is shown and what is left out.

use std::collections::HashMap;

use serde_json::json;

use super::*;
use crate::dates::days_from_civil;

fn facilities() -> HashMap<String, Facility> {
    [
        ("Organization/a", "Centro A", "MSIMB000001"),
        ("Organization/b", "Hospital B", "MSIMB000002"),
    ]
    .into_iter()
    .map(|(r, n, c)| {
        (
            r.to_string(),
            Facility {
                reference: r.to_string(),
                name: n.to_string(),
                clues: c.to_string(),
            },
        )
    })
    .collect()
}

fn cie(code: &str, text: &str) -> serde_json::Value {
    json!({"coding": [{"system": mexico::systems::CIE10, "code": code}], "text": text})
}

#[test]
fn the_chart_gathers_visits_problems_medications_and_trends() {
    let today = days_from_civil(2026, 11, 25);
    let resources = vec![
        json!({"resourceType": "Patient", "id": "p", "birthDate": "1970-05-01", "gender": "male",
               "name": [{"use": "official", "given": ["Juan"], "family": "Pérez"}]}),
        json!({"resourceType": "Encounter", "id": "e1", "period": {"start": "2025-01-10T09:00:00-06:00"},
               "serviceProvider": {"reference": "Organization/a"}, "reasonCode": [cie("I10", "Hipertensión")]}),
        json!({"resourceType": "Encounter", "id": "e2", "period": {"start": "2026-06-10T09:00:00-06:00"},
               "serviceProvider": {"reference": "Organization/b"}}),
        json!({"resourceType": "Composition", "id": "n1", "title": "Nota de evolución",
               "encounter": {"reference": "Encounter/e2"}}),
        json!({"resourceType": "Condition", "id": "c1", "code": cie("I10", "Hipertensión"),
               "clinicalStatus": {"coding": [{"code": "active"}]}, "onsetDateTime": "2025-01-10"}),
        // The same problem recorded at another visit is listed once.
        json!({"resourceType": "Condition", "id": "c2", "code": cie("I10", "Hipertensión"),
               "clinicalStatus": {"coding": [{"code": "active"}]}, "onsetDateTime": "2026-06-10"}),
        json!({"resourceType": "Condition", "id": "c3", "code": cie("J02.9", "Faringitis"),
               "clinicalStatus": {"coding": [{"code": "resolved"}]}}),
        json!({"resourceType": "MedicationRequest", "status": "active", "authoredOn": "2024-01-01",
               "medicationCodeableConcept": {"text": "Losartán 50 mg"}}),
        json!({"resourceType": "MedicationRequest", "status": "completed", "authoredOn": "2026-11-01",
               "medicationCodeableConcept": {"text": "Amoxicilina"}}),
        json!({"resourceType": "MedicationRequest", "status": "completed", "authoredOn": "2025-01-01",
               "medicationCodeableConcept": {"text": "Antiguo"}}),
        json!({"resourceType": "Observation", "effectiveDateTime": "2026-06-10",
               "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
               "component": [
                   {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 150}},
                   {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 95}}]}),
        json!({"resourceType": "Observation", "effectiveDateTime": "2025-01-10",
               "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 140}}),
        json!({"resourceType": "Observation", "effectiveDateTime": "2026-06-10",
               "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0"}], "text": "Creatinina"},
               "valueQuantity": {"value": 1.1, "unit": "mg/dL"}}),
        json!({"resourceType": "Observation", "effectiveDateTime": "2025-01-10",
               "code": {"coding": [{"system": "http://loinc.org", "code": "2160-0"}], "text": "Creatinina"},
               "valueQuantity": {"value": 0.9, "unit": "mg/dL"}}),
        json!({"resourceType": "Observation", "effectiveDateTime": "2026-06-10",
               "category": [{"coding": [{"code": "vital-signs"}]}],
               "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Frecuencia"},
               "valueQuantity": {"value": 80}}),
        json!({"resourceType": "ServiceRequest", "id": "r1", "status": "active", "authoredOn": "2026-06-10",
               "category": [{"coding": [{"code": "3457005"}]}], "performer": [{"reference": "Organization/b"}]}),
    ];
    let chart = build("p", &resources, &facilities(), today);
    assert_eq!(chart.header.age_years, Some(56));
    let visits: Vec<(&str, &str)> = chart
        .visits
        .iter()
        .map(|v| (v.facility.as_str(), v.reason.as_str()))
        .collect();
    assert_eq!(
        visits,
        [("Hospital B", ""), ("Centro A", "Hipertensión (I10)")]
    );
    assert_eq!(
        chart.visits[0].notes,
        [("n1".to_string(), "Nota de evolución".to_string())]
    );
    assert_eq!(chart.problems.len(), 1);
    // The medication list is reconciled: what is in force, what ended recently, the rest.
    let names = |lines: &[crate::meds::MedLine]| -> Vec<String> {
        lines.iter().map(|m| m.name.clone()).collect()
    };
    assert_eq!(names(&chart.medications.current), ["Losartán 50 mg"]);
    assert_eq!(names(&chart.medications.recent), ["Amoxicilina"]);
    assert_eq!(names(&chart.medications.history), ["Antiguo"]);
    // Resolved problems are kept apart; the latest vital signs are gathered.
    assert_eq!(chart.past_problems[0].code, "J02.9");
    assert_eq!(chart.problems[0].condition_ids, ["c1", "c2"]);
    assert!(
        chart
            .latest_vitals
            .iter()
            .any(|v| v.label_es == "Tensión arterial" && v.value == "150/95 mmHg"),
        "{:?}",
        chart.latest_vitals
    );
    let systolic = chart
        .series
        .iter()
        .find(|s| s.trend.key == "trend.systolic")
        .unwrap();
    assert_eq!(
        systolic.points.iter().map(|p| p.1).collect::<Vec<_>>(),
        [140.0, 150.0]
    );
    assert!(chart.series.iter().all(|s| s.trend.key != "trend.height"));
    assert_eq!(chart.referrals[0].to_facility, "Hospital B");
    assert!(chart.immunizations.is_empty(), "no schedule applies at 56");
    // Only the latest result of each laboratory test; vital signs are not lab results.
    let labs: Vec<(&str, &str)> = chart
        .lab_results
        .iter()
        .map(|r| (r.name.as_str(), r.value.as_str()))
        .collect();
    assert_eq!(labs, [("Creatinina", "1.1")]);
}

#[test]
fn facility_references_come_from_encounters_patients_and_referrals() {
    let resources = vec![
        json!({"resourceType": "Encounter", "serviceProvider": {"reference": "Organization/a"}}),
        json!({"resourceType": "Patient", "managingOrganization": {"reference": "Organization/b"}}),
        json!({"resourceType": "Observation", "performer": [{"reference": "Organization/c"}]}),
    ];
    let mut found: Vec<String> = facility_references(&resources).into_iter().collect();
    found.sort();
    assert_eq!(found, ["Organization/a", "Organization/b"]);
}
