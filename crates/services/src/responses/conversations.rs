//! Conversations: threads, seen through OpenAI's Conversations API. Their
//! items are the messages of the current branch; access is the thread's.

use serde_json::Value;
use xl_domain::threads::{NewThread, Thread, ThreadUpdate};
use xl_domain::{Actor, Cursor, Message, MessageId, Order, Page, PageRequest, ThreadId};
use xl_store::repo;

use super::InputItem;
use crate::threads::Access;
use crate::{ServiceError, Services};
use xl_domain::messages::Branch;

/// A thread a conversation call may not see is a conversation not found.
fn not_found(err: ServiceError) -> ServiceError {
    match err {
        ServiceError::NotFound(_) => ServiceError::NotFound("conversation"),
        other => other,
    }
}

impl Services {
    /// Creates a conversation (a thread owned by the caller) holding
    /// `items`, in one transaction.
    pub async fn create_conversation(
        &self,
        actor: &Actor,
        items: &[InputItem],
        metadata: Option<Value>,
    ) -> Result<Thread, ServiceError> {
        let row = Self::new_thread_row(
            actor,
            &NewThread {
                metadata,
                ..NewThread::default()
            },
        )?;
        let tx = self.store.begin_write().await?;
        let thread = repo::threads::insert(&tx, row).await?;
        let (_, events) = self
            .insert_items(&tx, actor, &thread, None, items, "items")
            .await?;
        let thread = self
            .thread_in_tx(&tx, actor, thread.id, Access::Read)
            .await?;
        self.commit_and_publish(tx, events).await?;
        Ok(thread)
    }

    /// A conversation the caller may read.
    pub async fn get_conversation(
        &self,
        actor: &Actor,
        id: ThreadId,
    ) -> Result<Thread, ServiceError> {
        self.thread_for(actor, id, Access::Read)
            .await
            .map_err(not_found)
    }

    /// Replaces a conversation's metadata (its owner or an administrator).
    pub async fn update_conversation(
        &self,
        actor: &Actor,
        id: ThreadId,
        metadata: Value,
    ) -> Result<Thread, ServiceError> {
        self.thread_for(actor, id, Access::Read)
            .await
            .map_err(not_found)?;
        let update = ThreadUpdate {
            metadata: Some(metadata),
            ..ThreadUpdate::default()
        };
        self.update_thread(actor, id, update).await
    }

    /// Deletes a conversation as its thread is deleted (softly; owner or
    /// administrator).
    pub async fn delete_conversation(
        &self,
        actor: &Actor,
        id: ThreadId,
    ) -> Result<(), ServiceError> {
        self.thread_for(actor, id, Access::Read)
            .await
            .map_err(not_found)?;
        self.delete_thread(actor, id).await
    }

    /// Adds items after the conversation's current leaf; no reply is made.
    pub async fn add_conversation_items(
        &self,
        actor: &Actor,
        id: ThreadId,
        items: &[InputItem],
    ) -> Result<Vec<Message>, ServiceError> {
        let tx = self.store.begin_write().await?;
        let thread = self
            .thread_in_tx(&tx, actor, id, Access::Write)
            .await
            .map_err(not_found)?;
        let (written, events) = self
            .insert_items(&tx, actor, &thread, thread.current_leaf_id, items, "items")
            .await?;
        self.commit_and_publish(tx, events).await?;
        Ok(written)
    }

    /// A page of a conversation's messages (its current branch), after the
    /// message `after` in the given order, deleted ones left out.
    pub async fn conversation_messages(
        &self,
        actor: &Actor,
        id: ThreadId,
        after: Option<MessageId>,
        limit: u32,
        order: Order,
    ) -> Result<Page<Message>, ServiceError> {
        let page = PageRequest {
            limit,
            cursor: after.map(|id| Cursor::after(id.as_uuid())),
            order,
        };
        let mut page = self
            .list_messages(actor, id, Branch::Current, &page)
            .await
            .map_err(not_found)?;
        page.items.retain(|message| message.deleted_at.is_none());
        Ok(page)
    }

    /// One message of a conversation.
    pub async fn conversation_message(
        &self,
        actor: &Actor,
        id: ThreadId,
        message: MessageId,
    ) -> Result<Message, ServiceError> {
        self.thread_for(actor, id, Access::Read)
            .await
            .map_err(not_found)?;
        let found = repo::messages::find_in_thread(self.store.reader(), id, message)
            .await?
            .filter(|found| found.deleted_at.is_none())
            .ok_or(ServiceError::NotFound("item"))?;
        Ok(found)
    }

    /// Deletes one message of a conversation (its author, the
    /// conversation's owner, or an administrator); returns the conversation.
    pub async fn delete_conversation_message(
        &self,
        actor: &Actor,
        id: ThreadId,
        message: MessageId,
    ) -> Result<Thread, ServiceError> {
        let thread = self
            .thread_for(actor, id, Access::Read)
            .await
            .map_err(not_found)?;
        let found = self.conversation_message(actor, id, message).await?;
        let allowed = found.user_id == Some(actor.user_id)
            || thread.owner_id == actor.user_id
            || actor.is_admin();
        if !allowed {
            return Err(ServiceError::Forbidden(
                "only the item's author, the conversation's owner or an administrator may delete it"
                    .into(),
            ));
        }
        self.remove_message(actor, message).await?;
        self.get_conversation(actor, id).await
    }
}
