//! Authentication: who is calling, proven by a JWT (ours, HS256; or an
//! identity provider's, RS256/ES256 through JWKS) or by an API key.

pub mod api_keys;
pub mod cache;
mod failure;
pub mod jwks;
pub mod oauth;
pub mod sessions;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest, Sha256};
use xl_domain::users::User;
use xl_domain::{Actor, Credential, Email, Role, SessionId};
use xl_store::repo;

pub use failure::AuthFailure;
pub use tokens::{Claims, JwtSigner};

use crate::{ServiceError, Services};
use jwks::JwksCache;

/// The prefix of API keys, which tells them apart from JWTs.
pub const API_KEY_PREFIX: &str = "xl_";

/// How tokens are issued and checked.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The HS256 secret (at least 32 bytes).
    pub jwt_secret: String,
    /// Where RS256/ES256 keys are published; such tokens are refused without it.
    pub jwks_url: Option<String>,
    /// Required `iss`, if set (also put into the tokens this server issues).
    pub issuer: Option<String>,
    /// Required `aud`, if set (also put into the tokens this server issues).
    pub audience: Option<String>,
    /// Email domains allowed to sign in; empty allows any.
    pub allowed_domains: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Lifetime of the access tokens this server issues.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Whether `POST /auth/login` (email + name, no password) is enabled.
    pub dev_login: bool,
    /// Google and GitHub sign-in.
    pub oauth: oauth::OAuthConfig,
    /// How long an authenticated caller is remembered (zero: not at all).
    pub actor_cache_ttl: Duration,
}

impl AuthConfig {
    /// Settings with the given secret and defaults for the rest.
    pub fn new(jwt_secret: impl Into<String>) -> Self {
        AuthConfig {
            jwt_secret: jwt_secret.into(),
            jwks_url: None,
            issuer: None,
            audience: None,
            allowed_domains: Vec::new(),
            leeway: Duration::from_secs(30),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 86_400),
            dev_login: false,
            oauth: oauth::OAuthConfig::default(),
            actor_cache_ttl: Duration::from_secs(30),
        }
    }

    /// Whether an email domain may sign in.
    pub fn domain_allowed(&self, domain: &str) -> bool {
        self.allowed_domains.is_empty() || self.allowed_domains.iter().any(|d| d == domain)
    }
}

/// The authentication machinery built from [`AuthConfig`].
#[derive(Debug)]
pub struct Auth {
    /// The settings.
    pub config: AuthConfig,
    signer: JwtSigner,
    hs256: DecodingKey,
    jwks: Option<JwksCache>,
    /// Recently authenticated callers.
    pub cache: cache::ActorCache,
}

impl Auth {
    /// Builds the verifier; `http` fetches JWKS documents.
    pub fn new(config: AuthConfig, http: reqwest::Client) -> Self {
        let signer = JwtSigner::new(config.jwt_secret.as_bytes());
        let hs256 = DecodingKey::from_secret(config.jwt_secret.as_bytes());
        let jwks = config.jwks_url.clone().map(|url| JwksCache::new(url, http));
        let cache = cache::ActorCache::new(config.actor_cache_ttl);
        Auth {
            config,
            signer,
            hs256,
            jwks,
            cache,
        }
    }

    /// Signs tokens with the server's secret.
    pub fn signer(&self) -> &JwtSigner {
        &self.signer
    }

    /// Checks a JWT's algorithm, signature, expiry, issuer, audience and
    /// email domain, returning its claims.
    pub async fn verify_jwt(&self, token: &str) -> Result<Claims, AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::MalformedToken)?;
        let key = match header.alg {
            Algorithm::HS256 => self.hs256.clone(),
            Algorithm::RS256 | Algorithm::ES256 => {
                let Some(jwks) = &self.jwks else {
                    return Err(AuthFailure::AlgorithmNotAllowed);
                };
                let kid = header.kid.as_deref().ok_or(AuthFailure::UnknownKey)?;
                jwks.key(kid).await?
            }
            _ => return Err(AuthFailure::AlgorithmNotAllowed),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway.as_secs();
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_nbf = true;
        match &self.config.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &self.config.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(AuthFailure::from_jwt)?;
        let email = Email::parse(&claims.email).map_err(|_| AuthFailure::MalformedToken)?;
        if !self.config.domain_allowed(email.domain()) {
            return Err(AuthFailure::DomainNotAllowed(email.domain().to_owned()));
        }
        Ok(claims)
    }
}

/// SHA-256 of a secret, hex-encoded: how refresh tokens and API keys are stored.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random URL-safe secret with the given prefix.
pub fn random_secret(prefix: &str) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// How often `last_seen_at` / `last_used_at` are written at most.
const TOUCH_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

impl Services {
    /// The authentication machinery.
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    /// Authenticates a bearer credential (a JWT or an API key): the user is
    /// created on first sight of a valid token, and the caller comes back as an
    /// [`Actor`] scoped to the user's org.
    pub async fn authenticate(&self, credential: &str) -> Result<Actor, ServiceError> {
        let credential = credential.trim();
        if let Some(actor) = self.auth.cache.get(credential) {
            return Ok(actor);
        }
        if credential.starts_with(API_KEY_PREFIX) {
            let actor = self.authenticate_api_key(credential).await?;
            self.auth.cache.put(credential, &actor, None);
            return Ok(actor);
        }
        let claims = self
            .auth
            .verify_jwt(credential)
            .await
            .map_err(ServiceError::Unauthenticated)?;
        let session = match &claims.sid {
            None => None,
            Some(raw) => {
                let id: SessionId = raw
                    .parse()
                    .map_err(|_| ServiceError::Unauthenticated(AuthFailure::MalformedToken))?;
                if !repo::sessions::is_active(self.store.reader(), id).await? {
                    return Err(ServiceError::Unauthenticated(AuthFailure::SessionRevoked));
                }
                Some(id)
            }
        };
        let user = self.user_for_claims(&claims).await?;
        let actor = actor_for(&user, Credential::Jwt { session });
        let left = u64::try_from(claims.exp.saturating_sub(Utc::now().timestamp())).unwrap_or(0);
        self.auth
            .cache
            .put(credential, &actor, Some(Duration::from_secs(left)));
        Ok(actor)
    }

    async fn authenticate_api_key(&self, key: &str) -> Result<Actor, ServiceError> {
        let hash = hash_secret(key);
        let Some(record) = repo::api_keys::find_by_hash(self.store.reader(), &hash).await? else {
            return Err(ServiceError::Unauthenticated(AuthFailure::InvalidApiKey));
        };
        let now = Utc::now();
        if record.revoked_at.is_some() || record.expires_at.is_some_and(|at| at <= now) {
            return Err(ServiceError::Unauthenticated(AuthFailure::InvalidApiKey));
        }
        let Some(user) = repo::users::find_any(self.store.reader(), record.user_id).await? else {
            return Err(ServiceError::Unauthenticated(AuthFailure::InvalidApiKey));
        };
        if record
            .last_used_at
            .is_none_or(|at| now - at > TOUCH_INTERVAL)
        {
            let tx = self.store.begin_write().await?;
            repo::api_keys::touch(&tx, record.id, now).await?;
            tx.commit().await?;
        }
        Ok(actor_for(&user, Credential::ApiKey { key: record.id }))
    }

    /// The user a verified token speaks for, created on first sight in the
    /// org named by the `org` claim (else the email domain).
    async fn user_for_claims(&self, claims: &Claims) -> Result<User, ServiceError> {
        let email = Email::parse(&claims.email)?;
        if let Some(user) = repo::users::find_by_email(self.store.reader(), &email).await? {
            let now = Utc::now();
            if user.last_seen_at.is_none_or(|at| now - at > TOUCH_INTERVAL) {
                let tx = self.store.begin_write().await?;
                repo::users::touch(&tx, user.id, now, Some(&claims.sub)).await?;
                tx.commit().await?;
            }
            return Ok(user);
        }
        let identity = Identity {
            email,
            name: claims.name.clone(),
            role: claims.role,
            org: claims.org.clone(),
            subject: Some(claims.sub.clone()),
            avatar_url: None,
        };
        self.upsert_identity(identity).await
    }

    /// Finds or creates the user for a verified identity (a token, a dev
    /// login or an OAuth profile). The role is taken from the identity only
    /// when the user is created; afterwards the stored role is authoritative.
    pub async fn upsert_identity(&self, identity: Identity) -> Result<User, ServiceError> {
        if !self.auth.config.domain_allowed(identity.email.domain()) {
            return Err(ServiceError::Unauthenticated(
                AuthFailure::DomainNotAllowed(identity.email.domain().to_owned()),
            ));
        }
        let tx = self.store.begin_write().await?;
        if let Some(user) = repo::users::find_by_email(&tx, &identity.email).await? {
            return Ok(user);
        }
        let org_claim = identity
            .org
            .as_deref()
            .map(str::trim)
            .filter(|org| !org.is_empty());
        // The claim names an org to create: one line, bounded, or no sign-in.
        if let Some(org) = org_claim
            && xl_domain::text::one_line(org, xl_domain::text::MAX_ORG_CHARS).is_err()
        {
            return Err(ServiceError::Unauthenticated(AuthFailure::BadClaims(
                format!(
                    "the org claim must be at most {} characters without control characters",
                    xl_domain::text::MAX_ORG_CHARS
                ),
            )));
        }
        let slug = org_claim
            .unwrap_or(identity.email.domain())
            .to_ascii_lowercase();
        let org = repo::orgs::find_or_create(&tx, &slug).await?;
        // A provider's display name is cleaned rather than refused.
        let name = xl_domain::text::sanitize_name(&identity.name, 200).unwrap_or_else(|| {
            identity
                .email
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        let user = repo::users::insert(
            &tx,
            repo::users::NewUserRow {
                org_id: org.id,
                subject: identity.subject,
                email: identity.email,
                name,
                role: identity.role,
                avatar_url: identity.avatar_url,
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(user = %user.id, org = %org.slug, "user created on first sight");
        Ok(user)
    }
}

/// A verified identity: who an identity provider says someone is.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The verified email address.
    pub email: Email,
    /// The display name.
    pub name: String,
    /// The role to give a new user.
    pub role: Role,
    /// The org slug to put a new user in (default: the email domain).
    pub org: Option<String>,
    /// The subject at the provider.
    pub subject: Option<String>,
    /// A picture.
    pub avatar_url: Option<String>,
}

pub(crate) fn actor_for(user: &User, credential: Credential) -> Actor {
    Actor {
        user_id: user.id,
        org_id: user.org_id,
        role: user.role,
        email: user.email.clone(),
        credential,
    }
}
