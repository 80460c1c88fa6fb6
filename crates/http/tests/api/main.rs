//! HTTP tests of the API, against a real server on a free loopback port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod helpers;
mod oauth;
mod preferences;
mod reactions;
mod search;
mod threads;
mod users;
mod wire;
