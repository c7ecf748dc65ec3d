//! FHIR `system` URIs for the identifiers and code systems used in Mexico, and our extension URLs.
//!
//! Every crate that writes or reads an `Identifier.system`, `Coding.system` or `Extension.url`
//! takes it from here, so that a typo cannot split one identifier space into two.

/// CURP. The HL7 OID registry assigns 2.16.840.1.113883.4.629 to the Mexican CURP.
pub const CURP: &str = "urn:oid:2.16.840.1.113883.4.629";

/// CLUES, the DGIS key of a health establishment (11 characters).
pub const CLUES: &str = "https://expediente.salud.gob.mx/fhir/sid/clues";

/// Cédula profesional issued by SEP's Dirección General de Profesiones.
pub const CEDULA: &str = "https://expediente.salud.gob.mx/fhir/sid/cedula-profesional";

/// Folio: the node-local patient identifier (NOM-024 "folio interno").
/// It is only unique together with the node that assigned it.
pub const FOLIO: &str = "https://expediente.salud.gob.mx/fhir/sid/folio";

/// CIE-10 (ICD-10, WHO edition as used by DGIS/CEMECE). Codes are written in the dotted form (`E11.9`).
pub const CIE10: &str = "http://hl7.org/fhir/sid/icd-10";

/// Compendio Nacional de Insumos para la Salud (medicine keys such as `010.000.4155.00`).
pub const CNIS: &str = "https://expediente.salud.gob.mx/fhir/sid/cnis";

/// LOINC, for laboratory observations.
pub const LOINC: &str = "http://loinc.org";

/// CVX, for vaccines.
pub const CVX: &str = "http://hl7.org/fhir/sid/cvx";

/// Extension (valueBoolean) on Patient: the CURP is unknown or unverified and staff must follow up.
/// Used instead of storing the placeholder `XXXX999999XXXXXX99` as an identifier.
pub const EXT_CURP_PENDING: &str =
    "https://expediente.salud.gob.mx/fhir/StructureDefinition/curp-pendiente";

/// Extension on Patient: the state of birth, as the two-letter CURP state code (`JC`, `DF`, or `NE` for
/// born abroad; see [`crate::states`]).
pub const EXT_BIRTH_STATE: &str =
    "https://expediente.salud.gob.mx/fhir/StructureDefinition/entidad-nacimiento";

/// Identifier of one repeated-laboratory warning (a `DetectedIssue`): one per patient, test,
/// clinician and day, however often the form comes back, so that a warning is counted once;
/// its `assigner` is the facility that showed it.
pub const REPEATED_LAB_WARNING: &str =
    "https://expediente.salud.gob.mx/fhir/sid/aviso-estudio-repetido";

#[cfg(test)]
mod tests {
    /// All systems are distinct: two identifier spaces sharing a URI would merge identities.
    #[test]
    fn systems_are_distinct_absolute_uris() {
        let all = [
            super::CURP,
            super::CLUES,
            super::CEDULA,
            super::FOLIO,
            super::CIE10,
            super::CNIS,
            super::LOINC,
            super::CVX,
            super::EXT_CURP_PENDING,
            super::EXT_BIRTH_STATE,
            super::REPEATED_LAB_WARNING,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(
                a.starts_with("http://") || a.starts_with("https://") || a.starts_with("urn:oid:"),
                "{a} is not an absolute URI"
            );
            assert!(!a.ends_with('/'), "{a} must not end with a slash");
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
