//! Helpers for tests that need a real PostgreSQL server.
//!
//! Tests find the server through `XL_TEST_POSTGRES_URL` (a URL whose user may
//! create databases). Each test gets a database of its own, dropped at the end.
//! When the variable is missing the Postgres tests are skipped, except under
//! CI (`CI` set), where a missing server is an error.

use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

use crate::StoreError;
use crate::error::OrmResult;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "XL_TEST_POSTGRES_URL";

/// A scratch PostgreSQL database.
#[derive(Debug)]
pub struct PostgresTestDb {
    admin_url: String,
    name: String,
    /// The URL of the scratch database.
    pub url: String,
}

impl PostgresTestDb {
    /// Creates a fresh database, or returns `Ok(None)` when no server is
    /// configured outside CI.
    pub async fn create() -> Result<Option<Self>, StoreError> {
        let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
            if std::env::var_os("CI").is_some() {
                return Err(StoreError::Config(format!(
                    "{POSTGRES_URL_VAR} must be set in CI so the PostgreSQL tests run"
                )));
            }
            eprintln!("skipping: {POSTGRES_URL_VAR} is not set");
            return Ok(None);
        };
        let name = format!("xl_test_{}", Uuid::now_v7().simple());
        let admin = Database::connect(admin_url.as_str()).await.into_store()?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .into_store()?;
        admin.close().await.into_store()?;
        let url = replace_database(&admin_url, &name);
        Ok(Some(PostgresTestDb {
            admin_url,
            name,
            url,
        }))
    }

    /// Drops the database (connections to it must be closed first).
    pub async fn drop_database(self) -> Result<(), StoreError> {
        let admin = Database::connect(self.admin_url.as_str())
            .await
            .into_store()?;
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .into_store()?;
        admin.close().await.into_store()?;
        Ok(())
    }
}

/// Swaps the database name in a `postgres://user:pw@host:port/db?opts` URL.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{host_part}/{database}?{query}"),
        None => format!("{host_part}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn the_database_name_is_replaced_and_options_kept() {
        assert_eq!(
            replace_database("postgres://u:p@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h", "x"), "postgres://h/x");
    }
}
