//! Who a person is and which org they belong to: identities bound to
//! (issuer, subject), the mail domains an org owns, invitations across
//! domains, and the addresses of deleted users (whose old tokens stay refused).

use sea_orm_migration::{prelude::*, schema::*};

use crate::builders::{created_at, drop_tables, fk, index, table};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("user_identities")
                    .col(string("issuer"))
                    .col(string("subject"))
                    .col(uuid("user_id"))
                    .col(created_at())
                    .primary_key(Index::create().col("issuer").col("subject"))
                    .foreign_key(&mut fk(
                        "user_identities",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "user_identities", &["user_id", "issuer"], true).await?;

        manager
            .create_table(
                table("org_domains")
                    .col(string("domain").primary_key())
                    .col(uuid("org_id"))
                    .col(created_at())
                    .foreign_key(&mut fk(
                        "org_domains",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "org_domains", &["org_id"], false).await?;

        manager
            .create_table(
                table("invitations")
                    .col(pk_uuid("id"))
                    .col(uuid("org_id"))
                    .col(string("email"))
                    .col(string("role"))
                    .col(uuid_null("invited_by"))
                    .col(created_at())
                    .col(timestamp_with_time_zone_null("accepted_at"))
                    .foreign_key(&mut fk(
                        "invitations",
                        "org_id",
                        "orgs",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "invitations",
                        "invited_by",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(manager, "invitations", &["org_id", "email"], true).await?;
        index(manager, "invitations", &["email"], false).await?;

        manager
            .create_table(
                table("deleted_users")
                    .col(string("email").primary_key())
                    .col(timestamp_with_time_zone("deleted_at"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "deleted_users",
                "invitations",
                "org_domains",
                "user_identities",
            ],
        )
        .await
    }
}
