//! sea-orm entities, one module per table that the migrations create.

pub mod api_keys;
pub mod artifact_files;
pub mod artifact_versions;
pub mod artifacts;
pub mod audit_log;
pub mod completions;
pub mod deleted_users;
pub mod events;
pub mod file_blobs;
pub mod files;
pub mod idempotency_keys;
pub mod interactive_actions;
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
