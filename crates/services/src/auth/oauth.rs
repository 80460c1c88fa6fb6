//! Sign-in with Google and GitHub: the OAuth 2.0 authorization-code flow
//! with PKCE and `state`.
//!
//! Starting a sign-in makes a random `state` and PKCE verifier and keeps
//! them, with the provider, the page to return to and an expiry, in a value
//! the adapter puts in a short-lived cookie. The value is signed with
//! HMAC-SHA256 under the server's JWT secret, so the server needs no storage
//! for pending sign-ins and a browser cannot forge or alter one. The callback
//! checks the cookie against the query, exchanges the code (with the
//! verifier), reads the provider's profile and signs the user in.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use reqwest::header::{ACCEPT, USER_AGENT};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xl_domain::{Email, Role};

use super::sessions::{ClientInfo, TokenPair};
use super::{AuthFailure, Identity, Presented, random_secret, sealed};
use crate::{ServiceError, Services};

/// How long a started sign-in stays valid (and the cookie's lifetime).
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// How long each call to a provider may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The issuer recorded for identities signed in with Google.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The issuer recorded for identities signed in with GitHub.
pub const GITHUB_ISSUER: &str = "https://github.com";

/// Sent to every provider; GitHub refuses API calls without a user agent.
const CLIENT_USER_AGENT: &str = "experience-layer";

/// Prefixed to what the state cookie signs, so a signature made under the
/// same secret for another purpose (an HS256 JWT) can never pass for one.
const SIGNING_CONTEXT: &[u8] = b"xl_oauth.v1:";

/// The longest `return_to` kept; the whole state must fit in one cookie.
const MAX_RETURN_TO: usize = 1024;

/// Where the browser goes after signing in when no (safe) `return_to` was given.
const DEFAULT_RETURN_TO: &str = "/";

/// One provider's client registration and endpoints.
#[derive(Clone, Debug)]
pub struct OAuthProviderConfig {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// Where the browser is sent to consent.
    pub authorize_url: String,
    /// Where the code is exchanged for a token.
    pub token_url: String,
    /// Google: the userinfo endpoint. GitHub: the API base (`/user`, `/user/emails`).
    pub api_url: String,
}

/// The OAuth settings.
#[derive(Clone, Debug, Default)]
pub struct OAuthConfig {
    /// Google, when configured.
    pub google: Option<OAuthProviderConfig>,
    /// GitHub, when configured.
    pub github: Option<OAuthProviderConfig>,
    /// The server's public base URL, used to build redirect URIs
    /// (`{public_url}/api/v1/auth/{provider}/callback`); derived from the
    /// request when absent.
    pub public_url: Option<String>,
}

impl OAuthConfig {
    /// A provider's registration, if it is configured.
    pub fn provider(&self, provider: Provider) -> Option<&OAuthProviderConfig> {
        match provider {
            Provider::Google => self.google.as_ref(),
            Provider::GitHub => self.github.as_ref(),
        }
    }

    /// The callback URL registered with the provider: on the public URL if
    /// one is configured, else on the origin the request came to.
    pub fn redirect_uri(&self, provider: Provider, request_origin: &str) -> String {
        let base = self.public_url.as_deref().unwrap_or(request_origin);
        format!(
            "{}/api/v1/auth/{}/callback",
            base.trim_end_matches('/'),
            provider.as_str()
        )
    }
}

/// An identity provider one can sign in with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Google (OpenID Connect userinfo).
    Google,
    /// GitHub (REST API).
    GitHub,
}

impl Provider {
    /// The name used in paths and in the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::GitHub => "github",
        }
    }

    fn scope(self) -> &'static str {
        match self {
            Provider::Google => "openid email profile",
            Provider::GitHub => "read:user user:email",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::GitHub => "GitHub",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A started sign-in: where to send the browser, and what to keep in its
/// cookie until the callback.
#[derive(Clone, Debug)]
pub struct OAuthStart {
    /// The provider's consent page with every parameter filled in.
    pub authorize_url: String,
    /// The signed state, to be stored in the cookie for [`STATE_TTL`].
    pub state_cookie: String,
}

/// What the provider sent back to the callback.
#[derive(Clone, Debug, Default)]
pub struct OAuthCallback {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` given at the start.
    pub state: Option<String>,
    /// The provider's error code, when the user declined or it failed.
    pub error: Option<String>,
}

/// A finished sign-in.
#[derive(Clone, Debug)]
pub struct OAuthSignIn {
    /// The new session's tokens.
    pub tokens: TokenPair,
    /// The relative path to send the browser to.
    pub return_to: String,
}

/// What the state cookie holds between the start and the callback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct PendingSignIn {
    provider: Provider,
    state: String,
    verifier: String,
    return_to: String,
    /// Unix seconds.
    expires_at: i64,
}

impl Services {
    /// Starts signing in with a provider: the URL of its consent page and the
    /// signed state for the cookie. `request_origin` (`scheme://host`) builds
    /// the redirect URI when no public URL is configured. A `return_to` that
    /// is not a relative path is ignored, so the sign-in cannot be used to
    /// redirect elsewhere. An unconfigured provider is 404.
    pub fn oauth_start(
        &self,
        provider: Provider,
        request_origin: &str,
        return_to: Option<&str>,
    ) -> Result<OAuthStart, ServiceError> {
        let oauth = &self.auth.config.oauth;
        let config = oauth
            .provider(provider)
            .ok_or(ServiceError::NotFound("route"))?;
        let return_to = match return_to {
            None => DEFAULT_RETURN_TO,
            Some(raw) => safe_return_to(raw).unwrap_or_else(|| {
                tracing::info!(%provider, "ignoring a return_to that is not a relative path");
                DEFAULT_RETURN_TO
            }),
        };
        let pending = PendingSignIn {
            provider,
            state: random_secret(""),
            verifier: random_secret(""),
            return_to: return_to.to_owned(),
            expires_at: Utc::now().timestamp() + STATE_TTL.as_secs().cast_signed(),
        };
        let mut url = reqwest::Url::parse(&config.authorize_url)
            .map_err(|err| misconfigured(provider, "authorize_url", err))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &config.client_id)
            .append_pair(
                "redirect_uri",
                &oauth.redirect_uri(provider, request_origin),
            )
            .append_pair("scope", provider.scope())
            .append_pair("state", &pending.state)
            .append_pair("code_challenge", &pkce_challenge(&pending.verifier))
            .append_pair("code_challenge_method", "S256");
        let state_cookie = sign_pending(self.auth.config.jwt_secret.as_bytes(), &pending)?;
        Ok(OAuthStart {
            authorize_url: url.into(),
            state_cookie,
        })
    }

    /// Finishes signing in: checks the callback against the state cookie,
    /// exchanges the code, reads the provider's profile, finds or creates the
    /// user (the domain allow-list applies) and opens a session.
    ///
    /// Any mismatch, a refused code or an unverified email is 401
    /// `oauth-failed`; a provider that cannot be reached is 503.
    pub async fn oauth_callback(
        &self,
        provider: Provider,
        request_origin: &str,
        callback: OAuthCallback,
        state_cookie: Option<&str>,
        client: ClientInfo,
    ) -> Result<OAuthSignIn, ServiceError> {
        let oauth = &self.auth.config.oauth;
        let config = oauth
            .provider(provider)
            .ok_or(ServiceError::NotFound("route"))?;
        if let Some(error) = callback.error.as_deref() {
            return Err(failed(format!(
                "{} reported {}",
                provider.title(),
                safe_error_code(error)
            )));
        }
        let (Some(code), Some(state)) = (
            callback.code.as_deref().filter(|c| !c.is_empty()),
            callback.state.as_deref().filter(|s| !s.is_empty()),
        ) else {
            return Err(failed("the callback lacks code or state"));
        };
        let Some(cookie) = state_cookie.filter(|c| !c.is_empty()) else {
            return Err(failed(
                "the sign-in cookie is missing; start the sign-in again",
            ));
        };
        let pending = verify_pending(
            self.auth.config.jwt_secret.as_bytes(),
            cookie,
            Utc::now().timestamp(),
        )
        .map_err(failed)?;
        if pending.provider != provider {
            return Err(failed("the sign-in was started with another provider"));
        }
        if !constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
            return Err(failed("the state does not match the sign-in cookie"));
        }
        let redirect_uri = oauth.redirect_uri(provider, request_origin);
        let access_token = self
            .exchange_code(provider, config, &redirect_uri, code, &pending.verifier)
            .await?;
        let identity = match provider {
            Provider::Google => self.google_identity(config, &access_token).await?,
            Provider::GitHub => self.github_identity(config, &access_token).await?,
        };
        let user = self.upsert_identity(identity).await?;
        let tokens = self.start_session(&user, client).await?;
        tracing::info!(user = %user.id, %provider, "signed in with OAuth");
        // The return path was checked before it was signed; checking again
        // costs nothing and keeps an open redirect out even if that changes.
        let return_to = safe_return_to(&pending.return_to)
            .unwrap_or(DEFAULT_RETURN_TO)
            .to_owned();
        Ok(OAuthSignIn { tokens, return_to })
    }

    /// Trades the code (and the PKCE verifier) for an access token.
    async fn exchange_code(
        &self,
        provider: Provider,
        config: &OAuthProviderConfig,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
    ) -> Result<String, ServiceError> {
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: Option<String>,
            error: Option<String>,
        }
        let response = self
            .http
            .post(&config.token_url)
            .timeout(UPSTREAM_TIMEOUT)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, CLIENT_USER_AGENT)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("client_id", config.client_id.as_str()),
                ("client_secret", config.client_secret.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|err| unreachable_provider(provider, "token exchange", &err))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(unreachable_provider(provider, "token exchange", &status));
        }
        let body: Option<TokenResponse> = response.json().await.ok();
        let error = body.as_ref().and_then(|b| b.error.as_deref());
        // These say our registration is wrong, not the user's code: an
        // operator must fix it, and the user cannot do better by retrying.
        if let Some(
            code @ ("invalid_client"
            | "unauthorized_client"
            | "incorrect_client_credentials"
            | "redirect_uri_mismatch"),
        ) = error
        {
            return Err(misconfigured(provider, "client registration", code));
        }
        // A refused code is a client error at Google but a 200 with an
        // `error` field at GitHub; both mean this sign-in cannot go on.
        if status.is_client_error() || error.is_some() {
            let reason = error.map_or_else(|| status.to_string(), safe_error_code);
            tracing::info!(%provider, %reason, "authorization code refused");
            return Err(failed(format!(
                "{} refused the authorization code",
                provider.title()
            )));
        }
        match body.and_then(|b| b.access_token).filter(|t| !t.is_empty()) {
            Some(token) => Ok(token),
            None => Err(unreachable_provider(
                provider,
                "token exchange",
                &"the response has no access_token",
            )),
        }
    }

    /// The verified identity behind a Google access token (OIDC userinfo).
    async fn google_identity(
        &self,
        config: &OAuthProviderConfig,
        access_token: &str,
    ) -> Result<Identity, ServiceError> {
        #[derive(Deserialize)]
        struct UserInfo {
            sub: String,
            email: Option<String>,
            #[serde(default)]
            email_verified: Flag,
            name: Option<String>,
            picture: Option<String>,
        }
        let info: UserInfo = self
            .fetch_json(
                Provider::Google,
                &config.api_url,
                access_token,
                "application/json",
            )
            .await?;
        let Some(email) = info.email else {
            return Err(failed("Google did not share an email address"));
        };
        if !info.email_verified.is_true() {
            return Err(failed("the Google email address is not verified"));
        }
        Ok(Identity {
            email: provider_email(&email)?,
            name: info.name.unwrap_or_default(),
            role: Role::User,
            org: None,
            org_claim_trusted: false,
            issuer: GOOGLE_ISSUER.to_owned(),
            subject: info.sub,
            avatar_url: info.picture,
            presented: Presented::Now,
        })
    }

    /// The verified identity behind a GitHub access token: the profile, and
    /// the primary email if GitHub has verified it.
    async fn github_identity(
        &self,
        config: &OAuthProviderConfig,
        access_token: &str,
    ) -> Result<Identity, ServiceError> {
        #[derive(Deserialize)]
        struct GitHubUser {
            id: u64,
            login: String,
            name: Option<String>,
            avatar_url: Option<String>,
        }
        #[derive(Deserialize)]
        struct GitHubEmail {
            email: String,
            #[serde(default)]
            primary: bool,
            #[serde(default)]
            verified: bool,
        }
        const ACCEPT_GITHUB: &str = "application/vnd.github+json";
        let base = config.api_url.trim_end_matches('/');
        let user: GitHubUser = self
            .fetch_json(
                Provider::GitHub,
                &format!("{base}/user"),
                access_token,
                ACCEPT_GITHUB,
            )
            .await?;
        let emails: Vec<GitHubEmail> = self
            .fetch_json(
                Provider::GitHub,
                &format!("{base}/user/emails"),
                access_token,
                ACCEPT_GITHUB,
            )
            .await?;
        let Some(primary) = emails.iter().find(|e| e.primary && e.verified) else {
            return Err(failed(
                "the GitHub account has no verified primary email address",
            ));
        };
        let name = user
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(user.login);
        Ok(Identity {
            email: provider_email(&primary.email)?,
            name,
            role: Role::User,
            org: None,
            org_claim_trusted: false,
            issuer: GITHUB_ISSUER.to_owned(),
            subject: user.id.to_string(),
            avatar_url: user.avatar_url,
            presented: Presented::Now,
        })
    }

    /// GETs a provider API with the access token and decodes the JSON.
    async fn fetch_json<T: DeserializeOwned>(
        &self,
        provider: Provider,
        url: &str,
        access_token: &str,
        accept: &str,
    ) -> Result<T, ServiceError> {
        let response = self
            .http
            .get(url)
            .timeout(UPSTREAM_TIMEOUT)
            .bearer_auth(access_token)
            .header(ACCEPT, accept)
            .header(USER_AGENT, CLIENT_USER_AGENT)
            .send()
            .await
            .map_err(|err| unreachable_provider(provider, "profile", &err))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unreachable_provider(provider, "profile", &status));
        }
        response
            .json()
            .await
            .map_err(|err| unreachable_provider(provider, "profile", &err))
    }
}

/// A boolean that some Google endpoints send as the string `"true"`.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
    #[default]
    Missing,
}

impl Flag {
    fn is_true(&self) -> bool {
        match self {
            Flag::Bool(value) => *value,
            Flag::Text(text) => text.eq_ignore_ascii_case("true"),
            Flag::Missing => false,
        }
    }
}

/// The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `raw` if it is a path on this site: it starts with one `/` (`//host` and
/// `/\host` are other hosts to a browser) and holds only visible ASCII
/// (browsers drop tabs and newlines, which could turn `/\t/host` into
/// `//host`, and a `Location` header takes nothing else).
pub fn safe_return_to(raw: &str) -> Option<&str> {
    let safe = raw.starts_with('/')
        && !raw.starts_with("//")
        && raw.len() <= MAX_RETURN_TO
        && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    safe.then_some(raw)
}

/// `base64url(json).base64url(hmac)`.
fn sign_pending(secret: &[u8], pending: &PendingSignIn) -> Result<String, ServiceError> {
    sealed::seal(secret, SIGNING_CONTEXT, pending).map_err(|err| {
        tracing::error!(error = %err, "encoding the OAuth state failed");
        ServiceError::Unavailable("sign-in is unavailable right now".into())
    })
}

/// The pending sign-in in a cookie, if the signature holds and it has not
/// expired at `now` (Unix seconds); else why not.
fn verify_pending(secret: &[u8], cookie: &str, now: i64) -> Result<PendingSignIn, &'static str> {
    let pending: PendingSignIn = sealed::open(secret, SIGNING_CONTEXT, cookie)
        .ok_or("the sign-in cookie is invalid; start the sign-in again")?;
    if pending.expires_at <= now {
        return Err("the sign-in took too long; start it again");
    }
    Ok(pending)
}

/// Equality whose time does not depend on where the inputs differ, so the
/// state cannot be guessed byte by byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A provider's error code, reduced to characters that are safe to echo.
fn safe_error_code(raw: &str) -> String {
    let code: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect();
    if code.is_empty() {
        "an error".to_owned()
    } else {
        code
    }
}

fn provider_email(raw: &str) -> Result<Email, ServiceError> {
    Email::parse(raw).map_err(|_| failed("the provider's email address is not usable"))
}

fn failed(reason: impl Into<String>) -> ServiceError {
    ServiceError::Unauthenticated(AuthFailure::OAuth(reason.into()))
}

/// A provider that failed or answered nonsense: the cause is logged, the
/// caller learns only which provider is unavailable.
fn unreachable_provider(provider: Provider, step: &str, cause: &dyn fmt::Display) -> ServiceError {
    tracing::warn!(%provider, step, cause = %cause, "OAuth provider call failed");
    ServiceError::Unavailable(format!(
        "{} sign-in is unavailable right now; try again later",
        provider.title()
    ))
}

fn misconfigured(provider: Provider, setting: &str, cause: impl fmt::Display) -> ServiceError {
    tracing::error!(%provider, setting, cause = %cause, "OAuth provider is misconfigured");
    ServiceError::Unavailable(format!("{} sign-in is unavailable", provider.title()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use hmac::{Hmac, Mac};

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn pending(expires_at: i64) -> PendingSignIn {
        PendingSignIn {
            provider: Provider::Google,
            state: "state".into(),
            verifier: "verifier".into(),
            return_to: "/threads".into(),
            expires_at,
        }
    }

    #[test]
    fn the_challenge_matches_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_signed_state_round_trips() {
        let cookie = sign_pending(SECRET, &pending(200)).unwrap();
        assert_eq!(verify_pending(SECRET, &cookie, 100).unwrap(), pending(200));
    }

    #[test]
    fn an_expired_state_is_refused() {
        let cookie = sign_pending(SECRET, &pending(200)).unwrap();
        assert!(verify_pending(SECRET, &cookie, 200).is_err());
    }

    #[test]
    fn another_secret_or_an_altered_payload_is_refused() {
        let cookie = sign_pending(SECRET, &pending(200)).unwrap();
        assert!(verify_pending(b"another secret of enough length!", &cookie, 100).is_err());
        let (_, signature) = cookie.split_once('.').unwrap();
        let mut forged = pending(200);
        forged.return_to = "/elsewhere".into();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert!(verify_pending(SECRET, &format!("{payload}.{signature}"), 100).is_err());
        assert!(verify_pending(SECRET, "no-dot", 100).is_err());
    }

    #[test]
    fn a_jwt_signature_does_not_sign_a_state() {
        // The same secret signs HS256 tokens; the context prefix keeps their
        // signatures from verifying a state whose payload is the JWT's input.
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&pending(200)).unwrap());
        let mut jwt_mac = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        jwt_mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(jwt_mac.finalize().into_bytes());
        assert!(verify_pending(SECRET, &format!("{payload}.{signature}"), 100).is_err());
    }

    #[test]
    fn only_relative_paths_are_returned_to() {
        for ok in ["/", "/threads/42?tab=files#top", "/a//b"] {
            assert_eq!(safe_return_to(ok), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "threads",
            "javascript:alert(1)",
            "/caf\u{e9}",
        ] {
            assert_eq!(safe_return_to(bad), None, "{bad:?}");
        }
        assert_eq!(
            safe_return_to(&format!("/{}", "a".repeat(MAX_RETURN_TO))),
            None
        );
    }

    #[test]
    fn states_compare_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn google_sends_verification_as_bool_or_text() {
        let parse = |json: &str| serde_json::from_str::<Flag>(json).unwrap().is_true();
        assert!(parse("true"));
        assert!(parse("\"true\""));
        assert!(!parse("false"));
        assert!(!parse("\"false\""));
    }

    #[test]
    fn redirect_uris_use_the_public_url_when_set() {
        let mut config = OAuthConfig::default();
        assert_eq!(
            config.redirect_uri(Provider::GitHub, "http://localhost:8080"),
            "http://localhost:8080/api/v1/auth/github/callback"
        );
        config.public_url = Some("https://chat.example.com/".into());
        assert_eq!(
            config.redirect_uri(Provider::Google, "http://localhost:8080"),
            "https://chat.example.com/api/v1/auth/google/callback"
        );
    }
}
