//! Sign-in with Google and GitHub, against a mock provider on loopback that
//! checks what a real one would: the client, the redirect URI, the PKCE
//! verifier against its challenge, and the bearer token.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Mutex;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use url::Url;
use xl_domain::Email;
use xl_services::auth::oauth::{OAuthConfig, OAuthProviderConfig, pkce_challenge};

use crate::helpers::{TestApp, TestOptions, problem, problem_kind, spawn_app_with};

const CLIENT_ID: &str = "xl-client";
const CLIENT_SECRET: &str = "shh-client-secret";
const PUBLIC_URL: &str = "https://chat.example.test";
const STATE_COOKIE: &str = "xl_oauth";

/// What the mock provider remembers about a code it issued.
struct Grant {
    provider: String,
    redirect_uri: String,
    challenge: String,
}

/// The mock provider's state; the profiles may be changed by a test.
struct MockState {
    grants: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, String>>,
    google_profile: Mutex<Value>,
    github_user: Mutex<Value>,
    github_emails: Mutex<Value>,
}

struct Mock {
    url: String,
    state: web::Data<MockState>,
}

impl Mock {
    fn provider(&self, provider: &str) -> OAuthProviderConfig {
        let base = format!("{}/{provider}", self.url);
        OAuthProviderConfig {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            authorize_url: format!("{base}/authorize"),
            token_url: format!("{base}/token"),
            api_url: if provider == "google" {
                format!("{base}/userinfo")
            } else {
                format!("{base}/api")
            },
        }
    }

    fn config(&self, public_url: Option<&str>) -> OAuthConfig {
        OAuthConfig {
            google: Some(self.provider("google")),
            github: Some(self.provider("github")),
            public_url: public_url.map(str::to_owned),
        }
    }
}

async fn spawn_mock() -> Mock {
    let state = web::Data::new(MockState {
        grants: Mutex::default(),
        tokens: Mutex::default(),
        google_profile: Mutex::new(json!({
            "sub": "109876543210",
            "email": "ada@example.com",
            "email_verified": true,
            "name": "Ada Lovelace",
            "picture": "https://example.com/ada.png",
        })),
        github_user: Mutex::new(json!({
            "id": 583231,
            "login": "octocat",
            "name": null,
            "avatar_url": "https://example.com/octocat.png",
        })),
        // GitHub lists the primary address anywhere; a verified secondary
        // comes first so picking the first verified one would be caught.
        github_emails: Mutex::new(json!([
            { "email": "octo@old.example", "primary": false, "verified": true },
            { "email": "octo@github.example", "primary": true, "verified": true },
        ])),
    });
    let data = state.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/{provider}/authorize", web::get().to(authorize))
            .route("/{provider}/token", web::post().to(token))
            .route("/google/userinfo", web::get().to(google_userinfo))
            .route("/github/api/user", web::get().to(github_user))
            .route("/github/api/user/emails", web::get().to(github_emails))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Mock { url, state }
}

/// The consent page, which consents at once: it records the challenge and
/// sends the browser back with a fresh code.
async fn authorize(
    provider: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    mock: web::Data<MockState>,
) -> HttpResponse {
    let scope = match provider.as_str() {
        "google" => "openid email profile",
        _ => "read:user user:email",
    };
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if param("response_type") != "code"
        || param("client_id") != CLIENT_ID
        || param("scope") != scope
        || param("code_challenge_method") != "S256"
        || param("code_challenge").len() != 43
        || param("state").is_empty()
    {
        return HttpResponse::BadRequest().body(format!("bad authorization request: {query:?}"));
    }
    let code = format!("code-{}", uuid::Uuid::now_v7().simple());
    mock.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            provider: provider.into_inner(),
            redirect_uri: param("redirect_uri").to_owned(),
            challenge: param("code_challenge").to_owned(),
        },
    );
    let mut target = Url::parse(param("redirect_uri")).unwrap();
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", param("state"));
    HttpResponse::Found()
        .insert_header((header::LOCATION, target.as_str()))
        .finish()
}

/// Refuses a token request the way each provider does: Google with a 400,
/// GitHub with a 200 carrying `error`.
fn refuse(provider: &str, error: &str) -> HttpResponse {
    let body = json!({ "error": error, "error_description": "refused by the mock" });
    if provider == "github" {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::BadRequest().json(body)
    }
}

async fn token(
    req: HttpRequest,
    provider: web::Path<String>,
    form: web::Form<HashMap<String, String>>,
    mock: web::Data<MockState>,
) -> HttpResponse {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .is_some_and(|v| v == "application/json");
    if !wants_json || field("grant_type") != "authorization_code" {
        return refuse(&provider, "unsupported_grant_type");
    }
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return refuse(&provider, "invalid_client");
    }
    // A code works once, as at a real provider.
    let Some(grant) = mock.grants.lock().unwrap().remove(field("code")) else {
        return refuse(&provider, "invalid_grant");
    };
    if grant.provider != *provider
        || grant.redirect_uri != field("redirect_uri")
        || grant.challenge != pkce_challenge(field("code_verifier"))
    {
        return refuse(&provider, "invalid_grant");
    }
    let access_token = format!("tok-{}", uuid::Uuid::now_v7().simple());
    mock.tokens
        .lock()
        .unwrap()
        .insert(access_token.clone(), provider.into_inner());
    HttpResponse::Ok().json(json!({ "access_token": access_token, "token_type": "bearer" }))
}

/// Whether the request carries a token issued for the provider (and, for
/// GitHub, the headers its API insists on).
fn authorized(req: &HttpRequest, mock: &MockState, provider: &str) -> bool {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let token = header(header::AUTHORIZATION)
        .strip_prefix("Bearer ")
        .unwrap_or_default();
    let issued = mock.tokens.lock().unwrap().get(token).map(String::as_str) == Some(provider);
    issued
        && (provider != "github"
            || (header(header::USER_AGENT) == "experience-layer"
                && header(header::ACCEPT) == "application/vnd.github+json"))
}

fn answer(ok: bool, body: &Mutex<Value>) -> HttpResponse {
    if ok {
        HttpResponse::Ok().json(body.lock().unwrap().clone())
    } else {
        HttpResponse::Unauthorized().json(json!({ "message": "Bad credentials" }))
    }
}

async fn google_userinfo(req: HttpRequest, mock: web::Data<MockState>) -> HttpResponse {
    answer(authorized(&req, &mock, "google"), &mock.google_profile)
}

async fn github_user(req: HttpRequest, mock: web::Data<MockState>) -> HttpResponse {
    answer(authorized(&req, &mock, "github"), &mock.github_user)
}

async fn github_emails(req: HttpRequest, mock: web::Data<MockState>) -> HttpResponse {
    answer(authorized(&req, &mock, "github"), &mock.github_emails)
}

/// An app that knows the mock as both providers, behind `PUBLIC_URL`.
async fn app_with(mock: &Mock, configure: impl FnOnce(&mut TestOptions)) -> TestApp {
    let oauth = mock.config(Some(PUBLIC_URL));
    spawn_app_with(|o| {
        o.services.auth.oauth = oauth;
        configure(o);
    })
    .await
}

/// Every `Set-Cookie` of a response.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE.as_str())
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `Set-Cookie` line for a cookie, and its value.
fn cookie<'a>(cookies: &'a [String], name: &str) -> (&'a str, &'a str) {
    let line = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"));
    let value = line[name.len() + 1..].split(';').next().unwrap();
    (line, value)
}

/// A started sign-in: the provider URL and the state cookie's value.
struct Started {
    authorize: Url,
    state_cookie: String,
}

impl Started {
    fn param(&self, name: &str) -> String {
        self.authorize
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {}", self.authorize))
    }
}

async fn start(app: &TestApp, provider: &str, return_to: Option<&str>) -> Started {
    let mut request = app.client.get(app.url(&format!("/api/v1/auth/{provider}")));
    if let Some(return_to) = return_to {
        request = request.query(&[("return_to", return_to)]);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookies = set_cookies(&response);
    let (_, state_cookie) = cookie(&cookies, STATE_COOKIE);
    let location = response.headers()["location"].to_str().unwrap();
    Started {
        authorize: Url::parse(location).unwrap(),
        state_cookie: state_cookie.to_owned(),
    }
}

/// Consents at the mock and returns the callback URL it redirects to.
async fn consent(app: &TestApp, started: &Started) -> Url {
    let response = app
        .client
        .get(started.authorize.clone())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(status, 302, "{}", response.text().await.unwrap());
    Url::parse(&location.unwrap()).unwrap()
}

/// Calls the callback on the test server, whatever host the redirect URI
/// names (the public URL stands for a proxy in front of it).
async fn finish(app: &TestApp, callback: &Url, state_cookie: Option<&str>) -> reqwest::Response {
    let path = format!(
        "{}?{}",
        callback.path(),
        callback.query().unwrap_or_default()
    );
    let mut request = app.client.get(app.url(&path));
    if let Some(value) = state_cookie {
        request = request.header("cookie", format!("{STATE_COOKIE}={value}"));
    }
    request.send().await.unwrap()
}

/// The whole flow, as a browser would go through it.
async fn sign_in(app: &TestApp, provider: &str, return_to: Option<&str>) -> reqwest::Response {
    let started = start(app, provider, return_to).await;
    let callback = consent(app, &started).await;
    finish(app, &callback, Some(&started.state_cookie)).await
}

/// The email of the user the auth cookie of a sign-in response speaks for.
async fn signed_in_user(app: &TestApp, response: &reqwest::Response) -> Value {
    let cookies = set_cookies(response);
    let name = xl_http::HttpConfig::default().auth_cookie_name;
    let (_, token) = cookie(&cookies, &name);
    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", format!("{name}={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let body: Value = me.json().await.unwrap();
    body["data"]["user"].clone()
}

async fn user_exists(app: &TestApp, email: &str) -> bool {
    let email = Email::parse(email).unwrap();
    xl_store::repo::users::find_by_email(app.services.store.reader(), &email)
        .await
        .unwrap()
        .is_some()
}

/// Asserts a 401 `oauth-failed` and returns its detail.
async fn oauth_failed(response: reqwest::Response) -> String {
    let error = problem(response, 401).await;
    assert_eq!(problem_kind(&error), "oauth-failed", "{error}");
    error["detail"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn google_sign_in_returns_to_the_page_with_a_working_session() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |_| {}).await;

    let started = start(&app, "google", Some("/threads/42?tab=files")).await;
    assert!(
        started
            .authorize
            .as_str()
            .starts_with(&format!("{}/google/authorize?", mock.url))
    );
    assert_eq!(started.param("response_type"), "code");
    assert_eq!(started.param("client_id"), CLIENT_ID);
    assert_eq!(
        started.param("redirect_uri"),
        format!("{PUBLIC_URL}/api/v1/auth/google/callback")
    );
    assert_eq!(started.param("scope"), "openid email profile");
    assert_eq!(started.param("code_challenge_method"), "S256");
    assert!(started.param("state").len() >= 43);

    let callback = consent(&app, &started).await;
    let response = finish(&app, &callback, Some(&started.state_cookie)).await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/threads/42?tab=files");
    let cookies = set_cookies(&response);
    let (refresh_line, refresh) = cookie(&cookies, "xl_refresh");
    assert!(refresh.starts_with("xlr_"));
    assert!(refresh_line.contains("HttpOnly"));
    let (cleared_line, cleared) = cookie(&cookies, STATE_COOKIE);
    assert!(cleared.is_empty() && cleared_line.contains("Max-Age=0"));

    let user = signed_in_user(&app, &response).await;
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["avatar_url"], "https://example.com/ada.png");
    assert!(user_exists(&app, "ada@example.com").await);

    // The provider takes a code once, so replaying the callback fails.
    let replay = finish(&app, &callback, Some(&started.state_cookie)).await;
    oauth_failed(replay).await;
}

#[tokio::test]
async fn the_state_cookie_is_http_only_lax_and_short_lived() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |_| {}).await;
    let response = app
        .client
        .get(app.url("/api/v1/auth/google"))
        .send()
        .await
        .unwrap();
    let cookies = set_cookies(&response);
    let (line, _) = cookie(&cookies, STATE_COOKIE);
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/api/v1/auth",
        "Max-Age=600",
    ] {
        assert!(line.contains(attribute), "{attribute} in {line}");
    }
    // The test server is addressed as 127.0.0.1, where Secure is left off.
    assert!(!line.contains("Secure"), "{line}");
}

#[tokio::test]
async fn github_sign_in_uses_the_primary_verified_email() {
    let mock = spawn_mock().await;
    // Without a public URL the redirect URI is built from the request.
    let oauth = mock.config(None);
    let app = spawn_app_with(|o| o.services.auth.oauth = oauth).await;

    let started = start(&app, "github", None).await;
    assert_eq!(started.param("scope"), "read:user user:email");
    assert_eq!(
        started.param("redirect_uri"),
        app.url("/api/v1/auth/github/callback")
    );
    let callback = consent(&app, &started).await;
    let response = finish(&app, &callback, Some(&started.state_cookie)).await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], "/");

    let user = signed_in_user(&app, &response).await;
    assert_eq!(user["email"], "octo@github.example");
    assert_eq!(
        user["name"], "octocat",
        "the login stands in for a missing name"
    );
    assert!(!user_exists(&app, "octo@old.example").await);
}

#[tokio::test]
async fn github_without_a_verified_primary_email_is_refused() {
    let mock = spawn_mock().await;
    *mock.state.github_emails.lock().unwrap() = json!([
        { "email": "octo@github.example", "primary": true, "verified": false },
        { "email": "octo@old.example", "primary": false, "verified": true },
    ]);
    let app = app_with(&mock, |_| {}).await;
    oauth_failed(sign_in(&app, "github", None).await).await;
    assert!(!user_exists(&app, "octo@github.example").await);
    assert!(!user_exists(&app, "octo@old.example").await);
}

#[tokio::test]
async fn a_state_that_does_not_match_the_cookie_is_refused() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |_| {}).await;
    let started = start(&app, "google", None).await;
    let mut callback = consent(&app, &started).await;
    let code = callback
        .query_pairs()
        .find(|(key, _)| key == "code")
        .unwrap()
        .1
        .into_owned();
    callback
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", "someone-elses-state");
    oauth_failed(finish(&app, &callback, Some(&started.state_cookie)).await).await;
    assert!(!user_exists(&app, "ada@example.com").await);
}

#[tokio::test]
async fn a_tampered_state_cookie_is_refused() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |_| {}).await;
    let started = start(&app, "google", None).await;
    let callback = consent(&app, &started).await;
    let (payload, signature) = started.state_cookie.split_once('.').unwrap();
    let flip = |s: &str, at: usize| {
        let mut bytes = s.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    for forged in [
        format!("{}.{signature}", flip(payload, 10)),
        format!("{payload}.{}", flip(signature, 0)),
        format!("{payload}."),
        payload.to_owned(),
    ] {
        oauth_failed(finish(&app, &callback, Some(&forged)).await).await;
    }
    // The untouched cookie still works: the refusals were about the cookie.
    let response = finish(&app, &callback, Some(&started.state_cookie)).await;
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn a_missing_state_cookie_is_refused() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |_| {}).await;
    let started = start(&app, "google", None).await;
    let callback = consent(&app, &started).await;
    let detail = oauth_failed(finish(&app, &callback, None).await).await;
    assert!(detail.contains("cookie"), "{detail}");
}

#[tokio::test]
async fn a_state_cookie_from_another_provider_is_refused() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |_| {}).await;
    let google = start(&app, "google", None).await;
    let github = start(&app, "github", None).await;
    let callback = consent(&app, &google).await;
    oauth_failed(finish(&app, &callback, Some(&github.state_cookie)).await).await;
}

#[tokio::test]
async fn a_callback_without_code_or_state_is_refused() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |_| {}).await;
    let started = start(&app, "google", None).await;
    let state = started.param("state");
    for query in [format!("state={state}"), "code=abc".to_owned()] {
        let callback =
            Url::parse(&format!("{PUBLIC_URL}/api/v1/auth/google/callback?{query}")).unwrap();
        oauth_failed(finish(&app, &callback, Some(&started.state_cookie)).await).await;
    }
}

#[tokio::test]
async fn a_provider_error_is_refused() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |_| {}).await;
    let started = start(&app, "google", None).await;
    let state = started.param("state");
    let callback = Url::parse(&format!(
        "{PUBLIC_URL}/api/v1/auth/google/callback?error=access_denied&state={state}"
    ))
    .unwrap();
    let detail = oauth_failed(finish(&app, &callback, Some(&started.state_cookie)).await).await;
    assert!(detail.contains("access_denied"), "{detail}");
}

#[tokio::test]
async fn an_unverified_google_email_is_refused() {
    let mock = spawn_mock().await;
    mock.state.google_profile.lock().unwrap()["email_verified"] = json!(false);
    let app = app_with(&mock, |_| {}).await;
    let detail = oauth_failed(sign_in(&app, "google", None).await).await;
    assert!(detail.contains("not verified"), "{detail}");
    assert!(!user_exists(&app, "ada@example.com").await);
}

#[tokio::test]
async fn a_return_to_elsewhere_is_not_followed() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |_| {}).await;
    for return_to in [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let response = sign_in(&app, "google", Some(return_to)).await;
        assert_eq!(response.status(), 302, "{return_to}");
        assert_eq!(response.headers()["location"], "/", "{return_to}");
    }
}

#[tokio::test]
async fn an_unconfigured_provider_is_not_found() {
    let mock = spawn_mock().await;
    let mut oauth = mock.config(Some(PUBLIC_URL));
    oauth.github = None;
    let app = spawn_app_with(|o| o.services.auth.oauth = oauth).await;
    for path in [
        "/api/v1/auth/github",
        "/api/v1/auth/github/callback?code=abc&state=def",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        problem(response, 404).await;
    }
    // Google is still there.
    let response = app
        .client
        .get(app.url("/api/v1/auth/google"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn a_disallowed_domain_is_refused() {
    let mock = spawn_mock().await;
    let app = app_with(&mock, |o| {
        o.services.auth.allowed_domains = vec!["corp.example".into()];
    })
    .await;
    let error = problem(sign_in(&app, "google", None).await, 401).await;
    assert_eq!(problem_kind(&error), "domain-not-allowed");
    assert!(!user_exists(&app, "ada@example.com").await);
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable_without_leaking_secrets() {
    let mock = spawn_mock().await;
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    let mut oauth = mock.config(Some(PUBLIC_URL));
    if let Some(google) = oauth.google.as_mut() {
        google.token_url = closed_url;
    }
    let app = spawn_app_with(|o| o.services.auth.oauth = oauth).await;
    let response = sign_in(&app, "google", None).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Google sign-in is unavailable"), "{body}");
    assert!(!body.contains(CLIENT_SECRET), "{body}");
    assert!(!body.contains("127.0.0.1"), "{body}");
}

#[tokio::test]
async fn a_wrong_client_secret_is_a_server_problem_not_the_users() {
    let mock = spawn_mock().await;
    let mut oauth = mock.config(Some(PUBLIC_URL));
    if let Some(github) = oauth.github.as_mut() {
        github.client_secret = "stale-secret".into();
    }
    let app = spawn_app_with(|o| o.services.auth.oauth = oauth).await;
    let response = sign_in(&app, "github", None).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains("stale-secret"), "{body}");
}
