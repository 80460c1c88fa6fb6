//! The console at `/`: its page and files with their caching, compression
//! and content security policy; the sign-in methods it offers; and the
//! one-time sign-in link, which works once and keeps its tokens in cookies.

use std::io::Read;

use serde_json::{Value, json};

use crate::helpers::{TestApp, data, problem, problem_kind, spawn_app, spawn_app_with};

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// The directory the page loads its files from: `/console/<version>`.
fn assets_dir(page: &str) -> String {
    let start = page.find("/console/").unwrap() + "/console/".len();
    let version = page[start..].split('/').next().unwrap();
    format!("/console/{version}")
}

#[tokio::test]
async fn the_page_is_revalidated_compressed_and_under_a_strict_policy() {
    let app = spawn_app().await;
    let plain = get(&app, "/", &[]).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(header(&plain, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&plain, "cache-control"), "no-cache");
    assert_eq!(header(&plain, "vary"), "Accept-Encoding");
    assert!(plain.headers().get("content-encoding").is_none());
    let csp = header(&plain, "content-security-policy").to_owned();
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "style-src 'self';",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    let etag = header(&plain, "etag").to_owned();
    let page = plain.text().await.unwrap();
    assert!(
        page.contains(r#"<script type="module" src="/console/"#),
        "{page}"
    );
    // No inline script or style anywhere in the page.
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "{page}"
    );

    let gzipped = get(&app, "/", &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(header(&gzipped, "content-encoding"), "gzip");
    assert_eq!(header(&gzipped, "etag"), etag);
    assert_eq!(gunzip(&gzipped.bytes().await.unwrap()), page);

    let unchanged = get(&app, "/", &[("if-none-match", &etag)]).await;
    assert_eq!(unchanged.status(), 304);
    assert!(unchanged.bytes().await.unwrap().is_empty());
    let changed = get(&app, "/", &[("if-none-match", "\"other\"")]).await;
    assert_eq!(changed.status(), 200);
}

#[tokio::test]
async fn files_are_immutable_under_the_builds_version() {
    let app = spawn_app().await;
    let page = get(&app, "/", &[]).await.text().await.unwrap();
    let dir = assets_dir(&page);
    for (file, content_type) in [
        ("style.css", "text/css; charset=utf-8"),
        ("js/main.js", "text/javascript; charset=utf-8"),
        ("js/thread.js", "text/javascript; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let response = get(
            &app,
            &format!("{dir}/{file}"),
            &[("accept-encoding", "gzip")],
        )
        .await;
        assert_eq!(response.status(), 200, "{file}");
        assert_eq!(header(&response, "content-type"), content_type);
        assert_eq!(
            header(&response, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header(&response, "content-encoding"), "gzip");
        assert!(header(&response, "content-security-policy").contains("default-src 'self'"));
        assert!(!gunzip(&response.bytes().await.unwrap()).is_empty());
    }

    // Another build's files, unknown files and the page itself are not there.
    let old = get(&app, "/console/000000000000/js/main.js", &[]).await;
    let error = problem(old, 404).await;
    assert!(
        error["detail"].as_str().unwrap().contains("reload"),
        "{error}"
    );
    problem(get(&app, &format!("{dir}/js/nope.js"), &[]).await, 404).await;
    problem(get(&app, &format!("{dir}/index.html"), &[]).await, 404).await;
    problem(get(&app, &format!("{dir}/../Cargo.toml"), &[]).await, 404).await;
}

#[tokio::test]
async fn the_sign_in_methods_say_what_is_configured() {
    let app = spawn_app().await;
    let methods = data(get(&app, "/api/v1/auth/methods", &[]).await, 200).await;
    assert_eq!(
        methods,
        json!({"dev_login": false, "oauth": [], "sign_in_link": false})
    );

    let app = spawn_app_with(|options| options.services.auth.dev_login = true).await;
    app.services
        .issue_sign_in_link(xl_services::auth::link::LINK_TTL);
    let methods = data(get(&app, "/api/v1/auth/methods", &[]).await, 200).await;
    assert_eq!(
        methods,
        json!({"dev_login": true, "oauth": [], "sign_in_link": true})
    );
}

async fn redeem(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/link"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sign_in_link_signs_in_the_local_administrator_once() {
    let app = spawn_app().await;
    let secret = app
        .services
        .issue_sign_in_link(xl_services::auth::link::LINK_TTL);
    assert!(secret.starts_with("xll_"));

    let wrong = problem(redeem(&app, "xll_wrong").await, 401).await;
    assert_eq!(problem_kind(&wrong), "invalid-sign-in-link");

    let response = redeem(&app, &secret).await;
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    let signed_in = data(response, 200).await;
    assert_eq!(signed_in["user"]["email"], "admin@console.localhost");
    assert_eq!(signed_in["user"]["role"], "ADMIN");
    // The tokens are only in the cookies, which scripts cannot read.
    let body = signed_in.to_string();
    assert!(
        !body.contains("access_token") && !body.contains("xlr_"),
        "{body}"
    );
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies.iter().all(|c| c.contains("HttpOnly")),
        "{cookies:?}"
    );
    let access = cookies
        .iter()
        .find(|c| c.starts_with("rpotential_auth="))
        .unwrap();
    let token = access
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("rpotential_auth=");
    let me = data(app.get("/api/v1/auth/me", token).await, 200).await;
    assert_eq!(me["user"]["id"], signed_in["user"]["id"]);

    // Once used, the link is closed, even to its own secret.
    let again = problem(redeem(&app, &secret).await, 401).await;
    assert_eq!(problem_kind(&again), "invalid-sign-in-link");
    let methods: Value = data(get(&app, "/api/v1/auth/methods", &[]).await, 200).await;
    assert_eq!(methods["sign_in_link"], false);
}

#[tokio::test]
async fn a_link_secret_must_be_sent_as_json() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/link"))
        .json(&json!({ "secret": "xll_x" }))
        .send()
        .await
        .unwrap();
    problem(response, 422).await;
}
