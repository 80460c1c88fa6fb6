//! The record of every model call: request, response or error, usage, cost and latency.

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{created_at, drop_tables, fk, index, table};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("completions")
                    .col(pk_uuid("id"))
                    .col(uuid("org_id"))
                    .col(uuid_null("user_id"))
                    .col(uuid_null("api_key_id"))
                    .col(uuid_null("thread_id"))
                    .col(uuid_null("message_id"))
                    .col(string("model"))
                    .col(string("provider"))
                    .col(boolean("stream").default(false))
                    .col(string("status"))
                    .col(json_binary("request"))
                    .col(json_binary_null("response"))
                    .col(text_null("error"))
                    .col(integer("prompt_tokens").default(0))
                    .col(integer("completion_tokens").default(0))
                    .col(integer("total_tokens").default(0))
                    .col(big_integer("cost_micros").default(0))
                    .col(integer("latency_ms").default(0))
                    .col(integer_null("first_byte_ms"))
                    .col(created_at())
                    .col(timestamp_with_time_zone_null("finished_at"))
                    .foreign_key(&mut fk(
                        "completions",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "completions",
                        "user_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "completions",
                        "api_key_id",
                        "api_keys",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "completions",
                        "thread_id",
                        "threads",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "completions",
                        "message_id",
                        "messages",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "completions", &["org_id", "created_at"], false).await?;
        index(manager, "completions", &["user_id", "created_at"], false).await?;
        index(manager, "completions", &["thread_id"], false).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["completions"]).await
    }
}
