//! Following one message's events: its log after a cursor, then live events
//! from the hub, until the message reaches a final status.
//!
//! No gap, no duplicate: the follower subscribes to the hub before it reads
//! anything, so every event committed afterwards reaches it; it then reads
//! the log after the cursor, and from then on takes a hub event directly
//! only when it is the very next event of the thread (`seq` = the highest
//! it has accounted for + 1). A thread's events commit in `seq` order (the
//! sequence is allocated on the thread's row inside the writing
//! transaction), so whenever the hub skips ahead (events published before
//! the subscription, publishers racing after their commits, or a lagging
//! receiver) everything up to the event just seen is already in the log,
//! and one read after the last event sent fills the gap.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::{Actor, MessageId, MessageStatus, ThreadId};
use xl_store::repo;

use crate::{ServiceError, Services};

/// A message's events, oldest first, ending after its final status.
pub type MessageEvents = Pin<Box<dyn Stream<Item = Result<ThreadEvent, ServiceError>> + Send>>;

/// Events read from the log per query.
const LOG_PAGE: u64 = 500;
/// How often a follower reads the log even without a wake-up, in case the
/// event came from another process (the hub is in-process only).
const RECHECK_EVERY: Duration = Duration::from_secs(10);

/// Whether an event is the final status of a message.
pub fn is_final(event: &ThreadEvent) -> bool {
    event.kind == kind::MESSAGE_UPDATED
        && event
            .payload
            .get("status")
            .and_then(|status| status.as_str())
            .is_some_and(|status| status != MessageStatus::Streaming.as_str())
}

struct Follower {
    services: Services,
    thread: ThreadId,
    message: MessageId,
    hub: broadcast::Receiver<ThreadEvent>,
    /// The `seq` of the last event of this message queued (or sent).
    queued: i64,
    /// Every event of the thread up to here has been accounted for: this
    /// message's are queued or sent, the others skipped.
    covered: i64,
    pending: VecDeque<ThreadEvent>,
    /// The log must be read; afterwards `covered` may rise to this.
    reread: Option<i64>,
    /// The message was final before the log was read: stop after it.
    ends_with_log: bool,
    done: bool,
    recheck: Interval,
}

impl Follower {
    /// Queues this message's logged events after `queued`.
    async fn read_log(&mut self, floor: i64) -> Result<(), ServiceError> {
        let db = self.services.store.reader();
        loop {
            let page =
                repo::events::after(db, self.thread, self.queued, Some(self.message), LOG_PAGE)
                    .await?;
            let full = page.len() as u64 == LOG_PAGE;
            for event in page {
                self.queued = event.seq;
                self.pending.push_back(event);
            }
            if !full {
                break;
            }
        }
        self.covered = self.covered.max(floor).max(self.queued);
        Ok(())
    }

    /// Takes an event from the hub.
    fn take(&mut self, event: ThreadEvent) {
        if event.seq <= self.covered {
            return;
        }
        if event.seq == self.covered + 1 {
            self.covered = event.seq;
            if event.message_id == Some(self.message) {
                self.queued = event.seq;
                self.pending.push_back(event);
            }
            return;
        }
        self.reread = Some(self.reread.unwrap_or(0).max(event.seq));
    }

    async fn next(mut self) -> Option<(Result<ThreadEvent, ServiceError>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.pending.pop_front() {
                self.done = is_final(&event);
                return Some((Ok(event), self));
            }
            if self.ends_with_log {
                return None;
            }
            if let Some(floor) = self.reread.take() {
                if let Err(err) = self.read_log(floor).await {
                    self.done = true;
                    return Some((Err(err), self));
                }
                continue;
            }
            tokio::select! {
                received = self.hub.recv() => match received {
                    Ok(event) => self.take(event),
                    Err(RecvError::Lagged(_)) => self.reread = Some(self.covered),
                    Err(RecvError::Closed) => {
                        self.hub = self.services.events.subscribe(self.thread);
                        self.reread = Some(self.covered);
                    }
                },
                _ = self.recheck.tick() => self.reread = Some(self.covered),
            }
        }
    }
}

impl Services {
    /// The events of a message the caller may read, after `after` (a `seq`;
    /// 0 for all), then live until the message's final status.
    pub async fn follow_message(
        &self,
        actor: &Actor,
        id: MessageId,
        after: i64,
    ) -> Result<MessageEvents, ServiceError> {
        let message = self.get_message(actor, id).await?;
        let thread = message.thread_id;
        // Subscribe first: whatever commits from now on reaches the hub
        // receiver, and whatever committed before is in the reads below.
        let hub = self.events.subscribe(thread);
        let db = self.store.reader();
        let last = repo::events::last_seq(db, thread).await?.unwrap_or(0);
        let status = repo::messages::find(db, actor.org_id, id)
            .await?
            .map_or(MessageStatus::Complete, |m| m.status);
        let after = after.max(0);
        let mut follower = Follower {
            services: self.clone(),
            thread,
            message: id,
            hub,
            queued: after,
            covered: after,
            pending: VecDeque::new(),
            reread: None,
            ends_with_log: status != MessageStatus::Streaming,
            done: false,
            recheck: {
                let mut every =
                    tokio::time::interval_at(Instant::now() + RECHECK_EVERY, RECHECK_EVERY);
                every.set_missed_tick_behavior(MissedTickBehavior::Delay);
                every
            },
        };
        follower.read_log(last).await?;
        Ok(Box::pin(futures_util::stream::unfold(
            follower,
            Follower::next,
        )))
    }
}
