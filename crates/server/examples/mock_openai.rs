//! A mock OpenAI upstream for `scripts/bench/streaming`: every streamed chat
//! completion is `MOCK_CHUNKS` text chunks, the first at once and the rest
//! `MOCK_PACE_MS` apart, then a finish chunk, a usage chunk and `[DONE]`.
//!
//! Each chunk's text is `t=<Unix time in ns when it was written> `, so a
//! client on the same machine can tell how long the chunk took to reach it,
//! whether it came straight from here or through the server.
//!
//!   MOCK_BIND=127.0.0.1:8789 MOCK_CHUNKS=50 MOCK_PACE_MS=20 mock_openai

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::web::{self, Bytes};
use actix_web::{App, HttpResponse, HttpServer};
use serde_json::{Value, json};

#[derive(Clone, Copy)]
struct Pace {
    chunks: usize,
    pace: Duration,
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn frame(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

fn chunk(model: &str, delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    })
}

async fn chat(body: web::Json<Value>, pace: web::Data<Pace>) -> HttpResponse {
    let model = body["model"].as_str().unwrap_or("mock").to_owned();
    let Pace { chunks, pace } = **pace;
    if body["stream"] != true {
        return HttpResponse::Ok().json(json!({
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
        }));
    }
    let frames = futures_util::stream::unfold(0usize, move |n| {
        let model = model.clone();
        async move {
            let bytes = if n < chunks {
                if n > 0 {
                    tokio::time::sleep(pace).await;
                }
                let mut delta = json!({"content": format!("t={} ", unix_nanos())});
                if n == 0 {
                    delta["role"] = json!("assistant");
                }
                frame(&chunk(&model, delta, None))
            } else if n == chunks {
                let finish = frame(&chunk(&model, json!({}), Some("stop")));
                let usage = frame(&json!({
                    "id": "chatcmpl-bench",
                    "object": "chat.completion.chunk",
                    "created": 1_700_000_000,
                    "model": model,
                    "choices": [],
                    "usage": {"prompt_tokens": 10, "completion_tokens": chunks,
                              "total_tokens": 10 + chunks}
                }));
                let mut both = finish.to_vec();
                both.extend_from_slice(&usage);
                both.extend_from_slice(b"data: [DONE]\n\n");
                Bytes::from(both)
            } else {
                return None;
            };
            Some((Ok::<_, std::convert::Infallible>(bytes), n + 1))
        }
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(frames)
}

async fn models() -> HttpResponse {
    HttpResponse::Ok().json(json!({"object": "list", "data": [
        {"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "mock"}
    ]}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::var("MOCK_BIND").unwrap_or_else(|_| "127.0.0.1:8789".to_owned());
    let pace = Pace {
        chunks: usize::try_from(env_number("MOCK_CHUNKS", 50)).unwrap_or(50),
        pace: Duration::from_millis(env_number("MOCK_PACE_MS", 20)),
    };
    let workers = usize::try_from(env_number("MOCK_WORKERS", 1)).unwrap_or(1);
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(pace))
            .app_data(web::JsonConfig::default().limit(1 << 20))
            .route("/v1/chat/completions", web::post().to(chat))
            .route("/v1/models", web::get().to(models))
    })
    .workers(workers)
    // As the server does, so the baseline is not held up by Nagle's
    // algorithm either.
    .tcp_nodelay(true)
    .bind(bind)?
    .run()
    .await
}
