//! Client analytics events: recorded per user, summed by day and name in
//! the usage report (the caller's own; the org's for administrators), and
//! bounded.

use serde_json::json;
use xl_domain::Role;

use crate::helpers::{data, problem, spawn_app};

#[tokio::test]
async fn events_are_counted_by_day_and_name_for_whoever_sent_them() {
    let app = spawn_app().await;
    let (ann, _) = app.user("ann@example.com", Role::User).await;
    let (bob, _) = app.user("bob@example.com", Role::User).await;
    let (admin, _) = app.user("root@example.com", Role::Admin).await;
    let one = app
        .post(
            "/api/v1/analytics/events",
            &ann,
            &json!({"name": "thread.opened", "properties": {"source": "sidebar", "n": 1}}),
        )
        .await;
    assert_eq!(data(one, 202).await["recorded"], 1);
    let batch = json!({"events": [
        {"name": "thread.opened"}, {"name": "file.previewed", "properties": {"type": "png"}}
    ]});
    assert_eq!(
        data(
            app.post("/api/v1/analytics/events", &ann, &batch).await,
            202
        )
        .await["recorded"],
        2
    );
    data(
        app.post(
            "/api/v1/analytics/events",
            &bob,
            &json!({"name": "thread.opened"}),
        )
        .await,
        202,
    )
    .await;

    let mine = data(app.get("/api/v1/usage", &ann).await, 200).await;
    let counts: Vec<(String, u64)> = mine["events_by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("file.previewed".to_owned(), 1),
            ("thread.opened".to_owned(), 2)
        ]
    );
    let org = data(app.get("/api/v1/usage/system", &admin).await, 200).await;
    let opened = org["events_by_day"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "thread.opened")
        .unwrap()["count"]
        .clone();
    assert_eq!(opened, 3, "the org's report counts everyone's");
    let (other, _) = app.user("root@other.test", Role::Admin).await;
    let theirs = data(app.get("/api/v1/usage/system", &other).await, 200).await;
    assert_eq!(theirs["events_by_day"], json!([]));
}

#[tokio::test]
async fn bad_events_are_refused_whole_naming_the_field() {
    let app = spawn_app().await;
    let (ann, _) = app.user("ann@example.com", Role::User).await;
    let big = "x".repeat(5000);
    for (body, field) in [
        (json!({"name": ""}), "events[0].name"),
        (json!({"name": "has spaces"}), "events[0].name"),
        (
            json!({"events": [{"name": "ok"}, {"name": "ok", "properties": {"nested": {"a": 1}}}]}),
            "events[1].properties",
        ),
        (
            json!({"name": "ok", "properties": {"big": big}}),
            "events[0].properties",
        ),
        (
            json!({"name": "ok", "properties": [1]}),
            "events[0].properties",
        ),
        (json!({"events": []}), "events"),
    ] {
        let error = problem(app.post("/api/v1/analytics/events", &ann, &body).await, 400).await;
        assert!(error["errors"].get(field).is_some(), "{body}: {error}");
    }
    let usage = data(app.get("/api/v1/usage", &ann).await, 200).await;
    assert_eq!(
        usage["events_by_day"],
        json!([]),
        "nothing of a refused batch is kept"
    );
}
