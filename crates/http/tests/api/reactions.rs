//! Reactions over HTTP: Slack's toggle, names, summaries, limits, and who may
//! react to which message.

use serde_json::{Value, json};
use xl_domain::Role;

use crate::helpers::{TestApp, data, problem, spawn_app};

/// A thread owned by `token`'s user with one message in it: (thread, message).
async fn thread_with_message(app: &TestApp, token: &str) -> (String, String) {
    let thread = data(
        app.post("/api/v1/threads", token, &json!({ "title": "t" }))
            .await,
        201,
    )
    .await;
    let thread = thread["id"].as_str().unwrap().to_owned();
    let message = data(
        app.post(
            &format!("/api/v1/threads/{thread}/messages"),
            token,
            &json!({ "content": "hi" }),
        )
        .await,
        201,
    )
    .await;
    (thread, message["id"].as_str().unwrap().to_owned())
}

/// Signs up a user of the org and makes them a member of the thread; their token and id.
async fn member(app: &TestApp, owner: &str, thread: &str, email: &str) -> (String, String) {
    let (token, profile) = app.user(email, Role::User).await;
    let id = profile["id"].as_str().unwrap().to_owned();
    data(
        app.post(
            &format!("/api/v1/threads/{thread}/members"),
            owner,
            &json!({ "user_id": id }),
        )
        .await,
        201,
    )
    .await;
    (token, id)
}

fn reactions(message: &str) -> String {
    format!("/api/v1/messages/{message}/reactions")
}

async fn react(app: &TestApp, token: &str, message: &str, name: &str) -> reqwest::Response {
    app.post(&reactions(message), token, &json!({ "name": name }))
        .await
}

fn names(summary: &Value) -> Vec<&str> {
    summary
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn posting_a_name_toggles_the_reaction_and_colons_and_case_do_not_matter() {
    let app = spawn_app().await;
    let (ada, profile) = app.user("ada@acme.io", Role::User).await;
    let (_, message) = thread_with_message(&app, &ada).await;

    let added = data(react(&app, &ada, &message, ":ThumbsUp:").await, 201).await;
    assert_eq!(
        added,
        json!([{ "name": "thumbsup", "count": 1, "users": [profile["id"]], "me": true }])
    );
    let listed = data(app.get(&reactions(&message), &ada).await, 200).await;
    assert_eq!(listed, added);

    // The same name without colons is the same reaction: it is removed.
    let removed = data(react(&app, &ada, &message, "thumbsup").await, 200).await;
    assert_eq!(removed, json!([]));
    assert_eq!(
        data(app.get(&reactions(&message), &ada).await, 200).await,
        json!([])
    );

    // Skin tones are part of the name.
    let toned = data(
        react(&app, &ada, &message, ":thumbsup::skin-tone-2:").await,
        201,
    )
    .await;
    assert_eq!(names(&toned), ["thumbsup::skin-tone-2"]);
}

#[tokio::test]
async fn delete_removes_only_a_reaction_you_have() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (thread, message) = thread_with_message(&app, &ada).await;
    let (bob, _) = member(&app, &ada, &thread, "bob@acme.io").await;
    data(react(&app, &ada, &message, "tada").await, 201).await;

    // Bob never reacted with tada (Slack's no_reaction).
    let error = problem(
        app.delete(&format!("{}/tada", reactions(&message)), &bob)
            .await,
        404,
    )
    .await;
    assert_eq!(error["detail"], "reaction not found");

    // Colons in the path are accepted like in the body.
    let after = data(
        app.delete(&format!("{}/:tada:", reactions(&message)), &ada)
            .await,
        200,
    )
    .await;
    assert_eq!(after, json!([]));
    problem(
        app.delete(&format!("{}/tada", reactions(&message)), &ada)
            .await,
        404,
    )
    .await;

    // Names encoded as encodeURIComponent encodes them are decoded first.
    data(react(&app, &ada, &message, "+1").await, 201).await;
    data(react(&app, &ada, &message, "tada").await, 201).await;
    data(
        app.delete(&format!("{}/%2B1", reactions(&message)), &ada)
            .await,
        200,
    )
    .await;
    let after = data(
        app.delete(&format!("{}/%3Atada%3A", reactions(&message)), &ada)
            .await,
        200,
    )
    .await;
    assert_eq!(after, json!([]));

    // A bad name in the path is a 400 naming it.
    let error = problem(
        app.delete(&format!("{}/no%20way", reactions(&message)), &ada)
            .await,
        400,
    )
    .await;
    assert!(error["errors"]["name"].is_array(), "{error}");
}

#[tokio::test]
async fn summaries_count_everyone_list_the_first_ten_and_say_whether_it_is_me() {
    let app = spawn_app().await;
    let (ada, ada_profile) = app.user("ada@acme.io", Role::User).await;
    let (thread, message) = thread_with_message(&app, &ada).await;

    let mut ids = vec![ada_profile["id"].as_str().unwrap().to_owned()];
    let mut tokens = vec![ada.clone()];
    for n in 1..12 {
        let (token, id) = member(&app, &ada, &thread, &format!("user{n}@acme.io")).await;
        ids.push(id);
        tokens.push(token);
    }
    data(react(&app, &ada, &message, "eyes").await, 201).await;
    for token in &tokens {
        data(react(&app, token, &message, "tada").await, 201).await;
    }

    let summary = data(app.get(&reactions(&message), &tokens[11]).await, 200).await;
    assert_eq!(names(&summary), ["eyes", "tada"], "ordered by first use");
    let tada = &summary[1];
    assert_eq!(tada["count"], 12, "count is the full total");
    let shown: Vec<&str> = tada["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(shown, ids[..10], "the first ten, oldest first");
    assert_eq!(tada["me"], true);
    assert_eq!(summary[0]["count"], 1);
    assert_eq!(summary[0]["users"], json!([ids[0]]));
    assert_eq!(summary[0]["me"], false, "user 11 did not react with eyes");

    let as_ada = data(app.get(&reactions(&message), &ada).await, 200).await;
    assert_eq!(as_ada[0]["me"], true);
    assert_eq!(as_ada[1]["me"], true);

    // Removing one reaction lowers the count and lets the eleventh user show.
    data(react(&app, &tokens[0], &message, "tada").await, 200).await;
    let after = data(app.get(&reactions(&message), &ada).await, 200).await;
    assert_eq!(after[1]["count"], 11);
    assert_eq!(after[1]["me"], false);
    assert_eq!(after[1]["users"], json!(ids[1..11]));
}

#[tokio::test]
async fn a_message_takes_at_most_fifty_names_and_a_person_at_most_twenty_five_reactions() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (thread, message) = thread_with_message(&app, &ada).await;
    let (bob, _) = member(&app, &ada, &thread, "bob@acme.io").await;
    let (carol, _) = member(&app, &ada, &thread, "carol@acme.io").await;

    for n in 0..25 {
        data(react(&app, &ada, &message, &format!("a{n}")).await, 201).await;
    }
    let per_person = problem(react(&app, &ada, &message, "a25").await, 409).await;
    let per_person = per_person["detail"].as_str().unwrap().to_owned();
    assert!(per_person.contains("too_many_reactions"), "{per_person}");
    // An existing name counts against the person too.
    data(react(&app, &bob, &message, "b0").await, 201).await;
    problem(react(&app, &ada, &message, "b0").await, 409).await;
    // Taking one away makes room again.
    data(react(&app, &ada, &message, "a0").await, 200).await;
    data(react(&app, &ada, &message, "a0").await, 201).await;

    for n in 1..25 {
        data(react(&app, &bob, &message, &format!("b{n}")).await, 201).await;
    }
    let summary = data(app.get(&reactions(&message), &carol).await, 200).await;
    assert_eq!(summary.as_array().unwrap().len(), 50);

    let per_message = problem(react(&app, &carol, &message, "c0").await, 409).await;
    let per_message = per_message["detail"].as_str().unwrap().to_owned();
    assert!(per_message.contains("too_many_reactions"), "{per_message}");
    assert_ne!(per_message, per_person, "the two limits say which was hit");
    // A name already on the message is still welcome.
    let joined = data(react(&app, &carol, &message, "a1").await, 201).await;
    assert_eq!(joined.as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn invalid_names_are_400_naming_the_field() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (_, message) = thread_with_message(&app, &ada).await;
    let too_long = "a".repeat(101);
    for name in [
        "",
        "thumbs up",
        "👍",
        ":tada",
        "tada::skin-tone-9",
        too_long.as_str(),
    ] {
        let error = problem(react(&app, &ada, &message, name).await, 400).await;
        assert!(error["errors"]["name"].is_array(), "{name}: {error}");
        assert!(
            error["detail"].as_str().unwrap().contains("invalid_name"),
            "{error}"
        );
    }
    data(react(&app, &ada, &message, &"a".repeat(100)).await, 201).await;
}

#[tokio::test]
async fn only_people_who_can_read_the_thread_may_see_or_react() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (boss, _) = app.user("boss@acme.io", Role::Admin).await;
    let (stranger, _) = app.user("eve@acme.io", Role::User).await;
    let (other_admin, _) = app.user("admin@other.org", Role::Admin).await;
    let (_, message) = thread_with_message(&app, &ada).await;
    data(react(&app, &ada, &message, "tada").await, 201).await;

    // Same org but not a member, and another org's admin: the message does not exist for them.
    for token in [&stranger, &other_admin] {
        problem(app.get(&reactions(&message), token).await, 404).await;
        problem(react(&app, token, &message, "tada").await, 404).await;
        problem(
            app.delete(&format!("{}/tada", reactions(&message)), token)
                .await,
            404,
        )
        .await;
    }

    // The org's admin may read every thread of the org, so may react.
    let summary = data(react(&app, &boss, &message, "tada").await, 201).await;
    assert_eq!(summary[0]["count"], 2);
    assert_eq!(summary[0]["me"], true);

    // No such message, and a malformed id.
    let missing = xl_domain::MessageId::new();
    problem(app.get(&reactions(&missing.to_string()), &ada).await, 404).await;
    problem(app.get(&reactions("not-a-uuid"), &ada).await, 400).await;

    // Nobody at all.
    for response in [
        app.client
            .get(app.url(&reactions(&message)))
            .send()
            .await
            .unwrap(),
        app.client
            .post(app.url(&reactions(&message)))
            .json(&json!({ "name": "tada" }))
            .send()
            .await
            .unwrap(),
        app.client
            .delete(app.url(&format!("{}/tada", reactions(&message))))
            .send()
            .await
            .unwrap(),
    ] {
        problem(response, 401).await;
    }
}

#[tokio::test]
async fn a_deleted_message_takes_no_reactions() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (_, message) = thread_with_message(&app, &ada).await;
    data(react(&app, &ada, &message, "tada").await, 201).await;
    let response = app
        .delete(&format!("/api/v1/messages/{message}"), &ada)
        .await;
    assert_eq!(response.status(), 204);
    // The tombstone keeps no reactions.
    let left = data(app.get(&reactions(&message), &ada).await, 200).await;
    assert_eq!(left, serde_json::json!([]));

    for response in [
        react(&app, &ada, &message, "eyes").await,
        react(&app, &ada, &message, "tada").await,
        app.delete(&format!("{}/tada", reactions(&message)), &ada)
            .await,
    ] {
        let error = problem(response, 409).await;
        assert!(
            error["detail"]
                .as_str()
                .unwrap()
                .contains("message_not_found"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn unknown_fields_and_missing_names_are_refused() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (_, message) = thread_with_message(&app, &ada).await;
    problem(
        app.post(&reactions(&message), &ada, &json!({ "emoji": "tada" }))
            .await,
        422,
    )
    .await;
    problem(
        app.post(
            &reactions(&message),
            &ada,
            &json!({ "name": "tada", "user_id": "x" }),
        )
        .await,
        422,
    )
    .await;
}
