//! Moving conversations: fork a thread at a message, export a thread as JSON
//! or Markdown, and import a JSON export as a new thread (the round trip
//! keeps the tree, the current branch, roles, text, blocks and metadata).

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use xl_domain::messages::NewMessage;
use xl_domain::threads::{NewThread, Thread};
use xl_domain::{
    Actor, DomainError, FieldErrors, Message, MessageId, MessageRole, MessageStatus, ThreadId,
};
use xl_store::repo;
use xl_store::repo::messages::CopiedMessage;

use crate::threads::Access;
use crate::{ServiceError, Services};

/// The format tag of JSON exports.
pub const EXPORT_FORMAT: &str = "experience-layer.thread.v1";
/// The most messages an import may carry.
pub const MAX_IMPORT_MESSAGES: usize = 10_000;

/// A thread as exported.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// When it was exported.
    #[serde(default)]
    pub exported_at: Option<DateTime<Utc>>,
    /// The thread's settings.
    #[serde(deserialize_with = "thread_object")]
    pub thread: NewThread,
    /// The message that ends the current branch.
    #[serde(default)]
    pub current_leaf_id: Option<String>,
    /// Every message, parents before children.
    pub messages: Vec<ExportedMessage>,
}

fn thread_object<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<NewThread, D::Error> {
    xl_domain::object::object_field(deserializer, "thread")
}

/// A message as exported.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportedMessage {
    /// Its id in the export (any unique string).
    pub id: String,
    /// Its parent's id in the export.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// USER, ASSISTANT, SYSTEM or TOOL.
    pub role: MessageRole,
    /// Text.
    #[serde(default)]
    pub content: String,
    /// Blocks.
    #[serde(default)]
    pub blocks: Option<Value>,
    /// Client data.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Status.
    #[serde(default = "complete")]
    pub status: MessageStatus,
    /// Model of an assistant message.
    #[serde(default)]
    pub model: Option<String>,
    /// The author's email, for information.
    #[serde(default)]
    pub author: Option<String>,
    /// When it was posted.
    pub created_at: DateTime<Utc>,
    /// When it was deleted, for tombstones.
    #[serde(default)]
    pub deleted_at: Option<DateTime<Utc>>,
}

fn complete() -> MessageStatus {
    MessageStatus::Complete
}

fn settings_of(thread: &Thread) -> NewThread {
    NewThread {
        title: thread.title.clone(),
        description: thread.description.clone(),
        metadata: Some(thread.metadata.clone()),
        system_prompt: thread.system_prompt.clone(),
        model: thread.model.clone(),
        auto_reply: Some(thread.auto_reply),
        pinned: Some(thread.pinned),
        tags: Some(thread.tags.clone()),
    }
}

impl Services {
    /// Copies the path from the first message to `at` into a new thread owned
    /// by the caller.
    pub async fn fork_thread(
        &self,
        actor: &Actor,
        id: ThreadId,
        at: MessageId,
    ) -> Result<Thread, ServiceError> {
        let source = self.thread_for(actor, id, Access::Read).await?;
        let db = self.store.reader();
        if repo::messages::find_in_thread(db, id, at).await?.is_none() {
            return Err(ServiceError::Invalid(DomainError::invalid(
                "message_id",
                "is not a message of this thread",
            )));
        }
        let path = repo::messages::branch(db, id, at).await?;
        let mut settings = settings_of(&source);
        settings.title = Some(match &source.title {
            Some(title) => format!("Fork of {title}")
                .chars()
                .take(xl_domain::threads::MAX_TITLE_CHARS)
                .collect(),
            None => "Fork".to_owned(),
        });
        settings.pinned = Some(false);
        let exported: Vec<ExportedMessage> = path.iter().map(|m| export_message(m, None)).collect();
        let leaf = exported.last().map(|m| m.id.clone());
        self.create_from_export(actor, settings, exported, leaf)
            .await
    }

    /// The thread and every message (all branches) as a JSON document.
    pub async fn export_thread(
        &self,
        actor: &Actor,
        id: ThreadId,
    ) -> Result<ThreadExport, ServiceError> {
        let thread = self.thread_for(actor, id, Access::Read).await?;
        let messages = repo::messages::all_in_thread(self.store.reader(), id).await?;
        let members = repo::threads::members(self.store.reader(), id).await?;
        let emails: HashMap<_, _> = members.into_iter().map(|m| (m.user_id, m.email)).collect();
        Ok(ThreadExport {
            format: EXPORT_FORMAT.to_owned(),
            exported_at: Some(Utc::now()),
            current_leaf_id: thread.current_leaf_id.map(|id| id.to_string()),
            thread: settings_of(&thread),
            messages: messages
                .iter()
                .map(|m| export_message(m, m.user_id.and_then(|u| emails.get(&u).cloned())))
                .collect(),
        })
    }

    /// The current branch as Markdown.
    pub async fn export_thread_markdown(
        &self,
        actor: &Actor,
        id: ThreadId,
    ) -> Result<String, ServiceError> {
        let thread = self.thread_for(actor, id, Access::Read).await?;
        let messages = match thread.current_leaf_id {
            Some(leaf) => repo::messages::branch(self.store.reader(), id, leaf).await?,
            None => Vec::new(),
        };
        let mut out = format!(
            "# {}\n\n",
            thread.title.as_deref().unwrap_or("Untitled thread")
        );
        if let Some(description) = &thread.description {
            let _ = write!(out, "{description}\n\n");
        }
        for message in &messages {
            let who = match message.role {
                MessageRole::User => "User",
                MessageRole::Assistant => "Assistant",
                MessageRole::System => "System",
                MessageRole::Tool => "Tool",
            };
            let _ = write!(
                out,
                "---\n\n**{who}** · {}\n\n",
                message.created_at.to_rfc3339()
            );
            if message.deleted_at.is_some() {
                out.push_str("_(deleted)_\n\n");
                continue;
            }
            if !message.content.is_empty() {
                let _ = write!(out, "{}\n\n", message.content);
            }
            if let Some(blocks) = &message.blocks {
                let text = xl_domain::messages::blocks_text(blocks);
                if !text.is_empty() {
                    let _ = write!(out, "{text}\n\n");
                }
            }
        }
        Ok(out)
    }

    /// Creates a thread owned by the caller from a JSON export.
    pub async fn import_thread(
        &self,
        actor: &Actor,
        export: ThreadExport,
    ) -> Result<Thread, ServiceError> {
        if export.format != EXPORT_FORMAT {
            return Err(ServiceError::Invalid(DomainError::invalid(
                "format",
                format!("must be {EXPORT_FORMAT}"),
            )));
        }
        if export.messages.len() > MAX_IMPORT_MESSAGES {
            return Err(ServiceError::Invalid(DomainError::invalid(
                "messages",
                format!("at most {MAX_IMPORT_MESSAGES} messages"),
            )));
        }
        let mut errors = FieldErrors::new();
        let mut seen = std::collections::HashSet::new();
        for (i, message) in export.messages.iter().enumerate() {
            if message.deleted_at.is_none() {
                let input = NewMessage {
                    role: Some(message.role),
                    content: Some(message.content.clone()),
                    blocks: message.blocks.clone(),
                    metadata: message.metadata.clone(),
                    ..NewMessage::default()
                };
                if let Err(err) = input.check() {
                    for (field, reasons) in err.field_errors().iter() {
                        for reason in reasons {
                            errors.add(format!("messages[{i}].{field}"), reason.clone());
                        }
                    }
                }
            }
            if let Some(parent) = &message.parent_id
                && !seen.contains(parent)
            {
                errors.add(
                    format!("messages[{i}].parent_id"),
                    "must name an earlier message",
                );
            }
            if !seen.insert(message.id.clone()) {
                errors.add(format!("messages[{i}].id"), "is a duplicate");
            }
            // As when posting: only administrators speak as the system.
            // (Assistant messages are what the export says an assistant
            // wrote; they carry no authority.)
            if message.role == MessageRole::System && !actor.is_admin() {
                errors.add(
                    format!("messages[{i}].role"),
                    "only an administrator may import SYSTEM messages",
                );
            }
        }
        if let Some(leaf) = &export.current_leaf_id
            && !seen.contains(leaf)
        {
            errors.add("current_leaf_id", "must name a message of the export");
        }
        errors.into_result()?;
        let now = Utc::now();
        let messages = export
            .messages
            .into_iter()
            .map(|message| imported(message, now))
            .collect();
        self.create_from_export(actor, export.thread, messages, export.current_leaf_id)
            .await
    }

    async fn create_from_export(
        &self,
        actor: &Actor,
        settings: NewThread,
        messages: Vec<ExportedMessage>,
        leaf: Option<String>,
    ) -> Result<Thread, ServiceError> {
        // The settings are checked exactly as a create checks them.
        let row = Self::new_thread_row(actor, &settings)?;
        if let Some(model) = &row.model {
            self.check_model_known(model).await?;
        }
        let mut ids: HashMap<String, MessageId> = HashMap::new();
        let mut copies = Vec::with_capacity(messages.len());
        for message in messages {
            let id = MessageId::new();
            let parent_id = message.parent_id.as_ref().and_then(|p| ids.get(p).copied());
            ids.insert(message.id.clone(), id);
            copies.push(CopiedMessage {
                id,
                parent_id,
                user_id: (message.role == MessageRole::User).then_some(actor.user_id),
                role: message.role,
                content: message.content,
                blocks: message.blocks,
                metadata: message.metadata,
                // No copy is ever left `streaming`: no task would finish it.
                status: if message.status == MessageStatus::Streaming {
                    MessageStatus::Cancelled
                } else {
                    message.status
                },
                model: message.model,
                created_at: message.created_at,
                deleted_at: message.deleted_at,
            });
        }
        let leaf = leaf
            .and_then(|l| ids.get(&l).copied())
            .or_else(|| copies.last().map(|c| c.id));
        let tx = self.store.begin_write().await?;
        let thread = repo::threads::insert(&tx, row).await?;
        repo::messages::insert_copies(&tx, thread.id, actor.org_id, copies, leaf).await?;
        let thread = self
            .thread_in_tx(&tx, actor, thread.id, Access::Read)
            .await?;
        tx.commit().await?;
        Ok(thread)
    }
}

/// A message of an import as it will be stored: finished (`streaming`
/// becomes `complete`; `failed` and `cancelled` stay), dated now, and with
/// what the document claimed about its past (when it was posted or deleted,
/// by which model) kept only as `metadata.imported`.
fn imported(mut message: ExportedMessage, now: DateTime<Utc>) -> ExportedMessage {
    if message.status == MessageStatus::Streaming {
        message.status = MessageStatus::Complete;
    }
    let mut claimed = serde_json::Map::new();
    claimed.insert(
        "created_at".into(),
        Value::String(message.created_at.to_rfc3339()),
    );
    if let Some(deleted) = message.deleted_at {
        claimed.insert("deleted_at".into(), Value::String(deleted.to_rfc3339()));
    }
    if let Some(model) = message.model.take() {
        claimed.insert("model".into(), Value::String(model));
    }
    message.metadata = match message.metadata.take() {
        None | Some(Value::Null) => Some(Value::Object(
            [("imported".to_owned(), Value::Object(claimed))]
                .into_iter()
                .collect(),
        )),
        Some(Value::Object(mut map)) => {
            map.insert("imported".into(), Value::Object(claimed));
            Some(Value::Object(map))
        }
        // Metadata that is not an object is kept as it is, without the claims.
        Some(other) => Some(other),
    };
    message.created_at = now;
    message.deleted_at = message.deleted_at.map(|_| now);
    message
}

fn export_message(message: &Message, author: Option<String>) -> ExportedMessage {
    ExportedMessage {
        id: message.id.to_string(),
        parent_id: message.parent_id.map(|id| id.to_string()),
        role: message.role,
        content: message.content.clone(),
        blocks: message.blocks.clone(),
        metadata: message.metadata.clone(),
        status: message.status,
        model: message.model.clone(),
        author,
        created_at: message.created_at,
        deleted_at: message.deleted_at,
    }
}
