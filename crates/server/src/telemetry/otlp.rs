//! Optional OTLP trace export: spans go to a collector over HTTP/protobuf, in
//! batches sent by a task on the tokio runtime.
//!
//! A span that ends is queued without waiting (a full queue drops it), so a
//! collector that is slow or down never holds up a request; failed exports
//! are logged at WARN.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::runtime;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};

use crate::RunError;
use crate::config::OtlpExport;

/// How long shutdown waits for the last spans to be sent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds the tracer provider; its batch task is spawned on the current tokio
/// runtime, so this must run inside one.
pub(super) fn provider(export: &OtlpExport) -> Result<SdkTracerProvider, RunError> {
    // The workspace builds reqwest without a crypto provider of its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(export.traces_endpoint.as_str())
        .build()
        .map_err(|err| {
            RunError::Io(format!(
                "cannot export spans to {}: {err}",
                export.traces_endpoint
            ))
        })?;
    let exporter = Warned {
        inner: exporter,
        endpoint: export.traces_endpoint.clone(),
        failing: AtomicBool::new(false),
    };
    // The batch settings come from `OTEL_BSP_*` (a batch every 5 s by default).
    let batch = BatchSpanProcessor::builder(exporter, runtime::Tokio).build();
    let resource = Resource::builder()
        .with_service_name(export.service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(batch)
        .with_resource(resource)
        .build())
}

/// Sends the spans still queued and stops the exporter, waiting at most
/// [`FLUSH_TIMEOUT`], so a collector that does not answer delays shutdown
/// by no more than that.
pub(super) async fn shutdown(provider: SdkTracerProvider) {
    // The SDK's shutdown blocks until the batch task, on this runtime, has
    // sent the last batch: a blocking thread waits for it.
    let stopped = tokio::task::spawn_blocking(move || provider.shutdown());
    match tokio::time::timeout(FLUSH_TIMEOUT, stopped).await {
        Ok(Ok(Ok(()))) => tracing::info!("shutting down: spans flushed"),
        Ok(Ok(Err(err))) => tracing::warn!(error = %err, "shutting down: spans not flushed"),
        Ok(Err(err)) => tracing::warn!(error = %err, "shutting down: spans not flushed"),
        Err(_) => tracing::warn!(
            timeout_ms = FLUSH_TIMEOUT.as_millis(),
            "shutting down: spans not flushed in time"
        ),
    }
}

/// An exporter that logs its failures: the first at WARN, then nothing until
/// an export succeeds again (said at INFO), so a collector that is down does
/// not flood the log.
#[derive(Debug)]
struct Warned<E> {
    inner: E,
    endpoint: String,
    failing: AtomicBool,
}

impl<E: SpanExporter> SpanExporter for Warned<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let spans = batch.len();
        let export = self.inner.export(batch);
        async move {
            let result = export.await;
            match &result {
                Err(err) if !self.failing.swap(true, Ordering::Relaxed) => tracing::warn!(
                    endpoint = %self.endpoint,
                    error = %err,
                    spans,
                    "exporting spans failed: they are dropped until the collector answers again"
                ),
                Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                    tracing::info!(endpoint = %self.endpoint, "exporting spans works again");
                }
                _ => {}
            }
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
