//! The OpenAI-compatible surface over HTTP: `chat/completions` whole and
//! streamed, against the echo provider and against a mock OpenAI upstream
//! through the real async-openai path; every failure in OpenAI's error
//! shape with OpenAI's status; `models`; and the `completions` record of
//! every call (complete, failed, streamed, cancelled).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;
use xl_domain::{OrgId, Role};
use xl_llm::{ChatProvider, EchoConfig, EchoProvider};
use xl_store::repo::completions::CompletionRecord;
use xl_store::repo::usage::{UsageFilter, calls};

use crate::helpers::{TestApp, data, spawn_app_with};
use crate::mock_upstream::{Mock, Reply, Step, chunk, completion, error, text, usage_chunk};

const CHAT: &str = "/api/v1/chat/completions";

/// A server over the given provider, `echo` as the default model.
async fn app_with(llm: Option<Arc<dyn ChatProvider>>) -> TestApp {
    spawn_app_with(move |options| {
        options.llm = llm;
        options.services.default_model = "echo".into();
        options.services.auto_completion_enabled = false;
    })
    .await
}

/// A server over the echo provider (no delay, any model id).
async fn echo_app() -> TestApp {
    app_with(None).await
}

/// A server over an OpenAI provider pointed at `mock`.
async fn mock_app(mock: &Mock, adjust: impl FnOnce(&mut xl_llm::OpenAiConfig)) -> TestApp {
    // Named like the real provider, so the registry's OpenAI models are
    // merged into its model list.
    let provider = mock.provider_with(|config| {
        config.name = "openai".into();
        adjust(config);
    });
    app_with(Some(Arc::new(provider))).await
}

async fn chat(app: &TestApp, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app.client.post(app.url(CHAT)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

fn ask(model: &str, content: &str) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": content}
        ]
    })
}

/// Asserts OpenAI's error shape and status and returns the `error` object.
async fn openai_error(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "body: {body}");
    assert_eq!(content_type, "application/json");
    let error = body["error"].clone();
    let mut keys: Vec<&str> = error
        .as_object()
        .unwrap_or_else(|| panic!("not an OpenAI error: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message", "param", "type"], "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error["type"].is_string());
    assert!(body.get("success").is_none(), "not the envelope: {body}");
    error
}

/// The `data:` payloads of an SSE body, in order.
fn frames(body: &str) -> Vec<String> {
    assert!(
        body.ends_with("\n\n"),
        "frames end with a blank line: {body:?}"
    );
    body.split("\n\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            frame
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data frame: {frame:?}"))
                .to_owned()
        })
        .collect()
}

/// The chunks of a stream (every frame but `[DONE]` parsed as JSON),
/// asserting that it ends with exactly one `[DONE]`.
fn parse_stream(body: &str) -> Vec<Value> {
    let frames = frames(body);
    assert_eq!(frames.last().map(String::as_str), Some("[DONE]"), "{body}");
    assert_eq!(frames.iter().filter(|f| *f == "[DONE]").count(), 1);
    frames[..frames.len() - 1]
        .iter()
        .map(|frame| serde_json::from_str(frame).unwrap())
        .collect()
}

/// The text the chunks carry for choice 0.
fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

fn org_of(profile: &Value) -> OrgId {
    profile["org_id"].as_str().unwrap().parse().unwrap()
}

/// The org's completion records, newest first, once `ready` holds for them
/// (streamed calls are recorded just after the response ends).
async fn records_when(
    app: &TestApp,
    org: OrgId,
    ready: impl Fn(&[CompletionRecord]) -> bool,
) -> Vec<CompletionRecord> {
    let filter = UsageFilter {
        org_id: org,
        user_id: None,
        thread_id: None,
        from: None,
        to: None,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records = calls(app.services.store.reader(), &filter, 100)
            .await
            .unwrap();
        if ready(&records) {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "records never became ready: {records:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn records(app: &TestApp, org: OrgId, count: usize) -> Vec<CompletionRecord> {
    records_when(app, org, |r| r.len() >= count).await
}

// --- Against the echo provider ---

#[tokio::test]
async fn a_whole_reply_has_openai_shape_and_is_recorded() {
    let app = echo_app().await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    let response = chat(&app, Some(&token), &ask("echo", "hello there")).await;
    assert_eq!(response.status(), 200);
    let completion_id = response.headers()["x-completion-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(body["model"], "echo");
    assert_eq!(body["choices"][0]["index"], 0);
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Echo: hello there"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(usage["prompt_tokens"], 15);
    assert_eq!(usage["completion_tokens"], 4);
    assert_eq!(usage["total_tokens"], 19);

    let records = records(&app, org_of(&me), 1).await;
    let record = &records[0];
    assert_eq!(record.id.to_string(), completion_id);
    assert_eq!(record.status, "complete");
    assert!(!record.stream);
    assert_eq!(record.model, "echo");
    assert_eq!(record.provider, "echo");
    assert_eq!(record.user_id.unwrap().to_string(), me["id"]);
    assert_eq!(record.api_key_id, None);
    assert_eq!((record.prompt_tokens, record.completion_tokens), (15, 4));
    assert_eq!(record.cost_micros, 0, "echo is free");
    assert_eq!(
        record.response.as_ref().unwrap()["choices"][0]["message"]["content"],
        "Echo: hello there"
    );
}

#[tokio::test]
async fn a_streamed_reply_is_chunks_that_concatenate_then_done() {
    let app = echo_app().await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    let mut body = ask("echo", "one two three four");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = chat(&app, Some(&token), &body).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let text = response.text().await.unwrap();
    let chunks = parse_stream(&text);

    // One delta per word, a finish chunk, then the usage chunk.
    let words = "Echo: one two three four".split(' ').count();
    assert_eq!(chunks.len(), words + 2, "{text}");
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], chunks[0]["id"], "one id for the whole stream");
        assert_eq!(chunk["model"], "echo");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(streamed_text(&chunks), "Echo: one two three four");
    let finish = &chunks[words];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert!(
        chunks[..words]
            .iter()
            .all(|c| c["choices"][0]["finish_reason"].is_null())
    );
    let last = &chunks[words + 1];
    assert_eq!(last["choices"], json!([]));
    let completion_tokens = last["usage"]["completion_tokens"].as_u64().unwrap();
    assert!(completion_tokens >= words as u64, "{last}");
    assert!(chunks[..=words].iter().all(|c| c.get("usage").is_none()));

    let records = records(&app, org_of(&me), 1).await;
    assert_eq!(records[0].status, "complete");
    assert!(records[0].stream);
    assert_eq!(u64::from(records[0].completion_tokens), completion_tokens);
    assert!(records[0].first_byte_ms.is_some());
    assert_eq!(
        records[0].response.as_ref().unwrap()["content"],
        "Echo: one two three four"
    );

    // Without include_usage there is no usage chunk.
    body["stream_options"] = json!({"include_usage": false});
    let text = chat(&app, Some(&token), &body).await.text().await.unwrap();
    let chunks = parse_stream(&text);
    assert_eq!(chunks.len(), words + 1);
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
}

#[tokio::test]
async fn the_model_defaults_and_the_models_are_listed() {
    let app = echo_app().await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let mut body = ask("", "hi");
    body.as_object_mut().unwrap().remove("model");
    let reply: Value = chat(&app, Some(&token), &body).await.json().await.unwrap();
    assert_eq!(reply["model"], "echo", "{reply}");

    let list: Value = app
        .get("/api/v1/models", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(
        list["data"],
        json!([{"id": "echo", "object": "model", "created": 0,
                "owned_by": "experience-layer", "context_length": 128000}])
    );
    let one: Value = app
        .get("/api/v1/models/echo", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one, list["data"][0]);
    let error = openai_error(app.get("/api/v1/models/gpt-9", &token).await, 404).await;
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["type"], "not_found_error");
}

#[tokio::test]
async fn an_unknown_model_is_a_404_in_openai_shape() {
    let echo = EchoProvider::new(EchoConfig {
        pace: Duration::ZERO,
        models: vec!["echo".into()],
    });
    let app = app_with(Some(Arc::new(echo))).await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    for stream in [false, true] {
        let mut body = ask("gpt-9", "hi");
        body["stream"] = json!(stream);
        let error = openai_error(chat(&app, Some(&token), &body).await, 404).await;
        assert_eq!(error["type"], "not_found_error");
        assert_eq!(error["code"], "model_not_found");
        assert_eq!(error["param"], "model");
        assert!(error["message"].as_str().unwrap().contains("gpt-9"));
    }
    let records = records(&app, org_of(&me), 2).await;
    assert!(
        records
            .iter()
            .all(|r| r.status == "failed" && r.model == "gpt-9")
    );
}

/// Issue 15, finding 1: a model id whose byte 11 from the end falls inside a
/// character used to panic in the registry (a 500); it is an unknown model.
#[tokio::test]
async fn a_model_id_cut_inside_a_character_is_a_404_not_a_panic() {
    let echo = EchoProvider::new(EchoConfig {
        pace: Duration::ZERO,
        models: vec!["echo".into()],
    });
    let app = app_with(Some(Arc::new(echo))).await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    let models = ["ééééééé", "👍👍👍", "gpt-4o-2024-08-0é"];
    for model in models {
        for stream in [false, true] {
            let mut body = ask(model, "hi");
            body["stream"] = json!(stream);
            let error = openai_error(chat(&app, Some(&token), &body).await, 404).await;
            assert_eq!(error["code"], "model_not_found", "{model}");
            assert_eq!(error["param"], "model");
        }
    }
    // Every call is recorded, the odd ids included.
    let records = records(&app, org_of(&me), 6).await;
    assert!(records.iter().all(|r| r.status == "failed"));
}

#[tokio::test]
async fn authentication_failures_are_401s_in_openai_shape() {
    let app = echo_app().await;
    let error = openai_error(chat(&app, None, &ask("echo", "hi")).await, 401).await;
    assert_eq!(error["type"], "authentication_error");
    assert_eq!(error["code"], "authentication_required");
    let error = openai_error(
        chat(&app, Some("xl_not-a-key"), &ask("echo", "hi")).await,
        401,
    )
    .await;
    assert_eq!(error["type"], "authentication_error");
    let error = openai_error(
        chat(&app, Some("garbage.jwt.here"), &ask("echo", "hi")).await,
        401,
    )
    .await;
    assert_eq!(error["type"], "authentication_error");
    for path in ["/api/v1/models", "/api/v1/models/echo"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        openai_error(response, 401).await;
    }
}

#[tokio::test]
async fn an_api_key_works_as_the_credential_and_is_recorded() {
    let app = echo_app().await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    let created = data(
        app.post("/api/v1/api-keys", &token, &json!({ "name": "sdk" }))
            .await,
        201,
    )
    .await;
    let key = created["secret"].as_str().unwrap();
    assert!(key.starts_with("xl_"));
    let reply: Value = chat(&app, Some(key), &ask("echo", "hi"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reply["choices"][0]["message"]["content"], "Echo: hi");
    let list = app.get("/api/v1/models", key).await;
    assert_eq!(list.status(), 200);

    let records = records(&app, org_of(&me), 1).await;
    assert_eq!(
        records[0].api_key_id.unwrap().to_string(),
        created["id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn bad_requests_are_400s_naming_the_parameter_and_are_not_recorded() {
    let app = echo_app().await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    let mut hot = ask("echo", "hi");
    hot["temperature"] = json!(3.5);
    let cases = [
        (hot, Some("temperature")),
        (json!({"model": "echo"}), Some("messages")),
        (json!({"model": "echo", "messages": []}), Some("messages")),
        (
            json!({"model": "echo", "messages": [{"role": "wizard", "content": "hi"}]}),
            None,
        ),
    ];
    for (body, param) in cases {
        let error = openai_error(chat(&app, Some(&token), &body).await, 400).await;
        assert_eq!(error["type"], "invalid_request_error", "{body}");
        assert_eq!(error["param"].as_str(), param, "{body}");
    }
    let malformed = app
        .client
        .post(app.url(CHAT))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    openai_error(malformed, 400).await;
    let huge = ask("echo", &"x".repeat(crate::helpers::MAX_JSON * 2));
    let error = openai_error(chat(&app, Some(&token), &huge).await, 413).await;
    assert_eq!(error["code"], "payload_too_large");

    // None of these reached a model, so none is a usage record.
    let ok = chat(&app, Some(&token), &ask("echo", "hi")).await;
    assert_eq!(ok.status(), 200);
    let records = records(&app, org_of(&me), 1).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, "complete");
}

#[tokio::test]
async fn a_thread_id_must_be_readable_and_is_linked() {
    let app = echo_app().await;
    let (ada, me) = app.user("ada@example.com", Role::User).await;
    let (bob, _) = app.user("bob@example.com", Role::User).await;
    let (root, _) = app.user("root@example.com", Role::Admin).await;
    let (eve, _) = app.user("eve@other.org", Role::Admin).await;
    let thread = data(
        app.post(
            "/api/v1/threads",
            &ada,
            &json!({"title": "t", "auto_reply": false}),
        )
        .await,
        201,
    )
    .await;
    let thread_id = thread["id"].as_str().unwrap();
    let mut body = ask("echo", "hi");
    body["thread_id"] = json!(thread_id);

    // A non-member of the same org and another org's admin see nothing.
    for outsider in [&bob, &eve] {
        let error = openai_error(chat(&app, Some(outsider), &body).await, 404).await;
        assert_eq!(error["param"], "thread_id");
        assert_eq!(error["code"], "thread_not_found");
    }
    let mut stream = body.clone();
    stream["stream"] = json!(true);
    openai_error(chat(&app, Some(&bob), &stream).await, 404).await;
    let mut malformed = body.clone();
    malformed["thread_id"] = json!("not-a-uuid");
    openai_error(chat(&app, Some(&ada), &malformed).await, 400).await;
    let mut missing = body.clone();
    missing["thread_id"] = json!(xl_domain::ThreadId::new().to_string());
    openai_error(chat(&app, Some(&ada), &missing).await, 404).await;

    // Its owner and the org's admin may; the call is linked to the thread.
    for caller in [&ada, &root] {
        assert_eq!(chat(&app, Some(caller), &body).await.status(), 200);
    }
    let records = records(&app, org_of(&me), 2).await;
    assert_eq!(records.len(), 2, "refused calls are not recorded");
    assert!(
        records
            .iter()
            .all(|r| r.thread_id.unwrap().to_string() == thread_id)
    );
    assert!(
        records.iter().all(|r| r.request.get("thread_id").is_none()),
        "thread_id is not part of the model request"
    );
}

#[tokio::test]
async fn a_client_that_goes_away_is_recorded_as_cancelled() {
    let echo = EchoProvider::new(EchoConfig {
        pace: Duration::from_millis(50),
        models: Vec::new(),
    });
    let app = app_with(Some(Arc::new(echo))).await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    let mut body = ask("echo", &"word ".repeat(200));
    body["stream"] = json!(true);
    let mut response = chat(&app, Some(&token), &body).await;
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: {"), "{first:?}");
    drop(response);

    let records = records(&app, org_of(&me), 1).await;
    let record = &records[0];
    assert_eq!(record.status, "cancelled");
    assert!(record.stream);
    let partial = record.response.as_ref().unwrap()["content"]
        .as_str()
        .unwrap();
    assert!(partial.starts_with("Echo:"), "{partial}");
    assert!(
        partial.len() < 1000,
        "stopped early: {} bytes",
        partial.len()
    );
    assert!(record.prompt_tokens > 0 && record.completion_tokens > 0);
}

// --- Against a mock OpenAI upstream, through async-openai ---

#[tokio::test]
async fn calls_whose_client_leaves_before_the_answer_are_still_recorded() {
    let mock = Mock::start(|_, seen| {
        let reply = if seen.body["stream"] == true {
            Reply::Sse(vec![
                text("late"),
                chunk(json!({}), Some("stop")),
                usage_chunk(5, 1),
                Step::Raw("[DONE]"),
            ])
        } else {
            Reply::Json(200, completion("late", Some((5, 1))))
        };
        Reply::Delayed(Duration::from_millis(500), Box::new(reply))
    })
    .await;
    let app = mock_app(&mock, |_| {}).await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    for stream in [false, true] {
        let mut body = ask("gpt-4o", "hi");
        body["stream"] = json!(stream);
        let sent = app
            .client
            .post(app.url(CHAT))
            .bearer_auth(&token)
            .json(&body)
            .timeout(Duration::from_millis(100))
            .send()
            .await;
        assert!(sent.is_err(), "the client gave up first");
    }
    let records = records(&app, org_of(&me), 2).await;
    // The whole reply was made (and billed) anyway.
    let whole = records.iter().find(|r| !r.stream).unwrap();
    assert_eq!(whole.status, "complete");
    assert_eq!((whole.prompt_tokens, whole.completion_tokens), (5, 1));
    // The stream is `cancelled` when the server noticed the client leave
    // before the upstream answered, or `complete` when its short reply was
    // written out before the closed connection showed; either way it is
    // recorded.
    let streamed = records.iter().find(|r| r.stream).unwrap();
    assert!(
        ["cancelled", "complete"].contains(&streamed.status.as_str()),
        "{streamed:?}"
    );
}

#[tokio::test]
async fn an_upstream_reply_passes_through_with_usage_and_cost() {
    let mock = Mock::start(|_, _| Reply::Json(200, completion("Hello!", Some((11, 2))))).await;
    let app = mock_app(&mock, |_| {}).await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    let mut body = ask("gpt-4o", "say hello");
    body["top_k"] = json!(40);
    body["seed"] = json!(7);
    let response = chat(&app, Some(&token), &body).await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["id"], "chatcmpl-mock");
    assert_eq!(reply["model"], "gpt-4o-2024-08-06");
    assert_eq!(reply["system_fingerprint"], "fp_mock");
    assert_eq!(reply["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(
        reply["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13})
    );

    let seen = &mock.seen()[0];
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(
        seen.authorization,
        format!("Bearer {}", crate::mock_upstream::KEY),
        "the upstream gets the server's key, never the caller's"
    );
    assert_eq!(seen.body["model"], "gpt-4o");
    assert_eq!(seen.body["top_k"], 40, "vendor parameters pass through");
    assert_eq!(seen.body["seed"], 7);

    let records = records(&app, org_of(&me), 1).await;
    let record = &records[0];
    assert_eq!(record.provider, "openai");
    assert_eq!((record.prompt_tokens, record.completion_tokens), (11, 2));
    // 11 × $2.50 + 2 × $10 per million = 47.5 µUSD, rounded half up.
    assert_eq!(record.cost_micros, 48);
}

#[tokio::test]
async fn an_upstream_stream_is_relayed_as_it_arrives() {
    let go = Arc::new(Notify::new());
    let gate = Arc::clone(&go);
    let mock = Mock::start(move |_, _| {
        Reply::Sse(vec![
            chunk(json!({"role": "assistant", "content": ""}), None),
            text("Hel"),
            Step::WaitFor(Arc::clone(&gate)),
            text("lo"),
            text(" world"),
            chunk(json!({}), Some("stop")),
            usage_chunk(9, 3),
            Step::Raw("[DONE]"),
        ])
    })
    .await;
    let app = mock_app(&mock, |_| {}).await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    let mut body = ask("gpt-4o", "say hello");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let mut response = chat(&app, Some(&token), &body).await;
    assert_eq!(response.status(), 200);

    // Frames reach the client while the upstream still holds the rest back:
    // nothing on the way buffers them.
    let mut received = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !received.contains("Hel") {
        let piece = tokio::time::timeout_at(deadline.into(), response.chunk())
            .await
            .expect("the first delta arrived before the upstream went on")
            .unwrap()
            .unwrap();
        received.push_str(std::str::from_utf8(&piece).unwrap());
    }
    go.notify_one();
    received.push_str(&response.text().await.unwrap());
    let chunks = parse_stream(&received);
    assert_eq!(streamed_text(&chunks), "Hello world");
    let last = chunks.last().unwrap();
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12})
    );
    assert_eq!(
        chunks[chunks.len() - 2]["choices"][0]["finish_reason"],
        "stop"
    );
    assert_eq!(mock.seen()[0].body["stream"], true);

    let records = records(&app, org_of(&me), 1).await;
    let record = &records[0];
    assert_eq!(record.status, "complete");
    assert!(record.stream);
    assert_eq!((record.prompt_tokens, record.completion_tokens), (9, 3));
    // 9 × $2.50 + 3 × $10 per million = 52.5 µUSD, rounded half up.
    assert_eq!(record.cost_micros, 53);
}

#[tokio::test]
async fn upstream_failures_have_openai_statuses_and_are_recorded() {
    // The user message picks the failure.
    let mock =
        Mock::start(
            |_, seen| match seen.body["messages"][1]["content"].as_str().unwrap_or("") {
                "429" => Reply::Json(
                    429,
                    error(
                        "Rate limit reached",
                        "requests",
                        Some("rate_limit_exceeded"),
                    ),
                ),
                "500" => Reply::Text(500, "<html>\nInternal error\n</html>"),
                "slow" => Reply::Delayed(
                    Duration::from_secs(3),
                    Box::new(Reply::Json(200, completion("late", None))),
                ),
                _ => Reply::Json(200, completion("ok", Some((1, 1)))),
            },
        )
        .await;
    let app = mock_app(&mock, |config| {
        config.timeout = Duration::from_millis(300);
        config.max_retries = 1;
    })
    .await;
    let (token, me) = app.user("ada@example.com", Role::User).await;
    let cases = [
        ("429", 429, "rate_limit_error", "rate_limit_exceeded"),
        ("500", 502, "api_error", "upstream_error"),
        ("slow", 504, "timeout", "timeout"),
    ];
    for stream in [false, true] {
        for (content, status, kind, code) in cases {
            let mut body = ask("gpt-4o", content);
            body["stream"] = json!(stream);
            let error = openai_error(chat(&app, Some(&token), &body).await, status).await;
            assert_eq!(error["type"], kind, "{content}");
            assert_eq!(error["code"], code, "{content}");
            let message = error["message"].as_str().unwrap();
            assert!(
                !message.contains(crate::mock_upstream::KEY) && !message.contains('\n'),
                "{message}"
            );
        }
    }
    let records = records(&app, org_of(&me), 6).await;
    assert_eq!(records.len(), 6);
    for record in &records {
        assert_eq!(record.status, "failed");
        assert!(record.error.is_some());
        assert_eq!(record.completion_tokens, 0);
        // Nothing was generated, so nothing is charged.
        assert_eq!((record.prompt_tokens, record.cost_micros), (0, 0));
    }
    assert_eq!(records.iter().filter(|r| r.stream).count(), 3);
}

#[tokio::test]
async fn a_failure_mid_stream_sends_an_error_frame_then_done() {
    let go = Arc::new(Notify::new());
    let gate = Arc::clone(&go);
    let mock = Mock::start(move |_, seen| {
        if seen.body["messages"][1]["content"] == "abort" {
            Reply::Sse(vec![
                text("a"),
                text("b"),
                Step::WaitFor(Arc::clone(&gate)),
                Step::Abort,
            ])
        } else {
            Reply::Sse(vec![
                text("a"),
                Step::Event(
                    "error",
                    error("The server is overloaded", "server_error", None),
                ),
                text("b"),
            ])
        }
    })
    .await;
    let app = mock_app(&mock, |_| {}).await;
    let (token, me) = app.user("ada@example.com", Role::User).await;

    let mut body = ask("gpt-4o", "overload");
    body["stream"] = json!(true);
    let response = chat(&app, Some(&token), &body).await;
    assert_eq!(response.status(), 200, "the stream had begun");
    let text = response.text().await.unwrap();
    let chunks = parse_stream(&text);
    assert_eq!(streamed_text(&chunks), "a");
    let error = &chunks.last().unwrap()["error"];
    assert_eq!(error["type"], "api_error", "{text}");
    assert_eq!(error["code"], "upstream_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("The server is overloaded")
    );

    // The connection breaks after two deltas.
    body["messages"][1]["content"] = json!("abort");
    let mut response = chat(&app, Some(&token), &body).await;
    let mut received = String::new();
    while received.matches("data: ").count() < 2 {
        let piece = response.chunk().await.unwrap().unwrap();
        received.push_str(std::str::from_utf8(&piece).unwrap());
    }
    go.notify_one();
    received.push_str(&response.text().await.unwrap());
    let chunks = parse_stream(&received);
    assert_eq!(streamed_text(&chunks), "ab");
    assert_eq!(chunks.last().unwrap()["error"]["type"], "api_error");

    let records = records(&app, org_of(&me), 2).await;
    let texts: Vec<&str> = records
        .iter()
        .map(|r| r.response.as_ref().unwrap()["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["ab", "a"], "newest first, partial text kept");
    assert!(
        records
            .iter()
            .all(|r| r.status == "failed" && r.error.is_some())
    );
}

#[tokio::test]
async fn an_upstream_unknown_model_is_a_404() {
    let mock = Mock::start(|_, _| {
        Reply::Json(
            404,
            error(
                "The model `gpt-4.1-nano` does not exist",
                "invalid_request_error",
                Some("model_not_found"),
            ),
        )
    })
    .await;
    let app = mock_app(&mock, |_| {}).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    // A registered model the upstream does not serve (after all).
    let error = openai_error(
        chat(&app, Some(&token), &ask("gpt-4.1-nano", "hi")).await,
        404,
    )
    .await;
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(mock.hits(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn models_merge_the_upstream_list_with_the_registry_and_are_cached() {
    let mock = Mock::start(|_, _| {
        Reply::Json(
            200,
            json!({"object": "list", "data": [
                {"id": "gpt-4o", "object": "model", "created": 1_715_367_049, "owned_by": "system"},
                {"id": "llama-3.1-8b", "object": "model", "max_model_len": 8192}
            ]}),
        )
    })
    .await;
    let app = mock_app(&mock, |_| {}).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let list: Value = app
        .get("/api/v1/models", &token)
        .await
        .json()
        .await
        .unwrap();
    let data = list["data"].as_array().unwrap();
    let ids: Vec<&str> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(
        !ids.contains(&"llama-3.1-8b"),
        "an unregistered upstream model is not served: {ids:?}"
    );
    assert!(
        ids.contains(&"gpt-4o-mini"),
        "registered models are added: {ids:?}"
    );
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted, no duplicates");
    let gpt4o = data.iter().find(|m| m["id"] == "gpt-4o").unwrap();
    assert_eq!(
        *gpt4o,
        json!({"id": "gpt-4o", "object": "model", "created": 1_715_367_049,
               "owned_by": "system", "context_length": 128000})
    );
    openai_error(app.get("/api/v1/models/llama-3.1-8b", &token).await, 404).await;
    openai_error(app.get("/api/v1/models/gpt-9", &token).await, 404).await;
    assert_eq!(mock.hits(), 1, "the list is served from memory");
}

// ---- Finding 7 of the hardening review: cost controls ------------------

#[tokio::test]
async fn f7_only_registry_models_are_served_and_never_reach_the_upstream_otherwise() {
    let mock = Mock::start(|_, _| Reply::Json(200, completion("Hello!", Some((1, 1))))).await;
    let app = mock_app(&mock, |_| {}).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    for stream in [false, true] {
        let mut body = ask("someone-elses-finetune", "hi");
        body["stream"] = json!(stream);
        let error = openai_error(chat(&app, Some(&token), &body).await, 404).await;
        assert_eq!(error["code"], "model_not_found");
    }
    assert_eq!(mock.hits(), 0, "an unregistered model is never forwarded");
}

#[tokio::test]
async fn f7_max_tokens_are_capped_at_the_models_output_limit() {
    let mock = Mock::start(|_, _| Reply::Json(200, completion("Hello!", Some((1, 1))))).await;
    let app = mock_app(&mock, |_| {}).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    let mut body = ask("gpt-4o", "write a novel");
    body["max_tokens"] = json!(1_000_000);
    body["max_completion_tokens"] = json!(900_000);
    assert_eq!(chat(&app, Some(&token), &body).await.status(), 200);
    let seen = &mock.seen()[0];
    let limit = app.services.models.get("gpt-4o").unwrap().max_output_tokens;
    assert_eq!(seen.body["max_tokens"], json!(limit));
    assert_eq!(seen.body["max_completion_tokens"], json!(limit));
}

#[tokio::test]
async fn f7_an_unpriced_model_is_flagged_in_usage_not_counted_free() {
    let mock = Mock::start(|_, _| Reply::Json(200, completion("Hello!", Some((5, 5))))).await;
    let provider = mock.provider_with(|config| config.name = "openai".into());
    let app = spawn_app_with(move |options| {
        options.llm = Some(Arc::new(provider));
        options.services.default_model = "gpt-4o".into();
        options.services.auto_completion_enabled = false;
        options
            .services
            .models
            .insert(xl_llm::ModelSpec::new("house-model", 8_192));
    })
    .await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    for model in ["house-model", "gpt-4o"] {
        assert_eq!(
            chat(&app, Some(&token), &ask(model, "hi")).await.status(),
            200
        );
    }
    // Records are written after the answer; wait for both.
    let me = data(app.get("/api/v1/users/me", &token).await, 200).await;
    let org: OrgId = me["org_id"].as_str().unwrap().parse().unwrap();
    records(&app, org, 2).await;
    let report = data(app.get("/api/v1/usage", &token).await, 200).await;
    let by_model = report["by_model"].as_array().unwrap();
    let flag = |model: &str| {
        by_model
            .iter()
            .find(|m| m["model"] == model)
            .map(|m| m["unpriced"].clone())
    };
    assert_eq!(flag("house-model"), Some(json!(true)), "{report}");
    assert_eq!(flag("gpt-4o"), Some(json!(false)), "{report}");
}

// ---- Finding 13 of the hardening review: no raw upstream text in 502s --

#[tokio::test]
async fn f13_a_raw_upstream_error_body_never_reaches_the_client() {
    const RAW: &str = "<html>Traceback (most recent call last): File \"/srv/internal/app.py\", db=postgres://admin@10.0.0.5</html>";
    let mock = Mock::start(|_, seen| {
        if seen.body["messages"][1]["content"] == "shaped" {
            Reply::Json(
                500,
                error(
                    "The server had an error while processing your request.",
                    "server_error",
                    None,
                ),
            )
        } else {
            Reply::Text(500, RAW)
        }
    })
    .await;
    let app = mock_app(&mock, |config| config.max_retries = 0).await;
    let (token, _) = app.user("ada@example.com", Role::User).await;
    for stream in [false, true] {
        let mut body = ask("gpt-4o", "raw");
        body["stream"] = json!(stream);
        let error = openai_error(chat(&app, Some(&token), &body).await, 502).await;
        let message = error["message"].as_str().unwrap();
        for leak in ["Traceback", "/srv", "postgres://", "10.0.0.5", "<html>"] {
            assert!(!message.contains(leak), "{message}");
        }
        // An OpenAI-shaped error's own message may be passed on.
        let mut body = ask("gpt-4o", "shaped");
        body["stream"] = json!(stream);
        let error = openai_error(chat(&app, Some(&token), &body).await, 502).await;
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("The server had an error"),
            "{error}"
        );
    }
}
