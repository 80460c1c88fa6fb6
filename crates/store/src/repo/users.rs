//! Users, always looked up within an org unless the caller is authenticating.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use xl_domain::users::{User, UserFilter};
use xl_domain::{Cursor, Email, OrgId, Page, PageRequest, Role, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::users;
use crate::error::OrmResult;

pub(crate) fn to_domain(row: users::Model) -> Result<User, StoreError> {
    let email = Email::parse(&row.email)
        .map_err(|err| StoreError::Corrupt(format!("users.email of {}: {err}", row.id)))?;
    let role = row
        .role
        .parse::<Role>()
        .map_err(|err| StoreError::Corrupt(format!("users.role of {}: {err}", row.id)))?;
    Ok(User {
        id: UserId::from_uuid(row.id),
        org_id: OrgId::from_uuid(row.org_id),
        email,
        name: row.name,
        role,
        avatar_url: row.avatar_url,
        last_seen_at: row.last_seen_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A user to insert.
#[derive(Clone, Debug)]
pub struct NewUserRow {
    /// The org.
    pub org_id: OrgId,
    /// The subject at the identity provider, if known.
    pub subject: Option<String>,
    /// The address.
    pub email: Email,
    /// The name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// A picture.
    pub avatar_url: Option<String>,
}

/// Inserts a user. A taken email is `StoreError::Conflict`.
pub async fn insert<C: Conn>(db: &C, row: NewUserRow) -> Result<User, StoreError> {
    let now = Utc::now();
    let model = users::ActiveModel {
        id: Set(UserId::new().as_uuid()),
        org_id: Set(row.org_id.as_uuid()),
        subject: Set(row.subject),
        email: Set(row.email.as_str().to_owned()),
        name: Set(row.name),
        role: Set(row.role.as_str().to_owned()),
        avatar_url: Set(row.avatar_url),
        last_seen_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    to_domain(model)
}

/// The user with this email, in any org (for authentication only).
pub async fn find_by_email<C: Conn>(db: &C, email: &Email) -> Result<Option<User>, StoreError> {
    users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(db.orm())
        .await
        .into_store()?
        .map(to_domain)
        .transpose()
}

/// The user with this id, in any org (for authentication only).
pub async fn find_any<C: Conn>(db: &C, id: UserId) -> Result<Option<User>, StoreError> {
    users::Entity::find_by_id(id.as_uuid())
        .one(db.orm())
        .await
        .into_store()?
        .map(to_domain)
        .transpose()
}

/// The user with this id in this org.
pub async fn find<C: Conn>(db: &C, org: OrgId, id: UserId) -> Result<Option<User>, StoreError> {
    users::Entity::find_by_id(id.as_uuid())
        .filter(users::Column::OrgId.eq(org.as_uuid()))
        .one(db.orm())
        .await
        .into_store()?
        .map(to_domain)
        .transpose()
}

/// One page of the org's users, newest first by default.
pub async fn list<C: Conn>(
    db: &C,
    org: OrgId,
    filter: &UserFilter,
    page: &PageRequest,
) -> Result<Page<User>, StoreError> {
    let mut query = users::Entity::find().filter(users::Column::OrgId.eq(org.as_uuid()));
    if let Some(email) = &filter.email {
        query = query.filter(users::Column::Email.contains(email.to_ascii_lowercase()));
    }
    if let Some(role) = filter.role {
        query = query.filter(users::Column::Role.eq(role.as_str()));
    }
    let rows = super::keyset(query, users::Column::Id, page)
        .all(db.orm())
        .await
        .into_store()?;
    let users = rows
        .into_iter()
        .map(to_domain)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(users, page.limit, |user| {
        Cursor::after(user.id.as_uuid())
    }))
}

/// Changes to apply to a user.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    /// New name.
    pub name: Option<String>,
    /// New picture (`Some(None)` removes it).
    pub avatar_url: Option<Option<String>>,
    /// New role.
    pub role: Option<Role>,
}

/// Applies changes to the user with this id in this org; `None` if there is none.
pub async fn update<C: Conn>(
    db: &C,
    org: OrgId,
    id: UserId,
    changes: UserChanges,
) -> Result<Option<User>, StoreError> {
    let Some(row) = users::Entity::find_by_id(id.as_uuid())
        .filter(users::Column::OrgId.eq(org.as_uuid()))
        .one(db.orm())
        .await
        .into_store()?
    else {
        return Ok(None);
    };
    let mut model = row.into_active_model();
    if let Some(name) = changes.name {
        model.name = Set(name);
    }
    if let Some(avatar_url) = changes.avatar_url {
        model.avatar_url = Set(avatar_url);
    }
    if let Some(role) = changes.role {
        model.role = Set(role.as_str().to_owned());
    }
    model.updated_at = Set(Utc::now());
    Ok(Some(to_domain(model.update(db.orm()).await.into_store()?)?))
}

/// Deletes the user with this id in this org (and, by cascade, what they own).
pub async fn delete<C: Conn>(db: &C, org: OrgId, id: UserId) -> Result<bool, StoreError> {
    let result = users::Entity::delete_many()
        .filter(users::Column::Id.eq(id.as_uuid()))
        .filter(users::Column::OrgId.eq(org.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected > 0)
}

/// How many admins the org has.
pub async fn count_admins<C: Conn>(db: &C, org: OrgId) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    users::Entity::find()
        .filter(users::Column::OrgId.eq(org.as_uuid()))
        .filter(users::Column::Role.eq(Role::Admin.as_str()))
        .count(db.orm())
        .await
        .into_store()
}

/// Records that the user was seen now (and refreshes name and subject from
/// the identity provider).
pub async fn touch<C: Conn>(
    db: &C,
    id: UserId,
    seen_at: DateTime<Utc>,
    subject: Option<&str>,
) -> Result<(), StoreError> {
    let mut update = users::Entity::update_many()
        .col_expr(users::Column::LastSeenAt, Expr::value(seen_at))
        .filter(users::Column::Id.eq(id.as_uuid()));
    if let Some(subject) = subject {
        update = update.col_expr(users::Column::Subject, Expr::value(subject));
    }
    update.exec(db.orm()).await.into_store()?;
    Ok(())
}
