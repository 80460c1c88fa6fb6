//! The record of every model call, written once when the call ends.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::Value;
use xl_domain::{ApiKeyId, CompletionId, MessageId, OrgId, ThreadId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::completions;
use crate::error::OrmResult;

/// One finished (or failed, or cancelled) model call.
#[derive(Clone, Debug)]
pub struct CompletionRecord {
    /// The id.
    pub id: CompletionId,
    /// The caller's org.
    pub org_id: OrgId,
    /// The caller.
    pub user_id: Option<UserId>,
    /// The API key used, if any.
    pub api_key_id: Option<ApiKeyId>,
    /// The thread it served, if any.
    pub thread_id: Option<ThreadId>,
    /// The message it wrote, if any.
    pub message_id: Option<MessageId>,
    /// The model asked for.
    pub model: String,
    /// The provider that answered.
    pub provider: String,
    /// Whether it was streamed.
    pub stream: bool,
    /// `complete`, `failed` or `cancelled`.
    pub status: String,
    /// The request as sent.
    pub request: Value,
    /// The response (or, for streams, the assembled reply).
    pub response: Option<Value>,
    /// A safe summary of the failure.
    pub error: Option<String>,
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Generated tokens.
    pub completion_tokens: u32,
    /// Cost in micro-USD.
    pub cost_micros: u64,
    /// Time from the call to its end.
    pub latency_ms: u32,
    /// Time from the call to the first streamed byte.
    pub first_byte_ms: Option<u32>,
    /// When the call started.
    pub created_at: DateTime<Utc>,
}

fn clamp(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Clears the references of a record whose rows are gone (the caller, their
/// key, thread or message deleted while the call ran), so the record itself,
/// which is the org's bill, can still be stored.
pub async fn detach_missing<C: Conn>(
    db: &C,
    mut record: CompletionRecord,
) -> Result<CompletionRecord, StoreError> {
    use crate::entity::{api_keys, messages, threads, users};
    if let Some(id) = record.user_id
        && users::Entity::find_by_id(id.as_uuid())
            .count(db.orm())
            .await
            .into_store()?
            == 0
    {
        record.user_id = None;
    }
    if let Some(id) = record.api_key_id
        && api_keys::Entity::find_by_id(id.as_uuid())
            .count(db.orm())
            .await
            .into_store()?
            == 0
    {
        record.api_key_id = None;
    }
    if let Some(id) = record.thread_id
        && threads::Entity::find_by_id(id.as_uuid())
            .count(db.orm())
            .await
            .into_store()?
            == 0
    {
        record.thread_id = None;
    }
    if let Some(id) = record.message_id
        && messages::Entity::find_by_id(id.as_uuid())
            .count(db.orm())
            .await
            .into_store()?
            == 0
    {
        record.message_id = None;
    }
    Ok(record)
}

/// Stores a record.
pub async fn insert<C: Conn>(db: &C, record: CompletionRecord) -> Result<(), StoreError> {
    completions::ActiveModel {
        id: Set(record.id.as_uuid()),
        org_id: Set(record.org_id.as_uuid()),
        user_id: Set(record.user_id.map(|id| id.as_uuid())),
        api_key_id: Set(record.api_key_id.map(|id| id.as_uuid())),
        thread_id: Set(record.thread_id.map(|id| id.as_uuid())),
        message_id: Set(record.message_id.map(|id| id.as_uuid())),
        model: Set(record.model),
        provider: Set(record.provider),
        stream: Set(record.stream),
        status: Set(record.status),
        request: Set(record.request),
        response: Set(record.response),
        error: Set(record.error),
        prompt_tokens: Set(clamp(u64::from(record.prompt_tokens))),
        completion_tokens: Set(clamp(u64::from(record.completion_tokens))),
        total_tokens: Set(clamp(
            u64::from(record.prompt_tokens) + u64::from(record.completion_tokens),
        )),
        cost_micros: Set(i64::try_from(record.cost_micros).unwrap_or(i64::MAX)),
        latency_ms: Set(clamp(u64::from(record.latency_ms))),
        first_byte_ms: Set(record.first_byte_ms.map(|ms| clamp(u64::from(ms)))),
        created_at: Set(record.created_at),
        finished_at: Set(Some(Utc::now())),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    Ok(())
}
