//! Persistence for Experience Layer: sea-orm entities, the connection layer
//! for SQLite and PostgreSQL, and repositories that speak domain types.
//!
//! Only this crate knows sea-orm, sqlx and rusqlite. Callers hold a [`Store`]
//! and call its repositories with the store's own connection types: [`Db`]
//! for reads, [`Tx`] from [`Store::begin_write`] for writes, which on SQLite
//! run on the single writer thread inside `BEGIN IMMEDIATE`.

mod db;
pub mod entity;
mod error;
mod migrate;
pub mod repo;
mod sqlite;
mod store;
pub mod testing;

pub use db::{Conn, Db, Tx};
pub use error::StoreError;
pub use migrate::MigrationState;
pub use store::{Backend, Store, StoreConfig, Synchronous};
