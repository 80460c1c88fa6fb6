//! Applies, rolls back and reports the schema migrations.

use migration::{MigrationStatus, Migrator, MigratorTrait};

use crate::{Store, StoreError};

/// One migration and whether it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's name.
    pub name: String,
    /// Whether it has been applied.
    pub applied: bool,
}

impl Store {
    /// Applies pending migrations (all, or at most `steps`).
    pub async fn migrate_up(&self, steps: Option<u32>) -> Result<(), StoreError> {
        Ok(Migrator::up(self.writer(), steps).await?)
    }

    /// Rolls back applied migrations (all, or the last `steps`).
    pub async fn migrate_down(&self, steps: Option<u32>) -> Result<(), StoreError> {
        Ok(Migrator::down(self.writer(), steps).await?)
    }

    /// Drops every table and applies all migrations again.
    pub async fn migrate_fresh(&self) -> Result<(), StoreError> {
        Ok(Migrator::fresh(self.writer()).await?)
    }

    /// Every known migration, in order, with whether it is applied.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        let migrations = Migrator::get_migration_with_status(self.writer()).await?;
        Ok(migrations
            .iter()
            .map(|migration| MigrationState {
                name: migration.name().to_owned(),
                applied: migration.status() == MigrationStatus::Applied,
            })
            .collect())
    }
}
