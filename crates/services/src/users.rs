//! Users within an org: who may see, create, change and delete whom.
//!
//! Everything is scoped to the caller's org; a user of another org does not
//! exist as far as the caller can tell (404, never 403).

use garde::Validate;
use xl_domain::users::{Enrolment, NewUser, User, UserFilter, UserUpdate};
use xl_domain::{Actor, DomainError, Email, FieldErrors, Page, PageRequest, Role, UserId};
use xl_store::repo;
use xl_store::repo::users::{NewUserRow, UserChanges};

use xl_domain::audit::action;

use crate::audit;
use crate::{ServiceError, Services};

pub(crate) fn require_admin(actor: &Actor) -> Result<(), ServiceError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "this requires the ADMIN role".into(),
        ))
    }
}

/// A display name: one trimmed line of at most [`MAX_NAME_CHARS`].
fn one_line_name(raw: &str) -> Result<String, ServiceError> {
    xl_domain::text::one_line(raw, MAX_NAME_CHARS).map_err(|problem| {
        let mut errors = FieldErrors::new();
        errors.add("name", problem);
        ServiceError::Unprocessable(errors)
    })
}

/// Longest display name.
const MAX_NAME_CHARS: usize = 200;

impl Services {
    /// The caller's own profile.
    pub async fn me(&self, actor: &Actor) -> Result<User, ServiceError> {
        repo::users::find(self.store.reader(), actor.org_id, actor.user_id)
            .await?
            .ok_or(ServiceError::NotFound("user"))
    }

    /// A user of the caller's org; an administrator reading someone else
    /// is recorded in the audit log.
    pub async fn get_user(&self, actor: &Actor, id: UserId) -> Result<User, ServiceError> {
        let user = repo::users::find(self.store.reader(), actor.org_id, id)
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        if actor.is_admin() && id != actor.user_id {
            let target = Some(("user", id.to_string()));
            audit::record(
                self.store.writer(),
                actor.into(),
                action::ADMIN_READ_USER,
                target,
                None,
            )
            .await?;
        }
        Ok(user)
    }

    /// The org's users (administrators only).
    pub async fn list_users(
        &self,
        actor: &Actor,
        filter: &UserFilter,
        page: &PageRequest,
    ) -> Result<Page<User>, ServiceError> {
        require_admin(actor)?;
        Ok(repo::users::list(self.store.reader(), actor.org_id, filter, page).await?)
    }

    /// Adds a person to the caller's org (administrators only).
    ///
    /// An address in one of the org's own mail domains becomes a user at
    /// once; any other address becomes an invitation, which the person takes
    /// up at their first sign-in if they have no account by then. The answer
    /// for an address outside the org's domains is the same whether or not
    /// it has an account elsewhere, so admins cannot probe other orgs.
    /// `ALLOWED_DOMAINS` holds here as for every sign-in.
    pub async fn create_user(
        &self,
        actor: &Actor,
        input: NewUser,
    ) -> Result<Enrolment, ServiceError> {
        require_admin(actor)?;
        input.validate().map_err(DomainError::from)?;
        let name = one_line_name(&input.name)?;
        let email = Email::parse(&input.email)?;
        if !self.auth.config.domain_allowed(email.domain()) {
            let mut errors = FieldErrors::new();
            errors.add("email", "this email domain is not allowed to sign in");
            return Err(ServiceError::Unprocessable(errors));
        }
        let role = input.role.unwrap_or(Role::User);
        let tx = self.store.begin_write().await?;
        let owner = repo::identity::domain_owner(&tx, email.domain()).await?;
        if owner != Some(actor.org_id) {
            if let Some(existing) = repo::users::find_by_email(&tx, &email).await?
                && existing.org_id == actor.org_id
            {
                return Err(ServiceError::Conflict(
                    "a user with this email already exists".into(),
                ));
            }
            let invitation =
                repo::identity::invite(&tx, actor.org_id, &email, role, actor.user_id).await?;
            tx.commit().await?;
            return Ok(Enrolment::Invitation(invitation));
        }
        let user = repo::users::insert(
            &tx,
            NewUserRow {
                org_id: actor.org_id,
                subject: None,
                email,
                name,
                role,
                avatar_url: input.avatar_url,
            },
        )
        .await
        .map_err(ServiceError::on_unique(
            "a user with this email already exists",
        ))?;
        tx.commit().await?;
        Ok(Enrolment::User(user))
    }

    /// Changes a user: anyone may change their own profile fields; an admin
    /// may change anyone in the org, role included. A non-admin sending
    /// `role` is refused with 422 naming the field.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: UserId,
        input: UserUpdate,
    ) -> Result<User, ServiceError> {
        input.validate().map_err(DomainError::from)?;
        let name = input.name.as_deref().map(one_line_name).transpose()?;
        let tx = self.store.begin_write().await?;
        let Some(target) = repo::users::find(&tx, actor.org_id, id).await? else {
            return Err(ServiceError::NotFound("user"));
        };
        if target.id != actor.user_id && !actor.is_admin() {
            return Err(ServiceError::Forbidden(
                "you may change only your own profile".into(),
            ));
        }
        if input.role.is_some() && !actor.is_admin() {
            let mut errors = FieldErrors::new();
            errors.add("role", "only an administrator may set the role");
            return Err(ServiceError::Unprocessable(errors));
        }
        if input.role == Some(Role::User)
            && target.role == Role::Admin
            && repo::users::count_admins(&tx, actor.org_id).await? <= 1
        {
            return Err(ServiceError::Conflict(
                "the organisation's last administrator cannot be demoted".into(),
            ));
        }
        let changes = UserChanges {
            name,
            avatar_url: input.avatar_url,
            role: input.role,
        };
        let user = repo::users::update(&tx, actor.org_id, id, changes)
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        if user.role != target.role {
            let details = serde_json::json!({ "from": target.role, "to": user.role });
            let target = Some(("user", id.to_string()));
            audit::record(
                &tx,
                actor.into(),
                action::ROLE_CHANGED,
                target,
                Some(details),
            )
            .await?;
        }
        tx.commit().await?;
        self.auth.cache.forget_user(id);
        Ok(user)
    }

    /// Removes a user of the org and everything they own (administrators
    /// only; not oneself). Every credential issued to them before now stops
    /// working: sessions and API keys are deleted with the user, and tokens
    /// without a session that were issued before the deletion are refused.
    pub async fn delete_user(&self, actor: &Actor, id: UserId) -> Result<(), ServiceError> {
        require_admin(actor)?;
        if id == actor.user_id {
            return Err(ServiceError::Conflict("you cannot delete yourself".into()));
        }
        if repo::users::find(self.store.reader(), actor.org_id, id)
            .await?
            .is_none()
        {
            return Err(ServiceError::NotFound("user"));
        }
        // Their replies in progress (and any in the threads that go with
        // them) end first, so each writes its final status and its usage
        // record while the rows still exist.
        let owned = repo::threads::owned_by(self.store.reader(), actor.org_id, id).await?;
        self.stop_generations_of(id, &owned).await;
        let tx = self.store.begin_write().await?;
        let Some(target) = repo::users::find(&tx, actor.org_id, id).await? else {
            return Err(ServiceError::NotFound("user"));
        };
        // Sessions, API keys and identities go with the row (cascade); the
        // tombstone refuses the tokens that carry no session.
        repo::identity::record_deletion(&tx, &target.email, chrono::Utc::now()).await?;
        if !repo::users::delete(&tx, actor.org_id, id).await? {
            return Err(ServiceError::NotFound("user"));
        }
        let details = serde_json::json!({ "email": target.email });
        let target = Some(("user", id.to_string()));
        audit::record(
            &tx,
            actor.into(),
            action::USER_DELETED,
            target,
            Some(details),
        )
        .await?;
        tx.commit().await?;
        self.auth.cache.forget_user(id);
        Ok(())
    }
}
