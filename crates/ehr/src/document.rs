//! `Composition/{id}/$document`: a stored Composition (a signed *nota de evolución*, a
//! referral, a summary) as the document Bundle FHIR defines, the Composition first and then
//! every resource it references that the requester may read.
//!
//! Each resource is read through the read guard as the requester, so the document holds
//! nothing a plain read would not show, and every read is audited. A reference the requester
//! may not follow is left out of the Bundle, the same as a hidden search match: saying that
//! something was withheld would confirm that it exists. References outside this server
//! (absolute URLs, contained `#x`, logical identifiers) stay as they are in the Composition.

use fhir::{Issue, IssueCode, Json};
use store::StoredResource;

use crate::{Ehr, Error, Requester};

/// Most referenced resources one document gathers (a note references tens, not thousands).
const REFERENCES_MAX: usize = 1_000;

/// Relative `Type/id` references of a Composition, in document order, each once: subject,
/// encounter, authors, attesters, custodian, then the sections' entries (nested sections
/// included).
fn references(composition: &Json) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut push = |reference: Option<&Json>| {
        let Some(text) = reference
            .and_then(|r| r.get("reference"))
            .and_then(Json::as_str)
        else {
            return;
        };
        let Some((resource_type, id)) = text.split_once('/') else {
            return;
        };
        let relative = !resource_type.is_empty()
            && resource_type.chars().all(|c| c.is_ascii_alphabetic())
            && !id.is_empty()
            && !id.contains('/');
        let pair = (resource_type.to_string(), id.to_string());
        if relative && !found.contains(&pair) && found.len() < REFERENCES_MAX {
            found.push(pair);
        }
    };
    push(composition.get("subject"));
    push(composition.get("encounter"));
    for author in composition
        .get("author")
        .map(Json::as_list)
        .unwrap_or_default()
    {
        push(Some(author));
    }
    for attester in composition
        .get("attester")
        .map(Json::as_list)
        .unwrap_or_default()
    {
        push(attester.get("party"));
    }
    push(composition.get("custodian"));
    // Depth first, in document order: the stack holds the sections still to visit, the next
    // one last.
    let mut sections: Vec<&Json> = composition
        .get("section")
        .map(Json::as_list)
        .unwrap_or_default()
        .iter()
        .rev()
        .collect();
    while let Some(section) = sections.pop() {
        for entry in section.get("entry").map(Json::as_list).unwrap_or_default() {
            push(Some(entry));
        }
        // A section's own sections come right after its entries, before its next sibling.
        let nested = section
            .get("section")
            .map(Json::as_list)
            .unwrap_or_default();
        sections.extend(nested.iter().rev());
    }
    found
}

impl Ehr {
    /// # `Composition/{id}/$document`, as `who` may read it.
    pub fn composition_document(
        &self,
        who: &Requester,
        id: &str,
        base_url: &str,
    ) -> Result<Json, Error> {
        let composition = self.read(who, "Composition", id)?;
        let body = fhir::json::parse_str(&composition.body)
            .map_err(|e| Error::Internal(format!("stored Composition/{id} does not parse: {e}")))?;
        let base = base_url.trim_end_matches('/');
        let mut entries = vec![document_entry(base, &composition, body.clone())];
        for (resource_type, target) in references(&body) {
            match self.read(who, &resource_type, &target) {
                Ok(stored) => {
                    let resource = fhir::json::parse_str(&stored.body).map_err(|e| {
                        Error::Internal(format!(
                            "stored {resource_type}/{target} does not parse: {e}"
                        ))
                    })?;
                    entries.push(document_entry(base, &stored, resource));
                }
                // Absent, deleted, or hidden from this requester: left out (see the module docs).
                Err(
                    Error::NotFound(_)
                    | Error::Gone(_)
                    | Error::UnknownType(_)
                    | Error::Forbidden(_),
                ) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(self.document_bundle(entries))
    }

    /// # `POST Composition/{id}/$document?persist=true`: the document, stored at `/Bundle`
    /// as `who` (a snapshot: later reads return it as it was, whatever changes after).
    pub fn persist_composition_document(
        &self,
        who: &Requester,
        id: &str,
        base_url: &str,
    ) -> Result<crate::CreateOutcome, Error> {
        let document = self.composition_document(who, id, base_url)?;
        self.create(who, "Bundle", document, None)
    }

    /// # `Bundle/{id}/$document`: a stored document, as it was stored, as `who` may read it.
    pub fn stored_document(&self, who: &Requester, id: &str) -> Result<StoredResource, Error> {
        let stored = self.read(who, "Bundle", id)?;
        let body = fhir::json::parse_str(&stored.body)
            .map_err(|e| Error::Internal(format!("stored Bundle/{id} does not parse: {e}")))?;
        if body.get("type").and_then(Json::as_str) != Some("document") {
            return Err(Error::Unprocessable(vec![Issue::error(
                IssueCode::Invalid,
                format!("Bundle/{id} no es un documento (Bundle.type no es document)"),
                format!("Bundle/{id} is not a document (Bundle.type is not document)"),
            )]));
        }
        Ok(stored)
    }

    /// A document Bundle around `entries` (the Composition first): a new id and identifier,
    /// stamped now.
    pub(crate) fn document_bundle(&self, entries: Vec<Json>) -> Json {
        let bundle_id = crate::meta::new_id();
        Json::object([
            ("resourceType", Json::str("Bundle")),
            ("id", Json::str(bundle_id.clone())),
            (
                "identifier",
                Json::object([
                    ("system", Json::str("urn:ietf:rfc:3986")),
                    ("value", Json::str(format!("urn:uuid:{bundle_id}"))),
                ]),
            ),
            ("type", Json::str("document")),
            (
                "timestamp",
                Json::str(crate::meta::format_instant(self.now_ms())),
            ),
            ("entry", Json::Array(entries)),
        ])
    }
}

/// One entry of a document: the resource with its full URL on this server.
pub(crate) fn document_entry(base: &str, stored: &StoredResource, resource: Json) -> Json {
    Json::object([
        (
            "fullUrl",
            Json::str(format!("{base}/{}/{}", stored.resource_type, stored.id)),
        ),
        ("resource", resource),
    ])
}

#[cfg(test)]
mod tests {
    use super::references;

    #[test]
    fn references_in_document_order_each_once_and_only_relative_ones() {
        let composition = fhir::json::parse_str(
            r##"{"resourceType":"Composition",
               "subject":{"reference":"Patient/p1"},
               "encounter":{"reference":"Encounter/e1"},
               "author":[{"reference":"Practitioner/d1"},{"reference":"https://otro.example/fhir/Practitioner/x"}],
               "attester":[{"party":{"reference":"Practitioner/d1"}}],
               "custodian":{"identifier":{"system":"urn:clues","value":"X"}},
               "section":[
                 {"entry":[{"reference":"Condition/c1"},{"reference":"#contained"}],
                  "section":[{"entry":[{"reference":"Observation/o1"}]}]},
                 {"entry":[{"reference":"MedicationRequest/m1"},{"reference":"Condition/c1"}]}]}"##,
        )
        .expect("test JSON");
        let found: Vec<String> = references(&composition)
            .into_iter()
            .map(|(t, i)| format!("{t}/{i}"))
            .collect();
        assert_eq!(
            found,
            [
                "Patient/p1",
                "Encounter/e1",
                "Practitioner/d1",
                "Condition/c1",
                "Observation/o1",
                "MedicationRequest/m1"
            ]
        );
    }
}
