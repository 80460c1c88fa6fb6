//! Prometheus metrics at `GET /metrics`: the `metrics` facade's recorder,
//! installed once per process, rendered in the text exposition format.
//!
//! - `xl_http_requests_total{method, route, status}` and
//!   `xl_http_request_seconds{method, route}`: `route` is the matched
//!   pattern (`/api/v1/threads/{id}`), never the raw path, so ids do not
//!   become labels; unmatched requests are `route="unmatched"`.
//! - `xl_open_streams{kind}`: SSE streams and WebSockets open now.
//! - From the services and the store: `xl_completions_total`,
//!   `xl_completion_tokens_total`, `xl_completion_cost_micros_total`,
//!   `xl_completion_seconds`, `xl_completion_first_byte_seconds`,
//!   `xl_completion_failures_total` (by model), and
//!   `xl_db_write_transactions_open`, `xl_db_write_transaction_seconds`.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::AppState;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds: from a cached read (~0.1 ms) to a long model call.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use; `None` if another
/// recorder was installed first (an embedder's own).
pub fn handle() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(err) => {
                    tracing::warn!(error = %err, "metrics: another recorder is installed; /metrics is empty");
                    None
                }
            }
        })
        .as_ref()
}

/// Registers `GET /metrics`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").get(render));
}

#[utoipa::path(get, path = "/metrics", tag = "Health", operation_id = "metrics", security(()),
    description = "Prometheus' text exposition format. With `XL_METRICS_TOKEN` set, only a request bearing that token (`Authorization: Bearer …`) is answered.",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String),
        (status = 401, description = "`XL_METRICS_TOKEN` is set and the request does not bear it"),
    ))]
async fn render(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(expected) = &state.config.metrics_token {
        let given = crate::auth::credential(&req, "").unwrap_or_default();
        // Compared as digests, so the time taken says nothing of the token.
        if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.as_bytes()) {
            return HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer"))
                .finish();
        }
    }
    let body = handle().map(PrometheusHandle::render).unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}

/// Counts and times every request by method, matched route and status.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "xl_http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!("xl_http_request_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// Counts a stream as open while it lives.
#[derive(Debug)]
pub struct OpenStream(&'static str);

impl OpenStream {
    /// An open stream of this kind (`sse`, `websocket`).
    pub fn new(kind: &'static str) -> Self {
        metrics::gauge!("xl_open_streams", "kind" => kind).increment(1);
        OpenStream(kind)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics::gauge!("xl_open_streams", "kind" => self.0).decrement(1);
    }
}
