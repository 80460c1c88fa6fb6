//! The audit log: sign-ins and sign-outs, refresh-token reuse, sessions and
//! API keys, role changes, deletions, and administrators reading other
//! users, each recorded with who did it, the client's address and the
//! request's correlation id; read by the org's administrators.
//!
//! An entry is written in the transaction of the change it records, so one
//! exists exactly when the change does; a read by an administrator is
//! recorded on its own.

use serde_json::Value;
use xl_domain::audit::AuditEntry;
use xl_domain::{Actor, OrgId, Page, PageRequest, UserId};
pub use xl_store::repo::audit::AuditFilter;
use xl_store::repo::audit::NewEntry;
use xl_store::{Conn, repo};

use crate::users::require_admin;
use crate::{ServiceError, Services, context};

/// Who did an audited thing, and in which org.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Who {
    pub org: OrgId,
    pub user: Option<UserId>,
}

impl From<&Actor> for Who {
    fn from(actor: &Actor) -> Self {
        Who {
            org: actor.org_id,
            user: Some(actor.user_id),
        }
    }
}

/// Records an action, with the request's address and correlation id.
pub(crate) async fn record<C: Conn>(
    db: &C,
    who: Who,
    action: &'static str,
    target: Option<(&'static str, String)>,
    details: Option<Value>,
) -> Result<(), ServiceError> {
    let request = context::current();
    let (target_type, target_id) = target.map_or((None, None), |(kind, id)| (Some(kind), Some(id)));
    repo::audit::insert(
        db,
        NewEntry {
            org_id: Some(who.org),
            actor_id: who.user,
            action,
            target_type,
            target_id,
            ip: request.ip,
            correlation_id: (!request.correlation_id.is_empty()).then_some(request.correlation_id),
            details,
        },
    )
    .await?;
    Ok(())
}

impl Services {
    /// A page of the caller's org's audit log, newest first
    /// (administrators only).
    pub async fn audit_log(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, ServiceError> {
        require_admin(actor)?;
        Ok(repo::audit::list(self.store.reader(), actor.org_id, filter, page).await?)
    }
}
