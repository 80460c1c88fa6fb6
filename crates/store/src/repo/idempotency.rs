//! Idempotency keys: what a create made, recorded in the create's own
//! transaction and kept for a day, so that a retry with the same key finds it.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;
use xl_domain::{OrgId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::idempotency_keys;
use crate::error::OrmResult;

/// The identity of one key: keys belong to their user.
#[derive(Clone, Debug)]
pub struct KeyRef<'a> {
    /// The caller's org.
    pub org_id: OrgId,
    /// The caller.
    pub user_id: UserId,
    /// The key.
    pub key: &'a str,
}

/// What a key recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The fingerprint of the request that used the key first.
    pub request_hash: String,
    /// What that request created (JSON text, written by the service).
    pub resource: String,
}

/// The unexpired record of a key, if any.
pub async fn find<C: Conn>(db: &C, key: &KeyRef<'_>) -> Result<Option<Recorded>, StoreError> {
    Ok(idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::UserId.eq(key.user_id.as_uuid()))
        .filter(idempotency_keys::Column::Key.eq(key.key))
        .filter(idempotency_keys::Column::ExpiresAt.gt(Utc::now()))
        .one(db.orm())
        .await
        .into_store()?
        .map(|row| Recorded {
            request_hash: row.request_hash,
            resource: row.resource,
        }))
}

/// Records a key inside the write transaction of the create it guards, in
/// place of an expired record of it. `false` if an unexpired record holds
/// the key (a concurrent request with it committed first): the transaction
/// must then be dropped, since on PostgreSQL it can no longer commit.
pub async fn record<C: Conn>(
    db: &C,
    key: &KeyRef<'_>,
    recorded: Recorded,
    expires_at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::UserId.eq(key.user_id.as_uuid()))
        .filter(idempotency_keys::Column::Key.eq(key.key))
        .filter(idempotency_keys::Column::ExpiresAt.lte(now))
        .exec(db.orm())
        .await
        .into_store()?;
    let inserted = idempotency_keys::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(key.org_id.as_uuid()),
        user_id: Set(key.user_id.as_uuid()),
        key: Set(key.key.to_owned()),
        request_hash: Set(recorded.request_hash),
        resource: Set(recorded.resource),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(db.orm())
    .await
    .into_store();
    match inserted {
        Ok(_) => Ok(true),
        Err(err) if err.is_conflict() => Ok(false),
        Err(err) => Err(err),
    }
}

/// Forgets expired keys.
pub async fn purge_expired<C: Conn>(db: &C) -> Result<u64, StoreError> {
    Ok(idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::ExpiresAt.lt(Utc::now()))
        .exec(db.orm())
        .await
        .into_store()?
        .rows_affected)
}
