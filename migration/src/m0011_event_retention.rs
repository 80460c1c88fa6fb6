//! Events are pruned after a retention window, by age: an index on
//! `events.created_at` keeps the prune from scanning every thread's log.

use sea_orm_migration::prelude::*;

use crate::builders::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index(manager, "events", &["created_at"], false).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("events_created_at_idx")
                    .table("events")
                    .to_owned(),
            )
            .await
    }
}
