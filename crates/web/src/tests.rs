//! The UI in process: the real router over a real SQLite store and the real `ehr` use cases,
//! driven with plain HTTP requests (no browser).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ehr::Clock as _;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

/// 2026-11-25T15:00:00Z.
const NOW_MS: i64 = 1_795_618_800_000;

/// The node's clock, moved by the tests (session timeouts).
struct TestClock(std::sync::atomic::AtomicI64);

impl ehr::Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

struct World {
    router: axum::Router,
    ehr: ehr::Ehr,
    clock: Arc<TestClock>,
    sessions: Arc<EhrSessions>,
    patient: String,
    stranger: String,
    neighbour: String,
    _dir: tempfile::TempDir,
}

fn create(ehr: &ehr::Ehr, resource: Value) -> String {
    let resource_type = resource["resourceType"].as_str().unwrap().to_string();
    let json = fhir::json::parse_str(&resource.to_string()).unwrap();
    ehr.create(
        &ehr::Requester::local_system("pruebas"),
        &resource_type,
        json,
        None,
    )
    .unwrap()
    .resource
    .id
}

/// The password of the test accounts (`medica`, `enfermero`).
pub(crate) const PASSWORD: &str = "Clave-de-prueba-2026";

/// Real accounts (Argon2id at test cost) and a fresh signing key: the sessions of a node.
fn sessions(ehr: &ehr::Ehr, clues: &str) -> Arc<EhrSessions> {
    let operator = ehr::Requester::local_system("pruebas");
    for (user, role, name) in [
        ("medica", auth::role::Role::Physician, "Dra. Ana López Ruiz"),
        ("enfermero", auth::role::Role::Nurse, "Enf. Luis Pérez Soto"),
    ] {
        let account = ehr::NewAccount {
            username: user.into(),
            role,
            clues: Some(clues.into()),
            practitioner_id: None,
            patient_id: None,
            display_name: name.into(),
        };
        ehr.add_account(
            &operator,
            account,
            PASSWORD,
            auth::password::HashCost::TEST_ONLY,
        )
        .unwrap();
    }
    Arc::new(EhrSessions::new(ehr.clone()))
}

fn organization(ehr: &ehr::Ehr, name: &str, clues: &str) -> String {
    create(
        ehr,
        json!({"resourceType": "Organization", "name": name,
               "identifier": [{"system": mexico::systems::CLUES, "value": clues}]}),
    )
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = store_sqlite::SqliteStore::open(dir.path()).unwrap();
    let clock = Arc::new(TestClock(std::sync::atomic::AtomicI64::new(NOW_MS)));
    let ehr = ehr::Ehr::new(store, clock.clone(), "prueba");
    let clinic = organization(&ehr, "Centro de Salud Uno", "MSIMB000671");
    let hospital = organization(&ehr, "Hospital General Dos", "MSIMB000584");
    let patient = create(
        &ehr,
        json!({"resourceType": "Patient",
               "identifier": [{"use": "official", "system": mexico::systems::CURP, "value": "HEGG560427MVZRRL04"}],
               "name": [{"use": "official", "family": "Hernández García", "given": ["Gloria"]}],
               "gender": "female", "birthDate": "1956-04-27",
               "managingOrganization": {"reference": format!("Organization/{clinic}")}}),
    );
    let stranger = create(
        &ehr,
        json!({"resourceType": "Patient",
               "name": [{"use": "official", "family": "Uc Canché", "given": ["Mateo"]}],
               "gender": "male", "birthDate": "1990-01-02",
               "managingOrganization": {"reference": format!("Organization/{hospital}")}}),
    );
    let neighbour = create(
        &ehr,
        json!({"resourceType": "Patient",
               "name": [{"use": "official", "family": "Ek Pool", "given": ["Rosa"]}],
               "gender": "female", "birthDate": "1985-06-07",
               "managingOrganization": {"reference": format!("Organization/{clinic}")}}),
    );
    let subject = json!({"reference": format!("Patient/{patient}")});
    for (org, start) in [
        (&clinic, "2026-03-01T10:00:00-06:00"),
        (&hospital, "2026-11-20T10:00:00-06:00"),
    ] {
        let encounter = create(
            &ehr,
            json!({"resourceType": "Encounter", "status": "finished",
                   "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                   "subject": subject, "period": {"start": start},
                   "serviceProvider": {"reference": format!("Organization/{org}")}}),
        );
        if org == &hospital {
            create(
                &ehr,
                json!({"resourceType": "Observation", "status": "final",
                       "code": {"coding": [{"system": "http://loinc.org", "code": "2339-0"}], "text": "Glucosa"},
                       "subject": subject, "encounter": {"reference": format!("Encounter/{encounter}")},
                       "effectiveDateTime": start,
                       "valueQuantity": {"value": 187, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}}),
            );
        }
    }
    create(
        &ehr,
        json!({"resourceType": "AllergyIntolerance", "patient": subject,
               "criticality": "high",
               "code": {"text": "Penicilina <script>alert(1)</script>"}}),
    );
    let sessions = sessions(&ehr, "MSIMB000671");
    World {
        router: router(ehr.clone(), sessions.clone(), WebConfig::default()).unwrap(),
        ehr,
        clock,
        sessions,
        patient,
        stranger,
        neighbour,
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    csp: String,
    location: String,
    cookie: String,
    body: String,
}

async fn send(world: &World, request: Request<Body>) -> Reply {
    let response = world.router.clone().oneshot(request).await.unwrap();
    let header = |name: header::HeaderName| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (location, cookie) = (header(header::LOCATION), header(header::SET_COOKIE));
    let csp = header(header::CONTENT_SECURITY_POLICY);
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        csp,
        location,
        cookie,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// What a browser sends back: its cookies, and the CSRF token of the page it is on.
trait Browser {
    fn cookie(&self) -> String;
    fn csrf(&self) -> String;
}

/// A bare cookie header (or `""` for none), without any page's token.
impl Browser for str {
    fn cookie(&self) -> String {
        self.to_string()
    }
    fn csrf(&self) -> String {
        String::new()
    }
}

/// A signed-in browser.
struct Session {
    cookie: String,
    csrf: String,
}

impl Browser for Session {
    fn cookie(&self) -> String {
        self.cookie.clone()
    }
    fn csrf(&self) -> String {
        self.csrf.clone()
    }
}

fn get(path: &str, browser: &(impl Browser + ?Sized)) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, browser.cookie())
        .body(Body::empty())
        .unwrap()
}

/// A form post as the browser sends it: with the page's CSRF token, if it has one.
fn post(path: &str, browser: &(impl Browser + ?Sized), form: &str) -> Request<Body> {
    let csrf = browser.csrf();
    let body = if csrf.is_empty() {
        form.to_string()
    } else {
        format!("{form}&csrf={csrf}")
    };
    Request::post(path)
        .header(header::COOKIE, browser.cookie())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

/// The value of the hidden CSRF field of a page (every form carries the same one).
fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// The `name=value` of a `Set-Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_string()
}

/// The sign-in page as a browser first sees it: its pre-session cookie and the form's token.
async fn login_page(world: &World) -> Session {
    let page = send(world, get("/ui/entrar", "")).await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = cookie_pair(&page.cookie);
    assert!(cookie.starts_with("expediente_pre="), "{}", page.cookie);
    Session {
        cookie,
        csrf: csrf_of(&page.body),
    }
}

async fn sign_in_as(world: &World, user: &str) -> Session {
    let login = login_page(world).await;
    let reply = send(
        world,
        post(
            "/ui/entrar",
            &login,
            &format!("user={user}&password=Clave-de-prueba-2026&next=/ui/buscar"),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let cookie = cookie_pair(&reply.cookie);
    let page = send(world, get("/ui/buscar", cookie.as_str())).await;
    let csrf = csrf_of(&page.body);
    assert!(!csrf.is_empty(), "{}", page.body);
    Session { cookie, csrf }
}

/// The status of the search page for a browser: 200 while its session is open, a redirect to
/// sign-in once it has ended.
async fn page(world: &World, browser: &Session) -> StatusCode {
    send(world, get("/ui/buscar", browser)).await.status
}

async fn sign_in(world: &World) -> Session {
    sign_in_as(world, "medica").await
}

#[tokio::test]
async fn pages_need_a_session_and_sign_in_sets_a_strict_http_only_cookie() {
    let world = world();
    let reply = send(&world, get("/ui/buscar", "")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location, "/ui/entrar?next=%2Fui%2Fbuscar");
    let login = login_page(&world).await;
    let wrong = send(&world, post("/ui/entrar", &login, "user=medica&password=x")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Usuario o contraseña incorrectos"));
    let ok = send(
        &world,
        post(
            "/ui/entrar",
            &login,
            "user=medica&password=Clave-de-prueba-2026&next=//evil.example/",
        ),
    )
    .await;
    // Never redirected off the node after sign-in.
    assert_eq!(ok.location, "/ui/buscar");
    assert!(
        ok.cookie.contains("HttpOnly") && ok.cookie.contains("SameSite=Strict"),
        "{}",
        ok.cookie
    );
    let cookie = cookie_pair(&ok.cookie);
    let page = send(&world, get("/ui/buscar", cookie.as_str())).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.csp.contains("frame-ancestors 'none'") && page.csp.contains("form-action 'self'"));
    assert!(page.body.contains("Dra. Ana López Ruiz") && page.body.contains("MSIMB000671"));
    let english = send(&world, get("/ui/buscar?lang=en", cookie.as_str())).await;
    assert!(english.body.contains("<html lang=\"en\">") && english.body.contains("Find a patient"));
}

/// The session is the server's, opaque, and ends by itself: after 30 minutes idle, after 8
/// hours whatever its use, at sign-out, and at a password reset or a disable.
#[tokio::test]
async fn sessions_are_opaque_and_end_idle_at_the_shift_end_at_reset_and_at_sign_out() {
    let world = world();
    let session = sign_in(&world).await;
    let secret = session.cookie.split_once('=').unwrap().1.to_string();
    // Not a JWT: no dots, 43 base64url characters of randomness.
    assert_eq!(secret.len(), 43);
    assert!(!secret.contains('.'));
    // Idle: used every 29 minutes it lives on; 30 minutes untouched ends it.
    for _ in 0..4 {
        world.clock.0.fetch_add(
            session::SESSION_IDLE_MS - 60_000,
            std::sync::atomic::Ordering::Relaxed,
        );
        assert_eq!(page(&world, &session).await, StatusCode::OK);
    }
    world.clock.0.fetch_add(
        session::SESSION_IDLE_MS,
        std::sync::atomic::Ordering::Relaxed,
    );
    assert_eq!(page(&world, &session).await, StatusCode::SEE_OTHER);
    // Absolute: in use all along, it still ends 8 hours after sign-in.
    let session = sign_in(&world).await;
    let started = world.clock.now_ms();
    while world.clock.now_ms() < started + session::SESSION_ABSOLUTE_MS - 600_000 {
        world
            .clock
            .0
            .fetch_add(600_000, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(page(&world, &session).await, StatusCode::OK);
    }
    world
        .clock
        .0
        .fetch_add(600_000, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(page(&world, &session).await, StatusCode::SEE_OTHER);
    // A password reset ends the user's open sessions at once, not another user's.
    let medica = sign_in(&world).await;
    let enfermero = sign_in_as(&world, "enfermero").await;
    world
        .ehr
        .change_account(
            &ehr::Requester::local_system("pruebas"),
            "medica",
            None,
            Some("Otra-clave-segura-2027"),
            auth::password::HashCost::TEST_ONLY,
        )
        .unwrap();
    assert_eq!(page(&world, &medica).await, StatusCode::SEE_OTHER);
    assert_eq!(page(&world, &enfermero).await, StatusCode::OK);
    // So does a disable.
    world
        .ehr
        .change_account(
            &ehr::Requester::local_system("pruebas"),
            "enfermero",
            Some(true),
            None,
            auth::password::HashCost::TEST_ONLY,
        )
        .unwrap();
    assert_eq!(page(&world, &enfermero).await, StatusCode::SEE_OTHER);
    // Sign-out ends it on the server, whatever the browser keeps.
    world
        .ehr
        .change_account(
            &ehr::Requester::local_system("pruebas"),
            "enfermero",
            Some(false),
            Some("Clave-de-prueba-2026"),
            auth::password::HashCost::TEST_ONLY,
        )
        .unwrap();
    let again = sign_in_as(&world, "enfermero").await;
    let out = send(&world, post("/ui/salir", &again, "")).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(page(&world, &again).await, StatusCode::SEE_OTHER);
    assert_eq!(world.sessions.open_count(world.clock.now_ms()), 0);
}

/// Every POST needs the page's token and this node's origin; the sign-in form needs the token
/// of the browser's own pre-session (login CSRF).
#[tokio::test]
async fn posts_without_the_token_or_from_another_origin_are_refused() {
    let world = world();
    let session = sign_in(&world).await;
    let path = format!("/ui/pacientes/{}/acceso-emergencia", world.stranger);
    let form = "reason=Paciente+inconsciente+en+urgencias+sin+familiares";
    // No token, a wrong one, another session's.
    let other = sign_in_as(&world, "enfermero").await;
    for browser in [
        Session {
            cookie: session.cookie.clone(),
            csrf: String::new(),
        },
        Session {
            cookie: session.cookie.clone(),
            csrf: "x".repeat(43),
        },
        Session {
            cookie: session.cookie.clone(),
            csrf: other.csrf.clone(),
        },
    ] {
        let refused = send(&world, post(&path, &browser, form)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        assert!(
            refused.body.contains("El formulario venció"),
            "{}",
            refused.body
        );
    }
    // The right token from another origin (a sibling host is same-site for cookies).
    for (name, value) in [
        ("origin", "http://evil.localhost"),
        ("origin", "null"),
        ("sec-fetch-site", "same-site"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let mut request = post(&path, &session, form);
        request
            .headers_mut()
            .insert(header::HOST, "localhost".parse().unwrap());
        request.headers_mut().insert(name, value.parse().unwrap());
        let refused = send(&world, request).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(refused.body.contains("no proviene de este sitio"));
    }
    // Nothing was opened by the refused posts.
    let log = send(
        &world,
        get(
            &format!("/ui/pacientes/{}/bitacora", world.stranger),
            &session,
        ),
    )
    .await;
    assert!(!log.body.contains("Paciente inconsciente"));
    // The right token from this origin passes.
    let mut request = post(&path, &session, form);
    request
        .headers_mut()
        .insert(header::HOST, "localhost".parse().unwrap());
    request
        .headers_mut()
        .insert("origin", "http://localhost".parse().unwrap());
    assert_eq!(send(&world, request).await.status, StatusCode::SEE_OTHER);
    // Login CSRF: a sign-in post without the pre-session's token, or with another browser's.
    let credentials = "user=medica&password=Clave-de-prueba-2026";
    let bare = send(&world, post("/ui/entrar", "", credentials)).await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    let mine = login_page(&world).await;
    let theirs = login_page(&world).await;
    let crossed = Session {
        cookie: mine.cookie.clone(),
        csrf: theirs.csrf.clone(),
    };
    assert_eq!(
        send(&world, post("/ui/entrar", &crossed, credentials))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&world, post("/ui/entrar", &mine, credentials))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    // A form too large for any screen is refused before it is parsed.
    let huge = format!("text={}", "a".repeat(FORM_BYTES_MAX));
    let refused = send(
        &world,
        post(
            &format!("/ui/pacientes/{}/consulta", world.patient),
            &session,
            &huge,
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(refused.body.contains("excede el límite"));
}

#[tokio::test]
async fn find_by_curp_shows_where_the_patient_is_registered() {
    let world = world();
    let cookie = sign_in(&world).await;
    let reply = send(&world, get("/ui/buscar?curp=hegg560427mvzrrl04", &cookie)).await;
    assert!(
        reply
            .body
            .contains(&format!("/ui/pacientes/{}", world.patient)),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("Centro de Salud Uno (MSIMB000671)"));
    let bad = send(&world, get("/ui/buscar?curp=HEGG560427MVZRRL05", &cookie)).await;
    assert!(bad.body.contains("La CURP no es válida"));
    let by_name = send(
        &world,
        get(
            "/ui/buscar?given=Gloria&surnames=Hernandes+Garcia&birth_date=1956-04-27",
            &cookie,
        ),
    )
    .await;
    assert!(by_name.body.contains(&world.patient), "{}", by_name.body);
}

#[tokio::test]
async fn the_chart_shows_both_clinics_and_escapes_record_text() {
    let world = world();
    let cookie = sign_in(&world).await;
    let reply = send(
        &world,
        get(&format!("/ui/pacientes/{}", world.patient), &cookie),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body.contains("Centro de Salud Uno") && reply.body.contains("Hospital General Dos")
    );
    assert!(
        reply.body.contains("Penicilina &#60;script&#62;")
            || reply.body.contains("Penicilina &lt;script&gt;"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("<script>alert"));
    assert!(reply.body.contains("id=\"trend-glucose\""));
}

#[tokio::test]
async fn without_care_relationship_the_chart_asks_for_break_glass() {
    let world = world();
    let cookie = sign_in(&world).await;
    let path = format!("/ui/pacientes/{}", world.stranger);
    let refused = send(&world, get(&path, &cookie)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("id=\"break-glass\""));
    let empty = send(
        &world,
        post(&format!("{path}/acceso-emergencia"), &cookie, "reason="),
    )
    .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let opened = send(
        &world,
        post(
            &format!("{path}/acceso-emergencia"),
            &cookie,
            "reason=Paciente+inconsciente+en+urgencias+sin+familiares",
        ),
    )
    .await;
    assert_eq!(opened.location, path);
    assert_eq!(
        send(&world, get(&path, &cookie)).await.status,
        StatusCode::OK
    );
    let log = send(&world, get(&format!("{path}/bitacora"), &cookie)).await;
    assert!(
        log.body.contains("Paciente inconsciente en urgencias"),
        "{}",
        log.body
    );
}

#[tokio::test]
async fn a_repeated_lab_is_warned_before_the_signed_note_is_saved() {
    let world = world();
    let cookie = sign_in(&world).await;
    let path = format!("/ui/pacientes/{}/consulta", world.patient);
    let form = "subjective=Sed&objective=Normal&assessment=DM&dx_code=E11.9&plan=Dieta&lab=2339-0&action=sign";
    let warned = send(&world, post(&path, &cookie, form)).await;
    assert_eq!(warned.status, StatusCode::OK);
    assert!(warned.body.contains("id=\"repeat-warning\""));
    assert!(
        warned.body.contains("187") && warned.body.contains("Hospital General Dos (MSIMB000584)")
    );
    assert!(warned.body.contains("20/11/2026"));
    // The warning shown is data: one preliminary DetectedIssue, however often the form comes
    // back the same day.
    let again = send(&world, post(&path, &cookie, form)).await;
    assert!(again.body.contains("id=\"repeat-warning\""));
    let system_db = || data::Db::new(world.ehr.clone(), ehr::Requester::local_system("pruebas"));
    let warnings = |db: &data::Db| -> Vec<serde_json::Value> {
        data::everything(db, &world.patient)
            .unwrap()
            .into_iter()
            .filter(|r| {
                r["resourceType"] == "DetectedIssue"
                    && r["identifier"][0]["system"] == mexico::systems::REPEATED_LAB_WARNING
            })
            .collect()
    };
    let shown = warnings(&system_db());
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["status"], "preliminary");
    assert!(shown[0]["identifier"][0]["assigner"]["reference"].is_string());
    assert!(
        shown[0]["implicated"][0]["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with("Observation/")),
        "{}",
        shown[0]
    );
    let before = data::everything(
        &data::Db::new(world.ehr.clone(), ehr::Requester::local_system("pruebas")),
        &world.patient,
    )
    .unwrap()
    .len();
    let saved = send(
        &world,
        post(&path, &cookie, &format!("{form}&confirm_repeat=1")),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let after = data::everything(
        &data::Db::new(world.ehr.clone(), ehr::Requester::local_system("pruebas")),
        &world.patient,
    )
    .unwrap();
    let new: Vec<&str> = after[..]
        .iter()
        .filter_map(|r| r["resourceType"].as_str())
        .collect();
    assert!(after.len() >= before + 4, "{new:?}");
    let note = after
        .iter()
        .find(|r| r["resourceType"] == "Composition")
        .unwrap();
    assert_eq!(note["status"], "final");
    // Ordered anyway: the same warning, now final, names the order.
    let ordered = warnings(&system_db());
    assert_eq!(ordered.len(), 1, "{ordered:?}");
    assert_eq!(ordered[0]["id"], shown[0]["id"]);
    assert_eq!(ordered[0]["status"], "final");
    assert!(
        ordered[0]["implicated"][0]["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with("ServiceRequest/")),
        "{}",
        ordered[0]
    );
    let chart = send(
        &world,
        get(&format!("/ui/pacientes/{}", world.patient), &cookie),
    )
    .await;
    assert!(chart.body.contains("E11.9"));
    let note_id = note["id"].as_str().unwrap();
    assert!(chart.body.contains(&format!("/notas/{note_id}")));
    // An addendum appends a new signed Composition; the note itself never changes.
    let addendum_path = format!("/ui/pacientes/{}/notas/{note_id}/addendum", world.patient);
    let added = send(
        &world,
        post(&addendum_path, &cookie, "text=Corrige+la+fecha"),
    )
    .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let note_page = send(
        &world,
        get(
            &format!("/ui/pacientes/{}/notas/{note_id}", world.patient),
            &cookie,
        ),
    )
    .await;
    assert!(note_page.body.contains("Corrige la fecha"));
    assert_eq!(
        world
            .ehr
            .read(
                &ehr::Requester::local_system("pruebas"),
                "Composition",
                note_id
            )
            .unwrap()
            .version_id,
        1
    );
    // A note reached through another patient's URL is refused, even where that patient is open.
    let wrong = format!("/ui/pacientes/{}/notas/{note_id}/addendum", world.neighbour);
    assert_eq!(
        send(&world, post(&wrong, &cookie, "text=x")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn inconsistent_blood_pressure_is_refused() {
    let world = world();
    let cookie = sign_in(&world).await;
    let path = format!("/ui/pacientes/{}/consulta", world.patient);
    let form = "systolic=70&diastolic=120&dx_code=I10&action=sign";
    let refused = send(&world, post(&path, &cookie, form)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("no puede ser menor que la diastólica")
    );
}

#[tokio::test]
async fn a_duplicate_is_warned_before_registering() {
    let world = world();
    let cookie = sign_in(&world).await;
    let form = "given=Gloria&first_surname=Hernandez&second_surname=Garcia&birth_date=1956-04-27&sex=M&birth_state=VZ&curp=&action=save";
    let warned = send(&world, post("/ui/pacientes/nuevo", &cookie, form)).await;
    assert_eq!(warned.status, StatusCode::OK);
    assert!(
        warned.body.contains("id=\"duplicate-warning\""),
        "{}",
        warned.body
    );
    assert!(warned.body.contains("HEGG560427MVZRRL"));
    let saved = send(
        &world,
        post(
            "/ui/pacientes/nuevo",
            &cookie,
            &format!("{form}&not_duplicate=1"),
        ),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert!(
        saved.location.starts_with("/ui/pacientes/")
            && saved.location.ends_with("?ok=register.saved")
    );
    // The new record carries its alerts: the duplicate review the write opened, the CURP to
    // follow up.
    let chart = send(&world, get(&saved.location, &cookie)).await;
    assert!(chart.body.contains("Paciente registrado."));
    let alerts = chart.body.split("id=\"alerts\"").nth(1).unwrap_or_default();
    assert!(
        alerts.contains("Posible duplicado en revisión"),
        "{}",
        chart.body
    );
    assert!(alerts.contains("CURP pendiente"));
}

#[test]
fn every_message_key_returned_by_code_exists() {
    let tr = i18n::Tr {
        lang: i18n::Lang::En,
    };
    let mut keys: Vec<&'static str> = chart::TRENDS.iter().map(|t| t.key).collect();
    for status in [
        schedule::DoseStatus::Applied,
        schedule::DoseStatus::Due,
        schedule::DoseStatus::Overdue,
        schedule::DoseStatus::Upcoming,
    ] {
        keys.push(status.message_key());
    }
    for state in [SyncState::Online, SyncState::Offline, SyncState::Unknown] {
        keys.push(
            SyncStatus {
                state,
                pending_changes: None,
            }
            .message_key(),
        );
    }
    for status in ["active", "completed", "revoked", "weird"] {
        keys.push(pages::refer::referral_key(status));
    }
    for key in keys {
        assert_ne!(tr.s(key), key, "missing message {key}");
    }
}

#[tokio::test]
async fn a_young_childs_weight_is_drawn_over_the_who_percentiles() {
    let world = world();
    // A girl of the clinic, born 14 months before the fixed "now", weighed three times.
    let child = create(
        &world.ehr,
        json!({"resourceType": "Patient",
               "name": [{"use": "official", "family": "Chan Pool", "given": ["Itzel"]}],
               "gender": "female", "birthDate": "2025-09-25",
               "managingOrganization": {"reference": format!("Organization/{}", organization_id(&world, "MSIMB000671"))}}),
    );
    for (date, kg) in [
        ("2025-10-25", 4.2),
        ("2026-03-25", 7.0),
        ("2026-11-20", 8.9),
    ] {
        create(
            &world.ehr,
            json!({"resourceType": "Observation", "status": "final",
                   "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
                   "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}], "text": "Peso"},
                   "subject": {"reference": format!("Patient/{child}")},
                   "effectiveDateTime": date,
                   "valueQuantity": {"value": kg, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}),
        );
    }
    let cookie = sign_in(&world).await;
    let reply = send(&world, get(&format!("/ui/pacientes/{child}"), &cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let figure = reply
        .body
        .split("id=\"trend-weight\"")
        .nth(1)
        .unwrap()
        .split("</figure>")
        .next()
        .unwrap();
    assert!(figure.contains("class=\"trend growth\""), "{figure}");
    assert_eq!(
        figure.matches("<polyline").count(),
        6,
        "five WHO curves and the child's line"
    );
    // 8.9 kg at 14 months for a girl: P50 is 9.2, P15 8.2 (WHO).
    assert!(figure.contains("P15–P50 OMS"), "{figure}");
}

fn organization_id(world: &World, clues: &str) -> String {
    let db = data::Db::new(world.ehr.clone(), ehr::Requester::local_system("pruebas"));
    data::facility_by_clues(&db, clues)
        .unwrap()
        .reference
        .trim_start_matches("Organization/")
        .to_string()
}

/// Compositions of a patient, as the record holds them.
fn notes_of(world: &World, patient: &str) -> usize {
    data::everything(
        &data::Db::new(world.ehr.clone(), ehr::Requester::local_system("pruebas")),
        patient,
    )
    .unwrap()
    .iter()
    .filter(|r| r["resourceType"] == "Composition")
    .count()
}

/// Issue 13: one submission key, one signed note — however many times and however
/// concurrently the form is sent; another key signs another note.
#[tokio::test]
async fn a_form_sent_three_times_at_once_signs_one_note() {
    let world = world();
    let cookie = sign_in(&world).await;
    let path = format!("/ui/pacientes/{}/consulta", world.patient);
    let form = "subjective=Doble&dx_code=I10&action=sign&envio=clave-de-envio-1";
    let before = notes_of(&world, &world.patient);
    let replies = futures_join3(
        send(&world, post(&path, &cookie, form)),
        send(&world, post(&path, &cookie, form)),
        send(&world, post(&path, &cookie, form)),
    )
    .await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert_eq!(reply.location, replies[0].location);
    }
    assert_eq!(notes_of(&world, &world.patient), before + 1);
    let again = send(&world, post(&path, &cookie, form)).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(notes_of(&world, &world.patient), before + 1);
    let other = send(
        &world,
        post(
            &path,
            &cookie,
            &form.replace("clave-de-envio-1", "clave-de-envio-2"),
        ),
    )
    .await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);
    assert_eq!(notes_of(&world, &world.patient), before + 2);
    // A refused submit is not remembered: corrected, the same key signs.
    let refused = "subjective=Sin+diagnostico&action=sign&envio=clave-de-envio-3";
    assert_eq!(
        send(&world, post(&path, &cookie, refused)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let corrected = send(
        &world,
        post(&path, &cookie, &format!("{refused}&dx_code=I10")),
    )
    .await;
    assert_eq!(corrected.status, StatusCode::SEE_OTHER);
    assert_eq!(notes_of(&world, &world.patient), before + 3);
}

async fn futures_join3<A, B, C>(a: A, b: B, c: C) -> [Reply; 3]
where
    A: std::future::Future<Output = Reply>,
    B: std::future::Future<Output = Reply>,
    C: std::future::Future<Output = Reply>,
{
    let (a, b, c) = tokio::join!(a, b, c);
    [a, b, c]
}

/// Issue 13: the nurse is offered her screens, not a consultation she would be refused, and
/// what she records is saved.
#[tokio::test]
async fn a_nurse_is_offered_vitals_and_vaccines_and_never_the_consultation() {
    let world = world();
    let nurse = sign_in_as(&world, "enfermero").await;
    let chart = send(
        &world,
        get(&format!("/ui/pacientes/{}", world.patient), &nurse),
    )
    .await;
    assert_eq!(chart.status, StatusCode::OK);
    assert!(chart.body.contains("id=\"act-vitals\""));
    assert!(chart.body.contains("id=\"act-vaccine\""));
    assert!(!chart.body.contains("id=\"act-consult\""));
    assert!(!chart.body.contains("id=\"act-refer\""));
    let consult = send(
        &world,
        get(&format!("/ui/pacientes/{}/consulta", world.patient), &nurse),
    )
    .await;
    assert_eq!(consult.status, StatusCode::FORBIDDEN);
    assert!(!consult.body.contains("consult-form"));
    let path = format!("/ui/pacientes/{}/signos-vitales", world.patient);
    // The impossible is refused with what was typed kept; the possible is saved.
    let refused = send(
        &world,
        post(&path, &nurse, "weight_kg=8420&spo2=97&action=save"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("value=\"8420\""));
    assert!(refused.body.contains("id=\"weight_kg-error\""));
    let saved = send(
        &world,
        post(
            &path,
            &nurse,
            "weight_kg=68.5&spo2=97&resp_rate=16&action=save",
        ),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let chart = send(&world, get(&saved.location, &nurse)).await;
    let latest = chart.body.split("id=\"latest-vitals\"").nth(1).unwrap();
    assert!(
        latest.contains("68.5 kg") && latest.contains("97 %"),
        "{latest}"
    );
}

/// Issue 13: the banner is one: the chart, the referral, the access log and a note all show the
/// patient's allergy (the access log used to say "none recorded").
#[tokio::test]
async fn every_patient_page_shows_the_same_allergy_banner() {
    let world = world();
    let cookie = sign_in(&world).await;
    let base = format!("/ui/pacientes/{}", world.patient);
    for path in [
        base.clone(),
        format!("{base}/referencia"),
        format!("{base}/bitacora"),
        format!("{base}/resumen"),
        format!("{base}/alergias"),
        format!("{base}/problemas"),
        format!("{base}/medicamentos"),
        format!("{base}/signos-vitales"),
        format!("{base}/consulta"),
    ] {
        let page = send(&world, get(&path, &cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let banner = page
            .body
            .split("id=\"allergies-banner\"")
            .nth(1)
            .unwrap_or_else(|| panic!("{path} has no banner"))
            .split("</div>")
            .next()
            .unwrap();
        assert!(banner.contains("Penicilina"), "{path}: {banner}");
    }
}
