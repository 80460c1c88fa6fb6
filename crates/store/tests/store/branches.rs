//! Paging a thread's current branch in both orders, on SQLite and on
//! PostgreSQL: every page is a window of the branch, in order, with nothing
//! skipped or repeated, across forks and through every insert path.

use serde_json::json;
use xl_domain::{
    Message, MessageId, MessageRole, MessageStatus, OrgId, PageRequest, ThreadId, UserId,
};
use xl_store::Store;
use xl_store::repo;
use xl_store::repo::messages::{NewMessageRow, Poster};
use xl_store::repo::threads::NewThreadRow;

on_both_engines!(
    branch_pages_on_sqlite,
    branch_pages_on_postgres,
    pages_are_windows_of_the_current_branch
);

fn row(
    org: OrgId,
    thread: ThreadId,
    user: UserId,
    parent: Option<MessageId>,
    text: &str,
) -> NewMessageRow {
    NewMessageRow {
        id: MessageId::new(),
        thread_id: thread,
        org_id: org,
        parent_id: parent,
        user_id: Some(user),
        role: MessageRole::User,
        content: text.to_owned(),
        blocks: None,
        metadata: None,
        status: MessageStatus::Complete,
        model: None,
        attachments: Vec::new(),
        tokens: None,
    }
}

/// Every page of `order` with `limit`, followed through the cursors.
async fn walk(
    store: &Store,
    thread: ThreadId,
    leaf: MessageId,
    order: &str,
    limit: u32,
) -> Vec<MessageId> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let page =
            PageRequest::parse(Some(&limit.to_string()), cursor.as_deref(), Some(order)).unwrap();
        let got = repo::messages::list_branch(store.reader(), thread, Some(leaf), &page)
            .await
            .unwrap();
        assert!(got.items.len() <= limit as usize);
        seen.extend(got.items.iter().map(|m: &Message| m.id));
        match got.next_cursor {
            Some(next) => cursor = Some(next),
            None => return seen,
        }
    }
    panic!("paging did not end");
}

async fn pages_are_windows_of_the_current_branch(store: &Store) {
    let (org, user) = crate::ada(store).await;
    let thread = repo::threads::insert(
        store.writer(),
        NewThreadRow {
            org_id: org,
            owner_id: user,
            title: Some("paths".into()),
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
    .id;
    let poster = Poster {
        org_id: org,
        user_id: user,
        is_admin: false,
    };
    // 90 posts on the checked path (each the child of the current leaf)...
    let mut posted = Vec::new();
    for n in 0..90 {
        let message = repo::messages::insert_checked(
            store.writer(),
            poster,
            row(org, thread, user, None, &format!("m{n}")),
            None,
        )
        .await
        .unwrap()
        .unwrap()
        .message;
        posted.push(message.id);
    }
    // ...a fork under the 41st message, which becomes the current branch...
    let fork = repo::messages::insert(
        store.writer(),
        row(org, thread, user, Some(posted[40]), "fork"),
    )
    .await
    .unwrap();
    // ...and 25 more posts below the fork.
    let mut leaf = fork.id;
    for n in 0..25 {
        let message = repo::messages::insert_checked(
            store.writer(),
            poster,
            row(org, thread, user, None, &format!("f{n}")),
            None,
        )
        .await
        .unwrap()
        .unwrap()
        .message;
        leaf = message.id;
    }
    let branch: Vec<MessageId> = repo::messages::branch(store.reader(), thread, leaf)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(branch.len(), 41 + 1 + 25);
    // Inside a write transaction (rows through sea-orm's proxy rows on
    // SQLite) the walk reads the same branch.
    let tx = store.begin_write().await.unwrap();
    let in_tx: Vec<MessageId> = repo::messages::branch(&tx, thread, leaf)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    drop(tx);
    assert_eq!(in_tx, branch);
    assert_eq!(branch[..41], posted[..41]);
    assert_eq!(branch[41], fork.id);
    let newest_first: Vec<MessageId> = branch.iter().rev().copied().collect();
    for limit in [1, 7, 50, 100] {
        assert_eq!(
            walk(store, thread, leaf, "asc", limit).await,
            branch,
            "asc, limit {limit}"
        );
        assert_eq!(
            walk(store, thread, leaf, "desc", limit).await,
            newest_first,
            "desc, limit {limit}"
        );
    }
    // The page path (rows decoded in place on SQLite) and the lookup path
    // (sea-orm's proxy rows) read the same messages.
    let page = repo::messages::list_branch(
        store.reader(),
        thread,
        Some(leaf),
        &PageRequest::parse(Some("100"), None, None).unwrap(),
    )
    .await
    .unwrap();
    for message in &page.items {
        let found = repo::messages::find(store.reader(), org, message.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&found, message);
    }
    // The old branch is still a branch of its own.
    let old: Vec<MessageId> = walk(store, thread, posted[89], "asc", 13).await;
    assert_eq!(old, posted);
}
