//! SQLite under many concurrent writers: no "database is locked", nothing lost.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use crate::db::Engine;
use crate::entity::orgs;
use crate::error::OrmResult;
use crate::{Store, StoreConfig};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use uuid::Uuid;

const WRITERS: usize = 64;
const WRITES_PER_WRITER: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_writers_never_hit_a_locked_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("xl.db").display());
    let store = Store::connect(&StoreConfig::new(url)).await.unwrap();
    store.migrate_up(None).await.unwrap();
    let store = Arc::new(store);

    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut errors = Vec::new();
            for n in 0..WRITES_PER_WRITER {
                let id = Uuid::now_v7();
                let result = async {
                    let tx = store.begin_write().await?;
                    // Read inside the write transaction first: with a deferred
                    // BEGIN this read-then-write shape is what fails under load.
                    let _ = orgs::Entity::find_by_id(id)
                        .one(tx.orm())
                        .await
                        .into_store()?;
                    let now = Utc::now();
                    orgs::ActiveModel {
                        id: Set(id),
                        slug: Set(format!("w{writer}-{n}")),
                        name: Set(format!("writer {writer} row {n}")),
                        created_at: Set(now),
                        updated_at: Set(now),
                    }
                    .insert(tx.orm())
                    .await
                    .into_store()?;
                    tx.commit().await?;
                    Ok::<_, crate::StoreError>(())
                }
                .await;
                match result {
                    Ok(()) => acknowledged.push(id),
                    Err(err) => errors.push(err.to_string()),
                }
                // Readers run beside the writers on the read pool.
                let _ = orgs::Entity::find()
                    .count(store.reader().orm())
                    .await
                    .unwrap();
            }
            (acknowledged, errors)
        }));
    }

    let mut acknowledged = HashSet::new();
    let mut errors = Vec::new();
    for task in tasks {
        let (ids, errs) = task.await.unwrap();
        acknowledged.extend(ids);
        errors.extend(errs);
    }
    let elapsed = started.elapsed();

    let locked = errors.iter().filter(|e| e.contains("locked")).count();
    assert_eq!(locked, 0, "database is locked errors: {errors:?}");
    assert!(errors.is_empty(), "write errors: {errors:?}");
    assert_eq!(acknowledged.len(), WRITERS * WRITES_PER_WRITER);

    let stored: HashSet<Uuid> = orgs::Entity::find()
        .all(store.reader().orm())
        .await
        .unwrap()
        .into_iter()
        .map(|org| org.id)
        .collect();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged row must be stored"
    );

    let total = WRITERS * WRITES_PER_WRITER;
    eprintln!(
        "concurrency: {WRITERS} writers, {total} committed transactions, 0 errors, {:.0} ms ({:.0} tx/s)",
        elapsed.as_secs_f64() * 1000.0,
        total as f64 / elapsed.as_secs_f64()
    );
    Arc::try_unwrap(store).unwrap().close().await.unwrap();
}

fn org(slug: &str) -> orgs::ActiveModel {
    let now = Utc::now();
    orgs::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(slug.to_owned()),
        name: Set(slug.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Sessions of one group commit are independent: a rollback or a failed
/// statement in one leaves the others' writes whole, a session reads its own
/// uncommitted writes, and a dropped transaction leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_dropped_session_undoes_only_itself() {
    let store = Store::in_memory().await.unwrap();
    let kept = store.begin_write().await.unwrap();
    let dropped = store.begin_write().await.unwrap();
    let clashing = store.begin_write().await.unwrap();
    let kept_row = org("kept").insert(kept.orm()).await.unwrap();
    // It reads its own write before committing.
    assert!(
        orgs::Entity::find_by_id(kept_row.id)
            .one(kept.orm())
            .await
            .unwrap()
            .is_some()
    );
    let commit = tokio::spawn(kept.commit());
    org("dropped").insert(dropped.orm()).await.unwrap();
    drop(dropped);
    let clash = org("kept").insert(clashing.orm()).await.unwrap_err();
    assert!(crate::StoreError::from_orm(clash).is_conflict());
    org("after-clash").insert(clashing.orm()).await.unwrap();
    clashing.commit().await.unwrap();
    commit.await.unwrap().unwrap();
    let mut slugs: Vec<String> = orgs::Entity::find()
        .all(store.reader().orm())
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.slug)
        .collect();
    slugs.sort();
    assert_eq!(slugs, ["after-clash", "kept"]);
    store.close().await.unwrap();
    // A closed store refuses writes rather than losing them.
}

/// A statement sent ahead (nobody waits for its answer) that fails makes its
/// session's commit fail and keeps nothing of the session, while a session
/// committed beside it is kept.
#[tokio::test]
async fn a_failed_statement_sent_ahead_fails_the_commit_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("xl.db").display());
    let store = Store::connect(&StoreConfig::new(url)).await.unwrap();
    store.migrate_up(None).await.unwrap();
    let ahead =
        |sql: &str| sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, sql.to_owned());

    let tx = store.begin_write().await.unwrap();
    org("kept-before").insert(tx.orm()).await.unwrap();
    // Sending succeeds: the failure is only known on the writer thread.
    crate::repo::execute_ahead(&tx, ahead("INSERT INTO no_such_table VALUES (1)"))
        .await
        .unwrap();
    org("kept-after").insert(tx.orm()).await.unwrap();
    assert!(tx.commit().await.is_err());

    let tx = store.begin_write().await.unwrap();
    crate::repo::execute_ahead(&tx, ahead("UPDATE orgs SET name = 'renamed' WHERE 0"))
        .await
        .unwrap();
    org("committed").insert(tx.orm()).await.unwrap();
    tx.commit().await.unwrap();

    let slugs: Vec<String> = orgs::Entity::find()
        .all(store.reader().orm())
        .await
        .unwrap()
        .into_iter()
        .map(|org| org.slug)
        .collect();
    assert_eq!(slugs, ["committed"]);
    store.close().await.unwrap();
}
