//! The caller's own preferences: read, read one by dot path, patch, reset,
//! and list and apply presets.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use xl_services::preferences;

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/users/me/preferences` under the scope it is called in.
///
/// The `presets` resources come before `{path}`, which would otherwise take
/// `presets` for the name of a preference; all of them must be registered
/// before the users routes so `/users/{id}` never sees these paths.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/me/preferences")
            .get(get_all)
            .patch(update)
            .delete(reset),
    )
    .service(web::resource("/users/me/preferences/presets").get(list_presets))
    .service(web::resource("/users/me/preferences/presets/{name}").post(apply_preset))
    .service(web::resource("/users/me/preferences/{path}").get(get_one));
}

#[utoipa::path(get, path = "/api/v1/users/me/preferences", tag = "Preferences", operation_id = "get_preferences",
    responses((status = 200, description = "The complete document: the caller's values over the defaults", body = Envelope<preferences::Preferences>)))]
async fn get_all(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::ok(state.services.preferences(&caller.0).await?))
}

#[utoipa::path(get, path = "/api/v1/users/me/preferences/{path}", tag = "Preferences", operation_id = "get_preference",
    params(("path" = String, Path, description = "A dot path such as `ui.theme`")),
    responses((status = 200, description = "The value", body = Envelope<crate::openapi::PreferenceValue>)))]
async fn get_one(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let path = path.into_inner();
    let value = state.services.preference(&caller.0, &path).await?;
    Ok(Envelope::ok(json!({ "path": path, "value": value })))
}

/// Takes any JSON value, so a body that is not an object reaches the service
/// and is refused there as a 400 naming `body`, like every other bad field.
#[utoipa::path(patch, path = "/api/v1/users/me/preferences", tag = "Preferences", operation_id = "update_preferences",
    description = "An RFC 7396 merge patch: keys set to `null` go back to their defaults; every bad field is named in `errors` by its dot path.",
    request_body(content = Object, example = json!({"ui": {"theme": "dark"}, "notifications": {"digest": null}})),
    responses((status = 200, description = "The complete document", body = Envelope<preferences::Preferences>)))]
async fn update(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let preferences = state
        .services
        .update_preferences(&caller.0, &body.into_inner())
        .await?;
    Ok(Envelope::ok(preferences))
}

#[utoipa::path(delete, path = "/api/v1/users/me/preferences", tag = "Preferences", operation_id = "reset_preferences",
    responses((status = 200, description = "The defaults", body = Envelope<preferences::Preferences>)))]
async fn reset(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::ok(
        state.services.reset_preferences(&caller.0).await?,
    ))
}

/// The presets are the same for everyone, but like the rest of the
/// preferences they are for signed-in callers only.
#[utoipa::path(get, path = "/api/v1/users/me/preferences/presets", tag = "Preferences", operation_id = "list_preference_presets",
    responses((status = 200, description = "The presets", body = Envelope<Vec<preferences::Preset>>)))]
async fn list_presets(_caller: Authenticated) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::ok(preferences::presets()))
}

#[utoipa::path(post, path = "/api/v1/users/me/preferences/presets/{name}", tag = "Preferences", operation_id = "apply_preference_preset",
    params(("name" = String, Path, description = "The preset's name")),
    responses((status = 200, description = "The complete document", body = Envelope<preferences::Preferences>)))]
async fn apply_preset(
    state: web::Data<AppState>,
    caller: Authenticated,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let preferences = state
        .services
        .apply_preference_preset(&caller.0, &name)
        .await?;
    Ok(Envelope::ok(preferences))
}
