//! How each report that counts patients reads what it keeps of them ([`PatientFacts`]): the
//! resource types that touch its facts, and the reads, for every patient or for one. The
//! counting rules are the pure modules' ([`calc`], [`coverage`], [`demand`], [`quality`]);
//! this module only fetches.

use std::collections::HashMap;

use fhir::Json;

use super::calc::{self, Facilities, Visits, referenced_id};
use super::coverage::{self, Child};
use super::demand::{self, Prescriptions};
use super::facts::{FactsIndex, PatientFacts};
use super::incremental::NewCaseIndex;
use super::quality::{self, QualityFacts, Warnings};
use crate::{Ehr, Error};

/// Every report index a node holds (one per [`Ehr`] and its clones).
#[derive(Default)]
pub struct ReportIndexes {
    /// Surveillance and `new-cases.csv` (its own index: daily counts by week range).
    pub(crate) new_cases: NewCaseIndex,
    /// Chronic-disease control and `diabetes-control.csv`.
    pub(crate) control: FactsIndex<calc::ControlFacts>,
    /// `consultations.csv`.
    pub(crate) visits: FactsIndex<Visits>,
    /// Vaccination coverage.
    pub(crate) children: FactsIndex<Child>,
    /// Medicine demand.
    pub(crate) prescriptions: FactsIndex<Prescriptions>,
    /// Repeated tests.
    pub(crate) warnings: FactsIndex<Warnings>,
    /// Data quality.
    pub(crate) quality: FactsIndex<QualityFacts>,
}

impl PatientFacts for Visits {
    const KINDS: &'static [&'static str] = &["Encounter"];

    fn read(
        ehr: &Ehr,
        facilities: &Facilities,
        patients: Option<&[String]>,
    ) -> Result<HashMap<String, Visits>, Error> {
        let encounters = ehr.scan_of("Encounter", patients, &[])?;
        Ok(calc::consultation_facts(&encounters, facilities))
    }
}

impl PatientFacts for Child {
    const KINDS: &'static [&'static str] = &["Patient", "Immunization"];

    fn read(
        ehr: &Ehr,
        facilities: &Facilities,
        patients: Option<&[String]>,
    ) -> Result<HashMap<String, Child>, Error> {
        let people = ehr.scan_patients(patients)?;
        let immunizations = ehr.scan_of("Immunization", patients, &[])?;
        Ok(coverage::child_facts(&people, &immunizations, facilities))
    }
}

impl PatientFacts for Prescriptions {
    const KINDS: &'static [&'static str] = &["MedicationRequest", "Encounter"];

    fn read(
        ehr: &Ehr,
        facilities: &Facilities,
        patients: Option<&[String]>,
    ) -> Result<HashMap<String, Prescriptions>, Error> {
        let requests = ehr.scan_of("MedicationRequest", patients, &[])?;
        let encounters = match patients {
            None => ehr.scan("Encounter", &[])?,
            Some(_) => ehr.read_encounters(requests.iter().filter_map(encounter_of))?,
        };
        let encounters = calc::encounter_facts(&encounters, facilities);
        Ok(demand::prescribed(&requests, &encounters))
    }
}

impl PatientFacts for Warnings {
    const KINDS: &'static [&'static str] = &["DetectedIssue"];

    fn read(
        ehr: &Ehr,
        facilities: &Facilities,
        patients: Option<&[String]>,
    ) -> Result<HashMap<String, Warnings>, Error> {
        let issues = ehr.scan_of("DetectedIssue", patients, &[])?;
        Ok(quality::warning_facts(&issues, facilities))
    }
}

impl PatientFacts for QualityFacts {
    const KINDS: &'static [&'static str] = &["Patient", "Composition", "Encounter", "Condition"];

    fn read(
        ehr: &Ehr,
        facilities: &Facilities,
        patients: Option<&[String]>,
    ) -> Result<HashMap<String, QualityFacts>, Error> {
        let people = ehr.scan_patients(patients)?;
        let compositions = ehr.scan_of("Composition", patients, &[])?;
        let mut encounters = ehr.scan_of("Encounter", patients, &[])?;
        if patients.is_some() {
            // A note's facility may be that of an Encounter it names.
            let held: std::collections::HashSet<&str> = encounters
                .iter()
                .filter_map(|e| e.get("id").and_then(Json::as_str))
                .collect();
            let named: Vec<&str> = compositions
                .iter()
                .filter_map(encounter_of)
                .filter(|id| !held.contains(id))
                .collect();
            let more = ehr.read_encounters(named)?;
            encounters.extend(more);
        }
        let conditions = ehr.scan_of("Condition", patients, &[])?;
        Ok(quality::quality_facts(
            &quality::QualityInputs {
                patients: &people,
                compositions: &compositions,
                encounters: &encounters,
                conditions: &conditions,
            },
            facilities,
        ))
    }
}

/// The id of the Encounter a resource names (`encounter`).
fn encounter_of(resource: &Json) -> Option<&str> {
    let text = resource.get("encounter")?.get("reference")?.as_str()?;
    referenced_id(text, "Encounter")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::dates::parse_day;
    use crate::reports::facts::read_everyone;
    use crate::reports::testing::TestNode;

    /// Every report's rows from the facts kept, and from facts read afresh from the record:
    /// (consultations, coverage, demand, repeated tests, data quality), as debug text.
    fn both(ehr: &Ehr) -> [(String, String); 5] {
        let day = |t: &str| parse_day(t).expect("day");
        let (from, to, as_of, last) = (
            day("2020-01-01"),
            day("2026-12-31"),
            day("2026-11-30"),
            (2026, 11),
        );
        let facilities = ehr.facilities().expect("directory");
        let indexes = ehr.report_indexes();
        let kept = |e: Result<String, Error>| e.expect("kept");
        [
            (
                kept(indexes.visits.view(ehr, |_, f| {
                    format!("{:?}", calc::consultation_rows(f.values(), from, to))
                })),
                format!(
                    "{:?}",
                    calc::consultation_rows(
                        read_everyone::<Visits>(ehr, &facilities)
                            .expect("read")
                            .values(),
                        from,
                        to
                    )
                ),
            ),
            (
                kept(indexes.children.view(ehr, |_, f| {
                    format!("{:?}", coverage::coverage_rows(f.values(), as_of))
                })),
                format!(
                    "{:?}",
                    coverage::coverage_rows(
                        read_everyone::<Child>(ehr, &facilities)
                            .expect("read")
                            .values(),
                        as_of
                    )
                ),
            ),
            (
                kept(indexes.prescriptions.view(ehr, |_, f| {
                    format!(
                        "{:?}",
                        demand::demand_rows(f.values().flat_map(|p| p.0.iter()), last)
                    )
                })),
                format!(
                    "{:?}",
                    demand::demand_rows(
                        read_everyone::<Prescriptions>(ehr, &facilities)
                            .expect("read")
                            .values()
                            .flat_map(|p| p.0.iter()),
                        last
                    )
                ),
            ),
            (
                kept(indexes.warnings.view(ehr, |_, f| {
                    format!("{:?}", quality::repeated_tests(f.values(), from, to))
                })),
                format!(
                    "{:?}",
                    quality::repeated_tests(
                        read_everyone::<Warnings>(ehr, &facilities)
                            .expect("read")
                            .values(),
                        from,
                        to
                    )
                ),
            ),
            (
                kept(
                    indexes
                        .quality
                        .view(ehr, |_, f| format!("{:?}", quality::data_quality(f, &[]))),
                ),
                format!(
                    "{:?}",
                    quality::data_quality(
                        &read_everyone::<QualityFacts>(ehr, &facilities).expect("read"),
                        &[]
                    )
                ),
            ),
        ]
    }

    /// How each index's last refresh went, in the order of [`both`].
    fn refreshes(ehr: &Ehr) -> [(bool, usize); 5] {
        let i = ehr.report_indexes();
        [
            i.visits.last_refresh(),
            i.children.last_refresh(),
            i.prescriptions.last_refresh(),
            i.warnings.last_refresh(),
            i.quality.last_refresh(),
        ]
    }

    /// After every kind of change (a consultation, a dose, a prescription, a warning, a
    /// note; each then cancelled, deleted or moved), the facts kept give the rows that facts
    /// read afresh give, for all five reports, and only the patients touched are read again.
    #[test]
    fn the_kept_facts_follow_every_change_as_a_fresh_read_would() {
        let node = TestNode::new();
        let (ehr, tool) = (&node.ehr, &node.tool);
        let create = |kind: &str, body: String| node.create(kind, &body);
        let update = |kind: &str, id: &str, body: String| node.update(kind, id, &body);
        let org = |clues: &str| {
            format!(
                r#"{{"resourceType":"Organization","identifier":[{{"system":"{}","value":"{clues}"}}]}}"#,
                mexico::systems::CLUES
            )
        };
        let jc = create("Organization", org("JCSSA001234"));
        let df = create("Organization", org("DFSSA004321"));
        let patient = |at: &str| {
            format!(
                r#"{{"resourceType":"Patient","gender":"female","birthDate":"2025-01-10","managingOrganization":{{"reference":"Organization/{at}"}}}}"#
            )
        };
        let encounter = |p: &str, at: &str, status: &str| {
            format!(
                r#"{{"resourceType":"Encounter","status":"{status}","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}},"subject":{{"reference":"Patient/{p}"}},"serviceProvider":{{"reference":"Organization/{at}"}},"period":{{"start":"2026-10-05T10:00:00-06:00","end":"2026-10-05T10:30:00-06:00"}}}}"#
            )
        };
        let dose = |p: &str, status: &str| {
            format!(
                r#"{{"resourceType":"Immunization","status":"{status}","vaccineCode":{{"coding":[{{"system":"{}","code":"19"}}]}},"patient":{{"reference":"Patient/{p}"}},"occurrenceDateTime":"2025-01-11","protocolApplied":[{{"doseNumberPositiveInt":1}}]}}"#,
                mexico::systems::CVX
            )
        };
        let prescription = |p: &str, e: &str, status: &str| {
            format!(
                r#"{{"resourceType":"MedicationRequest","status":"{status}","intent":"order","medicationCodeableConcept":{{"coding":[{{"system":"{}","code":"010.000.0104.00","display":"Paracetamol"}}]}},"subject":{{"reference":"Patient/{p}"}},"encounter":{{"reference":"Encounter/{e}"}},"authoredOn":"2026-10-05","dispenseRequest":{{"quantity":{{"value":10}}}}}}"#,
                mexico::systems::CNIS
            )
        };
        let warning = |p: &str, status: &str| {
            format!(
                r#"{{"resourceType":"DetectedIssue","status":"{status}","patient":{{"reference":"Patient/{p}"}},"identifiedDateTime":"2026-10-05T10:10:00-06:00","identifier":[{{"system":"{}","value":"k","assigner":{{"reference":"Organization/{jc}"}}}}]}}"#,
                mexico::systems::REPEATED_LAB_WARNING
            )
        };
        let note = |p: &str, e: &str| {
            format!(
                r#"{{"resourceType":"Composition","status":"final","type":{{"coding":[{{"system":"{}","code":"11506-3"}}]}},"subject":{{"reference":"Patient/{p}"}},"encounter":{{"reference":"Encounter/{e}"}},"date":"2026-10-05","author":[{{"display":"Dra. Prueba"}}],"title":"Nota de evolución"}}"#,
                mexico::systems::LOINC
            )
        };
        let same = |why: &str| {
            for (kept, fresh) in both(ehr) {
                assert_eq!(kept, fresh, "{why}");
            }
        };

        let a = create("Patient", patient(&jc));
        let b = create("Patient", patient(&df));
        let visit_a = create("Encounter", encounter(&a, &jc, "finished"));
        create("Immunization", dose(&a, "completed"));
        let rx = create("MedicationRequest", prescription(&a, &visit_a, "active"));
        let warning_a = create("DetectedIssue", warning(&a, "final"));
        create("Composition", note(&a, &visit_a));
        same("first view: read from the record");
        assert!(refreshes(ehr).iter().all(|(rebuilt, _)| *rebuilt));
        let rows = both(ehr);
        for (what, needle) in [
            (0, "consultations: 1"),
            (1, "vaccinated: 1"),
            (2, "Paracetamol"),
            (3, "ordered_anyway: 1"),
            (4, "notes_incomplete: 1"),
        ] {
            assert!(rows[what].0.contains(needle), "{}", rows[what].0);
        }

        // b's visit and dose: only b read again, by the indexes its writes touch.
        let visit_b = create("Encounter", encounter(&b, &df, "finished"));
        let dose_b = create("Immunization", dose(&b, "completed"));
        same("after b's visit and dose");
        let after = refreshes(ehr);
        assert_eq!(
            (after[0], after[1], after[2]),
            ((false, 1), (false, 1), (false, 1))
        );

        // Nothing written: nothing read again.
        same("unchanged");
        assert!(refreshes(ehr).iter().all(|r| *r == (false, 0)));

        // Cancelled, entered in error, deleted, moved.
        update("Encounter", &visit_b, encounter(&b, &df, "cancelled"));
        update(
            "MedicationRequest",
            &rx,
            prescription(&a, &visit_a, "cancelled"),
        );
        ehr.delete(tool, "Immunization", &dose_b).expect("deleted");
        update("Patient", &a, patient(&df));
        update("DetectedIssue", &warning_a, warning(&a, "entered-in-error"));
        same("after cancellations, a delete and a move");
        let rows = both(ehr);
        assert!(!rows[2].0.contains("Paracetamol"), "{}", rows[2].0);
        assert!(!rows[0].0.contains("DFSSA004321"), "{}", rows[0].0);
        assert!(!rows[3].0.contains("ordered_anyway: 1"), "{}", rows[3].0);

        // A patient deleted (entered in error): their facts go, in every report.
        let c = create("Patient", patient(&jc));
        create("Encounter", encounter(&c, &jc, "finished"));
        create("DetectedIssue", warning(&c, "final"));
        same("c's visit and warning");
        let with_c = both(ehr);
        ehr.delete(tool, "Patient", &c).expect("deleted");
        same("after c was deleted");
        let without_c = both(ehr);
        assert_ne!(with_c[0].0, without_c[0].0, "c's consultation is gone");
        assert_ne!(with_c[3].0, without_c[3].0, "c's warning is gone");

        // The directory changing: everyone read again.
        update("Organization", &jc, org("MCSSA000011"));
        same("after the directory changed");
        assert!(refreshes(ehr).iter().all(|(rebuilt, _)| *rebuilt));
        assert!(both(ehr)[0].0.contains("MCSSA000011"));
    }
}
