//! Threads, their tags and members, messages with revisions, reactions, the
//! per-thread event log and idempotency keys.

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{created_at, drop_tables, fk, index, table, updated_at};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("threads")
                    .col(pk_uuid("id"))
                    .col(uuid("org_id"))
                    .col(uuid("owner_id"))
                    .col(string_null("title"))
                    .col(text_null("description"))
                    .col(text_null("system_prompt"))
                    .col(string_null("model"))
                    .col(json_binary("metadata"))
                    .col(boolean("auto_reply").default(true))
                    .col(boolean("pinned").default(false))
                    .col(boolean("archived").default(false))
                    .col(uuid_null("current_leaf_id"))
                    .col(big_integer("last_event_seq").default(0))
                    .col(integer("message_count").default(0))
                    .col(timestamp_with_time_zone_null("last_message_at"))
                    .col(created_at())
                    .col(updated_at())
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(&mut fk(
                        "threads",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "threads",
                        "owner_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "threads",
            &["org_id", "owner_id", "updated_at"],
            false,
        )
        .await?;
        index(manager, "threads", &["org_id", "updated_at"], false).await?;

        manager
            .create_table(
                table("thread_tags")
                    .col(uuid("thread_id"))
                    .col(string("tag"))
                    .primary_key(Index::create().col("thread_id").col("tag"))
                    .foreign_key(&mut fk(
                        "thread_tags",
                        "thread_id",
                        "threads",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "thread_tags", &["tag", "thread_id"], false).await?;

        manager
            .create_table(
                table("thread_members")
                    .col(uuid("thread_id"))
                    .col(uuid("user_id"))
                    .col(string("role"))
                    .col(uuid_null("added_by"))
                    .col(created_at())
                    .primary_key(Index::create().col("thread_id").col("user_id"))
                    .foreign_key(&mut fk(
                        "thread_members",
                        "thread_id",
                        "threads",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "thread_members",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "thread_members", &["user_id", "thread_id"], false).await?;

        manager
            .create_table(
                table("messages")
                    .col(pk_uuid("id"))
                    .col(uuid("thread_id"))
                    .col(uuid("org_id"))
                    .col(uuid_null("parent_id"))
                    .col(uuid_null("user_id"))
                    .col(string("role"))
                    .col(text("content"))
                    .col(json_binary_null("blocks"))
                    .col(json_binary_null("metadata"))
                    .col(string("status"))
                    .col(string_null("model"))
                    .col(text_null("error"))
                    .col(integer_null("token_count"))
                    .col(timestamp_with_time_zone_null("edited_at"))
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        "messages",
                        "thread_id",
                        "threads",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "messages",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "messages",
                        "parent_id",
                        "messages",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "messages",
                        "user_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "messages", &["thread_id", "id"], false).await?;
        index(manager, "messages", &["parent_id"], false).await?;
        index(manager, "messages", &["user_id", "id"], false).await?;

        manager
            .create_table(
                table("message_revisions")
                    .col(pk_uuid("id"))
                    .col(uuid("message_id"))
                    .col(uuid_null("editor_id"))
                    .col(text("content"))
                    .col(json_binary_null("blocks"))
                    .col(json_binary_null("metadata"))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        "message_revisions",
                        "message_id",
                        "messages",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "message_revisions",
                        "editor_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "message_revisions", &["message_id", "id"], false).await?;

        manager
            .create_table(
                table("reactions")
                    .col(pk_uuid("id"))
                    .col(uuid("message_id"))
                    .col(uuid("user_id"))
                    .col(string("name"))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        "reactions",
                        "message_id",
                        "messages",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "reactions",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "reactions",
            &["message_id", "user_id", "name"],
            true,
        )
        .await?;
        index(manager, "reactions", &["message_id", "name"], false).await?;

        manager
            .create_table(
                table("idempotency_keys")
                    .col(pk_uuid("id"))
                    .col(uuid("org_id"))
                    .col(uuid("user_id"))
                    .col(string("key"))
                    .col(string("method"))
                    .col(string("path"))
                    .col(string("request_hash"))
                    .col(integer("status_code"))
                    .col(text("response_body"))
                    .col(created_at())
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut fk(
                        "idempotency_keys",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "idempotency_keys",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "idempotency_keys", &["user_id", "key"], true).await?;
        index(manager, "idempotency_keys", &["expires_at"], false).await?;

        manager
            .create_table(
                table("events")
                    .col(pk_uuid("id"))
                    .col(uuid("thread_id"))
                    .col(big_integer("seq"))
                    .col(string("kind"))
                    .col(uuid_null("message_id"))
                    .col(uuid_null("actor_id"))
                    .col(json_binary("payload"))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        "events",
                        "thread_id",
                        "threads",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "events", &["thread_id", "seq"], true).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "events",
                "idempotency_keys",
                "reactions",
                "message_revisions",
                "messages",
                "thread_members",
                "thread_tags",
                "threads",
            ],
        )
        .await
    }
}
