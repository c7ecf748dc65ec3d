//! The identifier and code systems of [`crate::systems`], described for integrators: what each
//! `system` URI identifies, who assigns its values, and the OID where one is registered. The
//! FHIR layer publishes them as `NamingSystem` resources, so another system can find how to
//! reference a patient by CURP or a facility by CLUES without reading our code.

use crate::systems;

/// What a system's values name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Values identify things (a person, a facility): `Identifier.system`.
    Identifier,
    /// Values are codes of a terminology: `Coding.system`.
    CodeSystem,
}

impl Kind {
    /// The FHIR `namingsystem-type` code.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Identifier => "identifier",
            Kind::CodeSystem => "codesystem",
        }
    }
}

/// One published system.
#[derive(Clone, Copy, Debug)]
pub struct NamingSystem {
    /// The resource id (stable: integrators may link to it).
    pub id: &'static str,
    /// A computer-friendly name (`NamingSystem.name`).
    pub name: &'static str,
    pub kind: Kind,
    /// The `system` URI used in every resource.
    pub uri: &'static str,
    /// The registered OID, where one exists (without the `urn:oid:` prefix).
    pub oid: Option<&'static str>,
    /// Who assigns the values.
    pub responsible: &'static str,
    /// What it is and how it is used (es-MX).
    pub description_es: &'static str,
    /// The same in English.
    pub description_en: &'static str,
}

/// Every system the record uses, in a stable order.
pub const ALL: [NamingSystem; 8] = [
    NamingSystem {
        id: "curp",
        name: "CURP",
        kind: Kind::Identifier,
        uri: systems::CURP,
        oid: Some("2.16.840.1.113883.4.629"),
        responsible: "RENAPO (Registro Nacional de Población, SEGOB)",
        description_es: "Clave Única de Registro de Población: identifica a cada paciente en todo el país (18 caracteres con dígito verificador).",
        description_en: "Unique Population Registry Code: identifies each patient nationwide (18 characters with a check digit).",
    },
    NamingSystem {
        id: "clues",
        name: "CLUES",
        kind: Kind::Identifier,
        uri: systems::CLUES,
        oid: None,
        responsible: "DGIS (Dirección General de Información en Salud, Secretaría de Salud)",
        description_es: "Clave Única de Establecimientos de Salud (11 caracteres): identifica a cada establecimiento; se usa en Organization.identifier y para dirigir referencias.",
        description_en: "Unique Health Establishment Code (11 characters): identifies each facility; used in Organization.identifier and to address referrals.",
    },
    NamingSystem {
        id: "cedula-profesional",
        name: "CedulaProfesional",
        kind: Kind::Identifier,
        uri: systems::CEDULA,
        oid: None,
        responsible: "SEP, Dirección General de Profesiones",
        description_es: "Cédula profesional del personal de salud (Practitioner.identifier).",
        description_en: "Professional licence of health staff (Practitioner.identifier).",
    },
    NamingSystem {
        id: "folio",
        name: "FolioInterno",
        kind: Kind::Identifier,
        uri: systems::FOLIO,
        oid: None,
        responsible: "Cada establecimiento (el nodo que lo asigna) / each facility (the node that assigns it)",
        description_es: "Folio interno del expediente (NOM-024): único solo junto con el establecimiento que lo asignó; se usa cuando la CURP falta o está pendiente.",
        description_en: "Internal record number (NOM-024): unique only together with the facility that assigned it; used when the CURP is missing or pending.",
    },
    NamingSystem {
        id: "cie-10",
        name: "CIE10",
        kind: Kind::CodeSystem,
        uri: systems::CIE10,
        oid: Some("2.16.840.1.113883.6.3"),
        responsible: "OMS; CEMECE (DGIS) en México / WHO; CEMECE (DGIS) in Mexico",
        description_es: "Clasificación Internacional de Enfermedades, 10.ª revisión, en forma con punto (E11.9); los diagnósticos (Condition.code).",
        description_en: "International Classification of Diseases, 10th revision, dotted form (E11.9); diagnoses (Condition.code).",
    },
    NamingSystem {
        id: "cnis",
        name: "CNIS",
        kind: Kind::CodeSystem,
        uri: systems::CNIS,
        oid: None,
        responsible: "Consejo de Salubridad General",
        description_es: "Compendio Nacional de Insumos para la Salud: claves de medicamentos (010.000.4155.00) en las recetas.",
        description_en: "National Compendium of Health Supplies: medicine keys (010.000.4155.00) in prescriptions.",
    },
    NamingSystem {
        id: "loinc",
        name: "LOINC",
        kind: Kind::CodeSystem,
        uri: systems::LOINC,
        oid: Some("2.16.840.1.113883.6.1"),
        responsible: "Regenstrief Institute",
        description_es: "Códigos de estudios de laboratorio y signos vitales (Observation.code).",
        description_en: "Codes of laboratory tests and vital signs (Observation.code).",
    },
    NamingSystem {
        id: "cvx",
        name: "CVX",
        kind: Kind::CodeSystem,
        uri: systems::CVX,
        oid: Some("2.16.840.1.113883.12.292"),
        responsible: "CDC (National Center of Immunization and Respiratory Diseases)",
        description_es: "Códigos de vacunas (Immunization.vaccineCode).",
        description_en: "Vaccine codes (Immunization.vaccineCode).",
    },
];

#[cfg(test)]
mod tests {
    /// Every system of [`crate::systems`] that names identifiers or codes is published once,
    /// under a distinct id.
    #[test]
    fn every_system_is_published_once() {
        let uris: Vec<&str> = super::ALL.iter().map(|n| n.uri).collect();
        for system in [
            crate::systems::CURP,
            crate::systems::CLUES,
            crate::systems::CEDULA,
            crate::systems::FOLIO,
            crate::systems::CIE10,
            crate::systems::CNIS,
            crate::systems::LOINC,
            crate::systems::CVX,
        ] {
            assert_eq!(uris.iter().filter(|u| **u == system).count(), 1, "{system}");
        }
        let mut ids: Vec<&str> = super::ALL.iter().map(|n| n.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), super::ALL.len());
        assert!(
            super::ALL
                .iter()
                .all(|n| n.uri.starts_with("urn:oid:") == (n.id == "curp"))
        );
    }
}
