//! The SQLite engine on rusqlite: a read pool used inline and one writer
//! thread with group commit; see [`reader`] and [`writer`].

mod checkpoint;
mod model;
mod reader;
mod values;
mod writer;

pub(crate) use model::sqlite_model;
pub(crate) use model::{SqliteModel, read as read_field};
pub(crate) use reader::Reader;
pub(crate) use writer::Session;
pub(crate) use writer::{Step, Writer};

/// What every connection of the engine is set up with: a statement cache,
/// and the query planner's stability guarantee (QPSG). Without QPSG, SQLite
/// expires a prepared statement whenever a parameter it planned with is
/// bound again — every `LIMIT ?`, which is nearly every page — so the cached
/// statement was parsed and planned anew on each run (a sixth of a page
/// request's instructions). With it, a statement's plan never depends on
/// the values bound, which suits queries whose plans are chosen by their
/// indexes, as all of ours are.
fn tune(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(128);
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}
