//! Audit entries as R4 `AuditEvent` JSON, and as the plain-Spanish line a patient reads in
//! "¿quién consultó mi expediente?".
//!
//! Mapping (R4 AuditEvent):
//! * `type`: `rest` (audit-event-type) for FHIR interactions; DICOM `110114` User Authentication
//!   for login/logout/tokens; `110113` Security Alert for break-glass; `110106` Export;
//!   `110137` User Security Attributes Changed for account changes.
//! * `subtype`: the restful-interaction code (`read`, `search-type`, …), DICOM `110122` Login /
//!   `110123` Logout, or our code ([`crate::systems::AUDIT_EVENT_SUBTYPE`]) for `token-issue`,
//!   `token-revoke`, `break-glass`, `merge`, `user-change`.
//! * `action`: C/R/U/D/E; `recorded`: the instant; `outcome`: 0 success, 4 denied (minor failure),
//!   8 error (serious failure).
//! * `purposeOfEvent`: v3-ActReason `BTG` when under or granting break-glass.
//! * `agent[0]`: the user (`who.identifier` = [`crate::systems::USER`] | username, role coding in
//!   [`crate::systems::ROLE`], `type` humanuser or dataprocessor for integrations, `requestor`,
//!   `network` with the IP); `agent[1]`: the facility (CLUES, v3-RoleClass `PROV`).
//! * `source`: `observer.identifier` = [`crate::systems::NODE`] | node id, type 4 Application Server.
//! * `entity`: the resource (`what` = `Type/id`, type 2 System Object), the patient (`Patient/id`,
//!   type 1 Person, role 1 Patient), and `details` as an entity `detail`.

use serde::Serialize;

use super::{AuditAction, AuditEntry, Outcome};
use crate::role::Role;
use crate::systems::{AUDIT_EVENT_SUBTYPE, NODE, ROLE, USER};

/// Mexico City's offset from UTC in minutes: −06:00 all year since the 2022 reform abolished
/// daylight saving time in most of the country. Nodes in Quintana Roo (−05:00), Sonora (−07:00) or
/// the Pacific zone pass their own offset.
pub const MEXICO_CITY_UTC_OFFSET_MINUTES: i32 = -360;

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const RESTFUL_INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const SECURITY_ROLE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/extra-security-role-type";
const ROLE_CLASS: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleClass";
const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";

#[derive(Serialize)]
struct Coding {
    system: &'static str,
    code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'static str>,
}

fn coding(system: &'static str, code: &str, display: &'static str) -> Coding {
    Coding {
        system,
        code: code.to_owned(),
        display: Some(display),
    }
}

#[derive(Serialize)]
struct CodeableConcept {
    coding: Vec<Coding>,
}

#[derive(Serialize)]
struct Identifier {
    system: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Reference {
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<Identifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<String>,
}

#[derive(Serialize)]
struct Network {
    address: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Agent {
    #[serde(rename = "type")]
    kind: CodeableConcept,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    role: Vec<CodeableConcept>,
    who: Reference,
    requestor: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<Network>,
}

#[derive(Serialize)]
struct Source {
    site: String,
    observer: Reference,
    #[serde(rename = "type")]
    kind: Vec<Coding>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    #[serde(rename = "type")]
    kind: &'static str,
    value_string: String,
}

#[derive(Serialize)]
struct Entity {
    #[serde(skip_serializing_if = "Option::is_none")]
    what: Option<Reference>,
    #[serde(rename = "type")]
    kind: Coding,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<Coding>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    detail: Vec<Detail>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditEvent {
    resource_type: &'static str,
    #[serde(rename = "type")]
    kind: Coding,
    subtype: Vec<Coding>,
    action: &'static str,
    recorded: String,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    purpose_of_event: Vec<CodeableConcept>,
    agent: Vec<Agent>,
    source: Source,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    entity: Vec<Entity>,
}

/// `(type, subtype, action)` for an audit action.
fn classify(action: AuditAction) -> (Coding, Coding, &'static str) {
    let rest = || coding(AUDIT_EVENT_TYPE, "rest", "RESTful Operation");
    let interaction = |code: &'static str| coding(RESTFUL_INTERACTION, code, code);
    let ours =
        |code: &'static str, display: &'static str| coding(AUDIT_EVENT_SUBTYPE, code, display);
    let authentication = || coding(DCM, "110114", "User Authentication");
    match action {
        AuditAction::Create => (rest(), interaction("create"), "C"),
        AuditAction::Read => (rest(), interaction("read"), "R"),
        AuditAction::Vread => (rest(), interaction("vread"), "R"),
        AuditAction::Update => (rest(), interaction("update"), "U"),
        AuditAction::Delete => (rest(), interaction("delete"), "D"),
        AuditAction::Search => (rest(), interaction("search-type"), "E"),
        AuditAction::History => (rest(), interaction("history"), "R"),
        AuditAction::Operation => (rest(), interaction("operation"), "E"),
        AuditAction::Transaction => (rest(), interaction("transaction"), "E"),
        AuditAction::Export => (
            coding(DCM, "110106", "Export"),
            interaction("operation"),
            "E",
        ),
        AuditAction::Merge => (rest(), ours("merge", "Fusión de pacientes"), "U"),
        AuditAction::Login | AuditAction::LoginFailed => {
            (authentication(), coding(DCM, "110122", "Login"), "E")
        }
        AuditAction::Logout => (authentication(), coding(DCM, "110123", "Logout"), "E"),
        AuditAction::TokenIssue => (
            authentication(),
            ours("token-issue", "Emisión de token"),
            "E",
        ),
        AuditAction::TokenRevoke => (
            authentication(),
            ours("token-revoke", "Revocación de token"),
            "E",
        ),
        AuditAction::BreakGlass => (
            coding(DCM, "110113", "Security Alert"),
            ours("break-glass", "Acceso de emergencia"),
            "E",
        ),
        AuditAction::UserChange => (
            coding(DCM, "110137", "User Security Attributes Changed"),
            ours("user-change", "Cambio de cuenta de usuario"),
            "U",
        ),
        AuditAction::CareStart => (rest(), ours("care-start", "Inicio de atención"), "C"),
        AuditAction::RegistrationMove => {
            (rest(), ours("registration-move", "Cambio de unidad"), "U")
        }
    }
}

/// The entry as an R4 `AuditEvent` (JSON text, no `id`: the store assigns it).
pub fn to_audit_event_json(entry: &AuditEntry) -> String {
    let (kind, subtype, action) = classify(entry.action);
    let outcome = match entry.outcome {
        Outcome::Success => "0",
        Outcome::Denied => "4",
        Outcome::Error => "8",
    };
    let break_glass = entry.break_glass || entry.action == AuditAction::BreakGlass;
    let purpose_of_event = if break_glass {
        vec![CodeableConcept {
            coding: vec![coding(ACT_REASON, "BTG", "break the glass")],
        }]
    } else {
        Vec::new()
    };
    let agent_type = if entry.role == Some(Role::System) {
        coding(SECURITY_ROLE_TYPE, "dataprocessor", "data processor")
    } else {
        coding(SECURITY_ROLE_TYPE, "humanuser", "human user")
    };
    let mut agents = vec![Agent {
        kind: CodeableConcept {
            coding: vec![agent_type],
        },
        role: entry
            .role
            .map(|role| CodeableConcept {
                coding: vec![Coding {
                    system: ROLE,
                    code: role.as_str().to_owned(),
                    display: Some(role.label_es()),
                }],
            })
            .into_iter()
            .collect(),
        who: Reference {
            reference: None,
            identifier: Some(Identifier {
                system: USER,
                value: entry.user.clone(),
            }),
            display: non_empty(&entry.user_display),
        },
        requestor: true,
        network: entry.source_ip.as_ref().map(|address| Network {
            address: address.clone(),
            kind: "2",
        }),
    }];
    if let Some(clues) = &entry.clues {
        agents.push(Agent {
            kind: CodeableConcept {
                coding: vec![coding(ROLE_CLASS, "PROV", "healthcare provider")],
            },
            role: Vec::new(),
            who: Reference {
                reference: None,
                identifier: Some(Identifier {
                    system: mexico::systems::CLUES,
                    value: clues.clone(),
                }),
                display: entry.facility_name.clone(),
            },
            requestor: false,
            network: None,
        });
    }
    let mut entities = Vec::new();
    let details = non_empty(&entry.details)
        .map(|text| Detail {
            kind: "details",
            value_string: text,
        })
        .into_iter()
        .collect::<Vec<_>>();
    let what = match (&entry.resource_type, &entry.resource_id) {
        (Some(resource_type), Some(id)) => Some(format!("{resource_type}/{id}")),
        _ => None,
    };
    let resource_is_patient = entry.resource_type.as_deref() == Some("Patient")
        && entry.resource_id.is_some()
        && entry.resource_id == entry.patient_id;
    if what.is_some() || !details.is_empty() {
        entities.push(Entity {
            what: what.map(|reference| Reference {
                reference: Some(reference),
                identifier: None,
                display: None,
            }),
            kind: if resource_is_patient {
                coding(ENTITY_TYPE, "1", "Person")
            } else {
                coding(ENTITY_TYPE, "2", "System Object")
            },
            role: resource_is_patient.then(|| coding(OBJECT_ROLE, "1", "Patient")),
            detail: details,
        });
    }
    if let Some(patient_id) = &entry.patient_id
        && !resource_is_patient
    {
        entities.push(Entity {
            what: Some(Reference {
                reference: Some(format!("Patient/{patient_id}")),
                identifier: None,
                display: None,
            }),
            kind: coding(ENTITY_TYPE, "1", "Person"),
            role: Some(coding(OBJECT_ROLE, "1", "Patient")),
            detail: Vec::new(),
        });
    }
    let event = AuditEvent {
        resource_type: "AuditEvent",
        kind,
        subtype: vec![subtype],
        action,
        recorded: crate::instant::format_instant(entry.at_ms),
        outcome,
        purpose_of_event,
        agent: agents,
        source: Source {
            site: entry.node.clone(),
            observer: Reference {
                reference: None,
                identifier: Some(Identifier {
                    system: NODE,
                    value: entry.node.clone(),
                }),
                display: None,
            },
            kind: vec![coding(SOURCE_TYPE, "4", "Application Server")],
        },
        entity: entities,
    };
    // Serialising plain structs of strings and vectors cannot fail; the fallback keeps the
    // function total anyway.
    serde_json::to_string(&event).unwrap_or_default()
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// One line of "who viewed my record", in plain Spanish, e.g.
/// `25/11/2026 10:32 — Dra. Ana López, médico en Centro de Salud Tlalpan (CLUES DFSSA001234) consultó su expediente`.
/// Time is shown at `utc_offset_minutes` (use [`MEXICO_CITY_UTC_OFFSET_MINUTES`] by default).
pub fn patient_view_line(entry: &AuditEntry, utc_offset_minutes: i32) -> String {
    let when = crate::instant::format_local_es(entry.at_ms, utc_offset_minutes);
    let own = entry.role == Some(Role::Patient);
    let who = if own {
        "Usted".to_owned()
    } else {
        let name = non_empty(&entry.user_display).unwrap_or_else(|| entry.user.clone());
        let mut who = name;
        if let Some(role) = entry.role {
            who.push_str(", ");
            who.push_str(role.label_es());
        }
        match (&entry.facility_name, &entry.clues) {
            (Some(facility), Some(clues)) => {
                who.push_str(&format!(" en {facility} (CLUES {clues})"));
            }
            (Some(facility), None) => who.push_str(&format!(" en {facility}")),
            (None, Some(clues)) => {
                who.push_str(&format!(" en el establecimiento con CLUES {clues}"));
            }
            (None, None) => {}
        }
        who
    };
    let what = match entry.action {
        AuditAction::Create => "agregó información a su expediente",
        AuditAction::Update | AuditAction::Merge => "modificó su expediente",
        AuditAction::Delete => "eliminó un registro de su expediente",
        AuditAction::Export => "exportó su expediente",
        AuditAction::BreakGlass => "abrió su expediente con acceso de emergencia",
        AuditAction::CareStart => "inició su atención en el establecimiento",
        AuditAction::RegistrationMove => "cambió su unidad de adscripción",
        _ => "consultó su expediente",
    };
    let mut line = if entry.outcome == Outcome::Success {
        format!("{when} — {who} {what}")
    } else {
        let attempt = match entry.action {
            AuditAction::Create
            | AuditAction::Update
            | AuditAction::Merge
            | AuditAction::Delete => "intentó modificar su expediente",
            _ => "intentó consultar su expediente",
        };
        format!("{when} — {who} {attempt} (acceso denegado)")
    };
    if entry.action.needs_review() {
        if let Some(reason) = non_empty(&entry.details) {
            line.push_str(&format!("; motivo: «{reason}»"));
        }
    } else if entry.break_glass && entry.outcome == Outcome::Success {
        line.push_str(" (acceso de emergencia)");
    }
    line
}
