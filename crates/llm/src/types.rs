//! The provider-neutral shapes of a chat completion, serialized exactly as
//! OpenAI's chat-completions wire format.
//!
//! Every provider speaks these types, and their serde shapes are OpenAI's, so
//! the HTTP layer can take a client's request body and hand back responses and
//! stream frames without a second set of types. Fields OpenAI may send as
//! `null` are read leniently, because the same shapes parse answers from
//! vLLM, llama.cpp, Ollama and LiteLLM, which differ in small ways.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::pin::Pin;

use futures_util::Stream;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Who wrote a message in a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// Instructions.
    System,
    /// Instructions in OpenAI's newer spelling, used by reasoning models.
    Developer,
    /// The person.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call the model asked for.
    Tool,
}

impl ChatRole {
    /// The wire spelling (`system`, `user`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::Developer => "developer",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
            ChatRole::Tool => "tool",
        }
    }
}

/// How much detail the model should take from an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageDetail {
    /// Let the model choose.
    Auto,
    /// A fixed low-resolution view.
    Low,
    /// Tiles at full resolution.
    High,
}

/// An image given by URL or `data:` URI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageUrl {
    /// An `https:` URL or a base64 `data:` URI.
    pub url: String,
    /// Requested detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<ImageDetail>,
}

/// One part of a multi-part message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image.
    ImageUrl {
        /// Where the image is.
        image_url: ImageUrl,
    },
    /// A refusal the model wrote earlier (assistant messages only).
    Refusal {
        /// The refusal text.
        refusal: String,
    },
}

/// The content of a message: a plain string or a list of parts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Text and image parts, in order.
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    /// The text of the content; parts are joined with newlines and images
    /// are left out.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            MessageContent::Text(text) => Cow::Borrowed(text),
            MessageContent::Parts(parts) => {
                let texts: Vec<&str> = parts
                    .iter()
                    .filter_map(|part| match part {
                        ContentPart::Text { text } => Some(text.as_str()),
                        ContentPart::Refusal { refusal } => Some(refusal.as_str()),
                        ContentPart::ImageUrl { .. } => None,
                    })
                    .collect();
                match texts.as_slice() {
                    [one] => Cow::Borrowed(one),
                    _ => Cow::Owned(texts.join("\n")),
                }
            }
        }
    }
}

impl From<String> for MessageContent {
    fn from(text: String) -> Self {
        MessageContent::Text(text)
    }
}

impl From<&str> for MessageContent {
    fn from(text: &str) -> Self {
        MessageContent::Text(text.to_owned())
    }
}

/// The kind of a tool; OpenAI's chat completions know only functions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolKind {
    /// A function the caller runs.
    #[default]
    Function,
}

/// A function call the model made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// Its arguments as JSON text, exactly as generated (possibly invalid).
    #[serde(default)]
    pub arguments: String,
}

/// A tool call in an assistant message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolCall {
    /// The id a later `tool` message answers with `tool_call_id`.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    /// What to call.
    pub function: FunctionCall,
}

/// One message of a prompt or of a reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatMessage {
    /// The author.
    pub role: ChatRole,
    /// The content; absent on assistant messages that only call tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    /// A name telling participants of the same role apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The tools an assistant message calls.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tool_calls: Vec<ToolCall>,
    /// The call a `tool` message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// An assistant's refusal to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

impl ChatMessage {
    /// A text message from the given role.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(MessageContent::Text(content.into())),
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            refusal: None,
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(ChatRole::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(ChatRole::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(ChatRole::Assistant, content)
    }

    /// A tool's answer to the call `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(ChatRole::Tool, content)
        }
    }

    /// A message with the given content parts.
    pub fn with_parts(role: ChatRole, parts: Vec<ContentPart>) -> Self {
        ChatMessage {
            content: Some(MessageContent::Parts(parts)),
            ..Self::new(role, String::new())
        }
    }

    /// The message's text (parts joined, images left out; empty if none).
    pub fn text(&self) -> Cow<'_, str> {
        self.content
            .as_ref()
            .map_or(Cow::Borrowed(""), MessageContent::text)
    }
}

/// Sequences where the model stops: one string or a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum StopSequences {
    /// A single sequence.
    One(String),
    /// Several sequences.
    Many(Vec<String>),
}

impl StopSequences {
    /// The sequences as a list.
    pub fn as_slice(&self) -> &[String] {
        match self {
            StopSequences::One(one) => std::slice::from_ref(one),
            StopSequences::Many(many) => many,
        }
    }
}

/// A JSON schema the reply must follow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JsonSchemaFormat {
    /// The schema's name.
    pub name: String,
    /// What the format is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON schema itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Whether the model must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// The shape the reply must take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any valid JSON object.
    JsonObject,
    /// JSON following a schema.
    JsonSchema {
        /// The schema.
        json_schema: JsonSchemaFormat,
    },
}

/// A function the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FunctionDefinition {
    /// The function's name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its parameters as a JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Whether arguments must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A tool offered to the model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tool {
    /// Always `function`.
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    /// The function.
    pub function: FunctionDefinition,
}

/// Whether and how the model may call tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    /// Never call a tool.
    None,
    /// The model decides.
    Auto,
    /// The model must call at least one tool.
    Required,
}

/// The function a named tool choice forces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FunctionName {
    /// The function's name.
    pub name: String,
}

/// A tool choice that forces one function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamedToolChoice {
    /// Always `function`.
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    /// The function to call.
    pub function: FunctionName,
}

/// `tool_choice`: a mode or one named function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `none`, `auto` or `required`.
    Mode(ToolChoiceMode),
    /// `{"type": "function", "function": {"name": …}}`.
    Named(NamedToolChoice),
}

/// Options for streamed replies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamOptions {
    /// Whether a final chunk with usage (and no choices) ends the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
}

/// `stream_options` as an object (or `null`), never an array by position.
fn stream_options_object<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<StreamOptions>, D::Error> {
    xl_domain::object::optional_object_field(deserializer, "stream_options")
}

/// What to generate: OpenAI's chat-completions request body.
///
/// Providers decide `stream` and `stream_options` themselves from the method
/// called; the fields are here so a client's request body parses as is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatRequest {
    /// The model id.
    pub model: String,
    /// The prompt, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// How many choices to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Where to stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopSequences>,
    /// Upper bound on generated tokens (the older spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Upper bound on generated tokens, reasoning included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Penalty for tokens already present, -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    /// Penalty by token frequency, -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    /// Bias per token id (as a string key), -100 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logit_bias: Option<BTreeMap<String, f32>>,
    /// The end user, for abuse monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Seed for best-effort deterministic sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// The reply's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Tools the model may call. An empty list is not sent, since OpenAI
    /// refuses `"tools": []`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tools: Vec<Tool>,
    /// Whether and which tool to call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may call several tools at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Whether to stream (set by the provider from the method called).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Streaming options (set by the provider for streamed calls).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "stream_options_object"
    )]
    pub stream_options: Option<StreamOptions>,
    /// Any other parameter, passed to the upstream verbatim: vendor extensions
    /// (`top_k`, `repetition_penalty`, `reasoning_effort`, …) reach vLLM or
    /// LiteLLM without this crate knowing them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// A request for `model` with the given prompt and defaults elsewhere.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> Self {
        ChatRequest {
            model: model.into(),
            messages,
            ..ChatRequest::default()
        }
    }

    /// The effective bound on generated tokens: `max_completion_tokens`,
    /// else `max_tokens`.
    pub fn max_output_tokens(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Checks what every provider would refuse anyway, so a bad request fails
    /// the same way (400) whichever provider serves it.
    pub fn validate(&self) -> Result<(), LlmError> {
        fn range(name: &str, value: Option<f32>, low: f32, high: f32) -> Result<(), LlmError> {
            match value {
                Some(v) if !(low..=high).contains(&v) => Err(LlmError::InvalidRequest(format!(
                    "{name} must be between {low} and {high}"
                ))),
                _ => Ok(()),
            }
        }
        if self.model.trim().is_empty() {
            return Err(LlmError::InvalidRequest("model must not be empty".into()));
        }
        if self.messages.is_empty() {
            return Err(LlmError::InvalidRequest(
                "messages must not be empty".into(),
            ));
        }
        if let Some(i) = self
            .messages
            .iter()
            .position(|m| m.role == ChatRole::Tool && m.tool_call_id.is_none())
        {
            return Err(LlmError::InvalidRequest(format!(
                "messages[{i}]: a tool message needs tool_call_id"
            )));
        }
        if matches!(self.n, Some(n) if !(1..=128).contains(&n)) {
            return Err(LlmError::InvalidRequest(
                "n must be between 1 and 128".into(),
            ));
        }
        if matches!(self.max_output_tokens(), Some(0)) {
            return Err(LlmError::InvalidRequest(
                "max_tokens must be at least 1".into(),
            ));
        }
        range("temperature", self.temperature, 0.0, 2.0)?;
        range("top_p", self.top_p, 0.0, 1.0)?;
        range("presence_penalty", self.presence_penalty, -2.0, 2.0)?;
        range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?;
        for bias in self.logit_bias.iter().flat_map(|b| b.values()) {
            range("logit_bias values", Some(*bias), -100.0, 100.0)?;
        }
        Ok(())
    }
}

/// Token counts of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default)]
    pub prompt_tokens: u32,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u32,
    /// Their sum.
    #[serde(default)]
    pub total_tokens: u32,
}

impl Usage {
    /// Usage from its two parts.
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
        }
    }

    /// Usage from token counts, saturating at `u32::MAX`.
    pub fn from_counts(prompt_tokens: usize, completion_tokens: usize) -> Self {
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self::new(to_u32(prompt_tokens), to_u32(completion_tokens))
    }

    /// Whether this counts anything. Some servers send all-zero usage
    /// rather than none; no real call has an empty prompt, so zeros mean
    /// "not counted".
    pub(crate) fn is_reported(&self) -> bool {
        self.prompt_tokens > 0 || self.completion_tokens > 0 || self.total_tokens > 0
    }
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished its answer or hit a stop sequence.
    Stop,
    /// The token limit was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    /// The provider's filter withheld content.
    ContentFilter,
    /// The model called a function (OpenAI's legacy spelling).
    FunctionCall,
}

impl<'de> Deserialize<'de> for FinishReason {
    /// Reads OpenAI's values and treats any other (`eos`, `abort`, … from
    /// other servers) as `stop`, so one odd value does not fail a reply.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Cow::<'de, str>::deserialize(deserializer)?;
        Ok(match raw.as_ref() {
            "length" => FinishReason::Length,
            "tool_calls" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            "function_call" => FinishReason::FunctionCall,
            _ => FinishReason::Stop,
        })
    }
}

/// One generated alternative of a whole reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Choice {
    /// Its position (0 unless `n` > 1).
    #[serde(default)]
    pub index: u32,
    /// The assistant message.
    pub message: ChatMessage,
    /// Why generation ended.
    #[serde(default = "default_finish", deserialize_with = "null_as_stop")]
    pub finish_reason: FinishReason,
}

fn default_finish() -> FinishReason {
    FinishReason::Stop
}

/// A whole reply: OpenAI's `chat.completion` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatResponse {
    /// The provider's id for the call.
    pub id: String,
    /// Always `chat.completion`.
    #[serde(default = "completion_object")]
    pub object: Cow<'static, str>,
    /// When the reply was made, in Unix seconds.
    #[serde(default)]
    pub created: i64,
    /// The model that answered.
    pub model: String,
    /// The alternatives generated (one unless `n` > 1).
    pub choices: Vec<Choice>,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
    /// The backend configuration that answered, when the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

pub(crate) fn completion_object() -> Cow<'static, str> {
    Cow::Borrowed("chat.completion")
}

impl ChatResponse {
    /// A reply with a single text choice.
    pub fn text(
        id: impl Into<String>,
        model: impl Into<String>,
        content: impl Into<String>,
        finish_reason: FinishReason,
        usage: Usage,
    ) -> Self {
        ChatResponse {
            id: id.into(),
            object: completion_object(),
            created: unix_now(),
            model: model.into(),
            choices: vec![Choice {
                index: 0,
                message: ChatMessage::assistant(content),
                finish_reason,
            }],
            usage,
            system_fingerprint: None,
        }
    }

    /// The text of the first choice (empty when it only calls tools).
    pub fn content(&self) -> Cow<'_, str> {
        self.choices
            .first()
            .map_or(Cow::Borrowed(""), |c| c.message.text())
    }

    /// Why the first choice ended.
    pub fn finish_reason(&self) -> FinishReason {
        self.choices
            .first()
            .map_or(FinishReason::Stop, |c| c.finish_reason)
    }
}

/// A fragment of a function call in a streamed reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FunctionCallDelta {
    /// The name, on the call's first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// More argument text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// A fragment of a tool call in a streamed reply.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ToolCallDelta {
    /// Which call of the message this continues.
    #[serde(default)]
    pub index: u32,
    /// The call's id, on its first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`, on its first fragment.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ToolKind>,
    /// Name and argument text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

/// What a stream chunk adds to one choice's message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageDelta {
    /// `assistant`, on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ChatRole>,
    /// More text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// More refusal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Tool-call fragments.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tool_calls: Vec<ToolCallDelta>,
}

/// One choice's part of a stream chunk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChoiceDelta {
    /// Which choice (0 unless `n` > 1).
    #[serde(default)]
    pub index: u32,
    /// What it adds.
    #[serde(default)]
    pub delta: MessageDelta,
    /// Set on the choice's last chunk; serialized as `null` before, as
    /// OpenAI does.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
}

/// One event of a streamed reply.
///
/// Text for the first choice, the common case, comes as [`ChatChunk::Delta`];
/// everything else (tool-call fragments, refusals, other choices when `n` > 1,
/// and their ends) as [`ChatChunk::Choice`]. A successful stream ends with
/// exactly one [`ChatChunk::Finish`]; a failed one ends with an `Err` item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatChunk {
    /// More text for the first choice.
    Delta(String),
    /// Any other progress, in OpenAI's chunk-choice shape.
    Choice(ChoiceDelta),
    /// The end, with why the first choice ended and usage when known.
    Finish {
        /// Why generation ended.
        reason: FinishReason,
        /// Token counts, if known.
        usage: Option<Usage>,
    },
}

impl ChatChunk {
    /// This event as a `chat.completion.chunk` frame (usage is not included:
    /// OpenAI sends it in a separate last frame, see
    /// [`ChatCompletionChunk::usage_only`]).
    pub fn to_wire(&self, id: &str, created: i64, model: &str) -> ChatCompletionChunk {
        let choice = match self {
            ChatChunk::Delta(text) => ChoiceDelta {
                index: 0,
                delta: MessageDelta {
                    content: Some(text.clone()),
                    ..MessageDelta::default()
                },
                finish_reason: None,
            },
            ChatChunk::Choice(choice) => choice.clone(),
            ChatChunk::Finish { reason, .. } => ChoiceDelta {
                index: 0,
                delta: MessageDelta::default(),
                finish_reason: Some(*reason),
            },
        };
        ChatCompletionChunk::new(id, created, model, vec![choice])
    }
}

/// A streamed frame: OpenAI's `chat.completion.chunk` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChatCompletionChunk {
    /// The call's id, the same on every chunk.
    pub id: String,
    /// Always `chat.completion.chunk`.
    #[serde(default = "chunk_object")]
    pub object: Cow<'static, str>,
    /// When the call started, in Unix seconds.
    #[serde(default)]
    pub created: i64,
    /// The model answering.
    #[serde(default)]
    pub model: String,
    /// Per-choice progress (empty on the usage frame).
    #[serde(default, deserialize_with = "null_as_default")]
    pub choices: Vec<ChoiceDelta>,
    /// Usage, on the last frame when `stream_options.include_usage` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The backend configuration answering, when the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

fn chunk_object() -> Cow<'static, str> {
    Cow::Borrowed("chat.completion.chunk")
}

impl ChatCompletionChunk {
    /// A frame with the given choices.
    pub fn new(id: &str, created: i64, model: &str, choices: Vec<ChoiceDelta>) -> Self {
        ChatCompletionChunk {
            id: id.to_owned(),
            object: chunk_object(),
            created,
            model: model.to_owned(),
            choices,
            usage: None,
            system_fingerprint: None,
        }
    }

    /// The last frame of a stream asked for with `include_usage`: no
    /// choices, only usage.
    pub fn usage_only(id: &str, created: i64, model: &str, usage: Usage) -> Self {
        ChatCompletionChunk {
            usage: Some(usage),
            ..Self::new(id, created, model, Vec::new())
        }
    }
}

/// A streamed reply.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, LlmError>> + Send>>;

/// A model a provider serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelInfo {
    /// The model id clients send.
    pub id: String,
    /// Who provides it.
    pub owned_by: String,
    /// Its context window in tokens (0 when unknown).
    pub context_length: u32,
    /// When the model was published, in Unix seconds (0 when unknown).
    #[serde(default)]
    pub created: i64,
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
    /// The message is safe to show: no key, no upstream body beyond a
    /// short excerpt of its error message.
    #[error("the model provider failed: {0}")]
    Upstream(String),
}

/// The current time in Unix seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Reads `null` as the default, since servers send `"tool_calls": null`
/// where OpenAI leaves the field out.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a `null` finish reason on a whole reply as `stop`.
fn null_as_stop<'de, D: Deserializer<'de>>(deserializer: D) -> Result<FinishReason, D::Error> {
    Ok(Option::<FinishReason>::deserialize(deserializer)?.unwrap_or(FinishReason::Stop))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_full_openai_request_round_trips() {
        let body = json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "name": "ann", "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "lookup", "arguments": "{\"q\":1}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "42"}
            ],
            "temperature": 0.5,
            "top_p": 1.0,
            "n": 2,
            "stop": ["\n\n", "END"],
            "max_tokens": 100,
            "max_completion_tokens": 90,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.5,
            "logit_bias": {"50256": -100.0},
            "user": "u-1",
            "seed": 7,
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": {"type": "object"}, "strict": true}},
            "tools": [{"type": "function", "function": {
                "name": "lookup", "description": "looks up", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "lookup"}},
            "parallel_tool_calls": false,
            "stream": true,
            "stream_options": {"include_usage": true},
            "top_k": 40
        });
        let request: ChatRequest = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(request.messages.len(), 4);
        assert_eq!(request.messages[1].text(), "what is this?");
        assert_eq!(request.messages[2].tool_calls[0].function.name, "lookup");
        assert_eq!(request.stop.as_ref().unwrap().as_slice().len(), 2);
        assert_eq!(request.max_output_tokens(), Some(90));
        assert_eq!(request.extra.get("top_k"), Some(&json!(40)));
        assert_eq!(
            request.stream_options,
            Some(StreamOptions {
                include_usage: Some(true)
            })
        );
        request.validate().unwrap();

        // What goes upstream is what came in, `null` content aside.
        let mut expected = body;
        expected["messages"][2]
            .as_object_mut()
            .unwrap()
            .remove("content");
        assert_eq!(serde_json::to_value(&request).unwrap(), expected);
    }

    #[test]
    fn stop_and_tool_choice_take_both_spellings() {
        let request: ChatRequest = serde_json::from_value(json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}],
            "stop": "END", "tool_choice": "required", "response_format": {"type": "json_object"}
        }))
        .unwrap();
        assert_eq!(request.stop, Some(StopSequences::One("END".into())));
        assert_eq!(
            request.tool_choice,
            Some(ToolChoice::Mode(ToolChoiceMode::Required))
        );
        assert_eq!(request.response_format, Some(ResponseFormat::JsonObject));
        let minimal = serde_json::to_value(ChatRequest::new("m", vec![ChatMessage::user("hi")]));
        assert_eq!(
            minimal.unwrap(),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        );
    }

    #[test]
    fn validation_refuses_what_openai_refuses() {
        let ok = ChatRequest::new("m", vec![ChatMessage::user("hi")]);
        ok.validate().unwrap();
        let cases = [
            ChatRequest {
                model: " ".into(),
                ..ok.clone()
            },
            ChatRequest {
                messages: Vec::new(),
                ..ok.clone()
            },
            ChatRequest {
                temperature: Some(2.5),
                ..ok.clone()
            },
            ChatRequest {
                temperature: Some(f32::NAN),
                ..ok.clone()
            },
            ChatRequest {
                top_p: Some(-0.1),
                ..ok.clone()
            },
            ChatRequest {
                n: Some(0),
                ..ok.clone()
            },
            ChatRequest {
                max_tokens: Some(0),
                ..ok.clone()
            },
            ChatRequest {
                logit_bias: Some(BTreeMap::from([("1".into(), 101.0)])),
                ..ok.clone()
            },
            ChatRequest {
                messages: vec![ChatMessage::new(ChatRole::Tool, "42")],
                ..ok.clone()
            },
        ];
        for case in cases {
            assert!(
                matches!(case.validate(), Err(LlmError::InvalidRequest(_))),
                "{case:?}"
            );
        }
    }

    #[test]
    fn responses_and_chunks_have_openai_shapes() {
        let response = ChatResponse {
            created: 1,
            ..ChatResponse::text("c-1", "m", "hi", FinishReason::Stop, Usage::new(3, 1))
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({
                "id": "c-1", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
            })
        );
        assert_eq!(response.content(), "hi");

        let frame = ChatChunk::Delta("he".into()).to_wire("c-1", 1, "m");
        assert_eq!(
            serde_json::to_value(&frame).unwrap(),
            json!({"id": "c-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": {"content": "he"}, "finish_reason": null}]})
        );
        let end = ChatChunk::Finish {
            reason: FinishReason::ToolCalls,
            usage: None,
        };
        assert_eq!(
            serde_json::to_value(end.to_wire("c-1", 1, "m")).unwrap()["choices"][0],
            json!({"index": 0, "delta": {}, "finish_reason": "tool_calls"})
        );
        let usage = ChatCompletionChunk::usage_only("c-1", 1, "m", Usage::new(1, 2));
        assert_eq!(
            serde_json::to_value(usage).unwrap(),
            json!({"id": "c-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}})
        );
    }

    #[test]
    fn odd_upstream_values_are_read_leniently() {
        let response: ChatResponse = serde_json::from_value(json!({
            "id": "x", "model": "m",
            "choices": [{"message": {"role": "assistant", "content": "hi", "tool_calls": null},
                         "finish_reason": null}]
        }))
        .unwrap();
        assert_eq!(response.finish_reason(), FinishReason::Stop);
        assert_eq!(response.object, "chat.completion");
        let choice: ChoiceDelta = serde_json::from_value(json!({
            "index": 1, "delta": {"content": null, "tool_calls": null}, "finish_reason": "eos"
        }))
        .unwrap();
        assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
        assert_eq!(
            serde_json::from_value::<FinishReason>(json!("content_filter")).unwrap(),
            FinishReason::ContentFilter
        );
    }
}
