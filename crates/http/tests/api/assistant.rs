//! The assistant in threads over HTTP: the reply shapes of both modes,
//! failures that keep the user's message, the SSE stream of a reply (resume
//! after any event, a client that leaves), cancel, regenerate, idempotent
//! posts, and who may do what.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::Bytes;
use async_trait::async_trait;
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use xl_domain::Role;
use xl_llm::{
    ChatChunk, ChatProvider, ChatRequest, ChatResponse, ChunkStream, FinishReason, LlmError,
    ModelInfo,
};

use crate::helpers::{TestApp, data, problem, spawn_app, spawn_app_with};

/// What the fake provider does for one call.
#[derive(Debug)]
enum Plan {
    /// Fails before the first byte.
    Refuse(LlmError),
    /// Streams these deltas, then fails.
    FailAfter(Vec<&'static str>, LlmError),
    /// Streams what the test sends, and finishes when the sender is dropped.
    Fed(mpsc::UnboundedReceiver<String>),
}

/// A provider the test scripts, one plan per call (then `ok` replies); it
/// notices a stream dropped before its end.
#[derive(Debug, Default)]
pub(crate) struct Fake {
    plans: Mutex<VecDeque<Plan>>,
    dropped: Arc<AtomicBool>,
}

impl Fake {
    fn with(plans: Vec<Plan>) -> Arc<Self> {
        Arc::new(Fake {
            plans: Mutex::new(plans.into()),
            ..Fake::default()
        })
    }

    pub(crate) fn fed() -> (Arc<Self>, mpsc::UnboundedSender<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Fake::with(vec![Plan::Fed(rx)]), tx)
    }
}

/// Sets the flag when dropped while it still holds it.
struct Tripwire(Option<Arc<AtomicBool>>);

impl Drop for Tripwire {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

fn finish() -> ChatChunk {
    ChatChunk::Finish {
        reason: FinishReason::Stop,
        usage: None,
    }
}

#[async_trait]
impl ChatProvider for Fake {
    fn name(&self) -> &str {
        "fake"
    }

    async fn complete(&self, _request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        Err(LlmError::Upstream("the fake only streams".into()))
    }

    async fn stream(&self, _request: &ChatRequest) -> Result<ChunkStream, LlmError> {
        let plan = self.plans.lock().unwrap().pop_front();
        match plan {
            Some(Plan::Refuse(err)) => Err(err),
            Some(Plan::FailAfter(deltas, err)) => {
                let mut items: Vec<Result<ChatChunk, LlmError>> = deltas
                    .into_iter()
                    .map(|d| Ok(ChatChunk::Delta(d.to_owned())))
                    .collect();
                items.push(Err(err));
                Ok(Box::pin(futures_util::stream::iter(items)))
            }
            Some(Plan::Fed(rx)) => {
                let wire = Tripwire(Some(Arc::clone(&self.dropped)));
                Ok(Box::pin(futures_util::stream::unfold(
                    (rx, wire, false),
                    |(mut rx, mut wire, finished)| async move {
                        if finished {
                            wire.0.take();
                            return None;
                        }
                        match rx.recv().await {
                            Some(d) => Some((Ok(ChatChunk::Delta(d)), (rx, wire, false))),
                            None => Some((Ok(finish()), (rx, wire, true))),
                        }
                    },
                )))
            }
            None => Ok(Box::pin(futures_util::stream::iter(vec![
                Ok(ChatChunk::Delta("ok".into())),
                Ok(finish()),
            ]))),
        }
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        Ok(Vec::new())
    }
}

/// A server with automatic replies on, answering with `llm` (echo if `None`).
async fn app_with(llm: Option<Arc<dyn ChatProvider>>) -> TestApp {
    spawn_app_with(|options| {
        options.services.auto_completion_enabled = true;
        options.llm = llm;
    })
    .await
}

async fn new_thread(app: &TestApp, token: &str, body: Value) -> String {
    let thread = data(app.post("/api/v1/threads", token, &body).await, 201).await;
    thread["id"].as_str().unwrap().to_owned()
}

fn messages(thread: &str) -> String {
    format!("/api/v1/threads/{thread}/messages")
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// Polls a message until `done` holds (5 s at most).
async fn wait_for(app: &TestApp, token: &str, message: &str, done: impl Fn(&Value) -> bool) {
    for _ in 0..500 {
        let current = data(
            app.get(&format!("/api/v1/messages/{message}"), token).await,
            200,
        )
        .await;
        if done(&current) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("message {message} never got there");
}

/// One server-sent event.
#[derive(Clone, Debug, PartialEq)]
struct Frame {
    id: i64,
    event: String,
    data: Value,
}

/// A client of `GET /api/v1/messages/{id}/stream`.
struct Sse {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buffer: String,
}

impl Sse {
    async fn open(app: &TestApp, token: &str, message: &str, last_event_id: Option<i64>) -> Sse {
        let mut request = app
            .client
            .get(app.url(&format!("/api/v1/messages/{message}/stream")))
            .bearer_auth(token);
        if let Some(last) = last_event_id {
            request = request.header("Last-Event-ID", last.to_string());
        }
        Self::from(request.send().await.unwrap())
    }

    fn from(response: reqwest::Response) -> Sse {
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        Sse {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), or `None` at the end of the stream.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block = self.buffer[..end].to_owned();
                self.buffer.drain(..end + 2);
                let (mut id, mut event, mut data) = (None, None, String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("id: ") {
                        id = Some(value.parse().unwrap());
                    } else if let Some(value) = line.strip_prefix("event: ") {
                        event = Some(value.to_owned());
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data.push_str(value);
                    } else {
                        assert!(line.starts_with(':'), "unexpected line {line:?}");
                    }
                }
                if let (Some(id), Some(event)) = (id, event) {
                    let data = serde_json::from_str(&data).unwrap();
                    return Some(Frame { id, event, data });
                }
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), self.body.next())
                .await
                .expect("an event within 5 s")?
                .unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Every remaining event, until the server ends the stream.
    async fn rest(mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next().await {
            frames.push(frame);
        }
        frames
    }
}

fn text_of(frames: &[Frame]) -> String {
    frames
        .iter()
        .filter(|f| f.event == "message.delta")
        .map(|f| f.data["payload"]["delta"].as_str().unwrap().to_owned())
        .collect()
}

fn final_status(frames: &[Frame]) -> &str {
    let last = frames.last().unwrap();
    assert_eq!(last.event, "message.completed");
    last.data["payload"]["status"].as_str().unwrap()
}

#[tokio::test]
async fn a_sync_post_answers_with_both_messages() {
    let app = app_with(None).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({ "system_prompt": "Be brief." })).await;
    let body = data(
        app.post(&messages(&t), &ada, &json!({ "content": "hello" }))
            .await,
        201,
    )
    .await;
    let user = &body["userMessage"];
    let assistant = &body["assistantMessage"];
    assert_eq!(user["role"], "USER");
    assert_eq!(user["content"], "hello");
    assert_eq!(assistant["role"], "ASSISTANT");
    assert_eq!(assistant["parent_id"], user["id"]);
    assert_eq!(assistant["status"], "complete");
    assert_eq!(assistant["content"], "Echo: hello");
    assert!(assistant["error"].is_null());
    let metadata = &assistant["metadata"];
    assert!(metadata["completionId"].is_string(), "{metadata}");
    assert_eq!(metadata["model"], "gpt-4o");
    assert!(metadata["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(metadata["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    let listed = data(app.get(&messages(&t), &ada).await, 200).await;
    assert_eq!(listed[0]["id"], assistant["id"]);
    assert_eq!(listed[1]["id"], user["id"]);

    let explicit = data(
        app.post(
            &format!("{}?reply=sync", messages(&t)),
            &ada,
            &json!({ "content": "again" }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(explicit["assistantMessage"]["content"], "Echo: again");
    assert_eq!(
        explicit["assistantMessage"]["parent_id"],
        explicit["userMessage"]["id"]
    );
    problem(
        app.post(
            &format!("{}?reply=later", messages(&t)),
            &ada,
            &json!({ "content": "x" }),
        )
        .await,
        400,
    )
    .await;
}

#[tokio::test]
async fn without_auto_reply_a_post_answers_with_the_message_alone() {
    let app = app_with(None).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({ "auto_reply": false })).await;
    let body = data(
        app.post(&messages(&t), &ada, &json!({ "content": "hi" }))
            .await,
        201,
    )
    .await;
    assert_eq!(body["content"], "hi");
    assert!(body.get("userMessage").is_none());
    let listed = data(app.get(&messages(&t), &ada).await, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Off for the whole server (the test server's default).
    let quiet = spawn_app().await;
    let (ada, _) = quiet.user("ada@acme.io", Role::User).await;
    let t = new_thread(&quiet, &ada, json!({})).await;
    let body = data(
        quiet
            .post(
                &format!("{}?reply=stream", messages(&t)),
                &ada,
                &json!({ "content": "hi" }),
            )
            .await,
        201,
    )
    .await;
    assert_eq!(body["role"], "USER");
    assert!(body.get("assistantMessage").is_none());
}

#[tokio::test]
async fn failures_keep_the_user_message_and_say_so() {
    let fake = Fake::with(vec![
        Plan::Refuse(LlmError::Timeout),
        Plan::FailAfter(
            vec!["par", "tial"],
            LlmError::Upstream("connection reset".into()),
        ),
    ]);
    let app = app_with(Some(fake)).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({})).await;

    let sync = data(
        app.post(&messages(&t), &ada, &json!({ "content": "one" }))
            .await,
        201,
    )
    .await;
    assert_eq!(sync["assistantMessage"]["status"], "failed");
    assert_eq!(
        sync["assistantMessage"]["error"],
        "the model provider timed out"
    );
    let kept = id(&sync["userMessage"]);
    data(
        app.get(&format!("/api/v1/messages/{kept}"), &ada).await,
        200,
    )
    .await;

    let stream = data(
        app.post(
            &format!("{}?reply=stream", messages(&t)),
            &ada,
            &json!({ "content": "two" }),
        )
        .await,
        201,
    )
    .await;
    let reply = id(&stream["assistantMessage"]);
    let frames = Sse::open(&app, &ada, &reply, None).await.rest().await;
    assert_eq!(text_of(&frames), "partial");
    assert_eq!(final_status(&frames), "failed");
    let ended = data(
        app.get(&format!("/api/v1/messages/{reply}"), &ada).await,
        200,
    )
    .await;
    assert_eq!(ended["status"], "failed");
    assert_eq!(ended["content"], "partial");
    assert_eq!(
        ended["error"],
        "the model provider failed: connection reset"
    );
    let kept = id(&stream["userMessage"]);
    let kept = data(
        app.get(&format!("/api/v1/messages/{kept}"), &ada).await,
        200,
    )
    .await;
    assert_eq!(kept["content"], "two");
}

#[tokio::test]
async fn a_streamed_reply_can_be_followed_resumed_and_outlives_its_client() {
    let (fake, feed) = Fake::fed();
    let app = app_with(Some(fake)).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({})).await;
    let posted = data(
        app.post(
            &format!("{}?reply=stream", messages(&t)),
            &ada,
            &json!({ "content": "count" }),
        )
        .await,
        201,
    )
    .await;
    let reply = &posted["assistantMessage"];
    assert_eq!(reply["status"], "streaming");
    assert_eq!(reply["content"], "");
    assert_eq!(reply["parent_id"], posted["userMessage"]["id"]);
    let reply = id(reply);

    // A client follows the first words, then goes away.
    let mut client = Sse::open(&app, &ada, &reply, None).await;
    let created = client.next().await.unwrap();
    assert_eq!(created.event, "message.created");
    assert_eq!(created.data["message_id"], reply.as_str());
    let mut first = vec![created];
    for word in ["one ", "two "] {
        feed.send(word.into()).unwrap();
        let frame = client.next().await.unwrap();
        assert_eq!(frame.event, "message.delta");
        assert_eq!(frame.data["payload"]["delta"], word);
        first.push(frame);
    }
    drop(client);
    for word in ["three ", "four"] {
        feed.send(word.into()).unwrap();
    }
    drop(feed);
    wait_for(&app, &ada, &reply, |m| m["status"] == "complete").await;
    let ended = data(
        app.get(&format!("/api/v1/messages/{reply}"), &ada).await,
        200,
    )
    .await;
    assert_eq!(ended["content"], "one two three four");

    // Reconnecting after the last event seen gives exactly the rest.
    let last_seen = first.last().unwrap().id;
    let rest = Sse::open(&app, &ada, &reply, Some(last_seen))
        .await
        .rest()
        .await;
    assert!(rest.iter().all(|f| f.id > last_seen));
    let everything = Sse::open(&app, &ada, &reply, None).await.rest().await;
    let mut joined = first.clone();
    joined.extend(rest);
    assert_eq!(joined, everything);
    assert_eq!(text_of(&everything), "one two three four");
    assert_eq!(final_status(&everything), "complete");
    let ids: Vec<i64> = everything.iter().map(|f| f.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // `?after=` does the same for clients that cannot set headers.
    let response = app
        .get(
            &format!("/api/v1/messages/{reply}/stream?after={}", everything[1].id),
            &ada,
        )
        .await;
    let after = Sse::from(response).rest().await;
    assert_eq!(after[..], everything[2..]);
    problem(
        app.get(&format!("/api/v1/messages/{reply}/stream?after=x"), &ada)
            .await,
        400,
    )
    .await;
}

#[tokio::test]
async fn cancel_keeps_the_partial_text() {
    let (fake, feed) = Fake::fed();
    let app = app_with(Some(fake.clone())).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({})).await;
    let posted = data(
        app.post(
            &format!("{}?reply=stream", messages(&t)),
            &ada,
            &json!({ "content": "talk" }),
        )
        .await,
        201,
    )
    .await;
    let reply = id(&posted["assistantMessage"]);
    feed.send("par".into()).unwrap();
    wait_for(&app, &ada, &reply, |m| m["content"] == "par").await;

    let cancel = format!("/api/v1/messages/{reply}/cancel");
    let cancelled = data(app.post(&cancel, &ada, &json!({})).await, 200).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["content"], "par");
    assert!(fake.dropped.load(Ordering::SeqCst), "upstream dropped");
    problem(app.post(&cancel, &ada, &json!({})).await, 409).await;
    let frames = Sse::open(&app, &ada, &reply, None).await.rest().await;
    assert_eq!(final_status(&frames), "cancelled");
    assert_eq!(text_of(&frames), "par");
}

#[tokio::test]
async fn regenerate_adds_a_sibling_reply_on_the_current_branch() {
    let app = app_with(None).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({})).await;
    let posted = data(
        app.post(&messages(&t), &ada, &json!({ "content": "again" }))
            .await,
        201,
    )
    .await;
    let question = id(&posted["userMessage"]);
    let first = id(&posted["assistantMessage"]);

    let second = data(
        app.post(
            &format!("/api/v1/messages/{first}/regenerate"),
            &ada,
            &json!({}),
        )
        .await,
        201,
    )
    .await;
    assert_ne!(id(&second), first);
    assert_eq!(second["parent_id"], question.as_str());
    assert_eq!(second["status"], "complete");
    assert_eq!(second["content"], "Echo: again");
    let branch = data(app.get(&messages(&t), &ada).await, 200).await;
    let ids: Vec<&str> = branch
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![id(&second).as_str(), question.as_str()]);

    let streamed = data(
        app.post(
            &format!("/api/v1/messages/{}/regenerate?reply=stream", id(&second)),
            &ada,
            &json!({}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(streamed["status"], "streaming");
    let frames = Sse::open(&app, &ada, &id(&streamed), None)
        .await
        .rest()
        .await;
    assert_eq!(text_of(&frames), "Echo: again");
    problem(
        app.post(
            &format!("/api/v1/messages/{question}/regenerate"),
            &ada,
            &json!({}),
        )
        .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn an_idempotent_post_replays_both_messages() {
    let app = app_with(None).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({})).await;
    let send = || {
        app.client
            .post(app.url(&messages(&t)))
            .bearer_auth(&ada)
            .header("idempotency-key", "post-1")
            .json(&json!({ "content": "once" }))
            .send()
    };
    let first = send().await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = data(first, 201).await;
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = data(again, 201).await;
    assert_eq!(again, first);
    assert_eq!(first["assistantMessage"]["status"], "complete");
    let all = data(
        app.get(&format!("{}?branch=all", messages(&t)), &ada).await,
        200,
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2, "one question, one reply");
}

#[tokio::test]
async fn outsiders_get_404_on_stream_cancel_and_regenerate() {
    let (fake, feed) = Fake::fed();
    let app = app_with(Some(fake)).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (bob, _) = app.user("bob@acme.io", Role::User).await;
    let (eve, _) = app.user("eve@evil.io", Role::Admin).await;
    let t = new_thread(&app, &ada, json!({})).await;
    let posted = data(
        app.post(
            &format!("{}?reply=stream", messages(&t)),
            &ada,
            &json!({ "content": "secret" }),
        )
        .await,
        201,
    )
    .await;
    let reply = id(&posted["assistantMessage"]);
    for outsider in [&bob, &eve] {
        problem(
            app.get(&format!("/api/v1/messages/{reply}/stream"), outsider)
                .await,
            404,
        )
        .await;
        problem(
            app.post(
                &format!("/api/v1/messages/{reply}/cancel"),
                outsider,
                &json!({}),
            )
            .await,
            404,
        )
        .await;
        problem(
            app.post(
                &format!("/api/v1/messages/{reply}/regenerate"),
                outsider,
                &json!({}),
            )
            .await,
            404,
        )
        .await;
    }
    drop(feed);
    let frames = Sse::open(&app, &ada, &reply, None).await.rest().await;
    assert_eq!(final_status(&frames), "complete");
}

#[tokio::test]
async fn a_sync_post_whose_client_left_is_replayed_to_its_retry() {
    let (fake, feed) = Fake::fed();
    let app = app_with(Some(fake)).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let t = new_thread(&app, &ada, json!({})).await;
    let request = app
        .client
        .post(app.url(&messages(&t)))
        .bearer_auth(&ada)
        .header("idempotency-key", "slow-1")
        .json(&json!({ "content": "slow" }));
    let retry = request.try_clone().unwrap();
    let first = tokio::spawn(request.send());
    // The client gives up once the reply is being written.
    for _ in 0..500 {
        let all = data(
            app.get(&format!("{}?branch=all", messages(&t)), &ada).await,
            200,
        )
        .await;
        if all.as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    feed.send("done".into()).unwrap();
    drop(feed);
    // Once the reply has ended, the retry is answered with the first response.
    let mut replayed = None;
    for _ in 0..500 {
        let response = retry.try_clone().unwrap().send().await.unwrap();
        if response.status() == 409 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        assert_eq!(response.headers()["idempotent-replayed"], "true");
        replayed = Some(data(response, 201).await);
        break;
    }
    let replayed = replayed.expect("the retry was answered");
    assert_eq!(replayed["userMessage"]["content"], "slow");
    assert_eq!(replayed["assistantMessage"]["status"], "complete");
    assert_eq!(replayed["assistantMessage"]["content"], "done");
    let all = data(
        app.get(&format!("{}?branch=all", messages(&t)), &ada).await,
        200,
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}
