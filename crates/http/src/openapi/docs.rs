//! `/docs`: Swagger UI over [`super::DOCUMENT_PATH`], its files compiled into
//! the binary (utoipa-swagger-ui's `vendored` feature), so the page works
//! with no network beyond this server.
//!
//! The page needs more than the API's default content security policy
//! (`default-src 'none'`): its own scripts, styles and images, and `fetch`
//! to this origin for the document and "Try it out". Its responses carry
//! [`DOCS_CSP`] themselves, which `security::headers` leaves as it is; every
//! other route keeps the default.

use std::sync::{Arc, LazyLock};

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use utoipa_swagger_ui::Config;

use crate::ApiError;

/// The policy of the docs' responses: scripts, styles and images from this
/// origin only (images also as `data:` URLs, which Swagger UI's stylesheet
/// uses for its icons), requests to this origin only (the document, "Try it
/// out"), no framing, no forms. Styles may be inline because Swagger UI
/// applies inline styles as it renders (Chromium reports the violation
/// without it). No `eval`: the bundle does not need it.
pub(crate) const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The page, with absolute asset paths so it works at `/docs` and `/docs/`.
const INDEX: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Experience Layer API</title>
    <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="/docs/index.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"#;

/// Swagger UI's settings: this server's document; no validator badge (it
/// would send the document to swagger.io); credentials entered in the page
/// are forgotten on reload.
static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new([super::DOCUMENT_PATH])
            .validator_url("none")
            .persist_authorization(false)
            .display_request_duration(true)
            .filter(true),
    )
});

/// Registers `/docs` and its files.
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/docs").get(index))
        .service(web::resource("/docs/{file:.*}").get(asset));
}

fn docs_response(content_type: &str, cache: &'static str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, cache))
        .insert_header((CONTENT_SECURITY_POLICY, DOCS_CSP))
        .body(body)
}

/// The interactive docs.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "Docs",
    security(()),
    responses((status = 200, description = "Swagger UI over this server's OpenAPI document", content_type = "text/html", body = String))
)]
pub(super) async fn index() -> HttpResponse {
    docs_response(
        "text/html; charset=utf-8",
        "no-cache",
        INDEX.as_bytes().to_vec(),
    )
}

/// A file of the interactive docs (scripts, styles, icons).
#[utoipa::path(
    get,
    path = "/docs/{file}",
    tag = "Docs",
    security(()),
    params(("file" = String, Path, description = "The file, such as `swagger-ui-bundle.js`; empty for the page")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = String),
        (status = 404, description = "No such file"),
    )
)]
pub(super) async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = file.into_inner();
    if file.is_empty() || file == "index.html" {
        return Ok(index().await);
    }
    let found = utoipa_swagger_ui::serve(&file, Arc::clone(&CONFIG))
        .map_err(|err| ApiError::Internal(format!("serving the docs' {file} failed: {err}")))?;
    let Some(found) = found else {
        return Err(ApiError::NotFound(format!("no docs file {file}")));
    };
    // The initializer carries the settings; the rest change only with the binary.
    let cache = if file == "swagger-initializer.js" {
        "no-cache"
    } else {
        "public, max-age=86400"
    };
    Ok(docs_response(
        &found.content_type,
        cache,
        found.bytes.into_owned(),
    ))
}
