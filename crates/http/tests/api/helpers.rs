//! `spawn_app()`: a real server over an in-memory store, a client, and
//! helpers to mint tokens and call the API as someone.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::Value;
use xl_domain::{Email, Role};
use xl_http::{AppState, HttpConfig};
use xl_llm::{ChatProvider, EchoConfig, EchoProvider};
use xl_services::auth::Claims;
use xl_services::{Services, ServicesConfig};
use xl_store::Store;

/// The JSON body limit the test server applies.
pub const MAX_JSON: usize = 16 * 1024;

/// What a test may change before the server starts.
pub struct TestOptions {
    pub services: ServicesConfig,
    pub http: HttpConfig,
    /// The model provider; the echo provider (no delay) when `None`.
    pub llm: Option<Arc<dyn ChatProvider>>,
    /// Where files go, instead of the store `services.files` names.
    pub file_store: Option<xl_services::files::FileStore>,
}

/// A running server and a client pointed at it.
pub struct TestApp {
    pub address: String,
    /// A client that does not follow redirects.
    pub client: reqwest::Client,
    pub services: Arc<Services>,
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
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut TestOptions)) -> TestApp {
    // Errors the server logs (the causes of 5xx) show up in the test output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("XL_TEST_LOG").unwrap_or_else(|_| "error".into()))
        .with_test_writer()
        .try_init();
    let mut options = TestOptions {
        // Automatic replies are off unless a test turns them on (the
        // assistant tests do), so that tests of the message tree see only
        // the messages they post.
        services: ServicesConfig {
            auto_completion_enabled: false,
            ..ServicesConfig::default()
        },
        http: HttpConfig {
            max_json_bytes: MAX_JSON,
            workers: Some(1),
            shutdown_timeout: Duration::from_secs(1),
            ..HttpConfig::default()
        },
        llm: None,
        file_store: None,
    };
    configure(&mut options);
    let store = Store::in_memory().await.unwrap();
    let llm = options.llm.unwrap_or_else(|| {
        Arc::new(EchoProvider::new(EchoConfig {
            pace: Duration::ZERO,
            models: Vec::new(),
        }))
    });
    let mut services = Services::new(store, llm, options.services);
    if let Some(files) = options.file_store {
        services = services.with_file_store(files);
    }
    let services = Arc::new(services);
    let state = AppState {
        services: Arc::clone(&services),
        config: options.http,
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
    let _ = xl_services::http_client();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address,
        client,
        services,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Signs arbitrary claims with the server's HS256 secret.
    pub fn sign(&self, claims: &Claims) -> String {
        self.services.auth().signer().sign(claims).unwrap()
    }

    /// Claims for a user, valid for an hour.
    pub fn claims(&self, email: &str, role: Role) -> Claims {
        let email = Email::parse(email).unwrap();
        let name = email.as_str().split('@').next().unwrap().to_owned();
        Claims::for_user(&email, &name, role, Duration::from_secs(3600))
    }

    /// A valid token for a user (created on first use; the org is the email domain).
    pub fn token(&self, email: &str, role: Role) -> String {
        self.sign(&self.claims(email, role))
    }

    /// Signs up a user through the API and returns their token and profile.
    pub async fn user(&self, email: &str, role: Role) -> (String, Value) {
        let token = self.token(email, role);
        let response = self.get("/api/v1/users/me", &token).await;
        assert_eq!(response.status(), 200, "signing up {email}");
        let body: Value = response.json().await.unwrap();
        (token, body["data"].clone())
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// The `data` of a successful envelope, asserting the status.
pub async fn data(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "body: {body}");
    assert_eq!(body["success"], true, "{body}");
    body["data"].clone()
}

/// Asserts a problem+json response and returns its `error` object.
pub async fn problem(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let header_id = response.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "body: {body}");
    assert_eq!(content_type, "application/problem+json");
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

/// The fields a problem's `errors` name, in order.
pub fn fields(error: &Value) -> Vec<String> {
    error["errors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// The problem type's last segment (`…/problems/token-expired` → `token-expired`).
pub fn problem_kind(error: &Value) -> &str {
    error["type"].as_str().unwrap().rsplit('/').next().unwrap()
}
