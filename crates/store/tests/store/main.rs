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

mod branches;
mod rate_buckets;
mod replies;
mod usage;
