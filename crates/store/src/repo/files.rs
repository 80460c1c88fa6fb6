//! Files: their rows, the content-addressed objects they share (counted in
//! `file_blobs`), who may read them through the messages and artifacts
//! that link them, and the orphans nobody attached.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set, Value as DbValue,
};
use serde_json::Value;
use uuid::Uuid;
use xl_domain::files::{FileFilter, FileInfo};
use xl_domain::{Cursor, FileId, MessageId, OrgId, Page, PageRequest, ThreadId, UserId};

use crate::entity::{artifact_files, files, message_files, messages};
use crate::error::OrmResult;
use crate::{Conn, StoreError};

fn to_domain(row: files::Model) -> FileInfo {
    FileInfo {
        id: FileId::from_uuid(row.id),
        org_id: OrgId::from_uuid(row.org_id),
        user_id: row.user_id.map(UserId::from_uuid),
        thread_id: row.thread_id.map(ThreadId::from_uuid),
        filename: row.filename,
        content_type: row.content_type,
        size_bytes: row.size_bytes,
        sha256: row.sha256,
        has_preview: row.has_preview,
        metadata: row.metadata,
        created_at: row.created_at,
        deleted_at: row.deleted_at,
    }
}

/// A file to record once its bytes are stored.
#[derive(Clone, Debug)]
pub struct NewFileRow {
    /// Its id.
    pub id: FileId,
    /// The uploader's org.
    pub org_id: OrgId,
    /// The uploader.
    pub user_id: UserId,
    /// The sanitised name.
    pub filename: String,
    /// The sniffed type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Where the object is in the file store.
    pub storage_key: String,
}

/// A file's row with where its bytes are.
#[derive(Clone, Debug)]
pub struct FileRecord {
    /// What the API shows.
    pub info: FileInfo,
    /// The object's key in the file store.
    pub storage_key: String,
}

/// Counts one more file on the object with this hash, creating its row;
/// returns the count after (1: the first file with this content). On
/// PostgreSQL the upsert waits for a concurrent [`release_blob`] of the same
/// hash to commit, so an upload never counts on an object being deleted.
pub async fn retain_blob<C: Conn>(db: &C, sha256: &str, size: i64) -> Result<i32, StoreError> {
    let backend = db.orm().get_database_backend();
    let row = db
        .orm()
        .query_one_raw(super::raw(
            backend,
            "INSERT INTO file_blobs (sha256, size_bytes, ref_count, created_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (sha256) DO UPDATE SET ref_count = file_blobs.ref_count + 1 \
             RETURNING ref_count",
            vec![sha256.into(), size.into(), Utc::now().into()],
        ))
        .await
        .into_store()?
        .ok_or(StoreError::NotFound("file blob"))?;
    row.try_get("", "ref_count").into_store()
}

/// Counts one file fewer on the object with this hash; returns true when
/// none is left, in which case its row is gone and the caller deletes the
/// object before committing (the row stays locked on PostgreSQL until then).
pub async fn release_blob<C: Conn>(db: &C, sha256: &str) -> Result<bool, StoreError> {
    let backend = db.orm().get_database_backend();
    let Some(row) = db
        .orm()
        .query_one_raw(super::raw(
            backend,
            "UPDATE file_blobs SET ref_count = ref_count - 1 WHERE sha256 = $1 RETURNING ref_count",
            vec![sha256.into()],
        ))
        .await
        .into_store()?
    else {
        return Ok(false);
    };
    let left: i32 = row.try_get("", "ref_count").into_store()?;
    if left > 0 {
        return Ok(false);
    }
    forget_blob(db, sha256).await?;
    Ok(true)
}

/// Takes the count of content no file counts on, so that its object can be
/// deleted before the caller commits: true when no row counted it (the
/// caller now holds a row of count 0, which [`forget_blob`] removes), false
/// when files count on it. On PostgreSQL the insert waits for an upload of
/// the same content that has not committed yet, as [`retain_blob`] waits
/// for a release, and an upload waits for the caller's commit in turn.
pub async fn claim_uncounted_blob<C: Conn>(db: &C, sha256: &str) -> Result<bool, StoreError> {
    let backend = db.orm().get_database_backend();
    let row = db
        .orm()
        .query_one_raw(super::raw(
            backend,
            "INSERT INTO file_blobs (sha256, size_bytes, ref_count, created_at) VALUES ($1, 0, 0, $2) \
             ON CONFLICT (sha256) DO NOTHING RETURNING sha256",
            vec![sha256.into(), Utc::now().into()],
        ))
        .await
        .into_store()?;
    Ok(row.is_some())
}

/// Removes the row of content no file counts on any more.
pub async fn forget_blob<C: Conn>(db: &C, sha256: &str) -> Result<(), StoreError> {
    let backend = db.orm().get_database_backend();
    db.orm()
        .execute_raw(super::raw(
            backend,
            "DELETE FROM file_blobs WHERE sha256 = $1 AND ref_count <= 0",
            vec![sha256.into()],
        ))
        .await
        .into_store()?;
    Ok(())
}

/// Records a stored file.
pub async fn insert<C: Conn>(db: &C, row: NewFileRow) -> Result<FileInfo, StoreError> {
    let model = files::ActiveModel {
        id: Set(row.id.as_uuid()),
        org_id: Set(row.org_id.as_uuid()),
        user_id: Set(Some(row.user_id.as_uuid())),
        thread_id: Set(None),
        filename: Set(row.filename),
        content_type: Set(row.content_type),
        size_bytes: Set(row.size_bytes),
        sha256: Set(row.sha256),
        storage_key: Set(row.storage_key),
        has_preview: Set(false),
        metadata: Set(None),
        created_at: Set(Utc::now()),
        deleted_at: Set(None),
    };
    Ok(to_domain(model.insert(db.orm()).await.into_store()?))
}

/// The file with this id in this org, deleted or not.
pub async fn find<C: Conn>(
    db: &C,
    org: OrgId,
    id: FileId,
) -> Result<Option<FileRecord>, StoreError> {
    Ok(files::Entity::find_by_id(id.as_uuid())
        .filter(files::Column::OrgId.eq(org.as_uuid()))
        .one(db.orm())
        .await
        .into_store()?
        .map(|row| FileRecord {
            storage_key: row.storage_key.clone(),
            info: to_domain(row),
        }))
}

/// Whether a link lets this user read the file: an attachment to a message
/// of an undeleted thread of the org they may read (as a member, or as an
/// administrator, `is_admin`, who reads every thread of the org), or a link
/// from an undeleted artifact they may read (in such a thread, or outside
/// any thread as its owner or an administrator).
pub async fn readable_by_link<C: Conn>(
    db: &C,
    org: OrgId,
    user: UserId,
    is_admin: bool,
    file: FileId,
) -> Result<bool, StoreError> {
    let backend = db.orm().get_database_backend();
    let row = db
        .orm()
        .query_one_raw(super::raw(
            backend,
            "SELECT 1 AS one FROM message_files mf \
             JOIN messages m ON m.id = mf.message_id \
             JOIN threads t ON t.id = m.thread_id \
             WHERE mf.file_id = $1 AND t.org_id = $2 AND t.deleted_at IS NULL \
               AND ($3 OR EXISTS (SELECT 1 FROM thread_members tm \
                                  WHERE tm.thread_id = t.id AND tm.user_id = $4)) \
             UNION ALL \
             SELECT 1 AS one FROM artifact_files af \
             JOIN artifacts a ON a.id = af.artifact_id \
             WHERE af.file_id = $1 AND a.org_id = $2 AND a.deleted_at IS NULL \
               AND ((a.thread_id IS NULL AND ($3 OR a.user_id = $4)) \
                 OR EXISTS (SELECT 1 FROM threads t \
                            WHERE t.id = a.thread_id AND t.deleted_at IS NULL \
                              AND ($3 OR EXISTS (SELECT 1 FROM thread_members tm \
                                                 WHERE tm.thread_id = t.id \
                                                   AND tm.user_id = $4)))) \
             LIMIT 1",
            vec![
                file.as_uuid().into(),
                org.as_uuid().into(),
                is_admin.into(),
                user.as_uuid().into(),
            ],
        ))
        .await
        .into_store()?;
    Ok(row.is_some())
}

/// A page of the user's own undeleted files, newest first by default.
pub async fn list_own<C: Conn>(
    db: &C,
    org: OrgId,
    user: UserId,
    filter: &FileFilter,
    page: &PageRequest,
) -> Result<Page<FileInfo>, StoreError> {
    let mut query = files::Entity::find()
        .filter(files::Column::OrgId.eq(org.as_uuid()))
        .filter(files::Column::UserId.eq(user.as_uuid()))
        .filter(files::Column::DeletedAt.is_null());
    if let Some(thread) = filter.thread {
        query = query.filter(
            files::Column::Id.in_subquery(
                Query::select()
                    .column((message_files::Entity, message_files::Column::FileId))
                    .from(message_files::Entity)
                    .inner_join(
                        messages::Entity,
                        Expr::col((messages::Entity, messages::Column::Id))
                            .equals((message_files::Entity, message_files::Column::MessageId)),
                    )
                    .and_where(
                        Expr::col((messages::Entity, messages::Column::ThreadId))
                            .eq(thread.as_uuid()),
                    )
                    .to_owned(),
            ),
        );
    }
    if let Some(wanted) = &filter.content_type {
        query = if wanted.contains('/') {
            query.filter(files::Column::ContentType.eq(wanted.as_str()))
        } else {
            query.filter(files::Column::ContentType.starts_with(format!("{wanted}/")))
        };
    }
    let rows = super::keyset(query, files::Column::Id, page)
        .all(db.orm())
        .await
        .into_store()?;
    let files: Vec<FileInfo> = rows.into_iter().map(to_domain).collect();
    Ok(Page::from_overfetch(files, page.limit, |file| {
        Cursor::after(file.id.as_uuid())
    }))
}

/// Renames a file or replaces its metadata; returns it as it is now.
pub async fn update<C: Conn>(
    db: &C,
    org: OrgId,
    id: FileId,
    filename: Option<String>,
    metadata: Option<Value>,
) -> Result<Option<FileInfo>, StoreError> {
    let mut update = files::Entity::update_many()
        .filter(files::Column::Id.eq(id.as_uuid()))
        .filter(files::Column::OrgId.eq(org.as_uuid()))
        .filter(files::Column::DeletedAt.is_null());
    if let Some(name) = filename {
        update = update.col_expr(files::Column::Filename, Expr::value(name));
    }
    if let Some(metadata) = metadata {
        update = update.col_expr(
            files::Column::Metadata,
            Expr::value(DbValue::Json(Some(Box::new(metadata)))),
        );
    }
    update.exec(db.orm()).await.into_store()?;
    Ok(find(db, org, id).await?.map(|record| record.info))
}

/// Marks a file deleted, keeping its row as the tombstone its attachments
/// point at; false if it was already deleted.
pub async fn mark_deleted<C: Conn>(db: &C, org: OrgId, id: FileId) -> Result<bool, StoreError> {
    let result = files::Entity::update_many()
        .col_expr(files::Column::DeletedAt, Expr::value(Utc::now()))
        .col_expr(files::Column::HasPreview, Expr::value(false))
        .filter(files::Column::Id.eq(id.as_uuid()))
        .filter(files::Column::OrgId.eq(org.as_uuid()))
        .filter(files::Column::DeletedAt.is_null())
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected > 0)
}

/// The messages this file is attached to, with their threads.
pub async fn attachments<C: Conn>(
    db: &C,
    id: FileId,
) -> Result<Vec<(ThreadId, MessageId)>, StoreError> {
    #[derive(FromQueryResult)]
    struct Link {
        thread_id: Uuid,
        message_id: Uuid,
    }
    let backend = db.orm().get_database_backend();
    let rows = db
        .orm()
        .query_all_raw(super::raw(
            backend,
            "SELECT m.thread_id AS thread_id, mf.message_id AS message_id FROM message_files mf \
             JOIN messages m ON m.id = mf.message_id WHERE mf.file_id = $1",
            vec![id.as_uuid().into()],
        ))
        .await
        .into_store()?;
    rows.iter()
        .map(|row| {
            let link = Link::from_query_result(row, "").into_store()?;
            Ok((
                ThreadId::from_uuid(link.thread_id),
                MessageId::from_uuid(link.message_id),
            ))
        })
        .collect()
}

/// Notes the thread a file was first attached in.
pub async fn set_thread_if_none<C: Conn>(
    db: &C,
    ids: &[FileId],
    thread: ThreadId,
) -> Result<(), StoreError> {
    files::Entity::update_many()
        .col_expr(files::Column::ThreadId, Expr::value(thread.as_uuid()))
        .filter(files::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
        .filter(files::Column::ThreadId.is_null())
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Notes that the files with this content have a cached preview.
pub async fn set_has_preview<C: Conn>(db: &C, sha256: &str) -> Result<(), StoreError> {
    files::Entity::update_many()
        .col_expr(files::Column::HasPreview, Expr::value(true))
        .filter(files::Column::Sha256.eq(sha256))
        .filter(files::Column::DeletedAt.is_null())
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Up to `limit` undeleted files created before `cutoff` that no message
/// or artifact links to: uploads nobody attached.
pub async fn orphans_before<C: Conn>(
    db: &C,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<FileRecord>, StoreError> {
    let linked_to_messages = Query::select()
        .column(message_files::Column::FileId)
        .from(message_files::Entity)
        .to_owned();
    let linked_to_artifacts = Query::select()
        .column(artifact_files::Column::FileId)
        .from(artifact_files::Entity)
        .to_owned();
    Ok(files::Entity::find()
        .filter(files::Column::DeletedAt.is_null())
        .filter(files::Column::CreatedAt.lt(cutoff))
        .filter(files::Column::Id.not_in_subquery(linked_to_messages))
        .filter(files::Column::Id.not_in_subquery(linked_to_artifacts))
        .order_by_asc(files::Column::CreatedAt)
        .limit(limit)
        .all(db.orm())
        .await
        .into_store()?
        .into_iter()
        .map(|row| FileRecord {
            storage_key: row.storage_key.clone(),
            info: to_domain(row),
        })
        .collect())
}

/// Removes a file's row for good (an orphan, which no message points at);
/// false if something attached it meanwhile or it is gone.
pub async fn remove_orphan<C: Conn>(db: &C, id: FileId) -> Result<bool, StoreError> {
    let linked = message_files::Entity::find()
        .filter(message_files::Column::FileId.eq(id.as_uuid()))
        .one(db.orm())
        .await
        .into_store()?
        .is_some()
        || artifact_files::Entity::find()
            .filter(artifact_files::Column::FileId.eq(id.as_uuid()))
            .one(db.orm())
            .await
            .into_store()?
            .is_some();
    if linked {
        return Ok(false);
    }
    let result = files::Entity::delete_many()
        .filter(files::Column::Id.eq(id.as_uuid()))
        .filter(files::Column::DeletedAt.is_null())
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected > 0)
}
