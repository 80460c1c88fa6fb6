//! Full-text search narrowed inside the index to what the caller may see,
//! so a word common in other tenants' data costs a caller nothing.
//!
//! SQLite: the FTS5 tables are rebuilt with a `scope` column holding the
//! org's and the thread's tokens (`o<hex id> t<hex id>`), which a query
//! matches together with its words. PostgreSQL: GIN indexes over
//! `(org_id, search_vector)` (with `btree_gin`), so the match is made
//! within the org's rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m0005_search::{run, sqlite_down, sqlite_up};

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: [&str; 5] = [
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "CREATE INDEX messages_search_scope_idx ON messages USING GIN (org_id, search_vector)",
    "CREATE INDEX threads_search_scope_idx ON threads USING GIN (org_id, search_vector)",
    "DROP INDEX IF EXISTS messages_search_vector_idx",
    "DROP INDEX IF EXISTS threads_search_vector_idx",
];

const POSTGRES_DOWN: [&str; 4] = [
    "CREATE INDEX messages_search_vector_idx ON messages USING GIN (search_vector)",
    "CREATE INDEX threads_search_vector_idx ON threads USING GIN (search_vector)",
    "DROP INDEX IF EXISTS messages_search_scope_idx",
    "DROP INDEX IF EXISTS threads_search_scope_idx",
];

fn rebuild(scoped: bool) -> Vec<String> {
    let mut statements = sqlite_down();
    statements.extend(sqlite_up(scoped));
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, rebuild(true)).await,
            DbBackend::Postgres => run(manager, POSTGRES_UP.map(str::to_owned).to_vec()).await,
            other => Err(DbErr::BackendNotSupported {
                db: other.as_str(),
                ctx: "m0009_search_scope",
            }),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, rebuild(false)).await,
            DbBackend::Postgres => run(manager, POSTGRES_DOWN.map(str::to_owned).to_vec()).await,
            other => Err(DbErr::BackendNotSupported {
                db: other.as_str(),
                ctx: "m0009_search_scope",
            }),
        }
    }
}
