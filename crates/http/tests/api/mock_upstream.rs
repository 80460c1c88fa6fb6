//! A local upstream speaking OpenAI's wire format, scripted per test: a real
//! actix-web server on 127.0.0.1:0 that counts and records every request.
//! Copied from xl-llm's tests (a test module of another crate cannot be
//! imported), trimmed to what the HTTP tests use.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, HttpServer};
use serde_json::{Value, json};
use tokio::sync::Notify;
use xl_llm::{OpenAiConfig, OpenAiProvider};

/// The key the provider is configured with.
pub const KEY: &str = "sk-test-0123456789abcdef";

/// What the mock answers to one request.
pub enum Reply {
    /// A JSON body with a status.
    Json(u16, Value),
    /// A non-JSON body with a status.
    Text(u16, &'static str),
    /// A `text/event-stream` answer, step by step.
    Sse(Vec<Step>),
    /// The reply, after a delay.
    Delayed(Duration, Box<Reply>),
}

/// One step of a streamed answer.
pub enum Step {
    /// `data: …` (a JSON value).
    Data(Value),
    /// `data: …` verbatim, for malformed chunks and `[DONE]`.
    Raw(&'static str),
    /// `event: <name>` with JSON data.
    Event(&'static str, Value),
    /// Waits until the test says go, proving earlier steps were delivered
    /// before later ones were written.
    WaitFor(Arc<Notify>),
    /// Breaks the connection without finishing the body.
    Abort,
}

/// A request as the mock saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub authorization: String,
    pub body: Value,
}

type Script = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

struct State {
    hits: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    script: Box<Script>,
}

/// A running mock upstream.
pub struct Mock {
    pub base_url: String,
    state: Arc<State>,
}

impl Mock {
    /// Starts a mock answering request number `n` (0-based) with
    /// `script(n, request)`.
    pub async fn start(script: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Mock {
        let state = Arc::new(State {
            hits: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            script: Box::new(script),
        });
        let data = web::Data::from(Arc::clone(&state));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .default_service(web::to(handle))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Mock { base_url, state }
    }

    /// How many requests arrived.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Every request, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// A provider for this mock with its configuration adjusted.
    pub fn provider_with(&self, adjust: impl FnOnce(&mut OpenAiConfig)) -> OpenAiProvider {
        let mut config = OpenAiConfig {
            // Named like the real provider, so the registry's OpenAI models
            // are merged into its model list.
            name: "openai".into(),
            timeout: Duration::from_secs(2),
            max_retries: 2,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            ..OpenAiConfig::new(KEY, &self.base_url)
        };
        adjust(&mut config);
        OpenAiProvider::new(config, xl_services::http_client()).unwrap()
    }
}

async fn handle(request: HttpRequest, body: Bytes, state: web::Data<State>) -> HttpResponse {
    let n = state.hits.fetch_add(1, Ordering::SeqCst);
    let seen = Seen {
        path: request.path().to_owned(),
        authorization: request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    state.seen.lock().unwrap().push(seen.clone());
    let mut reply = (state.script)(n, &seen);
    while let Reply::Delayed(delay, inner) = reply {
        tokio::time::sleep(delay).await;
        reply = *inner;
    }
    match reply {
        Reply::Json(status, body) => HttpResponse::build(status_code(status)).json(body),
        Reply::Text(status, body) => HttpResponse::build(status_code(status))
            .content_type("text/html")
            .body(body),
        Reply::Sse(steps) => HttpResponse::Ok()
            .content_type("text/event-stream")
            .streaming(sse(steps)),
        Reply::Delayed(..) => unreachable!(),
    }
}

fn status_code(status: u16) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(status).unwrap()
}

fn sse(
    steps: Vec<Step>,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
    futures_util::stream::unfold(steps.into_iter(), |mut steps| async move {
        loop {
            let frame = match steps.next()? {
                Step::Data(value) => format!("data: {value}\n\n"),
                Step::Raw(text) => format!("data: {text}\n\n"),
                Step::Event(name, value) => format!("event: {name}\ndata: {value}\n\n"),
                Step::WaitFor(go) => {
                    go.notified().await;
                    continue;
                }
                Step::Abort => {
                    let err = actix_web::error::ErrorInternalServerError("mock abort");
                    // Nothing follows an error: the stream is over.
                    return Some((Err(err), Vec::new().into_iter()));
                }
            };
            return Some((Ok(Bytes::from(frame)), steps));
        }
    })
}

/// A `chat.completion` with one choice.
pub fn completion(content: &str, usage: Option<(u32, u32)>) -> Value {
    let mut body = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-2024-08-06",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "system_fingerprint": "fp_mock"
    });
    if let Some((prompt, completion)) = usage {
        body["usage"] = json!({
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0}
        });
    }
    body
}

/// A `chat.completion.chunk` with a delta for choice 0.
pub fn chunk(delta: Value, finish_reason: Option<&str>) -> Step {
    Step::Data(json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        "usage": null
    }))
}

/// A text delta chunk.
pub fn text(content: &str) -> Step {
    chunk(json!({"content": content}), None)
}

/// The usage chunk OpenAI sends last with `include_usage`.
pub fn usage_chunk(prompt: u32, completion: u32) -> Step {
    Step::Data(json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-2024-08-06",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion}
    }))
}

/// OpenAI's error body.
pub fn error(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
