//! Browser-facing protections: CORS (actix-cors, from `CORS_ORIGINS`), the
//! Origin check that stands in for a CSRF token on cookie-authenticated
//! state changes, security headers on every response, and the server's own
//! origin taken from `XL_PUBLIC_URL` rather than from request headers.

use actix_cors::Cors;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, AUTHORIZATION, HeaderName, HeaderValue, ORIGIN, REFERER};
use actix_web::http::{Method, header::HOST};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, ResponseError, web};

use crate::routes::auth::REFRESH_COOKIE;
use crate::{ApiError, AppState, HttpConfig};

/// The content security policy of responses that set none themselves: the
/// API serves data, never a page to render or frame.
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The server's origin (`scheme://host[:port]`) for links it makes (OAuth
/// redirect URIs, login return URLs): `XL_PUBLIC_URL` when set, else the
/// address the server is bound to. Never the `Host` or `X-Forwarded-Host`
/// header, which the client chooses.
pub fn server_origin(req: &HttpRequest, config: &HttpConfig) -> String {
    if let Some(public) = config.public_url.as_deref().and_then(origin_of) {
        return public;
    }
    format!("http://{}", req.app_config().local_addr())
}

/// `scheme://host[:port]` of a URL, if it has one.
fn origin_of(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Whether the server's own origin is a loopback address (cookies may then
/// go without `Secure`, since a browser on the same machine uses plain HTTP).
pub fn served_locally(req: &HttpRequest, config: &HttpConfig) -> bool {
    let origin = server_origin(req, config);
    url::Url::parse(&origin)
        .ok()
        .is_some_and(|url| match url.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        })
}

/// CORS from `CORS_ORIGINS`: listed origins only, with credentials; `*`
/// allows any origin but never with credentials. The public URL's origin is
/// always allowed, so the built-in console keeps working with CORS on.
pub fn cors(config: &HttpConfig) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("last-event-id"),
            HeaderName::from_static(crate::CORRELATION_HEADER),
        ])
        .expose_headers([HeaderName::from_static(crate::CORRELATION_HEADER)])
        .max_age(3600);
    if config.cors_origins.iter().any(|origin| origin == "*") {
        return cors.allow_any_origin().send_wildcard();
    }
    for origin in trusted_origins(config) {
        cors = cors.allowed_origin(&origin);
    }
    cors.supports_credentials()
}

/// Origins trusted to make cookie-authenticated requests: the public URL's
/// and those listed in `CORS_ORIGINS` (never `*`).
fn trusted_origins(config: &HttpConfig) -> Vec<String> {
    let mut origins: Vec<String> = config
        .cors_origins
        .iter()
        .filter(|origin| *origin != "*")
        .filter_map(|origin| origin_of(origin))
        .collect();
    if let Some(public) = config.public_url.as_deref().and_then(origin_of) {
        origins.push(public);
    }
    origins
}

/// Adds the security headers to every response that lacks them.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let hsts = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.config.public_url.clone())
        .is_some_and(|url| url.starts_with("https://"));
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::CONTENT_SECURITY_POLICY, DEFAULT_CSP);
    if hsts {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    Ok(response)
}

/// Refuses a state-changing request (or a WebSocket handshake)
/// authenticated by a cookie alone unless
/// its `Origin` (or, lacking one, its `Referer`) is the server's own origin
/// or a trusted one. A request with an `Authorization` header is exempt: a
/// cross-site page cannot set it without passing CORS.
pub async fn csrf(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if let Some(refusal) = cross_site_refusal(&req) {
        let response = refusal.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn cross_site_refusal(req: &ServiceRequest) -> Option<ApiError> {
    // A WebSocket handshake is a GET, but the connection it opens acts for
    // the cookie's owner as any change does, and browsers send cookies on
    // a cross-site handshake (cross-site WebSocket hijacking).
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade && matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    if req.headers().contains_key(AUTHORIZATION) {
        return None;
    }
    let state = req.app_data::<web::Data<AppState>>()?;
    let config = &state.config;
    let cookie_auth =
        req.cookie(&config.auth_cookie_name).is_some() || req.cookie(REFRESH_COOKIE).is_some();
    if !cookie_auth {
        return None;
    }
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let origin = header(ORIGIN)
        .filter(|o| o != "null")
        .or_else(|| header(REFERER).and_then(|r| origin_of(&r)));
    let allowed = origin.as_deref().is_some_and(|origin| {
        if trusted_origins(config).iter().any(|o| o == origin) {
            return true;
        }
        if origin == server_origin(req.request(), config) {
            return true;
        }
        // Without a public URL, the page's origin must name the host the
        // browser addressed: a cross-site page cannot make the victim's
        // browser send a Host other than ours.
        config.public_url.is_none()
            && header(HOST).is_some_and(|host| {
                origin
                    .split_once("://")
                    .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(&host))
            })
    });
    if allowed {
        return None;
    }
    Some(ApiError::Forbidden(
        "a request authenticated by cookie must come from an allowed origin (Origin header); \
         send the token in Authorization instead"
            .into(),
    ))
}
