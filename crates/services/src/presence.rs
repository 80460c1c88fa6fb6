//! Ephemeral signals of a thread: who is typing, who is here, and what the
//! assistant is doing. None of it is in the log: it matters only now, goes
//! to the thread's live followers in this process as events of kind
//! [`TYPING`], [`PRESENCE`] and [`ASSISTANT_STATUS`], and is kept in memory
//! only to answer [`Services::presence`].
//!
//! - Typing lasts [`TYPING_TTL`] after the last `typing` call.
//! - A person is `online` while one of their live connections to the thread
//!   (an event stream or a WebSocket subscription) is, `away` while they all
//!   say so, and `offline` without any.
//! - The assistant is `thinking` from the moment a reply is created until
//!   its first text, `writing` until it ends, and `idle` then.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use xl_domain::events::ThreadEvent;
use xl_domain::{Actor, MessageId, ThreadId, UserId};
use xl_store::repo;

use crate::events::EventHub;
use crate::threads::Access;
use crate::{ServiceError, Services};

/// Someone is typing (payload: `user_id`, `expires_in_ms`).
pub const TYPING: &str = "typing";
/// Someone's presence changed (payload: `user_id`, `status`).
pub const PRESENCE: &str = "presence";
/// The assistant's status for a reply changed (payload: `message_id`, `status`).
pub const ASSISTANT_STATUS: &str = "assistant.status";
/// How long a typing signal lasts.
pub const TYPING_TTL: Duration = Duration::from_secs(5);

/// Whether a person is here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PresenceStatus {
    /// A live connection of theirs is active.
    Online,
    /// Every live connection of theirs says they are away.
    Away,
    /// No live connection.
    Offline,
}

/// One person in [`ThreadPresence`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PersonPresence {
    /// The person.
    pub user_id: UserId,
    /// Online, away or offline.
    pub status: PresenceStatus,
    /// Whether they are typing now.
    pub typing: bool,
}

/// What the assistant is doing for one reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AssistantPresence {
    /// The reply.
    pub message_id: MessageId,
    /// `thinking` or `writing`.
    pub status: &'static str,
}

/// Who is in a thread now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ThreadPresence {
    /// The members, and anyone else following the thread (administrators).
    pub people: Vec<PersonPresence>,
    /// The replies being generated.
    pub assistant: Vec<AssistantPresence>,
}

#[derive(Debug, Default)]
struct Counts {
    online: usize,
    away: usize,
}

impl Counts {
    fn status(&self) -> PresenceStatus {
        if self.online > 0 {
            PresenceStatus::Online
        } else if self.away > 0 {
            PresenceStatus::Away
        } else {
            PresenceStatus::Offline
        }
    }
}

#[derive(Debug, Default)]
struct Room {
    connections: HashMap<UserId, Counts>,
    typing: HashMap<UserId, Instant>,
    assistant: HashMap<MessageId, &'static str>,
}

impl Room {
    fn is_empty(&self) -> bool {
        self.connections.is_empty() && self.typing.is_empty() && self.assistant.is_empty()
    }
}

/// The ephemeral state of every thread in this process.
#[derive(Debug, Default)]
pub struct Presence {
    rooms: Mutex<HashMap<ThreadId, Room>>,
}

impl Presence {
    /// Changes a room; returns what `change` returns, and drops rooms left empty.
    fn with_room<T>(&self, thread: ThreadId, change: impl FnOnce(&mut Room) -> T) -> Option<T> {
        let mut rooms = self.rooms.lock().ok()?;
        let room = rooms.entry(thread).or_default();
        let result = change(room);
        if room.is_empty() {
            rooms.remove(&thread);
        }
        Some(result)
    }

    /// Moves one of a person's connections from `from` to `to`; returns the
    /// person's status if it changed.
    fn shift(
        &self,
        thread: ThreadId,
        user: UserId,
        from: Option<PresenceStatus>,
        to: Option<PresenceStatus>,
    ) -> Option<PresenceStatus> {
        self.with_room(thread, |room| {
            let counts = room.connections.entry(user).or_default();
            let before = counts.status();
            for (status, delta) in [(from, -1_isize), (to, 1)] {
                let slot = match status {
                    Some(PresenceStatus::Online) => &mut counts.online,
                    Some(PresenceStatus::Away) => &mut counts.away,
                    Some(PresenceStatus::Offline) | None => continue,
                };
                *slot = slot.saturating_add_signed(delta);
            }
            let after = counts.status();
            if after == PresenceStatus::Offline {
                room.connections.remove(&user);
            }
            (after != before).then_some(after)
        })
        .flatten()
    }
}

/// A signal: an event of the thread that is not in the log. Its `seq` is
/// set by each follower to the position it has reached.
fn signal(thread: ThreadId, kind: &str, actor: Option<UserId>, payload: Value) -> ThreadEvent {
    ThreadEvent {
        seq: 0,
        thread_id: thread,
        kind: kind.to_owned(),
        message_id: None,
        actor_id: actor,
        payload,
        created_at: Utc::now(),
    }
}

/// One live connection of a person to a thread, counted in their presence
/// until it is dropped.
#[derive(Debug)]
pub struct Connection {
    presence: Arc<Presence>,
    hub: Arc<EventHub>,
    thread: ThreadId,
    user: UserId,
    status: PresenceStatus,
}

impl Connection {
    fn announce(&self, changed: Option<PresenceStatus>) {
        if let Some(status) = changed {
            let payload = json!({ "user_id": self.user, "status": status });
            self.hub
                .signal(signal(self.thread, PRESENCE, Some(self.user), payload));
        }
    }

    /// Marks this connection away (or back online).
    pub fn set_away(&mut self, away: bool) {
        let status = if away {
            PresenceStatus::Away
        } else {
            PresenceStatus::Online
        };
        if status == self.status {
            return;
        }
        let changed = self
            .presence
            .shift(self.thread, self.user, Some(self.status), Some(status));
        self.status = status;
        self.announce(changed);
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let changed = self
            .presence
            .shift(self.thread, self.user, Some(self.status), None);
        self.announce(changed);
    }
}

impl Services {
    /// Counts a live connection of the actor to a thread in their presence.
    pub(crate) fn connect(&self, actor: &Actor, thread: ThreadId) -> Connection {
        let connection = Connection {
            presence: Arc::clone(&self.presence),
            hub: Arc::clone(&self.events),
            thread,
            user: actor.user_id,
            status: PresenceStatus::Online,
        };
        let changed =
            self.presence
                .shift(thread, actor.user_id, None, Some(PresenceStatus::Online));
        connection.announce(changed);
        connection
    }

    /// Counts a live connection of the actor to a thread they may read in
    /// their presence, until the [`Connection`] is dropped.
    pub async fn join(&self, actor: &Actor, thread: ThreadId) -> Result<Connection, ServiceError> {
        self.thread_for(actor, thread, Access::Read).await?;
        Ok(self.connect(actor, thread))
    }

    /// Says the actor is typing in a thread they may write to; it lasts
    /// [`TYPING_TTL`] unless said again.
    pub async fn typing(&self, actor: &Actor, thread: ThreadId) -> Result<(), ServiceError> {
        self.thread_for(actor, thread, Access::Write).await?;
        self.presence.with_room(thread, |room| {
            room.typing
                .insert(actor.user_id, Instant::now() + TYPING_TTL);
        });
        let payload = json!({
            "user_id": actor.user_id,
            "expires_in_ms": TYPING_TTL.as_millis(),
        });
        self.events
            .signal(signal(thread, TYPING, Some(actor.user_id), payload));
        Ok(())
    }

    /// Who is in a thread the actor may read: every member, and anyone else
    /// connected, online, away or offline, typing or not; and the replies
    /// the assistant is generating here.
    pub async fn presence(
        &self,
        actor: &Actor,
        thread: ThreadId,
    ) -> Result<ThreadPresence, ServiceError> {
        self.thread_for(actor, thread, Access::Read).await?;
        let members = repo::threads::members(self.store.reader(), thread).await?;
        let now = Instant::now();
        let snapshot = self.presence.with_room(thread, |room| {
            room.typing.retain(|_, until| *until > now);
            let statuses: HashMap<UserId, PresenceStatus> = room
                .connections
                .iter()
                .map(|(user, counts)| (*user, counts.status()))
                .collect();
            let typing: Vec<UserId> = room.typing.keys().copied().collect();
            let mut assistant: Vec<AssistantPresence> = room
                .assistant
                .iter()
                .map(|(message_id, status)| AssistantPresence {
                    message_id: *message_id,
                    status,
                })
                .collect();
            assistant.sort_by_key(|entry| entry.message_id);
            (statuses, typing, assistant)
        });
        let (mut statuses, typing, assistant) = snapshot.unwrap_or_default();
        let mut people: Vec<PersonPresence> = members
            .iter()
            .map(|member| PersonPresence {
                user_id: member.user_id,
                status: statuses
                    .remove(&member.user_id)
                    .unwrap_or(PresenceStatus::Offline),
                typing: typing.contains(&member.user_id),
            })
            .collect();
        let mut others: Vec<PersonPresence> = statuses
            .into_iter()
            .map(|(user_id, status)| PersonPresence {
                user_id,
                status,
                typing: typing.contains(&user_id),
            })
            .collect();
        others.sort_by_key(|person| person.user_id);
        people.extend(others);
        Ok(ThreadPresence { people, assistant })
    }

    /// Sets (or with `None`, clears) what the assistant is doing for a reply.
    pub(crate) fn assistant_status(
        &self,
        thread: ThreadId,
        reply: MessageId,
        status: Option<&'static str>,
    ) {
        self.presence.with_room(thread, |room| match status {
            Some(status) => room.assistant.insert(reply, status),
            None => room.assistant.remove(&reply),
        });
        let mut event = signal(
            thread,
            ASSISTANT_STATUS,
            None,
            json!({ "message_id": reply, "status": status.unwrap_or("idle") }),
        );
        event.message_id = Some(reply);
        self.events.signal(event);
    }
}
