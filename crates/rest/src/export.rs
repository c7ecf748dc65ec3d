//! FHIR Bulk Data `$export` over HTTP (Bulk Data Access IG v2, asynchronous pattern): the
//! kick-off (`GET /fhir/$export`, `/fhir/Patient/$export`, `/fhir/Group/{id}/$export` with
//! `Prefer: respond-async` → 202 + `Content-Location`), status polling (202 with
//! `X-Progress` and `Retry-After` while running, 200 + manifest when complete), `DELETE` on
//! the status URL, and the NDJSON files.
//!
//! What is exported and who may is `ehr`'s (`ehr::export`: the read guard on every line, the
//! audit). This module runs the jobs: one thread per running job (a few at most), each
//! writing one file per type under `DATA/exports/{job}/` as it pages through the store, so
//! memory stays at one store page whatever the size of the export.
//!
//! **Persistence and restarts.** A job's state is `job.json` in its directory, replaced
//! atomically (write, fsync, rename) when the job starts and when it ends. After a restart, a
//! completed job's manifest and files are served as before; a job that was running is run
//! again from the start with the same plan and `transactionTime` (its partial files are
//! overwritten), as the account is now (a disabled account's job fails). Jobs are bound to
//! the account that started them: status, files and `DELETE` answer 404 to anyone else.
//! Completed jobs are removed [`JOB_KEEP_MS`] after they finish.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ehr::export::{ExportLevel, ExportPlan};
use ehr::{Ehr, Requester};
use fhir::{Issue, IssueCode, Lang};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::handlers::blocking;
use crate::params::base_url;
use crate::{AppState, State};

/// Jobs running at once on this node (each takes a core while it reads the store).
pub const RUNNING_JOBS_MAX: usize = 2;
/// Unfinished jobs one account may have.
pub const RUNNING_JOBS_PER_USER_MAX: usize = 1;
/// How long a completed job's files are kept (the manifest says so in `Expires`).
pub const JOB_KEEP_MS: i64 = 24 * 3_600 * 1_000;
/// `Retry-After` while a job runs, seconds: clients poll no faster than this.
const RETRY_AFTER_S: u64 = 1;

/// The media type of the files.
const NDJSON: &str = "application/fhir+ndjson";

/// The file of a `_since` export's deletions (Bundles; no resource type is named so).
const DELETED_FILE: &str = "deleted.ndjson";

/// The jobs of this node.
#[derive(Default)]
pub(crate) struct Exports {
    /// `DATA/exports`; `None` when the node was started without one (no export offered).
    dir: Option<PathBuf>,
    running: Mutex<HashMap<String, Arc<Progress>>>,
}

/// A running job as its status shows it.
struct Progress {
    owner: String,
    cancel: AtomicBool,
    types_total: usize,
    types_done: AtomicUsize,
    resources: AtomicU64,
}

/// A job as `job.json` holds it.
#[derive(Clone, Debug)]
struct Job {
    id: String,
    owner: String,
    role: String,
    scopes: String,
    request: String,
    level: ExportLevel,
    types: Vec<String>,
    since_ms: Option<i64>,
    transaction_ms: i64,
    members: Vec<String>,
    status: Status,
    /// `(type, file, count)` of each non-empty file, once complete.
    output: Vec<(String, String, u64)>,
    /// The public, de-identified variant (`publico=1`).
    deidentified: bool,
    /// `(file, count)` of the deletions since `_since`, once complete (none when empty).
    deleted: Option<(String, u64)>,
    finished_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    Running,
    Complete,
    Failed(String),
}

impl Exports {
    pub(crate) fn new(dir: Option<PathBuf>) -> Exports {
        Exports {
            dir,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Progress>>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// At start: removes expired jobs and runs again those a stop interrupted.
pub(crate) fn resume(state: &Arc<AppState>) {
    let Some(dir) = state.exports.dir.clone() else {
        return;
    };
    let now = state.ehr.now_ms();
    for job in list_jobs(&dir) {
        match job.status {
            Status::Running => {
                let who = state
                    .ehr
                    .export_resume_requester(&job.owner, &job.role, &job.scopes);
                match who {
                    Ok(who) => {
                        tracing::info!(job = %job.id, "resuming an interrupted bulk export");
                        start(state, job, who);
                    }
                    Err(_) => {
                        let mut job = job;
                        job.status = Status::Failed(
                            "la cuenta ya no puede exportar / the account may no longer export"
                                .into(),
                        );
                        job.finished_ms = Some(now);
                        if let Err(err) = save_job(&dir, &job) {
                            tracing::error!(error = %err, "cannot record a failed export");
                        }
                    }
                }
            }
            Status::Complete | Status::Failed(_) => {}
        }
    }
    sweep(&dir, now);
}

/// Removes the jobs that finished more than [`JOB_KEEP_MS`] ago (at start and at every
/// kick-off, so a node that runs for months does not keep every export).
fn sweep(dir: &Path, now_ms: i64) {
    for job in list_jobs(dir) {
        if job.status != Status::Running
            && job.finished_ms.is_some_and(|at| now_ms - at > JOB_KEEP_MS)
        {
            let _ = std::fs::remove_dir_all(dir.join(&job.id));
        }
    }
}

/// `GET /fhir/$export`
pub(crate) async fn kick_off_system(
    state: State,
    Auth(who): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    kick_off(state, who, ExportLevel::System, headers, raw).await
}

/// `GET /fhir/Patient/$export`
pub(crate) async fn kick_off_patient(
    state: State,
    Auth(who): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    kick_off(state, who, ExportLevel::Patient, headers, raw).await
}

/// `GET /fhir/Group/{id}/$export` (dispatched from the instance operations' route).
pub(crate) async fn kick_off(
    state: State,
    who: Arc<Requester>,
    level: ExportLevel,
    headers: HeaderMap,
    raw: Option<String>,
) -> Result<Response, ApiError> {
    let Some(dir) = state.0.exports.dir.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            Issue::error(
                IssueCode::NotSupported,
                "Este nodo no ofrece $export (sin directorio de exportación).",
                "This node does not offer $export (no export directory).",
            ),
        ));
    };
    let async_asked = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"));
    if !async_asked {
        return Err(ApiError::bad_request(
            "$export es asíncrono: envíe el encabezado «Prefer: respond-async».",
            "$export is asynchronous: send the header 'Prefer: respond-async'.",
        ));
    }
    let params: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let base = base_url(&state.0, &headers);
    let request = match raw.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => format!("{base}/{}?{q}", level.path()),
        None => format!("{base}/{}", level.path()),
    };
    let user = who.principal.user.clone();
    {
        let running = state.0.exports.running();
        let mine = running.values().filter(|p| p.owner == user).count();
        if mine >= RUNNING_JOBS_PER_USER_MAX || running.len() >= RUNNING_JOBS_MAX {
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                Issue::error(
                    IssueCode::Throttled,
                    format!(
                        "Hay demasiadas exportaciones en curso (máximo {RUNNING_JOBS_PER_USER_MAX} por cuenta y {RUNNING_JOBS_MAX} en el nodo); intente cuando termine una."
                    ),
                    format!(
                        "Too many exports running (at most {RUNNING_JOBS_PER_USER_MAX} per account and {RUNNING_JOBS_MAX} on the node); try again when one ends."
                    ),
                ),
            );
            error.retry_after_s = Some(10);
            return Err(error);
        }
    }
    let planner = who.clone();
    let plan = blocking(&state.0, move |ehr| {
        ehr.export_plan(&planner, level, &params)
    })
    .await?;
    let job = Job::new(&who, request, plan);
    let id = job.id.clone();
    save_job(&dir, &job).map_err(internal)?;
    start(&state.0, job, (*who).clone());
    let mut response = StatusCode::ACCEPTED.into_response();
    let location = format!("{base}/$export-status/{id}");
    if let Ok(value) = HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(header::CONTENT_LOCATION, value);
    }
    Ok(response)
}

/// `GET /fhir/$export-status/{job}`
pub(crate) async fn status(
    state: State,
    Auth(who): Auth,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = owned_job(&state.0, &who, &id)?;
    if let Some(progress) = state.0.exports.running().get(&id).cloned() {
        let mut response = StatusCode::ACCEPTED.into_response();
        let text = format!(
            "{} de {} tipos, {} recursos / {} of {} types, {} resources",
            progress.types_done.load(Ordering::Relaxed),
            progress.types_total,
            progress.resources.load(Ordering::Relaxed),
            progress.types_done.load(Ordering::Relaxed),
            progress.types_total,
            progress.resources.load(Ordering::Relaxed),
        );
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&text) {
            headers.insert("x-progress", value);
        }
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
        return Ok(response);
    }
    match &job.status {
        // Written as running, but no thread runs it: it is being resumed or its thread died.
        Status::Running => {
            let mut response = StatusCode::ACCEPTED.into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
            Ok(response)
        }
        Status::Failed(reason) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Issue::error(
                IssueCode::Exception,
                format!("La exportación falló: {reason}"),
                format!("The export failed: {reason}"),
            ),
        )),
        Status::Complete => {
            let base = base_url(&state.0, &headers);
            let output: Vec<Value> = job
                .output
                .iter()
                .map(|(kind, file, count)| {
                    json!({"type": kind, "url": format!("{base}/$export-file/{}/{file}", job.id), "count": count})
                })
                .collect();
            let deleted: Vec<Value> = job
                .deleted
                .iter()
                .map(|(file, count)| {
                    json!({"type": "Bundle", "url": format!("{base}/$export-file/{}/{file}", job.id), "count": count})
                })
                .collect();
            let mut manifest = json!({
                "transactionTime": ehr::format_instant(job.transaction_ms),
                "request": job.request,
                "requiresAccessToken": true,
                "output": output,
                "error": [],
            });
            // The IG's `deleted` list belongs to `_since` exports (empty when nothing was).
            if job.since_ms.is_some() {
                manifest["deleted"] = Value::Array(deleted);
            }
            let mut response = (StatusCode::OK, manifest.to_string()).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(at) = job.finished_ms
                && let Ok(value) = HeaderValue::from_str(&ehr::format_http_date(at + JOB_KEEP_MS))
            {
                headers.insert(header::EXPIRES, value);
            }
            Ok(response)
        }
    }
}

/// `DELETE /fhir/$export-status/{job}`: cancels a running job and removes the job and its
/// files, whatever its state.
pub(crate) async fn cancel(
    state: State,
    Auth(who): Auth,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let job = owned_job(&state.0, &who, &id)?;
    let dir = export_dir(&state.0)?;
    {
        let running = state.0.exports.running();
        match running.get(&id) {
            // The job's thread removes its directory when it ends (see `start`).
            Some(progress) => progress.cancel.store(true, Ordering::Relaxed),
            None => std::fs::remove_dir_all(dir.join(&job.id)).map_err(internal)?,
        }
    }
    let ehr = state.0.ehr.clone();
    let details = format!("{} {}: cancelada por su dueño", job.level.path(), job.id);
    tokio::task::spawn_blocking(move || ehr.export_finished(&who, true, &details));
    let body = fhir::operation_outcome(
        &[Issue::information(
            "Exportación cancelada; sus archivos se borraron.",
            "Export cancelled; its files were deleted.",
        )],
        Lang::Both,
    )
    .to_json_string();
    let mut response = (StatusCode::ACCEPTED, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::FHIR_JSON),
    );
    Ok(response)
}

/// `GET /fhir/$export-file/{job}/{file}`: one NDJSON file, streamed from disk.
pub(crate) async fn file(
    state: State,
    Auth(who): Auth,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    let job = owned_job(&state.0, &who, &id)?;
    let listed = job.status == Status::Complete
        && (job.output.iter().any(|(_, f, _)| *f == name)
            || job.deleted.as_ref().is_some_and(|(f, _)| *f == name));
    if !listed {
        return Err(not_found());
    }
    let path = export_dir(&state.0)?.join(&job.id).join(&name);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| not_found())?;
    // The lines were audited per patient when written; the download is recorded too (who
    // took which file of which export).
    let ehr = state.0.ehr.clone();
    let details = format!("{} {}: descarga {name}", job.level.path(), job.id);
    tokio::task::spawn_blocking(move || ehr.export_finished(&who, true, &details));
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
    let mut response = axum::body::Body::from_stream(stream).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    Ok(response)
}

/// The job, if it exists and `who` started it; 404 otherwise (another account's job is
/// absent, not forbidden: its existence is not confirmed).
fn owned_job(state: &AppState, who: &Requester, id: &str) -> Result<Job, ApiError> {
    let dir = export_dir(state)?;
    let valid = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(not_found());
    }
    let job = load_job(&dir.join(id)).ok_or_else(not_found)?;
    if job.owner != who.principal.user {
        return Err(not_found());
    }
    // Cancelled, its thread not yet done removing it: already gone for the client.
    let cancelled = state
        .exports
        .running()
        .get(id)
        .is_some_and(|p| p.cancel.load(Ordering::Relaxed));
    if cancelled {
        return Err(not_found());
    }
    Ok(job)
}

fn export_dir(state: &AppState) -> Result<PathBuf, ApiError> {
    state.exports.dir.clone().ok_or_else(not_found)
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Issue::error(
            IssueCode::NotFound,
            "No existe esa exportación (o ya se borró).",
            "No such export (or it was deleted).",
        ),
    )
}

fn internal(err: std::io::Error) -> ApiError {
    ApiError::from(ehr::Error::Internal(format!("bulk export files: {err}")))
}

impl Job {
    fn new(who: &Requester, request: String, plan: ExportPlan) -> Job {
        Job {
            id: ehr::export_job_id(),
            owner: who.principal.user.clone(),
            role: who.principal.role.as_str().to_string(),
            scopes: who.principal.scopes.to_string(),
            request,
            level: plan.level,
            types: plan.types,
            since_ms: plan.since_ms,
            transaction_ms: plan.transaction_ms,
            members: plan.members,
            status: Status::Running,
            output: Vec::new(),
            deidentified: plan.deidentified,
            deleted: None,
            finished_ms: None,
        }
    }

    fn plan(&self) -> ExportPlan {
        ExportPlan {
            level: self.level.clone(),
            types: self.types.clone(),
            since_ms: self.since_ms,
            transaction_ms: self.transaction_ms,
            members: self.members.clone(),
            deidentified: self.deidentified,
        }
    }

    fn to_json(&self) -> Value {
        let (level, group) = match &self.level {
            ExportLevel::System => ("system", None),
            ExportLevel::Patient => ("patient", None),
            ExportLevel::Group(id) => ("group", Some(id.clone())),
        };
        let (status, reason) = match &self.status {
            Status::Running => ("running", None),
            Status::Complete => ("complete", None),
            Status::Failed(reason) => ("failed", Some(reason.clone())),
        };
        json!({
            "id": self.id,
            "owner": self.owner,
            "role": self.role,
            "scopes": self.scopes,
            "request": self.request,
            "level": level,
            "group": group,
            "types": self.types,
            "since_ms": self.since_ms,
            "transaction_ms": self.transaction_ms,
            "members": self.members,
            "status": status,
            "reason": reason,
            "output": self.output.iter().map(|(t, f, c)| json!({"type": t, "file": f, "count": c})).collect::<Vec<_>>(),
            "deidentified": self.deidentified,
            "deleted": self.deleted.as_ref().map(|(f, c)| json!({"file": f, "count": c})),
            "finished_ms": self.finished_ms,
        })
    }

    fn from_json(value: &Value) -> Option<Job> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        let strings = |key: &str| -> Option<Vec<String>> {
            value
                .get(key)?
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let level = match value.get("level")?.as_str()? {
            "system" => ExportLevel::System,
            "patient" => ExportLevel::Patient,
            "group" => ExportLevel::Group(text("group")?),
            _ => return None,
        };
        let status = match value.get("status")?.as_str()? {
            "running" => Status::Running,
            "complete" => Status::Complete,
            "failed" => Status::Failed(text("reason").unwrap_or_default()),
            _ => return None,
        };
        let output = value
            .get("output")?
            .as_array()?
            .iter()
            .map(|o| {
                Some((
                    o.get("type")?.as_str()?.to_string(),
                    o.get("file")?.as_str()?.to_string(),
                    o.get("count")?.as_u64()?,
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Job {
            id: text("id")?,
            owner: text("owner")?,
            role: text("role")?,
            scopes: text("scopes")?,
            request: text("request")?,
            level,
            types: strings("types")?,
            since_ms: value.get("since_ms").and_then(Value::as_i64),
            transaction_ms: value.get("transaction_ms")?.as_i64()?,
            members: strings("members")?,
            status,
            output,
            // Jobs written before these members existed: full, without deletions.
            deidentified: value
                .get("deidentified")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            deleted: value.get("deleted").and_then(|d| {
                Some((
                    d.get("file")?.as_str()?.to_string(),
                    d.get("count")?.as_u64()?,
                ))
            }),
            finished_ms: value.get("finished_ms").and_then(Value::as_i64),
        })
    }
}

/// Every job under `dir` that reads back.
fn list_jobs(dir: &Path) -> Vec<Job> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| load_job(&entry.path()))
        .collect()
}

fn load_job(job_dir: &Path) -> Option<Job> {
    let text = std::fs::read_to_string(job_dir.join("job.json")).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    Job::from_json(&value)
}

/// Writes `job.json` atomically: a reader (or a restart) sees the old state or the new one.
fn save_job(dir: &Path, job: &Job) -> std::io::Result<()> {
    let job_dir = dir.join(&job.id);
    std::fs::create_dir_all(&job_dir)?;
    let temp = job_dir.join("job.json.tmp");
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(job.to_json().to_string().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, job_dir.join("job.json"))?;
    if let Ok(handle) = std::fs::File::open(&job_dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

/// Runs a job on its own thread.
fn start(state: &Arc<AppState>, job: Job, who: Requester) {
    let progress = Arc::new(Progress {
        owner: job.owner.clone(),
        cancel: AtomicBool::new(false),
        types_total: job.types.len(),
        types_done: AtomicUsize::new(0),
        resources: AtomicU64::new(0),
    });
    state
        .exports
        .running()
        .insert(job.id.clone(), progress.clone());
    let state = state.clone();
    let spawned = std::thread::Builder::new()
        .name("bulk-export".into())
        .spawn({
            let state = state.clone();
            let id = job.id.clone();
            move || {
                if let Some(dir) = &state.exports.dir {
                    sweep(dir, state.ehr.now_ms());
                }
                run(&state, job, &who, &progress);
                // Under the lock `cancel` takes: a cancellation either reached the job before
                // this (its directory goes here) or finds it gone (and removes it itself).
                let mut running = state.exports.running();
                running.remove(&id);
                if progress.cancel.load(Ordering::Relaxed)
                    && let Some(dir) = &state.exports.dir
                {
                    let _ = std::fs::remove_dir_all(dir.join(&id));
                }
            }
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "cannot start a bulk export thread");
    }
}

/// Writes every file of a job, then its completed state (or its failure).
fn run(state: &AppState, mut job: Job, who: &Requester, progress: &Progress) {
    let Some(dir) = state.exports.dir.clone() else {
        return;
    };
    let job_dir = dir.join(&job.id);
    let plan = job.plan();
    let ehr: &Ehr = &state.ehr;
    let mut output = Vec::new();
    let mut failure: Option<String> = None;
    for resource_type in &job.types {
        let name = format!("{resource_type}.ndjson");
        match write_type(
            ehr,
            who,
            &plan,
            &job.id,
            resource_type,
            &job_dir.join(&name),
            progress,
        ) {
            Ok(0) => {
                let _ = std::fs::remove_file(job_dir.join(&name));
            }
            Ok(count) => output.push((resource_type.clone(), name, count)),
            Err(_) if progress.cancel.load(Ordering::Relaxed) => break,
            Err(err) => {
                tracing::error!(job = %job.id, error = %err, "bulk export failed");
                failure = Some(format!(
                    "{resource_type}: error al leer o escribir / read or write error"
                ));
                break;
            }
        }
        progress.types_done.fetch_add(1, Ordering::Relaxed);
    }
    let mut deleted = None;
    if failure.is_none() && plan.since_ms.is_some() && !progress.cancel.load(Ordering::Relaxed) {
        let file = job_dir.join(DELETED_FILE);
        match write_deleted(ehr, who, &plan, &job.id, &job.types, &file, progress) {
            Ok(0) => {
                let _ = std::fs::remove_file(&file);
            }
            Ok(count) => deleted = Some((DELETED_FILE.to_string(), count)),
            Err(_) if progress.cancel.load(Ordering::Relaxed) => {}
            Err(err) => {
                tracing::error!(job = %job.id, error = %err, "bulk export failed");
                failure = Some("deleted: error al leer o escribir / read or write error".into());
            }
        }
    }
    let path = job.level.path();
    if progress.cancel.load(Ordering::Relaxed) {
        return;
    }
    job.finished_ms = Some(ehr.now_ms());
    let details = match &failure {
        None => {
            let counts: Vec<String> = output.iter().map(|(t, _, c)| format!("{t}={c}")).collect();
            format!("{path} {}: completa, {}", job.id, counts.join(" "))
        }
        Some(reason) => format!("{path} {}: falló, {reason}", job.id),
    };
    job.status = match failure {
        None => Status::Complete,
        Some(reason) => Status::Failed(reason),
    };
    job.output = output;
    job.deleted = deleted;
    if let Err(err) = save_job(&dir, &job) {
        tracing::error!(job = %job.id, error = %err, "cannot record a finished bulk export");
    }
    ehr.export_finished(who, job.status == Status::Complete, &details);
}

/// The deletions of every type of a `_since` export, one Bundle a line; fsynced like the rest.
fn write_deleted(
    ehr: &Ehr,
    who: &Requester,
    plan: &ExportPlan,
    job: &str,
    types: &[String],
    path: &Path,
    progress: &Progress,
) -> Result<u64, ehr::Error> {
    let io = |err: std::io::Error| ehr::Error::Internal(format!("bulk export file: {err}"));
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, file);
    let mut count = 0;
    for resource_type in types {
        count += ehr.export_deleted(who, plan, resource_type, job, &mut |line| {
            if progress.cancel.load(Ordering::Relaxed) {
                return Err(ehr::Error::Internal("export cancelled".into()));
            }
            out.write_all(line.as_bytes()).map_err(io)?;
            out.write_all(b"\n").map_err(io)?;
            Ok(())
        })?;
    }
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(count)
}

/// One type's file, written line by line as the store is paged; fsynced before it counts.
fn write_type(
    ehr: &Ehr,
    who: &Requester,
    plan: &ExportPlan,
    job: &str,
    resource_type: &str,
    path: &Path,
    progress: &Progress,
) -> Result<u64, ehr::Error> {
    let io = |err: std::io::Error| ehr::Error::Internal(format!("bulk export file: {err}"));
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
    let count = ehr.export_type(who, plan, resource_type, job, &mut |line| {
        if progress.cancel.load(Ordering::Relaxed) {
            return Err(ehr::Error::Internal("export cancelled".into()));
        }
        out.write_all(line.as_bytes()).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
        progress.resources.fetch_add(1, Ordering::Relaxed);
        Ok(())
    })?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(count)
}
