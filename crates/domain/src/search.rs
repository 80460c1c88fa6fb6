//! Full-text search over the caller's threads and messages: the query a
//! caller sends, the hits it gets back, and the position a ranked page ends at.
//!
//! A query is a list of terms that must all appear (in any order). Terms are
//! never handed to a database's query language as written: the store turns
//! them into a query its parser cannot misread, so any text is a valid search.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::{Cursor, DomainError, MessageId, MessageRole, PageRequest, ThreadId};

/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 500;

/// The text of a search: trimmed, free of control characters, not blank and
/// at most [`MAX_QUERY_CHARS`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchText(String);

impl SearchText {
    /// Parses the raw `q`, naming `q` when it is refused.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        // Control characters carry no words, and PostgreSQL rejects NUL in
        // text outright; dropping them keeps every query valid.
        let text: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let text = text.trim();
        if text.is_empty() {
            return Err(DomainError::invalid("q", "must not be blank"));
        }
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(DomainError::invalid(
                "q",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        Ok(SearchText(text.to_owned()))
    }

    /// The text as given (trimmed, control characters removed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The whitespace-separated terms that can match something: those with at
    /// least one letter or digit. A query of punctuation only has no terms,
    /// and finds nothing.
    pub fn terms(&self) -> Vec<&str> {
        self.0
            .split_whitespace()
            .filter(|term| term.chars().any(char::is_alphanumeric))
            .collect()
    }
}

/// The raw query-string values of a search, as an adapter received them.
#[derive(Clone, Copy, Debug, Default)]
pub struct SearchParams<'a> {
    /// The text to find.
    pub q: Option<&'a str>,
    /// Only this thread.
    pub thread_id: Option<&'a str>,
    /// Only messages of this role (USER, ASSISTANT, SYSTEM or TOOL).
    pub role: Option<&'a str>,
    /// Only hits created at or after this instant (RFC 3339).
    pub from: Option<&'a str>,
    /// Only hits created before this instant (RFC 3339).
    pub to: Option<&'a str>,
}

/// A parsed search.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    /// What to find.
    pub text: SearchText,
    /// Only this thread (its title and its messages).
    pub thread_id: Option<ThreadId>,
    /// Only messages of this role; threads are left out.
    pub role: Option<MessageRole>,
    /// Only hits created at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only hits created strictly before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl SearchQuery {
    /// A search for `text` with no filters.
    pub fn new(text: SearchText) -> Self {
        SearchQuery {
            text,
            thread_id: None,
            role: None,
            from: None,
            to: None,
        }
    }

    /// Parses the raw values, naming the first field that is wrong. Empty
    /// filter values count as absent.
    pub fn parse(params: &SearchParams<'_>) -> Result<Self, DomainError> {
        let text = SearchText::parse(params.q.unwrap_or_default())?;
        let thread_id = match present(params.thread_id) {
            Some(raw) => Some(raw.parse::<ThreadId>()?),
            None => None,
        };
        let role = match present(params.role) {
            Some(raw) => Some(raw.parse::<MessageRole>()?),
            None => None,
        };
        let from = present(params.from)
            .map(|raw| instant("from", raw))
            .transpose()?;
        let to = present(params.to)
            .map(|raw| instant("to", raw))
            .transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err(DomainError::invalid("to", "must be later than from"));
        }
        Ok(SearchQuery {
            text,
            thread_id,
            role,
            from,
            to,
        })
    }
}

fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|raw| !raw.is_empty())
}

/// Parses an RFC 3339 instant. A `+` in a query string that was not
/// percent-encoded arrives as a space (`…T10:00:00 02:00`), so a space where
/// the offset sign belongs is read as `+`.
fn instant(field: &str, raw: &str) -> Result<DateTime<Utc>, DomainError> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|err| DateTime::parse_from_rfc3339(&raw.replace(' ', "+")).map_err(|_| err))
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            DomainError::invalid(
                field,
                "must be an RFC 3339 date-time, such as 2026-01-31T09:30:00Z",
            )
        })
}

/// What a hit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    /// A message whose text (content or blocks) matches.
    Message,
    /// A thread whose title or description matches.
    Thread,
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// Message or thread.
    pub kind: HitKind,
    /// The thread (the hit itself, for a thread).
    pub thread_id: ThreadId,
    /// The message, for a message hit.
    pub message_id: Option<MessageId>,
    /// The message's role, for a message hit.
    pub role: Option<MessageRole>,
    /// A short excerpt around the match, as HTML: the text is escaped
    /// (`&`, `<`, `>`, `"`, `'`) and each matching term is wrapped in
    /// `<mark>`…`</mark>`, so it can be shown as HTML as it is.
    pub snippet: String,
    /// How well the hit matches; higher is better. Comparable only between
    /// hits of one search (it depends on the backend and on the index).
    pub rank: f64,
    /// When the message or thread was created.
    pub created_at: DateTime<Utc>,
    /// The thread's title (plain text, not escaped).
    pub thread_title: Option<String>,
}

impl SearchHit {
    /// The id the hit is listed under: the message's, or the thread's.
    pub fn id(&self) -> Uuid {
        match self.message_id {
            Some(message) => message.as_uuid(),
            None => self.thread_id.as_uuid(),
        }
    }

    /// Where a page ending with this hit ends.
    pub fn position(&self) -> SearchPosition {
        SearchPosition {
            rank: self.rank,
            id: self.id(),
        }
    }
}

/// A place in a ranked list: hits are ordered by rank (best first), then by
/// id, so the position of the last hit of a page says where the next begins.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchPosition {
    /// The rank of the last hit returned.
    pub rank: f64,
    /// Its id.
    pub id: Uuid,
}

impl SearchPosition {
    /// The wire cursor: the rank goes in the key, written so that it parses
    /// back to the same `f64` bit for bit (the next page compares it for
    /// equality with ranks computed again).
    pub fn cursor(&self) -> Cursor {
        Cursor {
            id: self.id,
            key: Some(self.rank.to_string()),
        }
    }

    /// Reads a cursor made by [`SearchPosition::cursor`].
    pub fn from_cursor(cursor: &Cursor) -> Result<Self, DomainError> {
        let rank = cursor
            .key
            .as_deref()
            .and_then(|key| key.parse::<f64>().ok())
            .filter(|rank| rank.is_finite())
            .ok_or_else(|| {
                DomainError::invalid("cursor", "is not a cursor returned by this search")
            })?;
        Ok(SearchPosition {
            rank,
            id: cursor.id,
        })
    }
}

/// A page of search results to fetch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchPage {
    /// Hits per page.
    pub limit: u32,
    /// Where the previous page ended.
    pub after: Option<SearchPosition>,
}

impl TryFrom<&PageRequest> for SearchPage {
    type Error = DomainError;

    /// Takes the limit and cursor of a page request; results are always in
    /// rank order, so its `order` does not apply.
    fn try_from(page: &PageRequest) -> Result<Self, DomainError> {
        Ok(SearchPage {
            limit: page.limit,
            after: page
                .cursor
                .as_ref()
                .map(SearchPosition::from_cursor)
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(err: &DomainError) -> String {
        err.field_errors().fields().collect::<Vec<_>>().join(",")
    }

    #[test]
    fn blank_and_overlong_queries_name_q() {
        for raw in ["", "   ", "\t\n", "\0"] {
            let err = SearchText::parse(raw).unwrap_err();
            assert_eq!(field(&err), "q", "{raw:?}");
        }
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(field(&SearchText::parse(&long).unwrap_err()), "q");
        let longest = "é".repeat(MAX_QUERY_CHARS);
        assert!(
            SearchText::parse(&longest).is_ok(),
            "the limit counts characters"
        );
        let missing = SearchQuery::parse(&SearchParams::default()).unwrap_err();
        assert_eq!(field(&missing), "q");
    }

    #[test]
    fn terms_keep_words_and_drop_punctuation() {
        let text = SearchText::parse("  deploy \"  *  rocket's\u{0}launch NEAR( ").unwrap();
        assert_eq!(text.terms(), vec!["deploy", "rocket's", "launch", "NEAR("]);
        assert!(SearchText::parse("\" * ( )").unwrap().terms().is_empty());
    }

    #[test]
    fn filters_parse_and_bad_ones_are_named() {
        let thread = ThreadId::new().to_string();
        let query = SearchQuery::parse(&SearchParams {
            q: Some("x"),
            thread_id: Some(&thread),
            role: Some("ASSISTANT"),
            from: Some("2026-01-01T00:00:00Z"),
            to: Some("2026-01-02T00:00:00 01:00"),
        })
        .unwrap();
        assert_eq!(query.thread_id.unwrap().to_string(), thread);
        assert_eq!(query.role, Some(MessageRole::Assistant));
        assert_eq!(
            query.to.unwrap().to_rfc3339(),
            "2026-01-01T23:00:00+00:00",
            "a space stands for the +"
        );

        let bad = |params: SearchParams<'_>| {
            field(
                &SearchQuery::parse(&SearchParams {
                    q: Some("x"),
                    ..params
                })
                .unwrap_err(),
            )
        };
        let defaults = SearchParams::default;
        assert_eq!(
            bad(SearchParams {
                thread_id: Some("nope"),
                ..defaults()
            }),
            "thread_id"
        );
        assert_eq!(
            bad(SearchParams {
                role: Some("robot"),
                ..defaults()
            }),
            "role"
        );
        assert_eq!(
            bad(SearchParams {
                from: Some("yesterday"),
                ..defaults()
            }),
            "from"
        );
        assert_eq!(
            bad(SearchParams {
                from: Some("2026-01-02T00:00:00Z"),
                to: Some("2026-01-01T00:00:00Z"),
                ..defaults()
            }),
            "to"
        );
        let empty = SearchQuery::parse(&SearchParams {
            q: Some("x"),
            thread_id: Some(""),
            role: Some(""),
            from: Some(""),
            to: Some(""),
        })
        .unwrap();
        assert_eq!(empty, SearchQuery::new(SearchText::parse("x").unwrap()));
    }

    #[test]
    fn positions_round_trip_exactly_and_foreign_cursors_are_refused() {
        for rank in [0.1 + 0.2, -1.0e-6, 12.345_678_901_234_567, 0.0] {
            let position = SearchPosition {
                rank,
                id: Uuid::now_v7(),
            };
            let cursor = Cursor::decode(&position.cursor().encode()).unwrap();
            let back = SearchPosition::from_cursor(&cursor).unwrap();
            assert_eq!(back.rank.to_bits(), rank.to_bits());
            assert_eq!(back.id, position.id);
        }
        for key in [None, Some("soon"), Some("NaN"), Some("inf")] {
            let cursor = Cursor {
                id: Uuid::now_v7(),
                key: key.map(str::to_owned),
            };
            let err = SearchPosition::from_cursor(&cursor).unwrap_err();
            assert_eq!(field(&err), "cursor", "{key:?}");
        }
    }
}
