//! Full-text search, with every scenario run unchanged on SQLite (FTS5) and
//! on PostgreSQL (`tsvector`): ranking, block text, filters, pagination,
//! tombstones and deleted threads, tenancy, and hostile query text.

use std::collections::HashSet;
use std::time::Duration;

use crate::db::Engine;
use crate::repo;
use crate::repo::messages::NewMessageRow;
use crate::repo::threads::NewThreadRow;
use crate::testing::PostgresTestDb;
use crate::{Backend, Store, StoreConfig};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use uuid::Uuid;
use xl_domain::search::{HitKind, SearchHit, SearchPage, SearchQuery, SearchText};
use xl_domain::threads::MemberRole;
use xl_domain::{
    Email, MessageId, MessageRole, MessageStatus, OrgId, Page, Role, ThreadId, UserId,
};

/// Runs each scenario as one test on SQLite (a file in a temporary
/// directory, so reads go through the read pool) and one on PostgreSQL
/// (a scratch database; skipped when no server is configured).
macro_rules! on_sqlite_and_postgres {
    ($($scenario:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}", dir.path().join("xl.db").display());
                    let store = crate::Store::connect(&crate::StoreConfig::new(url))
                        .await
                        .unwrap();
                    store.migrate_up(None).await.unwrap();
                    super::$scenario(&store).await;
                    store.close().await.unwrap();
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(db) = super::PostgresTestDb::create().await.unwrap() else {
                        return;
                    };
                    let store = super::Store::connect(&super::StoreConfig::new(db.url.clone()))
                        .await
                        .unwrap();
                    store.migrate_up(None).await.unwrap();
                    super::$scenario(&store).await;
                    store.close().await.unwrap();
                    db.drop_database().await.unwrap();
                }
            )+
        }
    };
}

on_sqlite_and_postgres!(
    repeated_terms_and_titles_rank_above_passing_mentions,
    block_text_and_edits_are_found,
    filters_narrow_the_results,
    pages_return_every_hit_once_in_rank_order,
    tombstoned_messages_and_deleted_threads_are_not_found,
    other_orgs_and_non_members_never_see_hits,
    hostile_queries_are_plain_text,
    a_streamed_reply_is_found_once_it_ends,
);

// --- Seeding, through the repositories ---

async fn org(store: &Store, slug: &str) -> OrgId {
    repo::orgs::find_or_create(store.writer(), slug)
        .await
        .unwrap()
        .id
}

async fn user(store: &Store, org: OrgId, email: &str, role: Role) -> UserId {
    repo::users::insert(
        store.writer(),
        repo::users::NewUserRow {
            org_id: org,
            subject: None,
            email: Email::parse(email).unwrap(),
            name: email.split('@').next().unwrap().to_owned(),
            role,
            avatar_url: None,
        },
    )
    .await
    .unwrap()
    .id
}

async fn thread(
    store: &Store,
    org: OrgId,
    owner: UserId,
    title: &str,
    description: Option<&str>,
) -> ThreadId {
    repo::threads::insert(
        store.writer(),
        NewThreadRow {
            org_id: org,
            owner_id: owner,
            title: Some(title.to_owned()),
            description: description.map(str::to_owned),
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

async fn post_as(
    store: &Store,
    org: OrgId,
    thread: ThreadId,
    role: MessageRole,
    content: &str,
    blocks: Option<Value>,
) -> MessageId {
    repo::messages::insert(
        store.writer(),
        NewMessageRow {
            id: MessageId::new(),
            thread_id: thread,
            org_id: org,
            parent_id: None,
            user_id: None,
            role,
            content: content.to_owned(),
            blocks,
            metadata: None,
            status: MessageStatus::Complete,
            model: None,
            attachments: Vec::new(),
            tokens: None,
        },
    )
    .await
    .unwrap()
    .id
}

async fn post(store: &Store, org: OrgId, thread: ThreadId, content: &str) -> MessageId {
    post_as(store, org, thread, MessageRole::User, content, None).await
}

/// Unrelated messages and threads. bm25 gives a term found in half the
/// documents or more no weight at all, so every corpus needs some.
async fn noise(store: &Store, org: OrgId, owner: UserId) {
    let topics = [
        "lunch", "coffee", "holidays", "parking", "printer", "plants",
    ];
    let misc = thread(store, org, owner, "Water cooler", None).await;
    for (n, topic) in topics.iter().enumerate() {
        post(
            store,
            org,
            misc,
            &format!("note {n} about the {topic} rota for next week"),
        )
        .await;
        thread(store, org, owner, &format!("Team {topic}"), None).await;
    }
}

// --- Searching ---

fn query(text: &str) -> SearchQuery {
    SearchQuery::new(SearchText::parse(text).unwrap())
}

async fn page(
    store: &Store,
    org: OrgId,
    user: UserId,
    query: &SearchQuery,
    limit: u32,
    after: Option<&Page<SearchHit>>,
) -> Page<SearchHit> {
    let after = after.map(|previous| {
        let cursor = previous.next_cursor.as_deref().unwrap();
        xl_domain::search::SearchPosition::from_cursor(&xl_domain::Cursor::decode(cursor).unwrap())
            .unwrap()
    });
    repo::search::search(
        store.reader(),
        org,
        user,
        query,
        &SearchPage { limit, after },
    )
    .await
    .unwrap()
}

async fn find(store: &Store, org: OrgId, user: UserId, query: &SearchQuery) -> Vec<SearchHit> {
    let page = page(store, org, user, query, 100, None).await;
    assert!(!page.has_more);
    page.items
}

async fn find_text(store: &Store, org: OrgId, user: UserId, text: &str) -> Vec<SearchHit> {
    find(store, org, user, &query(text)).await
}

fn message_ids(hits: &[SearchHit]) -> Vec<MessageId> {
    hits.iter().filter_map(|hit| hit.message_id).collect()
}

fn thread_hits(hits: &[SearchHit]) -> Vec<ThreadId> {
    hits.iter()
        .filter(|hit| hit.kind == HitKind::Thread)
        .map(|hit| hit.thread_id)
        .collect()
}

/// How many indexed messages match `word`, straight from the index (not
/// through the search's own filters on deleted rows).
async fn indexed_matches(store: &Store, word: &str) -> i64 {
    let sql = match store.backend() {
        Backend::Sqlite => {
            format!("SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH '\"{word}\"'")
        }
        Backend::Postgres => format!(
            "SELECT count(*) AS n FROM messages \
             WHERE search_vector @@ plainto_tsquery('english', '{word}')"
        ),
    };
    let row = store
        .reader()
        .orm()
        .query_one_raw(Statement::from_string(
            store.reader().orm().get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

// --- Scenarios ---

async fn repeated_terms_and_titles_rank_above_passing_mentions(store: &Store) {
    let acme = org(store, "acme").await;
    let ada = user(store, acme, "ada@acme.io", Role::User).await;
    noise(store, acme, ada).await;
    let launch = thread(store, acme, ada, "Rocket launch checklist", None).await;
    let chat = thread(store, acme, ada, "General chat", None).await;
    let passing = post(
        store,
        acme,
        chat,
        "We covered lunch, the budget, hiring, the office move, the holiday rota, \
         the new printer, and briefly a rocket, then went back to the budget and lunch",
    )
    .await;
    let focused = post(
        store,
        acme,
        chat,
        "Rocket status: the rocket is fuelled, the rocket is on the pad",
    )
    .await;

    let hits = find_text(store, acme, ada, "rocket").await;
    assert_eq!(hits.len(), 3, "{hits:#?}");
    assert_eq!(
        hits[0].kind,
        HitKind::Thread,
        "the title ranks first: {hits:#?}"
    );
    assert_eq!(hits[0].thread_id, launch);
    assert_eq!(
        hits[0].thread_title.as_deref(),
        Some("Rocket launch checklist")
    );
    assert!(
        hits[0].snippet.contains("<mark>Rocket</mark>"),
        "{}",
        hits[0].snippet
    );
    assert_eq!(hits[1].message_id, Some(focused), "{hits:#?}");
    assert_eq!(hits[2].message_id, Some(passing), "{hits:#?}");
    assert!(hits[0].rank > hits[1].rank && hits[1].rank > hits[2].rank);

    let message = &hits[1];
    assert_eq!(message.kind, HitKind::Message);
    assert_eq!(message.thread_id, chat);
    assert_eq!(message.role, Some(MessageRole::User));
    assert_eq!(message.thread_title.as_deref(), Some("General chat"));
    assert!(
        message.snippet.contains("<mark>rocket</mark>"),
        "{}",
        message.snippet
    );

    // Every word must appear; stemming lets "rockets" find "rocket".
    assert_eq!(
        message_ids(&find_text(store, acme, ada, "rocket fuelled").await),
        vec![focused]
    );
    assert_eq!(
        find_text(store, acme, ada, "ROCKETS").await.len(),
        3,
        "case and plural do not matter"
    );
    assert!(find_text(store, acme, ada, "rocket zebra").await.is_empty());
}

async fn block_text_and_edits_are_found(store: &Store) {
    let acme = org(store, "acme").await;
    let ada = user(store, acme, "ada@acme.io", Role::User).await;
    noise(store, acme, ada).await;
    let reports = thread(store, acme, ada, "Reports", None).await;
    let blocks = json!([
        { "type": "section", "text": { "type": "mrkdwn", "text": "The quarterly *zeppelin* report" } },
        { "type": "context", "elements": [{ "type": "plain_text", "text": "Filed by the airship desk" }] },
        { "type": "rich_text", "elements": [{
            "type": "rich_text_section",
            "elements": [{ "type": "text", "text": "See <the> appendix & notes" }]
        }] }
    ]);
    let with_blocks = post_as(
        store,
        acme,
        reports,
        MessageRole::Assistant,
        "Summary attached",
        Some(blocks),
    )
    .await;

    for word in ["zeppelin", "airship", "appendix", "summary"] {
        let hits = find_text(store, acme, ada, word).await;
        assert_eq!(message_ids(&hits), vec![with_blocks], "{word}");
    }
    let hit = &find_text(store, acme, ada, "zeppelin").await[0];
    assert_eq!(hit.role, Some(MessageRole::Assistant));
    assert!(
        hit.snippet.contains("<mark>zeppelin</mark>"),
        "{}",
        hit.snippet
    );
    // Stored text is escaped in the snippet; only the marks are markup.
    let hit = &find_text(store, acme, ada, "appendix").await[0];
    assert!(
        hit.snippet.contains("<mark>appendix</mark> &amp; notes"),
        "{}",
        hit.snippet
    );
    assert!(!hit.snippet.contains("<the>"), "{}", hit.snippet);
    if store.backend() == Backend::Sqlite {
        // PostgreSQL's headline parser drops tag-like text altogether.
        assert!(hit.snippet.contains("&lt;the&gt;"), "{}", hit.snippet);
    }

    // Words type "text" values only: keys and block types are not indexed.
    assert!(find_text(store, acme, ada, "mrkdwn").await.is_empty());

    // An edit re-indexes: the new words match, the replaced ones do not.
    repo::messages::edit(
        store.writer(),
        with_blocks,
        ada,
        Some("Blimp inventory".to_owned()),
        Some(None),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        message_ids(&find_text(store, acme, ada, "blimp").await),
        vec![with_blocks]
    );
    assert!(find_text(store, acme, ada, "zeppelin").await.is_empty());
    assert!(find_text(store, acme, ada, "summary").await.is_empty());

    // A thread's description is searchable too, and a rename re-indexes.
    let described = thread(
        store,
        acme,
        ada,
        "Planning",
        Some("Where the hovercraft budget is decided"),
    )
    .await;
    assert_eq!(
        thread_hits(&find_text(store, acme, ada, "hovercraft").await),
        vec![described]
    );
    repo::threads::update(
        store.writer(),
        described,
        repo::threads::ThreadChanges {
            title: Some(Some("Gondola planning".to_owned())),
            description: Some(None),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(find_text(store, acme, ada, "hovercraft").await.is_empty());
    assert_eq!(
        thread_hits(&find_text(store, acme, ada, "gondola").await),
        vec![described]
    );
}

async fn filters_narrow_the_results(store: &Store) {
    let acme = org(store, "acme").await;
    let ada = user(store, acme, "ada@acme.io", Role::User).await;
    noise(store, acme, ada).await;
    let before = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let first = thread(store, acme, ada, "Budget review", None).await;
    let first_user = post(store, acme, first, "the budget is tight").await;
    let first_assistant = post_as(
        store,
        acme,
        first,
        MessageRole::Assistant,
        "I can summarise the budget",
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let middle: DateTime<Utc> = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = thread(store, acme, ada, "Offsite", None).await;
    let second_user = post(store, acme, second, "offsite budget approved").await;
    let second_system = post_as(
        store,
        acme,
        second,
        MessageRole::System,
        "Remember the budget policy",
        None,
    )
    .await;

    let all = find_text(store, acme, ada, "budget").await;
    assert_eq!(all.len(), 5, "four messages and one title: {all:#?}");

    let set = |hits: Vec<SearchHit>| hits.iter().map(SearchHit::id).collect::<HashSet<Uuid>>();
    let ids = |messages: &[MessageId], threads: &[ThreadId]| {
        messages
            .iter()
            .map(|m| m.as_uuid())
            .chain(threads.iter().map(|t| t.as_uuid()))
            .collect::<HashSet<Uuid>>()
    };

    let in_first = SearchQuery {
        thread_id: Some(first),
        ..query("budget")
    };
    assert_eq!(
        set(find(store, acme, ada, &in_first).await),
        ids(&[first_user, first_assistant], &[first]),
        "a thread filter keeps that thread's title and messages"
    );

    let assistant = SearchQuery {
        role: Some(MessageRole::Assistant),
        ..query("budget")
    };
    assert_eq!(
        set(find(store, acme, ada, &assistant).await),
        ids(&[first_assistant], &[]),
        "a role filter keeps messages of that role, and no threads"
    );
    let system_in_second = SearchQuery {
        role: Some(MessageRole::System),
        thread_id: Some(second),
        ..query("budget")
    };
    assert_eq!(
        set(find(store, acme, ada, &system_in_second).await),
        ids(&[second_system], &[])
    );
    let system_in_first = SearchQuery {
        thread_id: Some(first),
        ..system_in_second.clone()
    };
    assert!(find(store, acme, ada, &system_in_first).await.is_empty());

    let later = SearchQuery {
        from: Some(middle),
        ..query("budget")
    };
    assert_eq!(
        set(find(store, acme, ada, &later).await),
        ids(&[second_user, second_system], &[])
    );
    let earlier = SearchQuery {
        from: Some(before),
        to: Some(middle),
        ..query("budget")
    };
    assert_eq!(
        set(find(store, acme, ada, &earlier).await),
        ids(&[first_user, first_assistant], &[first])
    );
    let too_early = SearchQuery {
        to: Some(before),
        ..query("budget")
    };
    assert!(find(store, acme, ada, &too_early).await.is_empty());
}

async fn pages_return_every_hit_once_in_rank_order(store: &Store) {
    let acme = org(store, "acme").await;
    let ada = user(store, acme, "ada@acme.io", Role::User).await;
    noise(store, acme, ada).await;
    let standup = thread(store, acme, ada, "Standup notes", None).await;
    // Three shapes of text, so many hits tie on rank and the id must break
    // the ties for pages to neither repeat nor skip.
    let mut posted = HashSet::new();
    for n in 0..23 {
        let text = match n % 3 {
            0 => "standup standup standup".to_owned(),
            1 => "daily standup moved".to_owned(),
            _ => format!("after the standup we reviewed ticket {n} and the backlog"),
        };
        posted.insert(post(store, acme, standup, &text).await.as_uuid());
    }
    posted.insert(standup.as_uuid());

    let whole = find_text(store, acme, ada, "standup").await;
    assert_eq!(whole.len(), 24);

    let search = query("standup");
    let mut seen = Vec::new();
    let mut previous: Option<Page<SearchHit>> = None;
    loop {
        let current = page(store, acme, ada, &search, 5, previous.as_ref()).await;
        assert!(current.items.len() <= 5);
        seen.extend(current.items.iter().cloned());
        if !current.has_more {
            assert_eq!(current.next_cursor, None);
            break;
        }
        assert_eq!(current.items.len(), 5);
        previous = Some(current);
    }
    let ids: Vec<Uuid> = seen.iter().map(SearchHit::id).collect();
    assert_eq!(ids.len(), 24, "every hit once");
    assert_eq!(ids.iter().copied().collect::<HashSet<_>>(), posted);
    assert_eq!(
        ids,
        whole.iter().map(SearchHit::id).collect::<Vec<_>>(),
        "pages follow the order of one big page"
    );
    for pair in seen.windows(2) {
        assert!(
            pair[0].rank > pair[1].rank
                || (pair[0].rank == pair[1].rank && pair[0].id() < pair[1].id()),
            "best first, then by id: {pair:#?}"
        );
    }
}

async fn tombstoned_messages_and_deleted_threads_are_not_found(store: &Store) {
    let acme = org(store, "acme").await;
    let ada = user(store, acme, "ada@acme.io", Role::User).await;
    noise(store, acme, ada).await;
    let kept_thread = thread(store, acme, ada, "Walrus facts", None).await;
    let kept = post(store, acme, kept_thread, "the walrus sleeps in water").await;
    let removed = post(store, acme, kept_thread, "a walrus can weigh a ton").await;
    assert_eq!(indexed_matches(store, "walrus").await, 2);

    repo::messages::tombstone(store.writer(), removed)
        .await
        .unwrap();
    let hits = find_text(store, acme, ada, "walrus").await;
    assert_eq!(message_ids(&hits), vec![kept]);
    assert_eq!(
        indexed_matches(store, "walrus").await,
        1,
        "the tombstone left the index, not just the results"
    );
    assert!(find_text(store, acme, ada, "ton").await.is_empty());

    // A deleted thread hides its title and messages until it is restored.
    let doomed = thread(store, acme, ada, "Narwhal sightings", None).await;
    let narwhal = post(store, acme, doomed, "a narwhal near the pier").await;
    assert_eq!(find_text(store, acme, ada, "narwhal").await.len(), 2);
    repo::threads::set_deleted(store.writer(), doomed, Some(Utc::now()))
        .await
        .unwrap();
    assert!(find_text(store, acme, ada, "narwhal").await.is_empty());
    let pinned = SearchQuery {
        thread_id: Some(doomed),
        ..query("narwhal")
    };
    assert!(find(store, acme, ada, &pinned).await.is_empty());
    repo::threads::set_deleted(store.writer(), doomed, None)
        .await
        .unwrap();
    let back = find_text(store, acme, ada, "narwhal").await;
    assert_eq!(message_ids(&back), vec![narwhal]);
    assert_eq!(thread_hits(&back), vec![doomed]);

    // Purging removes the rows, and with them their index entries.
    repo::threads::set_deleted(store.writer(), doomed, Some(Utc::now()))
        .await
        .unwrap();
    let purged = repo::threads::purge_deleted_before(
        store.writer(),
        Utc::now() + chrono::TimeDelta::seconds(1),
    )
    .await
    .unwrap();
    assert_eq!(purged, 1);
    assert_eq!(indexed_matches(store, "narwhal").await, 0);
    assert_eq!(
        message_ids(&find_text(store, acme, ada, "walrus").await),
        vec![kept]
    );
}

async fn other_orgs_and_non_members_never_see_hits(store: &Store) {
    let acme = org(store, "acme").await;
    let ada = user(store, acme, "ada@acme.io", Role::User).await;
    // An administrator of the org who is not a member of the thread.
    let bob = user(store, acme, "bob@acme.io", Role::Admin).await;
    noise(store, acme, ada).await;
    let globex = org(store, "globex").await;
    let carol = user(store, globex, "carol@globex.io", Role::Admin).await;
    noise(store, globex, carol).await;

    let acme_thread = thread(store, acme, ada, "Secret plans", None).await;
    let acme_message = post(store, acme, acme_thread, "the secret ingredient is paprika").await;
    let globex_thread = thread(store, globex, carol, "Secret recipes", None).await;
    let globex_message = post(
        store,
        globex,
        globex_thread,
        "our secret ingredient is paprika",
    )
    .await;

    let ada_hits = find_text(store, acme, ada, "secret paprika").await;
    assert_eq!(message_ids(&ada_hits), vec![acme_message]);
    let carol_hits = find_text(store, globex, carol, "secret paprika").await;
    assert_eq!(message_ids(&carol_hits), vec![globex_message]);

    assert!(
        find_text(store, acme, bob, "secret").await.is_empty(),
        "being an org admin is not membership"
    );
    // A user of one org asking with another org's thread, or in another org.
    let foreign = SearchQuery {
        thread_id: Some(globex_thread),
        ..query("secret")
    };
    assert!(find(store, acme, ada, &foreign).await.is_empty());
    assert!(find_text(store, globex, ada, "secret").await.is_empty());
    assert!(find_text(store, acme, carol, "secret").await.is_empty());

    repo::threads::add_member(
        store.writer(),
        acme_thread,
        bob,
        MemberRole::Member,
        Some(ada),
    )
    .await
    .unwrap();
    let bob_hits = find_text(store, acme, bob, "secret").await;
    assert_eq!(message_ids(&bob_hits), vec![acme_message]);
    assert_eq!(thread_hits(&bob_hits), vec![acme_thread]);
    repo::threads::remove_member(store.writer(), acme_thread, bob)
        .await
        .unwrap();
    assert!(find_text(store, acme, bob, "secret").await.is_empty());
}

async fn hostile_queries_are_plain_text(store: &Store) {
    let acme = org(store, "acme").await;
    let ada = user(store, acme, "ada@acme.io", Role::User).await;
    noise(store, acme, ada).await;
    let syntax = thread(store, acme, ada, "Query syntax", None).await;
    let operators = post(
        store,
        acme,
        syntax,
        "operators NEAR the col:val pair AND OR NOT stay words",
    )
    .await;
    post(store, acme, syntax, "Café crème in Zürich, 日本語 text").await;

    for text in [
        "\"",
        "\"\"",
        "\"unterminated",
        "AND OR",
        "NOT",
        "*",
        "a*",
        "^start",
        "-minus",
        "col:val",
        "body:anything",
        "{col1 col2}: x",
        "NEAR(",
        "NEAR(a b, 2)",
        "(((",
        "'; DROP TABLE messages; --",
        "\\",
        "%_%",
        "&:*|!<->",
        "café",
        "日本語",
        "😀",
        "\u{200b}",
        "\u{E000}mark\u{E001}",
        "Ⅻ ß İstanbul",
    ] {
        let search = SearchQuery::new(SearchText::parse(text).unwrap());
        let result = repo::search::search(
            store.reader(),
            acme,
            ada,
            &search,
            &SearchPage {
                limit: 20,
                after: None,
            },
        )
        .await;
        assert!(result.is_ok(), "{text:?}: {result:?}");
    }

    // Operator words and column syntax are searched as the words they are.
    for text in ["NEAR(", "col:val", "\"operators\" NOT"] {
        let hits = find_text(store, acme, ada, text).await;
        assert_eq!(message_ids(&hits), vec![operators], "{text:?}");
    }
    let and_or = message_ids(&find_text(store, acme, ada, "AND OR").await);
    match store.backend() {
        Backend::Sqlite => assert_eq!(and_or, vec![operators]),
        // English stop words are not indexed, so a query of only stop words
        // finds nothing (and is still not an error).
        Backend::Postgres => assert!(and_or.is_empty()),
    }
    // Non-ASCII words match.
    assert_eq!(find_text(store, acme, ada, "Zürich").await.len(), 1);
    assert_eq!(find_text(store, acme, ada, "crème").await.len(), 1);
    if store.backend() == Backend::Sqlite {
        // FTS5 folds diacritics; PostgreSQL's `english` configuration does not.
        assert_eq!(find_text(store, acme, ada, "zurich").await.len(), 1);
    }
    // Nothing was dropped along the way.
    assert_eq!(find_text(store, acme, ada, "operators").await.len(), 1);
}

/// A reply is indexed when it ends (SQLite skips the rows still streaming,
/// so a growing reply is not re-indexed at every delta), with all its text.
async fn a_streamed_reply_is_found_once_it_ends(store: &Store) {
    let acme = org(store, "acme").await;
    let ada = user(store, acme, "ada@acme.io", Role::User).await;
    noise(store, acme, ada).await;
    let talk = thread(store, acme, ada, "Talk", None).await;
    let reply = repo::messages::insert(
        store.writer(),
        NewMessageRow {
            id: MessageId::new(),
            thread_id: talk,
            org_id: acme,
            parent_id: None,
            user_id: None,
            role: MessageRole::Assistant,
            content: String::new(),
            blocks: None,
            metadata: None,
            status: MessageStatus::Streaming,
            model: None,
            attachments: Vec::new(),
            tokens: None,
        },
    )
    .await
    .unwrap()
    .id;
    for piece in ["The ", "okapi ", "is shy"] {
        assert!(
            repo::replies::append_text(store.writer(), reply, piece)
                .await
                .unwrap()
        );
    }
    let finished = repo::replies::FinishedReply {
        status: MessageStatus::Complete,
        error: None,
        metadata: None,
        token_count: None,
    };
    assert!(
        repo::replies::finish(store.writer(), reply, finished)
            .await
            .unwrap()
    );
    for word in ["okapi", "shy"] {
        let hits = find_text(store, acme, ada, word).await;
        assert_eq!(message_ids(&hits), [reply], "{word}");
    }
}
