//! An uploaded file's metadata; its bytes live in storage under `storage_key`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Option<Uuid>,
    pub thread_id: Option<Uuid>,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub has_preview: bool,
    pub metadata: Option<Json>,
    pub created_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
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
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Users,
    #[sea_orm(
        belongs_to = "super::threads::Entity",
        from = "Column::ThreadId",
        to = "super::threads::Column::Id",
        on_delete = "SetNull"
    )]
    Threads,
    #[sea_orm(has_many = "super::message_files::Entity")]
    MessageFiles,
    #[sea_orm(has_many = "super::artifact_files::Entity")]
    ArtifactFiles,
}

impl Related<super::orgs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Orgs.def()
    }
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::threads::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Threads.def()
    }
}

impl Related<super::message_files::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MessageFiles.def()
    }
}

impl Related<super::artifact_files::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ArtifactFiles.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
