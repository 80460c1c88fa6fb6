//! Idempotency keys: the first response to a create, kept for a day and
//! replayed when the same key and body come again.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;
use xl_domain::{OrgId, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::idempotency_keys;
use crate::error::OrmResult;

/// What a key says about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// First use: the request runs, and its response is recorded.
    New,
    /// Seen with the same body: the recorded status and body.
    Replay {
        /// HTTP status.
        status: u16,
        /// The recorded response data (JSON text).
        body: String,
    },
    /// Seen with a different body.
    Mismatch,
    /// Seen, and its first request has not finished.
    InProgress,
}

/// The identity of one key.
#[derive(Clone, Debug)]
pub struct KeyRef<'a> {
    /// The caller's org.
    pub org_id: OrgId,
    /// The caller.
    pub user_id: UserId,
    /// The key.
    pub key: &'a str,
}

/// Claims a key for a request with this fingerprint, or reports what it
/// already holds. Expired keys are forgotten.
pub async fn claim<C: Conn>(
    db: &C,
    key: &KeyRef<'_>,
    method: &str,
    path: &str,
    request_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<Claim, StoreError> {
    let now = Utc::now();
    let existing = idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::UserId.eq(key.user_id.as_uuid()))
        .filter(idempotency_keys::Column::Key.eq(key.key))
        .one(db.orm())
        .await
        .into_store()?;
    if let Some(row) = existing {
        if row.expires_at > now {
            if row.request_hash != request_hash {
                return Ok(Claim::Mismatch);
            }
            if row.status_code == 0 {
                return Ok(Claim::InProgress);
            }
            return Ok(Claim::Replay {
                status: u16::try_from(row.status_code).unwrap_or(200),
                body: row.response_body,
            });
        }
        idempotency_keys::Entity::delete_by_id(row.id)
            .exec(db.orm())
            .await
            .into_store()?;
    }
    idempotency_keys::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(key.org_id.as_uuid()),
        user_id: Set(key.user_id.as_uuid()),
        key: Set(key.key.to_owned()),
        method: Set(method.to_owned()),
        path: Set(path.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        status_code: Set(0),
        response_body: Set(String::new()),
        created_at: Set(now),
        expires_at: Set(expires_at),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    Ok(Claim::New)
}

/// Records the response of a claimed key.
pub async fn complete<C: Conn>(
    db: &C,
    key: &KeyRef<'_>,
    status: u16,
    body: &str,
) -> Result<(), StoreError> {
    idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::StatusCode,
            Expr::value(i32::from(status)),
        )
        .col_expr(idempotency_keys::Column::ResponseBody, Expr::value(body))
        .filter(idempotency_keys::Column::UserId.eq(key.user_id.as_uuid()))
        .filter(idempotency_keys::Column::Key.eq(key.key))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Releases a claimed key whose request failed, so it can be retried.
pub async fn release<C: Conn>(db: &C, key: &KeyRef<'_>) -> Result<(), StoreError> {
    idempotency_keys::Entity::delete_many()
        .filter(idempotency_keys::Column::UserId.eq(key.user_id.as_uuid()))
        .filter(idempotency_keys::Column::Key.eq(key.key))
        .filter(idempotency_keys::Column::StatusCode.eq(0))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
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
