//! API keys: create (secret shown once), list, revoke.

use actix_web::{HttpResponse, web};
use xl_domain::ApiKeyId;
use xl_domain::object::Object;
use xl_services::auth::api_keys::{CreatedApiKey, NewApiKey};

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/api/v1/api-keys`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api-keys").get(list).post(create))
        .service(web::resource("/api-keys/{id}").delete(revoke));
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "API keys", operation_id = "create_api_key",
    description = "Only a person signed in with a token may make keys, not a program with another key.",
    request_body(content = NewApiKey, example = json!({"name": "ci", "expires_in_days": 30})),
    responses(
        (status = 201, description = "The key; `secret` is shown only here", body = Envelope<CreatedApiKey>),
        (status = 409, description = "The caller holds the most keys allowed (`API_KEY_MAX_PER_USER`)"),
    ))]
async fn create(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<Object<NewApiKey>>,
) -> Result<HttpResponse, ApiError> {
    let created = state
        .services
        .create_api_key(&caller.0, body.into_inner().0)
        .await?;
    Ok(Envelope::created(created))
}

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "API keys", operation_id = "list_api_keys",
    responses((status = 200, description = "The caller's keys, without secrets", body = Envelope<Vec<xl_domain::ApiKey>>)))]
async fn list(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::ok(state.services.list_api_keys(&caller.0).await?))
}

#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "API keys", operation_id = "revoke_api_key",
    params(("id" = ApiKeyId, Path, description = "The key")),
    responses((status = 204, description = "Revoked")))]
async fn revoke(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApiKeyId = id.parse()?;
    state.services.revoke_api_key(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
