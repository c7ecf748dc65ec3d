//! SMART App Launch v2 and Backend Services (issue 18) through the doors an app uses: the
//! discovery document, the authorization page in a browser-like client (cookies, redirects,
//! the sign-in and consent forms), the token endpoint, the FHIR API with the token it got,
//! introspection, CORS, and a backend service signing its own assertion; the EHR launch from
//! a patient's chart in the web UI. Apps are registered with `expediente app add`, as an
//! administrator does.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Value, json};

use crate::security::*;
use crate::support::*;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "un-verificador-pkce-de-prueba-con-mas-de-43-caracteres-0123456789";

fn challenge_of(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn origin(node: &Node) -> String {
    node.base
        .trim_end_matches('/')
        .trim_end_matches("/fhir")
        .to_string()
}

fn app_add(data: &std::path::Path, args: &[&str], stdin: &str) {
    let mut all = vec!["app", "add", "--data", data.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, out, err) = run_cli_stdin(&all, stdin);
    assert_eq!(code, 0, "app add: {out} {err}");
}

/// A browser's part of the flow: cookies kept by name, redirects followed by hand (only
/// within the node: the app's redirect URI is where the flow ends).
struct Browser {
    http: reqwest::blocking::Client,
    cookies: HashMap<String, String>,
    origin: String,
}

struct Page {
    status: u16,
    location: Option<String>,
    html: String,
}

impl Browser {
    fn new(node: &Node) -> Browser {
        Browser {
            http: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            origin: origin(node),
        }
    }

    fn keep_cookies(&mut self, response: &reqwest::blocking::Response) {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.insert(name.to_string(), value.to_string());
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn finish(&mut self, response: reqwest::blocking::Response) -> Page {
        self.keep_cookies(&response);
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        Page {
            status,
            location,
            html: response.text().unwrap(),
        }
    }

    /// GET, following redirects inside the node.
    fn get(&mut self, url: &str) -> Page {
        let mut url = url.to_string();
        loop {
            let response = self
                .http
                .get(&url)
                .header(reqwest::header::COOKIE, self.cookie_header())
                .send()
                .unwrap();
            let page = self.finish(response);
            match &page.location {
                Some(next) if next.starts_with('/') => url = format!("{}{next}", self.origin),
                _ => return page,
            }
        }
    }

    /// POSTs a form as the page's own (same `Origin`), following redirects inside the node.
    fn post(&mut self, path: &str, fields: &[(String, String)]) -> Page {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let response = self
            .http
            .post(format!("{}{path}", self.origin))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header(reqwest::header::ORIGIN, &self.origin)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.finish())
            .send()
            .unwrap();
        let page = self.finish(response);
        match &page.location {
            Some(next) if next.starts_with('/') => {
                let url = format!("{}{next}", self.origin);
                self.get(&url)
            }
            _ => page,
        }
    }
}

/// The `value`s of the inputs named `name` in a form of `html`, in order.
fn input_values(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            rest[..rest.find('"').unwrap()].replace("&#x2f;", "/")
        })
        .collect()
}

/// The hidden fields of the form posting to `action` (not the picker's search, a GET) (the HTML attribute decoding askama
/// applies is undone for the characters our values contain).
fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("method=\"post\" action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form for {action} in {html}"));
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let mut fields = Vec::new();
    for part in form.split("<input type=\"hidden\" name=\"").skip(1) {
        let (name, rest) = part.split_once('"').unwrap();
        let value = rest.split_once("value=\"").unwrap().1;
        let value = &value[..value.find('"').unwrap()];
        fields.push((name.to_string(), unescape(value)));
    }
    fields
}

fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn query_of(location: &str) -> HashMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn authorize_url(node: &Node, client_id: &str, scope: &str, method: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("response_type", "code");
    query.append_pair("client_id", client_id);
    query.append_pair("redirect_uri", REDIRECT);
    query.append_pair("scope", scope);
    query.append_pair("state", "estado-123");
    query.append_pair("aud", &node.base);
    query.append_pair("code_challenge", &challenge_of(VERIFIER));
    query.append_pair("code_challenge_method", method);
    format!("{}/auth/authorize?{}", origin(node), query.finish())
}

/// Signs in on the authorization page, approves (choosing `patient` when asked) and returns
/// the code the app receives.
fn approve(node: &Node, client_id: &str, scope: &str, user: &str, patient: Option<&str>) -> String {
    let mut browser = Browser::new(node);
    let signin = browser.get(&authorize_url(node, client_id, scope, "S256"));
    assert_eq!(signin.status, 200, "{}", signin.html);
    assert!(
        signin.html.contains("Contraseña"),
        "Spanish sign-in: {}",
        signin.html
    );
    let mut fields = form_fields(&signin.html, "/ui/autorizar/entrar");
    fields.push(("user".into(), user.into()));
    fields.push(("password".into(), PASSWORD.into()));
    let consent = browser.post("/ui/autorizar/entrar", &fields);
    assert_eq!(consent.status, 200, "{}", consent.html);
    assert!(consent.html.contains("Permitir"), "{}", consent.html);
    assert!(
        consent.html.contains("Leer, buscar"),
        "scopes listed in Spanish: {}",
        consent.html
    );
    let mut fields = form_fields(&consent.html, "/ui/autorizar");
    if let Some(patient) = patient {
        let offered = input_values(&consent.html, "patient");
        assert!(
            offered.iter().any(|p| p == patient),
            "{patient} in the picker: {offered:?}"
        );
        fields.push(("patient".into(), patient.into()));
    }
    fields.push(("decision".into(), "permitir".into()));
    let done = browser.post("/ui/autorizar", &fields);
    assert_eq!(done.status, 303, "{}", done.html);
    let location = done.location.unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = query_of(&location);
    assert_eq!(query.get("state").map(String::as_str), Some("estado-123"));
    query.get("code").cloned().expect("a code")
}

fn token_request(node: &Node, fields: &[(&str, &str)]) -> Reply {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    reply(
        anonymous_client()
            .post(format!("{}/auth/token", origin(node)))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.finish())
            .send()
            .unwrap(),
    )
}

fn exchange(node: &Node, client_id: &str, code: &str, verifier: &str) -> Reply {
    token_request(
        node,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ],
    )
}

fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn discovery_names_the_endpoints_and_s256_only_at_the_root_and_under_fhir() {
    let node = Node::start();
    for path in [
        "/.well-known/smart-configuration",
        "/fhir/.well-known/smart-configuration",
    ] {
        let config = reply(
            anonymous_client()
                .get(format!("{}{path}", origin(&node)))
                .send()
                .unwrap(),
        );
        assert_eq!(config.status, 200, "{path}: {}", config.text);
        assert_eq!(
            config.body["code_challenge_methods_supported"],
            json!(["S256"])
        );
        let caps = config.body["capabilities"].as_array().unwrap();
        assert!(caps.contains(&json!("launch-standalone")));
        // Declared because they work: `the_ehr_launch_from_a_chart_…` below.
        assert!(caps.contains(&json!("launch-ehr")));
        assert!(caps.contains(&json!("context-ehr-patient")));
        assert!(caps.contains(&json!("client-confidential-asymmetric")));
        for endpoint in ["authorization_endpoint", "token_endpoint", "jwks_uri"] {
            assert!(
                config.body[endpoint]
                    .as_str()
                    .unwrap()
                    .starts_with(&origin(&node)),
                "{endpoint}"
            );
        }
    }
    let jwks = reply(
        anonymous_client()
            .get(format!("{}/.well-known/jwks.json", origin(&node)))
            .send()
            .unwrap(),
    );
    assert_eq!(jwks.body["keys"][0]["crv"], "Ed25519");
}

#[test]
fn a_patient_token_from_the_code_flow_reaches_only_its_patient_and_cannot_write() {
    let world = world();
    let node = &world.node;
    account(&world.data, "dra.smart", "physician", &["--clues", CLUES_A]);
    app_add(
        &world.data,
        &[
            "--client-id",
            "app-lab",
            "--name",
            "Laboratorio en casa",
            "--redirect-uri",
            REDIRECT,
            "--public",
        ],
        "",
    );
    let (code, out, _) = run_cli(&["app", "list", "--data", world.data.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("app-lab\tpublica"), "{out}");

    let scope = "launch/patient openid fhirUser offline_access patient/*.rs";
    let code = approve(node, "app-lab", scope, "dra.smart", Some(&world.p1));

    // Wrong verifier: refused, and the code is spent.
    let wrong = exchange(node, "app-lab", &code, &format!("{VERIFIER}x"));
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    assert_eq!(wrong.body["error"], "invalid_grant");
    let spent = exchange(node, "app-lab", &code, VERIFIER);
    assert_eq!(spent.status, 400, "a code is single-use: {}", spent.text);

    let code = approve(node, "app-lab", scope, "dra.smart", Some(&world.p1));
    let tokens = exchange(node, "app-lab", &code, VERIFIER);
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.body["patient"], world.p1.as_str());
    assert!(
        tokens.body["scope"]
            .as_str()
            .unwrap()
            .contains("patient/*.rs")
    );
    let id_token = jwt_payload(tokens.body["id_token"].as_str().unwrap());
    assert_eq!(id_token["aud"], "app-lab");
    assert_eq!(id_token["sub"], "dra.smart");
    let again = exchange(node, "app-lab", &code, VERIFIER);
    assert_eq!(again.status, 400, "{}", again.text);
    let access = tokens.body["access_token"].as_str().unwrap().to_string();

    // The attacker's questions: the other patient, a write, a search across patients.
    assert_eq!(
        get_as(node, &access, &format!("fhir/Observation/{}", world.obs1)).status,
        200
    );
    assert_eq!(
        get_as(node, &access, &format!("fhir/Observation/{}", world.obs2)).status,
        404
    );
    assert_eq!(
        get_as(node, &access, &format!("fhir/Patient/{}", world.p2)).status,
        404
    );
    let write = send_as(
        node,
        &access,
        "POST",
        "fhir/Observation",
        &observation(&world.p1, &[]),
    );
    assert_eq!(write.status, 403, "{}", write.text);
    let search = get_as(node, &access, "fhir/Observation");
    assert_eq!(search.status, 200, "{}", search.text);
    assert_eq!(ids_of(&search.body), vec![world.obs1.clone()]);
    let everything = get_as(
        node,
        &access,
        &format!("fhir/Patient/{}/$everything", world.p2),
    );
    assert_eq!(everything.status, 404, "{}", everything.text);

    // Refresh: rotated; the old one presented again ends the family.
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_string();
    let renewed = token_request(
        node,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "app-lab"),
        ],
    );
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    assert_eq!(renewed.body["patient"], world.p1.as_str());
    let newer = renewed.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(newer, refresh);
    let replay = token_request(
        node,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "app-lab"),
        ],
    );
    assert_eq!(replay.status, 400, "{}", replay.text);
    let after = token_request(
        node,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &newer),
            ("client_id", "app-lab"),
        ],
    );
    assert_eq!(after.status, 400, "the family is revoked: {}", after.text);
}

#[test]
fn plain_pkce_unknown_redirects_and_narrow_user_scopes_are_refused() {
    let world = world();
    let node = &world.node;
    account(&world.data, "dr.scope", "physician", &["--clues", CLUES_A]);
    app_add(
        &world.data,
        &[
            "--client-id",
            "visor",
            "--redirect-uri",
            REDIRECT,
            "--public",
        ],
        "",
    );

    let mut browser = Browser::new(node);
    let plain = browser.get(&authorize_url(node, "visor", "user/*.rs", "plain"));
    assert_eq!(plain.status, 303, "{}", plain.html);
    let query = query_of(plain.location.as_deref().unwrap());
    assert_eq!(
        query.get("error").map(String::as_str),
        Some("invalid_request")
    );

    let elsewhere = authorize_url(node, "visor", "user/*.rs", "S256").replace(
        &form_urlencoded::byte_serialize(node.base.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fotro-servidor.example%2Ffhir",
    );
    let wrong_aud = browser.get(&elsewhere);
    assert_eq!(wrong_aud.status, 303, "{}", wrong_aud.html);
    let query = query_of(wrong_aud.location.as_deref().unwrap());
    assert_eq!(
        query.get("error").map(String::as_str),
        Some("invalid_request")
    );

    let foreign = authorize_url(node, "visor", "user/*.rs", "S256").replace(
        &form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example%2Fcb",
    );
    let shown = browser.get(&foreign);
    assert_eq!(shown.status, 400, "never redirected to an unregistered URI");
    assert!(shown.location.is_none());

    // user/Observation.rs: Observations as the physician may, no Conditions.
    let code = approve(node, "visor", "user/Observation.rs", "dr.scope", None);
    let tokens = exchange(node, "visor", &code, VERIFIER);
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = tokens.body["access_token"].as_str().unwrap();
    assert_eq!(
        get_as(node, access, &format!("fhir/Observation/{}", world.obs2)).status,
        200
    );
    let condition = get_as(
        node,
        access,
        &format!("fhir/Condition?patient={}", world.p1),
    );
    assert_eq!(condition.status, 403, "{}", condition.text);
    let patient = get_as(node, access, &format!("fhir/Patient/{}", world.p1));
    assert_eq!(patient.status, 403, "{}", patient.text);
}

#[test]
fn introspection_and_cors_for_registered_origins_only() {
    let world = world();
    let node = &world.node;
    account(&world.data, "dra.cors", "physician", &["--clues", CLUES_A]);
    let secret = "un-secreto-de-aplicacion-largo-0123456789abcdef";
    app_add(
        &world.data,
        &[
            "--client-id",
            "servidor-recursos",
            "--redirect-uri",
            "https://app.example/cb",
            "--secret-stdin",
        ],
        secret,
    );
    app_add(
        &world.data,
        &[
            "--client-id",
            "visor",
            "--redirect-uri",
            REDIRECT,
            "--public",
        ],
        "",
    );
    let code = approve(node, "visor", "openid fhirUser user/*.rs", "dra.cors", None);
    let tokens = exchange(node, "visor", &code, VERIFIER);
    let access = tokens.body["access_token"].as_str().unwrap().to_string();

    let introspect = |user: &str, password: &str| {
        reply(
            anonymous_client()
                .post(format!("{}/auth/introspect", origin(node)))
                .basic_auth(user, Some(password))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(format!("token={access}"))
                .send()
                .unwrap(),
        )
    };
    let active = introspect("servidor-recursos", secret);
    assert_eq!(active.status, 200, "{}", active.text);
    assert_eq!(active.body["active"], true);
    assert_eq!(active.body["client_id"], "visor");
    assert_eq!(active.body["username"], "dra.cors");
    assert_eq!(introspect("servidor-recursos", "otro").status, 401);
    assert_eq!(
        introspect("visor", "").status,
        401,
        "public apps cannot introspect"
    );
    let revoked = reply(
        anonymous_client()
            .post(format!("{}/auth/revoke", origin(node)))
            .bearer_auth(&access)
            .send()
            .unwrap(),
    );
    assert_eq!(revoked.status, 200);
    assert_eq!(
        introspect("servidor-recursos", secret).body["active"],
        false
    );

    // CORS: the origins of registered redirect URIs, echoed, never `*`, no credentials.
    let preflight = |from: &str| {
        anonymous_client()
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/fhir/Patient", origin(node)),
            )
            .header(reqwest::header::ORIGIN, from)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .unwrap()
    };
    let allowed = preflight("https://app.example");
    assert_eq!(allowed.status().as_u16(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(
        allowed
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let other = preflight("https://evil.example");
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let read = anonymous_client()
        .get(format!("{}/fhir/metadata", origin(node)))
        .header(reqwest::header::ORIGIN, "https://app.example")
        .send()
        .unwrap();
    assert_eq!(
        read.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

/// An ES384 key pair as a JWKS (public) and an encoding key (private).
fn es384_key(kid: &str) -> (Value, jsonwebtoken::EncodingKey) {
    use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-384", "kid": kid, "alg": "ES384", "use": "sig",
        "x": b64.encode(&point[1..49]), "y": b64.encode(&point[49..97]),
    }]});
    (jwks, jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()))
}

fn assertion(
    key: &jsonwebtoken::EncodingKey,
    kid: &str,
    client: &str,
    aud: &str,
    jti: &str,
) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384);
    header.kid = Some(kid.into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    jsonwebtoken::encode(
        &header,
        &json!({"iss": client, "sub": client, "aud": aud, "exp": now + 240, "jti": jti}),
        key,
    )
    .unwrap()
}

/// Registers a backend service `client_id` with a fresh ES384 key (kid `k1`) as
/// `expediente app add --jwks-file` does; answers its private key and the token endpoint's URL
/// (the assertions' audience).
fn backend_service(world: &World, client_id: &str) -> (jsonwebtoken::EncodingKey, String) {
    let (jwks, key) = es384_key("k1");
    let jwks_path = world
        .data
        .parent()
        .unwrap()
        .join(format!("{client_id}.jwks.json"));
    std::fs::write(&jwks_path, jwks.to_string()).unwrap();
    app_add(
        &world.data,
        &[
            "--client-id",
            client_id,
            "--jwks-file",
            jwks_path.to_str().unwrap(),
        ],
        "",
    );
    (key, format!("{}/auth/token", origin(&world.node)))
}

/// `client_credentials` with a signed assertion (SMART Backend Services).
fn client_credentials(node: &Node, assertion: &str, scope: &str) -> Reply {
    token_request(
        node,
        &[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ],
    )
}

#[test]
fn a_backend_service_signs_its_assertion_once_and_gets_system_read_scopes() {
    let world = world();
    let node = &world.node;
    let (key, aud) = backend_service(&world, "laboratorio-estatal");
    let grant = |assertion: &str, scope: &str| client_credentials(node, assertion, scope);
    let signed = assertion(&key, "k1", "laboratorio-estatal", &aud, "jti-1");
    let tokens = grant(&signed, "system/Observation.rs system/Patient.rs");
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(
        tokens.body["scope"],
        "system/Observation.rs system/Patient.rs"
    );
    let access = tokens.body["access_token"].as_str().unwrap();
    assert_eq!(
        get_as(node, access, &format!("fhir/Observation/{}", world.obs1)).status,
        200
    );
    let write = send_as(
        node,
        access,
        "POST",
        "fhir/Observation",
        &observation(&world.p1, &[]),
    );
    assert_eq!(write.status, 403, "{}", write.text);
    assert_eq!(get_as(node, access, "fhir/Condition").status, 403);

    let replay = grant(&signed, "system/Observation.rs");
    assert_eq!(replay.status, 401, "a jti is usable once: {}", replay.text);
    let (_, other_key) = es384_key("k1");
    let forged = grant(
        &assertion(&other_key, "k1", "laboratorio-estatal", &aud, "jti-2"),
        "system/Observation.rs",
    );
    assert_eq!(forged.status, 401, "{}", forged.text);
    let elsewhere = grant(
        &assertion(
            &key,
            "k1",
            "laboratorio-estatal",
            "https://otro.example/token",
            "jti-3",
        ),
        "system/Observation.rs",
    );
    assert_eq!(elsewhere.status, 401, "{}", elsewhere.text);
    let beyond = grant(
        &assertion(&key, "k1", "laboratorio-estatal", &aud, "jti-4"),
        "system/Observation.cruds",
    );
    assert_eq!(
        beyond.status, 400,
        "registered for system/*.rs only: {}",
        beyond.text
    );
}

/// SMART v2 query restrictions (`system/Observation.rs?category=laboratory`) enforced, not only
/// issued: a backend service (whose reads are otherwise bounded at the type level only) and a
/// patient app each see the laboratory Observation and never the vital signs, through a read,
/// a search, a search with `_revinclude`, `$everything` and history; no total betrays the
/// hidden ones; such a scope writes nothing; a restriction the server cannot evaluate shows
/// nothing.
#[test]
fn query_restricted_scopes_show_only_matching_resources_through_every_door() {
    let world = world();
    let node = &world.node;
    let mut lab = observation(&world.p1, &[]);
    lab["category"][0]["coding"][0]["code"] = json!("laboratory");
    lab["code"]["coding"][0]["code"] = json!("4548-4");
    let created = post(node, "Observation", &lab);
    assert_eq!(created.status, 201, "{}", created.text);
    let lab_id = created.body["id"].as_str().unwrap().to_string();
    let vitals = world.obs1.clone();

    let (key, aud) = backend_service(&world, "lab-estatal");
    let grant = |jti: &str, scope: &str| {
        let signed = assertion(&key, "k1", "lab-estatal", &aud, jti);
        let tokens = client_credentials(node, &signed, scope);
        assert_eq!(tokens.status, 200, "{}", tokens.text);
        tokens.body["access_token"].as_str().unwrap().to_string()
    };
    let category = "http://terminology.hl7.org/CodeSystem/observation-category";
    let service = grant(
        "jti-r1",
        &format!("system/Observation.rs?category={category}|laboratory system/Patient.rs"),
    );
    let p1 = &world.p1;
    assert_eq!(
        get_as(node, &service, &format!("fhir/Observation/{lab_id}")).status,
        200
    );
    assert_eq!(
        get_as(node, &service, &format!("fhir/Observation/{vitals}")).status,
        404
    );
    assert_eq!(
        get_as(
            node,
            &service,
            &format!("fhir/Observation/{vitals}/_history")
        )
        .status,
        404
    );
    for search in [
        "fhir/Observation?_total=accurate".to_string(),
        format!("fhir/Observation?subject=Patient/{p1}&_total=accurate"),
    ] {
        let found = get_as(node, &service, &search);
        assert_eq!(found.status, 200, "{}", found.text);
        assert_eq!(ids_of(&found.body), vec![lab_id.clone()], "{search}");
        assert!(
            found.body.get("total").is_none(),
            "{search}: {}",
            found.text
        );
    }
    let with_observations = get_as(
        node,
        &service,
        &format!("fhir/Patient?_id={p1}&_revinclude=Observation:subject"),
    );
    assert_eq!(with_observations.status, 200, "{}", with_observations.text);
    let shown = with_observations.text.clone();
    assert!(
        shown.contains(&lab_id) && !shown.contains(&vitals),
        "{shown}"
    );
    let history = get_as(node, &service, "fhir/Observation/_history");
    assert_eq!(history.status, 200, "{}", history.text);
    assert!(
        history.text.contains(&lab_id) && !history.text.contains(&vitals),
        "{}",
        history.text
    );
    let write = send_as(node, &service, "POST", "fhir/Observation", &lab);
    assert_eq!(
        write.status, 403,
        "a restricted scope writes nothing: {}",
        write.text
    );

    // A restriction the server cannot evaluate (a date) shows nothing rather than everything.
    let unknown = grant(
        "jti-r2",
        "system/Observation.rs?date=ge2020 system/Patient.rs",
    );
    assert_eq!(
        get_as(node, &unknown, &format!("fhir/Observation/{lab_id}")).status,
        404
    );
    let none = get_as(node, &unknown, "fhir/Observation");
    assert_eq!(ids_of(&none.body), Vec::<String>::new(), "{}", none.text);

    // A patient app under the same kind of scope, in the code flow: inside its patient,
    // still only the laboratory results, also in `$everything`.
    account(&world.data, "dra.lab", "physician", &["--clues", CLUES_A]);
    app_add(
        &world.data,
        &[
            "--client-id",
            "app-lab",
            "--redirect-uri",
            REDIRECT,
            "--public",
        ],
        "",
    );
    let scope = "launch/patient patient/Observation.rs?category=laboratory patient/Patient.rs";
    let code = approve(node, "app-lab", scope, "dra.lab", Some(p1));
    let tokens = exchange(node, "app-lab", &code, VERIFIER);
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let app = tokens.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        get_as(node, &app, &format!("fhir/Observation/{lab_id}")).status,
        200
    );
    assert_eq!(
        get_as(node, &app, &format!("fhir/Observation/{vitals}")).status,
        404
    );
    let everything = get_as(node, &app, &format!("fhir/Patient/{p1}/$everything"));
    assert_eq!(everything.status, 200, "{}", everything.text);
    assert!(
        everything.text.contains(&lab_id) && !everything.text.contains(&vitals),
        "{}",
        everything.text
    );
}

#[test]
fn a_patients_own_app_gets_their_record_without_a_picker_and_in_english_on_request() {
    let world = world();
    let node = &world.node;
    account(
        &world.data,
        "ana.smart",
        "patient",
        &["--patient", &world.p1],
    );
    app_add(
        &world.data,
        &[
            "--client-id",
            "mi-salud",
            "--redirect-uri",
            REDIRECT,
            "--public",
        ],
        "",
    );
    let mut browser = Browser::new(node);
    let english = browser.get(&format!(
        "{}&lang=en",
        authorize_url(node, "mi-salud", "launch/patient patient/*.rs", "S256")
    ));
    assert_eq!(english.status, 200, "{}", english.html);
    assert!(english.html.contains("Password"), "{}", english.html);

    // A patient account is its own launch patient: no picker, and the token names them.
    let code = approve(
        node,
        "mi-salud",
        "launch/patient patient/*.rs",
        "ana.smart",
        None,
    );
    let tokens = exchange(node, "mi-salud", &code, VERIFIER);
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.body["patient"], world.p1.as_str());
    assert!(
        tokens.body.get("refresh_token").is_none(),
        "no offline_access asked"
    );
    let access = tokens.body["access_token"].as_str().unwrap();
    assert_eq!(
        get_as(node, access, &format!("fhir/Observation/{}", world.obs1)).status,
        200
    );
    assert_eq!(
        get_as(node, access, &format!("fhir/Observation/{}", world.obs2)).status,
        404
    );

    // The app revokes its refresh token (RFC 7009): that authorization ends.
    let code = approve(
        node,
        "mi-salud",
        "launch/patient patient/*.rs offline_access",
        "ana.smart",
        None,
    );
    let tokens = exchange(node, "mi-salud", &code, VERIFIER);
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_string();
    let revoked = reply(
        anonymous_client()
            .post(format!("{}/auth/revoke", origin(node)))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(format!("token={refresh}&client_id=mi-salud"))
            .send()
            .unwrap(),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    let refused = token_request(
        node,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "mi-salud"),
        ],
    );
    assert_eq!(refused.status, 400, "{}", refused.text);
}

const LAUNCH_URL: &str = "http://127.0.0.1:9/launch?sitio=expediente";

impl Browser {
    /// Signs in to the web UI through its sign-in form.
    fn sign_in(&mut self, user: &str) {
        let form = self.get(&format!("{}/ui/entrar", self.origin));
        assert_eq!(form.status, 200, "{}", form.html);
        let mut fields = form_fields(&form.html, "/ui/entrar");
        fields.push(("user".into(), user.into()));
        fields.push(("password".into(), PASSWORD.into()));
        let home = self.post("/ui/entrar", &fields);
        assert_eq!(home.status, 200, "signed in as {user}: {}", home.html);
    }
}

/// Opens the patient's chart, follows the app's link in its "Aplicaciones" list and returns
/// where the node sent the browser: the app's launch URL with `iss` and `launch`.
fn launch_from_chart(browser: &mut Browser, node: &Node, patient: &str, client_id: &str) -> String {
    let chart = browser.get(&format!("{}/ui/pacientes/{patient}", origin(node)));
    assert_eq!(chart.status, 200, "{}", chart.html);
    assert!(chart.html.contains("Aplicaciones"), "{}", chart.html);
    let link = format!("/ui/pacientes/{patient}/lanzar/{client_id}");
    assert!(
        chart.html.contains(&format!("href=\"{link}\"")),
        "{link} in {}",
        chart.html
    );
    let sent = browser.get(&format!("{}{link}", origin(node)));
    assert_eq!(sent.status, 303, "{}", sent.html);
    let location = sent.location.unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:9/launch?sitio=expediente&"),
        "the registered launch URL, its own query kept: {location}"
    );
    let query = query_of(&location);
    assert_eq!(
        query.get("iss").map(String::as_str),
        Some(format!("{}/fhir", origin(node)).as_str()),
        "{location}"
    );
    let launch = query.get("launch").cloned().unwrap_or_default();
    assert!(launch.len() >= 32, "an opaque launch value: {location}");
    launch
}

fn ehr_authorize_url(node: &Node, client_id: &str, scope: &str, launch: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("launch", launch);
    format!(
        "{}&{}",
        authorize_url(node, client_id, scope, "S256"),
        query.finish()
    )
}

const EHR_SCOPE: &str = "launch openid fhirUser patient/*.rs";

#[test]
fn the_ehr_launch_from_a_chart_gives_the_app_that_patient_for_that_user_once() {
    let world = world();
    let node = &world.node;
    account(&world.data, "dra.lanza", "physician", &["--clues", CLUES_A]);
    account(&world.data, "dr.colega", "physician", &["--clues", CLUES_A]);
    account(&world.data, "dr.lejos", "physician", &["--clues", CLUES_B]);
    let auditor = account(&world.data, "auditora.smart", "auditor", &[]);
    for (client_id, name) in [("app-ehr", "Calculadora de riesgo"), ("otra-app", "Otra")] {
        app_add(
            &world.data,
            &[
                "--client-id",
                client_id,
                "--name",
                name,
                "--redirect-uri",
                REDIRECT,
                "--launch-url",
                LAUNCH_URL,
                "--public",
            ],
            "",
        );
    }
    let (code, out, _) = run_cli(&["app", "list", "--data", world.data.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains(LAUNCH_URL), "the launch URL is stored: {out}");

    // The clinician launches from the chart; the app asks with `launch` and the consent page
    // names the patient, with no picker.
    let mut browser = Browser::new(node);
    browser.sign_in("dra.lanza");
    let launch = launch_from_chart(&mut browser, node, &world.p1, "app-ehr");
    let consent = browser.get(&ehr_authorize_url(node, "app-ehr", EHR_SCOPE, &launch));
    assert_eq!(consent.status, 200, "{}", consent.html);
    assert!(consent.html.contains("Ana Pérez"), "{}", consent.html);
    assert!(
        input_values(&consent.html, "patient").is_empty(),
        "no picker in an EHR launch: {}",
        consent.html
    );

    // Another clinician holding that launch value gets nothing of it, the patient least of
    // all; and the value stays the launching clinician's.
    let mut colleague = Browser::new(node);
    colleague.sign_in("dr.colega");
    let stolen = colleague.get(&ehr_authorize_url(node, "app-ehr", EHR_SCOPE, &launch));
    assert_eq!(stolen.status, 403, "{}", stolen.html);
    assert!(stolen.html.contains("otro usuario"), "{}", stolen.html);
    assert!(!stolen.html.contains("Pérez"), "{}", stolen.html);
    assert!(!stolen.html.contains("Permitir"), "{}", stolen.html);
    // Nor may another app present it.
    let other_app = browser.get(&ehr_authorize_url(node, "otra-app", EHR_SCOPE, &launch));
    assert_eq!(other_app.status, 400, "{}", other_app.html);
    assert!(
        other_app.html.contains("otra aplicación"),
        "{}",
        other_app.html
    );
    assert!(!other_app.html.contains("Pérez"), "{}", other_app.html);

    // The approval, as the browser posts it: the code carries the launch patient.
    let mut fields = form_fields(&consent.html, "/ui/autorizar");
    fields.push(("decision".into(), "permitir".into()));
    let done = browser.post("/ui/autorizar", &fields);
    assert_eq!(done.status, 303, "{}", done.html);
    let location = done.location.unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let code = query_of(&location)
        .get("code")
        .cloned()
        .expect("a code for the app");
    let tokens = exchange(node, "app-ehr", &code, VERIFIER);
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.body["patient"], world.p1.as_str());
    assert!(
        tokens.body["scope"].as_str().unwrap().contains("launch"),
        "{}",
        tokens.text
    );
    let access = tokens.body["access_token"].as_str().unwrap();
    let patient = get_as(node, access, &format!("fhir/Patient/{}", world.p1));
    assert_eq!(patient.status, 200, "{}", patient.text);
    assert_eq!(patient.body["id"], world.p1.as_str());
    assert_eq!(
        get_as(node, access, &format!("fhir/Patient/{}", world.p2)).status,
        404,
        "only the launch patient"
    );

    // Replayed after its use: refused, nothing shown.
    let replay = browser.get(&ehr_authorize_url(node, "app-ehr", EHR_SCOPE, &launch));
    assert_eq!(replay.status, 400, "{}", replay.html);
    assert!(replay.html.contains("ya se usó"), "{}", replay.html);
    assert!(!replay.html.contains("Pérez"), "{}", replay.html);
    let forged = browser.get(&ehr_authorize_url(
        node,
        "app-ehr",
        EHR_SCOPE,
        "un-lanzamiento-inventado-de-cuarenta-y-tres-c",
    ));
    assert_eq!(forged.status, 400, "{}", forged.html);

    // `launch` and its value come together (SMART): each alone goes back to the app as an
    // error.
    let fresh = launch_from_chart(&mut browser, node, &world.p1, "app-ehr");
    let no_scope = browser.get(&ehr_authorize_url(
        node,
        "app-ehr",
        "openid fhirUser patient/*.rs",
        &fresh,
    ));
    assert_eq!(no_scope.status, 303, "{}", no_scope.html);
    let no_scope = query_of(&no_scope.location.unwrap());
    assert_eq!(
        no_scope.get("error").map(String::as_str),
        Some("invalid_scope")
    );
    let no_value = browser.get(&authorize_url(node, "app-ehr", EHR_SCOPE, "S256"));
    assert_eq!(no_value.status, 303, "{}", no_value.html);
    let no_value = query_of(&no_value.location.unwrap());
    assert_eq!(
        no_value.get("error").map(String::as_str),
        Some("invalid_request")
    );

    // A clinician of another clinic, without a care relationship, is not sent to the app: the
    // launch link refuses, and the refusal is in the audit trail.
    let mut stranger = Browser::new(node);
    stranger.sign_in("dr.lejos");
    let refused = stranger.get(&format!(
        "{}/ui/pacientes/{}/lanzar/app-ehr",
        origin(node),
        world.p1
    ));
    assert!(
        matches!(refused.status, 403 | 404),
        "{} {:?} {}",
        refused.status,
        refused.location,
        refused.html
    );
    assert!(refused.location.is_none(), "{:?}", refused.location);
    assert!(
        refused.html.contains("relación de atención"),
        "the reason, and what to do: {}",
        refused.html
    );
    let target = format!("Patient/{}", world.p1);
    let denied = crate::security::denied_accesses(node, &auditor, "dr.lejos", &target, 1);
    assert!(denied >= 1, "the refused launch is audited");
    // An app registered without a launch URL is not offered, and cannot be launched.
    let no_url = browser.get(&format!(
        "{}/ui/pacientes/{}/lanzar/no-registrada",
        origin(node),
        world.p1
    ));
    assert_eq!(no_url.status, 404, "{}", no_url.html);
}
