//! Keys of an identity provider, fetched from its JWKS endpoint, cached by
//! `kid`, and refetched when a token names a key the cache does not know
//! (providers rotate keys), at most once per `MIN_REFRESH`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::{Mutex, RwLock};

use crate::auth::AuthFailure;

/// The shortest time between two fetches of the key set.
const MIN_REFRESH: Duration = Duration::from_secs(10);

/// A cached JWKS document.
pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// An empty cache for the given endpoint.
    pub fn new(url: String, http: reqwest::Client) -> Self {
        JwksCache {
            url,
            http,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
        }
    }

    /// The key with this id, fetching the set if it is not cached.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, AuthFailure> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(key.clone());
        }
        self.refresh().await;
        self.keys
            .read()
            .await
            .get(kid)
            .cloned()
            .ok_or(AuthFailure::UnknownKey)
    }

    /// Refetches the set unless it was fetched very recently. Failures are
    /// logged and leave the cache as it was.
    async fn refresh(&self) {
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < MIN_REFRESH) {
            return;
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "fetched JWKS");
                *self.keys.write().await = keys;
            }
            Err(err) => tracing::warn!(url = %self.url, error = %err, "fetching JWKS failed"),
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        let response = self
            .http
            .get(&self.url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|err| err.to_string())?
            .error_for_status()
            .map_err(|err| err.to_string())?;
        let set: JwkSet = response.json().await.map_err(|err| err.to_string())?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, key);
                }
                Err(err) => tracing::warn!(%kid, error = %err, "skipping unusable JWK"),
            }
        }
        Ok(keys)
    }
}
