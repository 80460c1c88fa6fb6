//! Sign-in and sessions: dev login, refresh, logout, me, verify, sessions.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use xl_domain::SessionId;
use xl_domain::object::Object;
use xl_services::auth::sessions::{ClientInfo, DevLogin, TokenPair};

use crate::auth::{Authenticated, BrowserAuthenticated, MaybeAuthenticated};
use crate::body::{parse_json, read_body};
use crate::{ApiError, AppState, Envelope};

/// The cookie that carries the refresh token in browsers.
pub const REFRESH_COOKIE: &str = "xl_refresh";
/// The path the refresh cookie is sent to.
const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";

/// Registers the routes under `/api/v1/auth`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/login").post(login))
        .service(web::resource("/auth/methods").get(methods))
        .service(web::resource("/auth/link").post(redeem_link))
        .service(web::resource("/auth/refresh").post(refresh))
        .service(web::resource("/auth/logout").post(logout))
        .service(web::resource("/auth/me").get(me))
        .service(web::resource("/auth/verify").get(verify))
        .service(web::resource("/auth/sessions").get(list_sessions))
        .service(web::resource("/auth/sessions/{id}").delete(revoke_session));
}

/// The client's user agent and address, kept with a new session.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: req.peer_addr().map(|addr| addr.ip().to_string()),
    }
}

/// Whether cookies may be sent over plain HTTP: only when the server's own
/// origin (never the `Host` header) is a loopback address.
fn is_local(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<AppState>>()
        .is_some_and(|state| crate::security::served_locally(req, &state.config))
}

/// A cookie with the attributes every auth cookie shares: HttpOnly,
/// SameSite=Lax, Secure unless the server is addressed as localhost.
pub fn auth_cookie<'a>(
    req: &HttpRequest,
    name: &'a str,
    value: String,
    path: &'a str,
    max_age: u64,
) -> Cookie<'a> {
    let mut cookie = Cookie::build(name, value)
        .path(path)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(!is_local(req))
        .finish();
    cookie.set_max_age(CookieDuration::seconds(
        i64::try_from(max_age).unwrap_or(i64::MAX),
    ));
    cookie
}

/// The access and refresh cookies of a pair, for any response that signs
/// someone in.
pub fn session_cookies<'a>(
    req: &HttpRequest,
    state: &'a AppState,
    pair: &TokenPair,
) -> [Cookie<'a>; 2] {
    let access = auth_cookie(
        req,
        &state.config.auth_cookie_name,
        pair.access_token.clone(),
        "/",
        pair.expires_in,
    );
    let refresh = auth_cookie(
        req,
        REFRESH_COOKIE,
        pair.refresh_token.clone(),
        REFRESH_COOKIE_PATH,
        pair.refresh_expires_in,
    );
    [access, refresh]
}

/// A response carrying the pair in the body and in the two cookies.
pub fn session_response(req: &HttpRequest, state: &AppState, pair: TokenPair) -> HttpResponse {
    let cookies = session_cookies(req, state, &pair);
    with_cookies(Envelope::ok(pair), &cookies)
}

/// `response` with the cookies added.
fn with_cookies(mut response: HttpResponse, cookies: &[Cookie<'_>]) -> HttpResponse {
    for cookie in cookies {
        let _ = response.add_cookie(cookie);
    }
    response
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "Auth", operation_id = "dev_login", security(()),
    description = "Development sign-in by email alone, only with `AUTH_DEV_LOGIN=true` (otherwise 404). Sets the access and refresh cookies.",
    request_body(content = DevLogin, example = json!({"email": "ada@example.com", "name": "Ada"})),
    responses(
        (status = 200, description = "A token pair", body = Envelope<TokenPair>),
        (status = 404, description = "Dev login is off"),
    ))]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Object<DevLogin>>,
) -> Result<HttpResponse, ApiError> {
    let pair = state
        .services
        .dev_login(body.into_inner().0, client_info(&req))
        .await?;
    Ok(session_response(&req, &state, pair))
}

/// The ways to sign in to this server, for a sign-in page to offer.
#[derive(Serialize, utoipa::ToSchema)]
struct SignInMethods {
    /// Whether `POST /auth/login` (email alone) is on (`AUTH_DEV_LOGIN`).
    dev_login: bool,
    /// The OAuth providers configured (`google`, `github`), each started
    /// at `GET /auth/{provider}`.
    oauth: Vec<&'static str>,
    /// Whether a one-time sign-in link printed by `xl serve` is open.
    sign_in_link: bool,
}

#[utoipa::path(get, path = "/api/v1/auth/methods", tag = "Auth", operation_id = "sign_in_methods", security(()),
    description = "What a sign-in page can offer: the dev login, OAuth providers, a one-time link.",
    responses((status = 200, description = "The sign-in methods", body = Envelope<SignInMethods>)))]
async fn methods(state: web::Data<AppState>) -> HttpResponse {
    let auth = &state.services.auth().config;
    let oauth = [
        ("google", auth.oauth.google.is_some()),
        ("github", auth.oauth.github.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, configured)| configured.then_some(name))
    .collect();
    Envelope::ok(SignInMethods {
        dev_login: auth.dev_login,
        oauth,
        sign_in_link: state.services.sign_in_link_open(),
    })
}

/// A one-time sign-in link's secret.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkSecret {
    /// The secret (`xll_…`) after `#login=` in the printed link.
    token: String,
}

/// Whom a redeemed link signed in; the tokens are only in the cookies.
#[derive(Serialize, utoipa::ToSchema)]
struct SignedIn {
    user: xl_domain::users::User,
    /// The new session.
    session_id: SessionId,
}

#[utoipa::path(post, path = "/api/v1/auth/link", tag = "Auth", operation_id = "redeem_sign_in_link", security(()),
    description = "Redeems the one-time sign-in link `xl serve` prints on a loopback address when no sign-in method is configured: signs in the local administrator and sets the access and refresh cookies. The tokens are not in the body, so the page that redeems the link never holds them. The link works once, for 15 minutes.",
    request_body(content = LinkSecret, example = json!({"token": "xll_…"})),
    responses(
        (status = 200, description = "Signed in; the session is in the cookies", body = Envelope<SignedIn>),
        (status = 401, description = "The link is unknown, already used or expired"),
    ))]
async fn redeem_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Object<LinkSecret>>,
) -> Result<HttpResponse, ApiError> {
    let secret = body.into_inner().0.token;
    let pair = state
        .services
        .redeem_sign_in_link(&secret, client_info(&req))
        .await?;
    // The tokens go in the cookies only, so the page never holds them.
    let cookies = session_cookies(&req, &state, &pair);
    let body = Envelope::ok(SignedIn {
        session_id: pair.session_id,
        user: pair.user,
    });
    Ok(with_cookies(body, &cookies))
}

/// The optional body of refresh and logout.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    /// The refresh token (`xlr_…`); else the `xl_refresh` cookie's.
    #[serde(default)]
    refresh_token: Option<String>,
}

/// The optional body of refresh and logout: empty (the cookie carries the
/// token), or a JSON object answered like any other route's body (415 for
/// another content type, 400 malformed, 413 too large, 422 wrong shape).
async fn optional_body(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> Result<Option<RefreshBody>, ApiError> {
    let bytes = read_body(payload, state.config.max_json_bytes).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_json(req, &bytes).map(Some)
}

/// The refresh token from the body, else from the cookie.
fn refresh_token(req: &HttpRequest, body: Option<RefreshBody>) -> Option<String> {
    body.and_then(|b| b.refresh_token)
        .or_else(|| req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()))
        .filter(|token| !token.trim().is_empty())
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "Auth", operation_id = "refresh_tokens", security(()),
    description = "Exchanges a refresh token, from the body or the `xl_refresh` cookie (then the body may be empty), for a new pair. A refresh token works once; presenting a used one revokes its whole session.",
    request_body(content = Option<RefreshBody>, example = json!({"refresh_token": "xlr_…"})),
    responses(
        (status = 200, description = "A new token pair, also set as cookies", body = Envelope<TokenPair>),
        (status = 401, description = "The refresh token is unknown, expired or already used (which revokes its session)"),
    ))]
async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = optional_body(&req, &state, payload).await?;
    let Some(token) = refresh_token(&req, body) else {
        return Err(ApiError::invalid_field(
            "refresh_token",
            "send it in the body or the xl_refresh cookie",
        ));
    };
    let pair = state.services.refresh(&token, client_info(&req)).await?;
    Ok(session_response(&req, &state, pair))
}

/// A sign-out.
#[derive(Serialize, utoipa::ToSchema)]
struct LoggedOut {
    /// Always true.
    logged_out: bool,
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "Auth", operation_id = "logout",
    security((), ("bearer" = []), ("api_key" = []), ("cookie" = [])),
    description = "Ends the caller's session and the refresh token's (from the body or the cookie), and clears the cookies.",
    request_body(content = Option<RefreshBody>, example = json!({"refresh_token": "xlr_…"})),
    responses((status = 200, description = "Signed out", body = Envelope<LoggedOut>)))]
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: MaybeAuthenticated,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = optional_body(&req, &state, payload).await?;
    let token = refresh_token(&req, body);
    state
        .services
        .logout(caller.0.as_ref(), token.as_deref())
        .await?;
    let mut response = Envelope::ok(LoggedOut { logged_out: true });
    for (name, path) in [
        (state.config.auth_cookie_name.as_str(), "/"),
        (REFRESH_COOKIE, REFRESH_COOKIE_PATH),
    ] {
        let cookie = auth_cookie(&req, name, String::new(), path, 0);
        let _ = response.add_cookie(&cookie);
    }
    Ok(response)
}

/// The caller: their user and how they authenticated.
#[derive(Serialize, utoipa::ToSchema)]
struct Me {
    user: xl_domain::users::User,
    actor: xl_domain::Actor,
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "Auth", operation_id = "auth_me",
    description = "A browser (`Accept: text/html`) without a session is redirected to `AUTH_LOGIN_URL` when it is set.",
    responses(
        (status = 200, description = "The caller's user and identity", body = Envelope<Me>),
        (status = 302, description = "A browser without a session, sent to the login page with `return_to`"),
    ))]
async fn me(
    state: web::Data<AppState>,
    caller: BrowserAuthenticated,
) -> Result<HttpResponse, ApiError> {
    let user = state.services.me(&caller.0).await?;
    Ok(Envelope::ok(Me {
        user,
        actor: caller.0,
    }))
}

/// A valid credential and whom it names.
#[derive(Serialize, utoipa::ToSchema)]
struct Verified {
    /// Always true.
    valid: bool,
    actor: xl_domain::Actor,
}

#[utoipa::path(get, path = "/api/v1/auth/verify", tag = "Auth", operation_id = "verify_credential",
    responses((status = 200, description = "The credential is valid", body = Envelope<Verified>)))]
async fn verify(caller: Authenticated) -> HttpResponse {
    Envelope::ok(Verified {
        valid: true,
        actor: caller.0,
    })
}

#[utoipa::path(get, path = "/api/v1/auth/sessions", tag = "Auth", operation_id = "list_sessions",
    responses((status = 200, description = "The caller's sessions", body = Envelope<Vec<xl_domain::Session>>)))]
async fn list_sessions(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::ok(state.services.list_sessions(&caller.0).await?))
}

#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", tag = "Auth", operation_id = "revoke_session",
    params(("id" = SessionId, Path, description = "The session")),
    responses((status = 204, description = "Revoked: its tokens stop working")))]
async fn revoke_session(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: SessionId = id.parse()?;
    state.services.revoke_session(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
