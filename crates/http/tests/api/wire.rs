//! Wire conventions: health, version, envelope, problems, correlation ids.

use serde_json::Value;

use crate::helpers::{MAX_JSON, problem, spawn_app};

#[tokio::test]
async fn health_answers_in_the_envelope() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let header_id = response.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["status"], "ok");
    let metadata = &body["metadata"];
    assert_eq!(metadata["version"], "1.0");
    assert_eq!(metadata["correlation_id"], header_id);
    assert!(chrono::DateTime::parse_from_rfc3339(metadata["timestamp"].as_str().unwrap()).is_ok());
    assert_eq!(
        body.as_object().unwrap().len(),
        3,
        "exactly success, data, metadata: {body}"
    );
}

#[tokio::test]
async fn readiness_checks_the_database() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["status"], "ok");
    assert_eq!(body["data"]["database"]["backend"], "sqlite");
    assert!(body["data"]["database"]["latency_ms"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn the_version_endpoint_names_the_server() {
    let app = spawn_app().await;
    for path in ["/api/v1", "/api/v1/"] {
        let body: Value = app
            .client
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["data"]["name"], "experience-layer");
        assert_eq!(body["data"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(body["data"]["api_version"], "1.0");
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    for path in ["/nope", "/api/v1/nope", "/api/v2/threads"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let error = problem(response, 404).await;
        assert!(error["type"].as_str().unwrap().ends_with("/not-found"));
        assert!(error["detail"].as_str().unwrap().contains(path));
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/health")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    let error = problem(response, 405).await;
    assert!(
        error["type"]
            .as_str()
            .unwrap()
            .ends_with("/method-not-allowed")
    );
    // Allow names what the route serves, with HEAD wherever GET is.
    let (token, _) = app.user("ann@example.com", xl_domain::Role::User).await;
    let response = app
        .client
        .post(app.url("/api/v1/threads/00000000-0000-0000-0000-000000000000"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "DELETE, GET, HEAD, PATCH, PUT");
}

#[tokio::test]
async fn malformed_json_is_a_400_problem_naming_the_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/test/json"))
        .header("content-type", "application/json")
        .body(r#"{"title": "a", "count": "#)
        .send()
        .await
        .unwrap();
    let error = problem(response, 400).await;
    assert!(error["type"].as_str().unwrap().ends_with("/malformed-json"));
    assert!(
        error["detail"].as_str().unwrap().contains("line 1 column"),
        "{error}"
    );
}

#[tokio::test]
async fn unknown_fields_are_a_422_problem_naming_the_field() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/test/json"))
        .json(&serde_json::json!({ "title": "a", "count": 1, "role": "ADMIN" }))
        .send()
        .await
        .unwrap();
    let error = problem(response, 422).await;
    assert!(error["errors"]["role"].is_array(), "{error}");

    let response = app
        .client
        .post(app.url("/test/json"))
        .json(&serde_json::json!({ "title": "a", "count": "many" }))
        .send()
        .await
        .unwrap();
    let error = problem(response, 422).await;
    assert!(
        error["detail"].as_str().unwrap().contains("invalid type"),
        "{error}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let app = spawn_app().await;
    let big = format!(r#"{{"title":"{}","count":1}}"#, "x".repeat(MAX_JSON + 1));
    let response = app
        .client
        .post(app.url("/test/json"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let error = problem(response, 413).await;
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains(&MAX_JSON.to_string())
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/test/json"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    problem(response, 415).await;
}

#[tokio::test]
async fn a_valid_body_passes_through() {
    let app = spawn_app().await;
    let body: Value = app
        .client
        .post(app.url("/test/json"))
        .json(&serde_json::json!({ "title": "hello", "count": 2 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["title"], "hello");
}

#[tokio::test]
async fn the_correlation_id_is_taken_from_the_request_or_generated() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/health"))
        .header("x-correlation-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-correlation-id"], "req-42");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["metadata"]["correlation_id"], "req-42");

    let response = app
        .client
        .get(app.url("/nope"))
        .header("x-correlation-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(generated, "bad id with spaces");
    assert!(uuid::Uuid::parse_str(&generated).is_ok());
    let error = problem(response, 404).await;
    assert_eq!(error["trace_id"], generated);
}
