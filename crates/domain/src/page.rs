//! Cursor pagination: what a caller asks for and what a list returns.
//!
//! Lists are keyset-paginated on time-ordered ids (optionally preceded by a
//! sort key), so a page boundary never shifts under concurrent inserts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;

/// The smallest page a caller may ask for.
pub const MIN_LIMIT: u32 = 1;
/// The largest page a caller may ask for.
pub const MAX_LIMIT: u32 = 100;
/// The page size when none is given.
pub const DEFAULT_LIMIT: u32 = 20;

/// Sort direction of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first (the default).
    #[default]
    Desc,
}

/// The position after the last item of a page. Opaque on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The id of the last item returned.
    pub id: Uuid,
    /// The sort key of the last item, when the list sorts by something else
    /// than the id (for example `updated_at`).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "k")]
    pub key: Option<String>,
}

impl Cursor {
    /// A cursor positioned after the item with this id.
    pub fn after(id: Uuid) -> Self {
        Cursor { id, key: None }
    }

    /// Encodes the cursor for the wire.
    pub fn encode(&self) -> String {
        // Serialising two plain fields cannot fail; an empty cursor would only
        // restart the listing, never skip data.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a cursor received from a client.
    pub fn decode(raw: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::invalid("cursor", "is not a cursor returned by this API");
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

/// What a caller asked for: page size, position and direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page, within `MIN_LIMIT..=MAX_LIMIT`.
    pub limit: u32,
    /// Where the previous page ended.
    pub cursor: Option<Cursor>,
    /// Sort direction.
    pub order: Order,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: DEFAULT_LIMIT,
            cursor: None,
            order: Order::Desc,
        }
    }
}

impl PageRequest {
    /// Parses the raw query values, naming the field that is wrong.
    pub fn parse(
        limit: Option<&str>,
        cursor: Option<&str>,
        order: Option<&str>,
    ) -> Result<Self, DomainError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (MIN_LIMIT..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    DomainError::invalid(
                        "limit",
                        format!("must be an integer from {MIN_LIMIT} to {MAX_LIMIT}"),
                    )
                })?,
        };
        let cursor = match cursor {
            None | Some("") => None,
            Some(raw) => Some(Cursor::decode(raw)?),
        };
        let order = match order {
            None => Order::Desc,
            Some("asc") => Order::Asc,
            Some("desc") => Order::Desc,
            Some(_) => return Err(DomainError::invalid("order", "must be asc or desc")),
        };
        Ok(PageRequest {
            limit,
            cursor,
            order,
        })
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items, in the requested order.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
    /// Whether more items follow.
    pub has_more: bool,
    /// The page size that was applied.
    pub limit: u32,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row, if present,
    /// only tells that there is more.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|last| cursor_of(last).encode())
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
            has_more,
            limit,
        }
    }

    /// Transforms every item, keeping the position.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            has_more: self.has_more,
            limit: self.limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let page = PageRequest::parse(None, None, None).unwrap();
        assert_eq!(page, PageRequest::default());
    }

    #[test]
    fn limits_outside_the_range_name_the_field() {
        for raw in ["0", "101", "-1", "ten"] {
            let err = PageRequest::parse(Some(raw), None, None).unwrap_err();
            assert!(err.to_string().starts_with("invalid limit"), "{raw}: {err}");
        }
        assert_eq!(
            PageRequest::parse(Some("100"), None, None).unwrap().limit,
            100
        );
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            id: Uuid::now_v7(),
            key: Some("2026-01-01T00:00:00Z".into()),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        let err = PageRequest::parse(None, Some("%%%"), None).unwrap_err();
        assert!(err.to_string().starts_with("invalid cursor"));
        let err = PageRequest::parse(None, None, Some("sideways")).unwrap_err();
        assert!(err.to_string().starts_with("invalid order"));
    }

    #[test]
    fn overfetching_one_row_tells_whether_more_follow() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, |n| Cursor::after(Uuid::from_u128(*n)));
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.has_more);
        let next = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next.id, Uuid::from_u128(2));

        let last = Page::from_overfetch(vec![1, 2], 2, |n| Cursor::after(Uuid::from_u128(*n)));
        assert!(!last.has_more);
        assert_eq!(last.next_cursor, None);
    }
}
