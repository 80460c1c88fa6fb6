//! Following one message: the thread's follower ([`crate::events`]) keeping
//! only that message's events, until its final status.

use xl_domain::{Actor, MessageId};

use crate::events::EventStream;
use crate::{ServiceError, Services};

impl Services {
    /// The events of a message the caller may read, after `after` (a `seq`;
    /// 0 for all), then live until the message's final status.
    pub async fn follow_message(
        &self,
        actor: &Actor,
        id: MessageId,
        after: i64,
    ) -> Result<EventStream, ServiceError> {
        let message = self.get_message(actor, id).await?;
        self.follow(actor, message.thread_id, Some(id), after).await
    }
}
