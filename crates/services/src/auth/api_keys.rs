//! API keys for integrations: `xl_…` secrets shown once, stored as hashes,
//! scoped to their user and org, revocable.

use chrono::Utc;
use garde::Validate;
use serde::{Deserialize, Serialize};
use xl_domain::{Actor, ApiKey, ApiKeyId, Credential, DomainError, FieldErrors};
use xl_store::repo;
use xl_store::repo::api_keys::NewKey;

use super::{API_KEY_PREFIX, hash_secret, random_secret};
use xl_domain::audit::action;

use crate::audit;
use crate::{ServiceError, Services};

/// Input that creates a key.
#[derive(Clone, Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// A label to recognise the key by.
    #[garde(length(chars, min = 1, max = 100))]
    pub name: String,
    /// Days until the key stops working; the configured maximum
    /// (`API_KEY_MAX_LIFETIME`, 90 days by default) when absent, and never
    /// more than it.
    #[garde(inner(range(min = 1, max = 3650)))]
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A new key, with its secret (shown this once).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The key's record.
    #[serde(flatten)]
    pub key: ApiKey,
    /// The secret to send as `Authorization: Bearer xl_…`.
    pub secret: String,
}

impl Services {
    /// Creates a key for the caller. Keys are leaf credentials: only a
    /// person signed in with a token creates them (a key cannot mint
    /// another), each has a bounded lifetime, and a user holds at most
    /// `API_KEY_MAX_PER_USER` live keys.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        input: NewApiKey,
    ) -> Result<CreatedApiKey, ServiceError> {
        if !matches!(actor.credential, Credential::Jwt { .. }) {
            return Err(ServiceError::Forbidden(
                "API keys are created by a signed-in person, not with another API key".into(),
            ));
        }
        input.validate().map_err(DomainError::from)?;
        let name = xl_domain::text::one_line(&input.name, 100).map_err(|problem| {
            let mut errors = xl_domain::FieldErrors::new();
            errors.add("name", problem);
            ServiceError::Unprocessable(errors)
        })?;
        let config = &self.auth().config;
        let max_days = (config.api_key_max_lifetime.as_secs() / 86_400).max(1);
        let days = u64::from(input.expires_in_days.unwrap_or(u32::MAX)).min(max_days);
        if input
            .expires_in_days
            .is_some_and(|asked| u64::from(asked) > max_days)
        {
            let mut errors = FieldErrors::new();
            errors.add(
                "expires_in_days",
                format!("a key may live at most {max_days} days"),
            );
            return Err(ServiceError::Unprocessable(errors));
        }
        let now = Utc::now();
        let expires_at = Some(now + chrono::TimeDelta::days(i64::try_from(days).unwrap_or(90)));
        let secret = random_secret(API_KEY_PREFIX);
        let prefix: String = secret.chars().take(API_KEY_PREFIX.len() + 6).collect();
        let tx = self.store.begin_write().await?;
        let live = repo::api_keys::count_live(&tx, actor.user_id, now).await?;
        if live >= u64::from(config.api_key_max_per_user) {
            return Err(ServiceError::Conflict(format!(
                "you already hold {live} live API keys, the most allowed; revoke one first"
            )));
        }
        let key = repo::api_keys::insert(
            &tx,
            NewKey {
                user_id: actor.user_id,
                org_id: actor.org_id,
                name,
                prefix,
                key_hash: hash_secret(&secret),
                expires_at,
            },
        )
        .await?;
        let details = serde_json::json!({ "name": key.name, "expires_at": key.expires_at });
        let target = Some(("api_key", key.id.to_string()));
        audit::record(
            &tx,
            actor.into(),
            action::API_KEY_CREATED,
            target,
            Some(details),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedApiKey { key, secret })
    }

    /// The caller's keys.
    pub async fn list_api_keys(&self, actor: &Actor) -> Result<Vec<ApiKey>, ServiceError> {
        Ok(repo::api_keys::list_for_user(self.store.reader(), actor.user_id).await?)
    }

    /// Revokes a key of the caller's (or, for an admin, of anyone in the org).
    pub async fn revoke_api_key(&self, actor: &Actor, id: ApiKeyId) -> Result<(), ServiceError> {
        let tx = self.store.begin_write().await?;
        let Some(key) = repo::api_keys::find(&tx, actor.org_id, id).await? else {
            return Err(ServiceError::NotFound("api key"));
        };
        if key.user_id != actor.user_id && !actor.is_admin() {
            return Err(ServiceError::NotFound("api key"));
        }
        repo::api_keys::revoke(&tx, id).await?;
        let details = serde_json::json!({ "owner": key.user_id });
        let target = Some(("api_key", id.to_string()));
        audit::record(
            &tx,
            actor.into(),
            action::API_KEY_REVOKED,
            target,
            Some(details),
        )
        .await?;
        tx.commit().await?;
        self.auth.cache.forget_api_key(id);
        Ok(())
    }
}
