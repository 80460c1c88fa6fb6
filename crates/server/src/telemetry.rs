//! Logging through tracing: human-readable lines or JSON (`XL_LOG_FORMAT=json`),
//! and, when an OTLP endpoint is configured, the same spans exported to a
//! collector.
//!
//! actix-http logs a client's protocol faults (a malformed header, an
//! oversized head, a request that never completes) at ERROR, as if the
//! server had failed. Those events are logged at WARN instead, under the
//! target `xl_server::client`, so ERROR stays a signal for our own faults.

mod otlp;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::RunError;
use crate::config::{Config, LogFormat};

/// The span export, if one is configured.
pub struct Spans(Option<SdkTracerProvider>);

impl Spans {
    /// Runs `work`, then sends the spans still queued: a server's once it
    /// has stopped, when every request's span has ended.
    pub async fn flushed_after<T>(self, work: impl Future<Output = T>) -> T {
        let done = work.await;
        if let Some(provider) = self.0 {
            otlp::shutdown(provider).await;
        }
        done
    }
}

/// Installs the global subscriber, with the OTLP export layer when one is
/// configured (there is no such layer otherwise, so no cost). Safe to call
/// more than once. Runs inside the tokio runtime, where the exporter's task
/// is spawned.
pub fn init(config: &Config) -> Result<Spans, RunError> {
    let provider = config.otlp.as_ref().map(otlp::provider).transpose()?;
    // Spans are exported as the log filter lets them through.
    let spans = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("xl"))
            .with_threads(false)
            .with_location(false)
            .with_filter(log_filter(config))
    });
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match config.log_format {
        LogFormat::Json => lines
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Text => lines.compact().boxed(),
    };
    let lines =
        lines.with_filter(log_filter(config).and(filter_fn(|meta| !may_be_client_fault(meta))));
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(ClientFaults)
        .with(spans)
        .try_init();
    Ok(Spans(provider))
}

/// `XL_LOG`, validated when the configuration was loaded.
fn log_filter(config: &Config) -> EnvFilter {
    EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Whether an event may be a client's protocol fault as actix-http logs it.
fn may_be_client_fault(meta: &Metadata<'_>) -> bool {
    meta.is_event() && *meta.level() == Level::ERROR && meta.target().starts_with("actix_http::")
}

/// Whether an actix-http error message describes the client's fault.
fn is_client_fault(message: &str) -> bool {
    const CLIENT: &[&str] = &[
        "request parse error",
        "request did not complete within the specified timeout",
        "handler dropped payload before reading EOF",
    ];
    CLIENT.iter().any(|fault| message.contains(fault))
}

/// Re-logs actix-http's ERROR events: client faults at WARN, anything else
/// at ERROR as before (the line layer skips the originals).
struct ClientFaults;

impl<S: Subscriber> Layer<S> for ClientFaults {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !may_be_client_fault(event.metadata()) {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let origin = event.metadata().target();
        if is_client_fault(&message.0) {
            tracing::warn!(target: "xl_server::client", fault = %message.0, origin, "a client broke the HTTP protocol");
        } else {
            tracing::error!(target: "xl_server::http", error = %message.0, origin, "the HTTP server failed");
        }
    }
}

/// The `message` field of an event.
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_faults_are_told_from_server_faults() {
        assert!(is_client_fault(
            "stream error: request parse error: invalid Header provided"
        ));
        assert!(is_client_fault(
            "stream error: request parse error: message head is too large"
        ));
        assert!(is_client_fault(
            "stream error: request did not complete within the specified timeout"
        ));
        assert!(!is_client_fault("stream error: I/O error: broken pipe"));
        assert!(!is_client_fault("Response payload stream error: x"));
    }
}
