//! Generating one reply in a background task: the prompt, the streamed call,
//! text and `message.delta` events written together, the final status, and
//! the registry that lets a request stop a generation in progress.
//!
//! Batching: the task waits for one chunk, then takes every further chunk the
//! upstream has already delivered (without waiting), and records them as one
//! delta: on the reply's [`Tape`] at once, and queued for the process's
//! [`DeltaWriter`](super::DeltaWriter) as one text append and one
//! `message.delta` event. The task does not wait for that write before its
//! next read from the model (only when [`MAX_UNWRITTEN`] are outstanding,
//! and for all of them before the final status). A fast upstream therefore
//! yields fewer, larger deltas, while a slow one gets one per chunk and no
//! added delay. Chunks are concatenated in arrival order, so no text is lost
//! or reordered.
//!
//! Every write is conditional on the message still being `streaming`
//! ([`repo::replies`]): if a cancel from elsewhere or restart recovery
//! finished it first, the task stops and leaves their status alone.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::{FutureExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::{
    Actor, CompletionId, Cursor, Message, MessageId, MessageStatus, PageRequest, ThreadId,
};
use xl_llm::{
    ChatChunk, ChatMessage, ChatRequest, FinishReason, LlmError, ToolCallDelta, Usage,
    count_message_tokens, count_tokens,
};
use xl_store::repo::replies::{Delta, FinishedReply};
use xl_store::{StoreError, repo};

use super::ReplyOptions;
use super::context::{ContextBudget, ContextBuilder, token_count};
use super::deltas::Written;
use super::tape::{Tape, TapeReader};
use crate::completions::{CompletionLink, CompletionStream};
use crate::responses::items::{self, ToolCalls};
use crate::{ServiceError, Services};

/// Messages read per page while filling a prompt.
const PROMPT_PAGE: u32 = 50;

/// How many of a reply's deltas may wait to be written before its task
/// waits for the oldest (the writer is far behind).
const MAX_UNWRITTEN: usize = 64;

/// Everything a generation needs, fixed when the reply is created.
#[derive(Clone, Debug)]
pub(crate) struct ReplyJob {
    /// Who asked (the poster or the regenerator); the call is recorded as theirs.
    pub actor: Actor,
    /// The thread.
    pub thread: ThreadId,
    /// The assistant message being written.
    pub reply: MessageId,
    /// The message it answers: the prompt is the branch ending here.
    pub answers: MessageId,
    /// The model.
    pub model: String,
    /// The thread's system prompt.
    pub system_prompt: Option<String>,
    /// Said to the model after the branch, as the newest user turn.
    pub note: Option<String>,
    /// What a request through the Responses API set for this reply.
    pub options: Option<Arc<ReplyOptions>>,
}

/// How a reply task starts.
pub(crate) enum Start {
    /// The reply is committed: its prompt is read from the thread.
    Committed,
    /// The prompt is built and the reply's rows are being written
    /// (a streamed response): the model is called at once, its text goes on
    /// the tape as it comes, and nothing is written until `created` gives
    /// the job as committed.
    Early {
        request: Box<ChatRequest>,
        created: oneshot::Receiver<Result<ReplyJob, ServiceError>>,
    },
}

/// A generation in progress, as the registry holds it.
#[derive(Debug)]
struct Running {
    /// What it generates, for whom.
    job: ReplyJob,
    /// Set to `true` to ask the task to stop.
    stop: watch::Sender<bool>,
    /// Closed when the task has written its final status.
    done: watch::Receiver<()>,
    /// What it has said so far.
    tape: Arc<Tape>,
}

/// The generations running in this process, by assistant message.
#[derive(Debug, Default)]
pub(crate) struct Generations {
    running: Mutex<HashMap<MessageId, Running>>,
}

impl Generations {
    fn register(
        &self,
        job: &ReplyJob,
        created: bool,
    ) -> (watch::Receiver<bool>, watch::Sender<()>, Arc<Tape>) {
        let (stop, stop_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(());
        let tape = Arc::new(Tape::new(created));
        if let Ok(mut running) = self.running.lock() {
            let job = job.clone();
            let tape = Arc::clone(&tape);
            running.insert(
                job.reply,
                Running {
                    job,
                    stop,
                    done,
                    tape,
                },
            );
        }
        (stop_rx, done_tx, tape)
    }

    /// Records that a reply started early has its rows committed.
    pub(crate) fn created(&self, id: MessageId) {
        if let Ok(running) = self.running.lock()
            && let Some(entry) = running.get(&id)
        {
            entry.tape.created();
        }
    }

    /// What the message being generated here has said so far, from its
    /// start; `None` if this process is not generating it.
    pub(crate) fn tape(&self, id: MessageId) -> Option<TapeReader> {
        let running = self.running.lock().ok()?;
        Some(running.get(&id)?.tape.reader())
    }

    /// The messages being generated whose job matches.
    pub(crate) fn matching(&self, wanted: impl Fn(&ReplyJob) -> bool) -> Vec<MessageId> {
        self.running
            .lock()
            .map(|running| {
                running
                    .iter()
                    .filter(|(_, entry)| wanted(&entry.job))
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn remove(&self, id: MessageId) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&id);
        }
    }

    /// The messages being generated with their threads, each with a
    /// receiver that closes when its generation has ended.
    pub(crate) fn running(&self) -> Vec<(MessageId, ThreadId, watch::Receiver<()>)> {
        self.running
            .lock()
            .map(|running| {
                running
                    .iter()
                    .map(|(id, entry)| (*id, entry.job.thread, entry.done.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether this process is generating the message.
    pub(crate) fn is_running(&self, id: MessageId) -> bool {
        self.running
            .lock()
            .map(|running| running.contains_key(&id))
            .unwrap_or(false)
    }

    /// Asks the generation to stop; returns a receiver that closes when it
    /// has, or `None` if this process is not generating the message.
    pub(crate) fn stop(&self, id: MessageId) -> Option<watch::Receiver<()>> {
        let running = self.running.lock().ok()?;
        let entry = running.get(&id)?;
        entry.stop.send_replace(true);
        Some(entry.done.clone())
    }
}

/// Held by the task for its whole life: dropping it (at the end, on a panic,
/// or when the runtime shuts down) takes the generation out of the registry,
/// wakes whoever waits for it, and, if no final status was written, makes
/// sure the message does not stay `streaming`.
struct Registration {
    services: Services,
    job: ReplyJob,
    settled: bool,
    tape: Arc<Tape>,
    _done: watch::Sender<()>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.services.generations.remove(self.job.reply);
        // A tape ended already keeps its end; otherwise its readers learn
        // that the log is the truth.
        self.tape.end(None);
        if self.settled {
            return;
        }
        // Without a runtime (shutdown) restart recovery will do it instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let services = self.services.clone();
            let mut job = self.job.clone();
            runtime.spawn(async move {
                let ending = Ending::Failed("the reply failed unexpectedly".to_owned());
                if let Err(err) = services.settle(&mut job, ending, "", Progress::default()).await {
                    tracing::error!(error = %err, message = %job.reply, "failing an abandoned reply failed");
                }
            });
        }
    }
}

/// A started generation.
pub(crate) struct ReplyHandle {
    task: JoinHandle<Result<Message, ServiceError>>,
}

impl ReplyHandle {
    /// Waits for the reply's final state. Dropping the handle instead leaves
    /// the generation running (a client that goes away does not stop it).
    pub(crate) async fn finished(self) -> Result<Message, ServiceError> {
        match self.task.await {
            Ok(result) => result,
            Err(err) => {
                tracing::error!(error = %err, "a reply task panicked");
                Err(ServiceError::Unavailable(
                    "the reply could not be generated".into(),
                ))
            }
        }
    }
}

/// How a generation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The model finished.
    Complete,
    /// The model or the prompt failed; the text is safe to show.
    Failed(String),
    /// Someone stopped it.
    Cancelled,
}

impl Ending {
    fn status(&self) -> MessageStatus {
        match self {
            Ending::Complete => MessageStatus::Complete,
            Ending::Failed(_) => MessageStatus::Failed,
            Ending::Cancelled => MessageStatus::Cancelled,
        }
    }
}

/// What is known about the call when the reply ends.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    completion: Option<CompletionId>,
    request: Option<ChatRequest>,
    usage: Option<Usage>,
    text: String,
    calls: ToolCalls,
    finish: Option<FinishReason>,
    /// The deltas queued for the writer and not yet answered, oldest first.
    unwritten: VecDeque<Written>,
    /// While the reply's rows are being written: the answer to wait for,
    /// and the deltas held until then, in order.
    creating: Option<oneshot::Receiver<Result<ReplyJob, ServiceError>>>,
    held: Vec<String>,
}

impl Progress {
    /// Queues a delta for the writer, or holds it while the reply's rows
    /// are still being written.
    fn queue(
        &mut self,
        services: &Services,
        job: &mut ReplyJob,
        text: String,
    ) -> Result<(), ServiceError> {
        if let Some(creating) = &mut self.creating {
            match creating.try_recv() {
                Err(oneshot::error::TryRecvError::Empty) => {
                    self.held.push(text);
                    return Ok(());
                }
                Ok(created) => {
                    self.creating = None;
                    *job = created.map_err(not_created)?;
                    self.release(services, job);
                }
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(not_created(ServiceError::Unavailable(
                        "the response was not written".into(),
                    )));
                }
            }
        }
        self.unwritten.push_back(services.deltas.write(Delta {
            thread: job.thread,
            reply: job.reply,
            text,
        }));
        Ok(())
    }

    /// Waits until the reply's rows are written, then queues what was held.
    async fn created(
        &mut self,
        services: &Services,
        job: &mut ReplyJob,
    ) -> Result<(), ServiceError> {
        if let Some(creating) = self.creating.take() {
            let created = creating.await.unwrap_or_else(|_| {
                Err(ServiceError::Unavailable(
                    "the response was not written".into(),
                ))
            });
            *job = created.map_err(not_created)?;
            self.release(services, job);
        }
        Ok(())
    }

    fn release(&mut self, services: &Services, job: &ReplyJob) {
        for text in std::mem::take(&mut self.held) {
            self.unwritten.push_back(services.deltas.write(Delta {
                thread: job.thread,
                reply: job.reply,
                text,
            }));
        }
    }

    /// Takes the writer's answers, waiting for the oldest while more than
    /// `keep` are outstanding. `false` as soon as one says that the reply
    /// is no longer `streaming` (finished elsewhere).
    async fn take_written(&mut self, keep: usize) -> Result<bool, ServiceError> {
        loop {
            let waiting = self.unwritten.len();
            let Some(oldest) = self.unwritten.front_mut() else {
                return Ok(true);
            };
            let answer = if waiting > keep {
                oldest.await.ok()
            } else {
                match oldest.try_recv() {
                    Err(oneshot::error::TryRecvError::Empty) => return Ok(true),
                    Ok(answer) => Some(answer),
                    Err(oneshot::error::TryRecvError::Closed) => None,
                }
            };
            self.unwritten.pop_front();
            match answer {
                Some(Ok(true)) => {}
                Some(Ok(false)) => return Ok(false),
                Some(Err(err)) => return Err(err),
                None => {
                    return Err(ServiceError::Unavailable(
                        "the reply's text could not be saved".into(),
                    ));
                }
            }
        }
    }
}

/// What one read from the upstream produced.
#[derive(Debug, Default)]
struct Batch {
    text: String,
    usage: Option<Usage>,
    calls: Vec<ToolCallDelta>,
    finish: Option<FinishReason>,
    end: Option<Ending>,
}

/// Waits for one chunk, then takes every chunk already delivered. The only
/// await is for the first chunk, so dropping this future mid-way loses
/// nothing (`StreamExt::next` is cancel-safe).
async fn next_batch(stream: &mut CompletionStream) -> Batch {
    let mut batch = Batch::default();
    let mut item = stream.next().await;
    loop {
        match item {
            Some(Ok(ChatChunk::Delta(text))) => batch.text.push_str(&text),
            Some(Ok(ChatChunk::Finish { usage, reason })) => {
                if usage.is_some() {
                    batch.usage = usage;
                }
                batch.finish = Some(reason);
            }
            // The first choice's function calls; other choices (`n` > 1)
            // are not part of a reply.
            Some(Ok(ChatChunk::Choice(choice))) if choice.index == 0 => {
                batch.calls.extend(choice.delta.tool_calls);
            }
            Some(Ok(ChatChunk::Choice(_))) => {}
            Some(Err(err)) => {
                batch.end = Some(Ending::Failed(safe_summary(&err)));
                return batch;
            }
            // The stream ends only after its finish chunk has been read; the
            // call is recorded as complete once it has ended.
            None => {
                batch.end = Some(Ending::Complete);
                return batch;
            }
        }
        match stream.next().now_or_never() {
            Some(next) => item = next,
            None => return batch,
        }
    }
}

/// A reply whose rows were never written has nothing to settle.
fn not_created(err: ServiceError) -> ServiceError {
    tracing::warn!(error = %err, "a streamed response could not be written");
    ServiceError::NotFound("message")
}

/// A failure in words safe to show: `LlmError` messages carry no key and at
/// most a short excerpt of the upstream's own message.
fn safe_summary(err: &LlmError) -> String {
    err.to_string()
}

/// Resolves once a stop is asked for; never if the registry went away.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl Services {
    /// Starts generating a committed reply in a background task.
    pub(crate) fn start_reply(&self, job: ReplyJob) -> ReplyHandle {
        self.start_reply_with(job, Start::Committed)
    }

    /// Starts generating a reply in a background task.
    pub(crate) fn start_reply_with(&self, job: ReplyJob, start: Start) -> ReplyHandle {
        let created = matches!(start, Start::Committed);
        let (stop, done, tape) = self.generations.register(&job, created);
        let mut registration = Registration {
            services: self.clone(),
            job: job.clone(),
            settled: false,
            tape: Arc::clone(&tape),
            _done: done,
        };
        let services = self.clone();
        let generation = async move {
            let mut job = job;
            services.assistant_status(job.thread, job.reply, Some("thinking"));
            let result = services.generate(&mut job, &tape, stop, start).await;
            tape.end(result.as_ref().ok().cloned());
            services.assistant_status(job.thread, job.reply, None);
            // A reply whose message is gone (its thread or user deleted) has
            // nothing left to settle.
            registration.settled = matches!(result, Ok(_) | Err(ServiceError::NotFound("message")));
            drop(registration);
            result
        };
        let task = match &self.runtime {
            Some(runtime) => runtime.spawn(generation),
            None => tokio::spawn(generation),
        };
        ReplyHandle { task }
    }

    /// The prompt: the thread's system prompt and as much of the branch
    /// ending at the answered message as fits.
    async fn reply_request(&self, job: &ReplyJob) -> Result<ChatRequest, ServiceError> {
        let db = self.store.reader();
        let budget = ContextBudget::for_model(&self.models, &job.model);
        let mut builder = ContextBuilder::new(&job.model, job.system_prompt.as_deref(), budget);
        fill_from_branch(db, &mut builder, job.thread, job.answers).await?;
        let mut messages = builder.build();
        if let Some(note) = &job.note {
            messages.push(ChatMessage::user(note.clone()));
        }
        let mut request = ChatRequest::new(job.model.clone(), messages);
        if let Some(options) = &job.options {
            options.apply(&mut request);
        }
        Ok(request)
    }

    /// Runs a generation to its end and returns the message as it ended.
    async fn generate(
        &self,
        job: &mut ReplyJob,
        tape: &Tape,
        mut stop: watch::Receiver<bool>,
        start: Start,
    ) -> Result<Message, ServiceError> {
        let (request, creating) = match start {
            Start::Committed => match self.reply_request(job).await {
                Ok(request) => (request, None),
                Err(err) => {
                    tracing::error!(error = %err, message = %job.reply, "building a prompt failed");
                    let ending = Ending::Failed("the conversation could not be read".into());
                    return self.settle(job, ending, "", Progress::default()).await;
                }
            },
            Start::Early { request, created } => (*request, Some(created)),
        };
        let mut progress = Progress {
            request: Some(request.clone()),
            creating,
            ..Progress::default()
        };
        let link = CompletionLink {
            thread_id: Some(job.thread),
            message_id: Some(job.reply),
        };
        // The call runs in its own task so that a stop while it connects
        // does not drop it half-way: it still finishes and records itself
        // (a stream nobody reads is dropped at once, recorded `cancelled`).
        let connecting = {
            let services = self.clone();
            let actor = job.actor.clone();
            tokio::spawn(async move { services.complete_stream(&actor, request, link).await })
        };
        let connected = tokio::select! {
            biased;
            () = stopped(&mut stop) => {
                return self.settle(job, Ending::Cancelled, "", progress).await;
            }
            joined = connecting => joined,
        };
        let mut stream = match connected {
            Ok(Ok(stream)) => stream,
            Ok(Err(ServiceError::Llm(err))) => {
                let ending = Ending::Failed(safe_summary(&err));
                return self.settle(job, ending, "", progress).await;
            }
            // A spent budget or a full token bucket is the caller's to see.
            Ok(Err(err @ (ServiceError::BudgetExceeded(_) | ServiceError::RateLimited(_)))) => {
                let ending = Ending::Failed(err.to_string());
                return self.settle(job, ending, "", progress).await;
            }
            Ok(Err(err)) => {
                tracing::error!(error = %err, message = %job.reply, "calling the model failed");
                let ending = Ending::Failed("the model could not be called".into());
                return self.settle(job, ending, "", progress).await;
            }
            Err(err) => {
                tracing::error!(error = %err, message = %job.reply, "the model call panicked");
                let ending = Ending::Failed("the model could not be called".into());
                return self.settle(job, ending, "", progress).await;
            }
        };
        progress.completion = Some(stream.id);
        loop {
            let batch = tokio::select! {
                biased;
                () = stopped(&mut stop) => {
                    // Dropping the stream aborts the upstream request.
                    drop(stream);
                    return self.settle(job, Ending::Cancelled, "", progress).await;
                }
                batch = next_batch(&mut stream) => batch,
            };
            if batch.usage.is_some() {
                progress.usage = batch.usage;
            }
            for call in &batch.calls {
                progress.calls.push(call);
            }
            if batch.finish.is_some() {
                progress.finish = batch.finish;
            }
            if let Some(ending) = batch.end {
                drop(stream);
                if !batch.text.is_empty() {
                    tape.delta(&batch.text);
                }
                return self.settle(job, ending, &batch.text, progress).await;
            }
            if batch.text.is_empty() {
                continue;
            }
            if progress.text.is_empty() {
                self.assistant_status(job.thread, job.reply, Some("writing"));
            }
            tape.delta(&batch.text);
            progress.text.push_str(&batch.text);
            progress.queue(self, job, batch.text)?;
            if !progress.take_written(MAX_UNWRITTEN).await? {
                // Finished elsewhere (cancelled by another process, or
                // recovered): stop generating and keep their status.
                drop(stream);
                return self.reply_message(job).await;
            }
        }
    }

    /// Writes the last text (if any) and the final status in one transaction
    /// with their events, unless something else finished the reply first;
    /// returns the message as it ended.
    pub(crate) async fn settle(
        &self,
        job: &mut ReplyJob,
        ending: Ending,
        last_text: &str,
        mut progress: Progress,
    ) -> Result<Message, ServiceError> {
        // Every delta queued lands before the final status, and after the
        // reply's rows.
        progress.created(self, job).await?;
        let job = &*job;
        if !progress.take_written(0).await? {
            return self.reply_message(job).await;
        }
        progress.text.push_str(last_text);
        let usage = progress.usage.or_else(|| {
            let request = progress.request.as_ref()?;
            let prompt = count_message_tokens(&job.model, &request.messages);
            let completion = count_tokens(&job.model, &progress.text);
            Some(Usage::from_counts(prompt, completion))
        });
        let mut metadata = job
            .options
            .as_ref()
            .and_then(|options| options.metadata.clone())
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        metadata["model"] = json!(job.model);
        if !progress.calls.is_empty() || progress.finish.is_some() {
            let extra = &mut metadata[items::KEY];
            if !extra.is_object() {
                *extra = json!({});
            }
            if !progress.calls.is_empty() {
                extra["tool_calls"] = json!(std::mem::take(&mut progress.calls).into_items());
            }
            if let Some(finish) = progress.finish {
                extra["finish_reason"] = json!(finish);
            }
        }
        if let Some(id) = progress.completion {
            metadata["completionId"] = json!(id);
        }
        if let Some(usage) = usage {
            metadata["usage"] = json!(usage);
        }
        let status = ending.status();
        let error = match ending {
            Ending::Failed(reason) => Some(reason),
            Ending::Complete | Ending::Cancelled => None,
        };
        let tx = self.store.begin_write().await?;
        let mut events = Vec::new();
        let mut open = true;
        if !last_text.is_empty() {
            open = repo::replies::append_text(&tx, job.reply, last_text).await?;
            if open {
                events.push(delta_event(&tx, job, last_text).await?);
            }
        }
        if open {
            let finished = FinishedReply {
                status,
                error: error.clone(),
                metadata: Some(metadata.clone()),
                token_count: Some(token_count(
                    &job.model,
                    xl_domain::MessageRole::Assistant,
                    &progress.text,
                    None,
                    Some(&metadata),
                )),
            };
            if repo::replies::finish(&tx, job.reply, finished).await? {
                let payload = json!({ "status": status, "error": error, "metadata": metadata });
                events.push(completed_event(&tx, job.thread, job.reply, None, payload).await?);
            }
        }
        self.commit_and_publish(tx, events).await?;
        self.reply_message(job).await
    }

    async fn reply_message(&self, job: &ReplyJob) -> Result<Message, ServiceError> {
        repo::messages::find(self.store.reader(), job.actor.org_id, job.reply)
            .await?
            .ok_or(ServiceError::NotFound("message"))
    }
}

/// Offers a prompt the branch ending at `leaf`, newest first, a page at a
/// time, until it is full or the branch's start is reached.
pub(crate) async fn fill_from_branch<C: xl_store::Conn>(
    db: &C,
    builder: &mut ContextBuilder,
    thread: ThreadId,
    leaf: MessageId,
) -> Result<(), StoreError> {
    let mut page = PageRequest {
        limit: PROMPT_PAGE,
        ..PageRequest::default()
    };
    loop {
        let found = repo::messages::list_branch(db, thread, Some(leaf), &page).await?;
        for message in &found.items {
            if !builder.push_older(message) {
                return Ok(());
            }
        }
        match found.items.last() {
            Some(oldest) if found.has_more => {
                page.cursor = Some(Cursor::after(oldest.id.as_uuid()));
            }
            _ => return Ok(()),
        }
    }
}

async fn delta_event(
    tx: &xl_store::Tx,
    job: &ReplyJob,
    text: &str,
) -> Result<ThreadEvent, StoreError> {
    repo::events::append(
        tx,
        job.thread,
        kind::MESSAGE_DELTA,
        Some(job.reply),
        None,
        repo::replies::delta_payload(text),
    )
    .await
}

/// The `message.completed` event of a reply's final status.
pub(crate) async fn completed_event(
    tx: &xl_store::Tx,
    thread: ThreadId,
    reply: MessageId,
    actor: Option<xl_domain::UserId>,
    payload: Value,
) -> Result<ThreadEvent, StoreError> {
    repo::events::append(
        tx,
        thread,
        kind::MESSAGE_COMPLETED,
        Some(reply),
        actor,
        payload,
    )
    .await
}
