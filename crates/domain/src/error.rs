//! Errors raised while parsing and validating domain input.

use std::collections::BTreeMap;

use serde::Serialize;

/// Field errors keyed by the path of the offending field (`blocks[3].text`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one problem with one field.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// Adds every problem of another set.
    pub fn merge(&mut self, other: FieldErrors) {
        for (field, messages) in other.0 {
            self.0.entry(field).or_default().extend(messages);
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded problems, by field path.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.0.iter()
    }

    /// The field paths that have problems, in order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// `Ok(())` when empty, otherwise a validation error carrying these problems.
    pub fn into_result(self) -> Result<(), DomainError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(self))
        }
    }
}

impl From<garde::Report> for FieldErrors {
    fn from(report: garde::Report) -> Self {
        let mut errors = FieldErrors::new();
        for (path, error) in report.iter() {
            let field = path.to_string();
            let field = if field.is_empty() {
                "body".to_owned()
            } else {
                field
            };
            errors.add(field, error.message().to_string());
        }
        errors
    }
}

/// What can be wrong with input before any business rule is consulted.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A path or body id is not a UUID. Returns 400 Bad Request.
    #[error("invalid {resource} id")]
    InvalidId {
        /// The resource the id was meant to name.
        resource: &'static str,
    },
    /// One named field has a bad value. Returns 400 Bad Request.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field's name or path.
        field: String,
        /// Why the value was refused.
        reason: String,
    },
    /// Several fields failed validation. Returns 400 Bad Request.
    #[error("validation failed for {}", .0.fields().collect::<Vec<_>>().join(", "))]
    Validation(FieldErrors),
}

impl DomainError {
    /// A single-field error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The problems by field, whatever the variant.
    pub fn field_errors(&self) -> FieldErrors {
        match self {
            DomainError::InvalidId { resource } => {
                let mut errors = FieldErrors::new();
                errors.add(format!("{resource}_id"), "must be a UUID");
                errors
            }
            DomainError::Invalid { field, reason } => {
                let mut errors = FieldErrors::new();
                errors.add(field.clone(), reason.clone());
                errors
            }
            DomainError::Validation(errors) => errors.clone(),
        }
    }
}

impl From<garde::Report> for DomainError {
    fn from(report: garde::Report) -> Self {
        DomainError::Validation(report.into())
    }
}
