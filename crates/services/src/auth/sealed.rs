//! Small values the server hands out and takes back unchanged, such as the
//! OAuth state cookie and WebSocket tickets: `base64url(json).base64url(mac)`,
//! an HMAC-SHA256 under the server's secret and a context that keeps one
//! kind of value from being accepted as another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

fn mac(secret: &[u8], context: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(context);
    mac
}

/// Seals a value under `secret` for `context`.
pub(crate) fn seal(
    secret: &[u8],
    context: &[u8],
    value: &impl Serialize,
) -> Result<String, serde_json::Error> {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value)?);
    let mut mac = mac(secret, context);
    mac.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Ok(format!("{payload}.{signature}"))
}

/// The value sealed in `token`, if it was sealed under `secret` for
/// `context` (the signature is compared in constant time).
pub(crate) fn open<T: DeserializeOwned>(secret: &[u8], context: &[u8], token: &str) -> Option<T> {
    let (payload, signature) = token.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let mut mac = mac(secret, context);
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_secret_and_context() {
        let token = seal(b"secret", b"a:", &("x", 1)).unwrap();
        assert_eq!(
            open::<(String, i32)>(b"secret", b"a:", &token),
            Some(("x".into(), 1))
        );
        assert_eq!(open::<(String, i32)>(b"other", b"a:", &token), None);
        assert_eq!(open::<(String, i32)>(b"secret", b"b:", &token), None);
        let (payload, _) = token.split_once('.').unwrap();
        let forged = format!("{payload}.AAAA");
        assert_eq!(open::<(String, i32)>(b"secret", b"a:", &forged), None);
    }
}
