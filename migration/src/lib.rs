//! The schema of Experience Layer as one ordered set of sea-orm migrations.
//!
//! Every migration is written with sea-query builders only, so the same code
//! creates and drops the schema on SQLite and on PostgreSQL; the one
//! exception is `m0005_search`, whose full-text indexes have no builders and
//! are written in each backend's SQL.

pub use sea_orm_migration::migrator::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod builders;
mod m0001_identity;
mod m0002_conversations;
mod m0003_files_artifacts;
mod m0004_completions;
mod m0005_search;
mod m0007_identity_binding;
mod m0008_message_paths;
mod m0009_search_scope;
mod m0010_idempotency_records;
mod m0011_event_retention;
mod m0012_interactive_actions;
mod m0013_file_blobs;
mod m0014_analytics_events;
mod m0015_index_replies_once;
mod m0016_rate_buckets;
mod m0017_index_at_commit;
mod m0018_branch_pages;

pub use m0008_message_paths::{Parent as PathParent, Place as PathPlace};
pub use m0017_index_at_commit::{SQLITE_SEARCH_PENDING, sqlite_search_flush};

/// Applies and rolls back the whole schema.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_identity::Migration),
            Box::new(m0002_conversations::Migration),
            Box::new(m0003_files_artifacts::Migration),
            Box::new(m0004_completions::Migration),
            Box::new(m0005_search::Migration),
            Box::new(m0007_identity_binding::Migration),
            Box::new(m0008_message_paths::Migration),
            Box::new(m0009_search_scope::Migration),
            Box::new(m0010_idempotency_records::Migration),
            Box::new(m0011_event_retention::Migration),
            Box::new(m0012_interactive_actions::Migration),
            Box::new(m0013_file_blobs::Migration),
            Box::new(m0014_analytics_events::Migration),
            Box::new(m0015_index_replies_once::Migration),
            Box::new(m0016_rate_buckets::Migration),
            Box::new(m0017_index_at_commit::Migration),
            Box::new(m0018_branch_pages::Migration),
        ]
    }
}

/// Every table the migrations create, in creation order.
pub const TABLES: &[&str] = &[
    "orgs",
    "users",
    "sessions",
    "api_keys",
    "preferences",
    "audit_log",
    "threads",
    "thread_tags",
    "thread_members",
    "messages",
    "message_revisions",
    "reactions",
    "idempotency_keys",
    "events",
    "files",
    "message_files",
    "artifacts",
    "artifact_versions",
    "artifact_files",
    "completions",
    "user_identities",
    "org_domains",
    "invitations",
    "deleted_users",
    "interactive_actions",
    "file_blobs",
    "analytics_events",
    "rate_buckets",
];

/// The tables the search migration adds on SQLite only: the FTS5 virtual
/// tables and the keys mapping their integer rowids to UUIDs. (FTS5's own
/// shadow tables, such as `messages_fts_data`, are not listed.) On PostgreSQL
/// search adds columns and indexes, no tables.
pub const SQLITE_SEARCH_TABLES: &[&str] = &[
    "messages_fts_keys",
    "messages_fts",
    "threads_fts_keys",
    "threads_fts",
    "messages_fts_pending",
];
