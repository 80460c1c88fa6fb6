//! Backups of a SQLite database: a consistent copy taken while the server
//! runs (`VACUUM INTO`, which reads one snapshot of the database however
//! busy its writer is, and writes a compact file), and a restore that checks
//! the copy before it replaces the database (SQLite's backup API, page by
//! page into the destination under its write lock). PostgreSQL has
//! `pg_dump` and `pg_restore` for this.

use std::path::Path;

use rusqlite::{Connection, MAIN_DB, OpenFlags};

use crate::StoreError;
use crate::store::{StoreConfig, sqlite_path};

fn failed(what: &str, path: &Path, err: impl std::fmt::Display) -> StoreError {
    StoreError::Config(format!("{what} {}: {err}", path.display()))
}

/// The SQLite file a configuration names, or why it names none.
fn database_file(config: &StoreConfig) -> Result<std::path::PathBuf, StoreError> {
    if !config.url.starts_with("sqlite:") {
        return Err(StoreError::Config(
            "backups of PostgreSQL are taken with pg_dump and restored with pg_restore".into(),
        ));
    }
    sqlite_path(&config.url)?
        .ok_or_else(|| StoreError::Config("an in-memory database has nothing to back up".into()))
}

/// Checks that a file is a sound SQLite database of this schema.
fn check(connection: &Connection, path: &Path) -> Result<(), StoreError> {
    let verdict: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(|err| failed("cannot check", path, err))?;
    if verdict != "ok" {
        return Err(failed("integrity check failed for", path, verdict));
    }
    let migrated: i64 = connection
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'seaql_migrations'",
            [],
            |row| row.get(0),
        )
        .map_err(|err| failed("cannot read", path, err))?;
    if migrated == 0 {
        return Err(failed(
            "not an Experience Layer database:",
            path,
            "no migrations table",
        ));
    }
    Ok(())
}

/// Writes a consistent copy of the configured SQLite database to `target`
/// (which must not exist), then checks the copy. Safe while the server
/// runs: the copy is one snapshot, and writers go on meanwhile.
pub fn backup_sqlite(config: &StoreConfig, target: &Path) -> Result<(), StoreError> {
    let source = database_file(config)?;
    if target.exists() {
        return Err(failed("will not overwrite", target, "it exists"));
    }
    let connection = Connection::open_with_flags(
        &source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|err| failed("cannot open", &source, err))?;
    connection
        .busy_timeout(config.busy_timeout)
        .map_err(|err| failed("cannot open", &source, err))?;
    let target_text = target
        .to_str()
        .ok_or_else(|| failed("cannot write", target, "the path is not UTF-8"))?;
    connection
        .execute("VACUUM INTO ?1", [target_text])
        .map_err(|err| failed("cannot back up into", target, err))?;
    let copy = Connection::open_with_flags(target, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|err| failed("cannot open", target, err))?;
    check(&copy, target)
}

/// Replaces the configured SQLite database with the backup at `source`,
/// after checking the backup. Stop the server first: its connections
/// would keep pages of the database they had read.
pub fn restore_sqlite(config: &StoreConfig, source: &Path) -> Result<(), StoreError> {
    let target = database_file(config)?;
    let backup = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|err| failed("cannot open", source, err))?;
    check(&backup, source)?;
    drop(backup);
    if let Some(dir) = target.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|err| failed("cannot create", dir, err))?;
    }
    let mut destination =
        Connection::open(&target).map_err(|err| failed("cannot open", &target, err))?;
    destination
        .restore(MAIN_DB, source, None::<fn(rusqlite::backup::Progress)>)
        .map_err(|err| failed("cannot restore into", &target, err))?;
    check(&destination, &target)
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;

    use super::*;
    use crate::Store;
    use crate::db::Engine;

    #[tokio::test]
    async fn a_backup_taken_while_writing_restores_every_committed_row() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("xl.db").display());
        let config = StoreConfig::new(url.clone());
        let store = Store::connect(&config).await.unwrap();
        store.migrate_up(None).await.unwrap();
        let writer = store.clone();
        let write = move |n: i64| {
            let store = writer.clone();
            async move {
                let tx = store.begin_write().await.unwrap();
                tx.orm()
                    .execute_unprepared(&format!(
                        "INSERT INTO deleted_users (email, deleted_at) \
                         VALUES ('u{n}-{}@example.com', '2026-01-01T00:00:00Z')",
                        uuid::Uuid::now_v7().simple()
                    ))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                n
            }
        };
        for n in 0..20 {
            write(n).await;
        }
        // Writers keep going while the copy is taken.
        let writing = tokio::spawn({
            let write = write.clone();
            async move {
                for n in 0..50 {
                    write(n).await;
                }
            }
        });
        let copy = dir.path().join("backup.db");
        let (config_copy, copy_path) = (config.clone(), copy.clone());
        tokio::task::spawn_blocking(move || backup_sqlite(&config_copy, &copy_path))
            .await
            .unwrap()
            .unwrap();
        writing.await.unwrap();
        assert!(backup_sqlite(&config, &copy).is_err(), "never overwrites");
        let count = |path: &Path| -> i64 {
            Connection::open(path)
                .unwrap()
                .query_row("SELECT count(*) FROM deleted_users", [], |row| row.get(0))
                .unwrap()
        };
        let in_copy = count(&copy);
        assert!((20..=70).contains(&in_copy), "{in_copy}");
        store.close().await.unwrap();

        // Restored into a new place, the copy is what it was.
        let restored = StoreConfig::new(format!(
            "sqlite://{}",
            dir.path().join("restored/xl.db").display()
        ));
        restore_sqlite(&restored, &copy).unwrap();
        assert_eq!(count(&dir.path().join("restored/xl.db")), in_copy);
        // Something that is not a backup is refused, and nothing changes.
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"not a database").unwrap();
        assert!(restore_sqlite(&restored, &junk).is_err());
        assert_eq!(count(&dir.path().join("restored/xl.db")), in_copy);
        let postgres = StoreConfig::new("postgres://x@localhost/db");
        let err = backup_sqlite(&postgres, &junk).unwrap_err();
        assert!(err.to_string().contains("pg_dump"), "{err}");
    }
}
