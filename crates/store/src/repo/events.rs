//! The per-thread event log. An event's sequence number is taken from
//! `threads.last_event_seq` in the same transaction that writes the event
//! (and whatever the event describes), so sequence numbers have no gaps and
//! an event is visible exactly when its effect is. On PostgreSQL the
//! statement that takes the number also announces the event (`pg_notify`),
//! which PostgreSQL delivers to every process's [`crate::EventFeed`] when
//! the transaction commits.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;
use uuid::Uuid;
use xl_domain::events::ThreadEvent;
use xl_domain::{MessageId, OrgId, ThreadId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::events;
use crate::error::OrmResult;
use crate::feed::CHANNEL;

fn to_domain(row: events::Model) -> ThreadEvent {
    ThreadEvent {
        seq: row.seq,
        thread_id: ThreadId::from_uuid(row.thread_id),
        kind: row.kind,
        message_id: row.message_id.map(MessageId::from_uuid),
        actor_id: row.actor_id.map(UserId::from_uuid),
        payload: row.payload,
        created_at: row.created_at,
    }
}

/// Takes the thread's next event number.
const BUMP: &str =
    "UPDATE threads SET last_event_seq = last_event_seq + 1 WHERE id = $1 RETURNING last_event_seq";

/// [`BUMP`], and on PostgreSQL also `NOTIFY $2, '<thread>:<seq>'` in the
/// same statement: the RETURNING list is evaluated once, for the one row.
const BUMP_AND_NOTIFY: &str = "UPDATE threads SET last_event_seq = last_event_seq + 1 WHERE id = $1 \
     RETURNING last_event_seq, pg_notify($2, id::text || ':' || last_event_seq) AS notified";

/// Appends an event to a thread's log; call inside the write transaction
/// that makes the change the event describes. On PostgreSQL the transaction
/// also announces the event on the feed's channel, at commit.
pub async fn append<C: Conn>(
    db: &C,
    thread: ThreadId,
    kind: &str,
    message: Option<MessageId>,
    actor: Option<UserId>,
    payload: Value,
) -> Result<ThreadEvent, StoreError> {
    let row = db
        .orm()
        .query_one_raw(take_seq(db.orm().get_database_backend(), thread))
        .await
        .into_store()?
        .ok_or(StoreError::NotFound("thread"))?;
    let seq: i64 = row.try_get("", "last_event_seq").into_store()?;
    write(db, thread, seq, kind, message, actor, payload).await
}

/// The statement that takes a thread's next event number (returned as
/// `last_event_seq`), announcing it on PostgreSQL.
fn take_seq(backend: DbBackend, thread: ThreadId) -> sea_orm::Statement {
    match backend {
        // Announced to every process listening (`EventFeed`) when the
        // transaction commits, and never if it rolls back.
        DbBackend::Postgres => super::raw(
            backend,
            BUMP_AND_NOTIFY,
            vec![thread.as_uuid().into(), CHANNEL.into()],
        ),
        _ => super::raw(backend, BUMP, vec![thread.as_uuid().into()]),
    }
}

/// What a statement that also takes the thread's next event number adds
/// to its `RETURNING` list (with the thread's id as `id`, and the channel
/// as the parameter numbered `channel`): `last_event_seq`, and on
/// PostgreSQL the announcement.
pub(crate) fn returning_seq(backend: DbBackend, channel: usize) -> String {
    match backend {
        DbBackend::Postgres => format!(
            "last_event_seq, pg_notify(${channel}, id::text || ':' || last_event_seq) AS notified"
        ),
        _ => "last_event_seq".to_owned(),
    }
}

/// The channel the events are announced on, as a statement parameter.
pub(crate) fn channel() -> sea_orm::Value {
    CHANNEL.into()
}

/// Writes an event whose number the transaction has already taken (by
/// [`append`], or by a statement that used [`returning_seq`]).
pub async fn write<C: Conn>(
    db: &C,
    thread: ThreadId,
    seq: i64,
    kind: &str,
    message: Option<MessageId>,
    actor: Option<UserId>,
    payload: Value,
) -> Result<ThreadEvent, StoreError> {
    let event = ThreadEvent {
        seq,
        thread_id: thread,
        kind: kind.to_owned(),
        message_id: message,
        actor_id: actor,
        payload,
        created_at: Utc::now(),
    };
    let model = events::ActiveModel {
        id: Set(Uuid::now_v7()),
        thread_id: Set(thread.as_uuid()),
        seq: Set(seq),
        kind: Set(event.kind.clone()),
        message_id: Set(message.map(|id| id.as_uuid())),
        actor_id: Set(actor.map(|id| id.as_uuid())),
        payload: Set(event.payload.clone()),
        created_at: Set(event.created_at),
    };
    // The row written is the event we hold: nothing to read back, so it is
    // sent ahead of what the transaction does next.
    let insert = sea_orm::QueryTrait::build(
        &events::Entity::insert(model),
        db.orm().get_database_backend(),
    );
    super::execute_ahead(db, insert).await?;
    Ok(event)
}

/// Events of a thread after `after`, oldest first, at most `limit`;
/// only those about `message` when given.
pub async fn after<C: Conn>(
    db: &C,
    thread: ThreadId,
    after: i64,
    message: Option<MessageId>,
    limit: u64,
) -> Result<Vec<ThreadEvent>, StoreError> {
    let mut query = events::Entity::find()
        .filter(events::Column::ThreadId.eq(thread.as_uuid()))
        .filter(events::Column::Seq.gt(after));
    if let Some(message) = message {
        query = query.filter(events::Column::MessageId.eq(message.as_uuid()));
    }
    Ok(query
        .order_by_asc(events::Column::Seq)
        .limit(limit)
        .all(db.orm())
        .await
        .into_store()?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// The sequence number of the thread's newest event (0 if none); `None` if
/// there is no such thread.
pub async fn last_seq<C: Conn>(db: &C, thread: ThreadId) -> Result<Option<i64>, StoreError> {
    crate::entity::threads::Entity::find_by_id(thread.as_uuid())
        .select_only()
        .column(crate::entity::threads::Column::LastEventSeq)
        .into_tuple::<i64>()
        .one(db.orm())
        .await
        .into_store()
}

/// The sequence number of the thread's oldest logged event (`None` if its
/// log is empty).
pub async fn oldest_seq<C: Conn>(db: &C, thread: ThreadId) -> Result<Option<i64>, StoreError> {
    events::Entity::find()
        .select_only()
        .column(events::Column::Seq)
        .filter(events::Column::ThreadId.eq(thread.as_uuid()))
        .order_by_asc(events::Column::Seq)
        .limit(1)
        .into_tuple::<i64>()
        .one(db.orm())
        .await
        .into_store()
}

/// Deletes events written before `cutoff`; returns how many.
pub async fn prune_before<C: Conn>(db: &C, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(events::Entity::delete_many()
        .filter(events::Column::CreatedAt.lt(cutoff))
        .exec(db.orm())
        .await
        .into_store()?
        .rows_affected)
}

/// Events of a thread written after `since`, oldest first, at most `limit`.
pub async fn written_after<C: Conn>(
    db: &C,
    thread: ThreadId,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<ThreadEvent>, StoreError> {
    Ok(events::Entity::find()
        .filter(events::Column::ThreadId.eq(thread.as_uuid()))
        .filter(events::Column::CreatedAt.gt(since))
        .order_by_asc(events::Column::Seq)
        .limit(limit)
        .all(db.orm())
        .await
        .into_store()?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// The threads of an org with events written after `since` (at most
/// `limit` of them).
pub async fn active_threads<C: Conn>(
    db: &C,
    org: OrgId,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<ThreadId>, StoreError> {
    let rows = db
        .orm()
        .query_all_raw(super::raw(
            db.orm().get_database_backend(),
            "SELECT DISTINCT e.thread_id AS thread_id FROM events e \
             JOIN threads t ON t.id = e.thread_id \
             WHERE e.created_at > $1 AND t.org_id = $2 LIMIT $3",
            vec![
                since.into(),
                org.as_uuid().into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await
        .into_store()?;
    rows.iter()
        .map(|row| {
            row.try_get::<Uuid>("", "thread_id")
                .map(ThreadId::from_uuid)
                .into_store()
        })
        .collect()
}
