//! Turns an upstream `chat.completion.chunk` stream into [`ChatChunk`]s.
//!
//! Deltas pass on as they arrive. Whatever goes wrong after the first byte
//! (a broken connection, a chunk that does not parse, an `error` event, an
//! end without a finish reason, a stall longer than the timeout) becomes one
//! `Err` item, after which the stream ends and the upstream response is
//! dropped, which closes its connection.

use std::collections::VecDeque;
use std::time::Duration;

use async_openai::types::stream::StreamResponse;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;

use super::errors::{Call, error_message, excerpt, map_error};
use crate::tokens::{count_message_tokens, count_tokens};
use crate::{
    ChatChunk, ChatMessage, ChoiceDelta, ChunkStream, FinishReason, LlmError, MessageDelta, Usage,
};

/// One upstream event's data. Every field is optional because servers
/// differ; what a chunk must contain is checked in [`ChunkAdapter::absorb`].
#[derive(Debug, Deserialize)]
pub(crate) struct UpstreamChunk {
    #[serde(default)]
    choices: Option<Vec<ChoiceDelta>>,
    #[serde(default)]
    usage: Option<Usage>,
    /// OpenAI, vLLM and LiteLLM report a failure after the first byte as an
    /// event whose data is an error object.
    #[serde(default)]
    error: Option<Value>,
}

/// The state of one adapted stream.
pub(crate) struct ChunkAdapter {
    upstream: StreamResponse<UpstreamChunk>,
    /// Chunks made from one upstream event and not yet handed out.
    pending: VecDeque<ChatChunk>,
    /// The longest wait for the next event.
    idle_timeout: Duration,
    /// Why the first choice ended, held back until the upstream ends so that
    /// a trailing usage chunk can ride on [`ChatChunk::Finish`].
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    /// The generated text, to count usage when the upstream does not say.
    generated: String,
    model: String,
    messages: Vec<ChatMessage>,
    secret: String,
    done: bool,
}

impl ChunkAdapter {
    pub(crate) fn new(
        upstream: StreamResponse<UpstreamChunk>,
        idle_timeout: Duration,
        model: String,
        messages: Vec<ChatMessage>,
        secret: String,
    ) -> Self {
        ChunkAdapter {
            upstream,
            pending: VecDeque::new(),
            idle_timeout,
            finish: None,
            usage: None,
            generated: String::new(),
            model,
            messages,
            secret,
            done: false,
        }
    }

    /// The adapted stream.
    pub(crate) fn into_stream(self) -> ChunkStream {
        Box::pin(futures_util::stream::unfold(self, |mut state| async move {
            let item = state.next_item().await?;
            Some((item, state))
        }))
    }

    async fn next_item(&mut self) -> Option<Result<ChatChunk, LlmError>> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Some(Ok(chunk));
            }
            if self.done {
                return None;
            }
            let Ok(event) = tokio::time::timeout(self.idle_timeout, self.upstream.next()).await
            else {
                return Some(self.fail(LlmError::Timeout));
            };
            match event {
                None => {
                    self.done = true;
                    return Some(self.end());
                }
                Some(Err(err)) => {
                    let call = Call::Chat { model: &self.model };
                    let err = map_error(err, call, &self.secret);
                    return Some(self.fail(err));
                }
                Some(Ok(chunk)) => {
                    if let Err(err) = self.absorb(chunk) {
                        return Some(self.fail(err));
                    }
                }
            }
        }
    }

    /// Ends the stream with `err`, dropping the upstream response so its
    /// connection closes now rather than when the consumer lets go.
    fn fail(&mut self, err: LlmError) -> Result<ChatChunk, LlmError> {
        self.done = true;
        self.pending.clear();
        self.upstream = Box::pin(futures_util::stream::empty());
        Err(err)
    }

    /// The upstream ended: a reply that never said why it finished was cut
    /// off (`[DONE]` and a clean close look alike from here).
    fn end(&mut self) -> Result<ChatChunk, LlmError> {
        let Some(reason) = self.finish else {
            return Err(LlmError::Upstream(
                "the stream from the model provider ended before the reply was finished".into(),
            ));
        };
        let usage = self.usage.unwrap_or_else(|| {
            let prompt = count_message_tokens(&self.model, &self.messages);
            let completion = count_tokens(&self.model, &self.generated);
            Usage::from_counts(prompt, completion)
        });
        Ok(ChatChunk::Finish {
            reason,
            usage: Some(usage),
        })
    }

    /// Queues what one upstream event adds.
    fn absorb(&mut self, chunk: UpstreamChunk) -> Result<(), LlmError> {
        if let Some(error) = chunk.error {
            let message = error_message(&error).unwrap_or_else(|| "unknown error".into());
            return Err(LlmError::Upstream(format!(
                "the model provider failed mid-stream: {}",
                excerpt(&message, &self.secret)
            )));
        }
        if let Some(usage) = chunk.usage.filter(Usage::is_reported) {
            self.usage = Some(usage);
        }
        let Some(choices) = chunk.choices else {
            if chunk.usage.is_none() {
                return Err(LlmError::Upstream(
                    "the model provider sent a chunk with neither choices nor usage".into(),
                ));
            }
            return Ok(());
        };
        for choice in choices {
            self.absorb_choice(choice);
        }
        Ok(())
    }

    fn absorb_choice(&mut self, choice: ChoiceDelta) {
        let delta = &choice.delta;
        if let Some(text) = &delta.content {
            self.generated.push_str(text);
        }
        for call in &delta.tool_calls {
            if let Some(arguments) = call.function.as_ref().and_then(|f| f.arguments.as_ref()) {
                self.generated.push_str(arguments);
            }
        }
        if choice.index != 0 {
            // Other choices (n > 1) pass on whole, their ends included.
            let has_news = delta.content.is_some()
                || delta.refusal.is_some()
                || !delta.tool_calls.is_empty()
                || choice.finish_reason.is_some();
            if has_news {
                self.pending.push_back(ChatChunk::Choice(choice));
            }
            return;
        }
        if choice.finish_reason.is_some() {
            self.finish = choice.finish_reason;
        }
        let MessageDelta {
            content,
            refusal,
            tool_calls,
            ..
        } = choice.delta;
        if let Some(text) = content.filter(|text| !text.is_empty()) {
            self.pending.push_back(ChatChunk::Delta(text));
        }
        if refusal.is_some() || !tool_calls.is_empty() {
            self.pending.push_back(ChatChunk::Choice(ChoiceDelta {
                index: 0,
                delta: MessageDelta {
                    role: None,
                    content: None,
                    refusal,
                    tool_calls,
                },
                finish_reason: None,
            }));
        }
    }
}
