//! The console: a web client at `/` built from plain ES modules and CSS
//! (`crates/http/console/`), embedded in the binary, gzipped and versioned
//! at build time (`build.rs`).
//!
//! `GET /` is the page, revalidated on every load (`no-cache` and an
//! `ETag`); everything it loads is under `/console/<version>/`, whose
//! version is a hash of all the files, so those answers are `immutable`
//! and a new build is a new address. Every answer carries [`CONSOLE_CSP`]
//! and is sent gzipped to a client that accepts it (the bytes were
//! compressed once, when the crate was built), so the API's routes run no
//! compression middleware.

use actix_web::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, VARY,
};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::ApiError;

/// One embedded file.
pub(crate) struct Asset {
    /// Its path under `console/`.
    path: &'static str,
    content_type: &'static str,
    /// A strong validator: a hash of the bytes, quoted.
    etag: &'static str,
    raw: &'static [u8],
    gzip: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/console/assets.rs"));

/// The console's policy: scripts, styles, fonts and requests from this
/// origin only, and no inline script or style (the page has none; the
/// scripts build the DOM and set styles through the CSSOM, which the
/// policy allows). Images may also be `blob:` (a file being uploaded,
/// shown before it is sent), `data:` and any https origin, since a Block
/// Kit image is a URL by definition. No framing, no plugins, no `<base>`.
pub(crate) const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data: https:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// How long a versioned file may be cached: a year, the most HTTP caches honour.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Registers `/` and `/console/{version}/{file}`.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").get(index))
        .service(web::resource("/console/{version}/{file:.+}").get(asset));
}

fn find(path: &str) -> Option<&'static Asset> {
    FILES.iter().find(|asset| asset.path == path)
}

/// Whether the client takes gzip: `gzip` (or `*`) in `Accept-Encoding`
/// with a weight above zero.
fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(ACCEPT_ENCODING)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let weight = parts
                .find_map(|param| param.strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok());
            (name.eq_ignore_ascii_case("gzip") || name == "*") && weight.is_some_and(|q| q > 0.0)
        })
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(IF_NONE_MATCH)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

fn serve(req: &HttpRequest, asset: &Asset, cache: &'static str) -> HttpResponse {
    let unchanged = not_modified(req, asset.etag);
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((CACHE_CONTROL, cache))
        .insert_header((ETAG, asset.etag))
        .insert_header((VARY, "Accept-Encoding"))
        .insert_header((CONTENT_SECURITY_POLICY, CONSOLE_CSP));
    if unchanged {
        return response.finish();
    }
    response.insert_header((CONTENT_TYPE, asset.content_type));
    if accepts_gzip(req) {
        return response
            .insert_header((CONTENT_ENCODING, "gzip"))
            .body(asset.gzip);
    }
    response.body(asset.raw)
}

/// The console.
#[utoipa::path(
    get,
    path = "/",
    tag = "Console",
    operation_id = "console_page",
    security(()),
    description = "The built-in web client: threads, messages with Block Kit, live replies, reactions, files, artifacts and usage. Revalidated on every load (`no-cache`, `ETag`); gzipped when the client accepts it. A fresh local server prints a one-time sign-in link to it (`/#login=…`).",
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 304, description = "The page has not changed since the `ETag` sent in `If-None-Match`"),
    )
)]
pub(crate) async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(page) = find("index.html") else {
        return Err(ApiError::Internal("the console has no index.html".into()));
    };
    Ok(serve(&req, page, "no-cache"))
}

/// A file of the console (a script, the stylesheet, an icon).
#[utoipa::path(
    get,
    path = "/console/{version}/{file}",
    tag = "Console",
    operation_id = "console_file",
    security(()),
    params(
        ("version" = String, Path, description = "The build's version, as the page names it; any other is 404"),
        ("file" = String, Path, description = "The file, such as `js/main.js`"),
    ),
    responses(
        (status = 200, description = "The file, cacheable forever (`immutable`); gzipped when the client accepts it", content_type = "application/octet-stream", body = String),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 404, description = "No such file in this build"),
    )
)]
pub(crate) async fn asset(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (version, file) = path.into_inner();
    // An old page asking for an old build's file gets a 404 rather than
    // this build's file cached forever under the old name.
    if version != VERSION {
        return Err(ApiError::NotFound(format!(
            "no console build {version}; reload the page"
        )));
    }
    let Some(found) = find(&file).filter(|asset| asset.path != "index.html") else {
        return Err(ApiError::NotFound(format!("no console file {file}")));
    };
    Ok(serve(&req, found, IMMUTABLE))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn gzip_is_taken_unless_weighed_zero() {
        let accepts = |value: &str| {
            accepts_gzip(
                &TestRequest::default()
                    .insert_header((ACCEPT_ENCODING, value))
                    .to_http_request(),
            )
        };
        assert!(accepts("gzip, deflate, br"));
        assert!(accepts("br;q=1.0, gzip;q=0.8"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&TestRequest::default().to_http_request()));
    }

    #[test]
    fn every_file_is_embedded_compressed() {
        assert!(find("index.html").is_some());
        for asset in FILES {
            assert!(!asset.raw.is_empty(), "{}", asset.path);
            assert!(asset.gzip.starts_with(&[0x1f, 0x8b]), "{}", asset.path);
            assert!(asset.etag.starts_with('"') && asset.etag.ends_with('"'));
        }
    }

    #[test]
    fn the_page_names_this_builds_files() {
        let page = find("index.html").map(|p| String::from_utf8_lossy(p.raw).into_owned());
        let page = page.unwrap_or_default();
        assert!(page.contains(&format!("/console/{VERSION}/")), "{page}");
        assert!(!page.contains("{{ASSETS}}"));
    }
}
