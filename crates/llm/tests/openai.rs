//! The OpenAI-compatible provider against a local mock upstream: the real
//! async-openai path, streaming and every failure mode included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// Under `openai/` so Cargo does not build it as a test binary of its own.
#[path = "openai/mock.rs"]
mod mock;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::Notify;
use xl_llm::{
    ChatChunk, ChatMessage, ChatProvider, ChatRequest, ChunkStream, FinishReason, LlmError,
    OpenAiConfig, OpenAiProvider, Usage, count_message_tokens, count_tokens,
};

use mock::{KEY, Mock, Reply, Step, chunk, completion, error, text, usage_chunk};

fn request() -> ChatRequest {
    ChatRequest::new(
        "gpt-4o",
        vec![
            ChatMessage::system("be brief"),
            ChatMessage::user("say hello"),
        ],
    )
}

/// Every item of a stream, with a deadline so a hang fails the test.
async fn collect(stream: ChunkStream) -> Vec<Result<ChatChunk, LlmError>> {
    tokio::time::timeout(Duration::from_secs(10), stream.collect())
        .await
        .expect("the stream ended")
}

fn delta(text: &str) -> ChatChunk {
    ChatChunk::Delta(text.to_owned())
}

/// The items as comparable text: deltas, a finish, or an error variant.
fn describe(items: &[Result<ChatChunk, LlmError>]) -> Vec<String> {
    items
        .iter()
        .map(|item| match item {
            Ok(ChatChunk::Delta(text)) => format!("delta {text}"),
            Ok(ChatChunk::Choice(choice)) => format!("choice {}", choice.index),
            Ok(ChatChunk::Finish { reason, .. }) => format!("finish {reason:?}"),
            Err(LlmError::Upstream(_)) => "err upstream".to_owned(),
            Err(LlmError::Timeout) => "err timeout".to_owned(),
            Err(other) => format!("err {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn complete_returns_the_reply_and_its_usage() {
    let mock = Mock::start(|_, _| Reply::Json(200, completion("Hello!", Some((11, 2))))).await;
    let mut req = request();
    req.temperature = Some(0.2);
    req.extra.insert("top_k".into(), json!(40));
    let reply = mock.provider().complete(&req).await.unwrap();

    assert_eq!(reply.content(), "Hello!");
    assert_eq!(reply.finish_reason(), FinishReason::Stop);
    assert_eq!(reply.usage, Usage::new(11, 2));
    assert_eq!(reply.id, "chatcmpl-mock");
    assert_eq!(reply.model, "gpt-4o-2024-08-06");
    assert_eq!(reply.system_fingerprint.as_deref(), Some("fp_mock"));
    assert_eq!(mock.hits(), 1);

    let seen = &mock.seen()[0];
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.authorization, format!("Bearer {KEY}"));
    assert_eq!(seen.body["model"], "gpt-4o");
    assert_eq!(seen.body["messages"][1]["content"], "say hello");
    assert_eq!(seen.body["temperature"], json!(0.2));
    assert_eq!(seen.body["top_k"], 40, "vendor parameters pass through");
    assert!(seen.body.get("stream").is_none());
    assert!(seen.body.get("stream_options").is_none());
}

#[tokio::test]
async fn missing_usage_is_counted_locally() {
    let mock = Mock::start(|_, _| Reply::Json(200, completion("Hello there!", None))).await;
    let req = request();
    let reply = mock.provider().complete(&req).await.unwrap();
    let expected = Usage::new(
        count_message_tokens("gpt-4o", &req.messages) as u32,
        count_tokens("gpt-4o", "Hello there!") as u32,
    );
    assert_eq!(reply.usage, expected);
}

#[tokio::test]
async fn stream_yields_deltas_as_they_arrive_then_finish_with_usage() {
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
    let mut stream = mock.provider().stream(&request()).await.unwrap();

    // The first delta arrives while the mock is still holding the rest back,
    // so nothing is buffered on the way.
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the first delta came before the rest was sent");
    assert_eq!(first.unwrap().unwrap(), delta("Hel"));
    go.notify_one();

    let rest = collect(stream).await;
    assert_eq!(describe(&rest), ["delta lo", "delta  world", "finish Stop"]);
    assert!(matches!(
        rest.last(),
        Some(Ok(ChatChunk::Finish { usage: Some(u), .. })) if *u == Usage::new(9, 3)
    ));
    assert_eq!(mock.hits(), 1);
    let body = &mock.seen()[0].body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn a_stream_without_usage_is_counted_locally() {
    let mock = Mock::start(|_, _| {
        Reply::Sse(vec![
            text("Hello"),
            text(" there"),
            chunk(json!({}), Some("length")),
            Step::Raw("[DONE]"),
        ])
    })
    .await;
    let req = request();
    let items = collect(mock.provider().stream(&req).await.unwrap()).await;
    let expected = Usage::new(
        count_message_tokens("gpt-4o", &req.messages) as u32,
        count_tokens("gpt-4o", "Hello there") as u32,
    );
    assert!(matches!(
        items.last(),
        Some(Ok(ChatChunk::Finish { reason: FinishReason::Length, usage: Some(u) })) if *u == expected
    ));
}

#[tokio::test]
async fn tool_calls_stream_as_choice_fragments() {
    let mock = Mock::start(|_, _| {
        Reply::Sse(vec![
            chunk(
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function",
                     "function": {"name": "lookup", "arguments": ""}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"q\":1}"}}]}),
                None,
            ),
            chunk(json!({}), Some("tool_calls")),
            Step::Raw("[DONE]"),
        ])
    })
    .await;
    let items = collect(mock.provider().stream(&request()).await.unwrap()).await;
    assert_eq!(
        describe(&items),
        ["choice 0", "choice 0", "finish ToolCalls"]
    );
    let Ok(ChatChunk::Choice(first)) = &items[0] else {
        panic!("{items:?}")
    };
    assert_eq!(first.delta.tool_calls[0].id.as_deref(), Some("call_1"));
}

#[tokio::test]
async fn a_429_is_retried_then_succeeds() {
    let mock = Mock::start(|n, _| match n {
        0 => Reply::Json(
            429,
            error("slow down", "requests", Some("rate_limit_exceeded")),
        ),
        _ => Reply::Json(200, completion("ok", Some((1, 1)))),
    })
    .await;
    let reply = mock.provider().complete(&request()).await.unwrap();
    assert_eq!(reply.content(), "ok");
    assert_eq!(mock.hits(), 2);
}

#[tokio::test]
async fn two_500s_are_retried_then_succeed() {
    let mock = Mock::start(|n, _| match n {
        0 | 1 => Reply::Json(500, error("boom", "server_error", None)),
        _ => Reply::Json(200, completion("ok", Some((1, 1)))),
    })
    .await;
    let reply = mock.provider().complete(&request()).await.unwrap();
    assert_eq!(reply.content(), "ok");
    assert_eq!(mock.hits(), 3);
}

#[tokio::test]
async fn a_stream_is_retried_before_its_first_byte() {
    let mock = Mock::start(|n, _| match n {
        0 => Reply::Text(503, "<html>busy</html>"),
        _ => Reply::Sse(vec![
            text("hi"),
            chunk(json!({}), Some("stop")),
            Step::Raw("[DONE]"),
        ]),
    })
    .await;
    let items = collect(mock.provider().stream(&request()).await.unwrap()).await;
    assert_eq!(describe(&items), ["delta hi", "finish Stop"]);
    assert_eq!(mock.hits(), 2);
}

#[tokio::test]
async fn persistent_500s_give_up_as_upstream_errors() {
    let mock = Mock::start(|_, _| Reply::Text(500, "<html>\nInternal error\n</html>")).await;
    let err = mock.provider().complete(&request()).await.unwrap_err();
    let LlmError::Upstream(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("500"), "{message}");
    assert!(
        !message.contains('\n') && !message.contains(KEY),
        "{message}"
    );
    assert_eq!(mock.hits(), 3, "the first attempt and two retries");

    let err = mock.provider().stream(&request()).await.err().unwrap();
    assert!(matches!(err, LlmError::Upstream(_)), "{err:?}");
    assert_eq!(mock.hits(), 6);
}

#[tokio::test]
async fn persistent_429s_give_up_as_rate_limited() {
    let mock = Mock::start(|_, _| Reply::Json(429, error("slow down", "requests", None))).await;
    let provider = mock.provider_with(|c| c.max_retries = 1);
    let err = provider.complete(&request()).await.unwrap_err();
    assert!(matches!(err, LlmError::RateLimited), "{err:?}");
    assert_eq!(mock.hits(), 2);
}

#[tokio::test]
async fn a_slow_upstream_times_out_without_retrying() {
    let mock = Mock::start(|_, _| {
        Reply::Delayed(
            Duration::from_secs(3),
            Box::new(Reply::Json(200, completion("late", None))),
        )
    })
    .await;
    let provider = mock.provider_with(|c| c.timeout = Duration::from_millis(300));
    let err = provider.complete(&request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Timeout), "{err:?}");
    let err = provider.stream(&request()).await.err().unwrap();
    assert!(matches!(err, LlmError::Timeout), "{err:?}");
    assert_eq!(mock.hits(), 2, "one attempt per call");
}

#[tokio::test]
async fn a_stalled_stream_ends_with_a_timeout() {
    let mock = Mock::start(|_, _| {
        Reply::Sse(vec![
            text("a"),
            Step::Pause(Duration::from_secs(3)),
            text("b"),
        ])
    })
    .await;
    let provider = mock.provider_with(|c| c.timeout = Duration::from_millis(300));
    let items = collect(provider.stream(&request()).await.unwrap()).await;
    assert_eq!(describe(&items), ["delta a", "err timeout"]);
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn a_malformed_chunk_ends_the_stream_with_an_error() {
    let mock = Mock::start(|_, _| {
        Reply::Sse(vec![
            text("a"),
            text("b"),
            Step::Raw("{\"choices\": [{\"delta\": "),
            text("c"),
            chunk(json!({}), Some("stop")),
            Step::Raw("[DONE]"),
        ])
    })
    .await;
    let items = collect(mock.provider().stream(&request()).await.unwrap()).await;
    assert_eq!(describe(&items), ["delta a", "delta b", "err upstream"]);
    assert_eq!(mock.hits(), 1, "no retry once the stream has begun");
}

#[tokio::test]
async fn a_connection_closed_mid_stream_ends_it_with_an_error() {
    // The mock breaks the connection only once the test has read the
    // deltas, so they were surely sent before the break.
    let go = Arc::new(Notify::new());
    let gate = Arc::clone(&go);
    let mock = Mock::start(move |_, _| {
        Reply::Sse(vec![
            text("a"),
            text("b"),
            Step::WaitFor(Arc::clone(&gate)),
            Step::Abort,
        ])
    })
    .await;
    let mut stream = mock.provider().stream(&request()).await.unwrap();
    let mut items = vec![stream.next().await.unwrap(), stream.next().await.unwrap()];
    go.notify_one();
    items.extend(collect(stream).await);
    assert_eq!(describe(&items), ["delta a", "delta b", "err upstream"]);
    let Err(LlmError::Upstream(message)) = &items[2] else {
        unreachable!()
    };
    assert!(message.contains("broke"), "{message}");
    assert_eq!(mock.hits(), 1, "no retry once the stream has begun");
}

#[tokio::test]
async fn a_stream_that_ends_unfinished_is_an_error() {
    // A clean end of the body, but no finish reason and no [DONE].
    let mock = Mock::start(|_, _| Reply::Sse(vec![text("a")])).await;
    let items = collect(mock.provider().stream(&request()).await.unwrap()).await;
    assert_eq!(describe(&items), ["delta a", "err upstream"]);
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn an_sse_error_event_ends_the_stream_with_an_error() {
    let mock = Mock::start(|_, _| {
        Reply::Sse(vec![
            text("a"),
            Step::Event(
                "error",
                error("The server is overloaded", "server_error", None),
            ),
            text("b"),
        ])
    })
    .await;
    let items = collect(mock.provider().stream(&request()).await.unwrap()).await;
    assert_eq!(describe(&items), ["delta a", "err upstream"]);
    let Err(LlmError::Upstream(message)) = &items[1] else {
        unreachable!()
    };
    assert!(message.contains("The server is overloaded"), "{message}");
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn an_unknown_model_is_reported_as_such() {
    let mock = Mock::start(|_, _| {
        Reply::Json(
            404,
            error(
                "The model `gpt-9` does not exist",
                "invalid_request_error",
                Some("model_not_found"),
            ),
        )
    })
    .await;
    let mut req = request();
    req.model = "gpt-9".into();
    let err = mock.provider().complete(&req).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::UnknownModel(m) if m == "gpt-9"),
        "{err:?}"
    );
    let err = mock.provider().stream(&req).await.err().unwrap();
    assert!(
        matches!(&err, LlmError::UnknownModel(m) if m == "gpt-9"),
        "{err:?}"
    );
    assert_eq!(mock.hits(), 2, "a 404 is not retried");
}

#[tokio::test]
async fn a_bad_request_keeps_the_upstream_reason() {
    let mock = Mock::start(|_, _| {
        Reply::Json(
            400,
            error(
                "This model's maximum context length is 128000 tokens.",
                "invalid_request_error",
                Some("context_length_exceeded"),
            ),
        )
    })
    .await;
    let err = mock.provider().complete(&request()).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::InvalidRequest(m) if m.contains("maximum context length")),
        "{err:?}"
    );
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn invalid_requests_never_reach_the_upstream() {
    let mock = Mock::start(|_, _| Reply::Json(200, completion("ok", None))).await;
    let mut req = request();
    req.temperature = Some(3.0);
    let err = mock.provider().complete(&req).await.unwrap_err();
    assert!(matches!(err, LlmError::InvalidRequest(_)), "{err:?}");
    assert_eq!(mock.hits(), 0);
}

#[tokio::test]
async fn models_are_listed_with_their_context_length() {
    let mock = Mock::start(|_, _| {
        Reply::Json(
            200,
            json!({"object": "list", "data": [
                {"id": "gpt-4o", "object": "model", "created": 1_715_367_049, "owned_by": "system"},
                {"id": "llama-3.1-8b", "object": "model", "max_model_len": 8192},
                {"id": "mystery", "object": "model"}
            ]}),
        )
    })
    .await;
    let models = mock.provider().list_models().await.unwrap();
    assert_eq!(mock.seen()[0].path, "/v1/models");
    let summary: Vec<(&str, &str, u32)> = models
        .iter()
        .map(|m| (m.id.as_str(), m.owned_by.as_str(), m.context_length))
        .collect();
    assert_eq!(
        summary,
        [
            ("gpt-4o", "system", 128_000),
            ("llama-3.1-8b", "mock", 8192),
            ("mystery", "mock", 0)
        ]
    );
    assert_eq!(models[0].created, 1_715_367_049);
}

#[tokio::test]
async fn an_unreachable_upstream_is_retried_then_reported() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = OpenAiConfig {
        max_retries: 1,
        initial_backoff: Duration::from_millis(10),
        ..OpenAiConfig::new(KEY, format!("http://127.0.0.1:{port}/v1"))
    };
    let provider = OpenAiProvider::new(config, mock::http_client()).unwrap();
    let err = provider.complete(&request()).await.unwrap_err();
    assert!(
        matches!(&err, LlmError::Upstream(m) if m.contains("connect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_up_front() {
    let http = mock::http_client();
    for config in [
        OpenAiConfig::new(KEY, "not a url"),
        OpenAiConfig::new(KEY, "ftp://example.com/v1"),
        OpenAiConfig::new("sk-line\nbreak", "http://localhost/v1"),
    ] {
        assert!(matches!(
            OpenAiProvider::new(config, http.clone()),
            Err(LlmError::InvalidRequest(_))
        ));
    }
}
