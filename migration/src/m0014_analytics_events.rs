//! Client analytics events: what a client reports a person did (a named
//! event with a few properties), per user and org, summed by day in usage.

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{created_at, drop_tables, fk, index, table};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("analytics_events")
                    .col(pk_uuid("id"))
                    .col(uuid("org_id"))
                    .col(uuid_null("user_id"))
                    .col(string("name"))
                    .col(json_binary("properties"))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        "analytics_events",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "analytics_events",
                        "user_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "analytics_events",
            &["org_id", "created_at"],
            false,
        )
        .await?;
        index(
            manager,
            "analytics_events",
            &["user_id", "created_at"],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["analytics_events"]).await
    }
}
