//! Correlation ids: taken from the request or generated, echoed on every
//! response, attached to every log line and to the request's span (which
//! `xl serve` may export over OTLP), and readable anywhere in the request's
//! task (the envelope and problem bodies use it).

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use xl_services::context::{self, RequestContext};

/// The header that carries the id.
pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// The correlation id of the request being served, or an empty string
/// outside a request (kept in the services' request context, so that what
/// they record carries it too).
pub fn current_correlation_id() -> String {
    context::current().correlation_id
}

/// Runs `work` in a task of its own that outlives the request (a client that
/// disconnects drops the request's future, not this task), keeping the
/// request's correlation id and span; the handler awaits its result.
pub(crate) async fn detached<F>(work: F) -> Result<F::Output, actix_web::rt::task::JoinError>
where
    F: std::future::Future + 'static,
{
    let scoped = context::scope(context::current(), work).instrument(tracing::Span::current());
    actix_web::rt::spawn(scoped).await
}

/// Accepts a client's id only if it is short, printable ASCII.
fn sanitize(raw: &HeaderValue) -> Option<String> {
    let value = raw.to_str().ok()?.trim();
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b));
    ok.then(|| value.to_owned())
}

/// The middleware: runs the rest of the chain inside the id's scope and span,
/// logs the request, and sets the response header. The span also gets the
/// matched route and the status, and OpenTelemetry's `otel.*` fields: a
/// server span, marked failed on a 5xx.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(sanitize)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let span = tracing::info_span!(
        "request",
        correlation_id = %id,
        method = %req.method(),
        path = %req.path(),
        route = tracing::field::Empty,
        status = tracing::field::Empty,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
    );
    let started = Instant::now();
    let request = RequestContext {
        correlation_id: id.clone(),
        ip: req.peer_addr().map(|peer| peer.ip().to_string()),
    };
    let result = context::scope(request, next.call(req))
        .instrument(span.clone())
        .await;
    let _entered = span.enter();
    let mut response = match result {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "request failed before a response was built");
            return Err(err);
        }
    };
    // An i64, which tracing-opentelemetry exports as a number (a u64 it
    // turns into text).
    let status = i64::from(response.status().as_u16());
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if !span.is_disabled() {
        let route = response.request().match_pattern();
        span.record("route", route.as_deref().unwrap_or("unmatched"));
    }
    if status >= 500 {
        tracing::warn!(status, elapsed_ms, "request served");
        span.record("otel.status_code", "error");
    } else {
        tracing::info!(status, elapsed_ms, "request served");
    }
    // After the line above, which has the status already.
    span.record("status", status);
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(CORRELATION_HEADER), value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_printable_ids_are_taken_from_clients() {
        assert_eq!(
            sanitize(&HeaderValue::from_static("abc-123")),
            Some("abc-123".to_owned())
        );
        assert_eq!(sanitize(&HeaderValue::from_static("has space")), None);
        assert_eq!(sanitize(&HeaderValue::from_static("")), None);
        let long = "a".repeat(129);
        assert_eq!(sanitize(&HeaderValue::from_str(&long).unwrap()), None);
    }
}
