//! A group-committing writer for the hottest SQLite write (posting a
//! message), on rusqlite beside the sqlx writer.
//!
//! Through sqlx every statement is a round trip to the connection's worker
//! thread, and a post needed four (BEGIN, INSERT, UPDATE, COMMIT); profiling
//! showed the posting path spending most of its time switching threads.
//! Here one OS thread owns a connection; callers hand it jobs, and it runs
//! every job waiting at that moment inside one `BEGIN IMMEDIATE … COMMIT`,
//! each job in its own savepoint so one failure does not undo the others,
//! and answers each caller after the commit: nothing is acknowledged before
//! it is durable. The sqlx writer and this one serialise on SQLite's write
//! lock (with the busy timeout), so they never corrupt each other's work.
//! File databases only.

use std::any::Any;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use crate::StoreError;
use crate::store::Synchronous;

/// The most jobs committed together.
const MAX_BATCH: usize = 256;

type Output = Result<Box<dyn Any + Send>, rusqlite::Error>;
type Job = Box<dyn FnOnce(&Connection) -> Output + Send>;

struct Request {
    job: Job,
    reply: oneshot::Sender<Result<Box<dyn Any + Send>, StoreError>>,
}

/// A handle on the writer thread.
#[derive(Debug, Clone)]
pub struct FastWriter {
    sender: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Request")
    }
}

impl FastWriter {
    /// Opens the database file and starts the writer thread.
    pub fn start(
        path: PathBuf,
        synchronous: Synchronous,
        busy_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(write_error)?;
        conn.busy_timeout(busy_timeout).map_err(write_error)?;
        let sync = match synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
        ))
        .map_err(write_error)?;
        conn.set_prepared_statement_cache_capacity(64);
        let (sender, receiver) = mpsc::channel::<Request>();
        thread::Builder::new()
            .name("xl-sqlite-writer".into())
            .spawn(move || run(conn, receiver))
            .map_err(|err| {
                StoreError::Config(format!("cannot start the SQLite writer thread: {err}"))
            })?;
        Ok(FastWriter { sender })
    }

    /// Runs `job` in the next group commit and returns its result once the
    /// commit is durable.
    pub async fn write<T, F>(&self, job: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job =
            Box::new(move |tx| job(tx).map(|value| Box::new(value) as Box<dyn Any + Send>));
        self.sender
            .send(Request { job, reply })
            .map_err(|_| StoreError::Write("the SQLite writer thread has stopped".into()))?;
        let value = answer
            .await
            .map_err(|_| StoreError::Write("the SQLite writer thread dropped a job".into()))??;
        value
            .downcast::<T>()
            .map(|boxed| *boxed)
            .map_err(|_| StoreError::Write("a write job returned an unexpected type".into()))
    }
}

fn run(mut conn: Connection, receiver: mpsc::Receiver<Request>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch);
    }
}

fn commit_batch(conn: &mut Connection, batch: Vec<Request>) {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            let message = err.to_string();
            for request in batch {
                let _ = request.reply.send(Err(StoreError::Write(message.clone())));
            }
            return;
        }
    };
    let mut results = Vec::with_capacity(batch.len());
    for request in batch {
        let result = match tx.savepoint() {
            Ok(mut savepoint) => {
                let outcome = (request.job)(&savepoint);
                let finished = match &outcome {
                    Ok(_) => savepoint.commit(),
                    Err(_) => savepoint.rollback(),
                };
                match (outcome, finished) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Err(err), _) | (Ok(_), Err(err)) => Err(write_error(err)),
                }
            }
            Err(err) => Err(write_error(err)),
        };
        results.push((request.reply, result));
    }
    match tx.commit() {
        Ok(()) => {
            for (reply, result) in results {
                let _ = reply.send(result);
            }
        }
        Err(err) => {
            let message = err.to_string();
            for (reply, _) in results {
                let _ = reply.send(Err(StoreError::Write(message.clone())));
            }
        }
    }
}

fn write_error(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(code, _)
            if code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(err.to_string())
        }
        _ => StoreError::Write(err.to_string()),
    }
}
