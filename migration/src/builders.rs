//! Small builders shared by the migrations: tables, foreign keys and indexes.

use sea_orm_migration::prelude::*;

/// Starts a `CREATE TABLE` statement.
pub fn table(name: &'static str) -> TableCreateStatement {
    Table::create().table(name).to_owned()
}

/// A foreign key from `table.column` to `target.id`.
pub fn fk(
    table: &'static str,
    column: &'static str,
    target: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to(target, "id")
        .on_delete(on_delete)
        .to_owned()
}

/// Creates a (possibly unique) index named after its table and columns.
pub async fn index(
    manager: &SchemaManager<'_>,
    table: &'static str,
    columns: &[&'static str],
    unique: bool,
) -> Result<(), DbErr> {
    let suffix = if unique { "key" } else { "idx" };
    let mut statement = Index::create()
        .name(format!("{table}_{}_{suffix}", columns.join("_")))
        .table(table)
        .to_owned();
    for column in columns {
        statement.col(*column);
    }
    if unique {
        statement.unique();
    }
    manager.create_index(statement).await
}

/// Drops the given tables, in the order given (children first).
pub async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: &[&'static str],
) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(*table).to_owned())
            .await?;
    }
    Ok(())
}

/// `created_at`, not null.
pub fn created_at() -> ColumnDef {
    ColumnDef::new("created_at")
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// `updated_at`, not null.
pub fn updated_at() -> ColumnDef {
    ColumnDef::new("updated_at")
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}
