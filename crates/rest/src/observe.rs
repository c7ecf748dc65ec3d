//! What the operator sees of a running node: the access log and Prometheus metrics
//! (`GET /metrics`), for every route the node serves (FHIR API, web UI, sync).
//!
//! Key decisions:
//! - Requests are labelled by method, the route's *template* (`/fhir/{type}/{id}`) and the
//!   status code, never by the path as sent: paths carry ids, CURPs and names, and a label per
//!   id would also grow the metrics without bound. Unmatched paths share one label.
//! - `/metrics` answers loopback clients (a Prometheus agent on the same PC, as a clinic
//!   runs it), and elsewhere only a bearer secret the operator configured; otherwise 404, so
//!   that a scan of the node learns nothing about it.
//! - Figures that live elsewhere (database size, sync lag) are read at scrape time through
//!   callbacks, not kept updated on every request.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fhir::{Issue, IssueCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::ApiError;

/// The label of requests that matched no route.
const UNMATCHED_ROUTE: &str = "(sin ruta)";

/// The OpenMetrics text media type Prometheus asks for.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// A figure read when scraped; `None` leaves it out of that scrape (e.g. the store did not
/// answer).
pub type GaugeFn = Box<dyn Fn() -> Option<f64> + Send + Sync>;

/// The node's metrics and access log.
pub struct Observability {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    seconds: Family<RouteLabels, Histogram>,
    /// A bearer secret that lets a scraper on another host read `/metrics`.
    scrape_token: Option<String>,
}

impl fmt::Debug for Observability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observability").finish_non_exhaustive()
    }
}

/// Gauges read at scrape time.
struct Gauges(Vec<(&'static str, &'static str, GaugeFn)>);

impl fmt::Debug for Gauges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _, _)| name))
            .finish()
    }
}

impl Collector for Gauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        for (name, help, read) in &self.0 {
            if let Some(value) = read() {
                let gauge = ConstGauge::new(value);
                let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
                gauge.encode(metric)?;
            }
        }
        Ok(())
    }
}

impl Observability {
    /// Metrics of this node: its HTTP requests, the record layer's figures (`ehr`), and
    /// `gauges` read at each scrape (name, help, reader).
    pub fn new(
        ehr: &ehr::metrics::EhrMetrics,
        gauges: Vec<(&'static str, &'static str, GaugeFn)>,
        scrape_token: Option<String>,
    ) -> Arc<Observability> {
        let mut registry = Registry::with_prefix("expediente");
        let requests = Family::<RequestLabels, Counter>::default();
        // 0.25 ms to ~8 s: a read by id is well under a millisecond on a clinic PC.
        let seconds = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register(
            "http_requests",
            "Solicitudes HTTP atendidas, por método, ruta y estado / HTTP requests answered",
            requests.clone(),
        );
        registry.register(
            "http_request_seconds",
            "Tiempo de respuesta por método y ruta / Response time by method and route",
            seconds.clone(),
        );
        registry.register(
            "store_write_seconds",
            "Tiempo de una escritura hasta su confirmación durable / Time of a write until durably committed",
            ehr.store_write_seconds.clone(),
        );
        registry.register(
            "audit_backlog_entries",
            "Entradas de auditoría de lecturas aún no escritas / Read audit entries not yet written",
            ehr.audit_backlog.clone(),
        );
        registry.register_collector(Box::new(Gauges(gauges)));
        Arc::new(Observability {
            registry,
            requests,
            seconds,
            scrape_token: scrape_token.filter(|t| !t.is_empty()),
        })
    }

    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.seconds
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// The metrics in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// Whether a request may read `/metrics`: from this machine, or with the scrape secret.
    fn may_scrape(&self, request: &Request) -> bool {
        let local = crate::client_ip(request.extensions()).is_some_and(|ip| ip.is_loopback());
        let token = self.scrape_token.as_deref().is_some_and(|secret| {
            crate::auth::bearer(request.headers()).is_some_and(|sent| {
                use aws_lc_rs::constant_time::verify_slices_are_equal;
                verify_slices_are_equal(sent.as_bytes(), secret.as_bytes()).is_ok()
            })
        });
        local || token
    }
}

/// Adds the access log and the request metrics to every route of `app` (apply it to the
/// whole node: API, web UI and sync), and serves `GET /metrics`.
pub fn layer(app: Router, observability: Arc<Observability>) -> Router {
    let scrape = observability.clone();
    app.route(
        "/metrics",
        get(move |request: Request| {
            let observability = scrape.clone();
            async move { metrics(&observability, &request) }
        }),
    )
    .layer(middleware::from_fn(move |request: Request, next: Next| {
        let observability = observability.clone();
        async move { observe(&observability, request, next).await }
    }))
}

fn metrics(observability: &Observability, request: &Request) -> Response {
    if !observability.may_scrape(request) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            Issue::error(
                IssueCode::NotFound,
                "Dirección desconocida",
                "Unknown endpoint",
            ),
        )
        .into_response();
    }
    match observability.render() {
        Ok(text) => {
            let mut response = text.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
            response
        }
        Err(_) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Issue::error(
                IssueCode::Exception,
                "No se pudieron generar las métricas.",
                "The metrics could not be rendered.",
            ),
        )
        .into_response(),
    }
}

async fn observe(observability: &Observability, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_string(), |m| m.as_str().to_string());
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    observability.record(&method, &route, status, elapsed);
    // The access log names the route's template, never the path or the query as sent: those
    // carry ids, CURPs and names (no health data in logs). Off unless the operator enables
    // the `access` target.
    tracing::info!(
        target: "access",
        method = %method,
        route = %route,
        status,
        ms = elapsed * 1000.0,
    );
    response
}
