//! The reconciled medication list: one line per drug, built from every `MedicationRequest` of
//! the patient, whatever clinic wrote it.
//!
//! Why reconcile on read: requests are the history (each renewal is a new one, stopped ones
//! stay), and several clinics write them without coordination. A drug is identified by its
//! ingredients (from the CNIS key when coded, else from the names in the text, as
//! `clinical::fhir_input` reads old free-text prescriptions), so "Metformina 850 mg" renewed
//! three times is one line, with how many prescriptions and since when.
//!
//! A drug whose latest prescription is active but older than a later prescription for the same
//! diagnosis that did not include it (captopril, then losartan for the same hypertension) is
//! not shown as current: it goes to "to reconcile", where the prescriber confirms or stops it.
//! That is a question, never a silent change.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::dates;

/// Completed or stopped drugs authored this recently are listed as recent.
pub const RECENT_DAYS: i64 = 90;

/// Where a line stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineStatus {
    /// Active and not superseded.
    Current,
    /// Active, but a later prescription for the same diagnosis did not include it.
    ToReconcile,
    /// `on-hold`: suspended.
    Suspended,
    /// Stopped, completed or cancelled.
    Ended,
}

impl LineStatus {
    pub fn key(self) -> &'static str {
        match self {
            LineStatus::Current => "meds.status.active",
            LineStatus::ToReconcile => "meds.status.review",
            LineStatus::Suspended => "meds.status.on_hold",
            LineStatus::Ended => "meds.status.ended",
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            LineStatus::Current => "ok",
            LineStatus::ToReconcile => "warn",
            LineStatus::Suspended => "warn",
            LineStatus::Ended => "muted",
        }
    }
}

/// Message key of how an ended drug ended (its latest request's FHIR status).
pub fn ended_key(fhir_status: &str) -> &'static str {
    match fhir_status {
        "stopped" => "meds.ended.stopped",
        "cancelled" => "meds.ended.cancelled",
        _ => "meds.ended.completed",
    }
}

/// One drug.
#[derive(Clone, Debug)]
pub struct MedLine {
    /// The drug's identity: its ingredient ids joined (`metformina`), or its folded text.
    pub drug: String,
    /// As the latest prescription names it.
    pub name: String,
    /// The latest dosage text.
    pub dosage: String,
    /// `authoredOn` of the latest and of the first prescription.
    pub latest: String,
    pub first: String,
    /// How many prescriptions of it the record holds.
    pub prescriptions: usize,
    pub status: LineStatus,
    /// FHIR status of the latest prescription.
    pub fhir_status: String,
    /// Why it was stopped or suspended (`statusReason`), when recorded.
    pub status_reason: String,
    /// The diagnoses it was prescribed for (CIE-10 codes).
    pub reasons: Vec<String>,
    /// What superseded it (name and date), for a line to reconcile.
    pub superseded_by: Option<(String, String)>,
    /// Ids of its requests in force (`active` or `on-hold`): what a stop or a suspension
    /// changes.
    pub open_request_ids: Vec<String>,
}

/// The list, by where each drug stands.
#[derive(Clone, Debug, Default)]
pub struct MedList {
    pub current: Vec<MedLine>,
    pub to_reconcile: Vec<MedLine>,
    pub suspended: Vec<MedLine>,
    /// Ended within [`RECENT_DAYS`].
    pub recent: Vec<MedLine>,
    /// Ended earlier.
    pub history: Vec<MedLine>,
}

impl MedList {
    /// Lines the prescriber can act on (stop, suspend, resume), current first.
    pub fn open(&self) -> impl Iterator<Item = &MedLine> {
        self.current
            .iter()
            .chain(&self.to_reconcile)
            .chain(&self.suspended)
    }

    /// Ended lines, recent first.
    pub fn ended(&self) -> impl Iterator<Item = &MedLine> {
        self.recent.iter().chain(&self.history)
    }

    pub fn find(&self, drug: &str) -> Option<&MedLine> {
        self.open().chain(self.ended()).find(|l| l.drug == drug)
    }
}

/// The identity of the drug a request is for.
pub fn drug_of(request: &Value) -> String {
    let concept = &request["medicationCodeableConcept"];
    let key = concept["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["system"] == mexico::systems::CNIS)
        .and_then(|c| c["code"].as_str());
    let mut ids: Vec<&'static str> = match key.and_then(clinical::formulary::medicine) {
        Some(medicine) => medicine.ingredient_ids.to_vec(),
        None => {
            let mut texts = vec![crate::chart::concept_text(concept)];
            for coding in concept["coding"].as_array().into_iter().flatten() {
                if let Some(display) = coding["display"].as_str() {
                    texts.push(display.to_string());
                }
            }
            texts
                .iter()
                .flat_map(|t| clinical::classes::ingredients_in_text(t))
                .map(|i| i.id)
                .collect()
        }
    };
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        crate::chart::concept_text(concept)
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        ids.join("+")
    }
}

fn reasons_of(request: &Value) -> Vec<String> {
    request["reasonCode"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
        .filter(|c| c["system"] == mexico::systems::CIE10)
        .filter_map(|c| c["code"].as_str().map(str::to_string))
        .collect()
}

/// Builds the list from any resources of the record (other types are ignored). `today` is a
/// day number.
pub fn reconcile(resources: &[Value], today: i64) -> MedList {
    let mut groups: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for resource in resources {
        if resource["resourceType"] != "MedicationRequest" {
            continue;
        }
        if matches!(
            resource["status"].as_str(),
            Some("entered-in-error" | "draft")
        ) {
            continue;
        }
        groups.entry(drug_of(resource)).or_default().push(resource);
    }
    let mut lines: Vec<MedLine> = Vec::new();
    for (drug, mut requests) in groups {
        requests.sort_by(|a, b| {
            a["authoredOn"]
                .as_str()
                .unwrap_or_default()
                .cmp(b["authoredOn"].as_str().unwrap_or_default())
        });
        let Some(latest) = requests.last() else {
            continue;
        };
        let fhir_status = latest["status"].as_str().unwrap_or("active").to_string();
        let open: Vec<String> = requests
            .iter()
            .filter(|r| matches!(r["status"].as_str(), Some("active" | "on-hold") | None))
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect();
        // Any request in force makes the drug current or suspended, whatever the latest says
        // (an older active request is still in force until stopped).
        let any_active = requests
            .iter()
            .any(|r| matches!(r["status"].as_str(), Some("active") | None));
        let any_on_hold = requests.iter().any(|r| r["status"] == "on-hold");
        let status = if any_active {
            LineStatus::Current
        } else if any_on_hold {
            LineStatus::Suspended
        } else {
            LineStatus::Ended
        };
        let mut reasons: Vec<String> = requests.iter().flat_map(|r| reasons_of(r)).collect();
        reasons.sort();
        reasons.dedup();
        lines.push(MedLine {
            drug,
            name: crate::chart::concept_text(&latest["medicationCodeableConcept"]),
            dosage: latest["dosageInstruction"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            latest: latest["authoredOn"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            first: requests
                .first()
                .and_then(|r| r["authoredOn"].as_str())
                .unwrap_or_default()
                .to_string(),
            prescriptions: requests.len(),
            status,
            fhir_status,
            status_reason: latest["statusReason"]["text"]
                .as_str()
                .or_else(|| latest["statusReason"]["coding"][0]["display"].as_str())
                .unwrap_or_default()
                .to_string(),
            reasons,
            superseded_by: None,
            open_request_ids: open,
        });
    }
    // Supersession: a later prescription for one of this drug's diagnoses, that did not
    // include it, leaves it to reconcile.
    let snapshot: Vec<(String, String, Vec<String>, String)> = lines
        .iter()
        .map(|l| {
            (
                l.drug.clone(),
                l.latest.clone(),
                l.reasons.clone(),
                l.name.clone(),
            )
        })
        .collect();
    for line in &mut lines {
        if line.status != LineStatus::Current || line.reasons.is_empty() {
            continue;
        }
        let Some(own_day) = dates::parse_day(&line.latest) else {
            continue;
        };
        let later = snapshot
            .iter()
            .filter(|(drug, _, _, _)| *drug != line.drug)
            .filter(|(_, latest, reasons, _)| {
                dates::parse_day(latest).is_some_and(|d| d > own_day)
                    && reasons.iter().any(|r| line.reasons.contains(r))
            })
            .max_by(|a, b| a.1.cmp(&b.1));
        if let Some((_, latest, _, name)) = later {
            line.status = LineStatus::ToReconcile;
            line.superseded_by = Some((name.clone(), latest.clone()));
        }
    }
    let mut list = MedList::default();
    for line in lines {
        match line.status {
            LineStatus::Current => list.current.push(line),
            LineStatus::ToReconcile => list.to_reconcile.push(line),
            LineStatus::Suspended => list.suspended.push(line),
            LineStatus::Ended => {
                let recent =
                    dates::parse_day(&line.latest).is_some_and(|d| today - d <= RECENT_DAYS);
                if recent {
                    list.recent.push(line);
                } else {
                    list.history.push(line);
                }
            }
        }
    }
    let newest_first = |a: &MedLine, b: &MedLine| b.latest.cmp(&a.latest);
    list.current.sort_by(newest_first);
    list.to_reconcile.sort_by(newest_first);
    list.suspended.sort_by(newest_first);
    list.recent.sort_by(newest_first);
    list.history.sort_by(newest_first);
    list
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(key: &str, text: &str, date: &str, status: &str, reason: &str) -> Value {
        json!({
            "resourceType": "MedicationRequest", "id": format!("{text}-{date}"), "status": status,
            "medicationCodeableConcept": {"coding": [{"system": mexico::systems::CNIS, "code": key}], "text": text},
            "authoredOn": date,
            "reasonCode": [{"coding": [{"system": mexico::systems::CIE10, "code": reason}]}]
        })
    }

    fn today() -> i64 {
        dates::parse_day("2026-06-01").unwrap()
    }

    #[test]
    fn a_drug_renewed_three_times_is_one_line() {
        let list = reconcile(
            &[
                request(
                    "010.000.5165.00",
                    "Metformina 850 mg",
                    "2026-02-01",
                    "active",
                    "E11.9",
                ),
                request(
                    "010.000.5165.00",
                    "Metformina 850 mg",
                    "2026-03-01",
                    "active",
                    "E11.9",
                ),
                request(
                    "010.000.5165.00",
                    "Metformina 850 mg",
                    "2026-04-01",
                    "active",
                    "E11.9",
                ),
                // Old free text names the same drug.
                json!({"resourceType": "MedicationRequest", "status": "completed",
                       "medicationCodeableConcept": {"text": "metformina tabletas"},
                       "authoredOn": "2025-01-01"}),
            ],
            today(),
        );
        assert_eq!(list.current.len(), 1);
        let line = &list.current[0];
        assert_eq!(line.drug, "metformina");
        assert_eq!(line.prescriptions, 4);
        assert_eq!(line.first, "2025-01-01");
        assert_eq!(line.latest, "2026-04-01");
        assert_eq!(line.open_request_ids.len(), 3);
    }

    #[test]
    fn a_drug_replaced_for_the_same_diagnosis_is_to_reconcile_not_current() {
        let list = reconcile(
            &[
                request(
                    "010.000.0574.00",
                    "Captopril 25 mg",
                    "2025-08-01",
                    "active",
                    "I10",
                ),
                request(
                    "010.000.2520.00",
                    "Losartán 50 mg",
                    "2026-04-20",
                    "active",
                    "I10",
                ),
                request(
                    "010.000.5165.00",
                    "Metformina 850 mg",
                    "2025-08-01",
                    "active",
                    "E11.9",
                ),
            ],
            today(),
        );
        let current: Vec<&str> = list.current.iter().map(|l| l.drug.as_str()).collect();
        assert_eq!(current, vec!["losartan", "metformina"]);
        assert_eq!(list.to_reconcile.len(), 1);
        assert_eq!(list.to_reconcile[0].drug, "captopril");
        assert_eq!(
            list.to_reconcile[0].superseded_by.as_ref().unwrap().0,
            "Losartán 50 mg"
        );
    }

    #[test]
    fn suspended_stopped_and_old_drugs_are_apart() {
        let list = reconcile(
            &[
                request(
                    "010.000.0104.00",
                    "Paracetamol",
                    "2026-05-20",
                    "on-hold",
                    "R51",
                ),
                request(
                    "010.000.2128.00",
                    "Amoxicilina",
                    "2026-05-10",
                    "completed",
                    "J02.9",
                ),
                request(
                    "010.000.5186.00",
                    "Omeprazol",
                    "2024-01-10",
                    "stopped",
                    "K21.9",
                ),
            ],
            today(),
        );
        assert_eq!(list.suspended[0].drug, "paracetamol");
        assert_eq!(list.recent[0].drug, "amoxicilina");
        assert_eq!(list.history[0].drug, "omeprazol");
        assert!(list.current.is_empty());
    }
}
