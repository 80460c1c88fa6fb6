//! Rate-limit buckets shared by every replica on one database
//! (`XL_RATE_LIMITS=shared`): one row per bucket and caller, holding the
//! bucket's theoretical arrival time (GCRA) in microseconds since the epoch.

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{drop_tables, table};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("rate_buckets")
                    .col(string("key").primary_key())
                    .col(big_integer("tat"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["rate_buckets"]).await
    }
}
