//! Reactions on a message: list them, toggle one of yours, remove one of yours.

use actix_web::{HttpResponse, web};
use xl_domain::MessageId;
use xl_domain::object::Object;
use xl_domain::reactions::{NewReaction, ReactionName, ReactionSummary};
use xl_services::reactions::Toggled;

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers the reaction routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/messages/{id}/reactions")
            .get(list)
            .post(toggle),
    )
    .service(web::resource("/messages/{id}/reactions/{name}").delete(remove));
}

#[utoipa::path(get, path = "/api/v1/messages/{id}/reactions", tag = "Reactions", operation_id = "list_reactions",
    params(("id" = MessageId, Path, description = "The message")),
    responses((status = 200, description = "Each reaction with its count and whether the caller gave it", body = Envelope<Vec<ReactionSummary>>)))]
async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    Ok(Envelope::ok(
        state.services.list_reactions(&caller.0, id).await?,
    ))
}

/// 201 when the reaction was added, 200 when the same call took it away, so
/// a client can tell which without comparing summaries.
#[utoipa::path(post, path = "/api/v1/messages/{id}/reactions", tag = "Reactions", operation_id = "toggle_reaction",
    params(("id" = MessageId, Path, description = "The message")),
    request_body(content = NewReaction, example = json!({"name": "thumbsup"})),
    responses(
        (status = 201, description = "Added; the message's reactions", body = Envelope<Vec<ReactionSummary>>),
        (status = 200, description = "The caller had given it, so it was taken away; the message's reactions", body = Envelope<Vec<ReactionSummary>>),
        (status = 409, description = "The message is deleted, or has as many reactions as allowed (per person or in all)"),
    ))]
async fn toggle(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    body: web::Json<Object<NewReaction>>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    let name = ReactionName::parse(&body.name)?;
    let (toggled, summary) = state.services.toggle_reaction(&caller.0, id, name).await?;
    Ok(match toggled {
        Toggled::Added => Envelope::created(summary),
        Toggled::Removed => Envelope::ok(summary),
    })
}

#[utoipa::path(delete, path = "/api/v1/messages/{id}/reactions/{name}", tag = "Reactions", operation_id = "remove_reaction",
    params(("id" = MessageId, Path, description = "The message"), ("name" = String, Path, description = "The reaction, such as `thumbsup`")),
    responses((status = 200, description = "The message's reactions", body = Envelope<Vec<ReactionSummary>>)))]
async fn remove(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, name) = path.into_inner();
    let id: MessageId = id.parse()?;
    let name = ReactionName::parse(&name)?;
    Ok(Envelope::ok(
        state.services.remove_reaction(&caller.0, id, name).await?,
    ))
}
