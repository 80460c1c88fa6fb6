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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ReplyQuery {
    /// `sync` or `stream` (default: the server's `DEFAULT_REPLY_MODE`).
    #[param(value_type = Option<ReplyMode>)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
enum Posted {
    Plain(Box<Message>),
    WithReply(Box<WithReply>),
}

/// A message and the assistant's reply to it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct WithReply {
    user_message: Message,
    assistant_message: Message,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    #[param(value_type = Option<xl_domain::Order>)]
    order: Option<String>,
    /// `current` (the current branch, the default) or `all` (every message of the tree).
    branch: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/threads/{id}/messages", tag = "Messages", operation_id = "list_messages",
    params(("id" = ThreadId, Path, description = "The thread"), ListQuery),
    responses((status = 200, description = "A page of messages", body = Envelope<Vec<Message>>)))]
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

#[utoipa::path(post, path = "/api/v1/threads/{id}/messages", tag = "Messages", operation_id = "post_message",
    description = "Posts a message; a user's message may start the assistant's reply: `?reply=sync` answers once it is written, `stream` at once with the reply `streaming` (follow it at `GET /messages/{id}/stream`). Send `Idempotency-Key` to make a retry safe.",
    params(("id" = ThreadId, Path, description = "The thread"), ReplyQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry answer what the first request made")),
    request_body(content = NewMessage, example = json!({"content": "What should I see in Lisbon?"})),
    responses(
        (status = 201, description = "The message, or with the assistant's reply `{userMessage, assistantMessage}`; `Idempotent-Replayed: true` on a replay", body = Envelope<Posted>),
        (status = 409, description = "The same `Idempotency-Key` still in progress"),
        (status = 422, description = "The same `Idempotency-Key` was used with a different request"),
        (status = 502, description = "The model provider failed (`?reply=sync`)"),
        (status = 503, description = "The reply could not be generated (`?reply=sync`)"),
        (status = 504, description = "The model provider did not answer in time (`?reply=sync`)"),
    ))]
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

#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "Messages", operation_id = "get_message",
    params(("id" = MessageId, Path, description = "The message")),
    responses((status = 200, description = "The message", body = Envelope<Message>)))]
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

#[utoipa::path(method(put, patch), path = "/api/v1/messages/{id}", tag = "Messages", operation_id = "edit_message",
    description = "Edits a message, keeping the old text as a revision. For its author and administrators.",
    params(("id" = MessageId, Path, description = "The message")),
    request_body(content = MessageUpdate, example = json!({"content": "What should I see in Porto?"})),
    responses(
        (status = 200, description = "The message", body = Envelope<Message>),
        (status = 409, description = "The message has been deleted"),
    ))]
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

#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "Messages", operation_id = "delete_message",
    description = "Leaves a tombstone, so the tree keeps its shape.",
    params(("id" = MessageId, Path, description = "The message")),
    responses((status = 204, description = "Deleted")))]
async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: MessageId = id.parse()?;
    state.services.delete_message(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/messages/{id}/revisions", tag = "Messages", operation_id = "list_message_revisions",
    params(("id" = MessageId, Path, description = "The message")),
    responses((status = 200, description = "Earlier versions, oldest first", body = Envelope<Vec<xl_domain::messages::Revision>>)))]
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
#[utoipa::path(get, path = "/api/v1/messages/{id}/stream", tag = "Messages", operation_id = "follow_reply",
    description = "A reply's events as server-sent events (`message.created`, `message.delta` with the text added, `message.completed`), from the start or after `Last-Event-ID` / `?after=`, live until the reply ends.",
    params(("id" = MessageId, Path, description = "The reply"), ResumeQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses((status = 200, description = "The event stream", content_type = "text/event-stream", body = crate::openapi::ServerSentEvent,
        example = json!("id: 3\nevent: message.delta\ndata: {\"message_id\":\"…\",\"delta\":\"Hello\"}\n\n"))))]
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

#[utoipa::path(post, path = "/api/v1/messages/{id}/cancel", tag = "Messages", operation_id = "cancel_reply",
    params(("id" = MessageId, Path, description = "The reply")),
    responses(
        (status = 200, description = "The reply, `cancelled` with its partial text", body = Envelope<Message>),
        (status = 409, description = "The message is not a reply being generated, or it ended first"),
        (status = 503, description = "The reply is still stopping; try again"),
    ))]
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

#[utoipa::path(post, path = "/api/v1/messages/{id}/regenerate", tag = "Messages", operation_id = "regenerate_reply",
    description = "A new reply beside this one (a sibling in the tree), which becomes the current branch.",
    params(("id" = MessageId, Path, description = "The reply to regenerate"), ReplyQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry answer what the first request made")),
    responses(
        (status = 201, description = "The new reply", body = Envelope<Message>),
        (status = 409, description = "Not an assistant reply to a message, or the same `Idempotency-Key` still in progress"),
        (status = 422, description = "The same `Idempotency-Key` was used with a different request"),
        (status = 503, description = "The reply could not be generated (`?reply=sync`)"),
        (status = 502, description = "The model provider failed (`?reply=sync`)"),
        (status = 504, description = "The model provider did not answer in time (`?reply=sync`)"),
    ))]
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
