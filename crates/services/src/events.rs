//! Thread events, live. The log in the database is the truth: every change
//! to a thread appends its event in the change's own transaction
//! ([`Services::log_event`]), and the event is published to this process's
//! hub once that transaction has committed ([`Services::commit_and_publish`]).
//! The hub only wakes listeners up; what they send comes from the log or is
//! checked against it.
//!
//! A follower ([`Services::follow_thread`], [`Services::follow_message`])
//! sees every event once, in order, with no gap, across reconnects:
//!
//! - It subscribes to the hub before it reads anything, so every event
//!   committed afterwards reaches it; it then reads the log after the
//!   client's cursor.
//! - From then on it takes a hub event directly only when it is the very
//!   next event of the thread (its `seq` is one more than the highest it
//!   has accounted for). A thread's events commit in `seq` order (the sequence is
//!   allocated on the thread's row inside the writing transaction), so
//!   whenever the hub skips ahead (events published before the
//!   subscription, publishers racing after their commits, a receiver that
//!   lagged past the bounded buffer, or an event from another process) the
//!   log holds everything up to the event just seen, and one read after the
//!   last event sent fills the gap.
//! - It reads the log every [`RECHECK_EVERY`] even without a wake-up, and
//!   checks then (and at once after its reader was removed from the thread
//!   or the thread was deleted) that the caller may still read the thread;
//!   when not, it sends [`kind::ACCESS_REVOKED`] and ends.
//! - A cursor older than the log keeps (events are pruned after the
//!   retention window) or ahead of it gets [`kind::RESET`]: refetch, then
//!   follow from its `seq`.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::Stream;
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::{Actor, MessageId, MessageStatus, ThreadId, UserId};
use xl_store::{Tx, repo};

use crate::presence::Connection;
use crate::threads::Access;
use crate::{ServiceError, Services};

/// A stream of thread events for one client, oldest first.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<ThreadEvent, ServiceError>> + Send>>;

/// How many events a listener may fall behind before it must re-read the
/// log (the default of `ServicesConfig::event_buffer`).
pub const DEFAULT_BUFFER: usize = 1024;
/// Events read from the log per query.
const LOG_PAGE: u64 = 500;
/// How often a follower reads the log and checks access even without a
/// wake-up.
pub const RECHECK_EVERY: Duration = Duration::from_secs(10);

/// What the hub tells a thread's listeners. Events are shared: every
/// listener's receiver clones what it takes, and a thread's channel holds
/// [`DEFAULT_BUFFER`] of these from its first listener on.
#[derive(Clone, Debug)]
pub enum Wake {
    /// An event committed in this process.
    Event(Arc<ThreadEvent>),
    /// The thread's log holds events up to `seq` (committed elsewhere,
    /// e.g. by another replica): read them from the log.
    Committed(i64),
    /// An ephemeral signal (typing, presence, assistant status): not in the
    /// log, delivered to whoever follows the thread now.
    Signal(Arc<ThreadEvent>),
}

/// Per-thread broadcast channels of committed events.
#[derive(Debug)]
pub struct EventHub {
    capacity: usize,
    channels: Mutex<HashMap<ThreadId, broadcast::Sender<Wake>>>,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub::new(DEFAULT_BUFFER)
    }
}

impl EventHub {
    /// A hub whose listeners may each fall `capacity` events behind.
    pub fn new(capacity: usize) -> Self {
        EventHub {
            capacity: capacity.max(1),
            channels: Mutex::default(),
        }
    }

    /// Wakes the thread's listeners with an event committed here.
    pub fn publish(&self, event: ThreadEvent) {
        self.wake(event.thread_id, Wake::Event(Arc::new(event)));
    }

    /// Sends an ephemeral signal to the thread's listeners.
    pub fn signal(&self, event: ThreadEvent) {
        self.wake(event.thread_id, Wake::Signal(Arc::new(event)));
    }

    /// Wakes the thread's listeners: its log holds events up to `seq`.
    pub fn committed(&self, thread: ThreadId, seq: i64) {
        self.wake(thread, Wake::Committed(seq));
    }

    fn wake(&self, thread: ThreadId, wake: Wake) {
        let Ok(mut channels) = self.channels.lock() else {
            return;
        };
        if let Some(sender) = channels.get(&thread) {
            if sender.receiver_count() == 0 {
                channels.remove(&thread);
            } else {
                let _ = sender.send(wake);
            }
        }
    }

    /// How many listeners of the thread's events this process has.
    pub fn listeners(&self, thread: ThreadId) -> usize {
        self.channels.lock().ok().map_or(0, |channels| {
            channels
                .get(&thread)
                .map_or(0, broadcast::Sender::receiver_count)
        })
    }

    /// Listens to a thread's events from now on.
    pub fn subscribe(&self, thread: ThreadId) -> broadcast::Receiver<Wake> {
        match self.channels.lock() {
            Ok(mut channels) => channels
                .entry(thread)
                .or_insert_with(|| broadcast::channel(self.capacity).0)
                .subscribe(),
            // A poisoned lock only means another listener panicked; a fresh
            // channel still delivers from the log.
            Err(_) => broadcast::channel(1).1,
        }
    }
}

/// Whether an event ends a message: its reply reached a final status.
pub fn is_final(event: &ThreadEvent) -> bool {
    event.kind == kind::MESSAGE_COMPLETED
}

/// Whether an event may take the follower's reader out of the thread.
fn may_revoke(event: &ThreadEvent, reader: UserId) -> bool {
    event.kind == kind::THREAD_DELETED
        || (event.kind == kind::MEMBER_REMOVED
            && event.payload.get("user_id").and_then(|id| id.as_str())
                == Some(reader.to_string().as_str()))
}

/// An event that is not in the log.
fn notice(thread: ThreadId, seq: i64, kind: &str) -> ThreadEvent {
    ThreadEvent {
        seq,
        thread_id: thread,
        kind: kind.to_owned(),
        message_id: None,
        actor_id: None,
        payload: json!({ "thread_id": thread, "seq": seq }),
        created_at: Utc::now(),
    }
}

struct Follower {
    services: Services,
    actor: Actor,
    thread: ThreadId,
    /// Only this message's events, ending with its final status.
    message: Option<MessageId>,
    hub: broadcast::Receiver<Wake>,
    /// The `seq` of the last event queued (or sent).
    queued: i64,
    /// Every event of the thread up to here has been accounted for: those
    /// wanted are queued or sent, the others skipped.
    covered: i64,
    pending: VecDeque<ThreadEvent>,
    /// The log must be read; afterwards `covered` may rise to this.
    reread: Option<i64>,
    /// Whether the reader's access must be checked before going on.
    verify: bool,
    /// The message was final before the log was read: stop after it.
    ends_with_log: bool,
    /// The reader's presence in the thread, while this follower lives
    /// (thread followers only).
    _presence: Option<Connection>,
    done: bool,
    recheck: Interval,
}

impl Follower {
    fn wants(&self, event: &ThreadEvent) -> bool {
        self.message.is_none() || event.message_id == self.message
    }

    /// Queues the wanted logged events after `queued`.
    async fn read_log(&mut self, floor: i64) -> Result<(), ServiceError> {
        let db = self.services.store.reader();
        loop {
            let page =
                repo::events::after(db, self.thread, self.queued, self.message, LOG_PAGE).await?;
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
    fn take(&mut self, event: Arc<ThreadEvent>) {
        if event.seq <= self.covered {
            return;
        }
        if event.seq == self.covered + 1 {
            self.covered = event.seq;
            self.verify |= may_revoke(&event, self.actor.user_id);
            if self.wants(&event) {
                self.queued = event.seq;
                self.pending.push_back(Arc::unwrap_or_clone(event));
            }
            return;
        }
        self.reread = Some(self.reread.unwrap_or(0).max(event.seq));
    }

    /// Whether the reader may still read the thread.
    async fn still_admitted(&self) -> Result<bool, ServiceError> {
        match self
            .services
            .thread_for(&self.actor, self.thread, Access::Read)
            .await
        {
            Ok(_) => Ok(true),
            Err(ServiceError::NotFound(_) | ServiceError::Forbidden(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    async fn next(mut self) -> Option<(Result<ThreadEvent, ServiceError>, Self)> {
        loop {
            if self.done {
                return None;
            }
            if let Some(event) = self.pending.pop_front() {
                self.done = self.message.is_some() && is_final(&event);
                self.verify |= may_revoke(&event, self.actor.user_id);
                return Some((Ok(event), self));
            }
            if self.verify {
                self.verify = false;
                // Boxed, here and below: the stream keeps this future for
                // as long as the client follows, and a database call's state
                // inline would make every idle follower kilobytes larger.
                match Box::pin(self.still_admitted()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        self.done = true;
                        let revoked = notice(self.thread, self.covered, kind::ACCESS_REVOKED);
                        return Some((Ok(revoked), self));
                    }
                    Err(err) => {
                        self.done = true;
                        return Some((Err(err), self));
                    }
                }
            }
            if self.ends_with_log {
                return None;
            }
            if let Some(floor) = self.reread.take() {
                if let Err(err) = Box::pin(self.read_log(floor)).await {
                    self.done = true;
                    return Some((Err(err), self));
                }
                continue;
            }
            tokio::select! {
                received = self.hub.recv() => match received {
                    Ok(Wake::Event(event)) => self.take(event),
                    Ok(Wake::Committed(seq)) => {
                        if seq > self.covered {
                            self.reread = Some(self.reread.unwrap_or(0).max(seq));
                        }
                    }
                    // Signals go to thread followers, placed at the position
                    // reached so far (their `seq` is a valid cursor).
                    Ok(Wake::Signal(signal)) => {
                        if self.message.is_none() {
                            let mut signal = Arc::unwrap_or_clone(signal);
                            signal.seq = self.queued;
                            self.pending.push_back(signal);
                        }
                    }
                    Err(RecvError::Lagged(_)) => self.reread = Some(self.covered),
                    Err(RecvError::Closed) => {
                        self.hub = self.services.events.subscribe(self.thread);
                        self.reread = Some(self.covered);
                    }
                },
                _ = self.recheck.tick() => {
                    self.reread = Some(self.covered);
                    self.verify = true;
                }
            }
        }
    }
}

impl Services {
    /// Every event of a thread the caller may read, after `after` (a `seq`;
    /// 0 for all that the log keeps), then live, until the caller may no
    /// longer read it.
    pub async fn follow_thread(
        &self,
        actor: &Actor,
        thread: ThreadId,
        after: i64,
    ) -> Result<EventStream, ServiceError> {
        self.thread_for(actor, thread, Access::Read).await?;
        self.follow(actor, thread, None, after).await
    }

    /// [`Services::follow_thread`] without counting the caller's presence
    /// (a connection that already counts it, as a WebSocket does).
    pub async fn follow_thread_quietly(
        &self,
        actor: &Actor,
        thread: ThreadId,
        after: i64,
    ) -> Result<EventStream, ServiceError> {
        self.thread_for(actor, thread, Access::Read).await?;
        self.open_follower(actor, thread, None, after, None).await
    }

    /// Opens a follower after `after`, sending [`kind::RESET`] first when
    /// the log no longer holds what follows `after` (or never held `after`).
    pub(crate) async fn follow(
        &self,
        actor: &Actor,
        thread: ThreadId,
        message: Option<MessageId>,
        after: i64,
    ) -> Result<EventStream, ServiceError> {
        let presence = message.is_none().then(|| self.connect(actor, thread));
        self.open_follower(actor, thread, message, after, presence)
            .await
    }

    async fn open_follower(
        &self,
        actor: &Actor,
        thread: ThreadId,
        message: Option<MessageId>,
        after: i64,
        presence: Option<Connection>,
    ) -> Result<EventStream, ServiceError> {
        // Subscribe first: whatever commits from now on reaches the hub
        // receiver, and whatever committed before is in the reads below.
        let hub = self.events.subscribe(thread);
        let db = self.store.reader();
        let last = repo::events::last_seq(db, thread).await?.unwrap_or(0);
        let ends_with_log = match message {
            Some(id) => repo::messages::find(db, actor.org_id, id)
                .await?
                .is_none_or(|m| m.status != MessageStatus::Streaming),
            None => false,
        };
        let mut after = after.max(0);
        let mut pending = VecDeque::new();
        if after > last || (after > 0 && self.pruned_after(thread, after).await?) {
            pending.push_back(notice(thread, last, kind::RESET));
            after = last;
        }
        let mut follower = Follower {
            services: self.clone(),
            actor: actor.clone(),
            thread,
            message,
            hub,
            queued: after,
            covered: after,
            pending,
            reread: None,
            verify: false,
            ends_with_log,
            _presence: presence,
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

    /// Whether events right after `after` were pruned from the thread's log.
    async fn pruned_after(&self, thread: ThreadId, after: i64) -> Result<bool, ServiceError> {
        let oldest = repo::events::oldest_seq(self.store.reader(), thread).await?;
        // An empty log with a cursor inside the sequence was pruned whole.
        Ok(oldest.is_none_or(|oldest| oldest > after + 1))
    }

    /// Appends an event to a thread's log inside the transaction of the
    /// change it reports.
    pub(crate) async fn log_event(
        &self,
        tx: &Tx,
        thread: ThreadId,
        kind: &str,
        message: Option<MessageId>,
        actor: Option<&Actor>,
        payload: impl Serialize,
    ) -> Result<ThreadEvent, ServiceError> {
        let payload = serde_json::to_value(payload).unwrap_or_default();
        Ok(
            repo::events::append(tx, thread, kind, message, actor.map(|a| a.user_id), payload)
                .await?,
        )
    }

    /// Commits a change, then wakes the listeners of its events.
    pub(crate) async fn commit_and_publish(
        &self,
        tx: Tx,
        events: impl IntoIterator<Item = ThreadEvent>,
    ) -> Result<(), ServiceError> {
        tx.commit().await?;
        for event in events {
            self.events.publish(event);
        }
        Ok(())
    }

    /// Forgets events older than the retention window; a client resuming
    /// from before it gets [`kind::RESET`]. Returns how many went.
    pub async fn prune_events(&self) -> Result<u64, ServiceError> {
        let window = chrono::TimeDelta::from_std(self.config.event_retention)
            .unwrap_or(chrono::TimeDelta::MAX);
        let Some(cutoff) = Utc::now().checked_sub_signed(window) else {
            return Ok(0);
        };
        let tx = self.store.begin_write().await?;
        let pruned = repo::events::prune_before(&tx, cutoff).await?;
        tx.commit().await?;
        Ok(pruned)
    }
}
