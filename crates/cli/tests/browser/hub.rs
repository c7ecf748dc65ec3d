//! A hub and a hospital node beside the demo node (issue 17): the demo node syncs with the hub
//! as its clinic (the CLUES of the demo's staff accounts), and a hospital node — its own CLUES
//! and data directory, no demo data, its staff made with `expediente user add` — syncs with
//! the same hub, so a referral crosses nodes as it does in the field. Enrolment is the
//! operator's: `expediente node enroll` on the hub's data directory, one credential per CLUES
//! (as `it/sync.rs`'s `Cluster` does over the API).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{NodeProcess, add_account, demo_clues, password_token, run, serve};

/// The hospital's CLUES (Morelos, SSA): not one of the demo's facilities.
pub const HOSPITAL_CLUES: &str = "MSSSA000175";

/// The hospital's name in the national directory (what the referral form offers).
pub const HOSPITAL_NAME: &str = "Hospital General de Zona de Prueba";

/// A sync round every 200 ms and retries no more than a second apart: the waits of a test
/// follow the work, not the field's 5 s default.
const SYNC_ARGS: [&str; 4] = ["--sync-interval-ms", "200", "--sync-backoff-max-ms", "1000"];

/// How long a node may take to receive what another wrote: the demo node first pushes its
/// whole imported history (tens of thousands of versions, on a debug build, beside Chromium).
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(600);

/// The hub, the hospital node, and the demo clinic's credential (the demo node itself is the
/// test's [`crate::harness::Ui`], started with [`Network::clinic_args`]).
pub struct Network {
    /// The hospital node's address (`http://127.0.0.1:PORT`), for [`crate::harness::Ui::at`].
    pub hospital: String,
    /// The hospital's Organization id (the same on every node: the hub's directory entry).
    pub hospital_org: String,
    /// The hospital physician's user name, password and bearer token.
    pub physician: (String, String, String),
    hub: String,
    hospital_data: PathBuf,
    clinic_clues: String,
    clinic_token: String,
    _hospital: NodeProcess,
    _hub: NodeProcess,
    _dir: tempfile::TempDir,
}

fn credential(enrolled: &str) -> String {
    let token = enrolled
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(token.starts_with("exps_"), "node enroll: {enrolled}");
    token
}

/// `method path` on the FHIR API of the node at `base` as `token`; the JSON answer.
async fn fhir(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}/fhir/{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/fhir+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls `done` every 250 ms until it holds; fails the test with `what` after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

impl Network {
    /// Enrols the demo clinic and the hospital with a new hub, lists the hospital in the hub's
    /// national directory, and starts the hub and the hospital node (the hospital's physician
    /// ready to sign in, linked to a Practitioner of its own).
    pub async fn start() -> Network {
        let dir = tempfile::tempdir().unwrap();
        let hub_data = dir.path().join("hub");
        let hospital_data = dir.path().join("hospital");
        let hub_text = hub_data.to_str().unwrap();
        let clinic_clues = demo_clues();
        let clinic_token = credential(&run(&[
            "node",
            "enroll",
            "--data",
            hub_text,
            "--clues",
            &clinic_clues,
        ]));
        let hospital_token = credential(&run(&[
            "node",
            "enroll",
            "--data",
            hub_text,
            "--clues",
            HOSPITAL_CLUES,
        ]));
        let directory_password = add_account(&hub_data, "directorio", "admin", &[]);
        let (hub_process, hub) = serve(&hub_data, &["--role".to_string(), "hub".to_string()], &[]);

        // The national directory lists the hospital by its CLUES; every node pulls it.
        let directory = password_token(&hub, "directorio", &directory_password).await;
        let (status, organization) = fhir(
            &hub,
            &directory,
            reqwest::Method::POST,
            "Organization",
            Some(json!({
                "resourceType": "Organization",
                "active": true,
                "identifier": [{"use": "official", "system": mexico::systems::CLUES, "value": HOSPITAL_CLUES}],
                "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov"}]}],
                "name": HOSPITAL_NAME
            })),
        )
        .await;
        assert_eq!(status, 201, "{organization}");
        let hospital_org = organization["id"].as_str().unwrap().to_string();

        // The hospital node: an administrator made before it first serves, no demo data.
        let admin_password = add_account(&hospital_data, "admin-hospital", "admin", &[]);
        let mut args: Vec<String> = [
            "--clues",
            HOSPITAL_CLUES,
            "--hub",
            &hub,
            "--hub-token",
            &hospital_token,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(SYNC_ARGS.iter().map(|a| a.to_string()));
        let (hospital_process, hospital) = serve(&hospital_data, &args, &[]);
        let admin = password_token(&hospital, "admin-hospital", &admin_password).await;
        let path = format!("Organization/{hospital_org}");
        wait_until(
            "the hospital's directory entry at the hospital",
            Duration::from_secs(60),
            || {
                let (hospital, admin, path) = (hospital.clone(), admin.clone(), path.clone());
                async move {
                    fhir(&hospital, &admin, reqwest::Method::GET, &path, None)
                        .await
                        .0
                        == 200
                }
            },
        )
        .await;

        // Its physician, a Practitioner of its own.
        let (status, practitioner) = fhir(
            &hospital,
            &admin,
            reqwest::Method::POST,
            "Practitioner",
            Some(json!({
                "resourceType": "Practitioner",
                "active": true,
                "name": [{"use": "official", "family": "Ramírez Ortega", "given": ["Jorge"], "prefix": ["Dr."]}]
            })),
        )
        .await;
        assert_eq!(status, 201, "{practitioner}");
        let practitioner = practitioner["id"].as_str().unwrap().to_string();
        let user = "medico-hospital".to_string();
        let password = add_account(
            &hospital_data,
            &user,
            "physician",
            &[
                "--clues",
                HOSPITAL_CLUES,
                "--practitioner",
                &practitioner,
                "--name",
                "Dr. Jorge Ramírez Ortega",
            ],
        );
        let token = password_token(&hospital, &user, &password).await;
        Network {
            hospital,
            hospital_org,
            physician: (user, password, token),
            hub,
            hospital_data,
            clinic_clues,
            clinic_token,
            _hospital: hospital_process,
            _hub: hub_process,
            _dir: dir,
        }
    }

    /// The `serve` arguments that make the demo node the enrolled clinic.
    pub fn clinic_args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "--clues",
            &self.clinic_clues,
            "--hub",
            &self.hub,
            "--hub-token",
            &self.clinic_token,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(SYNC_ARGS.iter().map(|a| a.to_string()));
        args
    }

    /// How many of the hospital's versions the hub refused (`expediente sync status`).
    pub fn hospital_refused(&self) -> u64 {
        let status: Value = serde_json::from_str(&run(&[
            "sync",
            "status",
            "--data",
            self.hospital_data.to_str().unwrap(),
        ]))
        .unwrap();
        status["refused_versions"].as_u64().unwrap_or(u64::MAX)
    }
}
