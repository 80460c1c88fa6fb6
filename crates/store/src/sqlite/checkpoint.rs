//! Copies the write-ahead log back into the database file on a thread of its
//! own, so the writer never does.
//!
//! SQLite's automatic checkpoint runs inside the COMMIT that crosses 1,000
//! pages of log, on the committing connection: it writes the pages into the
//! main file and syncs both files. On the writer thread that stalled every
//! session queued behind that commit for as long as the disk took (the
//! writer was seen blocked on I/O under a burst of posts). The writer's
//! connection has automatic checkpoints off, and this thread runs a PASSIVE
//! checkpoint every [`INTERVAL`]: it never waits for the writer or the
//! readers, copies what no reader still needs, and once the whole log is
//! copied the writer starts the log over at its next commit.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How often the log is copied back.
const INTERVAL: Duration = Duration::from_millis(250);

/// The checkpoint thread. Stopping it (or dropping it) joins it.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`, which the writer has
    /// already opened in WAL mode.
    pub(crate) fn start(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("xl-sqlite-checkpoint".into())
            .spawn(move || {
                let mut failing = false;
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        Ok(()) => failing = false,
                        // Logged once per run of failures, not every interval.
                        Err(err) if !failing => {
                            failing = true;
                            tracing::warn!(error = %err, "checkpointing the SQLite log failed");
                        }
                        Err(_) => {}
                    }
                }
            })
            .map_err(|err| {
                rusqlite::Error::ToSqlConversionFailure(
                    format!("cannot start the SQLite checkpoint thread: {err}").into(),
                )
            })?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it (a checkpoint under way finishes).
    pub(crate) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn the_log_is_copied_into_the_database_file_without_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xl.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        writer
            .execute_batch(
                "PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (body TEXT); BEGIN; \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000) \
                 INSERT INTO t SELECT hex(randomblob(500)) FROM n; COMMIT;",
            )
            .unwrap();
        let main_file = || std::fs::metadata(&path).unwrap().len();
        // Everything is still in the log: the writer does not checkpoint.
        assert!(main_file() < 100_000, "{}", main_file());

        let mut checkpointer = Checkpointer::start(&path).unwrap();
        let started = Instant::now();
        while main_file() < 4_000_000 && started.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(main_file() >= 4_000_000, "{}", main_file());
        checkpointer.stop();
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 4000);
    }
}
