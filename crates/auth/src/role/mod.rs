//! Who is asking: the [`Role`] of an account and the authenticated [`Principal`] built from a
//! verified token (or a web session) for one request.
//!
//! The principal is plain data so that the decision functions stay pure: everything they need
//! about the requester (role, facility, linked Practitioner/Patient, scopes, break-glass grants) is
//! here, and everything about the target is in [`crate::policy::Action`].

use crate::break_glass::BreakGlass;
use crate::scope::Scopes;

#[cfg(test)]
mod tests;

/// The role of an account. One account has exactly one role; a person with two jobs has two
/// accounts, so that every audit entry names the capacity in which they acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Médico: reads and writes clinical content where there is a care relationship.
    Physician,
    /// Enfermería: vital signs and immunizations; reads clinical content.
    Nurse,
    /// Recepción / archivo: demographics and appointments, no clinical content.
    Receptionist,
    /// Epidemiología: de-identified aggregates only, no direct record access.
    Epidemiologist,
    /// Auditoría: the audit trail, read-only.
    Auditor,
    /// Gestión de identidad (MPI): reviews probable duplicate registrations and merges or
    /// unmerges patients; reads and corrects demographics, never clinical content.
    Steward,
    /// Administración: accounts and configuration, no clinical or personal content.
    Admin,
    /// The patient: their own record and who viewed it.
    Patient,
    /// A trusted integration (lab system, migration, another node), limited by its `system/*` scopes.
    System,
}

impl Role {
    /// Every role, in a fixed order (tables and tests iterate over it).
    pub const ALL: [Role; 9] = [
        Role::Physician,
        Role::Nurse,
        Role::Receptionist,
        Role::Epidemiologist,
        Role::Auditor,
        Role::Steward,
        Role::Admin,
        Role::Patient,
        Role::System,
    ];

    /// The identifier used on the CLI (`--role`), in tokens (`role` claim) and as the code in
    /// [`crate::systems::ROLE`].
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Physician => "physician",
            Role::Nurse => "nurse",
            Role::Receptionist => "receptionist",
            Role::Epidemiologist => "epidemiologist",
            Role::Auditor => "auditor",
            Role::Steward => "steward",
            Role::Admin => "admin",
            Role::Patient => "patient",
            Role::System => "system",
        }
    }

    /// Parses the identifier exactly (lowercase, no spaces): a role is a security attribute, so
    /// nothing is guessed.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// The name shown to people (es-MX), e.g. in "who viewed my record".
    pub fn label_es(self) -> &'static str {
        match self {
            Role::Physician => "médico",
            Role::Nurse => "enfermería",
            Role::Receptionist => "recepción",
            Role::Epidemiologist => "epidemiología",
            Role::Auditor => "auditoría",
            Role::Steward => "gestión de identidad",
            Role::Admin => "administración",
            Role::Patient => "paciente",
            Role::System => "sistema",
        }
    }

    /// The English name, for logs and English messages.
    pub fn label_en(self) -> &'static str {
        match self {
            Role::Physician => "physician",
            Role::Nurse => "nurse",
            Role::Receptionist => "receptionist",
            Role::Epidemiologist => "epidemiologist",
            Role::Auditor => "auditor",
            Role::Steward => "identity steward",
            Role::Admin => "administrator",
            Role::Patient => "patient",
            Role::System => "system",
        }
    }

    /// Clinicians are bound by the care-relationship rule and may use break-glass.
    pub fn is_clinician(self) -> bool {
        matches!(self, Role::Physician | Role::Nurse)
    }

    /// Facility staff act on behalf of a facility and must carry its CLUES.
    pub fn requires_clues(self) -> bool {
        matches!(self, Role::Physician | Role::Nurse | Role::Receptionist)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated requester of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The account name (`sub` claim), unique per node.
    pub user: String,
    /// The account's role.
    pub role: Role,
    /// The facility the account acts for (CLUES), required for facility staff.
    pub clues: Option<String>,
    /// The account's `Practitioner` id (clinicians), used to match Consent actors.
    pub practitioner_id: Option<String>,
    /// The `Patient` id: the patient themself for [`Role::Patient`], or the SMART launch context
    /// (`launch/patient`) for a clinician's `patient/*` scopes.
    pub patient_id: Option<String>,
    /// What the token was granted; the role matrix still applies on top of it.
    pub scopes: Scopes,
    /// The token's `jti`, recorded in audit details and used for revocation.
    pub token_id: String,
    /// Active break-glass grants (one per patient). A list rather than an `Option` because an
    /// emergency physician may hold grants for several patients at once; the caller loads the
    /// unexpired grants of this user from the store for each request.
    pub break_glass: Vec<BreakGlass>,
}

impl Principal {
    /// The grant covering `patient_id` at `now_ms`, if any.
    pub fn break_glass_for(&self, patient_id: &str, now_ms: i64) -> Option<&BreakGlass> {
        self.break_glass
            .iter()
            .find(|grant| grant.patient_id == patient_id && grant.is_active(now_ms))
    }
}
