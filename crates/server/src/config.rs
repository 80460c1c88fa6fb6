//! Configuration from the environment and an optional TOML file.
//!
//! Every setting has one name, used both as the environment variable and as
//! the key in the TOML file named by `XL_CONFIG`; the environment wins. A
//! missing or bad value is reported as one line naming the setting.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use xl_services::limits::{LimitsConfig, PerMinute};
use xl_store::Synchronous;

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid {name}: {reason}")]
pub struct ConfigError {
    /// The setting's name.
    pub name: &'static str,
    /// Why it was refused.
    pub reason: String,
}

impl ConfigError {
    fn new(name: &'static str, reason: impl Into<String>) -> Self {
        ConfigError {
            name,
            reason: reason.into(),
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Everything the server can be told.
#[derive(Clone, Debug)]
pub struct Config {
    /// `XL_BIND`: address to listen on.
    pub bind: SocketAddr,
    /// `XL_DATA_DIR`: where the default SQLite file and generated secret live.
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// `XL_DB_POOL_SIZE`: read pool (SQLite) or pool (PostgreSQL) size.
    pub db_pool_size: u32,
    /// `XL_SQLITE_SYNCHRONOUS`: NORMAL or FULL.
    pub sqlite_synchronous: Synchronous,
    /// `JWT_SECRET`: HS256 secret; generated and persisted when absent.
    pub jwt_secret: Option<String>,
    /// `JWT_JWKS_URL`: where RS256/ES256 keys are published.
    pub jwt_jwks_url: Option<String>,
    /// `ALLOWED_DOMAINS`: email domains allowed to sign in (empty: any).
    pub allowed_domains: Vec<String>,
    /// `AUTH_COOKIE_NAME`: cookie that carries the token in browsers.
    pub auth_cookie_name: String,
    /// `AUTH_LOGIN_URL`: where browsers without a session are sent.
    pub auth_login_url: Option<String>,
    /// `AUTH_DEV_LOGIN`: enables `POST /api/v1/auth/login` (email + name, no password).
    pub auth_dev_login: bool,
    /// `JWT_ISSUER`: required `iss` of tokens (and put in the ones issued here).
    pub jwt_issuer: Option<String>,
    /// `JWT_AUDIENCE`: required `aud` of tokens (and put in the ones issued here).
    pub jwt_audience: Option<String>,
    /// `JWT_TRUST_ORG_CLAIM`: whether an identity provider's `org` claim
    /// places a new user (default off).
    pub jwt_trust_org_claim: bool,
    /// `JWT_TRUST_ROLE_CLAIM`: whether an identity provider's `role` claim
    /// sets a new user's role (default off).
    pub jwt_trust_role_claim: bool,
    /// `JWT_ACCEPT_HS256`: with `JWT_JWKS_URL`, whether HS256 tokens that
    /// this server did not issue at sign-in (such as `xl token`'s) are
    /// accepted (default off).
    pub jwt_accept_hs256: bool,
    /// `JWT_MAX_LIFETIME`: the longest lifetime a token may claim (default 24h).
    pub jwt_max_lifetime: Duration,
    /// `API_KEY_MAX_LIFETIME`: the longest lifetime of an API key (default 90d).
    pub api_key_max_lifetime: Duration,
    /// `API_KEY_MAX_PER_USER`: live API keys one user may hold (default 20).
    pub api_key_max_per_user: u32,
    /// `ACCESS_TOKEN_TTL`: lifetime of access tokens issued at login/refresh.
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_TTL`: lifetime of refresh tokens.
    pub refresh_token_ttl: Duration,
    /// `XL_PUBLIC_URL`: the server's public base URL (OAuth redirect URIs).
    pub public_url: Option<String>,
    /// `GOOGLE_CLIENT_ID` … : Google sign-in, when configured.
    pub google: Option<OAuthClient>,
    /// `GITHUB_CLIENT_ID` … : GitHub sign-in, when configured.
    pub github: Option<OAuthClient>,
    /// `OPENAI_API_KEY`: enables the OpenAI-compatible provider.
    pub openai_api_key: Option<String>,
    /// `OPENAI_BASE_URL`: base URL of the OpenAI-compatible upstream.
    pub openai_base_url: Option<String>,
    /// `OPENAI_TIMEOUT`: how long one upstream call (or, streaming, the wait
    /// for its next event) may take.
    pub openai_timeout: Duration,
    /// `OPENAI_MAX_RETRIES`: retries after a 429, a 5xx or a failed
    /// connection, before the first byte only.
    pub openai_max_retries: u32,
    /// `ECHO_PACE_MS`: delay before each word the offline echo model streams.
    pub echo_pace: Duration,
    /// `XL_MODELS_FILE`: the model registry, the defaults overridden and
    /// extended by this TOML file when set.
    pub models: xl_llm::ModelRegistry,
    /// `DEFAULT_AI_MODEL`: model used when a request names none.
    pub default_ai_model: String,
    /// `AUTO_COMPLETION_ENABLED`: whether user messages get assistant replies.
    pub auto_completion_enabled: bool,
    /// `DEFAULT_REPLY_MODE`: `sync` or `stream`, for posts without `?reply=`.
    pub default_reply_mode: xl_services::assistant::ReplyMode,
    /// `FILE_STORE`: `file://…` or `s3://…`.
    pub file_store: String,
    /// `MAX_UPLOAD_BYTES`: largest upload accepted.
    pub max_upload_bytes: u64,
    /// `XL_MAX_JSON_BYTES`: largest JSON body accepted.
    pub max_json_bytes: usize,
    /// `CORS_ORIGINS`: origins allowed to call from browsers (`*` for any).
    pub cors_origins: Vec<String>,
    /// `XL_LOG_FORMAT`: text or json.
    pub log_format: LogFormat,
    /// `XL_LOG`: tracing filter, such as `info` or `xl_http=debug,info`.
    pub log_filter: String,
    /// `XL_WORKERS`: HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// `XL_SHUTDOWN_TIMEOUT`: grace period for in-flight requests at shutdown.
    pub shutdown_timeout: Duration,
    /// `XL_SHUTDOWN_GRACE`: how long replies being generated may take to
    /// finish at shutdown before they are marked failed.
    pub shutdown_grace: Duration,
    /// `XL_THREAD_RETENTION`: how long a deleted thread can be restored.
    pub thread_retention: Duration,
    /// `XL_EVENT_RETENTION`: how long thread events are kept for clients
    /// that resume (default 7 days).
    pub event_retention: Duration,
    /// `XL_FILE_ORPHAN_TTL`: how long an upload nobody attached is kept
    /// (default 1 day).
    pub file_orphan_ttl: Duration,
    /// Rate limits and budgets: `XL_RATE_LIMITS` (on), `RATE_LIMIT_*` and
    /// `ORG_RATE_LIMIT_*` (per minute: `READS`, `WRITES`, `MODEL`, `TOKENS`),
    /// `ORG_MONTHLY_BUDGET_USD`, `USER_MONTHLY_BUDGET_USD`.
    pub limits: xl_services::limits::LimitsConfig,
    /// `XL_CONVERSATION_RETENTION` (every org; `off`, the default, keeps
    /// conversations forever) and `XL_ORG_CONVERSATION_RETENTION`
    /// (`slug=90d,other=off`): how long a conversation is kept after its
    /// last message.
    pub conversation_retention: xl_services::threads::ConversationRetention,
    /// `XL_METRICS_TOKEN`: the bearer token `GET /metrics` asks for.
    pub metrics_token: Option<String>,
    /// `XL_REQUEST_HEAD_TIMEOUT`: how long a client may take to send a
    /// request's head (default 5 s).
    pub request_head_timeout: Duration,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
    /// and `OTEL_SERVICE_NAME`: where request spans are exported over
    /// OTLP/HTTP, if anywhere (off by default).
    pub otlp: Option<OtlpExport>,
}

/// OTLP trace export: where spans are posted and the service they name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpExport {
    /// The URL spans are posted to: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as
    /// given, or `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended.
    pub traces_endpoint: String,
    /// `OTEL_SERVICE_NAME`: the spans' `service.name` (default `xl`).
    pub service_name: String,
}

/// One OAuth provider's registration and endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthClient {
    /// `*_CLIENT_ID`.
    pub client_id: String,
    /// `*_CLIENT_SECRET`.
    pub client_secret: String,
    /// `*_AUTH_URL`.
    pub authorize_url: String,
    /// `*_TOKEN_URL`.
    pub token_url: String,
    /// `GOOGLE_USERINFO_URL` or `GITHUB_API_URL`.
    pub api_url: String,
}

/// Every setting name, for the TOML check and the documentation.
pub const SETTINGS: &[&str] = &[
    "XL_CONFIG",
    "XL_BIND",
    "XL_DATA_DIR",
    "DATABASE_URL",
    "XL_DB_POOL_SIZE",
    "XL_SQLITE_SYNCHRONOUS",
    "JWT_SECRET",
    "JWT_JWKS_URL",
    "ALLOWED_DOMAINS",
    "AUTH_COOKIE_NAME",
    "AUTH_LOGIN_URL",
    "AUTH_DEV_LOGIN",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_TRUST_ORG_CLAIM",
    "JWT_TRUST_ROLE_CLAIM",
    "JWT_ACCEPT_HS256",
    "JWT_MAX_LIFETIME",
    "API_KEY_MAX_LIFETIME",
    "API_KEY_MAX_PER_USER",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "XL_PUBLIC_URL",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_AUTH_URL",
    "GOOGLE_TOKEN_URL",
    "GOOGLE_USERINFO_URL",
    "GITHUB_CLIENT_ID",
    "GITHUB_CLIENT_SECRET",
    "GITHUB_AUTH_URL",
    "GITHUB_TOKEN_URL",
    "GITHUB_API_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_TIMEOUT",
    "OPENAI_MAX_RETRIES",
    "ECHO_PACE_MS",
    "XL_MODELS_FILE",
    "DEFAULT_AI_MODEL",
    "AUTO_COMPLETION_ENABLED",
    "DEFAULT_REPLY_MODE",
    "FILE_STORE",
    "MAX_UPLOAD_BYTES",
    "XL_FILE_ORPHAN_TTL",
    "XL_MAX_JSON_BYTES",
    "CORS_ORIGINS",
    "XL_LOG_FORMAT",
    "XL_LOG",
    "XL_WORKERS",
    "XL_SHUTDOWN_TIMEOUT",
    "XL_SHUTDOWN_GRACE",
    "XL_THREAD_RETENTION",
    "XL_EVENT_RETENTION",
    "XL_CONVERSATION_RETENTION",
    "XL_ORG_CONVERSATION_RETENTION",
    "XL_METRICS_TOKEN",
    "XL_REQUEST_HEAD_TIMEOUT",
    "XL_RATE_LIMITS",
    "RATE_LIMIT_READS",
    "RATE_LIMIT_WRITES",
    "RATE_LIMIT_MODEL",
    "RATE_LIMIT_TOKENS",
    "ORG_RATE_LIMIT_READS",
    "ORG_RATE_LIMIT_WRITES",
    "ORG_RATE_LIMIT_MODEL",
    "ORG_RATE_LIMIT_TOKENS",
    "ORG_MONTHLY_BUDGET_USD",
    "USER_MONTHLY_BUDGET_USD",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
];

/// Raw setting values, before parsing.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    values: HashMap<String, String>,
}

impl Sources {
    /// Reads the process environment and, if `XL_CONFIG` names one, the TOML file.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Builds sources from explicit variables (the TOML file, if named, is read).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = vars
            .into_iter()
            .filter(|(key, _)| SETTINGS.contains(&key.as_str()) || key == "RUST_LOG")
            .collect();
        let mut values = match env.get("XL_CONFIG") {
            Some(path) => read_toml(Path::new(path))?,
            None => HashMap::new(),
        };
        values.extend(env);
        Ok(Sources { values })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        ConfigError::new(
            "XL_CONFIG",
            format!("cannot read {}: {err}", path.display()),
        )
    })?;
    let table: toml::Table = text.parse().map_err(|err| {
        ConfigError::new(
            "XL_CONFIG",
            format!("{} is not valid TOML: {err}", path.display()),
        )
    })?;
    let mut values = HashMap::new();
    for (key, value) in table {
        let Some(name) = SETTINGS.iter().find(|name| **name == key) else {
            return Err(ConfigError::new(
                "XL_CONFIG",
                format!("unknown setting {key} in {}", path.display()),
            ));
        };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map_or_else(|| item.to_string(), str::to_owned)
                })
                .collect::<Vec<_>>()
                .join(","),
            other => {
                return Err(ConfigError::new(
                    "XL_CONFIG",
                    format!("{name} must be a string, number, boolean or list, not {other}"),
                ));
            }
        };
        values.insert(key, text);
    }
    Ok(values)
}

impl Config {
    /// Parses every setting, stopping at the first bad one.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let bind = match sources.get("XL_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8787)),
            Some(raw) => raw.parse().map_err(|_| {
                ConfigError::new(
                    "XL_BIND",
                    format!("{raw:?} is not host:port such as 127.0.0.1:8787"),
                )
            })?,
        };
        let data_dir = PathBuf::from(sources.get("XL_DATA_DIR").unwrap_or("./data"));
        let database_url = match sources.get("DATABASE_URL") {
            None => format!("sqlite://{}", data_dir.join("xl.db").display()),
            Some(raw) => {
                let ok = raw.starts_with("sqlite:")
                    || raw.starts_with("postgres://")
                    || raw.starts_with("postgresql://");
                if !ok {
                    return Err(ConfigError::new(
                        "DATABASE_URL",
                        "must start with sqlite: or postgres://",
                    ));
                }
                raw.to_owned()
            }
        };
        let db_pool_size = parse_number(sources, "XL_DB_POOL_SIZE", 8, 1, 256)?;
        let sqlite_synchronous = match sources.get("XL_SQLITE_SYNCHRONOUS") {
            None => Synchronous::Normal,
            Some(raw) => raw
                .parse()
                .map_err(|reason: String| ConfigError::new("XL_SQLITE_SYNCHRONOUS", reason))?,
        };
        let jwt_secret = match sources.get("JWT_SECRET") {
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "must be at least 32 bytes long",
                ));
            }
            other => other.map(str::to_owned),
        };
        let jwt_jwks_url = parse_http_url(sources, "JWT_JWKS_URL")?;
        let allowed_domains = parse_list(sources, "ALLOWED_DOMAINS")
            .into_iter()
            .map(|domain| {
                let domain = domain.to_ascii_lowercase();
                let valid = domain.contains('.')
                    && domain
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if valid {
                    Ok(domain)
                } else {
                    Err(ConfigError::new(
                        "ALLOWED_DOMAINS",
                        format!("{domain:?} is not a domain name"),
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let auth_cookie_name = sources
            .get("AUTH_COOKIE_NAME")
            .unwrap_or("rpotential_auth")
            .to_owned();
        if !auth_cookie_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError::new(
                "AUTH_COOKIE_NAME",
                "may contain only letters, digits, - and _",
            ));
        }
        let auth_login_url = parse_http_url(sources, "AUTH_LOGIN_URL")?;
        let auth_dev_login = parse_bool(sources, "AUTH_DEV_LOGIN", false)?;
        let jwt_issuer = sources.get("JWT_ISSUER").map(str::to_owned);
        let jwt_audience = sources.get("JWT_AUDIENCE").map(str::to_owned);
        if let Some(url) = &jwt_jwks_url {
            // RFC 8725: keys fetched in the clear could be replaced on the way.
            if !url.starts_with("https://") && !is_loopback_url(url) {
                return Err(ConfigError::new(
                    "JWT_JWKS_URL",
                    "must be an https:// URL (http:// only for a loopback address)",
                ));
            }
            if jwt_issuer.is_none() {
                return Err(ConfigError::new(
                    "JWT_ISSUER",
                    "is required with JWT_JWKS_URL: the identity provider's tokens must name it",
                ));
            }
            if jwt_audience.is_none() {
                return Err(ConfigError::new(
                    "JWT_AUDIENCE",
                    "is required with JWT_JWKS_URL: the identity provider's tokens must be meant for this server",
                ));
            }
        }
        let jwt_trust_org_claim = parse_bool(sources, "JWT_TRUST_ORG_CLAIM", false)?;
        let jwt_trust_role_claim = parse_bool(sources, "JWT_TRUST_ROLE_CLAIM", false)?;
        let jwt_accept_hs256 = parse_bool(sources, "JWT_ACCEPT_HS256", false)?;
        let jwt_max_lifetime = parse_ttl(sources, "JWT_MAX_LIFETIME", Duration::from_secs(86_400))?;
        let api_key_max_lifetime = parse_ttl(
            sources,
            "API_KEY_MAX_LIFETIME",
            Duration::from_secs(90 * 86_400),
        )?;
        if api_key_max_lifetime < Duration::from_secs(86_400) {
            return Err(ConfigError::new(
                "API_KEY_MAX_LIFETIME",
                "must be at least one day (1d)",
            ));
        }
        let api_key_max_per_user = parse_number(sources, "API_KEY_MAX_PER_USER", 20, 1, 10_000)?;
        let access_token_ttl =
            parse_ttl(sources, "ACCESS_TOKEN_TTL", Duration::from_secs(15 * 60))?;
        if access_token_ttl > jwt_max_lifetime {
            return Err(ConfigError::new(
                "ACCESS_TOKEN_TTL",
                "must not exceed JWT_MAX_LIFETIME, or the tokens issued here would be refused",
            ));
        }
        let refresh_token_ttl = parse_ttl(
            sources,
            "REFRESH_TOKEN_TTL",
            Duration::from_secs(30 * 86_400),
        )?;
        let public_url = parse_http_url(sources, "XL_PUBLIC_URL")?;
        let google = parse_oauth(
            sources,
            [
                "GOOGLE_CLIENT_ID",
                "GOOGLE_CLIENT_SECRET",
                "GOOGLE_AUTH_URL",
                "GOOGLE_TOKEN_URL",
                "GOOGLE_USERINFO_URL",
            ],
            [
                "https://accounts.google.com/o/oauth2/v2/auth",
                "https://oauth2.googleapis.com/token",
                "https://openidconnect.googleapis.com/v1/userinfo",
            ],
        )?;
        let github = parse_oauth(
            sources,
            [
                "GITHUB_CLIENT_ID",
                "GITHUB_CLIENT_SECRET",
                "GITHUB_AUTH_URL",
                "GITHUB_TOKEN_URL",
                "GITHUB_API_URL",
            ],
            [
                "https://github.com/login/oauth/authorize",
                "https://github.com/login/oauth/access_token",
                "https://api.github.com",
            ],
        )?;
        let openai_api_key = sources.get("OPENAI_API_KEY").map(str::to_owned);
        let openai_base_url = parse_http_url(sources, "OPENAI_BASE_URL")?;
        let openai_timeout = parse_ttl(sources, "OPENAI_TIMEOUT", Duration::from_secs(120))?;
        let openai_max_retries = parse_number(sources, "OPENAI_MAX_RETRIES", 2, 0, 10)?;
        let echo_pace =
            Duration::from_millis(parse_number(sources, "ECHO_PACE_MS", 20, 0, 60_000)?);
        let models = parse_models(sources)?;
        // Without a key the offline echo model answers, so it is the default.
        let default_model = if openai_api_key.is_some() {
            "gpt-4o"
        } else {
            "echo"
        };
        let default_ai_model = sources
            .get("DEFAULT_AI_MODEL")
            .unwrap_or(default_model)
            .to_owned();
        let auto_completion_enabled = parse_bool(sources, "AUTO_COMPLETION_ENABLED", true)?;
        let default_reply_mode = match sources.get("DEFAULT_REPLY_MODE") {
            None => xl_services::assistant::ReplyMode::default(),
            Some(raw) => raw
                .parse()
                .map_err(|_| ConfigError::new("DEFAULT_REPLY_MODE", "must be sync or stream"))?,
        };
        let file_store = match sources.get("FILE_STORE") {
            None => format!("file://{}", data_dir.join("files").display()),
            Some(raw) if raw.starts_with("file://") || raw.starts_with("s3://") => raw.to_owned(),
            Some(_) => {
                return Err(ConfigError::new(
                    "FILE_STORE",
                    "must start with file:// or s3://",
                ));
            }
        };
        let max_upload_bytes =
            parse_number(sources, "MAX_UPLOAD_BYTES", 100 * 1024 * 1024, 1, u64::MAX)?;
        let max_json_bytes =
            parse_number(sources, "XL_MAX_JSON_BYTES", 1024 * 1024, 1024, 1 << 30)?;
        let cors_origins = parse_list(sources, "CORS_ORIGINS");
        for origin in &cors_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(ConfigError::new(
                    "CORS_ORIGINS",
                    format!("{origin:?} must be * or start with http:// or https://"),
                ));
            }
        }
        let log_format = match sources.get("XL_LOG_FORMAT") {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("XL_LOG_FORMAT", "must be text or json")),
        };
        let log_filter = sources
            .get("XL_LOG")
            .or_else(|| sources.get("RUST_LOG"))
            .unwrap_or("info")
            .to_owned();
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&log_filter) {
            return Err(ConfigError::new(
                "XL_LOG",
                format!("{log_filter:?} is not a log filter: {err}"),
            ));
        }
        let workers = match sources.get("XL_WORKERS") {
            None => None,
            Some(_) => Some(parse_number(sources, "XL_WORKERS", 1, 1, 1024)?),
        };
        let shutdown_timeout = match sources.get("XL_SHUTDOWN_TIMEOUT") {
            None => Duration::from_secs(30),
            Some(raw) => parse_duration(raw)
                .map_err(|reason| ConfigError::new("XL_SHUTDOWN_TIMEOUT", reason))?,
        };
        let shutdown_grace = match sources.get("XL_SHUTDOWN_GRACE") {
            None => Duration::from_secs(30),
            Some(raw) => parse_duration(raw)
                .map_err(|reason| ConfigError::new("XL_SHUTDOWN_GRACE", reason))?,
        };
        let thread_retention = parse_ttl(
            sources,
            "XL_THREAD_RETENTION",
            Duration::from_secs(30 * 86_400),
        )?;
        let event_retention = parse_ttl(
            sources,
            "XL_EVENT_RETENTION",
            Duration::from_secs(7 * 86_400),
        )?;
        let file_orphan_ttl =
            parse_ttl(sources, "XL_FILE_ORPHAN_TTL", Duration::from_secs(86_400))?;
        let limits = parse_limits(sources)?;
        let conversation_retention = parse_conversation_retention(sources)?;
        let metrics_token = sources
            .get("XL_METRICS_TOKEN")
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(str::to_owned);
        Ok(Config {
            bind,
            data_dir,
            database_url,
            db_pool_size,
            sqlite_synchronous,
            jwt_secret,
            jwt_jwks_url,
            allowed_domains,
            auth_cookie_name,
            auth_login_url,
            auth_dev_login,
            jwt_issuer,
            jwt_audience,
            jwt_trust_org_claim,
            jwt_trust_role_claim,
            jwt_accept_hs256,
            jwt_max_lifetime,
            api_key_max_lifetime,
            api_key_max_per_user,
            access_token_ttl,
            refresh_token_ttl,
            public_url,
            google,
            github,
            openai_api_key,
            openai_base_url,
            openai_timeout,
            openai_max_retries,
            echo_pace,
            models,
            default_ai_model,
            auto_completion_enabled,
            default_reply_mode,
            file_store,
            max_upload_bytes,
            max_json_bytes,
            cors_origins,
            log_format,
            log_filter,
            workers,
            shutdown_timeout,
            shutdown_grace,
            thread_retention,
            event_retention,
            file_orphan_ttl,
            limits,
            conversation_retention,
            metrics_token,
            request_head_timeout: parse_ttl(
                sources,
                "XL_REQUEST_HEAD_TIMEOUT",
                Duration::from_secs(5),
            )?,
            otlp: parse_otlp(sources)?,
        })
    }
}

/// Requests per minute per user by default: generous for a person at a
/// client (a page load is a handful of reads), tight enough that one caller
/// cannot take a replica's capacity; an org gets ten users' worth.
const DEFAULT_PER_MINUTE: PerMinute = PerMinute {
    reads: 1200,
    writes: 300,
    model: 60,
    tokens: 0,
};
const ORG_MULTIPLE: u32 = 10;

/// The rate limits and budgets.
fn parse_limits(sources: &Sources) -> Result<LimitsConfig, ConfigError> {
    let per_minute = |prefix: &str, defaults: PerMinute| -> Result<PerMinute, ConfigError> {
        let field =
            |name: &'static str, default: u32| parse_number(sources, name, default, 0, 100_000_000);
        let names: [&'static str; 4] = match prefix {
            "ORG_" => [
                "ORG_RATE_LIMIT_READS",
                "ORG_RATE_LIMIT_WRITES",
                "ORG_RATE_LIMIT_MODEL",
                "ORG_RATE_LIMIT_TOKENS",
            ],
            _ => [
                "RATE_LIMIT_READS",
                "RATE_LIMIT_WRITES",
                "RATE_LIMIT_MODEL",
                "RATE_LIMIT_TOKENS",
            ],
        };
        Ok(PerMinute {
            reads: field(names[0], defaults.reads)?,
            writes: field(names[1], defaults.writes)?,
            model: field(names[2], defaults.model)?,
            tokens: field(names[3], defaults.tokens)?,
        })
    };
    // `on`, `off`, or `shared` (buckets in the database, for replicas on
    // one PostgreSQL).
    let (enabled, shared) = match sources.get("XL_RATE_LIMITS").map(str::trim) {
        Some(raw) if raw.eq_ignore_ascii_case("shared") => {
            let url = sources.get("DATABASE_URL").unwrap_or_default();
            if !url.starts_with("postgres") {
                return Err(ConfigError::new(
                    "XL_RATE_LIMITS",
                    "shared needs DATABASE_URL on PostgreSQL (on SQLite one process serves, so `on` is already exact)",
                ));
            }
            (true, true)
        }
        _ => (
            parse_bool(sources, "XL_RATE_LIMITS", true)
                .map_err(|_| ConfigError::new("XL_RATE_LIMITS", "must be on, off or shared"))?,
            false,
        ),
    };
    let (user, org) = if enabled {
        let user = per_minute("", DEFAULT_PER_MINUTE)?;
        let org_default = PerMinute {
            reads: user.reads.saturating_mul(ORG_MULTIPLE),
            writes: user.writes.saturating_mul(ORG_MULTIPLE),
            model: user.model.saturating_mul(ORG_MULTIPLE),
            tokens: user.tokens.saturating_mul(ORG_MULTIPLE),
        };
        (user, per_minute("ORG_", org_default)?)
    } else {
        (PerMinute::OFF, PerMinute::OFF)
    };
    Ok(LimitsConfig {
        user,
        org,
        org_monthly_budget_micros: parse_usd(sources, "ORG_MONTHLY_BUDGET_USD")?,
        user_monthly_budget_micros: parse_usd(sources, "USER_MONTHLY_BUDGET_USD")?,
        shared,
    })
}

/// An amount in US dollars (`25`, `12.50`) as micro-USD.
fn parse_usd(sources: &Sources, name: &'static str) -> Result<Option<i64>, ConfigError> {
    let Some(raw) = sources.get(name) else {
        return Ok(None);
    };
    let refused = || {
        ConfigError::new(
            name,
            format!("{raw:?} is not an amount in USD such as 25 or 12.50"),
        )
    };
    let (whole, fraction) = raw.trim().split_once('.').unwrap_or((raw.trim(), ""));
    if whole.is_empty() || fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused());
    }
    let whole: i64 = whole.parse().ok().filter(|n| *n >= 0).ok_or_else(refused)?;
    let fraction: i64 = format!("{fraction:0<6}").parse().map_err(|_| refused())?;
    whole
        .checked_mul(i64::try_from(xl_llm::MICRO_USD_PER_USD).unwrap_or(1_000_000))
        .and_then(|micros| micros.checked_add(fraction))
        .map(Some)
        .ok_or_else(refused)
}

fn parse_number<T>(
    sources: &Sources,
    name: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = sources.get(name) else {
        return Ok(default);
    };
    raw.parse::<T>()
        .ok()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| {
            ConfigError::new(
                name,
                format!("{raw:?} is not a whole number from {min} to {max}"),
            )
        })
}

fn parse_bool(sources: &Sources, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match sources.get(name).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(raw) => Err(ConfigError::new(
            name,
            format!("{raw:?} is not true or false"),
        )),
    }
}

/// Whether an http(s) URL points at a loopback address.
fn is_loopback_url(raw: &str) -> bool {
    url::Url::parse(raw)
        .ok()
        .is_some_and(|url| match url.host() {
            Some(url::Host::Domain(host)) => host == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        })
}

fn parse_http_url(sources: &Sources, name: &'static str) -> Result<Option<String>, ConfigError> {
    match sources.get(name) {
        None => Ok(None),
        Some(raw)
            if (raw.starts_with("http://") || raw.starts_with("https://")) && raw.len() > 8 =>
        {
            Ok(Some(raw.trim_end_matches('/').to_owned()))
        }
        Some(_) => Err(ConfigError::new(name, "must be an http:// or https:// URL")),
    }
}

fn parse_ttl(
    sources: &Sources,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match sources.get(name) {
        None => Ok(default),
        Some(raw) => match parse_duration(raw) {
            Ok(ttl) if !ttl.is_zero() => Ok(ttl),
            Ok(_) => Err(ConfigError::new(name, "must be longer than zero")),
            Err(reason) => Err(ConfigError::new(name, reason)),
        },
    }
}

/// A retention: a duration, or `off` for none.
fn parse_retention(raw: &str) -> Result<Option<Duration>, String> {
    if raw.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match parse_duration(raw)? {
        ttl if ttl.is_zero() => Err("must be longer than zero (or off)".into()),
        ttl => Ok(Some(ttl)),
    }
}

fn parse_conversation_retention(
    sources: &Sources,
) -> Result<xl_services::threads::ConversationRetention, ConfigError> {
    let mut retention = xl_services::threads::ConversationRetention::default();
    if let Some(raw) = sources.get("XL_CONVERSATION_RETENTION") {
        retention.default = parse_retention(raw)
            .map_err(|reason| ConfigError::new("XL_CONVERSATION_RETENTION", reason))?;
    }
    const ORGS: &str = "XL_ORG_CONVERSATION_RETENTION";
    for pair in sources.get(ORGS).unwrap_or_default().split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let Some((slug, raw)) = pair.split_once('=') else {
            return Err(ConfigError::new(
                ORGS,
                format!("{pair:?} is not slug=duration (e.g. acme=90d or acme=off)"),
            ));
        };
        let slug = slug.trim();
        if slug.is_empty() {
            return Err(ConfigError::new(ORGS, format!("{pair:?} names no org")));
        }
        let keep = parse_retention(raw)
            .map_err(|reason| ConfigError::new(ORGS, format!("{slug}: {reason}")))?;
        if retention.orgs.insert(slug.to_owned(), keep).is_some() {
            return Err(ConfigError::new(ORGS, format!("{slug} is named twice")));
        }
    }
    Ok(retention)
}

/// An OAuth client: id and secret go together; the endpoints default to the
/// provider's public ones and may point elsewhere (a mock in tests).
fn parse_oauth(
    sources: &Sources,
    names: [&'static str; 5],
    defaults: [&str; 3],
) -> Result<Option<OAuthClient>, ConfigError> {
    let [id_name, secret_name, auth_name, token_name, api_name] = names;
    let (client_id, client_secret) = match (sources.get(id_name), sources.get(secret_name)) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
        (Some(_), None) => {
            return Err(ConfigError::new(
                secret_name,
                format!("is required when {id_name} is set"),
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                id_name,
                format!("is required when {secret_name} is set"),
            ));
        }
    };
    let [auth_default, token_default, api_default] = defaults;
    Ok(Some(OAuthClient {
        client_id,
        client_secret,
        authorize_url: parse_http_url(sources, auth_name)?
            .unwrap_or_else(|| auth_default.to_owned()),
        token_url: parse_http_url(sources, token_name)?.unwrap_or_else(|| token_default.to_owned()),
        api_url: parse_http_url(sources, api_name)?.unwrap_or_else(|| api_default.to_owned()),
    }))
}

/// OTLP trace export, on when an endpoint is set. As the OpenTelemetry
/// specification says, the traces endpoint is used as given and wins; the
/// general one is a base URL that `/v1/traces` is appended to.
fn parse_otlp(sources: &Sources) -> Result<Option<OtlpExport>, ConfigError> {
    const TRACES: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    const BASE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    let traces_endpoint = match (sources.get(TRACES), sources.get(BASE)) {
        (Some(raw), _) => otlp_url(TRACES, raw)?.to_string(),
        (None, Some(raw)) => {
            let mut url = otlp_url(BASE, raw)?;
            let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
            url.set_path(&path);
            url.to_string()
        }
        (None, None) => return Ok(None),
    };
    let service_name = sources.get("OTEL_SERVICE_NAME").unwrap_or("xl").to_owned();
    Ok(Some(OtlpExport {
        traces_endpoint,
        service_name,
    }))
}

/// An OTLP/HTTP endpoint: an http:// or https:// URL with a host.
fn otlp_url(name: &'static str, raw: &str) -> Result<url::Url, ConfigError> {
    url::Url::parse(raw)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .ok_or_else(|| {
            ConfigError::new(
                name,
                format!("{raw:?} is not an http:// or https:// URL such as http://localhost:4318"),
            )
        })
}

/// The default model registry, with `XL_MODELS_FILE` merged in when set.
fn parse_models(sources: &Sources) -> Result<xl_llm::ModelRegistry, ConfigError> {
    let Some(path) = sources.get("XL_MODELS_FILE") else {
        return Ok(xl_llm::ModelRegistry::with_defaults());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| ConfigError::new("XL_MODELS_FILE", format!("cannot read {path}: {err}")))?;
    xl_llm::ModelRegistry::from_toml(&text).map_err(|err| {
        // The registry's messages are one line already; a TOML excerpt
        // could still carry a line break, and errors here stay one line.
        let reason = err.to_string().replace(['\n', '\r'], " ");
        ConfigError::new("XL_MODELS_FILE", format!("{path}: {reason}"))
    })
}

fn parse_list(sources: &Sources, name: &str) -> Vec<String> {
    sources
        .get(name)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Parses `90s`, `15m`, `1h`, `7d` or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("{raw:?} is not a duration such as 90s, 15m, 1h or 7d"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "m" => value.saturating_mul(60),
        "h" => value.saturating_mul(3600),
        "d" => value.saturating_mul(86_400),
        _ => {
            return Err(format!(
                "{raw:?} is not a duration such as 90s, 15m, 1h or 7d"
            ));
        }
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let sources =
            Sources::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap();
        Config::load(&sources)
    }

    #[test]
    fn rate_limits_are_on_by_default_and_budgets_are_read_in_dollars() {
        let config = load(&[("JWT_SECRET", "0123456789abcdef0123456789abcdef")]).unwrap();
        assert_eq!(config.limits.user, DEFAULT_PER_MINUTE);
        assert_eq!(
            config.limits.org.reads,
            DEFAULT_PER_MINUTE.reads * ORG_MULTIPLE
        );
        assert_eq!(config.limits.org_monthly_budget_micros, None);
        let config = load(&[
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("RATE_LIMIT_MODEL", "5"),
            ("ORG_RATE_LIMIT_TOKENS", "100000"),
            ("ORG_MONTHLY_BUDGET_USD", "12.5"),
            ("USER_MONTHLY_BUDGET_USD", "0.000001"),
        ])
        .unwrap();
        assert_eq!(config.limits.user.model, 5);
        assert_eq!(
            config.limits.org.model, 50,
            "ten users' worth of the user's"
        );
        assert_eq!(config.limits.org.tokens, 100_000);
        assert_eq!(config.limits.org_monthly_budget_micros, Some(12_500_000));
        assert_eq!(config.limits.user_monthly_budget_micros, Some(1));
        let off = load(&[
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("XL_RATE_LIMITS", "off"),
        ])
        .unwrap();
        assert_eq!(off.limits.user, PerMinute::OFF);
        assert_eq!(off.limits.org, PerMinute::OFF);
        assert!(!off.limits.shared && !config.limits.shared);
        let shared = load(&[
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", "postgres://xl@db/xl"),
            ("XL_RATE_LIMITS", "shared"),
        ])
        .unwrap();
        assert!(shared.limits.shared);
        assert_eq!(shared.limits.user, DEFAULT_PER_MINUTE);
        let err = load(&[("XL_RATE_LIMITS", "shared")]).unwrap_err();
        assert_eq!(err.name, "XL_RATE_LIMITS", "shared needs PostgreSQL: {err}");
        for bad in ["-1", "1.2345678", "ten", "1e3", ".5"] {
            let err = load(&[
                ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
                ("ORG_MONTHLY_BUDGET_USD", bad),
            ])
            .unwrap_err();
            assert!(
                err.to_string().contains("ORG_MONTHLY_BUDGET_USD"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn nothing_configured_gives_a_working_local_setup() {
        let config = load(&[]).unwrap();
        assert_eq!(config.bind.to_string(), "127.0.0.1:8787");
        assert_eq!(config.database_url, "sqlite://./data/xl.db");
        assert_eq!(config.auth_cookie_name, "rpotential_auth");
        assert_eq!(config.default_ai_model, "echo", "no key: the offline model");
        assert!(config.auto_completion_enabled);
        assert_eq!(config.max_upload_bytes, 100 * 1024 * 1024);
        assert_eq!(config.jwt_secret, None);
        assert_eq!(config.log_format, LogFormat::Text);
    }

    #[test]
    fn conversation_retention_is_a_default_and_per_org_overrides() {
        let config = load(&[]).unwrap();
        assert_eq!(
            config.conversation_retention.default, None,
            "forever by default"
        );
        assert!(config.conversation_retention.orgs.is_empty());
        let config = load(&[
            ("XL_CONVERSATION_RETENTION", "90d"),
            ("XL_ORG_CONVERSATION_RETENTION", " acme = 30d , beta=off,"),
        ])
        .unwrap();
        let retention = config.conversation_retention;
        assert_eq!(retention.default, Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(
            retention.orgs.get("acme"),
            Some(&Some(Duration::from_secs(30 * 86_400)))
        );
        assert_eq!(retention.orgs.get("beta"), Some(&None));
        assert_eq!(retention.orgs.len(), 2);
    }

    #[test]
    fn every_bad_value_is_reported_by_name() {
        let cases: &[(&str, &str)] = &[
            ("XL_BIND", "localhost"),
            ("DATABASE_URL", "mysql://x"),
            ("XL_DB_POOL_SIZE", "0"),
            ("XL_SQLITE_SYNCHRONOUS", "OFF"),
            ("JWT_SECRET", "short"),
            ("JWT_JWKS_URL", "ftp://keys"),
            ("ALLOWED_DOMAINS", "example.com,not a domain"),
            ("AUTH_COOKIE_NAME", "bad;cookie"),
            ("OPENAI_BASE_URL", "localhost:11434"),
            ("AUTO_COMPLETION_ENABLED", "maybe"),
            ("FILE_STORE", "/tmp/files"),
            ("MAX_UPLOAD_BYTES", "-5"),
            ("XL_MAX_JSON_BYTES", "lots"),
            ("CORS_ORIGINS", "example.com"),
            ("XL_LOG_FORMAT", "xml"),
            ("XL_LOG", "info,[bad"),
            ("XL_WORKERS", "0"),
            ("XL_SHUTDOWN_TIMEOUT", "soon"),
            ("XL_SHUTDOWN_GRACE", "a while"),
            ("AUTH_LOGIN_URL", "/login"),
            ("AUTH_DEV_LOGIN", "sometimes"),
            ("ACCESS_TOKEN_TTL", "0"),
            ("REFRESH_TOKEN_TTL", "a month"),
            ("XL_PUBLIC_URL", "example.com"),
            ("OPENAI_TIMEOUT", "0"),
            ("OPENAI_MAX_RETRIES", "eleven"),
            ("ECHO_PACE_MS", "-1"),
            ("XL_MODELS_FILE", "/nonexistent/models.toml"),
            ("JWT_TRUST_ORG_CLAIM", "perhaps"),
            ("JWT_TRUST_ROLE_CLAIM", "2"),
            ("JWT_ACCEPT_HS256", "yes please"),
            ("JWT_MAX_LIFETIME", "0"),
            ("API_KEY_MAX_LIFETIME", "1h"),
            ("API_KEY_MAX_PER_USER", "0"),
            ("ACCESS_TOKEN_TTL", "2d"),
            ("XL_CONVERSATION_RETENTION", "forever"),
            ("XL_CONVERSATION_RETENTION", "0d"),
            ("XL_ORG_CONVERSATION_RETENTION", "acme"),
            ("XL_ORG_CONVERSATION_RETENTION", "=90d"),
            ("XL_ORG_CONVERSATION_RETENTION", "acme=90d,acme=30d"),
            ("XL_ORG_CONVERSATION_RETENTION", "acme=a quarter"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"),
        ];
        for (name, value) in cases {
            let err = load(&[(name, value)]).unwrap_err();
            assert_eq!(err.name, *name, "{name}={value} gave {err}");
            assert!(err.to_string().starts_with(&format!("invalid {name}: ")));
            assert!(!err.to_string().contains('\n'), "one line: {err}");
        }
        // A secret without its client id names the missing id.
        let err = load(&[("GOOGLE_CLIENT_SECRET", "s3cret")]).unwrap_err();
        assert_eq!(err.name, "GOOGLE_CLIENT_ID");
        let err = load(&[
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", "s3cret"),
            ("GOOGLE_TOKEN_URL", "not-a-url"),
        ])
        .unwrap_err();
        assert_eq!(err.name, "GOOGLE_TOKEN_URL");
    }

    #[test]
    fn jwks_needs_https_an_issuer_and_an_audience() {
        let jwks = ("JWT_JWKS_URL", "https://idp.example/jwks");
        let iss = ("JWT_ISSUER", "https://idp.example");
        let aud = ("JWT_AUDIENCE", "xl");
        assert_eq!(load(&[jwks, aud]).unwrap_err().name, "JWT_ISSUER");
        assert_eq!(load(&[jwks, iss]).unwrap_err().name, "JWT_AUDIENCE");
        let plain = ("JWT_JWKS_URL", "http://idp.example/jwks");
        assert_eq!(load(&[plain, iss, aud]).unwrap_err().name, "JWT_JWKS_URL");
        load(&[jwks, iss, aud]).unwrap();
        load(&[("JWT_JWKS_URL", "http://127.0.0.1:9/jwks"), iss, aud]).unwrap();
    }

    #[test]
    fn values_are_parsed() {
        let config = load(&[
            ("XL_BIND", "0.0.0.0:9000"),
            ("ALLOWED_DOMAINS", "Example.com, acme.io"),
            ("AUTO_COMPLETION_ENABLED", "false"),
            ("XL_SQLITE_SYNCHRONOUS", "full"),
            ("XL_SHUTDOWN_TIMEOUT", "2m"),
            ("XL_SHUTDOWN_GRACE", "5s"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ])
        .unwrap();
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.allowed_domains, vec!["example.com", "acme.io"]);
        assert!(!config.auto_completion_enabled);
        assert_eq!(config.sqlite_synchronous, Synchronous::Full);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(120));
        assert_eq!(config.shutdown_grace, Duration::from_secs(5));
    }

    #[test]
    fn a_toml_file_supplies_values_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xl.toml");
        std::fs::write(
            &path,
            "XL_BIND = \"127.0.0.1:9999\"\nDEFAULT_AI_MODEL = \"gpt-4o-mini\"\nALLOWED_DOMAINS = [\"a.io\", \"b.io\"]\nMAX_UPLOAD_BYTES = 1024\n",
        )
        .unwrap();
        let path = path.display().to_string();
        let config = load(&[("XL_CONFIG", &path), ("DEFAULT_AI_MODEL", "o1")]).unwrap();
        assert_eq!(config.bind.port(), 9999);
        assert_eq!(config.default_ai_model, "o1");
        assert_eq!(config.allowed_domains, vec!["a.io", "b.io"]);
        assert_eq!(config.max_upload_bytes, 1024);

        std::fs::write(dir.path().join("bad.toml"), "NOT_A_SETTING = 1\n").unwrap();
        let bad = dir.path().join("bad.toml").display().to_string();
        let err = Sources::from_vars([("XL_CONFIG".to_string(), bad)]).unwrap_err();
        assert_eq!(err.name, "XL_CONFIG");
        assert!(err.reason.contains("NOT_A_SETTING"));
    }

    #[test]
    fn the_model_provider_settings_are_parsed() {
        let config = load(&[]).unwrap();
        assert_eq!(config.openai_timeout, Duration::from_secs(120));
        assert_eq!(config.openai_max_retries, 2);
        assert_eq!(config.echo_pace, Duration::from_millis(20));
        assert!(config.models.get("gpt-4o").is_some());

        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("models.toml");
        std::fs::write(
            &models,
            "[[models]]\nid = \"llama3.1:8b\"\ncontext_window = 131072\ninput_price_per_million = 10\n",
        )
        .unwrap();
        let models = models.display().to_string();
        let config = load(&[
            ("OPENAI_API_KEY", "sk-x"),
            ("OPENAI_TIMEOUT", "2m"),
            ("OPENAI_MAX_RETRIES", "0"),
            ("ECHO_PACE_MS", "0"),
            ("XL_MODELS_FILE", &models),
        ])
        .unwrap();
        assert_eq!(config.default_ai_model, "gpt-4o", "a key: OpenAI's model");
        assert_eq!(config.openai_timeout, Duration::from_secs(120));
        assert_eq!(config.openai_max_retries, 0);
        assert_eq!(config.echo_pace, Duration::ZERO);
        let llama = config.models.get("llama3.1:8b").unwrap();
        assert_eq!(llama.context_window, 131_072);
        assert_eq!(llama.input_price_per_million, 10);
        assert!(config.models.get("gpt-4o").is_some(), "defaults stay");

        // A bad registry file is refused in one line naming the setting.
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[[models]]\nid = \"new\"\nprice = 1\n").unwrap();
        let err = load(&[("XL_MODELS_FILE", &bad.display().to_string())]).unwrap_err();
        assert_eq!(err.name, "XL_MODELS_FILE");
        assert!(err.reason.contains("price"), "{err}");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }

    #[test]
    fn otlp_export_is_off_unless_an_endpoint_is_set() {
        assert_eq!(load(&[("OTEL_SERVICE_NAME", "chat")]).unwrap().otlp, None);
        let base = load(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]).unwrap();
        assert_eq!(
            base.otlp,
            Some(OtlpExport {
                traces_endpoint: "http://collector:4318/v1/traces".into(),
                service_name: "xl".into(),
            })
        );
        let prefixed = load(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://otel.example/ingest/",
        )]);
        assert_eq!(
            prefixed.unwrap().otlp.unwrap().traces_endpoint,
            "https://otel.example/ingest/v1/traces"
        );
        // The traces endpoint is taken as given, and wins.
        let traces = load(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://tempo:4318/otlp/traces",
            ),
            ("OTEL_SERVICE_NAME", "chat-eu"),
        ])
        .unwrap()
        .otlp
        .unwrap();
        assert_eq!(traces.traces_endpoint, "http://tempo:4318/otlp/traces");
        assert_eq!(traces.service_name, "chat-eu");
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }
}
