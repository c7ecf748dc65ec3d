//! What the forms write: the FHIR shapes, CURP hints, escaping.

use super::*;

fn gloria() -> RegisterForm {
    RegisterForm {
        given: "Gloria".into(),
        first_surname: "Hernández".into(),
        second_surname: "García".into(),
        birth_date: "1956-04-27".into(),
        sex: "M".into(),
        birth_state: "VZ".into(),
        ..RegisterForm::default()
    }
}

#[test]
fn the_typed_data_imply_the_curp_prefix() {
    assert_eq!(
        gloria().implied_curp_prefix().as_deref(),
        Some("HEGG560427MVZRRL")
    );
    let without_state = RegisterForm {
        birth_state: String::new(),
        ..gloria()
    };
    assert_eq!(
        without_state.implied_curp_prefix().as_deref(),
        Some("HEGG560427M")
    );
    let no_date = RegisterForm {
        birth_date: String::new(),
        ..gloria()
    };
    assert_eq!(no_date.implied_curp_prefix(), None);
}

#[test]
fn a_patient_without_curp_is_flagged_pending_and_keeps_its_birth_state() {
    let patient = gloria().patient(Some("Organization/o1"));
    assert_eq!(patient["name"][0]["family"], "Hernández García");
    assert_eq!(patient["gender"], "female");
    assert!(patient.get("identifier").is_none());
    let urls: Vec<&str> = patient["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            mexico::systems::EXT_CURP_PENDING,
            mexico::systems::EXT_BIRTH_STATE
        ]
    );
    let with_curp = RegisterForm {
        curp: " hegg560427mvzrrl04 ".into(),
        ..gloria()
    }
    .patient(None);
    assert_eq!(with_curp["identifier"][0]["value"], "HEGG560427MVZRRL04");
}

fn session() -> SessionInfo {
    SessionInfo {
        secret: "t".into(),
        csrf: "c".into(),
        username: "medica".into(),
        display_name: "Dra. Ana López".into(),
        role: "medico".into(),
        role_label_es: "Médica".into(),
        role_label_en: "Physician".into(),
        practitioner: None,
        organization: Some("Organization/o1".into()),
        facility_name: "Centro Uno".into(),
        facility_clues: "MSIMB000001".into(),
        requester: ehr::Requester::local_system("pruebas"),
    }
}

#[test]
fn registration_refuses_future_and_impossible_dates_and_overlong_names() {
    let today = crate::dates::days_from_civil(2026, 11, 25);
    assert!(
        gloria().check(today).is_empty(),
        "{:?}",
        gloria().check(today)
    );
    let field_of = |form: RegisterForm| -> Vec<&'static str> {
        form.check(today).into_iter().map(|(f, _, _)| f).collect()
    };
    let future = RegisterForm {
        birth_date: "2026-11-26".into(),
        ..gloria()
    };
    assert_eq!(field_of(future.clone()), ["birth_date"]);
    assert!(future.check(today)[0].1.contains("futura"));
    let impossible = RegisterForm {
        birth_date: "2019-02-30".into(),
        ..gloria()
    };
    assert!(impossible.check(today)[0].1.contains("no existe"));
    let long = RegisterForm {
        given: "Ximena".repeat(500),
        ..gloria()
    };
    let problems = long.check(today);
    assert_eq!(problems[0].0, "given");
    assert!(problems[0].1.contains("60 caracteres"), "{problems:?}");
    let bad_phone = RegisterForm {
        phone: "llámame".into(),
        ..gloria()
    };
    assert_eq!(field_of(bad_phone), ["phone"]);
    assert_eq!(
        check_birth_date("1956-04-27", today),
        Ok(Some(crate::dates::days_from_civil(1956, 4, 27)))
    );
}

#[test]
fn a_referral_names_both_facilities_with_their_clues() {
    let form = ReferForm {
        to: "Organization/o2".into(),
        reason: "Valoración".into(),
        ..ReferForm::default()
    };
    let request = referral(&ReferInput {
        patient_id: "p1",
        form: &form,
        to_name: "Hospital Dos",
        to_clues: "MSIMB000002",
        diagnosis: None,
        session: &session(),
        now: "2026-11-25T09:00:00-06:00",
    });
    assert_eq!(request["status"], "active");
    assert_eq!(request["requester"]["reference"], "Organization/o1");
    assert_eq!(request["performer"][0]["reference"], "Organization/o2");
    let notes = request["note"].to_string();
    assert!(
        notes.contains("MSIMB000001") && notes.contains("MSIMB000002"),
        "{notes}"
    );
}
