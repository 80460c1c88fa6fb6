//! The offline `echo` provider: a deterministic reply, streamed word by word.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream;

use crate::tokens::{count_message_tokens, count_tokens};
use crate::{
    ChatChunk, ChatProvider, ChatRequest, ChatResponse, ChatRole, ChunkStream, FinishReason,
    LlmError, ModelInfo, Usage,
};

/// How the echo provider behaves.
#[derive(Clone, Debug)]
pub struct EchoConfig {
    /// Delay before each streamed word (zero streams as fast as possible).
    pub pace: Duration,
    /// Model ids it answers to; any id is accepted when empty.
    pub models: Vec<String>,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            pace: Duration::from_millis(20),
            models: Vec::new(),
        }
    }
}

/// Answers every prompt with `Echo: <last user message>`.
#[derive(Clone, Debug, Default)]
pub struct EchoProvider {
    config: EchoConfig,
}

impl EchoProvider {
    /// An echo provider with the given behaviour.
    pub fn new(config: EchoConfig) -> Self {
        EchoProvider { config }
    }

    fn check_model(&self, model: &str) -> Result<(), LlmError> {
        if self.config.models.is_empty() || self.config.models.iter().any(|m| m == model) {
            Ok(())
        } else {
            Err(LlmError::UnknownModel(model.to_owned()))
        }
    }

    /// The reply for a request, why it ended, and its usage counted with
    /// the model's tokenizer, so echo's usage is comparable to a real model's.
    fn reply(request: &ChatRequest) -> Result<(String, FinishReason, Usage), LlmError> {
        request.validate()?;
        let last_user = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == ChatRole::User)
            .ok_or_else(|| {
                LlmError::InvalidRequest("messages must include a user message".into())
            })?;
        let mut text = format!("Echo: {}", last_user.text().trim());
        let mut completion = count_tokens(&request.model, &text);
        let mut finish = FinishReason::Stop;
        if let Some(max) = request
            .max_output_tokens()
            .map(|max| max as usize)
            .filter(|max| *max < completion)
        {
            // Whole words only, so the stream stays word by word: the longest
            // prefix of words within the limit, found by bisection because a
            // prefix's count is not the sum of its words' counts.
            let ends: Vec<usize> = words(&text)
                .scan(0, |end, word| {
                    *end += word.len();
                    Some(*end)
                })
                .collect();
            let fits = |end: usize| count_tokens(&request.model, text[..end].trim_end()) <= max;
            let kept = ends.partition_point(|&end| fits(end));
            let end = kept.checked_sub(1).map_or(0, |i| ends[i]);
            text.truncate(text[..end].trim_end().len());
            completion = count_tokens(&request.model, &text);
            finish = FinishReason::Length;
        }
        let prompt = count_message_tokens(&request.model, &request.messages);
        Ok((text, finish, Usage::from_counts(prompt, completion)))
    }
}

/// Splits text into words that keep their trailing whitespace, so the pieces
/// concatenate back to the original text.
fn words(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let space_end = rest[word_end..]
            .find(|c: char| !c.is_whitespace())
            .map_or(rest.len(), |i| word_end + i);
        let (word, tail) = rest.split_at(space_end);
        rest = tail;
        Some(word)
    })
}

#[async_trait]
impl ChatProvider for EchoProvider {
    fn name(&self) -> &str {
        "echo"
    }

    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.check_model(&request.model)?;
        let (content, finish, usage) = Self::reply(request)?;
        Ok(ChatResponse::text(
            format!("chatcmpl-echo-{}", uuid_like()),
            request.model.clone(),
            content,
            finish,
            usage,
        ))
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChunkStream, LlmError> {
        self.check_model(&request.model)?;
        let (content, finish, usage) = Self::reply(request)?;
        let pieces: Vec<String> = words(&content).map(str::to_owned).collect();
        let pace = self.config.pace;
        let deltas = stream::unfold(pieces.into_iter(), move |mut pieces| async move {
            let piece = pieces.next()?;
            if !pace.is_zero() {
                tokio::time::sleep(pace).await;
            }
            Some((Ok(ChatChunk::Delta(piece)), pieces))
        });
        let finish = stream::once(async move {
            Ok(ChatChunk::Finish {
                reason: finish,
                usage: Some(usage),
            })
        });
        Ok(Box::pin(futures_util::StreamExt::chain(deltas, finish)))
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        let ids = if self.config.models.is_empty() {
            vec!["echo".to_owned()]
        } else {
            self.config.models.clone()
        };
        Ok(ids
            .into_iter()
            .map(|id| ModelInfo {
                id,
                owned_by: "experience-layer".to_owned(),
                context_length: 128_000,
                created: 0,
            })
            .collect())
    }
}

/// A unique-enough suffix for response ids without pulling in a UUID crate.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}{n:04x}")
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::ChatMessage;

    fn request(text: &str) -> ChatRequest {
        ChatRequest {
            model: "echo".into(),
            messages: vec![
                ChatMessage::new(ChatRole::System, "be brief"),
                ChatMessage::new(ChatRole::User, text),
            ],
            ..ChatRequest::default()
        }
    }

    #[tokio::test]
    async fn complete_echoes_the_last_user_message() {
        let provider = EchoProvider::default();
        let reply = provider.complete(&request("hello there")).await.unwrap();
        assert_eq!(reply.content(), "Echo: hello there");
        assert_eq!(reply.finish_reason(), FinishReason::Stop);
        // Counted with cl100k_base: 3 priming + (3 + "system" + "be brief")
        // + (3 + "user" + "hello there") prompt; "Echo", ":", " hello",
        // " there" reply.
        assert_eq!(reply.usage, Usage::new(15, 4));
    }

    #[tokio::test]
    async fn the_stream_concatenates_to_the_complete_reply() {
        let provider = EchoProvider::new(EchoConfig {
            pace: Duration::ZERO,
            models: Vec::new(),
        });
        let req = request("one  two\nthree");
        let whole = provider
            .complete(&req)
            .await
            .unwrap()
            .content()
            .into_owned();
        let chunks: Vec<ChatChunk> = provider
            .stream(&req)
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await;
        let mut text = String::new();
        for chunk in &chunks[..chunks.len() - 1] {
            let ChatChunk::Delta(delta) = chunk else {
                panic!("unexpected {chunk:?}")
            };
            text.push_str(delta);
        }
        assert_eq!(text, whole);
        assert_eq!(chunks.len(), 5, "one delta per word, then finish");
        assert!(matches!(
            chunks.last(),
            Some(ChatChunk::Finish {
                reason: FinishReason::Stop,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn max_tokens_truncates_and_unknown_models_are_refused() {
        let provider = EchoProvider::new(EchoConfig {
            pace: Duration::ZERO,
            models: vec!["echo".into()],
        });
        let mut req = request("a b c d e");
        req.max_tokens = Some(3);
        let reply = provider.complete(&req).await.unwrap();
        // "Echo", ":" and " a" are three tokens.
        assert_eq!(reply.content(), "Echo: a");
        assert_eq!(reply.finish_reason(), FinishReason::Length);
        assert_eq!(reply.usage.completion_tokens, 3);
        req.max_tokens = Some(1);
        assert_eq!(provider.complete(&req).await.unwrap().content(), "");
        req.model = "gpt-4o".into();
        assert!(matches!(
            provider.complete(&req).await,
            Err(LlmError::UnknownModel(m)) if m == "gpt-4o"
        ));
        let none = ChatRequest {
            model: "echo".into(),
            ..ChatRequest::default()
        };
        assert!(matches!(
            provider.complete(&none).await,
            Err(LlmError::InvalidRequest(_))
        ));
    }

    proptest::proptest! {
        /// Echo cuts its reply by bytes at word ends; any text, any limit,
        /// stays on character boundaries and keeps the words whole.
        #[test]
        fn any_text_is_split_and_truncated_on_char_boundaries(
            text in "\\PC{0,60}",
            max in 0u32..12,
        ) {
            proptest::prop_assert_eq!(words(&text).collect::<String>(), text.clone());
            let request = ChatRequest {
                max_tokens: Some(max),
                ..ChatRequest::new("echo", vec![ChatMessage::new(crate::ChatRole::User, text.clone())])
            };
            if let Ok((reply, _, _)) = EchoProvider::reply(&request) {
                let full = format!("Echo: {}", text.trim());
                proptest::prop_assert!(full.starts_with(&reply));
            }
        }
    }
}
