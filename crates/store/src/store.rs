//! The connection layer: one [`Store`] over SQLite or PostgreSQL.
//!
//! On SQLite the store is the rusqlite engine of [`crate::sqlite`]: a pool
//! of read-only connections used inline, and one writer thread that runs
//! every write transaction of the process, group-committed. SQLite allows
//! one writer at a time anyway; queuing writers in-process (instead of
//! letting connections race for the file lock) means a write never fails
//! with "database is locked". On PostgreSQL one sqlx pool serves both roles,
//! and an [`EventFeed`] listens on a connection of its own.
//! Migrations run on the SQLite writer too, as sessions like any other
//! write (see `migrate.rs`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::StoreError;
use crate::db::{Db, Tx};
use crate::error::OrmResult;
use crate::feed::EventFeed;
use crate::sqlite::{Reader, Writer};

/// Which database the store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (or memory).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// SQLite's durability setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Durable across application crashes; a power loss may lose the last
    /// transactions but never corrupts the database (WAL default).
    #[default]
    Normal,
    /// Every commit is synced to disk before it is acknowledged.
    Full,
}

impl FromStr for Synchronous {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.to_ascii_uppercase().as_str() {
            "NORMAL" => Ok(Synchronous::Normal),
            "FULL" => Ok(Synchronous::Full),
            _ => Err("must be NORMAL or FULL".to_owned()),
        }
    }
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// `sqlite://path/to/file.db`, `sqlite::memory:` or `postgres://…`.
    pub url: String,
    /// Size of the read pool (SQLite) or of the whole pool (PostgreSQL).
    pub max_connections: u32,
    /// SQLite durability.
    pub synchronous: Synchronous,
    /// How long a SQLite connection waits for a lock held by another process.
    pub busy_timeout: Duration,
    /// How long a caller waits for a free pooled connection.
    pub acquire_timeout: Duration,
}

impl StoreConfig {
    /// Defaults suited to a small server.
    pub fn new(url: impl Into<String>) -> Self {
        StoreConfig {
            url: url.into(),
            max_connections: 8,
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
        }
    }

    /// Which backend the URL names.
    pub fn backend(&self) -> Result<Backend, StoreError> {
        if self.url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if self.url.starts_with("postgres://") || self.url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(
                "DATABASE_URL must start with sqlite: or postgres://".to_owned(),
            ))
        }
    }
}

/// A handle on the database. Cheap to clone: the engine inside is shared.
#[derive(Clone, Debug)]
pub struct Store {
    reader: Db,
    autocommit: Db,
    engine: Engine,
}

#[derive(Clone, Debug)]
enum Engine {
    Sqlite(Arc<Writer>),
    /// The pool, and the URL it connected to, where an [`EventFeed`]
    /// opens a connection of its own.
    Postgres(DatabaseConnection, Url),
}

/// A database URL, which may hold a password: not printed by `Debug`.
#[derive(Clone)]
struct Url(Arc<str>);

impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Url(..)")
    }
}

/// How long a pooled PostgreSQL connection may sit idle before it is checked
/// with a ping as it is handed out.
const POOL_PING_AFTER_IDLE: Duration = Duration::from_secs(30);

impl Store {
    /// Connects (creating the SQLite file and its directory if needed).
    /// Does not run migrations: see [`Store::migrate_up`].
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        match config.backend()? {
            Backend::Sqlite => connect_sqlite(config),
            Backend::Postgres => {
                let mut options = ConnectOptions::new(config.url.clone());
                options
                    .max_connections(config.max_connections.max(1))
                    .min_connections(1)
                    .acquire_timeout(config.acquire_timeout)
                    // sqlx pings every connection it hands out by default: a
                    // second round trip for every query. Only a connection
                    // idle long enough to have been dropped (by the server, a
                    // proxy or a firewall) is pinged; a hot one goes straight out.
                    .test_before_acquire_if_idle_for(POOL_PING_AFTER_IDLE)
                    .sqlx_logging(false);
                let pool = Database::connect(options).await.into_store()?;
                Ok(Store {
                    reader: Db::postgres(pool.clone()),
                    autocommit: Db::postgres(pool.clone()),
                    engine: Engine::Postgres(pool, Url(config.url.as_str().into())),
                })
            }
        }
    }

    /// A private, throwaway SQLite store with the schema applied, for tests,
    /// tools and embedders. It runs on the same engine as a file store (the
    /// database lives in a temporary directory, removed when the last handle
    /// is dropped), so what passes here passes in production.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let store = Store::connect(&StoreConfig::new("sqlite::memory:")).await?;
        store.migrate_up(None).await?;
        Ok(store)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        match self.engine {
            Engine::Sqlite(_) => Backend::Sqlite,
            Engine::Postgres(..) => Backend::Postgres,
        }
    }

    /// The connection for reads that need no transaction.
    pub fn reader(&self) -> &Db {
        &self.reader
    }

    /// A connection on which every statement is a transaction of its own,
    /// for tools and tests; services write through [`Store::begin_write`].
    pub fn writer(&self) -> &Db {
        &self.autocommit
    }

    /// Starts a write transaction: on SQLite a session of the writer thread
    /// (inside `BEGIN IMMEDIATE`), on PostgreSQL a pooled transaction.
    pub async fn begin_write(&self) -> Result<Tx, StoreError> {
        match &self.engine {
            Engine::Sqlite(writer) => writer.begin().map(Tx::sqlite).map_err(StoreError::Write),
            Engine::Postgres(pool, _) => Tx::postgres(pool).await,
        }
    }

    /// Listens to the events committed by every process on the database
    /// (this one included), on a connection of the feed's own; `None` on
    /// SQLite, where this process is the only writer.
    pub async fn listen_events(&self) -> Result<Option<EventFeed>, StoreError> {
        match &self.engine {
            Engine::Sqlite(_) => Ok(None),
            Engine::Postgres(_, Url(url)) => EventFeed::connect(url).await.map(Some),
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.reader.ping().await
    }

    /// A writer session of its own, for schema work on SQLite.
    pub(crate) fn sqlite_session(&self) -> Result<crate::sqlite::Session, StoreError> {
        match &self.engine {
            Engine::Sqlite(writer) => writer.begin().map_err(StoreError::Write),
            Engine::Postgres(..) => Err(StoreError::Config("not a SQLite store".into())),
        }
    }

    /// The PostgreSQL pool.
    pub(crate) fn pool(&self) -> Option<&DatabaseConnection> {
        match &self.engine {
            Engine::Postgres(pool, _) => Some(pool),
            Engine::Sqlite(_) => None,
        }
    }

    /// Finishes the writes under way, flushes the SQLite write-ahead log into
    /// the main file, and stops the writer thread. Call once, at shutdown;
    /// later writes fail.
    pub async fn close(self) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(writer) => {
                let writer = Arc::clone(writer);
                tokio::task::spawn_blocking(move || writer.close())
                    .await
                    .map_err(|err| StoreError::Write(format!("closing the writer: {err}")))?;
                Ok(())
            }
            Engine::Postgres(pool, _) => pool.close_by_ref().await.into_store(),
        }
    }
}

/// Where a `sqlite:` URL points.
pub(crate) fn sqlite_path(url: &str) -> Result<Option<PathBuf>, StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return Ok(None);
    }
    let path = path.strip_prefix("file:").unwrap_or(path);
    if path.is_empty() {
        return Err(StoreError::Config(
            "DATABASE_URL names no SQLite file".into(),
        ));
    }
    Ok(Some(PathBuf::from(path)))
}

fn connect_sqlite(config: &StoreConfig) -> Result<Store, StoreError> {
    let (path, scratch) = match sqlite_path(&config.url)? {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|err| {
                    StoreError::Config(format!("cannot create {}: {err}", display(dir)))
                })?;
            }
            (path, None)
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("xl-memory-")
                .tempdir()
                .map_err(|err| {
                    StoreError::Config(format!("cannot make a scratch database: {err}"))
                })?;
            (dir.path().join("xl.db"), Some(dir))
        }
    };
    let writer = Writer::start(&path, config.synchronous, config.busy_timeout, scratch)
        .map_err(|err| StoreError::Config(format!("cannot open {}: {err}", display(&path))))?;
    let writer = Arc::new(writer);
    let reader = Reader::new(
        path,
        config.busy_timeout,
        usize::try_from(config.max_connections).unwrap_or(8),
    );
    Ok(Store {
        reader: Db::sqlite(Arc::new(reader)),
        autocommit: Db::sqlite_autocommit(Arc::clone(&writer)),
        engine: Engine::Sqlite(writer),
    })
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file_or_memory() {
        let path = |url: &str| sqlite_path(url).ok().flatten();
        assert_eq!(
            path("sqlite://data/xl.db"),
            Some(PathBuf::from("data/xl.db"))
        );
        assert_eq!(
            path("sqlite:///tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(path("sqlite:x.db"), Some(PathBuf::from("x.db")));
        assert_eq!(path("sqlite::memory:"), None);
        assert_eq!(path("sqlite:file:xl?mode=memory&cache=shared"), None);
    }
}
