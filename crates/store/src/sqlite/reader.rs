//! The read side of the SQLite engine: a small pool of read-only rusqlite
//! connections, each query run to completion on the calling thread.
//!
//! Running a read inline costs a few microseconds of SQLite work, where a
//! driver with a worker thread per connection pays two thread switches per
//! statement and per row. Every read the repositories make is bounded (index
//! lookups, pages of at most a few hundred rows), so an async worker is never
//! held for long. Under WAL, readers never wait for the writer.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sea_orm::ProxyRow;
use sea_orm::sea_query::Value;

use super::values;

/// Read-only connections to one SQLite file.
#[derive(Debug)]
pub(crate) struct Reader {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl Reader {
    /// A pool for the database file at `path` (which must exist).
    pub(crate) fn new(path: PathBuf, busy_timeout: Duration, max_idle: usize) -> Self {
        Reader {
            path,
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        super::tune(&conn)?;
        Ok(conn)
    }

    /// Runs `f` on a pooled connection, on this thread.
    fn with<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> rusqlite::Result<R> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = f(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push(conn);
        }
        result
    }

    /// The rows of a query.
    pub(crate) fn query(&self, sql: &str, values: &[Value]) -> rusqlite::Result<Vec<ProxyRow>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            values::read_rows(&mut statement, sql, values)
        })
    }

    /// The rows of a query as models the engine decodes itself.
    pub(crate) fn query_models<M: super::SqliteModel>(
        &self,
        sql: &str,
        values: &[Value],
    ) -> rusqlite::Result<Vec<M>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            let params = values::bind(values);
            super::model::read_models(&mut statement, rusqlite::params_from_iter(params.iter()))
        })
    }

    /// Checks that the database answers.
    pub(crate) fn ping(&self) -> rusqlite::Result<()> {
        self.with(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }
}
