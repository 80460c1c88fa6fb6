//! Login sessions: one row per refresh token, rows of one login share a
//! family id, and the family id is the session id users see.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;
use xl_domain::{Session, SessionId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::sessions;
use crate::error::OrmResult;

/// A stored refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    /// The row id (one per token).
    pub id: Uuid,
    /// The session (family) id.
    pub family: SessionId,
    /// The owner.
    pub user_id: UserId,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for a new token, if it was.
    pub rotated_at: Option<DateTime<Utc>>,
    /// When its family was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

fn to_row(model: sessions::Model) -> TokenRow {
    TokenRow {
        id: model.id,
        family: SessionId::from_uuid(model.family_id),
        user_id: UserId::from_uuid(model.user_id),
        expires_at: model.expires_at,
        rotated_at: model.rotated_at,
        revoked_at: model.revoked_at,
    }
}

/// A refresh token to store.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// The session it belongs to.
    pub family: SessionId,
    /// The token it replaces, if any.
    pub parent: Option<Uuid>,
    /// The owner.
    pub user_id: UserId,
    /// SHA-256 of the token.
    pub token_hash: String,
    /// The client.
    pub user_agent: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// Stores a refresh token. The first token of a session takes the session id as its row id.
pub async fn insert<C: Conn>(db: &C, token: NewToken) -> Result<TokenRow, StoreError> {
    let now = Utc::now();
    let id = match token.parent {
        None => token.family.as_uuid(),
        Some(_) => Uuid::now_v7(),
    };
    let model = sessions::ActiveModel {
        id: Set(id),
        user_id: Set(token.user_id.as_uuid()),
        family_id: Set(token.family.as_uuid()),
        parent_id: Set(token.parent),
        token_hash: Set(token.token_hash),
        user_agent: Set(token.user_agent),
        ip: Set(token.ip),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(token.expires_at),
        rotated_at: Set(None),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    Ok(to_row(model))
}

/// The token with this hash.
pub async fn find_by_hash<C: Conn>(db: &C, hash: &str) -> Result<Option<TokenRow>, StoreError> {
    Ok(sessions::Entity::find()
        .filter(sessions::Column::TokenHash.eq(hash))
        .one(db.orm())
        .await
        .into_store()?
        .map(to_row))
}

/// Marks a token as exchanged. Returns false if it was already exchanged
/// (a concurrent refresh won).
pub async fn mark_rotated<C: Conn>(db: &C, id: Uuid) -> Result<bool, StoreError> {
    let result = sessions::Entity::update_many()
        .col_expr(sessions::Column::RotatedAt, Expr::value(Utc::now()))
        .filter(sessions::Column::Id.eq(id))
        .filter(sessions::Column::RotatedAt.is_null())
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected == 1)
}

/// Revokes every token of a session. Returns how many tokens changed.
pub async fn revoke_family<C: Conn>(
    db: &C,
    family: SessionId,
    reason: &str,
) -> Result<u64, StoreError> {
    let result = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(Utc::now()))
        .col_expr(sessions::Column::RevokedReason, Expr::value(reason))
        .filter(sessions::Column::FamilyId.eq(family.as_uuid()))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(result.rows_affected)
}

/// Whether the session exists for this user and is not revoked.
pub async fn is_active<C: Conn>(db: &C, family: SessionId) -> Result<bool, StoreError> {
    let row = sessions::Entity::find()
        .filter(sessions::Column::FamilyId.eq(family.as_uuid()))
        .filter(sessions::Column::RevokedAt.is_null())
        .one(db.orm())
        .await
        .into_store()?;
    Ok(row.is_some())
}

/// The owner of a session that is not revoked, if there is one.
pub async fn active_owner<C: Conn>(
    db: &C,
    family: SessionId,
) -> Result<Option<UserId>, StoreError> {
    Ok(sessions::Entity::find()
        .filter(sessions::Column::FamilyId.eq(family.as_uuid()))
        .filter(sessions::Column::RevokedAt.is_null())
        .one(db.orm())
        .await
        .into_store()?
        .map(|row| UserId::from_uuid(row.user_id)))
}

/// The owner of a session.
pub async fn owner<C: Conn>(db: &C, family: SessionId) -> Result<Option<UserId>, StoreError> {
    Ok(sessions::Entity::find_by_id(family.as_uuid())
        .one(db.orm())
        .await
        .into_store()?
        .map(|row| UserId::from_uuid(row.user_id)))
}

/// The user's live sessions (current token not exchanged, not revoked, not
/// expired), newest first.
pub async fn list_active<C: Conn>(
    db: &C,
    user: UserId,
    current: Option<SessionId>,
) -> Result<Vec<Session>, StoreError> {
    let rows = sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user.as_uuid()))
        .filter(sessions::Column::RotatedAt.is_null())
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(sessions::Column::Id)
        .all(db.orm())
        .await
        .into_store()?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = SessionId::from_uuid(row.family_id);
            Session {
                id,
                user_id: UserId::from_uuid(row.user_id),
                created_at: row.created_at,
                last_used_at: row.last_used_at,
                expires_at: row.expires_at,
                user_agent: row.user_agent,
                ip: row.ip,
                current: Some(id) == current,
            }
        })
        .collect())
}
