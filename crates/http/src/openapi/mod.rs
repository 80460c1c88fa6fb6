//! The OpenAPI 3.1 document of every route, served at `/api/v1/openapi.json`,
//! and Swagger UI over it at `/docs`.
//!
//! Operations come from the handlers' `#[utoipa::path]` annotations and
//! schemas from the wire types' `ToSchema` derives, so the document changes
//! with the code. [`document`] then fills in what every operation shares,
//! from the route family it belongs to: error responses (RFC 7807 problems,
//! or OpenAI's error shape on the OpenAI-compatible routes), security, and
//! the problem bodies of the failures an annotation names without a body.
//! `tests/api/openapi.rs` compares the document with actix's route table.

mod docs;
mod errors;
mod schemas;

use std::sync::OnceLock;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::HttpConfig;
use crate::routes;

pub(crate) use schemas::*;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

/// Tags, in the order the docs list them; those named `OpenAI: …` are the
/// families that speak OpenAI's shapes and errors instead of the envelope.
const TAGS: &[(&str, &str)] = &[
    (
        "Health",
        "Liveness, readiness and version; no credential needed.",
    ),
    (
        "Auth",
        "Sign-in (dev login, Google, GitHub), token refresh, sessions.",
    ),
    ("API keys", "Long-lived `xl_…` keys for programs."),
    (
        "Users",
        "The org's people; creating users and invitations is for administrators.",
    ),
    (
        "Preferences",
        "The caller's own preferences, as one JSON document with defaults.",
    ),
    (
        "Threads",
        "Conversations: settings, members, soft delete, fork, export and import.",
    ),
    (
        "Messages",
        "A thread's messages as a tree, edits, and the assistant's replies.",
    ),
    (
        "Events",
        "Live updates as server-sent events, typing and presence.",
    ),
    ("WebSocket", "Thread events over one WebSocket."),
    ("Reactions", "Emoji reactions on messages."),
    ("Files", "Uploads, downloads with Range and ETag, previews."),
    (
        "Search",
        "Full-text search over the caller's threads and messages.",
    ),
    ("Artifacts", "Versioned structured documents, with exports."),
    ("Interactive", "Block Kit `block_actions` payloads."),
    (
        "Usage",
        "Tokens and cost by model, day and user; budgets left; client analytics events.",
    ),
    (
        "Audit",
        "What was done to accounts and data, for the org's administrators.",
    ),
    (
        "OpenAI: Chat",
        "OpenAI's Chat Completions, in OpenAI's shapes and errors.",
    ),
    (
        "OpenAI: Models",
        "OpenAI's model list, in OpenAI's shapes and errors.",
    ),
    (
        "OpenAI: Responses",
        "OpenAI's Responses API over threads, in OpenAI's shapes and errors.",
    ),
    (
        "OpenAI: Conversations",
        "OpenAI's Conversations API over threads, in OpenAI's shapes and errors.",
    ),
    ("Docs", "This document and the interactive docs."),
    (
        "Console",
        "The built-in web client, its files embedded in the binary.",
    ),
];

/// The security schemes every authenticated route accepts, as alternatives.
const SCHEMES: &[&str] = &["bearer", "api_key", "cookie"];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Experience Layer",
        description = include_str!("description.md"),
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        routes::health::liveness,
        routes::health::readiness,
        routes::health::version,
        routes::auth::login,
        routes::auth::methods,
        routes::auth::redeem_link,
        routes::auth::refresh,
        routes::auth::logout,
        routes::auth::me,
        routes::auth::verify,
        routes::auth::list_sessions,
        routes::auth::revoke_session,
        routes::oauth::start_google,
        routes::oauth::callback_google,
        routes::oauth::start_github,
        routes::oauth::callback_github,
        routes::api_keys::list,
        routes::api_keys::create,
        routes::api_keys::revoke,
        routes::users::list,
        routes::users::create,
        routes::users::me,
        routes::users::get,
        routes::users::update,
        routes::users::delete,
        routes::preferences::get_all,
        routes::preferences::update,
        routes::preferences::reset,
        routes::preferences::list_presets,
        routes::preferences::apply_preset,
        routes::preferences::get_one,
        routes::threads::list,
        routes::threads::create,
        routes::threads::import,
        routes::threads::fork,
        routes::threads::export,
        routes::threads::get,
        routes::threads::update,
        routes::threads::delete,
        routes::threads::restore,
        routes::threads::members,
        routes::threads::add_member,
        routes::threads::remove_member,
        routes::messages::list,
        routes::messages::create,
        routes::messages::get,
        routes::messages::edit,
        routes::messages::delete,
        routes::messages::revisions,
        routes::messages::stream,
        routes::messages::cancel,
        routes::messages::regenerate,
        routes::events::feed,
        routes::events::thread_events,
        routes::events::typing,
        routes::events::presence,
        crate::ws::connect,
        crate::ws::ticket,
        routes::reactions::list,
        routes::reactions::toggle,
        routes::reactions::remove,
        routes::files::list,
        routes::files::upload,
        routes::files::get,
        routes::files::update,
        routes::files::delete,
        routes::files::content,
        routes::files::preview,
        routes::search::search,
        routes::artifacts::list_own,
        routes::artifacts::create_own,
        routes::artifacts::list_in_thread,
        routes::artifacts::create_in_thread,
        routes::artifacts::get,
        routes::artifacts::update,
        routes::artifacts::delete,
        routes::artifacts::versions,
        routes::artifacts::version,
        routes::artifacts::restore,
        routes::artifacts::export,
        routes::interactive::act,
        routes::usage::mine,
        routes::usage::system,
        routes::analytics::track,
        routes::audit::list,
        crate::metrics::render,
        routes::completions::chat_completions,
        routes::models::list,
        routes::models::get,
        routes::responses::create_response,
        routes::responses::get_response,
        routes::responses::delete_response,
        routes::responses::cancel_response,
        routes::responses::input_items,
        routes::responses::create_conversation,
        routes::responses::get_conversation,
        routes::responses::update_conversation,
        routes::responses::delete_conversation,
        routes::responses::list_items,
        routes::responses::add_items,
        routes::responses::get_item,
        routes::responses::delete_item,
        openapi_json,
        docs::index,
        docs::asset,
        crate::console::index,
        crate::console::asset,
    ),
    // The error bodies `errors.rs` refers to, and the types only query
    // parameters name (which utoipa does not collect from `IntoParams`).
    components(schemas(
        crate::error::ProblemEnvelope,
        crate::routes::completions::ErrorBody,
        xl_domain::Order,
        xl_domain::Role,
        xl_domain::MessageRole,
        xl_domain::ArtifactKind,
        xl_domain::ThreadId,
        xl_services::assistant::ReplyMode,
    ))
)]
struct ApiDoc;

/// The methods a documented path answers, as a 405's `Allow` header reads
/// (`GET, HEAD, POST`; HEAD wherever GET is): the document is the one list
/// of what each route serves, and a test holds it to the route table.
pub(crate) fn allowed_methods(pattern: &str) -> Option<&'static str> {
    static ALLOW: std::sync::OnceLock<std::collections::HashMap<String, String>> =
        std::sync::OnceLock::new();
    let table = ALLOW.get_or_init(|| {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let mut table = std::collections::HashMap::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                let mut methods: Vec<String> = item
                    .as_object()
                    .into_iter()
                    .flat_map(|ops| ops.keys())
                    .filter(|m| {
                        ["get", "put", "post", "delete", "patch", "options"].contains(&m.as_str())
                    })
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".to_owned());
                }
                methods.sort();
                table.insert(path.clone(), methods.join(", "));
            }
        }
        table
    });
    table.get(pattern).map(String::as_str)
}

/// The document for a server with these settings (the auth cookie's name
/// and the public URL are the server's own).
pub fn document(config: &HttpConfig) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    if let Some(url) = &config.public_url {
        doc["servers"] = json!([{ "url": url.trim_end_matches('/') }]);
    }
    doc["tags"] = TAGS
        .iter()
        .map(|(name, description)| json!({ "name": name, "description": description }))
        .collect();
    // The defaults are the best example of the preferences document.
    doc["components"]["schemas"]["Preferences"]["example"] =
        serde_json::to_value(xl_services::preferences::Preferences::default()).unwrap_or_default();
    legacy_users(&mut doc);
    unique_operation_ids(&mut doc);
    security_schemes(&mut doc, &config.auth_cookie_name);
    errors::complete(&mut doc);
    doc
}

/// `/users` runs the handlers of `/api/v1/users` (`routes::users::configure_legacy`).
fn legacy_users(doc: &mut Value) {
    let mut legacy = doc["paths"]["/api/v1/users"].clone();
    for method in ["get", "post"] {
        let operation = &mut legacy[method];
        let id = operation["operationId"].as_str().unwrap_or_default();
        operation["operationId"] = json!(format!("{id}_legacy"));
        operation["description"] = json!(format!(
            "The legacy path of `{} /api/v1/users`, with the same rules.",
            method.to_ascii_uppercase()
        ));
    }
    if let Some(item) = legacy.as_object_mut() {
        item.retain(|method, _| method == "get" || method == "post");
    }
    doc["paths"]["/users"] = legacy;
}

/// One handler annotated with `method(put, patch)` is two operations, which
/// OpenAPI wants named apart: the `PATCH` one gets `_patch`.
fn unique_operation_ids(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let put = item["put"]["operationId"].clone();
        if put.is_string() && item["patch"]["operationId"] == put {
            item["patch"]["operationId"] =
                json!(format!("{}_patch", put.as_str().unwrap_or_default()));
        }
    }
}

/// Whether an operation belongs to the OpenAI-compatible families.
pub(crate) fn is_openai(operation: &Value) -> bool {
    operation["tags"].as_array().is_some_and(|tags| {
        tags.iter()
            .any(|tag| tag.as_str().is_some_and(|t| t.starts_with("OpenAI")))
    })
}

/// The three credentials, and every operation that does not say
/// `security(())` (no credential) requires one of them.
fn security_schemes(doc: &mut Value, cookie: &str) {
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT: this server's session token (HS256, from sign-in), one minted by `xl token`, or an identity provider's (RS256/ES256, verified against `JWT_JWKS_URL`)."
        },
        "api_key": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "xl_…",
            "description": "An API key (`xl_…`) from `POST /api/v1/api-keys`, sent as `Authorization: Bearer xl_…`; OpenAI's SDKs send their `api_key` this way."
        },
        "cookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": cookie,
            "description": "The access token in the browser's cookie, set at sign-in. A state-changing request authenticated by the cookie alone must come from an allowed Origin (else 403)."
        }
    });
    doc["security"] = SCHEMES
        .iter()
        .map(|scheme| json!({ *scheme: [] }))
        .collect();
}

/// The serialised document, made at its first request (a worker that is
/// never asked for it, or a test's server, never builds it).
#[derive(Debug)]
struct Document {
    config: HttpConfig,
    body: OnceLock<web::Bytes>,
}

/// Registers the document and the docs. They go before the `/api/v1` scope,
/// which would otherwise take the document's path for one of its own.
pub(crate) fn configure(config: &HttpConfig) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
    let document = Document {
        config: config.clone(),
        body: OnceLock::new(),
    };
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(document))
            .service(web::resource(DOCUMENT_PATH).get(openapi_json))
            .configure(docs::configure);
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "Docs",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this server", content_type = "application/json", body = Object))
)]
async fn openapi_json(document: web::Data<Document>) -> HttpResponse {
    let body = document.body.get_or_init(|| {
        serde_json::to_vec(&self::document(&document.config))
            .unwrap_or_default()
            .into()
    });
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(body.clone())
}
