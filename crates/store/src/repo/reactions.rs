//! Reactions on messages: adding and removing one user's reaction, the counts
//! the limits are checked against, and the per-name summary, aggregated in
//! SQL so a message with thousands of reactions costs one grouped row per
//! name plus at most a few user ids per name.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, WindowStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;
use xl_domain::reactions::{ReactionName, ReactionSummary};
use xl_domain::{MessageId, ReactionId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::reactions;
use crate::error::OrmResult;

/// Adds a user's reaction. A reaction the user already has is
/// `StoreError::Conflict` (the unique index on message, user and name).
pub async fn insert<C: Conn>(
    db: &C,
    message: MessageId,
    user: UserId,
    name: &ReactionName,
) -> Result<(), StoreError> {
    let row = reactions::ActiveModel {
        id: Set(ReactionId::new().as_uuid()),
        message_id: Set(message.as_uuid()),
        user_id: Set(user.as_uuid()),
        name: Set(name.as_str().to_owned()),
        created_at: Set(Utc::now()),
    };
    reactions::Entity::insert(row)
        .exec_without_returning(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Removes a user's reaction; whether there was one to remove.
pub async fn delete<C: Conn>(
    db: &C,
    message: MessageId,
    user: UserId,
    name: &ReactionName,
) -> Result<bool, StoreError> {
    let result = reactions::Entity::delete_many()
        .filter(reactions::Column::MessageId.eq(message.as_uuid()))
        .filter(reactions::Column::UserId.eq(user.as_uuid()))
        .filter(reactions::Column::Name.eq(name.as_str()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected > 0)
}

/// Whether anyone has reacted to the message with this name.
pub async fn name_in_use<C: Conn>(
    db: &C,
    message: MessageId,
    name: &ReactionName,
) -> Result<bool, StoreError> {
    let found = reactions::Entity::find()
        .filter(reactions::Column::MessageId.eq(message.as_uuid()))
        .filter(reactions::Column::Name.eq(name.as_str()))
        .count(db.orm())
        .await
        .into_store()?;
    Ok(found > 0)
}

/// How many different names the message's reactions use.
pub async fn count_names<C: Conn>(db: &C, message: MessageId) -> Result<u64, StoreError> {
    let names: Option<i64> = reactions::Entity::find()
        .select_only()
        .expr(Expr::col(reactions::Column::Name).count_distinct())
        .filter(reactions::Column::MessageId.eq(message.as_uuid()))
        .into_tuple()
        .one(db.orm())
        .await
        .into_store()?;
    Ok(names.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

/// How many reactions one user has on the message.
pub async fn count_by_user<C: Conn>(
    db: &C,
    message: MessageId,
    user: UserId,
) -> Result<u64, StoreError> {
    reactions::Entity::find()
        .filter(reactions::Column::MessageId.eq(message.as_uuid()))
        .filter(reactions::Column::UserId.eq(user.as_uuid()))
        .count(db.orm())
        .await
        .into_store()
}

#[derive(FromQueryResult)]
struct TallyRow {
    name: String,
    count: i64,
    // COUNT rather than MAX of a CASE: COUNT is BIGINT on PostgreSQL and
    // INTEGER on SQLite, so one Rust type decodes both.
    mine: i64,
}

#[derive(FromQueryResult)]
struct ReactorRow {
    name: String,
    user_id: Uuid,
}

/// The message's reactions grouped by name, in the order each name was first
/// used: how many reacted, the first `users_shown` of them (oldest first),
/// and whether `viewer` is among them.
pub async fn summary<C: Conn>(
    db: &C,
    message: MessageId,
    viewer: UserId,
    users_shown: u64,
) -> Result<Vec<ReactionSummary>, StoreError> {
    // First the counts: one row per name. Ordered by the earliest time
    // rather than the smallest id because PostgreSQL has no MIN over UUIDs.
    let mine: Expr = Expr::case(reactions::Column::UserId.eq(viewer.as_uuid()), 1).into();
    let tallies = reactions::Entity::find()
        .select_only()
        .column(reactions::Column::Name)
        .column_as(reactions::Column::Id.count(), "count")
        .column_as(mine.count(), "mine")
        .filter(reactions::Column::MessageId.eq(message.as_uuid()))
        .group_by(reactions::Column::Name)
        .order_by(Expr::col(reactions::Column::CreatedAt).min(), Order::Asc)
        .order_by_asc(reactions::Column::Name)
        .into_model::<TallyRow>()
        .all(db.orm())
        .await
        .into_store()?;
    if tallies.is_empty() {
        return Ok(Vec::new());
    }

    // Then the first few users of each name, numbered within the name by a
    // window function so no more than `users_shown` rows per name leave the
    // database.
    let nth = Alias::new("nth");
    let ranked = Query::select()
        .column(reactions::Column::Name)
        .column(reactions::Column::UserId)
        .expr_window_as(
            Expr::cust("ROW_NUMBER()"),
            WindowStatement::partition_by(reactions::Column::Name)
                .order_by(reactions::Column::CreatedAt, Order::Asc)
                .order_by(reactions::Column::Id, Order::Asc)
                .to_owned(),
            nth.clone(),
        )
        .from(reactions::Entity)
        .and_where(Expr::col(reactions::Column::MessageId).eq(message.as_uuid()))
        .to_owned();
    let shown = i64::try_from(users_shown).unwrap_or(i64::MAX);
    let first_users = Query::select()
        .column(reactions::Column::Name)
        .column(reactions::Column::UserId)
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(nth.clone()).lte(shown))
        .order_by(reactions::Column::Name, Order::Asc)
        .order_by(nth, Order::Asc)
        .to_owned();
    let statement = db.orm().get_database_backend().build(&first_users);
    let mut users: HashMap<String, Vec<UserId>> = HashMap::new();
    for row in ReactorRow::find_by_statement(statement)
        .all(db.orm())
        .await
        .into_store()?
    {
        users
            .entry(row.name)
            .or_default()
            .push(UserId::from_uuid(row.user_id));
    }

    tallies
        .into_iter()
        .map(|tally| {
            let name = ReactionName::parse(&tally.name).map_err(|err| {
                StoreError::Corrupt(format!("reactions.name {:?}: {err}", tally.name))
            })?;
            Ok(ReactionSummary {
                users: users.remove(&tally.name).unwrap_or_default(),
                name,
                count: u64::try_from(tally.count).unwrap_or(0),
                me: tally.mine > 0,
            })
        })
        .collect()
}
