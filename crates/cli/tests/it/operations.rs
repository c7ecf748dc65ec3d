//! Issue 18, "a node that runs itself": what the operator scrapes and reads from a running node.

use serde_json::json;

use crate::support::*;

/// The node's origin (`http://host:port`) from its FHIR base.
fn origin(node: &Node) -> String {
    node.base.trim_end_matches("/fhir").to_string()
}

/// The value of the first metric line starting with `prefix` (name and labels).
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// `/metrics` counts requests by method, route template and status, for the API and the web
/// UI alike; reports store write latency, the audit backlog and the database size; and names
/// no patient, id or CURP.
#[test]
fn metrics_count_requests_by_route_and_never_name_patients() {
    let node = Node::start();
    let curp = "GOMA800101MDFRRN09";
    let mut body = patient("Guadalupe", "Gómez", "1980-01-01", "female");
    body["identifier"] = json!([{"system": "https://www.gob.mx/curp", "value": curp}]);
    let created = post(&node, "Patient", &body);
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        assert_eq!(get(&node, &format!("Patient/{id}")).status, 200);
    }
    let search = get(
        &node,
        &format!("Patient?identifier=https://www.gob.mx/curp|{curp}"),
    );
    assert_eq!(search.status, 200);
    assert_eq!(get(&node, "Patient/no-such-patient").status, 404);
    let ui = anonymous_client()
        .get(format!("{}/ui/entrar", origin(&node)))
        .send()
        .unwrap();
    assert_eq!(ui.status(), 200);

    let scraped = anonymous_client()
        .get(format!("{}/metrics", origin(&node)))
        .send()
        .unwrap();
    assert_eq!(scraped.status(), 200);
    let content_type = scraped.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = scraped.text().unwrap();
    let reads = metric(
        &text,
        r#"expediente_http_requests_total{method="GET",route="/fhir/{type}/{id}",status="200"}"#,
    );
    assert_eq!(reads, Some(3.0), "{text}");
    let missing = metric(
        &text,
        r#"expediente_http_requests_total{method="GET",route="/fhir/{type}/{id}",status="404"}"#,
    );
    assert_eq!(missing, Some(1.0), "{text}");
    let creates = metric(
        &text,
        r#"expediente_http_requests_total{method="POST",route="/fhir/{type}",status="201"}"#,
    );
    assert_eq!(creates, Some(1.0), "{text}");
    let pages = metric(
        &text,
        r#"expediente_http_requests_total{method="GET",route="/ui/entrar",status="200"}"#,
    );
    assert_eq!(pages, Some(1.0), "the web UI is counted too: {text}");
    let latency = metric(
        &text,
        r#"expediente_http_request_seconds_count{method="GET",route="/fhir/{type}/{id}"}"#,
    );
    assert_eq!(latency, Some(4.0), "{text}");
    let writes = metric(&text, "expediente_store_write_seconds_count").unwrap_or(0.0);
    assert!(writes >= 1.0, "the create was a store write: {text}");
    assert!(
        metric(&text, "expediente_audit_backlog_entries").is_some(),
        "{text}"
    );
    let size = metric(&text, "expediente_database_bytes").unwrap_or(0.0);
    assert!(size > 4096.0, "the SQLite file has pages: {text}");
    for secret in [id.as_str(), curp, "Guadalupe", "Gómez"] {
        assert!(!text.contains(secret), "{secret} leaked into /metrics");
    }
}

/// Another host may read `/metrics` only with the scrape secret the operator set; without it
/// the node does not even admit the endpoint exists (404), and a wrong secret fares the same.
#[test]
fn metrics_answer_other_hosts_only_with_the_scrape_secret() {
    // The address this machine would use to reach another host: not loopback.
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    probe
        .connect("10.254.254.254:9")
        .expect("this test needs a non-loopback IPv4 route to reach the node as another host");
    let own = probe.local_addr().unwrap().ip();
    assert!(
        !own.is_loopback() && !own.is_unspecified(),
        "this test needs a non-loopback IPv4 address (found {own})"
    );
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let secret = "scrape-secret-0123456789";
    let node = Node::start_listening(
        &data,
        "0.0.0.0:0",
        &[],
        &[("EXPEDIENTE_METRICS_TOKEN", secret)],
    );
    let port = node
        .base
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/fhir");
    let remote = format!("http://{own}:{port}/metrics");
    let bare = anonymous_client().get(&remote).send().unwrap();
    assert_eq!(bare.status(), 404);
    let wrong = anonymous_client()
        .get(&remote)
        .bearer_auth("scrape-secret-0123456780")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 404);
    // A clinician's token is not the scrape secret either.
    let token = anonymous_client()
        .get(&remote)
        .bearer_auth(test_token())
        .send()
        .unwrap();
    assert_eq!(token.status(), 404);
    let scraped = anonymous_client()
        .get(&remote)
        .bearer_auth(secret)
        .send()
        .unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .text()
            .unwrap()
            .contains("expediente_http_requests_total")
    );
    // From this machine no secret is needed.
    let local = anonymous_client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .unwrap();
    assert_eq!(local.status(), 200);
}

/// Every command takes its settings from `expediente.toml` (`--config`) and from
/// `EXPEDIENTE_*` variables, flags overriding both; a misspelt setting stops the command.
#[test]
fn the_config_file_and_environment_variables_reach_every_command() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    prepare_access(&data);
    let config = temp.path().join("expediente.toml");
    let data_text = data.to_str().unwrap();
    std::fs::write(&config, format!("data = \"{data_text}\"\n")).unwrap();
    let config_text = config.to_str().unwrap();

    let (code, out, err) = run_cli(&["--config", config_text, "user", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.trim().is_empty(), "the node's accounts are listed");
    let (code, out, err) = run_cli_env(&["audit", "verify"], &[("EXPEDIENTE_DATA", data_text)]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run_cli_env(&["user", "list"], &[("EXPEDIENTE_CONFIG", config_text)]);
    assert_eq!(code, 0, "{err}");
    // A flag overrides the file: this directory holds no node.
    let empty = temp.path().join("empty");
    let (code, _, err) = run_cli(&[
        "--config",
        config_text,
        "user",
        "list",
        "--data",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");

    std::fs::write(&config, format!("dataa = \"{data_text}\"\n")).unwrap();
    let (code, _, err) = run_cli(&["--config", config_text, "user", "list"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("dataa"), "{err}");
}
