//! Persistence for Experience Layer: the connection layer for SQLite and
//! PostgreSQL, and repositories that speak domain types.
//!
//! Only this crate knows sea-orm, sqlx and rusqlite, and none of their types
//! is in its public interface. Callers hold a [`Store`] and call its
//! repositories with the store's own connection types: [`Db`] for reads,
//! [`Tx`] from [`Store::begin_write`] for writes, which on SQLite run on the
//! single writer thread inside `BEGIN IMMEDIATE`. Failures are
//! [`StoreError`]s; what the database itself reported is an opaque
//! [`DbError`]. The sea-orm entities are private to the crate.

pub mod backup;
mod db;
mod entity;
mod error;
mod feed;
mod migrate;
pub mod repo;
mod sqlite;
mod store;
pub mod testing;
#[cfg(test)]
mod tests;

pub use db::{Conn, Db, Tx};
pub use error::{DbError, StoreError};
pub use feed::{EventFeed, FeedItem};
pub use migrate::MigrationState;
pub use store::{Backend, Store, StoreConfig, Synchronous};
