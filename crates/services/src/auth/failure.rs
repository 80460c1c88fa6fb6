//! Why authentication failed; each reason has a problem type of its own so
//! clients can tell an expired token from a forged one.

use jsonwebtoken::errors::ErrorKind;

/// A reason to answer 401.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No bearer token, cookie or API key was sent.
    #[error("authentication required: send a bearer token, the auth cookie or an API key")]
    MissingCredentials,
    /// The token is not a well-formed JWT.
    #[error("the token is malformed")]
    MalformedToken,
    /// The token's algorithm is not accepted (`none`, or RS256 without JWKS…).
    #[error("the token's signing algorithm is not accepted")]
    AlgorithmNotAllowed,
    /// The token names a key the JWKS does not have.
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// The token has expired (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// A required claim is missing or a claim is wrong (iss, aud, nbf).
    #[error("the token's claims are not acceptable: {0}")]
    BadClaims(String),
    /// The email domain is not on the allow-list.
    #[error("the email domain {0} is not allowed to sign in")]
    DomainNotAllowed(String),
    /// The token's session was revoked (logout, or refresh-token reuse).
    #[error("the session has been revoked")]
    SessionRevoked,
    /// The refresh token is unknown, expired or already used.
    #[error("the refresh token is invalid or expired")]
    InvalidRefreshToken,
    /// A refresh token was used twice; the whole session was revoked.
    #[error("the refresh token was already used; the session has been revoked")]
    RefreshTokenReused,
    /// The API key is unknown, revoked or expired.
    #[error("the API key is invalid, revoked or expired")]
    InvalidApiKey,
    /// An OAuth sign-in failed (bad state, refused code, unverified email).
    #[error("sign-in failed: {0}")]
    OAuth(String),
    /// An identity provider's token does not say the email is verified.
    #[error("the token's email address is not verified (email_verified must be true)")]
    EmailNotVerified,
    /// The address belongs to an account bound to another identity of the
    /// same issuer.
    #[error("this address belongs to an account bound to another identity")]
    IdentityMismatch,
    /// The credential was issued before its user was deleted.
    #[error("the user of this credential has been deleted")]
    UserDeleted,
    /// The token's org claim names an existing org this address may not join.
    #[error("the address may not join the organisation the token names")]
    OrgNotJoinable,
    /// The one-time sign-in link is unknown, used or expired.
    #[error(
        "the sign-in link is unknown, already used or expired; restart the server for a new one"
    )]
    InvalidSignInLink,
}

impl AuthFailure {
    /// The problem type slug.
    pub fn slug(&self) -> &'static str {
        match self {
            AuthFailure::MissingCredentials => "authentication-required",
            AuthFailure::MalformedToken => "malformed-token",
            AuthFailure::AlgorithmNotAllowed => "algorithm-not-allowed",
            AuthFailure::UnknownKey => "unknown-key",
            AuthFailure::BadSignature => "invalid-signature",
            AuthFailure::Expired => "token-expired",
            AuthFailure::BadClaims(_) => "invalid-claims",
            AuthFailure::DomainNotAllowed(_) => "domain-not-allowed",
            AuthFailure::SessionRevoked => "session-revoked",
            AuthFailure::InvalidRefreshToken => "invalid-refresh-token",
            AuthFailure::RefreshTokenReused => "refresh-token-reused",
            AuthFailure::InvalidApiKey => "invalid-api-key",
            AuthFailure::OAuth(_) => "oauth-failed",
            AuthFailure::EmailNotVerified => "email-not-verified",
            AuthFailure::IdentityMismatch => "identity-mismatch",
            AuthFailure::UserDeleted => "user-deleted",
            AuthFailure::OrgNotJoinable => "org-not-joinable",
            AuthFailure::InvalidSignInLink => "invalid-sign-in-link",
        }
    }

    /// Classifies a jsonwebtoken error.
    pub fn from_jwt(err: jsonwebtoken::errors::Error) -> Self {
        match err.kind() {
            ErrorKind::ExpiredSignature => AuthFailure::Expired,
            ErrorKind::InvalidSignature => AuthFailure::BadSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::InvalidKeyFormat => AuthFailure::AlgorithmNotAllowed,
            ErrorKind::InvalidIssuer => AuthFailure::BadClaims("wrong issuer".into()),
            ErrorKind::InvalidAudience => AuthFailure::BadClaims("wrong audience".into()),
            ErrorKind::ImmatureSignature => AuthFailure::BadClaims("not valid yet".into()),
            ErrorKind::MissingRequiredClaim(claim) => {
                AuthFailure::BadClaims(format!("missing {claim}"))
            }
            _ => AuthFailure::MalformedToken,
        }
    }
}
