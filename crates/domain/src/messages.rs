//! Messages: the text and blocks people and assistants post in a thread,
//! arranged as a tree (each message names its parent) so a thread can hold
//! several branches, of which one is current.

use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::blocks::validate_blocks;
use crate::threads::validate_metadata;
use crate::{
    DomainError, FieldErrors, FileId, MessageId, MessageRole, MessageStatus, RevisionId, ThreadId,
    UserId,
};

/// Longest message text.
pub const MAX_CONTENT_CHARS: usize = 100_000;
/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 20;

/// A message as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Message {
    /// The id.
    pub id: MessageId,
    /// The thread it is in.
    pub thread_id: ThreadId,
    /// The message it answers (`None` for a thread's first message).
    pub parent_id: Option<MessageId>,
    /// The author, for messages written by people.
    pub user_id: Option<UserId>,
    /// USER, ASSISTANT, SYSTEM or TOOL.
    pub role: MessageRole,
    /// The text (empty for a deleted message).
    pub content: String,
    /// Block Kit blocks, if any.
    pub blocks: Option<Value>,
    /// Client data.
    pub metadata: Option<Value>,
    /// complete, streaming, failed or cancelled.
    pub status: MessageStatus,
    /// The model that wrote an assistant message.
    pub model: Option<String>,
    /// Why generation failed, in words safe to show.
    pub error: Option<String>,
    /// Attached files, in order.
    pub attachments: Vec<FileId>,
    /// When the text was last edited.
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub edited_at: Option<DateTime<Utc>>,
    /// When the message was deleted (a tombstone keeps the tree whole).
    #[serde(serialize_with = "crate::time::serialize_option")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// When it was posted.
    #[serde(serialize_with = "crate::time::serialize")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "crate::time::serialize")]
    pub updated_at: DateTime<Utc>,
    /// What the message adds to a prompt, as counted when it was written
    /// (internal: not part of the wire shape).
    #[serde(skip)]
    pub tokens: Option<TokenCount>,
}

/// A message's prompt tokens as counted by one tokenizer family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCount {
    /// The tokenizer family (`o200k`, `cl100k`).
    pub family: String,
    /// Tokens, with the per-message framing.
    pub count: u32,
}

/// Input that posts a message.
#[derive(Clone, Debug, Default, Deserialize, Serialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// USER (default), ASSISTANT or SYSTEM; people may post only as USER.
    #[garde(skip)]
    #[serde(default)]
    pub role: Option<MessageRole>,
    /// The text.
    #[garde(inner(length(chars, max = MAX_CONTENT_CHARS)))]
    #[serde(default)]
    pub content: Option<String>,
    /// Block Kit blocks.
    #[garde(skip)]
    #[serde(default)]
    pub blocks: Option<Value>,
    /// Client data.
    #[garde(skip)]
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Ids of files to attach.
    #[garde(inner(length(max = MAX_ATTACHMENTS)))]
    #[serde(default)]
    pub attachments: Option<Vec<FileId>>,
    /// The message this answers (default: the thread's current leaf).
    #[garde(skip)]
    #[serde(default)]
    pub parent_id: Option<MessageId>,
}

impl NewMessage {
    /// Checks lengths, blocks and metadata, naming every bad field; a message
    /// needs text or blocks.
    pub fn check(&self) -> Result<(), DomainError> {
        let mut errors = match self.validate() {
            Ok(()) => FieldErrors::new(),
            Err(report) => FieldErrors::from(report),
        };
        check_body(
            &mut errors,
            self.content.as_deref(),
            self.blocks.as_ref(),
            self.metadata.as_ref(),
        );
        let has_text = self
            .content
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        let has_blocks = self
            .blocks
            .as_ref()
            .is_some_and(|b| b.as_array().is_some_and(|a| !a.is_empty()));
        if !has_text && !has_blocks {
            errors.add(
                "content",
                "a message needs content (1 to 100000 characters) or blocks",
            );
        }
        errors.into_result()
    }
}

/// Input that edits a message; absent fields stay.
#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageUpdate {
    /// New text.
    #[garde(inner(length(chars, max = MAX_CONTENT_CHARS)))]
    #[serde(default)]
    pub content: Option<String>,
    /// New blocks (`null` removes them).
    #[garde(skip)]
    #[serde(default, deserialize_with = "crate::users::double_option")]
    pub blocks: Option<Option<Value>>,
    /// New client data.
    #[garde(skip)]
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

impl MessageUpdate {
    /// Checks the fields that are present.
    pub fn check(&self) -> Result<(), DomainError> {
        let mut errors = match self.validate() {
            Ok(()) => FieldErrors::new(),
            Err(report) => FieldErrors::from(report),
        };
        check_body(
            &mut errors,
            self.content.as_deref(),
            self.blocks.as_ref().and_then(Option::as_ref),
            self.metadata.as_ref(),
        );
        if self.content.is_none() && self.blocks.is_none() && self.metadata.is_none() {
            errors.add("body", "send content, blocks or metadata to change");
        }
        errors.into_result()
    }
}

fn check_body(
    errors: &mut FieldErrors,
    content: Option<&str>,
    blocks: Option<&Value>,
    metadata: Option<&Value>,
) {
    if content.is_some_and(|c| c.chars().count() > MAX_CONTENT_CHARS) {
        errors.add(
            "content",
            format!("must be at most {MAX_CONTENT_CHARS} characters"),
        );
    }
    if let Some(Err(err)) = blocks.map(validate_blocks) {
        errors.merge(err.field_errors());
    }
    if let Some(Err(err)) = metadata.map(|m| validate_metadata("metadata", m)) {
        errors.merge(err.field_errors());
    }
}

/// A past version of a message, kept when it is edited.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Revision {
    /// The id.
    pub id: RevisionId,
    /// The message.
    pub message_id: MessageId,
    /// Who made the edit that replaced this version.
    pub editor_id: Option<UserId>,
    /// The text before the edit.
    pub content: String,
    /// The blocks before the edit.
    pub blocks: Option<Value>,
    /// The metadata before the edit.
    pub metadata: Option<Value>,
    /// When it was replaced.
    pub created_at: DateTime<Utc>,
}

/// Which messages a list returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Branch {
    /// The path from the first message to the current leaf.
    #[default]
    Current,
    /// Every message of every branch.
    All,
}

/// The plain text of blocks (for search, titles and prompts): every `text`
/// string found in them, in order, one per line.
pub fn blocks_text(blocks: &Value) -> String {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("text", Value::String(text)) => out.push(text.clone()),
                        _ => walk(child, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(blocks, &mut out);
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_needs_text_or_blocks() {
        let empty = NewMessage::default();
        assert!(empty.check().is_err());
        let text = NewMessage {
            content: Some("hi".into()),
            ..NewMessage::default()
        };
        assert!(text.check().is_ok());
        let blocks = NewMessage {
            blocks: Some(json!([{ "type": "divider" }])),
            ..NewMessage::default()
        };
        assert!(blocks.check().is_ok());
        let long = NewMessage {
            content: Some("x".repeat(MAX_CONTENT_CHARS + 1)),
            ..NewMessage::default()
        };
        let err = long.check().unwrap_err();
        assert!(err.field_errors().fields().any(|f| f == "content"));
        let longest = NewMessage {
            content: Some("é".repeat(MAX_CONTENT_CHARS)),
            ..NewMessage::default()
        };
        assert!(
            longest.check().is_ok(),
            "the limit counts characters, not bytes"
        );
    }

    #[test]
    fn bad_blocks_are_named_by_path() {
        let input = NewMessage {
            content: Some("x".into()),
            blocks: Some(json!([{ "type": "divider" }, { "type": "nonsense" }])),
            ..NewMessage::default()
        };
        let err = input.check().unwrap_err();
        assert!(
            err.field_errors().fields().any(|f| f == "blocks[1].type"),
            "{err}"
        );
    }

    #[test]
    fn block_text_is_collected() {
        let blocks = json!([
            { "type": "section", "text": { "type": "mrkdwn", "text": "alpha" } },
            { "type": "context", "elements": [{ "type": "plain_text", "text": "beta" }] }
        ]);
        assert_eq!(blocks_text(&blocks), "alpha\nbeta");
    }
}
