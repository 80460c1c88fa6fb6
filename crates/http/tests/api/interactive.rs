//! Interactive actions over HTTP: a `block_actions` payload on a message's
//! button is recorded with its event; unknown actions, bad payloads and
//! outsiders are refused; the thread's assistant answers with the action
//! in its prompt.

use serde_json::{Value, json};
use xl_domain::{Role, ThreadId};

use crate::helpers::{TestApp, data, fields, problem, spawn_app, spawn_app_with};

fn blocks() -> Value {
    json!([
        {"type": "section", "block_id": "ask", "text": {"type": "mrkdwn", "text": "Ship it?"},
         "accessory": {"type": "static_select", "action_id": "when",
            "placeholder": {"type": "plain_text", "text": "When"},
            "options": [{"text": {"type": "plain_text", "text": "Today"}, "value": "today"}]}},
        {"type": "actions", "block_id": "approval", "elements": [
            {"type": "button", "action_id": "approve", "value": "yes",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "checkboxes", "action_id": "regions", "options": [
                {"text": {"type": "plain_text", "text": "EU"}, "value": "eu"},
                {"text": {"type": "plain_text", "text": "US"}, "value": "us"}
            ]}
        ]}
    ])
}

/// A thread of `token`'s (auto-reply as given) with a message carrying
/// [`blocks`]: (thread, message).
async fn thread_with_buttons(app: &TestApp, token: &str, auto_reply: bool) -> (String, String) {
    let thread = data(
        app.post(
            "/api/v1/threads",
            token,
            &json!({ "title": "t", "auto_reply": auto_reply }),
        )
        .await,
        201,
    )
    .await;
    let thread = thread["id"].as_str().unwrap().to_owned();
    let posted = data(
        app.post(
            &format!("/api/v1/threads/{thread}/messages"),
            token,
            &json!({ "content": "Ship it?", "blocks": blocks() }),
        )
        .await,
        201,
    )
    .await;
    // With a reply the post answers both messages.
    let message = posted
        .get("userMessage")
        .unwrap_or(&posted)
        .get("id")
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    (thread, message)
}

fn press(message: &str, block: &str, action: &str) -> Value {
    json!({
        "type": "block_actions",
        "container": {"type": "message", "message_id": message},
        "actions": [{"action_id": action, "block_id": block, "type": "button", "value": "yes",
                     "action_ts": "1700000000.000100"}],
        "state": {"values": {}}
    })
}

async fn interact(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.post("/api/v1/interactive", token, body).await
}

async fn events(app: &TestApp, thread: &str) -> Vec<xl_domain::events::ThreadEvent> {
    let thread: ThreadId = thread.parse().unwrap();
    xl_store::repo::events::after(app.services.store.reader(), thread, 0, None, 100)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_action_is_recorded_with_its_event() {
    let app = spawn_app().await;
    let (ada, profile) = app.user("ada@acme.io", Role::User).await;
    let (thread, message) = thread_with_buttons(&app, &ada, false).await;

    let acted = data(
        interact(&app, &ada, &press(&message, "approval", "approve")).await,
        200,
    )
    .await;
    let action = &acted["actions"][0];
    assert_eq!(action["action_id"], "approve");
    assert_eq!(action["block_id"], "approval");
    assert_eq!(action["type"], "button");
    assert_eq!(action["message_id"], message.as_str());
    assert_eq!(action["thread_id"], thread.as_str());
    assert_eq!(action["user_id"], profile["id"]);
    assert_eq!(action["payload"]["action"]["value"], "yes");
    assert!(acted["reply"].is_null());

    let logged = events(&app, &thread).await;
    let last = logged.last().unwrap();
    assert_eq!(last.kind, "interactive.action");
    assert_eq!(last.message_id.unwrap().to_string(), message);
    assert_eq!(last.payload["action_id"], "approve");
    assert_eq!(last.payload["id"], action["id"]);

    // A select in a section's accessory is an action of that block too.
    let mut select = press(&message, "ask", "when");
    select["actions"][0] = json!({"action_id": "when", "block_id": "ask", "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "Today"}, "value": "today"}});
    data(interact(&app, &ada, &select).await, 200).await;
    let mut ticked = press(&message, "approval", "regions");
    ticked["actions"][0] = json!({"action_id": "regions", "block_id": "approval", "type": "checkboxes",
        "selected_options": [{"text": {"type": "plain_text", "text": "US"}, "value": "us"}]});
    data(interact(&app, &ada, &ticked).await, 200).await;
}

#[tokio::test]
async fn unknown_actions_bad_payloads_and_outsiders_are_refused() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (thread, message) = thread_with_buttons(&app, &ada, false).await;
    let before = events(&app, &thread).await.len();

    // The element must be inside the block named.
    problem(
        interact(&app, &ada, &press(&message, "approval", "reject")).await,
        404,
    )
    .await;
    problem(
        interact(&app, &ada, &press(&message, "ask", "approve")).await,
        404,
    )
    .await;
    problem(
        interact(&app, &ada, &press(&message, "nowhere", "approve")).await,
        404,
    )
    .await;
    let unknown_message = xl_domain::MessageId::new().to_string();
    problem(
        interact(&app, &ada, &press(&unknown_message, "approval", "approve")).await,
        404,
    )
    .await;

    // Every bad field is named.
    let mut bad = press(&message, "approval", "approve");
    bad["actions"][0]
        .as_object_mut()
        .unwrap()
        .remove("action_id");
    bad["actions"][0]["value"] = json!(7);
    let error = problem(interact(&app, &ada, &bad).await, 400).await;
    assert_eq!(fields(&error), ["actions[0].action_id", "actions[0].value"]);
    let mut bad = press(&message, "approval", "approve");
    bad["container"]["message_id"] = json!("m-1");
    let error = problem(interact(&app, &ada, &bad).await, 400).await;
    assert_eq!(fields(&error), ["container.message_id"]);
    let error = problem(
        interact(&app, &ada, &json!({"type": "view_submission"})).await,
        400,
    )
    .await;
    assert_eq!(fields(&error), ["actions", "container", "type"]);
    let mut wrong_type = press(&message, "approval", "approve");
    wrong_type["actions"][0]["type"] = json!("overflow");
    let error = problem(interact(&app, &ada, &wrong_type).await, 400).await;
    assert_eq!(fields(&error), ["actions[0].type"]);
    // What the action chose must be what the element offers: an option of
    // the select, options of the checkboxes, the button's own value.
    let mut forged = press(&message, "ask", "when");
    forged["actions"][0] = json!({"action_id": "when", "block_id": "ask", "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "Today"}, "value": "never"}});
    let error = problem(interact(&app, &ada, &forged).await, 400).await;
    assert_eq!(fields(&error), ["actions[0].selected_option.value"]);
    let mut forged = press(&message, "approval", "regions");
    forged["actions"][0] = json!({"action_id": "regions", "block_id": "approval", "type": "checkboxes",
        "selected_options": [{"value": "eu"}, {"value": "mars"}]});
    let error = problem(interact(&app, &ada, &forged).await, 400).await;
    assert_eq!(fields(&error), ["actions[0].selected_options[1].value"]);
    let mut forged = press(&message, "approval", "approve");
    forged["actions"][0]["value"] = json!("no");
    let error = problem(interact(&app, &ada, &forged).await, 400).await;
    assert_eq!(fields(&error), ["actions[0].value"]);
    let response = app
        .client
        .post(app.url("/api/v1/interactive"))
        .bearer_auth(&ada)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(response, 400).await;

    // Who may not write to the thread cannot act on its messages.
    let (eve, _) = app.user("eve@acme.io", Role::User).await;
    let (mallory, _) = app.user("admin@other.org", Role::Admin).await;
    for token in [&eve, &mallory] {
        problem(
            interact(&app, token, &press(&message, "approval", "approve")).await,
            404,
        )
        .await;
    }
    assert_eq!(
        events(&app, &thread).await.len(),
        before,
        "nothing was recorded"
    );

    // A member may; so may an admin of the org.
    let (bob, bob_profile) = app.user("bob@acme.io", Role::User).await;
    data(
        app.post(
            &format!("/api/v1/threads/{thread}/members"),
            &ada,
            &json!({"user_id": bob_profile["id"]}),
        )
        .await,
        201,
    )
    .await;
    let (boss, _) = app.user("boss@acme.io", Role::Admin).await;
    for token in [&bob, &boss] {
        data(
            interact(&app, token, &press(&message, "approval", "approve")).await,
            200,
        )
        .await;
    }
}

#[tokio::test]
async fn the_assistant_answers_an_action_with_it_in_its_prompt() {
    let app = spawn_app_with(|options| options.services.auto_completion_enabled = true).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (thread, message) = thread_with_buttons(&app, &ada, true).await;
    let leaf = data(
        app.get(&format!("/api/v1/threads/{thread}"), &ada).await,
        200,
    )
    .await["current_leaf_id"]
        .clone();

    let acted = data(
        interact(&app, &ada, &press(&message, "approval", "approve")).await,
        200,
    )
    .await;
    let reply = &acted["reply"];
    assert_eq!(reply["role"], "ASSISTANT");
    assert_eq!(reply["status"], "complete");
    // The echo provider repeats the newest user turn: the action's description.
    let text = reply["content"].as_str().unwrap();
    assert!(
        text.starts_with("Echo: [interactive action] ada@acme.io"),
        "{text}"
    );
    assert!(
        text.contains(
            "used the button \"Approve\" (action_id approve, block_id approval, value \"yes\")"
        ),
        "{text}"
    );
    // The reply continues the conversation where it was.
    assert_eq!(reply["parent_id"], leaf);
    let kinds: Vec<String> = events(&app, &thread)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    let at = kinds
        .iter()
        .position(|k| k == "interactive.action")
        .unwrap();
    assert_eq!(kinds[at + 1], "message.created");
    assert_eq!(kinds.last().unwrap(), "message.completed");

    // With the assistant off for the thread, nothing answers.
    data(
        app.put(
            &format!("/api/v1/threads/{thread}"),
            &ada,
            &json!({"auto_reply": false}),
        )
        .await,
        200,
    )
    .await;
    let acted = data(
        interact(&app, &ada, &press(&message, "approval", "approve")).await,
        200,
    )
    .await;
    assert!(acted["reply"].is_null());
}
