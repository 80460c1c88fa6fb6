//! Model providers for Experience Layer.
//!
//! [`ChatProvider`] is the one seam between the product and a language model:
//! services hold an `Arc<dyn ChatProvider>` and never see a vendor SDK. The
//! built-in [`EchoProvider`] answers offline and deterministically, so the
//! whole product runs and tests without a key.

mod echo;
mod types;

pub use echo::{EchoConfig, EchoProvider};
pub use types::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, ChatRole, ChunkStream, FinishReason,
    LlmError, ModelInfo, Usage,
};

use async_trait::async_trait;

/// A source of chat completions.
#[async_trait]
pub trait ChatProvider: Send + Sync + std::fmt::Debug {
    /// A short name for logs and records (`echo`, `openai`).
    fn name(&self) -> &str;

    /// Generates a whole reply.
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError>;

    /// Generates a reply as a stream of deltas ending with [`ChatChunk::Finish`].
    async fn stream(&self, request: &ChatRequest) -> Result<ChunkStream, LlmError>;

    /// The models this provider serves.
    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError>;
}
