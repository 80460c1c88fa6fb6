//! The caller's feed: every event of every thread they may read, on one
//! stream (`GET /api/v1/events`), resumable with a cursor.
//!
//! Within a thread the feed keeps the thread follower's guarantees (each
//! event once, in `seq` order, a gap filled from the log). Across threads
//! its cursor holds the position reached in each thread that was active
//! lately, and a watermark: every thread with events written after the
//! watermark minus [`SLACK`] is in the cursor or has had none of its events
//! sent. So a resume reads each listed thread after its position and every
//! other visible thread from the watermark on, and misses nothing that
//! committed within [`SLACK`] of being written. The watermark advances at
//! each [`SCAN_EVERY`] scan, and threads quiet since before it leave the
//! cursor, which stays small.
//!
//! The hub's all-threads channel wakes the feed: a thread first heard of
//! there starts at that event (a thread joined, at the join). The scan
//! (active threads of the org since the watermark) catches what the hub
//! could not say: a lagging receiver, another replica without a
//! notification.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::Stream;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::{Actor, DomainError, ThreadId};
use xl_store::repo;

use crate::events::Wake;
use crate::threads::Access;
use crate::{ServiceError, Services};

/// Events of the feed, each with the cursor that resumes right after it.
pub type FeedStream =
    Pin<Box<dyn Stream<Item = Result<(String, ThreadEvent), ServiceError>> + Send>>;

/// How long after it was written an event may still commit and be found by
/// a scan from the watermark.
pub const SLACK: Duration = Duration::from_secs(30);
/// How often the feed scans for threads the hub did not report.
pub const SCAN_EVERY: Duration = Duration::from_secs(10);
/// Events read from the log per query, and threads per scan.
const PAGE: u64 = 500;
/// Threads whose visibility a feed remembers before it forgets them all
/// (the hub's all-threads channel names every thread of the installation).
const VISIBLE_MAX: usize = 4096;

/// Where a feed resumes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedCursor {
    /// Every thread with events written after this (less [`SLACK`]) is
    /// in `positions` or has had none sent.
    pub watermark: DateTime<Utc>,
    /// The last `seq` sent, per thread.
    pub positions: HashMap<ThreadId, i64>,
}

impl FeedCursor {
    /// `w<unix ms>` then `.<thread>:<seq>` per thread.
    pub fn encode(&self) -> String {
        let mut out = format!("w{}", self.watermark.timestamp_millis());
        let mut positions: Vec<_> = self.positions.iter().collect();
        positions.sort();
        for (thread, seq) in positions {
            out.push_str(&format!(".{}:{seq}", thread.as_uuid().simple()));
        }
        out
    }

    /// Reads a cursor from [`FeedCursor::encode`]; `field` names where it
    /// came from in the error.
    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        let invalid = || DomainError::invalid(field, "must be an event id from this stream");
        let mut parts = raw.trim().split('.');
        let watermark = parts
            .next()
            .and_then(|w| w.strip_prefix('w'))
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(invalid)?;
        let mut positions = HashMap::new();
        for part in parts {
            let (thread, seq) = part.split_once(':').ok_or_else(invalid)?;
            let thread = uuid::Uuid::try_parse(thread)
                .map(ThreadId::from_uuid)
                .map_err(|_| invalid())?;
            let seq = seq
                .parse::<i64>()
                .ok()
                .filter(|s| *s >= 0)
                .ok_or_else(invalid)?;
            positions.insert(thread, seq);
        }
        Ok(FeedCursor {
            watermark,
            positions,
        })
    }
}

fn slack() -> TimeDelta {
    TimeDelta::from_std(SLACK).unwrap_or(TimeDelta::MAX)
}

struct Feed {
    services: Services,
    actor: Actor,
    hub: broadcast::Receiver<(Option<ThreadId>, Wake)>,
    cursor: FeedCursor,
    /// When each listed thread's last event was written.
    touched: HashMap<ThreadId, DateTime<Utc>>,
    /// Whether the caller may read a thread, as last checked.
    visible: HashMap<ThreadId, bool>,
    pending: VecDeque<(String, ThreadEvent)>,
    /// Threads whose log must be read.
    reread: Vec<ThreadId>,
    scan_due: bool,
    scan: Interval,
    done: bool,
}

impl Feed {
    async fn may_read(&mut self, thread: ThreadId) -> Result<bool, ServiceError> {
        if let Some(known) = self.visible.get(&thread) {
            return Ok(*known);
        }
        let visible = match self
            .services
            .thread_for(&self.actor, thread, Access::Read)
            .await
        {
            Ok(_) => true,
            Err(ServiceError::NotFound(_) | ServiceError::Forbidden(_)) => false,
            Err(err) => return Err(err),
        };
        self.visible.insert(thread, visible);
        Ok(visible)
    }

    fn queue(&mut self, event: ThreadEvent) {
        if event.seq > 0 && !is_signal(&event) {
            self.cursor.positions.insert(event.thread_id, event.seq);
            self.touched.insert(event.thread_id, event.created_at);
        }
        // Membership and deletion change who may read the thread.
        if event.kind.starts_with("member.") || event.kind.starts_with("thread.") {
            self.visible.remove(&event.thread_id);
        }
        self.pending.push_back((self.cursor.encode(), event));
    }

    /// Sends a thread's logged events after its position (or, for a thread
    /// not in the cursor, written after the watermark less the slack).
    async fn read_thread(&mut self, thread: ThreadId) -> Result<(), ServiceError> {
        if !self.may_read(thread).await? {
            self.cursor.positions.remove(&thread);
            return Ok(());
        }
        let store = self.services.store.clone();
        let db = store.reader();
        loop {
            let page = match self.cursor.positions.get(&thread) {
                Some(after) => repo::events::after(db, thread, *after, None, PAGE).await?,
                None => {
                    let since = self.cursor.watermark - slack();
                    repo::events::written_after(db, thread, since, PAGE).await?
                }
            };
            let full = page.len() as u64 == PAGE;
            for event in page {
                self.queue(event);
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Finds the threads with events since the watermark, reads those not
    /// listed, then advances the watermark and forgets threads quiet since.
    async fn scan(&mut self) -> Result<(), ServiceError> {
        let started = Utc::now();
        let since = self.cursor.watermark - slack();
        let active = repo::events::active_threads(
            self.services.store.reader(),
            self.actor.org_id,
            since,
            PAGE,
        )
        .await?;
        for thread in active {
            self.read_thread(thread).await?;
        }
        self.cursor.watermark = started;
        let horizon = started - slack();
        let touched = &self.touched;
        self.cursor
            .positions
            .retain(|thread, _| touched.get(thread).is_some_and(|at| *at > horizon));
        self.touched.retain(|_, at| *at > horizon);
        if self.visible.len() > VISIBLE_MAX {
            self.visible.clear();
        }
        Ok(())
    }

    async fn take(&mut self, thread: ThreadId, wake: Wake) -> Result<(), ServiceError> {
        match wake {
            Wake::Event(event) => {
                if !self.may_read(thread).await? {
                    // Joining a thread makes it readable from the join on.
                    if event.kind != kind::MEMBER_ADDED {
                        return Ok(());
                    }
                    self.visible.remove(&thread);
                    if !self.may_read(thread).await? {
                        return Ok(());
                    }
                    self.cursor.positions.insert(thread, event.seq - 1);
                }
                match self.cursor.positions.get(&thread) {
                    Some(at) if event.seq <= *at => {}
                    Some(at) if event.seq == at + 1 => self.queue(event),
                    Some(_) => self.reread.push(thread),
                    // A thread heard of first from the hub starts at this
                    // event: a wake-up of it lost before would have made
                    // the hub report a lag, and a scan read it first.
                    None => {
                        self.cursor.positions.insert(thread, event.seq - 1);
                        self.queue(event);
                    }
                }
            }
            Wake::Committed(seq) => {
                if self
                    .cursor
                    .positions
                    .get(&thread)
                    .is_none_or(|at| seq > *at)
                {
                    self.reread.push(thread);
                }
            }
            Wake::Signal(mut signal) => {
                if self.may_read(thread).await? {
                    signal.seq = self.cursor.positions.get(&thread).copied().unwrap_or(0);
                    self.pending.push_back((self.cursor.encode(), signal));
                }
            }
            Wake::Resync => self.reread.push(thread),
        }
        Ok(())
    }

    async fn step(&mut self) -> Result<(), ServiceError> {
        if self.scan_due {
            self.scan_due = false;
            return self.scan().await;
        }
        if let Some(thread) = self.reread.pop() {
            return self.read_thread(thread).await;
        }
        tokio::select! {
            received = self.hub.recv() => match received {
                Ok((Some(thread), wake)) => self.take(thread, wake).await?,
                // Wake-ups were lost (the event feed reconnected).
                Ok((None, _)) => self.scan_due = true,
                // What the hub dropped, the log has: scan for it.
                Err(RecvError::Lagged(_)) => self.scan_due = true,
                Err(RecvError::Closed) => {
                    self.hub = self.services.events.subscribe_all();
                    self.scan_due = true;
                }
            },
            _ = self.scan.tick() => self.scan_due = true,
        }
        Ok(())
    }

    async fn next(mut self) -> Option<(Result<(String, ThreadEvent), ServiceError>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if let Some(item) = self.pending.pop_front() {
                return Some((Ok(item), self));
            }
            if let Err(err) = self.step().await {
                self.done = true;
                return Some((Err(err), self));
            }
        }
    }
}

fn is_signal(event: &ThreadEvent) -> bool {
    matches!(
        event.kind.as_str(),
        crate::presence::TYPING | crate::presence::PRESENCE | crate::presence::ASSISTANT_STATUS
    )
}

impl Services {
    /// Every event of every thread the caller may read: after `cursor`
    /// (see [`FeedCursor`]), or from now on.
    pub async fn follow_feed(
        &self,
        actor: &Actor,
        cursor: Option<FeedCursor>,
    ) -> Result<FeedStream, ServiceError> {
        // Subscribe first, as a thread follower does.
        let hub = self.events.subscribe_all();
        let resuming = cursor.is_some();
        let cursor = cursor.unwrap_or_else(|| FeedCursor {
            watermark: Utc::now(),
            positions: HashMap::new(),
        });
        let mut scan = tokio::time::interval_at(Instant::now() + SCAN_EVERY, SCAN_EVERY);
        scan.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut feed = Feed {
            services: self.clone(),
            actor: actor.clone(),
            hub,
            touched: HashMap::new(),
            visible: HashMap::new(),
            pending: VecDeque::new(),
            reread: cursor.positions.keys().copied().collect(),
            cursor,
            scan_due: resuming,
            scan,
            done: false,
        };
        // Listed threads stay listed until a scan finds them quiet.
        let now = Utc::now();
        for thread in feed.cursor.positions.keys() {
            feed.touched.insert(*thread, now);
        }
        Ok(Box::pin(futures_util::stream::unfold(feed, Feed::next)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_name_their_field() {
        let thread = ThreadId::new();
        let cursor = FeedCursor {
            watermark: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            positions: HashMap::from([(thread, 42)]),
        };
        let encoded = cursor.encode();
        assert_eq!(FeedCursor::parse("after", &encoded).unwrap(), cursor);
        for bad in [
            "",
            "x1",
            "w1.nothread:1",
            &format!("w1.{}:-1", thread.as_uuid().simple()),
        ] {
            let err = FeedCursor::parse("Last-Event-ID", bad).unwrap_err();
            assert!(err.to_string().contains("Last-Event-ID"), "{bad}: {err}");
        }
    }
}
