//! Tests of the store that need its insides (the entities, raw SQL on its
//! connections): the boundary no driver type crosses, every entity against
//! the migrations, migrations on both backends, SQLite under concurrent
//! writers, full-text search, and the event feed on PostgreSQL.
//! Tests of the public interface alone live in `tests/store`.

mod boundary;
mod concurrency;
mod entities;
mod feed;
mod migrations;
mod search;
