//! Sign-in with Google and GitHub: the OAuth 2.0 authorization-code flow
//! with PKCE and `state`.

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
