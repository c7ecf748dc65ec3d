//! The public-health reports at scale (issue 16): the surveillance, vaccination-coverage and
//! chronic-disease pages as an epidemiologist opens them in the web UI (signed in, over HTTP),
//! and the three CSV contracts as a system integration pulls them, on the imported node.
//!
//! Each is asked [`REPEATS`] times in turn; the first answer (the one that brings the
//! new-case aggregates up to date after the import, or warms the caches) is reported apart
//! from the p50 and p95 of the rest. Baseline, same run, same server: a read by id over HTTP
//! (p50), so each figure says how many reads one report costs.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::http::{Client, Response};

/// Requests per report after the first.
pub const REPEATS: usize = 10;

/// The epidemiologist the pages are opened as (national scope: no state).
pub const USER: &str = "epidemiologa-bench";
pub const PASSWORD: &str = "Medicion-de-reportes-2026";

/// One report's timings.
pub struct ReportTiming {
    pub name: &'static str,
    pub path: String,
    pub first_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub bytes: usize,
}

/// The figures of one run.
pub struct ReportsRun {
    pub timings: Vec<ReportTiming>,
    /// p50 of a read by id over HTTP, same server (ms).
    pub read_p50_ms: f64,
}

/// Creates the epidemiologist account (national scope) on the node before it serves.
pub fn add_epidemiologist(ehr: &ehr::Ehr) -> anyhow::Result<()> {
    let operator = ehr::Requester::local_system("bench");
    let account = ehr::NewAccount {
        username: USER.into(),
        role: auth::role::Role::Epidemiologist,
        clues: None,
        practitioner_id: None,
        patient_id: None,
        display_name: "Epidemióloga de la medición".into(),
    };
    match ehr.add_account(
        &operator,
        account,
        PASSWORD,
        auth::password::HashCost::TEST_ONLY,
    ) {
        Ok(()) | Err(ehr::Error::Conflict(_)) => Ok(()),
        Err(err) => Err(crate::ehr_error(err)),
    }
}

fn set_cookies(response: &Response, jar: &mut Vec<(String, String)>) {
    for (name, value) in &response.headers {
        if !name.eq_ignore_ascii_case("set-cookie") {
            continue;
        }
        let pair = value.split(';').next().unwrap_or_default();
        if let Some((key, val)) = pair.split_once('=') {
            jar.retain(|(k, _)| k != key);
            jar.push((key.to_string(), val.to_string()));
        }
    }
}

fn cookie_header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Signs in through the web UI's form, as a browser does: the form's pre-session cookie and
/// CSRF field, then the session cookie. Returns the `Cookie` header for the session.
fn sign_in(addr: SocketAddr) -> anyhow::Result<String> {
    let mut jar = Vec::new();
    let mut client = Client::new(addr);
    let form = client.get("/ui/entrar")?;
    if form.status != 200 {
        bail!("GET /ui/entrar: {}", form.status);
    }
    set_cookies(&form, &mut jar);
    let page = form.text();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf)
        .append_pair("user", USER)
        .append_pair("password", PASSWORD)
        .append_pair("next", "/ui/vigilancia")
        .finish();
    let mut client = Client::new(addr)
        .with_header("Cookie", &cookie_header(&jar))
        .with_header("Origin", &format!("http://{addr}"));
    let signed = client.request_as(
        "POST",
        "/ui/entrar",
        Some(body.as_bytes()),
        "application/x-www-form-urlencoded",
    )?;
    if signed.status != 303 {
        bail!("sign-in as {USER}: {} {}", signed.status, signed.text());
    }
    set_cookies(&signed, &mut jar);
    Ok(cookie_header(&jar))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn time(client: &mut Client, name: &'static str, path: String) -> anyhow::Result<ReportTiming> {
    let mut samples = Vec::with_capacity(REPEATS);
    let mut first_ms = 0.0;
    let mut bytes = 0;
    for round in 0..=REPEATS {
        let started = Instant::now();
        let answer = client.get(&path)?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if answer.status != 200 {
            bail!("{path}: {} {}", answer.status, answer.text());
        }
        bytes = answer.body.len();
        if round == 0 {
            first_ms = ms;
        } else {
            samples.push(ms);
        }
    }
    samples.sort_by(f64::total_cmp);
    Ok(ReportTiming {
        name,
        path,
        first_ms,
        p50_ms: percentile(&samples, 0.5),
        p95_ms: percentile(&samples, 0.95),
        bytes,
    })
}

/// Opens the pages as the epidemiologist and pulls the CSVs with the node's bearer token
/// (registered for `addr`), `today` the last day of the periods asked; then the baseline read
/// of `read_path`.
pub fn over_http(addr: SocketAddr, today: &str, read_path: &str) -> anyhow::Result<ReportsRun> {
    let cookie = sign_in(addr).context("web sign-in")?;
    let year_ago = ehr::reports::dates::parse_day(today)
        .map(|day| ehr::reports::dates::format_day(ehr::reports::dates::add_days(day, -364)))
        .context("bad day")?;
    let mut pages = Client::new(addr).with_header("Cookie", &cookie);
    let mut timings = vec![
        time(
            &mut pages,
            "Surveillance page (`/ui/vigilancia`)",
            "/ui/vigilancia".into(),
        )?,
        time(
            &mut pages,
            "Vaccination coverage page (`/ui/cobertura-vacunacion`)",
            "/ui/cobertura-vacunacion".into(),
        )?,
        time(
            &mut pages,
            "Chronic-disease control page (`/ui/control-cronico`)",
            "/ui/control-cronico".into(),
        )?,
        time(
            &mut pages,
            "Medicine demand page (`/ui/demanda-medicamentos`)",
            "/ui/demanda-medicamentos".into(),
        )?,
        time(
            &mut pages,
            "Repeated tests page (`/ui/estudios-repetidos`)",
            "/ui/estudios-repetidos".into(),
        )?,
        time(
            &mut pages,
            "Data quality page (`/ui/calidad-datos`)",
            "/ui/calidad-datos".into(),
        )?,
    ];
    let mut csv = Client::new(addr);
    timings.push(time(
        &mut csv,
        "`new-cases.csv`, one year",
        format!("/reports/new-cases.csv?from={year_ago}&to={today}"),
    )?);
    timings.push(time(
        &mut csv,
        "`consultations.csv`, one year",
        format!("/reports/consultations.csv?from={year_ago}&to={today}"),
    )?);
    timings.push(time(
        &mut csv,
        "`diabetes-control.csv`",
        format!("/reports/diabetes-control.csv?as_of={today}"),
    )?);
    timings.push(time(
        &mut csv,
        "`vaccination-coverage.csv`",
        format!("/reports/vaccination-coverage.csv?as_of={today}"),
    )?);
    timings.push(time(
        &mut csv,
        "`medicine-demand.csv`",
        "/reports/medicine-demand.csv".into(),
    )?);
    let mut reads = Vec::with_capacity(200);
    let mut reader = Client::new(addr);
    for _ in 0..200 {
        let started = Instant::now();
        let answer = reader.get(read_path)?;
        if answer.status != 200 {
            bail!("{read_path}: {}", answer.status);
        }
        reads.push(started.elapsed().as_secs_f64() * 1e3);
    }
    reads.sort_by(f64::total_cmp);
    Ok(ReportsRun {
        timings,
        read_p50_ms: percentile(&reads, 0.5),
    })
}
