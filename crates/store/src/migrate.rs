//! Applies, rolls back and reports the schema migrations.
//!
//! On PostgreSQL sea-orm-migration's `Migrator` does it all on the pool. On
//! SQLite the migrations run on the writer thread like every other write:
//! each one's schema statements go through a sea-orm proxy connection into
//! one writer session, and the bookkeeping (the `seaql_migrations` table,
//! in the same shape sea-orm-migration keeps it) is done here, so there is no
//! second SQLite driver in the build. A migration and its bookkeeping row
//! commit together or not at all.

use std::sync::Arc;

use migration::{MigrationStatus, MigrationTrait, Migrator, MigratorTrait, SchemaManager};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ProxyDatabaseTrait,
    ProxyExecResult, ProxyRow, RuntimeErr, Statement, Value,
};

use crate::db::Engine;
use crate::error::OrmResult;
use crate::sqlite::Session;
use crate::{Backend, Store, StoreError};

/// One migration and whether it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's name.
    pub name: String,
    /// Whether it has been applied.
    pub applied: bool,
}

const BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS seaql_migrations \
     (version varchar NOT NULL PRIMARY KEY, applied_at bigint NOT NULL)";

impl Store {
    /// Applies pending migrations (all, or at most `steps`).
    pub async fn migrate_up(&self, steps: Option<u32>) -> Result<(), StoreError> {
        if let Some(pool) = self.postgres_pool() {
            return Migrator::up(pool, steps).await.into_store();
        }
        let applied = self.sqlite_applied().await?;
        let pending = Migrator::migrations()
            .into_iter()
            .filter(|m| !applied.contains(&m.name().to_owned()));
        for migration in pending.take(steps.map_or(usize::MAX, |n| n as usize)) {
            self.sqlite_step(&*migration, Direction::Up).await?;
        }
        Ok(())
    }

    /// Rolls back applied migrations (all, or the last `steps`).
    pub async fn migrate_down(&self, steps: Option<u32>) -> Result<(), StoreError> {
        if let Some(pool) = self.postgres_pool() {
            return Migrator::down(pool, steps).await.into_store();
        }
        let applied = self.sqlite_applied().await?;
        let mut done: Vec<_> = Migrator::migrations()
            .into_iter()
            .filter(|m| applied.contains(&m.name().to_owned()))
            .collect();
        done.reverse();
        for migration in done
            .into_iter()
            .take(steps.map_or(usize::MAX, |n| n as usize))
        {
            self.sqlite_step(&*migration, Direction::Down).await?;
        }
        Ok(())
    }

    /// Drops every table and applies all migrations again.
    pub async fn migrate_fresh(&self) -> Result<(), StoreError> {
        if let Some(pool) = self.postgres_pool() {
            return Migrator::fresh(pool).await.into_store();
        }
        self.migrate_down(None).await?;
        self.migrate_up(None).await
    }

    /// Every known migration, in order, with whether it is applied.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        if let Some(pool) = self.postgres_pool() {
            let migrations = Migrator::get_migration_with_status(pool)
                .await
                .into_store()?;
            return Ok(migrations
                .iter()
                .map(|migration| MigrationState {
                    name: migration.name().to_owned(),
                    applied: migration.status() == MigrationStatus::Applied,
                })
                .collect());
        }
        let applied = self.sqlite_applied().await?;
        Ok(Migrator::migrations()
            .iter()
            .map(|migration| MigrationState {
                name: migration.name().to_owned(),
                applied: applied.contains(&migration.name().to_owned()),
            })
            .collect())
    }

    /// The names of the applied migrations, creating the bookkeeping table
    /// on first use.
    async fn sqlite_applied(&self) -> Result<Vec<String>, StoreError> {
        let tx = self.begin_write().await?;
        tx.orm()
            .execute_unprepared(BOOKKEEPING)
            .await
            .into_store()?;
        let rows = tx
            .orm()
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT version FROM seaql_migrations ORDER BY version",
            ))
            .await
            .into_store()?;
        tx.commit().await?;
        rows.iter()
            .map(|row| row.try_get::<String>("", "version").into_store())
            .collect()
    }

    /// Runs one migration and its bookkeeping in one writer session.
    async fn sqlite_step(
        &self,
        migration: &dyn MigrationTrait,
        direction: Direction,
    ) -> Result<(), StoreError> {
        let session = Arc::new(self.sqlite_session()?);
        let proxy: Arc<Box<dyn ProxyDatabaseTrait>> =
            Arc::new(Box::new(SchemaSession(Arc::clone(&session))));
        let db = Database::connect_proxy(DbBackend::Sqlite, proxy)
            .await
            .into_store()?;
        let name = migration.name().to_owned();
        {
            let manager = SchemaManager::new(&db);
            match direction {
                Direction::Up => {
                    migration.up(&manager).await.into_store()?;
                    let now = chrono::Utc::now().timestamp();
                    db.execute_raw(Statement::from_sql_and_values(
                        DbBackend::Sqlite,
                        "INSERT INTO seaql_migrations (version, applied_at) VALUES (?, ?)",
                        [Value::from(name.clone()), Value::from(now)],
                    ))
                    .await
                    .into_store()?;
                }
                Direction::Down => {
                    migration.down(&manager).await.into_store()?;
                    db.execute_raw(Statement::from_sql_and_values(
                        DbBackend::Sqlite,
                        "DELETE FROM seaql_migrations WHERE version = ?",
                        [Value::from(name.clone())],
                    ))
                    .await
                    .into_store()?;
                }
            }
        }
        drop(db);
        session
            .commit()
            .await
            .map_err(|err| StoreError::Write(format!("migration {name}: {err}")))?;
        tracing::debug!(migration = %name, ?direction, "migration applied");
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
enum Direction {
    Up,
    Down,
}

impl Store {
    fn postgres_pool(&self) -> Option<&DatabaseConnection> {
        match self.backend() {
            Backend::Postgres => self.pool(),
            Backend::Sqlite => None,
        }
    }
}

/// A writer session seen by sea-orm as a database, for schema work.
#[derive(Debug)]
struct SchemaSession(Arc<Session>);

fn exec_err(message: String) -> DbErr {
    DbErr::Exec(RuntimeErr::Internal(message))
}

#[async_trait::async_trait]
impl ProxyDatabaseTrait for SchemaSession {
    async fn query(&self, statement: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        let values = statement.values.map(|v| v.0).unwrap_or_default();
        self.0
            .query(statement.sql, values)
            .await
            .map_err(|err| DbErr::Query(RuntimeErr::Internal(err)))
    }

    async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
        let values = statement.values.map(|v| v.0).unwrap_or_default();
        // Raw migration SQL may hold several statements (triggers, FTS tables).
        if values.is_empty() {
            self.0.batch(statement.sql).await.map_err(exec_err)?;
            return Ok(ProxyExecResult::new(0, 0));
        }
        let changed = self
            .0
            .execute(statement.sql, values)
            .await
            .map_err(exec_err)?;
        Ok(ProxyExecResult::new(0, changed))
    }
}
