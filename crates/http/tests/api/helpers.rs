//! `spawn_app()`: a real server over an in-memory store, and a client.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::Value;
use xl_http::{AppState, HttpConfig};
use xl_llm::{EchoConfig, EchoProvider};
use xl_services::{Services, ServicesConfig};
use xl_store::Store;

/// The JSON body limit the test server applies.
pub const MAX_JSON: usize = 16 * 1024;

/// A running server and a client pointed at it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Probe {
    title: String,
    count: u32,
}

/// A route that exists only in tests, to exercise the JSON extractor.
async fn json_probe(body: web::Json<Probe>) -> HttpResponse {
    xl_http::Envelope::ok(serde_json::json!({ "title": body.title }))
}

pub async fn spawn_app() -> TestApp {
    let store = Store::in_memory().await.unwrap();
    let llm = Arc::new(EchoProvider::new(EchoConfig {
        pace: Duration::ZERO,
        models: Vec::new(),
    }));
    let services = Services::new(store, llm, ServicesConfig::default());
    let state = AppState {
        services: Arc::new(services),
        config: HttpConfig {
            max_json_bytes: MAX_JSON,
            workers: Some(1),
            shutdown_timeout: Duration::from_secs(1),
        },
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        xl_http::app(state.clone()).route("/test/json", web::post().to(json_probe))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    TestApp {
        address,
        client: reqwest::Client::new(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}

/// Asserts a problem+json response and returns its `error` object.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let header_id = response.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    let error = body["error"].clone();
    assert_eq!(error["status"], status);
    assert!(error["type"].as_str().unwrap().starts_with("https://"));
    assert!(error["title"].is_string());
    assert!(error["detail"].is_string());
    assert!(chrono::DateTime::parse_from_rfc3339(error["timestamp"].as_str().unwrap()).is_ok());
    assert_eq!(
        error["trace_id"], header_id,
        "trace_id is the correlation id"
    );
    error
}
