//! OpenAI's shapes for the Responses and Conversations APIs: requests
//! parsed into the service's types (every problem a 400 naming its
//! parameter, as OpenAI reports it), and responses, items and
//! conversations written from ours.
//!
//! Ids carry OpenAI's prefixes over our UUIDs in simple form: a
//! conversation is `conv_<thread>`, a response `resp_<reply>`, a message
//! item `msg_<message>`, a function call `fc_<message>_<n>` (the n-th call
//! of that message) and a function's output `fco_<message>`.

use serde_json::{Map, Value, json};
use xl_domain::threads::Thread;
use xl_domain::{Message, MessageId, MessageRole, MessageStatus, ThreadId};
use xl_llm::{
    ContentPart, FinishReason, FunctionDefinition, FunctionName, ImageDetail, ImageUrl,
    NamedToolChoice, Tool, ToolChoice, ToolChoiceMode, ToolKind, Usage,
};
use xl_services::responses::items::{self, FunctionCallItem};
use xl_services::responses::{Continues, InputItem, ItemRole, ResponseRequest, StoredResponse};

use crate::routes::completions::OpenAiError;

/// The most metadata pairs, and their sizes, as OpenAI allows.
const MAX_METADATA_PAIRS: usize = 16;
const MAX_METADATA_KEY: usize = 64;
const MAX_METADATA_VALUE: usize = 512;

fn invalid(param: &str, message: impl Into<String>) -> OpenAiError {
    OpenAiError::invalid(message).param(param)
}

/// `prefix_<32 hex>`, or a bare UUID, as the id it names.
fn parse_prefixed<T: std::str::FromStr>(raw: &str, prefix: &str) -> Option<T> {
    let hex = raw.strip_prefix(prefix).unwrap_or(raw);
    hex.parse().ok()
}

/// A response id.
pub(super) fn response_id(raw: &str) -> Option<MessageId> {
    parse_prefixed(raw, "resp_")
}

/// A conversation id.
pub(super) fn conversation_id(raw: &str) -> Option<ThreadId> {
    parse_prefixed(raw, "conv_")
}

/// The message an item id names.
pub(super) fn item_message_id(raw: &str) -> Option<MessageId> {
    if let Some(rest) = raw.strip_prefix("fc_") {
        let (hex, _) = rest.split_once('_')?;
        return hex.parse().ok();
    }
    if let Some(hex) = raw.strip_prefix("fco_") {
        return hex.parse().ok();
    }
    parse_prefixed(raw, "msg_")
}

pub(super) fn resp_id(id: MessageId) -> String {
    format!("resp_{}", id.as_uuid().simple())
}

pub(super) fn conv_id(id: ThreadId) -> String {
    format!("conv_{}", id.as_uuid().simple())
}

pub(super) fn msg_id(id: MessageId) -> String {
    format!("msg_{}", id.as_uuid().simple())
}

fn fc_id(id: MessageId, index: usize) -> String {
    format!("fc_{}_{index}", id.as_uuid().simple())
}

fn fco_id(id: MessageId) -> String {
    format!("fco_{}", id.as_uuid().simple())
}

/// A JSON body as an object.
pub(super) fn body_object(body: &[u8]) -> Result<Map<String, Value>, OpenAiError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        OpenAiError::invalid(format!(
            "We could not parse the JSON body of your request: {err}"
        ))
    })?;
    match value {
        Value::Object(fields) => Ok(fields),
        _ => Err(OpenAiError::invalid(
            "The request body must be a JSON object.",
        )),
    }
}

fn present<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).filter(|value| !value.is_null())
}

fn string(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, OpenAiError> {
    match present(fields, name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(invalid(name, format!("{name} must be a string."))),
    }
}

fn boolean(fields: &Map<String, Value>, name: &str) -> Result<Option<bool>, OpenAiError> {
    match present(fields, name) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(_) => Err(invalid(name, format!("{name} must be a boolean."))),
    }
}

fn number(
    fields: &Map<String, Value>,
    name: &str,
    low: f64,
    high: f64,
) -> Result<Option<f32>, OpenAiError> {
    match present(fields, name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)]
            Some(x) if (low..=high).contains(&x) => Ok(Some(x as f32)),
            _ => Err(invalid(
                name,
                format!("{name} must be between {low} and {high}."),
            )),
        },
        Some(_) => Err(invalid(name, format!("{name} must be a number."))),
    }
}

/// `metadata`: at most 16 string pairs, keys up to 64 and values up to 512
/// characters.
pub(super) fn metadata(fields: &Map<String, Value>) -> Result<Option<Value>, OpenAiError> {
    let Some(value) = present(fields, "metadata") else {
        return Ok(None);
    };
    let Value::Object(pairs) = value else {
        return Err(invalid("metadata", "metadata must be an object."));
    };
    if pairs.len() > MAX_METADATA_PAIRS {
        return Err(invalid(
            "metadata",
            format!("metadata may have at most {MAX_METADATA_PAIRS} pairs."),
        ));
    }
    for (key, value) in pairs {
        let Value::String(text) = value else {
            return Err(invalid("metadata", "metadata values must be strings."));
        };
        if key.chars().count() > MAX_METADATA_KEY || text.chars().count() > MAX_METADATA_VALUE {
            return Err(invalid(
                "metadata",
                format!(
                    "metadata keys may have at most {MAX_METADATA_KEY} characters and values {MAX_METADATA_VALUE}."
                ),
            ));
        }
    }
    Ok(Some(value.clone()))
}

/// The text of a content part list or string, and the parts themselves in
/// Chat Completions' shape when some are not text.
fn content(value: &Value, at: &str) -> Result<(String, Option<Vec<ContentPart>>), OpenAiError> {
    let parts = match value {
        Value::String(text) => return Ok((text.clone(), None)),
        Value::Array(parts) => parts,
        _ => {
            return Err(invalid(
                &format!("{at}.content"),
                "content must be a string or a list of parts.",
            ));
        }
    };
    let mut text = String::new();
    let mut converted = Vec::with_capacity(parts.len());
    let mut only_text = true;
    for (index, part) in parts.iter().enumerate() {
        let here = format!("{at}.content[{index}]");
        let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "input_text" | "output_text" | "text" => {
                let Some(piece) = part.get("text").and_then(Value::as_str) else {
                    return Err(invalid(&format!("{here}.text"), "text must be a string."));
                };
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(piece);
                converted.push(ContentPart::Text {
                    text: piece.to_owned(),
                });
            }
            "input_image" => {
                let Some(url) = part.get("image_url").and_then(Value::as_str) else {
                    return Err(invalid(
                        &format!("{here}.image_url"),
                        "an input_image needs an image_url (a URL or a data URL); file_id is not supported.",
                    ));
                };
                let detail = match part.get("detail").and_then(Value::as_str) {
                    Some("low") => Some(ImageDetail::Low),
                    Some("high") => Some(ImageDetail::High),
                    Some("auto") | None => Some(ImageDetail::Auto),
                    Some(_) => {
                        return Err(invalid(
                            &format!("{here}.detail"),
                            "detail must be low, high or auto.",
                        ));
                    }
                };
                only_text = false;
                converted.push(ContentPart::ImageUrl {
                    image_url: ImageUrl {
                        url: url.to_owned(),
                        detail,
                    },
                });
            }
            "refusal" => {
                let refusal = part
                    .get("refusal")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                only_text = false;
                converted.push(ContentPart::Refusal {
                    refusal: refusal.to_owned(),
                });
            }
            other => {
                return Err(invalid(
                    &format!("{here}.type"),
                    format!(
                        "content parts of type `{other}` are not supported; use input_text or input_image."
                    ),
                ));
            }
        }
    }
    Ok((text, (!only_text).then_some(converted)))
}

/// One input item.
fn item(value: &Value, at: &str) -> Result<InputItem, OpenAiError> {
    let Value::Object(fields) = value else {
        return Err(invalid(at, "each input item must be an object."));
    };
    let kind = fields
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    let text_field = |name: &str| -> Result<String, OpenAiError> {
        match fields.get(name) {
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Err(invalid(
                &format!("{at}.{name}"),
                format!("{name} must be a string."),
            )),
        }
    };
    match kind {
        "message" => {
            let role = match fields.get("role").and_then(Value::as_str) {
                Some("user") => ItemRole::User,
                Some("assistant") => ItemRole::Assistant,
                Some("system") => ItemRole::System,
                Some("developer") => ItemRole::Developer,
                _ => {
                    return Err(invalid(
                        &format!("{at}.role"),
                        "role must be user, assistant, system or developer.",
                    ));
                }
            };
            let Some(value) = fields.get("content") else {
                return Err(invalid(&format!("{at}.content"), "content is required."));
            };
            let (text, parts) = content(value, at)?;
            Ok(InputItem::Message { role, text, parts })
        }
        "function_call" => Ok(InputItem::FunctionCalls(vec![FunctionCallItem {
            call_id: text_field("call_id")?,
            name: text_field("name")?,
            arguments: text_field("arguments")?,
        }])),
        "function_call_output" => {
            let output = match fields.get("output") {
                Some(Value::String(text)) => text.clone(),
                Some(value @ Value::Array(_)) => content(value, at)?.0,
                _ => {
                    return Err(invalid(&format!("{at}.output"), "output must be a string."));
                }
            };
            Ok(InputItem::FunctionCallOutput {
                call_id: text_field("call_id")?,
                output,
            })
        }
        other => Err(invalid(
            &format!("{at}.type"),
            format!(
                "input items of type `{other}` are not supported; use message, function_call or function_call_output."
            ),
        )),
    }
}

/// A list of items (`input` or a conversation's `items`), with consecutive
/// function calls joined into one turn.
pub(super) fn items_of(value: Option<&Value>, param: &str) -> Result<Vec<InputItem>, OpenAiError> {
    let list = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(text)) => {
            return Ok(vec![InputItem::Message {
                role: ItemRole::User,
                text: text.clone(),
                parts: None,
            }]);
        }
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(invalid(
                param,
                format!("{param} must be a string or a list of items."),
            ));
        }
    };
    let mut out: Vec<InputItem> = Vec::with_capacity(list.len());
    for (index, value) in list.iter().enumerate() {
        let parsed = item(value, &format!("{param}[{index}]"))?;
        match (out.last_mut(), parsed) {
            (Some(InputItem::FunctionCalls(calls)), InputItem::FunctionCalls(more)) => {
                calls.extend(more);
            }
            (_, parsed) => out.push(parsed),
        }
    }
    Ok(out)
}

/// Function tools, in the Responses shape (`{type, name, parameters}`).
fn tools(fields: &Map<String, Value>) -> Result<Vec<Tool>, OpenAiError> {
    let Some(value) = present(fields, "tools") else {
        return Ok(Vec::new());
    };
    let Value::Array(list) = value else {
        return Err(invalid("tools", "tools must be a list."));
    };
    list.iter()
        .enumerate()
        .map(|(index, tool)| {
            let at = format!("tools[{index}]");
            if tool.get("type").and_then(Value::as_str) != Some("function") {
                return Err(invalid(
                    &format!("{at}.type"),
                    "only function tools are supported.",
                ));
            }
            let Some(name) = tool.get("name").and_then(Value::as_str) else {
                return Err(invalid(&format!("{at}.name"), "name must be a string."));
            };
            Ok(Tool {
                kind: ToolKind::Function,
                function: FunctionDefinition {
                    name: name.to_owned(),
                    description: tool
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    parameters: tool.get("parameters").filter(|p| !p.is_null()).cloned(),
                    strict: tool.get("strict").and_then(Value::as_bool),
                },
            })
        })
        .collect()
}

fn tool_choice(fields: &Map<String, Value>) -> Result<Option<ToolChoice>, OpenAiError> {
    match present(fields, "tool_choice") {
        None => Ok(None),
        Some(Value::String(mode)) => match mode.as_str() {
            "none" => Ok(Some(ToolChoice::Mode(ToolChoiceMode::None))),
            "auto" => Ok(Some(ToolChoice::Mode(ToolChoiceMode::Auto))),
            "required" => Ok(Some(ToolChoice::Mode(ToolChoiceMode::Required))),
            _ => Err(invalid(
                "tool_choice",
                "tool_choice must be none, auto, required or a function.",
            )),
        },
        Some(Value::Object(choice))
            if choice.get("type").and_then(Value::as_str) == Some("function") =>
        {
            let Some(name) = choice.get("name").and_then(Value::as_str) else {
                return Err(invalid("tool_choice", "tool_choice.name must be a string."));
            };
            Ok(Some(ToolChoice::Named(NamedToolChoice {
                kind: ToolKind::Function,
                function: FunctionName {
                    name: name.to_owned(),
                },
            })))
        }
        Some(_) => Err(invalid(
            "tool_choice",
            "tool_choice must be none, auto, required or a function.",
        )),
    }
}

/// A `POST /responses` body, and whether it asks for a stream and for the
/// background.
pub(super) struct Parsed {
    pub request: ResponseRequest,
    pub stream: bool,
    pub background: bool,
}

/// Parses a `POST /responses` body.
pub(super) fn response_request(fields: &Map<String, Value>) -> Result<Parsed, OpenAiError> {
    let model = string(fields, "model")?.filter(|model| !model.trim().is_empty());
    let input = items_of(fields.get("input"), "input")?;
    let instructions = string(fields, "instructions")?;
    let previous = string(fields, "previous_response_id")?;
    let conversation = match present(fields, "conversation") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(Value::Object(object)) => match object.get("id") {
            Some(Value::String(id)) => Some(id.clone()),
            _ => return Err(invalid("conversation", "conversation.id must be a string.")),
        },
        Some(_) => {
            return Err(invalid(
                "conversation",
                "conversation must be an id or {\"id\": …}.",
            ));
        }
    };
    let continues = match (previous, conversation) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "previous_response_id",
                "previous_response_id and conversation cannot be used together.",
            ));
        }
        (Some(id), None) => Continues::Previous(response_id(&id).ok_or_else(|| {
            OpenAiError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                "not_found_error",
                format!("Previous response with id '{id}' not found."),
            )
            .param("previous_response_id")
        })?),
        (None, Some(id)) => Continues::Conversation(conversation_id(&id).ok_or_else(|| {
            OpenAiError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                "not_found_error",
                format!("Conversation with id '{id}' not found."),
            )
            .param("conversation")
        })?),
        (None, None) => Continues::New,
    };
    let store = boolean(fields, "store")?.unwrap_or(true);
    let stream = boolean(fields, "stream")?.unwrap_or(false);
    let background = boolean(fields, "background")?.unwrap_or(false);
    if background && !store {
        return Err(invalid(
            "background",
            "a background response must be stored (store: true).",
        ));
    }
    let temperature = number(fields, "temperature", 0.0, 2.0)?;
    let top_p = number(fields, "top_p", 0.0, 1.0)?;
    let max_output_tokens = match present(fields, "max_output_tokens") {
        None => None,
        Some(value) => Some(
            value
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n >= 16)
                .ok_or_else(|| {
                    invalid(
                        "max_output_tokens",
                        "max_output_tokens must be an integer of at least 16.",
                    )
                })?,
        ),
    };
    let tools = tools(fields)?;
    let tool_choice = tool_choice(fields)?;
    let parallel_tool_calls = boolean(fields, "parallel_tool_calls")?;
    let metadata = metadata(fields)?;
    let user = string(fields, "user")?;
    // Echoed in every response object, as the client spelt it.
    let settings = json!({
        "background": background,
        "instructions": instructions,
        "max_output_tokens": max_output_tokens,
        "metadata": metadata.clone().unwrap_or_else(|| json!({})),
        "parallel_tool_calls": parallel_tool_calls.unwrap_or(true),
        "temperature": temperature.map_or(1.0, f64::from),
        "text": present(fields, "text").cloned().unwrap_or_else(|| json!({"format": {"type": "text"}})),
        "tool_choice": present(fields, "tool_choice").cloned().unwrap_or_else(|| json!("auto")),
        "tools": present(fields, "tools").cloned().unwrap_or_else(|| json!([])),
        "top_p": top_p.map_or(1.0, f64::from),
        "truncation": "disabled",
        "user": user,
        "store": store,
    });
    Ok(Parsed {
        request: ResponseRequest {
            model,
            input,
            instructions,
            continues,
            store,
            tools,
            tool_choice,
            parallel_tool_calls,
            temperature,
            top_p,
            max_output_tokens,
            settings,
        },
        stream,
        background,
    })
}

/// What a response object says, whatever made it (a stored reply or an
/// unstored call).
pub(super) struct Outcome<'a> {
    pub id: String,
    /// The message item's id.
    pub message_id: MessageId,
    pub created_at: i64,
    pub model: &'a str,
    /// completed, in_progress, failed, cancelled or incomplete.
    pub status: &'static str,
    pub text: &'a str,
    pub calls: Vec<FunctionCallItem>,
    pub usage: Option<Usage>,
    pub error: Option<&'a str>,
    pub settings: &'a Value,
    pub previous: Option<String>,
    pub conversation: Option<String>,
}

/// A response's status: its reply's, with a reply cut short by its length
/// limit `incomplete`.
fn status_of(reply: &Message) -> &'static str {
    match reply.status {
        MessageStatus::Streaming => "in_progress",
        MessageStatus::Failed => "failed",
        MessageStatus::Cancelled => "cancelled",
        MessageStatus::Complete => {
            let finish = items::extra(reply.metadata.as_ref())
                .and_then(|extra| extra.get("finish_reason"))
                .and_then(|finish| serde_json::from_value::<FinishReason>(finish.clone()).ok());
            if finish == Some(FinishReason::Length) {
                "incomplete"
            } else {
                "completed"
            }
        }
    }
}

impl<'a> Outcome<'a> {
    /// A stored response as it is now.
    pub(super) fn stored(response: &'a StoredResponse) -> Self {
        let reply = &response.reply;
        let usage = reply
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.get("usage"))
            .and_then(|usage| serde_json::from_value(usage.clone()).ok());
        Outcome {
            id: resp_id(reply.id),
            message_id: reply.id,
            created_at: named_at(reply),
            model: reply.model.as_deref().unwrap_or_default(),
            status: status_of(reply),
            text: &reply.content,
            calls: items::tool_calls(reply),
            usage,
            error: reply.error.as_deref(),
            settings: &response.record.settings,
            previous: response.record.previous.map(resp_id),
            conversation: response.record.conversation.map(conv_id),
        }
    }

    /// The output items.
    pub(super) fn output(&self) -> Vec<Value> {
        assistant_items(self.message_id, self.text, &self.calls, self.item_status())
    }

    fn item_status(&self) -> &'static str {
        match self.status {
            "in_progress" => "in_progress",
            "completed" => "completed",
            _ => "incomplete",
        }
    }

    /// The message item with this text.
    pub(super) fn message_item(&self, text: &str) -> Value {
        assistant_message(self.message_id, text, self.item_status())
    }

    /// The n-th function call item.
    pub(super) fn call_item(&self, index: usize, call: &FunctionCallItem, status: &str) -> Value {
        function_call(self.message_id, index, call, status)
    }

    /// The response object.
    pub(super) fn to_json(&self) -> Value {
        let mut object = match self.settings {
            Value::Object(settings) => settings.clone(),
            _ => Map::new(),
        };
        let usage = self.usage.map(|usage| {
            json!({
                "input_tokens": usage.prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": usage.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage.total_tokens,
            })
        });
        let error = (self.status == "failed").then(|| {
            json!({
                "code": "server_error",
                "message": self.error.unwrap_or("the response failed"),
            })
        });
        let incomplete =
            (self.status == "incomplete").then(|| json!({"reason": "max_output_tokens"}));
        for (key, value) in [
            ("id", json!(self.id)),
            ("object", json!("response")),
            ("created_at", json!(self.created_at)),
            ("status", json!(self.status)),
            ("model", json!(self.model)),
            ("output", Value::Array(self.output())),
            ("usage", usage.unwrap_or(Value::Null)),
            ("error", error.unwrap_or(Value::Null)),
            ("incomplete_details", incomplete.unwrap_or(Value::Null)),
            ("previous_response_id", json!(self.previous)),
            (
                "conversation",
                self.conversation
                    .as_ref()
                    .map_or(Value::Null, |id| json!({ "id": id })),
            ),
            ("reasoning", json!({"effort": null, "summary": null})),
        ] {
            object.insert(key.to_owned(), value);
        }
        Value::Object(object)
    }

    /// The response as it starts: in progress, nothing written yet.
    pub(super) fn started_json(&self) -> Value {
        let mut object = self.to_json();
        object["status"] = json!(if self.settings["background"] == true {
            "queued"
        } else {
            "in_progress"
        });
        object["output"] = json!([]);
        object["usage"] = Value::Null;
        object["error"] = Value::Null;
        object["incomplete_details"] = Value::Null;
        object
    }
}

/// When a stored response was named: the time in its reply's id (a
/// UUIDv7), which a stream sends before the reply's row is written and a
/// replay after, so both say the same; the row's time for an older id.
fn named_at(reply: &Message) -> i64 {
    reply
        .id
        .as_uuid()
        .get_timestamp()
        .and_then(|stamp| i64::try_from(stamp.to_unix().0).ok())
        .unwrap_or_else(|| reply.created_at.timestamp())
}

/// An assistant's message item.
fn assistant_message(id: MessageId, text: &str, status: &str) -> Value {
    json!({
        "id": msg_id(id),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [output_text(text)],
    })
}

/// The n-th function call of a message, as an item.
fn function_call(id: MessageId, index: usize, call: &FunctionCallItem, status: &str) -> Value {
    json!({
        "id": fc_id(id, index),
        "type": "function_call",
        "status": status,
        "call_id": call.call_id,
        "name": call.name,
        "arguments": call.arguments,
    })
}

/// The items an assistant message is: its text (when it has some, or no
/// calls), then each function call, complete.
fn assistant_items(
    id: MessageId,
    text: &str,
    calls: &[FunctionCallItem],
    status: &str,
) -> Vec<Value> {
    let mut items = Vec::with_capacity(1 + calls.len());
    if !text.is_empty() || calls.is_empty() {
        items.push(assistant_message(id, text, status));
    }
    for (index, call) in calls.iter().enumerate() {
        items.push(function_call(id, index, call, "completed"));
    }
    items
}

/// An `output_text` content part.
pub(super) fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// The items a message is (usually one; an assistant's function calls are
/// one each, after its text if it has any).
pub(super) fn message_items(message: &Message) -> Vec<Value> {
    let status = match message.status {
        MessageStatus::Streaming => "in_progress",
        MessageStatus::Complete => "completed",
        MessageStatus::Failed | MessageStatus::Cancelled => "incomplete",
    };
    match message.role {
        MessageRole::Tool => vec![json!({
            "id": fco_id(message.id),
            "type": "function_call_output",
            "status": "completed",
            "call_id": items::call_id(message).unwrap_or_default(),
            "output": message.content,
        })],
        MessageRole::Assistant => assistant_items(
            message.id,
            &message.content,
            &items::tool_calls(message),
            status,
        ),
        MessageRole::User | MessageRole::System => {
            let role = match message.role {
                MessageRole::User => "user",
                _ if items::is_developer(message) => "developer",
                _ => "system",
            };
            let content: Vec<Value> = match items::parts(message) {
                Some(parts) => parts.iter().map(input_part).collect(),
                None => vec![json!({"type": "input_text", "text": message.content})],
            };
            vec![json!({
                "id": msg_id(message.id),
                "type": "message",
                "status": status,
                "role": role,
                "content": content,
            })]
        }
    }
}

/// A stored Chat Completions part in the Responses shape.
fn input_part(part: &Value) -> Value {
    match part.get("type").and_then(Value::as_str) {
        Some("image_url") => json!({
            "type": "input_image",
            "image_url": part["image_url"]["url"],
            "detail": part["image_url"].get("detail").cloned().unwrap_or_else(|| json!("auto")),
        }),
        Some("refusal") => json!({"type": "refusal", "refusal": part["refusal"]}),
        _ => json!({"type": "input_text", "text": part["text"]}),
    }
}

/// The item `id` names in a message, if it is one of its items.
pub(super) fn item_in(message: &Message, id: &str) -> Option<Value> {
    message_items(message)
        .into_iter()
        .find(|item| item["id"] == id)
}

/// A conversation object.
pub(super) fn conversation(thread: &Thread) -> Value {
    json!({
        "id": conv_id(thread.id),
        "object": "conversation",
        "created_at": thread.created_at.timestamp(),
        "metadata": thread.metadata,
    })
}

/// OpenAI's list shape.
pub(super) fn list(data: Vec<Value>, has_more: bool) -> Value {
    let first = data.first().map(|item| item["id"].clone());
    let last = data.last().map(|item| item["id"].clone());
    json!({
        "object": "list",
        "data": data,
        "first_id": first,
        "last_id": last,
        "has_more": has_more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_prefixes() {
        let message = MessageId::new();
        assert_eq!(response_id(&resp_id(message)), Some(message));
        assert_eq!(item_message_id(&msg_id(message)), Some(message));
        assert_eq!(item_message_id(&fc_id(message, 3)), Some(message));
        assert_eq!(item_message_id(&fco_id(message)), Some(message));
        let thread = ThreadId::new();
        assert_eq!(conversation_id(&conv_id(thread)), Some(thread));
        assert_eq!(conversation_id(&thread.to_string()), Some(thread));
        assert_eq!(response_id("resp_nothex"), None);
        assert_eq!(item_message_id("fc_nothex"), None);
    }

    #[test]
    fn input_takes_a_string_or_items_and_joins_consecutive_calls() {
        let items = items_of(Some(&json!("hi")), "input").unwrap();
        assert_eq!(
            items,
            vec![InputItem::Message {
                role: ItemRole::User,
                text: "hi".into(),
                parts: None
            }]
        );
        let items = items_of(
            Some(&json!([
                {"role": "developer", "content": [{"type": "input_text", "text": "be brief"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "1"},
                {"role": "user", "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "https://x/y.png"}
                ]}
            ])),
            "input",
        )
        .unwrap();
        assert_eq!(items.len(), 4);
        assert!(matches!(&items[1], InputItem::FunctionCalls(calls) if calls.len() == 2));
        assert!(
            matches!(&items[3], InputItem::Message { text, parts: Some(parts), .. }
            if text == "look" && parts.len() == 2)
        );
    }

    #[test]
    fn bad_requests_name_their_parameter() {
        let cases = [
            (json!({"input": 7}), "input"),
            (
                json!({"input": [{"role": "robot", "content": "x"}]}),
                "input[0].role",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_file"}]}]}),
                "input[0].content[0].type",
            ),
            (
                json!({"input": [{"type": "web_search_call"}]}),
                "input[0].type",
            ),
            (json!({"input": "x", "temperature": 3}), "temperature"),
            (json!({"input": "x", "top_p": -1}), "top_p"),
            (
                json!({"input": "x", "max_output_tokens": 2}),
                "max_output_tokens",
            ),
            (
                json!({"input": "x", "tools": [{"type": "web_search"}]}),
                "tools[0].type",
            ),
            (
                json!({"input": "x", "tool_choice": "sometimes"}),
                "tool_choice",
            ),
            (json!({"input": "x", "metadata": {"k": 1}}), "metadata"),
            (
                json!({"input": "x", "previous_response_id": "resp_1", "conversation": "conv_1"}),
                "previous_response_id",
            ),
            (
                json!({"input": "x", "previous_response_id": "nope"}),
                "previous_response_id",
            ),
            (
                json!({"input": "x", "background": true, "store": false}),
                "background",
            ),
        ];
        for (body, param) in cases {
            let Value::Object(fields) = body.clone() else {
                unreachable!()
            };
            let Err(err) = response_request(&fields) else {
                panic!("{body} was accepted");
            };
            let wire: Value = serde_json::from_str(&err.to_json()).unwrap();
            assert_eq!(wire["error"]["param"], param, "{body}");
        }
    }
}
