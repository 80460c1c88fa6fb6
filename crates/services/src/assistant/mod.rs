//! The assistant in threads: a user message in a thread with auto-reply on
//! gets an ASSISTANT reply as its child, generated in a background task and
//! written as it arrives (text and `message.delta` events in the same
//! transaction), so that it can be followed live, resumed after a
//! reconnect, cancelled, regenerated, and never left `streaming`.
//!
//! - [`context`]: the prompt, fitted to the model's window.
//! - `generation`: the task, its batching, and the registry of running ones.
//! - `deltas`: the one task that writes every reply's text, together.
//! - [`tape`]: what a reply in progress has said, before it is committed.
//! - `follow`: a message's events for a live client, without gap or duplicate.

pub mod context;
mod deltas;
mod follow;
mod generation;
pub mod tape;

pub(crate) use self::deltas::DeltaWriter;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use xl_domain::events::ThreadEvent;
use xl_domain::messages::NewMessage;
use xl_domain::threads::Thread;
use xl_domain::{
    Actor, DomainError, Message, MessageId, MessageRole, MessageStatus, ThreadId, UserId,
};
use xl_store::repo::messages::NewMessageRow;
use xl_store::repo::replies::FinishedReply;
use xl_store::{Tx, repo};

use generation::completed_event;
pub(crate) use generation::fill_from_branch;
pub(crate) use generation::{Generations, ReplyJob, Start};

use crate::idempotency::{Made, Once, Retry};
use crate::messages::{check_post, created_event};
use crate::threads::Access;
use crate::{ServiceError, Services};

/// The error a reply interrupted by a restart is left with.
pub const INTERRUPTED: &str = "interrupted by a server restart";
/// How long a cancel waits for the generation to write its final status.
const CANCEL_WAIT: Duration = Duration::from_secs(10);
/// How often, and how many times, a create that lost the race for its
/// idempotency key looks for the winner's committed record.
const TAKEN_POLL_EVERY: Duration = Duration::from_millis(5);
const TAKEN_POLLS: usize = 200;
/// Replies recovered per read at start-up.
const RECOVERY_PAGE: u64 = 100;

/// How a request that starts a reply wants it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplyMode {
    /// Answer once the reply has ended (complete, failed or cancelled).
    #[default]
    Sync,
    /// Answer at once with the reply `streaming`; follow it as events.
    Stream,
}

impl FromStr for ReplyMode {
    type Err = DomainError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "sync" => Ok(ReplyMode::Sync),
            "stream" => Ok(ReplyMode::Stream),
            _ => Err(DomainError::invalid("reply", "must be sync or stream")),
        }
    }
}

/// What a request through the Responses API sets for the reply it starts,
/// beyond what the thread decides.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplyOptions {
    /// The model, instead of the thread's.
    pub model: Option<String>,
    /// The system prompt, instead of the thread's.
    pub instructions: Option<String>,
    /// Functions the model may call.
    pub tools: Vec<xl_llm::Tool>,
    /// Whether and which function it must call.
    pub tool_choice: Option<xl_llm::ToolChoice>,
    /// Whether it may make several calls at once.
    pub parallel_tool_calls: Option<bool>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// At most this many tokens of reply.
    pub max_output_tokens: Option<u32>,
    /// The reply's metadata, kept when it ends (the generation adds the
    /// model, the usage and its function calls).
    pub metadata: Option<serde_json::Value>,
}

impl ReplyOptions {
    /// Sets what this request chose on the call to the model.
    pub(crate) fn apply(&self, request: &mut xl_llm::ChatRequest) {
        request.tools.clone_from(&self.tools);
        request.tool_choice.clone_from(&self.tool_choice);
        request.parallel_tool_calls = self.parallel_tool_calls.filter(|_| !self.tools.is_empty());
        request.temperature = self.temperature;
        request.top_p = self.top_p;
        request.max_completion_tokens = self.max_output_tokens;
    }
}

/// A posted message and the assistant's reply to it, if one was started.
#[derive(Clone, Debug, PartialEq)]
pub struct Posted {
    /// The message as posted.
    pub message: Message,
    /// The reply: ended in sync mode, `streaming` in stream mode.
    pub reply: Option<Message>,
}

impl Services {
    /// Posts a message and, if it is a USER message in a thread where the
    /// assistant replies (auto-reply on for the thread and globally), starts
    /// a reply as its child. Both messages and their `message.created`
    /// events commit together, so the reply exists as soon as the post is
    /// acknowledged. A failed generation never undoes the post: the reply
    /// ends `failed` with a safe error instead.
    pub async fn post_message_with_reply(
        &self,
        actor: &Actor,
        thread: ThreadId,
        input: NewMessage,
        mode: ReplyMode,
    ) -> Result<Posted, ServiceError> {
        self.post_message_once(actor, thread, input, mode, None)
            .await
            .map(Once::into_inner)
    }

    /// [`Services::post_message_with_reply`], which a caller may send again
    /// under a [`Retry`]: then the same request makes nothing new and gets
    /// the messages the first made, as they are now (in sync mode, once
    /// the reply has ended).
    pub async fn post_message_once(
        &self,
        actor: &Actor,
        thread: ThreadId,
        input: NewMessage,
        mode: ReplyMode,
        retry: Option<&Retry>,
    ) -> Result<Once<Posted>, ServiceError> {
        check_post(actor, &input)?;
        if let Some(retry) = retry
            && let Some(made) = self.recall(actor, retry).await?
        {
            return self.replay_post(actor, made, mode).await;
        }
        let is_user = input.role.unwrap_or(MessageRole::User) == MessageRole::User;
        let may_reply = is_user && self.config.auto_completion_enabled;
        if retry.is_none() && crate::messages::is_plain(&input) {
            // A post that starts no reply is the whole of its transaction,
            // committed with it in one visit to the writer. Whether the
            // thread replies is read first, and the insert refuses a thread
            // that has begun to since, which then takes the path below.
            let quiet = !may_reply
                || repo::messages::gate(self.store.reader(), actor.org_id, actor.user_id, thread)
                    .await?
                    .is_some_and(|gate| !gate.auto_reply);
            if quiet
                && let Some(message) = self
                    .post_alone(actor, thread, input.clone(), may_reply)
                    .await?
            {
                return Ok(Once::Made(Posted {
                    message,
                    reply: None,
                }));
            }
        }
        let tx = self.store.begin_write().await?;
        let (message, auto_reply, mut events) =
            self.insert_message(&tx, actor, thread, input).await?;
        let reply = if is_user && auto_reply && self.config.auto_completion_enabled {
            let thread = self.thread_in_tx(&tx, actor, thread, Access::Write).await?;
            let (reply, created, job) = self
                .insert_reply(&tx, actor, &thread, message.id, None, None)
                .await?;
            events.push(created);
            Some((reply, job))
        } else {
            None
        };
        if let Some(retry) = retry {
            let made = Made {
                message: Some(message.id),
                reply: reply.as_ref().map(|(reply, _)| reply.id),
            };
            if !self.record_made(&tx, actor, retry, made).await? {
                drop(tx);
                return self
                    .replay_taken(actor, retry, mode, Self::replay_post)
                    .await;
            }
        }
        self.commit_and_publish(tx, events).await?;
        let reply = match reply {
            Some((reply, job)) => Some(self.run_reply(reply, job, mode).await?),
            None => None,
        };
        Ok(Once::Made(Posted { message, reply }))
    }

    /// What an earlier post under the same key made, as it is now.
    async fn replay_post(
        &self,
        actor: &Actor,
        made: Made,
        mode: ReplyMode,
    ) -> Result<Once<Posted>, ServiceError> {
        let id = made.message.ok_or(ServiceError::NotFound("message"))?;
        let message = self.get_message(actor, id).await?;
        let reply = match made.reply {
            Some(reply) => Some(self.replayed_reply(actor, reply, mode).await?),
            None => None,
        };
        Ok(Once::Replayed(Posted { message, reply }))
    }

    /// A create lost the race for its key to a concurrent request with it,
    /// which has committed: answer with what that one made.
    async fn replay_taken<'a, T, F, Fut>(
        &'a self,
        actor: &'a Actor,
        retry: &Retry,
        mode: ReplyMode,
        replay: F,
    ) -> Result<Once<T>, ServiceError>
    where
        F: FnOnce(&'a Self, &'a Actor, Made, ReplyMode) -> Fut,
        Fut: Future<Output = Result<Once<T>, ServiceError>>,
    {
        // On SQLite the winner may share this request's group commit, and
        // becomes visible to readers once that group has committed.
        for _ in 0..TAKEN_POLLS {
            if let Some(made) = self.recall(actor, retry).await? {
                return replay(self, actor, made, mode).await;
            }
            tokio::time::sleep(TAKEN_POLL_EVERY).await;
        }
        Err(ServiceError::Conflict(
            "a request with this Idempotency-Key is still in progress".into(),
        ))
    }

    /// A reply made by an earlier request, as it is now; in sync mode once
    /// it has ended, as the first request answered.
    async fn replayed_reply(
        &self,
        actor: &Actor,
        id: MessageId,
        mode: ReplyMode,
    ) -> Result<Message, ServiceError> {
        let reply = self.get_message(actor, id).await?;
        if mode == ReplyMode::Stream || reply.status != MessageStatus::Streaming {
            return Ok(reply);
        }
        let seen = repo::events::last_seq(self.store.reader(), reply.thread_id)
            .await?
            .unwrap_or(0);
        let mut events = self.follow_message(actor, id, seen).await?;
        while let Some(event) = events.next().await {
            event?;
        }
        self.get_message(actor, id).await
    }

    /// Generates another reply to the message an ASSISTANT message answers:
    /// a sibling of it, which becomes the thread's current leaf.
    pub async fn regenerate_reply(
        &self,
        actor: &Actor,
        id: MessageId,
        mode: ReplyMode,
    ) -> Result<Message, ServiceError> {
        self.regenerate_reply_once(actor, id, mode, None)
            .await
            .map(Once::into_inner)
    }

    /// [`Services::regenerate_reply`] under an optional [`Retry`], as
    /// [`Services::post_message_once`].
    pub async fn regenerate_reply_once(
        &self,
        actor: &Actor,
        id: MessageId,
        mode: ReplyMode,
        retry: Option<&Retry>,
    ) -> Result<Once<Message>, ServiceError> {
        if let Some(retry) = retry
            && let Some(made) = self.recall(actor, retry).await?
        {
            return self.replay_regenerated(actor, made, mode).await;
        }
        let tx = self.store.begin_write().await?;
        let original = repo::messages::find(&tx, actor.org_id, id)
            .await?
            .ok_or(ServiceError::NotFound("message"))?;
        let thread = self
            .thread_in_tx(&tx, actor, original.thread_id, Access::Write)
            .await
            .map_err(hide_thread)?;
        if original.role != MessageRole::Assistant {
            return Err(ServiceError::Conflict(
                "only an assistant reply can be regenerated".into(),
            ));
        }
        let Some(answers) = original.parent_id else {
            return Err(ServiceError::Conflict(
                "this reply answers no message".into(),
            ));
        };
        let (reply, created, job) = self
            .insert_reply(&tx, actor, &thread, answers, None, None)
            .await?;
        if let Some(retry) = retry {
            let made = Made {
                message: None,
                reply: Some(reply.id),
            };
            if !self.record_made(&tx, actor, retry, made).await? {
                drop(tx);
                return self
                    .replay_taken(actor, retry, mode, Self::replay_regenerated)
                    .await;
            }
        }
        self.commit_and_publish(tx, [created]).await?;
        self.run_reply(reply, job, mode).await.map(Once::Made)
    }

    /// What an earlier regenerate under the same key made, as it is now.
    async fn replay_regenerated(
        &self,
        actor: &Actor,
        made: Made,
        mode: ReplyMode,
    ) -> Result<Once<Message>, ServiceError> {
        let id = made.reply.ok_or(ServiceError::NotFound("message"))?;
        Ok(Once::Replayed(self.replayed_reply(actor, id, mode).await?))
    }

    /// Stops a reply being generated: the text so far is kept and the
    /// status becomes `cancelled`. 409 if it is not being generated.
    pub async fn cancel_reply(
        &self,
        actor: &Actor,
        id: MessageId,
    ) -> Result<Message, ServiceError> {
        let message = self.get_message(actor, id).await?;
        self.thread_for(actor, message.thread_id, Access::Write)
            .await
            .map_err(hide_thread)?;
        if message.status != MessageStatus::Streaming {
            return Err(ServiceError::Conflict(
                "the message is not being generated".into(),
            ));
        }
        if self.generations.is_running(id) {
            // The task drops the upstream stream, writes `cancelled` and
            // then tells us it is done.
            self.stop_generation(id).await;
        } else {
            // Not generated here (another process, or one that died): the
            // conditional write stops a live generator at its next delta.
            let finished = FinishedReply {
                status: MessageStatus::Cancelled,
                error: None,
                metadata: None,
                token_count: None,
            };
            self.finish_elsewhere(message.thread_id, id, Some(actor), finished)
                .await?;
        }
        let ended = repo::messages::find(self.store.reader(), actor.org_id, id)
            .await?
            .ok_or(ServiceError::NotFound("message"))?;
        match ended.status {
            MessageStatus::Cancelled => Ok(ended),
            MessageStatus::Streaming => Err(ServiceError::Unavailable(
                "the reply is still stopping; try again".into(),
            )),
            _ => Err(ServiceError::Conflict(
                "the reply ended before it could be cancelled".into(),
            )),
        }
    }

    /// Stops this process's generation of a reply and waits (at most
    /// [`CANCEL_WAIT`]) until it has written its final status. Nothing
    /// happens for a message this process is not generating.
    pub(crate) async fn stop_generation(&self, id: MessageId) {
        let Some(mut done) = self.generations.stop(id) else {
            return;
        };
        let wait = async { while done.changed().await.is_ok() {} };
        if tokio::time::timeout(CANCEL_WAIT, wait).await.is_err() {
            tracing::warn!(message = %id, "a stopped reply is slow to end");
        }
    }

    /// Stops every generation this process runs for `user` or in one of
    /// `threads`, waiting for each to write its final status, so that
    /// deleting the user (and, by cascade, their threads) does not pull the
    /// rows out from under a reply still writing.
    pub(crate) async fn stop_generations_of(&self, user: UserId, threads: &[ThreadId]) {
        let ids = self
            .generations
            .matching(|job| job.actor.user_id == user || threads.contains(&job.thread));
        for id in ids {
            self.stop_generation(id).await;
        }
    }

    /// Ends a reply still `streaming` as `cancelled` inside the caller's
    /// transaction (with its `message.completed` event), for a change that
    /// must not be overwritten by a generator: whichever generator is left
    /// (another process's) stops at its next conditional write. Returns the
    /// event to publish after the commit, or `None` if the reply had ended.
    pub(crate) async fn cancel_in_tx(
        &self,
        tx: &Tx,
        message: &Message,
        actor: &Actor,
    ) -> Result<Option<ThreadEvent>, ServiceError> {
        if message.status != MessageStatus::Streaming {
            return Ok(None);
        }
        let finished = FinishedReply {
            status: MessageStatus::Cancelled,
            error: None,
            metadata: None,
            token_count: None,
        };
        if !repo::replies::finish(tx, message.id, finished).await? {
            return Ok(None);
        }
        let payload = json!({ "status": MessageStatus::Cancelled, "error": null });
        let event = completed_event(
            tx,
            message.thread_id,
            message.id,
            Some(actor.user_id),
            payload,
        )
        .await?;
        Ok(Some(event))
    }

    /// At shutdown (no new requests are taken by then): lets the replies this
    /// process is generating finish for up to `grace`, then fails the rest
    /// with their partial text and [`INTERRUPTED`], as restart recovery
    /// would, and stops them so that each records its call. Returns how many
    /// finished within the grace period and how many were failed.
    pub async fn drain_replies(&self, grace: Duration) -> (usize, usize) {
        let running = self.generations.running();
        let total = running.len();
        if total == 0 {
            return (0, 0);
        }
        tracing::info!(
            replies = total,
            grace_ms = grace.as_millis(),
            "waiting for replies in progress to finish"
        );
        let all_done = futures_util::future::join_all(
            running
                .into_iter()
                .map(|(_, _, mut done)| async move { while done.changed().await.is_ok() {} }),
        );
        if tokio::time::timeout(grace, all_done).await.is_ok() {
            return (total, 0);
        }
        let left = self.generations.running();
        let mut failed = 0;
        for (id, thread, _) in &left {
            let finished = FinishedReply {
                status: MessageStatus::Failed,
                error: Some(INTERRUPTED.to_owned()),
                metadata: None,
                token_count: None,
            };
            match self.finish_elsewhere(*thread, *id, None, finished).await {
                Ok(true) => failed += 1,
                Ok(false) => {}
                Err(err) => {
                    tracing::error!(error = %err, message = %id, "failing a reply at shutdown failed");
                }
            }
        }
        // The generators stop at once (their status is already final), drop
        // their upstream calls and record them.
        let stopping = futures_util::future::join_all(
            left.into_iter().map(|(id, _, _)| self.stop_generation(id)),
        );
        let _ = tokio::time::timeout(CANCEL_WAIT, stopping).await;
        tracing::warn!(
            finished = total - failed,
            failed,
            "replies still running after the shutdown grace period were marked failed"
        );
        (total - failed, failed)
    }

    /// Fails every reply left `streaming` that this process is not
    /// generating, keeping its partial text: call once at start-up, when
    /// no reply can still be running. Returns how many were recovered.
    pub async fn recover_interrupted_replies(&self) -> Result<u64, ServiceError> {
        let mut recovered = 0;
        let mut after = None;
        loop {
            let page = repo::replies::streaming(self.store.reader(), after, RECOVERY_PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.id);
            for reply in page {
                if self.generations.is_running(reply.id) {
                    continue;
                }
                let finished = FinishedReply {
                    status: MessageStatus::Failed,
                    error: Some(INTERRUPTED.to_owned()),
                    metadata: None,
                    token_count: None,
                };
                if self
                    .finish_elsewhere(reply.thread_id, reply.id, None, finished)
                    .await?
                {
                    recovered += 1;
                }
            }
        }
        if recovered > 0 {
            tracing::warn!(
                recovered,
                "replies interrupted by a restart were marked failed"
            );
        }
        Ok(recovered)
    }

    /// Sets a reply's final status from outside its generation, with its
    /// `message.completed` event; `false` if it was no longer streaming.
    async fn finish_elsewhere(
        &self,
        thread: ThreadId,
        id: MessageId,
        actor: Option<&Actor>,
        finished: FinishedReply,
    ) -> Result<bool, ServiceError> {
        let payload = json!({
            "status": finished.status,
            "error": finished.error,
        });
        let tx = self.store.begin_write().await?;
        if !repo::replies::finish(&tx, id, finished).await? {
            return Ok(false);
        }
        let event = completed_event(&tx, thread, id, actor.map(|a| a.user_id), payload).await?;
        self.commit_and_publish(tx, [event]).await?;
        Ok(true)
    }

    /// Inserts an empty `streaming` ASSISTANT message answering `answers`
    /// (it becomes the thread's current leaf) with its `message.created`
    /// event, and describes the generation to start once this commits.
    /// A `note` is told to the model as the newest user turn of the prompt
    /// (an interactive action says what the person did with it); `options`
    /// are a Responses API request's settings.
    pub(crate) async fn insert_reply(
        &self,
        tx: &Tx,
        actor: &Actor,
        thread: &Thread,
        answers: MessageId,
        note: Option<String>,
        options: Option<ReplyOptions>,
    ) -> Result<(Message, ThreadEvent, ReplyJob), ServiceError> {
        self.insert_reply_as(tx, MessageId::new(), actor, thread, answers, note, options)
            .await
    }

    /// [`Services::insert_reply`] with the reply's id chosen beforehand.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert_reply_as(
        &self,
        tx: &Tx,
        id: MessageId,
        actor: &Actor,
        thread: &Thread,
        answers: MessageId,
        note: Option<String>,
        options: Option<ReplyOptions>,
    ) -> Result<(Message, ThreadEvent, ReplyJob), ServiceError> {
        let model = options
            .as_ref()
            .and_then(|options| options.model.clone())
            .or_else(|| thread.model.clone())
            .unwrap_or_else(|| self.config.default_model.clone());
        let system_prompt = options
            .as_ref()
            .and_then(|options| options.instructions.clone())
            .or_else(|| thread.system_prompt.clone());
        let reply = repo::messages::insert(
            tx,
            NewMessageRow {
                id,
                thread_id: thread.id,
                org_id: thread.org_id,
                parent_id: Some(answers),
                user_id: None,
                role: MessageRole::Assistant,
                content: String::new(),
                blocks: None,
                metadata: options
                    .as_ref()
                    .and_then(|options| options.metadata.clone()),
                status: MessageStatus::Streaming,
                model: Some(model.clone()),
                attachments: Vec::new(),
                // Counted when the text is final.
                tokens: None,
            },
        )
        .await?;
        let created = created_event(tx, &reply, None).await?;
        let job = ReplyJob {
            actor: actor.clone(),
            thread: thread.id,
            reply: reply.id,
            answers,
            model,
            system_prompt,
            note,
            options: options.map(std::sync::Arc::new),
        };
        Ok((reply, created, job))
    }

    /// Starts a committed reply and, in sync mode, waits for its end.
    pub(crate) async fn run_reply(
        &self,
        reply: Message,
        job: ReplyJob,
        mode: ReplyMode,
    ) -> Result<Message, ServiceError> {
        let handle = self.start_reply(job);
        match mode {
            ReplyMode::Sync => handle.finished().await,
            ReplyMode::Stream => Ok(reply),
        }
    }
}

/// A thread the caller may not see makes its messages not found.
fn hide_thread(err: ServiceError) -> ServiceError {
    match err {
        ServiceError::NotFound(_) => ServiceError::NotFound("message"),
        other => other,
    }
}
