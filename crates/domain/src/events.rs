//! Thread events: one replayable log per thread, each event numbered by a
//! per-thread sequence so a client that reconnects resumes exactly after the
//! last event it saw.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{MessageId, ThreadId, UserId};

/// Event kinds written to the log.
pub mod kind {
    /// A message was posted.
    pub const MESSAGE_CREATED: &str = "message.created";
    /// A message changed (edit, status change, end of generation).
    pub const MESSAGE_UPDATED: &str = "message.updated";
    /// A message was deleted.
    pub const MESSAGE_DELETED: &str = "message.deleted";
    /// More text of an assistant reply being generated.
    pub const MESSAGE_DELTA: &str = "message.delta";
    /// An assistant reply reached its final status (complete, failed or
    /// cancelled); the payload has the status, the error and, from its
    /// generation, the metadata (model, usage).
    pub const MESSAGE_COMPLETED: &str = "message.completed";
    /// Someone reacted to a message.
    pub const REACTION_ADDED: &str = "reaction.added";
    /// Someone took their reaction back.
    pub const REACTION_REMOVED: &str = "reaction.removed";
    /// A user joined the thread.
    pub const MEMBER_ADDED: &str = "member.added";
    /// A user left or was removed from the thread.
    pub const MEMBER_REMOVED: &str = "member.removed";
    /// The thread's settings changed (the payload is the thread).
    pub const THREAD_UPDATED: &str = "thread.updated";
    /// The thread was deleted (it can be restored for a while).
    pub const THREAD_DELETED: &str = "thread.deleted";
    /// The thread was restored.
    pub const THREAD_RESTORED: &str = "thread.restored";
    /// A file was attached to a message (the payload has the file and the message).
    pub const FILE_ATTACHED: &str = "file.attached";
    /// A file attached in the thread was deleted; its attachments are tombstones now.
    pub const FILE_DELETED: &str = "file.deleted";
    /// An artifact was created in the thread (the payload is the artifact).
    pub const ARTIFACT_CREATED: &str = "artifact.created";
    /// An artifact of the thread got a new version (the payload is the artifact).
    pub const ARTIFACT_UPDATED: &str = "artifact.updated";
    /// An artifact of the thread was deleted (the payload has its id).
    pub const ARTIFACT_DELETED: &str = "artifact.deleted";
    /// Someone used an interactive element of a message's blocks (the
    /// payload has the action as sent and who did it).
    pub const INTERACTIVE_ACTION: &str = "interactive.action";

    /// Not logged: the cursor a client resumed from is older than the
    /// log keeps (or unknown); refetch the thread, then follow from this
    /// event's `seq`.
    pub const RESET: &str = "reset";
    /// Not logged: the caller may no longer read the thread; the stream ends.
    pub const ACCESS_REVOKED: &str = "access.revoked";
}

/// One entry of a thread's log.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ThreadEvent {
    /// Position in the thread's log (1, 2, 3, …).
    pub seq: i64,
    /// The thread.
    pub thread_id: ThreadId,
    /// What happened (`message.delta`, …).
    pub kind: String,
    /// The message concerned, if any.
    pub message_id: Option<MessageId>,
    /// Who caused it, if a person did.
    pub actor_id: Option<UserId>,
    /// The details.
    pub payload: Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}
