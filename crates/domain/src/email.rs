//! A parsed, normalised email address.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// An email address: trimmed, lower-cased, with a non-empty local part and a
/// dotted domain. Once parsed it can be trusted everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let value = raw.trim().to_ascii_lowercase();
        let bad = |reason: &str| Err(DomainError::invalid("email", reason));
        if value.is_empty() {
            return bad("must not be empty");
        }
        if value.len() > 254 {
            return bad("must be at most 254 characters");
        }
        let Some((local, domain)) = value.split_once('@') else {
            return bad("must contain @");
        };
        if local.is_empty() || local.len() > 64 {
            return bad("local part must be 1 to 64 characters");
        }
        if domain.contains('@') {
            return bad("must contain exactly one @");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return bad("domain must be a dotted host name");
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("must not contain spaces");
        }
        Ok(Email(value))
    }

    /// The whole address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the @.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Email::parse(&raw)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        assert_eq!(email.domain(), "example.com");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for raw in [
            "",
            "plain",
            "@example.com",
            "a@b",
            "a@@example.com",
            "a@-bad.com",
            "a b@example.com",
            "a@exa mple.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }
}
