//! `NamingSystem`: the identifier and code systems the record uses ([`mexico::naming`]),
//! published read-only so an integrator can find, say, how to reference a facility by CLUES.
//!
//! They are defined by the software, not stored: the same on every node, never synced, and
//! never written through the API (the write guard refuses, `auth::policy`).

use fhir::Json;
use mexico::naming::NamingSystem;
use store::StoredResource;

use crate::read::Page;
use crate::{Ehr, Error, Requester};
use auth::scope::Interaction;

/// When this catalogue last changed (its resources' `meta.lastUpdated` and `date`).
const PUBLISHED_MS: i64 = 1_796_601_600_000; // 2026-12-07T00:00:00Z

fn resource(system: &NamingSystem) -> StoredResource {
    let mut unique = vec![Json::object([
        ("type", Json::str("uri")),
        ("value", Json::str(system.uri)),
        ("preferred", Json::Bool(true)),
    ])];
    if let Some(oid) = system.oid {
        unique.push(Json::object([
            ("type", Json::str("oid")),
            ("value", Json::str(oid)),
            ("preferred", Json::Bool(false)),
        ]));
    }
    let published = crate::format_instant(PUBLISHED_MS);
    let body = Json::object([
        ("resourceType", Json::str("NamingSystem")),
        ("id", Json::str(system.id)),
        (
            "meta",
            Json::object([
                ("versionId", Json::str("1")),
                ("lastUpdated", Json::str(published.clone())),
            ]),
        ),
        ("name", Json::str(system.name)),
        ("status", Json::str("active")),
        ("kind", Json::str(system.kind.code())),
        (
            "date",
            Json::str(published.get(..10).unwrap_or("2026-12-07")),
        ),
        ("publisher", Json::str("Expediente")),
        ("responsible", Json::str(system.responsible)),
        (
            "description",
            Json::str(format!(
                "{} / {}",
                system.description_es, system.description_en
            )),
        ),
        (
            "jurisdiction",
            Json::Array(vec![Json::object([(
                "coding",
                Json::Array(vec![Json::object([
                    ("system", Json::str("urn:iso:std:iso:3166")),
                    ("code", Json::str("MX")),
                ])]),
            )])]),
        ),
        ("uniqueId", Json::Array(unique)),
    ])
    .to_json_string();
    StoredResource {
        resource_type: "NamingSystem".into(),
        id: system.id.into(),
        version_id: 1,
        last_updated: published,
        last_updated_ms: PUBLISHED_MS,
        deleted: false,
        change_seq: 0,
        body,
    }
}

fn bad(es: String, en: String) -> Error {
    Error::bad_request(fhir::IssueCode::NotSupported, es, en)
}

impl Ehr {
    /// # `GET /NamingSystem/{id}`
    pub(crate) fn read_naming_system(
        &self,
        who: &Requester,
        id: &str,
    ) -> Result<StoredResource, Error> {
        self.check_type_level(who, Interaction::Read, "NamingSystem")?;
        mexico::naming::ALL
            .iter()
            .find(|system| system.id == id)
            .map(resource)
            .ok_or_else(|| Error::not_found("NamingSystem", id))
    }

    /// # `GET /NamingSystem?value=…&kind=…&name=…&_id=…`
    ///
    /// `value` matches any of a system's unique ids exactly (its URI or its OID, with or
    /// without `urn:oid:`); `name` a case-insensitive prefix of its name.
    pub(crate) fn search_naming_systems(
        &self,
        who: &Requester,
        params: &[(String, String)],
    ) -> Result<Page, Error> {
        self.check_type_level(who, Interaction::Search, "NamingSystem")?;
        let mut found: Vec<&NamingSystem> = mexico::naming::ALL.iter().collect();
        for (key, value) in params {
            let wanted: Vec<&str> = value.split(',').collect();
            match key.as_str() {
                "value" => found.retain(|system| {
                    wanted.iter().any(|w| {
                        let bare = w.strip_prefix("urn:oid:").unwrap_or(w);
                        *w == system.uri || system.oid == Some(bare)
                    })
                }),
                "kind" => found.retain(|system| wanted.contains(&system.kind.code())),
                "name" => found.retain(|system| {
                    wanted
                        .iter()
                        .any(|w| system.name.to_lowercase().starts_with(&w.to_lowercase()))
                }),
                "_id" => found.retain(|system| wanted.contains(&system.id)),
                // The whole catalogue is one short page, with its exact total.
                "_count" | "_total" | "_format" | "_pretty" | "_cursor" => {}
                other => {
                    return Err(bad(
                        format!("Parámetro de búsqueda no admitido en NamingSystem: {other}"),
                        format!("Unsupported NamingSystem search parameter: {other}"),
                    ));
                }
            }
        }
        Ok(Page {
            total: Some(found.len() as u64),
            matches: found.into_iter().map(resource).collect(),
            ..Page::default()
        })
    }
}
