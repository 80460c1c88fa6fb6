//! Search over HTTP: the envelope and cursor paging, parameters that are
//! refused by name, filters from the query string, authentication, and
//! isolation between orgs and between members and non-members.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use xl_domain::Role;

use crate::helpers::{TestApp, data, problem, spawn_app_with};

async fn app() -> TestApp {
    // No assistant replies: an echo would repeat every searched word.
    spawn_app_with(|options| options.services.auto_completion_enabled = false).await
}

async fn thread(app: &TestApp, token: &str, title: &str) -> String {
    let body = json!({ "title": title, "auto_reply": false });
    let created = data(app.post("/api/v1/threads", token, &body).await, 201).await;
    created["id"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, token: &str, thread: &str, body: Value) -> Value {
    let path = format!("/api/v1/threads/{thread}/messages");
    data(app.post(&path, token, &body).await, 201).await
}

async fn say(app: &TestApp, token: &str, thread: &str, content: &str) -> String {
    let message = post(app, token, thread, json!({ "content": content })).await;
    message["id"].as_str().unwrap().to_owned()
}

/// `GET /api/v1/search` with these query parameters (encoded by the client).
async fn search(app: &TestApp, token: Option<&str>, params: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(app.url("/api/v1/search")).query(params);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// The hits for `params`, asserting a 200 envelope.
async fn hits(app: &TestApp, token: &str, params: &[(&str, &str)]) -> Vec<Value> {
    data(search(app, Some(token), params).await, 200)
        .await
        .as_array()
        .unwrap()
        .clone()
}

fn ids(hits: &[Value]) -> HashSet<String> {
    hits.iter()
        .map(|hit| {
            hit["message_id"]
                .as_str()
                .or(hit["thread_id"].as_str())
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn set(items: &[&str]) -> HashSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

/// Some unrelated text, so bm25 has a corpus to weigh the searched words
/// against.
async fn noise(app: &TestApp, token: &str) {
    let misc = thread(app, token, "Water cooler").await;
    for topic in ["lunch", "coffee", "parking", "printer", "plants"] {
        say(
            app,
            token,
            &misc,
            &format!("who is on the {topic} rota this week"),
        )
        .await;
        let own = thread(app, token, &format!("Team {topic}")).await;
        say(
            app,
            token,
            &own,
            &format!("the {topic} list is pinned above"),
        )
        .await;
    }
}

#[tokio::test]
async fn hits_come_ranked_in_the_envelope_and_page_by_cursor() {
    let app = app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    noise(&app, &ada).await;
    let budget = thread(&app, &ada, "Budget review").await;
    let strong = say(
        &app,
        &ada,
        &budget,
        "budget budget budget: the budget is final",
    )
    .await;
    let mut expected = vec![budget.clone(), strong.clone()];
    for n in 0..4 {
        let text =
            format!("item {n} of the long agenda mentions the budget once among other things");
        expected.push(say(&app, &ada, &budget, &text).await);
    }

    let response = search(&app, Some(&ada), &[("q", "budget"), ("limit", "2")]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert!(body["metadata"]["correlation_id"].is_string());
    assert_eq!(body["pagination"]["limit"], 2);
    assert_eq!(body["pagination"]["has_more"], true);
    let first = body["data"].as_array().unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0]["kind"], "thread", "the title ranks first: {body}");
    assert_eq!(first[0]["thread_id"], budget.as_str());
    assert!(first[0]["message_id"].is_null());
    assert_eq!(first[0]["thread_title"], "Budget review");
    assert_eq!(first[1]["kind"], "message");
    assert_eq!(first[1]["message_id"], strong.as_str());
    assert_eq!(first[1]["thread_id"], budget.as_str());
    assert_eq!(first[1]["role"], "USER");
    assert!(
        first[1]["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>budget</mark>"),
        "{body}"
    );
    assert!(first[1]["created_at"].is_string());
    assert!(first[0]["rank"].as_f64().unwrap() > first[1]["rank"].as_f64().unwrap());

    // Following the cursors returns every hit exactly once.
    let mut seen: Vec<Value> = first.clone();
    let mut cursor = body["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    loop {
        let response = search(
            &app,
            Some(&ada),
            &[("q", "budget"), ("limit", "2"), ("cursor", &cursor)],
        )
        .await;
        let body: Value = response.json().await.unwrap();
        seen.extend(body["data"].as_array().unwrap().iter().cloned());
        match body["pagination"]["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), expected.len());
    assert_eq!(
        ids(&seen),
        set(&expected.iter().map(String::as_str).collect::<Vec<_>>())
    );

    // A cursor from another list is refused by name.
    let threads: Value = app
        .get("/api/v1/threads?limit=1", &ada)
        .await
        .json()
        .await
        .unwrap();
    let foreign = threads["pagination"]["next_cursor"].as_str().unwrap();
    let error = problem(
        search(&app, Some(&ada), &[("q", "budget"), ("cursor", foreign)]).await,
        400,
    )
    .await;
    assert!(error["errors"]["cursor"].is_array(), "{error}");

    // A deleted message stops matching at once.
    assert_eq!(
        app.delete(&format!("/api/v1/messages/{strong}"), &ada)
            .await
            .status(),
        204
    );
    let after = hits(&app, &ada, &[("q", "final")]).await;
    assert!(after.is_empty(), "{after:?}");
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_field_and_any_text_is_a_valid_query() {
    let app = app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let long = "a".repeat(501);
    let cases: [(&[(&str, &str)], &str); 10] = [
        (&[], "q"),
        (&[("q", "")], "q"),
        (&[("q", "   ")], "q"),
        (&[("q", &long)], "q"),
        (&[("q", "x"), ("thread_id", "nope")], "thread_id"),
        (&[("q", "x"), ("role", "robot")], "role"),
        (&[("q", "x"), ("from", "yesterday")], "from"),
        (&[("q", "x"), ("to", "2026-13-01T00:00:00Z")], "to"),
        (
            &[
                ("q", "x"),
                ("from", "2026-02-01T00:00:00Z"),
                ("to", "2026-01-01T00:00:00Z"),
            ],
            "to",
        ),
        (&[("q", "x"), ("limit", "0")], "limit"),
    ];
    for (params, field) in cases {
        let error = problem(search(&app, Some(&ada), params).await, 400).await;
        assert!(error["errors"][field].is_array(), "{params:?}: {error}");
    }

    let thread = thread(&app, &ada, "Syntax").await;
    say(&app, &ada, &thread, "NEAR the col:val pair").await;
    for q in [
        "\"",
        "AND OR",
        "*",
        "col:val",
        "NEAR(",
        "'; DROP TABLE messages; --",
        "日本語 😀",
    ] {
        let response = search(&app, Some(&ada), &[("q", q)]).await;
        assert_eq!(response.status(), 200, "{q:?}");
    }
    assert_eq!(hits(&app, &ada, &[("q", "col:val")]).await.len(), 1);
}

#[tokio::test]
async fn filters_come_from_the_query_string() {
    let app = app().await;
    let (ada, _) = app.user("ada@acme.io", Role::Admin).await;
    noise(&app, &ada).await;
    let first = thread(&app, &ada, "Launch plan").await;
    let early = say(&app, &ada, &first, "launch window opens monday").await;
    let reply = post(
        &app,
        &ada,
        &first,
        json!({ "role": "ASSISTANT", "content": "The launch window is set" }),
    )
    .await;
    let reply_id = reply["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = thread(&app, &ada, "Retrospective").await;
    let late = post(
        &app,
        &ada,
        &second,
        json!({ "content": "the launch went well" }),
    )
    .await;
    let late_id = late["id"].as_str().unwrap().to_owned();
    let since = late["created_at"].as_str().unwrap();

    let all = hits(&app, &ada, &[("q", "launch")]).await;
    assert_eq!(ids(&all), set(&[&first, &early, &reply_id, &late_id]));

    let in_first = hits(&app, &ada, &[("q", "launch"), ("thread_id", &first)]).await;
    assert_eq!(ids(&in_first), set(&[&first, &early, &reply_id]));

    let assistant = hits(&app, &ada, &[("q", "launch"), ("role", "ASSISTANT")]).await;
    assert_eq!(ids(&assistant), set(&[&reply_id]));
    assert_eq!(assistant[0]["role"], "ASSISTANT");

    let recent = hits(&app, &ada, &[("q", "launch"), ("from", since)]).await;
    assert_eq!(ids(&recent), set(&[&late_id]), "from is inclusive");
    let older = hits(&app, &ada, &[("q", "launch"), ("to", since)]).await;
    assert_eq!(
        ids(&older),
        set(&[&first, &early, &reply_id]),
        "to is exclusive"
    );
}

#[tokio::test]
async fn search_needs_credentials() {
    let app = app().await;
    let error = problem(search(&app, None, &[("q", "anything")]).await, 401).await;
    assert!(error["detail"].is_string());
    problem(
        search(&app, Some("not-a-token"), &[("q", "anything")]).await,
        401,
    )
    .await;
}

#[tokio::test]
async fn hits_never_cross_orgs_or_memberships() {
    let app = app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (bob, bob_profile) = app.user("bob@acme.io", Role::Admin).await;
    let (carol, _) = app.user("carol@globex.io", Role::User).await;
    noise(&app, &ada).await;
    noise(&app, &carol).await;
    let acme = thread(&app, &ada, "Acme secrets").await;
    let acme_message = say(&app, &ada, &acme, "the secret sauce is paprika").await;
    let globex = thread(&app, &carol, "Globex secrets").await;
    let globex_message = say(&app, &carol, &globex, "our secret sauce is paprika").await;

    let mine = hits(&app, &ada, &[("q", "secret")]).await;
    assert_eq!(ids(&mine), set(&[&acme, &acme_message]));
    let theirs = hits(&app, &carol, &[("q", "secret")]).await;
    assert_eq!(ids(&theirs), set(&[&globex, &globex_message]));
    // Another org's thread id filters to nothing rather than leaking.
    assert!(
        hits(&app, &ada, &[("q", "secret"), ("thread_id", &globex)])
            .await
            .is_empty()
    );
    // An org admin who is not a member finds nothing, until invited.
    assert!(hits(&app, &bob, &[("q", "secret")]).await.is_empty());
    let invite = json!({ "user_id": bob_profile["id"] });
    data(
        app.post(&format!("/api/v1/threads/{acme}/members"), &ada, &invite)
            .await,
        201,
    )
    .await;
    assert_eq!(
        ids(&hits(&app, &bob, &[("q", "secret")]).await),
        set(&[&acme, &acme_message])
    );
}
