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

/// Pagination and filters of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Entries per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Where the previous page ended (`pagination.next_cursor`).
    cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    order: Option<String>,
    /// Only this action, such as `auth.sign_in`.
    action: Option<String>,
    /// Only what this user did.
    actor_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "Audit", operation_id = "list_audit_log",
    description = "For administrators: their org's audit log, newest first. Actions: `auth.sign_in`, `auth.sign_out`, `auth.refresh_reuse`, `auth.session_revoked`, `api_key.created`, `api_key.revoked`, `user.role_changed`, `user.deleted`, `admin.read_user`, `thread.deleted`, `message.deleted`, `file.deleted`, `artifact.deleted`.",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = Envelope<Vec<xl_domain::audit::AuditEntry>>),
        (status = 403, description = "The caller is not an administrator"),
    ))]
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
