//! Who a verified identity is: the user bound to its (issuer, subject), an
//! existing account of its address, or a new user placed in an org by the
//! rules of docs/SECURITY.md (trusted claim, domain owner, invitation, an org
//! of one's own at a public mail provider, or the domain's org).

use chrono::{DateTime, Utc};
use xl_domain::mail_domains::is_public_mail_domain;
use xl_domain::users::User;
use xl_domain::{Email, Org, Role};
use xl_store::{Tx, repo};

use super::{AuthFailure, LOCAL_ISSUER, TOUCH_INTERVAL};
use crate::{ServiceError, Services};

impl Services {
    /// Finds or creates the user for a verified identity (a token, a dev
    /// login or an OAuth profile).
    ///
    /// - An identity seen before is its user, whatever address it now shows.
    /// - A new identity whose address has an account joins that account,
    ///   unless the account already has an identity from the same issuer
    ///   (then the address is someone else's at that issuer: refused).
    /// - Otherwise a user is created: in the org the (trusted) `org` claim
    ///   names; else the org owning the address's domain; else the org of a
    ///   pending invitation; else a new org for the domain (which it then
    ///   owns), or, at a public mail provider, an org of the person's own.
    ///
    /// The role is taken from the identity only when the user is created;
    /// afterwards the stored role is authoritative.
    pub async fn upsert_identity(&self, identity: Identity) -> Result<User, ServiceError> {
        let domain = identity.email.domain().to_owned();
        if !self.auth.config.domain_allowed(&domain) {
            return Err(ServiceError::Unauthenticated(
                AuthFailure::DomainNotAllowed(domain),
            ));
        }
        // A credential older than the deletion of its user stays dead.
        if let Presented::Token { issued_at } = identity.presented
            && let Some(deleted) =
                repo::identity::deleted_at(self.store.reader(), &identity.email).await?
            && issued_at.is_none_or(|at| at <= deleted)
        {
            return Err(ServiceError::Unauthenticated(AuthFailure::UserDeleted));
        }
        if let Some(user) =
            repo::identity::find_user(self.store.reader(), &identity.issuer, &identity.subject)
                .await?
        {
            self.seen(&user).await?;
            return Ok(user);
        }
        match self.enrol(&identity).await {
            // Another replica enrolled the same person between our read and
            // write (PostgreSQL; SQLite's writer serialises them): the second
            // pass finds what it wrote.
            Err(ServiceError::Store(err)) if err.is_conflict() => self.enrol(&identity).await,
            other => other,
        }
    }

    /// Binds a new identity to the account of its address, or creates the
    /// user, in one transaction.
    async fn enrol(&self, identity: &Identity) -> Result<User, ServiceError> {
        let tx = self.store.begin_write().await?;
        if let Some(user) =
            repo::identity::find_user(&tx, &identity.issuer, &identity.subject).await?
        {
            return Ok(user);
        }
        if let Some(user) = repo::users::find_by_email(&tx, &identity.email).await? {
            if repo::identity::has_identity_from(&tx, user.id, &identity.issuer).await? {
                return Err(ServiceError::Unauthenticated(AuthFailure::IdentityMismatch));
            }
            repo::identity::bind(&tx, user.id, &identity.issuer, &identity.subject).await?;
            tx.commit().await?;
            tracing::info!(user = %user.id, issuer = %identity.issuer, "identity bound to an existing user");
            return Ok(user);
        }
        let (org, role) = self.place(&tx, identity).await?;
        // A provider's display name is cleaned rather than refused.
        let name = xl_domain::text::sanitize_name(&identity.name, 200).unwrap_or_else(|| {
            identity
                .email
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        let user = repo::users::insert(
            &tx,
            repo::users::NewUserRow {
                org_id: org.id,
                subject: Some(identity.subject.clone()),
                email: identity.email.clone(),
                name,
                role,
                avatar_url: identity.avatar_url.clone(),
            },
        )
        .await?;
        repo::identity::bind(&tx, user.id, &identity.issuer, &identity.subject).await?;
        tx.commit().await?;
        tracing::info!(user = %user.id, org = %org.slug, "user created on first sight");
        Ok(user)
    }

    /// The org and role of a person signing in for the first time.
    async fn place(&self, tx: &Tx, identity: &Identity) -> Result<(Org, Role), ServiceError> {
        let domain = identity.email.domain();
        let claimed = identity
            .org
            .as_deref()
            .map(str::trim)
            .filter(|org| !org.is_empty())
            .map(str::to_ascii_lowercase);
        // The claim may name an org to create: one line, bounded, or no sign-in.
        if let Some(org) = &claimed
            && xl_domain::text::one_line(org, xl_domain::text::MAX_ORG_CHARS).is_err()
        {
            return Err(ServiceError::Unauthenticated(AuthFailure::BadClaims(
                format!(
                    "the org claim must be at most {} characters without control characters",
                    xl_domain::text::MAX_ORG_CHARS
                ),
            )));
        }
        let owner = repo::identity::domain_owner(tx, domain).await?;
        let invitation = repo::identity::pending_invitation(tx, &identity.email).await?;
        if let Some(slug) = claimed {
            let Some(org) = repo::orgs::find_by_slug(tx, &slug).await? else {
                return Ok((repo::orgs::find_or_create(tx, &slug).await?, identity.role));
            };
            if identity.org_claim_trusted || owner == Some(org.id) {
                return Ok((org, identity.role));
            }
            // An identity provider may name an existing org only for people
            // that org would take anyway: its domains, or its invitations.
            return match invitation.filter(|inv| inv.org_id == org.id) {
                Some(inv) => {
                    repo::identity::accept_invitation(tx, inv.id).await?;
                    Ok((org, inv.role))
                }
                None => Err(ServiceError::Unauthenticated(AuthFailure::OrgNotJoinable)),
            };
        }
        if let Some(org_id) = owner {
            let org = repo::orgs::find(tx, org_id)
                .await?
                .ok_or(ServiceError::NotFound("org"))?;
            return Ok((org, identity.role));
        }
        if let Some(inv) = invitation {
            let org = repo::orgs::find(tx, inv.org_id)
                .await?
                .ok_or(ServiceError::NotFound("org"))?;
            repo::identity::accept_invitation(tx, inv.id).await?;
            return Ok((org, inv.role));
        }
        if is_public_mail_domain(domain) {
            // Everyone at a public provider is a tenant of their own.
            let org = repo::orgs::find_or_create(tx, identity.email.as_str()).await?;
            return Ok((org, identity.role));
        }
        let org = repo::orgs::find_or_create(tx, domain).await?;
        repo::identity::claim_domain(tx, org.id, domain).await?;
        Ok((org, identity.role))
    }

    /// Records that a user was seen, at most every [`TOUCH_INTERVAL`].
    async fn seen(&self, user: &User) -> Result<(), ServiceError> {
        let now = Utc::now();
        if user.last_seen_at.is_none_or(|at| now - at > TOUCH_INTERVAL) {
            let tx = self.store.begin_write().await?;
            repo::users::touch(&tx, user.id, now, None).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// A verified identity: who an identity provider says someone is.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The verified email address.
    pub email: Email,
    /// The display name.
    pub name: String,
    /// The role to give a new user (already filtered by trust).
    pub role: Role,
    /// The org slug to put a new user in (already filtered by trust).
    pub org: Option<String>,
    /// Whether `org` may place the person in an existing org whatever its
    /// domains (our own tokens); otherwise joining an existing org needs
    /// one of its domains or an invitation.
    pub org_claim_trusted: bool,
    /// Who vouches for the identity: a token's `iss`, [`LOCAL_ISSUER`],
    /// or an OAuth provider.
    pub issuer: String,
    /// The subject at the issuer; (issuer, subject) is bound to one user.
    pub subject: String,
    /// A picture.
    pub avatar_url: Option<String>,
    /// How the identity is vouched for: a sign-in happening now, or a
    /// token, which a deletion of its user after it was issued refuses.
    pub presented: Presented,
}

impl Identity {
    /// An identity vouched for by a trusted caller (an embedding program, a
    /// test): placed like a token signed with the server's secret, with the
    /// address as its subject.
    pub fn trusted(email: Email, name: impl Into<String>, role: Role) -> Self {
        Identity {
            subject: email.as_str().to_owned(),
            email,
            name: name.into(),
            role,
            org: None,
            org_claim_trusted: true,
            issuer: LOCAL_ISSUER.to_owned(),
            avatar_url: None,
            presented: Presented::Now,
        }
    }
}

/// How an identity reaches [`Services::upsert_identity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented {
    /// A sign-in happening now (OAuth, dev login, an embedding program).
    Now,
    /// A token presented again and again until it expires; `issued_at` is
    /// its `iat` (`None` when it has none, which a deletion then refuses).
    Token {
        /// When the token was issued.
        issued_at: Option<DateTime<Utc>>,
    },
}
