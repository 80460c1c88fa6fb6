//! A response's stream in OpenAI's typed events, each with its
//! `sequence_number`.
//!
//! The events are a function of what happened to the reply, in order: its
//! start, each text delta, its end (its final text, function calls and
//! status). A stored response's events are derived from its reply's events
//! in the thread's log, which never change, so the same response always
//! numbers its events the same way: a stream that dropped is resumed with
//! `starting_after=N` by deriving them again from the start and sending
//! those after N, with no gap and no duplicate. While this process generates
//! the reply, they are derived from its tape instead, which holds the same
//! deltas as the log before they are committed, so text is sent as the
//! model gives it rather than after the writer's commit. An unstored
//! response's come from the model's chunks as they arrive.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use serde_json::{Map, Value, json};
use tokio::time::{Instant, MissedTickBehavior};
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::{Actor, MessageId};
use xl_llm::{ChatChunk, FinishReason, Usage};
use xl_services::ServiceError;
use xl_services::Services;
use xl_services::assistant::tape::{Said, TapeReader};
use xl_services::completions::CompletionStream;
use xl_services::events::EventStream;
use xl_services::responses::items::ToolCalls;
use xl_services::responses::{ResponseFeed, StoredResponse};

use super::wire::Outcome;
use crate::sse;

/// Numbers and writes typed events; those at or before `skip_through`
/// are numbered but not sent.
pub(super) struct Typed {
    /// The id of the response's message item.
    item_id: String,
    next: i64,
    skip_through: i64,
    message_open: bool,
    out: VecDeque<Bytes>,
}

impl Typed {
    pub(super) fn new(message: MessageId, starting_after: Option<i64>) -> Self {
        Typed {
            item_id: super::wire::msg_id(message),
            next: 0,
            skip_through: starting_after.unwrap_or(-1),
            message_open: false,
            out: VecDeque::new(),
        }
    }

    fn push(&mut self, kind: &str, fields: Value) {
        let seq = self.next;
        self.next += 1;
        if seq <= self.skip_through {
            return;
        }
        let mut object = Map::new();
        object.insert("type".into(), json!(kind));
        object.insert("sequence_number".into(), json!(seq));
        if let Value::Object(fields) = fields {
            object.extend(fields);
        }
        let data = serde_json::to_string(&object).unwrap_or_else(|_| "{}".to_owned());
        self.out
            .push_back(Bytes::from(format!("event: {kind}\ndata: {data}\n\n")));
    }

    /// `response.created` and `response.in_progress`.
    pub(super) fn start(&mut self, outcome: &Outcome<'_>) {
        let started = outcome.started_json();
        self.push("response.created", json!({ "response": started }));
        let mut running = started;
        running["status"] = json!("in_progress");
        self.push("response.in_progress", json!({ "response": running }));
    }

    fn open_message(&mut self) {
        if self.message_open {
            return;
        }
        self.message_open = true;
        let item = json!({
            "id": self.item_id, "type": "message", "status": "in_progress",
            "role": "assistant", "content": [],
        });
        self.push(
            "response.output_item.added",
            json!({ "output_index": 0, "item": item }),
        );
        self.push(
            "response.content_part.added",
            json!({
                "item_id": self.item_id,
                "output_index": 0,
                "content_index": 0,
                "part": super::wire::output_text(""),
            }),
        );
    }

    /// More text.
    pub(super) fn delta(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.open_message();
        self.push(
            "response.output_text.delta",
            json!({
                "item_id": self.item_id,
                "output_index": 0,
                "content_index": 0,
                "delta": text,
                "logprobs": [],
            }),
        );
    }

    /// The end: the message item's closing events, each function call, and
    /// the final status.
    pub(super) fn finish(&mut self, outcome: &Outcome<'_>) {
        let has_message = !outcome.text.is_empty() || outcome.calls.is_empty();
        if has_message {
            self.open_message();
            let id = self.item_id.clone();
            self.push(
                "response.output_text.done",
                json!({
                    "item_id": id, "output_index": 0, "content_index": 0,
                    "text": outcome.text, "logprobs": [],
                }),
            );
            self.push(
                "response.content_part.done",
                json!({
                    "item_id": id, "output_index": 0, "content_index": 0,
                    "part": super::wire::output_text(outcome.text),
                }),
            );
            self.push(
                "response.output_item.done",
                json!({ "output_index": 0, "item": outcome.message_item(outcome.text) }),
            );
        }
        let first = usize::from(has_message);
        for (index, call) in outcome.calls.iter().enumerate() {
            let output_index = first + index;
            let mut added = outcome.call_item(index, call, "in_progress");
            added["arguments"] = json!("");
            let id = added["id"].clone();
            self.push(
                "response.output_item.added",
                json!({ "output_index": output_index, "item": added }),
            );
            self.push(
                "response.function_call_arguments.delta",
                json!({ "item_id": id, "output_index": output_index, "delta": call.arguments }),
            );
            self.push(
                "response.function_call_arguments.done",
                json!({
                    "item_id": id, "output_index": output_index,
                    "name": call.name, "arguments": call.arguments,
                }),
            );
            self.push(
                "response.output_item.done",
                json!({
                    "output_index": output_index,
                    "item": outcome.call_item(index, call, "completed"),
                }),
            );
        }
        let terminal = match outcome.status {
            "completed" => "response.completed",
            "failed" => "response.failed",
            _ => "response.incomplete",
        };
        self.push(terminal, json!({ "response": outcome.to_json() }));
    }

    /// An `error` event, for a stream that cannot go on.
    fn error(&mut self, code: &str, message: &str) {
        self.push(
            "error",
            json!({ "code": code, "message": message, "param": null }),
        );
    }

    fn pop(&mut self) -> Option<Bytes> {
        self.out.pop_front()
    }
}

/// A typed-event body: the frames the source yields, with a keep-alive
/// comment after every `keep_alive` without one.
fn body<S>(source: S, keep_alive: Duration) -> impl Stream<Item = Result<Bytes, Infallible>>
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let mut interval = tokio::time::interval_at(Instant::now() + keep_alive, keep_alive);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let source: BoxStream<'static, Bytes> = Box::pin(source);
    let open = crate::metrics::OpenStream::new("sse");
    futures_util::stream::unfold(
        (source, interval, open),
        |(mut source, mut interval, open)| async move {
            tokio::select! {
                next = source.next() => {
                    interval.reset();
                    next.map(|frame| (Ok(frame), (source, interval, open)))
                }
                _ = interval.tick() => {
                    Some((Ok(sse::comment("keep-alive")), (source, interval, open)))
                }
            }
        },
    )
}

/// A `text/event-stream` answer.
pub(super) fn respond<S>(source: S, keep_alive: Duration) -> HttpResponse
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body(source, keep_alive))
}

/// Where a stored response's stream stands.
struct Stored {
    services: Arc<Services>,
    actor: Actor,
    id: MessageId,
    /// The reply's events in the log; with a tape, only for the news that
    /// the response is gone or out of the caller's reach.
    events: Option<EventStream>,
    /// The reply's deltas and end, while this process generates it.
    tape: Option<TapeReader>,
    response: StoredResponse,
    typed: Typed,
    ended: bool,
}

impl Stored {
    /// Reads the tape or the log until there are frames to send or the
    /// stream ends.
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = self.typed.pop() {
                return Some(frame);
            }
            if self.ended {
                return None;
            }
            match (&mut self.tape, &mut self.events) {
                (Some(tape), Some(events)) => {
                    tokio::select! {
                        biased;
                        said = tape.next() => self.on_said(said).await,
                        event = events.next() => self.on_logged(event).await,
                    }
                }
                (Some(tape), None) => {
                    let said = tape.next().await;
                    self.on_said(said).await;
                }
                (None, Some(events)) => {
                    let event = events.next().await;
                    self.on_logged(event).await;
                }
                (None, None) => self.ended = true,
            }
        }
    }

    async fn on_said(&mut self, said: Option<Said>) {
        match said {
            // A response just created: its reply is in the log now, so the
            // log can say if the conversation goes or the caller loses it.
            Some(Said::Created) => {
                if self.events.is_none() {
                    match self.services.follow_message(&self.actor, self.id, 0).await {
                        Ok(events) => self.events = Some(events),
                        Err(_) => {
                            self.typed.error("not_found", "the response is gone");
                            self.ended = true;
                        }
                    }
                }
            }
            Some(Said::Delta(text)) => self.typed.delta(&text),
            Some(Said::Ended(reply)) => {
                match StoredResponse::from_message(*reply) {
                    Some(ended) => {
                        self.response = ended;
                        self.typed.finish(&Outcome::stored(&self.response));
                    }
                    None => self.typed.error("not_found", "the response is gone"),
                }
                self.ended = true;
            }
            Some(Said::Lost) | None => {
                self.typed.error(
                    "server_error",
                    "the response ended unexpectedly; retrieve it without stream",
                );
                self.ended = true;
            }
        }
    }

    async fn on_logged(&mut self, event: Option<Result<ThreadEvent, ServiceError>>) {
        match event {
            Some(Ok(event)) => self.on_event(&event.kind, &event.payload).await,
            Some(Err(err)) => {
                tracing::error!(error = %crate::error::error_chain(&err), "a response stream failed");
                self.typed.error(
                    "server_error",
                    "the stream failed; resume it with starting_after",
                );
                self.ended = true;
            }
            // With a tape, the follower ends at the reply's final status,
            // which the tape reports itself.
            None if self.tape.is_some() => self.events = None,
            None => self.ended = true,
        }
    }

    async fn on_event(&mut self, kind: &str, payload: &Value) {
        match kind {
            kind::MESSAGE_DELETED | kind::ACCESS_REVOKED => {
                self.typed.error("not_found", "the response is gone");
                self.ended = true;
            }
            // What the tape says comes from it.
            _ if self.tape.is_some() => {}
            kind::MESSAGE_CREATED => {
                let outcome = Outcome::stored(&self.response);
                self.typed.start(&outcome);
            }
            kind::MESSAGE_DELTA => {
                let text = payload["delta"].as_str().unwrap_or_default();
                self.typed.delta(text);
            }
            kind::MESSAGE_COMPLETED => {
                match self.services.get_response(&self.actor, self.id).await {
                    Ok(ended) => {
                        self.response = ended;
                        self.typed.finish(&Outcome::stored(&self.response));
                    }
                    Err(_) => self.typed.error("not_found", "the response is gone"),
                }
                self.ended = true;
            }
            kind::RESET => {
                // The log no longer holds the response's start (pruned after
                // the retention period): its events cannot be numbered again.
                self.typed.error(
                    "stream_expired",
                    "this response's events are no longer kept; retrieve it without stream",
                );
                self.ended = true;
            }
            _ => {}
        }
    }
}

/// The typed events of a stored response after `starting_after`: derived
/// from its tape while this process generates it (the log's events start
/// with its `message.created`, which the tape's reader starts after), else
/// from its events in the log.
pub(super) fn stored(
    services: Arc<Services>,
    actor: Actor,
    response: StoredResponse,
    feed: ResponseFeed,
    starting_after: Option<i64>,
) -> impl Stream<Item = Bytes> + Send + 'static {
    let id = response.reply.id;
    let mut typed = Typed::new(id, starting_after);
    if feed.tape.is_some() {
        typed.start(&Outcome::stored(&response));
    }
    let state = Stored {
        services,
        actor,
        id,
        events: feed.events,
        tape: feed.tape,
        response,
        typed,
        ended: false,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        let frame = state.next_frame().await?;
        Some((frame, state))
    })
}

/// What an unstored response knows as its chunks arrive.
pub(super) struct Unstored {
    /// The response's id.
    pub id: String,
    pub message_id: MessageId,
    pub created_at: i64,
    pub model: String,
    pub settings: Value,
    text: String,
    calls: ToolCalls,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    error: Option<String>,
}

impl Unstored {
    pub(super) fn new(
        message_id: MessageId,
        created_at: i64,
        model: String,
        settings: Value,
    ) -> Self {
        Unstored {
            id: super::wire::resp_id(message_id),
            message_id,
            created_at,
            model,
            settings,
            text: String::new(),
            calls: ToolCalls::default(),
            usage: None,
            finish: None,
            error: None,
        }
    }

    /// The whole answer of a non-streamed call.
    pub(super) fn whole(
        mut self,
        text: String,
        calls: ToolCalls,
        usage: Usage,
        finish: FinishReason,
    ) -> Self {
        self.text = text;
        self.calls = calls;
        self.usage = Some(usage);
        self.finish = Some(finish);
        self
    }

    pub(super) fn outcome(&self, status: &'static str) -> Outcome<'_> {
        Outcome {
            id: self.id.clone(),
            message_id: self.message_id,
            created_at: self.created_at,
            model: &self.model,
            status,
            text: &self.text,
            calls: self.calls.clone().into_items(),
            usage: self.usage,
            error: self.error.as_deref(),
            settings: &self.settings,
            previous: None,
            conversation: None,
        }
    }

    pub(super) fn final_status(&self) -> &'static str {
        if self.finish == Some(FinishReason::Length) {
            "incomplete"
        } else {
            "completed"
        }
    }
}

/// Where an unstored response's stream stands.
struct Live {
    state: Unstored,
    chunks: CompletionStream,
    typed: Typed,
    ended: bool,
    correlation_id: String,
}

impl Live {
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frame) = self.typed.pop() {
                return Some(frame);
            }
            if self.ended {
                return None;
            }
            // The chunk stream is polled to its end (not only to its
            // finish chunk): the call is recorded as complete only then.
            match self.chunks.next().await {
                Some(Ok(ChatChunk::Delta(text))) => {
                    self.state.text.push_str(&text);
                    self.typed.delta(&text);
                }
                Some(Ok(ChatChunk::Choice(choice))) if choice.index == 0 => {
                    for call in &choice.delta.tool_calls {
                        self.state.calls.push(call);
                    }
                }
                Some(Ok(ChatChunk::Choice(_))) => {}
                Some(Ok(ChatChunk::Finish { reason, usage })) => {
                    self.state.finish = Some(reason);
                    self.state.usage = usage.or(self.state.usage);
                }
                Some(Err(err)) => {
                    tracing::warn!(
                        correlation_id = %self.correlation_id,
                        error = %err,
                        "the model provider failed mid-stream"
                    );
                    self.state.error = Some(err.to_string());
                    self.typed.finish(&self.state.outcome("failed"));
                    self.ended = true;
                }
                None => {
                    self.typed
                        .finish(&self.state.outcome(self.state.final_status()));
                    self.ended = true;
                }
            }
        }
    }
}

/// The typed events of an unstored response, from the model's chunks.
pub(super) fn unstored(
    state: Unstored,
    chunks: CompletionStream,
) -> impl Stream<Item = Bytes> + Send + 'static {
    let mut typed = Typed::new(state.message_id, None);
    typed.start(&state.outcome("in_progress"));
    let live = Live {
        state,
        chunks,
        typed,
        ended: false,
        correlation_id: crate::correlation::current_correlation_id(),
    };
    futures_util::stream::unfold(live, |mut live| async move {
        let frame = live.next_frame().await?;
        Some((frame, live))
    })
}
