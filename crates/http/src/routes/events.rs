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
