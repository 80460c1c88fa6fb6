//! The audit log: what gets recorded (sign-in and out, refresh-token reuse,
//! API keys, role changes, deletions, an administrator reading another
//! user), with the client's address and the correlation id, and who may read
//! it (the org's administrators, their own org only).

use serde_json::{Value, json};
use xl_domain::Role;

use crate::helpers::{TestApp, data, problem, spawn_app_with};

async fn login(app: &TestApp, email: &str) -> Value {
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("X-Correlation-Id", "login-1")
        .json(&json!({ "email": email, "name": "Dev" }))
        .send()
        .await
        .unwrap();
    data(response, 200).await
}

fn actions(page: &Value) -> Vec<String> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn what_people_do_to_accounts_and_data_is_recorded_for_admins() {
    let app = spawn_app_with(|o| o.services.auth.dev_login = true).await;
    let (admin, _) = app.user("root@example.com", Role::Admin).await;
    let first = login(&app, "ann@example.com").await;
    let ann = first["access_token"].as_str().unwrap().to_owned();
    let ann_id = first["user"]["id"].as_str().unwrap().to_owned();

    // Ann's own doings.
    let key = data(
        app.post("/api/v1/api-keys", &ann, &json!({"name": "ci"}))
            .await,
        201,
    )
    .await;
    let key_id = key["id"].as_str().unwrap().to_owned();
    assert!(
        app.delete(&format!("/api/v1/api-keys/{key_id}"), &ann)
            .await
            .status()
            .is_success()
    );
    let thread = data(
        app.post("/api/v1/threads", &ann, &json!({"title": "t"}))
            .await,
        201,
    )
    .await;
    let thread_id = thread["id"].as_str().unwrap().to_owned();
    assert!(
        app.delete(&format!("/api/v1/threads/{thread_id}"), &ann)
            .await
            .status()
            .is_success()
    );
    // A file uploaded and deleted.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("note.txt"),
    );
    let uploaded: Value = app
        .client
        .post(app.url("/api/v1/files"))
        .bearer_auth(&ann)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file_id = uploaded["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{uploaded}"))
        .to_owned();
    assert!(
        app.delete(&format!("/api/v1/files/{file_id}"), &ann)
            .await
            .status()
            .is_success()
    );
    // A refresh token used twice.
    let refresh = |token: &str| {
        app.client
            .post(app.url("/api/v1/auth/refresh"))
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(&old).await.unwrap().status(), 200);
    assert_eq!(refresh(&old).await.unwrap().status(), 401);
    // The admin reads Ann, promotes her, and signs out.
    data(
        app.get(&format!("/api/v1/users/{ann_id}"), &admin).await,
        200,
    )
    .await;
    data(
        app.put(
            &format!("/api/v1/users/{ann_id}"),
            &admin,
            &json!({"role": "ADMIN"}),
        )
        .await,
        200,
    )
    .await;

    let log = data(app.get("/api/v1/audit?limit=100", &admin).await, 200).await;
    let seen = actions(&log);
    for expected in [
        "auth.sign_in",
        "api_key.created",
        "api_key.revoked",
        "thread.deleted",
        "file.deleted",
        "auth.refresh_reuse",
        "admin.read_user",
        "user.role_changed",
    ] {
        assert!(
            seen.iter().any(|a| a == expected),
            "{expected} missing from {seen:?}"
        );
    }
    assert_eq!(seen[0], "user.role_changed", "newest first");
    let entries = log.as_array().unwrap();
    let sign_in = entries
        .iter()
        .find(|e| e["action"] == "auth.sign_in")
        .unwrap();
    assert_eq!(sign_in["actor_id"], ann_id.as_str());
    assert_eq!(sign_in["correlation_id"], "login-1");
    assert_eq!(sign_in["ip"], "127.0.0.1");
    let promoted = &entries[0];
    assert_eq!(promoted["details"], json!({"from": "USER", "to": "ADMIN"}));
    assert_eq!(promoted["target_id"], ann_id.as_str());
    let deleted = entries
        .iter()
        .find(|e| e["action"] == "thread.deleted")
        .unwrap();
    assert_eq!(deleted["target_id"], thread_id.as_str());

    // Filters and pages.
    let only = data(
        app.get("/api/v1/audit?action=api_key.created", &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(actions(&only), ["api_key.created"]);
    let response = app.get("/api/v1/audit?limit=2", &admin).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["pagination"]["has_more"], true);

    // Ann was a user when she asked; now she is an admin of her org.
    let (bob, _) = app.user("bob@example.com", Role::User).await;
    let refused = problem(app.get("/api/v1/audit", &bob).await, 403).await;
    assert!(refused["detail"].as_str().is_some());
    // Another org's administrator sees only their own org's log.
    let (other, _) = app.user("root@other.test", Role::Admin).await;
    let theirs = data(app.get("/api/v1/audit?limit=100", &other).await, 200).await;
    assert!(
        theirs
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["target_id"] != ann_id.as_str() && e["actor_id"] != ann_id.as_str()),
        "{theirs}"
    );
    let error = problem(app.get("/api/v1/audit?actor_id=nope", &admin).await, 400).await;
    assert!(
        error["detail"].as_str().unwrap().contains("actor_id"),
        "{error}"
    );
}
