//! Repositories: queries that take any connection (the read pool, the writer
//! or a write transaction) and speak domain types.
//!
//! Every function that touches tenant data takes the org it is scoped to;
//! callers (the services) decide which org and user the caller may touch.

pub mod api_keys;
pub mod completions;
pub mod events;
pub mod idempotency;
pub mod identity;
pub mod messages;
pub mod messages_fast;
pub mod orgs;
pub mod preferences;
pub mod reactions;
pub mod replies;
pub mod search;
pub mod sessions;
pub mod threads;
pub mod usage;
pub mod users;

use xl_domain::{Cursor, Order, PageRequest};

/// Rows to fetch for a page: one more than the limit, to learn whether more follow.
pub(crate) fn overfetch(page: &PageRequest) -> u64 {
    u64::from(page.limit) + 1
}

/// Whether the keyset comparison for `page` is "greater than" (ascending).
pub(crate) fn ascending(page: &PageRequest) -> bool {
    page.order == Order::Asc
}

/// The id after which a page starts.
pub(crate) fn cursor_id(page: &PageRequest) -> Option<uuid::Uuid> {
    page.cursor.as_ref().map(|cursor: &Cursor| cursor.id)
}
