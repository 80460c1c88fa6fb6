//! Integration tests of the store through its public interface: paging
//! branches and usage roll-ups, on SQLite and PostgreSQL. Tests that need the
//! store's insides are unit tests, in `src/tests`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod branches;
mod rate_buckets;
mod replies;
mod usage;
