//! Who someone is: identities bound to (issuer, subject), the mail domains an
//! org owns, invitations across domains, and the addresses of deleted users.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use xl_domain::users::{Invitation, User};
use xl_domain::{Email, InvitationId, OrgId, Role, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::{deleted_users, invitations, org_domains, user_identities, users};
use crate::error::OrmResult;

/// The user bound to this (issuer, subject), if any.
pub async fn find_user<C: Conn>(
    db: &C,
    issuer: &str,
    subject: &str,
) -> Result<Option<User>, StoreError> {
    let Some(identity) =
        user_identities::Entity::find_by_id((issuer.to_owned(), subject.to_owned()))
            .one(db.orm())
            .await
            .into_store()?
    else {
        return Ok(None);
    };
    users::Entity::find_by_id(identity.user_id)
        .one(db.orm())
        .await
        .into_store()?
        .map(super::users::to_domain)
        .transpose()
}

/// Whether the user already has an identity from this issuer.
pub async fn has_identity_from<C: Conn>(
    db: &C,
    user: UserId,
    issuer: &str,
) -> Result<bool, StoreError> {
    Ok(user_identities::Entity::find()
        .filter(user_identities::Column::UserId.eq(user.as_uuid()))
        .filter(user_identities::Column::Issuer.eq(issuer))
        .count(db.orm())
        .await
        .into_store()?
        > 0)
}

/// Binds (issuer, subject) to a user. A pair already bound, or a second
/// identity from the same issuer, is `StoreError::Conflict`.
pub async fn bind<C: Conn>(
    db: &C,
    user: UserId,
    issuer: &str,
    subject: &str,
) -> Result<(), StoreError> {
    user_identities::ActiveModel {
        issuer: Set(issuer.to_owned()),
        subject: Set(subject.to_owned()),
        user_id: Set(user.as_uuid()),
        created_at: Set(Utc::now()),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    Ok(())
}

/// The org that owns this mail domain, if one does.
pub async fn domain_owner<C: Conn>(db: &C, domain: &str) -> Result<Option<OrgId>, StoreError> {
    Ok(org_domains::Entity::find_by_id(domain.to_owned())
        .one(db.orm())
        .await
        .into_store()?
        .map(|row| OrgId::from_uuid(row.org_id)))
}

/// Records that an org owns a mail domain (nothing if some org already does).
pub async fn claim_domain<C: Conn>(db: &C, org: OrgId, domain: &str) -> Result<(), StoreError> {
    let row = org_domains::ActiveModel {
        domain: Set(domain.to_owned()),
        org_id: Set(org.as_uuid()),
        created_at: Set(Utc::now()),
    };
    org_domains::Entity::insert(row)
        .on_conflict(
            OnConflict::column(org_domains::Column::Domain)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db.orm())
        .await
        .into_store()?;
    Ok(())
}

fn invitation(row: invitations::Model) -> Result<Invitation, StoreError> {
    let email = Email::parse(&row.email)
        .map_err(|err| StoreError::Corrupt(format!("invitations.email of {}: {err}", row.id)))?;
    let role = row
        .role
        .parse::<Role>()
        .map_err(|err| StoreError::Corrupt(format!("invitations.role of {}: {err}", row.id)))?;
    Ok(Invitation {
        id: InvitationId::from_uuid(row.id),
        org_id: OrgId::from_uuid(row.org_id),
        email,
        role,
        created_at: row.created_at,
        accepted_at: row.accepted_at,
    })
}

/// Invites an address into an org (again: the role is updated).
pub async fn invite<C: Conn>(
    db: &C,
    org: OrgId,
    email: &Email,
    role: Role,
    invited_by: UserId,
) -> Result<Invitation, StoreError> {
    let row = invitations::ActiveModel {
        id: Set(InvitationId::new().as_uuid()),
        org_id: Set(org.as_uuid()),
        email: Set(email.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        invited_by: Set(Some(invited_by.as_uuid())),
        created_at: Set(Utc::now()),
        accepted_at: Set(None),
    };
    invitations::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([invitations::Column::OrgId, invitations::Column::Email])
                .update_columns([invitations::Column::Role, invitations::Column::InvitedBy])
                .to_owned(),
        )
        .exec_without_returning(db.orm())
        .await
        .into_store()?;
    let row = invitations::Entity::find()
        .filter(invitations::Column::OrgId.eq(org.as_uuid()))
        .filter(invitations::Column::Email.eq(email.as_str()))
        .one(db.orm())
        .await
        .into_store()?
        .ok_or(StoreError::NotFound("invitation"))?;
    invitation(row)
}

/// The oldest invitation of this address not yet taken up.
pub async fn pending_invitation<C: Conn>(
    db: &C,
    email: &Email,
) -> Result<Option<Invitation>, StoreError> {
    invitations::Entity::find()
        .filter(invitations::Column::Email.eq(email.as_str()))
        .filter(invitations::Column::AcceptedAt.is_null())
        .order_by_asc(invitations::Column::Id)
        .one(db.orm())
        .await
        .into_store()?
        .map(invitation)
        .transpose()
}

/// Marks an invitation taken up.
pub async fn accept_invitation<C: Conn>(db: &C, id: InvitationId) -> Result<(), StoreError> {
    invitations::Entity::update_many()
        .col_expr(invitations::Column::AcceptedAt, Expr::value(Utc::now()))
        .filter(invitations::Column::Id.eq(id.as_uuid()))
        .exec(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// Remembers that the user with this address was deleted now.
pub async fn record_deletion<C: Conn>(
    db: &C,
    email: &Email,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = deleted_users::ActiveModel {
        email: Set(email.as_str().to_owned()),
        deleted_at: Set(at),
    };
    deleted_users::Entity::insert(row)
        .on_conflict(
            OnConflict::column(deleted_users::Column::Email)
                .update_column(deleted_users::Column::DeletedAt)
                .to_owned(),
        )
        .exec_without_returning(db.orm())
        .await
        .into_store()?;
    Ok(())
}

/// When the user with this address was last deleted, if ever.
pub async fn deleted_at<C: Conn>(
    db: &C,
    email: &Email,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(deleted_users::Entity::find_by_id(email.as_str().to_owned())
        .one(db.orm())
        .await
        .into_store()?
        .map(|row| row.deleted_at))
}
