//! Keys of an identity provider, fetched from its JWKS endpoint, cached by
//! `kid`, and refetched when a token names a key the cache does not know
//! (providers rotate keys), at most once per `min_refresh` (10 s by default).
//!
//! Per RFC 8725 a key is used only for what it says: a JWK whose `use` is
//! not `sig` is skipped, and one that names an `alg` verifies only tokens of
//! that algorithm. A fetch that yields no usable key never replaces the set.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

use crate::auth::AuthFailure;

/// A cached JWKS document.
pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    keys: RwLock<HashMap<String, Key>>,
    last_fetch: Mutex<Option<Instant>>,
    min_refresh: Duration,
}

/// A usable key and the one algorithm it is for, if the JWK named one.
#[derive(Clone)]
struct Key {
    decoding: DecodingKey,
    alg: Option<Algorithm>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// An empty cache for the given endpoint, fetching it at most once per
    /// `min_refresh`.
    pub fn new(url: String, http: reqwest::Client, min_refresh: Duration) -> Self {
        JwksCache {
            url,
            http,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            min_refresh,
        }
    }

    /// The key with this id for a token of algorithm `alg`, fetching the
    /// set if it is not cached. A key published for another algorithm is
    /// refused.
    pub async fn key(&self, kid: &str, alg: Algorithm) -> Result<DecodingKey, AuthFailure> {
        let cached = self.keys.read().await.get(kid).cloned();
        let key = match cached {
            Some(key) => key,
            None => {
                self.refresh().await;
                self.keys
                    .read()
                    .await
                    .get(kid)
                    .cloned()
                    .ok_or(AuthFailure::UnknownKey)?
            }
        };
        if key.alg.is_some_and(|only| only != alg) {
            return Err(AuthFailure::AlgorithmNotAllowed);
        }
        Ok(key.decoding)
    }

    /// Refetches the set unless it was fetched very recently. Failures are
    /// logged and leave the cache as it was.
    async fn refresh(&self) {
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return;
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) if keys.is_empty() => {
                tracing::warn!(url = %self.url, "the JWKS has no usable key; keeping the cached set");
            }
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "fetched JWKS");
                *self.keys.write().await = keys;
            }
            Err(err) => tracing::warn!(url = %self.url, error = %err, "fetching JWKS failed"),
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Key>, String> {
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
            if jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|usage| *usage != PublicKeyUse::Signature)
            {
                tracing::warn!(%kid, "skipping a JWK not meant for signatures");
                continue;
            }
            let alg = match jwk.common.key_algorithm {
                None => None,
                Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
                Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
                Some(other) => {
                    tracing::warn!(%kid, alg = ?other, "skipping a JWK for an algorithm not accepted");
                    continue;
                }
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(decoding) => {
                    keys.insert(kid, Key { decoding, alg });
                }
                Err(err) => tracing::warn!(%kid, error = %err, "skipping unusable JWK"),
            }
        }
        Ok(keys)
    }
}
