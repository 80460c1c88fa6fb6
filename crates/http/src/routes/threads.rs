//! Threads: CRUD, restore, members.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xl_domain::object::Object;
use xl_domain::threads::{Member, NewThread, Thread, ThreadFilter, ThreadUpdate};
use xl_domain::{DomainError, MessageId, PageRequest, ThreadId, UserId};
use xl_services::transfer::ThreadExport;

use crate::auth::Authenticated;
use crate::{ApiError, AppState, Envelope};

/// Registers `/threads`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // `/threads/import` comes before `/threads/{id}`, which would otherwise match it.
    cfg.service(web::resource("/threads").get(list).post(create))
        .service(web::resource("/threads/import").post(import))
        .service(web::resource("/threads/{id}/fork").post(fork))
        .service(web::resource("/threads/{id}/export").get(export))
        .service(
            web::resource("/threads/{id}")
                .get(get)
                .put(update)
                .patch(update)
                .delete(delete),
        )
        .service(web::resource("/threads/{id}/restore").post(restore))
        .service(
            web::resource("/threads/{id}/members")
                .get(members)
                .post(add_member),
        )
        .service(web::resource("/threads/{id}/members/{user_id}").delete(remove_member));
}

/// Query of the thread list.
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
    /// Only threads with this tag.
    tag: Option<String>,
    /// Only archived (`true`) or unarchived (`false`) threads.
    #[param(value_type = Option<bool>)]
    archived: Option<String>,
    /// Only pinned (`true`) or unpinned (`false`) threads.
    #[param(value_type = Option<bool>)]
    pinned: Option<String>,
    /// The deleted threads instead (default `false`).
    #[param(value_type = Option<bool>)]
    deleted: Option<String>,
}

fn flag(name: &str, raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(_) => Err(DomainError::invalid(name, "must be true or false").into()),
    }
}

#[utoipa::path(get, path = "/api/v1/threads", tag = "Threads", operation_id = "list_threads",
    params(ListQuery),
    responses((status = 200, description = "A page of the threads the caller may read", body = Envelope<Vec<Thread>>)))]
async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(
        query.limit.as_deref(),
        query.cursor.as_deref(),
        query.order.as_deref(),
    )?;
    let filter = ThreadFilter {
        tag: query.tag.clone().filter(|t| !t.is_empty()),
        archived: flag("archived", query.archived.as_deref())?,
        pinned: flag("pinned", query.pinned.as_deref())?,
        deleted: flag("deleted", query.deleted.as_deref())?.unwrap_or(false),
    };
    Ok(Envelope::page(
        state
            .services
            .list_threads(&caller.0, &filter, &page)
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/threads", tag = "Threads", operation_id = "create_thread",
    request_body(content = NewThread, example = json!({"title": "Trip planning", "model": "gpt-4o-mini", "system_prompt": "You are a travel agent.", "tags": ["travel"]})),
    responses((status = 201, description = "The thread", body = Envelope<Thread>)))]
async fn create(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<Object<NewThread>>,
) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::created(
        state
            .services
            .create_thread(&caller.0, body.into_inner().0)
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/threads/{id}", tag = "Threads", operation_id = "get_thread",
    params(("id" = ThreadId, Path, description = "The thread")),
    responses((status = 200, description = "The thread", body = Envelope<Thread>)))]
async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ThreadId = id.parse()?;
    Ok(Envelope::ok(
        state.services.get_thread(&caller.0, id).await?,
    ))
}

#[utoipa::path(method(put, patch), path = "/api/v1/threads/{id}", tag = "Threads", operation_id = "update_thread",
    description = "Changes the fields sent; `null` clears a nullable one. For the owner and administrators.",
    params(("id" = ThreadId, Path, description = "The thread")),
    request_body(content = ThreadUpdate, example = json!({"title": "Trip to Lisbon", "pinned": true})),
    responses((status = 200, description = "The thread", body = Envelope<Thread>)))]
async fn update(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    body: web::Json<Object<ThreadUpdate>>,
) -> Result<HttpResponse, ApiError> {
    let id: ThreadId = id.parse()?;
    Ok(Envelope::ok(
        state
            .services
            .update_thread(&caller.0, id, body.into_inner().0)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/threads/{id}", tag = "Threads", operation_id = "delete_thread",
    description = "A soft delete: restorable until it is purged.",
    params(("id" = ThreadId, Path, description = "The thread")),
    responses((status = 204, description = "Deleted")))]
async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ThreadId = id.parse()?;
    state.services.delete_thread(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/v1/threads/{id}/restore", tag = "Threads", operation_id = "restore_thread",
    params(("id" = ThreadId, Path, description = "The thread")),
    responses(
        (status = 200, description = "The thread, no longer deleted", body = Envelope<Thread>),
        (status = 409, description = "The thread is not deleted"),
    ))]
async fn restore(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ThreadId = id.parse()?;
    Ok(Envelope::ok(
        state.services.restore_thread(&caller.0, id).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/threads/{id}/members", tag = "Threads", operation_id = "list_thread_members",
    params(("id" = ThreadId, Path, description = "The thread")),
    responses((status = 200, description = "The members", body = Envelope<Vec<Member>>)))]
async fn members(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ThreadId = id.parse()?;
    Ok(Envelope::ok(
        state.services.list_members(&caller.0, id).await?,
    ))
}

/// A member to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMember {
    /// A user of the caller's org.
    #[schema(value_type = UserId)]
    user_id: String,
}

#[utoipa::path(post, path = "/api/v1/threads/{id}/members", tag = "Threads", operation_id = "add_thread_member",
    params(("id" = ThreadId, Path, description = "The thread")),
    request_body(content = NewMember, example = json!({"user_id": "0193f0c4-8e0e-7c2b-9a51-3c8f5b2e7d10"})),
    responses((status = 201, description = "The members", body = Envelope<Vec<Member>>)))]
async fn add_member(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    body: web::Json<Object<NewMember>>,
) -> Result<HttpResponse, ApiError> {
    let id: ThreadId = id.parse()?;
    let user: UserId = body.user_id.parse()?;
    Ok(Envelope::created(
        state.services.add_member(&caller.0, id, user).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/threads/{id}/members/{user_id}", tag = "Threads", operation_id = "remove_thread_member",
    params(("id" = ThreadId, Path, description = "The thread"), ("user_id" = UserId, Path, description = "The member")),
    responses(
        (status = 204, description = "Removed"),
        (status = 409, description = "The owner cannot be removed"),
    ))]
async fn remove_member(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, user) = path.into_inner();
    let id: ThreadId = id.parse()?;
    let user: UserId = user.parse()?;
    state.services.remove_member(&caller.0, id, user).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Where a fork ends.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ForkAt {
    /// The last message to copy.
    #[schema(value_type = MessageId)]
    message_id: String,
}

#[utoipa::path(post, path = "/api/v1/threads/{id}/fork", tag = "Threads", operation_id = "fork_thread",
    description = "A new thread with the branch from the root to `message_id`.",
    params(("id" = ThreadId, Path, description = "The thread")),
    request_body(content = ForkAt, example = json!({"message_id": "0193f0c4-8e0e-7c2b-9a51-3c8f5b2e7d10"})),
    responses((status = 201, description = "The new thread", body = Envelope<Thread>)))]
async fn fork(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    body: web::Json<Object<ForkAt>>,
) -> Result<HttpResponse, ApiError> {
    let id: ThreadId = id.parse()?;
    let at: MessageId = body.message_id.parse()?;
    Ok(Envelope::created(
        state.services.fork_thread(&caller.0, id, at).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `json` (the default) or `markdown`.
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/threads/{id}/export", tag = "Threads", operation_id = "export_thread",
    params(("id" = ThreadId, Path, description = "The thread"), ExportQuery),
    responses((status = 200, description = "The thread and every message: JSON in the envelope, or a Markdown attachment",
        content(
            (Envelope<ThreadExport> = "application/json"),
            (String = "text/markdown"),
        ))))]
async fn export(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let id: ThreadId = id.parse()?;
    match query.format.as_deref() {
        None | Some("json") => Ok(Envelope::ok(
            state.services.export_thread(&caller.0, id).await?,
        )),
        Some("markdown" | "md") => {
            let text = state.services.export_thread_markdown(&caller.0, id).await?;
            Ok(HttpResponse::Ok()
                .content_type("text/markdown; charset=utf-8")
                .insert_header((
                    actix_web::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"thread-{id}.md\""),
                ))
                .body(text))
        }
        Some(_) => Err(DomainError::invalid("format", "must be json or markdown").into()),
    }
}

#[utoipa::path(post, path = "/api/v1/threads/import", tag = "Threads", operation_id = "import_thread",
    description = "Makes a new thread from an export (at most 10,000 messages).",
    request_body(content = ThreadExport, example = json!({
        "format": "experience-layer.thread.v1",
        "thread": {"title": "Trip planning"},
        "current_leaf_id": "2",
        "messages": [
            {"id": "1", "role": "USER", "content": "What should I see in Lisbon?", "created_at": "2026-11-20T09:00:00Z"},
            {"id": "2", "parent_id": "1", "role": "ASSISTANT", "content": "Start with Alfama.", "created_at": "2026-11-20T09:00:02Z"}
        ]
    })),
    responses((status = 201, description = "The new thread", body = Envelope<Thread>)))]
async fn import(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<Object<ThreadExport>>,
) -> Result<HttpResponse, ApiError> {
    Ok(Envelope::created(
        state
            .services
            .import_thread(&caller.0, body.into_inner().0)
            .await?,
    ))
}
