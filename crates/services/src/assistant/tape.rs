//! What a reply being generated in this process has said so far, in the
//! order it said it: each delta as the reply task takes it from the model
//! (before it is committed), then the reply as it ended (after its final
//! status is). A Responses stream follows the tape instead of the log, so a
//! delta reaches the client without waiting for the writer.
//!
//! The tape holds exactly the deltas the log gets: the reply task writes
//! each one it records as one `message.delta` event, in the same order, so
//! typed events numbered from the tape and from the log are the same, and a
//! stream resumed from the log (`starting_after`) continues one that read
//! the tape. Should a write fail, the reply fails and the tape's end says so.

use std::sync::Arc;

use tokio::sync::watch;
use xl_domain::Message;

/// A reply's deltas so far and its end, once it has one.
#[derive(Debug, Default)]
struct Recorded {
    deltas: Vec<Arc<str>>,
    end: Option<Option<Box<Message>>>,
    /// Whether the reply's rows are committed (a streamed response's are
    /// written while its first text is on the way).
    created: bool,
}

/// The writing side, held by the reply task.
#[derive(Debug)]
pub(crate) struct Tape {
    said: watch::Sender<Recorded>,
}

/// One thing the tape holds.
#[derive(Debug)]
pub enum Said {
    /// The reply's rows are committed now (said once, to a reader that
    /// started before they were).
    Created,
    /// More text.
    Delta(Arc<str>),
    /// The reply as it ended, committed.
    Ended(Box<Message>),
    /// The reply task ended without writing a final status (it failed or
    /// the process is stopping): what the log holds is the truth.
    Lost,
}

impl Tape {
    /// A tape for a reply whose rows are `created` already, or not yet.
    pub(crate) fn new(created: bool) -> Self {
        Tape {
            said: watch::Sender::new(Recorded {
                created,
                ..Recorded::default()
            }),
        }
    }

    /// Records that the reply's rows are committed.
    pub(crate) fn created(&self) {
        self.said
            .send_if_modified(|said| !std::mem::replace(&mut said.created, true));
    }

    /// Records a delta; call before writing it.
    pub(crate) fn delta(&self, text: &str) {
        self.said
            .send_modify(|said| said.deltas.push(Arc::from(text)));
    }

    /// Records the end; call once the final status is committed.
    pub(crate) fn end(&self, reply: Option<Message>) {
        self.said.send_modify(|said| {
            said.end.get_or_insert(reply.map(Box::new));
        });
    }

    /// A reader from the start.
    pub(crate) fn reader(&self) -> TapeReader {
        let said = self.said.subscribe();
        let created = said.borrow().created;
        TapeReader {
            said,
            next: 0,
            created,
            ended: false,
        }
    }
}

/// Reads a tape from its start.
#[derive(Debug)]
pub struct TapeReader {
    said: watch::Receiver<Recorded>,
    next: usize,
    /// Whether the rows were committed when last looked at.
    created: bool,
    ended: bool,
}

impl TapeReader {
    /// The next delta, or the end; `None` after the end.
    pub async fn next(&mut self) -> Option<Said> {
        if self.ended {
            return None;
        }
        loop {
            {
                let said = self.said.borrow_and_update();
                if said.created && !self.created {
                    self.created = true;
                    return Some(Said::Created);
                }
                if let Some(delta) = said.deltas.get(self.next) {
                    self.next += 1;
                    return Some(Said::Delta(Arc::clone(delta)));
                }
                if let Some(end) = &said.end {
                    self.ended = true;
                    return Some(match end {
                        Some(reply) => Said::Ended(reply.clone()),
                        None => Said::Lost,
                    });
                }
            }
            if self.said.changed().await.is_err() {
                // The task dropped its tape without an end: read what the
                // last change left, then give up.
                let said = self.said.borrow();
                if said.deltas.len() > self.next
                    || said.end.is_some()
                    || (said.created && !self.created)
                {
                    continue;
                }
                self.ended = true;
                return Some(Said::Lost);
            }
        }
    }
}
