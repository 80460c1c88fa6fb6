//! The connections repositories run on: [`Db`] for reads outside a
//! transaction and [`Tx`] for a write transaction, on either engine.
//!
//! Both are the store's own types. Repositories are generic over [`Conn`],
//! a sealed trait whose implementation hands sea-orm the engine underneath,
//! so every query is written once with sea-orm's query API and no type of
//! sea-orm, sqlx or rusqlite is part of this crate's public interface.
//! On SQLite a query is built for SQLite and run by rusqlite (reads on the
//! read pool, inline; writes on the writer thread); on PostgreSQL it runs on
//! sea-orm's sqlx-postgres pool.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    ProxyExecResult, QueryResult, RuntimeErr, Statement, TransactionTrait,
};

use crate::StoreError;
use crate::sqlite::{Reader, Session, Writer};

/// A connection for reads that need no transaction. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    inner: DbInner,
}

#[derive(Clone, Debug)]
enum DbInner {
    Sqlite(Arc<Reader>),
    /// Writes each statement in a writer session of its own.
    SqliteAutocommit(Arc<Writer>),
    Postgres(DatabaseConnection),
}

/// A write transaction. Commit it with [`Tx::commit`]; dropping it rolls it
/// back. On SQLite it is a session of the one writer thread, begun IMMEDIATE.
#[derive(Debug)]
pub struct Tx {
    inner: TxInner,
}

#[derive(Debug)]
enum TxInner {
    Sqlite(Session),
    Postgres(DatabaseTransaction),
}

/// Anything a repository can run a query on: a [`Db`] or a [`Tx`].
pub trait Conn: sealed::Engine {}

impl Conn for Db {}
impl Conn for Tx {}

pub(crate) mod sealed {
    /// Hands a repository the sea-orm connection underneath.
    pub trait Engine: sea_orm::ConnectionTrait {
        /// The SQLite read pool, where a read may decode rows itself.
        fn sqlite_reader(&self) -> Option<&crate::sqlite::Reader> {
            None
        }
        /// The SQLite writer session, where statements may be chained.
        fn sqlite_session(&self) -> Option<&crate::sqlite::Session> {
            None
        }
    }
    impl Engine for super::Db {
        fn sqlite_reader(&self) -> Option<&crate::sqlite::Reader> {
            match &self.inner {
                super::DbInner::Sqlite(reader) => Some(reader),
                _ => None,
            }
        }
    }
    impl Engine for super::Tx {
        fn sqlite_session(&self) -> Option<&crate::sqlite::Session> {
            match &self.inner {
                super::TxInner::Sqlite(session) => Some(session),
                super::TxInner::Postgres(_) => None,
            }
        }
    }
}

impl Db {
    pub(crate) fn sqlite(reader: Arc<Reader>) -> Self {
        Db {
            inner: DbInner::Sqlite(reader),
        }
    }

    pub(crate) fn sqlite_autocommit(writer: Arc<Writer>) -> Self {
        Db {
            inner: DbInner::SqliteAutocommit(writer),
        }
    }

    pub(crate) fn postgres(pool: DatabaseConnection) -> Self {
        Db {
            inner: DbInner::Postgres(pool),
        }
    }

    /// Checks that the database answers.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        match &self.inner {
            DbInner::Sqlite(reader) => reader.ping().map_err(|err| read_error(&err.to_string())),
            DbInner::SqliteAutocommit(_) => Ok(()),
            DbInner::Postgres(pool) => pool.ping().await.map_err(StoreError::from),
        }
    }
}

impl Tx {
    pub(crate) fn sqlite(session: Session) -> Self {
        Tx {
            inner: TxInner::Sqlite(session),
        }
    }

    pub(crate) async fn postgres(pool: &DatabaseConnection) -> Result<Self, StoreError> {
        Ok(Tx {
            inner: TxInner::Postgres(pool.begin().await?),
        })
    }

    /// Commits; returns once the writes are durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(session) => session.commit().await.map_err(|err| write_error(&err)),
            TxInner::Postgres(tx) => tx.commit().await.map_err(StoreError::from),
        }
    }
}

fn read_error(message: &str) -> StoreError {
    StoreError::from(DbErr::Query(RuntimeErr::Internal(message.to_owned())))
}

fn write_error(message: &str) -> StoreError {
    StoreError::from(DbErr::Exec(RuntimeErr::Internal(message.to_owned())))
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

fn autocommit(writer: &Writer) -> Result<Tx, DbErr> {
    writer
        .begin()
        .map(Tx::sqlite)
        .map_err(|err| DbErr::Exec(RuntimeErr::Internal(err)))
}

async fn finish(tx: Tx) -> Result<(), DbErr> {
    match tx.inner {
        TxInner::Sqlite(session) => session
            .commit()
            .await
            .map_err(|err| DbErr::Exec(RuntimeErr::Internal(err))),
        TxInner::Postgres(tx) => tx.commit().await,
    }
}

const READ_ONLY: &str = "a write outside a transaction: use Store::begin_write";

#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        match &self.inner {
            DbInner::Sqlite(_) | DbInner::SqliteAutocommit(_) => DbBackend::Sqlite,
            DbInner::Postgres(_) => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.inner {
            DbInner::Sqlite(_) => Err(DbErr::Exec(RuntimeErr::Internal(READ_ONLY.into()))),
            DbInner::SqliteAutocommit(writer) => {
                let tx = autocommit(writer)?;
                let result = tx.execute_raw(stmt).await?;
                finish(tx).await?;
                Ok(result)
            }
            DbInner::Postgres(pool) => pool.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.inner {
            DbInner::Sqlite(_) => Err(DbErr::Exec(RuntimeErr::Internal(READ_ONLY.into()))),
            DbInner::SqliteAutocommit(writer) => {
                let tx = autocommit(writer)?;
                let result = tx.execute_unprepared(sql).await?;
                finish(tx).await?;
                Ok(result)
            }
            DbInner::Postgres(pool) => pool.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.inner {
            DbInner::Sqlite(_) | DbInner::SqliteAutocommit(_) => {
                Ok(self.query_all_raw(stmt).await?.into_iter().next())
            }
            DbInner::Postgres(pool) => pool.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.inner {
            DbInner::SqliteAutocommit(writer) => {
                let tx = autocommit(writer)?;
                let rows = tx.query_all_raw(stmt).await?;
                finish(tx).await?;
                Ok(rows)
            }
            DbInner::Sqlite(reader) => {
                let (sql, values) = values(stmt);
                let rows = reader
                    .query(&sql, &values)
                    .map_err(|err| DbErr::Query(RuntimeErr::Internal(err.to_string())))?;
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }
            DbInner::Postgres(pool) => pool.query_all_raw(stmt).await,
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Tx {
    fn get_database_backend(&self) -> DbBackend {
        match &self.inner {
            TxInner::Sqlite(_) => DbBackend::Sqlite,
            TxInner::Postgres(_) => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match &self.inner {
            TxInner::Sqlite(session) => {
                let (sql, values) = values(stmt);
                let changed = session
                    .execute(sql, values)
                    .await
                    .map_err(|err| DbErr::Exec(RuntimeErr::Internal(err)))?;
                Ok(exec_result(changed))
            }
            TxInner::Postgres(tx) => tx.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match &self.inner {
            TxInner::Sqlite(session) => {
                session
                    .batch(sql.to_owned())
                    .await
                    .map_err(|err| DbErr::Exec(RuntimeErr::Internal(err)))?;
                Ok(exec_result(0))
            }
            TxInner::Postgres(tx) => tx.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match &self.inner {
            TxInner::Sqlite(_) => Ok(self.query_all_raw(stmt).await?.into_iter().next()),
            TxInner::Postgres(tx) => tx.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match &self.inner {
            TxInner::Sqlite(session) => {
                let (sql, values) = values(stmt);
                let rows = session
                    .query(sql, values)
                    .await
                    .map_err(|err| DbErr::Query(RuntimeErr::Internal(err)))?;
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }
            TxInner::Postgres(tx) => tx.query_all_raw(stmt).await,
        }
    }
}
