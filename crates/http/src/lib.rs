//! The actix-web adapter of Experience Layer.
//!
//! Only this crate knows actix-web and the wire envelope. Handlers parse the
//! request, call a service with the caller's identity, and wrap the result in
//! the envelope; every failure becomes an RFC 7807 problem.

pub mod auth;
mod body;
mod console;
mod correlation;
mod envelope;
mod error;
mod head;
pub mod idempotency;
mod limits;
pub mod metrics;
pub mod openapi;
mod routes;
pub mod security;
mod sse;
mod ws;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Condition, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};

pub use correlation::{CORRELATION_HEADER, current_correlation_id};
pub use envelope::{API_VERSION, Envelope};
pub use error::ApiError;
use xl_services::Services;

/// Settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Largest JSON body accepted, in bytes.
    pub max_json_bytes: usize,
    /// Worker threads (defaults to the number of cores).
    pub workers: Option<usize>,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_timeout: Duration,
    /// The cookie that carries the access token in browsers.
    pub auth_cookie_name: String,
    /// Where browsers without a session are sent (`AUTH_LOGIN_URL`).
    pub login_url: Option<String>,
    /// The server's public base URL (`XL_PUBLIC_URL`): the origin of the
    /// links it makes, trusted for cookie-authenticated requests, and HSTS
    /// when it is https. Without it the bound address is used; request
    /// headers (`Host`, `X-Forwarded-Host`) never are.
    pub public_url: Option<String>,
    /// Origins allowed to call from browsers (`CORS_ORIGINS`; `*` for any,
    /// without credentials). Empty: no CORS.
    pub cors_origins: Vec<String>,
    /// How often an idle event stream sends a keep-alive comment; a
    /// client that has gone is noticed (and its subscription dropped) at
    /// the next one.
    pub sse_keep_alive: Duration,
    /// The bearer token `GET /metrics` asks for (`XL_METRICS_TOKEN`); open
    /// to anyone who can reach it when `None`.
    pub metrics_token: Option<String>,
    /// How long a client may take to send a request's head
    /// (`XL_REQUEST_HEAD_TIMEOUT`); a slower one gets 408 and is closed, so
    /// slow-header clients cannot hold connections open.
    pub request_head_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_json_bytes: 1024 * 1024,
            workers: None,
            shutdown_timeout: Duration::from_secs(30),
            auth_cookie_name: "rpotential_auth".to_owned(),
            login_url: None,
            public_url: None,
            cors_origins: Vec::new(),
            sse_keep_alive: sse::KEEP_ALIVE,
            metrics_token: None,
            request_head_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(15),
        }
    }
}

/// Shared state handed to every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The services.
    pub services: Arc<Services>,
    /// HTTP settings.
    pub config: HttpConfig,
}

/// Registers every route, extractor setting and middleware on an app.
/// Used by [`server`] and by tests that build an app in-process.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    // The OpenAPI document names the server's own cookie and public URL.
    let docs = openapi::configure(&state.config);
    move |cfg: &mut web::ServiceConfig| {
        let max_json = state.config.max_json_bytes;
        cfg.app_data(web::Data::new(state))
            .app_data(
                web::JsonConfig::default()
                    .limit(max_json)
                    .error_handler(|err, _req| ApiError::from(err).into()),
            )
            .app_data(web::PayloadConfig::default().limit(max_json))
            .app_data(
                web::QueryConfig::default().error_handler(|err, _req| ApiError::from(err).into()),
            )
            .app_data(
                web::PathConfig::default().error_handler(|err, _req| ApiError::from(err).into()),
            )
            .configure(docs)
            .configure(routes::configure);
    }
}

/// The application: routes, extractor settings, the problem+json fallbacks
/// and the correlation middleware. Tests may add routes to it.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // Installed before the first request, so nothing counted is lost.
    let _ = metrics::handle();
    let cors_enabled = !state.config.cors_origins.is_empty();
    let cors = security::cors(&state.config);
    App::new()
        .configure(configure(state))
        .default_service(web::to(routes::not_found))
        .wrap(from_fn(security::csrf))
        .wrap(from_fn(limits::headers))
        .wrap(
            ErrorHandlers::new().handler(StatusCode::METHOD_NOT_ALLOWED, error::method_not_allowed),
        )
        .wrap(from_fn(head::middleware))
        .wrap(Condition::new(cors_enabled, cors))
        .wrap(from_fn(correlation::middleware))
        .wrap(from_fn(metrics::middleware))
        .wrap(from_fn(security::headers))
}

/// Builds the HTTP server on an already-bound listener (port 0 works, which
/// is how tests get a free port). The returned server runs when awaited. It
/// does not watch for signals: the caller stops it through
/// [`Server::handle`] (gracefully, letting in-flight requests finish within
/// the configured timeout), so that it can do its own shutdown work
/// alongside, such as letting replies in progress finish.
pub fn server(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let workers = state.config.workers;
    let shutdown = state.config.shutdown_timeout;
    let head_timeout = state.config.request_head_timeout;
    let keep_alive = state.config.keep_alive;
    // TCP_NODELAY: without it Nagle's algorithm holds a small write (the
    // second frame of an SSE stream) until the client acknowledges the
    // first, which a delayed ACK can put off by tens of milliseconds.
    let mut builder = HttpServer::new(move || app(state.clone()))
        .shutdown_timeout(shutdown.as_secs())
        .disable_signals()
        .tcp_nodelay(true)
        .client_request_timeout(head_timeout)
        .client_disconnect_timeout(Duration::from_secs(2))
        .keep_alive(keep_alive);
    if let Some(workers) = workers {
        builder = builder.workers(workers.max(1));
    }
    Ok(builder.listen(listener)?.run())
}
