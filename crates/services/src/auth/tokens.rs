//! The claims of an access token and HS256 signing with the server's secret.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use xl_domain::{Email, Role};

use crate::ServiceError;
use crate::auth::AuthFailure;

/// The claims an access token carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The subject: a stable id of the user at the issuer.
    pub sub: String,
    /// The user's email address.
    pub email: String,
    /// The display name.
    #[serde(default)]
    pub name: String,
    /// The email domain.
    #[serde(default)]
    pub domain: String,
    /// `USER` or `ADMIN` (any case; absent means USER).
    #[serde(default = "default_role", deserialize_with = "lenient_role")]
    pub role: Role,
    /// Expiry, seconds since the epoch. (Absent only in a token that
    /// verification refuses; the default lets that refusal name the claim.)
    #[serde(default)]
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    #[serde(default)]
    pub iat: i64,
    /// The organisation, when the issuer assigns one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audience (a string or a list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
    /// The login session this token was issued for, when this server issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Whether the identity provider verified the address (`true`, or the
    /// string `"true"` as some providers send it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<serde_json::Value>,
}

impl Claims {
    /// Whether `email_verified` is present and true.
    pub fn email_is_verified(&self) -> bool {
        match &self.email_verified {
            Some(serde_json::Value::Bool(verified)) => *verified,
            Some(serde_json::Value::String(text)) => text.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }
}

fn default_role() -> Role {
    Role::User
}

fn lenient_role<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Role, D::Error> {
    let raw = Option::<String>::deserialize(deserializer)?;
    match raw {
        None => Ok(Role::User),
        Some(raw) => raw
            .to_ascii_uppercase()
            .parse()
            .map_err(serde::de::Error::custom),
    }
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
            sid: None,
            email_verified: None,
        }
    }
}

/// Signs HS256 tokens with one shared secret.
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

    /// Verifies signature and expiry only (no issuer, audience or domain
    /// rules): for tools that check tokens this signer made.
    pub fn verify(&self, token: &str) -> Result<Claims, ServiceError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_aud = false;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| ServiceError::Unauthenticated(AuthFailure::from_jwt(err)))
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
    fn roles_are_read_leniently() {
        let claims: Claims =
            serde_json::from_str(r#"{"sub":"1","email":"a@b.co","role":"admin","exp":1}"#).unwrap();
        assert_eq!(claims.role, Role::Admin);
        let claims: Claims =
            serde_json::from_str(r#"{"sub":"1","email":"a@b.co","exp":1}"#).unwrap();
        assert_eq!(claims.role, Role::User);
        assert!(
            serde_json::from_str::<Claims>(r#"{"sub":"1","email":"a@b.co","role":"root","exp":1}"#)
                .is_err()
        );
    }
}
