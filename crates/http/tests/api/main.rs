//! HTTP tests of the API, against a real server on a free loopback port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analytics;
mod artifacts;
mod assistant;
mod audit;
mod auth;
mod completions;
mod console;
mod files;
mod helpers;
mod interactive;
mod limits;
mod live;
mod metrics;
// The mock OpenAI upstream of xl-llm's tests, shared rather than copied.
#[allow(dead_code)]
#[path = "../../../llm/tests/openai/mock.rs"]
mod mock_upstream;
mod oauth;
mod openapi;
mod preferences;
mod reactions;
mod responses;
mod robustness;
mod search;
mod security;
mod threads;
mod usage;
mod users;
mod wire;
mod ws;
