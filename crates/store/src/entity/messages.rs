//! A message in a thread; `parent_id` links the messages of a thread into a tree of branches.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub thread_id: Uuid,
    pub org_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub blocks: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub metadata: Option<Json>,
    pub status: String,
    pub model: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
    pub token_count: Option<i32>,
    /// The tokenizer family `token_count` was counted with.
    pub token_family: Option<String>,
    /// Distance from the root of the thread's tree.
    pub depth: i32,
    /// A skew-binary jump pointer to an ancestor (the root's is itself).
    pub jump_id: Option<Uuid>,
    /// The depth of `jump_id`.
    pub jump_depth: i32,
    /// How many files the message links (rows of `message_files`).
    pub attachment_count: i32,
    pub edited_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::threads::Entity",
        from = "Column::ThreadId",
        to = "super::threads::Column::Id",
        on_delete = "Cascade"
    )]
    Threads,
    #[sea_orm(
        belongs_to = "super::orgs::Entity",
        from = "Column::OrgId",
        to = "super::orgs::Column::Id",
        on_delete = "Cascade"
    )]
    Orgs,
    #[sea_orm(
        belongs_to = "Entity",
        from = "Column::ParentId",
        to = "Column::Id",
        on_delete = "Cascade"
    )]
    Parent,
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "SetNull"
    )]
    Users,
    #[sea_orm(has_many = "super::message_revisions::Entity")]
    MessageRevisions,
    #[sea_orm(has_many = "super::reactions::Entity")]
    Reactions,
    #[sea_orm(has_many = "super::message_files::Entity")]
    MessageFiles,
    #[sea_orm(has_many = "super::artifacts::Entity")]
    Artifacts,
    #[sea_orm(has_many = "super::completions::Entity")]
    Completions,
}

impl Related<super::threads::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Threads.def()
    }
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

impl Related<super::message_files::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MessageFiles.def()
    }
}

impl Related<super::artifacts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Artifacts.def()
    }
}

impl Related<super::completions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Completions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
