//! One handler per FHIR interaction. Each parses the request, runs one `ehr` use case on the
//! blocking pool and renders the result.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ehr::{CreateOutcome, EverythingRequest, HistoryQuery, Requester, SearchRequest};
use fhir::{Issue, IssueCode, Json};
use search::Handling;
use store::{HistoryScope, StoredResource};

use crate::auth::Auth;
use crate::bundle::{BundleText, Subset};
use crate::params::{
    Query, Return, base_url, check_accept, count_param, if_match, instant_param, json_body,
    optional_json_body, parse_query, prefer, read_body,
};
use crate::{ApiError, AppState, FHIR_JSON, State};

/// Default and largest page of history entries.
const HISTORY_COUNT_DEFAULT: usize = 100;
const HISTORY_COUNT_MAX: usize = 1_000;

/// Default and largest page of `$everything`: a whole ordinary chart fits in one page.
const EVERYTHING_COUNT_DEFAULT: usize = 1_000;
const EVERYTHING_COUNT_MAX: usize = 5_000;

/// Runs a blocking use case off the async runtime.
pub(crate) async fn blocking<R, F>(state: &Arc<AppState>, f: F) -> Result<R, ApiError>
where
    R: Send + 'static,
    F: FnOnce(&ehr::Ehr) -> Result<R, ehr::Error> + Send + 'static,
{
    let state = state.clone();
    match tokio::task::spawn_blocking(move || f(&state.ehr)).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => Err(ApiError::from(ehr::Error::Internal(
            "a blocking task failed".into(),
        ))),
    }
}

pub(crate) fn fhir_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

pub(crate) fn pretty_if(body: String, pretty: bool) -> String {
    if !pretty {
        return body;
    }
    match fhir::json::parse_str(&body) {
        Ok(value) => value.to_pretty_string(),
        Err(_) => body,
    }
}

fn set_version_headers(response: &mut Response, stored: &StoredResource) {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("W/\"{}\"", stored.version_id)) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&ehr_http_date(stored.last_updated_ms)) {
        headers.insert(header::LAST_MODIFIED, value);
    }
}

fn ehr_http_date(ms: i64) -> String {
    ehr::format_http_date(ms)
}

pub(crate) fn resource_response(
    stored: StoredResource,
    query: &Query,
    status: StatusCode,
) -> Response {
    let subset = Subset::from_params(query.get("_summary"), query.get("_elements"));
    let body = match crate::bundle::render(&stored, &subset) {
        std::borrow::Cow::Borrowed(_) => None,
        std::borrow::Cow::Owned(subsetted) => Some(subsetted),
    };
    let mut response = fhir_response(status, String::new());
    set_version_headers(&mut response, &stored);
    let body = body.unwrap_or(stored.body);
    *response.body_mut() = axum::body::Body::from(pretty_if(body, query.pretty));
    response
}

/// # `GET /healthz`
pub(crate) async fn healthz(state: State) -> Response {
    // One read by id: a health check must cost nothing, not count the record.
    let ok = blocking(&state.0, |ehr| Ok(ehr.store_responds())).await;
    match ok {
        Ok(true) => (StatusCode::OK, "{\"status\":\"ok\"}").into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "{\"status\":\"unavailable\"}",
        )
            .into_response(),
    }
}

/// # `GET /metadata`
pub(crate) async fn metadata(
    state: State,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let base = base_url(&state, &headers);
    let now = ehr::format_instant(state.ehr.now_ms());
    let statement = ehr::capability_statement(&base, env!("CARGO_PKG_VERSION"), &now);
    let body = if query.pretty {
        statement.to_pretty_string()
    } else {
        statement.to_json_string()
    };
    Ok(fhir_response(StatusCode::OK, body))
}

/// # `POST /` (transaction or batch Bundle)
pub(crate) async fn root_post(
    state: State,
    Auth(who): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let mut bundle = json_body(&state, &headers, body).await?;
    let assumed = assume_local_times(&state, &headers, &mut bundle);
    let representation =
        prefer(&headers).return_ == Return::Representation && headers.contains_key("prefer");
    let mut outcome = blocking(&state.0, move |ehr| {
        ehr.process_bundle(&who, &bundle, representation)
    })
    .await?;
    add_entry_warnings(&mut outcome.response, &assumed);
    Ok(fhir_response(
        StatusCode::OK,
        pretty_if(outcome.response.to_json_string(), query.pretty),
    ))
}

/// # `GET /{type}` (search)
pub(crate) async fn type_get(
    state: State,
    Auth(who): Auth,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref())?;
    search(state, who, resource_type, headers, query).await
}

async fn search(
    state: State,
    who: Arc<Requester>,
    resource_type: String,
    headers: HeaderMap,
    query: Query,
) -> Result<Response, ApiError> {
    let handling = if prefer(&headers).strict {
        Handling::Strict
    } else {
        Handling::Lenient
    };
    // A reference given as an absolute URL on this server (`http://node/fhir/Patient/1`)
    // names the same resource as `Patient/1`, which is what the index holds.
    let own_prefix = format!("{}/", base_url(&state, &headers));
    let params = query
        .params
        .iter()
        .map(|(key, value)| {
            let value = if value.contains(&own_prefix) {
                value
                    .split(',')
                    .map(|part| part.strip_prefix(&own_prefix).unwrap_or(part))
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                value.clone()
            };
            (key.clone(), value)
        })
        .collect();
    let request = SearchRequest {
        resource_type: resource_type.clone(),
        params,
        handling,
    };
    let (page, warnings) = blocking(&state.0, move |ehr| ehr.search(&who, &request)).await?;
    let base = base_url(&state, &headers);
    let summary = query.get("_summary");
    let self_query = query.encode_without(&[]);
    let mut links = vec![("self", link(&base, &resource_type, &self_query))];
    let paging_query = query.encode_without(&["_cursor"]);
    if let Some(cursor) = &page.next {
        links.push((
            "next",
            link(&base, &resource_type, &with_cursor(&paging_query, cursor)),
        ));
    }
    if let Some(cursor) = &page.previous {
        links.push((
            "previous",
            link(&base, &resource_type, &with_cursor(&paging_query, cursor)),
        ));
    }
    let mut bundle = BundleText::new("searchset", page.total, &links);
    if summary != Some("count") {
        let subset = Subset::from_params(summary, query.get("_elements"));
        for stored in &page.matches {
            bundle.search_entry(
                &base,
                stored,
                &crate::bundle::render(stored, &subset),
                "match",
            );
        }
        for stored in &page.included {
            bundle.search_entry(
                &base,
                stored,
                &crate::bundle::render(stored, &subset),
                "include",
            );
        }
    }
    bundle.outcome_entry(&warnings);
    Ok(fhir_response(
        StatusCode::OK,
        pretty_if(bundle.finish(), query.pretty),
    ))
}

fn link(base: &str, resource_type: &str, query: &str) -> String {
    if query.is_empty() {
        format!("{base}/{resource_type}")
    } else {
        format!("{base}/{resource_type}?{query}")
    }
}

fn with_cursor(query: &str, cursor: &str) -> String {
    let mut serializer = form_urlencoded::Serializer::new(query.to_string());
    serializer.append_pair("_cursor", cursor);
    serializer.finish()
}

/// # `POST /{type}` (create, conditional with `If-None-Exist`)
pub(crate) async fn type_post(
    state: State,
    Auth(who): Auth,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let mut resource = json_body(&state, &headers, body).await?;
    let assumed = assume_local_times(&state, &headers, &mut resource);
    let if_none_exist = headers
        .get("if-none-exist")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut outcome = blocking(&state.0, move |ehr| {
        ehr.create(&who, &resource_type, resource, if_none_exist.as_deref())
    })
    .await?;
    outcome.warnings.splice(0..0, assumed);
    Ok(write_response(&state, &headers, &query, outcome))
}

/// Local times read in the node's zone, unless the client prefers strict handling (then the
/// write's validation refuses them). Returns what was assumed, to be reported.
fn assume_local_times(state: &AppState, headers: &HeaderMap, body: &mut Json) -> Vec<Issue> {
    if prefer(headers).strict {
        return Vec::new();
    }
    state.ehr.assume_local_times(body)
}

/// Puts each warning about `Bundle.entry[i]` into the outcome of response entry `i` (a
/// transaction or batch response has one entry per request entry, in order).
fn add_entry_warnings(response: &mut Json, warnings: &[Issue]) {
    let Some(entries) = response
        .as_object_mut()
        .and_then(|bundle| bundle.get_mut("entry"))
    else {
        return;
    };
    let Json::Array(entries) = entries else {
        return;
    };
    for (index, entry) in entries.iter_mut().enumerate() {
        let prefix = format!("Bundle.entry[{index}].");
        let mine: Vec<Issue> = warnings
            .iter()
            .filter(|w| {
                w.expression
                    .as_deref()
                    .is_some_and(|e| e.starts_with(&prefix))
            })
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let Some(reply) = entry
            .as_object_mut()
            .and_then(|entry| entry.get_mut("response"))
            .and_then(Json::as_object_mut)
        else {
            continue;
        };
        if reply.contains_key("outcome") {
            // An error entry already explains itself; the assumption is beside the point.
            continue;
        }
        reply.insert("outcome", fhir::operation_outcome(&mine, fhir::Lang::Both));
    }
}

pub(crate) fn write_response(
    state: &AppState,
    headers: &HeaderMap,
    query: &Query,
    outcome: CreateOutcome,
) -> Response {
    let stored = &outcome.resource;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = match prefer(headers).return_ {
        Return::Representation => {
            fhir_response(status, pretty_if(stored.body.clone(), query.pretty))
        }
        Return::Minimal => status.into_response(),
        Return::OperationOutcome => {
            let mut issues = outcome.warnings.clone();
            issues.push(Issue::information(
                format!(
                    "{}/{} guardado (versión {})",
                    stored.resource_type, stored.id, stored.version_id
                ),
                format!(
                    "{}/{} saved (version {})",
                    stored.resource_type, stored.id, stored.version_id
                ),
            ));
            fhir_response(
                status,
                fhir::operation_outcome(&issues, fhir::Lang::Both).to_json_string(),
            )
        }
    };
    set_version_headers(&mut response, stored);
    let location = format!(
        "{}/{}/{}/_history/{}",
        base_url(state, headers),
        stored.resource_type,
        stored.id,
        stored.version_id
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// # `PUT /{type}?search` (conditional update)
pub(crate) async fn type_put(
    state: State,
    Auth(who): Auth,
    Path(resource_type): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let conditions = raw.clone().unwrap_or_default();
    let query = parse_query(raw.as_deref())?;
    if query.params.is_empty() {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Issue::error(
                IssueCode::NotSupported,
                "PUT sobre un tipo requiere una condición de búsqueda (o use PUT /{tipo}/{id})",
                "PUT on a type needs a search condition (or use PUT /{type}/{id})",
            ),
        ));
    }
    let mut resource = json_body(&state, &headers, body).await?;
    let assumed = assume_local_times(&state, &headers, &mut resource);
    let conditions = strip_render_params(&conditions);
    let mut outcome = blocking(&state.0, move |ehr| {
        ehr.conditional_update(&who, &resource_type, &conditions, resource)
    })
    .await?;
    outcome.warnings.splice(0..0, assumed);
    Ok(write_response(&state, &headers, &query, outcome))
}

fn strip_render_params(raw: &str) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        if key != "_format" && key != "_pretty" {
            serializer.append_pair(&key, &value);
        }
    }
    serializer.finish()
}

/// # `DELETE /{type}?search` (conditional delete)
pub(crate) async fn type_delete(
    state: State,
    Auth(who): Auth,
    Path(resource_type): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let conditions = strip_render_params(raw.as_deref().unwrap_or(""));
    if conditions.is_empty() {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Issue::error(
                IssueCode::NotSupported,
                "DELETE sobre un tipo requiere una condición de búsqueda",
                "DELETE on a type needs a search condition",
            ),
        ));
    }
    let deleted = blocking(&state.0, move |ehr| {
        ehr.conditional_delete(&who, &resource_type, &conditions)
    })
    .await?;
    Ok(delete_response(deleted))
}

fn delete_response(deleted: Option<StoredResource>) -> Response {
    let issue = match &deleted {
        Some(stored) => Issue::information(
            format!("{}/{} eliminado", stored.resource_type, stored.id),
            format!("{}/{} deleted", stored.resource_type, stored.id),
        ),
        None => Issue::information("No había nada que eliminar", "There was nothing to delete"),
    };
    let mut response = fhir_response(
        StatusCode::OK,
        fhir::operation_outcome(&[issue], fhir::Lang::Both).to_json_string(),
    );
    if let Some(stored) = &deleted
        && let Ok(value) = HeaderValue::from_str(&format!("W/\"{}\"", stored.version_id))
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// # `GET /{type}/{id}` (read), `GET /{type}/_history`
pub(crate) async fn instance_get(
    state: State,
    Auth(who): Auth,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref())?;
    if id == "_history" {
        return history(
            state,
            who,
            HistoryScope::Type(resource_type),
            headers,
            query,
        )
        .await;
    }
    if id == "_search" {
        return search(state, who, resource_type, headers, query).await;
    }
    // A read by id is one index lookup (microseconds): cheaper to do here than to hand it to
    // the blocking pool and back, which doubled the cost of the most frequent request.
    let stored = state
        .ehr
        .read(&who, &resource_type, &id)
        .map_err(ApiError::from)?;
    if let Some(tag) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && tag.trim() == format!("W/\"{}\"", stored.version_id)
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        set_version_headers(&mut response, &stored);
        return Ok(response);
    }
    Ok(resource_response(stored, &query, StatusCode::OK))
}

/// # `POST /{type}/_search`
pub(crate) async fn instance_post(
    state: State,
    Auth(who): Auth,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    if id != "_search" {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Issue::error(
                IssueCode::NotSupported,
                "POST no se permite sobre un recurso; use PUT para actualizar",
                "POST is not allowed on a resource instance; use PUT to update",
            ),
        ));
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded");
    if !media.starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Issue::error(
                IssueCode::NotSupported,
                "_search por POST requiere application/x-www-form-urlencoded",
                "POST _search requires application/x-www-form-urlencoded",
            ),
        ));
    }
    let bytes = read_body(&state, body).await?;
    let form = String::from_utf8_lossy(&bytes).into_owned();
    let combined = match raw {
        Some(raw) if !raw.is_empty() && !form.is_empty() => format!("{raw}&{form}"),
        Some(raw) if !raw.is_empty() => raw,
        _ => form,
    };
    let query = parse_query(Some(&combined))?;
    search(state, who, resource_type, headers, query).await
}

/// # `PUT /{type}/{id}` (update, update-as-create)
pub(crate) async fn instance_put(
    state: State,
    Auth(who): Auth,
    Path((resource_type, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let expected = if_match(&headers)?;
    let mut resource = json_body(&state, &headers, body).await?;
    let assumed = assume_local_times(&state, &headers, &mut resource);
    let mut outcome = blocking(&state.0, move |ehr| {
        ehr.update(&who, &resource_type, &id, resource, expected)
    })
    .await?;
    outcome.warnings.splice(0..0, assumed);
    Ok(write_response(&state, &headers, &query, outcome))
}

/// # `DELETE /{type}/{id}`
pub(crate) async fn instance_delete(
    state: State,
    Auth(who): Auth,
    Path((resource_type, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let deleted = blocking(&state.0, move |ehr| ehr.delete(&who, &resource_type, &id)).await?;
    Ok(delete_response(deleted))
}

/// # `GET /{type}/{id}/_history` and `GET /Patient/{id}/$everything`
pub(crate) async fn instance_sub_get(
    state: State,
    Auth(who): Auth,
    Path((resource_type, id, segment)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref())?;
    match segment.as_str() {
        "_history" => {
            history(
                state,
                who,
                HistoryScope::Instance { resource_type, id },
                headers,
                query,
            )
            .await
        }
        "$everything" if resource_type == "Patient" => {
            everything(state, who, id, headers, query).await
        }
        "$summary" if resource_type == "Patient" => summary(state, who, id, headers, query).await,
        "$document" if resource_type == "Composition" => {
            document(state, who, id, headers, query).await
        }
        "$document" if resource_type == "Bundle" => stored_document(state, who, id, query).await,
        "$export" if resource_type == "Group" => {
            crate::export::kick_off(
                state,
                who,
                ehr::export::ExportLevel::Group(id),
                headers,
                raw,
            )
            .await
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            Issue::error(
                IssueCode::NotSupported,
                format!("Operación desconocida: {resource_type}/{id}/{segment}"),
                format!("Unknown operation: {resource_type}/{id}/{segment}"),
            ),
        )),
    }
}

/// # `GET /{type}/{id}/_history/{vid}`
pub(crate) async fn vread(
    state: State,
    Auth(who): Auth,
    Path((resource_type, id, version_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref())?;
    let stored = state
        .ehr
        .vread(&who, &resource_type, &id, &version_id)
        .map_err(ApiError::from)?;
    Ok(resource_response(stored, &query, StatusCode::OK))
}

/// # `GET /_history`
pub(crate) async fn history_system(
    state: State,
    Auth(who): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref())?;
    history(state, who, HistoryScope::System, headers, query).await
}

async fn history(
    state: State,
    who: Arc<Requester>,
    scope: HistoryScope,
    headers: HeaderMap,
    query: Query,
) -> Result<Response, ApiError> {
    let count = count_param(&query, HISTORY_COUNT_DEFAULT, HISTORY_COUNT_MAX)?;
    let since_ms = instant_param(&query, "_since")?;
    let path = match &scope {
        HistoryScope::System => "_history".to_string(),
        HistoryScope::Type(resource_type) => format!("{resource_type}/_history"),
        HistoryScope::Instance { resource_type, id } => format!("{resource_type}/{id}/_history"),
    };
    let request = HistoryQuery {
        scope,
        since_ms,
        cursor: query.get("_cursor").map(str::to_string),
        count,
    };
    let page = blocking(&state.0, move |ehr| ehr.history(&who, &request)).await?;
    let base = base_url(&state, &headers);
    let mut links = vec![("self", link(&base, &path, &query.encode_without(&[])))];
    if let Some(cursor) = &page.next {
        let next = with_cursor(&query.encode_without(&["_cursor"]), cursor);
        links.push(("next", link(&base, &path, &next)));
    }
    let mut bundle = BundleText::new("history", None, &links);
    for stored in &page.matches {
        bundle.history_entry(&base, stored);
    }
    Ok(fhir_response(
        StatusCode::OK,
        pretty_if(bundle.finish(), query.pretty),
    ))
}

/// # `GET /Patient/{id}/$everything`
async fn everything(
    state: State,
    who: Arc<Requester>,
    patient_id: String,
    headers: HeaderMap,
    query: Query,
) -> Result<Response, ApiError> {
    let count = count_param(&query, EVERYTHING_COUNT_DEFAULT, EVERYTHING_COUNT_MAX)?;
    let since_ms = instant_param(&query, "_since")?;
    let types: Vec<String> = query
        .get("_type")
        .map(|list| {
            list.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let request = EverythingRequest {
        patient_id: patient_id.clone(),
        since_ms,
        types,
    };
    let cursor = query.get("_cursor").map(str::to_string);
    let page = blocking(&state.0, move |ehr| {
        ehr.everything_page(&who, &request, cursor.as_deref(), count)
    })
    .await?;
    let base = base_url(&state, &headers);
    let path = format!("Patient/{patient_id}/$everything");
    let mut links = vec![("self", link(&base, &path, &query.encode_without(&[])))];
    let paging = query.encode_without(&["_cursor"]);
    if let Some(cursor) = &page.next {
        links.push(("next", link(&base, &path, &with_cursor(&paging, cursor))));
    }
    if let Some(cursor) = &page.previous {
        links.push((
            "previous",
            link(&base, &path, &with_cursor(&paging, cursor)),
        ));
    }
    let mut bundle = BundleText::new("searchset", page.total, &links);
    for stored in &page.matches {
        bundle.search_entry(&base, stored, &stored.body, "match");
    }
    let body: String = bundle.finish();
    Ok(fhir_response(StatusCode::OK, pretty_if(body, query.pretty)))
}

/// # `GET /Patient/{id}/$summary`: the International Patient Summary, a document Bundle.
async fn summary(
    state: State,
    who: Arc<Requester>,
    patient_id: String,
    headers: HeaderMap,
    query: Query,
) -> Result<Response, ApiError> {
    let base = base_url(&state, &headers);
    let document = blocking(&state.0, move |ehr| {
        ehr.patient_summary(&who, &patient_id, &base)
            .map(|summary| summary.document)
    })
    .await?;
    Ok(document_response(document, &query))
}

/// # `GET /Composition/{id}/$document`: a stored Composition as a document Bundle.
///
/// Storing it (`persist=true`) changes the record, so it is refused on GET (a GET must be
/// safe to repeat and to prefetch) and done by [`document_post`].
async fn document(
    state: State,
    who: Arc<Requester>,
    composition_id: String,
    headers: HeaderMap,
    query: Query,
) -> Result<Response, ApiError> {
    if query.get("persist") == Some("true") {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Issue::error(
                IssueCode::NotSupported,
                "Guardar el documento (persist=true) modifica el expediente: use POST \
                 Composition/{id}/$document?persist=true",
                "Storing the document (persist=true) changes the record: use POST \
                 Composition/{id}/$document?persist=true",
            ),
        ));
    }
    let base = base_url(&state, &headers);
    let document = blocking(&state.0, move |ehr| {
        ehr.composition_document(&who, &composition_id, &base)
    })
    .await?;
    Ok(document_response(document, &query))
}

/// # `POST /{type}/{id}/{operation}`: `Composition/{id}/$document`, which stores the document
/// at `/Bundle` (201, `Location`) when `persist=true`, else answers as the GET does.
pub(crate) async fn instance_sub_post(
    state: State,
    Auth(who): Auth,
    Path((resource_type, id, segment)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    check_accept(&headers)?;
    let query = parse_query(raw.as_deref())?;
    if segment != "$document" || resource_type != "Composition" {
        return instance_sub_get(
            state,
            Auth(who),
            Path((resource_type, id, segment)),
            headers,
            RawQuery(raw),
        )
        .await;
    }
    // `persist` in the query, or in a Parameters body (`valueBoolean`); the body is optional.
    let persist_in_body = optional_json_body(&state, &headers, body)
        .await?
        .is_some_and(|parameters| {
            parameters
                .get("parameter")
                .map(Json::as_list)
                .unwrap_or_default()
                .iter()
                .any(|p| {
                    p.get("name").and_then(Json::as_str) == Some("persist")
                        && p.get("valueBoolean").and_then(Json::as_bool) == Some(true)
                })
        });
    if !persist_in_body && query.get("persist") != Some("true") {
        return document(state, who, id, headers, query).await;
    }
    let base = base_url(&state, &headers);
    let outcome = blocking(&state.0, move |ehr| {
        ehr.persist_composition_document(&who, &id, &base)
    })
    .await?;
    Ok(write_response(&state.0, &headers, &query, outcome))
}

/// # `GET /Bundle/{id}/$document`: a stored document Bundle, as it was stored.
async fn stored_document(
    state: State,
    who: Arc<Requester>,
    bundle_id: String,
    query: Query,
) -> Result<Response, ApiError> {
    let stored = blocking(&state.0, move |ehr| ehr.stored_document(&who, &bundle_id)).await?;
    Ok(resource_response(stored, &query, StatusCode::OK))
}

fn document_response(document: fhir::Json, query: &Query) -> Response {
    let body = if query.pretty {
        document.to_pretty_string()
    } else {
        document.to_json_string()
    };
    fhir_response(StatusCode::OK, body)
}

/// # `POST /Patient/{id}/$acceso-emergencia` (break-glass)
///
/// Body: a `Parameters` with `reason` (valueString), or a form `reason=…`. Answers the grant
/// (patient, reason, expiry) as a `Parameters`.
pub(crate) async fn break_glass(
    state: State,
    Auth(who): Auth,
    Path(patient_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let reason = reason_param(&state, &headers, body).await?;
    let grant = blocking(&state.0, move |ehr| {
        ehr.break_glass(&who, &patient_id, &reason)
    })
    .await?;
    let body = fhir::Json::object([
        ("resourceType", fhir::Json::str("Parameters")),
        (
            "parameter",
            fhir::Json::Array(vec![
                fhir::Json::object([
                    ("name", fhir::Json::str("patient")),
                    (
                        "valueReference",
                        fhir::Json::object([(
                            "reference",
                            fhir::Json::str(format!("Patient/{}", grant.patient_id)),
                        )]),
                    ),
                ]),
                fhir::Json::object([
                    ("name", fhir::Json::str("reason")),
                    ("valueString", fhir::Json::str(grant.reason)),
                ]),
                fhir::Json::object([
                    ("name", fhir::Json::str("expires")),
                    (
                        "valueInstant",
                        fhir::Json::str(ehr::format_instant(grant.expires_ms)),
                    ),
                ]),
            ]),
        ),
    ]);
    Ok(fhir_response(StatusCode::OK, body.to_json_string()))
}

/// The `reason` (or `motivo`) of an operation that needs one: a form field, or a
/// `Parameters` `valueString`.
async fn reason_param(state: &State, headers: &HeaderMap, body: Body) -> Result<String, ApiError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| m.starts_with("application/x-www-form-urlencoded"));
    if form {
        let bytes = read_body(state, body).await?;
        return Ok(form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "reason" || k == "motivo")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default());
    }
    let parameters = json_body(state, headers, body).await?;
    Ok(parameters
        .get("parameter")
        .map(fhir::Json::as_list)
        .unwrap_or(&[])
        .iter()
        .find(|p| {
            matches!(
                p.get("name").and_then(fhir::Json::as_str),
                Some("reason" | "motivo")
            )
        })
        .and_then(|p| p.get("valueString"))
        .and_then(fhir::Json::as_str)
        .unwrap_or("")
        .to_string())
}

/// # `POST /Patient/{id}/$iniciar-atencion` (start of care at the requester's facility)
///
/// Body: a `Parameters` with `reason` (valueString), or a form `reason=…`. Answers 201 with
/// the `EpisodeOfCare` that records it, or 200 with an OperationOutcome when the facility
/// already cares for the patient.
pub(crate) async fn start_care(
    state: State,
    Auth(who): Auth,
    Path(patient_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let reason = reason_param(&state, &headers, body).await?;
    let request = ehr::CareEventRequest { patient_id, reason };
    let started = blocking(&state.0, move |ehr| ehr.start_care(&who, &request)).await?;
    let query = Query::default();
    Ok(match started {
        Some(episode) => resource_response(episode, &query, StatusCode::CREATED),
        None => fhir_response(
            StatusCode::OK,
            fhir::operation_outcome(
                &[fhir::Issue::information(
                    "Su establecimiento ya tiene relación de atención con este paciente; no hace falta iniciarla.",
                    "Your facility already cares for this patient; there is nothing to start.",
                )],
                fhir::Lang::Both,
            )
            .to_json_string(),
        ),
    })
}

/// # `POST /Patient/{id}/$cambio-unidad` (the patient's registration moves here)
///
/// Body: a `Parameters` with `reason` (valueString), or a form `reason=…`. Answers 200 with
/// the Patient registered at the requester's facility.
pub(crate) async fn move_registration(
    state: State,
    Auth(who): Auth,
    Path(patient_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let reason = reason_param(&state, &headers, body).await?;
    let request = ehr::CareEventRequest { patient_id, reason };
    let patient = blocking(&state.0, move |ehr| ehr.move_registration(&who, &request)).await?;
    Ok(resource_response(
        patient,
        &Query::default(),
        StatusCode::OK,
    ))
}

/// # `GET /$estadisticas?medida=diagnosticos|vacunas|sexo|entidad` (epidemiologists)
pub(crate) async fn aggregates(
    state: State,
    Auth(who): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = parse_query(raw.as_deref())?;
    let measure = query
        .get("medida")
        .or_else(|| query.get("measure"))
        .unwrap_or("")
        .to_string();
    let body = blocking(&state.0, move |ehr| ehr.aggregates(&who, &measure)).await?;
    Ok(fhir_response(
        StatusCode::OK,
        pretty_if(body.to_json_string(), query.pretty),
    ))
}
