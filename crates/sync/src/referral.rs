//! Referrals that arrive (issue 17): a `Task` addressed to a facility by its CLUES
//! (`Task.owner.identifier`) routes the patient's record to that facility's node.
//!
//! Why here and not in the feed's SQL: a clinic's feed is "reference data plus the patients it
//! follows", and following is already a sync fact (`SyncTx::follow`) that every engine keeps.
//! So the hub only has to *add* the patient to the addressed clinic's set when it indexes the
//! Task (`apply::index_feed`), and the clinic, on receiving a Task addressed to it, fetches the
//! patient's record as it was before (`/sync/fetch`: every version of the compartment, audited
//! on the hub as that clinic). No store changes, the same on SQLite and PostgreSQL.
//!
//! Who may address a Task is the write guard's business, as for any other write: the hub
//! decides the sending clinic's push as its staff (they need a care relationship with the
//! patient). Addressing a facility only sends the record there; reading it at the receiving
//! facility still needs its own care relationship, which the referral (`ServiceRequest.performer`
//! = that facility) gives (`ehr/src/guard/care.rs`).

use fhir::Json;

/// The CLUES a Task is addressed to (`owner.identifier` in the CLUES system), if any.
pub fn addressed_clues(resource: &Json) -> Option<&str> {
    if resource.get("resourceType").and_then(Json::as_str) != Some("Task") {
        return None;
    }
    let identifier = resource.get("owner")?.get("identifier")?;
    if identifier.get("system").and_then(Json::as_str) != Some(mexico::systems::CLUES) {
        return None;
    }
    identifier
        .get("value")
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The patient a Task is for (`Task.for` = `Patient/{id}`).
pub fn task_patient(resource: &Json) -> Option<&str> {
    resource
        .get("for")?
        .get("reference")?
        .as_str()?
        .strip_prefix("Patient/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// The patients of Tasks addressed to `clues` among received bodies (raw JSON), without
/// repeats: the records this clinic must fetch once.
pub fn patients_addressed_to<'a>(
    clues: &str,
    bodies: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for body in bodies {
        let Ok(json) = fhir::json::parse_str(body) else {
            continue;
        };
        if addressed_clues(&json) != Some(clues) {
            continue;
        }
        if let Some(patient) = task_patient(&json)
            && !out.iter().any(|p| p == patient)
        {
            out.push(patient.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(system: &str, clues: &str, patient: &str) -> String {
        serde_json::json!({
            "resourceType": "Task",
            "status": "requested",
            "intent": "order",
            "for": {"reference": patient},
            "owner": {"reference": "Organization/b", "identifier": {"system": system, "value": clues}}
        })
        .to_string()
    }

    #[test]
    fn a_task_owned_by_a_clues_names_its_patient_for_that_clinic_only() {
        let clues = mexico::systems::CLUES;
        let bodies = [
            task(clues, "JCSSA000001", "Patient/p1"),
            task(clues, "JCSSA000001", "Patient/p1"),
            task(clues, "DFSSA000002", "Patient/p2"),
            task("urn:other", "JCSSA000001", "Patient/p3"),
            task(clues, "JCSSA000001", "Group/g1"),
            r#"{"resourceType":"ServiceRequest","owner":{"identifier":{"value":"JCSSA000001"}}}"#
                .to_string(),
            "not json".to_string(),
        ];
        let found = patients_addressed_to("JCSSA000001", bodies.iter().map(String::as_str));
        assert_eq!(found, vec!["p1".to_string()]);
        let other = patients_addressed_to("DFSSA000002", bodies.iter().map(String::as_str));
        assert_eq!(other, vec!["p2".to_string()]);
    }
}
