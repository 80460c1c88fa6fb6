//! Users: list and create or invite (admin), me, get, update, delete; and the legacy
//! `/users` routes with the same rules.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xl_domain::object::Object;
use xl_domain::users::{Enrolment, NewUser, UserFilter, UserUpdate};
use xl_domain::{PageRequest, Role, UserId};

use crate::auth::{Admin, Authenticated};
use crate::{ApiError, AppState, Envelope};

/// Registers `/users` under the scope it is called in.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").get(list).post(create))
        .service(web::resource("/users/me").get(me))
        .service(
            web::resource("/users/{id}")
                .get(get)
                .put(update)
                .delete(delete),
        );
}

/// Registers the legacy `/users` routes at the root.
pub fn configure_legacy(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").get(list).post(create));
}

/// Query parameters of a list: pagination plus filters.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    order: Option<String>,
    email: Option<String>,
    role: Option<String>,
}

impl ListQuery {
    fn page(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::parse(
            self.limit.as_deref(),
            self.cursor.as_deref(),
            self.order.as_deref(),
        )?)
    }
}

async fn list(
    state: web::Data<AppState>,
    caller: Admin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let role = match query.role.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(raw.to_ascii_uppercase().parse::<Role>()?),
    };
    let filter = UserFilter {
        email: query.email.clone().filter(|e| !e.is_empty()),
        role,
    };
    let users = state.services.list_users(&caller.0, &filter, &page).await?;
    Ok(Envelope::page(users))
}

async fn create(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<Object<NewUser>>,
) -> Result<HttpResponse, ApiError> {
    let enrolment = state
        .services
        .create_user(&caller.0, body.into_inner().0)
        .await?;
    Ok(match enrolment {
        Enrolment::User(user) => Envelope::created(user),
        // An address outside the org's domains is invited, never created.
        Enrolment::Invitation(invitation) => {
            Envelope::with_status(StatusCode::ACCEPTED, invitation)
        }
    })
}

async fn me(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::ok(state.services.me(&caller.0).await?))
}

async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = id.parse()?;
    Ok(Envelope::ok(state.services.get_user(&caller.0, id).await?))
}

async fn update(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    body: web::Json<Object<UserUpdate>>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = id.parse()?;
    let user = state
        .services
        .update_user(&caller.0, id, body.into_inner().0)
        .await?;
    Ok(Envelope::ok(user))
}

async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = id.parse()?;
    state.services.delete_user(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
