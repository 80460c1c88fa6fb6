//! The write side of the SQLite engine: one OS thread owns the only writing
//! connection, and every write transaction of the process runs on it.
//!
//! A caller opens a *session* ([`Writer::begin`]) and sends it statements one
//! at a time, awaiting each answer, so a session reads what it wrote and can
//! decide its next statement from it (read-then-write). The thread runs the
//! sessions one after another inside a single `BEGIN IMMEDIATE … COMMIT`,
//! each in a savepoint of its own so a failure or a rollback undoes only that
//! session, and keeps adding sessions while more are waiting (group commit).
//! A session's commit is acknowledged only after the enclosing COMMIT, so
//! nothing is acknowledged before it is durable, and no two writers ever
//! contend for SQLite's lock: a burst of posts and a streamed reply queue
//! here, in-process, instead of failing with "database is locked".

use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sea_orm::ProxyRow;
use sea_orm::sea_query::Value;
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::values;
use crate::store::Synchronous;

/// The most sessions committed together.
const MAX_BATCH: usize = 256;

/// How long a session may leave the writer waiting for its next statement
/// before it is rolled back, so a stalled caller cannot stop every writer.
const SESSION_IDLE_LIMIT: Duration = Duration::from_secs(30);

/// What a session asks of the writer.
pub(crate) enum Op {
    /// A statement whose rows are wanted (`SELECT`, or a write with `RETURNING`).
    Query {
        sql: String,
        values: Vec<Value>,
        reply: oneshot::Sender<Result<Vec<ProxyRow>, String>>,
    },
    /// A statement whose changed-row count is wanted.
    Execute {
        sql: String,
        values: Vec<Value>,
        reply: oneshot::Sender<Result<u64, String>>,
        /// Sent ahead: nobody waits for the answer, so if the statement
        /// fails the session may not commit.
        ahead: bool,
    },
    /// Statements run one after another in one visit to the writer, each
    /// step's rows kept; the chain stops at a step marked `needs_rows` that
    /// returns none (its guard failed). A failed chain poisons its session:
    /// its commit fails and keeps nothing.
    Chain {
        steps: Vec<Step>,
        reply: oneshot::Sender<Result<Vec<Vec<ProxyRow>>, String>>,
    },
    /// Statements without parameters, run as a batch.
    Batch {
        sql: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The end of the session: release its savepoint, and answer once the
    /// enclosing transaction has committed.
    Commit {
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// One statement of an [`Op::Chain`].
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) sql: String,
    pub(crate) values: Vec<Value>,
    /// Whether the chain goes on only if this statement returns rows.
    pub(crate) needs_rows: bool,
}

enum Request {
    Session(Receiver<Op>),
    Close,
}

/// A handle on the writer thread. Dropping the last one stops the thread.
#[derive(Debug)]
pub(crate) struct Writer {
    requests: Mutex<Option<Sender<Request>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Copies the log into the database file (stopped before the writer).
    checkpointer: Mutex<Option<Checkpointer>>,
    /// For a throwaway store: the directory holding the database, removed
    /// after the thread has closed its connection.
    scratch: Mutex<Option<tempfile::TempDir>>,
}

/// One write session: statements sent here run in the session's savepoint.
/// Dropping it without committing rolls the session back.
///
/// The writer hears of a session only with its first statement, so a
/// session always arrives under way and can join the group being committed
/// (a session still preparing its first statement would hold the group up).
#[derive(Debug)]
pub(crate) struct Session {
    ops: Sender<Op>,
    /// Until the first statement: the writer's queue, and this session's end
    /// of its statement channel, to hand over together.
    unannounced: Mutex<Option<(Sender<Request>, Receiver<Op>)>>,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Query { .. } => "Query",
            Op::Execute { .. } => "Execute",
            Op::Chain { .. } => "Chain",
            Op::Batch { .. } => "Batch",
            Op::Commit { .. } => "Commit",
        })
    }
}

const STOPPED: &str = "the SQLite writer has stopped";

impl Writer {
    /// Opens (creating if needed) the database file and starts the thread.
    pub(crate) fn start(
        path: &Path,
        synchronous: Synchronous,
        busy_timeout: Duration,
        scratch: Option<tempfile::TempDir>,
    ) -> rusqlite::Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(busy_timeout)?;
        let sync = match synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        };
        // journal_mode answers with a row, so it is read rather than executed.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
             PRAGMA wal_autocheckpoint = 0;"
        ))?;
        let checkpointer = Checkpointer::start(path)?;
        super::tune(&conn)?;
        let (requests, receiver) = mpsc::channel::<Request>();
        let thread = thread::Builder::new()
            .name("xl-sqlite-writer".into())
            .spawn(move || run(conn, receiver))
            .map_err(|err| {
                rusqlite::Error::ToSqlConversionFailure(
                    format!("cannot start the SQLite writer thread: {err}").into(),
                )
            })?;
        Ok(Writer {
            requests: Mutex::new(Some(requests)),
            thread: Mutex::new(Some(thread)),
            checkpointer: Mutex::new(Some(checkpointer)),
            scratch: Mutex::new(scratch),
        })
    }

    /// Opens a session; its statements run when the writer reaches it.
    pub(crate) fn begin(&self) -> Result<Session, String> {
        let (ops, receiver) = mpsc::channel();
        let guard = self.requests.lock().map_err(|_| STOPPED.to_owned())?;
        let requests = guard.as_ref().ok_or_else(|| STOPPED.to_owned())?.clone();
        Ok(Session {
            ops,
            unannounced: Mutex::new(Some((requests, receiver))),
        })
    }

    /// Finishes the sessions already queued, checkpoints the write-ahead log
    /// into the main file, closes the connection and joins the thread.
    pub(crate) fn close(&self) {
        // The writer truncates the log as it closes; no checkpoint may race it.
        if let Some(mut checkpointer) = self.checkpointer.lock().ok().and_then(|mut c| c.take()) {
            checkpointer.stop();
        }
        if let Ok(mut guard) = self.requests.lock()
            && let Some(requests) = guard.take()
        {
            let _ = requests.send(Request::Close);
        }
        let thread = self.thread.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        if let Some(scratch) = self.scratch.lock().ok().and_then(|mut s| s.take()) {
            let _ = scratch.close();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

impl Session {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Op,
    ) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        self.send(make(reply))?;
        answer.await.map_err(|_| STOPPED.to_owned())?
    }

    /// Queues an operation, announcing the session with its first.
    fn send(&self, op: Op) -> Result<(), String> {
        self.ops.send(op).map_err(|_| STOPPED.to_owned())?;
        let unannounced = self
            .unannounced
            .lock()
            .map_err(|_| STOPPED.to_owned())?
            .take();
        if let Some((requests, receiver)) = unannounced {
            requests
                .send(Request::Session(receiver))
                .map_err(|_| STOPPED.to_owned())?;
        }
        Ok(())
    }

    /// Whether the session has sent nothing (so there is nothing to commit).
    fn is_unannounced(&self) -> bool {
        self.unannounced
            .lock()
            .map(|guard| guard.is_some())
            .unwrap_or(false)
    }

    /// The rows of a statement, run in this session.
    pub(crate) async fn query(
        &self,
        sql: String,
        values: Vec<Value>,
    ) -> Result<Vec<ProxyRow>, String> {
        self.ask(|reply| Op::Query { sql, values, reply }).await
    }

    /// Runs a statement in this session, giving the rows it changed.
    pub(crate) async fn execute(&self, sql: String, values: Vec<Value>) -> Result<u64, String> {
        self.ask(|reply| Op::Execute {
            sql,
            values,
            reply,
            ahead: false,
        })
        .await
    }

    /// Queues a statement without waiting for it: the writer runs it before
    /// the session's next, so a write whose answer nothing depends on (an
    /// event row) costs no wait of its own. If it fails, the session's
    /// commit fails and nothing of the session is kept.
    pub(crate) fn execute_ahead(&self, sql: String, values: Vec<Value>) -> Result<(), String> {
        let (reply, _unread) = oneshot::channel();
        self.send(Op::Execute {
            sql,
            values,
            reply,
            ahead: true,
        })
    }

    /// Runs a chain of statements in this session in one visit.
    pub(crate) async fn chain(&self, steps: Vec<Step>) -> Result<Vec<Vec<ProxyRow>>, String> {
        self.ask(|reply| Op::Chain { steps, reply }).await
    }

    /// Runs a chain and commits the session, the commit queued behind the
    /// chain so the writer goes straight from one to the other. A chain that
    /// fails leaves nothing to commit (see [`Op::Chain`]).
    pub(crate) async fn chain_then_commit(
        &self,
        steps: Vec<Step>,
    ) -> Result<Vec<Vec<ProxyRow>>, String> {
        let (reply, answer) = oneshot::channel();
        self.send(Op::Chain { steps, reply })?;
        let (reply, committed) = oneshot::channel();
        self.send(Op::Commit { reply })?;
        let rows = answer.await.map_err(|_| STOPPED.to_owned())??;
        committed.await.map_err(|_| STOPPED.to_owned())??;
        Ok(rows)
    }

    /// Runs parameterless statements in this session.
    pub(crate) async fn batch(&self, sql: String) -> Result<(), String> {
        self.ask(|reply| Op::Batch { sql, reply }).await
    }

    /// Commits the session; answers once its writes are durable.
    pub(crate) async fn commit(&self) -> Result<(), String> {
        if self.is_unannounced() {
            return Ok(());
        }
        self.ask(|reply| Op::Commit { reply }).await
    }
}

fn run(conn: Connection, requests: Receiver<Request>) {
    // A session whose first statement was not ready when its turn came:
    // it opens the next group rather than hold up this one's commit.
    let mut next: Option<Receiver<Op>> = None;
    let mut closing = false;
    let mut search = SearchIndex::default();
    loop {
        let first = match next.take() {
            Some(session) => session,
            None if closing => break,
            None => match requests.recv() {
                Ok(Request::Session(session)) => session,
                Ok(Request::Close) | Err(_) => break,
            },
        };
        let begun = conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|err| err.to_string());
        let mut acknowledged = Vec::new();
        let mut session = Some((first, None));
        while let Some((ops, ready)) = session.take() {
            if let Some(reply) = run_session(&conn, &ops, ready, begun.as_ref().err()) {
                acknowledged.push(reply);
            }
            if acknowledged.len() >= MAX_BATCH || closing {
                break;
            }
            match requests.try_recv() {
                // A session joins the group only if it is already under way,
                // so a caller that stalls between begin and its first
                // statement never delays the commit of the others.
                Ok(Request::Session(waiting)) => match waiting.try_recv() {
                    Ok(op) => session = Some((waiting, Some(op))),
                    Err(_) => next = Some(waiting),
                },
                Ok(Request::Close) => closing = true,
                Err(_) => {}
            }
            if next.is_some() {
                break;
            }
        }
        let outcome = match &begun {
            Ok(()) => search
                .flush(&conn)
                .and_then(|()| conn.execute_batch("COMMIT"))
                .map_err(|err| err.to_string()),
            Err(err) => Err(err.clone()),
        };
        if outcome.is_err() && begun.is_ok() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for reply in acknowledged {
            let _ = reply.send(outcome.clone());
        }
    }
    // Sessions that arrive while closing find the channel gone and fail.
    drop(requests);
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    let _ = conn.close();
}

/// The search index's deferred writes (migration m0017): the triggers note
/// each written message, and the group's messages are indexed together just
/// before COMMIT, outside the sessions' savepoints, at each of which FTS5
/// would otherwise write its pending data to disk.
#[derive(Default)]
struct SearchIndex {
    /// The schema version last looked at, and whether it has the table of
    /// pending messages (not before m0017 is applied, as migrations run here).
    checked: Option<(i64, bool)>,
}

impl SearchIndex {
    fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let version: i64 = conn.query_row("PRAGMA schema_version", [], |row| row.get(0))?;
        let ready = match self.checked {
            Some((seen, ready)) if seen == version => ready,
            _ => {
                let ready = conn
                    .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1")?
                    .exists([migration::SQLITE_SEARCH_PENDING])?;
                self.checked = Some((version, ready));
                ready
            }
        };
        if ready {
            for sql in flush_statements() {
                conn.prepare_cached(sql)?.execute([])?;
            }
        }
        Ok(())
    }
}

/// [`migration::sqlite_search_flush`], built once.
fn flush_statements() -> &'static [String] {
    static STATEMENTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    STATEMENTS.get_or_init(migration::sqlite_search_flush)
}

/// Runs one session to its end inside the open transaction, starting with
/// `ready` when its first statement was already taken. Returns the reply to
/// send after COMMIT when the session committed.
fn run_session(
    conn: &Connection,
    ops: &Receiver<Op>,
    mut ready: Option<Op>,
    failed_begin: Option<&String>,
) -> Option<oneshot::Sender<Result<(), String>>> {
    let savepoint = match failed_begin {
        Some(err) => Err(err.clone()),
        None => conn
            .execute_batch("SAVEPOINT session")
            .map_err(|err| err.to_string()),
    };
    // The error of a statement sent ahead, which forbids the commit.
    let mut failed_ahead: Option<String> = None;
    loop {
        let op = match ready.take() {
            Some(op) => op,
            None => match ops.recv_timeout(SESSION_IDLE_LIMIT) {
                Ok(op) => op,
                // The caller dropped the session (a rollback), or stalled.
                Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Timeout) => {
                    if savepoint.is_ok() {
                        let _ = conn.execute_batch("ROLLBACK TO session; RELEASE session");
                    }
                    return None;
                }
            },
        };
        if let Err(err) = &savepoint {
            fail(op, err);
            continue;
        }
        match op {
            Op::Query { sql, values, reply } => {
                let result = conn
                    .prepare_cached(&sql)
                    .and_then(|mut statement| values::read_rows(&mut statement, &sql, &values));
                let _ = reply.send(result.map_err(|err| err.to_string()));
            }
            Op::Execute {
                sql,
                values,
                reply,
                ahead,
            } => {
                let result = conn
                    .prepare_cached(&sql)
                    .and_then(|mut statement| values::execute(&mut statement, &values))
                    .map_err(|err| err.to_string());
                if ahead && let Err(err) = &result {
                    failed_ahead.get_or_insert_with(|| err.clone());
                }
                let _ = reply.send(result);
            }
            Op::Chain { steps, reply } => {
                let mut results = Vec::with_capacity(steps.len());
                let mut outcome = Ok(());
                for step in steps {
                    match conn.prepare_cached(&step.sql).and_then(|mut statement| {
                        values::read_rows(&mut statement, &step.sql, &step.values)
                    }) {
                        Ok(rows) => {
                            let stop = step.needs_rows && rows.is_empty();
                            results.push(rows);
                            if stop {
                                break;
                            }
                        }
                        Err(err) => {
                            outcome = Err(err.to_string());
                            break;
                        }
                    }
                }
                // A chain is one write: half of it must never commit, even
                // when the commit was queued before its answer was read.
                if let Err(err) = &outcome {
                    failed_ahead.get_or_insert_with(|| err.clone());
                }
                let _ = reply.send(outcome.map(|()| results));
            }
            Op::Batch { sql, reply } => {
                let _ = reply.send(conn.execute_batch(&sql).map_err(|err| err.to_string()));
            }
            Op::Commit { reply } => {
                if let Some(err) = failed_ahead {
                    let _ = conn.execute_batch("ROLLBACK TO session; RELEASE session");
                    let _ = reply.send(Err(err));
                    return None;
                }
                return match conn.execute_batch("RELEASE session") {
                    Ok(()) => Some(reply),
                    Err(err) => {
                        let _ = conn.execute_batch("ROLLBACK TO session; RELEASE session");
                        let _ = reply.send(Err(err.to_string()));
                        None
                    }
                };
            }
        }
    }
}

fn fail(op: Op, err: &str) {
    let err = err.to_owned();
    match op {
        Op::Query { reply, .. } => drop(reply.send(Err(err))),
        Op::Execute { reply, .. } => drop(reply.send(Err(err))),
        Op::Chain { reply, .. } => drop(reply.send(Err(err))),
        Op::Batch { reply, .. } | Op::Commit { reply } => drop(reply.send(Err(err))),
    }
}
