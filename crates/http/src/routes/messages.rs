//! Messages: list and post in a thread; get, edit, delete; revisions.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use xl_domain::messages::{Branch, MessageUpdate, NewMessage};
use xl_domain::{DomainError, MessageId, PageRequest, ThreadId};

use crate::auth::Authenticated;
use crate::body::{parse_json, read_body};
use crate::idempotency::idempotent;
use crate::{ApiError, AppState, Envelope};

/// Registers the message routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/threads/{id}/messages")
            .get(list)
            .post(create),
    )
    .service(
        web::resource("/messages/{id}")
            .get(get)
            .put(edit)
            .patch(edit)
            .delete(delete),
    )
    .service(web::resource("/messages/{id}/revisions").get(revisions));
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    order: Option<String>,
    branch: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let thread: ThreadId = id.parse()?;
    let page = PageRequest::parse(
        query.limit.as_deref(),
        query.cursor.as_deref(),
        query.order.as_deref(),
    )?;
    let branch = match query.branch.as_deref() {
        None | Some("" | "current") => Branch::Current,
        Some("all") => Branch::All,
        Some(_) => return Err(DomainError::invalid("branch", "must be current or all").into()),
    };
    Ok(Envelope::page(
        state
            .services
            .list_messages(&caller.0, thread, branch, &page)
            .await?,
    ))
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let thread: ThreadId = id.parse()?;
    let body = read_body(payload, state.config.max_json_bytes).await?;
    let input: NewMessage = parse_json(&req, &body)?;
    let actor = caller.0;
    idempotent(&req, &state, &actor, &body, StatusCode::CREATED, || async {
        Ok(state.services.post_message(&actor, thread, input).await?)
    })
    .await
}

async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    Ok(Envelope::ok(
        state.services.get_message(&caller.0, id).await?,
    ))
}

async fn edit(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    body: web::Json<MessageUpdate>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    Ok(Envelope::ok(
        state
            .services
            .edit_message(&caller.0, id, body.into_inner())
            .await?,
    ))
}

async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    state.services.delete_message(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn revisions(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    Ok(Envelope::ok(
        state.services.message_revisions(&caller.0, id).await?,
    ))
}
