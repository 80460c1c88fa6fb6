//! HTTP tests of the API, against a real server on a free loopback port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod wire;
