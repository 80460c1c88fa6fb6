//! OTLP trace export from a real `xl` process: a stand-in collector on a
//! loopback port decodes what it is posted (`ExportTraceServiceRequest` over
//! HTTP/protobuf) and the tests look for the request's span in it; spans
//! still queued are sent at shutdown; a collector that is down costs the
//! requests nothing and is logged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, span::SpanKind, status::StatusCode};
use prost::Message;
use support::Server;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One POST the collector was sent.
struct Export {
    /// `POST /v1/traces`, if the exporter got the path right.
    request_line: String,
    content_type: String,
    body: Vec<u8>,
}

/// A stand-in OTLP/HTTP collector: answers every request with an empty
/// `200 OK` (a full success) and hands over what it was sent.
struct Collector {
    /// The base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it.
    endpoint: String,
    exports: mpsc::UnboundedReceiver<Export>,
}

impl Collector {
    async fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (sender, exports) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, sender.clone()));
            }
        });
        Collector { endpoint, exports }
    }

    /// Waits (up to 30 s) for a span of a request with this correlation id,
    /// checking each export's framing on the way; returns the span and the
    /// `service.name` of its resource.
    async fn span_of(&mut self, correlation_id: &str) -> (Span, String) {
        let wait = async {
            loop {
                let export = self.exports.recv().await.expect("the collector stopped");
                assert_eq!(export.request_line, "POST /v1/traces HTTP/1.1");
                assert_eq!(export.content_type, "application/x-protobuf");
                let request = ExportTraceServiceRequest::decode(export.body.as_slice()).unwrap();
                for resource_spans in request.resource_spans {
                    let service = resource_spans
                        .resource
                        .as_ref()
                        .and_then(|resource| string(&resource.attributes, "service.name"))
                        .unwrap_or_default();
                    for span in resource_spans
                        .scope_spans
                        .into_iter()
                        .flat_map(|scope| scope.spans)
                    {
                        if string(&span.attributes, "correlation_id").as_deref()
                            == Some(correlation_id)
                        {
                            return (span, service);
                        }
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("no span with correlation id {correlation_id} arrived"))
    }
}

/// Serves one connection: HTTP/1.1 requests with a `Content-Length` body,
/// one after another (the exporter keeps its connection).
async fn answer(stream: TcpStream, exports: mpsc::UnboundedSender<Export>) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut content_type) = (0, String::new());
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.unwrap();
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            } else if name.eq_ignore_ascii_case("content-type") {
                value.trim().clone_into(&mut content_type);
            }
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.unwrap();
        let _ = exports.send(Export {
            request_line: request_line.trim_end().to_owned(),
            content_type,
            body,
        });
        let ok =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        stream.get_mut().write_all(ok.as_bytes()).await.unwrap();
    }
}

/// The string value of the attribute `key`.
fn string(attributes: &[KeyValue], key: &str) -> Option<String> {
    match value(attributes, key)? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

fn value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|AnyValue { value }| value.as_ref())
}

/// `GET /api/v1/threads/{id}` with no credentials, as `correlation_id`: a
/// route whose pattern differs from its path, answered 401.
async fn unauthenticated_thread_read(server: &Server, correlation_id: &str) -> String {
    let path = "/api/v1/threads/0190f0c4-7d2a-7c3e-9a4b-5c6d7e8f9a0b";
    let response = xl_services::http_client()
        .get(format!("{}{path}", server.base))
        .header("x-correlation-id", correlation_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-correlation-id"], correlation_id);
    path.to_owned()
}

/// Starts `xl` exporting to `endpoint` (with `OTEL_BSP_SCHEDULE_DELAY` at
/// `delay_ms`) and logging at INFO, the request spans' level, and waits
/// until it answers.
async fn exporting(endpoint: &str, delay_ms: &str, more: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", delay_ms),
        ("XL_LOG", "info"),
    ];
    env.extend_from_slice(more);
    let server = Server::start_capturing_log(&env);
    server.ready().await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_span_reaches_the_collector_with_its_correlation_id_route_and_status() {
    let mut collector = Collector::start().await;
    let mut server = exporting(
        &collector.endpoint,
        "100",
        &[("OTEL_SERVICE_NAME", "xl-otlp-test")],
    )
    .await;
    let path = unauthenticated_thread_read(&server, "otlp-test-live").await;

    // Exported while the server runs, within the batch delay.
    let (span, service) = collector.span_of("otlp-test-live").await;
    assert_eq!(service, "xl-otlp-test");
    assert_eq!(span.name, "request");
    assert_eq!(span.kind, SpanKind::Server as i32);
    let attributes = &span.attributes;
    assert_eq!(string(attributes, "method").as_deref(), Some("GET"));
    assert_eq!(string(attributes, "path").as_deref(), Some(path.as_str()));
    assert_eq!(
        string(attributes, "route").as_deref(),
        Some("/api/v1/threads/{id}")
    );
    assert_eq!(
        value(attributes, "status"),
        Some(&any_value::Value::IntValue(401))
    );
    // A 4xx is the client's: the span is not marked failed.
    let status = span.status.unwrap_or_default();
    assert_ne!(status.code, StatusCode::Error as i32);
    assert_eq!(span.trace_id.len(), 16);
    assert!(
        span.events
            .iter()
            .any(|event| event.name == "request served"),
        "the log line is an event of the span: {:?}",
        span.events
    );
    let (exit, log) = tokio::task::block_in_place(|| server.terminate());
    assert!(exit.success(), "{exit}: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_still_queued_are_sent_when_the_server_stops() {
    let mut collector = Collector::start().await;
    // A batch would wait ten minutes: only the flush at shutdown sends it.
    let mut server = exporting(&collector.endpoint, "600000", &[]).await;
    unauthenticated_thread_read(&server, "otlp-test-shutdown").await;

    let (exit, log) = tokio::task::block_in_place(|| server.terminate());
    assert!(exit.success(), "{exit}: {log}");
    assert!(log.contains("shutting down: spans flushed"), "{log}");
    let (span, service) = collector.span_of("otlp-test-shutdown").await;
    assert_eq!(service, "xl", "the default service name");
    assert_eq!(
        value(&span.attributes, "status"),
        Some(&any_value::Value::IntValue(401))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_is_logged_and_requests_are_served() {
    // A port nothing listens on: every export is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut server = exporting(&format!("http://{closed}"), "50", &[]).await;
    for n in 0..20 {
        unauthenticated_thread_read(&server, &format!("otlp-test-down-{n}")).await;
    }

    let (exit, log) = tokio::task::block_in_place(|| server.terminate());
    assert!(exit.success(), "{exit}: {log}");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("exporting spans failed"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning, however many failures: {log}"
    );
    assert!(warnings[0].contains("WARN"), "{}", warnings[0]);
    assert!(!log.contains("ERROR"), "{log}");
    assert!(log.contains("shutdown complete"), "{log}");
}
