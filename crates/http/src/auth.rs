//! Who is calling, for handlers: extractors that read the bearer token (or
//! the auth cookie, or an API key) and ask the services to authenticate it.
//!
//! - [`Authenticated`]: required; 401 problem without valid credentials.
//! - [`MaybeAuthenticated`]: optional; anonymous callers get `None`, but a
//!   credential that is present and bad is still a 401.
//! - [`BrowserAuthenticated`]: like `Authenticated`, but a browser asking for
//!   HTML is redirected to the login page with a return URL.
//! - [`Admin`]: `Authenticated` plus the ADMIN role (403 otherwise).
//!
//! The extractors only establish identity; services decide access.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{ACCEPT, AUTHORIZATION};
use actix_web::{FromRequest, HttpRequest, web};
use xl_domain::Actor;
use xl_services::auth::AuthFailure;

use crate::{ApiError, AppState};

/// The credential a request carries, if any: the bearer token first, then
/// the auth cookie.
pub fn credential(req: &HttpRequest, cookie_name: &str) -> Option<String> {
    if let Some(value) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        if !token.is_empty() {
            return Some(token.to_owned());
        }
    }
    req.cookie(cookie_name)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| !value.is_empty())
}

async fn authenticate(req: HttpRequest) -> Result<Option<Actor>, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("application state is missing".into()))?;
    let Some(token) = credential(&req, &state.config.auth_cookie_name) else {
        return Ok(None);
    };
    let actor = state.services.authenticate(&token).await?;
    crate::limits::admit(&req, &state.services, &actor).await?;
    Ok(Some(actor))
}

fn missing() -> ApiError {
    ApiError::from(xl_services::ServiceError::Unauthenticated(
        AuthFailure::MissingCredentials,
    ))
}

type Extracted<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// A request with a valid credential.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            authenticate(req)
                .await?
                .map(Authenticated)
                .ok_or_else(missing)
        })
    }
}

/// A request that may be anonymous.
#[derive(Clone, Debug)]
pub struct MaybeAuthenticated(pub Option<Actor>);

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(req).await.map(MaybeAuthenticated) })
    }
}

/// A request with a valid credential, where a browser without one is sent
/// to the login page instead of getting a 401.
#[derive(Clone, Debug)]
pub struct BrowserAuthenticated(pub Actor);

impl FromRequest for BrowserAuthenticated {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let result = authenticate(req.clone()).await;
            match result {
                Ok(Some(actor)) => Ok(BrowserAuthenticated(actor)),
                Ok(None) | Err(ApiError::Unauthorized { .. }) => match login_redirect(&req) {
                    Some(location) => Err(ApiError::LoginRedirect(location)),
                    None => Err(result.err().unwrap_or_else(missing)),
                },
                Err(other) => Err(other),
            }
        })
    }
}

/// Where to send a browser that needs to sign in, if it asked for HTML and
/// a login page is configured.
fn login_redirect(req: &HttpRequest) -> Option<String> {
    let wants_html = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html {
        return None;
    }
    let state = req.app_data::<web::Data<AppState>>()?;
    let login = state.config.login_url.as_deref()?;
    let return_to = format!(
        "{}{}",
        crate::security::server_origin(req, &state.config),
        req.uri()
    );
    let mut url = url::Url::parse(login).ok()?;
    url.query_pairs_mut().append_pair("return_to", &return_to);
    Some(url.to_string())
}

/// A request from an administrator of their org.
#[derive(Clone, Debug)]
pub struct Admin(pub Actor);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Extracted<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let actor = authenticate(req).await?.ok_or_else(missing)?;
            if actor.is_admin() {
                Ok(Admin(actor))
            } else {
                Err(ApiError::Forbidden("this requires the ADMIN role".into()))
            }
        })
    }
}
