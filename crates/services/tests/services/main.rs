//! Service-level tests: the rules of the services, driven directly against
//! an in-memory SQLite store with the real migrations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod artifacts;
mod assistant;
mod conversations;
mod files;
mod live;
mod postgres;
mod replicas;
mod security;
mod support;
mod uploads;
