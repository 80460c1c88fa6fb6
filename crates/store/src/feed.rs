//! The events other processes commit, as PostgreSQL tells them: every
//! event's write transaction sends `NOTIFY xl_events, '<thread>:<seq>'`
//! (see `repo::events::append`), which PostgreSQL delivers at commit and
//! drops on rollback, and an [`EventFeed`] listens on that channel.
//!
//! Notifications sent while the listening connection is down are lost, so
//! after a lost connection the feed reconnects and says
//! [`FeedItem::Resync`]: whatever a listener followed may have changed.
//! SQLite has no feed: one process owns a SQLite file, and its hub sees
//! every change.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgListener, PgNotification};
use sea_orm::{DbErr, RuntimeErr};
use uuid::Uuid;
use xl_domain::ThreadId;

use crate::StoreError;

/// The channel every event is announced on.
pub(crate) const CHANNEL: &str = "xl_events";

/// The first wait before connecting again after a failure; it doubles up
/// to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the feed says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedItem {
    /// The thread's log holds events up to `seq`.
    Committed {
        /// The thread.
        thread: ThreadId,
        /// Its newest committed event.
        seq: i64,
    },
    /// Notifications may have been lost (the connection was down): any
    /// thread's log may have grown.
    Resync,
}

/// A listener on the events committed by any process on the database.
///
/// It holds a connection of its own, outside the store's pool, for as long
/// as it lives.
pub struct EventFeed {
    url: String,
    /// `None` while disconnected after a failure.
    listener: Option<PgListener>,
    backoff: Duration,
}

impl std::fmt::Debug for EventFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventFeed")
            .field("connected", &self.listener.is_some())
            .finish_non_exhaustive()
    }
}

impl EventFeed {
    /// Connects to the database at `url` and listens.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let listener = listen(url).await.map_err(from_sqlx)?;
        Ok(EventFeed {
            url: url.to_owned(),
            listener: Some(listener),
            backoff: FIRST_BACKOFF,
        })
    }

    /// The next committed event, or [`FeedItem::Resync`] once the feed is
    /// listening again after a lost connection. It waits as long as it
    /// takes: while the database cannot be reached it retries with
    /// backoff, logging each failure.
    pub async fn next(&mut self) -> FeedItem {
        loop {
            let Some(listener) = self.listener.as_mut() else {
                self.reconnect().await;
                return FeedItem::Resync;
            };
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Some(item) = parse(&notification) {
                        return item;
                    }
                }
                // The connection was lost and the listener, which reconnects
                // eagerly, listens again on a new one.
                Ok(None) => {
                    tracing::warn!("the event feed lost its connection and reconnected");
                    return FeedItem::Resync;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the event feed lost its connection");
                    // A fresh listener rather than the failed one's own
                    // recovery: it may still hold the broken connection.
                    self.listener = None;
                }
            }
        }
    }

    /// Connects again, waiting longer after each failure.
    async fn reconnect(&mut self) {
        loop {
            tokio::time::sleep(self.backoff).await;
            match listen(&self.url).await {
                Ok(listener) => {
                    tracing::info!("the event feed is listening again");
                    self.listener = Some(listener);
                    self.backoff = FIRST_BACKOFF;
                    return;
                }
                Err(err) => {
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    tracing::warn!(
                        error = %err,
                        retry_ms = self.backoff.as_millis(),
                        "the event feed cannot connect"
                    );
                }
            }
        }
    }
}

/// A listener on its own connection (a pool of one, which it reconnects).
async fn listen(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// The item a notification announces; `None` for a payload that is not
/// `<thread uuid>:<seq>` (someone else's notification on the channel).
fn parse(notification: &PgNotification) -> Option<FeedItem> {
    let item = parse_payload(notification.payload());
    if item.is_none() {
        tracing::debug!(
            payload = notification.payload(),
            "ignoring a malformed event notification"
        );
    }
    item
}

fn parse_payload(payload: &str) -> Option<FeedItem> {
    let (thread, seq) = payload.split_once(':')?;
    Some(FeedItem::Committed {
        thread: ThreadId::from_uuid(Uuid::parse_str(thread).ok()?),
        seq: seq.parse().ok()?,
    })
}

fn from_sqlx(err: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from_orm(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(err))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_a_thread_and_a_seq() {
        let id = Uuid::now_v7();
        assert_eq!(
            parse_payload(&format!("{id}:42")),
            Some(FeedItem::Committed {
                thread: ThreadId::from_uuid(id),
                seq: 42
            })
        );
        for junk in ["", "x:1", &format!("{id}"), &format!("{id}:"), "1:2"] {
            assert_eq!(parse_payload(junk), None, "{junk}");
        }
    }
}
