//! Sign-in with Google and GitHub: the redirect to the provider and the
//! callback that opens a session. The flow itself lives in
//! `xl_services::auth::oauth`; this module moves its state in and out of the
//! `xl_oauth` cookie.

use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use xl_services::auth::oauth::{OAuthCallback, Provider, STATE_TTL};

use super::auth::{auth_cookie, client_info, session_cookies};
use crate::{ApiError, AppState};

/// The cookie that carries the signed state from the start to the callback.
pub const OAUTH_COOKIE: &str = "xl_oauth";
/// Only the callbacks need the state cookie.
const OAUTH_COOKIE_PATH: &str = "/api/v1/auth";

/// Registers the routes under `/api/v1/auth/{google,github}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/google").get(start_google))
        .service(web::resource("/auth/google/callback").get(callback_google))
        .service(web::resource("/auth/github").get(start_github))
        .service(web::resource("/auth/github/callback").get(callback_github));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct StartQuery {
    /// A path on this server to return to after signing in (default `/`).
    #[serde(default)]
    return_to: Option<String>,
}

/// Providers add parameters of their own (`scope`, `authuser`, `iss`…), so
/// unknown fields are allowed here.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackQuery {
    /// The authorization code.
    #[serde(default)]
    code: Option<String>,
    /// The state sent with the redirect.
    #[serde(default)]
    state: Option<String>,
    /// The provider's refusal (`access_denied`).
    #[serde(default)]
    error: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/auth/google", tag = "Auth", operation_id = "start_google_sign_in", security(()),
    description = "Sends the browser to Google (needs `GOOGLE_CLIENT_ID`), with the signed state in the `xl_oauth` cookie.",
    params(StartQuery),
    responses(
        (status = 302, description = "To Google's consent page"),
        (status = 404, description = "Google sign-in is not configured"),
        (status = 503, description = "Sign-in is unavailable right now"),
    ))]
async fn start_google(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, ApiError> {
    start(Provider::Google, &req, &state, query.into_inner())
}

#[utoipa::path(get, path = "/api/v1/auth/github", tag = "Auth", operation_id = "start_github_sign_in", security(()),
    description = "Sends the browser to GitHub (needs `GITHUB_CLIENT_ID`), with the signed state in the `xl_oauth` cookie.",
    params(StartQuery),
    responses(
        (status = 302, description = "To GitHub's consent page"),
        (status = 404, description = "GitHub sign-in is not configured"),
        (status = 503, description = "Sign-in is unavailable right now"),
    ))]
async fn start_github(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, ApiError> {
    start(Provider::GitHub, &req, &state, query.into_inner())
}

#[utoipa::path(get, path = "/api/v1/auth/google/callback", tag = "Auth", operation_id = "google_callback", security(()),
    description = "Where Google sends the browser back: opens a session, sets the cookies and redirects to `return_to`.",
    params(CallbackQuery),
    responses(
        (status = 302, description = "Signed in: to the page the sign-in started from"),
        (status = 400, description = "The state is missing, expired or does not match the cookie"),
        (status = 401, description = "The provider refused, or the identity may not sign in"),
        (status = 404, description = "Google sign-in is not configured"),
        (status = 503, description = "The provider did not answer; try again later"),
    ))]
async fn callback_google(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    callback(Provider::Google, &req, &state, query.into_inner()).await
}

#[utoipa::path(get, path = "/api/v1/auth/github/callback", tag = "Auth", operation_id = "github_callback", security(()),
    description = "Where GitHub sends the browser back: opens a session, sets the cookies and redirects to `return_to`.",
    params(CallbackQuery),
    responses(
        (status = 302, description = "Signed in: to the page the sign-in started from"),
        (status = 400, description = "The state is missing, expired or does not match the cookie"),
        (status = 401, description = "The provider refused, or the identity may not sign in"),
        (status = 404, description = "GitHub sign-in is not configured"),
        (status = 503, description = "The provider did not answer; try again later"),
    ))]
async fn callback_github(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    callback(Provider::GitHub, &req, &state, query.into_inner()).await
}

/// The server's origin for redirect URIs: `XL_PUBLIC_URL`, else the bound
/// address; never the client's `Host` or `X-Forwarded-Host`.
fn request_origin(req: &HttpRequest) -> String {
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => crate::security::server_origin(req, &state.config),
        None => format!("http://{}", req.app_config().local_addr()),
    }
}

/// A 302 that no cache may keep: each one carries a one-time state.
fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((LOCATION, location))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

fn start(
    provider: Provider,
    req: &HttpRequest,
    state: &AppState,
    query: StartQuery,
) -> Result<HttpResponse, ApiError> {
    let started =
        state
            .services
            .oauth_start(provider, &request_origin(req), query.return_to.as_deref())?;
    let cookie = auth_cookie(
        req,
        OAUTH_COOKIE,
        started.state_cookie,
        OAUTH_COOKIE_PATH,
        STATE_TTL.as_secs(),
    );
    let mut response = redirect(&started.authorize_url);
    let _ = response.add_cookie(&cookie);
    Ok(response)
}

/// Signs in and redirects to the page the sign-in started from. Success or
/// not, the state cookie is cleared: a state is good for one attempt.
async fn callback(
    provider: Provider,
    req: &HttpRequest,
    state: &AppState,
    query: CallbackQuery,
) -> HttpResponse {
    let state_cookie = req.cookie(OAUTH_COOKIE);
    let result = state
        .services
        .oauth_callback(
            provider,
            &request_origin(req),
            OAuthCallback {
                code: query.code,
                state: query.state,
                error: query.error,
            },
            state_cookie.as_ref().map(|cookie| cookie.value()),
            client_info(req),
        )
        .await;
    let mut response = match result {
        Ok(signed_in) => {
            let mut response = redirect(&signed_in.return_to);
            for cookie in &session_cookies(req, state, &signed_in.tokens) {
                let _ = response.add_cookie(cookie);
            }
            response
        }
        Err(err) => ApiError::from(err).error_response(),
    };
    let cleared = auth_cookie(req, OAUTH_COOKIE, String::new(), OAUTH_COOKIE_PATH, 0);
    let _ = response.add_cookie(&cleared);
    response
}
