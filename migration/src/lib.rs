//! The schema of Experience Layer as one ordered set of sea-orm migrations.
//!
//! Every migration is written with sea-query builders only, so the same code
//! creates and drops the schema on SQLite and on PostgreSQL.

pub use sea_orm_migration::migrator::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod builders;
mod m0001_identity;
mod m0002_conversations;
mod m0003_files_artifacts;
mod m0004_completions;

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
];
