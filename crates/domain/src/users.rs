//! Users as the domain sees them, and the inputs that create and change one.

use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};

use crate::{Email, InvitationId, OrgId, Role, UserId};

/// A person known to the system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The organisation the user belongs to.
    pub org_id: OrgId,
    /// The normalised email address.
    pub email: Email,
    /// The display name.
    pub name: String,
    /// What the user may do in their organisation.
    pub role: Role,
    /// A picture, if known.
    pub avatar_url: Option<String>,
    /// When the user was last seen.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// When the user was first seen.
    pub created_at: DateTime<Utc>,
    /// When the user was last changed.
    pub updated_at: DateTime<Utc>,
}

/// Input that creates a user (administrators only).
#[derive(Clone, Debug, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The email address.
    #[garde(email, length(max = 254))]
    pub email: String,
    /// The display name.
    #[garde(length(chars, min = 1, max = 200))]
    pub name: String,
    /// The role; USER when absent.
    #[garde(skip)]
    #[serde(default)]
    pub role: Option<Role>,
    /// A picture.
    #[garde(inner(url, length(max = 2048)))]
    #[serde(default)]
    pub avatar_url: Option<String>,
}

/// Input that changes a user. Absent fields stay as they are; `role` is
/// accepted from administrators only.
#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// A new display name.
    #[garde(inner(length(chars, min = 1, max = 200)))]
    #[serde(default)]
    pub name: Option<String>,
    /// A new picture; `null` removes it.
    #[garde(inner(inner(url, length(max = 2048))))]
    #[serde(default, deserialize_with = "double_option")]
    pub avatar_url: Option<Option<String>>,
    /// A new role (administrators only).
    #[garde(skip)]
    #[serde(default)]
    pub role: Option<Role>,
}

/// An invitation into an org for an address outside the org's own mail
/// domains: the person joins the org at their first sign-in, if they have no
/// account yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    /// The invitation's id.
    pub id: InvitationId,
    /// The inviting organisation.
    pub org_id: OrgId,
    /// The invited address.
    pub email: Email,
    /// The role the person gets on joining.
    pub role: Role,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When the person joined through it.
    pub accepted_at: Option<DateTime<Utc>>,
}

/// What `create_user` did: added the user (the address is in one of the
/// org's domains) or invited the address (it is not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Enrolment {
    /// The user was created in the caller's org.
    User(User),
    /// An invitation was recorded; it says nothing about whether the address
    /// already has an account anywhere.
    Invitation(Invitation),
}

/// Filters of the user list.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Only users whose email contains this text.
    pub email: Option<String>,
    /// Only users with this role.
    pub role: Option<Role>,
}

/// Tells a field that is absent (`None`) from one that is `null` (`Some(None)`).
pub(crate) fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_every_bad_field() {
        let input = NewUser {
            email: "nope".into(),
            name: String::new(),
            role: None,
            avatar_url: Some("not a url".into()),
        };
        let errors = crate::FieldErrors::from(input.validate().unwrap_err());
        let fields: Vec<&str> = errors.fields().collect();
        assert_eq!(fields, vec!["avatar_url", "email", "name"]);
    }

    #[test]
    fn an_explicit_null_differs_from_an_absent_field() {
        let absent: UserUpdate = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.avatar_url, None);
        let null: UserUpdate = serde_json::from_str(r#"{"avatar_url":null}"#).unwrap();
        assert_eq!(null.avatar_url, Some(None));
    }
}
