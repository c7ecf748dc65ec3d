//! What each role is offered, asked of the guard on a real store: the answers must be the
//! write guard's own (an offered write succeeds, a refused one is not offered).

use std::sync::Arc;

use auth::password::HashCost;
use auth::role::Role;
use fhir::Json;

use super::RecordAbilities;
use crate::{CareEventRequest, Ehr, NewAccount, Requester, SystemClock};

const CLINIC: &str = "DFSSA001234";
const OTHER: &str = "MCSSA000011";

fn json(text: &str) -> Json {
    fhir::json::parse_str(text).unwrap()
}

struct World {
    ehr: Ehr,
    /// Registered at the clinic.
    ours: String,
    /// Registered at the other clinic, never seen at ours.
    theirs: String,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = store_sqlite::SqliteStore::open(dir.path()).unwrap();
    let ehr = Ehr::new(store, Arc::new(SystemClock), "prueba");
    let tool = Requester::local_system("pruebas");
    let mut orgs = Vec::new();
    for clues in [CLINIC, OTHER] {
        let org = format!(
            r#"{{"resourceType":"Organization","name":"Unidad {clues}","identifier":[{{"system":"{}","value":"{clues}"}}]}}"#,
            mexico::systems::CLUES
        );
        orgs.push(
            ehr.create(&tool, "Organization", json(&org), None)
                .unwrap()
                .resource
                .id,
        );
    }
    let patient = |org: &str, family: &str| {
        let body = format!(
            r#"{{"resourceType":"Patient","name":[{{"family":"{family}","given":["Ana"]}}],"gender":"female","birthDate":"1980-02-03","managingOrganization":{{"reference":"Organization/{org}"}}}}"#
        );
        ehr.create(&tool, "Patient", json(&body), None)
            .unwrap()
            .resource
            .id
    };
    let ours = patient(&orgs[0], "Pech");
    let theirs = patient(&orgs[1], "Canul");
    for (user, role) in [
        ("medica", Role::Physician),
        ("enfermero", Role::Nurse),
        ("recepcion", Role::Receptionist),
        ("auditora", Role::Auditor),
    ] {
        ehr.add_account(
            &tool,
            NewAccount {
                username: user.into(),
                role,
                clues: role.requires_clues().then(|| CLINIC.to_string()),
                practitioner_id: None,
                patient_id: None,
                display_name: user.into(),
            },
            "Clave-de-prueba-2026",
            HashCost::TEST_ONLY,
        )
        .unwrap();
    }
    World {
        ehr,
        ours,
        theirs,
        _dir: dir,
    }
}

fn who(world: &World, user: &str) -> Requester {
    world.ehr.requester_for_session(user, 0, None).unwrap()
}

fn abilities(world: &World, user: &str, patient: &str) -> RecordAbilities {
    world
        .ehr
        .record_abilities(&who(world, user), patient)
        .unwrap()
}

#[test]
fn each_role_is_offered_what_the_guard_permits() {
    let world = world();
    let physician = abilities(&world, "medica", &world.ours);
    assert!(physician.read_record && physician.care_relationship && physician.registered_here);
    assert!(physician.write_note && physician.prescribe && physician.order);
    assert!(physician.record_vitals && physician.immunize && physician.edit_allergies);
    assert!(!physician.start_care && !physician.move_registration && !physician.break_glass);

    let nurse = abilities(&world, "enfermero", &world.ours);
    assert!(nurse.read_record && nurse.record_vitals && nurse.immunize);
    assert!(!nurse.write_note && !nurse.prescribe && !nurse.order && !nurse.edit_allergies);

    let reception = abilities(&world, "recepcion", &world.ours);
    assert!(!reception.read_record && !reception.write_note && !reception.record_vitals);
    assert!(reception.edit_demographics);

    // A patient of another clinic: break-glass to read, the care events to write.
    let stranger = abilities(&world, "medica", &world.theirs);
    assert!(!stranger.read_record && !stranger.write_note);
    assert!(stranger.break_glass && stranger.start_care && stranger.move_registration);
    let reception = abilities(&world, "recepcion", &world.theirs);
    assert!(reception.start_care && reception.move_registration && !reception.break_glass);
    let nurse = abilities(&world, "enfermero", &world.theirs);
    assert!(nurse.start_care && !nurse.move_registration);

    // Staff without a facility role are offered nothing about a patient.
    let auditor = world
        .ehr
        .record_abilities(&who(&world, "auditora"), &world.ours);
    assert!(
        auditor
            .map(|a| !a.write_note && !a.read_record)
            .unwrap_or(true)
    );
}

#[test]
fn break_glass_reads_but_only_a_care_start_opens_writes() {
    let world = world();
    let physician = who(&world, "medica");
    world
        .ehr
        .break_glass(
            &physician,
            &world.theirs,
            "Paciente inconsciente traído a urgencias",
        )
        .unwrap();
    let opened = abilities(&world, "medica", &world.theirs);
    assert!(opened.read_record, "break-glass reads");
    assert!(!opened.write_note && !opened.care_relationship && opened.start_care);
    world
        .ehr
        .start_care(
            &physician,
            &CareEventRequest {
                patient_id: world.theirs.clone(),
                reason: "Se queda en observación en esta unidad".into(),
            },
        )
        .unwrap();
    let caring = abilities(&world, "medica", &world.theirs);
    assert!(caring.write_note && caring.care_relationship && !caring.start_care);
    // What is offered then succeeds: a note's Encounter is accepted.
    let encounter = format!(
        r#"{{"resourceType":"Encounter","status":"finished","class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}},"subject":{{"reference":"Patient/{}"}}}}"#,
        world.theirs
    );
    world
        .ehr
        .create(&physician, "Encounter", json(&encounter), None)
        .unwrap();
}
