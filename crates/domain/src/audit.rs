//! The audit log: who did what to whom, for an org's administrators.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{AuditId, OrgId, UserId};

/// The actions recorded.
pub mod action {
    /// A session was opened (dev login, OAuth); `details.method`.
    pub const SIGN_IN: &str = "auth.sign_in";
    /// A session was ended by its user.
    pub const SIGN_OUT: &str = "auth.sign_out";
    /// A used refresh token was presented again: the session was revoked.
    pub const REFRESH_REUSE: &str = "auth.refresh_reuse";
    /// A session was revoked by its user.
    pub const SESSION_REVOKED: &str = "auth.session_revoked";
    /// An API key was made.
    pub const API_KEY_CREATED: &str = "api_key.created";
    /// An API key was revoked.
    pub const API_KEY_REVOKED: &str = "api_key.revoked";
    /// A user's role changed; `details.from`, `details.to`.
    pub const ROLE_CHANGED: &str = "user.role_changed";
    /// A user was deleted.
    pub const USER_DELETED: &str = "user.deleted";
    /// An administrator read another user's record.
    pub const ADMIN_READ_USER: &str = "admin.read_user";
    /// A thread was deleted.
    pub const THREAD_DELETED: &str = "thread.deleted";
    /// A message was deleted.
    pub const MESSAGE_DELETED: &str = "message.deleted";
    /// A file was deleted.
    pub const FILE_DELETED: &str = "file.deleted";
    /// An artifact was deleted.
    pub const ARTIFACT_DELETED: &str = "artifact.deleted";
}

/// One recorded action.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The id (time-ordered).
    pub id: AuditId,
    /// The org it happened in.
    pub org_id: Option<OrgId>,
    /// Who did it, when a person did (and still exists).
    pub actor_id: Option<UserId>,
    /// What was done (see [`action`]).
    pub action: String,
    /// The kind of thing it was done to (`user`, `thread`, `api_key`, …).
    pub target_type: Option<String>,
    /// Its id.
    pub target_id: Option<String>,
    /// The client's address, as the server saw it.
    pub ip: Option<String>,
    /// The request's correlation id.
    pub correlation_id: Option<String>,
    /// Anything else worth keeping.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    /// When.
    pub created_at: DateTime<Utc>,
}
