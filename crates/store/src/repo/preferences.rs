//! Stored preference documents (only what differs from the defaults).

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Set};
use serde_json::Value;
use xl_domain::UserId;

use crate::Conn;
use crate::StoreError;
use crate::entity::preferences;
use crate::error::OrmResult;

/// The user's stored document, if any.
pub async fn get<C: Conn>(db: &C, user: UserId) -> Result<Option<Value>, StoreError> {
    Ok(preferences::Entity::find_by_id(user.as_uuid())
        .one(db.orm())
        .await
        .into_store()?
        .map(|row| row.data))
}

/// Replaces the user's stored document.
pub async fn put<C: Conn>(db: &C, user: UserId, data: Value) -> Result<(), StoreError> {
    let row = preferences::ActiveModel {
        user_id: Set(user.as_uuid()),
        data: Set(data),
        updated_at: Set(Utc::now()),
    };
    preferences::Entity::insert(row)
        .on_conflict(
            OnConflict::column(preferences::Column::UserId)
                .update_columns([preferences::Column::Data, preferences::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Removes the user's stored document (back to defaults).
pub async fn delete<C: Conn>(db: &C, user: UserId) -> Result<(), StoreError> {
    preferences::Entity::delete_by_id(user.as_uuid())
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}
