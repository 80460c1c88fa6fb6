//! Reactions: emoji names people attach to messages, with Slack's rules for
//! what a name may be and how many reactions a message may carry.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{DomainError, UserId};

/// Longest reaction name, in characters (Slack's limit for emoji names).
pub const MAX_NAME_CHARS: usize = 100;
/// Most distinct reaction names on one message.
pub const MAX_NAMES_PER_MESSAGE: u64 = 50;
/// Most reactions one user may put on one message.
pub const MAX_PER_USER_PER_MESSAGE: u64 = 25;
/// How many user ids a summary lists per name; `count` still says how many reacted.
pub const USERS_SHOWN: u64 = 10;

/// What a refused name is told, with Slack's error code so Slack-shaped
/// clients can recognise it.
const NAME_RULE: &str = "must be 1 to 100 characters of a-z, 0-9, _, +, - and ' \
     (an emoji name such as thumbsup, optionally with a ::skin-tone-2 to ::skin-tone-6 \
     suffix, with or without surrounding colons) (invalid_name)";

/// A reaction name, normalised: lower case, without surrounding colons.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct ReactionName(String);

impl ReactionName {
    /// Parses a name as clients send it (`thumbsup`, `:thumbsup:`,
    /// `:ThumbsUp::skin-tone-2:`), refusing anything that is not an emoji
    /// name with a 400 naming the `name` field.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = || DomainError::invalid("name", NAME_RULE);
        // Only a matched pair of colons is decoration; a lone one is a typo
        // we would rather refuse than guess at.
        let bare = raw
            .strip_prefix(':')
            .and_then(|rest| rest.strip_suffix(':'))
            .unwrap_or(raw);
        // ASCII lowering only: Unicode lowering maps a few non-ASCII letters
        // (the Kelvin sign, for one) onto ASCII ones, which would let a
        // look-alike through as a different, valid name.
        let name = bare.to_ascii_lowercase();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(invalid());
        }
        let (base, modifier) = match name.split_once("::") {
            Some((base, modifier)) => (base, Some(modifier)),
            None => (name.as_str(), None),
        };
        if !is_emoji_word(base) || modifier.is_some_and(|m| !is_skin_tone(m)) {
            return Err(invalid());
        }
        Ok(ReactionName(name))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReactionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_emoji_word(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_+-'".contains(c))
}

fn is_skin_tone(modifier: &str) -> bool {
    matches!(
        modifier,
        "skin-tone-2" | "skin-tone-3" | "skin-tone-4" | "skin-tone-5" | "skin-tone-6"
    )
}

/// Input that adds or removes (toggles) the caller's reaction.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReaction {
    /// The emoji name, raw; [`ReactionName::parse`] decides whether it is one.
    pub name: String,
}

/// The reactions of one name on a message, as the API shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReactionSummary {
    /// The emoji name.
    pub name: ReactionName,
    /// How many people reacted with it, all of them.
    pub count: u64,
    /// The first [`USERS_SHOWN`] of them, oldest first.
    pub users: Vec<UserId>,
    /// Whether the caller is one of them.
    pub me: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> String {
        ReactionName::parse(raw)
            .unwrap_or_else(|err| panic!("{raw:?} was refused: {err}"))
            .to_string()
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(parsed("thumbsup"), "thumbsup");
        assert_eq!(parsed(":thumbsup:"), "thumbsup");
        assert_eq!(parsed("ThumbsUp"), "thumbsup");
        assert_eq!(parsed(":+1:"), "+1");
        assert_eq!(parsed("-1"), "-1");
        assert_eq!(parsed("man's_shoe"), "man's_shoe");
        assert_eq!(parsed("thumbsup::skin-tone-2"), "thumbsup::skin-tone-2");
        assert_eq!(parsed(":Wave::Skin-Tone-6:"), "wave::skin-tone-6");
        assert_eq!(parsed(&"a".repeat(MAX_NAME_CHARS)), "a".repeat(100));
    }

    #[test]
    fn bad_names_are_refused_naming_the_field() {
        let too_long = "a".repeat(MAX_NAME_CHARS + 1);
        for raw in [
            "",
            "::",
            ":thumbsup",
            "thumbsup:",
            "thumbs up",
            " thumbsup",
            "thumbs:up",
            "thumbsup::",
            "::skin-tone-2",
            "thumbsup::skin-tone-1",
            "thumbsup::skin-tone-7",
            "thumbsup::skin-tone-2::skin-tone-3",
            "thumbsup::wave",
            "é",
            "\u{212A}",
            "👍",
            "<script>",
            too_long.as_str(),
        ] {
            let err = ReactionName::parse(raw).expect_err(raw);
            let fields: Vec<String> = err.field_errors().fields().map(str::to_owned).collect();
            assert_eq!(fields, ["name"], "{raw:?}");
            assert!(err.to_string().contains("invalid_name"), "{err}");
        }
    }

    #[test]
    fn summaries_serialize_with_plain_names() {
        let summary = ReactionSummary {
            name: ReactionName::parse(":tada:").unwrap(),
            count: 1,
            users: vec![],
            me: true,
        };
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(
            json,
            serde_json::json!({ "name": "tada", "count": 1, "users": [], "me": true })
        );
    }
}
