//! The one-time sign-in link of a fresh local server: with no sign-in
//! method configured, `xl serve` on loopback prints a link (as Jupyter
//! does) whose secret, redeemed once within its lifetime, signs the person
//! at the terminal in as the local administrator.
//!
//! The secret is kept only in this process's memory, as its SHA-256, so a
//! restart makes a new one and nothing on disk can be replayed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use xl_domain::{Email, Role};

use super::sessions::{ClientInfo, TokenPair};
use super::{AuthFailure, Identity, random_secret};
use crate::{ServiceError, Services};

/// How long a printed link stays valid.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// The prefix of sign-in link secrets.
pub const LINK_PREFIX: &str = "xll_";

/// The account the link signs in: an administrator of an org of its own
/// (the `.localhost` domain is reserved, RFC 6761, so no real person's
/// address can collide with it).
pub const LOCAL_ADMIN_EMAIL: &str = "admin@console.localhost";

/// The open link, if any: the secret's hash and when it expires.
#[derive(Debug, Default)]
pub(crate) struct SignInLink {
    open: Mutex<Option<([u8; 32], Instant)>>,
}

impl SignInLink {
    /// Replaces any open link with a new one and returns its secret.
    fn issue(&self, ttl: Duration) -> String {
        let secret = random_secret(LINK_PREFIX);
        let hash = Sha256::digest(secret.as_bytes()).into();
        if let Ok(mut open) = self.open.lock() {
            *open = Some((hash, Instant::now() + ttl));
        }
        secret
    }

    /// Whether a link is open and not expired.
    fn is_open(&self) -> bool {
        self.open
            .lock()
            .is_ok_and(|open| open.is_some_and(|(_, expires)| Instant::now() < expires))
    }

    /// Whether `secret` is the open link's; the link is closed by the
    /// first attempt that matches, and an expired one by any attempt.
    fn redeem(&self, secret: &str) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return false;
        };
        let Some((hash, expires)) = *open else {
            return false;
        };
        if Instant::now() >= expires {
            *open = None;
            return false;
        }
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        // Comparing hashes keeps the comparison's time independent of how
        // much of the secret a guess got right.
        if presented != hash {
            return false;
        }
        *open = None;
        true
    }
}

impl Services {
    /// Opens a one-time sign-in link valid for `ttl`, replacing any open
    /// one, and returns its secret (to print, never to store).
    pub fn issue_sign_in_link(&self, ttl: Duration) -> String {
        self.auth().link.issue(ttl)
    }

    /// Whether a sign-in link is open (printed and not yet used or expired).
    pub fn sign_in_link_open(&self) -> bool {
        self.auth().link.is_open()
    }

    /// Redeems the open sign-in link: signs in the local administrator
    /// (made on first use) and returns a new session's tokens. A secret
    /// that is not the open link's, or a link used or expired, is 401.
    pub async fn redeem_sign_in_link(
        &self,
        secret: &str,
        client: ClientInfo,
    ) -> Result<TokenPair, ServiceError> {
        if !self.auth().link.redeem(secret.trim()) {
            return Err(ServiceError::Unauthenticated(
                AuthFailure::InvalidSignInLink,
            ));
        }
        let email = Email::parse(LOCAL_ADMIN_EMAIL)?;
        let user = self
            .upsert_identity(Identity::trusted(email, "Local admin", Role::Admin))
            .await?;
        self.start_session(&user, client).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_works_once() {
        let link = SignInLink::default();
        let secret = link.issue(LINK_TTL);
        assert!(secret.starts_with(LINK_PREFIX));
        assert!(link.is_open());
        assert!(!link.redeem("xll_guess"));
        assert!(link.redeem(&secret));
        assert!(!link.redeem(&secret));
        assert!(!link.is_open());
    }

    #[test]
    fn an_expired_link_does_not_work() {
        let link = SignInLink::default();
        let secret = link.issue(Duration::ZERO);
        assert!(!link.redeem(&secret));
    }

    #[test]
    fn a_new_link_replaces_the_old() {
        let link = SignInLink::default();
        let old = link.issue(LINK_TTL);
        let new = link.issue(LINK_TTL);
        assert!(!link.redeem(&old));
        assert!(link.redeem(&new));
    }

    #[test]
    fn no_link_is_open_by_default() {
        assert!(!SignInLink::default().redeem("xll_anything"));
    }
}
