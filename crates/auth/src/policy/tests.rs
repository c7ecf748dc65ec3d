//! Unit tests for the access decision: the role matrix as an exhaustive table, then each rule
//! layered on top of it (care relationship, break-glass, own record, scopes, labels, consent).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{
    Action, Basis, CareEvent, CareRelationship, Decision, DenyReason, MATRIX, Operation, decide,
    decide_operation,
};
use crate::break_glass::BreakGlass;
use crate::category::Category;
use crate::consent::Consent;
use crate::label::Coding;
use crate::role::{Principal, Role};
use crate::scope::{Interaction, Scopes};

const NOW: i64 = 1_800_000_000_000;
const CLUES: &str = "DFSSA001234";

fn principal(role: Role) -> Principal {
    let (scopes, patient) = match role {
        Role::System => ("system/*.cruds", None),
        Role::Patient => ("patient/*.cruds", Some("p1")),
        _ => ("user/*.cruds", None),
    };
    Principal {
        user: format!("{role}-1"),
        role,
        clues: role.requires_clues().then(|| CLUES.to_owned()),
        practitioner_id: role.is_clinician().then(|| "pr1".to_owned()),
        patient_id: patient.map(str::to_owned),
        scopes: Scopes::parse(scopes).unwrap(),
        token_id: "jti-1".into(),
        break_glass: Vec::new(),
    }
}

fn vital_signs() -> Vec<Coding> {
    vec![Coding::new(super::VITAL_SIGNS_CATEGORY.0, "vital-signs")]
}

fn laboratory() -> Vec<Coding> {
    vec![Coding::new(super::VITAL_SIGNS_CATEGORY.0, "laboratory")]
}

/// `(label, resource type, categories, in a patient compartment)`.
fn targets() -> Vec<(&'static str, &'static str, Vec<Coding>, bool)> {
    vec![
        ("Patient", "Patient", vec![], true),
        ("Appointment", "Appointment", vec![], true),
        ("Organization", "Organization", vec![], false),
        ("Condition", "Condition", vec![], true),
        ("Obs(vital)", "Observation", vital_signs(), true),
        ("Obs(lab)", "Observation", laboratory(), true),
        ("Immunization", "Immunization", vec![], true),
        ("Consent", "Consent", vec![], true),
        ("AuditEvent", "AuditEvent", vec![], true),
        ("Claim", "Claim", vec![], true),
        ("Questionnaire", "Questionnaire", vec![], false),
        ("StructureDef", "StructureDefinition", vec![], false),
        ("ValueSet", "ValueSet", vec![], false),
        ("Subscription", "Subscription", vec![], false),
    ]
}

/// The permitted letters of `principal` on each target, with `care` as the relationship and the
/// target in patient `p1`'s compartment where it has one.
fn permitted(principal: &Principal, care: CareRelationship) -> Vec<(&'static str, String)> {
    targets()
        .into_iter()
        .map(|(label, resource_type, categories, in_compartment)| {
            let letters = Interaction::ALL
                .into_iter()
                .filter(|interaction| {
                    let action = Action {
                        patient_compartment_of_target: in_compartment.then_some("p1"),
                        categories: &categories,
                        care_relationship: care,
                        ..Action::new(*interaction, resource_type, NOW)
                    };
                    decide(principal, &action).is_permit()
                })
                .map(Interaction::letter)
                .collect::<String>();
            (label, letters)
        })
        .collect()
}

fn render(rows: &[(&str, String)]) -> String {
    rows.iter()
        .map(|(label, letters)| {
            format!("{label}={}", if letters.is_empty() { "-" } else { letters })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const WITH_CARE: CareRelationship = CareRelationship {
    registered_here: true,
    ..CareRelationship::NONE
};

/// Every role × representative type × interaction, with a care relationship in place (so that
/// only the matrix and the special rules speak). Expected values are written out by hand from the
/// issue's description of each role, not derived from `MATRIX`.
#[test]
fn role_matrix_with_care_relationship() {
    let expected = [
        (
            Role::Physician,
            "Patient=crus Appointment=crus Organization=rs Condition=crus Obs(vital)=crus Obs(lab)=crus Immunization=crus Consent=crus AuditEvent=- Claim=- Questionnaire=rs StructureDef=rs ValueSet=rs Subscription=cruds",
        ),
        (
            Role::Nurse,
            "Patient=rs Appointment=crus Organization=rs Condition=rs Obs(vital)=crus Obs(lab)=rs Immunization=crus Consent=rs AuditEvent=- Claim=- Questionnaire=rs StructureDef=rs ValueSet=rs Subscription=cruds",
        ),
        (
            Role::Receptionist,
            "Patient=crus Appointment=crus Organization=rs Condition=- Obs(vital)=- Obs(lab)=- Immunization=- Consent=- AuditEvent=- Claim=- Questionnaire=- StructureDef=rs ValueSet=rs Subscription=cruds",
        ),
        (
            Role::Epidemiologist,
            "Patient=- Appointment=- Organization=- Condition=- Obs(vital)=- Obs(lab)=- Immunization=- Consent=- AuditEvent=- Claim=- Questionnaire=- StructureDef=- ValueSet=- Subscription=-",
        ),
        (
            Role::Auditor,
            "Patient=- Appointment=- Organization=- Condition=- Obs(vital)=- Obs(lab)=- Immunization=- Consent=- AuditEvent=rs Claim=- Questionnaire=- StructureDef=- ValueSet=- Subscription=-",
        ),
        (
            Role::Admin,
            "Patient=- Appointment=- Organization=cruds Condition=- Obs(vital)=- Obs(lab)=- Immunization=- Consent=- AuditEvent=- Claim=- Questionnaire=cruds StructureDef=cruds ValueSet=cruds Subscription=cruds",
        ),
        (
            Role::Patient,
            "Patient=rs Appointment=crus Organization=rs Condition=rs Obs(vital)=rs Obs(lab)=rs Immunization=rs Consent=crus AuditEvent=rs Claim=rs Questionnaire=rs StructureDef=rs ValueSet=rs Subscription=-",
        ),
        (
            Role::System,
            "Patient=cruds Appointment=cruds Organization=cruds Condition=cruds Obs(vital)=cruds Obs(lab)=cruds Immunization=cruds Consent=cruds AuditEvent=rs Claim=cruds Questionnaire=cruds StructureDef=cruds ValueSet=cruds Subscription=cruds",
        ),
    ];
    for (role, want) in expected {
        let got = render(&permitted(&principal(role), WITH_CARE));
        assert_eq!(got, want, "role {role}");
    }
}

/// Without a care relationship, staff may find, read and register people (demographics) and
/// nothing else about the patient: no ordinary write starts care (issue 12: a receptionist gave
/// her clinic a relationship by creating an appointment or moving the registration).
#[test]
fn staff_without_care_relationship() {
    let expected = [
        (
            Role::Physician,
            "Patient=crs Appointment=- Organization=rs Condition=- Obs(vital)=- Obs(lab)=- Immunization=- Consent=- AuditEvent=- Claim=- Questionnaire=rs StructureDef=rs ValueSet=rs Subscription=cruds",
        ),
        (
            Role::Nurse,
            "Patient=rs Appointment=- Organization=rs Condition=- Obs(vital)=- Obs(lab)=- Immunization=- Consent=- AuditEvent=- Claim=- Questionnaire=rs StructureDef=rs ValueSet=rs Subscription=cruds",
        ),
        (
            Role::Receptionist,
            "Patient=crs Appointment=- Organization=rs Condition=- Obs(vital)=- Obs(lab)=- Immunization=- Consent=- AuditEvent=- Claim=- Questionnaire=- StructureDef=rs ValueSet=rs Subscription=cruds",
        ),
    ];
    for (role, want) in expected {
        let got = render(&permitted(&principal(role), CareRelationship::NONE));
        assert_eq!(got, want, "role {role}");
    }
    let physician = principal(Role::Physician);
    for resource_type in ["Encounter", "Appointment", "EpisodeOfCare"] {
        let create = Action {
            patient_compartment_of_target: Some("p1"),
            ..Action::new(Interaction::Create, resource_type, NOW)
        };
        assert_eq!(
            decide(&physician, &create),
            Decision::Deny(DenyReason::NoCareRelationship),
            "{resource_type}"
        );
    }
    let read = Action {
        patient_compartment_of_target: Some("p1"),
        ..Action::new(Interaction::Read, "Condition", NOW)
    };
    assert_eq!(
        decide(&physician, &read),
        Decision::Deny(DenyReason::NoCareRelationship)
    );
    assert!(DenyReason::NoCareRelationship.depends_on_target());
}

/// The explicit care events are the only way a facility's staff start caring for a patient or
/// move a registration; each is allowed to the roles whose job it is, and only as the write
/// the event makes.
#[test]
fn care_events_are_the_only_way_to_start_care_or_move_a_registration() {
    let start = |role: Role, interaction: Interaction, resource_type: &str| {
        let action = Action {
            patient_compartment_of_target: Some("p1"),
            care_event: Some(super::CareEvent::StartCare),
            ..Action::new(interaction, resource_type, NOW)
        };
        decide(&principal(role), &action)
    };
    for role in [Role::Physician, Role::Nurse, Role::Receptionist] {
        assert_eq!(
            start(role, Interaction::Create, "EpisodeOfCare"),
            Decision::Permit(Basis::StartsCare),
            "{role}"
        );
        // The event is not a licence for anything else.
        assert!(
            !start(role, Interaction::Read, "Condition").is_permit(),
            "{role}"
        );
        assert!(
            !start(role, Interaction::Create, "Condition").is_permit(),
            "{role}"
        );
    }
    for role in [
        Role::Epidemiologist,
        Role::Auditor,
        Role::Admin,
        Role::Steward,
    ] {
        assert!(
            !start(role, Interaction::Create, "EpisodeOfCare").is_permit(),
            "{role}"
        );
    }
    let moving = |role: Role| {
        let action = Action {
            patient_compartment_of_target: Some("p1"),
            care_event: Some(super::CareEvent::MoveRegistration),
            ..Action::new(Interaction::Update, "Patient", NOW)
        };
        decide(&principal(role), &action)
    };
    assert_eq!(
        moving(Role::Receptionist),
        Decision::Permit(Basis::RegistrationMove)
    );
    assert_eq!(
        moving(Role::Physician),
        Decision::Permit(Basis::RegistrationMove)
    );
    assert!(!moving(Role::Nurse).is_permit());
    // Without the event, updating a patient the facility does not care for is refused.
    let update = Action {
        patient_compartment_of_target: Some("p1"),
        ..Action::new(Interaction::Update, "Patient", NOW)
    };
    assert_eq!(
        decide(&principal(Role::Receptionist), &update),
        Decision::Deny(DenyReason::NoCareRelationship)
    );
}

/// Each of the care facts suffices on its own.
#[test]
fn any_care_fact_suffices() {
    let physician = principal(Role::Physician);
    for care in [
        CareRelationship {
            referred_here: true,
            ..CareRelationship::NONE
        },
        CareRelationship {
            care_started_here: true,
            ..CareRelationship::NONE
        },
        CareRelationship {
            registered_here: true,
            ..CareRelationship::NONE
        },
        CareRelationship {
            encounter_here: true,
            ..CareRelationship::NONE
        },
        CareRelationship {
            appointment_here: true,
            ..CareRelationship::NONE
        },
    ] {
        let action = Action {
            patient_compartment_of_target: Some("p1"),
            care_relationship: care,
            ..Action::new(Interaction::Read, "Condition", NOW)
        };
        assert_eq!(
            decide(&physician, &action),
            Decision::Permit(Basis::CareRelationship),
            "{care:?}"
        );
    }
}

fn grant(patient: &str, granted_ms: i64) -> BreakGlass {
    BreakGlass {
        patient_id: patient.into(),
        reason: "paciente inconsciente traído por ambulancia".into(),
        granted_ms,
        expires_ms: granted_ms + crate::break_glass::BREAK_GLASS_DURATION_MS,
        needs_review: true,
    }
}

#[test]
fn break_glass_opens_reading_for_its_patient_and_time_only() {
    let mut physician = principal(Role::Physician);
    physician.break_glass.push(grant("p1", NOW - 1000));
    let on = |interaction, patient: &'static str, now_ms| Action {
        patient_compartment_of_target: Some(patient),
        ..Action::new(interaction, "Condition", now_ms)
    };
    assert_eq!(
        decide(&physician, &on(Interaction::Read, "p1", NOW)),
        Decision::Permit(Basis::BreakGlass)
    );
    assert_eq!(
        decide(&physician, &on(Interaction::Search, "p1", NOW)),
        Decision::Permit(Basis::BreakGlass)
    );
    for write in [
        Interaction::Create,
        Interaction::Update,
        Interaction::Delete,
    ] {
        assert!(
            !decide(&physician, &on(write, "p1", NOW)).is_permit(),
            "{write:?}"
        );
    }
    assert_eq!(
        decide(&physician, &on(Interaction::Read, "p2", NOW)),
        Decision::Deny(DenyReason::NoCareRelationship)
    );
    let expiry = NOW - 1000 + crate::break_glass::BREAK_GLASS_DURATION_MS;
    assert!(decide(&physician, &on(Interaction::Read, "p1", expiry - 1)).is_permit());
    assert_eq!(
        decide(&physician, &on(Interaction::Read, "p1", expiry)),
        Decision::Deny(DenyReason::NoCareRelationship)
    );
    // A grant held by a receptionist (which `grant` would refuse to create) opens nothing.
    let mut receptionist = principal(Role::Receptionist);
    receptionist.break_glass.push(grant("p1", NOW - 1000));
    let appointment = Action {
        patient_compartment_of_target: Some("p1"),
        ..Action::new(Interaction::Read, "Appointment", NOW)
    };
    assert_eq!(
        decide(&receptionist, &appointment),
        Decision::Deny(DenyReason::NoCareRelationship)
    );
}

#[test]
fn patients_see_only_their_own_record() {
    let patient = principal(Role::Patient);
    let on = |interaction, resource_type, target: Option<&'static str>| Action {
        patient_compartment_of_target: target,
        ..Action::new(interaction, resource_type, NOW)
    };
    for resource_type in [
        "Patient",
        "Observation",
        "AuditEvent",
        "Consent",
        "Appointment",
    ] {
        assert_eq!(
            decide(&patient, &on(Interaction::Read, resource_type, Some("p1"))),
            Decision::Permit(Basis::OwnRecord)
        );
        assert_eq!(
            decide(&patient, &on(Interaction::Read, resource_type, Some("p2"))),
            Decision::Deny(DenyReason::NotOwnRecord),
            "{resource_type}"
        );
        assert_eq!(
            decide(&patient, &on(Interaction::Search, resource_type, None)),
            Decision::Permit(Basis::OwnRecord),
            "a search must be confined to the own compartment by the caller"
        );
        assert_eq!(
            decide(&patient, &on(Interaction::Read, resource_type, None)),
            Decision::Deny(DenyReason::NotOwnRecord)
        );
    }
    assert_eq!(
        decide(&patient, &on(Interaction::Create, "Consent", Some("p2"))),
        Decision::Deny(DenyReason::NotOwnRecord)
    );
    let mut unlinked = principal(Role::Patient);
    unlinked.patient_id = None;
    unlinked.scopes = Scopes::parse("user/*.rs").unwrap();
    assert_eq!(
        decide(&unlinked, &on(Interaction::Read, "Observation", Some("p1"))),
        Decision::Deny(DenyReason::NoPatientLinked)
    );
}

#[test]
fn scopes_bound_what_the_role_allows() {
    let mut physician = principal(Role::Physician);
    physician.scopes = Scopes::parse("user/Observation.rs").unwrap();
    let on = |interaction, resource_type, target: Option<&'static str>| Action {
        patient_compartment_of_target: target,
        care_relationship: WITH_CARE,
        ..Action::new(interaction, resource_type, NOW)
    };
    assert!(
        decide(
            &physician,
            &on(Interaction::Read, "Observation", Some("p1"))
        )
        .is_permit()
    );
    assert_eq!(
        decide(
            &physician,
            &on(Interaction::Create, "Observation", Some("p1"))
        ),
        Decision::Deny(DenyReason::ScopeMissing)
    );
    assert_eq!(
        decide(&physician, &on(Interaction::Read, "Condition", Some("p1"))),
        Decision::Deny(DenyReason::ScopeMissing)
    );
    // patient/ scopes with a launch patient: only inside that compartment.
    physician.scopes = Scopes::parse("patient/*.rs launch/patient").unwrap();
    physician.patient_id = Some("p1".into());
    assert!(decide(&physician, &on(Interaction::Read, "Condition", Some("p1"))).is_permit());
    assert_eq!(
        decide(&physician, &on(Interaction::Read, "Condition", Some("p2"))),
        Decision::Deny(DenyReason::OutsideLaunchPatient)
    );
    assert!(DenyReason::OutsideLaunchPatient.depends_on_target());
    // system/ scopes do nothing for a person.
    physician.scopes = Scopes::parse("system/*.cruds").unwrap();
    assert_eq!(
        decide(&physician, &on(Interaction::Read, "Condition", Some("p1"))),
        Decision::Deny(DenyReason::ScopeMissing)
    );
    // A system principal needs system/ scopes; user/ scopes do nothing for it.
    let mut lab = principal(Role::System);
    lab.scopes = Scopes::parse("system/Observation.c").unwrap();
    assert_eq!(
        decide(&lab, &on(Interaction::Create, "Observation", Some("p1"))),
        Decision::Permit(Basis::SystemScope)
    );
    assert_eq!(
        decide(&lab, &on(Interaction::Read, "Observation", Some("p1"))),
        Decision::Deny(DenyReason::ScopeMissing)
    );
    lab.scopes = Scopes::parse("user/*.cruds").unwrap();
    assert_eq!(
        decide(&lab, &on(Interaction::Create, "Observation", Some("p1"))),
        Decision::Deny(DenyReason::ScopeMissing)
    );
    // No scopes at all: nothing.
    let mut nobody = principal(Role::Admin);
    nobody.scopes = Scopes::empty();
    assert_eq!(
        decide(&nobody, &on(Interaction::Read, "Organization", None)),
        Decision::Deny(DenyReason::ScopeMissing)
    );
}

#[test]
fn audit_trail_is_read_only_for_everyone() {
    for role in Role::ALL {
        let who = principal(role);
        for interaction in [
            Interaction::Create,
            Interaction::Update,
            Interaction::Delete,
        ] {
            let action = Action {
                patient_compartment_of_target: Some("p1"),
                care_relationship: WITH_CARE,
                ..Action::new(interaction, "AuditEvent", NOW)
            };
            assert_eq!(
                decide(&who, &action),
                Decision::Deny(DenyReason::AuditReadOnly),
                "{role} {interaction:?}"
            );
        }
    }
}

#[test]
fn searches_across_patients_are_filtered_per_result() {
    let physician = principal(Role::Physician);
    let search = Action::new(Interaction::Search, "Observation", NOW);
    assert_eq!(
        decide(&physician, &search),
        Decision::Permit(Basis::FilterEachResult)
    );
    // A resource in no patient compartment is plain role access.
    let group_observation = Action::new(Interaction::Read, "Observation", NOW);
    assert_eq!(
        decide(&physician, &group_observation),
        Decision::Permit(Basis::Role)
    );
}

#[test]
fn unknown_types_facility_and_labels() {
    let physician = principal(Role::Physician);
    assert_eq!(
        decide(
            &physician,
            &Action::new(Interaction::Read, "Observacion", NOW)
        ),
        Decision::Deny(DenyReason::UnknownResourceType)
    );
    assert_eq!(
        decide(&physician, &Action::new(Interaction::Read, "patient", NOW)),
        Decision::Deny(DenyReason::UnknownResourceType)
    );
    let mut homeless = principal(Role::Nurse);
    homeless.clues = None;
    assert_eq!(
        decide(
            &homeless,
            &Action::new(Interaction::Read, "Organization", NOW)
        ),
        Decision::Deny(DenyReason::NoFacility)
    );
    homeless.clues = Some("  ".into());
    assert_eq!(
        decide(
            &homeless,
            &Action::new(Interaction::Read, "Organization", NOW)
        ),
        Decision::Deny(DenyReason::NoFacility)
    );
    // `V` (very restricted) demographics need a care relationship even at the front desk.
    let receptionist = principal(Role::Receptionist);
    let very_restricted = [Coding::new(crate::systems::V3_CONFIDENTIALITY, "V")];
    let restricted = [Coding::new(crate::systems::V3_CONFIDENTIALITY, "R")];
    let patient_read = |labels, care| Action {
        patient_compartment_of_target: Some("p1"),
        security_labels: labels,
        care_relationship: care,
        ..Action::new(Interaction::Read, "Patient", NOW)
    };
    assert_eq!(
        decide(
            &receptionist,
            &patient_read(&very_restricted, CareRelationship::NONE)
        ),
        Decision::Deny(DenyReason::NoCareRelationship)
    );
    assert!(decide(&receptionist, &patient_read(&very_restricted, WITH_CARE)).is_permit());
    assert!(
        decide(
            &receptionist,
            &patient_read(&restricted, CareRelationship::NONE)
        )
        .is_permit()
    );
}

fn deny_facility_consent() -> Consent {
    Consent::parse(&format!(
        r#"{{"resourceType":"Consent","status":"active",
            "scope":{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}}]}},
            "patient":{{"reference":"Patient/p1"}},
            "provision":{{"type":"permit","provision":[{{"type":"deny",
               "actor":[{{"role":{{"text":"x"}},"reference":{{"identifier":{{"system":"{}","value":"{CLUES}"}}}}}}],
               "securityLabel":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}}]}}]}}}}"#,
        mexico::systems::CLUES
    ))
    .unwrap()
}

#[test]
fn consent_restricts_reads_unless_break_glass() {
    let consents = [deny_facility_consent()];
    let psy = [Coding::act_code("PSY")];
    let mut physician = principal(Role::Physician);
    let action = |interaction, labels| Action {
        patient_compartment_of_target: Some("p1"),
        security_labels: labels,
        care_relationship: WITH_CARE,
        consents: &consents,
        ..Action::new(interaction, "Condition", NOW)
    };
    assert_eq!(
        decide(&physician, &action(Interaction::Read, &psy)),
        Decision::Deny(DenyReason::ConsentRestricted)
    );
    assert!(decide(&physician, &action(Interaction::Read, &[])).is_permit());
    // Writes are not disclosure.
    assert!(decide(&physician, &action(Interaction::Create, &psy)).is_permit());
    // Another facility is not named by the consent.
    let mut elsewhere = principal(Role::Physician);
    elsewhere.clues = Some("JCSSA000001".into());
    assert!(decide(&elsewhere, &action(Interaction::Read, &psy)).is_permit());
    // Break-glass is the emergency exception.
    physician.break_glass.push(grant("p1", NOW - 1));
    assert_eq!(
        decide(&physician, &action(Interaction::Read, &psy)),
        Decision::Permit(Basis::BreakGlass)
    );
    // The patient and integrations are not bound by it.
    let patient = principal(Role::Patient);
    assert!(decide(&patient, &action(Interaction::Read, &psy)).is_permit());
    assert!(decide(&principal(Role::System), &action(Interaction::Read, &psy)).is_permit());
}

/// The crate docs' table is the same as `MATRIX`.
#[test]
fn crate_docs_table_matches_matrix() {
    let docs = include_str!("../lib.rs");
    let rows: Vec<Vec<String>> = docs
        .lines()
        .filter_map(|line| line.strip_prefix("//! | "))
        .map(|row| {
            row.trim_end_matches(" |")
                .split(" | ")
                .map(str::to_owned)
                .collect()
        })
        .collect();
    let header = &rows[0];
    assert_eq!(header.len(), 1 + Category::ALL.len());
    for (idx, category) in Category::ALL.iter().enumerate() {
        assert_eq!(header[idx + 1], category.as_str());
    }
    for (role, letters) in MATRIX {
        let row = rows
            .iter()
            .find(|row| row[0] == role.as_str())
            .unwrap_or_else(|| panic!("no docs row for {role}"));
        for (idx, want) in letters.iter().enumerate() {
            let want = if want.is_empty() { "–" } else { want };
            assert_eq!(row[idx + 1], want, "{role} {:?}", Category::ALL[idx]);
        }
    }
}

#[test]
fn operations_by_role() {
    let table = [
        (Operation::ReadAggregates, vec![Role::Epidemiologist]),
        (
            Operation::ReadReports,
            vec![Role::Epidemiologist, Role::System],
        ),
        (Operation::ManageUsers, vec![Role::Admin]),
        (Operation::IssueTokens, vec![Role::Admin]),
        (Operation::ReviewAudit, vec![Role::Auditor, Role::Admin]),
        (
            Operation::RequestBreakGlass,
            vec![Role::Physician, Role::Nurse],
        ),
        (
            Operation::BulkExport,
            vec![Role::System, Role::Admin, Role::Physician],
        ),
    ];
    for (operation, allowed) in table {
        for role in Role::ALL {
            assert_eq!(
                decide_operation(&principal(role), operation).is_permit(),
                allowed.contains(&role),
                "{operation:?} {role}"
            );
        }
    }
}

#[test]
fn deny_messages_are_bilingual_and_name_no_target() {
    let all = [
        DenyReason::UnknownResourceType,
        DenyReason::AuditReadOnly,
        DenyReason::ScopeMissing,
        DenyReason::RoleNotPermitted,
        DenyReason::NurseWriteOutsideVitalSigns,
        DenyReason::NoFacility,
        DenyReason::NoPatientLinked,
        DenyReason::NotOwnRecord,
        DenyReason::OutsideLaunchPatient,
        DenyReason::NoCareRelationship,
        DenyReason::ConsentRestricted,
    ];
    for reason in all {
        assert!(!reason.message_es().is_empty());
        assert!(!reason.message_en().is_empty());
        assert_ne!(reason.message_es(), reason.message_en());
    }
}

/// Issue 17: a patient books their own appointments from agendas that belong to no patient;
/// they read those agendas but never write them, and book for nobody else.
#[test]
fn patient_reads_agendas_and_books_only_for_themself() {
    let me = principal(Role::Patient);
    for resource_type in ["Slot", "Schedule"] {
        for interaction in [Interaction::Read, Interaction::Search] {
            let action = Action::new(interaction, resource_type, NOW);
            assert!(
                decide(&me, &action).is_permit(),
                "{resource_type} {interaction:?}"
            );
        }
        for interaction in [
            Interaction::Create,
            Interaction::Update,
            Interaction::Delete,
        ] {
            let action = Action::new(interaction, resource_type, NOW);
            assert_eq!(
                decide(&me, &action),
                Decision::Deny(DenyReason::NotOwnRecord),
                "{resource_type} {interaction:?}"
            );
        }
    }
    let own = Action {
        patient_compartment_of_target: Some("p1"),
        ..Action::new(Interaction::Create, "Appointment", NOW)
    };
    assert_eq!(decide(&me, &own), Decision::Permit(Basis::OwnRecord));
    let other = Action {
        patient_compartment_of_target: Some("p2"),
        ..Action::new(Interaction::Create, "Appointment", NOW)
    };
    assert_eq!(
        decide(&me, &other),
        Decision::Deny(DenyReason::NotOwnRecord)
    );
    // With the default token scopes, not only the test's `patient/*.cruds`.
    let default = Principal {
        scopes: crate::token::default_scopes(Role::Patient).unwrap(),
        ..principal(Role::Patient)
    };
    assert!(decide(&default, &own).is_permit());
    let slot_read = Action::new(Interaction::Read, "Slot", NOW);
    assert!(decide(&default, &slot_read).is_permit());
    let slot_write = Action::new(Interaction::Update, "Slot", NOW);
    assert!(!decide(&default, &slot_write).is_permit());
}

/// Issue 17: the queue's steps write the visit's Encounter for reception and nursing, only
/// through their operation and only with a care relationship; they open nothing else.
#[test]
fn queue_steps_write_the_encounter_with_a_care_relationship_only() {
    let step = |_role: Role, interaction, resource_type, care| Action {
        patient_compartment_of_target: Some("p1"),
        care_relationship: care,
        care_event: Some(CareEvent::QueueStep),
        ..Action::new(interaction, resource_type, NOW)
    };
    for role in [Role::Receptionist, Role::Nurse, Role::Physician] {
        let who = principal(role);
        for interaction in [Interaction::Create, Interaction::Update] {
            assert_eq!(
                decide(&who, &step(role, interaction, "Encounter", WITH_CARE)),
                Decision::Permit(Basis::CareRelationship),
                "{role} {interaction:?}"
            );
            assert_eq!(
                decide(
                    &who,
                    &step(role, interaction, "Encounter", CareRelationship::NONE)
                ),
                Decision::Deny(DenyReason::NoCareRelationship),
                "{role} {interaction:?}"
            );
        }
        // Not a delete, and not another clinical type.
        assert!(
            !decide(
                &who,
                &step(role, Interaction::Delete, "Encounter", WITH_CARE)
            )
            .is_permit()
        );
        if role != Role::Physician {
            assert!(
                !decide(
                    &who,
                    &step(role, Interaction::Create, "Condition", WITH_CARE)
                )
                .is_permit(),
                "{role}"
            );
            // Without the operation, the ordinary rule.
            let plain = Action {
                care_event: None,
                ..step(role, Interaction::Update, "Encounter", WITH_CARE)
            };
            assert!(!decide(&who, &plain).is_permit(), "{role}");
        }
    }
    let patient = principal(Role::Patient);
    assert!(
        !decide(
            &patient,
            &step(Role::Patient, Interaction::Update, "Encounter", WITH_CARE)
        )
        .is_permit()
    );
}

/// Subscriptions (issue 17): staff, administrators and integrations keep them; each one is its
/// owner's alone, administrators excepted (they switch off a misbehaving one).
#[test]
fn subscriptions_belong_to_their_owner() {
    use super::{may_subscribe, subscription_access};
    for role in [
        Role::Physician,
        Role::Nurse,
        Role::Receptionist,
        Role::Admin,
        Role::System,
    ] {
        assert!(may_subscribe(role), "{role}");
    }
    for role in [
        Role::Patient,
        Role::Epidemiologist,
        Role::Auditor,
        Role::Steward,
    ] {
        assert!(!may_subscribe(role), "{role}");
    }
    let mut owner = principal(Role::Receptionist);
    owner.user = "recepcion".into();
    let mut colleague = principal(Role::Physician);
    colleague.user = "medica".into();
    assert!(subscription_access(&owner, Some("recepcion")));
    assert!(!subscription_access(&colleague, Some("recepcion")));
    assert!(!subscription_access(&colleague, None));
    assert!(subscription_access(
        &principal(Role::Admin),
        Some("recepcion")
    ));
}

/// Which query restrictions bound a permitted read: those of the scopes `decide` used. A
/// `user/` restriction still bounds reads outside the launch patient when an unrestricted
/// `patient/` scope covers the inside; inside, the unrestricted one lifts it.
#[test]
fn scope_restrictions_are_those_of_the_scopes_that_apply() {
    use super::scope_restrictions;
    let on = |interaction, resource_type, target: Option<&'static str>| Action {
        patient_compartment_of_target: target,
        ..Action::new(interaction, resource_type, NOW)
    };
    let mut physician = principal(Role::Physician);
    physician.scopes =
        Scopes::parse("user/Observation.rs?category=laboratory patient/Observation.rs").unwrap();
    physician.patient_id = Some("p1".into());
    let inside = on(Interaction::Read, "Observation", Some("p1"));
    let outside = on(Interaction::Read, "Observation", Some("p2"));
    assert_eq!(scope_restrictions(&physician, &inside), None);
    let bound = scope_restrictions(&physician, &outside).unwrap();
    assert_eq!(
        bound,
        vec![&[("category".to_string(), "laboratory".to_string())][..]]
    );
    // Without a launch patient only the user/ scope applies, inside or not.
    physician.patient_id = None;
    assert!(scope_restrictions(&physician, &inside).is_some());
    // A system principal: its system/ scopes; an unrestricted one for the type lifts the bound.
    let mut service = principal(Role::System);
    service.scopes = Scopes::parse("system/Observation.rs?category=laboratory").unwrap();
    assert!(decide(&service, &inside).is_permit());
    assert!(scope_restrictions(&service, &inside).is_some());
    assert_eq!(
        decide(
            &service,
            &on(Interaction::Update, "Observation", Some("p1"))
        ),
        Decision::Deny(DenyReason::ScopeMissing),
        "a restricted scope grants no writes"
    );
    service.scopes =
        Scopes::parse("system/Observation.rs?category=laboratory system/*.rs").unwrap();
    assert_eq!(scope_restrictions(&service, &inside), None);
    // Unrestricted principals are never bounded.
    assert_eq!(
        scope_restrictions(&principal(Role::Physician), &inside),
        None
    );
}
