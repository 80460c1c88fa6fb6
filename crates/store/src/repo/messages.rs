//! Messages: inserted with the thread's counters and current leaf updated in
//! the same transaction, listed along the current branch (a walk up the
//! parent links, bounded by the page size) or across all branches, edited
//! with their history kept, and deleted as tombstones.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    IntoActiveModel, JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    RelationTrait, Set, Statement, Value as DbValue,
};
use serde_json::Value;
use uuid::Uuid;
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::messages::{Revision, TokenCount};
use xl_domain::threads::MemberRole;
use xl_domain::{
    Cursor, FileId, Message, MessageId, MessageRole, MessageStatus, OrgId, Page, PageRequest,
    RevisionId, ThreadId, UserId,
};

use super::{ascending, cursor_id, overfetch};
use migration::{PathParent, PathPlace};

use crate::StoreError;
use crate::db::Engine;
use crate::entity::{files, message_files, message_revisions, messages, thread_members, threads};
use crate::error::OrmResult;
use crate::sqlite::sqlite_model;
use crate::{Conn, Tx};

pub(crate) fn to_domain(
    row: messages::Model,
    attachments: Vec<FileId>,
) -> Result<Message, StoreError> {
    let role = row
        .role
        .parse::<MessageRole>()
        .map_err(|err| StoreError::Corrupt(format!("messages.role of {}: {err}", row.id)))?;
    let status = row
        .status
        .parse::<MessageStatus>()
        .map_err(|err| StoreError::Corrupt(format!("messages.status of {}: {err}", row.id)))?;
    Ok(Message {
        id: MessageId::from_uuid(row.id),
        thread_id: ThreadId::from_uuid(row.thread_id),
        parent_id: row.parent_id.map(MessageId::from_uuid),
        user_id: row.user_id.map(UserId::from_uuid),
        role,
        content: row.content,
        blocks: row.blocks,
        metadata: row.metadata,
        status,
        model: row.model,
        error: row.error,
        attachments,
        edited_at: row.edited_at,
        deleted_at: row.deleted_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        tokens: match (row.token_count, row.token_family) {
            (Some(count), Some(family)) => Some(TokenCount {
                family,
                count: u32::try_from(count).unwrap_or(0),
            }),
            _ => None,
        },
    })
}

async fn with_attachments<C: Conn>(
    db: &C,
    rows: Vec<messages::Model>,
) -> Result<Vec<Message>, StoreError> {
    // Only messages that link files are looked up: most pages have none.
    let ids: Vec<Uuid> = rows
        .iter()
        .filter(|row| row.attachment_count > 0)
        .map(|row| row.id)
        .collect();
    let mut files: HashMap<Uuid, Vec<FileId>> = HashMap::new();
    if !ids.is_empty() {
        let links = message_files::Entity::find()
            .filter(message_files::Column::MessageId.is_in(ids))
            .order_by_asc(message_files::Column::Position)
            .build(db.orm().get_database_backend());
        let links: Vec<message_files::Model> = super::fetch(db, links).await?;
        for link in links {
            files
                .entry(link.message_id)
                .or_default()
                .push(FileId::from_uuid(link.file_id));
        }
    }
    rows.into_iter()
        .map(|row| {
            let attached = files.remove(&row.id).unwrap_or_default();
            to_domain(row, attached)
        })
        .collect()
}

/// The `attachment_count` of a message linking `files`.
fn attachment_count(files: &[FileId]) -> i32 {
    i32::try_from(files.len()).unwrap_or(i32::MAX)
}

/// What a caller needs to know about a thread before touching its messages,
/// read in one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gate {
    /// The thread's owner.
    pub owner_id: UserId,
    /// The last message of the current branch.
    pub current_leaf: Option<MessageId>,
    /// Whether the thread is deleted.
    pub deleted: bool,
    /// The caller's membership.
    pub member: Option<MemberRole>,
    /// Whether the assistant replies in this thread.
    pub auto_reply: bool,
}

#[derive(FromQueryResult)]
struct GateRow {
    owner_id: Uuid,
    current_leaf_id: Option<Uuid>,
    deleted_at: Option<chrono::DateTime<Utc>>,
    auto_reply: bool,
    member_role: Option<String>,
}

sqlite_model!(GateRow {
    owner_id,
    current_leaf_id,
    deleted_at,
    auto_reply,
    member_role
});
sqlite_model!(messages::Model {
    id,
    thread_id,
    org_id,
    parent_id,
    user_id,
    role,
    content,
    blocks,
    metadata,
    status,
    model,
    error,
    token_count,
    token_family,
    depth,
    jump_id,
    jump_depth,
    attachment_count,
    edited_at,
    deleted_at,
    created_at,
    updated_at
});
sqlite_model!(message_files::Model {
    message_id,
    file_id,
    position
});

/// The gate of a thread in this org, for this user; `None` if there is no
/// such thread in the org.
pub async fn gate<C: Conn>(
    db: &C,
    org: OrgId,
    user: UserId,
    thread: ThreadId,
) -> Result<Option<Gate>, StoreError> {
    static GATE: super::StatementCache<3> = super::StatementCache::new();
    let backend = db.orm().get_database_backend();
    let args = [thread.as_uuid(), org.as_uuid(), user.as_uuid()];
    let row = GATE.statement(backend, args, gate_statement);
    let row = super::fetch::<_, GateRow>(db, row)
        .await?
        .into_iter()
        .next();
    row.map(|row| {
        Ok(Gate {
            owner_id: UserId::from_uuid(row.owner_id),
            current_leaf: row.current_leaf_id.map(MessageId::from_uuid),
            deleted: row.deleted_at.is_some(),
            member: row.member_role.as_deref().map(member_role).transpose()?,
            auto_reply: row.auto_reply,
        })
    })
    .transpose()
}

/// The gate's query: the thread (in the org) and the user's membership.
fn gate_statement(backend: DbBackend, args: [Uuid; 3]) -> Statement {
    gate_select(args).build(backend)
}

fn gate_select([thread, org, user]: [Uuid; 3]) -> sea_orm::Select<threads::Entity> {
    threads::Entity::find_by_id(thread)
        .filter(threads::Column::OrgId.eq(org))
        .select_only()
        .column(threads::Column::OwnerId)
        .column(threads::Column::CurrentLeafId)
        .column(threads::Column::DeletedAt)
        .column(threads::Column::AutoReply)
        .column_as(thread_members::Column::Role, "member_role")
        .join(
            JoinType::LeftJoin,
            threads::Relation::ThreadMembers
                .def()
                .on_condition(move |_, right| {
                    Expr::col((right, thread_members::Column::UserId))
                        .eq(user)
                        .into_condition()
                }),
        )
}

/// A stored membership role.
pub(crate) fn member_role(raw: &str) -> Result<MemberRole, StoreError> {
    raw.parse()
        .map_err(|err| StoreError::Corrupt(format!("thread_members.role {raw:?}: {err}")))
}

/// A message to insert.
#[derive(Clone, Debug)]
pub struct NewMessageRow {
    /// Its id (chosen by the caller so events can name it first).
    pub id: MessageId,
    /// The thread.
    pub thread_id: ThreadId,
    /// The thread's org.
    pub org_id: OrgId,
    /// The parent.
    pub parent_id: Option<MessageId>,
    /// The author.
    pub user_id: Option<UserId>,
    /// The role.
    pub role: MessageRole,
    /// The text.
    pub content: String,
    /// Blocks.
    pub blocks: Option<Value>,
    /// Client data.
    pub metadata: Option<Value>,
    /// Status.
    pub status: MessageStatus,
    /// Model of an assistant message.
    pub model: Option<String>,
    /// Attached files.
    pub attachments: Vec<FileId>,
    /// Its prompt tokens, when counted before the insert.
    pub tokens: Option<TokenCount>,
}

fn token_columns(tokens: &Option<TokenCount>) -> (Option<i32>, Option<String>) {
    match tokens {
        Some(tokens) => (
            Some(i32::try_from(tokens.count).unwrap_or(i32::MAX)),
            Some(tokens.family.clone()),
        ),
        None => (None, None),
    }
}

/// Where a child of `parent` (a message of `thread`) goes in the tree.
async fn parent_of<C: Conn>(
    db: &C,
    thread: ThreadId,
    parent: Uuid,
) -> Result<Option<PathParent>, StoreError> {
    let Some(p) = messages::Entity::find_by_id(parent)
        .filter(messages::Column::ThreadId.eq(thread.as_uuid()))
        .one(db.orm())
        .await
        .into_store()?
    else {
        return Ok(None);
    };
    let jump = match p.jump_id {
        Some(jump) => messages::Entity::find_by_id(jump)
            .one(db.orm())
            .await
            .into_store()?,
        None => None,
    };
    Ok(Some(PathParent {
        id: p.id,
        place: place_of(&p),
        jump_of_jump: jump.as_ref().map(place_of),
    }))
}

/// A stored message's place; a message stored before paths existed jumps
/// to its parent (or itself), which is always correct, only slower.
fn place_of(row: &messages::Model) -> PathPlace {
    match row.jump_id {
        Some(jump) => PathPlace {
            depth: row.depth,
            jump,
            jump_depth: row.jump_depth,
        },
        None => PathPlace {
            depth: row.depth,
            jump: row.parent_id.unwrap_or(row.id),
            jump_depth: Ord::max(row.depth - 1, 0),
        },
    }
}

/// Inserts a message, links its files, and makes it the thread's current leaf.
pub async fn insert<C: Conn>(db: &C, row: NewMessageRow) -> Result<Message, StoreError> {
    let now = Utc::now();
    let parent = match row.parent_id {
        Some(parent) => parent_of(db, row.thread_id, parent.as_uuid()).await?,
        None => None,
    };
    let place = PathPlace::child(row.id.as_uuid(), parent);
    let (token_count, token_family) = token_columns(&row.tokens);
    let model = messages::ActiveModel {
        id: Set(row.id.as_uuid()),
        thread_id: Set(row.thread_id.as_uuid()),
        org_id: Set(row.org_id.as_uuid()),
        parent_id: Set(row.parent_id.map(|id| id.as_uuid())),
        user_id: Set(row.user_id.map(|id| id.as_uuid())),
        role: Set(row.role.as_str().to_owned()),
        content: Set(row.content),
        blocks: Set(row.blocks),
        metadata: Set(row.metadata),
        status: Set(row.status.as_str().to_owned()),
        model: Set(row.model),
        error: Set(None),
        token_count: Set(token_count),
        token_family: Set(token_family),
        depth: Set(place.depth),
        jump_id: Set(Some(place.jump)),
        jump_depth: Set(place.jump_depth),
        attachment_count: Set(attachment_count(&row.attachments)),
        edited_at: Set(None),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    if !row.attachments.is_empty() {
        let links =
            row.attachments
                .iter()
                .enumerate()
                .map(|(position, file)| message_files::ActiveModel {
                    message_id: Set(row.id.as_uuid()),
                    file_id: Set(file.as_uuid()),
                    position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                });
        message_files::Entity::insert_many(links)
            .exec_without_returning(db.orm())
            .await
            .into_store()?;
    }
    threads::Entity::update_many()
        .col_expr(
            threads::Column::CurrentLeafId,
            Expr::value(row.id.as_uuid()),
        )
        .col_expr(
            threads::Column::MessageCount,
            Expr::col(threads::Column::MessageCount).add(1),
        )
        .col_expr(threads::Column::LastMessageAt, Expr::value(now))
        .col_expr(threads::Column::UpdatedAt, Expr::value(now))
        .filter(threads::Column::Id.eq(row.thread_id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    to_domain(model, row.attachments)
}

/// Makes a message the thread's current leaf (switching branches).
pub async fn set_leaf<C: Conn>(
    db: &C,
    thread: ThreadId,
    leaf: MessageId,
) -> Result<(), StoreError> {
    threads::Entity::update_many()
        .col_expr(threads::Column::CurrentLeafId, Expr::value(leaf.as_uuid()))
        .filter(threads::Column::Id.eq(thread.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// How many of these files exist, undeleted, in the org.
pub async fn count_files<C: Conn>(db: &C, org: OrgId, ids: &[FileId]) -> Result<u64, StoreError> {
    files::Entity::find()
        .filter(files::Column::OrgId.eq(org.as_uuid()))
        .filter(files::Column::DeletedAt.is_null())
        .filter(files::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
        .count(db.orm())
        .await
        .into_store()
}

/// The message with this id whose `scope` column (org or thread) is `within`.
async fn find_scoped<C: Conn>(
    db: &C,
    scope: messages::Column,
    within: Uuid,
    id: MessageId,
) -> Result<Option<Message>, StoreError> {
    let Some(row) = messages::Entity::find_by_id(id.as_uuid())
        .filter(scope.eq(within))
        .one(db.orm())
        .await
        .into_store()?
    else {
        return Ok(None);
    };
    Ok(with_attachments(db, vec![row]).await?.pop())
}

/// The message with this id in this org.
pub async fn find<C: Conn>(
    db: &C,
    org: OrgId,
    id: MessageId,
) -> Result<Option<Message>, StoreError> {
    find_scoped(db, messages::Column::OrgId, org.as_uuid(), id).await
}

/// The message with this id in this thread.
pub async fn find_in_thread<C: Conn>(
    db: &C,
    thread: ThreadId,
    id: MessageId,
) -> Result<Option<Message>, StoreError> {
    find_scoped(db, messages::Column::ThreadId, thread.as_uuid(), id).await
}

/// One page of every message in the thread, by id.
pub async fn list_all<C: Conn>(
    db: &C,
    thread: ThreadId,
    page: &PageRequest,
) -> Result<Page<Message>, StoreError> {
    let query = messages::Entity::find().filter(messages::Column::ThreadId.eq(thread.as_uuid()));
    let rows = super::keyset(query, messages::Column::Id, page)
        .all(db.orm())
        .await
        .into_store()?;
    let messages = with_attachments(db, rows).await?;
    Ok(Page::from_overfetch(messages, page.limit, |m| {
        Cursor::after(m.id.as_uuid())
    }))
}

/// Walks up the parent links from `start`, at most `steps` messages,
/// returning them leaf-first. A bounded walk is read as one index range
/// ([`depth_range`]) when that finds it whole; otherwise (and for a whole
/// branch) the links are followed, one primary-key lookup a step.
async fn walk_up<C: Conn>(
    db: &C,
    thread: ThreadId,
    start: Uuid,
    steps: Option<u64>,
) -> Result<Vec<messages::Model>, StoreError> {
    if let Some(steps) = steps
        && let Some(chain) = depth_range(db, thread, start, steps).await?
    {
        return Ok(chain);
    }
    let limit = steps.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let backend = db.orm().get_database_backend();
    let sql = match backend {
        // SQLite's planner always looks rows up by key in the order written
        // (`CROSS JOIN` fixes it), so the walk carries only the links and
        // each row is read once, at the end: a third less work than
        // carrying whole rows through the recursion's queue.
        DbBackend::Sqlite => {
            "WITH RECURSIVE chain(id, parent_id, step) AS ( \
               SELECT id, parent_id, 0 FROM messages WHERE id = $1 AND thread_id = $2 \
               UNION ALL \
               SELECT m.id, m.parent_id, chain.step + 1 FROM chain \
                 JOIN messages m ON m.id = chain.parent_id WHERE chain.step + 1 < $3 \
             ) \
             SELECT m.* FROM chain CROSS JOIN messages m ON m.id = chain.id"
        }
        // On PostgreSQL the rows travel in the walk itself: joining the chain
        // back to `messages` afterwards lets the planner pick a hash join
        // over the whole table, which grows with every tenant's data.
        _ => {
            "WITH RECURSIVE chain AS ( \
               SELECT m.*, 0 AS step FROM messages m WHERE m.id = $1 AND m.thread_id = $2 \
               UNION ALL \
               SELECT m.*, chain.step + 1 FROM chain \
                 JOIN messages m ON m.id = chain.parent_id WHERE chain.step + 1 < $3 \
             ) \
             SELECT * FROM chain"
        }
    };
    let statement = super::raw(
        backend,
        sql,
        vec![
            DbValue::from(start),
            DbValue::from(thread.as_uuid()),
            DbValue::from(limit),
        ],
    );
    // Sorting by `step` in SQL would copy every wide row through a sorter;
    // the parent links give the order for free.
    Ok(parent_first(start, super::fetch(db, statement).await?))
}

/// A walk of `steps` messages up from `start` read as one range of the
/// `(thread_id, depth)` index: the thread's messages at the `steps` depths
/// ending at `start`'s, deepest first, of which the parent links keep the
/// branch. In a thread without forks that range is the walk itself. At most
/// `2 × steps + 16` rows are read; `None` when those do not hold the whole
/// walk (other branches crowd the range), and the caller follows the links.
async fn depth_range<C: Conn>(
    db: &C,
    thread: ThreadId,
    start: Uuid,
    steps: u64,
) -> Result<Option<Vec<messages::Model>>, StoreError> {
    let steps = Ord::min(
        i64::try_from(steps).unwrap_or(i64::MAX),
        i64::from(i32::MAX),
    );
    let statement = super::raw(
        db.orm().get_database_backend(),
        "SELECT m.* FROM messages m \
         WHERE m.thread_id = $2 \
           AND m.depth <= (SELECT s.depth FROM messages s WHERE s.id = $1 AND s.thread_id = $2) \
           AND m.depth > (SELECT s.depth FROM messages s WHERE s.id = $1 AND s.thread_id = $2) - $3 \
         ORDER BY m.depth DESC LIMIT $4",
        vec![
            DbValue::from(start),
            DbValue::from(thread.as_uuid()),
            DbValue::from(steps),
            DbValue::from(steps.saturating_mul(2).saturating_add(16)),
        ],
    );
    let rows: Vec<messages::Model> = super::fetch(db, statement).await?;
    if rows.is_empty() {
        // `start` is not a message of this thread.
        return Ok(Some(rows));
    }
    let chain = parent_first(start, rows);
    let whole = chain.first().is_some_and(|first| {
        first.id == start
            && i64::try_from(chain.len()).ok() == Some(Ord::min(steps, i64::from(first.depth) + 1))
    });
    Ok(whole.then_some(chain))
}

/// The rows of a walk up from `start`, each followed by its parent. A
/// recursive query yields a single chain in that order already, which is
/// checked in one pass; otherwise the links are followed.
fn parent_first(start: Uuid, rows: Vec<messages::Model>) -> Vec<messages::Model> {
    let in_order = rows.first().is_none_or(|first| first.id == start)
        && rows
            .windows(2)
            .all(|pair| pair[0].parent_id == Some(pair[1].id));
    if in_order {
        return rows;
    }
    let count = rows.len();
    let mut by_id: HashMap<Uuid, messages::Model> =
        rows.into_iter().map(|row| (row.id, row)).collect();
    let mut ordered = Vec::with_capacity(count);
    let mut next = Some(start);
    while let Some(row) = next.and_then(|id| by_id.remove(&id)) {
        next = row.parent_id;
        ordered.push(row);
    }
    ordered
}

/// The ancestor of `from` at `depth`, found through the jump pointers in
/// O(log n) lookups (see `migration`'s `m0008_message_paths`).
async fn ancestor_at<C: Conn>(
    db: &C,
    thread: ThreadId,
    from: Uuid,
    depth: i32,
) -> Result<Option<Uuid>, StoreError> {
    #[derive(FromQueryResult)]
    struct Found {
        id: Uuid,
    }
    let statement = super::raw(
        db.orm().get_database_backend(),
        "WITH RECURSIVE up(id, parent_id, depth, jump_id, jump_depth) AS ( \
           SELECT id, parent_id, depth, jump_id, jump_depth FROM messages \
             WHERE id = $1 AND thread_id = $2 \
           UNION ALL \
           SELECT m.id, m.parent_id, m.depth, m.jump_id, m.jump_depth FROM up \
             JOIN messages m ON m.id = CASE \
               WHEN up.jump_id IS NOT NULL AND up.jump_depth >= $3 AND up.jump_id <> up.id \
               THEN up.jump_id ELSE up.parent_id END \
             WHERE up.depth > $3 \
         ) \
         SELECT id FROM up WHERE depth = $3",
        vec![
            DbValue::from(from),
            DbValue::from(thread.as_uuid()),
            DbValue::from(depth),
        ],
    );
    Ok(Found::find_by_statement(statement)
        .one(db.orm())
        .await
        .into_store()?
        .map(|found| found.id))
}

/// One page of the current branch (the path from the first message to
/// `leaf`), in either order, keyed by the cursor message. Either order costs
/// at most `limit + 1` steps plus, oldest first, O(log n) jumps to the page's
/// start, so a page costs the same in a thread of 50 and of 50,000 messages.
pub async fn list_branch<C: Conn>(
    db: &C,
    thread: ThreadId,
    leaf: Option<MessageId>,
    page: &PageRequest,
) -> Result<Page<Message>, StoreError> {
    let empty = || {
        Page::from_overfetch(Vec::new(), page.limit, |m: &Message| {
            Cursor::after(m.id.as_uuid())
        })
    };
    let Some(leaf) = leaf else {
        return Ok(empty());
    };
    let in_thread = |id: Uuid| {
        messages::Entity::find_by_id(id)
            .filter(messages::Column::ThreadId.eq(thread.as_uuid()))
            .one(db.orm())
    };
    let after = match cursor_id(page) {
        Some(after) => match in_thread(after).await.into_store()? {
            Some(message) => Some(message),
            None => return Ok(empty()),
        },
        None => None,
    };
    let rows = if ascending(page) {
        let Some(leaf) = in_thread(leaf.as_uuid()).await.into_store()? else {
            return Ok(empty());
        };
        let from = after.map_or(-1, |m| m.depth);
        let wanted = i32::try_from(overfetch(page)).unwrap_or(i32::MAX);
        let top = Ord::min(leaf.depth, from.saturating_add(wanted));
        if top <= from {
            Vec::new()
        } else {
            match ancestor_at(db, thread, leaf.id, top).await? {
                Some(start) => {
                    let steps = u64::try_from(top - from).unwrap_or(0);
                    let mut chain = walk_up(db, thread, start, Some(steps)).await?;
                    chain.reverse();
                    chain
                }
                None => Vec::new(),
            }
        }
    } else {
        let start = match after {
            None => Some(leaf.as_uuid()),
            Some(after) => after.parent_id,
        };
        match start {
            Some(start) => walk_up(db, thread, start, Some(overfetch(page))).await?,
            None => Vec::new(),
        }
    };
    let messages = with_attachments(db, rows).await?;
    Ok(Page::from_overfetch(messages, page.limit, |m| {
        Cursor::after(m.id.as_uuid())
    }))
}

/// The whole current branch, oldest first (for prompts, forks and exports).
pub async fn branch<C: Conn>(
    db: &C,
    thread: ThreadId,
    leaf: MessageId,
) -> Result<Vec<Message>, StoreError> {
    let mut rows = walk_up(db, thread, leaf.as_uuid(), None).await?;
    rows.reverse();
    with_attachments(db, rows).await
}

/// The newest leaf under a message (following the newest child at each step),
/// used when the current branch moves to another sibling.
pub async fn newest_leaf_under<C: Conn>(
    db: &C,
    thread: ThreadId,
    from: MessageId,
) -> Result<MessageId, StoreError> {
    let mut current = from.as_uuid();
    loop {
        let child = messages::Entity::find()
            .filter(messages::Column::ThreadId.eq(thread.as_uuid()))
            .filter(messages::Column::ParentId.eq(current))
            .order_by_desc(messages::Column::Id)
            .one(db.orm())
            .await
            .into_store()?;
        match child {
            Some(child) => current = child.id,
            None => return Ok(MessageId::from_uuid(current)),
        }
    }
}

/// Replaces a message's text, blocks or metadata, keeping the old version.
pub async fn edit<C: Conn>(
    db: &C,
    id: MessageId,
    editor: UserId,
    content: Option<String>,
    blocks: Option<Option<Value>>,
    metadata: Option<Value>,
) -> Result<Message, StoreError> {
    let Some(row) = messages::Entity::find_by_id(id.as_uuid())
        .one(db.orm())
        .await
        .into_store()?
    else {
        return Err(StoreError::NotFound("message"));
    };
    let now = Utc::now();
    message_revisions::ActiveModel {
        id: Set(RevisionId::new().as_uuid()),
        message_id: Set(row.id),
        editor_id: Set(Some(editor.as_uuid())),
        content: Set(row.content.clone()),
        blocks: Set(row.blocks.clone()),
        metadata: Set(row.metadata.clone()),
        created_at: Set(now),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    let mut model = row.into_active_model();
    if let Some(content) = content {
        model.content = Set(content);
    }
    if let Some(blocks) = blocks {
        model.blocks = Set(blocks);
    }
    if let Some(metadata) = metadata {
        model.metadata = Set(Some(metadata));
    }
    // The new text is counted again when a prompt next needs it.
    model.token_count = Set(None);
    model.token_family = Set(None);
    model.edited_at = Set(Some(now));
    model.updated_at = Set(now);
    let row = model.update(db.orm()).await.into_store()?;
    with_attachments(db, vec![row])
        .await?
        .pop()
        .ok_or(StoreError::NotFound("message"))
}

/// Turns a message into a tombstone: its text, blocks, metadata, files,
/// reactions and history are removed; the row stays so replies keep their
/// parent.
pub async fn tombstone<C: Conn>(db: &C, id: MessageId) -> Result<(), StoreError> {
    let now = Utc::now();
    messages::Entity::update_many()
        .col_expr(messages::Column::Content, Expr::value(""))
        .col_expr(messages::Column::Blocks, Expr::value(Option::<Value>::None))
        .col_expr(
            messages::Column::Metadata,
            Expr::value(Option::<Value>::None),
        )
        .col_expr(messages::Column::AttachmentCount, Expr::value(0))
        .col_expr(messages::Column::DeletedAt, Expr::value(now))
        .col_expr(messages::Column::UpdatedAt, Expr::value(now))
        .filter(messages::Column::Id.eq(id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    message_revisions::Entity::delete_many()
        .filter(message_revisions::Column::MessageId.eq(id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    message_files::Entity::delete_many()
        .filter(message_files::Column::MessageId.eq(id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    crate::entity::reactions::Entity::delete_many()
        .filter(crate::entity::reactions::Column::MessageId.eq(id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// The stored versions of a message, newest first.
pub async fn revisions<C: Conn>(db: &C, id: MessageId) -> Result<Vec<Revision>, StoreError> {
    let rows = message_revisions::Entity::find()
        .filter(message_revisions::Column::MessageId.eq(id.as_uuid()))
        .order_by_desc(message_revisions::Column::Id)
        .all(db.orm())
        .await
        .into_store()?;
    Ok(rows
        .into_iter()
        .map(|row| Revision {
            id: RevisionId::from_uuid(row.id),
            message_id: MessageId::from_uuid(row.message_id),
            editor_id: row.editor_id.map(UserId::from_uuid),
            content: row.content,
            blocks: row.blocks,
            metadata: row.metadata,
            created_at: row.created_at,
        })
        .collect())
}

/// A message copied in whole (fork and import), with its own times.
#[derive(Clone, Debug)]
pub struct CopiedMessage {
    /// The new id.
    pub id: MessageId,
    /// The new parent id.
    pub parent_id: Option<MessageId>,
    /// The author (`None` for assistant and system messages).
    pub user_id: Option<UserId>,
    /// Role.
    pub role: MessageRole,
    /// Text.
    pub content: String,
    /// Blocks.
    pub blocks: Option<Value>,
    /// Client data.
    pub metadata: Option<Value>,
    /// Status.
    pub status: MessageStatus,
    /// Model.
    pub model: Option<String>,
    /// Original creation time.
    pub created_at: chrono::DateTime<Utc>,
    /// Whether it was a tombstone.
    pub deleted_at: Option<chrono::DateTime<Utc>>,
}

/// Inserts copied messages (parents before children) into a thread and sets
/// the thread's counters and current leaf once.
pub async fn insert_copies<C: Conn>(
    db: &C,
    thread: ThreadId,
    org: OrgId,
    copies: Vec<CopiedMessage>,
    leaf: Option<MessageId>,
) -> Result<(), StoreError> {
    let count = i32::try_from(copies.len()).unwrap_or(i32::MAX);
    let last = copies.iter().map(|c| c.created_at).max();
    // Parents come before their children, so each parent's place is known.
    let mut places: HashMap<Uuid, PathPlace> = HashMap::new();
    for copy in &copies {
        let parent = copy.parent_id.and_then(|parent| {
            let place = *places.get(&parent.as_uuid())?;
            Some(PathParent {
                id: parent.as_uuid(),
                place,
                jump_of_jump: places.get(&place.jump).copied(),
            })
        });
        places.insert(
            copy.id.as_uuid(),
            PathPlace::child(copy.id.as_uuid(), parent),
        );
    }
    for chunk in copies.chunks(200) {
        let rows = chunk.iter().cloned().map(|copy| {
            let place = places.get(&copy.id.as_uuid()).copied();
            messages::ActiveModel {
                id: Set(copy.id.as_uuid()),
                thread_id: Set(thread.as_uuid()),
                org_id: Set(org.as_uuid()),
                parent_id: Set(copy.parent_id.map(|id| id.as_uuid())),
                user_id: Set(copy.user_id.map(|id| id.as_uuid())),
                role: Set(copy.role.as_str().to_owned()),
                content: Set(copy.content),
                blocks: Set(copy.blocks),
                metadata: Set(copy.metadata),
                status: Set(copy.status.as_str().to_owned()),
                model: Set(copy.model),
                error: Set(None),
                token_count: Set(None),
                token_family: Set(None),
                depth: Set(place.map_or(0, |p| p.depth)),
                jump_id: Set(place.map(|p| p.jump)),
                jump_depth: Set(place.map_or(0, |p| p.jump_depth)),
                attachment_count: Set(0),
                edited_at: Set(None),
                deleted_at: Set(copy.deleted_at),
                created_at: Set(copy.created_at),
                updated_at: Set(copy.created_at),
            }
        });
        messages::Entity::insert_many(rows)
            .exec_without_returning(db.orm())
            .await
            .into_store()?;
    }
    threads::Entity::update_many()
        .col_expr(
            threads::Column::CurrentLeafId,
            Expr::value(leaf.map(|id| id.as_uuid())),
        )
        .col_expr(threads::Column::MessageCount, Expr::value(count))
        .col_expr(threads::Column::LastMessageAt, Expr::value(last))
        .filter(threads::Column::Id.eq(thread.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Every message of a thread, by id (oldest first), for export.
pub async fn all_in_thread<C: Conn>(db: &C, thread: ThreadId) -> Result<Vec<Message>, StoreError> {
    let rows = messages::Entity::find()
        .filter(messages::Column::ThreadId.eq(thread.as_uuid()))
        .order_by_asc(messages::Column::Id)
        .all(db.orm())
        .await
        .into_store()?;
    with_attachments(db, rows).await
}

/// Who is posting, for [`insert_checked`].
#[derive(Clone, Copy, Debug)]
pub struct Poster {
    /// The poster's org.
    pub org_id: OrgId,
    /// The poster.
    pub user_id: UserId,
    /// Whether the poster administers the org (and may post without being a member).
    pub is_admin: bool,
}

/// A message [`insert_checked`] posted.
#[derive(Clone, Debug, PartialEq)]
pub struct Posted {
    /// The message as stored.
    pub message: Message,
    /// Whether the thread's assistant replies.
    pub auto_reply: bool,
    /// The post's `message.created` event, written with it.
    pub event: ThreadEvent,
}

/// Posts a message in one statement that also checks access and picks the
/// parent: the thread must be in the poster's org, not deleted, and the
/// poster a member (or an admin); the parent is `row.parent_id` or else the
/// thread's current leaf. Then the thread's leaf, counters, event number
/// and (if it has none) title are updated in a second statement, sent in
/// the same visit to the writer. Returns `None`, having written nothing,
/// when the poster may not post there. Run inside a write transaction;
/// this is the hot path of posting.
pub async fn insert_checked<C: Conn>(
    db: &C,
    poster: Poster,
    row: NewMessageRow,
    title: Option<&str>,
) -> Result<Option<Posted>, StoreError> {
    let post = PostSteps::new(db.orm().get_database_backend(), poster, &row, title, false);
    let results = super::chain(db, post.steps).await?;
    posted(results, post.locked, row, poster, post.now)
}

/// [`insert_checked`] as the whole of a write transaction, which it commits.
/// On SQLite the commit goes to the writer with the post's statements, so
/// the writer runs the post and commits it without waiting on the caller in
/// between. A refused post commits nothing. With `unless_replying`, a post
/// into a thread whose assistant replies is refused too, so a caller that
/// expected no reply can take the path that starts one.
pub async fn post(
    tx: Tx,
    poster: Poster,
    row: NewMessageRow,
    title: Option<&str>,
    unless_replying: bool,
) -> Result<Option<Posted>, StoreError> {
    let post = PostSteps::new(
        tx.orm().get_database_backend(),
        poster,
        &row,
        title,
        unless_replying,
    );
    let results = match tx.sqlite_session() {
        Some(session) => {
            let results = super::chain_then_commit(session, post.steps).await?;
            drop(tx);
            results
        }
        None => {
            let results = super::chain(&tx, post.steps).await?;
            tx.commit().await?;
            results
        }
    };
    posted(results, post.locked, row, poster, post.now)
}

/// The statements of a post, in one visit to the writer: the insert (which
/// checks access), the file links, the thread's update and the
/// `message.created` event; nothing follows a refused insert.
struct PostSteps {
    steps: Vec<(Statement, bool)>,
    now: chrono::DateTime<Utc>,
    /// Whether the first step locks the thread (PostgreSQL).
    locked: bool,
}

impl PostSteps {
    fn new(
        backend: DbBackend,
        poster: Poster,
        row: &NewMessageRow,
        title: Option<&str>,
        unless_replying: bool,
    ) -> Self {
        let now = Utc::now();
        let json = |value: &Option<Value>| DbValue::Json(value.clone().map(Box::new));
        let (token_count, token_family) = token_columns(&row.tokens);
        let values: Vec<DbValue> = vec![
            row.id.as_uuid().into(),
            row.parent_id.map(|id| id.as_uuid()).into(),
            row.user_id.map(|id| id.as_uuid()).into(),
            row.role.as_str().into(),
            row.content.clone().into(),
            json(&row.blocks),
            json(&row.metadata),
            row.status.as_str().into(),
            row.model.clone().into(),
            now.into(),
            row.thread_id.as_uuid().into(),
            poster.org_id.as_uuid().into(),
            poster.is_admin.into(),
            poster.user_id.as_uuid().into(),
            token_count.into(),
            token_family.into(),
            unless_replying.into(),
            attachment_count(&row.attachments).into(),
        ];
        let mut steps = Vec::new();
        if backend == DbBackend::Postgres {
            // Posts into one thread take turns: the thread's row is locked
            // first, so the insert reads the leaf the previous post
            // committed. Without it two posts read the same leaf and both
            // become its children, forking the thread and dropping one of
            // them from its current branch. (SQLite's one writer already
            // runs them one at a time.)
            steps.push((
                super::raw(
                    backend,
                    "SELECT id FROM threads WHERE id = $1 FOR UPDATE",
                    vec![row.thread_id.as_uuid().into()],
                ),
                false,
            ));
        }
        steps.push((super::raw(backend, POST_INSERT, values), true));
        if !row.attachments.is_empty() {
            let links = row.attachments.iter().enumerate().map(|(position, file)| {
                message_files::ActiveModel {
                    message_id: Set(row.id.as_uuid()),
                    file_id: Set(file.as_uuid()),
                    position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                }
            });
            steps.push((
                message_files::Entity::insert_many(links).build(backend),
                false,
            ));
        }
        let mut update = vec![
            row.id.as_uuid().into(),
            now.into(),
            title.map(str::to_owned).into(),
            row.thread_id.as_uuid().into(),
        ];
        if backend == DbBackend::Postgres {
            update.push(super::events::channel());
        }
        let update_sql = format!(
            "{POST_UPDATE}, {}",
            super::events::returning_seq(backend, 5)
        );
        steps.push((super::raw(backend, &update_sql, update), true));
        // The event's payload is the message, whose parent the insert chose.
        let payload =
            serde_json::to_value(posted_message(row.clone(), None, now)).unwrap_or_default();
        let event_sql = match backend {
            DbBackend::Postgres => POST_EVENT.replace(
                "{payload}",
                "jsonb_set($5::jsonb, '{parent_id}', \
                   COALESCE(to_jsonb((SELECT m.parent_id FROM messages m WHERE m.id = $3)), 'null'::jsonb))",
            ),
            _ => POST_EVENT.replace(
                "{payload}",
                // `repo::raw` turns every `$` into `?`, so the path's `$` is char(36).
                // (`hex(NULL)` is '', so a first message is tested for NULL.)
                "json_set($5, char(36) || '.parent_id', (SELECT CASE WHEN m.parent_id IS NULL \
                   THEN NULL ELSE lower( \
                   substr(hex(m.parent_id), 1, 8) || '-' || substr(hex(m.parent_id), 9, 4) || '-' || \
                   substr(hex(m.parent_id), 13, 4) || '-' || substr(hex(m.parent_id), 17, 4) || '-' || \
                   substr(hex(m.parent_id), 21, 12)) END FROM messages m WHERE m.id = $3))",
            ),
        };
        steps.push((
            super::raw(
                backend,
                &event_sql,
                vec![
                    Uuid::now_v7().into(),
                    kind::MESSAGE_CREATED.into(),
                    row.id.as_uuid().into(),
                    poster.user_id.as_uuid().into(),
                    DbValue::Json(Some(Box::new(payload))),
                    now.into(),
                    row.thread_id.as_uuid().into(),
                ],
            ),
            false,
        ));
        PostSteps {
            steps,
            now,
            locked: backend == DbBackend::Postgres,
        }
    }
}

/// What a post's statements answered: `None` when the insert was refused.
fn posted(
    results: Vec<Vec<sea_orm::QueryResult>>,
    locked: bool,
    row: NewMessageRow,
    poster: Poster,
    now: chrono::DateTime<Utc>,
) -> Result<Option<Posted>, StoreError> {
    let mut results = results.into_iter();
    if locked {
        results.next();
    }
    let Some(inserted) = results.next().and_then(|rows| rows.into_iter().next()) else {
        return Ok(None);
    };
    let parent: Option<Uuid> = inserted.try_get("", "parent_id").into_store()?;
    let update = if row.attachments.is_empty() {
        results.next()
    } else {
        results.nth(1)
    };
    let updated = update
        .and_then(|rows| rows.into_iter().next())
        .ok_or(StoreError::NotFound("thread"))?;
    let thread = row.thread_id;
    let message = posted_message(row, parent, now);
    let event = ThreadEvent {
        seq: updated.try_get("", "last_event_seq").into_store()?,
        thread_id: thread,
        kind: kind::MESSAGE_CREATED.to_owned(),
        message_id: Some(message.id),
        actor_id: Some(poster.user_id),
        payload: serde_json::to_value(&message).unwrap_or_default(),
        created_at: now,
    };
    Ok(Some(Posted {
        auto_reply: updated.try_get("", "auto_reply").into_store()?,
        event,
        message,
    }))
}

/// The `message.created` event of a post, at the number its thread update
/// took: `$1` id, `$2` kind, `$3` message, `$4` actor, `$5` the message as
/// JSON (its parent is filled in from the row), `$6` time, `$7` thread.
const POST_EVENT: &str = "INSERT INTO events (id, thread_id, seq, kind, message_id, actor_id, payload, created_at) \
     SELECT $1, t.id, t.last_event_seq, $2, $3, $4, {payload}, $6 FROM threads t WHERE t.id = $7";

/// The statement that posts a message for [`insert_checked`]:
/// `$1` id, `$2` explicit parent, `$3` author, `$4` role, `$5` content,
/// `$6` blocks, `$7` metadata, `$8` status, `$9` model, `$10` time,
/// `$11` thread, `$12` the poster's org, `$13` whether the poster is an
/// admin, `$14` the poster, `$15` and `$16` its token count and family,
/// `$17` whether to refuse a thread whose assistant replies, `$18` how many
/// files it links.
/// The message's place in the tree follows `migration::PathPlace::child`:
/// depth one below the parent, and a jump to the parent's jump's jump when
/// the two jumps below it span equal distances, else to the parent.
pub(crate) const POST_INSERT: &str = "INSERT INTO messages (id, thread_id, org_id, parent_id, user_id, role, \
       content, blocks, metadata, status, model, created_at, updated_at, token_count, token_family, \
       attachment_count, depth, jump_id, jump_depth) \
     SELECT $1, t.id, t.org_id, p.id, $3, $4, $5, $6, $7, $8, $9, $10, $10, $15, $16, $18, \
       COALESCE(p.depth + 1, 0), \
       CASE WHEN p.id IS NULL THEN $1 \
            WHEN j.id IS NOT NULL AND p.depth - p.jump_depth = p.jump_depth - j.jump_depth THEN j.jump_id \
            ELSE p.id END, \
       CASE WHEN p.id IS NULL THEN 0 \
            WHEN j.id IS NOT NULL AND p.depth - p.jump_depth = p.jump_depth - j.jump_depth THEN j.jump_depth \
            ELSE p.depth END \
     FROM threads t \
     LEFT JOIN messages p ON p.id = COALESCE($2, t.current_leaf_id) AND p.thread_id = t.id \
     LEFT JOIN messages j ON j.id = p.jump_id \
     WHERE t.id = $11 AND t.org_id = $12 AND t.deleted_at IS NULL \
       AND ($13 OR EXISTS (SELECT 1 FROM thread_members tm WHERE tm.thread_id = t.id AND tm.user_id = $14)) \
       AND NOT ($17 AND t.auto_reply) \
     RETURNING parent_id";

/// The thread update that follows [`POST_INSERT`]: `$1` the new leaf,
/// `$2` time, `$3` a title for an untitled thread, `$4` thread; it takes
/// the thread's next event number too (the `RETURNING` list is completed
/// by `events::returning_seq`).
pub(crate) const POST_UPDATE: &str = "UPDATE threads SET current_leaf_id = $1, \
       message_count = message_count + 1, last_message_at = $2, updated_at = $2, \
       title = COALESCE(title, $3), last_event_seq = last_event_seq + 1 \
       WHERE id = $4 RETURNING auto_reply";

/// The message a successful post stored.
pub(crate) fn posted_message(
    row: NewMessageRow,
    parent: Option<Uuid>,
    now: chrono::DateTime<Utc>,
) -> Message {
    Message {
        id: row.id,
        thread_id: row.thread_id,
        parent_id: parent.map(MessageId::from_uuid),
        user_id: row.user_id,
        role: row.role,
        content: row.content,
        blocks: row.blocks,
        metadata: row.metadata,
        status: row.status,
        model: row.model,
        error: None,
        attachments: row.attachments,
        edited_at: None,
        deleted_at: None,
        created_at: now,
        updated_at: now,
        tokens: row.tokens,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::parent_first;
    use crate::entity::messages;

    fn row(id: u128, parent: Option<u128>) -> messages::Model {
        let now = Utc::now();
        messages::Model {
            id: Uuid::from_u128(id),
            thread_id: Uuid::nil(),
            org_id: Uuid::nil(),
            parent_id: parent.map(Uuid::from_u128),
            user_id: None,
            role: "USER".into(),
            content: String::new(),
            blocks: None,
            metadata: None,
            status: "complete".into(),
            model: None,
            error: None,
            token_count: None,
            token_family: None,
            depth: 0,
            jump_id: None,
            jump_depth: 0,
            attachment_count: 0,
            edited_at: None,
            deleted_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn ids(rows: &[messages::Model]) -> Vec<u128> {
        rows.iter().map(|row| row.id.as_u128()).collect()
    }

    #[test]
    fn a_cached_statement_is_the_one_built_for_its_arguments() {
        use super::gate_statement;
        use sea_orm::{
            ColumnTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait, Statement,
        };
        // A query that also binds a value of its own (the limit).
        fn build(backend: DbBackend, [a, b]: [Uuid; 2]) -> Statement {
            messages::Entity::find()
                .filter(messages::Column::ThreadId.eq(a))
                .filter(messages::Column::OrgId.eq(b))
                .limit(7)
                .build(backend)
        }
        static CACHE: super::super::StatementCache<2> = super::super::StatementCache::new();
        static GATES: super::super::StatementCache<3> = super::super::StatementCache::new();
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for _ in 0..3 {
                let args = [Uuid::now_v7(), Uuid::now_v7()];
                assert_eq!(
                    CACHE.statement(backend, args, build).to_string(),
                    build(backend, args).to_string()
                );
                let args = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
                let cached = GATES.statement(backend, args, gate_statement);
                let built = gate_statement(backend, args);
                assert_eq!(cached.sql, built.sql);
                assert_eq!(cached.values, built.values);
            }
        }
    }

    #[test]
    fn a_walk_comes_back_leaf_first_whatever_order_the_rows_arrive_in() {
        let chain = || {
            vec![
                row(4, Some(3)),
                row(3, Some(2)),
                row(2, Some(1)),
                row(1, None),
            ]
        };
        assert_eq!(
            ids(&parent_first(Uuid::from_u128(4), chain())),
            [4, 3, 2, 1]
        );
        let mut shuffled = chain();
        shuffled.swap(0, 2);
        shuffled.swap(1, 3);
        assert_eq!(
            ids(&parent_first(Uuid::from_u128(4), shuffled)),
            [4, 3, 2, 1]
        );
        // A step limit cuts the chain before the root.
        let cut = vec![row(3, Some(2)), row(4, Some(3))];
        assert_eq!(ids(&parent_first(Uuid::from_u128(4), cut)), [4, 3]);
        assert!(parent_first(Uuid::from_u128(4), Vec::new()).is_empty());
    }
}
