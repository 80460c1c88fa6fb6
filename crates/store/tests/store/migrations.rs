//! The schema applies, rolls back and applies again, on SQLite and PostgreSQL.

use sea_orm::{ConnectionTrait, Statement};
use xl_store::testing::PostgresTestDb;
use xl_store::{Backend, Store, StoreConfig};

async fn table_names(store: &Store) -> Vec<String> {
    let sql = match store.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_name <> 'seaql_migrations' ORDER BY table_name"
        }
    };
    let rows = store
        .reader()
        .query_all_raw(Statement::from_string(
            store.reader().get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

fn expected_tables() -> Vec<String> {
    let mut tables: Vec<String> = migration::TABLES.iter().map(|t| t.to_string()).collect();
    tables.sort();
    tables
}

async fn up_down_up(store: &Store) {
    store.migrate_up(None).await.unwrap();
    assert_eq!(table_names(store).await, expected_tables());
    let status = store.migration_status().await.unwrap();
    assert_eq!(status.len(), 4);
    assert!(status.iter().all(|m| m.applied), "{status:?}");

    // One step back removes only the last migration's tables.
    store.migrate_down(Some(1)).await.unwrap();
    let tables = table_names(store).await;
    assert!(!tables.contains(&"completions".to_owned()));
    assert!(tables.contains(&"messages".to_owned()));
    let status = store.migration_status().await.unwrap();
    assert_eq!(status.iter().filter(|m| m.applied).count(), 3);

    store.migrate_down(None).await.unwrap();
    assert_eq!(table_names(store).await, Vec::<String>::new());

    store.migrate_up(None).await.unwrap();
    assert_eq!(table_names(store).await, expected_tables());

    store.migrate_fresh().await.unwrap();
    assert_eq!(table_names(store).await, expected_tables());
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("xl.db").display());
    let store = Store::connect(&StoreConfig::new(url)).await.unwrap();
    up_down_up(&store).await;
    store.close().await.unwrap();
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_postgres() {
    let Some(db) = PostgresTestDb::create().await.unwrap() else {
        return;
    };
    let store = Store::connect(&StoreConfig::new(db.url.clone()))
        .await
        .unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    up_down_up(&store).await;
    store.close().await.unwrap();
    db.drop_database().await.unwrap();
}
