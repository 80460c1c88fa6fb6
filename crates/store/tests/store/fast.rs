//! The rusqlite read path returns exactly what the sea-orm path returns.

use xl_domain::threads::MemberRole;
use xl_domain::{Email, FileId, MessageId, MessageRole, MessageStatus, Order, PageRequest, Role};
use xl_store::repo::messages::NewMessageRow;
use xl_store::repo::{messages, messages_fast, orgs, threads, users};
use xl_store::{Store, StoreConfig};

#[tokio::test]
async fn the_fast_read_path_agrees_with_the_orm_path() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("xl.db").display());
    let store = Store::connect(&StoreConfig::new(url)).await.unwrap();
    store.migrate_up(None).await.unwrap();
    let fast = store.fast().expect("a file store has the fast path");

    let tx = store.begin_write().await.unwrap();
    let org = orgs::find_or_create(&tx, "acme.io").await.unwrap();
    let user = users::insert(
        &tx,
        users::NewUserRow {
            org_id: org.id,
            subject: None,
            email: Email::parse("ada@acme.io").unwrap(),
            name: "Ada".into(),
            role: Role::User,
            avatar_url: None,
        },
    )
    .await
    .unwrap();
    let thread = threads::insert(
        &tx,
        threads::NewThreadRow {
            org_id: org.id,
            owner_id: user.id,
            title: Some("t".into()),
            description: None,
            system_prompt: None,
            model: None,
            metadata: serde_json::json!({}),
            auto_reply: false,
            pinned: false,
            tags: vec![],
        },
    )
    .await
    .unwrap();
    let mut parent = None;
    let mut first = None;
    for n in 0..12 {
        let message = messages::insert(
            &tx,
            NewMessageRow {
                id: MessageId::new(),
                thread_id: thread.id,
                org_id: org.id,
                parent_id: parent,
                user_id: Some(user.id),
                role: MessageRole::User,
                content: format!("message {n}"),
                blocks: (n % 3 == 0).then(|| serde_json::json!([{ "type": "divider" }])),
                metadata: (n % 4 == 0).then(|| serde_json::json!({ "n": n })),
                status: MessageStatus::Complete,
                model: None,
                attachments: Vec::<FileId>::new(),
            },
        )
        .await
        .unwrap();
        first.get_or_insert(message.id);
        parent = Some(message.id);
    }
    messages::tombstone(&tx, first.unwrap()).await.unwrap();
    tx.commit().await.unwrap();

    let orm_gate = messages::gate(store.reader(), org.id, user.id, thread.id)
        .await
        .unwrap();
    let fast_gate = messages_fast::gate(fast, org.id, user.id, thread.id).unwrap();
    assert_eq!(orm_gate, fast_gate);
    assert_eq!(fast_gate.as_ref().unwrap().member, Some(MemberRole::Owner));
    let other_org = xl_domain::OrgId::new();
    assert_eq!(
        messages_fast::gate(fast, other_org, user.id, thread.id).unwrap(),
        None
    );

    let leaf = orm_gate.unwrap().current_leaf;
    for order in [None, Some("asc")] {
        let mut cursor: Option<String> = None;
        loop {
            let page = PageRequest::parse(Some("5"), cursor.as_deref(), order).unwrap();
            let orm = messages::list_branch(store.reader(), thread.id, leaf, &page)
                .await
                .unwrap();
            let quick = messages_fast::list_branch(fast, thread.id, leaf, &page).unwrap();
            assert_eq!(orm, quick, "order {order:?} cursor {cursor:?}");
            match orm.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    let _ = Order::Asc;
    store.close().await.unwrap();
}
