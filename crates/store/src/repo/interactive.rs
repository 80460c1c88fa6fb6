//! The record of interactive actions on messages' blocks.

use sea_orm::{EntityTrait, Set};
use xl_domain::interactive::RecordedAction;

use crate::Conn;
use crate::StoreError;
use crate::entity::interactive_actions;
use crate::error::OrmResult;

/// Records an action (its id and time are the record's own).
pub async fn insert<C: Conn>(db: &C, action: &RecordedAction) -> Result<(), StoreError> {
    interactive_actions::Entity::insert(interactive_actions::ActiveModel {
        id: Set(action.id.as_uuid()),
        org_id: Set(action.org_id.as_uuid()),
        thread_id: Set(action.thread_id.as_uuid()),
        message_id: Set(action.message_id.as_uuid()),
        user_id: Set(action.user_id.as_uuid()),
        action_id: Set(action.action_id.clone()),
        block_id: Set(action.block_id.clone()),
        action_type: Set(action.kind.clone()),
        payload: Set(action.payload.clone()),
        created_at: Set(action.created_at),
    })
    .exec_without_returning(db.orm())
    .await
    .into_store()?;
    Ok(())
}
