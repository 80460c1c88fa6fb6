//! The assistant in threads, through the services: replies in both modes,
//! failures that keep the user's message, following and resuming a reply's
//! events, cancel, regenerate, restart recovery, the prompt, access, and
//! the record of every call.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::messages::{Branch, NewMessage};
use xl_domain::threads::NewThread;
use xl_domain::{
    Actor, Message, MessageId, MessageRole, MessageStatus, PageRequest, Role, ThreadId,
};
use xl_llm::{
    ChatChunk, ChatProvider, ChatRequest, ChatResponse, ChatRole, ChunkStream, FinishReason,
    LlmError, ModelInfo, ModelSpec,
};
use xl_services::assistant::{INTERRUPTED, ReplyMode};
use xl_services::events::EventStream;
use xl_services::{ServiceError, Services, ServicesConfig};
use xl_store::Store;
use xl_store::repo;
use xl_store::repo::messages::NewMessageRow;
use xl_store::repo::usage::UsageFilter;

use crate::support::{actor, services};

/// What the fake provider does for one call.
#[derive(Debug)]
enum Plan {
    /// Fails before the first byte.
    Refuse(LlmError),
    /// Streams these deltas, then fails.
    FailAfter(Vec<&'static str>, LlmError),
    /// Streams what the test sends, and finishes when the sender is dropped.
    Fed(mpsc::UnboundedReceiver<String>),
}

/// A provider the test scripts, one plan per call (then `ok` replies). It
/// keeps the prompts it was sent and notices a stream dropped before its end.
#[derive(Debug, Default)]
struct Fake {
    plans: Mutex<VecDeque<Plan>>,
    prompts: Mutex<Vec<ChatRequest>>,
    dropped: Arc<AtomicBool>,
}

impl Fake {
    fn with(plans: Vec<Plan>) -> Arc<Self> {
        Arc::new(Fake {
            plans: Mutex::new(plans.into()),
            ..Fake::default()
        })
    }

    /// A fake that streams what the returned sender sends.
    fn fed() -> (Arc<Self>, mpsc::UnboundedSender<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Fake::with(vec![Plan::Fed(rx)]), tx)
    }

    fn was_dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }

    fn prompts(&self) -> Vec<ChatRequest> {
        self.prompts.lock().unwrap().clone()
    }
}

/// Sets the flag if dropped while armed (a stream dropped before its end).
struct Tripwire {
    flag: Option<Arc<AtomicBool>>,
}

impl Drop for Tripwire {
    fn drop(&mut self) {
        if let Some(flag) = &self.flag {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

fn finish() -> ChatChunk {
    ChatChunk::Finish {
        reason: FinishReason::Stop,
        usage: None,
    }
}

#[async_trait]
impl ChatProvider for Fake {
    fn name(&self) -> &str {
        "fake"
    }

    async fn complete(&self, _request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        Err(LlmError::Upstream("the fake only streams".into()))
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChunkStream, LlmError> {
        self.prompts.lock().unwrap().push(request.clone());
        let plan = self.plans.lock().unwrap().pop_front();
        let wire = Tripwire {
            flag: Some(Arc::clone(&self.dropped)),
        };
        match plan {
            Some(Plan::Refuse(err)) => Err(err),
            Some(Plan::FailAfter(deltas, err)) => {
                let mut items: Vec<Result<ChatChunk, LlmError>> = deltas
                    .into_iter()
                    .map(|d| Ok(ChatChunk::Delta(d.to_owned())))
                    .collect();
                items.push(Err(err));
                Ok(Box::pin(futures_util::stream::iter(items)))
            }
            Some(Plan::Fed(rx)) => Ok(Box::pin(futures_util::stream::unfold(
                (rx, wire, false),
                |(mut rx, mut wire, finished)| async move {
                    if finished {
                        wire.flag.take();
                        return None;
                    }
                    match rx.recv().await {
                        Some(delta) => Some((Ok(ChatChunk::Delta(delta)), (rx, wire, false))),
                        None => Some((Ok(finish()), (rx, wire, true))),
                    }
                },
            ))),
            None => {
                let items = vec![Ok(ChatChunk::Delta("ok".into())), Ok(finish())];
                Ok(Box::pin(futures_util::stream::iter(items)))
            }
        }
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, LlmError> {
        Ok(Vec::new())
    }
}

async fn services_with(llm: Arc<dyn ChatProvider>, config: ServicesConfig) -> Services {
    let store = Store::in_memory().await.unwrap();
    Services::new(store, llm, config)
}

fn text(content: &str) -> NewMessage {
    NewMessage {
        content: Some(content.to_owned()),
        ..NewMessage::default()
    }
}

async fn thread(services: &Services, owner: &Actor, input: NewThread) -> ThreadId {
    services.create_thread(owner, input).await.unwrap().id
}

/// Posts a user message and returns it with the reply it started.
async fn ask(
    services: &Services,
    who: &Actor,
    thread: ThreadId,
    content: &str,
    mode: ReplyMode,
) -> (Message, Message) {
    let posted = services
        .post_message_with_reply(who, thread, text(content), mode)
        .await
        .unwrap();
    (posted.message, posted.reply.expect("a reply was started"))
}

/// Polls until `check` gives a value (5 s at most).
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..500 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Every event of a message, waiting for the end of the reply.
async fn all_events(
    services: &Services,
    who: &Actor,
    id: MessageId,
    after: i64,
) -> Vec<ThreadEvent> {
    let events = services.follow_message(who, id, after).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), collect(events))
        .await
        .expect("the event stream ended")
}

async fn collect(events: EventStream) -> Vec<ThreadEvent> {
    events.map(Result::unwrap).collect().await
}

fn deltas(events: &[ThreadEvent]) -> String {
    events
        .iter()
        .filter(|e| e.kind == kind::MESSAGE_DELTA)
        .map(|e| e.payload["delta"].as_str().unwrap().to_owned())
        .collect()
}

/// The completion records written for a message in the actor's org, once
/// there are `n`.
async fn completions(
    services: &Services,
    actor: &Actor,
    message: &Message,
    n: usize,
) -> Vec<Value> {
    let filter = UsageFilter {
        org_id: actor.org_id,
        user_id: None,
        thread_id: None,
        from: None,
        to: None,
    };
    eventually("the completion records", || async {
        let rows: Vec<_> = repo::usage::calls(services.store.reader(), &filter, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|row| row.message_id == Some(message.id))
            .collect();
        (rows.len() >= n).then(|| {
            rows.into_iter()
                .map(|row| {
                    serde_json::json!({
                        "status": row.status,
                        "thread_id": row.thread_id,
                        "stream": row.stream,
                        "completion_tokens": row.completion_tokens,
                    })
                })
                .collect()
        })
    })
    .await
}

#[tokio::test]
async fn a_sync_reply_is_a_complete_child_with_its_metadata_and_events() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (question, reply) = ask(&services, &ada, t, "hello there", ReplyMode::Sync).await;

    assert_eq!(reply.role, MessageRole::Assistant);
    assert_eq!(reply.parent_id, Some(question.id));
    assert_eq!(reply.status, MessageStatus::Complete);
    assert_eq!(reply.content, "Echo: hello there");
    assert_eq!(reply.model.as_deref(), Some("gpt-4o"));
    assert!(reply.error.is_none());
    let metadata = reply.metadata.clone().unwrap();
    assert_eq!(metadata["model"], "gpt-4o");
    assert!(metadata["completionId"].is_string(), "{metadata}");
    assert!(metadata["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(metadata["usage"]["completion_tokens"], 4);

    // The reply is the thread's current leaf.
    let branch = services
        .list_messages(&ada, t, Branch::Current, &PageRequest::default())
        .await
        .unwrap();
    let ids: Vec<MessageId> = branch.items.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![reply.id, question.id]);

    // The log: both messages created, the text as deltas, then the end.
    let log = repo::events::after(services.store.reader(), t, 0, None, 100)
        .await
        .unwrap();
    let kinds: Vec<&str> = log.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds[..2], [kind::MESSAGE_CREATED, kind::MESSAGE_CREATED]);
    assert_eq!(kinds.last(), Some(&kind::MESSAGE_COMPLETED));
    let seqs: Vec<i64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>());
    assert_eq!(deltas(&log), reply.content);
    assert_eq!(log.last().unwrap().payload["status"], "complete");

    let records = completions(&services, &ada, &reply, 1).await;
    assert_eq!(records[0]["status"], "complete");
    assert_eq!(records[0]["thread_id"], serde_json::json!(t));
    assert_eq!(records[0]["stream"], true);
}

#[tokio::test]
async fn no_reply_when_auto_reply_is_off_or_the_poster_is_not_a_user() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let quiet = thread(
        &services,
        &ada,
        NewThread {
            auto_reply: Some(false),
            ..NewThread::default()
        },
    )
    .await;
    let posted = services
        .post_message_with_reply(&ada, quiet, text("hi"), ReplyMode::Sync)
        .await
        .unwrap();
    assert!(posted.reply.is_none());

    let boss = actor(&services, "boss@acme.io", Role::Admin).await;
    let loud = thread(&services, &boss, NewThread::default()).await;
    let note = NewMessage {
        role: Some(MessageRole::System),
        ..text("a note")
    };
    let posted = services
        .post_message_with_reply(&boss, loud, note, ReplyMode::Sync)
        .await
        .unwrap();
    assert!(posted.reply.is_none());

    let off = services_with(
        services.llm.clone(),
        ServicesConfig {
            auto_completion_enabled: false,
            ..ServicesConfig::default()
        },
    )
    .await;
    let ada = actor(&off, "ada@acme.io", Role::User).await;
    let t = thread(&off, &ada, NewThread::default()).await;
    let posted = off
        .post_message_with_reply(&ada, t, text("hi"), ReplyMode::Stream)
        .await
        .unwrap();
    assert!(posted.reply.is_none());
    let all = off
        .list_messages(&ada, t, Branch::All, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
}

#[tokio::test]
async fn a_failure_before_the_first_byte_keeps_the_question_and_says_why() {
    let fake = Fake::with(vec![Plan::Refuse(LlmError::RateLimited)]);
    let services = services_with(fake.clone(), ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (question, reply) = ask(&services, &ada, t, "hi", ReplyMode::Sync).await;
    assert_eq!(reply.status, MessageStatus::Failed);
    assert_eq!(reply.content, "");
    assert_eq!(
        reply.error.as_deref(),
        Some("rate limited by the model provider")
    );
    assert_eq!(
        services
            .get_message(&ada, question.id)
            .await
            .unwrap()
            .content,
        "hi"
    );
    let records = completions(&services, &ada, &reply, 1).await;
    assert_eq!(records[0]["status"], "failed");
}

#[tokio::test]
async fn a_failure_mid_stream_keeps_the_partial_text() {
    let fake = Fake::with(vec![Plan::FailAfter(
        vec!["Hel", "lo"],
        LlmError::Upstream("connection reset".into()),
    )]);
    let services = services_with(fake, ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (question, reply) = ask(&services, &ada, t, "hi", ReplyMode::Stream).await;
    assert_eq!(reply.status, MessageStatus::Streaming);
    assert_eq!(reply.content, "");

    let events = all_events(&services, &ada, reply.id, 0).await;
    assert_eq!(events[0].kind, kind::MESSAGE_CREATED);
    assert_eq!(deltas(&events), "Hello");
    let last = events.last().unwrap();
    assert_eq!(last.payload["status"], "failed");
    assert_eq!(
        last.payload["error"],
        "the model provider failed: connection reset"
    );
    let ended = services.get_message(&ada, reply.id).await.unwrap();
    assert_eq!(ended.status, MessageStatus::Failed);
    assert_eq!(ended.content, "Hello");
    assert!(services.get_message(&ada, question.id).await.is_ok());
    let records = completions(&services, &ada, &reply, 1).await;
    assert_eq!(records[0]["status"], "failed");
}

#[tokio::test]
async fn followers_resume_after_any_event_without_gap_or_duplicate() {
    let (fake, feed) = Fake::fed();
    let services = services_with(fake, ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (_, reply) = ask(&services, &ada, t, "count", ReplyMode::Stream).await;

    // A live follower sees each delta as it is written.
    let mut live = services.follow_message(&ada, reply.id, 0).await.unwrap();
    let created = live.next().await.unwrap().unwrap();
    assert_eq!(created.kind, kind::MESSAGE_CREATED);
    let mut seen = vec![created];
    for word in ["one ", "two ", "three "] {
        feed.send(word.to_owned()).unwrap();
        let event = live.next().await.unwrap().unwrap();
        assert_eq!(event.payload["delta"], word);
        seen.push(event);
    }
    // It goes away; the reply goes on.
    drop(live);
    for word in ["four ", "five"] {
        feed.send(word.to_owned()).unwrap();
    }
    drop(feed);

    let everything = all_events(&services, &ada, reply.id, 0).await;
    assert_eq!(deltas(&everything), "one two three four five");
    assert_eq!(everything.last().unwrap().payload["status"], "complete");
    assert_eq!(everything[..seen.len()], seen[..]);
    // Resuming after each event gives exactly the rest.
    for (k, event) in everything.iter().enumerate() {
        let rest = all_events(&services, &ada, reply.id, event.seq).await;
        assert_eq!(rest[..], everything[k + 1..], "after event {k}");
    }
    let ended = services.get_message(&ada, reply.id).await.unwrap();
    assert_eq!(ended.status, MessageStatus::Complete);
    assert_eq!(ended.content, "one two three four five");
}

#[tokio::test]
async fn a_follower_that_joins_mid_reply_sees_every_event_once() {
    let (fake, feed) = Fake::fed();
    let services = services_with(fake, ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (_, reply) = ask(&services, &ada, t, "go", ReplyMode::Stream).await;
    feed.send("a".into()).unwrap();
    eventually("the first delta", || async {
        let m = services.get_message(&ada, reply.id).await.unwrap();
        (m.content == "a").then_some(())
    })
    .await;
    // Other replies' events interleave in the thread's log meanwhile.
    let follower = services.follow_message(&ada, reply.id, 0).await.unwrap();
    let reader = tokio::spawn(collect(follower));
    for (i, word) in ["b", "c", "d", "e"].into_iter().enumerate() {
        feed.send(word.into()).unwrap();
        if i % 2 == 0 {
            services
                .post_message_with_reply(&ada, t, text("interjection"), ReplyMode::Stream)
                .await
                .unwrap();
        }
        tokio::task::yield_now().await;
    }
    drop(feed);
    let events = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deltas(&events), "abcde");
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(events.iter().all(|e| e.message_id == Some(reply.id)));
    assert_eq!(events.last().unwrap().payload["status"], "complete");
    let log = repo::events::after(services.store.reader(), t, 0, None, 1000)
        .await
        .unwrap();
    assert!(
        log.iter().any(|e| e.message_id != Some(reply.id)
            && e.seq > events[1].seq
            && e.seq < events.last().unwrap().seq),
        "other events came in between"
    );
}

#[tokio::test]
async fn cancel_keeps_the_partial_text_and_drops_the_upstream_stream() {
    let (fake, feed) = Fake::fed();
    let services = services_with(fake.clone(), ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (_, reply) = ask(&services, &ada, t, "talk", ReplyMode::Stream).await;
    for word in ["par", "tial"] {
        feed.send(word.into()).unwrap();
    }
    eventually("the partial text", || async {
        let m = services.get_message(&ada, reply.id).await.unwrap();
        (m.content == "partial").then_some(())
    })
    .await;
    assert!(!fake.was_dropped());

    let cancelled = services.cancel_reply(&ada, reply.id).await.unwrap();
    assert_eq!(cancelled.status, MessageStatus::Cancelled);
    assert_eq!(cancelled.content, "partial");
    assert!(fake.was_dropped(), "the upstream stream was dropped");
    assert!(feed.send("more".into()).is_err(), "nobody reads any more");

    let events = all_events(&services, &ada, reply.id, 0).await;
    assert_eq!(events.last().unwrap().payload["status"], "cancelled");
    assert!(matches!(
        services.cancel_reply(&ada, reply.id).await,
        Err(ServiceError::Conflict(_))
    ));
    let records = completions(&services, &ada, &reply, 1).await;
    assert_eq!(records[0]["status"], "cancelled");
}

#[tokio::test]
async fn a_sync_reply_can_be_cancelled_from_another_request() {
    let (fake, feed) = Fake::fed();
    let services = services_with(fake, ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let waiting = {
        let services = services.clone();
        let ada = ada.clone();
        tokio::spawn(async move { ask(&services, &ada, t, "long", ReplyMode::Sync).await })
    };
    feed.send("so far".into()).unwrap();
    let reply = eventually("the reply", || async {
        let page = services
            .list_messages(&ada, t, Branch::Current, &PageRequest::default())
            .await
            .unwrap();
        page.items
            .into_iter()
            .find(|m| m.role == MessageRole::Assistant && m.content == "so far")
    })
    .await;
    services.cancel_reply(&ada, reply.id).await.unwrap();
    let (_, answered) = waiting.await.unwrap();
    assert_eq!(answered.id, reply.id);
    assert_eq!(answered.status, MessageStatus::Cancelled);
    assert_eq!(answered.content, "so far");
}

#[tokio::test]
async fn only_a_reply_in_progress_can_be_cancelled() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (question, reply) = ask(&services, &ada, t, "hi", ReplyMode::Sync).await;
    for id in [question.id, reply.id] {
        assert!(matches!(
            services.cancel_reply(&ada, id).await,
            Err(ServiceError::Conflict(_))
        ));
    }
}

#[tokio::test]
async fn regenerate_adds_a_sibling_and_moves_the_branch_to_it() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (question, first) = ask(&services, &ada, t, "again", ReplyMode::Sync).await;

    let second = services
        .regenerate_reply(&ada, first.id, ReplyMode::Sync)
        .await
        .unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(second.parent_id, Some(question.id));
    assert_eq!(second.status, MessageStatus::Complete);
    assert_eq!(second.content, "Echo: again");
    let branch = services
        .list_messages(&ada, t, Branch::Current, &PageRequest::default())
        .await
        .unwrap();
    let ids: Vec<MessageId> = branch.items.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![second.id, question.id]);
    let all = services
        .list_messages(&ada, t, Branch::All, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3, "the first reply stays in the tree");

    let streamed = services
        .regenerate_reply(&ada, second.id, ReplyMode::Stream)
        .await
        .unwrap();
    assert_eq!(streamed.status, MessageStatus::Streaming);
    let events = all_events(&services, &ada, streamed.id, 0).await;
    assert_eq!(deltas(&events), "Echo: again");
    completions(&services, &ada, &streamed, 1).await;

    assert!(matches!(
        services
            .regenerate_reply(&ada, question.id, ReplyMode::Sync)
            .await,
        Err(ServiceError::Conflict(_))
    ));
}

#[tokio::test]
async fn restart_recovery_fails_interrupted_replies_with_their_text() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let question = services.post_message(&ada, t, text("hi")).await.unwrap();
    // What a server that died mid-reply leaves behind.
    let tx = services.store.begin_write().await.unwrap();
    let orphan = repo::messages::insert(
        &tx,
        NewMessageRow {
            id: MessageId::new(),
            thread_id: t,
            org_id: ada.org_id,
            parent_id: Some(question.id),
            user_id: None,
            role: MessageRole::Assistant,
            content: "half an ans".into(),
            blocks: None,
            metadata: None,
            status: MessageStatus::Streaming,
            model: Some("gpt-4o".into()),
            attachments: Vec::new(),
            tokens: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // A follower waiting on it is released by the recovery.
    let follower = services.follow_message(&ada, orphan.id, 0).await.unwrap();
    let waiting = tokio::spawn(collect(follower));
    assert_eq!(services.recover_interrupted_replies().await.unwrap(), 1);
    let recovered = services.get_message(&ada, orphan.id).await.unwrap();
    assert_eq!(recovered.status, MessageStatus::Failed);
    assert_eq!(recovered.content, "half an ans");
    assert_eq!(recovered.error.as_deref(), Some(INTERRUPTED));
    let events = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(events.last().unwrap().kind, kind::MESSAGE_COMPLETED);
    assert_eq!(events.last().unwrap().payload["status"], "failed");
    assert_eq!(services.recover_interrupted_replies().await.unwrap(), 0);
    // Recovery leaves finished messages alone.
    assert_eq!(
        services
            .get_message(&ada, question.id)
            .await
            .unwrap()
            .status,
        MessageStatus::Complete
    );
}

#[tokio::test]
async fn recovery_leaves_a_reply_this_process_is_generating_alone() {
    let (fake, feed) = Fake::fed();
    let services = services_with(fake, ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (_, reply) = ask(&services, &ada, t, "hi", ReplyMode::Stream).await;
    assert_eq!(services.recover_interrupted_replies().await.unwrap(), 0);
    drop(feed);
    let events = all_events(&services, &ada, reply.id, 0).await;
    assert_eq!(events.last().unwrap().payload["status"], "complete");
}

#[tokio::test]
async fn the_prompt_is_the_system_prompt_and_as_much_of_the_branch_as_fits() {
    let fake = Fake::with(Vec::new());
    let mut config = ServicesConfig::default();
    // 2,000 tokens, of which at most 1,000 for the prompt.
    config.models.insert(ModelSpec::new("small", 2000));
    let services = services_with(fake.clone(), config).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(
        &services,
        &ada,
        NewThread {
            system_prompt: Some("Answer in French.".into()),
            model: Some("small".into()),
            ..NewThread::default()
        },
    )
    .await;
    let long = "blah ".repeat(100);
    for i in 0..12 {
        let (_, reply) = ask(&services, &ada, t, &format!("{i} {long}"), ReplyMode::Sync).await;
        assert_eq!(reply.status, MessageStatus::Complete);
        assert_eq!(reply.model.as_deref(), Some("small"));
    }
    let prompts = fake.prompts();
    assert_eq!(prompts.len(), 12);
    let first = &prompts[0];
    assert_eq!(first.model, "small");
    let roles: Vec<ChatRole> = first.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![ChatRole::System, ChatRole::User]);
    assert_eq!(first.messages[0].text(), "Answer in French.");

    let last = prompts.last().unwrap();
    assert_eq!(last.messages[0].text(), "Answer in French.");
    assert!(last.messages.len() < 24, "the oldest turns were left out");
    assert!(xl_llm::count_message_tokens("small", &last.messages) <= 1000);
    // Newest last, alternating from the oldest kept turn.
    let kept = &last.messages[1..];
    assert_eq!(kept.last().unwrap().role, ChatRole::User);
    assert!(kept.last().unwrap().text().starts_with("11 "));
    for pair in kept.windows(2) {
        assert_ne!(pair[0].role, pair[1].role);
    }
}

#[tokio::test]
async fn outsiders_can_neither_follow_cancel_nor_regenerate() {
    let (fake, feed) = Fake::fed();
    let services = services_with(fake, ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let bob = actor(&services, "bob@acme.io", Role::User).await;
    let eve = actor(&services, "eve@evil.io", Role::Admin).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (_, reply) = ask(&services, &ada, t, "secret", ReplyMode::Stream).await;
    for outsider in [&bob, &eve] {
        assert!(matches!(
            services.follow_message(outsider, reply.id, 0).await,
            Err(ServiceError::NotFound(_))
        ));
        assert!(matches!(
            services.cancel_reply(outsider, reply.id).await,
            Err(ServiceError::NotFound(_))
        ));
        assert!(matches!(
            services
                .regenerate_reply(outsider, reply.id, ReplyMode::Sync)
                .await,
            Err(ServiceError::NotFound(_))
        ));
    }
    drop(feed);
    all_events(&services, &ada, reply.id, 0).await;
}

#[tokio::test]
async fn usage_is_counted_when_the_stream_has_none() {
    let fake = Fake::with(Vec::new());
    let services = services_with(fake, ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (_, reply) = ask(&services, &ada, t, "hi", ReplyMode::Sync).await;
    assert_eq!(reply.content, "ok");
    let usage = &reply.metadata.unwrap()["usage"];
    assert_eq!(usage["completion_tokens"], 1);
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0);
}

/// A reply streaming in one thread (each batch of text its own write
/// transaction) while 100 posts arrive at once in another: every write goes
/// through the one writer, so none fails, none sees "database is locked",
/// and the reply's text is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_streamed_reply_and_a_burst_of_posts_share_the_writer() {
    let llm = Arc::new(xl_llm::EchoProvider::new(xl_llm::EchoConfig {
        pace: Duration::from_millis(2),
        models: Vec::new(),
    }));
    let services = Arc::new(services_with(llm, ServicesConfig::default()).await);
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let replying = thread(&services, &ada, NewThread::default()).await;
    let quiet = thread(
        &services,
        &ada,
        NewThread {
            auto_reply: Some(false),
            ..NewThread::default()
        },
    )
    .await;
    let words: Vec<String> = (0..200).map(|n| format!("w{n}")).collect();
    let question = words.join(" ");
    let reply = {
        let services = Arc::clone(&services);
        let ada = ada.clone();
        let question = question.clone();
        tokio::spawn(async move {
            services
                .post_message_with_reply(&ada, replying, text(&question), ReplyMode::Sync)
                .await
        })
    };
    let mut posts = Vec::new();
    for n in 0..100 {
        let services = Arc::clone(&services);
        let ada = ada.clone();
        posts.push(tokio::spawn(async move {
            services
                .post_message(&ada, quiet, text(&format!("post {n}")))
                .await
        }));
    }
    for post in posts {
        let result = post.await.unwrap();
        assert!(result.is_ok(), "a post failed: {result:?}");
    }
    let posted = reply.await.unwrap().unwrap();
    let reply = posted.reply.unwrap();
    assert_eq!(reply.status, MessageStatus::Complete);
    assert_eq!(reply.content, format!("Echo: {question}"));
    let stored = services.get_message(&ada, reply.id).await.unwrap();
    assert_eq!(stored.content, reply.content);
}

/// Streams "partial" into a reply through a fed fake and returns it.
async fn streaming_reply() -> (
    Services,
    Arc<Fake>,
    mpsc::UnboundedSender<String>,
    Actor,
    Message,
) {
    let (fake, feed) = Fake::fed();
    let services = services_with(fake.clone(), ServicesConfig::default()).await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let t = thread(&services, &ada, NewThread::default()).await;
    let (_, reply) = ask(&services, &ada, t, "talk", ReplyMode::Stream).await;
    for word in ["par", "tial"] {
        feed.send(word.into()).unwrap();
    }
    eventually("the partial text", || async {
        let m = services.get_message(&ada, reply.id).await.unwrap();
        (m.content == "partial").then_some(())
    })
    .await;
    (services, fake, feed, ada, reply)
}

/// Issue 15, finding 2: editing a reply that is still streaming cancels the
/// generation first; nothing is appended to the edited text afterwards.
#[tokio::test]
async fn editing_a_streaming_reply_cancels_it_and_keeps_the_edit() {
    let (services, fake, feed, ada, reply) = streaming_reply().await;
    let root = actor(&services, "root@acme.io", Role::Admin).await;
    let edited = services
        .edit_message(
            &root,
            reply.id,
            xl_domain::messages::MessageUpdate {
                content: Some("EDITED".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.content, "EDITED");
    assert_eq!(edited.status, MessageStatus::Cancelled);
    assert!(fake.was_dropped(), "the upstream stream was dropped");
    assert!(feed.send("more".into()).is_err(), "nobody reads any more");
    let stored = services.get_message(&ada, reply.id).await.unwrap();
    assert_eq!(stored.content, "EDITED");
    assert_eq!(stored.status, MessageStatus::Cancelled);

    // The log: the deltas add up to the text at the cancel, then the edit.
    let owned = repo::events::after(
        services.store.reader(),
        stored.thread_id,
        0,
        Some(reply.id),
        100,
    )
    .await
    .unwrap();
    let mine: Vec<&ThreadEvent> = owned.iter().collect();
    assert_eq!(deltas(&owned), "partial");
    let tail: Vec<(&str, Value)> = mine
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(|e| (e.kind.as_str(), e.payload["status"].clone()))
        .collect();
    assert_eq!(
        tail,
        vec![
            (kind::MESSAGE_COMPLETED, Value::from("cancelled")),
            (kind::MESSAGE_UPDATED, Value::from("cancelled")),
        ]
    );
    assert_eq!(mine.last().unwrap().payload["content"], "EDITED");
    let records = completions(&services, &ada, &reply, 1).await;
    assert_eq!(records[0]["status"], "cancelled");
}

/// Issue 15, finding 2: deleting a reply that is still streaming cancels the
/// generation first; the tombstone stays empty.
#[tokio::test]
async fn deleting_a_streaming_reply_cancels_it_and_the_tombstone_stays_empty() {
    let (services, fake, feed, ada, reply) = streaming_reply().await;
    let root = actor(&services, "root@acme.io", Role::Admin).await;
    services.delete_message(&root, reply.id).await.unwrap();
    assert!(fake.was_dropped(), "the upstream stream was dropped");
    assert!(feed.send("more".into()).is_err(), "nobody reads any more");
    let stored = services.get_message(&ada, reply.id).await.unwrap();
    assert!(stored.deleted_at.is_some());
    assert_eq!(stored.content, "");
    assert_eq!(stored.status, MessageStatus::Cancelled);
    let events = repo::events::after(services.store.reader(), stored.thread_id, 0, None, 100)
        .await
        .unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.kind, kind::MESSAGE_DELETED);
    assert_eq!(last.message_id, Some(reply.id));
}

/// A reply streaming in another process (no generation here) is cancelled
/// by the edit's own transaction, so its generator's next write is refused.
#[tokio::test]
async fn editing_a_reply_streaming_elsewhere_cancels_it_in_the_same_transaction() {
    let services = services().await;
    let root = actor(&services, "root@acme.io", Role::Admin).await;
    let t = thread(&services, &root, NewThread::default()).await;
    let question = services.post_message(&root, t, text("hi")).await.unwrap();
    let tx = services.store.begin_write().await.unwrap();
    let elsewhere = repo::messages::insert(
        &tx,
        NewMessageRow {
            id: MessageId::new(),
            thread_id: t,
            org_id: root.org_id,
            parent_id: Some(question.id),
            user_id: None,
            role: MessageRole::Assistant,
            content: "half".into(),
            blocks: None,
            metadata: None,
            status: MessageStatus::Streaming,
            model: Some("gpt-4o".into()),
            attachments: Vec::new(),
            tokens: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let edited = services
        .edit_message(
            &root,
            elsewhere.id,
            xl_domain::messages::MessageUpdate {
                content: Some("EDITED".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.status, MessageStatus::Cancelled);
    let tx = services.store.begin_write().await.unwrap();
    assert!(
        !repo::replies::append_text(&tx, elsewhere.id, " more")
            .await
            .unwrap(),
        "the other generator's next write is refused"
    );
}

/// Issue 15, finding 3: deleting a user whose reply is streaming stops the
/// reply first, and the call's usage record survives the user.
#[tokio::test]
async fn deleting_a_user_mid_reply_keeps_the_usage_record() {
    let (services, fake, feed, ada, reply) = streaming_reply().await;
    let root = actor(&services, "root@acme.io", Role::Admin).await;
    services.delete_user(&root, ada.user_id).await.unwrap();
    assert!(fake.was_dropped(), "the reply was stopped");
    assert!(feed.send("more".into()).is_err(), "nobody reads any more");
    let record = eventually("the usage record", || async {
        let filter = UsageFilter {
            org_id: root.org_id,
            user_id: None,
            thread_id: None,
            from: None,
            to: None,
        };
        repo::usage::calls(services.store.reader(), &filter, 1)
            .await
            .unwrap()
            .pop()
    })
    .await;
    assert_eq!(record.status, "cancelled");
    assert_eq!(record.user_id, None, "the user is gone, the record is not");
    assert!(record.prompt_tokens > 0);
    assert!(
        repo::messages::find(services.store.reader(), root.org_id, reply.id)
            .await
            .unwrap()
            .is_none(),
        "the reply went with its thread"
    );
}

/// Someone who may not change a streaming reply cannot stop it by trying.
#[tokio::test]
async fn a_refused_edit_or_delete_leaves_the_generation_running() {
    let (services, fake, feed, ada, reply) = streaming_reply().await;
    let eve = actor(&services, "eve@acme.io", Role::User).await;
    let edit = xl_domain::messages::MessageUpdate {
        content: Some("EDITED".into()),
        ..Default::default()
    };
    for who in [&ada, &eve] {
        assert!(
            services
                .edit_message(who, reply.id, edit.clone())
                .await
                .is_err()
        );
        assert!(services.delete_message(who, reply.id).await.is_err());
    }
    assert!(!fake.was_dropped(), "the generation goes on");
    feed.send(" more".into()).unwrap();
    drop(feed);
    let events = all_events(&services, &ada, reply.id, 0).await;
    assert_eq!(events.last().unwrap().payload["status"], "complete");
    let done = services.get_message(&ada, reply.id).await.unwrap();
    assert_eq!(done.content, "partial more");
}
