//! Organisations, users, sessions (refresh tokens), API keys, preferences and the audit log.

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{created_at, drop_tables, fk, index, table, updated_at};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("orgs")
                    .col(pk_uuid("id"))
                    .col(string("slug"))
                    .col(string("name"))
                    .col(created_at())
                    .col(updated_at())
                    .to_owned(),
            )
            .await?;
        index(manager, "orgs", &["slug"], true).await?;

        manager
            .create_table(
                table("users")
                    .col(pk_uuid("id"))
                    .col(uuid("org_id"))
                    .col(string_null("subject"))
                    .col(string("email"))
                    .col(string("name"))
                    .col(string("role"))
                    .col(text_null("avatar_url"))
                    .col(timestamp_with_time_zone_null("last_seen_at"))
                    .col(created_at())
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        "users",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "users", &["email"], true).await?;
        index(manager, "users", &["org_id", "id"], false).await?;
        index(manager, "users", &["subject"], false).await?;

        manager
            .create_table(
                table("sessions")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(uuid("family_id"))
                    .col(uuid_null("parent_id"))
                    .col(string("token_hash"))
                    .col(text_null("user_agent"))
                    .col(string_null("ip"))
                    .col(created_at())
                    .col(timestamp_with_time_zone("last_used_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("rotated_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(string_null("revoked_reason"))
                    .foreign_key(&mut fk(
                        "sessions",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "sessions", &["token_hash"], true).await?;
        index(manager, "sessions", &["user_id", "id"], false).await?;
        index(manager, "sessions", &["family_id"], false).await?;

        manager
            .create_table(
                table("api_keys")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(uuid("org_id"))
                    .col(string("name"))
                    .col(string("prefix"))
                    .col(string("key_hash"))
                    .col(created_at())
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(timestamp_with_time_zone_null("expires_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut fk(
                        "api_keys",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "api_keys",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "api_keys", &["key_hash"], true).await?;
        index(manager, "api_keys", &["user_id", "id"], false).await?;

        manager
            .create_table(
                table("preferences")
                    .col(uuid("user_id").primary_key())
                    .col(json_binary("data"))
                    .col(updated_at())
                    .foreign_key(&mut fk(
                        "preferences",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                table("audit_log")
                    .col(pk_uuid("id"))
                    .col(uuid_null("org_id"))
                    .col(uuid_null("actor_id"))
                    .col(string("action"))
                    .col(string_null("target_type"))
                    .col(string_null("target_id"))
                    .col(string_null("ip"))
                    .col(string_null("correlation_id"))
                    .col(json_binary_null("details"))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        "audit_log",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "audit_log",
                        "actor_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "audit_log", &["org_id", "id"], false).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "audit_log",
                "preferences",
                "api_keys",
                "sessions",
                "users",
                "orgs",
            ],
        )
        .await
    }
}
