//! The connection layer: one [`Store`] over SQLite or PostgreSQL.
//!
//! On SQLite the store keeps a single writer connection beside a pool of
//! read-only connections. SQLite allows one writer at a time anyway; queuing
//! writers in-process on one connection (instead of letting several
//! connections race for the file lock) means a write never fails with
//! "database is locked", and every write transaction begins IMMEDIATE so a
//! read-then-write transaction cannot be refused halfway through.
//! On PostgreSQL both roles share one pool.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::StoreError;

/// A transaction on the writer connection. Commit it, or drop it to roll back.
pub type Tx = DatabaseTransaction;

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

/// A handle on the database. Cheap to clone: the pools inside are shared.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    writer: DatabaseConnection,
    reader: DatabaseConnection,
    /// For in-memory SQLite: an idle connection that keeps the shared
    /// database alive while pool connections come and go (a pool replaces a
    /// connection whose query was cancelled, and a private `:memory:`
    /// database would vanish with it).
    _anchor: Option<DatabaseConnection>,
    /// For SQLite files: the rusqlite read path of the hottest queries.
    fast: Option<std::sync::Arc<crate::fast::FastReader>>,
    /// For SQLite files: the group-commit writer of the hottest write.
    fast_writer: Option<crate::fast_writer::FastWriter>,
}

impl Store {
    /// Connects (creating the SQLite file and its directory if needed).
    /// Does not run migrations: see [`Store::migrate_up`].
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        match config.backend()? {
            Backend::Sqlite => connect_sqlite(config).await,
            Backend::Postgres => {
                let mut options = ConnectOptions::new(config.url.clone());
                options
                    .max_connections(config.max_connections.max(1))
                    .min_connections(1)
                    .acquire_timeout(config.acquire_timeout)
                    .sqlx_logging(false);
                let pool = Database::connect(options).await?;
                Ok(Store {
                    backend: Backend::Postgres,
                    writer: pool.clone(),
                    reader: pool,
                    _anchor: None,
                    fast: None,
                    fast_writer: None,
                })
            }
        }
    }

    /// An in-memory SQLite store with the schema applied, for tests and tools.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let store = Store::connect(&StoreConfig::new("sqlite::memory:")).await?;
        store.migrate_up(None).await?;
        Ok(store)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection for reads that need no transaction.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// The writer connection (for schema work; data writes use [`Store::begin_write`]).
    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// The rusqlite read path, for SQLite files.
    pub fn fast(&self) -> Option<&crate::fast::FastReader> {
        self.fast.as_deref()
    }

    /// The group-commit writer, for SQLite files.
    pub fn fast_writer(&self) -> Option<&crate::fast_writer::FastWriter> {
        self.fast_writer.as_ref()
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin_write(&self) -> Result<Tx, StoreError> {
        let options = match self.backend {
            Backend::Sqlite => TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            },
            Backend::Postgres => TransactionOptions::default(),
        };
        Ok(self.writer.begin_with_options(options).await?)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.reader.ping().await?)
    }

    /// Flushes the SQLite write-ahead log into the main file and closes every
    /// connection. Call once, at shutdown.
    pub async fn close(self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite && self._anchor.is_none() {
            self.writer
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?;
        }
        if let Some(anchor) = &self._anchor {
            anchor.close_by_ref().await?;
        }
        self.reader.close_by_ref().await?;
        self.writer.close_by_ref().await?;
        Ok(())
    }
}

async fn connect_sqlite(config: &StoreConfig) -> Result<Store, StoreError> {
    let in_memory = is_memory_url(&config.url);
    // Every store gets its own named, shared-cache memory database, so all of
    // its connections (and the anchor) see the same data.
    let url = if in_memory {
        format!(
            "sqlite:file:xl-memory-{}?mode=memory&cache=shared",
            uuid::Uuid::now_v7().simple()
        )
    } else {
        config.url.clone()
    };
    let base = SqliteConnectOptions::from_str(&url)
        .map_err(|err| StoreError::Config(format!("DATABASE_URL: {err}")))?;
    if !in_memory {
        let path = base.get_filename();
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| {
                StoreError::Config(format!("cannot create {}: {err}", display(dir)))
            })?;
        }
    }
    let synchronous = match config.synchronous {
        Synchronous::Normal => SqliteSynchronous::Normal,
        Synchronous::Full => SqliteSynchronous::Full,
    };
    let busy_timeout = config.busy_timeout;
    let tune = move |options: SqliteConnectOptions| {
        options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(busy_timeout)
            .pragma("temp_store", "memory")
            .statement_cache_capacity(256)
    };

    // The writer: exactly one connection, kept open for the life of the store.
    let anchor = if in_memory {
        let mut anchor_options = ConnectOptions::new(url.clone());
        anchor_options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(tune);
        Some(Database::connect(anchor_options).await?)
    } else {
        None
    };

    let mut writer_options = ConnectOptions::new(url.clone());
    writer_options
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(config.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(tune);
    let writer = Database::connect(writer_options).await?;

    if in_memory {
        // Each connection to `:memory:` is a database of its own, so reads
        // must share the writer's only connection.
        return Ok(Store {
            backend: Backend::Sqlite,
            reader: writer.clone(),
            writer,
            _anchor: anchor,
            fast: None,
            fast_writer: None,
        });
    }

    let mut reader_options = ConnectOptions::new(url);
    reader_options
        .max_connections(config.max_connections.max(1))
        .min_connections(1)
        .acquire_timeout(config.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |options| tune(options).read_only(true));
    let reader = Database::connect(reader_options).await?;
    let fast = crate::fast::FastReader::new(
        base.get_filename().to_path_buf(),
        config.busy_timeout,
        usize::try_from(config.max_connections).unwrap_or(8),
    );
    let fast_writer = crate::fast_writer::FastWriter::start(
        base.get_filename().to_path_buf(),
        config.synchronous,
        config.busy_timeout,
    )?;
    Ok(Store {
        backend: Backend::Sqlite,
        writer,
        reader,
        _anchor: None,
        fast: Some(std::sync::Arc::new(fast)),
        fast_writer: Some(fast_writer),
    })
}

fn is_memory_url(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
