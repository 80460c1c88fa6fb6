//! The connections repositories run on: [`Db`] for reads outside a
//! transaction and [`Tx`] for a write transaction, on either engine.
//!
//! Both are the store's own types, and neither is a sea-orm connection.
//! Repositories are generic over [`Conn`], whose supertrait `Engine` is
//! private to this crate and hands a repository the engine underneath
//! (`DbEngine`, `TxEngine`), which sea-orm runs queries on: a repository
//! writes `.one(db.orm())`. So every query is written once with sea-orm's
//! query API, and no type of sea-orm, sqlx or rusqlite is part of this
//! crate's public interface: other crates can neither name the engines nor
//! call `orm()`.
//! On SQLite a query is built for SQLite and run by rusqlite (reads on the
//! read pool, inline; writes on the writer thread); on PostgreSQL it runs on
//! sea-orm's sqlx-postgres pool.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    ProxyExecResult, QueryResult, RuntimeErr, Statement, TransactionTrait,
};

use crate::StoreError;
use crate::error::OrmResult;
use crate::sqlite::{Reader, Session, Writer};

/// A connection for reads that need no transaction. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    engine: DbEngine,
}

/// The engine under a [`Db`], and the connection sea-orm sees.
#[derive(Clone, Debug)]
pub(crate) enum DbEngine {
    Sqlite(Arc<Reader>),
    /// Writes each statement in a writer session of its own.
    SqliteAutocommit(Arc<Writer>),
    Postgres(DatabaseConnection),
}

/// A write transaction. Commit it with [`Tx::commit`]; dropping it rolls it
/// back. On SQLite it is a session of the one writer thread, begun IMMEDIATE.
#[derive(Debug)]
pub struct Tx {
    engine: TxEngine,
    _open: OpenWrite,
}

/// Counts a write transaction as open from its start until it commits or is
/// dropped, and times it: `xl_db_write_transactions_open` is the writer's
/// queue plus the one it runs (on SQLite), `xl_db_write_transaction_seconds`
/// how long each took from begin to end.
#[derive(Debug)]
struct OpenWrite {
    since: std::time::Instant,
}

impl OpenWrite {
    fn start() -> Self {
        metrics::gauge!("xl_db_write_transactions_open").increment(1);
        OpenWrite {
            since: std::time::Instant::now(),
        }
    }
}

impl Drop for OpenWrite {
    fn drop(&mut self) {
        metrics::gauge!("xl_db_write_transactions_open").decrement(1);
        metrics::histogram!("xl_db_write_transaction_seconds")
            .record(self.since.elapsed().as_secs_f64());
    }
}

/// The engine under a [`Tx`], and the connection sea-orm sees.
#[derive(Debug)]
pub(crate) enum TxEngine {
    Sqlite(Session),
    Postgres(DatabaseTransaction),
}

/// Anything a repository can run a query on: a [`Db`] or a [`Tx`].
///
/// Sealed: other crates cannot implement it, nor reach the engine behind it.
#[expect(
    private_bounds,
    reason = "the private supertrait seals `Conn` and keeps `orm()`, and with it sea-orm, inside the crate"
)]
pub trait Conn: Engine {}

impl Conn for Db {}
impl Conn for Tx {}

/// Hands a repository the engine underneath a connection.
pub(crate) trait Engine {
    /// The connection sea-orm runs this one's queries on.
    type Orm: ConnectionTrait;
    /// The engine, for sea-orm's executors: `.one(db.orm())`.
    fn orm(&self) -> &Self::Orm;
    /// The SQLite read pool, where a read may decode rows itself.
    fn sqlite_reader(&self) -> Option<&Reader> {
        None
    }
    /// The SQLite writer session, where statements may be chained.
    fn sqlite_session(&self) -> Option<&Session> {
        None
    }
}

impl Engine for Db {
    type Orm = DbEngine;

    fn orm(&self) -> &DbEngine {
        &self.engine
    }

    fn sqlite_reader(&self) -> Option<&Reader> {
        match &self.engine {
            DbEngine::Sqlite(reader) => Some(reader),
            _ => None,
        }
    }
}

impl Engine for Tx {
    type Orm = TxEngine;

    fn orm(&self) -> &TxEngine {
        &self.engine
    }

    fn sqlite_session(&self) -> Option<&Session> {
        match &self.engine {
            TxEngine::Sqlite(session) => Some(session),
            TxEngine::Postgres(_) => None,
        }
    }
}

impl Db {
    pub(crate) fn sqlite(reader: Arc<Reader>) -> Self {
        Db {
            engine: DbEngine::Sqlite(reader),
        }
    }

    pub(crate) fn sqlite_autocommit(writer: Arc<Writer>) -> Self {
        Db {
            engine: DbEngine::SqliteAutocommit(writer),
        }
    }

    pub(crate) fn postgres(pool: DatabaseConnection) -> Self {
        Db {
            engine: DbEngine::Postgres(pool),
        }
    }

    /// Checks that the database answers.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        match &self.engine {
            DbEngine::Sqlite(reader) => reader.ping().map_err(|err| read_error(&err.to_string())),
            DbEngine::SqliteAutocommit(_) => Ok(()),
            DbEngine::Postgres(pool) => pool.ping().await.into_store(),
        }
    }
}

impl Tx {
    pub(crate) fn sqlite(session: Session) -> Self {
        Tx {
            engine: TxEngine::Sqlite(session),
            _open: OpenWrite::start(),
        }
    }

    pub(crate) async fn postgres(pool: &DatabaseConnection) -> Result<Self, StoreError> {
        Ok(Tx {
            engine: TxEngine::Postgres(pool.begin().await.into_store()?),
            _open: OpenWrite::start(),
        })
    }

    /// Commits; returns once the writes are durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.engine {
            TxEngine::Sqlite(session) => session.commit().await.map_err(|err| write_error(&err)),
            TxEngine::Postgres(tx) => tx.commit().await.into_store(),
        }
    }
}

fn read_error(message: &str) -> StoreError {
    StoreError::from_orm(DbErr::Query(RuntimeErr::Internal(message.to_owned())))
}

fn write_error(message: &str) -> StoreError {
    StoreError::from_orm(DbErr::Exec(RuntimeErr::Internal(message.to_owned())))
}

fn exec_result(rows_affected: u64) -> ExecResult {
    ExecResult::from(ProxyExecResult::new(0, rows_affected))
}

fn values(stmt: Statement) -> (String, Vec<sea_orm::Value>) {
    (
        stmt.sql,
        stmt.values.map(|values| values.0).unwrap_or_default(),
    )
}

fn autocommit(writer: &Writer) -> Result<TxEngine, DbErr> {
    writer
        .begin()
        .map(TxEngine::Sqlite)
        .map_err(|err| DbErr::Exec(RuntimeErr::Internal(err)))
}

async fn finish(tx: TxEngine) -> Result<(), DbErr> {
    match tx {
        TxEngine::Sqlite(session) => session
            .commit()
            .await
            .map_err(|err| DbErr::Exec(RuntimeErr::Internal(err))),
        TxEngine::Postgres(tx) => tx.commit().await,
    }
}

const READ_ONLY: &str = "a write outside a transaction: use Store::begin_write";

#[async_trait::async_trait]
impl ConnectionTrait for DbEngine {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            DbEngine::Sqlite(_) | DbEngine::SqliteAutocommit(_) => DbBackend::Sqlite,
            DbEngine::Postgres(_) => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            DbEngine::Sqlite(_) => Err(DbErr::Exec(RuntimeErr::Internal(READ_ONLY.into()))),
            DbEngine::SqliteAutocommit(writer) => {
                let tx = autocommit(writer)?;
                let result = tx.execute_raw(stmt).await?;
                finish(tx).await?;
                Ok(result)
            }
            DbEngine::Postgres(pool) => pool.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            DbEngine::Sqlite(_) => Err(DbErr::Exec(RuntimeErr::Internal(READ_ONLY.into()))),
            DbEngine::SqliteAutocommit(writer) => {
                let tx = autocommit(writer)?;
                let result = tx.execute_unprepared(sql).await?;
                finish(tx).await?;
                Ok(result)
            }
            DbEngine::Postgres(pool) => pool.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            DbEngine::Sqlite(_) | DbEngine::SqliteAutocommit(_) => {
                Ok(self.query_all_raw(stmt).await?.into_iter().next())
            }
            DbEngine::Postgres(pool) => pool.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            DbEngine::SqliteAutocommit(writer) => {
                let tx = autocommit(writer)?;
                let rows = tx.query_all_raw(stmt).await?;
                finish(tx).await?;
                Ok(rows)
            }
            DbEngine::Sqlite(reader) => {
                let (sql, values) = values(stmt);
                let rows = reader
                    .query(&sql, &values)
                    .map_err(|err| DbErr::Query(RuntimeErr::Internal(err.to_string())))?;
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }
            DbEngine::Postgres(pool) => pool.query_all_raw(stmt).await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for TxEngine {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            TxEngine::Sqlite(_) => DbBackend::Sqlite,
            TxEngine::Postgres(_) => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            TxEngine::Sqlite(session) => {
                let (sql, values) = values(stmt);
                let changed = session
                    .execute(sql, values)
                    .await
                    .map_err(|err| DbErr::Exec(RuntimeErr::Internal(err)))?;
                Ok(exec_result(changed))
            }
            TxEngine::Postgres(tx) => tx.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            TxEngine::Sqlite(session) => {
                session
                    .batch(sql.to_owned())
                    .await
                    .map_err(|err| DbErr::Exec(RuntimeErr::Internal(err)))?;
                Ok(exec_result(0))
            }
            TxEngine::Postgres(tx) => tx.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            TxEngine::Sqlite(_) => Ok(self.query_all_raw(stmt).await?.into_iter().next()),
            TxEngine::Postgres(tx) => tx.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            TxEngine::Sqlite(session) => {
                let (sql, values) = values(stmt);
                let rows = session
                    .query(sql, values)
                    .await
                    .map_err(|err| DbErr::Query(RuntimeErr::Internal(err)))?;
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }
            TxEngine::Postgres(tx) => tx.query_all_raw(stmt).await,
        }
    }
}
