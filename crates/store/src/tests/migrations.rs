//! The schema applies, rolls back and applies again, on SQLite and PostgreSQL.

use crate::db::Engine;
use crate::testing::PostgresTestDb;
use crate::{Backend, Store, StoreConfig};
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Statement};

async fn table_names(store: &Store) -> Vec<String> {
    let sql = match store.backend() {
        // `pragma_table_list` tells FTS5's shadow tables (type `shadow`) from
        // the virtual tables that own them (type `virtual`); the shadows come
        // and go with their owner.
        Backend::Sqlite => {
            "SELECT name FROM pragma_table_list WHERE schema = 'main' \
             AND type IN ('table', 'virtual') \
             AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_name <> 'seaql_migrations' ORDER BY table_name"
        }
    };
    let rows = store
        .reader()
        .orm()
        .query_all_raw(Statement::from_string(
            store.reader().orm().get_database_backend(),
            sql,
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

/// Tables created by migrations after `m0007_identity_binding`.
const LATER_TABLES: &[&str] = &[
    "interactive_actions",
    "file_blobs",
    "analytics_events",
    "rate_buckets",
    "messages_fts_pending",
];

fn base_tables() -> Vec<String> {
    let mut tables: Vec<String> = migration::TABLES.iter().map(|t| t.to_string()).collect();
    tables.sort();
    tables
}

/// Every table once all migrations are applied: the search index adds tables
/// on SQLite only (on PostgreSQL it is columns and indexes).
fn expected_tables(backend: Backend) -> Vec<String> {
    let mut tables = base_tables();
    if backend == Backend::Sqlite {
        tables.extend(
            migration::SQLITE_SEARCH_TABLES
                .iter()
                .map(|t| t.to_string()),
        );
        tables.sort();
    }
    tables
}

/// Every schema object on SQLite (tables of any kind, triggers, indexes)
/// except SQLite's own and the migrations table.
async fn sqlite_objects(store: &Store) -> Vec<String> {
    let rows = store
        .reader()
        .orm()
        .query_all_raw(Statement::from_string(
            store.reader().orm().get_database_backend(),
            "SELECT type || ' ' || name AS name FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> 'seaql_migrations' ORDER BY name",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

/// The columns named `search_vector` (PostgreSQL's search index), by table.
async fn search_vector_tables(store: &Store) -> Vec<String> {
    let rows = store
        .reader()
        .orm()
        .query_all_raw(Statement::from_string(
            store.reader().orm().get_database_backend(),
            "SELECT table_name AS name FROM information_schema.columns \
             WHERE table_schema = 'public' AND column_name = 'search_vector' ORDER BY table_name",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

async fn up_down_up(store: &Store) {
    let backend = store.backend();
    store.migrate_up(None).await.unwrap();
    assert_eq!(table_names(store).await, expected_tables(backend));
    let status = store.migration_status().await.unwrap();
    let all = migration::Migrator::migrations().len();
    assert_eq!(status.len(), all);
    assert!(status.iter().all(|m| m.applied), "{status:?}");
    if backend == Backend::Postgres {
        assert_eq!(search_vector_tables(store).await, ["messages", "threads"]);
    }

    // Rolling back what came after the identity binding (columns and
    // indexes on existing tables, and the tables of later features) keeps
    // every other table.
    store.migrate_down(Some((all - 6) as u32)).await.unwrap();
    let mut earlier: Vec<String> = expected_tables(backend);
    earlier.retain(|t| !LATER_TABLES.contains(&t.as_str()));
    assert_eq!(table_names(store).await, earlier);
    let status = store.migration_status().await.unwrap();
    assert_eq!(status.iter().filter(|m| m.applied).count(), 6);
    assert_eq!(status[5].name, "m0007_identity_binding");

    // One step back removes only the identity-binding tables.
    let identity = [
        "deleted_users",
        "invitations",
        "org_domains",
        "user_identities",
    ];
    store.migrate_down(Some(1)).await.unwrap();
    let mut without: Vec<String> = earlier
        .into_iter()
        .filter(|t| !identity.contains(&t.as_str()))
        .collect();
    without.sort();
    assert_eq!(table_names(store).await, without);
    let status = store.migration_status().await.unwrap();
    assert_eq!(status.iter().filter(|m| m.applied).count(), 5);

    // The next step back removes only the search index.
    store.migrate_down(Some(1)).await.unwrap();
    let mut base = base_tables();
    base.retain(|t| !identity.contains(&t.as_str()) && !LATER_TABLES.contains(&t.as_str()));
    assert_eq!(table_names(store).await, base);
    if backend == Backend::Postgres {
        assert_eq!(search_vector_tables(store).await, Vec::<String>::new());
    }
    let status = store.migration_status().await.unwrap();
    assert_eq!(status.iter().filter(|m| m.applied).count(), 4);

    // The next step back removes only the completions table.
    store.migrate_down(Some(1)).await.unwrap();
    let tables = table_names(store).await;
    assert!(!tables.contains(&"completions".to_owned()));
    assert!(tables.contains(&"messages".to_owned()));
    let status = store.migration_status().await.unwrap();
    assert_eq!(status.iter().filter(|m| m.applied).count(), 3);

    store.migrate_down(None).await.unwrap();
    assert_eq!(table_names(store).await, Vec::<String>::new());
    if backend == Backend::Sqlite {
        // Nothing is left behind: no shadow table, trigger or index either.
        assert_eq!(sqlite_objects(store).await, Vec::<String>::new());
    }

    store.migrate_up(None).await.unwrap();
    assert_eq!(table_names(store).await, expected_tables(backend));

    store.migrate_fresh().await.unwrap();
    assert_eq!(table_names(store).await, expected_tables(backend));
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
