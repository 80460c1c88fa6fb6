//! Schemas of bodies that no Rust type carries as they travel: those the
//! handlers read field by field from raw JSON (the Responses and
//! Conversations requests, `block_actions` payloads, uploads) or write with
//! `json!` (OpenAI's response, item and conversation objects). Each mirrors
//! the function that reads or writes it, named in its doc comment; the SDK
//! suites (`crates/server/tests/responses_sdk.rs`) hold the real shapes to
//! OpenAI's.

#![allow(dead_code)] // The types exist only to be described, never built.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use xl_domain::MessageId;
use xl_llm::ChatRequest;

/// A preference read by its dot path (`routes/preferences.rs`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"path": "ui.theme", "value": "dark"}))]
pub(crate) struct PreferenceValue {
    /// The dot path asked for.
    path: String,
    /// Its effective value.
    value: Value,
}

/// `POST /files`: a `multipart/form-data` body (`routes/files.rs`).
#[derive(Serialize, ToSchema)]
pub(crate) struct FileUpload {
    /// The file, sent with a file name; other small fields are ignored.
    #[schema(content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// A `block_actions` payload, as Slack sends it (`xl_domain::interactive::BlockActions::parse`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "type": "block_actions",
    "container": {"message_id": "0193f0c4-8e0e-7c2b-9a51-3c8f5b2e7d10"},
    "actions": [{"type": "button", "action_id": "approve", "block_id": "decision", "value": "yes"}]
}))]
pub(crate) struct BlockActionsPayload {
    /// `block_actions` (the default).
    #[serde(rename = "type")]
    kind: Option<String>,
    /// The message whose blocks were acted on.
    container: BlockActionsContainer,
    /// One to ten actions.
    actions: Vec<BlockActionPayload>,
    /// The message's input values, `{"values": {…}}` (at most 64 KiB).
    state: Option<Value>,
}

/// `container` of a payload.
#[derive(Serialize, ToSchema)]
pub(crate) struct BlockActionsContainer {
    /// The message's id.
    message_id: MessageId,
}

/// One action of a payload: the element it names must be in the message's blocks.
#[derive(Serialize, ToSchema)]
pub(crate) struct BlockActionPayload {
    /// The element's type (`button`, `static_select`, …).
    #[serde(rename = "type")]
    kind: String,
    /// The element's `action_id`.
    action_id: String,
    /// The element's block's `block_id`.
    block_id: String,
    /// A button's value (at most 2000 characters).
    value: Option<String>,
    /// A select's chosen option.
    selected_option: Option<Value>,
    /// A multi-select's chosen options.
    selected_options: Option<Vec<Value>>,
    /// A users select's choice.
    selected_user: Option<String>,
    /// A date picker's choice.
    selected_date: Option<String>,
}

/// `POST /chat/completions`: OpenAI's request, plus `thread_id`
/// (`routes/completions.rs`, `parse_body`). `model` defaults to the
/// installation's default model; unknown vendor parameters are passed on.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
    "stream": false
}))]
pub(crate) struct ChatCompletionRequest {
    #[schema(inline)]
    #[serde(flatten)]
    request: ChatRequest,
    /// Links the call to a thread the caller may read, for usage reports.
    thread_id: Option<xl_domain::ThreadId>,
}

/// `POST /responses` (`routes/responses/wire.rs`, `response_request`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "instructions": "Be brief.",
    "input": "What is the capital of France?"
}))]
pub(crate) struct CreateResponseRequest {
    /// The model (the installation's default when absent).
    model: Option<String>,
    /// A user message, or a list of items.
    input: Option<ResponseInput>,
    /// The system prompt of this response.
    instructions: Option<String>,
    /// Continue after this response (`resp_…`); not with `conversation`.
    previous_response_id: Option<String>,
    /// Continue this conversation: its id (`conv_…`) or `{"id": …}`.
    conversation: Option<Value>,
    /// Keep the response (default true); `false` is a plain model call.
    store: Option<bool>,
    /// Answer with typed server-sent events.
    stream: Option<bool>,
    /// Return at once, `queued`; poll `GET /responses/{id}` (needs `store`).
    background: Option<bool>,
    /// Function tools: `{"type":"function","name","description","parameters","strict"}`.
    tools: Option<Vec<Value>>,
    /// `none`, `auto`, `required`, or `{"type":"function","name":…}`.
    tool_choice: Option<Value>,
    /// Whether the model may call several tools at once.
    parallel_tool_calls: Option<bool>,
    /// 0 to 2.
    temperature: Option<f64>,
    /// 0 to 1.
    top_p: Option<f64>,
    /// At least 16.
    max_output_tokens: Option<u32>,
    /// Up to 16 string pairs (keys ≤ 64, values ≤ 512 characters).
    metadata: Option<OpenAiMetadata>,
    /// Echoed back: `{"format": {"type": "text"}}`.
    text: Option<Value>,
    /// Echoed back.
    user: Option<String>,
}

/// A string (one user message) or a list of items.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum ResponseInput {
    /// One user message.
    Text(String),
    /// Items.
    Items(Vec<InputItem>),
}

/// An input item (`wire.rs`, `item`).
#[derive(Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum InputItem {
    /// A message; `type` may be left out.
    Message {
        /// `user`, `assistant`, `system` or `developer`.
        role: String,
        /// Text, or parts: `input_text`/`output_text` `{text}`, `input_image` `{image_url, detail}`.
        content: Value,
    },
    /// A function call the model made.
    FunctionCall {
        /// The call's id, which its output names.
        call_id: String,
        /// The function.
        name: String,
        /// Its arguments, as JSON text.
        arguments: String,
    },
    /// A function's result.
    FunctionCallOutput {
        /// The call it answers.
        call_id: String,
        /// The result (text, or a list of `input_text` parts).
        output: Value,
    },
}

/// String pairs kept with a response or conversation.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object, example = json!({"topic": "travel"}))]
pub(crate) struct OpenAiMetadata(Value);

/// OpenAI's response object (`wire.rs`, `Outcome::to_json`): the request's
/// settings echoed, and what the model wrote.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "resp_0193f0c48e0e7c2b9a513c8f5b2e7d10",
    "object": "response",
    "created_at": 1764633600,
    "status": "completed",
    "model": "gpt-4o-mini",
    "output": [{
        "id": "msg_0193f0c48e0e7c2b9a513c8f5b2e7d10",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Paris.", "annotations": [], "logprobs": []}]
    }],
    "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
              "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 14},
    "error": null, "incomplete_details": null, "previous_response_id": null, "conversation": null,
    "instructions": "Be brief.", "metadata": {}, "temperature": 1.0, "top_p": 1.0,
    "tools": [], "tool_choice": "auto", "parallel_tool_calls": true, "store": true, "background": false
}))]
pub(crate) struct ResponseObject {
    /// `resp_…`.
    id: String,
    /// `response`.
    object: String,
    /// Unix seconds.
    created_at: i64,
    /// `queued`, `in_progress`, `completed`, `failed`, `cancelled` or `incomplete`.
    status: String,
    /// The model that answered.
    model: String,
    /// The message item (when there is text or no call) and function calls.
    output: Vec<OutputItem>,
    /// Token counts, once known.
    usage: Option<ResponseUsage>,
    /// Why it failed: `{"code": "server_error", "message": …}`.
    error: Option<Value>,
    /// `{"reason": "max_output_tokens"}` when cut short.
    incomplete_details: Option<Value>,
    /// The response this one continues.
    previous_response_id: Option<String>,
    /// `{"id": "conv_…"}` when it belongs to a conversation.
    conversation: Option<Value>,
    /// As sent.
    instructions: Option<String>,
    /// As sent.
    metadata: OpenAiMetadata,
    /// As sent (default 1).
    temperature: f64,
    /// As sent (default 1).
    top_p: f64,
    /// As sent.
    max_output_tokens: Option<u32>,
    /// As sent.
    tools: Vec<Value>,
    /// As sent (default `auto`).
    tool_choice: Value,
    /// As sent (default true).
    parallel_tool_calls: bool,
    /// As sent.
    store: bool,
    /// As sent.
    background: bool,
    /// As sent.
    text: Value,
    /// `disabled`.
    truncation: String,
    /// `{"effort": null, "summary": null}`.
    reasoning: Value,
    /// As sent.
    user: Option<String>,
}

/// A response's token counts.
#[derive(Serialize, ToSchema)]
pub(crate) struct ResponseUsage {
    /// Prompt tokens.
    input_tokens: u32,
    /// `{"cached_tokens": 0}`.
    input_tokens_details: Value,
    /// Generated tokens.
    output_tokens: u32,
    /// `{"reasoning_tokens": 0}`.
    output_tokens_details: Value,
    /// Both.
    total_tokens: u32,
}

/// An item of a response's output or of a conversation (`wire.rs`,
/// `message_items`): ids are `msg_…`, `fc_…` and `fco_…`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum OutputItem {
    /// A message.
    Message {
        /// `msg_…`.
        id: String,
        /// `in_progress`, `completed` or `incomplete`.
        status: String,
        /// `user`, `assistant`, `system` or `developer`.
        role: String,
        /// `output_text` parts for the assistant; `input_text`, `input_image`, `refusal` otherwise.
        content: Vec<Value>,
    },
    /// A function call the model made.
    FunctionCall {
        /// `fc_…`.
        id: String,
        /// `completed`.
        status: String,
        /// The call's id.
        call_id: String,
        /// The function.
        name: String,
        /// Its arguments, as JSON text.
        arguments: String,
    },
    /// A function's result.
    FunctionCallOutput {
        /// `fco_…`.
        id: String,
        /// `completed`.
        status: String,
        /// The call it answers.
        call_id: String,
        /// The result.
        output: String,
    },
}

/// OpenAI's list (`wire.rs`, `list`).
#[derive(Serialize, ToSchema)]
pub(crate) struct ItemList {
    /// `list`.
    object: String,
    /// The items.
    data: Vec<OutputItem>,
    /// The first item's id.
    first_id: Option<String>,
    /// The last item's id, the `after` of the next page.
    last_id: Option<String>,
    /// Whether more follow.
    has_more: bool,
}

/// A conversation (`wire.rs`, `conversation`): a thread.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "conv_0193f0c48e0e7c2b9a513c8f5b2e7d10", "object": "conversation", "created_at": 1764633600, "metadata": {"topic": "travel"}}))]
pub(crate) struct ConversationObject {
    /// `conv_…`.
    id: String,
    /// `conversation`.
    object: String,
    /// Unix seconds.
    created_at: i64,
    /// Its string pairs.
    metadata: Option<OpenAiMetadata>,
}

/// `POST /conversations` (the body may be empty).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"type": "message", "role": "user", "content": "Hello"}], "metadata": {"topic": "demo"}}))]
pub(crate) struct CreateConversationRequest {
    /// Items to start it with.
    items: Option<Vec<InputItem>>,
    /// Up to 16 string pairs.
    metadata: Option<OpenAiMetadata>,
}

/// `POST /conversations/{id}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"metadata": {"topic": "renamed"}}))]
pub(crate) struct UpdateConversationRequest {
    /// Replaces the conversation's metadata.
    metadata: OpenAiMetadata,
}

/// `POST /conversations/{id}/items`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"type": "message", "role": "user", "content": "And Spain?"}]}))]
pub(crate) struct AddItemsRequest {
    /// At least one item.
    items: Vec<InputItem>,
}

/// What a delete answers in OpenAI's shape.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeletedObject {
    /// The id deleted.
    id: String,
    /// `response.deleted` or `conversation.deleted`.
    object: String,
    /// Always true.
    deleted: bool,
}

/// One server-sent event of a `text/event-stream` answer, as its lines carry
/// it (`crate::sse`, and the typed events of `routes/responses/stream.rs`):
/// `event:` names it (absent on chat completions' chunks), `id:` is the
/// position to resume after (`Last-Event-ID`), `data:` is its JSON, and
/// `retry:` the reconnection delay a stream sends first.
#[derive(Serialize, ToSchema)]
pub(crate) struct ServerSentEvent {
    /// The event's type (`message.delta`, `response.output_text.delta`, …).
    event: Option<String>,
    /// The position to resume after.
    id: Option<String>,
    /// The event's payload, JSON text.
    data: String,
    /// Milliseconds to wait before reconnecting.
    retry: Option<u64>,
}
