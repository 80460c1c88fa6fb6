//! Threads and messages over HTTP: wire shapes, rules, idempotency, fork,
//! export and import, and the access matrix.

use serde_json::{Value, json};
use xl_domain::Role;

use crate::helpers::{TestApp, data, problem, spawn_app};

async fn thread(app: &TestApp, token: &str, body: Value) -> Value {
    data(app.post("/api/v1/threads", token, &body).await, 201).await
}

async fn post(app: &TestApp, token: &str, thread: &str, body: Value) -> Value {
    data(
        app.post(&format!("/api/v1/threads/{thread}/messages"), token, &body)
            .await,
        201,
    )
    .await
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn threads_are_created_listed_filtered_updated_and_deleted_softly() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let created = thread(
        &app,
        &ada,
        json!({ "title": "Plans", "tags": ["Work", "q3"], "metadata": { "color": "blue" }, "system_prompt": "Be brief." }),
    )
    .await;
    assert_eq!(created["title"], "Plans");
    assert_eq!(created["tags"], json!(["work", "q3"]));
    assert_eq!(created["metadata"]["color"], "blue");
    assert_eq!(created["auto_reply"], true);
    let plans = id(&created);
    let other = id(&thread(&app, &ada, json!({ "title": "Other", "pinned": true })).await);

    let listed = data(app.get("/api/v1/threads", &ada).await, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["id"], other, "newest first");
    let tagged = data(app.get("/api/v1/threads?tag=WORK", &ada).await, 200).await;
    assert_eq!(tagged.as_array().unwrap().len(), 1);
    let pinned = data(app.get("/api/v1/threads?pinned=true", &ada).await, 200).await;
    assert_eq!(pinned[0]["id"], other);

    let updated = data(
        app.put(
            &format!("/api/v1/threads/{plans}"),
            &ada,
            &json!({ "archived": true, "description": "Q3", "tags": [] }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["archived"], true);
    assert_eq!(updated["tags"], json!([]));
    let live = data(app.get("/api/v1/threads", &ada).await, 200).await;
    assert_eq!(
        live.as_array().unwrap().len(),
        1,
        "archived threads are hidden by default"
    );
    let archived = data(app.get("/api/v1/threads?archived=true", &ada).await, 200).await;
    assert_eq!(archived[0]["id"], plans);

    assert_eq!(
        app.delete(&format!("/api/v1/threads/{plans}"), &ada)
            .await
            .status(),
        204
    );
    problem(
        app.get(&format!("/api/v1/threads/{plans}"), &ada).await,
        404,
    )
    .await;
    let deleted = data(
        app.get("/api/v1/threads?deleted=true&archived=true", &ada)
            .await,
        200,
    )
    .await;
    assert_eq!(deleted[0]["id"], plans);
    let restored = data(
        app.post(
            &format!("/api/v1/threads/{plans}/restore"),
            &ada,
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert!(restored["deleted_at"].is_null());
    data(
        app.get(&format!("/api/v1/threads/{plans}"), &ada).await,
        200,
    )
    .await;
}

#[tokio::test]
async fn bad_thread_input_is_named() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let deep = (0..12).fold(json!(1), |acc, _| json!({ "a": acc }));
    let cases = [
        (json!({ "title": "" }), "title"),
        (json!({ "metadata": [1, 2] }), "metadata"),
        (json!({ "metadata": deep }), "metadata"),
        (json!({ "tags": ["ok", "no/slash"] }), "tags[1]"),
        (json!({ "model": "x".repeat(101) }), "model"),
    ];
    for (body, field) in cases {
        let error = problem(app.post("/api/v1/threads", &ada, &body).await, 400).await;
        assert!(error["errors"][field].is_array(), "{field}: {error}");
    }
    let error = problem(
        app.post("/api/v1/threads", &ada, &json!({ "owner_id": "x" }))
            .await,
        422,
    )
    .await;
    assert!(error["errors"]["owner_id"].is_array());
    problem(app.get("/api/v1/threads/not-a-uuid", &ada).await, 400).await;
    problem(app.get("/api/v1/threads?pinned=maybe", &ada).await, 400).await;
}

#[tokio::test]
async fn the_first_user_message_titles_an_untitled_thread() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let untitled = id(&thread(&app, &ada, json!({})).await);
    let long = format!("How do I plan {} the quarter?", "really ".repeat(20));
    post(&app, &ada, &untitled, json!({ "content": long })).await;
    post(
        &app,
        &ada,
        &untitled,
        json!({ "content": "Second message" }),
    )
    .await;
    let fetched = data(
        app.get(&format!("/api/v1/threads/{untitled}"), &ada).await,
        200,
    )
    .await;
    let title = fetched["title"].as_str().unwrap();
    assert!(title.starts_with("How do I plan really"), "{title}");
    assert!(
        title.chars().count() <= 80 && title.ends_with('…'),
        "{title}"
    );
    assert_eq!(fetched["message_count"], 2);
}

#[tokio::test]
async fn messages_form_a_tree_and_list_the_current_branch() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = id(&thread(&app, &ada, json!({ "title": "Tree" })).await);
    let m1 = post(&app, &ada, &t, json!({ "content": "one" })).await;
    assert!(m1["parent_id"].is_null());
    let m2 = post(&app, &ada, &t, json!({ "content": "two" })).await;
    assert_eq!(
        m2["parent_id"], m1["id"],
        "default parent is the current leaf"
    );
    let m3 = post(&app, &ada, &t, json!({ "content": "three" })).await;
    // A new branch from m1.
    let alt = post(
        &app,
        &ada,
        &t,
        json!({ "content": "two-bis", "parent_id": m1["id"] }),
    )
    .await;
    assert_eq!(alt["parent_id"], m1["id"]);

    let branch = data(
        app.get(&format!("/api/v1/threads/{t}/messages"), &ada)
            .await,
        200,
    )
    .await;
    let contents: Vec<&str> = branch
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        vec!["two-bis", "one"],
        "the current branch, newest first"
    );
    let oldest_first = data(
        app.get(&format!("/api/v1/threads/{t}/messages?order=asc"), &ada)
            .await,
        200,
    )
    .await;
    assert_eq!(oldest_first[0]["content"], "one");
    let all = data(
        app.get(
            &format!("/api/v1/threads/{t}/messages?branch=all&order=asc"),
            &ada,
        )
        .await,
        200,
    )
    .await;
    let contents: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["one", "two", "three", "two-bis"]);
    let _ = m3;

    let error = problem(
        app.post(
            &format!("/api/v1/threads/{t}/messages"),
            &ada,
            &json!({ "content": "x", "parent_id": "00000000-0000-7000-8000-000000000000" }),
        )
        .await,
        400,
    )
    .await;
    assert!(error["errors"]["parent_id"].is_array());
}

#[tokio::test]
async fn branch_pagination_walks_back_page_by_page() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = id(&thread(&app, &ada, json!({ "title": "Long" })).await);
    for n in 0..7 {
        post(&app, &ada, &t, json!({ "content": format!("m{n}") })).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/threads/{t}/messages?limit=3&cursor={c}"),
            None => format!("/api/v1/threads/{t}/messages?limit=3"),
        };
        let body: Value = app.get(&path, &ada).await.json().await.unwrap();
        for m in body["data"].as_array().unwrap() {
            seen.push(m["content"].as_str().unwrap().to_owned());
        }
        if body["pagination"]["has_more"] == false {
            assert!(body["pagination"]["next_cursor"].is_null());
            break;
        }
        cursor = Some(
            body["pagination"]["next_cursor"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(seen, vec!["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);
    problem(
        app.get(&format!("/api/v1/threads/{t}/messages?cursor=%%%"), &ada)
            .await,
        400,
    )
    .await;
}

#[tokio::test]
async fn blocks_are_validated_with_the_path_named() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = id(&thread(&app, &ada, json!({ "title": "Blocks" })).await);
    let ok = post(
        &app,
        &ada,
        &t,
        json!({ "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": "*hi*" } }] }),
    )
    .await;
    assert_eq!(ok["blocks"][0]["type"], "section");
    let bad = json!({ "content": "x", "blocks": [
        { "type": "divider" },
        { "type": "divider" },
        { "type": "divider" },
        { "type": "actions", "elements": [{ "type": "button", "text": { "type": "plain_text", "text": "x".repeat(76) }, "action_id": "a" }] }
    ] });
    let error = problem(
        app.post(&format!("/api/v1/threads/{t}/messages"), &ada, &bad)
            .await,
        400,
    )
    .await;
    assert!(
        error["errors"]["blocks[3].elements[0].text"].is_array(),
        "{error}"
    );
    let error = problem(
        app.post(&format!("/api/v1/threads/{t}/messages"), &ada, &json!({}))
            .await,
        400,
    )
    .await;
    assert!(error["errors"]["content"].is_array());
    // Past the server's JSON limit (16 KiB in tests) the body is refused whole.
    let error = problem(
        app.post(
            &format!("/api/v1/threads/{t}/messages"),
            &ada,
            &json!({ "content": "x".repeat(100_001) }),
        )
        .await,
        413,
    )
    .await;
    assert!(
        error["type"]
            .as_str()
            .unwrap()
            .ends_with("/payload-too-large")
    );
}

#[tokio::test]
async fn users_post_only_as_user_and_admins_may_post_other_roles() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = id(&thread(&app, &ada, json!({ "title": "Roles" })).await);
    let error = problem(
        app.post(
            &format!("/api/v1/threads/{t}/messages"),
            &ada,
            &json!({ "role": "ASSISTANT", "content": "fake" }),
        )
        .await,
        400,
    )
    .await;
    assert!(error["errors"]["role"].is_array());
    let (admin, _) = app.user("admin@acme.io", Role::Admin).await;
    let posted = post(
        &app,
        &admin,
        &t,
        json!({ "role": "SYSTEM", "content": "Be kind." }),
    )
    .await;
    assert_eq!(posted["role"], "SYSTEM");
}

#[tokio::test]
async fn edits_keep_history_and_deletes_leave_tombstones() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (bob, bob_profile) = app.user("bob@acme.io", Role::User).await;
    let t = id(&thread(&app, &ada, json!({ "title": "Edits" })).await);
    app.post(
        &format!("/api/v1/threads/{t}/members"),
        &ada,
        &json!({ "user_id": bob_profile["id"] }),
    )
    .await;
    let first = post(&app, &ada, &t, json!({ "content": "frist" })).await;
    let reply = post(&app, &ada, &t, json!({ "content": "reply" })).await;
    let m = id(&first);

    let edited = data(
        app.put(
            &format!("/api/v1/messages/{m}"),
            &ada,
            &json!({ "content": "first" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(edited["content"], "first");
    assert!(!edited["edited_at"].is_null());
    let revisions = data(
        app.get(&format!("/api/v1/messages/{m}/revisions"), &ada)
            .await,
        200,
    )
    .await;
    assert_eq!(revisions[0]["content"], "frist");

    // Bob is a member but not the author.
    problem(
        app.put(
            &format!("/api/v1/messages/{m}"),
            &bob,
            &json!({ "content": "hacked" }),
        )
        .await,
        403,
    )
    .await;
    problem(
        app.delete(&format!("/api/v1/messages/{m}"), &bob).await,
        403,
    )
    .await;

    assert_eq!(
        app.delete(&format!("/api/v1/messages/{m}"), &ada)
            .await
            .status(),
        204
    );
    let tombstone = data(app.get(&format!("/api/v1/messages/{m}"), &ada).await, 200).await;
    assert_eq!(tombstone["content"], "");
    assert!(!tombstone["deleted_at"].is_null());
    let revisions = data(
        app.get(&format!("/api/v1/messages/{m}/revisions"), &ada)
            .await,
        200,
    )
    .await;
    assert_eq!(revisions, json!([]), "history goes with the text");
    // The tree is whole: the reply still names its parent and the branch lists both.
    let branch = data(
        app.get(&format!("/api/v1/threads/{t}/messages?order=asc"), &ada)
            .await,
        200,
    )
    .await;
    assert_eq!(branch.as_array().unwrap().len(), 2);
    assert_eq!(branch[1]["id"], reply["id"]);
    assert_eq!(branch[1]["parent_id"], first["id"]);
    problem(
        app.put(
            &format!("/api/v1/messages/{m}"),
            &ada,
            &json!({ "content": "again" }),
        )
        .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_response_and_refuse_a_different_body() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = id(&thread(&app, &ada, json!({ "title": "Idem" })).await);
    let path = format!("/api/v1/threads/{t}/messages");
    let send = |body: Value, key: &'static str| {
        let request = app
            .client
            .post(app.url(&path))
            .bearer_auth(&ada)
            .header("idempotency-key", key)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let first = send(json!({ "content": "once" }), "key-1").await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = data(first, 201).await;
    let again = send(json!({ "content": "once" }), "key-1").await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = data(again, 201).await;
    assert_eq!(again, first, "the same message comes back");
    let all = data(app.get(&format!("{path}?branch=all"), &ada).await, 200).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "nothing was written twice"
    );

    let error = problem(send(json!({ "content": "different" }), "key-1").await, 422).await;
    assert!(error["errors"]["Idempotency-Key"].is_array());
    // The query string is part of the request: another reply mode is another request.
    let other_mode = app
        .client
        .post(app.url(&format!("{path}?reply=stream")))
        .bearer_auth(&ada)
        .header("idempotency-key", "key-1")
        .json(&json!({ "content": "once" }))
        .send()
        .await
        .unwrap();
    problem(other_mode, 422).await;
    // A failed request does not burn its key.
    let failed = send(json!({}), "key-2").await;
    assert_eq!(failed.status(), 400);
    let retried = send(json!({ "content": "fixed" }), "key-2").await;
    assert_eq!(retried.status(), 201);
}

#[tokio::test]
async fn fork_export_and_import_round_trip() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = id(&thread(
        &app,
        &ada,
        json!({ "title": "Source", "system_prompt": "Be brief.", "tags": ["x"] }),
    )
    .await);
    let m1 = post(
        &app,
        &ada,
        &t,
        json!({ "content": "one", "metadata": { "k": 1 } }),
    )
    .await;
    let m2 = post(
        &app,
        &ada,
        &t,
        json!({ "content": "two", "blocks": [{ "type": "divider" }] }),
    )
    .await;
    post(&app, &ada, &t, json!({ "content": "three" })).await;
    post(
        &app,
        &ada,
        &t,
        json!({ "content": "alt", "parent_id": m1["id"] }),
    )
    .await;

    let fork = data(
        app.post(
            &format!("/api/v1/threads/{t}/fork"),
            &ada,
            &json!({ "message_id": m2["id"] }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(fork["title"], "Fork of Source");
    assert_eq!(fork["system_prompt"], "Be brief.");
    let forked = data(
        app.get(
            &format!("/api/v1/threads/{}/messages?order=asc", id(&fork)),
            &ada,
        )
        .await,
        200,
    )
    .await;
    let contents: Vec<&str> = forked
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, vec!["one", "two"]);
    assert_ne!(forked[0]["id"], m1["id"], "copies have their own ids");

    let export = data(
        app.get(&format!("/api/v1/threads/{t}/export"), &ada).await,
        200,
    )
    .await;
    assert_eq!(export["format"], "experience-layer.thread.v1");
    assert_eq!(export["messages"].as_array().unwrap().len(), 4);
    let imported = data(app.post("/api/v1/threads/import", &ada, &export).await, 201).await;
    assert_eq!(imported["title"], "Source");
    assert_eq!(imported["tags"], json!(["x"]));
    let reexport = data(
        app.get(&format!("/api/v1/threads/{}/export", id(&imported)), &ada)
            .await,
        200,
    )
    .await;
    let shape = |e: &Value| -> Vec<(String, String, Option<usize>)> {
        let msgs = e["messages"].as_array().unwrap();
        let index = |id: &Value| msgs.iter().position(|m| &m["id"] == id);
        msgs.iter()
            .map(|m| {
                (
                    m["role"].to_string(),
                    m["content"].to_string(),
                    index(&m["parent_id"]),
                )
            })
            .collect()
    };
    assert_eq!(shape(&reexport), shape(&export), "the tree round-trips");
    let leaf = |e: &Value| {
        let msgs = e["messages"].as_array().unwrap();
        msgs.iter().position(|m| m["id"] == e["current_leaf_id"])
    };
    assert_eq!(
        leaf(&reexport),
        leaf(&export),
        "the current branch round-trips"
    );
    assert_eq!(reexport["messages"][0]["metadata"]["k"], json!(1));
    assert_eq!(
        reexport["messages"][1]["blocks"],
        json!([{ "type": "divider" }])
    );

    let markdown = app
        .get(&format!("/api/v1/threads/{t}/export?format=markdown"), &ada)
        .await;
    assert!(
        markdown.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let text = markdown.text().await.unwrap();
    assert!(text.starts_with("# Source"));
    assert!(
        text.contains("alt") && !text.contains("three"),
        "markdown follows the current branch"
    );

    let mut broken = export.clone();
    broken["messages"][1]["parent_id"] = json!("nowhere");
    let error = problem(app.post("/api/v1/threads/import", &ada, &broken).await, 400).await;
    assert!(
        error["errors"]["messages[1].parent_id"].is_array(),
        "{error}"
    );
}

/// Every thread, message and member endpoint, tried by a non-member of the
/// same org, a user of another org, and an admin of another org: all 404.
/// The same org's admin (not a member) is let in.
#[tokio::test]
async fn no_thread_or_message_endpoint_crosses_a_boundary() {
    let app = spawn_app().await;
    let (owner, _) = app.user("owner@acme.io", Role::User).await;
    let (outsider, outsider_profile) = app.user("outsider@acme.io", Role::User).await;
    let (acme_admin, _) = app.user("admin@acme.io", Role::Admin).await;
    let (rival, _) = app.user("user@globex.com", Role::User).await;
    let (rival_admin, _) = app.user("admin@globex.com", Role::Admin).await;
    let t = id(&thread(&app, &owner, json!({ "title": "Secret" })).await);
    let m = id(&post(&app, &owner, &t, json!({ "content": "secret" })).await);
    let outsider_id = outsider_profile["id"].as_str().unwrap().to_owned();

    let attempts: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/v1/threads/{t}"), None),
        (
            "PUT",
            format!("/api/v1/threads/{t}"),
            Some(json!({ "title": "pwned" })),
        ),
        ("DELETE", format!("/api/v1/threads/{t}"), None),
        (
            "POST",
            format!("/api/v1/threads/{t}/restore"),
            Some(json!({})),
        ),
        ("GET", format!("/api/v1/threads/{t}/members"), None),
        (
            "POST",
            format!("/api/v1/threads/{t}/members"),
            Some(json!({ "user_id": outsider_id })),
        ),
        ("GET", format!("/api/v1/threads/{t}/messages"), None),
        (
            "POST",
            format!("/api/v1/threads/{t}/messages"),
            Some(json!({ "content": "hi" })),
        ),
        (
            "POST",
            format!("/api/v1/threads/{t}/fork"),
            Some(json!({ "message_id": m })),
        ),
        ("GET", format!("/api/v1/threads/{t}/export"), None),
        ("GET", format!("/api/v1/messages/{m}"), None),
        (
            "PUT",
            format!("/api/v1/messages/{m}"),
            Some(json!({ "content": "pwned" })),
        ),
        ("DELETE", format!("/api/v1/messages/{m}"), None),
        ("GET", format!("/api/v1/messages/{m}/revisions"), None),
    ];
    for (who, token) in [
        ("non-member", &outsider),
        ("other org", &rival),
        ("other org admin", &rival_admin),
    ] {
        for (method, path, body) in &attempts {
            let response = match (*method, body) {
                ("GET", _) => app.get(path, token).await,
                ("DELETE", _) => app.delete(path, token).await,
                ("PUT", Some(b)) => app.put(path, token, b).await,
                (_, Some(b)) => app.post(path, token, b).await,
                _ => unreachable!(),
            };
            let status = response.status().as_u16();
            assert_eq!(status, 404, "{who}: {method} {path} gave {status}");
        }
        let listed = data(app.get("/api/v1/threads", token).await, 200).await;
        assert!(
            listed.as_array().unwrap().is_empty(),
            "{who} lists no threads"
        );
    }
    // Nothing changed.
    let fetched = data(app.get(&format!("/api/v1/threads/{t}"), &owner).await, 200).await;
    assert_eq!(fetched["title"], "Secret");
    let message = data(app.get(&format!("/api/v1/messages/{m}"), &owner).await, 200).await;
    assert_eq!(message["content"], "secret");

    // The org's admin may read and moderate without being a member.
    data(
        app.get(&format!("/api/v1/threads/{t}/messages"), &acme_admin)
            .await,
        200,
    )
    .await;
    data(
        app.get(&format!("/api/v1/messages/{m}"), &acme_admin).await,
        200,
    )
    .await;

    // Once invited, the outsider can read and post but not manage.
    app.post(
        &format!("/api/v1/threads/{t}/members"),
        &owner,
        &json!({ "user_id": outsider_id }),
    )
    .await;
    data(
        app.get(&format!("/api/v1/threads/{t}/messages"), &outsider)
            .await,
        200,
    )
    .await;
    post(&app, &outsider, &t, json!({ "content": "hello" })).await;
    problem(
        app.put(
            &format!("/api/v1/threads/{t}"),
            &outsider,
            &json!({ "title": "mine" }),
        )
        .await,
        403,
    )
    .await;
    problem(
        app.delete(&format!("/api/v1/threads/{t}"), &outsider).await,
        403,
    )
    .await;
    // Members can leave; the owner cannot be removed.
    let owner_id = data(app.get("/api/v1/users/me", &owner).await, 200).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    problem(
        app.delete(
            &format!("/api/v1/threads/{t}/members/{owner_id}"),
            &acme_admin,
        )
        .await,
        409,
    )
    .await;
    assert_eq!(
        app.delete(
            &format!("/api/v1/threads/{t}/members/{outsider_id}"),
            &outsider
        )
        .await
        .status(),
        204
    );
    problem(
        app.get(&format!("/api/v1/threads/{t}/messages"), &outsider)
            .await,
        404,
    )
    .await;
    // A user of another org cannot be invited.
    let rival_id = data(app.get("/api/v1/users/me", &rival).await, 200).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    problem(
        app.post(
            &format!("/api/v1/threads/{t}/members"),
            &owner,
            &json!({ "user_id": rival_id }),
        )
        .await,
        404,
    )
    .await;
}
