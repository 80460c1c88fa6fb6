//! Idempotency keys record what a create made, in the create's own
//! transaction: the key, a fingerprint of the request, and the ids of the
//! resources it created (JSON), which a retry reads back. The old shape
//! (a claim before the create, the HTTP response stored after it) is
//! dropped with its rows: they only guarded retries of the past day.

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{created_at, drop_tables, fk, index, table};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn keys(columns: &[ColumnDef]) -> TableCreateStatement {
    let mut statement = table("idempotency_keys");
    statement
        .col(pk_uuid("id"))
        .col(uuid("org_id"))
        .col(uuid("user_id"))
        .col(string("key"))
        .col(string("request_hash"));
    for column in columns {
        statement.col(column.clone());
    }
    statement
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
        .to_owned()
}

async fn recreate(manager: &SchemaManager<'_>, columns: &[ColumnDef]) -> Result<(), DbErr> {
    drop_tables(manager, &["idempotency_keys"]).await?;
    manager.create_table(keys(columns)).await?;
    index(manager, "idempotency_keys", &["user_id", "key"], true).await?;
    index(manager, "idempotency_keys", &["expires_at"], false).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate(manager, &[text("resource")]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate(
            manager,
            &[
                string("method"),
                string("path"),
                integer("status_code"),
                text("response_body"),
            ],
        )
        .await
    }
}
