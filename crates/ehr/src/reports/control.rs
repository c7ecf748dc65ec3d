//! Incremental chronic-disease control facts: the chronic-disease page and
//! `diabetes-control.csv` without reading every Patient, Condition, HbA1c and blood pressure
//! on every view.
//!
//! What is kept (in memory, per node): each patient with diabetes or hypertension and a
//! facility, with every HbA1c and blood-pressure measurement ([`calc::ControlFacts`]). A view
//! counts them for its date ([`calc::control_rows`]), so any `as_of` is answered from the same
//! facts. How they stay current: as the new-case index does (`incremental`), from the change
//! log: the patients whose Patient, Conditions or Observations were written since the last
//! view are recomputed from their own resources, with the same rule as the full count
//! ([`calc::control_facts`]); the facility directory changing, too many changes, or the first
//! view build them again, patient by patient. The keeping is [`super::facts`]'s, shared with
//! the other reports that count patients.
//!
//! Limits: in memory (a restart's first view pays the scan once); a hub at 10^7 resources
//! holds some 10^5 patients' measurements (a few tens of MB).

use std::collections::HashMap;

use time::Date;

use super::calc::{self, ControlFacts, ControlRow, Disease, Facilities};
use super::facts::PatientFacts;
use crate::{Ehr, Error};

impl PatientFacts for ControlFacts {
    const KINDS: &'static [&'static str] = &["Patient", "Condition", "Observation"];

    fn read(
        ehr: &Ehr,
        facilities: &Facilities,
        patients: Option<&[String]>,
    ) -> Result<HashMap<String, ControlFacts>, Error> {
        let people = ehr.scan_patients(patients)?;
        let conditions = ehr.scan_of("Condition", patients, &[])?;
        let mut observations = Vec::new();
        for code in [calc::LOINC_HBA1C, calc::LOINC_BP_PANEL] {
            let code = format!("{}|{code}", mexico::systems::LOINC);
            observations.extend(ehr.scan_of(
                "Observation",
                patients,
                &[("code", code.as_str())],
            )?);
        }
        Ok(calc::control_facts(
            &people,
            &conditions,
            &observations,
            facilities,
        ))
    }
}

impl Ehr {
    /// The control rows of each disease on `as_of`, from the facts (brought up to date first).
    /// Counts only; the caller has decided who may see them.
    pub(crate) fn control_indexed(
        &self,
        as_of: Date,
        diseases: &[Disease],
    ) -> Result<Vec<Vec<ControlRow>>, Error> {
        self.report_indexes().control.view(self, |_, facts| {
            diseases
                .iter()
                .map(|disease| calc::control_rows(facts.values(), as_of, *disease))
                .collect()
        })
    }

    /// How the last refresh of the control facts went: (rebuilt from a full scan, patients
    /// recomputed). For tests and the bench.
    pub fn control_index_last_refresh(&self) -> (bool, usize) {
        self.report_indexes().control.last_refresh()
    }

    /// The control rows by a full scan, as the reports computed them before the index (for
    /// tests and the bench's baseline). Decided like the reports, not audited: it is the
    /// figure of a report already audited, computed the other way.
    pub fn control_scanned(
        &self,
        who: &crate::Requester,
        as_of: Date,
        disease: Disease,
    ) -> Result<Vec<ControlRow>, Error> {
        self.may_read_reports(who)
            .map_err(crate::guard::forbidden)?;
        let facilities = self.facilities()?;
        let facts = super::facts::read_everyone::<ControlFacts>(self, &facilities)?;
        Ok(calc::control_rows(facts.values(), as_of, disease))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::testing::{TestNode, json};

    /// The facts, after every kind of change (a measurement, a diagnosis, one voided, a
    /// registration moved, a deletion, the directory), count what a full scan counts, for
    /// both diseases, and only the patients touched are recomputed.
    #[test]
    fn the_control_facts_follow_every_change_as_a_full_scan_would() {
        let node = TestNode::new();
        let (ehr, tool) = (&node.ehr, &node.tool);
        let create = |kind: &str, body: String| node.create(kind, &body);
        let clues_body = |id: Option<&str>, clues: &str| {
            format!(
                r#"{{"resourceType":"Organization",{}"identifier":[{{"system":"{}","value":"{clues}"}}]}}"#,
                id.map(|i| format!(r#""id":"{i}","#)).unwrap_or_default(),
                mexico::systems::CLUES
            )
        };
        let jc = create("Organization", clues_body(None, "JCSSA001234"));
        let df = create("Organization", clues_body(None, "DFSSA004321"));
        let patient_body = |id: Option<&str>, org: &str| {
            format!(
                r#"{{"resourceType":"Patient",{}"gender":"female","birthDate":"1970-01-01","managingOrganization":{{"reference":"Organization/{org}"}}}}"#,
                id.map(|i| format!(r#""id":"{i}","#)).unwrap_or_default()
            )
        };
        let condition = |p: &str, code: &str| {
            format!(
                r#"{{"resourceType":"Condition","clinicalStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}}]}},"code":{{"coding":[{{"system":"{}","code":"{code}"}}]}},"subject":{{"reference":"Patient/{p}"}}}}"#,
                mexico::systems::CIE10
            )
        };
        let hba1c = |p: &str, when: &str, value: f64| {
            format!(
                r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"{}","code":"4548-4"}}]}},"subject":{{"reference":"Patient/{p}"}},"effectiveDateTime":"{when}","valueQuantity":{{"value":{value},"unit":"%"}}}}"#,
                mexico::systems::LOINC
            )
        };
        let pressure = |p: &str, when: &str, systolic: u32, diastolic: u32| {
            let loinc = mexico::systems::LOINC;
            format!(
                r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"{loinc}","code":"85354-9"}}]}},"subject":{{"reference":"Patient/{p}"}},"effectiveDateTime":"{when}","component":[{{"code":{{"coding":[{{"system":"{loinc}","code":"8480-6"}}]}},"valueQuantity":{{"value":{systolic}}}}},{{"code":{{"coding":[{{"system":"{loinc}","code":"8462-4"}}]}},"valueQuantity":{{"value":{diastolic}}}}}]}}"#
            )
        };
        let as_of = super::super::dates::parse_day("2026-11-30").expect("day");
        let same = |why: &str| -> (Vec<ControlRow>, Vec<ControlRow>) {
            let mut indexed = ehr
                .control_indexed(as_of, &[Disease::Diabetes, Disease::Hypertension])
                .expect("indexed")
                .into_iter();
            let diabetes = indexed.next().expect("diabetes");
            let hypertension = indexed.next().expect("hypertension");
            assert_eq!(
                diabetes,
                ehr.control_scanned(tool, as_of, Disease::Diabetes)
                    .expect("scanned"),
                "diabetes, {why}"
            );
            assert_eq!(
                hypertension,
                ehr.control_scanned(tool, as_of, Disease::Hypertension)
                    .expect("scanned"),
                "hypertension, {why}"
            );
            (diabetes, hypertension)
        };

        let a = create("Patient", patient_body(None, &jc));
        let b = create("Patient", patient_body(None, &df));
        let c = create("Patient", patient_body(None, &jc));
        create("Condition", condition(&a, "E11.9"));
        create("Observation", hba1c(&a, "2026-06-01", 6.5));
        let hypertension_b = create("Condition", condition(&b, "I10"));
        create("Observation", pressure(&b, "2026-10-01", 150, 95));
        let (diabetes, hypertension) = same("first view: built from a scan");
        assert!(ehr.control_index_last_refresh().0);
        assert_eq!((diabetes.len(), diabetes[0].controlled), (1, 1));
        assert_eq!((hypertension.len(), hypertension[0].controlled), (1, 0));

        // A later HbA1c for a, out of control; and c's diabetes: two patients recomputed.
        create("Observation", hba1c(&a, "2026-11-15", 8.2));
        create("Condition", condition(&c, "E11.9"));
        let (diabetes, _) = same("after two writes");
        assert_eq!(ehr.control_index_last_refresh(), (false, 2));
        assert_eq!(
            (
                diabetes[0].patients,
                diabetes[0].measured_12m,
                diabetes[0].controlled
            ),
            (2, 1, 0),
            "{diabetes:?}"
        );

        // Nothing written: nothing recomputed.
        same("unchanged");
        assert_eq!(ehr.control_index_last_refresh(), (false, 0));

        // b's hypertension entered in error; c registered at the other clinic.
        let voided = condition(&b, "I10").replace(
            r#""resourceType":"Condition","#,
            &format!(
                r#""resourceType":"Condition","id":"{hypertension_b}","verificationStatus":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"entered-in-error"}}]}},"#
            ),
        );
        ehr.update(tool, "Condition", &hypertension_b, json(&voided), None)
            .expect("updated");
        ehr.update(
            tool,
            "Patient",
            &c,
            json(&patient_body(Some(&c), &df)),
            None,
        )
        .expect("updated");
        let (diabetes, hypertension) = same("after a voided diagnosis and a move");
        assert!(hypertension.is_empty(), "{hypertension:?}");
        assert_eq!(diabetes.len(), 2, "{diabetes:?}");

        // A measurement deleted, then the directory changing (a rebuild).
        let late = create("Observation", hba1c(&c, "2026-11-20", 6.0));
        same("c measured");
        ehr.delete(tool, "Observation", &late).expect("deleted");
        same("after a delete");
        ehr.update(
            tool,
            "Organization",
            &jc,
            json(&clues_body(Some(&jc), "MCSSA000011")),
            None,
        )
        .expect("updated");
        let (diabetes, _) = same("after the directory changed");
        assert!(ehr.control_index_last_refresh().0);
        assert!(
            diabetes.iter().any(|r| r.clues == "MCSSA000011"),
            "{diabetes:?}"
        );
    }
}
