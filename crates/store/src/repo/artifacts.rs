//! Artifacts and their versions: an artifact row holds the number of its
//! current version, whose title and content live in `artifact_versions`.
//! A new version is taken with a conditional update of that number, so two
//! writers holding the same version cannot both succeed.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Set};
use serde_json::Value;
use uuid::Uuid;
use xl_domain::artifacts::{Artifact, ArtifactFilter, ArtifactVersion};
use xl_domain::{
    ArtifactId, ArtifactKind, Cursor, FileId, MessageId, OrgId, Page, PageRequest, ThreadId, UserId,
};

use crate::Conn;
use crate::StoreError;
use crate::entity::{artifact_files, artifact_versions, artifacts};
use crate::error::OrmResult;

/// An artifact to insert, at version 1.
#[derive(Clone, Debug)]
pub struct NewArtifactRow {
    /// Its id.
    pub id: ArtifactId,
    /// Its org.
    pub org_id: OrgId,
    /// Its creator and owner.
    pub user_id: UserId,
    /// Its thread, if any.
    pub thread_id: Option<ThreadId>,
    /// The message it came from, if any.
    pub message_id: Option<MessageId>,
    /// Its kind.
    pub kind: ArtifactKind,
    /// Version 1's title.
    pub title: String,
    /// The description.
    pub description: Option<String>,
    /// Version 1's content.
    pub content: Value,
    /// Client data.
    pub metadata: Value,
}

/// A new version to write over the current one.
#[derive(Clone, Debug)]
pub struct NextVersion {
    /// The version the writer read; the write fails if it is no longer current.
    pub expected: i32,
    /// The new version's title.
    pub title: String,
    /// The new version's content.
    pub content: Value,
    /// Why.
    pub change_note: Option<String>,
    /// Who.
    pub created_by: UserId,
    /// A new description, if it changes (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New client data, if it changes.
    pub metadata: Option<Value>,
}

/// Where a listing looks.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// The user's own artifacts (in threads or not).
    Owner(UserId),
    /// Every artifact of a thread.
    Thread(ThreadId),
}

fn kind_of(raw: &str) -> Result<ArtifactKind, StoreError> {
    raw.parse()
        .map_err(|_| StoreError::Corrupt(format!("artifact kind {raw:?}")))
}

fn to_domain(
    row: artifacts::Model,
    version: artifact_versions::Model,
) -> Result<Artifact, StoreError> {
    Ok(Artifact {
        id: ArtifactId::from_uuid(row.id),
        org_id: OrgId::from_uuid(row.org_id),
        user_id: UserId::from_uuid(row.user_id),
        thread_id: row.thread_id.map(ThreadId::from_uuid),
        message_id: row.message_id.map(MessageId::from_uuid),
        kind: kind_of(&row.kind)?,
        title: version.title,
        description: row.description,
        version: row.current_version,
        content: version.content,
        metadata: row.metadata,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn version_to_domain(row: artifact_versions::Model) -> ArtifactVersion {
    ArtifactVersion {
        artifact_id: ArtifactId::from_uuid(row.artifact_id),
        version: row.version,
        title: row.title,
        content: row.content,
        change_note: row.change_note,
        created_by: row.created_by.map(UserId::from_uuid),
        created_at: row.created_at,
    }
}

async fn insert_version<C: Conn>(
    db: &C,
    artifact: Uuid,
    version: i32,
    title: String,
    content: Value,
    change_note: Option<String>,
    created_by: UserId,
) -> Result<(), StoreError> {
    artifact_versions::Entity::insert(artifact_versions::ActiveModel {
        id: Set(Uuid::now_v7()),
        artifact_id: Set(artifact),
        version: Set(version),
        title: Set(title),
        content: Set(content),
        change_note: Set(change_note),
        created_by: Set(Some(created_by.as_uuid())),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db.orm())
    .await
    .into_store()?;
    Ok(())
}

/// Inserts an artifact and its version 1.
pub async fn insert<C: Conn>(db: &C, row: NewArtifactRow) -> Result<(), StoreError> {
    let now = Utc::now();
    artifacts::Entity::insert(artifacts::ActiveModel {
        id: Set(row.id.as_uuid()),
        org_id: Set(row.org_id.as_uuid()),
        user_id: Set(row.user_id.as_uuid()),
        thread_id: Set(row.thread_id.map(|id| id.as_uuid())),
        message_id: Set(row.message_id.map(|id| id.as_uuid())),
        kind: Set(row.kind.as_str().to_owned()),
        title: Set(row.title.clone()),
        description: Set(row.description),
        current_version: Set(1),
        metadata: Set(row.metadata),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    })
    .exec_without_returning(db.orm())
    .await
    .into_store()?;
    insert_version(
        db,
        row.id.as_uuid(),
        1,
        row.title,
        row.content,
        None,
        row.user_id,
    )
    .await
}

/// The artifact with this id in this org, at its current version, unless deleted.
pub async fn find<C: Conn>(
    db: &C,
    org: OrgId,
    id: ArtifactId,
) -> Result<Option<Artifact>, StoreError> {
    let Some(row) = artifacts::Entity::find_by_id(id.as_uuid())
        .filter(artifacts::Column::OrgId.eq(org.as_uuid()))
        .filter(artifacts::Column::DeletedAt.is_null())
        .one(db.orm())
        .await
        .into_store()?
    else {
        return Ok(None);
    };
    Ok(with_versions(db, vec![row]).await?.pop())
}

/// Each row with its current version's title and content, in the rows' order.
async fn with_versions<C: Conn>(
    db: &C,
    rows: Vec<artifacts::Model>,
) -> Result<Vec<Artifact>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut wanted = Condition::any();
    for row in &rows {
        wanted = wanted.add(
            Condition::all()
                .add(artifact_versions::Column::ArtifactId.eq(row.id))
                .add(artifact_versions::Column::Version.eq(row.current_version)),
        );
    }
    let mut versions: HashMap<Uuid, artifact_versions::Model> = artifact_versions::Entity::find()
        .filter(wanted)
        .all(db.orm())
        .await
        .into_store()?
        .into_iter()
        .map(|version| (version.artifact_id, version))
        .collect();
    rows.into_iter()
        .map(|row| {
            let version = versions.remove(&row.id).ok_or_else(|| {
                StoreError::Corrupt(format!("artifact {} has no current version", row.id))
            })?;
            to_domain(row, version)
        })
        .collect()
}

/// One page of artifacts of an org in `scope`, newest first by default.
pub async fn list<C: Conn>(
    db: &C,
    org: OrgId,
    scope: Scope,
    filter: &ArtifactFilter,
    page: &PageRequest,
) -> Result<Page<Artifact>, StoreError> {
    let mut query = artifacts::Entity::find()
        .filter(artifacts::Column::OrgId.eq(org.as_uuid()))
        .filter(artifacts::Column::DeletedAt.is_null());
    query = match scope {
        Scope::Owner(user) => query.filter(artifacts::Column::UserId.eq(user.as_uuid())),
        Scope::Thread(thread) => query.filter(artifacts::Column::ThreadId.eq(thread.as_uuid())),
    };
    if let Some(kind) = filter.kind {
        query = query.filter(artifacts::Column::Kind.eq(kind.as_str()));
    }
    if let Some(thread) = filter.thread {
        query = query.filter(artifacts::Column::ThreadId.eq(thread.as_uuid()));
    }
    let rows = super::keyset(query, artifacts::Column::Id, page)
        .all(db.orm())
        .await
        .into_store()?;
    let items = with_versions(db, rows).await?;
    Ok(Page::from_overfetch(items, page.limit, |a| {
        Cursor::after(a.id.as_uuid())
    }))
}

/// Writes the next version if `next.expected` is still the current one;
/// returns its number, or `None` when another version was written first.
pub async fn add_version<C: Conn>(
    db: &C,
    org: OrgId,
    id: ArtifactId,
    next: NextVersion,
) -> Result<Option<i32>, StoreError> {
    let mut update = artifacts::Entity::update_many()
        .col_expr(
            artifacts::Column::CurrentVersion,
            Expr::col(artifacts::Column::CurrentVersion).add(1),
        )
        .col_expr(artifacts::Column::Title, Expr::value(next.title.clone()))
        .col_expr(artifacts::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(description) = next.description {
        update = update.col_expr(artifacts::Column::Description, Expr::value(description));
    }
    if let Some(metadata) = next.metadata {
        update = update.col_expr(artifacts::Column::Metadata, Expr::value(metadata));
    }
    let updated = update
        .filter(artifacts::Column::Id.eq(id.as_uuid()))
        .filter(artifacts::Column::OrgId.eq(org.as_uuid()))
        .filter(artifacts::Column::DeletedAt.is_null())
        .filter(artifacts::Column::CurrentVersion.eq(next.expected))
        .exec(db.orm())
        .await
        .into_store()?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    let version = next.expected + 1;
    insert_version(
        db,
        id.as_uuid(),
        version,
        next.title,
        next.content,
        next.change_note,
        next.created_by,
    )
    .await?;
    Ok(Some(version))
}

/// Deletes an artifact softly if `expected` (when given) is its current
/// version; `false` if it was not (or is gone).
pub async fn set_deleted<C: Conn>(
    db: &C,
    org: OrgId,
    id: ArtifactId,
    expected: Option<i32>,
) -> Result<bool, StoreError> {
    let mut update = artifacts::Entity::update_many()
        .col_expr(artifacts::Column::DeletedAt, Expr::value(Some(Utc::now())))
        .filter(artifacts::Column::Id.eq(id.as_uuid()))
        .filter(artifacts::Column::OrgId.eq(org.as_uuid()))
        .filter(artifacts::Column::DeletedAt.is_null());
    if let Some(expected) = expected {
        update = update.filter(artifacts::Column::CurrentVersion.eq(expected));
    }
    Ok(update.exec(db.orm()).await.into_store()?.rows_affected > 0)
}

/// One page of an artifact's versions, newest first by default.
pub async fn versions<C: Conn>(
    db: &C,
    id: ArtifactId,
    page: &PageRequest,
) -> Result<Page<ArtifactVersion>, StoreError> {
    let query = artifact_versions::Entity::find()
        .filter(artifact_versions::Column::ArtifactId.eq(id.as_uuid()));
    let rows = super::keyset(query, artifact_versions::Column::Id, page)
        .all(db.orm())
        .await
        .into_store()?;
    // The cursor is the row's own (time-ordered) id, which the domain type
    // does not carry: build the page from the rows, then convert.
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let page_of_rows = Page::from_overfetch(
        rows.into_iter().zip(ids).collect::<Vec<_>>(),
        page.limit,
        |(_, id)| Cursor::after(*id),
    );
    Ok(Page {
        items: page_of_rows
            .items
            .into_iter()
            .map(|(row, _)| version_to_domain(row))
            .collect(),
        next_cursor: page_of_rows.next_cursor,
        has_more: page_of_rows.has_more,
        limit: page_of_rows.limit,
    })
}

/// Version `n` of an artifact.
pub async fn version<C: Conn>(
    db: &C,
    id: ArtifactId,
    n: i32,
) -> Result<Option<ArtifactVersion>, StoreError> {
    Ok(artifact_versions::Entity::find()
        .filter(artifact_versions::Column::ArtifactId.eq(id.as_uuid()))
        .filter(artifact_versions::Column::Version.eq(n))
        .one(db.orm())
        .await
        .into_store()?
        .map(version_to_domain))
}

/// Links files to an artifact (those already linked stay linked).
pub async fn link_files<C: Conn>(
    db: &C,
    id: ArtifactId,
    files: &[FileId],
) -> Result<(), StoreError> {
    for file in files {
        let linked = artifact_files::Entity::find_by_id((id.as_uuid(), file.as_uuid()))
            .one(db.orm())
            .await
            .into_store()?;
        if linked.is_some() {
            continue;
        }
        artifact_files::Entity::insert(artifact_files::ActiveModel {
            artifact_id: Set(id.as_uuid()),
            file_id: Set(file.as_uuid()),
        })
        .exec_without_returning(db.orm())
        .await
        .into_store()?;
    }
    Ok(())
}

/// The files linked to an artifact.
pub async fn files<C: Conn>(db: &C, id: ArtifactId) -> Result<Vec<FileId>, StoreError> {
    Ok(artifact_files::Entity::find()
        .filter(artifact_files::Column::ArtifactId.eq(id.as_uuid()))
        .all(db.orm())
        .await
        .into_store()?
        .into_iter()
        .map(|row| FileId::from_uuid(row.file_id))
        .collect())
}
