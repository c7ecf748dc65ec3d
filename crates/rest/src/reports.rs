//! `GET /reports/*.csv`: the public-health reports with a fixed CSV contract (issue 16), for
//! epidemiologists and system integrations. The rules and the audit are `ehr`'s
//! (`ehr::reports`); this module only reads the query and sets the media type. Errors are
//! OperationOutcomes like every other API error. Each takes `publico=1` for its public,
//! de-identified variant (counts from 1 to 4 written `<5`), audited with the request.

use axum::extract::RawQuery;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::State;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::handlers::blocking;

/// UTF-8 CSV without a BOM (RFC 4180 media type, with the header row present).
const CSV: &str = "text/csv; charset=utf-8; header=present";

/// The query's parameters as given (no FHIR parameters such as `_format` here).
fn params(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn csv(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CSV));
    response
}

/// `GET /reports/new-cases.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`
pub(crate) async fn new_cases(
    state: State,
    Auth(who): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = params(raw.as_deref());
    let publication = ehr::reports::publication(&params)?;
    let rows = blocking(&state.0, move |ehr| ehr.report_new_cases(&who, &params)).await?;
    Ok(csv(ehr::reports::new_cases_csv(&rows, publication)))
}

/// `GET /reports/consultations.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`
pub(crate) async fn consultations(
    state: State,
    Auth(who): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = params(raw.as_deref());
    let publication = ehr::reports::publication(&params)?;
    let rows = blocking(&state.0, move |ehr| ehr.report_consultations(&who, &params)).await?;
    Ok(csv(ehr::reports::consultations_csv(&rows, publication)))
}

/// `GET /reports/diabetes-control.csv?as_of=YYYY-MM-DD`
pub(crate) async fn diabetes_control(
    state: State,
    Auth(who): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = params(raw.as_deref());
    let publication = ehr::reports::publication(&params)?;
    let rows = blocking(&state.0, move |ehr| {
        ehr.report_diabetes_control(&who, &params)
    })
    .await?;
    Ok(csv(ehr::reports::diabetes_control_csv(&rows, publication)))
}

/// `GET /reports/medicine-demand.csv?month=YYYY-MM`
pub(crate) async fn medicine_demand(
    state: State,
    Auth(who): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = params(raw.as_deref());
    let publication = ehr::reports::publication(&params)?;
    let rows = blocking(&state.0, move |ehr| {
        ehr.report_medicine_demand(&who, &params)
    })
    .await?;
    Ok(csv(ehr::reports::medicine_demand_csv(&rows, publication)))
}

/// `GET /reports/vaccination-coverage.csv?as_of=YYYY-MM-DD`
pub(crate) async fn vaccination_coverage(
    state: State,
    Auth(who): Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = params(raw.as_deref());
    let publication = ehr::reports::publication(&params)?;
    let rows = blocking(&state.0, move |ehr| {
        ehr.report_vaccination_coverage(&who, &params)
    })
    .await?;
    Ok(csv(ehr::reports::vaccination_coverage_csv(
        &rows,
        publication,
    )))
}
