//! Login sessions: access tokens (short-lived JWTs carrying the session id)
//! paired with rotating refresh tokens stored hashed. Presenting a refresh
//! token that was already exchanged revokes the whole session, since one of
//! the two holders must be a thief.

use chrono::Utc;
use garde::Validate;
use serde::{Deserialize, Serialize};
use xl_domain::users::User;
use xl_domain::{Actor, Email, Role, Session, SessionId};
use xl_store::repo;
use xl_store::repo::sessions::NewToken;

use super::{
    AuthFailure, Claims, DEV_LOGIN_ISSUER, Identity, Presented, hash_secret, random_secret,
};
use xl_domain::audit::action;

use crate::audit;
use crate::{ServiceError, Services};

/// The prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "xlr_";

/// Where a login comes from, kept with the session.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The peer address.
    pub ip: Option<String>,
}

/// What a login or refresh returns.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// The JWT to send as `Authorization: Bearer` (or in the auth cookie).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The token that obtains the next pair; it works once.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
    /// The session both tokens belong to.
    pub session_id: SessionId,
    /// The signed-in user.
    pub user: User,
}

/// Input of the development login.
#[derive(Clone, Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevLogin {
    /// The email address.
    #[garde(length(min = 3, max = 254))]
    pub email: String,
    /// The display name.
    #[garde(inner(length(chars, min = 1, max = 200)))]
    #[serde(default)]
    pub name: Option<String>,
}

impl Services {
    /// Signs in by email and name alone. Only when `dev_login` is enabled;
    /// otherwise the route does not exist (404).
    pub async fn dev_login(
        &self,
        input: DevLogin,
        client: ClientInfo,
    ) -> Result<TokenPair, ServiceError> {
        if !self.auth.config.dev_login {
            return Err(ServiceError::NotFound("route"));
        }
        input.validate().map_err(xl_domain::DomainError::from)?;
        let email = Email::parse(&input.email)?;
        let user = self
            .upsert_identity(Identity {
                name: input.name.unwrap_or_default(),
                subject: email.as_str().to_owned(),
                email,
                role: Role::User,
                org: None,
                org_claim_trusted: false,
                issuer: DEV_LOGIN_ISSUER.to_owned(),
                avatar_url: None,
                presented: Presented::Now,
            })
            .await?;
        self.start_session(&user, client).await
    }

    /// Opens a new session for a user and returns its first token pair.
    pub async fn start_session(
        &self,
        user: &User,
        client: ClientInfo,
    ) -> Result<TokenPair, ServiceError> {
        let family = SessionId::new();
        let refresh_token = random_secret(REFRESH_TOKEN_PREFIX);
        let tx = self.store.begin_write().await?;
        repo::sessions::insert(
            &tx,
            NewToken {
                family,
                parent: None,
                user_id: user.id,
                token_hash: hash_secret(&refresh_token),
                user_agent: client.user_agent.map(|ua| ua.chars().take(512).collect()),
                ip: client.ip,
                expires_at: Utc::now() + self.refresh_ttl(),
            },
        )
        .await?;
        let who = audit::Who {
            org: user.org_id,
            user: Some(user.id),
        };
        let target = Some(("session", family.to_string()));
        audit::record(&tx, who, action::SIGN_IN, target, None).await?;
        tx.commit().await?;
        self.token_pair(user.clone(), family, refresh_token)
    }

    /// Exchanges a refresh token for a new pair. The old token stops working;
    /// presenting it again revokes the session.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: ClientInfo,
    ) -> Result<TokenPair, ServiceError> {
        let invalid = || ServiceError::Unauthenticated(AuthFailure::InvalidRefreshToken);
        let hash = hash_secret(refresh_token.trim());
        let tx = self.store.begin_write().await?;
        let Some(token) = repo::sessions::find_by_hash(&tx, &hash).await? else {
            return Err(invalid());
        };
        if token.revoked_at.is_some() {
            return Err(ServiceError::Unauthenticated(AuthFailure::SessionRevoked));
        }
        if token.rotated_at.is_some() || !repo::sessions::mark_rotated(&tx, token.id).await? {
            repo::sessions::revoke_family(&tx, token.family, "refresh token reuse").await?;
            if let Some(user) = repo::users::find_any(&tx, token.user_id).await? {
                let who = audit::Who {
                    org: user.org_id,
                    user: Some(user.id),
                };
                let target = Some(("session", token.family.to_string()));
                audit::record(&tx, who, action::REFRESH_REUSE, target, None).await?;
            }
            tx.commit().await?;
            self.auth.cache.forget_session(token.family);
            tracing::warn!(session = %token.family, "refresh token reused; session revoked");
            return Err(ServiceError::Unauthenticated(
                AuthFailure::RefreshTokenReused,
            ));
        }
        if token.expires_at <= Utc::now() {
            return Err(invalid());
        }
        let Some(user) = repo::users::find_any(&tx, token.user_id).await? else {
            return Err(invalid());
        };
        let next = random_secret(REFRESH_TOKEN_PREFIX);
        repo::sessions::insert(
            &tx,
            NewToken {
                family: token.family,
                parent: Some(token.id),
                user_id: user.id,
                token_hash: hash_secret(&next),
                user_agent: client.user_agent.map(|ua| ua.chars().take(512).collect()),
                ip: client.ip,
                expires_at: Utc::now() + self.refresh_ttl(),
            },
        )
        .await?;
        tx.commit().await?;
        self.token_pair(user, token.family, next)
    }

    /// Ends the caller's session (from the token's session, or from the
    /// refresh token given). Signing out twice is not an error.
    pub async fn logout(
        &self,
        actor: Option<&Actor>,
        refresh_token: Option<&str>,
    ) -> Result<(), ServiceError> {
        let tx = self.store.begin_write().await?;
        if let Some(actor) = actor {
            let target = actor
                .session()
                .map(|session| ("session", session.to_string()));
            audit::record(&tx, actor.into(), action::SIGN_OUT, target, None).await?;
        }
        if let Some(session) = actor.and_then(Actor::session) {
            repo::sessions::revoke_family(&tx, session, "logout").await?;
            self.auth.cache.forget_session(session);
        }
        if let Some(token) = refresh_token
            && let Some(row) = repo::sessions::find_by_hash(&tx, &hash_secret(token.trim())).await?
        {
            repo::sessions::revoke_family(&tx, row.family, "logout").await?;
            self.auth.cache.forget_session(row.family);
        }
        tx.commit().await?;
        Ok(())
    }

    /// The caller's live sessions.
    pub async fn list_sessions(&self, actor: &Actor) -> Result<Vec<Session>, ServiceError> {
        Ok(
            repo::sessions::list_active(self.store.reader(), actor.user_id, actor.session())
                .await?,
        )
    }

    /// Revokes one of the caller's sessions (another user's is 404).
    pub async fn revoke_session(&self, actor: &Actor, id: SessionId) -> Result<(), ServiceError> {
        let tx = self.store.begin_write().await?;
        if repo::sessions::owner(&tx, id).await? != Some(actor.user_id) {
            return Err(ServiceError::NotFound("session"));
        }
        repo::sessions::revoke_family(&tx, id, "revoked by user").await?;
        let target = Some(("session", id.to_string()));
        audit::record(&tx, actor.into(), action::SESSION_REVOKED, target, None).await?;
        tx.commit().await?;
        self.auth.cache.forget_session(id);
        Ok(())
    }

    fn refresh_ttl(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.auth.config.refresh_ttl)
            .unwrap_or(chrono::TimeDelta::days(30))
    }

    fn token_pair(
        &self,
        user: User,
        session: SessionId,
        refresh_token: String,
    ) -> Result<TokenPair, ServiceError> {
        let config = &self.auth.config;
        let mut claims = Claims::for_user(&user.email, &user.name, user.role, config.access_ttl);
        claims.sub = user.id.to_string();
        claims.sid = Some(session.to_string());
        claims.iss = config.issuer.clone();
        claims.aud = config.audience.clone().map(serde_json::Value::String);
        let access_token = self.auth.signer().sign(&claims)?;
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: config.access_ttl.as_secs(),
            refresh_token,
            refresh_expires_in: config.refresh_ttl.as_secs(),
            session_id: session,
            user,
        })
    }
}
