//! The `xl` server: command line, configuration, logging, and start-up and
//! shutdown of the HTTP server over the store and services.
//!
//! `main.rs` only parses arguments; everything else lives here so tests can
//! drive the same code.

mod cli;
pub mod config;
mod files;
mod secret;
mod telemetry;

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

pub use cli::{Cli, Command, MigrateCommand, TokenArgs};
pub use config::{Config, ConfigError, Sources};
use xl_domain::{DomainError, Email};
use xl_http::{AppState, HttpConfig};
use xl_llm::{
    ChatProvider, EchoConfig, EchoProvider, OPENAI_BASE_URL, OpenAiConfig, OpenAiProvider,
};
use xl_services::auth::oauth::{OAuthConfig, OAuthProviderConfig};
use xl_services::auth::{AuthConfig, Claims, JwtSigner};
use xl_services::{Services, ServicesConfig};
use xl_store::{Store, StoreConfig, StoreError};

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A setting is missing or bad.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An argument is bad.
    #[error(transparent)]
    Input(#[from] DomainError),
    /// The database failed.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The network or file system failed.
    #[error("{0}")]
    Io(String),
}

impl RunError {
    /// The process exit code: 2 for bad configuration or arguments, 1 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            RunError::Config(_) | RunError::Input(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

/// Runs one command to completion.
pub fn run(cli: Cli) -> Result<(), RunError> {
    let config = Config::load(&Sources::from_env()?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| RunError::Io(format!("cannot start the runtime: {err}")))?;
    // The span exporter's task is spawned on this runtime.
    let _runtime = runtime.enter();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let spans = telemetry::init(&config)?;
            runtime.block_on(spans.flushed_after(serve(config)))
        }
        Command::Migrate { command } => {
            let spans = telemetry::init(&config)?;
            runtime.block_on(spans.flushed_after(migrate(&config, command)))
        }
        Command::Backup { path } => backup(&config, &path),
        Command::Restore { path } => restore(&config, &path),
        Command::Token(args) => {
            let token = mint_token(&config, &args)?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn connect(config: &Config) -> Result<Store, RunError> {
    files::prepare(config)?;
    let mut store_config = StoreConfig::new(config.database_url.clone());
    store_config.max_connections = config.db_pool_size;
    store_config.synchronous = config.sqlite_synchronous;
    Ok(Store::connect(&store_config).await?)
}

/// Applies migrations, then serves until SIGINT or SIGTERM; in-flight
/// requests finish and the database is closed cleanly.
async fn serve(config: Config) -> Result<(), RunError> {
    if config.public_url.is_none() && !config.bind.ip().is_loopback() {
        // Links are never built from request headers, so without a public
        // URL they name the bound address, which browsers may not reach.
        tracing::warn!(
            bind = %config.bind,
            "XL_PUBLIC_URL is not set: OAuth redirect URIs and login return URLs use the bound address"
        );
    }
    let store = connect(&config).await?;
    store.migrate_up(None).await?;
    let jwt_secret = secret::jwt_secret(&config)?;
    let llm = provider(&config)?;
    // A file store that cannot be opened stops the start, naming the setting.
    let files = xl_services::files::FileStore::open(&config.file_store)
        .map_err(|err| RunError::Io(format!("FILE_STORE: {err}")))?;
    let services = Services::new(
        store.clone(),
        llm,
        ServicesConfig {
            default_model: config.default_ai_model.clone(),
            auto_completion_enabled: config.auto_completion_enabled,
            auth: auth_config(&config, jwt_secret),
            thread_retention: config.thread_retention,
            models: config.models.clone(),
            default_reply_mode: config.default_reply_mode,
            event_retention: config.event_retention,
            event_buffer: xl_services::events::DEFAULT_BUFFER,
            files: xl_services::files::FilesConfig {
                store: config.file_store.clone(),
                max_upload_bytes: config.max_upload_bytes,
                orphan_ttl: config.file_orphan_ttl,
            },
            limits: config.limits,
            conversation_retention: config.conversation_retention.clone(),
        },
    )
    .with_file_store(files);
    // Replies a previous run left `streaming` can no longer finish.
    services
        .recover_interrupted_replies()
        .await
        .map_err(|err| RunError::Io(format!("recovering interrupted replies: {err}")))?;
    // On PostgreSQL, what other replicas commit reaches this one's
    // followers at once.
    let relay = services
        .start_event_feed()
        .await
        .map_err(|err| RunError::Io(format!("listening for events: {err}")))?;
    let listener = TcpListener::bind(config.bind)
        .map_err(|err| RunError::Io(format!("cannot listen on {}: {err}", config.bind)))?;
    let address = listener
        .local_addr()
        .map_err(|err| RunError::Io(err.to_string()))?;
    let services = Arc::new(services);
    // Deleted threads past retention and expired idempotency keys go hourly.
    let janitor = {
        let services = Arc::clone(&services);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                if let Err(err) = services.housekeeping().await {
                    tracing::error!(error = %err, "housekeeping failed");
                }
            }
        })
    };
    let state = AppState {
        services,
        config: HttpConfig {
            max_json_bytes: config.max_json_bytes,
            workers: config.workers,
            shutdown_timeout: config.shutdown_timeout,
            auth_cookie_name: config.auth_cookie_name.clone(),
            login_url: config.auth_login_url.clone(),
            public_url: config.public_url.clone(),
            cors_origins: config.cors_origins.clone(),
            sse_keep_alive: HttpConfig::default().sse_keep_alive,
            metrics_token: config.metrics_token.clone(),
            request_head_timeout: config.request_head_timeout,
            keep_alive: HttpConfig::default().keep_alive,
        },
    };
    // Printed before the server answers anything, so whoever sees it
    // served has seen the link.
    if offers_sign_in_link(&config) {
        let secret = state
            .services
            .issue_sign_in_link(xl_services::auth::link::LINK_TTL);
        let base = config.public_url.as_deref().map_or_else(
            || format!("http://{address}"),
            |url| url.trim_end_matches('/').to_owned(),
        );
        // On stdout, not in the log: it is for the person at the terminal.
        println!(
            "\n  No sign-in method is configured, so here is a one-time link to the console\n  \
             (it works once, for 15 minutes; restart for a new one):\n\n    {base}/#login={secret}\n"
        );
    }
    let services = Arc::clone(&state.services);
    let server = xl_http::server(listener, state).map_err(|err| RunError::Io(err.to_string()))?;
    let handle = server.handle();
    let mut running = tokio::spawn(server);
    tracing::info!(%address, database = %redact(&config.database_url), "serving");
    tokio::select! {
        () = shutdown_signal() => {}
        served = &mut running => {
            // The server stopped on its own: a failure.
            let err = match served {
                Ok(Ok(())) => "the server stopped unexpectedly".to_owned(),
                Ok(Err(err)) => format!("server failed: {err}"),
                Err(err) => format!("server failed: {err}"),
            };
            return Err(RunError::Io(err));
        }
    }
    // No new connections from here on; requests in flight (a sync reply, a
    // follower's stream) finish within XL_SHUTDOWN_TIMEOUT, while replies in
    // progress get XL_SHUTDOWN_GRACE before the rest are marked failed.
    tracing::info!(
        grace_ms = config.shutdown_grace.as_millis(),
        "shutting down: no new requests"
    );
    let stopped = handle.stop(true);
    services.drain_replies(config.shutdown_grace).await;
    stopped.await;
    match running.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Err(RunError::Io(format!("server failed: {err}"))),
        Err(err) => return Err(RunError::Io(format!("server failed: {err}"))),
    }
    janitor.abort();
    drop(relay);
    tracing::info!("shutting down: closing the database");
    store.close().await?;
    tracing::info!("shutdown complete");
    Ok(())
}

/// Whether `xl serve` prints a one-time sign-in link, as Jupyter does: only
/// on a loopback address (so only someone on this machine can use it), and
/// only when no way to sign in is configured (no dev login, no OAuth
/// provider, no identity provider or login page of one's own) and no
/// domain allow-list says who may sign in.
fn offers_sign_in_link(config: &Config) -> bool {
    config.bind.ip().is_loopback()
        && !config.auth_dev_login
        && config.google.is_none()
        && config.github.is_none()
        && config.jwt_jwks_url.is_none()
        && config.auth_login_url.is_none()
        // The local administrator's address is in no allowed domain.
        && config.allowed_domains.is_empty()
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot watch for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot watch for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// The model provider: an OpenAI-compatible upstream when `OPENAI_API_KEY`
/// is set, otherwise the offline echo model, serving the registry's `echo`
/// models (so `GET /models` and unknown-model 404s tell the truth).
fn provider(config: &Config) -> Result<Arc<dyn ChatProvider>, RunError> {
    let Some(api_key) = &config.openai_api_key else {
        let models: Vec<String> = config
            .models
            .for_provider("echo")
            .map(|spec| spec.id.clone())
            .collect();
        tracing::info!(
            ?models,
            pace_ms = config.echo_pace.as_millis(),
            "model provider: the offline echo model (set OPENAI_API_KEY for a real one)"
        );
        return Ok(Arc::new(EchoProvider::new(EchoConfig {
            pace: config.echo_pace,
            models,
        })));
    };
    let base_url = config
        .openai_base_url
        .clone()
        .unwrap_or_else(|| OPENAI_BASE_URL.to_owned());
    let openai = OpenAiConfig {
        timeout: config.openai_timeout,
        max_retries: config.openai_max_retries,
        ..OpenAiConfig::new(api_key.clone(), base_url.clone())
    };
    let provider = OpenAiProvider::new(openai, xl_services::http_client())
        .map_err(|err| ConfigError {
            name: "OPENAI_API_KEY",
            reason: err.to_string(),
        })?
        .with_registry(Arc::new(config.models.clone()));
    tracing::info!(
        %base_url,
        timeout_s = config.openai_timeout.as_secs(),
        retries = config.openai_max_retries,
        "model provider: OpenAI-compatible"
    );
    Ok(Arc::new(provider))
}

fn auth_config(config: &Config, jwt_secret: String) -> AuthConfig {
    let provider = |client: &config::OAuthClient| OAuthProviderConfig {
        client_id: client.client_id.clone(),
        client_secret: client.client_secret.clone(),
        authorize_url: client.authorize_url.clone(),
        token_url: client.token_url.clone(),
        api_url: client.api_url.clone(),
    };
    let mut auth = AuthConfig::new(jwt_secret);
    auth.jwks_url = config.jwt_jwks_url.clone();
    auth.issuer = config.jwt_issuer.clone();
    auth.audience = config.jwt_audience.clone();
    auth.allowed_domains = config.allowed_domains.clone();
    auth.access_ttl = config.access_token_ttl;
    auth.refresh_ttl = config.refresh_token_ttl;
    auth.dev_login = config.auth_dev_login;
    auth.trust_org_claim = config.jwt_trust_org_claim;
    auth.trust_role_claim = config.jwt_trust_role_claim;
    auth.hs256_beside_jwks = config.jwt_accept_hs256;
    auth.max_token_lifetime = config.jwt_max_lifetime;
    auth.api_key_max_lifetime = config.api_key_max_lifetime;
    auth.api_key_max_per_user = config.api_key_max_per_user;
    auth.oauth = OAuthConfig {
        google: config.google.as_ref().map(provider),
        github: config.github.as_ref().map(provider),
        public_url: config.public_url.clone(),
    };
    auth
}

/// The directory of a local file store, if that is what `FILE_STORE` is.
fn local_file_store(config: &Config) -> Option<std::path::PathBuf> {
    config
        .file_store
        .strip_prefix("file://")
        .map(std::path::PathBuf::from)
}

/// Copies every file under `from` into `to` that `to` does not have yet
/// (stored content never changes: its name is its hash). Returns how many.
fn copy_missing(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<u64> {
    let mut copied = 0;
    if !from.is_dir() {
        return Ok(0);
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copied += copy_missing(&entry.path(), &target)?;
        } else if !target.exists() {
            std::fs::copy(entry.path(), &target)?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// `xl backup DIR`: the database first, then the files, so every file the
/// copy of the database names was there to be copied (unless deleted in
/// between, which leaves its row without content in the copy).
fn backup(config: &Config, dir: &std::path::Path) -> Result<(), RunError> {
    if dir.exists() {
        return Err(RunError::Io(format!(
            "{} exists; name a new directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|err| RunError::Io(format!("cannot create {}: {err}", dir.display())))?;
    let store_config = StoreConfig::new(config.database_url.clone());
    xl_store::backup::backup_sqlite(&store_config, &dir.join("xl.db"))?;
    println!("database: {}", dir.join("xl.db").display());
    match local_file_store(config) {
        Some(files) => {
            let copied = copy_missing(&files, &dir.join("files"))
                .map_err(|err| RunError::Io(format!("copying {}: {err}", files.display())))?;
            println!("files: {copied} from {}", files.display());
        }
        None => println!(
            "files: {} is not a local directory; copy the bucket with your S3 tools",
            config.file_store
        ),
    }
    Ok(())
}

/// `xl restore DIR`: the database replaced, the files added.
fn restore(config: &Config, dir: &std::path::Path) -> Result<(), RunError> {
    let store_config = StoreConfig::new(config.database_url.clone());
    xl_store::backup::restore_sqlite(&store_config, &dir.join("xl.db"))?;
    println!("database restored from {}", dir.join("xl.db").display());
    if let Some(files) = local_file_store(config) {
        let copied = copy_missing(&dir.join("files"), &files)
            .map_err(|err| RunError::Io(format!("copying into {}: {err}", files.display())))?;
        println!("files: {copied} added to {}", files.display());
    }
    Ok(())
}

async fn migrate(config: &Config, command: MigrateCommand) -> Result<(), RunError> {
    let store = connect(config).await?;
    match command {
        MigrateCommand::Up { steps } => store.migrate_up(steps).await?,
        MigrateCommand::Down { steps } => store.migrate_down(Some(steps)).await?,
        MigrateCommand::Fresh => store.migrate_fresh().await?,
        MigrateCommand::Status => {}
    }
    for migration in store.migration_status().await? {
        let state = if migration.applied {
            "applied"
        } else {
            "pending"
        };
        println!("{state:8} {}", migration.name);
    }
    store.close().await?;
    Ok(())
}

fn mint_token(config: &Config, args: &TokenArgs) -> Result<String, RunError> {
    let email = Email::parse(&args.email)?;
    let name = args.name.clone().unwrap_or_else(|| {
        email
            .as_str()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    let ttl =
        config::parse_duration(&args.ttl).map_err(|reason| DomainError::invalid("ttl", reason))?;
    let mut claims = Claims::for_user(&email, &name, args.role, ttl);
    claims.org = args.org.clone();
    claims.iss = config.jwt_issuer.clone();
    claims.aud = config.jwt_audience.clone().map(serde_json::Value::String);
    let secret = secret::jwt_secret(config)?;
    JwtSigner::new(secret.as_bytes())
        .sign(&claims)
        .map_err(|err| RunError::Io(err.to_string()))
}

/// Hides the password of a database URL for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Config, Sources, offers_sign_in_link, redact};

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars = vars
            .iter()
            .chain(&[("JWT_SECRET", "0123456789abcdef0123456789abcdef")])
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Config::load(&Sources::from_vars(vars).unwrap()).unwrap()
    }

    #[test]
    fn a_sign_in_link_is_offered_only_on_loopback_with_no_sign_in_configured() {
        assert!(offers_sign_in_link(&config(&[])));
        assert!(offers_sign_in_link(&config(&[("XL_BIND", "[::1]:8787")])));
        for vars in [
            &[("XL_BIND", "0.0.0.0:8787")][..],
            &[("AUTH_DEV_LOGIN", "true")],
            &[
                ("GOOGLE_CLIENT_ID", "id"),
                ("GOOGLE_CLIENT_SECRET", "secret"),
            ],
            &[("AUTH_LOGIN_URL", "https://login.example.com/")],
            &[("ALLOWED_DOMAINS", "example.com")],
        ] {
            assert!(!offers_sign_in_link(&config(vars)), "{vars:?}");
        }
    }

    #[test]
    fn database_passwords_are_not_logged() {
        assert_eq!(
            redact("postgres://xl:secret@db:5432/xl"),
            "postgres://xl:***@db:5432/xl"
        );
        assert_eq!(redact("sqlite://./data/xl.db"), "sqlite://./data/xl.db");
    }
}
