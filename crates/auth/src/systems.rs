//! FHIR `system` URIs that access control writes into tokens, Consents and AuditEvents.
//!
//! They belong with the others in `mexico::systems` (one place, so that a typo cannot split an
//! identifier space); they live here until the lead moves them, because helpers may not edit
//! other crates. CLUES itself is taken from `mexico::systems::CLUES`.

/// Our role code system: codes are the role identifiers (`physician`, `nurse`, …, see
/// [`crate::role::Role::as_str`]). Used in `AuditEvent.agent.role` and in Consent actors.
pub const ROLE: &str = "https://expediente.salud.gob.mx/fhir/CodeSystem/rol";

/// Local user accounts of a node (`AuditEvent.agent.who.identifier`): the username.
pub const USER: &str = "https://expediente.salud.gob.mx/fhir/sid/usuario";

/// Nodes of the network (clinic nodes and the hub), `AuditEvent.source.observer.identifier`.
pub const NODE: &str = "https://expediente.salud.gob.mx/fhir/sid/nodo";

/// Our audit event subtypes that no HL7/DICOM code covers (`token-issue`, `break-glass`, …).
pub const AUDIT_EVENT_SUBTYPE: &str =
    "https://expediente.salud.gob.mx/fhir/CodeSystem/evento-auditoria";

/// HL7 v3 ActCode: the information-sensitivity codes (`PSY`, `HIV`, `ETH`, …) carried in `meta.security`.
pub const V3_ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// HL7 v3 Confidentiality: `N`, `R`, `V`… and, in R4's copy, the deprecated `ETH`/`HIV`/`PSY`/`SDV`.
pub const V3_CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

/// R4 Consent scope codes (`patient-privacy`).
pub const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";

/// R4 Consent action codes (`access`, `use`, `disclose`, `collect`, `correct`).
pub const CONSENT_ACTION: &str = "http://terminology.hl7.org/CodeSystem/consentaction";

/// R4 resource types as codes (`Consent.provision.class`).
pub const RESOURCE_TYPES: &str = "http://hl7.org/fhir/resource-types";

#[cfg(test)]
mod tests {
    /// Distinct absolute URIs, like `mexico::systems`: a shared URI would merge two code spaces.
    #[test]
    fn systems_are_distinct_absolute_uris() {
        let all = [
            super::ROLE,
            super::USER,
            super::NODE,
            super::AUDIT_EVENT_SUBTYPE,
            super::V3_ACT_CODE,
            super::V3_CONFIDENTIALITY,
            super::CONSENT_SCOPE,
            super::CONSENT_ACTION,
            super::RESOURCE_TYPES,
            mexico::systems::CLUES,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(a.starts_with("http://") || a.starts_with("https://"), "{a}");
            assert!(!a.ends_with('/'), "{a}");
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
