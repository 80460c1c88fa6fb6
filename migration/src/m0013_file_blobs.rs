//! Files are content-addressed: `file_blobs` counts the live files that
//! share one stored object (by SHA-256), so identical uploads are stored
//! once and the object goes when its last file does; files gain `metadata`.

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{created_at, drop_tables, index, table};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("file_blobs")
                    .col(string("sha256").primary_key())
                    .col(big_integer("size_bytes"))
                    .col(integer("ref_count"))
                    .col(created_at())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("files")
                    .add_column(json_binary_null("metadata"))
                    .to_owned(),
            )
            .await?;
        // Orphans are found by age among the org's files.
        index(manager, "files", &["created_at"], false).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("files_created_at_idx")
                    .table("files")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("files")
                    .drop_column("metadata")
                    .to_owned(),
            )
            .await?;
        drop_tables(manager, &["file_blobs"]).await
    }
}
