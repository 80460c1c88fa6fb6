//! `GET /audit`: the org's audit log, newest first, for its administrators
//! (403 for anyone else), with `action` and `actor_id` filters.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xl_domain::{PageRequest, UserId};
use xl_services::audit::AuditFilter;

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/audit`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit").get(list));
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    limit: Option<String>,
    cursor: Option<String>,
    order: Option<String>,
    action: Option<String>,
    actor_id: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(
        query.limit.as_deref(),
        query.cursor.as_deref(),
        query.order.as_deref(),
    )?;
    let actor_id = match query.actor_id.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<UserId>()
                .map_err(|_| ApiError::invalid_field("actor_id", "must be a user id (a UUID)"))?,
        ),
    };
    let filter = AuditFilter {
        action: query.action.clone().filter(|action| !action.is_empty()),
        actor_id,
    };
    let entries = state.services.audit_log(&caller.0, &filter, &page).await?;
    Ok(Envelope::page(entries))
}
