//! A user of an organisation, with the OIDC subject they sign in as, their email and role.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub subject: Option<String>,
    pub email: String,
    pub name: String,
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub avatar_url: Option<String>,
    pub last_seen_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::orgs::Entity",
        from = "Column::OrgId",
        to = "super::orgs::Column::Id",
        on_delete = "Cascade"
    )]
    Orgs,
    #[sea_orm(has_many = "super::sessions::Entity")]
    Sessions,
    #[sea_orm(has_many = "super::api_keys::Entity")]
    ApiKeys,
    #[sea_orm(has_one = "super::preferences::Entity")]
    Preferences,
    #[sea_orm(has_many = "super::audit_log::Entity")]
    AuditLog,
    #[sea_orm(has_many = "super::threads::Entity")]
    Threads,
    #[sea_orm(has_many = "super::thread_members::Entity")]
    ThreadMembers,
    #[sea_orm(has_many = "super::messages::Entity")]
    Messages,
    #[sea_orm(has_many = "super::message_revisions::Entity")]
    MessageRevisions,
    #[sea_orm(has_many = "super::reactions::Entity")]
    Reactions,
    #[sea_orm(has_many = "super::idempotency_keys::Entity")]
    IdempotencyKeys,
    #[sea_orm(has_many = "super::files::Entity")]
    Files,
    #[sea_orm(has_many = "super::artifacts::Entity")]
    Artifacts,
    #[sea_orm(has_many = "super::artifact_versions::Entity")]
    ArtifactVersions,
    #[sea_orm(has_many = "super::completions::Entity")]
    Completions,
}

impl Related<super::orgs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Orgs.def()
    }
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sessions.def()
    }
}

impl Related<super::api_keys::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiKeys.def()
    }
}

impl Related<super::preferences::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Preferences.def()
    }
}

impl Related<super::audit_log::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AuditLog.def()
    }
}

impl Related<super::threads::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Threads.def()
    }
}

impl Related<super::thread_members::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ThreadMembers.def()
    }
}

impl Related<super::messages::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Messages.def()
    }
}

impl Related<super::message_revisions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MessageRevisions.def()
    }
}

impl Related<super::reactions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Reactions.def()
    }
}

impl Related<super::idempotency_keys::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::IdempotencyKeys.def()
    }
}

impl Related<super::files::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Files.def()
    }
}

impl Related<super::artifacts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Artifacts.def()
    }
}

impl Related<super::artifact_versions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ArtifactVersions.def()
    }
}

impl Related<super::completions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Completions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
