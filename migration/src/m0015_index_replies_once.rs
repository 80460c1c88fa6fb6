//! A reply is indexed for search once, when it ends, not at every piece of
//! text it streams: the SQLite update trigger ignores rows still
//! `streaming` and fires on the final status. Re-indexing a growing reply at
//! every delta was the costliest step of a streamed reply's writes.
//! (PostgreSQL's `search_vector` is a generated column; unchanged.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m0005_search::{run, sqlite_message_text};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn trigger(when_done: bool) -> Vec<String> {
    let text = sqlite_message_text("NEW");
    let (columns, guard) = if when_done {
        (
            "content, blocks, deleted_at, status",
            "WHEN NEW.status <> 'streaming' ",
        )
    } else {
        ("content, blocks, deleted_at", "")
    };
    vec![
        "DROP TRIGGER IF EXISTS messages_fts_update".to_owned(),
        format!(
            "CREATE TRIGGER messages_fts_update AFTER UPDATE OF {columns} \
             ON messages {guard}BEGIN \
               UPDATE messages_fts SET body = {text} \
               WHERE rowid = (SELECT fts_rowid FROM messages_fts_keys WHERE message_id = OLD.id); \
             END"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, trigger(true)).await,
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, trigger(false)).await,
            _ => Ok(()),
        }
    }
}
