//! The conversation services on a real PostgreSQL server: posting (the
//! one-statement insert), branch listing (the recursive walk), edits,
//! tombstones, reactions, idempotency and an assistant reply with its events
//! (the sequence allocated by `UPDATE … RETURNING`). Skipped without
//! `XL_TEST_POSTGRES_URL`, except under CI.

use std::sync::Arc;

use xl_domain::messages::{Branch, MessageUpdate, NewMessage};
use xl_domain::reactions::ReactionName;
use xl_domain::threads::NewThread;
use xl_domain::{MessageStatus, PageRequest, Role};
use xl_services::ServiceError;
use xl_services::assistant::ReplyMode;
use xl_services::idempotency::Retry;

use crate::support::{actor, echo, postgres_store, quiet_thread};

fn text(content: &str) -> NewMessage {
    NewMessage {
        content: Some(content.to_owned()),
        ..NewMessage::default()
    }
}

#[tokio::test]
async fn conversations_work_on_postgres() {
    let Some((store, db)) = postgres_store().await else {
        return;
    };
    let llm = echo();
    let config = xl_services::ServicesConfig {
        default_model: "echo".into(),
        ..xl_services::ServicesConfig::default()
    };
    let services = xl_services::Services::new(store.clone(), llm, config);

    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let stranger = actor(&services, "stranger@acme.io", Role::User).await;
    let rival = actor(&services, "admin@globex.com", Role::Admin).await;
    let quiet = quiet_thread(&services, &ada).await;
    let one = services
        .post_message(&ada, quiet.id, text("one"))
        .await
        .unwrap();
    let two = services
        .post_message(&ada, quiet.id, text("two"))
        .await
        .unwrap();
    assert_eq!(two.parent_id, Some(one.id));
    let alt = services
        .post_message(
            &ada,
            quiet.id,
            NewMessage {
                parent_id: Some(one.id),
                ..text("alt")
            },
        )
        .await
        .unwrap();
    let branch = services
        .list_messages(&ada, quiet.id, Branch::Current, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        branch.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![alt.id, one.id]
    );
    let thread = services.get_thread(&ada, quiet.id).await.unwrap();
    assert_eq!(thread.title.as_deref(), Some("one"));
    assert_eq!(thread.message_count, 3);
    for outsider in [&stranger, &rival] {
        assert!(matches!(
            services.post_message(outsider, quiet.id, text("x")).await,
            Err(ServiceError::NotFound(_))
        ));
    }

    let edit = MessageUpdate {
        content: Some("uno".into()),
        ..MessageUpdate::default()
    };
    services.edit_message(&ada, one.id, edit).await.unwrap();
    assert_eq!(
        services.message_revisions(&ada, one.id).await.unwrap()[0].content,
        "one"
    );
    let name = ReactionName::parse("tada").unwrap();
    services
        .toggle_reaction(&ada, two.id, name.clone())
        .await
        .unwrap();
    assert_eq!(
        services.list_reactions(&ada, two.id).await.unwrap()[0].count,
        1
    );
    services.delete_message(&ada, two.id).await.unwrap();
    assert!(
        services
            .list_reactions(&ada, two.id)
            .await
            .unwrap()
            .is_empty()
    );

    // Retries of one post under one key, at once: PostgreSQL makes the
    // losers wait on the key's unique index, then roll back and replay.
    let retry = Retry::new("Idempotency-Key", "k", &[b"{}"]).unwrap();
    let services = Arc::new(services);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (services, ada, retry) = (services.clone(), ada.clone(), retry.clone());
            tokio::spawn(async move {
                services
                    .post_message_once(&ada, quiet.id, text("once"), ReplyMode::Sync, Some(&retry))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut made = Vec::new();
    for racer in racers {
        let once = racer.await.unwrap();
        if !once.is_replayed() {
            made.push(once.into_inner().message.id);
        }
    }
    assert_eq!(made.len(), 1, "one of the retries made the message");

    // An assistant reply, with its events numbered in the thread's log.
    let chatty = services
        .create_thread(&ada, NewThread::default())
        .await
        .unwrap();
    let posted = services
        .post_message_with_reply(&ada, chatty.id, text("hello there"), ReplyMode::Sync)
        .await
        .unwrap();
    let reply = posted.reply.expect("auto-reply is on");
    assert_eq!(reply.status, MessageStatus::Complete);
    assert_eq!(reply.content, "Echo: hello there");
    assert_eq!(reply.parent_id, Some(posted.message.id));
    let events = xl_store::repo::events::after(store.reader(), chatty.id, 0, None, 100)
        .await
        .unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert!(!seqs.is_empty());
    assert_eq!(
        seqs,
        (1..=i64::try_from(seqs.len()).unwrap()).collect::<Vec<_>>(),
        "no gaps"
    );

    store.close().await.unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test]
async fn artifacts_and_actions_work_on_postgres() {
    use serde_json::json;
    use xl_domain::artifacts::{ArtifactFilter, ArtifactUpdate, NewArtifact};
    use xl_domain::interactive::BlockActions;
    use xl_services::artifacts::ExportFormat;

    let Some((store, db)) = postgres_store().await else {
        return;
    };
    let llm = echo();
    let services =
        xl_services::Services::new(store.clone(), llm, xl_services::ServicesConfig::default());
    let ada = actor(&services, "ada@acme.io", Role::User).await;
    let thread = quiet_thread(&services, &ada).await;
    let artifact = services
        .create_artifact(
            &ada,
            Some(thread.id),
            NewArtifact {
                kind: xl_domain::ArtifactKind::Insight,
                title: "Churn".into(),
                description: None,
                content: json!({"summary": "s", "findings": [{"text": "a, \"b\""}], "confidence": 0.5}),
                metadata: None,
                message_id: None,
            },
        )
        .await
        .unwrap();
    // Of two writers holding version 1, exactly one wins (the conditional
    // update under PostgreSQL's row lock).
    let rename = |title: &str| ArtifactUpdate {
        title: Some(title.to_owned()),
        ..ArtifactUpdate::default()
    };
    let (a, b) = tokio::join!(
        services.update_artifact(&ada, artifact.id, rename("a"), Some(1)),
        services.update_artifact(&ada, artifact.id, rename("b"), Some(1)),
    );
    assert_eq!(
        [&a, &b].iter().filter(|r| r.is_ok()).count(),
        1,
        "{a:?} {b:?}"
    );
    assert!(
        [&a, &b]
            .iter()
            .any(|r| matches!(r, Err(ServiceError::PreconditionFailed(_))))
    );
    let page = services
        .list_artifacts(&ada, &ArtifactFilter::default(), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(page.items[0].version, 2);
    let export = |format| {
        let (services, ada) = (&services, &ada);
        async move {
            services
                .export_artifact(ada, artifact.id, format, Some(1))
                .await
                .unwrap()
                .into_bytes()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        export(ExportFormat::Pdf).await,
        export(ExportFormat::Pdf).await
    );
    assert!(
        export(ExportFormat::Csv)
            .await
            .starts_with(b"finding,text,evidence\n")
    );

    let message = services
        .post_message(
            &ada,
            thread.id,
            NewMessage {
                content: Some("Go?".into()),
                blocks: Some(json!([{"type": "actions", "block_id": "b", "elements": [
                    {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
                ]}])),
                ..NewMessage::default()
            },
        )
        .await
        .unwrap();
    let payload = BlockActions::parse(&json!({
        "container": {"message_id": message.id.to_string()},
        "actions": [{"action_id": "go", "block_id": "b", "type": "button"}]
    }))
    .unwrap();
    let acted = services
        .interact(&ada, payload, ReplyMode::Sync)
        .await
        .unwrap();
    assert_eq!(acted.actions[0].action_id, "go");
    assert!(acted.reply.is_none(), "the thread's assistant is off");
    db.drop_database().await.unwrap();
}

/// Posts sent at once into one thread each take the previous one as parent:
/// the thread stays one branch holding all of them.
async fn concurrent_posts_keep_one_branch(services: &xl_services::Services) {
    let ada = actor(services, "ada@acme.io", Role::User).await;
    let thread = quiet_thread(services, &ada).await;
    let posts = (0..32).map(|i| {
        let services = services.clone();
        let ada = ada.clone();
        tokio::spawn(async move {
            services
                .post_message(&ada, thread.id, text(&format!("post {i}")))
                .await
                .unwrap()
        })
    });
    let mut posted = Vec::new();
    for post in futures_util::future::join_all(posts).await {
        posted.push(post.unwrap().id);
    }
    let page = PageRequest {
        limit: 100,
        ..PageRequest::default()
    };
    let branch = services
        .list_messages(&ada, thread.id, Branch::Current, &page)
        .await
        .unwrap();
    let mut listed: Vec<_> = branch.items.iter().map(|m| m.id).collect();
    // Newest first, each message the child of the next.
    for pair in branch.items.windows(2) {
        assert_eq!(pair[0].parent_id, Some(pair[1].id));
    }
    listed.sort();
    posted.sort();
    assert_eq!(listed, posted, "every post is on the current branch");
    let thread = services.get_thread(&ada, thread.id).await.unwrap();
    assert_eq!(thread.message_count, 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_keep_one_branch_on_postgres() {
    let Some((store, db)) = postgres_store().await else {
        return;
    };
    let services = xl_services::Services::new(
        store.clone(),
        echo(),
        xl_services::ServicesConfig::default(),
    );
    concurrent_posts_keep_one_branch(&services).await;
    store.close().await.unwrap();
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_posts_keep_one_branch_on_sqlite() {
    concurrent_posts_keep_one_branch(&crate::support::services().await).await;
}
