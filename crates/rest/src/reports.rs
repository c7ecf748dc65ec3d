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

/// A report's two halves in `ehr`: computing its rows as the requester, and writing them.
type Compute<R> = fn(&ehr::Ehr, &ehr::Requester, &[(String, String)]) -> Result<Vec<R>, ehr::Error>;
type Render<R> = fn(&[R], ehr::reports::Publication) -> String;

/// Every report is answered the same way: the query read, the publication variant chosen,
/// the rows computed off the async workers, the CSV written.
async fn report<R: Send + 'static>(
    state: State,
    who: std::sync::Arc<ehr::Requester>,
    raw: Option<String>,
    compute: Compute<R>,
    render: Render<R>,
) -> Result<Response, ApiError> {
    let params = params(raw.as_deref());
    let publication = ehr::reports::publication(&params)?;
    let rows = blocking(&state.0, move |ehr| compute(ehr, &who, &params)).await?;
    Ok(csv(render(&rows, publication)))
}

/// One handler per report: `report` with the report's two halves.
macro_rules! report_handlers {
    ($($(#[$doc:meta])* $name:ident => $compute:path, $render:path;)*) => {
        $(
            $(#[$doc])*
            pub(crate) async fn $name(
                state: State,
                Auth(who): Auth,
                RawQuery(raw): RawQuery,
            ) -> Result<Response, ApiError> {
                report(state, who, raw, $compute, $render).await
            }
        )*
    };
}

report_handlers! {
    /// `GET /reports/new-cases.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`
    new_cases => ehr::Ehr::report_new_cases, ehr::reports::new_cases_csv;
    /// `GET /reports/consultations.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`
    consultations => ehr::Ehr::report_consultations, ehr::reports::consultations_csv;
    /// `GET /reports/diabetes-control.csv?as_of=YYYY-MM-DD`
    diabetes_control => ehr::Ehr::report_diabetes_control, ehr::reports::diabetes_control_csv;
    /// `GET /reports/medicine-demand.csv?month=YYYY-MM`
    medicine_demand => ehr::Ehr::report_medicine_demand, ehr::reports::medicine_demand_csv;
    /// `GET /reports/vaccination-coverage.csv?as_of=YYYY-MM-DD`
    vaccination_coverage => ehr::Ehr::report_vaccination_coverage, ehr::reports::vaccination_coverage_csv;
    /// `GET /reports/repeated-tests.csv?from=YYYY-MM-DD&to=YYYY-MM-DD`
    repeated_tests => ehr::Ehr::report_repeated_tests, ehr::reports::repeated_tests_csv;
    /// `GET /reports/data-quality.csv`
    data_quality => ehr::Ehr::report_data_quality, ehr::reports::data_quality_csv;
}
