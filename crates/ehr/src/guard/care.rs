//! The care relationship between a facility and a patient: the one place that says what
//! establishes it.
//!
//! A facility (named by its CLUES) cares for a patient when the record shows any of:
//! 1. **registration**: the patient's `managingOrganization` is the facility;
//! 2. **an encounter** of the patient whose `serviceProvider` or `location` is the facility;
//! 3. **an appointment** of the patient at one of the facility's locations;
//! 4. **a referral** to the facility: a `ServiceRequest` about the patient (active or
//!    completed) that the facility is to perform;
//! 5. **an inicio de atención** there: an active `EpisodeOfCare` of the patient managed by the
//!    facility, written only by the `$iniciar-atencion` operation.
//!
//! "Is the facility" means a literal reference to one of the facility's Organizations or
//! Locations, *or* a logical reference by CLUES identifier (`{"identifier": {"system": CLUES,
//! "value": …}}`), as other systems send them. Nothing else is a relationship: not a search
//! hit, not a break-glass grant, not a consent.
//!
//! Which writes may create these facts is the write guard's business (`guard::write`): an
//! ordinary write never gives the writer's own facility a relationship it did not have, and
//! moving a registration is its own audited event.
//!
//! Lookups are cached: a found relationship for minutes, a missing one until a write of a type
//! that could create one bumps the generation. Decisions made inside a write job read the job's
//! own transaction and are never cached (the job may still roll back).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use auth::consent::Consent;
use auth::policy::CareRelationship;
use fhir::Json;
use mexico::systems;

use crate::lookup::{Lookup, internal_query};
use crate::{Ehr, Error};

/// How long a found care relationship is trusted without looking again.
const RELATIONSHIP_TTL_MS: i64 = 10 * 60 * 1000;

/// Entries kept per cache before it is cleared (bounded memory on a long-running node).
const CACHE_ENTRIES_MAX: usize = 100_000;

/// Organizations and Locations of one facility found at most (a CLUES names one facility; a
/// hospital may have many locations).
const FACILITY_IDS_MAX: usize = 200;

/// The resource types whose writes can create or end a care fact, or change what a facility
/// is: a write of one of them invalidates cached negative answers.
pub(crate) const CARE_FACT_TYPES: [&str; 8] = [
    "Patient",
    "Encounter",
    "Appointment",
    "ServiceRequest",
    "EpisodeOfCare",
    "Consent",
    "Organization",
    "Location",
];

/// A facility's Organization ids and Location ids.
#[derive(Debug, Default)]
pub(crate) struct FacilityIds {
    pub clues: String,
    pub organizations: Vec<String>,
    pub locations: Vec<String>,
}

impl FacilityIds {
    /// Whether a `Reference` (as JSON) names this facility: literally (`Organization/{id}`,
    /// `Location/{id}`) or logically by its CLUES.
    pub(crate) fn is_referenced_by(&self, reference: &Json) -> bool {
        if let Some(text) = reference.get("reference").and_then(Json::as_str) {
            let literal = text
                .strip_prefix("Organization/")
                .map(|id| self.organizations.iter().any(|o| o == id))
                .or_else(|| {
                    text.strip_prefix("Location/")
                        .map(|id| self.locations.iter().any(|l| l == id))
                });
            if literal == Some(true) {
                return true;
            }
        }
        reference
            .get("identifier")
            .is_some_and(|identifier| clues_of_identifier(identifier) == Some(&self.clues))
    }

    fn literal_list(&self, prefix: &str, ids: &[String]) -> String {
        ids.iter()
            .map(|id| format!("{prefix}/{id}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The CLUES an `Identifier` carries, if it is a CLUES identifier.
pub(crate) fn clues_of_identifier(identifier: &Json) -> Option<&String> {
    match identifier.get("system").and_then(Json::as_str) {
        Some(systems::CLUES) => match identifier.get("value") {
            Some(Json::String(value)) => Some(value),
            _ => None,
        },
        _ => None,
    }
}

#[derive(Default)]
pub(crate) struct Caches {
    /// CLUES → patient → (relationship, generation, when): nested so that a lookup borrows
    /// its keys instead of allocating them (this runs on every read).
    relationships: HashMap<String, HashMap<String, (CareRelationship, u64, i64)>>,
    /// patient → consents, and the generation.
    consents: HashMap<String, (Arc<Vec<Consent>>, u64)>,
    /// CLUES → facility, and the generation.
    facilities: HashMap<String, (Arc<FacilityIds>, u64)>,
}

impl Ehr {
    /// Whether the facility `clues` cares for the patient (see the module docs).
    pub(crate) fn care_relationship(
        &self,
        clues: Option<&str>,
        patient_id: &str,
        lookup: &mut dyn Lookup,
    ) -> Result<CareRelationship, Error> {
        let Some(clues) = clues else {
            return Ok(CareRelationship::NONE);
        };
        let now = self.now_ms();
        let generation = self.access().generation.load(Ordering::Relaxed);
        if let Some((found, at, when)) = self
            .access()
            .caches()
            .relationships
            .get(clues)
            .and_then(|patients| patients.get(patient_id))
        {
            let fresh_positive = found.exists() && now - when < RELATIONSHIP_TTL_MS;
            // A cached negative answer may be stale inside a write job that has just created
            // the fact; only committed lookups trust it.
            if fresh_positive || (*at == generation && lookup.committed()) {
                return Ok(*found);
            }
        }
        let facility = self.facility(clues, lookup)?;
        let found = self.compute_relationship(&facility, patient_id, lookup)?;
        if lookup.committed() {
            let mut caches = self.access().caches();
            if caches.relationships.len() > CACHE_ENTRIES_MAX {
                caches.relationships.clear();
            }
            caches
                .relationships
                .entry(clues.to_string())
                .or_default()
                .insert(patient_id.to_string(), (found, generation, now));
        }
        Ok(found)
    }

    /// The facts of the module docs, in order, stopping at the first that holds.
    fn compute_relationship(
        &self,
        facility: &FacilityIds,
        patient_id: &str,
        lookup: &mut dyn Lookup,
    ) -> Result<CareRelationship, Error> {
        let mut found = CareRelationship::NONE;
        if let Some(patient) = lookup.read("Patient", patient_id)?
            && !patient.deleted
            && let Ok(json) = fhir::json::parse_str(&patient.body)
        {
            found.registered_here = json
                .get("managingOrganization")
                .is_some_and(|reference| facility.is_referenced_by(reference));
        }
        if found.exists() {
            return Ok(found);
        }
        let patient = format!("Patient/{patient_id}");
        let by_clues = format!("{}|{}", systems::CLUES, facility.clues);
        let orgs = facility.literal_list("Organization", &facility.organizations);
        let places = facility.literal_list("Location", &facility.locations);
        // Each probe: (type, [(param, value)…], the fact it shows). Literal references first:
        // they are what this node writes, so the common case stops at the first probe that
        // applies; logical references by CLUES (other systems' data) after.
        type Probe<'a> = (&'a str, Vec<(&'a str, String)>, fn(&mut CareRelationship));
        let mut probes: Vec<Probe> = Vec::new();
        let encounter: fn(&mut CareRelationship) = |f| f.encounter_here = true;
        let appointment: fn(&mut CareRelationship) = |f| f.appointment_here = true;
        let referral: fn(&mut CareRelationship) = |f| f.referred_here = true;
        let started: fn(&mut CareRelationship) = |f| f.care_started_here = true;
        let live_referral = || ("status", "active,completed,on-hold".to_string());
        let active = || ("status", "active".to_string());
        if !orgs.is_empty() {
            probes.push((
                "Encounter",
                vec![("service-provider", orgs.clone())],
                encounter,
            ));
            probes.push((
                "ServiceRequest",
                vec![("performer", orgs.clone()), live_referral()],
                referral,
            ));
            probes.push((
                "EpisodeOfCare",
                vec![("organization", orgs), active()],
                started,
            ));
        }
        if !places.is_empty() {
            probes.push(("Encounter", vec![("location", places.clone())], encounter));
            probes.push(("Appointment", vec![("location", places)], appointment));
        }
        probes.extend([
            (
                "Encounter",
                vec![("service-provider:identifier", by_clues.clone())],
                encounter,
            ),
            (
                "Encounter",
                vec![("location:identifier", by_clues.clone())],
                encounter,
            ),
            (
                "Appointment",
                vec![("location:identifier", by_clues.clone())],
                appointment,
            ),
            (
                "ServiceRequest",
                vec![("performer:identifier", by_clues.clone()), live_referral()],
                referral,
            ),
            (
                "EpisodeOfCare",
                vec![("organization:identifier", by_clues), active()],
                started,
            ),
        ]);
        for (resource_type, params, mark) in probes {
            let mut params: Vec<(String, String)> = params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            params.push(("patient".into(), patient.clone()));
            let query = internal_query(resource_type, &params, self.now_ms())?;
            if !lookup.search_ids(&query, 1)?.is_empty() {
                mark(&mut found);
                return Ok(found);
            }
        }
        Ok(found)
    }

    /// The facility with this CLUES: its Organizations (by CLUES identifier) and Locations
    /// (by CLUES identifier, or managed by one of those Organizations).
    pub(crate) fn facility(
        &self,
        clues: &str,
        lookup: &mut dyn Lookup,
    ) -> Result<Arc<FacilityIds>, Error> {
        let generation = self.access().generation.load(Ordering::Relaxed);
        if lookup.committed()
            && let Some((ids, at)) = self.access().caches().facilities.get(clues)
            && *at == generation
        {
            return Ok(ids.clone());
        }
        let by_clues = format!("{}|{clues}", systems::CLUES);
        let organizations = ids_matching(
            self,
            lookup,
            "Organization",
            vec![("identifier".into(), by_clues.clone())],
        )?;
        let mut locations = ids_matching(
            self,
            lookup,
            "Location",
            vec![("identifier".into(), by_clues)],
        )?;
        if !organizations.is_empty() {
            let managed = organizations
                .iter()
                .map(|id| format!("Organization/{id}"))
                .collect::<Vec<_>>()
                .join(",");
            for id in ids_matching(
                self,
                lookup,
                "Location",
                vec![("organization".into(), managed)],
            )? {
                if !locations.contains(&id) {
                    locations.push(id);
                }
            }
        }
        let ids = Arc::new(FacilityIds {
            clues: clues.to_string(),
            organizations,
            locations,
        });
        if lookup.committed() {
            let mut caches = self.access().caches();
            if caches.facilities.len() > CACHE_ENTRIES_MAX {
                caches.facilities.clear();
            }
            caches
                .facilities
                .insert(clues.to_string(), (ids.clone(), generation));
        }
        Ok(ids)
    }

    /// The patient's active privacy consents.
    pub(crate) fn consents_of(
        &self,
        patient_id: &str,
        lookup: &mut dyn Lookup,
    ) -> Result<Arc<Vec<Consent>>, Error> {
        let generation = self.access().generation.load(Ordering::Relaxed);
        if lookup.committed()
            && let Some((consents, at)) = self.access().caches().consents.get(patient_id)
            && *at == generation
        {
            return Ok(consents.clone());
        }
        let params = vec![
            ("patient".to_string(), format!("Patient/{patient_id}")),
            ("status".to_string(), "active".to_string()),
        ];
        let query = internal_query("Consent", &params, self.now_ms())?;
        let mut consents = Vec::new();
        for stored in lookup.search(&query, CONSENTS_PER_PATIENT_MAX)? {
            let Ok(mut consent) = Consent::parse(&stored.body) else {
                continue;
            };
            consent.resolve_organizations(&|org_id| clues_of_organization(self, org_id));
            consents.push(consent);
        }
        let consents = Arc::new(consents);
        if lookup.committed() {
            let mut caches = self.access().caches();
            if caches.consents.len() > CACHE_ENTRIES_MAX {
                caches.consents.clear();
            }
            caches
                .consents
                .insert(patient_id.to_string(), (consents.clone(), generation));
        }
        Ok(consents)
    }
}

/// Consents of one patient read at most (a patient has a handful).
const CONSENTS_PER_PATIENT_MAX: usize = 100;

fn ids_matching(
    ehr: &Ehr,
    lookup: &mut dyn Lookup,
    resource_type: &str,
    params: Vec<(String, String)>,
) -> Result<Vec<String>, Error> {
    let query = internal_query(resource_type, &params, ehr.now_ms())?;
    lookup.search_ids(&query, FACILITY_IDS_MAX)
}

/// The CLUES of an Organization (committed data: consents name organizations of the directory).
fn clues_of_organization(ehr: &Ehr, org_id: &str) -> Option<String> {
    let stored = ehr.store().read("Organization", org_id).ok()??;
    let json = fhir::json::parse_str(&stored.body).ok()?;
    json.get("identifier")?
        .as_array()?
        .iter()
        .find_map(clues_of_identifier)
        .cloned()
}

impl super::AccessState {
    pub(crate) fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
