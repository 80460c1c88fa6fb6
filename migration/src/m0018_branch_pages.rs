//! A page of a branch read as one index range, and only the attachments
//! that exist looked up.
//!
//! `messages (thread_id, depth)` lets a page of the current branch be read
//! as the thread's messages within the page's depths, newest first, one
//! range of one index, rather than one primary-key lookup per parent link;
//! the parent links then pick the branch out of that range (a range that
//! holds too many other branches falls back to the walk). `attachment_count`
//! is how many files a message links, so a page asks `message_files` only
//! about messages that have some. Existing messages are counted here.

use sea_orm_migration::prelude::*;

use crate::builders::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Iden)]
enum Messages {
    Table,
    AttachmentCount,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        index(manager, "messages", &["thread_id", "depth"], false).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .add_column(
                        ColumnDef::new(Messages::AttachmentCount)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE messages SET attachment_count = \
                   (SELECT COUNT(*) FROM message_files f WHERE f.message_id = messages.id) \
                 WHERE id IN (SELECT message_id FROM message_files)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(Messages::AttachmentCount)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("messages_thread_id_depth_idx")
                    .table("messages")
                    .to_owned(),
            )
            .await
    }
}
