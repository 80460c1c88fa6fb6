//! Live delivery of thread events. The log in the database is the truth;
//! this hub only wakes up listeners in this process when a committed event
//! appears. A listener subscribes first, then reads the log after the last
//! event it has, then follows the hub, skipping what it already sent: so it
//! sees every event once, with no gap, even across reconnects.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;
use xl_domain::ThreadId;
use xl_domain::events::ThreadEvent;

/// How many events a slow listener may fall behind before it must re-read
/// the log.
const CHANNEL_CAPACITY: usize = 1024;

/// Per-thread broadcast channels of committed events.
#[derive(Debug, Default)]
pub struct EventHub {
    channels: Mutex<HashMap<ThreadId, broadcast::Sender<ThreadEvent>>>,
}

impl EventHub {
    /// Wakes the thread's listeners with a committed event.
    pub fn publish(&self, event: ThreadEvent) {
        let Ok(mut channels) = self.channels.lock() else {
            return;
        };
        if let Some(sender) = channels.get(&event.thread_id) {
            if sender.receiver_count() == 0 {
                channels.remove(&event.thread_id);
            } else {
                let _ = sender.send(event);
            }
        }
    }

    /// Listens to a thread's events from now on.
    pub fn subscribe(&self, thread: ThreadId) -> broadcast::Receiver<ThreadEvent> {
        match self.channels.lock() {
            Ok(mut channels) => channels
                .entry(thread)
                .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
                .subscribe(),
            // A poisoned lock only means another listener panicked; a fresh
            // channel still delivers from the log.
            Err(_) => broadcast::channel(1).1,
        }
    }
}
