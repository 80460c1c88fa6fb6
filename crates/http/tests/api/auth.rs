//! Authentication over HTTP: forged and bad tokens, bearer and cookie,
//! JWKS, the browser redirect, the role guard, sessions and API keys.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use xl_domain::Role;

use crate::helpers::{TestApp, data, problem, problem_kind, spawn_app, spawn_app_with};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures");
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "experience-layer";

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

/// A JWKS endpoint on a free port, counting how often it is fetched.
async fn spawn_jwks() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let body = String::from_utf8(fixture("jwks.json")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    let counter = Arc::clone(&hits);
    let server = HttpServer::new(move || {
        let body = body.clone();
        let counter = Arc::clone(&counter);
        actix_web::App::new().route(
            "/jwks",
            web::get().to(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (url, hits)
}

/// An app that accepts our HS256 tokens (told to, beside JWKS) and an
/// IdP's RS256/ES256 tokens, requires issuer and audience, and allows only
/// example.com.
async fn strict_app() -> (TestApp, Arc<AtomicUsize>) {
    strict_app_with(|_| {}).await
}

pub async fn strict_app_with(
    configure: impl FnOnce(&mut xl_services::auth::AuthConfig),
) -> (TestApp, Arc<AtomicUsize>) {
    let (jwks_url, hits) = spawn_jwks().await;
    let app = spawn_app_with(|options| {
        let auth = &mut options.services.auth;
        auth.jwks_url = Some(jwks_url);
        auth.issuer = Some(ISSUER.into());
        auth.audience = Some(AUDIENCE.into());
        auth.allowed_domains = vec!["example.com".into()];
        auth.hs256_beside_jwks = true;
        configure(auth);
    })
    .await;
    (app, hits)
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn claims(email: &str) -> Value {
    json!({
        "sub": "idp|123",
        "email": email,
        "name": "Ada",
        "domain": email.split('@').nth(1).unwrap(),
        "role": "USER",
        "iat": now(),
        "exp": now() + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "email_verified": true,
    })
}

pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub fn rs256(kid: &str, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(&fixture("rsa_private.pem")).unwrap();
    sign(Algorithm::RS256, Some(kid), claims, &key)
}

pub fn hs256(secret: &[u8], claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        claims,
        &EncodingKey::from_secret(secret),
    )
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{payload}.")
}

#[tokio::test]
async fn identity_provider_tokens_verify_through_jwks() {
    let (app, hits) = strict_app().await;
    let token = rs256("rsa-test-1", &claims("ada@example.com"));
    let me = data(app.get("/api/v1/auth/me", &token).await, 200).await;
    assert_eq!(me["user"]["email"], "ada@example.com");

    let key = EncodingKey::from_ec_pem(&fixture("ec_private.pem")).unwrap();
    let mut bob = claims("bob@example.com");
    bob["sub"] = json!("idp|456");
    let token = sign(Algorithm::ES256, Some("ec-test-1"), &bob, &key);
    let me = data(app.get("/api/v1/auth/me", &token).await, 200).await;
    assert_eq!(me["user"]["email"], "bob@example.com");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the key set is cached");
}

#[tokio::test]
async fn forged_and_bad_tokens_are_refused() {
    let (app, _) = strict_app().await;
    let secret = app.services.auth().config.jwt_secret.clone();
    let good = claims("ada@example.com");
    let without = |field: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(field);
        c
    };
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    // The control: our own HS256 token with the right claims is accepted.
    let control = hs256(secret.as_bytes(), &good);
    data(app.get("/api/v1/auth/verify", &control).await, 200).await;

    let cases: Vec<(&str, String, &str)> = vec![
        ("alg=none", unsigned(&good), "malformed-token"),
        (
            "RS256 public key used as an HS256 secret",
            hs256(&fixture("rsa_public.pem"), &good),
            "invalid-signature",
        ),
        (
            "bad signature",
            hs256(b"not-the-server-secret-not-the-secret", &good),
            "invalid-signature",
        ),
        (
            "expired past the leeway",
            hs256(secret.as_bytes(), &with("exp", json!(now() - 120))),
            "token-expired",
        ),
        (
            "missing exp",
            hs256(secret.as_bytes(), &without("exp")),
            "invalid-claims",
        ),
        (
            "wrong issuer",
            hs256(secret.as_bytes(), &with("iss", json!("https://evil.test"))),
            "invalid-claims",
        ),
        (
            "wrong audience",
            hs256(secret.as_bytes(), &with("aud", json!("someone-else"))),
            "invalid-claims",
        ),
        ("unknown kid", rs256("rotated-away", &good), "unknown-key"),
        (
            "disallowed domain",
            hs256(secret.as_bytes(), &claims("eve@evil.com")),
            "domain-not-allowed",
        ),
        ("garbage", "not-a-token".to_owned(), "malformed-token"),
        ("three garbage parts", "a.b.c".to_owned(), "malformed-token"),
        (
            "HS384 is not on the allow-list",
            sign(
                Algorithm::HS384,
                None,
                &good,
                &EncodingKey::from_secret(secret.as_bytes()),
            ),
            "algorithm-not-allowed",
        ),
    ];
    for (name, token, kind) in cases {
        let error = problem(app.get("/api/v1/auth/verify", &token).await, 401).await;
        assert_eq!(problem_kind(&error), kind, "{name}: {error}");
    }
    // Within the leeway an expired token still passes.
    let recent = hs256(secret.as_bytes(), &with("exp", json!(now() - 5)));
    data(app.get("/api/v1/auth/verify", &recent).await, 200).await;
}

#[tokio::test]
async fn bearer_and_cookie_both_work_and_nothing_is_401() {
    let app = spawn_app().await;
    let token = app.token("ada@example.com", Role::User);
    data(app.get("/api/v1/auth/verify", &token).await, 200).await;

    let response = app
        .client
        .get(app.url("/api/v1/auth/verify"))
        .header("cookie", format!("rpotential_auth={token}"))
        .send()
        .await
        .unwrap();
    let body = data(response, 200).await;
    assert_eq!(body["actor"]["email"], "ada@example.com");

    let response = app
        .client
        .get(app.url("/api/v1/auth/verify"))
        .send()
        .await
        .unwrap();
    let error = problem(response, 401).await;
    assert_eq!(problem_kind(&error), "authentication-required");
}

#[tokio::test]
async fn browsers_without_a_session_are_sent_to_the_login_page() {
    let app = spawn_app_with(|options| {
        options.http.login_url = Some("https://login.example.com/signin".into());
    })
    .await;
    let response = app
        .client
        .get(app.url("/api/v1/auth/me?tab=1"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    assert_eq!(url.host_str(), Some("login.example.com"));
    let return_to = url.query_pairs().find(|(k, _)| k == "return_to").unwrap().1;
    assert!(return_to.ends_with("/api/v1/auth/me?tab=1"), "{return_to}");

    // An API client gets a 401 for the same request.
    let response = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    problem(response, 401).await;
}

#[tokio::test]
async fn the_role_guard_gives_403_to_users_and_lets_admins_through() {
    let app = spawn_app().await;
    let (user, _) = app.user("user@acme.io", Role::User).await;
    let (admin, _) = app.user("admin@acme.io", Role::Admin).await;
    let error = problem(app.get("/api/v1/users", &user).await, 403).await;
    assert_eq!(problem_kind(&error), "forbidden");
    let users = data(app.get("/api/v1/users", &admin).await, 200).await;
    assert_eq!(users.as_array().unwrap().len(), 2);
}

async fn dev_login(app: &TestApp, email: &str) -> Value {
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "name": "Dev" }))
        .send()
        .await
        .unwrap();
    data(response, 200).await
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn dev_login_is_off_unless_enabled() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "a@example.com" }))
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_session() {
    let app = spawn_app_with(|o| o.services.auth.dev_login = true).await;
    let first = dev_login(&app, "ada@example.com").await;
    let access = first["access_token"].as_str().unwrap().to_owned();
    let refresh_1 = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(refresh_1.starts_with("xlr_"));
    data(app.get("/api/v1/auth/verify", &access).await, 200).await;

    // Rotation: the new pair works, the new refresh token differs.
    let second = data(refresh(&app, &refresh_1).await, 200).await;
    let refresh_2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh_1, refresh_2);
    assert_eq!(second["session_id"], first["session_id"]);
    let access_2 = second["access_token"].as_str().unwrap().to_owned();
    data(app.get("/api/v1/auth/verify", &access_2).await, 200).await;

    // Reuse of the rotated token: refused, and the whole session is revoked.
    let error = problem(refresh(&app, &refresh_1).await, 401).await;
    assert_eq!(problem_kind(&error), "refresh-token-reused");
    let error = problem(refresh(&app, &refresh_2).await, 401).await;
    assert_eq!(problem_kind(&error), "session-revoked");
    let error = problem(app.get("/api/v1/auth/verify", &access_2).await, 401).await;
    assert_eq!(problem_kind(&error), "session-revoked");

    let error = problem(refresh(&app, "xlr_never-issued").await, 401).await;
    assert_eq!(problem_kind(&error), "invalid-refresh-token");
}

#[tokio::test]
async fn logout_revokes_and_sessions_can_be_listed_and_revoked() {
    let app = spawn_app_with(|o| o.services.auth.dev_login = true).await;
    let laptop = dev_login(&app, "ada@example.com").await;
    let phone = dev_login(&app, "ada@example.com").await;
    let laptop_access = laptop["access_token"].as_str().unwrap().to_owned();
    let phone_access = phone["access_token"].as_str().unwrap().to_owned();

    let sessions = data(app.get("/api/v1/auth/sessions", &laptop_access).await, 200).await;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], laptop["session_id"]);

    // Revoking the phone's session from the laptop ends the phone's access.
    let phone_id = phone["session_id"].as_str().unwrap();
    let response = app
        .delete(&format!("/api/v1/auth/sessions/{phone_id}"), &laptop_access)
        .await;
    assert_eq!(response.status(), 204);
    problem(app.get("/api/v1/auth/verify", &phone_access).await, 401).await;

    // Another user cannot revoke Ada's session.
    let other = app.token("bob@example.com", Role::Admin);
    let laptop_id = laptop["session_id"].as_str().unwrap();
    let response = app
        .delete(&format!("/api/v1/auth/sessions/{laptop_id}"), &other)
        .await;
    problem(response, 404).await;

    // Logout ends the laptop's access token and refresh token, and clears cookies.
    let response = app
        .post("/api/v1/auth/logout", &laptop_access, &json!({}))
        .await;
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    data(response, 200).await;
    assert!(
        cookies.iter().any(|c| c.starts_with("rpotential_auth=;")),
        "{cookies:?}"
    );
    problem(app.get("/api/v1/auth/verify", &laptop_access).await, 401).await;
    let refresh_token = laptop["refresh_token"].as_str().unwrap();
    problem(refresh(&app, refresh_token).await, 401).await;
}

#[tokio::test]
async fn login_sets_http_only_cookies_that_authenticate() {
    let app = spawn_app_with(|o| o.services.auth.dev_login = true).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": "ada@example.com" }))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let access = cookies
        .iter()
        .find(|c| c.starts_with("rpotential_auth="))
        .unwrap();
    assert!(
        access.contains("HttpOnly") && access.contains("SameSite=Lax"),
        "{access}"
    );
    assert!(
        !access.contains("Secure"),
        "plain HTTP on 127.0.0.1 is local: {access}"
    );
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("xl_refresh="))
        .unwrap();
    assert!(refresh.contains("Path=/api/v1/auth"), "{refresh}");

    let value = access.split(';').next().unwrap();
    let response = app
        .client
        .get(app.url("/api/v1/users/me"))
        .header("cookie", value)
        .send()
        .await
        .unwrap();
    assert_eq!(data(response, 200).await["email"], "ada@example.com");
}

#[tokio::test]
async fn api_keys_are_shown_once_work_as_bearer_and_can_be_revoked() {
    let app = spawn_app().await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let created = data(
        app.post("/api/v1/api-keys", &token, &json!({ "name": "ci" }))
            .await,
        201,
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("xl_"));
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));

    let me = data(app.get("/api/v1/auth/verify", &secret).await, 200).await;
    assert_eq!(me["actor"]["email"], "ada@example.com");
    assert_eq!(me["actor"]["credential"]["kind"], "api_key");

    let listed = data(app.get("/api/v1/api-keys", &token).await, 200).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].get("secret").is_none(),
        "the secret is never shown again"
    );
    assert!(!listed[0]["last_used_at"].is_null(), "use is recorded");

    // Another org's admin cannot revoke it; its owner can.
    let outsider = app.token("root@other.org", Role::Admin);
    let id = created["id"].as_str().unwrap();
    problem(
        app.delete(&format!("/api/v1/api-keys/{id}"), &outsider)
            .await,
        404,
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/v1/api-keys/{id}"), &token)
            .await
            .status(),
        204
    );
    let error = problem(app.get("/api/v1/auth/verify", &secret).await, 401).await;
    assert_eq!(problem_kind(&error), "invalid-api-key");
    let error = problem(app.get("/api/v1/auth/verify", "xl_forged").await, 401).await;
    assert_eq!(problem_kind(&error), "invalid-api-key");

    let error = problem(
        app.post("/api/v1/api-keys", &token, &json!({ "name": "" }))
            .await,
        400,
    )
    .await;
    assert!(error["errors"]["name"].is_array(), "{error}");
}
