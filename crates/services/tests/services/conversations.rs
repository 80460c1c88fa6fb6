//! Threads and messages: the rules, without HTTP.

use xl_domain::messages::{Branch, MessageUpdate, NewMessage};
use xl_domain::threads::{NewThread, ThreadFilter, ThreadUpdate};
use xl_domain::{MessageRole, PageRequest, Role};
use xl_services::ServiceError;
use xl_services::assistant::ReplyMode;
use xl_services::idempotency::Retry;

use crate::support::{actor, quiet_thread, services};

fn text(content: &str) -> NewMessage {
    NewMessage {
        content: Some(content.to_owned()),
        ..NewMessage::default()
    }
}

#[tokio::test]
async fn posting_moves_the_current_leaf_and_branches_stay_apart() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = services
        .create_thread(&ada, NewThread::default())
        .await
        .unwrap();
    let one = services
        .post_message(&ada, thread.id, text("one"))
        .await
        .unwrap();
    let two = services
        .post_message(&ada, thread.id, text("two"))
        .await
        .unwrap();
    assert_eq!(two.parent_id, Some(one.id));
    let alt = services
        .post_message(
            &ada,
            thread.id,
            NewMessage {
                parent_id: Some(one.id),
                ..text("alt")
            },
        )
        .await
        .unwrap();
    let thread = services.get_thread(&ada, thread.id).await.unwrap();
    assert_eq!(thread.current_leaf_id, Some(alt.id));
    assert_eq!(
        thread.title.as_deref(),
        Some("one"),
        "auto-titled from the first user message"
    );
    assert_eq!(thread.message_count, 3);

    let page = PageRequest::default();
    let current = services
        .list_messages(&ada, thread.id, Branch::Current, &page)
        .await
        .unwrap();
    assert_eq!(
        current
            .items
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        vec!["alt", "one"]
    );
    let all = services
        .list_messages(&ada, thread.id, Branch::All, &page)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3);
}

#[tokio::test]
async fn access_follows_membership_org_and_role() {
    let services = services().await;
    let owner = actor(&services, "owner@acme.io", Role::User).await;
    let member = actor(&services, "member@acme.io", Role::User).await;
    let stranger = actor(&services, "stranger@acme.io", Role::User).await;
    let admin = actor(&services, "admin@acme.io", Role::Admin).await;
    let rival_admin = actor(&services, "admin@globex.com", Role::Admin).await;
    let thread = services
        .create_thread(&owner, NewThread::default())
        .await
        .unwrap();
    services
        .add_member(&owner, thread.id, member.user_id)
        .await
        .unwrap();
    let message = services
        .post_message(&owner, thread.id, text("hi"))
        .await
        .unwrap();

    assert!(services.get_thread(&member, thread.id).await.is_ok());
    assert!(
        services
            .post_message(&member, thread.id, text("me too"))
            .await
            .is_ok()
    );
    assert!(
        services.get_thread(&admin, thread.id).await.is_ok(),
        "org admins see every thread of the org"
    );
    for outsider in [&stranger, &rival_admin] {
        assert!(matches!(
            services.get_thread(outsider, thread.id).await,
            Err(ServiceError::NotFound(_))
        ));
        assert!(matches!(
            services.get_message(outsider, message.id).await,
            Err(ServiceError::NotFound(_))
        ));
        assert!(matches!(
            services.post_message(outsider, thread.id, text("x")).await,
            Err(ServiceError::NotFound(_))
        ));
    }
    // Members write but do not manage; the org admin manages.
    let rename = ThreadUpdate {
        title: Some(Some("new".into())),
        ..ThreadUpdate::default()
    };
    assert!(matches!(
        services
            .update_thread(&member, thread.id, rename.clone())
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(
        services
            .update_thread(&admin, thread.id, rename)
            .await
            .is_ok()
    );
    // Only the author edits.
    let edit = MessageUpdate {
        content: Some("edited".into()),
        ..MessageUpdate::default()
    };
    assert!(matches!(
        services
            .edit_message(&member, message.id, edit.clone())
            .await,
        Err(ServiceError::Forbidden(_))
    ));
    assert!(
        services
            .edit_message(&owner, message.id, edit)
            .await
            .is_ok()
    );
    assert_eq!(
        services
            .message_revisions(&owner, message.id)
            .await
            .unwrap()[0]
            .content,
        "hi"
    );
}

#[tokio::test]
async fn people_post_as_users_and_deleted_threads_disappear_until_restored() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = services
        .create_thread(&ada, NewThread::default())
        .await
        .unwrap();
    let as_assistant = NewMessage {
        role: Some(MessageRole::Assistant),
        ..text("fake")
    };
    assert!(matches!(
        services.post_message(&ada, thread.id, as_assistant).await,
        Err(ServiceError::Invalid(_))
    ));

    services.delete_thread(&ada, thread.id).await.unwrap();
    assert!(services.get_thread(&ada, thread.id).await.is_err());
    let listed = services
        .list_threads(&ada, &ThreadFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    services.restore_thread(&ada, thread.id).await.unwrap();
    assert!(services.get_thread(&ada, thread.id).await.is_ok());
    // Nothing is purged inside the retention window.
    services.delete_thread(&ada, thread.id).await.unwrap();
    assert_eq!(services.purge_deleted_threads().await.unwrap(), 0);
}

#[tokio::test]
async fn deleted_threads_are_purged_after_the_retention_window() {
    let config = xl_services::ServicesConfig {
        thread_retention: std::time::Duration::ZERO,
        ..xl_services::ServicesConfig::default()
    };
    let store = xl_store::Store::in_memory().await.unwrap();
    let services = xl_services::Services::new(
        store,
        std::sync::Arc::new(xl_llm::EchoProvider::default()),
        config,
    );
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = services
        .create_thread(&ada, NewThread::default())
        .await
        .unwrap();
    services
        .post_message(&ada, thread.id, text("bye"))
        .await
        .unwrap();
    services.delete_thread(&ada, thread.id).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(services.housekeeping().await.unwrap(), 1);
    assert!(matches!(
        services.restore_thread(&ada, thread.id).await,
        Err(ServiceError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_retried_post_replays_what_the_first_made_and_a_different_one_is_refused() {
    let services = services().await;
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = services
        .create_thread(&ada, NewThread::default())
        .await
        .unwrap();
    let retry = |key: &str, body: &[u8]| Retry::new("Idempotency-Key", key, &[body]).unwrap();
    let post = |content: &'static str, retry: Retry| {
        let services = &services;
        let ada = &ada;
        async move {
            services
                .post_message_once(ada, thread.id, text(content), ReplyMode::Sync, Some(&retry))
                .await
        }
    };
    let first = post("once", retry("k1", b"once")).await.unwrap();
    assert!(!first.is_replayed());
    let again = post("once", retry("k1", b"once")).await.unwrap();
    assert!(again.is_replayed());
    let (first, again) = (first.into_inner(), again.into_inner());
    assert_eq!(again.message, first.message, "the same message comes back");
    let reply = first.reply.expect("the assistant replied");
    assert_eq!(again.reply.as_ref(), Some(&reply), "and the same reply");
    let all = services
        .list_messages(&ada, thread.id, Branch::All, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2, "one question, one reply: nothing twice");

    assert!(matches!(
        post("other", retry("k1", b"other")).await,
        Err(ServiceError::Unprocessable(_))
    ));
    // A refused request records nothing, so its key stays free.
    let refused = services
        .post_message_once(
            &ada,
            thread.id,
            NewMessage::default(),
            ReplyMode::Sync,
            Some(&retry("k2", b"{}")),
        )
        .await;
    assert!(refused.is_err());
    assert!(
        !post("fixed", retry("k2", b"fixed"))
            .await
            .unwrap()
            .is_replayed()
    );
    // Keys belong to their user.
    let bob = actor(&services, "bob@acme.io", Role::User).await;
    let bobs = services
        .create_thread(&bob, NewThread::default())
        .await
        .unwrap();
    let made = services
        .post_message_once(
            &bob,
            bobs.id,
            text("once"),
            ReplyMode::Stream,
            Some(&retry("k1", b"once")),
        )
        .await
        .unwrap();
    assert!(!made.is_replayed());
}

/// Concurrent requests with one key make one message: the key is recorded
/// in the post's transaction, so the losers roll back and replay it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_post_make_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("xl.db").display());
    let services = std::sync::Arc::new(
        xl_services::Services::open(&url, std::sync::Arc::new(xl_llm::EchoProvider::default()))
            .await
            .unwrap(),
    );
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = quiet_thread(&services, &ada).await;
    let retry = Retry::new("Idempotency-Key", "race", &[b"once"]).unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (services, ada, retry) = (services.clone(), ada.clone(), retry.clone());
            tokio::spawn(async move {
                services
                    .post_message_once(&ada, thread.id, text("once"), ReplyMode::Sync, Some(&retry))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut made = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let once = task.await.unwrap();
        made += usize::from(!once.is_replayed());
        ids.insert(once.into_inner().message.id);
    }
    assert_eq!(made, 1, "one request made it");
    assert_eq!(ids.len(), 1, "every request answers with the same message");
    let all = services
        .list_messages(&ada, thread.id, Branch::All, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
}

/// On a SQLite file, posts go through the group-commit writer: many at once
/// still form one chain (each the child of the one before), and the access
/// rules hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_on_a_file_store_form_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("xl.db").display());
    let store = xl_store::Store::connect(&xl_store::StoreConfig::new(url))
        .await
        .unwrap();
    store.migrate_up(None).await.unwrap();
    let services = std::sync::Arc::new(xl_services::Services::new(
        store,
        std::sync::Arc::new(xl_llm::EchoProvider::default()),
        xl_services::ServicesConfig::default(),
    ));
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = quiet_thread(&services, &ada).await;
    let mut tasks = Vec::new();
    for n in 0..40 {
        let services = std::sync::Arc::clone(&services);
        let ada = ada.clone();
        tasks.push(tokio::spawn(async move {
            services
                .post_message(&ada, thread.id, text(&format!("post {n}")))
                .await
                .unwrap()
        }));
    }
    let mut posted = Vec::new();
    for task in tasks {
        posted.push(task.await.unwrap());
    }
    let all = services
        .list_messages(
            &ada,
            thread.id,
            Branch::All,
            &PageRequest::parse(Some("100"), None, Some("asc")).unwrap(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 40);
    // One chain: a single root, no message with two children, and the
    // current branch (a walk up from the leaf) holds every message.
    assert_eq!(all.iter().filter(|m| m.parent_id.is_none()).count(), 1);
    let mut parents: Vec<_> = all.iter().filter_map(|m| m.parent_id).collect();
    parents.sort();
    parents.dedup();
    assert_eq!(parents.len(), 39, "no forks");
    let branch = services
        .list_messages(
            &ada,
            thread.id,
            Branch::Current,
            &PageRequest::parse(Some("100"), None, None).unwrap(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(branch.len(), 40);
    let fetched = services.get_thread(&ada, thread.id).await.unwrap();
    assert_eq!(fetched.message_count, 40);
    assert_eq!(fetched.current_leaf_id, Some(branch[0].id));
    assert!(
        fetched
            .title
            .as_deref()
            .is_some_and(|t| t.starts_with("post "))
    );
    // What the post returned is what was stored.
    let stored = services.get_message(&ada, posted[0].id).await.unwrap();
    assert_eq!(stored, posted[0]);

    let stranger = actor(&services, "stranger@acme.io", Role::User).await;
    let rival = actor(&services, "rival@globex.com", Role::Admin).await;
    for outsider in [&stranger, &rival] {
        assert!(matches!(
            services.post_message(outsider, thread.id, text("x")).await,
            Err(ServiceError::NotFound(_))
        ));
    }
    let admin = actor(&services, "admin@acme.io", Role::Admin).await;
    assert!(
        services
            .post_message(&admin, thread.id, text("moderator"))
            .await
            .is_ok()
    );
    assert_eq!(
        services
            .get_thread(&ada, thread.id)
            .await
            .unwrap()
            .message_count,
        41
    );
}

#[tokio::test]
async fn conversations_past_their_orgs_retention_are_removed_and_no_others() {
    let store = xl_store::Store::in_memory().await.unwrap();
    // Find out the orgs' slugs first: an org is made by its first user.
    let probe = xl_services::Services::new(
        store.clone(),
        std::sync::Arc::new(xl_llm::EchoProvider::default()),
        xl_services::ServicesConfig::default(),
    );
    let ada = actor(&probe, "ada@acme.io", Role::User).await;
    let bob = actor(&probe, "bob@beta.io", Role::User).await;
    let cy = actor(&probe, "cy@gamma.io", Role::User).await;
    let slug = |actor: &xl_domain::Actor| {
        let store = store.clone();
        let org = actor.org_id;
        async move {
            xl_store::repo::orgs::find(store.reader(), org)
                .await
                .unwrap()
                .unwrap()
                .slug
        }
    };
    // acme keeps conversations 50 ms, beta forever, everyone else 10 minutes.
    let mut retention = xl_services::threads::ConversationRetention {
        default: Some(std::time::Duration::from_secs(600)),
        ..Default::default()
    };
    retention
        .orgs
        .insert(slug(&ada).await, Some(std::time::Duration::from_millis(50)));
    retention.orgs.insert(slug(&bob).await, None);
    retention.orgs.insert("no-such-org".into(), None);
    let services = xl_services::Services::new(
        store.clone(),
        std::sync::Arc::new(xl_llm::EchoProvider::default()),
        xl_services::ServicesConfig {
            conversation_retention: retention,
            auto_completion_enabled: false,
            ..xl_services::ServicesConfig::default()
        },
    );
    let mut made = Vec::new();
    for who in [&ada, &ada, &bob, &cy] {
        let thread = services
            .create_thread(who, NewThread::default())
            .await
            .unwrap();
        services
            .post_message(who, thread.id, text("hello"))
            .await
            .unwrap();
        made.push(thread.id);
    }
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    // Ada's second conversation is active again: its last message is new.
    services
        .post_message(&ada, made[1], text("still here"))
        .await
        .unwrap();

    assert_eq!(services.purge_old_conversations().await.unwrap(), 1);
    assert!(matches!(
        services.get_thread(&ada, made[0]).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(services.get_thread(&ada, made[1]).await.is_ok());
    assert!(
        services.get_thread(&bob, made[2]).await.is_ok(),
        "beta keeps its own"
    );
    assert!(
        services.get_thread(&cy, made[3]).await.is_ok(),
        "within the default"
    );
    // Gone with its messages, not into the bin.
    assert!(matches!(
        services.restore_thread(&ada, made[0]).await,
        Err(ServiceError::NotFound(_))
    ));
    assert_eq!(services.purge_old_conversations().await.unwrap(), 0);
}
