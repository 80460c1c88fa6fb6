//! Two replicas on one PostgreSQL database: services over two stores, each
//! relaying the event feed to its hub. A follower on one sees what the other
//! commits at once (well before its 10 s recheck), in order, with no gap and
//! no duplicate. Skipped without `XL_TEST_POSTGRES_URL`, except under CI.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use xl_domain::events::{ThreadEvent, kind};
use xl_domain::messages::{MessageUpdate, NewMessage};
use xl_domain::reactions::ReactionName;
use xl_domain::threads::NewThread;
use xl_domain::{MessageId, Role, ThreadId};
use xl_services::assistant::ReplyMode;
use xl_services::events::EventStream;
use xl_services::{Services, ServicesConfig};
use xl_store::testing::PostgresTestDb;
use xl_store::{Store, StoreConfig, repo};

use crate::support::{actor, quiet_thread};

/// How long an event may take to cross from one replica to the other: far
/// below the follower's recheck, so only the feed can deliver in time.
const PROMPTLY: Duration = Duration::from_secs(2);

async fn replica(url: &str) -> Services {
    let store = Store::connect(&StoreConfig::new(url)).await.unwrap();
    let llm = Arc::new(xl_llm::EchoProvider::new(xl_llm::EchoConfig {
        pace: Duration::ZERO,
        models: Vec::new(),
    }));
    let config = ServicesConfig {
        default_model: "echo".into(),
        ..ServicesConfig::default()
    };
    Services::new(store, llm, config)
}

fn text(content: &str) -> NewMessage {
    NewMessage {
        content: Some(content.to_owned()),
        ..NewMessage::default()
    }
}

/// The next event, which must come promptly.
async fn next(follower: &mut EventStream) -> ThreadEvent {
    tokio::time::timeout(PROMPTLY, follower.next())
        .await
        .expect("the event did not cross promptly")
        .expect("the follower ended")
        .unwrap()
}

/// Every event up to the thread's newest in `on`'s log, then nothing more.
async fn up_to_last(follower: &mut EventStream, on: &Services, thread: ThreadId) -> Vec<i64> {
    let last = repo::events::last_seq(on.store.reader(), thread)
        .await
        .unwrap()
        .unwrap();
    let mut seqs = Vec::new();
    while seqs.last().is_none_or(|&seq| seq < last) {
        seqs.push(next(follower).await.seq);
    }
    seqs
}

/// What tells events apart.
fn identities(events: &[ThreadEvent]) -> Vec<(i64, &str, Option<MessageId>)> {
    events
        .iter()
        .map(|event| (event.seq, event.kind.as_str(), event.message_id))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_on_one_replica_sees_what_another_commits() {
    let Some(db) = PostgresTestDb::create().await.unwrap() else {
        return;
    };
    let a = replica(&db.url).await;
    a.store.migrate_up(None).await.unwrap();
    let b = replica(&db.url).await;
    let relays = (
        a.start_event_feed()
            .await
            .unwrap()
            .expect("a feed on PostgreSQL"),
        b.start_event_feed()
            .await
            .unwrap()
            .expect("a feed on PostgreSQL"),
    );
    let ada = actor(&a, "ada@acme.io", Role::User).await;
    let thread = quiet_thread(&a, &ada).await.id;
    let start = repo::events::last_seq(b.store.reader(), thread)
        .await
        .unwrap()
        .unwrap();
    let mut on_b = b.follow_thread(&ada, thread, start).await.unwrap();
    let mut on_a = a.follow_thread(&ada, thread, start).await.unwrap();

    // A post, a reaction and an edit on A, each seen on B as it commits.
    let posted = a.post_message(&ada, thread, text("hello")).await.unwrap();
    let created = next(&mut on_b).await;
    assert_eq!(
        (created.seq, created.kind.as_str(), created.message_id),
        (start + 1, kind::MESSAGE_CREATED, Some(posted.id))
    );
    let mut seen = vec![created];
    a.toggle_reaction(&ada, posted.id, ReactionName::parse("tada").unwrap())
        .await
        .unwrap();
    seen.push(next(&mut on_b).await);
    let edit = MessageUpdate {
        content: Some("hello, edited".into()),
        ..MessageUpdate::default()
    };
    a.edit_message(&ada, posted.id, edit).await.unwrap();
    seen.push(next(&mut on_b).await);
    let last = repo::events::last_seq(a.store.reader(), thread)
        .await
        .unwrap()
        .unwrap();
    while seen.last().is_some_and(|event| event.seq < last) {
        seen.push(next(&mut on_b).await);
    }
    let logged = repo::events::after(a.store.reader(), thread, start, None, 100)
        .await
        .unwrap();
    assert_eq!(seen, logged, "the log, in order, no gap, no duplicate");
    assert_eq!(
        seen.iter().map(|event| event.seq).collect::<Vec<_>>(),
        (start + 1..=last).collect::<Vec<_>>()
    );
    let kinds: Vec<&str> = seen.iter().map(|event| event.kind.as_str()).collect();
    assert!(kinds.contains(&kind::REACTION_ADDED), "{kinds:?}");
    assert!(kinds.contains(&kind::MESSAGE_UPDATED), "{kinds:?}");

    // A's own follower saw the same (taken from A's hub, so compared by
    // what they say rather than their clock), its own events coming back
    // through the feed costing no duplicate either.
    let mut on_a_seen = Vec::new();
    for _ in &seen {
        on_a_seen.push(next(&mut on_a).await);
    }
    assert_eq!(identities(&on_a_seen), identities(&logged));

    // A streamed reply on B, many events committed in quick succession:
    // A's follower gets every one, once, in order.
    let chatty = b
        .create_thread(&ada, NewThread::default())
        .await
        .unwrap()
        .id;
    let mut chatty_on_a = a.follow_thread(&ada, chatty, 0).await.unwrap();
    b.post_message_with_reply(
        &ada,
        chatty,
        text("one two three four five"),
        ReplyMode::Sync,
    )
    .await
    .unwrap();
    let seqs = up_to_last(&mut chatty_on_a, &b, chatty).await;
    assert_eq!(seqs, (1..=*seqs.last().unwrap()).collect::<Vec<_>>());

    // Nothing further arrives, on either replica.
    for follower in [&mut on_b, &mut on_a, &mut chatty_on_a] {
        let extra = tokio::time::timeout(Duration::from_millis(300), follower.next()).await;
        assert!(extra.is_err(), "unexpected event: {extra:?}");
    }

    drop((on_a, on_b, chatty_on_a, relays));
    a.store.close().await.unwrap();
    b.store.close().await.unwrap();
    db.drop_database().await.unwrap();
}

/// Followers that started before the feed listened are woken to read their
/// log when it starts (the path a reconnected feed takes, too).
#[tokio::test]
async fn starting_the_feed_resyncs_followers_already_open() {
    let Some(db) = PostgresTestDb::create().await.unwrap() else {
        return;
    };
    let a = replica(&db.url).await;
    a.store.migrate_up(None).await.unwrap();
    let b = replica(&db.url).await;
    let ada = actor(&a, "ada@acme.io", Role::User).await;
    let thread = quiet_thread(&a, &ada).await.id;
    let start = repo::events::last_seq(b.store.reader(), thread)
        .await
        .unwrap()
        .unwrap();
    let mut on_b = b.follow_thread(&ada, thread, start).await.unwrap();

    // B listens to nothing yet: the post's announcement is lost to it.
    a.post_message(&ada, thread, text("unheard")).await.unwrap();
    let relay = b.start_event_feed().await.unwrap().expect("a feed");
    let event = next(&mut on_b).await;
    assert_eq!(
        (event.seq, event.kind.as_str()),
        (start + 1, kind::MESSAGE_CREATED)
    );

    drop((on_b, relay));
    a.store.close().await.unwrap();
    b.store.close().await.unwrap();
    db.drop_database().await.unwrap();
}

/// A replica whose rate limits are kept in the database.
async fn limited_replica(url: &str, limits: xl_services::limits::LimitsConfig) -> Services {
    let store = Store::connect(&StoreConfig::new(url)).await.unwrap();
    let config = ServicesConfig {
        default_model: "echo".into(),
        limits,
        ..ServicesConfig::default()
    };
    Services::new(store, crate::support::echo(), config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_rate_limits_are_one_bucket_across_replicas() {
    use xl_services::limits::{LimitsConfig, PerMinute, RequestClass};
    let Some(db) = PostgresTestDb::create().await.unwrap() else {
        return;
    };
    let limits = LimitsConfig {
        user: PerMinute {
            writes: 6,
            ..PerMinute::OFF
        },
        org: PerMinute {
            writes: 9,
            ..PerMinute::OFF
        },
        shared: true,
        ..LimitsConfig::default()
    };
    let a = limited_replica(&db.url, limits).await;
    a.store.migrate_up(None).await.unwrap();
    let b = limited_replica(&db.url, limits).await;
    let ada = actor(&a, "ada@acme.io", Role::User).await;
    let bob = actor(&a, "bob@acme.io", Role::User).await;
    let eve = actor(&a, "eve@other.test", Role::User).await;

    // Ada alternates between the replicas: six writes in all, not six each.
    for n in 0..6 {
        let on = if n % 2 == 0 { &a } else { &b };
        let taken = on.admit_request(&ada, RequestClass::Write).await.unwrap();
        let user = taken.iter().find(|s| s.policy == "user-writes").unwrap();
        assert_eq!(user.remaining, 5 - n, "write {n}");
    }
    let refused = b
        .admit_request(&ada, RequestClass::Write)
        .await
        .unwrap_err();
    assert_eq!(refused.bucket.policy, "user-writes");
    assert!(refused.retry_after > Duration::ZERO);
    assert!(
        refused.retry_after <= Duration::from_secs(10),
        "one unit is 10 s"
    );
    // Reads are another bucket (here unlimited).
    assert!(a.admit_request(&ada, RequestClass::Read).await.is_ok());

    // Bob shares the org's bucket, which Ada's six writes took from.
    for _ in 0..3 {
        b.admit_request(&bob, RequestClass::Write).await.unwrap();
    }
    let refused = a
        .admit_request(&bob, RequestClass::Write)
        .await
        .unwrap_err();
    assert_eq!(refused.bucket.policy, "org-writes");
    // Another org is untouched.
    assert!(a.admit_request(&eve, RequestClass::Write).await.is_ok());
    a.store.close().await.unwrap();
    b.store.close().await.unwrap();
    db.drop_database().await.unwrap();
}
