//! The OpenAI-compatible provider, on async-openai.
//!
//! One implementation serves OpenAI itself and every server that speaks its
//! chat-completions API (vLLM, llama.cpp server, Ollama, LiteLLM): only the
//! base URL and the key differ. Requests and replies travel in this crate's
//! own types through async-openai's "bring your own types" methods, because
//! its typed structs refuse fields those servers add or leave out, and
//! because it lets vendor parameters ([`ChatRequest::extra`]) pass through.

mod errors;
mod retry;
mod stream;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_trait::async_trait;
use serde::Deserialize;

use self::errors::{Call, map_error};
use self::retry::{Backoff, RetryingService};
use self::stream::{ChunkAdapter, UpstreamChunk};
use crate::registry::ModelRegistry;
use crate::tokens::{count_message_tokens, count_tokens};
use crate::types::{completion_object, unix_now};
use crate::{
    ChatProvider, ChatRequest, ChatResponse, Choice, ChunkStream, LlmError, ModelInfo,
    StreamOptions, Usage,
};

/// OpenAI's API, the default base URL.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// How to reach an OpenAI-compatible server.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// A short name for logs and records (`openai`, `vllm`, …).
    pub name: String,
    /// The bearer token; empty for servers without authentication.
    pub api_key: String,
    /// The API root, `/v1` included (`http://localhost:11434/v1` for
    /// Ollama).
    pub base_url: String,
    /// How long one call may take: the whole reply for
    /// [`ChatProvider::complete`]; for [`ChatProvider::stream`], the wait for
    /// the response head (retries included) and then for each next event.
    pub timeout: Duration,
    /// Retries after a 429, a 5xx or a failed connection, before the reply's
    /// first byte only.
    pub max_retries: u32,
    /// The delay before the first retry; it doubles for each further one.
    pub initial_backoff: Duration,
    /// The longest delay between attempts, an upstream's `Retry-After`
    /// included.
    pub max_backoff: Duration,
}

impl OpenAiConfig {
    /// OpenAI-compatible access with the given key and base URL and default
    /// timeout and retries.
    pub fn new(api_key: impl Into<String>, base_url: impl Into<String>) -> Self {
        OpenAiConfig {
            api_key: api_key.into(),
            base_url: base_url.into(),
            ..OpenAiConfig::default()
        }
    }
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            name: "openai".to_owned(),
            api_key: String::new(),
            base_url: OPENAI_BASE_URL.to_owned(),
            // Reasoning models can think for minutes before answering.
            timeout: Duration::from_secs(120),
            max_retries: 2,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("name", &self.name)
            .field("api_key", &redacted(&self.api_key))
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

fn redacted(key: &str) -> &'static str {
    if key.is_empty() { "" } else { "[redacted]" }
}

/// A [`ChatProvider`] for any OpenAI-compatible server.
#[derive(Clone)]
pub struct OpenAiProvider {
    name: Arc<str>,
    client: Client<OpenAIConfig>,
    timeout: Duration,
    /// Kept to scrub it from any upstream text passed on.
    api_key: Arc<str>,
    base_url: String,
    registry: Arc<ModelRegistry>,
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// A provider calling through `http` (the workspace's shared client, so
    /// TLS and connection pooling are configured once).
    ///
    /// Fails with [`LlmError::InvalidRequest`] when the base URL is not an
    /// http(s) URL or the key cannot travel in a header.
    pub fn new(config: OpenAiConfig, http: reqwest::Client) -> Result<Self, LlmError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        match reqwest::Url::parse(&base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(LlmError::InvalidRequest(format!(
                    "the model provider's base URL {base_url:?} is not an http(s) URL"
                )));
            }
        }
        // async-openai builds the Authorization header with `unwrap`, so a
        // key it cannot hold must be refused here rather than panic later.
        if reqwest::header::HeaderValue::from_str(&format!("Bearer {}", config.api_key)).is_err() {
            return Err(LlmError::InvalidRequest(
                "the model provider's API key contains characters a header cannot hold".into(),
            ));
        }
        let name: Arc<str> = Arc::from(config.name.as_str());
        // Empty organisation and project override async-openai's defaults,
        // which it would otherwise read from OPENAI_ORG_ID and
        // OPENAI_PROJECT_ID behind this configuration's back.
        let openai = OpenAIConfig::new()
            .with_api_base(base_url.clone())
            .with_api_key(config.api_key.clone())
            .with_org_id("")
            .with_project_id("");
        let backoff = Backoff {
            max_retries: config.max_retries,
            initial: config.initial_backoff,
            max: config.max_backoff,
        };
        // The retrying service replaces async-openai's built-in retry layer,
        // whose attempts and delays cannot be configured.
        let client = Client::build(http.clone(), openai).with_http_service(RetryingService::new(
            http,
            backoff,
            Arc::clone(&name),
        ));
        Ok(OpenAiProvider {
            name,
            client,
            timeout: config.timeout,
            api_key: Arc::from(config.api_key.as_str()),
            base_url,
            registry: Arc::new(ModelRegistry::with_defaults()),
        })
    }

    /// Uses `registry` for the context length of models the upstream does
    /// not describe.
    pub fn with_registry(mut self, registry: Arc<ModelRegistry>) -> Self {
        self.registry = registry;
        self
    }

    fn map_error(&self, err: async_openai::error::OpenAIError, call: Call<'_>) -> LlmError {
        map_error(err, call, &self.api_key)
    }
}

/// An upstream `chat.completion`, read leniently: only `choices` is
/// required, and usage may be missing.
#[derive(Debug, Deserialize)]
struct UpstreamResponse {
    #[serde(default)]
    id: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    model: String,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    system_fingerprint: Option<String>,
}

/// An upstream model list. vLLM says `max_model_len`, OpenRouter and
/// LM Studio `context_length`; OpenAI says nothing.
#[derive(Debug, Deserialize)]
struct UpstreamModels {
    data: Vec<UpstreamModel>,
}

#[derive(Debug, Deserialize)]
struct UpstreamModel {
    id: String,
    #[serde(default)]
    owned_by: Option<String>,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    context_length: Option<u64>,
    #[serde(default)]
    max_model_len: Option<u64>,
}

#[async_trait]
impl ChatProvider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        request.validate()?;
        let wire = ChatRequest {
            stream: None,
            stream_options: None,
            ..request.clone()
        };
        let chat = self.client.chat();
        let call = chat.create_byot::<_, UpstreamResponse>(&wire);
        let upstream = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| LlmError::Timeout)?
            .map_err(|err| {
                self.map_error(
                    err,
                    Call::Chat {
                        model: &request.model,
                    },
                )
            })?;
        if upstream.choices.is_empty() {
            return Err(LlmError::Upstream(
                "the model provider returned no choices".into(),
            ));
        }
        let usage = upstream
            .usage
            .filter(Usage::is_reported)
            .unwrap_or_else(|| estimate_usage(request, &upstream.choices));
        Ok(ChatResponse {
            id: if upstream.id.is_empty() {
                format!("chatcmpl-{}", unix_now())
            } else {
                upstream.id
            },
            object: completion_object(),
            created: if upstream.created > 0 {
                upstream.created
            } else {
                unix_now()
            },
            model: if upstream.model.is_empty() {
                request.model.clone()
            } else {
                upstream.model
            },
            choices: upstream.choices,
            usage,
            system_fingerprint: upstream.system_fingerprint,
        })
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChunkStream, LlmError> {
        request.validate()?;
        // Usage is always asked for, whatever the client wanted, so every
        // call can be accounted; the HTTP layer decides what the client sees.
        let wire = ChatRequest {
            stream: Some(true),
            stream_options: Some(StreamOptions {
                include_usage: Some(true),
            }),
            ..request.clone()
        };
        let chat = self.client.chat();
        let call = chat.create_stream_byot::<_, UpstreamChunk>(&wire);
        let upstream = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| LlmError::Timeout)?
            .map_err(|err| {
                self.map_error(
                    err,
                    Call::Chat {
                        model: &request.model,
                    },
                )
            })?;
        let adapter = ChunkAdapter::new(
            upstream,
            self.timeout,
            wire.model,
            wire.messages,
            self.api_key.to_string(),
        );
        Ok(adapter.into_stream())
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        let models = self.client.models();
        let call = models.list_byot::<UpstreamModels>();
        let upstream = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| LlmError::Timeout)?
            .map_err(|err| self.map_error(err, Call::Models))?;
        Ok(upstream
            .data
            .into_iter()
            .map(|model| {
                let reported = model
                    .context_length
                    .or(model.max_model_len)
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
                let known = || self.registry.get(&model.id).map(|spec| spec.context_window);
                ModelInfo {
                    context_length: reported.or_else(known).unwrap_or(0),
                    owned_by: model.owned_by.unwrap_or_else(|| self.name.to_string()),
                    created: model.created.unwrap_or(0),
                    id: model.id,
                }
            })
            .collect())
    }
}

/// Usage counted locally, for upstreams that do not report it.
fn estimate_usage(request: &ChatRequest, choices: &[Choice]) -> Usage {
    let prompt = count_message_tokens(&request.model, &request.messages);
    let completion: usize = choices
        .iter()
        .map(|choice| {
            let message = &choice.message;
            count_tokens(&request.model, &message.text())
                + message
                    .tool_calls
                    .iter()
                    .map(|call| {
                        count_tokens(&request.model, &call.function.name)
                            + count_tokens(&request.model, &call.function.arguments)
                    })
                    .sum::<usize>()
        })
        .sum();
    Usage::from_counts(prompt, completion)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let config = OpenAiConfig::new("sk-secret-value", OPENAI_BASE_URL);
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-secret-value"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
