//! The one error type of the store layer.
//!
//! sea-orm's `DbErr` stays inside the crate: [`DbError`] holds it opaquely,
//! and the conversion is crate-private ([`OrmResult::into_store`]) rather
//! than a public `From<DbErr>`, which would put sea-orm's type in the
//! crate's interface.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated. Services map it to 409 Conflict.
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    /// A row a statement depended on is gone. Returns 404 Not Found.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A stored value does not parse as its domain type. Returns 500.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The SQLite writer could not take or finish a transaction. Returns 500.
    #[error("sqlite write failed: {0}")]
    Write(String),
    /// The database URL or options are unusable. Stops start-up.
    #[error("invalid database configuration: {0}")]
    Config(String),
    /// Anything else the database reported. Returns 500 (cause logged, not sent).
    #[error(transparent)]
    Db(DbError),
}

/// An error the database reported. Its text and cause chain are the
/// driver's, for the log; its type is not, so no caller depends on it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DbError(DbErr);

impl StoreError {
    /// Whether this is a unique-constraint violation.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }

    /// Whether a row a foreign key points at was missing (a writer raced a
    /// delete).
    pub fn is_missing_reference(&self) -> bool {
        match self {
            StoreError::Db(DbError(err)) => {
                matches!(
                    err.sql_err(),
                    Some(SqlErr::ForeignKeyConstraintViolation(_))
                ) || err.to_string().contains("FOREIGN KEY constraint failed")
            }
            _ => false,
        }
    }

    /// The store's error for one of sea-orm's: a unique-constraint violation
    /// becomes [`StoreError::Conflict`], anything else [`StoreError::Db`].
    pub(crate) fn from_orm(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => StoreError::Conflict(detail),
            // The rusqlite engine reports SQLite's own message.
            _ => match &err {
                DbErr::Exec(RuntimeErr::Internal(message))
                | DbErr::Query(RuntimeErr::Internal(message))
                    if message.starts_with("UNIQUE constraint failed") =>
                {
                    StoreError::Conflict(message.clone())
                }
                _ => StoreError::Db(DbError(err)),
            },
        }
    }
}

/// A sea-orm result seen as the store's: `.one(db.orm()).await.into_store()?`.
pub(crate) trait OrmResult<T> {
    /// The result, its error turned into a [`StoreError`] by
    /// [`StoreError::from_orm`].
    fn into_store(self) -> Result<T, StoreError>;
}

impl<T> OrmResult<T> for Result<T, DbErr> {
    fn into_store(self) -> Result<T, StoreError> {
        self.map_err(StoreError::from_orm)
    }
}
