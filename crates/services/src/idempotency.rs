//! `Idempotency-Key` on creates: the same key with the same request within
//! 24 hours gets the first response back and writes nothing; the same key
//! with a different request is refused.

use chrono::{TimeDelta, Utc};
use xl_domain::{Actor, DomainError};
use xl_store::repo::idempotency::{self, Claim, KeyRef};

use crate::auth::hash_secret;
use crate::{ServiceError, Services};

/// How long a key is remembered.
pub const KEY_TTL: TimeDelta = TimeDelta::hours(24);

/// What to do with a request that carries a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Run it, then call [`Services::idempotency_complete`] (or `_release` on failure).
    Run,
    /// Answer with this recorded status and data (JSON text) instead.
    Replay {
        /// HTTP status.
        status: u16,
        /// Recorded data.
        body: String,
    },
}

fn check_key(key: &str) -> Result<(), ServiceError> {
    let ok = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Invalid(DomainError::invalid(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        )))
    }
}

impl Services {
    /// Claims a key for a request (method, path and body), or tells to replay.
    pub async fn idempotency_claim(
        &self,
        actor: &Actor,
        key: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Outcome, ServiceError> {
        check_key(key)?;
        let mut fingerprint = format!("{method} {path}\n").into_bytes();
        fingerprint.extend_from_slice(body);
        let hash = hash_secret(&String::from_utf8_lossy(&fingerprint));
        let key_ref = KeyRef {
            org_id: actor.org_id,
            user_id: actor.user_id,
            key,
        };
        let tx = self.store.begin_write().await?;
        let claim =
            idempotency::claim(&tx, &key_ref, method, path, &hash, Utc::now() + KEY_TTL).await?;
        tx.commit().await?;
        match claim {
            Claim::New => Ok(Outcome::Run),
            Claim::Replay { status, body } => Ok(Outcome::Replay { status, body }),
            Claim::Mismatch => {
                let mut errors = xl_domain::FieldErrors::new();
                errors.add(
                    "Idempotency-Key",
                    "was already used with a different request",
                );
                Err(ServiceError::Unprocessable(errors))
            }
            Claim::InProgress => Err(ServiceError::Conflict(
                "a request with this Idempotency-Key is still in progress".into(),
            )),
        }
    }

    /// Records the response of a request that ran under a key.
    pub async fn idempotency_complete(
        &self,
        actor: &Actor,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), ServiceError> {
        let key_ref = KeyRef {
            org_id: actor.org_id,
            user_id: actor.user_id,
            key,
        };
        let tx = self.store.begin_write().await?;
        idempotency::complete(&tx, &key_ref, status, body).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Frees a key whose request failed, so the client can retry with it.
    pub async fn idempotency_release(&self, actor: &Actor, key: &str) -> Result<(), ServiceError> {
        let key_ref = KeyRef {
            org_id: actor.org_id,
            user_id: actor.user_id,
            key,
        };
        let tx = self.store.begin_write().await?;
        idempotency::release(&tx, &key_ref).await?;
        tx.commit().await?;
        Ok(())
    }
}
