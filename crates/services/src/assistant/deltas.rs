//! The text of every reply in progress, written together. One task per
//! process takes every delta queued by every reply task, writes them in one
//! transaction (one visit to the SQLite writer: each delta's conditional
//! append, its event number and its `message.delta` event), commits,
//! publishes the events and answers each reply task. At a hundred replies
//! streaming at once that is a commit every few milliseconds instead of
//! thousands a second, and a reply task never waits for the writer between
//! two reads from the model.
//!
//! A reply's deltas are written in the order they were queued (one queue,
//! one writing task), so its text and its events keep the model's order.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};
use xl_store::repo::replies::Delta;
use xl_store::{Store, repo};

use crate::ServiceError;
use crate::events::EventHub;

/// The most deltas written in one transaction.
const MAX_GROUP: usize = 512;

/// How long the writer gathers deltas after the first of a group before it
/// writes them. Readers of a stored response get text from the reply's tape
/// before it is committed, so this delays only the thread's event stream,
/// and it turns a commit per chunk into one per window under load.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

/// Whether a delta was written: `false` if its reply was no longer
/// `streaming` (finished elsewhere), which leaves its text alone.
pub(crate) type Written = oneshot::Receiver<Result<bool, ServiceError>>;

struct Queued {
    delta: Delta,
    written: oneshot::Sender<Result<bool, ServiceError>>,
}

/// The queue of deltas and the task that writes them, started on first use.
#[derive(Debug)]
pub(crate) struct DeltaWriter {
    store: Store,
    hub: Arc<EventHub>,
    runtime: Option<tokio::runtime::Handle>,
    queue: OnceLock<mpsc::UnboundedSender<Queued>>,
}

impl DeltaWriter {
    pub(crate) fn new(
        store: Store,
        hub: Arc<EventHub>,
        runtime: Option<tokio::runtime::Handle>,
    ) -> Self {
        DeltaWriter {
            store,
            hub,
            runtime,
            queue: OnceLock::new(),
        }
    }

    /// Queues a delta; the answer comes once it is committed.
    pub(crate) fn write(&self, delta: Delta) -> Written {
        let (written, answer) = oneshot::channel();
        let queue = self.queue.get_or_init(|| self.start());
        if let Err(refused) = queue.send(Queued { delta, written }) {
            let _ = refused.0.written.send(Err(stopped()));
        }
        answer
    }

    fn start(&self) -> mpsc::UnboundedSender<Queued> {
        let (queue, queued) = mpsc::unbounded_channel();
        let task = run(self.store.clone(), Arc::clone(&self.hub), queued);
        match &self.runtime {
            Some(runtime) => drop(runtime.spawn(task)),
            None => drop(tokio::spawn(task)),
        }
        queue
    }
}

fn stopped() -> ServiceError {
    ServiceError::Unavailable("the reply's text could not be saved".into())
}

/// Writes whatever is queued, a group at a time, until every sender is gone.
async fn run(store: Store, hub: Arc<EventHub>, mut queued: mpsc::UnboundedReceiver<Queued>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queued.recv_many(&mut group, MAX_GROUP).await > 0 {
        if group.len() < MAX_GROUP {
            tokio::time::sleep(GATHER).await;
            while group.len() < MAX_GROUP {
                match queued.try_recv() {
                    Ok(more) => group.push(more),
                    Err(_) => break,
                }
            }
        }
        let (deltas, answers): (Vec<_>, Vec<_>) = group
            .drain(..)
            .map(|queued| (queued.delta, queued.written))
            .unzip();
        match write(&store, &deltas).await {
            Ok(events) => {
                for (event, answer) in events.into_iter().zip(answers) {
                    let written = event.is_some();
                    if let Some(event) = event {
                        hub.publish(event);
                    }
                    let _ = answer.send(Ok(written));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, deltas = deltas.len(), "writing replies' text failed");
                for answer in answers {
                    let _ = answer.send(Err(stopped()));
                }
            }
        }
    }
}

async fn write(
    store: &Store,
    deltas: &[Delta],
) -> Result<Vec<Option<xl_domain::events::ThreadEvent>>, ServiceError> {
    let tx = store.begin_write().await?;
    let events = repo::replies::append_deltas(&tx, deltas).await?;
    tx.commit().await?;
    Ok(events)
}
