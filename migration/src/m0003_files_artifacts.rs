//! Files and their links to messages, artifacts with versions and their files.

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{created_at, drop_tables, fk, index, table, updated_at};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("files")
                    .col(pk_uuid("id"))
                    .col(uuid("org_id"))
                    .col(uuid_null("user_id"))
                    .col(uuid_null("thread_id"))
                    .col(string("filename"))
                    .col(string("content_type"))
                    .col(big_integer("size_bytes"))
                    .col(string("sha256"))
                    .col(string("storage_key"))
                    .col(boolean("has_preview").default(false))
                    .col(created_at())
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(&mut fk(
                        "files",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "files",
                        "user_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "files",
                        "thread_id",
                        "threads",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "files", &["org_id", "user_id", "id"], false).await?;
        index(manager, "files", &["thread_id"], false).await?;

        manager
            .create_table(
                table("message_files")
                    .col(uuid("message_id"))
                    .col(uuid("file_id"))
                    .col(integer("position").default(0))
                    .primary_key(Index::create().col("message_id").col("file_id"))
                    .foreign_key(&mut fk(
                        "message_files",
                        "message_id",
                        "messages",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "message_files",
                        "file_id",
                        "files",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "message_files", &["file_id"], false).await?;

        manager
            .create_table(
                table("artifacts")
                    .col(pk_uuid("id"))
                    .col(uuid("org_id"))
                    .col(uuid("user_id"))
                    .col(uuid_null("thread_id"))
                    .col(uuid_null("message_id"))
                    .col(string("kind"))
                    .col(string("title"))
                    .col(text_null("description"))
                    .col(integer("current_version").default(1))
                    .col(json_binary("metadata"))
                    .col(created_at())
                    .col(updated_at())
                    .col(timestamp_with_time_zone_null("deleted_at"))
                    .foreign_key(&mut fk(
                        "artifacts",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "artifacts",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "artifacts",
                        "thread_id",
                        "threads",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "artifacts",
                        "message_id",
                        "messages",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "artifacts", &["thread_id", "id"], false).await?;
        index(
            manager,
            "artifacts",
            &["org_id", "user_id", "updated_at"],
            false,
        )
        .await?;

        manager
            .create_table(
                table("artifact_versions")
                    .col(pk_uuid("id"))
                    .col(uuid("artifact_id"))
                    .col(integer("version"))
                    .col(string("title"))
                    .col(json_binary("content"))
                    .col(text_null("change_note"))
                    .col(uuid_null("created_by"))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        "artifact_versions",
                        "artifact_id",
                        "artifacts",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "artifact_versions",
                        "created_by",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "artifact_versions",
            &["artifact_id", "version"],
            true,
        )
        .await?;

        manager
            .create_table(
                table("artifact_files")
                    .col(uuid("artifact_id"))
                    .col(uuid("file_id"))
                    .primary_key(Index::create().col("artifact_id").col("file_id"))
                    .foreign_key(&mut fk(
                        "artifact_files",
                        "artifact_id",
                        "artifacts",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "artifact_files",
                        "file_id",
                        "files",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "artifact_files", &["file_id"], false).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "artifact_files",
                "artifact_versions",
                "artifacts",
                "message_files",
                "files",
            ],
        )
        .await
    }
}
