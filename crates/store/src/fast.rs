//! A read path for the hottest SQLite queries on rusqlite, beside sqlx.
//!
//! sqlx runs each SQLite connection on a worker thread and hands every row
//! across a channel; profiling the message list showed most CPU time going to
//! those hand-offs (futex waits and wake-ups) rather than to SQLite. Here a
//! small pool of read-only rusqlite connections runs a query to completion on
//! the calling thread: a page of 50 messages costs a few microseconds of
//! SQLite work instead of dozens of thread switches. Only bounded, indexed
//! queries go this way (a thread's gate, a page of its current branch), so
//! running them inline does not stall the async worker. Writes stay on the
//! single sqlx writer. Used for file databases only.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// Read-only rusqlite connections to one SQLite file.
#[derive(Debug)]
pub struct FastReader {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl FastReader {
    /// A pool for the database file at `path` (which must exist).
    pub fn new(path: PathBuf, busy_timeout: Duration, max_idle: usize) -> Self {
        FastReader {
            path,
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
        }
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(fast_error)?;
        conn.busy_timeout(self.busy_timeout).map_err(fast_error)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// Runs `f` on a pooled connection, on this thread.
    pub fn with<R>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> Result<R, StoreError> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = f(&conn).map_err(fast_error);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push(conn);
        }
        result
    }
}

fn fast_error(err: rusqlite::Error) -> StoreError {
    StoreError::Read(err.to_string())
}
