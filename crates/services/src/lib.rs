//! Business logic of Experience Layer.
//!
//! Services take a [`Store`](xl_store::Store) and an `Arc<dyn ChatProvider>`,
//! speak domain types, and decide who may do what. They know no HTTP, so the
//! same rules hold for the server and for any Rust program that embeds them.

pub mod auth;
mod error;
pub mod health;

use std::sync::Arc;
use std::time::Instant;

pub use error::ServiceError;
use xl_llm::ChatProvider;
use xl_store::Store;

/// Settings the services need at run time.
#[derive(Clone, Debug)]
pub struct ServicesConfig {
    /// The model used when a request names none.
    pub default_model: String,
    /// Whether user messages get an automatic assistant reply.
    pub auto_completion_enabled: bool,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            default_model: "gpt-4o".to_owned(),
            auto_completion_enabled: true,
        }
    }
}

/// Everything a request handler needs, built once at start-up.
#[derive(Clone, Debug)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// The model provider.
    pub llm: Arc<dyn ChatProvider>,
    /// Run-time settings.
    pub config: ServicesConfig,
    /// When the process started serving.
    pub started_at: Instant,
}

impl Services {
    /// Bundles the parts.
    pub fn new(store: Store, llm: Arc<dyn ChatProvider>, config: ServicesConfig) -> Self {
        Services {
            store,
            llm,
            config,
            started_at: Instant::now(),
        }
    }
}
