//! The event feed on PostgreSQL: an event appended on one store is announced
//! to a feed on another at its commit, never on rollback, and a feed whose
//! connection is killed reconnects and says `Resync`. SQLite has no feed.

use std::time::Duration;

use serde_json::json;
use xl_domain::{Email, Role, ThreadId};

use crate::db::Engine;
use crate::repo;
use crate::repo::threads::NewThreadRow;
use crate::testing::PostgresTestDb;
use crate::{EventFeed, FeedItem, Store, StoreConfig};
use sea_orm::{ConnectionTrait, Statement};

/// Long enough for a notification on loopback; a failure, not a skip, when
/// it passes.
const PROMPTLY: Duration = Duration::from_secs(5);

async fn next(feed: &mut EventFeed) -> FeedItem {
    tokio::time::timeout(PROMPTLY, feed.next())
        .await
        .expect("the feed said nothing in time")
}

async fn thread(store: &Store) -> ThreadId {
    let org = repo::orgs::find_or_create(store.writer(), "acme")
        .await
        .unwrap()
        .id;
    let owner = match repo::users::find_by_email(store.reader(), &email())
        .await
        .unwrap()
    {
        Some(user) => user.id,
        None => {
            repo::users::insert(
                store.writer(),
                repo::users::NewUserRow {
                    org_id: org,
                    subject: None,
                    email: email(),
                    name: "Ada".into(),
                    role: Role::User,
                    avatar_url: None,
                },
            )
            .await
            .unwrap()
            .id
        }
    };
    repo::threads::insert(
        store.writer(),
        NewThreadRow {
            org_id: org,
            owner_id: owner,
            title: None,
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

fn email() -> Email {
    Email::parse("ada@acme.io").unwrap()
}

async fn append(store: &Store, thread: ThreadId, commit: bool) {
    let tx = store.begin_write().await.unwrap();
    repo::events::append(&tx, thread, "test", None, None, json!({}))
        .await
        .unwrap();
    if commit {
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn sqlite_has_no_feed() {
    let store = Store::in_memory().await.unwrap();
    assert!(store.listen_events().await.unwrap().is_none());
}

#[tokio::test]
async fn events_committed_on_one_store_reach_a_feed_on_another() {
    let Some(db) = PostgresTestDb::create().await.unwrap() else {
        return;
    };
    let writer = Store::connect(&StoreConfig::new(db.url.clone()))
        .await
        .unwrap();
    writer.migrate_up(None).await.unwrap();
    let reader = Store::connect(&StoreConfig::new(db.url.clone()))
        .await
        .unwrap();
    let mut feed = reader.listen_events().await.unwrap().expect("a feed");
    let (open, other) = (thread(&writer).await, thread(&writer).await);

    // Announced at commit: a transaction still open says nothing while a
    // later one commits, and a rolled-back one never does.
    let pending = writer.begin_write().await.unwrap();
    repo::events::append(&pending, open, "test", None, None, json!({}))
        .await
        .unwrap();
    append(&writer, other, false).await;
    append(&writer, other, true).await;
    assert_eq!(
        next(&mut feed).await,
        FeedItem::Committed {
            thread: other,
            seq: 1
        }
    );
    pending.commit().await.unwrap();
    assert_eq!(
        next(&mut feed).await,
        FeedItem::Committed {
            thread: open,
            seq: 1
        }
    );

    // A killed connection: the feed listens again and says so, then goes on.
    let killed = writer
        .writer()
        .orm()
        .execute_raw(Statement::from_string(
            writer.writer().orm().get_database_backend(),
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        ))
        .await
        .unwrap();
    assert_eq!(killed.rows_affected(), 1, "one listening connection");
    assert_eq!(next(&mut feed).await, FeedItem::Resync);
    append(&writer, open, true).await;
    assert_eq!(
        next(&mut feed).await,
        FeedItem::Committed {
            thread: open,
            seq: 2
        }
    );

    drop(feed);
    reader.close().await.unwrap();
    writer.close().await.unwrap();
    db.drop_database().await.unwrap();
}
