//! How the items of OpenAI's Responses and Conversations APIs are kept as a
//! thread's messages, so that both APIs and the thread API read one record.
//!
//! A message item is a message of its role. What a message alone cannot say
//! is kept under the `openai` key of its metadata:
//! - `tool_calls`: an ASSISTANT message's function calls
//!   (`[{call_id, name, arguments}]`), each an item of its own;
//! - `call_id`: which call a TOOL message (a `function_call_output`) answers;
//! - `content`: a message's parts when they are more than text (images);
//! - `role`: `developer`, for a SYSTEM message written as a developer item;
//! - `response`: on a reply written for `POST /responses`, the request's
//!   settings and the ids of its input items (see [`super::ResponseSettings`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use xl_domain::{Message, MessageRole};
use xl_llm::{ChatMessage, ChatRole, ContentPart, FunctionCall, ToolCall, ToolCallDelta, ToolKind};

/// The metadata key that holds what the OpenAI items add to a message.
pub const KEY: &str = "openai";

/// One function call an assistant made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionCallItem {
    /// The model's id for the call, which its output names.
    pub call_id: String,
    /// The function.
    pub name: String,
    /// Its arguments, a JSON document as the model wrote it.
    pub arguments: String,
}

/// Function calls assembled from their streamed pieces, by index.
#[derive(Clone, Debug, Default)]
pub struct ToolCalls(BTreeMap<u32, FunctionCallItem>);

impl ToolCalls {
    /// Adds one streamed piece: the id and name arrive once, the arguments
    /// in fragments to be joined in order.
    pub fn push(&mut self, delta: &ToolCallDelta) {
        let call = self
            .0
            .entry(delta.index)
            .or_insert_with(|| FunctionCallItem {
                call_id: String::new(),
                name: String::new(),
                arguments: String::new(),
            });
        if let Some(id) = &delta.id {
            call.call_id.clone_from(id);
        }
        if let Some(function) = &delta.function {
            if let Some(name) = &function.name {
                call.name.push_str(name);
            }
            if let Some(arguments) = &function.arguments {
                call.arguments.push_str(arguments);
            }
        }
    }

    /// The calls, in the model's order.
    pub fn into_items(self) -> Vec<FunctionCallItem> {
        self.0.into_values().collect()
    }

    /// Whether no call has begun.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The `openai` part of a message's metadata.
pub fn extra(metadata: Option<&Value>) -> Option<&Map<String, Value>> {
    metadata?.get(KEY)?.as_object()
}

/// The function calls an ASSISTANT message made.
pub fn tool_calls(message: &Message) -> Vec<FunctionCallItem> {
    calls_of(message.role, message.metadata.as_ref())
}

fn calls_of(role: MessageRole, metadata: Option<&Value>) -> Vec<FunctionCallItem> {
    if role != MessageRole::Assistant {
        return Vec::new();
    }
    extra(metadata)
        .and_then(|extra| extra.get("tool_calls"))
        .and_then(|calls| serde_json::from_value(calls.clone()).ok())
        .unwrap_or_default()
}

/// The call a TOOL message answers.
pub fn call_id(message: &Message) -> Option<&str> {
    extra(message.metadata.as_ref())?.get("call_id")?.as_str()
}

/// A message's content parts, when it has more than text.
pub fn parts(message: &Message) -> Option<&Vec<Value>> {
    extra(message.metadata.as_ref())?.get("content")?.as_array()
}

/// Whether a SYSTEM message was written as a `developer` item.
pub fn is_developer(message: &Message) -> bool {
    extra(message.metadata.as_ref())
        .and_then(|extra| extra.get("role"))
        .and_then(Value::as_str)
        == Some("developer")
}

/// The prompt message of an item kept in a message of this role and
/// metadata, or `None` when it is an ordinary one (its text is its prompt).
pub(crate) fn prompt_of_item(
    role: MessageRole,
    metadata: Option<&Value>,
    text: &str,
) -> Option<ChatMessage> {
    let extra = extra(metadata)?;
    match role {
        MessageRole::Tool => Some(ChatMessage::tool(
            extra
                .get("call_id")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            text.to_owned(),
        )),
        MessageRole::Assistant => {
            let calls = calls_of(role, metadata);
            if calls.is_empty() {
                return None;
            }
            let mut prompt = ChatMessage::assistant(text.to_owned());
            if text.is_empty() {
                prompt.content = None;
            }
            prompt.tool_calls = calls
                .into_iter()
                .map(|call| ToolCall {
                    id: call.call_id,
                    kind: ToolKind::Function,
                    function: FunctionCall {
                        name: call.name,
                        arguments: call.arguments,
                    },
                })
                .collect();
            Some(prompt)
        }
        MessageRole::User | MessageRole::System => {
            let parts = extra.get("content")?.as_array()?;
            let parts: Vec<ContentPart> = parts
                .iter()
                .filter_map(|part| serde_json::from_value(part.clone()).ok())
                .collect();
            if parts.is_empty() {
                return None;
            }
            let role = match role {
                MessageRole::System => ChatRole::System,
                _ => ChatRole::User,
            };
            Some(ChatMessage::with_parts(role, parts))
        }
    }
}
