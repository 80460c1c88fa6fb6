//! Writing several replies' text in one transaction, on SQLite and on
//! PostgreSQL: each delta lands on its own reply with its `message.delta`
//! event at the thread's next number, in order, and a reply no longer
//! `streaming` is left alone without stopping the others.

use serde_json::json;
use xl_domain::events::kind;
use xl_domain::{MessageId, MessageRole, MessageStatus, OrgId, ThreadId, UserId};
use xl_store::Store;
use xl_store::repo;
use xl_store::repo::replies::{Delta, FinishedReply};
use xl_store::repo::threads::NewThreadRow;

on_both_engines!(
    deltas_on_sqlite,
    deltas_on_postgres,
    deltas_of_many_replies_land_together
);

pub(crate) async fn thread(store: &Store, org: OrgId, user: UserId, title: &str) -> ThreadId {
    repo::threads::insert(
        store.writer(),
        NewThreadRow {
            org_id: org,
            owner_id: user,
            title: Some(title.into()),
            description: None,
            system_prompt: None,
            model: None,
            metadata: json!({}),
            auto_reply: false,
            pinned: false,
            tags: Vec::new(),
        },
    )
    .await
    .unwrap()
    .id
}

async fn reply(store: &Store, org: OrgId, thread: ThreadId) -> MessageId {
    let row = crate::message_row(
        org,
        thread,
        None,
        MessageRole::Assistant,
        MessageStatus::Streaming,
        "",
    );
    repo::messages::insert(store.writer(), row)
        .await
        .unwrap()
        .id
}

fn delta(thread: ThreadId, reply: MessageId, text: &str) -> Delta {
    Delta {
        thread,
        reply,
        text: text.to_owned(),
    }
}

async fn deltas_of_many_replies_land_together(store: &Store) {
    let (org, user) = crate::ada(store).await;
    let (one, two) = (
        thread(store, org, user, "one").await,
        thread(store, org, user, "two").await,
    );
    let first = reply(store, org, one).await;
    let second = reply(store, org, one).await;
    let third = reply(store, org, two).await;
    // The second reply was finished elsewhere (a cancel) before its text came.
    let cancelled = FinishedReply {
        status: MessageStatus::Cancelled,
        error: None,
        metadata: None,
        token_count: None,
    };
    assert!(
        repo::replies::finish(store.writer(), second, cancelled)
            .await
            .unwrap()
    );
    let before_one = repo::events::last_seq(store.reader(), one)
        .await
        .unwrap()
        .unwrap();
    let before_two = repo::events::last_seq(store.reader(), two)
        .await
        .unwrap()
        .unwrap();

    let tx = store.begin_write().await.unwrap();
    let deltas = [
        delta(one, first, "Hel"),
        delta(two, third, "Bon"),
        delta(one, second, "lost"),
        delta(one, first, "lo, it's "),
        delta(two, third, "jour"),
        delta(one, first, "O'Brien"),
    ];
    let events = repo::replies::append_deltas(&tx, &deltas).await.unwrap();
    tx.commit().await.unwrap();

    let seqs: Vec<Option<i64>> = events.iter().map(|e| e.as_ref().map(|e| e.seq)).collect();
    assert_eq!(
        seqs,
        [
            Some(before_one + 1),
            Some(before_two + 1),
            None,
            Some(before_one + 2),
            Some(before_two + 2),
            Some(before_one + 3),
        ]
    );
    let text = |id| async move {
        repo::messages::find(store.reader(), org, id)
            .await
            .unwrap()
            .unwrap()
            .content
    };
    assert_eq!(text(first).await, "Hello, it's O'Brien");
    assert_eq!(text(second).await, "", "a finished reply is left alone");
    assert_eq!(text(third).await, "Bonjour");

    // The log holds what was returned, and nothing for the finished reply.
    let logged = repo::events::after(store.reader(), one, before_one, None, 100)
        .await
        .unwrap();
    let logged: Vec<(i64, &str, Option<MessageId>, &str)> = logged
        .iter()
        .map(|e| {
            (
                e.seq,
                e.kind.as_str(),
                e.message_id,
                e.payload["delta"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        logged,
        [
            (before_one + 1, kind::MESSAGE_DELTA, Some(first), "Hel"),
            (
                before_one + 2,
                kind::MESSAGE_DELTA,
                Some(first),
                "lo, it's "
            ),
            (before_one + 3, kind::MESSAGE_DELTA, Some(first), "O'Brien"),
        ]
    );
    assert_eq!(
        repo::events::last_seq(store.reader(), one).await.unwrap(),
        Some(before_one + 3),
        "the finished reply took no number"
    );
}
