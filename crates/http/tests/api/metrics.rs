//! `GET /metrics`: requests by matched route (never by raw path), model
//! calls by model, open streams, and the store's write transactions, in
//! Prometheus' text format.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use xl_domain::Role;

use crate::helpers::{data, spawn_app};

/// The value of the first sample whose line starts with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_count_routes_model_calls_streams_and_writes() {
    let app = spawn_app().await;
    let (token, _) = app.user("ann@example.com", Role::User).await;
    let thread = data(app.post("/api/v1/threads", &token, &json!({})).await, 201).await;
    let id = thread["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/threads/{id}"), &token)
            .await
            .status(),
        200
    );
    let answer = app
        .post(
            "/api/v1/chat/completions",
            &token,
            &json!({"model": "echo", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(answer.status(), 200);
    // A stream held open while the metrics are read.
    let stream = app
        .get(&format!("/api/v1/threads/{id}/events"), &token)
        .await;
    assert_eq!(stream.status(), 200);
    let mut body = stream.bytes_stream();
    let _ = tokio::time::timeout(Duration::from_millis(50), body.next()).await;

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let route = r#"xl_http_requests_total{method="GET",route="/api/v1/threads/{id}",status="200"}"#;
    assert!(sample(&text, route).unwrap() >= 1.0, "{text}");
    assert!(!text.contains(id), "ids never become labels");
    assert!(
        text.contains(r#"xl_http_request_seconds_bucket{method="POST",route="/api/v1/threads""#)
    );
    let calls = r#"xl_completions_total{model="echo",status="complete"}"#;
    assert!(sample(&text, calls).unwrap() >= 1.0, "{text}");
    assert!(text.contains(r#"xl_completion_tokens_total{model="echo",kind="prompt"}"#));
    assert!(
        sample(&text, r#"xl_open_streams{kind="sse"}"#).unwrap() >= 1.0,
        "{text}"
    );
    assert!(text.contains("xl_db_write_transaction_seconds_count"));
}

#[tokio::test]
async fn a_metrics_token_keeps_the_metrics_to_whoever_holds_it() {
    let app = crate::helpers::spawn_app_with(|options| {
        options.http.metrics_token = Some("scrape-secret".into());
    })
    .await;
    let url = app.url("/metrics");
    let bare = app.client.get(&url).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    let wrong = app
        .client
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = app
        .client
        .get(&url)
        .bearer_auth("scrape-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}
