//! User preferences: defaults, deep-merged patches, dot paths, validation,
//! resets, presets, and that each caller sees only their own.

use serde_json::{Value, json};
use xl_domain::Role;

use crate::helpers::{data, problem, problem_kind, spawn_app};

const PREFERENCES: &str = "/api/v1/users/me/preferences";

fn fields(error: &Value) -> Vec<String> {
    let mut fields: Vec<String> = error["errors"]
        .as_object()
        .unwrap_or_else(|| panic!("no field errors: {error}"))
        .keys()
        .cloned()
        .collect();
    fields.sort();
    fields
}

#[tokio::test]
async fn a_new_user_gets_the_defaults() {
    let app = spawn_app().await;
    let (token, _) = app.user("a@example.com", Role::User).await;
    let prefs = data(app.get(PREFERENCES, &token).await, 200).await;
    assert_eq!(prefs["language"], "en");
    assert_eq!(prefs["locale"], "en-US");
    assert_eq!(prefs["timezone"], "UTC");
    assert_eq!(prefs["ai"]["default_model"], "gpt-4o");
    assert_eq!(prefs["ai"]["temperature"], 0.7);
    assert_eq!(prefs["ai"]["max_tokens"], 2048);
    assert_eq!(prefs["ai"]["streaming"], true);
    assert_eq!(prefs["ai"]["system_prompt"], "");
    assert_eq!(prefs["ui"]["theme"], "system");
    assert_eq!(prefs["notifications"]["digest"], "weekly");
    assert_eq!(prefs["privacy"]["retention_days"], 365);
}

#[tokio::test]
async fn a_patch_deep_merges_and_persists() {
    let app = spawn_app().await;
    let (token, _) = app.user("a@example.com", Role::User).await;
    let patch = json!({ "ai": { "temperature": 1.2 }, "ui": { "theme": "dark" } });
    let prefs = data(app.patch(PREFERENCES, &token, &patch).await, 200).await;
    assert_eq!(prefs["ai"]["temperature"], 1.2);
    assert_eq!(
        prefs["ai"]["max_tokens"], 2048,
        "siblings keep their values"
    );
    assert_eq!(prefs["ui"]["theme"], "dark");
    assert_eq!(prefs["ui"]["density"], "comfortable");

    // A second patch merges over the first rather than replacing it.
    let patch = json!({ "ai": { "max_tokens": 4000 } });
    data(app.patch(PREFERENCES, &token, &patch).await, 200).await;

    let prefs = data(app.get(PREFERENCES, &token).await, 200).await;
    assert_eq!(prefs["ai"]["temperature"], 1.2);
    assert_eq!(prefs["ai"]["max_tokens"], 4000);
    assert_eq!(prefs["ai"]["default_model"], "gpt-4o");
    assert_eq!(prefs["ui"]["theme"], "dark");
    assert_eq!(prefs["language"], "en");
}

#[tokio::test]
async fn one_value_is_read_by_dot_path() {
    let app = spawn_app().await;
    let (token, _) = app.user("a@example.com", Role::User).await;
    let patch = json!({ "ui": { "theme": "light" } });
    data(app.patch(PREFERENCES, &token, &patch).await, 200).await;

    let one = data(
        app.get(&format!("{PREFERENCES}/ui.theme"), &token).await,
        200,
    )
    .await;
    assert_eq!(one, json!({ "path": "ui.theme", "value": "light" }));
    let one = data(
        app.get(&format!("{PREFERENCES}/ai.temperature"), &token)
            .await,
        200,
    )
    .await;
    assert_eq!(one, json!({ "path": "ai.temperature", "value": 0.7 }));
    let one = data(
        app.get(&format!("{PREFERENCES}/timezone"), &token).await,
        200,
    )
    .await;
    assert_eq!(one["value"], "UTC");
    let one = data(app.get(&format!("{PREFERENCES}/ai"), &token).await, 200).await;
    assert_eq!(one["value"]["max_tokens"], 2048);

    for missing in ["ai.nope", "nope", "ui.theme.x"] {
        let error = problem(
            app.get(&format!("{PREFERENCES}/{missing}"), &token).await,
            404,
        )
        .await;
        assert_eq!(problem_kind(&error), "not-found", "{missing}");
    }
}

#[tokio::test]
async fn every_invalid_value_is_named_by_its_path() {
    let app = spawn_app().await;
    let (token, _) = app.user("a@example.com", Role::User).await;
    let patch = json!({
        "ai": { "temperature": 2.5, "max_tokens": 0, "streaming": "yes" },
        "ui": { "theme": "neon", "font_size": 99 },
        "timezone": "Somewhere",
    });
    let error = problem(app.patch(PREFERENCES, &token, &patch).await, 400).await;
    assert_eq!(problem_kind(&error), "validation-error");
    assert_eq!(
        fields(&error),
        vec![
            "ai.max_tokens",
            "ai.streaming",
            "ai.temperature",
            "timezone",
            "ui.font_size",
            "ui.theme",
        ]
    );

    // Nothing of a refused patch is kept, not even its valid parts.
    let patch = json!({ "ui": { "density": "compact", "theme": "neon" } });
    problem(app.patch(PREFERENCES, &token, &patch).await, 400).await;
    let prefs = data(app.get(PREFERENCES, &token).await, 200).await;
    assert_eq!(prefs["ui"]["density"], "comfortable");
    assert_eq!(prefs["ai"]["temperature"], 0.7);
}

#[tokio::test]
async fn unknown_keys_and_non_objects_are_refused() {
    let app = spawn_app().await;
    let (token, _) = app.user("a@example.com", Role::User).await;
    let patch = json!({ "colour": "red", "ai": { "mood": "happy" } });
    let error = problem(app.patch(PREFERENCES, &token, &patch).await, 400).await;
    assert_eq!(fields(&error), vec!["ai.mood", "colour"]);

    let error = problem(
        app.patch(PREFERENCES, &token, &json!({ "ai": 1 })).await,
        400,
    )
    .await;
    assert_eq!(fields(&error), vec!["ai"]);

    for body in [json!([1, 2]), json!("dark"), json!(null)] {
        let error = problem(app.patch(PREFERENCES, &token, &body).await, 400).await;
        assert_eq!(fields(&error), vec!["body"], "{body}");
    }
}

#[tokio::test]
async fn null_resets_a_key_to_its_default() {
    let app = spawn_app().await;
    let (token, _) = app.user("a@example.com", Role::User).await;
    let patch = json!({ "ai": { "temperature": 0.1, "max_tokens": 100 } });
    data(app.patch(PREFERENCES, &token, &patch).await, 200).await;

    let patch = json!({ "ai": { "temperature": null } });
    let prefs = data(app.patch(PREFERENCES, &token, &patch).await, 200).await;
    assert_eq!(prefs["ai"]["temperature"], 0.7);
    assert_eq!(prefs["ai"]["max_tokens"], 100);

    let prefs = data(app.get(PREFERENCES, &token).await, 200).await;
    assert_eq!(prefs["ai"]["temperature"], 0.7);
    assert_eq!(prefs["ai"]["max_tokens"], 100);
}

#[tokio::test]
async fn delete_resets_everything() {
    let app = spawn_app().await;
    let (token, _) = app.user("a@example.com", Role::User).await;
    let defaults = data(app.get(PREFERENCES, &token).await, 200).await;
    let patch = json!({ "ui": { "theme": "dark" }, "privacy": { "retention_days": 30 } });
    data(app.patch(PREFERENCES, &token, &patch).await, 200).await;

    let reset = data(app.delete(PREFERENCES, &token).await, 200).await;
    assert_eq!(reset, defaults);
    let prefs = data(app.get(PREFERENCES, &token).await, 200).await;
    assert_eq!(prefs, defaults);
}

#[tokio::test]
async fn presets_are_listed_and_applied() {
    let app = spawn_app().await;
    let (token, _) = app.user("a@example.com", Role::User).await;
    let presets = data(
        app.get(&format!("{PREFERENCES}/presets"), &token).await,
        200,
    )
    .await;
    let names: Vec<&str> = presets
        .as_array()
        .unwrap()
        .iter()
        .map(|preset| {
            assert!(preset["description"].is_string(), "{preset}");
            assert!(preset["values"].is_object(), "{preset}");
            preset["name"].as_str().unwrap()
        })
        .collect();
    for name in ["general", "developer", "concise"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }

    let patch = json!({ "ui": { "theme": "dark" } });
    data(app.patch(PREFERENCES, &token, &patch).await, 200).await;
    let prefs = data(
        app.post(
            &format!("{PREFERENCES}/presets/developer"),
            &token,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let developer = presets
        .as_array()
        .unwrap()
        .iter()
        .find(|preset| preset["name"] == "developer")
        .unwrap();
    assert_eq!(
        prefs["ai"]["temperature"],
        developer["values"]["ai"]["temperature"]
    );
    assert_eq!(prefs["ui"]["density"], "compact");
    assert_eq!(
        prefs["ui"]["theme"], "dark",
        "a preset merges, not replaces"
    );
    assert_eq!(data(app.get(PREFERENCES, &token).await, 200).await, prefs);

    let prefs = data(
        app.post(
            &format!("{PREFERENCES}/presets/concise"),
            &token,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert!(prefs["ai"]["max_tokens"].as_i64().unwrap() < 2048);
    assert!(!prefs["ai"]["system_prompt"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_preset_is_not_found() {
    let app = spawn_app().await;
    let (token, _) = app.user("a@example.com", Role::User).await;
    let error = problem(
        app.post(&format!("{PREFERENCES}/presets/turbo"), &token, &json!({}))
            .await,
        404,
    )
    .await;
    assert_eq!(problem_kind(&error), "not-found");
}

#[tokio::test]
async fn each_user_sees_only_their_own() {
    let app = spawn_app().await;
    let (first, _) = app.user("a@example.com", Role::User).await;
    let (second, _) = app.user("b@example.com", Role::User).await;
    let (other_org, _) = app.user("c@other.example", Role::Admin).await;
    let patch = json!({ "ui": { "theme": "dark" } });
    data(app.patch(PREFERENCES, &first, &patch).await, 200).await;

    for token in [&second, &other_org] {
        let prefs = data(app.get(PREFERENCES, token).await, 200).await;
        assert_eq!(prefs["ui"]["theme"], "system");
    }
    // Another user's reset does not touch the first user's values.
    data(app.delete(PREFERENCES, &second).await, 200).await;
    let prefs = data(app.get(PREFERENCES, &first).await, 200).await;
    assert_eq!(prefs["ui"]["theme"], "dark");
}

#[tokio::test]
async fn anonymous_callers_are_refused() {
    let app = spawn_app().await;
    let anonymous = |request: reqwest::RequestBuilder| async move {
        problem(request.send().await.unwrap(), 401).await
    };
    let client = &app.client;
    anonymous(client.get(app.url(PREFERENCES))).await;
    anonymous(client.get(app.url(&format!("{PREFERENCES}/ui.theme")))).await;
    anonymous(client.patch(app.url(PREFERENCES)).json(&json!({}))).await;
    anonymous(client.delete(app.url(PREFERENCES))).await;
    anonymous(client.get(app.url(&format!("{PREFERENCES}/presets")))).await;
    anonymous(client.post(app.url(&format!("{PREFERENCES}/presets/general")))).await;
}
