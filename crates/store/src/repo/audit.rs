//! The audit log, per org, newest first.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use xl_domain::audit::AuditEntry;
use xl_domain::{AuditId, Cursor, OrgId, Page, PageRequest, UserId};

use crate::Conn;
use crate::StoreError;
use crate::entity::audit_log;
use crate::error::OrmResult;

/// An entry to record.
#[derive(Clone, Debug)]
pub struct NewEntry {
    /// The org.
    pub org_id: Option<OrgId>,
    /// Who.
    pub actor_id: Option<UserId>,
    /// What.
    pub action: &'static str,
    /// To what kind of thing.
    pub target_type: Option<&'static str>,
    /// To which.
    pub target_id: Option<String>,
    /// From where.
    pub ip: Option<String>,
    /// In which request.
    pub correlation_id: Option<String>,
    /// More.
    pub details: Option<serde_json::Value>,
}

fn to_domain(row: audit_log::Model) -> AuditEntry {
    AuditEntry {
        id: AuditId::from_uuid(row.id),
        org_id: row.org_id.map(OrgId::from_uuid),
        actor_id: row.actor_id.map(UserId::from_uuid),
        action: row.action,
        target_type: row.target_type,
        target_id: row.target_id,
        ip: row.ip,
        correlation_id: row.correlation_id,
        details: row.details,
        created_at: row.created_at,
    }
}

/// Records an entry.
pub async fn insert<C: Conn>(db: &C, entry: NewEntry) -> Result<(), StoreError> {
    audit_log::ActiveModel {
        id: Set(AuditId::new().as_uuid()),
        org_id: Set(entry.org_id.map(|id| id.as_uuid())),
        actor_id: Set(entry.actor_id.map(|id| id.as_uuid())),
        action: Set(entry.action.to_owned()),
        target_type: Set(entry.target_type.map(str::to_owned)),
        target_id: Set(entry.target_id),
        ip: Set(entry.ip),
        correlation_id: Set(entry.correlation_id),
        details: Set(entry.details),
        created_at: Set(Utc::now()),
    }
    .insert(db.orm())
    .await
    .into_store()?;
    Ok(())
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor's.
    pub actor_id: Option<UserId>,
}

/// A page of an org's entries.
pub async fn list<C: Conn>(
    db: &C,
    org: OrgId,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<AuditEntry>, StoreError> {
    let mut query = audit_log::Entity::find().filter(audit_log::Column::OrgId.eq(org.as_uuid()));
    if let Some(action) = &filter.action {
        query = query.filter(audit_log::Column::Action.eq(action.as_str()));
    }
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit_log::Column::ActorId.eq(actor.as_uuid()));
    }
    let rows = super::keyset(query, audit_log::Column::Id, page)
        .all(db.orm())
        .await
        .into_store()?;
    let entries: Vec<AuditEntry> = rows.into_iter().map(to_domain).collect();
    Ok(Page::from_overfetch(entries, page.limit, |entry| {
        Cursor::after(entry.id.as_uuid())
    }))
}
