//! Integration tests of the store through its public interface: paging
//! branches and usage roll-ups, on SQLite and PostgreSQL. Tests that need the
//! store's insides are unit tests, in `src/tests`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Two tests of one scenario (an `async fn(&Store)`): on a migrated SQLite
/// file, and on a migrated PostgreSQL database of its own (skipped without
/// `XL_TEST_POSTGRES_URL`, except under CI).
macro_rules! on_both_engines {
    ($sqlite:ident, $postgres:ident, $scenario:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("xl.db").display());
            let store = xl_store::Store::connect(&xl_store::StoreConfig::new(url))
                .await
                .unwrap();
            store.migrate_up(None).await.unwrap();
            $scenario(&store).await;
            store.close().await.unwrap();
        }

        #[tokio::test]
        async fn $postgres() {
            let Some(db) = xl_store::testing::PostgresTestDb::create().await.unwrap() else {
                return;
            };
            let store = xl_store::Store::connect(&xl_store::StoreConfig::new(db.url.clone()))
                .await
                .unwrap();
            store.migrate_up(None).await.unwrap();
            $scenario(&store).await;
            store.close().await.unwrap();
            db.drop_database().await.unwrap();
        }
    };
}

/// The org `acme` and its user Ada, the cast of most scenarios.
pub(crate) async fn ada(store: &xl_store::Store) -> (xl_domain::OrgId, xl_domain::UserId) {
    use xl_store::repo;
    let org = repo::orgs::find_or_create(store.writer(), "acme")
        .await
        .unwrap()
        .id;
    let user = repo::users::insert(
        store.writer(),
        repo::users::NewUserRow {
            org_id: org,
            subject: None,
            email: xl_domain::Email::parse("ada@acme.io").unwrap(),
            name: "Ada".into(),
            role: xl_domain::Role::User,
            avatar_url: None,
        },
    )
    .await
    .unwrap()
    .id;
    (org, user)
}

/// A message to insert: no parent (the thread's leaf), no blocks or files.
pub(crate) fn message_row(
    org: xl_domain::OrgId,
    thread: xl_domain::ThreadId,
    author: Option<xl_domain::UserId>,
    role: xl_domain::MessageRole,
    status: xl_domain::MessageStatus,
    content: &str,
) -> xl_store::repo::messages::NewMessageRow {
    xl_store::repo::messages::NewMessageRow {
        id: xl_domain::MessageId::new(),
        thread_id: thread,
        org_id: org,
        parent_id: None,
        user_id: author,
        role,
        content: content.to_owned(),
        blocks: None,
        metadata: None,
        status,
        model: None,
        attachments: Vec::new(),
        tokens: None,
    }
}

mod branches;
mod posts;
mod rate_buckets;
mod replies;
mod search_index;
mod usage;
