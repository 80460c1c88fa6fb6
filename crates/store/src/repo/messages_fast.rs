//! The message queries of the list hot path on the rusqlite read path
//! (see `crate::fast`): the same results as `repo::messages::gate` and
//! `repo::messages::list_branch`, which remain the path on PostgreSQL and
//! for in-memory stores. A store test checks the two agree.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;
use xl_domain::threads::MemberRole;
use xl_domain::{
    Cursor, FileId, Message, MessageId, MessageRole, MessageStatus, OrgId, Page, PageRequest,
    ThreadId, UserId,
};

use super::messages::Gate;
use super::{ascending, cursor_id, overfetch};
use crate::StoreError;
use crate::fast::FastReader;

fn bad(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnName(what.to_owned())
}

fn uuid_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let bytes: Vec<u8> = row.get(i)?;
    Uuid::from_slice(&bytes).map_err(|_| bad("uuid"))
}

fn opt_uuid_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<Uuid>> {
    let bytes: Option<Vec<u8>> = row.get(i)?;
    bytes
        .map(|b| Uuid::from_slice(&b).map_err(|_| bad("uuid")))
        .transpose()
}

fn time_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(i)?;
    text.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| bad("timestamp"))
    })
    .transpose()
}

fn json_at(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = row.get(i)?;
    text.map(|t| serde_json::from_str(&t).map_err(|_| bad("json")))
        .transpose()
}

/// The gate of a thread, as `repo::messages::gate` reads it.
pub fn gate(
    fast: &FastReader,
    org: OrgId,
    user: UserId,
    thread: ThreadId,
) -> Result<Option<Gate>, StoreError> {
    fast.with(|conn| {
        let mut statement = conn.prepare_cached(
            "SELECT t.owner_id, t.current_leaf_id, t.deleted_at IS NOT NULL, t.auto_reply, tm.role \
             FROM threads t LEFT JOIN thread_members tm ON tm.thread_id = t.id AND tm.user_id = ?3 \
             WHERE t.id = ?1 AND t.org_id = ?2",
        )?;
        statement
            .query_row(
                params![thread.as_uuid(), org.as_uuid(), user.as_uuid()],
                |row| {
                    let role: Option<String> = row.get(4)?;
                    Ok(Gate {
                        owner_id: UserId::from_uuid(uuid_at(row, 0)?),
                        current_leaf: opt_uuid_at(row, 1)?.map(MessageId::from_uuid),
                        deleted: row.get(2)?,
                        auto_reply: row.get(3)?,
                        member: role.map(|r| {
                            if r == "owner" {
                                MemberRole::Owner
                            } else {
                                MemberRole::Member
                            }
                        }),
                    })
                },
            )
            .optional()
    })
}

const COLUMNS: &str = "m.id, m.thread_id, m.parent_id, m.user_id, m.role, m.content, m.blocks, m.metadata, \
     m.status, m.model, m.error, m.edited_at, m.deleted_at, m.created_at, m.updated_at";

fn message(row: &Row<'_>) -> rusqlite::Result<Message> {
    let role: String = row.get(4)?;
    let status: String = row.get(8)?;
    Ok(Message {
        id: MessageId::from_uuid(uuid_at(row, 0)?),
        thread_id: ThreadId::from_uuid(uuid_at(row, 1)?),
        parent_id: opt_uuid_at(row, 2)?.map(MessageId::from_uuid),
        user_id: opt_uuid_at(row, 3)?.map(UserId::from_uuid),
        role: role.parse::<MessageRole>().map_err(|_| bad("role"))?,
        content: row.get(5)?,
        blocks: json_at(row, 6)?,
        metadata: json_at(row, 7)?,
        status: status.parse::<MessageStatus>().map_err(|_| bad("status"))?,
        model: row.get(9)?,
        error: row.get(10)?,
        attachments: Vec::new(),
        edited_at: time_at(row, 11)?,
        deleted_at: time_at(row, 12)?,
        created_at: time_at(row, 13)?.ok_or_else(|| bad("created_at"))?,
        updated_at: time_at(row, 14)?.ok_or_else(|| bad("updated_at"))?,
    })
}

/// Up to `steps` messages walking up from `start`, leaf first.
fn walk_up(
    conn: &Connection,
    thread: ThreadId,
    start: Uuid,
    steps: i64,
) -> rusqlite::Result<Vec<Message>> {
    let sql = format!(
        "WITH RECURSIVE chain(id, parent_id, depth) AS ( \
           SELECT id, parent_id, 0 FROM messages WHERE id = ?1 AND thread_id = ?2 \
           UNION ALL \
           SELECT m.id, m.parent_id, chain.depth + 1 FROM messages m \
             JOIN chain ON m.id = chain.parent_id WHERE chain.depth + 1 < ?3 \
         ) \
         SELECT {COLUMNS} FROM messages m JOIN chain ON m.id = chain.id ORDER BY chain.depth"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params![start, thread.as_uuid(), steps], message)?;
    rows.collect()
}

fn attach(conn: &Connection, messages: &mut [Message]) -> rusqlite::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    // Attachments are rare: one cheap indexed probe per page instead of a
    // join that would repeat every message row.
    let first = messages.iter().map(|m| m.id.as_uuid()).min();
    let last = messages.iter().map(|m| m.id.as_uuid()).max();
    let mut statement = conn.prepare_cached(
        "SELECT mf.message_id, mf.file_id FROM message_files mf \
         WHERE mf.message_id >= ?1 AND mf.message_id <= ?2 ORDER BY mf.message_id, mf.position",
    )?;
    let mut files: HashMap<Uuid, Vec<FileId>> = HashMap::new();
    let rows = statement.query_map(params![first, last], |row| {
        Ok((uuid_at(row, 0)?, uuid_at(row, 1)?))
    })?;
    for row in rows {
        let (message, file) = row?;
        files
            .entry(message)
            .or_default()
            .push(FileId::from_uuid(file));
    }
    for message in messages {
        if let Some(found) = files.remove(&message.id.as_uuid()) {
            message.attachments = found;
        }
    }
    Ok(())
}

/// One page of the current branch, as `repo::messages::list_branch` returns it.
pub fn list_branch(
    fast: &FastReader,
    thread: ThreadId,
    leaf: Option<MessageId>,
    page: &PageRequest,
) -> Result<Page<Message>, StoreError> {
    let limit = usize::try_from(overfetch(page)).unwrap_or(usize::MAX);
    let rows = fast.with(|conn| {
        let Some(leaf) = leaf else {
            return Ok(Vec::new());
        };
        let mut rows = if ascending(page) {
            let mut chain = walk_up(conn, thread, leaf.as_uuid(), i64::MAX)?;
            chain.reverse();
            let start = match cursor_id(page) {
                Some(after) => chain
                    .iter()
                    .position(|m| m.id.as_uuid() == after)
                    .map_or(chain.len(), |i| i + 1),
                None => 0,
            };
            chain.into_iter().skip(start).take(limit).collect()
        } else {
            let start = match cursor_id(page) {
                None => Some(leaf.as_uuid()),
                Some(after) => {
                    let mut statement = conn.prepare_cached(
                        "SELECT parent_id FROM messages WHERE id = ?1 AND thread_id = ?2",
                    )?;
                    statement
                        .query_row(params![after, thread.as_uuid()], |row| opt_uuid_at(row, 0))
                        .optional()?
                        .flatten()
                }
            };
            match start {
                Some(start) => walk_up(
                    conn,
                    thread,
                    start,
                    i64::try_from(limit).unwrap_or(i64::MAX),
                )?,
                None => Vec::new(),
            }
        };
        attach(conn, &mut rows)?;
        Ok(rows)
    })?;
    Ok(Page::from_overfetch(rows, page.limit, |m| {
        Cursor::after(m.id.as_uuid())
    }))
}

/// The posting statements with SQLite's `?n` parameters, which rusqlite binds
/// by number (it would bind `$n` by order of appearance).
static SQLITE_POST_INSERT: LazyLock<String> =
    LazyLock::new(|| super::messages::POST_INSERT.replace('$', "?"));
static SQLITE_POST_UPDATE: LazyLock<String> =
    LazyLock::new(|| super::messages::POST_UPDATE.replace('$', "?"));

/// Posts a message through the group-commit writer: the same statements,
/// checks and result as `repo::messages::insert_checked`.
pub async fn post(
    writer: &crate::fast_writer::FastWriter,
    poster: super::messages::Poster,
    row: super::messages::NewMessageRow,
    title: Option<String>,
) -> Result<Option<(Message, bool)>, StoreError> {
    let now = Utc::now();
    // The same text form sqlx writes, so both writers' rows read alike.
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
    let json = |value: &Option<serde_json::Value>| value.as_ref().map(serde_json::Value::to_string);
    let blocks = json(&row.blocks);
    let metadata = json(&row.metadata);
    let job_row = row.clone();
    let outcome = writer
        .write(move |conn| {
            let row = job_row;
            let mut insert = conn.prepare_cached(&SQLITE_POST_INSERT)?;
            let parent: Option<Option<Uuid>> = insert
                .query_row(
                    params![
                        row.id.as_uuid(),
                        row.parent_id.map(|id| id.as_uuid()),
                        row.user_id.map(|id| id.as_uuid()),
                        row.role.as_str(),
                        row.content,
                        blocks,
                        metadata,
                        row.status.as_str(),
                        row.model,
                        stamp,
                        row.thread_id.as_uuid(),
                        poster.org_id.as_uuid(),
                        poster.is_admin,
                        poster.user_id.as_uuid(),
                    ],
                    |r| opt_uuid_at(r, 0),
                )
                .optional()?;
            let Some(parent) = parent else {
                return Ok(None);
            };
            for (position, file) in row.attachments.iter().enumerate() {
                conn.prepare_cached(
                    "INSERT INTO message_files (message_id, file_id, position) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![
                    row.id.as_uuid(),
                    file.as_uuid(),
                    i64::try_from(position).unwrap_or(i64::MAX)
                ])?;
            }
            let auto_reply: bool = conn.prepare_cached(&SQLITE_POST_UPDATE)?.query_row(
                params![row.id.as_uuid(), stamp, title, row.thread_id.as_uuid()],
                |r| r.get(0),
            )?;
            Ok(Some((parent, auto_reply)))
        })
        .await?;
    let Some((parent, auto_reply)) = outcome else {
        return Ok(None);
    };
    Ok(Some((
        super::messages::posted_message(row, parent, now),
        auto_reply,
    )))
}
