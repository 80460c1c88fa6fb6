//! Users: list and create or invite (admin), me, get, update, delete; and the legacy
//! `/users` routes with the same rules.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xl_domain::object::Object;
use xl_domain::users::{Enrolment, Invitation, NewUser, User, UserFilter, UserUpdate};
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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(value_type = Option<xl_domain::Order>)]
    order: Option<String>,
    /// Only this address.
    email: Option<String>,
    /// Only this role.
    #[param(value_type = Option<Role>)]
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

#[utoipa::path(get, path = "/api/v1/users", tag = "Users", operation_id = "list_users",
    description = "For administrators: the org's users.",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of users", body = Envelope<Vec<User>>),
        (status = 403, description = "The caller is not an administrator"),
    ))]
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

#[utoipa::path(post, path = "/api/v1/users", tag = "Users", operation_id = "create_user",
    description = "For administrators: an address in the org's own domains becomes a user (201); any other is invited (202) and joins at its first sign-in.",
    request_body(content = NewUser, example = json!({"email": "grace@example.com", "name": "Grace", "role": "USER"})),
    responses(
        (status = 201, description = "The user", body = Envelope<User>),
        (status = 202, description = "An invitation", body = Envelope<Invitation>),
        (status = 403, description = "The caller is not an administrator"),
        (status = 409, description = "The address already has an account"),
    ))]
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

#[utoipa::path(get, path = "/api/v1/users/me", tag = "Users", operation_id = "get_own_user",
    responses((status = 200, description = "The caller", body = Envelope<User>)))]
async fn me(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::ok(state.services.me(&caller.0).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "Users", operation_id = "get_user",
    params(("id" = UserId, Path, description = "The user")),
    responses((status = 200, description = "The user", body = Envelope<User>)))]
async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = id.parse()?;
    Ok(Envelope::ok(state.services.get_user(&caller.0, id).await?))
}

#[utoipa::path(put, path = "/api/v1/users/{id}", tag = "Users", operation_id = "update_user",
    description = "People change their own name; administrators also roles.",
    params(("id" = UserId, Path, description = "The user")),
    request_body(content = UserUpdate, example = json!({"name": "Ada Lovelace"})),
    responses(
        (status = 200, description = "The user", body = Envelope<User>),
        (status = 409, description = "The org's last administrator cannot be demoted"),
    ))]
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

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "Users", operation_id = "delete_user",
    params(("id" = UserId, Path, description = "The user")),
    responses(
        (status = 204, description = "Deleted; their tokens and keys stop working"),
        (status = 409, description = "Callers cannot delete themselves"),
    ))]
async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: UserId = id.parse()?;
    state.services.delete_user(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
