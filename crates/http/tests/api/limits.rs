//! Rate limits and budgets over HTTP: buckets per user, per org and per
//! class with the IETF headers and `Retry-After`; token buckets and monthly
//! budgets on every model call, in the envelope's problems and in OpenAI's
//! shape; the budget in the usage report.

use serde_json::{Value, json};
use xl_domain::Role;
use xl_services::limits::{LimitsConfig, PerMinute};

use crate::helpers::{TestApp, data, problem, spawn_app_with};

async fn app_with(limits: LimitsConfig) -> TestApp {
    spawn_app_with(move |options| {
        options.services.default_model = "echo".into();
        options.services.limits = limits;
        options.services.auto_completion_enabled = true;
    })
    .await
}

#[tokio::test]
async fn a_user_past_a_bucket_gets_429_with_retry_after_and_others_go_on() {
    let app = app_with(LimitsConfig {
        user: PerMinute {
            reads: 3,
            ..PerMinute::OFF
        },
        org: PerMinute {
            writes: 2,
            ..PerMinute::OFF
        },
        ..LimitsConfig::default()
    })
    .await;
    let (ann, _) = app.user("ann@example.com", Role::User).await;
    let (bob, _) = app.user("bob@example.com", Role::User).await;
    let (eve, _) = app.user("eve@other.test", Role::User).await;
    // Signing up took one read; two are left.
    let mut remaining = Vec::new();
    for _ in 0..2 {
        let response = app.get("/api/v1/threads", &ann).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["ratelimit-policy"],
            r#""user-reads";q=3;w=60"#
        );
        remaining.push(response.headers()["ratelimit"].to_str().unwrap().to_owned());
    }
    assert_eq!(remaining[1], r#""user-reads";r=0;t=60"#);
    let refused = app.get("/api/v1/threads", &ann).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "retry after {retry}");
    let body = problem(refused, 429).await;
    assert!(
        body["detail"].as_str().unwrap().contains("user-reads"),
        "{body}"
    );
    // Another user's reads are their own.
    assert_eq!(app.get("/api/v1/threads", &bob).await.status(), 200);

    // Writes share the org's bucket: two for ann and bob together.
    let thread = json!({"title": "t"});
    assert_eq!(
        app.post("/api/v1/threads", &ann, &thread).await.status(),
        201
    );
    assert_eq!(
        app.post("/api/v1/threads", &bob, &thread).await.status(),
        201
    );
    let refused = app.post("/api/v1/threads", &bob, &thread).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    // Another org is not held back.
    assert_eq!(
        app.post("/api/v1/threads", &eve, &thread).await.status(),
        201
    );
}

#[tokio::test]
async fn model_calls_have_their_own_bucket_and_openai_routes_answer_in_openai_shape() {
    let app = app_with(LimitsConfig {
        user: PerMinute {
            model: 1,
            tokens: 50,
            ..PerMinute::OFF
        },
        ..LimitsConfig::default()
    })
    .await;
    let (ann, _) = app.user("ann@example.com", Role::User).await;
    let ask =
        |text: &str| json!({"model": "echo", "messages": [{"role": "user", "content": text}]});
    let first = app.post("/api/v1/chat/completions", &ann, &ask("hi")).await;
    assert_eq!(first.status(), 200);
    let refused = app.post("/api/v1/chat/completions", &ann, &ask("hi")).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    // A prompt larger than the token bucket never fits, whatever the route.
    let (bob, _) = app.user("bob@example.com", Role::User).await;
    let long = "word ".repeat(200);
    let refused = app
        .post("/api/v1/chat/completions", &bob, &ask(&long))
        .await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("user-tokens"),
        "{body}"
    );
}

#[tokio::test]
async fn a_spent_budget_refuses_model_calls_and_fails_replies_with_a_reason() {
    let app = app_with(LimitsConfig {
        org_monthly_budget_micros: Some(0),
        ..LimitsConfig::default()
    })
    .await;
    let (ann, _) = app.user("ann@example.com", Role::User).await;
    let refused = app
        .post(
            "/api/v1/chat/completions",
            &ann,
            &json!({"model": "echo", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "insufficient_quota");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("monthly budget")
    );

    // A post is kept; its reply fails, saying why.
    let thread = data(app.post("/api/v1/threads", &ann, &json!({})).await, 201).await;
    let posted = data(
        app.post(
            &format!(
                "/api/v1/threads/{}/messages?reply=sync",
                thread["id"].as_str().unwrap()
            ),
            &ann,
            &json!({"content": "hello"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(posted["userMessage"]["content"], "hello", "{posted}");
    assert_eq!(posted["assistantMessage"]["status"], "failed");
    assert!(
        posted["assistantMessage"]["error"]
            .as_str()
            .unwrap()
            .contains("monthly budget"),
        "{posted}"
    );

    // The usage report shows the budget and what is left.
    let usage = data(app.get("/api/v1/usage", &ann).await, 200).await;
    assert_eq!(usage["budgets"][0]["scope"], "org");
    assert_eq!(usage["budgets"][0]["limit_micros"], 0);
    assert_eq!(usage["budgets"][0]["remaining_micros"], 0);

    // With room in the budget the same calls go through.
    let app = app_with(LimitsConfig {
        org_monthly_budget_micros: Some(5_000_000),
        user_monthly_budget_micros: Some(1_000_000),
        ..LimitsConfig::default()
    })
    .await;
    let (ann, _) = app.user("ann@example.com", Role::User).await;
    let answer = app
        .post(
            "/api/v1/chat/completions",
            &ann,
            &json!({"model": "echo", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(answer.status(), 200);
    let usage = data(app.get("/api/v1/usage", &ann).await, 200).await;
    let scopes: Vec<(&str, i64)> = usage["budgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["scope"].as_str().unwrap(),
                b["remaining_micros"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        scopes,
        [("org", 5_000_000), ("user", 1_000_000)],
        "echo costs nothing"
    );
}
