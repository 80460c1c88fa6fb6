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
}

/// One entry of a thread's log.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
