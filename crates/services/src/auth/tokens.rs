//! JSON Web Tokens signed with the server's shared secret (HS256).

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use xl_domain::{Email, Role};

use crate::ServiceError;

/// The claims an access token carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The subject: a stable id of the user at the issuer.
    pub sub: String,
    /// The user's email address.
    pub email: String,
    /// The display name.
    pub name: String,
    /// The email domain.
    pub domain: String,
    /// `USER` or `ADMIN`.
    pub role: Role,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// The organisation, when the issuer assigns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl Claims {
    /// Claims for a user, valid for `ttl` from now.
    pub fn for_user(email: &Email, name: &str, role: Role, ttl: Duration) -> Self {
        let now = Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        Claims {
            sub: email.as_str().to_owned(),
            email: email.as_str().to_owned(),
            name: name.to_owned(),
            domain: email.domain().to_owned(),
            role,
            exp: now.saturating_add(ttl),
            iat: now,
            org: None,
            iss: None,
            aud: None,
        }
    }
}

/// Signs and checks HS256 tokens with one shared secret.
#[derive(Clone)]
pub struct JwtSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSigner { .. }")
    }
}

impl JwtSigner {
    /// A signer for the given secret.
    pub fn new(secret: &[u8]) -> Self {
        JwtSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Signs the claims.
    pub fn sign(&self, claims: &Claims) -> Result<String, ServiceError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(
            |err| {
                tracing::error!(error = %err, "signing a token failed");
                ServiceError::Unavailable("could not sign the token".into())
            },
        )
    }

    /// Verifies signature and expiry, returning the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, ServiceError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| ServiceError::Unauthenticated(format!("invalid token: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_claims_verify_with_the_same_secret_only() {
        let signer = JwtSigner::new(b"0123456789abcdef0123456789abcdef");
        let email = Email::parse("ada@example.com").unwrap();
        let claims = Claims::for_user(&email, "Ada", Role::Admin, Duration::from_secs(3600));
        let token = signer.sign(&claims).unwrap();
        assert_eq!(signer.verify(&token).unwrap(), claims);

        let other = JwtSigner::new(b"another-secret-another-secret-xx");
        assert!(matches!(
            other.verify(&token),
            Err(ServiceError::Unauthenticated(_))
        ));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let signer = JwtSigner::new(b"0123456789abcdef0123456789abcdef");
        let email = Email::parse("ada@example.com").unwrap();
        let mut claims = Claims::for_user(&email, "Ada", Role::User, Duration::from_secs(60));
        claims.exp = Utc::now().timestamp() - 3600;
        let token = signer.sign(&claims).unwrap();
        assert!(signer.verify(&token).is_err());
    }
}
