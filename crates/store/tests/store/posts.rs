//! A post committed in one visit to the writer: the message, the thread's
//! leaf and the `message.created` event land together, the event as stored
//! is the event returned (its payload's parent filled in by the database),
//! and a post that would need a reply is refused without a trace.

use xl_domain::{MessageRole, MessageStatus};
use xl_store::repo;
use xl_store::repo::messages::Poster;
use xl_store::{Conn, Store};

use crate::replies::thread;

on_both_engines!(
    posts_on_sqlite,
    posts_on_postgres,
    a_post_commits_with_its_event
);

async fn a_post_commits_with_its_event(store: &Store) {
    let (org, user) = crate::ada(store).await;
    let here = thread(store, org, user, "posts").await;
    // The owner posts as an admin would: membership is not what is tested.
    let poster = Poster {
        org_id: org,
        user_id: user,
        is_admin: true,
    };
    let row = |text: &str| {
        crate::message_row(
            org,
            here,
            Some(user),
            MessageRole::User,
            MessageStatus::Complete,
            text,
        )
    };
    let first = repo::messages::post(
        store.begin_write().await.unwrap(),
        poster,
        row("one"),
        None,
        false,
    )
    .await
    .unwrap()
    .unwrap();
    let second = repo::messages::post(
        store.begin_write().await.unwrap(),
        poster,
        row("two"),
        None,
        false,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(first.message.parent_id, None);
    assert_eq!(second.message.parent_id, Some(first.message.id));
    assert_eq!(second.event.seq, first.event.seq + 1);

    let stored = repo::events::after(store.reader(), here, 0, None, 100)
        .await
        .unwrap();
    let created: Vec<_> = stored
        .iter()
        .filter(|event| event.kind == "message.created")
        .collect();
    assert_eq!(created.len(), 2);
    for (stored, returned) in created.into_iter().zip([&first.event, &second.event]) {
        assert_eq!(stored.seq, returned.seq);
        assert_eq!(stored.message_id, returned.message_id);
        assert_eq!(stored.actor_id, Some(user));
        assert_eq!(stored.payload, returned.payload);
    }
    assert_eq!(
        second.event.payload["parent_id"],
        serde_json::json!(first.message.id.to_string())
    );

    // A thread whose assistant replies refuses a post that expected none,
    // and nothing of it is kept.
    let replying = thread(store, org, user, "replying").await;
    set_auto_reply(store.writer(), replying).await;
    let refused = repo::messages::post(
        store.begin_write().await.unwrap(),
        poster,
        crate::message_row(
            org,
            replying,
            Some(user),
            MessageRole::User,
            MessageStatus::Complete,
            "hi",
        ),
        None,
        true,
    )
    .await
    .unwrap();
    assert!(refused.is_none());
    assert!(
        repo::events::after(store.reader(), replying, 0, None, 100)
            .await
            .unwrap()
            .iter()
            .all(|event| event.kind != "message.created")
    );
}

async fn set_auto_reply<C: Conn>(db: &C, thread: xl_domain::ThreadId) {
    let changes = repo::threads::ThreadChanges {
        auto_reply: Some(true),
        ..Default::default()
    };
    repo::threads::update(db, thread, changes).await.unwrap();
}
