//! Threads: CRUD, restore, members.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use xl_domain::object::Object;
use xl_domain::threads::{NewThread, ThreadFilter, ThreadUpdate};
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
#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    order: Option<String>,
    tag: Option<String>,
    archived: Option<String>,
    pinned: Option<String>,
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

async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: ThreadId = id.parse()?;
    state.services.delete_thread(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMember {
    user_id: String,
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForkAt {
    message_id: String,
}

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

#[derive(Debug, Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

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
