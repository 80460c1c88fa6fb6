//! Live threads: `GET /threads/{id}/events` as server-sent events,
//! resumable with `Last-Event-ID` (or `?after=`); typing and presence.

use actix_web::{HttpRequest, HttpResponse, web};
use xl_domain::ThreadId;

use crate::auth::Authenticated;
use crate::sse::{self, ResumeQuery};
use crate::{ApiError, AppState, Envelope};

/// Registers the event routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/events").get(feed))
        .service(web::resource("/threads/{id}/events").get(thread_events))
        .service(web::resource("/threads/{id}/typing").post(typing))
        .service(web::resource("/threads/{id}/presence").get(presence));
}

/// Every event of every thread the caller may read, after the cursor in
/// `Last-Event-ID` (or `?after=`), or from now on.
#[utoipa::path(get, path = "/api/v1/events", tag = "Events", operation_id = "follow_feed",
    description = "Every event of every thread the caller may read, as server-sent events whose `id` is a feed cursor: after `Last-Event-ID` / `?after=`, or from now on.",
    params(ResumeQuery, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this cursor")),
    responses((status = 200, description = "The event stream", content_type = "text/event-stream", body = crate::openapi::ServerSentEvent)))]
async fn feed(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ResumeQuery>,
) -> Result<HttpResponse, ApiError> {
    let cursor = sse::resume_cursor(&req, &query)?;
    let events = state.services.follow_feed(&caller.0, cursor).await?;
    Ok(sse::feed_response(events, state.config.sse_keep_alive))
}

/// Says the caller is typing in the thread (for 5 s).
#[utoipa::path(post, path = "/api/v1/threads/{id}/typing", tag = "Events", operation_id = "signal_typing",
    description = "Says the caller is typing, for 5 s, to the thread's listeners.",
    params(("id" = ThreadId, Path, description = "The thread")),
    responses((status = 204, description = "Signalled")))]
async fn typing(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let thread: ThreadId = id.parse()?;
    state.services.typing(&caller.0, thread).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who is in the thread now, and what the assistant is doing.
#[utoipa::path(get, path = "/api/v1/threads/{id}/presence", tag = "Events", operation_id = "get_presence",
    params(("id" = ThreadId, Path, description = "The thread")),
    responses((status = 200, description = "Who is in the thread now, and what the assistant is doing", body = Envelope<xl_services::presence::ThreadPresence>)))]
async fn presence(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let thread: ThreadId = id.parse()?;
    Ok(Envelope::ok(
        state.services.presence(&caller.0, thread).await?,
    ))
}

/// Every event of the thread after the resume position, then live.
#[utoipa::path(get, path = "/api/v1/threads/{id}/events", tag = "Events", operation_id = "follow_thread",
    description = "The thread's log as server-sent events: `id` is the event's sequence number, `event` its type (`message.created`, `message.delta`, `message.completed`, `message.updated`, `message.deleted`, `reaction.added`, `thread.updated`, `typing`, `presence`, `access.revoked`, …) and `data` its JSON. Resume with `Last-Event-ID` or `?after=`; a comment line keeps an idle stream alive.",
    params(("id" = ThreadId, Path, description = "The thread"), ResumeQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses((status = 200, description = "The event stream", content_type = "text/event-stream", body = crate::openapi::ServerSentEvent,
        example = json!("id: 12\nevent: message.created\ndata: {\"id\":\"…\",\"role\":\"USER\",\"content\":\"Hello\"}\n\n"))))]
async fn thread_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    query: web::Query<ResumeQuery>,
) -> Result<HttpResponse, ApiError> {
    let thread: ThreadId = id.parse()?;
    let after = sse::resume_position(&req, &query)?;
    let events = state
        .services
        .follow_thread(&caller.0, thread, after)
        .await?;
    Ok(sse::response(events, state.config.sse_keep_alive))
}
