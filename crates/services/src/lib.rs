//! Business logic of Experience Layer.
//!
//! Services take a [`Store`](xl_store::Store) and an `Arc<dyn ChatProvider>`,
//! speak domain types, and decide who may do what. They know no HTTP, so the
//! same rules hold for the server and for any Rust program that embeds them.

pub mod analytics;
pub mod artifacts;
pub mod assistant;
pub mod audit;
pub mod auth;
pub mod completions;
pub mod context;
mod embed;
mod error;
pub mod events;
pub mod feed;
pub mod files;
pub mod health;
pub mod idempotency;
pub mod interactive;
pub mod limits;
pub mod messages;
pub mod models;
pub mod preferences;
pub mod presence;
pub mod reactions;
pub mod responses;
pub mod search;
pub mod threads;
pub mod transfer;
pub mod usage;
pub mod users;

use std::sync::Arc;
use std::time::Instant;

use auth::{Auth, AuthConfig};
pub use embed::Person;
pub use error::ServiceError;
use xl_llm::{ChatProvider, ModelRegistry};
use xl_store::Store;

/// Settings the services need at run time.
#[derive(Clone, Debug)]
pub struct ServicesConfig {
    /// The model used when a request names none.
    pub default_model: String,
    /// Whether user messages get an automatic assistant reply.
    pub auto_completion_enabled: bool,
    /// Token issuing and checking.
    pub auth: AuthConfig,
    /// How long a deleted thread can be restored before it is purged.
    pub thread_retention: std::time::Duration,
    /// Context windows and prices of the models.
    pub models: ModelRegistry,
    /// How a post that starts an assistant reply is answered when the
    /// request does not say (`?reply=`).
    pub default_reply_mode: assistant::ReplyMode,
    /// How long thread events are kept; a client resuming from an older
    /// event gets a `reset`.
    pub event_retention: std::time::Duration,
    /// How many events a live listener may fall behind before it re-reads
    /// the log instead.
    pub event_buffer: usize,
    /// Uploads: where they are kept, how large, how long unattached.
    pub files: files::FilesConfig,
    /// Rate limits and budgets (none by default).
    pub limits: limits::LimitsConfig,
    /// How long conversations are kept after their last message (forever
    /// by default).
    pub conversation_retention: threads::ConversationRetention,
}

impl Default for ServicesConfig {
    /// Defaults with a random JWT secret: suitable for tests and tools.
    fn default() -> Self {
        ServicesConfig {
            default_model: "gpt-4o".to_owned(),
            auto_completion_enabled: true,
            auth: AuthConfig::new(auth::random_secret("test-secret-")),
            thread_retention: std::time::Duration::from_secs(30 * 86_400),
            models: ModelRegistry::with_defaults(),
            default_reply_mode: assistant::ReplyMode::Sync,
            event_retention: std::time::Duration::from_secs(7 * 86_400),
            event_buffer: events::DEFAULT_BUFFER,
            files: files::FilesConfig::default(),
            limits: limits::LimitsConfig::default(),
            conversation_retention: threads::ConversationRetention::default(),
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
    /// Context windows and prices of the known models.
    pub models: Arc<ModelRegistry>,
    /// Run-time settings, shared: `Services` is cloned into every live
    /// follower and background task, and the config holds the model
    /// registry and the auth settings (kilobytes a clone).
    pub config: Arc<ServicesConfig>,
    /// When the process started serving.
    pub started_at: Instant,
    /// Client for outbound HTTP (JWKS, OAuth providers).
    pub http: reqwest::Client,
    /// Live delivery of committed thread events.
    pub events: Arc<events::EventHub>,
    /// Where file bytes are kept.
    pub files: files::FileStore,
    /// Typing, presence and assistant status, in this process.
    presence: Arc<presence::Presence>,
    /// Rate-limit buckets and budget spends, in this process.
    limits: Arc<limits::Limiter>,
    auth: Arc<Auth>,
    /// The assistant replies this process is generating.
    generations: Arc<assistant::Generations>,
    /// Writes the text of every reply in progress, together.
    deltas: Arc<assistant::DeltaWriter>,
    /// The served models, cached (see [`models`]).
    catalog: Arc<models::ModelCatalog>,
    /// The runtime `new` was called on, where replies are generated: an
    /// HTTP worker's own runtime ends with the worker at shutdown, and a
    /// reply must outlive the request that started it.
    runtime: Option<tokio::runtime::Handle>,
}

impl Services {
    /// Bundles the parts.
    pub fn new(store: Store, llm: Arc<dyn ChatProvider>, config: ServicesConfig) -> Self {
        let http = http_client();
        let auth = Arc::new(Auth::new(config.auth.clone(), http.clone()));
        let models = Arc::new(config.models.clone());
        let events = Arc::new(events::EventHub::new(config.event_buffer));
        let config_limits = config.limits;
        // The server opens the store itself first (refusing a bad
        // `FILE_STORE` at start-up) and hands it over with `with_file_store`.
        let files = files::FileStore::open(&config.files.store).unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot open the file store; keeping files in memory");
            files::FileStore::memory()
        });
        let runtime = tokio::runtime::Handle::try_current().ok();
        let deltas = Arc::new(assistant::DeltaWriter::new(
            store.clone(),
            Arc::clone(&events),
            runtime.clone(),
        ));
        Services {
            store,
            llm,
            models,
            config: Arc::new(config),
            started_at: Instant::now(),
            http,
            events,
            files,
            presence: Arc::default(),
            limits: Arc::new(limits::Limiter::new(config_limits)),
            auth,
            generations: Arc::default(),
            deltas,
            catalog: Arc::default(),
            runtime,
        }
    }
}

impl Services {
    /// Runs a background task on the runtime `new` was called on (which
    /// outlives an HTTP worker's), or else on the current one.
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        match &self.runtime {
            Some(runtime) => drop(runtime.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
    }

    /// Keeps file bytes in this store instead of the one the config names.
    pub fn with_file_store(mut self, files: files::FileStore) -> Self {
        self.files = files;
        self
    }
}

/// An HTTP client for outbound calls, with rustls on the ring provider
/// (installed once per process; the first installer wins).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "building the HTTP client failed; using defaults");
            reqwest::Client::new()
        })
}
