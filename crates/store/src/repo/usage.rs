//! Usage roll-ups: model calls from `completions` and messages from
//! `messages`, summed in SQL per model, per day (UTC) or per user.
//!
//! Every query is scoped by org, and by user when the caller asks about
//! their own usage; the service decides which. The `(org_id, created_at)` and
//! `(user_id, created_at)` indexes on `completions` serve both scopes.
//!
//! Days are bucketed by the database, differently per backend: SQLite
//! formats the stored RFC 3339 text with `strftime`, PostgreSQL converts the
//! `timestamptz` to UTC before `to_char` (without `AT TIME ZONE` it would use
//! the session's time zone).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, QueryTrait, Select, Set,
};
use uuid::Uuid;
use xl_domain::{ApiKeyId, CompletionId, MessageId, OrgId, ThreadId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::{analytics_events, completions, messages};
use crate::error::OrmResult;
use crate::repo::completions::CompletionRecord;

/// Which rows to sum.
#[derive(Clone, Copy, Debug)]
pub struct UsageFilter {
    /// The org; always applied.
    pub org_id: OrgId,
    /// Only this user's rows; the whole org when `None`.
    pub user_id: Option<UserId>,
    /// Only rows of this thread.
    pub thread_id: Option<ThreadId>,
    /// Rows created at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Rows created before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// Sums over a set of model calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallSums {
    /// Calls made.
    pub requests: u64,
    /// Calls that completed.
    pub complete: u64,
    /// Calls that failed.
    pub failed: u64,
    /// Streamed calls the client abandoned.
    pub cancelled: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
    /// Cost in micro-USD.
    pub cost_micros: u64,
}

/// How to group model calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallGrouping {
    /// By the model asked for.
    Model,
    /// By UTC day, `YYYY-MM-DD`.
    Day,
}

/// The UTC day of `created_at` as `YYYY-MM-DD`, in the backend's dialect.
fn day_expr(backend: DbBackend) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust("to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        _ => Expr::cust("strftime('%Y-%m-%d', created_at)"),
    }
}

/// `SUM` as a 64-bit integer, 0 over no rows. PostgreSQL sums `bigint`
/// into `numeric`, which does not decode as an integer, hence the cast.
fn sum(of: &str) -> Expr {
    Expr::cust(format!("COALESCE(CAST(SUM({of}) AS BIGINT), 0)"))
}

fn count_status(status: &str) -> Expr {
    sum(&format!("CASE WHEN status = '{status}' THEN 1 ELSE 0 END"))
}

fn scoped_calls(filter: &UsageFilter) -> Select<completions::Entity> {
    let mut query = completions::Entity::find()
        .select_only()
        .filter(completions::Column::OrgId.eq(filter.org_id.as_uuid()));
    if let Some(user) = filter.user_id {
        query = query.filter(completions::Column::UserId.eq(user.as_uuid()));
    }
    if let Some(thread) = filter.thread_id {
        query = query.filter(completions::Column::ThreadId.eq(thread.as_uuid()));
    }
    if let Some(from) = filter.from {
        query = query.filter(completions::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(completions::Column::CreatedAt.lt(to));
    }
    query
        .expr_as(Expr::cust("COUNT(*)"), "requests")
        .expr_as(count_status("complete"), "complete")
        .expr_as(count_status("failed"), "failed")
        .expr_as(count_status("cancelled"), "cancelled")
        .expr_as(sum("prompt_tokens"), "prompt_tokens")
        .expr_as(sum("completion_tokens"), "completion_tokens")
        .expr_as(sum("cost_micros"), "cost_micros")
}

fn read_sums(row: &QueryResult) -> Result<CallSums, StoreError> {
    let get = |column: &str| -> Result<u64, StoreError> {
        let value: i64 = row.try_get("", column).into_store()?;
        Ok(u64::try_from(value).unwrap_or(0))
    };
    Ok(CallSums {
        requests: get("requests")?,
        complete: get("complete")?,
        failed: get("failed")?,
        cancelled: get("cancelled")?,
        prompt_tokens: get("prompt_tokens")?,
        completion_tokens: get("completion_tokens")?,
        cost_micros: get("cost_micros")?,
    })
}

/// The sums over every matching call.
pub async fn call_totals<C: Conn>(db: &C, filter: &UsageFilter) -> Result<CallSums, StoreError> {
    let statement = scoped_calls(filter).build(db.orm().get_database_backend());
    match db.orm().query_one_raw(statement).await.into_store()? {
        Some(row) => read_sums(&row),
        None => Ok(CallSums::default()),
    }
}

/// The sums per model or per day, ordered by that key.
pub async fn calls_by<C: Conn>(
    db: &C,
    filter: &UsageFilter,
    grouping: CallGrouping,
) -> Result<Vec<(String, CallSums)>, StoreError> {
    let backend = db.orm().get_database_backend();
    let key = match grouping {
        CallGrouping::Model => Expr::col(completions::Column::Model),
        CallGrouping::Day => day_expr(backend),
    };
    let statement = scoped_calls(filter)
        .expr_as(key.clone(), "key")
        .group_by(key.clone())
        .order_by_asc(key)
        .build(backend);
    let rows = db.orm().query_all_raw(statement).await.into_store()?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "key").into_store()?, read_sums(row)?)))
        .collect()
}

/// The sums per user (calls without a user, whose user was deleted, are
/// left out), ordered by user id.
pub async fn calls_by_user<C: Conn>(
    db: &C,
    filter: &UsageFilter,
) -> Result<Vec<(UserId, CallSums)>, StoreError> {
    let statement = scoped_calls(filter)
        .expr_as(Expr::col(completions::Column::UserId), "key")
        .filter(completions::Column::UserId.is_not_null())
        .group_by(completions::Column::UserId)
        .order_by_asc(completions::Column::UserId)
        .build(db.orm().get_database_backend());
    let rows = db.orm().query_all_raw(statement).await.into_store()?;
    rows.iter()
        .map(|row| {
            let user: Uuid = row.try_get("", "key").into_store()?;
            Ok((UserId::from_uuid(user), read_sums(row)?))
        })
        .collect()
}

/// Messages written, per UTC day, ordered by day.
pub async fn messages_by_day<C: Conn>(
    db: &C,
    filter: &UsageFilter,
) -> Result<Vec<(String, u64)>, StoreError> {
    let backend = db.orm().get_database_backend();
    let mut query = messages::Entity::find()
        .select_only()
        .filter(messages::Column::OrgId.eq(filter.org_id.as_uuid()));
    if let Some(user) = filter.user_id {
        query = query.filter(messages::Column::UserId.eq(user.as_uuid()));
    }
    if let Some(thread) = filter.thread_id {
        query = query.filter(messages::Column::ThreadId.eq(thread.as_uuid()));
    }
    if let Some(from) = filter.from {
        query = query.filter(messages::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(messages::Column::CreatedAt.lt(to));
    }
    let day = day_expr(backend);
    let statement = query
        .expr_as(day.clone(), "day")
        .expr_as(Expr::cust("COUNT(*)"), "messages")
        .group_by(day.clone())
        .order_by_asc(day)
        .build(backend);
    let rows = db.orm().query_all_raw(statement).await.into_store()?;
    rows.iter()
        .map(|row| {
            let count: i64 = row.try_get("", "messages").into_store()?;
            Ok((
                row.try_get("", "day").into_store()?,
                u64::try_from(count).unwrap_or(0),
            ))
        })
        .collect()
}

/// Client analytics events per UTC day and name, ordered by day then name
/// (the thread filter does not apply: events belong to no thread).
pub async fn events_by_day<C: Conn>(
    db: &C,
    filter: &UsageFilter,
) -> Result<Vec<(String, String, u64)>, StoreError> {
    let backend = db.orm().get_database_backend();
    let mut query = analytics_events::Entity::find()
        .select_only()
        .filter(analytics_events::Column::OrgId.eq(filter.org_id.as_uuid()));
    if let Some(user) = filter.user_id {
        query = query.filter(analytics_events::Column::UserId.eq(user.as_uuid()));
    }
    if let Some(from) = filter.from {
        query = query.filter(analytics_events::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(analytics_events::Column::CreatedAt.lt(to));
    }
    let day = day_expr(backend);
    let statement = query
        .expr_as(day.clone(), "day")
        .column(analytics_events::Column::Name)
        .expr_as(Expr::cust("COUNT(*)"), "events")
        .group_by(day.clone())
        .group_by(analytics_events::Column::Name)
        .order_by_asc(day)
        .order_by_asc(analytics_events::Column::Name)
        .build(backend);
    let rows = db.orm().query_all_raw(statement).await.into_store()?;
    rows.iter()
        .map(|row| {
            let count: i64 = row.try_get("", "events").into_store()?;
            Ok((
                row.try_get("", "day").into_store()?,
                row.try_get("", "name").into_store()?,
                u64::try_from(count).unwrap_or(0),
            ))
        })
        .collect()
}

/// Records client analytics events for one user.
pub async fn insert_events<C: Conn>(
    db: &C,
    org: OrgId,
    user: UserId,
    events: Vec<(String, serde_json::Value)>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let rows = events
        .into_iter()
        .map(|(name, properties)| analytics_events::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org.as_uuid()),
            user_id: Set(Some(user.as_uuid())),
            name: Set(name),
            properties: Set(properties),
            created_at: Set(now),
        });
    analytics_events::Entity::insert_many(rows)
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// The calls behind the sums, newest first, at most `limit`.
pub async fn calls<C: Conn>(
    db: &C,
    filter: &UsageFilter,
    limit: u64,
) -> Result<Vec<CompletionRecord>, StoreError> {
    let mut query =
        completions::Entity::find().filter(completions::Column::OrgId.eq(filter.org_id.as_uuid()));
    if let Some(user) = filter.user_id {
        query = query.filter(completions::Column::UserId.eq(user.as_uuid()));
    }
    if let Some(thread) = filter.thread_id {
        query = query.filter(completions::Column::ThreadId.eq(thread.as_uuid()));
    }
    if let Some(from) = filter.from {
        query = query.filter(completions::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(completions::Column::CreatedAt.lt(to));
    }
    let rows = query
        .order_by_desc(completions::Column::Id)
        .limit(limit)
        .all(db.orm())
        .await
        .into_store()?;
    Ok(rows.into_iter().map(record).collect())
}

fn record(row: completions::Model) -> CompletionRecord {
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    CompletionRecord {
        id: CompletionId::from_uuid(row.id),
        org_id: OrgId::from_uuid(row.org_id),
        user_id: row.user_id.map(UserId::from_uuid),
        api_key_id: row.api_key_id.map(ApiKeyId::from_uuid),
        thread_id: row.thread_id.map(ThreadId::from_uuid),
        message_id: row.message_id.map(MessageId::from_uuid),
        model: row.model,
        provider: row.provider,
        stream: row.stream,
        status: row.status,
        request: row.request,
        response: row.response,
        error: row.error,
        prompt_tokens: count(row.prompt_tokens),
        completion_tokens: count(row.completion_tokens),
        cost_micros: u64::try_from(row.cost_micros).unwrap_or(0),
        latency_ms: count(row.latency_ms),
        first_byte_ms: row.first_byte_ms.map(count),
        created_at: row.created_at,
    }
}
