//! sea-orm entities, one module per table that the migrations create.

pub mod api_keys;
pub mod artifact_files;
pub mod artifact_versions;
pub mod artifacts;
pub mod audit_log;
pub mod completions;
pub mod deleted_users;
pub mod events;
pub mod files;
pub mod idempotency_keys;
pub mod invitations;
pub mod message_files;
pub mod message_revisions;
pub mod messages;
pub mod org_domains;
pub mod orgs;
pub mod preferences;
pub mod reactions;
pub mod sessions;
pub mod thread_members;
pub mod thread_tags;
pub mod threads;
pub mod user_identities;
pub mod users;

/// Every entity under a name of its own, for glob imports.
pub mod prelude {
    pub use super::api_keys::Entity as ApiKeys;
    pub use super::artifact_files::Entity as ArtifactFiles;
    pub use super::artifact_versions::Entity as ArtifactVersions;
    pub use super::artifacts::Entity as Artifacts;
    pub use super::audit_log::Entity as AuditLog;
    pub use super::completions::Entity as Completions;
    pub use super::deleted_users::Entity as DeletedUsers;
    pub use super::events::Entity as Events;
    pub use super::files::Entity as Files;
    pub use super::idempotency_keys::Entity as IdempotencyKeys;
    pub use super::invitations::Entity as Invitations;
    pub use super::message_files::Entity as MessageFiles;
    pub use super::message_revisions::Entity as MessageRevisions;
    pub use super::messages::Entity as Messages;
    pub use super::org_domains::Entity as OrgDomains;
    pub use super::orgs::Entity as Orgs;
    pub use super::preferences::Entity as Preferences;
    pub use super::reactions::Entity as Reactions;
    pub use super::sessions::Entity as Sessions;
    pub use super::thread_members::Entity as ThreadMembers;
    pub use super::thread_tags::Entity as ThreadTags;
    pub use super::threads::Entity as Threads;
    pub use super::user_identities::Entity as UserIdentities;
    pub use super::users::Entity as Users;
}
