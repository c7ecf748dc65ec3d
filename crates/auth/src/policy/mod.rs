//! The access decision: may this principal do this interaction on this resource?
//!
//! [`decide`] is pure: the caller gathers the facts (the target's patient compartment, security
//! labels, `category`, the care relationship computed from the store, the patient's consents, the
//! time) into an [`Action`], and gets a [`Decision`]. The rules, in the order they are applied:
//!
//! 1. The resource type must be an R4 type; its [`Category`] comes from [`crate::category`].
//! 2. `AuditEvent` is read-only through the API for everyone, integrations included; so is
//!    `NamingSystem`, defined by the software (`mexico::naming`).
//! 3. Scopes: a `system` principal needs a `system/` scope; a person needs a `user/` scope, or a
//!    `patient/` scope when the target is in the compartment of the token's patient.
//! 4. The role matrix ([`MATRIX`], documented in the crate docs), plus the nurse rule: nurses write
//!    only `Immunization` and `Observation`s whose `category` includes `vital-signs`.
//! 5. Patient-data categories ([`Category::is_patient_data`]) then need, per role:
//!    * patient: the target is in their own compartment (they book their own appointments);
//!      agendas in no compartment (`Schedule`, `Slot`) they may read, never write;
//!    * physician, nurse, receptionist: a care relationship with the target's patient, except for
//!      reading, searching and creating demographics (staff must find and register patients;
//!      `V`-labelled demographics excepted) and for the explicit care events ([`CareEvent`]: an
//!      *inicio de atención* creates the relationship, a *cambio de unidad* moves the
//!      registration), which their operations make and the audit trail lists for review.
//!      Without a relationship, physicians and nurses may read and search under an active
//!      break-glass grant;
//!    * auditor: no patient restriction on `AuditEvent` (reviewing access is the job);
//!    * identity steward: demographics of every patient (telling registrations apart).
//! 6. Consent restricts reads and searches by staff (not under break-glass, see [`crate::consent`]).
//!
//! A `Search` decision is made before the search runs, usually without a target patient; a
//! permitted search must still drop every result (and every `_include`d resource) for which
//! `decide` with [`Interaction::Read`] and that resource's facts does not permit. [`Basis`] says
//! which filtering the caller owes.

#[cfg(test)]
mod tests;

use crate::category::{Category, category_of};
use crate::consent::{Consent, ConsentTarget, consent_allows};
use crate::label::{Coding, is_very_restricted};
use crate::role::{Principal, Role};
use crate::scope::{Grant, Interaction, ScopeContext};

/// The `category` code that marks vital signs (`http://terminology.hl7.org/CodeSystem/observation-category`).
pub const VITAL_SIGNS_CATEGORY: (&str, &str) = (
    "http://terminology.hl7.org/CodeSystem/observation-category",
    "vital-signs",
);

/// The role matrix: for each role, the permitted interactions on each [`Category`] (in
/// [`Category::ALL`] order) as SMART letters. The crate docs show the same table; a test keeps
/// them equal. The `system` row is an upper bound: the integration's `system/` scopes decide.
/// Nurse writes on clinical content are the special rule in [`decide`], not in this table.
pub const MATRIX: [(Role, [&str; 11]); 9] = [
    //                 Demo    Sched   Dir      Clin    Priv    Audit Fin   Know     Conf     Term     Exch
    (
        Role::Physician,
        [
            "crus", "crus", "rs", "crus", "crus", "", "", "rs", "rs", "rs", "",
        ],
    ),
    (
        Role::Nurse,
        ["rs", "crus", "rs", "rs", "rs", "", "", "rs", "rs", "rs", ""],
    ),
    (
        Role::Receptionist,
        ["crus", "crus", "rs", "", "", "", "", "", "rs", "rs", ""],
    ),
    (
        Role::Epidemiologist,
        ["", "", "", "", "", "", "", "", "", "", ""],
    ),
    (
        Role::Auditor,
        ["", "", "", "", "", "rs", "", "", "", "", ""],
    ),
    (
        Role::Steward,
        ["rus", "", "rs", "", "", "", "", "", "rs", "rs", ""],
    ),
    (
        Role::Admin,
        [
            "", "", "cruds", "", "", "", "", "cruds", "cruds", "cruds", "cruds",
        ],
    ),
    (
        Role::Patient,
        [
            "rs", "crus", "rs", "rs", "crus", "rs", "rs", "rs", "rs", "rs", "",
        ],
    ),
    (
        Role::System,
        [
            "cruds", "cruds", "cruds", "cruds", "cruds", "rs", "cruds", "cruds", "cruds", "cruds",
            "cruds",
        ],
    ),
];

/// Whether the role matrix alone lets `role` do `interaction` on `category`.
pub fn matrix_allows(role: Role, category: Category, interaction: Interaction) -> bool {
    let column = Category::ALL.iter().position(|c| *c == category);
    MATRIX
        .iter()
        .find(|(r, _)| *r == role)
        .zip(column)
        .and_then(|((_, row), idx)| row.get(idx))
        .is_some_and(|letters| letters.contains(interaction.letter()))
}

/// Facts that tie the requester's facility to the target patient, computed by the caller from
/// the store for the principal's CLUES (the rule of what counts is the caller's, in one place:
/// `ehr`'s `guard::care`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CareRelationship {
    /// The patient is registered at the facility (`managingOrganization`, by reference or by
    /// CLUES identifier).
    pub registered_here: bool,
    /// The patient has an Encounter at the facility.
    pub encounter_here: bool,
    /// The patient has an Appointment at the facility.
    pub appointment_here: bool,
    /// The patient was referred to the facility (a `ServiceRequest` it is to perform).
    pub referred_here: bool,
    /// Care was started at the facility by an explicit, audited *inicio de atención*.
    pub care_started_here: bool,
}

impl CareRelationship {
    /// No relationship.
    pub const NONE: CareRelationship = CareRelationship {
        registered_here: false,
        encounter_here: false,
        appointment_here: false,
        referred_here: false,
        care_started_here: false,
    };

    /// Whether any of the facts holds.
    pub fn exists(self) -> bool {
        self.registered_here
            || self.encounter_here
            || self.appointment_here
            || self.referred_here
            || self.care_started_here
    }
}

/// The resource type that records an *inicio de atención*: an `EpisodeOfCare` managed by the
/// facility (its `status` active while the facility cares for the patient).
pub const CARE_START_TYPE: &str = "EpisodeOfCare";

/// An explicit event that changes which facilities care for a patient. Ordinary writes never
/// create or move a care relationship for the writer's own facility; these events do, through
/// their own operations, each audited and listed for review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CareEvent {
    /// *Inicio de atención*: the facility starts caring for a patient it has no relationship
    /// with (a patient from elsewhere walks in). Creates the record of it (an `EpisodeOfCare`).
    StartCare,
    /// *Cambio de unidad*: the patient's registration (`managingOrganization`) moves.
    MoveRegistration,
    /// A step of the day's queue (issue 17): check-in, triage, call, end, each recorded on the
    /// visit's `Encounter` by its own operation, which writes only the queue's elements
    /// (status and its history, priority, the turn, the attending practitioner). It needs a
    /// care relationship like any other write and starts none: it is the one clinical type a
    /// receptionist (check-in) and a nurse (triage) write besides their own.
    QueueStep,
}

/// Notifications (issue 17): the resource type of a subscription.
pub const SUBSCRIPTION_TYPE: &str = "Subscription";

/// Who may keep subscriptions: the staff whose work arrives through them (a referral inbox,
/// the lab, reminders), administrators and integrations (the reminder service). Patients do
/// not: a subscription delivers to an endpoint, and no patient-facing one exists.
pub fn may_subscribe(role: Role) -> bool {
    matches!(
        role,
        Role::Physician | Role::Nurse | Role::Receptionist | Role::Admin | Role::System
    )
}

/// Whether `principal` may read, change or delete a subscription owned by `owner` (the account
/// that created it). Only its owner, because it delivers what the owner may read and nobody
/// else should learn where; administrators see and switch off any (a misbehaving endpoint).
pub fn subscription_access(principal: &Principal, owner: Option<&str>) -> bool {
    principal.role == Role::Admin || owner == Some(principal.user.as_str())
}

/// The resource type the day's queue is kept on.
pub const QUEUE_TYPE: &str = "Encounter";

impl CareEvent {
    /// The roles that may make this event happen.
    pub fn permitted_to(self, role: Role) -> bool {
        match self {
            CareEvent::StartCare => {
                matches!(role, Role::Physician | Role::Nurse | Role::Receptionist)
            }
            CareEvent::MoveRegistration => matches!(role, Role::Physician | Role::Receptionist),
            CareEvent::QueueStep => {
                matches!(role, Role::Physician | Role::Nurse | Role::Receptionist)
            }
        }
    }
}

/// One request to decide on.
#[derive(Clone, Copy, Debug)]
pub struct Action<'a> {
    /// What is done.
    pub interaction: Interaction,
    /// The target resource type (for a search, the searched type; for an `_include`d or
    /// `$everything` resource, that resource's type with [`Interaction::Read`]).
    pub resource_type: &'a str,
    /// The patient whose compartment holds the target (`Patient/{id}` → `id`; a Patient's own id
    /// for a Patient resource; the subject for a create). `None` when the target is in no patient
    /// compartment, or for a search not restricted to one patient.
    pub patient_compartment_of_target: Option<&'a str>,
    /// The target's `meta.security` labels (empty for a search).
    pub security_labels: &'a [Coding],
    /// The target's `category` codings (empty when unknown); only the nurse rule reads them.
    pub categories: &'a [Coding],
    /// The care relationship between the principal's facility and the target patient
    /// ([`CareRelationship::NONE`] when there is no target patient).
    pub care_relationship: CareRelationship,
    /// The target patient's consents (any others are ignored).
    pub consents: &'a [Consent],
    /// The current time, for break-glass expiry and consent periods.
    pub now_ms: i64,
    /// The explicit care event this write is part of, when made through its operation.
    pub care_event: Option<CareEvent>,
}

impl<'a> Action<'a> {
    /// An action with no target facts: no patient, no labels, no relationship, no consents.
    /// Fill in the fields that apply with struct update syntax.
    pub fn new(interaction: Interaction, resource_type: &'a str, now_ms: i64) -> Action<'a> {
        Action {
            interaction,
            resource_type,
            patient_compartment_of_target: None,
            security_labels: &[],
            categories: &[],
            care_relationship: CareRelationship::NONE,
            consents: &[],
            now_ms,
            care_event: None,
        }
    }
}

/// Why access was permitted: the audit entry records it, and some bases oblige the caller to
/// filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// The role and scopes suffice; no patient's data is involved (directory, catalogs) or the
    /// data is demographic.
    Role,
    /// A `system/` scope.
    SystemScope,
    /// The target is in the patient's own compartment. For a `Search` without a target patient,
    /// the caller must restrict the search to the principal's compartment (or filter each result).
    OwnRecord,
    /// A care relationship between the principal's facility and the patient.
    CareRelationship,
    /// An explicit *inicio de atención* ([`CareEvent::StartCare`]): audited and reviewed.
    StartsCare,
    /// An explicit *cambio de unidad* ([`CareEvent::MoveRegistration`]): audited and reviewed.
    RegistrationMove,
    /// An active break-glass grant: the audit entry must be flagged `break-glass`.
    BreakGlass,
    /// A search across patients: each result must pass `decide` with [`Interaction::Read`].
    FilterEachResult,
}

/// The outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, and on which basis.
    Permit(Basis),
    /// Refused, and why.
    Deny(DenyReason),
}

impl Decision {
    /// Whether the decision permits.
    pub fn is_permit(self) -> bool {
        matches!(self, Decision::Permit(_))
    }
}

/// Why access was refused. Messages never name the target (no id, no patient), so they can be
/// shown to the requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// Not an R4 resource type.
    UnknownResourceType,
    /// The audit trail cannot be written or deleted through the API.
    AuditReadOnly,
    /// The resource is defined by the software (the `NamingSystem`s), not written by users.
    DefinedBySoftware,
    /// The token's scopes do not grant the interaction.
    ScopeMissing,
    /// The role may never do this to this category.
    RoleNotPermitted,
    /// Nurses write only vital-sign Observations and Immunizations.
    NurseWriteOutsideVitalSigns,
    /// A facility-staff account without CLUES.
    NoFacility,
    /// A patient account (or `patient/` scope) without a linked Patient.
    NoPatientLinked,
    /// A patient reaching outside their own record.
    NotOwnRecord,
    /// A `patient/` scope used outside the compartment of the token's patient.
    OutsideLaunchPatient,
    /// No care relationship and no break-glass grant (clinicians may request one).
    NoCareRelationship,
    /// The patient's consent restricts this access.
    ConsentRestricted,
    /// The token's scopes grant this type only where it matches their query restrictions
    /// (`patient/Observation.rs?category=laboratory`), and this resource does not.
    OutsideScopeRestriction,
}

impl DenyReason {
    /// Whether the denial depends on the target instance (its patient, labels or consents) rather
    /// than only on the type: then a read should answer as if the resource did not exist (404),
    /// so that denial does not confirm existence.
    pub fn depends_on_target(self) -> bool {
        matches!(
            self,
            DenyReason::NotOwnRecord
                | DenyReason::OutsideLaunchPatient
                | DenyReason::NoCareRelationship
                | DenyReason::ConsentRestricted
                | DenyReason::NurseWriteOutsideVitalSigns
                | DenyReason::OutsideScopeRestriction
        )
    }

    /// The message for the requester (es-MX).
    pub fn message_es(self) -> &'static str {
        match self {
            DenyReason::UnknownResourceType => "el tipo de recurso no existe en FHIR R4",
            DenyReason::AuditReadOnly => {
                "la bitácora de auditoría no se puede modificar ni eliminar"
            }
            DenyReason::DefinedBySoftware => {
                "los sistemas de identificadores y de códigos los define el software; no se pueden modificar"
            }
            DenyReason::ScopeMissing => {
                "el token no tiene el alcance necesario para esta operación"
            }
            DenyReason::RoleNotPermitted => {
                "su rol no permite esta operación sobre este tipo de recurso"
            }
            DenyReason::NurseWriteOutsideVitalSigns => {
                "enfermería solo puede registrar signos vitales e inmunizaciones"
            }
            DenyReason::NoFacility => "su cuenta no tiene establecimiento (CLUES) asignado",
            DenyReason::NoPatientLinked => "su cuenta no está vinculada a un paciente",
            DenyReason::NotOwnRecord => "solo puede consultar su propio expediente",
            DenyReason::OutsideLaunchPatient => {
                "el token está limitado al expediente de otro paciente"
            }
            DenyReason::NoCareRelationship => {
                "no hay relación de atención con este paciente en su establecimiento; en una emergencia use el acceso de emergencia"
            }
            DenyReason::ConsentRestricted => "el consentimiento del paciente restringe este acceso",
            DenyReason::OutsideScopeRestriction => {
                "los alcances del token se limitan a los recursos que cumplen su consulta, y este no la cumple"
            }
        }
    }

    /// The message in English.
    pub fn message_en(self) -> &'static str {
        match self {
            DenyReason::UnknownResourceType => "not an R4 resource type",
            DenyReason::AuditReadOnly => "the audit trail cannot be modified or deleted",
            DenyReason::DefinedBySoftware => {
                "identifier and code systems are defined by the software and cannot be modified"
            }
            DenyReason::ScopeMissing => "the token's scopes do not grant this interaction",
            DenyReason::RoleNotPermitted => {
                "your role does not permit this interaction on this resource type"
            }
            DenyReason::NurseWriteOutsideVitalSigns => {
                "nurses may only record vital signs and immunizations"
            }
            DenyReason::NoFacility => "your account has no facility (CLUES)",
            DenyReason::NoPatientLinked => "your account is not linked to a patient",
            DenyReason::NotOwnRecord => "you may only access your own record",
            DenyReason::OutsideLaunchPatient => "the token is limited to another patient's record",
            DenyReason::NoCareRelationship => {
                "no care relationship with this patient at your facility; use emergency access in an emergency"
            }
            DenyReason::ConsentRestricted => "the patient's consent restricts this access",
            DenyReason::OutsideScopeRestriction => {
                "the token's scopes are restricted to resources matching their query, and this one does not"
            }
        }
    }
}

/// The type whose resources the software defines (read-only through the API).
pub const NAMING_SYSTEM_TYPE: &str = "NamingSystem";

/// Decides one action. Pure; see the module docs for the rules.
pub fn decide(principal: &Principal, action: &Action<'_>) -> Decision {
    use Decision::{Deny, Permit};
    let Some(category) = category_of(action.resource_type) else {
        return Deny(DenyReason::UnknownResourceType);
    };
    let interaction = action.interaction;
    if category == Category::Audit && interaction.is_write() {
        return Deny(DenyReason::AuditReadOnly);
    }
    if action.resource_type == NAMING_SYSTEM_TYPE && interaction.is_write() {
        return Deny(DenyReason::DefinedBySoftware);
    }
    let target_patient = action.patient_compartment_of_target;

    if principal.role == Role::System {
        if !principal
            .scopes
            .allows(ScopeContext::System, action.resource_type, interaction)
        {
            return Deny(DenyReason::ScopeMissing);
        }
        return if matrix_allows(Role::System, category, interaction) {
            Permit(Basis::SystemScope)
        } else {
            Deny(DenyReason::RoleNotPermitted)
        };
    }

    if let Err(reason) = person_scopes_allow(principal, action, category) {
        return Deny(reason);
    }

    // The record of an inicio de atención is written by the roles whose job it is, whatever the
    // matrix says of its type (receptionists start care at the desk; they write no other
    // clinical content).
    let care_start_record = action.care_event == Some(CareEvent::StartCare)
        && CareEvent::StartCare.permitted_to(principal.role)
        && interaction == Interaction::Create
        && action.resource_type == CARE_START_TYPE;
    let queue_record = action.care_event == Some(CareEvent::QueueStep)
        && CareEvent::QueueStep.permitted_to(principal.role)
        && matches!(interaction, Interaction::Create | Interaction::Update)
        && action.resource_type == QUEUE_TYPE;
    let nurse_clinical_write =
        principal.role == Role::Nurse && category == Category::Clinical && interaction.is_write();
    // Subscriptions (issue 17) are kept by the staff whose work arrives through them, whatever
    // the matrix says of messaging content; whose subscription it is, is `subscription_access`.
    let subscription_record =
        action.resource_type == SUBSCRIPTION_TYPE && may_subscribe(principal.role);
    if care_start_record || queue_record || subscription_record {
    } else if nurse_clinical_write {
        if !nurse_may_write(action) {
            return Deny(DenyReason::NurseWriteOutsideVitalSigns);
        }
    } else if !matrix_allows(principal.role, category, interaction) {
        return Deny(DenyReason::RoleNotPermitted);
    }

    if principal.role.requires_clues()
        && principal
            .clues
            .as_deref()
            .is_none_or(|clues| clues.trim().is_empty())
    {
        return Deny(DenyReason::NoFacility);
    }

    if !category.is_patient_data() {
        return Permit(Basis::Role);
    }

    match principal.role {
        Role::Patient => {
            let Some(own) = principal.patient_id.as_deref() else {
                return Deny(DenyReason::NoPatientLinked);
            };
            match target_patient {
                Some(target) if target == own => Permit(Basis::OwnRecord),
                None if interaction == Interaction::Search => Permit(Basis::OwnRecord),
                // A practitioner's or a service's agenda (Schedule, Slot) belongs to no
                // patient: a patient reads it to book, and writes it never.
                None if is_agenda(action.resource_type) && !interaction.is_write() => {
                    Permit(Basis::Role)
                }
                _ => Deny(DenyReason::NotOwnRecord),
            }
        }
        Role::Physician | Role::Nurse | Role::Receptionist => {
            staff_decision(principal, action, category)
        }
        // The matrix gives the auditor only AuditEvent, and reviewing every patient's access
        // log is the auditor's job; the identity steward only demographics, nationally,
        // because telling two registrations of one person apart is the job. The remaining
        // roles have no patient-data rights at all.
        Role::Auditor | Role::Steward => Permit(Basis::Role),
        Role::Epidemiologist | Role::Admin | Role::System => Deny(DenyReason::RoleNotPermitted),
    }
}

/// Scopes for a person: `user/` always counts; `patient/` counts inside the compartment of the
/// token's patient and for resources in no compartment (for a search without a target patient, the
/// per-result filter enforces it).
/// A `patient/` scope used outside its patient is a target-dependent denial (it must not reveal
/// that the target exists).
fn person_scopes_allow(
    principal: &Principal,
    action: &Action<'_>,
    category: Category,
) -> Result<(), DenyReason> {
    let scopes = &principal.scopes;
    if scopes.allows(ScopeContext::User, action.resource_type, action.interaction) {
        return Ok(());
    }
    if !scopes.allows(
        ScopeContext::Patient,
        action.resource_type,
        action.interaction,
    ) {
        return Err(DenyReason::ScopeMissing);
    }
    let Some(launch_patient) = principal.patient_id.as_deref() else {
        return Err(DenyReason::NoPatientLinked);
    };
    match (
        inside_launch_patient(action, category, launch_patient),
        principal.role,
    ) {
        (true, _) => Ok(()),
        (false, Role::Patient) => Err(DenyReason::NotOwnRecord),
        (false, _) => Err(DenyReason::OutsideLaunchPatient),
    }
}

/// Whether a `patient/` scope reaches the target: inside the launch patient's compartment, or
/// content in no compartment that the record points at.
fn inside_launch_patient(action: &Action<'_>, category: Category, launch_patient: &str) -> bool {
    match action.patient_compartment_of_target {
        Some(target) => target == launch_patient,
        // Directory and catalog content that the record points at (the Practitioner, the
        // Organization, a Questionnaire) is readable under patient/ scopes, as SMART intends.
        // Agendas (Schedule, Slot) in no compartment are what a patient books from.
        None => {
            action.interaction == Interaction::Search
                || !category.is_patient_data()
                || (is_agenda(action.resource_type) && !action.interaction.is_write())
        }
    }
}

/// The query restrictions that bound a permitted read or search (SMART v2
/// `patient/Observation.rs?category=laboratory`): `None` when a scope that applies grants the
/// whole type; otherwise the target must match one of the returned queries (the read guard
/// checks it, `search::matches_restriction`). Asked after [`decide`] permitted `action`; the
/// scopes that apply are the ones `decide` used (`system/` for a system principal; `user/`, and
/// `patient/` inside the launch patient, for a person).
pub fn scope_restrictions<'a>(
    principal: &'a Principal,
    action: &Action<'_>,
) -> Option<Vec<&'a [(String, String)]>> {
    let scopes = &principal.scopes;
    let (rtype, interaction) = (action.resource_type, action.interaction);
    let grants = if principal.role == Role::System {
        vec![scopes.grant(ScopeContext::System, rtype, interaction)]
    } else {
        let patient_applies = match (principal.patient_id.as_deref(), category_of(rtype)) {
            (Some(launch), Some(category)) => inside_launch_patient(action, category, launch),
            _ => false,
        };
        let mut grants = vec![scopes.grant(ScopeContext::User, rtype, interaction)];
        if patient_applies {
            grants.push(scopes.grant(ScopeContext::Patient, rtype, interaction));
        }
        grants
    };
    let mut restrictions = Vec::new();
    for grant in grants {
        match grant {
            Grant::Whole => return None,
            Grant::Restricted(queries) => restrictions.extend(queries),
            Grant::Nothing => {}
        }
    }
    Some(restrictions)
}

/// Agendas: scheduling content that belongs to no patient when it is in no compartment. Only
/// these types, not an `Appointment` outside any compartment: one whose patient is named only
/// by a logical reference is still somebody's appointment.
fn is_agenda(resource_type: &str) -> bool {
    matches!(resource_type, "Schedule" | "Slot")
}

fn nurse_may_write(action: &Action<'_>) -> bool {
    match action.resource_type {
        _ if action.interaction == Interaction::Delete => false,
        "Immunization" => true,
        "Observation" => action.categories.iter().any(|coding| {
            coding.code == VITAL_SIGNS_CATEGORY.1
                && (coding.system == VITAL_SIGNS_CATEGORY.0 || coding.system.is_empty())
        }),
        _ => false,
    }
}

/// The instance rules for physicians, nurses and receptionists on patient data.
fn staff_decision(principal: &Principal, action: &Action<'_>, category: Category) -> Decision {
    use Decision::{Deny, Permit};
    let interaction = action.interaction;
    let Some(patient) = action.patient_compartment_of_target else {
        // Not bound to one patient: a search across patients (each hit is then decided as a
        // read), or a resource in no compartment (an Observation about a Group, say).
        return if interaction == Interaction::Search {
            Permit(Basis::FilterEachResult)
        } else {
            Permit(Basis::Role)
        };
    };
    // Demographics are open for finding and registering people (a receptionist must see that
    // a person is already registered elsewhere); changing a registered person's data is not.
    let demographic_open = category == Category::Demographic
        && !is_very_restricted(action.security_labels)
        && matches!(
            interaction,
            Interaction::Read | Interaction::Search | Interaction::Create
        );
    let care_event = action
        .care_event
        .filter(|event| event.permitted_to(principal.role));
    // Break-glass opens the record for reading, consent restrictions included (the emergency
    // exception of the data-protection law); care given in the emergency is recorded after an
    // explicit inicio de atención, which establishes the relationship.
    let break_glass = principal.role.is_clinician()
        && !interaction.is_write()
        && principal.break_glass_for(patient, action.now_ms).is_some();
    let basis = match care_event {
        Some(CareEvent::StartCare)
            if interaction == Interaction::Create && action.resource_type == CARE_START_TYPE =>
        {
            Basis::StartsCare
        }
        Some(CareEvent::MoveRegistration)
            if interaction == Interaction::Update && action.resource_type == "Patient" =>
        {
            Basis::RegistrationMove
        }
        _ if action.care_relationship.exists() => Basis::CareRelationship,
        _ if demographic_open => Basis::Role,
        _ if break_glass => return Permit(Basis::BreakGlass),
        _ => return Deny(DenyReason::NoCareRelationship),
    };
    if !interaction.is_write() {
        let target = ConsentTarget {
            patient_id: patient,
            resource_type: action.resource_type,
            security_labels: action.security_labels,
        };
        if !consent_allows(action.consents, principal, &target, action.now_ms) {
            return if break_glass {
                Permit(Basis::BreakGlass)
            } else {
                Deny(DenyReason::ConsentRestricted)
            };
        }
    }
    Permit(basis)
}

/// Operations outside the FHIR resource interactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// The de-identified aggregates endpoint (epidemiology).
    ReadAggregates,
    /// The public-health reports (`/reports/*.csv`, the surveillance pages): aggregate
    /// counts without names, for epidemiologists and for integrations (system tokens) that
    /// consume the fixed CSV contracts.
    ReadReports,
    /// `expediente user add|list|disable|reset-password` and their HTTP equivalents.
    ManageUsers,
    /// `expediente audit verify` and reviewing break-glass grants.
    ReviewAudit,
    /// Asking for a break-glass grant (the grant rules are in [`crate::break_glass`]).
    RequestBreakGlass,
    /// Issuing tokens for other accounts or integrations.
    IssueTokens,
    /// `$merge` / `$unmerge`: deciding that two registrations are one person (MPI stewardship).
    MergePatients,
    /// FHIR Bulk Data `$export` (kick-off, status, files). Who may start one: integrations
    /// (system, the backend-services client of the Bulk Data IG), administrators (whose row
    /// reads the directory, catalogs and conformance resources) and physicians (what their
    /// facility may read). Every exported resource is still decided by the read guard, so an
    /// export holds exactly what a search by the same principal would show. Not
    /// epidemiologists: they have no record access, and read the aggregates instead.
    BulkExport,
}

/// Decides an [`Operation`] by role alone.
pub fn decide_operation(principal: &Principal, operation: Operation) -> Decision {
    let permitted = match operation {
        Operation::ReadAggregates => matches!(principal.role, Role::Epidemiologist),
        Operation::ReadReports => matches!(principal.role, Role::Epidemiologist | Role::System),
        Operation::ManageUsers | Operation::IssueTokens => principal.role == Role::Admin,
        Operation::ReviewAudit => matches!(principal.role, Role::Auditor | Role::Admin),
        Operation::RequestBreakGlass => principal.role.is_clinician(),
        Operation::MergePatients => matches!(principal.role, Role::Steward | Role::System),
        Operation::BulkExport => {
            matches!(principal.role, Role::System | Role::Admin | Role::Physician)
        }
    };
    if permitted {
        Decision::Permit(Basis::Role)
    } else {
        Decision::Deny(DenyReason::RoleNotPermitted)
    }
}
