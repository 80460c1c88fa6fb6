//! The Responses and Conversations APIs over HTTP: responses whole,
//! streamed as typed events and resumed with `starting_after`, chained,
//! in a conversation, with function tools against a mock upstream,
//! cancelled, unstored; conversations and their items; the same data seen
//! through the thread API; and every boundary between users and orgs.

use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::{Value, json};
use xl_domain::Role;
use xl_llm::{ChatProvider, EchoConfig, EchoProvider};

use crate::helpers::{TestApp, data, spawn_app_with};
use crate::mock_upstream::{Mock, Reply, Step, chunk, text, usage_chunk};

async fn app_with(llm: Option<Arc<dyn ChatProvider>>) -> TestApp {
    spawn_app_with(move |options| {
        options.llm = llm;
        options.services.default_model = "echo".into();
        options.services.auto_completion_enabled = false;
    })
    .await
}

/// Echo, pacing each word by `pace`.
async fn echo_app(pace: Duration) -> TestApp {
    let echo = EchoProvider::new(EchoConfig {
        pace,
        models: vec!["echo".into()],
    });
    app_with(Some(Arc::new(echo))).await
}

async fn mock_app(mock: &Mock) -> TestApp {
    let provider = mock.provider_with(|config| config.name = "openai".into());
    app_with(Some(Arc::new(provider))).await
}

async fn post(app: &TestApp, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = app.post(&format!("/api/v1{path}"), token, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let response = app.get(&format!("/api/v1{path}"), token).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The text of a response's message items.
fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().unwrap().clone())
        .map(|part| part["text"].as_str().unwrap().to_owned())
        .collect()
}

/// A response's typed events, read to the end of the stream.
async fn typed_events(response: reqwest::Response) -> Vec<Value> {
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut events = response.bytes_stream().eventsource();
    let mut out = Vec::new();
    while let Some(event) = events.next().await {
        let event = event.unwrap();
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["type"], event.event, "the event line names the type");
        out.push(data);
    }
    out
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The thread behind a conversation or response id.
fn uuid_of(prefixed: &str) -> String {
    let hex = prefixed.split_once('_').unwrap().1;
    uuid::Uuid::parse_str(hex).unwrap().to_string()
}

#[tokio::test]
async fn a_response_is_a_reply_in_a_thread_the_thread_api_reads() {
    let app = echo_app(Duration::ZERO).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let (status, response) = post(
        &app,
        &token,
        "/responses",
        &json!({"input": "hello there", "metadata": {"k": "v"}, "instructions": "be brief"}),
    )
    .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["object"], "response");
    assert!(response["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(response["status"], "completed");
    assert_eq!(output_text(&response), "Echo: hello there");
    assert!(response["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(response["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert_eq!(response["metadata"], json!({"k": "v"}));
    assert_eq!(response["instructions"], "be brief");

    // The same response read back, and as a thread's messages.
    let id = response["id"].as_str().unwrap();
    let (status, again) = get(&app, &token, &format!("/responses/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(again["output"], response["output"]);
    let (_, threads) = get(&app, &token, "/threads").await;
    let thread = &threads["data"][0];
    assert_eq!(thread["title"], "hello there", "titled from the input");
    let messages = data(
        app.get(
            &format!(
                "/api/v1/threads/{}/messages?order=asc",
                thread["id"].as_str().unwrap()
            ),
            &token,
        )
        .await,
        200,
    )
    .await;
    let texts: Vec<&str> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello there", "Echo: hello there"]);
    assert_eq!(messages[1]["id"].as_str().unwrap(), uuid_of(id));

    // input_items names the input.
    let (_, input) = get(&app, &token, &format!("/responses/{id}/input_items")).await;
    assert_eq!(input["object"], "list");
    assert_eq!(input["data"][0]["role"], "user");
    assert_eq!(input["data"][0]["content"][0]["text"], "hello there");
}

#[tokio::test]
async fn a_streamed_response_is_numbered_and_resumes_without_gap_or_duplicate() {
    let app = echo_app(Duration::from_millis(2)).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let response = app
        .post(
            "/api/v1/responses",
            &token,
            &json!({"input": "one two three four five", "stream": true}),
        )
        .await;
    let events = typed_events(response).await;
    let numbers: Vec<i64> = events
        .iter()
        .map(|e| e["sequence_number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, (0..events.len() as i64).collect::<Vec<_>>());
    let kinds = kinds(&events);
    assert_eq!(
        kinds[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(
        kinds[kinds.len() - 4..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "Echo: one two three four five");
    let done = events.last().unwrap();
    assert_eq!(output_text(&done["response"]), deltas);

    // Resumed after any event, the stream goes on with exactly the rest.
    let id = done["response"]["id"].as_str().unwrap();
    for after in [0, 3, events.len() as i64 - 2] {
        let resumed = typed_events(
            app.get(
                &format!("/api/v1/responses/{id}?stream=true&starting_after={after}"),
                &token,
            )
            .await,
        )
        .await;
        assert_eq!(resumed, events[after as usize + 1..], "after {after}");
    }
    // A stored response that ended streams whole from the start, too.
    let replayed = typed_events(
        app.get(&format!("/api/v1/responses/{id}?stream=true"), &token)
            .await,
    )
    .await;
    assert_eq!(replayed, events);
}

/// The first `n` typed events of a stream, leaving the rest unread (the
/// connection is dropped with the stream).
async fn first_typed_events(response: reqwest::Response, n: usize) -> Vec<Value> {
    assert_eq!(response.status(), 200);
    let mut events = response.bytes_stream().eventsource();
    let mut out = Vec::new();
    while out.len() < n {
        let event = events.next().await.unwrap().unwrap();
        out.push(serde_json::from_str(&event.data).unwrap());
    }
    out
}

#[tokio::test]
async fn a_stream_resumed_while_the_reply_is_written_continues_where_it_dropped() {
    // Slow enough that the reply is still being generated on resuming.
    let app = echo_app(Duration::from_millis(40)).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let words = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
    let response = app
        .post(
            "/api/v1/responses",
            &token,
            &json!({"input": words, "stream": true}),
        )
        .await;
    // response.created, in_progress, item and part added, two deltas.
    let head = first_typed_events(response, 6).await;
    let id = head[0]["response"]["id"].as_str().unwrap().to_owned();
    let resumed = typed_events(
        app.get(
            &format!("/api/v1/responses/{id}?stream=true&starting_after=5"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(resumed[0]["sequence_number"], 6, "no gap, no duplicate");
    assert_eq!(resumed.last().unwrap()["type"], "response.completed");
    let whole: Vec<Value> = head.iter().chain(&resumed).cloned().collect();
    let text: String = whole
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, format!("Echo: {words}"));
    // Numbered as the log numbers them: the replay after the end is the same.
    let replayed = typed_events(
        app.get(&format!("/api/v1/responses/{id}?stream=true"), &token)
            .await,
    )
    .await;
    assert_eq!(replayed, whole);
}

#[tokio::test]
async fn chaining_and_conversations_send_the_history_upstream() {
    let mock = Mock::start(|n, _| {
        Reply::Sse(vec![
            text(&format!("reply {n}")),
            chunk(json!({}), Some("stop")),
            usage_chunk(5, 2),
            Step::Raw("[DONE]"),
        ])
    })
    .await;
    let app = mock_app(&mock).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let (_, first) = post(
        &app,
        &token,
        "/responses",
        &json!({"input": "my name is Ann"}),
    )
    .await;
    assert_eq!(first["status"], "completed", "{first}");
    let (_, second) = post(
        &app,
        &token,
        "/responses",
        &json!({"input": "what is my name?", "previous_response_id": first["id"]}),
    )
    .await;
    assert_eq!(second["previous_response_id"], first["id"]);
    let sent = mock.seen().last().unwrap().body["messages"].clone();
    let texts: Vec<(&str, &str)> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        texts,
        [
            ("user", "my name is Ann"),
            ("assistant", "reply 0"),
            ("user", "what is my name?")
        ]
    );

    // A conversation: items added, then a response in it.
    let (status, conversation) = post(
        &app,
        &token,
        "/conversations",
        &json!({"items": [{"role": "system", "content": "speak French"}], "metadata": {"topic": "names"}}),
    )
    .await;
    assert_eq!(status, 200, "{conversation}");
    let conv = conversation["id"].as_str().unwrap();
    assert!(conv.starts_with("conv_"));
    let (status, added) = post(
        &app,
        &token,
        &format!("/conversations/{conv}/items"),
        &json!({"items": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "I am Bea"}]}]}),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["data"][0]["content"][0]["text"], "I am Bea");
    let (_, third) = post(
        &app,
        &token,
        "/responses",
        &json!({"input": "who am I?", "conversation": conv, "instructions": "answer in one word"}),
    )
    .await;
    assert_eq!(third["conversation"]["id"], conv);
    let sent = mock.seen().last().unwrap().body["messages"].clone();
    let roles: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    // The instructions replace the system prompt; the conversation's own
    // system item stays in its place.
    assert_eq!(roles, ["system", "system", "user", "user"]);
    assert_eq!(sent[0]["content"], "answer in one word");
    assert_eq!(sent[1]["content"], "speak French");

    // The conversation's items, both orders, paged.
    let (_, items) = get(
        &app,
        &token,
        &format!("/conversations/{conv}/items?order=asc"),
    )
    .await;
    let types: Vec<(&str, &str)> = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["type"].as_str().unwrap(), i["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        types,
        [
            ("message", "system"),
            ("message", "user"),
            ("message", "user"),
            ("message", "assistant")
        ]
    );
    let (_, page) = get(
        &app,
        &token,
        &format!("/conversations/{conv}/items?limit=2"),
    )
    .await;
    assert_eq!(page["has_more"], true);
    assert_eq!(page["data"][0]["role"], "assistant");
    let last = page["last_id"].as_str().unwrap();
    let (_, rest) = get(
        &app,
        &token,
        &format!("/conversations/{conv}/items?limit=2&after={last}"),
    )
    .await;
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["data"][1]["role"], "system");

    // One item read and deleted; metadata changed; the conversation deleted.
    let item = added["data"][0]["id"].as_str().unwrap();
    let (status, one) = get(&app, &token, &format!("/conversations/{conv}/items/{item}")).await;
    assert_eq!((status, one["id"].as_str()), (200, Some(item)));
    let response = app
        .delete(
            &format!("/api/v1/conversations/{conv}/items/{item}"),
            &token,
        )
        .await;
    assert_eq!(response.status(), 200);
    let (status, _) = get(&app, &token, &format!("/conversations/{conv}/items/{item}")).await;
    assert_eq!(status, 404);
    let (_, updated) = post(
        &app,
        &token,
        &format!("/conversations/{conv}"),
        &json!({"metadata": {"topic": "other"}}),
    )
    .await;
    assert_eq!(updated["metadata"], json!({"topic": "other"}));
    let (_, thread) = get(&app, &token, &format!("/threads/{}", uuid_of(conv))).await;
    assert_eq!(thread["data"]["metadata"], json!({"topic": "other"}));
    let response = app
        .delete(&format!("/api/v1/conversations/{conv}"), &token)
        .await;
    let deleted: Value = response.json().await.unwrap();
    assert_eq!(deleted["deleted"], true);
    let (status, _) = get(&app, &token, &format!("/conversations/{conv}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_function_tool_round_trip_streams_its_call_and_sends_its_output() {
    let mock = Mock::start(|_, seen| {
        let messages = seen.body["messages"].as_array().unwrap();
        let last = messages.last().unwrap();
        if last["role"] == "tool" {
            let said = format!("It is {}", last["content"].as_str().unwrap());
            return Reply::Sse(vec![
                text(&said),
                chunk(json!({}), Some("stop")),
                Step::Raw("[DONE]"),
            ]);
        }
        Reply::Sse(vec![
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": ""}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                None,
            ),
            chunk(json!({}), Some("tool_calls")),
            Step::Raw("[DONE]"),
        ])
    })
    .await;
    let app = mock_app(&mock).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let tools = json!([{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let events = typed_events(
        app.post(
            "/api/v1/responses",
            &token,
            &json!({"input": "weather in Paris?", "tools": tools, "tool_choice": "auto", "stream": true}),
        )
        .await,
    )
    .await;
    assert_eq!(
        kinds(&events)[2..],
        [
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let call = &events[4];
    assert_eq!(call["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(call["name"], "get_weather");
    let done = &events.last().unwrap()["response"];
    assert_eq!(done["output"][0]["type"], "function_call");
    assert_eq!(done["output"][0]["call_id"], "call_1");
    assert_eq!(done["tools"], tools, "the tools are echoed as sent");
    let sent = mock.seen()[0].body.clone();
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(sent["tool_choice"], "auto");

    let (status, answer) = post(
        &app,
        &token,
        "/responses",
        &json!({
            "previous_response_id": done["id"],
            "input": [{"type": "function_call_output", "call_id": "call_1", "output": "sunny"}],
            "tools": tools
        }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(output_text(&answer), "It is sunny");
    let sent = mock.seen()[1].body["messages"].clone();
    assert_eq!(sent[1]["role"], "assistant");
    assert_eq!(sent[1]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        sent[1]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    assert_eq!(
        sent[2],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "sunny"})
    );

    // In the conversation, the call and its output are items of their own.
    assert_eq!(
        done["conversation"],
        Value::Null,
        "no conversation was named"
    );
    let (_, threads) = get(&app, &token, "/threads").await;
    let thread = uuid::Uuid::parse_str(threads["data"][0]["id"].as_str().unwrap()).unwrap();
    let (_, items) = get(
        &app,
        &token,
        &format!("/conversations/conv_{}/items?order=asc", thread.simple()),
    )
    .await;
    let types: Vec<&str> = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "message",
            "function_call",
            "function_call_output",
            "message"
        ]
    );
}

#[tokio::test]
async fn a_background_response_can_be_cancelled_and_an_unstored_one_is_not_kept() {
    let app = echo_app(Duration::from_millis(200)).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let (status, started) = post(
        &app,
        &token,
        "/responses",
        &json!({"input": "a b c d e f g h i j k l", "background": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(started["status"], "in_progress");
    assert_eq!(started["background"], true);
    let id = started["id"].as_str().unwrap();
    let (status, cancelled) =
        post(&app, &token, &format!("/responses/{id}/cancel"), &json!({})).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let (_, again) = get(&app, &token, &format!("/responses/{id}")).await;
    assert_eq!(again["status"], "cancelled");

    // store: false answers and keeps nothing.
    let app = echo_app(Duration::ZERO).await;
    let (token, _) = app.user("bob@example.com", Role::User).await;
    let (status, unstored) = post(
        &app,
        &token,
        "/responses",
        &json!({"input": "keep nothing", "store": false}),
    )
    .await;
    assert_eq!(status, 200, "{unstored}");
    assert_eq!(output_text(&unstored), "Echo: keep nothing");
    assert_eq!(unstored["store"], false);
    let (status, _) = get(
        &app,
        &token,
        &format!("/responses/{}", unstored["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 404);
    let (_, threads) = get(&app, &token, "/threads").await;
    assert_eq!(threads["data"], json!([]));
    let events = typed_events(
        app.post(
            "/api/v1/responses",
            &token,
            &json!({"input": "streamed", "store": false, "stream": true}),
        )
        .await,
    )
    .await;
    assert_eq!(events.last().unwrap()["type"], "response.completed");
    assert_eq!(
        output_text(&events.last().unwrap()["response"]),
        "Echo: streamed"
    );
}

#[tokio::test]
async fn nobody_outside_a_conversation_reaches_it_or_its_responses() {
    let app = echo_app(Duration::ZERO).await;
    let (owner, _) = app.user("ada@example.com", Role::User).await;
    let (colleague, _) = app.user("cy@example.com", Role::User).await;
    let (stranger, _) = app.user("eve@other.test", Role::User).await;
    let (other_admin, _) = app.user("root@other.test", Role::Admin).await;
    let (_, response) = post(&app, &owner, "/responses", &json!({"input": "secret"})).await;
    let resp = response["id"].as_str().unwrap().to_owned();
    let (_, conversation) = post(
        &app,
        &owner,
        "/conversations",
        &json!({"items": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let conv = conversation["id"].as_str().unwrap().to_owned();
    let (_, items) = get(&app, &owner, &format!("/conversations/{conv}/items")).await;
    let item = items["data"][0]["id"].as_str().unwrap().to_owned();
    for token in [&colleague, &stranger, &other_admin] {
        for path in [
            format!("/responses/{resp}"),
            format!("/responses/{resp}/input_items"),
            format!("/responses/{resp}?stream=true"),
            format!("/conversations/{conv}"),
            format!("/conversations/{conv}/items"),
            format!("/conversations/{conv}/items/{item}"),
        ] {
            let (status, body) = get(&app, token, &path).await;
            assert_eq!(status, 404, "{path}: {body}");
            assert_eq!(body["error"]["type"], "not_found_error", "{path}");
        }
        for (path, body) in [
            (format!("/responses/{resp}/cancel"), json!({})),
            (
                format!("/conversations/{conv}"),
                json!({"metadata": {"a": "b"}}),
            ),
            (
                format!("/conversations/{conv}/items"),
                json!({"items": [{"role": "user", "content": "hi"}]}),
            ),
            (
                "/responses".to_owned(),
                json!({"input": "x", "previous_response_id": resp}),
            ),
            (
                "/responses".to_owned(),
                json!({"input": "x", "conversation": conv}),
            ),
            (
                "/responses".to_owned(),
                json!({"input": "x", "conversation": conv, "store": false}),
            ),
            // A streamed response is checked before its stream starts.
            (
                "/responses".to_owned(),
                json!({"input": "x", "previous_response_id": resp, "stream": true}),
            ),
            (
                "/responses".to_owned(),
                json!({"input": "x", "conversation": conv, "stream": true}),
            ),
        ] {
            let (status, answer) = post(&app, token, &path, &body).await;
            assert_eq!(status, 404, "{path} {body}: {answer}");
        }
        for path in [
            format!("/api/v1/responses/{resp}"),
            format!("/api/v1/conversations/{conv}"),
            format!("/api/v1/conversations/{conv}/items/{item}"),
        ] {
            assert_eq!(app.delete(&path, token).await.status(), 404, "{path}");
        }
    }
    // Still there for the owner.
    let (status, _) = get(&app, &owner, &format!("/responses/{resp}")).await;
    assert_eq!(status, 200);
    let (status, _) = get(&app, &owner, &format!("/conversations/{conv}/items/{item}")).await;
    assert_eq!(status, 200);

    // A member of a shared thread may add user messages, but not put words
    // in the assistant's mouth.
    let (_, cy) = app.user("cy@example.com", Role::User).await;
    let thread = uuid_of(&conv);
    let response = app
        .post(
            &format!("/api/v1/threads/{thread}/members"),
            &owner,
            &json!({"user_id": cy["id"]}),
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    let (status, _) = post(
        &app,
        &colleague,
        &format!("/conversations/{conv}/items"),
        &json!({"items": [{"role": "user", "content": "hello"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, refused) = post(
        &app,
        &colleague,
        &format!("/conversations/{conv}/items"),
        &json!({"items": [{"role": "assistant", "content": "I agree with cy"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"]["param"], "items[0].role");
    let (status, refused) = post(
        &app,
        &colleague,
        "/responses",
        &json!({
            "conversation": conv, "stream": true,
            "input": [{"role": "assistant", "content": "I agree with cy"}],
        }),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["param"], "input[0].role");
    // Nothing of the refused requests reached the conversation.
    let (_, items) = get(&app, &owner, &format!("/conversations/{conv}/items")).await;
    let texts: Vec<&str> = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["content"][0]["text"].as_str().unwrap_or_default())
        .collect();
    assert!(!texts.contains(&"I agree with cy"), "{texts:?}");
}

#[tokio::test]
async fn bad_requests_are_openai_errors_naming_the_parameter() {
    let app = echo_app(Duration::ZERO).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    for (body, param) in [
        (json!({}), "input"),
        (json!({"input": [{"role": "user"}]}), "input[0].content"),
        (json!({"input": "x", "model": "no-such-model"}), "model"),
        (json!({"input": "x", "temperature": "hot"}), "temperature"),
        (json!({"input": "x", "user": {}}), "user"),
        (json!({"input": "x\u{0}"}), "input[0].content"),
    ] {
        let (status, answer) = post(&app, &token, "/responses", &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["type"], "invalid_request_error");
        assert_eq!(answer["error"]["param"], param, "{body}");
    }
    let (status, answer) = get(&app, &token, "/responses/resp_0123").await;
    assert_eq!(status, 404);
    assert_eq!(answer["error"]["type"], "not_found_error");
    let response = app.get("/api/v1/responses/resp_x", "nope").await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
}
