//! The facts about a target that access decisions need: its patient, its security labels and
//! its categories, read from the resource (or, on the hot read path, from its stored text).

use auth::label::Coding;
use fhir::Json;
use store::StoredResource;

/// What access control needs to know about one stored resource.
#[derive(Clone, Debug, Default)]
pub(crate) struct TargetFacts {
    /// The patient whose compartment holds the target (the first, when several do).
    pub patient_id: Option<String>,
    /// Other patients whose compartments hold it too (a resource about two people): each is
    /// decided as well, so nobody reaches one person's data through another's record.
    pub other_patients: Vec<String>,
    pub labels: Vec<Coding>,
    pub categories: Vec<Coding>,
}

impl TargetFacts {
    pub(crate) fn of_json(resource: &Json) -> TargetFacts {
        let codings = |list: Option<&Json>| -> Vec<Coding> {
            list.and_then(Json::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|c| {
                            let code = c.get("code").and_then(Json::as_str)?;
                            let system = c.get("system").and_then(Json::as_str).unwrap_or("");
                            Some(Coding::new(system, code))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut labels = codings(resource.get("meta").and_then(|m| m.get("security")));
        // A stored Bundle is as confidential as the most confidential record it carries.
        if resource.get("resourceType").and_then(Json::as_str) == Some("Bundle") {
            for entry in resource
                .get("entry")
                .and_then(Json::as_array)
                .unwrap_or_default()
            {
                if let Some(inner) = entry.get("resource") {
                    labels.extend(TargetFacts::of_json(inner).labels);
                }
            }
        }
        let categories = match resource.get("category") {
            Some(list) if list.as_array().is_some() => list
                .as_array()
                .unwrap_or_default()
                .iter()
                .flat_map(|concept| codings(concept.get("coding")))
                .collect(),
            Some(concept) => codings(concept.get("coding")),
            None => Vec::new(),
        };
        let mut patients = search::patient_compartment(resource).into_iter();
        let patient_id = patients.next();
        TargetFacts {
            patient_id,
            other_patients: patients.collect(),
            labels,
            categories,
        }
    }

    pub(crate) fn of_stored(stored: &StoredResource) -> TargetFacts {
        if stored.deleted || stored.body.is_empty() {
            return TargetFacts::default();
        }
        match fhir::json::parse_str(&stored.body) {
            Ok(json) => TargetFacts::of_json(&json),
            Err(_) => TargetFacts::default(),
        }
    }

    /// The facts a read decision needs (patient and labels; categories only matter for
    /// writes), without parsing the body when its text settles them. Reads are the hot path:
    /// parsing a whole Observation to find its subject cost more than the read itself.
    ///
    /// Stored bodies are our own compact serialisation, so every literal reference to a
    /// patient appears as `"reference":"Patient/{id}"`. The text settles the facts when it
    /// has no `"security"` key (no labels) and every occurrence of `Patient/` is such a
    /// reference, all to one patient: that patient is then the compartment, or a stricter
    /// stand-in for it (a patient referenced outside the compartment parameters is treated as
    /// the owner, which can only refuse more). Anything else takes the full parse.
    pub(crate) fn for_read(stored: &StoredResource) -> TargetFacts {
        match TargetFacts::from_text(stored) {
            Some(facts) => facts,
            None => TargetFacts::of_stored(stored),
        }
    }

    fn from_text(stored: &StoredResource) -> Option<TargetFacts> {
        const REFERENCE: &str = "\"reference\":\"Patient/";
        let body = stored.body.as_str();
        if stored.deleted || body.is_empty() || body.contains("\"security\"") {
            return None;
        }
        // A Bundle's patients are its entries' (a Patient entry names itself by its id, not
        // by a reference): always the full parse.
        if stored.resource_type == "Bundle" {
            return None;
        }
        if stored.resource_type == "Patient" {
            // A Patient that names other patients (links) is left to the full parse.
            return (!body.contains("Patient/")).then(|| TargetFacts {
                patient_id: Some(stored.id.clone()),
                ..TargetFacts::default()
            });
        }
        // One pass over the mentions of `Patient/`: each must be a literal reference.
        let mut patient: Option<&str> = None;
        for (at, _) in body.match_indices("Patient/") {
            let is_reference = body
                .get(..at + "Patient/".len())
                .is_some_and(|head| head.ends_with(REFERENCE));
            if !is_reference {
                return None;
            }
            let rest = body.get(at + "Patient/".len()..)?;
            let id = rest.split(['"', '/']).next()?;
            if id.is_empty() {
                return None;
            }
            match patient {
                None => patient = Some(id),
                Some(seen) if seen == id => {}
                Some(_) => return None,
            }
        }
        Some(TargetFacts {
            patient_id: patient.map(str::to_string),
            ..TargetFacts::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(resource_type: &str, id: &str, body: &str) -> StoredResource {
        StoredResource {
            resource_type: resource_type.into(),
            id: id.into(),
            version_id: 1,
            last_updated: String::new(),
            last_updated_ms: 0,
            deleted: false,
            change_seq: 1,
            body: body.into(),
        }
    }

    /// The text shortcut agrees with the full parse wherever it answers, and declines
    /// (falls back) where the text cannot settle the facts.
    #[test]
    fn read_facts_from_text_match_the_parse_or_decline() {
        let cases = [
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}"#,
                Some(Some("p1")),
            ),
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1/_history/2"}}"#,
                Some(Some("p1")),
            ),
            (
                "Practitioner",
                r#"{"resourceType":"Practitioner","id":"d1"}"#,
                Some(None),
            ),
            (
                "Patient",
                r#"{"resourceType":"Patient","id":"p9"}"#,
                Some(Some("p9")),
            ),
            // Labels, two patients, absolute URLs and free text naming a patient: full parse.
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","meta":{"security":[{"code":"PSY"}]},"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"}}"#,
                None,
            ),
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"},"focus":[{"reference":"Patient/p2"}]}"#,
                None,
            ),
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"http://a/fhir/Patient/p1"}}"#,
                None,
            ),
            (
                "Observation",
                r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"ver Patient/p2"},"subject":{"reference":"Patient/p1"}}"#,
                None,
            ),
            (
                "Patient",
                r#"{"resourceType":"Patient","id":"p9","link":[{"other":{"reference":"Patient/p8"},"type":"seealso"}]}"#,
                None,
            ),
        ];
        for (rtype, body, expected) in cases {
            let resource = stored(rtype, "x", body);
            let resource = StoredResource {
                id: fhir::json::parse_str(body)
                    .unwrap()
                    .get("id")
                    .and_then(Json::as_str)
                    .unwrap()
                    .into(),
                ..resource
            };
            let fast = TargetFacts::from_text(&resource);
            assert_eq!(
                fast.as_ref().map(|f| f.patient_id.as_deref()),
                expected,
                "{body}"
            );
            if let Some(fast) = fast {
                let full = TargetFacts::of_stored(&resource);
                assert_eq!(fast.patient_id, full.patient_id, "{body}");
                assert_eq!(full.labels, Vec::new());
            }
        }
    }
}
