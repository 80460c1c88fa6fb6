//! A short-lived cache of authenticated callers, so a busy client's every
//! request does not re-verify its token and re-read its user.
//!
//! An entry lives at most `ttl` and never past its token's expiry. Changes
//! made through this process (logout, session or key revocation, a role
//! change, a deleted user) drop the affected entries at once; another replica
//! notices within `ttl`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use xl_domain::{Actor, ApiKeyId, Credential, SessionId, UserId};

/// Most entries kept; past it the cache starts over (cheap, and rare).
const MAX_ENTRIES: usize = 50_000;

/// Authenticated callers by credential.
#[derive(Debug)]
pub struct ActorCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Actor, Instant)>>,
}

impl ActorCache {
    /// A cache whose entries live at most `ttl` (zero disables it).
    pub fn new(ttl: Duration) -> Self {
        ActorCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The caller behind a credential, if cached and still valid.
    pub fn get(&self, credential: &str) -> Option<Actor> {
        if self.ttl.is_zero() {
            return None;
        }
        let mut entries = self.entries.lock().ok()?;
        match entries.get(credential) {
            Some((actor, until)) if *until > Instant::now() => Some(actor.clone()),
            Some(_) => {
                entries.remove(credential);
                None
            }
            None => None,
        }
    }

    /// Remembers a caller until `ttl` from now or `expires_in`, whichever is sooner.
    pub fn put(&self, credential: &str, actor: &Actor, expires_in: Option<Duration>) {
        if self.ttl.is_zero() {
            return;
        }
        let life = expires_in.map_or(self.ttl, |left| left.min(self.ttl));
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                credential.to_owned(),
                (actor.clone(), Instant::now() + life),
            );
        }
    }

    fn retain(&self, keep: impl Fn(&Actor) -> bool) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (actor, _)| keep(actor));
        }
    }

    /// Forgets every credential of a user (role change, deletion).
    pub fn forget_user(&self, user: UserId) {
        self.retain(|actor| actor.user_id != user);
    }

    /// Forgets the tokens of a session (logout, revocation).
    pub fn forget_session(&self, session: SessionId) {
        self.retain(|actor| actor.session() != Some(session));
    }

    /// Forgets an API key (revocation).
    pub fn forget_api_key(&self, key: ApiKeyId) {
        self.retain(|actor| actor.credential != Credential::ApiKey { key });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xl_domain::{Email, OrgId, Role};

    fn actor(session: Option<SessionId>) -> Actor {
        Actor {
            user_id: UserId::new(),
            org_id: OrgId::new(),
            role: Role::User,
            email: Email::parse("a@b.co").unwrap(),
            credential: Credential::Jwt { session },
        }
    }

    #[test]
    fn entries_expire_with_their_token_and_can_be_forgotten() {
        let cache = ActorCache::new(Duration::from_secs(60));
        let session = SessionId::new();
        let a = actor(Some(session));
        cache.put("t1", &a, None);
        assert_eq!(cache.get("t1"), Some(a.clone()));
        cache.forget_session(session);
        assert_eq!(cache.get("t1"), None);

        cache.put("t2", &a, Some(Duration::ZERO));
        assert_eq!(
            cache.get("t2"),
            None,
            "an expiring token is not kept past its expiry"
        );

        let b = actor(None);
        cache.put("t3", &b, None);
        cache.forget_user(b.user_id);
        assert_eq!(cache.get("t3"), None);

        let off = ActorCache::new(Duration::ZERO);
        off.put("t4", &b, None);
        assert_eq!(off.get("t4"), None);
    }
}
