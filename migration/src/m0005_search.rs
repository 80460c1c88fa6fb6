//! Full-text search indexes over message text and thread titles: FTS5 tables
//! kept in sync by triggers on SQLite, generated `tsvector` columns with GIN
//! indexes on PostgreSQL.
//!
//! The rest of the schema is written with sea-query builders, but neither
//! virtual tables, triggers nor generated `tsvector` columns have builders, so
//! this migration speaks each backend's SQL.
//!
//! The indexed text of a message is its `content` followed by every `text`
//! string found anywhere in its Block Kit `blocks` (the same strings
//! `xl_domain::messages::blocks_text` collects). It is derived inside the
//! database rather than written by the application, so every path that writes
//! messages (posting, editing, streaming, forks, imports, tombstones) keeps
//! the index right without knowing it exists. A tombstoned message
//! (`deleted_at` set) indexes as empty text, so it stops matching at once.
//!
//! On SQLite a message's or thread's id is a UUID blob, but an FTS5 row is
//! addressed by an integer rowid. The implicit rowid of `messages` cannot
//! serve: `VACUUM` may renumber it, which would silently point the index at
//! other rows. So each FTS table has a `*_fts_keys` table whose
//! `INTEGER PRIMARY KEY` (stable across `VACUUM`) is the FTS rowid, with a
//! unique index on the UUID so the triggers find a row without a scan.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The FTS5 tokenizer: Porter stemming over Unicode 6.1 word breaking, with
/// diacritics folded (`café` matches `cafe`).
const TOKENIZER: &str = "porter unicode61 remove_diacritics 2";

/// The text search configuration on PostgreSQL; English stemming, like the
/// Porter stemmer on SQLite.
const PG_CONFIG: &str = "english";

/// The SQL expression for the indexed text of the `messages` row `row`
/// (`NEW` in a trigger, or a table alias) on SQLite.
pub(crate) fn sqlite_message_text(row: &str) -> String {
    // `json_valid` guards `json_tree`, which raises an error on malformed
    // JSON: a write must never fail because of the search index.
    format!(
        "CASE WHEN {row}.deleted_at IS NULL THEN \
           {row}.content || char(10) || CASE WHEN json_valid({row}.blocks) THEN coalesce(( \
             SELECT group_concat(j.value, char(10)) FROM json_tree({row}.blocks) AS j \
             WHERE j.key = 'text' AND j.type = 'text'), '') ELSE '' END \
         ELSE '' END"
    )
}

/// The SQLite full-text tables and triggers. `scoped` adds the `scope`
/// column (m0009): the org's and the thread's tokens, so a query narrows to
/// what the caller may see inside the index.
pub(crate) fn sqlite_up(scoped: bool) -> Vec<String> {
    let (scope_column, new_message_scope, message_scope, new_thread_scope, thread_scope) = if scoped
    {
        (
            ", scope",
            ", 'o' || hex(NEW.org_id) || ' t' || hex(NEW.thread_id)",
            ", 'o' || hex(m.org_id) || ' t' || hex(m.thread_id)",
            ", 'o' || hex(NEW.org_id) || ' t' || hex(NEW.id)",
            ", 'o' || hex(t.org_id) || ' t' || hex(t.id)",
        )
    } else {
        ("", "", "", "", "")
    };
    let new_text = sqlite_message_text("NEW");
    let backfill_text = sqlite_message_text("m");
    vec![
        "CREATE TABLE messages_fts_keys ( \
           fts_rowid INTEGER PRIMARY KEY, \
           message_id BLOB NOT NULL UNIQUE)"
            .to_owned(),
        format!(
            "CREATE VIRTUAL TABLE messages_fts USING fts5(body{scope_column}, tokenize = '{TOKENIZER}')"
        ),
        format!(
            "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN \
               INSERT INTO messages_fts_keys (message_id) VALUES (NEW.id); \
               INSERT INTO messages_fts (rowid, body{scope_column}) VALUES ( \
                 (SELECT fts_rowid FROM messages_fts_keys WHERE message_id = NEW.id), \
                 {new_text}{new_message_scope}); \
             END"
        ),
        // Only the columns that feed the index: status and counter updates
        // (streaming, for one) leave the index alone.
        format!(
            "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, blocks, deleted_at \
             ON messages BEGIN \
               UPDATE messages_fts SET body = {new_text} \
               WHERE rowid = (SELECT fts_rowid FROM messages_fts_keys WHERE message_id = OLD.id); \
             END"
        ),
        // Also fires for rows removed by a foreign-key cascade (a purged thread).
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN \
           DELETE FROM messages_fts \
           WHERE rowid = (SELECT fts_rowid FROM messages_fts_keys WHERE message_id = OLD.id); \
           DELETE FROM messages_fts_keys WHERE message_id = OLD.id; \
         END"
        .to_owned(),
        "INSERT INTO messages_fts_keys (message_id) SELECT id FROM messages".to_owned(),
        format!(
            "INSERT INTO messages_fts (rowid, body{scope_column}) \
             SELECT k.fts_rowid, {backfill_text}{message_scope} \
             FROM messages AS m JOIN messages_fts_keys AS k ON k.message_id = m.id"
        ),
        "CREATE TABLE threads_fts_keys ( \
           fts_rowid INTEGER PRIMARY KEY, \
           thread_id BLOB NOT NULL UNIQUE)"
            .to_owned(),
        format!(
            "CREATE VIRTUAL TABLE threads_fts USING fts5(title, description{scope_column}, tokenize = '{TOKENIZER}')"
        ),
        format!(
            "CREATE TRIGGER threads_fts_insert AFTER INSERT ON threads BEGIN \
               INSERT INTO threads_fts_keys (thread_id) VALUES (NEW.id); \
               INSERT INTO threads_fts (rowid, title, description{scope_column}) VALUES ( \
                 (SELECT fts_rowid FROM threads_fts_keys WHERE thread_id = NEW.id), \
                 coalesce(NEW.title, ''), coalesce(NEW.description, ''){new_thread_scope}); \
             END"
        ),
        "CREATE TRIGGER threads_fts_update AFTER UPDATE OF title, description ON threads BEGIN \
           UPDATE threads_fts \
           SET title = coalesce(NEW.title, ''), description = coalesce(NEW.description, '') \
           WHERE rowid = (SELECT fts_rowid FROM threads_fts_keys WHERE thread_id = OLD.id); \
         END"
        .to_owned(),
        "CREATE TRIGGER threads_fts_delete AFTER DELETE ON threads BEGIN \
           DELETE FROM threads_fts \
           WHERE rowid = (SELECT fts_rowid FROM threads_fts_keys WHERE thread_id = OLD.id); \
           DELETE FROM threads_fts_keys WHERE thread_id = OLD.id; \
         END"
        .to_owned(),
        "INSERT INTO threads_fts_keys (thread_id) SELECT id FROM threads".to_owned(),
        format!(
            "INSERT INTO threads_fts (rowid, title, description{scope_column}) \
             SELECT k.fts_rowid, coalesce(t.title, ''), coalesce(t.description, ''){thread_scope} \
             FROM threads AS t JOIN threads_fts_keys AS k ON k.thread_id = t.id"
        ),
    ]
}

pub(crate) fn sqlite_down() -> Vec<String> {
    [
        "DROP TRIGGER IF EXISTS threads_fts_delete",
        "DROP TRIGGER IF EXISTS threads_fts_update",
        "DROP TRIGGER IF EXISTS threads_fts_insert",
        "DROP TABLE IF EXISTS threads_fts",
        "DROP TABLE IF EXISTS threads_fts_keys",
        "DROP TRIGGER IF EXISTS messages_fts_delete",
        "DROP TRIGGER IF EXISTS messages_fts_update",
        "DROP TRIGGER IF EXISTS messages_fts_insert",
        "DROP TABLE IF EXISTS messages_fts",
        "DROP TABLE IF EXISTS messages_fts_keys",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn postgres_up() -> Vec<String> {
    // Generated columns keep the vectors right on every write with no
    // trigger to maintain; both expressions use only immutable functions
    // (the `regconfig` forms of `to_tsvector`, and `jsonb_path_query_array`).
    // `strict` stops `.**` from visiting array elements twice.
    vec![
        format!(
            "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ( \
               CASE WHEN deleted_at IS NULL THEN \
                 to_tsvector('{PG_CONFIG}'::regconfig, content) \
                 || to_tsvector('{PG_CONFIG}'::regconfig, coalesce(jsonb_path_query_array( \
                      blocks, 'strict $.**.text ? (@.type() == \"string\")'), '[]'::jsonb)) \
               ELSE ''::tsvector END \
             ) STORED"
        ),
        "CREATE INDEX messages_search_vector_idx ON messages USING GIN (search_vector)".to_owned(),
        // Titles weigh most (A), descriptions next (B); message text keeps
        // the default weight (D), so a title match outranks a passing mention.
        format!(
            "ALTER TABLE threads ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ( \
               setweight(to_tsvector('{PG_CONFIG}'::regconfig, coalesce(title, '')), 'A') \
               || setweight(to_tsvector('{PG_CONFIG}'::regconfig, coalesce(description, '')), 'B') \
             ) STORED"
        ),
        "CREATE INDEX threads_search_vector_idx ON threads USING GIN (search_vector)".to_owned(),
    ]
}

fn postgres_down() -> Vec<String> {
    [
        "DROP INDEX IF EXISTS threads_search_vector_idx",
        "ALTER TABLE threads DROP COLUMN IF EXISTS search_vector",
        "DROP INDEX IF EXISTS messages_search_vector_idx",
        "ALTER TABLE messages DROP COLUMN IF EXISTS search_vector",
    ]
    .map(str::to_owned)
    .to_vec()
}

pub(crate) async fn run(manager: &SchemaManager<'_>, statements: Vec<String>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, sqlite_up(false)).await,
            DbBackend::Postgres => run(manager, postgres_up()).await,
            other => Err(DbErr::BackendNotSupported {
                db: other.as_str(),
                ctx: "m0005_search",
            }),
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => run(manager, sqlite_down()).await,
            DbBackend::Postgres => run(manager, postgres_down()).await,
            other => Err(DbErr::BackendNotSupported {
                db: other.as_str(),
                ctx: "m0005_search",
            }),
        }
    }
}
