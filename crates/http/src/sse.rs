//! Server-sent events: the frame format, and a response body that turns a
//! stream of thread events into frames with periodic keep-alive comments.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use xl_domain::events::ThreadEvent;
use xl_services::ServiceError;
use xl_services::events::EventStream;
use xl_services::feed::{FeedCursor, FeedStream};

use crate::ApiError;

/// How often an idle stream sends a comment, so that proxies and clients do
/// not time the connection out while a model is thinking, and so that the
/// server notices a client that has gone (actix finds out only when it
/// writes, and until then keeps the stream and its subscription).
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One event frame: `id`, `event` and one `data` line per line of `data`
/// (JSON from serde has none, but the format requires it of any text).
pub fn frame(id: &str, event: &str, data: &str) -> Bytes {
    let mut out = format!("id: {id}\nevent: {event}\n");
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

/// `?after=N` on an event stream.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResumeQuery {
    /// Resume after this event (`Last-Event-ID` wins when both are sent).
    after: Option<String>,
}

/// The resume position a client sent: `Last-Event-ID`, else `?after=`,
/// with the name of where it came from; `None` for neither (or empty).
fn resume_raw<'a>(
    req: &'a HttpRequest,
    query: &'a ResumeQuery,
) -> Result<Option<(&'static str, &'a str)>, ApiError> {
    let (field, raw) = match req.headers().get("last-event-id") {
        Some(value) => (
            "Last-Event-ID",
            value
                .to_str()
                .map_err(|_| ApiError::invalid_field("Last-Event-ID", "must be ASCII"))?,
        ),
        None => ("after", query.after.as_deref().unwrap_or("")),
    };
    let raw = raw.trim();
    Ok((!raw.is_empty()).then_some((field, raw)))
}

/// Where a client resumes a thread's stream: a non-negative event sequence
/// number, or 0 (from the start); anything else is a 400 naming where it
/// came from.
pub fn resume_position(req: &HttpRequest, query: &ResumeQuery) -> Result<i64, ApiError> {
    let Some((field, raw)) = resume_raw(req, query)? else {
        return Ok(0);
    };
    raw.parse::<i64>()
        .ok()
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| ApiError::invalid_field(field, "must be an event id from this stream"))
}

/// Where a client resumes its feed: the cursor of the last event it got.
pub fn resume_cursor(
    req: &HttpRequest,
    query: &ResumeQuery,
) -> Result<Option<FeedCursor>, ApiError> {
    match resume_raw(req, query)? {
        Some((field, raw)) => Ok(Some(FeedCursor::parse(field, raw)?)),
        None => Ok(None),
    }
}

/// A comment frame, which clients ignore.
pub fn comment(text: &str) -> Bytes {
    Bytes::from(format!(": {text}\n\n"))
}

/// The frame of a thread event: `id` is its sequence number, `data` the
/// whole event as JSON.
pub fn event_frame(id: &str, event: &ThreadEvent) -> Bytes {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned());
    frame(id, &event.kind, &data)
}

/// Events, each with the `id` that resumes right after it.
type Identified = BoxStream<'static, Result<(String, ThreadEvent), ServiceError>>;

struct Body {
    events: Identified,
    keep_alive: Interval,
    _open: crate::metrics::OpenStream,
}

/// Frames for the events, with a keep-alive comment after every
/// `keep_alive` without an event; ends when the events end. A failure to
/// read more events ends the stream (logged): the client reconnects with
/// `Last-Event-ID` and misses nothing.
fn frames(
    events: Identified,
    keep_alive: Duration,
) -> impl Stream<Item = Result<Bytes, Infallible>> + 'static {
    let mut interval = tokio::time::interval_at(Instant::now() + keep_alive, keep_alive);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let body = Body {
        events,
        keep_alive: interval,
        _open: crate::metrics::OpenStream::new("sse"),
    };
    futures_util::stream::unfold(body, |mut body| async move {
        tokio::select! {
            next = body.events.next() => match next {
                Some(Ok((id, event))) => {
                    body.keep_alive.reset();
                    Some((Ok(event_frame(&id, &event)), body))
                }
                Some(Err(err)) => {
                    tracing::error!(error = %crate::error::error_chain(&err), "an event stream failed");
                    None
                }
                None => None,
            },
            _ = body.keep_alive.tick() => Some((Ok(comment("keep-alive")), body)),
        }
    })
}

/// A `text/event-stream` response over a thread's events (`id` is the
/// event's `seq`), with keep-alive comments every `keep_alive`.
pub fn response(events: EventStream, keep_alive: Duration) -> HttpResponse {
    let identified = events.map(|next| next.map(|event| (event.seq.to_string(), event)));
    stream_response(Box::pin(identified), keep_alive)
}

/// The same over the caller's feed, whose `id` is the feed's cursor.
pub fn feed_response(events: FeedStream, keep_alive: Duration) -> HttpResponse {
    stream_response(events, keep_alive)
}

fn stream_response(events: Identified, keep_alive: Duration) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Tells nginx-style proxies not to buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(frames(events, keep_alive))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_the_event_stream_format() {
        assert_eq!(
            frame("7", "message.delta", r#"{"delta":"hi"}"#),
            Bytes::from("id: 7\nevent: message.delta\ndata: {\"delta\":\"hi\"}\n\n")
        );
        assert_eq!(
            frame("1", "x", "a\nb"),
            Bytes::from("id: 1\nevent: x\ndata: a\ndata: b\n\n")
        );
        assert_eq!(comment("keep-alive"), Bytes::from(": keep-alive\n\n"));
    }

    #[tokio::test]
    async fn idle_streams_get_keep_alive_comments_and_end_with_the_events() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<ThreadEvent>();
        let events: Identified = Box::pin(futures_util::stream::unfold(rx, |mut rx| async {
            rx.recv()
                .await
                .map(|event| (Ok((event.seq.to_string(), event)), rx))
        }));
        let mut body = Box::pin(frames(events, Duration::from_millis(10)));
        let first = body.next().await.unwrap().unwrap();
        assert_eq!(first, comment("keep-alive"));
        tx.send(ThreadEvent {
            seq: 3,
            thread_id: xl_domain::ThreadId::new(),
            kind: "message.delta".into(),
            message_id: None,
            actor_id: None,
            payload: serde_json::json!({"delta": "a"}),
            created_at: chrono::Utc::now(),
        })
        .unwrap();
        let frame = body.next().await.unwrap().unwrap();
        let text = String::from_utf8(frame.to_vec()).unwrap();
        assert!(
            text.starts_with("id: 3\nevent: message.delta\ndata: {"),
            "{text}"
        );
        drop(tx);
        assert!(body.next().await.is_none());
    }
}
