//! Authentication: who is calling, proven by a JWT (ours, HS256; or an
//! identity provider's, RS256/ES256 through JWKS) or by an API key.

pub mod api_keys;
pub mod cache;
mod failure;
mod identity;
pub mod jwks;
pub mod link;
pub mod oauth;
mod sealed;
pub mod sessions;
pub mod tickets;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest, Sha256};
use xl_domain::users::User;
use xl_domain::{Actor, Credential, Email, Role, SessionId};
use xl_store::repo;

pub use failure::AuthFailure;
pub use identity::{Identity, Presented};
pub use tokens::{Claims, JwtSigner};

use crate::{ServiceError, Services};
use jwks::JwksCache;

/// The prefix of API keys, which tells them apart from JWTs.
pub const API_KEY_PREFIX: &str = "xl_";

/// The issuer recorded for tokens signed with the server's own secret,
/// whatever `iss` they carry: an HS256 token can never pass for an identity
/// provider's identity.
pub const LOCAL_ISSUER: &str = "urn:xl:local";
/// The issuer recorded for development logins.
pub const DEV_LOGIN_ISSUER: &str = "urn:xl:dev-login";

/// How tokens are issued and checked.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// The HS256 secret (at least 32 bytes).
    pub jwt_secret: String,
    /// Where RS256/ES256 keys are published; such tokens are refused without it.
    pub jwks_url: Option<String>,
    /// The identity provider's `iss`, required of its tokens (and put into
    /// the tokens this server issues). Required with `jwks_url`.
    pub issuer: Option<String>,
    /// The `aud` the identity provider's tokens must carry (and put into the
    /// tokens this server issues). Required with `jwks_url`.
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
    /// Whether an identity provider's `org` claim places a new user
    /// (`JWT_TRUST_ORG_CLAIM`); tokens signed with `jwt_secret` always do.
    pub trust_org_claim: bool,
    /// Whether an identity provider's `role` claim sets a new user's role
    /// (`JWT_TRUST_ROLE_CLAIM`); tokens signed with `jwt_secret` always do.
    pub trust_role_claim: bool,
    /// Whether HS256 tokens without a session (minted with `xl token` or by
    /// another holder of the secret) are accepted beside JWKS
    /// (`JWT_ACCEPT_HS256`). Without JWKS they always are; the tokens this
    /// server issues at sign-in always are.
    pub hs256_beside_jwks: bool,
    /// The longest lifetime (`exp` - `iat`) a token may claim
    /// (`JWT_MAX_LIFETIME`).
    pub max_token_lifetime: Duration,
    /// The longest lifetime of an API key (`API_KEY_MAX_LIFETIME`).
    pub api_key_max_lifetime: Duration,
    /// How many live API keys one user may hold (`API_KEY_MAX_PER_USER`).
    pub api_key_max_per_user: u32,
    /// The shortest time between two fetches of the JWKS document.
    pub jwks_min_refresh: Duration,
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
            trust_org_claim: false,
            trust_role_claim: false,
            hs256_beside_jwks: false,
            max_token_lifetime: Duration::from_secs(86_400),
            api_key_max_lifetime: Duration::from_secs(90 * 86_400),
            api_key_max_per_user: 20,
            jwks_min_refresh: Duration::from_secs(10),
        }
    }

    /// Whether an email domain may sign in.
    pub fn domain_allowed(&self, domain: &str) -> bool {
        self.allowed_domains.is_empty() || self.allowed_domains.iter().any(|d| d == domain)
    }
}

/// Who signed a verified token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// The server's own secret (HS256): a trusted issuer.
    Local,
    /// The identity provider behind `JWT_JWKS_URL`.
    Provider,
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
    /// The one-time sign-in link of a fresh local server, if one is open.
    pub(crate) link: link::SignInLink,
}

impl Auth {
    /// Builds the verifier; `http` fetches JWKS documents.
    pub fn new(config: AuthConfig, http: reqwest::Client) -> Self {
        let signer = JwtSigner::new(config.jwt_secret.as_bytes());
        let hs256 = DecodingKey::from_secret(config.jwt_secret.as_bytes());
        let jwks = config
            .jwks_url
            .clone()
            .map(|url| JwksCache::new(url, http, config.jwks_min_refresh));
        let cache = cache::ActorCache::new(config.actor_cache_ttl);
        Auth {
            config,
            signer,
            hs256,
            jwks,
            cache,
            link: link::SignInLink::default(),
        }
    }

    /// Signs tokens with the server's secret.
    pub fn signer(&self) -> &JwtSigner {
        &self.signer
    }

    /// Checks a JWT's algorithm, signature, expiry, lifetime, issuer,
    /// audience, verified email and email domain, returning its claims and
    /// who signed it.
    ///
    /// HS256 tokens are ours: `iss` and `aud` are checked when configured.
    /// An identity provider's tokens (RS256/ES256 through JWKS) must carry
    /// the configured `iss` and `aud` and `email_verified: true`.
    pub async fn verify_jwt(&self, token: &str) -> Result<(Claims, Signer), AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::MalformedToken)?;
        let (key, signer) = match header.alg {
            Algorithm::HS256 => (self.hs256.clone(), Signer::Local),
            Algorithm::RS256 | Algorithm::ES256 => {
                let Some(jwks) = &self.jwks else {
                    return Err(AuthFailure::AlgorithmNotAllowed);
                };
                let kid = header.kid.as_deref().ok_or(AuthFailure::UnknownKey)?;
                (jwks.key(kid, header.alg).await?, Signer::Provider)
            }
            _ => return Err(AuthFailure::AlgorithmNotAllowed),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.config.leeway.as_secs();
        validation.validate_nbf = true;
        match signer {
            Signer::Local => {
                validation.set_required_spec_claims(&["exp", "sub"]);
                match &self.config.issuer {
                    Some(issuer) => validation.set_issuer(&[issuer]),
                    None => validation.iss = None,
                }
                match &self.config.audience {
                    Some(audience) => validation.set_audience(&[audience]),
                    None => validation.validate_aud = false,
                }
            }
            Signer::Provider => {
                let (Some(issuer), Some(audience)) = (&self.config.issuer, &self.config.audience)
                else {
                    return Err(AuthFailure::BadClaims(
                        "JWT_ISSUER and JWT_AUDIENCE must be configured to accept JWKS tokens"
                            .into(),
                    ));
                };
                validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
                validation.set_issuer(&[issuer]);
                validation.set_audience(&[audience]);
            }
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(AuthFailure::from_jwt)?;
        if signer == Signer::Local
            && claims.sid.is_none()
            && self.jwks.is_some()
            && !self.config.hs256_beside_jwks
        {
            // Beside an identity provider the secret signs only our own
            // sessions, unless the operator says it also mints tokens.
            return Err(AuthFailure::AlgorithmNotAllowed);
        }
        self.check_lifetime(&claims)?;
        if signer == Signer::Provider && !claims.email_is_verified() {
            return Err(AuthFailure::EmailNotVerified);
        }
        let email = Email::parse(&claims.email).map_err(|_| AuthFailure::MalformedToken)?;
        if !self.config.domain_allowed(email.domain()) {
            return Err(AuthFailure::DomainNotAllowed(email.domain().to_owned()));
        }
        Ok((claims, signer))
    }

    /// Refuses a token whose claimed lifetime exceeds the configured bound
    /// (measured from `iat`, or from now when there is none).
    fn check_lifetime(&self, claims: &Claims) -> Result<(), AuthFailure> {
        let max = i64::try_from(self.config.max_token_lifetime.as_secs()).unwrap_or(i64::MAX);
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(0);
        let start = if claims.iat > 0 {
            claims.iat
        } else {
            Utc::now().timestamp()
        };
        if claims.iat > Utc::now().timestamp().saturating_add(leeway) {
            return Err(AuthFailure::BadClaims("iat is in the future".into()));
        }
        if claims.exp.saturating_sub(start) > max.saturating_add(leeway) {
            return Err(AuthFailure::BadClaims(format!(
                "the token's lifetime exceeds the allowed {max} s"
            )));
        }
        Ok(())
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
        let (claims, signer) = self
            .auth
            .verify_jwt(credential)
            .await
            .map_err(ServiceError::Unauthenticated)?;
        let (user, session) = match &claims.sid {
            // A session token names its user through the session, which
            // deleting the user removes.
            Some(raw) => {
                let id: SessionId = raw
                    .parse()
                    .map_err(|_| ServiceError::Unauthenticated(AuthFailure::MalformedToken))?;
                let Some(owner) = repo::sessions::active_owner(self.store.reader(), id).await?
                else {
                    return Err(ServiceError::Unauthenticated(AuthFailure::SessionRevoked));
                };
                let Some(user) = repo::users::find_any(self.store.reader(), owner).await? else {
                    return Err(ServiceError::Unauthenticated(AuthFailure::SessionRevoked));
                };
                (user, Some(id))
            }
            None => (self.user_for_claims(&claims, signer).await?, None),
        };
        let actor = actor_for(&user, Credential::Jwt { session });
        let left = u64::try_from(claims.exp.saturating_sub(Utc::now().timestamp())).unwrap_or(0);
        self.auth
            .cache
            .put(credential, &actor, Some(Duration::from_secs(left)));
        Ok(actor)
    }

    async fn authenticate_api_key(&self, key: &str) -> Result<Actor, ServiceError> {
        let refused = || ServiceError::Unauthenticated(AuthFailure::InvalidApiKey);
        let hash = hash_secret(key);
        let Some(record) = repo::api_keys::find_by_hash(self.store.reader(), &hash).await? else {
            return Err(refused());
        };
        let now = Utc::now();
        let max_life = chrono::TimeDelta::from_std(self.auth.config.api_key_max_lifetime)
            .unwrap_or(chrono::TimeDelta::days(90));
        // Keys made before lifetimes were bounded (no `expires_at`) still
        // end at the configured maximum.
        let expired =
            record.expires_at.is_some_and(|at| at <= now) || record.created_at + max_life <= now;
        if record.revoked_at.is_some() || expired {
            return Err(refused());
        }
        // The owner's row goes with a deletion (and the key with it, by
        // cascade); an owner whose domain is no longer allowed loses the key.
        let Some(user) = repo::users::find_any(self.store.reader(), record.user_id).await? else {
            return Err(refused());
        };
        if !self.auth.config.domain_allowed(user.email.domain()) {
            return Err(ServiceError::Unauthenticated(
                AuthFailure::DomainNotAllowed(user.email.domain().to_owned()),
            ));
        }
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

    /// The user a verified sessionless token speaks for. Tokens signed with
    /// our secret place a new user by their `org` and `role` claims; an
    /// identity provider's do so only where configured to.
    async fn user_for_claims(&self, claims: &Claims, signer: Signer) -> Result<User, ServiceError> {
        let email = Email::parse(&claims.email)?;
        let config = &self.auth.config;
        let (issuer, org, role) = match signer {
            Signer::Local => (LOCAL_ISSUER.to_owned(), claims.org.clone(), claims.role),
            Signer::Provider => (
                claims.iss.clone().unwrap_or_default(),
                claims.org.clone().filter(|_| config.trust_org_claim),
                if config.trust_role_claim {
                    claims.role
                } else {
                    Role::User
                },
            ),
        };
        let issued_at = DateTime::<Utc>::from_timestamp(claims.iat, 0).filter(|_| claims.iat > 0);
        let presented = Presented::Token { issued_at };
        self.upsert_identity(Identity {
            email,
            name: claims.name.clone(),
            role,
            org,
            org_claim_trusted: signer == Signer::Local,
            issuer,
            subject: claims.sub.clone(),
            avatar_url: None,
            presented,
        })
        .await
    }
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
