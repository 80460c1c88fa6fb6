//! The record of interactive actions: who used which element of which
//! message's blocks, with the payload as it was sent.

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{created_at, drop_tables, fk, index, table};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("interactive_actions")
                    .col(pk_uuid("id"))
                    .col(uuid("org_id"))
                    .col(uuid("thread_id"))
                    .col(uuid("message_id"))
                    .col(uuid("user_id"))
                    .col(string("action_id"))
                    .col(string("block_id"))
                    .col(string("action_type"))
                    .col(json_binary("payload"))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        "interactive_actions",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "interactive_actions",
                        "thread_id",
                        "threads",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "interactive_actions",
                        "message_id",
                        "messages",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "interactive_actions",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "interactive_actions", &["message_id", "id"], false).await?;
        index(manager, "interactive_actions", &["thread_id"], false).await?;
        index(manager, "interactive_actions", &["user_id"], false).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["interactive_actions"]).await
    }
}
