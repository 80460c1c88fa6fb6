//! Users as the domain sees them, and the input that creates one.

use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};

use crate::{Email, OrgId, Role, UserId};

/// A person known to the system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// When the user was first seen.
    pub created_at: DateTime<Utc>,
    /// When the user was last changed.
    pub updated_at: DateTime<Utc>,
}

/// Input that creates a user.
#[derive(Clone, Debug, Deserialize, Validate)]
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
        };
        let errors = crate::FieldErrors::from(input.validate().unwrap_err());
        let fields: Vec<&str> = errors.fields().collect();
        assert_eq!(fields, vec!["email", "name"]);
    }
}
