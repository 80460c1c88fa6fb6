//! Threads, their tags and members. Visibility is decided here in SQL: a
//! thread is visible to members and to administrators of its org, and a
//! thread of another org is never returned.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set,
};
use serde_json::Value;
use uuid::Uuid;
use xl_domain::threads::{Member, MemberRole, Thread, ThreadFilter};
use xl_domain::{Cursor, MessageId, OrgId, Page, PageRequest, ThreadId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::{thread_members, thread_tags, threads, users};
use crate::error::OrmResult;
use crate::repo::messages::member_role;

fn to_domain(row: threads::Model, tags: Vec<String>) -> Thread {
    Thread {
        id: ThreadId::from_uuid(row.id),
        org_id: OrgId::from_uuid(row.org_id),
        owner_id: UserId::from_uuid(row.owner_id),
        title: row.title,
        description: row.description,
        system_prompt: row.system_prompt,
        model: row.model,
        metadata: row.metadata,
        auto_reply: row.auto_reply,
        pinned: row.pinned,
        archived: row.archived,
        tags,
        current_leaf_id: row.current_leaf_id.map(MessageId::from_uuid),
        message_count: row.message_count,
        last_message_at: row.last_message_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted_at: row.deleted_at,
    }
}

/// A thread to insert.
#[derive(Clone, Debug)]
pub struct NewThreadRow {
    /// The org.
    pub org_id: OrgId,
    /// The owner (also made a member).
    pub owner_id: UserId,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Instructions for the assistant.
    pub system_prompt: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Client data.
    pub metadata: Value,
    /// Assistant replies on or off.
    pub auto_reply: bool,
    /// Pinned.
    pub pinned: bool,
    /// Normalised tags.
    pub tags: Vec<String>,
}

/// Inserts a thread with its owner as a member and its tags.
pub async fn insert<C: Conn>(db: &C, row: NewThreadRow) -> Result<Thread, StoreError> {
    insert_as(db, ThreadId::new(), row).await
}

/// [`insert`] with the id chosen beforehand (by a caller that names the
/// thread before the transaction that creates it commits).
pub async fn insert_as<C: Conn>(
    db: &C,
    id: ThreadId,
    row: NewThreadRow,
) -> Result<Thread, StoreError> {
    let now = Utc::now();
    let model = threads::ActiveModel {
        id: Set(id.as_uuid()),
        org_id: Set(row.org_id.as_uuid()),
        owner_id: Set(row.owner_id.as_uuid()),
        title: Set(row.title),
        description: Set(row.description),
        system_prompt: Set(row.system_prompt),
        model: Set(row.model),
        metadata: Set(row.metadata),
        auto_reply: Set(row.auto_reply),
        pinned: Set(row.pinned),
        archived: Set(false),
        current_leaf_id: Set(None),
        last_event_seq: Set(0),
        message_count: Set(0),
        last_message_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    add_member(db, id, row.owner_id, MemberRole::Owner, None).await?;
    set_tags(db, id, &row.tags).await?;
    Ok(to_domain(model, row.tags))
}

/// Replaces a thread's tags.
pub async fn set_tags<C: Conn>(db: &C, id: ThreadId, tags: &[String]) -> Result<(), StoreError> {
    thread_tags::Entity::delete_many()
        .filter(thread_tags::Column::ThreadId.eq(id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|tag| thread_tags::ActiveModel {
        thread_id: Set(id.as_uuid()),
        tag: Set(tag.clone()),
    });
    thread_tags::Entity::insert_many(rows)
        .exec_without_returning(db.orm())
        .await
        .into_store()?;
    Ok(())
}

async fn tags_of<C: Conn>(db: &C, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<String>>, StoreError> {
    let mut tags: HashMap<Uuid, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(tags);
    }
    let rows = thread_tags::Entity::find()
        .filter(thread_tags::Column::ThreadId.is_in(ids.iter().copied()))
        .order_by_asc(thread_tags::Column::Tag)
        .all(db.orm())
        .await
        .into_store()?;
    for row in rows {
        tags.entry(row.thread_id).or_default().push(row.tag);
    }
    Ok(tags)
}

/// How a caller stands toward a thread.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadAccess {
    /// The thread.
    pub thread: Thread,
    /// The caller's membership, if any.
    pub member: Option<MemberRole>,
}

/// The thread with this id in this org, with the user's membership, whether
/// or not it is deleted. `None` for another org's thread.
pub async fn access<C: Conn>(
    db: &C,
    org: OrgId,
    user: UserId,
    id: ThreadId,
) -> Result<Option<ThreadAccess>, StoreError> {
    let Some(row) = threads::Entity::find_by_id(id.as_uuid())
        .filter(threads::Column::OrgId.eq(org.as_uuid()))
        .one(db.orm())
        .await
        .into_store()?
    else {
        return Ok(None);
    };
    let member = thread_members::Entity::find_by_id((id.as_uuid(), user.as_uuid()))
        .one(db.orm())
        .await
        .into_store()?
        .map(|m| member_role(&m.role))
        .transpose()?;
    let tags = tags_of(db, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(Some(ThreadAccess {
        thread: to_domain(row, tags),
        member,
    }))
}

/// One page of the threads the user is a member of, newest first by default.
pub async fn list_for_member<C: Conn>(
    db: &C,
    org: OrgId,
    user: UserId,
    filter: &ThreadFilter,
    page: &PageRequest,
) -> Result<Page<Thread>, StoreError> {
    let mut query = threads::Entity::find()
        .join(JoinType::InnerJoin, threads::Relation::ThreadMembers.def())
        .filter(thread_members::Column::UserId.eq(user.as_uuid()))
        .filter(threads::Column::OrgId.eq(org.as_uuid()));
    query = if filter.deleted {
        query.filter(threads::Column::DeletedAt.is_not_null())
    } else {
        query.filter(threads::Column::DeletedAt.is_null())
    };
    query = query.filter(threads::Column::Archived.eq(filter.archived.unwrap_or(false)));
    if let Some(pinned) = filter.pinned {
        query = query.filter(threads::Column::Pinned.eq(pinned));
    }
    if let Some(tag) = &filter.tag {
        query = query
            .join(JoinType::InnerJoin, threads::Relation::ThreadTags.def())
            .filter(thread_tags::Column::Tag.eq(tag.trim().to_lowercase()));
    }
    let rows = super::keyset(query, threads::Column::Id, page)
        .all(db.orm())
        .await
        .into_store()?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut tags = tags_of(db, &ids).await?;
    let threads: Vec<Thread> = rows
        .into_iter()
        .map(|row| {
            let row_tags = tags.remove(&row.id).unwrap_or_default();
            to_domain(row, row_tags)
        })
        .collect();
    Ok(Page::from_overfetch(threads, page.limit, |thread| {
        Cursor::after(thread.id.as_uuid())
    }))
}

/// Changes to a thread's settings.
#[derive(Clone, Debug, Default)]
pub struct ThreadChanges {
    /// Title.
    pub title: Option<Option<String>>,
    /// Description.
    pub description: Option<Option<String>>,
    /// Client data.
    pub metadata: Option<Value>,
    /// Instructions.
    pub system_prompt: Option<Option<String>>,
    /// Model.
    pub model: Option<Option<String>>,
    /// Assistant replies.
    pub auto_reply: Option<bool>,
    /// Pinned.
    pub pinned: Option<bool>,
    /// Archived.
    pub archived: Option<bool>,
    /// Tags (replaced).
    pub tags: Option<Vec<String>>,
}

/// Applies changes to a thread (which the caller has already been allowed to change).
pub async fn update<C: Conn>(
    db: &C,
    id: ThreadId,
    changes: ThreadChanges,
) -> Result<(), StoreError> {
    let Some(row) = threads::Entity::find_by_id(id.as_uuid())
        .one(db.orm())
        .await
        .into_store()?
    else {
        return Err(StoreError::NotFound("thread"));
    };
    let mut model = row.into_active_model();
    if let Some(title) = changes.title {
        model.title = Set(title);
    }
    if let Some(description) = changes.description {
        model.description = Set(description);
    }
    if let Some(metadata) = changes.metadata {
        model.metadata = Set(metadata);
    }
    if let Some(system_prompt) = changes.system_prompt {
        model.system_prompt = Set(system_prompt);
    }
    if let Some(value) = changes.model {
        model.model = Set(value);
    }
    if let Some(auto_reply) = changes.auto_reply {
        model.auto_reply = Set(auto_reply);
    }
    if let Some(pinned) = changes.pinned {
        model.pinned = Set(pinned);
    }
    if let Some(archived) = changes.archived {
        model.archived = Set(archived);
    }
    model.updated_at = Set(Utc::now());
    model.update(db.orm()).await.into_store()?;
    if let Some(tags) = changes.tags {
        set_tags(db, id, &tags).await?;
    }
    Ok(())
}

/// Sets the title only if the thread has none (auto-title).
pub async fn set_title_if_empty<C: Conn>(
    db: &C,
    id: ThreadId,
    title: &str,
) -> Result<(), StoreError> {
    threads::Entity::update_many()
        .col_expr(threads::Column::Title, Expr::value(title))
        .filter(threads::Column::Id.eq(id.as_uuid()))
        .filter(threads::Column::Title.is_null())
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Marks a thread deleted (or restores it with `None`).
pub async fn set_deleted<C: Conn>(
    db: &C,
    id: ThreadId,
    deleted_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    threads::Entity::update_many()
        .col_expr(threads::Column::DeletedAt, Expr::value(deleted_at))
        .col_expr(threads::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(threads::Column::Id.eq(id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// The ids of the threads a user owns (deleted ones included), which go
/// with the user when the user is deleted.
pub async fn owned_by<C: Conn>(
    db: &C,
    org: OrgId,
    owner: UserId,
) -> Result<Vec<ThreadId>, StoreError> {
    let ids: Vec<Uuid> = threads::Entity::find()
        .select_only()
        .column(threads::Column::Id)
        .filter(threads::Column::OrgId.eq(org.as_uuid()))
        .filter(threads::Column::OwnerId.eq(owner.as_uuid()))
        .into_tuple()
        .all(db.orm())
        .await
        .into_store()?;
    Ok(ids.into_iter().map(ThreadId::from_uuid).collect())
}

/// Removes for good the threads deleted before `cutoff` (with everything in them).
pub async fn purge_deleted_before<C: Conn>(
    db: &C,
    cutoff: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let result = threads::Entity::delete_many()
        .filter(threads::Column::DeletedAt.lt(cutoff))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected)
}

/// Whose conversations [`purge_inactive_before`] looks at.
#[derive(Clone, Debug)]
pub enum OrgScope {
    /// One org's.
    Only(OrgId),
    /// Every org's but these.
    AllBut(Vec<OrgId>),
}

/// Removes for good at most `limit` threads in `scope` whose last message
/// (or, without one, whose creation) is older than `cutoff`; their
/// messages, events and links go with them. Returns how many went.
pub async fn purge_inactive_before<C: Conn>(
    db: &C,
    scope: &OrgScope,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<u64, StoreError> {
    let last_active = Expr::expr(Func::coalesce([
        Expr::col(threads::Column::LastMessageAt),
        Expr::col(threads::Column::CreatedAt),
    ]));
    let mut oldest = threads::Entity::find()
        .select_only()
        .column(threads::Column::Id)
        .filter(last_active.lt(cutoff));
    oldest = match scope {
        OrgScope::Only(org) => oldest.filter(threads::Column::OrgId.eq(org.as_uuid())),
        OrgScope::AllBut(orgs) if orgs.is_empty() => oldest,
        OrgScope::AllBut(orgs) => {
            oldest.filter(threads::Column::OrgId.is_not_in(orgs.iter().map(|org| org.as_uuid())))
        }
    };
    let ids: Vec<Uuid> = oldest
        .limit(limit)
        .into_tuple()
        .all(db.orm())
        .await
        .into_store()?;
    if ids.is_empty() {
        return Ok(0);
    }
    let result = threads::Entity::delete_many()
        .filter(threads::Column::Id.is_in(ids))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected)
}

/// Adds a member (a no-op if already one).
pub async fn add_member<C: Conn>(
    db: &C,
    thread: ThreadId,
    user: UserId,
    role: MemberRole,
    added_by: Option<UserId>,
) -> Result<(), StoreError> {
    let row = thread_members::ActiveModel {
        thread_id: Set(thread.as_uuid()),
        user_id: Set(user.as_uuid()),
        role: Set(role.as_str().to_owned()),
        added_by: Set(added_by.map(|id| id.as_uuid())),
        created_at: Set(Utc::now()),
    };
    thread_members::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                thread_members::Column::ThreadId,
                thread_members::Column::UserId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Removes a member. Returns whether they were one.
pub async fn remove_member<C: Conn>(
    db: &C,
    thread: ThreadId,
    user: UserId,
) -> Result<bool, StoreError> {
    let result = thread_members::Entity::delete_many()
        .filter(thread_members::Column::ThreadId.eq(thread.as_uuid()))
        .filter(thread_members::Column::UserId.eq(user.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected > 0)
}

/// The thread's members with their names, owner first.
pub async fn members<C: Conn>(db: &C, thread: ThreadId) -> Result<Vec<Member>, StoreError> {
    let rows = thread_members::Entity::find()
        .filter(thread_members::Column::ThreadId.eq(thread.as_uuid()))
        .find_also_related(users::Entity)
        .order_by_asc(thread_members::Column::CreatedAt)
        .all(db.orm())
        .await
        .into_store()?;
    let mut members = rows
        .into_iter()
        .filter_map(|(member, user)| {
            let user = user?;
            Some(member_role(&member.role).map(|role| Member {
                user_id: UserId::from_uuid(member.user_id),
                email: user.email,
                name: user.name,
                role,
                added_at: member.created_at,
            }))
        })
        .collect::<Result<Vec<Member>, StoreError>>()?;
    members.sort_by_key(|m| m.role != MemberRole::Owner);
    Ok(members)
}
