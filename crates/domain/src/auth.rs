//! Who is calling: the authenticated [`Actor`], and the session and API key
//! records a user can see about themselves.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{ApiKeyId, Email, OrgId, Role, SessionId, UserId};

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credential {
    /// A JWT; `session` is set when this server issued it from a login session.
    Jwt {
        /// The session (refresh-token family) the token belongs to.
        session: Option<SessionId>,
    },
    /// An API key.
    ApiKey {
        /// The key.
        key: ApiKeyId,
    },
}

/// The authenticated caller, as every service sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Actor {
    /// The user.
    pub user_id: UserId,
    /// The user's organisation; all tenant data access is scoped to it.
    pub org_id: OrgId,
    /// The user's role in that organisation.
    pub role: Role,
    /// The user's email address.
    pub email: Email,
    /// How the caller authenticated.
    pub credential: Credential,
}

impl Actor {
    /// Whether the caller administers their organisation.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The session behind the caller's token, if any.
    pub fn session(&self) -> Option<SessionId> {
        match self.credential {
            Credential::Jwt { session } => session,
            Credential::ApiKey { .. } => None,
        }
    }
}

/// An organisation (tenant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Org {
    /// The id.
    pub id: OrgId,
    /// The unique slug (the `org` claim or the email domain).
    pub slug: String,
    /// The display name.
    pub name: String,
}

/// A login session as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// The session id (stable across refresh-token rotations).
    pub id: SessionId,
    /// The owner.
    pub user_id: UserId,
    /// When the current refresh token was issued.
    pub created_at: DateTime<Utc>,
    /// When the session was last refreshed.
    pub last_used_at: DateTime<Utc>,
    /// When the current refresh token expires.
    pub expires_at: DateTime<Utc>,
    /// The client that opened it.
    pub user_agent: Option<String>,
    /// The address it was opened from.
    pub ip: Option<String>,
    /// Whether this is the session of the calling token.
    pub current: bool,
}

/// An API key as its owner sees it (the secret is never shown again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// The id.
    pub id: ApiKeyId,
    /// The owner.
    pub user_id: UserId,
    /// The owner's organisation.
    pub org_id: OrgId,
    /// A label chosen by the owner.
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}
