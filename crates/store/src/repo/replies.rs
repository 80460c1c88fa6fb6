//! Assistant replies while they are generated: text appended in place, the
//! final status set once, and the replies a stopped server left behind.
//!
//! Every write here is conditional on the message still being `streaming`,
//! so whoever finishes a reply first (the generation, a cancel, or restart
//! recovery) wins, and a late writer learns that it lost instead of
//! overwriting a final status.

use chrono::Utc;
use sea_orm::sea_query::{BinOper, Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::{MessageId, MessageStatus, OrgId, ThreadId};

use xl_domain::messages::TokenCount;

use crate::Conn;
use crate::StoreError;
use crate::entity::messages;
use crate::error::OrmResult;

/// Appends text to a reply being generated. Returns `false` (and changes
/// nothing) if the message is no longer `streaming`.
pub async fn append_text<C: Conn>(db: &C, id: MessageId, text: &str) -> Result<bool, StoreError> {
    // `||` is string concatenation on both SQLite and PostgreSQL; sea-query
    // only offers it as a PostgreSQL extension, hence the custom operator.
    let result = messages::Entity::update_many()
        .col_expr(
            messages::Column::Content,
            Expr::col(messages::Column::Content).binary(BinOper::Custom("||"), text),
        )
        .col_expr(messages::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(messages::Column::Id.eq(id.as_uuid()))
        .filter(messages::Column::Status.eq(MessageStatus::Streaming.as_str()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected == 1)
}

/// Replaces a message's metadata (a reply's record, written in the
/// transaction that created it).
pub async fn set_metadata<C: Conn>(
    db: &C,
    id: MessageId,
    metadata: &serde_json::Value,
) -> Result<(), StoreError> {
    messages::Entity::update_many()
        .col_expr(messages::Column::Metadata, Expr::value(metadata.clone()))
        .filter(messages::Column::Id.eq(id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// How a reply ended.
#[derive(Clone, Debug)]
pub struct FinishedReply {
    /// `complete`, `failed` or `cancelled`.
    pub status: MessageStatus,
    /// A safe summary of why it failed.
    pub error: Option<String>,
    /// What to record about the generation (completion id, model, usage);
    /// `None` keeps what is there.
    pub metadata: Option<Value>,
    /// The reply's prompt tokens, counted once its text is final.
    pub token_count: Option<TokenCount>,
}

/// Sets the final status of a reply still `streaming`. Returns `false` (and
/// changes nothing) if something else finished it first.
pub async fn finish<C: Conn>(
    db: &C,
    id: MessageId,
    finished: FinishedReply,
) -> Result<bool, StoreError> {
    let mut update = messages::Entity::update_many()
        .col_expr(
            messages::Column::Status,
            Expr::value(finished.status.as_str()),
        )
        .col_expr(messages::Column::Error, Expr::value(finished.error))
        .col_expr(messages::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(metadata) = finished.metadata {
        update = update.col_expr(messages::Column::Metadata, Expr::value(metadata));
    }
    if let Some(tokens) = finished.token_count {
        update = update
            .col_expr(
                messages::Column::TokenCount,
                Expr::value(i32::try_from(tokens.count).unwrap_or(i32::MAX)),
            )
            .col_expr(messages::Column::TokenFamily, Expr::value(tokens.family));
    }
    let result = update
        .filter(messages::Column::Id.eq(id.as_uuid()))
        .filter(messages::Column::Status.eq(MessageStatus::Streaming.as_str()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected == 1)
}

/// A reply left `streaming`, as restart recovery needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamingReply {
    /// The message.
    pub id: MessageId,
    /// Its thread.
    pub thread_id: ThreadId,
    /// Its org.
    pub org_id: OrgId,
}

/// Messages still `streaming` in any org, oldest first, at most `limit`
/// after `after` (by id), for recovery at start-up.
pub async fn streaming<C: Conn>(
    db: &C,
    after: Option<MessageId>,
    limit: u64,
) -> Result<Vec<StreamingReply>, StoreError> {
    let mut query = messages::Entity::find()
        .filter(messages::Column::Status.eq(MessageStatus::Streaming.as_str()));
    if let Some(after) = after {
        query = query.filter(messages::Column::Id.gt(after.as_uuid()));
    }
    // Read by column name: the SQLite engine's rows are keyed by name, so
    // a multi-column tuple (read by position) is not used.
    #[derive(FromQueryResult)]
    struct Row {
        id: uuid::Uuid,
        thread_id: uuid::Uuid,
        org_id: uuid::Uuid,
    }
    let rows = query
        .select_only()
        .column(messages::Column::Id)
        .column(messages::Column::ThreadId)
        .column(messages::Column::OrgId)
        .order_by_asc(messages::Column::Id)
        .limit(limit)
        .into_model::<Row>()
        .all(db.orm())
        .await
        .into_store()?;
    Ok(rows
        .into_iter()
        .map(|row| StreamingReply {
            id: MessageId::from_uuid(row.id),
            thread_id: ThreadId::from_uuid(row.thread_id),
            org_id: OrgId::from_uuid(row.org_id),
        })
        .collect())
}

/// A piece of a reply's text to append with its `message.delta` event.
#[derive(Clone, Debug)]
pub struct Delta {
    /// The reply's thread.
    pub thread: ThreadId,
    /// The reply.
    pub reply: MessageId,
    /// The text.
    pub text: String,
}

/// Appends a reply's text unless it is no longer `streaming` (`$1` text,
/// `$2` time, `$3` reply).
const DELTA_APPEND: &str = "UPDATE messages SET content = content || $1, updated_at = $2 \
     WHERE id = $3 AND status = 'streaming'";

/// Takes the thread's next event number for a reply still `streaming`
/// (`$1` thread, `$2` reply; the `RETURNING` list is completed by
/// `events::returning_seq`).
const DELTA_BUMP: &str = "UPDATE threads SET last_event_seq = last_event_seq + 1 \
     WHERE id = $1 AND EXISTS (SELECT 1 FROM messages WHERE id = $2 AND status = 'streaming') \
     RETURNING";

/// Writes the `message.delta` event at the number just taken (`$1` id,
/// `$2` thread, `$3` reply, `$4` payload, `$5` time, `$6` kind).
const DELTA_EVENT: &str = "INSERT INTO events (id, thread_id, seq, kind, message_id, actor_id, payload, created_at) \
     SELECT $1, t.id, t.last_event_seq, $6, $3, NULL, $4, $5 FROM threads t \
     WHERE t.id = $2 AND EXISTS (SELECT 1 FROM messages WHERE id = $3 AND status = 'streaming')";

/// Appends each delta's text to its reply and logs its `message.delta`
/// event, in order, all in one visit to the SQLite writer: the event of
/// each, or `None` for a reply no longer `streaming` (whose text and log are
/// left alone). Every statement guards itself, so one finished reply does
/// not stop the others.
pub async fn append_deltas<C: Conn>(
    db: &C,
    deltas: &[Delta],
) -> Result<Vec<Option<ThreadEvent>>, StoreError> {
    use sea_orm::ConnectionTrait;
    let backend = db.orm().get_database_backend();
    let now = Utc::now();
    let bump = format!("{DELTA_BUMP} {}", super::events::returning_seq(backend, 3));
    let mut steps = Vec::with_capacity(deltas.len() * 3);
    for delta in deltas {
        let reply = delta.reply.as_uuid();
        let thread = delta.thread.as_uuid();
        steps.push((
            super::raw(
                backend,
                DELTA_APPEND,
                vec![delta.text.clone().into(), now.into(), reply.into()],
            ),
            false,
        ));
        let mut values = vec![thread.into(), reply.into()];
        if backend == sea_orm::DbBackend::Postgres {
            values.push(super::events::channel());
        }
        steps.push((super::raw(backend, &bump, values), false));
        steps.push((
            super::raw(
                backend,
                DELTA_EVENT,
                vec![
                    uuid::Uuid::now_v7().into(),
                    thread.into(),
                    reply.into(),
                    delta_payload(&delta.text).into(),
                    now.into(),
                    kind::MESSAGE_DELTA.into(),
                ],
            ),
            false,
        ));
    }
    let results = super::chain(db, steps).await?;
    let mut events = Vec::with_capacity(deltas.len());
    for (delta, rows) in deltas.iter().zip(results.chunks(3)) {
        let seq = match rows.get(1).and_then(|rows| rows.first()) {
            Some(row) => Some(row.try_get::<i64>("", "last_event_seq").into_store()?),
            None => None,
        };
        events.push(seq.map(|seq| ThreadEvent {
            seq,
            thread_id: delta.thread,
            kind: kind::MESSAGE_DELTA.to_owned(),
            message_id: Some(delta.reply),
            actor_id: None,
            payload: delta_payload(&delta.text),
            created_at: now,
        }));
    }
    Ok(events)
}

/// A `message.delta` event's payload.
pub fn delta_payload(text: &str) -> Value {
    serde_json::json!({ "delta": text })
}
