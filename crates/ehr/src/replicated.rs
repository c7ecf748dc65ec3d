//! The hub's guard on versions a clinic node pushes (issue 12, class 4): a clinic's credential
//! sits on an ordinary clinic PC, so the hub trusts a push no more than it would trust that
//! clinic's own staff.
//!
//! Key decisions:
//! - A clinic is a principal per CLUES (its node id). It may push what the clinic's staff could
//!   write through the API: physicians (patient data, under the care-relationship rule) and
//!   administrators (the directory, catalogs and conformance resources), with the same
//!   `auth::policy::decide` and the same care relationships computed on the hub's store. So a
//!   clinic cannot delete patient data (nobody can through the API), nor write clinical content
//!   of a patient it has no care relationship with.
//! - Both the hub's current content and the pushed content are decided. Changing or deleting a
//!   resource that is in a patient's record needs a care relationship with that patient, for
//!   demographics too: a push is not a person looking someone up at the front desk, it replaces
//!   the national copy.
//! - Organizations and Locations ground the care relationships of every facility, so a clinic
//!   registers only its own (no other facility's CLUES), and changes or deletes one only when
//!   the hub's current version carries its CLUES or, carrying none, came from that clinic.
//! - Every pushed body passes the same R4 structural validation and Mexican profile rules as a
//!   write through the API (`check_resource`). The rules that need the store (CURP uniqueness,
//!   folios, duplicate probes) are the clinic's: two clinics that registered the same person
//!   while apart must both reach the hub, where the duplicate goes to the review list.
//! - Sync writes versions below the clinical write path, which is what invalidates the access
//!   caches; a review therefore starts by dropping the cached relationships and consents, so
//!   versions the hub applied since the last review count.
//!
//! Access is decided by the one write guard every other door uses (`Ehr::decide_write`, on the
//! hub's current content and the pushed content, inside the transaction that would apply the
//! version), as each staff role of the clinic in turn. The care events a clinic made through
//! its own operations arrive as their records: an `EpisodeOfCare` the clinic manages is its
//! *inicio de atención*, a Patient whose registration moves to the clinic its *cambio de
//! unidad*; the hub decides them as those events and audits them so. The review also makes the
//! audit entry of a record sent to the clinic ([`ReplicatedReview::shipped_entry`]), so every
//! entry naming a clinic is built in one place.

use auth::audit::{AuditAction, AuditEntry, Outcome};
use auth::policy::{Basis, CARE_START_TYPE, CareEvent, DenyReason};
use auth::role::{Principal, Role};
use auth::scope::{Interaction, Scopes};
use fhir::{Issue, IssueCode, Json};
use store::{StoredResource, WriteTx};

use crate::guard::care::FacilityIds;
use crate::guard::{Authority, WriteDecision};
use crate::lookup::TxLookup;
use crate::write::check::{check_resource, check_type};
use crate::{Ehr, Error, Requester};

/// The clinic staff roles whose rights, together, bound what a clinic may push. Nurses and
/// receptionists may do less than physicians; patients' own writes (their Consents) are
/// physicians' rights too.
const CLINIC_ROLES: [Role; 2] = [Role::Physician, Role::Admin];

/// Resource types that define facilities: care relationships are computed from them.
const FACILITY_TYPES: [&str; 2] = ["Organization", "Location"];

/// One version a clinic pushed, as the hub sees it inside the write transaction that would
/// apply it.
#[derive(Clone, Copy, Debug)]
pub struct ReplicatedVersion<'a> {
    pub resource_type: &'a str,
    pub id: &'a str,
    /// The hub's current version (a delete marker included), as the transaction sees it.
    pub current: Option<&'a StoredResource>,
    /// The node whose version is current on the hub.
    pub current_origin: Option<&'a str>,
    /// The pushed content; `None` for a delete.
    pub body: Option<&'a Json>,
    /// Problems the sync layer already found (a stamp beyond the allowed clock skew): any error
    /// among them refuses the version.
    pub problems: &'a [Issue],
    /// The body already passed [`ReplicatedReview::check_content`] (done by the caller off the
    /// store's writer thread); otherwise `check` validates it.
    pub content_checked: bool,
}

/// What the hub does with one pushed version.
#[derive(Clone, Debug)]
pub enum ReplicatedVerdict {
    /// Apply it. `audit` records it (success, naming the clinic and the patient), for the
    /// caller to append in the transaction that applies it, alone or folded with the rest of
    /// the batch.
    Accept {
        audit: AuditEntry,
        /// Every patient whose record the version touches (current and new content).
        patients: Vec<String>,
    },
    /// Refuse it.
    Refuse(ReplicatedRefusal),
}

/// Why a version was refused.
#[derive(Clone, Debug)]
pub struct ReplicatedRefusal {
    /// The reasons, in Spanish and English.
    pub issues: Vec<Issue>,
    /// Refused only for want of a care relationship: another version of the same batch (an
    /// Encounter, the patient's registration) may establish it once applied, so the caller may
    /// decide again after committing those.
    pub awaits_care_relationship: bool,
    /// The refusal's audit entry (outcome denied), for the caller to append once the refusal
    /// is final.
    pub audit: AuditEntry,
}

/// A review of versions pushed by one clinic, made with the access facts as of its start.
pub struct ReplicatedReview {
    ehr: Ehr,
    clues: String,
    /// The clinic as each staff role it is bounded by.
    staff: Vec<Requester>,
    /// The clinic as the audit trail names it.
    node: Requester,
}

impl Ehr {
    /// Starts reviewing versions pushed by the clinic `clues` (its node id). Start one per
    /// transaction: the review sees the versions committed before it started.
    pub fn review_replicated(&self, clues: &str) -> ReplicatedReview {
        // Sync's writes bypass the write path that invalidates the access caches: drop them,
        // so relationships established by versions applied since the last review count.
        self.access().note_write("Patient");
        let requester = |user: String, role: Role, scopes: &str| Requester {
            principal: Principal {
                user,
                role,
                clues: Some(clues.to_string()),
                practitioner_id: None,
                patient_id: None,
                scopes: Scopes::parse(scopes).unwrap_or_default(),
                token_id: String::new(),
                break_glass: Vec::new(),
            },
            display_name: format!("Nodo {clues} (sincronización)"),
            facility_name: None,
            source_ip: None,
        };
        let user = format!("nodo:{clues}");
        ReplicatedReview {
            ehr: self.clone(),
            clues: clues.to_string(),
            staff: CLINIC_ROLES
                .iter()
                .map(|role| requester(user.clone(), *role, "user/*.cruds"))
                .collect(),
            node: requester(user, Role::System, "system/*.cruds"),
        }
    }
}

impl ReplicatedReview {
    /// Decides one pushed version: its content (R4 and the Mexican profile), and access on the
    /// hub's current content and on the new content, through the write guard, inside `tx` (the
    /// transaction that would apply it, so what earlier versions of the batch established
    /// counts).
    pub fn check(
        &self,
        version: &ReplicatedVersion<'_>,
        tx: &mut dyn WriteTx,
    ) -> Result<ReplicatedVerdict, Error> {
        let live = version.current.filter(|c| !c.deleted);
        let interaction = match (version.body, live) {
            (None, _) => Interaction::Delete,
            (Some(_), Some(_)) => Interaction::Update,
            (Some(_), None) => Interaction::Create,
        };
        let current_patients = live.map(compartment_of_stored).unwrap_or_default();
        let new_patients = version
            .body
            .map(search::patient_compartment)
            .unwrap_or_default();
        let mut patients = current_patients;
        for patient in &new_patients {
            if !patients.contains(patient) {
                patients.push(patient.clone());
            }
        }
        let refuse = |issues: Vec<Issue>, awaits: bool, action: AuditAction| {
            let details = issues
                .iter()
                .map(|i| i.message_en.clone())
                .collect::<Vec<_>>()
                .join("; ");
            ReplicatedVerdict::Refuse(ReplicatedRefusal {
                audit: self.entry(version, action, Outcome::Denied, &patients, details),
                issues,
                awaits_care_relationship: awaits,
            })
        };
        let plain_action = match interaction {
            Interaction::Create => AuditAction::Create,
            Interaction::Delete => AuditAction::Delete,
            _ => AuditAction::Update,
        };

        if version.problems.iter().any(Issue::is_error) {
            return Ok(refuse(version.problems.to_vec(), false, plain_action));
        }
        if !version.content_checked
            && let Err(issues) = self.check_content(version.resource_type, version.id, version.body)
        {
            return Ok(refuse(issues, false, plain_action));
        }
        if let Err(issue) = self.owns_facility(version, live) {
            return Ok(refuse(vec![issue], false, plain_action));
        }
        let care_event = self.care_event_of(version, live, interaction, tx)?;
        let decision = WriteDecision {
            interaction,
            resource_type: version.resource_type,
            id: Some(version.id),
            current: live,
            new: version.body,
            authority: care_event.map_or(Authority::Requester, Authority::CareEvent),
        };
        // The clinic may do what any of its staff roles may; the refusal worth reporting is a
        // missing care relationship (another version of the batch may supply it).
        let mut refusal: Option<(DenyReason, Error)> = None;
        let mut basis = None;
        for who in &self.staff {
            let mut lookup = TxLookup { tx: &mut *tx };
            match self.ehr.decide_write(who, &decision, &mut lookup)? {
                Ok(checked) => {
                    basis = Some(checked.basis);
                    break;
                }
                Err(refused) => {
                    let keep =
                        refusal.is_none() || refused.reason == DenyReason::NoCareRelationship;
                    if keep {
                        refusal = Some((refused.reason, refused.error));
                    }
                }
            }
        }
        let Some(basis) = basis else {
            let (reason, error) = refusal.unwrap_or((
                DenyReason::RoleNotPermitted,
                Error::Internal("no staff role decided".into()),
            ));
            let issue = self.denial(reason, interaction, &error);
            return Ok(refuse(vec![issue], awaits(reason), plain_action));
        };
        let action = match basis {
            Basis::StartsCare => AuditAction::CareStart,
            Basis::RegistrationMove => AuditAction::RegistrationMove,
            _ => plain_action,
        };
        Ok(ReplicatedVerdict::Accept {
            audit: self.entry(version, action, Outcome::Success, &patients, String::new()),
            patients,
        })
    }

    /// The care event a pushed version records, made by the clinic through its own operation:
    /// an active `EpisodeOfCare` it manages (an inicio de atención), or a Patient whose
    /// registration moves to it (a cambio de unidad).
    fn care_event_of(
        &self,
        version: &ReplicatedVersion<'_>,
        live: Option<&StoredResource>,
        interaction: Interaction,
        tx: &mut dyn WriteTx,
    ) -> Result<Option<CareEvent>, Error> {
        let Some(body) = version.body else {
            return Ok(None);
        };
        let mut facility = || -> Result<std::sync::Arc<FacilityIds>, Error> {
            let mut lookup = TxLookup { tx: &mut *tx };
            self.ehr.facility(&self.clues, &mut lookup)
        };
        match version.resource_type {
            CARE_START_TYPE if interaction == Interaction::Create => {
                let managed_here = match body.get("managingOrganization") {
                    Some(reference) => facility()?.is_referenced_by(reference),
                    None => false,
                };
                Ok(managed_here.then_some(CareEvent::StartCare))
            }
            "Patient" if live.is_some() => {
                let before = live
                    .and_then(|c| fhir::json::parse_str(&c.body).ok())
                    .and_then(|json| json.get("managingOrganization").cloned());
                let after = body.get("managingOrganization");
                let moves_here = before.as_ref() != after
                    && match after {
                        Some(reference) => facility()?.is_referenced_by(reference),
                        None => false,
                    };
                Ok(moves_here.then_some(CareEvent::MoveRegistration))
            }
            _ => Ok(None),
        }
    }

    /// The content rules alone (the type; R4 structure and the Mexican profile of a body, which
    /// must name this type and id): what needs no store, so a caller may run it on its own
    /// thread before the transaction and tell [`ReplicatedReview::check`] it did.
    pub fn check_content(
        &self,
        resource_type: &str,
        id: &str,
        body: Option<&Json>,
    ) -> Result<(), Vec<Issue>> {
        check_type(resource_type).map_err(|err| err.issues())?;
        if let Some(body) = body {
            check_resource(resource_type, body, Some(id)).map_err(|err| err.issues())?;
        }
        Ok(())
    }

    /// The audit entry of a patient's national record sent to this clinic (an on-demand
    /// fetch), naming the clinic and the patient, for the caller to append as it ships it.
    pub fn shipped_entry(&self, patient_id: &str, details: String) -> AuditEntry {
        let mut entry = self
            .ehr
            .audit_entry(&self.node, AuditAction::Export, Outcome::Success);
        entry.resource_type = Some("Patient".to_string());
        entry.resource_id = Some(patient_id.to_string());
        entry.patient_id = Some(patient_id.to_string());
        entry.details = details;
        entry
    }

    /// Facilities (Organization, Location) ground every clinic's care relationships, so a
    /// clinic may register only its own (no other CLUES in what it pushes), and may change or
    /// delete one only when the hub's current version carries its own CLUES, or, carrying none,
    /// was made by it. Other facilities are the hub directory's to register.
    fn owns_facility(
        &self,
        version: &ReplicatedVersion<'_>,
        live: Option<&StoredResource>,
    ) -> Result<(), Issue> {
        if !FACILITY_TYPES.contains(&version.resource_type) {
            return Ok(());
        }
        let what = format!("{}/{}", version.resource_type, version.id);
        if let Some(other) = version.body.and_then(|body| self.clues_in(body).1) {
            return Err(Issue::error(
                IssueCode::Forbidden,
                format!(
                    "{what} lleva la CLUES {other}: el nodo {} solo registra su propio establecimiento; los demás los registra el directorio del nodo central",
                    self.clues
                ),
                format!(
                    "{what} carries CLUES {other}: node {} registers only its own facility; others are registered by the hub's directory",
                    self.clues
                ),
            ));
        }
        let Some(current) = live else {
            return Ok(());
        };
        let (own, other) = fhir::json::parse_str(&current.body)
            .map(|json| self.clues_in(&json))
            .unwrap_or((false, None));
        if let Some(other) = other {
            return Err(Issue::error(
                IssueCode::Forbidden,
                format!(
                    "{what} pertenece al establecimiento {other}; el nodo {} no puede modificarlo ni eliminarlo",
                    self.clues
                ),
                format!(
                    "{what} belongs to facility {other}; node {} may not change or delete it",
                    self.clues
                ),
            ));
        }
        if own || version.current_origin == Some(self.clues.as_str()) {
            return Ok(());
        }
        Err(Issue::error(
            IssueCode::Forbidden,
            format!(
                "{what} no es del establecimiento {clues} ni lo registró el nodo {clues}; solo quien lo registró (o el nodo central) puede modificarlo o eliminarlo",
                clues = self.clues
            ),
            format!(
                "{what} is neither facility {clues}'s nor registered by node {clues}; only the node that registered it (or the hub) may change or delete it",
                clues = self.clues
            ),
        ))
    }

    /// Whether a resource carries this clinic's CLUES, and the first other CLUES it carries.
    fn clues_in(&self, resource: &Json) -> (bool, Option<String>) {
        let values: Vec<&str> = resource
            .get("identifier")
            .and_then(Json::as_array)
            .map(|identifiers| {
                identifiers
                    .iter()
                    .filter(|i| {
                        i.get("system").and_then(Json::as_str) == Some(mexico::systems::CLUES)
                    })
                    .filter_map(|i| i.get("value").and_then(Json::as_str))
                    .collect()
            })
            .unwrap_or_default();
        let own = values.iter().any(|value| *value == self.clues);
        let other = values
            .into_iter()
            .find(|value| *value != self.clues)
            .map(str::to_string);
        (own, other)
    }

    fn denial(&self, reason: DenyReason, interaction: Interaction, error: &Error) -> Issue {
        if interaction == Interaction::Delete && reason == DenyReason::RoleNotPermitted {
            return Issue::error(
                IssueCode::Forbidden,
                format!(
                    "El nodo {} no puede eliminar este tipo de recurso: los datos de pacientes no se eliminan (NOM-004; las correcciones son versiones nuevas)",
                    self.clues
                ),
                format!(
                    "Node {} may not delete this resource type: patient data is never deleted (NOM-004; corrections are new versions)",
                    self.clues
                ),
            );
        }
        // A business rule of the guard (a registration moved elsewhere) carries its own words.
        if let Some(issue) = error.issues().into_iter().next()
            && !matches!(error, Error::Forbidden(_) | Error::NotFound(_))
        {
            return issue;
        }
        Issue::error(
            IssueCode::Forbidden,
            format!(
                "Acceso denegado al nodo {}: {}",
                self.clues,
                reason.message_es()
            ),
            format!(
                "Access denied to node {}: {}",
                self.clues,
                reason.message_en()
            ),
        )
    }

    fn entry(
        &self,
        version: &ReplicatedVersion<'_>,
        action: AuditAction,
        outcome: Outcome,
        patients: &[String],
        details: String,
    ) -> AuditEntry {
        let mut entry = self.ehr.audit_entry(&self.node, action, outcome);
        entry.resource_type = Some(version.resource_type.to_string());
        entry.resource_id = Some(version.id.to_string());
        entry.patient_id = patients.first().cloned();
        entry.details = details;
        entry
    }
}

fn awaits(reason: DenyReason) -> bool {
    reason == DenyReason::NoCareRelationship
}

fn compartment_of_stored(stored: &StoredResource) -> Vec<String> {
    fhir::json::parse_str(&stored.body)
        .map(|json| search::patient_compartment(&json))
        .unwrap_or_default()
}
