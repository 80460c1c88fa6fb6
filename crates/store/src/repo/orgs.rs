//! Organisations.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use xl_domain::{Org, OrgId};

use crate::Conn;
use crate::StoreError;
use crate::entity::orgs;
use crate::error::OrmResult;

fn to_domain(row: orgs::Model) -> Org {
    Org {
        id: OrgId::from_uuid(row.id),
        slug: row.slug,
        name: row.name,
    }
}

/// The org with this slug.
pub async fn find_by_slug<C: Conn>(db: &C, slug: &str) -> Result<Option<Org>, StoreError> {
    Ok(orgs::Entity::find()
        .filter(orgs::Column::Slug.eq(slug))
        .one(db.orm())
        .await
        .into_store()?
        .map(to_domain))
}

/// The org with this id.
pub async fn find<C: Conn>(db: &C, id: OrgId) -> Result<Option<Org>, StoreError> {
    Ok(orgs::Entity::find_by_id(id.as_uuid())
        .one(db.orm())
        .await
        .into_store()?
        .map(to_domain))
}

/// The org with this slug, created (named after the slug) if it does not exist.
pub async fn find_or_create<C: Conn>(db: &C, slug: &str) -> Result<Org, StoreError> {
    if let Some(org) = find_by_slug(db, slug).await? {
        return Ok(org);
    }
    let now = Utc::now();
    let inserted = orgs::ActiveModel {
        id: Set(OrgId::new().as_uuid()),
        slug: Set(slug.to_owned()),
        name: Set(slug.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db.orm())
    .await
    .into_store();
    match inserted {
        Ok(row) => Ok(to_domain(row)),
        // Another replica created it between our read and write.
        Err(err) if err.is_conflict() => find_by_slug(db, slug)
            .await?
            .ok_or(StoreError::NotFound("org")),
        Err(err) => Err(err),
    }
}
