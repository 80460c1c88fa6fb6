//! API keys, stored as SHA-256 hashes of the secret.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use xl_domain::{ApiKey, ApiKeyId, OrgId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::api_keys;
use crate::error::OrmResult;

fn to_domain(row: api_keys::Model) -> ApiKey {
    ApiKey {
        id: ApiKeyId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        org_id: OrgId::from_uuid(row.org_id),
        name: row.name,
        prefix: row.prefix,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }
}

/// A key to store.
#[derive(Clone, Debug)]
pub struct NewKey {
    /// The owner.
    pub user_id: UserId,
    /// The owner's org.
    pub org_id: OrgId,
    /// The label.
    pub name: String,
    /// The visible start of the key.
    pub prefix: String,
    /// SHA-256 of the key.
    pub key_hash: String,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Stores a key.
pub async fn insert<C: Conn>(db: &C, key: NewKey) -> Result<ApiKey, StoreError> {
    let row = api_keys::ActiveModel {
        id: Set(ApiKeyId::new().as_uuid()),
        user_id: Set(key.user_id.as_uuid()),
        org_id: Set(key.org_id.as_uuid()),
        name: Set(key.name),
        prefix: Set(key.prefix),
        key_hash: Set(key.key_hash),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        expires_at: Set(key.expires_at),
        revoked_at: Set(None),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    Ok(to_domain(row))
}

/// The key with this hash, whatever its state.
pub async fn find_by_hash<C: Conn>(db: &C, hash: &str) -> Result<Option<ApiKey>, StoreError> {
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(hash))
        .one(db.orm())
        .await
        .into_store()?
        .map(to_domain))
}

/// The user's keys, newest first (revoked ones included, marked).
pub async fn list_for_user<C: Conn>(db: &C, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
    Ok(api_keys::Entity::find()
        .filter(api_keys::Column::UserId.eq(user.as_uuid()))
        .order_by_desc(api_keys::Column::Id)
        .all(db.orm())
        .await
        .into_store()?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// How many of the user's keys still work (not revoked, not expired).
pub async fn count_live<C: Conn>(
    db: &C,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    use sea_orm::{Condition, PaginatorTrait};
    api_keys::Entity::find()
        .filter(api_keys::Column::UserId.eq(user.as_uuid()))
        .filter(api_keys::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(api_keys::Column::ExpiresAt.is_null())
                .add(api_keys::Column::ExpiresAt.gt(now)),
        )
        .count(db.orm())
        .await
        .into_store()
}

/// The key with this id in this org.
pub async fn find<C: Conn>(db: &C, org: OrgId, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
    Ok(api_keys::Entity::find_by_id(id.as_uuid())
        .filter(api_keys::Column::OrgId.eq(org.as_uuid()))
        .one(db.orm())
        .await
        .into_store()?
        .map(to_domain))
}

/// Revokes a key (idempotent).
pub async fn revoke<C: Conn>(db: &C, id: ApiKeyId) -> Result<(), StoreError> {
    api_keys::Entity::update_many()
        .col_expr(api_keys::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_keys::Column::Id.eq(id.as_uuid()))
        .filter(api_keys::Column::RevokedAt.is_null())
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Records a use of the key.
pub async fn touch<C: Conn>(db: &C, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
    api_keys::Entity::update_many()
        .col_expr(api_keys::Column::LastUsedAt, Expr::value(at))
        .filter(api_keys::Column::Id.eq(id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}
