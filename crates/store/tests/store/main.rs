//! Integration tests of the store: migrations on both backends and SQLite
//! under concurrent writers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod branches;
mod concurrency;
mod entities;
mod migrations;
mod search;
mod usage;
