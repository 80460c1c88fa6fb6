//! The one error type of the store layer.

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
    Db(DbErr),
}

impl StoreError {
    /// Whether this is a unique-constraint violation.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }

    /// Whether a row a foreign key points at was missing (a writer raced a
    /// delete).
    pub fn is_missing_reference(&self) -> bool {
        match self {
            StoreError::Db(err) => {
                matches!(
                    err.sql_err(),
                    Some(SqlErr::ForeignKeyConstraintViolation(_))
                ) || err.to_string().contains("FOREIGN KEY constraint failed")
            }
            _ => false,
        }
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
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
                _ => StoreError::Db(err),
            },
        }
    }
}
