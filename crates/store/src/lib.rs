//! Persistence for Experience Layer: sea-orm entities, the connection layer
//! for SQLite and PostgreSQL, and repositories that speak domain types.
//!
//! Only this crate knows sea-orm entities. Callers hold a [`Store`] and use
//! its repositories; writes go through [`Store::write`] so that on SQLite they
//! run on the single writer connection inside `BEGIN IMMEDIATE`.

pub mod entity;
mod error;
pub mod fast;
pub mod fast_writer;
mod migrate;
pub mod repo;
mod store;
pub mod testing;

pub use error::StoreError;
pub use migrate::MigrationState;
pub use store::{Backend, Store, StoreConfig, Synchronous, Tx};
