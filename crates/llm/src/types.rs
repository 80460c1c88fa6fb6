//! The provider-neutral shapes of a chat completion.

use std::pin::Pin;

use futures_util::Stream;
use serde::{Deserialize, Serialize};

/// Who wrote a message in a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// One message of a prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The author.
    pub role: ChatRole,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A message from the given role.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model id.
    pub model: String,
    /// The prompt, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Upper bound on generated tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// Token counts of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Their sum.
    pub total_tokens: u32,
}

impl Usage {
    /// Usage from its two parts.
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished its answer.
    Stop,
    /// The token limit was reached.
    Length,
}

/// A whole reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The provider's id for the call.
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// The generated text.
    pub content: String,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// Token counts.
    pub usage: Usage,
}

/// One event of a streamed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatChunk {
    /// More text.
    Delta(String),
    /// The end, with usage when the provider reports it.
    Finish {
        /// Why generation ended.
        reason: FinishReason,
        /// Token counts, if known.
        usage: Option<Usage>,
    },
}

/// A streamed reply.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, LlmError>> + Send>>;

/// A model a provider serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model id clients send.
    pub id: String,
    /// Who provides it.
    pub owned_by: String,
    /// Its context window in tokens.
    pub context_length: u32,
}

/// What can go wrong calling a model.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The request itself is unacceptable. Returns 400 Bad Request.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No such model. Returns 404 Not Found.
    #[error("model {0} not found")]
    UnknownModel(String),
    /// The upstream is rate limiting. Returns 429 Too Many Requests.
    #[error("rate limited by the model provider")]
    RateLimited,
    /// The upstream did not answer in time. Returns 504 Gateway Timeout.
    #[error("the model provider timed out")]
    Timeout,
    /// The upstream failed or answered nonsense. Returns 502 Bad Gateway.
    #[error("the model provider failed: {0}")]
    Upstream(String),
}
