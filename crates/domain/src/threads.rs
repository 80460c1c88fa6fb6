//! Threads: conversations with settings, members and tags.

use chrono::{DateTime, Utc};
use garde::Validate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DomainError, FieldErrors, MessageId, OrgId, ThreadId, UserId};

/// Largest serialized `metadata` object, in bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Deepest nesting allowed in `metadata`.
pub const MAX_METADATA_DEPTH: usize = 8;
/// Most tags on one thread.
pub const MAX_TAGS: usize = 20;
/// Longest title; auto-titles are cut shorter (see [`auto_title`]).
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest auto-title.
pub const AUTO_TITLE_CHARS: usize = 80;

/// A conversation.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Thread {
    /// The id.
    pub id: ThreadId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// Who created it.
    pub owner_id: UserId,
    /// The title (auto-set from the first user message when created without one).
    pub title: Option<String>,
    /// A longer description.
    pub description: Option<String>,
    /// Instructions given to the assistant before the conversation.
    pub system_prompt: Option<String>,
    /// The model the assistant uses here (default: the server's).
    pub model: Option<String>,
    /// Free-form data of the client's (a JSON object).
    pub metadata: Value,
    /// Whether user messages get an assistant reply.
    pub auto_reply: bool,
    /// Pinned to the top of the owner's list.
    pub pinned: bool,
    /// Hidden from the default list.
    pub archived: bool,
    /// Labels, lower-case.
    pub tags: Vec<String>,
    /// The last message of the current branch.
    pub current_leaf_id: Option<MessageId>,
    /// Messages in the thread (all branches, tombstones included).
    pub message_count: i32,
    /// When the last message was posted.
    pub last_message_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was deleted (restorable until purged).
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Input that creates a thread.
#[derive(Clone, Debug, Default, Deserialize, Serialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewThread {
    /// The title.
    #[garde(inner(length(chars, min = 1, max = MAX_TITLE_CHARS)))]
    #[serde(default)]
    pub title: Option<String>,
    /// A description.
    #[garde(inner(length(chars, max = 4000)))]
    #[serde(default)]
    pub description: Option<String>,
    /// Client data (a JSON object, bounded in size and depth).
    #[garde(skip)]
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Instructions for the assistant.
    #[garde(inner(length(chars, max = 20_000)))]
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// The model to use.
    #[garde(inner(length(chars, min = 1, max = 100)))]
    #[serde(default)]
    pub model: Option<String>,
    /// Whether the assistant replies (default: on).
    #[garde(skip)]
    #[serde(default)]
    pub auto_reply: Option<bool>,
    /// Pin it.
    #[garde(skip)]
    #[serde(default)]
    pub pinned: Option<bool>,
    /// Labels.
    #[garde(skip)]
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Input that changes a thread; absent fields stay, `null` clears optional text.
#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadUpdate {
    /// A new title (`null` clears it).
    #[garde(inner(inner(length(chars, min = 1, max = MAX_TITLE_CHARS))))]
    #[serde(default, deserialize_with = "crate::users::double_option")]
    pub title: Option<Option<String>>,
    /// A new description (`null` clears it).
    #[garde(inner(inner(length(chars, max = 4000))))]
    #[serde(default, deserialize_with = "crate::users::double_option")]
    pub description: Option<Option<String>>,
    /// New client data (replaces the old object).
    #[garde(skip)]
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// New instructions (`null` clears them).
    #[garde(inner(inner(length(chars, max = 20_000))))]
    #[serde(default, deserialize_with = "crate::users::double_option")]
    pub system_prompt: Option<Option<String>>,
    /// A new model (`null`: the server's default).
    #[garde(inner(inner(length(chars, min = 1, max = 100))))]
    #[serde(default, deserialize_with = "crate::users::double_option")]
    pub model: Option<Option<String>>,
    /// Turn the assistant on or off.
    #[garde(skip)]
    #[serde(default)]
    pub auto_reply: Option<bool>,
    /// Pin or unpin.
    #[garde(skip)]
    #[serde(default)]
    pub pinned: Option<bool>,
    /// Archive or unarchive.
    #[garde(skip)]
    #[serde(default)]
    pub archived: Option<bool>,
    /// Replace the labels.
    #[garde(skip)]
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// Filters of the thread list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadFilter {
    /// Only threads with this tag.
    pub tag: Option<String>,
    /// Only archived (true) or unarchived (false) threads; default: unarchived.
    pub archived: Option<bool>,
    /// Only pinned (true) or unpinned (false) threads.
    pub pinned: Option<bool>,
    /// List deleted (restorable) threads instead of live ones.
    pub deleted: bool,
}

pub use crate::kinds::MemberRole;

/// A member of a thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Member {
    /// The user.
    pub user_id: UserId,
    /// Their email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// Owner or member.
    pub role: MemberRole,
    /// When they joined.
    pub added_at: DateTime<Utc>,
}

/// Checks a `metadata` value: a JSON object, at most [`MAX_METADATA_BYTES`]
/// serialized and [`MAX_METADATA_DEPTH`] deep.
pub fn validate_metadata(field: &str, value: &Value) -> Result<(), DomainError> {
    if !value.is_object() {
        return Err(DomainError::invalid(field, "must be a JSON object"));
    }
    let size = serde_json::to_vec(value)
        .map(|bytes| bytes.len())
        .unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {MAX_METADATA_BYTES} bytes as JSON"),
        ));
    }
    if depth(value) > MAX_METADATA_DEPTH {
        return Err(DomainError::invalid(
            field,
            format!("must be nested at most {MAX_METADATA_DEPTH} levels deep"),
        ));
    }
    Ok(())
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Normalises tags: trimmed, lower-case, deduplicated, each 1–50 characters
/// of letters, digits, `-`, `_`, `.`, `:` or space; at most [`MAX_TAGS`].
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, DomainError> {
    let mut errors = FieldErrors::new();
    let mut out: Vec<String> = Vec::new();
    if tags.len() > MAX_TAGS {
        errors.add("tags", format!("at most {MAX_TAGS} tags"));
    }
    for (i, raw) in tags.iter().enumerate() {
        let tag = raw.trim().to_lowercase();
        let ok = (1..=50).contains(&tag.chars().count())
            && tag
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | ' '));
        if !ok {
            errors.add(
                format!("tags[{i}]"),
                "must be 1 to 50 letters, digits, spaces or - _ . :",
            );
        } else if !out.contains(&tag) {
            out.push(tag);
        }
    }
    errors.into_result()?;
    Ok(out)
}

/// A title made from a first message: whitespace collapsed, at most
/// [`AUTO_TITLE_CHARS`] characters, cut on a word boundary with an ellipsis
/// when shortened. `None` when the text has no words.
pub fn auto_title(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let full = words.join(" ");
    if full.chars().count() <= AUTO_TITLE_CHARS {
        return Some(full);
    }
    let mut title = String::new();
    for word in &words {
        let extra = if title.is_empty() { 0 } else { 1 };
        // Leave room for the ellipsis.
        if title.chars().count() + extra + word.chars().count() > AUTO_TITLE_CHARS - 1 {
            break;
        }
        if extra == 1 {
            title.push(' ');
        }
        title.push_str(word);
    }
    if title.is_empty() {
        // One very long word: cut it.
        title = full.chars().take(AUTO_TITLE_CHARS - 1).collect();
    }
    title.push('…');
    Some(title)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auto_titles_are_short_and_cut_on_words() {
        assert_eq!(auto_title("  hello \n  world "), Some("hello world".into()));
        assert_eq!(auto_title("   "), None);
        let long = "word ".repeat(40);
        let title = auto_title(&long).unwrap();
        assert!(title.chars().count() <= AUTO_TITLE_CHARS);
        assert!(title.ends_with("word…"), "{title}");
        let one = "x".repeat(200);
        assert_eq!(auto_title(&one).unwrap().chars().count(), AUTO_TITLE_CHARS);
    }

    #[test]
    fn metadata_is_bounded() {
        assert!(validate_metadata("metadata", &json!({"a": 1})).is_ok());
        assert!(validate_metadata("metadata", &json!([1])).is_err());
        let deep = (0..10).fold(json!(1), |acc, _| json!({ "a": acc }));
        assert!(validate_metadata("metadata", &deep).is_err());
        let big = json!({ "a": "x".repeat(MAX_METADATA_BYTES) });
        assert!(validate_metadata("metadata", &big).is_err());
    }

    #[test]
    fn tags_are_normalised_and_checked() {
        let tags = normalize_tags(&["Work".into(), "work ".into(), "q3-plan".into()]).unwrap();
        assert_eq!(tags, vec!["work", "q3-plan"]);
        let err = normalize_tags(&["ok".into(), "bad/tag".into()]).unwrap_err();
        assert_eq!(
            err.field_errors().fields().collect::<Vec<_>>(),
            vec!["tags[1]"]
        );
    }

    proptest::proptest! {
        /// Auto-titles of any Unicode are cut by characters and stay within
        /// the limit.
        #[test]
        fn auto_titles_of_any_text_are_cut_on_characters(text in "\\PC{0,300}|\\S{70,120}") {
            if let Some(title) = auto_title(&text) {
                proptest::prop_assert!(title.chars().count() <= AUTO_TITLE_CHARS);
                proptest::prop_assert!(!title.is_empty());
            }
            let _ = normalize_tags(std::slice::from_ref(&text));
        }
    }
}
