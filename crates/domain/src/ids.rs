//! Typed identifiers: UUIDv7 (time-ordered) wrapped so that ids of different
//! resources cannot be mixed up across layers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;

macro_rules! typed_id {
    ($($(#[$meta:meta])* $name:ident => $resource:literal),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// The resource name used in error messages.
            pub const RESOURCE: &'static str = $resource;

            /// A fresh time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (for example one read from the database).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(raw)
                    .map(Self)
                    .map_err(|_| DomainError::InvalidId { resource: $resource })
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    )+};
}

typed_id! {
    /// An organisation (tenant).
    OrgId => "org",
    /// A user.
    UserId => "user",
    /// A login session (a family of rotating refresh tokens).
    SessionId => "session",
    /// An API key.
    ApiKeyId => "api_key",
    /// A conversation thread.
    ThreadId => "thread",
    /// A message in a thread.
    MessageId => "message",
    /// A stored edit of a message.
    RevisionId => "revision",
    /// A reaction on a message.
    ReactionId => "reaction",
    /// An uploaded file.
    FileId => "file",
    /// An artifact.
    ArtifactId => "artifact",
    /// A version of an artifact.
    ArtifactVersionId => "artifact_version",
    /// A recorded model call.
    CompletionId => "completion",
    /// An event in a thread's log.
    EventId => "event",
    /// An audit log entry.
    AuditId => "audit",
    /// An invitation into an organisation.
    InvitationId => "invitation",
    /// A recorded interactive action.
    ActionId => "action",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_round_trip_as_strings() {
        let first = ThreadId::new();
        let second = ThreadId::new();
        assert!(first < second, "UUIDv7 ids must sort by creation time");
        let parsed: ThreadId = first.to_string().parse().unwrap();
        assert_eq!(parsed, first);
    }

    #[test]
    fn a_malformed_id_names_its_resource() {
        let err = "not-a-uuid".parse::<MessageId>().unwrap_err();
        assert_eq!(err.to_string(), "invalid message id");
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = UserId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
    }
}
