//! The closed vocabularies of the domain: roles, message roles and statuses,
//! artifact kinds. Each has one wire spelling, used by serde, the database and
//! error messages alike.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident as $field:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        // By hand: the derive does not see a `rename` whose value comes
        // from a macro argument, and would list the Rust variant names.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and database spelling.
            pub const fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    _ => Err(DomainError::invalid(
                        $field,
                        format!(
                            "must be one of {}",
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }
    };
}

string_enum! {
    /// What a user may do within their organisation.
    Role as "role" {
        /// An ordinary member.
        User => "USER",
        /// An administrator of their own organisation.
        Admin => "ADMIN",
    }
}

string_enum! {
    /// A member's standing in a thread.
    MemberRole as "role" {
        /// Created the thread; manages it.
        Owner => "owner",
        /// Invited; reads and writes.
        Member => "member",
    }
}

string_enum! {
    /// Who authored a message.
    MessageRole as "role" {
        /// A person.
        User => "USER",
        /// The assistant (a model).
        Assistant => "ASSISTANT",
        /// Instructions that frame the conversation.
        System => "SYSTEM",
        /// A tool's output, answering an assistant's function call (written
        /// through the Responses and Conversations APIs).
        Tool => "TOOL",
    }
}

string_enum! {
    /// Where a message is in its life.
    MessageStatus as "status" {
        /// Written in full.
        Complete => "complete",
        /// An assistant reply still being generated.
        Streaming => "streaming",
        /// Generation failed; the text holds what arrived before the failure.
        Failed => "failed",
        /// Generation was stopped by a user; the partial text is kept.
        Cancelled => "cancelled",
    }
}

string_enum! {
    /// The kinds of structured output a thread can produce.
    ArtifactKind as "kind" {
        /// A finding from data analysis.
        Insight => "insight",
        /// A structured report.
        Report => "report",
        /// A set of visualisations.
        Dashboard => "dashboard",
        /// A generated document.
        Pdf => "pdf",
        /// A knowledge-base entry.
        Reference => "reference",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_wire_spelling() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), *role);
            assert_eq!(serde_json::to_string(role).unwrap(), format!("\"{role}\""));
        }
        for status in MessageStatus::ALL {
            assert_eq!(status.as_str().parse::<MessageStatus>().unwrap(), *status);
        }
        for kind in ArtifactKind::ALL {
            assert_eq!(kind.as_str().parse::<ArtifactKind>().unwrap(), *kind);
        }
    }

    #[test]
    fn an_unknown_value_lists_the_allowed_ones() {
        let err = "OWNER".parse::<Role>().unwrap_err();
        assert_eq!(err.to_string(), "invalid role: must be one of USER, ADMIN");
        assert!("user".parse::<MessageRole>().is_err(), "spelling is exact");
    }
}
