//! Messages: list and post in a thread (with the assistant's reply); get,
//! edit, delete; revisions; follow, cancel and regenerate a reply.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use xl_domain::messages::{Branch, MessageUpdate, NewMessage};
use xl_domain::object::Object;
use xl_domain::{DomainError, Message, MessageId, PageRequest, ThreadId};
use xl_services::assistant::ReplyMode;

use crate::auth::Authenticated;
use crate::body::{parse_json, read_body};
use crate::correlation::detached;
use crate::idempotency::{created, retry_of};
use crate::sse::ResumeQuery;
use crate::{ApiError, AppState, Envelope, sse};

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
    .service(web::resource("/messages/{id}/revisions").get(revisions))
    .service(web::resource("/messages/{id}/stream").get(stream))
    .service(web::resource("/messages/{id}/cancel").post(cancel))
    .service(web::resource("/messages/{id}/regenerate").post(regenerate));
}

/// `?reply=sync|stream` on requests that may start an assistant reply.
#[derive(Debug, Deserialize)]
struct ReplyQuery {
    reply: Option<String>,
}

impl ReplyQuery {
    fn mode(&self, state: &AppState) -> Result<ReplyMode, ApiError> {
        match self.reply.as_deref() {
            None | Some("") => Ok(state.services.config.default_reply_mode),
            Some(raw) => Ok(raw.parse()?),
        }
    }
}

/// What a post answers: the message alone, or, when the assistant replied,
/// both messages in the seed API's shape.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Posted {
    Plain(Box<Message>),
    WithReply(Box<WithReply>),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct WithReply {
    user_message: Message,
    assistant_message: Message,
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
    query: web::Query<ReplyQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let thread: ThreadId = id.parse()?;
    let mode = query.mode(&state)?;
    let body = read_body(payload, state.config.max_json_bytes).await?;
    let input: NewMessage = parse_json(&req, &body)?;
    let actor = caller.0;
    let retry = retry_of(&req, &body)?;
    // Detached: a client that leaves must not stop the post between its
    // commit and the start of its reply (which would stay `streaming`
    // until a restart), whether or not the server drops the handler of a
    // gone client (actix-http's behaviour here has changed between versions).
    detached(async move {
        let posted = state
            .services
            .post_message_once(&actor, thread, input, mode, retry.as_ref())
            .await?;
        Ok(created(posted.map(|posted| match posted.reply {
            None => Posted::Plain(Box::new(posted.message)),
            Some(reply) => Posted::WithReply(Box::new(WithReply {
                user_message: posted.message,
                assistant_message: reply,
            })),
        })))
    })
    .await
    .map_err(|err| ApiError::Internal(format!("posting a message failed: {err}")))?
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
    body: web::Json<Object<MessageUpdate>>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    Ok(Envelope::ok(
        state
            .services
            .edit_message(&caller.0, id, body.into_inner().0)
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

/// The reply's events as server-sent events, from the start or after
/// `Last-Event-ID` (or `?after=`), live until it ends.
async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    query: web::Query<ResumeQuery>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    let after = sse::resume_position(&req, &query)?;
    let events = state.services.follow_message(&caller.0, id, after).await?;
    Ok(sse::response(events, state.config.sse_keep_alive))
}

async fn cancel(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    Ok(Envelope::ok(
        state.services.cancel_reply(&caller.0, id).await?,
    ))
}

async fn regenerate(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    query: web::Query<ReplyQuery>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    let mode = query.mode(&state)?;
    let actor = caller.0;
    // The request has no body, so the key alone identifies a retry.
    let retry = retry_of(&req, b"")?;
    // Detached for the same reason as a post.
    detached(async move {
        let reply = state
            .services
            .regenerate_reply_once(&actor, id, mode, retry.as_ref())
            .await?;
        Ok(created(reply))
    })
    .await
    .map_err(|err| ApiError::Internal(format!("regenerating a reply failed: {err}")))?
}
