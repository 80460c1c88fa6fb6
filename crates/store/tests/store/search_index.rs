//! The search index follows what commits: a message is found once its
//! transaction commits, never when it rolls back, and an edit or a delete
//! moves the index with it (on SQLite the index is written at each commit,
//! for the whole group; on PostgreSQL it is a generated column).

use xl_domain::search::{SearchPage, SearchQuery, SearchText};
use xl_domain::{MessageId, MessageRole, MessageStatus, OrgId, ThreadId, UserId};
use xl_store::{Conn, Store, repo};

use crate::replies::thread;

on_both_engines!(
    index_on_sqlite,
    index_on_postgres,
    the_index_holds_what_committed
);

async fn say<C: Conn>(db: &C, org: OrgId, user: UserId, thread: ThreadId, text: &str) -> MessageId {
    let row = crate::message_row(
        org,
        thread,
        Some(user),
        MessageRole::User,
        MessageStatus::Complete,
        text,
    );
    repo::messages::insert(db, row).await.unwrap().id
}

async fn found(
    store: &Store,
    org: OrgId,
    user: UserId,
    thread: ThreadId,
    word: &str,
) -> Vec<MessageId> {
    let mut query = SearchQuery::new(SearchText::parse(word).unwrap());
    query.thread_id = Some(thread);
    let page = SearchPage {
        limit: 20,
        after: None,
    };
    let mut ids: Vec<MessageId> = repo::search::search(store.reader(), org, user, &query, &page)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|hit| hit.message_id)
        .collect();
    ids.sort();
    ids
}

async fn the_index_holds_what_committed(store: &Store) {
    let (org, user) = crate::ada(store).await;
    let here = thread(store, org, user, "zoo").await;

    // Two messages in one transaction, committed: both found.
    let tx = store.begin_write().await.unwrap();
    let walrus = say(&tx, org, user, here, "a walrus on the ice").await;
    let seal = say(&tx, org, user, here, "a seal beside the walrus").await;
    tx.commit().await.unwrap();
    let mut both = vec![walrus, seal];
    both.sort();
    assert_eq!(found(store, org, user, here, "walrus").await, both);

    // A transaction that rolls back leaves nothing in the index, and the
    // next commit does not pick it up either.
    let tx = store.begin_write().await.unwrap();
    say(&tx, org, user, here, "a narwhal that never was").await;
    drop(tx);
    let puffin = say(store.writer(), org, user, here, "a puffin").await;
    assert!(found(store, org, user, here, "narwhal").await.is_empty());
    assert_eq!(found(store, org, user, here, "puffin").await, [puffin]);

    // An edit re-indexes the message: the new word is found, the old is not.
    repo::messages::edit(
        store.writer(),
        walrus,
        user,
        Some("an otter on the ice".into()),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(found(store, org, user, here, "otter").await, [walrus]);
    assert_eq!(found(store, org, user, here, "walrus").await, [seal]);

    // A tombstone leaves the index too.
    repo::messages::tombstone(store.writer(), seal)
        .await
        .unwrap();
    assert!(found(store, org, user, here, "seal").await.is_empty());
    assert_eq!(found(store, org, user, here, "ice").await, [walrus]);
}
