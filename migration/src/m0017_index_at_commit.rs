//! SQLite indexes messages for search once per commit, not inside each
//! writer session.
//!
//! FTS5 writes its pending index data to disk at every savepoint, and the
//! writer runs each session in a savepoint of its own, so indexing in the
//! triggers cost a segment write (and its merges) per post: about half of a
//! post's time on the writer. The triggers now only note the message in
//! `messages_fts_pending`; the writer runs [`sqlite_search_flush`] just
//! before each COMMIT, outside every savepoint, so a group commit of many
//! posts is indexed in one pass and a post is searchable exactly when it is
//! committed, as before. (PostgreSQL's `search_vector` is a generated
//! column; unchanged.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m0005_search::{run, sqlite_message_text, sqlite_up};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table of messages written but not yet indexed (`fresh`: no index row yet).
pub const SQLITE_SEARCH_PENDING: &str = "messages_fts_pending";

/// The statements that index the pending messages, run by the SQLite writer
/// before each COMMIT once this migration is applied.
pub fn sqlite_search_flush() -> Vec<String> {
    let text = sqlite_message_text("m");
    vec![
        "DELETE FROM messages_fts WHERE rowid IN ( \
           SELECT k.fts_rowid FROM messages_fts_pending AS p \
           JOIN messages_fts_keys AS k ON k.message_id = p.message_id WHERE p.fresh = 0)"
            .to_owned(),
        format!(
            "INSERT INTO messages_fts (rowid, body, scope) \
             SELECT k.fts_rowid, {text}, 'o' || hex(m.org_id) || ' t' || hex(m.thread_id) \
             FROM messages_fts_pending AS p \
             JOIN messages AS m ON m.id = p.message_id \
             JOIN messages_fts_keys AS k ON k.message_id = m.id"
        ),
        "DELETE FROM messages_fts_pending".to_owned(),
    ]
}

fn up() -> Vec<String> {
    vec![
        "CREATE TABLE messages_fts_pending ( \
           message_id BLOB NOT NULL PRIMARY KEY, fresh INTEGER NOT NULL) WITHOUT ROWID"
            .to_owned(),
        "DROP TRIGGER IF EXISTS messages_fts_insert".to_owned(),
        "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN \
           INSERT INTO messages_fts_keys (message_id) VALUES (NEW.id); \
           INSERT OR IGNORE INTO messages_fts_pending (message_id, fresh) VALUES (NEW.id, 1); \
         END"
        .to_owned(),
        "DROP TRIGGER IF EXISTS messages_fts_update".to_owned(),
        // As m0015: a reply still streaming is indexed when it ends.
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, blocks, deleted_at, status \
         ON messages WHEN NEW.status <> 'streaming' BEGIN \
           INSERT OR IGNORE INTO messages_fts_pending (message_id, fresh) VALUES (NEW.id, 0); \
         END"
        .to_owned(),
        "DROP TRIGGER IF EXISTS messages_fts_delete".to_owned(),
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN \
           DELETE FROM messages_fts \
           WHERE rowid = (SELECT fts_rowid FROM messages_fts_keys WHERE message_id = OLD.id); \
           DELETE FROM messages_fts_keys WHERE message_id = OLD.id; \
           DELETE FROM messages_fts_pending WHERE message_id = OLD.id; \
         END"
        .to_owned(),
    ]
}

/// Back to indexing in the triggers (m0009's, with m0015's update trigger),
/// after indexing whatever is pending.
fn down() -> Vec<String> {
    let mut statements = sqlite_search_flush();
    statements.push("DROP TABLE messages_fts_pending".to_owned());
    let text = sqlite_message_text("NEW");
    for trigger in [
        "messages_fts_insert",
        "messages_fts_update",
        "messages_fts_delete",
    ] {
        statements.push(format!("DROP TRIGGER IF EXISTS {trigger}"));
    }
    statements.extend(sqlite_up(true).into_iter().filter(|statement| {
        statement.starts_with("CREATE TRIGGER messages_fts_insert")
            || statement.starts_with("CREATE TRIGGER messages_fts_delete")
    }));
    statements.push(format!(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, blocks, deleted_at, status \
         ON messages WHEN NEW.status <> 'streaming' BEGIN \
           UPDATE messages_fts SET body = {text} \
           WHERE rowid = (SELECT fts_rowid FROM messages_fts_keys WHERE message_id = OLD.id); \
         END"
    ));
    statements
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, up()).await,
            _ => Ok(()),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, down()).await,
            _ => Ok(()),
        }
    }
}
