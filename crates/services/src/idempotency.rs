//! Creates that a client may send again. A create sent with a key records
//! what it made (the ids of its resources) in its own transaction, so the
//! record exists exactly when the create does; the same key with the same
//! request within 24 hours makes nothing and gets what the first made, read
//! back as it is now; the same key with a different request is refused.

use chrono::{TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xl_domain::{Actor, DomainError, MessageId};
use xl_store::repo::idempotency::{self, KeyRef, Recorded};
use xl_store::{StoreError, Tx};

use crate::{ServiceError, Services};

/// How long a key is remembered.
pub const KEY_TTL: TimeDelta = TimeDelta::hours(24);

/// A create the caller may send more than once: its key, and a fingerprint
/// of everything that makes the request what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    key: String,
    fingerprint: String,
}

impl Retry {
    /// A key (1 to 255 visible ASCII characters, named `field` in the error)
    /// and the parts of the request it guards (for HTTP: the method, the
    /// path with its query, and the body), fingerprinted together.
    pub fn new(field: &str, key: &str, parts: &[&[u8]]) -> Result<Self, ServiceError> {
        let ok = (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(ServiceError::Invalid(DomainError::invalid(
                field,
                "must be 1 to 255 visible ASCII characters",
            )));
        }
        let mut digest = Sha256::new();
        for part in parts {
            // Length-prefixed, so that no two splits of the same bytes agree.
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        let fingerprint = digest
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Retry {
            key: key.to_owned(),
            fingerprint,
        })
    }

    fn key_ref<'a>(&'a self, actor: &Actor) -> KeyRef<'a> {
        KeyRef {
            org_id: actor.org_id,
            user_id: actor.user_id,
            key: &self.key,
        }
    }
}

/// The result of a create that may have been sent before.
#[derive(Clone, Debug, PartialEq)]
pub enum Once<T> {
    /// Made by this request.
    Made(T),
    /// Made by an earlier request with the same key (read back now).
    Replayed(T),
}

impl<T> Once<T> {
    /// Whether an earlier request made it.
    pub fn is_replayed(&self) -> bool {
        matches!(self, Once::Replayed(_))
    }

    /// The result, made or replayed.
    pub fn into_inner(self) -> T {
        match self {
            Once::Made(value) | Once::Replayed(value) => value,
        }
    }

    /// The same outcome of another value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Once<U> {
        match self {
            Once::Made(value) => Once::Made(f(value)),
            Once::Replayed(value) => Once::Replayed(f(value)),
        }
    }
}

/// What a create made, as its key records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Made {
    /// The message posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageId>,
    /// The assistant reply started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<MessageId>,
}

fn corrupt(err: &serde_json::Error) -> ServiceError {
    StoreError::Corrupt(format!("idempotency record: {err}")).into()
}

impl Services {
    /// What an earlier request with this key made, if it did; 422 naming
    /// `Idempotency-Key` if that request asked for something else.
    pub(crate) async fn recall(
        &self,
        actor: &Actor,
        retry: &Retry,
    ) -> Result<Option<Made>, ServiceError> {
        let Some(recorded) = idempotency::find(self.store.reader(), &retry.key_ref(actor)).await?
        else {
            return Ok(None);
        };
        if recorded.request_hash != retry.fingerprint {
            let mut errors = xl_domain::FieldErrors::new();
            errors.add(
                "Idempotency-Key",
                "was already used with a different request",
            );
            return Err(ServiceError::Unprocessable(errors));
        }
        serde_json::from_str(&recorded.resource)
            .map(Some)
            .map_err(|err| corrupt(&err))
    }

    /// Records what a create made inside its transaction. `false` if a
    /// concurrent request with the key committed first: drop the
    /// transaction (nothing of this request is written) and recall.
    pub(crate) async fn record_made(
        &self,
        tx: &Tx,
        actor: &Actor,
        retry: &Retry,
        made: Made,
    ) -> Result<bool, ServiceError> {
        let recorded = Recorded {
            request_hash: retry.fingerprint.clone(),
            resource: serde_json::to_string(&made).map_err(|err| corrupt(&err))?,
        };
        Ok(idempotency::record(tx, &retry.key_ref(actor), recorded, Utc::now() + KEY_TTL).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_requests_apart_and_keys_are_checked() {
        let of = |parts: &[&[u8]]| Retry::new("key", "k", parts).unwrap().fingerprint;
        assert_eq!(of(&[b"POST", b"{}"]), of(&[b"POST", b"{}"]));
        assert_ne!(of(&[b"POST", b"{}"]), of(&[b"POST", b"{ }"]));
        assert_ne!(
            of(&[b"ab", b"c"]),
            of(&[b"a", b"bc"]),
            "parts are delimited"
        );
        assert!(Retry::new("key", "", &[]).is_err());
        assert!(Retry::new("key", "has space", &[]).is_err());
        assert!(Retry::new("key", &"x".repeat(256), &[]).is_err());
    }
}
