//! API keys: create (secret shown once), list, revoke.

use actix_web::{HttpResponse, web};
use xl_domain::ApiKeyId;
use xl_domain::object::Object;
use xl_services::auth::api_keys::NewApiKey;

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/api/v1/api-keys`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api-keys").get(list).post(create))
        .service(web::resource("/api-keys/{id}").delete(revoke));
}

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

async fn list(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::ok(state.services.list_api_keys(&caller.0).await?))
}

async fn revoke(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ApiKeyId = id.parse()?;
    state.services.revoke_api_key(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
