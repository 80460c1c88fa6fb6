//! Model providers for Experience Layer.
//!
//! [`ChatProvider`] is the one seam between the product and a language model:
//! services hold an `Arc<dyn ChatProvider>` and never see a vendor SDK. The
//! built-in [`EchoProvider`] answers offline and deterministically, so the
//! whole product runs and tests without a key; [`OpenAiProvider`] talks to
//! OpenAI or any server that speaks its API.
//!
//! The request, response and chunk types are OpenAI's chat-completions wire
//! format, so an OpenAI-compatible HTTP surface can (de)serialize them
//! directly. [`ModelRegistry`] knows context windows and prices, and
//! [`tokens`] counts tokens for context fitting and missing usage.

mod echo;
mod openai;
pub mod registry;
pub mod tokens;
mod types;

pub use echo::{EchoConfig, EchoProvider};
pub use openai::{OPENAI_BASE_URL, OpenAiConfig, OpenAiProvider};
pub use registry::{MICRO_USD_PER_USD, ModelRegistry, ModelSpec, RegistryError};
pub use tokens::{
    Encoding, count_message_tokens, count_tokens, encoding_for_model, message_tokens,
};
pub use types::{
    ChatChunk, ChatCompletionChunk, ChatMessage, ChatRequest, ChatResponse, ChatRole, Choice,
    ChoiceDelta, ChunkStream, ContentPart, FinishReason, FunctionCall, FunctionCallDelta,
    FunctionDefinition, FunctionName, ImageDetail, ImageUrl, JsonSchemaFormat, LlmError,
    MessageContent, MessageDelta, ModelInfo, NamedToolChoice, ResponseFormat, StopSequences,
    StreamOptions, Tool, ToolCall, ToolCallDelta, ToolChoice, ToolChoiceMode, ToolKind, Usage,
};

use async_trait::async_trait;

/// A source of chat completions.
#[async_trait]
pub trait ChatProvider: Send + Sync + std::fmt::Debug {
    /// A short name for logs and records (`echo`, `openai`).
    fn name(&self) -> &str;

    /// Generates a whole reply.
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;

    /// Generates a reply as a stream of deltas ending with [`ChatChunk::Finish`],
    /// or with one `Err` item if the reply fails after it has begun.
    /// Dropping the stream aborts the upstream request.
    async fn stream(&self, request: &ChatRequest) -> Result<ChunkStream, LlmError>;

    /// The models this provider serves.
    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError>;
}
